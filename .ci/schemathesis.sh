#!/usr/bin/env bash
# The API document against the live server (issue 11): schemathesis (PyPI) generates requests
# from /openapi.json and fails on any answer the document does not describe — an undocumented
# status code, a response body or content type other than documented — and on any server error.
# One run per role (a fresh `candor serve`, one token per role, a bank with content so that
# routes with ids have something to find), each bounded (examples and seconds).
#
# Usage: .ci/schemathesis.sh CANDOR_BINARY        Env: ST_EXAMPLES (5), ST_SECONDS (40 per role)
set -euo pipefail
candor="${1:?usage: $0 CANDOR_BINARY}"
examples="${ST_EXAMPLES:-5}"
seconds="${ST_SECONDS:-40}"
work="$(mktemp -d)"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
base="http://127.0.0.1:$port"
server=
cleanup() { [ -n "$server" ] && kill "$server" 2>/dev/null; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

declare -A tok
for role in admin curator reviewer platform auditor; do
  tok[$role]=$("$candor" token create --data "$work/data" --role "$role" --name "st-$role" 2>/dev/null)
done
CANDOR_LOG=warn "$candor" serve --data "$work/data" --listen "127.0.0.1:$port" > "$work/serve.log" 2>&1 &
server=$!
for _ in $(seq 100); do curl -sf "$base/readyz" >/dev/null && break; sleep 0.2; done
curl -sf "$base/readyz" >/dev/null || { cat "$work/serve.log" >&2; echo "schemathesis: server did not start" >&2; exit 1; }

# Something to find: a Candor bank and an HMA bank, each with content.
auth=(-H "Authorization: Bearer ${tok[curator]}" -H 'Content-Type: application/json')
curl -sf "${auth[@]}" -X POST "$base/v1/banks" \
  -d '{"name":"st","category":"STATEMENT_CATEGORY_RISK_FOR_PUBLIC_SECURITY"}' >/dev/null
curl -sf "${auth[@]}" -X POST "$base/v1/banks/st/content" -d "{\"pdq\":\"$(printf 'f%.0s' $(seq 64))\"}" >/dev/null
curl -sf "${auth[@]}" -X POST "$base/c/banks" -d '{"name":"ST"}' >/dev/null
curl -sf "${auth[@]}" -X POST "$base/c/bank/ST/signal" -d "{\"pdq\":\"$(printf 'e%.0s' $(seq 64))\"}" >/dev/null

status=0
for role in admin curator reviewer platform auditor; do
  echo "== schemathesis as $role (at most $examples examples an operation, ${seconds}s)"
  if ! schemathesis run "$base/openapi.json" \
      -H "Authorization: Bearer ${tok[$role]}" \
      --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance \
      --phases examples,coverage,fuzzing \
      --max-examples "$examples" --max-time "$seconds" \
      --generation-deterministic --no-shrink --request-timeout 30 \
      --warnings off > "$work/st-$role.log" 2>&1; then
    status=1
    cat "$work/st-$role.log"
  fi
  grep -E "generated|passed|failures|No issues" "$work/st-$role.log" | tail -3 || true
done
if grep -q "panicked" "$work/serve.log"; then
  echo "schemathesis: the server panicked" >&2
  grep -m5 "panicked" "$work/serve.log" >&2
  status=1
fi
exit $status
