//! `candor hash` end to end: the real binary on real files.
use serde_json::Value;
use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

fn candor() -> Command {
    Command::new(env!("CARGO_BIN_EXE_candor"))
}

fn images() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../testdata/pdq/images")
}

fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("candor-hash-cli-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn jsonl(out: &[u8]) -> Vec<Value> {
    String::from_utf8_lossy(out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn vector(file: &str) -> Vec<String> {
    let tsv = std::fs::read_to_string(images().join("../pdq-vectors.tsv")).unwrap();
    let line = tsv.lines().find(|l| l.starts_with(file)).unwrap();
    line.split('\t').map(str::to_string).collect()
}

#[test]
fn hashes_a_png_exactly_with_dihedral() {
    let file = "synthetic/synth-7-777x555.png";
    let out = candor()
        .arg("hash")
        .arg("--dihedral")
        .arg(images().join(file))
        .output()
        .unwrap();
    assert!(out.status.success());
    let r = &jsonl(&out.stdout)[0];
    let want = vector(file);
    assert_eq!(r["pdq"], want[3]);
    assert_eq!(r["quality"].as_u64().unwrap().to_string(), want[4]);
    let dihedral: Vec<&str> = r["dihedral"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(
        dihedral,
        want[5..13].iter().map(String::as_str).collect::<Vec<_>>()
    );
    assert_eq!(
        r["size"],
        std::fs::metadata(images().join(file)).unwrap().len()
    );
    assert_eq!(r["md5"].as_str().unwrap().len(), 32);
    assert_eq!(r["sha256"].as_str().unwrap().len(), 64);
    // SHA-1 of the file's bytes, as `sha1sum` prints it.
    use sha1::Digest;
    let bytes = std::fs::read(images().join(file)).unwrap();
    let want: String = sha1::Sha1::digest(&bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(r["sha1"].as_str().unwrap(), want);
}

#[test]
fn walks_directories_in_order_and_parallel_equals_serial() {
    let dir = images().join("synthetic");
    let serial = candor()
        .args(["hash", "--jobs", "1"])
        .arg(&dir)
        .output()
        .unwrap();
    let parallel = candor()
        .args(["hash", "--jobs", "4"])
        .arg(&dir)
        .output()
        .unwrap();
    assert!(serial.status.success() && parallel.status.success());
    assert_eq!(serial.stdout, parallel.stdout);
    let rows = jsonl(&serial.stdout);
    let n = std::fs::read_dir(&dir).unwrap().count();
    assert_eq!(rows.len(), n);
    let paths: Vec<&str> = rows.iter().map(|r| r["path"].as_str().unwrap()).collect();
    let mut sorted = paths.clone();
    sorted.sort();
    assert_eq!(paths, sorted);
    assert!(rows
        .iter()
        .all(|r| r["pdq"].is_string() && r.get("dihedral").is_none()));
}

#[test]
fn reads_standard_input() {
    let png = std::fs::read(images().join("synthetic/synth-7-300x200.png")).unwrap();
    let mut child = candor()
        .args(["hash", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(&png).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let r = &jsonl(&out.stdout)[0];
    assert_eq!(r["path"], "-");
    assert_eq!(r["pdq"], vector("synthetic/synth-7-300x200.png\t")[3]);
}

#[test]
fn failures_are_records_and_a_nonzero_exit() {
    let d = scratch("fail");
    let jpg = std::fs::read(images().join("reference/bridge-mods/aaa-orig.jpg")).unwrap();
    // A JPEG header with nothing decodable behind it: an error record.
    let mut broken = jpg[..20].to_vec();
    broken.extend(std::iter::repeat_n(0x5Au8, 4096));
    std::fs::write(d.join("broken.jpg"), &broken).unwrap();
    // Cut in half: hashed as far as it goes, as a browser shows it (not a failure).
    std::fs::write(d.join("cut.jpg"), &jpg[..jpg.len() / 2]).unwrap();
    std::fs::write(d.join("notes.txt"), b"plain text").unwrap();
    let out = candor()
        .arg("hash")
        .arg(&d)
        .arg(d.join("missing.png"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let rows = jsonl(&out.stdout);
    assert_eq!(rows.len(), 4);
    let bad = &rows[0];
    assert!(
        bad["error"].as_str().unwrap().contains("cannot be decoded"),
        "{bad}"
    );
    assert!(bad["md5"].is_string(), "digests are still reported: {bad}");
    assert!(
        rows[1]["error"].is_null() && rows[1]["pdq"].is_string(),
        "{}",
        rows[1]
    );
    assert!(rows[2]["error"].is_null() && rows[2]["pdq"].is_null() && rows[2]["md5"].is_string());
    assert!(
        rows[3]["error"].is_string() && rows[3]["path"].as_str().unwrap().ends_with("missing.png")
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("2 of 4 failed"));
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn tsv_has_a_header_and_one_row_per_file() {
    let d = scratch("tsv");
    let framed = d.join("tab\there.png");
    // A framed image: gets a trimmed hash.
    let inner = image::open(images().join("synthetic/synth-7-300x200.png"))
        .unwrap()
        .to_rgb8();
    let mut canvas = image::RgbImage::from_pixel(360, 260, image::Rgb([255, 255, 255]));
    image::imageops::replace(&mut canvas, &inner, 30, 30);
    canvas
        .save_with_format(&framed, image::ImageFormat::Png)
        .unwrap();
    let out = candor()
        .args(["hash", "--format", "tsv", "--dihedral"])
        .arg(&framed)
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2);
    let header: Vec<&str> = lines[0].split('\t').collect();
    let row: Vec<&str> = lines[1].split('\t').collect();
    assert_eq!(header.len(), row.len());
    let col = |name: &str| row[header.iter().position(|h| *h == name).unwrap()];
    assert!(col("path").ends_with("tab\\there.png"));
    assert_eq!(col("dihedral").split(',').count(), 8);
    assert_eq!(col("dihedral_trimmed").split(',').count(), 8);
    // The trimmed hash is the inner picture's hash, near enough to match.
    let inner_hash = vector("synthetic/synth-7-300x200.png\t")[3].clone();
    let d_trim = distance(col("pdq_trimmed"), &inner_hash);
    let d_full = distance(col("pdq"), &inner_hash);
    assert!(
        d_trim <= 8 && d_full > 31,
        "trimmed {d_trim}, full {d_full}"
    );
    std::fs::remove_dir_all(&d).unwrap();
}

fn distance(a: &str, b: &str) -> u32 {
    let a = candor_signal::PdqHash::from_hex(a).unwrap();
    a.distance(&candor_signal::PdqHash::from_hex(b).unwrap())
}

#[test]
fn bad_arguments_are_usage_errors() {
    let out = candor().arg("hash").output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("PATHS"));
    let out = candor()
        .args(["hash", "--format", "xml", "x"])
        .output()
        .unwrap();
    assert!(!out.status.success());
}

#[test]
fn a_closed_pipe_ends_quietly() {
    let mut child = candor()
        // Far more output (about 400 KB) than a pipe buffers.
        .args(["hash", "--jobs", "1", "--dihedral"])
        .args([images(), images(), images(), images(), images()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Read one line, then hang up.
    let mut stdout = child.stdout.take().unwrap();
    let mut first = [0u8; 16];
    std::io::Read::read_exact(&mut stdout, &mut first).unwrap();
    drop(stdout);
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{:?} {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!String::from_utf8_lossy(&out.stderr).contains("error"));
}

/// With the `video` feature: a video gets a `vpdq` field, bit-exact with PyPI vpdq's signal
/// string (testdata/vpdq/expected.json), beside its digests; non-videos get none.
#[cfg(feature = "video")]
#[test]
fn hashes_a_video_with_vpdq() {
    let vpdq = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../testdata/vpdq");
    let expected: Value =
        serde_json::from_str(&std::fs::read_to_string(vpdq.join("expected.json")).unwrap())
            .unwrap();
    // PyPI vpdq's signal string for the WebM clip at `seconds_per_hash`.
    let signal_of = |seconds_per_hash: f64| {
        expected
            .as_array()
            .unwrap()
            .iter()
            .find(|v| {
                v["video"] == "testsrc2-vp9.webm" && v["seconds_per_hash"] == seconds_per_hash
            })
            .unwrap()["signal"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let out = candor()
        .arg("hash")
        .arg(vpdq.join("videos/testsrc2-vp9.webm"))
        .arg(vpdq.join("make_vectors.py"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let records = jsonl(&out.stdout);
    let v = &records[0];
    assert_eq!(v["md5"].as_str().unwrap().len(), 32);
    assert!(v.get("pdq").is_none());
    let signal = serde_json::to_string(&v["vpdq"])
        .unwrap()
        .replace("\",\"", "\", \"");
    assert_eq!(signal, signal_of(1.0));
    assert!(records[1].get("vpdq").is_none());
    // TSV carries the signal string; every frame with --seconds-per-hash 0.
    let out = candor()
        .args(["hash", "--format", "tsv", "--seconds-per-hash", "0"])
        .arg(vpdq.join("videos/testsrc2-vp9.webm"))
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let header: Vec<&str> = lines[0].split('\t').collect();
    let row: Vec<&str> = lines[1].split('\t').collect();
    let col = row[header.iter().position(|h| *h == "vpdq").unwrap()];
    assert_eq!(col, signal_of(0.0));
    // A truncated video is an error, not a silent digest-only record.
    let d = scratch("video");
    let bytes = std::fs::read(vpdq.join("videos/testsrc2.mp4")).unwrap();
    std::fs::write(d.join("cut.mp4"), &bytes[..bytes.len() / 2]).unwrap();
    let out = candor()
        .arg("hash")
        .arg(d.join("cut.mp4"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let r = &jsonl(&out.stdout)[0];
    assert!(r.get("vpdq").is_none());
    assert!(
        r["error"].as_str().unwrap().contains("cut or corrupt"),
        "{r}"
    );
    assert_eq!(r["md5"].as_str().unwrap().len(), 32);
    std::fs::remove_dir_all(&d).unwrap();
}
