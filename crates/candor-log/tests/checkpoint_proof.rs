//! Checkpoints, the consistency rule and proof files, end to end over a real log.

use candor_log::proof::PROOF_HEADER;
use candor_log::stored::{prove_consistency, prove_inclusion, tree_hash};
use candor_log::{
    check_consistent, empty_root, leaf_hash, sign_checkpoint, verify_checkpoint_consistency,
    verify_proof_file, verify_proof_file_for_leaf, Checkpoint, LogError, ProofFile, Signer,
    StoredHashes, Verifier,
};
use proptest::prelude::*;

const ORIGIN: &str = "candor.example/log";

fn signer() -> Signer {
    Signer::from_seed(ORIGIN, &[42; 32]).unwrap()
}

fn log(n: u64) -> (StoredHashes, Vec<Vec<u8>>) {
    let mut s = StoredHashes::new();
    let mut e = Vec::new();
    for i in 0..n {
        let entry = format!("{{\"v\":1,\"i\":{i}}}").into_bytes();
        s.append_entry(&entry).unwrap();
        e.push(entry);
    }
    (s, e)
}

fn checkpoint(s: &StoredHashes, n: u64) -> Checkpoint {
    Checkpoint::new(ORIGIN, n, tree_hash(n, s).unwrap())
}

#[test]
fn checkpoint_text_round_trip_and_refusals() {
    let root = leaf_hash(b"x");
    let mut cp = Checkpoint::new(ORIGIN, 20_852_163, root);
    let text = cp.to_text().unwrap();
    assert!(text.starts_with("candor.example/log\n20852163\n"));
    assert!(text.ends_with("=\n"));
    assert_eq!(Checkpoint::parse(&text).unwrap(), cp);
    cp.extensions.push("ext line".into());
    let text = cp.to_text().unwrap();
    assert_eq!(Checkpoint::parse(&text).unwrap(), cp);
    // The spec's example body.
    let ex =
        "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n";
    let p = Checkpoint::parse(ex).unwrap();
    assert_eq!(
        (p.origin.as_str(), p.size),
        ("example.com/behind-the-sofa", 20_852_163)
    );
    assert_eq!(p.to_text().unwrap(), ex);
    let empty = Checkpoint::new(ORIGIN, 0, empty_root());
    assert_eq!(Checkpoint::parse(&empty.to_text().unwrap()).unwrap(), empty);
    let good_root = "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=";
    for bad in [
        format!("o\n1\n{good_root}"),
        format!("o\n01\n{good_root}\n"),
        format!("o\n+1\n{good_root}\n"),
        format!("o\n-1\n{good_root}\n"),
        format!("o\n18446744073709551616\n{good_root}\n"),
        format!("\n1\n{good_root}\n"),
        format!("o\n1\n{good_root}\n\n"),
        format!("o\n1\n{good_root}\n\next\n"),
        "o\n1\n".to_string(),
        "o\n1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I\n".to_string(),
        "o\n1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2==\n".to_string(),
        "o\n1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2J=\n".to_string(),
        "o\n1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=AAAA\n".to_string(),
    ] {
        assert!(Checkpoint::parse(&bad).is_err(), "{bad:?}");
    }
    assert!(Checkpoint::new("", 1, root).to_text().is_err());
    let mut e = Checkpoint::new("o", 1, root);
    e.extensions.push(String::new());
    assert!(e.to_text().is_err());
}

#[test]
fn signed_checkpoints_verify_and_every_flipped_byte_fails() {
    let (s, _) = log(37);
    let signer = signer();
    let v = signer.verifier();
    let cp = checkpoint(&s, 37);
    let note = sign_checkpoint(&signer, None, &cp, &[]).unwrap();
    assert_eq!(Checkpoint::open(note.as_bytes(), &v).unwrap(), cp);
    for byte in 0..note.len() {
        for mask in [0x01u8, 0x20, 0x80] {
            let mut b = note.clone().into_bytes();
            b[byte] ^= mask;
            assert!(
                Checkpoint::open(&b, &v).is_err(),
                "byte {byte} mask {mask:#x}"
            );
        }
    }
    // Another log's key, even with the same origin name.
    let other = Signer::from_seed(ORIGIN, &[7; 32]).unwrap().verifier();
    assert!(Checkpoint::open(note.as_bytes(), &other).is_err());
    // A key named differently from the origin.
    let named = Signer::from_seed("other.example/log", &[42; 32]).unwrap();
    let n2 = named.sign(&cp.to_text().unwrap()).unwrap();
    assert!(Checkpoint::open(n2.as_bytes(), &named.verifier()).is_err());
}

#[test]
fn consistency_rule_for_signing() {
    let (s, _) = log(100);
    let signer = signer();
    let v = signer.verifier();
    let first = checkpoint(&s, 10);
    let n1 = sign_checkpoint(&signer, None, &first, &[]).unwrap();
    let next = checkpoint(&s, 73);
    let proof = prove_consistency(73, 10, &s).unwrap();
    let n2 = sign_checkpoint(&signer, Some(&first), &next, &proof).unwrap();
    let (a, b) = verify_checkpoint_consistency(n1.as_bytes(), n2.as_bytes(), &proof, &v).unwrap();
    assert_eq!((a.size, b.size), (10, 73));
    // Same size, same root: fine with an empty proof.
    sign_checkpoint(&signer, Some(&next), &next, &[]).unwrap();

    // A fork: same size, other root.
    let mut fork = next.clone();
    fork.root[0] ^= 1;
    assert!(matches!(
        sign_checkpoint(&signer, Some(&next), &fork, &[]),
        Err(LogError::Inconsistent(_))
    ));
    // Growth from a forked history.
    let (other, _) = {
        let mut o = StoredHashes::new();
        for i in 0..73u64 {
            o.append_entry(&[i as u8, 1]).unwrap();
        }
        (o, ())
    };
    let theirs = Checkpoint::new(ORIGIN, 73, other.root());
    let their_proof = prove_consistency(73, 10, &other).unwrap();
    assert!(sign_checkpoint(&signer, Some(&first), &theirs, &their_proof).is_err());
    // Shrinking, wrong proof, wrong origin, wrong signer name.
    assert!(sign_checkpoint(&signer, Some(&next), &first, &proof).is_err());
    let mut wrong = proof.clone();
    wrong[0][5] ^= 0x40;
    assert!(sign_checkpoint(&signer, Some(&first), &next, &wrong).is_err());
    assert!(sign_checkpoint(&signer, Some(&first), &next, &proof[1..]).is_err());
    let mut elsewhere = next.clone();
    elsewhere.origin = "elsewhere.example/log".into();
    assert!(sign_checkpoint(&signer, Some(&first), &elsewhere, &proof).is_err());
    assert!(check_consistent(&first, &elsewhere, &proof).is_err());
    // Verifying: swapped order, wrong proof, a note from another key.
    assert!(verify_checkpoint_consistency(n2.as_bytes(), n1.as_bytes(), &proof, &v).is_err());
    assert!(verify_checkpoint_consistency(n1.as_bytes(), n2.as_bytes(), &wrong, &v).is_err());
    let other_key = Signer::from_seed(ORIGIN, &[8; 32]).unwrap();
    let n3 = other_key.sign(&next.to_text().unwrap()).unwrap();
    assert!(verify_checkpoint_consistency(n1.as_bytes(), n3.as_bytes(), &proof, &v).is_err());
    // From the empty tree.
    let zero = Checkpoint::new(ORIGIN, 0, empty_root());
    sign_checkpoint(&signer, Some(&zero), &first, &[]).unwrap();
}

fn proof_file(s: &StoredHashes, entries: &[Vec<u8>], signed: &str, index: u64) -> String {
    let n = s.size();
    ProofFile {
        extra: Some(entries[index as usize].clone()),
        index,
        proof: prove_inclusion(n, index, s).unwrap(),
        checkpoint: signed.to_owned(),
    }
    .encode()
}

#[test]
fn proof_files_verify_offline() {
    let (s, entries) = log(300);
    let signer = signer();
    let v = Verifier::parse(&signer.verifier().to_text()).unwrap();
    let signed = sign_checkpoint(&signer, None, &checkpoint(&s, 300), &[]).unwrap();
    for index in [0u64, 1, 2, 127, 255, 256, 298, 299] {
        let text = proof_file(&s, &entries, &signed, index);
        assert!(text.starts_with(&format!("{PROOF_HEADER}\nextra ")));
        let got = verify_proof_file(text.as_bytes(), &v).unwrap();
        assert_eq!(got.index, index);
        assert_eq!(
            got.entry.as_deref(),
            Some(entries[index as usize].as_slice())
        );
        assert_eq!(got.checkpoint.size, 300);
        assert_eq!(got.leaf_hash, leaf_hash(&entries[index as usize]));
        assert_eq!(ProofFile::parse(text.as_bytes()).unwrap().encode(), text);
        // The entry supplied by the reader instead of the file.
        let leaf = leaf_hash(&entries[index as usize]);
        verify_proof_file_for_leaf(text.as_bytes(), &leaf, &v).unwrap();
        let other = leaf_hash(b"something else");
        assert!(verify_proof_file_for_leaf(text.as_bytes(), &other, &v).is_err());
    }
    // Every flipped byte of a proof file fails.
    let text = proof_file(&s, &entries, &signed, 201);
    for byte in 0..text.len() {
        for mask in [0x01u8, 0x20, 0x80] {
            let mut b = text.clone().into_bytes();
            b[byte] ^= mask;
            assert!(
                verify_proof_file(&b, &v).is_err(),
                "byte {byte} mask {mask:#x}"
            );
        }
    }
    // Wrong key, wrong index, the proof of another entry, truncations.
    let other = Signer::from_seed(ORIGIN, &[1; 32]).unwrap().verifier();
    assert!(verify_proof_file(text.as_bytes(), &other).is_err());
    let mut f = ProofFile::parse(text.as_bytes()).unwrap();
    f.index = 200;
    assert!(verify_proof_file(f.encode().as_bytes(), &v).is_err());
    f.index = 300;
    assert!(verify_proof_file(f.encode().as_bytes(), &v).is_err());
    let mut f = ProofFile::parse(text.as_bytes()).unwrap();
    f.extra = Some(entries[200].clone());
    assert!(verify_proof_file(f.encode().as_bytes(), &v).is_err());
    f.extra = None;
    assert!(verify_proof_file(f.encode().as_bytes(), &v).is_err());
    f.extra = Some(entries[201].clone());
    f.proof.pop();
    assert!(verify_proof_file(f.encode().as_bytes(), &v).is_err());
    for cut in [0, 10, text.find("\n\n").unwrap(), text.len() - 1] {
        assert!(
            verify_proof_file(&text.as_bytes()[..cut], &v).is_err(),
            "{cut}"
        );
    }
}

#[test]
fn proof_file_format() {
    let (s, entries) = log(5);
    let signed = sign_checkpoint(&signer(), None, &checkpoint(&s, 5), &[]).unwrap();
    let text = proof_file(&s, &entries, &signed, 4);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "c2sp.org/tlog-proof@v1");
    assert!(lines[1].starts_with("extra "));
    assert_eq!(lines[2], "index 4");
    assert_eq!(lines[3].len(), 44); // one base64 SHA-256 hash (leaf 4's only proof hash)
    assert_eq!(lines[4], "");
    assert_eq!(lines[5], ORIGIN);
    // Without extra (the c2sp example's shape) it parses; verifying needs the leaf.
    let no_extra = text.replacen(&format!("{}\n", lines[1]), "", 1);
    let f = ProofFile::parse(no_extra.as_bytes()).unwrap();
    assert_eq!((f.extra, f.index), (None, 4));
    let v = signer().verifier();
    verify_proof_file_for_leaf(no_extra.as_bytes(), &leaf_hash(&entries[4]), &v).unwrap();
    for bad in [
        text.replacen("c2sp.org/tlog-proof@v1", "c2sp.org/tlog-proof@v2", 1),
        text.replacen("index 4", "index 04", 1),
        text.replacen("index 4", "index  4", 1),
        text.replacen("index 4", "index", 1),
        text.replacen("extra ", "extra  ", 1),
        text.replacen("\n\n", "\n", 1),
    ] {
        assert!(
            ProofFile::parse(bad.as_bytes()).is_err()
                || verify_proof_file(bad.as_bytes(), &v).is_err()
        );
    }
    let many = format!(
        "{PROOF_HEADER}\nindex 0\n{}\n{signed}",
        "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n".repeat(64)
    );
    assert!(ProofFile::parse(many.as_bytes()).is_err());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn hostile_inputs_never_panic(b in prop::collection::vec(any::<u8>(), 0..400), s in "\\PC{0,100}") {
        let v = signer().verifier();
        let _ = verify_proof_file(&b, &v);
        let _ = ProofFile::parse(format!("{PROOF_HEADER}\nindex 1\n{s}\n\n{s}").as_bytes());
        let _ = Checkpoint::parse(&s);
        let _ = Checkpoint::parse(&format!("{s}\n1\n{s}\n"));
        let _ = Checkpoint::open(&b, &v);
    }
}
