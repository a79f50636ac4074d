//! `candor dsa export|submit` from the command line: the wiring (the flow itself, against a
//! stand-in of the Transparency Database, is crates/candor-server/tests/dsa.rs).

use std::process::Command;

fn candor(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_candor"))
        .args(args)
        .env_remove("CANDOR_DSA_TOKEN")
        .env_remove("CANDOR_DSA_ENDPOINT")
        .output()
        .expect("run candor")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn export_and_submit_from_the_command_line() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let d = data.to_str().unwrap();
    // No database: a clear error, and nothing created.
    let out = candor(&["dsa", "export", "--data", d]);
    assert_ne!(out.status.code(), Some(0));
    assert!(
        text(&out.stderr).contains("no Candor database"),
        "{}",
        text(&out.stderr)
    );
    assert!(!data.join("candor.db").exists());

    let out = candor(&["token", "create", "--data", d, "--role", "admin"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let out = candor(&["dsa", "export", "--data", d]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(out.stdout.is_empty());
    assert!(text(&out.stderr).contains("0 statements in 0 batches"));

    let out = candor(&["dsa", "submit", "--data", d]);
    assert_ne!(out.status.code(), Some(0));
    assert!(
        text(&out.stderr).contains("no DSA endpoint"),
        "{}",
        text(&out.stderr)
    );
    // Nothing to send: no connection is made, and the report says so.
    let out = candor(&[
        "dsa",
        "submit",
        "--data",
        d,
        "--endpoint",
        "http://127.0.0.1:9",
        "--token",
        "t",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["created"], 0);
    assert_eq!(report["batches"], 0);
}
