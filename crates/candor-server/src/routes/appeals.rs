//! Appeals: the affected user, through the platform, asks to reconsider a decision; a reviewer
//! who did not take it decides (enforced). A reversal undoes the decision's effects.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use candor_log::entry::{AppealEntry, AppealOutcome, AppealOutcomeEntry, ContentOp, EntryBody};
use serde::{Deserialize, Serialize};
use sqlx::Row;

use super::check_text;
use crate::auth::{Caller, Role};
use crate::entries::append;
use crate::error::{ApiError, ApiResult};
use crate::routes::banks::change_content_in;
use crate::routes::decisions::load_decision;
use crate::routes::review::outcome_notices;
use crate::{new_id, now_rfc3339, App, AppState};

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Appeal {
    pub id: String,
    /// The decision appealed (absent for an appeal against a bank addition).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decision: Option<String>,
    /// The review item whose bank addition is appealed (absent for an appeal of a decision).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub review_item: Option<String>,
    pub account: String,
    pub reason: String,
    pub created_at: String,
    /// `open` or `decided`.
    pub status: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reviewer: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decided_at: Option<String>,
    /// `upheld` or `reversed`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub outcome: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub outcome_reason: Option<String>,
    /// The appeal's log entry.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_index: Option<u64>,
}

const SELECT: &str = "SELECT id, decision_id, account, reason, created_at, status, reviewer, decided_at, outcome, outcome_reason, review_item FROM appeals";

fn appeal_from_row(r: &sqlx::sqlite::SqliteRow) -> Appeal {
    Appeal {
        id: r.get(0),
        decision: r.get(1),
        account: r.get(2),
        reason: r.get(3),
        created_at: r.get(4),
        status: r.get(5),
        reviewer: r.get(6),
        decided_at: r.get(7),
        outcome: r.get(8),
        outcome_reason: r.get(9),
        review_item: r.get(10),
        log_index: None,
    }
}

pub async fn load_appeal(app: &App, id: &str) -> ApiResult<Appeal> {
    let sql = format!("{SELECT} WHERE id = ?");
    let r = sqlx::query(&sql)
        .bind(id)
        .fetch_optional(app.store.reader())
        .await?
        .ok_or_else(|| ApiError::not_found("appeal_not_found", format!("no appeal {id:?}")))?;
    Ok(appeal_from_row(&r))
}

pub async fn appeals_of_account(app: &App, account: &str) -> ApiResult<Vec<Appeal>> {
    let sql = format!("{SELECT} WHERE account = ? ORDER BY id");
    let rows = sqlx::query(&sql)
        .bind(account)
        .fetch_all(app.store.reader())
        .await?;
    Ok(rows.iter().map(appeal_from_row).collect())
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewAppeal {
    /// The decision to appeal; or
    pub decision: Option<String>,
    /// the review item whose addition of the account's content to a bank is appealed.
    pub review_item: Option<String>,
    /// The affected account (the sender or a recipient the decision names; the sender of the
    /// reviewed content).
    pub account: String,
    pub reason: String,
}

/// File an appeal on behalf of an affected user.
#[utoipa::path(post, path = "/v1/appeals", tag = "appeals", request_body = NewAppeal, responses((status = 201, body = Appeal), (status = 403), (status = 409)), security(("bearer" = [])))]
pub async fn create(
    State(app): State<AppState>,
    caller: Caller,
    body: Result<Json<NewAppeal>, axum::extract::rejection::JsonRejection>,
) -> ApiResult<(StatusCode, Json<Appeal>)> {
    caller.require(&[Role::Platform])?;
    let Json(a) = body?;
    if a.reason.trim().is_empty() {
        return Err(ApiError::bad_request(
            "reason_required",
            "an appeal needs a reason",
        ));
    }
    check_text("reason", &a.reason, 5000)?;
    let decision_id = match (&a.decision, &a.review_item) {
        (Some(d), None) => d.clone(),
        (None, Some(item)) => return create_addition_appeal(&app, item, a.account, a.reason).await,
        _ => {
            return Err(ApiError::bad_request(
                "invalid_appeal",
                "give exactly one of `decision` and `review_item`",
            ))
        }
    };
    let d = load_decision(&app, &decision_id).await?;
    let affected: Option<i64> =
        sqlx::query_scalar("SELECT 1 FROM decision_accounts WHERE decision_id = ? AND account = ?")
            .bind(&decision_id)
            .bind(&a.account)
            .fetch_optional(app.store.reader())
            .await?;
    if affected.is_none() {
        return Err(ApiError::forbidden(
            "only an account the decision affects can appeal it",
        ));
    }
    if d.status == "reversed" || d.status == "lifted" {
        return Err(ApiError::conflict(
            "not_in_force",
            format!("the decision is {}", d.status),
        ));
    }
    let id = new_id();
    let now = now_rfc3339();
    let st = app.clone();
    let id2 = id.clone();
    let index = app
        .store
        .write(move |ctx| {
            Box::pin(async move {
                let open: Option<String> = sqlx::query_scalar("SELECT id FROM appeals WHERE decision_id = ? AND account = ? AND status = 'open'")
                    .bind(&decision_id)
                    .bind(&a.account)
                    .fetch_optional(&mut ctx.conn)
                    .await?;
                if let Some(o) = open {
                    return Err(candor_store::StoreError::Rejected(format!("appeal {o} is already open for this decision and account")));
                }
                sqlx::query("INSERT INTO appeals (id, decision_id, account, reason, created_at, status) VALUES (?, ?, ?, ?, ?, 'open')")
                    .bind(&id2)
                    .bind(&decision_id)
                    .bind(&a.account)
                    .bind(&a.reason)
                    .bind(&now)
                    .execute(&mut ctx.conn)
                    .await?;
                append(ctx, &st, &now, EntryBody::Appeal(AppealEntry { appeal: id2.clone(), decision: Some(decision_id.clone()), review_item: None }))
            })
        })
        .await?;
    let mut out = load_appeal(&app, &id).await?;
    out.log_index = Some(index);
    Ok((StatusCode::CREATED, Json(out)))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct AppealQuery {
    /// `open` (default), `decided` or `all`.
    pub status: Option<String>,
}

/// Appeals, oldest first.
#[utoipa::path(get, path = "/v1/appeals", tag = "appeals", params(AppealQuery), responses((status = 200, body = [Appeal])), security(("bearer" = [])))]
pub async fn list(
    State(app): State<AppState>,
    caller: Caller,
    Query(q): Query<AppealQuery>,
) -> ApiResult<Json<Vec<Appeal>>> {
    caller.require(&[Role::Reviewer, Role::Auditor])?;
    let status = q.status.unwrap_or_else(|| "open".into());
    if !matches!(status.as_str(), "open" | "decided" | "all") {
        return Err(ApiError::bad_request(
            "invalid_status",
            "status is open, decided or all",
        ));
    }
    let sql = format!("{SELECT} WHERE (? = 'all' OR status = ?) ORDER BY id LIMIT 1000");
    let rows = sqlx::query(&sql)
        .bind(&status)
        .bind(&status)
        .fetch_all(app.store.reader())
        .await?;
    Ok(Json(rows.iter().map(appeal_from_row).collect()))
}

/// One appeal.
#[utoipa::path(get, path = "/v1/appeals/{appeal}", tag = "appeals", params(("appeal" = String, Path)), responses((status = 200, body = Appeal)), security(("bearer" = [])))]
pub async fn get_appeal(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<Appeal>> {
    caller.require(&[Role::Reviewer, Role::Auditor, Role::Platform])?;
    Ok(Json(load_appeal(&app, &id).await?))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AppealDecision {
    /// `upheld` or `reversed`.
    pub outcome: String,
    pub reason: String,
}

/// Decide an appeal. The reviewer must not be the one who took the decision.
#[utoipa::path(post, path = "/v1/appeals/{appeal}/decide", tag = "appeals", params(("appeal" = String, Path)), request_body = AppealDecision, responses((status = 200, body = Appeal), (status = 403), (status = 409)), security(("bearer" = [])))]
pub async fn decide(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    body: Result<Json<AppealDecision>, axum::extract::rejection::JsonRejection>,
) -> ApiResult<Json<Appeal>> {
    caller.require(&[Role::Reviewer])?;
    let Json(b) = body?;
    let outcome = match b.outcome.as_str() {
        "upheld" => AppealOutcome::Upheld,
        "reversed" => AppealOutcome::Reversed,
        o => {
            return Err(ApiError::bad_request(
                "invalid_outcome",
                format!("outcome is upheld or reversed, not {o:?}"),
            ))
        }
    };
    if b.reason.trim().is_empty() {
        return Err(ApiError::bad_request(
            "reason_required",
            "an appeal decision needs reasons",
        ));
    }
    check_text("reason", &b.reason, 5000)?;
    let appeal = load_appeal(&app, &id).await?;
    if appeal.status != "open" {
        return Err(ApiError::conflict(
            "already_decided",
            format!("appeal {id:?} is {}", appeal.status),
        ));
    }
    let Some(decision_id) = appeal.decision.clone() else {
        let item = appeal.review_item.clone().unwrap_or_default();
        decide_addition_appeal(
            &app,
            &caller,
            &id,
            &item,
            &appeal.account,
            outcome,
            b.reason,
        )
        .await?;
        return Ok(Json(load_appeal(&app, &id).await?));
    };
    let d = load_decision(&app, &decision_id).await?;
    let who = caller.who();
    // The reviewer who confirmed a held decision took it; so did whoever confirmed its review.
    let reviewed_by: Option<String> = match &d.review_item {
        Some(item) => sqlx::query_scalar("SELECT reviewer FROM review_items WHERE id = ?")
            .bind(item)
            .fetch_optional(app.store.reader())
            .await?
            .flatten(),
        None => None,
    };
    if d.decided_by == who || reviewed_by.as_deref() == Some(who.as_str()) {
        return Err(ApiError::forbidden(
            "you took this decision: another reviewer must decide the appeal",
        ));
    }
    let now = now_rfc3339();
    let st = app.clone();
    let id2 = id.clone();
    let bank_content = match &d.review_item {
        Some(item) => live_addition(&app, item).await?,
        None => None,
    };
    app.store
        .write(move |ctx| {
            Box::pin(async move {
                let outcome_s = if outcome == AppealOutcome::Upheld { "upheld" } else { "reversed" };
                let n = sqlx::query(
                    "UPDATE appeals SET status = 'decided', reviewer = ?, decided_at = ?, outcome = ?, outcome_reason = ? WHERE id = ? AND status = 'open'",
                )
                .bind(&who)
                .bind(&now)
                .bind(outcome_s)
                .bind(&b.reason)
                .bind(&id2)
                .execute(&mut ctx.conn)
                .await?
                .rows_affected();
                if n == 0 {
                    return Err(candor_store::StoreError::Rejected(format!("appeal {id2:?} was decided meanwhile")));
                }
                let text = if outcome == AppealOutcome::Reversed {
                    sqlx::query("UPDATE decisions SET status = 'reversed' WHERE id = ?")
                        .bind(&decision_id)
                        .execute(&mut ctx.conn)
                        .await?;
                    // Undo the effects: content a reviewer added to a bank from this decision stops matching.
                    if let Some((bank, content)) = &bank_content {
                        change_content_in(ctx, &st, bank, content, ContentOp::Retract, Some(format!("appeal {id2} reversed the decision")), &now).await?;
                    }
                    format!("Your appeal was successful: the decision was reversed. Reasons: {}", b.reason)
                } else {
                    format!("Your appeal was reviewed and the decision was upheld. Reasons: {}", b.reason)
                };
                let entry = append(ctx, &st, &now, EntryBody::AppealOutcome(AppealOutcomeEntry {
                    appeal: id2.clone(),
                    decision: Some(decision_id.clone()),
                    review_item: None,
                    outcome,
                }))?;
                outcome_notices(ctx, &decision_id, &text, &now, entry).await?;
                Ok(())
            })
        })
        .await?;
    Ok(Json(load_appeal(&app, &id).await?))
}

/// The bank content a review item added, while it still matches: (bank name, content id).
async fn live_addition(app: &App, item: &str) -> ApiResult<Option<(String, String)>> {
    Ok(sqlx::query_as(
        "SELECT b.name, c.public_id FROM review_items r JOIN bank_content c ON c.public_id = r.bank_content \
         JOIN banks b ON b.id = c.bank_id WHERE r.id = ? AND c.retracted_at IS NULL",
    )
    .bind(item)
    .fetch_optional(app.store.reader())
    .await?)
}

/// An appeal against the addition of the appellant's content to a bank by a review.
async fn create_addition_appeal(
    app: &std::sync::Arc<App>,
    item: &str,
    account: String,
    reason: String,
) -> ApiResult<(StatusCode, Json<Appeal>)> {
    crate::routes::review::load_item(app, item).await?;
    let person = crate::routes::review::load_person(app, item).await?;
    if person.sender.as_deref() != Some(account.as_str()) {
        return Err(ApiError::forbidden(
            "only the account whose content the review added to a bank can appeal the addition",
        ));
    }
    if live_addition(app, item).await?.is_none() {
        return Err(ApiError::conflict(
            "nothing_to_appeal",
            "this review added nothing to a bank that still matches",
        ));
    }
    let id = new_id();
    let now = now_rfc3339();
    let st = app.clone();
    let (id2, item2) = (id.clone(), item.to_string());
    let index = app
        .store
        .write(move |ctx| {
            Box::pin(async move {
                let open: Option<String> = sqlx::query_scalar("SELECT id FROM appeals WHERE review_item = ? AND account = ? AND status = 'open'")
                    .bind(&item2)
                    .bind(&account)
                    .fetch_optional(&mut ctx.conn)
                    .await?;
                if let Some(o) = open {
                    return Err(candor_store::StoreError::Rejected(format!("appeal {o} is already open for this addition")));
                }
                sqlx::query("INSERT INTO appeals (id, review_item, account, reason, created_at, status) VALUES (?, ?, ?, ?, ?, 'open')")
                    .bind(&id2)
                    .bind(&item2)
                    .bind(&account)
                    .bind(&reason)
                    .bind(&now)
                    .execute(&mut ctx.conn)
                    .await?;
                append(ctx, &st, &now, EntryBody::Appeal(AppealEntry { appeal: id2.clone(), decision: None, review_item: Some(item2.clone()) }))
            })
        })
        .await?;
    let mut out = load_appeal(app, &id).await?;
    out.log_index = Some(index);
    Ok((StatusCode::CREATED, Json(out)))
}

/// Decide an appeal against a bank addition: a reviewer other than the one who reviewed the
/// item; reversal retracts the bank content (it stops matching at once).
#[allow(clippy::too_many_arguments)]
async fn decide_addition_appeal(
    app: &std::sync::Arc<App>,
    caller: &Caller,
    id: &str,
    item: &str,
    appellant: &str,
    outcome: AppealOutcome,
    reason: String,
) -> ApiResult<()> {
    let reviewed = crate::routes::review::load_item(app, item).await?;
    let who = caller.who();
    if reviewed.reviewer.as_deref() == Some(who.as_str()) {
        return Err(ApiError::forbidden(
            "you reviewed this item: another reviewer must decide the appeal",
        ));
    }
    let addition = live_addition(app, item).await?;
    let bank_name = addition
        .as_ref()
        .map(|a| a.0.clone())
        .unwrap_or_else(|| "(already retracted)".into());
    let now = now_rfc3339();
    let st = app.clone();
    let (id2, item2, appellant) = (id.to_string(), item.to_string(), appellant.to_string());
    app.store
        .write(move |ctx| {
            Box::pin(async move {
                let reversed = outcome == AppealOutcome::Reversed;
                let n = sqlx::query(
                    "UPDATE appeals SET status = 'decided', reviewer = ?, decided_at = ?, outcome = ?, outcome_reason = ? WHERE id = ? AND status = 'open'",
                )
                .bind(&who)
                .bind(&now)
                .bind(if reversed { "reversed" } else { "upheld" })
                .bind(&reason)
                .bind(&id2)
                .execute(&mut ctx.conn)
                .await?
                .rows_affected();
                if n == 0 {
                    return Err(candor_store::StoreError::Rejected(format!("appeal {id2:?} was decided meanwhile")));
                }
                if reversed {
                    if let Some((bank, content)) = &addition {
                        change_content_in(ctx, &st, bank, content, ContentOp::Retract, Some(format!("appeal {id2} reversed the addition")), &now).await?;
                    }
                }
                let entry = append(ctx, &st, &now, EntryBody::AppealOutcome(AppealOutcomeEntry {
                    appeal: id2.clone(),
                    decision: None,
                    review_item: Some(item2.clone()),
                    outcome,
                }))?;
                let text = crate::texts::addition_appeal_outcome(reversed, &bank_name, &reason);
                crate::routes::review::item_notice(ctx, &item2, &appellant, "appellant", "appeal_outcome", &text, &now, entry, None).await?;
                Ok(())
            })
        })
        .await?;
    Ok(())
}
