//! Signed notes (C2SP signed-note, Ed25519) and key texts.
//!
//! Properties: whatever `Note::parse` accepts, `to_text` writes back byte for byte; `verify`
//! with the fixed test key returns only that key's name; `note::open` agrees with
//! parse + verify; any text the test signer accepts opens to itself under its verifier and to
//! nothing under another key; verifier and signer key texts that parse write a text that
//! parses to the same key.
#![no_main]
mod common;

use candor_log::note::{self, Note, Signer, Verifier};
use candor_log::LogError;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let v = common::verifier();
    let known = std::slice::from_ref(&v);

    // As a signed note.
    let parsed = Note::parse(data);
    if let Ok(n) = &parsed {
        assert_eq!(n.to_text().as_bytes(), data, "note round trip");
        assert!(n.text.ends_with('\n'));
        assert!(!n.signatures.is_empty() && n.signatures.len() <= note::MAX_SIGNATURES);
        if let Ok(names) = n.verify(known) {
            assert_eq!(names, vec![v.name().to_owned()]);
        }
    }
    let opened = note::open(data, known);
    match (&parsed, &opened) {
        (Ok(n), Ok(text)) => assert_eq!(&n.text, text),
        (Ok(n), Err(e)) => assert_eq!(n.verify(known).as_ref().err(), Some(e)),
        (Err(e1), Err(e2)) => assert_eq!(e1, e2),
        (Err(_), Ok(_)) => panic!("open accepted what parse refused"),
    }

    let Ok(text) = std::str::from_utf8(data) else { return };

    // As note text to sign.
    let signer = common::signer();
    if let Ok(signed) = signer.sign(text) {
        assert_eq!(note::open(signed.as_bytes(), known).as_deref(), Ok(text));
        let other = Signer::from_seed(common::LOG_NAME, &[0x33; 32]).expect("key");
        // Same name, another key: its key ID differs, so the signature is not its.
        assert_ne!(other.key_id(), v.key_id());
        assert_eq!(
            note::open(signed.as_bytes(), &[other.verifier()]),
            Err(LogError::NoVerifiedSignature)
        );
    }

    // As key texts.
    if let Ok(k) = Verifier::parse(text) {
        assert_eq!(Verifier::parse(&k.to_text()), Ok(k.clone()));
        assert!(note::is_valid_name(k.name()));
        assert_eq!(k.key_id(), note::key_id(k.name(), &k.public_key()));
    }
    if let Ok(s) = Signer::parse(text) {
        let back = Signer::parse(&s.to_text()).expect("own signer text parses");
        assert_eq!(back.verifier(), s.verifier());
        assert_eq!(back.key_id(), s.key_id());
    }
});
