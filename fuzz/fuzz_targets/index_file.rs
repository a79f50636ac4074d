//! Index files (`candor_index` PDQ, MD5 and SHA-256 `read_from`) on arbitrary bytes.
//!
//! The first byte is a control byte: bit 0 set = fix both XXH64 checksums of the file before
//! reading (so mutations reach the table checks behind them instead of stopping at the
//! checksum), bits 1-7 = the search radius / 2.
//!
//! Properties: never a panic; a file that loads writes a file that loads and writes again the
//! same bytes; searching it never panics; the flat scan finds exactly the live entries within
//! the radius; the multi-index tables (which a file supplies) never report an entry that is
//! removed, out of range or at another distance than its hash's; a digest lookup returns live
//! entries with that digest.
#![no_main]
use candor_index::format::Xxh64;
use candor_index::{EntryId, Hash256, Md5Index, PdqIndex, Sha256Index, Strategy};
use libfuzzer_sys::fuzz_target;

fn xxh(b: &[u8]) -> u64 {
    let mut h = Xxh64::default();
    h.update(b);
    h.finish()
}

/// Rewrites the header checksum (after magic, version, kind, field count and fields) and the
/// body checksum (the last 8 bytes) to match.
fn fix_checksums(f: &mut [u8]) {
    if f.len() < 20 {
        return;
    }
    let count = u32::from_le_bytes(f[16..20].try_into().expect("4 bytes")) as usize;
    if count > 1024 {
        return;
    }
    let head = 20 + count * 8;
    if f.len() < head + 8 {
        return;
    }
    let h = xxh(&f[..head]);
    f[head..head + 8].copy_from_slice(&h.to_le_bytes());
    let body = head + 8;
    if f.len() >= body + 8 {
        let end = f.len() - 8;
        let h = xxh(&f[body..end]);
        f[end..].copy_from_slice(&h.to_le_bytes());
    }
}

fn check_pdq(idx: &PdqIndex, radius: u32) {
    let bytes = idx.write_to(Vec::new()).expect("writes to memory");
    let back = PdqIndex::read_from(&bytes[..]).expect("an index it wrote loads");
    assert_eq!(back.write_to(Vec::new()).expect("writes"), bytes, "write/read/write");
    assert_eq!(back.len(), idx.len());

    let n = idx.capacity_ids();
    let mut queries: Vec<Hash256> = (0..n.min(3))
        .filter_map(|i| idx.hash(EntryId(i as u32)))
        .collect();
    queries.push(Hash256([0; 4]));
    for q in &queries {
        let want: Vec<(u32, u32)> = (0..n as u32)
            .filter(|&i| !idx.is_removed(EntryId(i)))
            .filter_map(|i| {
                let d = idx.hash(EntryId(i))?.distance(q);
                (d <= radius).then_some((i, d))
            })
            .collect();
        let mut flat: Vec<(u32, u32)> = idx
            .search_with(q, radius, Strategy::Flat)
            .iter()
            .map(|m| (m.entry.0, m.distance))
            .collect();
        flat.sort_unstable();
        assert_eq!(flat, want, "flat scan");
        for s in [Strategy::Auto, Strategy::MultiIndex] {
            for m in idx.search_with(q, radius, s) {
                assert!(!idx.is_removed(m.entry), "{s:?} found a removed entry");
                let h = idx.hash(m.entry).expect("an entry the index has");
                assert_eq!(h.distance(q), m.distance, "{s:?} distance");
                assert!(m.distance <= radius);
            }
        }
    }
    let q = queries[0];
    let eight = [q, Hash256([u64::MAX; 4]), q, q, q, q, q, q];
    for m in idx.search_dihedral(&eight, radius) {
        assert!(!idx.is_removed(m.entry));
        assert!(m.distance <= radius);
    }
    let _ = idx.search_batch(&queries, radius);
}

macro_rules! check_digest {
    ($idx:expr, $ty:ty) => {{
        let idx = $idx;
        let bytes = idx.write_to(Vec::new()).expect("writes to memory");
        let back = <$ty>::read_from(&bytes[..]).expect("an index it wrote loads");
        assert_eq!(back.write_to(Vec::new()).expect("writes"), bytes, "write/read/write");
        for i in 0..idx.len().min(8) as u32 {
            let Some(d) = idx.digest(EntryId(i)) else { continue };
            for id in idx.get(&d) {
                assert_eq!(idx.digest(id), Some(d), "lookup returned another digest");
            }
            let _ = idx.entry_ref(EntryId(i));
        }
    }};
}

fuzz_target!(|data: &[u8]| {
    let Some((&ctl, rest)) = data.split_first() else { return };
    let mut file = rest.to_vec();
    if ctl & 1 == 1 {
        fix_checksums(&mut file);
    }
    let radius = u32::from(ctl >> 1) * 2;
    // (A file claiming more entries than it holds once made these readers fill the whole
    // claimed array: fixed, see crates/candor-index/tests/fuzz_regressions.rs.)
    if let Ok(idx) = PdqIndex::read_from(&file[..]) {
        check_pdq(&idx, radius);
    }
    if let Ok(idx) = Md5Index::read_from(&file[..]) {
        check_digest!(&idx, Md5Index);
    }
    if let Ok(idx) = Sha256Index::read_from(&file[..]) {
        check_digest!(&idx, Sha256Index);
    }
});
