//! The console in a real browser: a fresh `candor serve`, a token of each role made by
//! `candor token create`, and `crates/candor-server/console/e2e/console.mjs` driving Debian's
//! headless Chromium through playwright-core (sign in as each role; review with the keyboard and
//! add to a bank; the next scan withheld; appeals, the original decider refused; retract a bank
//! entry; a policy field error; a notice proof verified in the browser and a tampered one
//! refused; tokens; the queue by priority, j/k/a/r, bulk selection; upload, search by hash,
//! enable/disable and import in a bank; compare two images; the structured policy preview; a
//! decision's notices as received; every page at 1280×800 and 390×844 checked by axe-core).
//! Screenshots of every page at both sizes go to `target/…/console-screenshots/` (printed),
//! with `readme-review.png` and `readme-transparency.png`, the README's pictures.
//!
//! Needs `chromium` (apt), `node` and `npm install` in the e2e directory (playwright-core from
//! its package-lock.json). Without them the test prints a notice and passes, unless
//! `CANDOR_REQUIRE_INTEGRATIONS=1` (set by `.ci/run`), which makes a missing piece a failure.

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::{token, Server};

fn e2e_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../candor-server/console/e2e")
}

fn chromium() -> Option<PathBuf> {
    if let Ok(p) = std::env::var("CHROMIUM") {
        return Some(PathBuf::from(p));
    }
    ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
}

/// What is missing to run the browser test, if anything.
fn missing() -> Option<String> {
    if chromium().is_none() {
        return Some("chromium is not installed (apt-get install chromium)".into());
    }
    match Command::new("node").arg("--version").output() {
        Ok(o) if o.status.success() => {}
        _ => return Some("node is not installed".into()),
    }
    if !e2e_dir().join("node_modules/playwright-core").is_dir() {
        return Some(format!(
            "playwright-core is not installed (cd {} && npm ci)",
            e2e_dir().display()
        ));
    }
    None
}

/// Where the screenshots go: beside the test binary, under the target directory.
fn screenshot_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    // target/<profile>/deps/console-… → target/<profile>/console-screenshots
    let profile = exe.parent().and_then(Path::parent).unwrap();
    profile.join("console-screenshots")
}

#[test]
fn console_in_headless_chromium() {
    let require = std::env::var("CANDOR_REQUIRE_INTEGRATIONS").as_deref() == Ok("1");
    if let Some(msg) = missing() {
        assert!(!require, "CANDOR_REQUIRE_INTEGRATIONS=1 and {msg}");
        // Straight to stderr (not eprintln!, which the test harness captures): a skip is seen.
        let _ = writeln!(std::io::stderr(), "SKIPPED: {msg}");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = Server::start(&data);
    let roles = ["admin", "curator", "reviewer", "platform", "auditor"];
    let mut tokens: Vec<(String, String)> = roles
        .iter()
        .map(|r| (format!("TOKEN_{}", r.to_uppercase()), token(&data, r)))
        .collect();
    // A second reviewer, who took no part in what the first decided.
    let out = Command::new(env!("CARGO_BIN_EXE_candor"))
        .args([
            "token",
            "create",
            "--role",
            "reviewer",
            "--name",
            "second-reviewer",
            "--data",
        ])
        .arg(&data)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    tokens.push((
        "TOKEN_REVIEWER2".into(),
        String::from_utf8(out.stdout).unwrap().trim().to_string(),
    ));
    let out = screenshot_dir();
    let _ = std::fs::remove_dir_all(&out);
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let status = Command::new("node")
        .arg("console.mjs")
        .current_dir(e2e_dir())
        .env("CANDOR_URL", &server.base)
        .envs(tokens)
        .env(
            "IMAGE",
            root.join("testdata/pdq/images/reference/bridge-mods/aaa-orig.jpg"),
        )
        .env(
            "DIH_A",
            root.join("testdata/pdq/images/reference/reg-test-input/dih/bridge-1-original.jpg"),
        )
        .env(
            "DIH_B",
            root.join("testdata/pdq/images/reference/reg-test-input/dih/bridge-2-rotate-90.jpg"),
        )
        .env("POLICIES", e2e_dir().join("policies.toml"))
        .env("OUT", &out)
        .env("CHROMIUM", chromium().unwrap())
        .status()
        .expect("node runs");
    server.kill();
    let _ = writeln!(std::io::stderr(), "console screenshots: {}", out.display());
    assert!(
        status.success(),
        "the console's browser test failed (see above)"
    );
    let shots = std::fs::read_dir(&out).unwrap().count();
    assert!(shots >= 40, "only {shots} screenshots in {}", out.display());
}
