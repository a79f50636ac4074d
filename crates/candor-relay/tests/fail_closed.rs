//! Candor unreachable: an attachment is held with a visible "could not be checked" status, never
//! delivered unchecked and never dropped; once Candor answers, the relay's re-check delivers it.
//! Also the relay's own input checks (bad accounts, members, sizes) answer clear errors.

use std::path::Path;
use std::time::{Duration, Instant};

use candor_relay::scenario::{free_port, spawn_candor, spawn_relay, token, wait_ready};
use serde_json::{json, Value};

fn agent() -> ureq::Agent {
    ureq::Agent::new_with_config(
        ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(30)))
            .build(),
    )
}

fn call(a: &ureq::Agent, method: &str, url: &str, ctype: &str, body: Vec<u8>) -> (u16, Value) {
    let req = ureq::http::Request::builder()
        .method(method)
        .uri(url)
        .header("Content-Type", ctype)
        .body(body)
        .unwrap();
    let mut r = a.run(req).unwrap();
    let s = r.status().as_u16();
    let b = r.body_mut().read_to_vec().unwrap();
    (s, serde_json::from_slice(&b).unwrap_or(Value::Null))
}

fn post(a: &ureq::Agent, url: &str, v: Value) -> (u16, Value) {
    call(
        a,
        "POST",
        url,
        "application/json",
        v.to_string().into_bytes(),
    )
}

fn send_file(a: &ureq::Agent, url: &str, sender: &str, bytes: &[u8]) -> (u16, Value) {
    let b = "xBOUNDARYx";
    let mut body = format!(
        "--{b}\r\nContent-Disposition: form-data; name=\"sender\"\r\n\r\n{sender}\r\n--{b}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.jpg\"\r\nContent-Type: image/jpeg\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(bytes);
    body.extend_from_slice(format!("\r\n--{b}--\r\n").as_bytes());
    call(
        a,
        "POST",
        url,
        &format!("multipart/form-data; boundary={b}"),
        body,
    )
}

fn candor_bin() -> std::path::PathBuf {
    let exe = std::env::current_exe().unwrap();
    let bin = exe.parent().and_then(Path::parent).unwrap().join("candor");
    assert!(
        bin.exists(),
        "{} is missing: `cargo test --workspace` builds it (or `cargo build -p candor`)",
        bin.display()
    );
    bin
}

#[test]
fn unreachable_candor_holds_attachments_then_they_are_checked() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("candor-data");
    let bin = candor_bin();
    let platform = token(&bin, &data, "platform", "relay").unwrap();
    let port = free_port().unwrap();
    let candor_url = format!("http://127.0.0.1:{port}");
    let mut config = candor_relay::Config::new(&candor_url, &platform, dir.path().join("relay.db"));
    config.sync_interval = Duration::from_millis(200);
    config.max_attachment_bytes = 1 << 20;
    let (relay, _t) = spawn_relay(config).unwrap();
    let a = agent();

    // The web client page is served (it talks to the same JSON API).
    let mut page = a.get(&format!("{relay}/")).call().unwrap();
    assert_eq!(page.status().as_u16(), 200);
    let html = page.body_mut().read_to_string().unwrap();
    for needle in [
        "/inbox?account=",
        "/appeals",
        "/conversations/",
        "verify-proof",
    ] {
        assert!(html.contains(needle), "{needle} not in the page");
    }

    // Input checks.
    assert_eq!(
        post(
            &a,
            &format!("{relay}/accounts"),
            json!({"name": "a b", "jurisdiction": "CA"})
        )
        .0,
        400
    );
    assert_eq!(
        post(
            &a,
            &format!("{relay}/accounts"),
            json!({"name": "ann", "jurisdiction": "Canada"})
        )
        .0,
        400
    );
    assert_eq!(
        post(
            &a,
            &format!("{relay}/accounts"),
            json!({"name": "ann", "jurisdiction": "CA"})
        )
        .0,
        201
    );
    assert_eq!(
        post(
            &a,
            &format!("{relay}/accounts"),
            json!({"name": "ann", "jurisdiction": "CA"})
        )
        .0,
        409
    );
    assert_eq!(
        post(
            &a,
            &format!("{relay}/accounts"),
            json!({"name": "ben", "jurisdiction": "DE"})
        )
        .0,
        201
    );
    assert_eq!(
        post(
            &a,
            &format!("{relay}/conversations"),
            json!({"kind": "direct", "members": ["ann"]})
        )
        .0,
        400
    );
    assert_eq!(
        post(
            &a,
            &format!("{relay}/conversations"),
            json!({"kind": "direct", "members": ["ann", "zed"]})
        )
        .0,
        404
    );
    let (s, c) = post(
        &a,
        &format!("{relay}/conversations"),
        json!({"kind": "direct", "members": ["ann", "ben"]}),
    );
    assert_eq!(s, 201);
    let conv = c["id"].as_i64().unwrap();
    let url = format!("{relay}/conversations/{conv}/messages");
    assert_eq!(
        post(&a, &url, json!({"sender": "zed", "text": "hi"})).0,
        403
    );
    let (s, e) = send_file(&a, &url, "ann", &vec![7u8; (1 << 20) + 1]);
    assert_eq!(s, 413, "{e}");
    // Text goes through at once.
    assert_eq!(
        post(&a, &url, json!({"sender": "ann", "text": "hello"})).0,
        201
    );

    // Candor is down: the attachment is held, visibly, for both sides.
    let img = std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../testdata/pdq/images/reference/bridge-mods/aaa-orig.jpg"),
    )
    .unwrap();
    let (s, sent) = send_file(&a, &url, "ann", &img);
    assert_eq!(s, 201, "{sent}");
    assert_eq!(
        sent["attachment"]["status"], "could_not_be_checked",
        "{sent}"
    );
    let m = sent["message"].as_i64().unwrap();
    let inbox = |after: i64| -> Value {
        let mut r = a
            .get(&format!("{relay}/inbox?account=ben&after={after}&wait=1"))
            .call()
            .unwrap();
        serde_json::from_slice(&r.body_mut().read_to_vec().unwrap()).unwrap()
    };
    let ev = inbox(0);
    let evs = ev["events"].as_array().unwrap();
    assert_eq!(evs[0]["text"], "hello");
    assert_eq!(evs[1]["message"], m);
    assert_eq!(evs[1]["attachment"]["status"], "could_not_be_checked");
    let dl = format!("{relay}/attachments/{m}?account=ben");
    assert_eq!(a.get(&dl).call().unwrap().status().as_u16(), 403);

    // Candor comes up: the background re-check scans it and delivers it.
    let mut child = spawn_candor(&bin, &data, port).unwrap();
    wait_ready(&candor_url).unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut after = ev["next"].as_i64().unwrap();
    loop {
        let v = inbox(after);
        after = v["next"].as_i64().unwrap();
        let done = v["events"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["message"] == m && e["attachment"]["status"] == "available");
        if done {
            break;
        }
        assert!(Instant::now() < deadline, "never re-checked");
    }
    let mut r = a.get(&dl).call().unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(
        r.body_mut()
            .with_config()
            .limit(8 << 20)
            .read_to_vec()
            .unwrap(),
        img
    );
    assert_eq!(a.get(&dl).call().unwrap().status().as_u16(), 410);
    let _ = child.kill();
    let _ = child.wait();
}
