//! Go tlog stored-hash layout: known positions, counts, inverse, tree hashes.

use candor_log::merkle::root;
use candor_log::stored::{
    split_stored_hash_index, stored_hash_count, stored_hash_index, stored_hashes_for_leaf,
    tree_hash, HashReader,
};
use candor_log::{leaf_hash, node_hash, Hash, LogError, StoredHashes};

#[test]
fn first_stored_positions() {
    // Leaf n goes right after leaf n - 1 and the subtrees leaf n - 1 completed
    // (golang.org/x/mod/sumdb/tlog: "Level L's n'th hash is written right after level L+1's
    // 2n+1'th hash"; level 0's n-th hash is at n + n/2 + n/4 + ...).
    let order: [(u32, u64); 16] = [
        (0, 0),
        (0, 1),
        (1, 0),
        (0, 2),
        (0, 3),
        (1, 1),
        (2, 0),
        (0, 4),
        (0, 5),
        (1, 2),
        (0, 6),
        (0, 7),
        (1, 3),
        (2, 1),
        (3, 0),
        (0, 8),
    ];
    for (i, &(level, n)) in order.iter().enumerate() {
        assert_eq!(stored_hash_index(level, n), i as u64, "({level}, {n})");
        assert_eq!(split_stored_hash_index(i as u64), (level, n));
    }
    let counts = [0, 1, 3, 4, 7, 8, 10, 11, 15];
    for (n, &c) in counts.iter().enumerate() {
        assert_eq!(stored_hash_count(n as u64), c);
    }
}

#[test]
fn count_is_number_of_complete_subtrees() {
    // A tree of n leaves has sum_l floor(n / 2^l) = 2n - popcount(n) complete subtrees.
    for n in (0..5000u64).chain([1 << 40, (1 << 40) + 12345, (1 << 61) - 1, 1 << 61]) {
        assert_eq!(
            stored_hash_count(n),
            2 * n - u64::from(n.count_ones()),
            "{n}"
        );
    }
}

#[test]
fn split_inverts_index() {
    for i in 0..20_000u64 {
        let (l, n) = split_stored_hash_index(i);
        assert_eq!(stored_hash_index(l, n), i);
    }
    for (l, n) in [
        (0, 1u64 << 50),
        (7, 12345678901),
        (20, 3),
        (40, (1 << 20) + 5),
    ] {
        assert_eq!(split_stored_hash_index(stored_hash_index(l, n)), (l, n));
    }
    // Total on any input.
    let _ = split_stored_hash_index(u64::MAX);
}

#[test]
fn tree_hash_from_stored_equals_direct_root_up_to_1000() {
    let mut s = StoredHashes::new();
    let mut leaves: Vec<Hash> = Vec::new();
    for i in 0..1000u64 {
        let e = i.to_be_bytes();
        assert_eq!(s.append_entry(&e).unwrap(), i);
        leaves.push(leaf_hash(&e));
        assert_eq!(s.hashes().len() as u64, stored_hash_count(i + 1));
        assert_eq!(s.size(), i + 1);
    }
    for n in 0..=1000u64 {
        assert_eq!(
            tree_hash(n, &s).unwrap(),
            root(&leaves[..n as usize]),
            "{n}"
        );
    }
    assert_eq!(s.root(), root(&leaves));
    // Every stored hash is the hash of the subtree its (level, n) names.
    for (i, h) in s.hashes().iter().enumerate() {
        let (level, n) = split_stored_hash_index(i as u64);
        let lo = (n << level) as usize;
        assert_eq!(*h, root(&leaves[lo..lo + (1 << level)]), "stored {i}");
    }
}

#[test]
fn stored_hashes_for_leaf_completes_subtrees() {
    let mut s = StoredHashes::new();
    for i in 0..4u64 {
        s.append_entry(&[i as u8]).unwrap();
    }
    let l: Vec<Hash> = (0..4u8).map(|i| leaf_hash(&[i])).collect();
    let h01 = node_hash(&l[0], &l[1]);
    let h23 = node_hash(&l[2], &l[3]);
    assert_eq!(
        s.hashes(),
        &[l[0], l[1], h01, l[2], l[3], h23, node_hash(&h01, &h23)]
    );
    // Leaf 7 of a tree of 7 completes three subtrees.
    let mut s = StoredHashes::new();
    for i in 0..7u64 {
        s.append_entry(&[i as u8]).unwrap();
    }
    let new = stored_hashes_for_leaf(7, leaf_hash(&[7]), &s).unwrap();
    assert_eq!(new.len(), 4);
}

struct Failing;
impl HashReader for Failing {
    fn read_hashes(&self, _: &[u64]) -> Result<Vec<Hash>, LogError> {
        Ok(vec![[0; 32]]) // wrong count
    }
}

#[test]
fn bad_readers_are_errors_not_panics() {
    assert!(matches!(tree_hash(5, &Failing), Err(LogError::Storage(_))));
    assert!(candor_log::stored::prove_inclusion(9, 3, &Failing).is_err());
    assert!(candor_log::stored::prove_consistency(9, 3, &Failing).is_err());
    assert!(stored_hashes_for_leaf(7, [0; 32], &Failing).is_err());
    let short: &[Hash] = &[[0; 32]];
    assert!(tree_hash(5, short).is_err());
    assert!(tree_hash(u64::MAX, short).is_err());
    let max = candor_log::stored::MAX_TREE_SIZE;
    assert!(stored_hashes_for_leaf(max, [0; 32], short).is_err());
    assert!(candor_log::stored::prove_inclusion(max + 1, 0, short).is_err());
    assert!(candor_log::stored::prove_consistency(max + 1, 1, short).is_err());
}
