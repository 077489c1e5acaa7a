#!/usr/bin/env python3
"""collide64.py BODY: print a different canonical JSON body whose ak_hash64
(lib/hash.c) equals BODY's, for the dedupe tests.

BODY is the canonical body of a consent opt-out holding
"list":"news","method":"...","subject":"...". The answer is an opt-out
from another list, "offers", whose method text steers the hash:
lib/hash.c mixes each 8-byte block into its state by
h = (h ^ block) * K; h ^= h >> 29, which can be run backwards, so one
block can be chosen to bring the state to where BODY's is at the same
offset, after which the two share their last bytes. The method's other
characters are tried until that block is printable ASCII.
"""
import random
import sys

M64 = (1 << 64) - 1
K = 0x9E3779B97F4A7C15
K_INV = pow(K, -1, 1 << 64)
SEED = 0xCBF29CE484222325


def hash64(b, h=SEED):
    i = 0
    while i + 8 <= len(b):
        h = ((h ^ int.from_bytes(b[i:i + 8], "little")) * K) & M64
        h ^= h >> 29
        i += 8
    for c in b[i:]:
        h = ((h ^ c) * 0x100000001B3) & M64
    return h


def unshift(y):
    return y ^ (y >> 29) ^ (y >> 58)


def main():
    body = sys.argv[1].encode()
    value = body.index(b'"method":"') + len(b'"method":"')
    at = body.index(b'","subject":')
    # The shared tail starts at a block boundary inside the method's
    # value (or at its closing quote).
    starts = [j for j in range(value, at + 1) if j % 8 == 0]
    if not starts:
        sys.exit("collide64: no block boundary in the method; make it longer")
    j = starts[-1]
    tail = body[j:]
    target = hash64(body[:j])
    head = body[:value].replace(b'"list":"news"', b'"list":"offers"')
    rng = random.Random(1)
    letters = b"abcdefghijklmnopqrstuvwxyz"
    x = (unshift(target) * K_INV) & M64
    for _ in range(1000000):
        pre = head + bytes(rng.choice(letters) for _ in range((-len(head)) % 8 + 8))
        block = (hash64(pre) ^ x).to_bytes(8, "little")
        if all(0x20 <= c < 0x7F and c not in b'"\\' for c in block):
            out = pre + block + tail
            assert out != body and hash64(out) == hash64(body)
            print(out.decode())
            return
    sys.exit("collide64: nothing found")


main()
