//! Data access: every decision about an account, as one machine-readable export.

use axum::extract::{Path, State};
use axum::Json;
use serde::Serialize;

use crate::auth::{Caller, Role};
use crate::error::ApiResult;
use crate::flows::appeals::{appeals_of_account, Appeal};
use crate::flows::decisions::{load_decision, notices_of_account, DecisionView, NoticeView};
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
    let rows = candor_store::decisions::of_account(app.store.reader(), &account).await?;
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
    let items = candor_store::review::of_sender(app.store.reader(), &account).await?;
    let mut review_items = Vec::with_capacity(items.len());
    for r in items {
        if r.deferred && !auditor {
            withheld_under_deferral += 1;
            continue;
        }
        review_items.push(AccountReviewItem {
            bank_content_retracted: r.bank_content.as_ref().map(|_| r.bank_content_retracted),
            id: r.id,
            kind: r.kind,
            puid: r.puid,
            surface: r.surface,
            decision: r.decision_id,
            created_at: r.created_at,
            status: r.status,
            reviewed_at: r.reviewed_at,
            reason: r.reason,
            bank: r.bank,
            bank_content: r.bank_content,
            log_index: r.log_index,
            review_log_index: r.review_log_index,
            bank_log_index: r.bank_log_index,
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
