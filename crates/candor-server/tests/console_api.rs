//! The operations the console added (issue 12), over real HTTP: the review queue by priority,
//! a decision's notices as each person received them, comparing two images or hashes, and
//! the structured preview of a policy change.

mod common;

use common::*;
use serde_json::{json, Value};

fn policies_with(s: &TestServer, f: impl FnOnce(&mut Vec<Value>)) -> Value {
    let mut set = s.get("/v1/policies", "").expect(200).json();
    set.as_object_mut().unwrap().remove("lints");
    f(set["policies"].as_array_mut().unwrap());
    set
}

fn held(s: &TestServer, puid: &str, pdq: &str) -> String {
    let r = s
        .scan(&json!({
            "context": context(puid, "direct", ("sue", "US"), &[("rob", "US")]),
            "signals": {"pdq": pdq},
        }))
        .expect(200)
        .json();
    assert_eq!(action_of(&r, "rob"), "hold_for_review", "{r}");
    r["decisions"][0]["review_item"]
        .as_str()
        .unwrap()
        .to_string()
}

#[test]
fn review_queue_oldest_or_highest_priority_first() {
    let s = TestServer::start();
    let (cur, rev) = (&s.tokens.curator, &s.tokens.reviewer);
    s.create_bank("terror", CAT_TERROR, 31);
    s.create_bank("other", CAT_TERROR, 31);
    let hs = needles();
    s.add_pdq("terror", &hs[1]);
    s.add_pdq("other", &hs[2]);
    // terror-review reviewed first (90); other-review at the default (50).
    let set = policies_with(&s, |ps| {
        for p in ps.iter_mut() {
            if p["id"] == "terror-review" {
                p["review_priority"] = json!(90);
            }
        }
        let mut o = ps
            .iter()
            .find(|p| p["id"] == "terror-review")
            .unwrap()
            .clone();
        o["id"] = json!("other-review");
        o["banks"] = json!(["other"]);
        o.as_object_mut().unwrap().remove("review_priority");
        ps.push(o);
    });
    s.put("/v1/policies", cur, &set).expect(200);
    // Out of range: refused, naming the field.
    let bad = policies_with(&s, |ps| ps[0]["review_priority"] = json!(101));
    let e = s
        .put("/v1/policies", cur, &bad)
        .expect_error(400, "invalid_policy")
        .json();
    assert!(
        e["error"]["message"]
            .as_str()
            .unwrap()
            .contains("review_priority"),
        "{e}"
    );

    let low = held(&s, "m-low", &hs[2]);
    let high = held(&s, "m-high", &hs[1]);
    // Unknown public content is sampled (rate 1 on public): priority 0.
    let sampled = s
        .scan(&json!({
            "context": {"surface": "public", "content_id": "m-sampled", "content_type": "CONTENT_TYPE_IMAGE",
                        "sender": {"account": "sue", "jurisdiction": "US"}, "audience": {"jurisdictions": ["US"]}},
            "signals": {"pdq": hs[3]},
        }))
        .expect(200)
        .json()["review_item"]
        .as_str()
        .expect("sampled")
        .to_string();
    let ids = |v: &Value| -> Vec<String> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|i| i["id"].as_str().unwrap().to_string())
            .collect()
    };
    let oldest = s.get("/v1/review", rev).expect(200).json();
    assert_eq!(ids(&oldest), [low.clone(), high.clone(), sampled.clone()]);
    assert_eq!(
        s.get("/v1/review?order=oldest", rev).expect(200).json(),
        oldest
    );
    let by_p = s.get("/v1/review?order=priority", rev).expect(200).json();
    assert_eq!(ids(&by_p), [high.clone(), low.clone(), sampled.clone()]);
    let prio: Vec<i64> = by_p
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["priority"].as_i64().unwrap())
        .collect();
    assert_eq!(prio, [90, 50, 0]);
    // Pages of one, by the cursor the previous page names.
    let mut seen = Vec::new();
    let mut path = "/v1/review?order=priority&limit=1".to_string();
    loop {
        let r = s.get(&path, rev).expect(200);
        let next = r.header("x-next-cursor").map(str::to_string);
        let page = r.json();
        seen.extend(ids(&page));
        match next {
            Some(c) => path = format!("/v1/review?order=priority&limit=1&cursor={c}"),
            None => break,
        }
        assert!(seen.len() <= 3, "paging does not end: {seen:?}");
    }
    assert_eq!(seen, [high.clone(), low.clone(), sampled]);
    s.get("/v1/review?order=newest", rev)
        .expect_error(400, "invalid_order");
    s.get("/v1/review?order=priority&cursor=zz", rev)
        .expect_error(400, "invalid_cursor");
    // Decided items leave the queue in either order.
    s.post(&format!("/v1/review/{high}/reject"), rev, &json!({}))
        .expect(200);
    let by_p = s.get("/v1/review?order=priority", rev).expect(200).json();
    assert_eq!(ids(&by_p)[0], low);
}

#[test]
fn a_decisions_notices_as_each_person_received_them() {
    let s = TestServer::start();
    s.create_bank("terror", CAT_TERROR, 31);
    let hs = needles();
    s.add_pdq("terror", &hs[5]);
    let r = s
        .scan(&json!({
            "context": context("n-1", "group", ("alice", "US"), &[("bob", "DE"), ("carol", "US")]),
            "signals": {"pdq": hs[5]},
        }))
        .expect(200)
        .json();
    let d = r["decisions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["action"] == "withhold")
        .expect("a withhold")["id"]
        .as_str()
        .unwrap()
        .to_string();
    let path = format!("/v1/decisions/{d}/notices");
    for tok in [&s.tokens.reviewer, &s.tokens.auditor, &s.tokens.platform] {
        let ns = s.get(&path, tok).expect(200).json();
        let ns = ns.as_array().unwrap();
        let roles: Vec<(&str, &str)> = ns
            .iter()
            .map(|n| (n["account"].as_str().unwrap(), n["role"].as_str().unwrap()))
            .collect();
        assert_eq!(roles, [("alice", "sender"), ("bob", "recipient")]);
        // Exactly the text the platform shows the person.
        for n in ns {
            let mine = s
                .get(
                    &format!("/v1/notices?account={}", n["account"].as_str().unwrap()),
                    &s.tokens.platform,
                )
                .expect(200)
                .json();
            let same = mine
                .as_array()
                .unwrap()
                .iter()
                .find(|m| m["id"] == n["id"])
                .expect("the person's notice");
            assert_eq!(same["text"], n["text"]);
            assert!(n["text"].as_str().unwrap().len() > 40);
        }
    }
    s.get(&path, &s.tokens.admin).expect(403);
    s.get("/v1/decisions/nope/notices", &s.tokens.reviewer)
        .expect_error(404, "decision_not_found");
}

/// `png` inside a uniform white border of `px` pixels.
fn framed(png: &[u8], px: u32) -> Vec<u8> {
    let img = image::load_from_memory(png).expect("decode").to_rgb8();
    let (w, h) = img.dimensions();
    let mut out = image::RgbImage::from_pixel(w + 2 * px, h + 2 * px, image::Rgb([255, 255, 255]));
    image::imageops::overlay(&mut out, &img, px.into(), px.into());
    let mut bytes = std::io::Cursor::new(Vec::new());
    out.write_to(&mut bytes, image::ImageFormat::Png)
        .expect("png");
    bytes.into_inner()
}

fn best(r: &Value) -> (String, bool, u64) {
    (
        r["best"]["orientation"].as_str().unwrap().to_string(),
        r["best"]["trimmed"].as_bool().unwrap(),
        r["best"]["distance"].as_u64().unwrap(),
    )
}

fn variant<'a>(r: &'a Value, o: &str, trimmed: bool, against: &str) -> &'a Value {
    r["variants"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["orientation"] == o && v["trimmed"] == trimmed && v["against"] == against)
        .unwrap_or_else(|| panic!("no variant {o} {trimmed} {against}: {r}"))
}

#[test]
fn compare_two_images_or_hashes() {
    let s = TestServer::start();
    let cur = &s.tokens.curator;
    let orig = image_bytes("reference/reg-test-input/dih/bridge-1-original.jpg");
    let rot = image_bytes("reference/reg-test-input/dih/bridge-2-rotate-90.jpg");
    // Image against image: the rotation of the first that matches the second is rot90.
    let r = s
        .post_multipart(
            "/v1/compare",
            cur,
            &[("a", Some("a.jpg"), &rot), ("b", Some("b.jpg"), &orig)],
        )
        .expect(200)
        .json();
    assert_eq!(r["a"]["kind"], "image");
    assert_eq!(r["varied"], "a");
    assert_eq!(r["threshold"], 31);
    assert_eq!(r["threshold_from"], "service");
    let (o, trimmed, d) = best(&r);
    assert!(
        ["rot90", "rot270"].contains(&o.as_str()) && !trimmed && d <= 10,
        "{r}"
    );
    assert_eq!(r["matches"], true);
    assert!(
        variant(&r, "orig", false, "pdq")["distance"]
            .as_u64()
            .unwrap()
            > 60
    );
    assert_eq!(
        r["variants"].as_array().unwrap().len(),
        8,
        "eight orientations, no border: {r}"
    );
    let pdq_orig = r["b"]["pdq"].as_str().unwrap().to_string();

    // A hash against an image: the image's orientations are listed (side b), with a threshold.
    let r = s
        .post_multipart(
            "/v1/compare?threshold=12",
            &s.tokens.reviewer,
            &[("a", None, pdq_orig.as_bytes()), ("b", Some("b.jpg"), &rot)],
        )
        .expect(200)
        .json();
    assert_eq!(r["varied"], "b");
    assert_eq!(r["threshold_from"], "given");
    assert!(best(&r).2 <= 10, "{r}");

    // Hash against hash: one distance.
    let near = flip_bits(&pdq_orig, 14);
    let r = s
        .post_multipart(
            "/v1/compare?threshold=12",
            cur,
            &[
                ("a", None, pdq_orig.as_bytes()),
                ("b", None, near.as_bytes()),
            ],
        )
        .expect(200)
        .json();
    assert!(r.get("varied").is_none());
    assert_eq!(r["variants"].as_array().unwrap().len(), 1);
    assert_eq!(best(&r), ("orig".into(), false, 14));
    assert_eq!(r["matches"], false);
    assert_eq!(r["best"]["within"], false);

    // A framed picture: its trimmed variant matches the unframed one.
    let png = image_bytes(SYNTH_PNG);
    let r = s
        .post_multipart(
            "/v1/compare",
            cur,
            &[
                ("a", Some("framed.png"), &framed(&png, 60)),
                ("b", Some("plain.png"), &png),
            ],
        )
        .expect(200)
        .json();
    assert!(r["a"]["pdq_trimmed"].is_string(), "{r}");
    let t = variant(&r, "orig", true, "pdq");
    assert!(t["distance"].as_u64().unwrap() <= 10, "{r}");
    assert!(best(&r).1, "{r}");
    assert!(r["variants"].as_array().unwrap().len() >= 16, "{r}");

    // A bank's threshold.
    s.create_bank("strict", CAT_TERROR, 5);
    let r = s
        .post_multipart(
            "/v1/compare?bank=strict",
            cur,
            &[
                ("a", None, pdq_orig.as_bytes()),
                ("b", None, near.as_bytes()),
            ],
        )
        .expect(200)
        .json();
    assert_eq!(
        (r["threshold"].as_u64(), r["threshold_from"].as_str()),
        (Some(5), Some("bank strict"))
    );

    // Bad input: clear 4xx.
    let h = pdq_orig.as_bytes();
    s.post_multipart("/v1/compare", cur, &[("a", None, h)])
        .expect_error(400, "invalid_multipart");
    s.post_multipart("/v1/compare", cur, &[("a", None, h), ("b", None, b"xyz")])
        .expect_error(400, "invalid_signal");
    s.post_multipart(
        "/v1/compare",
        cur,
        &[
            ("a", None, h),
            ("b", Some("notes.txt"), b"just some text, not an image"),
        ],
    )
    .expect_error(400, "not_an_image");
    s.post_multipart("/v1/compare", cur, &[("a", None, h), ("a", None, h)])
        .expect_error(400, "invalid_multipart");
    s.post_multipart("/v1/compare", cur, &[("a", None, h), ("c", None, h)])
        .expect_error(400, "invalid_multipart");
    s.post_multipart(
        "/v1/compare?threshold=300",
        cur,
        &[("a", None, h), ("b", None, h)],
    )
    .expect_error(400, "invalid_threshold");
    s.post_multipart(
        "/v1/compare?bank=nope",
        cur,
        &[("a", None, h), ("b", None, h)],
    )
    .expect_error(404, "bank_not_found");
    s.post("/v1/compare", cur, &json!({"a": pdq_orig, "b": pdq_orig}))
        .expect_error(400, "invalid_multipart");
    s.post_multipart(
        "/v1/compare",
        &s.tokens.platform,
        &[("a", None, h), ("b", None, h)],
    )
    .expect(403);
}

#[test]
fn policy_preview_is_structured_and_saves_nothing() {
    let s = TestServer::start();
    let cur = &s.tokens.curator;
    s.create_bank("terror", CAT_TERROR, 31);
    s.create_bank("csam", CAT_CSAM, 31);
    let size = s.log_size();
    // terror-eu: DE out, IT in; csam-block: withhold instead of block.
    let set = policies_with(&s, |ps| {
        for p in ps.iter_mut() {
            if p["id"] == "terror-eu" {
                p["jurisdictions"] = json!(["FR", "IT"]);
            }
            if p["id"] == "csam-block" {
                p["action"] = json!("withhold");
            }
        }
    });
    let r = s.post("/v1/policies/preview", cur, &set).expect(200).json();
    let change = |id: &str| {
        r["policies"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["policy"] == id)
            .unwrap_or_else(|| panic!("no change of {id}: {r}"))
            .clone()
    };
    let t = change("terror-eu");
    assert_eq!(t["change"], "updated");
    let j = &t["fields"][0];
    assert_eq!(j["field"], "jurisdictions");
    assert_eq!(
        (j["added"].clone(), j["removed"].clone()),
        (json!(["IT"]), json!(["DE"]))
    );
    let c = change("csam-block");
    assert_eq!(c["fields"][0]["field"], "action");
    assert_eq!(
        (c["fields"][0]["from"].clone(), c["fields"][0]["to"].clone()),
        (json!("block"), json!("withhold"))
    );
    assert!(r["policies"].as_array().unwrap().len() == 2, "{r}");
    // The answers: a terror match to DE is no longer withheld but held for review; to IT the
    // other way round.
    let effects = r["effects"].as_array().unwrap();
    let to = |t: &str| {
        effects
            .iter()
            .find(|g| {
                g["subject"] == "terror" && g["targets"].as_array().unwrap().iter().any(|x| x == t)
            })
            .unwrap_or_else(|| panic!("no effect to {t}: {r}"))
    };
    assert_eq!(to("DE")["from"]["action"], "withhold");
    assert_eq!(to("DE")["to"]["action"], "hold_for_review");
    assert_eq!(to("IT")["to"]["action"], "withhold");
    assert_eq!(to("DE")["surfaces"], json!(["direct", "group", "public"]));
    assert!(effects.iter().any(|g| g["subject"] == "csam"));
    assert!(r["changed_cells"].as_u64().unwrap() > 0);
    // Nothing saved, nothing logged.
    assert_eq!(s.log_size(), size);
    assert_eq!(
        s.get("/v1/policies", "").expect(200).json()["policies"][1]["jurisdictions"],
        json!(["DE", "FR"])
    );
    // No change: empty lists.
    let same = policies_with(&s, |_| {});
    let r = s
        .post("/v1/policies/preview", cur, &same)
        .expect(200)
        .json();
    assert_eq!(
        (r["policies"].clone(), r["effects"].clone()),
        (json!([]), json!([]))
    );
    // Invalid: the same 400 as saving, naming the field.
    let bad = policies_with(&s, |ps| ps[0]["max_distance"] = json!(300));
    let e = s
        .post("/v1/policies/preview", cur, &bad)
        .expect_error(400, "invalid_policy")
        .json();
    assert!(
        e["error"]["message"]
            .as_str()
            .unwrap()
            .contains("max_distance"),
        "{e}"
    );
    // A warning is shown with the preview.
    let unknown = policies_with(&s, |ps| ps[0]["banks"] = json!(["no-such-bank"]));
    let r = s
        .post("/v1/policies/preview", cur, &unknown)
        .expect(200)
        .json();
    assert!(
        r["lints"]
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l["code"] == "unknown-bank"),
        "{r}"
    );
    s.post("/v1/policies/preview", &s.tokens.auditor, &same)
        .expect(200);
    s.post("/v1/policies/preview", &s.tokens.reviewer, &same)
        .expect(403);
}
