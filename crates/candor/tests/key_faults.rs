//! The log's signing key missing, corrupt or swapped at start: `candor serve` refuses with a
//! clear error and touches nothing; with the key restored, everything is as it was.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_candor")
}

fn token(data: &Path) -> std::process::Output {
    Command::new(bin())
        .args(["token", "create", "--role", "admin", "--data"])
        .arg(data)
        .output()
        .unwrap()
}

/// Run `candor serve` on `data`; it must exit by itself (a refusal) within 30 s.
fn serve_refuses(data: &Path) -> String {
    let mut child = Command::new(bin())
        .args(["serve", "--listen", "127.0.0.1:0", "--data"])
        .arg(data)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            assert_eq!(status.code(), Some(2));
            let mut err = String::new();
            std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut err).unwrap();
            return err;
        }
        if start.elapsed() > Duration::from_secs(30) {
            let _ = child.kill();
            panic!("candor serve started instead of refusing");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn digest(p: &Path) -> Vec<u8> {
    std::fs::read(p).unwrap()
}

#[test]
fn missing_corrupt_or_foreign_key_is_refused_and_nothing_changes() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    assert!(token(&data).status.success());
    let key = data.join("log-key");
    let db = data.join("candor.db");
    let saved = std::fs::read(&key).unwrap();
    let db_before = digest(&db);

    // Missing: never a silent new key for an existing log.
    std::fs::remove_file(&key).unwrap();
    let err = serve_refuses(&data);
    assert!(
        err.contains("is missing") && err.contains("restore"),
        "{err}"
    );
    assert!(!key.exists(), "no new key was made");

    // Corrupt.
    std::fs::write(&key, "not a key\n").unwrap();
    let err = serve_refuses(&data);
    assert!(err.contains("unreadable"), "{err}");

    // Another log's key: the last checkpoint does not verify with it.
    let other = tmp.path().join("other");
    assert!(token(&other).status.success());
    std::fs::copy(other.join("log-key"), &key).unwrap();
    let err = serve_refuses(&data);
    assert!(err.contains("does not verify with this log key"), "{err}");

    assert_eq!(digest(&db), db_before, "the database was not touched");
    // Restored: the store opens and takes writes again.
    std::fs::write(&key, saved).unwrap();
    let out = token(&data);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
