//! Criterion benchmark of vPDQ matching at scale: a bank of 100,000 videos of 60 frames (6M
//! frame hashes; each video a random walk of 1–6 bits a frame from a random start, quality 100)
//! and queries of 60 frames, each a bank video with every frame perturbed by up to 16 bits,
//! default thresholds (distance 31, quality 50, 80 % / 80 %). Built once outside the timing
//! loop, in both table layouts; the anchor is the brute-force vpdq matcher (every query frame
//! against every frame of every video) over the first 10,000 videos, in the same run.
use candor_index::vpdq::VPDQ_DISTANCE;
use candor_index::{
    BuildOptions, EntryRef, Hash256, Layout, VpdqDihedralFrame, VpdqFrame, VpdqIndex, VpdqQuery,
};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use std::hint::black_box;
use std::time::Instant;

#[path = "../tests/common/rng.rs"]
mod rng;
use rng::Rng;

const VIDEOS: usize = 100_000;
const FRAMES: usize = 60;
const BRUTE_VIDEOS: usize = 10_000;
const QUERIES: usize = 16;

fn frames(hashes: &[Hash256]) -> Vec<VpdqFrame> {
    hashes
        .iter()
        .enumerate()
        .map(|(i, &hash)| VpdqFrame {
            hash,
            quality: 100,
            frame: i as u32,
            timestamp: i as f64,
        })
        .collect()
}

/// The bank's frame hashes, video after video.
fn bank() -> Vec<Hash256> {
    let mut rng = Rng(15);
    let mut all = Vec::with_capacity(VIDEOS * FRAMES);
    for _ in 0..VIDEOS {
        let mut h = rng.hash();
        for _ in 0..FRAMES {
            h = rng.flip(h, 1, 6);
            all.push(h);
        }
    }
    all
}

fn queries(bank: &[Hash256]) -> Vec<(usize, Vec<Hash256>)> {
    let mut rng = Rng(99);
    (0..QUERIES)
        .map(|i| {
            // Targets inside the brute-force anchor's range too.
            let v = if i % 2 == 0 {
                (rng.next() as usize) % BRUTE_VIDEOS
            } else {
                (rng.next() as usize) % VIDEOS
            };
            let q = bank[v * FRAMES..(v + 1) * FRAMES]
                .iter()
                .map(|h| rng.flip(*h, 0, 16))
                .collect();
            (v, q)
        })
        .collect()
}

fn build(bank: &[Hash256], layout: Layout) -> VpdqIndex {
    let t = Instant::now();
    let mut index = VpdqIndex::with_options(
        50,
        BuildOptions {
            layout: Some(layout),
            dir_bits: None,
        },
    );
    for (v, chunk) in bank.chunks(FRAMES).enumerate() {
        let r = EntryRef {
            bank: 0,
            content: v as u64,
        };
        index.insert(r, &frames(chunk)).unwrap();
    }
    index.compact();
    eprintln!(
        "vpdq {layout:?}: {} videos, {} frames, built in {:.1} s, memory_bytes {} ({:.1} B/frame)",
        index.len(),
        index.frame_count(),
        t.elapsed().as_secs_f64(),
        index.memory_bytes(),
        index.memory_bytes() as f64 / index.frame_count() as f64
    );
    index
}

/// vpdq's brute force over `videos`: every prepared query frame against every frame of every
/// video (all frames are unique and of quality 100 here, so preparation keeps them all).
fn brute(bank: &[Hash256], videos: usize, q: &[Hash256]) -> Vec<usize> {
    let mut out = Vec::new();
    for (v, fs) in bank[..videos * FRAMES].chunks(FRAMES).enumerate() {
        let near = |a: &Hash256, b: &[Hash256]| b.iter().any(|h| a.distance(h) <= VPDQ_DISTANCE);
        let qm = q.iter().filter(|h| near(h, fs)).count();
        if qm == 0 || qm * 100 < 80 * q.len() {
            continue;
        }
        let vm = fs.iter().filter(|h| near(h, q)).count();
        if vm * 100 >= 80 * fs.len() {
            out.push(v);
        }
    }
    out
}

fn bench(c: &mut Criterion) {
    let bank = bank();
    let qs = queries(&bank);
    let opts = VpdqQuery::default();
    let mut group = c.benchmark_group("vpdq_match");
    group.sample_size(20);
    for (name, layout) in [("compact", Layout::Compact), ("split", Layout::Split)] {
        let index = build(&bank, layout);
        // Every query finds its video, and the index agrees with brute force on the anchor's
        // range.
        for (v, q) in &qs {
            let found = index.search(&frames(q), &opts).unwrap();
            assert!(found.iter().any(|m| m.video_ref.content == *v as u64));
            let mut in_range: Vec<usize> = found
                .iter()
                .map(|m| m.video_ref.content as usize)
                .filter(|&v| v < BRUTE_VIDEOS)
                .collect();
            in_range.sort();
            assert_eq!(in_range, brute(&bank, BRUTE_VIDEOS, q));
        }
        let fq: Vec<Vec<VpdqFrame>> = qs.iter().map(|(_, q)| frames(q)).collect();
        group.bench_with_input(BenchmarkId::new(name, VIDEOS), &fq, |b, fq| {
            let mut i = 0;
            b.iter(|| {
                i = (i + 1) % fq.len();
                black_box(index.search(&fq[i], &opts).unwrap().len())
            })
        });
        {
            // Eight orientations per frame (the seven others random: no extra matches).
            let mut rng = Rng(7);
            let dq: Vec<Vec<VpdqDihedralFrame>> = qs
                .iter()
                .map(|(_, q)| {
                    q.iter()
                        .map(|h| {
                            let mut hashes = [*h; 8];
                            for x in hashes.iter_mut().skip(1) {
                                *x = rng.hash();
                            }
                            VpdqDihedralFrame {
                                hashes,
                                quality: 100,
                            }
                        })
                        .collect()
                })
                .collect();
            group.bench_with_input(
                BenchmarkId::new(format!("{name}_dihedral"), VIDEOS),
                &dq,
                |b, dq| {
                    let mut i = 0;
                    b.iter(|| {
                        i = (i + 1) % dq.len();
                        black_box(index.search_dihedral(&dq[i], &opts).unwrap().len())
                    })
                },
            );
        }
    }
    group.sample_size(10);
    group.bench_with_input(
        BenchmarkId::new("brute_force_anchor", BRUTE_VIDEOS),
        &qs,
        |b, qs| {
            let mut i = 0;
            b.iter(|| {
                i = (i + 1) % qs.len();
                black_box(brute(&bank, BRUTE_VIDEOS, &qs[i].1).len())
            })
        },
    );
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
