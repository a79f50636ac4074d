//! Merkle maths: cross-checked against ct-merkle, every size pair up to 300, tampering.

use candor_log::merkle::{
    consistency_proof, inclusion_proof, root, verify_consistency, verify_inclusion,
};
use candor_log::stored::{prove_consistency, prove_inclusion, tree_hash};
use candor_log::{empty_root, leaf_hash, node_hash, Hash, LogError, StoredHashes};
use ct_merkle::mem_backed_tree::MemoryBackedTree;
use ct_merkle::{ConsistencyProof, InclusionProof, RootHash};
use proptest::prelude::*;

type Ct = MemoryBackedTree<sha2_011::Sha256, Vec<u8>>;

fn entry(i: u64) -> Vec<u8> {
    format!("entry {i}").into_bytes()
}

fn log(n: u64) -> (Vec<Hash>, StoredHashes) {
    let mut s = StoredHashes::new();
    let mut leaves = Vec::new();
    for i in 0..n {
        s.append_entry(&entry(i)).unwrap();
        leaves.push(leaf_hash(&entry(i)));
    }
    (leaves, s)
}

fn flat(p: &[Hash]) -> Vec<u8> {
    p.concat()
}

#[test]
fn rfc6962_known_hashes() {
    // SHA-256("") and the RFC 6962 leaf/node prefixes, checked with independent SHA-256.
    use sha2::{Digest, Sha256};
    assert_eq!(
        hex(&empty_root()),
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    );
    let e = b"hello";
    let expect: Hash = Sha256::digest([&[0u8][..], e].concat()).into();
    assert_eq!(leaf_hash(e), expect);
    let (a, b) = (leaf_hash(b"a"), leaf_hash(b"b"));
    let expect: Hash = Sha256::digest([&[1u8][..], &a, &b].concat()).into();
    assert_eq!(node_hash(&a, &b), expect);
    // Leaf of the empty entry (RFC 6962 test vector, also in certificate-transparency-go).
    assert_eq!(
        hex(&leaf_hash(b"")),
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"
    );
}

fn hex(h: &[u8]) -> String {
    h.iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn every_size_pair_up_to_300() {
    let (leaves, stored) = log(300);
    let roots: Vec<Hash> = (0..=300).map(|n| tree_hash(n, &stored).unwrap()).collect();
    assert_eq!(roots[0], empty_root());
    for n in 1..=300u64 {
        let rn = roots[n as usize];
        for m in 1..=n {
            // Inclusion of leaf m - 1 in tree n.
            let i = m - 1;
            let p = prove_inclusion(n, i, &stored).unwrap();
            let leaf = leaves[i as usize];
            verify_inclusion(&leaf, i, n, &p, &rn).unwrap();
            for (k, _) in p.iter().enumerate() {
                let mut bad = p.clone();
                bad[k][(k + m as usize) % 32] ^= 1 << (n % 8);
                assert!(verify_inclusion(&leaf, i, n, &bad, &rn).is_err());
            }
            if i + 1 < n {
                assert!(verify_inclusion(&leaf, i + 1, n, &p, &rn).is_err());
            }
            if i > 0 {
                assert!(verify_inclusion(&leaf, i - 1, n, &p, &rn).is_err());
            }
            if n < 300 {
                let r2 = roots[n as usize + 1];
                assert!(verify_inclusion(&leaf, i, n + 1, &p, &r2).is_err());
            }
            if i < n - 1 {
                let r2 = roots[n as usize - 1];
                assert!(verify_inclusion(&leaf, i, n - 1, &p, &r2).is_err());
            }
            let mut longer = p.clone();
            longer.push([0; 32]);
            assert!(matches!(
                verify_inclusion(&leaf, i, n, &longer, &rn),
                Err(LogError::ProofLength { .. })
            ));

            // Consistency of tree m with tree n.
            let rm = roots[m as usize];
            let c = prove_consistency(n, m, &stored).unwrap();
            verify_consistency(m, n, &c, &rm, &rn).unwrap();
            for (k, _) in c.iter().enumerate() {
                let mut bad = c.clone();
                bad[k][(k * 7 + n as usize) % 32] ^= 1 << (m % 8);
                assert!(verify_consistency(m, n, &bad, &rm, &rn).is_err());
            }
            if m < n {
                let r2 = roots[m as usize + 1];
                assert!(verify_consistency(m + 1, n, &c, &r2, &rn).is_err());
                assert!(verify_consistency(m, n, &c, &rn, &rn).is_err());
            }
            if m > 1 {
                let r2 = roots[m as usize - 1];
                assert!(verify_consistency(m - 1, n, &c, &r2, &rn).is_err());
            }
            if n < 300 {
                let r2 = roots[n as usize + 1];
                assert!(verify_consistency(m, n + 1, &c, &rm, &r2).is_err());
            }
            if m < n {
                let r2 = roots[n as usize - 1];
                assert!(verify_consistency(m, n - 1, &c, &rm, &r2).is_err());
                let mut shorter = c.clone();
                shorter.pop();
                assert!(verify_consistency(m, n, &shorter, &rm, &rn).is_err());
            }
        }
        // From the empty tree: empty proof, nothing else.
        verify_consistency(0, n, &[], &empty_root(), &rn).unwrap();
        assert!(verify_consistency(0, n, &[rn], &empty_root(), &rn).is_err());
    }
    assert!(verify_consistency(5, 4, &[], &roots[5], &roots[4]).is_err());
    assert!(verify_inclusion(&leaves[0], 0, 0, &[], &empty_root()).is_err());
}

#[test]
fn in_memory_proofs_equal_stored_proofs() {
    let (leaves, stored) = log(70);
    for n in 1..=70u64 {
        let l = &leaves[..n as usize];
        assert_eq!(root(l), tree_hash(n, &stored).unwrap());
        for m in 0..=n {
            assert_eq!(
                consistency_proof(l, m).unwrap(),
                prove_consistency(n, m, &stored).unwrap()
            );
            if m < n {
                assert_eq!(
                    inclusion_proof(l, m).unwrap(),
                    prove_inclusion(n, m, &stored).unwrap()
                );
            }
        }
    }
    assert!(inclusion_proof(&leaves[..3], 3).is_err());
    assert!(consistency_proof(&leaves[..3], 4).is_err());
    assert!(prove_inclusion(3, 3, &stored).is_err());
    assert!(prove_consistency(3, 4, &stored).is_err());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// Roots, inclusion and consistency proofs equal ct-merkle's, and each side accepts the
    /// other's proofs, on random trees of random entries.
    #[test]
    fn agrees_with_ct_merkle(
        entries in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..40), 1..400),
        pick in any::<prop::sample::Index>(),
        pick_old in any::<prop::sample::Index>(),
    ) {
        let n = entries.len() as u64;
        let mut ct = Ct::new();
        let mut stored = StoredHashes::new();
        for e in &entries {
            ct.push(e.clone());
            stored.append_entry(e).unwrap();
        }
        let ct_root = ct.root();
        let ours = stored.root();
        prop_assert_eq!(ct_root.as_bytes().as_slice(), &ours[..]);

        let i = pick.index(entries.len()) as u64;
        let p = prove_inclusion(n, i, &stored).unwrap();
        let ct_p = ct.prove_inclusion(i as usize);
        prop_assert_eq!(ct_p.as_bytes().to_vec(), flat(&p));
        prop_assert!(ct_root
            .verify_inclusion(&entries[i as usize], i, &InclusionProof::from_bytes(flat(&p)))
            .is_ok());
        verify_inclusion(&leaf_hash(&entries[i as usize]), i, n, &p, &ours).unwrap();

        let m = pick_old.index(entries.len()) as u64 + 1; // 1..=n
        if m < n {
            let c = prove_consistency(n, m, &stored).unwrap();
            let ct_c = ct.prove_consistency((n - m) as usize);
            prop_assert_eq!(ct_c.as_bytes().to_vec(), flat(&c));
            let old_root = tree_hash(m, &stored).unwrap();
            let ct_old = RootHash::<sha2_011::Sha256>::new(old_root.into(), m);
            let proof = ConsistencyProof::try_from_bytes(flat(&c)).unwrap();
            prop_assert!(ct_root.verify_consistency(&ct_old, &proof).is_ok());
            verify_consistency(m, n, &c, &old_root, &ours).unwrap();
        }
    }

    /// Verification never panics and never accepts garbage.
    #[test]
    fn garbage_proofs_refused(
        index in 0u64..1000, size in 0u64..1000, old in 0u64..1000,
        proof in prop::collection::vec(any::<[u8; 32]>(), 0..12),
        a in any::<[u8; 32]>(), b in any::<[u8; 32]>(),
    ) {
        prop_assert!(verify_inclusion(&a, index, size, &proof, &b).is_err());
        if !(proof.is_empty() && (old == 0 || old == size)) {
            prop_assert!(verify_consistency(old, size, &proof, &a, &b).is_err());
        }
        let _ = verify_inclusion(&a, u64::MAX - 1, u64::MAX, &proof, &b);
        let _ = verify_consistency(u64::MAX - 1, u64::MAX, &proof, &a, &b);
    }
}
