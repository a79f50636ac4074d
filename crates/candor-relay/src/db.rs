//! The relay's own storage (SQLite, apart from Candor's): accounts, conversations, messages,
//! attachments until they are delivered, per-recipient delivery states, and each account's
//! inbox of events (the long-poll feed).

use sqlx::sqlite::{SqliteConnectOptions, SqlitePool, SqlitePoolOptions};
use sqlx::Row;
use std::path::Path;
use std::str::FromStr;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS accounts (name TEXT PRIMARY KEY, jurisdiction TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS conversations (id INTEGER PRIMARY KEY, kind TEXT NOT NULL, name TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS members (conversation INTEGER NOT NULL, account TEXT NOT NULL,
  PRIMARY KEY (conversation, account));
CREATE TABLE IF NOT EXISTS messages (id INTEGER PRIMARY KEY, conversation INTEGER NOT NULL,
  sender TEXT NOT NULL, created_at TEXT NOT NULL, text TEXT, file_name TEXT, file_type TEXT,
  file_size INTEGER, check_status TEXT NOT NULL, check_error TEXT, candor_answer TEXT);
CREATE TABLE IF NOT EXISTS attachments (message INTEGER PRIMARY KEY, bytes BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS deliveries (message INTEGER NOT NULL, account TEXT NOT NULL,
  state TEXT NOT NULL, decision TEXT, policy TEXT, PRIMARY KEY (message, account));
CREATE TABLE IF NOT EXISTS events (id INTEGER PRIMARY KEY, account TEXT NOT NULL, body TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS events_account ON events (account, id);
CREATE TABLE IF NOT EXISTS seen_notices (id TEXT PRIMARY KEY, account TEXT NOT NULL);
";

pub async fn open(path: &Path) -> Result<SqlitePool, sqlx::Error> {
    let opts = SqliteConnectOptions::from_str(&format!("sqlite://{}", path.display()))?
        .create_if_missing(true)
        .journal_mode(sqlx::sqlite::SqliteJournalMode::Wal);
    let pool = SqlitePoolOptions::new()
        .max_connections(4)
        .connect_with(opts)
        .await?;
    sqlx::raw_sql(SCHEMA).execute(&pool).await?;
    Ok(pool)
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct Account {
    pub name: String,
    pub jurisdiction: String,
}

pub async fn account(pool: &SqlitePool, name: &str) -> Result<Option<Account>, sqlx::Error> {
    Ok(
        sqlx::query("SELECT name, jurisdiction FROM accounts WHERE name = ?")
            .bind(name)
            .fetch_optional(pool)
            .await?
            .map(|r| Account {
                name: r.get(0),
                jurisdiction: r.get(1),
            }),
    )
}

pub async fn accounts(pool: &SqlitePool) -> Result<Vec<Account>, sqlx::Error> {
    Ok(
        sqlx::query("SELECT name, jurisdiction FROM accounts ORDER BY name")
            .fetch_all(pool)
            .await?
            .into_iter()
            .map(|r| Account {
                name: r.get(0),
                jurisdiction: r.get(1),
            })
            .collect(),
    )
}

pub async fn members(pool: &SqlitePool, conversation: i64) -> Result<Vec<Account>, sqlx::Error> {
    Ok(sqlx::query(
        "SELECT a.name, a.jurisdiction FROM members m JOIN accounts a ON a.name = m.account \
         WHERE m.conversation = ? ORDER BY a.name",
    )
    .bind(conversation)
    .fetch_all(pool)
    .await?
    .into_iter()
    .map(|r| Account {
        name: r.get(0),
        jurisdiction: r.get(1),
    })
    .collect())
}

pub async fn conversation_kind(
    pool: &SqlitePool,
    id: i64,
) -> Result<Option<(String, String)>, sqlx::Error> {
    Ok(
        sqlx::query("SELECT kind, name FROM conversations WHERE id = ?")
            .bind(id)
            .fetch_optional(pool)
            .await?
            .map(|r| (r.get(0), r.get(1))),
    )
}

/// Append an event to an account's inbox; its id is the inbox cursor.
pub async fn push_event(
    pool: &SqlitePool,
    account: &str,
    body: &serde_json::Value,
) -> Result<i64, sqlx::Error> {
    let r = sqlx::query("INSERT INTO events (account, body) VALUES (?, ?)")
        .bind(account)
        .bind(body.to_string())
        .execute(pool)
        .await?;
    Ok(r.last_insert_rowid())
}

pub async fn events_after(
    pool: &SqlitePool,
    account: &str,
    after: i64,
) -> Result<Vec<serde_json::Value>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT id, body FROM events WHERE account = ? AND id > ? ORDER BY id LIMIT 500",
    )
    .bind(account)
    .bind(after)
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| {
            let id: i64 = r.get(0);
            let body: String = r.get(1);
            let mut v: serde_json::Value =
                serde_json::from_str(&body).unwrap_or(serde_json::Value::Null);
            if let Some(o) = v.as_object_mut() {
                o.insert("event".into(), id.into());
            }
            v
        })
        .collect())
}

/// Drop an attachment's bytes once no recipient is still waiting for it (every one has
/// downloaded it, or it was refused at source).
pub async fn drop_if_done(pool: &SqlitePool, message: i64) -> Result<bool, sqlx::Error> {
    let waiting: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM deliveries WHERE message = ? AND state NOT IN ('delivered', 'blocked')",
    )
    .bind(message)
    .fetch_one(pool)
    .await?;
    if waiting == 0 {
        sqlx::query("DELETE FROM attachments WHERE message = ?")
            .bind(message)
            .execute(pool)
            .await?;
        return Ok(true);
    }
    Ok(false)
}
