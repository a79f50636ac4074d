//! The statement of reasons (DSA Art. 17, Transparency Database API fields plus ours) and notices.
//!
//! Field names and values follow <https://transparency.dsa.ec.europa.eu/page/api-documentation>.
//! Required there and always present here: `decision_visibility` (one of the four restriction
//! fields is required; content restrictions use this one, so `decision_monetary`,
//! `decision_provision`, `decision_account` and `account_type` are not needed and not sent),
//! `decision_ground` with its ground-specific pair, `category`, `content_type`,
//! `territorial_scope`, `automated_detection`, `automated_decision`, `source_type`,
//! `decision_facts`, `application_date`, `content_date`, `puid`. The `end_date_*` fields are
//! optional ("leave blank for indefinite") and omitted: our restrictions have no planned end.

use crate::dsa::{
    self, limits, AutomatedDecision, AutomatedDetection, Category, ContentType, DecisionGround,
    DecisionVisibility, SourceType,
};
use crate::eval::Decision;
use crate::model::{Action, Match, ScanContext, SignalType, Surface};
use crate::policy::Policy;
use serde::{Deserialize, Serialize};

/// `decision_visibility_other` for `hold_for_review`.
pub const HELD_PENDING_REVIEW: &str = "held pending human review";

/// A statement of reasons: the API's fields (in the API documentation's order) then ours.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Statement {
    /// By the decision's action: block (removed at source) → `CONTENT_REMOVED`, withhold
    /// (including a block policy acting on a sender outside its jurisdictions) →
    /// `CONTENT_DISABLED`, hold_for_review → `OTHER`.
    pub decision_visibility: Vec<DecisionVisibility>,
    /// Only with `DECISION_VISIBILITY_OTHER`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decision_visibility_other: Option<String>,
    /// The policy's ground.
    pub decision_ground: DecisionGround,
    /// Illegal content only: the law relied on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub illegal_content_legal_ground: Option<String>,
    /// Illegal content only: why the content is illegal on that ground.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub illegal_content_explanation: Option<String>,
    /// Incompatible content only: the contractual ground.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub incompatible_content_ground: Option<String>,
    /// Incompatible content only: why the content is incompatible on that ground.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub incompatible_content_explanation: Option<String>,
    /// The best match's bank category; for unhashable content, the policy's `category`.
    pub category: Category,
    /// The scanned content's type.
    pub content_type: Vec<ContentType>,
    /// Only with `CONTENT_TYPE_OTHER`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_type_other: Option<String>,
    /// The decision's jurisdictions that the API accepts (EU/EEA), sorted; for a removal at source
    /// (`block`) also the sender's, since the content is removed where it was shared from too.
    /// May be empty when none is EU/EEA: see `in_dsa_scope`.
    pub territorial_scope: Vec<String>,
    /// Always `"Yes"`: the content was flagged by Candor's automated check — a hash match, or
    /// (unhashable content) an automated check that could not be completed, which
    /// `decision_facts` says in words. No person flagged it.
    pub automated_detection: AutomatedDetection,
    /// The policy's, default `AUTOMATED_DECISION_FULLY`.
    pub automated_decision: AutomatedDecision,
    /// Always `SOURCE_VOLUNTARY`: matching is the platform's own initiative.
    pub source_type: SourceType,
    /// Plain words: bank, signal, distance, policy (≤ 5000 characters).
    pub decision_facts: String,
    /// `YYYY-MM-DD`, the date of `now`.
    pub application_date: String,
    /// `YYYY-MM-DD`: the context's content date, else the application date.
    pub content_date: String,
    /// The platform's content id.
    pub puid: String,
    // ---- ours (not sent to the Transparency Database) ----
    /// The deciding policy.
    pub policy_id: String,
    /// The best match's bank (absent for unhashable content).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bank: Option<String>,
    /// The best match's distance (absent for unhashable content).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub match_distance: Option<u32>,
    /// Why the content could not be hashed, for a `trigger = "unhashable"` decision.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unhashable: Option<String>,
    /// All jurisdictions the decision covers (including non-EU/EEA ones), sorted.
    pub jurisdictions: Vec<String>,
    /// Where the content was shared.
    pub surface: Surface,
    /// Whether `territorial_scope` is non-empty, i.e. the statement is for the Transparency
    /// Database (the API requires a non-empty EU/EEA scope).
    pub in_dsa_scope: bool,
}

/// Our fields, which [`Statement::dsa_api_json`] drops.
pub const OUR_FIELDS: [&str; 7] = [
    "policy_id",
    "bank",
    "match_distance",
    "unhashable",
    "jurisdictions",
    "surface",
    "in_dsa_scope",
];

impl Statement {
    /// The statement as the Transparency Database API's JSON body (our fields removed).
    pub fn dsa_api_json(&self) -> serde_json::Value {
        let mut v = serde_json::to_value(self).expect("a statement always serializes");
        if let Some(o) = v.as_object_mut() {
            for f in OUR_FIELDS {
                o.remove(f);
            }
        }
        v
    }
}

fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

fn describe_match(m: &Match) -> String {
    let mut s = match m.signal {
        SignalType::Pdq => format!(
            "its PDQ perceptual hash at Hamming distance {} of 256",
            m.distance
        ),
        SignalType::Md5 => "its MD5 digest (exact match)".to_string(),
        SignalType::Sha256 => "its SHA-256 digest (exact match)".to_string(),
        SignalType::Sha1 => "its SHA-1 digest (exact match)".to_string(),
    };
    if let Some(o) = &m.orientation {
        if o != "orig" {
            s.push_str(&format!(", after the transform {o}"));
        }
    }
    if m.trimmed {
        s.push_str(", after removing a border");
    }
    s
}

fn scope_words(policy: &Policy) -> String {
    if policy.jurisdictions.is_empty() {
        "any jurisdiction".to_string()
    } else {
        policy.jurisdictions.join(", ")
    }
}

fn action_words(a: Action, what: &str) -> String {
    match a {
        Action::Block => {
            format!("removing {what} at source, so that it is delivered to nobody,")
        }
        Action::Withhold => format!("withholding {what}"),
        Action::HoldForReview => format!("holding {what} until a person has reviewed it"),
        Action::Deliver => "delivery".to_string(),
    }
}

/// What a decision rests on.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Basis<'a> {
    /// The matches that triggered the policy (non-empty), best first.
    Matched(&'a [Match]),
    /// The content could not be hashed, for this reason.
    Unhashable(&'a str),
}

/// `action` is the decision's (effective) action: a `block` policy acting on a sender outside its
/// jurisdictions gives `withhold` (see [`crate::effective_action`]).
pub(crate) fn build_statement(
    policy: &Policy,
    action: Action,
    ctx: &ScanContext,
    basis: Basis<'_>,
    jurisdictions: &[String],
    today: &str,
) -> Statement {
    let (visibility, other) = match action {
        Action::Block => (DecisionVisibility::ContentRemoved, None),
        Action::Withhold => (DecisionVisibility::ContentDisabled, None),
        _ => (
            DecisionVisibility::Other,
            Some(HELD_PENDING_REVIEW.to_string()),
        ),
    };
    let illegal = policy.decision_ground == DecisionGround::IllegalContent;
    // Where the restriction applies: the decision's jurisdictions, and for a removal at source
    // also where it was shared from (the content is gone there too).
    let mut territorial_scope: Vec<String> = jurisdictions
        .iter()
        .filter(|j| dsa::in_dsa_scope(j))
        .cloned()
        .collect();
    if action == Action::Block && dsa::in_dsa_scope(&ctx.sender.jurisdiction) {
        territorial_scope.push(ctx.sender.jurisdiction.clone());
        territorial_scope.sort_unstable();
        territorial_scope.dedup();
    }

    let noun = ctx.content_type.noun();
    let (mut facts, what, category, bank, distance, reason) = match basis {
        Basis::Matched(ms) => {
            let best = &ms[0];
            let mut facts = format!(
                "The {} was checked automatically when it was shared ({} surface). It matched entry {:?} of the hash bank {:?} ({}) by {}.",
                noun,
                ctx.surface.as_str(),
                best.content_id,
                best.bank,
                best.bank_category.label(),
                describe_match(best),
            );
            if ms.len() > 1 {
                facts.push_str(&format!(
                    " It matched {} further bank entries.",
                    ms.len() - 1
                ));
            }
            (
                facts,
                "matching content".to_string(),
                best.bank_category,
                Some(best.bank.clone()),
                Some(best.distance),
                None,
            )
        }
        Basis::Unhashable(reason) => (
            format!(
                "The {noun} could not be checked automatically against the hash banks of known content when it was shared ({} surface): it could not be hashed ({reason}). It was therefore not found to match anything, and nothing is known about what it shows.",
                ctx.surface.as_str(),
            ),
            "content that cannot be checked".to_string(),
            // `validate` requires the category of an unhashable policy; the fallback only
            // serves an unvalidated set.
            policy.category.unwrap_or(Category::OtherViolationTc),
            None,
            None,
            Some(reason.to_string()),
        ),
    };
    match (policy.action, action) {
        (Action::Block, Action::Block) => facts.push_str(&format!(
            " Policy {:?} ({}) requires {} when it is shared from {}. It was shared from {}.",
            policy.id,
            policy.name,
            action_words(Action::Block, &what),
            scope_words(policy),
            ctx.sender.jurisdiction,
        )),
        (Action::Block, _) => facts.push_str(&format!(
            " Policy {:?} ({}) requires removing {} at source when it is shared from {}. It was shared from {}, outside that scope, so it is not removed but withheld in {}, where the policy applies.",
            policy.id,
            policy.name,
            what,
            scope_words(policy),
            ctx.sender.jurisdiction,
            jurisdictions.join(", "),
        )),
        _ => facts.push_str(&format!(
            " Policy {:?} ({}) requires {} in {}.",
            policy.id,
            policy.name,
            action_words(action, &what),
            jurisdictions.join(", "),
        )),
    }
    if action == Action::HoldForReview {
        facts.push_str(" This is not a final decision: a person will review the content.");
    }

    Statement {
        decision_visibility: vec![visibility],
        decision_visibility_other: other,
        decision_ground: policy.decision_ground,
        illegal_content_legal_ground: illegal.then(|| policy.legal_ground.clone()),
        illegal_content_explanation: illegal.then(|| policy.explanation.clone()),
        incompatible_content_ground: (!illegal).then(|| policy.legal_ground.clone()),
        incompatible_content_explanation: (!illegal).then(|| policy.explanation.clone()),
        category,
        content_type: vec![ctx.content_type],
        content_type_other: ctx.content_type_other.clone(),
        in_dsa_scope: !territorial_scope.is_empty(),
        territorial_scope,
        automated_detection: AutomatedDetection::Yes,
        automated_decision: policy.automated_decision(),
        source_type: SourceType::Voluntary,
        decision_facts: truncate(&facts, limits::DECISION_FACTS),
        application_date: today.to_string(),
        content_date: ctx
            .content_date
            .clone()
            .unwrap_or_else(|| today.to_string()),
        puid: ctx.content_id.clone(),
        policy_id: policy.id.clone(),
        bank,
        match_distance: distance,
        unhashable: reason,
        jurisdictions: jurisdictions.to_vec(),
        surface: ctx.surface,
    }
}

/// Who a notice is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NoticeRole {
    /// The person who shared the content.
    Sender,
    /// A person the content was meant for.
    Recipient,
}

fn article(noun: &str) -> &'static str {
    if noun.starts_with(['a', 'e', 'i', 'o', 'u']) {
        "An"
    } else {
        "A"
    }
}

/// The statement in plain words for an affected person. Names no account.
pub fn notice_text(decision: &Decision, role: NoticeRole) -> String {
    let st = &decision.statement;
    let noun = st.content_type.first().map_or("content", |c| c.noun());
    let scope = decision.jurisdictions.join(", ");
    let mut out = match (role, decision.action) {
        (NoticeRole::Sender, Action::Block) => {
            format!("Your {noun} was removed and not delivered to anyone")
        }
        (NoticeRole::Sender, Action::Withhold) => {
            format!("Your {noun} was withheld from recipients in {scope}")
        }
        (NoticeRole::Sender, _) => format!(
            "Your {noun} is held, and not delivered to recipients in {scope}, until a person has reviewed it"
        ),
        (NoticeRole::Recipient, Action::Block) => {
            format!("{} {noun} sent to you was removed and not delivered", article(noun))
        }
        (NoticeRole::Recipient, Action::Withhold) => {
            format!("{} {noun} sent to you was withheld in {scope}", article(noun))
        }
        (NoticeRole::Recipient, _) => format!(
            "{} {noun} sent to you is held until a person has reviewed it",
            article(noun)
        ),
    };
    match (&st.unhashable, &st.bank) {
        (Some(reason), _) => out.push_str(&format!(
            " under policy {} ({}) because it could not be checked automatically against our lists of known content: it could not be processed ({reason}).",
            decision.policy_id, decision.policy_name,
        )),
        (None, bank) => out.push_str(&format!(
            " under policy {} ({}) because it matched the hash list {:?} of known content ({}).",
            decision.policy_id,
            decision.policy_name,
            bank.as_deref().unwrap_or(""),
            st.category.label()
        )),
    }
    match (
        st.decision_ground,
        &st.illegal_content_legal_ground,
        &st.incompatible_content_ground,
    ) {
        (DecisionGround::IllegalContent, Some(law), _) => out.push_str(&format!(
            " Such content is illegal under {law}: {}",
            st.illegal_content_explanation.as_deref().unwrap_or("")
        )),
        (_, _, Some(clause)) => out.push_str(&format!(
            " Such content is not allowed by our terms ({clause}): {}",
            st.incompatible_content_explanation.as_deref().unwrap_or("")
        )),
        _ => {}
    }
    if !out.ends_with('.') {
        out.push('.');
    }
    out.push(' ');
    out.push_str(if decision.action == Action::HoldForReview {
        "The hold was applied automatically; this is not a final decision."
    } else {
        match st.automated_decision {
            AutomatedDecision::Fully => {
                "This was an automated decision: no person reviewed it before it was taken."
            }
            AutomatedDecision::Partially => "This decision was taken partly by automated means.",
            AutomatedDecision::NotAutomated => "A person took this decision.",
        }
    });
    match role {
        NoticeRole::Sender => out.push_str(
            " You can appeal: a reviewer who did not take this decision will look at it again.",
        ),
        NoticeRole::Recipient => out.push_str(
            " If you think this is wrong, you can appeal: a reviewer who did not take this decision will look at it again.",
        ),
    }
    out
}
