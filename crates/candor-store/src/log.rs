//! Reading the transparency log back from the database: entries, stored hashes, tiles and
//! inclusion proofs. The maths is `candor-log`'s; this module only fetches the hashes it asks
//! for (first a dry run records which stored hashes are needed, then one query fetches them).

use std::cell::RefCell;
use std::collections::HashMap;

use candor_log::stored::prove_inclusion;
use candor_log::tile::read_tile_data;
use candor_log::{Hash, HashReader, LogError, ProofFile, Tile};
use sqlx::Row;

use crate::{Result, Store, StoreError};

/// Records the indexes a computation reads (answering with zero hashes).
struct Recorder(RefCell<Vec<u64>>);

impl HashReader for Recorder {
    fn read_hashes(&self, indexes: &[u64]) -> std::result::Result<Vec<Hash>, LogError> {
        self.0.borrow_mut().extend_from_slice(indexes);
        Ok(vec![[0u8; 32]; indexes.len()])
    }
}

/// Answers from hashes fetched beforehand.
struct Fetched(HashMap<u64, Hash>);

impl HashReader for Fetched {
    fn read_hashes(&self, indexes: &[u64]) -> std::result::Result<Vec<Hash>, LogError> {
        indexes
            .iter()
            .map(|i| {
                self.0
                    .get(i)
                    .copied()
                    .ok_or_else(|| LogError::Storage(format!("stored hash {i} not found")))
            })
            .collect()
    }
}

impl Store {
    /// Run a `candor-log` computation over the stored hashes.
    async fn with_hashes<T>(
        &self,
        f: impl Fn(&dyn HashReader) -> Result<T, LogError>,
    ) -> Result<T> {
        let rec = Recorder(RefCell::new(Vec::new()));
        // The dry run may fail on zero hashes only where it compares them; its reads are what
        // matter, so its result is ignored.
        let _ = f(&rec);
        let mut wanted = rec.0.into_inner();
        wanted.sort_unstable();
        wanted.dedup();
        let mut map = HashMap::with_capacity(wanted.len());
        for chunk in wanted.chunks(500) {
            let placeholders = vec!["?"; chunk.len()].join(",");
            let sql = format!("SELECT idx, hash FROM log_hashes WHERE idx IN ({placeholders})");
            let sql = crate::numbered(&sql);
            let mut q = sqlx::query(&sql);
            for i in chunk {
                q = q.bind(*i as i64);
            }
            for row in q.fetch_all(self.reader()).await? {
                let idx: i64 = row.get(0);
                let bytes: Vec<u8> = row.get(1);
                let h: Hash = bytes
                    .try_into()
                    .map_err(|_| StoreError::Corrupt(format!("stored hash {idx} malformed")))?;
                map.insert(idx as u64, h);
            }
        }
        Ok(f(&Fetched(map))?)
    }

    /// The tree hash at `size` from the stored hashes (no bounds check; see
    /// [`Store::tree_hash`]).
    pub(crate) async fn root_at(&self, size: u64) -> Result<Hash> {
        self.with_hashes(|r| candor_log::stored::tree_hash(size, r))
            .await
    }

    /// The data of a tile (hashes concatenated), if the tile lies within the latest checkpoint.
    pub async fn log_tile(&self, tile: Tile) -> Result<Option<Vec<u8>>> {
        let size = self.checkpoint().checkpoint.size;
        if !tile_within(&tile, size) {
            return Ok(None);
        }
        Ok(Some(self.with_hashes(|r| read_tile_data(&tile, r)).await?))
    }

    /// Entries `[start, start + count)`, in order (fewer if the log is shorter).
    pub async fn log_entries(&self, start: u64, count: u64) -> Result<Vec<Vec<u8>>> {
        let rows = sqlx::query(&crate::numbered(
            "SELECT data FROM log_entries WHERE idx >= ? AND idx < ? ORDER BY idx",
        ))
        .bind(start as i64)
        .bind(start.saturating_add(count).min(i64::MAX as u64) as i64)
        .fetch_all(self.reader())
        .await?;
        Ok(rows.into_iter().map(|r| r.get::<Vec<u8>, _>(0)).collect())
    }

    /// One entry.
    pub async fn log_entry(&self, index: u64) -> Result<Option<Vec<u8>>> {
        Ok(sqlx::query_scalar(&crate::numbered(
            "SELECT data FROM log_entries WHERE idx = ?",
        ))
        .bind(index as i64)
        .fetch_optional(self.reader())
        .await?)
    }

    /// A c2sp tlog-proof file for entry `index` (entry bytes in `extra`) against the latest
    /// checkpoint; `None` if the entry is not yet covered by it.
    pub async fn log_proof(&self, index: u64) -> Result<Option<String>> {
        let signed = self.checkpoint();
        let size = signed.checkpoint.size;
        if index >= size {
            return Ok(None);
        }
        let Some(entry) = self.log_entry(index).await? else {
            return Ok(None);
        };
        let proof = self
            .with_hashes(|r| prove_inclusion(size, index, r))
            .await?;
        Ok(Some(
            ProofFile {
                extra: Some(entry),
                index,
                proof,
                checkpoint: signed.note,
            }
            .encode(),
        ))
    }
}

/// Whether `tile` (with its width) is part of the tree of `size` leaves: the tile must not
/// claim hashes beyond the tree (a partial tile is a prefix of the full one, so any width up
/// to what the tree has is served).
fn tile_within(tile: &Tile, size: u64) -> bool {
    let shift = 8 * u32::from(tile.level);
    if shift >= 64 {
        return false;
    }
    let at_level = size >> shift;
    let start = tile.index.saturating_mul(256);
    if start >= at_level {
        return false;
    }
    let width = (at_level - start).min(256);
    u64::from(tile.width) <= width
}
