#!/usr/bin/env bash
# Lookups and bank changes while snapshots are written (issue 19): on an existing data
# directory (e.g. the one bench/server/scale.sh leaves, bank `bench`), start `candor serve`
# with `snapshot_interval_secs = INTERVAL`, then for SECONDS run at once
#   - wrk GET /v1/lookup (bench/server/lookup.lua, -t1 -c WRK_CONNS): load;
#   - a probe lookup every 10 ms, each timed (the stall a lookup sees);
#   - a bank change every 0.5 s (one new PDQ hash added to bank `bench`), each timed: the log
#     grows, so every interval a snapshot is written, and changes arrive while it is written.
# Reports the snapshots written (from the server's log), the probe lookups' and the changes'
# p50 / p99 / max, the probe lookups slower than 100 ms, and wrk's summary.
#
# Usage: CANDOR_BIN=path/to/candor DATA=dir bench/server/snapshot_stall.sh
# Env:   CANDOR_BIN (target/release/candor)  DATA (required)  SECONDS_RUN (60)  INTERVAL (15)
#        WRK_CONNS (8)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
pdq="$root/testdata/pdq"
candor="${CANDOR_BIN:-${CARGO_TARGET_DIR:-$root/target}/release/candor}"
data="${DATA:?DATA=data dir}"
secs="${SECONDS_RUN:-60}"
interval="${INTERVAL:-15}"
conns="${WRK_CONNS:-8}"
command -v wrk >/dev/null || { apt-get install -y wrk || { apt-get update && apt-get install -y wrk; }; }

echo "== machine: $(nproc) cores, $(awk '/MemTotal/{printf "%.0f GiB", $2/1048576}' /proc/meminfo), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "== $candor on $data, $(date -u +%FT%TZ), ${secs}s, snapshot every ${interval}s"
platform=$("$candor" token create --data "$data" --role platform 2>/dev/null)
curator=$("$candor" token create --data "$data" --role curator 2>/dev/null)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
base="http://127.0.0.1:$port"
log="$(mktemp)"
CANDOR_LOG=info CANDOR_SNAPSHOT_INTERVAL_SECS="$interval" "$candor" serve --data "$data" --listen "127.0.0.1:$port" 2>"$log" >/dev/null &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null; rm -f "$log"' EXIT
until curl -sf "$base/readyz" >/dev/null 2>&1; do
  kill -0 "$server" 2>/dev/null || { cat "$log"; echo "server exited" >&2; exit 1; }
  sleep 0.05
done
# The snapshot a start writes after a rebuild or catch-up is not part of the measurement.
sleep 2
CANDOR_TOKEN=$platform NEEDLES="$pdq/needles.txt" wrk -t1 -c"$conns" -d"${secs}s" --latency \
  -s "$here/lookup.lua" "$base" >"$log.wrk" &
wrk_pid=$!
python3 - "$base" "$platform" "$curator" "$secs" "$pdq/needles.txt" <<'PY'
import http.client, json, random, sys, threading, time
base, platform, curator, secs, needles = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4]), sys.argv[5]
host, port = base.split("//")[1].split(":")
needle = [l.strip() for l in open(needles) if l.strip()][0]
end = time.monotonic() + secs

def timed(conn, method, path, token, body=None):
    t0 = time.monotonic()
    h = {"Authorization": "Bearer " + token}
    if body is not None:
        h["Content-Type"] = "application/json"
    conn.request(method, path, body=body, headers=h)
    r = conn.getresponse(); r.read()
    return r.status, time.monotonic() - t0, t0

looks, changes = [], []
def lookups():
    c = http.client.HTTPConnection(host, int(port), timeout=120)
    while time.monotonic() < end:
        st, dt, t0 = timed(c, "GET", "/v1/lookup?pdq=" + needle, platform)
        assert st == 200, st
        looks.append((dt, t0))
        time.sleep(0.01)
def writes():
    c = http.client.HTTPConnection(host, int(port), timeout=120)
    rng = random.Random(7)
    while time.monotonic() < end:
        body = json.dumps({"pdq": "%064x" % rng.getrandbits(256)})
        st, dt, t0 = timed(c, "POST", "/v1/banks/bench/content", curator, body)
        assert st == 201, st
        changes.append((dt, t0))
        time.sleep(0.5)
ts = [threading.Thread(target=lookups), threading.Thread(target=writes)]
for t in ts: t.start()
for t in ts: t.join()
def q(xs, p):
    xs = sorted(x for x, _ in xs)
    return xs[min(len(xs) - 1, int(p * len(xs)))] * 1000
for name, xs in (("probe lookups", looks), ("bank changes", changes)):
    print(f"== {name}: {len(xs)}, p50 {q(xs, .5):.1f} ms, p99 {q(xs, .99):.1f} ms, max {q(xs, 1.0):.1f} ms")
slow = [x for x, _ in looks if x > 0.1]
print(f"== probe lookups over 100 ms: {len(slow)}, {sum(slow):.2f} s in all")
PY
wait "$wrk_pid" || true
echo "== wrk: $(grep RESULT "$log.wrk")"
echo "== snapshots written during the run (server log):"
grep "snapshot written" "$log" | sed -E 's/\x1b\[[0-9;]*m//g; s/"//g' | grep -oE '(log_size|bytes|millis)[=:] ?[0-9]+' | paste -d' ' - - - || true
echo "== load $(cut -d' ' -f1-3 /proc/loadavg)"
rm -f "$log.wrk"
