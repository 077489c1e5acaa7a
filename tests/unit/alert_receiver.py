#!/usr/bin/python3
"""tests/unit/alert_receiver.py - the peers test_alert_sinks talks to.

usage: alert_receiver.py webhook OUT SECRET FAILS [CERT KEY]
       alert_receiver.py udp OUT
       alert_receiver.py tcp OUT

Listens on 127.0.0.1 on a free port, prints "PORT n" and then writes one
JSON line per request or message received to OUT (flushed at once):

  webhook: answers 500 to the first FAILS requests and 200 after; records
      method, path, headers, body, the status it answered, the time, and
      whether X-Akashi-Signature is sha256=<hex HMAC-SHA256(SECRET, body)>
      (checked here, independently of the C side). With CERT and KEY it
      speaks HTTPS.
  udp / tcp: one syslog message per datagram (udp) or per octet-counted
      frame, "LEN SP MSG" of RFC 6587 3.4.1 (tcp); each is parsed as an
      RFC 5424 message and recorded field by field.
"""
import base64
import hashlib
import hmac
import http.server
import json
import re
import socket
import socketserver
import ssl
import sys
import time

mode, out_path = sys.argv[1], sys.argv[2]
out = open(out_path, "a", buffering=1)


def record(obj):
    out.write(json.dumps(obj) + "\n")
    out.flush()


# RFC 5424: PRI VERSION SP TIMESTAMP SP HOSTNAME SP APP-NAME SP PROCID SP
# MSGID SP STRUCTURED-DATA [SP MSG]
SYSLOG = re.compile(
    rb"<(\d{1,3})>(\d) (\S+) ([!-~]{1,255}) ([!-~]{1,48}) ([!-~]{1,128}) ([!-~]{1,32}) "
    rb"(-|\[.*?\])(?: (.*))?\Z",
    re.S,
)
TS = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,6})?(Z|[+-]\d\d:\d\d)\Z")


def syslog_record(data, transport):
    m = SYSLOG.match(data)
    if not m:
        record({"transport": transport, "parsed": False,
                "raw": base64.b64encode(data).decode()})
        return
    msg = m.group(9) or b""
    bom = msg.startswith(b"\xef\xbb\xbf")
    record({
        "transport": transport, "parsed": True,
        "pri": int(m.group(1)), "version": int(m.group(2)),
        "timestamp": m.group(3).decode(),
        "timestamp_ok": bool(TS.match(m.group(3).decode())),
        "hostname": m.group(4).decode(), "app": m.group(5).decode(),
        "procid": m.group(6).decode(), "msgid": m.group(7).decode(),
        "sd": m.group(8).decode(), "bom": bom,
        "msg": (msg[3:] if bom else msg).decode("utf-8"),
    })


if mode == "webhook":
    secret, fails = sys.argv[3].encode(), int(sys.argv[4])
    seen = [0]

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            n = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(n)
            want = "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()
            got = self.headers.get("X-Akashi-Signature", "")
            seen[0] += 1
            status = 500 if seen[0] <= fails else 200
            record({
                "n": seen[0], "time": time.monotonic(), "method": self.command,
                "path": self.path, "status": status,
                "content_type": self.headers.get("Content-Type"),
                "host": self.headers.get("Host"),
                "signature": got, "sig_ok": hmac.compare_digest(want, got),
                "body": body.decode("utf-8"),
            })
            self.send_response(status)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args):
            pass

    srv = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    if len(sys.argv) > 6:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(sys.argv[5], sys.argv[6])
        srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    print("PORT", srv.server_address[1], flush=True)
    srv.serve_forever()

elif mode == "udp":
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    print("PORT", s.getsockname()[1], flush=True)
    while True:
        syslog_record(s.recv(65536), "udp")

elif mode == "tcp":
    class Frames(socketserver.BaseRequestHandler):
        def handle(self):
            buf = b""
            while True:
                chunk = self.request.recv(65536)
                if not chunk:
                    return
                buf += chunk
                while True:
                    sp = buf.find(b" ")
                    if sp <= 0 or not buf[:sp].isdigit():
                        if sp > 0:
                            record({"transport": "tcp", "parsed": False, "framing": False})
                            return
                        break
                    n = int(buf[:sp])
                    if len(buf) < sp + 1 + n:
                        break
                    syslog_record(buf[sp + 1:sp + 1 + n], "tcp")
                    buf = buf[sp + 1 + n:]

    srv = socketserver.TCPServer(("127.0.0.1", 0), Frames)
    print("PORT", srv.server_address[1], flush=True)
    srv.serve_forever()
