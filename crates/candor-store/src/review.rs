//! The review queue: held decisions and sampled unknown content, as hashes plus the
//! platform's content id, with whose content it is (for notices and data access only).

use sqlx::any::AnyRow;
use sqlx::Row;
use sqlx::{AnyConnection, AnyPool};

use crate::Result;

/// A review item as reviewers see it. `signals` is JSON text (hex hashes by kind).
#[derive(Debug, Clone)]
pub struct ReviewRow {
    pub id: String,
    /// `held` or `sampled`.
    pub kind: String,
    pub decision_id: Option<String>,
    pub puid: String,
    pub signals: String,
    pub created_at: String,
    /// `open`, `confirmed` or `rejected`.
    pub status: String,
    pub reviewer: Option<String>,
    pub reviewed_at: Option<String>,
    pub reason: Option<String>,
    pub bank_content: Option<String>,
    /// Higher is reviewed first in the queue by priority (the holding policy's
    /// `review_priority`; 0 for sampled content).
    pub priority: i64,
}

/// Whose content an item is: never shown to reviewers.
#[derive(Debug, Clone, Default)]
pub struct PersonRow {
    pub sender_account: Option<String>,
    /// JSON list of recipient accounts to tell of the outcome.
    pub notify_recipients: Option<String>,
    pub nonce: Option<Vec<u8>>,
}

/// An item to queue.
#[derive(Debug, Clone)]
pub struct NewItem<'a> {
    pub id: &'a str,
    /// The held decision (absent for sampled content).
    pub decision_id: Option<&'a str>,
    pub puid: &'a str,
    pub signals: &'a str,
    pub created_at: &'a str,
    pub surface: &'a str,
    pub sender_account: &'a str,
    pub sender_jurisdiction: &'a str,
    pub notify_recipients: Option<&'a str>,
    pub nonce: &'a [u8],
    pub log_index: u64,
    /// The item's review priority (higher first).
    pub priority: i64,
}

const ITEM: &str = "SELECT id, kind, decision_id, puid, signals, created_at, status, reviewer, reviewed_at, reason, bank_content, priority FROM review_items";

fn item_from_row(r: &AnyRow) -> ReviewRow {
    ReviewRow {
        id: r.get(0),
        kind: r.get(1),
        decision_id: r.get(2),
        puid: r.get(3),
        signals: r.get(4),
        created_at: r.get(5),
        status: r.get(6),
        reviewer: r.get(7),
        reviewed_at: r.get(8),
        reason: r.get(9),
        bank_content: r.get(10),
        priority: r.get(11),
    }
}

/// Queue an item (`held` when it has a decision, else `sampled`).
pub async fn queue(conn: &mut AnyConnection, i: &NewItem<'_>) -> Result<()> {
    sqlx::query(&crate::numbered("INSERT INTO review_items (id, kind, decision_id, puid, signals, created_at, status, surface, sender_account, sender_jurisdiction, notify_recipients, nonce, log_index, priority) \
         VALUES (?, ?, ?, ?, ?, ?, 'open', ?, ?, ?, ?, ?, ?, ?)",))
    .bind(i.id)
    .bind(if i.decision_id.is_some() { "held" } else { "sampled" })
    .bind(i.decision_id)
    .bind(i.puid)
    .bind(i.signals)
    .bind(i.created_at)
    .bind(i.surface)
    .bind(i.sender_account)
    .bind(i.sender_jurisdiction)
    .bind(i.notify_recipients)
    .bind(i.nonce)
    .bind(i.log_index as i64)
    .bind(i.priority)
    .execute(conn)
    .await?;
    Ok(())
}

/// Items with `status` (`all` for every one) after `cursor`, oldest first.
pub async fn list(
    pool: &AnyPool,
    status: &str,
    cursor: &str,
    limit: i64,
) -> Result<Vec<ReviewRow>> {
    let rows = sqlx::query(&crate::numbered(&format!(
        "{ITEM} WHERE (? = 'all' OR status = ?) AND id > ? ORDER BY id LIMIT ?"
    )))
    .bind(status)
    .bind(status)
    .bind(cursor)
    .bind(limit)
    .fetch_all(pool)
    .await?;
    Ok(rows.iter().map(item_from_row).collect())
}

/// Items with `status` (`all` for every one), highest priority first and oldest first within a
/// priority, after the item `after` = `(priority, id)` (the last of the previous page).
pub async fn list_by_priority(
    pool: &AnyPool,
    status: &str,
    after: Option<(i64, &str)>,
    limit: i64,
) -> Result<Vec<ReviewRow>> {
    let (p, id) = after.unwrap_or((i64::MAX, ""));
    let rows = sqlx::query(&crate::numbered(&format!(
        "{ITEM} WHERE (? = 'all' OR status = ?) AND (priority < ? OR (priority = ? AND id > ?)) \
         ORDER BY priority DESC, id LIMIT ?"
    )))
    .bind(status)
    .bind(status)
    .bind(p)
    .bind(p)
    .bind(id)
    .bind(limit)
    .fetch_all(pool)
    .await?;
    Ok(rows.iter().map(item_from_row).collect())
}

/// One item.
pub async fn get(pool: &AnyPool, id: &str) -> Result<Option<ReviewRow>> {
    let row = sqlx::query(&crate::numbered(&format!("{ITEM} WHERE id = ?")))
        .bind(id)
        .fetch_optional(pool)
        .await?;
    Ok(row.as_ref().map(item_from_row))
}

/// Whose content the item is.
pub async fn person(pool: &AnyPool, id: &str) -> Result<Option<PersonRow>> {
    type Person = (Option<String>, Option<String>, Option<Vec<u8>>);
    let row: Option<Person> = sqlx::query_as(&crate::numbered(
        "SELECT sender_account, notify_recipients, nonce FROM review_items WHERE id = ?",
    ))
    .bind(id)
    .fetch_optional(pool)
    .await?;
    Ok(
        row.map(|(sender_account, notify_recipients, nonce)| PersonRow {
            sender_account,
            notify_recipients,
            nonce,
        }),
    )
}

/// Close an open item with the reviewer's outcome (`confirmed` or `rejected`); false when it
/// was no longer open.
#[allow(clippy::too_many_arguments)]
pub async fn close(
    conn: &mut AnyConnection,
    id: &str,
    status: &str,
    reviewer: &str,
    now: &str,
    reason: &str,
    bank_content: Option<&str>,
) -> Result<bool> {
    let n = sqlx::query(&crate::numbered("UPDATE review_items SET status = ?, reviewer = ?, reviewed_at = ?, reason = ?, bank_content = ? \
         WHERE id = ? AND status = 'open'",))
    .bind(status)
    .bind(reviewer)
    .bind(now)
    .bind(reason)
    .bind(bank_content)
    .bind(id)
    .execute(conn)
    .await?
    .rows_affected();
    Ok(n > 0)
}

/// Where the review's outcome and its bank addition were logged.
pub async fn set_log_indexes(
    conn: &mut AnyConnection,
    id: &str,
    review: u64,
    bank: Option<u64>,
) -> Result<()> {
    sqlx::query(&crate::numbered(
        "UPDATE review_items SET review_log_index = ?, bank_log_index = ? WHERE id = ?",
    ))
    .bind(review as i64)
    .bind(bank.map(|i| i as i64))
    .bind(id)
    .execute(conn)
    .await?;
    Ok(())
}

/// The bank content a review item added, while it still matches: `(bank name, content id)`.
pub async fn live_addition(pool: &AnyPool, item: &str) -> Result<Option<(String, String)>> {
    Ok(sqlx::query_as(&crate::numbered("SELECT b.name, c.public_id FROM review_items r JOIN bank_content c ON c.public_id = r.bank_content \
         JOIN banks b ON b.id = c.bank_id WHERE r.id = ? AND c.retracted_at IS NULL",))
    .bind(item)
    .fetch_optional(pool)
    .await?)
}

/// The review that added bank content `content` (its public id), if one did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Addition {
    /// The review item.
    pub item: String,
    /// Who sent the content reviewed (absent for content queued without a sender).
    pub sender: Option<String>,
    /// The reviewer who added it.
    pub reviewer: Option<String>,
}

/// The review that added bank content `content` (its public id), if one did.
pub async fn addition_of_content(pool: &AnyPool, content: &str) -> Result<Option<Addition>> {
    let row: Option<(String, Option<String>, Option<String>)> = sqlx::query_as(&crate::numbered(
        "SELECT id, sender_account, reviewer FROM review_items WHERE bank_content = ? ORDER BY id LIMIT 1",
    ))
    .bind(content)
    .fetch_optional(pool)
    .await?;
    Ok(row.map(|(item, sender, reviewer)| Addition {
        item,
        sender,
        reviewer,
    }))
}

/// A person's item in their data access export.
#[derive(Debug, Clone)]
pub struct SenderItemRow {
    pub id: String,
    pub kind: String,
    pub puid: String,
    pub surface: Option<String>,
    pub decision_id: Option<String>,
    pub created_at: String,
    pub status: String,
    pub reviewed_at: Option<String>,
    pub reason: Option<String>,
    /// The bank the review added the content to.
    pub bank: Option<String>,
    pub bank_content: Option<String>,
    pub bank_content_retracted: bool,
    pub log_index: Option<i64>,
    pub review_log_index: Option<i64>,
    pub bank_log_index: Option<i64>,
    /// The sampling notice to the sender is still deferred.
    pub deferred: bool,
}

/// The items of content `account` sent, oldest first.
pub async fn of_sender(pool: &AnyPool, account: &str) -> Result<Vec<SenderItemRow>> {
    let rows = sqlx::query(&crate::numbered("SELECT r.id, r.kind, r.puid, r.surface, r.decision_id, r.created_at, r.status, r.reviewed_at, r.reason, \
         b.name, r.bank_content, CASE WHEN c.retracted_at IS NOT NULL THEN 1 ELSE 0 END, r.log_index, r.review_log_index, r.bank_log_index, \
         CASE WHEN EXISTS (SELECT 1 FROM notices n WHERE n.review_item = r.id AND n.account = r.sender_account AND n.kind = 'sampled' \
                 AND n.deferred_legal_basis IS NOT NULL AND n.released_at IS NULL) THEN 1 ELSE 0 END \
         FROM review_items r LEFT JOIN bank_content c ON c.public_id = r.bank_content LEFT JOIN banks b ON b.id = c.bank_id \
         WHERE r.sender_account = ? ORDER BY r.id",))
    .bind(account)
    .fetch_all(pool)
    .await?;
    Ok(rows
        .iter()
        .map(|r| SenderItemRow {
            id: r.get(0),
            kind: r.get(1),
            puid: r.get(2),
            surface: r.get(3),
            decision_id: r.get(4),
            created_at: r.get(5),
            status: r.get(6),
            reviewed_at: r.get(7),
            reason: r.get(8),
            bank: r.get(9),
            bank_content: r.get(10),
            bank_content_retracted: r.get::<i64, _>(11) != 0,
            log_index: r.get(12),
            review_log_index: r.get(13),
            bank_log_index: r.get(14),
            deferred: r.get::<i64, _>(15) != 0,
        })
        .collect())
}
