//! `evaluate`: matches plus scan context to per-recipient actions and decisions.

use crate::date;
use crate::model::{
    check_unhashable, severity, Action, Match, ScanContext, ScanFacts, SignalType, Trigger,
};
use crate::policy::{Policy, PolicySet};
use crate::statement::{build_statement, Basis, Statement};
use crate::Error;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// The action for one named recipient.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecipientOutcome {
    /// The recipient's account id.
    pub account: String,
    /// The recipient's jurisdiction.
    pub jurisdiction: String,
    /// What happens for this recipient.
    pub action: Action,
    /// Index into [`Outcome::decisions`]; `None` exactly when `action` is `deliver`.
    pub decision: Option<usize>,
}

/// The action for everyone in one audience jurisdiction.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AudienceOutcome {
    /// The jurisdiction.
    pub jurisdiction: String,
    /// What happens there.
    pub action: Action,
    /// Index into [`Outcome::decisions`]; `None` exactly when `action` is `deliver`.
    pub decision: Option<usize>,
}

/// One (action, policy) pair that is not `deliver`, with everything it affects.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Decision {
    /// Never `deliver`. The effective action: `withhold` when a `block` policy acts on content
    /// shared from outside its jurisdictions (see [`effective_action`]).
    pub action: Action,
    /// The policy that decided.
    pub policy_id: String,
    /// Its name (for notices).
    pub policy_name: String,
    /// Territorial scope: the recipient and audience jurisdictions it covers (sorted, unique).
    pub jurisdictions: Vec<String>,
    /// Affected recipient accounts (scan order, unique).
    pub recipients: Vec<String>,
    /// The matches that triggered it, best distance first; empty for a `trigger = "unhashable"`
    /// policy (the statement's `unhashable` says why the content could not be checked).
    pub matches: Vec<Match>,
    /// The statement of reasons.
    pub statement: Statement,
}

/// The result of one scan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Outcome {
    /// One per recipient, in scan order.
    pub recipients: Vec<RecipientOutcome>,
    /// One per distinct audience jurisdiction, in scan order.
    pub audience: Vec<AudienceOutcome>,
    /// Ordered by policy order in the set.
    pub decisions: Vec<Decision>,
    /// Unknown content picked for human review (never when anything matched; on a private
    /// surface only when the set publishes `[sampling] private_surfaces = true`).
    pub sampled_for_review: bool,
}

/// Whether `policy` applies to match `m` on `ctx`'s surface (jurisdiction aside). Only
/// `trigger = "match"` policies apply to matches.
pub fn applies(policy: &Policy, m: &Match, ctx: &ScanContext) -> bool {
    policy.enabled
        && policy.trigger == Trigger::Match
        && (policy.banks.contains(&m.bank) || policy.categories.contains(&m.bank_category))
        && (policy.surfaces.is_empty() || policy.surfaces.contains(&ctx.surface))
        && !(m.signal == SignalType::Pdq && policy.max_distance.is_some_and(|d| m.distance > d))
}

/// Whether `policy` applies to content that could not be hashed, on `ctx`'s surface
/// (jurisdiction aside): an enabled `trigger = "unhashable"` policy for that surface.
pub fn applies_unhashable(policy: &Policy, ctx: &ScanContext) -> bool {
    policy.enabled
        && policy.trigger == Trigger::Unhashable
        && (policy.surfaces.is_empty() || policy.surfaces.contains(&ctx.surface))
}

fn covers(policy: &Policy, jurisdiction: &str) -> bool {
    policy.jurisdictions.is_empty() || policy.jurisdictions.iter().any(|j| j == jurisdiction)
}

/// What `policy` does, if it applies, to a recipient or audience in `target` for content shared
/// from `sender` (both ISO 3166-1 alpha-2): the scope rule, in one place.
///
/// A policy's `jurisdictions` (empty = everywhere) are the people it protects:
/// - `block`: if the sender is in scope, the content is removed at source: `Some(Block)` for every
///   target wherever it is. If the sender is outside the scope, the content is still kept from
///   everyone in scope: `Some(Withhold)` for a target in scope, `None` elsewhere.
/// - `withhold` and `hold_for_review`: `Some(action)` for a target in scope, `None` elsewhere
///   (the sender's jurisdiction does not matter).
///
/// Never returns `Some(Deliver)`. Whether the policy applies to the content (banks, categories,
/// surface, distance, `enabled`) is [`applies`]'s question.
pub fn effective_action(policy: &Policy, sender: &str, target: &str) -> Option<Action> {
    match policy.action {
        Action::Deliver => None,
        Action::Block if covers(policy, sender) => Some(Action::Block),
        Action::Block => covers(policy, target).then_some(Action::Withhold),
        a => covers(policy, target).then_some(a),
    }
}

/// Evaluates `set` (assumed valid: [`PolicySet::validate`] runs when it is loaded) for one scan.
///
/// `now` is the caller's clock, RFC 3339 UTC (it gives the statements' `application_date`);
/// `sample_draw` is a uniform draw in `[0, 1)` from the caller. Errors only on invalid input
/// (context, matches or `now`); the function is otherwise total and deterministic.
///
/// Each recipient and each distinct audience jurisdiction gets, among the policies that apply
/// to a match on the scan's surface, the most severe [`effective_action`] (block > withhold >
/// hold_for_review > deliver; a `block` policy acting as a withhold competes at withhold
/// severity); ties go to the earlier policy. So:
/// - a `block` policy whose jurisdictions include the sender's removes the content at source:
///   every recipient and the whole audience are answered `block`;
/// - a `block` policy whose jurisdictions do not include the sender's still withholds the
///   content from every recipient and audience jurisdiction in them (answer `withhold`, decided
///   by that block policy, with a statement saying it is withheld there, not removed);
/// - `withhold` and `hold_for_review` apply per recipient and audience jurisdiction.
///
/// There is one [`Decision`] per (action, policy) pair that answers someone, in policy order.
///
/// `evaluate(set, ctx, matches, now, draw)` is [`evaluate_with`] with no `unhashable` reason.
pub fn evaluate(
    set: &PolicySet,
    ctx: &ScanContext,
    matches: &[Match],
    now: &str,
    sample_draw: f64,
) -> Result<Outcome, Error> {
    evaluate_inner(set, ctx, matches, None, now, sample_draw)
}

/// [`evaluate`] with everything Candor found about the content, including whether it could be
/// hashed at all.
///
/// When `facts.unhashable` is set (the reason, in words), the `trigger = "unhashable"` policies
/// that apply on the surface take part like any other policy (same scope rule, same severity
/// order, ties to the earlier policy), next to any match policies the `matches` trigger. Their
/// decisions have no matches, and their statements say the content could not be checked and
/// why. Content that any policy restricts is never also sampled (no double review); unhashable
/// content that no policy restricts is unknown content like any other.
pub fn evaluate_with(
    set: &PolicySet,
    ctx: &ScanContext,
    facts: &ScanFacts,
    now: &str,
    sample_draw: f64,
) -> Result<Outcome, Error> {
    evaluate_inner(
        set,
        ctx,
        &facts.matches,
        facts.unhashable.as_deref(),
        now,
        sample_draw,
    )
}

fn evaluate_inner(
    set: &PolicySet,
    ctx: &ScanContext,
    matches: &[Match],
    unhashable: Option<&str>,
    now: &str,
    sample_draw: f64,
) -> Result<Outcome, Error> {
    ctx.validate()?;
    let today = date::utc_date(now).ok_or_else(|| Error::BadNow(now.to_string()))?;
    if today < "2020-01-01" {
        return Err(Error::BadNow(now.to_string()));
    }
    if let Some(d) = &ctx.content_date {
        if d.as_str() > today {
            return Err(Error::BadContext(format!(
                "content_date {d} is after now ({today})"
            )));
        }
    }
    for m in matches {
        m.validate()?;
    }
    check_unhashable(unhashable)?;

    // Matches each policy applies to (indices), for policies with at least one.
    let hits: Vec<Vec<usize>> = set
        .policies
        .iter()
        .map(|p| {
            (0..matches.len())
                .filter(|&i| applies(p, &matches[i], ctx))
                .collect()
        })
        .collect();
    let unhashable_live: Vec<bool> = set
        .policies
        .iter()
        .map(|p| unhashable.is_some() && applies_unhashable(p, ctx))
        .collect();
    let live = |i: usize| !hits[i].is_empty() || unhashable_live[i];
    let sender = ctx.sender.jurisdiction.as_str();

    let mut audience_js: Vec<&str> = Vec::new();
    if let Some(a) = &ctx.audience {
        for j in &a.jurisdictions {
            if !audience_js.contains(&j.as_str()) {
                audience_js.push(j);
            }
        }
    }

    // Per distinct jurisdiction: the deciding (policy index, effective action), if any.
    let decide = |j: &str| -> Option<(usize, Action)> {
        let mut best: Option<(usize, Action)> = None;
        for (i, p) in set.policies.iter().enumerate() {
            if !live(i) {
                continue;
            }
            let Some(a) = effective_action(p, sender, j) else {
                continue;
            };
            if best.is_none_or(|(_, b)| severity(a) > severity(b)) {
                best = Some((i, a));
            }
        }
        best
    };
    let mut memo: HashMap<&str, Option<(usize, Action)>> = HashMap::new();
    for j in ctx
        .recipients
        .iter()
        .map(|r| r.jurisdiction.as_str())
        .chain(audience_js.iter().copied())
    {
        memo.entry(j).or_insert_with(|| decide(j));
    }
    let recipient_picks: Vec<Option<(usize, Action)>> = ctx
        .recipients
        .iter()
        .map(|r| memo[r.jurisdiction.as_str()])
        .collect();
    let audience_picks: Vec<Option<(usize, Action)>> =
        audience_js.iter().map(|j| memo[j]).collect();

    // Decisions in policy order (then action order, though one scan gives a policy one action).
    let mut used: Vec<(usize, Action)> = recipient_picks
        .iter()
        .chain(&audience_picks)
        .flatten()
        .copied()
        .collect();
    used.sort_unstable_by_key(|&(i, a)| (i, severity(a)));
    used.dedup();
    let index_of = |p: (usize, Action)| used.iter().position(|&u| u == p);

    let mut decisions = Vec::with_capacity(used.len());
    for &(pi, action) in &used {
        let policy = &set.policies[pi];
        let pick = Some((pi, action));
        let mut jurisdictions: Vec<String> = Vec::new();
        let mut recipients: Vec<String> = Vec::new();
        for (r, p) in ctx.recipients.iter().zip(&recipient_picks) {
            if *p == pick {
                jurisdictions.push(r.jurisdiction.clone());
                if !recipients.contains(&r.account) {
                    recipients.push(r.account.clone());
                }
            }
        }
        for (j, p) in audience_js.iter().zip(&audience_picks) {
            if *p == pick {
                jurisdictions.push(j.to_string());
            }
        }
        jurisdictions.sort_unstable();
        jurisdictions.dedup();
        let mut ms: Vec<Match> = hits[pi].iter().map(|&i| matches[i].clone()).collect();
        ms.sort_by(|a, b| {
            (a.distance, &a.bank, &a.content_id, a.signal).cmp(&(
                b.distance,
                &b.bank,
                &b.content_id,
                b.signal,
            ))
        });
        let basis = match (unhashable, policy.trigger) {
            (Some(reason), Trigger::Unhashable) => Basis::Unhashable(reason),
            _ => Basis::Matched(&ms),
        };
        let statement = build_statement(policy, action, ctx, basis, &jurisdictions, today);
        decisions.push(Decision {
            action,
            policy_id: policy.id.clone(),
            policy_name: policy.name.clone(),
            jurisdictions,
            recipients,
            matches: ms,
            statement,
        });
    }

    let action_of = |p: Option<(usize, Action)>| p.map_or(Action::Deliver, |(_, a)| a);
    let recipients = ctx
        .recipients
        .iter()
        .zip(&recipient_picks)
        .map(|(r, &p)| RecipientOutcome {
            account: r.account.clone(),
            jurisdiction: r.jurisdiction.clone(),
            action: action_of(p),
            decision: p.and_then(index_of),
        })
        .collect();
    let audience = audience_js
        .iter()
        .zip(&audience_picks)
        .map(|(j, &p)| AudienceOutcome {
            jurisdiction: j.to_string(),
            action: action_of(p),
            decision: p.and_then(index_of),
        })
        .collect();

    let sampled_for_review = matches.is_empty()
        && decisions.is_empty()
        && set.sampling.samples(ctx.surface)
        && sample_draw < set.sampling.rate;

    Ok(Outcome {
        recipients,
        audience,
        decisions,
        sampled_for_review,
    })
}
