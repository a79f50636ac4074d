//! HMA's hashing blueprint (`blueprints/hashing.py`): `GET /h/hash?url=` and `POST /h/hash`
//! (multipart, one file whose field is its content type), answering
//! `{"<signal type>": "<hash>"}`. URLs are fetched under Candor's `[fetch]` rules (off by
//! default; allowlisted hosts; private addresses refused), not HMA's open default.

use std::collections::BTreeMap;

use axum::extract::{Query, Request, State};
use axum::Json;
use serde::Deserialize;
use serde_json::json;

use super::{hash_form, hash_url, read_form, Hashed, HmaError, HmaResult};
use crate::auth::Caller;
use crate::routes::lookup::LOOKUP_ROLES;
use crate::AppState;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct HashQuery {
    /// The content to fetch and hash (needs `[fetch]` to allow the host).
    pub url: Option<String>,
    /// `photo` or `video` (default: from the response's `Content-Type`).
    pub content_type: Option<String>,
    /// Comma-separated signal types (default: the content type's: `pdq` for a photo,
    /// `video_md5` for a video).
    pub types: Option<String>,
}

fn answer(hashed: Vec<Hashed>) -> Json<BTreeMap<&'static str, String>> {
    Json(
        hashed
            .into_iter()
            .map(|h| (h.signal.name(), h.hex))
            .collect(),
    )
}

/// HMA `GET /h/hash?url=`: fetch, hash, answer `{"pdq": "<hex>"}` (or `video_md5`, …).
#[utoipa::path(get, path = "/h/hash", tag = "hma", params(HashQuery), responses((status = 200, body = Object), (status = 400, description = "bad URL, content type or signal type"), (status = 403, description = "fetching refused by a rule"), (status = 413), (status = 422, description = "`url` missing"), (status = 502, description = "the remote end failed"), (status = 504)), security(("bearer" = [])))]
pub async fn hash_get(
    State(app): State<AppState>,
    caller: Caller,
    Query(q): Query<HashQuery>,
) -> HmaResult<Json<BTreeMap<&'static str, String>>> {
    caller.require(LOOKUP_ROLES)?;
    let url = q
        .url
        .as_deref()
        .ok_or_else(|| HmaError::missing("url", json!({})))?;
    let hashed = hash_url(&app, url, q.content_type.as_deref(), q.types.as_deref()).await?;
    Ok(answer(hashed))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct HashPost {
    /// Comma-separated signal types (default: the content type's).
    pub types: Option<String>,
}

/// HMA `POST /h/hash`: one file, field `photo` or `video`.
#[utoipa::path(post, path = "/h/hash", tag = "hma", params(HashPost), request_body(content = Vec<u8>, content_type = "multipart/form-data", description = "one file, field `photo` or `video`"), responses((status = 200, body = Object), (status = 400), (status = 413)), security(("bearer" = [])))]
pub async fn hash_post(
    State(app): State<AppState>,
    caller: Caller,
    Query(q): Query<HashPost>,
    req: Request,
) -> HmaResult<Json<BTreeMap<&'static str, String>>> {
    caller.require(LOOKUP_ROLES)?;
    if !super::is_multipart(&req) {
        // Read the body first: a client still sending it gets the answer, not a broken pipe.
        crate::routes::lookup::body_bytes(req, &app).await?;
        return Err(HmaError::bad("Missing multipart/form-data file upload"));
    }
    let form = read_form(req, &app).await?;
    Ok(answer(hash_form(&app, &form, q.types.as_deref()).await?))
}
