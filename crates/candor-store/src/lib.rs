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
pub mod log;
pub mod matching;
pub mod policies;
pub mod review;
pub mod tokens;
mod writer;

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use candor_log::{Checkpoint, Signer, Verifier};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqlitePool, SqlitePoolOptions,
    SqliteSynchronous,
};
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
    reader: SqlitePool,
    jobs: mpsc::Sender<writer::Queued>,
    latest: Arc<RwLock<SignedCheckpoint>>,
    verifier: Verifier,
    path: PathBuf,
}

/// Options for [`Store::open`].
#[derive(Clone, Debug)]
pub struct StoreOptions {
    /// Most jobs in one transaction.
    pub max_batch: usize,
    /// Read connections.
    pub readers: u32,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            max_batch: 1024,
            readers: 8,
        }
    }
}

impl Store {
    /// Open (or create) the database `dir/candor.db`, migrate it, check the log against its last
    /// checkpoint and start the writer. The log's checkpoints are signed with `signer`.
    pub async fn open(dir: &Path, signer: Signer, options: StoreOptions) -> Result<Store> {
        std::fs::create_dir_all(dir)?;
        let path = dir.join("candor.db");
        let connect = SqliteConnectOptions::from_str("sqlite:")?
            .filename(&path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10))
            .disable_statement_logging();
        let mut conn = SqliteConnection::connect_with(&connect).await.map_err(|e| {
            StoreError::Unavailable(format!(
                "the database {} cannot be opened for writing (a read-only file or filesystem, or no space?): {e}",
                path.display()
            ))
        })?;
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
        migrate(&mut conn).await?;
        let (appender, latest) = writer::Appender::load(&mut conn, &signer).await?;
        let reader = SqlitePoolOptions::new()
            .max_connections(options.readers.max(1))
            .connect_with(connect.clone().read_only(true))
            .await?;
        let latest = Arc::new(RwLock::new(latest));
        let (tx, rx) = mpsc::channel(options.max_batch.max(1) * 4);
        let verifier = signer.verifier();
        let w = writer::Writer {
            conn,
            appender,
            signer,
            latest: latest.clone(),
            max_batch: options.max_batch.max(1),
        };
        tokio::spawn(w.run(rx));
        Ok(Store {
            reader,
            jobs: tx,
            latest,
            verifier,
            path,
        })
    }

    /// The read-only connection pool.
    pub fn reader(&self) -> &SqlitePool {
        &self.reader
    }

    /// Whether the database answers a query (readiness).
    pub async fn ping(&self) -> bool {
        sqlx::query_scalar::<_, i64>("SELECT 1")
            .fetch_one(&self.reader)
            .await
            .is_ok()
    }

    /// Path of the database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The log's verifier key.
    pub fn verifier(&self) -> &Verifier {
        &self.verifier
    }

    /// The latest signed checkpoint.
    pub fn checkpoint(&self) -> SignedCheckpoint {
        self.latest.read().expect("checkpoint lock").clone()
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
        let job = writer::Queued { job, fail };
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

async fn migrate(conn: &mut SqliteConnection) -> Result<()> {
    sqlx::query("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
        .execute(&mut *conn)
        .await?;
    let current: Option<i64> = sqlx::query_scalar("SELECT MAX(version) FROM schema_version")
        .fetch_one(&mut *conn)
        .await?;
    let current = current.unwrap_or(0);
    for (version, script) in MIGRATIONS {
        if *version <= current {
            continue;
        }
        let mut tx = conn.begin().await?;
        sqlx::raw_sql(script).execute(&mut *tx).await?;
        sqlx::query("INSERT INTO schema_version (version) VALUES (?)")
            .bind(version)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
    }
    let latest = MIGRATIONS.last().map(|m| m.0).unwrap_or(0);
    if current > latest {
        return Err(StoreError::Corrupt(format!(
            "database schema version {current} is newer than this build ({latest})"
        )));
    }
    Ok(())
}
