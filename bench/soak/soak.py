#!/usr/bin/env python3
"""Soak and fault harness for `candor serve`: mixed load for a given duration against a fresh
service with a bank of N random PDQ hashes, sampling the server's resident memory, open file
descriptors, per-window p99 latency and error counts. Writes CSV and an SVG plot, and fails
(exit 1) on errors or on memory that keeps growing after warm-up.

The mix, from keep-alive connections on loopback:
  lookups      GET /v1/lookup?pdq=<random near-miss of a banked hash>   (LOOKUP_THREADS threads)
  scans        POST /v1/scan, multipart, a real JPEG, a DE recipient    (1 thread)
  bank writes  POST /v1/banks/soak-writes/content with a fresh PDQ      (1 thread, ~20/s)
  reviews      sampled scans (JSON signals, public surface) confirmed or rejected  (1 thread)
  log reads    /log/checkpoint, /log/tile/0/000.p/N, /v1/numbers         (1 thread)

usage: soak.py --candor BIN --image JPEG [--seconds 1800] [--hashes 1000000] [--warmup 120]
               [--sample 5] [--out DIR] [--max-growth 0.05]
Needs only Python 3. Used by bench/soak/run.sh (30-minute run) and .ci/run (short run).
"""
import argparse, http.client, json, os, random, socket, subprocess, sys, tempfile, threading, time

ap = argparse.ArgumentParser()
ap.add_argument("--candor", required=True)
ap.add_argument("--image", required=True)
ap.add_argument("--seconds", type=float, default=1800)
ap.add_argument("--hashes", type=int, default=1_000_000)
ap.add_argument("--warmup", type=float, default=120)
ap.add_argument("--sample", type=float, default=5)
ap.add_argument("--lookup-threads", type=int, default=3)
ap.add_argument("--only", default=None, help="comma-separated kinds to run (lookup,scan,write,review,log); default all")
ap.add_argument("--out", default=None)
ap.add_argument("--max-growth", type=float, default=0.05,
                help="largest allowed RSS growth after warm-up (fraction), measured and extrapolated")
args = ap.parse_args()

out = args.out or tempfile.mkdtemp(prefix="candor-soak-")
os.makedirs(out, exist_ok=True)
data = os.path.join(out, "data")
rng = random.Random(7)

def free_port():
    s = socket.socket(); s.bind(("127.0.0.1", 0)); p = s.getsockname()[1]; s.close(); return p

def run(*a):
    return subprocess.run([args.candor, *a], check=True, capture_output=True, text=True).stdout.strip()

policies = os.path.join(out, "policies.toml")
with open(policies, "w") as f:
    f.write("""
[sampling]
rate = 1.0
surfaces = ["public"]

[[policy]]
id = "soak-withhold"
name = "Soak test list"
banks = ["soak"]
action = "withhold"
jurisdictions = ["DE"]
decision_ground = "DECISION_GROUND_ILLEGAL_CONTENT"
legal_ground = "Soak test"
explanation = "Soak test."
""")

port = free_port()
base_host = "127.0.0.1"
curator = run("token", "create", "--data", data, "--role", "curator", "--name", "soak-curator")
platform = run("token", "create", "--data", data, "--role", "platform", "--name", "soak-platform")
reviewer = run("token", "create", "--data", data, "--role", "reviewer", "--name", "soak-reviewer")
log = open(os.path.join(out, "serve.log"), "w")
server = subprocess.Popen([args.candor, "serve", "--data", data, "--listen", f"{base_host}:{port}",
                           "--policies", policies], stdout=log, stderr=log)

def conn():
    return http.client.HTTPConnection(base_host, port, timeout=60)

def call(c, method, path, token=None, body=None, ctype=None):
    h = {}
    if token: h["Authorization"] = f"Bearer {token}"
    if ctype: h["Content-Type"] = ctype
    c.request(method, path, body, h)
    r = c.getresponse()
    return r.status, r.read()

for _ in range(200):
    try:
        c = conn(); st, _ = call(c, "GET", "/healthz"); c.close()
        if st == 200: break
    except OSError:
        time.sleep(0.1)
else:
    sys.exit("soak: the service did not start")

def rand_hash():
    return "%064x" % rng.getrandbits(256)

# The bank: N random hashes, imported in 100k-line bodies.
c = conn()
for b in ("soak", "soak-writes"):
    st, body = call(c, "POST", "/v1/banks", curator, json.dumps({
        "name": b, "category": "STATEMENT_CATEGORY_RISK_FOR_PUBLIC_SECURITY"}), "application/json")
    assert st == 201, body
banked = []
t0 = time.monotonic()
left = args.hashes
while left > 0:
    n = min(100_000, left)
    lines = [rand_hash() for _ in range(n)]
    banked.extend(lines[:: max(1, n // 1000)])
    st, body = call(c, "POST", "/v1/banks/soak/import", curator, "\n".join(lines), "text/plain")
    assert st in (200, 201), body[:300]
    left -= n
c.close()
print(f"soak: {args.hashes} hashes imported in {time.monotonic() - t0:.1f} s", flush=True)

img = open(args.image, "rb").read()
boundary = "candorsoakboundary"
def scan_body(i):
    ctx = json.dumps({"surface": "direct", "content_id": f"soak-{i}", "content_type": "CONTENT_TYPE_IMAGE",
                      "sender": {"account": f"s{i % 50}", "jurisdiction": "US"},
                      "recipients": [{"account": f"r{i % 50}", "jurisdiction": "DE"}]})
    return (f"--{boundary}\r\nContent-Disposition: form-data; name=\"context\"\r\n\r\n{ctx}\r\n"
            f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.jpg\"\r\n"
            f"Content-Type: image/jpeg\r\n\r\n").encode() + img + f"\r\n--{boundary}--\r\n".encode()

lock = threading.Lock()
samples = []          # (t, kind, seconds, ok)
errors = []           # (t, kind, status, body)
stop = threading.Event()

def record(kind, t, dt, status, body, ok_statuses=(200, 201)):
    ok = status in ok_statuses
    with lock:
        samples.append((t, kind, dt, ok))
        if not ok:
            errors.append((t, kind, status, body[:200]))

def loop(kind, fn, pause=0.0):
    c = conn(); i = 0
    while not stop.is_set():
        t = time.monotonic()
        try:
            status, body = fn(c, i)
        except (OSError, http.client.HTTPException) as e:
            status, body = -1, str(e).encode()
            c.close(); c = conn()
        record(kind, t, time.monotonic() - t, status, body)
        i += 1
        if pause: time.sleep(pause)
    c.close()

def flip(h, n):
    v = int(h, 16)
    for b in rng.sample(range(256), n): v ^= 1 << b
    return "%064x" % v

def lookup(c, i):
    h = flip(banked[rng.randrange(len(banked))], rng.randrange(0, 40))
    return call(c, "GET", f"/v1/lookup?pdq={h}", platform)

def scan(c, i):
    return call(c, "POST", "/v1/scan", platform, scan_body(i), f"multipart/form-data; boundary={boundary}")

def write(c, i):
    return call(c, "POST", "/v1/banks/soak-writes/content", curator, json.dumps({"pdq": rand_hash()}), "application/json")

def review(c, i):
    # Unknown public content is sampled (rate 1.0); a reviewer rejects or confirms it.
    st, body = call(c, "POST", "/v1/scan", platform, json.dumps({
        "context": {"surface": "public", "content_id": f"pub-{i}", "content_type": "CONTENT_TYPE_IMAGE",
                    "sender": {"account": f"p{i % 50}", "jurisdiction": "FR"},
                    "audience": {"jurisdictions": ["FR", "US"]}},
        "signals": {"sha256": "%064x" % rng.getrandbits(256)}}), "application/json")
    if st != 200:
        return st, body
    item = json.loads(body).get("review_item")
    if not item:
        return 599, b"not sampled"
    verdict = "reject" if i % 3 else "confirm"
    return call(c, "POST", f"/v1/review/{item}/{verdict}", reviewer, json.dumps({"reason": "soak"}), "application/json")

def log_read(c, i):
    st, note = call(c, "GET", "/log/checkpoint")
    if st != 200: return st, note
    size = int(note.split(b"\n")[1])
    if size % 256:
        st, b = call(c, "GET", f"/log/tile/0/{size // 256:03d}.p/{size % 256}" if size < 256 * 1000 else "/v1/numbers")
        if st != 200: return st, b
    return call(c, "GET", "/v1/numbers")

def proc(pid):
    rss = 0
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"): rss = int(line.split()[1]) * 1024
    fds = len(os.listdir(f"/proc/{pid}/fd"))
    return rss, fds

rows = []   # t, rss, fds, lookups, p99_lookup_ms, p99_all_ms, errors
def sampler(start):
    last = 0
    while not stop.wait(args.sample):
        now = time.monotonic()
        rss, fds = proc(server.pid)
        with lock:
            window = samples[last:]; last = len(samples); errs = len(errors)
        lk = sorted(d for (_, k, d, _) in window if k == "lookup")
        al = sorted(d for (_, _, d, _) in window)
        p = lambda xs: (xs[min(len(xs) - 1, int(0.99 * len(xs)))] * 1000) if xs else 0.0
        rows.append((now - start, rss, fds, len(lk), p(lk), p(al), errs))
        print(f"soak: t={now - start:7.1f}s rss={rss / 2**20:7.1f} MiB fds={fds} lookups/s={len(lk) / args.sample:7.0f} "
              f"p99 lookup={p(lk):6.1f} ms all={p(al):7.1f} ms errors={errs}", flush=True)

only = set(args.only.split(",")) if args.only else {"lookup", "scan", "write", "review", "log"}
threads = [threading.Thread(target=loop, args=("lookup", lookup)) for _ in range(args.lookup_threads)] if "lookup" in only else []
threads += [threading.Thread(target=loop, args=(k, fn, pause))
            for k, fn, pause in (("scan", scan, 0.05), ("write", write, 0.05), ("review", review, 0.1), ("log", log_read, 0.2))
            if k in only]
start = time.monotonic()
sm = threading.Thread(target=sampler, args=(start,))
for t in threads: t.start()
sm.start()
try:
    time.sleep(args.seconds)
finally:
    stop.set()
    for t in threads: t.join()
    sm.join()
    server.terminate()
    server.wait(timeout=30)

csv = os.path.join(out, "soak.csv")
with open(csv, "w") as f:
    f.write("seconds,rss_bytes,open_fds,lookups_in_window,p99_lookup_ms,p99_all_ms,errors_total\n")
    for r in rows:
        f.write("%.1f,%d,%d,%d,%.2f,%.2f,%d\n" % r)

# Verdict: memory after warm-up, measured (last vs first) and as a least-squares trend.
after = [r for r in rows if r[0] >= args.warmup]
if len(after) < 4:
    sys.exit(f"soak: too few samples after warm-up ({len(after)}): run longer or warm up less")
xs = [r[0] for r in after]; ys = [r[1] for r in after]
n = len(xs); mx = sum(xs) / n; my = sum(ys) / n
slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / max(1e-9, sum((x - mx) ** 2 for x in xs))
span = xs[-1] - xs[0]
base_rss = min(ys[: max(1, n // 5)])
measured = (max(ys[-max(1, n // 5):]) - base_rss) / base_rss
trend = slope * span / my
hourly = slope * 3600 / my
total_requests = len(samples)
summary = {
    "seconds": args.seconds, "hashes": args.hashes, "requests": total_requests,
    "requests_by_kind": {k: sum(1 for s in samples if s[1] == k) for k in ("lookup", "scan", "write", "review", "log")},
    "errors": len(errors), "rss_start_mib": round(ys[0] / 2**20, 1), "rss_end_mib": round(ys[-1] / 2**20, 1),
    "rss_growth_after_warmup": round(measured, 4), "rss_trend_over_run": round(trend, 4),
    "rss_trend_per_hour": round(hourly, 4), "fds_max": max(r[2] for r in rows),
    "p99_lookup_ms_median_window": sorted(r[4] for r in after)[len(after) // 2],
    "p99_lookup_ms_max_window": max(r[4] for r in after),
}
with open(os.path.join(out, "summary.json"), "w") as f:
    json.dump(summary, f, indent=1)

# SVG plot: RSS (MiB) and p99 lookup latency (ms) over time, no plotting library needed.
W, H, P = 900, 420, 60
tmax = max(r[0] for r in rows) or 1
def poly(vals, vmax, color):
    pts = " ".join(f"{P + (t / tmax) * (W - 2 * P):.1f},{H - P - (v / vmax) * (H - 2 * P):.1f}" for t, v in vals)
    return f'<polyline fill="none" stroke="{color}" stroke-width="2" points="{pts}"/>'
rmax = max(r[1] for r in rows) / 2**20 * 1.2
lmax = max(1.0, max(r[4] for r in rows) * 1.2)
svg = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" font-family="sans-serif" font-size="12">',
       f'<rect width="{W}" height="{H}" fill="white"/>',
       f'<line x1="{P}" y1="{H-P}" x2="{W-P}" y2="{H-P}" stroke="black"/>',
       f'<line x1="{P}" y1="{P}" x2="{P}" y2="{H-P}" stroke="black"/>',
       f'<text x="{W/2}" y="24" text-anchor="middle" font-size="14">candor serve soak: {args.hashes:,} banked hashes, {args.seconds/60:.0f} min, {total_requests:,} requests, {len(errors)} errors</text>',
       f'<text x="{W/2}" y="{H-20}" text-anchor="middle">seconds</text>',
       f'<text x="{P-8}" y="{P-8}" text-anchor="start" fill="#1f5fbf">RSS MiB (max {rmax:.0f})</text>',
       f'<text x="{W-P}" y="{P-8}" text-anchor="end" fill="#c0392b">p99 lookup ms (max {lmax:.0f})</text>',
       f'<line x1="{P + (args.warmup / tmax) * (W - 2 * P):.1f}" y1="{P}" x2="{P + (args.warmup / tmax) * (W - 2 * P):.1f}" y2="{H-P}" stroke="#999" stroke-dasharray="4"/>']
for i in range(5):
    t = tmax * i / 4
    svg.append(f'<text x="{P + (t / tmax) * (W - 2 * P):.1f}" y="{H-P+16}" text-anchor="middle">{t:.0f}</text>')
    svg.append(f'<text x="{P-6}" y="{H - P - (i / 4) * (H - 2 * P):.1f}" text-anchor="end" fill="#1f5fbf">{rmax * i / 4:.0f}</text>')
    svg.append(f'<text x="{W-P+6}" y="{H - P - (i / 4) * (H - 2 * P):.1f}" text-anchor="start" fill="#c0392b">{lmax * i / 4:.1f}</text>')
svg.append(poly([(r[0], r[1] / 2**20) for r in rows], rmax, "#1f5fbf"))
svg.append(poly([(r[0], r[4]) for r in rows], lmax, "#c0392b"))
svg.append("</svg>")
with open(os.path.join(out, "soak.svg"), "w") as f:
    f.write("\n".join(svg))

print("soak: " + json.dumps(summary), flush=True)
print(f"soak: CSV {csv}, plot {os.path.join(out, 'soak.svg')}", flush=True)
failed = []
if errors:
    failed.append(f"{len(errors)} errors, first: {errors[0]}")
if measured > args.max_growth:
    failed.append(f"RSS grew {measured:.1%} after warm-up (limit {args.max_growth:.0%})")
if trend > args.max_growth:
    failed.append(f"RSS trend {trend:.1%} over the run (limit {args.max_growth:.0%}): memory keeps growing")
if failed:
    print("soak: FAILED: " + "; ".join(failed), flush=True)
    sys.exit(1)
print("soak: passed", flush=True)
