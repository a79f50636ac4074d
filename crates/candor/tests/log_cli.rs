//! `candor log verify` and `candor log verify-proof`: the real binary against logs and proof
//! files written here.
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use candor_log::commit::{content_commitment, to_hex};
use candor_log::entry::{examples, Entry, EntryBody};
use candor_log::proof::ProofFile;
use candor_log::static_dir::write_static_dir;
use candor_log::stored::prove_inclusion;
use candor_log::{sign_checkpoint, Checkpoint, Signer, StoredHashes};

const ORIGIN: &str = "candor.example/log";

fn signer() -> Signer {
    Signer::from_seed(ORIGIN, &[42; 32]).unwrap()
}

fn key() -> String {
    signer().verifier().to_text()
}

fn candor(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_candor"))
        .args(args)
        .output()
        .unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

const NONCE: [u8; 32] = [5; 32];

fn entries(n: usize) -> Vec<Entry> {
    // The eight version-1 types (the counts asserted below are computed for them); the
    // version-2 forms are verified by candor-log's own tests and the service's.
    let ex = &examples()[..8];
    (0..n)
        .map(|i| {
            let mut e = ex[i % ex.len()].clone();
            if let EntryBody::Decision(d) = &mut e.body {
                d.decision = format!("d{i}");
                d.content_commitment = content_commitment(&NONCE, &format!("post/{i}"));
            }
            e
        })
        .collect()
}

fn log_dir(n: usize) -> (tempfile::TempDir, Vec<Entry>) {
    let dir = tempfile::tempdir().unwrap();
    let es = entries(n);
    write_static_dir(dir.path(), &es, &signer()).unwrap();
    (dir, es)
}

#[test]
fn verify_dir_ok_and_tampered() {
    let (dir, _) = log_dir(300);
    let d = dir.path().to_str().unwrap();
    let out = candor(&["log", "verify", "--dir", d, "--key", &key()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let so = text(&out.stdout);
    assert!(so.contains("size: 300"), "{so}");
    assert!(so.contains("decision: 38"), "{so}");
    assert!(so.contains("root: "), "{so}");

    // The key from a file, and --since with an earlier checkpoint of the same log.
    let keyfile = dir.path().join("key");
    let since = tempfile::tempdir().unwrap();
    let (old_dir, _) = {
        let d2 = since.path().join("old");
        write_static_dir(&d2, &entries(100), &signer()).unwrap();
        (d2, ())
    };
    let out = candor(&[
        "log",
        "verify",
        "--dir",
        d,
        "--key",
        keyfile.to_str().unwrap(),
        "--since",
        old_dir.join("checkpoint").to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));

    // A forged earlier checkpoint: exit 1.
    let forged = since.path().join("forged");
    let mut other = entries(100);
    other.swap(0, 1);
    write_static_dir(&forged, &other, &signer()).unwrap();
    let out = candor(&[
        "log",
        "verify",
        "--dir",
        d,
        "--key",
        &key(),
        "--since",
        forged.join("checkpoint").to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let se = text(&out.stderr);
    assert!(se.starts_with("candor: log verification failed: "), "{se}");
    assert!(se.contains("since checkpoint"), "{se}");

    // A tampered tile: exit 1 naming it.
    let tile = dir.path().join("tile/0/000");
    let mut b = std::fs::read(&tile).unwrap();
    b[77] ^= 0x10;
    std::fs::write(&tile, &b).unwrap();
    let out = candor(&["log", "verify", "--dir", d, "--key", &key()]);
    assert_eq!(out.status.code(), Some(1));
    let se = text(&out.stderr);
    assert!(
        se.starts_with("candor: log verification failed: ") && se.contains("tile/0/000"),
        "{se}"
    );

    // Another key: exit 1.
    let other = Signer::from_seed(ORIGIN, &[1; 32])
        .unwrap()
        .verifier()
        .to_text();
    let out = candor(&["log", "verify", "--dir", d, "--key", &other]);
    assert_eq!(out.status.code(), Some(1));

    // Usage errors: exit 2.
    let out = candor(&["log", "verify", "--dir", d, "--key", "not-a-key"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    let out = candor(&["log", "verify", "--dir", d]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
}

/// A minimal HTTP/1.1 file server for `dir` under `/log/` (one request per connection).
fn serve(dir: PathBuf) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut request = String::new();
            if reader.read_line(&mut request).is_err() {
                continue;
            }
            loop {
                let mut h = String::new();
                if reader.read_line(&mut h).is_err() || h == "\r\n" || h.is_empty() {
                    break;
                }
            }
            let path = request.split(' ').nth(1).unwrap_or("").to_owned();
            let body = path
                .strip_prefix("/log/")
                .filter(|p| !p.contains(".."))
                .and_then(|p| std::fs::read(dir.join(p)).ok());
            let (status, body) = match body {
                Some(b) => ("200 OK", b),
                None => ("404 Not Found", b"not found".to_vec()),
            };
            let head = format!(
                "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = stream.write_all(head.as_bytes());
            let _ = stream.write_all(&body);
        }
    });
    format!("http://{addr}/log")
}

#[test]
fn verify_url_with_and_without_pinned_key() {
    let (dir, _) = log_dir(1000);
    let url = serve(dir.path().to_path_buf());
    let out = candor(&["log", "verify", "--url", &url, "--key", &key()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("size: 1000"));
    assert!(!text(&out.stderr).contains("warning"));

    let out = candor(&["log", "verify", "--url", &format!("{url}/")]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let se = text(&out.stderr);
    assert!(se.contains("warning") && se.contains("not pinned"), "{se}");

    // Tampered numbers over HTTP: exit 1 naming the field.
    let numbers = dir.path().join("numbers");
    let s = std::fs::read_to_string(&numbers).unwrap();
    std::fs::write(
        &numbers,
        s.replace("\"policy_changes\":125", "\"policy_changes\":126"),
    )
    .unwrap();
    let out = candor(&["log", "verify", "--url", &url, "--key", &key()]);
    assert_eq!(out.status.code(), Some(1));
    let se = text(&out.stderr);
    assert!(se.contains("numbers field policy_changes"), "{se}");

    // Nothing listening: exit 1.
    let out = candor(&[
        "log",
        "verify",
        "--url",
        "http://127.0.0.1:9/log",
        "--key",
        &key(),
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
}

fn proof_file(es: &[Entry], index: u64) -> String {
    let raw: Vec<Vec<u8>> = es.iter().map(|e| e.encode_checked().unwrap()).collect();
    let mut stored = StoredHashes::new();
    for e in &raw {
        stored.append_entry(e).unwrap();
    }
    let size = stored.size();
    let cp = Checkpoint::new(ORIGIN, size, stored.root());
    let signed = sign_checkpoint(&signer(), None, &cp, &[]).unwrap();
    ProofFile {
        extra: Some(raw[index as usize].clone()),
        index,
        proof: prove_inclusion(size, index, &stored).unwrap(),
        checkpoint: signed,
    }
    .encode()
}

fn write(dir: &Path, name: &str, data: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, data).unwrap();
    p.to_str().unwrap().to_owned()
}

#[test]
fn verify_proof_files() {
    let tmp = tempfile::tempdir().unwrap();
    let es = entries(50);
    // Entry 42 is a decision (42 % 8 == 2).
    let proof = proof_file(&es, 42);
    let f = write(tmp.path(), "ok.tlog-proof", &proof);
    let out = candor(&["log", "verify-proof", &f, "--key", &key()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let so = text(&out.stdout);
    assert!(so.contains("index: 42"), "{so}");
    assert!(so.contains(&format!("origin {ORIGIN} size 50")), "{so}");
    assert!(so.contains("\"decision\":\"d42\""), "{so}");

    // Opening the content commitment with the notice's nonce and content id.
    let nonce = to_hex(&NONCE);
    let out = candor(&[
        "log",
        "verify-proof",
        &f,
        "--key",
        &key(),
        "--open-content",
        "post/42",
        "--nonce",
        &nonce,
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("content commitment: opens"));
    let out = candor(&[
        "log",
        "verify-proof",
        &f,
        "--key",
        &key(),
        "--open-content",
        "post/43",
        "--nonce",
        &nonce,
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("does not open"));

    // Not a decision: cannot open.
    let f0 = write(tmp.path(), "bank.tlog-proof", &proof_file(&es, 0));
    let out = candor(&[
        "log",
        "verify-proof",
        &f0,
        "--key",
        &key(),
        "--open-content",
        "post/0",
        "--nonce",
        &nonce,
    ]);
    assert_eq!(out.status.code(), Some(1));

    // Tampered: a proof hash, the index, the entry, the checkpoint.
    let lines: Vec<&str> = proof.split('\n').collect();
    let mut tampered: BTreeMap<&str, String> = BTreeMap::new();
    let mut l = lines.clone();
    let h = l[3].replacen('A', "B", 1);
    let h = if h == l[3] {
        l[3].replacen(|c: char| c.is_ascii_alphabetic(), "A", 1)
    } else {
        h
    };
    l[3] = &h;
    tampered.insert("hash", l.join("\n"));
    tampered.insert("index", proof.replace("index 42\n", "index 41\n"));
    let other_extra = {
        let mut e = es[42].clone();
        if let EntryBody::Decision(d) = &mut e.body {
            d.recipients += 1;
        }
        proof_file(&[e], 0).lines().nth(1).unwrap().to_owned()
    };
    tampered.insert("extra", proof.replacen(lines[1], &other_extra, 1));
    tampered.insert("checkpoint", proof.replace("\n50\n", "\n51\n"));
    for (what, t) in tampered {
        assert_ne!(t, proof, "{what}");
        let f = write(tmp.path(), &format!("{what}.tlog-proof"), &t);
        let out = candor(&["log", "verify-proof", &f, "--key", &key()]);
        assert_eq!(out.status.code(), Some(1), "{what}: {}", text(&out.stdout));
        let se = text(&out.stderr);
        assert!(
            se.starts_with("candor: log verification failed: "),
            "{what}: {se}"
        );
    }
    // Another key.
    let other = Signer::from_seed(ORIGIN, &[1; 32])
        .unwrap()
        .verifier()
        .to_text();
    let out = candor(&["log", "verify-proof", &f, "--key", &other]);
    assert_eq!(out.status.code(), Some(1));
}
