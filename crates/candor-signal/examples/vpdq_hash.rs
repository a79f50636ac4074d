//! Hashes video files with vPDQ and prints the reference's hash-file lines
//! (`frame,quality,hash,timestamp`), then the wall time per file on standard error.
//!
//! `cargo run --release -p candor-signal --features video --example vpdq_hash -- [--seconds-per-hash S] [--decoder-threads N] [--repeat R] FILE...`
//! (used by `bench/video/run.sh`; `--repeat` hashes each file R times and reports the best).

use std::time::Instant;

use candor_signal::{hash_video, VpdqOptions};

fn main() {
    let mut opts = VpdqOptions::default();
    let mut repeat = 1usize;
    let mut files = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = |name: &str| {
            args.next()
                .unwrap_or_else(|| panic!("{name} needs a value"))
        };
        match a.as_str() {
            "--seconds-per-hash" => opts.seconds_per_hash = value(&a).parse().expect("a number"),
            "--decoder-threads" => opts.decoder_threads = value(&a).parse().expect("a number"),
            "--repeat" => repeat = value(&a).parse().expect("a number"),
            _ => files.push(a),
        }
    }
    for f in files {
        let bytes = std::fs::read(&f).unwrap_or_else(|e| panic!("{f}: {e}"));
        let mut best = f64::INFINITY;
        let mut features = Vec::new();
        for _ in 0..repeat.max(1) {
            let t = Instant::now();
            features = hash_video(&bytes, &opts).unwrap_or_else(|e| panic!("{f}: {e}"));
            best = best.min(t.elapsed().as_secs_f64());
        }
        for feature in &features {
            println!("{}", feature.to_line());
        }
        eprintln!(
            "{f}: {} frames hashed in {best:.3} s (best of {repeat})",
            features.len()
        );
    }
}
