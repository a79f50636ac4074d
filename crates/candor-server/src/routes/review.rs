//! The review queue: held scans and sampled unknown content, as hashes plus the platform's
//! reference. A reviewer confirms (optionally adding the content to a bank, which then
//! matches at once) or rejects; who reviewed is recorded and the outcome logged.

use axum::extract::{Path, Query, State};
use axum::Json;
use candor_log::entry::{EntryBody, ReviewEntry, ReviewOutcome};
use serde::{Deserialize, Serialize};
use sqlx::Row;

use super::check_text;
use crate::auth::{Caller, Role};
use crate::entries::append;
use crate::error::{ApiError, ApiResult};
use crate::matcher::SignalKind;
use crate::routes::banks::{insert_content_in, NewSignal};
use crate::{new_id, now_rfc3339, App, AppState};

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ReviewItem {
    pub id: String,
    /// `held` (a hold_for_review decision) or `sampled` (unknown content).
    pub kind: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decision: Option<String>,
    pub puid: String,
    /// Hashes only (pdq, md5, sha256): never the content.
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
}

const SELECT: &str = "SELECT id, kind, decision_id, puid, signals, created_at, status, reviewer, reviewed_at, reason, bank_content FROM review_items";

fn item_from_row(r: &sqlx::sqlite::SqliteRow) -> ReviewItem {
    ReviewItem {
        id: r.get(0),
        kind: r.get(1),
        decision: r.get(2),
        puid: r.get(3),
        signals: serde_json::from_str(r.get::<&str, _>(4)).unwrap_or_default(),
        created_at: r.get(5),
        status: r.get(6),
        reviewer: r.get(7),
        reviewed_at: r.get(8),
        reason: r.get(9),
        bank_content: r.get(10),
    }
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct ReviewQuery {
    /// `open` (default), `confirmed`, `rejected` or `all`.
    pub status: Option<String>,
    pub cursor: Option<String>,
    pub limit: Option<u32>,
}

/// The queue, oldest first.
#[utoipa::path(get, path = "/v1/review", tag = "review", params(ReviewQuery), responses((status = 200, body = [ReviewItem])), security(("bearer" = [])))]
pub async fn list(
    State(app): State<AppState>,
    caller: Caller,
    Query(q): Query<ReviewQuery>,
) -> ApiResult<Json<Vec<ReviewItem>>> {
    caller.require(&[Role::Reviewer, Role::Auditor])?;
    let status = q.status.unwrap_or_else(|| "open".into());
    if !matches!(status.as_str(), "open" | "confirmed" | "rejected" | "all") {
        return Err(ApiError::bad_request(
            "invalid_status",
            "status is open, confirmed, rejected or all",
        ));
    }
    let limit = i64::from(q.limit.unwrap_or(100).clamp(1, 1000));
    let sql = format!("{SELECT} WHERE (? = 'all' OR status = ?) AND id > ? ORDER BY id LIMIT ?");
    let rows = sqlx::query(&sql)
        .bind(&status)
        .bind(&status)
        .bind(q.cursor.unwrap_or_default())
        .bind(limit)
        .fetch_all(app.store.reader())
        .await?;
    Ok(Json(rows.iter().map(item_from_row).collect()))
}

pub async fn load_item(app: &App, id: &str) -> ApiResult<ReviewItem> {
    let sql = format!("{SELECT} WHERE id = ?");
    let r = sqlx::query(&sql)
        .bind(id)
        .fetch_optional(app.store.reader())
        .await?
        .ok_or_else(|| {
            ApiError::not_found("review_item_not_found", format!("no review item {id:?}"))
        })?;
    Ok(item_from_row(&r))
}

/// One item.
#[utoipa::path(get, path = "/v1/review/{item}", tag = "review", params(("item" = String, Path)), responses((status = 200, body = ReviewItem)), security(("bearer" = [])))]
pub async fn get_item(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<ReviewItem>> {
    caller.require(&[Role::Reviewer, Role::Auditor])?;
    Ok(Json(load_item(&app, &id).await?))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Confirm {
    /// Add the item's signals to this bank (provenance own_review); it matches at once.
    pub add_to_bank: Option<String>,
    #[serde(default)]
    pub reason: String,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Reject {
    #[serde(default)]
    pub reason: String,
}

/// Confirm: a held decision stands (now a human decision); optionally grow a bank.
#[utoipa::path(post, path = "/v1/review/{item}/confirm", tag = "review", params(("item" = String, Path)), request_body = Confirm, responses((status = 200, body = ReviewItem), (status = 409)), security(("bearer" = [])))]
pub async fn confirm(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    body: Result<Json<Confirm>, axum::extract::rejection::JsonRejection>,
) -> ApiResult<Json<ReviewItem>> {
    caller.require(&[Role::Reviewer])?;
    let Json(c) = body?;
    check_text("reason", &c.reason, 2000)?;
    finish(
        &app,
        &caller,
        &id,
        ReviewOutcome::Confirmed,
        c.add_to_bank,
        c.reason,
    )
    .await?;
    Ok(Json(load_item(&app, &id).await?))
}

/// Reject: a held decision is lifted (the content may be delivered); the affected are told.
#[utoipa::path(post, path = "/v1/review/{item}/reject", tag = "review", params(("item" = String, Path)), request_body = Reject, responses((status = 200, body = ReviewItem), (status = 409)), security(("bearer" = [])))]
pub async fn reject(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    body: Result<Json<Reject>, axum::extract::rejection::JsonRejection>,
) -> ApiResult<Json<ReviewItem>> {
    caller.require(&[Role::Reviewer])?;
    let Json(r) = body?;
    check_text("reason", &r.reason, 2000)?;
    finish(&app, &caller, &id, ReviewOutcome::Rejected, None, r.reason).await?;
    Ok(Json(load_item(&app, &id).await?))
}

async fn finish(
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
            let row = sqlx::query("SELECT id, category FROM banks WHERE name = ?")
                .bind(name)
                .fetch_optional(app.store.reader())
                .await?
                .ok_or_else(|| {
                    ApiError::not_found("bank_not_found", format!("no bank {name:?}"))
                })?;
            Some((row.get::<i64, _>(0), name.clone(), row.get::<String, _>(1)))
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
                let n = sqlx::query(
                    "UPDATE review_items SET status = ?, reviewer = ?, reviewed_at = ?, reason = ?, bank_content = ? WHERE id = ? AND status = 'open'",
                )
                .bind(status)
                .bind(&who)
                .bind(&now)
                .bind(&reason)
                .bind(&content_id)
                .bind(&id)
                .execute(&mut ctx.conn)
                .await?
                .rows_affected();
                if n == 0 {
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
                    sqlx::query("UPDATE decisions SET status = ?, decided_by = ? WHERE id = ? AND status = 'in_force'")
                        .bind(new_status)
                        .bind(&who)
                        .bind(decision)
                        .execute(&mut ctx.conn)
                        .await?;
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
                sqlx::query("UPDATE review_items SET review_log_index = ?, bank_log_index = ? WHERE id = ?")
                    .bind(entry as i64)
                    .bind(bank_index.map(|i| i as i64))
                    .bind(&id)
                    .execute(&mut ctx.conn)
                    .await?;
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

/// `(sender_account, notify_recipients, nonce)` of a review item row.
type PersonRow = (Option<String>, Option<String>, Option<Vec<u8>>);

pub async fn load_person(app: &App, item: &str) -> ApiResult<Person> {
    let row: Option<PersonRow> = sqlx::query_as(
        "SELECT sender_account, notify_recipients, nonce FROM review_items WHERE id = ?",
    )
    .bind(item)
    .fetch_optional(app.store.reader())
    .await?;
    let (sender, recipients, nonce) = row.ok_or_else(|| {
        ApiError::not_found("review_item_not_found", format!("no review item {item:?}"))
    })?;
    Ok(Person {
        sender,
        recipients: recipients
            .and_then(|r| serde_json::from_str(&r).ok())
            .unwrap_or_default(),
        nonce,
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
    sqlx::query(
        "INSERT INTO notices (id, decision_id, review_item, account, role, kind, text, created_at, deferred_legal_basis, log_index) \
         VALUES (?, NULL, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(&id)
    .bind(item)
    .bind(account)
    .bind(role)
    .bind(kind)
    .bind(text)
    .bind(now)
    .bind(deferred_legal_basis)
    .bind(entry as i64)
    .execute(&mut ctx.conn)
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
    let parties: Vec<(String, String)> = sqlx::query_as(
        "SELECT account, role FROM notices WHERE decision_id = ? AND kind = 'decision'",
    )
    .bind(decision)
    .fetch_all(&mut ctx.conn)
    .await?;
    for (account, role) in parties {
        sqlx::query(
            "INSERT INTO notices (id, decision_id, account, role, kind, text, created_at, log_index) VALUES (?, ?, ?, ?, 'outcome', ?, ?, ?)",
        )
        .bind(new_id())
        .bind(decision)
        .bind(&account)
        .bind(&role)
        .bind(text)
        .bind(now)
        .bind(entry as i64)
        .execute(&mut ctx.conn)
        .await?;
    }
    Ok(())
}
