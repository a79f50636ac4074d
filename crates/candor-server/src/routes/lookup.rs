//! Lookup: is this hash, or this file, in any bank? (No decision, no record.)

use axum::extract::{FromRequest, Multipart, Query, Request, State};
use axum::Json;
use serde::{Deserialize, Serialize};

use crate::auth::{Caller, Role};
use crate::error::{ApiError, ApiResult};
use crate::matcher::{screen, Found, Screened};
use crate::signals::{hash_upload, query_from_hex, HexDigests, UploadSignals};
use crate::AppState;

pub const LOOKUP_ROLES: &[Role] = &[Role::Platform, Role::Curator, Role::Reviewer, Role::Auditor];

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct HashLookup {
    /// PDQ hashes, hex, comma-separated (at most 16; e.g. the 8 dihedral hashes).
    pub pdq: Option<String>,
    pub md5: Option<String>,
    pub sha1: Option<String>,
    pub sha256: Option<String>,
    /// Comma-separated bank names: report only these banks' matches (negative banks apply
    /// whatever the filter).
    pub banks: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct LookupResult {
    /// Matches to act on (none when a negative bank matched).
    pub matches: Vec<Found>,
    /// Matches in negative banks (allowlists); when present, the others are in `suppressed`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub allowlisted: Vec<Found>,
    /// Matches a negative-bank match suppressed.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub suppressed: Vec<Found>,
    /// The signals computed from an upload.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signals: Option<UploadSignals>,
}

/// The `banks` filter of a lookup: comma-separated names, blanks ignored (`None`: every bank).
pub fn bank_filter(banks: Option<&str>) -> Option<Vec<String>> {
    banks.filter(|b| !b.trim().is_empty()).map(|b| {
        b.split(',')
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect()
    })
}

/// Screen `found` by negative banks (over every bank), then keep only the filter's banks'
/// matches and suppressed matches; the negative-bank matches that explain a suppression stay.
pub fn screen_filtered(found: Vec<Found>, banks: &Option<Vec<String>>) -> Screened {
    let mut s = screen(found);
    if let Some(b) = banks {
        s.matches.retain(|m| b.contains(&m.bank));
        s.suppressed.retain(|m| b.contains(&m.bank));
    }
    s
}

fn result(s: Screened, signals: Option<UploadSignals>) -> LookupResult {
    LookupResult {
        matches: s.matches,
        allowlisted: s.allowlisted,
        suppressed: s.suppressed,
        signals,
    }
}

/// Look up hashes.
#[utoipa::path(get, path = "/v1/lookup", tag = "lookup", params(HashLookup), responses((status = 200, body = LookupResult), (status = 400)), security(("bearer" = [])))]
pub async fn by_hash(
    State(app): State<AppState>,
    caller: Caller,
    Query(q): Query<HashLookup>,
) -> ApiResult<Json<LookupResult>> {
    caller.require(LOOKUP_ROLES)?;
    let query = query_from_hex(
        q.pdq.as_deref(),
        HexDigests {
            md5: q.md5.as_deref(),
            sha1: q.sha1.as_deref(),
            sha256: q.sha256.as_deref(),
        },
    )?;
    let found = app.matcher.read().expect("matcher lock").find(&query);
    Ok(Json(result(
        screen_filtered(found, &bank_filter(q.banks.as_deref())),
        None,
    )))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct UploadLookup {
    /// Also match the 8 rotations/flips (default: the service's `match_dihedral`).
    pub dihedral: Option<bool>,
    /// Also match the border-trimmed image (default: the service's `match_trimmed`).
    pub trimmed: Option<bool>,
    /// Comma-separated bank names: report only these banks' matches.
    pub banks: Option<String>,
    /// Answer the signals computed from the upload (`signals`; default true).
    pub include_signals: Option<bool>,
}

/// Whether the request's body is `multipart/form-data`.
pub fn is_multipart(req: &Request) -> bool {
    req.headers()
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("multipart/form-data"))
}

/// The bytes of an upload: the raw body, or the file part of a multipart form (named `file`, or
/// any part with a filename; one only). Returns the bytes and the other multipart text fields.
pub async fn upload_bytes(
    req: Request,
    state: &AppState,
) -> ApiResult<(axum::body::Bytes, Vec<(String, String)>)> {
    if is_multipart(&req) {
        let mut mp = Multipart::from_request(req, state)
            .await
            .map_err(|e| ApiError::new(e.status(), "invalid_multipart", e.body_text()))?;
        let mut file = None;
        let mut fields = Vec::new();
        while let Some(field) = mp
            .next_field()
            .await
            .map_err(|e| ApiError::new(e.status(), "invalid_multipart", e.body_text()))?
        {
            let name = field.name().unwrap_or("").to_string();
            // The file is the part named `file`, or any part sent as a file (HMA names it by
            // content type, e.g. `photo`); one per request.
            let is_file = name == "file" || field.file_name().is_some();
            let data = field
                .bytes()
                .await
                .map_err(|e| ApiError::new(e.status(), "invalid_multipart", e.body_text()))?;
            if is_file {
                if file.is_some() {
                    return Err(ApiError::bad_request(
                        "invalid_multipart",
                        "only one file per request",
                    ));
                }
                file = Some(data);
            } else {
                let text = String::from_utf8(data.to_vec()).map_err(|_| {
                    ApiError::bad_request(
                        "invalid_multipart",
                        format!("field {name:?} is not UTF-8"),
                    )
                })?;
                fields.push((name, text));
            }
        }
        let file = file
            .ok_or_else(|| ApiError::bad_request("missing_file", "the form has no `file` part"))?;
        Ok((file, fields))
    } else {
        Ok((body_bytes(req, state).await?, Vec::new()))
    }
}

/// The whole request body, within the body limit (413 `payload_too_large` above it).
pub async fn body_bytes(req: Request, state: &AppState) -> ApiResult<axum::body::Bytes> {
    axum::body::Bytes::from_request(req, state)
        .await
        .map_err(|e| ApiError::new(e.status(), "payload_too_large", e.body_text()))
}

/// Look up an upload (raw body or multipart `file`): hashed here, matched, never stored.
#[utoipa::path(post, path = "/v1/lookup", tag = "lookup", params(UploadLookup),
    request_body(content = Vec<u8>, content_type = "application/octet-stream", description = "the file (or multipart/form-data with a `file` part)"),
    responses((status = 200, body = LookupResult), (status = 400), (status = 413)), security(("bearer" = [])))]
pub async fn by_upload(
    State(app): State<AppState>,
    caller: Caller,
    Query(q): Query<UploadLookup>,
    req: Request,
) -> ApiResult<Json<LookupResult>> {
    caller.require(LOOKUP_ROLES)?;
    let (bytes, _) = upload_bytes(req, &app).await?;
    let opts = app.hash_options(
        q.dihedral.unwrap_or(app.config.match_dihedral),
        q.trimmed.unwrap_or(app.config.match_trimmed),
    );
    let signals = hash_upload(&app, bytes, opts).await?;
    let found = app
        .matcher
        .read()
        .expect("matcher lock")
        .find(&signals.query);
    let screened = screen_filtered(found, &bank_filter(q.banks.as_deref()));
    Ok(Json(result(
        screened,
        q.include_signals.unwrap_or(true).then_some(signals),
    )))
}
