//! What was sent to the EU DSA Transparency Database, and what is still to send.

use sqlx::{AnyConnection, AnyPool};

use crate::Result;

/// A decision whose statement has not been sent: `(decision id, created_at, statement JSON)`.
#[derive(Debug, Clone)]
pub struct Unsent {
    pub decision_id: String,
    pub created_at: String,
    pub statement: String,
}

/// Decisions not yet sent (with `all`, every decision), oldest first, after `cursor` (a
/// decision id), at most `limit`.
pub async fn unsent(pool: &AnyPool, cursor: &str, limit: i64, all: bool) -> Result<Vec<Unsent>> {
    let rows: Vec<(String, String, String)> = sqlx::query_as(&crate::numbered("SELECT d.id, d.created_at, d.statement FROM decisions d \
         WHERE d.id > ? AND (? OR NOT EXISTS (SELECT 1 FROM dsa_submissions s WHERE s.decision_id = d.id)) \
         ORDER BY d.id LIMIT ?",))
    .bind(cursor)
    .bind(all)
    .bind(limit)
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(decision_id, created_at, statement)| Unsent {
            decision_id,
            created_at,
            statement,
        })
        .collect())
}

/// Record that these `(decision id, puid)` are in the database (`how`: `created` or
/// `existing`). Recording one twice keeps the first record.
pub async fn record_sent(
    conn: &mut AnyConnection,
    sent: &[(String, String)],
    at: &str,
    how: &str,
) -> Result<()> {
    for (decision, puid) in sent {
        sqlx::query(&crate::numbered("INSERT INTO dsa_submissions (decision_id, puid, submitted_at, how) VALUES (?, ?, ?, ?) \
             ON CONFLICT(decision_id) DO NOTHING",))
        .bind(decision)
        .bind(puid)
        .bind(at)
        .bind(how)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// How many statements were sent, by `how`.
pub async fn sent_counts(pool: &AnyPool) -> Result<Vec<(String, i64)>> {
    Ok(sqlx::query_as(&crate::numbered(
        "SELECT how, COUNT(*) FROM dsa_submissions GROUP BY how ORDER BY how",
    ))
    .fetch_all(pool)
    .await?)
}
