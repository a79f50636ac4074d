//! MD5, SHA-1 and SHA-256 of any reader, in one streamed pass with constant memory.

use std::io::{self, Read};

use md5::{Digest, Md5};
use sha1::Sha1;
use sha2::Sha256;

/// The exact-match signals of a byte stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ExactDigests {
    pub md5: [u8; 16],
    /// SHA-1 (NCMEC's lists carry it).
    pub sha1: [u8; 20],
    pub sha256: [u8; 32],
    /// How many bytes were hashed.
    pub size: u64,
}

impl ExactDigests {
    pub fn md5_hex(&self) -> String {
        to_hex(&self.md5)
    }
    pub fn sha1_hex(&self) -> String {
        to_hex(&self.sha1)
    }
    pub fn sha256_hex(&self) -> String {
        to_hex(&self.sha256)
    }
}

/// Lower-case hex of any bytes.
pub fn to_hex(bytes: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(HEX[(b >> 4) as usize] as char);
        s.push(HEX[(b & 15) as usize] as char);
    }
    s
}

/// Incremental MD5 + SHA-1 + SHA-256: feed chunks with [`Digester::update`], then [`Digester::finish`].
#[derive(Clone, Default)]
pub struct Digester {
    md5: Md5,
    sha1: Sha1,
    sha256: Sha256,
    size: u64,
}

impl Digester {
    pub fn new() -> Digester {
        Digester::default()
    }

    pub fn update(&mut self, chunk: &[u8]) {
        self.md5.update(chunk);
        self.sha1.update(chunk);
        self.sha256.update(chunk);
        self.size += chunk.len() as u64;
    }

    /// Feeds everything `reader` yields, `buf` at a time, to the end.
    pub fn update_from(&mut self, reader: &mut impl Read, buf: &mut [u8]) -> io::Result<()> {
        loop {
            match read_retrying(reader, buf)? {
                0 => return Ok(()),
                n => self.update(&buf[..n]),
            }
        }
    }

    pub fn finish(self) -> ExactDigests {
        ExactDigests {
            md5: self.md5.finalize().into(),
            sha1: self.sha1.finalize().into(),
            sha256: self.sha256.finalize().into(),
            size: self.size,
        }
    }
}

/// Size of the read buffer: large enough that per-call overhead vanishes, small enough for cache.
pub const CHUNK: usize = 256 << 10;

/// Hashes everything `reader` yields. Memory use is one [`CHUNK`], whatever the size.
pub fn digest_reader(mut reader: impl Read) -> io::Result<ExactDigests> {
    let mut d = Digester::new();
    d.update_from(&mut reader, &mut vec![0u8; CHUNK])?;
    Ok(d.finish())
}

/// One `read`, retried when interrupted by a signal; 0 at the end.
pub(crate) fn read_retrying(reader: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    loop {
        match reader.read(buf) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            r => return r,
        }
    }
}

/// Hashes a byte slice.
pub fn digest_bytes(bytes: &[u8]) -> ExactDigests {
    let mut d = Digester::new();
    d.update(bytes);
    d.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_answers() {
        // RFC 1321, RFC 3174 and FIPS 180-2 test vectors.
        let d = digest_bytes(b"");
        assert_eq!(d.md5_hex(), "d41d8cd98f00b204e9800998ecf8427e");
        assert_eq!(d.sha1_hex(), "da39a3ee5e6b4b0d3255bfef95601890afd80709");
        assert_eq!(
            d.sha256_hex(),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        let d = digest_bytes(b"abc");
        assert_eq!(d.md5_hex(), "900150983cd24fb0d6963f7d28e17f72");
        assert_eq!(d.sha1_hex(), "a9993e364706816aba3e25717850c26c9cd0d89d");
        assert_eq!(
            d.sha256_hex(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(d.size, 3);
    }

    /// A reader that yields a pattern in odd-sized pieces, to cross chunk boundaries.
    struct Pattern {
        left: u64,
        step: usize,
        i: u64,
    }
    impl Read for Pattern {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = (self.left as usize).min(buf.len()).min(self.step);
            for b in &mut buf[..n] {
                *b = (self.i * 31 % 251) as u8;
                self.i += 1;
            }
            self.left -= n as u64;
            self.step = self.step % 70_000 + 977;
            Ok(n)
        }
    }

    #[test]
    fn streamed_equals_whole() {
        let len = 3 * CHUNK as u64 + 12345;
        let whole: Vec<u8> = (0..len).map(|i| (i * 31 % 251) as u8).collect();
        let streamed = digest_reader(Pattern {
            left: len,
            step: 1,
            i: 0,
        })
        .unwrap();
        assert_eq!(streamed, digest_bytes(&whole));
        assert_eq!(streamed.size, len);
    }

    #[test]
    fn read_errors_are_reported() {
        struct Broken;
        impl Read for Broken {
            fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
                Err(io::Error::other("disk on fire"))
            }
        }
        assert!(digest_reader(Broken)
            .unwrap_err()
            .to_string()
            .contains("disk on fire"));
    }
}
