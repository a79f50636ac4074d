//! Tokens: who may call the API. Only the SHA-256 of a secret is stored.

use sqlx::{AnyConnection, AnyPool};

use crate::Result;

/// A stored token (never its secret).
#[derive(Debug, Clone)]
pub struct TokenRow {
    pub id: String,
    pub name: String,
    /// The role's name (`admin`, `curator`, …); the server parses it.
    pub role: String,
    pub created_at: String,
    pub revoked_at: Option<String>,
}

/// A live token with the hash of its secret, for the server's token cache.
#[derive(Debug, Clone)]
pub struct LiveToken {
    pub id: String,
    pub name: String,
    pub role: String,
    pub secret_hash: Vec<u8>,
}

/// How many tokens have not been revoked.
pub async fn live_count(pool: &AnyPool) -> Result<i64> {
    Ok(sqlx::query_scalar(&crate::numbered(
        "SELECT COUNT(*) FROM tokens WHERE revoked_at IS NULL",
    ))
    .fetch_one(pool)
    .await?)
}

/// Every live token.
pub async fn live(pool: &AnyPool) -> Result<Vec<LiveToken>> {
    let rows: Vec<LiveTuple> = sqlx::query_as(&crate::numbered(
        "SELECT id, name, role, secret_hash FROM tokens WHERE revoked_at IS NULL",
    ))
    .fetch_all(pool)
    .await?;
    Ok(rows.into_iter().map(LiveToken::from).collect())
}

type LiveTuple = (String, String, String, Vec<u8>);

impl From<LiveTuple> for LiveToken {
    fn from((id, name, role, secret_hash): LiveTuple) -> LiveToken {
        LiveToken {
            id,
            name,
            role,
            secret_hash,
        }
    }
}

/// The live token whose secret hashes to `hash`.
pub async fn live_by_hash(pool: &AnyPool, hash: &[u8; 32]) -> Result<Option<LiveToken>> {
    let row: Option<LiveTuple> = sqlx::query_as(&crate::numbered("SELECT id, name, role, secret_hash FROM tokens WHERE secret_hash = ? AND revoked_at IS NULL",))
    .bind(hash.as_slice())
    .fetch_optional(pool)
    .await?;
    Ok(row.map(LiveToken::from))
}

/// Every token, oldest id first.
pub async fn list(pool: &AnyPool) -> Result<Vec<TokenRow>> {
    let rows: Vec<(String, String, String, String, Option<String>)> = sqlx::query_as(
        &crate::numbered("SELECT id, name, role, created_at, revoked_at FROM tokens ORDER BY id"),
    )
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(id, name, role, created_at, revoked_at)| TokenRow {
            id,
            name,
            role,
            created_at,
            revoked_at,
        })
        .collect())
}

/// Store a new token.
pub async fn create(
    conn: &mut AnyConnection,
    row: &TokenRow,
    secret_hash: &[u8; 32],
) -> Result<()> {
    sqlx::query(&crate::numbered(
        "INSERT INTO tokens (id, name, role, secret_hash, created_at) VALUES (?, ?, ?, ?, ?)",
    ))
    .bind(&row.id)
    .bind(&row.name)
    .bind(&row.role)
    .bind(secret_hash.as_slice())
    .bind(&row.created_at)
    .execute(conn)
    .await?;
    Ok(())
}

/// Revoke a live token; false when there is no live token `id`.
pub async fn revoke(conn: &mut AnyConnection, id: &str, now: &str) -> Result<bool> {
    let n = sqlx::query(&crate::numbered(
        "UPDATE tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL",
    ))
    .bind(now)
    .bind(id)
    .execute(conn)
    .await?
    .rows_affected();
    Ok(n > 0)
}
