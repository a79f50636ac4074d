//! Storage faults under writes: the disk filling up during write batches, the database's
//! filesystem turning read-only. Each gives a clear error (503 `storage_unavailable`), loses no
//! acknowledged write, keeps reads answering, and the log verifies after recovery.
//!
//! The data directory lives on a small tmpfs the test mounts (root only: in CI `.ci/run` runs as
//! root; elsewhere the test says it was skipped and why).

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;
use serde_json::json;

/// A tmpfs of `size` mounted on a fresh directory; unmounted on drop.
struct Tmpfs {
    dir: tempfile::TempDir,
}

impl Tmpfs {
    fn mount(size: &str) -> Option<Tmpfs> {
        let dir = tempfile::tempdir().ok()?;
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path())
            .output()
            .is_ok_and(|o| o.status.success());
        if !ok {
            eprintln!("skipped: cannot mount a tmpfs here (needs root); CI runs this as root");
            return None;
        }
        Some(Tmpfs { dir })
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn remount(&self, mode: &str) {
        // A stopped service's SQLite connections close on their own worker threads, a moment
        // after the runtime is gone; until then a read-only remount is refused as busy.
        for _ in 0..100 {
            let st = Command::new("mount")
                .args(["-o", &format!("remount,{mode}")])
                .arg(self.dir.path())
                .stderr(std::process::Stdio::null())
                .status()
                .unwrap();
            if st.success() {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        panic!("remount {mode}: still busy after 10 s");
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount")
            .arg("-l")
            .arg(self.dir.path())
            .status();
    }
}

/// Fill the filesystem: a file grown until the disk says no. Returns its path.
fn fill(dir: &Path) -> PathBuf {
    let p = dir.join("filler");
    let mut f = std::fs::File::create(&p).unwrap();
    let chunk = vec![0u8; 64 * 1024];
    while f.write_all(&chunk).is_ok() {}
    // Top up byte-sized remainders too.
    while f.write_all(&chunk[..512]).is_ok() {}
    let _ = f.sync_all();
    p
}

/// Add `pdq` to `bank`: Some(content id) when acknowledged, None on 503 storage_unavailable.
fn try_add(s: &TestServer, bank: &str, pdq: &str) -> Option<String> {
    let r = s.post(
        &format!("/v1/banks/{bank}/content"),
        &s.tokens.curator,
        &json!({"pdq": pdq}),
    );
    match r.status {
        201 => Some(r.json()["id"].as_str().unwrap().to_string()),
        503 => {
            let v = r.json();
            assert_eq!(v["error"]["code"], "storage_unavailable", "{v}");
            assert!(
                v["error"]["message"]
                    .as_str()
                    .unwrap()
                    .contains("nothing was written"),
                "{v}"
            );
            assert_eq!(r.retry_after, "5");
            None
        }
        other => panic!("unexpected {other}: {}", r.text()),
    }
}

/// After recovery: every acknowledged addition matches, the log has exactly one add entry per
/// acknowledged addition, and it verifies.
fn check_after_restart(s: &mut TestServer, acked: &[(String, String)]) {
    s.restart();
    for (pdq, id) in acked {
        let m = s.lookup_pdq(pdq);
        assert!(
            m.iter().any(|m| m["content_id"] == id.as_str()),
            "acknowledged {id} lost"
        );
    }
    let rep = s.verify_log(None);
    assert_eq!(rep.numbers.bank_changes.add, acked.len() as u64);
}

#[test]
fn disk_full_during_write_batches() {
    let Some(fs) = Tmpfs::mount("6m") else { return };
    let data = fs.path().join("data");
    let mut s = TestServer::start_with(|c| c.data = data.clone());
    s.create_bank("b", CAT_TERROR, 31);
    let hs = haystack();
    let mut acked = Vec::new();
    for h in &hs[..50] {
        acked.push((h.clone(), try_add(&s, "b", h).expect("room to write")));
    }
    let filler = fill(fs.path());
    // Writes now fail — clearly, and without losing what was acknowledged before.
    let mut refused = 0;
    for h in &hs[50..600] {
        match try_add(&s, "b", h) {
            Some(id) => acked.push((h.clone(), id)),
            None => refused += 1,
        }
        if refused >= 20 {
            break;
        }
    }
    assert!(refused >= 20, "the full disk never refused a write");
    // Reads go on.
    assert!(!s.lookup_pdq(&hs[0]).is_empty());
    s.get("/healthz", "").expect(200);
    // Room again: writes resume.
    std::fs::remove_file(filler).unwrap();
    for h in &hs[600..620] {
        acked.push((h.clone(), try_add(&s, "b", h).expect("writes resume")));
    }
    check_after_restart(&mut s, &acked);
    drop(s);
}

#[test]
fn read_only_database_at_start() {
    let Some(fs) = Tmpfs::mount("32m") else {
        return;
    };
    let data = fs.path().join("data");
    let mut s = TestServer::start_with(|c| c.data = data.clone());
    s.create_bank("b", CAT_TERROR, 31);
    let hs = haystack();
    let mut acked = Vec::new();
    for h in &hs[..30] {
        acked.push((h.clone(), try_add(&s, "b", h).unwrap()));
    }
    // Stopped, the database's filesystem made read-only, started again: a clear refusal.
    s.stop();
    fs.remount("ro");
    let config = candor_server::Config {
        data: data.clone(),
        ..candor_server::Config::default()
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let err = match rt.block_on(candor_server::App::open(config)) {
        Ok(_) => panic!("the service opened a read-only database for writing"),
        Err(e) => format!("{e:#}"),
    };
    assert!(
        err.contains("read-only") || err.contains("readonly") || err.contains("Read-only"),
        "{err}"
    );
    assert!(err.contains("candor.db"), "the error names the file: {err}");
    drop(rt);
    // Writable again: everything acknowledged is there and the log verifies.
    fs.remount("rw");
    s.launch();
    for h in &hs[30..40] {
        acked.push((h.clone(), try_add(&s, "b", h).expect("writes resume")));
    }
    check_after_restart(&mut s, &acked);
    drop(s);
}
