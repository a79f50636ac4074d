//! Policies mean what their authors expect: lints returned with the set, the simulator over
//! HTTP, and content that cannot be hashed decided by a published rule.

mod common;

use candor_log::entry::EntryBody;
use common::*;
use serde_json::{json, Value};

const EXAMPLE: &str = include_str!("../../candor-policy/examples/policies.toml");

fn put_example(s: &TestServer) -> Value {
    s.request(
        "PUT",
        "/v1/policies",
        &s.tokens.curator,
        Some(("application/toml", EXAMPLE.as_bytes().to_vec())),
    )
    .expect(200)
    .json()
}

fn codes(lints: &Value) -> Vec<String> {
    lints
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["code"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn lints_come_with_the_set_and_the_simulator_shows_every_cell() {
    let s = TestServer::start();
    // No banks yet: the example's policies name banks that do not exist.
    let put = put_example(&s);
    let c = codes(&put["lints"]);
    assert!(c.iter().any(|c| c == "unknown-bank"), "{c:?}");
    assert_eq!(s.get("/v1/policies", "").json()["lints"], put["lints"]);

    s.create_bank("ncmec-hashes", CAT_CSAM, 31);
    s.create_bank("tcap-hashes", CAT_TERROR, 20);
    let put = put_example(&s);
    let c = codes(&put["lints"]);
    assert!(!c.iter().any(|c| c == "unknown-bank"), "{c:?}");
    // max_distance 24 and 31 above the bank's threshold 20: those rules can never be reached.
    assert!(c.iter().any(|c| c == "max-distance-unreachable"), "{c:?}");

    // The simulator: curators and auditors; never the platform.
    let sim = s
        .post("/v1/policies/simulate", &s.tokens.curator, &json!({}))
        .expect(200)
        .json();
    let text = sim["text"].as_str().unwrap();
    for needle in [
        "== bank ncmec-hashes",
        "== bank tcap-hashes",
        "csam-block",
        "terrorist-content-eu",
        "content that cannot be hashed",
    ] {
        assert!(text.contains(needle), "{needle:?} not in\n{text}");
    }
    assert!(sim["simulation"]["blocks"].is_array());
    s.post("/v1/policies/simulate", &s.tokens.auditor, &json!({}))
        .expect(200);
    s.post("/v1/policies/simulate", &s.tokens.platform, &json!({}))
        .expect(403);

    // A proposal: csam-block only in DE. The diff names the cells that change.
    let mut proposed = s.get("/v1/policies", "").json();
    proposed["policies"][0]["jurisdictions"] = json!(["DE"]);
    proposed.as_object_mut().unwrap().remove("lints");
    let sim = s
        .post(
            "/v1/policies/simulate",
            &s.tokens.curator,
            &json!({"proposed": proposed, "bank": "ncmec-hashes"}),
        )
        .expect(200)
        .json();
    let diff = sim["diff_text"].as_str().unwrap();
    assert!(
        diff.contains("block (csam-block) -> withhold (csam-block)"),
        "{diff}"
    );
    assert!(diff.contains("block (csam-block) -> deliver"), "{diff}");
    assert!(!sim["diff"].as_array().unwrap().is_empty());
    // Simulating does not change the set in force.
    assert_eq!(
        s.get("/v1/policies", "").json()["policies"][0]["jurisdictions"],
        json!([])
    );
    // Bad requests are clear errors.
    s.post(
        "/v1/policies/simulate",
        &s.tokens.curator,
        &json!({"bank": "nope"}),
    )
    .expect_error(400, "invalid_simulation");
    s.post(
        "/v1/policies/simulate",
        &s.tokens.curator,
        &json!({"proposed": {"policies": [{"id": "Bad Id"}]}}),
    )
    .expect_error(400, "invalid_policy");
    s.post(
        "/v1/policies/simulate",
        &s.tokens.curator,
        &json!({"proposed": proposed, "proposed_toml": EXAMPLE}),
    )
    .expect_error(400, "invalid_simulation");

    // Sampling direct messages needs the published flag.
    let mut private = s.get("/v1/policies", "").json();
    private.as_object_mut().unwrap().remove("lints");
    private["sampling"]["surfaces"] = json!(["direct"]);
    s.put("/v1/policies", &s.tokens.curator, &private)
        .expect_error(400, "invalid_policy");
    private["sampling"]["private_surfaces"] = json!(true);
    let put = s
        .put("/v1/policies", &s.tokens.curator, &private)
        .expect(200)
        .json();
    assert_eq!(put["sampling"]["private_surfaces"], true);
    let flags: Vec<Option<bool>> = s
        .log_entries()
        .into_iter()
        .filter_map(|e| match e.body {
            EntryBody::PolicyChange(p) if p.policy == candor_log::entry::SAMPLING_POLICY => {
                Some(p.private_surfaces)
            }
            _ => None,
        })
        .collect();
    assert_eq!(flags.last(), Some(&Some(true)), "{flags:?}");
}

/// A file that says JPEG but cannot be decoded: not an image anyone can hash.
fn broken_jpeg() -> Vec<u8> {
    let mut b = vec![
        0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10, b'J', b'F', b'I', b'F', 0,
    ];
    b.extend(std::iter::repeat_n(0x5Au8, 4096));
    b
}

fn scan_upload(s: &TestServer, ctx: &Value, bytes: &[u8]) -> Value {
    s.post_multipart(
        "/v1/scan",
        &s.tokens.platform,
        &[
            ("context", None, ctx.to_string().as_bytes()),
            ("file", Some("x.jpg"), bytes),
        ],
    )
    .expect(200)
    .json()
}

#[test]
fn unhashable_images_go_to_the_published_rule() {
    let s = TestServer::start();
    put_example(&s);
    let public = json!({
        "surface": "public", "content_id": "post-1", "content_type": "CONTENT_TYPE_IMAGE",
        "sender": {"account": "una", "jurisdiction": "DE"},
        "audience": {"jurisdictions": ["DE", "US"]},
    });
    let r = scan_upload(&s, &public, &broken_jpeg());
    assert!(r["signals"]["image_error"].is_string(), "{r}");
    for a in r["audience"].as_array().unwrap() {
        assert_eq!(a["action"], "hold_for_review", "{r}");
    }
    let d = &r["decisions"][0];
    assert_eq!(d["policy"], "unhashable-public-review");
    let st = &d["statement"];
    assert!(st["unhashable"].is_string(), "{st}");
    assert!(
        st["decision_facts"].as_str().unwrap().contains("could not"),
        "{st}"
    );
    assert!(d["review_item"].is_string());
    // The sender is told; the log entry says unhashable and names no bank; numbers count it.
    let n = s
        .get("/v1/notices?account=una", &s.tokens.platform)
        .expect(200)
        .json();
    assert_eq!(n.as_array().unwrap().len(), 1);
    let entry = &s.log_entries()[d["log_index"].as_u64().unwrap() as usize];
    let EntryBody::Decision(de) = &entry.body else {
        panic!("{entry:?}")
    };
    assert!(de.unhashable);
    assert!(de.bank.is_none() && de.distance.is_none());
    let rep = s.verify_log(None);
    assert_eq!(rep.numbers.decisions.unhashable, 1);
    assert_eq!(
        s.numbers()["decisions"]["unhashable"],
        json!(1),
        "published numbers"
    );

    // On a direct message the example's rules deliver unhashable content (no rule there).
    let direct = context("dm-1", "direct", ("una", "DE"), &[("vic", "DE")]);
    let r = scan_upload(&s, &direct, &broken_jpeg());
    assert_eq!(action_of(&r, "vic"), "deliver", "{r}");
    // Content that is not an image at all is not "unhashable": it is delivered.
    let r = scan_upload(&s, &public, b"just some text, not an image");
    assert!(r["decisions"].as_array().unwrap().is_empty(), "{r}");
}
