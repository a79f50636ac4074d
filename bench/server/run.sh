#!/usr/bin/env bash
# Load benchmark of `candor serve`: 1,000,000 PDQ hashes in a bank, then
#   (1) wrk GET /v1/lookup?pdq=<needle> (platform token), -t2 -c32 -d20s --latency, then the same
#       through HMA's GET /m/lookup?signal_type=pdq&signal=<needle>;
#   (2) POST /v1/scan multipart with a real JPEG from 4 connections (scan_load.py), against
#       `candor hash` decoding the same JPEG alone.
# Server and wrk run on the same machine and share its cores.
#
# Usage: bench/server/run.sh            (from the repository root or anywhere)
# Env:   CANDOR_BENCH_DATA  data dir (default $TARGET/bench-server-data; wiped first)
#        CARGO_TARGET_DIR   (default target)   LOOKUP_SECONDS (20)   SCAN_SECONDS (15)
#        SKIP_IMPORT=1      reuse an existing data dir that already holds the bank
#        WRK_CONNS          wrk connections for the lookups (32)
#        PERF=1             record `perf record -g` of the server during the lookup run
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
pdq="$root/testdata/pdq"
target="${CARGO_TARGET_DIR:-$root/target}"
data="${CANDOR_BENCH_DATA:-$target/bench-server-data}"
lookup_secs="${LOOKUP_SECONDS:-20}"
wrk_conns="${WRK_CONNS:-32}"
scan_secs="${SCAN_SECONDS:-15}"
image="${IMAGE:-$pdq/images/reference/bridge-mods/aaa-orig.jpg}"
needles="$pdq/needles.txt"
haystack="$pdq/haystack.txt"

command -v wrk >/dev/null || { apt-get install -y wrk || { apt-get update && apt-get install -y wrk; }; }

(cd "$root" && CARGO_TARGET_DIR="$target" cargo build --release -p candor)
candor="$target/release/candor"

echo "== machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "== $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo '?') $(date -u +%FT%TZ)"

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
base="http://127.0.0.1:$port"
work="$(mktemp -d)"
server_pid=
cleanup() { [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

if [ -z "${SKIP_IMPORT:-}" ]; then rm -rf "$data"; fi
mkdir -p "$data"
tok() { "$candor" token create --data "$data" --role "$1" 2>/dev/null; }
curator=$(tok curator)
platform=$(tok platform)

CANDOR_LOG=warn "$candor" serve --data "$data" --listen "127.0.0.1:$port" &
server_pid=$!
for _ in $(seq 200); do curl -sf "$base/healthz" >/dev/null && break; sleep 0.1; done
curl -sf "$base/healthz" >/dev/null || { echo "server did not start"; exit 1; }

if [ -z "${SKIP_IMPORT:-}" ]; then
  curl -sf -X POST "$base/v1/banks" -H "Authorization: Bearer $curator" -H 'Content-Type: application/json' \
    -d '{"name":"bench","category":"STATEMENT_CATEGORY_RISK_FOR_PUBLIC_SECURITY"}' >/dev/null
  # 1,000,000 hashes: the haystack, then deterministic pseudo-random ones; 5 files of 200k lines.
  python3 - "$haystack" "$work" <<'PY'
import random, sys
hay = [l.strip() for l in open(sys.argv[1]) if len(l.strip()) == 64]
rng = random.Random(20261123)
lines = hay + ["%064x" % rng.getrandbits(256) for _ in range(1_000_000 - len(hay))]
for i in range(5):
    with open(f"{sys.argv[2]}/import-{i}.txt", "w") as f:
        f.write("\n".join(lines[i * 200_000:(i + 1) * 200_000]) + "\n")
PY
  t0=$(date +%s.%N)
  for i in 0 1 2 3 4; do
    curl -sf -X POST "$base/v1/banks/bench/import" -H "Authorization: Bearer $curator" \
      -H 'Content-Type: text/plain' --data-binary "@$work/import-$i.txt" >/dev/null
  done
  t1=$(date +%s.%N)
  echo "== import: 1,000,000 hashes (5 x 200k lines) in $(python3 -c "print(f'{$t1-$t0:.1f}')") s ($(python3 -c "print(f'{1e6/($t1-$t0):,.0f}')") lines/s, each line a bank content and a log entry)"
fi
echo "== log size: $(curl -sf "$base/log/checkpoint" | sed -n 2p); server RSS: $(($(awk '/VmRSS/{print $2}' /proc/$server_pid/status)/1024)) MiB; db: $(du -sh "$data" | cut -f1)"

# Sanity: one lookup answers with a match on a haystack hash.
h0=$(head -1 "$haystack")
curl -sf "$base/v1/lookup?pdq=$h0" -H "Authorization: Bearer $platform" | head -c 300; echo

# Warm up, then the lookup run.
CANDOR_TOKEN=$platform NEEDLES=$needles wrk -t2 -c"$wrk_conns" -d3s -s "$here/lookup.lua" "$base" >/dev/null
perf_pid=
if [ -n "${PERF:-}" ]; then
  perf record -F 999 -g -p "$server_pid" -o "$work/perf.data" -- sleep "$lookup_secs" >/dev/null 2>&1 &
  perf_pid=$!
fi
echo "== lookup: wrk -t2 -c${wrk_conns} -d${lookup_secs}s --latency (GET /v1/lookup?pdq=<needle>, 100 needles, 1M banked)"
CANDOR_TOKEN=$platform NEEDLES=$needles wrk -t2 -c"$wrk_conns" -d"${lookup_secs}s" --latency -s "$here/lookup.lua" "$base"
if [ -n "$perf_pid" ]; then
  wait "$perf_pid" || true
  perf report -i "$work/perf.data" --no-children --percent-limit 1.5 --stdio 2>/dev/null | grep -v '^$' | head -80
fi

echo "== HMA lookup: wrk -t2 -c${wrk_conns} -d${lookup_secs}s --latency (GET /m/lookup?signal_type=pdq&signal=<needle>, same needles and bank)"
curl -sf "$base/m/lookup?signal_type=pdq&signal=$h0" -H "Authorization: Bearer $platform" | head -c 300; echo
ROUTE=hma CANDOR_TOKEN=$platform NEEDLES=$needles wrk -t2 -c"$wrk_conns" -d3s -s "$here/lookup.lua" "$base" >/dev/null
ROUTE=hma CANDOR_TOKEN=$platform NEEDLES=$needles wrk -t2 -c"$wrk_conns" -d"${lookup_secs}s" --latency -s "$here/lookup.lua" "$base"

echo "== scan upload: $here/scan_load.py, 4 connections, ${scan_secs}s (POST /v1/scan multipart, $(basename "$image"), $(stat -c %s "$image") bytes)"
python3 "$here/scan_load.py" "$base" "$platform" "$image" 4 "$scan_secs"

kill "$server_pid"; wait "$server_pid" 2>/dev/null || true; server_pid=

echo "== decode alone: candor hash --dihedral on 200 copies of the same JPEG (no server)"
mkdir -p "$work/copies"
for i in $(seq 200); do cp "$image" "$work/copies/$i.jpg"; done
for j in 2 1; do
  t0=$(date +%s.%N)
  "$candor" hash --dihedral -j "$j" "$work/copies" >/dev/null
  t1=$(date +%s.%N)
  echo "RESULT decode -j$j: $(python3 -c "print(f'{200/($t1-$t0):.1f}')") images/s"
done
