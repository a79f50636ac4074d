use std::fmt;

/// Every failure of this crate. Messages name what was wrong; none carries secret material.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogError {
    /// An entry index at or beyond the tree size.
    IndexOutOfRange { index: u64, size: u64 },
    /// Tree sizes that do not fit the operation (old > new, empty tree, too large).
    BadTreeSize { old: u64, new: u64 },
    /// A proof with the wrong number of hashes for its sizes.
    ProofLength { expected: usize, got: usize },
    /// A proof that does not lead to the expected root hash(es).
    ProofMismatch,
    /// A [`crate::HashReader`] or [`crate::TileReader`] failed or returned the wrong count.
    Storage(String),
    /// A tile whose hashes do not match the checkpoint (or its parent tile).
    TileMismatch(String),
    /// Input that does not follow its format; `what` names the format.
    Malformed { what: &'static str, detail: String },
    /// A signature from a known key that does not verify.
    InvalidSignature { name: String, key_id: u32 },
    /// A note without any verified signature from a known key.
    NoVerifiedSignature,
    /// A checkpoint refused by the consistency rule.
    Inconsistent(String),
}

impl LogError {
    pub(crate) fn malformed(what: &'static str, detail: impl Into<String>) -> Self {
        LogError::Malformed {
            what,
            detail: detail.into(),
        }
    }
}

impl fmt::Display for LogError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LogError::IndexOutOfRange { index, size } => {
                write!(f, "entry index {index} is not in a tree of size {size}")
            }
            LogError::BadTreeSize { old, new } => {
                write!(f, "invalid tree sizes {old} and {new} for this operation")
            }
            LogError::ProofLength { expected, got } => {
                write!(f, "proof has {got} hashes, expected {expected}")
            }
            LogError::ProofMismatch => write!(f, "proof does not match the root hash"),
            LogError::Storage(m) => write!(f, "hash storage: {m}"),
            LogError::TileMismatch(m) => write!(f, "tile does not match the tree: {m}"),
            LogError::Malformed { what, detail } => write!(f, "malformed {what}: {detail}"),
            LogError::InvalidSignature { name, key_id } => {
                write!(f, "invalid signature by known key {name}+{key_id:08x}")
            }
            LogError::NoVerifiedSignature => {
                write!(f, "note has no verified signature from a known key")
            }
            LogError::Inconsistent(m) => write!(f, "inconsistent checkpoints: {m}"),
        }
    }
}

impl std::error::Error for LogError {}

#[cfg(test)]
mod tests {
    use super::LogError;

    #[test]
    fn every_error_has_a_message() {
        let all = [
            LogError::IndexOutOfRange { index: 5, size: 3 },
            LogError::BadTreeSize { old: 4, new: 3 },
            LogError::ProofLength {
                expected: 2,
                got: 3,
            },
            LogError::ProofMismatch,
            LogError::Storage("x".into()),
            LogError::TileMismatch("x".into()),
            LogError::malformed("note", "x"),
            LogError::InvalidSignature {
                name: "n".into(),
                key_id: 0xc74f20a3,
            },
            LogError::NoVerifiedSignature,
            LogError::Inconsistent("x".into()),
        ];
        for e in all {
            let m = e.to_string();
            assert!(m.len() > 10, "{m}");
        }
        assert_eq!(
            LogError::InvalidSignature {
                name: "n".into(),
                key_id: 0xc74f20a3
            }
            .to_string(),
            "invalid signature by known key n+c74f20a3"
        );
    }
}
