#!/bin/sh
# Run one parser target for a number of executions (default 1,000,000) on its corpus and print
# libFuzzer's final statistics. Usage (from anywhere): fuzz/run_target.sh TARGET [RUNS]
# Seed the corpora first: (cd fuzz && cargo run --release --example seeds -- corpus)
# With FUZZ_BIN_DIR set (e.g. $CARGO_TARGET_DIR/x86_64-unknown-linux-gnu/release), runs the binary
# `cargo fuzz build -s none -a` already built there instead of `cargo fuzz run` (no rebuild check,
# so a build of other targets can go on meanwhile).
set -eu
t=$1
runs=${2:-1000000}
cd "$(dirname "$0")"
mkdir -p "corpus/$t" "artifacts/$t"
features=""
case "$t" in import_line|multipart) features="--features server" ;; esac
start=$(date +%s)
if [ -n "${FUZZ_BIN_DIR:-}" ]; then
    "$FUZZ_BIN_DIR/$t" -artifact_prefix="artifacts/$t/" -runs="$runs" -rss_limit_mb=2048 \
        -print_final_stats=1 "corpus/$t"
else
    # shellcheck disable=SC2086
    RUSTC_BOOTSTRAP=1 cargo fuzz run -s none -a $features "$t" "corpus/$t" -- \
        -runs="$runs" -rss_limit_mb=2048 -print_final_stats=1
fi
end=$(date +%s)
echo "target $t: $runs runs, wall $((end - start)) s, corpus $(ls "corpus/$t" | wc -l) files"
