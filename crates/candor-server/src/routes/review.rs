//! The review queue: held scans and sampled unknown content, as hashes plus the platform's
//! reference. A reviewer confirms (optionally adding the content to a bank, which then
//! matches at once) or rejects; who reviewed is recorded and the outcome logged.

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue};
use axum::Json;
use candor_log::entry::ReviewOutcome;
use serde::Deserialize;

use super::check_text;
use crate::auth::{Caller, Role};
use crate::error::{ApiError, ApiResult};
use crate::flows::review::{cursor_after, finish, list_items, QueueOrder};
pub use crate::flows::review::{load_item, ReviewItem};
use crate::AppState;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct ReviewQuery {
    /// `open` (default), `confirmed`, `rejected` or `all`.
    pub status: Option<String>,
    /// `oldest` (default: oldest first) or `priority` (highest `priority` first, oldest first
    /// within a priority).
    pub order: Option<String>,
    /// Continue after this item: for `oldest` its id, for `priority` `<priority>:<id>` (the
    /// `X-Next-Cursor` header of the previous page).
    pub cursor: Option<String>,
    pub limit: Option<u32>,
}

/// The queue, oldest first or highest priority first. A full page carries the cursor of the
/// next in `X-Next-Cursor`.
#[utoipa::path(get, path = "/v1/review", tag = "review", params(ReviewQuery), responses((status = 200, body = [ReviewItem], headers(("X-Next-Cursor" = String, description = "the cursor of the next page, when this one is full")))), security(("bearer" = [])))]
pub async fn list(
    State(app): State<AppState>,
    caller: Caller,
    Query(q): Query<ReviewQuery>,
) -> ApiResult<(HeaderMap, Json<Vec<ReviewItem>>)> {
    caller.require(&[Role::Reviewer, Role::Auditor])?;
    let status = q.status.unwrap_or_else(|| "open".into());
    if !matches!(status.as_str(), "open" | "confirmed" | "rejected" | "all") {
        return Err(ApiError::bad_request(
            "invalid_status",
            "status is open, confirmed, rejected or all",
        ));
    }
    let order = match q.order.as_deref().unwrap_or("oldest") {
        "oldest" => QueueOrder::Oldest,
        "priority" => QueueOrder::Priority,
        _ => {
            return Err(ApiError::bad_request(
                "invalid_order",
                "order is oldest or priority",
            ))
        }
    };
    let limit = i64::from(q.limit.unwrap_or(100).clamp(1, 1000));
    let items = list_items(&app, &status, order, &q.cursor.unwrap_or_default(), limit).await?;
    let mut headers = HeaderMap::new();
    if items.len() as i64 == limit {
        if let Some(v) = items
            .last()
            .and_then(|last| HeaderValue::from_str(&cursor_after(last, order)).ok())
        {
            headers.insert("x-next-cursor", v);
        }
    }
    Ok((headers, Json(items)))
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
