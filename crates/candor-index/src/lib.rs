//! Candor index: exact-hash lookup and exact-recall PDQ radius search.
//!
//! * [`PdqIndex`] returns every entry within Hamming distance `r` of a 256-bit query, with
//!   distances, by multi-index hashing over eight 32-bit substrings (exact by the pigeonhole
//!   principle, every candidate verified on all 256 bits) or by a SIMD flat scan when a cost
//!   model says that is cheaper (small banks, large radii). Two table [`Layout`]s: `Split`
//!   (fastest, ~100 bytes per entry) and `Compact` (~58 bytes per entry). Inserts are visible
//!   at once, removals stop matching at once, [`PdqIndex::compact`] folds them into the tables.
//! * [`DigestIndex`] ([`Md5Index`], [`Sha1Index`], [`Sha256Index`]) maps digests to entries.
//! * Both read and write a versioned, checksummed file ([`mod@format`]) through `Read`/`Write`,
//!   or use one in place from bytes the caller shares ([`Shared`], e.g. a mapped file): their
//!   arrays are [`Buf`]s, owned or views, immutable and shared by clones.
//! * An [`EntryId`] is an entry's insertion position; [`EntryRefs`] maps it to an
//!   [`EntryRef`] `{ bank, content }`.
//! * [`VpdqIndex`] matches vPDQ video hashes (a PDQ hash per sampled frame) over many videos
//!   with Meta's vpdq semantics, its frames in a [`PdqIndex`] ([`mod@vpdq`]).
//!
//! The crate does no I/O of its own and starts no threads.
mod buf;
mod digest;
pub mod format;
mod hash;
mod mih;
mod pdq;
pub mod simd;
pub mod vpdq;

pub use buf::{AlignedBytes, Buf, Shared, SharedBytes};
pub use digest::{DigestIndex, Md5Index, Sha1Index, Sha256Index};
pub use format::{FormatError, IndexKind, Pod, FORMAT_VERSION};
pub use hash::{EntryId, EntryRef, EntryRefs, Hash256, HexError};
pub use mih::Layout;
pub use pdq::{BuildOptions, BuiltPending, DihedralMatch, Match, PdqIndex, PendingBuild, Strategy};
pub use simd::SimdLevel;
pub use vpdq::{VideoId, VpdqDihedralFrame, VpdqError, VpdqFrame, VpdqIndex, VpdqMatch, VpdqQuery};
