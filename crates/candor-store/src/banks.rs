//! The banks room: banks, their content and its signals. Every query of the room lives here,
//! as an operation in the room's words; `candor-server` calls these and never writes SQL.
//!
//! Writes take `&mut AnyConnection` (inside a writer job: `&mut ctx.conn`), reads a
//! `&AnyPool` (`store.reader()`) or, inside a job, the job's connection. Log entries and the
//! match index are the caller's: this module only stores rows.

use candor_log::entry::SignalKind;
use sqlx::any::AnyRow;
use sqlx::Row;
use sqlx::{AnyConnection, AnyPool};

use crate::{Result, StoreError};

/// A bank, with the number of its live (unretracted) contents.
#[derive(Debug, Clone, PartialEq)]
pub struct BankRow {
    pub id: i64,
    pub name: String,
    pub description: String,
    pub category: String,
    pub provenance: String,
    pub enabled: bool,
    pub pdq_threshold: u32,
    pub created_at: String,
    pub updated_at: String,
    pub content_count: i64,
    /// HMA's `matching_enabled_ratio` (0.0..=1.0; 0 exactly when the bank is disabled through
    /// the HMA API).
    pub matching_enabled_ratio: f64,
    /// A negative bank (an allowlist): its match suppresses every other bank's matches.
    pub negative: bool,
}

/// A bank to create.
#[derive(Debug, Clone)]
pub struct NewBank<'a> {
    pub name: &'a str,
    pub description: &'a str,
    pub category: &'a str,
    pub provenance: &'a str,
    pub enabled: bool,
    pub pdq_threshold: u32,
    pub now: &'a str,
}

/// The settings of a bank an update may change.
#[derive(Debug, Clone)]
pub struct BankSettings<'a> {
    pub description: &'a str,
    pub category: &'a str,
    pub enabled: bool,
    pub pdq_threshold: u32,
}

/// One bank content (without its signals).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContentRow {
    /// Row id (the pagination cursor).
    pub id: i64,
    pub public_id: String,
    pub bank: String,
    pub provenance: String,
    pub note: String,
    pub enabled: bool,
    pub retracted_at: Option<String>,
    pub retraction_reason: Option<String>,
    pub created_at: String,
    pub created_by: String,
    /// HMA's `disable_until_ts` when it was set through the HMA API (unix seconds, or 0 for
    /// "disabled"), `None` otherwise.
    pub disable_until_ts: Option<i64>,
    /// The user metadata given with the content (JSON text), if any.
    pub metadata: Option<String>,
}

/// One stored signal of a content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignalRow {
    /// Row id of `content_signals` (the match index's key).
    pub id: i64,
    /// `pdq`, `md5` or `sha256` (unknown names read as `sha256`, as the index does).
    pub kind: SignalKind,
    pub value: Vec<u8>,
    pub quality: Option<u8>,
    pub salt: Vec<u8>,
}

/// A content to add.
#[derive(Debug, Clone)]
pub struct NewContent<'a> {
    pub public_id: &'a str,
    pub bank_id: i64,
    pub provenance: &'a str,
    pub note: &'a str,
    pub created_by: &'a str,
    pub now: &'a str,
}

/// A content as a change sees it: where it is and whether it can still change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContentState {
    pub id: i64,
    pub bank_id: i64,
    pub enabled: bool,
    pub retracted: bool,
    pub provenance: String,
    pub category: String,
}

/// One line of an import: a content with one signal, its public id and salt chosen by the
/// caller.
#[derive(Debug, Clone, Copy)]
pub struct ImportedSignal<'a> {
    pub public_id: &'a str,
    pub kind: SignalKind,
    pub value: &'a [u8],
    pub salt: &'a [u8; 16],
}

/// Where [`add_imported`] put its rows: content `i` got row `first_content + i` and its signal
/// row `first_signal + i`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImportedRows {
    pub first_content: i64,
    pub first_signal: i64,
}

const BANK_COLUMNS: &str = "b.id, b.name, b.description, b.category, b.provenance, b.enabled, \
     b.pdq_threshold, b.created_at, b.updated_at, \
     b.content_count, b.matching_enabled_ratio, b.negative";

fn bank_from_row(row: &AnyRow) -> BankRow {
    BankRow {
        id: row.get(0),
        name: row.get(1),
        description: row.get(2),
        category: row.get(3),
        provenance: row.get(4),
        enabled: row.get::<i64, _>(5) != 0,
        pdq_threshold: row.get::<i64, _>(6) as u32,
        created_at: row.get(7),
        updated_at: row.get(8),
        content_count: row.get(9),
        matching_enabled_ratio: row.get(10),
        negative: row.get::<i64, _>(11) != 0,
    }
}

/// The bank called `name` (through the read pool, or a job's connection).
pub async fn find_bank<'e, E>(conn: E, name: &str) -> Result<Option<BankRow>>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    let row = sqlx::query(&crate::numbered(&format!(
        "SELECT {BANK_COLUMNS} FROM banks b WHERE b.name = ?"
    )))
    .bind(name)
    .fetch_optional(conn)
    .await?;
    Ok(row.as_ref().map(bank_from_row))
}

/// Every bank, by name.
pub async fn list_banks(pool: &AnyPool) -> Result<Vec<BankRow>> {
    let rows = sqlx::query(&crate::numbered(&format!(
        "SELECT {BANK_COLUMNS} FROM banks b ORDER BY b.name"
    )))
    .fetch_all(pool)
    .await?;
    Ok(rows.iter().map(bank_from_row).collect())
}

/// Create a bank; returns its id. [`StoreError::Rejected`] if the name is taken.
pub async fn create_bank(conn: &mut AnyConnection, b: &NewBank<'_>) -> Result<i64> {
    let exists: Option<i64> =
        sqlx::query_scalar(&crate::numbered("SELECT id FROM banks WHERE name = ?"))
            .bind(b.name)
            .fetch_optional(&mut *conn)
            .await?;
    if exists.is_some() {
        return Err(StoreError::Rejected(format!("bank {:?} exists", b.name)));
    }
    Ok(sqlx::query_scalar(&crate::numbered(
        "INSERT INTO banks (id, name, description, category, provenance, enabled, pdq_threshold, \
         created_at, updated_at) VALUES ((SELECT COALESCE(MAX(id), 0) + 1 FROM banks), \
         ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
    ))
    .bind(b.name)
    .bind(b.description)
    .bind(b.category)
    .bind(b.provenance)
    .bind(b.enabled as i64)
    .bind(i64::from(b.pdq_threshold))
    .bind(b.now)
    .bind(b.now)
    .fetch_one(&mut *conn)
    .await?)
}

/// Change a bank's settings. [`StoreError::Rejected`] if the bank is gone.
pub async fn update_bank(
    conn: &mut AnyConnection,
    id: i64,
    s: &BankSettings<'_>,
    now: &str,
) -> Result<()> {
    let n = sqlx::query(&crate::numbered(
        "UPDATE banks SET description = ?, category = ?, enabled = ?, pdq_threshold = ?, \
         updated_at = ? WHERE id = ?",
    ))
    .bind(s.description)
    .bind(s.category)
    .bind(s.enabled as i64)
    .bind(i64::from(s.pdq_threshold))
    .bind(now)
    .bind(id)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    if n == 0 {
        return Err(StoreError::Rejected("bank was deleted".into()));
    }
    Ok(())
}

/// Make bank `id` negative (an allowlist) or not.
pub async fn set_negative(conn: &mut AnyConnection, id: i64, negative: bool) -> Result<()> {
    sqlx::query(&crate::numbered(
        "UPDATE banks SET negative = ? WHERE id = ?",
    ))
    .bind(negative as i64)
    .bind(id)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Delete a bank with all its content and signals.
pub async fn delete_bank(conn: &mut AnyConnection, id: i64) -> Result<()> {
    sqlx::query(&crate::numbered(
        "DELETE FROM content_signals WHERE content_id IN \
         (SELECT id FROM bank_content WHERE bank_id = ?)",
    ))
    .bind(id)
    .execute(&mut *conn)
    .await?;
    sqlx::query(&crate::numbered(
        "DELETE FROM bank_content WHERE bank_id = ?",
    ))
    .bind(id)
    .execute(&mut *conn)
    .await?;
    sqlx::query(&crate::numbered(
        "DELETE FROM source_items WHERE bank_id = ?",
    ))
    .bind(id)
    .execute(&mut *conn)
    .await?;
    sqlx::query(&crate::numbered("DELETE FROM banks WHERE id = ?"))
        .bind(id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

const CONTENT_COLUMNS: &str = "c.id, c.public_id, b.name, c.provenance, c.note, c.enabled, \
     c.retracted_at, c.retraction_reason, c.created_at, c.created_by, c.disable_until_ts, \
     c.metadata";

fn content_from_row(row: &AnyRow) -> ContentRow {
    ContentRow {
        id: row.get(0),
        public_id: row.get(1),
        bank: row.get(2),
        provenance: row.get(3),
        note: row.get(4),
        enabled: row.get::<i64, _>(5) != 0,
        retracted_at: row.get(6),
        retraction_reason: row.get(7),
        created_at: row.get(8),
        created_by: row.get(9),
        disable_until_ts: row.get(10),
        metadata: row.get(11),
    }
}

/// The content `public_id` of bank `bank`.
pub async fn find_content(
    pool: &AnyPool,
    bank: &str,
    public_id: &str,
) -> Result<Option<ContentRow>> {
    let row = sqlx::query(&crate::numbered(&format!(
        "SELECT {CONTENT_COLUMNS} FROM bank_content c JOIN banks b ON b.id = c.bank_id \
         WHERE c.public_id = ? AND b.name = ?"
    )))
    .bind(public_id)
    .bind(bank)
    .fetch_optional(pool)
    .await?;
    Ok(row.as_ref().map(content_from_row))
}

/// A page of a bank's content, oldest first: rows after row id `after`, at most `limit`.
pub async fn list_content(
    pool: &AnyPool,
    bank_id: i64,
    after: i64,
    limit: i64,
) -> Result<Vec<ContentRow>> {
    let rows = sqlx::query(&crate::numbered(&format!(
        "SELECT {CONTENT_COLUMNS} FROM bank_content c JOIN banks b ON b.id = c.bank_id \
         WHERE c.bank_id = ? AND c.id > ? ORDER BY c.id LIMIT ?"
    )))
    .bind(bank_id)
    .bind(after)
    .bind(limit)
    .fetch_all(pool)
    .await?;
    Ok(rows.iter().map(content_from_row).collect())
}

/// The signals of content row `content_id`, in the order they were added.
pub async fn signals_of<'e>(
    executor: impl sqlx::Executor<'e, Database = sqlx::Any>,
    content_id: i64,
) -> Result<Vec<SignalRow>> {
    let rows = sqlx::query(&crate::numbered(
        "SELECT id, signal, value, quality, salt FROM content_signals WHERE content_id = ? \
         ORDER BY id",
    ))
    .bind(content_id)
    .fetch_all(executor)
    .await?;
    Ok(rows
        .iter()
        .map(|r| SignalRow {
            id: r.get(0),
            kind: SignalKind::parse(r.get::<&str, _>(1)).unwrap_or(SignalKind::Sha256),
            value: r.get(2),
            quality: r.get::<Option<i64>, _>(3).map(|q| q.clamp(0, 255) as u8),
            salt: r.get(4),
        })
        .collect())
}

/// Add one content (enabled); returns its row id. Its signals follow with [`add_signal`].
pub async fn add_content(conn: &mut AnyConnection, c: &NewContent<'_>) -> Result<i64> {
    let id: i64 = sqlx::query_scalar(&crate::numbered(
        "INSERT INTO bank_content (id, public_id, bank_id, provenance, note, enabled, created_at, \
         created_by) VALUES ((SELECT COALESCE(MAX(id), 0) + 1 FROM bank_content), \
         ?, ?, ?, ?, 1, ?, ?) RETURNING id",
    ))
    .bind(c.public_id)
    .bind(c.bank_id)
    .bind(c.provenance)
    .bind(c.note)
    .bind(c.now)
    .bind(c.created_by)
    .fetch_one(&mut *conn)
    .await?;
    count_contents(conn, c.bank_id, 1).await?;
    Ok(id)
}

/// Keep bank `bank_id`'s count of unretracted contents (`banks.content_count`) in step with a
/// write that added `added` contents, in the same transaction (`retract` takes one off).
async fn count_contents(conn: &mut AnyConnection, bank_id: i64, added: i64) -> Result<()> {
    sqlx::query(&crate::numbered(
        "UPDATE banks SET content_count = content_count + ? WHERE id = ?",
    ))
    .bind(added)
    .bind(bank_id)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Add one salted signal to content row `content_id`; returns the signal's row id.
pub async fn add_signal(
    conn: &mut AnyConnection,
    content_id: i64,
    kind: SignalKind,
    value: &[u8],
    quality: Option<u8>,
    salt: &[u8; 16],
) -> Result<i64> {
    Ok(sqlx::query_scalar(&crate::numbered("INSERT INTO content_signals (id, content_id, signal, value, quality, salt) \
         VALUES ((SELECT COALESCE(MAX(id), 0) + 1 FROM content_signals), ?, ?, ?, ?, ?) RETURNING id",))
    .bind(content_id)
    .bind(kind.as_str())
    .bind(value)
    .bind(quality.map(i64::from))
    .bind(salt.as_slice())
    .fetch_one(&mut *conn)
    .await?)
}

/// Rows per multi-row `INSERT` of an import (7 parameters a row, far below SQLite's 32,766).
const IMPORT_ROWS_PER_STATEMENT: usize = 500;

/// Add many one-signal contents to bank `bank_id` (an import), each enabled, with the same
/// provenance, author and time. Rows get consecutive ids after the current largest (the single
/// writer's transaction makes that safe), so the caller knows every row without reading back;
/// the inserts are multi-row statements (a statement is a round trip to SQLite's thread).
///
/// On PostgreSQL (`backend`) each call is two statements whatever its size: the columns go
/// as array literals in text parameters, `unnest`ed by the server (sqlx's `Any` driver binds
/// no arrays; a multi-row `VALUES` costs PostgreSQL a parse and plan of thousands of
/// parameters per statement).
pub async fn add_imported(
    conn: &mut AnyConnection,
    backend: crate::Backend,
    bank_id: i64,
    provenance: &str,
    created_by: &str,
    now: &str,
    items: &[ImportedSignal<'_>],
) -> Result<ImportedRows> {
    let first_content: i64 = sqlx::query_scalar(&crate::numbered(
        "SELECT COALESCE(MAX(id), 0) + 1 FROM bank_content",
    ))
    .fetch_one(&mut *conn)
    .await?;
    let first_signal: i64 = sqlx::query_scalar(&crate::numbered(
        "SELECT COALESCE(MAX(id), 0) + 1 FROM content_signals",
    ))
    .fetch_one(&mut *conn)
    .await?;
    count_contents(conn, bank_id, items.len() as i64).await?;
    if backend == crate::Backend::Postgres {
        add_imported_pg(
            conn,
            bank_id,
            provenance,
            created_by,
            now,
            items,
            first_content,
            first_signal,
        )
        .await?;
        return Ok(ImportedRows {
            first_content,
            first_signal,
        });
    }
    // SQLite opens a statement journal for a multi-row statement that may abort halfway (a
    // UNIQUE or a foreign-key check), copying every page the statement changes first: at 10M
    // hashes, whose values land on random index pages, that was 16 % of an import. `OR FAIL`
    // and tables without foreign keys (migration 11) need none; a failure still fails the
    // job, which is rolled back whole.
    let written = add_imported_sqlite(
        conn,
        bank_id,
        provenance,
        created_by,
        now,
        items,
        first_content,
        first_signal,
    )
    .await;
    written?;
    Ok(ImportedRows {
        first_content,
        first_signal,
    })
}

/// [`add_imported`]'s SQLite path: multi-row `INSERT OR FAIL`s of consecutive ids.
#[allow(clippy::too_many_arguments)]
async fn add_imported_sqlite(
    conn: &mut AnyConnection,
    bank_id: i64,
    provenance: &str,
    created_by: &str,
    now: &str,
    items: &[ImportedSignal<'_>],
    first_content: i64,
    first_signal: i64,
) -> Result<()> {
    for (c, chunk) in items.chunks(IMPORT_ROWS_PER_STATEMENT).enumerate() {
        let base = (c * IMPORT_ROWS_PER_STATEMENT) as i64;
        let mut sql = String::with_capacity(120 + chunk.len() * 24);
        sql.push_str(
            "INSERT OR FAIL INTO bank_content (id, public_id, bank_id, provenance, note, enabled, \
             created_at, created_by) VALUES ",
        );
        for i in 0..chunk.len() {
            sql.push_str(if i == 0 { "" } else { ", " });
            sql.push_str("(?, ?, ?, ?, '', 1, ?, ?)");
        }
        // SQLite only (PostgreSQL took its own path above): anonymous `?`, not `numbered()`'s
        // `$n` — SQLite resolves each named parameter by a linear scan of the names, so
        // binding 3,000 of them cost 64 % of an import (`sqlite3_bind_parameter_name`).
        let mut q = sqlx::query(&sql);
        for (i, it) in chunk.iter().enumerate() {
            q = q
                .bind(first_content + base + i as i64)
                .bind(it.public_id)
                .bind(bank_id)
                .bind(provenance)
                .bind(now)
                .bind(created_by);
        }
        q.execute(&mut *conn).await?;
        let mut sql = String::with_capacity(100 + chunk.len() * 20);
        sql.push_str(
            "INSERT OR FAIL INTO content_signals (id, content_id, signal, value, quality, salt) VALUES ",
        );
        for i in 0..chunk.len() {
            sql.push_str(if i == 0 { "" } else { ", " });
            sql.push_str("(?, ?, ?, ?, NULL, ?)");
        }
        // SQLite only (PostgreSQL took its own path above): anonymous `?`, not `numbered()`'s
        // `$n` — SQLite resolves each named parameter by a linear scan of the names, so
        // binding 3,000 of them cost 64 % of an import (`sqlite3_bind_parameter_name`).
        let mut q = sqlx::query(&sql);
        for (i, it) in chunk.iter().enumerate() {
            q = q
                .bind(first_signal + base + i as i64)
                .bind(first_content + base + i as i64)
                .bind(it.kind.as_str())
                .bind(it.value)
                .bind(it.salt.as_slice());
        }
        q.execute(&mut *conn).await?;
    }
    Ok(())
}

/// [`add_imported`]'s PostgreSQL path: consecutive ids from `first_content`/`first_signal`,
/// the per-row columns as array literals.
#[allow(clippy::too_many_arguments)]
async fn add_imported_pg(
    conn: &mut AnyConnection,
    bank_id: i64,
    provenance: &str,
    created_by: &str,
    now: &str,
    items: &[ImportedSignal<'_>],
    first_content: i64,
    first_signal: i64,
) -> Result<()> {
    let public = crate::pg_array::text(items.iter().map(|it| it.public_id));
    sqlx::query(
        "INSERT INTO bank_content (id, public_id, bank_id, provenance, note, enabled, \
         created_at, created_by) \
         SELECT $1 + t.o - 1, t.p, $2, $3, '', 1, $4, $5 \
         FROM unnest($6::text::text[]) WITH ORDINALITY AS t(p, o)",
    )
    .bind(first_content)
    .bind(bank_id)
    .bind(provenance)
    .bind(now)
    .bind(created_by)
    .bind(public)
    .execute(&mut *conn)
    .await?;
    let kinds = crate::pg_array::text(items.iter().map(|it| it.kind.as_str()));
    let values = crate::pg_array::bytea(items.iter().map(|it| it.value));
    let salts = crate::pg_array::bytea(items.iter().map(|it| it.salt.as_slice()));
    sqlx::query(
        "INSERT INTO content_signals (id, content_id, signal, value, quality, salt) \
         SELECT $1 + t.o - 1, $2 + t.o - 1, t.s, t.v, NULL, t.salt \
         FROM unnest($3::text::text[], $4::text::bytea[], $5::text::bytea[]) \
         WITH ORDINALITY AS t(s, v, salt, o)",
    )
    .bind(first_signal)
    .bind(first_content)
    .bind(kinds)
    .bind(values)
    .bind(salts)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// The content `public_id` of bank `bank` as a change needs it, read inside the job.
pub async fn content_state(
    conn: &mut AnyConnection,
    bank: &str,
    public_id: &str,
) -> Result<Option<ContentState>> {
    let row = sqlx::query(&crate::numbered(
        "SELECT c.id, c.bank_id, c.enabled, c.retracted_at, c.provenance, b.category \
         FROM bank_content c JOIN banks b ON b.id = c.bank_id \
         WHERE c.public_id = ? AND b.name = ?",
    ))
    .bind(public_id)
    .bind(bank)
    .fetch_optional(&mut *conn)
    .await?;
    Ok(row.map(|r| ContentState {
        id: r.get(0),
        bank_id: r.get(1),
        enabled: r.get::<i64, _>(2) != 0,
        retracted: r.get::<Option<String>, _>(3).is_some(),
        provenance: r.get(4),
        category: r.get(5),
    }))
}

/// Retract content row `content_id` (final): disabled, with the time and the reason.
pub async fn retract(
    conn: &mut AnyConnection,
    content_id: i64,
    now: &str,
    reason: Option<&str>,
) -> Result<()> {
    // Final: a content retracted already keeps its first time and reason (and is not
    // counted off its bank twice).
    let done = sqlx::query(&crate::numbered(
        "UPDATE bank_content SET retracted_at = ?, retraction_reason = ?, enabled = 0 \
         WHERE id = ? AND retracted_at IS NULL",
    ))
    .bind(now)
    .bind(reason)
    .bind(content_id)
    .execute(&mut *conn)
    .await?;
    if done.rows_affected() == 1 {
        sqlx::query(&crate::numbered(
            "UPDATE banks SET content_count = content_count - 1 \
             WHERE id = (SELECT bank_id FROM bank_content WHERE id = ?)",
        ))
        .bind(content_id)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// Enable or disable content row `content_id`.
pub async fn set_enabled(conn: &mut AnyConnection, content_id: i64, enabled: bool) -> Result<()> {
    sqlx::query(&crate::numbered(
        "UPDATE bank_content SET enabled = ? WHERE id = ?",
    ))
    .bind(enabled as i64)
    .bind(content_id)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

// ---- What the HMA API keeps (`candor-server`'s `routes/hma`) ----

/// The content with row id `id` in bank `bank` (HMA names bank content by this integer).
pub async fn find_content_by_row(
    pool: &AnyPool,
    bank: &str,
    id: i64,
) -> Result<Option<ContentRow>> {
    let row = sqlx::query(&format!(
        "SELECT {CONTENT_COLUMNS} FROM bank_content c JOIN banks b ON b.id = c.bank_id \
         WHERE c.id = $1 AND b.name = $2"
    ))
    .bind(id)
    .bind(bank)
    .fetch_optional(pool)
    .await?;
    Ok(row.as_ref().map(content_from_row))
}

/// Set bank `id`'s HMA `matching_enabled_ratio`.
pub async fn set_matching_ratio(conn: &mut AnyConnection, id: i64, ratio: f64) -> Result<()> {
    sqlx::query("UPDATE banks SET matching_enabled_ratio = $1 WHERE id = $2")
        .bind(ratio)
        .bind(id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Set content row `content_id`'s HMA `disable_until_ts` (`None`: no timed disable).
pub async fn set_disable_until(
    conn: &mut AnyConnection,
    content_id: i64,
    until: Option<i64>,
) -> Result<()> {
    sqlx::query("UPDATE bank_content SET disable_until_ts = $1 WHERE id = $2")
        .bind(until)
        .bind(content_id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Set content row `content_id`'s note.
pub async fn set_note(conn: &mut AnyConnection, content_id: i64, note: &str) -> Result<()> {
    sqlx::query("UPDATE bank_content SET note = $1 WHERE id = $2")
        .bind(note)
        .bind(content_id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Set the user metadata (JSON text) of the content `public_id`.
pub async fn set_metadata(conn: &mut AnyConnection, public_id: &str, json: &str) -> Result<()> {
    sqlx::query("UPDATE bank_content SET metadata = $1 WHERE public_id = $2")
        .bind(json)
        .bind(public_id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// The content of a matched signal row, as an HMA lookup answers it.
#[derive(Debug, Clone, PartialEq)]
pub struct SignalContent {
    /// `content_signals` row id (the match index's key).
    pub signal_row: i64,
    /// `bank_content` row id (HMA's `bank_content_id`).
    pub content_id: i64,
    pub bank: String,
    pub matching_enabled_ratio: f64,
}

/// The contents of signal rows `rows` (those that still exist), in row order.
pub async fn contents_of_signals(pool: &AnyPool, rows: &[i64]) -> Result<Vec<SignalContent>> {
    let mut out = Vec::with_capacity(rows.len());
    // A bounded number of parameters per statement, whatever the number of matches.
    for chunk in rows.chunks(500) {
        let params: Vec<String> = (1..=chunk.len()).map(|i| format!("${i}")).collect();
        let sql = format!(
            "SELECT s.id, c.id, b.name, b.matching_enabled_ratio FROM content_signals s \
             JOIN bank_content c ON c.id = s.content_id JOIN banks b ON b.id = c.bank_id \
             WHERE s.id IN ({}) ORDER BY s.id",
            params.join(", ")
        );
        let mut q = sqlx::query(&sql);
        for r in chunk {
            q = q.bind(*r);
        }
        for r in q.fetch_all(pool).await? {
            out.push(SignalContent {
                signal_row: r.get(0),
                content_id: r.get(1),
                bank: r.get(2),
                matching_enabled_ratio: r.get(3),
            });
        }
    }
    Ok(out)
}

/// Contents disabled through the HMA API until a time that has come (`disable_until_ts` in
/// `2..=now`), still disabled and not retracted: `(bank name, public id)`, at most `limit`.
pub async fn due_enables(pool: &AnyPool, now: i64, limit: i64) -> Result<Vec<(String, String)>> {
    let rows = sqlx::query(
        "SELECT b.name, c.public_id FROM bank_content c JOIN banks b ON b.id = c.bank_id \
         WHERE c.disable_until_ts > 1 AND c.disable_until_ts <= $1 AND c.enabled = 0 \
         AND c.retracted_at IS NULL ORDER BY c.id LIMIT $2",
    )
    .bind(now)
    .bind(limit)
    .fetch_all(pool)
    .await?;
    Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
}
