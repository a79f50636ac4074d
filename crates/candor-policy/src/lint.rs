//! Lints: what is legal in a policy set but probably not what its author meant, checked against
//! the banks that exist.
//!
//! Levels: `error` — the set does not load ([`PolicySet::validate`] refuses it), so no rule in it
//! can act at all; every validation error is reported, each naming its policy. `warning` — the
//! set loads but a rule, or part of one, can never act as written. `info` — worth knowing.
//!
//! | code | level | what |
//! |---|---|---|
//! | `invalid` | error | the policy fails validation (bad slug, non-ISO jurisdiction, deliver action, …) |
//! | `duplicate-id` | error | two policies share an id |
//! | `invalid-sampling` | error | the sampling rate is outside 0..=1, or reaches private surfaces without `private_surfaces = true` |
//! | `unknown-bank` | warning | a bank the policy lists does not exist |
//! | `unknown-category` | warning | no bank has a category the policy lists |
//! | `matches-nothing` | warning | nothing the policy lists exists: it cannot act until such a bank does |
//! | `max-distance-unreachable` | warning | `max_distance` is above the threshold of every bank the policy can match: distances between are never reached, the banks' thresholds decide |
//! | `shadowed` | warning | on every surface it covers, an earlier policy always decides instead (see below): the policy never decides |
//! | `shadowed-on-surface` | warning | the same, on some of its surfaces: listing them has no effect |
//! | `duplicate-entry` | warning | a bank, category, surface or jurisdiction listed twice |
//! | `disabled` | info | the policy is disabled: it never applies |
//! | `unhashable-undecided` | info | on some surfaces no `trigger = "unhashable"` policy applies: content that cannot be hashed is delivered there |
//!
//! **Surfaces.** Every value of `surfaces` is one a scan can carry (the parser refuses anything
//! else and `[]` means all three), so no policy can name an impossible surface as such. What
//! can be impossible is a listed surface on which the policy can never decide: that is
//! `shadowed-on-surface` (or `shadowed` when it holds for all of them).
//!
//! **Shadowing.** An earlier policy P shadows a later policy Q on surface `s` when, for every
//! scan on `s`, whenever Q would answer some recipient or audience jurisdiction, P answers it
//! too with at least the same severity — and so decides, being earlier. That holds when P is
//! enabled, has Q's trigger and applies on `s`, P's jurisdictions contain Q's (empty = all),
//! `severity(P.action) ≥ severity(Q.action)` (under the scope rule a block policy then proposes
//! at least as much as Q for every sender and target), and, for match policies, P applies to
//! every match Q applies to: each of Q's categories is one of P's, each of Q's banks is one of
//! P's or has one of P's categories, and P's `max_distance` is absent or at least Q's (which must
//! then be set). The lint checks one earlier policy at a time per surface: it never claims
//! shadowing that does not hold, but can miss shadowing by several policies together.

use crate::model::{severity, Surface, Trigger};
use crate::policy::{Policy, PolicySet};
use crate::sim::BankInfo;
use serde::Serialize;
use std::collections::HashSet;

/// How serious a lint is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LintLevel {
    /// Worth knowing.
    Info,
    /// The set loads, but a rule (or part of one) can never act as written.
    Warning,
    /// The set does not load.
    Error,
}

/// One finding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Lint {
    /// How serious.
    pub level: LintLevel,
    /// The policy concerned, if any.
    pub policy: Option<String>,
    /// A stable code (see the module documentation).
    pub code: &'static str,
    /// What is wrong, in words.
    pub message: String,
}

const SURFACES: [Surface; 3] = [Surface::Direct, Surface::Group, Surface::Public];

fn on(p: &Policy, s: Surface) -> bool {
    p.surfaces.is_empty() || p.surfaces.contains(&s)
}

fn jurisdictions_contain(outer: &Policy, inner: &Policy) -> bool {
    outer.jurisdictions.is_empty()
        || (!inner.jurisdictions.is_empty()
            && inner
                .jurisdictions
                .iter()
                .all(|j| outer.jurisdictions.contains(j)))
}

/// Whether `p` (earlier) shadows `q` (later) on `surface`: see the module documentation.
pub fn shadows(p: &Policy, q: &Policy, surface: Surface, banks: &[BankInfo]) -> bool {
    if !p.enabled || p.trigger != q.trigger || !on(p, surface) || !on(q, surface) {
        return false;
    }
    if !jurisdictions_contain(p, q) || severity(p.action) < severity(q.action) {
        return false;
    }
    if q.trigger == Trigger::Unhashable {
        return true;
    }
    let category_of = |b: &str| banks.iter().find(|x| x.name == b).map(|x| x.category);
    let covers_matches = q.categories.iter().all(|c| p.categories.contains(c))
        && q.banks.iter().all(|b| {
            p.banks.contains(b) || category_of(b).is_some_and(|c| p.categories.contains(&c))
        });
    let distance = match (p.max_distance, q.max_distance) {
        (None, _) => true,
        (Some(pd), Some(qd)) => qd <= pd,
        (Some(_), None) => false,
    };
    covers_matches && distance
}

fn duplicates<T: PartialEq + std::fmt::Debug>(v: &[T]) -> Vec<String> {
    let mut out = Vec::new();
    for (i, x) in v.iter().enumerate() {
        if v[..i].contains(x) && !out.contains(&format!("{x:?}")) {
            out.push(format!("{x:?}"));
        }
    }
    out
}

/// Lints `set` against the banks that exist. The set need not be valid: every validation error
/// is reported as an `error` lint, each naming its policy, next to the warnings.
pub fn lint(set: &PolicySet, banks: &[BankInfo]) -> Vec<Lint> {
    let mut out = Vec::new();
    let mut push = |level, policy: Option<&str>, code, message: String| {
        out.push(Lint {
            level,
            policy: policy.map(str::to_string),
            code,
            message,
        })
    };
    let mut ids = HashSet::new();
    for p in &set.policies {
        let id = Some(p.id.as_str());
        if let Err(e) = p.validate() {
            push(LintLevel::Error, id, "invalid", e.to_string());
        }
        if !ids.insert(p.id.as_str()) {
            push(
                LintLevel::Error,
                id,
                "duplicate-id",
                format!("policy id {:?} is used by an earlier policy", p.id),
            );
        }
    }
    let sampling_only = PolicySet {
        policies: Vec::new(),
        sampling: set.sampling.clone(),
    };
    if let Err(e) = sampling_only.validate() {
        push(LintLevel::Error, None, "invalid-sampling", e.to_string());
    }

    for (qi, q) in set.policies.iter().enumerate() {
        let id = Some(q.id.as_str());
        if !q.enabled {
            push(
                LintLevel::Info,
                id,
                "disabled",
                format!("policy {:?} is disabled: it never applies", q.id),
            );
        }
        for (what, d) in [
            ("banks", duplicates(&q.banks)),
            ("categories", duplicates(&q.categories)),
            ("surfaces", duplicates(&q.surfaces)),
            ("jurisdictions", duplicates(&q.jurisdictions)),
        ] {
            if !d.is_empty() {
                push(
                    LintLevel::Warning,
                    id,
                    "duplicate-entry",
                    format!(
                        "policy {:?} lists {} more than once in {what}",
                        q.id,
                        d.join(", ")
                    ),
                );
            }
        }
        if q.trigger == Trigger::Match {
            let mut reachable: Vec<&BankInfo> = Vec::new();
            for b in &q.banks {
                match banks.iter().find(|x| &x.name == b) {
                    Some(info) => reachable.push(info),
                    None => push(
                        LintLevel::Warning,
                        id,
                        "unknown-bank",
                        format!("policy {:?} lists bank {b:?}, which does not exist", q.id),
                    ),
                }
            }
            for c in &q.categories {
                let with: Vec<&BankInfo> = banks.iter().filter(|b| b.category == *c).collect();
                if with.is_empty() {
                    push(
                        LintLevel::Warning,
                        id,
                        "unknown-category",
                        format!(
                            "policy {:?} lists category {}, which no bank has",
                            q.id,
                            c.as_str()
                        ),
                    );
                }
                for b in with {
                    if !reachable.iter().any(|r| r.name == b.name) {
                        reachable.push(b);
                    }
                }
            }
            if reachable.is_empty() && !(q.banks.is_empty() && q.categories.is_empty()) {
                push(
                    LintLevel::Warning,
                    id,
                    "matches-nothing",
                    format!(
                        "policy {:?} can match nothing: none of its banks or categories exists yet",
                        q.id
                    ),
                );
            }
            if let Some(d) = q.max_distance {
                if !reachable.is_empty() && reachable.iter().all(|b| d > b.pdq_threshold) {
                    let max = reachable.iter().map(|b| b.pdq_threshold).max().unwrap_or(0);
                    push(
                        LintLevel::Warning,
                        id,
                        "max-distance-unreachable",
                        format!(
                            "policy {:?} has max_distance {d}, above the PDQ threshold of every bank it can match (at most {max}): it can never be reached, the banks' thresholds decide",
                            q.id
                        ),
                    );
                }
            }
        }
        if !q.enabled || q.validate().is_err() {
            continue;
        }
        let mine: Vec<Surface> = SURFACES.into_iter().filter(|s| on(q, *s)).collect();
        let by: Vec<(Surface, Option<&Policy>)> = mine
            .iter()
            .map(|&s| {
                (
                    s,
                    set.policies[..qi].iter().find(|p| shadows(p, q, s, banks)),
                )
            })
            .collect();
        let shadowed: Vec<String> = by
            .iter()
            .filter_map(|(s, p)| p.map(|p| format!("on {} by {:?}", s.as_str(), p.id)))
            .collect();
        if shadowed.is_empty() {
            continue;
        }
        if shadowed.len() == mine.len() {
            push(
                LintLevel::Warning,
                id,
                "shadowed",
                format!(
                    "policy {:?} can never decide: an earlier policy always decides first ({})",
                    q.id,
                    shadowed.join(", ")
                ),
            );
        } else {
            push(
                LintLevel::Warning,
                id,
                "shadowed-on-surface",
                format!(
                    "policy {:?} can never decide {}: an earlier policy always decides first, so listing that surface has no effect",
                    q.id,
                    shadowed.join(", ")
                ),
            );
        }
    }

    let undecided: Vec<&str> = SURFACES
        .into_iter()
        .filter(|&s| {
            !set.policies
                .iter()
                .any(|p| p.enabled && p.trigger == Trigger::Unhashable && on(p, s))
        })
        .map(Surface::as_str)
        .collect();
    if !undecided.is_empty() {
        push(
            LintLevel::Info,
            None,
            "unhashable-undecided",
            format!(
                "no trigger = \"unhashable\" policy applies on {}: content that cannot be hashed is delivered there",
                undecided.join(", ")
            ),
        );
    }
    out
}
