//! Durable appends per second: W concurrent writers, each submitting jobs that append one real
//! decision entry (≈ 300 bytes, `candor_log::entry::examples()`), timed end to end: a caller
//! counts only once `Store::write` returned, i.e. after its batch committed (WAL,
//! `synchronous=FULL`) under a signed checkpoint. `writers/1` is one job at a time: no
//! batching, one commit (fsync) and one signature per entry.
//!
//! `cargo bench -p candor-store --bench append` (the database lives under `CANDOR_BENCH_DIR`,
//! default the system temp dir: put it on the disk you mean to measure, not a tmpfs).

use std::time::{Duration, Instant};

use candor_log::entry::{examples, EntryBody};
use candor_log::Signer;
use candor_store::{Store, StoreOptions};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};

fn decision_entry() -> Vec<u8> {
    examples()
        .into_iter()
        .find(|e| matches!(e.body, EntryBody::Decision(_)))
        .expect("a decision example")
        .encode()
}

fn bench_dir() -> tempfile::TempDir {
    match std::env::var_os("CANDOR_BENCH_DIR") {
        Some(d) => {
            std::fs::create_dir_all(&d).unwrap();
            tempfile::tempdir_in(d).unwrap()
        }
        None => tempfile::tempdir().unwrap(),
    }
}

/// `total` jobs from `writers` tasks; returns the elapsed time once every caller is answered.
async fn run(store: &Store, entry: &[u8], writers: u64, total: u64) -> Duration {
    let start = Instant::now();
    let mut handles = Vec::with_capacity(writers as usize);
    for w in 0..writers {
        let n = total / writers + u64::from(w < total % writers);
        let store = store.clone();
        let entry = entry.to_vec();
        handles.push(tokio::spawn(async move {
            for _ in 0..n {
                let e = entry.clone();
                store
                    .write(move |ctx| {
                        Box::pin(async move {
                            let i = ctx.append(e);
                            Ok(i)
                        })
                    })
                    .await
                    .expect("write");
            }
        }));
    }
    for h in handles {
        h.await.unwrap();
    }
    start.elapsed()
}

fn append(c: &mut Criterion) {
    let entry = decision_entry();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let mut group = c.benchmark_group("durable_append");
    group.throughput(Throughput::Elements(1));
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(8));
    group.warm_up_time(Duration::from_secs(2));
    eprintln!("entry: {} bytes", entry.len());
    for writers in [1u64, 16, 64, 256, 1024] {
        let dir = bench_dir();
        let signer = Signer::from_seed("candor.bench/log", &[1; 32]).unwrap();
        let store = rt
            .block_on(Store::open(dir.path(), signer, StoreOptions::default()))
            .unwrap();
        group.bench_with_input(BenchmarkId::new("writers", writers), &writers, |b, &w| {
            b.iter_custom(|iters| rt.block_on(run(&store, &entry, w, iters)));
        });
        let size = store.checkpoint().checkpoint.size;
        eprintln!("writers {writers}: log size {size} at the end");
        rt.block_on(store.close());
    }
    group.finish();
}

criterion_group!(benches, append);
criterion_main!(benches);
