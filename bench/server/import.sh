#!/usr/bin/env bash
# Import benchmark of `candor serve` (issue 19, "import at list scale"): 1,000,000 random PDQ
# hashes imported through `POST /v1/banks/{bank}/import` into a fresh data directory, in bodies
# of BODY_LINES lines (curl --data-binary, one after the other); hashes/s over the imports and
# the server's peak resident memory (VmHWM) at the end. Each import is one atomic write: every
# hash a bank content with a salted signal and its own log entry, matching on return.
#
# With ANCHOR_REV=<git revision>, that revision is built too (from `git archive`, same
# CARGO_TARGET_DIR) and measured first on the same machine in the same run, with
# ANCHOR_BODY_LINES lines per body (default 200,000: older builds buffer the body under
# max_body_bytes = 32 MiB).
#
# With PG=1 the store is a throwaway PostgreSQL (bench/server/pg.sh: initdb into a temp dir,
# loopback only), a fresh database for each run.
#
# Usage: bench/server/import.sh
# Env:   CARGO_TARGET_DIR (default target)  HASHES (1000000)  BODY_LINES (1000000)
#        ANCHOR_REV (unset)  ANCHOR_BODY_LINES (200000)  SKIP_BUILD=1 (use the built binaries)
#        ANCHOR_BIN (an anchor binary already built, instead of ANCHOR_REV)  PG=1
#        WORK_DIR (where the list and the data dirs go; default a temp dir)
#        PROBE=1 (a probe lookup every 10 ms during the imports, each timed: p50 / p99 / max
#        and those over 100 ms, i.e. how long lookups wait for the imports' index builds)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
target="${CARGO_TARGET_DIR:-$root/target}"
hashes="${HASHES:-1000000}"
body_lines="${BODY_LINES:-1000000}"
anchor_lines="${ANCHOR_BODY_LINES:-200000}"

if [ -z "${SKIP_BUILD:-}" ]; then
  (cd "$root" && CARGO_TARGET_DIR="$target" cargo build --release -p candor)
fi
# A copy: building the anchor replaces target/release/candor.
mkdir -p "$target/import-this"
if [ -z "${SKIP_BUILD:-}" ] || [ ! -x "$target/import-this/candor" ]; then
  cp "$target/release/candor" "$target/import-this/candor"
fi
candor="$target/import-this/candor"
anchor="${ANCHOR_BIN:-}"
if [ -n "$anchor" ]; then
  ANCHOR_REV="${ANCHOR_REV:-$(basename "$(dirname "$anchor")")}"
elif [ -n "${ANCHOR_REV:-}" ]; then
  src="$target/import-anchor-src"
  anchor="$target/import-anchor/candor"
  if [ -z "${SKIP_BUILD:-}" ] || [ ! -x "$anchor" ]; then
    rm -rf "$src" && mkdir -p "$src" "$(dirname "$anchor")"
    git -C "$root" archive "$ANCHOR_REV" | tar -x -C "$src"
    (cd "$src" && CARGO_TARGET_DIR="$target" cargo build --release -p candor)
    cp "$target/release/candor" "$anchor"
    # The anchor's build records its own source paths for the workspace crates (same names,
    # same relative paths): without this, the next build of this tree would see them fresh
    # and keep the anchor's binary.
    rm -rf "$target"/release/.fingerprint/candor*
  fi
fi

echo "== machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(awk '/MemTotal/{printf "%.0f GiB", $2/1048576}' /proc/meminfo), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "== $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo '?') $(date -u +%FT%TZ)"

# shellcheck source=workdir.sh
. "$here/workdir.sh"

# The list: deterministic pseudo-random PDQ hashes, one per line.
python3 - "$hashes" "$work/list.txt" <<'PY'
import random, sys
n = int(sys.argv[1])
rng = random.Random(20261201)
with open(sys.argv[2], "w") as f:
    for _ in range(n):
        f.write("%064x\n" % rng.getrandbits(256))
PY

# run LABEL BINARY LINES_PER_BODY
run() {
  local label=$1 bin=$2 lines=$3
  local data="$work/data-$label" base curator db
  rm -rf "$work"/body-*
  split -l "$lines" -d -a 3 "$work/list.txt" "$work/body-"
  serve_with_bank "$bin" "$data" "import_$label"
  local rss0 t0 t1 n=0
  rss0=$(awk '/VmRSS/{print $2}' "/proc/$server_pid/status")
  local probe_pid=
  if [ -n "${PROBE:-}" ]; then
    local platform
    platform=$("$bin" token create --data "$data" "${db[@]}" --role platform 2>/dev/null)
    rm -f "$work/probe-stop"
    python3 - "$base" "$platform" "$(head -1 "$work/list.txt")" "$work/probe-stop" <<'PY' &
import http.client, os, sys, time
base, token, needle, stop = sys.argv[1:]
host, port = base.split("//")[1].split(":")
c = http.client.HTTPConnection(host, int(port), timeout=300)
xs = []
while not os.path.exists(stop):
    t0 = time.monotonic()
    c.request("GET", "/v1/lookup?pdq=" + needle, headers={"Authorization": "Bearer " + token})
    r = c.getresponse(); r.read()
    assert r.status == 200, r.status
    xs.append(time.monotonic() - t0)
    time.sleep(0.01)
xs.sort()
q = lambda p: xs[min(len(xs) - 1, int(p * len(xs)))] * 1000
slow = [x for x in xs if x > 0.1]
print(f"== probe lookups during the imports: {len(xs)}, p50 {q(.5):.1f} ms, p99 {q(.99):.1f} ms, "
      f"max {q(1.0):.1f} ms; over 100 ms: {len(slow)} ({sum(slow):.2f} s)")
PY
    probe_pid=$!
  fi
  t0=$(date +%s.%N)
  for b in "$work"/body-*; do
    curl -sf -X POST "$base/v1/banks/list/import" -H "Authorization: Bearer $curator" \
      -H 'Content-Type: text/plain' --data-binary "@$b" >/dev/null
    n=$((n + 1))
  done
  t1=$(date +%s.%N)
  if [ -n "$probe_pid" ]; then
    touch "$work/probe-stop"
    wait "$probe_pid" || true
  fi
  local hwm size count cpu
  hwm=$(awk '/VmHWM/{print $2}' "/proc/$server_pid/status")
  # The server's CPU seconds (user + system, all threads) over its life: the work an import
  # costs, less sensitive than the wall time to what else the machine runs.
  cpu=$(awk -v hz="$(getconf CLK_TCK)" '{printf "%.1f", ($14 + $15) / hz}' "/proc/$server_pid/stat")
  size=$(curl -sf "$base/log/checkpoint" | sed -n 2p)
  count=$(curl -sf "$base/v1/banks/list" -H "Authorization: Bearer $curator" | python3 -c 'import json,sys; print(json.load(sys.stdin)["content_count"])')
  kill "$server_pid"; wait "$server_pid" 2>/dev/null || true; server_pid=
  python3 - "$label" "$hashes" "$lines" "$n" "$t0" "$t1" "$rss0" "$hwm" "$size" "$count" "$cpu" <<'PY'
import sys
label, hashes, lines, n, t0, t1, rss0, hwm, size, count, cpu = sys.argv[1:]
dt = float(t1) - float(t0)
print(f"== {label}: {int(hashes):,} hashes in {n} bodies of {int(lines):,} lines: {dt:.1f} s, "
      f"{int(hashes)/dt:,.0f} hashes/s; server CPU {cpu} s; server RSS {int(rss0)//1024} MiB before, peak {int(hwm)//1024} MiB; "
      f"log size {int(size):,}, bank content {int(count):,}")
assert int(count) == int(hashes), "not every hash was imported"
PY
  rm -rf "$data"
}

if [ -n "$anchor" ]; then
  run "anchor-$ANCHOR_REV" "$anchor" "$anchor_lines"
fi
run "this-tree" "$candor" "$body_lines"
if [ "$body_lines" != "$anchor_lines" ]; then
  run "this-tree" "$candor" "$anchor_lines"
fi
