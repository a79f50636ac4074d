//! The bank flows: create, update and delete a bank (its row, one log entry, the match index's
//! settings after commit); add content (with its salted signals and one log entry per signal)
//! and change it (retract, enable, disable), inside a job, the match index updated after
//! commit. Called by the bank routes (`/v1/banks…` and HMA's `/c/…`), the review flow (a
//! confirmation grows a bank) and the appeal flow (a reversal retracts what a review added).

use std::sync::Arc;

use candor_log::entry::{BankContentEntry, BankEntry, ChangeOp, ContentOp, Entry, EntryBody};
use candor_store::banks as store;
use rand::RngCore;

use crate::entries::append;
use crate::error::ApiResult;
use crate::matcher::{BankInfo, SignalKind};
use crate::{now_rfc3339, App};

/// A bank to create.
#[derive(Debug, Clone)]
pub struct NewBank {
    pub name: String,
    pub description: String,
    pub category: String,
    pub provenance: String,
    pub enabled: bool,
    pub pdq_threshold: u32,
    /// HMA's `matching_enabled_ratio` (1.0 for a bank made through `/v1/banks`).
    pub matching_enabled_ratio: f64,
    /// A negative bank (an allowlist): its matches suppress every other bank's.
    pub negative: bool,
}

/// Create a bank: its row, a `bank create` log entry, the match index told after commit.
/// Returns its id; [`candor_store::StoreError::Rejected`] (409) if the name is taken.
pub async fn create_bank(app: &Arc<App>, b: NewBank) -> ApiResult<i64> {
    let now = now_rfc3339();
    let a = app.clone();
    Ok(app
        .store
        .write(move |ctx| Box::pin(async move { create_bank_in(ctx, &a, &now, b).await }))
        .await?)
}

/// [`create_bank`] inside a running job (so another room's rows commit with it).
pub async fn create_bank_in(
    ctx: &mut candor_store::WriteCtx,
    a: &Arc<App>,
    now: &str,
    b: NewBank,
) -> Result<i64, candor_store::StoreError> {
    let id = store::create_bank(
        &mut ctx.conn,
        &store::NewBank {
            name: &b.name,
            description: &b.description,
            category: &b.category,
            provenance: &b.provenance,
            enabled: b.enabled,
            pdq_threshold: b.pdq_threshold,
            now,
        },
    )
    .await?;
    if b.matching_enabled_ratio != 1.0 {
        store::set_matching_ratio(&mut ctx.conn, id, b.matching_enabled_ratio).await?;
    }
    if b.negative {
        store::set_negative(&mut ctx.conn, id, true).await?;
    }
    record_bank(
        ctx,
        a,
        now,
        id,
        ChangeOp::Create,
        BankInfo {
            name: b.name,
            category: b.category,
            enabled: b.enabled,
            pdq_threshold: b.pdq_threshold,
            negative: b.negative,
            matching_enabled_ratio: b.matching_enabled_ratio,
        },
        false,
    )?;
    Ok(id)
}

/// A bank's settings after an update.
#[derive(Debug, Clone)]
pub struct BankUpdate {
    pub description: String,
    pub category: String,
    pub enabled: bool,
    pub pdq_threshold: u32,
    /// A new HMA `matching_enabled_ratio`, if it changes.
    pub matching_enabled_ratio: Option<f64>,
    /// Whether the bank is negative after the update (logged with the update).
    pub negative: bool,
}

/// Update bank `id` (called `name`): its row, a `bank update` log entry, the match index after
/// commit.
pub async fn update_bank(app: &Arc<App>, id: i64, name: &str, u: BankUpdate) -> ApiResult<()> {
    let now = now_rfc3339();
    let a = app.clone();
    let name = name.to_string();
    app.store
        .write(move |ctx| {
            Box::pin(async move {
                let settings = store::BankSettings {
                    description: &u.description,
                    category: &u.category,
                    enabled: u.enabled,
                    pdq_threshold: u.pdq_threshold,
                };
                store::update_bank(&mut ctx.conn, id, &settings, &now).await?;
                if let Some(r) = u.matching_enabled_ratio {
                    store::set_matching_ratio(&mut ctx.conn, id, r).await?;
                }
                store::set_negative(&mut ctx.conn, id, u.negative).await?;
                record_bank(
                    ctx,
                    &a,
                    &now,
                    id,
                    ChangeOp::Update,
                    BankInfo {
                        name,
                        category: u.category,
                        enabled: u.enabled,
                        pdq_threshold: u.pdq_threshold,
                        negative: u.negative,
                        matching_enabled_ratio: u.matching_enabled_ratio.unwrap_or(1.0),
                    },
                    u.matching_enabled_ratio.is_none(),
                )
            })
        })
        .await?;
    Ok(())
}

/// Delete bank `id` and its content (rows, a `bank delete` log entry): it stops matching at
/// once.
pub async fn delete_bank(app: &Arc<App>, id: i64, cur: &store::BankRow) -> ApiResult<()> {
    let now = now_rfc3339();
    let a = app.clone();
    let cur = cur.clone();
    app.store
        .write(move |ctx| Box::pin(async move { delete_bank_in(ctx, &a, &now, id, &cur).await }))
        .await?;
    Ok(())
}

/// [`delete_bank`] inside a running job.
pub async fn delete_bank_in(
    ctx: &mut candor_store::WriteCtx,
    a: &Arc<App>,
    now: &str,
    id: i64,
    cur: &store::BankRow,
) -> Result<(), candor_store::StoreError> {
    store::delete_bank(&mut ctx.conn, id).await?;
    append(
        ctx,
        a,
        now,
        EntryBody::Bank(BankEntry {
            bank: cur.name.clone(),
            op: ChangeOp::Delete,
            category: cur.category.clone(),
            enabled: false,
            pdq_threshold: cur.pdq_threshold,
            negative: cur.negative,
        }),
    )?;
    let a2 = a.clone();
    ctx.after_commit(move || a2.matcher.write().expect("matcher lock").remove_bank(id));
    Ok(())
}

/// Log a bank's creation or update and, after the commit, give the match index its settings
/// (`keep_ratio`: the bank's HMA ratio is unchanged, the index keeps the one it has).
fn record_bank(
    ctx: &mut candor_store::WriteCtx,
    a: &Arc<App>,
    now: &str,
    id: i64,
    op: ChangeOp,
    mut info: BankInfo,
    keep_ratio: bool,
) -> Result<(), candor_store::StoreError> {
    append(
        ctx,
        a,
        now,
        EntryBody::Bank(BankEntry {
            bank: info.name.clone(),
            op,
            category: info.category.clone(),
            enabled: info.enabled,
            pdq_threshold: info.pdq_threshold,
            negative: info.negative,
        }),
    )?;
    let a = a.clone();
    ctx.after_commit(move || {
        let mut m = a.matcher.write().expect("matcher lock");
        if keep_ratio {
            if let Some(cur) = m.banks().get(&id) {
                info.matching_enabled_ratio = cur.matching_enabled_ratio;
            }
        }
        m.set_bank(id, info)
    });
    Ok(())
}

/// Signals to store for a new bank content.
#[derive(Debug, Clone)]
pub struct NewSignal {
    pub kind: SignalKind,
    pub value: Vec<u8>,
    pub quality: Option<u8>,
}

/// Insert one bank content with its signals and its user metadata (JSON text, stored and
/// returned, never logged). Returns the log indexes.
#[allow(clippy::too_many_arguments)]
pub async fn insert_content(
    app: &Arc<App>,
    bank_id: i64,
    bank: &str,
    category: &str,
    public_id: String,
    signals: Vec<NewSignal>,
    note: String,
    prov: String,
    by: String,
    metadata: Option<String>,
) -> ApiResult<Vec<u64>> {
    let now = now_rfc3339();
    let a = app.clone();
    let (bank, category) = (bank.to_string(), category.to_string());
    Ok(app
        .store
        .write(move |ctx| {
            Box::pin(async move {
                let idx = insert_content_in(
                    ctx, &a, bank_id, &bank, &category, &public_id, &signals, &note, &prov, &by,
                    &now, None,
                )
                .await?;
                if let Some(m) = &metadata {
                    store::set_metadata(&mut ctx.conn, &public_id, m).await?;
                }
                Ok(idx)
            })
        })
        .await?)
}

/// The write itself, inside a job (also used by the review queue). `from_content` is the
/// content commitment of a person's content a review added (logged with each signal, so the
/// person can find the addition with their notice).
#[allow(clippy::too_many_arguments)]
pub async fn insert_content_in(
    ctx: &mut candor_store::WriteCtx,
    a: &Arc<App>,
    bank_id: i64,
    bank: &str,
    category: &str,
    public_id: &str,
    signals: &[NewSignal],
    note: &str,
    prov: &str,
    by: &str,
    now: &str,
    from_content: Option<candor_log::merkle::Hash>,
) -> Result<Vec<u64>, candor_store::StoreError> {
    let content_row = store::add_content(
        &mut ctx.conn,
        &store::NewContent {
            public_id,
            bank_id,
            provenance: prov,
            note,
            created_by: by,
            now,
        },
    )
    .await?;
    let mut indexes = Vec::new();
    let mut rows = Vec::new();
    for s in signals {
        let mut salt = [0u8; 16];
        rand::rng().fill_bytes(&mut salt);
        let row = store::add_signal(
            &mut ctx.conn,
            content_row,
            s.kind,
            &s.value,
            s.quality,
            &salt,
        )
        .await?;
        rows.push((row, s.kind, s.value.clone()));
        indexes.push(append(
            ctx,
            a,
            now,
            EntryBody::BankContent(BankContentEntry {
                bank: bank.to_string(),
                content: public_id.to_string(),
                op: ContentOp::Add,
                signal: s.kind,
                commitment: candor_log::commit::signal_commitment(&salt, s.kind.as_str(), &s.value),
                category: category.to_string(),
                provenance: prov.to_string(),
                reason: None,
                content_commitment: from_content,
            }),
        )?);
    }
    if !a.keeps_index() {
        return Ok(indexes);
    }
    let a2 = a.clone();
    let public_id = public_id.to_string();
    ctx.after_commit(move || {
        let mut m = a2.matcher.write().expect("matcher lock");
        m.insert_many(
            bank_id,
            (rows.iter()).map(|(row, kind, value)| {
                (*row, content_row, public_id.as_str(), *kind, &value[..])
            }),
        );
    });
    Ok(indexes)
}

/// Retract, enable or disable one content (all its signals), in a job.
pub async fn change_content(
    app: &Arc<App>,
    bank: &str,
    content: &str,
    op: ContentOp,
    reason: Option<String>,
) -> ApiResult<()> {
    let now = now_rfc3339();
    let a = app.clone();
    let (bank, content) = (bank.to_string(), content.to_string());
    app.store
        .write(move |ctx| {
            Box::pin(
                async move { change_content_in(ctx, &a, &bank, &content, op, reason, &now).await },
            )
        })
        .await?;
    Ok(())
}

pub async fn change_content_in(
    ctx: &mut candor_store::WriteCtx,
    a: &Arc<App>,
    bank: &str,
    content: &str,
    op: ContentOp,
    reason: Option<String>,
    now: &str,
) -> Result<(), candor_store::StoreError> {
    use candor_store::StoreError::Rejected;
    let c = store::content_state(&mut ctx.conn, bank, content)
        .await?
        .ok_or_else(|| Rejected(format!("no content {content:?} in bank {bank:?}")))?;
    let (cid, bank_id) = (c.id, c.bank_id);
    if c.retracted {
        return Err(Rejected(format!("content {content:?} is retracted")));
    }
    match op {
        ContentOp::Retract => store::retract(&mut ctx.conn, cid, now, reason.as_deref()).await?,
        ContentOp::Enable | ContentOp::Disable => {
            let want = op == ContentOp::Enable;
            if want == c.enabled {
                return Ok(());
            }
            store::set_enabled(&mut ctx.conn, cid, want).await?;
            // A change of state ends any timed disable set through the HMA API (that flow sets
            // its own afterwards, in the same job).
            store::set_disable_until(&mut ctx.conn, cid, None).await?;
        }
        ContentOp::Add => return Err(Rejected("add is not a change".into())),
    }
    let sigs = store::signals_of(&mut ctx.conn, cid).await?;
    let mut rows = Vec::new();
    for s in sigs {
        let salt: [u8; 16] = s
            .salt
            .as_slice()
            .try_into()
            .map_err(|_| Rejected("bad salt".into()))?;
        append(
            ctx,
            a,
            now,
            EntryBody::BankContent(BankContentEntry {
                bank: bank.to_string(),
                content: content.to_string(),
                op,
                signal: s.kind,
                commitment: candor_log::commit::signal_commitment(&salt, s.kind.as_str(), &s.value),
                category: c.category.clone(),
                provenance: c.provenance.clone(),
                reason: reason.clone(),
                content_commitment: None,
            }),
        )?;
        rows.push((s.id, s.kind, s.value));
    }
    if !a.keeps_index() {
        return Ok(());
    }
    let a2 = a.clone();
    let public = content.to_string();
    ctx.after_commit(move || {
        let mut m = a2.matcher.write().expect("matcher lock");
        if op == ContentOp::Enable {
            m.insert_many(
                bank_id,
                (rows.iter())
                    .map(|(row, kind, value)| (*row, cid, public.as_str(), *kind, &value[..])),
            );
        } else {
            for (row, _, _) in rows {
                m.remove(row);
            }
        }
    });
    Ok(())
}

/// Add one content through the HMA API: [`insert_content_in`] and its user metadata (JSON
/// text), in one job.
#[allow(clippy::too_many_arguments)]
pub async fn insert_hma_content(
    app: &Arc<App>,
    bank: &store::BankRow,
    public_id: String,
    signals: Vec<NewSignal>,
    note: String,
    metadata: Option<String>,
    by: String,
) -> ApiResult<Vec<u64>> {
    let now = now_rfc3339();
    let a = app.clone();
    let (bank_id, name, category, prov) = (
        bank.id,
        bank.name.clone(),
        bank.category.clone(),
        bank.provenance.clone(),
    );
    Ok(app
        .store
        .write(move |ctx| {
            Box::pin(async move {
                let idx = insert_content_in(
                    ctx, &a, bank_id, &name, &category, &public_id, &signals, &note, &prov, &by,
                    &now, None,
                )
                .await?;
                if let Some(m) = &metadata {
                    store::set_metadata(&mut ctx.conn, &public_id, m).await?;
                }
                Ok(idx)
            })
        })
        .await?)
}

/// What an HMA `PUT /c/bank/<name>/content/<id>` changes.
#[derive(Debug, Clone, Default)]
pub struct HmaContentUpdate {
    /// HMA's `disable_until_ts`: 0 disabled, 1 enabled, a time: disabled until then.
    pub disable_until_ts: Option<i64>,
    /// A new note (`Some("")` clears it).
    pub note: Option<String>,
}

/// Apply an HMA content update in one job: enable or disable (one log entry per signal, the
/// match index after commit, as any change), the timed disable and the note.
pub async fn update_hma_content(
    app: &Arc<App>,
    bank: &str,
    public_id: &str,
    content_row: i64,
    u: HmaContentUpdate,
    now_ts: i64,
) -> ApiResult<()> {
    let now = now_rfc3339();
    let a = app.clone();
    let (bank, public_id) = (bank.to_string(), public_id.to_string());
    app.store
        .write(move |ctx| {
            Box::pin(async move {
                if let Some(ts) = u.disable_until_ts {
                    let enable = ts == 1 || (ts > 1 && ts <= now_ts);
                    let op = if enable {
                        ContentOp::Enable
                    } else {
                        ContentOp::Disable
                    };
                    change_content_in(ctx, &a, &bank, &public_id, op, None, &now).await?;
                    let until = (!enable).then_some(ts);
                    store::set_disable_until(&mut ctx.conn, content_row, until).await?;
                }
                if let Some(n) = &u.note {
                    store::set_note(&mut ctx.conn, content_row, n).await?;
                }
                Ok(())
            })
        })
        .await?;
    Ok(())
}

/// Enable the contents whose HMA `disable_until_ts` has come (each a logged change, as HMA
/// users expect such content to match again). Returns how many; run by `serve` on a timer.
pub async fn enable_due(app: &Arc<App>, now_ts: i64) -> ApiResult<usize> {
    let mut n = 0;
    loop {
        let due = store::due_enables(app.store.reader(), now_ts, 256).await?;
        if due.is_empty() {
            return Ok(n);
        }
        for (bank, content) in &due {
            change_content(app, bank, content, ContentOp::Enable, None).await?;
            n += 1;
        }
    }
}

/// What [`write_import`] wrote: its log indexes and the row id of its first content.
#[derive(Debug, Clone, Copy)]
pub struct ImportWritten {
    pub first_log_index: u64,
    pub last_log_index: u64,
    pub first_content: i64,
    /// Lines written (the entries between the first and last index are theirs unless the
    /// job appended others meanwhile, as a list's retractions).
    pub lines: u64,
}

/// Lines whose rows, entries and stored hashes are prepared and written together: large enough
/// for multi-row statements, small enough that an import's memory does not grow with them.
pub const IMPORT_CHUNK: usize = 4096;

/// One parsed import line, compact (no text kept): the signal and its value (MD5 in the first
/// 16 bytes, SHA-1 in the first 20).
#[derive(Clone, Copy, Debug)]
pub struct ImportLine {
    pub kind: SignalKind,
    pub value: [u8; 32],
}

impl ImportLine {
    /// A line of `kind` with `value` (its length checked by the caller).
    pub fn new(kind: SignalKind, value: &[u8]) -> ImportLine {
        let mut v = [0u8; 32];
        v[..value.len()].copy_from_slice(value);
        ImportLine { kind, value: v }
    }

    pub fn value(&self) -> &[u8] {
        match self.kind {
            SignalKind::Md5 => &self.value[..16],
            SignalKind::Sha1 => &self.value[..20],
            _ => &self.value,
        }
    }
}

/// A chunk of import lines made ready off the writer: public ids, salts and encoded log
/// entries (commitments inside).
struct PreparedChunk {
    ids: Vec<uuid::Uuid>,
    salts: Vec<[u8; 16]>,
    entries: Vec<Vec<u8>>,
}

/// What every entry of an import shares.
#[derive(Clone)]
pub struct ImportCommon {
    pub bank: String,
    pub category: String,
    pub provenance: String,
    pub now: String,
}

impl ImportCommon {
    fn entry(&self, content: String, kind: SignalKind, commitment: [u8; 32]) -> Entry {
        Entry::new(
            self.now.clone(),
            EntryBody::BankContent(BankContentEntry {
                bank: self.bank.clone(),
                content,
                op: ContentOp::Add,
                signal: kind,
                commitment,
                category: self.category.clone(),
                provenance: self.provenance.clone(),
                reason: None,
                content_commitment: None,
            }),
        )
    }
}

fn prepare_chunk(
    common: &ImportCommon,
    lines: &[ImportLine],
) -> Result<PreparedChunk, candor_store::StoreError> {
    let mut rng = rand::rng();
    let mut chunk = PreparedChunk {
        ids: Vec::with_capacity(lines.len()),
        salts: Vec::with_capacity(lines.len()),
        entries: Vec::with_capacity(lines.len()),
    };
    for l in lines {
        let id = uuid::Uuid::now_v7();
        let mut salt = [0u8; 16];
        rng.fill_bytes(&mut salt);
        let commitment = candor_log::commit::signal_commitment(&salt, l.kind.as_str(), l.value());
        let entry = common.entry(id.simple().to_string(), l.kind, commitment);
        chunk.entries.push(entry.encode_checked()?);
        chunk.ids.push(id);
        chunk.salts.push(salt);
    }
    Ok(chunk)
}

/// The import's write, inside one job: [`ImportWriter`] over `lines`, [`IMPORT_CHUNK`] at a
/// time. Returns the first and last log index and the first content row (rows are
/// consecutive).
pub async fn write_import(
    ctx: &mut candor_store::WriteCtx,
    a: &Arc<App>,
    bank_id: i64,
    common: &ImportCommon,
    who: &str,
    lines: Arc<Vec<ImportLine>>,
) -> Result<ImportWritten, candor_store::StoreError> {
    let mut w = ImportWriter::new(a, bank_id, common, who);
    for part in lines.chunks(IMPORT_CHUNK) {
        w.push(ctx, part.to_vec(), ()).await?;
    }
    drop(lines);
    w.finish(ctx)
        .await?
        .1
        .ok_or_else(|| candor_store::StoreError::Rejected("nothing to import".into()))
}

/// A chunk [`ImportWriter`] has written: the caller's payload and the row of the chunk's
/// first content (line `i` of the chunk is content row `first_content + i`).
#[derive(Debug)]
pub struct ChunkWritten<T> {
    pub payload: T,
    pub first_content: i64,
}

type Preparing = tokio::task::JoinHandle<(
    Vec<ImportLine>,
    Result<PreparedChunk, candor_store::StoreError>,
)>;

/// The import path's writer, inside one job, fed chunks of lines as they come (a whole list,
/// [`write_import`], or a list streamed from a file, `sources::apply_stream`). Each chunk is
/// prepared on a blocking thread (ids, salts, commitments, entry encoding) while the chunk
/// before it is written (multi-row statements, its entries appended and written early with
/// `flush_log`), so memory holds two chunks whatever the import's size. Rows are consecutive
/// over the whole import. [`ImportWriter::finish`] counts the entries in the numbers and,
/// in a service ([`App::keeps_index`]), gives the match index every line after commit (one
/// compaction, not one per chunk) — only then are the lines kept.
pub struct ImportWriter<T> {
    app: Arc<App>,
    bank_id: i64,
    common: ImportCommon,
    who: String,
    /// The chunk being prepared, with the caller's payload.
    preparing: Option<(Preparing, T)>,
    first_rows: Option<store::ImportedRows>,
    first: Option<u64>,
    last: u64,
    done: usize,
    counts: Vec<(SignalKind, u64)>,
    /// For the match index after commit (a service only): every line and its public id.
    index: Option<(Vec<ImportLine>, Vec<uuid::Uuid>)>,
}

impl<T> ImportWriter<T> {
    pub fn new(a: &Arc<App>, bank_id: i64, common: &ImportCommon, who: &str) -> Self {
        ImportWriter {
            app: a.clone(),
            bank_id,
            common: common.clone(),
            who: who.to_string(),
            preparing: None,
            first_rows: None,
            first: None,
            last: 0,
            done: 0,
            counts: Vec::new(),
            index: a.keeps_index().then(|| (Vec::new(), Vec::new())),
        }
    }

    /// Lines written so far.
    pub fn written(&self) -> usize {
        self.done
    }

    /// Start preparing `lines` (at most [`IMPORT_CHUNK`] for bounded statements) and write the
    /// chunk pushed before, returned with its payload.
    pub async fn push(
        &mut self,
        ctx: &mut candor_store::WriteCtx,
        lines: Vec<ImportLine>,
        payload: T,
    ) -> Result<Option<ChunkWritten<T>>, candor_store::StoreError> {
        if lines.is_empty() {
            return Ok(None);
        }
        let c = self.common.clone();
        let next = tokio::task::spawn_blocking(move || {
            let prepared = prepare_chunk(&c, &lines);
            (lines, prepared)
        });
        let before = self.preparing.replace((next, payload));
        match before {
            Some((job, payload)) => self.write(ctx, job, payload).await.map(Some),
            None => Ok(None),
        }
    }

    /// Write the chunk still being prepared; then the numbers and (in a service) the match
    /// index after commit. Returns the last chunk written and, unless nothing was written,
    /// the log indexes and first content row of the whole import.
    pub async fn finish(
        mut self,
        ctx: &mut candor_store::WriteCtx,
    ) -> Result<(Option<ChunkWritten<T>>, Option<ImportWritten>), candor_store::StoreError> {
        let last_chunk = match self.preparing.take() {
            Some((job, payload)) => Some(self.write(ctx, job, payload).await?),
            None => None,
        };
        let (Some(first), Some(rows)) = (self.first, self.first_rows) else {
            return Ok((last_chunk, None));
        };
        let a = &self.app;
        // The numbers count a bank-content entry by its type, op and signal: one entry of each
        // signal stands for all of its kind.
        for (kind, n) in std::mem::take(&mut self.counts) {
            let like = self.common.entry(String::new(), kind, [0; 32]);
            crate::entries::count_after_commit(ctx, a, like, n);
        }
        if let Some((lines, ids)) = self.index.take() {
            let (a2, bank_id) = (a.clone(), self.bank_id);
            ctx.after_commit(move || {
                let public: Vec<String> = ids.iter().map(|id| id.simple().to_string()).collect();
                drop(ids);
                // The rows match at once (pending); their table segment is built outside the
                // matcher's lock, so lookups go on meanwhile.
                let mut m = a2.matcher.write().expect("matcher lock");
                m.append_many(
                    bank_id,
                    (lines.iter().zip(&public).enumerate()).map(|(i, (l, p))| {
                        let i = i as i64;
                        (
                            rows.first_signal + i,
                            rows.first_content + i,
                            p.as_str(),
                            l.kind,
                            l.value(),
                        )
                    }),
                );
                drop(m);
                a2.compact_index_in_background();
            });
        }
        let written = ImportWritten {
            first_log_index: first,
            last_log_index: self.last,
            first_content: rows.first_content,
            lines: self.done as u64,
        };
        Ok((last_chunk, Some(written)))
    }

    /// Write one prepared chunk: its rows, its entries (appended, then written early).
    async fn write(
        &mut self,
        ctx: &mut candor_store::WriteCtx,
        job: Preparing,
        payload: T,
    ) -> Result<ChunkWritten<T>, candor_store::StoreError> {
        let (part, chunk) = job
            .await
            .map_err(|e| candor_store::StoreError::Corrupt(format!("import preparation: {e}")))?;
        let chunk = chunk?;
        let public: Vec<String> = chunk.ids.iter().map(|u| u.simple().to_string()).collect();
        let items: Vec<store::ImportedSignal> = (part.iter().enumerate())
            .map(|(i, l)| store::ImportedSignal {
                public_id: &public[i],
                kind: l.kind,
                value: l.value(),
                salt: &chunk.salts[i],
            })
            .collect();
        let backend = ctx.backend();
        let rows = store::add_imported(
            &mut ctx.conn,
            backend,
            self.bank_id,
            &self.common.provenance,
            &self.who,
            &self.common.now,
            &items,
        )
        .await?;
        drop(items);
        // Rows are consecutive over the whole import (one writer, one transaction).
        let f = *self.first_rows.get_or_insert(rows);
        if rows.first_content != f.first_content + self.done as i64
            || rows.first_signal != f.first_signal + self.done as i64
        {
            return Err(candor_store::StoreError::Corrupt(
                "import rows are not consecutive".into(),
            ));
        }
        for e in chunk.entries {
            let i = ctx.append(e);
            self.first.get_or_insert(i);
            self.last = i;
        }
        ctx.flush_log().await?;
        for l in &part {
            match self.counts.iter_mut().find(|(k, _)| *k == l.kind) {
                Some((_, n)) => *n += 1,
                None => self.counts.push((l.kind, 1)),
            }
        }
        self.done += part.len();
        if let Some((lines, ids)) = &mut self.index {
            lines.extend_from_slice(&part);
            ids.extend(chunk.ids);
        }
        Ok(ChunkWritten {
            payload,
            first_content: rows.first_content,
        })
    }
}
