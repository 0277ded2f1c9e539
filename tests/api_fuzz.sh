#!/usr/bin/env bash
# The API fuzz run (issue 8): schemathesis (from PyPI, in a venv cached under target/)
# against a running `postdesk serve` on a fresh SQLite install, with an admin's API key.
# Every operation in /api/openapi.json is called with generated data; the run fails on any
# 5xx or any answer that does not match the document. Sourced or run by tests/run;
# needs target/debug/postdesk built.
set -euo pipefail
cd "$(dirname "$0")/.."

fail() { printf '\ntests/api_fuzz.sh: FAILED: %s\n' "$*" >&2; exit 1; }

VENV=target/pyenv
SCHEMATHESIS_VERSION='schemathesis>=4.0,<5'
if ! "$VENV/bin/schemathesis" --version >/dev/null 2>&1; then
    echo "installing schemathesis into $VENV"
    python3 -m venv "$VENV" || fail "python3 -m venv failed (install python3-venv)"
    "$VENV/bin/pip" install -q "$SCHEMATHESIS_VERSION" || fail "pip could not install schemathesis from PyPI"
fi
echo "$("$VENV/bin/schemathesis" --version)"

BIN=target/debug/postdesk
[ -x "$BIN" ] || fail "$BIN is not built (cargo build)"
D=$(mktemp -d /tmp/postdesk-fuzz.XXXXXX)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
base="http://127.0.0.1:$port"
server_pid=""
cleanup() {
    if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
    rm -rf "$D"
}
trap cleanup EXIT

echo "fuzz-admin-password-1" >"$D/pw"
env -u POSTDESK_DATABASE_URL -u POSTDESK_LISTEN "$BIN" --data "$D" install \
    --admin-email admin@example.com --admin-password-file "$D/pw" --app-url "$base" >/dev/null \
    || fail "postdesk install failed"
"$BIN" --data "$D" mailbox add --name Support --email support@example.com >/dev/null || fail "mailbox add failed"
"$BIN" --data "$D" mailbox add --name Sales --email sales@example.com >/dev/null || fail "mailbox add failed"
KEY=$("$BIN" --data "$D" api-key create --user admin@example.com --name fuzz --rate 100000) || fail "api-key create failed"
POSTDESK_LISTEN="127.0.0.1:$port" RUST_LOG=warn "$BIN" --data "$D" serve >"$D/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 1 100); do
    curl -sf "$base/healthz" >/dev/null 2>&1 && break
    kill -0 "$server_pid" 2>/dev/null || { cat "$D/server.log" >&2; fail "postdesk serve exited"; }
    sleep 0.1
done
curl -sf "$base/healthz" >/dev/null || fail "postdesk serve did not answer on $base"

# Something to find: a customer and a conversation with a thread.
curl -sf -X POST "$base/api/customers" -H "X-FreeScout-API-Key: $KEY" -H 'Content-Type: application/json' \
    -d '{"firstName":"Mark","emails":[{"value":"mark@example.org"}]}' >/dev/null || fail "seeding a customer failed"
curl -sf -X POST "$base/api/conversations" -H "X-FreeScout-API-Key: $KEY" -H 'Content-Type: application/json' \
    -d '{"type":"email","mailboxId":1,"subject":"Hello","customer":{"email":"mark@example.org"},"threads":[{"type":"customer","text":"Hi"}]}' \
    >/dev/null || fail "seeding a conversation failed"

set +e
"$VENV/bin/schemathesis" run "$base/api/openapi.json" \
    --header "X-FreeScout-API-Key: $KEY" \
    --checks not_a_server_error,response_schema_conformance,status_code_conformance,content_type_conformance \
    --max-examples "${POSTDESK_FUZZ_EXAMPLES:-25}" \
    --request-timeout 20 \
    --no-color
status=$?
set -e
# Server-side failures are logged as "API call failed" (and panics as "panicked").
if grep -E 'panicked|API call failed|request failed' "$D/server.log" >/dev/null; then
    grep -E 'panicked|API call failed|request failed' "$D/server.log" | head -20 >&2
    fail "the server logged errors during the fuzz run"
fi
[ "$status" = 0 ] || fail "schemathesis found problems (see above)"
echo "api fuzz: no 5xx, every answer matches /api/openapi.json"
