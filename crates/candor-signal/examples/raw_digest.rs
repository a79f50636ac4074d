//! The anchor for the digest benchmark: the md-5 and sha2 crates' raw speed on bytes already in
//! memory, each alone, single thread. Usage: `raw_digest [MIB]` (default 1024).
use md5::{Digest, Md5};
use sha2::Sha256;
use std::time::Instant;

fn main() {
    let mib: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1024);
    let chunk: Vec<u8> = (0..(1usize << 20))
        .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect();
    let t = Instant::now();
    let mut m = Md5::new();
    for _ in 0..mib {
        m.update(&chunk);
    }
    let md5_s = t.elapsed().as_secs_f64();
    std::hint::black_box(m.finalize());
    let t = Instant::now();
    let mut s = Sha256::new();
    for _ in 0..mib {
        s.update(&chunk);
    }
    let sha_s = t.elapsed().as_secs_f64();
    std::hint::black_box(s.finalize());
    println!(
        "{{\"mib\": {mib}, \"md5_s\": {md5_s:.4}, \"sha256_s\": {sha_s:.4}, \"both_s\": {:.4}}}",
        md5_s + sha_s
    );
}
