//! The published numbers: counts recomputed from log entries. The server publishes them and
//! verifiers recompute them with this same code, so the two can be compared field by field.
//!
//! JSON shape (keys in this order, maps sorted by key, integers only):
//!
//! ```text
//! {"tree_size":N,
//!  "decisions":{"total":..,"by_action":{..},"by_policy":{..},"by_category":{..},
//!               "by_jurisdiction":{..},"by_surface":{..},"automated":..,"human":..,
//!               "unhashable":..},
//!  "reviews":{"confirmed":..,"rejected":..},
//!  "samples":{"total":..,"by_surface":{..}},
//!  "appeals":{"total":..,"upheld":..,"reversed":..},
//!  "bank_changes":{"add":..,"retract":..,"enable":..,"disable":..},
//!  "banks":{"create":..,"update":..,"delete":..},
//!  "policy_changes":..,"notices_deferred":..}
//! ```
//!
//! - `tree_size`: the number of entries applied (the log size the numbers describe).
//! - `decisions.by_jurisdiction`: each country of a decision's `territorial_scope` counts once.
//! - `decisions.automated`: decisions with `automated_decision` = `AUTOMATED_DECISION_FULLY`;
//!   `human`: all other decisions (partly or not automated); `unhashable`: decisions on content
//!   that could not be hashed, taken by a published `unhashable` rule.
//! - `appeals.total` counts `appeal` entries, `upheld`/`reversed` count `appeal_outcome`s.
//! - `banks` counts `bank` entries (banks created, updated, deleted).
//! - `samples.total` counts `sampled` entries (unknown content picked for human review);
//!   `by_surface` breaks them down by surface (`direct` and `group` are private surfaces).
//! - Every entry counts in exactly one counter besides `tree_size` (`decisions.total`,
//!   `reviews.*`, `samples.total`, `appeals.*`, `bank_changes.*`, `banks.*`, `policy_changes`,
//!   `notices_deferred`), so their sum is `tree_size`: numbers published for a smaller
//!   `tree_size` than they were computed at never match the entries.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::entry::{AppealOutcome, Entry, EntryBody, ReviewOutcome, AUTOMATED_DECISION_FULLY};

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Numbers {
    pub tree_size: u64,
    pub decisions: DecisionNumbers,
    pub reviews: ReviewNumbers,
    pub samples: SampleNumbers,
    pub appeals: AppealNumbers,
    pub bank_changes: BankChangeNumbers,
    pub banks: BankNumbers,
    pub policy_changes: u64,
    pub notices_deferred: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DecisionNumbers {
    pub total: u64,
    pub by_action: BTreeMap<String, u64>,
    pub by_policy: BTreeMap<String, u64>,
    pub by_category: BTreeMap<String, u64>,
    pub by_jurisdiction: BTreeMap<String, u64>,
    pub by_surface: BTreeMap<String, u64>,
    pub automated: u64,
    pub human: u64,
    pub unhashable: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReviewNumbers {
    pub confirmed: u64,
    pub rejected: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SampleNumbers {
    pub total: u64,
    pub by_surface: BTreeMap<String, u64>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppealNumbers {
    pub total: u64,
    pub upheld: u64,
    pub reversed: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BankChangeNumbers {
    pub add: u64,
    pub retract: u64,
    pub enable: u64,
    pub disable: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BankNumbers {
    pub create: u64,
    pub update: u64,
    pub delete: u64,
}

fn bump(map: &mut BTreeMap<String, u64>, key: &str) {
    *map.entry(key.to_owned()).or_insert(0) += 1;
}

impl Numbers {
    /// Count one more entry.
    pub fn apply(&mut self, entry: &Entry) {
        self.tree_size += 1;
        match &entry.body {
            EntryBody::Bank(e) => {
                let b = &mut self.banks;
                *match e.op {
                    crate::entry::ChangeOp::Create => &mut b.create,
                    crate::entry::ChangeOp::Update => &mut b.update,
                    crate::entry::ChangeOp::Delete => &mut b.delete,
                } += 1;
            }
            EntryBody::BankContent(e) => {
                let b = &mut self.bank_changes;
                *match e.op {
                    crate::entry::ContentOp::Add => &mut b.add,
                    crate::entry::ContentOp::Retract => &mut b.retract,
                    crate::entry::ContentOp::Enable => &mut b.enable,
                    crate::entry::ContentOp::Disable => &mut b.disable,
                } += 1;
            }
            EntryBody::Decision(e) => {
                let d = &mut self.decisions;
                d.total += 1;
                bump(&mut d.by_action, e.action.as_str());
                bump(&mut d.by_policy, &e.policy);
                bump(&mut d.by_category, &e.category);
                for c in &e.territorial_scope {
                    bump(&mut d.by_jurisdiction, c);
                }
                bump(&mut d.by_surface, &e.surface);
                if e.automated_decision == AUTOMATED_DECISION_FULLY {
                    d.automated += 1;
                } else {
                    d.human += 1;
                }
                if e.unhashable {
                    d.unhashable += 1;
                }
            }
            EntryBody::Review(e) => match e.outcome {
                ReviewOutcome::Confirmed => self.reviews.confirmed += 1,
                ReviewOutcome::Rejected => self.reviews.rejected += 1,
            },
            EntryBody::Appeal(_) => self.appeals.total += 1,
            EntryBody::AppealOutcome(e) => match e.outcome {
                AppealOutcome::Upheld => self.appeals.upheld += 1,
                AppealOutcome::Reversed => self.appeals.reversed += 1,
            },
            EntryBody::PolicyChange(_) => self.policy_changes += 1,
            EntryBody::NoticeDeferred(_) => self.notices_deferred += 1,
            EntryBody::Sampled(e) => {
                self.samples.total += 1;
                bump(&mut self.samples.by_surface, &e.surface);
            }
        }
    }

    /// The numbers of a sequence of entries (the whole log, from entry 0).
    pub fn from_entries<'a, I: IntoIterator<Item = &'a Entry>>(entries: I) -> Numbers {
        let mut n = Numbers::default();
        for e in entries {
            n.apply(e);
        }
        n
    }

    /// The published form: compact JSON in the documented key order.
    pub fn to_json(&self) -> Vec<u8> {
        // A struct of integers and string-keyed maps always serializes.
        serde_json::to_vec(self).unwrap_or_default()
    }
}
