//! The bank flows: create, update and delete a bank (its row, one log entry, the match index's
//! settings after commit); add content (with its salted signals and one log entry per signal)
//! and change it (retract, enable, disable), inside a job, the match index updated after
//! commit. Called by the bank routes (`/v1/banks…` and HMA's `/c/…`), the review flow (a
//! confirmation grows a bank) and the appeal flow (a reversal retracts what a review added).

use std::sync::Arc;

use candor_log::entry::{BankContentEntry, BankEntry, ChangeOp, ContentOp, EntryBody};
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
        .write(move |ctx| {
            Box::pin(async move {
                let id = store::create_bank(
                    &mut ctx.conn,
                    &store::NewBank {
                        name: &b.name,
                        description: &b.description,
                        category: &b.category,
                        provenance: &b.provenance,
                        enabled: b.enabled,
                        pdq_threshold: b.pdq_threshold,
                        now: &now,
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
                    &a,
                    &now,
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
            })
        })
        .await?)
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
    let (name, category, threshold) = (cur.name.clone(), cur.category.clone(), cur.pdq_threshold);
    let negative = cur.negative;
    app.store
        .write(move |ctx| {
            Box::pin(async move {
                store::delete_bank(&mut ctx.conn, id).await?;
                append(
                    ctx,
                    &a,
                    &now,
                    EntryBody::Bank(BankEntry {
                        bank: name,
                        op: ChangeOp::Delete,
                        category,
                        enabled: false,
                        pdq_threshold: threshold,
                        negative,
                    }),
                )?;
                let a2 = a.clone();
                ctx.after_commit(move || a2.matcher.write().expect("matcher lock").remove_bank(id));
                Ok(())
            })
        })
        .await?;
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
