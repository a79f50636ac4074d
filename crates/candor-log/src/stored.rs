//! The Go `tlog` stored-hash layout (Crosby–Wallach, §3.3): every hash of the tree that is ever
//! complete is stored once, in one dense append-only sequence.
//!
//! Leaf `n` is stored at `stored_hash_index(0, n)`, followed by the hashes of the subtrees it
//! completes (levels 1, 2, ... ending at `n`); a tree of `n` leaves has exactly
//! [`stored_hash_count`]`(n)` stored hashes. Tree hashes and proofs are then computed from at
//! most `O(log n)` stored hashes read through a [`HashReader`].

use crate::merkle::{empty_root, leaf_hash, node_hash, Hash};
use crate::LogError;

/// Largest tree size the stored-hash and tile maths accept (keeps every index in `u64`).
pub const MAX_TREE_SIZE: u64 = 1 << 62;

/// Reads stored hashes by their [`stored_hash_index`]. Must return exactly one hash per index,
/// in order, or an error (typically [`LogError::Storage`]).
pub trait HashReader {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, LogError>;
}

impl HashReader for [Hash] {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, LogError> {
        indexes
            .iter()
            .map(|&i| {
                usize::try_from(i)
                    .ok()
                    .and_then(|i| self.get(i))
                    .copied()
                    .ok_or_else(|| LogError::Storage(format!("no stored hash at index {i}")))
            })
            .collect()
    }
}

impl<R: HashReader + ?Sized> HashReader for &R {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, LogError> {
        (**self).read_hashes(indexes)
    }
}

fn read_exact<R: HashReader + ?Sized>(r: &R, indexes: &[u64]) -> Result<Vec<Hash>, LogError> {
    if indexes.is_empty() {
        return Ok(Vec::new());
    }
    let hashes = r.read_hashes(indexes)?;
    if hashes.len() != indexes.len() {
        return Err(LogError::Storage(format!(
            "read {} hashes for {} indexes",
            hashes.len(),
            indexes.len()
        )));
    }
    Ok(hashes)
}

/// Position of the hash of node `n` at `level` (level 0 = leaves) in the stored sequence.
/// Defined for `n < 2^(62 - level)`.
pub fn stored_hash_index(level: u32, n: u64) -> u64 {
    // Level L's n-th hash comes right after level L-1's (2n+1)-th hash.
    let mut n = n;
    for _ in 0..level {
        n = n.wrapping_mul(2).wrapping_add(1);
    }
    // Level 0's n-th hash is at n + n/2 + n/4 + ...
    let mut i = 0u64;
    let mut m = n;
    while m > 0 {
        i = i.wrapping_add(m);
        m >>= 1;
    }
    i.wrapping_add(u64::from(level))
}

/// Inverse of [`stored_hash_index`]: `(level, n)`.
pub fn split_stored_hash_index(index: u64) -> (u32, u64) {
    // stored_hash_index(0, n) <= index < 2n + log2(n) + 1, so n is just above index / 2.
    let mut n = index / 2;
    let mut index_n = stored_hash_index(0, n);
    while index_n > index && n > 0 {
        // Cannot happen for n = index / 2 (stored_hash_index(0, n) <= index), kept total.
        n -= 1;
        index_n = stored_hash_index(0, n);
    }
    // Leaf n + 1 comes after leaf n and the trailing_ones(n) subtrees it completes.
    while let Some(next) = index_n.checked_add(1 + u64::from((n + 1).trailing_zeros())) {
        if next > index {
            break;
        }
        n += 1;
        index_n = next;
    }
    let level = (index - index_n) as u32;
    (level, n.checked_shr(level).unwrap_or(0))
}

/// Number of stored hashes of a tree with `n` leaves.
pub fn stored_hash_count(n: u64) -> u64 {
    if n == 0 {
        return 0;
    }
    // Up to the last leaf, plus the subtrees that leaf completes.
    stored_hash_index(0, n - 1) + 1 + u64::from((n - 1).trailing_ones())
}

/// The hashes to append (at `stored_hash_index(0, n)`) when leaf `n` with hash `leaf` is added:
/// the leaf hash then one hash per subtree it completes. Reads the left siblings from `r`.
pub fn stored_hashes_for_leaf<R: HashReader + ?Sized>(
    n: u64,
    leaf: Hash,
    r: &R,
) -> Result<Vec<Hash>, LogError> {
    if n >= MAX_TREE_SIZE {
        return Err(LogError::BadTreeSize { old: n, new: n });
    }
    let m = (n + 1).trailing_zeros();
    // Sorted: the highest level's left sibling first.
    let indexes: Vec<u64> = (0..m)
        .rev()
        .map(|i| stored_hash_index(i, (n >> i) - 1))
        .collect();
    let old = read_exact(r, &indexes)?;
    let mut hashes = Vec::with_capacity(1 + m as usize);
    let mut h = leaf;
    hashes.push(h);
    for i in 0..m as usize {
        h = node_hash(&old[m as usize - 1 - i], &h);
        hashes.push(h);
    }
    Ok(hashes)
}

/// An in-memory stored-hash sequence: the reference [`HashReader`] and what a writer appends.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StoredHashes {
    hashes: Vec<Hash>,
    size: u64,
}

impl StoredHashes {
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of leaves.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The stored hashes, in stored-hash order; `len() == stored_hash_count(size())`.
    pub fn hashes(&self) -> &[Hash] {
        &self.hashes
    }

    /// Append one entry (its leaf hash is computed here); returns its index.
    pub fn append_entry(&mut self, entry: &[u8]) -> Result<u64, LogError> {
        self.append_leaf_hash(leaf_hash(entry))
    }

    /// Append one leaf hash; returns its index.
    pub fn append_leaf_hash(&mut self, leaf: Hash) -> Result<u64, LogError> {
        let n = self.size;
        let new = stored_hashes_for_leaf(n, leaf, self.hashes.as_slice())?;
        self.hashes.extend_from_slice(&new);
        self.size += 1;
        Ok(n)
    }

    /// Root of the whole tree.
    pub fn root(&self) -> Hash {
        // Cannot fail: every index is in range by construction.
        tree_hash(self.size, self.hashes.as_slice()).unwrap_or_else(|_| empty_root())
    }
}

impl HashReader for StoredHashes {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, LogError> {
        self.hashes.as_slice().read_hashes(indexes)
    }
}

/// Largest power of two `<= n` (`n >= 1`), and its log2.
fn maxpow2_le(n: u64) -> (u64, u32) {
    let l = 63 - n.leading_zeros();
    (1 << l, l)
}

/// Stored indexes of the maximal complete subtrees covering leaves `[lo, hi)`, left to right.
pub(crate) fn subtree_indexes(mut lo: u64, hi: u64, need: &mut Vec<u64>) {
    while lo < hi {
        let (k, level) = maxpow2_le(hi - lo);
        need.push(stored_hash_index(level, lo >> level));
        lo += k;
    }
}

fn subtree_count(mut lo: u64, hi: u64) -> usize {
    let mut c = 0;
    while lo < hi {
        lo += maxpow2_le(hi - lo).0;
        c += 1;
    }
    c
}

/// Hash of leaves `[lo, hi)` from the hashes of [`subtree_indexes`]; consumes them from `hashes`.
fn subtree_hash(lo: u64, hi: u64, hashes: &mut &[Hash]) -> Hash {
    let count = subtree_count(lo, hi);
    let (mine, rest) = hashes.split_at(count);
    *hashes = rest;
    let mut h = mine[count - 1];
    for left in mine[..count - 1].iter().rev() {
        h = node_hash(left, &h);
    }
    h
}

/// Root of the tree of the first `n` leaves (`SHA-256("")` for 0), from at most
/// `1 + log2 n` stored hashes.
pub fn tree_hash<R: HashReader + ?Sized>(n: u64, r: &R) -> Result<Hash, LogError> {
    if n == 0 {
        return Ok(empty_root());
    }
    if n > MAX_TREE_SIZE {
        return Err(LogError::BadTreeSize { old: n, new: n });
    }
    let mut idx = Vec::new();
    subtree_indexes(0, n, &mut idx);
    let hashes = read_exact(r, &idx)?;
    let mut s = hashes.as_slice();
    Ok(subtree_hash(0, n, &mut s))
}

/// Inclusion proof of leaf `index` in the tree of `size` leaves, from stored hashes.
pub fn prove_inclusion<R: HashReader + ?Sized>(
    size: u64,
    index: u64,
    r: &R,
) -> Result<Vec<Hash>, LogError> {
    if index >= size {
        return Err(LogError::IndexOutOfRange { index, size });
    }
    if size > MAX_TREE_SIZE {
        return Err(LogError::BadTreeSize {
            old: size,
            new: size,
        });
    }
    let mut idx = Vec::new();
    leaf_proof_indexes(0, size, index, &mut idx);
    let hashes = read_exact(r, &idx)?;
    let mut s = hashes.as_slice();
    let mut proof = Vec::new();
    leaf_proof(0, size, index, &mut s, &mut proof);
    Ok(proof)
}

fn leaf_proof_indexes(lo: u64, hi: u64, n: u64, need: &mut Vec<u64>) {
    if lo + 1 == hi {
        return;
    }
    let k = crate::merkle::split_point(hi - lo);
    if n < lo + k {
        leaf_proof_indexes(lo, lo + k, n, need);
        subtree_indexes(lo + k, hi, need);
    } else {
        subtree_indexes(lo, lo + k, need);
        leaf_proof_indexes(lo + k, hi, n, need);
    }
}

fn leaf_proof(lo: u64, hi: u64, n: u64, hashes: &mut &[Hash], out: &mut Vec<Hash>) {
    if lo + 1 == hi {
        return;
    }
    let k = crate::merkle::split_point(hi - lo);
    if n < lo + k {
        leaf_proof(lo, lo + k, n, hashes, out);
        out.push(subtree_hash(lo + k, hi, hashes));
    } else {
        let th = subtree_hash(lo, lo + k, hashes);
        leaf_proof(lo + k, hi, n, hashes, out);
        out.push(th);
    }
}

/// Consistency proof from the tree of `old` leaves to the tree of `new` leaves, from stored
/// hashes. Empty when `old` is 0 or equals `new`.
pub fn prove_consistency<R: HashReader + ?Sized>(
    new: u64,
    old: u64,
    r: &R,
) -> Result<Vec<Hash>, LogError> {
    if old > new || new > MAX_TREE_SIZE {
        return Err(LogError::BadTreeSize { old, new });
    }
    if old == 0 || old == new {
        return Ok(Vec::new());
    }
    let mut idx = Vec::new();
    tree_proof_indexes(0, new, old, &mut idx);
    let hashes = read_exact(r, &idx)?;
    let mut s = hashes.as_slice();
    let mut proof = Vec::new();
    tree_proof(0, new, old, &mut s, &mut proof);
    Ok(proof)
}

fn tree_proof_indexes(lo: u64, hi: u64, n: u64, need: &mut Vec<u64>) {
    if n == hi {
        if lo != 0 {
            subtree_indexes(lo, hi, need);
        }
        return;
    }
    let k = crate::merkle::split_point(hi - lo);
    if n <= lo + k {
        tree_proof_indexes(lo, lo + k, n, need);
        subtree_indexes(lo + k, hi, need);
    } else {
        subtree_indexes(lo, lo + k, need);
        tree_proof_indexes(lo + k, hi, n, need);
    }
}

fn tree_proof(lo: u64, hi: u64, n: u64, hashes: &mut &[Hash], out: &mut Vec<Hash>) {
    if n == hi {
        if lo != 0 {
            out.push(subtree_hash(lo, hi, hashes));
        }
        return;
    }
    let k = crate::merkle::split_point(hi - lo);
    if n <= lo + k {
        tree_proof(lo, lo + k, n, hashes, out);
        out.push(subtree_hash(lo + k, hi, hashes));
    } else {
        let th = subtree_hash(lo, lo + k, hashes);
        tree_proof(lo + k, hi, n, hashes, out);
        out.push(th);
    }
}
