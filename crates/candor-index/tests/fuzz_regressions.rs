//! Inputs found by the `index_file` fuzz target (issue 16, `fuzz/fuzz_targets/index_file.rs`).
//! Fixed (sections are views of the bytes there are, checked against their length: nothing is
//! allocated from a header's counts); these keep it so.
//! They measure the growth of the process's peak resident set.

use candor_index::format::Xxh64;
use candor_index::{PdqIndex, Sha256Index};

/// An index file of `kind` (1 = PDQ, 3 = SHA-256) that is only a header (with a correct header
/// checksum) claiming `n` entries.
fn header_only(kind: u32, n: u64) -> Vec<u8> {
    let mut f = Vec::new();
    f.extend_from_slice(b"CANDORIX");
    f.extend_from_slice(&candor_index::FORMAT_VERSION.to_le_bytes());
    f.extend_from_slice(&kind.to_le_bytes());
    let fields: &[u64] = if kind == 1 {
        &[n, 0, 0, 0, 0, 0, 0, 0, 0]
    } else {
        &[n, 0, 0, 0, 0]
    };
    f.extend_from_slice(&(fields.len() as u32).to_le_bytes());
    f.extend_from_slice(&0u32.to_le_bytes());
    for v in fields {
        f.extend_from_slice(&v.to_le_bytes());
    }
    let mut h = Xxh64::default();
    h.update(&f);
    let sum = h.finish();
    f.extend_from_slice(&sum.to_le_bytes());
    f
}

/// Peak resident set of this process (Linux), in KiB.
fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// `FileReader::section` promises that "a truncated file never touches what it does not fill",
/// but `vec![T::ZERO; len + pad]` is only lazily zeroed (calloc) for primitives and arrays of at
/// most 16 of them: for the PDQ hashes (`Hash256`) and the SHA-256 digests (`[u8; 32]`) it writes
/// every element. So a 100-byte file claiming 2^24 entries
/// writes 512 MiB before failing as truncated; the fuzzer's input (268,435,464 entries, 1.2 KB
/// file) wrote past the 2 GB limit, and so did a 78-byte SHA-256 file claiming 637,553,877
/// entries (`AUNBTkRPUklYAQAAAAMAAAAFAAAA1UQAJgAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAgACHAAAAgACHSi9/tsAnGQ==`,
/// base64, after the target's control byte); up to `u32::MAX` entries (128 GiB) pass `checked_len`.
///
/// Fix: grow the array as bytes arrive instead of sizing it from the header (e.g. read the
/// section in 4 MiB chunks, `v.reserve(chunk)` + `read_exact` into the spare capacity), or
/// allocate the section zeroed (`std::alloc::alloc_zeroed` + `Vec::from_raw_parts`, sound for
/// `Pod` types) so untouched pages stay unallocated.
#[test]
fn truncated_pdq_file_does_not_fill_the_claimed_hashes() {
    let file = header_only(1, 1 << 24);
    assert_eq!(file.len(), 104);
    let before = peak_rss_kib().expect("Linux /proc/self/status");
    let err = PdqIndex::read_from(&file[..]).expect_err("the file is truncated");
    assert!(err.to_string().contains("truncated"), "{err}");
    let grown_mib = (peak_rss_kib().expect("VmHWM") - before) / 1024;
    assert!(
        grown_mib < 64,
        "reading a 104-byte PDQ file raised the peak resident set by {grown_mib} MiB"
    );
}

/// The same for the SHA-256 digest index (`[u8; 32]` digests).
#[test]
fn truncated_sha256_file_does_not_fill_the_claimed_digests() {
    let file = header_only(3, 1 << 24);
    let before = peak_rss_kib().expect("Linux /proc/self/status");
    let err = Sha256Index::read_from(&file[..]).expect_err("the file is truncated");
    assert!(err.to_string().contains("truncated"), "{err}");
    let grown_mib = (peak_rss_kib().expect("VmHWM") - before) / 1024;
    assert!(
        grown_mib < 64,
        "reading a 72-byte SHA-256 file raised the peak resident set by {grown_mib} MiB"
    );
}
