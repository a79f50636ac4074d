//! Exchanges: a bank kept in sync with a hash-sharing source (`[[exchange]]` in the config,
//! clients in `crate::exchange`). One flow for every front end — `candor exchange sync`, the
//! scheduled sync of `candor serve`, `POST /v1/exchanges/{name}/sync`, HMA's `/c/exchange…`
//! reads — so they all page, apply and record the same way.
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
//! The bank must exist (created with its DSA category by a curator); a sync of an exchange
//! whose bank is missing fails with that message. Two syncs of one exchange never run at once
//! in one process (`App::exchange_syncs`; the second answers 409 `sync_running`).

use std::sync::Arc;
use std::time::Duration;

use axum::http::StatusCode;
use candor_store::banks as bank_store;
use candor_store::exchanges as store;
use serde::Serialize;

use super::sources::{apply, ApplyOptions};
use crate::error::{ApiError, ApiResult};
use crate::exchange::{self, ExchangeConfig, SourceError};
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

/// An exchange as configured and as its stored state says (`GET /v1/exchanges`,
/// `candor exchange status`).
#[derive(Debug, Clone, Serialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct ExchangeStatus {
    pub name: String,
    pub kind: String,
    pub bank: String,
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

fn config<'a>(app: &'a App, name: &str) -> ApiResult<&'a ExchangeConfig> {
    app.config
        .exchange
        .iter()
        .find(|e| e.name == name)
        .ok_or_else(|| {
            ApiError::not_found(
                "exchange_not_found",
                format!("no exchange {name:?} is configured ([[exchange]] in the config file)"),
            )
        })
}

/// Every configured exchange with its stored state, in configuration order.
pub async fn status(app: &App) -> ApiResult<Vec<ExchangeStatus>> {
    let rows = store::list(app.store.reader()).await?;
    let running = app.exchange_syncs.lock().expect("lock").clone();
    Ok(app
        .config
        .exchange
        .iter()
        .map(|c| {
            let r = rows.iter().find(|r| r.name == c.name);
            ExchangeStatus {
                name: c.name.clone(),
                kind: c.kind.clone(),
                bank: c.bank.clone(),
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
    config(app, name)?;
    Ok(status(app)
        .await?
        .into_iter()
        .find(|s| s.name == name)
        .expect("configured"))
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
    let cfg = config(app, name)?.clone();
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
                exchange: Some((cfg.name.clone(), page.checkpoint.clone())),
                replace_by_id: page.replace_by_id,
                malformed,
            },
        )
        .await;
        let applied = match applied {
            Ok(a) => a,
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

/// `candor serve`: one task per exchange with an `interval_secs`, syncing once the service is
/// ready and then every interval; after a failure it retries sooner (30 s, doubling, at most
/// the interval). A sync already running (an HTTP call) is not doubled.
pub fn spawn_scheduled(app: Arc<App>) -> Vec<tokio::task::JoinHandle<()>> {
    app.config
        .exchange
        .iter()
        .filter(|c| c.interval_secs > 0)
        .map(|c| {
            let (app, name, every) = (app.clone(), c.name.clone(), c.interval_secs);
            tracing::info!(exchange = %name, every_secs = every, "scheduled exchange sync");
            tokio::spawn(async move {
                while !app.is_ready() {
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                let mut failures = 0u32;
                loop {
                    let wait = match sync(&app, &name, &|_| {}).await {
                        Ok(_) => {
                            failures = 0;
                            every
                        }
                        Err(e) if e.code == "sync_running" => every,
                        Err(e) => {
                            failures += 1;
                            tracing::warn!(exchange = %name, error = %e.message, failures, "scheduled exchange sync failed");
                            (30u64 << (failures - 1).min(10)).min(every)
                        }
                    };
                    tokio::time::sleep(Duration::from_secs(wait)).await;
                }
            })
        })
        .collect()
}
