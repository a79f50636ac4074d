//! The single writer: group commit of jobs, log appends and checkpoint signing.

use std::sync::{Arc, RwLock};

use candor_log::stored::stored_hash_index;
use candor_log::{leaf_hash, node_hash, Checkpoint, Hash, Signer};
use futures::future::BoxFuture;
use sqlx::AnyConnection;
use sqlx::Row;
use tokio::sync::mpsc;

use crate::{Backend, Result, SignedCheckpoint, StoreError, WRITER_LOCK};

pub(crate) type Reply = Box<dyn FnOnce(Result<()>) + Send>;
pub(crate) type Job =
    Box<dyn for<'c> FnOnce(&'c mut WriteCtx) -> BoxFuture<'c, (bool, Reply)> + Send>;

/// A job waiting for the writer, with the way to answer its caller when it cannot run at all
/// (the transaction could not begin: disk full, read-only database).
pub(crate) struct Queued {
    pub(crate) job: Job,
    pub(crate) fail: Box<dyn FnOnce(StoreError) + Send>,
    /// Runs in a transaction of its own ([`crate::Store::write_alone`]).
    pub(crate) alone: bool,
}

/// What a job sees: the connection (inside the writer's transaction) and the log.
pub struct WriteCtx {
    /// The connection, inside a transaction; use `&mut *ctx.conn` as the executor.
    pub conn: AnyConnection,
    appender: Appender,
    effects: Vec<Box<dyn FnOnce() + Send>>,
    backend: Backend,
}

impl WriteCtx {
    /// Append `entry` to the log in this transaction; returns its index. The entry becomes
    /// durable, and covered by a signed checkpoint, when the transaction commits.
    pub fn append(&mut self, entry: Vec<u8>) -> u64 {
        self.appender.push(entry)
    }

    /// Which database the transaction is on (for a bulk path's backend-specific SQL).
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The log size including entries appended so far in this transaction.
    pub fn log_size(&self) -> u64 {
        self.appender.size()
    }

    /// Run `f` after the transaction has committed (in commit order, before any caller is
    /// answered): the place to update in-memory state such as the match index.
    pub fn after_commit(&mut self, f: impl FnOnce() + Send + 'static) {
        self.effects.push(Box::new(f));
    }

    /// Write the entries this job appended so far (and their stored hashes) into the
    /// transaction now, and drop them from memory: a job that appends a very large number of
    /// entries (an import) calls this every few thousand so the writer's memory stays bounded.
    /// They are still committed — and covered by the signed checkpoint — with the batch, and
    /// rolled back with the job if it fails. Entries of earlier jobs in the batch stay pending
    /// (a failing job must not take them with it).
    pub async fn flush_log(&mut self) -> Result<()> {
        let (e0, h0) = self.appender.job_start;
        let a = &self.appender;
        let entries: Vec<(i64, &[u8])> = a.pending[e0..]
            .iter()
            .map(|(i, e)| (*i as i64, e.as_slice()))
            .collect();
        insert_rows(
            &mut self.conn,
            self.backend,
            "log_entries (idx, data)",
            &entries,
        )
        .await?;
        let hashes: Vec<(i64, &[u8])> = a.pending_hashes[h0..]
            .iter()
            .map(|(i, h)| (*i as i64, h.as_slice()))
            .collect();
        insert_rows(
            &mut self.conn,
            self.backend,
            "log_hashes (idx, hash)",
            &hashes,
        )
        .await?;
        self.appender.pending.truncate(e0);
        self.appender.pending_hashes.truncate(h0);
        Ok(())
    }
}

/// The log's tree state: size, the roots of the perfect subtrees that make up the tree (left
/// to right, with their level), and what this transaction appended.
pub(crate) struct Appender {
    size: u64,
    frontier: Vec<(u32, Hash)>,
    /// Entries appended in the open transaction and not yet written to it, with their index.
    pending: Vec<(u64, Vec<u8>)>,
    /// Where the running job's entries and hashes start in `pending` and `pending_hashes`
    /// (what [`WriteCtx::flush_log`] may write early).
    job_start: (usize, usize),
    committed_size: u64,
    committed_frontier: Vec<(u32, Hash)>,
    /// The database's last checkpoint, which the committed state must produce.
    committed_checkpoint: Checkpoint,
    /// Stored hashes (Go tlog layout) produced by the pending entries.
    pending_hashes: Vec<(u64, Hash)>,
}

impl Appender {
    /// Rebuild the tree state from the database and check it against the last checkpoint.
    pub(crate) async fn load(
        conn: &mut AnyConnection,
        signer: &Signer,
    ) -> Result<(Appender, SignedCheckpoint)> {
        let size: i64 = sqlx::query_scalar(&crate::numbered(
            "SELECT COALESCE(MAX(idx) + 1, 0) FROM log_entries",
        ))
        .fetch_one(&mut *conn)
        .await?;
        let size = size as u64;
        let mut frontier = Vec::new();
        let mut start = 0u64;
        for level in (0..64u32).rev() {
            if size & (1u64 << level) != 0 {
                let idx = stored_hash_index(level, start >> level);
                let row = sqlx::query(&crate::numbered(
                    "SELECT hash FROM log_hashes WHERE idx = ?",
                ))
                .bind(idx as i64)
                .fetch_optional(&mut *conn)
                .await?
                .ok_or_else(|| StoreError::Corrupt(format!("stored hash {idx} missing")))?;
                let bytes: Vec<u8> = row.get(0);
                let h: Hash = bytes
                    .try_into()
                    .map_err(|_| StoreError::Corrupt(format!("stored hash {idx} malformed")))?;
                frontier.push((level, h));
                start += 1u64 << level;
            }
        }
        let mut appender = Appender {
            size,
            frontier: frontier.clone(),
            pending: Vec::new(),
            job_start: (0, 0),
            committed_size: size,
            committed_frontier: frontier,
            committed_checkpoint: Checkpoint::new(signer.name(), 0, candor_log::empty_root()),
            pending_hashes: Vec::new(),
        };
        let root = appender.root();
        let last: Option<(i64, String)> = sqlx::query_as(&crate::numbered(
            "SELECT size, note FROM log_checkpoints ORDER BY size DESC LIMIT 1",
        ))
        .fetch_optional(&mut *conn)
        .await?;
        let latest = match last {
            Some((csize, note)) => {
                let cp = Checkpoint::open(note.as_bytes(), &signer.verifier()).map_err(|e| {
                    StoreError::Corrupt(format!(
                        "the last checkpoint does not verify with this log key ({e}): is the key file the one this log was signed with?"
                    ))
                })?;
                if cp.size != size || cp.root != root || csize as u64 != size {
                    return Err(StoreError::Corrupt(format!(
                        "the last checkpoint (size {}) does not match the stored log (size {size})",
                        cp.size
                    )));
                }
                SignedCheckpoint {
                    checkpoint: cp,
                    note,
                }
            }
            None if size == 0 => {
                // A fresh log: sign and store the empty tree's checkpoint.
                let cp = Checkpoint::new(signer.name(), 0, root);
                let note = candor_log::sign_checkpoint(signer, None, &cp, &[])?;
                sqlx::query(&crate::numbered(
                    "INSERT INTO log_checkpoints (size, note) VALUES (0, ?)",
                ))
                .bind(&note)
                .execute(&mut *conn)
                .await?;
                SignedCheckpoint {
                    checkpoint: cp,
                    note,
                }
            }
            None => {
                return Err(StoreError::Corrupt(
                    "log entries without any checkpoint".into(),
                ))
            }
        };
        appender.committed_checkpoint = latest.checkpoint.clone();
        Ok((appender, latest))
    }

    pub(crate) fn size(&self) -> u64 {
        self.size
    }

    fn push(&mut self, entry: Vec<u8>) -> u64 {
        let n = self.size;
        let mut h = leaf_hash(&entry);
        self.pending_hashes.push((stored_hash_index(0, n), h));
        let mut level = 0u32;
        while let Some(&(l, left)) = self.frontier.last() {
            if l != level {
                break;
            }
            self.frontier.pop();
            h = node_hash(&left, &h);
            level += 1;
            self.pending_hashes
                .push((stored_hash_index(level, n >> level), h));
        }
        self.frontier.push((level, h));
        self.pending.push((n, entry));
        self.size += 1;
        n
    }

    /// RFC 6962 root of the current tree: the subtree roots folded right to left.
    pub(crate) fn root(&self) -> Hash {
        fold_root(&self.frontier)
    }

    /// A mark to roll back to if a job fails; also where the job's entries start.
    fn mark(&mut self) -> (u64, Vec<(u32, Hash)>, usize, usize) {
        self.job_start = (self.pending.len(), self.pending_hashes.len());
        (
            self.size,
            self.frontier.clone(),
            self.pending.len(),
            self.pending_hashes.len(),
        )
    }

    fn rollback_to(&mut self, mark: (u64, Vec<(u32, Hash)>, usize, usize)) {
        self.size = mark.0;
        self.frontier = mark.1;
        self.pending.truncate(mark.2);
        self.pending_hashes.truncate(mark.3);
    }

    fn abort(&mut self) {
        self.size = self.committed_size;
        self.frontier = self.committed_frontier.clone();
        self.pending.clear();
        self.pending_hashes.clear();
    }

    fn committed(&mut self, signed: Option<&Checkpoint>) {
        if let Some(cp) = signed {
            self.committed_checkpoint = cp.clone();
        }
        self.committed_size = self.size;
        self.committed_frontier = self.frontier.clone();
        self.pending.clear();
        self.pending_hashes.clear();
    }
}

pub(crate) struct Writer {
    pub(crate) conn: AnyConnection,
    pub(crate) appender: Appender,
    pub(crate) signer: Signer,
    pub(crate) latest: Arc<RwLock<SignedCheckpoint>>,
    pub(crate) max_batch: usize,
    pub(crate) backend: Backend,
    /// How to connect again when the connection is lost (PostgreSQL restarted, network).
    pub(crate) reconnect: Option<sqlx::any::AnyConnectOptions>,
    /// Told after every batch (SQLite: wakes the WAL checkpointer; a full channel means it
    /// is already due to run).
    pub(crate) commits: Option<mpsc::Sender<()>>,
    /// The SQLite WAL file (its size is checked before each batch).
    pub(crate) wal: Option<std::path::PathBuf>,
    /// Where each commit's log index range is recorded.
    pub(crate) written: Arc<crate::Written>,
}

impl Writer {
    pub(crate) async fn run(self, mut rx: mpsc::Receiver<Queued>) {
        let Writer {
            conn,
            appender,
            signer,
            latest,
            max_batch,
            backend,
            reconnect,
            commits,
            wal,
            written,
        } = self;
        let mut ctx = WriteCtx {
            conn,
            appender,
            effects: Vec::new(),
            backend,
        };
        let mut batch = Vec::with_capacity(max_batch);
        // A job that runs alone, received while a batch was being gathered: the next batch.
        let mut carried: Option<Queued> = None;
        loop {
            let first = match carried.take() {
                Some(job) => job,
                None => match rx.recv().await {
                    Some(job) => job,
                    None => break,
                },
            };
            let alone = first.alone;
            batch.push(first);
            while !alone && batch.len() < max_batch {
                match rx.try_recv() {
                    Ok(job) if job.alone => {
                        carried = Some(job);
                        break;
                    }
                    Ok(job) => batch.push(job),
                    Err(_) => break,
                }
            }
            if let Some(wal) = &wal {
                truncate_wal_if_large(&mut ctx.conn, wal).await;
            }
            let ok = run_batch(&mut ctx, &signer, &latest, backend, &written, &mut batch).await;
            if let Some(c) = &commits {
                let _ = c.try_send(());
            }
            if let Some(options) = reconnect.as_ref().filter(|_| !ok) {
                // A lost connection fails its batch (nothing of it committed, every job
                // answered); the next batch gets a new connection.
                if sqlx::Connection::ping(&mut ctx.conn).await.is_err() {
                    match sqlx::Connection::connect_with(options).await {
                        Ok(c) => {
                            tracing::warn!(
                                "store: the writer's database connection was lost; reconnected"
                            );
                            ctx.conn = c;
                        }
                        Err(e) => {
                            tracing::error!(error = %e, "store: the writer cannot reconnect to the database")
                        }
                    }
                }
            }
        }
        let _ = sqlx::Connection::close(ctx.conn).await;
    }
}

/// When the WAL has grown past [`crate::WAL_LIMIT_BYTES`] (the checkpointer could not finish
/// between back-to-back bulk writes), checkpoint it whole and truncate it, here, between two
/// batches: waits for readers (their busy timeout), bounded by the WAL's size.
async fn truncate_wal_if_large(conn: &mut AnyConnection, wal: &std::path::Path) {
    let large = std::fs::metadata(wal).is_ok_and(|m| m.len() > crate::WAL_LIMIT_BYTES);
    if large {
        if let Err(e) = sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
            .execute(&mut *conn)
            .await
        {
            tracing::warn!(error = %e, "store: WAL checkpoint failed");
        }
    }
}

async fn run_batch(
    ctx: &mut WriteCtx,
    signer: &Signer,
    latest: &RwLock<SignedCheckpoint>,
    backend: Backend,
    written: &crate::Written,
    batch: &mut Vec<Queued>,
) -> bool {
    let mut replies: Vec<(bool, Reply)> = Vec::with_capacity(batch.len());
    let mut effects: Vec<Box<dyn FnOnce() + Send>> = Vec::new();
    if let Err(e) = begin(ctx, signer, latest, backend).await {
        cannot_begin(&e, batch.drain(..));
        return false;
    }
    // Until a job has succeeded the transaction holds nothing of this batch, so the job runs
    // without a savepoint and a failure rolls the whole transaction back and begins again.
    // Savepoints are not free: SQLite copies every page a job changes for the first time into
    // a sub-journal (with the statement journals of multi-row inserts, see
    // `banks::add_imported`, 21 % of a 10M-hash import's time in `subjournalPageIfRequired`);
    // list-sized jobs are queued with `Store::write_alone` and always run first.
    let mut fresh = true;
    let mut jobs = batch.drain(..);
    while let Some(Queued { job, .. }) = jobs.next() {
        let mark = ctx.appender.mark();
        let effects_mark = ctx.effects.len();
        if !fresh {
            let sp = sqlx::query(&crate::numbered("SAVEPOINT job"))
                .execute(&mut ctx.conn)
                .await;
            if let Err(e) = sp {
                let msg = e.to_string();
                replies.push((
                    false,
                    Box::new(move |_| tracing::error!(error = %msg, "store: savepoint failed")),
                ));
                continue;
            }
        }
        let (ok, reply) = job(ctx).await;
        replies.push((ok, reply));
        if ok {
            if !fresh {
                let _ = sqlx::query(&crate::numbered("RELEASE job"))
                    .execute(&mut ctx.conn)
                    .await;
            }
            fresh = false;
            continue;
        }
        ctx.appender.rollback_to(mark);
        ctx.effects.truncate(effects_mark);
        if !fresh {
            let _ = sqlx::query(&crate::numbered("ROLLBACK TO job"))
                .execute(&mut ctx.conn)
                .await;
            let _ = sqlx::query(&crate::numbered("RELEASE job"))
                .execute(&mut ctx.conn)
                .await;
            continue;
        }
        let _ = sqlx::query(&crate::numbered("ROLLBACK"))
            .execute(&mut ctx.conn)
            .await;
        if let Err(e) = begin(ctx, signer, latest, backend).await {
            cannot_begin(&e, jobs.by_ref());
            // Nothing is open: answer the jobs that ran (all failed) and stop.
            for (_, reply) in replies {
                reply(Ok(()));
            }
            return false;
        }
    }
    drop(jobs);
    effects.append(&mut ctx.effects);
    let outcome = finish(ctx, signer, backend).await;
    let err = outcome.as_ref().err().map(|e| match e {
        StoreError::Corrupt(m) => StoreError::Corrupt(m.clone()),
        other => StoreError::Unavailable(format!("commit failed: {other}")),
    });
    if let Some(e) = &err {
        tracing::error!(error = %e, "store: a write batch failed; nothing of it was committed");
    }
    match outcome {
        Ok(Some(signed)) => {
            // Before the effects run and the callers are answered: a follower that sees the
            // new checkpoint knows these entries are this writer's.
            written.add(ctx.appender.committed_size..ctx.appender.size);
            ctx.appender.committed(Some(&signed.checkpoint));
            *latest.write().expect("checkpoint lock") = signed;
        }
        Ok(None) => ctx.appender.committed(None),
        Err(_) => {
            let _ = sqlx::query(&crate::numbered("ROLLBACK"))
                .execute(&mut ctx.conn)
                .await;
            ctx.appender.abort();
            effects.clear();
        }
    }
    for f in effects {
        f();
    }
    for (_, reply) in replies {
        match &err {
            None => reply(Ok(())),
            Some(StoreError::Corrupt(m)) => reply(Err(StoreError::Corrupt(m.clone()))),
            Some(StoreError::Unavailable(m)) => reply(Err(StoreError::Unavailable(m.clone()))),
            Some(e) => reply(Err(StoreError::Unavailable(e.to_string()))),
        }
    }
    err.is_none()
}

/// The transaction could not begin: run none of `jobs`, answer each with the failure.
fn cannot_begin(e: &StoreError, jobs: impl Iterator<Item = Queued>) {
    let msg = e.to_string();
    tracing::error!(error = %msg, "store: cannot begin a transaction");
    for q in jobs {
        (q.fail)(StoreError::Unavailable(format!(
            "cannot begin a transaction: {msg}"
        )));
    }
}

/// Begin the batch's transaction holding the database's write lock, and make sure the tree
/// state extends what the database holds: another writer (a second node on PostgreSQL, or a
/// CLI command beside a running service on SQLite) may have appended since this one's last
/// batch. On SQLite `BEGIN IMMEDIATE` takes the file's write lock; on PostgreSQL every node's
/// writer takes one advisory lock, held until commit or rollback (and released by the server
/// when a node dies), so exactly one node appends to the log at a time.
async fn begin(
    ctx: &mut WriteCtx,
    signer: &Signer,
    latest: &RwLock<SignedCheckpoint>,
    backend: Backend,
) -> Result<()> {
    match backend {
        Backend::Sqlite => {
            sqlx::query("BEGIN IMMEDIATE")
                .execute(&mut ctx.conn)
                .await?;
        }
        Backend::Postgres => {
            sqlx::query("BEGIN").execute(&mut ctx.conn).await?;
            if let Err(e) = sqlx::query("SELECT pg_advisory_xact_lock($1)")
                .bind(WRITER_LOCK)
                .execute(&mut ctx.conn)
                .await
            {
                let _ = sqlx::query("ROLLBACK").execute(&mut ctx.conn).await;
                return Err(e.into());
            }
        }
    }
    let size: i64 = match sqlx::query_scalar("SELECT COALESCE(MAX(idx) + 1, 0) FROM log_entries")
        .fetch_one(&mut ctx.conn)
        .await
    {
        Ok(s) => s,
        Err(e) => {
            let _ = sqlx::query("ROLLBACK").execute(&mut ctx.conn).await;
            return Err(e.into());
        }
    };
    if size as u64 != ctx.appender.committed_size {
        match Appender::load(&mut ctx.conn, signer).await {
            Ok((appender, signed)) => {
                tracing::debug!(
                    from = ctx.appender.committed_size,
                    to = size,
                    "store: the log was extended by another writer"
                );
                ctx.appender = appender;
                let mut l = latest.write().expect("checkpoint lock");
                if signed.checkpoint.size >= l.checkpoint.size {
                    *l = signed;
                }
            }
            Err(e) => {
                let _ = sqlx::query("ROLLBACK").execute(&mut ctx.conn).await;
                return Err(e);
            }
        }
    }
    Ok(())
}

/// Write the pending entries, their stored hashes and the new signed checkpoint, then commit.
async fn finish(
    ctx: &mut WriteCtx,
    signer: &Signer,
    backend: Backend,
) -> Result<Option<SignedCheckpoint>> {
    let a = &ctx.appender;
    let mut signed = None;
    if a.size != a.committed_size {
        // Multi-row inserts: every statement is a round trip to SQLite's worker thread, which
        // costs more than the insert itself (a batch of a thousand one-entry jobs would
        // otherwise spend most of its time on ~3,000 round trips).
        let entries: Vec<(i64, &[u8])> = (a.pending.iter())
            .map(|(i, e)| (*i as i64, e.as_slice()))
            .collect();
        insert_rows(&mut ctx.conn, backend, "log_entries (idx, data)", &entries).await?;
        let hashes: Vec<(i64, &[u8])> = (a.pending_hashes.iter())
            .map(|(idx, h)| (*idx as i64, h.as_slice()))
            .collect();
        insert_rows(&mut ctx.conn, backend, "log_hashes (idx, hash)", &hashes).await?;
        // Consistency by construction: the new tree is the committed tree (whose frontier
        // produced the last signed root) with leaves appended. Check that premise before
        // signing, so a bug can never make the log sign a tree that forks from the last one.
        // The committed state is the database's last checkpoint: checked when it was loaded
        // (at open, or in `begin` when another writer had extended the log) and kept in step
        // by every commit of this writer since.
        if a.committed_checkpoint.size != a.committed_size
            || a.committed_checkpoint.root != fold_root(&a.committed_frontier)
        {
            return Err(StoreError::Corrupt(
                "refusing to sign: the tree does not extend the last checkpoint".into(),
            ));
        }
        let cp = Checkpoint::new(signer.name(), a.size, a.root());
        let note = candor_log::sign_checkpoint(signer, None, &cp, &[])?;
        sqlx::query(&crate::numbered(
            "INSERT INTO log_checkpoints (size, note) VALUES (?, ?)",
        ))
        .bind(a.size as i64)
        .bind(&note)
        .execute(&mut ctx.conn)
        .await?;
        if backend == Backend::Postgres {
            // Delivered at commit: wakes every node's follower (see the server's `follow`).
            sqlx::query("SELECT pg_notify('candor_log', $1)")
                .bind(a.size.to_string())
                .execute(&mut ctx.conn)
                .await?;
        }
        signed = Some(SignedCheckpoint {
            checkpoint: cp,
            note,
        });
    }
    sqlx::query("COMMIT").execute(&mut ctx.conn).await?;
    Ok(signed)
}

/// `INSERT INTO <table> VALUES (?, ?), …` for `rows`, 256 rows a statement; on PostgreSQL one
/// statement of two array parameters, `unnest`ed (see [`crate::pg_array`]).
async fn insert_rows(
    conn: &mut AnyConnection,
    backend: Backend,
    table: &str,
    rows: &[(i64, &[u8])],
) -> Result<()> {
    if backend == Backend::Postgres {
        if rows.is_empty() {
            return Ok(());
        }
        let sql = format!(
            "INSERT INTO {table} SELECT * FROM unnest($1::text::bigint[], $2::text::bytea[])"
        );
        sqlx::query(&sql)
            .bind(crate::pg_array::bigint(rows.iter().map(|r| r.0)))
            .bind(crate::pg_array::bytea(rows.iter().map(|r| r.1)))
            .execute(&mut *conn)
            .await?;
        return Ok(());
    }
    for chunk in rows.chunks(256) {
        // `OR FAIL`: no statement journal (see `banks::add_imported`).
        let mut sql = format!("INSERT OR FAIL INTO {table} VALUES ");
        for i in 0..chunk.len() {
            sql.push_str(if i == 0 { "(?, ?)" } else { ", (?, ?)" });
        }
        // Anonymous `?` on SQLite (see `banks::add_imported`: named parameters are resolved
        // by a linear scan).
        let mut q = sqlx::query(&sql);
        for (idx, data) in chunk {
            q = q.bind(*idx).bind(*data);
        }
        q.execute(&mut *conn).await?;
    }
    Ok(())
}

fn fold_root(frontier: &[(u32, Hash)]) -> Hash {
    let mut it = frontier.iter().rev();
    match it.next() {
        None => candor_log::empty_root(),
        Some(&(_, last)) => it.fold(last, |acc, &(_, left)| node_hash(&left, &acc)),
    }
}
