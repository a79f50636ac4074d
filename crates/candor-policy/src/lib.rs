//! `candor-policy` — the pure room that turns matches plus scan context into decisions and
//! statements of reasons. No I/O, no clock, no randomness: the caller passes `now` (RFC 3339 UTC)
//! and a sampling draw. The place to read to know what Candor will do.
//!
//! Entry points: [`PolicySet::from_toml_str`] / [`PolicySet::from_json_str`] (parse + validate),
//! [`evaluate`] and [`evaluate_with`] (which also says whether the content could be hashed),
//! [`notice_text`], [`Policy::canonical_json`], [`simulate`] / [`diff`] (what a set does for every
//! sender × recipient jurisdiction × surface, and what a change would change), and [`lint`].
//! The crate's `README.md` says all of this with examples.
//!
//! # The scope rule (one rule, whatever the action)
//!
//! A policy's `jurisdictions` (empty = everywhere) are the people it protects. For content that a
//! policy applies to (its banks or categories, its surfaces, its `max_distance`, enabled):
//! - `block` removes the content at source — every recipient and the whole audience are
//!   answered `block` — when the sender is in the policy's jurisdictions. When the sender is
//!   outside them, the content is still withheld from every recipient and audience jurisdiction
//!   in them: the answer there is `withhold`, decided by that block policy, and its statement
//!   says the content is withheld there, not removed.
//! - `withhold` and `hold_for_review` act on each recipient and audience jurisdiction in scope.
//!
//! Per recipient and per audience jurisdiction the most severe answer wins (block > withhold >
//! hold_for_review > deliver; a block policy acting as a withhold competes at withhold
//! severity); ties go to the earlier policy. [`effective_action`] is the rule for one policy.
//!
//! ```
//! use candor_policy::*;
//! let set = PolicySet::from_toml_str(r#"
//! [[policy]]
//! id = "csam-de"
//! name = "Known CSAM (DE)"
//! banks = ["ncmec"]
//! jurisdictions = ["DE"]
//! action = "block"
//! decision_ground = "DECISION_GROUND_ILLEGAL_CONTENT"
//! legal_ground = "StGB § 184b"
//! explanation = "Known child sexual abuse material."
//! "#).unwrap();
//! let m = Match {
//!     bank: "ncmec".into(), bank_category: Category::ProtectionOfMinors,
//!     content_id: "e1".into(), signal: SignalType::Md5, distance: 0,
//!     orientation: None, trimmed: false,
//! };
//! let party = |a: &str, j: &str| Party { account: a.into(), jurisdiction: j.into() };
//! let ctx = ScanContext {
//!     surface: Surface::Direct, content_id: "c1".into(), content_type: ContentType::Image,
//!     content_type_other: None, content_date: None, sender: party("us-sender", "US"),
//!     recipients: vec![party("de-friend", "DE"), party("us-friend", "US")], audience: None,
//! };
//! let o = evaluate(&set, &ctx, &[m], "2026-11-23T14:10:18Z", 0.5).unwrap();
//! // Sent from the US, outside the policy's scope: withheld in DE, delivered in the US.
//! assert_eq!(o.recipients[0].action, Action::Withhold);
//! assert_eq!(o.recipients[1].action, Action::Deliver);
//! assert_eq!(o.decisions[0].policy_id, "csam-de");
//! ```

pub mod date;
pub mod dsa;
mod eval;
mod lint;
mod model;
mod policy;
mod preview;
mod sim;
mod statement;

pub use dsa::{
    AutomatedDecision, AutomatedDetection, Category, ContentType, DecisionGround,
    DecisionVisibility, SourceType,
};
pub use eval::{
    applies, applies_unhashable, effective_action, evaluate, evaluate_with, AudienceOutcome,
    Decision, Outcome, RecipientOutcome,
};
pub use lint::{lint, shadows, Lint, LintLevel};
pub use model::{
    severity, Action, Audience, Match, Party, ScanContext, ScanFacts, SignalType, Surface, Trigger,
    MAX_ACCOUNT_LEN, MAX_RECIPIENTS, MAX_UNHASHABLE_REASON,
};
pub use policy::{
    is_slug, Policy, PolicySet, Sampling, DEFAULT_REVIEW_PRIORITY, MAX_REVIEW_PRIORITY,
};
pub use preview::{policy_changes, ChangeKind, FieldChange, PolicyChange, SetChanges};
pub use sim::{
    diff, diff_text, group_changes, simulate, BankInfo, Cell, CellChange, CellValue, ChangeGroup,
    SimBlock, SimDecision, SimOptions, Simulation, Subject, SIM_NOW, SIM_UNHASHABLE_REASON,
};
pub use statement::{notice_text, NoticeRole, Statement, HELD_PENDING_REVIEW, OUR_FIELDS};

/// Everything that can be wrong with a policy set or a scan.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Error {
    /// TOML or JSON that does not parse into the types.
    #[error("policy file does not parse: {0}")]
    Parse(String),
    /// Two policies share an id.
    #[error("duplicate policy id {0:?}")]
    DuplicateId(String),
    /// An id that is not `[a-z0-9][a-z0-9_-]{{0,63}}`.
    #[error("policy id {0:?} is not a slug [a-z0-9][a-z0-9_-]{{0,63}}")]
    BadSlug(String),
    /// Not an upper-case ISO 3166-1 alpha-2 code.
    #[error("{context}: {code:?} is not an ISO 3166-1 alpha-2 code in upper case")]
    BadJurisdiction {
        /// Where it was found.
        context: String,
        /// The bad code.
        code: String,
    },
    /// A policy lists neither banks nor categories.
    #[error("policy {0:?} lists no banks and no categories: it would match nothing")]
    EmptyMatchSet(String),
    /// Sampling rate outside `0..=1`.
    #[error("sampling rate {0} is outside 0..=1")]
    RateOutOfRange(f64),
    /// Sampling with a rate above 0 reaches private surfaces without `private_surfaces = true`.
    #[error("sampling reaches private surfaces ({0}): set [sampling] private_surfaces = true to publish that, or list only \"public\" in surfaces")]
    PrivateSampling(String),
    /// A policy whose action is `deliver`.
    #[error("policy {0:?} has action deliver: a policy must restrict")]
    DeliverAction(String),
    /// A policy field out of bounds.
    #[error("policy {policy:?}: {field} must be {why}")]
    BadField {
        /// The policy.
        policy: String,
        /// The field.
        field: &'static str,
        /// What it must be.
        why: String,
    },
    /// A simulation that cannot be run (unknown bank, distance above 256).
    #[error("simulation: {0}")]
    BadSimulation(String),
    /// An invalid scan context.
    #[error("invalid scan: {0}")]
    BadContext(String),
    /// An invalid match.
    #[error("invalid match {0}")]
    BadMatch(String),
    /// `now` is not RFC 3339 UTC (or is before 2020-01-01, the API's earliest application date).
    #[error("now {0:?} is not an RFC 3339 UTC time on or after 2020-01-01")]
    BadNow(String),
}
