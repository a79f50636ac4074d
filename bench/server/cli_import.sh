#!/usr/bin/env bash
# `candor import` at list scale (issue 11: "streams: a 10M-record file in bounded memory"): a
# generated list of N random PDQ hashes (FORMAT=lines: `pdq <hex>` lines; FORMAT=hma-csv:
# HMA/ThreatExchange CSV with its header) imported by `candor import` into a bank of a fresh
# data directory. Reports records/s over the whole command (the check pass, the write and its
# commit), its CPU time and its peak resident memory (`/usr/bin/time -v`, "Maximum resident set
# size"), and checks that every record was added.
#
# The binaries are given, never built here: CANDOR_BIN (this tree's), and ANCHOR_BIN (another
# build, measured first on the same file in the same run). Each run gets its own data
# directory (a bank created through a short-lived `candor serve`), removed afterwards.
#
# With PG=1 the store is a throwaway PostgreSQL (bench/server/pg.sh), a database per run.
#
# Usage: CANDOR_BIN=target/release/candor bench/server/cli_import.sh
# Env:   CANDOR_BIN (required)  ANCHOR_BIN (unset)  N (10000000)  FORMAT (lines | hma-csv)
#        WORK_DIR (where the list and the data dirs go; default a temp dir; the 10M list is
#        ~690 MB as lines, ~920 MB as CSV, the data directory several GB)  PG=1
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
n="${N:-10000000}"
format="${FORMAT:-lines}"
candor="${CANDOR_BIN:?CANDOR_BIN=path/to/candor is required}"
anchor="${ANCHOR_BIN:-}"
case "$format" in lines | hma-csv) ;; *) echo "FORMAT is lines or hma-csv" >&2; exit 2 ;; esac
[ -x /usr/bin/time ] || { echo "needs /usr/bin/time (Debian: time)" >&2; exit 2; }

echo "== machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(awk '/MemTotal/{printf "%.0f GiB", $2/1048576}' /proc/meminfo), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "== $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo '?') $(date -u +%FT%TZ), $n records, format $format"

# shellcheck source=workdir.sh
. "$here/workdir.sh"

# The list: deterministic pseudo-random PDQ hashes.
list="$work/list.$format"
python3 - "$n" "$format" "$list" <<'PY'
import random, sys
n, fmt, path = int(sys.argv[1]), sys.argv[2], sys.argv[3]
rng = random.Random(20261202)
with open(path, "w", buffering=1 << 20) as f:
    if fmt == "hma-csv":
        f.write("signal_type,signal_str,collab,category,tags\n")
        line = "pdq,%064x,bench,POSITIVE_CLASS,\n"
    else:
        line = "pdq %064x\n"
    for _ in range(n):
        f.write(line % rng.getrandbits(256))
PY
echo "== list: $(du -h "$list" | cut -f1)"

# run LABEL BINARY
run() {
  local label=$1 bin=$2
  local data="$work/data-$label" base curator db
  # The bank, through a short-lived service.
  serve_with_bank "$bin" "$data" "cli_import_$label"
  kill "$server_pid"; wait "$server_pid" 2>/dev/null || true; server_pid=
  local t0 t1 out="$work/out-$label" tv="$work/time-$label"
  t0=$(date +%s.%N)
  CANDOR_LOG=warn /usr/bin/time -v -o "$tv" "$bin" import --quiet --format "$format" --bank list \
    --data "$data" "${db[@]}" "$list" >"$out" 2>"$out.err" || { cat "$out.err" "$tv" >&2; exit 1; }
  t1=$(date +%s.%N)
  python3 - "$label" "$n" "$t0" "$t1" "$out" "$tv" "$(du -sh "$data" | cut -f1)" <<'PY'
import json, sys
label, n, t0, t1, out, tv, size = sys.argv[1:]
n, dt = int(n), float(t1) - float(t0)
r = json.loads(open(out).read().strip().splitlines()[-1])
t = {l.split(":")[0].strip(): l.rsplit(":", 1)[1].strip() for l in open(tv) if ":" in l}
hwm = int(t["Maximum resident set size (kbytes)"])
cpu = float(t["User time (seconds)"]) + float(t["System time (seconds)"])
print(f"== {label}: {n:,} records in {dt:.1f} s, {n/dt:,.0f} records/s, {cpu:.1f} s CPU; peak RSS {hwm/1024:,.0f} MiB; "
      f"added {r['added']:,}, log {r['first_log_index']}..{r['last_log_index']}; data dir {size}")
assert r["added"] == n, "not every record was added"
PY
  rm -rf "$data"
}

if [ -n "$anchor" ]; then
  run anchor "$anchor"
fi
run this-tree "$candor"
