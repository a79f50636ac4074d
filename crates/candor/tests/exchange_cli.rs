//! `candor exchange sync` / `candor exchange status` end to end: the real binary with a config
//! file holding a local-file exchange (the sample StopNCII page of testdata/formats) and one whose
//! credentials are missing, plus one created through HMA's API (the CLI sees it); a service
//! started on the same data directory checks what matches.
//! (The HTTP clients are tested against local stand-ins in candor-server's tests/exchanges.rs.)
use std::path::{Path, PathBuf};
use std::process::Command;

mod common;
use common::{agent, bin, call, json, token, Server};

const PDQ: &str = "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22";

fn candor(dir: &Path, cfg: &Path, args: &[&str]) -> (bool, String, String) {
    let out = Command::new(bin())
        .args(args)
        .arg("--config")
        .arg(cfg)
        .arg("--data")
        .arg(dir)
        .env("CANDOR_TEST_STOPNCII_KEY", "k-s3cret")
        .env_remove("CANDOR_TEST_STOPNCII_FUNCTION")
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn exchange_sync_and_status() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().join("data");
    std::fs::create_dir_all(&d).unwrap();
    let list = dir.path().join("list.json");
    std::fs::copy(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../testdata/formats/stopncii-page.json"),
        &list,
    )
    .unwrap();
    let cfg = dir.path().join("candor.toml");
    std::fs::write(
        &cfg,
        format!(
            "[[exchange]]\nname = \"shared\"\nkind = \"file\"\nbank = \"lists\"\npath = {:?}\nformat = \"stopncii\"\ninterval_secs = 0\n\n\
             [[exchange]]\nname = \"stop\"\nkind = \"stopncii\"\nbank = \"lists\"\nurl = \"http://127.0.0.1:9\"\ninterval_secs = 0\n\
             [exchange.credentials_env]\nsubscription_key = \"CANDOR_TEST_STOPNCII_KEY\"\nfetch_function_key = \"CANDOR_TEST_STOPNCII_FUNCTION\"\n",
            list.display().to_string()
        ),
    )
    .unwrap();
    let curator = token(&d, "curator");
    let platform = token(&d, "platform");
    let s = Server::start(&d);
    let (st, body) = call(
        &agent(),
        "POST",
        &format!("{}/v1/banks", s.base),
        &curator,
        "application/json",
        Some(
            &serde_json::json!({"name": "lists", "category": "STATEMENT_CATEGORY_CYBER_VIOLENCE",
            "pdq_threshold": 31})
            .to_string(),
        ),
    )
    .unwrap();
    assert_eq!(st, 201, "{body}");
    // An exchange created through HMA's API (disabled): the CLI sees it too.
    let (st, body) = call(
        &agent(),
        "POST",
        &format!("{}/c/exchanges", s.base),
        &curator,
        "application/json",
        Some(
            &serde_json::json!({"bank": "STOPPED", "api": "stop_ncii", "api_json": {"enabled": false}})
                .to_string(),
        ),
    )
    .unwrap();
    assert_eq!(st, 201, "{body}");
    s.kill();

    let (ok, out, err) = candor(&d, &cfg, &["exchange", "sync", "shared", "--quiet"]);
    assert!(ok, "{err}");
    let r = json(&out);
    assert_eq!(r["added"], 2, "{out}");
    assert_eq!(r["up_to_date"], true);
    assert!(err.contains("2 added"), "{err}");
    // Again: the file is unchanged.
    let (ok, out, err) = candor(&d, &cfg, &["exchange", "sync", "shared", "--quiet"]);
    assert!(ok, "{err}");
    assert_eq!(json(&out)["added"], 0, "{out}");

    // A missing credential: a clear error, exit 2, no secret printed.
    let (ok, _, err) = candor(&d, &cfg, &["exchange", "sync", "stop", "--quiet"]);
    assert!(!ok);
    assert!(
        err.contains("CANDOR_TEST_STOPNCII_FUNCTION is not set"),
        "{err}"
    );
    assert!(!err.contains("k-s3cret"), "{err}");
    let (ok, _, err) = candor(&d, &cfg, &["exchange", "sync", "nope", "--quiet"]);
    assert!(!ok && err.contains("no exchange \"nope\""), "{err}");

    let (ok, out, err) = candor(&d, &cfg, &["exchange", "status"]);
    assert!(ok, "{err}");
    let lines: Vec<_> = out.lines().map(json).collect();
    assert_eq!(lines.len(), 3, "{out}");
    assert_eq!(
        (
            lines[2]["name"].as_str(),
            lines[2]["defined_in"].as_str(),
            lines[2]["enabled"].as_bool()
        ),
        (Some("STOPPED"), Some("api"), Some(false)),
        "{out}"
    );
    assert_eq!(lines[0]["defined_in"], "config_file");
    let (ok, _, err) = candor(&d, &cfg, &["exchange", "sync", "STOPPED", "--quiet"]);
    assert!(!ok && err.contains("is disabled"), "{err}");
    assert_eq!(lines[0]["name"], "shared");
    assert_eq!(lines[0]["added"], 2);
    assert!(lines[0]["checkpoint"]
        .as_str()
        .unwrap()
        .starts_with("sha256:"));
    assert!(lines[0]["last_error"].is_null());
    assert_eq!(lines[1]["name"], "stop");
    assert!(lines[1]["last_error"]
        .as_str()
        .unwrap()
        .contains("is not set"));
    assert!(!out.contains("k-s3cret"));

    // The service started again matches what the exchange brought.
    let s = Server::start(&d);
    let (st, body) = call(
        &agent(),
        "GET",
        &format!("{}/v1/lookup?pdq={PDQ}", s.base),
        &platform,
        "",
        None,
    )
    .unwrap();
    assert_eq!(st, 200, "{body}");
    assert_eq!(
        json(&body)["matches"].as_array().unwrap().len(),
        1,
        "{body}"
    );
    s.kill();
}
