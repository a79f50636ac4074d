#!/usr/bin/env bash
# The README's five-minute tour, as a script: needs a running `candor serve` on $H (default
# http://127.0.0.1:8080) with data dir $DATA (default ./candor-data), curl and python3.
# .ci/run runs it against a fresh server, so the README stays true.
set -euo pipefail
H=${H:-http://127.0.0.1:8080}
DATA=${DATA:-candor-data}
CANDOR=${CANDOR:-"cargo run -q --release -p candor --"}
IMG=${IMG:-testdata/pdq/images/reference/bridge-mods/aaa-orig.jpg}
OUT=${OUT:-.}   # where log.key and notice.tlog-proof are written
# j '<python subscript>': pick a field of the JSON on stdin (strings raw, the rest as JSON).
j() { python3 -c "import json,sys; v=eval('d'+sys.argv[1], {'d': json.load(sys.stdin)}); print(v if isinstance(v, str) else json.dumps(v))" "$1"; }
step() { printf '\n== %s\n' "$*"; }

step "tokens (stored hashed; printed once)"
CURATOR=$($CANDOR token create --data "$DATA" --role curator --name cora)
PLATFORM=$($CANDOR token create --data "$DATA" --role platform --name chat-app)
REVIEWER=$($CANDOR token create --data "$DATA" --role reviewer --name rita)

step "policies: block the CSAM list everywhere, withhold a terrorist-content list in 10 EU states, hold it for review elsewhere"
curl -sf -XPUT "$H/v1/policies" -H "Authorization: Bearer $CURATOR" -H 'content-type: application/toml' \
  --data-binary @crates/candor-policy/examples/policies.toml | j '["policies"][1]["id"]'

step "a bank, and an image in it"
curl -sf -XPOST "$H/v1/banks" -H "Authorization: Bearer $CURATOR" -H 'content-type: application/json' \
  -d '{"name":"tcap-hashes","category":"STATEMENT_CATEGORY_RISK_FOR_PUBLIC_SECURITY","provenance":"imported","list_name":"TCAP demo"}'
echo
curl -sf -XPOST "$H/v1/banks/tcap-hashes/content" -H "Authorization: Bearer $CURATOR" --data-binary @"$IMG" \
  | j '["signals"]'

step "scan: alice (US) sends the same image to bob (DE) and carol (US)"
SCAN=$(curl -sf -XPOST "$H/v1/scan" -H "Authorization: Bearer $PLATFORM" -F file=@"$IMG" \
  -F 'context={"surface":"group","content_id":"msg-1","content_type":"CONTENT_TYPE_IMAGE","sender":{"account":"alice","jurisdiction":"US"},"recipients":[{"account":"bob","jurisdiction":"DE"},{"account":"carol","jurisdiction":"US"}]}')
echo "$SCAN" | j '["recipients"]'
DECISION=$(echo "$SCAN" | j '["decisions"][0]["id"]')
echo "$SCAN" | j '["decisions"][0]["statement"]["decision_visibility"]'

step "bob's notices (what the platform shows him)"
NOTICES=$(curl -sf "$H/v1/notices?account=bob" -H "Authorization: Bearer $PLATFORM")
echo "$NOTICES" | j '[0]["text"]'
NOTICE=$(echo "$NOTICES" | j '[0]["id"]')

step "bob appeals through the platform; rita (who took no part) reverses it"
APPEAL=$(curl -sf -XPOST "$H/v1/appeals" -H "Authorization: Bearer $PLATFORM" -H 'content-type: application/json' \
  -d "{\"decision\":\"$DECISION\",\"account\":\"bob\",\"reason\":\"This is a news photo, not propaganda.\"}" | j '["id"]')
curl -sf -XPOST "$H/v1/appeals/$APPEAL/decide" -H "Authorization: Bearer $REVIEWER" -H 'content-type: application/json' \
  -d '{"outcome":"reversed","reason":"Reporting context; the image is used for news."}' | j '["outcome"]'
curl -sf "$H/v1/decisions/$DECISION" -H "Authorization: Bearer $PLATFORM" | j '["status"]'

step "the published numbers (no token)"
curl -sf "$H/v1/numbers" | j '["decisions"]["by_action"]'

step "verify the whole log, then bob's notice proof, offline"
curl -sf "$H/log/key" > "$OUT/log.key"
$CANDOR log verify --url "$H/log" --key "$(cat "$OUT/log.key")"
curl -sf "$H/v1/notices/$NOTICE/proof" -H "Authorization: Bearer $PLATFORM" > "$OUT/notice.tlog-proof"
$CANDOR log verify-proof "$OUT/notice.tlog-proof" --key "$(cat "$OUT/log.key")"
