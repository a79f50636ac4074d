//! C2SP tlog-tiles: tile paths, entry bundles, tile data and the `TileHashReader` that
//! authenticates every tile it reads against a checkpoint root.
//!
//! The first byte picks a mode; the rest drives it:
//! - 0 path text: whatever `parse_path` accepts is written back byte for byte by `path` /
//!   `entries_path`; and every tile `Tile::new` accepts parses back from its paths.
//! - 1 entry-bundle bytes: whatever `parse_entry_bundle` accepts, `encode_entry_bundle` writes
//!   back byte for byte.
//! - 2 `hash_from_tile` on an arbitrary tile, data and stored-hash index: an answer or an
//!   error, never a panic.
//! - 3 a real tree (up to 65,792 leaves, a prefix of one built once), tiles served honestly
//!   or with one byte of one tile flipped: honest tiles give exactly the stored hashes asked
//!   for; a flipped byte in any tile the reader reads makes `read_hashes` fail.
//! - 4 the same for an entry bundle: honest bundles give their entries; any changed, cut or
//!   added byte makes `verify_entry_bundle` fail.
//! - 5 the reader over arbitrary tile bytes, tree size, root and indexes: never a panic, and an
//!   answer has one hash per index.
#![no_main]
use std::cell::Cell;
use std::sync::OnceLock;

use candor_log::stored::stored_hash_count;
use candor_log::tile::{
    encode_entry_bundle, hash_from_tile, parse_entry_bundle, parse_path, read_tile_data,
    BUNDLE_WIDTH,
};
use candor_log::{Hash, HashReader, LogError, StoredHashes, Tile, TileHashReader, TilePath, TileReader};
use libfuzzer_sys::arbitrary::{Result as AResult, Unstructured};
use libfuzzer_sys::fuzz_target;

/// Enough leaves for full level-1 tiles and a level-2 tile.
const LEAVES: u64 = 65_536 + 256;

fn entry(i: u64) -> Vec<u8> {
    format!("fuzz entry {i}").into_bytes()
}

fn tree() -> &'static StoredHashes {
    static TREE: OnceLock<StoredHashes> = OnceLock::new();
    TREE.get_or_init(|| {
        let mut t = StoredHashes::new();
        for i in 0..LEAVES {
            t.append_entry(&entry(i)).expect("append");
        }
        t
    })
}

/// Serves tile data from the stored hashes, flipping byte `flip.1` of the `flip.0`-th tile of
/// the first read that reaches it.
struct Served {
    flip: Option<(usize, usize, u8)>,
    flipped: Cell<bool>,
}

impl TileReader for Served {
    fn read_tiles(&self, tiles: &[Tile]) -> Result<Vec<Vec<u8>>, LogError> {
        let hashes = tree().hashes();
        let mut out = Vec::with_capacity(tiles.len());
        for (k, t) in tiles.iter().enumerate() {
            let mut d = read_tile_data(t, hashes)?;
            if let Some((tile, byte, x)) = self.flip {
                if k == tile % tiles.len() && !self.flipped.get() {
                    let i = byte % d.len();
                    d[i] ^= x;
                    self.flipped.set(true);
                }
            }
            out.push(d);
        }
        Ok(out)
    }
}

/// Serves whatever bytes the input holds.
struct Raw<'a> {
    bytes: Cell<&'a [u8]>,
    exact: bool,
}

impl TileReader for Raw<'_> {
    fn read_tiles(&self, tiles: &[Tile]) -> Result<Vec<Vec<u8>>, LogError> {
        let mut out = Vec::new();
        for t in tiles {
            let rest = self.bytes.get();
            let want = if self.exact {
                usize::from(t.width) * 32
            } else {
                rest.first().map_or(0, |&b| usize::from(b) * 32)
            };
            let n = want.min(rest.len());
            out.push(rest[..n].to_vec());
            self.bytes.set(&rest[n..]);
        }
        Ok(out)
    }
}

fn size_root(u: &mut Unstructured) -> AResult<(u64, Hash)> {
    let n = u.int_in_range(0..=LEAVES)?;
    let root = candor_log::stored::tree_hash(n, tree().hashes()).expect("tree hash");
    Ok((n, root))
}

fn flip(u: &mut Unstructured) -> AResult<Option<(usize, usize, u8)>> {
    Ok(if u.arbitrary::<bool>()? {
        Some((u.arbitrary()?, u.arbitrary()?, u.int_in_range(1..=255)?))
    } else {
        None
    })
}

fn run(mode: u8, data: &[u8]) -> AResult<()> {
    let mut u = Unstructured::new(data);
    match mode % 6 {
        0 => {
            if let Ok(path) = std::str::from_utf8(data) {
                match parse_path(path) {
                    Ok(TilePath::Hashes(t)) => assert_eq!(t.path(), path),
                    Ok(TilePath::Entries(t)) => {
                        assert_eq!(t.level, 0);
                        assert_eq!(t.entries_path(), path);
                    }
                    Err(_) => {}
                }
            }
            if let Ok(t) = Tile::new(u.arbitrary()?, u.arbitrary()?, u.arbitrary()?) {
                assert_eq!(parse_path(&t.path()), Ok(TilePath::Hashes(t)));
                let e = Tile { level: 0, ..t };
                assert_eq!(parse_path(&t.entries_path()), Ok(TilePath::Entries(e)));
            }
        }
        1 => {
            if let Ok(entries) = parse_entry_bundle(data) {
                assert!(entries.len() as u64 <= BUNDLE_WIDTH);
                assert_eq!(encode_entry_bundle(&entries).expect("re-encode"), data);
            }
        }
        2 => {
            let t = Tile {
                level: u.arbitrary()?,
                index: u.arbitrary()?,
                width: u.arbitrary()?,
            };
            let index: u64 = u.arbitrary()?;
            let rest = u.take_rest();
            if let Ok(h) = hash_from_tile(&t, rest, index) {
                assert_eq!(rest.len(), usize::from(t.width) * 32);
                let _ = h;
            }
        }
        3 => {
            let (n, root) = size_root(&mut u)?;
            let count = stored_hash_count(n);
            let mut indexes = Vec::new();
            for _ in 0..u.int_in_range(0..=4)? {
                if count == 0 {
                    break;
                }
                indexes.push(u.int_in_range(0..=count - 1)?);
            }
            let served = Served {
                flip: flip(&mut u)?,
                flipped: Cell::new(false),
            };
            let r = TileHashReader::new(n, root, &served).expect("size in range");
            let got = r.read_hashes(&indexes);
            if served.flipped.get() {
                assert!(got.is_err(), "a flipped tile byte went unnoticed: {indexes:?} n={n} {:?}", served.flip);
            } else if n > 0 {
                let want = tree().hashes().read_hashes(&indexes).expect("stored");
                assert_eq!(got, Ok(want));
            } else {
                assert_eq!(got.is_ok(), indexes.is_empty());
            }
        }
        4 => {
            let (n, root) = size_root(&mut u)?;
            if n == 0 {
                return Ok(());
            }
            let b = u.int_in_range(0..=(n - 1) / BUNDLE_WIDTH)?;
            let start = b * BUNDLE_WIDTH;
            let entries: Vec<Vec<u8>> =
                (start..(start + BUNDLE_WIDTH).min(n)).map(entry).collect();
            let honest = encode_entry_bundle(&entries).expect("encode");
            let mut bundle = honest.clone();
            match u.int_in_range(0..=3u8)? {
                0 => {}
                1 => {
                    let i = u.choose_index(bundle.len())?;
                    bundle[i] ^= u.int_in_range(1..=255)?;
                }
                2 => {
                    let keep = u.choose_index(bundle.len())?;
                    bundle.truncate(keep);
                }
                _ => {
                    let k = u.int_in_range(1..=8)?;
                    bundle.extend_from_slice(u.bytes(k)?);
                }
            }
            let honest_tiles = Served {
                flip: None,
                flipped: Cell::new(false),
            };
            let r = TileHashReader::new(n, root, &honest_tiles).expect("size in range");
            let got = r.verify_entry_bundle(b, &bundle);
            if bundle == honest {
                let want: Vec<&[u8]> = entries.iter().map(Vec::as_slice).collect();
                assert_eq!(got, Ok(want));
            } else {
                assert!(got.is_err(), "a changed entry bundle was accepted");
            }
        }
        _ => {
            let n: u64 = u.arbitrary()?;
            let root: Hash = u.arbitrary()?;
            let exact: bool = u.arbitrary()?;
            let mut indexes = Vec::new();
            for _ in 0..u.int_in_range(0..=3)? {
                // Mostly small indexes, sometimes anything.
                indexes.push(if u.arbitrary::<bool>()? {
                    u.int_in_range(0..=600)?
                } else {
                    u.arbitrary()?
                });
            }
            let bundle_index: u64 = u.arbitrary()?;
            let raw = Raw {
                bytes: Cell::new(u.take_rest()),
                exact,
            };
            if let Ok(r) = TileHashReader::new(n, root, &raw) {
                if let Ok(hashes) = r.read_hashes(&indexes) {
                    assert_eq!(hashes.len(), indexes.len());
                }
                let bundle = raw.bytes.get();
                let _ = r.verify_entry_bundle(bundle_index, bundle);
            }
        }
    }
    Ok(())
}

fuzz_target!(|data: &[u8]| {
    if let Some((&mode, rest)) = data.split_first() {
        let _ = run(mode, rest);
    }
});
