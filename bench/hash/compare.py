#!/usr/bin/env python3
"""Side-by-side: PyPI pdqhash + Pillow against `candor hash`, single thread, decode included,
on the 1600x1004 (and 1004x1600) JPEGs of testdata/pdq, in one run; then MD5+SHA-256 of a
1 GiB file against the crates' raw speed.

Usage: python3 bench/hash/compare.py [--rounds N] [--skip-digest]
Needs: pip install pdqhash pillow numpy; a release build (cargo build --release -p candor) and,
for the libjpeg-turbo row, CARGO_TARGET_DIR=target/turbojpeg cargo build --release -p candor --features turbojpeg.
"""
import argparse, json, os, subprocess, sys, tempfile, time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
IMAGES = os.path.join(ROOT, "testdata", "pdq", "images")
CANDOR = os.path.join(ROOT, "target", "release", "candor")
CANDOR_TURBO = os.path.join(ROOT, "target", "turbojpeg", "release", "candor")


def images():
    from PIL import Image
    out = []
    for d, _, files in os.walk(IMAGES):
        for f in sorted(files):
            p = os.path.join(d, f)
            if f.lower().endswith(".jpg"):
                with Image.open(p) as im:
                    if im.size in ((1600, 1004), (1004, 1600)):
                        out.append(p)
    return sorted(out)


def run_pdqhash(files, rounds):
    import numpy as np
    import pdqhash
    from PIL import Image
    hashes = {}
    t = time.perf_counter()
    for _ in range(rounds):
        for f in files:
            im = Image.open(f)
            if im.mode != "RGB":
                im = im.convert("RGB")
            bits, q = pdqhash.compute(np.asarray(im))
            hashes[f] = "".join("%x" % int("".join(map(str, bits[i:i + 4])), 2) for i in range(0, 256, 4))
    return len(files) * rounds / (time.perf_counter() - t), hashes


def run_candor(files, rounds, extra=(), binary=CANDOR):
    args = [binary, "hash", "--jobs", "1", *extra] + files * rounds
    t = time.perf_counter()
    out = subprocess.run(args, check=True, capture_output=True, text=True).stdout
    dt = time.perf_counter() - t
    hashes = {}
    for line in out.splitlines():
        r = json.loads(line)
        hashes[r["path"]] = r["pdq"]
    return len(files) * rounds / dt, hashes


def distance(a, b):
    return bin(int(a, 16) ^ int(b, 16)).count("1")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--skip-digest", action="store_true")
    a = ap.parse_args()
    if not os.path.exists(CANDOR):
        sys.exit("build first: cargo build --release")
    os.environ["OMP_NUM_THREADS"] = "1"
    files = images()
    print(f"{len(files)} JPEGs (1600x1004 / 1004x1600), {a.rounds} rounds each, single thread, decode included")
    best = {"pdqhash+Pillow": 0.0, "candor hash": 0.0, "candor hash --no-trim": 0.0}
    turbo = os.path.exists(CANDOR_TURBO)
    if turbo:
        best["candor hash (libjpeg-turbo)"] = 0.0
    ref = cand = cand_turbo = None
    for _ in range(3):  # interleaved repeats, best of each: the machine may be shared
        r, ref = run_pdqhash(files, a.rounds)
        best["pdqhash+Pillow"] = max(best["pdqhash+Pillow"], r)
        r, cand = run_candor(files, a.rounds)
        best["candor hash"] = max(best["candor hash"], r)
        r, _ = run_candor(files, a.rounds, ["--no-trim"])
        best["candor hash --no-trim"] = max(best["candor hash --no-trim"], r)
        if turbo:
            r, cand_turbo = run_candor(files, a.rounds, binary=CANDOR_TURBO)
            best["candor hash (libjpeg-turbo)"] = max(best["candor hash (libjpeg-turbo)"], r)
    anchor = best["pdqhash+Pillow"]
    print(f"{'pipeline':28} {'images/s':>9} {'vs anchor':>9}")
    for k, v in best.items():
        print(f"{k:28} {v:9.1f} {v / anchor:8.2f}x")
    d = sorted(distance(ref[f], cand[f]) for f in files)
    print(f"PDQ distance candor vs pdqhash+Pillow on these JPEGs: max {d[-1]}, distribution {dict((x, d.count(x)) for x in sorted(set(d)))}")
    if turbo:
        d = sorted(distance(ref[f], cand_turbo[f]) for f in files)
        print(f"PDQ distance candor (libjpeg-turbo) vs pdqhash+Pillow: max {d[-1]}, distribution {dict((x, d.count(x)) for x in sorted(set(d)))}")

    if a.skip_digest:
        return
    raw = json.loads(subprocess.run(
        ["cargo", "run", "-q", "--release", "-p", "candor-signal", "--example", "raw_digest", "--", "1024"],
        cwd=ROOT, check=True, capture_output=True, text=True).stdout)
    with tempfile.TemporaryDirectory() as tmp:
        big = os.path.join(tmp, "1gib.bin")
        block = os.urandom(1 << 20)
        with open(big, "wb") as f:
            for _ in range(1024):
                f.write(block)
        subprocess.run(["cat", big], stdout=subprocess.DEVNULL, check=True)  # warm the page cache
        best_t = min(_timed([CANDOR, "hash", "--jobs", "1", big]) for _ in range(3))
    print(f"MD5+SHA-256 of 1 GiB: candor hash {best_t:.2f} s; crates raw md5 {raw['md5_s']:.2f} s + sha256 {raw['sha256_s']:.2f} s = {raw['both_s']:.2f} s; ratio {best_t / raw['both_s']:.2f} (target <= 1.5)")


def _timed(args):
    t = time.perf_counter()
    subprocess.run(args, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - t


if __name__ == "__main__":
    main()
