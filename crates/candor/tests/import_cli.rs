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

/// `candor import --format FORMAT --bank BANK FILE` into `dir`.
fn import(dir: &Path, format: &str, bank: &str, file: &Path) -> (bool, String, String) {
    candor(
        dir,
        &[
            "import",
            "--format",
            format,
            "--bank",
            bank,
            file.to_str().unwrap(),
        ],
    )
}

/// Create bank `name` through the service.
fn create_bank(s: &Server, curator: &str, name: &str) {
    let (st, body) = call(
        &agent(),
        "POST",
        &format!("{}/v1/banks", s.base),
        curator,
        "application/json",
        Some(&format!(
            r#"{{"name":"{name}","category":"STATEMENT_CATEGORY_PROTECTION_OF_MINORS","pdq_threshold":31}}"#
        )),
    )
    .unwrap();
    assert_eq!(st, 201, "{body}");
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
        create_bank(&s, &curator, bank);
    }
    s.kill();

    // A malformed record: refused with its number, nothing written.
    let bad = d.join("bad.jsonl");
    std::fs::write(
        &bad,
        format!("{{\"hash_digest\":\"{PDQ}\",\"algorithm\":\"PDQ\",\"deleted\":false}}\n{{\"hash_digest\":\"zz\",\"algorithm\":\"MD5\",\"deleted\":false}}\n"),
    )
    .unwrap();
    let (ok, _, err) = import(d, "tcap", "lists", &bad);
    assert!(!ok);
    assert!(
        err.contains("record 2") && err.contains("nothing was imported"),
        "{err}"
    );
    assert_eq!(export(d, "lines", "lists"), "");

    // NCMEC XML: 5 fingerprints Candor has (md5, sha1, pdq; pdna skipped), 2 deletions of
    // entries the bank does not hold.
    let xml = formats().join("ncmec-entries.xml");
    let (ok, out, err) = import(d, "ncmec", "lists", &xml);
    assert!(ok, "{err}");
    let r = json(out.trim());
    assert_eq!(
        (r["added"].as_u64(), r["retracted"].as_u64()),
        (Some(5), Some(0)),
        "{r}"
    );
    // TCAP: 3 additions, then its deleted PDQ (not in the bank: skipped).
    let tcap = formats().join("tcap.json");
    let (ok, out, err) = import(d, "tcap", "lists", &tcap);
    assert!(ok, "{err}");
    assert_eq!(json(out.trim())["added"], 3);
    // StopNCII: its Withdrawn record retracts nothing here; the other two are added.
    let st = formats().join("stopncii-page.json");
    let (ok, out, err) = import(d, "stopncii", "lists", &st);
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
    let (ok, out, err) = import(d, "stopncii", "lists", &del);
    assert!(ok, "{err}");
    assert_eq!(json(out.trim())["retracted"], 3);
    // NCMEC deletion by entry id only: image1's three fingerprints (its PDQ already retracted).
    let xml_del = d.join("del.xml");
    std::fs::write(
        &xml_del,
        "<queryResult><images><deletedImage><id>image1</id></deletedImage></images></queryResult>",
    )
    .unwrap();
    let (ok, out, err) = import(d, "ncmec", "lists", &xml_del);
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
        let (ok, _, err) = import(d, format, "copy", &f);
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

/// One TCAP record (JSON Lines).
fn tcap(hex: &str, alg: &str, id: Option<&str>, deleted: bool) -> String {
    let id = id.map(|i| format!(",\"id\":\"{i}\"")).unwrap_or_default();
    format!("{{\"hash_digest\":\"{hex}\",\"algorithm\":\"{alg}\",\"deleted\":{deleted}{id}}}\n")
}

fn log_size(s: &Server) -> u64 {
    let (st, body) = call(
        &agent(),
        "GET",
        &format!("{}/log/checkpoint", s.base),
        "",
        "",
        None,
    )
    .unwrap();
    assert_eq!(st, 200);
    body.lines().nth(1).unwrap().parse().unwrap()
}

/// A list of several write chunks streamed into one job gives what the list says, record by
/// record (checked against a model of the rules: a deletion undoes the additions earlier in
/// the list that carry its signal or its id, and retracts the bank's contents that do; a
/// deletion of nothing and an unknown signal are skipped; a re-sent addition is added again),
/// and a malformed record near the end of it writes nothing.
#[test]
fn a_large_list_streams_into_one_write() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let curator = token(d, "curator");
    let platform = token(d, "platform");
    let s = Server::start(d);
    create_bank(&s, &curator, "big");
    let size0 = log_size(&s);
    s.kill();
    let import = |file: &Path| import(d, "tcap", "big", file);
    let mut rng = common::Rng(0x5eed_2026_1202);

    // The bank before: 50 contents with ids.
    let pre: Vec<(String, Option<String>)> = (0..50)
        .map(|j| (rng.hash_hex(), Some(format!("p{j}"))))
        .collect();
    let text: String = pre
        .iter()
        .map(|(h, id)| tcap(h, "PDQ", id.as_deref(), false))
        .collect();
    std::fs::write(d.join("pre.jsonl"), text).unwrap();
    let (ok, _, err) = import(&d.join("pre.jsonl"));
    assert!(ok, "{err}");

    // The list: 10,000 records (the writer's chunks are 4,096), and the model's answer.
    let mut bank: Vec<(String, Option<String>, bool)> = pre
        .iter()
        .map(|(h, id)| (h.clone(), id.clone(), true))
        .collect();
    let mut pending: Vec<(String, Option<String>)> = Vec::new();
    let mut added_in_file: Vec<(String, Option<String>)> = Vec::new();
    let mut deleted_in_file: Vec<String> = Vec::new();
    let (mut retracted, mut skipped) = (0u64, 0u64);
    let mut text = String::new();
    let n = 10_000;
    for i in 0..n {
        let r = rng.below(100);
        let pick = |rng: &mut common::Rng, v: &Vec<(String, Option<String>)>| {
            v[rng.below(v.len() as u64) as usize].clone()
        };
        // (hash, id, deleted); None: an algorithm Candor does not have.
        let rec: Option<(String, Option<String>, bool)> = match r {
            _ if added_in_file.is_empty() || r < 66 => {
                Some((rng.hash_hex(), Some(format!("m{i}")), false))
            }
            66..=73 => {
                let (h, id) = pick(&mut rng, &added_in_file);
                Some((h, id, false)) // re-sent
            }
            74..=80 => {
                let (h, id) = pick(&mut rng, &added_in_file);
                Some((h, id, true)) // deleted later in the list, by value and id
            }
            81..=84 => {
                let (h, _) = pick(&mut rng, &added_in_file);
                Some((h, None, true)) // by value only
            }
            85..=88 => {
                let (h, id) = pick(&mut rng, &pre);
                Some((h, id, true)) // what the bank held
            }
            89..=91 => Some((rng.hash_hex(), Some(format!("x{i}")), true)), // nothing
            92..=95 if !deleted_in_file.is_empty() => {
                let h = deleted_in_file[rng.below(deleted_in_file.len() as u64) as usize].clone();
                Some((h, Some(format!("again{i}")), false)) // added after its deletion
            }
            _ => None,
        };
        match rec {
            None => {
                text.push_str(&tcap(&rng.hash_hex(), "PDNA", None, false));
                skipped += 1;
            }
            Some((h, id, false)) => {
                text.push_str(&tcap(&h, "PDQ", id.as_deref(), false));
                pending.push((h.clone(), id.clone()));
                added_in_file.push((h, id));
            }
            Some((h, id, true)) => {
                text.push_str(&tcap(&h, "PDQ", id.as_deref(), true));
                let matches = |(ph, pid): (&String, &Option<String>)| {
                    *ph == h || (id.is_some() && *pid == id)
                };
                let before = pending.len();
                pending.retain(|(ph, pid)| !matches((ph, pid)));
                let mut hit = 0;
                for (bh, bid, live) in bank.iter_mut() {
                    if *live && matches((&*bh, &*bid)) {
                        *live = false;
                        hit += 1;
                    }
                }
                retracted += hit;
                if hit == 0 && pending.len() == before {
                    skipped += 1;
                }
                deleted_in_file.push(h);
            }
        }
    }
    let added = pending.len() as u64;
    assert!(retracted > 10 && skipped > 100 && added > 5_000 && added < n as u64);
    let mut want: Vec<String> = (bank.iter().filter(|b| b.2).map(|b| b.0.clone()))
        .chain(pending.iter().map(|p| p.0.clone()))
        .collect();
    want.sort();

    // A malformed record near the end: refused with its number, nothing written.
    let mut lines: Vec<&str> = text.lines().collect();
    lines.insert(
        9_990,
        r#"{"hash_digest":"abc","algorithm":"PDQ","deleted":false}"#,
    );
    std::fs::write(d.join("bad.jsonl"), lines.join("\n")).unwrap();
    let before = export(d, "lines", "big");
    let (ok, _, err) = import(&d.join("bad.jsonl"));
    assert!(!ok);
    assert!(
        err.contains("record 9991") && err.contains("nothing was imported"),
        "{err}"
    );
    assert_eq!(export(d, "lines", "big"), before);

    let list = d.join("list.jsonl");
    std::fs::write(&list, &text).unwrap();
    let (ok, out, err) = import(&list);
    assert!(ok, "{err}");
    let r = json(out.trim());
    assert_eq!(
        (
            r["records"].as_u64(),
            r["added"].as_u64(),
            r["retracted"].as_u64(),
            r["skipped"].as_u64()
        ),
        (Some(n as u64), Some(added), Some(retracted), Some(skipped)),
        "{r}"
    );
    let mut got: Vec<String> = export(d, "lines", "big")
        .lines()
        .map(|l| l.strip_prefix("pdq ").expect(l).to_string())
        .collect();
    got.sort();
    assert_eq!(got.len(), want.len());
    assert!(got == want, "the bank differs from the list's model");

    // The service matches what the list left and nothing it deleted; one entry per change.
    let s = Server::start(d);
    assert_eq!(log_size(&s), size0 + 50 + added + retracted);
    let kept = &pending[pending.len() / 2].0;
    assert!(lookup(&s, &platform, &format!("pdq={kept}")) >= 1);
    for h in deleted_in_file.iter().take(50) {
        let live = want.binary_search(h).is_ok();
        assert_eq!(lookup(&s, &platform, &format!("pdq={h}")) > 0, live, "{h}");
    }
    s.kill();
}

/// `candor import` beside a running `candor serve` on the same SQLite data directory: the
/// import is written (the service's writer is not held between its batches), the service's
/// next write extends the log the import extended, and after its restart the service matches
/// the import and the log verifies.
#[test]
fn an_import_beside_a_running_service() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let curator = token(d, "curator");
    let platform = token(d, "platform");
    let s = Server::start(d);
    let bank = |name: &str| create_bank(&s, &curator, name);
    bank("lists");
    let tcap = formats().join("tcap.json");
    let (ok, out, err) = import(d, "tcap", "lists", &tcap);
    assert!(ok, "{err}");
    assert_eq!(json(out.trim())["added"], 3);
    // The service writes after the import: its writer picks up the entries the import added.
    bank("after");
    let size = log_size(&s);
    s.kill();
    let s = Server::start(d);
    assert_eq!(log_size(&s), size);
    assert_eq!(
        lookup(&s, &platform, &format!("pdq={PDQ}")),
        1,
        "the import matches after the restart"
    );
    let (_, key) = call(
        &agent(),
        "GET",
        &format!("{}/log/key", s.base),
        "",
        "",
        None,
    )
    .unwrap();
    common::verify_log(&s, key.trim());
    s.kill();
}
