//! HMA-compatible routes (the matching and hashing endpoints of Meta's Hasher-Matcher-Actioner,
//! "OpenMediaMatch"), mapped onto the same index: a client written for HMA can point at Candor.
//! Same roles as `/v1/lookup`. Signal types: `pdq`, `md5` (HMA's `video_md5` is accepted as an
//! alias: Candor's MD5 is of any file), `sha256`. Content ids are Candor's (opaque strings).
//! Not mapped: fetching by `url` (no server-side fetching), HMA's per-bank coin flip
//! (`matching_enabled_ratio`; a Candor bank is enabled or not) and the curation routes (`/c/…`,
//! use `/v1/banks`).

use std::collections::BTreeMap;

use axum::extract::{Query, Request, State};
use axum::Json;
use serde::Deserialize;

use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::matcher::{Found, PdqQuery, Query as MatchQuery, SignalKind};
use crate::routes::lookup::{upload_bytes, LOOKUP_ROLES};
use crate::signals::{hash_upload, parse_hex};
use crate::AppState;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct RawLookup {
    /// `pdq`, `md5` (or `video_md5`) or `sha256`.
    pub signal_type: Option<String>,
    /// The hash, hex.
    pub signal: Option<String>,
    /// Return `{content_id, distance}` objects instead of ids.
    pub include_distance: Option<String>,
    /// HMA fetches this URL; Candor refuses (no server-side fetching).
    pub url: Option<String>,
}

fn signal_kind(name: &str) -> Result<SignalKind, ApiError> {
    match name {
        "video_md5" => Ok(SignalKind::Md5),
        other => SignalKind::parse(other).ok_or_else(|| {
            ApiError::bad_request(
                "invalid_signal_type",
                format!("No such SignalType '{other}'"),
            )
        }),
    }
}

fn query_one(q: &RawLookup) -> Result<MatchQuery, ApiError> {
    if q.url.is_some() {
        return Err(ApiError::bad_request(
            "url_not_supported",
            "Candor does not fetch URLs; POST the file instead",
        ));
    }
    let kind = signal_kind(
        q.signal_type
            .as_deref()
            .ok_or_else(|| ApiError::bad_request("missing_param", "signal_type is required"))?,
    )?;
    let signal = q
        .signal
        .as_deref()
        .ok_or_else(|| ApiError::bad_request("missing_param", "signal is required"))?;
    let mut query = MatchQuery::default();
    match kind {
        SignalKind::Pdq => query.pdq.push(PdqQuery {
            hash: parse_hex::<32>("pdq", signal)?,
            orientation: None,
            trimmed: false,
        }),
        SignalKind::Md5 => query.md5 = Some(parse_hex::<16>("md5", signal)?),
        SignalKind::Sha256 => query.sha256 = Some(parse_hex::<32>("sha256", signal)?),
    }
    Ok(query)
}

fn is_true(v: Option<&str>) -> bool {
    matches!(
        v.map(str::to_ascii_lowercase).as_deref(),
        Some("true" | "1" | "yes")
    )
}

/// Bank names of `found`, sorted, once each.
fn banks(found: &[Found]) -> Vec<String> {
    let mut b: Vec<String> = found.iter().map(|f| f.bank.clone()).collect();
    b.sort();
    b.dedup();
    b
}

/// HMA `GET /m/raw_lookup`: `{"matches": [content ids]}` or, with `include_distance`,
/// `{"matches": [{"content_id", "distance"}]}`.
#[utoipa::path(get, path = "/m/raw_lookup", tag = "hma", params(RawLookup), responses((status = 200, body = Object)), security(("bearer" = [])))]
pub async fn raw_lookup(
    State(app): State<AppState>,
    caller: Caller,
    Query(q): Query<RawLookup>,
) -> ApiResult<Json<serde_json::Value>> {
    caller.require(LOOKUP_ROLES)?;
    let query = query_one(&q)?;
    let found = app.matcher.read().expect("matcher lock").find(&query);
    let matches: Vec<serde_json::Value> = if is_true(q.include_distance.as_deref()) {
        found
            .iter()
            .map(|f| serde_json::json!({"content_id": f.content_id, "distance": f.distance.to_string()}))
            .collect()
    } else {
        found
            .iter()
            .map(|f| serde_json::json!(f.content_id))
            .collect()
    };
    Ok(Json(serde_json::json!({ "matches": matches })))
}

/// HMA `GET /m/lookup?signal_type=&signal=`: the names of the banks with a match.
#[utoipa::path(get, path = "/m/lookup", tag = "hma", params(RawLookup), responses((status = 200, body = [String])), security(("bearer" = [])))]
pub async fn lookup_get(
    State(app): State<AppState>,
    caller: Caller,
    Query(q): Query<RawLookup>,
) -> ApiResult<Json<Vec<String>>> {
    caller.require(LOOKUP_ROLES)?;
    let query = query_one(&q)?;
    let found = app.matcher.read().expect("matcher lock").find(&query);
    Ok(Json(banks(&found)))
}

/// The signals of an HMA-style upload (multipart, one file, field named by content type, e.g.
/// `photo`; a raw body works too), keyed by signal type.
async fn hash_hma(
    app: &AppState,
    req: Request,
) -> ApiResult<BTreeMap<&'static str, (String, MatchQuery)>> {
    let (bytes, _) = upload_bytes(req, app).await?;
    let up = hash_upload(app, bytes, app.hash_options(false, false)).await?;
    let mut out = BTreeMap::new();
    if let (Some(p), Some(q)) = (&up.pdq, up.query.pdq.first()) {
        out.insert(
            "pdq",
            (
                p.clone(),
                MatchQuery {
                    pdq: vec![*q],
                    ..MatchQuery::default()
                },
            ),
        );
    }
    out.insert(
        "md5",
        (
            up.md5.clone(),
            MatchQuery {
                md5: up.query.md5,
                ..MatchQuery::default()
            },
        ),
    );
    out.insert(
        "sha256",
        (
            up.sha256.clone(),
            MatchQuery {
                sha256: up.query.sha256,
                ..MatchQuery::default()
            },
        ),
    );
    Ok(out)
}

/// HMA `POST /h/hash`: `{"pdq": "<hex>", "md5": …, "sha256": …}` of the uploaded file.
#[utoipa::path(post, path = "/h/hash", tag = "hma", request_body(content = Vec<u8>, content_type = "multipart/form-data", description = "one file, field `photo`"), responses((status = 200, body = Object)), security(("bearer" = [])))]
pub async fn hash(
    State(app): State<AppState>,
    caller: Caller,
    req: Request,
) -> ApiResult<Json<BTreeMap<&'static str, String>>> {
    caller.require(LOOKUP_ROLES)?;
    let hashes = hash_hma(&app, req).await?;
    Ok(Json(hashes.into_iter().map(|(k, (v, _))| (k, v)).collect()))
}

/// HMA `POST /m/lookup`: `{"<signal type>": [bank names]}` for the uploaded file.
#[utoipa::path(post, path = "/m/lookup", tag = "hma", request_body(content = Vec<u8>, content_type = "multipart/form-data", description = "one file, field `photo`"), responses((status = 200, body = Object)), security(("bearer" = [])))]
pub async fn lookup_post(
    State(app): State<AppState>,
    caller: Caller,
    req: Request,
) -> ApiResult<Json<BTreeMap<&'static str, Vec<String>>>> {
    caller.require(LOOKUP_ROLES)?;
    let hashes = hash_hma(&app, req).await?;
    let m = app.matcher.read().expect("matcher lock");
    Ok(Json(
        hashes
            .into_iter()
            .map(|(k, (_, q))| (k, banks(&m.find(&q))))
            .collect(),
    ))
}

/// HMA `GET /m/index/status`: Candor's index is always current (no build step).
#[utoipa::path(get, path = "/m/index/status", tag = "hma", responses((status = 200, body = Object)), security(("bearer" = [])))]
pub async fn index_status(
    State(app): State<AppState>,
    caller: Caller,
) -> ApiResult<Json<serde_json::Value>> {
    caller.require(LOOKUP_ROLES)?;
    let counts = app.matcher.read().expect("matcher lock").counts();
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let mut out = serde_json::Map::new();
    for (kind, n) in counts {
        out.insert(
            kind.as_str().into(),
            serde_json::json!({"present": true, "built_to": now, "size": n}),
        );
    }
    Ok(Json(serde_json::Value::Object(out)))
}
