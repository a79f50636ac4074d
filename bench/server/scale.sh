#!/usr/bin/env bash
# Scale benchmark of `candor serve` (issue 19, "start in seconds at 10M"): HASHES PDQ hashes
# (default 10,000,000: the 1,350 haystack hashes of testdata/pdq, then deterministic random
# ones) imported through `POST /v1/banks/{bank}/import` in bodies of BODY_LINES lines into a
# fresh data directory, then:
#   import    hashes/s over all bodies (and the slowest body), server peak RSS;
#   stop      graceful stop (writes the matcher snapshot), snapshot size;
#   restart   process start to the first 200 from /readyz, RSS (VmRSS) and peak (VmHWM) once
#             ready, RESTARTS times;
#   (for each of LAYOUTS, default "auto": index_layout, see config.rs)
#   lookup    wrk GET /v1/lookup?pdq=<needle> (bench/server/lookup.lua, 100 near-duplicate
#             needles of haystack hashes, radius 31), -t WRK_THREADS -c WRK_CONNS for
#             LOOKUP_SECONDS, after a 3 s warm-up;
# With ANCHOR=<binary>, that binary's import rate is measured first on the same list, in the
# same run, into its own data directory (HMA does not install here: the import anchor is the
# previous main). Server, wrk and curl share the machine's cores.
#
# Usage: bench/server/scale.sh
# Env:   CARGO_TARGET_DIR (target)  HASHES (10000000)  BODY_LINES (200000)  RESTARTS (2)
#        LOOKUP_SECONDS (20)  WRK_THREADS (1)  WRK_CONNS (32)  ANCHOR (unset)
#        LAYOUTS ("auto"; e.g. "auto split")
#        SKIP_BUILD=1 (use $TARGET/release/candor)  SKIP_IMPORT=1 (reuse the data dir)
#        CANDOR_BIN=<binary> (measure that binary instead of $TARGET/release/candor; implies
#                          SKIP_BUILD)
#        CANDOR_BENCH_DATA data dir (default $TARGET/bench-scale-data; wiped first unless
#                          SKIP_IMPORT=1)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
pdq="$root/testdata/pdq"
target="${CARGO_TARGET_DIR:-$root/target}"
data="${CANDOR_BENCH_DATA:-$target/bench-scale-data}"
hashes="${HASHES:-10000000}"
body_lines="${BODY_LINES:-200000}"
restarts="${RESTARTS:-2}"
lookup_secs="${LOOKUP_SECONDS:-20}"
wrk_threads="${WRK_THREADS:-1}"
wrk_conns="${WRK_CONNS:-32}"

command -v wrk >/dev/null || { apt-get install -y wrk || { apt-get update && apt-get install -y wrk; }; }
if [ -z "${SKIP_BUILD:-}" ] && [ -z "${CANDOR_BIN:-}" ]; then
  (cd "$root" && CARGO_TARGET_DIR="$target" cargo build --release -p candor)
fi
candor="${CANDOR_BIN:-$target/release/candor}"

echo "== machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(awk '/MemTotal/{printf "%.0f GiB", $2/1048576}' /proc/meminfo), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "== $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo '?') $(date -u +%FT%TZ), $hashes hashes in bodies of $body_lines lines"

work="$(mktemp -d)"
server_pid=
cleanup() { [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

[ -n "${SKIP_IMPORT:-}" ] || python3 - "$pdq/haystack.txt" "$hashes" "$body_lines" "$work" <<'PY'
import random, sys
hay = [l.strip() for l in open(sys.argv[1]) if len(l.strip()) == 64]
n, per, out = int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
rng = random.Random(20261201)
done, body = 0, 0
while done < n:
    k = min(per, n - done)
    with open(f"{out}/body-{body:04d}", "w") as f:
        for i in range(done, done + k):
            f.write((hay[i] if i < len(hay) else "%064x" % rng.getrandbits(256)) + "\n")
    done += k
    body += 1
PY

port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
mem() { awk -v k="$2" '$1==k":"{printf "%d", $2/1024}' "/proc/$1/status"; }
now() { date +%s.%N; }
secs() { python3 -c "print(f'{$2-$1:.3f}')"; }

# start BINARY DATA PORT: start a server (server_pid), wait for /readyz; seconds to ready in
# $ready. (Not in a command substitution: that would wait for the server's stdout.)
start() {
  local t0 t1
  t0=$(now)
  CANDOR_LOG=warn "$1" serve --data "$2" --listen "127.0.0.1:$3" &
  server_pid=$!
  until curl -sf "http://127.0.0.1:$3/readyz" >/dev/null 2>&1; do
    kill -0 "$server_pid" 2>/dev/null || { echo "server exited" >&2; exit 1; }
    sleep 0.005
  done
  t1=$(now)
  ready=$(secs "$t0" "$t1")
}
stop() { kill "$server_pid"; wait "$server_pid" 2>/dev/null || true; server_pid=; }

# import LABEL BINARY DATA: the whole list, one body after the other.
import_all() {
  local label=$1 bin=$2 dir=$3 p base curator t0 t1 b s e slow=0 slowest=
  rm -rf "$dir"; mkdir -p "$dir"
  curator=$("$bin" token create --data "$dir" --role curator 2>/dev/null)
  p=$(port); base="http://127.0.0.1:$p"
  start "$bin" "$dir" "$p"
  curl -sf -X POST "$base/v1/banks" -H "Authorization: Bearer $curator" -H 'Content-Type: application/json' \
    -d '{"name":"bench","category":"STATEMENT_CATEGORY_RISK_FOR_PUBLIC_SECURITY"}' >/dev/null
  t0=$(now)
  for b in "$work"/body-*; do
    s=$(now)
    curl -sf -X POST "$base/v1/banks/bench/import" -H "Authorization: Bearer $curator" \
      -H 'Content-Type: text/plain' --data-binary "@$b" >/dev/null
    e=$(now)
    if python3 -c "import sys; sys.exit(0 if $e-$s > $slow else 1)"; then slow=$(secs "$s" "$e"); slowest=$(basename "$b"); fi
  done
  t1=$(now)
  local count
  count=$(curl -sf "$base/v1/banks/bench" -H "Authorization: Bearer $curator" | python3 -c 'import json,sys; print(json.load(sys.stdin)["content_count"])')
  echo "== import $label: $hashes hashes in $(secs "$t0" "$t1") s = $(python3 -c "print(f'{$hashes/($t1-$t0):,.0f}')") hashes/s; slowest body $slowest $slow s; bank content $count; server RSS $(mem "$server_pid" VmRSS) MiB, peak $(mem "$server_pid" VmHWM) MiB"
  [ "$count" = "$hashes" ] || { echo "not every hash was imported"; exit 1; }
}

if [ -z "${SKIP_IMPORT:-}" ]; then
  if [ -n "${ANCHOR:-}" ]; then
    import_all "anchor ($ANCHOR)" "$ANCHOR" "$data-anchor"
    stop
    rm -rf "$data-anchor"
  fi
  import_all "this tree" "$candor" "$data"
  t0=$(now); stop; t1=$(now)
  echo "== graceful stop (writes the snapshot): $(secs "$t0" "$t1") s; snapshot $(du -m "$data/snapshot/matcher.snap" | cut -f1) MiB; data dir $(du -sm "$data" | cut -f1) MiB"
fi

platform=$("$candor" token create --data "$data" --role platform 2>/dev/null)
h0=$(head -1 "$pdq/haystack.txt")
lookup() {
  CANDOR_TOKEN=$platform NEEDLES="$pdq/needles.txt" wrk -t"$wrk_threads" -c"$wrk_conns" -d3s -s "$here/lookup.lua" "$base" >/dev/null
  local t0 c0 c1 t1
  t0=$(now); c0=$(awk '{print $14+$15}' "/proc/$server_pid/stat")
  CANDOR_TOKEN=$platform NEEDLES="$pdq/needles.txt" wrk -t"$wrk_threads" -c"$wrk_conns" -d"${lookup_secs}s" --latency -s "$here/lookup.lua" "$base" | grep RESULT
  t1=$(now); c1=$(awk '{print $14+$15}' "/proc/$server_pid/stat")
  echo "   server CPU $(python3 -c "print(f'{($c1-$c0)/100/($t1-$t0):.2f}')") cores over the run (wrk and others use the rest); load $(cut -d' ' -f1-3 /proc/loadavg); RSS $(mem "$server_pid" VmRSS) MiB"
}
readyz() {
  curl -sf "$base/readyz" | python3 -c '
import json, sys
b = json.load(sys.stdin); i = b.get("index", {})
print("source %s, replayed %s, relayout %s, load %s ms, %s signals" % (i.get("source"),
      i.get("entries_replayed"), i.get("relayout", False), i.get("millis"), b.get("indexed_signals")))'
}
p=$(port); base="http://127.0.0.1:$p"
# Each layout (index_layout): a first start (which rebuilds the tables once when the snapshot
# holds another layout, and writes a new snapshot), then the measured restarts and lookups.
for layout in ${LAYOUTS:-auto}; do
  export CANDOR_INDEX_LAYOUT=$layout
  start "$candor" "$data" "$p"
  echo "== layout $layout, first start: /readyz after $ready s; $(readyz)"
  sleep 1; stop
  for i in $(seq "$restarts"); do
    start "$candor" "$data" "$p"
    echo "== layout $layout, restart $i: /readyz after $ready s; RSS $(mem "$server_pid" VmRSS) MiB (anonymous $(mem "$server_pid" RssAnon), file $(mem "$server_pid" RssFile)), peak $(mem "$server_pid" VmHWM) MiB; load $(cut -d' ' -f1 /proc/loadavg); $(readyz)"
    [ "$i" = "$restarts" ] || stop
  done
  curl -sf "$base/v1/lookup?pdq=$h0" -H "Authorization: Bearer $platform" | head -c 160; echo
  echo "== layout $layout, lookup: wrk -t$wrk_threads -c$wrk_conns -d${lookup_secs}s over $hashes hashes"
  lookup
  stop
done
