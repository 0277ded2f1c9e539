#!/usr/bin/env bash
# End-to-end ingest figure: N messages APPENDed to a private Dovecot on loopback, then
# one `postdesk fetch --once` into SQLite; prints messages per second and peak memory.
# Usage: benches/ingest_e2e.sh [N]   (default 5000; run as root, like tests/run)
# MODE=serve: an installed `postdesk serve` fetches them in the background instead; prints
# its resident memory before, during (sampled every 100 ms) and after the fetch.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-5000}
cargo build --release --quiet
T=$(mktemp -d /tmp/postdesk-bench.XXXXXX)
chmod 755 "$T"
. tests/dovecot.sh
trap 'stop_dovecot; rm -rf "$T"' EXIT
start_dovecot "$T" 1 >/dev/null
python3 - "$N" "$POSTDESK_TEST_IMAP_PORT" <<'PY'
import imaplib, sys, time
n, port = int(sys.argv[1]), int(sys.argv[2])
m = imaplib.IMAP4("127.0.0.1", port); m.login("pd1", "secret")
body = ("Hello, my order has not arrived yet. Could you check?\r\n\r\n"
        "On Mon, Jan 6, 2025 at 10:00 AM Support wrote:\r\n> We shipped it yesterday.\r\n")
t = time.time()
for i in range(n):
    reply = f"In-Reply-To: <e2e-{i - i % 4}@example.test>\r\n" if i % 4 else ""
    raw = (f"From: Customer {i % 500} <c{i % 500}@example.test>\r\nTo: support@company.test\r\n"
           f"Subject: Order {i - i % 4}\r\nMessage-ID: <e2e-{i}@example.test>\r\n{reply}"
           f"Date: Mon, 6 Jan 2025 10:00:00 +0300\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{body}")
    m.append("INBOX", None, None, raw.encode())
m.logout()
print(f"appended {n} messages in {time.time() - t:.1f}s", file=sys.stderr)
PY
echo secret > "$T/pw"
bin=./target/release/postdesk
if [ "${MODE:-fetch}" = serve ]; then
    PORT=${PORT:-18090}
    echo 'Bench-pass-2026!' > "$T/admin"
    $bin --data "$T/data" install --admin-email admin@company.test --admin-password-file "$T/admin" \
        --app-url "http://127.0.0.1:$PORT" >/dev/null
fi
$bin --data "$T/data" mailbox add --name Bench --email support@company.test --imap-host 127.0.0.1 \
    --imap-port "$POSTDESK_TEST_IMAP_PORT" --imap-security none --imap-user pd1 --imap-password-file "$T/pw" >/dev/null
if [ "${MODE:-fetch}" = serve ]; then
    POSTDESK_LISTEN=127.0.0.1:$PORT $bin --data "$T/data" serve >"$T/serve.log" 2>&1 &
    PID=$!
    trap 'kill $PID 2>/dev/null; stop_dovecot; rm -rf "$T"' EXIT
    python3 - "$N" "$PID" "$T/data/postdesk.db" <<'PY'
import sqlite3, sys, time
n, pid, db = int(sys.argv[1]), sys.argv[2], sys.argv[3]
def rss(key):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith(key + ":"):
            return int(line.split()[1]) / 1024
def stored():
    try:
        c = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
        return c.execute("SELECT COUNT(*) FROM inbound_messages").fetchone()[0]
    except sqlite3.Error:
        return 0
idle = None
start, peak, done = time.time(), 0.0, 0
while done < n:
    time.sleep(0.1)
    if idle is None:
        idle = rss("VmRSS")
    peak = max(peak, rss("VmRSS"))
    done = stored()
    if time.time() - start > 600:
        sys.exit(f"only {done} of {n} stored after 10 minutes")
print(f"serve: RSS {idle:.1f} MiB at start, peak {peak:.1f} MiB sampled (VmHWM {rss('VmHWM'):.1f} MiB) "
      f"while fetching {n} messages in {time.time() - start:.1f} s; {rss('VmRSS'):.1f} MiB after")
PY
    echo "serve log: $(grep -c 'database is locked' "$T/serve.log" || true) lines with 'database is locked', $(grep -c ' ERROR ' "$T/serve.log" || true) errors"
    exit 0
fi
start=$(date +%s.%N)
/usr/bin/time -f "%M" -o "$T/rss" $bin --data "$T/data" fetch --once >/dev/null
end=$(date +%s.%N)
python3 -c "import sys; n,s,e,r=int(sys.argv[1]),float(sys.argv[2]),float(sys.argv[3]),int(sys.argv[4]); print(f'{n} messages in {e-s:.2f}s = {n/(e-s):.0f} messages/s end to end; peak RSS {r/1024:.1f} MiB')" \
    "$N" "$start" "$end" "$(cat "$T/rss")"
