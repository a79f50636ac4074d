//! The file container shared by every index kind, and its checksum.
//!
//! ```text
//! magic      8 bytes  "CANDORIX"
//! version    u32      FORMAT_VERSION (2)
//! kind       u32      1 = PDQ, 2 = MD5, 3 = SHA-256, 4 = SHA-1
//! fields     u32 count, u32 0, then that many u64 (kind-specific header)
//! header     u64      XXH64 of every byte above
//! sections   raw little-endian arrays whose lengths follow from the header, each padded with
//!            zeros to a multiple of 8 bytes (in-memory padding, e.g. of filters, included)
//! checksum   u64      XXH64 of the sections
//! ```
//! Every section starts at a multiple of 8 bytes from the file's start, so a file held in
//! 8-byte aligned memory (a mapped file, [`crate::AlignedBytes`]) is used in place: the arrays
//! of a loaded index are views into it ([`crate::Buf`]), nothing is copied. A reader checks the
//! header checksum before it trusts any length, checks every section against the bytes there
//! are, compares the body checksum at the end and refuses trailing bytes. Version 1 (unpadded)
//! is refused.
use std::fmt;
use std::io::{self, Read, Write};

use crate::buf::{AlignedBytes, Buf, Shared, SharedBytes};

pub(crate) const MAGIC: &[u8; 8] = b"CANDORIX";
/// Version of the file format this build writes and reads.
pub const FORMAT_VERSION: u32 = 2;

/// What an index file holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IndexKind {
    Pdq = 1,
    Md5 = 2,
    Sha256 = 3,
    Sha1 = 4,
}

impl IndexKind {
    fn from_u32(v: u32) -> Option<IndexKind> {
        match v {
            1 => Some(IndexKind::Pdq),
            2 => Some(IndexKind::Md5),
            3 => Some(IndexKind::Sha256),
            4 => Some(IndexKind::Sha1),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            IndexKind::Pdq => "PDQ",
            IndexKind::Md5 => "MD5",
            IndexKind::Sha256 => "SHA-256",
            IndexKind::Sha1 => "SHA-1",
        }
    }
}

/// Why an index file cannot be read or written.
#[derive(Debug)]
pub enum FormatError {
    /// The file does not start with the index magic.
    NotAnIndex,
    /// Written by a format version this build does not read.
    UnsupportedVersion(u32),
    /// Holds another kind of index.
    WrongKind {
        expected: IndexKind,
        found: u32,
    },
    /// The file ends early, while reading the named part.
    Truncated(&'static str),
    /// The header does not match its checksum (corrupt header).
    HeaderChecksum,
    /// The sections do not match the checksum (corrupt file).
    Checksum,
    /// Bytes follow the checksum.
    TrailingData,
    /// The header or the tables break an invariant.
    Invalid(String),
    Io(io::Error),
}

impl fmt::Display for FormatError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FormatError::NotAnIndex => write!(f, "not a Candor index file (bad magic)"),
            FormatError::UnsupportedVersion(v) => write!(
                f,
                "index file format version {v} is not supported (this build reads version {FORMAT_VERSION})"
            ),
            FormatError::WrongKind { expected, found } => {
                let found = IndexKind::from_u32(*found).map_or("unknown", |k| k.name());
                write!(f, "expected a {} index file, found a {found} one", expected.name())
            }
            FormatError::Truncated(what) => {
                write!(f, "index file is truncated (ends inside the {what})")
            }
            FormatError::HeaderChecksum => {
                write!(f, "index file is corrupt (header checksum mismatch)")
            }
            FormatError::Checksum => write!(f, "index file is corrupt (checksum mismatch)"),
            FormatError::TrailingData => {
                write!(f, "index file is corrupt (unexpected bytes after the checksum)")
            }
            FormatError::Invalid(why) => write!(f, "index file is invalid: {why}"),
            FormatError::Io(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for FormatError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            FormatError::Io(e) => Some(e),
            _ => None,
        }
    }
}

impl From<io::Error> for FormatError {
    fn from(e: io::Error) -> Self {
        FormatError::Io(e)
    }
}

const P1: u64 = 0x9E37_79B1_85EB_CA87;
const P2: u64 = 0xC2B2_AE3D_27D4_EB4F;
const P3: u64 = 0x1656_67B1_9E37_79F9;
const P4: u64 = 0x85EB_CA77_C2B2_AE63;
const P5: u64 = 0x27D4_EB2F_1656_67C5;

/// Streaming XXH64 (seed 0).
#[derive(Clone)]
pub struct Xxh64 {
    v: [u64; 4],
    buf: [u8; 32],
    buf_len: usize,
    total: u64,
}

impl Default for Xxh64 {
    fn default() -> Self {
        Xxh64 {
            v: [P1.wrapping_add(P2), P2, 0, 0u64.wrapping_sub(P1)],
            buf: [0; 32],
            buf_len: 0,
            total: 0,
        }
    }
}

#[inline(always)]
fn round(acc: u64, input: u64) -> u64 {
    acc.wrapping_add(input.wrapping_mul(P2))
        .rotate_left(31)
        .wrapping_mul(P1)
}

#[inline(always)]
fn merge(acc: u64, val: u64) -> u64 {
    (acc ^ round(0, val)).wrapping_mul(P1).wrapping_add(P4)
}

#[inline(always)]
fn le64(b: &[u8]) -> u64 {
    u64::from_le_bytes(b[..8].try_into().unwrap())
}

impl Xxh64 {
    pub fn update(&mut self, mut data: &[u8]) {
        self.total += data.len() as u64;
        if self.buf_len > 0 {
            let take = (32 - self.buf_len).min(data.len());
            self.buf[self.buf_len..self.buf_len + take].copy_from_slice(&data[..take]);
            self.buf_len += take;
            data = &data[take..];
            if self.buf_len < 32 {
                return;
            }
            let stripe = self.buf;
            self.stripe(&stripe);
            self.buf_len = 0;
        }
        let mut chunks = data.chunks_exact(32);
        for c in &mut chunks {
            self.stripe(c);
        }
        let rest = chunks.remainder();
        self.buf[..rest.len()].copy_from_slice(rest);
        self.buf_len = rest.len();
    }

    #[inline(always)]
    fn stripe(&mut self, c: &[u8]) {
        self.v[0] = round(self.v[0], le64(&c[0..]));
        self.v[1] = round(self.v[1], le64(&c[8..]));
        self.v[2] = round(self.v[2], le64(&c[16..]));
        self.v[3] = round(self.v[3], le64(&c[24..]));
    }

    pub fn finish(&self) -> u64 {
        let [v1, v2, v3, v4] = self.v;
        let mut h = if self.total >= 32 {
            let mut h = v1
                .rotate_left(1)
                .wrapping_add(v2.rotate_left(7))
                .wrapping_add(v3.rotate_left(12))
                .wrapping_add(v4.rotate_left(18));
            for v in self.v {
                h = merge(h, v);
            }
            h
        } else {
            P5
        };
        h = h.wrapping_add(self.total);
        let mut rest = &self.buf[..self.buf_len];
        while rest.len() >= 8 {
            h ^= round(0, le64(rest));
            h = h.rotate_left(27).wrapping_mul(P1).wrapping_add(P4);
            rest = &rest[8..];
        }
        if rest.len() >= 4 {
            h ^= u64::from(u32::from_le_bytes(rest[..4].try_into().unwrap())).wrapping_mul(P1);
            h = h.rotate_left(23).wrapping_mul(P2).wrapping_add(P3);
            rest = &rest[4..];
        }
        for &b in rest {
            h ^= u64::from(b).wrapping_mul(P5);
            h = h.rotate_left(11).wrapping_mul(P1);
        }
        h ^= h >> 33;
        h = h.wrapping_mul(P2);
        h ^= h >> 29;
        h = h.wrapping_mul(P3);
        h ^ (h >> 32)
    }
}

/// Plain integer types whose in-memory bytes are their little-endian file bytes (after a swap on
/// big-endian machines): what a [`crate::Buf`] holds.
///
/// # Safety
/// Every bit pattern must be a valid value and the type must have no padding bytes.
pub unsafe trait Pod: Copy + Send + Sync + 'static {
    const ZERO: Self;
    fn swap_bytes_in_place(_v: &mut [Self]) {}
}
unsafe impl Pod for u8 {
    const ZERO: Self = 0;
}
unsafe impl Pod for u16 {
    const ZERO: Self = 0;
    fn swap_bytes_in_place(v: &mut [Self]) {
        v.iter_mut().for_each(|x| *x = x.swap_bytes());
    }
}
unsafe impl Pod for u32 {
    const ZERO: Self = 0;
    fn swap_bytes_in_place(v: &mut [Self]) {
        v.iter_mut().for_each(|x| *x = x.swap_bytes());
    }
}
unsafe impl Pod for i64 {
    const ZERO: Self = 0;
    fn swap_bytes_in_place(v: &mut [Self]) {
        v.iter_mut().for_each(|x| *x = x.swap_bytes());
    }
}
unsafe impl Pod for u64 {
    const ZERO: Self = 0;
    fn swap_bytes_in_place(v: &mut [Self]) {
        v.iter_mut().for_each(|x| *x = x.swap_bytes());
    }
}
unsafe impl Pod for crate::Hash256 {
    const ZERO: Self = crate::Hash256([0; 4]);
    fn swap_bytes_in_place(v: &mut [Self]) {
        v.iter_mut()
            .for_each(|h| h.0.iter_mut().for_each(|x| *x = x.swap_bytes()));
    }
}
unsafe impl<const N: usize> Pod for [u8; N] {
    const ZERO: Self = [0; N];
}

pub(crate) fn bytes_of<T: Pod>(v: &[T]) -> &[u8] {
    // SAFETY: T is Pod (no padding), so its memory is initialised bytes.
    unsafe { std::slice::from_raw_parts(v.as_ptr() as *const u8, std::mem::size_of_val(v)) }
}

pub(crate) fn bytes_of_mut<T: Pod>(v: &mut [T]) -> &mut [u8] {
    // SAFETY: T is Pod: any byte pattern written is a valid T.
    unsafe { std::slice::from_raw_parts_mut(v.as_mut_ptr() as *mut u8, std::mem::size_of_val(v)) }
}

/// Writes a file: header, then sections, then the checksum.
pub(crate) struct FileWriter<W: Write> {
    w: W,
    sum: Xxh64,
}

impl<W: Write> FileWriter<W> {
    pub(crate) fn new(mut w: W, kind: IndexKind, fields: &[u64]) -> Result<Self, FormatError> {
        let mut head = Vec::with_capacity(24 + fields.len() * 8);
        head.extend_from_slice(MAGIC);
        head.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
        head.extend_from_slice(&(kind as u32).to_le_bytes());
        head.extend_from_slice(&(fields.len() as u32).to_le_bytes());
        head.extend_from_slice(&0u32.to_le_bytes());
        for f in fields {
            head.extend_from_slice(&f.to_le_bytes());
        }
        let mut hs = Xxh64::default();
        hs.update(&head);
        head.extend_from_slice(&hs.finish().to_le_bytes());
        w.write_all(&head)?;
        Ok(FileWriter {
            w,
            sum: Xxh64::default(),
        })
    }

    /// Writes one section: the values of every slice in `parts`, one after the other, then zeros
    /// to a multiple of 8 bytes.
    pub(crate) fn section<T: Pod>(&mut self, v: &[T]) -> Result<(), FormatError> {
        self.section_parts(&[v])
    }

    pub(crate) fn section_parts<T: Pod>(&mut self, parts: &[&[T]]) -> Result<(), FormatError> {
        let mut bytes = 0usize;
        for v in parts {
            bytes += std::mem::size_of_val(*v);
            if cfg!(target_endian = "big") {
                let mut copy = v.to_vec();
                T::swap_bytes_in_place(&mut copy);
                self.raw(bytes_of(&copy))?;
            } else {
                self.raw(bytes_of(v))?;
            }
        }
        let pad = bytes.next_multiple_of(8) - bytes;
        self.raw(&[0u8; 8][..pad])
    }

    fn raw(&mut self, b: &[u8]) -> Result<(), FormatError> {
        for chunk in b.chunks(1 << 22) {
            self.sum.update(chunk);
            self.w.write_all(chunk)?;
        }
        Ok(())
    }

    pub(crate) fn finish(mut self) -> Result<W, FormatError> {
        self.w.write_all(&self.sum.finish().to_le_bytes())?;
        self.w.flush()?;
        Ok(self.w)
    }
}

/// Reads a file written by [`FileWriter`] in place: bytes `start..end` of a [`Shared`] buffer.
pub(crate) struct FileView {
    src: Shared,
    pos: usize,
    end: usize,
    sum: Xxh64,
    pub(crate) fields: Vec<u64>,
}

impl FileView {
    pub(crate) fn new(
        src: &Shared,
        start: usize,
        end: usize,
        kind: IndexKind,
    ) -> Result<Self, FormatError> {
        let all = src.bytes();
        let b = all
            .get(start..end)
            .ok_or(FormatError::Truncated("header"))?;
        if b.len() < 24 {
            return Err(FormatError::NotAnIndex);
        }
        if &b[..8] != MAGIC {
            return Err(FormatError::NotAnIndex);
        }
        let word = |i: usize| u32::from_le_bytes(b[i..i + 4].try_into().unwrap());
        let (version, found, count) = (word(8), word(12), word(16));
        if version != FORMAT_VERSION {
            // Checked before the header's own checksum: an older file is "another version",
            // not "corrupt", and its header layout differs.
            return Err(FormatError::UnsupportedVersion(version));
        }
        if count > 1024 || word(20) != 0 {
            return Err(FormatError::HeaderChecksum);
        }
        let head = 24 + count as usize * 8;
        if b.len() < head + 8 {
            return Err(FormatError::Truncated("header"));
        }
        let mut hs = Xxh64::default();
        hs.update(&b[..head]);
        if hs.finish() != le64(&b[head..]) {
            return Err(FormatError::HeaderChecksum);
        }
        if found != kind as u32 {
            return Err(FormatError::WrongKind {
                expected: kind,
                found,
            });
        }
        let fields = b[24..head].chunks_exact(8).map(le64).collect();
        Ok(FileView {
            src: src.clone(),
            pos: start + head + 8,
            end,
            sum: Xxh64::default(),
            fields,
        })
    }

    /// The next section: `len` values and `pad` more (stored in the file), as a view of the
    /// bytes in place when they are aligned.
    pub(crate) fn section<T: Pod>(
        &mut self,
        len: usize,
        pad: usize,
        what: &'static str,
    ) -> Result<Buf<T>, FormatError> {
        let n = len.checked_add(pad).ok_or(FormatError::Truncated(what))?;
        let bytes = n
            .checked_mul(std::mem::size_of::<T>())
            .ok_or(FormatError::Truncated(what))?;
        let padded = bytes.next_multiple_of(8);
        if padded > self.end - self.pos {
            return Err(FormatError::Truncated(what));
        }
        self.sum
            .update(&self.src.bytes()[self.pos..self.pos + padded]);
        let v = Buf::view(&self.src, self.pos, n).ok_or(FormatError::Truncated(what))?;
        self.pos += padded;
        Ok(v)
    }

    /// The next section copied into a `Vec` (for arrays that are changed in place).
    pub(crate) fn section_vec<T: Pod>(
        &mut self,
        len: usize,
        what: &'static str,
    ) -> Result<Vec<T>, FormatError> {
        Ok(self.section::<T>(len, 0, what)?.to_vec())
    }

    pub(crate) fn finish(self) -> Result<(), FormatError> {
        if self.end - self.pos < 8 {
            return Err(FormatError::Truncated("checksum"));
        }
        if le64(&self.src.bytes()[self.pos..]) != self.sum.finish() {
            return Err(FormatError::Checksum);
        }
        if self.pos + 8 != self.end {
            return Err(FormatError::TrailingData);
        }
        Ok(())
    }
}

/// Reads a whole file from `r` into aligned memory, the buffer the index then uses in place.
pub(crate) fn read_shared<R: Read>(r: R) -> Result<(Shared, usize), FormatError> {
    let bytes = AlignedBytes::read_all(r)?;
    let len = bytes.bytes().len();
    Ok((std::sync::Arc::new(bytes), len))
}

/// Checks a length field from a header before allocating for it.
pub(crate) fn checked_len(v: u64, max: u64, what: &str) -> Result<usize, FormatError> {
    if v > max {
        return Err(FormatError::Invalid(format!("{what} {v} exceeds {max}")));
    }
    usize::try_from(v).map_err(|_| FormatError::Invalid(format!("{what} {v} too large")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn xxh(b: &[u8]) -> u64 {
        let mut h = Xxh64::default();
        h.update(b);
        h.finish()
    }

    #[test]
    fn xxh64_known_values() {
        assert_eq!(xxh(b""), 0xEF46_DB37_51D8_E999);
        assert_eq!(xxh(b"a"), 0xD24E_C4F1_A98C_6E5B);
        assert_eq!(xxh(b"abc"), 0x44BC_2CF5_AD77_0999);
    }

    #[test]
    fn xxh64_streaming_matches_one_shot() {
        let data: Vec<u8> = (0..1000u32).map(|i| (i * 7 + 3) as u8).collect();
        let whole = xxh(&data);
        for split in [1, 7, 31, 32, 33, 500] {
            let mut h = Xxh64::default();
            for c in data.chunks(split) {
                h.update(c);
            }
            assert_eq!(h.finish(), whole, "split {split}");
        }
        assert_ne!(xxh(&data[..999]), whole);
    }
}
