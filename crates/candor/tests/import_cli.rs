//! `candor import` / `candor export` end to end: the real binary on the sample lists in
//! testdata/formats, a service started on the same data directory to check what matches.
use std::path::{Path, PathBuf};
use std::process::Command;

mod common;
use common::{agent, bin, call, json, token, Server};

fn formats() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../testdata/formats")
}

fn candor(dir: &Path, args: &[&str]) -> (bool, String, String) {
    let out = Command::new(bin())
        .args(args)
        .arg("--data")
        .arg(dir)
        .arg("--quiet")
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn try_export(dir: &Path, format: &str, bank: &str) -> (bool, String, String) {
    let out = Command::new(bin())
        .args(["export", "--format", format, "--bank", bank, "--data"])
        .arg(dir)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn export(dir: &Path, format: &str, bank: &str) -> String {
    let (ok, out, err) = try_export(dir, format, bank);
    assert!(ok, "{err}");
    out
}

fn lookup(s: &Server, tok: &str, q: &str) -> usize {
    let (st, body) = call(
        &agent(),
        "GET",
        &format!("{}/v1/lookup?{q}", s.base),
        tok,
        "",
        None,
    )
    .unwrap();
    assert_eq!(st, 200, "{body}");
    json(&body)["matches"].as_array().unwrap().len()
}

const PDQ: &str = "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22";

#[test]
fn import_export_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let curator = token(d, "curator");
    let platform = token(d, "platform");
    let s = Server::start(d);
    for bank in ["lists", "copy"] {
        let (st, body) = call(
            &agent(),
            "POST",
            &format!("{}/v1/banks", s.base),
            &curator,
            "application/json",
            Some(
                &serde_json::json!({"name": bank, "category": "STATEMENT_CATEGORY_PROTECTION_OF_MINORS",
                "pdq_threshold": 31})
                .to_string(),
            ),
        )
        .unwrap();
        assert_eq!(st, 201, "{body}");
    }
    s.kill();

    // A malformed record: refused with its number, nothing written.
    let bad = d.join("bad.jsonl");
    std::fs::write(
        &bad,
        format!("{{\"hash_digest\":\"{PDQ}\",\"algorithm\":\"PDQ\",\"deleted\":false}}\n{{\"hash_digest\":\"zz\",\"algorithm\":\"MD5\",\"deleted\":false}}\n"),
    )
    .unwrap();
    let (ok, _, err) = candor(
        d,
        &[
            "import",
            "--format",
            "tcap",
            "--bank",
            "lists",
            bad.to_str().unwrap(),
        ],
    );
    assert!(!ok);
    assert!(
        err.contains("record 2") && err.contains("nothing was imported"),
        "{err}"
    );
    assert_eq!(export(d, "lines", "lists"), "");

    // NCMEC XML: 5 fingerprints Candor has (md5, sha1, pdq; pdna skipped), 2 deletions of
    // entries the bank does not hold.
    let xml = formats().join("ncmec-entries.xml");
    let (ok, out, err) = candor(
        d,
        &[
            "import",
            "--format",
            "ncmec",
            "--bank",
            "lists",
            xml.to_str().unwrap(),
        ],
    );
    assert!(ok, "{err}");
    let r = json(out.trim());
    assert_eq!(
        (r["added"].as_u64(), r["retracted"].as_u64()),
        (Some(5), Some(0)),
        "{r}"
    );
    // TCAP: 3 additions, then its deleted PDQ (not in the bank: skipped).
    let tcap = formats().join("tcap.json");
    let (ok, out, err) = candor(
        d,
        &[
            "import",
            "--format",
            "tcap",
            "--bank",
            "lists",
            tcap.to_str().unwrap(),
        ],
    );
    assert!(ok, "{err}");
    assert_eq!(json(out.trim())["added"], 3);
    // StopNCII: its Withdrawn record retracts nothing here; the other two are added.
    let st = formats().join("stopncii-page.json");
    let (ok, out, err) = candor(
        d,
        &[
            "import",
            "--format",
            "stopncii",
            "--bank",
            "lists",
            st.to_str().unwrap(),
        ],
    );
    assert!(ok, "{err}");
    assert_eq!(json(out.trim())["added"], 2);
    // A deletion by value retracts every live content with that signal (TCAP listed the PDQ,
    // StopNCII and NCMEC too).
    let del = d.join("del.jsonl");
    std::fs::write(
        &del,
        format!("{{\"signalType\":\"ImagePDQ\",\"hashValue\":\"{PDQ}\",\"hashStatus\":\"Deleted\",\"caseNumbers\":{{}}}}\n"),
    )
    .unwrap();
    let (ok, out, err) = candor(
        d,
        &[
            "import",
            "--format",
            "stopncii",
            "--bank",
            "lists",
            del.to_str().unwrap(),
        ],
    );
    assert!(ok, "{err}");
    assert_eq!(json(out.trim())["retracted"], 3);
    // NCMEC deletion by entry id only: image1's three fingerprints (its PDQ already retracted).
    let xml_del = d.join("del.xml");
    std::fs::write(
        &xml_del,
        "<queryResult><images><deletedImage><id>image1</id></deletedImage></images></queryResult>",
    )
    .unwrap();
    let (ok, out, err) = candor(
        d,
        &[
            "import",
            "--format",
            "ncmec",
            "--bank",
            "lists",
            xml_del.to_str().unwrap(),
        ],
    );
    assert!(ok, "{err}");
    assert_eq!(json(out.trim())["retracted"], 2, "{out}");

    // Export every format and import it into another bank: the same live signals.
    let lines = export(d, "lines", "lists");
    assert_eq!(lines.lines().count(), 5, "{lines}");
    let mut want: Vec<&str> = lines.lines().collect();
    want.sort_unstable();
    want.dedup(); // StopNCII and TCAP both listed the MD5
    assert_eq!(want.len(), 4, "{lines}");
    // The bank holds a SHA-256 (from TCAP), which NCMEC's format has no field for.
    let (ok, _, err) = try_export(d, "ncmec", "lists");
    assert!(!ok && err.contains("NCMEC has no sha256 signal"), "{err}");
    for format in ["lines", "hma-csv", "tcap"] {
        let text = export(d, format, "lists");
        let f = d.join(format!("export.{format}"));
        std::fs::write(&f, &text).unwrap();
        let (ok, _, err) = candor(
            d,
            &[
                "import",
                "--format",
                format,
                "--bank",
                "copy",
                f.to_str().unwrap(),
            ],
        );
        assert!(ok, "{format}: {err}");
        let copy = export(d, "lines", "copy");
        let mut got: Vec<&str> = copy.lines().collect();
        got.sort_unstable();
        got.dedup();
        assert_eq!(got, want, "{format}");
    }

    // The service matches what was imported and not what was retracted.
    let s = Server::start(d);
    // One in `lists`, three in `copy` (imported from three exports).
    assert_eq!(
        lookup(
            &s,
            &platform,
            "sha1=b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1"
        ),
        4
    );
    assert_eq!(
        lookup(
            &s,
            &platform,
            "sha1=a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1"
        ),
        0
    );
    assert_eq!(
        lookup(
            &s,
            &platform,
            "sha256=e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        ),
        4
    );
    assert_eq!(lookup(&s, &platform, &format!("pdq={PDQ}")), 0);
    s.kill();
}
