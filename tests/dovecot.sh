# A private Dovecot IMAP server on loopback, for tests/run and benches/ingest_e2e.sh.
# Source this file, then: start_dovecot DIR USERS  (users pd1..pdUSERS, password "secret")
# It exports POSTDESK_TEST_IMAP_PORT, POSTDESK_TEST_IMAPS_PORT, POSTDESK_TEST_IMAP_CERT.
# stop_dovecot stops it. Installs dovecot-imapd and openssl with apt-get when missing.

_dovecot_dir=""

_free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

start_dovecot() {
    local base=$1 users=${2:-64} i
    if ! command -v dovecot >/dev/null || ! command -v openssl >/dev/null; then
        [ "$(id -u)" = 0 ] || { echo "dovecot-imapd is missing; install it as root" >&2; return 1; }
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq dovecot-imapd openssl >/dev/null \
            || { echo "apt-get install dovecot-imapd failed" >&2; return 1; }
    fi
    local D=$base/dovecot
    _dovecot_dir=$D
    mkdir -p "$D/mail" "$D/run" "$D/state"
    chown 65534:65534 "$D/mail"
    openssl req -x509 -newkey rsa:2048 -nodes -keyout "$D/key.pem" -out "$D/cert.pem" -days 30 -subj "/CN=localhost" \
        -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" -addext "basicConstraints=critical,CA:FALSE" \
        -addext "extendedKeyUsage=serverAuth" >/dev/null 2>&1 || { echo "openssl could not make the test certificate" >&2; return 1; }
    for i in $(seq 1 "$users"); do echo "pd$i:{PLAIN}secret:65534:65534::$D/mail/pd$i"; done > "$D/users"
    local IMAP_PORT IMAPS_PORT
    IMAP_PORT=$(_free_port); IMAPS_PORT=$(_free_port)
    cat > "$D/dovecot.conf" <<CONF
instance_name = postdesk-tests-$$
base_dir = $D/run
state_dir = $D/state
log_path = $D/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = yes
ssl_cert = <$D/cert.pem
ssl_key = <$D/key.pem
disable_plaintext_auth = no
auth_mechanisms = plain login
last_valid_uid = 0
first_valid_uid = 100
mail_location = maildir:~/Maildir
mail_fsync = never
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%u $D/users
}
userdb {
  driver = passwd-file
  args = username_format=%u $D/users
}
service imap-login {
  inet_listener imap {
    address = 127.0.0.1
    port = $IMAP_PORT
  }
  inet_listener imaps {
    address = 127.0.0.1
    port = $IMAPS_PORT
    ssl = yes
  }
}
service pop3-login {
  inet_listener pop3 {
    port = 0
  }
  inet_listener pop3s {
    port = 0
  }
}
CONF
    dovecot -c "$D/dovecot.conf" || { echo "Dovecot did not start (see $D/dovecot.log)" >&2; return 1; }
    for _ in $(seq 1 50); do
        (exec 3<>"/dev/tcp/127.0.0.1/$IMAP_PORT") 2>/dev/null && break
        sleep 0.1
    done
    (exec 3<>"/dev/tcp/127.0.0.1/$IMAP_PORT") 2>/dev/null || { echo "Dovecot is not answering on 127.0.0.1:$IMAP_PORT" >&2; return 1; }
    echo "Dovecot $(dovecot --version | cut -d' ' -f1): imap 127.0.0.1:$IMAP_PORT, imaps $IMAPS_PORT, $users users"
    export POSTDESK_TEST_IMAP_PORT=$IMAP_PORT POSTDESK_TEST_IMAPS_PORT=$IMAPS_PORT POSTDESK_TEST_IMAP_CERT=$D/cert.pem
}

stop_dovecot() {
    if [ -n "$_dovecot_dir" ] && [ -f "$_dovecot_dir/run/master.pid" ]; then
        kill "$(cat "$_dovecot_dir/run/master.pid")" 2>/dev/null || true
    fi
}
