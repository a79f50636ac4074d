#!/usr/bin/env bash
# vPDQ hashing speed (issue 15): Candor's `hash_video` against PyPI vpdq on the same 1-minute
# 720p H.264 clip, in the same run, interleaved, best of ROUNDS; one thread, then all cores.
# Also checks that both give the same hashes. Needs ffmpeg, the FFmpeg -dev packages (README,
# "Video (vPDQ)") and a Python with vpdq installed (PYTHON=/path/to/python; `pip install vpdq`).
#
#   bench/video/run.sh [ROUNDS]        # default 3
set -euo pipefail
cd "$(dirname "$0")/../.."
ROUNDS=${1:-3}
PY=${PYTHON:-python3}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
CLIP=$WORK/clip-720p-60s.mp4
# Moving test pattern with temporal grain, so the bitrate (≈ 5 Mb/s) is that of camera footage.
ffmpeg -hide_banner -loglevel error -f lavfi -i testsrc2=size=1280x720:rate=30:duration=60 \
  -vf noise=alls=12:allf=t+u -c:v libx264 -preset veryfast -crf 23 -pix_fmt yuv420p "$CLIP"
echo "clip: $(du -k "$CLIP" | cut -f1) KiB, 1280x720, 30 fps, 60 s, H.264 (libx264)"
cargo build -q --release -p candor-signal --features video --example vpdq_hash
BIN=${CARGO_TARGET_DIR:-target}/release/examples/vpdq_hash

ours() { # threads → seconds
  "$BIN" --decoder-threads "$1" "$CLIP" 2>&1 >"$WORK/ours.txt" | sed -E 's/.* in ([0-9.]+) s.*/\1/'
}
theirs() { # threads → seconds
  "$PY" - "$CLIP" "$1" "$WORK/theirs.txt" <<'PYEOF'
import sys, time, vpdq
clip, threads, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
t = time.perf_counter()
h = vpdq.computeHash(clip, thread_count=threads)
dt = time.perf_counter() - t
with open(out, "w") as f:
    for x in h:
        f.write(f"{x.frame_number},{x.quality},{x.hex},{x.timestamp:.3f}\n")
print(f"{dt:.3f}")
PYEOF
}
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
for mode in "1 thread:1:1" "all cores:0:0"; do
  IFS=: read -r name ot tt <<<"$mode"
  best_ours=999999; best_theirs=999999
  for _ in $(seq "$ROUNDS"); do
    o=$(ours "$ot"); t=$(theirs "$tt")
    best_ours=$(python3 -c "print(min($best_ours, $o))")
    best_theirs=$(python3 -c "print(min($best_theirs, $t))")
    cmp -s "$WORK/ours.txt" "$WORK/theirs.txt" || { echo "hashes differ" >&2; diff "$WORK/ours.txt" "$WORK/theirs.txt" | head >&2; exit 1; }
  done
  echo "$name: candor ${best_ours} s, PyPI vpdq ${best_theirs} s (best of $ROUNDS; $(wc -l <"$WORK/ours.txt") frames hashed, identical)"
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
