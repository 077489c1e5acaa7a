#!/usr/bin/python3
# tests/e2e/lib/dkim-verify.py - check every DKIM signature of messages
# with an independent verifier (Debian python3-dkim; Ed25519 needs
# python3-nacl), serving the test's public keys instead of DNS.
#
#   dkim-verify.py KEYS MESSAGE...
#
# KEYS holds lines "selector._domainkey.domain. TXT-record-text". Prints one
# line per message: "FILE ok a=rsa-sha256 a=ed25519-sha256" or
# "FILE FAIL <why>"; exits 1 if any signature fails.
import re, sys
import dkim

keys = {}
for line in open(sys.argv[1]):
    line = line.strip()
    if line:
        name, txt = line.split(" ", 1)
        keys[name.encode()] = txt.encode()


def dnsfunc(name, timeout=5):
    return keys.get(name if name.endswith(b".") else name + b".")


bad = 0
for path in sys.argv[2:]:
    msg = open(path, "rb").read()
    d = dkim.DKIM(msg)
    n = len(re.findall(rb"(?im)^DKIM-Signature:", msg.split(b"\r\n\r\n", 1)[0]))
    algs = []
    ok = n > 0
    for i in range(n):
        try:
            good = d.verify(idx=i, dnsfunc=dnsfunc)
        except Exception as e:
            good = False
        sig = dict(d.signature_fields)
        alg = sig.get(b"a", b"?").decode()
        algs.append(("a=%s" % alg) if good else ("a=%s:FAIL" % alg))
        ok = ok and good
    print("%s %s %s" % (path, "ok" if ok else "FAIL", " ".join(algs) or "no signature"))
    bad += not ok
sys.exit(1 if bad else 0)
