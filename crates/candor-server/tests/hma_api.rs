//! HMA 2.0's API, route for route: every shape pinned against the bodies HMA returns, read
//! from facebook/ThreatExchange `hasher-matcher-actioner/src/OpenMediaMatch/` (commit
//! baefb4ed67b6): `blueprints/{curation,matching,hashing}.py`, `app.py`, `schemas/*.py` and
//! the tests `tests/test_api_banks.py`, `tests/test_api.py`, `tests/test_match_api.py`,
//! `tests/test_e2e_workflow.py` (named at each step). Where Candor differs on purpose the
//! step says why.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;

use candor_log::entry::{ChangeOp, ContentOp, EntryBody};
use common::*;
use serde_json::{json, Value};

/// A loopback origin: `/image1.jpg` (image/jpeg), `/clip.bin` (video/mp4, any bytes),
/// `/blob` (application/octet-stream).
fn origin(image: Vec<u8>) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let image = image.clone();
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut line = String::new();
                if reader.read_line(&mut line).is_err() {
                    return;
                }
                let path = line.split_whitespace().nth(1).unwrap_or("/").to_string();
                loop {
                    let mut h = String::new();
                    if reader.read_line(&mut h).is_err() || h == "\r\n" || h.is_empty() {
                        break;
                    }
                }
                let (ct, body) = match path.as_str() {
                    "/image1.jpg" => ("image/jpeg", image),
                    "/clip.bin" => ("video/mp4", b"not really a video".to_vec()),
                    _ => ("application/octet-stream", b"bytes".to_vec()),
                };
                let _ = write!(
                    stream,
                    "HTTP/1.1 200 OK\r\nContent-Type: {ct}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                let _ = stream.write_all(&body);
            });
        }
    });
    port
}

/// Distinct PDQ hashes far from each other (~128 bits apart): SHA-256 of a counter.
fn far_hashes(n: usize) -> Vec<String> {
    use sha2::Digest;
    (0..n)
        .map(|i| hex::encode(sha2::Sha256::digest(format!("hma-{i}").as_bytes())))
        .collect()
}

fn server() -> TestServer {
    TestServer::start_with(|c| {
        c.fetch.enabled = true;
        c.fetch.allow_hosts = vec!["127.0.0.1".into()];
        c.fetch.allow_networks = vec!["127.0.0.1/32".into()];
    })
}

fn put_json(s: &TestServer, path: &str, token: &str, v: &Value) -> Resp {
    s.put(path, token, v)
}

/// `tests/utils.py` `create_bank`: 201 and exactly `{"matching_enabled_ratio": 1.0, "name"}`.
fn create_bank(s: &TestServer, name: &str) {
    let r = s
        .post("/c/banks", &s.tokens.curator, &json!({"name": name}))
        .expect(201)
        .json();
    assert_eq!(r, json!({"matching_enabled_ratio": 1.0, "name": name}));
}

/// `POST /c/bank/<name>/signal` with one PDQ: 200 `{"id", "signals": {"pdq"}}`; the id.
fn add_pdq(s: &TestServer, bank: &str, pdq: &str) -> i64 {
    let r = s
        .post(
            &format!("/c/bank/{bank}/signal"),
            &s.tokens.curator,
            &json!({ "pdq": pdq }),
        )
        .expect(200)
        .json();
    let id = r["id"].as_i64().expect("integer id");
    assert_eq!(r, json!({"id": id, "signals": {"pdq": pdq}}));
    id
}

#[test]
fn banks_as_hma_answers_them() {
    let s = server();
    let t = &s.tokens;
    // test_api_banks.py test_banks_empty_index / test_banks_create.
    assert_eq!(s.get("/c/banks", &t.curator).expect(200).json(), json!([]));
    for bad in ["01_TEST_BANK", "my_test_bank", "A-B", ""] {
        s.post("/c/banks", &t.curator, &json!({ "name": bad }))
            .expect_message(400, "UPPER_WITH_UNDERSCORE");
    }
    create_bank(&s, "MY_TEST_BANK_01");
    assert_eq!(
        s.get("/c/banks", &t.curator).expect(200).json(),
        json!([{"matching_enabled_ratio": 1.0, "name": "MY_TEST_BANK_01"}])
    );
    // bank_create_impl: an existing name is 403 "Bank already exists".
    s.post("/c/banks", &t.curator, &json!({"name": "MY_TEST_BANK_01"}))
        .expect_message(403, "Bank already exists");
    // BankCreateRequest without a name: flask-openapi3's 422 with pydantic's error list.
    let v = s
        .post("/c/banks", &t.curator, &json!({}))
        .expect(422)
        .json();
    assert_eq!(v[0]["type"], "missing");
    assert_eq!(v[0]["loc"], json!(["name"]));
    let v = s
        .post("/c/banks", &t.curator, &json!({"name": 7}))
        .expect(422)
        .json();
    assert_eq!(v[0]["type"], "string_type");
    // enabled_ratio / enabled at creation.
    let r = s
        .post(
            "/c/banks",
            &t.curator,
            &json!({"name": "HALF", "enabled_ratio": 0.5}),
        )
        .expect(201)
        .json();
    assert_eq!(r, json!({"matching_enabled_ratio": 0.5, "name": "HALF"}));
    let r = s
        .post(
            "/c/banks",
            &t.curator,
            &json!({"name": "OFF", "enabled": false}),
        )
        .expect(201)
        .json();
    assert_eq!(r, json!({"matching_enabled_ratio": 0.0, "name": "OFF"}));
    s.post(
        "/c/banks",
        &t.curator,
        &json!({"name": "TOO", "enabled_ratio": 2.0}),
    )
    .expect_message(400, "enabled_ratio");
    // bank_show_by_name.
    assert_eq!(
        s.get("/c/bank/HALF", &t.curator).expect(200).json(),
        json!({"matching_enabled_ratio": 0.5, "name": "HALF"})
    );
    s.get("/c/bank/NOPE", &t.curator)
        .expect_message(404, "bank 'NOPE' not found");

    // test_banks_update: name validation, enable flags, ratio.
    put_json(
        &s,
        "/c/bank/MY_TEST_BANK_01",
        &t.curator,
        &json!({"name": "1_invalid_name"}),
    )
    .expect_message(400, "UPPER_WITH_UNDERSCORE");
    // Candor refuses a rename (its log names banks): HMA would rename.
    put_json(
        &s,
        "/c/bank/MY_TEST_BANK_01",
        &t.curator,
        &json!({"name": "RENAMED"}),
    )
    .expect_message(400, "renaming");
    let r = put_json(
        &s,
        "/c/bank/MY_TEST_BANK_01",
        &t.curator,
        &json!({"enabled": false}),
    )
    .expect(200)
    .json();
    assert_eq!(r["matching_enabled_ratio"], json!(0.0));
    let r = put_json(
        &s,
        "/c/bank/MY_TEST_BANK_01",
        &t.curator,
        &json!({"enabled_ratio": 0.5}),
    )
    .expect(200)
    .json();
    assert_eq!(
        r,
        json!({"matching_enabled_ratio": 0.5, "name": "MY_TEST_BANK_01"})
    );
    put_json(&s, "/c/bank/NOPE", &t.curator, &json!({"enabled": true}))
        .expect_message(404, "Bank not found");
    // Candor's view of the same bank: disabled and enabled again, each a logged change.
    let v1 = s
        .get("/v1/banks/MY_TEST_BANK_01", &t.curator)
        .expect(200)
        .json();
    assert_eq!(v1["enabled"], json!(true));
    assert_eq!(
        v1["category"],
        json!("STATEMENT_CATEGORY_OTHER_VIOLATION_TC")
    );
    let ops: Vec<(ChangeOp, bool)> = s
        .log_entries()
        .into_iter()
        .filter_map(|e| match e.body {
            EntryBody::Bank(b) if b.bank == "MY_TEST_BANK_01" => Some((b.op, b.enabled)),
            _ => None,
        })
        .collect();
    assert_eq!(
        ops,
        vec![
            (ChangeOp::Create, true),
            (ChangeOp::Update, false),
            (ChangeOp::Update, true)
        ]
    );

    // test_banks_delete: 200 {"message": "Done"}, also for a bank that is gone.
    for _ in 0..2 {
        let r = s
            .delete("/c/bank/MY_TEST_BANK_01", &t.curator)
            .expect(200)
            .json();
        assert_eq!(r, json!({"message": "Done"}));
    }
    s.get("/c/bank/MY_TEST_BANK_01", &t.curator).expect(404);

    // Roles: Candor's tokens; errors in HMA's shape, whoever answers them.
    s.post("/c/banks", &t.platform, &json!({"name": "X"}))
        .expect_message(403, "");
    s.get("/c/banks", "").expect_message(401, "");
    s.get("/c/no/such/route", &t.curator)
        .expect_message(404, "");
    s.get("/m/raw_lookup?signal_type=pdq&signal=00", &t.admin)
        .expect_message(403, "");

    // Configuration routes (curation.py get_all_signal_types, get_all_content_types,
    // signal_type_index_status).
    assert_eq!(
        s.get("/c/signal_type", &t.curator).expect(200).json(),
        json!([
            {"name": "pdq", "enabled_ratio": 1.0},
            {"name": "video_md5", "enabled_ratio": 1.0},
            {"name": "sha256", "enabled_ratio": 1.0},
            {"name": "sha1", "enabled_ratio": 1.0}
        ])
    );
    assert_eq!(
        s.get("/c/content_type", &t.curator).expect(200).json(),
        json!([{"name": "photo", "enabled": true}, {"name": "video", "enabled": true}])
    );
    let ix = s
        .get("/c/signal_type/index?signal_type=pdq", &t.curator)
        .expect(200)
        .json();
    let keys: Vec<&String> = ix["pdq"].as_object().unwrap().keys().collect();
    assert_eq!(
        keys,
        [
            "db_size",
            "index_built_to",
            "index_out_of_date",
            "index_size",
            "newest_db_item"
        ]
    );
    assert_eq!(ix["pdq"]["index_out_of_date"], json!(false));
    assert_eq!(ix.as_object().unwrap().len(), 1);
    s.get("/c/signal_type/index?signal_type=tmk", &t.curator)
        .expect_message(400, "No such signal type 'tmk'");

    // Exchanges: none configured here (HMA's answers for "none configured"); the APIs Candor has.
    assert_eq!(
        s.get("/c/exchanges", &t.curator).expect(200).json(),
        json!([])
    );
    assert_eq!(
        s.get("/c/exchanges/apis", &t.curator).expect(200).json(),
        json!([
            "ncmec",
            "stop_ncii",
            "tat",
            "fb_threatexchange",
            "local_file"
        ])
    );
    s.get("/c/exchange/NONEXISTENT_EXCHANGE/status", &t.curator)
        .expect_message(404, "Exchange 'NONEXISTENT_EXCHANGE' not found");
    s.get("/c/exchange/NONEXISTENT_EXCHANGE", &t.curator)
        .expect_message(404, "not found");
    let r = s
        .delete("/c/exchange/TEST_EXCHANGE", &t.curator)
        .expect(200)
        .json();
    assert_eq!(r, json!({"message": "Exchange deleted"}));
    s.post(
        "/c/exchanges",
        &t.curator,
        &json!({"api": "sample", "bank": "FOO_EXCHANGE", "api_json": {}}),
    )
    .expect_message(400, "No such exchange type 'sample'");
    // HMA's `exchange_create` checks, in its order, with its messages.
    for (body, message) in [
        (json!({"api": "ncmec"}), "bank is required"),
        (
            json!({"api": "ncmec", "bank": "foo"}),
            "Field `bank` must match /^[A-Z0-9_]+$/",
        ),
        (
            json!({"api": "ncmec", "bank": "FOO", "api_json": []}),
            "Field `api_json` must be object",
        ),
        (json!({"bank": "FOO"}), "Field `api_type` is required"),
        (
            json!({"api": "ncmec", "bank": "FOO_EXCHANGE", "api_json": {}}),
            "Failed to parse `api_json` - missing value for field \"environment\"",
        ),
        (
            json!({"api": "fb_threatexchange", "bank": "FOO", "api_json": {"privacy_group": "x"}}),
            "Failed to parse `api_json` - wrong value type for field \"privacy_group\"",
        ),
        (
            json!({"api": "ncmec", "bank": "1FOO", "api_json": {"environment": "NGO"}}),
            "Collaboration names must be UPPER_WITH_UNDERSCORE",
        ),
        (
            json!({"api": "local_file", "bank": "FOO", "api_json": {"filename": "/etc/passwd"}}),
            "configure them in Candor's config file",
        ),
    ] {
        s.post("/c/exchanges", &t.curator, &body)
            .expect_message(400, message);
    }
    s.post(
        "/c/exchanges",
        &t.platform,
        &json!({"api": "tat", "bank": "FOO"}),
    )
    .expect(403);
    assert_eq!(
        s.get("/c/exchanges", &t.curator).expect(200).json(),
        json!([]),
        "nothing was created"
    );
    // The per-API credentials: HMA's test_exchange_api_set_auth, shape for shape.
    assert_eq!(
        s.get("/c/exchanges/api/local_file", &t.curator)
            .expect(200)
            .json(),
        json!({"supports_authentification": false, "has_set_authentification": false})
    );
    let unset = json!({"supports_authentification": true, "has_set_authentification": false});
    let set = json!({"supports_authentification": true, "has_set_authentification": true});
    let tx = "/c/exchanges/api/fb_threatexchange";
    assert_eq!(s.get(tx, &t.curator).expect(200).json(), unset);
    let r = s
        .post(
            tx,
            &t.curator,
            &json!({"credential_json": {"api_token": "12345789|000000000000"}}),
        )
        .expect(200);
    assert_eq!(r.json(), set);
    assert!(!r.text().contains("000000000000"));
    assert_eq!(s.get(tx, &t.curator).expect(200).json(), set);
    assert_eq!(
        s.post(tx, &t.curator, &json!({"credential_json": {}}))
            .expect(200)
            .json(),
        unset
    );
    s.post(tx, &t.curator, &json!(["x"]))
        .expect_message(400, "this endpoint expects a json object payload");
    s.post(tx, &t.curator, &json!({"credential_json": {"token": "x"}}))
        .expect_message(
            400,
            "\"token\" is not a credential of fb_threatexchange (those are: api_token)",
        );
    s.post(
        "/c/exchanges/api/ncmec",
        &t.curator,
        &json!({"credential_json": {"user": "u"}}),
    )
    .expect_message(400, "credential \"password\" of ncmec is missing");
    s.post(
        "/c/exchanges/api/local_file",
        &t.curator,
        &json!({"credential_json": {"x": "y"}}),
    )
    .expect_message(400, "local_file does not support credentials");
    s.post(tx, &t.reviewer, &json!({"credential_json": {}}))
        .expect(403);
    s.get("/c/exchanges/api/sample", &t.curator)
        .expect_message(400, "no such Exchange API 'sample'");
    s.post("/c/exchanges/api/sample", &t.curator, &json!({}))
        .expect_message(400, "no such Exchange API 'sample'");
    // HMA's test_exchange_api_schema.
    s.get("/c/exchanges/api/sample/schema", &t.curator)
        .expect_message(404, "Exchange API 'sample' not found");
    let schema = s
        .get("/c/exchanges/api/fb_threatexchange/schema", &t.curator)
        .expect(200)
        .json();
    let field = |list: &Value, name: &str| -> Value {
        list["fields"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["name"] == name)
            .cloned()
            .unwrap_or(Value::Null)
    };
    let pg = field(&schema["config_schema"], "privacy_group");
    assert_eq!(
        (pg["type"].clone(), pg["required"].clone()),
        (json!("number"), json!(true))
    );
    assert_eq!(
        field(&schema["credentials_schema"], "api_token")["type"],
        "string"
    );
    let ncmec = s
        .get("/c/exchanges/api/ncmec/schema", &t.curator)
        .expect(200)
        .json();
    let env = field(&ncmec["config_schema"], "environment");
    assert_eq!(env["type"], "enum");
    assert!(env["choices"]
        .as_array()
        .unwrap()
        .contains(&json!("https://report.cybertip.org/hashsharing")));
    assert_eq!(
        field(&ncmec["config_schema"], "only_esp_ids")["type"],
        "set_of_number"
    );
    let local = s
        .get("/c/exchanges/api/local_file/schema", &t.curator)
        .expect(200)
        .json();
    assert_eq!(local["credentials_schema"], Value::Null);
    assert_eq!(field(&local["config_schema"], "filename")["required"], true);
}

#[test]
fn content_signals_and_matching_as_hma_answers_them() {
    let s = server();
    let t = &s.tokens;
    let hay = far_hashes(21);

    // test_e2e_workflow.py test_add_hashes_and_find_match.
    create_bank(&s, "TEST_BANK");
    let ids: Vec<i64> = hay[..4]
        .iter()
        .map(|h| add_pdq(&s, "TEST_BANK", h))
        .collect();
    let st = s
        .get("/m/index/status?signal_type=pdq", &t.platform)
        .expect(200)
        .json();
    assert_eq!(st["pdq"]["present"], json!(true));
    assert_eq!(st["pdq"]["size"], json!(4));
    assert_eq!(st.as_object().unwrap().len(), 1);
    s.get("/m/index/status?signal_type=nope", &t.platform)
        .expect_message(400, "No such signal type 'nope'");
    let r = s
        .get(
            &format!("/m/lookup?signal_type=pdq&signal={}", hay[3]),
            &t.platform,
        )
        .expect(200)
        .json();
    assert_eq!(
        r,
        json!({"TEST_BANK": [{"bank_content_id": ids[3], "distance": "0"}]})
    );
    let five = "5".repeat(64);
    let r = s
        .get(
            &format!("/m/lookup?signal_type=pdq&signal={five}"),
            &t.platform,
        )
        .expect(200)
        .json();
    assert_eq!(r, json!({}));
    // Integer ids are distinct and stable.
    let mut sorted = ids.clone();
    sorted.dedup();
    assert_eq!(sorted.len(), 4);

    // test_api_banks.py test_banks_add_hash_index: raw_lookup answers ids; with
    // include_distance, {"bank_content_id", "distance"} (test_match_api.py test_raw_lookups).
    let near = flip_bits(&hay[0], 5);
    let r = s
        .get(
            &format!("/m/raw_lookup?signal_type=pdq&signal={}", hay[0]),
            &t.platform,
        )
        .expect(200)
        .json();
    assert_eq!(r, json!({"matches": [ids[0]]}));
    let r = s
        .get(
            &format!("/m/raw_lookup?signal_type=pdq&signal={near}&include_distance=true"),
            &t.platform,
        )
        .expect(200)
        .json();
    assert_eq!(
        r,
        json!({"matches": [{"bank_content_id": ids[0], "distance": "5"}]})
    );
    // matching.py query_index / _validate_and_transform_signal_type: HMA's 400s; the
    // RawLookupRequest model's 422 without a field.
    s.get("/m/raw_lookup?signal_type=tmk&signal=00", &t.platform)
        .expect_message(400, "No such SignalType 'tmk'");
    s.get("/m/raw_lookup?signal_type=pdq&signal=00", &t.platform)
        .expect_message(400, "invalid signal");
    let v = s
        .get("/m/raw_lookup?signal_type=pdq", &t.platform)
        .expect(422)
        .json();
    assert_eq!(v[0]["loc"], json!(["signal"]));
    s.get("/m/lookup?signal_type=pdq", &t.platform)
        .expect_message(
            400,
            "Either url or both signal and signal_type are required",
        );

    // test_match_api.py client_with_multi_bank_data: the `banks` filter.
    for b in ["BANK_A", "BANK_B", "BANK_C"] {
        create_bank(&s, b);
        add_pdq(&s, b, &hay[10]);
    }
    let q = format!("/m/raw_lookup?signal_type=pdq&signal={}", hay[10]);
    let n = |path: String| {
        s.get(&path, &t.platform).expect(200).json()["matches"]
            .as_array()
            .unwrap()
            .len()
    };
    assert_eq!(n(q.clone()), 3);
    assert_eq!(n(format!("{q}&banks=BANK_A")), 1);
    assert_eq!(n(format!("{q}&banks=BANK_A,BANK_B")), 2);
    assert_eq!(n(format!("{q}&banks=NON_EXISTENT_BANK")), 0);
    assert_eq!(
        n(format!("{q}&banks=BANK_A,BANK_B&include_distance=true")),
        2
    );
    let q = format!("/m/lookup?signal_type=pdq&signal={}", hay[10]);
    let keys = |path: String| -> Vec<String> {
        let v = s.get(&path, &t.platform).expect(200).json();
        v.as_object().unwrap().keys().cloned().collect()
    };
    assert_eq!(keys(q.clone()), ["BANK_A", "BANK_B", "BANK_C"]);
    assert_eq!(
        keys(format!("{q}&banks=BANK_A,BANK_C")),
        ["BANK_A", "BANK_C"]
    );
    assert!(keys(format!("{q}&banks=NON_EXISTENT_BANK")).is_empty());

    // matching_enabled_ratio: one coin flip per lookup; repeatable with `seed`; bypassed.
    put_json(
        &s,
        "/c/bank/BANK_B",
        &t.curator,
        &json!({"enabled_ratio": 0.5}),
    )
    .expect(200);
    let mut with = 0;
    for i in 0..40 {
        let path = format!("{q}&seed=s{i}");
        let a = keys(path.clone());
        assert_eq!(a, keys(path), "a seed gives the same flip");
        if a.contains(&"BANK_B".to_string()) {
            with += 1;
        }
        let all = keys(format!("{q}&seed=s{i}&bypass_coinflip=true"));
        assert_eq!(all, ["BANK_A", "BANK_B", "BANK_C"]);
    }
    assert!(with > 0 && with < 40, "BANK_B answered in {with} of 40");

    // Bank content: GET (test_bank_get_content*, BankContentResponse), PUT (disable_until_ts,
    // note), DELETE.
    let c = format!("/c/bank/TEST_BANK/content/{}", ids[1]);
    assert_eq!(
        s.get(&c, &t.curator).expect(200).json(),
        json!({"id": ids[1], "disable_until_ts": 1, "original_media_uri": null,
               "bank": {"name": "TEST_BANK", "matching_enabled_ratio": 1.0}})
    );
    let r = s
        .get(&format!("{c}?include_signals=true"), &t.curator)
        .expect(200)
        .json();
    assert_eq!(r["signals"], json!({"pdq": hay[1]}));
    s.get("/c/bank/TEST_BANK/content/999999", &t.curator)
        .expect_message(404, "content '999999' not found");
    s.get("/c/bank/NOPE/content/1", &t.curator)
        .expect_message(404, "bank 'NOPE' not found");
    s.get("/c/bank/TEST_BANK/content/abc", &t.curator)
        .expect(404);
    // Content of another bank is not this bank's.
    s.get(&format!("/c/bank/BANK_A/content/{}", ids[1]), &t.curator)
        .expect(404);

    // test_bank_update_content: a disable until a time; it stops matching (a logged disable).
    let lookup1 = format!("/m/lookup?signal_type=pdq&signal={}", hay[1]);
    let until = time::OffsetDateTime::now_utc().unix_timestamp() + 365 * 24 * 3600;
    let r = put_json(&s, &c, &t.curator, &json!({ "disable_until_ts": until }))
        .expect(200)
        .json();
    assert_eq!(r["disable_until_ts"], json!(until));
    assert_eq!(r["id"], json!(ids[1]));
    assert_eq!(
        r["bank"],
        json!({"name": "TEST_BANK", "matching_enabled_ratio": 1.0})
    );
    assert_eq!(r["collab_metadata"], json!({}));
    assert_eq!(s.get(&lookup1, &t.platform).expect(200).json(), json!({}));
    assert_eq!(
        s.get(&c, &t.curator).expect(200).json()["disable_until_ts"],
        json!(until)
    );
    // test_bank_update_content_400: too far ahead, negative, not an int.
    put_json(
        &s,
        &c,
        &t.curator,
        &json!({"disable_until_ts": 9_999_999_999i64}),
    )
    .expect_message(400, "less than 5 years");
    put_json(&s, &c, &t.curator, &json!({"disable_until_ts": -1}))
        .expect_message(400, "non-negative");
    put_json(&s, &c, &t.curator, &json!({"disable_until_ts": "soon"}))
        .expect_message(400, "Invalid int");
    // When the time comes, `serve`'s sweep enables it again (called here as if a year passed).
    let n = s
        .block_on(candor_server::flows::banks::enable_due(s.app(), until + 1))
        .unwrap();
    assert_eq!(n, 1);
    assert_eq!(
        s.get(&lookup1, &t.platform).expect(200).json(),
        json!({"TEST_BANK": [{"bank_content_id": ids[1], "distance": "0"}]})
    );
    assert_eq!(
        s.get(&c, &t.curator).expect(200).json()["disable_until_ts"],
        json!(1)
    );
    // 0 disables, 1 enables.
    put_json(&s, &c, &t.curator, &json!({"disable_until_ts": 0})).expect(200);
    assert_eq!(
        s.get(&c, &t.curator).expect(200).json()["disable_until_ts"],
        json!(0)
    );
    assert_eq!(s.get(&lookup1, &t.platform).expect(200).json(), json!({}));
    put_json(&s, &c, &t.curator, &json!({"disable_until_ts": 1})).expect(200);
    assert_eq!(
        s.get(&lookup1, &t.platform).expect(200).json()["TEST_BANK"][0]["bank_content_id"],
        json!(ids[1])
    );

    // test_bank_update_content_note / test_bank_add_hash_with_note / note too long.
    put_json(&s, &c, &t.curator, &json!({"note": "Initial note"})).expect(200);
    assert_eq!(
        s.get(&c, &t.curator).expect(200).json()["note"],
        json!("Initial note")
    );
    put_json(&s, &c, &t.curator, &json!({"note": ""})).expect(200);
    assert!(s
        .get(&c, &t.curator)
        .expect(200)
        .json()
        .get("note")
        .is_none());
    put_json(&s, &c, &t.curator, &json!({"note": "x".repeat(256)}))
        .expect_message(400, "at most 255");
    let r = s
        .post(
            "/c/bank/TEST_BANK/signal",
            &t.curator,
            &json!({"pdq": hay[20], "note": "Hash from campaign ABC"}),
        )
        .expect(200)
        .json();
    let noted = r["id"].as_i64().unwrap();
    let g = s
        .get(&format!("/c/bank/TEST_BANK/content/{noted}"), &t.curator)
        .expect(200)
        .json();
    assert_eq!(g["note"], json!("Hash from campaign ABC"));
    // bank_add_as_signals: HMA's 400s.
    s.post(
        "/c/bank/TEST_BANK/signal",
        &t.curator,
        &json!({"tmk": "00"}),
    )
    .expect_message(400, "No such signal type tmk");
    s.post(
        "/c/bank/TEST_BANK/signal",
        &t.curator,
        &json!({"pdq": "zz"}),
    )
    .expect_message(400, "Invalid pdq signal");
    s.post("/c/bank/TEST_BANK/signal", &t.curator, &json!({}))
        .expect_message(400, "No signals given");
    s.post("/c/bank/NOPE/signal", &t.curator, &json!({"pdq": hay[0]}))
        .expect_message(404, "bank 'NOPE' not found");
    // video_md5 (and Candor's md5 name for it).
    let md5 = "d41d8cd98f00b204e9800998ecf8427e";
    let r = s
        .post(
            "/c/bank/TEST_BANK/signal",
            &t.curator,
            &json!({"video_md5": md5.to_uppercase()}),
        )
        .expect(200)
        .json();
    assert_eq!(r["signals"], json!({"video_md5": md5}));
    let r = s
        .get(
            &format!("/m/lookup?signal_type=video_md5&signal={md5}"),
            &t.platform,
        )
        .expect(200)
        .json();
    assert_eq!(r["TEST_BANK"][0]["distance"], json!("-"));

    // test_banks_delete_content: {"deleted": 1}, then 0; gone from GET and matching; the
    // log has the retraction.
    let r = s.delete(&c, &t.curator).expect(200).json();
    assert_eq!(r, json!({"deleted": 1}));
    let r = s.delete(&c, &t.curator).expect(200).json();
    assert_eq!(r, json!({"deleted": 0}));
    s.get(&c, &t.curator).expect(404);
    assert_eq!(s.get(&lookup1, &t.platform).expect(200).json(), json!({}));
    let retracted = s.log_entries().into_iter().any(|e| {
        matches!(e.body, EntryBody::BankContent(b) if b.op == ContentOp::Retract && b.bank == "TEST_BANK")
    });
    assert!(retracted);

    // test_api.py test_compare_hashes: HMA's specimens and bad inputs.
    let a = "facd8bcb2a49bcebdec1985298d5fe84bcd006c187c598c720c3c087b3fdb318";
    let b = "facd8bcb2a49bcebdec1985228d5ae84bcd006c187c598c720c2b087b3fdb318";
    let r = s
        .post("/m/compare", &t.platform, &json!({"pdq": [a, b]}))
        .expect(200)
        .json();
    assert_eq!(r, json!({"pdq": [true, {"distance": 9}]}));
    let r = s
        .post("/m/compare", &t.platform, &json!({"video_md5": [md5, md5]}))
        .expect(200)
        .json();
    assert_eq!(r, json!({"video_md5": [true, {}]}));
    for bad in [
        json!(["banana"]),
        json!({"pdq": "banana"}),
        json!({"pdq": []}),
        json!({"pdq": ["banana", "banana"]}),
        json!({"pdq": [a, b, a]}),
        json!({"tmk": [a, b]}),
    ] {
        s.post("/m/compare", &t.platform, &bad)
            .expect_message(400, "");
    }

    // The whole log still verifies.
    s.verify_log(None);
}

#[test]
fn uploads_urls_and_metadata_as_hma_answers_them() {
    let s = server();
    let t = &s.tokens;
    let img = image_bytes(BRIDGE);
    let port = origin(img.clone());
    let base = format!("http://127.0.0.1:{port}");
    create_bank(&s, "NEW_BANK");

    // hashing.py hash_media_post: a photo gives its PDQ (as Candor computes it for /v1).
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
    let pdq = v1["signals"]["pdq"].as_str().unwrap().to_string();
    assert_eq!(h, json!({ "pdq": pdq }));
    let h2 = s
        .post_multipart(
            "/h/hash?types=pdq,sha256",
            &t.platform,
            &[("photo", Some("a.jpg"), &img)],
        )
        .expect(200)
        .json();
    assert_eq!(h2, json!({"pdq": pdq, "sha256": v1["signals"]["sha256"]}));
    let hv = s
        .post_multipart(
            "/h/hash",
            &t.platform,
            &[("video", Some("v.mp4"), b"frames")],
        )
        .expect(200)
        .json();
    assert_eq!(
        hv.as_object().unwrap().keys().collect::<Vec<_>>(),
        ["video_md5"]
    );
    s.post_multipart(
        "/h/hash?types=tmk",
        &t.platform,
        &[("photo", Some("a.jpg"), &img)],
    )
    .expect_message(400, "signal type 'tmk' doesn't exist or is disabled");
    s.post_multipart("/h/hash", &t.platform, &[("file", Some("a.jpg"), &img)])
        .expect_message(400, "no such content_type: 'file'");
    s.post_multipart(
        "/h/hash",
        &t.platform,
        &[
            ("photo", Some("a.jpg"), &img),
            ("photo", Some("b.jpg"), &img),
        ],
    )
    .expect_message(400, "Only one file allowed per request");
    s.post_raw(
        "/h/hash",
        &t.platform,
        "application/octet-stream",
        img.clone(),
    )
    .expect_message(400, "Missing multipart/form-data file upload");
    // Not an image, sent as a photo: HMA answers a 500; Candor says why.
    s.post_multipart(
        "/h/hash",
        &t.platform,
        &[("photo", Some("a.jpg"), b"plain text")],
    )
    .expect_message(400, "could not be hashed");
    // GET /h/hash?url=: the content type from the response (an image) or `content_type`.
    let r = s
        .get(&format!("/h/hash?url={base}/image1.jpg"), &t.platform)
        .expect(200)
        .json();
    assert_eq!(r, json!({ "pdq": pdq }));
    let r = s
        .get(&format!("/h/hash?url={base}/clip.bin"), &t.platform)
        .expect(200)
        .json();
    assert!(r["video_md5"].is_string());
    s.get(&format!("/h/hash?url={base}/blob"), &t.platform)
        .expect_message(
            400,
            "unsupported url ContentType: 'application/octet-stream'",
        );
    let r = s
        .get(
            &format!("/h/hash?url={base}/blob&content_type=video"),
            &t.platform,
        )
        .expect(200)
        .json();
    assert!(r["video_md5"].is_string());

    // test_banks_add_content: ?url=&content_type=photo → 200 {"id", "signals": {"pdq"}}.
    let r = s
        .post_raw(
            &format!("/c/bank/NEW_BANK/content?url={base}/image1.jpg&content_type=photo"),
            &t.curator,
            "application/json",
            serde_json::to_vec(&json!({
                "metadata": {"content_id": "ext-id-123", "content_uri": "https://example.com/item/123",
                             "json": {"source": "test", "nested": {"key": "value"}}},
                "note": "Reported by user X"
            }))
            .unwrap(),
        )
        .expect(200)
        .json();
    let id = r["id"].as_i64().unwrap();
    assert_eq!(r, json!({"id": id, "signals": {"pdq": pdq}}));
    // test_bank_get_content_returns_stored_metadata / include_metadata=false / with note.
    let g = s
        .get(&format!("/c/bank/NEW_BANK/content/{id}"), &t.curator)
        .expect(200)
        .json();
    assert_eq!(
        g["metadata"],
        json!({"content_id": "ext-id-123", "content_uri": "https://example.com/item/123",
               "json": {"source": "test", "nested": {"key": "value"}}, "collab": null})
    );
    assert_eq!(g["note"], json!("Reported by user X"));
    let g = s
        .get(
            &format!("/c/bank/NEW_BANK/content/{id}?include_metadata=false"),
            &t.curator,
        )
        .expect(200)
        .json();
    assert!(g.get("metadata").is_none());
    // test_banks_add_metadata: unknown metadata keys are 400.
    s.post_raw(
        &format!("/c/bank/NEW_BANK/content?url={base}/image1.jpg&content_type=photo"),
        &t.curator,
        "application/json",
        serde_json::to_vec(&json!({"metadata": {"invalid_metadata": 5}})).unwrap(),
    )
    .expect_message(400, "Invalid metadata");
    // Multipart: the file, `metadata` as a JSON form field, `note`.
    let r = s
        .post_multipart(
            "/c/bank/NEW_BANK/content",
            &t.curator,
            &[
                ("photo", Some("a.jpg"), &img),
                (
                    "metadata",
                    None,
                    br#"{"content_id": "1197433091", "json": {"asdf": {}}}"#,
                ),
                ("note", None, b"from a form"),
            ],
        )
        .expect(200)
        .json();
    let id2 = r["id"].as_i64().unwrap();
    assert_ne!(id2, id);
    let g = s
        .get(&format!("/c/bank/NEW_BANK/content/{id2}"), &t.curator)
        .expect(200)
        .json();
    assert_eq!(g["metadata"]["content_id"], json!("1197433091"));
    assert_eq!(g["metadata"]["content_uri"], Value::Null);
    assert_eq!(g["note"], json!("from a form"));
    s.post_multipart(
        "/c/bank/NEW_BANK/content",
        &t.curator,
        &[
            ("photo", Some("a.jpg"), &img),
            ("metadata", None, b"{not json"),
        ],
    )
    .expect_message(400, "metadata form field must be valid JSON");
    s.post_raw(
        "/c/bank/NEW_BANK/content",
        &t.curator,
        "application/json",
        b"{}".to_vec(),
    )
    .expect_message(400, "Neither `url` nor multipart file upload was received");
    // A raw body is not an HMA upload (it must be multipart, the field naming the type).
    s.post_raw(
        "/c/bank/NEW_BANK/content",
        &t.curator,
        "image/jpeg",
        img.clone(),
    )
    .expect_message(400, "Neither `url` nor multipart file upload was received");
    s.post_multipart(
        "/c/bank/NOPE/content",
        &t.curator,
        &[("photo", Some("a.jpg"), &img)],
    )
    .expect_message(404, "bank 'NOPE' not found");
    // Every content write is in the log: two contents, one PDQ entry each, with salted
    // commitments (the bytes themselves are nowhere).
    let adds = s
        .log_entries()
        .into_iter()
        .filter(|e| matches!(&e.body, EntryBody::BankContent(b) if b.bank == "NEW_BANK" && b.op == ContentOp::Add))
        .count();
    assert_eq!(adds, 2);

    // test_api.py test_lookup_success: POST /m/lookup by photo (and video); GET by url.
    let m = s
        .post_multipart("/m/lookup", &t.platform, &[("photo", Some("a.jpg"), &img)])
        .expect(200)
        .json();
    assert_eq!(
        m,
        json!({"pdq": {"NEW_BANK": [{"bank_content_id": id, "distance": "0"},
                                     {"bank_content_id": id2, "distance": "0"}]}})
    );
    let m = s
        .post_multipart(
            "/m/lookup?banks=OTHER",
            &t.platform,
            &[("photo", Some("a.jpg"), &img)],
        )
        .expect(200)
        .json();
    assert_eq!(m, json!({"pdq": {}}));
    let m = s
        .post_multipart("/m/lookup", &t.platform, &[("video", Some("a.jpg"), &img)])
        .expect(200)
        .json();
    assert_eq!(m, json!({"video_md5": {}}));
    let g = s
        .get(&format!("/m/lookup?url={base}/image1.jpg"), &t.platform)
        .expect(200)
        .json();
    assert_eq!(g["pdq"]["NEW_BANK"].as_array().unwrap().len(), 2);
    // With `signal_type` the outer object is elided.
    let g = s
        .get(
            &format!("/m/lookup?url={base}/image1.jpg&signal_type=pdq"),
            &t.platform,
        )
        .expect(200)
        .json();
    assert_eq!(g["NEW_BANK"].as_array().unwrap().len(), 2);
}

#[test]
fn status_routes_while_the_index_loads() {
    // test_api.py test_status_response / test_status_live_always_alive.
    let mut s = TestServer::start();
    let r = s.get("/status", "").expect(200);
    assert_eq!(r.text(), "I-AM-ALIVE");
    s.stop();
    let loading = s.launch_deferred().expect("loading");
    let r = s.get("/status", "").expect(503);
    assert_eq!(r.text(), "INDEX-NOT-LOADED");
    let r = s.get("/status/live", "").expect(200);
    assert_eq!(r.text(), "I-AM-ALIVE");
    // HMA's 503 while the index is not ready, in its shape.
    let h = haystack();
    s.get(
        &format!("/m/raw_lookup?signal_type=pdq&signal={}", h[0]),
        &s.tokens.platform,
    )
    .expect_message(503, "loading");
    s.block_on(loading.finish()).expect("loaded");
    assert_eq!(s.get("/status", "").expect(200).text(), "I-AM-ALIVE");
    assert_eq!(s.get("/status/live", "").expect(200).text(), "I-AM-ALIVE");
    // app.py site_map: the routes, sorted (HMA's notation).
    let m = s.get("/site-map", "").expect(200).json();
    let routes: Vec<&str> = m
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_str().unwrap())
        .collect();
    assert!(routes.windows(2).all(|w| w[0] < w[1]));
    for r in [
        "/c/banks",
        "/m/lookup",
        "/m/raw_lookup",
        "/h/hash",
        "/status",
    ] {
        assert!(routes.contains(&r), "{r} missing from {routes:?}");
    }
}
