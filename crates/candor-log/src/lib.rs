//! Candor's transparency log: the pure parts.
//!
//! - [`merkle`]: RFC 6962 / RFC 9162 Merkle tree hashes, inclusion and consistency proofs.
//! - [`stored`]: the Go `tlog` stored-hash layout and proofs computed through a [`HashReader`].
//! - [`tile`]: C2SP tlog-tiles: tile coordinates and paths, tile contents, entry bundles and a
//!   [`TileHashReader`] that authenticates every tile it reads against a checkpoint.
//! - [`note`]: C2SP signed-note with Ed25519 keys.
//! - [`checkpoint`]: C2SP tlog-checkpoint and the signer-side consistency rule.
//! - [`proof`]: C2SP tlog-proof files, checked offline.
//! - [`entry`]: log entries and their canonical, versioned encoding (the spec is there).
//! - [`commit`]: commitments to content ids and bank signals.
//! - [`numbers`]: the published numbers, recomputed from entries.
//! - [`static_dir`]: a whole log as static C2SP files (the only module writing files).
//! - [`verify`]: verifying a whole published log through a [`verify::Fetch`].
//!
//! No async, no threads; I/O only in [`static_dir`] and [`verify::DirFetch`]; every parser
//! refuses malformed input with a [`LogError`].

pub mod checkpoint;
pub mod commit;
pub mod entry;
mod error;
pub mod merkle;
pub mod note;
pub mod numbers;
pub mod proof;
pub mod static_dir;
pub mod stored;
pub mod tile;
pub mod verify;

pub use checkpoint::{
    check_consistent, sign_checkpoint, verify_checkpoint_consistency, Checkpoint,
};
pub use entry::{Entry, EntryBody};
pub use error::LogError;
pub use merkle::{empty_root, leaf_hash, node_hash, Hash, HASH_SIZE};
pub use note::{Note, NoteSignature, Signer, Verifier};
pub use numbers::Numbers;
pub use proof::{verify_proof_file, verify_proof_file_for_leaf, ProofFile, VerifiedEntry};
pub use stored::{HashReader, StoredHashes};
pub use tile::{Tile, TileHashReader, TilePath, TileReader};
pub use verify::{verify_log, Fetch, Report};

/// A decimal in canonical form (ASCII digits, no sign, no leading zero unless it is `0`, fits in
/// a `u64`), as checkpoints, tile paths and proof files write sizes and indexes.
pub(crate) fn canonical_u64(s: &str) -> Option<u64> {
    let ok = !s.is_empty()
        && s.len() <= 20
        && s.bytes().all(|b| b.is_ascii_digit())
        && (s == "0" || !s.starts_with('0'));
    ok.then(|| s.parse::<u64>().ok()).flatten()
}
