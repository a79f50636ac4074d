//! What HMA users ask for (HMA issues #1977, #1827, #1886, #1879, #1912): negative banks
//! (allowlists whose match suppresses the others, logged, never silent), lookups that answer
//! the query's hashes, content metadata, bank filters on every lookup, and the index's
//! staleness reported and bounded. Over real HTTP, on `/v1` and on HMA's routes.

mod common;

use candor_log::entry::EntryBody;
use common::*;
use serde_json::{json, Value};

fn bank_entries(s: &TestServer, bank: &str) -> Vec<candor_log::entry::BankEntry> {
    s.log_entries()
        .into_iter()
        .filter_map(|e| match e.body {
            EntryBody::Bank(b) if b.bank == bank => Some(b),
            _ => None,
        })
        .collect()
}

fn banks_of(list: &Value) -> Vec<String> {
    list.as_array()
        .map(|a| {
            a.iter()
                .map(|m| m["bank"].as_str().unwrap_or("").to_string())
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn negative_bank_suppresses_other_banks_on_v1_and_is_logged() {
    let s = TestServer::start();
    let (cur, p) = (&s.tokens.curator, &s.tokens.platform);
    s.create_bank("terror", CAT_TERROR, 31);
    s.create_bank("other", CAT_TERROR, 31);
    let benign = s
        .post(
            "/v1/banks",
            cur,
            &json!({"name": "benign", "category": CAT_TERROR, "negative": true}),
        )
        .expect(201)
        .json();
    assert_eq!(benign["negative"], true);
    assert_eq!(
        s.get("/v1/banks/terror", cur).expect(200).json()["negative"],
        false
    );

    let (h, other) = (needles()[3].clone(), needles()[40].clone());
    s.add_pdq("terror", &h);
    s.add_pdq("benign", &flip_bits(&h, 2));
    s.add_pdq("terror", &other);
    s.add_pdq("other", &other);

    // A negative-bank match suppresses the other bank's match: nothing to act on, and both
    // the allowlisting and the suppressed match are in the answer.
    let r = s.get(&format!("/v1/lookup?pdq={h}"), p).expect(200).json();
    assert_eq!(r["matches"], json!([]), "{r}");
    assert_eq!(banks_of(&r["allowlisted"]), ["benign"]);
    assert_eq!(r["allowlisted"][0]["negative"], true);
    assert_eq!(r["allowlisted"][0]["distance"], 2);
    assert_eq!(banks_of(&r["suppressed"]), ["terror"]);
    // Content no negative bank knows matches as before, and the bank filter picks banks.
    let r = s
        .get(&format!("/v1/lookup?pdq={other}"), p)
        .expect(200)
        .json();
    let mut b = banks_of(&r["matches"]);
    b.sort();
    assert_eq!(b, ["other", "terror"]);
    assert!(
        r.get("suppressed").is_none() && r.get("allowlisted").is_none(),
        "{r}"
    );
    let r = s
        .get(&format!("/v1/lookup?pdq={other}&banks=other"), p)
        .expect(200)
        .json();
    assert_eq!(banks_of(&r["matches"]), ["other"]);
    let r = s
        .get(&format!("/v1/lookup?pdq={other}&banks=nope,%20"), p)
        .expect(200)
        .json();
    assert_eq!(r["matches"], json!([]));
    // The filter selects what is reported; the negative bank applies whatever it says.
    let r = s
        .get(&format!("/v1/lookup?pdq={h}&banks=terror"), p)
        .expect(200)
        .json();
    assert_eq!(r["matches"], json!([]));
    assert_eq!(banks_of(&r["suppressed"]), ["terror"]);
    assert_eq!(banks_of(&r["allowlisted"]), ["benign"]);

    // Scan: policies see only what is left; the answer says what was suppressed and why;
    // known content is not sampled as unknown (public surface, sampling rate 1.0).
    let public = |id: &str, pdq: &str| {
        json!({
            "context": {
                "surface": "public", "content_id": id, "content_type": "CONTENT_TYPE_IMAGE",
                "sender": {"account": "alice", "jurisdiction": "DE"},
                "audience": {"jurisdictions": ["DE"]},
            },
            "signals": {"pdq": pdq},
        })
    };
    // Unknown content there is sampled (the test policies sample every public upload)...
    let r = s
        .scan(&public("post-unknown", &needles()[60]))
        .expect(200)
        .json();
    assert!(r.get("review_item").is_some(), "{r}");
    // ...content a negative bank knows is not.
    let r = s.scan(&public("post-neg", &h)).expect(200).json();
    assert_eq!(r["decisions"], json!([]), "{r}");
    assert_eq!(r["matches"], json!([]));
    assert_eq!(banks_of(&r["suppressed"]), ["terror"]);
    assert_eq!(banks_of(&r["allowlisted"]), ["benign"]);
    assert!(
        r.get("review_item").is_none(),
        "allowlisted content sampled: {r}"
    );
    assert!(r["audience"]
        .as_array()
        .unwrap()
        .iter()
        .all(|a| a["action"] == "deliver"));
    // The same content without the allowlist is withheld (DE is in terror-eu's scope).
    let body = json!({
        "context": context("post-pos", "group", ("alice", "US"), &[("bob", "DE")]),
        "signals": {"pdq": other},
    });
    let r = s.scan(&body).expect(200).json();
    assert_eq!(action_of(&r, "bob"), "withhold");

    // Turning the flag off is a bank change like any: logged, and matching follows at once.
    let r = s
        .patch("/v1/banks/benign", cur, &json!({"negative": false}))
        .expect(200)
        .json();
    assert_eq!(r["negative"], false);
    let r = s.get(&format!("/v1/lookup?pdq={h}"), p).expect(200).json();
    let mut b = banks_of(&r["matches"]);
    b.sort();
    assert_eq!(b, ["benign", "terror"]);
    let entries = bank_entries(&s, "benign");
    assert_eq!(
        entries.iter().map(|e| e.negative).collect::<Vec<_>>(),
        [true, false],
        "{entries:?}"
    );
    // And on again.
    s.patch("/v1/banks/benign", cur, &json!({"negative": true}))
        .expect(200);
    assert_eq!(
        s.get(&format!("/v1/lookup?pdq={h}"), p).expect(200).json()["matches"],
        json!([])
    );
    assert_eq!(bank_entries(&s, "benign").len(), 3);
    s.patch("/v1/banks/benign", cur, &json!({"negative": "yes"}))
        .expect(422);
}

#[test]
fn negative_bank_survives_a_restart() {
    let mut s = TestServer::start();
    let cur = s.tokens.curator.clone();
    s.create_bank("terror", CAT_TERROR, 31);
    s.post(
        "/v1/banks",
        &cur,
        &json!({"name": "benign", "category": CAT_TERROR, "negative": true}),
    )
    .expect(201);
    let h = needles()[5].clone();
    s.add_pdq("terror", &h);
    s.add_pdq("benign", &h);
    let before = s
        .get(&format!("/v1/lookup?pdq={h}"), &s.tokens.platform)
        .expect(200)
        .json();
    // Through a snapshot (written at graceful shutdown) and through a rebuild from the rows.
    s.restart();
    let after = s
        .get(&format!("/v1/lookup?pdq={h}"), &s.tokens.platform)
        .expect(200)
        .json();
    assert_eq!(after, before);
    assert_eq!(banks_of(&after["suppressed"]), ["terror"]);
    s.stop();
    std::fs::remove_dir_all(s.dir.join("snapshot")).ok();
    s.launch();
    let rebuilt = s
        .get(&format!("/v1/lookup?pdq={h}"), &s.tokens.platform)
        .expect(200)
        .json();
    assert_eq!(rebuilt, before);
}

#[test]
fn hma_negative_bank_suppresses_and_says_so_in_headers() {
    let s = TestServer::start();
    let (cur, p) = (&s.tokens.curator, &s.tokens.platform);
    let r = s
        .post(
            "/c/banks",
            cur,
            &json!({"name": "BENIGN", "negative": true}),
        )
        .expect(201)
        .json();
    assert_eq!(
        r,
        json!({"name": "BENIGN", "matching_enabled_ratio": 1.0, "negative": true})
    );
    // A bank that is not negative keeps HMA's exact shape.
    let r = s
        .post("/c/banks", cur, &json!({"name": "BAD"}))
        .expect(201)
        .json();
    assert_eq!(r, json!({"name": "BAD", "matching_enabled_ratio": 1.0}));
    let h = needles()[7].clone();
    let add = |bank: &str, pdq: &str| -> i64 {
        s.post(&format!("/c/bank/{bank}/signal"), cur, &json!({"pdq": pdq}))
            .expect(200)
            .json()["id"]
            .as_i64()
            .unwrap()
    };
    let bad_id = add("BAD", &h);
    let benign_id = add("BENIGN", &h);

    let r = s
        .get(&format!("/m/lookup?signal_type=pdq&signal={h}"), p)
        .expect(200);
    assert_eq!(r.header("x-candor-allowlisted"), Some("BENIGN"));
    assert_eq!(r.header("x-candor-suppressed"), Some("BAD"));
    assert_eq!(r.json(), json!({}));
    let r = s
        .get(
            &format!("/m/raw_lookup?signal_type=pdq&signal={h}&include_distance=true"),
            p,
        )
        .expect(200);
    assert_eq!(r.header("x-candor-suppressed"), Some("BAD"));
    assert_eq!(r.json(), json!({"matches": []}));
    // Upload: the same, per signal type.
    let other = needles()[8].clone();
    add("BAD", &other);
    let r = s
        .get(&format!("/m/lookup?signal_type=pdq&signal={other}"), p)
        .expect(200);
    assert!(r.header("x-candor-suppressed").is_none());
    assert_eq!(r.json()["BAD"][0]["distance"], "0");

    // HMA's PUT turns it off (a logged bank update): both banks answer again.
    let r = s
        .put("/c/bank/BENIGN", cur, &json!({"negative": false}))
        .expect(200)
        .json();
    assert_eq!(r, json!({"name": "BENIGN", "matching_enabled_ratio": 1.0}));
    let r = s
        .get(&format!("/m/lookup?signal_type=pdq&signal={h}"), p)
        .expect(200);
    assert!(r.header("x-candor-allowlisted").is_none());
    assert_eq!(
        r.json(),
        json!({
            "BAD": [{"bank_content_id": bad_id, "distance": "0"}],
            "BENIGN": [{"bank_content_id": benign_id, "distance": "0"}],
        })
    );
    assert_eq!(
        bank_entries(&s, "BENIGN")
            .iter()
            .map(|e| e.negative)
            .collect::<Vec<_>>(),
        [true, false]
    );
    s.put("/c/bank/BENIGN", cur, &json!({"negative": 3}))
        .expect(422);
}

#[test]
fn lookups_answer_the_query_hashes_and_filter_banks() {
    let s = TestServer::start();
    let (cur, p) = (&s.tokens.curator, &s.tokens.platform);
    let png = image_bytes(SYNTH_PNG);
    // The image's hashes, as Candor computes them.
    let up = s
        .post_raw("/v1/lookup", p, "application/octet-stream", png.clone())
        .expect(200)
        .json();
    let pdq = up["signals"]["pdq"].as_str().unwrap().to_string();
    let md5 = up["signals"]["md5"].as_str().unwrap().to_string();
    let sha = up["signals"]["sha256"].as_str().unwrap().to_string();
    let r = s
        .post_raw(
            "/v1/lookup?include_signals=false",
            p,
            "application/octet-stream",
            png.clone(),
        )
        .expect(200)
        .json();
    assert!(r.get("signals").is_none(), "{r}");

    s.post("/c/banks", cur, &json!({"name": "ONE"})).expect(201);
    s.post("/c/banks", cur, &json!({"name": "TWO"})).expect(201);
    for b in ["ONE", "TWO"] {
        s.post(&format!("/c/bank/{b}/signal"), cur, &json!({"pdq": pdq}))
            .expect(200);
    }
    // HMA's POST /m/lookup with Candor's include_signals: the hashes under `_signals`.
    let r = s
        .post_multipart(
            "/m/lookup?types=pdq,video_md5,sha256&include_signals=true&banks=TWO",
            p,
            &[("photo", Some("a.png"), &png)],
        )
        .expect(200)
        .json();
    assert_eq!(
        r["_signals"],
        json!({"pdq": pdq, "video_md5": md5, "sha256": sha})
    );
    let banks: Vec<&String> = r["pdq"].as_object().unwrap().keys().collect();
    assert_eq!(banks, ["TWO"], "{r}");
    // Without it, HMA's shape exactly.
    let r = s
        .post_multipart("/m/lookup", p, &[("photo", Some("a.png"), &png)])
        .expect(200)
        .json();
    assert_eq!(r.as_object().unwrap().keys().collect::<Vec<_>>(), ["pdq"]);
    assert_eq!(r["pdq"].as_object().unwrap().len(), 2);
    // /v1 upload lookups take the bank filter too.
    s.create_bank("mine", CAT_TERROR, 31);
    s.add_pdq("mine", &pdq);
    let r = s
        .post_raw("/v1/lookup?banks=mine", p, "application/octet-stream", png)
        .expect(200)
        .json();
    assert_eq!(banks_of(&r["matches"]), ["mine"]);
}

#[test]
fn v1_content_metadata_is_stored_and_returned() {
    let s = TestServer::start();
    let cur = &s.tokens.curator;
    s.create_bank("meta", CAT_TERROR, 31);
    let meta = json!({"source": "case 17", "tags": ["a", "b"], "n": 3});
    let r = s
        .post(
            "/v1/banks/meta/content",
            cur,
            &json!({"pdq": needles()[1], "metadata": meta}),
        )
        .expect(201)
        .json();
    assert_eq!(r["metadata"], meta);
    let id = r["id"].as_str().unwrap();
    let got = s
        .get(&format!("/v1/banks/meta/content/{id}"), cur)
        .expect(200)
        .json();
    assert_eq!(got["metadata"], meta);
    // Not an object, or too large: 400, nothing added.
    for bad in [
        json!([1, 2]),
        json!("text"),
        json!({"x": "y".repeat(70_000)}),
    ] {
        s.post(
            "/v1/banks/meta/content",
            cur,
            &json!({"pdq": needles()[2], "metadata": bad}),
        )
        .expect_error(400, "invalid_metadata");
    }
    assert_eq!(
        s.get("/v1/banks/meta", cur).expect(200).json()["content_count"],
        1
    );
    // Metadata is never logged.
    let size = s.log_size();
    assert!(s
        .log_entries()
        .iter()
        .all(|e| !String::from_utf8_lossy(&e.encode()).contains("case 17")));
    assert!(size > 0);
}

#[test]
fn index_staleness_is_reported_and_bounds_readiness() {
    let s = TestServer::start_with(|c| c.index_max_lag_entries = 1);
    let p = &s.tokens.platform;
    s.create_bank("terror", CAT_TERROR, 31);
    s.add_pdq("terror", &needles()[0]);
    let r = s.get("/readyz", "").expect(200).json();
    assert_eq!(r["status"], "ready");
    let lag = &r["index_lag"];
    assert_eq!(lag["behind_entries"], 0, "{r}");
    assert_eq!(lag["applied_log_size"], lag["committed_log_size"]);
    assert_eq!(lag["committed_log_size"], s.log_size());
    assert_eq!(lag["within_bounds"], true);
    assert!(lag["last_change_age_secs"].as_f64().is_some(), "{r}");
    let st = s.get("/v1/status", p).expect(200).json();
    assert_eq!(st["indexed_signals"]["pdq"], 1);
    assert_eq!(st["index_lag"]["behind_entries"], 0);
    assert_eq!(st["log_size"], s.log_size());
    let hma = s.get("/m/index/status", p).expect(200).json();
    assert_eq!(hma["pdq"]["behind_entries"], 0);
    assert_eq!(hma["pdq"]["size"], 1);
    s.get("/v1/status", "").expect(401);

    // Entries committed that the index has not applied (what a follower that stopped
    // following sees): reported, and past the bound readiness fails.
    let entry = candor_log::entry::examples()[6].encode();
    let append = |n: usize| {
        let e = entry.clone();
        s.block_on(s.app().store.write(move |ctx| {
            Box::pin(async move {
                for _ in 0..n {
                    ctx.append(e.clone());
                }
                Ok(())
            })
        }))
        .unwrap();
    };
    append(1);
    let r = s.get("/readyz", "").expect(200).json();
    assert_eq!(r["index_lag"]["behind_entries"], 1, "{r}");
    append(1);
    let r = s.get("/readyz", "").expect(503).json();
    assert_eq!(r["status"], "behind");
    assert_eq!(r["index_lag"]["behind_entries"], 2);
    assert_eq!(r["index_lag"]["within_bounds"], false);
    let st = s.get("/v1/status", p).expect(200).json();
    assert_eq!(st["index_lag"]["behind_entries"], 2);
    let hma = s
        .get("/m/index/status?signal_type=pdq", p)
        .expect(200)
        .json();
    assert_eq!(hma["pdq"]["behind_entries"], 2);
}
