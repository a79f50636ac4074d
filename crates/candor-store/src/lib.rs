//! Candor's store: the SQLite database (via sqlx) and the transparency log's storage.
//!
//! - [`Store::open`] creates or opens `DIR/candor.db` (WAL, `synchronous=FULL`), runs the
//!   migrations and spawns the single writer.
//! - Every write goes through [`Store::write`]: a job runs inside the writer's transaction, may
//!   append log entries ([`WriteCtx::append`]) and register effects to run after the commit
//!   ([`WriteCtx::after_commit`]). The writer takes every job waiting in its queue into one
//!   transaction (group commit), appends their entries to the Merkle tree, signs the new
//!   checkpoint, stores it in the same transaction and commits (one fsync) before any job's
//!   caller gets its answer. A crash at any point loses nothing that was acknowledged, and the
//!   database never holds entries that the stored checkpoint does not cover.
//! - Reads use a separate pool of read-only connections ([`Store::reader`]).
//! - [`log`] reads the log back: entries, stored hashes, tiles, proofs.
//! - [`matching`] reads what the in-memory match index is built and caught up from.

pub mod appeals;
pub mod banks;
pub mod decisions;
pub mod dsa;
pub mod exchanges;
pub mod log;
pub mod matching;
mod pg_array;
pub mod policies;
pub mod review;
pub mod tokens;
mod writer;

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use candor_log::{Checkpoint, Signer, Verifier};
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{AnyConnection, AnyPool};
use sqlx::{ConnectOptions, Connection};
use tokio::sync::{mpsc, oneshot};

pub use sqlx;
pub use writer::WriteCtx;

/// The schema, one script per version, applied in order.
const MIGRATIONS: &[(i64, &str)] = &[
    (1, include_str!("../migrations/0001_init.sql")),
    (2, include_str!("../migrations/0002_person_steps.sql")),
    (3, include_str!("../migrations/0003_dsa_submissions.sql")),
    (4, include_str!("../migrations/0004_hma.sql")),
    (5, include_str!("../migrations/0005_exchanges.sql")),
    (6, include_str!("../migrations/0006_negative_banks.sql")),
    (
        7,
        include_str!("../migrations/0007_decisions_by_content.sql"),
    ),
    (8, include_str!("../migrations/0008_review_priority.sql")),
    (9, include_str!("../migrations/0009_exchange_configs.sql")),
    (10, include_str!("../migrations/0010_list_scale.sql")),
    // SQLite's own 11, PostgreSQL's 11 in its way: no foreign keys on the tables an import fills.
    (
        11,
        include_str!("../migrations/0011_bulk_tables_without_foreign_keys.sql"),
    ),
];

/// The SQLite migration that edits table definitions in place (writable_schema): the store
/// finishes it ([`finish_schema_edit`]).
const SQLITE_SCHEMA_EDIT: i64 = 11;

/// The same schema on PostgreSQL: version 3 in one script (PostgreSQL support began there);
/// later versions share the script when it is portable, or get one per backend. `tests/schema.rs` checks that both backends
/// end with the same tables and columns.
const PG_MIGRATIONS: &[(i64, &str)] = &[
    (3, include_str!("../migrations/postgres/0003_schema.sql")),
    // Portable: the same script on both.
    (4, include_str!("../migrations/0004_hma.sql")),
    (5, include_str!("../migrations/0005_exchanges.sql")),
    (6, include_str!("../migrations/0006_negative_banks.sql")),
    (
        7,
        include_str!("../migrations/0007_decisions_by_content.sql"),
    ),
    (8, include_str!("../migrations/0008_review_priority.sql")),
    (9, include_str!("../migrations/0009_exchange_configs.sql")),
    (10, include_str!("../migrations/0010_list_scale.sql")),
    // No foreign keys on the tables an import fills (SQLite's 11 does the same in its way).
    (
        11,
        include_str!("../migrations/postgres/0011_bulk_tables_without_foreign_keys.sql"),
    ),
];

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
    #[error("log: {0}")]
    Log(#[from] candor_log::LogError),
    #[error("io: {0}")]
    Io(#[from] std::io::Error),
    /// A job refused its own work (validation inside the transaction); nothing was written.
    #[error("{0}")]
    Rejected(String),
    #[error("the store is shutting down")]
    Closed,
    /// The database could not be written (disk full, read-only, I/O error): nothing of the
    /// batch was committed; retry once the operator has fixed the storage.
    #[error("storage unavailable (nothing was written): {0}")]
    Unavailable(String),
    #[error("store is inconsistent: {0}")]
    Corrupt(String),
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

impl StoreError {
    /// Whether this is the storage failing (disk full, read-only, I/O) rather than the request.
    pub fn is_storage_failure(&self) -> bool {
        match self {
            StoreError::Unavailable(_) | StoreError::Io(_) => true,
            StoreError::Db(sqlx::Error::Io(_)) => true,
            StoreError::Db(sqlx::Error::Database(d))
                if d.try_downcast_ref::<sqlx::postgres::PgDatabaseError>()
                    .is_some() =>
            {
                // SQLSTATE classes: 53 insufficient resources (disk full), 58 system error
                // (I/O), 08 connection exception, 57 operator intervention (shutdown); 25006
                // read-only transaction (a standby).
                d.code().is_some_and(|c| {
                    ["53", "58", "08", "57"].iter().any(|k| c.starts_with(k)) || c == "25006"
                })
            }
            StoreError::Db(sqlx::Error::Database(d)) => d
                .code()
                .and_then(|c| c.parse::<i64>().ok())
                // SQLite primary result codes: READONLY 8, IOERR 10, CORRUPT 11, FULL 13,
                // CANTOPEN 14 (extended codes carry the primary one in the low byte).
                .is_some_and(|c| matches!(c & 0xff, 8 | 10 | 13 | 14)),
            _ => false,
        }
    }
}

/// The latest signed checkpoint, shared with readers.
#[derive(Clone, Debug)]
pub struct SignedCheckpoint {
    pub checkpoint: Checkpoint,
    /// The signed note, verbatim (what `/log/checkpoint` serves).
    pub note: String,
}

/// Handle to the store. Cheap to clone.
#[derive(Clone)]
pub struct Store {
    reader: AnyPool,
    jobs: mpsc::Sender<writer::Queued>,
    latest: Arc<RwLock<SignedCheckpoint>>,
    verifier: Verifier,
    target: Arc<Target>,
    /// Woken when another node's writer commits (PostgreSQL `NOTIFY candor_log`).
    changes: Arc<tokio::sync::Notify>,
    /// Log index ranges this store's own writer committed (see [`Store::committed_here`]).
    written: Arc<Written>,
}

/// Log index ranges committed by this process's writer, in order, merged when adjacent.
#[derive(Default)]
pub(crate) struct Written(std::sync::Mutex<Vec<std::ops::Range<u64>>>);

impl Written {
    pub(crate) fn add(&self, r: std::ops::Range<u64>) {
        if r.is_empty() {
            return;
        }
        let mut v = self.0.lock().expect("written lock");
        match v.last_mut() {
            Some(last) if last.end == r.start => last.end = r.end,
            _ => v.push(r),
        }
    }
}

/// The database a store is on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// The embedded default: one file, one node.
    Sqlite,
    /// One database for several nodes.
    Postgres,
}

enum Target {
    Sqlite(PathBuf),
    Postgres(String),
}

impl Target {
    fn parse(dir: &Path, url: Option<&str>) -> Result<Target> {
        match url.map(str::trim).filter(|u| !u.is_empty()) {
            None => Ok(Target::Sqlite(dir.join("candor.db"))),
            Some(u) if u.starts_with("postgres://") || u.starts_with("postgresql://") => {
                Ok(Target::Postgres(u.to_string()))
            }
            Some(u) if u.starts_with("sqlite:") => {
                let p = u.trim_start_matches("sqlite:").trim_start_matches("//");
                if p.is_empty() || p.contains('?') {
                    return Err(StoreError::Rejected(format!(
                        "database URL {u:?}: expected sqlite:PATH (a file path, no options)"
                    )));
                }
                Ok(Target::Sqlite(PathBuf::from(p)))
            }
            Some(u) => Err(StoreError::Rejected(format!(
                "database URL {:?}: expected postgres://… or sqlite:PATH",
                redact(u)
            ))),
        }
    }

    fn backend(&self) -> Backend {
        match self {
            Target::Sqlite(_) => Backend::Sqlite,
            Target::Postgres(_) => Backend::Postgres,
        }
    }
}

/// `url` with any password replaced by `***`.
pub fn redact(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        Ok(u) => u.to_string(),
        Err(_) => "(unparseable URL)".into(),
    }
}

/// SQL with its `?` placeholders numbered `$1, $2, …` in order (outside quoted strings and
/// identifiers): the form both SQLite and PostgreSQL accept, so every query is written once.
pub fn numbered(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len() + 16);
    let mut n = 0u32;
    let mut quote: Option<char> = None;
    for c in sql.chars() {
        match quote {
            Some(q) => {
                out.push(c);
                if c == q {
                    quote = None;
                }
            }
            None if c == '\'' || c == '"' => {
                quote = Some(c);
                out.push(c);
            }
            None if c == '?' => {
                n += 1;
                out.push('$');
                out.push_str(&n.to_string());
            }
            None => out.push(c),
        }
    }
    out
}

/// Listen for `candor_log` notifications on PostgreSQL and wake [`Store::changed`]; reconnects
/// after errors, ends when the store is dropped.
async fn listen(url: String, changes: std::sync::Weak<tokio::sync::Notify>) {
    loop {
        let mut listener = match sqlx::postgres::PgListener::connect(&url).await {
            Ok(l) => l,
            Err(e) => {
                tracing::warn!(error = %e, "store: cannot listen for log changes; retrying");
                tokio::time::sleep(Duration::from_secs(1)).await;
                if changes.upgrade().is_none() {
                    return;
                }
                continue;
            }
        };
        if let Err(e) = listener.listen("candor_log").await {
            tracing::warn!(error = %e, "store: LISTEN failed; retrying");
            tokio::time::sleep(Duration::from_secs(1)).await;
            continue;
        }
        loop {
            let got = tokio::time::timeout(Duration::from_secs(5), listener.try_recv()).await;
            let Some(n) = changes.upgrade() else { return };
            match got {
                // Quiet: check that the store is still alive, keep listening.
                Err(_) => continue,
                Ok(Ok(Some(_))) => n.notify_one(),
                // The connection was lost (and re-established by the listener): changes may
                // have been missed, so wake the follower anyway.
                Ok(Ok(None)) => n.notify_one(),
                Ok(Err(e)) => {
                    tracing::warn!(error = %e, "store: log change listener failed; reconnecting");
                    n.notify_one();
                    break;
                }
            }
        }
    }
}

/// The SQLite writer connection (probed for writing), the read-only pool and the
/// checkpointer's connection.
async fn open_sqlite(path: &Path, readers: u32) -> Result<(AnyConnection, AnyPool, AnyConnection)> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let url = |mode: &str| -> Result<AnyConnectOptions> {
        let base = SqliteConnectOptions::new().filename(path).to_url_lossy();
        let mut u = url::Url::parse(&format!("sqlite://{}", base.path()))
            .map_err(|e| StoreError::Rejected(format!("database path: {e}")))?;
        u.set_query(Some(&format!("mode={mode}")));
        Ok(AnyConnectOptions::from_url(&u)?.disable_statement_logging())
    };
    let unwritable = |e: &dyn std::fmt::Display| {
        StoreError::Unavailable(format!(
            "the database {} cannot be opened for writing (a read-only file or filesystem, or no space?): {e}",
            path.display()
        ))
    };
    let mut conn = AnyConnection::connect_with(&url("rwc")?)
        .await
        .map_err(|e| unwritable(&e))?;
    for pragma in SQLITE_PRAGMAS {
        sqlx::query(pragma)
            .execute(&mut conn)
            .await
            .map_err(|e| unwritable(&e))?;
    }
    sqlx::query("PRAGMA journal_mode = WAL")
        .execute(&mut conn)
        .await
        .map_err(|e| unwritable(&e))?;
    for pragma in SQLITE_WRITER_PRAGMAS {
        sqlx::query(pragma)
            .execute(&mut conn)
            .await
            .map_err(|e| unwritable(&e))?;
    }
    // SQLite quietly opens a file it cannot write read-only; the first write would fail
    // long after start. Take the write lock once, now, and say what is wrong.
    let probe = async {
        sqlx::query("BEGIN IMMEDIATE").execute(&mut conn).await?;
        // Rewriting the header's user_version with its own value is a real page write,
        // rolled back at once.
        let v: i64 = sqlx::query_scalar("PRAGMA user_version")
            .fetch_one(&mut conn)
            .await?;
        let written = sqlx::query(&format!("PRAGMA user_version = {v}"))
            .execute(&mut conn)
            .await;
        let _ = sqlx::query("ROLLBACK").execute(&mut conn).await;
        written
    };
    if let Err(e) = probe.await {
        return Err(StoreError::Unavailable(format!(
            "the database {} cannot be written (a read-only file or filesystem, or no space): {e}",
            path.display()
        )));
    }
    let reader = AnyPoolOptions::new()
        .max_connections(readers.max(1))
        .after_connect(|conn, _| {
            Box::pin(async move {
                for pragma in SQLITE_PRAGMAS {
                    sqlx::query(pragma).execute(&mut *conn).await?;
                }
                Ok(())
            })
        })
        .connect_with(url("ro")?)
        .await?;
    let mut checkpointer = AnyConnection::connect_with(&url("rw")?)
        .await
        .map_err(|e| unwritable(&e))?;
    for pragma in SQLITE_PRAGMAS {
        sqlx::query(pragma).execute(&mut checkpointer).await?;
    }
    Ok((conn, reader, checkpointer))
}

/// The writer connection only. A bulk write (an import: ~130 MB of pages for 200k hashes)
/// would otherwise run SQLite's WAL auto-checkpoint inside its `COMMIT` — copying the whole
/// transaction from the WAL into the database and fsyncing it on the answer's critical path
/// (1.25 s of a 5.3 s import body, measured). The commit itself stays durable (`synchronous =
/// FULL`: the WAL is fsynced at every commit); the checkpoint runs beside the writer instead,
/// on its own connection ([`checkpointer`]), and the writer truncates the WAL itself only when
/// the checkpointer falls behind ([`WAL_LIMIT_BYTES`]). A larger page cache keeps the B-trees'
/// hot pages across a bulk transaction instead of spilling and re-reading them.
const SQLITE_WRITER_PRAGMAS: &[&str] = &[
    "PRAGMA wal_autocheckpoint = 0",
    "PRAGMA cache_size = -32768",
];

/// The WAL size past which the writer checkpoints and truncates it before its next batch
/// (the checkpointer could not keep up: back-to-back bulk writes leave it no quiet moment to
/// finish, so the WAL would only grow).
pub(crate) const WAL_LIMIT_BYTES: u64 = 1 << 30;

/// Checkpoint the SQLite WAL (passive: never waits for the writer or readers) after each
/// commit the writer signals; ends with the writer.
async fn checkpointer(mut conn: AnyConnection, mut commits: mpsc::Receiver<()>) {
    while commits.recv().await.is_some() {
        if let Err(e) = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
            .execute(&mut conn)
            .await
        {
            tracing::warn!(error = %e, "store: WAL checkpoint failed; the writer will retry");
        }
    }
    let _ = conn.close().await;
}

/// Set on every SQLite connection (WAL is a property of the file, set once by the writer).
const SQLITE_PRAGMAS: &[&str] = &[
    "PRAGMA synchronous = FULL",
    "PRAGMA foreign_keys = ON",
    "PRAGMA busy_timeout = 10000",
];

/// The PostgreSQL writer connection and the read pool.
async fn open_postgres(url: &str, readers: u32) -> Result<(AnyConnection, AnyPool)> {
    let unreachable = |e: &dyn std::fmt::Display| {
        StoreError::Unavailable(format!(
            "the PostgreSQL database {} cannot be reached: {e}",
            redact(url)
        ))
    };
    let options = AnyConnectOptions::from_str(url)
        .map_err(|e| unreachable(&e))?
        .disable_statement_logging();
    let conn = AnyConnection::connect_with(&options)
        .await
        .map_err(|e| unreachable(&e))?;
    let reader = AnyPoolOptions::new()
        .max_connections(readers.max(1))
        .acquire_timeout(Duration::from_secs(10))
        .connect_with(options)
        .await
        .map_err(|e| unreachable(&e))?;
    Ok((conn, reader))
}

/// Options for [`Store::open`].
#[derive(Clone, Debug)]
pub struct StoreOptions {
    /// Most jobs in one transaction.
    pub max_batch: usize,
    /// Read connections.
    pub readers: u32,
    /// `postgres://…` for PostgreSQL, `sqlite:PATH` for another SQLite file; `None` for the
    /// embedded default `DIR/candor.db`.
    pub database_url: Option<String>,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            max_batch: 1024,
            readers: 8,
            database_url: None,
        }
    }
}

impl Store {
    /// Open the store: PostgreSQL when `options.database_url` is a `postgres://` URL, otherwise
    /// (or when it is `sqlite:PATH`) the embedded SQLite database `dir/candor.db` (or PATH).
    /// Migrates it, checks the log against its last checkpoint and starts the writer. The log's
    /// checkpoints are signed with `signer`.
    pub async fn open(dir: &Path, signer: Signer, options: StoreOptions) -> Result<Store> {
        sqlx::any::install_default_drivers();
        let target = Target::parse(dir, options.database_url.as_deref())?;
        let (mut conn, reader, checkpoint_conn) = match &target {
            Target::Sqlite(path) => {
                let (c, r, k) = open_sqlite(path, options.readers).await?;
                (c, r, Some(k))
            }
            Target::Postgres(url) => {
                let (c, r) = open_postgres(url, options.readers).await?;
                (c, r, None)
            }
        };
        let backend = target.backend();
        let (appender, latest) = prepare(&mut conn, backend, &signer).await?;
        let latest = Arc::new(RwLock::new(latest));
        let (tx, rx) = mpsc::channel(options.max_batch.max(1) * 4);
        let verifier = signer.verifier();
        let commits = checkpoint_conn.map(|k| {
            let (tx, rx) = mpsc::channel(1);
            tokio::spawn(checkpointer(k, rx));
            tx
        });
        let written = Arc::new(Written::default());
        let w = writer::Writer {
            written: written.clone(),
            commits,
            wal: match &target {
                Target::Sqlite(p) => {
                    let mut w = p.clone().into_os_string();
                    w.push("-wal");
                    Some(PathBuf::from(w))
                }
                Target::Postgres(_) => None,
            },
            conn,
            appender,
            signer,
            latest: latest.clone(),
            max_batch: options.max_batch.max(1),
            backend,
            reconnect: match &target {
                Target::Postgres(url) => Some(
                    AnyConnectOptions::from_str(url)
                        .map_err(|e| StoreError::Rejected(format!("database URL: {e}")))?
                        .disable_statement_logging(),
                ),
                Target::Sqlite(_) => None,
            },
        };
        tokio::spawn(w.run(rx));
        let changes = Arc::new(tokio::sync::Notify::new());
        if let Target::Postgres(url) = &target {
            tokio::spawn(listen(url.clone(), Arc::downgrade(&changes)));
        }
        Ok(Store {
            reader,
            jobs: tx,
            latest,
            verifier,
            target: Arc::new(target),
            changes,
            written,
        })
    }

    /// Whether log entry `index` was committed by this store's own writer (this process): its
    /// changes were applied by the job's after-commit effects, so a follower of the log need
    /// not re-read the rows it names. Remembered until [`forget_committed_before`].
    ///
    /// [`forget_committed_before`]: Store::forget_committed_before
    pub fn committed_here(&self, index: u64) -> bool {
        let v = self.written.0.lock().expect("written lock");
        let i = v.partition_point(|r| r.end <= index);
        v.get(i).is_some_and(|r| r.contains(&index))
    }

    /// Forget the ranges of [`committed_here`](Store::committed_here) below `index` (a follower
    /// has applied everything before it).
    pub fn forget_committed_before(&self, index: u64) {
        let mut v = self.written.0.lock().expect("written lock");
        v.retain_mut(|r| {
            r.start = r.start.max(index.min(r.end));
            !r.is_empty()
        });
    }

    /// Wait until the log may have changed under this store (another node's writer committed:
    /// PostgreSQL's notification), or `within` passes. On SQLite (one node) only the latter.
    /// Notifications are a hint: callers re-read the log ([`Store::refresh_checkpoint`]).
    pub async fn changed(&self, within: Duration) {
        let _ = tokio::time::timeout(within, self.changes.notified()).await;
    }

    /// Which database this store is on.
    pub fn backend(&self) -> Backend {
        self.target.backend()
    }

    /// Where the database is, for messages: the SQLite file, or the PostgreSQL URL without its
    /// password.
    pub fn location(&self) -> String {
        match &*self.target {
            Target::Sqlite(p) => p.display().to_string(),
            Target::Postgres(url) => redact(url),
        }
    }

    /// The PostgreSQL URL (to open a notification listener on), when on PostgreSQL.
    pub fn postgres_url(&self) -> Option<&str> {
        match &*self.target {
            Target::Postgres(url) => Some(url),
            Target::Sqlite(_) => None,
        }
    }

    /// Re-read the latest signed checkpoint from the database (another node's writer may have
    /// extended the log); returns it. Only ever moves forward.
    pub async fn refresh_checkpoint(&self) -> Result<SignedCheckpoint> {
        let last: Option<(i64, String)> = sqlx::query_as(&numbered(
            "SELECT size, note FROM log_checkpoints ORDER BY size DESC LIMIT 1",
        ))
        .fetch_optional(&self.reader)
        .await?;
        if let Some((size, note)) = last {
            let current = self.checkpoint();
            if size as u64 > current.checkpoint.size {
                let cp = Checkpoint::open(note.as_bytes(), &self.verifier).map_err(|e| {
                    StoreError::Corrupt(format!("a stored checkpoint does not verify: {e}"))
                })?;
                let signed = SignedCheckpoint {
                    checkpoint: cp,
                    note,
                };
                let mut latest = self.latest.write().expect("checkpoint lock");
                if signed.checkpoint.size > latest.checkpoint.size {
                    *latest = signed;
                }
            }
        }
        Ok(self.checkpoint())
    }

    /// The read-only connection pool.
    pub fn reader(&self) -> &AnyPool {
        &self.reader
    }

    /// Whether the database answers a query (readiness).
    pub async fn ping(&self) -> bool {
        sqlx::query_scalar::<_, i64>(&crate::numbered("SELECT 1"))
            .fetch_one(&self.reader)
            .await
            .is_ok()
    }

    /// Path of the SQLite database file (`None` on PostgreSQL).
    pub fn path(&self) -> Option<&Path> {
        match &*self.target {
            Target::Sqlite(p) => Some(p),
            Target::Postgres(_) => None,
        }
    }

    /// The log's verifier key.
    pub fn verifier(&self) -> &Verifier {
        &self.verifier
    }

    /// The latest signed checkpoint.
    pub fn checkpoint(&self) -> SignedCheckpoint {
        self.latest.read().expect("checkpoint lock").clone()
    }

    /// [`write`](Store::write) in a transaction of its own: the batch before it commits
    /// first and the jobs after it wait for the next. For bulk jobs (an import of a list):
    /// in a shared transaction a job after the first runs inside a savepoint, and SQLite then
    /// copies every page the job changes for the first time into a sub-journal — for a
    /// list-sized job, most of the database's index pages.
    pub async fn write_alone<T, F>(&self, job: F) -> Result<T>
    where
        T: Send + 'static,
        F: for<'c> FnOnce(&'c mut WriteCtx) -> futures::future::BoxFuture<'c, Result<T>>
            + Send
            + 'static,
    {
        self.queue(job, true).await
    }

    /// Run `job` inside the writer's transaction; returns once its transaction (and the log
    /// entries it appended, under a signed checkpoint) is durable. An `Err` from the job rolls
    /// back its own writes and entries only.
    pub async fn write<T, F>(&self, job: F) -> Result<T>
    where
        T: Send + 'static,
        F: for<'c> FnOnce(&'c mut WriteCtx) -> futures::future::BoxFuture<'c, Result<T>>
            + Send
            + 'static,
    {
        self.queue(job, false).await
    }

    async fn queue<T, F>(&self, job: F, alone: bool) -> Result<T>
    where
        T: Send + 'static,
        F: for<'c> FnOnce(&'c mut WriteCtx) -> futures::future::BoxFuture<'c, Result<T>>
            + Send
            + 'static,
    {
        let (tx, rx) = oneshot::channel();
        // One answer per job: from the reply after the batch, or from `fail` when the job
        // could not run at all.
        let tx = Arc::new(std::sync::Mutex::new(Some(tx)));
        let tx_fail = tx.clone();
        let job: writer::Job = Box::new(move |ctx| {
            Box::pin(async move {
                let r = job(ctx).await;
                let ok = r.is_ok();
                let reply: writer::Reply = Box::new(move |outcome: Result<()>| {
                    if let Some(tx) = tx.lock().expect("reply lock").take() {
                        let _ = tx.send(outcome.and(r));
                    }
                });
                (ok, reply)
            })
        });
        let fail = Box::new(move |e: StoreError| {
            if let Some(tx) = tx_fail.lock().expect("reply lock").take() {
                let _ = tx.send(Err(e));
            }
        });
        let job = writer::Queued { job, fail, alone };
        self.jobs.send(job).await.map_err(|_| StoreError::Closed)?;
        rx.await.map_err(|_| StoreError::Closed)?
    }

    /// Drop this handle's way into the writer and close the read pool. The writer finishes the
    /// jobs it has and closes its connection once the last handle is gone; nothing acknowledged
    /// depends on it (every answered job is already committed).
    pub async fn close(self) {
        let Store { reader, jobs, .. } = self;
        drop(jobs);
        reader.close().await;
    }
}

/// The advisory lock key (PostgreSQL) every node's writer and migrator takes: "candor" in ASCII.
pub(crate) const WRITER_LOCK: i64 = 0x63616e646f72;

/// Migrate the schema and load the log's tree state (signing the empty tree's checkpoint on a
/// fresh log). On PostgreSQL under the writers' advisory lock: nodes starting together do this
/// one at a time.
async fn prepare(
    conn: &mut AnyConnection,
    backend: Backend,
    signer: &Signer,
) -> Result<(writer::Appender, SignedCheckpoint)> {
    if backend == Backend::Postgres {
        sqlx::query("SELECT pg_advisory_lock($1)")
            .bind(WRITER_LOCK)
            .execute(&mut *conn)
            .await?;
    }
    let r = match migrate_locked(conn, backend).await {
        Ok(()) => writer::Appender::load(conn, signer).await,
        Err(e) => Err(e),
    };
    if backend == Backend::Postgres {
        let _ = sqlx::query("SELECT pg_advisory_unlock($1)")
            .bind(WRITER_LOCK)
            .execute(&mut *conn)
            .await;
    }
    r
}

/// The end of SQLite's procedure for schema changes that leave the bytes on disk alone
/// (migration 11 edited two table definitions with `writable_schema` on): bump the schema
/// version so that every connection re-reads the definitions, turn `writable_schema` off, and
/// check that the definitions parse and that the two tables have no foreign key left.
async fn finish_schema_edit(conn: &mut AnyConnection) -> Result<()> {
    let v: i64 = sqlx::query_scalar("PRAGMA schema_version")
        .fetch_one(&mut *conn)
        .await?;
    sqlx::query(&format!("PRAGMA schema_version = {}", v + 1))
        .execute(&mut *conn)
        .await?;
    sqlx::query("PRAGMA writable_schema = OFF")
        .execute(&mut *conn)
        .await?;
    let left: i64 = sqlx::query_scalar(
        "SELECT (SELECT COUNT(*) FROM pragma_foreign_key_list('bank_content')) \
         + (SELECT COUNT(*) FROM pragma_foreign_key_list('content_signals'))",
    )
    .fetch_one(&mut *conn)
    .await?;
    if left != 0 {
        return Err(StoreError::Corrupt(format!(
            "migration 11: {left} foreign keys are still on bank_content and content_signals (their definitions are not the ones this store created)"
        )));
    }
    Ok(())
}

async fn migrate_locked(conn: &mut AnyConnection, backend: Backend) -> Result<()> {
    sqlx::query("CREATE TABLE IF NOT EXISTS schema_version (version BIGINT NOT NULL)")
        .execute(&mut *conn)
        .await?;
    let current: Option<i64> = sqlx::query_scalar("SELECT MAX(version) FROM schema_version")
        .fetch_one(&mut *conn)
        .await?;
    let current = current.unwrap_or(0);
    let migrations = match backend {
        Backend::Sqlite => MIGRATIONS,
        Backend::Postgres => PG_MIGRATIONS,
    };
    for (version, script) in migrations {
        if *version <= current {
            continue;
        }
        let mut tx = conn.begin().await?;
        sqlx::raw_sql(script).execute(&mut *tx).await?;
        if backend == Backend::Sqlite && *version == SQLITE_SCHEMA_EDIT {
            finish_schema_edit(&mut tx).await?;
        }
        sqlx::query("INSERT INTO schema_version (version) VALUES ($1)")
            .bind(version)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
    }
    let latest = migrations.last().map(|m| m.0).unwrap_or(0);
    if current > latest {
        return Err(StoreError::Corrupt(format!(
            "database schema version {current} is newer than this build ({latest})"
        )));
    }
    Ok(())
}
