//! The Matrix integrations against the real software (`integrations/tests/matrix_e2e.py`): a
//! Synapse from PyPI with the `candor_synapse` module, and matrix-content-scanner 1.0.8 with
//! `candor scan-file` as its script, both against this build's `candor serve`, on loopback.
//!
//! Needs Python packages (`matrix-synapse`, `matrix-content-scanner==1.0.8`, `base58`,
//! `python-magic`). Without them the test prints a notice and passes, unless
//! `CANDOR_REQUIRE_INTEGRATIONS=1` (set by `.ci/run`), which makes a missing package a failure.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The whole script (two Synapse starts, the scanner, Candor) under a loaded machine.
const LIMIT: Duration = Duration::from_secs(900);

fn python() -> String {
    std::env::var("CANDOR_PYTHON").unwrap_or_else(|_| "python3".into())
}

#[test]
fn synapse_module_and_content_scanner() {
    let require = std::env::var("CANDOR_REQUIRE_INTEGRATIONS").as_deref() == Ok("1");
    let probe = Command::new(python())
        .args([
            "-c",
            "import synapse.module_api, matrix_content_scanner.mcs, magic, base58",
        ])
        .output();
    let missing = match &probe {
        Ok(o) if o.status.success() => None,
        Ok(o) => Some(String::from_utf8_lossy(&o.stderr).trim().to_string()),
        Err(e) => Some(format!("{}: {e}", python())),
    };
    if let Some(why) = missing {
        let msg = format!(
            "the Matrix integration test needs Python packages: {why}\n  install: {} -m pip install \
             matrix-synapse matrix-content-scanner==1.0.8 base58 python-magic",
            python()
        );
        assert!(!require, "CANDOR_REQUIRE_INTEGRATIONS=1 and {msg}");
        // Straight to stderr (not eprintln!, which the test harness captures): a skip is seen.
        let _ = writeln!(std::io::stderr(), "SKIPPED: {msg}");
        return;
    }

    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let out = tempfile::tempdir().unwrap();
    let log = out.path().join("e2e.log");
    let file = std::fs::File::create(&log).unwrap();
    let mut child = Command::new(python())
        .arg(root.join("integrations/tests/matrix_e2e.py"))
        .arg("--candor")
        .arg(env!("CARGO_BIN_EXE_candor"))
        .stdin(Stdio::null())
        .stdout(file.try_clone().unwrap())
        .stderr(file)
        .spawn()
        .unwrap();
    let deadline = Instant::now() + LIMIT;
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break Some(st);
        }
        if Instant::now() > deadline {
            // SIGTERM: the script stops Synapse, the scanner and Candor itself.
            let _ = Command::new("kill")
                .args(["-TERM", &child.id().to_string()])
                .status();
            let stopped = Instant::now() + Duration::from_secs(30);
            while child.try_wait().unwrap().is_none() && Instant::now() < stopped {
                std::thread::sleep(Duration::from_millis(200));
            }
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    println!("{text}");
    match status {
        Some(st) if st.success() => assert!(text.contains("all checks passed"), "{text}"),
        Some(st) => panic!("matrix_e2e.py failed ({st}):\n{text}"),
        None => panic!("matrix_e2e.py did not finish within {LIMIT:?}:\n{text}"),
    }
}
