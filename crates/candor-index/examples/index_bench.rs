//! Benchmark driver for `bench/index/run.py` (not part of the library).
//!
//! ```text
//! index_bench build BANK.bin INDEX.cidx          # raw 32-byte hashes -> index file
//! index_bench query INDEX.cidx QUERIES.bin OUT.txt [RADIUS]
//! ```
//! `build` prints `{"build_s", "write_s", "entries", "memory_bytes", "file_bytes"}`; `query`
//! loads the index in this fresh process, answers every query on one thread and prints
//! `{"load_s", "query_s", "qps", "matches", "vm_hwm_kb", "vm_rss_kb", "simd", "strategy"}`;
//! OUT.txt gets one line per query with the matching entry ids (ascending).
use candor_index::{BuildOptions, EntryRef, Hash256, Layout, PdqIndex};
use std::io::{BufReader, BufWriter, Write};
use std::time::Instant;

fn read_raw(path: &str) -> Vec<Hash256> {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    assert!(
        bytes.len().is_multiple_of(32),
        "{path}: not a multiple of 32 bytes"
    );
    bytes
        .chunks_exact(32)
        .map(|c| Hash256::from_bytes(c.try_into().unwrap()))
        .collect()
}

fn status_kb(key: &str) -> u64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    s.lines()
        .find(|l| l.starts_with(key))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("build") => {
            let bank = read_raw(&args[2]);
            let t = Instant::now();
            // CANDOR_LAYOUT (compact | split) and CANDOR_DIR_BITS override the defaults.
            let dir_bits = std::env::var("CANDOR_DIR_BITS")
                .ok()
                .and_then(|v| v.parse().ok());
            let layout = match std::env::var("CANDOR_LAYOUT").as_deref() {
                Ok("compact") => Some(Layout::Compact),
                Ok("split") => Some(Layout::Split),
                _ => None,
            };
            let entries = bank.iter().enumerate().map(|(i, h)| {
                let r = EntryRef {
                    bank: 0,
                    content: i as u64 + 1,
                };
                (*h, r)
            });
            let index = PdqIndex::build_with(entries, BuildOptions { layout, dir_bits });
            let build_s = t.elapsed().as_secs_f64();
            let t = Instant::now();
            let f = std::fs::File::create(&args[3]).expect("create index file");
            index
                .write_to(BufWriter::with_capacity(1 << 20, f))
                .expect("write index");
            let write_s = t.elapsed().as_secs_f64();
            let file_bytes = std::fs::metadata(&args[3]).map(|m| m.len()).unwrap_or(0);
            println!(
                "{{\"build_s\": {build_s:.3}, \"write_s\": {write_s:.3}, \"entries\": {}, \"memory_bytes\": {}, \"file_bytes\": {file_bytes}, \"dir_bits\": {}, \"layout\": \"{:?}\"}}",
                index.len(),
                index.memory_bytes(),
                index.dir_bits().unwrap_or(0),
                index.layout()
            );
        }
        Some("query") => {
            let radius: u32 = args.get(5).map_or(31, |r| r.parse().expect("radius"));
            let queries = read_raw(&args[3]);
            let t = Instant::now();
            let f = std::fs::File::open(&args[2]).expect("open index file");
            let index =
                PdqIndex::read_from(BufReader::with_capacity(1 << 20, f)).expect("load index");
            let load_s = t.elapsed().as_secs_f64();
            let t = Instant::now();
            let results: Vec<_> = queries.iter().map(|q| index.search(q, radius)).collect();
            let query_s = t.elapsed().as_secs_f64();
            let mut out = BufWriter::new(std::fs::File::create(&args[4]).expect("create out"));
            let mut matches = 0;
            for r in &results {
                let mut ids: Vec<u32> = r.iter().map(|m| m.entry.0).collect();
                ids.sort_unstable();
                matches += ids.len();
                let line: Vec<String> = ids.iter().map(|i| i.to_string()).collect();
                writeln!(out, "{}", line.join(" ")).unwrap();
            }
            out.flush().unwrap();
            println!(
                "{{\"load_s\": {load_s:.3}, \"query_s\": {query_s:.4}, \"qps\": {:.1}, \"matches\": {matches}, \"vm_hwm_kb\": {}, \"vm_rss_kb\": {}, \"simd\": \"{}\", \"strategy\": \"{:?}\"}}",
                queries.len() as f64 / query_s,
                status_kb("VmHWM:"),
                status_kb("VmRSS:"),
                index.simd_level().name(),
                index.planned_strategy(radius)
            );
        }
        _ => {
            eprintln!("usage: index_bench build BANK.bin INDEX.cidx | query INDEX.cidx QUERIES.bin OUT.txt [RADIUS]");
            std::process::exit(2);
        }
    }
}
