//! The arrays an index holds: [`Buf`], an immutable, cheaply cloned array that is either owned
//! (shared through an `Arc`, copied on write) or a view into bytes the caller provides and
//! shares ([`SharedBytes`], e.g. a mapped file), so that a loaded index uses a file's sections
//! in place instead of copying them.
use std::fmt;
use std::ops::Deref;
use std::sync::Arc;

use crate::format::Pod;

/// Immutable bytes that [`Buf`] views may point into.
///
/// # Safety
/// `bytes()` must return the same address and length every time, and the bytes must not change
/// for as long as the value lives (a read-only mapping of a file nobody truncates or rewrites in
/// place, or a buffer nobody writes to again).
pub unsafe trait SharedBytes: Send + Sync + 'static {
    fn bytes(&self) -> &[u8];
}

/// Shared immutable bytes (see [`SharedBytes`]).
pub type Shared = Arc<dyn SharedBytes>;

/// An owned, 8-byte aligned byte buffer (what [`crate::PdqIndex::read_from`] reads a file into).
pub struct AlignedBytes {
    words: Vec<u64>,
    len: usize,
}

impl AlignedBytes {
    /// Copies `bytes` into an 8-byte aligned buffer.
    pub fn copy_from(bytes: &[u8]) -> AlignedBytes {
        let mut words = vec![0u64; bytes.len().div_ceil(8)];
        crate::format::bytes_of_mut(&mut words[..])[..bytes.len()].copy_from_slice(bytes);
        AlignedBytes {
            words,
            len: bytes.len(),
        }
    }

    /// Reads everything `r` yields into an aligned buffer.
    pub fn read_all<R: std::io::Read>(mut r: R) -> std::io::Result<AlignedBytes> {
        let mut words: Vec<u64> = Vec::new();
        let mut len = 0usize;
        loop {
            if len == words.len() * 8 {
                let grow = (words.len()).clamp(1 << 9, 1 << 19);
                words.resize(words.len() + grow, 0);
            }
            let buf = &mut crate::format::bytes_of_mut(&mut words[..])[len..];
            match r.read(buf) {
                Ok(0) => break,
                Ok(n) => len += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        words.truncate(len.div_ceil(8));
        words.shrink_to_fit();
        Ok(AlignedBytes { words, len })
    }
}

// SAFETY: the words are never written after construction and a Vec's heap buffer does not move.
unsafe impl SharedBytes for AlignedBytes {
    fn bytes(&self) -> &[u8] {
        &crate::format::bytes_of(&self.words[..])[..self.len]
    }
}

enum Src<T> {
    Owned(Arc<Vec<T>>),
    View(#[allow(dead_code)] Shared),
}

/// An immutable array of `T`: owned (behind an `Arc`: clones are cheap, writes copy when
/// shared) or a view into [`Shared`] bytes (writes copy it into an owned array first).
pub struct Buf<T: Pod> {
    src: Src<T>,
    ptr: *const T,
    len: usize,
}

// SAFETY: a Buf only reads through `ptr`, which points into data kept alive and unchanged by
// `src` (an Arc of a Vec nobody else mutates while shared, or SharedBytes); T is plain data.
unsafe impl<T: Pod + Send + Sync> Send for Buf<T> {}
unsafe impl<T: Pod + Send + Sync> Sync for Buf<T> {}

impl<T: Pod> Buf<T> {
    /// `len` values at byte `offset` of `src`: a view when the bytes are aligned for `T` (and the
    /// machine is little-endian), otherwise a copy. `None` when the range is out of bounds.
    pub fn view(src: &Shared, offset: usize, len: usize) -> Option<Buf<T>> {
        let size = len.checked_mul(std::mem::size_of::<T>())?;
        let bytes = src.bytes().get(offset..offset.checked_add(size)?)?;
        let aligned = (bytes.as_ptr() as usize).is_multiple_of(std::mem::align_of::<T>());
        if !aligned || cfg!(target_endian = "big") {
            let mut v = vec![T::ZERO; len];
            crate::format::bytes_of_mut(&mut v[..]).copy_from_slice(bytes);
            if cfg!(target_endian = "big") {
                T::swap_bytes_in_place(&mut v);
            }
            return Some(Buf::from(v));
        }
        Some(Buf {
            ptr: bytes.as_ptr() as *const T,
            len,
            src: Src::View(src.clone()),
        })
    }

    /// Whether this is a view into shared bytes (not owned memory).
    pub fn is_view(&self) -> bool {
        matches!(self.src, Src::View(_))
    }

    /// Bytes of owned memory this array holds (0 for a view).
    pub fn owned_bytes(&self) -> usize {
        match &self.src {
            Src::Owned(v) if v.as_ptr() == self.ptr => v.capacity() * std::mem::size_of::<T>(),
            Src::Owned(_) => self.len * std::mem::size_of::<T>(),
            Src::View(_) => 0,
        }
    }

    /// Values `range` of this array, sharing its memory.
    pub fn slice(&self, range: std::ops::Range<usize>) -> Buf<T> {
        let part = &self[range];
        Buf {
            src: match &self.src {
                Src::Owned(v) => Src::Owned(v.clone()),
                Src::View(s) => Src::View(s.clone()),
            },
            ptr: part.as_ptr(),
            len: part.len(),
        }
    }

    /// Changes the array through `f`: a view, a slice or a shared owned array is copied first.
    pub fn with_mut<R>(&mut self, f: impl FnOnce(&mut Vec<T>) -> R) -> R {
        let whole = match &self.src {
            Src::Owned(v) => v.as_ptr() == self.ptr && v.len() == self.len,
            Src::View(_) => false,
        };
        if !whole {
            self.src = Src::Owned(Arc::new(self.to_vec()));
        }
        let Src::Owned(arc) = &mut self.src else {
            unreachable!("made owned above")
        };
        let v = Arc::make_mut(arc);
        let r = f(v);
        self.ptr = v.as_ptr();
        self.len = v.len();
        r
    }
}

impl<T: Pod> From<Vec<T>> for Buf<T> {
    fn from(v: Vec<T>) -> Buf<T> {
        Buf {
            ptr: v.as_ptr(),
            len: v.len(),
            src: Src::Owned(Arc::new(v)),
        }
    }
}

impl<T: Pod> Default for Buf<T> {
    fn default() -> Buf<T> {
        Buf::from(Vec::new())
    }
}

impl<T: Pod> Clone for Buf<T> {
    fn clone(&self) -> Buf<T> {
        Buf {
            src: match &self.src {
                Src::Owned(v) => Src::Owned(v.clone()),
                Src::View(s) => Src::View(s.clone()),
            },
            ptr: self.ptr,
            len: self.len,
        }
    }
}

impl<T: Pod> Deref for Buf<T> {
    type Target = [T];
    #[inline(always)]
    fn deref(&self) -> &[T] {
        // SAFETY: ptr/len describe live, unchanging data owned or kept alive by `src`.
        unsafe { std::slice::from_raw_parts(self.ptr, self.len) }
    }
}

impl<T: Pod + PartialEq> PartialEq for Buf<T> {
    fn eq(&self, other: &Buf<T>) -> bool {
        **self == **other
    }
}

impl<T: Pod + Eq> Eq for Buf<T> {}

impl<T: Pod + fmt::Debug> fmt::Debug for Buf<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Buf({} values{})",
            self.len,
            if self.is_view() { ", view" } else { "" }
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn views_copy_on_write_and_misaligned_copies() {
        let bytes: Vec<u8> = (0u8..64).collect();
        let src: Shared = Arc::new(AlignedBytes::copy_from(&bytes));
        let v: Buf<u32> = Buf::view(&src, 8, 4).unwrap();
        assert!(v.is_view());
        assert_eq!(v[0], u32::from_le_bytes([8, 9, 10, 11]));
        let odd: Buf<u32> = Buf::view(&src, 1, 2).unwrap();
        assert!(!odd.is_view());
        assert_eq!(odd[0], u32::from_le_bytes([1, 2, 3, 4]));
        assert!(Buf::<u64>::view(&src, 60, 1).is_none());
        let mut w = v.clone();
        w.with_mut(|x| x[0] = 7);
        assert_eq!((w[0], v[0]), (7, u32::from_le_bytes([8, 9, 10, 11])));
        assert!(!w.is_view() && v.is_view());
        let mut a = Buf::from(vec![1u16, 2]);
        let b = a.clone();
        a.with_mut(|x| x.push(3));
        assert_eq!((&a[..], &b[..]), (&[1u16, 2, 3][..], &[1u16, 2][..]));
    }
}
