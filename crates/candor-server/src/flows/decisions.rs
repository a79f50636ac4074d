//! What was decided and what each person is told, as the API shows it: read by the decision
//! and notice routes, the data access export and the appeal flow.

use candor_store::decisions::NoticeRow;
use serde::Serialize;

use crate::error::{ApiError, ApiResult};
use crate::App;

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DecisionView {
    pub id: String,
    pub created_at: String,
    /// The platform's content id.
    pub puid: String,
    pub surface: String,
    pub action: String,
    pub policy: String,
    pub jurisdictions: Vec<String>,
    #[schema(value_type = Object)]
    pub statement: serde_json::Value,
    #[schema(value_type = Object)]
    pub matches: serde_json::Value,
    /// `in_force`, `confirmed` (by review), `lifted` (review rejected the hold), `reversed` (appeal).
    pub status: String,
    /// `automated` or the reviewer who confirmed it.
    pub decided_by: String,
    pub log_index: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub review_item: Option<String>,
}

pub async fn load_decision(app: &App, id: &str) -> ApiResult<DecisionView> {
    let r = candor_store::decisions::get(app.store.reader(), id)
        .await?
        .ok_or_else(|| ApiError::not_found("decision_not_found", format!("no decision {id:?}")))?;
    Ok(view(r))
}

/// The decisions about one content (the platform's content id), newest first.
pub async fn decisions_of_content(
    app: &App,
    puid: &str,
    limit: i64,
) -> ApiResult<Vec<DecisionView>> {
    let rows = candor_store::decisions::of_content(app.store.reader(), puid, limit).await?;
    Ok(rows.into_iter().map(view).collect())
}

fn view(r: candor_store::decisions::DecisionRow) -> DecisionView {
    DecisionView {
        jurisdictions: serde_json::from_str(&r.jurisdictions).unwrap_or_default(),
        statement: serde_json::from_str(&r.statement).unwrap_or_default(),
        matches: serde_json::from_str(&r.matches).unwrap_or_default(),
        id: r.id,
        created_at: r.created_at,
        puid: r.puid,
        surface: r.surface,
        action: r.action,
        policy: r.policy_id,
        status: r.status,
        decided_by: r.decided_by,
        log_index: r.log_index,
        review_item: r.review_item,
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct NoticeView {
    pub id: String,
    /// The decision the notice is about (absent for a notice about a review item).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decision: Option<String>,
    /// The review item the notice is about: the person's content sampled into review, the
    /// review's outcome, or its addition to a bank (absent for a notice about a decision).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub review_item: Option<String>,
    pub account: String,
    /// `sender`, `recipient` or `appellant`.
    pub role: String,
    /// `decision` (the first notice), `outcome` (review or appeal result of a decision),
    /// `sampled` (unknown content picked for human review), `review_outcome` (the review of
    /// sampled content), `bank_addition` (a review added the content to a bank),
    /// `appeal_outcome` (the appeal of a bank addition) or `bank_retraction` (a reversed
    /// appeal of a decision retracted the bank content a review had added from this person's
    /// content).
    pub kind: String,
    /// The statement in plain words.
    pub text: String,
    pub created_at: String,
    /// Set while the notice is deferred: the recorded legal basis.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deferred_legal_basis: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub released_at: Option<String>,
    /// The log entry this notice is about (the decision, the sampling, the review outcome or
    /// the bank addition).
    pub log_index: Option<i64>,
    /// Opens the entry's `content_commitment`: SHA-256 commitment to `puid` with this nonce.
    pub content_nonce: String,
    pub puid: String,
    /// How to appeal.
    pub appeal: String,
    /// Where the inclusion proof (c2sp tlog-proof file) is fetched.
    pub proof_url: String,
    /// The proof itself (in `GET /v1/notices/{id}`): the entry, its inclusion proof and the
    /// signed checkpoint, checked offline with `candor log verify-proof FILE --key KEY`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub proof: Option<String>,
}

fn notice_from_row(r: NoticeRow) -> NoticeView {
    let (id, decision, review_item) = (r.id, r.decision_id, r.review_item);
    let appeal = match (&decision, &review_item) {
        (Some(d), _) => format!(
            "Ask the platform to appeal for you, or it calls POST /v1/appeals with {{\"decision\": \"{d}\", \"account\": <your account>, \"reason\": ...}}. \
             A reviewer who did not take this decision will decide."
        ),
        (None, Some(item)) => format!(
            "If a review added your content to a bank, you can contest the addition: ask the platform to appeal for you, or it calls POST /v1/appeals with \
             {{\"review_item\": \"{item}\", \"account\": <your account>, \"reason\": ...}}. A reviewer who did not review it will decide; a successful \
             appeal removes the content from the bank."
        ),
        (None, None) => String::new(),
    };
    NoticeView {
        proof_url: format!("/v1/notices/{id}/proof"),
        appeal,
        id,
        decision,
        review_item,
        account: r.account,
        role: r.role,
        kind: r.kind,
        text: r.text,
        created_at: r.created_at,
        deferred_legal_basis: r.deferred_legal_basis,
        released_at: r.released_at,
        log_index: r.log_index,
        content_nonce: hex::encode(r.nonce.unwrap_or_default()),
        puid: r.puid.unwrap_or_default(),
        proof: None,
    }
}

pub async fn notices_of_account(
    app: &App,
    account: &str,
    include_deferred: bool,
) -> ApiResult<Vec<NoticeView>> {
    let rows =
        candor_store::decisions::notices_of_account(app.store.reader(), account, include_deferred)
            .await?;
    Ok(rows.into_iter().map(notice_from_row).collect())
}

/// The notices about a decision as each person received them (404 when there is no such
/// decision); deferred ones only with `include_deferred`.
pub async fn notices_of_decision(
    app: &App,
    decision: &str,
    include_deferred: bool,
) -> ApiResult<Vec<NoticeView>> {
    load_decision(app, decision).await?;
    let rows = candor_store::decisions::notices_of_decision(
        app.store.reader(),
        decision,
        include_deferred,
    )
    .await?;
    Ok(rows.into_iter().map(notice_from_row).collect())
}

pub async fn load_notice(app: &App, id: &str) -> ApiResult<NoticeView> {
    let r = candor_store::decisions::notice(app.store.reader(), id)
        .await?
        .ok_or_else(|| ApiError::not_found("notice_not_found", format!("no notice {id:?}")))?;
    Ok(notice_from_row(r))
}
