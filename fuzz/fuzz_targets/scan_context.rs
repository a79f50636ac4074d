//! A scan as the API receives it: `serde_json::from_slice::<ScanContext>`, `validate`, then
//! `evaluate_with` against `crates/candor-policy/examples/policies.toml` (or a set sampling
//! every surface) with matches, an unhashable reason, a `now` and a sample draw derived from
//! the input.
//!
//! Input: the scan's JSON, a NUL byte (never valid inside JSON), then the bytes the matches
//! and the rest are derived from (`arbitrary::Unstructured`).
//!
//! Properties: a context round-trips through JSON; `evaluate_with` refuses every context
//! `validate` refuses; an outcome answers every recipient in order and every distinct audience
//! jurisdiction once, `deliver` exactly when no decision is named, each named decision exists
//! and has that action (never `deliver`); sampled content has no decision and a surface the
//! set samples; statements and notices render; the evaluation is deterministic.
#![no_main]
mod common;

use std::collections::BTreeSet;
use std::sync::OnceLock;

use candor_policy::{
    evaluate_with, notice_text, Action, Category, Match, NoticeRole, PolicySet, ScanContext,
    ScanFacts, SignalType,
};
use libfuzzer_sys::arbitrary::{Result as AResult, Unstructured};
use libfuzzer_sys::fuzz_target;

fn sets() -> &'static [PolicySet; 2] {
    static SETS: OnceLock<[PolicySet; 2]> = OnceLock::new();
    SETS.get_or_init(|| {
        let example = PolicySet::from_toml_str(include_str!(
            "../../crates/candor-policy/examples/policies.toml"
        ))
        .expect("the example set is valid");
        let mut everywhere = example.clone();
        everywhere.sampling.rate = 0.5;
        everywhere.sampling.surfaces = Vec::new();
        everywhere.sampling.private_surfaces = true;
        everywhere.validate().expect("valid");
        [example, everywhere]
    })
}

const BANKS: [&str; 4] = ["ncmec-hashes", "tcap-hashes", "scam-hashes", "unknown-bank"];
const NOWS: [&str; 4] = [
    "2026-11-23T14:10:49Z",
    "2026-02-28T23:59:59.5+00:00",
    "2020-01-01T00:00:00Z",
    "2019-12-31T23:59:59Z",
];

fn a_match(u: &mut Unstructured) -> AResult<Match> {
    let bank = if u.ratio(3, 4)? {
        (*u.choose(&BANKS)?).to_owned()
    } else {
        u.arbitrary()?
    };
    let signal = *u.choose(&[SignalType::Pdq, SignalType::Md5, SignalType::Sha256])?;
    let distance = if u.ratio(7, 8)? {
        u.int_in_range(0..=40)?
    } else {
        u.arbitrary()?
    };
    Ok(Match {
        bank,
        bank_category: *u.choose(Category::ALL)?,
        content_id: if u.ratio(3, 4)? {
            "entry-1".to_owned()
        } else {
            u.arbitrary()?
        },
        signal,
        distance,
        orientation: u.arbitrary()?,
        trimmed: u.arbitrary()?,
    })
}

fn inputs(u: &mut Unstructured) -> AResult<(usize, ScanFacts, String, f64)> {
    let set = usize::from(u.arbitrary::<bool>()?);
    let mut matches = Vec::new();
    for _ in 0..u.int_in_range(0..=4)? {
        matches.push(a_match(u)?);
    }
    let unhashable = if u.arbitrary()? {
        Some(if u.ratio(1, 2)? {
            "the image is 30000 x 30000 pixels".to_owned()
        } else {
            u.arbitrary()?
        })
    } else {
        None
    };
    let now = if u.ratio(7, 8)? {
        (*u.choose(&NOWS)?).to_owned()
    } else {
        u.arbitrary()?
    };
    let draw = if u.ratio(7, 8)? {
        f64::from(u.int_in_range(0..=1000u32)?) / 1000.0
    } else {
        u.arbitrary()?
    };
    Ok((set, ScanFacts { matches, unhashable }, now, draw))
}

fuzz_target!(|data: &[u8]| {
    let (json, rest) = match data.iter().position(|&b| b == 0) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[][..]),
    };
    let Ok(ctx) = serde_json::from_slice::<ScanContext>(json) else {
        return;
    };
    let again: ScanContext =
        serde_json::from_slice(&serde_json::to_vec(&ctx).expect("serializes")).expect("parses");
    assert_eq!(again, ctx, "JSON round trip");
    let valid = ctx.validate();

    let Ok((which, facts, now, draw)) = inputs(&mut Unstructured::new(rest)) else {
        return;
    };
    let set = &sets()[which];
    let out = evaluate_with(set, &ctx, &facts, &now, draw);
    if valid.is_err() {
        assert!(out.is_err(), "evaluate_with accepted an invalid context");
        return;
    }
    let Ok(out) = out else { return };
    assert_eq!(evaluate_with(set, &ctx, &facts, &now, draw).as_ref(), Ok(&out));

    assert_eq!(out.recipients.len(), ctx.recipients.len());
    for (r, p) in out.recipients.iter().zip(&ctx.recipients) {
        assert_eq!((&r.account, &r.jurisdiction), (&p.account, &p.jurisdiction));
        match r.decision {
            None => assert_eq!(r.action, Action::Deliver),
            Some(i) => assert_eq!(out.decisions[i].action, r.action),
        }
    }
    let distinct: BTreeSet<&str> = ctx
        .audience
        .iter()
        .flat_map(|a| a.jurisdictions.iter().map(String::as_str))
        .collect();
    assert_eq!(out.audience.len(), distinct.len());
    for a in &out.audience {
        assert!(distinct.contains(a.jurisdiction.as_str()));
        match a.decision {
            None => assert_eq!(a.action, Action::Deliver),
            Some(i) => assert_eq!(out.decisions[i].action, a.action),
        }
    }
    for d in &out.decisions {
        assert_ne!(d.action, Action::Deliver);
        assert!(set.policies.iter().any(|p| p.id == d.policy_id));
        let _ = d.statement.dsa_api_json();
        assert!(!notice_text(d, NoticeRole::Sender).is_empty());
        assert!(!notice_text(d, NoticeRole::Recipient).is_empty());
    }
    if out.sampled_for_review {
        assert!(out.decisions.is_empty(), "restricted content was also sampled");
        assert!(set.sampling.samples(ctx.surface));
    }
    serde_json::to_string(&out).expect("an outcome serializes");
});
