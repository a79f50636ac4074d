//! [`PdqIndex`]: every entry within Hamming distance `r` of a query, exactly.
use crate::format::{checked_len, FileReader, FileWriter, FormatError, IndexKind};
use crate::hash::{Bitset, EntryId, EntryRef, EntryRefs, Hash256, RefRun};
use crate::mih::{Layout, Mih, Table};
use crate::simd::{self, SimdLevel, FILTER_PAD};
use std::io::{Read, Write};

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

/// An exact radius index over 256-bit (PDQ) hashes.
///
/// Entries live in one append-only array indexed by [`EntryId`]. The multi-index tables cover
/// the entries that existed at the last build or [`compact`](PdqIndex::compact); entries
/// inserted since are *pending* and flat-scanned; removed entries are tombstoned and stop
/// matching at once. Compaction rebuilds the tables over the live entries; ids never change.
#[derive(Clone, Debug)]
pub struct PdqIndex {
    hashes: Vec<Hash256>,
    refs: EntryRefs,
    deleted: Bitset,
    removed: usize,
    main: Option<Mih>,
    main_len: u32,
    options: BuildOptions,
    level: SimdLevel,
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
            hashes: Vec::new(),
            refs: EntryRefs::default(),
            deleted: Bitset::default(),
            removed: 0,
            main: None,
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
        index.hashes.shrink_to_fit();
        index.compact();
        index
    }

    /// Adds an entry; it matches from now on (pending until the next compaction).
    ///
    /// Panics if the index already holds `u32::MAX` entries.
    pub fn insert(&mut self, hash: Hash256, r: EntryRef) -> EntryId {
        let id = self.refs.push(r);
        self.hashes.push(hash);
        id
    }

    /// Removes an entry: it stops matching at once. Returns false if it does not exist or was
    /// already removed.
    pub fn remove(&mut self, id: EntryId) -> bool {
        let i = id.0 as usize;
        if i >= self.hashes.len() || self.deleted.get(i) {
            return false;
        }
        self.deleted.set(i);
        self.removed += 1;
        true
    }

    /// Rebuilds the multi-index tables over every live entry (pending entries join the tables,
    /// removed ones leave them). Ids do not change. To compact without blocking queries, clone
    /// the index, compact the clone elsewhere and swap it in.
    pub fn compact(&mut self) {
        self.main = Mih::build(
            &self.hashes,
            &self.deleted,
            self.options.layout,
            self.options.dir_bits,
        );
        self.main_len = self.hashes.len() as u32;
    }

    /// Whether enough entries are pending that queries would be faster after [`compact`](Self::compact).
    pub fn needs_compaction(&self) -> bool {
        self.pending() > 4096.max(self.len() / 32)
    }

    /// Entries inserted since the last compaction (flat-scanned).
    pub fn pending(&self) -> usize {
        self.hashes.len() - self.main_len as usize
    }

    /// Live entries.
    pub fn len(&self) -> usize {
        self.hashes.len() - self.removed
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Entries ever inserted (the next id).
    pub fn capacity_ids(&self) -> usize {
        self.hashes.len()
    }

    /// The hash of an entry (also of a removed one).
    pub fn hash(&self, id: EntryId) -> Option<Hash256> {
        self.hashes.get(id.0 as usize).copied()
    }

    /// What an entry stands for.
    pub fn entry_ref(&self, id: EntryId) -> Option<EntryRef> {
        self.refs.get(id)
    }

    pub fn is_removed(&self, id: EntryId) -> bool {
        self.deleted.get(id.0 as usize)
    }

    /// Directory bits of the current tables (None without tables).
    pub fn dir_bits(&self) -> Option<u32> {
        self.main.as_ref().map(|m| m.dir_bits)
    }

    /// Layout of the current tables (None without tables).
    pub fn layout(&self) -> Option<Layout> {
        self.main.as_ref().map(|m| m.layout)
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

    /// Heap bytes held by the index.
    pub fn memory_bytes(&self) -> usize {
        self.hashes.capacity() * 32
            + self.refs.runs.capacity() * 16
            + self.deleted.words.capacity() * 8
            + self.main.as_ref().map_or(0, |m| m.memory_bytes())
    }

    /// The strategy [`Strategy::Auto`] picks for `radius`.
    pub fn planned_strategy(&self, radius: u32) -> Strategy {
        match &self.main {
            Some(m) if m.cost(radius) < f64::from(self.main_len) * FLAT_NS_PER_ENTRY => {
                Strategy::MultiIndex
            }
            _ => Strategy::Flat,
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
        let strategy = match strategy {
            Strategy::Auto => self.planned_strategy(radius),
            s => s,
        };
        let main_len = self.main_len as usize;
        match (&self.main, strategy) {
            (Some(m), Strategy::MultiIndex) => {
                m.search(self.level, &self.hashes, &self.deleted, q, radius, raw);
                let start = raw.len();
                let pending = &self.hashes[main_len..];
                simd::flat_scan(self.level, pending, q, radius, main_len as u32, raw);
                self.drop_deleted(raw, start);
            }
            (None, Strategy::MultiIndex) => {
                // Every entry below main_len is removed: only pending entries can match.
                let pending = &self.hashes[main_len..];
                simd::flat_scan(self.level, pending, q, radius, main_len as u32, raw);
                self.drop_deleted(raw, 0);
            }
            _ => {
                simd::flat_scan(self.level, &self.hashes, q, radius, 0, raw);
                self.drop_deleted(raw, 0);
            }
        }
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
    pub fn write_to<W: Write>(&self, w: W) -> Result<W, FormatError> {
        let (has, h, blocks, len, limit) = match &self.main {
            Some(m) => (m.layout.code(), m.dir_bits, m.blocks, m.len, m.id_limit),
            None => (0, 0, 0, 0, 0),
        };
        let fields = [
            self.hashes.len() as u64,
            u64::from(self.main_len),
            self.refs.runs.len() as u64,
            self.removed as u64,
            has,
            u64::from(h),
            blocks,
            u64::from(len),
            u64::from(limit),
        ];
        let mut f = FileWriter::new(w, IndexKind::Pdq, &fields)?;
        f.section(&self.hashes)?;
        f.section(&runs_to_words(&self.refs.runs))?;
        let mut del = self.deleted.words.clone();
        del.resize(Bitset::words_for(self.hashes.len()), 0);
        f.section(&del)?;
        if let Some(m) = &self.main {
            for t in &m.tables {
                f.section(&t.dir)?;
                match m.layout {
                    Layout::Compact => f.section(&t.filt[..t.filt.len() - FILTER_PAD])?,
                    Layout::Split => f.section(&t.filt16[..t.filt16.len() - FILTER_PAD / 2])?,
                }
                f.section(&t.idlo)?;
                f.section(&t.bits)?;
            }
        }
        f.finish()
    }

    /// Reads an index written by [`write_to`](Self::write_to), refusing a truncated, corrupt or
    /// inconsistent file.
    pub fn read_from<R: Read>(r: R) -> Result<PdqIndex, FormatError> {
        let mut f = FileReader::new(r, IndexKind::Pdq)?;
        if f.fields.len() != 9 {
            return Err(FormatError::Invalid(format!(
                "{} header fields (expected 9)",
                f.fields.len()
            )));
        }
        let fl = f.fields.clone();
        let n = checked_len(fl[0], u64::from(u32::MAX), "entry count")?;
        let main_len = checked_len(fl[1], n as u64, "indexed entry count")?;
        let runs = checked_len(fl[2], n as u64, "entry reference runs")?;
        let removed = checked_len(fl[3], n as u64, "removed count")?;
        let has_main = fl[4];
        let hashes: Vec<Hash256> = f.section(n, 0, "hashes")?;
        let run_words: Vec<u64> = f.section(runs * 2, 0, "entry references")?;
        let del_words: Vec<u64> = f.section(Bitset::words_for(n), 0, "removed entries")?;
        let main = match has_main {
            0 => None,
            code => {
                let Some(layout) = Layout::from_code(code) else {
                    return Err(FormatError::Invalid(format!("table layout {code}")));
                };
                let max_h = u64::from(layout.max_dir_bits());
                let h = checked_len(fl[5], max_h, "directory bits")? as u32;
                if h == 0 {
                    return Err(FormatError::Invalid("directory bits 0".into()));
                }
                let blocks = fl[6];
                let len = checked_len(fl[7], main_len as u64, "table length")?;
                let limit = checked_len(fl[8], main_len as u64, "table id limit")?;
                if limit != main_len {
                    return Err(FormatError::Invalid("table id limit disagrees".into()));
                }
                checked_len(blocks, (1 << 16) + 1, "id blocks")?;
                let nb = 1usize << h;
                let nbits = len as u64 + nb as u64 * blocks;
                let mut tables = Vec::with_capacity(layout.tables());
                for _ in 0..layout.tables() {
                    let dir = f.section(nb + 1, 0, "table directory")?;
                    let (filt, filt16) = match layout {
                        Layout::Compact => {
                            (f.section(len, FILTER_PAD, "table filters")?, Vec::new())
                        }
                        Layout::Split => {
                            (Vec::new(), f.section(len, FILTER_PAD / 2, "table filters")?)
                        }
                    };
                    tables.push(Table {
                        dir,
                        filt,
                        filt16,
                        idlo: f.section(len, 0, "table ids")?,
                        bits: f.section(nbits.div_ceil(64) as usize, 0, "table id bits")?,
                    });
                }
                Some(Mih::assemble(
                    layout,
                    h,
                    blocks,
                    len as u32,
                    limit as u32,
                    tables,
                ))
            }
        };
        f.finish()?;
        let runs = words_to_runs(&run_words, n)?;
        let deleted = Bitset { words: del_words };
        if deleted.count() != removed {
            return Err(FormatError::Invalid("removed count disagrees".into()));
        }
        if let Some(m) = &main {
            m.validate().map_err(FormatError::Invalid)?;
        }
        Ok(PdqIndex {
            hashes,
            refs: EntryRefs {
                runs,
                len: n as u32,
            },
            deleted,
            removed,
            main,
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
