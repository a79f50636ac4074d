//! The PDQ index against brute force: random and clustered banks, radii 0, 31, 63 and others,
//! duplicates, inserts, removals, compaction, save and load, every strategy and SIMD level.
use candor_index::{
    BuildOptions, EntryId, EntryRef, Hash256, Layout, Match, PdqIndex, SimdLevel, Strategy as Plan,
};
use proptest::prelude::*;
use std::collections::HashSet;

fn brute(bank: &[(Hash256, bool)], q: &Hash256, r: u32) -> Vec<Match> {
    let mut v: Vec<Match> = bank
        .iter()
        .enumerate()
        .filter(|(_, (_, live))| *live)
        .map(|(i, (h, _))| Match {
            entry: EntryId(i as u32),
            distance: h.distance(q),
        })
        .filter(|m| m.distance <= r)
        .collect();
    v.sort_by_key(|m| (m.distance, m.entry));
    v
}

fn flip(h: &Hash256, bits: &[u8]) -> Hash256 {
    let mut x = *h;
    for &b in bits {
        x.0[b as usize / 64] ^= 1 << (b % 64);
    }
    x
}

fn hash() -> impl proptest::strategy::Strategy<Value = Hash256> {
    any::<[u64; 4]>().prop_map(Hash256)
}

/// A bank: random hashes, or clusters of near-duplicates (and exact duplicates) of a few centres.
fn bank() -> impl proptest::strategy::Strategy<Value = Vec<Hash256>> {
    let random = prop::collection::vec(hash(), 0..1500);
    let clustered = (
        prop::collection::vec(hash(), 1..12),
        prop::collection::vec(
            (
                any::<prop::sample::Index>(),
                prop::collection::vec(any::<u8>(), 0..24),
            ),
            1..1500,
        ),
    )
        .prop_map(|(centres, members)| {
            members
                .into_iter()
                .map(|(c, bits)| flip(&centres[c.index(centres.len())], &bits))
                .collect()
        });
    prop_oneof![random, clustered]
}

/// Queries: perturbed bank entries (0..=80 bits) and random hashes.
fn queries(bank: &[Hash256], seeds: &[(prop::sample::Index, Vec<u8>, Hash256)]) -> Vec<Hash256> {
    seeds
        .iter()
        .enumerate()
        .map(|(i, (idx, bits, rnd))| {
            if i % 2 == 0 && !bank.is_empty() {
                flip(&bank[idx.index(bank.len())], bits)
            } else {
                *rnd
            }
        })
        .collect()
}

fn query_seeds(
) -> impl proptest::strategy::Strategy<Value = Vec<(prop::sample::Index, Vec<u8>, Hash256)>> {
    prop::collection::vec(
        (
            any::<prop::sample::Index>(),
            prop::collection::vec(any::<u8>(), 0..80),
            hash(),
        ),
        1..12,
    )
}

fn layout() -> impl proptest::strategy::Strategy<Value = Option<Layout>> {
    prop::option::of(prop_oneof![Just(Layout::Compact), Just(Layout::Split)])
}

fn levels() -> Vec<SimdLevel> {
    [SimdLevel::Portable, SimdLevel::Avx2, SimdLevel::Avx512]
        .into_iter()
        .filter(|l| l.supported())
        .collect()
}

fn check(index: &PdqIndex, model: &[(Hash256, bool)], qs: &[Hash256], radii: &[u32]) {
    let mut index = index.clone();
    for level in levels() {
        index.set_simd_level(level);
        for q in qs {
            for &r in radii {
                let want = brute(model, q, r);
                for s in [Plan::Auto, Plan::Flat, Plan::MultiIndex] {
                    assert_eq!(
                        index.search_with(q, r, s),
                        want,
                        "radius {r} {s:?} {level:?}"
                    );
                }
            }
        }
    }
}

fn line(i: usize) -> EntryRef {
    EntryRef {
        bank: 0,
        content: i as u64 + 1,
    }
}

/// One batch of a bulk-append test: the bank's hashes up to `cut` inserted, then `removals`
/// applied (each an entry picked among those so far), in the index and in the model alike.
fn grow_to_cut<'a>(
    index: &mut PdqIndex,
    model: &mut Vec<(Hash256, bool)>,
    bank: &[Hash256],
    cut: usize,
    removals: impl Iterator<Item = &'a prop::sample::Index>,
) -> Result<(), TestCaseError> {
    for h in &bank[model.len()..cut] {
        index.insert(*h, line(model.len()));
        model.push((*h, true));
    }
    for idx in removals {
        if model.is_empty() {
            break;
        }
        let i = idx.index(model.len());
        prop_assert_eq!(index.remove(EntryId(i as u32)), model[i].1);
        model[i].1 = false;
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 40, ..ProptestConfig::default() })]

    #[test]
    fn build_matches_brute_force(
        bank in bank(),
        seeds in query_seeds(),
        dir_bits in prop::option::of(1u32..=18),
        layout in layout(),
        extra_r in 0u32..=63,
    ) {
        let index = PdqIndex::build_with(
            bank.iter().enumerate().map(|(i, h)| (*h, line(i))),
            BuildOptions { layout, dir_bits },
        );
        let model: Vec<_> = bank.iter().map(|h| (*h, true)).collect();
        let qs = queries(&bank, &seeds);
        check(&index, &model, &qs, &[0, 31, 63, extra_r]);
        prop_assert_eq!(index.len(), bank.len());
    }

    #[test]
    fn changes_and_reload_match_brute_force(
        bank in bank(),
        added in prop::collection::vec((any::<prop::sample::Index>(), prop::collection::vec(any::<u8>(), 0..20)), 0..300),
        removals in prop::collection::vec(any::<prop::sample::Index>(), 0..200),
        seeds in query_seeds(),
        dir_bits in prop::option::of(1u32..=18),
        layout in layout(),
    ) {
        let mut index = PdqIndex::build_with(
            bank.iter().enumerate().map(|(i, h)| (*h, line(i))),
            BuildOptions { layout, dir_bits },
        );
        let mut model: Vec<(Hash256, bool)> = bank.iter().map(|h| (*h, true)).collect();
        // Inserts: near-duplicates of existing entries and exact duplicates (pending entries).
        for (idx, bits) in &added {
            let h = if model.is_empty() { Hash256([7; 4]) } else { flip(&model[idx.index(model.len())].0, bits) };
            let id = index.insert(h, line(model.len()));
            prop_assert_eq!(id.0 as usize, model.len());
            model.push((h, true));
        }
        // Removals, of built and of pending entries.
        for idx in &removals {
            if model.is_empty() { break; }
            let i = idx.index(model.len());
            prop_assert_eq!(index.remove(EntryId(i as u32)), model[i].1);
            model[i].1 = false;
        }
        let all: Vec<Hash256> = model.iter().map(|m| m.0).collect();
        let qs = queries(&all, &seeds);
        check(&index, &model, &qs, &[0, 31, 63]);
        prop_assert_eq!(index.len(), model.iter().filter(|m| m.1).count());

        // Save and load, before and after compaction.
        let bytes = index.write_to(Vec::new()).unwrap();
        let loaded = PdqIndex::read_from(&bytes[..]).unwrap();
        check(&loaded, &model, &qs, &[0, 31, 63]);
        for (i, (h, live)) in model.iter().enumerate() {
            let id = EntryId(i as u32);
            prop_assert_eq!(loaded.entry_ref(id), Some(line(i)));
            prop_assert_eq!(loaded.hash(id), Some(*h));
            prop_assert_eq!(loaded.is_removed(id), !live);
        }
        let mut compacted = loaded;
        compacted.compact();
        prop_assert_eq!(compacted.pending(), 0);
        check(&compacted, &model, &qs, &[0, 31, 63]);
        let bytes = compacted.write_to(Vec::new()).unwrap();
        check(&PdqIndex::read_from(&bytes[..]).unwrap(), &model, &qs, &[31]);
    }

    /// Bulk appends: entries inserted in batches, each built into a table segment with
    /// `compact_pending` (segments merging as the index grows), removals in between, match brute
    /// force under every strategy, and so do the index saved and loaded (several segments in the
    /// file) and the index compacted whole.
    #[test]
    fn bulk_appends_match_brute_force(
        bank in bank(),
        cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..14),
        removals in prop::collection::vec(any::<prop::sample::Index>(), 0..120),
        seeds in query_seeds(),
        layout in layout(),
        dir_bits in prop::option::of(1u32..=16),
    ) {
        let mut cuts: Vec<usize> = cuts.iter().map(|c| c.index(bank.len() + 1)).collect();
        cuts.push(bank.len());
        cuts.sort_unstable();
        let mut index = PdqIndex::with_options(BuildOptions { layout, dir_bits });
        let mut model: Vec<(Hash256, bool)> = Vec::new();
        let per_batch = removals.len() / cuts.len() + 1;
        let mut removals = removals.iter();
        for &cut in &cuts {
            grow_to_cut(&mut index, &mut model, &bank, cut, removals.by_ref().take(per_batch))?;
            index.compact_pending();
            prop_assert_eq!(index.pending(), 0);
            prop_assert!(index.segments() <= 8);
        }
        let qs = queries(&bank, &seeds);
        check(&index, &model, &qs, &[0, 31, 63]);
        prop_assert_eq!(index.len(), model.iter().filter(|m| m.1).count());
        let bytes = index.write_to(Vec::new()).unwrap();
        let loaded = PdqIndex::read_from(&bytes[..]).unwrap();
        prop_assert_eq!(loaded.segments(), index.segments());
        check(&loaded, &model, &qs, &[0, 31]);
        let mut whole = loaded;
        whole.compact();
        prop_assert!(whole.segments() <= 1);
        check(&whole, &model, &qs, &[31]);
    }

    /// A bulk append built outside the index (`prepare_pending`, `build`, `install`) while
    /// entries are inserted and removed in between matches brute force, before and after the
    /// install: what was inserted since stays pending, what was removed since stays removed. A
    /// build overtaken by another compaction is refused and changes nothing.
    #[test]
    fn appends_built_off_the_index_match_brute_force(
        bank in bank(),
        cuts in prop::collection::vec(any::<prop::sample::Index>(), 1..10),
        removals in prop::collection::vec(any::<prop::sample::Index>(), 0..80),
        seeds in query_seeds(),
        layout in layout(),
        overtake in any::<prop::sample::Index>(),
    ) {
        let mut cuts: Vec<usize> = cuts.iter().map(|c| c.index(bank.len() + 1)).collect();
        cuts.push(bank.len());
        cuts.sort_unstable();
        let mut index = PdqIndex::with_options(BuildOptions { layout, dir_bits: None });
        let mut model: Vec<(Hash256, bool)> = Vec::new();
        let per_batch = removals.len() / cuts.len() + 1;
        let mut removals = removals.iter();
        let overtaken_at = overtake.index(cuts.len());
        let qs = queries(&bank, &seeds);
        let mut job = None;
        for (k, &cut) in cuts.iter().enumerate() {
            grow_to_cut(&mut index, &mut model, &bank, cut, removals.by_ref().take(per_batch))?;
            // The build prepared at the previous cut is installed now, after this cut's changes.
            if let Some((built, prepared)) = job.take() {
                let pending = index.pending();
                if k == overtaken_at {
                    index.compact();
                    let (p, s) = (index.pending(), index.segments());
                    prop_assert!(!index.install(built));
                    prop_assert_eq!((index.pending(), index.segments()), (p, s));
                } else {
                    prop_assert!(index.install(built));
                    // Only what was inserted since the prepare is still pending.
                    prop_assert_eq!(index.pending(), pending - prepared);
                }
                check(&index, &model, &qs, &[0, 31]);
            }
            let prepared = index.pending();
            job = index.prepare_pending().map(|j| (j.build(), prepared));
            prop_assert_eq!(job.is_none(), prepared == 0);
        }
        if let Some((built, _)) = job.take() {
            prop_assert!(index.install(built));
            prop_assert_eq!(index.pending(), 0);
        }
        check(&index, &model, &qs, &[0, 31, 63]);
        prop_assert_eq!(index.len(), model.iter().filter(|m| m.1).count());
        let bytes = index.write_to(Vec::new()).unwrap();
        let loaded = PdqIndex::read_from(&bytes[..]).unwrap();
        check(&loaded, &model, &qs, &[31]);
    }

    /// Queries at the edge of the pigeonhole: every table but one differs by exactly one bit
    /// more than its threshold, the remaining table by exactly its threshold, so one table alone
    /// can find the entry. Flips favour the directory and filter bits of each substring.
    #[test]
    fn pigeonhole_edge_queries_are_found(
        bank in prop::collection::vec(hash(), 1..800),
        cases in prop::collection::vec((any::<prop::sample::Index>(), 0u32..=63, 0usize..8, any::<u64>(), any::<bool>()), 1..24),
        dir_bits in prop::option::of(1u32..=18),
        layout in layout(),
    ) {
        let index = PdqIndex::build_with(
            bank.iter().enumerate().map(|(i, h)| (*h, line(i))),
            BuildOptions { layout, dir_bits },
        );
        let model: Vec<_> = bank.iter().map(|h| (*h, true)).collect();
        for (idx, r, lone, mut seed, top_only) in cases {
            let target = bank[idx.index(bank.len())];
            let lone = lone % (r as usize + 1).min(8); // a table that is probed
            let mut q = target;
            for i in 0..8usize {
                let budget = (r + 1) / 8 + u32::from((i as u32) < (r + 1) % 8);
                let flips = if i == lone { budget.saturating_sub(1) } else { budget };
                // Distinct positions in substring i (0 = its top bit), from its top 24 bits or all 32.
                let span = if top_only { 24 } else { 32 };
                let mut used = 0u32;
                let mut done = 0;
                while done < flips {
                    seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                    let p = ((seed >> 33) % span) as u32;
                    if used & (1 << p) != 0 { continue; }
                    used |= 1 << p;
                    done += 1;
                    let bit = if i % 2 == 0 { 63 - p } else { 31 - p };
                    q.0[i / 2] ^= 1u64 << bit;
                }
            }
            let want = brute(&model, &q, r);
            prop_assert!(want.iter().any(|m| m.distance <= r));
            prop_assert_eq!(index.search_with(&q, r, Plan::MultiIndex), want.clone(), "radius {}", r);
            prop_assert_eq!(index.search(&q, r), want);
        }
    }

    #[test]
    fn dihedral_reports_best_orientation(
        bank in bank(),
        seeds in prop::collection::vec((any::<prop::sample::Index>(), prop::collection::vec(any::<u8>(), 0..60), hash()), 8..=8),
    ) {
        let index = PdqIndex::build(bank.iter().enumerate().map(|(i, h)| (*h, line(i))));
        let qs: [Hash256; 8] = queries(&bank, &seeds).try_into().unwrap();
        let got = index.search_dihedral(&qs, 31);
        let mut want = Vec::new();
        for (i, h) in bank.iter().enumerate() {
            let (d, o) = (0..8).map(|o| (h.distance(&qs[o]), o)).min().unwrap();
            if d <= 31 {
                want.push((d, i as u32, o));
            }
        }
        want.sort();
        let got: Vec<_> = got.iter().map(|m| (m.distance, m.entry.0, m.orientation)).collect();
        prop_assert_eq!(got, want);
    }

    #[test]
    fn corrupt_or_truncated_files_are_refused(
        bank in prop::collection::vec(hash(), 0..400),
        cut in any::<prop::sample::Index>(),
        flip_at in any::<prop::sample::Index>(),
        flip_bits in 1u8..=255,
    ) {
        let index = PdqIndex::build(bank.iter().enumerate().map(|(i, h)| (*h, line(i))));
        let bytes = index.write_to(Vec::new()).unwrap();
        let n = cut.index(bytes.len());
        prop_assert!(PdqIndex::read_from(&bytes[..n]).is_err());
        let mut bad = bytes.clone();
        bad[flip_at.index(bytes.len())] ^= flip_bits;
        prop_assert!(PdqIndex::read_from(&bad[..]).is_err());
        prop_assert!(PdqIndex::read_from(&bytes[..]).is_ok());
    }
}

#[test]
fn error_messages_name_the_problem() {
    let bank: Vec<Hash256> = (0..300u64)
        .map(|i| Hash256([i, i * 3, !i, i << 7]))
        .collect();
    let index = PdqIndex::build(bank.iter().enumerate().map(|(i, h)| (*h, line(i))));
    let bytes = index.write_to(Vec::new()).unwrap();
    let err = |b: &[u8]| PdqIndex::read_from(b).unwrap_err().to_string();
    assert_eq!(err(b"hello"), "not a Candor index file (bad magic)");
    assert_eq!(err(&bytes[..10]), "not a Candor index file (bad magic)");
    assert!(err(&bytes[..40]).contains("truncated (ends inside the header)"));
    assert!(err(&bytes[..200]).contains("truncated (ends inside the hashes)"));
    assert!(err(&bytes[..bytes.len() - 3]).contains("truncated (ends inside the checksum)"));
    let mut b = bytes.clone();
    b[300] ^= 1;
    assert_eq!(err(&b), "index file is corrupt (checksum mismatch)");
    let mut b = bytes.clone();
    b[30] ^= 1;
    assert_eq!(err(&b), "index file is corrupt (header checksum mismatch)");
    let mut b = bytes.clone();
    b.push(0);
    assert!(err(&b).contains("unexpected bytes after the checksum"));
}

fn read_hashes(name: &str) -> Vec<Hash256> {
    let path = format!("{}/../../testdata/pdq/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| Hash256::from_hex(l).unwrap())
        .collect()
}

#[test]
fn real_needles_find_their_haystack_entries() {
    let hay = read_hashes("haystack.txt");
    let needles = read_hashes("needles.txt");
    assert_eq!((hay.len(), needles.len()), (1350, 100));
    let model: Vec<_> = hay.iter().map(|h| (*h, true)).collect();
    let configs = [
        (None, None),
        (Some(Layout::Compact), Some(4)),
        (Some(Layout::Compact), Some(18)),
        (Some(Layout::Split), Some(16)),
        (Some(Layout::Split), Some(3)),
    ];
    for (layout, dir_bits) in configs {
        let index = PdqIndex::build_with(
            hay.iter().enumerate().map(|(i, h)| (*h, line(i))),
            BuildOptions { layout, dir_bits },
        );
        assert_eq!(index.layout(), Some(layout.unwrap_or(Layout::Split)));
        let mut found = HashSet::new();
        for q in &needles {
            for r in [0, 31, 63] {
                let want = brute(&model, q, r);
                assert_eq!(index.search_with(q, r, Plan::MultiIndex), want);
                assert_eq!(index.search(q, r), want);
            }
            let m = index.search(q, 31);
            assert!(!m.is_empty(), "needle {q} has no haystack entry within 31");
            found.insert(m[0].entry);
        }
        assert!(found.len() > 1);
    }
}

#[test]
fn larger_bank_with_default_parameters() {
    // 60k random entries plus planted near-duplicates: default directory width, Auto strategy.
    let mut s = 1u64;
    let mut next = || {
        s = s
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        s ^ (s >> 29)
    };
    let mut bank: Vec<Hash256> = (0..60_000)
        .map(|_| Hash256([next(), next(), next(), next()]))
        .collect();
    for i in 0..2000 {
        let bits: Vec<u8> = (0..(i % 40)).map(|_| next() as u8).collect();
        bank.push(flip(&bank[i * 7], &bits));
    }
    let model: Vec<_> = bank.iter().map(|h| (*h, true)).collect();
    let queries: Vec<Hash256> = (0..200)
        .map(|i| {
            let bits: Vec<u8> = (0..(i % 36)).map(|_| next() as u8).collect();
            if i % 2 == 0 {
                flip(&bank[(next() % 62_000) as usize], &bits)
            } else {
                Hash256([next(), next(), next(), next()])
            }
        })
        .collect();
    for layout in [Layout::Compact, Layout::Split] {
        let options = BuildOptions {
            layout: Some(layout),
            dir_bits: None,
        };
        let index =
            PdqIndex::build_with(bank.iter().enumerate().map(|(i, h)| (*h, line(i))), options);
        assert_eq!(index.planned_strategy(31), Plan::MultiIndex);
        let mut total = 0;
        for q in &queries {
            let want = brute(&model, q, 31);
            total += want.len();
            assert_eq!(index.search(q, 31), want, "{layout:?}");
        }
        assert!(
            total >= 100,
            "queries should find their near-duplicates ({total})"
        );
        let batch = index.search_batch(&[bank[5], bank[6]], 0);
        let exact = Match {
            entry: EntryId(5),
            distance: 0,
        };
        assert_eq!(batch[0][0], exact);
        assert_eq!(batch[1][0].entry, EntryId(6));
    }
}

#[test]
fn bulk_appends_keep_few_segments() {
    // Batches shrinking fourfold each time each stay a segment of their own, up to eight; the
    // ninth merges with the newest ones instead, and results stay exact throughout.
    let mut rng = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    let mut index = PdqIndex::new();
    let mut model = Vec::new();
    let mut most = 0;
    for k in (0..10).rev() {
        for _ in 0..(1usize << (2 * k)) {
            let h = Hash256([next(), next(), next(), next()]);
            index.insert(h, line(model.len()));
            model.push((h, true));
        }
        index.compact_pending();
        assert_eq!(index.pending(), 0);
        most = most.max(index.segments());
        assert!(index.segments() <= 8);
    }
    assert_eq!(most, 8);
    let segments = index.segments();
    let qs: Vec<Hash256> = (0..40)
        .map(|i| {
            let mut q = model[(i * 7919) % model.len()].0;
            q.0[i % 4] ^= (1 << (i % 20)) | 1;
            q
        })
        .collect();
    check(&index, &model, &qs, &[0, 31]);
    let bytes = index.write_to(Vec::new()).unwrap();
    let loaded = PdqIndex::read_from(&bytes[..]).unwrap();
    assert_eq!(loaded.segments(), segments);
    check(&loaded, &model, &qs, &[31]);
}

#[test]
fn absurd_lengths_in_a_valid_header_are_errors() {
    // A header that checks out but claims u32::MAX entries: an error, never an abort or panic.
    let index = PdqIndex::build((0..10u64).map(|i| (Hash256([i; 4]), line(i as usize))));
    let mut bytes = index.write_to(Vec::new()).unwrap();
    let fields = 24; // magic, version, kind, field count, reserved
    bytes[fields..fields + 8].copy_from_slice(&u64::from(u32::MAX).to_le_bytes());
    let count = u32::from_le_bytes(bytes[16..20].try_into().unwrap()) as usize;
    let end = fields + 8 * count;
    let mut sum = candor_index::format::Xxh64::default();
    sum.update(&bytes[..end]);
    bytes[end..end + 8].copy_from_slice(&sum.finish().to_le_bytes());
    let err = PdqIndex::read_from(&bytes[..]).unwrap_err().to_string();
    assert!(
        err.contains("truncated") || err.contains("too large") || err.contains("invalid"),
        "{err}"
    );
}

/// An index read in place from shared bytes (what the service does with its mapped snapshot)
/// views the file's hashes and tables instead of copying them, answers exactly as the index it
/// was written from, and takes inserts, removals and compactions (into owned memory) while the
/// bytes it views stay as they were; a clone taken before those changes still answers as before.
#[test]
fn read_in_place_views_the_bytes_and_changes_go_to_owned_memory() {
    use candor_index::{AlignedBytes, Shared};
    use std::sync::Arc;
    let bank: Vec<Hash256> = (0..5000u64)
        .map(|i| Hash256([i.wrapping_mul(0x9E37_79B9_7F4A_7C15), i, !i, i << 9]))
        .collect();
    let mut index = PdqIndex::build(bank[..3000].iter().enumerate().map(|(i, h)| (*h, line(i))));
    for (i, h) in bank[3000..4000].iter().enumerate() {
        index.insert(*h, line(3000 + i));
    }
    index.compact_pending();
    assert!(index.remove(EntryId(17)));
    let bytes = index.write_to(Vec::new()).unwrap();
    let src: Shared = Arc::new(AlignedBytes::copy_from(&bytes));
    let mut loaded = PdqIndex::from_shared(&src, 0, bytes.len()).unwrap();
    assert!(loaded.uses_shared_bytes() && !index.uses_shared_bytes());
    assert_eq!(loaded.segments(), index.segments());
    // The views hold no heap memory of their own: the tombstones and reference runs only.
    assert!(loaded.memory_bytes() < 4096, "{}", loaded.memory_bytes());
    let qs: Vec<Hash256> = bank.iter().step_by(97).copied().collect();
    for q in &qs {
        assert_eq!(loaded.search(q, 31), index.search(q, 31));
    }
    let before = loaded.clone();
    for (i, h) in bank[4000..].iter().enumerate() {
        loaded.insert(*h, line(4000 + i));
    }
    assert!(loaded.remove(EntryId(3500)));
    loaded.compact_pending();
    assert_eq!(loaded.search(&bank[4500], 0).len(), 1);
    assert!(loaded.search(&bank[3500], 0).is_empty());
    assert_eq!(before.search(&bank[3500], 0).len(), 1);
    assert!(before.search(&bank[4500], 0).is_empty());
    loaded.compact();
    assert!(!loaded.uses_shared_bytes());
    assert_eq!(loaded.search(&bank[4500], 0).len(), 1);
    // The bytes themselves are unchanged: they still read back as the written index.
    assert_eq!(src.bytes(), &bytes[..]);
    let again = PdqIndex::from_shared(&src, 0, bytes.len()).unwrap();
    assert_eq!(again.search(&bank[3500], 0).len(), 1);
}
