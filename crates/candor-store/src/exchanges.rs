//! The exchanges room: each exchange's stored state (checkpoint, last fetch, counts), the
//! exchanges created through the API (`exchange_configs`: name, kind, bank, options, interval,
//! HMA's `enabled`) and the per-kind credentials set through it (`exchange_credentials`, read
//! only by the sync flow), the source ids of bank contents (`source_items`), plus the look-ups
//! a source's deletions and re-sent records need (a bank's live contents carrying a signal
//! value). Writes take a job's connection, so a page's bank changes and the checkpoint that
//! follows them commit together.

use candor_log::entry::SignalKind;
use sqlx::{AnyConnection, Row};

use crate::Result;

/// An exchange's stored state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExchangeRow {
    pub name: String,
    pub kind: String,
    pub bank_id: i64,
    /// The source's cursor (kind-specific text; empty: from the beginning).
    pub checkpoint: String,
    pub last_fetch_at: Option<String>,
    pub last_success_at: Option<String>,
    pub last_error: Option<String>,
    pub fetched: i64,
    pub added: i64,
    pub retracted: i64,
    pub skipped: i64,
}

const COLUMNS: &str =
    "name, kind, bank_id, checkpoint, last_fetch_at, last_success_at, last_error, \
                       fetched, added, retracted, skipped";

fn row(r: &sqlx::any::AnyRow) -> ExchangeRow {
    ExchangeRow {
        name: r.get(0),
        kind: r.get(1),
        bank_id: r.get(2),
        checkpoint: r.get(3),
        last_fetch_at: r.get(4),
        last_success_at: r.get(5),
        last_error: r.get(6),
        fetched: r.get(7),
        added: r.get(8),
        retracted: r.get(9),
        skipped: r.get(10),
    }
}

/// The state of exchange `name`.
pub async fn get<'e, E>(conn: E, name: &str) -> Result<Option<ExchangeRow>>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    let sql = crate::numbered(&format!("SELECT {COLUMNS} FROM exchanges WHERE name = ?"));
    Ok(sqlx::query(&sql)
        .bind(name)
        .fetch_optional(conn)
        .await?
        .as_ref()
        .map(row))
}

/// Every exchange's state, by name.
pub async fn list<'e, E>(conn: E) -> Result<Vec<ExchangeRow>>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    let sql = format!("SELECT {COLUMNS} FROM exchanges ORDER BY name");
    Ok(sqlx::query(&sql)
        .fetch_all(conn)
        .await?
        .iter()
        .map(row)
        .collect())
}

/// The state of `name` for `kind` and bank `bank_id`, created (from the beginning) when it does
/// not exist; an exchange now pointed at another bank or kind starts again from the beginning.
pub async fn ensure(
    conn: &mut AnyConnection,
    name: &str,
    kind: &str,
    bank_id: i64,
) -> Result<ExchangeRow> {
    if let Some(r) = get(&mut *conn, name).await? {
        if r.bank_id == bank_id && r.kind == kind {
            return Ok(r);
        }
        sqlx::query(&crate::numbered("DELETE FROM exchanges WHERE name = ?"))
            .bind(name)
            .execute(&mut *conn)
            .await?;
    }
    sqlx::query(&crate::numbered(
        "INSERT INTO exchanges (name, kind, bank_id, checkpoint, fetched, added, retracted, skipped) \
         VALUES (?, ?, ?, '', 0, 0, 0, 0)",
    ))
    .bind(name)
    .bind(kind)
    .bind(bank_id)
    .execute(&mut *conn)
    .await?;
    Ok(get(&mut *conn, name).await?.expect("just inserted"))
}

/// What one applied page adds to an exchange's state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PageCounts {
    pub fetched: i64,
    pub added: i64,
    pub retracted: i64,
    pub skipped: i64,
}

/// Record an applied page: the new checkpoint and counts, a successful fetch at `now`.
pub async fn record_page(
    conn: &mut AnyConnection,
    name: &str,
    after: &str,
    checkpoint: &str,
    c: PageCounts,
    now: &str,
) -> Result<bool> {
    // Compare and set: the page was fetched after `after`; when the stored checkpoint is no
    // longer that, another process or node synced this exchange meanwhile and this page must
    // not be applied over its work (the caller fails the job: nothing of the page is written).
    let done = sqlx::query(&crate::numbered(
        "UPDATE exchanges SET checkpoint = ?, fetched = fetched + ?, added = added + ?, \
         retracted = retracted + ?, skipped = skipped + ?, last_fetch_at = ?, last_success_at = ?, \
         last_error = NULL WHERE name = ? AND checkpoint = ?",
    ))
    .bind(checkpoint)
    .bind(c.fetched)
    .bind(c.added)
    .bind(c.retracted)
    .bind(c.skipped)
    .bind(now)
    .bind(now)
    .bind(name)
    .bind(after)
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Record a failed fetch (the checkpoint stays where the last applied page left it).
pub async fn record_error(
    conn: &mut AnyConnection,
    name: &str,
    error: &str,
    now: &str,
) -> Result<()> {
    sqlx::query(&crate::numbered(
        "UPDATE exchanges SET last_fetch_at = ?, last_error = ? WHERE name = ?",
    ))
    .bind(now)
    .bind(error)
    .bind(name)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Remember the source key of bank content rows (`(key, content row id)`).
pub async fn add_source_items(
    conn: &mut AnyConnection,
    bank_id: i64,
    items: &[(String, i64)],
) -> Result<()> {
    for chunk in items.chunks(300) {
        let values = vec!["(?, ?, ?)"; chunk.len()].join(", ");
        let sql = crate::numbered(&format!(
            "INSERT INTO source_items (bank_id, source_key, content_id) VALUES {values} \
             ON CONFLICT DO NOTHING"
        ));
        let mut q = sqlx::query(&sql);
        for (key, content) in chunk {
            q = q.bind(bank_id).bind(key.as_str()).bind(*content);
        }
        q.execute(&mut *conn).await?;
    }
    Ok(())
}

/// Public ids of the unretracted contents of bank `bank_id` imported with source key `key`.
pub async fn contents_of_source(
    conn: &mut AnyConnection,
    bank_id: i64,
    key: &str,
) -> Result<Vec<String>> {
    Ok(sqlx::query_scalar(&crate::numbered(
        "SELECT c.public_id FROM source_items i JOIN bank_content c ON c.id = i.content_id \
         WHERE i.bank_id = ? AND i.source_key = ? AND c.retracted_at IS NULL ORDER BY c.id",
    ))
    .bind(bank_id)
    .bind(key)
    .fetch_all(&mut *conn)
    .await?)
}

/// Public ids of the unretracted contents of bank `bank_id` that carry signal `kind` = `value`.
pub async fn contents_with_signal(
    conn: &mut AnyConnection,
    bank_id: i64,
    kind: SignalKind,
    value: &[u8],
) -> Result<Vec<String>> {
    Ok(sqlx::query_scalar(&crate::numbered(
        "SELECT c.public_id FROM content_signals s JOIN bank_content c ON c.id = s.content_id \
         WHERE substr(s.value, 1, 8) = substr(?, 1, 8) AND s.value = ? AND s.signal = ? \
         AND c.bank_id = ? AND c.retracted_at IS NULL ORDER BY c.id",
    ))
    .bind(value)
    .bind(value)
    .bind(kind.as_str())
    .bind(bank_id)
    .fetch_all(&mut *conn)
    .await?)
}

/// The unretracted contents of bank `bank_id` imported with source key `key`, each with its
/// signals: `(public id, signal, value)` (what an entry re-sent with other fingerprints
/// replaces).
pub async fn source_signals(
    conn: &mut AnyConnection,
    bank_id: i64,
    key: &str,
) -> Result<Vec<(String, String, Vec<u8>)>> {
    let rows = sqlx::query(&crate::numbered(
        "SELECT c.public_id, s.signal, s.value FROM source_items i \
         JOIN bank_content c ON c.id = i.content_id \
         JOIN content_signals s ON s.content_id = c.id \
         WHERE i.bank_id = ? AND i.source_key = ? AND c.retracted_at IS NULL ORDER BY c.id",
    ))
    .bind(bank_id)
    .bind(key)
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect())
}

/// An exchange created through the API (not in the config file).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredExchange {
    pub name: String,
    pub kind: String,
    pub bank: String,
    /// The kind-specific options, a JSON object (`url`, `privacy_group`, `page_size`).
    pub options: String,
    pub interval_secs: i64,
    /// HMA's fetching flag: a disabled exchange is not synced.
    pub enabled: bool,
    pub created_at: String,
    pub updated_at: String,
}

const CONFIG_COLUMNS: &str =
    "name, kind, bank, options, interval_secs, enabled, created_at, updated_at";

fn config_row(r: &sqlx::any::AnyRow) -> StoredExchange {
    StoredExchange {
        name: r.get(0),
        kind: r.get(1),
        bank: r.get(2),
        options: r.get(3),
        interval_secs: r.get(4),
        enabled: r.get::<i64, _>(5) != 0,
        created_at: r.get(6),
        updated_at: r.get(7),
    }
}

/// Store exchange `e`; false (nothing written) when one by its name is stored already.
pub async fn create_config(conn: &mut AnyConnection, e: &StoredExchange) -> Result<bool> {
    let done = sqlx::query(&crate::numbered(&format!(
        "INSERT INTO exchange_configs ({CONFIG_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?) \
         ON CONFLICT DO NOTHING"
    )))
    .bind(e.name.as_str())
    .bind(e.kind.as_str())
    .bind(e.bank.as_str())
    .bind(e.options.as_str())
    .bind(e.interval_secs)
    .bind(i64::from(e.enabled))
    .bind(e.created_at.as_str())
    .bind(e.updated_at.as_str())
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// The stored exchange `name`.
pub async fn get_config<'e, E>(conn: E, name: &str) -> Result<Option<StoredExchange>>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    let sql = crate::numbered(&format!(
        "SELECT {CONFIG_COLUMNS} FROM exchange_configs WHERE name = ?"
    ));
    Ok(sqlx::query(&sql)
        .bind(name)
        .fetch_optional(conn)
        .await?
        .as_ref()
        .map(config_row))
}

/// Every stored exchange, by name.
pub async fn list_configs<'e, E>(conn: E) -> Result<Vec<StoredExchange>>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    let sql = format!("SELECT {CONFIG_COLUMNS} FROM exchange_configs ORDER BY name");
    Ok(sqlx::query(&sql)
        .fetch_all(conn)
        .await?
        .iter()
        .map(config_row)
        .collect())
}

/// Turn fetching of stored exchange `name` on or off; false when there is none.
pub async fn set_config_enabled(
    conn: &mut AnyConnection,
    name: &str,
    enabled: bool,
    now: &str,
) -> Result<bool> {
    let done = sqlx::query(&crate::numbered(
        "UPDATE exchange_configs SET enabled = ?, updated_at = ? WHERE name = ?",
    ))
    .bind(i64::from(enabled))
    .bind(now)
    .bind(name)
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Remove stored exchange `name` and its sync state; false when there is none.
pub async fn delete_config(conn: &mut AnyConnection, name: &str) -> Result<bool> {
    let done = sqlx::query(&crate::numbered(
        "DELETE FROM exchange_configs WHERE name = ?",
    ))
    .bind(name)
    .execute(&mut *conn)
    .await?;
    sqlx::query(&crate::numbered("DELETE FROM exchanges WHERE name = ?"))
        .bind(name)
        .execute(&mut *conn)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// Set the credentials of exchange kind `kind` (a JSON object by credential name), or remove
/// them (`None`).
pub async fn set_credentials(
    conn: &mut AnyConnection,
    kind: &str,
    credentials: Option<&str>,
    now: &str,
) -> Result<()> {
    match credentials {
        None => {
            sqlx::query(&crate::numbered(
                "DELETE FROM exchange_credentials WHERE kind = ?",
            ))
            .bind(kind)
            .execute(&mut *conn)
            .await?;
        }
        Some(c) => {
            sqlx::query(&crate::numbered(
                "INSERT INTO exchange_credentials (kind, credentials, updated_at) VALUES (?, ?, ?) \
                 ON CONFLICT (kind) DO UPDATE SET credentials = excluded.credentials, \
                 updated_at = excluded.updated_at",
            ))
            .bind(kind)
            .bind(c)
            .bind(now)
            .execute(&mut *conn)
            .await?;
        }
    }
    Ok(())
}

/// The stored credentials of exchange kind `kind` (a JSON object), if any.
pub async fn credentials<'e, E>(conn: E, kind: &str) -> Result<Option<String>>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    Ok(sqlx::query_scalar(&crate::numbered(
        "SELECT credentials FROM exchange_credentials WHERE kind = ?",
    ))
    .bind(kind)
    .fetch_optional(conn)
    .await?)
}
