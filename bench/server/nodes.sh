#!/usr/bin/env bash
# Several nodes on one PostgreSQL (issue 19), release build, this machine:
#   - change visibility: SAMPLES single-hash imports on node A, each timed from A's answer
#     until node B's /v1/lookup matches it, while two threads look up on B (p50/p99/max);
#   - lookup throughput from 4 keep-alive client threads against one node and against two.
# Both come from crates/candor/tests/multinode.rs in its measuring mode (CANDOR_SYNC_SAMPLES),
# which starts its own PostgreSQL (initdb into a temp dir) and two `candor serve` processes.
# Clients, both nodes and PostgreSQL share the machine's cores.
#
# Usage: bench/server/nodes.sh        Env: SAMPLES (500)  CARGO_TARGET_DIR (target)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$root/target}"
echo "== machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(awk '/MemTotal/{printf "%.0f GiB", $2/1048576}' /proc/meminfo), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "== $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo '?') $(date -u +%FT%TZ)"
cd "$root"
CANDOR_SYNC_SAMPLES="${SAMPLES:-500}" cargo test --release -p candor --test multinode \
  two_nodes_share_one_database -- --nocapture 2>&1 | grep -E "^(SYNC|LOOKUPS)|matched on B|reached A|test result"
