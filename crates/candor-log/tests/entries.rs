//! Entries: canonical encoding round trips and refusals; numbers from a known sequence.

use candor_log::entry::{
    examples, examples_v2, Action, AppealEntry, AppealOutcome, AppealOutcomeEntry, ChangeOp,
    ContentOp, DecisionEntry, Entry, EntryBody, NoticeDeferredEntry, PolicyChangeEntry,
    ReviewEntry, ReviewOutcome, SampledEntry, SignalKind, ENTRY_TYPES, SAMPLING_POLICY,
};
use candor_log::numbers::Numbers;

fn decision(examples: &[Entry]) -> DecisionEntry {
    match &examples[2].body {
        EntryBody::Decision(d) => d.clone(),
        _ => unreachable!(),
    }
}

#[test]
fn every_example_round_trips() {
    let ex = examples();
    assert_eq!(ex.len(), ENTRY_TYPES.len());
    for (e, t) in ex.iter().zip(ENTRY_TYPES) {
        assert_eq!(e.type_name(), t);
        let b = e.encode_checked().unwrap();
        let s = std::str::from_utf8(&b).unwrap();
        let v = if t == "sampled" { 2 } else { 1 };
        assert_eq!(e.body.version(), v);
        assert!(
            s.starts_with(&format!(
                "{{\"v\":{v},\"type\":\"{t}\",\"time\":\"2026-11-23T14:10:49Z\","
            )),
            "{s}"
        );
        assert!(!s.contains(' ') || t == "notice_deferred", "{s}");
        assert_eq!(Entry::decode(&b).unwrap(), *e, "{s}");
    }
}

#[test]
fn decision_golden_encoding() {
    let b = examples()[2].encode();
    let h1 = "02".repeat(32);
    assert_eq!(
        String::from_utf8(b).unwrap(),
        format!(
            "{{\"v\":1,\"type\":\"decision\",\"time\":\"2026-11-23T14:10:49Z\",\
             \"decision\":\"01JD8X4A0B\",\"action\":\"withhold\",\"policy\":\"csam\",\
             \"surface\":\"direct\",\"territorial_scope\":[\"DE\",\"FR\"],\
             \"category\":\"STATEMENT_CATEGORY_PROTECTION_OF_MINORS\",\
             \"decision_ground\":\"DECISION_GROUND_ILLEGAL_CONTENT\",\
             \"automated_detection\":true,\"automated_decision\":\"AUTOMATED_DECISION_FULLY\",\
             \"content_type\":\"CONTENT_TYPE_IMAGE\",\"source_type\":\"SOURCE_VOLUNTARY\",\
             \"bank\":\"csam-ncmec\",\"distance\":12,\"recipients\":3,\
             \"content_commitment\":\"{h1}\"}}"
        )
    );
}

#[test]
fn optional_fields_are_omitted() {
    let mut d = decision(&examples());
    d.bank = None;
    d.distance = None;
    let e = Entry::new("2026-01-01T00:00:00Z", EntryBody::Decision(d));
    let s = String::from_utf8(e.encode_checked().unwrap()).unwrap();
    assert!(!s.contains("\"bank\"") && !s.contains("distance") && !s.contains("null"));
    assert_eq!(Entry::decode(s.as_bytes()).unwrap(), e);

    let r = Entry::new(
        "2026-01-01T00:00:00Z",
        EntryBody::Review(ReviewEntry {
            decision: None,
            review_item: "r1".into(),
            outcome: ReviewOutcome::Rejected,
            bank: None,
            content_commitment: None,
        }),
    );
    let s = String::from_utf8(r.encode_checked().unwrap()).unwrap();
    assert_eq!(
        s,
        "{\"v\":1,\"type\":\"review\",\"time\":\"2026-01-01T00:00:00Z\",\"review_item\":\"r1\",\"outcome\":\"rejected\"}"
    );
    // Explicit null is not canonical.
    let with_null = s.replace("\"review_item\"", "\"decision\":null,\"review_item\"");
    assert!(Entry::decode(with_null.as_bytes()).is_err());
}

#[test]
fn strings_are_escaped_as_serde_json_does() {
    let e = Entry::new(
        "2026-01-01T00:00:00Z",
        EntryBody::NoticeDeferred(NoticeDeferredEntry {
            decision: Some("d/\u{e9}\"\\".into()),
            review_item: None,
            legal_basis: "line\nbreak \u{1F600}".into(),
        }),
    );
    let b = e.encode_checked().unwrap();
    let s = std::str::from_utf8(&b).unwrap();
    assert!(s.contains(r#""decision":"d/é\"\\""#), "{s}");
    assert!(s.contains(r#""legal_basis":"line\nbreak 😀""#), "{s}");
    assert_eq!(Entry::decode(&b).unwrap(), e);
    // Other escapes of the same string are refused.
    assert!(Entry::decode(s.replace("d/é", "d\\/é").as_bytes()).is_err());
    assert!(Entry::decode(s.replace("d/é", "d/\\u00e9").as_bytes()).is_err());
}

fn refused(s: &str) {
    assert!(Entry::decode(s.as_bytes()).is_err(), "accepted: {s}");
}

#[test]
fn non_canonical_and_invalid_are_refused() {
    let good = String::from_utf8(examples()[4].encode()).unwrap();
    assert_eq!(
        good,
        "{\"v\":1,\"type\":\"appeal\",\"time\":\"2026-11-23T14:10:49Z\",\"appeal\":\"01JD8X6E2F\",\"decision\":\"01JD8X4A0B\"}"
    );
    Entry::decode(good.as_bytes()).unwrap();
    let t = "\"time\":\"2026-11-23T14:10:49Z\"";
    // Reordered keys.
    refused(&format!(
        "{{\"type\":\"appeal\",\"v\":1,{t},\"appeal\":\"a\",\"decision\":\"d\"}}"
    ));
    refused(&format!(
        "{{\"v\":1,\"type\":\"appeal\",{t},\"decision\":\"d\",\"appeal\":\"a\"}}"
    ));
    // Whitespace.
    refused(&good.replace(",\"appeal\"", ", \"appeal\""));
    refused(&format!("{good}\n"));
    refused(&format!(" {good}"));
    refused(&good.replace("\"v\":1", "\"v\": 1"));
    // Floats and other number forms.
    refused(&good.replace("\"v\":1", "\"v\":1.0"));
    refused(&good.replace("\"v\":1", "\"v\":1e0"));
    let dec = String::from_utf8(examples()[2].encode()).unwrap();
    Entry::decode(dec.as_bytes()).unwrap();
    refused(&dec.replace("\"recipients\":3", "\"recipients\":3.0"));
    refused(&dec.replace("\"recipients\":3", "\"recipients\":3e0"));
    refused(&dec.replace("\"recipients\":3", "\"recipients\":03"));
    refused(&dec.replace("\"recipients\":3", "\"recipients\":-3"));
    refused(&dec.replace("\"distance\":12", "\"distance\":4294967296"));
    // Versions.
    refused(&good.replace("\"v\":1", "\"v\":2"));
    refused(&good.replace("\"v\":1", "\"v\":0"));
    refused(&good.replace("\"v\":1", "\"v\":\"1\""));
    refused(&good.replace("\"v\":1,", ""));
    // Unknown type, unknown or duplicate field, missing field.
    refused(&good.replace("\"appeal\",\"time\"", "\"appeals\",\"time\""));
    refused(&good.replace("\"type\":\"appeal\",", ""));
    refused(&good.replace("}", ",\"account\":\"u1\"}"));
    refused(&good.replace("}", ",\"decision\":\"01JD8X4A0B\"}"));
    refused(&good.replace(",\"decision\":\"01JD8X4A0B\"", ""));
    refused(&good.replace(t, ""));
    // Times.
    refused(&good.replace("14:10:49Z", "14:10:49.000Z"));
    refused(&good.replace("14:10:49Z", "14:10:49+00:00"));
    refused(&good.replace("2026-11-23", "2026-02-30"));
    // Not JSON / not an object / empty.
    refused("");
    refused("[]");
    refused("null");
    refused(&good[..good.len() - 1]);
    // Field rules.
    refused(&good.replace("01JD8X6E2F", ""));
    refused(&good.replace("01JD8X6E2F", &"a".repeat(1025)));
    refused(&dec.replace("[\"DE\",\"FR\"]", "[\"FR\",\"DE\"]"));
    refused(&dec.replace("[\"DE\",\"FR\"]", "[\"DE\",\"DE\"]"));
    refused(&dec.replace("[\"DE\",\"FR\"]", "[\"de\"]"));
    refused(&dec.replace("[\"DE\",\"FR\"]", "[\"DEU\"]"));
    refused(&dec.replace("\"withhold\"", "\"deliver\""));
    refused(&dec.replace("AUTOMATED_DECISION_FULLY", "AUTOMATED_DECISION_MAYBE"));
    refused(&dec.replace("STATEMENT_CATEGORY_PROTECTION_OF_MINORS", "MINORS"));
    refused(&dec.replace(&"02".repeat(32), &"02".repeat(31)));
    refused(&dec.replace(&"02".repeat(32), &"0A".repeat(32)));
    // Decoding then encoding again gives the same bytes for every example.
    for e in examples() {
        let b = e.encode();
        assert_eq!(Entry::decode(&b).unwrap().encode(), b);
    }
}

#[test]
fn validation_rules() {
    let t = "2026-01-01T00:00:00Z";
    let pc = |op, digest| {
        Entry::new(
            t,
            EntryBody::PolicyChange(PolicyChangeEntry {
                policy: "p".into(),
                op,
                digest,
                private_surfaces: None,
            }),
        )
    };
    pc(ChangeOp::Create, Some([1; 32]))
        .encode_checked()
        .unwrap();
    pc(ChangeOp::Delete, None).encode_checked().unwrap();
    assert!(pc(ChangeOp::Delete, Some([1; 32]))
        .encode_checked()
        .is_err());
    assert!(pc(ChangeOp::Update, None).encode_checked().is_err());

    let nd = |s: &str| {
        Entry::new(
            t,
            EntryBody::NoticeDeferred(NoticeDeferredEntry {
                decision: Some("d".into()),
                review_item: None,
                legal_basis: s.into(),
            }),
        )
    };
    nd(&"é".repeat(200)).encode_checked().unwrap();
    assert!(nd(&"a".repeat(201)).encode_checked().is_err());

    let with = |f: &dyn Fn(&mut candor_log::entry::BankContentEntry)| {
        let mut e = examples()[1].clone();
        if let EntryBody::BankContent(b) = &mut e.body {
            f(b);
        }
        e.encode_checked()
    };
    assert!(
        with(&|b| b.reason = Some("duplicate".into())).is_err(),
        "reason without retract"
    );
    with(&|b| {
        b.reason = Some("duplicate".into());
        b.op = ContentOp::Retract;
    })
    .unwrap();
    assert!(with(&|b| b.provenance = "imported:".into()).is_err());
    assert!(with(&|b| b.provenance = "someone".into()).is_err());
    with(&|b| b.provenance = "own_review".into()).unwrap();
    // Entries above 64 KiB are refused both ways.
    let mut d = decision(&examples());
    d.territorial_scope = Vec::new();
    let mut e = Entry::new(t, EntryBody::Decision(d.clone()));
    e.encode_checked().unwrap();
    d.decision = "x".repeat(1024);
    e.body = EntryBody::Decision(d);
    e.encode_checked().unwrap();
    let big = vec![b' '; 70_000];
    assert!(Entry::decode(&big).is_err());
}

fn t(i: u32) -> String {
    format!("2026-01-01T00:{:02}:{:02}Z", (i / 60) % 60, i % 60)
}

/// A known sequence of entries and its numbers, written out by hand.
#[test]
fn numbers_from_a_known_sequence() {
    let ex = examples();
    let base = decision(&ex);
    let mut seq = Vec::new();
    seq.push(ex[0].clone()); // bank
    seq.push(ex[1].clone()); // bank_content add
    let mut d1 = base.clone();
    d1.policy = "p1".into();
    seq.push(Entry::new(t(1), EntryBody::Decision(d1)));
    let mut d2 = base.clone();
    d2.action = Action::Block;
    d2.policy = "p2".into();
    d2.surface = "public".into();
    d2.territorial_scope = vec!["AT".into(), "DE".into()];
    d2.automated_decision = "AUTOMATED_DECISION_PARTIALLY".into();
    seq.push(Entry::new(t(2), EntryBody::Decision(d2)));
    let mut d3 = base.clone();
    d3.action = Action::HoldForReview;
    d3.policy = "p1".into();
    d3.territorial_scope = vec![];
    d3.category = "STATEMENT_CATEGORY_SCAMS_AND_FRAUD".into();
    d3.automated_decision = "AUTOMATED_DECISION_NOT_AUTOMATED".into();
    seq.push(Entry::new(t(3), EntryBody::Decision(d3)));
    seq.push(ex[3].clone()); // review confirmed
    seq.push(Entry::new(
        t(4),
        EntryBody::Review(ReviewEntry {
            decision: None,
            review_item: "r2".into(),
            outcome: ReviewOutcome::Rejected,
            bank: None,
            content_commitment: None,
        }),
    ));
    seq.push(ex[4].clone()); // appeal
    seq.push(Entry::new(
        t(5),
        EntryBody::Appeal(AppealEntry {
            appeal: "a2".into(),
            decision: Some("d2".into()),
            review_item: None,
        }),
    ));
    seq.push(ex[5].clone()); // upheld
    seq.push(Entry::new(
        t(6),
        EntryBody::AppealOutcome(AppealOutcomeEntry {
            appeal: "a2".into(),
            decision: Some("d2".into()),
            review_item: None,
            outcome: AppealOutcome::Reversed,
        }),
    ));
    for op in [ContentOp::Retract, ContentOp::Disable, ContentOp::Enable] {
        let mut b = ex[1].clone();
        if let EntryBody::BankContent(c) = &mut b.body {
            c.op = op;
        }
        seq.push(b);
    }
    seq.push(ex[6].clone()); // policy change
    seq.push(ex[7].clone()); // notice deferred
    seq.push(ex[8].clone()); // sampled (direct)
    for e in &seq {
        e.encode_checked().unwrap();
    }
    let n = Numbers::from_entries(&seq);
    let json = String::from_utf8(n.to_json()).unwrap();
    assert_eq!(
        json,
        "{\"tree_size\":17,\
         \"decisions\":{\"total\":3,\
         \"by_action\":{\"block\":1,\"hold_for_review\":1,\"withhold\":1},\
         \"by_policy\":{\"p1\":2,\"p2\":1},\
         \"by_category\":{\"STATEMENT_CATEGORY_PROTECTION_OF_MINORS\":2,\"STATEMENT_CATEGORY_SCAMS_AND_FRAUD\":1},\
         \"by_jurisdiction\":{\"AT\":1,\"DE\":2,\"FR\":1},\
         \"by_surface\":{\"direct\":2,\"public\":1},\
         \"automated\":1,\"human\":2,\"unhashable\":0},\
         \"reviews\":{\"confirmed\":1,\"rejected\":1},\
         \"samples\":{\"total\":1,\"by_surface\":{\"direct\":1}},\
         \"appeals\":{\"total\":2,\"upheld\":1,\"reversed\":1},\
         \"bank_changes\":{\"add\":1,\"retract\":1,\"enable\":1,\"disable\":1},\
         \"banks\":{\"create\":1,\"update\":0,\"delete\":0},\
         \"policy_changes\":1,\"notices_deferred\":1}"
    );
    let back: Numbers = serde_json::from_str(&json).unwrap();
    assert_eq!(back, n);
    // apply one by one = from_entries; empty = default with tree_size 0.
    let mut m = Numbers::default();
    for e in &seq {
        m.apply(e);
    }
    assert_eq!(m, n);
    assert_eq!(
        String::from_utf8(Numbers::default().to_json()).unwrap(),
        "{\"tree_size\":0,\"decisions\":{\"total\":0,\"by_action\":{},\"by_policy\":{},\"by_category\":{},\"by_jurisdiction\":{},\"by_surface\":{},\"automated\":0,\"human\":0,\"unhashable\":0},\"reviews\":{\"confirmed\":0,\"rejected\":0},\"samples\":{\"total\":0,\"by_surface\":{}},\"appeals\":{\"total\":0,\"upheld\":0,\"reversed\":0},\"bank_changes\":{\"add\":0,\"retract\":0,\"enable\":0,\"disable\":0},\"banks\":{\"create\":0,\"update\":0,\"delete\":0},\"policy_changes\":0,\"notices_deferred\":0}"
    );
}

mod never_panics {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn decode_arbitrary_bytes(b in proptest::collection::vec(any::<u8>(), 0..512)) {
            if let Ok(e) = Entry::decode(&b) {
                prop_assert_eq!(e.encode(), b);
            }
        }

        #[test]
        fn decode_mutated_examples(which in 0usize..9, pos in any::<usize>(), byte in any::<u8>()) {
            let mut b = examples()[which].encode();
            let p = pos % b.len();
            b[p] = byte;
            if let Ok(e) = Entry::decode(&b) {
                // Only an equally canonical, valid entry survives a change.
                prop_assert_eq!(e.encode(), b);
            }
        }
    }
}

#[test]
fn version_two_forms_round_trip_and_are_canonical() {
    for e in examples_v2() {
        assert_eq!(e.body.version(), 2, "{e:?}");
        let b = e.encode_checked().unwrap();
        let s = String::from_utf8(b.clone()).unwrap();
        assert!(s.starts_with("{\"v\":2,"), "{s}");
        assert_eq!(Entry::decode(&b).unwrap(), e, "{s}");
        // The same bytes claiming version 1 are refused (v1 cannot express them).
        let v1 = s.replacen("{\"v\":2,", "{\"v\":1,", 1);
        assert!(Entry::decode(v1.as_bytes()).is_err(), "{v1}");
    }
    // A version-1 entry claiming version 2 is not canonical.
    let s = String::from_utf8(examples()[4].encode()).unwrap();
    let v2 = s.replacen("{\"v\":1,", "{\"v\":2,", 1);
    assert!(Entry::decode(v2.as_bytes()).is_err(), "{v2}");
    let v3 = s.replacen("{\"v\":1,", "{\"v\":3,", 1);
    assert!(Entry::decode(v3.as_bytes()).is_err(), "{v3}");
    let v4 = s.replacen("{\"v\":1,", "{\"v\":4,", 1);
    assert!(Entry::decode(v4.as_bytes()).is_err(), "{v4}");
}

#[test]
fn sha1_signals_are_version_three() {
    // A bank change of a SHA-1 signal needs version 3; every other signal keeps its version.
    for (i, e) in examples_v2().into_iter().enumerate() {
        let EntryBody::BankContent(mut c) = e.body else {
            continue;
        };
        c.signal = SignalKind::Sha1;
        let e = Entry::new(&e.time, EntryBody::BankContent(c));
        assert_eq!(e.body.version(), 3, "example {i}");
        let b = e.encode_checked().unwrap();
        let s = String::from_utf8(b.clone()).unwrap();
        assert!(
            s.starts_with("{\"v\":3,") && s.contains("\"signal\":\"sha1\""),
            "{s}"
        );
        assert_eq!(Entry::decode(&b).unwrap(), e);
        for older in ["{\"v\":1,", "{\"v\":2,"] {
            let claimed = s.replacen("{\"v\":3,", older, 1);
            assert!(Entry::decode(claimed.as_bytes()).is_err(), "{claimed}");
        }
    }
    for e in examples().into_iter().chain(examples_v2()) {
        if let EntryBody::BankContent(mut c) = e.body.clone() {
            c.signal = SignalKind::Sha1;
            c.content_commitment = None;
            c.provenance = "imported:ncmec".into();
            let e = Entry::new(&e.time, EntryBody::BankContent(c));
            assert!(String::from_utf8(e.encode_checked().unwrap())
                .unwrap()
                .starts_with("{\"v\":3,"));
        }
    }
}

#[test]
fn version_two_rules() {
    let t = "2026-11-23T14:10:49Z";
    // Exactly one of decision and review_item.
    for (d, r) in [(None, None), (Some("d1"), Some("r1"))] {
        let bad = [
            EntryBody::Appeal(AppealEntry {
                appeal: "a1".into(),
                decision: d.map(Into::into),
                review_item: r.map(Into::into),
            }),
            EntryBody::AppealOutcome(AppealOutcomeEntry {
                appeal: "a1".into(),
                decision: d.map(Into::into),
                review_item: r.map(Into::into),
                outcome: AppealOutcome::Upheld,
            }),
            EntryBody::NoticeDeferred(NoticeDeferredEntry {
                decision: d.map(Into::into),
                review_item: r.map(Into::into),
                legal_basis: "a court order".into(),
            }),
        ];
        for b in bad {
            assert!(Entry::new(t, b).encode_checked().is_err());
        }
    }
    // private_surfaces exactly for the sampling settings.
    let pc = |policy: &str, ps: Option<bool>| {
        Entry::new(
            t,
            EntryBody::PolicyChange(PolicyChangeEntry {
                policy: policy.into(),
                op: ChangeOp::Update,
                digest: Some([7; 32]),
                private_surfaces: ps,
            }),
        )
        .encode_checked()
    };
    assert!(pc(SAMPLING_POLICY, Some(false)).is_ok());
    assert!(pc(SAMPLING_POLICY, None).is_err());
    assert!(pc("csam", Some(true)).is_err());
    // A content commitment on a bank change only for an own-review addition.
    let mut e = examples_v2()[1].clone();
    if let EntryBody::BankContent(c) = &mut e.body {
        c.provenance = "imported:ncmec".into();
    }
    assert!(e.encode_checked().is_err());
    let mut e = examples_v2()[1].clone();
    if let EntryBody::BankContent(c) = &mut e.body {
        c.op = ContentOp::Disable;
    }
    assert!(e.encode_checked().is_err());
    // A sampled entry needs a token surface.
    let e = Entry::new(
        t,
        EntryBody::Sampled(SampledEntry {
            review_item: "r1".into(),
            surface: "Direct Message".into(),
            content_commitment: [1; 32],
        }),
    );
    assert!(e.encode_checked().is_err());
}
