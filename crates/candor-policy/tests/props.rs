mod common;

use candor_policy::*;
use common::*;
use proptest::prelude::*;

const JS: [&str; 5] = ["DE", "FR", "US", "PT", "JP"];
const BANKS: [&str; 3] = ["b0", "b1", "b2"];
const CATS: [Category; 3] = [
    Category::ProtectionOfMinors,
    Category::RiskForPublicSecurity,
    Category::ScamsAndFraud,
];
const SURFACES: [Surface; 3] = [Surface::Direct, Surface::Group, Surface::Public];
const ACTIONS: [Action; 3] = [Action::Block, Action::Withhold, Action::HoldForReview];

fn subset<T: Clone + std::fmt::Debug + 'static>(
    pool: &'static [T],
) -> impl Strategy<Value = Vec<T>> {
    proptest::sample::subsequence(pool.to_vec(), 0..=pool.len())
}

prop_compose! {
    fn arb_policy()(
        banks in subset(&BANKS),
        categories in subset(&CATS),
        surfaces in subset(&SURFACES),
        jurisdictions in subset(&JS),
        action in proptest::sample::select(ACTIONS.to_vec()),
        max_distance in proptest::option::of(0u32..40),
        enabled in proptest::bool::weighted(0.85),
        unhashable in proptest::bool::weighted(0.2),
    ) -> Policy {
        let mut p = policy("x", action);
        p.banks = banks.iter().map(|s| s.to_string()).collect();
        p.categories = categories;
        if p.banks.is_empty() && p.categories.is_empty() {
            p.banks.push("b0".into());
        }
        p.surfaces = surfaces;
        p.jurisdictions = jurisdictions.iter().map(|s| s.to_string()).collect();
        p.max_distance = max_distance;
        p.enabled = enabled;
        if unhashable {
            p.trigger = Trigger::Unhashable;
            p.category = Some(Category::OtherViolationTc);
            p.banks.clear();
            p.categories.clear();
            p.max_distance = None;
        }
        p
    }
}

prop_compose! {
    fn arb_match()(
        bank in proptest::sample::select(BANKS.to_vec()),
        cat in proptest::sample::select(CATS.to_vec()),
        kind in 0u8..3,
        distance in 0u32..50,
    ) -> Match {
        match kind {
            0 => pdq(bank, cat, distance),
            1 => exact(bank, cat),
            _ => Match { signal: SignalType::Sha256, ..exact(bank, cat) },
        }
    }
}

prop_compose! {
    fn arb_ctx()(
        surface in proptest::sample::select(SURFACES.to_vec()),
        sender in proptest::sample::select(JS.to_vec()),
        recipients in proptest::collection::vec((0u8..8, proptest::sample::select(JS.to_vec())), 0..8),
        audience in proptest::option::of(proptest::collection::vec(proptest::sample::select(JS.to_vec()), 0..4)),
    ) -> ScanContext {
        let mut c = ctx(surface, sender, &[]);
        c.sender.account = "acct-sender".into();
        c.recipients = recipients.iter().map(|(a, j)| party(&format!("acct-{a}"), j)).collect();
        c.audience = audience.map(|jurisdictions| Audience {
            jurisdictions: jurisdictions.iter().map(|s| s.to_string()).collect(),
        });
        if c.recipients.is_empty() && c.audience.as_ref().is_none_or(|a| a.jurisdictions.is_empty()) {
            c.recipients.push(party("acct-0", "DE"));
        }
        c
    }
}

fn arb_set() -> impl Strategy<Value = PolicySet> {
    // Rates in basis points: serde_json (without `float_roundtrip`) parses short decimals exactly.
    (
        proptest::collection::vec(arb_policy(), 0..6),
        0u32..=10_000,
        subset(&SURFACES),
        any::<bool>(),
    )
        .prop_map(|(mut ps, bp, mut surfaces, private_surfaces)| {
            let rate = f64::from(bp) / 10_000.0;
            let private = surfaces.is_empty() || surfaces.iter().any(|s| *s != Surface::Public);
            if rate > 0.0 && private && !private_surfaces {
                surfaces = vec![Surface::Public];
            }
            for (i, p) in ps.iter_mut().enumerate() {
                p.id = format!("p{i}");
            }
            PolicySet {
                policies: ps,
                sampling: Sampling {
                    rate,
                    surfaces,
                    private_surfaces,
                },
            }
        })
}

fn in_scope(p: &Policy, j: &str) -> bool {
    p.jurisdictions.is_empty() || p.jurisdictions.iter().any(|x| x == j)
}

fn oracle_applies(p: &Policy, m: &Match, ctx: &ScanContext) -> bool {
    p.enabled
        && p.trigger == Trigger::Match
        && (p.banks.contains(&m.bank) || p.categories.contains(&m.bank_category))
        && (p.surfaces.is_empty() || p.surfaces.contains(&ctx.surface))
        && (m.signal != SignalType::Pdq || p.max_distance.is_none_or(|d| m.distance <= d))
}

/// Independent oracle: the action for one target jurisdiction, straight from the written rule.
/// Every policy that applies proposes (action, position); sort by severity then position.
fn oracle(
    set: &PolicySet,
    ctx: &ScanContext,
    facts: &ScanFacts,
    j: &str,
) -> (Action, Option<String>) {
    let ms = &facts.matches;
    let rank = |a: Action| match a {
        Action::Block => 0,
        Action::Withhold => 1,
        Action::HoldForReview => 2,
        Action::Deliver => 3,
    };
    let mut proposals: Vec<(u8, usize, Action)> = Vec::new();
    for (pos, p) in set.policies.iter().enumerate() {
        let by_unhashable = facts.unhashable.is_some()
            && p.enabled
            && p.trigger == Trigger::Unhashable
            && (p.surfaces.is_empty() || p.surfaces.contains(&ctx.surface));
        if !by_unhashable && !ms.iter().any(|m| oracle_applies(p, m, ctx)) {
            continue;
        }
        let proposed = if p.action == Action::Block {
            if in_scope(p, &ctx.sender.jurisdiction) {
                Some(Action::Block)
            } else if in_scope(p, j) {
                Some(Action::Withhold)
            } else {
                None
            }
        } else if in_scope(p, j) {
            Some(p.action)
        } else {
            None
        };
        if let Some(a) = proposed {
            proposals.push((rank(a), pos, a));
        }
    }
    proposals.sort_by_key(|&(rank, pos, _)| (rank, pos));
    match proposals.first() {
        Some(&(_, pos, a)) => (a, Some(set.policies[pos].id.clone())),
        None => (Action::Deliver, None),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn outcome_invariants(set in arb_set(), ctx in arb_ctx(), ms in proptest::collection::vec(arb_match(), 0..5), draw in 0.0f64..1.0, unhashable in proptest::bool::weighted(0.3)) {
        set.validate().unwrap();
        let facts = ScanFacts { matches: ms.clone(), unhashable: unhashable.then(|| "too large".to_string()) };
        let o = evaluate_with(&set, &ctx, &facts, NOW, draw).unwrap();
        // Deterministic, and `evaluate` is `evaluate_with` without a reason.
        prop_assert_eq!(&o, &evaluate_with(&set, &ctx, &facts, NOW, draw).unwrap());
        if !unhashable {
            prop_assert_eq!(&o, &evaluate(&set, &ctx, &ms, NOW, draw).unwrap());
        }
        // Every recipient exactly once, in order.
        prop_assert_eq!(o.recipients.len(), ctx.recipients.len());
        for (r, p) in o.recipients.iter().zip(&ctx.recipients) {
            prop_assert_eq!(&r.account, &p.account);
            prop_assert_eq!(&r.jurisdiction, &p.jurisdiction);
        }
        let targets = o.recipients.iter().map(|r| (&r.jurisdiction, r.action, r.decision))
            .chain(o.audience.iter().map(|a| (&a.jurisdiction, a.action, a.decision)));
        let mut referenced = vec![false; o.decisions.len()];
        for (j, action, decision) in targets {
            let (want, pid) = oracle(&set, &ctx, &facts, j);
            prop_assert_eq!(action, want);
            match decision {
                None => prop_assert_eq!(action, Action::Deliver),
                Some(i) => {
                    let d = &o.decisions[i];
                    referenced[i] = true;
                    prop_assert!(action != Action::Deliver);
                    prop_assert_eq!(d.action, action);
                    prop_assert!(d.jurisdictions.contains(j));
                    prop_assert_eq!(Some(&d.policy_id), pid.as_ref());
                }
            }
        }
        for (i, d) in o.decisions.iter().enumerate() {
            prop_assert!(referenced[i]);
            prop_assert!(d.action != Action::Deliver);
            prop_assert!(!d.jurisdictions.is_empty());
            let p = set.policies.iter().find(|p| p.id == d.policy_id).unwrap();
            if p.trigger == Trigger::Match {
                prop_assert!(!d.matches.is_empty());
                prop_assert!(d.matches.windows(2).all(|w| w[0].distance <= w[1].distance));
                prop_assert_eq!(d.statement.match_distance, Some(d.matches[0].distance));
                prop_assert!(d.statement.unhashable.is_none());
            } else {
                prop_assert!(d.matches.is_empty());
                prop_assert_eq!(d.statement.unhashable.as_deref(), Some("too large"));
                prop_assert!(d.statement.decision_facts.contains("could not be checked"));
                prop_assert_eq!(Some(d.statement.category), p.category);
                prop_assert!(d.statement.bank.is_none() && d.statement.match_distance.is_none());
            }
            prop_assert!(d.jurisdictions.windows(2).all(|w| w[0] < w[1]));
            for t in &d.statement.territorial_scope {
                let at_source = d.action == Action::Block && *t == ctx.sender.jurisdiction;
                prop_assert!((d.jurisdictions.contains(t) || at_source) && dsa::in_dsa_scope(t));
            }
            let want_vis = match d.action {
                Action::Block => DecisionVisibility::ContentRemoved,
                Action::Withhold => DecisionVisibility::ContentDisabled,
                _ => DecisionVisibility::Other,
            };
            prop_assert_eq!(&d.statement.decision_visibility, &vec![want_vis]);
            // A block policy acts as a withhold exactly when the sender is outside its scope.
            if p.action == Action::Block {
                prop_assert_eq!(d.action == Action::Block, in_scope(p, &ctx.sender.jurisdiction));
            } else {
                prop_assert_eq!(d.action, p.action);
            }
            for role in [NoticeRole::Sender, NoticeRole::Recipient] {
                prop_assert!(!notice_text(d, role).contains("acct-"));
            }
        }
        // One decision per policy.
        let mut ids: Vec<&str> = o.decisions.iter().map(|d| d.policy_id.as_str()).collect();
        ids.dedup();
        prop_assert_eq!(ids.len(), o.decisions.len());
        let sp = &set.sampling;
        let surface_sampled = (sp.surfaces.is_empty() || sp.surfaces.contains(&ctx.surface))
            && (ctx.surface == Surface::Public || sp.private_surfaces);
        prop_assert_eq!(o.sampled_for_review, ms.is_empty() && o.decisions.is_empty() && surface_sampled && draw < sp.rate);
        if unhashable && o.decisions.iter().any(|d| d.matches.is_empty()) {
            prop_assert!(!o.sampled_for_review);
        }
    }

    /// Issue 17's invariant, stated without the oracle: nobody in the jurisdictions of a `block` or
    /// `withhold` policy that applies is delivered the content; every restriction has a decision
    /// with a statement; no target gets an action weaker than any applicable policy's.
    #[test]
    fn nobody_in_scope_is_delivered(set in arb_set(), ctx in arb_ctx(), ms in proptest::collection::vec(arb_match(), 0..5)) {
        let o = evaluate(&set, &ctx, &ms, NOW, 0.5).unwrap();
        let targets: Vec<(&str, Action, Option<usize>)> = o.recipients.iter().map(|r| (r.jurisdiction.as_str(), r.action, r.decision))
            .chain(o.audience.iter().map(|a| (a.jurisdiction.as_str(), a.action, a.decision)))
            .collect();
        for p in &set.policies {
            if !ms.iter().any(|m| applies(p, m, &ctx)) {
                continue;
            }
            for &(j, action, _) in &targets {
                let protected = in_scope(p, j) || (p.action == Action::Block && in_scope(p, &ctx.sender.jurisdiction));
                if protected {
                    prop_assert!(action != Action::Deliver, "{} in scope of {} delivered", j, p.id);
                    let floor = if p.action == Action::Block && !in_scope(p, &ctx.sender.jurisdiction) {
                        Action::Withhold
                    } else {
                        p.action
                    };
                    prop_assert!(severity(action) >= severity(floor));
                }
            }
        }
        for &(_, action, decision) in &targets {
            if action != Action::Deliver {
                let d = &o.decisions[decision.unwrap()];
                prop_assert_eq!(d.action, action);
                prop_assert_eq!(&d.statement.policy_id, &d.policy_id);
                prop_assert!(!d.statement.decision_facts.is_empty());
                prop_assert!(!d.statement.illegal_content_legal_ground.as_deref().or(d.statement.incompatible_content_ground.as_deref()).unwrap_or("").is_empty());
            }
        }
    }

    #[test]
    fn policy_sets_round_trip(set in arb_set()) {
        prop_assert_eq!(&PolicySet::from_toml_str(&set.to_toml_string().unwrap()).unwrap(), &set);
        prop_assert_eq!(&PolicySet::from_json_str(&set.to_json_string()).unwrap(), &set);
        for p in &set.policies {
            let back: Policy = serde_json::from_str(&p.canonical_json()).unwrap();
            prop_assert_eq!(&back.canonical_json(), &p.canonical_json());
        }
    }
}
