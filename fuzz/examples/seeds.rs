//! Writes the seed corpora of the parser targets (valid inputs of each format) under a corpus
//! directory: `cargo run --release --example seeds -- corpus` (from `fuzz/`). Seeds are
//! generated, not committed.
#[path = "../fuzz_targets/common/mod.rs"]
mod common;

use std::fs;
use std::path::{Path, PathBuf};

use candor_index::{EntryRef, Hash256, Md5Index, PdqIndex, Sha256Index};
use candor_log::checkpoint::sign_checkpoint;
use candor_log::entry::{examples, examples_v2};
use candor_log::stored::{prove_consistency, prove_inclusion};
use candor_log::tile::encode_entry_bundle;
use candor_log::{Checkpoint, ProofFile, StoredHashes};
use candor_policy::PolicySet;

struct Out {
    root: PathBuf,
}

impl Out {
    fn put(&self, target: &str, name: &str, bytes: impl AsRef<[u8]>) {
        let dir = self.root.join(target);
        fs::create_dir_all(&dir).expect("corpus dir");
        fs::write(dir.join(name), bytes).expect("write seed");
    }
}

fn main() {
    let root = std::env::args().nth(1).unwrap_or_else(|| "corpus".into());
    let out = Out { root: PathBuf::from(root) };
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");

    // Log entries, a tree of them, checkpoints, notes, proofs, tiles.
    let entries: Vec<Vec<u8>> = examples()
        .into_iter()
        .chain(examples_v2())
        .map(|e| e.encode_checked().expect("examples are valid"))
        .collect();
    for (i, e) in entries.iter().enumerate() {
        out.put("log_entry", &format!("example-{i}"), e);
    }
    let signer = common::signer();
    let mut tree = StoredHashes::new();
    let mut signed = Vec::new();
    let mut sizes = Vec::new();
    for (i, e) in entries.iter().enumerate() {
        tree.append_entry(e).expect("append");
        let cp = Checkpoint::new(signer.name(), tree.size(), tree.root());
        let note = sign_checkpoint(&signer, None, &cp, &[]).expect("sign");
        out.put("checkpoint", &format!("signed-{i}"), &note);
        out.put("signed_note", &format!("checkpoint-{i}"), &note);
        signed.push(note);
        sizes.push(tree.size());
    }
    let hashes = tree.hashes();
    let last = signed.len() - 1;
    for (i, note) in signed.iter().enumerate().step_by(3) {
        let proof = prove_consistency(sizes[last], sizes[i], hashes).expect("consistency");
        let mut seed = note.clone().into_bytes();
        seed.push(0);
        seed.extend_from_slice(signed[last].as_bytes());
        seed.push(0);
        seed.extend(proof.iter().flatten());
        out.put("checkpoint", &format!("consistent-{i}-{last}"), seed);
    }
    let empty = Checkpoint::new(signer.name(), 0, candor_log::empty_root());
    out.put("checkpoint", "text-empty", empty.to_text().expect("text"));
    out.put("signed_note", "verifier", signer.verifier().to_text());
    out.put("signed_note", "signer", signer.to_text());
    out.put("signed_note", "text", "some note text\nwith two lines\n");
    let two = format!(
        "{}{}",
        signed[0],
        candor_log::note::SIGNATURE_PREFIX.to_owned() + "other+key AAAAAAAAAAA=\n"
    );
    out.put("signed_note", "two-signatures", two);
    for (i, e) in entries.iter().enumerate() {
        let proof = prove_inclusion(tree.size(), i as u64, hashes).expect("inclusion");
        let file = ProofFile {
            extra: Some(e.clone()),
            index: i as u64,
            proof,
            checkpoint: signed[last].clone(),
        };
        out.put("proof_file", &format!("entry-{i}"), file.encode());
    }
    let (_, files) =
        candor_log::static_dir::log_files(&entries, &signer, &candor_log::Numbers::default())
            .expect("log files");
    for (name, bytes) in &files {
        if name.starts_with("tile/") {
            out.put("tile", &format!("path-{}", name.replace('/', "_")), [&[0u8][..], name.as_bytes()].concat());
            if name.starts_with("tile/entries/") {
                out.put("tile", "bundle", [&[1u8][..], bytes].concat());
            }
        }
    }
    out.put("tile", "bundle-one", [&[1u8][..], &encode_entry_bundle(&[b"x"]).expect("bundle")].concat());
    for mode in 2u8..6 {
        let bytes: Vec<u8> = (0..96u32).map(|i| (i * 37 + u32::from(mode)) as u8).collect();
        out.put("tile", &format!("mode-{mode}"), [&[mode][..], &bytes].concat());
    }

    // Policies.
    let example = fs::read_to_string(repo.join("crates/candor-policy/examples/policies.toml"))
        .expect("examples/policies.toml");
    let set = PolicySet::from_toml_str(&example).expect("valid example");
    out.put("policy_toml", "example", &example);
    out.put("policy_json", "example", set.to_json_string());
    for (i, p) in set.policies.iter().enumerate() {
        let one = PolicySet {
            policies: vec![p.clone()],
            sampling: set.sampling.clone(),
        };
        out.put("policy_toml", &format!("one-{i}"), one.to_toml_string().expect("toml"));
        out.put("policy_json", &format!("one-{i}"), one.to_json_string());
    }
    out.put("policy_toml", "empty", "");
    out.put("policy_json", "empty", "{}");

    // Scans: the JSON, NUL, then bytes for matches and the rest.
    let scans = [
        r#"{"surface":"direct","content_id":"c-1","content_type":"CONTENT_TYPE_IMAGE","sender":{"account":"a","jurisdiction":"DE"},"recipients":[{"account":"b","jurisdiction":"FR"}]}"#,
        r#"{"surface":"group","content_id":"c_2","content_type":"CONTENT_TYPE_OTHER","content_type_other":"sticker","content_date":"2026-01-31","sender":{"account":"a","jurisdiction":"US"},"recipients":[{"account":"b","jurisdiction":"DE"},{"account":"c","jurisdiction":"US"},{"account":"b","jurisdiction":"DE"}]}"#,
        r#"{"surface":"public","content_id":"post-3","content_type":"CONTENT_TYPE_VIDEO","sender":{"account":"a","jurisdiction":"IE"},"audience":{"jurisdictions":["IE","DE","US","DE"]}}"#,
    ];
    for (i, s) in scans.iter().enumerate() {
        for (j, tail) in [&[][..], &[1, 2, 0, 5, 7, 1, 0, 3][..], &[0, 4, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 1][..]]
            .iter()
            .enumerate()
        {
            out.put("scan_context", &format!("scan-{i}-{j}"), [s.as_bytes(), &[0], tail].concat());
        }
    }

    // Index files (control byte 1: fix checksums, radius 0; 65: radius 64).
    let pdq: Vec<Hash256> = fs::read_to_string(repo.join("testdata/pdq/haystack.txt"))
        .expect("haystack")
        .lines()
        .filter_map(|l| Hash256::from_hex(l.trim()).ok())
        .collect();
    let r = |i: usize| EntryRef { bank: (i % 3) as u32, content: i as u64 };
    for n in [0usize, 1, 7, 64, 300] {
        let mut idx = PdqIndex::build(pdq.iter().take(n).enumerate().map(|(i, h)| (*h, r(i))));
        if n > 1 {
            idx.remove(candor_index::EntryId(1));
            idx.insert(pdq[pdq.len() - 1], r(9999));
        }
        let bytes = idx.write_to(Vec::new()).expect("write");
        out.put("index_file", &format!("pdq-{n}"), [&[65u8][..], &bytes].concat());
        let digests = (0..n).map(|i| {
            let mut d = [0u8; 16];
            d[..8].copy_from_slice(&(i as u64 / 2).to_le_bytes());
            (d, r(i))
        });
        let mut md5 = Md5Index::build(digests);
        if n > 1 {
            md5.remove(candor_index::EntryId(0));
            md5.insert([7; 16], r(1));
        }
        let bytes = md5.write_to(Vec::new()).expect("write");
        out.put("index_file", &format!("md5-{n}"), [&[1u8][..], &bytes].concat());
        let sha = Sha256Index::build((0..n.min(9)).map(|i| ([i as u8; 32], r(i))));
        let bytes = sha.write_to(Vec::new()).expect("write");
        out.put("index_file", &format!("sha256-{n}"), [&[1u8][..], &bytes].concat());
    }

    // Server inputs.
    let lines = [
        &pdq[0].to_hex(),
        &format!("pdq {}", pdq[1].to_hex()),
        "md5\t0123456789abcdef0123456789ABCDEF",
        "sha256 0000000000000000000000000000000000000000000000000000000000000000",
        "# a comment",
        "",
        "  pdq   ffff  ",
    ];
    for (i, l) in lines.iter().enumerate() {
        out.put("import_line", &format!("line-{i}"), l);
    }
    let forms = [
        "--B\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.jpg\"\r\nContent-Type: image/jpeg\r\n\r\n\u{ff}\u{d8} some bytes\r\n--B--\r\n".to_owned(),
        "--B\r\nContent-Disposition: form-data; name=\"note\"\r\n\r\nhello\r\n--B\r\nContent-Disposition: form-data; name=\"photo\"; filename=\"p.png\"\r\n\r\nPNG\r\n--B--\r\n".to_owned(),
        "--B\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\nx\r\n--B\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\ny\r\n--B--\r\n".to_owned(),
    ];
    for (i, f) in forms.iter().enumerate() {
        out.put("multipart", &format!("form-{i}"), f);
    }
    eprintln!("seeds written under {}", out.root.display());
}
