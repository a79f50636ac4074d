//! Lists from outside into a bank: the records of a file (`candor import`) or of an exchange's
//! page, applied in one write job through the bank import path ([`super::banks::write_import`]:
//! one content, salt and log entry per signal) and the retraction flow
//! ([`super::banks::change_content_in`]: a source's deletion is a logged retraction). An
//! exchange's new checkpoint is stored in the same job, so what the bank holds and where the
//! exchange resumes never disagree.

use std::collections::HashSet;
use std::sync::Arc;

use candor_formats::Record;
use candor_log::entry::ContentOp;
use candor_store::banks as bank_store;
use candor_store::exchanges as store;

use super::banks::{change_content_in, write_import, ImportCommon, ImportLine};
use crate::error::{ApiError, ApiResult};
use crate::matcher::SignalKind;
use crate::{now_rfc3339, App};

/// How to apply a list.
#[derive(Debug, Clone)]
pub struct ApplyOptions {
    /// Who: `import:<file>` or `exchange:<name>` (the contents' `created_by`).
    pub who: String,
    /// The retraction reason of a source's deletion.
    pub reason: String,
    /// Skip a record whose signal the bank already holds live (an exchange re-reading a page).
    pub dedupe: bool,
    /// An exchange: its name and the checkpoint to store with this page's changes.
    pub exchange: Option<(String, String)>,
    /// Records carrying a source id list every signal of that entry: the signals the bank
    /// holds for the id that the list no longer carries are retracted (an NCMEC entry re-sent
    /// with changed fingerprints).
    pub replace_by_id: bool,
    /// Records the source sent that could not be read (counted as skipped).
    pub malformed: u64,
}

/// What applying a list did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Applied {
    pub records: u64,
    pub added: u64,
    pub retracted: u64,
    /// Signal types Candor does not have, duplicates, deletions of what the bank does not hold.
    pub skipped: u64,
    pub first_log_index: Option<u64>,
    pub last_log_index: Option<u64>,
}

enum Step {
    Add(ImportLine, Option<String>),
    Delete(Record),
}

/// A source's deletion: a logged retraction of `content`.
async fn retract(
    ctx: &mut candor_store::WriteCtx,
    a: &Arc<App>,
    bank: &str,
    content: &str,
    reason: &str,
    now: &str,
) -> Result<(), candor_store::StoreError> {
    let reason = Some(reason.to_string());
    change_content_in(ctx, a, bank, content, ContentOp::Retract, reason, now).await
}

/// Apply `records` (already parsed whole: a malformed file never gets here) to bank `bank`
/// in one write job: additions through the import path, deletions as retractions.
pub async fn apply(
    app: &Arc<App>,
    bank: &str,
    records: Vec<Record>,
    opts: ApplyOptions,
) -> ApiResult<Applied> {
    let b = bank_store::find_bank(app.store.reader(), bank)
        .await?
        .ok_or_else(|| ApiError::not_found("bank_not_found", format!("no bank {bank:?}")))?;
    let mut out = Applied {
        records: records.len() as u64 + opts.malformed,
        skipped: opts.malformed,
        ..Applied::default()
    };
    // replace_by_id: each source id's signals in this list.
    let mut by_id: std::collections::HashMap<String, Vec<(SignalKind, Vec<u8>)>> =
        std::collections::HashMap::new();
    if opts.replace_by_id {
        for r in records.iter().filter(|r| !r.deleted) {
            if let Some(id) = &r.source_id {
                let e = by_id.entry(id.clone()).or_default();
                if let Some(sig) = &r.signal {
                    e.push(sig.clone());
                }
            }
        }
    }
    let mut steps = Vec::with_capacity(records.len());
    for r in records {
        match (&r.signal, r.deleted) {
            (_, true) => steps.push(Step::Delete(r)),
            (Some((kind, value)), false) => {
                let line = ImportLine::new(*kind, value);
                steps.push(Step::Add(line, r.source_id.map(|id| format!("id:{id}"))));
            }
            (None, false) => out.skipped += 1,
        }
    }
    let common = ImportCommon {
        bank: b.name.clone(),
        category: b.category.clone(),
        provenance: b.provenance.clone(),
        now: now_rfc3339(),
    };
    let a = app.clone();
    let bank_id = b.id;
    let out = app
        .store
        .write(move |ctx| {
            Box::pin(async move {
                let mut out = out;
                let now = common.now.clone();
                let mut adds: Vec<(ImportLine, Option<String>)> = Vec::new();
                // Signals added by this page (a page may list one twice).
                let mut seen: HashSet<(SignalKind, [u8; 32])> = HashSet::new();
                // Entries re-sent: what the bank holds for them and they no longer carry.
                let mut ids: Vec<_> = by_id.into_iter().collect();
                ids.sort_by(|x, y| x.0.cmp(&y.0));
                for (id, signals) in ids {
                    let key = format!("id:{id}");
                    for (content, signal, value) in
                        store::source_signals(&mut ctx.conn, bank_id, &key).await?
                    {
                        let kept = signals
                            .iter()
                            .any(|(k, v)| k.as_str() == signal && v == &value);
                        if !kept {
                            retract(ctx, &a, &common.bank, &content, &opts.reason, &now).await?;
                            out.retracted += 1;
                        }
                    }
                }
                for step in steps {
                    match step {
                        Step::Add(line, key) => {
                            if opts.dedupe {
                                let dup = !seen.insert((line.kind, line.value))
                                    || !store::contents_with_signal(
                                        &mut ctx.conn,
                                        bank_id,
                                        line.kind,
                                        line.value(),
                                    )
                                    .await?
                                    .is_empty();
                                if dup {
                                    out.skipped += 1;
                                    continue;
                                }
                            }
                            adds.push((line, key));
                        }
                        Step::Delete(r) => {
                            // An addition earlier in this list is undone before it is written.
                            let before = adds.len();
                            adds.retain(|(l, key)| {
                                let same_value = r
                                    .signal
                                    .as_ref()
                                    .is_some_and(|(k, v)| l.kind == *k && l.value() == &v[..]);
                                let same_id = r.source_id.as_ref().is_some_and(|id| {
                                    key.as_deref() == Some(format!("id:{id}").as_str())
                                });
                                !(same_value || same_id)
                            });
                            if let Some((k, v)) = &r.signal {
                                let mut fixed = [0u8; 32];
                                fixed[..v.len()].copy_from_slice(v);
                                seen.remove(&(*k, fixed));
                            }
                            let mut targets = Vec::new();
                            if let Some(id) = &r.source_id {
                                targets.extend(
                                    store::contents_of_source(
                                        &mut ctx.conn,
                                        bank_id,
                                        &format!("id:{id}"),
                                    )
                                    .await?,
                                );
                            }
                            if let Some((k, v)) = &r.signal {
                                targets.extend(
                                    store::contents_with_signal(&mut ctx.conn, bank_id, *k, v)
                                        .await?,
                                );
                            }
                            targets.sort();
                            targets.dedup();
                            if targets.is_empty() && adds.len() == before {
                                out.skipped += 1;
                            }
                            for content in targets {
                                retract(ctx, &a, &common.bank, &content, &opts.reason, &now)
                                    .await?;
                                out.retracted += 1;
                            }
                        }
                    }
                }
                if !adds.is_empty() {
                    let lines: Vec<ImportLine> = adds.iter().map(|(l, _)| *l).collect();
                    let written =
                        write_import(ctx, &a, bank_id, &common, &opts.who, Arc::new(lines)).await?;
                    let items: Vec<(String, i64)> = (adds.into_iter().enumerate())
                        .filter_map(|(i, (_, key))| {
                            key.map(|k| (k, written.first_content + i as i64))
                        })
                        .collect();
                    store::add_source_items(&mut ctx.conn, bank_id, &items).await?;
                    out.added = (written.last_log_index - written.first_log_index) + 1;
                    out.first_log_index = Some(written.first_log_index);
                    out.last_log_index = Some(written.last_log_index);
                }
                if let Some((name, checkpoint)) = &opts.exchange {
                    store::record_page(
                        &mut ctx.conn,
                        name,
                        checkpoint,
                        store::PageCounts {
                            fetched: out.records as i64,
                            added: out.added as i64,
                            retracted: out.retracted as i64,
                            skipped: out.skipped as i64,
                        },
                        &now,
                    )
                    .await?;
                }
                Ok(out)
            })
        })
        .await?;
    Ok(out)
}
