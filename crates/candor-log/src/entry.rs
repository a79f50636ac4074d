//! Log entries: what Candor records, in one versioned, canonical encoding. This module doc is
//! the specification.
//!
//! # Encoding (versions 1, 2 and 3)
//!
//! An entry is one JSON object in UTF-8 with no whitespace outside strings, its keys in the
//! fixed order given below, strings escaped exactly as `serde_json` writes them (`"`, `\`
//! and control characters escaped, `\n`-style short escapes where JSON has them, everything
//! else verbatim, including non-ASCII and `/`), integers only (no fractions, exponents or
//! signs), booleans as `true`/`false`, and optional fields **omitted** when absent (never
//! `null`). Every entry starts with
//!
//! ```text
//! {"v":1,"type":"<type>","time":"<YYYY-MM-DDTHH:MM:SSZ>", ...fields of the type... }
//! ```
//!
//! `v` is the lowest version that can express the entry: `3` exactly when the entry uses
//! something version 2 does not have (marked **v3** below), else `2` exactly when it uses
//! something version 1 does not have (marked **v2**), else `1`. An entry of version 1
//! therefore encodes byte for byte as it always did, and a `"v":2` (or `"v":3`) entry that
//! needs nothing of that version is not canonical (refused).
//!
//! `time` is RFC 3339 in UTC with seconds precision and a literal `Z`. Decoding parses the
//! bytes, checks every field, encodes the result again and refuses the entry unless the two
//! are byte-identical: there is exactly one encoding of each entry, so a leaf hash names one
//! entry and one meaning. Unknown types, unknown fields, missing fields, `null`, floats,
//! duplicate keys, reordered keys, whitespace and `"v"` other than `1` are all errors.
//!
//! Limits: an encoded entry is at most 65,535 bytes (it must fit an entry bundle); strings are
//! non-empty and at most 1,024 bytes unless stated; ids contain no control characters. There
//! is no field for an account id in any type: accounts are referred to only through counts and
//! commitments (see [`crate::commit`]).
//!
//! Value sets used below:
//! - *category*: a DSA statement category as the DSA transparency database spells it,
//!   `STATEMENT_CATEGORY_` followed by `A-Z`, `0-9`, `_` (e.g.
//!   `STATEMENT_CATEGORY_PROTECTION_OF_MINORS`); at most 128 bytes.
//! - *hash*: 64 lowercase hex digits (a SHA-256 value).
//! - *token*: 1..=64 of `a-z`, `0-9`, `_` (surfaces: `direct`, `group`, `public`).
//! - *DSA enum*: 1..=128 of `A-Z`, `0-9`, `_` (the DSA transparency database's constants).
//!
//! # Types and their keys, in order
//!
//! | type | keys after `v`, `type`, `time` |
//! |---|---|
//! | `bank` | `bank` (name), `op` (`create`/`update`/`delete`), `category`, `enabled` (bool), `pdq_threshold` (u32), `negative`? (**v2**, `true` only: a negative bank, an allowlist whose match suppresses every other bank's matches for the content) |
//! | `bank_content` | `bank`, `content` (entry id), `op` (`add`/`retract`/`enable`/`disable`), `signal` (`pdq`/`md5`/`sha256`, or `sha1` (**v3**)), `commitment` (hash: a salted [`crate::commit::signal_commitment`], never the signal in the clear), `category`, `provenance` (`own_review` or `imported:<list name>`), `reason`? (only with `retract`), `content_commitment`? (**v2**, hash; only with `add` and `own_review`: the content commitment of the person's content a review added, opened with their notice) |
//! | `decision` | `decision` (id), `action` (`withhold`/`block`/`hold_for_review`), `policy` (id), `surface` (token), `territorial_scope` (array of ISO 3166-1 alpha-2 codes, two `A-Z` each, sorted, no duplicates, at most 300; may be empty), `category`, `decision_ground` (`DECISION_GROUND_…`), `automated_detection` (bool), `automated_decision` (`AUTOMATED_DECISION_FULLY`/`_PARTIALLY`/`_NOT_AUTOMATED`), `content_type` (DSA enum), `source_type` (DSA enum), `bank`?, `distance`? (u32, PDQ distance), `recipients` (u64, a count: never account ids), `content_commitment` (hash: [`crate::commit::content_commitment`] of the platform's content id, opened by the affected user with the nonce in the notice), `unhashable`? (**v2**, `true` only, never with `bank`/`distance`: the content could not be hashed and a published `unhashable` rule decided) |
//! | `review` | `decision`? (id), `review_item` (id), `outcome` (`confirmed`/`rejected`), `bank`? (when the item was added to a bank), `content_commitment`? (**v2**, hash: the reviewed content, opened with the sender's notice) |
//! | `appeal` | `appeal` (id), `decision`? (id), `review_item`? (**v2**, id: an appeal against a bank addition made by that review); exactly one of the two |
//! | `appeal_outcome` | `appeal`, `decision`?, `review_item`? (**v2**), exactly one of the two; `outcome` (`upheld`/`reversed`) |
//! | `policy_change` | `policy` (id; `[sampling]` for the sampling settings), `op` (`create`/`update`/`delete`), `digest`? (hash of the policy's canonical JSON; present unless `op` is `delete`, absent for `delete`), `private_surfaces`? (**v2**, bool; present exactly for `[sampling]`: whether unknown content on direct and group surfaces may be sampled) |
//! | `notice_deferred` | `decision`?, `review_item`? (**v2**; a deferred notice of sampling), exactly one of the two; `legal_basis` (at most 200 characters, no details of the case) |
//! | `sampled` (**v2**) | `review_item` (id), `surface` (token), `content_commitment` (hash: unknown content sampled into human review, opened with the sender's notice) |
//!
//! `?` marks an optional key. A new field or type means a new version; decoders of an older
//! version refuse it rather than guess.

use serde::{Deserialize, Serialize};

use crate::merkle::Hash;
use crate::tile::MAX_ENTRY_SIZE;
use crate::LogError;

/// The newest encoding version this code writes and reads (it reads every version from 1).
pub const ENTRY_VERSION: u64 = 3;
/// The policy name of the sampling settings in `policy_change` entries (not a valid policy id).
pub const SAMPLING_POLICY: &str = "[sampling]";
/// Largest encoded entry (an entry bundle's uint16 length).
pub const MAX_ENCODED_ENTRY: usize = MAX_ENTRY_SIZE;
/// Longest string field in bytes, unless a field says otherwise.
pub const MAX_STRING: usize = 1024;
/// Longest `legal_basis`, in characters.
pub const MAX_LEGAL_BASIS_CHARS: usize = 200;
/// Most countries in a `territorial_scope`.
pub const MAX_TERRITORIES: usize = 300;
/// `automated_decision` value that counts as fully automated.
pub const AUTOMATED_DECISION_FULLY: &str = "AUTOMATED_DECISION_FULLY";

/// Every type name, in the order of the spec.
pub const ENTRY_TYPES: [&str; 9] = [
    "bank",
    "bank_content",
    "decision",
    "review",
    "appeal",
    "appeal_outcome",
    "policy_change",
    "notice_deferred",
    "sampled",
];

/// One log entry: when, and what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// RFC 3339 UTC, seconds precision, `Z` (`2026-11-23T14:10:49Z`).
    pub time: String,
    pub body: EntryBody,
}

/// The typed part of an entry; the variant is the `type`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntryBody {
    Bank(BankEntry),
    BankContent(BankContentEntry),
    Decision(DecisionEntry),
    Review(ReviewEntry),
    Appeal(AppealEntry),
    AppealOutcome(AppealOutcomeEntry),
    PolicyChange(PolicyChangeEntry),
    NoticeDeferred(NoticeDeferredEntry),
    Sampled(SampledEntry),
}

/// Create, update or delete (banks and policies).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeOp {
    Create,
    Update,
    Delete,
}

/// What happened to a bank entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ContentOp {
    Add,
    Retract,
    Enable,
    Disable,
}

impl ContentOp {
    pub fn as_str(self) -> &'static str {
        match self {
            ContentOp::Add => "add",
            ContentOp::Retract => "retract",
            ContentOp::Enable => "enable",
            ContentOp::Disable => "disable",
        }
    }
}

/// A signal kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SignalKind {
    Pdq,
    Md5,
    Sha256,
    /// SHA-1 (version 3 of the entry encoding).
    Sha1,
}

impl SignalKind {
    /// Every kind, in the order the index and the numbers list them.
    pub const ALL: [SignalKind; 4] = [
        SignalKind::Pdq,
        SignalKind::Md5,
        SignalKind::Sha1,
        SignalKind::Sha256,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            SignalKind::Pdq => "pdq",
            SignalKind::Md5 => "md5",
            SignalKind::Sha256 => "sha256",
            SignalKind::Sha1 => "sha1",
        }
    }

    /// The kind named by [`as_str`](Self::as_str).
    pub fn parse(s: &str) -> Option<SignalKind> {
        Some(match s {
            "pdq" => SignalKind::Pdq,
            "md5" => SignalKind::Md5,
            "sha256" => SignalKind::Sha256,
            "sha1" => SignalKind::Sha1,
            _ => return None,
        })
    }
}

/// An enforcement action (`deliver` is not logged).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Withhold,
    Block,
    HoldForReview,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Withhold => "withhold",
            Action::Block => "block",
            Action::HoldForReview => "hold_for_review",
        }
    }
}

/// A reviewer's outcome on a held item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReviewOutcome {
    Confirmed,
    Rejected,
}

/// The outcome of an appeal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AppealOutcome {
    Upheld,
    Reversed,
}

mod hex_hash {
    use serde::{Deserialize, Deserializer, Serializer};

    use crate::merkle::Hash;

    pub fn serialize<S: Serializer>(h: &Hash, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&crate::commit::to_hex(h))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Hash, D::Error> {
        let s = String::deserialize(d)?;
        crate::commit::parse_hex_hash(&s).map_err(serde::de::Error::custom)
    }

    pub mod option {
        use serde::{Deserialize, Deserializer, Serializer};

        use crate::merkle::Hash;

        pub fn serialize<S: Serializer>(h: &Option<Hash>, s: S) -> Result<S::Ok, S::Error> {
            match h {
                Some(h) => super::serialize(h, s),
                None => s.serialize_none(),
            }
        }

        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Hash>, D::Error> {
            let s = String::deserialize(d)?;
            crate::commit::parse_hex_hash(&s)
                .map(Some)
                .map_err(serde::de::Error::custom)
        }
    }
}

/// `bank`: a bank created, updated or deleted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BankEntry {
    pub bank: String,
    pub op: ChangeOp,
    pub category: String,
    pub enabled: bool,
    pub pdq_threshold: u32,
    /// (v2) A negative bank (an allowlist: its matches suppress every other bank's for the
    /// content). Omitted when false.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub negative: bool,
}

/// `bank_content`: a bank entry added, retracted, enabled or disabled.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BankContentEntry {
    pub bank: String,
    pub content: String,
    pub op: ContentOp,
    pub signal: SignalKind,
    /// Salted commitment to the signal value ([`crate::commit::signal_commitment`]).
    #[serde(with = "hex_hash")]
    pub commitment: Hash,
    pub category: String,
    /// `own_review` or `imported:<list name>`.
    pub provenance: String,
    /// Only with `retract`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// (v2) The person's content a review added ([`crate::commit::content_commitment`]).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "hex_hash::option"
    )]
    pub content_commitment: Option<Hash>,
}

/// `decision`: an enforcement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DecisionEntry {
    pub decision: String,
    pub action: Action,
    pub policy: String,
    pub surface: String,
    /// ISO 3166-1 alpha-2 codes, sorted, unique.
    pub territorial_scope: Vec<String>,
    pub category: String,
    pub decision_ground: String,
    pub automated_detection: bool,
    pub automated_decision: String,
    pub content_type: String,
    pub source_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bank: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub distance: Option<u32>,
    /// How many recipients the decision applies to (a count, never ids).
    pub recipients: u64,
    /// Commitment to the platform content id ([`crate::commit::content_commitment`]).
    #[serde(with = "hex_hash")]
    pub content_commitment: Hash,
    /// (v2) The content could not be hashed and a published `unhashable` rule decided
    /// (never with `bank` or `distance`). Omitted when false.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub unhashable: bool,
}

/// `review`: a reviewer's outcome on a held item.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReviewEntry {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decision: Option<String>,
    pub review_item: String,
    pub outcome: ReviewOutcome,
    /// The bank the item was added to, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bank: Option<String>,
    /// (v2) The reviewed content ([`crate::commit::content_commitment`]).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "hex_hash::option"
    )]
    pub content_commitment: Option<Hash>,
}

/// `appeal`: an appeal lodged against a decision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppealEntry {
    pub appeal: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decision: Option<String>,
    /// (v2) An appeal against the bank addition of this review item.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub review_item: Option<String>,
}

/// `appeal_outcome`: an appeal decided.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppealOutcomeEntry {
    pub appeal: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decision: Option<String>,
    /// (v2) See [`AppealEntry::review_item`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub review_item: Option<String>,
    pub outcome: AppealOutcome,
}

/// `policy_change`: a policy created, updated or deleted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyChangeEntry {
    pub policy: String,
    pub op: ChangeOp,
    /// SHA-256 of the policy's canonical JSON; absent exactly when `op` is `delete`.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "hex_hash::option"
    )]
    pub digest: Option<Hash>,
    /// (v2) Present exactly for [`SAMPLING_POLICY`]: may direct and group content be sampled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub private_surfaces: Option<bool>,
}

/// `notice_deferred`: a notice withheld from the affected person for a legal reason.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoticeDeferredEntry {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decision: Option<String>,
    /// (v2) A deferred notice that this review item was sampled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub review_item: Option<String>,
    /// Short text, at most 200 characters, no details of the case.
    pub legal_basis: String,
}

/// (v2) `sampled`: unknown content picked for human review (nothing matched it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SampledEntry {
    pub review_item: String,
    pub surface: String,
    /// Commitment to the platform content id, opened with the sender's notice.
    #[serde(with = "hex_hash")]
    pub content_commitment: Hash,
}

/// Exactly one of a decision and a review item (appeals, outcomes, deferrals).
fn check_subject(decision: &Option<String>, review_item: &Option<String>) -> Result<(), LogError> {
    match (decision, review_item) {
        (Some(d), None) => check_id("decision", d),
        (None, Some(r)) => check_id("review_item", r),
        _ => Err(bad(
            "exactly one of decision and review_item must be present",
        )),
    }
}

fn bad(detail: impl Into<String>) -> LogError {
    LogError::malformed("log entry", detail)
}

fn check_text(field: &str, s: &str, max: usize) -> Result<(), LogError> {
    if s.is_empty() {
        return Err(bad(format!("{field} is empty")));
    }
    if s.len() > max {
        return Err(bad(format!("{field} is longer than {max} bytes")));
    }
    Ok(())
}

fn check_id(field: &str, s: &str) -> Result<(), LogError> {
    check_text(field, s, MAX_STRING)?;
    if s.chars().any(char::is_control) {
        return Err(bad(format!("{field} contains a control character")));
    }
    Ok(())
}

fn check_charset(field: &str, s: &str, max: usize, ok: fn(u8) -> bool) -> Result<(), LogError> {
    if s.is_empty() || s.len() > max || !s.bytes().all(ok) {
        return Err(bad(format!("{field} {s:?} is not a valid value")));
    }
    Ok(())
}

fn upper(b: u8) -> bool {
    b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_'
}

fn lower(b: u8) -> bool {
    b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'
}

fn check_prefixed(field: &str, s: &str, prefix: &str) -> Result<(), LogError> {
    check_charset(field, s, 128, upper)?;
    match s.strip_prefix(prefix) {
        Some(rest) if !rest.is_empty() => Ok(()),
        _ => Err(bad(format!("{field} {s:?} does not start with {prefix}"))),
    }
}

fn check_category(s: &str) -> Result<(), LogError> {
    check_prefixed("category", s, "STATEMENT_CATEGORY_")
}

fn check_provenance(s: &str) -> Result<(), LogError> {
    check_id("provenance", s)?;
    if s == "own_review" {
        return Ok(());
    }
    match s.strip_prefix("imported:") {
        Some(name) if !name.is_empty() => Ok(()),
        _ => Err(bad(format!(
            "provenance {s:?} is neither own_review nor imported:<list name>"
        ))),
    }
}

/// Check that `s` is `YYYY-MM-DDTHH:MM:SSZ`, a real date and time (UTC, no leap second).
pub fn check_time(s: &str) -> Result<(), LogError> {
    let b = s.as_bytes();
    let shape = b.len() == 20
        && b.iter().enumerate().all(|(i, &c)| match i {
            4 | 7 => c == b'-',
            10 => c == b'T',
            13 | 16 => c == b':',
            19 => c == b'Z',
            _ => c.is_ascii_digit(),
        });
    if !shape {
        return Err(bad(format!("time {s:?} is not YYYY-MM-DDTHH:MM:SSZ")));
    }
    let num = |r: std::ops::Range<usize>| -> u32 {
        b[r].iter().fold(0, |a, &d| a * 10 + u32::from(d - b'0'))
    };
    let (y, mo, d, h, mi, se) = (
        num(0..4),
        num(5..7),
        num(8..10),
        num(11..13),
        num(14..16),
        num(17..19),
    );
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let days = match mo {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => 0,
    };
    if d == 0 || d > days || h > 23 || mi > 59 || se > 59 {
        return Err(bad(format!("time {s:?} is not a valid date and time")));
    }
    Ok(())
}

impl EntryBody {
    /// The `type` of this entry.
    pub fn type_name(&self) -> &'static str {
        match self {
            EntryBody::Bank(_) => "bank",
            EntryBody::BankContent(_) => "bank_content",
            EntryBody::Decision(_) => "decision",
            EntryBody::Review(_) => "review",
            EntryBody::Appeal(_) => "appeal",
            EntryBody::AppealOutcome(_) => "appeal_outcome",
            EntryBody::PolicyChange(_) => "policy_change",
            EntryBody::NoticeDeferred(_) => "notice_deferred",
            EntryBody::Sampled(_) => "sampled",
        }
    }

    /// The lowest encoding version that can express this entry (see the module doc).
    pub fn version(&self) -> u64 {
        if let EntryBody::BankContent(e) = self {
            if e.signal == SignalKind::Sha1 {
                return 3;
            }
        }
        let v2 = match self {
            EntryBody::Bank(e) => e.negative,
            EntryBody::Decision(e) => e.unhashable,
            EntryBody::BankContent(e) => e.content_commitment.is_some(),
            EntryBody::Review(e) => e.content_commitment.is_some(),
            EntryBody::Appeal(e) => e.review_item.is_some(),
            EntryBody::AppealOutcome(e) => e.review_item.is_some(),
            EntryBody::PolicyChange(e) => e.private_surfaces.is_some(),
            EntryBody::NoticeDeferred(e) => e.review_item.is_some(),
            EntryBody::Sampled(_) => true,
        };
        if v2 {
            2
        } else {
            1
        }
    }

    fn validate(&self) -> Result<(), LogError> {
        match self {
            EntryBody::Bank(e) => {
                check_id("bank", &e.bank)?;
                check_category(&e.category)?;
            }
            EntryBody::BankContent(e) => {
                check_id("bank", &e.bank)?;
                check_id("content", &e.content)?;
                check_category(&e.category)?;
                check_provenance(&e.provenance)?;
                if let Some(r) = &e.reason {
                    if e.op != ContentOp::Retract {
                        return Err(bad("reason is only allowed with op retract"));
                    }
                    check_text("reason", r, MAX_STRING)?;
                }
                if e.content_commitment.is_some()
                    && (e.op != ContentOp::Add || e.provenance != "own_review")
                {
                    return Err(bad(
                        "content_commitment is only allowed with op add and provenance own_review",
                    ));
                }
            }
            EntryBody::Decision(e) => {
                check_id("decision", &e.decision)?;
                check_id("policy", &e.policy)?;
                check_charset("surface", &e.surface, 64, lower)?;
                if e.territorial_scope.len() > MAX_TERRITORIES {
                    return Err(bad("territorial_scope has too many countries"));
                }
                for c in &e.territorial_scope {
                    if c.len() != 2 || !c.bytes().all(|b| b.is_ascii_uppercase()) {
                        return Err(bad(format!(
                            "territorial_scope: {c:?} is not an ISO 3166-1 alpha-2 code"
                        )));
                    }
                }
                if e.territorial_scope.windows(2).any(|w| w[0] >= w[1]) {
                    return Err(bad("territorial_scope is not sorted and unique"));
                }
                check_category(&e.category)?;
                check_prefixed("decision_ground", &e.decision_ground, "DECISION_GROUND_")?;
                if !matches!(
                    e.automated_decision.as_str(),
                    "AUTOMATED_DECISION_FULLY"
                        | "AUTOMATED_DECISION_PARTIALLY"
                        | "AUTOMATED_DECISION_NOT_AUTOMATED"
                ) {
                    return Err(bad(format!(
                        "automated_decision {:?} is not a DSA value",
                        e.automated_decision
                    )));
                }
                check_charset("content_type", &e.content_type, 128, upper)?;
                check_charset("source_type", &e.source_type, 128, upper)?;
                if let Some(b) = &e.bank {
                    check_id("bank", b)?;
                }
                if e.unhashable && (e.bank.is_some() || e.distance.is_some()) {
                    return Err(bad("an unhashable decision names no bank and no distance"));
                }
            }
            EntryBody::Review(e) => {
                if let Some(d) = &e.decision {
                    check_id("decision", d)?;
                }
                check_id("review_item", &e.review_item)?;
                if let Some(b) = &e.bank {
                    check_id("bank", b)?;
                }
            }
            EntryBody::Appeal(e) => {
                check_id("appeal", &e.appeal)?;
                check_subject(&e.decision, &e.review_item)?;
            }
            EntryBody::AppealOutcome(e) => {
                check_id("appeal", &e.appeal)?;
                check_subject(&e.decision, &e.review_item)?;
            }
            EntryBody::PolicyChange(e) => {
                check_id("policy", &e.policy)?;
                if (e.op == ChangeOp::Delete) != e.digest.is_none() {
                    return Err(bad(
                        "policy_change: digest must be present unless op is delete",
                    ));
                }
                if (e.policy == SAMPLING_POLICY) != e.private_surfaces.is_some() {
                    return Err(bad(
                        "policy_change: private_surfaces is present exactly for [sampling]",
                    ));
                }
            }
            EntryBody::Sampled(e) => {
                check_id("review_item", &e.review_item)?;
                check_charset("surface", &e.surface, 64, lower)?;
            }
            EntryBody::NoticeDeferred(e) => {
                check_subject(&e.decision, &e.review_item)?;
                check_text("legal_basis", &e.legal_basis, MAX_STRING)?;
                if e.legal_basis.chars().count() > MAX_LEGAL_BASIS_CHARS {
                    return Err(bad("legal_basis is longer than 200 characters"));
                }
            }
        }
        Ok(())
    }

    fn to_json(&self) -> serde_json::Result<Vec<u8>> {
        match self {
            EntryBody::Bank(e) => serde_json::to_vec(e),
            EntryBody::BankContent(e) => serde_json::to_vec(e),
            EntryBody::Decision(e) => serde_json::to_vec(e),
            EntryBody::Review(e) => serde_json::to_vec(e),
            EntryBody::Appeal(e) => serde_json::to_vec(e),
            EntryBody::AppealOutcome(e) => serde_json::to_vec(e),
            EntryBody::PolicyChange(e) => serde_json::to_vec(e),
            EntryBody::NoticeDeferred(e) => serde_json::to_vec(e),
            EntryBody::Sampled(e) => serde_json::to_vec(e),
        }
    }

    fn from_json(ty: &str, v: serde_json::Value) -> Result<EntryBody, LogError> {
        fn de<T: serde::de::DeserializeOwned>(v: serde_json::Value) -> Result<T, LogError> {
            serde_json::from_value(v).map_err(|e| bad(e.to_string()))
        }
        Ok(match ty {
            "bank" => EntryBody::Bank(de(v)?),
            "bank_content" => EntryBody::BankContent(de(v)?),
            "decision" => EntryBody::Decision(de(v)?),
            "review" => EntryBody::Review(de(v)?),
            "appeal" => EntryBody::Appeal(de(v)?),
            "appeal_outcome" => EntryBody::AppealOutcome(de(v)?),
            "policy_change" => EntryBody::PolicyChange(de(v)?),
            "notice_deferred" => EntryBody::NoticeDeferred(de(v)?),
            "sampled" => EntryBody::Sampled(de(v)?),
            other => {
                return Err(bad(format!(
                    "unknown type {:?}",
                    other.chars().take(64).collect::<String>()
                )))
            }
        })
    }
}

impl Entry {
    pub fn new(time: impl Into<String>, body: EntryBody) -> Entry {
        Entry {
            time: time.into(),
            body,
        }
    }

    pub fn type_name(&self) -> &'static str {
        self.body.type_name()
    }

    /// Check every field against the spec (not the encoded size; see [`Entry::encode_checked`]).
    pub fn validate(&self) -> Result<(), LogError> {
        check_time(&self.time)?;
        self.body.validate()
    }

    /// The canonical encoding. Does not validate: use [`Entry::encode_checked`] before
    /// appending an entry to the log.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(256);
        out.extend_from_slice(b"{\"v\":");
        out.extend_from_slice(self.body.version().to_string().as_bytes());
        out.extend_from_slice(b",\"type\":\"");
        out.extend_from_slice(self.type_name().as_bytes());
        out.extend_from_slice(b"\",\"time\":");
        // Serializing a string or a derived struct of strings, integers and bools cannot fail.
        out.extend_from_slice(&serde_json::to_vec(&self.time).unwrap_or_default());
        let body = self.body.to_json().unwrap_or_default();
        // `body` is `{...}`: splice its members after ours.
        if body.len() > 2 {
            out.push(b',');
            out.extend_from_slice(&body[1..]);
        } else {
            out.push(b'}');
        }
        out
    }

    /// Validate, encode, and check the encoded size (≤ 65,535 bytes).
    pub fn encode_checked(&self) -> Result<Vec<u8>, LogError> {
        self.validate()?;
        let out = self.encode();
        if out.len() > MAX_ENCODED_ENTRY {
            return Err(bad(format!(
                "entry is {} bytes, at most {MAX_ENCODED_ENTRY}",
                out.len()
            )));
        }
        Ok(out)
    }

    /// Parse and check an entry; refuses anything but the canonical encoding of a valid entry.
    pub fn decode(bytes: &[u8]) -> Result<Entry, LogError> {
        if bytes.len() > MAX_ENCODED_ENTRY {
            return Err(bad(format!(
                "entry is {} bytes, at most {MAX_ENCODED_ENTRY}",
                bytes.len()
            )));
        }
        let value: serde_json::Value =
            serde_json::from_slice(bytes).map_err(|e| bad(format!("not JSON: {e}")))?;
        let serde_json::Value::Object(mut map) = value else {
            return Err(bad("not a JSON object"));
        };
        match map.remove("v") {
            Some(serde_json::Value::Number(n))
                if n.as_u64().is_some_and(|v| (1..=ENTRY_VERSION).contains(&v)) => {}
            Some(v) => return Err(bad(format!("unsupported version {v}"))),
            None => return Err(bad("missing field `v`")),
        }
        let ty = match map.remove("type") {
            Some(serde_json::Value::String(s)) => s,
            Some(_) => return Err(bad("`type` is not a string")),
            None => return Err(bad("missing field `type`")),
        };
        let time = match map.remove("time") {
            Some(serde_json::Value::String(s)) => s,
            Some(_) => return Err(bad("`time` is not a string")),
            None => return Err(bad("missing field `time`")),
        };
        let body = EntryBody::from_json(&ty, serde_json::Value::Object(map))?;
        let entry = Entry { time, body };
        entry.validate()?;
        if entry.encode() != bytes {
            return Err(bad(
                "not in canonical form (key order, whitespace, escapes or number format)",
            ));
        }
        Ok(entry)
    }
}

/// One valid example of each type, in the order of [`ENTRY_TYPES`] (for docs and tests).
pub fn examples() -> Vec<Entry> {
    let t = "2026-11-23T14:10:49Z";
    let h = |b: u8| [b; 32];
    vec![
        Entry::new(
            t,
            EntryBody::Bank(BankEntry {
                bank: "csam-ncmec".into(),
                op: ChangeOp::Create,
                category: "STATEMENT_CATEGORY_PROTECTION_OF_MINORS".into(),
                enabled: true,
                pdq_threshold: 31,
                negative: false,
            }),
        ),
        Entry::new(
            t,
            EntryBody::BankContent(BankContentEntry {
                bank: "csam-ncmec".into(),
                content: "01JD8X3Q6Z".into(),
                op: ContentOp::Add,
                signal: SignalKind::Pdq,
                commitment: h(1),
                category: "STATEMENT_CATEGORY_PROTECTION_OF_MINORS".into(),
                provenance: "imported:ncmec".into(),
                reason: None,
                content_commitment: None,
            }),
        ),
        Entry::new(
            t,
            EntryBody::Decision(DecisionEntry {
                decision: "01JD8X4A0B".into(),
                action: Action::Withhold,
                policy: "csam".into(),
                surface: "direct".into(),
                territorial_scope: vec!["DE".into(), "FR".into()],
                category: "STATEMENT_CATEGORY_PROTECTION_OF_MINORS".into(),
                decision_ground: "DECISION_GROUND_ILLEGAL_CONTENT".into(),
                automated_detection: true,
                automated_decision: AUTOMATED_DECISION_FULLY.into(),
                content_type: "CONTENT_TYPE_IMAGE".into(),
                source_type: "SOURCE_VOLUNTARY".into(),
                bank: Some("csam-ncmec".into()),
                distance: Some(12),
                recipients: 3,
                content_commitment: h(2),
                unhashable: false,
            }),
        ),
        Entry::new(
            t,
            EntryBody::Review(ReviewEntry {
                decision: Some("01JD8X4A0B".into()),
                review_item: "01JD8X5C1D".into(),
                outcome: ReviewOutcome::Confirmed,
                bank: Some("csam-ncmec".into()),
                content_commitment: None,
            }),
        ),
        Entry::new(
            t,
            EntryBody::Appeal(AppealEntry {
                appeal: "01JD8X6E2F".into(),
                decision: Some("01JD8X4A0B".into()),
                review_item: None,
            }),
        ),
        Entry::new(
            t,
            EntryBody::AppealOutcome(AppealOutcomeEntry {
                appeal: "01JD8X6E2F".into(),
                decision: Some("01JD8X4A0B".into()),
                review_item: None,
                outcome: AppealOutcome::Upheld,
            }),
        ),
        Entry::new(
            t,
            EntryBody::PolicyChange(PolicyChangeEntry {
                policy: "csam".into(),
                op: ChangeOp::Update,
                digest: Some(h(3)),
                private_surfaces: None,
            }),
        ),
        Entry::new(
            t,
            EntryBody::NoticeDeferred(NoticeDeferredEntry {
                decision: Some("01JD8X4A0B".into()),
                review_item: None,
                legal_basis: "DSA Art. 17(1): information requested by a judicial authority".into(),
            }),
        ),
        Entry::new(
            t,
            EntryBody::Sampled(SampledEntry {
                review_item: "01JD8X7G3H".into(),
                surface: "direct".into(),
                content_commitment: h(4),
            }),
        ),
    ]
}

/// One valid example of each version-2 form of a version-1 type (for docs and tests).
pub fn examples_v2() -> Vec<Entry> {
    let t = "2026-11-23T14:10:49Z";
    let h = |b: u8| [b; 32];
    vec![
        Entry::new(
            t,
            EntryBody::Decision(DecisionEntry {
                decision: "01JD8XAN6P".into(),
                action: Action::HoldForReview,
                policy: "unhashable-public-review".into(),
                surface: "public".into(),
                territorial_scope: vec![],
                category: "STATEMENT_CATEGORY_OTHER_VIOLATION_TC".into(),
                decision_ground: "DECISION_GROUND_INCOMPATIBLE_CONTENT".into(),
                automated_detection: true,
                automated_decision: AUTOMATED_DECISION_FULLY.into(),
                content_type: "CONTENT_TYPE_IMAGE".into(),
                source_type: "SOURCE_VOLUNTARY".into(),
                bank: None,
                distance: None,
                recipients: 0,
                content_commitment: h(7),
                unhashable: true,
            }),
        ),
        Entry::new(
            t,
            EntryBody::BankContent(BankContentEntry {
                bank: "tcap-hashes".into(),
                content: "01JD8X8J4K".into(),
                op: ContentOp::Add,
                signal: SignalKind::Pdq,
                commitment: h(5),
                category: "STATEMENT_CATEGORY_RISK_FOR_PUBLIC_SECURITY".into(),
                provenance: "own_review".into(),
                reason: None,
                content_commitment: Some(h(4)),
            }),
        ),
        Entry::new(
            t,
            EntryBody::Review(ReviewEntry {
                decision: None,
                review_item: "01JD8X7G3H".into(),
                outcome: ReviewOutcome::Confirmed,
                bank: Some("tcap-hashes".into()),
                content_commitment: Some(h(4)),
            }),
        ),
        Entry::new(
            t,
            EntryBody::Appeal(AppealEntry {
                appeal: "01JD8X9L5M".into(),
                decision: None,
                review_item: Some("01JD8X7G3H".into()),
            }),
        ),
        Entry::new(
            t,
            EntryBody::AppealOutcome(AppealOutcomeEntry {
                appeal: "01JD8X9L5M".into(),
                decision: None,
                review_item: Some("01JD8X7G3H".into()),
                outcome: AppealOutcome::Reversed,
            }),
        ),
        Entry::new(
            t,
            EntryBody::PolicyChange(PolicyChangeEntry {
                policy: SAMPLING_POLICY.into(),
                op: ChangeOp::Update,
                digest: Some(h(6)),
                private_surfaces: Some(true),
            }),
        ),
        Entry::new(
            t,
            EntryBody::NoticeDeferred(NoticeDeferredEntry {
                decision: None,
                review_item: Some("01JD8X7G3H".into()),
                legal_basis: "DSA Art. 17(1): information requested by a judicial authority".into(),
            }),
        ),
        Entry::new(
            t,
            EntryBody::Bank(BankEntry {
                bank: "benign-memes".into(),
                op: ChangeOp::Create,
                category: "STATEMENT_CATEGORY_OTHER_VIOLATION_TC".into(),
                enabled: true,
                pdq_threshold: 31,
                negative: true,
            }),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times() {
        for ok in [
            "2026-11-23T14:10:49Z",
            "2024-02-29T00:00:00Z",
            "2000-02-29T23:59:59Z",
        ] {
            check_time(ok).unwrap();
        }
        for bad in [
            "2026-11-23T14:10:49",
            "2026-11-23T14:10:49.5Z",
            "2026-11-23 14:10:49Z",
            "2026-11-23T14:10:49+00:00",
            "2023-02-29T00:00:00Z",
            "1900-02-29T00:00:00Z",
            "2026-13-01T00:00:00Z",
            "2026-00-01T00:00:00Z",
            "2026-04-31T00:00:00Z",
            "2026-01-01T24:00:00Z",
            "2026-01-01T00:60:00Z",
            "2026-01-01T00:00:60Z",
            "2026-1-01T00:00:00Z",
            "",
        ] {
            assert!(check_time(bad).is_err(), "{bad}");
        }
    }
}
