#!/usr/bin/python3
# tests/e2e/lib/smtp-server.py - a real SMTP server for the delivery tests
# (Debian python3-aiosmtpd), on loopback.
#
#   smtp-server.py --port-file F --spool DIR [--cert C --key K] [--no-starttls]
#                  [--auth USER:PASSWORD]
#
# Offers STARTTLS with the given certificate (unless --no-starttls) and
# PIPELINING, writes each accepted message to DIR/NNNNNN.eml with the
# envelope in DIR/NNNNNN.env ("from\nrcpt\ntls\n"), and logs sessions and
# commands to DIR/server.log. What happens to a recipient depends on its
# local part:
#   tempfail...   451 at RCPT the first time, accepted the next time
#   reject...     550 5.1.1 at RCPT
#   datafail...   554 5.7.1 after the data
# Anything else is accepted: "250 2.0.0 Ok: queued as Q<n>".
import argparse, asyncio, os, ssl, sys, threading, time
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP

ap = argparse.ArgumentParser()
ap.add_argument("--port-file", required=True)
ap.add_argument("--spool", required=True)
ap.add_argument("--cert")
ap.add_argument("--key")
ap.add_argument("--no-starttls", action="store_true")
ap.add_argument("--auth", help="USER:PASSWORD required (AUTH PLAIN/LOGIN, only under TLS)")
a = ap.parse_args()
os.makedirs(a.spool, exist_ok=True)
lock = threading.Lock()
state = {"n": 0, "tempfailed": set(), "sessions": 0}
log = open(os.path.join(a.spool, "server.log"), "a", buffering=1)


class Handler:
    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        session.host_name = hostname
        tls = "tls" if session.ssl else "plain"
        log.write("EHLO %s %s peer=%s\n" % (hostname, tls, session.peer[1]))
        return responses

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        local = address.split("@")[0].lower()
        log.write("RCPT %s\n" % address)
        if local.startswith("tempfail"):
            with lock:
                if address not in state["tempfailed"]:
                    state["tempfailed"].add(address)
                    return "451 4.3.0 try again later"
        if local.startswith("reject"):
            return "550 5.1.1 no such user"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 Ok"

    async def handle_DATA(self, server, session, envelope):
        if any(r.split("@")[0].lower().startswith("datafail") for r in envelope.rcpt_tos):
            return "554 5.7.1 message refused"
        with lock:
            state["n"] += 1
            n = state["n"]
        base = os.path.join(a.spool, "%06d" % n)
        with open(base + ".eml.tmp", "wb") as f:
            f.write(envelope.original_content)
        with open(base + ".env", "w") as f:
            f.write("%s\n%s\n%s\n" % (envelope.mail_from, ",".join(envelope.rcpt_tos),
                                      "tls" if session.ssl else "plain"))
        os.rename(base + ".eml.tmp", base + ".eml")
        log.write("DATA %d peer=%s\n" % (n, session.peer[1]))
        return "250 2.0.0 Ok: queued as Q%d" % n


ctx = None
if a.cert and not a.no_starttls:
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(a.cert, a.key)


from aiosmtpd.smtp import AuthResult


def authenticator(server, session, envelope, mechanism, auth_data):
    want = a.auth.encode().split(b":", 1)
    ok = auth_data.login == want[0] and auth_data.password == want[1]
    log.write("AUTH %s %s\n" % (mechanism, "ok" if ok else "refused"))
    return AuthResult(success=ok, handled=False)


class C(Controller):
    def factory(self):
        extra = {}
        if a.auth:
            extra = dict(authenticator=authenticator, auth_required=True, auth_require_tls=True)
        return SMTP(self.handler, tls_context=ctx, require_starttls=False,
                    decode_data=False, enable_SMTPUTF8=False, hostname="sink.test", **extra)


import socket
for attempt in range(20):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    try:
        c = C(Handler(), hostname="127.0.0.1", port=port)
        c.start()
        break
    except Exception:
        time.sleep(0.1)
else:
    sys.exit("smtp-server: no free port")
with open(a.port_file + ".tmp", "w") as f:
    f.write("%d\n" % port)
os.rename(a.port_file + ".tmp", a.port_file)
try:
    while True:
        time.sleep(3600)
except KeyboardInterrupt:
    pass
finally:
    c.stop()
