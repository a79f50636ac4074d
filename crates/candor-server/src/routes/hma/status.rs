//! HMA's core health routes (`app.py`): `/status` is readiness for a load balancer (503
//! `INDEX-NOT-LOADED` while the match index loads), `/status/live` is liveness (always
//! `I-AM-ALIVE` while the process serves HTTP). Text bodies, no token. Candor's index is
//! updated at every commit, so HMA's `INDEX-STALE` never happens.

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;

use crate::AppState;

fn text(status: StatusCode, body: &'static str) -> impl IntoResponse {
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        body,
    )
}

/// HMA `GET /status`: `I-AM-ALIVE` (200) once the match index is loaded, `INDEX-NOT-LOADED`
/// (503) before.
#[utoipa::path(get, path = "/status", tag = "hma", responses((status = 200, body = String, description = "I-AM-ALIVE"), (status = 503, body = String, description = "INDEX-NOT-LOADED")))]
pub async fn status(State(app): State<AppState>) -> impl IntoResponse {
    if app.is_ready() {
        text(StatusCode::OK, "I-AM-ALIVE")
    } else {
        text(StatusCode::SERVICE_UNAVAILABLE, "INDEX-NOT-LOADED")
    }
}

/// HMA `GET /status/live`: `I-AM-ALIVE`, loading or not.
#[utoipa::path(get, path = "/status/live", tag = "hma", responses((status = 200, body = String, description = "I-AM-ALIVE")))]
pub async fn live() -> impl IntoResponse {
    text(StatusCode::OK, "I-AM-ALIVE")
}

/// HMA `GET /site-map`: the HMA routes this service answers, sorted, in HMA's (Flask's)
/// notation.
#[utoipa::path(get, path = "/site-map", tag = "hma", responses((status = 200, body = [String])))]
pub async fn site_map() -> axum::Json<Vec<&'static str>> {
    let mut routes = vec![
        "/c/bank/<bank_name>",
        "/c/bank/<bank_name>/content",
        "/c/bank/<bank_name>/content/<int:content_id>",
        "/c/bank/<bank_name>/signal",
        "/c/banks",
        "/c/content_type",
        "/c/exchange/<string:exchange_name>",
        "/c/exchange/<string:exchange_name>/status",
        "/c/exchanges",
        "/c/exchanges/api/<string:api_name>",
        "/c/exchanges/api/<string:api_name>/schema",
        "/c/exchanges/apis",
        "/c/signal_type",
        "/c/signal_type/index",
        "/h/hash",
        "/m/compare",
        "/m/index/status",
        "/m/lookup",
        "/m/raw_lookup",
        "/site-map",
        "/status",
        "/status/live",
    ];
    routes.sort_unstable();
    axum::Json(routes)
}
