//! The HMA-compatible routes (`/m/…`, `/h/hash`) answer like HMA, over the same index.

mod common;

use common::*;
use serde_json::json;

#[test]
fn hma_compatible_matching_and_hashing() {
    let s = TestServer::start();
    let t = &s.tokens;
    s.create_bank("hma-bank", CAT_TERROR, 31);
    let hay = haystack();
    let id = s.add_pdq("hma-bank", &hay[0]);
    let near = flip_bits(&hay[0], 5);

    // raw_lookup: ids, or ids with distances.
    let r = s
        .get(
            &format!("/m/raw_lookup?signal_type=pdq&signal={near}"),
            &t.platform,
        )
        .expect(200)
        .json();
    assert_eq!(r, json!({"matches": [id]}));
    let r = s
        .get(
            &format!("/m/raw_lookup?signal_type=pdq&signal={near}&include_distance=true"),
            &t.platform,
        )
        .expect(200)
        .json();
    assert_eq!(r, json!({"matches": [{"content_id": id, "distance": "5"}]}));
    let far = flip_bits(&hay[0], 40);
    let r = s
        .get(
            &format!("/m/raw_lookup?signal_type=pdq&signal={far}"),
            &t.platform,
        )
        .expect(200)
        .json();
    assert_eq!(r, json!({"matches": []}));

    // lookup by hash: bank names.
    let r = s
        .get(
            &format!("/m/lookup?signal_type=pdq&signal={near}"),
            &t.platform,
        )
        .expect(200)
        .json();
    assert_eq!(r, json!(["hma-bank"]));

    // Errors: unknown type, missing signal, URL fetching refused, no token, wrong role.
    s.get("/m/raw_lookup?signal_type=tmk&signal=00", &t.platform)
        .expect_error(400, "invalid_signal_type");
    s.get("/m/raw_lookup?signal_type=pdq", &t.platform)
        .expect_error(400, "missing_param");
    // Fetching by URL is off unless the operator turns it on (tests/fetch_url.rs).
    s.get("/m/lookup?url=http://169.254.169.254/", &t.platform)
        .expect_error(403, "fetch_disabled");
    s.get("/m/raw_lookup?url=http://169.254.169.254/", &t.platform)
        .expect_error(400, "url_not_supported");
    s.get("/m/raw_lookup?signal_type=pdq&signal=00", "")
        .expect_error(401, "unauthorized");
    s.get("/m/index/status", &t.admin)
        .expect_error(403, "forbidden");

    // An image: /h/hash gives its PDQ (as /v1/lookup computes it); after adding the image to a
    // bank, POST /m/lookup names the bank for pdq, md5 and sha256.
    let img = image_bytes(EXIF8);
    let h = s
        .post_multipart("/h/hash", &t.platform, &[("photo", Some("a.jpg"), &img)])
        .expect(200)
        .json();
    let v1 = s
        .post_raw(
            "/v1/lookup",
            &t.platform,
            "application/octet-stream",
            img.clone(),
        )
        .expect(200)
        .json();
    assert_eq!(h["pdq"], v1["signals"]["pdq"]);
    assert_eq!(h["md5"], v1["signals"]["md5"]);
    s.post_raw(
        "/v1/banks/hma-bank/content",
        &t.curator,
        "image/jpeg",
        img.clone(),
    )
    .expect(201);
    let m = s
        .post_multipart("/m/lookup", &t.platform, &[("photo", Some("a.jpg"), &img)])
        .expect(200)
        .json();
    assert_eq!(
        m,
        json!({"md5": ["hma-bank"], "pdq": ["hma-bank"], "sha256": ["hma-bank"]})
    );

    // md5 lookup also under HMA's name for it.
    let md5 = h["md5"].as_str().unwrap();
    let r = s
        .get(
            &format!("/m/lookup?signal_type=video_md5&signal={md5}"),
            &t.platform,
        )
        .expect(200)
        .json();
    assert_eq!(r, json!(["hma-bank"]));

    let st = s.get("/m/index/status", &t.platform).expect(200).json();
    assert_eq!(st["pdq"]["size"], json!(2));
    assert_eq!(st["pdq"]["present"], json!(true));
    assert_eq!(st["md5"]["size"], json!(1));
}
