#!/usr/bin/env bash
# The soak: `candor serve` with a 1,000,000-hash bank under mixed load (lookups, scans of a real
# JPEG, bank writes, review decisions, log reads) for 30 minutes, sampling RSS, open file
# descriptors, p99 latency and errors every 10 s into CSV and an SVG plot (bench/soak/soak.py).
# Fails when anything errs or memory keeps growing after the 5-minute warm-up (> 5 %).
#
# Usage: bench/soak/run.sh [SECONDS=1800] [HASHES=1000000]
# Env:   CARGO_TARGET_DIR (default target), PROFILE (dev|release, default dev: the profile the
#        tests build; its dependencies and the signal/index/log crates are optimised anyway),
#        OUT (default $TARGET/soak)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
target="${CARGO_TARGET_DIR:-$root/target}"
profile="${PROFILE:-dev}"
secs="${1:-1800}"
hashes="${2:-1000000}"
out="${OUT:-$target/soak}"
dir=debug
flag=()
if [ "$profile" = release ]; then dir=release; flag=(--release); fi
(cd "$root" && CARGO_TARGET_DIR="$target" cargo build "${flag[@]}" -p candor)
rm -rf "$out"
python3 "$here/soak.py" --candor "$target/$dir/candor" \
  --image "$root/testdata/pdq/images/reference/bridge-mods/aaa-orig.jpg" \
  --seconds "$secs" --hashes "$hashes" --warmup 300 --sample 10 --out "$out"
