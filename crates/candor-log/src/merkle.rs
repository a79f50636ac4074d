//! RFC 6962 / RFC 9162 Merkle tree maths over SHA-256.
//!
//! Leaf hash `SHA-256(0x00 || entry)`, node hash `SHA-256(0x01 || left || right)`, the root of the
//! empty tree `SHA-256("")`. Proof generation here works on a slice of leaf hashes (all in
//! memory); [`crate::stored`] computes the same proofs from stored hashes.

use sha2::{Digest, Sha256};

use crate::LogError;

/// Size of a [`Hash`] in bytes.
pub const HASH_SIZE: usize = 32;

/// A SHA-256 hash: a leaf, an interior node or a root.
pub type Hash = [u8; HASH_SIZE];

/// `SHA-256(0x00 || entry)` (RFC 6962 §2.1).
pub fn leaf_hash(entry: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update([0u8]);
    h.update(entry);
    h.finalize().into()
}

/// `SHA-256(0x01 || left || right)` (RFC 6962 §2.1).
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut h = Sha256::new();
    h.update([0x01]);
    h.update(left);
    h.update(right);
    h.finalize().into()
}

/// Root of the empty tree: `SHA-256("")` (RFC 6962 §2.1; checkpoints of size 0 carry it).
pub fn empty_root() -> Hash {
    Sha256::digest([]).into()
}

/// The largest power of two strictly smaller than `n` (`n >= 2`).
pub(crate) fn split_point(n: u64) -> u64 {
    debug_assert!(n >= 2);
    1u64 << (63 - (n - 1).leading_zeros())
}

/// Root (MTH) of the tree whose leaf hashes are `leaves`.
pub fn root(leaves: &[Hash]) -> Hash {
    match leaves.len() {
        0 => empty_root(),
        1 => leaves[0],
        n => {
            let k = split_point(n as u64) as usize;
            node_hash(&root(&leaves[..k]), &root(&leaves[k..]))
        }
    }
}

/// Inclusion proof (RFC 9162 PATH) of leaf `index` in the tree of `leaves`, leaf side first.
pub fn inclusion_proof(leaves: &[Hash], index: u64) -> Result<Vec<Hash>, LogError> {
    let size = leaves.len() as u64;
    if index >= size {
        return Err(LogError::IndexOutOfRange { index, size });
    }
    let mut proof = Vec::new();
    path(index as usize, leaves, &mut proof);
    Ok(proof)
}

fn path(m: usize, d: &[Hash], out: &mut Vec<Hash>) {
    if d.len() <= 1 {
        return;
    }
    let k = split_point(d.len() as u64) as usize;
    if m < k {
        path(m, &d[..k], out);
        out.push(root(&d[k..]));
    } else {
        path(m - k, &d[k..], out);
        out.push(root(&d[..k]));
    }
}

/// Consistency proof (RFC 9162 PROOF) that the tree of the first `old_size` leaves is a prefix
/// of the tree of `leaves`. Empty when `old_size` is 0 or equals the new size.
pub fn consistency_proof(leaves: &[Hash], old_size: u64) -> Result<Vec<Hash>, LogError> {
    let new = leaves.len() as u64;
    if old_size > new {
        return Err(LogError::BadTreeSize { old: old_size, new });
    }
    let mut proof = Vec::new();
    if old_size > 0 && old_size < new {
        subproof(old_size as usize, leaves, true, &mut proof);
    }
    Ok(proof)
}

fn subproof(m: usize, d: &[Hash], whole: bool, out: &mut Vec<Hash>) {
    let n = d.len();
    if m == n {
        if !whole {
            out.push(root(d));
        }
        return;
    }
    let k = split_point(n as u64) as usize;
    if m <= k {
        subproof(m, &d[..k], whole, out);
        out.push(root(&d[k..]));
    } else {
        subproof(m - k, &d[k..], false, out);
        out.push(root(&d[..k]));
    }
}

/// Check that `proof` proves leaf hash `leaf` at `index` in the tree of `size` with `root`
/// (RFC 9162 §2.1.3.2). Any extra, missing or altered hash fails.
pub fn verify_inclusion(
    leaf: &Hash,
    index: u64,
    size: u64,
    proof: &[Hash],
    root: &Hash,
) -> Result<(), LogError> {
    if index >= size {
        return Err(LogError::IndexOutOfRange { index, size });
    }
    let got = root_from_inclusion(leaf, index, size, proof)?;
    if &got == root {
        Ok(())
    } else {
        Err(LogError::ProofMismatch)
    }
}

/// The root implied by an inclusion proof (`index < size`).
pub fn root_from_inclusion(
    leaf: &Hash,
    index: u64,
    size: u64,
    proof: &[Hash],
) -> Result<Hash, LogError> {
    if index >= size {
        return Err(LogError::IndexOutOfRange { index, size });
    }
    let expected = expected_inclusion_len(index, size);
    if proof.len() != expected {
        return Err(LogError::ProofLength {
            expected,
            got: proof.len(),
        });
    }
    let mut fn_ = index;
    let mut sn = size - 1;
    let mut r = *leaf;
    for p in proof {
        if sn == 0 {
            return Err(LogError::ProofMismatch);
        }
        if fn_ & 1 == 1 || fn_ == sn {
            r = node_hash(p, &r);
            while fn_ & 1 == 0 && fn_ != 0 {
                fn_ >>= 1;
                sn >>= 1;
            }
        } else {
            r = node_hash(&r, p);
        }
        fn_ >>= 1;
        sn >>= 1;
    }
    if sn != 0 {
        return Err(LogError::ProofMismatch);
    }
    Ok(r)
}

/// Number of hashes in the inclusion proof of `index` in a tree of `size` (`index < size`).
pub(crate) fn expected_inclusion_len(index: u64, size: u64) -> usize {
    // The path from leaf `index` has one sibling per level below the point where the left
    // spine of its subtree joins; equivalently the number of steps of the verifier loop.
    verifier_steps(index, size - 1)
}

/// How many proof hashes the RFC 9162 verifier loop consumes walking from node index `fn_` up
/// to the root of a tree whose last index is `sn`: one per loop step.
fn verifier_steps(mut fn_: u64, mut sn: u64) -> usize {
    let mut steps = 0;
    while sn != 0 {
        steps += 1;
        if fn_ & 1 == 1 || fn_ == sn {
            while fn_ & 1 == 0 && fn_ != 0 {
                fn_ >>= 1;
                sn >>= 1;
            }
        }
        fn_ >>= 1;
        sn >>= 1;
    }
    steps
}

/// Check that `proof` proves the tree of `old_size` with `old_root` is a prefix of the tree of
/// `new_size` with `new_root` (RFC 9162 §2.1.4.2). Size 0 is a prefix of every tree (empty
/// proof); equal sizes need equal roots and an empty proof.
pub fn verify_consistency(
    old_size: u64,
    new_size: u64,
    proof: &[Hash],
    old_root: &Hash,
    new_root: &Hash,
) -> Result<(), LogError> {
    if old_size > new_size {
        return Err(LogError::BadTreeSize {
            old: old_size,
            new: new_size,
        });
    }
    if old_size == 0 || old_size == new_size {
        if !proof.is_empty() {
            return Err(LogError::ProofLength {
                expected: 0,
                got: proof.len(),
            });
        }
        if old_size == 0 {
            // The empty tree is consistent with every larger tree, and with itself only.
            return if *old_root == empty_root() && (new_size > 0 || new_root == old_root) {
                Ok(())
            } else {
                Err(LogError::ProofMismatch)
            };
        }
        return if old_root == new_root {
            Ok(())
        } else {
            Err(LogError::ProofMismatch)
        };
    }
    let expected = expected_consistency_len(old_size, new_size);
    if proof.len() != expected {
        return Err(LogError::ProofLength {
            expected,
            got: proof.len(),
        });
    }
    let mut path: Vec<Hash> = Vec::with_capacity(proof.len() + 1);
    if old_size.is_power_of_two() {
        path.push(*old_root);
    }
    path.extend_from_slice(proof);
    let mut fn_ = old_size - 1;
    let mut sn = new_size - 1;
    while fn_ & 1 == 1 {
        fn_ >>= 1;
        sn >>= 1;
    }
    let mut fr = path[0];
    let mut sr = path[0];
    for c in &path[1..] {
        if sn == 0 {
            return Err(LogError::ProofMismatch);
        }
        if fn_ & 1 == 1 || fn_ == sn {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            while fn_ & 1 == 0 && fn_ != 0 {
                fn_ >>= 1;
                sn >>= 1;
            }
        } else {
            sr = node_hash(&sr, c);
        }
        fn_ >>= 1;
        sn >>= 1;
    }
    if sn == 0 && &fr == old_root && &sr == new_root {
        Ok(())
    } else {
        Err(LogError::ProofMismatch)
    }
}

/// Number of hashes in the consistency proof from `old` to `new` (`0 < old < new`).
pub(crate) fn expected_consistency_len(old: u64, new: u64) -> usize {
    // Mirrors the verifier: one hash per loop step, plus the starting hash unless old is a
    // power of two (then the old root is the start and is not sent).
    let mut fn_ = old - 1;
    let mut sn = new - 1;
    while fn_ & 1 == 1 {
        fn_ >>= 1;
        sn >>= 1;
    }
    let steps = verifier_steps(fn_, sn);
    if old.is_power_of_two() {
        steps
    } else {
        steps + 1
    }
}
