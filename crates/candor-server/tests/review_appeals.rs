//! Review queue, appeals and data access, over real HTTP.

mod common;

use common::*;
use serde_json::{json, Value};

/// A hold_for_review scan of `pdq` from `sender` (US) to `recipient` (US); returns the answer.
fn held_scan(s: &TestServer, puid: &str, pdq: &str, sender: &str, recipient: &str) -> Value {
    let r = s
        .scan(&json!({
            "context": context(puid, "direct", (sender, "US"), &[(recipient, "US")]),
            "signals": {"pdq": pdq},
        }))
        .expect(200)
        .json();
    assert_eq!(action_of(&r, recipient), "hold_for_review", "{r}");
    r
}

#[test]
fn review_confirm_reject_and_appeals() {
    let s = TestServer::start();
    let (rev1, rev2, p) = (&s.tokens.reviewer, &s.tokens.reviewer2, &s.tokens.platform);
    s.create_bank("terror", CAT_TERROR, 31);
    s.create_bank("reviewed", CAT_TERROR, 31);
    let hs = needles();
    s.add_pdq("terror", &hs[30]);
    s.add_pdq("terror", &hs[31]);
    // The held content is a near copy; its own hash is what a confirmation adds.
    let q1 = flip_bits(&hs[30], 9);
    let q2 = flip_bits(&hs[31], 4);

    // Held → in the queue.
    let r1 = held_scan(&s, "h-1", &q1, "sue", "rob");
    let d1 = r1["decisions"][0]["id"].as_str().unwrap().to_string();
    let item1 = r1["decisions"][0]["review_item"]
        .as_str()
        .unwrap()
        .to_string();
    let queue = s.get("/v1/review", rev1).expect(200).json();
    let it = queue
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["id"] == item1.as_str())
        .expect("held item in the queue")
        .clone();
    assert_eq!(it["kind"], "held");
    assert_eq!(it["decision"], d1.as_str());
    assert_eq!(it["status"], "open");
    assert_eq!(it["signals"]["pdq"], q1.as_str());
    s.get("/v1/review?status=bogus", rev1)
        .expect_error(400, "invalid_status");
    s.get("/v1/review/nope", rev1)
        .expect_error(404, "review_item_not_found");

    // Before confirmation the held hash itself is not in `reviewed`.
    assert!(s.lookup_pdq(&q1).iter().all(|m| m["bank"] != "reviewed"));
    s.post(
        &format!("/v1/review/{item1}/confirm"),
        rev1,
        &json!({"add_to_bank": "nope"}),
    )
    .expect_error(404, "bank_not_found");
    let c = s
        .post(
            &format!("/v1/review/{item1}/confirm"),
            rev1,
            &json!({"add_to_bank": "reviewed", "reason": "clearly the same video still"}),
        )
        .expect(200)
        .json();
    assert_eq!(c["status"], "confirmed");
    assert_eq!(c["reviewer"], "reviewer:rev1");
    assert!(c["reviewed_at"].is_string());
    let bc = c["bank_content"]
        .as_str()
        .expect("bank content")
        .to_string();
    // Matches at once, in the reviewed bank, with own_review provenance.
    let m = s.lookup_pdq(&q1);
    let hit = m
        .iter()
        .find(|m| m["bank"] == "reviewed")
        .expect("confirmed content matches at once");
    assert_eq!(hit["content_id"], bc.as_str());
    assert_eq!(hit["distance"], 0);
    let content = s
        .get(&format!("/v1/banks/reviewed/content/{bc}"), rev1)
        .expect(200)
        .json();
    assert_eq!(content["provenance"], "own_review");
    assert_eq!(content["created_by"], "reviewer:rev1");
    let dv = s.get(&format!("/v1/decisions/{d1}"), p).expect(200).json();
    assert_eq!(dv["status"], "confirmed");
    assert_eq!(dv["decided_by"], "reviewer:rev1");
    // Twice: 409.
    s.post(&format!("/v1/review/{item1}/confirm"), rev1, &json!({}))
        .expect_error(409, "already_reviewed");
    s.post(&format!("/v1/review/{item1}/reject"), rev2, &json!({}))
        .expect_error(409, "already_reviewed");
    let open = s.get("/v1/review", rev1).json();
    assert!(open
        .as_array()
        .unwrap()
        .iter()
        .all(|i| i["id"] != item1.as_str()));
    let done = s
        .get("/v1/review?status=confirmed", &s.tokens.auditor)
        .json();
    assert!(done
        .as_array()
        .unwrap()
        .iter()
        .any(|i| i["id"] == item1.as_str()));

    // Reject: the hold is lifted, outcome notices go to sender and recipient.
    let r2 = held_scan(&s, "h-2", &q2, "sue", "rita");
    let d2 = r2["decisions"][0]["id"].as_str().unwrap().to_string();
    let item2 = r2["decisions"][0]["review_item"]
        .as_str()
        .unwrap()
        .to_string();
    let j = s
        .post(
            &format!("/v1/review/{item2}/reject"),
            rev2,
            &json!({"reason": "a news report"}),
        )
        .expect(200)
        .json();
    assert_eq!(j["status"], "rejected");
    assert_eq!(j["reviewer"], "reviewer:rev2");
    assert_eq!(j["reason"], "a news report");
    assert!(j.get("bank_content").is_none());
    let dv = s.get(&format!("/v1/decisions/{d2}"), p).expect(200).json();
    assert_eq!(dv["status"], "lifted");
    for acc in ["sue", "rita"] {
        let ns = s.get(&format!("/v1/notices?account={acc}"), p).json();
        assert!(
            ns.as_array()
                .unwrap()
                .iter()
                .any(|n| n["decision"] == d2.as_str() && n["kind"] == "outcome"),
            "{acc}: {ns}"
        );
    }

    // Appeals on the confirmed decision d1.
    let ap = "/v1/appeals";
    s.post(
        ap,
        p,
        &json!({"decision": d1, "account": "mallory", "reason": "not me"}),
    )
    .expect_error(403, "forbidden");
    s.post(
        ap,
        p,
        &json!({"decision": "nope", "account": "sue", "reason": "x"}),
    )
    .expect_error(404, "decision_not_found");
    s.post(
        ap,
        p,
        &json!({"decision": d1, "account": "sue", "reason": " "}),
    )
    .expect_error(400, "reason_required");
    let a1 = s
        .post(
            ap,
            p,
            &json!({"decision": d1, "account": "sue", "reason": "it is satire"}),
        )
        .expect(201)
        .json();
    assert_eq!(a1["status"], "open");
    assert!(a1["log_index"].as_u64().is_some());
    let a1id = a1["id"].as_str().unwrap().to_string();
    s.post(
        ap,
        p,
        &json!({"decision": d1, "account": "sue", "reason": "again"}),
    )
    .expect_error(409, "conflict");
    let listed = s.get(ap, rev2).expect(200).json();
    assert!(listed
        .as_array()
        .unwrap()
        .iter()
        .any(|a| a["id"] == a1id.as_str()));
    let decide = format!("/v1/appeals/{a1id}/decide");
    // The reviewer who confirmed the hold may not decide the appeal.
    s.post(
        &decide,
        rev1,
        &json!({"outcome": "reversed", "reason": "x"}),
    )
    .expect_error(403, "forbidden");
    s.post(&decide, rev2, &json!({"outcome": "maybe", "reason": "x"}))
        .expect_error(400, "invalid_outcome");
    s.post(&decide, rev2, &json!({"outcome": "reversed", "reason": ""}))
        .expect_error(400, "reason_required");
    let out = s
        .post(
            &decide,
            rev2,
            &json!({"outcome": "reversed", "reason": "satire is allowed"}),
        )
        .expect(200)
        .json();
    assert_eq!(out["status"], "decided");
    assert_eq!(out["outcome"], "reversed");
    assert_eq!(out["reviewer"], "reviewer:rev2");
    let dv = s.get(&format!("/v1/decisions/{d1}"), p).expect(200).json();
    assert_eq!(dv["status"], "reversed");
    // The bank content added by the review is retracted: it stops matching.
    assert!(
        s.lookup_pdq(&q1).iter().all(|m| m["bank"] != "reviewed"),
        "content from a reversed decision still matches"
    );
    let content = s
        .get(&format!("/v1/banks/reviewed/content/{bc}"), rev1)
        .expect(200)
        .json();
    assert!(content["retracted_at"].is_string(), "{content}");
    let ns = s.get("/v1/notices?account=sue", p).json();
    assert!(ns
        .as_array()
        .unwrap()
        .iter()
        .any(|n| n["decision"] == d1.as_str()
            && n["kind"] == "outcome"
            && n["text"].as_str().unwrap().contains("reversed")));
    s.post(&decide, rev2, &json!({"outcome": "upheld", "reason": "x"}))
        .expect_error(409, "already_decided");
    // A lifted decision is not in force: nothing to appeal.
    s.post(
        ap,
        p,
        &json!({"decision": d2, "account": "rita", "reason": "x"}),
    )
    .expect_error(409, "not_in_force");

    // Upheld path: an automated withhold decision, appealed by its recipient.
    let r3 = s
        .scan(&json!({
            "context": context("h-3", "group", ("sue", "US"), &[("dora", "DE")]),
            "signals": {"pdq": hs[30]},
        }))
        .expect(200)
        .json();
    assert_eq!(action_of(&r3, "dora"), "withhold");
    let d3 = r3["decisions"][0]["id"].as_str().unwrap().to_string();
    let a3 = s
        .post(
            ap,
            p,
            &json!({"decision": d3, "account": "dora", "reason": "I want to see it"}),
        )
        .expect(201)
        .json();
    let a3id = a3["id"].as_str().unwrap();
    let out = s
        .post(
            &format!("/v1/appeals/{a3id}/decide"),
            rev1,
            &json!({"outcome": "upheld", "reason": "illegal in DE"}),
        )
        .expect(200)
        .json();
    assert_eq!(out["outcome"], "upheld");
    let dv = s.get(&format!("/v1/decisions/{d3}"), p).expect(200).json();
    assert_eq!(dv["status"], "in_force");
    let got = s.get(&format!("/v1/appeals/{a3id}"), p).expect(200).json();
    assert_eq!(got["outcome_reason"], "illegal in DE");
    let ns = s.get("/v1/notices?account=dora", p).json();
    assert!(ns
        .as_array()
        .unwrap()
        .iter()
        .any(|n| n["decision"] == d3.as_str() && n["kind"] == "outcome"));

    // Data access: every decision about the account, with role, notices and appeals.
    let ex = s.get("/v1/accounts/sue/decisions", p).expect(200).json();
    assert_eq!(ex["account"], "sue");
    let ds: Vec<(&str, &str)> = ex["decisions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["decision"]["id"].as_str().unwrap(),
                d["role"].as_str().unwrap(),
            )
        })
        .collect();
    let mut want = vec![
        (d1.as_str(), "sender"),
        (d2.as_str(), "sender"),
        (d3.as_str(), "sender"),
    ];
    want.sort_unstable();
    assert_eq!(ds, want);
    let sue_notices = ex["notices"].as_array().unwrap();
    // Decision notice for each of the 3 decisions; outcomes: d1 (review + appeal), d2
    // (review) and d3 (appeal: every party of the decision is told); the bank addition that
    // d1's review made from her content.
    assert_eq!(sue_notices.len(), 3 + 2 + 1 + 1 + 1, "{ex}");
    assert_eq!(
        sue_notices
            .iter()
            .filter(|n| n["kind"] == "bank_addition")
            .count(),
        1
    );
    // Both held items are in her export, with the addition retracted by the reversal.
    let items = ex["review_items"].as_array().unwrap();
    assert_eq!(items.len(), 2, "{ex}");
    assert!(items
        .iter()
        .any(|i| i["bank"] == "reviewed" && i["bank_content_retracted"] == true));
    assert!(sue_notices.iter().all(|n| n["account"] == "sue"));
    let ap_ids: Vec<&str> = ex["appeals"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["id"].as_str().unwrap())
        .collect();
    assert_eq!(ap_ids, [a1id.as_str()]);
    // Every notice's proof verifies and its log entry is about the notice's decision.
    let verifier = s.verifier();
    for n in sue_notices {
        let nid = n["id"].as_str().unwrap();
        let proof = s
            .get(&format!("/v1/notices/{nid}/proof"), p)
            .expect(200)
            .body;
        let ve = candor_log::verify_proof_file(&proof, &verifier).expect("proof verifies");
        assert_eq!(Some(ve.index), n["log_index"].as_u64());
        let e = candor_log::entry::Entry::decode(&ve.entry.expect("entry")).unwrap();
        use candor_log::entry::EntryBody as B;
        let about = match &e.body {
            B::Decision(d) => Some(d.decision.clone()),
            B::Review(r) => r.decision.clone(),
            B::AppealOutcome(a) => a.decision.clone(),
            B::Appeal(a) => a.decision.clone(),
            _ => None,
        };
        assert_eq!(
            about.as_deref(),
            n["decision"].as_str(),
            "notice {} ({}) proves an unrelated entry: {e:?}",
            nid,
            n["kind"]
        );
    }
    let ex = s
        .get("/v1/accounts/dora/decisions", &s.tokens.auditor)
        .expect(200)
        .json();
    assert_eq!(ex["decisions"][0]["role"], "recipient");
    assert_eq!(ex["appeals"].as_array().unwrap().len(), 1);
    let ex = s.get("/v1/accounts/nobody/decisions", p).expect(200).json();
    assert_eq!(ex["account"], "nobody");
    for k in ["decisions", "notices", "appeals"] {
        assert!(ex[k].as_array().unwrap().is_empty(), "{k}: {ex}");
    }

    // The published numbers count all of it, and equal the ones recomputed from the log.
    let n = s.numbers();
    let rep = s.verify_log(None);
    assert_eq!(serde_json::to_value(&rep.numbers).unwrap(), n);
    let nn = &rep.numbers;
    assert_eq!(nn.decisions.total, 3);
    assert_eq!(nn.reviews.confirmed, 1);
    assert_eq!(nn.reviews.rejected, 1);
    assert_eq!(nn.appeals.total, 2);
    assert_eq!(nn.appeals.upheld, 1);
    assert_eq!(nn.appeals.reversed, 1);
    assert_eq!(nn.decisions.by_action["hold_for_review"], 2);
    assert_eq!(nn.decisions.by_action["withhold"], 1);
    assert_eq!(nn.decisions.by_jurisdiction["DE"], 1);
    assert_eq!(nn.decisions.by_jurisdiction["US"], 2);
    assert_eq!(nn.decisions.by_category[CAT_TERROR], 3);
    assert_eq!(nn.decisions.automated + nn.decisions.human, 3);
    assert!(nn.bank_changes.retract >= 1);
}
