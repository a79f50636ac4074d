//! Bank import at list scale: bodies streamed in pieces (cut anywhere, chunked transfer
//! encoding) give what a body sent whole gives — matches, one log entry per content,
//! commitments that open with the stored salts, the numbers; a malformed line anywhere is
//! refused with its number and nothing is written (bank, log, numbers, index); the import
//! route has its own body limits and timeouts.

mod common;

use std::collections::{BTreeMap, HashSet};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use candor_log::entry::{ContentOp, EntryBody};
use common::*;
use serde_json::Value;

fn addr(s: &TestServer) -> String {
    s.url("").trim_start_matches("http://").to_string()
}

/// Deterministic pseudo-random hex (splitmix64).
fn random_hex(seed: &mut u64, bytes: usize) -> String {
    let mut out = String::with_capacity(bytes * 2);
    while out.len() < bytes * 2 {
        *seed = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = *seed;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        out.push_str(&format!("{z:016x}"));
    }
    out.truncate(bytes * 2);
    out
}

/// A list: the haystack then random PDQ hashes, some MD5 and SHA-256 lines, comments, blank
/// lines and CRLF endings. Returns the body and the (signal, hex) of each hash line in order.
fn list(pdq: usize) -> (String, Vec<(&'static str, String)>) {
    let mut seed = 20261201;
    let hay = haystack();
    let mut want = Vec::new();
    let mut body = String::from("# a list\n\n");
    for i in 0..pdq {
        let h = hay
            .get(i)
            .cloned()
            .unwrap_or_else(|| random_hex(&mut seed, 32));
        match i % 3 {
            0 => body.push_str(&format!("{h}\n")),
            1 => body.push_str(&format!("pdq\t{h}\r\n")),
            _ => body.push_str(&format!("  pdq {h}  \n")),
        }
        want.push(("pdq", h));
        if i % 97 == 0 {
            let m = random_hex(&mut seed, 16);
            body.push_str(&format!("md5 {m}\n# a comment\n"));
            want.push(("md5", m));
        }
        if i % 101 == 0 {
            let x = random_hex(&mut seed, 32);
            body.push_str(&format!("sha256 {x}\n\n"));
            want.push(("sha256", x));
        }
    }
    // The last line without a newline.
    let last = random_hex(&mut seed, 32);
    body.push_str(&last);
    want.push(("pdq", last));
    (body, want)
}

/// `POST path` with `body` sent in pieces of `piece` bytes (chunked transfer encoding, a
/// pause between pieces); returns the status and the JSON answer.
fn post_in_pieces(
    s: &TestServer,
    path: &str,
    token: &str,
    body: &[u8],
    piece: usize,
) -> (u16, Value) {
    let mut c = TcpStream::connect(addr(s)).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(120))).unwrap();
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: text/plain\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    );
    c.write_all(head.as_bytes()).unwrap();
    for (i, p) in body.chunks(piece).enumerate() {
        let mut frame = format!("{:x}\r\n", p.len()).into_bytes();
        frame.extend_from_slice(p);
        frame.extend_from_slice(b"\r\n");
        if c.write_all(&frame).is_err() {
            break; // answered early (refused); read the answer
        }
        if i % 8 == 0 {
            std::thread::sleep(Duration::from_millis(5));
        }
    }
    let _ = c.write_all(b"0\r\n\r\n");
    read_answer(&mut c)
}

fn read_answer(c: &mut TcpStream) -> (u16, Value) {
    let mut raw = Vec::new();
    let _ = c.read_to_end(&mut raw);
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, rest) = text
        .split_once("\r\n\r\n")
        .unwrap_or_else(|| panic!("no answer: {text:?}"));
    let status: u16 = head[9..12].parse().unwrap();
    let body = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        let mut out = String::new();
        let mut r = rest;
        while let Some((len, tail)) = r.split_once("\r\n") {
            let n = usize::from_str_radix(len.trim(), 16).unwrap();
            if n == 0 {
                break;
            }
            out.push_str(&tail[..n]);
            r = &tail[n + 2..];
        }
        out
    } else {
        rest.to_string()
    };
    (
        status,
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}: {body:?}")),
    )
}

/// A content's public id and its signals: (signal, hex value, salt).
type Stored = (String, Vec<(String, String, Vec<u8>)>);

/// Every content of `bank` by row id, with its signals.
fn stored(s: &TestServer, bank: &str) -> BTreeMap<i64, Stored> {
    let pool = s.app().store.reader().clone();
    let bank = bank.to_string();
    s.block_on(async move {
        let b = candor_store::banks::find_bank(&pool, &bank)
            .await
            .unwrap()
            .unwrap();
        let mut out = BTreeMap::new();
        let mut after = 0;
        loop {
            let page = candor_store::banks::list_content(&pool, b.id, after, 1000)
                .await
                .unwrap();
            let Some(last) = page.last() else { break };
            after = last.id;
            for c in page {
                let sigs = candor_store::banks::signals_of(&pool, c.id).await.unwrap();
                let sigs = sigs
                    .into_iter()
                    .map(|x| (x.kind.as_str().to_string(), hex::encode(x.value), x.salt))
                    .collect();
                out.insert(c.id, (c.public_id, sigs));
            }
        }
        out
    })
}

/// The bank-content entries of `bank`, in log order.
fn entries_of(s: &TestServer, bank: &str) -> Vec<candor_log::entry::BankContentEntry> {
    s.log_entries()
        .into_iter()
        .filter_map(|e| match e.body {
            EntryBody::BankContent(c) if c.bank == bank => Some(c),
            _ => None,
        })
        .collect()
}

#[test]
fn a_streamed_import_equals_the_same_list_sent_whole() {
    let s = TestServer::start();
    let cur = &s.tokens.curator;
    s.create_bank("whole", CAT_TERROR, 31);
    s.create_bank("streamed", CAT_TERROR, 31);
    let (body, want) = list(12_000); // several of the writer's chunks
    let adds0 = s.numbers()["bank_changes"]["add"].as_u64().unwrap();

    let whole = s
        .post_raw(
            "/v1/banks/whole/import",
            cur,
            "text/plain",
            body.clone().into_bytes(),
        )
        .expect(200)
        .json();
    // Pieces that cut lines (and CRLFs) anywhere.
    let (status, streamed) =
        post_in_pieces(&s, "/v1/banks/streamed/import", cur, body.as_bytes(), 7001);
    assert_eq!(status, 200, "{streamed}");
    assert_eq!(whole["imported"], want.len());
    assert_eq!(streamed["imported"], want.len());
    for r in [&whole, &streamed] {
        let (f, l) = (
            r["first_log_index"].as_u64().unwrap(),
            r["last_log_index"].as_u64().unwrap(),
        );
        assert_eq!(l - f + 1, want.len() as u64);
    }
    assert_eq!(
        streamed["first_log_index"].as_u64().unwrap(),
        whole["last_log_index"].as_u64().unwrap() + 1
    );

    for bank in ["whole", "streamed"] {
        assert_eq!(
            s.get(&format!("/v1/banks/{bank}"), cur).json()["content_count"],
            want.len()
        );
        // One content per hash line, in order, each with one salted signal whose entry
        // commits to it; one `add` entry per content, with the bank's category and provenance.
        let rows = stored(&s, bank);
        let entries = entries_of(&s, bank);
        assert_eq!(rows.len(), want.len());
        assert_eq!(entries.len(), want.len());
        let mut ids = HashSet::new();
        for (((public, sigs), (kind, hex)), e) in rows.values().zip(&want).zip(&entries) {
            assert_eq!(sigs.len(), 1);
            let (k, v, salt) = &sigs[0];
            assert_eq!((k.as_str(), v), (*kind, hex));
            assert_eq!(&e.content, public);
            assert_eq!(e.op, ContentOp::Add);
            assert_eq!(e.signal.as_str(), *kind);
            assert_eq!(e.category, CAT_TERROR);
            assert_eq!(e.provenance, "own_review");
            let salt: [u8; 16] = salt.as_slice().try_into().unwrap();
            assert!(candor_log::commit::open_signal_commitment(
                &e.commitment,
                &salt,
                kind,
                &hex::decode(hex).unwrap()
            ));
            assert!(ids.insert(public.clone()), "content id {public} twice");
        }
    }

    // Both banks match at once, every haystack hash exactly.
    for h in haystack().iter().take(40) {
        let banks: HashSet<String> = s
            .lookup_pdq(h)
            .iter()
            .filter(|m| m["distance"] == 0)
            .map(|m| m["bank"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(
            banks,
            HashSet::from(["whole".to_string(), "streamed".to_string()]),
            "{h}"
        );
    }
    let (_, last) = want.last().unwrap();
    assert_eq!(s.lookup_pdq(last).len(), 2);

    // The imports' table segments are built in the background (the rows matched above while
    // pending); once built, the same lookups find the same.
    let t0 = std::time::Instant::now();
    while s.app().matcher.read().unwrap().has_pending() {
        assert!(
            t0.elapsed() < Duration::from_secs(20),
            "the imports' segments were never built"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    for h in haystack().iter().take(40) {
        assert_eq!(
            s.lookup_pdq(h)
                .iter()
                .filter(|m| m["distance"] == 0)
                .count(),
            2,
            "{h}"
        );
    }
    assert_eq!(s.lookup_pdq(last).len(), 2);

    // The numbers count every addition and equal the entries; the log verifies.
    let adds = s.numbers()["bank_changes"]["add"].as_u64().unwrap();
    assert_eq!(adds - adds0, 2 * want.len() as u64);
    s.verify_log(None);
    // And the same after a restart (numbers replayed, index rebuilt from the rows).
    let mut s = s;
    s.restart();
    assert_eq!(s.numbers()["bank_changes"]["add"].as_u64().unwrap(), adds);
    assert_eq!(s.lookup_pdq(last).len(), 2);
}

#[test]
fn a_malformed_line_anywhere_refuses_the_import_and_writes_nothing() {
    let s = TestServer::start();
    let cur = &s.tokens.curator;
    s.create_bank("b", CAT_TERROR, 31);
    let (good, want) = list(9_000);
    let lines = good.lines().count();
    let first = &want[0].1;
    let size0 = s.log_size();
    let numbers0 = s.numbers();

    let mut cases: Vec<(Vec<u8>, usize)> = Vec::new();
    // A short hash as the last line, after many chunks' worth of good ones.
    cases.push((format!("{good}\n{}\n", &first[1..]).into_bytes(), lines + 1));
    // An unknown signal in the middle.
    let mut mid: Vec<&str> = good.lines().collect();
    mid.insert(4_000, "md6 00");
    cases.push((mid.join("\n").into_bytes(), 4_001));
    // Not UTF-8 on line 3.
    let mut bytes = format!("{}\npdq {}\n", want[0].1, want[0].1).into_bytes();
    bytes.extend_from_slice(b"\xff\xfe\n");
    bytes.extend_from_slice(good.as_bytes());
    cases.push((bytes, 3));
    // A line far too long (no newline at all for 4 KiB) after 5,000 good lines.
    let mut long: Vec<&str> = good.lines().take(5_000).collect();
    let junk = "a".repeat(4096);
    long.push(&junk);
    cases.push((long.join("\n").into_bytes(), 5_001));

    for (body, line) in cases {
        for pieces in [None, Some(4093)] {
            let (status, v) = match pieces {
                None => {
                    let r = s.post_raw("/v1/banks/b/import", cur, "text/plain", body.clone());
                    (r.status, r.json())
                }
                Some(p) => post_in_pieces(&s, "/v1/banks/b/import", cur, &body, p),
            };
            assert_eq!(status, 400, "{v}");
            assert_eq!(v["error"]["code"], "invalid_import", "{v}");
            let msg = v["error"]["message"].as_str().unwrap();
            assert!(
                msg.starts_with(&format!("line {line}:")),
                "want line {line}: {msg}"
            );
        }
    }
    // Nothing written: no content, no entry, the same numbers, nothing matches.
    assert_eq!(s.get("/v1/banks/b", cur).json()["content_count"], 0);
    assert!(stored(&s, "b").is_empty());
    assert_eq!(s.log_size(), size0);
    assert_eq!(s.numbers(), numbers0);
    assert!(s.lookup_pdq(first).is_empty());
}

#[test]
fn the_import_route_has_its_own_limits() {
    let s = TestServer::start_with(|c| {
        c.max_body_bytes = 64 * 1024;
        c.max_import_bytes = 1024 * 1024;
        c.max_import_lines = 3_000;
    });
    let cur = &s.tokens.curator;
    s.create_bank("b", CAT_TERROR, 31);
    let size0 = s.log_size();

    // Over the line limit: 413, nothing written.
    let (over, _) = list(3_000);
    s.post_raw("/v1/banks/b/import", cur, "text/plain", over.into_bytes())
        .expect_error(413, "import_too_large");
    // Over the byte limit: by Content-Length before the body is read, and chunked as it
    // arrives.
    let big = format!("# {}\n", "x".repeat(100)).repeat(1024 * 1024 / 100);
    assert!(big.len() > 1024 * 1024);
    // (Only the header is sent: the answer comes before any of the body is read.)
    let mut c = TcpStream::connect(addr(&s)).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let head = format!(
        "POST /v1/banks/b/import HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {cur}\r\n\
         Content-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        big.len()
    );
    c.write_all(head.as_bytes()).unwrap();
    let (status, v) = read_answer(&mut c);
    assert_eq!(
        (status, v["error"]["code"].as_str()),
        (413, Some("import_too_large")),
        "{v}"
    );
    let (status, v) = post_in_pieces(&s, "/v1/banks/b/import", cur, big.as_bytes(), 64 * 1024);
    assert_eq!(
        (status, v["error"]["code"].as_str()),
        (413, Some("import_too_large")),
        "{v}"
    );
    assert_eq!(s.log_size(), size0);
    assert_eq!(s.get("/v1/banks/b", cur).json()["content_count"], 0);

    // Well over max_body_bytes but within the import's limits: imported.
    let (body, want) = list(2_500);
    assert!(body.len() > 2 * 64 * 1024);
    let r = s
        .post_raw("/v1/banks/b/import", cur, "text/plain", body.into_bytes())
        .expect(200)
        .json();
    assert_eq!(r["imported"], want.len());
    // Other routes keep max_body_bytes.
    s.post_raw(
        "/v1/banks/b/content",
        cur,
        "application/octet-stream",
        vec![0; 100 * 1024],
    )
    .expect_error(413, "payload_too_large");
}

#[test]
fn a_stalled_or_trickled_import_is_cut_off() {
    let s = TestServer::start_with(|c| {
        c.request_timeout_secs = 1;
        c.import_timeout_secs = 3;
    });
    let cur = &s.tokens.curator;
    s.create_bank("b", CAT_TERROR, 31);
    let size0 = s.log_size();
    let h = &haystack()[0];
    let head = format!(
        "POST /v1/banks/b/import HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {cur}\r\n\
         Content-Type: text/plain\r\nContent-Length: 100000\r\n\r\n"
    );
    // A body that stops: cut after request_timeout_secs without a byte.
    let mut c = TcpStream::connect(addr(&s)).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    c.write_all(head.as_bytes()).unwrap();
    c.write_all(format!("{h}\n").as_bytes()).unwrap();
    let (status, v) = read_answer(&mut c);
    assert_eq!(
        (status, v["error"]["code"].as_str()),
        (408, Some("request_timeout")),
        "{v}"
    );
    // A body trickled a line at a time (never a pause of a second): cut at
    // import_timeout_secs.
    let mut c = TcpStream::connect(addr(&s)).unwrap();
    c.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    c.write_all(head.as_bytes()).unwrap();
    let mut answer = Vec::new();
    for _ in 0..100 {
        if c.write_all(format!("{h}\n").as_bytes()).is_err() {
            break;
        }
        let mut buf = [0u8; 4096];
        match c.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => answer.extend_from_slice(&buf[..n]),
            Err(_) => {}
        }
        if !answer.is_empty() {
            break;
        }
    }
    let text = String::from_utf8_lossy(&answer);
    assert!(text.starts_with("HTTP/1.1 408"), "{text:?}");
    assert!(text.contains("request_timeout"), "{text:?}");
    assert_eq!(s.log_size(), size0);
    assert_eq!(s.get("/v1/banks/b", cur).json()["content_count"], 0);
}

/// `sources::apply_stream` (what `candor import` runs): records `0..n` of a list of PDQ
/// additions with TCAP-like ids, and at `delete_at` a deletion of `gone`.
fn stream_records(n: usize, delete_at: usize, gone: &str) -> Vec<candor_formats::Record> {
    let mut seed = 20261202;
    (0..n)
        .map(|i| {
            let (hex, deleted) = if i == delete_at {
                (gone.to_string(), true)
            } else {
                (random_hex(&mut seed, 32), false)
            };
            candor_formats::Record {
                number: i as u64 + 1,
                source_id: Some(format!("s{i}")),
                signal: Some((
                    candor_log::entry::SignalKind::Pdq,
                    hex::decode(&hex).unwrap(),
                )),
                deleted,
            }
        })
        .collect()
}

fn stream_options() -> candor_server::flows::sources::ApplyOptions {
    candor_server::flows::sources::ApplyOptions {
        who: "import:test".into(),
        reason: "deleted in the test list".into(),
        dedupe: false,
        exchange: None,
        replace_by_id: false,
        malformed: 0,
    }
}

/// The records sent in batches by another thread, as `candor import` sends a file's, then
/// `end` (an error: the file changed while it was read).
fn stream_of(
    records: Vec<candor_formats::Record>,
    end: Option<String>,
) -> candor_server::flows::sources::Records {
    let (tx, rx) = tokio::sync::mpsc::channel(2);
    std::thread::spawn(move || {
        for batch in records.chunks(1000) {
            if tx.blocking_send(Ok(batch.to_vec())).is_err() {
                return;
            }
        }
        if let Some(e) = end {
            let _ = tx.blocking_send(Err(e));
        }
    });
    candor_server::flows::sources::Records::stream(rx)
}

#[test]
fn a_streamed_list_that_fails_after_many_chunks_writes_nothing() {
    use candor_server::flows::sources::{apply_stream, ListPlan};
    let s = TestServer::start();
    let cur = &s.tokens.curator;
    s.create_bank("b", CAT_TERROR, 31);
    let mut seed = 7;
    let old = random_hex(&mut seed, 32);
    s.add_pdq("b", &old);
    // 3 chunks and more of additions, the bank's content deleted near the end.
    let n = 3 * candor_server::flows::banks::IMPORT_CHUNK + 500;
    let recs = stream_records(n, n - 10, &old);
    let size0 = s.log_size();
    let numbers0 = s.numbers();
    let app = s.app().clone();

    // The reader fails after every record was sent (written, flushed): the job is rolled back.
    let plan = ListPlan::of(&recs, false);
    let stream = stream_of(
        recs.clone(),
        Some("list.json: record 12790: changed".into()),
    );
    let e = s
        .block_on(apply_stream(&app, "b", plan, stream, stream_options()))
        .unwrap_err();
    assert!(e.message.contains("record 12790: changed"), "{}", e.message);
    // Fewer records than the first read counted: refused too.
    let plan = ListPlan::of(&recs, false);
    let short = stream_of(recs[..n - 1].to_vec(), None);
    let e = s
        .block_on(apply_stream(&app, "b", plan, short, stream_options()))
        .unwrap_err();
    assert!(
        e.message.contains("changed while it was read"),
        "{}",
        e.message
    );
    // Nothing written: no content, no entry, the same numbers, the old content matches.
    assert_eq!(s.get("/v1/banks/b", cur).json()["content_count"], 1);
    assert_eq!(s.log_size(), size0);
    assert_eq!(s.numbers(), numbers0);
    assert_eq!(s.lookup_pdq(&old).len(), 1);
    let first = hex::encode(recs[0].signal.as_ref().unwrap().1.clone());
    assert!(s.lookup_pdq(&first).is_empty());

    // The same stream ending well is applied whole, and matches at once in a service.
    let plan = ListPlan::of(&recs, false);
    let r = s
        .block_on(apply_stream(
            &app,
            "b",
            plan,
            stream_of(recs, None),
            stream_options(),
        ))
        .unwrap();
    assert_eq!(
        (r.records, r.added, r.retracted, r.skipped),
        (n as u64, n as u64 - 1, 1, 0)
    );
    assert_eq!(s.get("/v1/banks/b", cur).json()["content_count"], n - 1);
    assert_eq!(s.log_size(), size0 + n as u64);
    assert_eq!(s.lookup_pdq(&first).len(), 1);
    assert!(s.lookup_pdq(&old).is_empty());
    assert_eq!(
        s.numbers()["bank_changes"]["add"].as_u64().unwrap(),
        numbers0["bank_changes"]["add"].as_u64().unwrap() + n as u64 - 1
    );
}
