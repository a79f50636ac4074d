//! The scan flow: matches and context in; policies evaluated (pure), then every decision with
//! its statement, the accounts it affects, notices, review items and log entries in one write.

use std::sync::Arc;

use candor_log::entry::{
    Action as LogAction, DecisionEntry, EntryBody, NoticeDeferredEntry, SampledEntry,
};
use candor_policy::{Action, Category, NoticeRole, ScanContext, SignalType};
use rand::{Rng, RngCore};
use serde::{Deserialize, Serialize};

use crate::entries::append;
use crate::error::{ApiError, ApiResult};
use crate::matcher::{Found, Query, Screened};
use crate::signals::UploadSignals;
use crate::{new_id, now_rfc3339, App};

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Deferral {
    /// The legal basis for not telling the affected people yet (recorded and logged).
    pub legal_basis: String,
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
    /// The matches the policies decided on (none when a negative bank matched).
    pub matches: Vec<Found>,
    /// Matches in negative banks (allowlists): when there are any, every other match was
    /// suppressed (`suppressed`) and no policy acted on it.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub allowlisted: Vec<Found>,
    /// Matches a negative-bank match suppressed.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub suppressed: Vec<Found>,
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
            "sha1" => SignalType::Sha1,
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
        "sha1": q.sha1.map(hex::encode),
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
    priority: u32,
) -> Result<(), candor_store::StoreError> {
    candor_store::review::queue(
        &mut wctx.conn,
        &candor_store::review::NewItem {
            id: item,
            decision_id: decision,
            puid: &ctx.content_id,
            signals: signals_json,
            created_at: now,
            surface: ctx.surface.as_str(),
            sender_account: &ctx.sender.account,
            sender_jurisdiction: &ctx.sender.jurisdiction,
            notify_recipients: notify_recipients.as_deref(),
            nonce,
            log_index,
            priority: i64::from(priority),
        },
    )
    .await
}

/// What a statement says when a negative bank suppressed matches: the negative banks and the
/// suppressed matches (bank, distance, signal), so no suppression is silent.
fn suppression_note(s: &Screened) -> serde_json::Value {
    let brief =
        |f: &Found| serde_json::json!({"bank": f.bank, "signal": f.signal, "distance": f.distance});
    serde_json::json!({
        "allowlisted": s.allowlisted.iter().map(brief).collect::<Vec<_>>(),
        "suppressed": s.suppressed.iter().map(brief).collect::<Vec<_>>(),
    })
}

/// Policies over the matches left after negative banks ([`Screened`]): decisions with
/// statements, notices, review items and log entries, all in one write; `deliver` with no
/// decision writes nothing. Content a negative bank matched is known, so it is never sampled
/// as unknown content; a decision still taken (an `unhashable` rule) records the suppression
/// in its statement (`negative_bank_suppression`).
#[allow(clippy::too_many_arguments)]
pub async fn decide(
    app: &Arc<App>,
    ctx: ScanContext,
    defer: Option<Deferral>,
    screened: Screened,
    query: &Query,
    tell_recipients: bool,
    unhashable: Option<String>,
) -> ApiResult<ScanResponse> {
    let Screened {
        matches: found,
        allowlisted,
        suppressed,
    } = screened;
    let suppression = (!allowlisted.is_empty()).then(|| {
        suppression_note(&Screened {
            matches: Vec::new(),
            allowlisted: allowlisted.clone(),
            suppressed: suppressed.clone(),
        })
    });
    if !suppressed.is_empty() {
        metrics::counter!("candor_suppressed_matches_total").increment(suppressed.len() as u64);
    }
    let facts = candor_policy::ScanFacts {
        matches: found.iter().filter_map(to_policy_match).collect(),
        unhashable,
    };
    let now = now_rfc3339();
    // A draw of 1.0 never samples (the rate is below 1 or sampling takes `draw < rate`).
    let draw: f64 = if suppression.is_some() {
        1.0
    } else {
        rand::rng().random()
    };
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
            allowlisted,
            suppressed,
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
    // The review priority of what each decision holds: its policy's.
    let priorities: Vec<u32> = outcome
        .decisions
        .iter()
        .map(|d| {
            policies
                .policies
                .iter()
                .find(|p| p.id == d.policy_id)
                .map_or(candor_policy::DEFAULT_REVIEW_PRIORITY, |p| {
                    p.review_priority()
                })
        })
        .collect();
    let a = app.clone();
    let ids2 = ids.clone();
    let outcome2 = outcome.clone();
    let suppression2 = suppression.clone();
    let (decisions, sampled_item) = app
        .store
        .write(move |wctx| {
            Box::pin(async move {
                let mut out = Vec::new();
                for (i, d) in outcome2.decisions.iter().enumerate() {
                    let id = &ids2[i];
                    let mut nonce = [0u8; 32];
                    rand::rng().fill_bytes(&mut nonce);
                    let commitment =
                        candor_log::commit::content_commitment(&nonce, &ctx.content_id);
                    let best = d.matches.first();
                    let log_index = append(
                        wctx,
                        &a,
                        &now,
                        EntryBody::Decision(DecisionEntry {
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
                        }),
                    )?;
                    let review_item = (d.action == Action::HoldForReview).then(new_id);
                    let mut statement = serde_json::to_value(&d.statement).unwrap_or_default();
                    if let (Some(note), Some(obj)) = (&suppression2, statement.as_object_mut()) {
                        obj.insert("negative_bank_suppression".into(), note.clone());
                    }
                    candor_store::decisions::record(
                        &mut wctx.conn,
                        &candor_store::decisions::NewDecision {
                            id,
                            created_at: &now,
                            puid: &ctx.content_id,
                            surface: ctx.surface.as_str(),
                            action: d.action.as_str(),
                            policy_id: &d.policy_id,
                            jurisdictions: &serde_json::to_string(&d.jurisdictions)
                                .unwrap_or_default(),
                            statement: &statement.to_string(),
                            matches: &serde_json::to_string(&d.matches).unwrap_or_default(),
                            nonce: nonce.as_slice(),
                            log_index,
                            review_item: review_item.as_deref(),
                        },
                    )
                    .await?;
                    let mut parties = vec![(
                        ctx.sender.account.clone(),
                        ctx.sender.jurisdiction.clone(),
                        NoticeRole::Sender,
                    )];
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
                        let role_s = if role == NoticeRole::Sender {
                            "sender"
                        } else {
                            "recipient"
                        };
                        candor_store::decisions::add_account(&mut wctx.conn, id, &acc, &j, role_s)
                            .await?;
                        let nid = new_id();
                        let text = candor_policy::notice_text(d, role);
                        candor_store::decisions::add_notice(
                            &mut wctx.conn,
                            &candor_store::decisions::NewNotice {
                                id: &nid,
                                decision_id: Some(id),
                                review_item: None,
                                account: &acc,
                                role: role_s,
                                kind: "decision",
                                text: &text,
                                created_at: &now,
                                deferred_legal_basis: defer
                                    .as_ref()
                                    .map(|d| d.legal_basis.as_str()),
                                log_index,
                            },
                        )
                        .await?;
                        notices.push(NoticeRef {
                            id: nid,
                            account: acc,
                            role: role_s.into(),
                            deferred: defer.is_some(),
                        });
                    }
                    if let Some(dfr) = &defer {
                        append(
                            wctx,
                            &a,
                            &now,
                            EntryBody::NoticeDeferred(NoticeDeferredEntry {
                                decision: Some(id.clone()),
                                review_item: None,
                                legal_basis: dfr.legal_basis.clone(),
                            }),
                        )?;
                    }
                    if let Some(item) = &review_item {
                        // The item carries the decision's nonce: the review's log entry commits to
                        // the same content, so the sender opens both with one notice. Its
                        // priority is the holding policy's.
                        queue_item(
                            wctx,
                            item,
                            Some(id),
                            &ctx,
                            &signals_json,
                            &now,
                            &notify_recipients,
                            &nonce,
                            log_index,
                            priorities[i],
                        )
                        .await?;
                    }
                    out.push(DecisionOut {
                        id: id.clone(),
                        action: d.action.as_str().to_string(),
                        policy: d.policy_id.clone(),
                        jurisdictions: d.jurisdictions.clone(),
                        recipients: d.recipients.clone(),
                        statement,
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
                    let commitment =
                        candor_log::commit::content_commitment(&nonce, &ctx.content_id);
                    let log_index = append(
                        wctx,
                        &a,
                        &now,
                        EntryBody::Sampled(SampledEntry {
                            review_item: item.clone(),
                            surface: ctx.surface.as_str().to_string(),
                            content_commitment: commitment,
                        }),
                    )?;
                    queue_item(
                        wctx,
                        &item,
                        None,
                        &ctx,
                        &signals_json,
                        &now,
                        &notify_recipients,
                        &nonce,
                        log_index,
                        0,
                    )
                    .await?;
                    let text = crate::texts::sampled(
                        &ctx.content_id,
                        ctx.surface.as_str(),
                        sample_rate,
                        log_index,
                    );
                    crate::flows::review::item_notice(
                        wctx,
                        &item,
                        &ctx.sender.account,
                        "sender",
                        "sampled",
                        &text,
                        &now,
                        log_index,
                        defer.as_ref().map(|d| d.legal_basis.as_str()),
                    )
                    .await?;
                    if let Some(dfr) = &defer {
                        append(
                            wctx,
                            &a,
                            &now,
                            EntryBody::NoticeDeferred(NoticeDeferredEntry {
                                decision: None,
                                review_item: Some(item.clone()),
                                legal_basis: dfr.legal_basis.clone(),
                            }),
                        )?;
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
        allowlisted,
        suppressed,
        recipients,
        audience,
        decisions,
        review_item: sampled_item,
        signals: None,
    })
}
