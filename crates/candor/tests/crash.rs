//! kill -9 under load: `candor serve` is SIGKILLed three times while several threads scan (each
//! scan of a banked hash makes decisions and log entries) and import hashes. After each
//! restart on the same data directory: `candor log verify` passes, every decision that was
//! acknowledged (HTTP 200) is there with its log entry at the index it was given, and every
//! acknowledged import is counted.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

mod common;
use common::*;

#[test]
fn kill_9_under_load_loses_nothing_acknowledged() {
    let started = Instant::now();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let platform = token(&data, "platform");
    let curator = token(&data, "curator");
    let auditor = token(&data, "auditor");

    let haystack = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/pdq/haystack.txt"),
    )
    .unwrap();
    let hashes: Vec<String> = haystack
        .lines()
        .map(str::trim)
        .filter(|l| l.len() == 64)
        .step_by(97)
        .take(8)
        .map(str::to_string)
        .collect();
    assert_eq!(hashes.len(), 8);

    let mut server = Server::start(&data);
    let a = agent();
    let (st, key) = call(
        &a,
        "GET",
        &format!("{}/log/key", server.base),
        &auditor,
        "",
        None,
    )
    .unwrap();
    assert_eq!(st, 200);
    let key = key.trim().to_string();
    let body = serde_json::json!({"name": BANK, "category": "STATEMENT_CATEGORY_RISK_FOR_PUBLIC_SECURITY"}).to_string();
    let (st, text) = call(
        &a,
        "POST",
        &format!("{}/v1/banks", server.base),
        &curator,
        "application/json",
        Some(&body),
    )
    .unwrap();
    assert_eq!(st, 201, "{text}");
    let list: String = hashes.iter().map(|h| format!("{h}\n")).collect();
    let (st, text) = call(
        &a,
        "POST",
        &format!("{}/v1/banks/{BANK}/import", server.base),
        &curator,
        "text/plain",
        Some(&list),
    )
    .unwrap();
    assert_eq!(st, 200, "{text}");
    let initial = hashes.len() as u64;

    let acked = Arc::new(Mutex::new(Acked::default()));
    let mut rng = Rng::new();
    for round in 0..3 {
        let stop = Arc::new(AtomicBool::new(false));
        let handles = load(
            &server.base,
            &platform,
            &curator,
            &hashes,
            &acked,
            &stop,
            round,
        );
        // A different moment each round: early, middle, late in a 0.3–2.5 s window.
        let delay = 300 + round as u64 * 700 + rng.below(500);
        thread::sleep(Duration::from_millis(delay));
        stop.store(true, Ordering::SeqCst);
        server.kill();
        let mut scans = 0;
        for h in handles {
            scans += h.join().expect("load thread");
        }
        let n = acked.lock().unwrap().decisions.len();
        eprintln!("round {round}: killed after {delay} ms; {scans} requests acknowledged this round, {n} decisions so far");
        assert!(scans > 0, "no load reached the server in round {round}");
        server = Server::start(&data);
        check(
            &server,
            &key,
            &auditor,
            &curator,
            &acked.lock().unwrap(),
            initial,
        );
    }
    server.kill();
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "took {:?}",
        started.elapsed()
    );
}
