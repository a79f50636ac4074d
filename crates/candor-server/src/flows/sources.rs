//! Lists from outside into a bank: the records of a file (`candor import`, streamed) or of an
//! exchange's page, applied in one write job through the bank import path
//! ([`super::banks::ImportWriter`]: one content, salt and log entry per signal, written a chunk
//! at a time) and the retraction flow ([`super::banks::change_content_in`]: a source's
//! deletion is a logged retraction). An exchange's new checkpoint is stored in the same job, so
//! what the bank holds and where the exchange resumes never disagree.
//!
//! A list is read twice: once to check it and note what the job must know of the whole list
//! before its first record is written ([`ListPlan`]: where each deletion is, and with
//! `replace_by_id` each source id's signals), then record by record inside the job
//! ([`Records`]), so a file of any size is applied in bounded memory and in one transaction.

use std::collections::HashSet;
use std::sync::Arc;

use candor_formats::Record;
use candor_log::entry::ContentOp;
use candor_store::banks as bank_store;
use candor_store::exchanges as store;
use candor_store::StoreError;
use sha2::{Digest, Sha256};

use super::banks::IMPORT_CHUNK;
use super::banks::{change_content_in, ChunkWritten, ImportCommon, ImportLine, ImportWriter};
use crate::error::{ApiError, ApiResult};
use crate::matcher::SignalKind;
use crate::{now_rfc3339, App};

/// The checkpoints of an exchange's page: fetched `after` one, leading to `checkpoint`.
#[derive(Debug, Clone)]
pub struct ExchangePage {
    pub exchange: String,
    pub after: String,
    pub checkpoint: String,
}

/// How a page is refused when its exchange was synced elsewhere meanwhile (the start of the
/// job's error text; [`apply_stream`] answers it as 409 `sync_running`).
const SYNCED_ELSEWHERE: &str = "synced elsewhere meanwhile";

/// How to apply a list.
#[derive(Debug, Clone)]
pub struct ApplyOptions {
    /// Who: `import:<file>` or `exchange:<name>` (the contents' `created_by`).
    pub who: String,
    /// The retraction reason of a source's deletion.
    pub reason: String,
    /// Skip a record whose signal the bank already holds live (an exchange re-reading a page).
    pub dedupe: bool,
    /// An exchange's page: stored with this page's changes, if the exchange's checkpoint is
    /// still the one the page was fetched after.
    pub exchange: Option<ExchangePage>,
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
    /// The log indexes of the first and last addition (a list's retractions may lie between).
    pub first_log_index: Option<u64>,
    pub last_log_index: Option<u64>,
}

/// What applying a list must know of the whole list before its first record is written, noted
/// record by record in a first read ([`ListPlan::note`]): where each deletion is (an addition
/// earlier in the list than a deletion of its signal or of its source id is undone before it
/// is written) and, with `replace_by_id`, each source id's signals. 40 bytes per deletion;
/// nothing per addition but with `replace_by_id` (exchange pages).
#[derive(Debug, Default)]
pub struct ListPlan {
    replace_by_id: bool,
    records: u64,
    /// (key, position in the list) of every deletion, sorted before use.
    deletions: Vec<([u8; 32], u64)>,
    by_id: std::collections::HashMap<String, Vec<(SignalKind, Vec<u8>)>>,
}

/// A deletion's or an addition's key: its signal, or its source id.
fn signal_key(kind: SignalKind, value: &[u8]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(b"signal\0");
    h.update(kind.as_str().as_bytes());
    h.update(b"\0");
    h.update(value);
    h.finalize().into()
}

fn id_key(id: &str) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(b"id\0");
    h.update(id.as_bytes());
    h.finalize().into()
}

impl ListPlan {
    pub fn new(replace_by_id: bool) -> ListPlan {
        ListPlan {
            replace_by_id,
            ..ListPlan::default()
        }
    }

    /// The plan of a list in memory.
    pub fn of(records: &[Record], replace_by_id: bool) -> ListPlan {
        let mut plan = ListPlan::new(replace_by_id);
        for r in records {
            plan.note(r);
        }
        plan
    }

    /// Note the list's next record.
    pub fn note(&mut self, r: &Record) {
        let pos = self.records;
        self.records += 1;
        if r.deleted {
            if let Some((kind, value)) = &r.signal {
                self.deletions.push((signal_key(*kind, value), pos));
            }
            if let Some(id) = &r.source_id {
                self.deletions.push((id_key(id), pos));
            }
        } else if self.replace_by_id {
            if let Some(id) = &r.source_id {
                let e = self.by_id.entry(id.clone()).or_default();
                if let Some(sig) = &r.signal {
                    e.push(sig.clone());
                }
            }
        }
    }

    /// Records noted.
    pub fn records(&self) -> u64 {
        self.records
    }

    /// The position of the first deletion after `pos` of `key`.
    fn first_after(&self, key: &[u8; 32], pos: u64) -> Option<u64> {
        let i = (self.deletions).partition_point(|(k, p)| (k, *p) <= (key, pos));
        (self.deletions.get(i))
            .filter(|(k, _)| k == key)
            .map(|(_, p)| *p)
    }

    /// The deletion later in the list that undoes the addition at `pos`, the first one if
    /// several do.
    fn undone(&self, pos: u64, line: &ImportLine, id: Option<&str>) -> Option<u64> {
        if self.deletions.is_empty() {
            return None;
        }
        let by_value = self.first_after(&signal_key(line.kind, line.value()), pos);
        let by_id = id.and_then(|id| self.first_after(&id_key(id), pos));
        by_value.into_iter().chain(by_id).min()
    }
}

/// A list's records in order: in memory (an exchange's page), or batches another thread
/// reads from a file (`candor import`), ended early by the error that stopped it (the file
/// changed or could not be read: the job fails and nothing is written).
pub enum Records {
    List(std::vec::IntoIter<Record>),
    Stream {
        rx: tokio::sync::mpsc::Receiver<Result<Vec<Record>, String>>,
        batch: std::vec::IntoIter<Record>,
    },
}

impl Records {
    pub fn stream(rx: tokio::sync::mpsc::Receiver<Result<Vec<Record>, String>>) -> Records {
        Records::Stream {
            rx,
            batch: Vec::new().into_iter(),
        }
    }

    async fn next(&mut self) -> Result<Option<Record>, StoreError> {
        match self {
            Records::List(it) => Ok(it.next()),
            Records::Stream { rx, batch } => loop {
                if let Some(r) = batch.next() {
                    return Ok(Some(r));
                }
                match rx.recv().await {
                    Some(Ok(b)) => *batch = b.into_iter(),
                    Some(Err(e)) => return Err(StoreError::Rejected(e)),
                    None => return Ok(None),
                }
            },
        }
    }
}

/// A source's deletion: a logged retraction of `content`.
async fn retract(
    ctx: &mut candor_store::WriteCtx,
    a: &Arc<App>,
    bank: &str,
    content: &str,
    reason: &str,
    now: &str,
) -> Result<(), StoreError> {
    let reason = Some(reason.to_string());
    change_content_in(ctx, a, bank, content, ContentOp::Retract, reason, now).await
}

/// Apply `records` (already parsed whole: a malformed page never gets here) to bank `bank` in
/// one write job: [`apply_stream`] over the list.
pub async fn apply(
    app: &Arc<App>,
    bank: &str,
    records: Vec<Record>,
    opts: ApplyOptions,
) -> ApiResult<Applied> {
    let plan = ListPlan::of(&records, opts.replace_by_id);
    apply_stream(app, bank, plan, Records::List(records.into_iter()), opts).await
}

/// Apply a list to bank `bank` in one write job, its records read one at a time inside the
/// job: additions through the import path a chunk at a time, deletions as retractions (of
/// what the bank held before this list: an addition the list deletes later is not written).
/// `plan` is the list's, noted in a first read; a list that does not match it (a file changed
/// since) fails the job, and nothing is written.
pub async fn apply_stream(
    app: &Arc<App>,
    bank: &str,
    plan: ListPlan,
    records: Records,
    opts: ApplyOptions,
) -> ApiResult<Applied> {
    let b = bank_store::find_bank(app.store.reader(), bank)
        .await?
        .ok_or_else(|| ApiError::not_found("bank_not_found", format!("no bank {bank:?}")))?;
    let mut plan = plan;
    plan.deletions.sort_unstable();
    let common = ImportCommon {
        bank: b.name.clone(),
        category: b.category.clone(),
        provenance: b.provenance.clone(),
        now: now_rfc3339(),
    };
    let a = app.clone();
    let bank_id = b.id;
    // A list-sized job: in a transaction of its own (no savepoint, no sub-journal).
    let out = app
        .store
        .write_alone(move |ctx| {
            Box::pin(async move {
                let mut records = records;
                let mut out = Applied {
                    records: opts.malformed,
                    skipped: opts.malformed,
                    ..Applied::default()
                };
                let now = common.now.clone();
                // Entries re-sent: what the bank holds for them and they no longer carry.
                let mut ids: Vec<_> = std::mem::take(&mut plan.by_id).into_iter().collect();
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
                let mut writer = ImportWriter::new(&a, bank_id, &common, &opts.who);
                let mut lines: Vec<ImportLine> = Vec::with_capacity(IMPORT_CHUNK);
                let mut keys: Vec<Option<String>> = Vec::with_capacity(IMPORT_CHUNK);
                // With dedupe: the signals added by this list not yet written (this chunk and
                // the one being prepared); the store answers for those written.
                let mut seen: HashSet<(SignalKind, [u8; 32])> = HashSet::new();
                let mut seen_before: HashSet<(SignalKind, [u8; 32])> = HashSet::new();
                // Deletions that undid an addition earlier in the list (not skipped).
                let mut undid: HashSet<u64> = HashSet::new();
                let mut unflushed = 0usize;
                let mut pos = 0u64;
                while let Some(r) = records.next().await? {
                    let p = pos;
                    pos += 1;
                    out.records += 1;
                    match (&r.signal, r.deleted) {
                        (_, true) => {
                            let mut targets = Vec::new();
                            if let Some(id) = &r.source_id {
                                let key = format!("id:{id}");
                                targets.extend(
                                    store::contents_of_source(&mut ctx.conn, bank_id, &key).await?,
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
                            if targets.is_empty() && !undid.remove(&p) {
                                out.skipped += 1;
                            }
                            for content in targets {
                                retract(ctx, &a, &common.bank, &content, &opts.reason, &now)
                                    .await?;
                                out.retracted += 1;
                                unflushed += 1;
                            }
                            if unflushed >= IMPORT_CHUNK {
                                ctx.flush_log().await?;
                                unflushed = 0;
                            }
                        }
                        (Some((kind, value)), false) => {
                            let line = ImportLine::new(*kind, value);
                            if opts.dedupe {
                                let k = (line.kind, line.value);
                                let dup = seen.contains(&k)
                                    || seen_before.contains(&k)
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
                            if let Some(d) = plan.undone(p, &line, r.source_id.as_deref()) {
                                undid.insert(d);
                                continue;
                            }
                            if opts.dedupe {
                                seen.insert((line.kind, line.value));
                            }
                            lines.push(line);
                            keys.push(r.source_id.map(|id| format!("id:{id}")));
                            if lines.len() == IMPORT_CHUNK {
                                let chunk = std::mem::take(&mut lines);
                                let chunk_keys = std::mem::take(&mut keys);
                                let done = writer.push(ctx, chunk, chunk_keys).await?;
                                seen_before = std::mem::take(&mut seen);
                                source_items(ctx, bank_id, done).await?;
                            }
                        }
                        (None, false) => out.skipped += 1,
                    }
                }
                if pos != plan.records {
                    return Err(StoreError::Rejected(format!(
                        "the list changed while it was read ({pos} records, {} before)",
                        plan.records
                    )));
                }
                let done = writer.push(ctx, lines, keys).await?;
                source_items(ctx, bank_id, done).await?;
                let (last, written) = writer.finish(ctx).await?;
                source_items(ctx, bank_id, last).await?;
                if let Some(w) = written {
                    out.added = w.lines;
                    out.first_log_index = Some(w.first_log_index);
                    out.last_log_index = Some(w.last_log_index);
                }
                if let Some(p) = &opts.exchange {
                    let stored = store::record_page(
                        &mut ctx.conn,
                        &p.exchange,
                        &p.after,
                        &p.checkpoint,
                        store::PageCounts {
                            fetched: out.records as i64,
                            added: out.added as i64,
                            retracted: out.retracted as i64,
                            skipped: out.skipped as i64,
                        },
                        &now,
                    )
                    .await?;
                    if !stored {
                        return Err(candor_store::StoreError::Rejected(format!(
                            "{SYNCED_ELSEWHERE}: exchange {} was synced by another process or \
                             node while this page was fetched (its checkpoint is no longer {:?}); \
                             nothing of this page was applied",
                            p.exchange, p.after
                        )));
                    }
                }
                Ok(out)
            })
        })
        .await;
    match out {
        Err(StoreError::Rejected(m)) if m.starts_with(SYNCED_ELSEWHERE) => {
            Err(ApiError::conflict("sync_running", m))
        }
        out => Ok(out?),
    }
}

/// Record the source id of each content of a chunk just written.
async fn source_items(
    ctx: &mut candor_store::WriteCtx,
    bank_id: i64,
    chunk: Option<ChunkWritten<Vec<Option<String>>>>,
) -> Result<(), StoreError> {
    let Some(c) = chunk else { return Ok(()) };
    let items: Vec<(String, i64)> = (c.payload.into_iter().enumerate())
        .filter_map(|(i, key)| key.map(|k| (k, c.first_content + i as i64)))
        .collect();
    if items.is_empty() {
        return Ok(());
    }
    store::add_source_items(&mut ctx.conn, bank_id, &items).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(hex_byte: u8, id: Option<&str>, deleted: bool) -> Record {
        Record {
            number: 0,
            source_id: id.map(str::to_string),
            signal: Some((SignalKind::Md5, vec![hex_byte; 16])),
            deleted,
        }
    }

    #[test]
    fn an_addition_is_undone_by_the_first_later_deletion_of_its_signal_or_id() {
        let list = [
            rec(1, Some("a"), false), // 0: undone by 2 (its id)
            rec(2, None, false),      // 1: undone by 4 (its value)
            rec(9, Some("a"), true),  // 2
            rec(1, Some("b"), false), // 3: not undone (2 is before it; "b" never deleted)
            rec(2, Some("c"), true),  // 4
            rec(2, None, false),      // 5: after the last deletion of its value
            rec(3, Some("c"), false), // 6: not undone (4 is before it)
        ];
        let mut plan = ListPlan::of(&list, false);
        plan.deletions.sort_unstable();
        let undone: Vec<Option<u64>> = (list.iter().enumerate())
            .map(|(i, r)| {
                let (k, v) = r.signal.as_ref().unwrap();
                let line = ImportLine::new(*k, v);
                (!r.deleted)
                    .then(|| plan.undone(i as u64, &line, r.source_id.as_deref()))
                    .flatten()
            })
            .collect();
        assert_eq!(
            undone,
            [Some(2), Some(4), None, None, None, None, None],
            "{plan:?}"
        );
        assert_eq!(plan.records(), 7);
        // Both keys match: the first deletion wins.
        let both = [
            rec(5, Some("x"), false),
            rec(5, None, true),
            rec(6, Some("x"), true),
        ];
        let mut plan = ListPlan::of(&both, false);
        plan.deletions.sort_unstable();
        let line = ImportLine::new(SignalKind::Md5, &[5; 16]);
        assert_eq!(plan.undone(0, &line, Some("x")), Some(1));
        // replace_by_id keeps each id's signals, and only then.
        assert!(ListPlan::of(&list, false).by_id.is_empty());
        assert_eq!(ListPlan::of(&list, true).by_id["a"].len(), 1);
    }
}
