//! Criterion benchmarks of the PDQ index: radius-31 queries (half near-duplicates, half random)
//! on 100k and 1M uniform random banks, for both layouts and the flat scan, plus build and load.
//! The FAISS comparison at 1M and 10M is `bench/index/run.sh`.
use candor_index::{BuildOptions, EntryRef, Hash256, Layout, PdqIndex, Strategy};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use std::hint::black_box;

#[path = "../tests/common/rng.rs"]
mod rng;
use rng::Rng;

fn data(n: usize, q: usize) -> (Vec<Hash256>, Vec<Hash256>) {
    let mut rng = Rng(n as u64);
    let bank: Vec<Hash256> = (0..n).map(|_| rng.hash()).collect();
    let queries = (0..q)
        .map(|i| {
            if i % 2 == 0 {
                let mut h = bank[(rng.next() % n as u64) as usize];
                for _ in 0..(rng.next() % 25) {
                    let b = rng.next() % 256;
                    h.0[(b / 64) as usize] ^= 1 << (b % 64);
                }
                h
            } else {
                rng.hash()
            }
        })
        .collect();
    (bank, queries)
}

fn build(bank: &[Hash256], layout: Layout) -> PdqIndex {
    let entries = bank.iter().enumerate().map(|(i, h)| {
        let r = EntryRef {
            bank: 0,
            content: i as u64,
        };
        (*h, r)
    });
    let options = BuildOptions {
        layout: Some(layout),
        dir_bits: None,
    };
    PdqIndex::build_with(entries, options)
}

fn queries(c: &mut Criterion) {
    let mut group = c.benchmark_group("search_r31");
    group.sample_size(20);
    for n in [100_000usize, 1_000_000] {
        let (bank, qs) = data(n, 256);
        group.throughput(Throughput::Elements(qs.len() as u64));
        for (name, layout, strategy) in [
            ("split", Layout::Split, Strategy::MultiIndex),
            ("compact", Layout::Compact, Strategy::MultiIndex),
            ("flat", Layout::Compact, Strategy::Flat),
        ] {
            let index = build(&bank, layout);
            group.bench_with_input(BenchmarkId::new(name, n), &qs, |b, qs| {
                b.iter(|| {
                    let mut found = 0;
                    for q in qs {
                        found += index.search_with(q, 31, strategy).len();
                    }
                    black_box(found)
                })
            });
        }
    }
    group.finish();
}

fn build_and_load(c: &mut Criterion) {
    let mut group = c.benchmark_group("build_load_1M");
    group.sample_size(10);
    let (bank, _) = data(1_000_000, 0);
    for layout in [Layout::Split, Layout::Compact] {
        let name = format!("{layout:?}").to_lowercase();
        group.bench_function(BenchmarkId::new("build", &name), |b| {
            b.iter(|| black_box(build(&bank, layout)))
        });
        let bytes = build(&bank, layout).write_to(Vec::new()).expect("write");
        group.bench_function(BenchmarkId::new("load", &name), |b| {
            b.iter(|| black_box(PdqIndex::read_from(&bytes[..]).expect("load")))
        });
    }
    group.finish();
}

criterion_group!(benches, queries, build_and_load);
criterion_main!(benches);
