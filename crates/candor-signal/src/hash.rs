//! The PDQ hash value, its text form, Hamming distance and the eight orientations.

use std::fmt;
use std::str::FromStr;

use crate::SignalError;

/// A 256-bit PDQ hash.
///
/// The bytes are the reference 64-character hex form decoded big-endian: hex character 0 is the
/// high nibble of byte 0. Bit `k` of the reference (`k = row * 16 + column` of the 16×16 DCT) is
/// bit `k % 8` of byte `31 - k / 8`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct PdqHash(pub [u8; 32]);

impl PdqHash {
    /// The all-zero hash: what the reference gives for images under 5 pixels on a side.
    pub const ZERO: PdqHash = PdqHash([0; 32]);

    /// Parses the 64-character hex form (upper or lower case, surrounding white space ignored).
    pub fn from_hex(s: &str) -> Result<PdqHash, SignalError> {
        let s = s.trim();
        if s.len() != 64 {
            return Err(SignalError::BadHash(format!(
                "a PDQ hash is 64 hex characters, got {}",
                s.len()
            )));
        }
        let mut out = [0u8; 32];
        let bytes = s.as_bytes();
        for (i, byte) in out.iter_mut().enumerate() {
            let hi = hex_value(bytes[2 * i]);
            let lo = hex_value(bytes[2 * i + 1]);
            match (hi, lo) {
                (Some(hi), Some(lo)) => *byte = (hi << 4) | lo,
                _ => {
                    return Err(SignalError::BadHash(format!(
                        "not a hex character at position {}",
                        if hi.is_none() { 2 * i + 1 } else { 2 * i + 2 }
                    )))
                }
            }
        }
        Ok(PdqHash(out))
    }

    /// The reference text form: 64 lower-case hex characters.
    pub fn to_hex(&self) -> String {
        let mut s = String::with_capacity(64);
        for b in self.0 {
            s.push(HEX[(b >> 4) as usize] as char);
            s.push(HEX[(b & 15) as usize] as char);
        }
        s
    }

    /// Hamming distance: the number of differing bits (0..=256).
    #[inline]
    pub fn distance(&self, other: &PdqHash) -> u32 {
        let a = self.to_words();
        let b = other.to_words();
        (a[0] ^ b[0]).count_ones()
            + (a[1] ^ b[1]).count_ones()
            + (a[2] ^ b[2]).count_ones()
            + (a[3] ^ b[3]).count_ones()
    }

    /// The hash as four big-endian 64-bit words (word 0 holds hex characters 0..16).
    #[inline]
    pub fn to_words(&self) -> [u64; 4] {
        let mut w = [0u64; 4];
        for (i, word) in w.iter_mut().enumerate() {
            let mut b = [0u8; 8];
            b.copy_from_slice(&self.0[i * 8..i * 8 + 8]);
            *word = u64::from_be_bytes(b);
        }
        w
    }

    /// The inverse of [`PdqHash::to_words`].
    pub fn from_words(w: [u64; 4]) -> PdqHash {
        let mut out = [0u8; 32];
        for (i, word) in w.iter().enumerate() {
            out[i * 8..i * 8 + 8].copy_from_slice(&word.to_be_bytes());
        }
        PdqHash(out)
    }

    /// Reference bit `k` (`k = row * 16 + column` of the 16×16 DCT).
    #[inline]
    pub fn bit(&self, k: usize) -> bool {
        (self.0[31 - k / 8] >> (k % 8)) & 1 == 1
    }

    #[inline]
    pub(crate) fn set_bit(&mut self, k: usize) {
        self.0[31 - k / 8] |= 1 << (k % 8);
    }

    /// How many bits are set.
    pub fn count_ones(&self) -> u32 {
        self.to_words().iter().map(|w| w.count_ones()).sum()
    }
}

const HEX: &[u8; 16] = b"0123456789abcdef";

fn hex_value(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

impl fmt::Display for PdqHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for PdqHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PdqHash({})", self.to_hex())
    }
}

impl FromStr for PdqHash {
    type Err = SignalError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        PdqHash::from_hex(s)
    }
}

/// A PDQ hash with the reference quality metric (0..=100).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PdqSignal {
    pub hash: PdqHash,
    pub quality: u8,
}

/// One of the eight dihedral transforms of an image, in the reference's order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Orientation {
    Original,
    Rotate90,
    Rotate180,
    Rotate270,
    FlipX,
    FlipY,
    FlipPlus1,
    FlipMinus1,
}

impl Orientation {
    /// All eight, in the reference order (the order of `dihedral` arrays everywhere in Candor).
    pub const ALL: [Orientation; 8] = [
        Orientation::Original,
        Orientation::Rotate90,
        Orientation::Rotate180,
        Orientation::Rotate270,
        Orientation::FlipX,
        Orientation::FlipY,
        Orientation::FlipPlus1,
        Orientation::FlipMinus1,
    ];

    /// The short name used in JSON and TSV output.
    pub fn name(self) -> &'static str {
        match self {
            Orientation::Original => "orig",
            Orientation::Rotate90 => "rot90",
            Orientation::Rotate180 => "rot180",
            Orientation::Rotate270 => "rot270",
            Orientation::FlipX => "flipx",
            Orientation::FlipY => "flipy",
            Orientation::FlipPlus1 => "flipplus1",
            Orientation::FlipMinus1 => "flipminus1",
        }
    }

    /// Parses a name given by [`Orientation::name`].
    pub fn from_name(name: &str) -> Option<Orientation> {
        Orientation::ALL.into_iter().find(|o| o.name() == name)
    }

    /// Index in [`Orientation::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for Orientation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trip_and_case() {
        let s = "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22";
        let h = PdqHash::from_hex(s).unwrap();
        assert_eq!(h.to_hex(), s);
        assert_eq!(PdqHash::from_hex(&s.to_uppercase()).unwrap(), h);
        assert_eq!(format!("{h}"), s);
        assert_eq!(PdqHash::from_words(h.to_words()), h);
    }

    #[test]
    fn bad_hex_is_a_clear_error() {
        let e = PdqHash::from_hex("abc").unwrap_err().to_string();
        assert!(e.contains("64 hex characters"), "{e}");
        let mut s = "0".repeat(64);
        s.replace_range(10..11, "g");
        let e = PdqHash::from_hex(&s).unwrap_err().to_string();
        assert!(e.contains("position 11"), "{e}");
    }

    #[test]
    fn bit_layout_matches_reference_words() {
        // Reference: word w[k >> 4] bit (k & 15); the text form prints w[15] first.
        let mut h = PdqHash::ZERO;
        h.set_bit(0);
        assert_eq!(&h.to_hex()[60..], "0001");
        let mut h = PdqHash::ZERO;
        h.set_bit(255);
        assert_eq!(&h.to_hex()[..4], "8000");
        let mut h = PdqHash::ZERO;
        h.set_bit(17);
        assert_eq!(&h.to_hex()[56..60], "0002");
        assert!(h.bit(17) && !h.bit(16));
    }

    #[test]
    fn distance_counts_bits() {
        let a = PdqHash::ZERO;
        let mut b = PdqHash::ZERO;
        for k in [0, 5, 64, 200, 255] {
            b.set_bit(k);
        }
        assert_eq!(a.distance(&b), 5);
        assert_eq!(b.distance(&b), 0);
        assert_eq!(PdqHash([0xff; 32]).distance(&a), 256);
    }

    #[test]
    fn orientation_names_round_trip() {
        for (i, o) in Orientation::ALL.into_iter().enumerate() {
            assert_eq!(o.index(), i);
            assert_eq!(Orientation::from_name(o.name()), Some(o));
        }
        assert_eq!(Orientation::from_name("sideways"), None);
    }
}
