//! Scan: policies per jurisdiction, statements, notices and their proofs, deferral, sampling,
//! and hostile input, over real HTTP.

mod common;

use common::*;
use serde_json::{json, Value};

const DSA_FIELDS: &[&str] = &[
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
];
const OUR_FIELDS: &[&str] = &[
    "policy_id",
    "bank",
    "match_distance",
    "jurisdictions",
    "surface",
];

fn decision<'a>(scan: &'a Value, id: &str) -> &'a Value {
    scan["decisions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["id"] == id)
        .unwrap_or_else(|| panic!("no decision {id} in {scan}"))
}

#[test]
fn scan_per_jurisdiction_statements_notices_proofs() {
    let s = TestServer::start();
    let p = &s.tokens.platform;
    s.create_bank("terror", CAT_TERROR, 31);
    let h = needles()[20].clone();
    let cid = s.add_pdq("terror", &h);
    let q = flip_bits(&h, 7);

    let body = json!({
        "context": context("post-1", "group", ("alice", "US"), &[("bob", "DE"), ("carl", "US"), ("dora", "FR"), ("emil", "JP")]),
        "signals": {"pdq": q},
    });
    let r = s.scan(&body).expect(200).json();
    assert_eq!(r["matches"][0]["content_id"], cid.as_str());
    assert_eq!(r["matches"][0]["distance"], 7);
    assert_eq!(action_of(&r, "bob"), "withhold");
    assert_eq!(action_of(&r, "dora"), "withhold");
    assert_eq!(action_of(&r, "carl"), "hold_for_review");
    assert_eq!(action_of(&r, "emil"), "hold_for_review");
    let decisions = r["decisions"].as_array().unwrap();
    assert_eq!(decisions.len(), 2, "{r}");
    let cp_size = s.log_size();

    for rec in r["recipients"].as_array().unwrap() {
        let did = rec["decision"]
            .as_str()
            .expect("a non-deliver recipient has a decision");
        let d = decision(&r, did);
        assert_eq!(d["action"], rec["action"]);
        let st = &d["statement"];
        for f in DSA_FIELDS.iter().chain(OUR_FIELDS) {
            assert!(
                st.get(*f).is_some_and(|v| !v.is_null()),
                "statement lacks {f}: {st}"
            );
        }
        assert_eq!(st["puid"], "post-1");
        assert_eq!(st["bank"], "terror");
        assert_eq!(st["match_distance"], 7);
        assert_eq!(st["surface"], "group");
        assert_eq!(st["category"], CAT_TERROR);
        assert!(d["log_index"].as_u64().unwrap() < cp_size);
        let acc = rec["account"].as_str().unwrap();
        assert!(d["recipients"].as_array().unwrap().iter().any(|x| x == acc));
        // Notices: the sender and each non-delivered recipient of the decision.
        let notices = d["notices"].as_array().unwrap();
        assert!(notices
            .iter()
            .any(|n| n["account"] == "alice" && n["role"] == "sender"));
        assert!(notices
            .iter()
            .any(|n| n["account"] == acc && n["role"] == "recipient"));
    }
    let withhold = decisions
        .iter()
        .find(|d| d["action"] == "withhold")
        .unwrap();
    assert_eq!(withhold["policy"], "terror-eu");
    assert_eq!(withhold["jurisdictions"], json!(["DE", "FR"]));
    assert_eq!(
        withhold["statement"]["territorial_scope"],
        json!(["DE", "FR"])
    );
    assert_eq!(
        withhold["statement"]["decision_ground"],
        "DECISION_GROUND_ILLEGAL_CONTENT"
    );
    assert_eq!(withhold["notices"].as_array().unwrap().len(), 3);
    let held = decisions
        .iter()
        .find(|d| d["action"] == "hold_for_review")
        .unwrap();
    assert_eq!(held["policy"], "terror-review");
    assert!(held["review_item"].is_string());
    assert_eq!(held["notices"].as_array().unwrap().len(), 3);

    // The decision as stored.
    let did = withhold["id"].as_str().unwrap();
    let dv = s.get(&format!("/v1/decisions/{did}"), p).expect(200).json();
    assert_eq!(dv["status"], "in_force");
    assert_eq!(dv["decided_by"], "automated");
    assert_eq!(dv["puid"], "post-1");
    assert_eq!(dv["statement"], withhold["statement"]);
    s.get("/v1/decisions/nope", p)
        .expect_error(404, "decision_not_found");

    // Notices for an account, one notice, its proof.
    let listed = s.get("/v1/notices?account=bob", p).expect(200).json();
    let listed = listed.as_array().unwrap();
    assert_eq!(listed.len(), 1);
    let n = &listed[0];
    assert_eq!(n["decision"], did);
    assert_eq!(n["role"], "recipient");
    assert_eq!(n["kind"], "decision");
    assert!(!n["text"].as_str().unwrap().is_empty());
    assert!(n["appeal"].as_str().unwrap().contains(did));
    let nid = n["id"].as_str().unwrap();
    let mut one = s.get(&format!("/v1/notices/{nid}"), p).expect(200).json();
    // The single notice may carry its proof inline; the rest equals the listed notice.
    if let Some(inline) = one.as_object_mut().unwrap().remove("proof") {
        let text = inline.as_str().expect("proof text");
        candor_log::verify_proof_file(text.as_bytes(), &s.verifier()).expect("inline proof");
    }
    assert_eq!(&one, n);
    assert_eq!(
        s.get("/v1/notices?account=alice", p)
            .json()
            .as_array()
            .unwrap()
            .len(),
        2
    );
    assert!(s
        .get("/v1/notices?account=nobody", p)
        .json()
        .as_array()
        .unwrap()
        .is_empty());
    s.get("/v1/notices/nope", p)
        .expect_error(404, "notice_not_found");

    let proof = s.get(n["proof_url"].as_str().unwrap(), p).expect(200).body;
    let verifier = s.verifier();
    let ve = candor_log::verify_proof_file(&proof, &verifier).expect("proof verifies");
    assert_eq!(ve.index, n["log_index"].as_u64().unwrap());
    let entry_bytes = ve.entry.expect("the proof carries its entry");
    let entry = candor_log::entry::Entry::decode(&entry_bytes).expect("entry");
    let candor_log::entry::EntryBody::Decision(de) = &entry.body else {
        panic!("not a decision entry: {entry:?}")
    };
    assert_eq!(de.decision, did);
    assert_eq!(de.policy, "terror-eu");
    assert_eq!(de.territorial_scope, ["DE", "FR"]);
    assert_eq!(de.bank.as_deref(), Some("terror"));
    assert_eq!(de.distance, Some(7));
    let nonce: [u8; 32] = hex::decode(n["content_nonce"].as_str().unwrap())
        .unwrap()
        .try_into()
        .unwrap();
    assert!(candor_log::commit::open_content_commitment(
        &de.content_commitment,
        &nonce,
        n["puid"].as_str().unwrap()
    ));
    assert!(!candor_log::commit::open_content_commitment(
        &de.content_commitment,
        &nonce,
        "post-2"
    ));
    // The entry carries no account id.
    let text = String::from_utf8_lossy(&entry_bytes).to_string();
    for acc in ["alice", "bob", "carl", "dora", "emil"] {
        assert!(!text.contains(acc), "account {acc} in a log entry");
    }
    // A tampered proof fails.
    let mut bad = proof.clone();
    let i = bad.iter().position(|b| *b == b'\n').unwrap() + 8;
    bad[i] ^= 1;
    assert!(candor_log::verify_proof_file(&bad, &verifier).is_err());

    // Appeals only by the accounts a decision affects: carl (held) is not affected by the
    // withhold decision, bob is.
    s.post(
        "/v1/appeals",
        p,
        &json!({"decision": did, "account": "carl", "reason": "x"}),
    )
    .expect_error(403, "forbidden");
    s.post(
        "/v1/appeals",
        p,
        &json!({"decision": did, "account": "bob", "reason": "x"}),
    )
    .expect(201);

    // The bank's threshold (31) holds in scans too: distance 32 is unknown content.
    let r = s
        .scan(&json!({
            "context": context("post-far", "direct", ("alice", "US"), &[("bob", "DE")]),
            "signals": {"pdq": flip_bits(&h, 32)},
        }))
        .expect(200)
        .json();
    assert_eq!(action_of(&r, "bob"), "deliver");
    let r = s
        .scan(&json!({
            "context": context("post-near", "direct", ("alice", "US"), &[("bob", "DE")]),
            "signals": {"pdq": flip_bits(&h, 31)},
        }))
        .expect(200)
        .json();
    assert_eq!(action_of(&r, "bob"), "withhold");
    assert_eq!(r["decisions"][0]["statement"]["match_distance"], 31);

    // Unknown content: everyone gets it, nothing is written.
    let size = s.log_size();
    let r = s
        .scan(&json!({
            "context": context("post-2", "direct", ("alice", "US"), &[("bob", "DE")]),
            "signals": {"pdq": flip_bits(&h, 100), "md5": "00112233445566778899aabbccddeeff"},
        }))
        .expect(200)
        .json();
    assert_eq!(action_of(&r, "bob"), "deliver");
    assert!(r["decisions"].as_array().unwrap().is_empty());
    assert!(r.get("review_item").is_none());
    assert!(r["matches"].as_array().unwrap().is_empty());
    assert_eq!(s.log_size(), size);

    // Audience (public): per-jurisdiction actions too.
    let r = s
        .scan(&json!({
            "context": {
                "surface": "public", "content_id": "post-3", "content_type": "CONTENT_TYPE_IMAGE",
                "sender": {"account": "alice", "jurisdiction": "US"},
                "audience": {"jurisdictions": ["DE", "US"]},
            },
            "signals": {"pdq": h},
        }))
        .expect(200)
        .json();
    let aud = r["audience"].as_array().unwrap();
    let of = |j: &str| aud.iter().find(|a| a["jurisdiction"] == j).unwrap()["action"].clone();
    assert_eq!(of("DE"), "withhold");
    assert_eq!(of("US"), "hold_for_review");

    let rep = s.verify_log(None);
    assert_eq!(rep.numbers.decisions.total, 5);
    assert_eq!(rep.numbers.decisions.by_policy["terror-eu"], 3);
    assert_eq!(rep.numbers.appeals.total, 1);
    assert_eq!(rep.numbers.decisions.by_policy["terror-review"], 2);
    assert_eq!(rep.numbers.decisions.by_surface["group"], 2);
    assert_eq!(rep.numbers.decisions.by_surface["direct"], 1);
    assert_eq!(rep.numbers.decisions.by_surface["public"], 2);
}

#[test]
fn block_by_sender_jurisdiction_and_sampling() {
    let s = TestServer::start();
    s.create_bank("csam", CAT_CSAM, 31);
    let md5 = "9e107d9d372bb6826bd81d3542a419d6";
    s.post(
        "/v1/banks/csam/content",
        &s.tokens.curator,
        &json!({"md5": md5}),
    )
    .expect(201);

    // Sender in FR: the block policy covers the sender, so everyone is blocked.
    let r = s
        .scan(&json!({
            "context": context("m-1", "direct", ("fred", "FR"), &[("uma", "US"), ("dan", "DE")]),
            "signals": {"md5": md5},
        }))
        .expect(200)
        .json();
    assert_eq!(action_of(&r, "uma"), "block");
    assert_eq!(action_of(&r, "dan"), "block");
    let ds = r["decisions"].as_array().unwrap();
    assert_eq!(ds.len(), 1);
    assert_eq!(ds[0]["policy"], "csam-block");
    assert_eq!(ds[0]["statement"]["category"], CAT_CSAM);
    assert_eq!(ds[0]["notices"].as_array().unwrap().len(), 3);

    // Sender in the US (outside the block policy's scope): the content the operator declared
    // illegal in FR still never reaches the FR recipient — withheld there by that policy, with
    // a decision, a statement, notices and a log entry; the US recipient gets it.
    let size_before = s.log_size();
    let r = s
        .scan(&json!({
            "context": context("m-2", "direct", ("ulla", "US"), &[("fred", "FR"), ("ursula", "US")]),
            "signals": {"md5": md5},
        }))
        .expect(200)
        .json();
    assert_eq!(action_of(&r, "fred"), "withhold", "{r}");
    assert_eq!(action_of(&r, "ursula"), "deliver", "{r}");
    let ds = r["decisions"].as_array().unwrap();
    assert_eq!(ds.len(), 1, "{r}");
    assert_eq!(ds[0]["action"], "withhold");
    assert_eq!(ds[0]["policy"], "csam-block");
    assert_eq!(ds[0]["jurisdictions"], json!(["FR"]));
    assert_eq!(ds[0]["recipients"], json!(["fred"]));
    assert_eq!(
        ds[0]["statement"]["decision_visibility"],
        json!(["DECISION_VISIBILITY_CONTENT_DISABLED"])
    );
    let notified: Vec<&str> = ds[0]["notices"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["account"].as_str().unwrap())
        .collect();
    assert_eq!(notified, vec!["ulla", "fred"]);
    let entry = &s.log_entries()[ds[0]["log_index"].as_u64().unwrap() as usize];
    let candor_log::entry::EntryBody::Decision(de) = &entry.body else {
        panic!("{entry:?}")
    };
    assert_eq!(de.policy, "csam-block");
    assert_eq!(de.territorial_scope, vec!["FR".to_string()]);
    assert!(s.log_size() > size_before);
    assert_eq!(r["matches"].as_array().unwrap().len(), 1);

    // Sampling 1.0 on public: unknown content goes to the review queue (not on direct).
    let unknown = json!({"sha256": "ab".repeat(32)});
    let r = s
        .scan(&json!({
            "context": {
                "surface": "public", "content_id": "p-9", "content_type": "CONTENT_TYPE_IMAGE",
                "sender": {"account": "ulla", "jurisdiction": "US"},
                "audience": {"jurisdictions": ["US"]},
            },
            "signals": unknown,
        }))
        .expect(200)
        .json();
    assert!(r["decisions"].as_array().unwrap().is_empty());
    assert_eq!(r["audience"][0]["action"], "deliver");
    let item = r["review_item"].as_str().expect("sampled into review");
    let it = s
        .get(&format!("/v1/review/{item}"), &s.tokens.reviewer)
        .expect(200)
        .json();
    assert_eq!(it["kind"], "sampled");
    assert_eq!(it["puid"], "p-9");
    assert_eq!(it["signals"]["sha256"], "ab".repeat(32));
    assert!(it.get("decision").is_none());
    // A reviewer confirms the sampled item into a bank: its hashes match at once.
    let c = s
        .post(
            &format!("/v1/review/{item}/confirm"),
            &s.tokens.reviewer,
            &json!({"add_to_bank": "csam"}),
        )
        .expect(200)
        .json();
    assert_eq!(c["status"], "confirmed");
    let v = s
        .get(
            &format!("/v1/lookup?sha256={}", "ab".repeat(32)),
            &s.tokens.platform,
        )
        .expect(200)
        .json();
    assert_eq!(v["matches"][0]["content_id"], c["bank_content"]);
    assert_eq!(v["matches"][0]["bank"], "csam");
    let r = s
        .scan(&json!({
            "context": context("p-10", "direct", ("ulla", "US"), &[("x", "US")]),
            "signals": unknown,
        }))
        .expect(200)
        .json();
    assert!(r.get("review_item").is_none(), "{r}");
}

#[test]
fn scan_bad_input_writes_nothing() {
    let s = TestServer::start_with(|c| c.max_body_bytes = 64 * 1024);
    s.create_bank("terror", CAT_TERROR, 31);
    let h = needles()[0].clone();
    s.add_pdq("terror", &h);
    let numbers = s.numbers();
    let size = s.log_size();
    let sig = json!({"pdq": h});

    let mut bad_contexts = vec![
        context("c1", "direct", ("a", "de"), &[("b", "DE")]),
        context("c1", "direct", ("a", "DE"), &[("b", "XX")]),
        context("c1", "direct", ("a", "DE"), &[]),
        context("bad id!", "direct", ("a", "DE"), &[("b", "DE")]),
        context("", "direct", ("a", "DE"), &[("b", "DE")]),
        context("c1", "direct", ("", "DE"), &[("b", "DE")]),
    ];
    let mut future = context("c1", "direct", ("a", "DE"), &[("b", "DE")]);
    future["content_date"] = json!("2999-01-01");
    bad_contexts.push(future);
    let mut other = context("c1", "direct", ("a", "DE"), &[("b", "DE")]);
    other["content_type"] = json!("CONTENT_TYPE_OTHER");
    bad_contexts.push(other);
    for ctx in bad_contexts {
        s.scan(&json!({"context": ctx, "signals": sig}))
            .expect_error(400, "invalid_context");
    }
    let good = context("c1", "direct", ("a", "DE"), &[("b", "DE")]);
    s.scan(&json!({"context": good, "signals": {"pdq": "nothex"}}))
        .expect_error(400, "invalid_signal");
    s.scan(&json!({"context": good}))
        .expect_error(400, "no_signals");
    s.scan(&json!({"context": good, "signals": {}}))
        .expect_error(400, "no_signals");
    s.scan(&json!({"context": good, "signals": sig, "defer_notices": {"legal_basis": " "}}))
        .expect_error(400, "legal_basis_required");
    s.scan(&json!({"context": good, "signals": sig, "extra": 1}))
        .expect_error(400, "invalid_json");
    s.post_raw(
        "/v1/scan",
        &s.tokens.platform,
        "application/json",
        b"{not json".to_vec(),
    )
    .expect_error(400, "invalid_json");
    let mut surf = good.clone();
    surf["surface"] = json!("broadcast");
    s.scan(&json!({"context": surf, "signals": sig}))
        .expect_error(400, "invalid_json");
    // Multipart without a context, with a bad context, with an unknown part.
    let img = image_bytes(SMALL_PNG);
    s.post_multipart(
        "/v1/scan",
        &s.tokens.platform,
        &[("file", Some("a.png"), &img)],
    )
    .expect_error(400, "invalid_context");
    let bad_ctx = context("c1", "direct", ("a", "de"), &[("b", "DE")]).to_string();
    s.post_multipart(
        "/v1/scan",
        &s.tokens.platform,
        &[
            ("context", None, bad_ctx.as_bytes()),
            ("file", Some("a.png"), &img),
        ],
    )
    .expect_error(400, "invalid_context");
    let good_s = good.to_string();
    s.post_multipart(
        "/v1/scan",
        &s.tokens.platform,
        &[
            ("context", None, good_s.as_bytes()),
            ("file", Some("a.png"), &img),
            ("zzz", None, b"1"),
        ],
    )
    .expect_error(400, "invalid_multipart");
    s.post_multipart(
        "/v1/scan",
        &s.tokens.platform,
        &[("context", None, good_s.as_bytes())],
    )
    .expect_error(400, "missing_file");

    // Malformed multipart: a clear 400, never a 5xx.
    for ct in ["multipart/form-data; boundary=zzz", "multipart/form-data"] {
        let r = s.post_raw(
            "/v1/scan",
            &s.tokens.platform,
            ct,
            b"--nope\r\ngarbage".to_vec(),
        );
        assert_eq!(r.status, 400, "{ct}: {}", r.text());
        assert!(r.json()["error"]["code"].is_string());
    }
    // Bodies over max_body_bytes: 413 with a JSON error.
    let big = vec![7u8; 100 * 1024];
    let r = s.post_raw(
        "/v1/scan",
        &s.tokens.platform,
        "application/octet-stream",
        big.clone(),
    );
    // The unread rest of the body makes the connection unusable: the answer says so.
    assert_eq!(r.connection, "close");
    r.expect_error(413, "payload_too_large");
    let r = s.post_multipart(
        "/v1/scan",
        &s.tokens.platform,
        &[
            ("context", None, good_s.as_bytes()),
            ("file", Some("big"), &big),
        ],
    );
    assert_eq!(r.status, 413, "{}", r.text());
    assert!(r.json()["error"]["code"].is_string());
    let mut padded = json!({"context": good, "signals": sig});
    padded["context"]["content_type_other"] = json!("x".repeat(100 * 1024));
    s.scan(&padded).expect_error(413, "payload_too_large");
    s.post_raw("/v1/lookup", &s.tokens.platform, "image/png", big.clone())
        .expect_error(413, "payload_too_large");

    assert_eq!(s.log_size(), size, "refused scans wrote to the log");
    assert_eq!(s.numbers(), numbers);
    assert!(s
        .get("/v1/notices?account=a", &s.tokens.platform)
        .json()
        .as_array()
        .unwrap()
        .is_empty());
    let ex = s
        .get("/v1/accounts/a/decisions", &s.tokens.auditor)
        .expect(200)
        .json();
    assert!(ex["decisions"].as_array().unwrap().is_empty());

    // A truncated JPEG upload: hashed as far as it goes (as a browser shows it), never a 5xx.
    let jpg = image_bytes(EXIF8);
    let cut = &jpg[..jpg.len().min(60 * 1024) / 2];
    let r = s.post_multipart(
        "/v1/scan",
        &s.tokens.platform,
        &[
            ("context", None, good_s.as_bytes()),
            ("file", Some("cut.jpg"), cut),
        ],
    );
    assert!(
        r.status == 200 || r.status == 400,
        "{} {}",
        r.status,
        r.text()
    );
    let v = r.json();
    if r.status == 200 {
        assert_eq!(v["signals"]["truncated"], true, "{v}");
        assert!(v["signals"]["pdq"].is_string(), "{v}");
        assert!(v["signals"]["md5"].is_string());
        assert_eq!(action_of(&v, "b"), "deliver");
    } else {
        assert!(v["error"]["code"].is_string());
    }
}

#[test]
fn multipart_scan_and_deferred_notices() {
    let s = TestServer::start();
    let p = &s.tokens.platform;
    s.create_bank("terror", CAT_TERROR, 31);
    let img = image_bytes(BRIDGE);
    s.post_raw(
        "/v1/banks/terror/content",
        &s.tokens.curator,
        "image/jpeg",
        img.clone(),
    )
    .expect(201);

    let ctx = context("up-1", "direct", ("sam", "US"), &[("dirk", "DE")]).to_string();
    let r = s
        .post_multipart(
            "/v1/scan",
            p,
            &[
                ("context", None, ctx.as_bytes()),
                ("file", Some("b.jpg"), &img),
            ],
        )
        .expect(200)
        .json();
    assert_eq!(action_of(&r, "dirk"), "withhold");
    assert!(r["signals"]["pdq"].is_string());
    assert!(r["matches"]
        .as_array()
        .unwrap()
        .iter()
        .any(|m| m["signal"] == "sha256"));
    assert_eq!(r["decisions"].as_array().unwrap().len(), 1);

    // Deferred: not listed for the account until released; the deferral is logged.
    let deferred0 = s.numbers()["notices_deferred"].as_u64().unwrap();
    let ctx2 = context("up-2", "direct", ("sam", "US"), &[("dana", "DE")]).to_string();
    let r = s
        .post_multipart(
            "/v1/scan",
            p,
            &[
                ("context", None, ctx2.as_bytes()),
                (
                    "defer_notices",
                    None,
                    br#"{"legal_basis": "ongoing police investigation (Art. 17(1) DSA)"}"#,
                ),
                ("file", Some("b.jpg"), &img),
            ],
        )
        .expect(200)
        .json();
    let d = &r["decisions"][0];
    let notices = d["notices"].as_array().unwrap();
    assert!(notices.iter().all(|n| n["deferred"] == true));
    assert!(s
        .get("/v1/notices?account=dana", p)
        .json()
        .as_array()
        .unwrap()
        .is_empty());
    let sam_before = s
        .get("/v1/notices?account=sam", p)
        .json()
        .as_array()
        .unwrap()
        .len();
    assert_eq!(
        sam_before, 1,
        "only the undeferred notice of the first scan"
    );
    s.get("/v1/notices?account=dana&include_deferred=true", p)
        .expect_error(403, "forbidden");
    let aud = s
        .get(
            "/v1/notices?account=dana&include_deferred=true",
            &s.tokens.auditor,
        )
        .expect(200)
        .json();
    assert_eq!(aud.as_array().unwrap().len(), 1);
    assert!(aud[0]["deferred_legal_basis"]
        .as_str()
        .unwrap()
        .contains("police"));
    assert_eq!(
        s.numbers()["notices_deferred"].as_u64().unwrap(),
        deferred0 + 1
    );
    let entries = s.log_entries();
    assert!(entries.iter().any(|e| matches!(
        &e.body,
        candor_log::entry::EntryBody::NoticeDeferred(n) if n.decision.as_deref() == d["id"].as_str()
    )));

    let nid = notices.iter().find(|n| n["account"] == "dana").unwrap()["id"]
        .as_str()
        .unwrap();
    s.post(
        &format!("/v1/notices/{nid}/release"),
        &s.tokens.curator,
        &json!({}),
    )
    .expect_error(403, "forbidden");
    let rel = s
        .post(&format!("/v1/notices/{nid}/release"), p, &json!({}))
        .expect(200)
        .json();
    assert!(rel["released_at"].is_string());
    let listed = s.get("/v1/notices?account=dana", p).json();
    assert_eq!(listed.as_array().unwrap().len(), 1);
    assert_eq!(listed[0]["id"], nid);
    s.post(&format!("/v1/notices/{nid}/release"), p, &json!({}))
        .expect_error(409, "conflict");
    // A notice never deferred cannot be released.
    let plain = s.get("/v1/notices?account=dirk", p).json()[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    s.post(&format!("/v1/notices/{plain}/release"), p, &json!({}))
        .expect_error(409, "conflict");
    // Proof of the released notice verifies.
    let proof = s
        .get(&format!("/v1/notices/{nid}/proof"), p)
        .expect(200)
        .body;
    candor_log::verify_proof_file(&proof, &s.verifier()).expect("proof");
}
