//! `candor policy explain`: the simulator, the diff and the lints from the command line.

use std::process::Command;

fn candor(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_candor"))
        .args(args)
        .output()
        .expect("run candor")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

const EXAMPLE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../candor-policy/examples/policies.toml"
);
const TCAP: &str = "tcap-hashes=STATEMENT_CATEGORY_RISK_FOR_PUBLIC_SECURITY:31";
const NCMEC: &str = "ncmec-hashes=STATEMENT_CATEGORY_PROTECTION_OF_MINORS";

#[test]
fn explain_prints_every_cell_the_statements_and_the_lints() {
    let out = candor(&[
        "policy",
        "explain",
        EXAMPLE,
        "--define-bank",
        TCAP,
        "--define-bank",
        NCMEC,
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let so = text(&out.stdout);
    for needle in [
        "== bank ncmec-hashes",
        "== bank tcap-hashes",
        "W2",
        "H3",
        "terrorist-content-eu withhold",
        "== content that cannot be hashed ==",
        "== lints ==",
        "unhashable-undecided",
    ] {
        assert!(so.contains(needle), "{needle:?} not in\n{so}");
    }
    // The bank filter and the distance: above the policies' max_distance, nothing matches.
    let out = candor(&[
        "policy",
        "explain",
        EXAMPLE,
        "--define-bank",
        TCAP,
        "--bank",
        "tcap-hashes",
        "--distance",
        "32",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let so = text(&out.stdout);
    assert!(!so.contains("W2") && !so.contains("H3"), "{so}");
}

#[test]
fn explain_shows_what_a_change_would_change() {
    let dir = tempfile::tempdir().unwrap();
    let proposed = dir.path().join("proposed.toml");
    // The terrorist-content list no longer withheld in AT.
    let text_in = std::fs::read_to_string(EXAMPLE).unwrap();
    let changed = text_in.replacen("[\"AT\", \"BE\", \"DE\"", "[\"BE\", \"DE\"", 1);
    assert_ne!(changed, text_in);
    std::fs::write(&proposed, changed).unwrap();
    let p = proposed.to_str().unwrap();
    let out = candor(&[
        "policy",
        "explain",
        p,
        "--against",
        EXAMPLE,
        "--define-bank",
        TCAP,
        "--bank",
        "tcap-hashes",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let so = text(&out.stdout);
    assert!(so.contains("== changes from"), "{so}");
    assert!(
        so.contains(
            "to AT: withhold (terrorist-content-eu) -> hold_for_review (terrorist-content-review)"
        ),
        "{so}"
    );
    // JSON has the same parts.
    let out = candor(&[
        "policy",
        "explain",
        p,
        "--against",
        EXAMPLE,
        "--define-bank",
        TCAP,
        "--json",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert!(v["simulation"]["blocks"].is_array());
    assert!(v["lints"].is_array());
    assert!(!v["diff"].as_array().unwrap().is_empty());
}

#[test]
fn explain_errors_are_clear() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "[[policy]]\nid = \"Bad Id\"\n").unwrap();
    let out = candor(&["policy", "explain", bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("bad.toml"),
        "{}",
        text(&out.stderr)
    );

    let out = candor(&[
        "policy",
        "explain",
        EXAMPLE,
        "--define-bank",
        "x=NOT_A_CATEGORY",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("not a DSA statement category"),
        "{}",
        text(&out.stderr)
    );
    let out = candor(&["policy", "explain", EXAMPLE, "--define-bank", "x"]);
    assert_eq!(out.status.code(), Some(2));

    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let out = candor(&[
        "policy",
        "explain",
        EXAMPLE,
        "--data",
        empty.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("holds no candor database"),
        "{}",
        text(&out.stderr)
    );
    let out = candor(&[
        "policy",
        "explain",
        dir.path().join("nope.toml").to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn explain_against_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    // A data directory with a store (as `candor token create` leaves it), no policies yet.
    let out = candor(&[
        "token",
        "create",
        "--data",
        data.to_str().unwrap(),
        "--role",
        "admin",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let d = data.to_str().unwrap();
    let out = candor(&["policy", "explain", EXAMPLE, "--data", d, "--against-store"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("no published policy set"),
        "{}",
        text(&out.stderr)
    );
    // Without banks in the store, it says so and still simulates unhashable content.
    let out = candor(&["policy", "explain", EXAMPLE, "--data", d]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("no banks known"));
    assert!(text(&out.stdout).contains("== content that cannot be hashed =="));
}
