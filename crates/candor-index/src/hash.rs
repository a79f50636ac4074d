//! 256-bit hashes, entry ids and the entry-reference table.
use std::fmt;

/// A 256-bit hash (a PDQ hash) as four 64-bit words.
///
/// Word `j` holds bytes `8j..8j+8` of the reference byte form, big-endian: hex character 0 is
/// the high nibble of byte 0 and ends up in the top bits of word 0. Hamming distance does not
/// depend on the layout; the layout only fixes which bits each index substring covers.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
#[repr(transparent)]
pub struct Hash256(pub [u64; 4]);

/// Why a hex string is not a 256-bit hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HexError {
    /// The string does not have 64 characters (after trimming surrounding white space).
    Length(usize),
    /// The character at this 0-based position is not a hex digit.
    Digit(usize),
}

impl fmt::Display for HexError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HexError::Length(n) => write!(f, "expected 64 hex digits, found {n} characters"),
            HexError::Digit(i) => write!(f, "not a hex digit at character {}", i + 1),
        }
    }
}

impl std::error::Error for HexError {}

impl Hash256 {
    /// From the 32-byte reference form (the bytes of the 64-hex string, in order).
    pub fn from_bytes(bytes: [u8; 32]) -> Hash256 {
        let mut w = [0u64; 4];
        for (j, word) in w.iter_mut().enumerate() {
            let mut b = [0u8; 8];
            b.copy_from_slice(&bytes[8 * j..8 * j + 8]);
            *word = u64::from_be_bytes(b);
        }
        Hash256(w)
    }

    /// The 32-byte reference form.
    pub fn to_bytes(&self) -> [u8; 32] {
        let mut out = [0u8; 32];
        for (j, word) in self.0.iter().enumerate() {
            out[8 * j..8 * j + 8].copy_from_slice(&word.to_be_bytes());
        }
        out
    }

    /// Parses 64 hex digits (either case; surrounding white space is ignored).
    pub fn from_hex(s: &str) -> Result<Hash256, HexError> {
        let s = s.trim();
        let b = s.as_bytes();
        if b.len() != 64 {
            return Err(HexError::Length(s.chars().count()));
        }
        let mut w = [0u64; 4];
        for (i, &c) in b.iter().enumerate() {
            let v = match c {
                b'0'..=b'9' => c - b'0',
                b'a'..=b'f' => c - b'a' + 10,
                b'A'..=b'F' => c - b'A' + 10,
                _ => return Err(HexError::Digit(i)),
            };
            w[i / 16] = (w[i / 16] << 4) | u64::from(v);
        }
        Ok(Hash256(w))
    }

    /// Lower-case 64-digit hex.
    pub fn to_hex(&self) -> String {
        format!(
            "{:016x}{:016x}{:016x}{:016x}",
            self.0[0], self.0[1], self.0[2], self.0[3]
        )
    }

    /// Hamming distance (number of differing bits, 0..=256).
    #[inline(always)]
    pub fn distance(&self, other: &Hash256) -> u32 {
        (self.0[0] ^ other.0[0]).count_ones()
            + (self.0[1] ^ other.0[1]).count_ones()
            + (self.0[2] ^ other.0[2]).count_ones()
            + (self.0[3] ^ other.0[3]).count_ones()
    }

    /// Substring `i` (0..8) of 32 bits: bits `32i..32i+32` counted from the first hex digit.
    #[inline(always)]
    pub(crate) fn substring(&self, i: usize) -> u32 {
        let w = self.0[i / 2];
        if i.is_multiple_of(2) {
            (w >> 32) as u32
        } else {
            w as u32
        }
    }
}

impl fmt::Display for Hash256 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for Hash256 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Hash256({})", self.to_hex())
    }
}

impl std::str::FromStr for Hash256 {
    type Err = HexError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Hash256::from_hex(s)
    }
}

/// An entry of an index: its position in insertion order. Stable for the life of the index
/// (compaction never renumbers; a removed entry's id is never reused).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EntryId(pub u32);

/// What an entry stands for: content `content` of bank `bank`. The index does not interpret
/// either number (the CLI uses bank 0 and the 1-based line of the bank file).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EntryRef {
    pub bank: u32,
    pub content: u64,
}

/// The table `EntryId -> EntryRef`, stored as runs: consecutive entries of one bank whose
/// content ids are consecutive share one run (16 bytes), so a bank file indexed in order costs
/// one run per stretch of lines without blanks or comments.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EntryRefs {
    pub(crate) runs: Vec<RefRun>,
    pub(crate) len: u32,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct RefRun {
    pub(crate) first: u32,
    pub(crate) bank: u32,
    pub(crate) content: u64,
}

impl EntryRefs {
    /// Number of entries.
    pub fn len(&self) -> usize {
        self.len as usize
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Number of runs (the table's size is 16 bytes per run).
    pub fn runs(&self) -> usize {
        self.runs.len()
    }

    /// Appends the reference of the next entry and returns that entry's id.
    ///
    /// Panics if the table already holds `u32::MAX` entries.
    pub fn push(&mut self, r: EntryRef) -> EntryId {
        assert!(self.len < u32::MAX, "entry table is full");
        let id = self.len;
        let extend = match self.runs.last() {
            Some(last) => {
                last.bank == r.bank
                    && last.content.checked_add(u64::from(id - last.first)) == Some(r.content)
            }
            None => false,
        };
        if !extend {
            self.runs.push(RefRun {
                first: id,
                bank: r.bank,
                content: r.content,
            });
        }
        self.len += 1;
        EntryId(id)
    }

    /// The reference of `id`, if the id exists.
    pub fn get(&self, id: EntryId) -> Option<EntryRef> {
        if id.0 >= self.len {
            return None;
        }
        let i = self.runs.partition_point(|run| run.first <= id.0);
        let run = self.runs[i - 1];
        Some(EntryRef {
            bank: run.bank,
            content: run.content + u64::from(id.0 - run.first),
        })
    }
}

/// A fixed-size bit set over entry ids (tombstones).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Bitset {
    pub(crate) words: Vec<u64>,
}

impl Bitset {
    pub(crate) fn words_for(bits: usize) -> usize {
        bits.div_ceil(64)
    }

    pub(crate) fn ensure(&mut self, bits: usize) {
        let w = Self::words_for(bits);
        if self.words.len() < w {
            self.words.resize(w, 0);
        }
    }

    #[inline(always)]
    pub(crate) fn get(&self, i: usize) -> bool {
        match self.words.get(i / 64) {
            Some(w) => (w >> (i % 64)) & 1 == 1,
            None => false,
        }
    }

    pub(crate) fn set(&mut self, i: usize) {
        self.ensure(i + 1);
        self.words[i / 64] |= 1 << (i % 64);
    }

    pub(crate) fn count(&self) -> usize {
        self.words.iter().map(|w| w.count_ones() as usize).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trip_and_byte_order() {
        let s = "f162eb9daab170c0567fe3632d9a5548c5612982dd5e374a7424ebbc8a835c95";
        let h = Hash256::from_hex(s).unwrap();
        assert_eq!(h.to_hex(), s);
        assert_eq!(h.0[0], 0xf162eb9daab170c0);
        let b = h.to_bytes();
        assert_eq!(b[0], 0xf1);
        assert_eq!(b[31], 0x95);
        assert_eq!(Hash256::from_bytes(b), h);
        assert_eq!(Hash256::from_hex(&s.to_uppercase()).unwrap(), h);
        assert_eq!(h.substring(0), 0xf162eb9d);
        assert_eq!(h.substring(7), 0x8a835c95);
    }

    #[test]
    fn hex_errors() {
        assert_eq!(Hash256::from_hex("abc"), Err(HexError::Length(3)));
        let mut s = "0".repeat(64);
        s.replace_range(10..11, "g");
        assert_eq!(Hash256::from_hex(&s), Err(HexError::Digit(10)));
        assert_eq!(
            HexError::Digit(10).to_string(),
            "not a hex digit at character 11"
        );
    }

    #[test]
    fn distance_counts_bits() {
        let a = Hash256([0, 0, 0, 0]);
        let b = Hash256([1, 3, u64::MAX, 0]);
        assert_eq!(a.distance(&b), 67);
        assert_eq!(b.distance(&b), 0);
    }

    #[test]
    fn entry_refs_runs() {
        let mut t = EntryRefs::default();
        for line in [1u64, 2, 3, 5, 6] {
            t.push(EntryRef {
                bank: 0,
                content: line,
            });
        }
        t.push(EntryRef {
            bank: 1,
            content: 7,
        });
        assert_eq!(t.len(), 6);
        assert_eq!(t.runs(), 3);
        assert_eq!(
            t.get(EntryId(3)),
            Some(EntryRef {
                bank: 0,
                content: 5
            })
        );
        assert_eq!(
            t.get(EntryId(2)),
            Some(EntryRef {
                bank: 0,
                content: 3
            })
        );
        assert_eq!(
            t.get(EntryId(5)),
            Some(EntryRef {
                bank: 1,
                content: 7
            })
        );
        assert_eq!(t.get(EntryId(6)), None);
    }

    #[test]
    fn bitset() {
        let mut b = Bitset::default();
        assert!(!b.get(1000));
        b.set(70);
        assert!(b.get(70));
        assert!(!b.get(69));
        assert_eq!(b.count(), 1);
    }
}
