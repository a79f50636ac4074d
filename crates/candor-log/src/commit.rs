//! Commitments: what the log says instead of identifiers and hashes in the clear.
//!
//! A commitment is `SHA-256` over a domain-separation label and the committed values, each
//! prefixed by its length as a big-endian `u64`:
//!
//! ```text
//! content_commitment = SHA-256(lp("candor/v1/content-commitment") || lp(nonce[32]) || lp(puid))
//! signal_commitment  = SHA-256(lp("candor/v1/signal-commitment") || lp(salt[16]) || lp(signal) || lp(value))
//! lp(x) = u64_be(len(x)) || x
//! ```
//!
//! The labels keep the two kinds (and any future one) from ever colliding; the length
//! prefixes make the encoding injective, so one commitment opens to one set of values only.
//!
//! - **Content** (`decision.content_commitment`): the platform's content id (`puid`) is not in
//!   the log. The decision's notice gives the affected person a fresh random 32-byte nonce and
//!   the puid; with them anyone can recompute the commitment and find *their* decision's entry,
//!   and nobody else can link the entry to a piece of content (the nonce is unguessable, so
//!   puids cannot be tried one by one).
//! - **Signals** (`bank_content.commitment`): a bank's hashes are not published in the clear.
//!   A listed hash in the clear would let anyone test whether their material is listed (and
//!   tune it until it no longer matches), and would leak the list itself, which often cannot be
//!   shared (imported industry lists, CSAM hashes). With a salted commitment (a random 16-byte
//!   salt per bank entry, kept by the operator) auditors can still count additions,
//!   retractions and changes per bank, category and provenance, see that an entry exists
//!   before the decisions it caused, and, in a dispute, the operator can *open* one commitment
//!   (disclose salt, signal and value to the auditor or a court) and everyone can check it with
//!   [`open_signal_commitment`]. The cost: the public cannot check by themselves which hash
//!   is listed, only that the log is append-only and consistent.

use sha2::{Digest, Sha256};

use crate::merkle::Hash;
use crate::LogError;

/// Domain label of content commitments.
pub const CONTENT_COMMITMENT_LABEL: &str = "candor/v1/content-commitment";
/// Domain label of signal commitments.
pub const SIGNAL_COMMITMENT_LABEL: &str = "candor/v1/signal-commitment";

fn lp(h: &mut Sha256, x: &[u8]) {
    h.update((x.len() as u64).to_be_bytes());
    h.update(x);
}

/// Commitment to a platform content id with the notice's nonce.
pub fn content_commitment(nonce: &[u8; 32], puid: &str) -> Hash {
    let mut h = Sha256::new();
    lp(&mut h, CONTENT_COMMITMENT_LABEL.as_bytes());
    lp(&mut h, nonce);
    lp(&mut h, puid.as_bytes());
    h.finalize().into()
}

/// Commitment to a bank signal (`signal` is the kind: `pdq`, `md5`, `sha256`; `value` its raw
/// bytes) with a per-entry random salt.
pub fn signal_commitment(salt: &[u8; 16], signal: &str, value: &[u8]) -> Hash {
    let mut h = Sha256::new();
    lp(&mut h, SIGNAL_COMMITMENT_LABEL.as_bytes());
    lp(&mut h, salt);
    lp(&mut h, signal.as_bytes());
    lp(&mut h, value);
    h.finalize().into()
}

/// Does `commitment` open to `nonce` and `puid`?
pub fn open_content_commitment(commitment: &Hash, nonce: &[u8; 32], puid: &str) -> bool {
    content_commitment(nonce, puid) == *commitment
}

/// Does `commitment` open to `salt`, `signal` and `value`?
pub fn open_signal_commitment(
    commitment: &Hash,
    salt: &[u8; 16],
    signal: &str,
    value: &[u8],
) -> bool {
    signal_commitment(salt, signal, value) == *commitment
}

/// Lowercase hex.
pub fn to_hex(bytes: &[u8]) -> String {
    const D: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        s.push(char::from(D[usize::from(b >> 4)]));
        s.push(char::from(D[usize::from(b & 15)]));
    }
    s
}

/// Parse exactly `N` bytes of lowercase hex (`2N` digits).
pub fn parse_hex<const N: usize>(s: &str) -> Result<[u8; N], LogError> {
    let b = s.as_bytes();
    if b.len() != 2 * N {
        return Err(LogError::malformed(
            "hex",
            format!("expected {} lowercase hex digits, got {}", 2 * N, b.len()),
        ));
    }
    let digit = |c: u8| match c {
        b'0'..=b'9' => Ok(c - b'0'),
        b'a'..=b'f' => Ok(c - b'a' + 10),
        _ => Err(LogError::malformed(
            "hex",
            "not a lowercase hex digit".to_string(),
        )),
    };
    let mut out = [0u8; N];
    for (i, o) in out.iter_mut().enumerate() {
        *o = (digit(b[2 * i])? << 4) | digit(b[2 * i + 1])?;
    }
    Ok(out)
}

/// Parse a SHA-256 value written as 64 lowercase hex digits.
pub fn parse_hex_hash(s: &str) -> Result<Hash, LogError> {
    parse_hex::<32>(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commitments_open_and_separate() {
        let nonce = [7u8; 32];
        let c = content_commitment(&nonce, "post/123");
        assert!(open_content_commitment(&c, &nonce, "post/123"));
        assert!(!open_content_commitment(&c, &nonce, "post/124"));
        assert!(!open_content_commitment(&c, &[8u8; 32], "post/123"));
        let salt = [1u8; 16];
        let s = signal_commitment(&salt, "md5", b"abc");
        assert!(open_signal_commitment(&s, &salt, "md5", b"abc"));
        assert!(!open_signal_commitment(&s, &salt, "md5a", b"bc"));
        assert!(!open_signal_commitment(&s, &salt, "sha256", b"abc"));
        assert_ne!(s, c);
        // Known answer (guards the encoding against accidental change).
        let direct = {
            let mut h = Sha256::new();
            for part in [CONTENT_COMMITMENT_LABEL.as_bytes(), &nonce[..], b"post/123"] {
                h.update((part.len() as u64).to_be_bytes());
                h.update(part);
            }
            <[u8; 32]>::from(h.finalize())
        };
        assert_eq!(c, direct);
    }

    #[test]
    fn hex() {
        let h = [0xabu8; 32];
        assert_eq!(parse_hex_hash(&to_hex(&h)).unwrap(), h);
        assert!(parse_hex_hash(&to_hex(&h).to_uppercase()).is_err());
        assert!(parse_hex_hash("ab").is_err());
        assert!(parse_hex::<1>("g0").is_err());
        assert_eq!(parse_hex::<2>("00ff").unwrap(), [0, 255]);
    }
}
