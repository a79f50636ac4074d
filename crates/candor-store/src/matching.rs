//! What the in-memory match index reads: the banks, every live signal row (a full rebuild),
//! the rows of given contents or of one bank (catching a snapshot up with the log), and the
//! log's tree hash at a size (to check that a snapshot belongs to this database).
//!
//! A signal row is *live* when its content is enabled and not retracted; its bank's own
//! `enabled` flag is applied at match time, not here.

use candor_log::Hash;
use sqlx::Row;

use crate::{Result, Store, StoreError};

/// A bank as matching sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct MatchBank {
    pub id: i64,
    pub name: String,
    pub category: String,
    pub enabled: bool,
    pub pdq_threshold: u32,
    /// A negative bank (its matches suppress the other banks').
    pub negative: bool,
    /// HMA's `matching_enabled_ratio`.
    pub matching_enabled_ratio: f64,
}

/// One `content_signals` row with what matching needs of its content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MatchRow {
    /// `content_signals.id`.
    pub row: i64,
    pub bank_id: i64,
    /// `bank_content.id`.
    pub content_row: i64,
    pub public_id: String,
    /// `pdq`, `md5` or `sha256`.
    pub signal: String,
    pub value: Vec<u8>,
    /// Content enabled and not retracted.
    pub live: bool,
}

const ROW_COLUMNS: &str = "s.id, c.bank_id, c.public_id, s.signal, s.value, \
     CASE WHEN c.enabled = 1 AND c.retracted_at IS NULL THEN 1 ELSE 0 END AS live, c.id";

fn match_row(r: &sqlx::any::AnyRow) -> MatchRow {
    MatchRow {
        row: r.get(0),
        bank_id: r.get(1),
        public_id: r.get(2),
        signal: r.get(3),
        value: r.get(4),
        live: r.get::<i64, _>(5) != 0,
        content_row: r.get(6),
    }
}

impl Store {
    /// Every bank.
    pub async fn match_banks(&self) -> Result<Vec<MatchBank>> {
        let rows = sqlx::query(&crate::numbered(
            "SELECT id, name, category, enabled, pdq_threshold, negative, matching_enabled_ratio \
             FROM banks ORDER BY id",
        ))
        .fetch_all(self.reader())
        .await?;
        Ok(rows
            .iter()
            .map(|b| MatchBank {
                id: b.get(0),
                name: b.get(1),
                category: b.get(2),
                enabled: b.get::<i64, _>(3) != 0,
                pdq_threshold: u32::try_from(b.get::<i64, _>(4)).unwrap_or(u32::MAX),
                negative: b.get::<i64, _>(5) != 0,
                matching_enabled_ratio: b.get(6),
            })
            .collect())
    }

    /// How many live signal rows there are (to size the index before a rebuild).
    pub async fn live_signal_count(&self) -> Result<u64> {
        let n: i64 = sqlx::query_scalar(&crate::numbered(
            "SELECT COUNT(*) FROM content_signals s JOIN bank_content c ON c.id = s.content_id \
             WHERE c.enabled = 1 AND c.retracted_at IS NULL",
        ))
        .fetch_one(self.reader())
        .await?;
        Ok(n.max(0) as u64)
    }

    /// Every live signal row in row order, streamed (one row at a time, never the whole
    /// table in memory): `f(row, bank_id, content row, public_id, signal, value)`.
    pub async fn for_each_live_signal(
        &self,
        mut f: impl FnMut(i64, i64, i64, &str, &str, &[u8]) + Send,
    ) -> Result<()> {
        let mut rows = sqlx::query(
            "SELECT s.id, c.bank_id, c.public_id, s.signal, s.value, c.id FROM content_signals s \
             JOIN bank_content c ON c.id = s.content_id \
             WHERE c.enabled = 1 AND c.retracted_at IS NULL ORDER BY s.id",
        )
        .fetch(self.reader());
        while let Some(r) = futures::TryStreamExt::try_next(&mut rows).await? {
            f(
                r.get(0),
                r.get(1),
                r.get(5),
                r.get::<&str, _>(2),
                r.get::<&str, _>(3),
                r.get::<&[u8], _>(4),
            );
        }
        Ok(())
    }

    /// The signal rows of the contents with these public ids, live or not, in row order.
    /// Unknown ids are skipped.
    pub async fn signals_of_contents(&self, public_ids: &[String]) -> Result<Vec<MatchRow>> {
        let mut out = Vec::new();
        for chunk in public_ids.chunks(500) {
            let placeholders = vec!["?"; chunk.len()].join(",");
            let sql = format!(
                "SELECT {ROW_COLUMNS} FROM content_signals s JOIN bank_content c ON c.id = s.content_id \
                 WHERE c.public_id IN ({placeholders})"
            );
            // SQLite: anonymous `?` (it finds a named `$n` by a linear scan of the statement's
            // names, quadratic over 500 of them); PostgreSQL needs `$n`.
            let sql = match self.backend() {
                crate::Backend::Sqlite => sql,
                crate::Backend::Postgres => crate::numbered(&sql),
            };
            let mut q = sqlx::query(&sql);
            for id in chunk {
                q = q.bind(id);
            }
            out.extend(q.fetch_all(self.reader()).await?.iter().map(match_row));
        }
        out.sort_by_key(|r| r.row);
        Ok(out)
    }

    /// The signal rows of one bank, live or not, in row order.
    pub async fn signals_of_bank(&self, bank_id: i64) -> Result<Vec<MatchRow>> {
        let sql = format!(
            "SELECT {ROW_COLUMNS} FROM content_signals s JOIN bank_content c ON c.id = s.content_id \
             WHERE c.bank_id = ? ORDER BY s.id"
        );
        let rows = sqlx::query(&crate::numbered(&sql))
            .bind(bank_id)
            .fetch_all(self.reader())
            .await?;
        Ok(rows.iter().map(match_row).collect())
    }

    /// The root of the log's tree at `size` (at most the latest checkpoint's size).
    pub async fn tree_hash(&self, size: u64) -> Result<Hash> {
        let latest = self.checkpoint().checkpoint.size;
        if size > latest {
            return Err(StoreError::Rejected(format!(
                "tree size {size} is beyond the log ({latest} entries)"
            )));
        }
        self.root_at(size).await
    }
}
