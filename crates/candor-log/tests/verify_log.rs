//! Whole-log verification: static directories written then verified, and every kind of
//! tampering (any byte of any file, truncation, missing files, forged checkpoints, numbers).

use std::cell::Cell;
use std::collections::BTreeMap;

use candor_log::entry::{examples, examples_v2, Entry, EntryBody, ENTRY_TYPES};
use candor_log::numbers::Numbers;
use candor_log::static_dir::{log_files, write_static_dir, write_static_dir_bytes};
use candor_log::stored::tree_hash;
use candor_log::verify::{verify_log, DirFetch, Fetch};
use candor_log::{sign_checkpoint, Checkpoint, LogError, Signer, StoredHashes};

const ORIGIN: &str = "candor.example/log";

fn signer() -> Signer {
    Signer::from_seed(ORIGIN, &[42; 32]).unwrap()
}

/// `n` valid entries of every type, all distinct.
fn entries(n: usize) -> Vec<Entry> {
    // Every type, and the version-2 forms of the older ones.
    let ex: Vec<Entry> = examples().into_iter().chain(examples_v2()).collect();
    (0..n)
        .map(|i| {
            let mut e = ex[i % ex.len()].clone();
            e.time = format!(
                "2026-{:02}-{:02}T{:02}:{:02}:{:02}Z",
                1 + (i / 86_400 / 28) % 12,
                1 + (i / 86_400) % 28,
                (i / 3600) % 24,
                (i / 60) % 60,
                i % 60
            );
            let id = format!("id{i}");
            match &mut e.body {
                EntryBody::Bank(b) => b.bank = id,
                EntryBody::BankContent(b) => b.content = id,
                EntryBody::Decision(d) => {
                    d.decision = id;
                    d.policy = format!("p{}", (i / ex.len()) % 3);
                    d.recipients = i as u64;
                }
                EntryBody::Review(r) => r.review_item = id,
                EntryBody::Appeal(a) => a.appeal = id,
                EntryBody::AppealOutcome(a) => a.appeal = id,
                // The sampling settings keep their name.
                EntryBody::PolicyChange(p) if p.private_surfaces.is_none() => p.policy = id,
                EntryBody::PolicyChange(_) => {}
                EntryBody::NoticeDeferred(nd) if nd.review_item.is_some() => {
                    nd.review_item = Some(id)
                }
                EntryBody::NoticeDeferred(nd) => nd.decision = Some(id),
                EntryBody::Sampled(sa) => sa.review_item = id,
            }
            e
        })
        .collect()
}

fn encoded(es: &[Entry]) -> Vec<Vec<u8>> {
    es.iter().map(|e| e.encode_checked().unwrap()).collect()
}

fn files(n: usize) -> (Vec<Entry>, BTreeMap<String, Vec<u8>>) {
    let es = entries(n);
    let (_, f) = log_files(&encoded(&es), &signer(), &Numbers::from_entries(&es)).unwrap();
    (es, f)
}

fn verify(f: &dyn Fetch) -> Result<candor_log::Report, LogError> {
    verify_log(f, &signer().verifier(), None)
}

#[test]
fn static_dirs_of_many_sizes_verify() {
    for n in [0usize, 1, 2, 255, 256, 257, 1000, 70_000] {
        let dir = tempfile::tempdir().unwrap();
        let es = entries(n);
        let cp = write_static_dir(dir.path(), &es, &signer()).unwrap();
        assert_eq!(cp.size, n as u64);
        let report = verify(&DirFetch::new(dir.path())).unwrap_or_else(|e| panic!("{n}: {e}"));
        assert_eq!(report.size, n as u64);
        assert_eq!(report.root, cp.root);
        assert_eq!(report.numbers, Numbers::from_entries(&es));
        assert_eq!(report.entries_by_type.values().sum::<u64>(), n as u64);
        assert_eq!(report.entries_by_type.len(), ENTRY_TYPES.len());
        let key = std::fs::read_to_string(dir.path().join("key")).unwrap();
        assert_eq!(key, format!("{}\n", signer().verifier().to_text()));
        if n == 70_000 {
            // Three tile levels: 273 full + 1 partial, 1 full + 1 partial, 1 partial.
            assert!(dir.path().join("tile/2/000.p/1").exists());
            assert!(dir.path().join("tile/1/000").exists());
            assert!(dir.path().join("tile/1/001.p/17").exists());
            assert!(dir.path().join("tile/0/273.p/112").exists());
            assert!(dir.path().join("tile/entries/273.p/112").exists());
        }
    }
}

/// Positions to flip in a file of `len` bytes: all of them up to `all_up_to`, else `samples`
/// evenly spaced ones, including the first and the last byte.
fn positions(len: usize, all_up_to: usize, samples: usize) -> Vec<usize> {
    if len <= all_up_to {
        return (0..len).collect();
    }
    let mut p: Vec<usize> = (0..samples)
        .map(|i| i * (len - 1) / (samples - 1))
        .collect();
    p.sort();
    p.dedup();
    p
}

/// The files of `base` with one file replaced (`None`: removed).
struct Patched<'a> {
    base: &'a BTreeMap<String, Vec<u8>>,
    path: &'a str,
    data: Option<Vec<u8>>,
}

impl Fetch for Patched<'_> {
    fn get(&self, path: &str) -> Result<Option<Vec<u8>>, LogError> {
        if path == self.path {
            return Ok(self.data.clone());
        }
        Ok(self.base.get(path).cloned())
    }
}

/// Flip bytes of every file (every `file_stride`-th level-0 tile and bundle, plus the last), cut
/// and remove files; every change must fail verification.
fn tamper_everything(n: usize, all_up_to: usize, samples: usize, masks: &[u8], file_stride: usize) {
    let (_, f) = files(n);
    verify(&f).unwrap();
    let fails = |path: &str, data: Option<Vec<u8>>| {
        verify(&Patched {
            base: &f,
            path,
            data,
        })
        .is_err()
    };
    let mut checked = 0;
    for (k, (path, data)) in f.iter().enumerate() {
        if path == "key" {
            continue; // not part of what is verified (the key is given)
        }
        let level0 = path.starts_with("tile/0/") || path.starts_with("tile/entries/");
        let last_of_kind = path.contains(".p/");
        if level0 && k % file_stride != 0 && !last_of_kind {
            continue;
        }
        for pos in positions(data.len(), all_up_to, samples) {
            for &mask in masks {
                let mut g = data.clone();
                g[pos] ^= mask;
                assert!(
                    fails(path, Some(g)),
                    "size {n}: flipping byte {pos} of {path} with {mask:#x} went unnoticed"
                );
                checked += 1;
            }
        }
        // Truncated by one byte, to half, to nothing; missing.
        for cut in [data.len().saturating_sub(1), data.len() / 2, 0] {
            if cut < data.len() {
                assert!(
                    fails(path, Some(data[..cut].to_vec())),
                    "size {n}: {path} cut to {cut} bytes"
                );
            }
        }
        assert!(fails(path, None), "size {n}: {path} missing");
        // One byte appended (numbers are JSON: trailing whitespace is the same document).
        if path != "numbers" {
            let mut g = data.clone();
            g.push(b'\n');
            assert!(
                fails(path, Some(g)),
                "size {n}: {path} with a byte appended"
            );
        }
    }
    assert!(checked > 0);
}

#[test]
fn any_flipped_byte_fails_small_logs() {
    for n in [1, 2, 3, 8] {
        tamper_everything(n, usize::MAX, 0, &[0x01, 0x80, 0x20], 1);
    }
}

#[test]
fn any_flipped_byte_fails_257() {
    tamper_everything(257, 2048, 200, &[0x01, 0x80], 1);
}

#[test]
fn any_flipped_byte_fails_1000() {
    tamper_everything(1000, 1024, 48, &[0x01], 1);
}

#[test]
fn flipped_bytes_fail_70000() {
    // Every tile above level 0, the checkpoint (all bytes) and numbers (24 bytes), the
    // partial and every 50th level-0 tile and bundle (24 bytes each, first and last included).
    tamper_everything(70_000, 300, 24, &[0x01], 50);
}

#[test]
fn error_messages_name_what_mismatched() {
    let (_, f) = files(600);
    let msg = |g: &BTreeMap<String, Vec<u8>>| verify(g).unwrap_err().to_string();

    let mut g = f.clone();
    g.get_mut("tile/0/001").unwrap()[100] ^= 1;
    let m = msg(&g);
    assert!(m.contains("tile/0/001") && m.contains("byte 100"), "{m}");

    let mut g = f.clone();
    g.get_mut("tile/1/000.p/2").unwrap()[0] ^= 1;
    let m = msg(&g);
    assert!(m.contains("tile/1/000.p/2"), "{m}");

    // An entry changed inside its bundle (same length): named by index.
    let es = entries(600);
    let mut raw = encoded(&es);
    let s = String::from_utf8(raw[300].clone())
        .unwrap()
        .replace("id300", "id999");
    raw[300] = s.into_bytes();
    let (_, good) = log_files(&encoded(&es), &signer(), &Numbers::from_entries(&es)).unwrap();
    let (_, bad) = log_files(&raw, &signer(), &Numbers::from_entries(&es)).unwrap();
    let mut g = good.clone();
    g.insert("tile/entries/001".into(), bad["tile/entries/001"].clone());
    let m = msg(&g);
    assert!(
        m.contains("entry 300") && m.contains("tile/entries/001"),
        "{m}"
    );

    // A validly signed log holding a non-canonical entry: named by index.
    let mut raw = encoded(&es);
    raw[7] = String::from_utf8(raw[7].clone())
        .unwrap()
        .replacen(",", ", ", 1)
        .into_bytes();
    let (_, g) = log_files(&raw, &signer(), &Numbers::from_entries(&es)).unwrap();
    let m = msg(&g);
    assert!(m.contains("entry 7") && m.contains("canonical"), "{m}");

    // Numbers: the field is named.
    let mut n = Numbers::from_entries(&es);
    *n.decisions.by_policy.get_mut("p1").unwrap() += 1;
    let mut g = f.clone();
    g.insert("numbers".into(), n.to_json());
    let m = msg(&g);
    assert!(
        m.contains("decisions.by_policy.p1") && m.contains("published"),
        "{m}"
    );
    let mut g = f.clone();
    let mut v: serde_json::Value = serde_json::from_slice(&f["numbers"]).unwrap();
    v["extra"] = serde_json::json!(1);
    g.insert("numbers".into(), serde_json::to_vec(&v).unwrap());
    let m = msg(&g);
    assert!(m.contains("numbers field extra"), "{m}");

    // Another key.
    let other = Signer::from_seed(ORIGIN, &[7; 32]).unwrap();
    let e = verify_log(&f, &other.verifier(), None).unwrap_err();
    assert!(e.to_string().contains("checkpoint"), "{e}");
    // Checkpoint missing.
    let mut g = f.clone();
    g.remove("checkpoint");
    assert!(msg(&g).contains("checkpoint: not found"));
}

#[test]
fn numbers_for_an_earlier_size_are_checked_over_that_prefix() {
    let es = entries(700);
    let (_, mut f) = log_files(&encoded(&es), &signer(), &Numbers::from_entries(&es)).unwrap();
    f.insert(
        "numbers".into(),
        Numbers::from_entries(&es[..650]).to_json(),
    );
    let r = verify(&f).unwrap();
    assert_eq!(r.size, 700);
    assert_eq!(r.numbers.tree_size, 650);
    // Numbers of a prefix but claiming another size fail.
    let mut wrong = Numbers::from_entries(&es[..650]);
    wrong.tree_size = 651;
    f.insert("numbers".into(), wrong.to_json());
    let m = verify(&f).unwrap_err().to_string();
    assert!(m.contains("numbers field"), "{m}");
}

/// Serves the first checkpoint on the first fetch and the second afterwards.
struct Growing {
    first: BTreeMap<String, Vec<u8>>,
    second: BTreeMap<String, Vec<u8>>,
    checkpoint_fetches: Cell<u32>,
}

impl Fetch for Growing {
    fn get(&self, path: &str) -> Result<Option<Vec<u8>>, LogError> {
        if path == "checkpoint" {
            let k = self.checkpoint_fetches.get();
            self.checkpoint_fetches.set(k + 1);
            let m = if k == 0 { &self.first } else { &self.second };
            return Ok(m.get(path).cloned());
        }
        if path == "numbers" || self.checkpoint_fetches.get() > 1 {
            return Ok(self.second.get(path).cloned());
        }
        Ok(self.first.get(path).cloned())
    }
}

#[test]
fn numbers_ahead_of_the_checkpoint_refetch_it_once() {
    let es = entries(900);
    let raw = encoded(&es);
    let (_, first) = log_files(&raw[..800], &signer(), &Numbers::from_entries(&es[..800])).unwrap();
    let (_, second) = log_files(&raw, &signer(), &Numbers::from_entries(&es)).unwrap();
    let g = Growing {
        first: first.clone(),
        second: second.clone(),
        checkpoint_fetches: Cell::new(0),
    };
    let r = verify(&g).unwrap();
    assert_eq!(r.size, 900);
    assert_eq!(g.checkpoint_fetches.get(), 2);

    // The newer checkpoint does not extend the first: refused.
    let mut other = encoded(&entries(900));
    other[5] = encoded(&entries(10))[6].clone();
    let (_, forked_first) = log_files(&other[..800], &signer(), &Numbers::default()).unwrap();
    let g = Growing {
        first: forked_first,
        second: second.clone(),
        checkpoint_fetches: Cell::new(0),
    };
    let m = verify(&g).unwrap_err().to_string();
    assert!(m.contains("first checkpoint fetched"), "{m}");

    // Numbers ahead of every checkpoint: refused.
    let mut ahead = second.clone();
    let mut n = Numbers::from_entries(&es);
    n.tree_size = 901;
    ahead.insert("numbers".into(), n.to_json());
    let m = verify(&ahead).unwrap_err().to_string();
    assert!(m.contains("tree_size"), "{m}");
}

#[test]
fn since_checkpoints() {
    let es = entries(1000);
    let raw = encoded(&es);
    let (_, f) = log_files(&raw, &signer(), &Numbers::from_entries(&es)).unwrap();
    let mut stored = StoredHashes::new();
    for e in &raw {
        stored.append_entry(e).unwrap();
    }
    let signed_at = |m: u64| {
        let cp = Checkpoint::new(ORIGIN, m, tree_hash(m, &stored).unwrap());
        sign_checkpoint(&signer(), None, &cp, &[]).unwrap()
    };
    let v = signer().verifier();
    for m in [0u64, 1, 255, 256, 257, 999, 1000] {
        let old = signed_at(m);
        verify_log(&f, &v, Some(old.as_bytes())).unwrap_or_else(|e| panic!("{m}: {e}"));
    }
    // A forged older checkpoint (validly signed, other history): refused.
    let mut other = raw.clone();
    other[10] = raw[11].clone();
    let mut s2 = StoredHashes::new();
    for e in &other[..500] {
        s2.append_entry(e).unwrap();
    }
    let forged = sign_checkpoint(
        &signer(),
        None,
        &Checkpoint::new(ORIGIN, 500, s2.root()),
        &[],
    )
    .unwrap();
    let m = verify_log(&f, &v, Some(forged.as_bytes()))
        .unwrap_err()
        .to_string();
    assert!(m.contains("since checkpoint") && m.contains("500"), "{m}");
    // Larger than the log: refused.
    let mut s3 = stored.clone();
    s3.append_entry(b"more").unwrap();
    let bigger = sign_checkpoint(
        &signer(),
        None,
        &Checkpoint::new(ORIGIN, 1001, s3.root()),
        &[],
    )
    .unwrap();
    let m = verify_log(&f, &v, Some(bigger.as_bytes()))
        .unwrap_err()
        .to_string();
    assert!(m.contains("larger"), "{m}");
    // Signed by another key, or tampered: refused.
    let other_key = Signer::from_seed(ORIGIN, &[9; 32]).unwrap();
    let foreign = sign_checkpoint(
        &other_key,
        None,
        &Checkpoint::new(ORIGIN, 10, tree_hash(10, &stored).unwrap()),
        &[],
    )
    .unwrap();
    assert!(verify_log(&f, &v, Some(foreign.as_bytes())).is_err());
    let mut t = signed_at(10).into_bytes();
    t[3] ^= 1;
    assert!(verify_log(&f, &v, Some(&t)).is_err());
}

#[test]
fn write_static_dir_refuses_invalid_entries_and_bytes_variant_writes_anything() {
    let dir = tempfile::tempdir().unwrap();
    let mut es = entries(3);
    es[1].time = "yesterday".into();
    let e = write_static_dir(dir.path(), &es, &signer()).unwrap_err();
    assert!(e.to_string().contains("entry 1"), "{e}");
    let cp = write_static_dir_bytes(
        dir.path(),
        &[b"not json".to_vec()],
        &signer(),
        &Numbers::default(),
    )
    .unwrap();
    assert_eq!(cp.size, 1);
    let m = verify(&DirFetch::new(dir.path())).unwrap_err().to_string();
    assert!(m.contains("entry 0"), "{m}");
}
