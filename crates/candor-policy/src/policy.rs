//! Policies as data: parsing (TOML, JSON), validation, canonical JSON.

use crate::dsa::{limits, AutomatedDecision, Category, DecisionGround};
use crate::model::{check_jurisdiction, Action, Surface, Trigger};
use crate::Error;
use serde::{Deserialize, Serialize};
use std::collections::HashSet;

fn yes() -> bool {
    true
}

/// One rule: which matches, where, what to do, and the statement's legal basis.
///
/// Field order is the canonical JSON order ([`Policy::canonical_json`]); do not reorder. Fields
/// added later (`trigger`, `category`) come last and are left out at their default, so the
/// canonical JSON — and the transparency log's digest — of a policy that does not use them is
/// what it was before they existed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    /// Slug `[a-z0-9][a-z0-9_-]{0,63}`.
    pub id: String,
    /// Human name (shown in notices).
    pub name: String,
    /// What the policy is for.
    #[serde(default)]
    pub description: String,
    /// Banks whose matches trigger the policy (`trigger = "match"`).
    #[serde(default)]
    pub banks: Vec<String>,
    /// Bank categories whose matches trigger the policy (`trigger = "match"`).
    #[serde(default)]
    pub categories: Vec<Category>,
    /// Surfaces it applies on (empty = all).
    #[serde(default)]
    pub surfaces: Vec<Surface>,
    /// ISO 3166-1 alpha-2 jurisdictions whose people it protects (empty = everywhere): recipients
    /// and audiences there are restricted; a `block` also removes at source content shared from
    /// there, and withholds content shared from elsewhere (see [`crate::effective_action`]).
    #[serde(default)]
    pub jurisdictions: Vec<String>,
    /// `block`, `withhold` or `hold_for_review` (never `deliver`).
    pub action: Action,
    /// A tighter PDQ threshold than the bank's (inclusive).
    #[serde(default)]
    pub max_distance: Option<u32>,
    /// The statement's `decision_ground`.
    pub decision_ground: DecisionGround,
    /// The law (illegal content) or the terms-of-service clause (incompatible content); ≤ 500.
    pub legal_ground: String,
    /// Why matching content is illegal or incompatible on that ground; ≤ 2000.
    pub explanation: String,
    /// Overrides the statement's `automated_decision` (see [`Policy::automated_decision`]).
    #[serde(default)]
    pub automated_decision: Option<AutomatedDecision>,
    /// Disabled policies never apply.
    #[serde(default = "yes")]
    pub enabled: bool,
    /// `match` (default: a match in `banks` or `categories`) or `unhashable` (content Candor
    /// could not hash; no banks, categories or `max_distance`, and `category` is required).
    #[serde(default, skip_serializing_if = "Trigger::is_match")]
    pub trigger: Trigger,
    /// The statement's DSA category for `trigger = "unhashable"` (a match's category is its
    /// bank's, so a `match` policy has none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<Category>,
    /// How urgent the review of what this policy holds is, 0..=100 (higher first in the queue
    /// ordered by priority; default [`DEFAULT_REVIEW_PRIORITY`]). Only `hold_for_review` puts
    /// anything in the queue; left out of the canonical JSON when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub review_priority: Option<u32>,
}

/// The review priority of an item a policy without `review_priority` holds (sampled unknown
/// content is queued at 0: nothing matched it).
pub const DEFAULT_REVIEW_PRIORITY: u32 = 50;

/// The highest review priority.
pub const MAX_REVIEW_PRIORITY: u32 = 100;

impl Policy {
    /// The statement's `automated_decision`: the policy's value, else `AUTOMATED_DECISION_FULLY`.
    ///
    /// Matching and the resulting restriction are taken without a person for every action; for
    /// `hold_for_review` the restriction is provisional (the reviewer's decision gets its own
    /// statement), which `decision_facts` and the notice say in words.
    pub fn automated_decision(&self) -> AutomatedDecision {
        self.automated_decision.unwrap_or(AutomatedDecision::Fully)
    }

    /// The priority of the review items this policy holds: its `review_priority`, else
    /// [`DEFAULT_REVIEW_PRIORITY`].
    pub fn review_priority(&self) -> u32 {
        self.review_priority.unwrap_or(DEFAULT_REVIEW_PRIORITY)
    }

    /// The policy as JSON with fields in declared order, absent options as `null`, no whitespace.
    /// The transparency log commits to its SHA-256.
    pub fn canonical_json(&self) -> String {
        serde_json::to_string(self).expect("a policy always serializes")
    }

    /// Checks one policy (see [`PolicySet::validate`]).
    pub fn validate(&self) -> Result<(), Error> {
        if !is_slug(&self.id) {
            return Err(Error::BadSlug(self.id.clone()));
        }
        let id = &self.id;
        let text = |field: &'static str, v: &str, max: usize| {
            if v.trim().is_empty() || v.chars().count() > max {
                Err(Error::BadField {
                    policy: id.clone(),
                    field,
                    why: format!("1..={max} characters"),
                })
            } else {
                Ok(())
            }
        };
        text("name", &self.name, 200)?;
        if self.description.chars().count() > 2000 {
            return Err(Error::BadField {
                policy: id.clone(),
                field: "description",
                why: "at most 2000 characters".into(),
            });
        }
        text("legal_ground", &self.legal_ground, limits::GROUND)?;
        text("explanation", &self.explanation, limits::EXPLANATION)?;
        let bad = |field: &'static str, why: &str| {
            Err(Error::BadField {
                policy: id.clone(),
                field,
                why: why.to_string(),
            })
        };
        match self.trigger {
            Trigger::Match => {
                if self.banks.is_empty() && self.categories.is_empty() {
                    return Err(Error::EmptyMatchSet(id.clone()));
                }
                if self.category.is_some() {
                    return bad(
                        "category",
                        "left out unless trigger = \"unhashable\" (a match's category is its bank's)",
                    );
                }
            }
            Trigger::Unhashable => {
                if self.category.is_none() {
                    return bad(
                        "category",
                        "set for trigger = \"unhashable\": it is the statement's DSA category",
                    );
                }
                if !self.banks.is_empty() || !self.categories.is_empty() {
                    return bad(
                        "banks",
                        "empty, like categories, for trigger = \"unhashable\": content that could not be hashed matches no bank",
                    );
                }
                if self.max_distance.is_some() {
                    return bad(
                        "max_distance",
                        "left out for trigger = \"unhashable\": there is no distance",
                    );
                }
            }
        }
        if self.banks.iter().any(|b| b.is_empty() || b.len() > 256) {
            return Err(Error::BadField {
                policy: id.clone(),
                field: "banks",
                why: "bank names are 1..=256 bytes".into(),
            });
        }
        for j in &self.jurisdictions {
            check_jurisdiction(j, &format!("policy {id}"))?;
        }
        if self.action == Action::Deliver {
            return Err(Error::DeliverAction(id.clone()));
        }
        if let Some(p) = self.review_priority {
            if p > MAX_REVIEW_PRIORITY {
                return bad("review_priority", "0..=100 (higher is reviewed first)");
            }
        }
        if let Some(d) = self.max_distance {
            if d > 256 {
                return Err(Error::BadField {
                    policy: id.clone(),
                    field: "max_distance",
                    why: "PDQ distances are 0..=256".into(),
                });
            }
        }
        Ok(())
    }
}

/// Whether `s` matches `[a-z0-9][a-z0-9_-]{0,63}`.
pub fn is_slug(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= 64
        && (b[0].is_ascii_lowercase() || b[0].is_ascii_digit())
        && b.iter()
            .all(|&c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'_' || c == b'-')
}

/// Review sampling of content that matched nothing.
///
/// Sampling puts a person in front of content nobody flagged. On private surfaces (`direct`,
/// `group`) that is reading private messages, so it must be published explicitly:
/// [`PolicySet::validate`] refuses a rate above 0 on `direct` or `group` (or on all surfaces,
/// `surfaces = []`) unless `private_surfaces = true`, and [`Sampling::samples`] never samples a
/// private surface without it.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sampling {
    /// Probability in `0..=1` (default 0: never).
    #[serde(default)]
    pub rate: f64,
    /// Surfaces sampled (empty = all).
    #[serde(default)]
    pub surfaces: Vec<Surface>,
    /// The published consent to sample private surfaces (`direct`, `group`); default false.
    /// Always serialized, so it shows wherever the set is published.
    #[serde(default)]
    pub private_surfaces: bool,
}

impl Sampling {
    /// Whether unknown content on `surface` may be sampled at all: the surface is listed (or
    /// `surfaces` is empty), the rate is above 0, and a private surface needs
    /// `private_surfaces`.
    pub fn samples(&self, surface: Surface) -> bool {
        self.rate > 0.0
            && (self.surfaces.is_empty() || self.surfaces.contains(&surface))
            && (surface == Surface::Public || self.private_surfaces)
    }

    /// The private surfaces this sampling would reach if allowed (in surface order).
    pub fn private_surfaces_reached(&self) -> Vec<Surface> {
        [Surface::Direct, Surface::Group]
            .into_iter()
            .filter(|s| self.surfaces.is_empty() || self.surfaces.contains(s))
            .collect()
    }
}

/// All policies, in priority order (first wins a tie), and sampling.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicySet {
    /// The policies; JSON also accepts `policy`.
    #[serde(default, alias = "policy")]
    pub policies: Vec<Policy>,
    /// Sampling of unmatched content for review.
    #[serde(default)]
    pub sampling: Sampling,
}

/// The TOML shape: `[[policy]]` tables and `[sampling]`.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct TomlSet {
    #[serde(default)]
    sampling: Sampling,
    #[serde(default)]
    policy: Vec<Policy>,
}

impl PolicySet {
    /// Parses `[[policy]]` tables and `[sampling]`, then validates.
    pub fn from_toml_str(s: &str) -> Result<PolicySet, Error> {
        let t: TomlSet = toml::from_str(s).map_err(|e| Error::Parse(e.to_string()))?;
        let set = PolicySet {
            policies: t.policy,
            sampling: t.sampling,
        };
        set.validate()?;
        Ok(set)
    }

    /// The set as TOML (`[sampling]` then `[[policy]]` tables).
    pub fn to_toml_string(&self) -> Result<String, Error> {
        let t = TomlSet {
            sampling: self.sampling.clone(),
            policy: self.policies.clone(),
        };
        toml::to_string(&t).map_err(|e| Error::Parse(e.to_string()))
    }

    /// Parses `{"policies": [...], "sampling": {...}}`, then validates.
    pub fn from_json_str(s: &str) -> Result<PolicySet, Error> {
        let set: PolicySet = serde_json::from_str(s).map_err(|e| Error::Parse(e.to_string()))?;
        set.validate()?;
        Ok(set)
    }

    /// The set as JSON.
    pub fn to_json_string(&self) -> String {
        serde_json::to_string(self).expect("a policy set always serializes")
    }

    /// Checks every policy, unique ids, the sampling rate, and that sampling reaches a private
    /// surface only with `private_surfaces = true`.
    pub fn validate(&self) -> Result<(), Error> {
        let mut ids = HashSet::new();
        for p in &self.policies {
            p.validate()?;
            if !ids.insert(p.id.as_str()) {
                return Err(Error::DuplicateId(p.id.clone()));
            }
        }
        let r = self.sampling.rate;
        if !(0.0..=1.0).contains(&r) {
            return Err(Error::RateOutOfRange(r));
        }
        let private = self.sampling.private_surfaces_reached();
        if r > 0.0 && !private.is_empty() && !self.sampling.private_surfaces {
            return Err(Error::PrivateSampling(
                private
                    .iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            ));
        }
        Ok(())
    }
}
