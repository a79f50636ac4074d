//! HMA's matching blueprint (`blueprints/matching.py`): `/m/raw_lookup`, `/m/lookup` (GET by
//! hash or `url`, POST by upload), `/m/index/status`, `/m/compare`. Matches name bank content
//! by its integer id, with the distance as text. The index is Candor's, current at every
//! commit: disabled content and disabled banks do not match (HMA's `raw_lookup` would still
//! list disabled content); a bank's `matching_enabled_ratio` is applied as HMA applies it, one
//! coin flip per lookup (`seed` makes it repeatable; `bypass_coinflip=true` skips it).

use std::collections::BTreeMap;

use axum::extract::{Query, Request, State};
use axum::http::HeaderMap;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

use super::{
    bank_filter, find, hash_form, hash_url, is_true, read_form, signal_type, Hashed, HmaError,
    HmaMatch, HmaResult, Screened, Signal,
};
use crate::auth::Caller;
use crate::matcher::SignalKind;
use crate::routes::lookup::LOOKUP_ROLES;
use crate::{App, AppState};

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct RawLookup {
    /// The hash.
    pub signal: Option<String>,
    /// `pdq`, `video_md5` (or `md5`) or `sha256`.
    pub signal_type: Option<String>,
    /// Comma-separated bank names to keep.
    pub banks: Option<String>,
    /// `true`: `{"bank_content_id", "distance"}` objects instead of ids.
    pub include_distance: Option<String>,
}

/// The value of a `signal` for `signal_type`, HMA's 400s otherwise.
fn one_signal(signal_type_name: &str, signal: &str) -> HmaResult<(Signal, Vec<u8>)> {
    let s = signal_type(signal_type_name)?;
    let v = s
        .parse_value(signal)
        .map_err(|e| HmaError::bad(format!("invalid signal: {e}")))?;
    Ok((s, v))
}

fn keep(m: &HmaMatch, banks: &Option<Vec<String>>) -> bool {
    banks.as_ref().is_none_or(|b| b.contains(&m.bank))
}

/// HMA `GET /m/raw_lookup`: `{"matches": [<bank_content_id>…]}`, or with
/// `include_distance=true` `{"matches": [{"bank_content_id", "distance"}…]}`.
#[utoipa::path(get, path = "/m/raw_lookup", tag = "hma", params(RawLookup), responses((status = 200, body = Object), (status = 400, description = "unknown signal type or bad signal"), (status = 422, description = "signal or signal_type missing"), (status = 503, description = "the index is loading")), security(("bearer" = [])))]
pub async fn raw_lookup(
    State(app): State<AppState>,
    caller: Caller,
    Query(q): Query<RawLookup>,
) -> HmaResult<(HeaderMap, Json<Value>)> {
    caller.require(LOOKUP_ROLES)?;
    let signal = q
        .signal
        .as_deref()
        .ok_or_else(|| HmaError::missing("signal", json!({})))?;
    let st = (q.signal_type.as_deref())
        .ok_or_else(|| HmaError::missing("signal_type", json!({"signal": signal})))?;
    let (s, v) = one_signal(st, signal)?;
    let banks = bank_filter(q.banks.as_deref());
    let found = find(&app, &s.query(&v)).await?;
    let with_distance = is_true(q.include_distance.as_deref());
    let matches: Vec<Value> = found
        .matches
        .iter()
        .filter(|m| keep(m, &banks))
        .map(|m| {
            if with_distance {
                m.json()
            } else {
                json!(m.bank_content_id)
            }
        })
        .collect();
    Ok((found.headers(), Json(json!({ "matches": matches }))))
}

/// The coin flip of a lookup (HMA: `random.Random(seed).random()`, 0 when bypassed): banks
/// whose ratio is at least it answer. Repeatable for a seed (not HMA's numbers: its flip is
/// Python's Mersenne Twister).
fn coinflip(seed: Option<&str>, bypass: bool) -> f64 {
    if bypass {
        return 0.0;
    }
    let bits = match seed {
        Some(s) => {
            let d = Sha256::digest(s.as_bytes());
            u64::from_be_bytes(d[..8].try_into().unwrap_or([0; 8]))
        }
        None => rand::random::<u64>(),
    };
    (bits >> 11) as f64 / (1u64 << 53) as f64
}

/// HMA's `lookup()`: matches by bank, banks kept by the coin flip and the `banks` filter.
fn by_bank(found: &[HmaMatch], banks: &Option<Vec<String>>, flip: f64) -> Value {
    let mut out: BTreeMap<&str, Vec<Value>> = BTreeMap::new();
    for m in found {
        if keep(m, banks) && m.matching_enabled_ratio >= flip {
            out.entry(&m.bank).or_default().push(m.json());
        }
    }
    serde_json::to_value(out).unwrap_or_default()
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct Lookup {
    /// Fetch and hash this URL (needs `[fetch]` to allow the host).
    pub url: Option<String>,
    /// With `url`: `photo` or `video` (default: from the response's `Content-Type`).
    pub content_type: Option<String>,
    /// With `url`: comma-separated signal types to compute.
    pub types: Option<String>,
    /// With `url`: `true` adds `"_signals": {"<signal type>": "<hash>"}`, the hashes computed
    /// from the fetched content (Candor's; HMA answers only the matches).
    pub include_signals: Option<String>,
    /// The hash (with `signal_type`).
    pub signal: Option<String>,
    /// `pdq`, `video_md5` (or `md5`) or `sha256`; with `url`, the one type to answer for.
    pub signal_type: Option<String>,
    /// Comma-separated bank names to keep.
    pub banks: Option<String>,
    /// Makes the `matching_enabled_ratio` coin flip repeatable.
    pub seed: Option<String>,
    /// `true`: every bank answers whatever its ratio.
    pub bypass_coinflip: Option<String>,
}

/// HMA `GET /m/lookup`: by `signal_type` + `signal`, `{"<BANK>": [{"bank_content_id",
/// "distance"}]}`; by `url`, the same keyed by signal type (`{"pdq": {"<BANK>": […]}}`), or
/// only the `signal_type` asked for.
#[utoipa::path(get, path = "/m/lookup", tag = "hma", params(Lookup), responses((status = 200, body = Object), (status = 400), (status = 403, description = "fetching refused by a rule"), (status = 502, description = "the remote end failed"), (status = 503, description = "the index is loading")), security(("bearer" = [])))]
pub async fn lookup_get(
    State(app): State<AppState>,
    caller: Caller,
    Query(q): Query<Lookup>,
) -> HmaResult<(HeaderMap, Json<Value>)> {
    caller.require(LOOKUP_ROLES)?;
    let banks = bank_filter(q.banks.as_deref());
    let flip = coinflip(q.seed.as_deref(), is_true(q.bypass_coinflip.as_deref()));
    if let Some(url) = &q.url {
        let hashed = hash_url(&app, url, q.content_type.as_deref(), q.types.as_deref()).await?;
        let (mut out, names) = by_type(&app, &hashed, &banks, flip).await?;
        let mut body = match &q.signal_type {
            Some(st) => {
                let key = Signal::parse(st).map_or(st.clone(), |s| s.name().to_string());
                out.remove(&key).unwrap_or_else(|| json!({}))
            }
            None => Value::Object(out),
        };
        if is_true(q.include_signals.as_deref()) {
            body["_signals"] = signals_json(&hashed);
        }
        return Ok((names.headers(), Json(body)));
    }
    let (Some(signal), Some(st)) = (&q.signal, &q.signal_type) else {
        return Err(HmaError::bad(
            "Either url or both signal and signal_type are required",
        ));
    };
    let (s, v) = one_signal(st, signal)?;
    let found = find(&app, &s.query(&v)).await?;
    Ok((found.headers(), Json(by_bank(&found.matches, &banks, flip))))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct LookupPost {
    /// Comma-separated bank names to keep.
    pub banks: Option<String>,
    /// Makes the `matching_enabled_ratio` coin flip repeatable.
    pub seed: Option<String>,
    /// `true`: every bank answers whatever its ratio.
    pub bypass_coinflip: Option<String>,
    /// Comma-separated signal types to compute.
    pub types: Option<String>,
    /// `true` adds `"_signals": {"<signal type>": "<hash>"}`, the hashes computed from the
    /// upload (Candor's; HMA answers only the matches).
    pub include_signals: Option<String>,
}

/// The `_signals` member: each computed signal type's hash.
fn signals_json(hashed: &[Hashed]) -> Value {
    let m: Map<String, Value> = hashed
        .iter()
        .map(|h| (h.signal.name().to_string(), json!(h.hex)))
        .collect();
    Value::Object(m)
}

/// Match every computed signal: `{"<signal type>": {"<BANK>": […]}}` and the screening of all
/// of them (for the headers).
async fn by_type(
    app: &crate::App,
    hashed: &[Hashed],
    banks: &Option<Vec<String>>,
    flip: f64,
) -> HmaResult<(Map<String, Value>, Screened)> {
    let mut out = Map::new();
    let mut names = Screened::default();
    for h in hashed {
        let found = find(app, &h.query).await?;
        out.insert(h.signal.name().into(), by_bank(&found.matches, banks, flip));
        names.merge_names(&found);
    }
    Ok((out, names))
}

/// HMA `POST /m/lookup`: one file (field `photo` or `video`), `{"<signal type>": {"<BANK>":
/// [{"bank_content_id", "distance"}]}}`.
#[utoipa::path(post, path = "/m/lookup", tag = "hma", params(LookupPost), request_body(content = Vec<u8>, content_type = "multipart/form-data", description = "one file, field `photo` or `video`"), responses((status = 200, body = Object), (status = 400), (status = 413), (status = 503, description = "the index is loading")), security(("bearer" = [])))]
pub async fn lookup_post(
    State(app): State<AppState>,
    caller: Caller,
    Query(q): Query<LookupPost>,
    req: Request,
) -> HmaResult<(HeaderMap, Json<Value>)> {
    caller.require(LOOKUP_ROLES)?;
    if !super::is_multipart(&req) {
        // Read the body first: a client still sending it gets the answer, not a broken pipe.
        crate::routes::lookup::body_bytes(req, &app).await?;
        return Err(HmaError::bad("Missing multipart/form-data file upload"));
    }
    let form = read_form(req, &app).await?;
    let hashed = hash_form(&app, &form, q.types.as_deref()).await?;
    let banks = bank_filter(q.banks.as_deref());
    let flip = coinflip(q.seed.as_deref(), is_true(q.bypass_coinflip.as_deref()));
    let (mut out, names) = by_type(&app, &hashed, &banks, flip).await?;
    if is_true(q.include_signals.as_deref()) {
        out.insert("_signals".into(), signals_json(&hashed));
    }
    Ok((names.headers(), Json(Value::Object(out))))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct TypeFilter {
    /// Only this signal type.
    pub signal_type: Option<String>,
}

/// The signal types a request asks about: all, or the one named (400 `No such signal type
/// '…'` otherwise).
pub fn selected(filter: Option<&str>) -> HmaResult<Vec<Signal>> {
    match filter {
        None => Ok(Signal::ALL.to_vec()),
        Some(name) => Signal::parse(name)
            .map(|s| vec![s])
            .ok_or_else(|| HmaError::bad(format!("No such signal type '{name}'"))),
    }
}

/// Indexed signals of each type now.
pub fn index_sizes(app: &App) -> [(SignalKind, usize); 4] {
    app.matcher.read().expect("matcher lock").counts()
}

/// HMA `GET /m/index/status`: `{"pdq": {"present", "built_to", "size"}, …}`, plus Candor's
/// staleness per type (`behind_entries`, `behind_secs`: how far the in-memory index is behind
/// the store). `built_to` is the time up to which the index holds every change: now when it
/// is current (always on a single node), earlier when a follower is behind.
#[utoipa::path(get, path = "/m/index/status", tag = "hma", params(TypeFilter), responses((status = 200, body = Object), (status = 400)), security(("bearer" = [])))]
pub async fn index_status(
    State(app): State<AppState>,
    caller: Caller,
    Query(q): Query<TypeFilter>,
) -> HmaResult<Json<Value>> {
    caller.require(LOOKUP_ROLES)?;
    let want = selected(q.signal_type.as_deref())?;
    let lag = app.index_lag().await?;
    let now = time::OffsetDateTime::now_utc().unix_timestamp() - lag.behind_secs.ceil() as i64;
    let mut out = Map::new();
    for (kind, n) in index_sizes(&app) {
        let s = Signal::of_kind(kind);
        if want.contains(&s) {
            out.insert(
                s.name().into(),
                json!({"present": true, "built_to": now, "size": n,
                       "behind_entries": lag.behind_entries, "behind_secs": lag.behind_secs}),
            );
        }
    }
    Ok(Json(Value::Object(out)))
}

/// HMA's PDQ match threshold for `compare` (`PDQ_CONFIDENT_MATCH_THRESHOLD`).
const COMPARE_PDQ_THRESHOLD: u32 = 31;

/// HMA `POST /m/compare`: `{"pdq": ["<a>", "<b>"]}` → `{"pdq": [<match>, {"distance": d}]}`
/// (digests: `[<equal>, {}]`).
#[utoipa::path(post, path = "/m/compare", tag = "hma", request_body(content = Object, description = "signal type → two hashes"), responses((status = 200, body = Object), (status = 400)), security(("bearer" = [])))]
pub async fn compare(caller: Caller, body: axum::body::Bytes) -> HmaResult<Json<Value>> {
    caller.require(LOOKUP_ROLES)?;
    let v: Value = serde_json::from_slice(&body)
        .map_err(|e| HmaError::bad(format!("the body is not JSON: {e}")))?;
    let Value::Object(pairs) = v else {
        return Err(HmaError::bad("Request input was not a dict"));
    };
    let mut out = Map::new();
    for (name, hashes) in pairs {
        let Value::Array(list) = hashes else {
            return Err(HmaError::bad(format!(
                "Comparison hashes for {name} was not a list"
            )));
        };
        if list.len() != 2 {
            return Err(HmaError::bad(
                "Comparison hash list length must be exactly 2",
            ));
        }
        let s = signal_type(&name)?;
        let value = |v: &Value| -> HmaResult<Vec<u8>> {
            let text = v
                .as_str()
                .ok_or_else(|| HmaError::bad(format!("Invalid {name} hash: not a string")))?;
            s.parse_value(text)
                .map_err(|e| HmaError::bad(format!("Invalid {name} hash: {e}")))
        };
        let (a, b) = (value(&list[0])?, value(&list[1])?);
        let result = match s {
            Signal::Pdq => {
                let d: u32 = a.iter().zip(&b).map(|(x, y)| (x ^ y).count_ones()).sum();
                json!([d <= COMPARE_PDQ_THRESHOLD, {"distance": d}])
            }
            _ => json!([a == b, {}]),
        };
        out.insert(name, result);
    }
    Ok(Json(Value::Object(out)))
}
