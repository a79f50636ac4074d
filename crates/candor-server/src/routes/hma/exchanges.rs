//! HMA's exchange routes (`blueprints/curation.py`, "Fetching/Exchanges (aka collaborations)";
//! python-threatexchange's `CollaborationConfig`, `FetchStatus` and credential classes) over
//! `crate::flows::exchanges`: the config file's `[[exchange]]` tables (read-only here) and the
//! exchanges created here, stored in the store. HMA's API names map onto Candor's kinds
//! (`ncmec`, `stop_ncii` → `stopncii`, `tat` → `tcap`, `fb_threatexchange` →
//! `threatexchange`, `local_file` → `file`), its credential fields onto Candor's credential
//! names (`api_token` → `access_token`; the others are the same). Credentials set here are
//! never answered (`has_set_authentification` says whether they are set).

use std::collections::BTreeMap;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde_json::{json, Map, Value};

use super::curation::{json_object, opt_bool, CURATOR};
use super::{HmaError, HmaResult};
use crate::auth::Caller;
use crate::exchange::{required_credentials, KINDS};
use crate::flows::exchanges::{
    self as flows, Defined, DefinedIn, NewExchange, StoredOptions, BASE_URL_OVERRIDE,
    NCMEC_ENVIRONMENTS,
};
use crate::routes::banks::BANK_READERS;
use crate::AppState;

/// HMA's name of each Candor exchange kind (its `SignalExchangeAPI.get_name()`).
fn hma_api(kind: &str) -> &'static str {
    match kind {
        "ncmec" => "ncmec",
        "stopncii" => "stop_ncii",
        "tcap" => "tat",
        "threatexchange" => "fb_threatexchange",
        _ => "local_file",
    }
}

/// Candor's kind of HMA API `api`, if Candor has it.
fn kind_of(api: &str) -> Option<&'static str> {
    KINDS.iter().copied().find(|k| hma_api(k) == api)
}

/// HMA's name of one of Candor's credentials (the field of HMA's credential class).
fn hma_credential(kind: &str, candor: &str) -> String {
    match (kind, candor) {
        ("threatexchange", "access_token") => "api_token".into(),
        (_, c) => c.into(),
    }
}

/// A field descriptor as HMA's `utils/exchange_schema.py` writes it.
fn field(name: &str, kind: &str, required: bool, default: Value, help: &str) -> Value {
    json!({"name": name, "type": kind, "required": required, "default": default,
           "help": help, "choices": null})
}

/// HMA's help texts of the credential fields (python-threatexchange's credential classes).
fn credential_help(kind: &str, name: &str) -> &'static str {
    match (kind, name) {
        ("ncmec", "user") => "NCMEC hash sharing API username.",
        ("ncmec", "password") => "NCMEC hash sharing API password.",
        ("stopncii", "fetch_function_key") => {
            "API key for the Fetch Hashes endpoint. Used when downloading hashes from StopNCII."
        }
        ("stopncii", "subscription_key") => {
            "Azure API Management subscription key. Sent as Ocp-Apim-Subscription-Key on all requests."
        }
        ("tcap", "username") => "Tech Against Terrorism hash list API username.",
        ("tcap", "password") => "Tech Against Terrorism hash list API password.",
        ("threatexchange", "access_token") => {
            "Meta app access token. Create one at https://developers.facebook.com/tools/accesstoken/ for your ThreatExchange app."
        }
        _ => "",
    }
}

/// HMA's `exchange_api_schema(api_cls)`: the type-specific fields of `api_json` (HMA's, then
/// Candor's own, marked "Candor:") and the credential fields (`null` for an API without).
fn schema(kind: &str) -> Value {
    let mut config = match kind {
        "ncmec" => vec![
            json!({"name": "environment", "type": "enum", "required": true, "default": null,
                   "help": "which database to connect to",
                   "choices": NCMEC_ENVIRONMENTS.iter().map(|(_, u)| *u).collect::<Vec<_>>()}),
            field(
                "only_esp_ids",
                "set_of_number",
                false,
                json!([]),
                "Only take entries from these eletronic service provider (ESP) ids",
            ),
        ],
        "threatexchange" => vec![field(
            "privacy_group",
            "number",
            true,
            Value::Null,
            "ThreatPrivacyGroup ID for this collaboration",
        )],
        "file" => vec![
            field("filename", "string", true, Value::Null, "the absolute file path to the signal file"),
            field("signal_type", "string", false, Value::Null, "if the file row doesn't list the signal type, interpret as this type (SignalType.get_name())"),
        ],
        _ => vec![],
    };
    if kind != "file" {
        config.extend([
            field("url", "string", false, Value::Null, "Candor: the source's base URL, a host of exchange_api_hosts (default: its public endpoint)"),
            field("interval_secs", "number", false, json!(3600), "Candor: seconds between scheduled syncs (0: on demand only)"),
            field("page_size", "number", false, json!(0), "Candor: records asked for per page (0: the source's default)"),
        ]);
    }
    let creds = required_credentials(kind);
    let credentials = if creds.is_empty() {
        Value::Null
    } else {
        let mut fields: Vec<Value> = creds
            .iter()
            .map(|c| {
                field(
                    &hma_credential(kind, c),
                    "string",
                    true,
                    Value::Null,
                    credential_help(kind, c),
                )
            })
            .collect();
        if kind == "stopncii" {
            fields.push(field(BASE_URL_OVERRIDE, "string", false, Value::Null, "Optional. Override the API base URL (e.g. for testing). Leave blank to use https://api.stopncii.org/v1"));
        }
        json!({"fields": fields})
    };
    json!({"config_schema": {"fields": config}, "credentials_schema": credentials})
}

/// An exchange as HMA's `dataclass_dumps(collab)` shows it (`name`, `api`, `enabled` and the
/// API's own fields), plus Candor's `bank`, `defined_in` and `interval_secs`.
fn collab_json(d: &Defined) -> Value {
    let c = &d.config;
    let enabled = match d.defined_in {
        DefinedIn::ConfigFile => c.interval_secs > 0,
        DefinedIn::Api => d.enabled,
    };
    let mut v = json!({"name": c.name, "api": hma_api(&c.kind), "enabled": enabled});
    match c.kind.as_str() {
        "ncmec" => {
            let url = c.url.as_deref().unwrap_or(NCMEC_ENVIRONMENTS[0].1);
            let env = NCMEC_ENVIRONMENTS.iter().find(|(_, u)| *u == url);
            v["environment"] = env.map_or(Value::Null, |(_, u)| json!(u));
            v["only_esp_ids"] = json!([]);
        }
        "threatexchange" => {
            let g = c.privacy_group.as_deref().unwrap_or("");
            v["privacy_group"] = g.parse::<u64>().map_or(json!(g), |n| json!(n));
        }
        _ => {}
    }
    v["bank"] = json!(c.bank);
    v["defined_in"] = json!(d.defined_in);
    v["interval_secs"] = json!(c.interval_secs);
    v
}

fn not_found(name: &str) -> HmaError {
    HmaError::not_found(format!("Exchange '{name}' not found"))
}

async fn collab(app: &crate::App, name: &str) -> HmaResult<Defined> {
    flows::exchange_config(app, name)
        .await?
        .ok_or_else(|| not_found(name))
}

/// HMA `GET /c/exchanges`: every exchange's name (the config file's, then those created
/// through the API).
#[utoipa::path(get, path = "/c/exchanges", tag = "hma", responses((status = 200, body = [String], description = "the exchanges' names")), security(("bearer" = [])))]
pub async fn exchanges_list(State(app): State<AppState>, caller: Caller) -> HmaResult<Json<Value>> {
    caller.require(BANK_READERS)?;
    let all = flows::exchanges(&app).await?;
    Ok(Json(json!(all
        .iter()
        .map(|d| d.config.name.clone())
        .collect::<Vec<_>>())))
}

/// HMA `GET /c/exchanges/apis`: the exchange APIs Candor has, by HMA's names.
#[utoipa::path(get, path = "/c/exchanges/apis", tag = "hma", responses((status = 200, body = [String], description = "exchange API names")), security(("bearer" = [])))]
pub async fn exchange_apis(caller: Caller) -> HmaResult<Json<Value>> {
    caller.require(BANK_READERS)?;
    Ok(Json(json!(KINDS
        .iter()
        .map(|k| hma_api(k))
        .collect::<Vec<_>>())))
}

/// `api_json` of HMA's `POST /c/exchanges` as the API's `CollaborationConfig` reads it, into
/// Candor's options: `enabled` (default true); NCMEC `environment` (required, one of HMA's
/// `NCMECEnvironment` values, or its name) and `only_esp_ids` (empty: Candor fetches every
/// ESP's entries); ThreatExchange `privacy_group` (required); Candor's `url`, `interval_secs`,
/// `page_size`. `name` and `api` are set from the request, as HMA does.
fn parse_api_json(
    kind: &str,
    m: &Map<String, Value>,
) -> Result<(StoredOptions, Option<u64>, bool), String> {
    let mut o = StoredOptions::default();
    let mut interval = None;
    let mut enabled = true;
    let uint = |k: &str, v: &Value| -> Result<u64, String> {
        v.as_u64()
            .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
            .ok_or_else(|| format!("wrong value type for field \"{k}\" - should be \"int\""))
    };
    for (k, v) in m {
        match (k.as_str(), kind) {
            ("name" | "api", _) => {}
            ("enabled", _) => {
                enabled = v
                    .as_bool()
                    .ok_or("wrong value type for field \"enabled\" - should be \"bool\"")?;
            }
            ("url", _) if !v.is_null() => {
                o.url = Some(
                    v.as_str()
                        .ok_or("wrong value type for field \"url\" - should be \"str\"")?
                        .to_string(),
                );
            }
            ("url", _) => {}
            ("interval_secs", _) => interval = Some(uint(k, v)?),
            ("page_size", _) => {
                o.page_size = u32::try_from(uint(k, v)?)
                    .map_err(|_| "field \"page_size\" is too large".to_string())?;
            }
            ("environment", "ncmec") => {
                let s = v.as_str().unwrap_or("");
                let env = NCMEC_ENVIRONMENTS
                    .iter()
                    .find(|(name, url)| *url == s || *name == s)
                    .ok_or_else(|| format!("{v} is not a valid NCMECEnvironment"))?;
                o.environment = Some(env.1.to_string());
            }
            ("only_esp_ids", "ncmec") => {
                if !(v.is_null() || v.as_array().is_some_and(|a| a.is_empty())) {
                    return Err(
                        "only_esp_ids is not supported: Candor's NCMEC client fetches \
                                every ESP's entries"
                            .into(),
                    );
                }
            }
            ("privacy_group", "threatexchange") => o.privacy_group = Some(uint(k, v)?.to_string()),
            _ => {
                return Err(format!(
                    "unknown field \"{k}\" for {} (its fields: {})",
                    hma_api(kind),
                    schema(kind)["config_schema"]["fields"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(|f| f["name"].as_str())
                        .chain(["enabled"])
                        .collect::<Vec<_>>()
                        .join(", ")
                ))
            }
        }
    }
    if kind == "ncmec" && o.environment.is_none() {
        return Err("missing value for field \"environment\"".into());
    }
    if kind == "threatexchange" && o.privacy_group.is_none() {
        return Err("missing value for field \"privacy_group\"".into());
    }
    Ok((o, interval, enabled))
}

/// HMA's exchange name rule (`_bank_name_ok`): the exchange's bank is named after it.
fn name_ok(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_uppercase() || c == '_')
        && chars.all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
}

/// HMA `POST /c/exchanges` `{"bank", "api", "api_json"}`: create an exchange named `bank`
/// and its bank, named after it (HMA's `exchange_update(create=True)`; a logged bank
/// creation with `hma_bank_category`). 201 `{"message": "Created successfully"}`; HMA's 400s
/// (`bank is required`, the name pattern, `api_json` not an object, no or an unknown `api`,
/// `Failed to parse `api_json` - …`); 400 for `local_file` (it would read a path on the
/// server: configure it in the config file) and for a `url` whose host is not in
/// `exchange_api_hosts`; 403 `Exchange already exists` (a name the config file or the store
/// has) or `Bank already exists` (HMA answers 500 for both: an unhandled IntegrityError).
#[utoipa::path(post, path = "/c/exchanges", tag = "hma", request_body(content = Object, description = "{\"bank\", \"api\", \"api_json\"?}"), responses((status = 201, body = Object, description = "{\"message\": \"Created successfully\"}"), (status = 400), (status = 403)), security(("bearer" = [])))]
pub async fn exchange_create(
    State(app): State<AppState>,
    caller: Caller,
    body: Bytes,
) -> HmaResult<(StatusCode, Json<Value>)> {
    caller.require(CURATOR)?;
    let m = json_object(&body)?;
    let name = match m.get("bank") {
        None | Some(Value::Null) => return Err(HmaError::bad("bank is required")),
        Some(Value::String(s))
            if !s.is_empty()
                && s.chars()
                    .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_') =>
        {
            s.clone()
        }
        Some(_) => return Err(HmaError::bad("Field `bank` must match /^[A-Z0-9_]+$/")),
    };
    let empty = Value::Object(Map::new());
    let Value::Object(api_json) = m.get("api_json").unwrap_or(&empty) else {
        return Err(HmaError::bad("Field `api_json` must be object"));
    };
    let api = match m.get("api") {
        None | Some(Value::Null) => return Err(HmaError::bad("Field `api_type` is required")),
        Some(Value::String(s)) => s.as_str(),
        Some(v) => return Err(HmaError::bad(format!("No such exchange type '{v}'"))),
    };
    let kind =
        kind_of(api).ok_or_else(|| HmaError::bad(format!("No such exchange type '{api}'")))?;
    if kind == "file" {
        return Err(HmaError::bad(
            "local_file exchanges read a path on the server: configure them in Candor's config \
             file ([[exchange]]), not through the API",
        ));
    }
    let (options, interval_secs, enabled) = parse_api_json(kind, api_json)
        .map_err(|e| HmaError::bad(format!("Failed to parse `api_json` - {e}")))?;
    if !name_ok(&name) {
        return Err(HmaError::bad(
            "Collaboration names must be UPPER_WITH_UNDERSCORE",
        ));
    }
    let created = flows::create(
        &app,
        NewExchange {
            name,
            kind: kind.to_string(),
            options,
            interval_secs,
            enabled,
        },
    )
    .await;
    match created {
        Ok(_) => Ok((
            StatusCode::CREATED,
            Json(json!({"message": "Created successfully"})),
        )),
        Err(e) if e.code == "exchange_exists" => Err(HmaError::new(
            StatusCode::FORBIDDEN,
            "Exchange already exists",
        )),
        Err(e) if e.code == "bank_exists" => {
            Err(HmaError::new(StatusCode::FORBIDDEN, "Bank already exists"))
        }
        Err(e) => Err(e.into()),
    }
}

/// HMA `GET /c/exchange/<name>`: the exchange's collaboration config (`name`, `api`,
/// `enabled`, the API's fields) plus Candor's `bank`, `defined_in`, `interval_secs`; HMA's
/// 404 when there is none by that name.
#[utoipa::path(get, path = "/c/exchange/{exchange_name}", tag = "hma", params(("exchange_name" = String, Path)), responses((status = 200, body = Object), (status = 404)), security(("bearer" = [])))]
pub async fn exchange_show(
    State(app): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
) -> HmaResult<Json<Value>> {
    caller.require(BANK_READERS)?;
    Ok(Json(collab_json(&collab(&app, &name).await?)))
}

/// HMA `PUT /c/exchange/<name>` `{"enabled"?}` (HMA's `ExchangeUpdateRequest`): fetching on
/// or off; answers the config as `GET` does. The scheduled sync sees the change at its next
/// tick. 404 when there is none; 400 for an exchange of the config file (change it there);
/// 422 for an `enabled` that is not a boolean.
#[utoipa::path(put, path = "/c/exchange/{exchange_name}", tag = "hma", params(("exchange_name" = String, Path)), request_body(content = Object, description = "{\"enabled\"?: bool}"), responses((status = 200, body = Object), (status = 400), (status = 404)), security(("bearer" = [])))]
pub async fn exchange_update(
    State(app): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
    body: Bytes,
) -> HmaResult<Json<Value>> {
    caller.require(CURATOR)?;
    let m = json_object(&body)?;
    let enabled = opt_bool(&m, "enabled")?;
    let d = collab(&app, &name).await?;
    let d = match (enabled, d.defined_in) {
        (_, DefinedIn::ConfigFile) | (None, _) => {
            // HMA writes the config back unchanged; a config-file one cannot be written.
            if d.defined_in == DefinedIn::ConfigFile {
                return Err(HmaError::bad(format!(
                    "exchange {name} is configured in Candor's config file ([[exchange]]): change it there"
                )));
            }
            d
        }
        (Some(e), DefinedIn::Api) => flows::set_enabled(&app, &name, e).await?,
    };
    Ok(Json(collab_json(&d)))
}

fn unix(ts: &Option<String>) -> Option<i64> {
    ts.as_deref()
        .and_then(|t| {
            time::OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339).ok()
        })
        .map(|t| t.unix_timestamp())
}

/// HMA `GET /c/exchange/<name>/status`: HMA's `FetchStatus` (`checkpoint_ts`,
/// `running_fetch_start_ts`, `last_fetch_complete_ts`, `last_fetch_succeeded`, `up_to_date`,
/// `fetched_items`) from the exchange's stored state.
#[utoipa::path(get, path = "/c/exchange/{exchange_name}/status", tag = "hma", params(("exchange_name" = String, Path)), responses((status = 200, body = Object), (status = 404)), security(("bearer" = [])))]
pub async fn exchange_status(
    State(app): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
) -> HmaResult<Json<Value>> {
    caller.require(BANK_READERS)?;
    collab(&app, &name).await?;
    let st = flows::status_of(&app, &name).await?;
    let succeeded = st.last_fetch_at.as_ref().map(|_| st.last_error.is_none());
    Ok(Json(json!({
        "checkpoint_ts": unix(&st.last_success_at),
        "running_fetch_start_ts": if st.running { Some(time::OffsetDateTime::now_utc().unix_timestamp()) } else { None },
        "last_fetch_complete_ts": unix(&st.last_fetch_at),
        "last_fetch_succeeded": succeeded,
        "up_to_date": succeeded == Some(true) && !st.running,
        "fetched_items": st.fetched,
    })))
}

/// HMA `DELETE /c/exchange/<name>`: `{"message": "Exchange deleted"}`, also for one that does
/// not exist (as HMA). As in HMA, the exchange's bank goes with it: a logged bank deletion,
/// its content stops matching at once. 400 for an exchange of the config file.
#[utoipa::path(delete, path = "/c/exchange/{exchange_name}", tag = "hma", params(("exchange_name" = String, Path)), responses((status = 200, body = Object), (status = 400)), security(("bearer" = [])))]
pub async fn exchange_delete(
    State(app): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
) -> HmaResult<Json<Value>> {
    caller.require(CURATOR)?;
    flows::delete(&app, &name).await?;
    Ok(Json(json!({"message": "Exchange deleted"})))
}

fn api_kind(api: &str) -> HmaResult<&'static str> {
    kind_of(api).ok_or_else(|| HmaError::bad(format!("no such Exchange API '{api}'")))
}

async fn api_answer(app: &crate::App, kind: &str) -> HmaResult<Json<Value>> {
    Ok(Json(json!({
        "supports_authentification": !required_credentials(kind).is_empty(),
        "has_set_authentification": flows::api_credentials_set(app, kind).await?,
    })))
}

/// HMA `GET /c/exchanges/api/<api>`: `{"supports_authentification",
/// "has_set_authentification"}` (whether credentials were set through the API; never the
/// credentials). 400 for an API Candor does not have.
#[utoipa::path(get, path = "/c/exchanges/api/{api_name}", tag = "hma", params(("api_name" = String, Path)), responses((status = 200, body = Object, description = "{\"supports_authentification\": bool, \"has_set_authentification\": bool}"), (status = 400)), security(("bearer" = [])))]
pub async fn exchange_api(
    State(app): State<AppState>,
    caller: Caller,
    Path(api): Path<String>,
) -> HmaResult<Json<Value>> {
    caller.require(BANK_READERS)?;
    let kind = api_kind(&api)?;
    api_answer(&app, kind).await
}

/// HMA `POST /c/exchanges/api/<api>` `{"credential_json": {…}}`: set the API's credentials
/// (HMA's credential class fields: NCMEC `user`, `password`; StopNCII `fetch_function_key`,
/// `subscription_key`, `base_url_override`?; TAT `username`, `password`; ThreatExchange
/// `api_token`), or unset them with an empty one; answers as `GET`. They are used by every
/// exchange of that API created through the API, and by a config-file exchange for a
/// credential its table and environment do not give. 400 for an unknown API, a body that is
/// not an object, an API without credentials, a missing or unknown field.
#[utoipa::path(post, path = "/c/exchanges/api/{api_name}", tag = "hma", params(("api_name" = String, Path)), request_body(content = Object, description = "{\"credential_json\": {...}}"), responses((status = 200, body = Object, description = "{\"supports_authentification\": bool, \"has_set_authentification\": bool}"), (status = 400)), security(("bearer" = [])))]
pub async fn exchange_api_update(
    State(app): State<AppState>,
    caller: Caller,
    Path(api): Path<String>,
    body: Bytes,
) -> HmaResult<Json<Value>> {
    caller.require(CURATOR)?;
    let kind = api_kind(&api)?;
    let m = match serde_json::from_slice::<Value>(&body) {
        Ok(Value::Object(m)) => m,
        _ => return Err(HmaError::bad("this endpoint expects a json object payload")),
    };
    let creds = match m.get("credential_json") {
        None | Some(Value::Null) => return api_answer(&app, kind).await,
        Some(Value::Object(c)) if !c.is_empty() => c.clone(),
        Some(Value::Object(_)) | Some(Value::Bool(false)) => {
            flows::set_api_credentials(&app, kind, None).await?;
            return api_answer(&app, kind).await;
        }
        Some(Value::String(s)) if s.is_empty() => {
            flows::set_api_credentials(&app, kind, None).await?;
            return api_answer(&app, kind).await;
        }
        Some(_) => return Err(HmaError::bad("credential_json must be a json object")),
    };
    let required = required_credentials(kind);
    if required.is_empty() {
        return Err(HmaError::bad(format!("{api} does not support credentials")));
    }
    let mut out = BTreeMap::new();
    for (k, v) in &creds {
        let candor = required
            .iter()
            .find(|c| hma_credential(kind, c) == *k)
            .map(|c| c.to_string())
            .or_else(|| (kind == "stopncii" && k == BASE_URL_OVERRIDE).then(|| k.clone()));
        let Some(candor) = candor else {
            return Err(HmaError::bad(format!(
                "{k:?} is not a credential of {api} (those are: {})",
                required
                    .iter()
                    .map(|c| hma_credential(kind, c))
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        };
        match v {
            Value::Null if candor == BASE_URL_OVERRIDE => {}
            Value::String(s) if !s.is_empty() || candor == BASE_URL_OVERRIDE => {
                if !s.is_empty() {
                    out.insert(candor, s.clone());
                }
            }
            // Never the value: it may be a credential.
            _ => {
                return Err(HmaError::bad(format!(
                    "credential {k:?} must be a non-empty string"
                )))
            }
        }
    }
    for c in required {
        if !out.contains_key(*c) {
            return Err(HmaError::bad(format!(
                "credential {:?} of {api} is missing",
                hma_credential(kind, c)
            )));
        }
    }
    flows::set_api_credentials(&app, kind, Some(out)).await?;
    api_answer(&app, kind).await
}

/// HMA `GET /c/exchanges/api/<api>/schema`: `{"config_schema": {"fields": […]},
/// "credentials_schema": {"fields": […]} | null}`, each field `{"name", "type", "required",
/// "default", "help", "choices"}` as HMA's `exchange_api_schema` describes its classes, plus
/// Candor's own `api_json` fields (help "Candor: …"). HMA's 404 for an API Candor does not
/// have.
#[utoipa::path(get, path = "/c/exchanges/api/{api_name}/schema", tag = "hma", params(("api_name" = String, Path)), responses((status = 200, body = Object), (status = 404)), security(("bearer" = [])))]
pub async fn exchange_api_schema(
    caller: Caller,
    Path(api): Path<String>,
) -> HmaResult<Json<Value>> {
    caller.require(BANK_READERS)?;
    let kind = kind_of(&api)
        .ok_or_else(|| HmaError::not_found(format!("Exchange API '{api}' not found")))?;
    Ok(Json(schema(kind)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_json_is_read_as_hma_reads_it() {
        let m = |v: Value| v.as_object().unwrap().clone();
        let (o, i, e) = parse_api_json(
            "ncmec",
            &m(json!({"environment": "https://exttest.cybertip.org/hashsharing", "only_esp_ids": [], "name": "X", "enabled": false})),
        )
        .unwrap();
        assert_eq!(
            o.environment.as_deref(),
            Some("https://exttest.cybertip.org/hashsharing")
        );
        assert_eq!((i, e), (None, false));
        let (o, ..) = parse_api_json("ncmec", &m(json!({"environment": "NGO"}))).unwrap();
        assert_eq!(
            o.environment.as_deref(),
            Some("https://hashsharing.ncmec.org/npo")
        );
        assert!(parse_api_json("ncmec", &m(json!({})))
            .unwrap_err()
            .contains("environment"));
        assert!(parse_api_json("ncmec", &m(json!({"environment": "x"}))).is_err());
        assert!(parse_api_json(
            "ncmec",
            &m(json!({"environment": "NGO", "only_esp_ids": [1]}))
        )
        .is_err());
        let (o, i, _) = parse_api_json(
            "threatexchange",
            &m(json!({"privacy_group": 303636684709969u64, "interval_secs": 60})),
        )
        .unwrap();
        assert_eq!(
            (o.privacy_group.as_deref(), i),
            (Some("303636684709969"), Some(60))
        );
        assert!(parse_api_json("threatexchange", &m(json!({}))).is_err());
        assert!(parse_api_json("threatexchange", &m(json!({"privacy_group": "abc"}))).is_err());
        let err = parse_api_json("tcap", &m(json!({"privacy_group": 1}))).unwrap_err();
        assert!(err.contains("unknown field \"privacy_group\""), "{err}");
        assert!(parse_api_json("stopncii", &m(json!({"enabled": "yes"}))).is_err());
    }

    #[test]
    fn schemas_are_hmas() {
        let s = schema("threatexchange");
        let f = &s["config_schema"]["fields"][0];
        assert_eq!(
            (
                f["name"].as_str(),
                f["type"].as_str(),
                f["required"].as_bool()
            ),
            (Some("privacy_group"), Some("number"), Some(true))
        );
        assert_eq!(s["credentials_schema"]["fields"][0]["name"], "api_token");
        assert_eq!(schema("file")["credentials_schema"], Value::Null);
        assert_eq!(
            schema("stopncii")["credentials_schema"]["fields"]
                .as_array()
                .unwrap()
                .len(),
            3
        );
        assert_eq!(
            schema("ncmec")["config_schema"]["fields"][0]["choices"]
                .as_array()
                .unwrap()
                .len(),
            14
        );
    }
}
