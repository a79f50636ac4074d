//! Data access: every decision about an account, as one machine-readable export.

use axum::extract::{Path, State};
use axum::Json;
use serde::Serialize;

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

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AccountExport {
    pub account: String,
    pub generated_at: String,
    pub decisions: Vec<AccountDecision>,
    /// The account's notices (for an auditor, deferred ones too, with their legal basis).
    pub notices: Vec<NoticeView>,
    pub appeals: Vec<Appeal>,
    /// Decisions left out because their notice to this account is deferred under a recorded
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
    let notices = notices_of_account(&app, &account, auditor).await?;
    let appeals = appeals_of_account(&app, &account).await?;
    Ok(Json(AccountExport {
        account,
        generated_at: now_rfc3339(),
        decisions,
        notices,
        appeals,
        withheld_under_deferral,
    }))
}
