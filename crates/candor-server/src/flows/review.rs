//! The review flow: a reviewer closes a held or sampled item; a confirmation can grow a bank.
//! Also the notices about review items, used by the scan and appeal flows.

use candor_log::entry::{EntryBody, ReviewEntry, ReviewOutcome};
use serde::Serialize;

use crate::auth::Caller;
use crate::entries::append;
use crate::error::{ApiError, ApiResult};
use crate::flows::banks::{insert_content_in, NewSignal};
use crate::matcher::SignalKind;
use crate::{new_id, now_rfc3339, App};

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ReviewItem {
    pub id: String,
    /// `held` (a hold_for_review decision) or `sampled` (unknown content).
    pub kind: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decision: Option<String>,
    pub puid: String,
    /// Hashes only (pdq, md5, sha1, sha256): never the content.
    #[schema(value_type = Object)]
    pub signals: serde_json::Value,
    pub created_at: String,
    /// `open`, `confirmed` or `rejected`.
    pub status: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reviewer: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reviewed_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bank_content: Option<String>,
    /// The review priority, 0..=100 (the holding policy's `review_priority`, default 50;
    /// sampled content 0): `GET /v1/review?order=priority` lists higher first.
    pub priority: i64,
}

fn item_from_row(r: candor_store::review::ReviewRow) -> ReviewItem {
    ReviewItem {
        signals: serde_json::from_str(&r.signals).unwrap_or_default(),
        id: r.id,
        kind: r.kind,
        decision: r.decision_id,
        puid: r.puid,
        created_at: r.created_at,
        status: r.status,
        reviewer: r.reviewer,
        reviewed_at: r.reviewed_at,
        reason: r.reason,
        bank_content: r.bank_content,
        priority: r.priority,
    }
}

pub async fn load_item(app: &App, id: &str) -> ApiResult<ReviewItem> {
    let r = candor_store::review::get(app.store.reader(), id)
        .await?
        .ok_or_else(|| {
            ApiError::not_found("review_item_not_found", format!("no review item {id:?}"))
        })?;
    Ok(item_from_row(r))
}

/// How the queue is ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueueOrder {
    /// Oldest first; the cursor is the last item's id.
    Oldest,
    /// Highest priority first, oldest first within a priority; the cursor is
    /// `<priority>:<id>` of the last item.
    Priority,
}

/// Open items (or those with `status`, `all` for every one) after `cursor`, in `order`.
pub async fn list_items(
    app: &App,
    status: &str,
    order: QueueOrder,
    cursor: &str,
    limit: i64,
) -> ApiResult<Vec<ReviewItem>> {
    let pool = app.store.reader();
    let rows = match order {
        QueueOrder::Oldest => candor_store::review::list(pool, status, cursor, limit).await?,
        QueueOrder::Priority => {
            let after = if cursor.is_empty() {
                None
            } else {
                let bad = || {
                    ApiError::bad_request(
                        "invalid_cursor",
                        "cursor is not one we gave: <priority>:<item id> of the last item",
                    )
                };
                let (p, id) = cursor.split_once(':').ok_or_else(bad)?;
                Some((p.parse::<i64>().map_err(|_| bad())?, id))
            };
            candor_store::review::list_by_priority(pool, status, after, limit).await?
        }
    };
    Ok(rows.into_iter().map(item_from_row).collect())
}

/// The cursor that continues after `item` in `order`.
pub fn cursor_after(item: &ReviewItem, order: QueueOrder) -> String {
    match order {
        QueueOrder::Oldest => item.id.clone(),
        QueueOrder::Priority => format!("{}:{}", item.priority, item.id),
    }
}

/// A reviewer closes an item: the held decision is confirmed or lifted (or the sampled
/// content judged), the outcome logged, the people told, and with `add_to_bank` the content
/// added to a bank (it matches at once).
pub async fn finish(
    app: &std::sync::Arc<App>,
    caller: &Caller,
    id: &str,
    outcome: ReviewOutcome,
    add_to_bank: Option<String>,
    reason: String,
) -> ApiResult<()> {
    let item = load_item(app, id).await?;
    if item.status != "open" {
        return Err(ApiError::conflict(
            "already_reviewed",
            format!("item {id:?} is {}", item.status),
        ));
    }
    let bank = match &add_to_bank {
        Some(name) => {
            let b = candor_store::banks::find_bank(app.store.reader(), name)
                .await?
                .ok_or_else(|| {
                    ApiError::not_found("bank_not_found", format!("no bank {name:?}"))
                })?;
            Some((b.id, b.name, b.category))
        }
        None => None,
    };
    let person = load_person(app, id).await?;
    // The policies the bank feeds, named in the sender's notice of the addition.
    let fed: Vec<(String, String)> = match &bank {
        Some((_, name, category)) => app
            .policies()
            .policies
            .iter()
            .filter(|p| {
                p.enabled
                    && (p.banks.iter().any(|b| b == name)
                        || p.categories
                            .iter()
                            .any(|c| crate::routes::scan::enum_str(c) == *category))
            })
            .map(|p| (p.id.clone(), p.name.clone()))
            .collect(),
        None => Vec::new(),
    };
    let mut signals = Vec::new();
    for (k, kind) in [
        ("pdq", SignalKind::Pdq),
        ("md5", SignalKind::Md5),
        ("sha1", SignalKind::Sha1),
        ("sha256", SignalKind::Sha256),
    ] {
        if let Some(v) = item.signals.get(k).and_then(|v| v.as_str()) {
            if let Ok(bytes) = hex::decode(v) {
                signals.push(NewSignal {
                    kind,
                    value: bytes,
                    quality: None,
                });
            }
        }
    }
    if bank.is_some() && signals.is_empty() {
        return Err(ApiError::conflict(
            "no_signals",
            "the item has no signals to add to a bank",
        ));
    }
    let who = caller.who();
    let now = now_rfc3339();
    let a = app.clone();
    let id = id.to_string();
    app.store
        .write(move |ctx| {
            Box::pin(async move {
                use candor_store::StoreError::Rejected;
                let status = match outcome {
                    ReviewOutcome::Confirmed => "confirmed",
                    ReviewOutcome::Rejected => "rejected",
                };
                let content_id = bank.as_ref().map(|_| new_id());
                let closed = candor_store::review::close(&mut ctx.conn, &id, status, &who, &now, &reason, content_id.as_deref()).await?;
                if !closed {
                    return Err(Rejected(format!("item {id:?} was reviewed meanwhile")));
                }
                let commitment = person.commitment(&item.puid);
                let entry = append(ctx, &a, &now, EntryBody::Review(ReviewEntry {
                    decision: item.decision.clone(),
                    review_item: id.clone(),
                    outcome,
                    bank: bank.as_ref().map(|b| b.1.clone()),
                    content_commitment: commitment,
                }))?;
                if let Some(decision) = &item.decision {
                    let new_status = if outcome == ReviewOutcome::Confirmed { "confirmed" } else { "lifted" };
                    candor_store::decisions::close_review(&mut ctx.conn, decision, new_status, &who).await?;
                    let text = if outcome == ReviewOutcome::Confirmed {
                        "A person reviewed the content that was held and confirmed the decision. You can appeal it.".to_string()
                    } else {
                        "A person reviewed the content that was held and lifted the hold: it is delivered.".to_string()
                    };
                    outcome_notices(ctx, decision, &text, &now, entry).await?;
                } else if let Some(sender) = &person.sender {
                    // Sampled content: the sender (and the recipients the platform named) hear it.
                    let text = crate::texts::review_outcome(outcome == ReviewOutcome::Confirmed, &reason, bank.as_ref().map(|b| b.1.as_str()), entry);
                    item_notice(ctx, &id, sender, "sender", "review_outcome", &text, &now, entry, None).await?;
                    for r in &person.recipients {
                        item_notice(ctx, &id, r, "recipient", "review_outcome", &text, &now, entry, None).await?;
                    }
                }
                let mut bank_index = None;
                if let (Some((bank_id, bank_name, category)), Some(cid)) = (&bank, &content_id) {
                    let indexes = insert_content_in(ctx, &a, *bank_id, bank_name, category, cid, &signals, &format!("review {id}"), "own_review", &who, &now, commitment).await?;
                    bank_index = indexes.first().copied();
                    if let (Some(sender), Some(first)) = (&person.sender, bank_index) {
                        let text = crate::texts::bank_addition(bank_name, category, &reason, &fed, first);
                        item_notice(ctx, &id, sender, "sender", "bank_addition", &text, &now, first, None).await?;
                    }
                }
                candor_store::review::set_log_indexes(&mut ctx.conn, &id, entry, bank_index).await?;
                Ok(())
            })
        })
        .await?;
    Ok(())
}

/// Whose content a review item is, for notices and data access (never shown to reviewers).
pub struct Person {
    /// The sender's account (absent for items queued before accounts were recorded).
    pub sender: Option<String>,
    /// Recipients to tell of the outcome (only when the platform asked).
    pub recipients: Vec<String>,
    /// The commitment nonce (the decision's for held items).
    pub nonce: Option<Vec<u8>>,
}

impl Person {
    /// The content commitment the person opens with their notice, when a nonce was kept.
    pub fn commitment(&self, puid: &str) -> Option<candor_log::merkle::Hash> {
        let nonce: [u8; 32] = self.nonce.as_deref()?.try_into().ok()?;
        Some(candor_log::commit::content_commitment(&nonce, puid))
    }
}

pub async fn load_person(app: &App, item: &str) -> ApiResult<Person> {
    let row = candor_store::review::person(app.store.reader(), item)
        .await?
        .ok_or_else(|| {
            ApiError::not_found("review_item_not_found", format!("no review item {item:?}"))
        })?;
    Ok(Person {
        sender: row.sender_account,
        recipients: row
            .notify_recipients
            .and_then(|r| serde_json::from_str(&r).ok())
            .unwrap_or_default(),
        nonce: row.nonce,
    })
}

/// A notice about a review item (sampling, review outcome, bank addition, appeal outcome).
#[allow(clippy::too_many_arguments)]
pub async fn item_notice(
    ctx: &mut candor_store::WriteCtx,
    item: &str,
    account: &str,
    role: &str,
    kind: &str,
    text: &str,
    now: &str,
    entry: u64,
    deferred_legal_basis: Option<&str>,
) -> Result<String, candor_store::StoreError> {
    let id = new_id();
    candor_store::decisions::add_notice(
        &mut ctx.conn,
        &candor_store::decisions::NewNotice {
            id: &id,
            decision_id: None,
            review_item: Some(item),
            account,
            role,
            kind,
            text,
            created_at: now,
            deferred_legal_basis,
            log_index: entry,
        },
    )
    .await?;
    Ok(id)
}

/// A follow-up notice to everyone the decision's first notices went to, carrying the log
/// index of the outcome's entry.
pub async fn outcome_notices(
    ctx: &mut candor_store::WriteCtx,
    decision: &str,
    text: &str,
    now: &str,
    entry: u64,
) -> Result<(), candor_store::StoreError> {
    let parties = candor_store::decisions::notified(&mut ctx.conn, decision).await?;
    for (account, role) in parties {
        candor_store::decisions::add_notice(
            &mut ctx.conn,
            &candor_store::decisions::NewNotice {
                id: &new_id(),
                decision_id: Some(decision),
                review_item: None,
                account: &account,
                role: &role,
                kind: "outcome",
                text,
                created_at: now,
                deferred_legal_basis: None,
                log_index: entry,
            },
        )
        .await?;
    }
    Ok(())
}
