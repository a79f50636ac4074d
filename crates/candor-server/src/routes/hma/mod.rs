//! HMA 2.0 ("OpenMediaMatch", in facebook/ThreatExchange `hasher-matcher-actioner`), route for
//! route, over Candor's store, flows and match index: a client written for HMA points at Candor
//! and adds a bearer token. One module per HMA blueprint: [`status`] (`/status`), [`curation`]
//! (`/c/…`; its exchange routes in [`exchanges`]), [`matching`] (`/m/…`), [`hashing`] (`/h/…`). Shapes, parameters and status codes
//! are HMA's (read from its `blueprints/*.py`, `schemas/*.py` and `tests/*.py`); where HMA
//! answers a 500 or an HTML page, these answer a JSON `{"message"}` with a 4xx.
//!
//! Names: HMA's signal types `pdq` and `video_md5` (Candor's `md5`: the MD5 of the file's
//! bytes, which is what HMA's `VideoMD5Signal` is) plus Candor's `sha256` and `sha1` (HMA has
//! no SHA-1 signal type; Candor's digests are named as Candor names them); content types
//! `photo` (PDQ by default) and `video` (`video_md5`). A bank content is named by its integer
//! row id (`bank_content_id`), stable for the life of the database.
//! Roles: curator for the `/c/` writes, the bank readers for its reads; the lookup roles for
//! `/m/` and `/h/`. `/status` needs no token.

pub mod curation;
pub mod exchanges;
pub mod hashing;
pub mod matching;
pub mod status;

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{FromRequest, Multipart, Request};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

use crate::error::ApiError;
use crate::matcher::{Found, PdqQuery, Query as MatchQuery, SignalKind};
use crate::signals::hash_upload;
use crate::{App, AppState};

/// An HMA error answer: `{"message": "..."}` (HMA's `api_error_handler`) with its status, or a
/// request validation failure: 422 with the list of errors (what flask-openapi3 answers when a
/// pydantic model refuses the query or body).
#[derive(Debug)]
pub enum HmaError {
    Api(ApiError),
    Validation(Vec<Value>),
}

pub type HmaResult<T> = Result<T, HmaError>;

impl HmaError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> HmaError {
        HmaError::Api(ApiError::new(status, "hma", message))
    }
    pub fn bad(message: impl Into<String>) -> HmaError {
        HmaError::new(StatusCode::BAD_REQUEST, message)
    }
    pub fn not_found(message: impl Into<String>) -> HmaError {
        HmaError::new(StatusCode::NOT_FOUND, message)
    }
    /// A required field is absent (pydantic's `missing`).
    pub fn missing(field: &str, input: Value) -> HmaError {
        HmaError::Validation(vec![json!({
            "type": "missing", "loc": [field], "msg": "Field required", "input": input,
        })])
    }
    /// A field has the wrong type (pydantic's `<type>_type`, e.g. `string_type`).
    pub fn wrong_type(field: &str, kind: &str, msg: &str, input: Value) -> HmaError {
        HmaError::Validation(vec![json!({
            "type": format!("{kind}_type"), "loc": [field], "msg": msg, "input": input,
        })])
    }
}

impl From<ApiError> for HmaError {
    fn from(e: ApiError) -> HmaError {
        HmaError::Api(e)
    }
}

impl From<candor_store::StoreError> for HmaError {
    fn from(e: candor_store::StoreError) -> HmaError {
        HmaError::Api(ApiError::from(e))
    }
}

impl IntoResponse for HmaError {
    fn into_response(self) -> Response {
        match self {
            HmaError::Api(e) => {
                if e.status.is_server_error() {
                    tracing::error!(code = e.code, message = %e.message, "HMA request failed");
                }
                let mut resp = (e.status, Json(json!({ "message": e.message }))).into_response();
                if let Some(s) = e.retry_after {
                    resp.headers_mut().insert(header::RETRY_AFTER, s.into());
                }
                resp
            }
            HmaError::Validation(errors) => {
                (StatusCode::UNPROCESSABLE_ENTITY, Json(Value::Array(errors))).into_response()
            }
        }
    }
}

/// Whether `path` is one of HMA's routes (its error answers are HMA's shape).
pub fn is_hma_path(path: &str) -> bool {
    path == "/status"
        || path == "/status/live"
        || path == "/site-map"
        || path.starts_with("/c/")
        || path.starts_with("/m/")
        || path.starts_with("/h/")
}

/// Errors answered on HMA's paths by anything but their handlers (no or a bad token, the
/// loading gate, body limits, timeouts, unknown routes, wrong methods) in HMA's shape:
/// Candor's `{"error": {"message"}}` becomes `{"message"}`, status and headers kept.
pub async fn hma_errors(req: Request, next: Next) -> Response {
    let hma = is_hma_path(req.uri().path());
    let resp = next.run(req).await;
    let status = resp.status();
    if !hma || !(status.is_client_error() || status.is_server_error()) {
        return resp;
    }
    let is_json = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !is_json {
        return resp;
    }
    let (mut parts, body) = resp.into_parts();
    let bytes = axum::body::to_bytes(body, 256 * 1024)
        .await
        .unwrap_or_default();
    let v: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    let body = match v["error"]["message"].as_str() {
        Some(m) => serde_json::to_vec(&json!({ "message": m })).unwrap_or_default(),
        None => bytes.to_vec(),
    };
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, axum::body::Body::from(body))
}

/// A signal type, as HMA's API names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Signal {
    Pdq,
    VideoMd5,
    Sha256,
    Sha1,
}

impl Signal {
    pub const ALL: [Signal; 4] = [Signal::Pdq, Signal::VideoMd5, Signal::Sha256, Signal::Sha1];

    pub fn name(self) -> &'static str {
        match self {
            Signal::Pdq => "pdq",
            Signal::VideoMd5 => "video_md5",
            Signal::Sha256 => "sha256",
            Signal::Sha1 => "sha1",
        }
    }

    /// HMA's names, and Candor's `md5` for `video_md5`.
    pub fn parse(name: &str) -> Option<Signal> {
        match name {
            "pdq" => Some(Signal::Pdq),
            "video_md5" | "md5" => Some(Signal::VideoMd5),
            "sha256" => Some(Signal::Sha256),
            "sha1" => Some(Signal::Sha1),
            _ => None,
        }
    }

    pub fn kind(self) -> SignalKind {
        match self {
            Signal::Pdq => SignalKind::Pdq,
            Signal::VideoMd5 => SignalKind::Md5,
            Signal::Sha256 => SignalKind::Sha256,
            Signal::Sha1 => SignalKind::Sha1,
        }
    }

    pub fn of_kind(k: SignalKind) -> Signal {
        match k {
            SignalKind::Pdq => Signal::Pdq,
            SignalKind::Md5 => Signal::VideoMd5,
            SignalKind::Sha256 => Signal::Sha256,
            SignalKind::Sha1 => Signal::Sha1,
        }
    }

    /// HMA's `validate_signal_str`: PDQ is 64 lowercase hex digits as given; MD5 is trimmed
    /// and lowercased (`VideoMD5Signal`), and so is SHA-256. Returns the bytes.
    pub fn parse_value(self, s: &str) -> Result<Vec<u8>, String> {
        let (text, len) = match self {
            Signal::Pdq => (s.to_string(), 64),
            Signal::VideoMd5 => (s.trim().to_lowercase(), 32),
            Signal::Sha256 => (s.trim().to_lowercase(), 64),
            Signal::Sha1 => (s.trim().to_lowercase(), 40),
        };
        let ok = text.len() == len && text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
        if !ok {
            return Err(match self {
                Signal::Pdq => "invalid PDQ hash".to_string(),
                Signal::VideoMd5 => format!("{s:?} is not a valid MD5 hash"),
                Signal::Sha256 => format!("{s:?} is not a valid SHA-256 hash"),
                Signal::Sha1 => format!("{s:?} is not a valid SHA-1 hash"),
            });
        }
        hex::decode(&text).map_err(|e| e.to_string())
    }

    /// A match query for one value of this signal.
    pub fn query(self, value: &[u8]) -> MatchQuery {
        let mut q = MatchQuery::default();
        match self {
            Signal::Pdq => {
                if let Ok(hash) = <[u8; 32]>::try_from(value) {
                    q.pdq.push(PdqQuery {
                        hash,
                        orientation: None,
                        trimmed: false,
                    });
                }
            }
            Signal::VideoMd5 => q.md5 = value.try_into().ok(),
            Signal::Sha256 => q.sha256 = value.try_into().ok(),
            Signal::Sha1 => q.sha1 = value.try_into().ok(),
        }
        q
    }
}

/// A signal type name from a request: 400 `No such SignalType '…'` (HMA's words) otherwise.
pub fn signal_type(name: &str) -> HmaResult<Signal> {
    Signal::parse(name).ok_or_else(|| HmaError::bad(format!("No such SignalType '{name}'")))
}

/// HMA's content types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContentType {
    Photo,
    Video,
}

impl ContentType {
    pub const ALL: [ContentType; 2] = [ContentType::Photo, ContentType::Video];

    pub fn name(self) -> &'static str {
        match self {
            ContentType::Photo => "photo",
            ContentType::Video => "video",
        }
    }

    /// 400 `no such content_type: '…'` (HMA's `_lookup_content_type`).
    pub fn parse(name: &str) -> HmaResult<ContentType> {
        match name {
            "photo" => Ok(ContentType::Photo),
            "video" => Ok(ContentType::Video),
            other => Err(HmaError::bad(format!("no such content_type: '{other}'"))),
        }
    }

    /// What HMA hashes content of this type into when `types` is not given.
    fn default_signals(self) -> &'static [Signal] {
        match self {
            ContentType::Photo => &[Signal::Pdq],
            ContentType::Video => &[Signal::VideoMd5],
        }
    }

    /// What `types` may ask for (Candor's digests apply to any file).
    fn allowed(self) -> &'static [Signal] {
        match self {
            ContentType::Photo => &[Signal::Pdq, Signal::VideoMd5, Signal::Sha256, Signal::Sha1],
            ContentType::Video => &[Signal::VideoMd5, Signal::Sha256, Signal::Sha1],
        }
    }

    /// The signal types to compute: `types` (comma-separated) or the default (HMA's
    /// `_parse_request_signal_type`, with its messages).
    pub fn signals(self, types: Option<&str>) -> HmaResult<Vec<Signal>> {
        let Some(types) = types else {
            return Ok(self.default_signals().to_vec());
        };
        let mut out = Vec::new();
        for name in types.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            match Signal::parse(name).filter(|s| self.allowed().contains(s)) {
                Some(s) if !out.contains(&s) => out.push(s),
                Some(_) => {}
                None => {
                    return Err(HmaError::bad(format!(
                        "signal type '{name}' doesn't exist or is disabled"
                    )))
                }
            }
        }
        if out.is_empty() {
            return Err(HmaError::bad("empty signal type selection"));
        }
        Ok(out)
    }

    /// The content type of fetched content from its `Content-Type` (HMA's
    /// `_parse_request_content_type`), unless the request named one.
    pub fn of_fetched(hint: Option<&str>, content_type: Option<&str>) -> HmaResult<ContentType> {
        if let Some(h) = hint.filter(|h| !h.is_empty()) {
            return ContentType::parse(h);
        }
        let ct = content_type.unwrap_or("").to_ascii_lowercase();
        if ct.starts_with("image") {
            Ok(ContentType::Photo)
        } else if ct.starts_with("video") {
            Ok(ContentType::Video)
        } else {
            Err(HmaError::bad(format!(
                "unsupported url ContentType: '{}', if you know the expected type, provide it \
                 with the content_type query param",
                content_type.unwrap_or("")
            )))
        }
    }
}

/// One signal computed from content.
#[derive(Debug, Clone)]
pub struct Hashed {
    pub signal: Signal,
    pub hex: String,
    pub value: Vec<u8>,
    pub quality: Option<u8>,
    /// What to look up for it (for a photo's PDQ, also the hash as displayed when its EXIF
    /// orientation turns it).
    pub query: MatchQuery,
}

/// Hash content of type `ct` into `signals` (the bytes are dropped when this returns).
pub async fn hash_content(
    app: &App,
    ct: ContentType,
    signals: &[Signal],
    bytes: Bytes,
) -> HmaResult<Vec<Hashed>> {
    let up = hash_upload(app, bytes, app.hash_options(false, false)).await?;
    let mut out = Vec::new();
    for &s in signals {
        let hashed = match s {
            Signal::Pdq => {
                let Some(hex) = up.pdq.clone() else {
                    // HMA answers a 500 here.
                    return Err(HmaError::bad(format!(
                        "the {} could not be hashed with PDQ: {}",
                        ct.name(),
                        up.image_error
                            .as_deref()
                            .unwrap_or("it is not an image Candor can decode")
                    )));
                };
                Hashed {
                    signal: s,
                    value: hex::decode(&hex).unwrap_or_default(),
                    hex,
                    quality: up.quality,
                    query: MatchQuery {
                        pdq: up.query.pdq.clone(),
                        ..MatchQuery::default()
                    },
                }
            }
            Signal::VideoMd5 => Hashed {
                signal: s,
                value: hex::decode(&up.md5).unwrap_or_default(),
                hex: up.md5.clone(),
                quality: None,
                query: MatchQuery {
                    md5: up.query.md5,
                    ..MatchQuery::default()
                },
            },
            Signal::Sha256 => Hashed {
                signal: s,
                value: hex::decode(&up.sha256).unwrap_or_default(),
                hex: up.sha256.clone(),
                quality: None,
                query: MatchQuery {
                    sha256: up.query.sha256,
                    ..MatchQuery::default()
                },
            },
            Signal::Sha1 => Hashed {
                signal: s,
                value: hex::decode(&up.sha1).unwrap_or_default(),
                hex: up.sha1.clone(),
                quality: None,
                query: MatchQuery {
                    sha1: up.query.sha1,
                    ..MatchQuery::default()
                },
            },
        };
        out.push(hashed);
    }
    Ok(out)
}

/// Fetch `url` (Candor's `[fetch]` rules) and hash it: content type from `content_type` or
/// the response's `Content-Type`, signals from `types` (HMA's `hash_url_content`).
pub async fn hash_url(
    app: &App,
    url: &str,
    content_type: Option<&str>,
    types: Option<&str>,
) -> HmaResult<Vec<Hashed>> {
    let fetched = crate::fetch::fetch_content(app, url).await?;
    let ct = ContentType::of_fetched(content_type, fetched.content_type.as_deref())?;
    let signals = ct.signals(types)?;
    hash_content(app, ct, &signals, Bytes::from(fetched.bytes)).await
}

/// A multipart form as HMA reads it: the one file (its field name is its content type) and
/// the text fields.
pub struct Form {
    pub file: Option<(String, Bytes)>,
    pub fields: HashMap<String, String>,
}

pub fn is_multipart(req: &Request) -> bool {
    req.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("multipart/form-data"))
}

/// Read a multipart form (within the body limit). More than one file: 400, as HMA.
pub async fn read_form(req: Request, state: &AppState) -> HmaResult<Form> {
    let bad = |e: axum::extract::multipart::MultipartError| {
        HmaError::new(
            e.status(),
            format!("invalid multipart/form-data: {}", e.body_text()),
        )
    };
    let mut mp = Multipart::from_request(req, state).await.map_err(|e| {
        HmaError::new(
            e.status(),
            format!("invalid multipart/form-data: {}", e.body_text()),
        )
    })?;
    let mut form = Form {
        file: None,
        fields: HashMap::new(),
    };
    while let Some(field) = mp.next_field().await.map_err(bad)? {
        let name = field.name().unwrap_or("").to_string();
        let is_file = field.file_name().is_some();
        let data = field.bytes().await.map_err(bad)?;
        if is_file {
            if form.file.is_some() {
                return Err(HmaError::bad("Only one file allowed per request"));
            }
            form.file = Some((name, data));
        } else {
            let text = String::from_utf8(data.to_vec())
                .map_err(|_| HmaError::bad(format!("form field '{name}' is not UTF-8 text")))?;
            form.fields.insert(name, text);
        }
    }
    Ok(form)
}

/// Hash the file of a form (HMA's `hash_media_from_form_data`): its field names the content
/// type; `types` selects signals.
pub async fn hash_form(app: &App, form: &Form, types: Option<&str>) -> HmaResult<Vec<Hashed>> {
    let Some((field, bytes)) = &form.file else {
        return Err(HmaError::bad("Missing multipart/form-data file upload"));
    };
    let ct = ContentType::parse(field)?;
    let signals = ct.signals(types)?;
    hash_content(app, ct, &signals, bytes.clone()).await
}

/// HMA's boolean query parameters (`.lower() == "true"`, or pydantic's lenient booleans).
pub fn is_true(v: Option<&str>) -> bool {
    matches!(
        v.map(str::to_ascii_lowercase).as_deref(),
        Some("true" | "1" | "yes" | "on")
    )
}

/// The `banks` filter: comma-separated names.
pub use crate::routes::lookup::bank_filter;

/// A match as HMA answers it: the content's integer id, the bank, the distance as text
/// (`pretty_str`: the Hamming distance for PDQ, `-` for the exact digests).
#[derive(Debug, Clone)]
pub struct HmaMatch {
    pub bank_content_id: i64,
    pub bank: String,
    pub distance: String,
    pub matching_enabled_ratio: f64,
    dist: u32,
}

impl HmaMatch {
    pub fn json(&self) -> Value {
        json!({"bank_content_id": self.bank_content_id, "distance": self.distance})
    }
}

/// An HMA lookup's matches after negative banks ([`crate::matcher::screen`]): `matches` are
/// answered; the negative banks' matches and the ones they suppressed are not (an HMA client
/// would act on any bank it is given) but are named in the `X-Candor-Allowlisted` and
/// `X-Candor-Suppressed` headers ([`Screened::headers`]), so the suppression is not silent.
#[derive(Debug, Clone, Default)]
pub struct Screened {
    pub matches: Vec<HmaMatch>,
    pub allowlisted: Vec<HmaMatch>,
    pub suppressed: Vec<HmaMatch>,
}

impl Screened {
    /// Add another signal type's result (the headers of a multi-signal lookup).
    pub fn merge_names(&mut self, other: &Screened) {
        self.allowlisted.extend(other.allowlisted.iter().cloned());
        self.suppressed.extend(other.suppressed.iter().cloned());
    }

    /// `X-Candor-Allowlisted` / `X-Candor-Suppressed`: the banks, comma-separated, when a
    /// negative bank matched.
    pub fn headers(&self) -> axum::http::HeaderMap {
        let mut h = axum::http::HeaderMap::new();
        let names = |v: &[HmaMatch]| {
            let mut n: Vec<&str> = v.iter().map(|m| m.bank.as_str()).collect();
            n.sort_unstable();
            n.dedup();
            n.join(",")
        };
        for (name, list) in [
            ("x-candor-allowlisted", &self.allowlisted),
            ("x-candor-suppressed", &self.suppressed),
        ] {
            if !list.is_empty() {
                if let Ok(v) = axum::http::HeaderValue::from_str(&names(list)) {
                    h.insert(name, v);
                }
            }
        }
        h
    }
}

/// Matches of `q` with their bank content ids (one per content, the closest), closest first,
/// screened by negative banks. The content ids and ratios come from the match index; only a
/// content row id over 32 bits is read from the store.
pub async fn find(app: &App, q: &MatchQuery) -> HmaResult<Screened> {
    let found: Vec<Found> = app.matcher.read().expect("matcher lock").find(q);
    if found.is_empty() {
        return Ok(Screened::default());
    }
    let unknown: Vec<i64> = (found.iter())
        .filter(|f| f.content_row.is_none())
        .map(|f| f.row)
        .collect();
    let mut by_row: HashMap<i64, (i64, f64)> = HashMap::new();
    if !unknown.is_empty() {
        for c in candor_store::banks::contents_of_signals(app.store.reader(), &unknown).await? {
            by_row.insert(c.signal_row, (c.content_id, c.matching_enabled_ratio));
        }
    }
    let mut best: HashMap<i64, (HmaMatch, bool)> = HashMap::new();
    for f in &found {
        let (content_id, ratio) = match f.content_row {
            Some(c) => (c, f.matching_enabled_ratio),
            None => match by_row.get(&f.row) {
                Some(c) => *c,
                None => continue, // removed since it matched
            },
        };
        let distance = if f.signal == "pdq" {
            f.distance.to_string()
        } else {
            "-".to_string()
        };
        let m = HmaMatch {
            bank_content_id: content_id,
            bank: f.bank.clone(),
            distance,
            matching_enabled_ratio: ratio,
            dist: f.distance,
        };
        match best.get(&content_id) {
            Some((b, _)) if b.dist <= m.dist => {}
            _ => {
                best.insert(content_id, (m, f.negative));
            }
        }
    }
    let mut all: Vec<(HmaMatch, bool)> = best.into_values().collect();
    all.sort_by(|(a, _), (b, _)| {
        a.dist
            .cmp(&b.dist)
            .then_with(|| a.bank_content_id.cmp(&b.bank_content_id))
    });
    let (neg, rest): (Vec<_>, Vec<_>) = all.into_iter().partition(|(_, n)| *n);
    let strip = |v: Vec<(HmaMatch, bool)>| v.into_iter().map(|(m, _)| m).collect::<Vec<_>>();
    Ok(if neg.is_empty() {
        Screened {
            matches: strip(rest),
            ..Screened::default()
        }
    } else {
        Screened {
            matches: Vec::new(),
            allowlisted: strip(neg),
            suppressed: strip(rest),
        }
    })
}
