#!/usr/bin/env python3
"""Writes vectors.txt: vPDQ match results of python-threatexchange's own matchers.

Run in a virtualenv with `pip install threatexchange==1.2.17 faiss-cpu numpy` (PyPI). Meta's
`vpdq` package (the hasher, built against FFmpeg) is not needed for matching: the modules only
import it for hashing, so a stand-in module is registered before they are imported.

Each case is a bank of a few videos whose frames are random walks (a few bits a step) from a
few shared start hashes, with duplicate frames and low-quality frames, and one query. Results:
`index` lines from `VPDQIndex(quality, query_pct, compared_pct).query` (HMA's index, FAISS
range search), `brute` lines from `match_VPDQ_hash_brute` (quality, distance 31) per video.

Format (one item per line, frames `hex,quality,timestamp` separated by spaces):
    case QUALITY QUERY_PCT COMPARED_PCT
    video FRAMES...
    query FRAMES...
    index VIDEO QUERY_PERCENT COMPARED_PERCENT      (each match, VIDEO 0-based in case order)
    brute VIDEO QUERY_PERCENT COMPARED_PERCENT      (each video whose prepared frames are not empty)
    end
Percentages are Python float reprs (exact round trip).
"""
import random
import sys
import types

sys.modules.setdefault("vpdq", types.ModuleType("vpdq"))
sys.modules["vpdq"].VpdqFeature = object

from threatexchange.extensions.vpdq.vpdq_index import VPDQIndex  # noqa: E402
from threatexchange.extensions.vpdq.vpdq_brute_matcher import match_VPDQ_hash_brute  # noqa: E402
from threatexchange.extensions.vpdq.vpdq_util import (  # noqa: E402
    VpdqCompactFeature,
    vpdq_to_json,
    quality_filter,
    dedupe,
)

rng = random.Random(15)


def flip(h, bits):
    for b in rng.sample(range(256), bits):
        h ^= 1 << b
    return h


def walk(start, n, step):
    out, h = [], start
    for i in range(n):
        h = flip(h, rng.randint(0, step))
        out.append(h)
    return out


def features(hashes):
    out = []
    for i, h in enumerate(hashes):
        q = rng.choice([100, 100, 100, 90, 70, 50, 49, 20, 0])
        out.append(VpdqCompactFeature(f"{h:064x}", q, float(i)))
        if rng.random() < 0.1:  # an identical frame, another quality
            out.append(VpdqCompactFeature(f"{h:064x}", rng.choice([100, 10]), i + 0.5))
    return out


def fmt(frames):
    return " ".join(str(f) for f in frames)


lines = []
for case in range(60):
    quality = rng.choice([50, 50, 50, 0, 70, 100])
    qpct = rng.choice([80.0, 80.0, 0.0, 50.0, 100.0, 33.3])
    cpct = rng.choice([80.0, 0.0, 0.0, 50.0, 100.0])
    starts = [rng.getrandbits(256) for _ in range(rng.randint(1, 3))]
    videos = []
    for _ in range(rng.randint(1, 6)):
        s = rng.choice(starts)
        videos.append(features(walk(s, rng.randint(1, 14), rng.choice([2, 6, 12]))))
    if rng.random() < 0.5:  # a query near a bank video
        base = [int(f.pdq_hex, 16) for f in rng.choice(videos)]
        qh = [flip(h, rng.randint(0, 20)) for h in base if rng.random() < 0.9]
        qh += walk(rng.choice(starts), rng.randint(0, 4), 8)
    else:
        qh = walk(rng.choice(starts), rng.randint(1, 14), rng.choice([2, 6, 12]))
    query = features(qh)
    index = VPDQIndex(quality, qpct, cpct)
    indexed = []
    for i, v in enumerate(videos):
        try:
            index.add(vpdq_to_json(v), i)
            indexed.append(i)
        except ValueError:
            pass  # an empty video after preparation: not indexed
    lines.append(f"case {quality} {qpct!r} {cpct!r}")
    for v in videos:
        lines.append(f"video {fmt(v)}".rstrip())
    lines.append(f"query {fmt(query)}".rstrip())
    for m in index.query(vpdq_to_json(query)):
        s = m.similarity_info
        lines.append(f"index {m.metadata} {s.query_match_percent!r} {s.compared_match_percent!r}")
    for i, v in enumerate(videos):
        if quality_filter(dedupe(query), quality) and quality_filter(dedupe(v), quality):
            r = match_VPDQ_hash_brute(query, v, quality, 31)
            lines.append(f"brute {i} {r.query_match_percent!r} {r.compared_match_percent!r}")
    lines.append("end")

with open(sys.argv[1] if len(sys.argv) > 1 else "vectors.txt", "w") as f:
    f.write("\n".join(lines) + "\n")
