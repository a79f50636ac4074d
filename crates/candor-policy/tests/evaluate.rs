mod common;

use candor_policy::*;
use common::*;

const TERROR: Category = Category::RiskForPublicSecurity;
const MINORS: Category = Category::ProtectionOfMinors;

fn eval(s: &PolicySet, c: &ScanContext, m: &[Match]) -> Outcome {
    evaluate(s, c, m, NOW, 0.5).unwrap()
}

#[test]
fn block_removes_at_source_when_the_sender_is_in_scope() {
    let s = set(vec![in_js(
        with_banks(policy("csam", Action::Block), &["ncmec"]),
        &["DE"],
    )]);
    let m = [pdq("ncmec", MINORS, 3)];
    // Sender in DE: everyone is blocked, whatever their jurisdiction.
    let mut c = ctx(Surface::Direct, "DE", &[("bob", "US"), ("carol", "FR")]);
    c.audience = Some(Audience {
        jurisdictions: vec!["BR".into()],
    });
    let o = eval(&s, &c, &m);
    assert!(o
        .recipients
        .iter()
        .all(|r| r.action == Action::Block && r.decision == Some(0)));
    assert_eq!(o.audience[0].action, Action::Block);
    assert_eq!(o.decisions.len(), 1);
    let d = &o.decisions[0];
    assert_eq!(d.action, Action::Block);
    assert_eq!(d.jurisdictions, ["BR", "FR", "US"]);
    assert_eq!(d.recipients, ["bob", "carol"]);
    // Removed at source: the restriction also applies where it was shared from (DE).
    assert_eq!(d.statement.territorial_scope, ["DE", "FR"]);
    assert_eq!(
        d.statement.decision_visibility,
        [DecisionVisibility::ContentRemoved]
    );
    let facts = &d.statement.decision_facts;
    assert!(
        facts.contains("at source") && facts.contains("It was shared from DE."),
        "{facts}"
    );
    // A sender outside the EU sending to the US only: not for the Transparency Database.
    let o = eval(&s, &ctx(Surface::Direct, "DE", &[("bob", "US")]), &m);
    assert_eq!(o.decisions[0].statement.territorial_scope, ["DE"]);
}

#[test]
fn block_withholds_in_scope_when_the_sender_is_outside() {
    // Issue 17: declared illegal in DE, sent from the US: DE recipients must not get it.
    let s = set(vec![in_js(
        with_banks(policy("csam", Action::Block), &["ncmec"]),
        &["DE", "AT"],
    )]);
    let m = [pdq("ncmec", MINORS, 3)];
    let mut c = ctx(
        Surface::Group,
        "US",
        &[("bob", "DE"), ("carol", "US"), ("dan", "AT")],
    );
    c.audience = Some(Audience {
        jurisdictions: vec!["FR".into(), "DE".into()],
    });
    let o = eval(&s, &c, &m);
    let acts: Vec<(Action, Option<usize>)> = o
        .recipients
        .iter()
        .map(|r| (r.action, r.decision))
        .collect();
    assert_eq!(
        acts,
        [
            (Action::Withhold, Some(0)),
            (Action::Deliver, None),
            (Action::Withhold, Some(0))
        ]
    );
    assert_eq!(o.audience[0].action, Action::Deliver);
    assert_eq!(o.audience[1].action, Action::Withhold);
    assert_eq!(o.decisions.len(), 1);
    let d = &o.decisions[0];
    assert_eq!(d.action, Action::Withhold);
    assert_eq!(d.policy_id, "csam");
    assert_eq!(d.jurisdictions, ["AT", "DE"]);
    assert_eq!(d.recipients, ["bob", "dan"]);
    assert_eq!(d.statement.territorial_scope, ["AT", "DE"]);
    assert_eq!(
        d.statement.decision_visibility,
        [DecisionVisibility::ContentDisabled]
    );
    let facts = &d.statement.decision_facts;
    assert!(
        facts.contains("It was shared from US, outside that scope, so it is not removed but withheld in AT, DE"),
        "{facts}"
    );
    let n = notice_text(d, NoticeRole::Sender);
    assert!(
        n.starts_with("Your image was withheld from recipients in AT, DE"),
        "{n}"
    );
    // Nobody in scope: delivered, no decision.
    let o = eval(&s, &ctx(Surface::Direct, "US", &[("carol", "US")]), &m);
    assert_eq!(o.recipients[0].action, Action::Deliver);
    assert!(o.decisions.is_empty());
}

#[test]
fn block_as_withhold_competes_at_withhold_severity() {
    let s = set(vec![
        in_js(
            with_banks(policy("hold", Action::HoldForReview), &["b"]),
            &["DE"],
        ),
        in_js(with_banks(policy("w", Action::Withhold), &["b"]), &["FR"]),
        in_js(
            with_banks(policy("blk", Action::Block), &["b"]),
            &["DE", "FR"],
        ),
        in_js(
            with_banks(policy("blk-us", Action::Block), &["US"]),
            &["US"],
        ),
    ]);
    let m = [pdq("b", TERROR, 0)];
    let c = ctx(
        Surface::Direct,
        "JP",
        &[("x", "DE"), ("y", "FR"), ("z", "JP")],
    );
    let o = eval(&s, &c, &m);
    let got: Vec<(Action, Option<&str>)> = o
        .recipients
        .iter()
        .map(|r| {
            (
                r.action,
                r.decision.map(|i| o.decisions[i].policy_id.as_str()),
            )
        })
        .collect();
    // DE: the block policy acting as a withhold beats the hold; FR: the earlier withhold wins
    // the tie against the block policy acting as a withhold.
    assert_eq!(
        got,
        [
            (Action::Withhold, Some("blk")),
            (Action::Withhold, Some("w")),
            (Action::Deliver, None)
        ]
    );
    // The same sender in DE: removed at source by blk, for everyone.
    let c = ctx(
        Surface::Direct,
        "DE",
        &[("x", "DE"), ("y", "FR"), ("z", "JP")],
    );
    let o = eval(&s, &c, &m);
    assert!(o.recipients.iter().all(|r| r.action == Action::Block));
    assert_eq!(o.decisions.len(), 1);
    assert_eq!(o.decisions[0].policy_id, "blk");
}

#[test]
fn block_without_jurisdictions_covers_every_sender() {
    let s = set(vec![with_banks(policy("csam", Action::Block), &["ncmec"])]);
    let c = ctx(Surface::Group, "JP", &[("bob", "JP"), ("eve", "DE")]);
    let o = eval(&s, &c, &[exact("ncmec", MINORS)]);
    assert!(o.recipients.iter().all(|r| r.action == Action::Block));
}

#[test]
fn block_beats_withhold_and_first_block_decides() {
    let s = set(vec![
        in_js(with_banks(policy("w", Action::Withhold), &["b"]), &["DE"]),
        in_js(with_banks(policy("blk-fr", Action::Block), &["b"]), &["FR"]),
        with_banks(policy("blk-all", Action::Block), &["b"]),
    ]);
    let c = ctx(Surface::Direct, "DE", &[("bob", "DE")]);
    let o = eval(&s, &c, &[pdq("b", TERROR, 1)]);
    assert_eq!(o.recipients[0].action, Action::Block);
    assert_eq!(o.decisions.len(), 1);
    assert_eq!(o.decisions[0].policy_id, "blk-all");
    let c = ctx(Surface::Direct, "FR", &[("bob", "DE")]);
    let o = eval(&s, &c, &[pdq("b", TERROR, 1)]);
    assert_eq!(o.decisions[0].policy_id, "blk-fr");
}

#[test]
fn withhold_only_in_listed_jurisdictions() {
    let s = set(vec![in_js(
        with_banks(policy("tc", Action::Withhold), &["tcap"]),
        &["DE", "FR"],
    )]);
    let c = ctx(
        Surface::Group,
        "US",
        &[("bob", "DE"), ("carol", "US"), ("dan", "FR"), ("bob", "DE")],
    );
    let o = eval(&s, &c, &[pdq("tcap", TERROR, 10)]);
    let acts: Vec<Action> = o.recipients.iter().map(|r| r.action).collect();
    assert_eq!(
        acts,
        [
            Action::Withhold,
            Action::Deliver,
            Action::Withhold,
            Action::Withhold
        ]
    );
    assert_eq!(o.recipients[1].decision, None);
    assert_eq!(o.decisions.len(), 1);
    assert_eq!(o.decisions[0].jurisdictions, ["DE", "FR"]);
    assert_eq!(o.decisions[0].recipients, ["bob", "dan"]);
    assert_eq!(
        o.decisions[0].statement.decision_visibility,
        [DecisionVisibility::ContentDisabled]
    );
}

#[test]
fn two_recipients_two_jurisdictions_one_withheld() {
    let s = set(vec![in_js(
        with_banks(policy("tc", Action::Withhold), &["tcap"]),
        &["DE"],
    )]);
    let c = ctx(Surface::Direct, "DE", &[("bob", "DE"), ("carol", "NL")]);
    let o = eval(&s, &c, &[pdq("tcap", TERROR, 0)]);
    assert_eq!(o.decisions.len(), 1);
    assert_eq!(o.decisions[0].jurisdictions, ["DE"]);
    assert_eq!(o.decisions[0].statement.territorial_scope, ["DE"]);
    assert_eq!(o.recipients[0].action, Action::Withhold);
    assert_eq!(o.recipients[0].decision, Some(0));
    assert_eq!(o.recipients[1].action, Action::Deliver);
    assert_eq!(o.recipients[1].decision, None);
}

#[test]
fn audience_jurisdictions_are_decided_one_by_one() {
    let s = set(vec![
        in_js(
            with_banks(policy("eu", Action::Withhold), &["tcap"]),
            &["DE", "FR"],
        ),
        with_banks(policy("rest", Action::HoldForReview), &["tcap"]),
    ]);
    let mut c = ctx(Surface::Public, "US", &[]);
    c.audience = Some(Audience {
        jurisdictions: vec!["FR".into(), "US".into(), "DE".into(), "FR".into()],
    });
    let o = eval(&s, &c, &[pdq("tcap", TERROR, 5)]);
    let got: Vec<(&str, Action, Option<usize>)> = o
        .audience
        .iter()
        .map(|a| (a.jurisdiction.as_str(), a.action, a.decision))
        .collect();
    assert_eq!(
        got,
        [
            ("FR", Action::Withhold, Some(0)),
            ("US", Action::HoldForReview, Some(1)),
            ("DE", Action::Withhold, Some(0))
        ]
    );
    assert_eq!(o.decisions[0].jurisdictions, ["DE", "FR"]);
    assert_eq!(o.decisions[1].jurisdictions, ["US"]);
    assert!(o.decisions[0].recipients.is_empty());
    // US is outside the DSA: the statement is not for the Transparency Database.
    assert!(o.decisions[1].statement.territorial_scope.is_empty());
    assert!(!o.decisions[1].statement.in_dsa_scope);
    assert!(o.decisions[0].statement.in_dsa_scope);
}

#[test]
fn surface_filtering() {
    let mut p = with_banks(policy("pub", Action::Withhold), &["b"]);
    p.surfaces = vec![Surface::Public, Surface::Group];
    let s = set(vec![p]);
    let m = [pdq("b", TERROR, 0)];
    assert_eq!(
        eval(&s, &ctx(Surface::Direct, "DE", &[("x", "DE")]), &m).recipients[0].action,
        Action::Deliver
    );
    assert_eq!(
        eval(&s, &ctx(Surface::Group, "DE", &[("x", "DE")]), &m).recipients[0].action,
        Action::Withhold
    );
}

#[test]
fn category_or_bank_selects() {
    let mut by_cat = policy("cat", Action::Withhold);
    by_cat.categories = vec![MINORS];
    let s = set(vec![
        by_cat,
        with_banks(policy("bank", Action::HoldForReview), &["special"]),
    ]);
    let c = ctx(Surface::Direct, "DE", &[("x", "DE")]);
    // Category listed, bank not: the category policy.
    let o = eval(&s, &c, &[pdq("any-bank", MINORS, 0)]);
    assert_eq!(o.decisions[0].policy_id, "cat");
    // Bank listed, category not: the bank policy.
    let o = eval(&s, &c, &[pdq("special", Category::ScamsAndFraud, 0)]);
    assert_eq!(o.decisions[0].policy_id, "bank");
    assert_eq!(o.recipients[0].action, Action::HoldForReview);
    // Neither: deliver.
    let o = eval(&s, &c, &[pdq("other", Category::ScamsAndFraud, 0)]);
    assert_eq!(o.recipients[0].action, Action::Deliver);
    assert!(o.decisions.is_empty());
    assert!(!o.sampled_for_review);
}

#[test]
fn max_distance_is_inclusive_and_pdq_only() {
    let mut p = with_banks(policy("tight", Action::Withhold), &["b"]);
    p.max_distance = Some(10);
    let s = set(vec![p]);
    let c = ctx(Surface::Direct, "DE", &[("x", "DE")]);
    assert_eq!(
        eval(&s, &c, &[pdq("b", TERROR, 10)]).recipients[0].action,
        Action::Withhold
    );
    assert_eq!(
        eval(&s, &c, &[pdq("b", TERROR, 11)]).recipients[0].action,
        Action::Deliver
    );
    assert_eq!(
        eval(&s, &c, &[exact("b", TERROR)]).recipients[0].action,
        Action::Withhold
    );
    // Only the matches within the threshold are the decision's, best first.
    let o = eval(
        &s,
        &c,
        &[
            pdq("b", TERROR, 9),
            pdq("b", TERROR, 30),
            pdq("b", TERROR, 2),
        ],
    );
    let ds: Vec<u32> = o.decisions[0].matches.iter().map(|m| m.distance).collect();
    assert_eq!(ds, [2, 9]);
    assert_eq!(o.decisions[0].statement.match_distance, Some(2));
}

#[test]
fn severity_combining() {
    use Action::*;
    assert!(severity(Block) > severity(Withhold));
    assert!(severity(Withhold) > severity(HoldForReview));
    assert!(severity(HoldForReview) > severity(Deliver));
    let all = [Deliver, Withhold, Block, HoldForReview];
    for a in all {
        for b in all {
            let c = a.combine(b);
            assert_eq!(c, b.combine(a));
            assert!(c == a || c == b);
            assert_eq!(severity(c), severity(a).max(severity(b)));
        }
    }
    assert_eq!(HoldForReview.combine(Withhold), Withhold);
}

#[test]
fn most_severe_wins_then_policy_order() {
    let s = set(vec![
        with_banks(policy("hold", Action::HoldForReview), &["b"]),
        with_banks(policy("w1", Action::Withhold), &["b"]),
        with_banks(policy("w2", Action::Withhold), &["b"]),
    ]);
    let c = ctx(Surface::Direct, "DE", &[("x", "DE"), ("y", "US")]);
    for _ in 0..3 {
        let o = eval(&s, &c, &[pdq("b", TERROR, 0)]);
        assert_eq!(o.decisions.len(), 1);
        assert_eq!(o.decisions[0].policy_id, "w1");
        assert_eq!(o.decisions[0].jurisdictions, ["DE", "US"]);
    }
    // Reordered: w2 first now wins the tie.
    let s2 = PolicySet {
        policies: vec![
            s.policies[2].clone(),
            s.policies[1].clone(),
            s.policies[0].clone(),
        ],
        ..s
    };
    assert_eq!(
        eval(&s2, &c, &[pdq("b", TERROR, 0)]).decisions[0].policy_id,
        "w2"
    );
}

#[test]
fn disabled_policies_never_apply() {
    let mut p = with_banks(policy("off", Action::Block), &["b"]);
    p.enabled = false;
    let s = set(vec![p]);
    let o = eval(
        &s,
        &ctx(Surface::Direct, "DE", &[("x", "DE")]),
        &[pdq("b", TERROR, 0)],
    );
    assert_eq!(o.recipients[0].action, Action::Deliver);
}

#[test]
fn sampling_only_without_matches() {
    let mut s = set(vec![with_banks(policy("p", Action::Withhold), &["b"])]);
    s.sampling = Sampling {
        rate: 0.25,
        surfaces: vec![Surface::Public],
        private_surfaces: false,
    };
    let mut c = ctx(Surface::Public, "DE", &[]);
    c.audience = Some(Audience {
        jurisdictions: vec!["DE".into()],
    });
    let run = |c: &ScanContext, m: &[Match], draw: f64| {
        evaluate(&s, c, m, NOW, draw).unwrap().sampled_for_review
    };
    assert!(run(&c, &[], 0.0));
    assert!(run(&c, &[], 0.2499));
    assert!(!run(&c, &[], 0.25));
    // A match that triggers nothing still excludes sampling.
    assert!(!run(&c, &[pdq("unlisted", TERROR, 0)], 0.0));
    assert!(!run(&c, &[pdq("b", TERROR, 0)], 0.0));
    // Wrong surface.
    let d = ctx(Surface::Direct, "DE", &[("x", "DE")]);
    assert!(!run(&d, &[], 0.0));
    // Rate 0 never samples.
    let z = PolicySet {
        sampling: Sampling {
            rate: 0.0,
            surfaces: vec![],
            private_surfaces: true,
        },
        ..s.clone()
    };
    assert!(!evaluate(&z, &d, &[], NOW, 0.0).unwrap().sampled_for_review);
    // Empty surfaces = all, private ones only with the published flag.
    let mut all = PolicySet {
        sampling: Sampling {
            rate: 1.0,
            surfaces: vec![],
            private_surfaces: true,
        },
        ..s.clone()
    };
    all.validate().unwrap();
    assert!(
        evaluate(&all, &d, &[], NOW, 0.999)
            .unwrap()
            .sampled_for_review
    );
    // Without it the set is refused, and even unvalidated it never samples a private surface.
    all.sampling.private_surfaces = false;
    assert!(matches!(all.validate(), Err(Error::PrivateSampling(_))));
    assert!(
        !evaluate(&all, &d, &[], NOW, 0.0)
            .unwrap()
            .sampled_for_review
    );
    assert!(
        evaluate(&all, &c, &[], NOW, 0.0)
            .unwrap()
            .sampled_for_review
    );
}

#[test]
fn private_surface_sampling_must_be_published() {
    let v = |rate: f64, surfaces: Vec<Surface>, private_surfaces: bool| {
        PolicySet {
            policies: vec![],
            sampling: Sampling {
                rate,
                surfaces,
                private_surfaces,
            },
        }
        .validate()
    };
    use Surface::*;
    assert!(v(0.5, vec![Public], false).is_ok());
    // Rate 0 samples nothing: no flag needed (the default set is valid).
    assert!(v(0.0, vec![], false).is_ok());
    assert!(PolicySet::default().validate().is_ok());
    for surfaces in [vec![Direct], vec![Group, Public], vec![]] {
        let e = v(0.01, surfaces.clone(), false).unwrap_err();
        assert!(matches!(e, Error::PrivateSampling(_)), "{e:?}");
        assert!(e.to_string().contains("private_surfaces = true"), "{e}");
        assert!(v(0.01, surfaces, true).is_ok());
    }
    let e = v(0.01, vec![], false).unwrap_err();
    assert!(e.to_string().contains("direct, group"), "{e}");
    // In TOML, and shown in the published JSON.
    let toml = "[sampling]\nrate = 0.1\nsurfaces = [\"group\"]\n";
    assert!(matches!(
        PolicySet::from_toml_str(toml),
        Err(Error::PrivateSampling(_))
    ));
    let ok = PolicySet::from_toml_str(&format!("{toml}private_surfaces = true\n")).unwrap();
    assert!(ok.sampling.private_surfaces);
    let json: serde_json::Value = serde_json::from_str(&ok.to_json_string()).unwrap();
    assert_eq!(json["sampling"]["private_surfaces"], true);
    let json: serde_json::Value = serde_json::from_str(&example().to_json_string()).unwrap();
    assert_eq!(json["sampling"]["private_surfaces"], false);
    assert!(example()
        .to_toml_string()
        .unwrap()
        .contains("private_surfaces = false"));
}

// ---------- validation ----------

fn assert_err<T: std::fmt::Debug>(r: Result<T, Error>, want: fn(&Error) -> bool) {
    match r {
        Err(e) => {
            assert!(want(&e), "unexpected error {e:?}");
            assert!(!e.to_string().is_empty());
        }
        Ok(v) => panic!("expected an error, got {v:?}"),
    }
}

#[test]
fn policy_set_validation_errors() {
    let ok = with_banks(policy("ok", Action::Block), &["b"]);
    let v = |ps: Vec<Policy>| {
        PolicySet {
            policies: ps,
            sampling: Sampling::default(),
        }
        .validate()
    };
    assert!(v(vec![ok.clone()]).is_ok());
    assert_err(
        v(vec![ok.clone(), ok.clone()]),
        |e| matches!(e, Error::DuplicateId(id) if id == "ok"),
    );
    for bad in [
        "",
        "Upper",
        "-lead",
        "_lead",
        "has space",
        "é",
        &"a".repeat(65),
    ] {
        let mut p = ok.clone();
        p.id = bad.to_string();
        assert_err(v(vec![p]), |e| matches!(e, Error::BadSlug(_)));
    }
    let mut p = ok.clone();
    p.id = format!("a{}", "-".repeat(63));
    assert!(v(vec![p]).is_ok());
    for bad in ["de", "DEU", "XX", "EU", ""] {
        assert_err(v(vec![in_js(ok.clone(), &[bad])]), |e| {
            matches!(e, Error::BadJurisdiction { .. })
        });
    }
    let mut p = ok.clone();
    p.banks.clear();
    assert_err(v(vec![p]), |e| matches!(e, Error::EmptyMatchSet(_)));
    let mut p = ok.clone();
    p.action = Action::Deliver;
    assert_err(v(vec![p]), |e| matches!(e, Error::DeliverAction(_)));
    let mut p = ok.clone();
    p.legal_ground = " ".into();
    assert_err(v(vec![p]), |e| {
        matches!(
            e,
            Error::BadField {
                field: "legal_ground",
                ..
            }
        )
    });
    let mut p = ok.clone();
    p.explanation = "x".repeat(2001);
    assert_err(v(vec![p]), |e| {
        matches!(
            e,
            Error::BadField {
                field: "explanation",
                ..
            }
        )
    });
    let mut p = ok.clone();
    p.max_distance = Some(257);
    assert_err(v(vec![p]), |e| {
        matches!(
            e,
            Error::BadField {
                field: "max_distance",
                ..
            }
        )
    });
    for rate in [-0.01, 1.01, f64::NAN, f64::INFINITY] {
        let s = PolicySet {
            policies: vec![],
            sampling: Sampling {
                rate,
                surfaces: vec![],
                private_surfaces: true,
            },
        };
        assert_err(s.validate(), |e| matches!(e, Error::RateOutOfRange(_)));
    }
}

#[test]
fn parse_errors_are_clear() {
    assert_err(PolicySet::from_toml_str("[[policy]]\nid = 3\n"), |e| {
        matches!(e, Error::Parse(_))
    });
    // A typo in a field name must not silently widen a policy.
    let typo = r#"[[policy]]
id = "p"
name = "P"
banks = ["b"]
jurisdiction = ["DE"]
action = "block"
decision_ground = "DECISION_GROUND_ILLEGAL_CONTENT"
legal_ground = "L"
explanation = "E"
"#;
    assert_err(
        PolicySet::from_toml_str(typo),
        |e| matches!(e, Error::Parse(m) if m.contains("jurisdiction")),
    );
    let bad_cat = typo.replace(
        "jurisdiction = [\"DE\"]",
        "categories = [\"STATEMENT_CATEGORY_PIRACY\"]",
    );
    assert_err(PolicySet::from_toml_str(&bad_cat), |e| {
        matches!(e, Error::Parse(_))
    });
    let deliver = typo
        .replace("jurisdiction = [\"DE\"]\n", "")
        .replace("\"block\"", "\"deliver\"");
    assert_err(PolicySet::from_toml_str(&deliver), |e| {
        matches!(e, Error::DeliverAction(_))
    });
    assert_err(PolicySet::from_json_str("{\"policies\": 1}"), |e| {
        matches!(e, Error::Parse(_))
    });
}

#[test]
fn scan_validation_errors() {
    let s = set(vec![]);
    let good = ctx(Surface::Direct, "DE", &[("x", "DE")]);
    assert!(evaluate(&s, &good, &[], NOW, 0.0).is_ok());
    let check = |f: &dyn Fn(&mut ScanContext)| {
        let mut c = good.clone();
        f(&mut c);
        evaluate(&s, &c, &[], NOW, 0.0)
    };
    assert_err(check(&|c| c.recipients.clear()), |e| {
        matches!(e, Error::BadContext(_))
    });
    assert_err(
        check(&|c| {
            c.recipients.clear();
            c.audience = Some(Audience {
                jurisdictions: vec![],
            });
        }),
        |e| matches!(e, Error::BadContext(_)),
    );
    assert!(check(&|c| {
        c.recipients.clear();
        c.audience = Some(Audience {
            jurisdictions: vec!["DE".into()],
        });
    })
    .is_ok());
    assert_err(
        check(&|c| c.recipients = vec![party("x", "DE"); 10_001]),
        |e| matches!(e, Error::BadContext(_)),
    );
    assert!(check(&|c| c.recipients = vec![party("x", "DE"); 10_000]).is_ok());
    assert_err(check(&|c| c.recipients[0].account.clear()), |e| {
        matches!(e, Error::BadContext(_))
    });
    assert_err(check(&|c| c.sender.account = "a".repeat(257)), |e| {
        matches!(e, Error::BadContext(_))
    });
    assert_err(
        check(&|c| c.recipients[0].jurisdiction = "fr".into()),
        |e| matches!(e, Error::BadJurisdiction { .. }),
    );
    assert_err(check(&|c| c.sender.jurisdiction = "ZZ".into()), |e| {
        matches!(e, Error::BadJurisdiction { .. })
    });
    assert_err(check(&|c| c.content_id = "post 1".into()), |e| {
        matches!(e, Error::BadContext(_))
    });
    assert_err(
        check(&|c| c.content_date = Some("2026-02-30".into())),
        |e| matches!(e, Error::BadContext(_)),
    );
    assert_err(
        check(&|c| c.content_date = Some("1999-12-31".into())),
        |e| matches!(e, Error::BadContext(_)),
    );
    assert_err(
        check(&|c| c.content_date = Some("2026-11-24".into())),
        |e| matches!(e, Error::BadContext(_)),
    );
    assert_err(check(&|c| c.content_type = ContentType::Other), |e| {
        matches!(e, Error::BadContext(_))
    });
    assert!(check(&|c| {
        c.content_type = ContentType::Other;
        c.content_type_other = Some("3D model".into());
    })
    .is_ok());
    for now in [
        "2026-11-23",
        "2026-11-23T14:10:18+02:00",
        "2019-12-31T00:00:00Z",
        "yesterday",
    ] {
        assert_err(evaluate(&s, &good, &[], now, 0.0), |e| {
            matches!(e, Error::BadNow(_))
        });
    }
    let mut m = exact("b", TERROR);
    m.distance = 1;
    assert_err(evaluate(&s, &good, &[m], NOW, 0.0), |e| {
        matches!(e, Error::BadMatch(_))
    });
    assert_err(
        evaluate(&s, &good, &[pdq("b", TERROR, 257)], NOW, 0.0),
        |e| matches!(e, Error::BadMatch(_)),
    );
}

// ---------- formats ----------

fn example() -> PolicySet {
    PolicySet::from_toml_str(include_str!("../examples/policies.toml")).unwrap()
}

#[test]
fn example_file_parses_validates_and_behaves() {
    let s = example();
    assert_eq!(s.policies.len(), 4);
    assert_eq!(s.sampling.rate, 0.01);
    assert_eq!(s.sampling.surfaces, [Surface::Public]);
    assert!(s.policies.iter().all(|p| p.enabled));
    assert_eq!(s.policies[3].trigger, Trigger::Unhashable);
    // NCMEC-style list: blocked everywhere.
    let c = ctx(Surface::Direct, "US", &[("bob", "BR")]);
    let o = eval(&s, &c, &[exact("ncmec-hashes", MINORS)]);
    assert_eq!(o.recipients[0].action, Action::Block);
    // Terrorist list: withheld in DE, held elsewhere (including an EU state not listed).
    let c = ctx(
        Surface::Group,
        "US",
        &[("bob", "DE"), ("carol", "US"), ("dan", "PT")],
    );
    let o = eval(&s, &c, &[pdq("tcap-hashes", TERROR, 12)]);
    let acts: Vec<Action> = o.recipients.iter().map(|r| r.action).collect();
    assert_eq!(
        acts,
        [
            Action::Withhold,
            Action::HoldForReview,
            Action::HoldForReview
        ]
    );
    assert_eq!(o.decisions.len(), 2);
    assert_eq!(o.decisions[1].statement.territorial_scope, ["PT"]);
    assert_eq!(
        o.decisions[1].statement.decision_ground,
        DecisionGround::IncompatibleContent
    );
    // Beyond the EU threshold (24) but within review's (31): held everywhere.
    let o = eval(&s, &c, &[pdq("tcap-hashes", TERROR, 28)]);
    assert!(o
        .recipients
        .iter()
        .all(|r| r.action == Action::HoldForReview));
    // Unknown public content: sampled at 1 %.
    let mut p = ctx(Surface::Public, "DE", &[]);
    p.audience = Some(Audience {
        jurisdictions: vec!["DE".into()],
    });
    assert!(
        evaluate(&s, &p, &[], NOW, 0.005)
            .unwrap()
            .sampled_for_review
    );
    assert!(!evaluate(&s, &p, &[], NOW, 0.5).unwrap().sampled_for_review);
}

#[test]
fn toml_and_json_round_trips() {
    let s = example();
    let toml = s.to_toml_string().unwrap();
    assert_eq!(PolicySet::from_toml_str(&toml).unwrap(), s);
    let json = s.to_json_string();
    assert_eq!(PolicySet::from_json_str(&json).unwrap(), s);
    // A fuller policy (every optional field set) survives both.
    let mut p = with_banks(policy("full", Action::HoldForReview), &["b1", "b2"]);
    p.categories = vec![TERROR, MINORS];
    p.surfaces = vec![Surface::Public];
    p.jurisdictions = vec!["DE".into()];
    p.max_distance = Some(0);
    p.automated_decision = Some(AutomatedDecision::Partially);
    p.enabled = false;
    p.description = "with \"quotes\" and\nnewline".into();
    let s = PolicySet {
        policies: vec![p],
        sampling: Sampling {
            rate: 0.5,
            surfaces: vec![Surface::Direct],
            private_surfaces: true,
        },
    };
    assert_eq!(
        PolicySet::from_toml_str(&s.to_toml_string().unwrap()).unwrap(),
        s
    );
    assert_eq!(PolicySet::from_json_str(&s.to_json_string()).unwrap(), s);
    // JSON also accepts "policy" like the TOML tables.
    let alt = s.to_json_string().replace("\"policies\"", "\"policy\"");
    assert_eq!(PolicySet::from_json_str(&alt).unwrap(), s);
}

#[test]
fn canonical_json_is_declared_order_without_whitespace() {
    let p = with_banks(policy("p1", Action::Withhold), &["b"]);
    let j = p.canonical_json();
    assert_eq!(
        j,
        r#"{"id":"p1","name":"Policy p1","description":"","banks":["b"],"categories":[],"surfaces":[],"jurisdictions":[],"action":"withhold","max_distance":null,"decision_ground":"DECISION_GROUND_ILLEGAL_CONTENT","legal_ground":"Law 1","explanation":"Because.","automated_decision":null,"enabled":true}"#
    );
    // Parsing it back and re-encoding is stable (the log's commitment does not drift).
    let back: Policy = serde_json::from_str(&j).unwrap();
    assert_eq!(back.canonical_json(), j);
    // Same policy from TOML gives the same bytes.
    let from_toml = example().policies[0].clone();
    let again: Policy = serde_json::from_str(&from_toml.canonical_json()).unwrap();
    assert_eq!(again, from_toml);
}

// ---------- statements ----------

const REQUIRED: [&str; 15] = [
    "decision_visibility",
    "decision_ground",
    "category",
    "content_type",
    "territorial_scope",
    "automated_detection",
    "automated_decision",
    "source_type",
    "decision_facts",
    "application_date",
    "content_date",
    "puid",
    // one ground pair, checked below
    "policy_id",
    "match_distance",
    "surface",
];

#[test]
fn statement_has_required_fields_with_allowed_values() {
    let s = example();
    let mut c = ctx(
        Surface::Group,
        "US",
        &[("bob", "DE"), ("carol", "US"), ("dan", "PT")],
    );
    c.content_date = None;
    let o = eval(
        &s,
        &c,
        &[pdq("tcap-hashes", TERROR, 12), exact("tcap-hashes", TERROR)],
    );
    assert_eq!(o.decisions.len(), 2);
    for d in &o.decisions {
        let v = serde_json::to_value(&d.statement).unwrap();
        let obj = v.as_object().unwrap();
        for k in REQUIRED {
            assert!(obj.contains_key(k), "missing {k}");
        }
        let vis = &obj["decision_visibility"];
        let allowed_vis: Vec<String> = DecisionVisibility::ALL
            .iter()
            .map(|x| x.as_str().to_string())
            .collect();
        for x in vis.as_array().unwrap() {
            assert!(allowed_vis.contains(&x.as_str().unwrap().to_string()));
        }
        assert!(Category::ALL.iter().any(|c| c.as_str() == obj["category"]));
        assert_eq!(
            obj["content_type"],
            serde_json::json!(["CONTENT_TYPE_IMAGE"])
        );
        assert_eq!(obj["automated_detection"], "Yes");
        assert_eq!(obj["automated_decision"], "AUTOMATED_DECISION_FULLY");
        assert_eq!(obj["source_type"], "SOURCE_VOLUNTARY");
        assert_eq!(obj["application_date"], "2026-11-23");
        assert_eq!(obj["content_date"], "2026-11-23");
        assert_eq!(obj["puid"], "post_123");
        assert_eq!(obj["match_distance"], 0);
        assert_eq!(obj["bank"], "tcap-hashes");
        assert_eq!(obj["surface"], "group");
        assert!(obj["decision_facts"]
            .as_str()
            .unwrap()
            .contains("tcap-hashes"));
        for j in obj["territorial_scope"].as_array().unwrap() {
            assert!(dsa::DSA_TERRITORIAL_SCOPE_CODES.contains(&j.as_str().unwrap()));
        }
        let api = d.statement.dsa_api_json();
        for f in OUR_FIELDS {
            assert!(!api.as_object().unwrap().contains_key(f));
        }
        assert!(!obj.contains_key("content_type_other"));
    }
    // withhold (illegal) vs hold (incompatible, OTHER + text)
    let w = serde_json::to_value(&o.decisions[0].statement).unwrap();
    assert_eq!(
        w["decision_visibility"],
        serde_json::json!(["DECISION_VISIBILITY_CONTENT_DISABLED"])
    );
    assert_eq!(w["decision_ground"], "DECISION_GROUND_ILLEGAL_CONTENT");
    assert!(w["illegal_content_legal_ground"]
        .as_str()
        .unwrap()
        .contains("2021/784"));
    assert!(w.get("illegal_content_explanation").is_some());
    assert!(w.get("incompatible_content_ground").is_none());
    assert!(w.get("decision_visibility_other").is_none());
    assert_eq!(w["territorial_scope"], serde_json::json!(["DE"]));
    let h = serde_json::to_value(&o.decisions[1].statement).unwrap();
    assert_eq!(
        h["decision_visibility"],
        serde_json::json!(["DECISION_VISIBILITY_OTHER"])
    );
    assert_eq!(h["decision_visibility_other"], "held pending human review");
    assert_eq!(h["decision_ground"], "DECISION_GROUND_INCOMPATIBLE_CONTENT");
    assert!(h.get("incompatible_content_ground").is_some());
    assert!(h.get("incompatible_content_explanation").is_some());
    assert!(h.get("illegal_content_legal_ground").is_none());
    assert_eq!(h["territorial_scope"], serde_json::json!(["PT"]));
    assert_eq!(h["jurisdictions"], serde_json::json!(["PT", "US"]));
    assert!(h["decision_facts"]
        .as_str()
        .unwrap()
        .contains("not a final decision"));
}

#[test]
fn statement_content_type_other_and_policy_override() {
    let mut p = with_banks(policy("p", Action::Block), &["b"]);
    p.automated_decision = Some(AutomatedDecision::Partially);
    let s = set(vec![p]);
    let mut c = ctx(Surface::Direct, "DE", &[("x", "DE")]);
    c.content_type = ContentType::Other;
    c.content_type_other = Some("3D model".into());
    let o = eval(&s, &c, &[pdq("b", TERROR, 0)]);
    let v = serde_json::to_value(&o.decisions[0].statement).unwrap();
    assert_eq!(v["content_type"], serde_json::json!(["CONTENT_TYPE_OTHER"]));
    assert_eq!(v["content_type_other"], "3D model");
    assert_eq!(v["automated_decision"], "AUTOMATED_DECISION_PARTIALLY");
    assert_eq!(v["content_date"], "2026-11-20");
}

#[test]
fn notices_are_plain_and_name_no_account() {
    let s = example();
    let c = ctx(
        Surface::Group,
        "US",
        &[("bob", "DE"), ("carol", "FR"), ("dan", "US")],
    );
    let o = eval(&s, &c, &[pdq("tcap-hashes", TERROR, 3)]);
    let w = &o.decisions[0];
    let sender = notice_text(w, NoticeRole::Sender);
    assert!(sender.starts_with("Your image was withheld from recipients in DE, FR under policy terrorist-content-eu (Known terrorist content (EU))"), "{sender}");
    assert!(sender.contains("tcap-hashes"));
    assert!(sender.contains("automated decision"));
    assert!(sender.contains("appeal"));
    let rec = notice_text(w, NoticeRole::Recipient);
    assert!(
        rec.starts_with("An image sent to you was withheld in DE, FR under policy"),
        "{rec}"
    );
    for n in [
        &sender,
        &rec,
        &notice_text(&o.decisions[1], NoticeRole::Sender),
    ] {
        for acct in ["alice", "bob", "carol", "dan"] {
            assert!(!n.contains(acct), "{acct} in {n}");
        }
    }
    let held = notice_text(&o.decisions[1], NoticeRole::Sender);
    assert!(held.contains("until a person has reviewed it"), "{held}");
    assert!(held.contains("not a final decision"));
    let b = eval(&s, &c, &[exact("ncmec-hashes", MINORS)]);
    let bn = notice_text(&b.decisions[0], NoticeRole::Sender);
    assert!(
        bn.starts_with("Your image was removed and not delivered to anyone"),
        "{bn}"
    );
    assert!(bn.contains("illegal under Directive 2011/93/EU"));
}

#[test]
fn outcome_serializes_snake_case() {
    let s = example();
    let o = eval(
        &s,
        &ctx(Surface::Direct, "US", &[("b", "DE")]),
        &[pdq("tcap-hashes", TERROR, 3)],
    );
    let v = serde_json::to_value(&o).unwrap();
    assert_eq!(v["recipients"][0]["action"], "withhold");
    assert_eq!(v["decisions"][0]["action"], "withhold");
    assert_eq!(v["sampled_for_review"], false);
    let held = eval(
        &s,
        &ctx(Surface::Direct, "US", &[("b", "US")]),
        &[pdq("tcap-hashes", TERROR, 3)],
    );
    assert_eq!(
        serde_json::to_value(&held).unwrap()["recipients"][0]["action"],
        "hold_for_review"
    );
}
