mod common;

use candor_policy::*;
use common::*;
use proptest::prelude::*;

const TERROR: Category = Category::RiskForPublicSecurity;
const MINORS: Category = Category::ProtectionOfMinors;

fn banks() -> Vec<BankInfo> {
    vec![
        BankInfo {
            name: "ncmec-hashes".into(),
            category: MINORS,
            pdq_threshold: 31,
        },
        BankInfo {
            name: "tcap-hashes".into(),
            category: TERROR,
            pdq_threshold: 31,
        },
    ]
}

fn example() -> PolicySet {
    PolicySet::from_toml_str(include_str!("../examples/policies.toml")).unwrap()
}

fn cell<'a>(b: &'a SimBlock, surface: Surface, sender: &str, target: &str) -> &'a Cell {
    b.cells
        .iter()
        .find(|c| c.surface == surface && c.sender == sender && c.target == target)
        .unwrap_or_else(|| panic!("no cell {surface:?} {sender} {target}"))
}

#[test]
fn simulation_of_issue_17() {
    // Block in DE only: from elsewhere, DE is withheld by the block policy, other delivered.
    let s = set(vec![in_js(
        with_banks(policy("csam", Action::Block), &["ncmec-hashes"]),
        &["DE"],
    )]);
    let sim = simulate(&s, &banks(), &SimOptions::default()).unwrap();
    assert_eq!(sim.jurisdictions, ["DE"]);
    assert_eq!(sim.elsewhere, "AD");
    assert!(dsa::is_iso_country(&sim.elsewhere));
    assert_eq!(sim.distance, 0);
    // ncmec, tcap, unhashable
    assert_eq!(sim.blocks.len(), 3);
    let b = &sim.blocks[0];
    assert!(b.matched);
    assert_eq!(b.cells.len(), 3 * 2 * 2);
    for surface in [Surface::Direct, Surface::Group, Surface::Public] {
        let c = cell(b, surface, "AD", "DE");
        assert_eq!(
            (c.action, c.policy.as_deref()),
            (Action::Withhold, Some("csam"))
        );
        let d = &b.decisions[c.decision.unwrap()];
        assert_eq!(d.action, Action::Withhold);
        assert_eq!(
            d.statement.decision_visibility,
            [DecisionVisibility::ContentDisabled]
        );
        assert_eq!(cell(b, surface, "AD", "AD").action, Action::Deliver);
        assert_eq!(cell(b, surface, "AD", "AD").decision, None);
        assert_eq!(cell(b, surface, "DE", "AD").action, Action::Block);
    }
    // The other bank and unhashable content: delivered everywhere.
    for b in &sim.blocks[1..] {
        assert!(b.cells.iter().all(|c| c.action == Action::Deliver));
        assert!(b.decisions.is_empty());
    }
    let text = sim.to_text();
    assert!(text.contains("== bank ncmec-hashes (protection of minors, PDQ threshold 31) =="));
    assert!(
        text.contains("  from\\to    DE other\n  DE         B1    B1\n  other      W1     .\n"),
        "{text}"
    );
    assert!(text.contains("== bank tcap-hashes"));
    assert!(text.contains("direct, group, public: deliver for every sender and recipient"));
    assert!(text.contains("W1 csam withhold: DECISION_VISIBILITY_CONTENT_DISABLED"));
    assert!(text.contains("simulated as AD"));
    // Serializable as the API returns it.
    let v = serde_json::to_value(&sim).unwrap();
    assert_eq!(v["blocks"][0]["subject"]["kind"], "bank");
    assert_eq!(v["blocks"][2]["subject"]["kind"], "unhashable");
    assert_eq!(v["blocks"][0]["cells"][0]["surface"], "direct");
}

#[test]
fn distance_threshold_and_bank_filter() {
    let s = example();
    let far = simulate(
        &s,
        &banks(),
        &SimOptions {
            distance: Some(32),
            ..SimOptions::default()
        },
    )
    .unwrap();
    for b in &far.blocks[..2] {
        assert!(!b.matched);
        assert!(b.cells.iter().all(|c| c.action == Action::Deliver));
    }
    assert!(far
        .to_text()
        .contains("distance 32 is above the threshold, no match"));
    // 28: beyond the EU policy's max_distance 24, within review's 31: held everywhere.
    let mid = simulate(
        &s,
        &banks(),
        &SimOptions {
            bank: Some("tcap-hashes".into()),
            distance: Some(28),
            ..SimOptions::default()
        },
    )
    .unwrap();
    assert_eq!(mid.blocks.len(), 1);
    assert!(mid.blocks[0]
        .cells
        .iter()
        .all(|c| c.action == Action::HoldForReview
            && c.policy.as_deref() == Some("terrorist-content-review")));
    assert!(matches!(
        simulate(
            &s,
            &banks(),
            &SimOptions {
                bank: Some("nope".into()),
                ..SimOptions::default()
            }
        ),
        Err(Error::BadSimulation(_))
    ));
    assert!(matches!(
        simulate(
            &s,
            &banks(),
            &SimOptions {
                distance: Some(257),
                ..SimOptions::default()
            }
        ),
        Err(Error::BadSimulation(_))
    ));
    // Unhashable content in the example: held on public surfaces only.
    let sim = simulate(&s, &banks(), &SimOptions::default()).unwrap();
    let u = &sim.blocks[2];
    assert_eq!(u.subject, Subject::Unhashable);
    for c in &u.cells {
        let want = if c.surface == Surface::Public {
            Action::HoldForReview
        } else {
            Action::Deliver
        };
        assert_eq!(c.action, want);
    }
    let d = &u.decisions[0];
    assert_eq!(
        d.statement.unhashable.as_deref(),
        Some(SIM_UNHASHABLE_REASON)
    );
}

#[test]
fn diff_lists_exactly_the_changed_cells() {
    let current = example();
    let sim = simulate(&current, &banks(), &SimOptions::default()).unwrap();
    assert!(diff(&sim, &sim).is_empty());
    assert_eq!(diff_text(&[]), "no cell changes\n");
    // Proposed: the CSAM block only in CH (a jurisdiction the current set does not name).
    let mut proposed = current.clone();
    proposed.policies[0].jurisdictions = vec!["CH".into()];
    let psim = simulate(&proposed, &banks(), &SimOptions::default()).unwrap();
    let changes = diff(&sim, &psim);
    assert!(!changes.is_empty());
    assert!(changes.iter().all(|c| c.subject == "ncmec-hashes"));
    // From anywhere but CH to anywhere but CH: no longer blocked, delivered.
    let c = changes
        .iter()
        .find(|c| c.surface == Surface::Group && c.sender == "DE" && c.target == "other")
        .unwrap();
    assert_eq!(
        c.from,
        CellValue {
            action: Action::Block,
            policy: Some("csam-block".into())
        }
    );
    assert_eq!(
        c.to,
        CellValue {
            action: Action::Deliver,
            policy: None
        }
    );
    // To CH from elsewhere: withheld now; from CH: still blocked, so no change.
    let c = changes
        .iter()
        .find(|c| c.surface == Surface::Public && c.sender == "DE" && c.target == "CH")
        .unwrap();
    assert_eq!(c.to.action, Action::Withhold);
    assert!(!changes.iter().any(|c| c.sender == "CH"));
    // Every change is a real difference, and every unchanged cell pair is equal.
    assert!(changes.iter().all(|c| c.from != c.to));
    let text = diff_text(&changes);
    assert!(text.starts_with(&format!("{} cell changes:\n", changes.len())));
    // Grouped: one line per change of answer and set of senders/targets.
    assert!(
        text.contains(
            "  ncmec-hashes direct, group, public from AT, BE, DE, ES, FR, IE, IT, NL, PL, SE, other to CH: block (csam-block) -> withhold (csam-block)\n"
        ),
        "{text}"
    );
    assert!(
        text.contains(
            "  ncmec-hashes direct, group, public from AT, BE, DE, ES, FR, IE, IT, NL, PL, SE, other to AT, BE, DE, ES, FR, IE, IT, NL, PL, SE, other: block (csam-block) -> deliver\n"
        ),
        "{text}"
    );
    assert_eq!(text.lines().count(), 3, "{text}");
}

fn arb_set() -> impl Strategy<Value = PolicySet> {
    let js = ["DE", "FR", "US"];
    let one = (
        0u8..3,
        proptest::sample::subsequence(js.to_vec(), 0..=2),
        proptest::sample::subsequence(
            vec![Surface::Direct, Surface::Group, Surface::Public],
            0..=2,
        ),
        proptest::option::of(0u32..20),
        0u8..4,
    )
        .prop_map(|(a, js, surfaces, max_distance, which)| {
            let action = [Action::Block, Action::Withhold, Action::HoldForReview][a as usize];
            let mut p = match which {
                0 => with_banks(policy("x", action), &["b0"]),
                1 => with_banks(policy("x", action), &["b1"]),
                2 => {
                    let mut p = policy("x", action);
                    p.categories = vec![TERROR];
                    p
                }
                _ => unhashable_policy("x", action, TERROR),
            };
            if which < 3 {
                p.max_distance = max_distance;
            }
            p.jurisdictions = js.iter().map(|s| s.to_string()).collect();
            p.surfaces = surfaces;
            p
        });
    proptest::collection::vec(one, 0..5).prop_map(|mut ps| {
        for (i, p) in ps.iter_mut().enumerate() {
            p.id = format!("p{i}");
        }
        set(ps)
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Every cell is what `evaluate_with` says for a scan with that one recipient or audience.
    #[test]
    fn cells_are_single_scan_answers(s in arb_set(), distance in 0u32..24) {
        let banks = vec![
            BankInfo { name: "b0".into(), category: TERROR, pdq_threshold: 10 },
            BankInfo { name: "b1".into(), category: MINORS, pdq_threshold: 20 },
        ];
        let sim = simulate(&s, &banks, &SimOptions { distance: Some(distance), ..SimOptions::default() }).unwrap();
        let n = sim.jurisdictions.len() + 1;
        prop_assert_eq!(sim.blocks.len(), 3);
        for b in &sim.blocks {
            prop_assert_eq!(b.cells.len(), 3 * n * n);
            let facts = match &b.subject {
                Subject::Bank(info) => ScanFacts {
                    matches: if distance <= info.pdq_threshold { vec![pdq(&info.name, info.category, distance)] } else { vec![] },
                    unhashable: None,
                },
                Subject::Unhashable => ScanFacts { matches: vec![], unhashable: Some("r".into()) },
            };
            for c in &b.cells {
                let mut ctx = ctx(c.surface, &c.sender, &[]);
                if c.surface == Surface::Public {
                    ctx.audience = Some(Audience { jurisdictions: vec![c.target.clone()] });
                } else {
                    ctx.recipients = vec![party("r", &c.target)];
                }
                let o = evaluate_with(&s, &ctx, &facts, NOW, 0.5).unwrap();
                let (action, decision) = if c.surface == Surface::Public {
                    (o.audience[0].action, o.audience[0].decision)
                } else {
                    (o.recipients[0].action, o.recipients[0].decision)
                };
                prop_assert_eq!(c.action, action);
                prop_assert_eq!(c.policy.as_ref(), decision.map(|i| &o.decisions[i].policy_id));
                prop_assert_eq!(c.decision.is_some(), c.policy.is_some());
                if let Some(i) = c.decision {
                    let d = &b.decisions[i];
                    prop_assert_eq!(Some(&d.policy_id), c.policy.as_ref());
                    prop_assert_eq!(d.action, c.action);
                    prop_assert!(d.jurisdictions.contains(&c.target));
                    prop_assert_eq!(&d.sender, &c.sender);
                }
            }
        }
        // A diff against itself is empty; against the empty set it lists every restricted cell.
        prop_assert!(diff(&sim, &sim).is_empty());
        let none = simulate(&set(vec![]), &banks, &SimOptions { distance: Some(distance), ..SimOptions::default() }).unwrap();
        let changes = diff(&sim, &none);
        let restricted = sim.blocks.iter().flat_map(|b| &b.cells).filter(|c| c.action != Action::Deliver).count();
        // Jurisdictions named only by `s` map to "other" in `none`; cells count once each.
        prop_assert_eq!(changes.len(), restricted);
        prop_assert!(!sim.to_text().is_empty());
    }
}

#[test]
fn readme_shows_the_current_text_of_the_example() {
    let sim = simulate(&example(), &banks(), &SimOptions::default()).unwrap();
    let readme = include_str!("../README.md");
    assert!(
        readme.contains(&sim.to_text()),
        "README.md is out of date; the text is now:\n{}",
        sim.to_text()
    );
    let mut proposed = example();
    proposed.policies[0].jurisdictions = vec!["DE".into()];
    let opts = SimOptions {
        bank: Some("ncmec-hashes".into()),
        ..SimOptions::default()
    };
    let changes = diff(
        &simulate(&example(), &banks(), &opts).unwrap(),
        &simulate(&proposed, &banks(), &opts).unwrap(),
    );
    assert!(
        readme.contains(&diff_text(&changes)),
        "{}",
        diff_text(&changes)
    );
}

#[test]
fn grouped_changes_are_the_lines_of_the_text() {
    let current = example();
    let mut proposed = current.clone();
    proposed.policies[0].jurisdictions = vec!["CH".into()];
    let sim = simulate(&current, &banks(), &SimOptions::default()).unwrap();
    let psim = simulate(&proposed, &banks(), &SimOptions::default()).unwrap();
    let changes = diff(&sim, &psim);
    let groups = group_changes(&changes);
    assert_eq!(groups.len() + 1, diff_text(&changes).lines().count());
    let to_ch = groups
        .iter()
        .find(|g| g.targets == ["CH"])
        .expect("a group to CH");
    assert_eq!(to_ch.subject, "ncmec-hashes");
    assert_eq!(
        to_ch.surfaces,
        [Surface::Direct, Surface::Group, Surface::Public]
    );
    assert!(
        to_ch.senders.contains(&"other".to_string()) && !to_ch.senders.contains(&"CH".to_string())
    );
    assert_eq!(
        (to_ch.from.action, to_ch.to.action),
        (Action::Block, Action::Withhold)
    );
    // Every changed cell is in exactly one group.
    let cells: usize = groups
        .iter()
        .map(|g| g.surfaces.len() * g.senders.len() * g.targets.len())
        .sum();
    assert_eq!(cells, changes.len());
}

#[test]
fn policy_changes_name_the_fields_and_elements() {
    let current = example();
    assert_eq!(
        policy_changes(&current, &current),
        SetChanges {
            policies: vec![],
            sampling: vec![]
        }
    );
    let mut proposed = current.clone();
    // Withhold instead of block, in CH only; review the terrorist list first; drop unhashable.
    proposed.policies[0].action = Action::Withhold;
    proposed.policies[0].jurisdictions = vec!["CH".into()];
    proposed.policies[2].review_priority = Some(90);
    proposed.policies[1].jurisdictions.retain(|j| j != "DE");
    proposed.policies[1].jurisdictions.push("PT".into());
    proposed.policies.remove(3);
    let mut extra = proposed.policies[2].clone();
    extra.id = "new-review".into();
    proposed.policies.insert(0, extra);
    proposed.sampling.rate = 0.5;
    let ch = policy_changes(&current, &proposed);
    let of = |id: &str| ch.policies.iter().find(|p| p.policy == id).unwrap();
    let field = |id: &str, f: &str| {
        of(id)
            .fields
            .iter()
            .find(|x| x.field == f)
            .unwrap_or_else(|| panic!("{id} {f}: {:?}", of(id)))
            .clone()
    };
    assert_eq!(of("new-review").change, ChangeKind::Created);
    assert_eq!(field("new-review", "banks").added, ["tcap-hashes"]);
    let csam = of("csam-block");
    assert_eq!(csam.change, ChangeKind::Updated);
    let a = field("csam-block", "action");
    assert_eq!((a.from, a.to), ("block".into(), "withhold".into()));
    assert_eq!(field("csam-block", "jurisdictions").added, ["CH"]);
    // Moved from 1st to 2nd by the insertion.
    let pos = field("csam-block", "position");
    assert_eq!((pos.from, pos.to), (1.into(), 2.into()));
    let j = field("terrorist-content-eu", "jurisdictions");
    assert_eq!(
        (j.added, j.removed),
        (vec!["PT".to_string()], vec!["DE".to_string()])
    );
    let rp = field("terrorist-content-review", "review_priority");
    assert_eq!((rp.from, rp.to), (serde_json::Value::Null, 90.into()));
    assert_eq!(of("unhashable-public-review").change, ChangeKind::Deleted);
    assert_eq!(
        ch.policies.last().unwrap().policy,
        "unhashable-public-review"
    );
    assert!(ch.sampling.iter().any(|f| f.field == "rate"));
    // Unchanged fields are not listed.
    assert!(!csam.fields.iter().any(|f| f.field == "legal_ground"));
}

#[test]
fn review_priority_is_bounded_and_left_out_when_unset() {
    let mut set = example();
    let before = set.policies[2].canonical_json();
    assert!(!before.contains("review_priority"));
    assert_eq!(set.policies[2].review_priority(), DEFAULT_REVIEW_PRIORITY);
    set.policies[2].review_priority = Some(MAX_REVIEW_PRIORITY + 1);
    let e = set.validate().unwrap_err().to_string();
    assert!(e.contains("review_priority"), "{e}");
    set.policies[2].review_priority = Some(80);
    set.validate().unwrap();
    assert_eq!(set.policies[2].review_priority(), 80);
    let back = PolicySet::from_json_str(&set.to_json_string()).unwrap();
    assert_eq!(back.policies[2].review_priority, Some(80));
}
