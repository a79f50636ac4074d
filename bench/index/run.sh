#!/usr/bin/env bash
# Candor index vs FAISS (faiss-cpu, one thread) at 1M and 10M hashes; prints a Markdown table.
# Needs: python3 with numpy and faiss-cpu (pip install faiss-cpu numpy), cargo.
# Scratch data goes to $CANDOR_BENCH_DIR (default /tmp/candor-bench-index); results also to
# bench/out/index.json. Extra arguments go to run.py (e.g. --sizes 1000000 --datasets uniform).
set -euo pipefail
cd "$(dirname "$0")/../.."
export OMP_NUM_THREADS=1
exec python3 bench/index/run.py "$@"
