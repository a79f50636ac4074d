//! Decisions, the accounts they affect, and notices (about a decision or a review item).

use sqlx::any::AnyRow;
use sqlx::Row;
use sqlx::{AnyConnection, AnyPool};

use crate::Result;

/// A stored decision. `jurisdictions`, `statement` and `matches` are JSON text.
#[derive(Debug, Clone)]
pub struct DecisionRow {
    pub id: String,
    pub created_at: String,
    pub puid: String,
    pub surface: String,
    pub action: String,
    pub policy_id: String,
    pub jurisdictions: String,
    pub statement: String,
    pub matches: String,
    /// `in_force`, `confirmed`, `lifted` or `reversed`.
    pub status: String,
    pub decided_by: String,
    pub log_index: Option<i64>,
    pub review_item: Option<String>,
}

/// A decision to record (status `in_force`, decided by `automated`).
#[derive(Debug, Clone)]
pub struct NewDecision<'a> {
    pub id: &'a str,
    pub created_at: &'a str,
    pub puid: &'a str,
    pub surface: &'a str,
    pub action: &'a str,
    pub policy_id: &'a str,
    pub jurisdictions: &'a str,
    pub statement: &'a str,
    pub matches: &'a str,
    /// The content commitment's nonce.
    pub nonce: &'a [u8],
    pub log_index: u64,
    pub review_item: Option<&'a str>,
}

const DECISION: &str =
    "SELECT id, created_at, puid, surface, action, policy_id, jurisdictions, statement, matches, \
     status, decided_by, log_index, review_item FROM decisions";

fn decision_from_row(r: &AnyRow) -> DecisionRow {
    DecisionRow {
        id: r.get(0),
        created_at: r.get(1),
        puid: r.get(2),
        surface: r.get(3),
        action: r.get(4),
        policy_id: r.get(5),
        jurisdictions: r.get(6),
        statement: r.get(7),
        matches: r.get(8),
        status: r.get(9),
        decided_by: r.get(10),
        log_index: r.get(11),
        review_item: r.get(12),
    }
}

/// One decision.
pub async fn get(pool: &AnyPool, id: &str) -> Result<Option<DecisionRow>> {
    let row = sqlx::query(&crate::numbered(&format!("{DECISION} WHERE id = ?")))
        .bind(id)
        .fetch_optional(pool)
        .await?;
    Ok(row.as_ref().map(decision_from_row))
}

/// The decisions about one content (the platform's content id), newest first, at most `limit`.
pub async fn of_content(pool: &AnyPool, puid: &str, limit: i64) -> Result<Vec<DecisionRow>> {
    let rows = sqlx::query(&crate::numbered(&format!(
        "{DECISION} WHERE puid = ? ORDER BY created_at DESC, id DESC LIMIT ?"
    )))
    .bind(puid)
    .bind(limit)
    .fetch_all(pool)
    .await?;
    Ok(rows.iter().map(decision_from_row).collect())
}

/// Record a decision.
pub async fn record(conn: &mut AnyConnection, d: &NewDecision<'_>) -> Result<()> {
    sqlx::query(&crate::numbered("INSERT INTO decisions (id, created_at, puid, surface, action, policy_id, jurisdictions, statement, matches, status, decided_by, nonce, log_index, review_item) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'in_force', 'automated', ?, ?, ?)",))
    .bind(d.id)
    .bind(d.created_at)
    .bind(d.puid)
    .bind(d.surface)
    .bind(d.action)
    .bind(d.policy_id)
    .bind(d.jurisdictions)
    .bind(d.statement)
    .bind(d.matches)
    .bind(d.nonce)
    .bind(d.log_index as i64)
    .bind(d.review_item)
    .execute(conn)
    .await?;
    Ok(())
}

/// Name an account the decision affects (`sender` or `recipient`); recorded once.
pub async fn add_account(
    conn: &mut AnyConnection,
    decision: &str,
    account: &str,
    jurisdiction: &str,
    role: &str,
) -> Result<()> {
    sqlx::query(&crate::numbered("INSERT INTO decision_accounts (decision_id, account, jurisdiction, role) VALUES (?, ?, ?, ?) \
         ON CONFLICT DO NOTHING",))
    .bind(decision)
    .bind(account)
    .bind(jurisdiction)
    .bind(role)
    .execute(conn)
    .await?;
    Ok(())
}

/// Whether the decision affects `account`.
pub async fn affects(pool: &AnyPool, decision: &str, account: &str) -> Result<bool> {
    let hit: Option<i64> = sqlx::query_scalar(&crate::numbered(
        "SELECT 1 FROM decision_accounts WHERE decision_id = ? AND account = ?",
    ))
    .bind(decision)
    .bind(account)
    .fetch_optional(pool)
    .await?;
    Ok(hit.is_some())
}

/// A review closed a held decision: `confirmed` (a person now stands behind it) or `lifted`.
/// Only a decision still in force changes.
pub async fn close_review(
    conn: &mut AnyConnection,
    id: &str,
    status: &str,
    by: &str,
) -> Result<()> {
    sqlx::query(&crate::numbered(
        "UPDATE decisions SET status = ?, decided_by = ? WHERE id = ? AND status = 'in_force'",
    ))
    .bind(status)
    .bind(by)
    .bind(id)
    .execute(conn)
    .await?;
    Ok(())
}

/// An appeal reversed the decision.
pub async fn reverse(conn: &mut AnyConnection, id: &str) -> Result<()> {
    sqlx::query(&crate::numbered(
        "UPDATE decisions SET status = 'reversed' WHERE id = ?",
    ))
    .bind(id)
    .execute(conn)
    .await?;
    Ok(())
}

/// The decisions about an account: `(decision id, role, its notice to the account is still
/// deferred)`, oldest first.
pub async fn of_account(pool: &AnyPool, account: &str) -> Result<Vec<(String, String, bool)>> {
    let rows: Vec<(String, String, i64)> = sqlx::query_as(&crate::numbered("SELECT a.decision_id, a.role, CASE WHEN EXISTS (SELECT 1 FROM notices n WHERE n.decision_id = a.decision_id \
         AND n.account = a.account AND n.kind = 'decision' AND n.deferred_legal_basis IS NOT NULL \
         AND n.released_at IS NULL) THEN 1 ELSE 0 END FROM decision_accounts a WHERE a.account = ? ORDER BY a.decision_id",))
    .bind(account)
    .fetch_all(pool)
    .await?;
    Ok(rows.into_iter().map(|(d, r, x)| (d, r, x != 0)).collect())
}

/// A stored notice with what opens its log entry's content commitment (the decision's or the
/// review item's nonce and content id).
#[derive(Debug, Clone)]
pub struct NoticeRow {
    pub id: String,
    pub decision_id: Option<String>,
    pub review_item: Option<String>,
    pub account: String,
    pub role: String,
    pub kind: String,
    pub text: String,
    pub created_at: String,
    pub deferred_legal_basis: Option<String>,
    pub released_at: Option<String>,
    pub log_index: Option<i64>,
    pub nonce: Option<Vec<u8>>,
    pub puid: Option<String>,
}

/// A notice to store.
#[derive(Debug, Clone)]
pub struct NewNotice<'a> {
    pub id: &'a str,
    pub decision_id: Option<&'a str>,
    pub review_item: Option<&'a str>,
    pub account: &'a str,
    /// `sender`, `recipient` or `appellant`.
    pub role: &'a str,
    pub kind: &'a str,
    pub text: &'a str,
    pub created_at: &'a str,
    pub deferred_legal_basis: Option<&'a str>,
    pub log_index: u64,
}

const NOTICE: &str = "SELECT n.id, n.decision_id, n.account, n.role, n.kind, n.text, n.created_at, n.deferred_legal_basis, n.released_at, n.log_index, \
     COALESCE(d.nonce, r.nonce), COALESCE(d.puid, r.puid), n.review_item \
     FROM notices n LEFT JOIN decisions d ON d.id = n.decision_id LEFT JOIN review_items r ON r.id = n.review_item";

fn notice_from_row(r: &AnyRow) -> NoticeRow {
    NoticeRow {
        id: r.get(0),
        decision_id: r.get(1),
        account: r.get(2),
        role: r.get(3),
        kind: r.get(4),
        text: r.get(5),
        created_at: r.get(6),
        deferred_legal_basis: r.get(7),
        released_at: r.get(8),
        log_index: r.get(9),
        nonce: r.get(10),
        puid: r.get(11),
        review_item: r.get(12),
    }
}

/// Store a notice.
pub async fn add_notice(conn: &mut AnyConnection, n: &NewNotice<'_>) -> Result<()> {
    sqlx::query(&crate::numbered("INSERT INTO notices (id, decision_id, review_item, account, role, kind, text, created_at, deferred_legal_basis, log_index) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",))
    .bind(n.id)
    .bind(n.decision_id)
    .bind(n.review_item)
    .bind(n.account)
    .bind(n.role)
    .bind(n.kind)
    .bind(n.text)
    .bind(n.created_at)
    .bind(n.deferred_legal_basis)
    .bind(n.log_index as i64)
    .execute(conn)
    .await?;
    Ok(())
}

/// Everyone the decision's first notices went to: `(account, role)`.
pub async fn notified(conn: &mut AnyConnection, decision: &str) -> Result<Vec<(String, String)>> {
    Ok(sqlx::query_as(&crate::numbered(
        "SELECT account, role FROM notices WHERE decision_id = ? AND kind = 'decision'",
    ))
    .bind(decision)
    .fetch_all(conn)
    .await?)
}

/// One notice.
pub async fn notice(pool: &AnyPool, id: &str) -> Result<Option<NoticeRow>> {
    let row = sqlx::query(&crate::numbered(&format!("{NOTICE} WHERE n.id = ?")))
        .bind(id)
        .fetch_optional(pool)
        .await?;
    Ok(row.as_ref().map(notice_from_row))
}

/// The notices to an account, oldest first; deferred ones only with `include_deferred`.
pub async fn notices_of_account(
    pool: &AnyPool,
    account: &str,
    include_deferred: bool,
) -> Result<Vec<NoticeRow>> {
    let rows = sqlx::query(&crate::numbered(&format!(
        "{NOTICE} WHERE n.account = ? AND (? OR n.deferred_legal_basis IS NULL OR n.released_at IS NOT NULL) ORDER BY n.id"
    )))
    .bind(account)
    .bind(include_deferred)
    .fetch_all(pool)
    .await?;
    Ok(rows.iter().map(notice_from_row).collect())
}

/// The notices about decision `decision` (first notices and outcomes), oldest first; deferred
/// ones only with `include_deferred`.
pub async fn notices_of_decision(
    pool: &AnyPool,
    decision: &str,
    include_deferred: bool,
) -> Result<Vec<NoticeRow>> {
    let rows = sqlx::query(&crate::numbered(&format!(
        "{NOTICE} WHERE n.decision_id = ? AND (? OR n.deferred_legal_basis IS NULL OR n.released_at IS NOT NULL) ORDER BY n.id"
    )))
    .bind(decision)
    .bind(include_deferred)
    .fetch_all(pool)
    .await?;
    Ok(rows.iter().map(notice_from_row).collect())
}

/// Release a deferred notice; false when `id` is not a notice still deferred.
pub async fn release_notice(conn: &mut AnyConnection, id: &str, now: &str) -> Result<bool> {
    let n = sqlx::query(&crate::numbered("UPDATE notices SET released_at = ? WHERE id = ? AND deferred_legal_basis IS NOT NULL AND released_at IS NULL",))
    .bind(now)
    .bind(id)
    .execute(conn)
    .await?
    .rows_affected();
    Ok(n > 0)
}
