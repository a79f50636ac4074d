//! Restart from a snapshot of the match index and the numbers (issue 19): the snapshot plus the
//! log entries after it give exactly what a full rebuild gives; a corrupt, truncated, foreign
//! or other-format snapshot is ignored (rebuild); the service is alive but not ready while the
//! index loads.

mod common;

use common::*;
use serde_json::{json, Value};

/// Deterministic pseudo-random 64-hex PDQ hashes.
fn hashes(n: usize, seed: u64) -> Vec<String> {
    let mut x = seed;
    let mut next = || {
        x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = x;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    };
    (0..n)
        .map(|_| {
            format!(
                "{:016x}{:016x}{:016x}{:016x}",
                next(),
                next(),
                next(),
                next()
            )
        })
        .collect()
}

fn add(s: &TestServer, bank: &str, body: Value) -> String {
    s.post(
        &format!("/v1/banks/{bank}/content"),
        &s.tokens.curator,
        &body,
    )
    .expect(201)
    .json()["id"]
        .as_str()
        .expect("content id")
        .to_string()
}

/// What matching and the numbers look like: every probe's lookup answer (exact and at distance
/// 6), the digest lookups, the numbers, and the matcher's own row and bank table.
fn observe(s: &TestServer, pdq: &[String], digests: &[(String, String)]) -> Value {
    let mut lookups = Vec::new();
    for h in pdq {
        lookups.push(json!(s.lookup_pdq(h)));
        lookups.push(json!(s.lookup_pdq(&flip_bits(h, 6))));
    }
    for (md5, sha) in digests {
        let v = s
            .get(
                &format!("/v1/lookup?md5={md5}&sha256={sha}"),
                &s.tokens.platform,
            )
            .expect(200)
            .json();
        lookups.push(v["matches"].clone());
    }
    let (rows, banks) = s.app().matcher.read().unwrap().state();
    json!({
        "lookups": lookups,
        "numbers": s.numbers(),
        "rows": format!("{rows:?}"),
        "banks": format!("{banks:?}"),
    })
}

fn report(s: &TestServer) -> Value {
    s.get("/readyz", "").expect(200).json()["index"].clone()
}

fn snapshot_file(s: &TestServer) -> std::path::PathBuf {
    candor_server::snapshot::path(&s.dir)
}

#[test]
fn snapshot_and_changes_after_it_match_a_full_rebuild() {
    let mut s = TestServer::start();
    let cur = s.tokens.curator.clone();
    s.create_bank("a", CAT_TERROR, 31);
    s.create_bank("b", CAT_CSAM, 31);
    s.create_bank("c", CAT_TERROR, 31);
    let ha = hashes(40, 1);
    let hb = hashes(20, 2);
    let hc = hashes(10, 3);
    let ia: Vec<String> = ha.iter().map(|h| s.add_pdq("a", h)).collect();
    let ib: Vec<String> = hb.iter().map(|h| s.add_pdq("b", h)).collect();
    for h in &hc {
        s.add_pdq("c", h);
    }
    let digests: Vec<(String, String)> = hashes(4, 4)
        .iter()
        .map(|h| (h[..32].to_string(), h.clone()))
        .collect();
    for (md5, sha) in &digests[..2] {
        add(&s, "a", json!({"md5": md5, "sha256": sha}));
    }
    // Disabled before the snapshot, enabled after it.
    s.patch(
        &format!("/v1/banks/b/content/{}", ib[5]),
        &cur,
        &json!({"enabled": false}),
    )
    .expect(200);

    let written = s.block_on(s.app().write_snapshot()).expect("snapshot");
    assert!(written.is_some());
    assert!(snapshot_file(&s).exists());

    // Every kind of change after the snapshot.
    let ha2 = hashes(10, 5);
    for h in &ha2 {
        s.add_pdq("a", h);
    }
    for (md5, sha) in &digests[2..] {
        add(&s, "b", json!({"md5": md5, "sha256": sha}));
    }
    for id in &ia[..2] {
        s.post(
            &format!("/v1/banks/a/content/{id}/retract"),
            &cur,
            &json!({"reason": "withdrawn"}),
        )
        .expect(200);
    }
    for id in &ib[..2] {
        s.patch(
            &format!("/v1/banks/b/content/{id}"),
            &cur,
            &json!({"enabled": false}),
        )
        .expect(200);
    }
    s.patch(
        &format!("/v1/banks/b/content/{}", ib[5]),
        &cur,
        &json!({"enabled": true}),
    )
    .expect(200);
    s.patch("/v1/banks/b", &cur, &json!({"pdq_threshold": 4}))
        .expect(200);
    s.delete("/v1/banks/c", &cur).expect(204);
    // A new bank under the deleted one's name, with one of its old hashes.
    s.create_bank("c", CAT_CSAM, 31);
    s.add_pdq("c", &hc[0]);
    s.create_bank("d", CAT_TERROR, 31);
    s.add_pdq("d", &ha[3]);

    let probes: Vec<String> = [&ha[..], &hb[..], &hc[..], &ha2[..]].concat();
    let live = observe(&s, &probes, &digests);
    // The changes show in matching before the restart (the reference is meaningful).
    assert!(s.lookup_pdq(&ha[0]).is_empty());
    assert_eq!(s.lookup_pdq(&hc[0]).len(), 1);
    assert!(
        s.lookup_pdq(&flip_bits(&hb[9], 6)).is_empty(),
        "threshold 4"
    );

    s.restart();
    let r = report(&s);
    assert_eq!(r["source"], "snapshot", "{r}");
    assert!(r["entries_replayed"].as_u64().unwrap() > 0, "{r}");
    let from_snapshot = observe(&s, &probes, &digests);
    assert_eq!(
        from_snapshot, live,
        "snapshot + log differs from the running service"
    );

    std::fs::remove_file(snapshot_file(&s)).unwrap();
    s.restart();
    assert_eq!(report(&s)["source"], "rebuild");
    let rebuilt = observe(&s, &probes, &digests);
    assert_eq!(
        from_snapshot, rebuilt,
        "snapshot + log differs from a full rebuild"
    );

    // Numbers after snapshot + replay equal the numbers recomputed from every entry.
    let entries = s.log_entries();
    let recomputed = candor_log::numbers::Numbers::from_entries(&entries);
    assert_eq!(
        from_snapshot["numbers"],
        serde_json::to_value(&recomputed).unwrap()
    );
}

#[test]
fn bad_snapshots_are_ignored_with_a_rebuild() {
    let mut s = TestServer::start();
    s.create_bank("a", CAT_TERROR, 31);
    let ha = hashes(30, 7);
    for h in &ha {
        s.add_pdq("a", h);
    }
    s.block_on(s.app().write_snapshot()).expect("snapshot");
    let good = std::fs::read(snapshot_file(&s)).unwrap();
    let reference = observe(&s, &ha, &[]);

    // The snapshot at the current size: loaded with nothing to replay.
    s.restart();
    let r = report(&s);
    assert_eq!(r["source"], "snapshot", "{r}");
    assert_eq!(r["entries_replayed"], 0, "{r}");
    assert_eq!(observe(&s, &ha, &[]), reference);

    // Another database's snapshot (valid file, other log).
    let mut other = TestServer::start();
    other.create_bank("a", CAT_TERROR, 31);
    for h in hashes(30, 8) {
        other.add_pdq("a", &h);
    }
    other
        .block_on(other.app().write_snapshot())
        .expect("snapshot");
    let foreign = std::fs::read(snapshot_file(&other)).unwrap();
    other.stop();

    let mut flipped_meta = good.clone();
    flipped_meta[60] ^= 0x10;
    let mut flipped_index = good.clone();
    let at = good.len() - 100;
    flipped_index[at] ^= 0x01;
    let mut other_version = good.clone();
    other_version[8] = 9;
    // The previous format (3: unaligned, read by copying) is another format, never misread.
    let mut previous = good.clone();
    previous[8] = 3;
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("foreign", foreign, "another log"),
        ("truncated", good[..good.len() / 2].to_vec(), ""),
        ("meta byte", flipped_meta, ""),
        ("index byte", flipped_index, ""),
        ("format", other_version, "format 9"),
        ("previous format", previous, "format 3"),
        ("empty", Vec::new(), ""),
    ];
    for (name, bytes, why) in cases {
        s.stop();
        std::fs::write(snapshot_file(&s), &bytes).unwrap();
        s.launch();
        let r = report(&s);
        assert_eq!(r["source"], "rebuild", "{name}: {r}");
        let err = r["snapshot_error"].as_str().unwrap_or("");
        assert!(!err.is_empty() && err.contains(why), "{name}: {r}");
        assert_eq!(observe(&s, &ha, &[]), reference, "{name}");
    }
}

#[test]
fn alive_but_not_ready_while_the_index_loads() {
    let mut s = TestServer::start();
    s.create_bank("a", CAT_TERROR, 31);
    let h = hashes(1, 9).remove(0);
    s.add_pdq("a", &h);
    s.stop();
    let loading = s.launch_deferred().expect("loading");
    s.get("/healthz", "").expect(200);
    let r = s.get("/readyz", "").expect(503).json();
    assert_eq!(r["status"], "loading");
    let l = s
        .get(&format!("/v1/lookup?pdq={h}"), &s.tokens.platform)
        .expect_error(503, "loading");
    assert_eq!(l.retry_after, "1");
    s.get("/v1/numbers", "").expect_error(503, "loading");
    s.get("/log/numbers", "").expect_error(503, "loading");
    s.post(
        "/v1/banks",
        &s.tokens.curator,
        &json!({"name": "x", "category": CAT_TERROR}),
    )
    .expect_error(503, "loading");
    // The log's read path does not depend on the index.
    s.get("/log/checkpoint", "").expect(200);

    s.block_on(loading.finish()).expect("loaded");
    let r = s.get("/readyz", "").expect(200).json();
    assert_eq!(r["status"], "ready");
    assert_eq!(r["indexed_signals"], 1);
    assert_eq!(s.lookup_pdq(&h).len(), 1);
}

/// A snapshot is written from a clone of the match index taken under its read lock, not under
/// the lock: with the writer held mid-write (between the meta and the indexes, by the test
/// hook), a bank addition, a retraction and lookups complete and take effect at once. With the
/// index read-locked for the whole write (the old way) the addition's after-commit update waits
/// for the write lock and this test fails. The snapshot then holds the state at its place in
/// the commit order: a restart from it catches up with the changes made meanwhile.
#[test]
fn changes_and_lookups_go_on_while_a_snapshot_is_written() {
    use std::sync::{mpsc, Arc, Mutex};
    use std::time::Duration;
    let mut s = TestServer::start();
    s.create_bank("a", CAT_TERROR, 31);
    let ha = hashes(12, 21);
    let ids: Vec<String> = ha[..10].iter().map(|h| s.add_pdq("a", h)).collect();
    let (entered_tx, entered_rx) = mpsc::channel::<()>();
    let (release_tx, release_rx) = mpsc::channel::<()>();
    let (entered_tx, release_rx) = (Mutex::new(entered_tx), Mutex::new(release_rx));
    *s.app().snapshot_hook.lock().unwrap() = Some(Arc::new(move || {
        let _ = entered_tx.lock().unwrap().send(());
        let _ = release_rx
            .lock()
            .unwrap()
            .recv_timeout(Duration::from_secs(120));
    }));
    let app = s.app().clone();
    let writer = s.handle().spawn(async move { app.write_snapshot().await });
    entered_rx
        .recv_timeout(Duration::from_secs(60))
        .expect("the snapshot writer reached the hook");
    let (done_tx, done_rx) = mpsc::channel();
    std::thread::scope(|scope| {
        let (s, ha, ids) = (&s, &ha, &ids);
        scope.spawn(move || {
            s.add_pdq("a", &ha[10]);
            let found = s.lookup_pdq(&ha[10]).len();
            s.post(
                &format!("/v1/banks/a/content/{}/retract", ids[0]),
                &s.tokens.curator,
                &json!({"reason": "withdrawn"}),
            )
            .expect(200);
            let gone = s.lookup_pdq(&ha[0]).len();
            let still = s.lookup_pdq(&ha[1]).len();
            let _ = done_tx.send((found, gone, still));
        });
        let done = done_rx.recv_timeout(Duration::from_secs(30));
        // Let the writer finish either way.
        release_tx.send(()).unwrap();
        let done = done.expect(
            "a bank change and lookups completed while the snapshot was being written \
             (they waited for it: the index was locked while it was written)",
        );
        assert_eq!(done, (1, 0, 1));
    });
    let written = s.block_on(writer).unwrap().expect("snapshot");
    assert!(written.is_some());
    let reference = observe(&s, &ha, &[]);
    s.restart();
    let r = report(&s);
    assert_eq!(r["source"], "snapshot", "{r}");
    assert!(r["entries_replayed"].as_u64().unwrap() >= 2, "{r}");
    assert_eq!(observe(&s, &ha, &[]), reference);
}
