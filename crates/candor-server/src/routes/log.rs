//! The transparency log's public read path (C2SP tlog-tiles): checkpoint, tiles, entry
//! bundles, the verifier key and the published numbers. Read-only, no token.

use axum::extract::{Path, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use candor_log::tile::{encode_entry_bundle, parse_path, TilePath};

use crate::error::ApiError;
use crate::AppState;

fn text(body: String, cache: &'static str) -> Response {
    let mut r = body.into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    r
}

/// The latest signed checkpoint (C2SP tlog-checkpoint in a signed note).
#[utoipa::path(get, path = "/log/checkpoint", tag = "log", responses((status = 200, content_type = "text/plain", body = String)))]
pub async fn checkpoint(State(app): State<AppState>) -> Response {
    text(app.store.checkpoint().note, "no-cache")
}

/// The log's verifier key (`name+keyid+base64`), for `candor log verify --key`.
#[utoipa::path(get, path = "/log/key", tag = "log", responses((status = 200, content_type = "text/plain", body = String)))]
pub async fn key(State(app): State<AppState>) -> Response {
    text(
        format!("{}\n", app.store.verifier().to_text()),
        "max-age=3600",
    )
}

/// The published numbers, recomputable from the entries (`tree_size` says how many).
#[utoipa::path(get, path = "/log/numbers", tag = "log", responses((status = 200, content_type = "application/json", body = Object)))]
pub async fn numbers(State(app): State<AppState>) -> Response {
    let body = app.numbers.lock().expect("numbers lock").to_json();
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}

/// A tile (`/log/tile/<L>/<N>[.p/<W>]`) or an entry bundle (`/log/tile/entries/<N>[.p/<W>]`).
#[utoipa::path(get, path = "/log/tile/{path}", tag = "log", params(("path" = String, Path)), responses((status = 200, content_type = "application/octet-stream", body = Vec<u8>), (status = 404)))]
pub async fn tile(
    State(app): State<AppState>,
    Path(path): Path<String>,
) -> Result<Response, ApiError> {
    let parsed = parse_path(&format!("tile/{path}"))
        .map_err(|e| ApiError::not_found("no_such_tile", e.to_string()))?;
    let (data, full) = match parsed {
        TilePath::Hashes(t) => {
            let data = app.store.log_tile(t).await?.ok_or_else(|| {
                ApiError::not_found("no_such_tile", "the tile is beyond the latest checkpoint")
            })?;
            (data, t.width == 256)
        }
        TilePath::Entries(t) => {
            let size = app.store.checkpoint().checkpoint.size;
            let start = t.index.saturating_mul(256);
            if start >= size || u64::from(t.width) > (size - start).min(256) {
                return Err(ApiError::not_found(
                    "no_such_tile",
                    "the bundle is beyond the latest checkpoint",
                ));
            }
            let entries = app.store.log_entries(start, u64::from(t.width)).await?;
            if entries.len() != usize::from(t.width) {
                return Err(ApiError::internal("log entries missing"));
            }
            (
                encode_entry_bundle(&entries).map_err(|e| ApiError::internal(e.to_string()))?,
                t.width == 256,
            )
        }
    };
    let mut r = (StatusCode::OK, data).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    // Full tiles never change; partial ones are prefixes that stay valid too.
    let cache = if full {
        "public, max-age=31536000, immutable"
    } else {
        "public, max-age=60"
    };
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    Ok(r)
}
