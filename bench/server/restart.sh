#!/usr/bin/env bash
# Restart benchmark (issue 19): N PDQ hashes in a bank (default 1,000,000, imported through
# the API), then restarts of `candor serve`, each timed from process start to the first 200
# from /readyz, with the resident memory (VmRSS) and its peak (VmHWM) once ready:
#   rebuild   — no snapshot: index rebuilt from every row, numbers replayed from every entry
#               (the anchor, what main does);
#   snapshot  — the snapshot written at the previous graceful shutdown;
#   catch-up  — that snapshot plus CATCHUP more hashes imported after it (then kill -9, so no
#               snapshot at shutdown): the entries after it are replayed.
# Each mode RUNS times, interleaved. Server and client share the machine's cores.
#
# Usage: bench/server/restart.sh
# Env:   HASHES (1000000)  RUNS (3)  CATCHUP (10000)  CARGO_TARGET_DIR (target)
#        CANDOR_BENCH_DATA data dir (default $TARGET/bench-restart-data; wiped unless SKIP_IMPORT=1)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
target="${CARGO_TARGET_DIR:-$root/target}"
data="${CANDOR_BENCH_DATA:-$target/bench-restart-data}"
hashes="${HASHES:-1000000}"
runs="${RUNS:-3}"
catchup="${CATCHUP:-10000}"

(cd "$root" && CARGO_TARGET_DIR="$target" cargo build --release -p candor)
candor="$target/release/candor"

echo "== machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(awk '/MemTotal/{printf "%.0f GiB", $2/1048576}' /proc/meminfo), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "== $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo '?') $(date -u +%FT%TZ), $hashes hashes"

if [ -z "${SKIP_IMPORT:-}" ]; then rm -rf "$data"; fi
mkdir -p "$data"
exec python3 - "$candor" "$data" "$hashes" "$runs" "$catchup" "${SKIP_IMPORT:-}" <<'PY'
import json, os, random, signal, socket, subprocess, sys, time, urllib.request

candor, data, n, runs, catchup, skip = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), sys.argv[6]
snap = os.path.join(data, "snapshot", "matcher.snap")

def tok(role):
    return subprocess.check_output([candor, "token", "create", "--data", data, "--role", role],
                                   stderr=subprocess.DEVNULL, text=True).strip()

def port():
    s = socket.socket(); s.bind(("127.0.0.1", 0)); p = s.getsockname()[1]; s.close(); return p

def call(base, method, path, token=None, body=None, ctype="application/json"):
    req = urllib.request.Request(base + path, data=body, method=method)
    if token: req.add_header("Authorization", "Bearer " + token)
    if body is not None: req.add_header("Content-Type", ctype)
    try:
        with urllib.request.urlopen(req, timeout=600) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()
    except OSError:
        return 0, b""

def mem(pid):
    out = {}
    for line in open(f"/proc/{pid}/status"):
        k, _, v = line.partition(":")
        if k in ("VmRSS", "VmHWM"): out[k] = int(v.split()[0]) / 1024
    return out

def start():
    p = port(); base = f"http://127.0.0.1:{p}"
    env = dict(os.environ, CANDOR_LOG="warn", CANDOR_SNAPSHOT_INTERVAL_SECS="0")
    t0 = time.monotonic()
    proc = subprocess.Popen([candor, "serve", "--data", data, "--listen", f"127.0.0.1:{p}"], env=env)
    alive = None
    while True:
        st, body = call(base, "GET", "/readyz")
        now = time.monotonic()
        if st and alive is None: alive = now - t0
        if st == 200: return proc, base, alive, now - t0, json.loads(body)
        if proc.poll() is not None: sys.exit("server exited")
        time.sleep(0.005)

def stop(proc, hard=False):
    t0 = time.monotonic()
    proc.send_signal(signal.SIGKILL if hard else signal.SIGTERM)
    proc.wait()
    return time.monotonic() - t0

def import_lines(base, curator, lines, chunk=200_000):
    for i in range(0, len(lines), chunk):
        st, body = call(base, "POST", "/v1/banks/bench/import", curator,
                        ("\n".join(lines[i:i + chunk]) + "\n").encode(), "text/plain")
        assert st in (200, 201), (st, body[:300])

rng = random.Random(20261201)
if not skip:
    curator = tok("curator")
    proc, base, _, _, _ = start()
    st, _ = call(base, "POST", "/v1/banks", curator,
                 json.dumps({"name": "bench", "category": "STATEMENT_CATEGORY_RISK_FOR_PUBLIC_SECURITY"}).encode())
    assert st == 201, st
    t0 = time.monotonic()
    import_lines(base, curator, ["%064x" % rng.getrandbits(256) for _ in range(n)])
    print(f"== import: {n:,} hashes in {time.monotonic() - t0:.1f} s", flush=True)
    print(f"== graceful stop (writes the snapshot): {stop(proc):.2f} s; snapshot {os.path.getsize(snap) / 2**20:.0f} MiB; data dir {sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(data) for f in fs) / 2**20:.0f} MiB", flush=True)
curator = tok("curator")

def run(mode):
    if mode == "rebuild":
        os.replace(snap, snap + ".bak")
    proc, base, alive, ready, body = start()
    m = mem(proc.pid)
    idx = body.get("index", {})
    if mode == "catch-up":
        import_lines(base, curator, ["%064x" % rng.getrandbits(256) for _ in range(catchup)])
        stop(proc, hard=True)
        proc, base, alive, ready, body = start()
        m = mem(proc.pid)
        idx = body.get("index", {})
    print(f"{mode:9} healthz {alive:6.3f} s  readyz {ready:6.3f} s  RSS {m['VmRSS']:6.0f} MiB  peak {m['VmHWM']:6.0f} MiB  "
          f"source {idx.get('source')} replayed {idx.get('entries_replayed')} signals {body.get('indexed_signals')} (load {idx.get('millis')} ms)", flush=True)
    stop(proc)
    if mode == "rebuild":
        # The rebuilt service wrote its own snapshot; put the measured one back.
        os.replace(snap + ".bak", snap)
    if mode == "catch-up":
        # Leave a snapshot at the current size for the next runs (start, graceful stop).
        proc, *_ = start(); stop(proc)

for _ in range(runs):
    for mode in ("rebuild", "snapshot", "catch-up"):
        run(mode)
PY
