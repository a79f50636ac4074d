#!/usr/bin/env bash
# Restarts and snapshot stalls of two binaries on one data dir, interleaved (issue 19): each
# binary's own snapshot is put back before its runs (they may write different snapshot formats).
# The data dir comes from a first `HASHES=N CANDOR_BIN=$ANCHOR_BIN CANDOR_BENCH_DATA=$DATA
# bench/server/scale.sh` (import through the API); its snapshot is the anchor's.
#
# Usage: ANCHOR_BIN=… THIS_BIN=… DATA=… HASHES=N bench/server/snapshot_compare.sh
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
A=${ANCHOR_BIN:?}; S=${THIS_BIN:?}; D=${DATA:?}; N=${HASHES:?}
snap=$D/snapshot/matcher.snap
keep="$(dirname "$D")/$(basename "$D")-snapshots"; mkdir -p "$keep"
cp "$snap" "$keep/anchor.snap"
run() { HASHES=$N SKIP_IMPORT=1 CANDOR_BIN=$1 CANDOR_BENCH_DATA=$D RESTARTS=3 LOOKUP_SECONDS=5 "$here/scale.sh"; }
echo "#### this tree restarts $(date -u +%T)"; run "$S"; cp "$snap" "$keep/this.snap"
echo "#### anchor restarts $(date -u +%T)"; cp "$keep/anchor.snap" "$snap"; run "$A"
echo "#### this tree restarts again $(date -u +%T)"; cp "$keep/this.snap" "$snap"; run "$S"
for who in anchor this; do
  bin=$A; [ $who = this ] && bin=$S
  echo "#### stall $who $(date -u +%T)"; cp "$keep/$who.snap" "$snap"
  CANDOR_BIN=$bin DATA=$D SECONDS_RUN=40 INTERVAL=8 "$here/snapshot_stall.sh"
done
rm -rf "$keep"
