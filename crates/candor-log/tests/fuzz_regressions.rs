//! Inputs found by the `checkpoint` fuzz target review (issue 16, `fuzz/fuzz_targets/checkpoint.rs`)
//! that broke a documented property; fixed in `merkle::verify_consistency`, kept by these tests.

use candor_log::merkle::verify_consistency;
use candor_log::{check_consistent, empty_root, Checkpoint};

/// `check_consistent` says "equal roots when the sizes are equal", but two checkpoints of size 0
/// are accepted whatever the later root: `verify_consistency` returns early for `old_size == 0`
/// after checking only the old root against the empty root. So a signer holding a size-0
/// checkpoint would `sign_checkpoint` a size-0 checkpoint with any root.
///
/// Input (the fuzz target's format: earlier checkpoint, NUL, later checkpoint, NUL, no proof):
/// `o\n0\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n\0o\n0\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n\0`
///
/// Fix: in `merkle::verify_consistency`, the `old_size == 0` branch must also require
/// `new_size > 0 || new_root == old_root` (or test `old_size == new_size` before `old_size == 0`).
#[test]
fn empty_tree_is_not_consistent_with_another_root_at_size_zero() {
    let earlier = Checkpoint::parse("o\n0\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n")
        .expect("earlier parses");
    let later = Checkpoint::parse("o\n0\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n")
        .expect("later parses");
    assert_eq!(earlier.root, empty_root());
    assert_ne!(later.root, earlier.root);
    assert!(
        check_consistent(&earlier, &later, &[]).is_err(),
        "two size-0 checkpoints with different roots were accepted as consistent"
    );
    assert!(verify_consistency(0, 0, &[], &empty_root(), &[0; 32]).is_err());
}

/// What must keep working once fixed: the empty tree is consistent with itself and with every
/// larger tree (no proof needed).
#[test]
fn empty_tree_is_consistent_with_itself_and_larger_trees() {
    assert!(verify_consistency(0, 0, &[], &empty_root(), &empty_root()).is_ok());
    assert!(verify_consistency(0, 5, &[], &empty_root(), &[7; 32]).is_ok());
}
