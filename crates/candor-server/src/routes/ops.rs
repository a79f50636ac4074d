//! Health, readiness, Prometheus metrics and the public numbers.

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;

use crate::AppState;

/// The process is up.
#[utoipa::path(get, path = "/healthz", tag = "ops", responses((status = 200, body = Object)))]
pub async fn healthz() -> Json<serde_json::Value> {
    Json(serde_json::json!({"status": "ok"}))
}

/// Ready: the match index is loaded and within its staleness bounds, and the store answers.
/// 503 while the index loads (`status: loading`; the process is alive, see `/healthz`), when
/// the store does not answer (`unavailable`) or when the index is further behind the store
/// than `index_max_lag_entries` / `index_max_lag_secs` allow (`behind`; `index_lag` says how
/// far).
#[utoipa::path(get, path = "/readyz", tag = "ops", responses((status = 200, body = Object), (status = 503, body = Object, description = "loading, unavailable or behind")))]
pub async fn readyz(State(app): State<AppState>) -> Response {
    let size = app.store.checkpoint().checkpoint.size;
    if !app.is_ready() {
        let body = serde_json::json!({"status": "loading", "log_size": size});
        return (StatusCode::SERVICE_UNAVAILABLE, Json(body)).into_response();
    }
    let db = app.store.ping().await;
    let lag = if db { app.index_lag().await.ok() } else { None };
    let entries = app.matcher.read().expect("matcher lock").len();
    let index = app.load_report.lock().expect("report lock").clone();
    let status = match &lag {
        None => "unavailable",
        Some(l) if !l.within_bounds => "behind",
        Some(_) => "ready",
    };
    let body = serde_json::json!({"status": status, "indexed_signals": entries, "log_size": size, "index": index, "index_lag": lag});
    let code = if status == "ready" {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (code, Json(body)).into_response()
}

/// `GET /v1/status`: the match index (signals by kind) and how far it is behind the store.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct Status {
    pub log_size: u64,
    /// Indexed signals by kind (`pdq`, `md5`, `sha256`).
    #[schema(value_type = Object)]
    pub indexed_signals: std::collections::BTreeMap<&'static str, usize>,
    pub index_lag: crate::IndexLag,
}

/// The match index and its staleness (any role that may look up).
#[utoipa::path(get, path = "/v1/status", tag = "ops", responses((status = 200, body = Status)), security(("bearer" = [])))]
pub async fn status(
    State(app): State<AppState>,
    caller: crate::auth::Caller,
) -> crate::error::ApiResult<Json<Status>> {
    caller.require(crate::routes::lookup::LOOKUP_ROLES)?;
    let lag = app.index_lag().await?;
    let counts = app.matcher.read().expect("matcher lock").counts();
    Ok(Json(Status {
        log_size: lag.committed_log_size,
        indexed_signals: counts.iter().map(|(k, n)| (k.as_str(), *n)).collect(),
        index_lag: lag,
    }))
}

/// Prometheus text format.
#[utoipa::path(get, path = "/metrics", tag = "ops", responses((status = 200, content_type = "text/plain", body = String)))]
pub async fn metrics(State(app): State<AppState>) -> Response {
    metrics::gauge!("candor_index_signals")
        .set(app.matcher.read().expect("matcher lock").len() as f64);
    metrics::gauge!("candor_log_size").set(app.store.checkpoint().checkpoint.size as f64);
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        app.metrics.render(),
    )
        .into_response()
}

/// Counts of actions by policy, category, jurisdiction, surface, automated vs human, appeals
/// and reversals (the Santa Clara "numbers"), computed from the log entries. No token needed.
#[utoipa::path(get, path = "/v1/numbers", tag = "ops", responses((status = 200, content_type = "application/json", body = Object)))]
pub async fn numbers(State(app): State<AppState>) -> Response {
    let body = app.numbers.lock().expect("numbers lock").to_json();
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}
