//! [`PdqIndex`]: every entry within Hamming distance `r` of a query, exactly.
use crate::buf::{Buf, Shared};
use crate::format::{checked_len, read_shared, FileView, FileWriter, FormatError, IndexKind};
use crate::hash::{Bitset, EntryId, EntryRef, EntryRefs, Hash256, RefRun};
use crate::mih::{Layout, Mih, Table};
use crate::simd::{self, SimdLevel, FILTER_PAD};
use std::io::{Read, Write};
use std::sync::Arc;

/// One entry within the radius of a query.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Match {
    pub entry: EntryId,
    pub distance: u32,
}

/// One entry within the radius of any of the eight dihedral hashes of an image: the
/// orientation (index into the query array, reference order) with the smallest distance.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DihedralMatch {
    pub entry: EntryId,
    pub distance: u32,
    pub orientation: usize,
}

/// How a query is answered. Every strategy returns the same, exact result.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Strategy {
    /// Multi-index hashing or the flat scan, whichever the cost model expects to be cheaper.
    #[default]
    Auto,
    /// Scan every entry.
    Flat,
    /// Probe the multi-index tables (and scan the pending entries).
    MultiIndex,
}

/// Build-time settings.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BuildOptions {
    /// Table layout; `None` picks from the entry count (split below 4M entries, compact above).
    pub layout: Option<Layout>,
    /// Directory bits per table (1..=18 compact, 1..=16 split); `None` picks from the entry count.
    pub dir_bits: Option<u32>,
}

/// Estimated nanoseconds per entry of the flat scan.
const FLAT_NS_PER_ENTRY: f64 = 0.7;

/// Pending entries above which [`PdqIndex::needs_compaction`] says so: their flat scan costs a
/// query about 3 µs.
const MAX_PENDING: usize = 4096;
/// [`PdqIndex::compact_pending`] merges the newest segment into the new one unless it spans at
/// least this many times the new one's ids: segment sizes grow geometrically, so an entry is
/// rebuilt about `log4(n / batch)` times over a growing index, and queries visit few segments.
const SEGMENT_RATIO: usize = 4;
/// Most segments an index keeps; above, the newest ones are merged.
const MAX_SEGMENTS: usize = 8;

/// A stretch of consecutive ids, immutable once built: their hashes and the tables over the
/// ones that were live then (none when every one had been removed). Shared by the clones of an
/// index (a snapshot being written), never changed in place.
#[derive(Debug)]
struct Part {
    base: u32,
    hashes: Buf<Hash256>,
    mih: Option<Mih>,
}

impl Part {
    fn end(&self) -> u32 {
        self.base + self.hashes.len() as u32
    }
}

/// An exact radius index over 256-bit (PDQ) hashes.
///
/// Entries live in append-only storage indexed by [`EntryId`]. Multi-index tables cover the
/// entries that existed at the last build, [`compact`](PdqIndex::compact) or
/// [`compact_pending`](PdqIndex::compact_pending), in *segments* of consecutive ids (one after a
/// build or `compact`); entries inserted since are *pending* and flat-scanned; removed entries
/// are tombstoned and stop matching at once. `compact` rebuilds one segment over every live
/// entry; `compact_pending` only builds the pending entries into a new segment (merged with the
/// newest ones while those are not much larger), so a bulk append costs about its own size.
/// Ids never change.
///
/// A segment and its hashes are immutable and shared (`Arc`): a clone of the index costs the
/// pending entries, the tombstones and the reference runs, not the tables, so a copy can be
/// written out while the original takes changes. An index read with
/// [`from_shared`](PdqIndex::from_shared) uses the file's bytes in place.
#[derive(Clone, Debug)]
pub struct PdqIndex {
    /// Contiguous from id 0 to `main_len`, in id order.
    parts: Vec<Arc<Part>>,
    /// Hashes of the pending ids `main_len..`.
    tail: Vec<Hash256>,
    refs: EntryRefs,
    deleted: Bitset,
    removed: usize,
    main_len: u32,
    options: BuildOptions,
    level: SimdLevel,
}

/// A [`PdqIndex::compact_pending`] taken out of the index by [`PdqIndex::prepare_pending`]:
/// [`build`](PendingBuild::build) it anywhere (it holds copies, nothing borrowed), then
/// [`PdqIndex::install`] the result.
#[derive(Debug)]
pub struct PendingBuild {
    /// The segments the new one replaces (checked by identity at install).
    merged: Vec<Arc<Part>>,
    /// Segments before them, kept.
    keep: usize,
    main_len: u32,
    base: u32,
    end: u32,
    hashes: Vec<Hash256>,
    deleted: Bitset,
    options: BuildOptions,
}

impl PendingBuild {
    /// Entries the new segment spans (the merged segments' and the pending ones).
    pub fn len(&self) -> usize {
        self.hashes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.hashes.is_empty()
    }

    /// Build the segment's tables (the expensive part: about the entries it spans).
    pub fn build(mut self) -> BuiltPending {
        let hashes = std::mem::take(&mut self.hashes);
        let mih = Mih::build(
            &hashes,
            &self.deleted,
            self.base,
            self.options.layout,
            self.options.dir_bits,
        );
        self.deleted = Bitset::default();
        BuiltPending {
            part: Arc::new(Part {
                base: self.base,
                hashes: hashes.into(),
                mih,
            }),
            job: self,
        }
    }
}

/// A built [`PendingBuild`], for [`PdqIndex::install`].
#[derive(Debug)]
pub struct BuiltPending {
    part: Arc<Part>,
    job: PendingBuild,
}

impl Default for PdqIndex {
    fn default() -> Self {
        PdqIndex::new()
    }
}

impl PdqIndex {
    /// An empty index.
    pub fn new() -> PdqIndex {
        PdqIndex::with_options(BuildOptions::default())
    }

    pub fn with_options(options: BuildOptions) -> PdqIndex {
        PdqIndex {
            parts: Vec::new(),
            tail: Vec::new(),
            refs: EntryRefs::default(),
            deleted: Bitset::default(),
            removed: 0,
            main_len: 0,
            options,
            level: simd::detected(),
        }
    }

    /// Builds an index over `entries`, ids assigned in order from 0.
    pub fn build(entries: impl IntoIterator<Item = (Hash256, EntryRef)>) -> PdqIndex {
        PdqIndex::build_with(entries, BuildOptions::default())
    }

    pub fn build_with(
        entries: impl IntoIterator<Item = (Hash256, EntryRef)>,
        options: BuildOptions,
    ) -> PdqIndex {
        let mut index = PdqIndex::with_options(options);
        for (h, r) in entries {
            index.insert(h, r);
        }
        index.compact();
        index
    }

    /// Adds an entry; it matches from now on (pending until the next compaction).
    ///
    /// Panics if the index already holds `u32::MAX` entries.
    pub fn insert(&mut self, hash: Hash256, r: EntryRef) -> EntryId {
        let id = self.refs.push(r);
        self.tail.push(hash);
        id
    }

    /// Removes an entry: it stops matching at once. Returns false if it does not exist or was
    /// already removed.
    pub fn remove(&mut self, id: EntryId) -> bool {
        let i = id.0 as usize;
        if i >= self.capacity_ids() || self.deleted.get(i) {
            return false;
        }
        self.deleted.set(i);
        self.removed += 1;
        true
    }

    /// The hashes of `parts` then of the pending entries, in one owned array.
    fn gather(parts: &[Arc<Part>], tail: &[Hash256]) -> Vec<Hash256> {
        let n = parts.iter().map(|p| p.hashes.len()).sum::<usize>() + tail.len();
        let mut all = Vec::with_capacity(n);
        for p in parts {
            all.extend_from_slice(&p.hashes);
        }
        all.extend_from_slice(tail);
        all
    }

    /// Rebuilds the multi-index tables over every live entry (pending entries join the tables,
    /// removed ones leave them). Ids do not change. To compact without blocking queries, clone
    /// the index, compact the clone elsewhere and swap it in.
    pub fn compact(&mut self) {
        let all = PdqIndex::gather(&self.parts, &self.tail);
        self.parts.clear();
        self.tail = Vec::new();
        self.main_len = all.len() as u32;
        if !all.is_empty() {
            self.push_part(0, all);
        }
    }

    fn push_part(&mut self, base: u32, hashes: Vec<Hash256>) {
        let mih = Mih::build(
            &hashes,
            &self.deleted,
            base,
            self.options.layout,
            self.options.dir_bits,
        );
        self.parts.push(Arc::new(Part {
            base,
            hashes: hashes.into(),
            mih,
        }));
    }

    /// Builds the pending entries into tables without rebuilding the others (a bulk append):
    /// a new segment over them, merged with the newest segments while any of those spans less
    /// than four times the new range (or there are too many). Queries find exactly what they
    /// found before; they no longer flat-scan the pending entries. Ids do not change.
    ///
    /// The same as [`prepare_pending`](Self::prepare_pending), [`PendingBuild::build`] and
    /// [`install`](Self::install) in one step; those three let the build run outside the
    /// caller's lock while queries and inserts go on.
    pub fn compact_pending(&mut self) {
        if let Some(job) = self.prepare_pending() {
            let built = job.build();
            let installed = self.install(built);
            debug_assert!(installed, "nothing changed between prepare and install");
        }
    }

    /// What [`compact_pending`](Self::compact_pending) would build now, copied out of the index
    /// (the pending hashes, the merged segments' hashes, the tombstones), so that it can be
    /// built without holding the index: `None` when nothing is pending.
    pub fn prepare_pending(&self) -> Option<PendingBuild> {
        if self.tail.is_empty() {
            return None;
        }
        let end = self.capacity_ids();
        let mut base = self.main_len as usize;
        let mut keep = self.parts.len();
        while keep > 0 {
            let last = &self.parts[keep - 1];
            let span = (last.end() - last.base) as usize;
            let tabled = self.parts[..keep]
                .iter()
                .filter(|p| p.mih.is_some())
                .count();
            if span >= SEGMENT_RATIO * (end - base) && tabled < MAX_SEGMENTS {
                break;
            }
            base = last.base as usize;
            keep -= 1;
        }
        Some(PendingBuild {
            merged: self.parts[keep..].to_vec(),
            keep,
            main_len: self.main_len,
            base: base as u32,
            end: end as u32,
            hashes: PdqIndex::gather(&self.parts[keep..], &self.tail),
            deleted: self.deleted.clone(),
            options: self.options,
        })
    }

    /// Put a segment built from [`prepare_pending`](Self::prepare_pending) in place of the
    /// segments and pending entries it covers. Entries inserted since stay pending; entries
    /// removed since stay removed (queries check the tombstones of every segment). Returns
    /// false, changing nothing, when the index was compacted otherwise in between (the build
    /// no longer fits; prepare again).
    pub fn install(&mut self, built: BuiltPending) -> bool {
        let PendingBuild {
            merged,
            keep,
            main_len,
            end,
            ..
        } = built.job;
        let fits = self.main_len == main_len
            && self.parts.len() == keep + merged.len()
            && self.parts[keep..]
                .iter()
                .zip(&merged)
                .all(|(a, b)| Arc::ptr_eq(a, b))
            && self.capacity_ids() >= end as usize;
        if !fits {
            return false;
        }
        self.parts.truncate(keep);
        self.parts.push(built.part);
        // The entries pending since the prepare, in an array of their own size (the built
        // ones' room is freed, as a compaction always did).
        self.tail = self.tail.split_off((end - main_len) as usize);
        self.main_len = end;
        true
    }

    /// Whether enough entries are pending that queries would be faster after
    /// [`compact_pending`](Self::compact_pending).
    pub fn needs_compaction(&self) -> bool {
        self.pending() > MAX_PENDING
    }

    /// Table segments (1 after a build or [`compact`](Self::compact) of a non-empty index).
    pub fn segments(&self) -> usize {
        self.tables().count()
    }

    fn tables(&self) -> impl Iterator<Item = &Mih> {
        self.parts.iter().filter_map(|p| p.mih.as_ref())
    }

    /// Whether every segment's tables have `layout`.
    pub fn all_in_layout(&self, layout: Layout) -> bool {
        self.tables().all(|m| m.layout == layout)
    }

    /// The settings later builds ([`compact`](Self::compact), [`compact_pending`](Self::compact_pending))
    /// use; the current tables stay as they are. (An index read from a file has the defaults.)
    pub fn set_options(&mut self, options: BuildOptions) {
        self.options = options;
    }

    /// Entries inserted since the last compaction (flat-scanned).
    pub fn pending(&self) -> usize {
        self.tail.len()
    }

    /// Live entries.
    pub fn len(&self) -> usize {
        self.capacity_ids() - self.removed
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Entries ever inserted (the next id).
    pub fn capacity_ids(&self) -> usize {
        self.main_len as usize + self.tail.len()
    }

    /// The hash of an entry (also of a removed one).
    pub fn hash(&self, id: EntryId) -> Option<Hash256> {
        let i = id.0;
        if i >= self.main_len {
            return self.tail.get((i - self.main_len) as usize).copied();
        }
        let k = self.parts.partition_point(|p| p.end() <= i);
        let p = self.parts.get(k)?;
        p.hashes.get((i - p.base) as usize).copied()
    }

    /// What an entry stands for.
    pub fn entry_ref(&self, id: EntryId) -> Option<EntryRef> {
        self.refs.get(id)
    }

    pub fn is_removed(&self, id: EntryId) -> bool {
        self.deleted.get(id.0 as usize)
    }

    /// The largest segment's tables.
    fn largest(&self) -> Option<&Mih> {
        self.tables().max_by_key(|m| m.len)
    }

    /// Directory bits of the current tables (of the largest segment; None without tables).
    pub fn dir_bits(&self) -> Option<u32> {
        self.largest().map(|m| m.dir_bits)
    }

    /// Layout of the current tables (of the largest segment; None without tables).
    pub fn layout(&self) -> Option<Layout> {
        self.largest().map(|m| m.layout)
    }

    /// The kernels queries run with.
    pub fn simd_level(&self) -> SimdLevel {
        self.level
    }

    /// Runs queries with `level` (capped to what the CPU supports).
    pub fn set_simd_level(&mut self, level: SimdLevel) {
        self.level = if level.supported() {
            level
        } else {
            simd::detected().min(level)
        };
    }

    /// Heap bytes held by the index (arrays viewed in shared bytes, a mapped file, not counted:
    /// see [`shared_bytes`](Self::shared_bytes)).
    pub fn memory_bytes(&self) -> usize {
        self.tail.capacity() * 32
            + self.refs.runs.capacity() * 16
            + self.deleted.words.capacity() * 8
            + self
                .parts
                .iter()
                .map(|p| p.hashes.owned_bytes() + p.mih.as_ref().map_or(0, |m| m.memory_bytes()))
                .sum::<usize>()
    }

    /// Whether any array is a view into shared bytes (the index was read in place).
    pub fn uses_shared_bytes(&self) -> bool {
        self.parts.iter().any(|p| p.hashes.is_view())
    }

    /// Whether [`Strategy::Auto`] probes a segment's tables (rather than flat-scanning its ids).
    fn probe_segment(m: &Mih, radius: u32) -> bool {
        m.cost(radius) < f64::from(m.id_limit - m.base) * FLAT_NS_PER_ENTRY
    }

    /// The strategy [`Strategy::Auto`] picks for `radius`: multi-index when it probes the
    /// tables of any segment (each segment is planned on its own).
    pub fn planned_strategy(&self, radius: u32) -> Strategy {
        if self.tables().any(|m| PdqIndex::probe_segment(m, radius)) {
            Strategy::MultiIndex
        } else {
            Strategy::Flat
        }
    }

    /// Every live entry within `radius` of `q` (inclusive), ordered by distance, then id.
    /// Any radius is exact; 0..=63 is the useful range for PDQ.
    pub fn search(&self, q: &Hash256, radius: u32) -> Vec<Match> {
        self.search_with(q, radius, Strategy::Auto)
    }

    pub fn search_with(&self, q: &Hash256, radius: u32, strategy: Strategy) -> Vec<Match> {
        let mut raw = Vec::new();
        self.search_raw(q, radius, strategy, &mut raw);
        finish(raw)
    }

    fn search_raw(&self, q: &Hash256, radius: u32, strategy: Strategy, raw: &mut Vec<(u32, u32)>) {
        if strategy == Strategy::Flat {
            for p in &self.parts {
                simd::flat_scan(self.level, &p.hashes, q, radius, p.base, raw);
            }
            simd::flat_scan(self.level, &self.tail, q, radius, self.main_len, raw);
            self.drop_deleted(raw, 0);
            return;
        }
        // Each segment probed or flat-scanned (Auto), then the pending entries; a part without
        // tables held only removed entries when it was built.
        let mut start = raw.len();
        for p in &self.parts {
            let Some(m) = &p.mih else { continue };
            if strategy == Strategy::MultiIndex || PdqIndex::probe_segment(m, radius) {
                m.search(self.level, &p.hashes, &self.deleted, q, radius, raw);
            } else {
                simd::flat_scan(self.level, &p.hashes, q, radius, p.base, raw);
                self.drop_deleted(raw, start);
            }
            start = raw.len();
        }
        simd::flat_scan(self.level, &self.tail, q, radius, self.main_len, raw);
        self.drop_deleted(raw, start);
    }

    fn drop_deleted(&self, raw: &mut Vec<(u32, u32)>, start: usize) {
        if self.removed == 0 {
            return;
        }
        let mut keep = start;
        for i in start..raw.len() {
            if !self.deleted.get(raw[i].0 as usize) {
                raw[keep] = raw[i];
                keep += 1;
            }
        }
        raw.truncate(keep);
    }

    /// [`search`](Self::search) for each query, in order.
    pub fn search_batch(&self, queries: &[Hash256], radius: u32) -> Vec<Vec<Match>> {
        let mut raw = Vec::new();
        queries
            .iter()
            .map(|q| {
                raw.clear();
                self.search_raw(q, radius, Strategy::Auto, &mut raw);
                finish(std::mem::take(&mut raw))
            })
            .collect()
    }

    /// Matches the eight dihedral hashes of one image (reference order) in one call. Each
    /// entry within `radius` of any of them appears once, with its best orientation (smallest
    /// distance, then lowest orientation index); ordered by distance, then id.
    pub fn search_dihedral(&self, queries: &[Hash256; 8], radius: u32) -> Vec<DihedralMatch> {
        let mut all: Vec<(u32, u32, usize)> = Vec::new();
        let mut raw = Vec::new();
        for (o, q) in queries.iter().enumerate() {
            raw.clear();
            self.search_raw(q, radius, Strategy::Auto, &mut raw);
            all.extend(raw.iter().map(|&(id, d)| (id, d, o)));
        }
        all.sort_unstable();
        all.dedup_by_key(|m| m.0);
        let mut out: Vec<DihedralMatch> = all
            .into_iter()
            .map(|(id, distance, orientation)| DihedralMatch {
                entry: EntryId(id),
                distance,
                orientation,
            })
            .collect();
        out.sort_unstable_by_key(|m| (m.distance, m.entry));
        out
    }

    /// Writes the index (tables included, so loading does not rebuild).
    ///
    /// Header fields: entry count, covered entry count (`main_len`), entry reference runs,
    /// removed count, then the tables: one segment from id 0 to `main_len` (or none) as
    /// `layout, dir bits, blocks, len, id limit` (9 fields, what every build writes), or any
    /// other segments as `base, layout, dir bits, blocks, len, id limit` each (4 + 6k fields).
    pub fn write_to<W: Write>(&self, w: W) -> Result<W, FormatError> {
        let mut fields = vec![
            self.capacity_ids() as u64,
            u64::from(self.main_len),
            self.refs.runs.len() as u64,
            self.removed as u64,
        ];
        let desc = |m: &Mih| {
            [
                m.layout.code(),
                u64::from(m.dir_bits),
                m.blocks,
                u64::from(m.len),
                u64::from(m.id_limit),
            ]
        };
        let segments: Vec<&Mih> = self.tables().collect();
        match segments.as_slice() {
            [] => fields.extend([0; 5]),
            [m] if m.base == 0 && m.id_limit == self.main_len => fields.extend(desc(m)),
            segments => {
                for m in segments {
                    fields.push(u64::from(m.base));
                    fields.extend(desc(m));
                }
            }
        }
        let mut f = FileWriter::new(w, IndexKind::Pdq, &fields)?;
        let mut hashes: Vec<&[Hash256]> = self.parts.iter().map(|p| &p.hashes[..]).collect();
        hashes.push(&self.tail);
        f.section_parts(&hashes)?;
        f.section(&runs_to_words(&self.refs.runs))?;
        let mut del = self.deleted.words.clone();
        del.resize(Bitset::words_for(self.capacity_ids()), 0);
        f.section(&del)?;
        for m in &segments {
            for t in &m.tables {
                f.section(&t.dir)?;
                match m.layout {
                    Layout::Compact => f.section(&t.filt)?,
                    Layout::Split => f.section(&t.filt16)?,
                }
                f.section(&t.idlo)?;
                f.section(&t.bits)?;
            }
        }
        f.finish()
    }

    /// Reads an index written by [`write_to`](Self::write_to), refusing a truncated, corrupt or
    /// inconsistent file. The file is read into one aligned buffer that the index then uses in
    /// place.
    pub fn read_from<R: Read>(r: R) -> Result<PdqIndex, FormatError> {
        let (src, len) = read_shared(r)?;
        PdqIndex::from_shared(&src, 0, len)
    }

    /// Reads the index file at bytes `start..end` of `src` in place: hashes and tables are
    /// views into those bytes (when `start` is 8-byte aligned in memory; otherwise copies),
    /// kept alive by the index; later changes go to owned memory. The whole file is checked as
    /// [`read_from`](Self::read_from) checks it.
    pub fn from_shared(src: &Shared, start: usize, end: usize) -> Result<PdqIndex, FormatError> {
        let mut f = FileView::new(src, start, end, IndexKind::Pdq)?;
        let nf = f.fields.len();
        if nf != 9 && (nf < 4 || (nf - 4) % 6 != 0) {
            return Err(FormatError::Invalid(format!(
                "{nf} header fields (expected 9, or 4 and 6 per table segment)"
            )));
        }
        let fl = f.fields.clone();
        let n = checked_len(fl[0], u64::from(u32::MAX), "entry count")?;
        let main_len = checked_len(fl[1], n as u64, "indexed entry count")?;
        let runs = checked_len(fl[2], n as u64, "entry reference runs")?;
        let removed = checked_len(fl[3], n as u64, "removed count")?;
        // (base, layout code, dir bits, blocks, len, id limit) of each segment.
        let descs: Vec<[u64; 6]> = if nf == 9 {
            if fl[4] == 0 {
                Vec::new()
            } else {
                if fl[8] != main_len as u64 {
                    return Err(FormatError::Invalid("table id limit disagrees".into()));
                }
                vec![[0, fl[4], fl[5], fl[6], fl[7], fl[8]]]
            }
        } else {
            (fl[4..].chunks_exact(6))
                .map(|c| [c[0], c[1], c[2], c[3], c[4], c[5]])
                .collect()
        };
        if descs.len() > MAX_SEGMENTS {
            return Err(FormatError::Invalid(format!(
                "{} table segments (at most {MAX_SEGMENTS})",
                descs.len()
            )));
        }
        let hashes: Buf<Hash256> = f.section(n, 0, "hashes")?;
        let run_words: Vec<u64> = f.section_vec(runs * 2, "entry references")?;
        let del_words: Vec<u64> = f.section_vec(Bitset::words_for(n), "removed entries")?;
        let mut segments = Vec::with_capacity(descs.len());
        let mut covered = 0usize;
        for [base, code, h, blocks, len, limit] in descs {
            let Some(layout) = Layout::from_code(code) else {
                return Err(FormatError::Invalid(format!("table layout {code}")));
            };
            let limit = checked_len(limit, main_len as u64, "table id limit")?;
            let base = checked_len(base, limit as u64, "table segment start")?;
            if base < covered || base == limit {
                return Err(FormatError::Invalid(
                    "table segments overlap or are empty".into(),
                ));
            }
            covered = limit;
            let max_h = u64::from(layout.max_dir_bits());
            let h = checked_len(h, max_h, "directory bits")? as u32;
            if h == 0 {
                return Err(FormatError::Invalid("directory bits 0".into()));
            }
            let len = checked_len(len, (limit - base) as u64, "table length")?;
            checked_len(blocks, (1 << 16) + 1, "id blocks")?;
            let nb = 1usize << h;
            let nbits = len as u64 + nb as u64 * blocks;
            let mut tables = Vec::with_capacity(layout.tables());
            for _ in 0..layout.tables() {
                let dir = f.section(nb + 1, 0, "table directory")?;
                let (filt, filt16) = match layout {
                    Layout::Compact => {
                        (f.section(len, FILTER_PAD, "table filters")?, Buf::default())
                    }
                    Layout::Split => (
                        Buf::default(),
                        f.section(len, FILTER_PAD / 2, "table filters")?,
                    ),
                };
                tables.push(Table {
                    dir,
                    filt,
                    filt16,
                    idlo: f.section(len, 0, "table ids")?,
                    bits: f.section(nbits.div_ceil(64) as usize, 0, "table id bits")?,
                });
            }
            let m = Mih::assemble(
                layout,
                h,
                blocks,
                len as u32,
                base as u32,
                limit as u32,
                tables,
            );
            m.validate().map_err(FormatError::Invalid)?;
            segments.push(m);
        }
        f.finish()?;
        let runs = words_to_runs(&run_words, n)?;
        let deleted = Bitset { words: del_words };
        if deleted.count() != removed {
            return Err(FormatError::Invalid("removed count disagrees".into()));
        }
        // Parts: each segment with its hashes, the ranges between them (every entry removed
        // when they were built) without tables.
        let mut parts = Vec::with_capacity(2 * segments.len() + 1);
        let mut at = 0usize;
        let gap = |parts: &mut Vec<Arc<Part>>, from: usize, to: usize| {
            if from < to {
                parts.push(Arc::new(Part {
                    base: from as u32,
                    hashes: hashes.slice(from..to),
                    mih: None,
                }));
            }
        };
        for m in segments {
            let (base, limit) = (m.base as usize, m.id_limit as usize);
            gap(&mut parts, at, base);
            parts.push(Arc::new(Part {
                base: m.base,
                hashes: hashes.slice(base..limit),
                mih: Some(m),
            }));
            at = limit;
        }
        gap(&mut parts, at, main_len);
        Ok(PdqIndex {
            parts,
            tail: hashes[main_len..].to_vec(),
            refs: EntryRefs {
                runs,
                len: n as u32,
            },
            deleted,
            removed,
            main_len: main_len as u32,
            options: BuildOptions::default(),
            level: simd::detected(),
        })
    }
}

fn finish(mut raw: Vec<(u32, u32)>) -> Vec<Match> {
    raw.sort_unstable();
    raw.dedup_by_key(|m| m.0);
    let mut out: Vec<Match> = raw
        .into_iter()
        .map(|(id, distance)| Match {
            entry: EntryId(id),
            distance,
        })
        .collect();
    out.sort_unstable_by_key(|m| (m.distance, m.entry));
    out
}

pub(crate) fn runs_to_words(runs: &[RefRun]) -> Vec<u64> {
    runs.iter()
        .flat_map(|r| [u64::from(r.first) | (u64::from(r.bank) << 32), r.content])
        .collect()
}

pub(crate) fn words_to_runs(words: &[u64], n: usize) -> Result<Vec<RefRun>, FormatError> {
    let runs: Vec<RefRun> = words
        .chunks_exact(2)
        .map(|w| RefRun {
            first: w[0] as u32,
            bank: (w[0] >> 32) as u32,
            content: w[1],
        })
        .collect();
    let ok = match runs.first() {
        None => n == 0,
        Some(r0) => {
            r0.first == 0
                && runs.windows(2).all(|w| w[0].first < w[1].first)
                && runs.iter().all(|r| (r.first as usize) < n)
        }
    };
    if !ok {
        return Err(FormatError::Invalid(
            "entry reference table is malformed".into(),
        ));
    }
    Ok(runs)
}
