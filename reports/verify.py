#!/usr/bin/env python3
"""Check an akashi evidence bundle offline, without trusting akashi.

Usage, inside the unpacked bundle:  python3 verify.py [DIRECTORY]

Written from RFC 9162 section 2.1 and the akashi evidence format
(docs/EVIDENCE-FORMAT.md, "Evidence bundles"), with the Python 3 standard
library only. It checks that
  1. MANIFEST.sha256 lists every file of the bundle and each file has the
     listed SHA-256 (the same check as `sha256sum -c MANIFEST.sha256`, plus
     files that are there but not listed);
  2. the checkpoint's fields (origin, size, root, key id) agree with
     pubkey.pem, proofs.json, custody.json and the earlier checkpoints;
  3. every entry's leaf hash and inclusion proof lead to the checkpoint's
     root -- or, for a --seq range, that the entries of the range, all of
     them and nothing else, re-derive the root with the range proof;
  4. every earlier checkpoint is a prefix of this one (consistency proofs).
It does NOT check the Ed25519 signatures of the checkpoints: the standard
library has no Ed25519. VERIFY.md shows how to check them with openssl.
Exit status 0 when everything holds; otherwise each failure is printed.
"""
import base64
import hashlib
import json
import os
import sys

problems = []


def fail(msg):
    problems.append(msg)
    print("FAIL: " + msg)


def leaf_hash(entry):
    return hashlib.sha256(b"\x00" + entry).digest()


def node_hash(left, right):
    return hashlib.sha256(b"\x01" + left + right).digest()


def split(n):
    """The largest power of two smaller than n (RFC 9162 2.1.1)."""
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def b64hash(text):
    h = base64.b64decode(text, validate=True)
    if len(h) != 32:
        raise ValueError("not a base64 SHA-256 hash")
    return h


def inclusion_root(index, size, leaf, path):
    """RFC 9162 2.1.3.2: the root an inclusion proof leads to, or None."""
    if index >= size:
        return None
    fn, sn, r = index, size - 1, leaf
    for p in path:
        if sn == 0:
            return None
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while fn and not fn & 1:
                fn, sn = fn >> 1, sn >> 1
        else:
            r = node_hash(r, p)
        fn, sn = fn >> 1, sn >> 1
    return r if sn == 0 else None


def consistent(m, n, old_root, new_root, path):
    """RFC 9162 2.1.4.2: does path prove tree m is a prefix of tree n?"""
    if not 0 < m < n or not path:
        return False
    if m & (m - 1) == 0:
        path = [old_root] + path
    fn, sn = m - 1, n - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr, sr = node_hash(c, fr), node_hash(c, sr)
            while fn and not fn & 1:
                fn, sn = fn >> 1, sn >> 1
        else:
            sr = node_hash(sr, c)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and fr == old_root and sr == new_root


def range_root(size, first, end, proof, leaves):
    """The root from a range proof: walk the MTH recursion; a subtree outside
    leaves [first, end) is the next proof hash, one inside is the MTH of the
    next leaves. Raises StopIteration if hashes or leaves run out."""
    proof = iter(proof)

    def mth(n):
        if n == 1:
            return next(leaves)
        k = split(n)
        return node_hash(mth(k), mth(n - k))

    def walk(lo, hi):
        if hi <= first or lo >= end:
            return next(proof)
        if first <= lo and hi <= end:
            return mth(hi - lo)
        k = split(hi - lo)
        return node_hash(walk(lo, lo + k), walk(lo + k, hi))

    root = walk(0, size)
    return root if next(proof, None) is None else None


def parse_note(text):
    """A C2SP checkpoint: origin, size, root, chain, blank, signature line."""
    lines = text.split("\n")
    if len(lines) != 7 or lines[4] or lines[6] or not lines[3].startswith("chain "):
        raise ValueError("not a checkpoint note")
    origin, size = lines[0], lines[1]
    if not size.isdigit() or (size != "0" and size[0] == "0"):
        raise ValueError("bad tree size")
    b64hash(lines[3][6:])
    prefix = "\u2014 " + origin + " "
    if not lines[5].startswith(prefix):
        raise ValueError("bad signature line")
    sig = base64.b64decode(lines[5][len(prefix):], validate=True)
    if len(sig) != 68:
        raise ValueError("signature is not 4 + 64 bytes")
    return origin, int(size), b64hash(lines[2]), sig[:4]


def entries(path):
    """(seq, kind, leaf hash) of each line of entries.jsonl, in file order."""
    with open(path, "rb") as f:
        for no, line in enumerate(f, 1):
            if not line.endswith(b"\n"):
                fail("entries.jsonl line %d: no newline at the end" % no)
            line = line[:-1] if line.endswith(b"\n") else line
            try:
                e = json.loads(line)
                seq, kind = e["seq"], e["kind"]
                if type(seq) is not int or seq < 1:
                    raise ValueError
            except (ValueError, KeyError, TypeError):
                fail("entries.jsonl line %d: not an entry with a seq" % no)
                continue
            yield seq, kind, leaf_hash(line)


def main(d):
    read = lambda name: open(os.path.join(d, name), "rb").read()
    # 1. The manifest against the files that are there.
    listed = {}
    for no, line in enumerate(read("MANIFEST.sha256").decode().splitlines(), 1):
        digest, _, name = line.partition("  ")
        if len(digest) != 64 or not name or name in listed:
            fail("MANIFEST.sha256 line %d: not '<sha256>  <file>' or listed twice" % no)
        listed[name] = digest
    present = set()
    for root, _, files in os.walk(d):
        for f in files:
            present.add(os.path.relpath(os.path.join(root, f), d).replace(os.sep, "/"))
    present.discard("MANIFEST.sha256")
    for name in sorted(present - set(listed)):
        fail("%s: unexpected file (not in MANIFEST.sha256)" % name)
    for name in sorted(listed):
        if name not in present:
            fail("%s: missing (listed in MANIFEST.sha256)" % name)
        elif hashlib.sha256(read(name)).hexdigest() != listed[name]:
            fail("%s: changed (SHA-256 differs from MANIFEST.sha256)" % name)

    # 2. The checkpoint and what must agree with it.
    origin, size, root, key_id = parse_note(read("checkpoint").decode())
    pem = read("pubkey.pem").decode().split("-----")[2]
    der = base64.b64decode("".join(pem.split()))
    if len(der) != 44 or der[:12] != bytes.fromhex("302a300506032b6570032100"):
        fail("pubkey.pem: not an Ed25519 public key")
    kid = hashlib.sha256(origin.encode() + b"\n\x01" + der[12:]).digest()[:4]
    if kid != key_id:
        fail("checkpoint: key id does not match pubkey.pem")
    proofs = json.loads(read("proofs.json"))
    custody = json.loads(read("custody.json"))
    cp = custody["checkpoint"]
    if proofs["tree_size"] != size or cp["size"] != size:
        fail("proofs.json or custody.json name another tree size than the checkpoint")
    if b64hash(cp["root"]) != root or cp["origin"] != origin:
        fail("custody.json: checkpoint root or origin differs from the checkpoint")

    # 3. The entries against the root.
    tally = {"count": 0, "by_kind": {}}

    def leaves(check):
        for seq, kind, leaf in entries(os.path.join(d, "entries.jsonl")):
            tally["count"] += 1
            tally["by_kind"][kind] = tally["by_kind"].get(kind, 0) + 1
            check(seq, leaf)
            yield leaf

    rng = proofs.get("range")
    if rng is not None:
        first, last, want = rng["first"], rng["last"], [rng["first"]]
        if proofs["entries"] or not 1 <= first <= last <= size:
            fail("proofs.json: a range proof with entry proofs, or a range beyond the tree")

        def in_order(seq, leaf):
            if seq > last or seq < want[0]:
                fail("entry seq %d: not expected here (added, repeated or out of order)" % seq)
            elif seq > want[0]:
                fail("entries seq %d-%d: missing from entries.jsonl" % (want[0], seq - 1))
            want[0] = max(want[0], seq + 1)

        stream = leaves(in_order)
        try:
            got = range_root(size, first - 1, last, [b64hash(h) for h in rng["hashes"]], stream)
        except StopIteration:
            got = None
        extra = sum(1 for _ in stream)
        if want[0] <= last:
            fail("entries seq %d-%d: missing from entries.jsonl" % (want[0], last))
        if got != root or extra:
            fail("range seq %d-%d: the entries and the range proof do not lead to the "
                 "checkpoint's root (an entry or a proof hash changed, added or removed)"
                 % (first, last))
    else:
        proven = {p["seq"]: [b64hash(h) for h in p["path"]] for p in proofs["entries"]}
        if len(proven) != len(proofs["entries"]):
            fail("proofs.json: a seq has two inclusion proofs")
        prev = [0]

        def proved(seq, leaf):
            if seq <= prev[0]:
                fail("entry seq %d: repeated or out of order" % seq)
            prev[0] = seq
            if seq not in proven:
                fail("entry seq %d: no inclusion proof in proofs.json (added?)" % seq)
            elif inclusion_root(seq - 1, size, leaf, proven.pop(seq)) != root:
                fail("entry seq %d: its inclusion proof does not lead to the checkpoint's "
                     "root (entry or proof changed)" % seq)

        for _ in leaves(proved):
            pass
        for seq in sorted(proven):
            fail("entry seq %d: in proofs.json but missing from entries.jsonl" % seq)
    counts = custody["counts"]
    if counts["entries"] != tally["count"] or counts["by_kind"] != tally["by_kind"]:
        fail("custody.json: counts %s do not match entries.jsonl (%d, %s)"
             % (json.dumps(counts), tally["count"], json.dumps(tally["by_kind"])))

    # 4. Earlier checkpoints: same log and key, and this one extends each.
    old = {}
    cdir = os.path.join(d, "checkpoints")
    for name in sorted(os.listdir(cdir)) if os.path.isdir(cdir) else []:
        try:
            o, m, r, k = parse_note(read("checkpoints/" + name).decode())
        except (ValueError, UnicodeDecodeError) as e:
            fail("checkpoints/%s: %s" % (name, e))
            continue
        if o != origin or k != key_id or str(m) != name or m >= size:
            fail("checkpoints/%s: another origin, key or size than expected" % name)
        old[m] = r
    if sorted(c["size"] for c in custody["earlier_checkpoints"]) != sorted(old):
        fail("custody.json: earlier_checkpoints differ from checkpoints/")
    for c in proofs["consistency"]:
        m = c["old_size"]
        if m not in old:
            fail("proofs.json: consistency proof from size %d without checkpoints/%d" % (m, m))
        elif not consistent(m, size, old.pop(m), root, [b64hash(h) for h in c["path"]]):
            fail("checkpoints/%d: consistency proof to size %d does not hold" % (m, size))
    for m in sorted(old):
        fail("checkpoints/%d: no consistency proof in proofs.json" % m)
    return tally["count"], size, origin, root


if __name__ == "__main__":
    top = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.abspath(__file__))
    try:
        n, size, origin, root = main(top)
    except (OSError, ValueError, KeyError, TypeError, UnicodeDecodeError) as e:
        fail("cannot read the bundle: %s: %s" % (type(e).__name__, e))
    if problems:
        print("verify.py: %d problem(s) found; do not rely on this bundle" % len(problems))
        sys.exit(1)
    print("verify.py: ok: %d entries proven against checkpoint %s size %d root %s "
          "(check its signature with openssl, VERIFY.md step 2)"
          % (n, origin, size, base64.b64encode(root).decode()))
