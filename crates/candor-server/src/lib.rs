//! The Candor service: HTTP (axum) over signals, index, policy, store and log.
//!
//! Entry points: [`serve`] (what `candor serve` runs), [`App::open`] + [`App::router`] (what
//! tests use). Handlers live in `routes/`; each one checks the caller's role, validates, then
//! calls the store (writes through the group-committing writer) and the in-memory [`Matcher`].

pub mod auth;
pub mod config;
pub mod conn;
pub mod entries;
pub mod error;
pub mod exchange;
pub mod fetch;
pub mod flows;
pub mod follow;
pub mod matcher;
mod openapi;
pub mod routes;
pub mod signals;
pub mod snapshot;
pub mod texts;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock, RwLock};
use std::time::Instant;

use axum::extract::{DefaultBodyLimit, MatchedPath, Request};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::Router;
use candor_log::Signer;
use candor_policy::PolicySet;
use candor_store::Store;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use tokio::net::TcpListener;

pub use config::Config;

use crate::auth::TokenCache;
use crate::matcher::Matcher;

/// Shared state of a running service.
pub struct App {
    pub config: Config,
    pub store: Store,
    pub matcher: RwLock<Matcher>,
    pub tokens: TokenCache,
    pub policies: RwLock<Arc<PolicySet>>,
    pub numbers: std::sync::Mutex<candor_log::numbers::Numbers>,
    pub metrics: PrometheusHandle,
    /// Uploads being hashed now (bounded: beyond it, 503 with `Retry-After`).
    pub uploads: Arc<tokio::sync::Semaphore>,
    /// The match index and the numbers are loaded and caught up with the log. Until then only
    /// health, readiness, metrics, the log and the API description answer (others: 503).
    pub ready: AtomicBool,
    /// How the index was loaded at start (`None` while loading).
    pub load_report: std::sync::Mutex<Option<snapshot::LoadReport>>,
    /// Held while a snapshot is written; the log size of the last one written or loaded.
    snapshot_at: tokio::sync::Mutex<Option<u64>>,
    /// Called by the snapshot writer between its meta and its indexes, with no lock held
    /// (tests hold a writer there to show that changes and lookups go on).
    pub snapshot_hook: std::sync::Mutex<Option<snapshot::Hook>>,
    /// On a shared database: the log size up to which the match index holds every node's
    /// changes (set when loaded, then by [`follow`]).
    pub followed: std::sync::atomic::AtomicU64,
    /// Set while [`App::compact_index_in_background`]'s builder runs.
    compacting: std::sync::atomic::AtomicBool,
    /// When the match index last applied a change and last held everything committed
    /// ([`App::index_lag`]).
    pub index_progress: std::sync::Mutex<IndexProgress>,
    /// Exchanges being synced now in this process (never two syncs of one exchange at once).
    pub exchange_syncs: std::sync::Mutex<std::collections::HashSet<String>>,
    /// Whether this process keeps a match index and the numbers in memory (a service). A
    /// one-shot command ([`App::open_for_command`]: `candor import`, `candor exchange sync`)
    /// does not: its writes skip the after-commit updates of both ([`App::keeps_index`]),
    /// which would grow with its work and be dropped at exit. A service on the same data sees
    /// those writes through its follower (PostgreSQL) or when it next starts (SQLite).
    in_memory: bool,
}

/// When the match index last changed and last was current (see [`App::index_lag`]).
#[derive(Debug, Clone, Copy)]
pub struct IndexProgress {
    pub last_change: Option<Instant>,
    pub caught_up: Instant,
}

/// How far the in-memory match index is behind the store (`/readyz`, `/v1/status`,
/// `/m/index/status`).
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct IndexLag {
    /// The log size whose changes the index holds.
    pub applied_log_size: u64,
    /// The log size committed in the store.
    pub committed_log_size: u64,
    /// Entries committed and not yet applied to the index.
    pub behind_entries: u64,
    /// Seconds since the index last held everything committed (0 when it does now).
    pub behind_secs: f64,
    /// Seconds since the index last applied a change (none since start: absent).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_change_age_secs: Option<f64>,
    /// The configured bounds (0 = none): readiness fails beyond them.
    pub max_lag_entries: u64,
    pub max_lag_secs: u64,
    /// Within both bounds.
    pub within_bounds: bool,
}

/// The match index and numbers of an [`App`] opened with [`App::open_deferred`], still to be
/// loaded: [`Loading::finish`] loads them and makes the app ready.
pub struct Loading {
    app: AppState,
}

impl Loading {
    /// Load the snapshot (or rebuild from the store), catch up with the log, swap the result
    /// in and mark the app ready.
    pub async fn finish(self) -> anyhow::Result<snapshot::LoadReport> {
        let app = self.app;
        let (matcher, numbers, report) =
            snapshot::load_state(&app.store, &app.config.data, app.config.layout()).await?;
        *app.matcher.write().expect("matcher lock") = matcher;
        *app.numbers.lock().expect("numbers lock") = numbers;
        app.followed.store(report.log_size, Ordering::Release);
        if !report.snapshot_stale() {
            *app.snapshot_at.lock().await = Some(report.log_size);
        }
        *app.load_report.lock().expect("report lock") = Some(report.clone());
        app.ready.store(true, Ordering::Release);
        tracing::info!(
            source = report.source,
            entries_replayed = report.entries_replayed,
            log_size = report.log_size,
            millis = report.millis,
            signals = app.matcher.read().expect("matcher lock").len(),
            "match index ready"
        );
        Ok(report)
    }
}

pub type AppState = Arc<App>;

/// Name of the signing key file in the data directory.
pub const KEY_FILE: &str = "log-key";

/// The log signer of `dir`: read `dir/log-key`, or create it (0600) on first start.
pub fn load_or_create_signer(dir: &Path, origin: &str) -> anyhow::Result<Signer> {
    std::fs::create_dir_all(dir)?;
    let path = dir.join(KEY_FILE);
    if path.exists() {
        let text = std::fs::read_to_string(&path)?;
        let signer = Signer::parse(text.trim()).map_err(|e| {
            anyhow::anyhow!(
                "the log signing key {} is unreadable ({e}): restore it from your backup",
                path.display()
            )
        })?;
        anyhow::ensure!(
            signer.name() == origin,
            "the log key in {} is for origin {:?}, but the configured log_origin is {:?}",
            path.display(),
            signer.name(),
            origin
        );
        return Ok(signer);
    }
    // A database without its key: a new key would sign checkpoints nobody can link to the ones
    // already published. Refuse, and say what to do.
    anyhow::ensure!(
        !dir.join("candor.db").exists(),
        "the log signing key {} is missing, but {} holds a log signed with it: restore the key from your backup (a new key would break the link to every checkpoint already published)",
        path.display(),
        dir.join("candor.db").display()
    );
    let mut seed = [0u8; 32];
    rand::RngCore::fill_bytes(&mut rand::rng(), &mut seed);
    let signer = Signer::from_seed(origin, &seed)?;
    let tmp = dir.join(format!("{KEY_FILE}.tmp"));
    {
        use std::io::Write;
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
        let _ = std::fs::remove_file(&tmp);
        let mut f = opts.open(&tmp)?;
        f.write_all(signer.to_text().as_bytes())?;
        f.write_all(b"\n")?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, &path)?;
    Ok(signer)
}

/// How often the metrics recorder drains histogram samples.
pub const METRICS_UPKEEP: std::time::Duration = std::time::Duration::from_secs(5);

fn prometheus() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new().build_recorder();
            let handle = recorder.handle();
            // A second service in the same process (tests) shares the first one's recorder.
            let _ = metrics::set_global_recorder(recorder);
            // Histograms keep every sample until upkeep drains them into their summaries:
            // without a scraper calling /metrics, nothing else would, and memory would grow
            // with every request. Upkeep runs on its own thread, whatever runtime serves.
            let upkeep = handle.clone();
            let _ = std::thread::Builder::new()
                .name("candor-metrics-upkeep".into())
                .spawn(move || loop {
                    std::thread::sleep(METRICS_UPKEEP);
                    upkeep.run_upkeep();
                });
            handle
        })
        .clone()
}

impl App {
    /// Open the data directory: key, database, tokens, policies, match index, numbers. Returns
    /// once the app is ready.
    pub async fn open(config: Config) -> anyhow::Result<AppState> {
        let (app, loading) = App::open_deferred(config).await?;
        loading.finish().await?;
        Ok(app)
    }

    /// Open the data directory but leave the match index and the numbers to [`Loading`]: the
    /// app can listen (health answers, readiness says 503) while they load.
    pub async fn open_deferred(config: Config) -> anyhow::Result<(AppState, Loading)> {
        App::open_parts(config, true).await
    }

    /// Open the data directory for a one-shot command: the store and the flows, no match
    /// index or numbers in memory, ever (see [`App::keeps_index`]).
    pub async fn open_for_command(config: Config) -> anyhow::Result<AppState> {
        Ok(App::open_parts(config, false).await?.0)
    }

    async fn open_parts(config: Config, in_memory: bool) -> anyhow::Result<(AppState, Loading)> {
        let signer = load_or_create_signer(&config.data, &config.log_origin)?;
        let store = Store::open(&config.data, signer, config.store_options()).await?;
        let tokens = auth::load_tokens(&store).await?;
        let app = Arc::new(App {
            config: config.clone(),
            store,
            matcher: RwLock::new(Matcher::default()),
            tokens: Arc::new(RwLock::new(tokens)),
            policies: RwLock::new(Arc::new(PolicySet::default())),
            numbers: std::sync::Mutex::new(candor_log::numbers::Numbers::default()),
            metrics: prometheus(),
            uploads: Arc::new(tokio::sync::Semaphore::new(config.upload_slots())),
            ready: AtomicBool::new(false),
            load_report: std::sync::Mutex::new(None),
            snapshot_at: tokio::sync::Mutex::new(None),
            snapshot_hook: std::sync::Mutex::new(None),
            followed: std::sync::atomic::AtomicU64::new(0),
            compacting: std::sync::atomic::AtomicBool::new(false),
            index_progress: std::sync::Mutex::new(IndexProgress {
                last_change: None,
                caught_up: Instant::now(),
            }),
            exchange_syncs: std::sync::Mutex::new(std::collections::HashSet::new()),
            in_memory,
        });
        // Before loading: storing the configured policies appends log entries, which the
        // numbers loaded next then count.
        routes::policies::load_at_start(&app).await?;
        let loading = Loading { app: app.clone() };
        Ok((app, loading))
    }

    /// Whether writes update an in-memory match index and numbers after commit (a service);
    /// false for a one-shot command.
    pub fn keeps_index(&self) -> bool {
        self.in_memory
    }

    /// Whether the match index is loaded and caught up.
    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Acquire)
    }

    /// Write a snapshot of the match index and the numbers (see [`snapshot`]) unless the last
    /// one written or loaded is of the current log size. The match index is cloned under its
    /// read lock (cheap: the clone shares its table segments and row chunks) and written from
    /// the clone, so lookups and bank changes go on while the file is written and synced.
    /// Returns the log size and the bytes written, `None` when nothing needed writing.
    pub async fn write_snapshot(self: &Arc<Self>) -> anyhow::Result<Option<(u64, u64)>> {
        anyhow::ensure!(self.is_ready(), "the match index is still loading");
        let mut at = self.snapshot_at.lock().await;
        // A write job that appends nothing: when it returns, every entry before its place in
        // the commit order has had its after-commit effects (index and numbers) applied.
        let from: u64 = self
            .store
            .write(|ctx| Box::pin(async move { Ok(ctx.log_size()) }))
            .await?;
        // On a shared database other nodes' entries before that place reach the index through
        // the follower: the snapshot holds only what it has applied.
        let from = if self.follows_log() {
            from.min(self.followed.load(Ordering::Acquire))
        } else {
            from
        };
        if *at == Some(from) && snapshot::path(&self.config.data).exists() {
            return Ok(None);
        }
        let numbers = self.numbers.lock().expect("numbers lock").clone();
        let root = self.store.tree_hash(numbers.tree_size).await?;
        let size = numbers.tree_size;
        let app = self.clone();
        let t0 = Instant::now();
        let bytes = tokio::task::spawn_blocking(move || {
            let m = app.matcher.read().expect("matcher lock").clone();
            let hook = app.snapshot_hook.lock().expect("hook lock").clone();
            snapshot::write(&app.config.data, &m, &numbers, from, &root, hook.as_ref())
        })
        .await
        .map_err(|e| anyhow::anyhow!("snapshot writer: {e}"))?
        .map_err(|e| anyhow::anyhow!("snapshot: {e}"))?;
        tracing::info!(
            log_size = size,
            bytes,
            millis = t0.elapsed().as_millis() as u64,
            "snapshot written"
        );
        *at = Some(size);
        Ok(Some((size, bytes)))
    }

    /// Build the match index's pending PDQ entries (an import's) into a table segment on a
    /// blocking thread, outside the matcher's write lock, which is taken only to put the
    /// segment in place: lookups and other bank changes go on while it is built (the pending
    /// entries match meanwhile, flat-scanned). One builder at a time, going on while enough
    /// entries are pending. Outside a runtime it compacts in place.
    pub fn compact_index_in_background(self: &Arc<Self>) {
        let Ok(rt) = tokio::runtime::Handle::try_current() else {
            let mut m = self.matcher.write().expect("matcher lock");
            if m.needs_compaction() {
                m.compact_pending();
            }
            return;
        };
        if self.compacting.swap(true, Ordering::AcqRel) {
            return;
        }
        let app = self.clone();
        rt.spawn_blocking(move || loop {
            loop {
                let job = {
                    let m = app.matcher.read().expect("matcher lock");
                    m.needs_compaction()
                        .then(|| m.prepare_compaction())
                        .flatten()
                };
                let Some(job) = job else { break };
                let (entries, t0) = (job.len(), Instant::now());
                let built = job.build();
                let installed = app
                    .matcher
                    .write()
                    .expect("matcher lock")
                    .install_compaction(built);
                let millis = t0.elapsed().as_millis() as u64;
                if entries >= 100_000 {
                    tracing::info!(entries, installed, millis, "index segment built");
                } else {
                    tracing::debug!(entries, installed, millis, "index segment built");
                }
            }
            app.compacting.store(false, Ordering::Release);
            // An append that came after the last check and found the flag still set left its
            // entries to this builder: look once more.
            let due = app.matcher.read().expect("matcher lock").needs_compaction();
            if !due || app.compacting.swap(true, Ordering::AcqRel) {
                break;
            }
        });
    }

    /// The whole HTTP surface.
    pub fn router(self: &Arc<Self>) -> Router {
        let limit = self.config.max_body_bytes;
        let timeout = |secs| {
            tower_http::timeout::TimeoutLayer::with_status_code(
                axum::http::StatusCode::REQUEST_TIMEOUT,
                std::time::Duration::from_secs(secs),
            )
        };
        // Bank import streams list-sized bodies: its own limits (checked as the body arrives,
        // by the handler) and timeout.
        let import = routes::import_router()
            .layer(middleware::from_fn(track))
            .layer(timeout(self.config.import_timeout_secs))
            .layer(DefaultBodyLimit::disable());
        routes::router()
            .merge(openapi::router())
            .layer(middleware::from_fn_with_state(self.clone(), until_ready))
            .layer(middleware::from_fn(track))
            // A request — its body and its answer — finishes in time or gets 408.
            .layer(timeout(self.config.request_timeout_secs))
            .layer(DefaultBodyLimit::max(limit))
            .layer(tower_http::limit::RequestBodyLimitLayer::new(limit))
            .merge(import)
            // Outside the body limit: its early 413 (by Content-Length) is plain text.
            .layer(middleware::from_fn(json_errors))
            .layer(tower_http::catch_panic::CatchPanicLayer::custom(
                panic_response,
            ))
            // HMA's routes answer errors in HMA's shape, whoever produced them.
            .layer(middleware::from_fn(routes::hma::hma_errors))
            .with_state(self.clone())
    }

    /// Whether this node shares its database with others (PostgreSQL): then [`follow`] applies
    /// every node's log entries, and counts them in the numbers.
    pub fn follows_log(&self) -> bool {
        self.store.backend() == candor_store::Backend::Postgres
    }

    /// Record that the match index applied changes now (after a commit, or by the follower).
    pub fn note_index_change(&self) {
        self.index_progress
            .lock()
            .expect("progress lock")
            .last_change = Some(Instant::now());
    }

    /// How far the match index is behind the store: the log size it has applied (the
    /// follower's on a shared database, the counted entries' on SQLite — both move in the
    /// same after-commit step as the index) against the size committed (re-read from the
    /// database when other nodes write), with the time since it was last current.
    pub async fn index_lag(&self) -> Result<IndexLag, candor_store::StoreError> {
        let committed = if self.follows_log() {
            self.store.refresh_checkpoint().await?.checkpoint.size
        } else {
            self.store.checkpoint().checkpoint.size
        };
        let applied = if self.follows_log() {
            self.followed.load(Ordering::Acquire)
        } else {
            self.numbers.lock().expect("numbers lock").tree_size
        };
        let now = Instant::now();
        let behind = committed.saturating_sub(applied);
        let mut p = self.index_progress.lock().expect("progress lock");
        if behind == 0 {
            p.caught_up = now;
        }
        let behind_secs = if behind == 0 {
            0.0
        } else {
            now.duration_since(p.caught_up).as_secs_f64()
        };
        let (max_e, max_s) = (
            self.config.index_max_lag_entries,
            self.config.index_max_lag_secs,
        );
        Ok(IndexLag {
            applied_log_size: applied,
            committed_log_size: committed,
            behind_entries: behind,
            behind_secs,
            last_change_age_secs: p.last_change.map(|t| now.duration_since(t).as_secs_f64()),
            max_lag_entries: max_e,
            max_lag_secs: max_s,
            within_bounds: (max_e == 0 || behind <= max_e)
                && (max_s == 0 || behind_secs <= max_s as f64),
        })
    }

    pub fn policies(&self) -> Arc<PolicySet> {
        self.policies.read().expect("policy lock").clone()
    }
}

fn panic_response(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    use axum::response::IntoResponse;
    error::ApiError::internal("internal error").into_response()
}

/// Every error answer is JSON with a stable code, including the ones axum's extractors and
/// the body limit produce as plain text (bad path or query parameters, 405, 413, ...).
async fn json_errors(req: Request, next: Next) -> Response {
    use axum::http::{header, StatusCode};
    use axum::response::IntoResponse;
    // HMA's `/status` answers text, also when it is a 503.
    let text_route = matches!(req.uri().path(), "/status" | "/status/live");
    let mut resp = next.run(req).await;
    let status = resp.status();
    if status == StatusCode::PAYLOAD_TOO_LARGE {
        // The rest of the body was not read: tell the client not to reuse the connection.
        resp.headers_mut().insert(
            header::CONNECTION,
            axum::http::HeaderValue::from_static("close"),
        );
    }
    if text_route || !(status.is_client_error() || status.is_server_error()) {
        return resp;
    }
    let is_json = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if is_json {
        return resp;
    }
    let code = match status {
        StatusCode::BAD_REQUEST => "bad_request",
        StatusCode::NOT_FOUND => "not_found",
        StatusCode::METHOD_NOT_ALLOWED => "method_not_allowed",
        StatusCode::PAYLOAD_TOO_LARGE => "payload_too_large",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
        StatusCode::UNPROCESSABLE_ENTITY => "invalid_request",
        StatusCode::REQUEST_TIMEOUT => "request_timeout",
        s if s.is_server_error() => "internal",
        _ => "error",
    };
    let (parts, body) = resp.into_parts();
    let bytes = axum::body::to_bytes(body, 64 * 1024)
        .await
        .unwrap_or_default();
    let message = String::from_utf8_lossy(&bytes).trim().to_string();
    let message = if message.is_empty() {
        status.canonical_reason().unwrap_or("error").to_string()
    } else {
        message
    };
    let mut out = error::ApiError::new(status, code, message).into_response();
    for (k, v) in parts.headers.iter() {
        if k != header::CONTENT_TYPE && k != header::CONTENT_LENGTH {
            out.headers_mut().insert(k.clone(), v.clone());
        }
    }
    out
}

/// While the index loads, only health, readiness, metrics, the log's read path (not its numbers)
/// and the API description answer; everything else (it would match against a partial index or count in
/// partial numbers) gets 503 `loading` with `Retry-After`.
async fn until_ready(
    axum::extract::State(app): axum::extract::State<AppState>,
    req: Request,
    next: Next,
) -> Response {
    use axum::response::IntoResponse;
    if !app.is_ready() {
        let path = req.uri().path();
        let open = matches!(
            path,
            "/" | "/healthz"
                | "/readyz"
                | "/metrics"
                | "/openapi.json"
                | "/status"
                | "/status/live"
        ) || path.starts_with("/console/")
            || (path.starts_with("/log/") && path != "/log/numbers")
            || path.starts_with("/docs");
        if !open {
            return error::ApiError {
                retry_after: Some(1),
                ..error::ApiError::new(
                    axum::http::StatusCode::SERVICE_UNAVAILABLE,
                    "loading",
                    "the match index is loading; retry shortly (GET /readyz says when it is ready)",
                )
            }
            .into_response();
        }
    }
    next.run(req).await
}

/// Request metrics: count and latency by route and status.
async fn track(req: Request, next: Next) -> Response {
    let start = Instant::now();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".into());
    let method = req.method().to_string();
    let resp = next.run(req).await;
    let status = resp.status().as_u16().to_string();
    let labels = [("route", route), ("method", method), ("status", status)];
    metrics::counter!("candor_http_requests_total", &labels).increment(1);
    metrics::histogram!("candor_http_request_seconds", &labels)
        .record(start.elapsed().as_secs_f64());
    resp
}

/// Run the service until Ctrl-C / SIGTERM: listen at once, load the match index in the
/// background (health answers meanwhile, readiness once it is caught up), write a snapshot
/// every `snapshot_interval_secs` when the log grew, and one at graceful shutdown.
pub async fn serve(config: Config) -> anyhow::Result<()> {
    let listen: SocketAddr = config.listen;
    let (app, loading) = App::open_deferred(config).await?;
    let listener = TcpListener::bind(listen)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {listen}: {e}"))?;
    tracing::info!(
        listen = %listener.local_addr()?,
        data = %app.config.data.display(),
        database = %app.store.location(),
        log_key = %app.store.verifier().to_text(),
        "candor serving (loading the match index)"
    );
    if routes::tokens::live_token_count(&app.store).await? == 0 {
        // A fresh data directory: every write route needs a token, and nobody holds one yet.
        eprintln!(
            "\ncandor: no API token exists yet. Create the first one (an admin, who can create the rest) with\n\n    candor token create --data {} --role admin --name <you>\n\n(`cargo run --release -p candor -- token create ...` from a checkout). It is printed once and stored\nhashed. The README's tour (docs/tour.sh) walks through a first bank, scan, notice and appeal.\n",
            app.config.data.display()
        );
    }
    let dsa = app.config.dsa.enabled.then(|| {
        tracing::info!(endpoint = %app.config.dsa.endpoint, every_secs = app.config.dsa.interval_secs, "submitting statements to the DSA Transparency Database");
        flows::dsa::spawn_submitter(app.store.clone(), app.config.dsa.clone())
    });
    let exchanges = flows::exchanges::spawn_scheduled(app.clone());
    let limits = conn::Limits {
        header_read: std::time::Duration::from_secs(app.config.header_read_timeout_secs),
        idle: std::time::Duration::from_secs(app.config.idle_timeout_secs),
        max_connections: app.config.max_connections,
    };
    let background = {
        let app = app.clone();
        tokio::spawn(async move {
            let report = loading.finish().await?;
            if app.follows_log() {
                tokio::spawn(follow::run(app.clone()));
            }
            if report.snapshot_stale() {
                // The next start should not have to do this again.
                if let Err(e) = app.write_snapshot().await {
                    tracing::warn!(error = %e, "snapshot not written");
                }
            }
            let every = app.config.snapshot_interval_secs;
            if every == 0 {
                return Ok::<(), anyhow::Error>(());
            }
            loop {
                tokio::time::sleep(std::time::Duration::from_secs(every)).await;
                if let Err(e) = app.write_snapshot().await {
                    tracing::warn!(error = %e, "snapshot not written");
                }
            }
        })
    };
    // HMA's timed disables (`disable_until_ts`): content whose time has come is enabled again,
    // each a logged change, within `HMA_SWEEP_SECS` of that time.
    let sweep = {
        let app = app.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(std::time::Duration::from_secs(HMA_SWEEP_SECS)).await;
                if !app.is_ready() {
                    continue;
                }
                let now = time::OffsetDateTime::now_utc().unix_timestamp();
                match flows::banks::enable_due(&app, now).await {
                    Ok(0) => {}
                    Ok(n) => {
                        tracing::info!(enabled = n, "timed disables ended (HMA disable_until_ts)")
                    }
                    Err(e) => tracing::warn!(error = %e.message, "timed disables not ended"),
                }
            }
        })
    };
    let server = conn::run(listener, app.router(), limits, shutdown());
    tokio::pin!(server);
    tokio::pin!(background);
    let mut loader_done = false;
    loop {
        tokio::select! {
            r = &mut server => { r?; break; }
            r = &mut background, if !loader_done => {
                loader_done = true;
                match r {
                    Ok(Ok(())) => {}
                    Ok(Err(e)) => return Err(e.context("loading the match index")),
                    Err(e) => anyhow::bail!("loading the match index: {e}"),
                }
            }
        }
    }
    if let Some(task) = dsa {
        task.abort();
    }
    sweep.abort();
    for task in exchanges {
        task.abort();
    }
    // The periodic task is left alone (it ends with the runtime): a snapshot it is writing
    // holds the snapshot lock, which the one below waits for.
    if app.is_ready() {
        match app.write_snapshot().await {
            Ok(Some((size, bytes))) => {
                tracing::info!(log_size = size, bytes, "snapshot written at shutdown")
            }
            Ok(None) => {}
            Err(e) => tracing::warn!(error = %e, "snapshot not written at shutdown"),
        }
    }
    Ok(())
}

/// How often `serve` ends the HMA timed disables whose time has come.
const HMA_SWEEP_SECS: u64 = 30;

async fn shutdown() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}

/// Current time, RFC 3339 UTC with seconds precision.
pub fn now_rfc3339() -> String {
    let now = time::OffsetDateTime::now_utc()
        .replace_nanosecond(0)
        .unwrap_or_else(|_| time::OffsetDateTime::now_utc());
    now.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| "1970-01-01T00:00:00Z".into())
}

/// A new opaque id (UUIDv7: time-ordered).
pub fn new_id() -> String {
    uuid::Uuid::now_v7().simple().to_string()
}
