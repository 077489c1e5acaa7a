#!/usr/bin/env python3
"""Check an akashi evidence bundle offline, without trusting akashi.

Run inside the unpacked bundle: python3 verify.py [DIRECTORY]. Standard library only; from
RFC 9162 section 2.1 and akashi's docs/EVIDENCE-FORMAT.md ("Evidence bundles"). Checks the
manifest, that checkpoint, key, proofs and custody agree, every inclusion proof (or the range
proof, which also shows the range complete) and the consistency proofs from earlier
checkpoints. Ed25519 signatures are left to openssl (VERIFY.md step 2): no Ed25519 here."""
import base64, hashlib, json, os, sys

problems = []

def fail(msg):
    problems.append(msg)
    print("FAIL: " + msg)

leaf_hash = lambda entry: hashlib.sha256(b"\x00" + entry).digest()
node_hash = lambda left, right: hashlib.sha256(b"\x01" + left + right).digest()

def file_sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()

def split(n):  # the largest power of two smaller than n (RFC 9162 2.1.1)
    return 1 << ((n - 1).bit_length() - 1)

def b64hash(text):
    h = base64.b64decode(text, validate=True)
    if len(h) == 32:
        return h
    raise ValueError("not a base64 SHA-256 hash")

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
            while fn and not fn & 1:  # up to where the path turns
                fn, sn = fn >> 1, sn >> 1
        else:
            r = node_hash(r, p)
        fn, sn = fn >> 1, sn >> 1
    return r if sn == 0 else None

def consistent(m, n, old_root, new_root, path):
    """RFC 9162 2.1.4.2: does path prove tree m is a prefix of tree n?"""
    if not 0 < m < n or not path:
        return False
    if m & (m - 1) == 0:  # m a power of two: the old root is the path's start
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
            while fn and not fn & 1:  # up to where the path turns
                fn, sn = fn >> 1, sn >> 1
        else:
            sr = node_hash(sr, c)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and fr == old_root and sr == new_root

def range_root(size, first, end, proof, leaves):
    """Walk the MTH recursion: a subtree outside leaves [first, end) is the next
    proof hash, one inside the MTH of the next leaves (StopIteration: too few)."""
    proof = iter(proof)
    def mth(n):  # the MTH of the next n leaves
        k = split(n) if n > 1 else 0
        return node_hash(mth(k), mth(n - k)) if k else next(leaves)
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
    origin, size, prefix = lines[0], lines[1], "\u2014 " + lines[0] + " "
    if not size.isdigit() or size[0] == "0" or not lines[5].startswith(prefix):
        raise ValueError("bad tree size or signature line")
    b64hash(lines[3][6:])
    sig = base64.b64decode(lines[5][len(prefix):], validate=True)
    if len(sig) != 68:
        raise ValueError("signature is not key id + 64 bytes")
    return origin, int(size), b64hash(lines[2]), sig[:4]

def entries(path, tally):
    """(seq, leaf hash) of each line of entries.jsonl; counts kinds in tally."""
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
            tally[kind] = tally.get(kind, 0) + 1
            yield seq, leaf_hash(line)

def check_range(rng, size, root, stream):
    first, last, want = rng["first"], rng["last"], rng["first"]
    def in_order():  # the leaves, while checking that seqs run first..last
        nonlocal want
        for seq, leaf in stream:
            if seq > last or seq < want:
                fail("entry seq %d: not part of the range here (added, repeated or "
                     "out of order)" % seq)
            elif seq > want:
                fail("entries seq %d-%d: missing from entries.jsonl" % (want, seq - 1))
            want = max(want, seq + 1)
            yield leaf
    leaves = in_order()
    try:
        got = range_root(size, first - 1, last, [b64hash(h) for h in rng["hashes"]], leaves)
    except StopIteration:  # too few leaves or proof hashes
        got = None
    extra = sum(1 for _ in leaves)  # too many leaves
    if want <= last:
        fail("entries seq %d-%d: missing from entries.jsonl" % (want, last))
    if got != root or extra:
        fail("range seq %d-%d: the entries and the range proof do not lead to the "
             "checkpoint's root (an entry or proof hash changed, added or removed)"
             % (first, last))

def check_each(proofs, size, root, stream):
    proven = {p["seq"]: [b64hash(h) for h in p["path"]] for p in proofs}
    if len(proven) != len(proofs):
        fail("proofs.json: a seq has two inclusion proofs")
    prev = 0
    for seq, leaf in stream:
        if seq <= prev:
            fail("entry seq %d: repeated or out of order" % seq)
        prev = seq
        if seq not in proven:
            fail("entry seq %d: no inclusion proof in proofs.json (added?)" % seq)
        elif inclusion_root(seq - 1, size, leaf, proven.pop(seq)) != root:
            fail("entry seq %d: its inclusion proof does not lead to the checkpoint's "
                 "root (entry or proof changed)" % seq)
    for seq in sorted(proven):
        fail("entry seq %d: in proofs.json but missing from entries.jsonl" % seq)

def main(d):
    read = lambda name: open(os.path.join(d, name), "rb").read()
    # 1. The manifest against the files that are there.
    listed = {}
    for no, line in enumerate(read("MANIFEST.sha256").decode().splitlines(), 1):
        digest, _, name = line.partition("  ")
        if len(digest) != 64 or not name or name in listed:
            fail("MANIFEST.sha256 line %d: not '<sha256>  <file>' or listed twice" % no)
        listed[name] = digest
    present = {os.path.relpath(os.path.join(top, f), d).replace(os.sep, "/")
               for top, _, files in os.walk(d) for f in files} - {"MANIFEST.sha256"}
    for name in sorted(present - set(listed)):
        fail("%s: unexpected file (not in MANIFEST.sha256)" % name)
    for name in sorted(listed):
        if name not in present:
            fail("%s: missing (listed in MANIFEST.sha256)" % name)
        elif file_sha256(os.path.join(d, name)) != listed[name]:
            fail("%s: changed (SHA-256 differs from MANIFEST.sha256; the file or its "
                 "line there was altered)" % name)
    # 2. The checkpoint and what must agree with it.
    origin, size, root, key_id = parse_note(read("checkpoint").decode())
    der = base64.b64decode("".join(read("pubkey.pem").decode().split("-----")[2].split()))
    if len(der) != 44 or der[:12] != bytes.fromhex("302a300506032b6570032100"):
        fail("pubkey.pem: not an Ed25519 public key")
    if hashlib.sha256(origin.encode() + b"\n\x01" + der[12:]).digest()[:4] != key_id:
        fail("checkpoint: key id does not match pubkey.pem")
    proofs, custody = json.loads(read("proofs.json")), json.loads(read("custody.json"))
    cp = custody["checkpoint"]
    if proofs["tree_size"] != size or cp["size"] != size:
        fail("proofs.json or custody.json name another tree size than the checkpoint")
    if b64hash(cp["root"]) != root or cp["origin"] != origin:
        fail("custody.json: checkpoint root or origin differs from the checkpoint")
    # 3. The entries against the root.
    by_kind = {}
    stream = entries(os.path.join(d, "entries.jsonl"), by_kind)
    if "range" in proofs:
        rng = proofs["range"]
        if proofs["entries"] or not 1 <= rng["first"] <= rng["last"] <= size:
            fail("proofs.json: a range proof with entry proofs, or a range not in the tree")
        check_range(rng, size, root, stream)
    else:
        check_each(proofs["entries"], size, root, stream)
    sel = custody["selection"]  # a range it claims says nothing else lies in it
    if (sel.get("proof"), sel.get("range") and (sel["range"].get("first"), sel["range"].get("last"))) \
            != (("range", (rng["first"], rng["last"])) if "range" in proofs else ("inclusion", None)):
        fail("custody.json: selection.proof and selection.range do not describe proofs.json")
    count = sum(by_kind.values())
    if custody["counts"] != {"by_kind": by_kind, "entries": count}:
        fail("custody.json: counts %s do not match entries.jsonl (%d, %s)"
             % (json.dumps(custody["counts"]), count, json.dumps(by_kind)))
    # 4. Earlier checkpoints: same log and key, and this one extends each.
    old, cdir = {}, os.path.join(d, "checkpoints")
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
    return count, size, origin, root

if __name__ == "__main__":
    top = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.abspath(__file__))
    try:
        n, size, origin, root = main(top)
    except (OSError, ValueError, KeyError, TypeError, UnicodeDecodeError) as e:
        fail("cannot read the bundle: %s: %s" % (type(e).__name__, e))
    if problems:
        sys.exit("verify.py: %d problem(s) found; do not rely on this bundle" % len(problems))
    print("verify.py: ok: %d entries proven against checkpoint %s size %d root %s "
          "(check its signature with openssl, VERIFY.md step 2)"
          % (n, origin, size, base64.b64encode(root).decode()))
