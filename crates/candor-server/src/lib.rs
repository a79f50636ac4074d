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
pub mod matcher;
mod openapi;
pub mod routes;
pub mod signals;
pub mod texts;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, OnceLock, RwLock};
use std::time::Instant;

use axum::extract::{DefaultBodyLimit, MatchedPath, Request};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::Router;
use candor_log::Signer;
use candor_policy::PolicySet;
use candor_store::{Store, StoreOptions};
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
    /// Open the data directory: key, database, tokens, policies, match index, numbers.
    pub async fn open(config: Config) -> anyhow::Result<AppState> {
        let signer = load_or_create_signer(&config.data, &config.log_origin)?;
        let store = Store::open(
            &config.data,
            signer,
            StoreOptions {
                max_batch: config.max_batch,
                ..StoreOptions::default()
            },
        )
        .await?;
        let tokens = auth::load_tokens(store.reader()).await?;
        let matcher = Matcher::load(store.reader()).await?;
        let mut numbers = candor_log::numbers::Numbers::default();
        let size = store.checkpoint().checkpoint.size;
        let mut start = 0;
        while start < size {
            for e in store.log_entries(start, 4096).await? {
                let entry = candor_log::entry::Entry::decode(&e)
                    .map_err(|e| anyhow::anyhow!("log entry {start}: {e}"))?;
                numbers.apply(&entry);
                start += 1;
            }
        }
        let app = Arc::new(App {
            config: config.clone(),
            store,
            matcher: RwLock::new(matcher),
            tokens: Arc::new(RwLock::new(tokens)),
            policies: RwLock::new(Arc::new(PolicySet::default())),
            numbers: std::sync::Mutex::new(numbers),
            metrics: prometheus(),
            uploads: Arc::new(tokio::sync::Semaphore::new(config.upload_slots())),
        });
        routes::policies::load_at_start(&app).await?;
        Ok(app)
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
            .with_state(self.clone())
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
    let mut resp = next.run(req).await;
    let status = resp.status();
    if status == StatusCode::PAYLOAD_TOO_LARGE {
        // The rest of the body was not read: tell the client not to reuse the connection.
        resp.headers_mut().insert(
            header::CONNECTION,
            axum::http::HeaderValue::from_static("close"),
        );
    }
    if !(status.is_client_error() || status.is_server_error()) {
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

/// Run the service until Ctrl-C / SIGTERM.
pub async fn serve(config: Config) -> anyhow::Result<()> {
    let listen: SocketAddr = config.listen;
    let app = App::open(config).await?;
    let listener = TcpListener::bind(listen)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {listen}: {e}"))?;
    tracing::info!(
        listen = %listener.local_addr()?,
        data = %app.config.data.display(),
        log_key = %app.store.verifier().to_text(),
        "candor serving"
    );
    if routes::tokens::live_token_count(&app.store).await? == 0 {
        // A fresh data directory: every write route needs a token, and nobody holds one yet.
        eprintln!(
            "\ncandor: no API token exists yet. Create the first one (an admin, who can create the rest) with\n\n    candor token create --data {} --role admin --name <you>\n\n(`cargo run --release -p candor -- token create ...` from a checkout). It is printed once and stored\nhashed. The README's tour (docs/tour.sh) walks through a first bank, scan, notice and appeal.\n",
            app.config.data.display()
        );
    }
    let limits = conn::Limits {
        header_read: std::time::Duration::from_secs(app.config.header_read_timeout_secs),
        idle: std::time::Duration::from_secs(app.config.idle_timeout_secs),
        max_connections: app.config.max_connections,
    };
    conn::run(listener, app.router(), limits, shutdown()).await?;
    Ok(())
}

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
