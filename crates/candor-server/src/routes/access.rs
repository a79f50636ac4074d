//! Data access: every decision about an account, as one machine-readable export.

use axum::extract::{Path, State};
use axum::Json;
use serde::Serialize;
use sqlx::Row;

use crate::auth::{Caller, Role};
use crate::error::ApiResult;
use crate::routes::appeals::{appeals_of_account, Appeal};
use crate::routes::decisions::{load_decision, notices_of_account, DecisionView, NoticeView};
use crate::{now_rfc3339, AppState};

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AccountDecision {
    /// `sender` or `recipient`.
    pub role: String,
    pub decision: DecisionView,
}

/// Content of the account's that went to human review: sampled unknown content or a held
/// decision's review, its outcome, and any bank addition it led to.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AccountReviewItem {
    pub id: String,
    /// `sampled` or `held`.
    pub kind: String,
    /// The platform's content id.
    pub puid: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub surface: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decision: Option<String>,
    pub created_at: String,
    /// `open`, `confirmed` or `rejected`.
    pub status: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reviewed_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The bank the review added the content to, and whether it still matches there.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bank: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bank_content: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bank_content_retracted: Option<bool>,
    /// Log entries: the sampling (or the held decision), the review outcome, the bank addition.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_index: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub review_log_index: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bank_log_index: Option<i64>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AccountExport {
    pub account: String,
    pub generated_at: String,
    pub decisions: Vec<AccountDecision>,
    /// The account's content that went to human review, and what came of it.
    pub review_items: Vec<AccountReviewItem>,
    /// The account's notices (for an auditor, deferred ones too, with their legal basis).
    pub notices: Vec<NoticeView>,
    pub appeals: Vec<Appeal>,
    /// Decisions and review items left out because their notice to this account is deferred under a recorded
    /// legal basis (counted, so the answer never pretends to be complete when it is not;
    /// an auditor's export includes them).
    pub withheld_under_deferral: u64,
}

/// Everything decided about an account (for the platform to hand to its user, or an auditor).
#[utoipa::path(get, path = "/v1/accounts/{account}/decisions", tag = "access", params(("account" = String, Path)), responses((status = 200, body = AccountExport)), security(("bearer" = [])))]
pub async fn export(
    State(app): State<AppState>,
    caller: Caller,
    Path(account): Path<String>,
) -> ApiResult<Json<AccountExport>> {
    caller.require(&[Role::Platform, Role::Auditor])?;
    let auditor = caller.role == Role::Auditor;
    // A decision whose notice to this account is still deferred is not shown to the platform.
    let rows: Vec<(String, String, bool)> = sqlx::query_as(
        "SELECT a.decision_id, a.role, EXISTS (SELECT 1 FROM notices n WHERE n.decision_id = a.decision_id \
         AND n.account = a.account AND n.kind = 'decision' AND n.deferred_legal_basis IS NOT NULL \
         AND n.released_at IS NULL) FROM decision_accounts a WHERE a.account = ? ORDER BY a.decision_id",
    )
    .bind(&account)
    .fetch_all(app.store.reader())
    .await?;
    let mut decisions = Vec::with_capacity(rows.len());
    let mut withheld_under_deferral = 0;
    for (id, role, deferred) in rows {
        if deferred && !auditor {
            withheld_under_deferral += 1;
            continue;
        }
        decisions.push(AccountDecision {
            role,
            decision: load_decision(&app, &id).await?,
        });
    }
    let items = sqlx::query(
        "SELECT r.id, r.kind, r.puid, r.surface, r.decision_id, r.created_at, r.status, r.reviewed_at, r.reason, \
         b.name, r.bank_content, c.retracted_at IS NOT NULL, r.log_index, r.review_log_index, r.bank_log_index, \
         EXISTS (SELECT 1 FROM notices n WHERE n.review_item = r.id AND n.account = r.sender_account AND n.kind = 'sampled' \
                 AND n.deferred_legal_basis IS NOT NULL AND n.released_at IS NULL) \
         FROM review_items r LEFT JOIN bank_content c ON c.public_id = r.bank_content LEFT JOIN banks b ON b.id = c.bank_id \
         WHERE r.sender_account = ? ORDER BY r.id",
    )
    .bind(&account)
    .fetch_all(app.store.reader())
    .await?;
    let mut review_items = Vec::with_capacity(items.len());
    for r in &items {
        if r.get::<bool, _>(15) && !auditor {
            withheld_under_deferral += 1;
            continue;
        }
        let bank_content: Option<String> = r.get(10);
        review_items.push(AccountReviewItem {
            id: r.get(0),
            kind: r.get(1),
            puid: r.get(2),
            surface: r.get(3),
            decision: r.get(4),
            created_at: r.get(5),
            status: r.get(6),
            reviewed_at: r.get(7),
            reason: r.get(8),
            bank: r.get(9),
            bank_content_retracted: bank_content.as_ref().map(|_| r.get::<bool, _>(11)),
            bank_content,
            log_index: r.get(12),
            review_log_index: r.get(13),
            bank_log_index: r.get(14),
        });
    }
    let mut notices = notices_of_account(&app, &account, auditor).await?;
    // Each notice with its inclusion proof, so the whole export verifies offline.
    for n in &mut notices {
        if let Some(i) = n.log_index {
            n.proof = app.store.log_proof(i as u64).await?;
        }
    }
    let appeals = appeals_of_account(&app, &account).await?;
    Ok(Json(AccountExport {
        account,
        generated_at: now_rfc3339(),
        decisions,
        review_items,
        notices,
        appeals,
        withheld_under_deferral,
    }))
}
