#!/usr/bin/env bash
# PostgreSQL's own insert rate for an import's rows, without Candor (issue 19: the anchor for the
# ≥ 50,000 hashes/s PostgreSQL import target). A throwaway PostgreSQL (pg.sh), the bank_content and
# content_signals tables with the indexes Candor's schema gives them, then BODIES transactions of
# 200,000 rows in each table from psql (`INSERT … SELECT FROM generate_series`, values hashed by
# the server): rows/s, with and without the two foreign keys. Candor's import writes these rows
# plus a log entry and ~2 stored log hashes per hash, so its rate cannot exceed this one.
#
# Usage: bench/server/pg_ceiling.sh        Env: BODIES (5)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
bodies="${BODIES:-5}"
# shellcheck source=pg.sh
. "$here/pg.sh"
work="$(mktemp -d)"
chmod 755 "$work"
trap 'pg_stop; rm -rf "$work"' EXIT
pg_start "$work/pg"
echo "== machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), load $(cut -d' ' -f1-3 /proc/loadavg); PostgreSQL $("$pg_bin/postgres" --version | awk '{print $3}')"
psql_() { "$pg_bin/psql" -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PG_PORT" -U postgres "$@"; }
run() { # LABEL FOREIGN_KEYS(0|1)
  local fk1="" fk2=""
  if [ "$2" = 1 ]; then fk1="REFERENCES banks(id) ON DELETE CASCADE"; fk2="REFERENCES bank_content(id) ON DELETE CASCADE"; fi
  psql_ -d postgres -c "DROP DATABASE IF EXISTS ceiling" -c "CREATE DATABASE ceiling" 2>/dev/null
  psql_ -d ceiling <<SQL
CREATE TABLE banks (id BIGINT PRIMARY KEY, name TEXT);
INSERT INTO banks VALUES (1, 'b');
CREATE TABLE bank_content (id BIGINT PRIMARY KEY, public_id TEXT NOT NULL UNIQUE,
  bank_id BIGINT NOT NULL $fk1, provenance TEXT NOT NULL, note TEXT NOT NULL, enabled BIGINT NOT NULL,
  retracted_at TEXT, retraction_reason TEXT, created_at TEXT NOT NULL, created_by TEXT NOT NULL,
  disable_until_ts BIGINT);
CREATE INDEX bank_content_bank ON bank_content(bank_id);
CREATE INDEX bank_content_disable_until ON bank_content(disable_until_ts);
CREATE TABLE content_signals (id BIGINT PRIMARY KEY, content_id BIGINT NOT NULL $fk2,
  signal TEXT NOT NULL, value BYTEA NOT NULL, quality BIGINT, salt BYTEA NOT NULL);
CREATE INDEX content_signals_content ON content_signals(content_id);
CREATE INDEX content_signals_value_prefix ON content_signals(substr(value, 1, 8));
SQL
  local t0 t1 b
  t0=$(date +%s.%N)
  for b in $(seq 0 $((bodies - 1))); do
    psql_ -d ceiling <<SQL
BEGIN;
INSERT INTO bank_content (id, public_id, bank_id, provenance, note, enabled, created_at, created_by)
  SELECT g, md5(g::text), 1, 'p', '', 1, '2026-12-02T00:00:00Z', 'me'
  FROM generate_series($b * 200000 + 1, ($b + 1) * 200000) g;
INSERT INTO content_signals (id, content_id, signal, value, quality, salt)
  SELECT g, g, 'pdq', sha256(g::text::bytea), NULL, substr(sha256(('s' || g)::bytea), 1, 16)
  FROM generate_series($b * 200000 + 1, ($b + 1) * 200000) g;
COMMIT;
SQL
  done
  t1=$(date +%s.%N)
  python3 -c "print(f'== $1: {$bodies * 200000:,} rows in each table in {$t1 - $t0:.1f} s = {$bodies * 200000 / ($t1 - $t0):,.0f} rows/s; load $(cut -d' ' -f1 /proc/loadavg)')"
}
run "with foreign keys" 1
run "without foreign keys" 0
