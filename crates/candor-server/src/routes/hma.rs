//! HMA-compatible routes (the matching and hashing endpoints of Meta's Hasher-Matcher-Actioner,
//! "OpenMediaMatch"), mapped onto the same index: a client written for HMA can point at Candor.
//! Same roles as `/v1/lookup`. Signal types: `pdq`, `md5` (HMA's `video_md5` is accepted as an
//! alias: Candor's MD5 is of any file), `sha256`. Content ids are Candor's (opaque strings).
//! `url` parameters (`GET /h/hash?url=`, `GET /m/lookup?url=`) fetch through `crate::fetch`
//! (off unless `[fetch]` allows the host). Not mapped: HMA's per-bank coin flip
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
    /// Fetch and hash this URL instead (`/m/lookup` only; needs `[fetch]` to allow the host).
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
            "raw_lookup takes a signal; use GET /m/lookup?url= or /h/hash?url= to fetch content",
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

/// HMA `GET /m/lookup?signal_type=&signal=`: the names of the banks with a match; with `url`
/// instead, the content is fetched (see `[fetch]`) and the answer is `{"<signal type>": [banks]}`.
#[utoipa::path(get, path = "/m/lookup", tag = "hma", params(RawLookup), responses((status = 200, body = Object), (status = 403, description = "fetching refused by a rule"), (status = 502, description = "the remote end failed")), security(("bearer" = [])))]
pub async fn lookup_get(
    State(app): State<AppState>,
    caller: Caller,
    Query(q): Query<RawLookup>,
) -> ApiResult<Json<serde_json::Value>> {
    caller.require(LOOKUP_ROLES)?;
    if let Some(url) = &q.url {
        // HMA: with `url`, the content is fetched and hashed and the answer is keyed by signal
        // type, as for an upload.
        let bytes = crate::fetch::fetch_url(&app, url).await?;
        let hashes = hash_bytes(&app, bytes).await?;
        let m = app.matcher.read().expect("matcher lock");
        let by_type: BTreeMap<&str, Vec<String>> = hashes
            .into_iter()
            .map(|(k, (_, q))| (k, banks(&m.find(&q))))
            .collect();
        return Ok(Json(serde_json::to_value(by_type).unwrap_or_default()));
    }
    let query = query_one(&q)?;
    let found = app.matcher.read().expect("matcher lock").find(&query);
    Ok(Json(
        serde_json::to_value(banks(&found)).unwrap_or_default(),
    ))
}

/// The signals of an HMA-style upload (multipart, one file, field named by content type, e.g.
/// `photo`; a raw body works too), keyed by signal type.
async fn hash_hma(
    app: &AppState,
    req: Request,
) -> ApiResult<BTreeMap<&'static str, (String, MatchQuery)>> {
    let (bytes, _) = upload_bytes(req, app).await?;
    hash_bytes(app, bytes).await
}

async fn hash_bytes(
    app: &AppState,
    bytes: axum::body::Bytes,
) -> ApiResult<BTreeMap<&'static str, (String, MatchQuery)>> {
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

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct HashUrl {
    /// The content to fetch and hash (needs `[fetch]` to allow the host).
    pub url: Option<String>,
}

/// HMA `GET /h/hash?url=`: fetch the content (see `[fetch]`: off by default, allowlisted
/// hosts, private addresses refused) and answer its signals like `POST /h/hash`.
#[utoipa::path(get, path = "/h/hash", tag = "hma", params(HashUrl), responses((status = 200, body = Object), (status = 400), (status = 403, description = "fetching refused by a rule"), (status = 413), (status = 502, description = "the remote end failed"), (status = 504)), security(("bearer" = [])))]
pub async fn hash_url(
    State(app): State<AppState>,
    caller: Caller,
    Query(q): Query<HashUrl>,
) -> ApiResult<Json<BTreeMap<&'static str, String>>> {
    caller.require(LOOKUP_ROLES)?;
    let url = q
        .url
        .ok_or_else(|| ApiError::bad_request("missing_param", "url is required"))?;
    let bytes = crate::fetch::fetch_url(&app, &url).await?;
    let hashes = hash_bytes(&app, bytes).await?;
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
