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
    pub decision: String,
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

const SELECT: &str = "SELECT id, decision_id, account, reason, created_at, status, reviewer, decided_at, outcome, outcome_reason FROM appeals";

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
    pub decision: String,
    /// The affected account (the sender or a recipient the decision names).
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
    let d = load_decision(&app, &a.decision).await?;
    let affected: Option<i64> =
        sqlx::query_scalar("SELECT 1 FROM decision_accounts WHERE decision_id = ? AND account = ?")
            .bind(&a.decision)
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
                    .bind(&a.decision)
                    .bind(&a.account)
                    .fetch_optional(&mut ctx.conn)
                    .await?;
                if let Some(o) = open {
                    return Err(candor_store::StoreError::Rejected(format!("appeal {o} is already open for this decision and account")));
                }
                sqlx::query("INSERT INTO appeals (id, decision_id, account, reason, created_at, status) VALUES (?, ?, ?, ?, ?, 'open')")
                    .bind(&id2)
                    .bind(&a.decision)
                    .bind(&a.account)
                    .bind(&a.reason)
                    .bind(&now)
                    .execute(&mut ctx.conn)
                    .await?;
                append(ctx, &st, &now, EntryBody::Appeal(AppealEntry { appeal: id2.clone(), decision: a.decision.clone() }))
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
    let d = load_decision(&app, &appeal.decision).await?;
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
    let bank_content: Option<(String, String)> = match &d.review_item {
        Some(item) => sqlx::query_as(
            "SELECT b.name, c.public_id FROM review_items r JOIN bank_content c ON c.public_id = r.bank_content \
             JOIN banks b ON b.id = c.bank_id WHERE r.id = ? AND c.retracted_at IS NULL",
        )
        .bind(item)
        .fetch_optional(app.store.reader())
        .await?,
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
                        .bind(&appeal.decision)
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
                    decision: appeal.decision.clone(),
                    outcome,
                }))?;
                outcome_notices(ctx, &appeal.decision, &text, &now, entry).await?;
                Ok(())
            })
        })
        .await?;
    Ok(Json(load_appeal(&app, &id).await?))
}
