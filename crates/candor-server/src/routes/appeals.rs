//! Appeals: the affected user, through the platform, asks to reconsider a decision (or a
//! review's addition of their content to a bank); the flow is `crate::flows::appeals`.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use candor_log::entry::AppealOutcome;
use candor_store::appeals::Subject;
use serde::Deserialize;

use super::check_text;
use crate::auth::{Caller, Role};
use crate::error::{ApiError, ApiResult};
pub use crate::flows::appeals::Appeal;
use crate::flows::appeals::{decide as decide_appeal, file, list_appeals, load_appeal};
use crate::AppState;

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
    let subject = match (a.decision, a.review_item) {
        (Some(d), None) => Subject::Decision(d),
        (None, Some(item)) => Subject::Addition(item),
        _ => {
            return Err(ApiError::bad_request(
                "invalid_appeal",
                "give exactly one of `decision` and `review_item`",
            ))
        }
    };
    let out = file(&app, subject, a.account, a.reason).await?;
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
    Ok(Json(list_appeals(&app, &status).await?))
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
    /// With `reversed` on an appeal of a decision: also retract the bank content the decision
    /// matched (each retraction logged; a person whose content a review had added is told).
    #[serde(default)]
    pub retract_matched: bool,
}

/// Decide an appeal. The reviewer must not be the one who took the decision.
#[utoipa::path(post, path = "/v1/appeals/{appeal}/decide", tag = "appeals", params(("appeal" = String, Path)), request_body = AppealDecision, responses((status = 200, body = Appeal), (status = 400), (status = 403), (status = 409)), security(("bearer" = [])))]
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
    Ok(Json(
        decide_appeal(&app, &caller, &id, outcome, b.reason, b.retract_matched).await?,
    ))
}
