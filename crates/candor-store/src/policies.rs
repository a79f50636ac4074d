//! The published policy set: policies in order (canonical JSON) and the sampling settings.

use sqlx::{AnyConnection, AnyPool};

use crate::Result;

/// The stored set: each policy's canonical JSON in order, and the sampling settings' JSON.
#[derive(Debug, Clone, Default)]
pub struct StoredSet {
    pub policies: Vec<String>,
    pub sampling: Option<String>,
}

/// The set last published (empty when none ever was).
pub async fn load(pool: &AnyPool) -> Result<StoredSet> {
    let rows: Vec<(String,)> = sqlx::query_as(&crate::numbered(
        "SELECT body FROM policies ORDER BY position",
    ))
    .fetch_all(pool)
    .await?;
    Ok(StoredSet {
        policies: rows.into_iter().map(|(b,)| b).collect(),
        sampling: sampling(&mut *pool.acquire().await?).await?,
    })
}

/// The stored sampling settings (inside a write, to compare with the new ones).
pub async fn sampling(conn: &mut AnyConnection) -> Result<Option<String>> {
    Ok(sqlx::query_scalar(&crate::numbered(
        "SELECT value FROM settings WHERE key = 'sampling'",
    ))
    .fetch_optional(conn)
    .await?)
}

/// Replace the whole set: `policies` are `(id, canonical JSON)` in order.
pub async fn replace(
    conn: &mut AnyConnection,
    policies: &[(String, String)],
    sampling: &str,
    now: &str,
) -> Result<()> {
    sqlx::query(&crate::numbered("DELETE FROM policies"))
        .execute(&mut *conn)
        .await?;
    for (pos, (id, body)) in policies.iter().enumerate() {
        sqlx::query(&crate::numbered(
            "INSERT INTO policies (id, position, body, updated_at) VALUES (?, ?, ?, ?)",
        ))
        .bind(id)
        .bind(pos as i64)
        .bind(body)
        .bind(now)
        .execute(&mut *conn)
        .await?;
    }
    sqlx::query(&crate::numbered(
        "INSERT INTO settings (key, value) VALUES ('sampling', ?) \
         ON CONFLICT(key) DO UPDATE SET value = excluded.value",
    ))
    .bind(sampling)
    .execute(&mut *conn)
    .await?;
    Ok(())
}
