//! C2SP signed-note with Ed25519 keys (signature type 0x01).
//!
//! ```text
//! <text, ending in \n>
//! \n
//! — <key name> <base64(key ID (4 bytes, big-endian) || Ed25519 signature (64 bytes))>\n   (one or more)
//! ```
//! Key ID = first 4 bytes of `SHA-256(key name || 0x0A || 0x01 || 32-byte public key)`.
//! Verifier key text: `<name>+<8 hex key ID>+<base64(0x01 || public key)>`.
//! Signer key text: `PRIVATE+KEY+<name>+<8 hex key ID>+<base64(0x01 || 32-byte seed)>`.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};

use crate::LogError;

/// Signature type byte of Ed25519 in key IDs and key texts.
pub const ALG_ED25519: u8 = 0x01;
/// Most signature lines a note may carry (the spec requires accepting at least 16).
pub const MAX_SIGNATURES: usize = 100;
/// Largest signed note accepted, in bytes.
pub const MAX_NOTE_SIZE: usize = 1 << 20;
/// Signature line prefix: em dash (U+2014) and a space.
pub const SIGNATURE_PREFIX: &str = "\u{2014} ";

/// Key names: non-empty, no Unicode whitespace, no `+`.
pub fn is_valid_name(name: &str) -> bool {
    !name.is_empty() && !name.chars().any(|c| c.is_whitespace() || c == '+')
}

/// `SHA-256(name || 0x0A || 0x01 || public key)[:4]`, big-endian.
pub fn key_id(name: &str, public_key: &[u8; 32]) -> u32 {
    let mut h = Sha256::new();
    h.update(name.as_bytes());
    h.update([b'\n', ALG_ED25519]);
    h.update(public_key);
    let d = h.finalize();
    u32::from_be_bytes([d[0], d[1], d[2], d[3]])
}

fn decode_b64(s: &str, what: &'static str) -> Result<Vec<u8>, LogError> {
    B64.decode(s)
        .map_err(|e| LogError::malformed(what, format!("bad base64: {e}")))
}

/// `<name>+<hex key ID>+<base64(0x01 || 32 key bytes)>`, the shared text form of verifier and
/// signer keys: the name, the stated key ID and the 32 key bytes.
fn parse_key_text<'a>(
    text: &'a str,
    what: &'static str,
    bad_length: &'static str,
) -> Result<(&'a str, u32, [u8; 32]), LogError> {
    let (name, rest) = text
        .split_once('+')
        .ok_or_else(|| LogError::malformed(what, "expected name+keyid+key"))?;
    let (hex, b64) = rest
        .split_once('+')
        .ok_or_else(|| LogError::malformed(what, "expected name+keyid+key"))?;
    let id = parse_key_id(hex, what)?;
    let raw = decode_b64(b64, what)?;
    if raw.first() != Some(&ALG_ED25519) {
        return Err(LogError::malformed(what, "unknown signature type"));
    }
    let key: [u8; 32] = raw[1..]
        .try_into()
        .map_err(|_| LogError::malformed(what, bad_length))?;
    Ok((name, id, key))
}

fn parse_key_id(hex: &str, what: &'static str) -> Result<u32, LogError> {
    if hex.len() != 8 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(LogError::malformed(what, "key ID must be 8 hex digits"));
    }
    u32::from_str_radix(hex, 16).map_err(|_| LogError::malformed(what, "bad key ID"))
}

/// A public key that checks note signatures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verifier {
    name: String,
    key_id: u32,
    key: VerifyingKey,
}

impl Verifier {
    /// From a name and a 32-byte Ed25519 public key (refuses invalid names and keys).
    pub fn new(name: &str, public_key: &[u8; 32]) -> Result<Verifier, LogError> {
        if !is_valid_name(name) {
            return Err(LogError::malformed("verifier key", "invalid key name"));
        }
        let key = VerifyingKey::from_bytes(public_key)
            .map_err(|_| LogError::malformed("verifier key", "not an Ed25519 public key"))?;
        Ok(Verifier {
            name: name.to_owned(),
            key_id: key_id(name, public_key),
            key,
        })
    }

    /// Parse `<name>+<hex key ID>+<base64(0x01 || public key)>`; the key ID must match.
    pub fn parse(text: &str) -> Result<Verifier, LogError> {
        const W: &str = "verifier key";
        let (name, id, pk) = parse_key_text(text, W, "Ed25519 public key must be 32 bytes")?;
        let v = Verifier::new(name, &pk)?;
        if v.key_id != id {
            return Err(LogError::malformed(W, "key ID does not match name and key"));
        }
        Ok(v)
    }

    /// `<name>+<hex key ID>+<base64(0x01 || public key)>`.
    pub fn to_text(&self) -> String {
        let mut raw = vec![ALG_ED25519];
        raw.extend_from_slice(self.key.as_bytes());
        format!("{}+{:08x}+{}", self.name, self.key_id, B64.encode(raw))
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn key_id(&self) -> u32 {
        self.key_id
    }

    pub fn public_key(&self) -> [u8; 32] {
        self.key.to_bytes()
    }

    /// Whether `signature` (without key ID) is this key's Ed25519 signature of `msg`.
    pub fn verify(&self, msg: &[u8], signature: &[u8]) -> bool {
        let Ok(sig) = Signature::from_slice(signature) else {
            return false;
        };
        self.key.verify_strict(msg, &sig).is_ok()
    }
}

/// A private key that signs notes. Built from caller-supplied 32 random bytes (the seed).
#[derive(Clone)]
pub struct Signer {
    name: String,
    key_id: u32,
    key: SigningKey,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Signer({}+{:08x})", self.name, self.key_id)
    }
}

impl Signer {
    pub fn from_seed(name: &str, seed: &[u8; 32]) -> Result<Signer, LogError> {
        if !is_valid_name(name) {
            return Err(LogError::malformed("signer key", "invalid key name"));
        }
        let key = SigningKey::from_bytes(seed);
        Ok(Signer {
            name: name.to_owned(),
            key_id: key_id(name, key.verifying_key().as_bytes()),
            key,
        })
    }

    /// Parse `PRIVATE+KEY+<name>+<hex key ID>+<base64(0x01 || seed)>`; the key ID must match.
    pub fn parse(text: &str) -> Result<Signer, LogError> {
        const W: &str = "signer key";
        let rest = text
            .strip_prefix("PRIVATE+KEY+")
            .ok_or_else(|| LogError::malformed(W, "must start with PRIVATE+KEY+"))?;
        let (name, id, seed) = parse_key_text(rest, W, "Ed25519 seed must be 32 bytes")?;
        let s = Signer::from_seed(name, &seed)?;
        if s.key_id != id {
            return Err(LogError::malformed(W, "key ID does not match name and key"));
        }
        Ok(s)
    }

    /// `PRIVATE+KEY+<name>+<hex key ID>+<base64(0x01 || seed)>`. Secret.
    pub fn to_text(&self) -> String {
        let mut raw = vec![ALG_ED25519];
        raw.extend_from_slice(self.key.as_bytes());
        format!(
            "PRIVATE+KEY+{}+{:08x}+{}",
            self.name,
            self.key_id,
            B64.encode(raw)
        )
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn key_id(&self) -> u32 {
        self.key_id
    }

    pub fn verifier(&self) -> Verifier {
        Verifier {
            name: self.name.clone(),
            key_id: self.key_id,
            key: self.key.verifying_key(),
        }
    }

    /// The signed note of `text` (which must end in a newline and be valid note text).
    pub fn sign(&self, text: &str) -> Result<String, LogError> {
        check_note_text(text)?;
        let sig = self.key.sign(text.as_bytes());
        let mut raw = self.key_id.to_be_bytes().to_vec();
        raw.extend_from_slice(&sig.to_bytes());
        Ok(format!(
            "{text}\n{SIGNATURE_PREFIX}{} {}\n",
            self.name,
            B64.encode(raw)
        ))
    }
}

fn check_chars(s: &str) -> Result<(), LogError> {
    if let Some(c) = s.chars().find(|&c| c < ' ' && c != '\n') {
        return Err(LogError::malformed(
            "note",
            format!("control character U+{:04X}", c as u32),
        ));
    }
    Ok(())
}

fn check_note_text(text: &str) -> Result<(), LogError> {
    if !text.ends_with('\n') {
        return Err(LogError::malformed("note", "text must end with a newline"));
    }
    if text.len() > MAX_NOTE_SIZE {
        return Err(LogError::malformed("note", "too large"));
    }
    check_chars(text)
}

/// One signature line: key name, key ID and the signature bytes after the key ID.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoteSignature {
    pub name: String,
    pub key_id: u32,
    pub signature: Vec<u8>,
}

/// A parsed (not yet verified) signed note.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    /// The signed text, including its final newline.
    pub text: String,
    pub signatures: Vec<NoteSignature>,
}

impl Note {
    /// Parse a signed note: UTF-8, no control characters but newline, text and signature lines
    /// split at the last blank line, every signature line well formed, at most
    /// [`MAX_SIGNATURES`] lines, at most [`MAX_NOTE_SIZE`] bytes.
    pub fn parse(msg: &[u8]) -> Result<Note, LogError> {
        const W: &str = "note";
        if msg.len() > MAX_NOTE_SIZE {
            return Err(LogError::malformed(W, "too large"));
        }
        let msg = std::str::from_utf8(msg).map_err(|_| LogError::malformed(W, "not UTF-8"))?;
        check_chars(msg)?;
        let split = msg
            .rfind("\n\n")
            .ok_or_else(|| LogError::malformed(W, "no blank line before the signatures"))?;
        let (text, sigs) = (&msg[..split + 1], &msg[split + 2..]);
        if sigs.is_empty() {
            return Err(LogError::malformed(W, "no signature lines"));
        }
        if !sigs.ends_with('\n') {
            return Err(LogError::malformed(W, "must end with a newline"));
        }
        let mut signatures = Vec::new();
        for line in sigs[..sigs.len() - 1].split('\n') {
            if signatures.len() == MAX_SIGNATURES {
                return Err(LogError::malformed(W, "too many signatures"));
            }
            let body = line.strip_prefix(SIGNATURE_PREFIX).ok_or_else(|| {
                LogError::malformed(W, "signature line must start with an em dash and a space")
            })?;
            let (name, b64) = body
                .split_once(' ')
                .ok_or_else(|| LogError::malformed(W, "signature line without signature"))?;
            if !is_valid_name(name) {
                return Err(LogError::malformed(W, "invalid key name"));
            }
            let raw = decode_b64(b64, W)?;
            if raw.len() < 5 {
                return Err(LogError::malformed(W, "signature too short"));
            }
            signatures.push(NoteSignature {
                name: name.to_owned(),
                key_id: u32::from_be_bytes([raw[0], raw[1], raw[2], raw[3]]),
                signature: raw[4..].to_vec(),
            });
        }
        Ok(Note {
            text: text.to_owned(),
            signatures,
        })
    }

    /// The signed note text again (text, blank line, signature lines).
    pub fn to_text(&self) -> String {
        let mut s = self.text.clone();
        s.push('\n');
        for sig in &self.signatures {
            let mut raw = sig.key_id.to_be_bytes().to_vec();
            raw.extend_from_slice(&sig.signature);
            s.push_str(&format!(
                "{SIGNATURE_PREFIX}{} {}\n",
                sig.name,
                B64.encode(raw)
            ));
        }
        s
    }

    /// Check signatures against `known` keys: signatures of unknown keys (name or key ID
    /// differ) are ignored; every signature of a known key (name and key ID match) must verify;
    /// a known key may sign once; at least one must verify. Returns the verified key names.
    pub fn verify(&self, known: &[Verifier]) -> Result<Vec<String>, LogError> {
        let mut verified: Vec<(String, u32)> = Vec::new();
        for sig in &self.signatures {
            let matching: Vec<&Verifier> = known
                .iter()
                .filter(|v| v.name == sig.name && v.key_id == sig.key_id)
                .collect();
            if matching.is_empty() {
                continue;
            }
            if verified.contains(&(sig.name.clone(), sig.key_id)) {
                return Err(LogError::malformed(
                    "note",
                    format!("duplicate signature by {}+{:08x}", sig.name, sig.key_id),
                ));
            }
            if !matching
                .iter()
                .any(|v| v.verify(self.text.as_bytes(), &sig.signature))
            {
                return Err(LogError::InvalidSignature {
                    name: sig.name.clone(),
                    key_id: sig.key_id,
                });
            }
            verified.push((sig.name.clone(), sig.key_id));
        }
        if verified.is_empty() {
            return Err(LogError::NoVerifiedSignature);
        }
        Ok(verified.into_iter().map(|(n, _)| n).collect())
    }
}

/// Parse and verify a signed note; returns its text.
pub fn open(msg: &[u8], known: &[Verifier]) -> Result<String, LogError> {
    let note = Note::parse(msg)?;
    note.verify(known)?;
    Ok(note.text)
}
