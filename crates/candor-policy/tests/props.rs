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
    (proptest::collection::vec(arb_policy(), 0..6), 0u32..=10_000).prop_map(|(mut ps, bp)| {
        let rate = f64::from(bp) / 10_000.0;
        for (i, p) in ps.iter_mut().enumerate() {
            p.id = format!("p{i}");
        }
        PolicySet {
            policies: ps,
            sampling: Sampling {
                rate,
                surfaces: vec![],
            },
        }
    })
}

/// Independent oracle: the action for one jurisdiction, straight from the rules.
fn oracle(set: &PolicySet, ctx: &ScanContext, ms: &[Match], j: &str) -> (Action, Option<String>) {
    let applies = |p: &Policy, m: &Match| {
        p.enabled
            && (p.banks.contains(&m.bank) || p.categories.contains(&m.bank_category))
            && (p.surfaces.is_empty() || p.surfaces.contains(&ctx.surface))
            && (m.signal != SignalType::Pdq || p.max_distance.is_none_or(|d| m.distance <= d))
    };
    let covers =
        |p: &Policy, j: &str| p.jurisdictions.is_empty() || p.jurisdictions.iter().any(|x| x == j);
    let live: Vec<&Policy> = set
        .policies
        .iter()
        .filter(|p| ms.iter().any(|m| applies(p, m)))
        .collect();
    if let Some(b) = live
        .iter()
        .find(|p| p.action == Action::Block && covers(p, &ctx.sender.jurisdiction))
    {
        return (Action::Block, Some(b.id.clone()));
    }
    let mut best = (Action::Deliver, None);
    for p in live
        .iter()
        .filter(|p| p.action != Action::Block && covers(p, j))
    {
        if severity(p.action) > severity(best.0) {
            best = (p.action, Some(p.id.clone()));
        }
    }
    best
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn outcome_invariants(set in arb_set(), ctx in arb_ctx(), ms in proptest::collection::vec(arb_match(), 0..5), draw in 0.0f64..1.0) {
        set.validate().unwrap();
        let o = evaluate(&set, &ctx, &ms, NOW, draw).unwrap();
        // Deterministic.
        prop_assert_eq!(&o, &evaluate(&set, &ctx, &ms, NOW, draw).unwrap());
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
            let (want, pid) = oracle(&set, &ctx, &ms, j);
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
            prop_assert!(!d.matches.is_empty());
            prop_assert!(d.matches.windows(2).all(|w| w[0].distance <= w[1].distance));
            prop_assert!(d.jurisdictions.windows(2).all(|w| w[0] < w[1]));
            prop_assert_eq!(d.statement.match_distance, d.matches[0].distance);
            for t in &d.statement.territorial_scope {
                prop_assert!(d.jurisdictions.contains(t) && dsa::in_dsa_scope(t));
            }
            for role in [NoticeRole::Sender, NoticeRole::Recipient] {
                prop_assert!(!notice_text(d, role).contains("acct-"));
            }
        }
        // One decision per policy.
        let mut ids: Vec<&str> = o.decisions.iter().map(|d| d.policy_id.as_str()).collect();
        ids.dedup();
        prop_assert_eq!(ids.len(), o.decisions.len());
        prop_assert_eq!(o.sampled_for_review, ms.is_empty() && draw < set.sampling.rate);
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
