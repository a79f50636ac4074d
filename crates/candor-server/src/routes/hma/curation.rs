//! HMA's curation blueprint (`blueprints/curation.py`, `schemas/curation.py`): banks
//! (`/c/banks`, `/c/bank/<name>`), bank content (`/c/bank/<name>/content[/<id>]`,
//! `/c/bank/<name>/signal`), signal and content types (the exchange routes are
//! [`super::exchanges`]). Every write goes through
//! Candor's flows: rows, log entries (with the signals' salted commitments) and the match
//! index, as `/v1/banks` writes do. HMA's bank names (`[A-Z_][A-Z0-9_]*`) live beside Candor's
//! lowercase ones; a bank made here gets the configured `hma_bank_category`.

use axum::body::Bytes;
use axum::extract::{Path, Query, Request, State};
use axum::http::{header, StatusCode};
use axum::Json;
use candor_log::entry::ContentOp;
use candor_store::banks as store;
use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::matching::{index_sizes, selected};
use super::{
    hash_form, hash_url, read_form, ContentType, Form, Hashed, HmaError, HmaResult, Signal,
};
use crate::auth::{Caller, Role};
use crate::flows::banks::{self as flows, HmaContentUpdate, NewSignal};
use crate::routes::banks::BANK_READERS;
use crate::{new_id, App, AppState};

pub(super) const CURATOR: &[Role] = &[Role::Curator];

/// HMA's bank name rule (`storage/postgres/database.py`, `_bank_name_ok`), at most 255
/// characters (its column).
fn check_name(name: &str) -> HmaResult<()> {
    let mut chars = name.chars();
    let first_ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_uppercase() || c == '_');
    let ok = first_ok
        && chars.all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
        && name.len() <= 255;
    if ok {
        Ok(())
    } else {
        Err(HmaError::bad("Bank names must be UPPER_WITH_UNDERSCORE"))
    }
}

/// A bank's `matching_enabled_ratio` as HMA shows it: 0 when Candor's bank is disabled.
fn ratio(b: &store::BankRow) -> f64 {
    if !b.enabled {
        0.0
    } else if b.matching_enabled_ratio > 0.0 {
        b.matching_enabled_ratio
    } else {
        1.0
    }
}

/// HMA's `BankConfig`: `{"name", "matching_enabled_ratio"}`.
/// HMA's bank shape; Candor's `negative` (an extra field HMA clients ignore) only when set.
fn bank_json(b: &store::BankRow) -> Value {
    let mut v = json!({"name": b.name, "matching_enabled_ratio": ratio(b)});
    if b.negative {
        v["negative"] = Value::Bool(true);
    }
    v
}

async fn find_bank(app: &App, name: &str) -> HmaResult<Option<store::BankRow>> {
    Ok(store::find_bank(app.store.reader(), name).await?)
}

/// The bank or HMA's 404 `bank '<name>' not found`.
async fn bank_or_404(app: &App, name: &str) -> HmaResult<store::BankRow> {
    find_bank(app, name)
        .await?
        .ok_or_else(|| HmaError::not_found(format!("bank '{name}' not found")))
}

/// A JSON body that must be an object (HMA reads `request.json` / a pydantic model).
pub(super) fn json_object(body: &Bytes) -> HmaResult<Map<String, Value>> {
    let v: Value = serde_json::from_slice(body)
        .map_err(|e| HmaError::bad(format!("the body is not JSON: {e}")))?;
    match v {
        Value::Object(m) => Ok(m),
        other => Err(HmaError::Validation(vec![json!({
            "type": "model_type", "loc": [], "msg": "Input should be a valid dictionary or object",
            "input": other,
        })])),
    }
}

/// An optional field of a pydantic model: `null` or absent is `None`; a wrong type is 422.
fn opt_f64(m: &Map<String, Value>, k: &str) -> HmaResult<Option<f64>> {
    match m.get(k) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => Ok(n.as_f64()),
        Some(Value::Bool(b)) => Ok(Some(if *b { 1.0 } else { 0.0 })),
        Some(v) => Err(HmaError::wrong_type(
            k,
            "float",
            "Input should be a valid number",
            v.clone(),
        )),
    }
}

pub(super) fn opt_bool(m: &Map<String, Value>, k: &str) -> HmaResult<Option<bool>> {
    match m.get(k) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(Value::Number(n)) if n.as_i64() == Some(0) || n.as_i64() == Some(1) => {
            Ok(Some(n.as_i64() == Some(1)))
        }
        Some(v) => Err(HmaError::wrong_type(
            k,
            "bool",
            "Input should be a valid boolean",
            v.clone(),
        )),
    }
}

fn opt_str<'a>(m: &'a Map<String, Value>, k: &str) -> HmaResult<Option<&'a str>> {
    match m.get(k) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(v) => Err(HmaError::wrong_type(
            k,
            "string",
            "Input should be a valid string",
            v.clone(),
        )),
    }
}

fn check_ratio(r: f64) -> HmaResult<f64> {
    if (0.0..=1.0).contains(&r) {
        Ok(r)
    } else {
        Err(HmaError::bad("enabled_ratio must be between 0.0 and 1.0"))
    }
}

/// HMA `GET /c/banks`: `[{"name", "matching_enabled_ratio"}…]` (every bank, Candor's too).
#[utoipa::path(get, path = "/c/banks", tag = "hma", responses((status = 200, body = [Object])), security(("bearer" = [])))]
pub async fn banks_index(State(app): State<AppState>, caller: Caller) -> HmaResult<Json<Value>> {
    caller.require(BANK_READERS)?;
    let banks = store::list_banks(app.store.reader()).await?;
    Ok(Json(Value::Array(banks.iter().map(bank_json).collect())))
}

/// HMA `GET /c/bank/<name>`.
#[utoipa::path(get, path = "/c/bank/{bank_name}", tag = "hma", params(("bank_name" = String, Path)), responses((status = 200, body = Object), (status = 404)), security(("bearer" = [])))]
pub async fn bank_show(
    State(app): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
) -> HmaResult<Json<Value>> {
    caller.require(BANK_READERS)?;
    Ok(Json(bank_json(&bank_or_404(&app, &name).await?)))
}

/// HMA `POST /c/banks` `{"name", "enabled_ratio"?, "enabled"?, "negative"?}` (`negative`: Candor's negative bank, an allowlist): 201 with the bank; 400 for a
/// name that is not `UPPER_WITH_UNDERSCORE`; 403 `Bank already exists`; 422 without a name.
#[utoipa::path(post, path = "/c/banks", tag = "hma", request_body(content = Object, description = "{\"name\", \"enabled_ratio\"?, \"enabled\"?, \"negative\"?}"), responses((status = 201, body = Object), (status = 400), (status = 403), (status = 422)), security(("bearer" = [])))]
pub async fn bank_create(
    State(app): State<AppState>,
    caller: Caller,
    body: Bytes,
) -> HmaResult<(StatusCode, Json<Value>)> {
    caller.require(CURATOR)?;
    let m = json_object(&body)?;
    let name = opt_str(&m, "name")?
        .ok_or_else(|| HmaError::missing("name", Value::Object(m.clone())))?
        .to_string();
    let r = match (opt_f64(&m, "enabled_ratio")?, opt_bool(&m, "enabled")?) {
        (Some(r), _) => check_ratio(r)?,
        (None, Some(e)) => f64::from(u8::from(e)),
        (None, None) => 1.0,
    };
    let negative = opt_bool(&m, "negative")?.unwrap_or(false);
    check_name(&name)?;
    let exists = || HmaError::new(StatusCode::FORBIDDEN, "Bank already exists");
    if find_bank(&app, &name).await?.is_some() {
        return Err(exists());
    }
    let created = flows::create_bank(
        &app,
        flows::NewBank {
            name: name.clone(),
            description: String::new(),
            category: app.config.hma_bank_category.clone(),
            provenance: "own_review".into(),
            enabled: r > 0.0,
            pdq_threshold: app.config.pdq_threshold,
            matching_enabled_ratio: r,
            negative,
        },
    )
    .await;
    match created {
        Ok(_) => {}
        // Created by another request in between.
        Err(e) if e.status == StatusCode::CONFLICT => return Err(exists()),
        Err(e) => return Err(e.into()),
    }
    let b = bank_or_404(&app, &name).await?;
    Ok((StatusCode::CREATED, Json(bank_json(&b))))
}

/// HMA `PUT /c/bank/<name>` `{"name"?, "enabled"?, "enabled_ratio"?, "negative"?}`. Renaming is refused
/// (400): Candor's log entries name a bank, so a rename would be a new bank.
#[utoipa::path(put, path = "/c/bank/{bank_name}", tag = "hma", params(("bank_name" = String, Path)), request_body(content = Object), responses((status = 200, body = Object), (status = 400), (status = 404)), security(("bearer" = [])))]
pub async fn bank_update(
    State(app): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
    body: Bytes,
) -> HmaResult<Json<Value>> {
    caller.require(CURATOR)?;
    let m = json_object(&body)?;
    let cur = find_bank(&app, &name)
        .await?
        .ok_or_else(|| HmaError::not_found("Bank not found"))?;
    if let Some(new) = opt_str(&m, "name")? {
        check_name(new)?;
        if new != cur.name {
            return Err(HmaError::bad(
                "renaming a bank is not supported: Candor's log names banks; create the new \
                 bank and add the content to it",
            ));
        }
    }
    let mut r = ratio(&cur);
    if let Some(e) = opt_bool(&m, "enabled")? {
        r = f64::from(u8::from(e));
    }
    if let Some(x) = opt_f64(&m, "enabled_ratio")? {
        r = check_ratio(x)?;
    }
    let negative = opt_bool(&m, "negative")?.unwrap_or(cur.negative);
    if r != ratio(&cur) || negative != cur.negative {
        flows::update_bank(
            &app,
            cur.id,
            &cur.name,
            flows::BankUpdate {
                description: cur.description.clone(),
                category: cur.category.clone(),
                enabled: r > 0.0,
                pdq_threshold: cur.pdq_threshold,
                matching_enabled_ratio: Some(r),
                negative,
            },
        )
        .await?;
    }
    Ok(Json(bank_json(&bank_or_404(&app, &cur.name).await?)))
}

/// HMA `DELETE /c/bank/<name>`: `{"message": "Done"}`, also for a bank that does not exist.
/// The bank and its content stop matching; the deletion is a log entry.
#[utoipa::path(delete, path = "/c/bank/{bank_name}", tag = "hma", params(("bank_name" = String, Path)), responses((status = 200, body = Object)), security(("bearer" = [])))]
pub async fn bank_delete(
    State(app): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
) -> HmaResult<Json<Value>> {
    caller.require(CURATOR)?;
    if let Some(b) = find_bank(&app, &name).await? {
        flows::delete_bank(&app, b.id, &b).await?;
    }
    Ok(Json(json!({"message": "Done"})))
}

/// HMA's `_validate_note`: empty is none; a string of at most 255 characters.
fn validate_note(v: Option<&Value>) -> HmaResult<Option<String>> {
    match v {
        None | Some(Value::Null) | Some(Value::Bool(false)) => Ok(None),
        Some(Value::String(s)) if s.is_empty() => Ok(None),
        Some(Value::String(s)) if s.chars().count() > 255 => {
            Err(HmaError::bad("note must be at most 255 characters"))
        }
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(HmaError::bad("note should be a string")),
    }
}

/// HMA's `BankedContentMetadata` (`content_id`, `content_uri`, `json`; `collab` dropped) as
/// stored: the keys that are not null, or nothing.
fn validate_metadata(v: Option<&Value>) -> HmaResult<Option<String>> {
    let m = match v {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Object(m)) => m,
        Some(_) => return Err(HmaError::bad("metadata should be a json object")),
    };
    let mut kept = Map::new();
    for (k, val) in m {
        match (k.as_str(), val) {
            ("collab", _) | (_, Value::Null) => {}
            ("content_id" | "content_uri", Value::String(_)) | ("json", Value::Object(_)) => {
                kept.insert(k.clone(), val.clone());
            }
            ("content_id" | "content_uri", _) => {
                return Err(HmaError::bad(format!(
                    "Invalid metadata: {k}: Input should be a valid string"
                )))
            }
            ("json", _) => {
                return Err(HmaError::bad(
                    "Invalid metadata: json: Input should be a valid dictionary",
                ))
            }
            _ => {
                return Err(HmaError::bad(format!(
                    "Invalid metadata: {k}: Extra inputs are not permitted"
                )))
            }
        }
    }
    if kept.is_empty() {
        return Ok(None);
    }
    let text = serde_json::to_string(&kept).unwrap_or_default();
    if text.len() > 64 * 1024 {
        return Err(HmaError::bad("Invalid metadata: larger than 64 KiB"));
    }
    Ok(Some(text))
}

/// Store the hashed signals as one bank content; answer HMA's `{"id", "signals"}`.
async fn add_signals(
    app: &std::sync::Arc<App>,
    caller: &Caller,
    bank: &store::BankRow,
    hashed: Vec<Hashed>,
    metadata: Option<String>,
    note: Option<String>,
) -> HmaResult<Json<Value>> {
    if hashed.is_empty() {
        return Err(HmaError::bad("No signals given"));
    }
    let mut signals = Map::new();
    let mut new = Vec::new();
    for h in &hashed {
        signals.insert(h.signal.name().into(), json!(h.hex));
        new.push(NewSignal {
            kind: h.signal.kind(),
            value: h.value.clone(),
            quality: h.quality,
        });
    }
    let public_id = new_id();
    flows::insert_hma_content(
        app,
        bank,
        public_id.clone(),
        new,
        note.unwrap_or_default(),
        metadata,
        caller.who(),
    )
    .await?;
    let row = store::find_content(app.store.reader(), &bank.name, &public_id)
        .await?
        .ok_or_else(|| HmaError::new(StatusCode::INTERNAL_SERVER_ERROR, "added content is gone"))?;
    Ok(Json(json!({"id": row.id, "signals": signals})))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct AddContent {
    /// Fetch and hash this URL (needs `[fetch]` to allow the host).
    pub url: Option<String>,
    /// With `url`: `photo` or `video` (default: from the response's `Content-Type`).
    pub content_type: Option<String>,
    /// Comma-separated signal types to compute.
    pub types: Option<String>,
}

/// HMA `POST /c/bank/<name>/content`: `?url=` (with a JSON body `{"metadata"?, "note"?}`) or a
/// multipart upload (file field `photo`/`video`, text fields `metadata` (JSON) and `note`).
/// 200 `{"id": <bank_content_id>, "signals": {"pdq": "<hex>"}}`. The bytes are dropped once
/// hashed.
#[utoipa::path(post, path = "/c/bank/{bank_name}/content", tag = "hma", params(("bank_name" = String, Path), AddContent), request_body(content = Vec<u8>, content_type = "multipart/form-data", description = "one file, field `photo` or `video`; fields `metadata`, `note`"), responses((status = 200, body = Object), (status = 400), (status = 404), (status = 413)), security(("bearer" = [])))]
pub async fn content_add(
    State(app): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
    Query(q): Query<AddContent>,
    req: Request,
) -> HmaResult<Json<Value>> {
    caller.require(CURATOR)?;
    let bank = bank_or_404(&app, &name).await?;
    let is_json = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    let (form, metadata, note): (Option<Form>, _, _) = if super::is_multipart(&req) {
        let form = read_form(req, &app).await?;
        let meta = match form.fields.get("metadata") {
            None => None,
            Some(text) => {
                let v: Value = serde_json::from_str(text)
                    .map_err(|_| HmaError::bad("metadata form field must be valid JSON"))?;
                validate_metadata(Some(&v))?
            }
        };
        let note = validate_note(form.fields.get("note").map(|n| json!(n)).as_ref())?;
        (Some(form), meta, note)
    } else if is_json {
        let body = crate::routes::lookup::body_bytes(req, &app).await?;
        let v: Value = serde_json::from_slice(&body)
            .map_err(|e| HmaError::bad(format!("the body is not JSON: {e}")))?;
        let (meta, note) = match &v {
            Value::Object(m) => (
                validate_metadata(m.get("metadata"))?,
                validate_note(m.get("note"))?,
            ),
            _ => (None, None),
        };
        (None, meta, note)
    } else {
        // Read any other body: a client still sending it gets the answer, not a broken pipe.
        crate::routes::lookup::body_bytes(req, &app).await?;
        (None, None, None)
    };
    let hashed = if let Some(url) = q.url.as_deref().filter(|u| !u.is_empty()) {
        hash_url(&app, url, q.content_type.as_deref(), q.types.as_deref()).await?
    } else if let Some(f) = form.as_ref().filter(|f| f.file.is_some()) {
        hash_form(&app, f, q.types.as_deref()).await?
    } else {
        return Err(HmaError::bad(
            "Neither `url` nor multipart file upload was received",
        ));
    };
    add_signals(&app, &caller, &bank, hashed, metadata, note).await
}

/// HMA `POST /c/bank/<name>/signal` `{"<signal type>": "<hash>", …, "note"?}`: one content
/// with those signals; 200 `{"id", "signals"}`.
#[utoipa::path(post, path = "/c/bank/{bank_name}/signal", tag = "hma", params(("bank_name" = String, Path)), request_body(content = Object, description = "signal type → hash, and `note`"), responses((status = 200, body = Object), (status = 400), (status = 404)), security(("bearer" = [])))]
pub async fn signal_add(
    State(app): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
    body: Bytes,
) -> HmaResult<Json<Value>> {
    caller.require(CURATOR)?;
    let bank = bank_or_404(&app, &name).await?;
    let mut m = json_object(&body)?;
    let note = validate_note(m.remove("note").as_ref())?;
    let mut hashed = Vec::new();
    for (k, v) in &m {
        let s =
            Signal::parse(k).ok_or_else(|| HmaError::bad(format!("No such signal type {k}")))?;
        if hashed.iter().any(|h: &Hashed| h.signal == s) {
            return Err(HmaError::bad(format!("signal type {k} given twice")));
        }
        let text = v
            .as_str()
            .ok_or_else(|| HmaError::bad(format!("Invalid {k} signal: not a string")))?;
        let value = s
            .parse_value(text)
            .map_err(|e| HmaError::bad(format!("Invalid {k} signal: {e}")))?;
        hashed.push(Hashed {
            signal: s,
            hex: hex::encode(&value),
            query: s.query(&value),
            value,
            quality: None,
        });
    }
    add_signals(&app, &caller, &bank, hashed, None, note).await
}

/// A content id from the path (HMA's route is `<int:content_id>`: anything else is its 404).
fn content_id(id: &str) -> HmaResult<i64> {
    id.parse::<i64>()
        .map_err(|_| HmaError::not_found(format!("content '{id}' not found")))
}

/// The live (unretracted) content `id` of `bank`, or HMA's 404.
async fn content_or_404(app: &App, bank: &str, id: &str) -> HmaResult<store::ContentRow> {
    let n = content_id(id)?;
    store::find_content_by_row(app.store.reader(), bank, n)
        .await?
        .filter(|c| c.retracted_at.is_none())
        .ok_or_else(|| HmaError::not_found(format!("content '{id}' not found")))
}

/// HMA's `disable_until_ts` of a content: 1 enabled, 0 disabled, or the time a timed disable
/// ends.
fn disable_until(c: &store::ContentRow) -> i64 {
    if c.enabled {
        1
    } else {
        c.disable_until_ts.filter(|t| *t > 1).unwrap_or(0)
    }
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct ContentGet {
    /// `true`: include `signals` (default false).
    pub include_signals: Option<String>,
    /// `false`: leave out `metadata` (default true).
    pub include_metadata: Option<String>,
}

/// HMA `GET /c/bank/<name>/content/<id>`: `{"id", "disable_until_ts", "original_media_uri",
/// "bank", "signals"?, "metadata"?, "note"?}` (HMA's `BankContentResponse`).
#[utoipa::path(get, path = "/c/bank/{bank_name}/content/{content_id}", tag = "hma", params(("bank_name" = String, Path), ("content_id" = i64, Path), ContentGet), responses((status = 200, body = Object), (status = 404)), security(("bearer" = [])))]
pub async fn content_get(
    State(app): State<AppState>,
    caller: Caller,
    Path((name, id)): Path<(String, String)>,
    Query(q): Query<ContentGet>,
) -> HmaResult<Json<Value>> {
    caller.require(BANK_READERS)?;
    let bank = bank_or_404(&app, &name).await?;
    let c = content_or_404(&app, &name, &id).await?;
    let mut out = Map::new();
    out.insert("id".into(), json!(c.id));
    out.insert("disable_until_ts".into(), json!(disable_until(&c)));
    out.insert("original_media_uri".into(), Value::Null);
    out.insert("bank".into(), bank_json(&bank));
    let lower = |v: &Option<String>, default: &str| {
        v.as_deref().unwrap_or(default).eq_ignore_ascii_case("true")
    };
    if lower(&q.include_signals, "false") {
        let sigs = store::signals_of(app.store.reader(), c.id).await?;
        if !sigs.is_empty() {
            let m: Map<String, Value> = sigs
                .iter()
                .map(|s| {
                    (
                        Signal::of_kind(s.kind).name().to_string(),
                        json!(hex::encode(&s.value)),
                    )
                })
                .collect();
            out.insert("signals".into(), Value::Object(m));
        }
    }
    if lower(&q.include_metadata, "true") {
        if let Some(Value::Object(m)) = c
            .metadata
            .as_deref()
            .and_then(|t| serde_json::from_str(t).ok())
        {
            out.insert(
                "metadata".into(),
                json!({
                    "content_id": m.get("content_id").cloned().unwrap_or(Value::Null),
                    "content_uri": m.get("content_uri").cloned().unwrap_or(Value::Null),
                    "json": m.get("json").cloned().unwrap_or(Value::Null),
                    "collab": Value::Null,
                }),
            );
        }
    }
    if !c.note.is_empty() {
        out.insert("note".into(), json!(c.note));
    }
    Ok(Json(Value::Object(out)))
}

/// Five years from now, HMA's bound on `disable_until_ts`.
fn five_years_from(now: i64) -> i64 {
    now + 5 * 365 * 24 * 3600
}

/// HMA's `str_to_type(v, int)`: an integer, or a string or float that `int()` takes.
fn as_int(v: &Value) -> HmaResult<i64> {
    let bad = || {
        HmaError::bad(format!(
            "Invalid int: '{}'",
            v.as_str().map_or(v.to_string(), str::to_string)
        ))
    };
    match v {
        Value::Number(n) => n
            .as_i64()
            .or_else(|| {
                n.as_f64()
                    .filter(|f| f.is_finite() && f.abs() < 9.0e15)
                    .map(|f| f.trunc() as i64)
            })
            .ok_or_else(bad),
        Value::String(s) => s.trim().parse::<i64>().map_err(|_| bad()),
        Value::Bool(b) => Ok(i64::from(*b)),
        _ => Err(bad()),
    }
}

/// HMA `PUT /c/bank/<name>/content/<id>` `{"disable_until_ts"?, "note"?}`: 0 disables, 1
/// enables, a time disables until then (within five years); each enable or disable is a log
/// entry per signal. Answers the content as HMA's `BankContentConfig`.
#[utoipa::path(put, path = "/c/bank/{bank_name}/content/{content_id}", tag = "hma", params(("bank_name" = String, Path), ("content_id" = i64, Path)), request_body(content = Object), responses((status = 200, body = Object), (status = 400), (status = 404)), security(("bearer" = [])))]
pub async fn content_update(
    State(app): State<AppState>,
    caller: Caller,
    Path((name, id)): Path<(String, String)>,
    body: Bytes,
) -> HmaResult<Json<Value>> {
    caller.require(CURATOR)?;
    let bank = bank_or_404(&app, &name).await?;
    let c = content_or_404(&app, &name, &id).await?;
    let m = json_object(&body)?;
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let mut u = HmaContentUpdate::default();
    if let Some(v) = m.get("disable_until_ts") {
        let ts = as_int(v)?;
        if ts < 0 {
            return Err(HmaError::bad(
                "disable_until_ts must be a non-negative integer",
            ));
        }
        if ts > five_years_from(now) {
            return Err(HmaError::bad(
                "disable_until_ts must be less than 5 years in the future",
            ));
        }
        u.disable_until_ts = Some(ts);
    }
    if m.contains_key("note") {
        u.note = Some(validate_note(m.get("note"))?.unwrap_or_default());
    }
    flows::update_hma_content(&app, &name, &c.public_id, c.id, u, now).await?;
    let c = content_or_404(&app, &name, &id).await?;
    let user_metadata = c
        .metadata
        .as_deref()
        .and_then(|t| serde_json::from_str::<Value>(t).ok())
        .unwrap_or(Value::Null);
    let note = if c.note.is_empty() {
        Value::Null
    } else {
        json!(c.note)
    };
    Ok(Json(json!({
        "id": c.id,
        "disable_until_ts": disable_until(&c),
        "collab_metadata": {},
        "original_media_uri": null,
        "bank": bank_json(&bank),
        "user_metadata": user_metadata,
        "note": note,
    })))
}

/// HMA `DELETE /c/bank/<name>/content/<id>`: `{"deleted": 1}`, or 0 when there was no such
/// content. Candor retracts it (final, logged, it stops matching at once); the rows stay for
/// the log's commitments.
#[utoipa::path(delete, path = "/c/bank/{bank_name}/content/{content_id}", tag = "hma", params(("bank_name" = String, Path), ("content_id" = i64, Path)), responses((status = 200, body = Object), (status = 404)), security(("bearer" = [])))]
pub async fn content_delete(
    State(app): State<AppState>,
    caller: Caller,
    Path((name, id)): Path<(String, String)>,
) -> HmaResult<Json<Value>> {
    caller.require(CURATOR)?;
    bank_or_404(&app, &name).await?;
    let n = content_id(&id)?;
    let Some(c) = store::find_content_by_row(app.store.reader(), &name, n)
        .await?
        .filter(|c| c.retracted_at.is_none())
    else {
        return Ok(Json(json!({"deleted": 0})));
    };
    flows::change_content(
        &app,
        &name,
        &c.public_id,
        ContentOp::Retract,
        Some("deleted through the HMA API".into()),
    )
    .await?;
    Ok(Json(json!({"deleted": 1})))
}

/// HMA `GET /c/signal_type`: `[{"name", "enabled_ratio"}…]`.
#[utoipa::path(get, path = "/c/signal_type", tag = "hma", responses((status = 200, body = [Object])), security(("bearer" = [])))]
pub async fn signal_types(caller: Caller) -> HmaResult<Json<Value>> {
    caller.require(BANK_READERS)?;
    Ok(Json(Value::Array(
        Signal::ALL
            .iter()
            .map(|s| json!({"name": s.name(), "enabled_ratio": 1.0}))
            .collect(),
    )))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct TypeFilter {
    /// Only this signal type.
    pub signal_type: Option<String>,
}

/// HMA `GET /c/signal_type/index`: `{"pdq": {"db_size", "index_size", "index_out_of_date",
/// "newest_db_item", "index_built_to"}, …}`. Candor indexes at every commit: never out of date.
#[utoipa::path(get, path = "/c/signal_type/index", tag = "hma", params(TypeFilter), responses((status = 200, body = Object), (status = 400)), security(("bearer" = [])))]
pub async fn signal_type_index(
    State(app): State<AppState>,
    caller: Caller,
    Query(q): Query<TypeFilter>,
) -> HmaResult<Json<Value>> {
    caller.require(BANK_READERS)?;
    let want = selected(q.signal_type.as_deref())?;
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let mut out = Map::new();
    for (kind, n) in index_sizes(&app) {
        let s = Signal::of_kind(kind);
        if want.contains(&s) {
            out.insert(
                s.name().into(),
                json!({"db_size": n, "index_size": n, "index_out_of_date": false,
                       "newest_db_item": now, "index_built_to": now}),
            );
        }
    }
    Ok(Json(Value::Object(out)))
}

/// HMA `GET /c/content_type`: `[{"name", "enabled"}…]`.
#[utoipa::path(get, path = "/c/content_type", tag = "hma", responses((status = 200, body = [Object])), security(("bearer" = [])))]
pub async fn content_types(caller: Caller) -> HmaResult<Json<Value>> {
    caller.require(BANK_READERS)?;
    Ok(Json(Value::Array(
        ContentType::ALL
            .iter()
            .map(|c| json!({"name": c.name(), "enabled": true}))
            .collect(),
    )))
}
