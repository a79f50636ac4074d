//! The in-memory match index over every bank: PDQ (multi-index hashing, exact within each
//! bank's threshold), MD5, SHA-1 and SHA-256 by lookup. Built at start from a snapshot caught up with
//! the log ([`crate::snapshot`]) or from the store; every bank change is applied right after its
//! transaction commits, so it matches (or stops matching) before the request that made it is
//! answered.
//!
//! Memory: besides the indexes (which hold each hash with its `EntryRef { bank, content: row }`),
//! one [`Slot`] per signal row in a row-sorted array — the content's public id as 16 bytes (ids
//! are UUID hex; any other text goes to a side map), the entry id and the kind — about 32 bytes
//! per row, no allocation per row.

use std::collections::HashMap;
use std::io::{Seek, Write};

use candor_index::{
    Buf, BuildOptions, BuiltPending, EntryId, EntryRef, Hash256, Layout, Md5Index, PdqIndex,
    PendingBuild, Pod, Sha1Index, Sha256Index, Shared,
};
use candor_store::matching::{MatchBank, MatchRow};
use candor_store::Store;
use serde::Serialize;

/// What the index needs to know about a bank.
#[derive(Debug, Clone, PartialEq)]
pub struct BankInfo {
    pub name: String,
    pub category: String,
    pub enabled: bool,
    pub pdq_threshold: u32,
    /// A negative bank: its matches suppress every other bank's ([`screen`]).
    pub negative: bool,
    /// HMA's `matching_enabled_ratio` (the HMA lookups' coin flip; 1.0 for `/v1` banks).
    pub matching_enabled_ratio: f64,
}

impl From<&MatchBank> for BankInfo {
    fn from(b: &MatchBank) -> BankInfo {
        BankInfo {
            name: b.name.clone(),
            category: b.category.clone(),
            enabled: b.enabled,
            pdq_threshold: b.pdq_threshold,
            negative: b.negative,
            matching_enabled_ratio: b.matching_enabled_ratio,
        }
    }
}

/// The kinds of signal: the log's names are the index's.
pub use candor_log::entry::SignalKind;

/// One PDQ hash to look for: the hash, the orientation it stands for and whether it is the
/// border-trimmed variant.
#[derive(Debug, Clone, Copy)]
pub struct PdqQuery {
    pub hash: [u8; 32],
    pub orientation: Option<&'static str>,
    pub trimmed: bool,
}

/// Signals of one piece of content to match.
#[derive(Debug, Clone, Default)]
pub struct Query {
    pub pdq: Vec<PdqQuery>,
    pub md5: Option<[u8; 16]>,
    pub sha1: Option<[u8; 20]>,
    pub sha256: Option<[u8; 32]>,
}

/// A match: the query signal found in a bank.
#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
pub struct Found {
    pub bank: String,
    pub bank_category: String,
    pub content_id: String,
    pub signal: &'static str,
    pub distance: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub orientation: Option<&'static str>,
    pub trimmed: bool,
    /// The bank is a negative bank (an allowlist): this match suppresses the others.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub negative: bool,
    /// The matched `content_signals` row.
    #[serde(skip)]
    #[schema(ignore)]
    pub row: i64,
    /// Its `bank_content` row (HMA's `bank_content_id`), when the index knows it.
    #[serde(skip)]
    #[schema(ignore)]
    pub content_row: Option<i64>,
    /// The bank's HMA `matching_enabled_ratio`.
    #[serde(skip)]
    #[schema(ignore)]
    pub matching_enabled_ratio: f64,
}

const KIND_PDQ: u8 = 0;
const KIND_MD5: u8 = 1;
const KIND_SHA256: u8 = 2;
const KIND_SHA1: u8 = 3;
/// A row that was indexed and is not any more (its slot is reused if it comes back).
const KIND_REMOVED: u8 = 0xff;
/// [`Slot::content`] of a content row id over 32 bits.
const NO_CONTENT: u32 = u32::MAX;

fn content_code(row: i64) -> u32 {
    u32::try_from(row)
        .ok()
        .filter(|&c| c != NO_CONTENT)
        .unwrap_or(NO_CONTENT)
}

fn kind_code(k: SignalKind) -> u8 {
    match k {
        SignalKind::Pdq => KIND_PDQ,
        SignalKind::Md5 => KIND_MD5,
        SignalKind::Sha256 => KIND_SHA256,
        SignalKind::Sha1 => KIND_SHA1,
    }
}

/// [`kind_code`]'s inverse (`None` for [`KIND_REMOVED`] and unknown codes).
fn kind_of(code: u8) -> Option<SignalKind> {
    match code {
        KIND_PDQ => Some(SignalKind::Pdq),
        KIND_MD5 => Some(SignalKind::Md5),
        KIND_SHA256 => Some(SignalKind::Sha256),
        KIND_SHA1 => Some(SignalKind::Sha1),
        _ => None,
    }
}

/// What is kept per indexed signal row (28 bytes, stored as they are in the snapshot file).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(C)]
struct Slot {
    /// The content's public id (32 lowercase hex digits), or zeros with `text` set.
    public: [u8; 16],
    entry: u32,
    /// The `bank_content` row of the signal (HMA's `bank_content_id`; [`NO_CONTENT`] when it
    /// does not fit 32 bits, then read from the store).
    content: u32,
    kind: u8,
    /// 1 when the public id is not UUID hex: it is in `Rows::texts`.
    text: u8,
    pad: [u8; 2],
}

// SAFETY: only integers and byte arrays, no padding (16 + 4 + 4 + 1 + 1 + 2 = 28, align 4).
unsafe impl Pod for Slot {
    const ZERO: Slot = Slot {
        public: [0; 16],
        entry: 0,
        content: 0,
        kind: 0,
        text: 0,
        pad: [0; 2],
    };
    fn swap_bytes_in_place(v: &mut [Slot]) {
        for s in v {
            s.entry = s.entry.swap_bytes();
            s.content = s.content.swap_bytes();
        }
    }
}

const _: () = assert!(std::mem::size_of::<Slot>() == SLOT_BYTES);

/// Rows per chunk of the row table: a change copies at most one chunk (~2.3 MB) when a
/// snapshot being written (or the mapped snapshot file) shares it.
const ROW_CHUNK: usize = 1 << 16;

/// Signal rows by row id: sorted ids and their slots side by side, in chunks of about
/// [`ROW_CHUNK`] rows (never empty), each an immutable [`Buf`] shared by the matcher's clones
/// and copied on write.
#[derive(Default, Clone)]
struct Rows {
    ids: Vec<Buf<i64>>,
    slots: Vec<Buf<Slot>>,
    live: usize,
    texts: HashMap<i64, String>,
}

impl Rows {
    /// `Ok((chunk, i))` where the row is, `Err((chunk, i))` where it would go.
    fn position(&self, row: i64) -> Result<(usize, usize), (usize, usize)> {
        let c = self
            .ids
            .partition_point(|ch| ch.last().is_some_and(|&l| l < row));
        match self.ids.get(c) {
            None => Err((c, 0)),
            Some(ch) => ch.binary_search(&row).map(|i| (c, i)).map_err(|i| (c, i)),
        }
    }

    fn get(&self, row: i64) -> Option<&Slot> {
        let (c, i) = self.position(row).ok()?;
        let s = &self.slots[c][i];
        (s.kind != KIND_REMOVED).then_some(s)
    }

    fn contains(&self, row: i64) -> bool {
        self.get(row).is_some()
    }

    /// Every row, in row order, removed ones included.
    fn iter(&self) -> impl Iterator<Item = (i64, &Slot)> {
        self.ids
            .iter()
            .zip(&self.slots)
            .flat_map(|(i, s)| i.iter().copied().zip(s.iter()))
    }

    fn count(&self) -> usize {
        self.ids.iter().map(|c| c.len()).sum()
    }

    fn public_id(&self, row: i64, s: &Slot) -> String {
        if s.text != 0 {
            self.texts.get(&row).cloned().unwrap_or_default()
        } else {
            hex::encode(s.public)
        }
    }

    /// Record a row that is not live now.
    fn put(&mut self, row: i64, content: i64, public_id: &str, kind: u8, entry: u32) {
        let (public, text) = match encode_public(public_id) {
            Some(p) => (p, 0),
            None => ([0; 16], 1),
        };
        if text != 0 {
            self.texts.insert(row, public_id.to_owned());
        }
        let slot = Slot {
            public,
            entry,
            content: content_code(content),
            kind,
            text,
            pad: [0; 2],
        };
        match self.position(row) {
            Ok((c, i)) => self.slots[c].with_mut(|v| v[i] = slot),
            Err((c, _)) if c == self.ids.len() => match self.ids.last_mut() {
                Some(last) if last.len() < ROW_CHUNK => {
                    last.with_mut(|v| v.push(row));
                    let slots = self.slots.last_mut().expect("slots beside ids");
                    slots.with_mut(|v| v.push(slot));
                }
                _ => {
                    self.ids.push(vec![row].into());
                    self.slots.push(vec![slot].into());
                }
            },
            // A row id below the largest one, never seen (SQLite reuses the largest id after
            // it was deleted): rare, and a shift inside one chunk.
            Err((c, i)) => {
                self.ids[c].with_mut(|v| v.insert(i, row));
                self.slots[c].with_mut(|v| v.insert(i, slot));
            }
        }
        self.live += 1;
    }

    fn take(&mut self, row: i64) -> Option<Slot> {
        let (c, i) = self.position(row).ok()?;
        let s = self.slots[c][i];
        if s.kind == KIND_REMOVED {
            return None;
        }
        self.slots[c].with_mut(|v| v[i].kind = KIND_REMOVED);
        if s.text != 0 {
            self.texts.remove(&row);
        }
        self.live -= 1;
        Some(s)
    }

    /// Heap bytes of the owned chunks (views into the mapped snapshot not counted).
    fn memory_bytes(&self) -> usize {
        self.ids.iter().map(|c| c.owned_bytes()).sum::<usize>()
            + self.slots.iter().map(|c| c.owned_bytes()).sum::<usize>()
    }
}

/// A public id as 16 bytes when it is 32 lowercase hex digits (what `new_id` makes).
fn encode_public(s: &str) -> Option<[u8; 16]> {
    if s.len() != 32 || !s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return None;
    }
    let mut out = [0u8; 16];
    hex::decode_to_slice(s, &mut out).ok()?;
    Some(out)
}

/// An indexed row: `(row, bank id, content public id, signal)`.
pub type IndexedRow = (i64, i64, String, SignalKind);
/// [`Matcher::state`]: the indexed rows and the banks by id.
pub type MatcherState = (Vec<IndexedRow>, Vec<(i64, BankInfo)>);

/// Cheap to clone: the indexes' segments and the row table's chunks are shared, immutable
/// [`Buf`]s (what a snapshot copies under the read lock, then writes out after releasing it).
#[derive(Default, Clone)]
pub struct Matcher {
    banks: HashMap<i64, BankInfo>,
    pdq: PdqIndex,
    md5: Md5Index,
    sha1: Sha1Index,
    sha256: Sha256Index,
    rows: Rows,
    /// Largest threshold of an enabled bank: the search radius.
    radius: u32,
    /// MD5, SHA-1 or SHA-256 entries were inserted since the last compaction.
    digests_pending: bool,
}

impl Matcher {
    /// Build from every bank and every enabled, unretracted signal in the store, the PDQ
    /// tables in `layout` (None: chosen by size, see [`Layout`]).
    pub async fn load(
        store: &Store,
        layout: Option<Layout>,
    ) -> Result<Matcher, candor_store::StoreError> {
        let mut m = Matcher::default();
        m.set_layout(layout);
        for b in store.match_banks().await? {
            m.banks.insert(b.id, BankInfo::from(&b));
        }
        // Streamed and without the incremental compactions of `insert`: one at the end.
        store
            .for_each_live_signal(|row, bank_id, content, public_id, signal, value| {
                if let Some(kind) = SignalKind::parse(signal) {
                    m.insert_row(row, bank_id, content, public_id, kind, value);
                }
            })
            .await?;
        m.compact();
        m.refresh_radius();
        Ok(m)
    }

    /// The PDQ table layout of later builds (None: chosen by each build's size). Returns
    /// whether the current tables are in another layout (a [`compact`](Self::compact) converts
    /// them).
    pub fn set_layout(&mut self, layout: Option<Layout>) -> bool {
        self.pdq.set_options(BuildOptions {
            layout,
            dir_bits: None,
        });
        layout.is_some_and(|l| !self.pdq.all_in_layout(l))
    }

    /// Compact every index (pending entries into the tables).
    pub fn compact(&mut self) {
        self.pdq.compact();
        self.md5.compact();
        self.sha1.compact();
        self.sha256.compact();
        self.digests_pending = false;
    }

    /// Build what was inserted since the last compaction into the indexes without rebuilding
    /// the rest: the PDQ entries become a new table segment (merged with the newest ones while
    /// those are not much larger, [`PdqIndex::compact_pending`]); digests are re-sorted when
    /// any were added. Used after many inserts at once (an import, a snapshot's catch-up).
    pub fn compact_pending(&mut self) {
        self.pdq.compact_pending();
        self.compact_digests();
    }

    /// Re-sort the digest indexes when any digest was added since.
    fn compact_digests(&mut self) {
        if self.digests_pending {
            self.md5.compact();
            self.sha1.compact();
            self.sha256.compact();
            self.digests_pending = false;
        }
    }

    /// Whether entries were inserted since the last [`compact`](Self::compact).
    pub fn has_pending(&self) -> bool {
        self.pdq.pending() > 0 || self.digests_pending
    }

    fn refresh_radius(&mut self) {
        self.radius = self
            .banks
            .values()
            .filter(|b| b.enabled)
            .map(|b| b.pdq_threshold)
            .max()
            .unwrap_or(0);
    }

    pub fn set_bank(&mut self, id: i64, info: BankInfo) {
        self.banks.insert(id, info);
        self.refresh_radius();
    }

    /// The banks the index knows, by id.
    pub fn banks(&self) -> &HashMap<i64, BankInfo> {
        &self.banks
    }

    fn entry_ref(&self, s: &Slot) -> Option<EntryRef> {
        let id = EntryId(s.entry);
        match s.kind {
            KIND_PDQ => self.pdq.entry_ref(id),
            KIND_MD5 => self.md5.entry_ref(id),
            KIND_SHA1 => self.sha1.entry_ref(id),
            KIND_SHA256 => self.sha256.entry_ref(id),
            _ => None,
        }
    }

    /// Forget a bank and every signal of it.
    pub fn remove_bank(&mut self, id: i64) {
        self.banks.remove(&id);
        let rows: Vec<i64> = self
            .rows
            .iter()
            .filter(|(_, s)| s.kind != KIND_REMOVED)
            .filter(|(_, s)| self.entry_ref(s).is_some_and(|r| i64::from(r.bank) == id))
            .map(|(row, _)| row)
            .collect();
        for r in rows {
            self.remove(r);
        }
        self.refresh_radius();
    }

    /// Index one signal row; it matches at once. Builds the pending PDQ entries into a table
    /// segment when enough are pending (under the caller's write lock: lookups wait for it;
    /// a cost of about the pending entries, not of the index).
    pub fn insert(
        &mut self,
        row: i64,
        bank_id: i64,
        content: i64,
        public_id: String,
        kind: SignalKind,
        value: &[u8],
    ) {
        self.insert_row(row, bank_id, content, &public_id, kind, value);
        if self.pdq.needs_compaction() {
            self.pdq.compact_pending();
        }
    }

    /// Index many signal rows `(row, content row, public id, kind, value)` at once (an import,
    /// a content's signals): each as [`insert`],
    /// but the pending PDQ entries are built into tables at most once, at the end, as one new
    /// segment (a bulk append, [`PdqIndex::compact_pending`]) — before, an import rebuilt the
    /// whole index every `len/32` rows (~70 times over a 1M-hash import). They all match when
    /// this returns.
    ///
    /// [`insert`]: Self::insert
    pub fn insert_many<'a>(
        &mut self,
        bank_id: i64,
        rows: impl IntoIterator<Item = (i64, i64, &'a str, SignalKind, &'a [u8])>,
    ) {
        self.append_many(bank_id, rows);
        if self.pdq.needs_compaction() {
            self.pdq.compact_pending();
        }
    }

    /// [`insert_many`](Self::insert_many) without building the PDQ tables: the rows match at
    /// once (flat-scanned as pending entries) and the caller builds their segment outside the
    /// write lock ([`prepare_compaction`](Self::prepare_compaction), then
    /// [`install_compaction`](Self::install_compaction)), so lookups do not wait for it.
    pub fn append_many<'a>(
        &mut self,
        bank_id: i64,
        rows: impl IntoIterator<Item = (i64, i64, &'a str, SignalKind, &'a [u8])>,
    ) {
        for (row, content, public_id, kind, value) in rows {
            self.insert_row(row, bank_id, content, public_id, kind, value);
        }
    }

    /// Whether enough PDQ entries are pending that a compaction is due.
    pub fn needs_compaction(&self) -> bool {
        self.pdq.needs_compaction()
    }

    /// The PDQ segment [`compact_pending`](Self::compact_pending) would build, taken out to be
    /// built without the matcher's lock (`None` when nothing is pending).
    pub fn prepare_compaction(&self) -> Option<PendingBuild> {
        self.pdq.prepare_pending()
    }

    /// Put a segment built from [`prepare_compaction`](Self::prepare_compaction) in place
    /// (false when another compaction overtook it), and re-sort the digests if any were added.
    pub fn install_compaction(&mut self, built: BuiltPending) -> bool {
        let installed = self.pdq.install(built);
        self.compact_digests();
        installed
    }

    fn insert_row(
        &mut self,
        row: i64,
        bank_id: i64,
        content_row: i64,
        public_id: &str,
        kind: SignalKind,
        value: &[u8],
    ) {
        if self.rows.contains(row) {
            return;
        }
        let (Ok(bank), Ok(content)) = (u32::try_from(bank_id), u64::try_from(row)) else {
            return;
        };
        let r = EntryRef { bank, content };
        let entry = match kind {
            SignalKind::Pdq => match <[u8; 32]>::try_from(value) {
                Ok(v) => self.pdq.insert(Hash256::from_bytes(v), r),
                Err(_) => return,
            },
            SignalKind::Md5 => match <[u8; 16]>::try_from(value) {
                Ok(v) => {
                    self.digests_pending = true;
                    self.md5.insert(v, r)
                }
                Err(_) => return,
            },
            SignalKind::Sha256 => match <[u8; 32]>::try_from(value) {
                Ok(v) => {
                    self.digests_pending = true;
                    self.sha256.insert(v, r)
                }
                Err(_) => return,
            },
            SignalKind::Sha1 => match <[u8; 20]>::try_from(value) {
                Ok(v) => {
                    self.digests_pending = true;
                    self.sha1.insert(v, r)
                }
                Err(_) => return,
            },
        };
        self.rows
            .put(row, content_row, public_id, kind_code(kind), entry.0);
    }

    /// Make one row match exactly as the store says now: indexed when its content is live and
    /// its bank exists, not indexed otherwise. Used to catch a snapshot up with the log.
    pub fn apply_row(&mut self, r: &MatchRow) {
        let kind = SignalKind::parse(&r.signal);
        match kind {
            Some(kind) if r.live && self.banks.contains_key(&r.bank_id) => {
                if let Some(s) = self.rows.get(r.row) {
                    // Indexed already: the same row of the same bank is unchanged (a content's
                    // signals never change); anything else is re-indexed.
                    let same = s.kind == kind_code(kind)
                        && s.content == content_code(r.content_row)
                        && self
                            .entry_ref(s)
                            .is_some_and(|e| i64::from(e.bank) == r.bank_id)
                        && self.rows.public_id(r.row, s) == r.public_id;
                    if same {
                        return;
                    }
                    self.remove(r.row);
                }
                self.insert_row(
                    r.row,
                    r.bank_id,
                    r.content_row,
                    &r.public_id,
                    kind,
                    &r.value,
                );
            }
            _ => self.remove(r.row),
        }
    }

    /// Stop matching one signal row at once.
    pub fn remove(&mut self, row: i64) {
        if let Some(s) = self.rows.take(row) {
            let id = EntryId(s.entry);
            match s.kind {
                KIND_PDQ => self.pdq.remove(id),
                KIND_MD5 => self.md5.remove(id),
                KIND_SHA1 => self.sha1.remove(id),
                _ => self.sha256.remove(id),
            };
        }
    }

    /// Indexed signals by kind.
    pub fn counts(&self) -> [(SignalKind, usize); 4] {
        [
            (SignalKind::Pdq, self.pdq.len()),
            (SignalKind::Md5, self.md5.len()),
            (SignalKind::Sha1, self.sha1.len()),
            (SignalKind::Sha256, self.sha256.len()),
        ]
    }

    /// Number of indexed signals.
    pub fn len(&self) -> usize {
        self.rows.live
    }

    pub fn is_empty(&self) -> bool {
        self.rows.live == 0
    }

    /// Every indexed row — `(row, bank id, content public id, signal)` in row order — and the
    /// banks, sorted by id: two matchers with the same state give the same value.
    pub fn state(&self) -> MatcherState {
        let rows = self
            .rows
            .iter()
            .filter_map(|(row, s)| {
                let kind = kind_of(s.kind)?;
                let bank = self.entry_ref(s).map_or(-1, |r| i64::from(r.bank));
                Some((row, bank, self.rows.public_id(row, s), kind))
            })
            .collect();
        let mut banks: Vec<(i64, BankInfo)> =
            self.banks.iter().map(|(k, v)| (*k, v.clone())).collect();
        banks.sort_by_key(|b| b.0);
        (rows, banks)
    }

    /// Bytes held by the indexes and the row table (capacity, not length).
    pub fn memory_bytes(&self) -> usize {
        self.pdq.memory_bytes() + self.rows.memory_bytes()
    }

    /// Every match of `q` in enabled banks, best first, one per (bank content, signal).
    pub fn find(&self, q: &Query) -> Vec<Found> {
        let mut best: HashMap<(i64, SignalKind), Found> = HashMap::new();
        let mut consider = |entry: EntryId,
                            entry_ref: Option<EntryRef>,
                            kind: SignalKind,
                            distance: u32,
                            pq: Option<&PdqQuery>| {
            let Some(r) = entry_ref else { return };
            let Ok(row) = i64::try_from(r.content) else {
                return;
            };
            let Some(slot) = self.rows.get(row) else {
                return;
            };
            if slot.entry != entry.0 || slot.kind != kind_code(kind) {
                return;
            }
            let Some(bank) = self.banks.get(&i64::from(r.bank)) else {
                return;
            };
            if !bank.enabled || (kind == SignalKind::Pdq && distance > bank.pdq_threshold) {
                return;
            }
            match best.get(&(row, kind)) {
                Some(b) if b.distance <= distance => {}
                _ => {
                    let found = Found {
                        bank: bank.name.clone(),
                        bank_category: bank.category.clone(),
                        content_id: self.rows.public_id(row, slot),
                        signal: kind.as_str(),
                        distance,
                        orientation: pq.and_then(|p| p.orientation),
                        trimmed: pq.is_some_and(|p| p.trimmed),
                        negative: bank.negative,
                        row,
                        content_row: (slot.content != NO_CONTENT)
                            .then_some(i64::from(slot.content)),
                        matching_enabled_ratio: bank.matching_enabled_ratio,
                    };
                    best.insert((row, kind), found);
                }
            }
        };
        if let Some(md5) = &q.md5 {
            for id in self.md5.get(md5) {
                consider(id, self.md5.entry_ref(id), SignalKind::Md5, 0, None);
            }
        }
        if let Some(sha) = &q.sha1 {
            for id in self.sha1.get(sha) {
                consider(id, self.sha1.entry_ref(id), SignalKind::Sha1, 0, None);
            }
        }
        if let Some(sha) = &q.sha256 {
            for id in self.sha256.get(sha) {
                consider(id, self.sha256.entry_ref(id), SignalKind::Sha256, 0, None);
            }
        }
        if self.radius > 0 || self.banks.values().any(|b| b.enabled) {
            for pq in &q.pdq {
                let h = Hash256::from_bytes(pq.hash);
                for m in self.pdq.search(&h, self.radius) {
                    consider(
                        m.entry,
                        self.pdq.entry_ref(m.entry),
                        SignalKind::Pdq,
                        m.distance,
                        Some(pq),
                    );
                }
            }
        }
        let mut out: Vec<Found> = best.into_values().collect();
        out.sort_by(|a, b| {
            a.distance
                .cmp(&b.distance)
                .then_with(|| a.bank.cmp(&b.bank))
                .then_with(|| a.content_id.cmp(&b.content_id))
                .then_with(|| a.signal.cmp(b.signal))
        });
        out
    }
}

/// Matches after negative banks are applied: when any match is in a negative bank (an
/// allowlist of benign or collision-prone content, HMA issue #1977), every match in another
/// bank is suppressed — kept in `suppressed`, never dropped silently, so answers and
/// statements can say what was not acted on and why.
#[derive(Debug, Clone, Default, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Screened {
    /// The matches to act on (none when a negative bank matched).
    pub matches: Vec<Found>,
    /// Matches in negative banks.
    pub allowlisted: Vec<Found>,
    /// Matches in other banks that the negative-bank matches suppressed.
    pub suppressed: Vec<Found>,
}

impl Screened {
    /// Whether a negative bank suppressed other banks' matches.
    pub fn suppressed_any(&self) -> bool {
        !self.suppressed.is_empty()
    }
}

/// Split `found` by negative banks (see [`Screened`]).
pub fn screen(found: Vec<Found>) -> Screened {
    let (allowlisted, rest): (Vec<Found>, Vec<Found>) = found.into_iter().partition(|f| f.negative);
    if allowlisted.is_empty() {
        Screened {
            matches: rest,
            ..Screened::default()
        }
    } else {
        Screened {
            matches: Vec::new(),
            allowlisted,
            suppressed: rest,
        }
    }
}

// ---- Snapshot encoding (the file around it is `crate::snapshot`'s) ----

/// Refusal to read a snapshot part.
#[derive(Debug)]
pub struct PartError(pub String);

impl std::fmt::Display for PartError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

fn bad(what: impl Into<String>) -> PartError {
    PartError(what.into())
}

impl From<std::io::Error> for PartError {
    fn from(e: std::io::Error) -> Self {
        PartError(format!("read: {e}"))
    }
}

/// Reads a snapshot held in [`Shared`] bytes (the mapped file) from `pos`: every read is
/// bounds-checked (`truncated` past the end); arrays are views of the bytes in place.
pub(crate) struct Cursor<'a> {
    pub(crate) src: &'a Shared,
    pub(crate) pos: usize,
}

impl Cursor<'_> {
    pub(crate) fn left(&self) -> usize {
        self.src.bytes().len().saturating_sub(self.pos)
    }
    pub(crate) fn take(&mut self, n: usize) -> Result<&[u8], PartError> {
        if n > self.left() {
            return Err(bad("truncated"));
        }
        let b = &self.src.bytes()[self.pos..self.pos + n];
        self.pos += n;
        Ok(b)
    }
    pub(crate) fn u8(&mut self) -> Result<u8, PartError> {
        Ok(self.take(1)?[0])
    }
    pub(crate) fn u32(&mut self) -> Result<u32, PartError> {
        Ok(u32::from_le_bytes(
            self.take(4)?.try_into().expect("4 bytes"),
        ))
    }
    pub(crate) fn u64(&mut self) -> Result<u64, PartError> {
        Ok(u64::from_le_bytes(
            self.take(8)?.try_into().expect("8 bytes"),
        ))
    }
    fn text(&mut self, max: usize) -> Result<String, PartError> {
        let n = self.u32()? as usize;
        if n > max {
            return Err(bad(format!("a text of {n} bytes")));
        }
        String::from_utf8(self.take(n)?.to_vec()).map_err(|_| bad("a text that is not UTF-8"))
    }
    /// Skips the zeros up to the next multiple of 8 (refusing anything else).
    pub(crate) fn pad8(&mut self) -> Result<(), PartError> {
        let n = self.pos.next_multiple_of(8) - self.pos;
        if self.take(n)?.iter().any(|&b| b != 0) {
            return Err(bad("padding is not zero"));
        }
        Ok(())
    }
    /// `n` values in place, then the padding to 8 bytes.
    fn array<T: Pod>(&mut self, n: usize) -> Result<Buf<T>, PartError> {
        let bytes = n
            .checked_mul(std::mem::size_of::<T>())
            .filter(|&b| b <= self.left())
            .ok_or_else(|| bad("truncated"))?;
        let v = Buf::view(self.src, self.pos, n).ok_or_else(|| bad("truncated"))?;
        self.pos += bytes;
        self.pad8()?;
        Ok(v)
    }
}

/// Writes a snapshot, counting bytes (for the padding) and hashing them while `hash` is set.
pub(crate) struct Out<W> {
    pub(crate) inner: W,
    pub(crate) pos: u64,
    pub(crate) hash: Option<candor_index::format::Xxh64>,
}

impl<W: Write> Out<W> {
    pub(crate) fn put(&mut self, b: &[u8]) -> std::io::Result<()> {
        self.inner.write_all(b)?;
        self.pos += b.len() as u64;
        if let Some(h) = &mut self.hash {
            h.update(b);
        }
        Ok(())
    }
    pub(crate) fn pad8(&mut self) -> std::io::Result<()> {
        let n = self.pos.next_multiple_of(8) - self.pos;
        self.put(&[0u8; 8][..n as usize])
    }
    fn text(&mut self, s: &str) -> std::io::Result<()> {
        self.put(&(s.len() as u32).to_le_bytes())?;
        self.put(s.as_bytes())
    }
}

impl<W: Write> Write for Out<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.put(buf)?;
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

const SLOT_BYTES: usize = 28;

impl Matcher {
    /// The banks and the row table (checksummed by the caller's writer): banks, then (8-byte
    /// aligned) the row count, the row ids, the slots as they are in memory, the text ids.
    pub(crate) fn write_meta<W: Write>(&self, w: &mut Out<W>) -> std::io::Result<()> {
        let mut banks: Vec<_> = self.banks.iter().collect();
        banks.sort_by_key(|b| *b.0);
        w.put(&(banks.len() as u64).to_le_bytes())?;
        for (id, b) in banks {
            w.put(&id.to_le_bytes())?;
            // Bit 0: enabled; bit 1: negative.
            w.put(&[u8::from(b.enabled) | (u8::from(b.negative) << 1)])?;
            w.put(&b.pdq_threshold.to_le_bytes())?;
            w.put(&b.matching_enabled_ratio.to_le_bytes())?;
            w.text(&b.name)?;
            w.text(&b.category)?;
        }
        w.pad8()?;
        let rows = &self.rows;
        w.put(&(rows.count() as u64).to_le_bytes())?;
        let mut buf = Vec::with_capacity(ROW_CHUNK * SLOT_BYTES);
        for chunk in &rows.ids {
            buf.clear();
            for id in chunk.iter() {
                buf.extend_from_slice(&id.to_le_bytes());
            }
            w.put(&buf)?;
        }
        w.pad8()?;
        for chunk in &rows.slots {
            buf.clear();
            for s in chunk.iter() {
                buf.extend_from_slice(&s.public);
                buf.extend_from_slice(&s.entry.to_le_bytes());
                buf.extend_from_slice(&s.content.to_le_bytes());
                buf.extend_from_slice(&[s.kind, s.text, 0, 0]);
            }
            w.put(&buf)?;
        }
        w.pad8()?;
        let mut texts: Vec<_> = rows.texts.iter().collect();
        texts.sort_by_key(|t| *t.0);
        w.put(&(texts.len() as u64).to_le_bytes())?;
        for (row, t) in texts {
            w.put(&row.to_le_bytes())?;
            w.text(t)?;
        }
        w.pad8()
    }

    /// Write the four indexes (PDQ, MD5, SHA-256, SHA-1), each as a `u64` length then its
    /// `candor-index` file (a multiple of 8 bytes, so each starts 8-byte aligned).
    pub(crate) fn write_indexes<W: Write + Seek>(&self, w: &mut W) -> Result<(), PartError> {
        fn part<W: Write + Seek>(
            w: &mut W,
            f: impl FnOnce(&mut W) -> Result<(), candor_index::FormatError>,
        ) -> Result<(), PartError> {
            let at = w.stream_position()?;
            w.write_all(&0u64.to_le_bytes())?;
            f(w).map_err(|e| bad(format!("index: {e}")))?;
            let end = w.stream_position()?;
            w.seek(std::io::SeekFrom::Start(at))?;
            w.write_all(&(end - at - 8).to_le_bytes())?;
            w.seek(std::io::SeekFrom::Start(end))?;
            Ok(())
        }
        part(w, |w| self.pdq.write_to(w).map(|_| ()))?;
        part(w, |w| self.md5.write_to(w).map(|_| ()))?;
        part(w, |w| self.sha256.write_to(w).map(|_| ()))?;
        part(w, |w| self.sha1.write_to(w).map(|_| ()))?;
        Ok(())
    }

    /// Read what [`write_meta`](Self::write_meta) wrote; every count is bounded by the bytes
    /// left, and the row table is used in place (views, in chunks of [`ROW_CHUNK`]).
    pub(crate) fn read_meta(r: &mut Cursor<'_>) -> Result<Matcher, PartError> {
        let mut m = Matcher::default();
        let nbanks = r.u64()?;
        if nbanks > r.left() as u64 / 25 {
            return Err(bad(format!("{nbanks} banks")));
        }
        for _ in 0..nbanks {
            let id = r.u64()? as i64;
            let flags = r.u8()?;
            if flags > 3 {
                return Err(bad(format!("bank flags {flags}")));
            }
            let (enabled, negative) = (flags & 1 != 0, flags & 2 != 0);
            let pdq_threshold = r.u32()?;
            let matching_enabled_ratio = f64::from_le_bytes(r.u64()?.to_le_bytes());
            if !(0.0..=1.0).contains(&matching_enabled_ratio) {
                return Err(bad(format!("bank ratio {matching_enabled_ratio}")));
            }
            let name = r.text(1 << 16)?;
            let category = r.text(1 << 16)?;
            if m.banks
                .insert(
                    id,
                    BankInfo {
                        name,
                        category,
                        enabled,
                        pdq_threshold,
                        negative,
                        matching_enabled_ratio,
                    },
                )
                .is_some()
            {
                return Err(bad(format!("bank {id} twice")));
            }
        }
        r.pad8()?;
        let n = r.u64()?;
        if n > r.left() as u64 / (8 + SLOT_BYTES as u64) {
            return Err(bad(format!("{n} rows")));
        }
        let n = n as usize;
        let ids: Buf<i64> = r.array(n)?;
        if ids.windows(2).any(|w| w[0] >= w[1]) {
            return Err(bad("row ids out of order"));
        }
        let slots: Buf<Slot> = r.array(n)?;
        let mut live = 0;
        for s in slots.iter() {
            if s.text > 1 {
                return Err(bad(format!("row text flag {}", s.text)));
            }
            live += usize::from(s.kind != KIND_REMOVED);
        }
        let ntexts = r.u64()?;
        if ntexts > r.left() as u64 / 12 {
            return Err(bad(format!("{ntexts} text ids")));
        }
        let mut texts = HashMap::new();
        for _ in 0..ntexts {
            let row = r.u64()? as i64;
            texts.insert(row, r.text(1 << 16)?);
        }
        r.pad8()?;
        let mut rows = Rows {
            live,
            texts,
            ..Rows::default()
        };
        for at in (0..n).step_by(ROW_CHUNK) {
            let end = (at + ROW_CHUNK).min(n);
            rows.ids.push(ids.slice(at..end));
            rows.slots.push(slots.slice(at..end));
        }
        m.rows = rows;
        Ok(m)
    }

    /// Read the four indexes [`write_indexes`](Self::write_indexes) wrote, in place, and check
    /// every row against them: its entry exists, is live, and refers back to the row.
    pub(crate) fn read_indexes(&mut self, r: &mut Cursor<'_>) -> Result<(), PartError> {
        fn part<T>(
            r: &mut Cursor<'_>,
            f: impl FnOnce(&Shared, usize, usize) -> Result<T, candor_index::FormatError>,
        ) -> Result<T, PartError> {
            let len = r.u64()?;
            if len > r.left() as u64 {
                return Err(bad(format!("an index of {len} bytes")));
            }
            let start = r.pos;
            let v =
                f(r.src, start, start + len as usize).map_err(|e| bad(format!("index: {e}")))?;
            r.pos += len as usize;
            Ok(v)
        }
        self.pdq = part(r, PdqIndex::from_shared)?;
        self.md5 = part(r, Md5Index::from_shared)?;
        self.sha256 = part(r, Sha256Index::from_shared)?;
        self.sha1 = part(r, Sha1Index::from_shared)?;
        let mut texts = 0;
        for (row, s) in self.rows.iter() {
            if s.kind == KIND_REMOVED {
                continue;
            }
            let id = EntryId(s.entry);
            let (live, r) = match s.kind {
                KIND_PDQ => (!self.pdq.is_removed(id), self.pdq.entry_ref(id)),
                KIND_MD5 => (!self.md5.is_removed(id), self.md5.entry_ref(id)),
                KIND_SHA256 => (!self.sha256.is_removed(id), self.sha256.entry_ref(id)),
                KIND_SHA1 => (!self.sha1.is_removed(id), self.sha1.entry_ref(id)),
                k => return Err(bad(format!("row kind {k}"))),
            };
            if !live || r.map(|r| r.content) != u64::try_from(row).ok() {
                return Err(bad(format!("row {row} does not match its index entry")));
            }
            if s.text != 0 {
                if !self.rows.texts.contains_key(&row) {
                    return Err(bad(format!("row {row} without its public id")));
                }
                texts += 1;
            }
        }
        if texts != self.rows.texts.len() {
            return Err(bad("public ids of rows that are not indexed"));
        }
        let live = self.pdq.len() + self.md5.len() + self.sha1.len() + self.sha256.len();
        if live != self.rows.live {
            return Err(bad(format!(
                "{} rows but {live} live index entries",
                self.rows.live
            )));
        }
        self.refresh_radius();
        Ok(())
    }

    /// Whether the index uses a mapped snapshot's bytes in place.
    pub fn uses_shared_bytes(&self) -> bool {
        self.pdq.uses_shared_bytes() || self.rows.ids.iter().any(|c| c.is_view())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn banks(m: &mut Matcher, second_enabled: bool) {
        for (id, name, enabled, pdq_threshold) in [(1, "a", true, 31), (2, "b", second_enabled, 20)]
        {
            m.set_bank(
                id,
                BankInfo {
                    name: name.into(),
                    category: "STATEMENT_CATEGORY_SCAMS_AND_FRAUD".into(),
                    enabled,
                    pdq_threshold,
                    negative: false,
                    matching_enabled_ratio: 1.0,
                },
            );
        }
    }

    /// A deterministic generator: near-duplicates of a few centres, so queries find many.
    struct Gen(u64);
    impl Gen {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        fn near(&mut self, centres: &[[u8; 32]]) -> [u8; 32] {
            let mut h = centres[self.next() as usize % centres.len()];
            for _ in 0..self.next() % 40 {
                let b = self.next() as usize % 256;
                h[b / 8] ^= 1 << (b % 8);
            }
            h
        }
    }

    type Row = (i64, i64, String, SignalKind, Vec<u8>);

    /// The row table over several chunks: appends, rows inserted below the largest id (into a
    /// middle chunk), removals and re-additions, with a clone taken midway that keeps its own
    /// view (copy on write), all agree with a sorted map.
    #[test]
    fn rows_in_chunks_agree_with_a_map() {
        use std::collections::BTreeMap;
        let mut rows = Rows::default();
        let mut model: BTreeMap<i64, (u32, bool)> = BTreeMap::new();
        let id = |r: i64| format!("{:032x}", r);
        for r in (0..3 * ROW_CHUNK as i64).map(|i| 2 * i + 10) {
            rows.put(r, r, &id(r), KIND_PDQ, r as u32);
            model.insert(r, (r as u32, true));
        }
        assert_eq!(rows.ids.len(), 3);
        let before = rows.clone();
        let model_before = model.clone();
        // Odd ids fall between existing rows of every chunk, and below the first.
        for r in [
            1i64,
            11,
            2 * ROW_CHUNK as i64 + 11,
            5 * ROW_CHUNK as i64 + 3,
        ] {
            rows.put(r, r, "text id", KIND_MD5, 7);
            model.insert(r, (7, true));
        }
        for r in [10i64, 2 * ROW_CHUNK as i64 + 10, 6 * ROW_CHUNK as i64 + 8] {
            assert!(rows.take(r).is_some());
            model.get_mut(&r).unwrap().1 = false;
        }
        assert!(rows.take(10).is_none());
        rows.put(10, 10, &id(10), KIND_PDQ, 99);
        model.insert(10, (99, true));
        let check = |rows: &Rows, model: &BTreeMap<i64, (u32, bool)>| {
            let got: Vec<(i64, u32, bool)> = rows
                .iter()
                .map(|(r, s)| (r, s.entry, s.kind != KIND_REMOVED))
                .collect();
            let want: Vec<(i64, u32, bool)> =
                model.iter().map(|(r, (e, l))| (*r, *e, *l)).collect();
            assert_eq!(got, want);
            assert_eq!(rows.live, model.values().filter(|v| v.1).count());
            for (r, (e, l)) in model {
                assert_eq!(rows.get(*r).map(|s| s.entry), l.then_some(*e), "row {r}");
            }
            assert!(rows.get(0).is_none() && rows.get(12 * ROW_CHUNK as i64).is_none());
        };
        check(&rows, &model);
        check(&before, &model_before);
        assert_eq!(rows.public_id(11, rows.get(11).unwrap()), "text id");
        assert_eq!(rows.public_id(12, rows.get(12).unwrap()), id(12));
    }

    /// `state()` names each row's signal as it was inserted (SHA-1 rows were once reported as
    /// SHA-256), and leaves removed rows out.
    #[test]
    fn state_names_every_signal_kind() {
        let mut m = Matcher::default();
        banks(&mut m, true);
        let kinds = [
            (SignalKind::Pdq, vec![1u8; 32]),
            (SignalKind::Md5, vec![2u8; 16]),
            (SignalKind::Sha1, vec![3u8; 20]),
            (SignalKind::Sha256, vec![4u8; 32]),
        ];
        for (i, (kind, value)) in kinds.iter().enumerate() {
            let row = i as i64 + 1;
            m.insert(row, 1, row, format!("{row:032x}"), *kind, value);
        }
        m.insert(9, 1, 9, format!("{:032x}", 9), SignalKind::Sha1, &[9u8; 20]);
        m.remove(9);
        let (rows, _) = m.state();
        let got: Vec<(i64, SignalKind)> = rows.iter().map(|r| (r.0, r.3)).collect();
        assert_eq!(
            got,
            vec![
                (1, SignalKind::Pdq),
                (2, SignalKind::Md5),
                (3, SignalKind::Sha1),
                (4, SignalKind::Sha256)
            ]
        );
    }

    #[test]
    fn set_layout_says_when_tables_differ_and_compact_converts() {
        let mut g = Gen(42);
        let centre = [7u8; 32];
        let mut m = Matcher::default();
        banks(&mut m, true);
        let rows: Vec<(i64, String, [u8; 32])> = (1..=5000)
            .map(|row| (row, format!("{row:032x}"), g.near(&[centre])))
            .collect();
        m.insert_many(
            1,
            rows.iter()
                .map(|(r, p, h)| (*r, *r, p.as_str(), SignalKind::Pdq, &h[..])),
        );
        assert!(!m.has_pending());
        let q = Query {
            pdq: vec![PdqQuery {
                hash: centre,
                orientation: None,
                trimmed: false,
            }],
            ..Query::default()
        };
        let before = m.find(&q);
        assert!(!before.is_empty());
        // 5,000 entries are laid out split by default.
        assert!(!m.set_layout(None));
        assert!(!m.set_layout(Some(Layout::Split)));
        assert!(m.set_layout(Some(Layout::Compact)));
        m.compact();
        assert!(!m.set_layout(Some(Layout::Compact)));
        assert_eq!(m.find(&q), before);
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 10, ..ProptestConfig::default() })]

        /// `insert_many` (a bulk append per batch, table segments built once per batch) answers
        /// every query exactly as the same rows inserted one by one, with removals between
        /// batches, and holds the same state; so does either after a full compaction.
        #[test]
        fn insert_many_is_repeated_insert(
            seed in 1u64..u64::MAX,
            batches in prop::collection::vec((0usize..7000, 0usize..40), 1..6),
            second_enabled in any::<bool>(),
        ) {
            let mut g = Gen(seed);
            let centres: Vec<[u8; 32]> = (0..6)
                .map(|_| {
                    let mut c = [0u8; 32];
                    for b in c.chunks_mut(8) {
                        b.copy_from_slice(&g.next().to_le_bytes());
                    }
                    c
                })
                .collect();
            let (mut one, mut many) = (Matcher::default(), Matcher::default());
            banks(&mut one, second_enabled);
            banks(&mut many, second_enabled);
            let mut next_row = 1i64;
            for (size, removals) in batches {
                let bank = 1 + (g.next() % 2) as i64;
                let rows: Vec<Row> = (0..size)
                    .map(|i| {
                        let row = next_row + i as i64;
                        let public = if g.next().is_multiple_of(50) {
                            format!("text id {row}")
                        } else {
                            format!("{:032x}", g.next())
                        };
                        let (kind, value) = match g.next() % 20 {
                            0 => (SignalKind::Md5, g.near(&centres)[..16].to_vec()),
                            1 => (SignalKind::Sha256, g.near(&centres).to_vec()),
                            _ => (SignalKind::Pdq, g.near(&centres).to_vec()),
                        };
                        (row, bank, public, kind, value)
                    })
                    .collect();
                next_row += size as i64;
                for (row, bank, public, kind, value) in &rows {
                    one.insert(*row, *bank, *row + 7, public.clone(), *kind, value);
                }
                many.insert_many(
                    bank,
                    rows.iter().map(|(row, _, p, k, v)| (*row, *row + 7, p.as_str(), *k, &v[..])),
                );
                for _ in 0..removals {
                    let row = 1 + (g.next() % next_row as u64) as i64;
                    one.remove(row);
                    many.remove(row);
                }
            }
            prop_assert_eq!(one.state(), many.state());
            let queries: Vec<Query> = (0..30)
                .map(|_| Query {
                    pdq: vec![PdqQuery { hash: g.near(&centres), orientation: None, trimmed: false }],
                    md5: Some(g.near(&centres)[..16].try_into().expect("16 bytes")),
                    sha1: Some(g.near(&centres)[..20].try_into().expect("20 bytes")),
                    sha256: Some(g.near(&centres)),
                })
                .collect();
            for q in &queries {
                prop_assert_eq!(one.find(q), many.find(q));
            }
            many.compact();
            for q in &queries {
                prop_assert_eq!(one.find(q), many.find(q));
            }
        }
    }
}
