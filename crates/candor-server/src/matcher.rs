//! The in-memory match index over every bank: PDQ (multi-index hashing, exact within each
//! bank's threshold), MD5 and SHA-256 by lookup. Loaded from the store at start; every bank
//! change is applied right after its transaction commits, so it matches (or stops matching)
//! before the request that made it is answered.

use std::collections::HashMap;

use candor_index::{EntryId, EntryRef, Hash256, Md5Index, PdqIndex, Sha256Index};
use serde::Serialize;
use sqlx::Row;

/// What the index needs to know about a bank.
#[derive(Debug, Clone)]
pub struct BankInfo {
    pub name: String,
    pub category: String,
    pub enabled: bool,
    pub pdq_threshold: u32,
}

/// One indexed signal (a row of `content_signals`).
#[derive(Debug, Clone)]
struct SignalMeta {
    bank_id: i64,
    content_public_id: String,
    kind: SignalKind,
    entry: EntryId,
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
}

#[derive(Default)]
pub struct Matcher {
    banks: HashMap<i64, BankInfo>,
    pdq: PdqIndex,
    md5: Md5Index,
    sha256: Sha256Index,
    signals: HashMap<i64, SignalMeta>,
    /// Largest threshold of an enabled bank: the search radius.
    radius: u32,
}

impl Matcher {
    /// Load every enabled, unretracted signal from the store.
    pub async fn load(pool: &sqlx::SqlitePool) -> Result<Matcher, sqlx::Error> {
        let mut m = Matcher::default();
        let banks = sqlx::query("SELECT id, name, category, enabled, pdq_threshold FROM banks")
            .fetch_all(pool)
            .await?;
        for b in banks {
            m.banks.insert(
                b.get(0),
                BankInfo {
                    name: b.get(1),
                    category: b.get(2),
                    enabled: b.get::<i64, _>(3) != 0,
                    pdq_threshold: b.get::<i64, _>(4) as u32,
                },
            );
        }
        // Streamed (one row at a time, not the whole table in memory) and without the
        // incremental compactions of `insert`: one compaction at the end.
        let mut rows = sqlx::query(
            "SELECT s.id, c.bank_id, c.public_id, s.signal, s.value FROM content_signals s \
             JOIN bank_content c ON c.id = s.content_id \
             WHERE c.enabled = 1 AND c.retracted_at IS NULL ORDER BY s.id",
        )
        .fetch(pool);
        while let Some(r) = futures::TryStreamExt::try_next(&mut rows).await? {
            let kind = SignalKind::parse(r.get::<&str, _>(3)).unwrap_or(SignalKind::Sha256);
            m.insert_row(r.get(0), r.get(1), r.get(2), kind, r.get::<&[u8], _>(4));
        }
        drop(rows);
        m.pdq.compact();
        m.md5.compact();
        m.sha256.compact();
        m.refresh_radius();
        Ok(m)
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

    /// Forget a bank and every signal of it.
    pub fn remove_bank(&mut self, id: i64) {
        self.banks.remove(&id);
        let rows: Vec<i64> = self
            .signals
            .iter()
            .filter(|(_, s)| s.bank_id == id)
            .map(|(k, _)| *k)
            .collect();
        for r in rows {
            self.remove(r);
        }
        self.refresh_radius();
    }

    /// Index one signal row; it matches at once. Compacts the PDQ index when enough entries are
    /// pending (under the caller's write lock: lookups wait for it).
    pub fn insert(
        &mut self,
        row: i64,
        bank_id: i64,
        public_id: String,
        kind: SignalKind,
        value: &[u8],
    ) {
        self.insert_row(row, bank_id, public_id, kind, value);
        if self.pdq.needs_compaction() {
            self.pdq.compact();
        }
    }

    fn insert_row(
        &mut self,
        row: i64,
        bank_id: i64,
        public_id: String,
        kind: SignalKind,
        value: &[u8],
    ) {
        if self.signals.contains_key(&row) {
            return;
        }
        let r = EntryRef {
            bank: bank_id as u32,
            content: row as u64,
        };
        let entry = match kind {
            SignalKind::Pdq => match <[u8; 32]>::try_from(value) {
                Ok(v) => self.pdq.insert(Hash256::from_bytes(v), r),
                Err(_) => return,
            },
            SignalKind::Md5 => match <[u8; 16]>::try_from(value) {
                Ok(v) => self.md5.insert(v, r),
                Err(_) => return,
            },
            SignalKind::Sha256 => match <[u8; 32]>::try_from(value) {
                Ok(v) => self.sha256.insert(v, r),
                Err(_) => return,
            },
        };
        self.signals.insert(
            row,
            SignalMeta {
                bank_id,
                content_public_id: public_id,
                kind,
                entry,
            },
        );
    }

    /// Stop matching one signal row at once.
    pub fn remove(&mut self, row: i64) {
        if let Some(s) = self.signals.remove(&row) {
            match s.kind {
                SignalKind::Pdq => self.pdq.remove(s.entry),
                SignalKind::Md5 => self.md5.remove(s.entry),
                SignalKind::Sha256 => self.sha256.remove(s.entry),
            };
        }
    }

    /// Indexed signals by kind.
    pub fn counts(&self) -> [(SignalKind, usize); 3] {
        [
            (SignalKind::Pdq, self.pdq.len()),
            (SignalKind::Md5, self.md5.len()),
            (SignalKind::Sha256, self.sha256.len()),
        ]
    }

    /// Number of indexed signals.
    pub fn len(&self) -> usize {
        self.signals.len()
    }

    pub fn is_empty(&self) -> bool {
        self.signals.is_empty()
    }

    /// Every match of `q` in enabled banks, best first, one per (bank content, signal).
    pub fn find(&self, q: &Query) -> Vec<Found> {
        let mut best: HashMap<(i64, SignalKind), Found> = HashMap::new();
        let mut consider = |entry_ref: Option<EntryRef>,
                            kind: SignalKind,
                            distance: u32,
                            pq: Option<&PdqQuery>| {
            let Some(r) = entry_ref else { return };
            let row = r.content as i64;
            let Some(meta) = self.signals.get(&row) else {
                return;
            };
            let Some(bank) = self.banks.get(&meta.bank_id) else {
                return;
            };
            if !bank.enabled || (kind == SignalKind::Pdq && distance > bank.pdq_threshold) {
                return;
            }
            let found = Found {
                bank: bank.name.clone(),
                bank_category: bank.category.clone(),
                content_id: meta.content_public_id.clone(),
                signal: kind.as_str(),
                distance,
                orientation: pq.and_then(|p| p.orientation),
                trimmed: pq.is_some_and(|p| p.trimmed),
            };
            match best.get(&(row, kind)) {
                Some(b) if b.distance <= distance => {}
                _ => {
                    best.insert((row, kind), found);
                }
            }
        };
        if let Some(md5) = &q.md5 {
            for id in self.md5.get(md5) {
                consider(self.md5.entry_ref(id), SignalKind::Md5, 0, None);
            }
        }
        if let Some(sha) = &q.sha256 {
            for id in self.sha256.get(sha) {
                consider(self.sha256.entry_ref(id), SignalKind::Sha256, 0, None);
            }
        }
        if self.radius > 0 || self.banks.values().any(|b| b.enabled) {
            for pq in &q.pdq {
                let h = Hash256::from_bytes(pq.hash);
                for m in self.pdq.search(&h, self.radius) {
                    consider(
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
