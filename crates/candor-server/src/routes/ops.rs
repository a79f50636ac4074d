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

/// Ready: the match index is loaded and caught up with the log, and the store answers. 503
/// while the index loads (`status: loading`; the process is alive, see `/healthz`).
#[utoipa::path(get, path = "/readyz", tag = "ops", responses((status = 200, body = Object), (status = 503)))]
pub async fn readyz(State(app): State<AppState>) -> Response {
    let size = app.store.checkpoint().checkpoint.size;
    if !app.is_ready() {
        let body = serde_json::json!({"status": "loading", "log_size": size});
        return (StatusCode::SERVICE_UNAVAILABLE, Json(body)).into_response();
    }
    let db = app.store.ping().await;
    let entries = app.matcher.read().expect("matcher lock").len();
    let index = app.load_report.lock().expect("report lock").clone();
    let body = serde_json::json!({"status": if db {"ready"} else {"unavailable"}, "indexed_signals": entries, "log_size": size, "index": index});
    let status = if db {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(body)).into_response()
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
