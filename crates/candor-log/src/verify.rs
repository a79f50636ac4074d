//! Verify a whole published log: checkpoint signature, every entry bundle, every tile, every
//! entry's encoding, consistency with an earlier checkpoint, and the published numbers.
//!
//! Files are read through [`Fetch`] (HTTP, a directory, memory), by path relative to the log
//! prefix (`checkpoint`, `tile/...`, `numbers`). [`verify_log`]:
//!
//! 1. fetches `checkpoint` and checks its signature with the verifier key (origin = key name);
//! 2. fetches every entry bundle `tile/entries/<N>[.p/<W>]` of the checkpoint's size,
//!    recomputes the stored hashes from the entries and checks that they rebuild the
//!    checkpoint's root (if not, the tiles, authenticated through a [`TileHashReader`], name
//!    the first entry that differs);
//! 3. fetches every hash tile `tile/<L>/<N>[.p/<W>]` of that size and compares it byte for
//!    byte with the tile the entries imply;
//! 4. decodes every entry ([`Entry::decode`]: canonical encoding only);
//! 5. with `since` (an earlier signed checkpoint): checks `since.size <= size` and that the
//!    root of the first `since.size` entries is `since.root`;
//! 6. fetches `numbers`; if its `tree_size` is larger than the checkpoint's, fetches the
//!    checkpoint once more (the log grew meanwhile) and verifies again from 2, requiring the new
//!    tree to extend the first; then recomputes [`Numbers`] over the first `tree_size` entries
//!    and compares them with the published JSON field by field.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::checkpoint::{encode_hash, Checkpoint};
use crate::entry::{Entry, ENTRY_TYPES};
use crate::merkle::Hash;
use crate::note::{Verifier, MAX_NOTE_SIZE};
use crate::numbers::Numbers;
use crate::stored::{tree_hash, StoredHashes};
use crate::tile::{
    parse_entry_bundle, read_tile_data, tiles_for_size, Tile, TileHashReader, TileReader,
    BUNDLE_WIDTH, TILE_WIDTH,
};
use crate::LogError;

/// Where the log's files come from. `Ok(None)` means "not found" (HTTP 404).
pub trait Fetch {
    fn get(&self, path: &str) -> Result<Option<Vec<u8>>, LogError>;
}

/// Largest checkpoint accepted (a signed note's limit).
pub const MAX_CHECKPOINT_BYTES: usize = MAX_NOTE_SIZE;
/// Largest entry bundle: 256 entries of 65,535 bytes with their length prefixes.
pub const MAX_BUNDLE_BYTES: usize = (BUNDLE_WIDTH as usize) * (2 + u16::MAX as usize);
/// Largest tile: 256 hashes.
pub const MAX_TILE_BYTES: usize = (TILE_WIDTH as usize) * 32;
/// Largest `numbers` document.
pub const MAX_NUMBERS_BYTES: usize = 16 << 20;
/// Largest log this verifier downloads in full (it keeps every entry in memory).
pub const MAX_VERIFIED_SIZE: u64 = 1 << 32;

/// What a successful verification established.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// Size of the verified checkpoint.
    pub size: u64,
    /// Its root hash.
    pub root: Hash,
    /// The verified checkpoint.
    pub checkpoint: Checkpoint,
    /// Entries per type (every type listed, zero included).
    pub entries_by_type: BTreeMap<String, u64>,
    /// The published numbers, equal to the ones recomputed from the entries
    /// (`numbers.tree_size` may be below `size` when published for an earlier checkpoint).
    pub numbers: Numbers,
}

impl Fetch for BTreeMap<String, Vec<u8>> {
    fn get(&self, path: &str) -> Result<Option<Vec<u8>>, LogError> {
        Ok(BTreeMap::get(self, path).cloned())
    }
}

impl Fetch for std::collections::HashMap<String, Vec<u8>> {
    fn get(&self, path: &str) -> Result<Option<Vec<u8>>, LogError> {
        Ok(std::collections::HashMap::get(self, path).cloned())
    }
}

/// A [`Fetch`] over a directory written by [`crate::static_dir::write_static_dir`].
#[derive(Debug, Clone)]
pub struct DirFetch {
    root: PathBuf,
}

impl DirFetch {
    pub fn new(root: impl AsRef<Path>) -> DirFetch {
        DirFetch {
            root: root.as_ref().to_path_buf(),
        }
    }
}

impl Fetch for DirFetch {
    fn get(&self, path: &str) -> Result<Option<Vec<u8>>, LogError> {
        if path.is_empty()
            || path.starts_with('/')
            || path
                .split('/')
                .any(|c| c.is_empty() || c == "." || c == "..")
        {
            return Err(LogError::Storage(format!("refusing path {path:?}")));
        }
        match std::fs::read(self.root.join(path)) {
            Ok(b) => Ok(Some(b)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(LogError::Storage(format!("reading {path}: {e}"))),
        }
    }
}

fn with_context(what: &str, e: LogError) -> LogError {
    match e {
        LogError::Storage(m) => LogError::Storage(format!("{what}: {m}")),
        LogError::TileMismatch(m) => LogError::TileMismatch(format!("{what}: {m}")),
        LogError::Inconsistent(m) => LogError::Inconsistent(format!("{what}: {m}")),
        LogError::Malformed { what: w, detail } => LogError::Malformed {
            what: w,
            detail: format!("{what}: {detail}"),
        },
        other => LogError::Storage(format!("{what}: {other}")),
    }
}

/// Fetch `path`, which must exist and be at most `max` bytes.
fn get_required(fetch: &dyn Fetch, path: &str, max: usize) -> Result<Vec<u8>, LogError> {
    match fetch.get(path)? {
        None => Err(LogError::Storage(format!("{path}: not found"))),
        Some(b) if b.len() > max => Err(LogError::Storage(format!(
            "{path}: {} bytes, more than the limit of {max}",
            b.len()
        ))),
        Some(b) => Ok(b),
    }
}

/// Tiles read through [`Fetch`] for a [`TileHashReader`] (used to locate a bad entry).
struct FetchTiles<'a> {
    fetch: &'a dyn Fetch,
}

impl TileReader for FetchTiles<'_> {
    fn read_tiles(&self, tiles: &[Tile]) -> Result<Vec<Vec<u8>>, LogError> {
        tiles
            .iter()
            .map(|t| get_required(self.fetch, &t.path(), MAX_TILE_BYTES))
            .collect()
    }
}

/// A tree whose entries rebuild a verified checkpoint.
struct Tree {
    checkpoint: Checkpoint,
    entries: Vec<Entry>,
    stored: StoredHashes,
}

fn verify_tree(fetch: &dyn Fetch, verifier: &Verifier, cp_bytes: &[u8]) -> Result<Tree, LogError> {
    let checkpoint =
        Checkpoint::open(cp_bytes, verifier).map_err(|e| with_context("checkpoint", e))?;
    let size = checkpoint.size;
    if size > MAX_VERIFIED_SIZE {
        return Err(LogError::Storage(format!(
            "checkpoint: size {size} is larger than this verifier handles ({MAX_VERIFIED_SIZE})"
        )));
    }

    // Entry bundles → stored hashes.
    let mut stored = StoredHashes::new();
    let mut raw: Vec<Vec<u8>> = Vec::with_capacity(size.min(1 << 20) as usize);
    let mut bundles: Vec<(Tile, Vec<u8>)> = Vec::new();
    for t in tiles_for_size(0, size).into_iter().filter(|t| t.level == 0) {
        let path = t.entries_path();
        let bytes = get_required(fetch, &path, MAX_BUNDLE_BYTES)?;
        let entries = parse_entry_bundle(&bytes).map_err(|e| with_context(&path, e))?;
        if entries.len() != usize::from(t.width) {
            return Err(LogError::TileMismatch(format!(
                "{path}: {} entries, expected {}",
                entries.len(),
                t.width
            )));
        }
        for e in entries {
            stored.append_entry(e)?;
            raw.push(e.to_vec());
        }
        bundles.push((t, bytes));
    }
    if stored.root() != checkpoint.root {
        // Find the first entry that differs from the (authenticated) level-0 tiles.
        let tiles = FetchTiles { fetch };
        let thr = TileHashReader::new(size, checkpoint.root, &tiles)?;
        for (t, bytes) in &bundles {
            thr.verify_entry_bundle(t.index, bytes)
                .map_err(|e| with_context(&t.entries_path(), e))?;
        }
        return Err(LogError::TileMismatch(format!(
            "the entries do not rebuild the checkpoint root {}",
            encode_hash(&checkpoint.root)
        )));
    }
    drop(bundles);

    // Every hash tile, byte for byte.
    for t in tiles_for_size(0, size) {
        let path = t.path();
        let got = get_required(fetch, &path, MAX_TILE_BYTES)?;
        let want = read_tile_data(&t, &stored)?;
        if got.len() != want.len() {
            return Err(LogError::TileMismatch(format!(
                "{path}: {} bytes, the entries imply {}",
                got.len(),
                want.len()
            )));
        }
        if let Some(k) = got.iter().zip(&want).position(|(a, b)| a != b) {
            return Err(LogError::TileMismatch(format!(
                "{path}: byte {k} differs from the tile the entries imply (hash {} of the tile)",
                k / 32
            )));
        }
    }

    // Every entry, canonical.
    let mut entries = Vec::with_capacity(raw.len());
    for (i, r) in raw.iter().enumerate() {
        entries.push(Entry::decode(r).map_err(|e| with_context(&format!("entry {i}"), e))?);
    }
    Ok(Tree {
        checkpoint,
        entries,
        stored,
    })
}

/// Check that `tree` extends the checkpoint `old` (its first `old.size` entries have `old`'s root).
fn check_extends(tree: &Tree, old: &Checkpoint, what: &str) -> Result<(), LogError> {
    let size = tree.checkpoint.size;
    if old.size > size {
        return Err(LogError::Inconsistent(format!(
            "{what} has size {}, larger than the log's {size}",
            old.size
        )));
    }
    let root = tree_hash(old.size, &tree.stored)?;
    if root != old.root {
        return Err(LogError::Inconsistent(format!(
            "{what} (size {}) has root {}, but the log's first {} entries have root {}",
            old.size,
            encode_hash(&old.root),
            old.size,
            encode_hash(&root)
        )));
    }
    Ok(())
}

fn compare_json(
    path: &str,
    published: Option<&serde_json::Value>,
    recomputed: Option<&serde_json::Value>,
    out: &mut Vec<String>,
) {
    use serde_json::Value;
    match (published, recomputed) {
        (Some(Value::Object(p)), Some(Value::Object(r))) => {
            let keys: std::collections::BTreeSet<&String> = p.keys().chain(r.keys()).collect();
            for k in keys {
                let sub = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                compare_json(&sub, p.get(k), r.get(k), out);
            }
        }
        (p, r) if p == r => {}
        (p, r) => {
            let show = |v: Option<&Value>| v.map_or("absent".to_owned(), |v| v.to_string());
            out.push(format!(
                "numbers field {path}: published {}, recomputed {}",
                show(p),
                show(r)
            ));
        }
    }
}

/// Compare published numbers JSON with numbers recomputed from entries; errors list the
/// differing fields (dotted paths).
pub fn compare_numbers(published: &[u8], recomputed: &Numbers) -> Result<(), LogError> {
    let p: serde_json::Value = serde_json::from_slice(published)
        .map_err(|e| LogError::malformed("numbers", format!("not JSON: {e}")))?;
    let r = serde_json::to_value(recomputed)
        .map_err(|e| LogError::malformed("numbers", e.to_string()))?;
    let mut diffs = Vec::new();
    compare_json("", Some(&p), Some(&r), &mut diffs);
    if diffs.is_empty() {
        return Ok(());
    }
    let n = diffs.len();
    diffs.truncate(10);
    let mut msg = diffs.join("; ");
    if n > 10 {
        msg.push_str(&format!("; and {} more", n - 10));
    }
    Err(LogError::Inconsistent(msg))
}

/// Verify the log served by `fetch` with the log's key (see the module doc). `since` is an
/// earlier signed checkpoint of the same log, if the caller kept one.
pub fn verify_log(
    fetch: &dyn Fetch,
    verifier: &Verifier,
    since: Option<&[u8]>,
) -> Result<Report, LogError> {
    let since = since
        .map(|s| Checkpoint::open(s, verifier).map_err(|e| with_context("since checkpoint", e)))
        .transpose()?;

    let cp_bytes = get_required(fetch, "checkpoint", MAX_CHECKPOINT_BYTES)?;
    let mut tree = verify_tree(fetch, verifier, &cp_bytes)?;

    let numbers_bytes = get_required(fetch, "numbers", MAX_NUMBERS_BYTES)?;
    let published: serde_json::Value = serde_json::from_slice(&numbers_bytes)
        .map_err(|e| LogError::malformed("numbers", format!("not JSON: {e}")))?;
    let ts = published
        .get("tree_size")
        .and_then(serde_json::Value::as_u64)
        .ok_or_else(|| LogError::malformed("numbers", "no integer tree_size"))?;
    if ts > tree.checkpoint.size {
        // The log grew between the two fetches: one more try with a newer checkpoint.
        let cp_bytes = get_required(fetch, "checkpoint", MAX_CHECKPOINT_BYTES)?;
        let newer = verify_tree(fetch, verifier, &cp_bytes)?;
        check_extends(&newer, &tree.checkpoint, "the first checkpoint fetched")?;
        tree = newer;
        if ts > tree.checkpoint.size {
            return Err(LogError::Inconsistent(format!(
                "numbers field tree_size: published {ts}, larger than the checkpoint's size {}",
                tree.checkpoint.size
            )));
        }
    }
    if let Some(old) = &since {
        check_extends(&tree, old, "the since checkpoint")?;
    }

    let recomputed = Numbers::from_entries(&tree.entries[..ts as usize]);
    compare_numbers(&numbers_bytes, &recomputed)?;

    let mut entries_by_type: BTreeMap<String, u64> =
        ENTRY_TYPES.iter().map(|t| ((*t).to_owned(), 0)).collect();
    for e in &tree.entries {
        *entries_by_type.entry(e.type_name().to_owned()).or_insert(0) += 1;
    }
    Ok(Report {
        size: tree.checkpoint.size,
        root: tree.checkpoint.root,
        checkpoint: tree.checkpoint,
        entries_by_type,
        numbers: recomputed,
    })
}
