//! Signed notes: the Go sumdb/note vectors, round trips, and every refusal.

use candor_log::note::{key_id, open, MAX_SIGNATURES};
use candor_log::{LogError, Note, Signer, Verifier};
use proptest::prelude::*;

// Facts from golang.org/x/mod/sumdb/note's package documentation.
const PN_SKEY: &str =
    "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";
const PN_VKEY: &str = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
const PN_TEXT: &str = "If you think cryptography is the answer to your problem,\n\
                       then you don't know what your problem is.\n";
const PN_SIG: &str = "\u{2014} PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n";
const ENOCH_SIG: &str = "\u{2014} EnochRoot rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnWLox33WWd1RvMc+QQ=\n";

fn pn_note() -> String {
    format!("{PN_TEXT}\n{PN_SIG}")
}

#[test]
fn go_vectors() {
    let signer = Signer::parse(PN_SKEY).unwrap();
    let verifier = Verifier::parse(PN_VKEY).unwrap();
    assert_eq!(signer.key_id(), 0xc74f20a3);
    assert_eq!(verifier.key_id(), 0xc74f20a3);
    assert_eq!(key_id("PeterNeumann", &verifier.public_key()), 0xc74f20a3);
    assert_eq!(signer.verifier(), verifier);
    assert_eq!(signer.to_text(), PN_SKEY);
    assert_eq!(verifier.to_text(), PN_VKEY);
    // Ed25519 is deterministic: our signature is byte-for-byte Go's.
    assert_eq!(signer.sign(PN_TEXT).unwrap(), pn_note());
    assert_eq!(
        open(pn_note().as_bytes(), std::slice::from_ref(&verifier)).unwrap(),
        PN_TEXT
    );
    // The doubly signed note: EnochRoot is unknown and ignored.
    let two = format!("{PN_TEXT}\n{PN_SIG}{ENOCH_SIG}");
    let note = Note::parse(two.as_bytes()).unwrap();
    assert_eq!(note.signatures.len(), 2);
    assert_eq!(
        note.verify(std::slice::from_ref(&verifier)).unwrap(),
        vec!["PeterNeumann"]
    );
    assert_eq!(note.to_text(), two);
    // Only EnochRoot's signature: nothing we know verified it.
    let enoch_only = format!("{PN_TEXT}\n{ENOCH_SIG}");
    assert_eq!(
        open(enoch_only.as_bytes(), &[verifier]),
        Err(LogError::NoVerifiedSignature)
    );
}

#[test]
fn tampering_is_refused() {
    let v = Verifier::parse(PN_VKEY).unwrap();
    let note = pn_note();
    let known = [v.clone()];
    // Body.
    let t = note.replace("cryptography", "cryptographY");
    assert!(matches!(
        open(t.as_bytes(), &known),
        Err(LogError::InvalidSignature { .. })
    ));
    // Signature (a character in the middle of the base64).
    let t = note.replace("ZJkuBS9UG", "ZJkuBS9UH");
    assert!(matches!(
        open(t.as_bytes(), &known),
        Err(LogError::InvalidSignature { .. })
    ));
    // Hyphen or en dash instead of the em dash.
    for dash in ["-", "\u{2013}", "--"] {
        let t = note.replace('\u{2014}', dash);
        assert!(matches!(
            open(t.as_bytes(), &known),
            Err(LogError::Malformed { .. })
        ));
    }
    // Missing final newline, missing blank line, missing signature, CR line ends.
    assert!(open(&note.as_bytes()[..note.len() - 1], &known).is_err());
    assert!(open(format!("{PN_TEXT}{PN_SIG}").as_bytes(), &known).is_err());
    assert!(open(format!("{PN_TEXT}\n").as_bytes(), &known).is_err());
    assert!(open(note.replace('\n', "\r\n").as_bytes(), &known).is_err());
    // Control character or invalid UTF-8 in the text.
    assert!(open(note.replace("If you", "If\tyou").as_bytes(), &known).is_err());
    let mut bytes = note.clone().into_bytes();
    bytes[3] = 0xff;
    assert!(open(&bytes, &known).is_err());
    // Extra space, empty signature, short signature, bad base64.
    assert!(open(
        note.replace("PeterNeumann x08", "PeterNeumann  x08")
            .as_bytes(),
        &known
    )
    .is_err());
    assert!(open(
        format!("{PN_TEXT}\n\u{2014} PeterNeumann \n").as_bytes(),
        &known
    )
    .is_err());
    assert!(open(
        format!("{PN_TEXT}\n\u{2014} PeterNeumann AAAA\n").as_bytes(),
        &known
    )
    .is_err());
    assert!(open(
        format!("{PN_TEXT}\n\u{2014} PeterNeumann x08go/*\n").as_bytes(),
        &known
    )
    .is_err());
    // Wrong key: same name, other key (so another key ID): unknown, hence not verified.
    let other = Signer::from_seed("PeterNeumann", &[9; 32])
        .unwrap()
        .verifier();
    assert_eq!(
        open(note.as_bytes(), std::slice::from_ref(&other)),
        Err(LogError::NoVerifiedSignature)
    );
    // No keys at all.
    assert_eq!(
        open(note.as_bytes(), &[]),
        Err(LogError::NoVerifiedSignature)
    );
    // A known key's duplicate signature is refused; a bad second signature by a known key too.
    let dup = format!("{PN_TEXT}\n{PN_SIG}{PN_SIG}");
    assert!(matches!(
        open(dup.as_bytes(), &known),
        Err(LogError::Malformed { .. })
    ));
    // A signature line naming the known key (name and key ID) but made by another key.
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD;
    let forged = Signer::from_seed("Other", &[1; 32])
        .unwrap()
        .sign(PN_TEXT)
        .unwrap();
    let forged_b64 = forged.trim_end().rsplit_once(' ').unwrap().1;
    let mut raw = b64.decode(forged_b64).unwrap();
    raw[..4].copy_from_slice(&0xc74f20a3u32.to_be_bytes());
    let line = format!("\u{2014} PeterNeumann {}\n", b64.encode(&raw));
    assert!(matches!(
        open(format!("{PN_TEXT}\n{line}").as_bytes(), &known),
        Err(LogError::InvalidSignature { .. })
    ));
    assert!(matches!(
        open(format!("{PN_TEXT}\n{line}{PN_SIG}").as_bytes(), &known),
        Err(LogError::InvalidSignature { .. })
    ));
    // After a valid one it is a second signature by the same key: refused as a duplicate.
    assert!(open(format!("{PN_TEXT}\n{PN_SIG}{line}").as_bytes(), &known).is_err());
}

#[test]
fn signature_count_limit() {
    let v = Verifier::parse(PN_VKEY).unwrap();
    let mut many = format!("{PN_TEXT}\n{PN_SIG}");
    for _ in 1..MAX_SIGNATURES {
        many.push_str(ENOCH_SIG);
    }
    assert!(open(many.as_bytes(), std::slice::from_ref(&v)).is_ok());
    many.push_str(ENOCH_SIG);
    assert!(matches!(
        open(many.as_bytes(), &[v]),
        Err(LogError::Malformed { .. })
    ));
}

#[test]
fn key_texts_are_checked() {
    for bad in [
        "",
        "PeterNeumann",
        "PeterNeumann+c74f20a3",
        "PeterNeumann+c74f20a4+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
        "PeterNeumann+c74f20a+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
        "Peter Neumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
        "PeterNeumann+c74f20a3+AhpC2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
        "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10",
        "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW=",
        "+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
    ] {
        assert!(Verifier::parse(bad).is_err(), "{bad}");
    }
    for bad in [
        PN_VKEY,
        "PRIVATE+KEY+PeterNeumann+c74f20a4+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz",
        "PRIVATE+KEY+PeterNeumann+c74f20a3+AoEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz",
        "PRIVATE+KEY+Other+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz",
    ] {
        assert!(Signer::parse(bad).is_err(), "{bad}");
    }
    assert!(Signer::from_seed("a b", &[0; 32]).is_err());
    assert!(Signer::from_seed("a+b", &[0; 32]).is_err());
    assert!(Signer::from_seed("", &[0; 32]).is_err());
    assert!(Signer::from_seed("a\u{a0}b", &[0; 32]).is_err());
    let s = Signer::from_seed("example.com/log", &[0; 32]).unwrap();
    assert!(!format!("{s:?}").contains(&s.to_text()[12..]));
    assert!(s.sign("no newline").is_err());
    assert!(s.sign("tab\there\n").is_err());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn sign_open_round_trip(
        seed in any::<[u8; 32]>(),
        name in "[a-z0-9./_-]{1,30}",
        lines in prop::collection::vec("[^\\x00-\\x1f]{0,40}", 1..6),
    ) {
        let signer = Signer::from_seed(&name, &seed).unwrap();
        let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
        let note = signer.sign(&text).unwrap();
        let v = Verifier::parse(&signer.verifier().to_text()).unwrap();
        prop_assert_eq!(open(note.as_bytes(), std::slice::from_ref(&v)).unwrap(), text);
        let other = Signer::from_seed(&name, &[seed[0] ^ 1; 32]).unwrap().verifier();
        prop_assert!(open(note.as_bytes(), &[other]).is_err());
    }

    #[test]
    fn hostile_notes_never_panic(b in prop::collection::vec(any::<u8>(), 0..300), s in "\\PC{0,80}") {
        let v = Verifier::parse(PN_VKEY).unwrap();
        let _ = open(&b, std::slice::from_ref(&v));
        let _ = open(format!("{s}\n\n\u{2014} {s}\n").as_bytes(), &[v]);
        let _ = Verifier::parse(&s);
        let _ = Signer::parse(&s);
    }
}
