//! Fetching content by URL (`GET /h/hash?url=`, `GET /m/lookup?url=`) against a loopback origin
//! the test runs: off by default; with the host and its network allowed it hashes exactly what
//! an upload hashes; every rule refuses with its own error (host not listed, loopback not
//! allowed, a redirect to a host or address the rules refuse, too many redirects, too large,
//! too slow, the origin failing).

mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::time::Duration;

use common::*;
use serde_json::json;

/// A tiny HTTP/1.1 origin on 127.0.0.1: a path → (status, headers, body, delay) table.
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
                let here = format!("http://127.0.0.1:{port}");
                let chunks = image.len() / 10_000 + 20;
                let (status, extra, body): (&str, String, Vec<u8>) = match path.as_str() {
                    "/img.jpg" => ("200 OK", "Content-Type: image/jpeg\r\n".into(), image),
                    "/hop1" => ("302 Found", "Location: /hop2\r\n".into(), Vec::new()),
                    "/hop2" => (
                        "301 Moved",
                        format!("Location: {here}/img.jpg\r\n"),
                        Vec::new(),
                    ),
                    "/loop" => ("302 Found", "Location: /loop\r\n".into(), Vec::new()),
                    "/to-other-host" => (
                        "302 Found",
                        "Location: http://files.example.net/x.jpg\r\n".into(),
                        Vec::new(),
                    ),
                    "/to-other-loopback" => (
                        "307 Temporary Redirect",
                        format!("Location: http://127.0.0.2:{port}/img.jpg\r\n"),
                        Vec::new(),
                    ),
                    "/to-metadata" => (
                        "302 Found",
                        "Location: http://169.254.169.254/latest/meta-data/\r\n".into(),
                        Vec::new(),
                    ),
                    "/big" => ("200 OK", String::new(), vec![0u8; image.len() + 100_000]),
                    "/big-chunked" => (
                        "200 OK",
                        "Transfer-Encoding: chunked\r\n".into(),
                        Vec::new(),
                    ),
                    "/slow" => {
                        std::thread::sleep(Duration::from_secs(4));
                        ("200 OK", String::new(), b"late".to_vec())
                    }
                    _ => ("404 Not Found", String::new(), b"no".to_vec()),
                };
                if path == "/big-chunked" {
                    // No Content-Length: the limit is enforced while reading.
                    let _ = write!(
                        stream,
                        "HTTP/1.1 {status}\r\n{extra}Connection: close\r\n\r\n"
                    );
                    for _ in 0..chunks {
                        let chunk = vec![b'x'; 10_000];
                        let _ = write!(stream, "{:x}\r\n", chunk.len());
                        let _ = stream.write_all(&chunk);
                        let _ = stream.write_all(b"\r\n");
                    }
                    let _ = stream.write_all(b"0\r\n\r\n");
                    return;
                }
                let _ = write!(
                    stream,
                    "HTTP/1.1 {status}\r\n{extra}Content-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                let _ = stream.write_all(&body);
            });
        }
    });
    port
}

#[test]
fn fetch_by_url_is_safe_and_hashes_what_an_upload_hashes() {
    let img = image_bytes(BRIDGE);
    let port = origin(img.clone());
    let base = format!("http://127.0.0.1:{port}");

    // Off by default, whatever the URL.
    let off = TestServer::start();
    off.get(&format!("/h/hash?url={base}/img.jpg"), &off.tokens.platform)
        .expect_message(403, "turned off");
    drop(off);

    // On, with the host listed but its (loopback) network not allowed: refused.
    let strict = TestServer::start_with(|c| {
        c.fetch.enabled = true;
        c.fetch.allow_hosts = vec!["127.0.0.1".into()];
    });
    strict
        .get(
            &format!("/h/hash?url={base}/img.jpg"),
            &strict.tokens.platform,
        )
        .expect_message(403, "allow_networks");
    drop(strict);

    let limit = img.len() as u64 + 1024;
    let s = TestServer::start_with(|c| {
        c.fetch.enabled = true;
        c.fetch.allow_hosts = vec!["127.0.0.1".into(), "127.0.0.2".into()];
        c.fetch.allow_networks = vec!["127.0.0.1/32".into()];
        c.fetch.max_bytes = limit;
        c.fetch.timeout_secs = 2;
        c.fetch.max_redirects = 3;
    });
    let t = &s.tokens;
    let fetched = s
        .get(&format!("/h/hash?url={base}/img.jpg"), &t.platform)
        .expect(200)
        .json();
    let uploaded = s
        .post_multipart("/h/hash", &t.platform, &[("photo", Some("a.jpg"), &img)])
        .expect(200)
        .json();
    assert_eq!(fetched, uploaded);
    assert_eq!(fetched["pdq"].as_str().unwrap().len(), 64);
    // Redirects are followed, each hop checked.
    let via = s
        .get(&format!("/h/hash?url={base}/hop1"), &t.platform)
        .expect(200)
        .json();
    assert_eq!(via, uploaded);

    // /m/lookup?url= answers the fetched image's matches per signal type (a photo: PDQ), by
    // bank, with the bank content's integer id (HMA's `lookup_get`).
    s.create_bank("fetched", CAT_TERROR, 31);
    s.add_pdq("fetched", uploaded["pdq"].as_str().unwrap());
    let r = s
        .get(&format!("/m/lookup?url={base}/img.jpg"), &t.platform)
        .expect(200)
        .json();
    let id = r["pdq"]["fetched"][0]["bank_content_id"].as_i64().unwrap();
    assert_eq!(
        r,
        json!({"pdq": {"fetched": [{"bank_content_id": id, "distance": "0"}]}})
    );

    // Every refusal, with its rule.
    let refused = [
        ("http://localhost:1/x", 403, "allowlist"),
        ("http://10.0.0.7/x", 403, "allowlist"),
        ("ftp://127.0.0.1/x", 400, "only http and https"),
        ("http://user:pw@127.0.0.1/x", 400, "credentials"),
        ("not-a-url", 400, "invalid URL"),
    ];
    for (url, status, code) in refused {
        s.get(&format!("/h/hash?url={url}"), &t.platform)
            .expect_message(status, code);
    }
    for (path, status, code) in [
        ("/to-other-host", 403, "allowlist"),
        // Listed host, but 127.0.0.2 is loopback outside the allowed 127.0.0.1/32.
        ("/to-other-loopback", 403, "allow_networks"),
        ("/to-metadata", 403, "allowlist"),
        ("/loop", 502, "redirects"),
        ("/big", 413, "larger than"),
        ("/big-chunked", 413, "larger than"),
        ("/slow", 504, "longer than"),
        ("/missing", 502, "answered HTTP"),
    ] {
        s.get(&format!("/h/hash?url={base}{path}"), &t.platform)
            .expect_message(status, code);
    }
    // A port with nothing listening: the remote end failed, clearly.
    let closed = TcpListener::bind("127.0.0.1:0").unwrap();
    let dead = closed.local_addr().unwrap().port();
    drop(closed);
    s.get(
        &format!("/h/hash?url=http://127.0.0.1:{dead}/x"),
        &t.platform,
    )
    .expect_message(502, "fetch failed");
    // The same roles as an upload.
    s.get(&format!("/h/hash?url={base}/img.jpg"), &t.admin)
        .expect_message(403, "");
    // No `url`: HMA's (pydantic's) 422 with the missing field.
    let v = s.get("/h/hash", &t.platform).expect(422).json();
    assert_eq!(v[0]["type"], "missing");
    assert_eq!(v[0]["loc"], json!(["url"]));
}
