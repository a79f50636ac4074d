//! Checkpoints (C2SP tlog-checkpoint): the note-text parser, `Checkpoint::open` (signed note +
//! parse + origin check) with the fixed test key, and the consistency check between two
//! checkpoints through an arbitrary proof.
//!
//! Input: up to three parts separated by NUL (which no checkpoint may contain): the earlier
//! checkpoint, the later checkpoint, the consistency proof (32 bytes per hash).
//!
//! Properties: whatever `parse` accepts, `to_text` writes back byte for byte; whatever `open`
//! accepts has the key's name as origin and is what `parse` gives for the note's text; a
//! checkpoint the test key signs opens to itself; `check_consistent` never accepts a smaller
//! later tree or, at equal sizes, a different root.
#![no_main]
mod common;

use candor_log::checkpoint::{check_consistent, sign_checkpoint, verify_checkpoint_consistency};
use candor_log::{Checkpoint, Hash, Note};
use libfuzzer_sys::fuzz_target;

fn parsed(part: &[u8]) -> Option<Checkpoint> {
    let text = std::str::from_utf8(part).ok()?;
    let cp = Checkpoint::parse(text).ok()?;
    assert_eq!(cp.to_text().expect("a parsed checkpoint writes"), text);
    Some(cp)
}

fn opened(part: &[u8]) -> Option<Checkpoint> {
    let v = common::verifier();
    let cp = Checkpoint::open(part, &v).ok()?;
    assert_eq!(cp.origin, v.name());
    let note = Note::parse(part).expect("open parsed the note");
    assert_eq!(Checkpoint::parse(&note.text).as_ref(), Ok(&cp));
    Some(cp)
}

fuzz_target!(|data: &[u8]| {
    let mut parts = data.splitn(3, |&b| b == 0);
    let a = parts.next().unwrap_or_default();
    let b = parts.next();
    let proof: Vec<Hash> = parts
        .next()
        .unwrap_or_default()
        .chunks_exact(32)
        .map(|c| c.try_into().expect("32 bytes"))
        .collect();

    let pa = parsed(a);
    let oa = opened(a);
    if let Some(cp) = &pa {
        // Sign what parsed (under the test key's name) and open it again.
        let mut cp = cp.clone();
        cp.origin = common::LOG_NAME.to_owned();
        let signer = common::signer();
        let signed = sign_checkpoint(&signer, None, &cp, &[]).expect("a parsed checkpoint signs");
        assert_eq!(Checkpoint::open(signed.as_bytes(), &signer.verifier()), Ok(cp));
    }
    let Some(b) = b else { return };
    if let (Some(x), Some(y)) = (&pa, &parsed(b)) {
        if check_consistent(x, y, &proof).is_ok() {
            assert_eq!(x.origin, y.origin);
            assert!(x.size <= y.size);
            if x.size == y.size {
                assert_eq!(x.root, y.root);
            }
            if x.size == 0 {
                assert_eq!(x.root, candor_log::empty_root());
            }
        }
    }
    let ob = opened(b);
    let both = verify_checkpoint_consistency(a, b, &proof, &common::verifier());
    if let Ok((x, y)) = both {
        assert_eq!(Some(&x), oa.as_ref());
        assert_eq!(Some(&y), ob.as_ref());
        assert!(x.size <= y.size);
    }
});
