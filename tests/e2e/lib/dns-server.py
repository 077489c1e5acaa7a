#!/usr/bin/python3
# tests/e2e/lib/dns-server.py - a tiny authoritative DNS server on loopback
# UDP for the MX-delivery tests (smtp.dns_server), standard library only.
#
#   dns-server.py --port-file F ZONE
#
# ZONE has lines "name TYPE value": "ok.test MX 10 mx.ok.test",
# "mx.ok.test A 127.0.0.1", "nullmx.test MX 0 .". A name in the zone
# without records of the asked type gets an empty answer (NODATA); a name
# not in it gets NXDOMAIN.
import argparse, os, socket, struct

ap = argparse.ArgumentParser()
ap.add_argument("--port-file", required=True)
ap.add_argument("zone")
a = ap.parse_args()
TYPES = {"A": 1, "MX": 15, "AAAA": 28}
records = {}
for line in open(a.zone):
    parts = line.split()
    if len(parts) >= 3:
        records.setdefault(parts[0].lower().rstrip("."), []).append((TYPES[parts[1]], parts[2:]))


def name(n):
    n = n.rstrip(".")
    if not n:
        return b"\0"
    return b"".join(bytes([len(l)]) + l.encode() for l in n.split(".")) + b"\0"


def answer(q):
    qid, flags, qd = struct.unpack(">HHH", q[:6])
    i, labels = 12, []
    while q[i]:
        labels.append(q[i + 1:i + 1 + q[i]].decode().lower())
        i += 1 + q[i]
    qtype, qclass = struct.unpack(">HH", q[i + 1:i + 5])
    question = q[12:i + 5]
    qname = ".".join(labels)
    rrs = []
    if qname in records:
        for t, v in records[qname]:
            if t != qtype:
                continue
            if t == 1:
                data = socket.inet_aton(v[0])
            elif t == 28:
                data = socket.inet_pton(socket.AF_INET6, v[0])
            else:
                data = struct.pack(">H", int(v[0])) + name(v[1])
            rrs.append(b"\xc0\x0c" + struct.pack(">HHIH", t, 1, 60, len(data)) + data)
        rcode = 0
    else:
        rcode = 3
    head = struct.pack(">HHHHHH", qid, 0x8400 | rcode, 1, len(rrs), 0, 0)
    return head + question + b"".join(rrs)


s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", 0))
with open(a.port_file + ".tmp", "w") as f:
    f.write("%d\n" % s.getsockname()[1])
os.rename(a.port_file + ".tmp", a.port_file)
while True:
    q, peer = s.recvfrom(4096)
    try:
        s.sendto(answer(q), peer)
    except Exception:
        pass
