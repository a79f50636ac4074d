//! The appeal flow, one for both subjects: a decision, or a review's addition of a person's
//! content to a bank. The affected person (through the platform) files; a reviewer who did not
//! take the decision (or review the item) decides; a reversal undoes the effects — the decision
//! is reversed and bank content the review added stops matching at once.

use std::sync::Arc;

use candor_log::entry::{AppealEntry, AppealOutcome, AppealOutcomeEntry, ContentOp, EntryBody};
use candor_store::appeals::{AppealRow, Subject};
use candor_store::StoreError::Rejected;
use serde::Serialize;

use crate::auth::Caller;
use crate::entries::append;
use crate::error::{ApiError, ApiResult};
use crate::flows::banks::change_content_in;
use crate::flows::decisions::load_decision;
use crate::flows::review::{item_notice, load_item, load_person, outcome_notices};
use crate::{new_id, now_rfc3339, App};

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Appeal {
    pub id: String,
    /// The decision appealed (absent for an appeal against a bank addition).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decision: Option<String>,
    /// The review item whose bank addition is appealed (absent for an appeal of a decision).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub review_item: Option<String>,
    pub account: String,
    pub reason: String,
    pub created_at: String,
    /// `open` or `decided`.
    pub status: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reviewer: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decided_at: Option<String>,
    /// `upheld` or `reversed`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub outcome: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub outcome_reason: Option<String>,
    /// The appeal's log entry.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_index: Option<u64>,
    /// Bank content the reversal retracted because the decision matched it (in the answer to
    /// a decide with `retract_matched`; each retraction is its own log entry).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub retracted: Vec<RetractedContent>,
}

/// A bank content an appeal's reversal retracted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct RetractedContent {
    pub bank: String,
    pub content_id: String,
}

fn appeal_from_row(r: AppealRow) -> Appeal {
    Appeal {
        id: r.id,
        decision: r.decision_id,
        review_item: r.review_item,
        account: r.account,
        reason: r.reason,
        created_at: r.created_at,
        status: r.status,
        reviewer: r.reviewer,
        decided_at: r.decided_at,
        outcome: r.outcome,
        outcome_reason: r.outcome_reason,
        log_index: None,
        retracted: Vec::new(),
    }
}

pub async fn load_appeal(app: &App, id: &str) -> ApiResult<Appeal> {
    let r = candor_store::appeals::get(app.store.reader(), id)
        .await?
        .ok_or_else(|| ApiError::not_found("appeal_not_found", format!("no appeal {id:?}")))?;
    Ok(appeal_from_row(r))
}

pub async fn appeals_of_account(app: &App, account: &str) -> ApiResult<Vec<Appeal>> {
    let rows = candor_store::appeals::of_account(app.store.reader(), account).await?;
    Ok(rows.into_iter().map(appeal_from_row).collect())
}

/// Appeals with `status` (`open`, `decided` or `all`), oldest first.
pub async fn list_appeals(app: &App, status: &str) -> ApiResult<Vec<Appeal>> {
    let rows = candor_store::appeals::list(app.store.reader(), status).await?;
    Ok(rows.into_iter().map(appeal_from_row).collect())
}

/// The bank content a review item added, while it still matches: (bank name, content id).
pub async fn live_addition(app: &App, item: &str) -> ApiResult<Option<(String, String)>> {
    Ok(candor_store::review::live_addition(app.store.reader(), item).await?)
}

/// File an appeal for `account` against `subject`: only an affected account may, once at a
/// time, while there is something to appeal. Logged; the answer carries the entry's index.
pub async fn file(
    app: &Arc<App>,
    subject: Subject,
    account: String,
    reason: String,
) -> ApiResult<Appeal> {
    match &subject {
        Subject::Decision(decision) => {
            let d = load_decision(app, decision).await?;
            if !candor_store::decisions::affects(app.store.reader(), decision, &account).await? {
                return Err(ApiError::forbidden(
                    "only an account the decision affects can appeal it",
                ));
            }
            if d.status == "reversed" || d.status == "lifted" {
                return Err(ApiError::conflict(
                    "not_in_force",
                    format!("the decision is {}", d.status),
                ));
            }
        }
        Subject::Addition(item) => {
            load_item(app, item).await?;
            let person = load_person(app, item).await?;
            if person.sender.as_deref() != Some(account.as_str()) {
                return Err(ApiError::forbidden(
                    "only the account whose content the review added to a bank can appeal the addition",
                ));
            }
            if live_addition(app, item).await?.is_none() {
                return Err(ApiError::conflict(
                    "nothing_to_appeal",
                    "this review added nothing to a bank that still matches",
                ));
            }
        }
    }
    let id = new_id();
    let now = now_rfc3339();
    let st = app.clone();
    let id2 = id.clone();
    let index = app
        .store
        .write(move |ctx| {
            Box::pin(async move {
                if let Some(o) =
                    candor_store::appeals::open_for(&mut ctx.conn, &subject, &account).await?
                {
                    let what = match subject {
                        Subject::Decision(_) => "this decision and account",
                        Subject::Addition(_) => "this addition",
                    };
                    return Err(Rejected(format!("appeal {o} is already open for {what}")));
                }
                candor_store::appeals::file(&mut ctx.conn, &id2, &subject, &account, &reason, &now)
                    .await?;
                append(
                    ctx,
                    &st,
                    &now,
                    EntryBody::Appeal(AppealEntry {
                        appeal: id2.clone(),
                        decision: subject.decision().map(str::to_string),
                        review_item: subject.review_item().map(str::to_string),
                    }),
                )
            })
        })
        .await?;
    let mut out = load_appeal(app, &id).await?;
    out.log_index = Some(index);
    Ok(out)
}

/// Decide an open appeal. The reviewer must not be the one who took the decision (or
/// confirmed its review, or reviewed the item whose addition is appealed). A reversal
/// reverses the decision and retracts bank content the review added; everyone the decision
/// told (or the appellant of an addition) is told the outcome.
///
/// With `retract_matched` (only for reversing an appeal of a decision) the reversal also
/// retracts every still-live bank content the decision matched: the reviewer found the bank
/// wrong, not only the decision. Each retraction is logged like any other; whoever's content a
/// review had added to the bank is told it was removed.
pub async fn decide(
    app: &Arc<App>,
    caller: &Caller,
    id: &str,
    outcome: AppealOutcome,
    reason: String,
    retract_matched: bool,
) -> ApiResult<Appeal> {
    let appeal = load_appeal(app, id).await?;
    if appeal.status != "open" {
        return Err(ApiError::conflict(
            "already_decided",
            format!("appeal {id:?} is {}", appeal.status),
        ));
    }
    let who = caller.who();
    if retract_matched && (outcome != AppealOutcome::Reversed || appeal.decision.is_none()) {
        return Err(ApiError::bad_request(
            "invalid_retract_matched",
            "retract_matched goes with reversing an appeal of a decision",
        ));
    }
    let mut matched: Vec<(String, String)> = Vec::new();
    let (subject, item, maker) = match (&appeal.decision, &appeal.review_item) {
        (Some(d), _) => {
            let d = load_decision(app, d).await?;
            matched = matched_contents(&d.matches);
            (Subject::Decision(d.id), d.review_item, Some(d.decided_by))
        }
        (None, Some(item)) => (Subject::Addition(item.clone()), Some(item.clone()), None),
        (None, None) => return Err(ApiError::internal("appeal without a subject")),
    };
    // Who took it: the decision's maker, whoever reviewed the item behind it, and whoever
    // added to a bank by review the content the decision matched.
    let reviewer = match &item {
        Some(i) => load_item(app, i).await?.reviewer,
        None => None,
    };
    let mut added_by = Vec::new();
    for (_, content) in &matched {
        added_by.push(
            candor_store::review::addition_of_content(app.store.reader(), content)
                .await
                .map_err(ApiError::from)?,
        );
    }
    let banked_it = added_by
        .iter()
        .flatten()
        .any(|a| a.reviewer.as_deref() == Some(who.as_str()));
    let took_it = [maker.as_deref(), reviewer.as_deref()].contains(&Some(who.as_str()));
    if took_it || banked_it {
        return Err(ApiError::forbidden(match subject {
            Subject::Decision(_) if banked_it => {
                "you added the content this decision matched to its bank: another reviewer must decide the appeal"
            }
            Subject::Decision(_) => {
                "you took this decision: another reviewer must decide the appeal"
            }
            Subject::Addition(_) => {
                "you reviewed this item: another reviewer must decide the appeal"
            }
        }));
    }
    let addition = match &item {
        Some(i) => live_addition(app, i).await?,
        None => None,
    };
    let bank_name = addition
        .as_ref()
        .map(|a| a.0.clone())
        .unwrap_or_else(|| "(already retracted)".into());
    // What the reversal retracts besides the review's own addition: the matched contents (each
    // once, by `matched_contents`) with the review that banked each, if any.
    let to_retract: Vec<((String, String), Option<candor_store::review::Addition>)> =
        if retract_matched {
            matched.into_iter().zip(added_by).collect()
        } else {
            Vec::new()
        };
    let now = now_rfc3339();
    let st = app.clone();
    let (id2, appellant) = (id.to_string(), appeal.account.clone());
    let retracted = app
        .store
        .write(move |ctx| {
            Box::pin(async move {
                let reversed = outcome == AppealOutcome::Reversed;
                let outcome_s = if reversed { "reversed" } else { "upheld" };
                if !candor_store::appeals::decide(&mut ctx.conn, &id2, &who, &now, outcome_s, &reason).await? {
                    return Err(Rejected(format!("appeal {id2:?} was decided meanwhile")));
                }
                if reversed {
                    if let Subject::Decision(d) = &subject {
                        candor_store::decisions::reverse(&mut ctx.conn, d).await?;
                    }
                    // Undo the effects: content a review added to a bank stops matching.
                    if let Some((bank, content)) = &addition {
                        let what = if subject.decision().is_some() { "decision" } else { "addition" };
                        change_content_in(ctx, &st, bank, content, ContentOp::Retract, Some(format!("appeal {id2} reversed the {what}")), &now).await?;
                    }
                }
                // The matched contents the reviewer retracts with the decision (the review's own
                // addition is already retracted above).
                let mut retracted = Vec::new();
                for ((bank, content), added) in to_retract {
                    if addition.as_ref().is_some_and(|a| a.1 == content) {
                        continue;
                    }
                    let live = candor_store::banks::content_state(&mut ctx.conn, &bank, &content).await?;
                    if live.is_none_or(|c| c.retracted) {
                        continue;
                    }
                    let why = format!("appeal {id2} reversed decision {}: the matched content is retracted", subject.decision().unwrap_or_default());
                    change_content_in(ctx, &st, &bank, &content, ContentOp::Retract, Some(why), &now).await?;
                    retracted.push((bank, content, added));
                }
                let entry = append(ctx, &st, &now, EntryBody::AppealOutcome(AppealOutcomeEntry {
                    appeal: id2.clone(),
                    decision: subject.decision().map(str::to_string),
                    review_item: subject.review_item().map(str::to_string),
                    outcome,
                }))?;
                match &subject {
                    Subject::Decision(d) => {
                        let text = if reversed {
                            format!("Your appeal was successful: the decision was reversed. Reasons: {reason}")
                        } else {
                            format!("Your appeal was reviewed and the decision was upheld. Reasons: {reason}")
                        };
                        outcome_notices(ctx, d, &text, &now, entry).await?;
                    }
                    Subject::Addition(item) => {
                        let text = crate::texts::addition_appeal_outcome(reversed, &bank_name, &reason);
                        item_notice(ctx, item, &appellant, "appellant", "appeal_outcome", &text, &now, entry, None).await?;
                    }
                }
                for (bank, _, added) in &retracted {
                    if let Some(candor_store::review::Addition { item, sender: Some(sender), .. }) = added {
                        let text = crate::texts::retracted_after_appeal(bank, &reason);
                        item_notice(ctx, item, sender, "sender", "bank_retraction", &text, &now, entry, None).await?;
                    }
                }
                Ok(retracted)
            })
        })
        .await?;
    let mut out = load_appeal(app, id).await?;
    out.retracted = retracted
        .into_iter()
        .map(|(bank, content_id, _)| RetractedContent { bank, content_id })
        .collect();
    Ok(out)
}

/// The `(bank, content id)` pairs a decision's stored matches name, in order, each once.
fn matched_contents(matches: &serde_json::Value) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for m in matches.as_array().into_iter().flatten() {
        if let (Some(b), Some(c)) = (m["bank"].as_str(), m["content_id"].as_str()) {
            let pair = (b.to_string(), c.to_string());
            if !out.contains(&pair) {
                out.push(pair);
            }
        }
    }
    out
}
