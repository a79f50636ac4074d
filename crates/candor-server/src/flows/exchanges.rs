//! Exchanges: a bank kept in sync with a hash-sharing source (clients in `crate::exchange`).
//! An exchange is defined in the config file (`[[exchange]]`, read-only through the API) or
//! created through the API (HMA's `POST /c/exchanges`; stored in the store's
//! `exchange_configs`, so every node sharing a database sees it). One flow for every front end
//! — `candor exchange sync`, the scheduled sync of `candor serve`, `POST
//! /v1/exchanges/{name}/sync`, HMA's `/c/exchange…` — so they all find ([`exchange_config`]),
//! page, apply and record the same way.
//!
//! [`sync`] reads page after page from the stored checkpoint; each page is applied by
//! [`super::sources::apply`] in one write job that also stores the page's checkpoint and counts
//! in the `exchanges` row: what the bank holds and where the next sync resumes never disagree.
//! Re-sent records are deduplicated, deletions are logged retractions, and an entry re-sent
//! with other fingerprints retracts those it no longer carries (NCMEC, TCAP). A failed fetch
//! records its (credential-free) message as `last_error` and leaves the checkpoint of the last
//! applied page, so the next sync resumes there without duplicates or loss. Malformed records:
//! StopNCII, TCAP and ThreatExchange skip and count them (`skipped`, `malformed` in the
//! report); NCMEC and a local file fail the page (NCMEC's paging cannot step over part of a
//! page; a file is all or nothing like `candor import`).
//!
//! A config-file exchange's bank must exist (created with its DSA category by a curator); an
//! exchange created through the API creates its own bank, named after it (as HMA does), in the
//! same job, and deleting it deletes that bank (a logged bank deletion). Credentials: the
//! config file's or its environment variables, else the kind's credentials set through the API
//! (`exchange_credentials`), read only here, never answered, logged or traced. Two syncs of
//! one exchange never run at once in one process (`App::exchange_syncs`; the second answers
//! 409 `sync_running`); a disabled exchange is not synced (409 `exchange_disabled`).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::http::StatusCode;
use candor_store::banks as bank_store;
use candor_store::exchanges as store;
use serde::{Deserialize, Serialize};

use super::sources::{apply, ApplyOptions, ExchangePage};
use crate::error::{ApiError, ApiResult};
use crate::exchange::{self, ExchangeConfig, Secret, SourceError};
use crate::{now_rfc3339, App};

/// What a sync did (totals of this run).
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct SyncReport {
    pub exchange: String,
    pub pages: u64,
    pub fetched: u64,
    pub added: u64,
    pub retracted: u64,
    /// Duplicates, unknown signal types, deletions of what the bank does not hold, malformed.
    pub skipped: u64,
    /// Records the source sent that could not be read (skipped).
    pub malformed: u64,
    /// The checkpoint stored after the last applied page.
    pub checkpoint: String,
    /// The last page said nothing more follows.
    pub up_to_date: bool,
}

/// Where an exchange is defined.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DefinedIn {
    /// An `[[exchange]]` table of the config file (read-only through the API).
    ConfigFile,
    /// Created through the API (HMA's `POST /c/exchanges`), stored in the store.
    Api,
}

/// An exchange: its configuration and where it is defined.
#[derive(Debug, Clone)]
pub struct Defined {
    /// Its configuration; a stored one's credentials are filled in at sync time only.
    pub config: ExchangeConfig,
    pub defined_in: DefinedIn,
    /// Fetching is on (HMA's `enabled`; always for a config-file exchange).
    pub enabled: bool,
    /// When it was created and last changed through the API (stored ones).
    pub created_at: Option<String>,
    pub updated_at: Option<String>,
}

/// The kind-specific part of a stored exchange (`exchange_configs.options`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct StoredOptions {
    /// The source's base URL (Candor's own field; it wins over NCMEC's `environment`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// NCMEC: HMA's `environment` (one of [`NCMEC_ENVIRONMENTS`]' URLs), the URL when `url`
    /// is not set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub privacy_group: Option<String>,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub page_size: u32,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

fn stored(row: store::StoredExchange) -> ApiResult<Defined> {
    let o: StoredOptions = serde_json::from_str(&row.options).map_err(|e| {
        ApiError::internal(format!(
            "exchange {}: its stored options do not parse: {e}",
            row.name
        ))
    })?;
    let mut c = ExchangeConfig::new(&row.name, &row.kind, &row.bank);
    c.url = o.url.or(o.environment);
    c.privacy_group = o.privacy_group;
    c.page_size = o.page_size;
    c.interval_secs = u64::try_from(row.interval_secs).unwrap_or(0);
    Ok(Defined {
        config: c,
        defined_in: DefinedIn::Api,
        enabled: row.enabled,
        created_at: Some(row.created_at),
        updated_at: Some(row.updated_at),
    })
}

fn from_file(c: &ExchangeConfig) -> Defined {
    Defined {
        config: c.clone(),
        defined_in: DefinedIn::ConfigFile,
        enabled: true,
        created_at: None,
        updated_at: None,
    }
}

/// Exchange `name`: the config file's, else a stored one (the one lookup of every front end).
pub async fn exchange_config(app: &App, name: &str) -> ApiResult<Option<Defined>> {
    if let Some(c) = app.config.exchange.iter().find(|e| e.name == name) {
        return Ok(Some(from_file(c)));
    }
    store::get_config(app.store.reader(), name)
        .await?
        .map(stored)
        .transpose()
}

/// Every exchange: the config file's in its order, then the stored ones by name (a stored one
/// whose name the config file took since is shadowed by it).
pub async fn exchanges(app: &App) -> ApiResult<Vec<Defined>> {
    let mut out: Vec<Defined> = app.config.exchange.iter().map(from_file).collect();
    for row in store::list_configs(app.store.reader()).await? {
        if !app.config.exchange.iter().any(|e| e.name == row.name) {
            out.push(stored(row)?);
        }
    }
    Ok(out)
}

fn not_found(name: &str) -> ApiError {
    ApiError::not_found(
        "exchange_not_found",
        format!(
            "no exchange {name:?} is configured ([[exchange]] in the config file) or was created \
             through the API"
        ),
    )
}

/// An exchange and its stored state (`GET /v1/exchanges`, `candor exchange status`).
#[derive(Debug, Clone, Serialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct ExchangeStatus {
    pub name: String,
    pub kind: String,
    pub bank: String,
    /// `config_file` (read-only through the API) or `api` (created through it).
    pub defined_in: DefinedIn,
    /// Fetching is on (HMA's `enabled`): the scheduled sync runs it.
    pub enabled: bool,
    /// When it was created and last changed through the API (`null` for the config file's).
    pub created_at: Option<String>,
    pub updated_at: Option<String>,
    /// Seconds between scheduled syncs (0: on demand only).
    pub interval_secs: u64,
    /// The source's cursor after the last applied page (empty: never synced).
    pub checkpoint: String,
    pub last_fetch_at: Option<String>,
    pub last_success_at: Option<String>,
    /// The last failed fetch's message (cleared by the next applied page).
    pub last_error: Option<String>,
    pub fetched: i64,
    pub added: i64,
    pub retracted: i64,
    pub skipped: i64,
    /// A sync of it runs now (in this process).
    pub running: bool,
}

/// Every exchange with its stored state: the config file's in its order, then the stored ones.
pub async fn status(app: &App) -> ApiResult<Vec<ExchangeStatus>> {
    let all = exchanges(app).await?;
    let rows = store::list(app.store.reader()).await?;
    let running = app.exchange_syncs.lock().expect("lock").clone();
    Ok(all
        .iter()
        .map(|d| {
            let c = &d.config;
            let r = rows.iter().find(|r| r.name == c.name);
            ExchangeStatus {
                name: c.name.clone(),
                kind: c.kind.clone(),
                bank: c.bank.clone(),
                defined_in: d.defined_in,
                enabled: d.enabled,
                created_at: d.created_at.clone(),
                updated_at: d.updated_at.clone(),
                interval_secs: c.interval_secs,
                checkpoint: r.map(|r| r.checkpoint.clone()).unwrap_or_default(),
                last_fetch_at: r.and_then(|r| r.last_fetch_at.clone()),
                last_success_at: r.and_then(|r| r.last_success_at.clone()),
                last_error: r.and_then(|r| r.last_error.clone()),
                fetched: r.map_or(0, |r| r.fetched),
                added: r.map_or(0, |r| r.added),
                retracted: r.map_or(0, |r| r.retracted),
                skipped: r.map_or(0, |r| r.skipped),
                running: running.contains(&c.name),
            }
        })
        .collect())
}

/// One exchange's status.
pub async fn status_of(app: &App, name: &str) -> ApiResult<ExchangeStatus> {
    status(app)
        .await?
        .into_iter()
        .find(|s| s.name == name)
        .ok_or_else(|| not_found(name))
}

/// The credentials set through the API for exchange kind `kind` (credential name → value).
async fn stored_credentials(app: &App, kind: &str) -> ApiResult<BTreeMap<String, String>> {
    let Some(text) = store::credentials(app.store.reader(), kind).await? else {
        return Ok(BTreeMap::new());
    };
    serde_json::from_str(&text).map_err(|_| {
        // Never the text: it holds credentials.
        ApiError::internal(format!(
            "the stored credentials of exchange kind {kind} do not parse"
        ))
    })
}

/// The configuration a sync runs with: a credential neither the config file nor its
/// environment variables give comes from the kind's credentials set through the API; a stored
/// StopNCII exchange without a `url` takes the API credentials' `base_url_override`.
async fn with_credentials(app: &App, d: &Defined) -> ApiResult<ExchangeConfig> {
    let mut c = d.config.clone();
    let stored = stored_credentials(app, &c.kind).await?;
    for key in exchange::required_credentials(&c.kind) {
        let key = key.to_string();
        if c.credentials.contains_key(&key) || c.credentials_env.contains_key(&key) {
            continue;
        }
        if let Some(v) = stored.get(&key) {
            c.credentials.insert(key, Secret(v.clone()));
        }
    }
    if d.defined_in == DefinedIn::Api && c.url.is_none() {
        c.url = stored.get(BASE_URL_OVERRIDE).cloned();
    }
    Ok(c)
}

/// StopNCII's optional credential field (HMA's `StopNCIICredentials.base_url_override`).
pub const BASE_URL_OVERRIDE: &str = "base_url_override";

/// Whether credentials for exchange kind `kind` were set through the API.
pub async fn api_credentials_set(app: &App, kind: &str) -> ApiResult<bool> {
    Ok(!stored_credentials(app, kind).await?.is_empty())
}

/// Set (or with `None` or an empty map, remove) the credentials of exchange kind `kind`
/// through the API: each a credential of the kind ([`exchange::required_credentials`]; for
/// StopNCII also `base_url_override`, a URL the API may name), every required one given. They
/// are stored for the sync flow only: never answered, logged or traced.
pub async fn set_api_credentials(
    app: &App,
    kind: &str,
    creds: Option<BTreeMap<String, String>>,
) -> ApiResult<()> {
    let creds = creds.filter(|c| !c.is_empty());
    if let Some(c) = &creds {
        let bad = |m: String| ApiError::bad_request("invalid_credentials", m);
        let required = exchange::required_credentials(kind);
        if required.is_empty() {
            return Err(bad(format!("exchange kind {kind} takes no credentials")));
        }
        for k in c.keys() {
            let known =
                required.contains(&k.as_str()) || (kind == "stopncii" && k == BASE_URL_OVERRIDE);
            if !known {
                return Err(bad(format!(
                    "{k:?} is not a credential of {kind} (those are: {})",
                    required.join(", ")
                )));
            }
        }
        for k in required {
            if c.get(*k).is_none_or(|v| v.is_empty()) {
                return Err(bad(format!("credential {k:?} of {kind} is missing")));
            }
        }
        if let Some(u) = c.get(BASE_URL_OVERRIDE) {
            check_url(app, kind, u)?;
        }
    }
    let text = creds.map(|c| serde_json::to_string(&c).expect("a map of strings"));
    let (kind, now) = (kind.to_string(), now_rfc3339());
    app.store
        .write(move |ctx| {
            Box::pin(async move {
                store::set_credentials(&mut ctx.conn, &kind, text.as_deref(), &now).await
            })
        })
        .await?;
    Ok(())
}

/// NCMEC's environments (HMA's `NCMECEnvironment` values): the URLs an NCMEC exchange created
/// through the API may name without `exchange_api_hosts`.
pub const NCMEC_ENVIRONMENTS: [(&str, &str); 14] = [
    ("Industry", "https://report.cybertip.org/hashsharing"),
    (
        "Industry_Exploitative",
        "https://report.cybertip.org/exploitative-hashsharing",
    ),
    ("LawEnforcement", "https://lesp.ncmec.org/csam-hashsharing"),
    ("NGO", "https://hashsharing.ncmec.org/npo"),
    ("Exploitative", "https://hashsharing.ncmec.org/exploitative"),
    (
        "NGO_Generative_AI",
        "https://hashsharing.ncmec.org/generative-ai-csam",
    ),
    (
        "NGO_Generative_AI_Exploitative",
        "https://hashsharing.ncmec.org/generative-ai-exploitative",
    ),
    ("test_Industry", "https://exttest.cybertip.org/hashsharing"),
    (
        "test_Industry_Exploitative",
        "https://exttest.cybertip.org/exploitative-hashsharing",
    ),
    (
        "test_LawEnforcement",
        "https://betalesp.ncmec.org/csam-hashsharing",
    ),
    ("test_NGO", "https://hashsharing-test.ncmec.org/npo"),
    (
        "test_Exploitative",
        "https://hashsharing-test.ncmec.org/exploitative",
    ),
    (
        "test_NGO_Generative_AI",
        "https://hashsharing-test.ncmec.org/generative-ai-csam",
    ),
    (
        "test_NGO_Generative_AI_Exploitative",
        "https://hashsharing-test.ncmec.org/generative-ai-exploitative",
    ),
];

/// A URL named through the API (an exchange's `url`, StopNCII's `base_url_override`): an
/// NCMEC environment, or http(s) on a host of `exchange_api_hosts` — a curator cannot point
/// the server at any other address.
fn check_url(app: &App, kind: &str, u: &str) -> ApiResult<()> {
    if kind == "ncmec" && NCMEC_ENVIRONMENTS.iter().any(|(_, url)| *url == u) {
        return Ok(());
    }
    let bad = |m: String| ApiError::bad_request("url_not_allowed", m);
    let parsed = url::Url::parse(u).map_err(|e| bad(format!("url {u:?}: {e}")))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(bad(format!("url {u:?}: only http and https")));
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(bad(format!("url {u:?}: no credentials in the URL")));
    }
    let host = match parsed.host() {
        Some(url::Host::Domain(d)) => d.trim_end_matches('.').to_ascii_lowercase(),
        Some(url::Host::Ipv4(a)) => a.to_string(),
        Some(url::Host::Ipv6(a)) => a.to_string(),
        None => return Err(bad(format!("url {u:?}: no host"))),
    };
    if app
        .config
        .exchange_api_hosts
        .iter()
        .any(|h| h.eq_ignore_ascii_case(&host))
    {
        Ok(())
    } else {
        Err(bad(format!(
            "url {u:?}: host {host} is not in exchange_api_hosts (the hosts an exchange created \
             through the API may name; without one it uses its source's public endpoint)"
        )))
    }
}

/// An exchange to create through the API.
#[derive(Debug, Clone)]
pub struct NewExchange {
    pub name: String,
    /// Candor's kind (`ncmec`, `stopncii`, `tcap`, `threatexchange`; not `file`).
    pub kind: String,
    pub options: StoredOptions,
    /// 0: on demand only; `None`: the default (3600).
    pub interval_secs: Option<u64>,
    pub enabled: bool,
}

fn configured_in_file(name: &str) -> ApiError {
    ApiError::bad_request(
        "exchange_in_config_file",
        format!(
            "exchange {name} is configured in the config file ([[exchange]]): change or remove \
             it there"
        ),
    )
}

/// Create exchange `n` and its bank (named after it, with `hma_bank_category`, the service's
/// PDQ threshold; a logged bank creation) in one job. 409 `exchange_exists` when the config
/// file or the store has one by that name, 409 `bank_exists` when a bank has it; 400 for a
/// `file` exchange (it would read a path on the server), a URL not allowed ([`check_url`]) or
/// what [`ExchangeConfig::validate`] refuses.
pub async fn create(app: &Arc<App>, n: NewExchange) -> ApiResult<Defined> {
    if n.kind == "file" {
        return Err(ApiError::bad_request(
            "exchange_kind_not_creatable",
            "a local file exchange reads a path on the server: configure it in the config file \
             ([[exchange]]), not through the API",
        ));
    }
    let mut c = ExchangeConfig::new(&n.name, &n.kind, &n.name);
    if let Some(e) = &n.options.environment {
        if n.kind != "ncmec" || !NCMEC_ENVIRONMENTS.iter().any(|(_, u)| u == e) {
            return Err(ApiError::bad_request(
                "invalid_exchange",
                format!("environment {e:?} is not one of NCMEC's environments"),
            ));
        }
    }
    c.url = n.options.url.clone().or(n.options.environment.clone());
    c.privacy_group = n.options.privacy_group.clone();
    c.page_size = n.options.page_size;
    if let Some(i) = n.interval_secs {
        c.interval_secs = i;
    }
    c.validate()
        .map_err(|e| ApiError::bad_request("invalid_exchange", e.to_string()))?;
    if let Some(u) = &n.options.url {
        check_url(app, &n.kind, u)?;
    }
    let exists = || {
        ApiError::conflict(
            "exchange_exists",
            format!("an exchange named {} exists", n.name),
        )
    };
    if app.config.exchange.iter().any(|e| e.name == n.name) {
        return Err(exists());
    }
    let now = now_rfc3339();
    let row = store::StoredExchange {
        name: n.name.clone(),
        kind: n.kind.clone(),
        bank: n.name.clone(),
        options: serde_json::to_string(&n.options).expect("options serialize"),
        interval_secs: i64::try_from(c.interval_secs).unwrap_or(i64::MAX),
        enabled: n.enabled,
        created_at: now.clone(),
        updated_at: now.clone(),
    };
    let bank = super::banks::NewBank {
        name: n.name.clone(),
        description: format!("kept in sync by exchange {} ({})", n.name, n.kind),
        category: app.config.hma_bank_category.clone(),
        provenance: format!("imported:{} ({})", n.name, n.kind),
        enabled: true,
        pdq_threshold: app.config.pdq_threshold,
        matching_enabled_ratio: 1.0,
        negative: false,
    };
    let a = app.clone();
    let r = app
        .store
        .write(move |ctx| {
            Box::pin(async move {
                if store::get_config(&mut ctx.conn, &row.name).await?.is_some() {
                    return Ok(Err("exchange"));
                }
                if bank_store::find_bank(&mut ctx.conn, &row.name)
                    .await?
                    .is_some()
                {
                    return Ok(Err("bank"));
                }
                super::banks::create_bank_in(ctx, &a, &now, bank).await?;
                // No configuration by this name: this drops only a sync state left by an
                // exchange of that name removed from the config file, so it starts afresh.
                store::delete_config(&mut ctx.conn, &row.name).await?;
                store::create_config(&mut ctx.conn, &row).await?;
                Ok(Ok(()))
            })
        })
        .await?;
    match r {
        Ok(()) => {}
        Err("exchange") => return Err(exists()),
        Err(_) => {
            return Err(ApiError::conflict(
                "bank_exists",
                format!(
                    "a bank named {} exists: an exchange created through the API makes its own \
                     bank, named after it",
                    n.name
                ),
            ))
        }
    }
    tracing::info!(exchange = %n.name, kind = %n.kind, "exchange created through the API");
    exchange_config(app, &n.name)
        .await?
        .ok_or_else(|| not_found(&n.name))
}

/// Turn fetching of a stored exchange on or off (HMA's `PUT /c/exchange/<name>`); the
/// scheduler sees it at its next tick. 400 for a config-file exchange, 404 for none.
pub async fn set_enabled(app: &App, name: &str, enabled: bool) -> ApiResult<Defined> {
    let d = exchange_config(app, name)
        .await?
        .ok_or_else(|| not_found(name))?;
    if d.defined_in == DefinedIn::ConfigFile {
        return Err(configured_in_file(name));
    }
    let (n, now) = (name.to_string(), now_rfc3339());
    app.store
        .write(move |ctx| {
            Box::pin(
                async move { store::set_config_enabled(&mut ctx.conn, &n, enabled, &now).await },
            )
        })
        .await?;
    exchange_config(app, name)
        .await?
        .ok_or_else(|| not_found(name))
}

/// Delete a stored exchange, its sync state and its bank (a logged bank deletion: the bank's
/// content stops matching at once), as HMA deletes an exchange with its bank. False when
/// there is none; 400 for a config-file exchange.
pub async fn delete(app: &Arc<App>, name: &str) -> ApiResult<bool> {
    if app.config.exchange.iter().any(|e| e.name == name) {
        return Err(configured_in_file(name));
    }
    let (n, now, a) = (name.to_string(), now_rfc3339(), app.clone());
    let deleted = app
        .store
        .write(move |ctx| {
            Box::pin(async move {
                let Some(row) = store::get_config(&mut ctx.conn, &n).await? else {
                    return Ok(false);
                };
                store::delete_config(&mut ctx.conn, &n).await?;
                if let Some(b) = bank_store::find_bank(&mut ctx.conn, &row.bank).await? {
                    super::banks::delete_bank_in(ctx, &a, &now, b.id, &b).await?;
                }
                Ok(true)
            })
        })
        .await?;
    if deleted {
        tracing::info!(exchange = %name, "exchange deleted through the API, with its bank");
    }
    Ok(deleted)
}

/// Held while a sync runs.
struct Running<'a> {
    app: &'a App,
    name: String,
}

impl Drop for Running<'_> {
    fn drop(&mut self) {
        self.app
            .exchange_syncs
            .lock()
            .expect("lock")
            .remove(&self.name);
    }
}

fn source_error(name: &str, e: &SourceError) -> ApiError {
    let status = match e.kind {
        "config" => StatusCode::INTERNAL_SERVER_ERROR,
        _ => StatusCode::BAD_GATEWAY,
    };
    let code = match e.kind {
        "credentials" => "exchange_credentials_refused",
        "config" => "exchange_misconfigured",
        "too_large" => "exchange_answer_too_large",
        "malformed" => "exchange_answer_malformed",
        _ => "exchange_unreachable",
    };
    ApiError::new(status, code, format!("exchange {name}: {}", e.message))
}

async fn record_error(app: &App, name: &str, message: &str) {
    let (n, m, at) = (name.to_string(), message.to_string(), now_rfc3339());
    let r = app
        .store
        .write(move |ctx| {
            Box::pin(async move { store::record_error(&mut ctx.conn, &n, &m, &at).await })
        })
        .await;
    if let Err(e) = r {
        tracing::warn!(exchange = name, error = %e, "exchange error not recorded");
    }
}

/// Sync exchange `name` until the source says it is up to date; `progress` sees the totals
/// after each applied page.
pub async fn sync(
    app: &Arc<App>,
    name: &str,
    progress: &(dyn Fn(&SyncReport) + Send + Sync),
) -> ApiResult<SyncReport> {
    let d = exchange_config(app, name)
        .await?
        .ok_or_else(|| not_found(name))?;
    if !d.enabled {
        return Err(ApiError::conflict(
            "exchange_disabled",
            format!("exchange {name} is disabled: enable it first (HMA's PUT /c/exchange/<name>)"),
        ));
    }
    let cfg = with_credentials(app, &d).await?;
    {
        let mut running = app.exchange_syncs.lock().expect("lock");
        if !running.insert(cfg.name.clone()) {
            return Err(ApiError::conflict(
                "sync_running",
                format!("exchange {name} is being synced now"),
            ));
        }
    }
    let _running = Running {
        app,
        name: cfg.name.clone(),
    };
    let bank = bank_store::find_bank(app.store.reader(), &cfg.bank)
        .await?
        .ok_or_else(|| {
            ApiError::not_found(
                "bank_not_found",
                format!(
                    "exchange {name} keeps bank {:?}, which does not exist: create it (with its category) first",
                    cfg.bank
                ),
            )
        })?;
    let (n, k, id) = (cfg.name.clone(), cfg.kind.clone(), bank.id);
    let row = app
        .store
        .write(move |ctx| Box::pin(async move { store::ensure(&mut ctx.conn, &n, &k, id).await }))
        .await?;
    let mut report = SyncReport {
        exchange: cfg.name.clone(),
        checkpoint: row.checkpoint.clone(),
        ..SyncReport::default()
    };
    let mut client = match exchange::client(&cfg) {
        Ok(c) => c,
        Err(e) => {
            record_error(app, name, &e.message).await;
            return Err(source_error(name, &e));
        }
    };
    loop {
        let checkpoint = report.checkpoint.clone();
        let (back, fetched) = tokio::task::spawn_blocking(move || {
            let r = client.fetch(&checkpoint);
            (client, r)
        })
        .await
        .map_err(|e| ApiError::internal(format!("exchange {name}: fetch task: {e}")))?;
        client = back;
        let page = match fetched {
            Ok(p) => p,
            Err(e) => {
                tracing::warn!(exchange = name, kind = e.kind, error = %e.message, "exchange fetch failed; the next sync resumes from the last applied page");
                record_error(app, name, &e.message).await;
                return Err(source_error(name, &e));
            }
        };
        let malformed = page.malformed;
        let applied = apply(
            app,
            &cfg.bank,
            page.records,
            ApplyOptions {
                who: format!("exchange:{}", cfg.name),
                reason: format!("deleted at its source (exchange {})", cfg.name),
                dedupe: true,
                exchange: Some(ExchangePage {
                    exchange: cfg.name.clone(),
                    after: report.checkpoint.clone(),
                    checkpoint: page.checkpoint.clone(),
                }),
                replace_by_id: page.replace_by_id,
                malformed,
            },
        )
        .await;
        let applied = match applied {
            Ok(a) => a,
            // Another process or node is syncing it: its status is its own, not an error.
            Err(e) if e.code == "sync_running" => return Err(e),
            Err(e) => {
                record_error(app, name, &format!("applying a page: {}", e.message)).await;
                return Err(e);
            }
        };
        report.pages += 1;
        report.fetched += applied.records;
        report.added += applied.added;
        report.retracted += applied.retracted;
        report.skipped += applied.skipped;
        report.malformed += malformed;
        report.checkpoint = page.checkpoint;
        report.up_to_date = !page.more;
        tracing::info!(
            exchange = name,
            pages = report.pages,
            added = report.added,
            retracted = report.retracted,
            skipped = report.skipped,
            "exchange page applied"
        );
        progress(&report);
        if !page.more {
            return Ok(report);
        }
    }
}

/// `candor serve`: the scheduled syncs. One task re-reads the exchanges every
/// `exchange_schedule_secs` (30 s) — the config file's and the stored ones, so an exchange
/// created through the API (on any node) is picked up and a deleted or disabled one is no
/// longer synced — and starts a sync of each enabled exchange with an `interval_secs` once
/// the service is ready and then every interval; after a failure it retries sooner (30 s,
/// doubling, at most the interval). A sync already running (an HTTP call) is not doubled; one
/// running when its exchange is disabled finishes its pages. Aborting the task aborts its
/// syncs.
pub fn spawn_scheduled(app: Arc<App>) -> Vec<tokio::task::JoinHandle<()>> {
    vec![tokio::spawn(async move {
        while !app.is_ready() {
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let tick = Duration::from_secs(app.config.exchange_schedule_secs.max(1));
        // Per exchange: when its next sync is due and its failures in a row.
        let mut due: HashMap<String, (Instant, u32)> = HashMap::new();
        let mut every: HashMap<String, u64> = HashMap::new();
        let mut running: HashSet<String> = HashSet::new();
        let mut syncs: tokio::task::JoinSet<(String, ApiResult<SyncReport>)> =
            tokio::task::JoinSet::new();
        loop {
            // Finished syncs: when each is due again.
            while let Some(done) = syncs.try_join_next() {
                finished(&app, done, &mut running, &mut due, &every);
            }
            match exchanges(&app).await {
                Err(e) => {
                    tracing::warn!(error = %e.message, "the exchanges could not be read; the scheduler tries again");
                }
                Ok(list) => {
                    let scheduled: Vec<&Defined> = list
                        .iter()
                        .filter(|d| d.enabled && d.config.interval_secs > 0)
                        .collect();
                    due.retain(|name, _| {
                        let keep = scheduled.iter().any(|d| &d.config.name == name);
                        if !keep {
                            tracing::info!(exchange = %name, "exchange no longer scheduled (deleted, disabled or on demand only)");
                        }
                        keep
                    });
                    let now = Instant::now();
                    for d in scheduled {
                        let name = d.config.name.clone();
                        every.insert(name.clone(), d.config.interval_secs);
                        let slot = due.entry(name.clone()).or_insert_with(|| {
                            tracing::info!(exchange = %name, every_secs = d.config.interval_secs, "scheduled exchange sync");
                            (now, 0)
                        });
                        if slot.0 <= now && !running.contains(&name) {
                            running.insert(name.clone());
                            let app = app.clone();
                            syncs.spawn(async move {
                                let r = sync(&app, &name, &|_| {}).await;
                                (name, r)
                            });
                        }
                    }
                }
            }
            // The next tick, or sooner when a sync ends (to schedule its next run).
            tokio::select! {
                _ = tokio::time::sleep(tick) => {}
                Some(done) = syncs.join_next(), if !syncs.is_empty() => {
                    finished(&app, done, &mut running, &mut due, &every);
                }
            }
        }
    })]
}

type Finished = Result<(String, ApiResult<SyncReport>), tokio::task::JoinError>;

/// A scheduled sync ended: schedule its next run. A sync task that panicked names no
/// exchange: every one no longer syncing in this process is free again.
fn finished(
    app: &App,
    done: Finished,
    running: &mut HashSet<String>,
    due: &mut HashMap<String, (Instant, u32)>,
    every: &HashMap<String, u64>,
) {
    match done {
        Ok((name, result)) => {
            running.remove(&name);
            reschedule(due, every, &name, result);
        }
        Err(e) => {
            tracing::error!(error = %e, "a scheduled exchange sync ended abnormally");
            let syncing = app.exchange_syncs.lock().expect("lock").clone();
            running.retain(|n| syncing.contains(n));
        }
    }
}

/// After a scheduled sync of `name`: due again after its interval, or sooner after a failure
/// (30 s, doubling, at most the interval). Nothing when it is no longer scheduled.
fn reschedule(
    due: &mut HashMap<String, (Instant, u32)>,
    every: &HashMap<String, u64>,
    name: &str,
    result: ApiResult<SyncReport>,
) {
    let Some(slot) = due.get_mut(name) else {
        return; // deleted or disabled meanwhile
    };
    let interval = every.get(name).copied().unwrap_or(3600);
    let wait = match result {
        Ok(_) => {
            slot.1 = 0;
            interval
        }
        Err(e) if e.code == "sync_running" => interval,
        Err(e) => {
            slot.1 += 1;
            tracing::warn!(exchange = %name, error = %e.message, failures = slot.1, "scheduled exchange sync failed");
            (30u64 << (slot.1 - 1).min(10)).min(interval)
        }
    };
    slot.0 = Instant::now() + Duration::from_secs(wait);
}
