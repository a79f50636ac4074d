//! Several nodes on one PostgreSQL (issue 19), against a real PostgreSQL started by the test
//! (`initdb` into a temporary directory, loopback only; see candor-store's `tests/support/pg.rs`)
//! and real `candor serve` processes sharing it, each with its own data directory (a copy of
//! the log key, its own snapshot):
//!
//! - `two_nodes_share_one_database`: a bank change acknowledged by node A matches on node B,
//!   a retraction on B stops matching on A, a scan on B makes decisions A serves, both nodes
//!   end at the same signed checkpoint and numbers, and both logs verify; an exchange created
//!   through HMA's API on A is seen (and refused a sync, being disabled) on B.
//! - `writer_failover_kill_9`: both nodes scan and import (both write the log, one
//!   transaction at a time under PostgreSQL's advisory lock); A is SIGKILLed under load; B
//!   keeps acknowledging writes; every acknowledged decision of either node is there with its
//!   entry, the log verifies, extends every checkpoint either node ever served, and A, restarted,
//!   catches up to the same checkpoint.
//!
//! - `a_cli_import_reaches_a_running_node`: `candor import` on the shared database, beside a
//!   running node (no restart): its follower matches the list's additions and no longer its
//!   deletion, counts them in its numbers, and its log verifies.
//!
//! Skipped (with a message) when PostgreSQL is not installed, unless
//! `CANDOR_REQUIRE_INTEGRATIONS=1` (CI). `CANDOR_SYNC_SAMPLES=N` makes the first test measure
//! N changes from A to B under lookup load on B and print their latency (bench/server/sync.sh).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

mod common;
use common::*;

#[path = "../../candor-store/tests/support/pg.rs"]
mod pg;

struct Cluster {
    _pg: pg::Postgres,
    url: String,
    _tmp: tempfile::TempDir,
    a: PathBuf,
    b: PathBuf,
    platform: String,
    curator: String,
    auditor: String,
}

fn cluster() -> Option<Cluster> {
    let pg = pg::Postgres::start()?;
    let url = pg.create_db("candor");
    let tmp = tempfile::tempdir().unwrap();
    let a = tmp.path().join("a");
    let b = tmp.path().join("b");
    let platform = token_on(&a, Some(&url), "platform");
    let curator = token_on(&a, Some(&url), "curator");
    let auditor = token_on(&a, Some(&url), "auditor");
    // Every node signs with the same log key: copy it (README "Several nodes").
    std::fs::create_dir_all(&b).unwrap();
    std::fs::copy(a.join("log-key"), b.join("log-key")).unwrap();
    Some(Cluster {
        _pg: pg,
        url,
        _tmp: tmp,
        a,
        b,
        platform,
        curator,
        auditor,
    })
}

fn wait_ready(s: &Server) {
    let a = agent();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(r) = a.get(&format!("{}/readyz", s.base)).call() {
            if r.status().as_u16() == 200 {
                return;
            }
        }
        assert!(Instant::now() < deadline, "{} never ready", s.base);
        thread::sleep(Duration::from_millis(20));
    }
}

fn haystack(n: usize) -> Vec<String> {
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/pdq/haystack.txt"),
    )
    .unwrap();
    text.lines()
        .map(str::trim)
        .filter(|l| l.len() == 64)
        .step_by(97)
        .take(n)
        .map(str::to_string)
        .collect()
}

fn post(s: &Server, tok: &str, path: &str, body: &str) -> (u16, String) {
    let ctype = if path.ends_with("/import") {
        "text/plain"
    } else {
        "application/json"
    };
    call(
        &agent(),
        "POST",
        &format!("{}{path}", s.base),
        tok,
        ctype,
        Some(body),
    )
    .unwrap()
}

fn get(s: &Server, tok: &str, path: &str) -> (u16, String) {
    call(&agent(), "GET", &format!("{}{path}", s.base), tok, "", None).unwrap()
}

/// Content ids matching `hash` on `s` (exact PDQ lookup).
fn lookup(a: &ureq::Agent, s: &Server, tok: &str, hash: &str) -> Vec<String> {
    let (st, text) = call(
        a,
        "GET",
        &format!("{}/v1/lookup?pdq={hash}", s.base),
        tok,
        "",
        None,
    )
    .unwrap();
    assert_eq!(st, 200, "{text}");
    json(&text)["matches"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["distance"].as_u64() == Some(0))
        .map(|m| m["content_id"].as_str().unwrap().to_string())
        .collect()
}

/// Wait until `f` holds (checked every 5 ms); how long it took.
fn until(what: &str, limit: Duration, mut f: impl FnMut() -> bool) -> Duration {
    let t0 = Instant::now();
    while !f() {
        assert!(t0.elapsed() < limit, "{what}: not within {limit:?}");
        thread::sleep(Duration::from_millis(5));
    }
    t0.elapsed()
}

fn create_bank(s: &Server, curator: &str) {
    let body = serde_json::json!({"name": BANK, "category": "STATEMENT_CATEGORY_RISK_FOR_PUBLIC_SECURITY"}).to_string();
    let (st, text) = post(s, curator, "/v1/banks", &body);
    assert_eq!(st, 201, "{text}");
}

fn checkpoint(s: &Server) -> String {
    get(s, "", "/log/checkpoint").1
}

fn numbers(s: &Server) -> serde_json::Value {
    json(&get(s, "", "/log/numbers").1)
}

fn key(s: &Server) -> String {
    get(s, "", "/log/key").1.trim().to_string()
}

/// `candor log verify` of node `s`'s published log, extending `since` when given.
fn verify(s: &Server, key: &str, since: Option<&Path>) {
    let mut cmd = Command::new(bin());
    cmd.args([
        "log",
        "verify",
        "--url",
        &format!("{}/log", s.base),
        "--key",
        key,
    ]);
    if let Some(p) = since {
        cmd.arg("--since").arg(p);
    }
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "candor log verify {} failed:\n{}\n{}",
        s.base,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn indexed(s: &Server) -> u64 {
    json(&get(s, "", "/readyz").1)["indexed_signals"]
        .as_u64()
        .unwrap()
}

/// Both nodes end at the same checkpoint, the same numbers and the same number of signals in
/// their match index.
fn converge(x: &Server, y: &Server) {
    until(
        "same index size on both nodes",
        Duration::from_secs(10),
        || indexed(x) == indexed(y),
    );
    until(
        "same checkpoint on both nodes",
        Duration::from_secs(10),
        || checkpoint(x) == checkpoint(y),
    );
    until(
        "same numbers on both nodes",
        Duration::from_secs(10),
        || {
            let (nx, ny) = (numbers(x), numbers(y));
            let size: u64 = checkpoint(x).lines().nth(1).unwrap().parse().unwrap();
            nx == ny && nx["tree_size"].as_u64() == Some(size)
        },
    );
}

/// Nodes A and B, ready, with the same key; a bank with 8 hashes imported on A, matching on B.
fn two_nodes(c: &Cluster) -> (Server, Server, String, Vec<String>) {
    let a = Server::start_on(&c.a, Some(&c.url));
    let b = Server::start_on(&c.b, Some(&c.url));
    wait_ready(&a);
    wait_ready(&b);
    let key = key(&a);
    assert_eq!(key, self::key(&b));
    create_bank(&a, &c.curator);
    let hashes = haystack(8);
    let list: String = hashes.iter().map(|h| format!("{h}\n")).collect();
    let (st, text) = post(&a, &c.curator, &format!("/v1/banks/{BANK}/import"), &list);
    assert_eq!(st, 200, "{text}");
    let ag = agent();
    let took = until("A's import matching on B", Duration::from_secs(10), || {
        hashes
            .iter()
            .all(|h| !lookup(&ag, &b, &c.platform, h).is_empty())
    });
    eprintln!("import on A matched on B after {took:?}");
    (a, b, key, hashes)
}

#[test]
fn two_nodes_share_one_database() {
    let Some(c) = cluster() else { return };
    // A bank and its contents, created on A, match on B.
    let (a, b, key, hashes) = two_nodes(&c);
    let ag = agent();

    // A retraction on B stops matching on A.
    let content = lookup(&ag, &b, &c.platform, &hashes[0]).remove(0);
    let (st, text) = post(
        &b,
        &c.curator,
        &format!("/v1/banks/{BANK}/content/{content}/retract"),
        r#"{"reason": "listed in error"}"#,
    );
    assert_eq!(st, 200, "{text}");
    assert!(lookup(&ag, &b, &c.platform, &hashes[0]).is_empty());
    let took = until("B's retraction reaching A", Duration::from_secs(10), || {
        lookup(&ag, &a, &c.platform, &hashes[0]).is_empty()
    });
    eprintln!("retraction on B reached A after {took:?}");

    // A scan on B decides by the bank A filled; A serves the decisions.
    let body = serde_json::json!({
        "context": {
            "surface": "direct",
            "content_id": "post-1",
            "content_type": "CONTENT_TYPE_IMAGE",
            "sender": {"account": "s-fr", "jurisdiction": "FR"},
            "recipients": [{"account": "r-de", "jurisdiction": "DE"}]
        },
        "signals": {"pdq": hashes[1]}
    })
    .to_string();
    let (st, text) = post(&b, &c.platform, "/v1/scan", &body);
    assert_eq!(st, 200, "{text}");
    let v = json(&text);
    let ds = v["decisions"].as_array().unwrap();
    assert!(!ds.is_empty(), "{text}");
    for d in ds {
        let id = d["id"].as_str().unwrap();
        let (st, text) = get(&a, &c.auditor, &format!("/v1/decisions/{id}"));
        assert_eq!(st, 200, "decision {id} made on B, read on A: {text}");
    }

    if let Some(n) = std::env::var("CANDOR_SYNC_SAMPLES")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
    {
        measure_sync(&a, &b, &c, n);
    }

    // An exchange created through HMA's API on A (disabled: nothing is fetched) is one every
    // node sees: its configuration and its bank are in the shared database.
    let (st, text) = post(
        &a,
        &c.curator,
        "/c/exchanges",
        r#"{"bank": "SHARED_X", "api": "tat", "api_json": {"enabled": false}}"#,
    );
    assert_eq!(st, 201, "{text}");
    let (st, text) = get(&b, &c.auditor, "/c/exchange/SHARED_X");
    assert_eq!(st, 200, "{text}");
    assert_eq!(json(&text)["enabled"], false, "{text}");
    let (st, text) = get(&b, &c.auditor, "/v1/exchanges");
    assert_eq!(st, 200, "{text}");
    assert_eq!(json(&text)[0]["defined_in"], "api", "{text}");
    let (st, text) = post(&b, &c.curator, "/v1/exchanges/SHARED_X/sync", "{}");
    assert_eq!(st, 409, "disabled on every node: {text}");
    until("A's exchange bank on B", Duration::from_secs(10), || {
        get(&b, &c.auditor, "/c/bank/SHARED_X").0 == 200
    });

    converge(&a, &b);
    verify(&a, &key, None);
    verify(&b, &key, None);
    a.kill();
    b.kill();
}

/// `n` single-hash additions on A, each timed until B matches it, while other threads look up
/// on B as fast as they can; prints the latency distribution and B's lookup rate.
fn measure_sync(a: &Server, b: &Server, c: &Cluster, n: usize) {
    let stop = Arc::new(AtomicBool::new(false));
    let lookups = Arc::new(AtomicU64::new(0));
    let mut load = Vec::new();
    for t in 0..2u64 {
        let (stop, lookups, base, tok) = (
            stop.clone(),
            lookups.clone(),
            b.base.clone(),
            c.platform.clone(),
        );
        load.push(thread::spawn(move || {
            let ag = agent();
            let mut rng = Rng(0x9E37_79B9 + t);
            while !stop.load(Ordering::Relaxed) {
                let h = rng.hash_hex();
                let _ = call(
                    &ag,
                    "GET",
                    &format!("{base}/v1/lookup?pdq={h}"),
                    &tok,
                    "",
                    None,
                );
                lookups.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    let ag = agent();
    let mut rng = Rng::new();
    let mut lat = Vec::with_capacity(n);
    let t0 = Instant::now();
    let l0 = lookups.load(Ordering::Relaxed);
    for _ in 0..n {
        let h = rng.hash_hex();
        let (st, text) = post(a, &c.curator, &format!("/v1/banks/{BANK}/import"), &h);
        assert_eq!(st, 200, "{text}");
        let acked = Instant::now();
        while lookup(&ag, b, &c.platform, &h).is_empty() {
            assert!(
                acked.elapsed() < Duration::from_secs(10),
                "change never reached B"
            );
        }
        lat.push(acked.elapsed());
    }
    let secs = t0.elapsed().as_secs_f64();
    let rate = (lookups.load(Ordering::Relaxed) - l0) as f64 / secs;
    stop.store(true, Ordering::Relaxed);
    for h in load {
        h.join().unwrap();
    }
    lat.sort();
    let pct = |p: f64| lat[((lat.len() as f64 * p).ceil() as usize).clamp(1, lat.len()) - 1];
    eprintln!(
        "SYNC n={n} p50={:?} p99={:?} max={:?} (B under {rate:.0} lookups/s from 2 threads)",
        pct(0.5),
        pct(0.99),
        lat[lat.len() - 1]
    );
    let one = lookup_rate(&[b.base.as_str()], &c.platform, 4, Duration::from_secs(5));
    let two = lookup_rate(
        &[a.base.as_str(), b.base.as_str()],
        &c.platform,
        4,
        Duration::from_secs(5),
    );
    eprintln!("LOOKUPS 4 client threads: one node {one:.0}/s, two nodes {two:.0}/s");
}

/// Lookups per second from `threads` keep-alive clients spread over `bases` for `d`.
fn lookup_rate(bases: &[&str], tok: &str, threads: usize, d: Duration) -> f64 {
    let done = Arc::new(AtomicU64::new(0));
    let t0 = Instant::now();
    let hs: Vec<_> = (0..threads)
        .map(|t| {
            let (done, base, tok) = (
                done.clone(),
                bases[t % bases.len()].to_string(),
                tok.to_string(),
            );
            thread::spawn(move || {
                let ag = agent();
                let mut rng = Rng(0xC0FFEE + t as u64);
                while t0.elapsed() < d {
                    let h = rng.hash_hex();
                    let (st, _) = call(
                        &ag,
                        "GET",
                        &format!("{base}/v1/lookup?pdq={h}"),
                        &tok,
                        "",
                        None,
                    )
                    .unwrap();
                    assert_eq!(st, 200);
                    done.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    for h in hs {
        h.join().unwrap();
    }
    done.load(Ordering::Relaxed) as f64 / t0.elapsed().as_secs_f64()
}

#[test]
fn writer_failover_kill_9() {
    let Some(c) = cluster() else { return };
    let (a, b, key, hashes) = two_nodes(&c);

    // Every checkpoint either node serves during the run, to check the final log extends each.
    let seen: Arc<Mutex<Vec<String>>> = Arc::default();
    let watching = Arc::new(AtomicBool::new(true));
    let watcher = {
        let (seen, watching, bases) = (
            seen.clone(),
            watching.clone(),
            [a.base.clone(), b.base.clone()],
        );
        thread::spawn(move || {
            let ag = agent();
            while watching.load(Ordering::SeqCst) {
                for base in &bases {
                    if let Ok((200, cp)) =
                        call(&ag, "GET", &format!("{base}/log/checkpoint"), "", "", None)
                    {
                        let mut s = seen.lock().unwrap();
                        if s.last() != Some(&cp) {
                            s.push(cp);
                        }
                    }
                }
                thread::sleep(Duration::from_millis(30));
            }
        })
    };

    let acked_a = Arc::new(Mutex::new(Acked::default()));
    let acked_b = Arc::new(Mutex::new(Acked::default()));
    let stop_a = Arc::new(AtomicBool::new(false));
    let stop_b = Arc::new(AtomicBool::new(false));
    let load_a = load(
        &a.base,
        &c.platform,
        &c.curator,
        &hashes,
        &acked_a,
        &stop_a,
        0,
    );
    let load_b = load(
        &b.base,
        &c.platform,
        &c.curator,
        &hashes,
        &acked_b,
        &stop_b,
        1,
    );
    thread::sleep(Duration::from_millis(1500));
    stop_a.store(true, Ordering::SeqCst);
    a.kill(); // SIGKILL, likely inside a transaction holding the writer lock
    let killed = Instant::now();
    let before_b = acked_b.lock().unwrap().decisions.len();
    // B goes on writing: its load threads fail the test on any error before `stop_b`.
    thread::sleep(Duration::from_millis(1500));
    let after_b = acked_b.lock().unwrap().decisions.len();
    stop_b.store(true, Ordering::SeqCst);
    let (mut na, mut nb) = (0, 0);
    for h in load_a {
        na += h.join().expect("load on A");
    }
    for h in load_b {
        nb += h.join().expect("load on B");
    }
    eprintln!(
        "A acknowledged {na} requests before the kill; B {nb}, of them {} decisions in the {:?} after A died",
        after_b - before_b,
        killed.elapsed()
    );
    assert!(na > 0 && nb > 0, "both nodes took load");
    assert!(after_b > before_b, "B acknowledged no write after A died");

    // Everything either node acknowledged, read through B.
    until("B's numbers caught up", Duration::from_secs(10), || {
        let size: u64 = checkpoint(&b).lines().nth(1).unwrap().parse().unwrap();
        numbers(&b)["tree_size"].as_u64() == Some(size)
    });
    let mut all = Acked::default();
    for acked in [&acked_a, &acked_b] {
        let g = acked.lock().unwrap();
        for (id, idx) in &g.decisions {
            assert!(
                all.decisions.insert(id.clone(), *idx).is_none(),
                "decision {id} twice"
            );
        }
        all.imported += g.imported;
        all.import_indexes.extend(g.import_indexes.iter().copied());
    }
    check(&b, &key, &c.auditor, &c.curator, &all, hashes.len() as u64);

    // The final log extends every checkpoint served on the way (no fork was ever signed).
    watching.store(false, Ordering::SeqCst);
    watcher.join().unwrap();
    let seen = seen.lock().unwrap().clone();
    assert!(seen.len() > 2, "checkpoints seen: {}", seen.len());
    let dir = tempfile::tempdir().unwrap();
    let step = (seen.len() / 12).max(1);
    for (i, cp) in seen.iter().enumerate().step_by(step) {
        let p = dir.path().join(format!("cp{i}"));
        std::fs::write(&p, cp).unwrap();
        verify(&b, &key, Some(&p));
    }

    // A comes back, catches up, and agrees.
    let a = Server::start_on(&c.a, Some(&c.url));
    wait_ready(&a);
    converge(&a, &b);
    check(&a, &key, &c.auditor, &c.curator, &all, hashes.len() as u64);
    a.kill();
    b.kill();
}

#[test]
fn a_cli_import_reaches_a_running_node() {
    let Some(c) = cluster() else { return };
    let a = Server::start_on(&c.a, Some(&c.url));
    wait_ready(&a);
    create_bank(&a, &c.curator);
    let hashes = haystack(12);
    let added = (hashes.len() as u64 - 1) * 151;
    // One hash in the bank through the API, then a list (more than a write chunk) that adds
    // the others and deletes it, imported by the CLI from another data directory (the key's
    // copy) while A runs.
    let list: String = format!("{}\n", hashes[0]);
    let (st, text) = post(&a, &c.curator, &format!("/v1/banks/{BANK}/import"), &list);
    assert_eq!(st, 200, "{text}");
    let mut rng = Rng(20261202);
    let mut file = String::new();
    for h in &hashes[1..] {
        file.push_str(&format!(
            "{{\"hash_digest\":\"{h}\",\"algorithm\":\"PDQ\",\"deleted\":false}}\n"
        ));
        for _ in 0..150 {
            let r = rng.hash_hex();
            file.push_str(&format!(
                "{{\"hash_digest\":\"{r}\",\"algorithm\":\"PDQ\",\"deleted\":false}}\n"
            ));
        }
    }
    file.push_str(&format!(
        "{{\"hash_digest\":\"{}\",\"algorithm\":\"PDQ\",\"deleted\":true}}\n",
        hashes[0]
    ));
    let path = c.b.join("list.jsonl");
    std::fs::write(&path, file).unwrap();
    let out = Command::new(bin())
        .args([
            "import", "--quiet", "--format", "tcap", "--bank", BANK, "--data",
        ])
        .arg(&c.b)
        .args(["--database-url", &c.url])
        .arg(&path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r = json(String::from_utf8_lossy(&out.stdout).trim());
    assert_eq!(
        (r["added"].as_u64(), r["retracted"].as_u64()),
        (Some(added), Some(1)),
        "{r}"
    );
    let ag = agent();
    let took = until(
        "the CLI's import matching on A",
        Duration::from_secs(20),
        || {
            lookup(&ag, &a, &c.platform, &hashes[0]).is_empty()
                && hashes[1..]
                    .iter()
                    .all(|h| !lookup(&ag, &a, &c.platform, h).is_empty())
        },
    );
    eprintln!("CLI import matched on the running node after {took:?}");
    until(
        "A's numbers count the import",
        Duration::from_secs(10),
        || {
            let size: u64 = checkpoint(&a).lines().nth(1).unwrap().parse().unwrap();
            numbers(&a)["tree_size"].as_u64() == Some(size)
        },
    );
    assert_eq!(indexed(&a), added);
    verify(&a, &key(&a), None);
    a.kill();
}
