//! The transparency log over HTTP, numbers, policies, restarts, OpenAPI, and the invariant
//! that content bytes are never written.

mod common;

use common::*;
use serde_json::json;

#[test]
fn log_numbers_policies_and_restart() {
    let mut s = TestServer::start();
    let (cur, p) = (s.tokens.curator.clone(), s.tokens.platform.clone());
    let empty_size = s.log_size();
    assert!(empty_size >= 3, "the policies file's 3 policies are logged");
    let first_note = s.get("/log/checkpoint", "").expect(200).body;

    s.create_bank("terror", CAT_TERROR, 31);
    let h = needles()[40].clone();
    s.add_pdq("terror", &h);
    let img = image_bytes(EXIF8);
    let up = s
        .post_raw("/v1/banks/terror/content", &cur, "image/jpeg", img.clone())
        .expect(201)
        .json();
    let img_id = up["id"].as_str().unwrap().to_string();
    for (i, (acc, j)) in [("a", "DE"), ("b", "US"), ("c", "FR")].iter().enumerate() {
        s.scan(&json!({
            "context": context(&format!("x-{i}"), "direct", ("snd", "US"), &[(acc, j)]),
            "signals": {"pdq": h},
        }))
        .expect(200);
    }

    // Policies: replace over the API (curator), logged, validated.
    let before = s.get("/v1/policies", "").json();
    s.put(
        "/v1/policies",
        &cur,
        &json!({"policies": [{"id": "Bad Id"}]}),
    )
    .expect_error(400, "invalid_policy");
    s.request(
        "PUT",
        "/v1/policies",
        &cur,
        Some(("application/json", b"{".to_vec())),
    )
    .expect_error(400, "invalid_policy");
    assert_eq!(s.get("/v1/policies", "").json(), before);
    let mut set = before.clone();
    set["policies"][1]["jurisdictions"] = json!(["DE", "FR", "AT"]);
    set["policies"].as_array_mut().unwrap().remove(0);
    let put = s.put("/v1/policies", &cur, &set).expect(200).json();
    assert_eq!(put["policies"].as_array().unwrap().len(), 2);
    assert_eq!(
        put["policies"][0]["jurisdictions"],
        json!(["DE", "FR", "AT"])
    );
    let r = s
        .scan(&json!({
            "context": context("x-at", "direct", ("snd", "US"), &[("au", "AT")]),
            "signals": {"pdq": h},
        }))
        .expect(200)
        .json();
    assert_eq!(
        action_of(&r, "au"),
        "withhold",
        "the new policy applies at once"
    );

    // Checkpoint, key, tiles, entries; numbers = recomputed from the entries.
    let cp = s.checkpoint();
    assert_eq!(cp.origin, "localhost/candor");
    let size = cp.size;
    assert!(size > empty_size && size < 256);
    let tile = s.get(&format!("/log/tile/0/000.p/{size}"), "").expect(200);
    assert_eq!(tile.body.len() as u64, 32 * size);
    assert_eq!(tile.content_type, "application/octet-stream");
    s.get(&format!("/log/tile/0/000.p/{}", size + 1), "")
        .expect_error(404, "no_such_tile");
    s.get("/log/tile/0/000", "")
        .expect_error(404, "no_such_tile");
    s.get("/log/tile/0/0", "").expect_error(404, "no_such_tile");
    s.get(&format!("/log/tile/entries/000.p/{}", size + 1), "")
        .expect_error(404, "no_such_tile");
    let entries = s.log_entries();
    let recomputed = candor_log::numbers::Numbers::from_entries(&entries);
    let published = s.numbers();
    assert_eq!(serde_json::to_value(&recomputed).unwrap(), published);
    assert_eq!(s.get("/log/numbers", "").json(), published);
    assert_eq!(recomputed.decisions.total, 4);
    assert_eq!(recomputed.decisions.by_policy["terror-eu"], 3);
    assert_eq!(recomputed.decisions.by_policy["terror-review"], 1);
    assert_eq!(recomputed.decisions.by_jurisdiction["DE"], 1);
    assert_eq!(recomputed.decisions.by_jurisdiction["FR"], 1);
    assert_eq!(recomputed.decisions.by_jurisdiction["AT"], 1);
    assert_eq!(recomputed.decisions.by_jurisdiction["US"], 1);
    assert_eq!(recomputed.decisions.by_surface["direct"], 4);
    assert_eq!(recomputed.decisions.automated, 4);
    assert_eq!(recomputed.decisions.human, 0);
    // 3 policies and the sampling settings at first start, then 2 changes.
    assert_eq!(recomputed.policy_changes, 3 + 1 + 2);
    let sampling: Vec<_> = entries
        .iter()
        .filter_map(|e| match &e.body {
            candor_log::entry::EntryBody::PolicyChange(p)
                if p.policy == candor_log::entry::SAMPLING_POLICY =>
            {
                Some(p.private_surfaces)
            }
            _ => None,
        })
        .collect();
    assert_eq!(
        sampling,
        vec![Some(false)],
        "the sampling settings are logged once"
    );
    assert_eq!(put["sampling"]["private_surfaces"], false);
    assert!(put["lints"].is_array(), "{put}");
    let rep = s.verify_log(Some(&first_note));
    assert_eq!(rep.size, size);

    // A token revoked before the restart stays revoked after it.
    let gone = s
        .post(
            "/v1/tokens",
            &s.tokens.admin,
            &json!({"role": "auditor", "name": "gone"}),
        )
        .expect(201)
        .json();
    s.delete(
        &format!("/v1/tokens/{}", gone["id"].as_str().unwrap()),
        &s.tokens.admin,
    )
    .expect(204);
    let gone = gone["token"].as_str().unwrap().to_string();

    // Restart on the same data directory.
    let old_note = s.get("/log/checkpoint", "").expect(200).body;
    let tokens_before = s.get("/v1/tokens", &s.tokens.admin).json();
    let banks_before = s.get("/v1/banks", &cur).json();
    s.restart();
    assert_eq!(s.get("/log/checkpoint", "").body, old_note);
    assert_eq!(
        s.get("/v1/tokens", &s.tokens.admin).expect(200).json(),
        tokens_before
    );
    assert_eq!(s.get("/v1/banks", &cur).expect(200).json(), banks_before);
    s.get("/v1/banks", &gone).expect_error(401, "unauthorized");
    assert_eq!(s.get("/v1/policies", "").json(), put);
    assert_eq!(s.numbers(), published);
    s.verify_log(Some(&old_note));
    // Bank content from before the restart still matches, by hash and by upload.
    assert_eq!(s.lookup_pdq(&flip_bits(&h, 3)).len(), 1);
    let v = s
        .post_raw("/v1/lookup", &p, "image/jpeg", img)
        .expect(200)
        .json();
    assert_eq!(
        v["matches"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|m| m["content_id"] == img_id.as_str())
            .count(),
        4,
        "pdq, md5, sha1 and sha256 of the uploaded content"
    );
    // And the log grows consistently after the restart.
    let r = s
        .scan(&json!({
            "context": context("after", "direct", ("snd", "US"), &[("d", "DE")]),
            "signals": {"pdq": h},
        }))
        .expect(200)
        .json();
    assert_eq!(action_of(&r, "d"), "withhold");
    let rep = s.verify_log(Some(&old_note));
    assert_eq!(rep.size, size + 1);
    assert_eq!(rep.numbers.decisions.total, 5);
    assert_eq!(serde_json::to_value(&rep.numbers).unwrap(), s.numbers());
}

#[test]
fn content_bytes_are_never_stored() {
    let s = TestServer::start();
    let (cur, p) = (s.tokens.curator.clone(), s.tokens.platform.clone());
    s.create_bank("terror", CAT_TERROR, 31);

    // A PNG with 64 random bytes after IEND: still decodes, and the marker is unique.
    let mut marker = [0u8; 64];
    rand::RngCore::fill_bytes(&mut rand::rng(), &mut marker);
    let mut img = image_bytes(SYNTH_PNG);
    img.extend_from_slice(&marker);
    // Also a distinctive run of the image itself (its IDAT data).
    let idat = img.windows(4).position(|w| w == b"IDAT").expect("IDAT") + 4;
    let inner = img[idat..idat + 64].to_vec();

    let up = s
        .post_raw("/v1/banks/terror/content", &cur, "image/png", img.clone())
        .expect(201)
        .json();
    assert_eq!(
        up["signals"][0]["signal"], "pdq",
        "the marked PNG decodes: {up}"
    );
    s.post_raw("/v1/lookup", &p, "image/png", img.clone())
        .expect(200);
    s.post_multipart("/v1/lookup", &p, &[("file", Some("m.png"), &img)])
        .expect(200);
    let ctx = context("marked", "direct", ("snd", "US"), &[("rcp", "US")]).to_string();
    let r = s
        .post_multipart(
            "/v1/scan",
            &p,
            &[
                ("context", None, ctx.as_bytes()),
                ("file", Some("m.png"), &img),
            ],
        )
        .expect(200)
        .json();
    assert_eq!(action_of(&r, "rcp"), "hold_for_review");
    // Held: a review item exists; confirm it into a bank (only hashes move).
    let item = r["decisions"][0]["review_item"]
        .as_str()
        .unwrap()
        .to_string();
    s.post(
        &format!("/v1/review/{item}/confirm"),
        &s.tokens.reviewer,
        &json!({"add_to_bank": "terror"}),
    )
    .expect(200);

    let files = files_under(&s.dir);
    assert!(files.iter().any(|f| f.to_string_lossy().ends_with("-wal")
        || f.extension().is_some_and(|e| e == "db" || e == "sqlite")));
    for f in &files {
        let bytes = std::fs::read(f).unwrap();
        for (what, needle) in [("marker", &marker[..]), ("image data", &inner[..])] {
            assert!(
                !bytes.windows(needle.len()).any(|w| w == needle),
                "{what} of the upload found in {}",
                f.display()
            );
        }
    }
    // Nothing outside the data directory's known files either.
    for f in &files {
        let name = f.file_name().unwrap().to_string_lossy().to_string();
        assert!(
            name == candor_server::KEY_FILE || name.starts_with("candor.db"),
            "unexpected file in the data directory: {name}"
        );
    }
}

#[test]
fn openapi_and_metrics() {
    let s = TestServer::start();
    let r = s.get("/openapi.json", "").expect(200);
    let api = r.json();
    let paths = api["paths"].as_object().expect("paths");
    for p in [
        "/v1/scan",
        "/v1/banks",
        "/v1/banks/{bank}/content",
        "/v1/lookup",
        "/v1/appeals",
        "/v1/review",
        "/log/checkpoint",
        "/log/key",
    ] {
        assert!(paths.contains_key(p), "openapi lacks {p}");
    }
    assert!(api["components"]["securitySchemes"]["bearer"].is_object());
    let docs = s.get("/docs/", "").expect(200);
    assert!(docs.text().to_lowercase().contains("swagger"));
    s.get("/no/such/route", "").expect_error(404, "not_found");
    // Metrics after some traffic.
    s.get("/healthz", "").expect(200);
    let m = s.get("/metrics", "").expect(200).text();
    assert!(m.contains("candor_http_requests_total"), "{m}");
}

#[test]
fn concurrent_scans_group_commit() {
    let s = TestServer::start();
    s.create_bank("terror", CAT_TERROR, 31);
    let h = needles()[50].clone();
    s.add_pdq("terror", &h);
    let size0 = s.log_size();
    let (threads, per) = (4, 10);
    let indexes: Vec<u64> = std::thread::scope(|sc| {
        let hs: Vec<_> = (0..threads)
            .map(|t| {
                let (s, h) = (&s, &h);
                sc.spawn(move || {
                    (0..per)
                        .map(|i| {
                            let r = s
                                .scan(&json!({
                                    "context": context(&format!("c-{t}-{i}"), "direct", ("snd", "US"), &[("rcp", "DE")]),
                                    "signals": {"pdq": h},
                                }))
                                .expect(200)
                                .json();
                            assert_eq!(action_of(&r, "rcp"), "withhold");
                            r["decisions"][0]["log_index"].as_u64().unwrap()
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        hs.into_iter().flat_map(|h| h.join().unwrap()).collect()
    });
    let mut sorted = indexes.clone();
    sorted.sort_unstable();
    sorted.dedup();
    assert_eq!(sorted.len(), threads * per, "log indexes are unique");
    assert_eq!(s.log_size(), size0 + (threads * per) as u64);
    assert!(sorted
        .iter()
        .all(|i| *i >= size0 && *i < size0 + (threads * per) as u64));
    let rep = s.verify_log(None);
    assert_eq!(rep.numbers.decisions.total, (threads * per) as u64);
}
