//! Decisions and notices: what was decided, and what each affected person is told.

use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::Json;
use serde::Deserialize;

use crate::auth::{Caller, Role};
use crate::error::{ApiError, ApiResult};
pub use crate::flows::decisions::{
    decisions_of_content, load_decision, load_notice, notices_of_account, notices_of_decision,
    DecisionView, NoticeView,
};
use crate::{now_rfc3339, AppState};

pub const DECISION_READERS: &[Role] = &[Role::Platform, Role::Reviewer, Role::Auditor];

/// One decision with its statement of reasons.
#[utoipa::path(get, path = "/v1/decisions/{decision}", tag = "decisions", params(("decision" = String, Path)), responses((status = 200, body = DecisionView), (status = 404)), security(("bearer" = [])))]
pub async fn get_decision(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<DecisionView>> {
    caller.require(DECISION_READERS)?;
    Ok(Json(load_decision(&app, &id).await?))
}

/// The notices about one decision, each as its person received it: the text worded for the
/// sender or the recipient when the decision was taken (and the outcome of its review or
/// appeal), with how to appeal and where its proof is. Reviewers and auditors also see
/// notices still deferred (with their legal basis); a platform only those it may show.
#[utoipa::path(get, path = "/v1/decisions/{decision}/notices", tag = "decisions", params(("decision" = String, Path)), responses((status = 200, body = [NoticeView]), (status = 404)), security(("bearer" = [])))]
pub async fn decision_notices(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<Vec<NoticeView>>> {
    caller.require(DECISION_READERS)?;
    let include_deferred = caller.role != Role::Platform;
    Ok(Json(
        notices_of_decision(&app, &id, include_deferred).await?,
    ))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct DecisionQuery {
    /// The platform's content id the decisions are about.
    pub puid: String,
    /// At most this many, newest first (default 100, at most 1000).
    pub limit: Option<i64>,
}

/// The decisions about one content, found by the platform's content id, newest first.
#[utoipa::path(get, path = "/v1/decisions", tag = "decisions", params(DecisionQuery), responses((status = 200, body = Vec<DecisionView>), (status = 400)), security(("bearer" = [])))]
pub async fn list_decisions(
    State(app): State<AppState>,
    caller: Caller,
    q: Result<Query<DecisionQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<Json<Vec<DecisionView>>> {
    caller.require(DECISION_READERS)?;
    let Query(q) = q.map_err(|e| ApiError::bad_request("invalid_query", e.body_text()))?;
    if q.puid.is_empty() || q.puid.len() > 512 {
        return Err(ApiError::bad_request(
            "invalid_puid",
            "puid is the platform's content id: 1 to 512 bytes",
        ));
    }
    let limit = q.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::bad_request("invalid_limit", "limit is 1 to 1000"));
    }
    Ok(Json(decisions_of_content(&app, &q.puid, limit).await?))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct NoticeQuery {
    /// The account whose notices to fetch.
    pub account: String,
    /// Include notices still deferred (auditors only).
    pub include_deferred: Option<bool>,
}

/// Notices for an account, to show to its user (deferred notices are withheld until released).
#[utoipa::path(get, path = "/v1/notices", tag = "notices", params(NoticeQuery), responses((status = 200, body = [NoticeView])), security(("bearer" = [])))]
pub async fn list_notices(
    State(app): State<AppState>,
    caller: Caller,
    Query(q): Query<NoticeQuery>,
) -> ApiResult<Json<Vec<NoticeView>>> {
    caller.require(&[Role::Platform, Role::Auditor])?;
    let include = q.include_deferred.unwrap_or(false);
    if include {
        caller.require(&[Role::Auditor])?;
    }
    Ok(Json(notices_of_account(&app, &q.account, include).await?))
}

/// One notice.
#[utoipa::path(get, path = "/v1/notices/{notice}", tag = "notices", params(("notice" = String, Path)), responses((status = 200, body = NoticeView), (status = 404)), security(("bearer" = [])))]
pub async fn get_notice(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<NoticeView>> {
    caller.require(&[Role::Platform, Role::Auditor, Role::Reviewer])?;
    let mut n = load_notice(&app, &id).await?;
    if let Some(i) = n.log_index {
        n.proof = app.store.log_proof(i as u64).await?;
    }
    Ok(Json(n))
}

/// The notice's proof: a c2sp tlog-proof file (the entry, its inclusion proof and the signed
/// checkpoint) that `candor log verify-proof FILE --key KEY` checks offline.
#[utoipa::path(get, path = "/v1/notices/{notice}/proof", tag = "notices", params(("notice" = String, Path)), responses((status = 200, content_type = "text/plain", body = String), (status = 404)), security(("bearer" = [])))]
pub async fn notice_proof(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<impl IntoResponse> {
    caller.require(&[Role::Platform, Role::Auditor, Role::Reviewer])?;
    let n = load_notice(&app, &id).await?;
    let index = n
        .log_index
        .ok_or_else(|| ApiError::not_found("no_log_entry", "this notice has no log entry"))?;
    let proof = app.store.log_proof(index as u64).await?.ok_or_else(|| {
        ApiError::not_found(
            "not_yet_covered",
            "the entry is not yet under a checkpoint; retry",
        )
    })?;
    Ok(([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], proof))
}

/// Release a deferred notice (the legal basis no longer applies).
#[utoipa::path(post, path = "/v1/notices/{notice}/release", tag = "notices", params(("notice" = String, Path)), responses((status = 200, body = NoticeView), (status = 409)), security(("bearer" = [])))]
pub async fn release_notice(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<(StatusCode, Json<NoticeView>)> {
    caller.require(&[Role::Platform, Role::Reviewer])?;
    let now = now_rfc3339();
    let id2 = id.clone();
    let released = app
        .store
        .write(move |ctx| {
            Box::pin(async move {
                candor_store::decisions::release_notice(&mut ctx.conn, &id2, &now).await
            })
        })
        .await?;
    if !released {
        return Err(ApiError::conflict(
            "conflict",
            format!("notice {id:?} is not a deferred notice"),
        ));
    }
    Ok((StatusCode::OK, Json(load_notice(&app, &id).await?)))
}
