//! Exchanges (`[[exchange]]` in the config file, and those created through HMA's
//! `POST /c/exchanges`): their state, and a sync on demand. The flow is
//! `crate::flows::exchanges`.

use axum::extract::{Path, State};
use axum::Json;

use crate::auth::{Caller, Role};
use crate::error::ApiResult;
use crate::flows::exchanges::{self, ExchangeStatus, SyncReport};
use crate::AppState;

/// Every exchange — the config file's, then those created through the API — with where it is
/// defined (`defined_in`), whether it is enabled, kind, bank, checkpoint, last fetch and
/// success, last error and counts (the bank readers). Never a credential.
#[utoipa::path(get, path = "/v1/exchanges", tag = "exchanges", responses((status = 200, body = [ExchangeStatus])), security(("bearer" = [])))]
pub async fn list(
    State(app): State<AppState>,
    caller: Caller,
) -> ApiResult<Json<Vec<ExchangeStatus>>> {
    caller.require(super::banks::BANK_READERS)?;
    Ok(Json(exchanges::status(&app).await?))
}

/// Sync one exchange now, page by page until the source is up to date (curator). 409 while
/// another sync of it runs or when it is disabled; 502 when the source fails or refuses the credentials (what was
/// applied stays, the next sync resumes there).
#[utoipa::path(post, path = "/v1/exchanges/{name}/sync", tag = "exchanges", params(("name" = String, Path)), responses((status = 200, body = SyncReport), (status = 404, description = "no such exchange, or its bank does not exist"), (status = 409, description = "a sync of it runs now (`sync_running`), or it is disabled (`exchange_disabled`)"), (status = 500, description = "the exchange is misconfigured (e.g. a missing credential)"), (status = 502, description = "the source failed, refused the credentials or sent a malformed answer")), security(("bearer" = [])))]
pub async fn sync(
    State(app): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
) -> ApiResult<Json<SyncReport>> {
    caller.require(&[Role::Curator])?;
    Ok(Json(exchanges::sync(&app, &name, &|_| {}).await?))
}
