//! vPDQ matching against vpdq's semantics: the vectors python-threatexchange's own matchers
//! produced (`testdata/vpdq/match/`), its index tests ported as data, and a property test of
//! the index against a brute-force matcher written from the reference (`vpdq_index.py`,
//! `vpdq_util.prepare_vpdq_feature`) over random banks with near-duplicate frames, removals,
//! other thresholds and dihedral queries.
use candor_index::vpdq::{percent, VPDQ_DISTANCE};
use candor_index::{
    BuildOptions, EntryRef, Hash256, Layout, VideoId, VpdqDihedralFrame, VpdqError, VpdqFrame,
    VpdqIndex, VpdqMatch, VpdqQuery,
};
use proptest::prelude::*;

mod common {
    pub mod rng;
}
use common::rng::Rng;

fn frame(hash: Hash256, quality: u8, i: usize) -> VpdqFrame {
    VpdqFrame {
        hash,
        quality,
        frame: i as u32,
        timestamp: i as f64,
    }
}

fn frames(hashes: &[Hash256]) -> Vec<VpdqFrame> {
    hashes
        .iter()
        .enumerate()
        .map(|(i, h)| frame(*h, 100, i))
        .collect()
}

fn r(content: u64) -> EntryRef {
    EntryRef { bank: 7, content }
}

/// `(video, query %, compared %)` of each match, in the index's order.
fn summary(ms: &[VpdqMatch]) -> Vec<(u32, f64, f64)> {
    ms.iter()
        .map(|m| (m.video.0, m.query_match_percent, m.compared_match_percent))
        .collect()
}

fn opts(query: f64, compared: f64) -> VpdqQuery {
    VpdqQuery {
        query_match_percent: query,
        compared_match_percent: compared,
        ..VpdqQuery::default()
    }
}

// ---------------------------------------------------------------------------------------------
// The reference's vectors.

fn parse_frames(words: &[&str]) -> Vec<VpdqFrame> {
    words
        .iter()
        .enumerate()
        .map(|(i, w)| {
            let p: Vec<&str> = w.split(',').collect();
            assert_eq!(p.len(), 3, "{w}");
            VpdqFrame {
                hash: Hash256::from_hex(p[0]).unwrap(),
                quality: p[1].parse().unwrap(),
                frame: i as u32,
                timestamp: p[2].parse().unwrap(),
            }
        })
        .collect()
}

#[derive(Default)]
struct Case {
    quality: u8,
    query_pct: f64,
    compared_pct: f64,
    videos: Vec<Vec<VpdqFrame>>,
    query: Vec<VpdqFrame>,
    index: Vec<(u32, f64, f64)>,
    brute: Vec<(u32, f64, f64)>,
}

fn vectors() -> Vec<Case> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../testdata/vpdq/match/vectors.txt"
    );
    let text = std::fs::read_to_string(path).unwrap();
    let mut cases = Vec::new();
    let mut c = Case::default();
    let result = |w: &[&str]| {
        (
            w[1].parse().unwrap(),
            w[2].parse().unwrap(),
            w[3].parse().unwrap(),
        )
    };
    for line in text.lines() {
        let w: Vec<&str> = line.split(' ').collect();
        match w[0] {
            "case" => {
                c.quality = w[1].parse().unwrap();
                c.query_pct = w[2].parse().unwrap();
                c.compared_pct = w[3].parse().unwrap();
            }
            "video" => c.videos.push(parse_frames(&w[1..])),
            "query" => c.query = parse_frames(&w[1..]),
            "index" => c.index.push(result(&w)),
            "brute" => c.brute.push(result(&w)),
            "end" => cases.push(std::mem::take(&mut c)),
            other => panic!("unknown line {other}"),
        }
    }
    cases
}

/// Percentages compared bit for bit.
fn same(a: &[(u32, f64, f64)], b: &[(u32, f64, f64)]) -> bool {
    a.len() == b.len()
        && a.iter().zip(b).all(|(x, y)| {
            x.0 == y.0 && x.1.to_bits() == y.1.to_bits() && x.2.to_bits() == y.2.to_bits()
        })
}

#[test]
fn reference_index_vectors_bit_for_bit() {
    let cases = vectors();
    assert_eq!(cases.len(), 60);
    let mut matched = 0;
    for (n, c) in cases.iter().enumerate() {
        let mut index = VpdqIndex::with_options(c.quality, BuildOptions::default());
        // Video ids: the case's video positions (an empty video is refused, as HMA refuses it).
        let mut ids = Vec::new();
        for (i, v) in c.videos.iter().enumerate() {
            match index.insert(r(i as u64), v) {
                Ok(id) => ids.push((id, i as u32)),
                Err(e) => assert_eq!(e, VpdqError::NoQualifyingFrames, "case {n}"),
            }
        }
        let q = VpdqQuery {
            quality: c.quality,
            query_match_percent: c.query_pct,
            compared_match_percent: c.compared_pct,
            ..VpdqQuery::default()
        };
        let to_case = |ms: Vec<VpdqMatch>| {
            let mut v: Vec<(u32, f64, f64)> = ms
                .iter()
                .map(|m| {
                    let i = ids.iter().find(|(id, _)| *id == m.video).unwrap().1;
                    assert_eq!(m.video_ref, r(u64::from(i)));
                    (i, m.query_match_percent, m.compared_match_percent)
                })
                .collect();
            v.sort_by_key(|x| x.0);
            v
        };
        let mut expected = c.index.clone();
        expected.sort_by_key(|x| x.0);
        let got = to_case(index.search(&c.query, &q).unwrap());
        assert!(same(&got, &expected), "case {n}: {got:?} != {expected:?}");
        // Compacted (multi-index tables) and pending (flat scan) answer the same.
        index.compact();
        assert!(same(
            &to_case(index.search(&c.query, &q).unwrap()),
            &expected
        ));
        matched += expected.len();
    }
    assert!(matched > 50, "{matched}");
}

/// `match_VPDQ_hash_brute`: dedupe *then* quality filter, distance <= 31, no threshold.
fn reference_brute(query: &[VpdqFrame], video: &[VpdqFrame], quality: u8) -> (f64, f64) {
    let prep = |fs: &[VpdqFrame]| {
        let mut seen = Vec::new();
        let mut out = Vec::new();
        for f in fs {
            if !seen.contains(&f.hash) {
                seen.push(f.hash);
                out.push(*f);
            }
        }
        out.retain(|f| f.quality >= quality);
        out
    };
    let (q, v) = (prep(query), prep(video));
    let count = |a: &[VpdqFrame], b: &[VpdqFrame]| {
        a.iter()
            .filter(|x| b.iter().any(|y| x.hash.distance(&y.hash) <= VPDQ_DISTANCE))
            .count() as u32
    };
    (
        percent(count(&q, &v), q.len() as u32),
        percent(count(&v, &q), v.len() as u32),
    )
}

#[test]
fn reference_brute_vectors_and_where_they_differ_from_the_index() {
    let mut differ = 0;
    let mut total = 0;
    for c in vectors() {
        for &(i, qp, cp) in &c.brute {
            let (a, b) = reference_brute(&c.query, &c.videos[i as usize], c.quality);
            assert_eq!((a.to_bits(), b.to_bits()), (qp.to_bits(), cp.to_bits()));
            // The index's percentages for the same pair (thresholds 0: every candidate).
            let mut index = VpdqIndex::with_options(c.quality, BuildOptions::default());
            let Ok(_) = index.insert(r(0), &c.videos[i as usize]) else {
                continue;
            };
            let q = VpdqQuery {
                quality: c.quality,
                query_match_percent: 0.0,
                compared_match_percent: 0.0,
                ..VpdqQuery::default()
            };
            let got = index.search(&c.query, &q).unwrap();
            let idx = got.first().map_or((0.0, 0.0), |m| {
                (m.query_match_percent, m.compared_match_percent)
            });
            total += 1;
            // Only the dedupe-before-filter corner (an identical frame first below the
            // quality threshold) separates them: with the same prepared hashes both orders
            // give the same answer.
            let hashes = |fs: Vec<VpdqFrame>| {
                let mut h: Vec<Hash256> = fs.iter().map(|f| f.hash).collect();
                h.sort();
                h
            };
            let same_prep = |fs: &[VpdqFrame]| {
                let index_order = prepare_ref(fs, |f| (f.hash, f.quality), c.quality);
                let mut brute_order = prepare_ref(fs, |f| (f.hash, f.quality), 0);
                brute_order.retain(|f| f.quality >= c.quality);
                hashes(index_order) == hashes(brute_order)
            };
            if same_prep(&c.query) && same_prep(&c.videos[i as usize]) {
                assert_eq!(idx, (qp, cp));
            } else if idx != (qp, cp) {
                differ += 1;
            }
        }
    }
    eprintln!("brute and index differ on {differ} of {total} pairs (all in the corner)");
    assert!(total > 150);
    assert!(differ > 0);
}

#[test]
fn brute_dedupes_before_filtering_the_index_after() {
    let a = Hash256([1, 2, 3, 4]);
    let b = Hash256([!1, !2, !3, !4]);
    // The video's first frame with hash `a` has quality 10, a later one 100.
    let video = vec![frame(a, 10, 0), frame(a, 100, 1), frame(b, 100, 2)];
    let query = vec![frame(a, 100, 0), frame(b, 100, 1)];
    // Brute: the video's prepared frames are {b} (a's first frame is dropped), so a misses.
    assert_eq!(reference_brute(&query, &video, 50), (50.0, 100.0));
    let query2 = vec![frame(a, 100, 0)];
    assert_eq!(reference_brute(&query2, &video, 50), (0.0, 0.0));
    let mut index = VpdqIndex::new();
    index.insert(r(0), &video).unwrap();
    let got = index.search(&query2, &opts(0.0, 0.0)).unwrap();
    assert_eq!(summary(&got), vec![(0, 100.0, 50.0)]);
}

// ---------------------------------------------------------------------------------------------
// python-threatexchange's vpdq index tests (`tests/test_vpdq_faiss.py`), as data: its random
// groups replaced by fixed ones with the same distances.

/// `bits` bits of `h` flipped, from bit `from` on (a fixed stand-in for `get_similar_hash`).
fn similar(h: Hash256, from: usize, bits: usize) -> Hash256 {
    let mut x = h;
    for b in from..from + bits {
        x.0[b / 64] ^= 1 << (b % 64);
    }
    x
}

const ZERO: Hash256 = Hash256([0; 4]);

/// Groups: members of one group are within 15 bits of each other, members of different groups
/// at least 64 apart.
fn group(g: usize) -> Vec<Hash256> {
    let base = similar(ZERO, 64 * g, 64 * g.min(1));
    let base = if g == 2 { similar(ZERO, 0, 128) } else { base };
    (0..16).map(|i| similar(base, 200, i)).collect()
}

fn pick(g: &[Hash256], idx: &[usize]) -> Vec<Hash256> {
    idx.iter().map(|&i| g[i]).collect()
}

#[test]
fn groups_are_as_described() {
    let (g1, g2, g3) = (group(0), group(1), group(2));
    for g in [&g1, &g2, &g3] {
        for a in g.iter() {
            for b in g.iter() {
                assert!(a.distance(b) <= 15);
            }
        }
    }
    for (x, y) in [(&g1, &g2), (&g1, &g3), (&g2, &g3)] {
        for a in x.iter() {
            for b in y.iter() {
                assert!(a.distance(b) >= 64);
            }
        }
    }
}

#[test]
fn hma_simple_and_half_match() {
    let f: Vec<Hash256> = (0..4).map(|i| similar(ZERO, 64 * i, 16 + 12 * i)).collect();
    let mut index = VpdqIndex::new();
    let id = index.insert(r(5), &frames(&f)).unwrap();
    assert_eq!(index.video_frames(id), Some(4));
    let res = index.search(&frames(&f), &VpdqQuery::default()).unwrap();
    assert_eq!(summary(&res), vec![(0, 100.0, 100.0)]);
    assert_eq!(res[0].video_ref, r(5));
    let half = frames(&f[..2]);
    let res = index.search(&half, &opts(0.0, 0.0)).unwrap();
    assert_eq!(summary(&res), vec![(0, 100.0, 50.0)]);
    // The default compared threshold (80) refuses it.
    assert!(index.search(&half, &opts(0.0, 80.0)).unwrap().is_empty());

    let mut index = VpdqIndex::new();
    index.insert(r(5), &half).unwrap();
    let res = index.search(&frames(&f), &opts(0.0, 0.0)).unwrap();
    assert_eq!(summary(&res), vec![(0, 50.0, 100.0)]);
}

#[test]
fn hma_empty_video_and_empty_query() {
    let mut index = VpdqIndex::new();
    index.insert(r(1), &frames(&group(0))).unwrap();
    assert!(index.search(&[], &VpdqQuery::default()).unwrap().is_empty());
    assert_eq!(index.insert(r(2), &[]), Err(VpdqError::NoQualifyingFrames));
    // Only low-quality frames: nothing left after the filter.
    let low: Vec<VpdqFrame> = group(1).iter().map(|h| frame(*h, 49, 0)).collect();
    assert_eq!(index.insert(r(2), &low), Err(VpdqError::NoQualifyingFrames));
    assert!(index.search(&low, &opts(0.0, 0.0)).unwrap().is_empty());
    assert_eq!(index.len(), 1);
}

#[test]
fn hma_duplicate_videos_both_match() {
    let f = frames(&group(0)[..4]);
    let mut index = VpdqIndex::new();
    index.insert(r(1), &f).unwrap();
    index.insert(r(2), &f).unwrap();
    let res = index.search(&f, &VpdqQuery::default()).unwrap();
    assert_eq!(summary(&res), vec![(0, 100.0, 100.0), (1, 100.0, 100.0)]);
}

#[test]
fn hma_no_match_even_at_zero_thresholds() {
    let mut index = VpdqIndex::new();
    index.insert(r(1), &frames(&group(0))).unwrap();
    assert!(index
        .search(&frames(&group(1)), &opts(0.0, 0.0))
        .unwrap()
        .is_empty());
}

#[test]
fn hma_query_threshold_below_and_above_80() {
    let (g1, g2, g3) = (group(0), group(1), group(2));
    let v1 = [
        pick(&g1, &[0, 1]),
        pick(&g2, &[0, 1, 2]),
        pick(&g3, &[0, 1, 2, 3, 4]),
    ]
    .concat();
    let v2 = [
        pick(&g1, &[3]),
        pick(&g2, &[4]),
        pick(&g3, &[5, 6, 7, 8, 9, 10, 11, 12]),
    ]
    .concat();
    let v3 = [pick(&g1, &[5]), pick(&g3, &[1, 3, 5, 7, 9, 11, 13, 15, 2])].concat();
    let v4 = pick(&g3, &[0, 2, 4, 6, 8, 10, 12, 14, 1, 3]);
    let mut index = VpdqIndex::new();
    index.insert(r(4), &frames(&v4)).unwrap();
    let q = opts(80.0, 0.0);
    assert!(index.search(&frames(&v1), &q).unwrap().is_empty());
    let res = index.search(&frames(&v2), &q).unwrap();
    assert_eq!(summary(&res), vec![(0, 80.0, 100.0)]);
    let res = index.search(&frames(&v3), &q).unwrap();
    assert_eq!(summary(&res), vec![(0, 90.0, 100.0)]);

    // The compared threshold, the other way round.
    let q = opts(0.0, 80.0);
    for (v, want) in [(&v1, None), (&v2, Some(80.0)), (&v3, Some(90.0))] {
        let mut index = VpdqIndex::new();
        index.insert(r(1), &frames(v)).unwrap();
        let res = index.search(&frames(&v4), &q).unwrap();
        assert_eq!(
            summary(&res),
            want.map(|p| (0, 100.0, p)).into_iter().collect::<Vec<_>>()
        );
    }
}

#[test]
fn hma_matches_with_one_unmatched_frame() {
    let g1 = group(0);
    let mut v1 = frames(&pick(&g1, &[0, 1, 2, 3, 4, 5, 6, 7, 8]));
    let mut v2 = frames(&pick(&g1, &[7, 8, 9, 10, 11, 12, 13, 14, 15]));
    v1.push(frame(similar(ZERO, 0, 255), 100, 10));
    v2.push(frame(similar(v1[0].hash, 64, 128), 100, 10));
    let check = |bank: &[VpdqFrame], query: &[VpdqFrame], want: (f64, f64)| {
        let mut index = VpdqIndex::new();
        index.insert(r(1), bank).unwrap();
        let res = index.search(query, &VpdqQuery::default()).unwrap();
        assert_eq!(summary(&res), vec![(0, want.0, want.1)]);
    };
    check(&v1, &v2, (90.0, 90.0));
    check(&v2, &v1, (90.0, 90.0));
    v1.pop();
    check(&v1, &v2, (90.0, 100.0));
    v2.pop();
    check(&v1, &v2, (100.0, 100.0));
}

#[test]
fn hma_duplicate_frames_are_counted_once() {
    let g1 = group(0);
    let mut v1 = frames(&pick(&g1, &[0, 1, 2, 3, 4, 5, 6, 7, 8]));
    // Each query frame 31 bits from its bank frame: still a match (inclusive).
    let v2: Vec<VpdqFrame> = v1
        .iter()
        .enumerate()
        .map(|(i, f)| frame(similar(f.hash, 220, 31), 100, i))
        .collect();
    assert!(v1
        .iter()
        .zip(&v2)
        .all(|(a, b)| a.hash.distance(&b.hash) == 31));
    v1.push(frame(v1[8].hash, 10, 9));
    v1.push(frame(v1[7].hash, 100, 10));
    let mut index = VpdqIndex::new();
    let id = index.insert(r(1), &v1).unwrap();
    assert_eq!(index.video_frames(id), Some(9));
    let res = index.search(&v2, &VpdqQuery::default()).unwrap();
    assert_eq!(summary(&res), vec![(0, 100.0, 100.0)]);
    assert_eq!((res[0].query_matched, res[0].query_frames), (9, 9));
    // 32 bits away: no longer a match.
    let v3: Vec<VpdqFrame> = v1
        .iter()
        .map(|f| frame(similar(f.hash, 150, 32), 100, 0))
        .collect();
    assert!(v1
        .iter()
        .zip(&v3)
        .all(|(a, b)| a.hash.distance(&b.hash) == 32));
    assert!(index.search(&v3, &opts(0.0, 0.0)).unwrap().is_empty());
}

#[test]
fn hma_duplicate_video_matches_ordered() {
    let (g1, g2) = (group(0), group(1));
    let v1 = [pick(&g1, &[0, 1, 2, 3, 4]), pick(&g2, &[0, 1, 2, 3, 4])].concat();
    let v2 = v1[..5].to_vec();
    let v3 = [pick(&g1, &[5, 6, 7, 8, 9]), pick(&g2, &[9, 10, 11, 12, 13])].concat();
    let mut index = VpdqIndex::new();
    // Inserted in the other order: the result is still best first.
    index.insert(r(2), &frames(&v2)).unwrap();
    index.insert(r(1), &frames(&v1)).unwrap();
    let res = index.search(&frames(&v3), &opts(0.0, 80.0)).unwrap();
    assert_eq!(summary(&res), vec![(1, 100.0, 100.0), (0, 50.0, 100.0)]);
    assert_eq!(res[0].video_ref, r(1));
}

#[test]
fn removal_and_thresholds_and_errors() {
    let (g1, g2) = (group(0), group(1));
    let mut index = VpdqIndex::new();
    let a = index.insert(r(1), &frames(&g1)).unwrap();
    let b = index.insert(r(2), &frames(&g1[..8])).unwrap();
    index.insert(r(3), &frames(&g2)).unwrap();
    assert_eq!((index.len(), index.frame_count()), (3, 40));
    let q = frames(&g1[..8]);
    let ids = |res: Vec<VpdqMatch>| res.iter().map(|m| m.video).collect::<Vec<_>>();
    assert_eq!(ids(index.search(&q, &opts(80.0, 0.0)).unwrap()), vec![a, b]);
    assert!(index.remove(a));
    assert!(!index.remove(a));
    assert!(!index.remove(VideoId(99)));
    assert_eq!(index.video_ref(a), None);
    assert_eq!(ids(index.search(&q, &opts(80.0, 0.0)).unwrap()), vec![b]);
    index.compact();
    assert_eq!(ids(index.search(&q, &opts(80.0, 0.0)).unwrap()), vec![b]);
    assert_eq!((index.len(), index.frame_count()), (2, 24));
    // Bad input is an error, never a panic.
    let bad = |o: VpdqQuery| index.search(&q, &o).unwrap_err();
    assert_eq!(
        bad(VpdqQuery {
            quality: 49,
            ..VpdqQuery::default()
        }),
        VpdqError::QualityThreshold {
            asked: 49,
            floor: 50
        }
    );
    assert!(matches!(
        bad(VpdqQuery {
            quality: 101,
            ..VpdqQuery::default()
        }),
        VpdqError::QualityThreshold { .. }
    ));
    assert!(matches!(bad(opts(f64::NAN, 80.0)), VpdqError::Percent(_)));
    assert!(matches!(bad(opts(80.0, 100.5)), VpdqError::Percent(_)));
    let mut q2 = q.clone();
    q2[3].quality = 101;
    assert_eq!(
        index.search(&q2, &VpdqQuery::default()).unwrap_err(),
        VpdqError::Quality {
            frame: 3,
            quality: 101
        }
    );
    assert!(index.insert(r(9), &q2).is_err());
    assert_eq!(
        VpdqError::Quality {
            frame: 3,
            quality: 101
        }
        .to_string(),
        "frame 4 has quality 101 (expected 0..=100)"
    );
}

#[test]
fn query_quality_above_the_floor() {
    let g1 = group(0);
    let mut index = VpdqIndex::with_options(0, BuildOptions::default());
    // Ten frames, qualities 0, 10, ..., 90.
    let video: Vec<VpdqFrame> = (0..10).map(|i| frame(g1[i], 10 * i as u8, i)).collect();
    index.insert(r(1), &video).unwrap();
    let q = |quality: u8| VpdqQuery {
        quality,
        query_match_percent: 0.0,
        compared_match_percent: 0.0,
        ..VpdqQuery::default()
    };
    let res = index.search(&frames(&g1[..1]), &q(0)).unwrap();
    assert_eq!((res[0].compared_matched, res[0].compared_frames), (10, 10));
    let res = index.search(&frames(&g1[..1]), &q(50)).unwrap();
    assert_eq!((res[0].compared_matched, res[0].compared_frames), (5, 5));
    assert!(index.search(&frames(&g1[..1]), &q(91)).unwrap().is_empty());
}

// ---------------------------------------------------------------------------------------------
// Property test: the index against vpdq's matching done plainly.

impl Rng {
    fn quality(&mut self) -> u8 {
        [100, 100, 90, 70, 55, 50, 49, 30, 0][self.below(9) as usize]
    }
    /// A video: a walk of a few bits a frame from `start`, some frames repeated.
    fn video(&mut self, start: Hash256, len: u64, step: u64) -> Vec<VpdqFrame> {
        let mut h = start;
        let mut out = Vec::new();
        for i in 0..len as usize {
            h = self.flip(h, 0, step);
            out.push(frame(h, self.quality(), i));
            if self.below(8) == 0 {
                out.push(frame(h, self.quality(), i));
            }
        }
        out
    }
}

/// vpdq's `prepare_vpdq_feature`: quality filter, then one frame per identical hash.
fn prepare_ref<T: Clone>(frames: &[T], key: impl Fn(&T) -> (Hash256, u8), quality: u8) -> Vec<T> {
    let mut out: Vec<T> = Vec::new();
    for f in frames.iter().filter(|f| key(f).1 >= quality) {
        if !out.iter().any(|g| key(g).0 == key(f).0) {
            out.push(f.clone());
        }
    }
    out
}

/// What `VPDQIndex.query` decides for every live video, written plainly: each query frame (its
/// hashes: one, or the eight dihedral ones) against each video frame.
fn brute(
    videos: &[(Vec<VpdqFrame>, bool)],
    query: &[(Vec<Hash256>, u8)],
    o: &VpdqQuery,
) -> Vec<(u32, f64, f64, u32, u32)> {
    let q = prepare_ref(query, |f| (f.0[0], f.1), o.quality);
    let mut out = Vec::new();
    for (i, (v, live)) in videos.iter().enumerate() {
        let v = prepare_ref(v, |f| (f.hash, f.quality), o.quality);
        if !live || q.is_empty() || v.is_empty() {
            continue;
        }
        let near = |qf: &(Vec<Hash256>, u8), vf: &VpdqFrame| {
            qf.0.iter().any(|h| h.distance(&vf.hash) <= o.distance)
        };
        let qm = q
            .iter()
            .filter(|qf| v.iter().any(|vf| near(qf, vf)))
            .count() as u32;
        let vm = v
            .iter()
            .filter(|vf| q.iter().any(|qf| near(qf, vf)))
            .count() as u32;
        let qp = qm as f64 * 100.0 / q.len() as f64;
        let vp = vm as f64 * 100.0 / v.len() as f64;
        if qm > 0 && qp >= o.query_match_percent && vp >= o.compared_match_percent {
            out.push((i as u32, qp, vp, qm, vm));
        }
    }
    out.sort_by(|a, b| {
        b.1.total_cmp(&a.1)
            .then(b.2.total_cmp(&a.2))
            .then(a.0.cmp(&b.0))
    });
    out
}

fn run_case(seed: u64, dihedral: bool) {
    let mut rng = Rng(seed);
    let floor = [50u8, 0, 50, 70][rng.below(4) as usize];
    let layout = [None, Some(Layout::Split), Some(Layout::Compact)][rng.below(3) as usize];
    let mut index = VpdqIndex::with_options(
        floor,
        BuildOptions {
            layout,
            dir_bits: None,
        },
    );
    let starts: Vec<Hash256> = (0..1 + rng.below(4)).map(|_| rng.hash()).collect();
    let mut videos: Vec<(Vec<VpdqFrame>, bool)> = Vec::new();
    let mut ids: Vec<Option<VideoId>> = Vec::new();
    let n = 1 + rng.below(40);
    for k in 0..n {
        let start = starts[rng.below(starts.len() as u64) as usize];
        let (len, step) = (1 + rng.below(20), [2, 5, 10, 20][rng.below(4) as usize]);
        let v = rng.video(start, len, step);
        let res = index.insert(r(k), &v);
        let empty = prepare_ref(&v, |f| (f.hash, f.quality), floor).is_empty();
        assert_eq!(res.is_err(), empty);
        ids.push(res.ok());
        videos.push((v, !empty));
        if rng.below(10) == 0 {
            index.compact_pending();
        }
    }
    if rng.below(2) == 0 {
        index.compact();
    }
    // Remove some.
    for k in 0..videos.len() {
        if videos[k].1 && rng.below(6) == 0 {
            assert!(index.remove(ids[k].unwrap()));
            videos[k].1 = false;
        }
    }
    for _ in 0..6 {
        // A query near one video (frames perturbed, some dropped, some foreign), or a walk.
        let mut qf: Vec<(Hash256, u8)> = Vec::new();
        if rng.below(3) > 0 {
            let base = &videos[rng.below(videos.len() as u64) as usize].0;
            for f in base {
                if rng.below(10) > 0 {
                    qf.push((rng.flip(f.hash, 0, 24), rng.quality()));
                }
            }
            for _ in 0..rng.below(4) {
                qf.push((rng.hash(), rng.quality()));
            }
        } else {
            let start = starts[rng.below(starts.len() as u64) as usize];
            let len = 1 + rng.below(20);
            qf = rng
                .video(start, len, 10)
                .iter()
                .map(|f| (f.hash, f.quality))
                .collect();
        }
        let o = VpdqQuery {
            distance: [31, 31, 0, 15, 45][rng.below(5) as usize],
            quality: floor.max([0u8, 50, 60, 100][rng.below(4) as usize]),
            query_match_percent: [80.0, 0.0, 50.0, 100.0, 33.3][rng.below(5) as usize],
            compared_match_percent: [80.0, 0.0, 50.0, 100.0][rng.below(4) as usize],
        };
        let (got, want) = if dihedral {
            let frames: Vec<VpdqDihedralFrame> = qf
                .iter()
                .map(|&(h, quality)| {
                    let mut hashes = [h; 8];
                    for v in hashes.iter_mut().skip(1) {
                        // Other orientations: near some bank frame, or random.
                        *v = if rng.below(3) == 0 {
                            let vid = &videos[rng.below(videos.len() as u64) as usize].0;
                            let at = rng.below(vid.len() as u64) as usize;
                            rng.flip(vid[at].hash, 0, 40)
                        } else {
                            rng.hash()
                        };
                    }
                    VpdqDihedralFrame { hashes, quality }
                })
                .collect();
            let q: Vec<(Vec<Hash256>, u8)> = frames
                .iter()
                .map(|f| (f.hashes.to_vec(), f.quality))
                .collect();
            (
                index.search_dihedral(&frames, &o).unwrap(),
                brute(&videos, &q, &o),
            )
        } else {
            let frames: Vec<VpdqFrame> = qf
                .iter()
                .enumerate()
                .map(|(i, &(h, q))| frame(h, q, i))
                .collect();
            let q: Vec<(Vec<Hash256>, u8)> = qf.iter().map(|&(h, q)| (vec![h], q)).collect();
            // The single-orientation dihedral search equals the plain one.
            let plain = index.search(&frames, &o).unwrap();
            let as_dihedral: Vec<VpdqDihedralFrame> = qf
                .iter()
                .map(|&(h, quality)| VpdqDihedralFrame {
                    hashes: [h; 8],
                    quality,
                })
                .collect();
            assert_eq!(plain, index.search_dihedral(&as_dihedral, &o).unwrap());
            (plain, brute(&videos, &q, &o))
        };
        let got: Vec<(u32, f64, f64, u32, u32)> = got
            .iter()
            .map(|m| {
                let k = ids.iter().position(|id| *id == Some(m.video)).unwrap() as u32;
                assert_eq!(m.video_ref, r(u64::from(k)));
                (
                    k,
                    m.query_match_percent,
                    m.compared_match_percent,
                    m.query_matched,
                    m.compared_matched,
                )
            })
            .collect();
        assert_eq!(got, want, "seed {seed} {o:?}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn index_equals_brute_force(seed in any::<u64>()) {
        run_case(seed, false);
    }

    #[test]
    fn dihedral_index_equals_brute_force(seed in any::<u64>()) {
        run_case(seed, true);
    }
}

#[test]
fn many_seeds_find_matches() {
    // The property test's generator produces matches often enough to test something.
    let mut rng = Rng(3);
    let (mut matched, mut total) = (0, 0);
    for _ in 0..20 {
        let start = rng.hash();
        let v = rng.video(start, 15, 5);
        let mut index = VpdqIndex::new();
        if index.insert(r(0), &v).is_err() {
            continue;
        }
        let q: Vec<VpdqFrame> = v
            .iter()
            .map(|f| frame(rng.flip(f.hash, 0, 24), 100, 0))
            .collect();
        total += 1;
        matched += usize::from(!index.search(&q, &VpdqQuery::default()).unwrap().is_empty());
    }
    assert!(matched * 2 > total, "{matched} of {total}");
}
