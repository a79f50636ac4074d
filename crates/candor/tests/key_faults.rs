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

/// The signed checkpoint a service on `data` publishes (started, asked, stopped).
fn checkpoint(data: &Path) -> String {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = Command::new(bin())
        .args(["serve", "--listen", &format!("127.0.0.1:{port}"), "--data"])
        .arg(data)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let start = Instant::now();
    let answer = loop {
        if let Ok(mut c) = std::net::TcpStream::connect(("127.0.0.1", port)) {
            use std::io::{Read, Write};
            c.write_all(b"GET /log/checkpoint HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                .unwrap();
            let mut s = String::new();
            c.read_to_string(&mut s).unwrap();
            break s;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "serve did not start"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    let _ = child.kill();
    let _ = child.wait();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    answer
        .split("\r\n\r\n")
        .nth(1)
        .unwrap_or_default()
        .to_string()
}

#[test]
fn missing_corrupt_or_foreign_key_is_refused_and_nothing_changes() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    assert!(token(&data).status.success());
    let key = data.join("log-key");
    let db = data.join("candor.db");
    let saved = std::fs::read(&key).unwrap();
    let before = checkpoint(&data);
    assert!(before.contains("localhost/candor"), "{before}");

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

    // Restored: the log is exactly as it was, and the store takes writes again.
    std::fs::write(&key, saved).unwrap();
    assert!(db.exists());
    assert_eq!(checkpoint(&data), before, "the log was not touched");
    let out = token(&data);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
