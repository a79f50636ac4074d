//! The match index and the published numbers on disk, so that a restart loads them and applies
//! only the log entries after them instead of rebuilding from every row and entry.
//!
//! One file, `DIR/snapshot/matcher.snap`, little-endian, every array 8-byte aligned:
//!
//! ```text
//! "CANDORSN" | u32 version (4) | u32 0 | u64 numbers_size | u64 matcher_from
//! | [32] root at numbers_size | u64 n | numbers JSON (n bytes) | zeros to 8
//! | matcher meta (banks, zeros to 8, row count, row ids, row slots, text ids, zeros to 8)
//! | u64 XXH64(all of the above)
//! | u64 len | PDQ index file | u64 len | MD5 index file | u64 len | SHA-256 index file
//! | u64 len | SHA-1 index file | EOF
//! ```
//!
//! Version 4 aligned every array (and `candor-index` format 2 its sections) so that the file is
//! used in place: [`read`] maps it (`mmap`) and the row table, the hashes and the tables are
//! views into the mapping instead of copies in fresh memory; later changes go to owned memory
//! (copy on write, per row chunk or per new table segment). Older snapshots are another format
//! (a rebuild). The mapping keeps the file's inode alive while the index uses it: a snapshot is
//! never rewritten in place (a new file, renamed over the old one), and nothing else may
//! truncate or rewrite `matcher.snap` while a service runs on it (a truncated mapped file is a
//! `SIGBUS`).
//!
//! The index files are `candor-index`'s format (each with its own XXH64 checksums). The
//! numbers are exactly those of the first `numbers_size` log entries; the matcher holds every
//! change of the entries before `matcher_from` (and possibly some after: catching up re-reads
//! the current rows of whatever an entry in `[matcher_from, size)` names, which is idempotent).
//! At start the snapshot is used only if it reads back whole and `root` is the store's tree
//! hash at `numbers_size`: a snapshot of another database, or of a log that was rolled back,
//! is ignored (a warning, then a rebuild). Written to `matcher.snap.tmp`, fsynced, renamed,
//! directory fsynced: a crash leaves the old snapshot or the new one.

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use candor_index::format::Xxh64;
use candor_index::{Shared, SharedBytes};
use candor_log::entry::{ChangeOp, Entry, EntryBody};
use candor_log::numbers::Numbers;
use candor_log::Hash;
use candor_store::Store;

use crate::matcher::{BankInfo, Cursor, Matcher, Out, PartError};

const MAGIC: &[u8; 8] = b"CANDORSN";
/// 4: every array 8-byte aligned, used in place (3 added the SHA-1 index, the negative flag
/// and HMA ratio of banks and each row's content row; versions 1–3 are other formats: rebuilt
/// once).
const VERSION: u32 = 4;
/// The directory under the data directory.
pub const SNAPSHOT_DIR: &str = "snapshot";
const FILE: &str = "matcher.snap";

/// Path of the snapshot file of data directory `data`.
pub fn path(data: &Path) -> PathBuf {
    data.join(SNAPSHOT_DIR).join(FILE)
}

/// A mapped snapshot file: the bytes the matcher's views point into.
struct Mapped(memmap2::Mmap);

// SAFETY: the mapping is read-only and the file is never changed in place by Candor (a new
// snapshot is a new file renamed over this one: the mapped inode stays as it was); the module
// documentation says that nothing else may rewrite or truncate it while a service runs.
unsafe impl SharedBytes for Mapped {
    fn bytes(&self) -> &[u8] {
        &self.0
    }
}

/// What a snapshot file holds.
pub struct Snapshot {
    pub matcher: Matcher,
    pub numbers: Numbers,
    pub matcher_from: u64,
    pub root: Hash,
}

/// Called by [`write`] between the meta and the indexes (tests hold a writer there).
pub type Hook = Arc<dyn Fn() + Send + Sync>;

/// Write a snapshot of `matcher` and `numbers` into `data/snapshot/` atomically; returns its
/// size in bytes. `matcher` is the caller's own (cheap) clone: no lock is held meanwhile.
pub fn write(
    data: &Path,
    matcher: &Matcher,
    numbers: &Numbers,
    matcher_from: u64,
    root: &Hash,
    hook: Option<&Hook>,
) -> Result<u64, PartError> {
    let dir = data.join(SNAPSHOT_DIR);
    std::fs::create_dir_all(&dir)?;
    let tmp = dir.join(format!("{FILE}.tmp"));
    // A new file (the old one may be mapped by this process: never written in place).
    let _ = std::fs::remove_file(&tmp);
    let file = File::create(&tmp)?;
    let mut h = Out {
        inner: BufWriter::with_capacity(1 << 20, file),
        pos: 0,
        hash: Some(Xxh64::default()),
    };
    h.put(MAGIC)?;
    h.put(&VERSION.to_le_bytes())?;
    h.put(&0u32.to_le_bytes())?;
    h.put(&numbers.tree_size.to_le_bytes())?;
    h.put(&matcher_from.to_le_bytes())?;
    h.put(root)?;
    let json = numbers.to_json();
    h.put(&(json.len() as u64).to_le_bytes())?;
    h.put(&json)?;
    h.pad8()?;
    matcher.write_meta(&mut h)?;
    let sum = h.hash.take().expect("hashing").finish();
    h.put(&sum.to_le_bytes())?;
    if let Some(hook) = hook {
        hook();
    }
    let mut w = h.inner;
    matcher.write_indexes(&mut w)?;
    let file = w
        .into_inner()
        .map_err(|e| PartError(format!("write: {}", e.error())))?;
    file.sync_all()?;
    let len = file.metadata()?.len();
    drop(file);
    std::fs::rename(&tmp, dir.join(FILE))?;
    File::open(&dir)?.sync_all()?;
    Ok(len)
}

/// Read the snapshot of `data` in place (mapped): `Ok(None)` when there is none.
pub fn read(data: &Path) -> Result<Option<Snapshot>, PartError> {
    let p = path(data);
    let file = match File::open(&p) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    let len = file.metadata()?.len();
    if len < 64 {
        return Err(PartError("truncated".into()));
    }
    // SAFETY: see `Mapped`. `populate` maps every page at once (the file is usually in the
    // page cache: no copy, no zeroing of fresh memory).
    let map = unsafe { memmap2::MmapOptions::new().populate().map(&file)? };
    let src: Shared = Arc::new(Mapped(map));
    let mut r = Cursor { src: &src, pos: 0 };
    if r.take(8)? != MAGIC {
        return Err(PartError("not a Candor snapshot".into()));
    }
    let version = r.u32()?;
    if version != VERSION {
        return Err(PartError(format!(
            "snapshot format {version} (this build reads {VERSION})"
        )));
    }
    if r.u32()? != 0 {
        return Err(PartError("header padding is not zero".into()));
    }
    let numbers_size = r.u64()?;
    let matcher_from = r.u64()?;
    let root: [u8; 32] = r.take(32)?.try_into().expect("32 bytes");
    let n = r.u64()?;
    if n > r.left() as u64 {
        return Err(PartError(format!("numbers of {n} bytes")));
    }
    let json = r.take(n as usize)?.to_vec();
    r.pad8()?;
    let mut matcher = Matcher::read_meta(&mut r)?;
    let meta_end = r.pos;
    let stored = r.u64()?;
    // The meta's checksum is computed beside the indexes' reading (each index checks its own).
    let bytes = src.bytes();
    let (sum, indexes) = std::thread::scope(|s| {
        let sum = s.spawn(|| {
            let mut h = Xxh64::default();
            h.update(&bytes[..meta_end]);
            h.finish()
        });
        let indexes = matcher.read_indexes(&mut r);
        (sum.join(), indexes)
    });
    let sum = sum.map_err(|_| PartError("checksum thread failed".into()))?;
    if stored != sum {
        return Err(PartError("checksum mismatch".into()));
    }
    indexes?;
    if r.left() != 0 {
        return Err(PartError("trailing bytes".into()));
    }
    // Trusted only after the checksum.
    let numbers: Numbers =
        serde_json::from_slice(&json).map_err(|e| PartError(format!("numbers: {e}")))?;
    if numbers.tree_size != numbers_size || matcher_from > numbers_size {
        return Err(PartError("inconsistent sizes".into()));
    }
    Ok(Some(Snapshot {
        matcher,
        numbers,
        matcher_from,
        root,
    }))
}

/// How the state was loaded at start.
#[derive(Debug, Clone, serde::Serialize)]
pub struct LoadReport {
    /// `snapshot` or `rebuild`.
    pub source: &'static str,
    /// Why a snapshot present was not used.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub snapshot_error: Option<String>,
    /// Log entries read after the snapshot (all of them on a rebuild).
    pub entries_replayed: u64,
    /// The snapshot's PDQ tables were in another layout than `index_layout` and were rebuilt.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub relayout: bool,
    /// Log size the state is caught up to.
    pub log_size: u64,
    pub millis: u64,
}

impl LoadReport {
    /// Whether the state loaded differs from the snapshot on disk (rebuilt, caught up or
    /// re-laid out): a fresh snapshot saves the next start that work.
    pub fn snapshot_stale(&self) -> bool {
        self.source == "rebuild" || self.entries_replayed > 0 || self.relayout
    }
}

/// Load the match index and the numbers, caught up to the store's current log size: from the
/// snapshot when it is usable, otherwise rebuilt from the rows and every entry.
pub async fn load_state(
    store: &Store,
    data: &Path,
    layout: Option<candor_index::Layout>,
) -> anyhow::Result<(Matcher, Numbers, LoadReport)> {
    let t0 = Instant::now();
    let size = store.checkpoint().checkpoint.size;
    let dir = data.to_path_buf();
    let read = tokio::task::spawn_blocking(move || read(&dir))
        .await
        .map_err(|e| anyhow::anyhow!("snapshot reader: {e}"))?;
    let mut snapshot_error = None;
    match read {
        Ok(Some(snap)) => match catch_up(store, snap, size, layout).await {
            Ok((m, n, replayed, relayout)) => {
                let report = LoadReport {
                    source: "snapshot",
                    snapshot_error: None,
                    entries_replayed: replayed,
                    relayout,
                    log_size: size,
                    millis: t0.elapsed().as_millis() as u64,
                };
                return Ok((m, n, report));
            }
            Err(e) => snapshot_error = Some(e),
        },
        Ok(None) => {}
        Err(e) => snapshot_error = Some(e.0),
    }
    if let Some(e) = &snapshot_error {
        tracing::warn!(snapshot = %path(data).display(), reason = %e, "snapshot not used; rebuilding the match index from the store");
    }
    let matcher = Matcher::load(store, layout).await?;
    let mut numbers = Numbers::default();
    replay(store, 0, size, |_, e| numbers.apply(e)).await?;
    let report = LoadReport {
        source: "rebuild",
        snapshot_error,
        entries_replayed: size,
        relayout: false,
        log_size: size,
        millis: t0.elapsed().as_millis() as u64,
    };
    Ok((matcher, numbers, report))
}

/// Call `f(index, entry)` for every log entry in `[from, to)`.
async fn replay(
    store: &Store,
    from: u64,
    to: u64,
    mut f: impl FnMut(u64, &Entry),
) -> anyhow::Result<()> {
    let mut at = from;
    while at < to {
        let batch = store.log_entries(at, (to - at).min(4096)).await?;
        anyhow::ensure!(!batch.is_empty(), "log entry {at} is missing");
        for e in batch {
            let entry = Entry::decode(&e).map_err(|e| anyhow::anyhow!("log entry {at}: {e}"))?;
            f(at, &entry);
            at += 1;
        }
    }
    Ok(())
}

/// Apply the log entries after the snapshot to it: the numbers from `numbers_size`, the
/// matcher from `matcher_from` (current rows of every bank and content those entries name).
async fn catch_up(
    store: &Store,
    snap: Snapshot,
    size: u64,
    layout: Option<candor_index::Layout>,
) -> Result<(Matcher, Numbers, u64, bool), String> {
    let Snapshot {
        mut matcher,
        mut numbers,
        matcher_from,
        root,
    } = snap;
    if numbers.tree_size > size {
        return Err(format!(
            "it was taken at log size {}, beyond this log ({size} entries): another log, or one rolled back",
            numbers.tree_size
        ));
    }
    let here = store
        .tree_hash(numbers.tree_size)
        .await
        .map_err(|e| format!("tree hash: {e}"))?;
    if here != root {
        return Err(format!(
            "it belongs to another log (root at size {} differs)",
            numbers.tree_size
        ));
    }
    let numbers_from = numbers.tree_size;
    let mut deleted: HashSet<String> = HashSet::new();
    let mut contents: HashSet<String> = HashSet::new();
    replay(store, matcher_from, size, |i, e| {
        if i >= numbers_from {
            numbers.apply(e);
        }
        match &e.body {
            EntryBody::Bank(b) if b.op == ChangeOp::Delete => {
                deleted.insert(b.bank.clone());
            }
            EntryBody::BankContent(c) => {
                contents.insert(c.content.clone());
            }
            _ => {}
        }
    })
    .await
    .map_err(|e| e.to_string())?;
    if numbers.tree_size != size {
        return Err("numbers out of step with the log".into());
    }
    let db = store
        .match_banks()
        .await
        .map_err(|e| format!("banks: {e}"))?;
    let db: HashMap<i64, BankInfo> = db.iter().map(|b| (b.id, BankInfo::from(b))).collect();
    let snap_banks: Vec<(i64, BankInfo)> = matcher
        .banks()
        .iter()
        .map(|(k, v)| (*k, v.clone()))
        .collect();
    // Banks to read whole: new since the snapshot, or an id that now names another bank.
    let mut reload: Vec<i64> = Vec::new();
    for (id, info) in &snap_banks {
        let gone = match db.get(id) {
            None => true,
            Some(b) => b.name != info.name || deleted.contains(&info.name),
        };
        if gone {
            matcher.remove_bank(*id);
            if db.contains_key(id) {
                reload.push(*id);
            }
        }
    }
    for id in db.keys() {
        if !snap_banks.iter().any(|(k, _)| k == id) {
            reload.push(*id);
        }
    }
    for (id, info) in &db {
        matcher.set_bank(*id, info.clone());
    }
    for id in &reload {
        for r in store
            .signals_of_bank(*id)
            .await
            .map_err(|e| format!("bank rows: {e}"))?
        {
            matcher.apply_row(&r);
        }
    }
    let contents: Vec<String> = contents.into_iter().collect();
    for r in store
        .signals_of_contents(&contents)
        .await
        .map_err(|e| format!("content rows: {e}"))?
    {
        if !reload.contains(&r.bank_id) {
            matcher.apply_row(&r);
        }
    }
    // Tables in another layout than configured are rebuilt whole (once: the next snapshot
    // holds them); otherwise only what the catch-up added is built.
    let relayout = matcher.set_layout(layout);
    let matcher = if relayout || matcher.has_pending() {
        tokio::task::spawn_blocking(move || {
            if relayout {
                matcher.compact();
            } else {
                matcher.compact_pending();
            }
            matcher
        })
        .await
        .map_err(|e| format!("compaction: {e}"))?
    } else {
        matcher
    };
    Ok((matcher, numbers, size - matcher_from, relayout))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::matcher::{PdqQuery, Query, SignalKind};

    fn sample() -> Matcher {
        let mut m = Matcher::default();
        m.set_bank(
            1,
            BankInfo {
                name: "a".into(),
                category: "STATEMENT_CATEGORY_SCAMS_AND_FRAUD".into(),
                enabled: true,
                pdq_threshold: 31,
                negative: false,
                matching_enabled_ratio: 1.0,
            },
        );
        m.set_bank(
            2,
            BankInfo {
                name: "b".into(),
                category: "STATEMENT_CATEGORY_ANIMAL_WELFARE".into(),
                enabled: false,
                pdq_threshold: 10,
                negative: true,
                matching_enabled_ratio: 0.25,
            },
        );
        for row in 1..=40i64 {
            let mut h = [0u8; 32];
            h[0] = row as u8;
            h[31] = (row * 7) as u8;
            let public = if row == 7 {
                "not-a-uuid".to_string()
            } else {
                format!("{row:032x}")
            };
            m.insert(row, 1 + row % 2, 100 + row / 2, public, SignalKind::Pdq, &h);
        }
        m.insert(
            41,
            1,
            141,
            format!("{:032x}", 41),
            SignalKind::Md5,
            &[5u8; 16],
        );
        m.insert(
            42,
            1,
            (1 << 40) + 3,
            format!("{:032x}", 42),
            SignalKind::Sha256,
            &[6u8; 32],
        );
        m.remove(3);
        m.remove(7);
        m.compact();
        m.insert(43, 1, 143, "text id".into(), SignalKind::Pdq, &[9u8; 32]);
        m.insert(
            44,
            1,
            144,
            format!("{:032x}", 44),
            SignalKind::Sha1,
            &[8u8; 20],
        );
        m
    }

    fn query(byte0: u8) -> Query {
        let mut h = [0u8; 32];
        h[0] = byte0;
        Query {
            pdq: vec![PdqQuery {
                hash: h,
                orientation: None,
                trimmed: false,
            }],
            md5: Some([5u8; 16]),
            sha1: Some([8u8; 20]),
            sha256: Some([6u8; 32]),
        }
    }

    #[test]
    fn round_trip_then_every_flipped_byte_refused() {
        let dir = tempfile::tempdir().unwrap();
        let m = sample();
        let numbers = Numbers {
            tree_size: 12,
            policy_changes: 12,
            ..Numbers::default()
        };
        let root = [7u8; 32];
        write(dir.path(), &m, &numbers, 10, &root, None).unwrap();
        let snap = read(dir.path()).unwrap().expect("snapshot");
        assert_eq!(snap.matcher.state(), m.state());
        assert_eq!(snap.numbers, numbers);
        assert_eq!((snap.matcher_from, snap.root), (10, root));
        for b in [1u8, 2, 4, 9] {
            assert_eq!(snap.matcher.find(&query(b)), m.find(&query(b)));
        }
        assert!(!m.find(&query(1)).is_empty());
        assert!(snap.matcher.uses_shared_bytes());
        // The file it maps is never rewritten in place while mapped: drop it first.
        drop(snap);

        let p = path(dir.path());
        let good = std::fs::read(&p).unwrap();
        for i in 0..good.len() {
            let mut bad = good.clone();
            bad[i] ^= 0x04;
            std::fs::write(&p, &bad).unwrap();
            assert!(read(dir.path()).is_err(), "byte {i} flipped was accepted");
        }
        for n in [0, 1, 8, good.len() / 3, good.len() - 1] {
            std::fs::write(&p, &good[..n]).unwrap();
            assert!(read(dir.path()).is_err(), "truncated at {n} was accepted");
        }
        let mut longer = good.clone();
        longer.push(0);
        std::fs::write(&p, &longer).unwrap();
        assert!(read(dir.path()).is_err(), "trailing byte accepted");
        std::fs::remove_file(&p).unwrap();
        assert!(read(dir.path()).unwrap().is_none());
    }
}
