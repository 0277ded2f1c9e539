"""A capture SMTP server for the tests: every accepted message becomes DIR/NNNN.eml.

Usage: python3 tests/smtp_capture.py DIR PORT [starttls|tls CERT KEY]
Recipients whose address contains "reject" get 550 (permanent), "tempfail" get 451.
With starttls (STARTTLS required) or tls (TLS from the first byte) the server uses the
certificate CERT with key KEY and requires AUTH as user "agent", password "secret".
Writes DIR/ready once listening. Loopback only.
"""
import itertools
import pathlib
import ssl
import sys
import threading

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

outdir = pathlib.Path(sys.argv[1])
port = int(sys.argv[2])
outdir.mkdir(parents=True, exist_ok=True)
counter = itertools.count(1)


class Capture:
    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if "reject" in address:
            return "550 5.1.1 <%s>: Recipient address rejected: User unknown" % address
        if "tempfail" in address:
            return "451 4.3.0 Mailbox temporarily unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        n = next(counter)
        path = outdir / ("%04d.eml" % n)
        tmp = outdir / ("%04d.tmp" % n)
        tmp.write_bytes(envelope.original_content)
        tmp.rename(path)
        (outdir / ("%04d.rcpt" % n)).write_text("\n".join(envelope.rcpt_tos))
        return "250 2.0.0 Ok: captured as %04d" % n


def authenticator(server, session, envelope, mechanism, auth_data):
    ok = (
        isinstance(auth_data, LoginPassword)
        and auth_data.login == b"agent"
        and auth_data.password == b"secret"
    )
    return AuthResult(success=ok, handled=False)


options = {}
if len(sys.argv) > 3:
    mode, cert, key = sys.argv[3:6]
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    options = {"authenticator": authenticator, "auth_required": True}
    if mode == "starttls":
        options.update(tls_context=context, require_starttls=True)
    elif mode == "tls":
        # aiosmtpd only counts STARTTLS as TLS when deciding whether to offer AUTH.
        options.update(ssl_context=context, server_hostname="localhost", auth_require_tls=False)
    else:
        sys.exit("unknown mode %r: use starttls or tls" % mode)

controller = Controller(Capture(), hostname="127.0.0.1", port=port, **options)
controller.start()
(outdir / "ready").write_text("ok")
threading.Event().wait()
