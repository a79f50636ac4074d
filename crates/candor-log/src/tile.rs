//! C2SP tlog-tiles: the tree served as tiles of height 8 (256 hashes wide) and entry bundles.
//!
//! Tile `(L, N)` holds the hashes of tree level `8L`, nodes `N*256 .. N*256 + W`; full tiles
//! have `W = 256` (8192 bytes), the rightmost tile of each level may be partial (`1..=255`).
//! Paths (relative to the log prefix): `tile/<L>/<N>[.p/<W>]`, `tile/entries/<N>[.p/<W>]`, with
//! `N` in 3-digit groups, all but the last prefixed `x` (1234067 → `x001/x234/067`).

use std::collections::BTreeMap;

use crate::merkle::{leaf_hash, node_hash, root, Hash, HASH_SIZE};
use crate::stored::{
    split_stored_hash_index, stored_hash_index, subtree_indexes, HashReader, MAX_TREE_SIZE,
};
use crate::LogError;

/// Tree levels per tile level.
pub const TILE_HEIGHT: u32 = 8;
/// Hashes in a full tile.
pub const TILE_WIDTH: u64 = 1 << TILE_HEIGHT;
/// Entries in a full entry bundle (same as a level-0 tile).
pub const BUNDLE_WIDTH: u64 = TILE_WIDTH;
/// Largest entry an entry bundle can hold (uint16 length prefix).
pub const MAX_ENTRY_SIZE: usize = u16::MAX as usize;
const MAX_LEVEL: u8 = 63;

/// One tile: `level` 0..=63, `index` within the level, `width` 1..=256 hashes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Tile {
    pub level: u8,
    pub index: u64,
    pub width: u16,
}

/// A parsed tile path: hashes or an entry bundle (the bundle uses level-0 coordinates).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TilePath {
    Hashes(Tile),
    Entries(Tile),
}

impl Tile {
    /// A tile, checked: level <= 63, 1 <= width <= 256.
    pub fn new(level: u8, index: u64, width: u16) -> Result<Tile, LogError> {
        if level > MAX_LEVEL || width == 0 || u64::from(width) > TILE_WIDTH {
            return Err(LogError::malformed(
                "tile",
                format!("level {level} width {width} out of range"),
            ));
        }
        Ok(Tile {
            level,
            index,
            width,
        })
    }

    pub fn is_full(&self) -> bool {
        u64::from(self.width) == TILE_WIDTH
    }

    /// `tile/<L>/<N>[.p/<W>]`.
    pub fn path(&self) -> String {
        format!(
            "tile/{}/{}{}",
            self.level,
            encode_index(self.index),
            self.suffix()
        )
    }

    /// `tile/entries/<N>[.p/<W>]` (the entry bundle with this tile's index and width).
    pub fn entries_path(&self) -> String {
        format!("tile/entries/{}{}", encode_index(self.index), self.suffix())
    }

    fn suffix(&self) -> String {
        if self.is_full() {
            String::new()
        } else {
            format!(".p/{}", self.width)
        }
    }

    /// Stored-hash indexes of this tile's hashes, in tile order.
    pub fn stored_indexes(&self) -> Vec<u64> {
        let level = u32::from(self.level) * TILE_HEIGHT;
        let start = self.index.wrapping_mul(TILE_WIDTH);
        (0..u64::from(self.width))
            .map(|i| stored_hash_index(level, start.wrapping_add(i)))
            .collect()
    }
}

/// `N` as 3-digit groups, all but the last prefixed `x`: 1234067 → `x001/x234/067`.
pub fn encode_index(mut n: u64) -> String {
    let mut s = format!("{:03}", n % 1000);
    n /= 1000;
    while n > 0 {
        s = format!("x{:03}/{s}", n % 1000);
        n /= 1000;
    }
    s
}

fn three_digits(s: &str) -> Option<u64> {
    if s.len() == 3 && s.bytes().all(|b| b.is_ascii_digit()) {
        s.parse().ok()
    } else {
        None
    }
}

fn decode_index(parts: &[&str]) -> Result<u64, LogError> {
    let bad = || LogError::malformed("tile path", format!("bad index {:?}", parts.join("/")));
    let (last, groups) = parts.split_last().ok_or_else(bad)?;
    if groups.len() > 6 {
        return Err(bad());
    }
    let mut n: u64 = 0;
    for g in groups {
        let v = g.strip_prefix('x').and_then(three_digits).ok_or_else(bad)?;
        n = n
            .checked_mul(1000)
            .and_then(|n| n.checked_add(v))
            .ok_or_else(bad)?;
    }
    let v = three_digits(last).ok_or_else(bad)?;
    n = n
        .checked_mul(1000)
        .and_then(|n| n.checked_add(v))
        .ok_or_else(bad)?;
    // Canonical only: no leading x000 groups.
    if encode_index(n) != parts.join("/") {
        return Err(bad());
    }
    Ok(n)
}

fn decimal(s: &str, what: &'static str) -> Result<u64, LogError> {
    crate::canonical_u64(s).ok_or_else(|| LogError::malformed(what, format!("bad decimal {s:?}")))
}

/// Parse a tile or entry-bundle path relative to the log prefix (canonical form only).
pub fn parse_path(path: &str) -> Result<TilePath, LogError> {
    let bad = |d: &str| LogError::malformed("tile path", format!("{d}: {path:?}"));
    let rest = path
        .strip_prefix("tile/")
        .ok_or_else(|| bad("no tile/ prefix"))?;
    let mut parts: Vec<&str> = rest.split('/').collect();
    if parts.len() < 2 || parts.len() > 10 {
        return Err(bad("wrong number of elements"));
    }
    let head = parts.remove(0);
    let mut width = TILE_WIDTH as u16;
    if parts.len() >= 2 && parts[parts.len() - 2].ends_with(".p") {
        let w = decimal(parts[parts.len() - 1], "tile path")?;
        if w == 0 || w >= TILE_WIDTH {
            return Err(bad("partial width must be 1..=255"));
        }
        width = w as u16;
        parts.pop();
        let last = parts.len() - 1;
        parts[last] = parts[last].strip_suffix(".p").unwrap_or(parts[last]);
    }
    let index = decode_index(&parts)?;
    if head == "entries" {
        return Ok(TilePath::Entries(Tile::new(0, index, width)?));
    }
    let level = decimal(head, "tile path")?;
    if level > u64::from(MAX_LEVEL) {
        return Err(bad("level above 63"));
    }
    Ok(TilePath::Hashes(Tile::new(level as u8, index, width)?))
}

/// The tiles that change when a tree grows from `old` to `new` leaves (all tiles of a tree of
/// size `new` when `old` is 0): full tiles completed meanwhile and the partial tile of each
/// level, bottom level first. The same list at level 0 names the entry bundles. The list has
/// about `(new - old) / 255` tiles: meant for a writer's own sizes, not for untrusted ones.
pub fn tiles_for_size(old: u64, new: u64) -> Vec<Tile> {
    let mut tiles = Vec::new();
    if old > new {
        return tiles;
    }
    let mut level = 0u32;
    while level <= u32::from(MAX_LEVEL) && (new >> (TILE_HEIGHT * level).min(63)) > 0 {
        let shift = TILE_HEIGHT * level;
        let old_n = old >> shift;
        let new_n = new >> shift;
        if old_n != new_n {
            for n in (old_n >> TILE_HEIGHT)..(new_n >> TILE_HEIGHT) {
                tiles.push(Tile {
                    level: level as u8,
                    index: n,
                    width: TILE_WIDTH as u16,
                });
            }
            let n = new_n >> TILE_HEIGHT;
            let w = new_n - (n << TILE_HEIGHT);
            if w > 0 {
                tiles.push(Tile {
                    level: level as u8,
                    index: n,
                    width: w as u16,
                });
            }
        }
        level += 1;
        if TILE_HEIGHT * level >= 64 {
            break;
        }
    }
    tiles
}

/// The tile holding stored hash `index` (width just enough to hold it) and the byte range of
/// the tile data whose tile hash is that stored hash.
pub fn tile_for_index(index: u64) -> (Tile, usize, usize) {
    let (level, n) = split_stored_hash_index(index);
    let tl = level / TILE_HEIGHT;
    let lin = level - tl * TILE_HEIGHT; // level within the tile
    let tn = n.wrapping_shl(lin) >> TILE_HEIGHT;
    let nin = n - (tn << TILE_HEIGHT >> lin); // node within the tile at level `lin`
    let tile = Tile {
        level: tl as u8,
        index: tn,
        width: ((nin + 1) << lin) as u16,
    };
    let start = (nin << lin) as usize * HASH_SIZE;
    let end = ((nin + 1) << lin) as usize * HASH_SIZE;
    (tile, start, end)
}

/// Merkle root of the concatenated hashes of `data` (a tile's hash when the tile is full).
pub fn tile_hash(data: &[u8]) -> Hash {
    let hashes: Vec<Hash> = data
        .chunks_exact(HASH_SIZE)
        .map(|c| c.try_into().unwrap_or([0; HASH_SIZE]))
        .collect();
    root(&hashes)
}

/// The stored hash `index`, computed from the data of `tile` (which must contain it).
pub fn hash_from_tile(tile: &Tile, data: &[u8], index: u64) -> Result<Hash, LogError> {
    if tile.level > MAX_LEVEL || tile.width == 0 || u64::from(tile.width) > TILE_WIDTH {
        return Err(LogError::malformed(
            "tile",
            format!("invalid tile {tile:?}"),
        ));
    }
    if data.len() != usize::from(tile.width) * HASH_SIZE {
        return Err(LogError::TileMismatch(format!(
            "{} has {} bytes, expected {}",
            tile.path(),
            data.len(),
            usize::from(tile.width) * HASH_SIZE
        )));
    }
    let (t1, start, end) = tile_for_index(index);
    if t1.level != tile.level || t1.index != tile.index || t1.width > tile.width {
        return Err(LogError::Storage(format!(
            "stored hash {index} is in {} not {}",
            t1.path(),
            tile.path()
        )));
    }
    Ok(tile_hash(&data[start..end]))
}

/// The data of `tile` (its hashes concatenated), from stored hashes.
pub fn read_tile_data<R: HashReader + ?Sized>(tile: &Tile, r: &R) -> Result<Vec<u8>, LogError> {
    let idx = tile.stored_indexes();
    let hashes = r.read_hashes(&idx)?;
    if hashes.len() != idx.len() {
        return Err(LogError::Storage("short read of tile hashes".into()));
    }
    Ok(hashes.concat())
}

/// Reads tile data (e.g. from files or HTTP); one `Vec<u8>` per tile, in order.
pub trait TileReader {
    fn read_tiles(&self, tiles: &[Tile]) -> Result<Vec<Vec<u8>>, LogError>;
}

/// `t`'s `k`-th parent among the tiles of a tree of `size` leaves (width set for that size).
fn tile_parent(t: Tile, k: u32, size: u64) -> Option<Tile> {
    let level = u32::from(t.level) + k;
    if level > u32::from(MAX_LEVEL) || level * TILE_HEIGHT >= 64 {
        return None;
    }
    let index = t.index.checked_shr(k * TILE_HEIGHT).unwrap_or(0);
    let max = size >> (level * TILE_HEIGHT);
    let start = index.checked_shl(TILE_HEIGHT)?;
    if start >= max {
        return None;
    }
    let width = (max - start).min(TILE_WIDTH) as u16;
    Some(Tile {
        level: level as u8,
        index,
        width,
    })
}

/// A [`HashReader`] over tiles that authenticates every tile it reads against a tree of `size`
/// leaves with root `root` (from a verified checkpoint): the tiles covering the tree hash must
/// rebuild `root`, and every full tile must hash to its entry in the parent tile. Any altered
/// byte in a tile it reads makes `read_hashes` fail.
pub struct TileHashReader<'a, R: TileReader + ?Sized> {
    size: u64,
    root: Hash,
    reader: &'a R,
}

impl<'a, R: TileReader + ?Sized> TileHashReader<'a, R> {
    pub fn new(size: u64, root: Hash, reader: &'a R) -> Result<Self, LogError> {
        if size > MAX_TREE_SIZE {
            return Err(LogError::BadTreeSize {
                old: size,
                new: size,
            });
        }
        Ok(TileHashReader { size, root, reader })
    }

    /// Check an entry bundle (`tile/entries/<index>`) of this tree: width implied by the size,
    /// every entry's leaf hash equal to the authenticated level-0 tile hash. Returns the entries.
    pub fn verify_entry_bundle<'b>(
        &self,
        index: u64,
        bundle: &'b [u8],
    ) -> Result<Vec<&'b [u8]>, LogError> {
        let start = index
            .checked_mul(BUNDLE_WIDTH)
            .filter(|&s| s < self.size)
            .ok_or(LogError::IndexOutOfRange {
                index: index.saturating_mul(BUNDLE_WIDTH),
                size: self.size,
            })?;
        let width = (self.size - start).min(BUNDLE_WIDTH);
        let entries = parse_entry_bundle(bundle)?;
        if entries.len() as u64 != width {
            return Err(LogError::TileMismatch(format!(
                "entry bundle {index} has {} entries, expected {width}",
                entries.len()
            )));
        }
        let idx: Vec<u64> = (start..start + width)
            .map(|i| stored_hash_index(0, i))
            .collect();
        let hashes = self.read_hashes(&idx)?;
        for (i, (e, h)) in entries.iter().zip(&hashes).enumerate() {
            if leaf_hash(e) != *h {
                return Err(LogError::TileMismatch(format!(
                    "entry {} does not match its leaf hash",
                    start + i as u64
                )));
            }
        }
        Ok(entries)
    }
}

impl<R: TileReader + ?Sized> HashReader for TileHashReader<'_, R> {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, LogError> {
        if self.size == 0 {
            return if indexes.is_empty() {
                Ok(Vec::new())
            } else {
                Err(LogError::IndexOutOfRange { index: 0, size: 0 })
            };
        }
        let n = self.size;
        let mut order: BTreeMap<Tile, usize> = BTreeMap::new();
        let mut tiles: Vec<Tile> = Vec::new();

        // Tiles that rebuild the tree hash: authenticated by the root.
        let mut stx = Vec::new();
        subtree_indexes(0, n, &mut stx);
        let mut stx_order = Vec::with_capacity(stx.len());
        for &x in &stx {
            let (t, _, _) = tile_for_index(x);
            let t = tile_parent(t, 0, n).ok_or_else(|| LogError::Storage("tile math".into()))?;
            let j = *order.entry(t).or_insert_with(|| {
                tiles.push(t);
                tiles.len() - 1
            });
            stx_order.push(j);
        }
        let authenticated_by_root = tiles.len();

        // Tiles holding the requested hashes, with the full tiles between them and an
        // already planned parent (each authenticated by its parent).
        let limit = crate::stored::stored_hash_index(0, n);
        let mut index_order = Vec::with_capacity(indexes.len());
        for &x in indexes {
            if x >= limit {
                return Err(LogError::Storage(format!(
                    "stored hash {x} is not in a tree of size {n}"
                )));
            }
            let (t, _, _) = tile_for_index(x);
            let mut k = 0;
            let found = loop {
                let p = tile_parent(t, k, n)
                    .ok_or_else(|| LogError::Storage("no planned parent tile".into()))?;
                if let Some(&j) = order.get(&p) {
                    break j;
                }
                k += 1;
            };
            let mut j_here = found;
            for kk in (0..k).rev() {
                let p =
                    tile_parent(t, kk, n).ok_or_else(|| LogError::Storage("tile math".into()))?;
                if !p.is_full() {
                    return Err(LogError::Storage("tile math: partial child".into()));
                }
                order.insert(p, tiles.len());
                j_here = tiles.len();
                tiles.push(p);
            }
            index_order.push(j_here);
        }

        let data = self.reader.read_tiles(&tiles)?;
        if data.len() != tiles.len() {
            return Err(LogError::Storage(format!(
                "read {} tiles, asked {}",
                data.len(),
                tiles.len()
            )));
        }

        // Root check (hash_from_tile also refuses any tile whose length is not 32 * width).
        let last = stx.len() - 1;
        let mut th = hash_from_tile(&tiles[stx_order[last]], &data[stx_order[last]], stx[last])?;
        for i in (0..last).rev() {
            let h = hash_from_tile(&tiles[stx_order[i]], &data[stx_order[i]], stx[i])?;
            th = node_hash(&h, &th);
        }
        if th != self.root {
            return Err(LogError::TileMismatch(
                "tiles do not rebuild the checkpoint root".into(),
            ));
        }
        // Parents are planned before their children.
        for i in authenticated_by_root..tiles.len() {
            let t = tiles[i];
            let p = tile_parent(t, 1, n).ok_or_else(|| LogError::Storage("tile math".into()))?;
            let j = *order
                .get(&p)
                .ok_or_else(|| LogError::Storage("tile math: lost parent".into()))?;
            let expected = hash_from_tile(
                &p,
                &data[j],
                stored_hash_index(u32::from(p.level) * TILE_HEIGHT, t.index),
            )?;
            if data[i].len() != usize::from(t.width) * HASH_SIZE || tile_hash(&data[i]) != expected
            {
                return Err(LogError::TileMismatch(format!(
                    "{} does not match its parent tile",
                    t.path()
                )));
            }
        }

        indexes
            .iter()
            .zip(&index_order)
            .map(|(&x, &j)| hash_from_tile(&tiles[j], &data[j], x))
            .collect()
    }
}

/// Entry bundle bytes: each entry as a big-endian uint16 length then its bytes.
pub fn encode_entry_bundle<E: AsRef<[u8]>>(entries: &[E]) -> Result<Vec<u8>, LogError> {
    if entries.len() as u64 > BUNDLE_WIDTH {
        return Err(LogError::malformed(
            "entry bundle",
            format!("{} entries, at most 256", entries.len()),
        ));
    }
    let mut out = Vec::new();
    for e in entries {
        let e = e.as_ref();
        let len = u16::try_from(e.len()).map_err(|_| {
            LogError::malformed("entry bundle", format!("entry of {} bytes", e.len()))
        })?;
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(e);
    }
    Ok(out)
}

/// Split entry-bundle bytes into entries; refuses truncation and more than 256 entries.
pub fn parse_entry_bundle(bytes: &[u8]) -> Result<Vec<&[u8]>, LogError> {
    let mut out = Vec::new();
    let mut rest = bytes;
    while !rest.is_empty() {
        if out.len() as u64 == BUNDLE_WIDTH {
            return Err(LogError::malformed("entry bundle", "more than 256 entries"));
        }
        if rest.len() < 2 {
            return Err(LogError::malformed("entry bundle", "truncated length"));
        }
        let len = usize::from(u16::from_be_bytes([rest[0], rest[1]]));
        if rest.len() - 2 < len {
            return Err(LogError::malformed("entry bundle", "truncated entry"));
        }
        out.push(&rest[2..2 + len]);
        rest = &rest[2 + len..];
    }
    Ok(out)
}
