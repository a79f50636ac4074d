//! Appeals: of a decision, or of a review's addition of a person's content to a bank.

use sqlx::any::AnyRow;
use sqlx::Row;
use sqlx::{AnyConnection, AnyPool};

use crate::Result;

/// What an appeal is against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subject {
    Decision(String),
    /// The review item whose bank addition is appealed.
    Addition(String),
}

impl Subject {
    pub fn decision(&self) -> Option<&str> {
        match self {
            Subject::Decision(d) => Some(d),
            Subject::Addition(_) => None,
        }
    }

    pub fn review_item(&self) -> Option<&str> {
        match self {
            Subject::Addition(i) => Some(i),
            Subject::Decision(_) => None,
        }
    }
}

#[derive(Debug, Clone)]
pub struct AppealRow {
    pub id: String,
    pub decision_id: Option<String>,
    pub review_item: Option<String>,
    pub account: String,
    pub reason: String,
    pub created_at: String,
    /// `open` or `decided`.
    pub status: String,
    pub reviewer: Option<String>,
    pub decided_at: Option<String>,
    /// `upheld` or `reversed`.
    pub outcome: Option<String>,
    pub outcome_reason: Option<String>,
}

const APPEAL: &str = "SELECT id, decision_id, account, reason, created_at, status, reviewer, decided_at, outcome, outcome_reason, review_item FROM appeals";

fn appeal_from_row(r: &AnyRow) -> AppealRow {
    AppealRow {
        id: r.get(0),
        decision_id: r.get(1),
        account: r.get(2),
        reason: r.get(3),
        created_at: r.get(4),
        status: r.get(5),
        reviewer: r.get(6),
        decided_at: r.get(7),
        outcome: r.get(8),
        outcome_reason: r.get(9),
        review_item: r.get(10),
    }
}

/// One appeal.
pub async fn get(pool: &AnyPool, id: &str) -> Result<Option<AppealRow>> {
    let row = sqlx::query(&crate::numbered(&format!("{APPEAL} WHERE id = ?")))
        .bind(id)
        .fetch_optional(pool)
        .await?;
    Ok(row.as_ref().map(appeal_from_row))
}

/// The appeals an account filed, oldest first.
pub async fn of_account(pool: &AnyPool, account: &str) -> Result<Vec<AppealRow>> {
    let rows = sqlx::query(&crate::numbered(&format!(
        "{APPEAL} WHERE account = ? ORDER BY id"
    )))
    .bind(account)
    .fetch_all(pool)
    .await?;
    Ok(rows.iter().map(appeal_from_row).collect())
}

/// Appeals with `status` (`all` for every one), oldest first, at most 1,000.
pub async fn list(pool: &AnyPool, status: &str) -> Result<Vec<AppealRow>> {
    let rows = sqlx::query(&crate::numbered(&format!(
        "{APPEAL} WHERE (? = 'all' OR status = ?) ORDER BY id LIMIT 1000"
    )))
    .bind(status)
    .bind(status)
    .fetch_all(pool)
    .await?;
    Ok(rows.iter().map(appeal_from_row).collect())
}

/// The account's open appeal against `subject`, if any.
pub async fn open_for(
    conn: &mut AnyConnection,
    subject: &Subject,
    account: &str,
) -> Result<Option<String>> {
    let (column, value) = match subject {
        Subject::Decision(d) => ("decision_id", d),
        Subject::Addition(i) => ("review_item", i),
    };
    Ok(sqlx::query_scalar(&crate::numbered(&format!(
        "SELECT id FROM appeals WHERE {column} = ? AND account = ? AND status = 'open'"
    )))
    .bind(value)
    .bind(account)
    .fetch_optional(conn)
    .await?)
}

/// File an appeal.
pub async fn file(
    conn: &mut AnyConnection,
    id: &str,
    subject: &Subject,
    account: &str,
    reason: &str,
    now: &str,
) -> Result<()> {
    sqlx::query(&crate::numbered(
        "INSERT INTO appeals (id, decision_id, review_item, account, reason, created_at, status) \
         VALUES (?, ?, ?, ?, ?, ?, 'open')",
    ))
    .bind(id)
    .bind(subject.decision())
    .bind(subject.review_item())
    .bind(account)
    .bind(reason)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

/// Decide an open appeal (`upheld` or `reversed`); false when it was no longer open.
pub async fn decide(
    conn: &mut AnyConnection,
    id: &str,
    reviewer: &str,
    now: &str,
    outcome: &str,
    reason: &str,
) -> Result<bool> {
    let n = sqlx::query(&crate::numbered("UPDATE appeals SET status = 'decided', reviewer = ?, decided_at = ?, outcome = ?, outcome_reason = ? \
         WHERE id = ? AND status = 'open'",))
    .bind(reviewer)
    .bind(now)
    .bind(outcome)
    .bind(reason)
    .bind(id)
    .execute(conn)
    .await?
    .rows_affected();
    Ok(n > 0)
}
