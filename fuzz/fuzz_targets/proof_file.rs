//! C2SP tlog-proof files, checked offline with the fixed test key.
//!
//! Properties: whatever `ProofFile::parse` accepts, `encode` writes back byte for byte; a file
//! `verify_proof_file` accepts carries an entry whose leaf hash is the verified one, at an index
//! inside the checkpoint's tree, with an inclusion proof that `merkle::verify_inclusion` accepts
//! again; verifying for the same leaf gives the same answer, and for any other leaf never
//! succeeds (the leaf is bound by the proof).
#![no_main]
mod common;

use candor_log::merkle::verify_inclusion;
use candor_log::{leaf_hash, verify_proof_file, verify_proof_file_for_leaf, ProofFile};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let v = common::verifier();
    let Ok(file) = ProofFile::parse(data) else {
        assert!(verify_proof_file(data, &v).is_err());
        return;
    };
    assert_eq!(file.encode().as_bytes(), data, "proof file round trip");
    assert!(file.proof.len() <= candor_log::proof::MAX_PROOF_HASHES);

    let verified = verify_proof_file(data, &v);
    let Ok(ok) = verified else {
        return;
    };
    let entry = ok.entry.as_deref().expect("verified files carry the entry");
    assert_eq!(ok.leaf_hash, leaf_hash(entry));
    assert_eq!(ok.index, file.index);
    assert!(ok.index < ok.checkpoint.size);
    assert_eq!(ok.checkpoint.origin, v.name());
    verify_inclusion(
        &ok.leaf_hash,
        ok.index,
        ok.checkpoint.size,
        &file.proof,
        &ok.checkpoint.root,
    )
    .expect("the inclusion proof verifies again");
    assert_eq!(verify_proof_file_for_leaf(data, &ok.leaf_hash, &v), Ok(ok.clone()));
    let mut other = ok.leaf_hash;
    other[0] ^= 1;
    assert!(verify_proof_file_for_leaf(data, &other, &v).is_err());
    // The entry itself, when it decodes, is canonical.
    if let Ok(e) = candor_log::Entry::decode(entry) {
        assert_eq!(e.encode(), entry);
    }
});
