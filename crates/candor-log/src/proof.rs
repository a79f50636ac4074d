//! C2SP tlog-proof files: an entry's index, its inclusion proof and the signed checkpoint, in
//! one text checked offline.
//!
//! ```text
//! c2sp.org/tlog-proof@v1\n
//! extra <base64 entry bytes>\n          (Candor: the entry itself; optional in the format)
//! index <decimal, no leading zeroes>\n
//! <base64 hash>\n ...                   (inclusion proof, leaf's sibling first, 0..=63 lines)
//! \n
//! <signed checkpoint note, verbatim>
//! ```

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;

use crate::checkpoint::{encode_hash, parse_hash, Checkpoint};
use crate::merkle::{leaf_hash, verify_inclusion, Hash};
use crate::note::Verifier;
use crate::LogError;

/// First line of a proof file.
pub const PROOF_HEADER: &str = "c2sp.org/tlog-proof@v1";
/// Most inclusion proof lines (a proof in a tree of up to 2^63 leaves).
pub const MAX_PROOF_HASHES: usize = 63;

/// A parsed proof file (nothing verified yet).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProofFile {
    /// Opaque extra data; Candor puts the entry bytes here.
    pub extra: Option<Vec<u8>>,
    pub index: u64,
    pub proof: Vec<Hash>,
    /// The signed checkpoint note, verbatim.
    pub checkpoint: String,
}

/// What a valid proof file establishes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedEntry {
    pub checkpoint: Checkpoint,
    pub index: u64,
    pub leaf_hash: Hash,
    /// The entry bytes, when the file carried them (`extra`).
    pub entry: Option<Vec<u8>>,
}

impl ProofFile {
    pub fn encode(&self) -> String {
        let mut s = format!("{PROOF_HEADER}\n");
        if let Some(e) = &self.extra {
            s.push_str(&format!("extra {}\n", B64.encode(e)));
        }
        s.push_str(&format!("index {}\n", self.index));
        for h in &self.proof {
            s.push_str(&encode_hash(h));
            s.push('\n');
        }
        s.push('\n');
        s.push_str(&self.checkpoint);
        s
    }

    pub fn parse(text: &[u8]) -> Result<ProofFile, LogError> {
        const W: &str = "proof file";
        let text = std::str::from_utf8(text).map_err(|_| LogError::malformed(W, "not UTF-8"))?;
        let mut rest = text;
        let next_line = |rest: &mut &str| -> Result<String, LogError> {
            let (line, tail) = rest
                .split_once('\n')
                .ok_or_else(|| LogError::malformed(W, "truncated"))?;
            *rest = tail;
            Ok(line.to_owned())
        };
        if next_line(&mut rest)? != PROOF_HEADER {
            return Err(LogError::malformed(
                W,
                "first line is not c2sp.org/tlog-proof@v1",
            ));
        }
        let mut line = next_line(&mut rest)?;
        let mut extra = None;
        if let Some(b64) = line.strip_prefix("extra ") {
            extra = Some(
                B64.decode(b64)
                    .map_err(|e| LogError::malformed(W, format!("bad extra: {e}")))?,
            );
            line = next_line(&mut rest)?;
        }
        let idx = line
            .strip_prefix("index ")
            .ok_or_else(|| LogError::malformed(W, "missing index line"))?;
        let index = crate::canonical_u64(idx)
            .ok_or_else(|| LogError::malformed(W, format!("bad index {idx:?}")))?;
        let mut proof = Vec::new();
        loop {
            let line = next_line(&mut rest)?;
            if line.is_empty() {
                break;
            }
            if proof.len() == MAX_PROOF_HASHES {
                return Err(LogError::malformed(W, "too many proof lines"));
            }
            proof.push(parse_hash(&line, W)?);
        }
        if rest.is_empty() {
            return Err(LogError::malformed(W, "missing checkpoint"));
        }
        Ok(ProofFile {
            extra,
            index,
            proof,
            checkpoint: rest.to_owned(),
        })
    }

    /// Verify against the log key: the checkpoint's signature (origin = key name), then the
    /// inclusion of `leaf` at `index` under the checkpoint's root.
    pub fn verify_leaf(&self, leaf: &Hash, verifier: &Verifier) -> Result<VerifiedEntry, LogError> {
        let checkpoint = Checkpoint::open(self.checkpoint.as_bytes(), verifier)?;
        verify_inclusion(
            leaf,
            self.index,
            checkpoint.size,
            &self.proof,
            &checkpoint.root,
        )?;
        Ok(VerifiedEntry {
            checkpoint,
            index: self.index,
            leaf_hash: *leaf,
            entry: self.extra.clone(),
        })
    }
}

/// Verify a Candor proof file (entry bytes in `extra`) offline with the log's verifier key.
pub fn verify_proof_file(text: &[u8], verifier: &Verifier) -> Result<VerifiedEntry, LogError> {
    let file = ProofFile::parse(text)?;
    let entry = file
        .extra
        .as_deref()
        .ok_or_else(|| LogError::malformed("proof file", "no entry (extra line)"))?;
    let leaf = leaf_hash(entry);
    file.verify_leaf(&leaf, verifier)
}

/// Verify a proof file for an entry the caller already has, given by its leaf hash.
pub fn verify_proof_file_for_leaf(
    text: &[u8],
    leaf: &Hash,
    verifier: &Verifier,
) -> Result<VerifiedEntry, LogError> {
    let file = ProofFile::parse(text)?;
    file.verify_leaf(leaf, verifier)
}
