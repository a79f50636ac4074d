#!/usr/bin/env python3
"""Candor index vs FAISS on the same banks and queries, in one run.

For each bank size and data set this script
  1. generates the bank and the queries deterministically (numpy, fixed seeds) into a scratch
     directory (not committed);
  2. runs FAISS (faiss-cpu, one thread): IndexBinaryFlat and, at sizes up to --multihash-max,
     IndexBinaryMultiHash(256, 16, 16) with nflip = r // 16; range_search with radius r + 1,
     because FAISS reports distances strictly below its radius and Candor's radius is inclusive;
  3. runs Candor through the `index_bench` example of candor-index, once per table layout
     (--layouts): `build` (in-memory build, then write the index file) and, in a fresh process
     per round, `query` (load the file, answer every query on one thread, report VmHWM of that
     process);
  4. computes recall against brute force (FAISS Flat is the brute force; on the queries it
     answered) and prints a table.

Data sets (256-bit hashes):
  uniform    uniform random bits;
  clustered  70% uniform, 30% copies of one of those with 0..16 random bit flips (so at least
             30% of entries lie within 16 bits of another; some are exact duplicates);
  real       the 1350 real PDQ hashes of testdata/pdq/haystack.txt, each entry one of them with
             12..64 random bit flips.
Queries: alternately a bank entry with 0..24 random bit flips (near-duplicate) and a uniform
random hash, so any prefix is half near-duplicates, half random.

Usage: bench/index/run.py [--sizes 1000000,10000000] [--datasets uniform,clustered,real]
                          [--queries 2000] [--flat-queries 2000] [--flat-queries-large 200]
                          [--rounds 3] [--scratch DIR] [--radius 31]
"""
import argparse
import json
import os
import platform
import subprocess
import sys
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")
import numpy as np  # noqa: E402
import faiss  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
HAYSTACK = os.path.join(REPO, "testdata", "pdq", "haystack.txt")


def flip_bits(rng, rows, kmin, kmax):
    """XOR each row with k random bits, k uniform in [kmin, kmax] (draws may coincide)."""
    n = rows.shape[0]
    k = rng.integers(kmin, kmax + 1, n)
    for j in range(kmax):
        sel = np.nonzero(k > j)[0]
        if sel.size == 0:
            break
        pos = rng.integers(0, 256, sel.size)
        rows[sel, pos >> 3] ^= (1 << (pos & 7)).astype(np.uint8)
    return rows


def make_bank(kind, n, seed):
    rng = np.random.default_rng(seed)
    if kind == "uniform":
        return rng.integers(0, 256, (n, 32), dtype=np.uint8)
    if kind == "clustered":
        bank = rng.integers(0, 256, (n, 32), dtype=np.uint8)
        m = int(n * 0.3)
        dst = rng.choice(n, m, replace=False)
        keep = np.setdiff1d(np.arange(n), dst)
        src = keep[rng.integers(0, keep.size, m)]
        bank[dst] = flip_bits(rng, bank[src].copy(), 0, 16)
        return bank
    if kind == "real":
        with open(HAYSTACK) as f:
            hay = np.array(
                [list(bytes.fromhex(line.strip())) for line in f if line.strip()],
                dtype=np.uint8,
            )
        bank = hay[rng.integers(0, hay.shape[0], n)].copy()
        return flip_bits(rng, bank, 12, 64)
    raise ValueError(kind)


def make_queries(bank, q, seed):
    rng = np.random.default_rng(seed)
    half = (q + 1) // 2
    near = flip_bits(rng, bank[rng.integers(0, bank.shape[0], half)].copy(), 0, 24)
    rand = rng.integers(0, 256, (q - half, 32), dtype=np.uint8)
    out = np.empty((q, 32), dtype=np.uint8)
    out[0::2] = near
    out[1::2] = rand
    return out


def rss_kb():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def faiss_sets(lims, ids):
    return [set(ids[lims[i]:lims[i + 1]].tolist()) for i in range(len(lims) - 1)]


def run_faiss(kind, bank, queries, radius, nq, scratch, tag):
    """Returns a result dict and per-query result sets for the first nq queries."""
    faiss.omp_set_num_threads(1)
    r0 = rss_kb()
    t = time.perf_counter()
    if kind == "flat":
        index = faiss.IndexBinaryFlat(256)
    else:
        index = faiss.IndexBinaryMultiHash(256, 16, 16)
        index.nflip = radius // 16
    index.add(bank)
    build_s = time.perf_counter() - t
    rss_mb = (rss_kb() - r0) / 1024
    q = queries[:nq]
    t = time.perf_counter()
    lims, _, ids = index.range_search(q, radius + 1)
    query_s = time.perf_counter() - t
    load_s = None
    path = os.path.join(scratch, f"{tag}-{kind}.faiss")
    try:
        faiss.write_index_binary(index, path)
        t = time.perf_counter()
        faiss.read_index_binary(path)
        load_s = time.perf_counter() - t
    except Exception as e:  # not every binary index type serialises
        print(f"  faiss {kind}: no load time ({e.__class__.__name__})", file=sys.stderr)
    finally:
        if os.path.exists(path):
            os.remove(path)
    del index
    return {
        "qps": nq / query_s,
        "queries": nq,
        "build_s": build_s,
        "load_s": load_s,
        "rss_mb": rss_mb,
    }, faiss_sets(lims, ids)


def run_candor(binary, bank_path, query_path, scratch, tag, radius, rounds, layout):
    idx = os.path.join(scratch, f"{tag}.cidx")
    env = dict(os.environ, CANDOR_LAYOUT=layout)
    out = subprocess.run([binary, "build", bank_path, idx], check=True, capture_output=True, text=True, env=env)
    build = json.loads(out.stdout)
    best = None
    res_path = os.path.join(scratch, f"{tag}.candor.txt")
    for _ in range(rounds):
        out = subprocess.run(
            [binary, "query", idx, query_path, res_path, str(radius)],
            check=True, capture_output=True, text=True,
        )
        q = json.loads(out.stdout)
        if best is None or q["qps"] > best["qps"]:
            best = q
    with open(res_path) as f:
        sets = [set(int(x) for x in line.split()) for line in f]
    os.remove(idx)
    return {**build, **best}, sets


def recall(found, truth):
    hit = sum(len(f & t) for f, t in zip(found, truth))
    total = sum(len(t) for t in truth)
    extra = sum(len(f - t) for f, t in zip(found, truth))
    return (hit / total if total else 1.0), total, extra


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="1000000,10000000")
    ap.add_argument("--datasets", default="uniform,clustered,real")
    ap.add_argument("--queries", type=int, default=2000)
    ap.add_argument("--flat-queries", type=int, default=2000, help="FAISS Flat queries below 5M")
    ap.add_argument("--flat-queries-large", type=int, default=200, help="FAISS Flat queries at 5M+")
    ap.add_argument("--multihash-max", type=int, default=1000000)
    ap.add_argument("--rounds", type=int, default=3, help="Candor query rounds (best is kept)")
    ap.add_argument("--radius", type=int, default=31)
    ap.add_argument("--layouts", default="compact,split", help="Candor table layouts to run")
    ap.add_argument("--scratch", default=os.environ.get("CANDOR_BENCH_DIR", "/tmp/candor-bench-index"))
    args = ap.parse_args()
    os.makedirs(args.scratch, exist_ok=True)

    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(REPO, "target"))
    subprocess.run(
        ["cargo", "build", "--release", "-q", "-p", "candor-index", "--example", "index_bench"],
        cwd=REPO, check=True,
    )
    binary = os.path.join(target, "release", "examples", "index_bench")

    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
    print(f"# machine: {cpu}, {os.cpu_count()} cores, {platform.platform()}")
    print(f"# faiss {faiss.__version__}, numpy {np.__version__}, radius {args.radius}, "
          f"{args.queries} queries (half near-duplicates), Candor best of {args.rounds} rounds")
    rows = []
    for n in [int(s) for s in args.sizes.split(",")]:
        for ds in args.datasets.split(","):
            tag = f"{ds}-{n}"
            t = time.perf_counter()
            seed = n * 10 + ["uniform", "clustered", "real"].index(ds)
            bank = make_bank(ds, n, seed)
            queries = make_queries(bank, args.queries, seed + 1)
            bank_path = os.path.join(args.scratch, f"{tag}.bin")
            query_path = os.path.join(args.scratch, f"{tag}.q.bin")
            bank.tofile(bank_path)
            queries.tofile(query_path)
            print(f"## {tag}: data in {time.perf_counter() - t:.1f} s", file=sys.stderr, flush=True)

            nflat = min(args.queries, args.flat_queries if n < 5_000_000 else args.flat_queries_large)
            flat, truth = run_faiss("flat", bank, queries, args.radius, nflat, args.scratch, tag)
            print(f"   faiss flat {flat['qps']:.0f} q/s", file=sys.stderr, flush=True)
            mh = None
            if n <= args.multihash_max:
                mh, mh_sets = run_faiss("multihash", bank, queries, args.radius, args.queries, args.scratch, tag)
                mh["recall"], _, mh["extra"] = recall(mh_sets[:nflat], truth)
                print(f"   faiss multihash {mh['qps']:.0f} q/s", file=sys.stderr, flush=True)
            del bank
            for layout in args.layouts.split(","):
                cand, cand_sets = run_candor(binary, bank_path, query_path, args.scratch, tag,
                                             args.radius, args.rounds, layout)
                cand["recall"], total, cand["extra"] = recall(cand_sets[:nflat], truth)
                print(f"   candor {layout} {cand['qps']:.0f} q/s", file=sys.stderr, flush=True)
                rows.append({"n": n, "dataset": ds, "layout": layout, "truth_matches": total,
                             "truth_queries": nflat, "faiss_flat": flat, "faiss_multihash": mh,
                             "candor": cand})
            os.remove(bank_path)
            os.remove(query_path)

    print()
    print("| bank | data | Candor layout | Candor q/s | FAISS Flat q/s | × Flat | FAISS MultiHash q/s | × MultiHash "
          "| recall Candor / MH (matches) | Candor build s | Candor load s | Candor VmHWM MB "
          "| FAISS Flat build / load s | FAISS MH build / load s |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        c, f, m = r["candor"], r["faiss_flat"], r["faiss_multihash"]
        fmt = lambda v: "n/a" if v is None else f"{v:.2f}"  # noqa: E731
        mh_q = f"{m['qps']:.0f}" if m else "–"
        mh_x = f"{c['qps'] / m['qps']:.1f}" if m else "–"
        mh_r = f"{100 * m['recall']:.2f}%" if m else "–"
        mh_t = f"{fmt(m['build_s'])} / {fmt(m['load_s'])}" if m else "–"
        print(
            f"| {r['n'] / 1e6:g}M | {r['dataset']} | {r['layout']} | {c['qps']:.0f} | {f['qps']:.0f} ({f['queries']} q) "
            f"| {c['qps'] / f['qps']:.1f} | {mh_q} | {mh_x} "
            f"| {100 * c['recall']:.2f}% / {mh_r} ({r['truth_matches']}) "
            f"| {c['build_s']:.2f} | {c['load_s']:.2f} | {c['vm_hwm_kb'] / 1024:.0f} "
            f"| {fmt(f['build_s'])} / {fmt(f['load_s'])} | {mh_t} |"
        )
    out_dir = os.path.join(REPO, "bench", "out")
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, "index.json"), "w") as f:
        json.dump(rows, f, indent=1)
    bad = [r for r in rows if r["candor"]["recall"] < 1.0 or r["candor"]["extra"]]
    if bad:
        print("RECALL FAILURE:", [(r["n"], r["dataset"], r["layout"]) for r in bad])
        sys.exit(1)


if __name__ == "__main__":
    main()
