mod common;

use candor_policy::*;
use common::*;

const TERROR: Category = Category::RiskForPublicSecurity;
const REASON: &str = "the image is 40000 × 40000 pixels, above the 20000-pixel bound";

fn facts(matches: Vec<Match>, reason: Option<&str>) -> ScanFacts {
    ScanFacts {
        matches,
        unhashable: reason.map(str::to_string),
    }
}

fn public(sender: &str, audience: &[&str]) -> ScanContext {
    let mut c = ctx(Surface::Public, sender, &[]);
    c.audience = Some(Audience {
        jurisdictions: audience.iter().map(|s| s.to_string()).collect(),
    });
    c
}

fn example() -> PolicySet {
    PolicySet::from_toml_str(include_str!("../examples/policies.toml")).unwrap()
}

#[test]
fn example_holds_unhashable_images_on_public_surfaces_only() {
    let s = example();
    let c = public("US", &["DE", "US"]);
    let o = evaluate_with(&s, &c, &facts(vec![], Some(REASON)), NOW, 0.0).unwrap();
    assert!(o.audience.iter().all(|a| a.action == Action::HoldForReview));
    assert_eq!(o.decisions.len(), 1);
    let d = &o.decisions[0];
    assert_eq!(d.policy_id, "unhashable-public-review");
    assert!(d.matches.is_empty());
    assert_eq!(d.jurisdictions, ["DE", "US"]);
    // Held content is not also sampled as unknown content (the draw 0.0 < 1 % would sample it).
    assert!(!o.sampled_for_review);
    let st = &d.statement;
    assert_eq!(st.category, Category::OtherViolationTc);
    assert_eq!(st.unhashable.as_deref(), Some(REASON));
    assert_eq!(st.bank, None);
    assert_eq!(st.match_distance, None);
    assert_eq!(st.automated_detection, AutomatedDetection::Yes);
    assert_eq!(st.decision_visibility, [DecisionVisibility::Other]);
    assert_eq!(st.territorial_scope, ["DE"]);
    assert!(
        st.decision_facts
            .contains("could not be checked automatically")
            && st.decision_facts.contains(REASON)
            && st.decision_facts.contains("not found to match anything")
            && st.decision_facts.contains("not a final decision"),
        "{}",
        st.decision_facts
    );
    assert!(!st.decision_facts.contains("hash bank \""));
    let v = serde_json::to_value(st).unwrap();
    assert!(v.get("bank").is_none() && v.get("match_distance").is_none());
    assert!(st.dsa_api_json().get("unhashable").is_none());
    let n = notice_text(d, NoticeRole::Sender);
    assert!(
        n.contains("could not be checked automatically") && n.contains(REASON),
        "{n}"
    );
    assert!(!n.contains("matched the hash list"), "{n}");
    // A direct message that cannot be hashed: no unhashable policy there, delivered, and it is
    // unknown content (not sampled: the example samples public surfaces only).
    let d = ctx(Surface::Direct, "US", &[("bob", "DE")]);
    let o = evaluate_with(&s, &d, &facts(vec![], Some(REASON)), NOW, 0.0).unwrap();
    assert_eq!(o.recipients[0].action, Action::Deliver);
    assert!(o.decisions.is_empty());
    // Without a reason the unhashable policy never applies: public unknown content is sampled.
    let o = evaluate_with(&s, &c, &facts(vec![], None), NOW, 0.0).unwrap();
    assert!(o.decisions.is_empty() && o.sampled_for_review);
}

#[test]
fn unhashable_policies_follow_the_same_scope_and_severity() {
    let s = set(vec![
        in_js(
            unhashable_policy("unh-block", Action::Block, TERROR),
            &["DE"],
        ),
        with_banks(policy("tc-hold", Action::HoldForReview), &["tcap"]),
        unhashable_policy("unh-hold", Action::HoldForReview, TERROR),
    ]);
    // Sender outside DE: the unhashable block policy withholds in DE; the hold elsewhere.
    let c = public("US", &["DE", "FR"]);
    let o = evaluate_with(&s, &c, &facts(vec![], Some(REASON)), NOW, 0.5).unwrap();
    let got: Vec<(Action, &str)> = o
        .audience
        .iter()
        .map(|a| {
            (
                a.action,
                o.decisions[a.decision.unwrap()].policy_id.as_str(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            (Action::Withhold, "unh-block"),
            (Action::HoldForReview, "unh-hold")
        ]
    );
    assert!(o.decisions[0]
        .statement
        .decision_facts
        .contains("not removed but withheld in DE"));
    // An exact digest matched too: the match policy comes first in the order and wins the tie.
    let o = evaluate_with(
        &s,
        &c,
        &facts(vec![exact("tcap", TERROR)], Some(REASON)),
        NOW,
        0.5,
    )
    .unwrap();
    assert_eq!(o.decisions[1].policy_id, "tc-hold");
    assert_eq!(o.decisions[1].matches.len(), 1);
    assert_eq!(o.decisions[1].statement.unhashable, None);
    // Sender in DE: removed at source.
    let o = evaluate_with(
        &s,
        &public("DE", &["FR"]),
        &facts(vec![], Some(REASON)),
        NOW,
        0.5,
    )
    .unwrap();
    assert_eq!(o.audience[0].action, Action::Block);
    // The unhashable policies never act on a match alone.
    let o = evaluate(&s, &c, &[pdq("other", TERROR, 0)], NOW, 0.5).unwrap();
    assert!(o.decisions.is_empty());
}

#[test]
fn unhashable_policy_validation() {
    let ok = unhashable_policy("u", Action::HoldForReview, TERROR);
    let v = |p: Policy| set_unchecked(vec![p]).validate();
    assert!(v(ok.clone()).is_ok());
    let field_of = |r: Result<(), Error>| match r {
        Err(Error::BadField { policy, field, .. }) => {
            assert_eq!(policy, "u");
            field
        }
        other => panic!("expected BadField, got {other:?}"),
    };
    let mut p = ok.clone();
    p.category = None;
    assert_eq!(field_of(v(p)), "category");
    let mut p = ok.clone();
    p.banks = vec!["b".into()];
    assert_eq!(field_of(v(p)), "banks");
    let mut p = ok.clone();
    p.categories = vec![TERROR];
    assert_eq!(field_of(v(p)), "banks");
    let mut p = ok.clone();
    p.max_distance = Some(3);
    assert_eq!(field_of(v(p)), "max_distance");
    let mut p = ok.clone();
    p.action = Action::Deliver;
    assert!(matches!(v(p), Err(Error::DeliverAction(_))));
    // A match policy has no category of its own.
    let mut m = with_banks(policy("u", Action::Block), &["b"]);
    m.category = Some(TERROR);
    assert_eq!(field_of(v(m)), "category");
    // TOML: the trigger and category parse; a bad trigger does not.
    let toml = r#"[[policy]]
id = "u"
name = "U"
trigger = "unhashable"
category = "STATEMENT_CATEGORY_RISK_FOR_PUBLIC_SECURITY"
action = "hold_for_review"
decision_ground = "DECISION_GROUND_INCOMPATIBLE_CONTENT"
legal_ground = "L"
explanation = "E"
"#;
    let s = PolicySet::from_toml_str(toml).unwrap();
    assert_eq!(s.policies[0].trigger, Trigger::Unhashable);
    assert!(matches!(
        PolicySet::from_toml_str(&toml.replace("\"unhashable\"", "\"broken\"")),
        Err(Error::Parse(_))
    ));
    // A bad reason is refused like any bad input.
    let c = public("US", &["DE"]);
    for bad in ["", "  ", &"x".repeat(501)] {
        assert!(matches!(
            evaluate_with(&s, &c, &facts(vec![], Some(bad)), NOW, 0.5),
            Err(Error::BadContext(_))
        ));
    }
}

#[test]
fn canonical_json_of_existing_policies_does_not_change() {
    // The new fields are left out at their default: the log's digests do not drift.
    let p = with_banks(policy("p1", Action::Withhold), &["b"]);
    assert!(!p.canonical_json().contains("trigger"));
    assert!(!p.canonical_json().contains("\"category\""));
    let u = unhashable_policy("u1", Action::HoldForReview, TERROR);
    let j = u.canonical_json();
    assert!(
        j.ends_with(r#""enabled":true,"trigger":"unhashable","category":"STATEMENT_CATEGORY_RISK_FOR_PUBLIC_SECURITY"}"#),
        "{j}"
    );
    let back: Policy = serde_json::from_str(&j).unwrap();
    assert_eq!(back, u);
    let s = set(vec![p, u]);
    assert_eq!(
        PolicySet::from_toml_str(&s.to_toml_string().unwrap()).unwrap(),
        s
    );
}
