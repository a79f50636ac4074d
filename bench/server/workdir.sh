# Sourced by the benchmarks (after setting `here`): makes the run's directory $work (under
# WORK_DIR when set), removed at exit together with the service $server_pid still running;
# with PG=1 also starts a throwaway PostgreSQL inside it (pg.sh), stopped at exit.
work="$(mktemp -d ${WORK_DIR:+-p "$WORK_DIR"})"
server_pid=
cleanup() {
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null
  wait 2>/dev/null
  [ -n "${PG:-}" ] && pg_stop
  rm -rf "$work"
}
trap cleanup EXIT
if [ -n "${PG:-}" ]; then
  # shellcheck source=pg.sh
  . "$here/pg.sh"
  chmod 755 "$work" # the postgres user reaches its data dir inside
  pg_start "$work/pg"
  echo "== PostgreSQL $("$pg_bin/postgres" --version | awk '{print $3}') on 127.0.0.1:$PG_PORT"
fi

# serve_with_bank BINARY DATA_DIR LABEL: `candor serve` of BINARY on DATA_DIR (with PG=1 on a
# fresh database named after LABEL), a free loopback port, a curator token and a bank `list`.
# Sets base, curator, db (the --database-url arguments, to pass on) and server_pid.
serve_with_bank() {
  local bin=$1 data=$2 label=$3 port
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  base="http://127.0.0.1:$port"
  db=()
  if [ -n "${PG:-}" ]; then
    db=(--database-url "$(pg_createdb "$(echo "$label" | tr -c 'a-z0-9\n' _)")")
  fi
  curator=$("$bin" token create --data "$data" "${db[@]}" --role curator 2>/dev/null)
  CANDOR_LOG=warn "$bin" serve --data "$data" "${db[@]}" --listen "127.0.0.1:$port" &
  server_pid=$!
  for _ in $(seq 300); do curl -sf "$base/healthz" >/dev/null && break; sleep 0.1; done
  curl -sf -X POST "$base/v1/banks" -H "Authorization: Bearer $curator" -H 'Content-Type: application/json' \
    -d '{"name":"list","category":"STATEMENT_CATEGORY_RISK_FOR_PUBLIC_SECURITY"}' >/dev/null
}
