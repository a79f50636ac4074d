mod common;

use candor_policy::*;
use common::*;
use proptest::prelude::*;

const TERROR: Category = Category::RiskForPublicSecurity;
const MINORS: Category = Category::ProtectionOfMinors;

fn bank(name: &str, category: Category, pdq_threshold: u32) -> BankInfo {
    BankInfo {
        name: name.into(),
        category,
        pdq_threshold,
    }
}

fn banks() -> Vec<BankInfo> {
    vec![
        bank("ncmec-hashes", MINORS, 31),
        bank("tcap-hashes", TERROR, 31),
    ]
}

fn codes(ls: &[Lint]) -> Vec<(&str, Option<&str>)> {
    ls.iter().map(|l| (l.code, l.policy.as_deref())).collect()
}

fn only(ls: &[Lint], code: &str) -> Vec<Lint> {
    ls.iter().filter(|l| l.code == code).cloned().collect()
}

#[test]
fn the_example_is_clean_but_says_private_unhashable_content_is_delivered() {
    let s = PolicySet::from_toml_str(include_str!("../examples/policies.toml")).unwrap();
    let ls = lint(&s, &banks());
    assert_eq!(codes(&ls), [("unhashable-undecided", None)], "{ls:?}");
    assert_eq!(ls[0].level, LintLevel::Info);
    assert!(ls[0].message.contains("direct, group"), "{}", ls[0].message);
}

#[test]
fn unknown_banks_categories_and_matching_nothing() {
    let mut p = with_banks(policy("p", Action::Withhold), &["tcap-hashes", "gone"]);
    p.categories = vec![Category::ScamsAndFraud];
    let mut q = with_banks(policy("q", Action::Withhold), &["gone"]);
    q.categories = vec![Category::ScamsAndFraud];
    let ls = lint(&set(vec![p, q]), &banks());
    let w = |code: &str| -> Vec<Option<String>> {
        only(&ls, code).into_iter().map(|l| l.policy).collect()
    };
    assert_eq!(w("unknown-bank"), [Some("p".into()), Some("q".into())]);
    assert_eq!(w("unknown-category"), [Some("p".into()), Some("q".into())]);
    // p still matches tcap-hashes; q matches nothing.
    assert_eq!(w("matches-nothing"), [Some("q".into())]);
    assert!(ls
        .iter()
        .filter(|l| l.code != "unhashable-undecided")
        .all(|l| l.level == LintLevel::Warning));
    assert!(only(&ls, "unknown-bank")[0].message.contains("\"gone\""));
    // A category a bank has is fine.
    let mut c = policy("c", Action::Withhold);
    c.categories = vec![MINORS];
    assert!(lint(&set(vec![c]), &banks())
        .iter()
        .all(|l| l.code == "unhashable-undecided"));
}

#[test]
fn max_distance_above_every_threshold() {
    let bs = vec![
        bank("a", TERROR, 20),
        bank("b", TERROR, 31),
        bank("c", MINORS, 10),
    ];
    let mut p = with_banks(policy("p", Action::Withhold), &["a", "c"]);
    p.max_distance = Some(21);
    assert_eq!(
        only(
            &lint(&set(vec![p.clone()]), &bs),
            "max-distance-unreachable"
        )
        .len(),
        1
    );
    // Within one bank's threshold: reachable there.
    p.max_distance = Some(20);
    assert!(only(
        &lint(&set(vec![p.clone()]), &bs),
        "max-distance-unreachable"
    )
    .is_empty());
    // Banks matched through a category count too.
    p.max_distance = Some(25);
    p.categories = vec![TERROR];
    assert!(only(&lint(&set(vec![p]), &bs), "max-distance-unreachable").is_empty());
}

#[test]
fn shadowing_is_reported_precisely() {
    let bs = banks();
    let base = |id: &str, a: Action| with_banks(policy(id, a), &["tcap-hashes"]);
    // Earlier withhold everywhere shadows a later hold in DE.
    let early = base("early", Action::Withhold);
    let late = in_js(base("late", Action::HoldForReview), &["DE"]);
    let ls = lint(&set(vec![early.clone(), late.clone()]), &bs);
    assert_eq!(codes(&only(&ls, "shadowed")), [("shadowed", Some("late"))]);
    assert!(only(&ls, "shadowed")[0].message.contains("\"early\""));
    // Order matters: the other way round nothing is shadowed.
    let ls = lint(&set(vec![late.clone(), early.clone()]), &bs);
    assert!(only(&ls, "shadowed").is_empty());
    // Each condition, broken on its own, lifts the shadow.
    let not_shadowed = |early: Policy, late: Policy| {
        let ls = lint(&set(vec![early, late]), &bs);
        only(&ls, "shadowed").is_empty() && only(&ls, "shadowed-on-surface").is_empty()
    };
    assert!(not_shadowed(in_js(early.clone(), &["FR"]), late.clone()));
    assert!(not_shadowed(
        base("early", Action::HoldForReview),
        in_js(base("late", Action::Withhold), &["DE"])
    ));
    let mut e = early.clone();
    e.max_distance = Some(10);
    assert!(not_shadowed(e.clone(), late.clone()));
    let mut l = late.clone();
    l.max_distance = Some(10);
    assert!(!not_shadowed(e.clone(), l.clone()));
    l.max_distance = Some(11);
    assert!(not_shadowed(e, l));
    let mut e = early.clone();
    e.enabled = false;
    assert!(not_shadowed(e, late.clone()));
    assert!(not_shadowed(
        with_banks(policy("early", Action::Withhold), &["ncmec-hashes"]),
        late.clone()
    ));
    // A block later, even in a smaller scope, is not shadowed by a withhold (it removes at
    // source when the sender is in scope), but is by a block with a wider scope.
    assert!(not_shadowed(
        early.clone(),
        in_js(base("late", Action::Block), &["DE"])
    ));
    assert!(!not_shadowed(
        base("early", Action::Block),
        in_js(base("late", Action::Block), &["DE"])
    ));
    // Coverage through the bank's category.
    let mut by_cat = policy("early", Action::Withhold);
    by_cat.categories = vec![TERROR];
    assert!(!not_shadowed(by_cat, late.clone()));
    // Per surface: shadowed on public only.
    let mut e = early.clone();
    e.surfaces = vec![Surface::Public];
    let ls = lint(&set(vec![e, late.clone()]), &bs);
    let on_surface = only(&ls, "shadowed-on-surface");
    assert_eq!(on_surface.len(), 1);
    assert!(
        on_surface[0].message.contains("on public by \"early\""),
        "{}",
        on_surface[0].message
    );
    assert!(only(&ls, "shadowed").is_empty());
    // Different earlier policies on different surfaces still shadow fully.
    let mut e1 = base("e1", Action::Withhold);
    e1.surfaces = vec![Surface::Public];
    let mut e2 = base("e2", Action::Block);
    e2.surfaces = vec![Surface::Direct, Surface::Group];
    let ls = lint(&set(vec![e1, e2, late.clone()]), &bs);
    assert_eq!(only(&ls, "shadowed").len(), 1);
    // Unhashable policies shadow unhashable policies only.
    let u1 = unhashable_policy("u1", Action::Withhold, TERROR);
    let u2 = in_js(
        unhashable_policy("u2", Action::HoldForReview, MINORS),
        &["DE"],
    );
    assert!(!not_shadowed(u1.clone(), u2.clone()));
    assert!(not_shadowed(early.clone(), u2));
    assert!(not_shadowed(u1, late));
}

#[test]
fn errors_name_their_policy_and_every_one_is_reported() {
    let good = with_banks(policy("good", Action::Block), &["ncmec-hashes"]);
    let bad_j = in_js(
        with_banks(policy("bad-j", Action::Withhold), &["ncmec-hashes"]),
        &["de"],
    );
    let mut deliver = with_banks(policy("deliver", Action::Withhold), &["ncmec-hashes"]);
    deliver.action = Action::Deliver;
    let s = PolicySet {
        policies: vec![good.clone(), bad_j, deliver, good],
        sampling: Sampling {
            rate: 0.5,
            surfaces: vec![Surface::Direct],
            private_surfaces: false,
        },
    };
    assert!(s.validate().is_err());
    let ls = lint(&s, &banks());
    let errors: Vec<(&str, Option<&str>)> = ls
        .iter()
        .filter(|l| l.level == LintLevel::Error)
        .map(|l| (l.code, l.policy.as_deref()))
        .collect();
    assert_eq!(
        errors,
        [
            ("invalid", Some("bad-j")),
            ("invalid", Some("deliver")),
            ("duplicate-id", Some("good")),
            ("invalid-sampling", None)
        ]
    );
    let j = ls
        .iter()
        .find(|l| l.policy.as_deref() == Some("bad-j"))
        .unwrap();
    assert!(
        j.message.contains("policy bad-j") && j.message.contains("\"de\""),
        "{}",
        j.message
    );
    // validate's own error names the policy too.
    let e = set_unchecked(vec![in_js(
        with_banks(policy("p9", Action::Block), &["b"]),
        &["XX"],
    )])
    .validate()
    .unwrap_err();
    assert!(e.to_string().contains("policy p9"), "{e}");
}

#[test]
fn disabled_and_duplicates() {
    let mut p = with_banks(
        policy("p", Action::Withhold),
        &["tcap-hashes", "tcap-hashes"],
    );
    p.jurisdictions = vec!["DE".into(), "FR".into(), "DE".into()];
    p.enabled = false;
    let ls = lint(&set(vec![p]), &banks());
    assert_eq!(only(&ls, "disabled").len(), 1);
    assert_eq!(only(&ls, "disabled")[0].level, LintLevel::Info);
    let d = only(&ls, "duplicate-entry");
    assert_eq!(d.len(), 2);
    assert!(d[0].message.contains("tcap-hashes") && d[1].message.contains("DE"));
    let u = unhashable_policy("u", Action::HoldForReview, TERROR);
    let ls = lint(&set(vec![u]), &banks());
    assert!(only(&ls, "unhashable-undecided").is_empty());
    let v = serde_json::to_value(&ls).unwrap();
    assert!(v.as_array().unwrap().is_empty());
}

// ---------- properties ----------

const BANKS: [(&str, Category, u32); 3] =
    [("b0", TERROR, 10), ("b1", MINORS, 20), ("b2", TERROR, 31)];
const JS: [&str; 3] = ["DE", "FR", "US"];

fn bank_list() -> Vec<BankInfo> {
    BANKS.iter().map(|(n, c, t)| bank(n, *c, *t)).collect()
}

prop_compose! {
    fn arb_policy()(
        banks in proptest::sample::subsequence(vec!["b0", "b1", "b2", "zz"], 0..=2),
        cats in proptest::sample::subsequence(vec![TERROR, MINORS], 0..=1),
        surfaces in proptest::sample::subsequence(vec![Surface::Direct, Surface::Group, Surface::Public], 0..=2),
        js in proptest::sample::subsequence(JS.to_vec(), 0..=2),
        a in 0usize..3,
        max_distance in proptest::option::of(prop_oneof![Just(10u32), Just(20), Just(31)]),
        enabled in proptest::bool::weighted(0.9),
        unhashable in proptest::bool::weighted(0.15),
    ) -> Policy {
        let action = [Action::Block, Action::Withhold, Action::HoldForReview][a];
        let mut p = if unhashable {
            unhashable_policy("x", action, TERROR)
        } else {
            let mut p = with_banks(policy("x", action), &banks);
            p.categories = cats;
            if p.banks.is_empty() && p.categories.is_empty() {
                p.banks.push("b0".into());
            }
            p.max_distance = max_distance;
            p
        };
        p.surfaces = surfaces;
        p.jurisdictions = js.iter().map(|s| s.to_string()).collect();
        p.enabled = enabled;
        p
    }
}

fn arb_set() -> impl Strategy<Value = PolicySet> {
    // Later policies are often tweaked copies of earlier ones, so that shadowing (and its near
    // misses) is common.
    let item = (arb_policy(), proptest::option::of((0usize..8, 0u8..8)));
    proptest::collection::vec(item, 1..6).prop_map(|items| {
        let mut ps: Vec<Policy> = Vec::new();
        for (i, (p, derive)) in items.into_iter().enumerate() {
            let mut p = match derive {
                Some((j, how)) if i > 0 => {
                    let mut c = ps[j % i].clone();
                    c.enabled = true;
                    match how {
                        0 => c.max_distance = None,
                        1 => c.max_distance = Some(10),
                        2 => c.jurisdictions = vec!["DE".into()],
                        3 => c.jurisdictions.clear(),
                        4 => c.action = Action::HoldForReview,
                        5 => c.surfaces = vec![Surface::Group],
                        // Near misses: wider than the original.
                        6 if !c.jurisdictions.is_empty()
                            && !c.jurisdictions.contains(&"US".to_string()) =>
                        {
                            c.jurisdictions.push("US".into())
                        }
                        _ => c.action = Action::Block,
                    }
                    if c.trigger == Trigger::Unhashable {
                        c.max_distance = None;
                    }
                    c
                }
                _ => p,
            };
            p.id = format!("p{i}");
            ps.push(p);
        }
        set(ps)
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// A policy the lint calls shadowed (on a surface) never decides (there), whatever the scan.
    #[test]
    fn shadowed_policies_never_decide(
        s in arb_set(),
        surface in proptest::sample::select(vec![Surface::Direct, Surface::Group, Surface::Public]),
        sender in proptest::sample::select(JS.to_vec()),
        targets in proptest::collection::vec(proptest::sample::select(vec!["DE", "FR", "US", "JP"]), 1..4),
        hits in proptest::collection::vec((0usize..4, 0u32..32), 0..3),
        unhashable in any::<bool>(),
    ) {
        let bs = bank_list();
        let matches: Vec<Match> = hits.iter().map(|&(b, d)| {
            let (name, cat, _) = BANKS.get(b).copied().unwrap_or(("zz", MINORS, 0));
            pdq(name, cat, d)
        }).collect();
        let mut c = ctx(surface, sender, &[]);
        if surface == Surface::Public {
            c.audience = Some(Audience { jurisdictions: targets.iter().map(|s| s.to_string()).collect() });
        } else {
            c.recipients = targets.iter().enumerate().map(|(i, j)| party(&format!("r{i}"), j)).collect();
        }
        // Pairwise: whatever q would do, a policy shadowing it does at least as severely.
        for (qi, q) in s.policies.iter().enumerate() {
            for p in s.policies[..qi].iter().filter(|p| shadows(p, q, surface, &bs)) {
                for m in &matches {
                    if applies(q, m, &ctx(surface, sender, &[("x", "DE")])) {
                        prop_assert!(applies(p, m, &ctx(surface, sender, &[("x", "DE")])), "{} does not cover {:?}", p.id, m);
                    }
                }
                for t in &targets {
                    if let Some(a) = effective_action(q, sender, t) {
                        let b = effective_action(p, sender, t);
                        prop_assert!(b.is_some_and(|b| severity(b) >= severity(a)), "{} vs {} at {}->{}", p.id, q.id, sender, t);
                    }
                }
            }
        }
        let facts = ScanFacts { matches, unhashable: unhashable.then(|| "r".into()) };
        let o = evaluate_with(&s, &c, &facts, NOW, 0.5).unwrap();
        for (qi, q) in s.policies.iter().enumerate() {
            let shadowed_here = s.policies[..qi].iter().any(|p| shadows(p, q, surface, &bs));
            if shadowed_here {
                prop_assert!(!o.decisions.iter().any(|d| d.policy_id == q.id), "{} decided", q.id);
            }
        }
        // The lint's "shadowed" is exactly "shadowed on each of its surfaces".
        for l in lint(&s, &bs).iter().filter(|l| l.code == "shadowed") {
            let q = s.policies.iter().find(|p| Some(&p.id) == l.policy.as_ref()).unwrap();
            let qi = s.policies.iter().position(|p| p.id == q.id).unwrap();
            if q.surfaces.is_empty() || q.surfaces.contains(&surface) {
                prop_assert!(s.policies[..qi].iter().any(|p| shadows(p, q, surface, &bs)));
            }
        }
    }

    /// Lint errors exactly when the set does not validate.
    #[test]
    fn errors_iff_invalid(mut s in arb_set(), dup in any::<bool>(), bad_j in any::<bool>(), rate in 0u32..3) {
        if dup && s.policies.len() > 1 {
            s.policies[1].id = s.policies[0].id.clone();
        }
        if bad_j {
            s.policies[0].jurisdictions.push("EU".into());
        }
        s.sampling.rate = f64::from(rate) / 2.0;
        let errors = lint(&s, &bank_list()).iter().filter(|l| l.level == LintLevel::Error).count();
        prop_assert_eq!(errors > 0, s.validate().is_err());
    }
}
