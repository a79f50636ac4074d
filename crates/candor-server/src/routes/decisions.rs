//! Decisions and notices: what was decided, and what each affected person is told.

use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::Json;
use serde::{Deserialize, Serialize};
use sqlx::Row;

use crate::auth::{Caller, Role};
use crate::error::{ApiError, ApiResult};
use crate::{now_rfc3339, App, AppState};

pub const DECISION_READERS: &[Role] = &[Role::Platform, Role::Reviewer, Role::Auditor];

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DecisionView {
    pub id: String,
    pub created_at: String,
    /// The platform's content id.
    pub puid: String,
    pub surface: String,
    pub action: String,
    pub policy: String,
    pub jurisdictions: Vec<String>,
    #[schema(value_type = Object)]
    pub statement: serde_json::Value,
    #[schema(value_type = Object)]
    pub matches: serde_json::Value,
    /// `in_force`, `confirmed` (by review), `lifted` (review rejected the hold), `reversed` (appeal).
    pub status: String,
    /// `automated` or the reviewer who confirmed it.
    pub decided_by: String,
    pub log_index: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub review_item: Option<String>,
}

pub async fn load_decision(app: &App, id: &str) -> ApiResult<DecisionView> {
    let r = sqlx::query(
        "SELECT id, created_at, puid, surface, action, policy_id, jurisdictions, statement, matches, status, decided_by, log_index, review_item \
         FROM decisions WHERE id = ?",
    )
    .bind(id)
    .fetch_optional(app.store.reader())
    .await?
    .ok_or_else(|| ApiError::not_found("decision_not_found", format!("no decision {id:?}")))?;
    Ok(DecisionView {
        id: r.get(0),
        created_at: r.get(1),
        puid: r.get(2),
        surface: r.get(3),
        action: r.get(4),
        policy: r.get(5),
        jurisdictions: serde_json::from_str(r.get::<&str, _>(6)).unwrap_or_default(),
        statement: serde_json::from_str(r.get::<&str, _>(7)).unwrap_or_default(),
        matches: serde_json::from_str(r.get::<&str, _>(8)).unwrap_or_default(),
        status: r.get(9),
        decided_by: r.get(10),
        log_index: r.get(11),
        review_item: r.get(12),
    })
}

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

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct NoticeView {
    pub id: String,
    /// The decision the notice is about (absent for a notice about a review item).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decision: Option<String>,
    /// The review item the notice is about: the person's content sampled into review, the
    /// review's outcome, or its addition to a bank (absent for a notice about a decision).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub review_item: Option<String>,
    pub account: String,
    /// `sender`, `recipient` or `appellant`.
    pub role: String,
    /// `decision` (the first notice), `outcome` (review or appeal result of a decision),
    /// `sampled` (unknown content picked for human review), `review_outcome` (the review of
    /// sampled content), `bank_addition` (a review added the content to a bank) or
    /// `appeal_outcome` (the appeal of a bank addition).
    pub kind: String,
    /// The statement in plain words.
    pub text: String,
    pub created_at: String,
    /// Set while the notice is deferred: the recorded legal basis.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deferred_legal_basis: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub released_at: Option<String>,
    /// The log entry this notice is about (the decision, the sampling, the review outcome or
    /// the bank addition).
    pub log_index: Option<i64>,
    /// Opens the entry's `content_commitment`: SHA-256 commitment to `puid` with this nonce.
    pub content_nonce: String,
    pub puid: String,
    /// How to appeal.
    pub appeal: String,
    /// Where the inclusion proof (c2sp tlog-proof file) is fetched.
    pub proof_url: String,
    /// The proof itself (in `GET /v1/notices/{id}`): the entry, its inclusion proof and the
    /// signed checkpoint, checked offline with `candor log verify-proof FILE --key KEY`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub proof: Option<String>,
}

fn notice_from_row(r: &sqlx::sqlite::SqliteRow) -> NoticeView {
    let id: String = r.get(0);
    let decision: Option<String> = r.get(1);
    let review_item: Option<String> = r.get(12);
    let appeal = match (&decision, &review_item) {
        (Some(d), _) => format!(
            "Ask the platform to appeal for you, or it calls POST /v1/appeals with {{\"decision\": \"{d}\", \"account\": <your account>, \"reason\": ...}}. \
             A reviewer who did not take this decision will decide."
        ),
        (None, Some(item)) => format!(
            "If a review added your content to a bank, you can contest the addition: ask the platform to appeal for you, or it calls POST /v1/appeals with \
             {{\"review_item\": \"{item}\", \"account\": <your account>, \"reason\": ...}}. A reviewer who did not review it will decide; a successful \
             appeal removes the content from the bank."
        ),
        (None, None) => String::new(),
    };
    NoticeView {
        proof_url: format!("/v1/notices/{id}/proof"),
        appeal,
        id,
        decision,
        review_item,
        account: r.get(2),
        role: r.get(3),
        kind: r.get(4),
        text: r.get(5),
        created_at: r.get(6),
        deferred_legal_basis: r.get(7),
        released_at: r.get(8),
        log_index: r.get(9),
        content_nonce: hex::encode(r.get::<Option<Vec<u8>>, _>(10).unwrap_or_default()),
        puid: r.get::<Option<String>, _>(11).unwrap_or_default(),
        proof: None,
    }
}

const NOTICE_SELECT: &str = "SELECT n.id, n.decision_id, n.account, n.role, n.kind, n.text, n.created_at, n.deferred_legal_basis, n.released_at, n.log_index, \
     COALESCE(d.nonce, r.nonce), COALESCE(d.puid, r.puid), n.review_item \
     FROM notices n LEFT JOIN decisions d ON d.id = n.decision_id LEFT JOIN review_items r ON r.id = n.review_item";

pub async fn notices_of_account(
    app: &App,
    account: &str,
    include_deferred: bool,
) -> ApiResult<Vec<NoticeView>> {
    let sql = format!(
        "{NOTICE_SELECT} WHERE n.account = ? AND (? OR n.deferred_legal_basis IS NULL OR n.released_at IS NOT NULL) ORDER BY n.id"
    );
    let rows = sqlx::query(&sql)
        .bind(account)
        .bind(include_deferred)
        .fetch_all(app.store.reader())
        .await?;
    Ok(rows.iter().map(notice_from_row).collect())
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

async fn load_notice(app: &App, id: &str) -> ApiResult<NoticeView> {
    let sql = format!("{NOTICE_SELECT} WHERE n.id = ?");
    let r = sqlx::query(&sql)
        .bind(id)
        .fetch_optional(app.store.reader())
        .await?
        .ok_or_else(|| ApiError::not_found("notice_not_found", format!("no notice {id:?}")))?;
    Ok(notice_from_row(&r))
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
    app.store
        .write(move |ctx| {
            Box::pin(async move {
                let n = sqlx::query("UPDATE notices SET released_at = ? WHERE id = ? AND deferred_legal_basis IS NOT NULL AND released_at IS NULL")
                    .bind(&now)
                    .bind(&id2)
                    .execute(&mut ctx.conn)
                    .await?
                    .rows_affected();
                if n == 0 {
                    return Err(candor_store::StoreError::Rejected(format!("notice {id2:?} is not a deferred notice")));
                }
                Ok(())
            })
        })
        .await?;
    Ok((StatusCode::OK, Json(load_notice(&app, &id).await?)))
}
