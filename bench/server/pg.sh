# Sourced by the benchmarks: `pg_start DIR` runs a throwaway PostgreSQL from Debian's binaries
# (initdb into DIR, as the postgres user when root, loopback only, no system service) and sets
# PG_URL_BASE (postgres://postgres@127.0.0.1:PORT); `pg_createdb NAME` makes a fresh database
# and prints its URL; `pg_stop` stops it.
pg_bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
pg_as() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
pg_start() {
  local dir=$1
  [ -x "$pg_bin/initdb" ] || { echo "PostgreSQL not installed (apt-get install postgresql-15)" >&2; return 1; }
  mkdir -p "$dir/data" "$dir/sock"
  [ "$(id -u)" = 0 ] && chown -R postgres:postgres "$dir"
  pg_as "$pg_bin/initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 >/dev/null
  PG_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  pg_as "$pg_bin/pg_ctl" -D "$dir/data" -l "$dir/log" -w -o "-p $PG_PORT -k $dir/sock -c listen_addresses=127.0.0.1 -c shared_buffers=1GB -c max_connections=100" start >/dev/null
  PG_DIR=$dir
  PG_URL_BASE="postgres://postgres@127.0.0.1:$PG_PORT"
}
pg_createdb() {
  "$pg_bin/psql" -q -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres -c "DROP DATABASE IF EXISTS $1" -c "CREATE DATABASE $1" >/dev/null
  echo "$PG_URL_BASE/$1"
}
pg_stop() { [ -n "${PG_DIR:-}" ] && pg_as "$pg_bin/pg_ctl" -D "$PG_DIR/data" -m fast stop >/dev/null 2>&1 || true; }
