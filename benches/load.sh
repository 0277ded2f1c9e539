#!/usr/bin/env bash
# Load figures for the agent's pages (docs/BENCHMARKS.md): seeds N conversations once
# (kept under target/bench-data/), starts the release `postdesk serve`, times the cold
# start to the first 200 on /healthz, logs in as the admin with curl and loads each page
# with wrk at concurrency 1, 8 and 64 through the same session cookie, printing
# requests/s and p50/p95/p99, then the server's resident memory idle and at its peak.
#
# Usage: benches/load.sh [N] [SECONDS]      (defaults: 100000 conversations, 10 s per run)
#   DB=postgres   seed and serve PostgreSQL (database pd_load_N on 127.0.0.1:5432) instead
#                 of SQLite
#   PATHS="…"     the paths to load; {id} is a random conversation, {mailbox} the busiest
#                 mailbox, {q} a search word (default: mailbox list (Unassigned and Closed),
#                 conversation page, API mailbox list, search (last: slow queries it leaves
#                 queued would hold the pool for the next path); a path answering other than
#                 200 is skipped)
#   CONCURRENCY="1 8 64"   PORT=18089
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-100000}
SECONDS_PER_RUN=${2:-10}
DB=${DB:-sqlite}
PORT=${PORT:-18089}
CONCURRENCY=${CONCURRENCY:-"1 8 64"}
PATHS=${PATHS:-"/mailboxes/{mailbox} /mailboxes/{mailbox}?folder=closed /conversations/{id} /api/mailboxes /search?q={q}"}
ROOT=$PWD
cargo build --release --quiet --bin postdesk
bin=$ROOT/target/release/postdesk
D=$ROOT/target/bench-data/load-$DB-$N
BASE=http://127.0.0.1:$PORT
ADMIN=admin@shop.example

case $DB in
  sqlite) URL="sqlite://postdesk.db" ;;
  postgres) URL="postgres://postgres@127.0.0.1:5432/pd_load_$N" ;;
  *) echo "DB must be sqlite or postgres" >&2; exit 2 ;;
esac

sql() {
  case $DB in
    sqlite) sqlite3 "$D/postdesk.db" "$1" ;;
    postgres) psql -qAt -h 127.0.0.1 -U postgres "pd_load_$N" -c "$1" ;;
  esac
}

if [ ! -f "$D/seeded" ]; then
  rm -rf "$D"
  mkdir -p "$D"
  if [ "$DB" = postgres ]; then
    psql -q -h 127.0.0.1 -U postgres -c "DROP DATABASE IF EXISTS pd_load_$N WITH (FORCE)"
    psql -q -h 127.0.0.1 -U postgres -c "CREATE DATABASE pd_load_$N"
  fi
  echo "Bench-pass-$RANDOM-2026" > "$D/admin-password"
  "$bin" --data "$D" install --database-url "$URL" --admin-email "$ADMIN" \
    --admin-password-file "$D/admin-password" --app-url "$BASE" >/dev/null
  /usr/bin/time -f "seed: %e s wall, %U s user, peak RSS %M KiB" \
    "$bin" --data "$D" seed --conversations "$N"
  if [ "$DB" = sqlite ]; then
    echo "database file: $(du -h "$D/postdesk.db" | cut -f1)"
  fi
  touch "$D/seeded"
fi
sql "SELECT id FROM conversations WHERE state = 2 ORDER BY id" | awk 'NR % 7 == 1' > "$D/ids.txt"
MAILBOX=$(sql "SELECT mailbox_id FROM conversations GROUP BY mailbox_id ORDER BY COUNT(*) DESC LIMIT 1")
echo "$(wc -l < "$D/ids.txt") conversation ids to pick from; mailbox $MAILBOX has the most"

# Cold start: from exec to the first 200 on /healthz, after migrations.
"$bin" --data "$D" migrate >/dev/null
PIDFILE=$D/serve.pid
python3 - "$bin" "$D" "$PORT" "$PIDFILE" <<'PY'
import http.client, subprocess, sys, time, os
binary, data, port, pidfile = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
env = dict(os.environ, POSTDESK_LISTEN=f"127.0.0.1:{port}")
log = open(os.path.join(data, "serve.log"), "ab")
start = time.perf_counter()
p = subprocess.Popen([binary, "--data", data, "serve"], env=env, stdout=log, stderr=log,
                     start_new_session=True)
open(pidfile, "w").write(str(p.pid))
while True:
    if p.poll() is not None:
        sys.exit(f"postdesk serve exited with {p.returncode}; see {data}/serve.log")
    try:
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
        c.request("GET", "/healthz")
        if c.getresponse().status == 200:
            break
    except OSError:
        pass
    time.sleep(0.001)
print(f"cold start to first 200 on /healthz: {(time.perf_counter() - start) * 1000:.0f} ms")
PY
PID=$(cat "$PIDFILE")
trap 'kill "$PID" 2>/dev/null || true' EXIT

# Log in once; every wrk connection reuses the session cookie.
JAR=$D/cookies.txt
rm -f "$JAR"
TOKEN=$(curl -s -c "$JAR" -b "$JAR" "$BASE/login" | grep -o 'name="csrf_token" value="[^"]*"' | sed 's/.*value="//; s/"$//')
CODE=$(curl -s -o /dev/null -w '%{http_code}' -c "$JAR" -b "$JAR" --data-urlencode "csrf_token=$TOKEN" \
  --data-urlencode "email=$ADMIN" --data-urlencode "password=$(cat "$D/admin-password")" "$BASE/login")
[ "$CODE" = 303 ] || { echo "login failed: HTTP $CODE" >&2; exit 1; }
COOKIE=$(sed 's/^#HttpOnly_//' "$JAR" | awk '!/^#/ && NF >= 7 { printf "%s=%s; ", $6, $7 }')

rss() { awk -v k="$1" '$1 == k":" { printf "%.1f MiB", $2 / 1024 }' "/proc/$PID/status"; }
sleep 1
echo "RSS idle (after login): $(rss VmRSS)"
echo
echo "| path | concurrency | requests/s | p50 ms | p95 ms | p99 ms | max ms | failed |"
echo "| --- | --- | --- | --- | --- | --- | --- | --- |"
FIRST_ID=$(head -1 "$D/ids.txt")
for template in $PATHS; do
  path=${template//\{mailbox\}/$MAILBOX}
  probe=${path//\{id\}/$FIRST_ID}
  probe=${probe//\{q\}/order}
  code=$(curl -s -o /dev/null -w '%{http_code}' -H "Cookie: $COOKIE" "$BASE$probe")
  if [ "$code" != 200 ]; then
    echo "| \`$template\` | – | skipped: HTTP $code | | | | | |"
    continue
  fi
  for c in $CONCURRENCY; do
    threads=$(( c < 2 ? c : 2 ))
    line=$(IDS="$D/ids.txt" wrk -t"$threads" -c"$c" -d"${SECONDS_PER_RUN}s" -H "Cookie: $COOKIE" \
      -s "$ROOT/benches/load.lua" "$BASE" -- "$path" | grep '^RESULT')
    eval "${line#RESULT }"
    # shellcheck disable=SC2154 # set by the eval of wrk's RESULT line
    echo "| \`$template\` | $c | $rps | $p50 | $p95 | $p99 | $max | $((non2xx + socket_errors)) of $requests |"
  done
done
echo
echo "RSS after the load: $(rss VmRSS), peak $(rss VmHWM)"
