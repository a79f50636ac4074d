//! Auth (tokens and roles), banks and their content, import and lookup, over real HTTP.

mod common;

use common::*;
use serde_json::{json, Value};

#[test]
fn auth_roles_and_tokens() {
    let s = TestServer::start();
    let t = &s.tokens;

    // Public endpoints need no token.
    for path in [
        "/healthz",
        "/readyz",
        "/v1/numbers",
        "/v1/policies",
        "/log/checkpoint",
        "/log/key",
        "/log/numbers",
        "/openapi.json",
        "/docs/",
    ] {
        let r = s.get(path, "");
        assert_eq!(r.status, 200, "GET {path} without a token: {}", r.text());
    }
    assert_eq!(s.get("/readyz", "").json()["status"], "ready");
    let pol = s.get("/v1/policies", "").json();
    let ids: Vec<&str> = pol["policies"]
        .as_array()
        .expect("policies")
        .iter()
        .map(|p| p["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["csam-block", "terror-eu", "terror-review"]);

    // No token, malformed header, unknown token: 401 with a JSON error.
    s.get("/v1/banks", "").expect_error(401, "unauthorized");
    s.post("/v1/banks", "", &json!({"name": "x", "category": CAT_CSAM}))
        .expect_error(401, "unauthorized");
    s.get("/v1/banks", "candor_not-a-real-token")
        .expect_error(401, "unauthorized");
    let r = {
        let req = ureq::http::Request::builder()
            .uri(s.url("/v1/banks"))
            .header("Authorization", format!("Basic {}", t.curator))
            .body(())
            .unwrap();
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .into();
        let mut resp = agent.run(req).unwrap();
        Resp {
            status: resp.status().as_u16(),
            content_type: String::new(),
            connection: String::new(),
            retry_after: String::new(),
            headers: Vec::new(),
            body: resp.body_mut().read_to_vec().unwrap(),
        }
    };
    r.expect_error(401, "unauthorized");

    // Wrong role: 403 `forbidden` on a write endpoint of every room.
    let forbidden: Vec<(&str, &str, &str, Value)> = vec![
        (
            "POST",
            "/v1/banks",
            t.platform.as_str(),
            json!({"name": "b", "category": CAT_CSAM}),
        ),
        (
            "PATCH",
            "/v1/banks/b",
            t.reviewer.as_str(),
            json!({"enabled": false}),
        ),
        ("DELETE", "/v1/banks/b", t.auditor.as_str(), Value::Null),
        (
            "POST",
            "/v1/banks/b/content",
            t.platform.as_str(),
            json!({"pdq": needles()[0]}),
        ),
        (
            "POST",
            "/v1/banks/b/import",
            t.reviewer.as_str(),
            Value::Null,
        ),
        ("POST", "/v1/scan", t.curator.as_str(), json!({})),
        ("POST", "/v1/scan", t.reviewer.as_str(), json!({})),
        (
            "POST",
            "/v1/review/x/confirm",
            t.platform.as_str(),
            json!({}),
        ),
        ("POST", "/v1/review/x/reject", t.curator.as_str(), json!({})),
        ("POST", "/v1/appeals", t.curator.as_str(), json!({})),
        ("POST", "/v1/appeals", t.reviewer.as_str(), json!({})),
        (
            "POST",
            "/v1/appeals/x/decide",
            t.platform.as_str(),
            json!({}),
        ),
        (
            "POST",
            "/v1/tokens",
            t.curator.as_str(),
            json!({"role": "admin", "name": "x"}),
        ),
        ("DELETE", "/v1/tokens/x", t.platform.as_str(), Value::Null),
        ("GET", "/v1/tokens", t.platform.as_str(), Value::Null),
        (
            "PUT",
            "/v1/policies",
            t.platform.as_str(),
            json!({"policies": []}),
        ),
        (
            "PUT",
            "/v1/policies",
            t.admin.as_str(),
            json!({"policies": []}),
        ),
        ("GET", "/v1/review", t.platform.as_str(), Value::Null),
        (
            "GET",
            "/v1/lookup?md5=00000000000000000000000000000000",
            t.admin.as_str(),
            Value::Null,
        ),
        (
            "GET",
            "/v1/notices?account=a",
            t.curator.as_str(),
            Value::Null,
        ),
        (
            "GET",
            "/v1/accounts/a/decisions",
            t.reviewer.as_str(),
            Value::Null,
        ),
    ];
    for (method, path, token, body) in forbidden {
        let body = (!body.is_null()).then(|| ("application/json", body.to_string().into_bytes()));
        let r = s.request(method, path, token, body);
        assert_eq!(r.status, 403, "{method} {path}: {}", r.text());
        assert_eq!(r.json()["error"]["code"], "forbidden", "{method} {path}");
    }
    // Nothing was written by the refused calls.
    assert!(s
        .get("/v1/banks", &t.curator)
        .expect(200)
        .json()
        .as_array()
        .unwrap()
        .is_empty());

    // Admin creates a token over the API: it works at once.
    s.post(
        "/v1/tokens",
        t.admin.as_str(),
        &json!({"role": "curator", "name": " "}),
    )
    .expect_error(400, "invalid_name");
    let r = s.post(
        "/v1/tokens",
        t.admin.as_str(),
        &json!({"role": "wizard", "name": "x"}),
    );
    assert!(r.status == 400 || r.status == 422, "{}", r.text());
    let created = s
        .post(
            "/v1/tokens",
            t.admin.as_str(),
            &json!({"role": "curator", "name": "carol"}),
        )
        .expect(201)
        .json();
    let carol = created["token"]
        .as_str()
        .expect("secret shown once")
        .to_string();
    let carol_id = created["id"].as_str().unwrap().to_string();
    assert_eq!(created["role"], "curator");
    s.post(
        "/v1/banks",
        &carol,
        &json!({"name": "carols", "category": CAT_CSAM}),
    )
    .expect(201);
    // Listed without secrets.
    let list = s.get("/v1/tokens", &t.auditor).expect(200).json();
    let rows = list.as_array().unwrap();
    assert!(rows.iter().any(|r| r["id"] == carol_id.as_str()));
    assert!(rows.iter().all(|r| r.get("token").is_none()), "{list}");
    assert!(!list.to_string().contains(&carol));

    // Revoked: stops working at once; a second revoke is 404.
    s.delete(&format!("/v1/tokens/{carol_id}"), &t.admin)
        .expect(204);
    s.get("/v1/banks", &carol).expect_error(401, "unauthorized");
    s.delete(&format!("/v1/tokens/{carol_id}"), &t.admin)
        .expect_error(404, "token_not_found");
    let list = s.get("/v1/tokens", &t.admin).expect(200).json();
    let row = list
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == carol_id.as_str())
        .unwrap()
        .clone();
    assert!(row["revoked_at"].is_string(), "{row}");

    // A token created straight in the store while serving (`candor token create`) works.
    let direct = s
        .block_on(candor_server::routes::tokens::create_token(
            &s.app().store,
            candor_server::auth::Role::Auditor,
            "late",
        ))
        .unwrap()
        .token
        .unwrap();
    s.get("/v1/banks", &direct).expect(200);
}

#[test]
fn banks_crud_and_threshold() {
    let s = TestServer::start();
    let cur = &s.tokens.curator;

    let b = s.create_bank("terror", CAT_TERROR, 31);
    assert_eq!(b["name"], "terror");
    assert_eq!(b["category"], CAT_TERROR);
    assert_eq!(b["pdq_threshold"], 31);
    assert_eq!(b["enabled"], true);
    assert_eq!(b["provenance"], "own_review");
    assert_eq!(b["content_count"], 0);

    s.post(
        "/v1/banks",
        cur,
        &json!({"name": "terror", "category": CAT_TERROR}),
    )
    .expect_error(409, "conflict");
    for bad in ["Terror", "", "-x", "a b", &"x".repeat(65)] {
        s.post(
            "/v1/banks",
            cur,
            &json!({"name": bad, "category": CAT_TERROR}),
        )
        .expect_error(400, "invalid_name");
    }
    s.post(
        "/v1/banks",
        cur,
        &json!({"name": "x1", "category": "TERROR"}),
    )
    .expect_error(400, "invalid_value");
    s.post(
        "/v1/banks",
        cur,
        &json!({"name": "x2", "category": CAT_TERROR, "pdq_threshold": 257}),
    )
    .expect_error(400, "invalid_threshold");
    s.post(
        "/v1/banks",
        cur,
        &json!({"name": "x3", "category": CAT_TERROR, "provenance": "imported"}),
    )
    .expect_error(400, "invalid_provenance");
    s.post("/v1/banks", cur, &json!({"name": "x4"}))
        .expect_error(422, "invalid_json");
    let imported = s
        .post(
            "/v1/banks",
            cur,
            &json!({"name": "list", "category": CAT_CSAM, "provenance": "imported", "list_name": "hotline"}),
        )
        .expect(201)
        .json();
    assert_eq!(imported["provenance"], "imported:hotline");

    let list = s.get("/v1/banks", &s.tokens.reviewer).expect(200).json();
    let names: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["list", "terror"]);
    s.get("/v1/banks/terror", &s.tokens.auditor).expect(200);
    s.get("/v1/banks/nope", cur)
        .expect_error(404, "bank_not_found");

    // Threshold and enabled take effect in lookup at once.
    let h = needles()[3].clone();
    let cid = s.add_pdq("terror", &h);
    assert_eq!(s.get("/v1/banks/terror", cur).json()["content_count"], 1);
    let q = flip_bits(&h, 20);
    let m = s.lookup_pdq(&q);
    assert_eq!(m.len(), 1, "{m:?}");
    assert_eq!(m[0]["content_id"], cid.as_str());
    assert_eq!(m[0]["distance"], 20);
    assert_eq!(m[0]["bank"], "terror");
    assert_eq!(m[0]["bank_category"], CAT_TERROR);

    let u = s
        .patch("/v1/banks/terror", cur, &json!({"pdq_threshold": 10}))
        .expect(200)
        .json();
    assert_eq!(u["pdq_threshold"], 10);
    assert!(s.lookup_pdq(&q).is_empty());
    assert_eq!(s.lookup_pdq(&flip_bits(&h, 10)).len(), 1);
    assert!(s.lookup_pdq(&flip_bits(&h, 11)).is_empty());
    s.patch("/v1/banks/terror", cur, &json!({"pdq_threshold": 300}))
        .expect_error(400, "invalid_threshold");
    s.patch("/v1/banks/terror", cur, &json!({"category": "nope"}))
        .expect_error(400, "invalid_value");
    s.patch("/v1/banks/nope", cur, &json!({"enabled": false}))
        .expect_error(404, "bank_not_found");

    s.patch("/v1/banks/terror", cur, &json!({"enabled": false}))
        .expect(200);
    assert!(s.lookup_pdq(&h).is_empty(), "disabled bank still matches");
    s.patch("/v1/banks/terror", cur, &json!({"enabled": true}))
        .expect(200);
    assert_eq!(s.lookup_pdq(&h).len(), 1);

    // Delete: stops matching; gone.
    s.delete("/v1/banks/terror", cur).expect(204);
    assert!(s.lookup_pdq(&h).is_empty(), "deleted bank still matches");
    s.get("/v1/banks/terror", cur)
        .expect_error(404, "bank_not_found");
    s.delete("/v1/banks/terror", cur)
        .expect_error(404, "bank_not_found");

    // Every change above is logged and the log verifies.
    let report = s.verify_log(None);
    assert_eq!(report.numbers.banks.create, 2);
    assert_eq!(report.numbers.banks.delete, 1);
    assert_eq!(report.numbers.banks.update, 3);
}

#[test]
fn bank_content_pagination_retraction() {
    let s = TestServer::start();
    let cur = &s.tokens.curator;
    s.create_bank("terror", CAT_TERROR, 31);
    let bank = "/v1/banks/terror/content";

    // Bad signals.
    s.post(bank, cur, &json!({"pdq": "zz"}))
        .expect_error(400, "invalid_signal");
    s.post(bank, cur, &json!({"md5": "abcd"}))
        .expect_error(400, "invalid_signal");
    s.post(bank, cur, &json!({"note": "nothing"}))
        .expect_error(400, "no_signals");
    s.post("/v1/banks/nope/content", cur, &json!({"pdq": needles()[0]}))
        .expect_error(404, "bank_not_found");

    // JSON signals.
    let hs = needles();
    let mut ids = Vec::new();
    for h in &hs[..5] {
        ids.push(s.add_pdq("terror", h));
    }
    let md5 = "0123456789abcdef0123456789abcdef";
    let c = s
        .post(bank, cur, &json!({"md5": md5, "note": "exact"}))
        .expect(201)
        .json();
    assert_eq!(c["signals"][0]["signal"], "md5");
    assert_eq!(c["signals"][0]["value"], md5);
    ids.push(c["id"].as_str().unwrap().to_string());

    // Upload (raw body): PDQ + MD5 + SHA-1 + SHA-256 of the image.
    let img = image_bytes(EXIF8);
    let up = s
        .post_raw(bank, cur, "image/jpeg", img.clone())
        .expect(201)
        .json();
    let kinds: Vec<&str> = up["signals"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["signal"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["pdq", "md5", "sha1", "sha256"]);
    ids.push(up["id"].as_str().unwrap().to_string());
    let sha = up["signals"][3]["value"].as_str().unwrap().to_string();
    let got = s
        .get(&format!("/v1/lookup?sha256={sha}"), &s.tokens.platform)
        .expect(200)
        .json();
    assert_eq!(got["matches"][0]["content_id"], up["id"]);
    // SHA-1: the upload's, looked up alone; and content added by its SHA-1 (an NCMEC list).
    let sha1 = up["signals"][2]["value"].as_str().unwrap().to_string();
    assert_eq!(sha1.len(), 40);
    let got = s
        .get(&format!("/v1/lookup?sha1={sha1}"), &s.tokens.platform)
        .expect(200)
        .json();
    assert_eq!(got["matches"][0]["content_id"], up["id"]);
    assert_eq!(got["matches"][0]["signal"], "sha1");
    let listed = "a9993e364706816aba3e25717850c26c9cd0d89d";
    let c = s
        .post(bank, cur, &json!({"sha1": listed}))
        .expect(201)
        .json();
    assert_eq!(c["signals"][0]["signal"], "sha1");
    ids.push(c["id"].as_str().unwrap().to_string());
    let got = s
        .get(
            &format!("/v1/lookup?sha1={}", listed.to_uppercase()),
            &s.tokens.platform,
        )
        .expect(200)
        .json();
    assert_eq!(got["matches"][0]["content_id"], c["id"]);
    s.get("/v1/lookup?sha1=a9993e", &s.tokens.platform)
        .expect_error(400, "invalid_signal");

    // Pagination.
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let path = match &cursor {
            None => format!("{bank}?limit=3"),
            Some(c) => format!("{bank}?limit=3&cursor={c}"),
        };
        let p = s.get(&path, &s.tokens.auditor).expect(200).json();
        let items = p["items"].as_array().unwrap();
        assert!(items.len() <= 3);
        seen.extend(items.iter().map(|i| i["id"].as_str().unwrap().to_string()));
        pages += 1;
        match p.get("next").and_then(Value::as_str) {
            Some(n) => cursor = Some(n.to_string()),
            None => break,
        }
        assert!(pages < 10, "pagination does not end");
    }
    assert_eq!(seen, ids, "every content once, oldest first");
    s.get(&format!("{bank}?cursor=abc"), cur)
        .expect_error(400, "invalid_cursor");

    // Retraction: stops matching at once, recorded, final.
    let (h0, id0) = (&hs[0], &ids[0]);
    assert_eq!(s.lookup_pdq(h0).len(), 1);
    let path = format!("{bank}/{id0}/retract");
    s.post(&path, cur, &json!({"reason": "  "}))
        .expect_error(400, "reason_required");
    s.post(&path, &s.tokens.platform, &json!({"reason": "x"}))
        .expect_error(403, "forbidden");
    let r = s
        .post(&path, cur, &json!({"reason": "withdrawn by the source"}))
        .expect(200)
        .json();
    assert!(
        s.lookup_pdq(h0).is_empty(),
        "retracted content still matches"
    );
    assert!(r["retracted_at"].is_string(), "{r}");
    assert_eq!(r["retraction_reason"], "withdrawn by the source");
    assert_eq!(r["enabled"], false);
    let again = s.get(&format!("{bank}/{id0}"), cur).expect(200).json();
    assert_eq!(again["retraction_reason"], "withdrawn by the source");
    s.post(&path, cur, &json!({"reason": "again"}))
        .expect_error(409, "conflict");
    // Retracted content cannot be re-enabled.
    s.patch(&format!("{bank}/{id0}"), cur, &json!({"enabled": true}))
        .expect_error(409, "conflict");
    s.post(
        &format!("{bank}/nope/retract"),
        cur,
        &json!({"reason": "x"}),
    )
    .expect_error(404, "content_not_found");
    s.patch(&format!("{bank}/nope"), cur, &json!({"enabled": false}))
        .expect_error(404, "content_not_found");
    assert_eq!(s.get("/v1/banks/terror", cur).json()["content_count"], 7);

    // Disable / enable (reversible).
    let (h1, id1) = (&hs[1], &ids[1]);
    let d = s
        .patch(&format!("{bank}/{id1}"), cur, &json!({"enabled": false}))
        .expect(200)
        .json();
    assert_eq!(d["enabled"], false);
    assert!(s.lookup_pdq(h1).is_empty());
    s.patch(&format!("{bank}/{id1}"), cur, &json!({"enabled": true}))
        .expect(200);
    assert_eq!(s.lookup_pdq(h1).len(), 1);

    let n = s.verify_log(None).numbers;
    assert_eq!(n.bank_changes.retract, 1);
    assert_eq!(n.bank_changes.disable, 1);
    assert_eq!(n.bank_changes.enable, 1);
    // 5 PDQ, 1 MD5, the upload's 4 signals, 1 SHA-1.
    assert_eq!(n.bank_changes.add, 5 + 1 + 4 + 1);
}

#[test]
fn import_and_lookup_by_hash() {
    let s = TestServer::start();
    let cur = &s.tokens.curator;
    s.create_bank("hay", CAT_TERROR, 31);
    let hay = haystack();
    assert!(hay.len() >= 1000);
    let size0 = s.log_size();

    // A malformed line anywhere: 400, nothing imported.
    let mut bad = hay[..500].join("\n");
    bad.push_str("\nnot-a-hash\n");
    bad.push_str(&hay[500..600].join("\n"));
    let r = s
        .post_raw("/v1/banks/hay/import", cur, "text/plain", bad.into_bytes())
        .expect_error(400, "invalid_import");
    assert!(r.json()["error"]["message"]
        .as_str()
        .unwrap()
        .contains("501"));
    s.post_raw(
        "/v1/banks/hay/import",
        cur,
        "text/plain",
        b"md6 00\n".to_vec(),
    )
    .expect_error(400, "invalid_import");
    assert_eq!(s.get("/v1/banks/hay", cur).json()["content_count"], 0);
    assert_eq!(s.log_size(), size0, "a refused import wrote to the log");

    // The whole haystack (with comments, blanks and an explicit `pdq` prefix).
    let mut body = String::from("# the haystack\n\n");
    for (i, h) in hay.iter().enumerate() {
        if i % 2 == 0 {
            body.push_str(&format!("pdq {h}\n"));
        } else {
            body.push_str(&format!("{h}\n"));
        }
    }
    let r = s
        .post_raw("/v1/banks/hay/import", cur, "text/plain", body.into_bytes())
        .expect(200)
        .json();
    assert_eq!(r["imported"], hay.len());
    assert_eq!(
        s.get("/v1/banks/hay", cur).json()["content_count"],
        hay.len()
    );
    assert_eq!(
        r["last_log_index"].as_u64().unwrap() - r["first_log_index"].as_u64().unwrap() + 1,
        hay.len() as u64
    );

    // Every needle finds exactly the haystack entries within 31 (brute force), with the right
    // distances.
    let needles = needles();
    for n in needles.iter().take(25) {
        let mut want: Vec<u32> = hay
            .iter()
            .map(|h| distance(n, h))
            .filter(|d| *d <= 31)
            .collect();
        want.sort_unstable();
        assert!(!want.is_empty());
        let got = s.lookup_pdq(n);
        let dists: Vec<u32> = got
            .iter()
            .map(|m| m["distance"].as_u64().unwrap() as u32)
            .collect();
        assert_eq!(dists, want, "needle {n}");
        // The best match is the haystack entry at that distance.
        let c = s
            .get(
                &format!(
                    "/v1/banks/hay/content/{}",
                    got[0]["content_id"].as_str().unwrap()
                ),
                cur,
            )
            .expect(200)
            .json();
        let value = c["signals"][0]["value"].as_str().unwrap();
        assert_eq!(distance(n, value), want[0]);
        assert!(hay.iter().any(|h| h == value));
        assert_eq!(c["provenance"], "own_review");
    }

    // Lookup input errors.
    let p = &s.tokens.platform;
    s.get("/v1/lookup?pdq=xyz", p)
        .expect_error(400, "invalid_signal");
    s.get(&format!("/v1/lookup?pdq={}", &hay[0][..62]), p)
        .expect_error(400, "invalid_signal");
    s.get("/v1/lookup?md5=1234", p)
        .expect_error(400, "invalid_signal");
    s.get("/v1/lookup?sha256=00", p)
        .expect_error(400, "invalid_signal");
    s.get("/v1/lookup", p).expect_error(400, "no_signals");
    let many = vec![hay[0].clone(); 17].join(",");
    s.get(&format!("/v1/lookup?pdq={many}"), p)
        .expect_error(400, "too_many_hashes");
}

#[test]
fn lookup_distance_digests_and_uploads() {
    let s = TestServer::start();
    let cur = &s.tokens.curator;
    let p = &s.tokens.platform;
    s.create_bank("b", CAT_TERROR, 31);

    // PDQ distance semantics: <= threshold matches, > threshold does not.
    let h = needles()[10].clone();
    let cid = s.add_pdq("b", &h);
    for d in [0usize, 1, 30, 31] {
        let m = s.lookup_pdq(&flip_bits(&h, d));
        assert_eq!(m.len(), 1, "distance {d}");
        assert_eq!(m[0]["distance"], d);
        assert_eq!(m[0]["content_id"], cid.as_str());
        assert_eq!(m[0]["signal"], "pdq");
    }
    assert!(s.lookup_pdq(&flip_bits(&h, 32)).is_empty());
    assert!(s.lookup_pdq(&flip_bits(&h, 64)).is_empty());
    // Several PDQ hashes in one query: the best per content.
    let both = format!("{},{}", flip_bits(&h, 32), flip_bits(&h, 5));
    let m = s.lookup_pdq(&both);
    assert_eq!(m.len(), 1);
    assert_eq!(m[0]["distance"], 5);

    // Upload an image to the bank; look it up by upload (raw and multipart), by digests.
    let img = image_bytes(EXIF8);
    let up = s
        .post_raw(
            "/v1/banks/b/content",
            cur,
            "application/octet-stream",
            img.clone(),
        )
        .expect(201)
        .json();
    let img_id = up["id"].as_str().unwrap().to_string();
    let md5 = up["signals"][1]["value"].as_str().unwrap().to_string();
    assert_eq!(up["signals"][2]["signal"], "sha1");
    let sha = up["signals"][3]["value"].as_str().unwrap().to_string();
    let pdq = up["signals"][0]["value"].as_str().unwrap().to_string();
    assert!(up["signals"][0]["quality"].as_u64().is_some());

    for r in [
        s.post_raw("/v1/lookup", p, "image/jpeg", img.clone()),
        s.post_multipart("/v1/lookup", p, &[("file", Some("a.jpg"), &img)]),
    ] {
        let v = r.expect(200).json();
        assert_eq!(v["signals"]["md5"], md5.as_str());
        assert_eq!(v["signals"]["sha256"], sha.as_str());
        assert_eq!(v["signals"]["sha1"].as_str().unwrap().len(), 40);
        assert_eq!(v["signals"]["pdq"], pdq.as_str());
        let of_img: Vec<&Value> = v["matches"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|m| m["content_id"] == img_id.as_str())
            .collect();
        let mut kinds: Vec<&str> = of_img
            .iter()
            .map(|m| m["signal"].as_str().unwrap())
            .collect();
        kinds.sort_unstable();
        assert_eq!(kinds, ["md5", "pdq", "sha1", "sha256"], "{v}");
        let pm = of_img.iter().find(|m| m["signal"] == "pdq").unwrap();
        assert_eq!(pm["distance"], 0);
        assert_eq!(pm["orientation"], "orig");
    }
    s.post_multipart("/v1/lookup", p, &[("other", None, b"x")])
        .expect_error(400, "missing_file");
    s.post_raw("/v1/lookup", p, "image/jpeg", Vec::new())
        .expect_error(400, "empty_upload");
    let v = s
        .get(&format!("/v1/lookup?md5={md5}"), p)
        .expect(200)
        .json();
    assert_eq!(v["matches"][0]["content_id"], img_id.as_str());
    assert_eq!(v["matches"][0]["signal"], "md5");
    let v = s
        .get(&format!("/v1/lookup?sha256={sha}&md5={md5}"), p)
        .expect(200)
        .json();
    assert_eq!(v["matches"].as_array().unwrap().len(), 2);

    // Rotated 90° (PNG): matches through a dihedral variant, not the original orientation.
    let rot = rotate90_png(&img);
    let v = s
        .post_raw("/v1/lookup?trimmed=false", p, "image/png", rot.clone())
        .expect(200)
        .json();
    let pm: Vec<&Value> = v["matches"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["content_id"] == img_id.as_str())
        .collect();
    assert_eq!(pm.len(), 1, "{v}");
    assert_eq!(pm[0]["signal"], "pdq");
    assert!(pm[0]["distance"].as_u64().unwrap() <= 31);
    let o = pm[0]["orientation"].as_str().unwrap();
    assert!(o != "orig", "orientation {o}");
    assert!(distance(v["signals"]["pdq"].as_str().unwrap(), &pdq) > 31);
    // Without dihedral matching it is not found.
    let v = s
        .post_raw(
            "/v1/lookup?dihedral=false&trimmed=false",
            p,
            "image/png",
            rot,
        )
        .expect(200)
        .json();
    assert!(
        v["matches"]
            .as_array()
            .unwrap()
            .iter()
            .all(|m| m["content_id"] != img_id.as_str()),
        "{v}"
    );

    // Not an image: digests only.
    let text = b"just some text, not an image at all\n".to_vec();
    let t = s
        .post_raw("/v1/banks/b/content", cur, "text/plain", text.clone())
        .expect(201)
        .json();
    let kinds: Vec<&str> = t["signals"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["signal"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["md5", "sha1", "sha256"]);
    let v = s
        .post_raw("/v1/lookup", p, "text/plain", text)
        .expect(200)
        .json();
    assert!(v["signals"].get("pdq").is_none(), "{v}");
    let ms = v["matches"].as_array().unwrap();
    assert_eq!(ms.len(), 3);
    assert!(ms.iter().all(|m| m["content_id"] == t["id"]));

    // A truncated JPEG: hashed as far as it goes (as a browser shows it), never a 5xx.
    let cut = img[..img.len() / 2].to_vec();
    let r = s.post_raw("/v1/lookup", p, "image/jpeg", cut);
    assert!(
        r.status == 200 || r.status == 400,
        "{} {}",
        r.status,
        r.text()
    );
    if r.status == 200 {
        let v = r.json();
        assert!(v["signals"]["pdq"].is_string(), "{v}");
        assert_eq!(v["signals"]["truncated"], true, "{v}");
    }
}
