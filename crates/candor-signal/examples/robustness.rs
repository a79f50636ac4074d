//! Prints the robustness table for BENCHMARKS.md: `cargo run --release -p candor-signal --example robustness [IMAGES]`.
#[path = "../tests/common/robustness.rs"]
mod robustness;

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(200);
    print!("{}", robustness::run(n, 640, 480).markdown());
}
