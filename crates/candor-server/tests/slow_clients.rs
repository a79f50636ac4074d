//! Slow and abusive clients: half-sent headers, trickled bodies, idle keep-alive connections,
//! ten times the connection cap, more uploads than decode slots. In every case the service
//! goes on answering healthy clients, and the abusive connections are closed.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::*;

fn addr(s: &TestServer) -> String {
    s.url("").trim_start_matches("http://").to_string()
}

/// A healthy client: a fresh connection, `GET /healthz`, answered (within a generous bound —
/// this checks that answers come, not how fast).
fn healthy(s: &TestServer) {
    let start = Instant::now();
    let r = s.get("/healthz", "");
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(
        start.elapsed() < Duration::from_secs(3),
        "a healthy request took {:?}",
        start.elapsed()
    );
}

/// Whether the server closed `c` within `within` (read returns 0 or an error).
fn closed_within(c: &mut TcpStream, within: Duration) -> bool {
    c.set_read_timeout(Some(within)).unwrap();
    let mut buf = [0u8; 4096];
    let start = Instant::now();
    loop {
        match c.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => {}
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                return false
            }
            Err(_) => return true,
        }
        if start.elapsed() > within {
            return false;
        }
    }
}

#[test]
fn slowloris_half_sent_headers_are_closed_and_healthy_clients_answered() {
    let s = TestServer::start_with(|c| {
        c.header_read_timeout_secs = 2;
        c.max_connections = 4096;
    });
    let a = addr(&s);
    let mut slow: Vec<TcpStream> = (0..300)
        .map(|_| {
            let mut c = TcpStream::connect(&a).unwrap();
            c.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ")
                .unwrap();
            c
        })
        .collect();
    for _ in 0..20 {
        healthy(&s);
    }
    // Past the header timeout every half-sent header is dropped by the server.
    std::thread::sleep(Duration::from_millis(2500));
    let closed = slow
        .iter_mut()
        .map(|c| closed_within(c, Duration::from_secs(2)))
        .filter(|&closed| closed)
        .count();
    assert_eq!(closed, slow.len(), "every slowloris connection is closed");
    healthy(&s);
}

#[test]
fn a_trickled_body_times_out_with_408() {
    let s = TestServer::start_with(|c| {
        c.request_timeout_secs = 2;
    });
    let mut c = TcpStream::connect(addr(&s)).unwrap();
    let head = format!(
        "POST /v1/lookup HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\nContent-Type: application/octet-stream\r\nContent-Length: 100000\r\n\r\n",
        s.tokens.platform
    );
    c.write_all(head.as_bytes()).unwrap();
    let start = Instant::now();
    // One byte every 100 ms, well past the request timeout; healthy clients still answered.
    let mut answer = Vec::new();
    c.set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    while start.elapsed() < Duration::from_secs(6) {
        if c.write_all(b"x").is_err() {
            break;
        }
        let mut buf = [0u8; 4096];
        match c.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                answer.extend_from_slice(&buf[..n]);
                break;
            }
            Err(_) => {}
        }
        if start.elapsed().as_millis() % 1000 < 100 {
            healthy(&s);
        }
    }
    let text = String::from_utf8_lossy(&answer);
    assert!(text.starts_with("HTTP/1.1 408"), "{text:?}");
    assert!(text.contains("request_timeout"), "{text:?}");
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "{:?}",
        start.elapsed()
    );
    healthy(&s);
}

#[test]
fn idle_keep_alive_connections_are_closed() {
    let s = TestServer::start_with(|c| {
        c.idle_timeout_secs = 1;
    });
    let mut c = TcpStream::connect(addr(&s)).unwrap();
    c.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let mut buf = [0u8; 4096];
    c.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    let n = c.read(&mut buf).unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
    // Kept alive, then idle: closed after about a second.
    assert!(closed_within(&mut c, Duration::from_secs(4)));
}

#[test]
fn ten_times_the_connection_cap() {
    let cap = 20;
    let s = TestServer::start_with(|c| {
        c.max_connections = cap;
        c.header_read_timeout_secs = 30;
        c.idle_timeout_secs = 30;
    });
    let a = addr(&s);
    // 10× the cap of connections that send nothing: each newcomer displaces the oldest idle.
    let mut idle: Vec<TcpStream> = (0..10 * cap)
        .map(|_| TcpStream::connect(&a).unwrap())
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    for _ in 0..20 {
        healthy(&s);
    }
    // At most `cap` of them are still open (the rest were displaced and closed).
    let open = idle
        .iter_mut()
        .map(|c| closed_within(c, Duration::from_millis(50)))
        .filter(|&closed| !closed)
        .count();
    assert!(open <= cap, "{open} connections open, cap {cap}");
    assert!(open > 0, "the newest idle connections stay open");
    let m = s.get("/metrics", "").text();
    assert!(m.contains("candor_connections_evicted_total"), "{m}");
}

#[test]
fn uploads_beyond_the_decode_slots_get_503_with_retry_after() {
    let s = TestServer::start_with(|c| c.max_inflight_uploads = 2);
    let img = image_bytes(BRIDGE);
    // Hold every decode slot, as two slow uploads would.
    let held = s.block_on(async { s.app().uploads.clone().acquire_many_owned(2).await.unwrap() });
    let r = s.post_raw(
        "/v1/lookup",
        &s.tokens.platform,
        "application/octet-stream",
        img.clone(),
    );
    assert_eq!(r.status, 503, "{}", r.text());
    assert!(r.text().contains("\"busy\""), "{}", r.text());
    assert_eq!(r.retry_after, "1");
    // Lookups by hash need no decode slot: still answered.
    let h = needles()[0].clone();
    s.get(&format!("/v1/lookup?pdq={h}"), &s.tokens.platform)
        .expect(200);
    drop(held);
    s.post_raw(
        "/v1/lookup",
        &s.tokens.platform,
        "application/octet-stream",
        img,
    )
    .expect(200);
}
