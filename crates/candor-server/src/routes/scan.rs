//! Scan: what a platform calls before it delivers. Signals (or the content, hashed and
//! dropped) plus context in; one action per recipient out, with a decision, statement, notices
//! and a durable log entry for everything that is not `deliver`.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::header::CONTENT_TYPE;
use axum::Json;
use candor_log::entry::{
    Action as LogAction, DecisionEntry, EntryBody, NoticeDeferredEntry, SampledEntry,
};
use candor_policy::{Action, Category, NoticeRole, ScanContext, SignalType};
use rand::{Rng, RngCore};
use serde::{Deserialize, Serialize};

use super::check_text;
use crate::auth::{Caller, Role};
use crate::entries::append;
use crate::error::{ApiError, ApiResult};
use crate::matcher::{Found, Query};
use crate::routes::lookup::{body_bytes, upload_bytes};
use crate::signals::{hash_upload, query_from_hex, UploadSignals};
use crate::{new_id, now_rfc3339, App, AppState};

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignalsIn {
    /// PDQ hex; more than one (comma-separated) for the dihedral variants.
    pub pdq: Option<String>,
    pub md5: Option<String>,
    pub sha256: Option<String>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Deferral {
    /// The legal basis for not telling the affected people yet (recorded and logged).
    pub legal_basis: String,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ScanRequest {
    /// Surface, the platform's content id, content type, sender, recipients and/or audience.
    #[schema(value_type = Object)]
    pub context: ScanContext,
    /// The content's signals (when the body is JSON; with multipart, the `file` part instead).
    pub signals: Option<SignalsIn>,
    /// Defer the notices of this scan's decisions (only with a recorded legal basis).
    pub defer_notices: Option<Deferral>,
    /// Also tell the recipients the outcome when a review of this content (sampled or held)
    /// finishes (the sender is always told). Default false.
    #[serde(default)]
    pub review_notices_to_recipients: bool,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RecipientAction {
    pub account: String,
    pub jurisdiction: String,
    /// `deliver`, `withhold`, `block` or `hold_for_review`.
    pub action: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decision: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AudienceAction {
    pub jurisdiction: String,
    pub action: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decision: Option<String>,
}

#[derive(Debug, Serialize, Clone, utoipa::ToSchema)]
pub struct NoticeRef {
    pub id: String,
    pub account: String,
    /// `sender` or `recipient`.
    pub role: String,
    pub deferred: bool,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DecisionOut {
    pub id: String,
    pub action: String,
    pub policy: String,
    pub jurisdictions: Vec<String>,
    pub recipients: Vec<String>,
    /// The statement of reasons (DSA Art. 17 fields plus ours).
    #[schema(value_type = Object)]
    pub statement: serde_json::Value,
    /// Index of the decision's entry in the transparency log (durable before this answer).
    pub log_index: u64,
    pub notices: Vec<NoticeRef>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub review_item: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ScanResponse {
    pub matches: Vec<Found>,
    pub recipients: Vec<RecipientAction>,
    pub audience: Vec<AudienceAction>,
    pub decisions: Vec<DecisionOut>,
    /// Unknown content sampled into the review queue.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub review_item: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signals: Option<UploadSignals>,
}

pub fn enum_str<T: Serialize>(t: &T) -> String {
    match serde_json::to_value(t) {
        Ok(serde_json::Value::String(s)) => s,
        Ok(other) => other.to_string(),
        Err(_) => String::new(),
    }
}

/// Scan content before delivery: JSON (`context` + `signals`) or multipart (`context` JSON part
/// + `file`; optional `defer_notices` JSON part).
#[utoipa::path(post, path = "/v1/scan", tag = "scan", request_body = ScanRequest,
    responses((status = 200, body = ScanResponse), (status = 400), (status = 413)), security(("bearer" = [])))]
pub async fn scan(
    State(app): State<AppState>,
    caller: Caller,
    req: Request,
) -> ApiResult<Json<ScanResponse>> {
    caller.require(&[Role::Platform])?;
    let is_json = req
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    let (ctx, defer, query, upload, tell_recipients) = if is_json {
        let bytes = body_bytes(req, &app).await?;
        let r: ScanRequest = serde_json::from_slice(&bytes)
            .map_err(|e| ApiError::bad_request("invalid_json", e.to_string()))?;
        let s = r.signals.ok_or_else(|| {
            ApiError::bad_request(
                "no_signals",
                "give `signals`, or send the file as multipart",
            )
        })?;
        let q = query_from_hex(s.pdq.as_deref(), s.md5.as_deref(), s.sha256.as_deref())?;
        (
            r.context,
            r.defer_notices,
            q,
            None,
            r.review_notices_to_recipients,
        )
    } else {
        let (bytes, fields) = upload_bytes(req, &app).await?;
        let mut ctx = None;
        let mut defer = None;
        let mut tell = false;
        for (name, text) in fields {
            match name.as_str() {
                "context" => {
                    ctx = Some(serde_json::from_str::<ScanContext>(&text).map_err(|e| {
                        ApiError::bad_request("invalid_context", format!("context: {e}"))
                    })?)
                }
                "defer_notices" => {
                    defer = Some(serde_json::from_str::<Deferral>(&text).map_err(|e| {
                        ApiError::bad_request("invalid_json", format!("defer_notices: {e}"))
                    })?)
                }
                "review_notices_to_recipients" => {
                    tell = match text.trim() {
                        "true" => true,
                        "false" => false,
                        v => {
                            return Err(ApiError::bad_request(
                                "invalid_multipart",
                                format!("review_notices_to_recipients is true or false, not {v:?}"),
                            ))
                        }
                    }
                }
                other => {
                    return Err(ApiError::bad_request(
                        "invalid_multipart",
                        format!("unknown part {other:?}"),
                    ))
                }
            }
        }
        let ctx = ctx.ok_or_else(|| {
            ApiError::bad_request("invalid_context", "the form has no `context` part")
        })?;
        ctx.validate()
            .map_err(|e| ApiError::bad_request("invalid_context", e.to_string()))?;
        let up = hash_upload(
            &app,
            bytes,
            app.hash_options(app.config.match_dihedral, app.config.match_trimmed),
        )
        .await?;
        let q = up.query.clone();
        (ctx, defer, q, Some(up), tell)
    };
    ctx.validate()
        .map_err(|e| ApiError::bad_request("invalid_context", e.to_string()))?;
    if let Some(d) = &defer {
        if d.legal_basis.trim().is_empty() {
            return Err(ApiError::bad_request(
                "legal_basis_required",
                "a deferral needs a legal basis",
            ));
        }
        check_text("legal_basis", &d.legal_basis, 200)?;
    }
    let found = app.matcher.read().expect("matcher lock").find(&query);
    // An image Candor could not hash goes to the published `unhashable` rules, never silently
    // through (its exact digests were still matched).
    let unhashable = upload
        .as_ref()
        .and_then(|u| u.image_error.as_ref())
        .map(|e| {
            e.chars()
                .take(candor_policy::MAX_UNHASHABLE_REASON)
                .collect()
        });
    let response = decide(&app, ctx, defer, found, &query, tell_recipients, unhashable).await?;
    metrics::counter!("candor_scans_total").increment(1);
    Ok(Json(ScanResponse {
        signals: upload,
        ..response
    }))
}

fn to_policy_match(f: &Found) -> Option<candor_policy::Match> {
    let category: Category =
        serde_json::from_value(serde_json::Value::String(f.bank_category.clone())).ok()?;
    Some(candor_policy::Match {
        bank: f.bank.clone(),
        bank_category: category,
        content_id: f.content_id.clone(),
        signal: match f.signal {
            "pdq" => SignalType::Pdq,
            "md5" => SignalType::Md5,
            _ => SignalType::Sha256,
        },
        distance: f.distance,
        orientation: f.orientation.map(str::to_string),
        trimmed: f.trimmed,
    })
}

/// The signals kept for a review item: hashes only.
fn review_signals(q: &Query) -> serde_json::Value {
    serde_json::json!({
        "pdq": q.pdq.iter().filter(|p| !p.trimmed && p.orientation.is_none_or(|o| o == "orig")).map(|p| hex::encode(p.hash)).next(),
        "md5": q.md5.map(hex::encode),
        "sha256": q.sha256.map(hex::encode),
    })
}

/// Queue a review item: `held` (for `decision`) or `sampled`. The reviewer sees its hashes and
/// the platform's content id; whose content it is (the sender, the recipients to tell) and the
/// commitment nonce are kept for notices and data access only.
#[allow(clippy::too_many_arguments)]
async fn queue_item(
    wctx: &mut candor_store::WriteCtx,
    item: &str,
    decision: Option<&str>,
    ctx: &ScanContext,
    signals_json: &str,
    now: &str,
    notify_recipients: &Option<String>,
    nonce: &[u8],
    log_index: u64,
) -> Result<(), candor_store::StoreError> {
    sqlx::query(
        "INSERT INTO review_items (id, kind, decision_id, puid, signals, created_at, status, surface, sender_account, sender_jurisdiction, notify_recipients, nonce, log_index) \
         VALUES (?, ?, ?, ?, ?, ?, 'open', ?, ?, ?, ?, ?, ?)",
    )
    .bind(item)
    .bind(if decision.is_some() { "held" } else { "sampled" })
    .bind(decision)
    .bind(&ctx.content_id)
    .bind(signals_json)
    .bind(now)
    .bind(ctx.surface.as_str())
    .bind(&ctx.sender.account)
    .bind(&ctx.sender.jurisdiction)
    .bind(notify_recipients)
    .bind(nonce)
    .bind(log_index as i64)
    .execute(&mut wctx.conn)
    .await?;
    Ok(())
}

async fn decide(
    app: &Arc<App>,
    ctx: ScanContext,
    defer: Option<Deferral>,
    found: Vec<Found>,
    query: &Query,
    tell_recipients: bool,
    unhashable: Option<String>,
) -> ApiResult<ScanResponse> {
    let facts = candor_policy::ScanFacts {
        matches: found.iter().filter_map(to_policy_match).collect(),
        unhashable,
    };
    let now = now_rfc3339();
    let draw: f64 = rand::rng().random();
    let policies = app.policies();
    let outcome = candor_policy::evaluate_with(&policies, &ctx, &facts, &now, draw)
        .map_err(|e| ApiError::bad_request("invalid_context", e.to_string()))?;
    let ids: Vec<String> = outcome.decisions.iter().map(|_| new_id()).collect();
    let recipients = outcome
        .recipients
        .iter()
        .map(|r| RecipientAction {
            account: r.account.clone(),
            jurisdiction: r.jurisdiction.clone(),
            action: r.action.as_str().to_string(),
            decision: r.decision.map(|i| ids[i].clone()),
        })
        .collect();
    let audience = outcome
        .audience
        .iter()
        .map(|a| AudienceAction {
            jurisdiction: a.jurisdiction.clone(),
            action: a.action.as_str().to_string(),
            decision: a.decision.map(|i| ids[i].clone()),
        })
        .collect();
    if outcome.decisions.is_empty() && !outcome.sampled_for_review {
        return Ok(ScanResponse {
            matches: found,
            recipients,
            audience,
            decisions: Vec::new(),
            review_item: None,
            signals: None,
        });
    }
    let signals_json = review_signals(query).to_string();
    // Who hears a review's outcome besides the sender (only when the platform asks).
    let notify_recipients = tell_recipients.then(|| {
        serde_json::to_string(
            &ctx.recipients
                .iter()
                .map(|r| r.account.as_str())
                .collect::<Vec<_>>(),
        )
        .unwrap_or_default()
    });
    let sample_rate = policies.sampling.rate;
    let a = app.clone();
    let ids2 = ids.clone();
    let outcome2 = outcome.clone();
    let (decisions, sampled_item) = app
        .store
        .write(move |wctx| {
            Box::pin(async move {
                let mut out = Vec::new();
                for (i, d) in outcome2.decisions.iter().enumerate() {
                    let id = &ids2[i];
                    let mut nonce = [0u8; 32];
                    rand::rng().fill_bytes(&mut nonce);
                    let commitment = candor_log::commit::content_commitment(&nonce, &ctx.content_id);
                    let best = d.matches.first();
                    let log_index = append(wctx, &a, &now, EntryBody::Decision(DecisionEntry {
                        decision: id.clone(),
                        action: match d.action {
                            Action::Block => LogAction::Block,
                            Action::Withhold => LogAction::Withhold,
                            _ => LogAction::HoldForReview,
                        },
                        policy: d.policy_id.clone(),
                        surface: ctx.surface.as_str().to_string(),
                        territorial_scope: d.jurisdictions.clone(),
                        category: enum_str(&d.statement.category),
                        decision_ground: enum_str(&d.statement.decision_ground),
                        automated_detection: true,
                        automated_decision: enum_str(&d.statement.automated_decision),
                        content_type: enum_str(&ctx.content_type),
                        source_type: enum_str(&d.statement.source_type),
                        bank: best.map(|m| m.bank.clone()),
                        distance: best.map(|m| m.distance),
                        recipients: d.recipients.len() as u64,
                        content_commitment: commitment,
                        unhashable: d.statement.unhashable.is_some(),
                    }))?;
                    let review_item = (d.action == Action::HoldForReview).then(new_id);
                    sqlx::query(
                        "INSERT INTO decisions (id, created_at, puid, surface, action, policy_id, jurisdictions, statement, matches, status, decided_by, nonce, log_index, review_item) \
                         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'in_force', 'automated', ?, ?, ?)",
                    )
                    .bind(id)
                    .bind(&now)
                    .bind(&ctx.content_id)
                    .bind(ctx.surface.as_str())
                    .bind(d.action.as_str())
                    .bind(&d.policy_id)
                    .bind(serde_json::to_string(&d.jurisdictions).unwrap_or_default())
                    .bind(serde_json::to_string(&d.statement).unwrap_or_default())
                    .bind(serde_json::to_string(&d.matches).unwrap_or_default())
                    .bind(nonce.as_slice())
                    .bind(log_index as i64)
                    .bind(&review_item)
                    .execute(&mut wctx.conn)
                    .await?;
                    let mut parties = vec![(ctx.sender.account.clone(), ctx.sender.jurisdiction.clone(), NoticeRole::Sender)];
                    for acc in &d.recipients {
                        let j = ctx
                            .recipients
                            .iter()
                            .find(|r| &r.account == acc)
                            .map(|r| r.jurisdiction.clone())
                            .unwrap_or_default();
                        parties.push((acc.clone(), j, NoticeRole::Recipient));
                    }
                    let mut notices = Vec::new();
                    for (acc, j, role) in parties {
                        let role_s = if role == NoticeRole::Sender { "sender" } else { "recipient" };
                        sqlx::query("INSERT OR IGNORE INTO decision_accounts (decision_id, account, jurisdiction, role) VALUES (?, ?, ?, ?)")
                            .bind(id)
                            .bind(&acc)
                            .bind(&j)
                            .bind(role_s)
                            .execute(&mut wctx.conn)
                            .await?;
                        let nid = new_id();
                        let text = candor_policy::notice_text(d, role);
                        sqlx::query(
                            "INSERT INTO notices (id, decision_id, account, role, kind, text, created_at, deferred_legal_basis, log_index) \
                             VALUES (?, ?, ?, ?, 'decision', ?, ?, ?, ?)",
                        )
                        .bind(&nid)
                        .bind(id)
                        .bind(&acc)
                        .bind(role_s)
                        .bind(&text)
                        .bind(&now)
                        .bind(defer.as_ref().map(|d| d.legal_basis.clone()))
                        .bind(log_index as i64)
                        .execute(&mut wctx.conn)
                        .await?;
                        notices.push(NoticeRef { id: nid, account: acc, role: role_s.into(), deferred: defer.is_some() });
                    }
                    if let Some(dfr) = &defer {
                        append(wctx, &a, &now, EntryBody::NoticeDeferred(NoticeDeferredEntry {
                            decision: Some(id.clone()),
                            review_item: None,
                            legal_basis: dfr.legal_basis.clone(),
                        }))?;
                    }
                    if let Some(item) = &review_item {
                        // The item carries the decision's nonce: the review's log entry commits to
                        // the same content, so the sender opens both with one notice.
                        queue_item(wctx, item, Some(id), &ctx, &signals_json, &now, &notify_recipients, &nonce, log_index).await?;
                    }
                    out.push(DecisionOut {
                        id: id.clone(),
                        action: d.action.as_str().to_string(),
                        policy: d.policy_id.clone(),
                        jurisdictions: d.jurisdictions.clone(),
                        recipients: d.recipients.clone(),
                        statement: serde_json::to_value(&d.statement).unwrap_or_default(),
                        log_index,
                        notices,
                        review_item,
                    });
                }
                let mut sampled = None;
                if outcome2.sampled_for_review {
                    // Unknown content picked for review: logged (a commitment, no account), and
                    // the sender is told — deferred only with a recorded legal basis.
                    let item = new_id();
                    let mut nonce = [0u8; 32];
                    rand::rng().fill_bytes(&mut nonce);
                    let commitment = candor_log::commit::content_commitment(&nonce, &ctx.content_id);
                    let log_index = append(wctx, &a, &now, EntryBody::Sampled(SampledEntry {
                        review_item: item.clone(),
                        surface: ctx.surface.as_str().to_string(),
                        content_commitment: commitment,
                    }))?;
                    queue_item(wctx, &item, None, &ctx, &signals_json, &now, &notify_recipients, &nonce, log_index).await?;
                    let text = crate::texts::sampled(&ctx.content_id, ctx.surface.as_str(), sample_rate, log_index);
                    crate::routes::review::item_notice(wctx, &item, &ctx.sender.account, "sender", "sampled", &text, &now, log_index, defer.as_ref().map(|d| d.legal_basis.as_str())).await?;
                    if let Some(dfr) = &defer {
                        append(wctx, &a, &now, EntryBody::NoticeDeferred(NoticeDeferredEntry {
                            decision: None,
                            review_item: Some(item.clone()),
                            legal_basis: dfr.legal_basis.clone(),
                        }))?;
                    }
                    sampled = Some(item);
                }
                Ok((out, sampled))
            })
        })
        .await?;
    for d in &decisions {
        metrics::counter!("candor_decisions_total", "action" => d.action.clone(), "policy" => d.policy.clone()).increment(1);
    }
    Ok(ScanResponse {
        matches: found,
        recipients,
        audience,
        decisions,
        review_item: sampled_item,
        signals: None,
    })
}
