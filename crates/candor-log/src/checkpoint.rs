//! C2SP tlog-checkpoint: the signed tree head, a signed note whose text is
//!
//! ```text
//! <origin>\n<tree size, decimal>\n<base64 root hash>\n[<extension line>\n ...]
//! ```
//! and the rule that a log never signs a checkpoint inconsistent with one it signed before.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;

use crate::merkle::{verify_consistency, Hash, HASH_SIZE};
use crate::note::{Note, Signer, Verifier};
use crate::LogError;

/// A tree head: origin (the log's identity; Candor uses its key name), size, root, extensions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    pub origin: String,
    pub size: u64,
    pub root: Hash,
    pub extensions: Vec<String>,
}

/// Parse a hash in standard, padded, canonical base64.
pub(crate) fn parse_hash(s: &str, what: &'static str) -> Result<Hash, LogError> {
    let raw = B64
        .decode(s)
        .map_err(|e| LogError::malformed(what, format!("bad base64 hash: {e}")))?;
    raw.try_into()
        .map_err(|_| LogError::malformed(what, format!("hash is not {HASH_SIZE} bytes")))
}

/// A hash in standard padded base64, as checkpoints and proof files write it.
pub fn encode_hash(h: &Hash) -> String {
    B64.encode(h)
}

impl Checkpoint {
    pub fn new(origin: &str, size: u64, root: Hash) -> Checkpoint {
        Checkpoint {
            origin: origin.to_owned(),
            size,
            root,
            extensions: Vec::new(),
        }
    }

    /// The note text. Refuses an empty origin, empty extension lines and any control character.
    pub fn to_text(&self) -> Result<String, LogError> {
        const W: &str = "checkpoint";
        if self.origin.is_empty() {
            return Err(LogError::malformed(W, "empty origin"));
        }
        let bad = |s: &str| s.chars().any(|c| c < ' ');
        if bad(&self.origin) {
            return Err(LogError::malformed(W, "control character in origin"));
        }
        let mut s = format!(
            "{}\n{}\n{}\n",
            self.origin,
            self.size,
            encode_hash(&self.root)
        );
        for e in &self.extensions {
            if e.is_empty() || bad(e) {
                return Err(LogError::malformed(W, "empty or invalid extension line"));
            }
            s.push_str(e);
            s.push('\n');
        }
        Ok(s)
    }

    /// Parse note text: at least three lines, each ending in a newline and non-empty; size with
    /// no leading zeroes; root a canonical base64 SHA-256 hash.
    pub fn parse(text: &str) -> Result<Checkpoint, LogError> {
        const W: &str = "checkpoint";
        let body = text
            .strip_suffix('\n')
            .ok_or_else(|| LogError::malformed(W, "must end with a newline"))?;
        let lines: Vec<&str> = body.split('\n').collect();
        if lines.len() < 3 {
            return Err(LogError::malformed(W, "fewer than three lines"));
        }
        if lines.iter().any(|l| l.is_empty()) {
            return Err(LogError::malformed(W, "empty line"));
        }
        if lines.iter().any(|l| l.chars().any(|c| c < ' ')) {
            return Err(LogError::malformed(W, "control character"));
        }
        let s = lines[1];
        let size = crate::canonical_u64(s)
            .ok_or_else(|| LogError::malformed(W, format!("bad tree size {s:?}")))?;
        Ok(Checkpoint {
            origin: lines[0].to_owned(),
            size,
            root: parse_hash(lines[2], W)?,
            extensions: lines[3..].iter().map(|l| (*l).to_owned()).collect(),
        })
    }

    /// Verify a signed checkpoint note with `verifier` and parse it. The origin must equal the
    /// verifier's key name (Candor names its log key after the origin).
    pub fn open(signed: &[u8], verifier: &Verifier) -> Result<Checkpoint, LogError> {
        let note = Note::parse(signed)?;
        note.verify(std::slice::from_ref(verifier))?;
        let cp = Checkpoint::parse(&note.text)?;
        if cp.origin != verifier.name() {
            return Err(LogError::malformed(
                "checkpoint",
                format!("origin {:?} is not the key name", cp.origin),
            ));
        }
        Ok(cp)
    }
}

/// Check that `later` extends `earlier`: same origin, size not smaller, and `proof` a valid
/// consistency proof between their roots (equal roots when the sizes are equal).
pub fn check_consistent(
    earlier: &Checkpoint,
    later: &Checkpoint,
    proof: &[Hash],
) -> Result<(), LogError> {
    if earlier.origin != later.origin {
        return Err(LogError::Inconsistent("different origins".into()));
    }
    if later.size < earlier.size {
        return Err(LogError::Inconsistent(format!(
            "size {} is smaller than {}",
            later.size, earlier.size
        )));
    }
    verify_consistency(earlier.size, later.size, proof, &earlier.root, &later.root)
        .map_err(|e| LogError::Inconsistent(e.to_string()))
}

/// Verify two signed checkpoints with `verifier` and that the later extends the earlier.
pub fn verify_checkpoint_consistency(
    earlier: &[u8],
    later: &[u8],
    proof: &[Hash],
    verifier: &Verifier,
) -> Result<(Checkpoint, Checkpoint), LogError> {
    let a = Checkpoint::open(earlier, verifier)?;
    let b = Checkpoint::open(later, verifier)?;
    check_consistent(&a, &b, proof)?;
    Ok((a, b))
}

/// Sign `next` only if it is consistent with `last_signed` (the last checkpoint this log
/// signed; `None` for the first one) through `proof`, and its origin is the signer's name.
pub fn sign_checkpoint(
    signer: &Signer,
    last_signed: Option<&Checkpoint>,
    next: &Checkpoint,
    proof: &[Hash],
) -> Result<String, LogError> {
    if next.origin != signer.name() {
        return Err(LogError::Inconsistent(format!(
            "origin {:?} is not the key name {:?}",
            next.origin,
            signer.name()
        )));
    }
    if let Some(last) = last_signed {
        check_consistent(last, next, proof)?;
    }
    signer.sign(&next.to_text()?)
}
