//! Nobody's content grows a bank silently: the person whose content is sampled into review,
//! reviewed and added to a bank is told at every step, finds each step in the log with their
//! notice, sees it all in their data-access export, and can appeal the addition.

mod common;

use candor_log::entry::{Entry, EntryBody};
use common::*;
use serde_json::{json, Value};

const IMG: &str = "reference/bridge-mods/aaa-orig.jpg";

/// The policies: a terrorist-content list withheld in EU states, and sampling of
/// unknown direct messages, explicitly allowed on private surfaces.
fn policies() -> Value {
    json!({
        "sampling": {"rate": 1.0, "surfaces": ["direct"], "private_surfaces": true},
        "policies": [{
            "id": "terrorist-content-eu",
            "name": "Known terrorist content (EU)",
            "banks": ["tcap-hashes"],
            "action": "withhold",
            "jurisdictions": ["AT", "BE", "DE", "ES", "FR", "IE", "IT", "NL", "PL", "SE"],
            "decision_ground": "DECISION_GROUND_ILLEGAL_CONTENT",
            "legal_ground": "Regulation (EU) 2021/784, Article 2(7)",
            "explanation": "The content matches known terrorist content."
        }]
    })
}

fn scan_image(s: &TestServer, puid: &str, sender: (&str, &str), to: (&str, &str)) -> Value {
    let ctx = context(puid, "direct", sender, &[to]);
    let img = image_bytes(IMG);
    s.post_multipart(
        "/v1/scan",
        &s.tokens.platform,
        &[
            ("context", None, ctx.to_string().as_bytes()),
            ("file", Some("a.jpg"), &img),
        ],
    )
    .expect(200)
    .json()
}

fn notices(s: &TestServer, account: &str) -> Vec<Value> {
    s.get(
        &format!("/v1/notices?account={account}"),
        &s.tokens.platform,
    )
    .expect(200)
    .json()
    .as_array()
    .unwrap()
    .clone()
}

/// Verify the notice's proof offline and return its entry; check the entry's content
/// commitment opens with the notice's nonce and puid.
fn proven_entry(s: &TestServer, n: &Value) -> Entry {
    let proof = s
        .get(n["proof_url"].as_str().unwrap(), &s.tokens.platform)
        .expect(200)
        .body;
    let ve = candor_log::verify_proof_file(&proof, &s.verifier()).expect("proof verifies");
    assert_eq!(ve.index, n["log_index"].as_u64().unwrap());
    let entry = Entry::decode(&ve.entry.expect("entry in the proof")).expect("entry decodes");
    let nonce: [u8; 32] = hex::decode(n["content_nonce"].as_str().unwrap())
        .unwrap()
        .try_into()
        .unwrap();
    let opened = candor_log::commit::content_commitment(&nonce, n["puid"].as_str().unwrap());
    let committed = match &entry.body {
        EntryBody::Sampled(e) => Some(e.content_commitment),
        EntryBody::Review(e) => e.content_commitment,
        EntryBody::BankContent(e) => e.content_commitment,
        EntryBody::AppealOutcome(_) => None,
        other => panic!("unexpected entry {other:?}"),
    };
    if let Some(c) = committed {
        assert_eq!(c, opened, "the notice opens the entry's commitment");
    }
    entry
}

#[test]
fn sampling_review_and_bank_addition_reach_the_sender() {
    let s = TestServer::start();
    s.create_bank("tcap-hashes", CAT_TERROR, 31);
    s.put("/v1/policies", &s.tokens.curator, &policies())
        .expect(200);

    // intl-alice (CA) sends an unknown image to intl-bob (CA): delivered and sampled.
    let r = scan_image(&s, "msg-1", ("intl-alice", "CA"), ("intl-bob", "CA"));
    assert_eq!(action_of(&r, "intl-bob"), "deliver");
    let item = r["review_item"]
        .as_str()
        .expect("sampled into review")
        .to_string();

    // She is told at once, with a proof of the sampling entry that names no account.
    let ns = notices(&s, "intl-alice");
    assert_eq!(ns.len(), 1, "{ns:?}");
    assert_eq!(ns[0]["kind"], "sampled");
    assert_eq!(ns[0]["review_item"], item.as_str());
    assert!(ns[0]["text"].as_str().unwrap().contains("picked at random"));
    let e = proven_entry(&s, &ns[0]);
    let EntryBody::Sampled(se) = &e.body else {
        panic!("{e:?}")
    };
    assert_eq!(se.surface, "direct");
    assert!(!String::from_utf8(e.encode())
        .unwrap()
        .contains("intl-alice"));
    // Recipients are not told unless the platform asks.
    assert!(notices(&s, "intl-bob").is_empty());

    // The reviewer confirms it into tcap-hashes.
    let c = s
        .post(
            &format!("/v1/review/{item}/confirm"),
            &s.tokens.reviewer,
            &json!({"add_to_bank": "tcap-hashes", "reason": "propaganda video still"}),
        )
        .expect(200)
        .json();
    assert_eq!(c["status"], "confirmed");
    // The reviewer never sees whose content it is.
    assert!(!c.to_string().contains("intl-alice"), "{c}");

    let ns = notices(&s, "intl-alice");
    let kinds: Vec<&str> = ns.iter().map(|n| n["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds.len(), 3, "{kinds:?}");
    for k in ["sampled", "review_outcome", "bank_addition"] {
        assert!(kinds.contains(&k), "{kinds:?}");
    }
    let by_kind = |k: &str| ns.iter().find(|n| n["kind"] == k).unwrap().clone();
    let outcome = by_kind("review_outcome");
    let EntryBody::Review(re) = proven_entry(&s, &outcome).body else {
        panic!()
    };
    assert_eq!(re.review_item, item);
    assert_eq!(re.bank.as_deref(), Some("tcap-hashes"));
    assert!(re.content_commitment.is_some());
    let addition = by_kind("bank_addition");
    let text = addition["text"].as_str().unwrap();
    for needle in [
        "tcap-hashes",
        CAT_TERROR,
        "propaganda video still",
        "terrorist-content-eu",
        "appeal",
    ] {
        assert!(text.contains(needle), "{needle:?} not in {text}");
    }
    assert!(addition["appeal"].as_str().unwrap().contains("review_item"));
    let EntryBody::BankContent(be) = proven_entry(&s, &addition).body else {
        panic!()
    };
    assert_eq!(be.bank, "tcap-hashes");
    assert_eq!(be.provenance, "own_review");
    assert!(be.content_commitment.is_some());

    // Her data-access export lists all three steps, each with a proof that verifies offline.
    let ex = s
        .get("/v1/accounts/intl-alice/decisions", &s.tokens.platform)
        .expect(200)
        .json();
    let items = ex["review_items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{ex}");
    assert_eq!(items[0]["id"], item.as_str());
    assert_eq!(items[0]["kind"], "sampled");
    assert_eq!(items[0]["status"], "confirmed");
    assert_eq!(items[0]["bank"], "tcap-hashes");
    assert_eq!(items[0]["bank_content_retracted"], false);
    for k in ["log_index", "review_log_index", "bank_log_index"] {
        assert!(items[0][k].is_u64(), "{k} in {}", items[0]);
    }
    let exported = ex["notices"].as_array().unwrap();
    assert_eq!(exported.len(), 3);
    for n in exported {
        let proof = n["proof"].as_str().expect("inline proof");
        candor_log::verify_proof_file(proof.as_bytes(), &s.verifier()).expect("proof verifies");
    }

    // The next copy sent to a DE recipient is withheld.
    let r = scan_image(&s, "msg-2", ("intl-carl", "CA"), ("de-dora", "DE"));
    assert_eq!(action_of(&r, "de-dora"), "withhold", "{r}");

    // Only intl-alice can appeal the addition; the reviewer who added it cannot decide.
    s.post(
        "/v1/appeals",
        &s.tokens.platform,
        &json!({"review_item": item, "account": "intl-bob", "reason": "not mine"}),
    )
    .expect(403);
    s.post(
        "/v1/appeals",
        &s.tokens.platform,
        &json!({"review_item": item, "decision": "x", "account": "intl-alice", "reason": "both"}),
    )
    .expect_error(400, "invalid_appeal");
    let appeal = s
        .post(
            "/v1/appeals",
            &s.tokens.platform,
            &json!({"review_item": item, "account": "intl-alice", "reason": "This is a news photo."}),
        )
        .expect(201)
        .json();
    assert_eq!(appeal["review_item"], item.as_str());
    let aid = appeal["id"].as_str().unwrap();
    s.post(
        &format!("/v1/appeals/{aid}/decide"),
        &s.tokens.reviewer,
        &json!({"outcome": "reversed", "reason": "x"}),
    )
    .expect(403);
    let d = s
        .post(
            &format!("/v1/appeals/{aid}/decide"),
            &s.tokens.reviewer2,
            &json!({"outcome": "reversed", "reason": "Reporting context."}),
        )
        .expect(200)
        .json();
    assert_eq!(d["outcome"], "reversed");
    let ns = notices(&s, "intl-alice");
    let ao = ns
        .iter()
        .find(|n| n["kind"] == "appeal_outcome")
        .expect("appeal outcome notice");
    assert!(ao["text"].as_str().unwrap().contains("successful"));
    let EntryBody::AppealOutcome(oe) = proven_entry(&s, ao).body else {
        panic!()
    };
    assert_eq!(oe.review_item.as_deref(), Some(item.as_str()));

    // The next scan of that image is delivered; the export shows the retraction.
    let r = scan_image(&s, "msg-3", ("intl-carl", "CA"), ("de-dora", "DE"));
    assert_eq!(action_of(&r, "de-dora"), "deliver", "{r}");
    let ex = s
        .get("/v1/accounts/intl-alice/decisions", &s.tokens.platform)
        .expect(200)
        .json();
    assert_eq!(ex["review_items"][0]["bank_content_retracted"], true);
    assert_eq!(ex["appeals"][0]["outcome"], "reversed");

    // The numbers count samples per surface; the whole log verifies.
    let rep = s.verify_log(None);
    assert_eq!(rep.numbers.samples.by_surface["direct"], 2);
    assert_eq!(rep.numbers.appeals.reversed, 1);
}

#[test]
fn sampling_notice_deferral_and_recipients_on_request() {
    let s = TestServer::start();
    s.put("/v1/policies", &s.tokens.curator, &policies())
        .expect(200);
    let ctx = context("msg-9", "direct", ("gus", "CA"), &[("hal", "CA")]);
    let r = s
        .scan(&json!({
            "context": ctx,
            "signals": {"sha256": "cd".repeat(32)},
            "defer_notices": {"legal_basis": "Court order 12/2026 (gag order)"},
            "review_notices_to_recipients": true,
        }))
        .expect(200)
        .json();
    let item = r["review_item"].as_str().unwrap().to_string();
    // Deferred: the platform does not see it, the auditor does; the export says one is withheld.
    assert!(notices(&s, "gus").is_empty());
    let all = s
        .get(
            "/v1/notices?account=gus&include_deferred=true",
            &s.tokens.auditor,
        )
        .expect(200)
        .json();
    assert_eq!(all[0]["kind"], "sampled");
    assert_eq!(
        all[0]["deferred_legal_basis"],
        "Court order 12/2026 (gag order)"
    );
    let ex = s
        .get("/v1/accounts/gus/decisions", &s.tokens.platform)
        .expect(200)
        .json();
    assert_eq!(ex["withheld_under_deferral"], 1);
    assert!(ex["review_items"].as_array().unwrap().is_empty());
    let ex = s
        .get("/v1/accounts/gus/decisions", &s.tokens.auditor)
        .expect(200)
        .json();
    assert_eq!(ex["review_items"].as_array().unwrap().len(), 1);
    // The deferral is logged (its legal basis only).
    let deferred = s
        .log_entries()
        .into_iter()
        .filter_map(|e| match e.body {
            EntryBody::NoticeDeferred(d) => Some(d),
            _ => None,
        })
        .collect::<Vec<_>>();
    assert_eq!(deferred.len(), 1);
    assert_eq!(deferred[0].review_item.as_deref(), Some(item.as_str()));

    // Rejected: the sender and, as the platform asked, the recipient are told.
    s.post(
        &format!("/v1/review/{item}/reject"),
        &s.tokens.reviewer,
        &json!({"reason": "harmless"}),
    )
    .expect(200);
    let hal = notices(&s, "hal");
    assert_eq!(hal.len(), 1);
    assert_eq!(hal[0]["kind"], "review_outcome");
    assert!(hal[0]["text"].as_str().unwrap().contains("nothing wrong"));
    let gus = s
        .get(
            "/v1/notices?account=gus&include_deferred=true",
            &s.tokens.auditor,
        )
        .expect(200)
        .json();
    assert_eq!(gus.as_array().unwrap().len(), 2);
    // Nothing to appeal: the review added nothing to a bank.
    s.post(
        "/v1/appeals",
        &s.tokens.platform,
        &json!({"review_item": item, "account": "gus", "reason": "why"}),
    )
    .expect_error(409, "nothing_to_appeal");
}

/// The recipient's appeal of a withholding caused by reviewed content: the reviewer who put
/// the content in the bank may not decide it; another reviewer reverses and, with
/// `retract_matched`, retracts the bank content; the sender whose content it was is told; the
/// next copy is delivered; each step is in the log.
#[test]
fn reversal_of_a_decision_can_retract_the_matched_content() {
    let s = TestServer::start();
    s.create_bank("tcap-hashes", CAT_TERROR, 31);
    s.put("/v1/policies", &s.tokens.curator, &policies())
        .expect(200);
    let r = scan_image(&s, "msg-1", ("intl-alice", "CA"), ("intl-bob", "CA"));
    let item = r["review_item"].as_str().expect("sampled").to_string();
    s.post(
        &format!("/v1/review/{item}/confirm"),
        &s.tokens.reviewer,
        &json!({"add_to_bank": "tcap-hashes", "reason": "propaganda video still"}),
    )
    .expect(200);
    let r = scan_image(&s, "msg-2", ("intl-carl", "CA"), ("de-dora", "DE"));
    assert_eq!(action_of(&r, "de-dora"), "withhold", "{r}");
    let decision = r["decisions"][0]["id"].as_str().unwrap().to_string();
    let content = r["matches"][0]["content_id"].as_str().unwrap().to_string();

    let appeal = s
        .post(
            "/v1/appeals",
            &s.tokens.platform,
            &json!({"decision": decision, "account": "de-dora", "reason": "A news photo."}),
        )
        .expect(201)
        .json();
    let aid = appeal["id"].as_str().unwrap();
    let path = format!("/v1/appeals/{aid}/decide");
    // The reviewer who added the matched content took part.
    s.post(
        &path,
        &s.tokens.reviewer,
        &json!({"outcome": "reversed", "reason": "x", "retract_matched": true}),
    )
    .expect_error(403, "forbidden")
    .text()
    .contains("added the content")
    .then_some(())
    .expect("the refusal says why");
    // retract_matched goes with a reversal only.
    s.post(
        &path,
        &s.tokens.reviewer2,
        &json!({"outcome": "upheld", "reason": "x", "retract_matched": true}),
    )
    .expect_error(400, "invalid_retract_matched");
    let size_before = s.log_size();
    let d = s
        .post(
            &path,
            &s.tokens.reviewer2,
            &json!({"outcome": "reversed", "reason": "Reporting context.", "retract_matched": true}),
        )
        .expect(200)
        .json();
    assert_eq!(d["outcome"], "reversed");
    assert_eq!(
        d["retracted"],
        json!([{"bank": "tcap-hashes", "content_id": content}])
    );

    // The log holds the retraction (before the appeal's outcome) and the outcome.
    let entries = s.log_entries();
    let new: Vec<&EntryBody> = entries[size_before as usize..]
        .iter()
        .map(|e| &e.body)
        .collect();
    let retraction = new
        .iter()
        .position(|b| matches!(b, EntryBody::BankContent(e) if e.bank == "tcap-hashes" && e.op == candor_log::entry::ContentOp::Retract))
        .expect("a retraction entry");
    let outcome = new
        .iter()
        .position(|b| matches!(b, EntryBody::AppealOutcome(o) if o.decision.as_deref() == Some(decision.as_str())))
        .expect("the appeal's outcome entry");
    assert!(retraction < outcome, "{new:?}");

    // The sender whose content it was is told, with a proof of the outcome entry.
    let ns = notices(&s, "intl-alice");
    let n = ns
        .iter()
        .find(|n| n["kind"] == "bank_retraction")
        .unwrap_or_else(|| panic!("no retraction notice: {ns:?}"));
    assert_eq!(n["review_item"], item.as_str());
    let text = n["text"].as_str().unwrap();
    assert!(
        text.contains("tcap-hashes") && text.contains("Reporting context."),
        "{text}"
    );
    let EntryBody::AppealOutcome(_) = proven_entry(&s, n).body else {
        panic!()
    };
    // The recipient is told the outcome; the next copy is delivered; the export shows it.
    assert!(notices(&s, "de-dora")
        .iter()
        .any(|n| n["kind"] == "outcome"));
    let r = scan_image(&s, "msg-3", ("intl-carl", "CA"), ("de-dora", "DE"));
    assert_eq!(action_of(&r, "de-dora"), "deliver", "{r}");
    let ex = s
        .get("/v1/accounts/intl-alice/decisions", &s.tokens.platform)
        .expect(200)
        .json();
    assert_eq!(ex["review_items"][0]["bank_content_retracted"], true);
    // A second decide of the same appeal is refused; the log verifies.
    s.post(
        &path,
        &s.tokens.reviewer2,
        &json!({"outcome": "reversed", "reason": "again"}),
    )
    .expect(409);
    s.verify_log(None);
}

/// Decisions are found by the platform's content id, newest first, by the roles that read
/// decisions; bad queries are refused with a reason.
#[test]
fn decisions_by_content_id() {
    let s = TestServer::start();
    s.create_bank("tcap-hashes", CAT_TERROR, 31);
    s.put("/v1/policies", &s.tokens.curator, &policies())
        .expect(200);
    let added = s.post_raw(
        "/v1/banks/tcap-hashes/content",
        &s.tokens.curator,
        "application/octet-stream",
        image_bytes(IMG),
    );
    assert!(
        added.status == 201 || added.status == 200,
        "{}",
        added.text()
    );
    let a = scan_image(&s, "msg-9", ("intl-carl", "CA"), ("de-dora", "DE"));
    let b = scan_image(&s, "msg-9", ("intl-carl", "CA"), ("fr-fred", "FR"));
    scan_image(&s, "msg-10", ("intl-carl", "CA"), ("de-dora", "DE"));
    let ids: Vec<String> = s
        .get("/v1/decisions?puid=msg-9", &s.tokens.auditor)
        .expect(200)
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            assert_eq!(d["puid"], "msg-9");
            d["id"].as_str().unwrap().to_string()
        })
        .collect();
    let want = |r: &Value| r["decisions"][0]["id"].as_str().unwrap().to_string();
    assert_eq!(ids, vec![want(&b), want(&a)], "newest first");
    let one = s
        .get("/v1/decisions?puid=msg-9&limit=1", &s.tokens.reviewer)
        .expect(200)
        .json();
    assert_eq!(one.as_array().unwrap().len(), 1);
    assert_eq!(
        s.get("/v1/decisions?puid=nothing-here", &s.tokens.platform)
            .expect(200)
            .json(),
        json!([])
    );
    s.get("/v1/decisions?puid=msg-9", &s.tokens.curator)
        .expect(403);
    s.get("/v1/decisions?puid=msg-9", "").expect(401);
    s.get("/v1/decisions?puid=msg-9&limit=0", &s.tokens.auditor)
        .expect_error(400, "invalid_limit");
    s.get("/v1/decisions", &s.tokens.auditor)
        .expect_error(400, "invalid_query");
}
