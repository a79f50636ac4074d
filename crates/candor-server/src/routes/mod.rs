//! Every route, by room. `router()` is the whole `/v1` API plus `/log`, health and metrics,
//! but for `import_router()` (bank import: its own body limit and timeout).

pub mod access;
pub mod appeals;
pub mod banks;
pub mod compare;
pub mod console;
pub mod decisions;
pub mod exchanges;
pub mod hma;
pub mod log;
pub mod lookup;
pub mod ops;
pub mod policies;
pub mod review;
pub mod scan;
pub mod tokens;

use axum::routing::{get, post};
use axum::Router;
use serde::Deserialize;

use crate::auth::Role;
use crate::error::ApiError;
use crate::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(console::index))
        .route("/console/{file}", get(console::asset))
        .route("/v1/whoami", get(tokens::whoami))
        .route("/healthz", get(ops::healthz))
        .route("/readyz", get(ops::readyz))
        .route("/metrics", get(ops::metrics))
        .route("/v1/numbers", get(ops::numbers))
        .route("/v1/status", get(ops::status))
        .route("/v1/banks", get(banks::list).post(banks::create))
        .route(
            "/v1/banks/{bank}",
            get(banks::get_one)
                .patch(banks::update)
                .delete(banks::delete),
        )
        .route(
            "/v1/banks/{bank}/content",
            get(banks::list_content).post(banks::add_content),
        )
        .route(
            "/v1/banks/{bank}/content/{content}",
            get(banks::get_content).patch(banks::set_content_enabled),
        )
        .route(
            "/v1/banks/{bank}/content/{content}/retract",
            post(banks::retract_content),
        )
        .route("/v1/exchanges", get(exchanges::list))
        .route("/v1/exchanges/{name}/sync", post(exchanges::sync))
        .route("/v1/lookup", get(lookup::by_hash).post(lookup::by_upload))
        .route("/v1/scan", post(scan::scan))
        .route("/v1/decisions", get(decisions::list_decisions))
        .route("/v1/decisions/{decision}", get(decisions::get_decision))
        .route(
            "/v1/decisions/{decision}/notices",
            get(decisions::decision_notices),
        )
        .route("/v1/notices", get(decisions::list_notices))
        .route("/v1/notices/{notice}", get(decisions::get_notice))
        .route("/v1/notices/{notice}/proof", get(decisions::notice_proof))
        .route(
            "/v1/notices/{notice}/release",
            post(decisions::release_notice),
        )
        .route("/v1/review", get(review::list))
        .route("/v1/review/{item}", get(review::get_item))
        .route("/v1/review/{item}/confirm", post(review::confirm))
        .route("/v1/review/{item}/reject", post(review::reject))
        .route("/v1/appeals", get(appeals::list).post(appeals::create))
        .route("/v1/appeals/{appeal}", get(appeals::get_appeal))
        .route("/v1/appeals/{appeal}/decide", post(appeals::decide))
        .route("/v1/accounts/{account}/decisions", get(access::export))
        .route(
            "/v1/policies",
            get(policies::get_set).put(policies::put_set),
        )
        .route("/v1/policies/simulate", post(policies::simulate))
        .route("/v1/policies/preview", post(policies::preview))
        .route("/v1/compare", post(compare::compare))
        .route("/v1/tokens", get(tokens::list).post(tokens::create))
        .route("/v1/tokens/{token}", axum::routing::delete(tokens::revoke))
        .merge(hma_router())
        .route("/log/checkpoint", get(log::checkpoint))
        .route("/log/key", get(log::key))
        .route("/log/numbers", get(log::numbers))
        .route("/log/tile/{*path}", get(log::tile))
        .fallback(|| async { ApiError::not_found("not_found", "no such route") })
}

/// HMA 2.0's API (`routes/hma`), route for route.
fn hma_router() -> Router<AppState> {
    use hma::{curation as c, exchanges as x, hashing as h, matching as m, status as s};
    Router::new()
        .route("/status", get(s::status))
        .route("/status/live", get(s::live))
        .route("/site-map", get(s::site_map))
        .route("/c/banks", get(c::banks_index).post(c::bank_create))
        .route(
            "/c/bank/{bank}",
            get(c::bank_show).put(c::bank_update).delete(c::bank_delete),
        )
        .route("/c/bank/{bank}/content", post(c::content_add))
        .route(
            "/c/bank/{bank}/content/{content}",
            get(c::content_get)
                .put(c::content_update)
                .delete(c::content_delete),
        )
        .route("/c/bank/{bank}/signal", post(c::signal_add))
        .route("/c/signal_type", get(c::signal_types))
        .route("/c/signal_type/index", get(c::signal_type_index))
        .route("/c/content_type", get(c::content_types))
        .route(
            "/c/exchanges",
            get(x::exchanges_list).post(x::exchange_create),
        )
        .route("/c/exchanges/apis", get(x::exchange_apis))
        .route(
            "/c/exchanges/api/{api}",
            get(x::exchange_api).post(x::exchange_api_update),
        )
        .route("/c/exchanges/api/{api}/schema", get(x::exchange_api_schema))
        .route(
            "/c/exchange/{exchange}",
            get(x::exchange_show)
                .put(x::exchange_update)
                .delete(x::exchange_delete),
        )
        .route("/c/exchange/{exchange}/status", get(x::exchange_status))
        .route("/m/raw_lookup", get(m::raw_lookup))
        .route("/m/lookup", get(m::lookup_get).post(m::lookup_post))
        .route("/m/index/status", get(m::index_status))
        .route("/m/compare", post(m::compare))
        .route("/h/hash", get(h::hash_get).post(h::hash_post))
}

/// The routes with their own body limit and timeout (`max_import_bytes`,
/// `import_timeout_secs`): bank import, which streams list-sized bodies.
pub fn import_router() -> Router<AppState> {
    Router::new().route("/v1/banks/{bank}/import", post(banks::import))
}

/// Roles that may read everything.
pub const READERS: &[Role] = &[Role::Auditor, Role::Admin];

/// `?cursor=&limit=` on lists.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct Page {
    /// Opaque cursor from the previous page's `next`.
    pub cursor: Option<String>,
    /// 1..=1000, default 100.
    pub limit: Option<u32>,
}

impl Page {
    pub fn limit(&self) -> i64 {
        i64::from(self.limit.unwrap_or(100).clamp(1, 1000))
    }
    /// The cursor as a row id (ids are positive).
    pub fn after_rowid(&self) -> Result<i64, ApiError> {
        match &self.cursor {
            None => Ok(0),
            Some(c) => c
                .parse::<i64>()
                .map_err(|_| ApiError::bad_request("invalid_cursor", "cursor is not one we gave")),
        }
    }
    /// The cursor as an opaque string id (ids are time-ordered).
    pub fn after_id(&self) -> String {
        self.cursor.clone().unwrap_or_default()
    }
}

/// Parse a JSON string into one of the policy crate's enums (DSA values).
pub fn parse_enum<T: serde::de::DeserializeOwned>(what: &str, s: &str) -> Result<T, ApiError> {
    serde_json::from_value(serde_json::Value::String(s.to_string())).map_err(|_| {
        ApiError::bad_request(
            "invalid_value",
            format!("{what}: {s:?} is not an allowed value"),
        )
    })
}

/// `[a-z0-9][a-z0-9_-]{0,63}`.
pub fn check_slug(what: &str, s: &str) -> Result<(), ApiError> {
    if candor_policy::is_slug(s) {
        Ok(())
    } else {
        Err(ApiError::bad_request(
            "invalid_name",
            format!("{what} {s:?} must match [a-z0-9][a-z0-9_-]{{0,63}}"),
        ))
    }
}

/// Bound free text.
pub fn check_text(what: &str, s: &str, max: usize) -> Result<(), ApiError> {
    if s.chars().count() > max {
        return Err(ApiError::bad_request(
            "text_too_long",
            format!("{what} is longer than {max} characters"),
        ));
    }
    Ok(())
}
