"""A capture SMTP server for the tests: every accepted message becomes DIR/NNNN.eml.

Usage: python3 tests/smtp_capture.py DIR PORT
Recipients whose address contains "reject" get 550 (permanent), "tempfail" get 451.
Writes DIR/ready once listening. Loopback only.
"""
import itertools
import pathlib
import sys
import threading

from aiosmtpd.controller import Controller

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


controller = Controller(Capture(), hostname="127.0.0.1", port=port)
controller.start()
(outdir / "ready").write_text("ok")
threading.Event().wait()
