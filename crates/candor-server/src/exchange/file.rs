//! A local list file in any `candor-formats` format (`lines`, `hma-csv`, `stopncii`, `tcap`,
//! `ncmec`), read whole as one page like `candor import` (a malformed record fails the sync
//! with its line or record number, and nothing is applied). Checkpoint: `sha256:<hex>` of the
//! file applied; a sync of an unchanged file is a no-op. A changed file is applied again:
//! what it lists is added unless the bank holds it (deduplicated), the deletions its format
//! carries are retracted. A line removed from a `lines` or `hma-csv` file is not retracted
//! (those formats have no deletions; use a format that does, or retract it).

use std::path::PathBuf;

use candor_formats::{records, Format};
use sha2::{Digest, Sha256};

use super::{ExchangeConfig, Page, Source, SourceError};

pub struct LocalFile {
    path: PathBuf,
    format: Format,
    max_bytes: u64,
}

impl LocalFile {
    pub fn new(cfg: &ExchangeConfig) -> Result<Self, SourceError> {
        let name = cfg.format.as_deref().unwrap_or("lines");
        Ok(LocalFile {
            path: cfg.path.clone().unwrap_or_default(),
            format: Format::parse(name)
                .ok_or_else(|| SourceError::config(format!("unknown format {name:?}")))?,
            max_bytes: cfg.max_response_bytes,
        })
    }
}

impl Source for LocalFile {
    fn fetch(&mut self, checkpoint: &str) -> Result<Page, SourceError> {
        let what = self.path.display().to_string();
        let f = std::fs::File::open(&self.path).map_err(|e| SourceError {
            kind: "unreachable",
            message: format!("{what}: {e}"),
        })?;
        let bytes = crate::fetch::read_at_most(f, self.max_bytes)
            .map_err(|e| SourceError {
                kind: "unreachable",
                message: format!("{what}: {e}"),
            })?
            .ok_or_else(|| SourceError {
                kind: "too_large",
                message: format!(
                    "{what}: larger than max_response_bytes ({})",
                    self.max_bytes
                ),
            })?;
        let sum = format!("sha256:{}", hex::encode(Sha256::digest(&bytes)));
        if sum == checkpoint {
            return Ok(Page {
                checkpoint: sum,
                ..Page::default()
            });
        }
        let recs = records(self.format, std::io::Cursor::new(&bytes))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| SourceError::malformed(format!("{what}: {e} (nothing was applied)")))?;
        Ok(Page {
            records: recs,
            checkpoint: sum,
            replace_by_id: self.format == Format::Ncmec,
            ..Page::default()
        })
    }
}
