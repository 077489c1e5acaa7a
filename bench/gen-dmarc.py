#!/usr/bin/env python3
"""Write a large synthetic DMARC aggregate report for benchmarks.

usage: gen-dmarc.py SAMPLE.xml MEGABYTES > big.xml

The <record> elements of SAMPLE are repeated, each copy with its own
source address and count, until the output reaches MEGABYTES (10^6 bytes),
between the sample's own header (metadata, policy) and </feedback>.
Deterministic: the same arguments give the same bytes. Python 3 stdlib only.
"""
import re
import sys


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__.strip().splitlines()[2])
    text = open(sys.argv[1], encoding="utf-8").read()
    target = int(float(sys.argv[2]) * 1_000_000)
    first = text.index("<record>")
    last = text.rindex("</record>") + len("</record>")
    head, tail = text[:first], text[last:]
    records = re.findall(r"<record>.*?</record>", text[first:last], re.S)
    if not records:
        sys.exit("no <record> in " + sys.argv[1])
    out = sys.stdout
    out.write(head)
    size, i = len(head.encode()), 0
    while size < target:
        rec = records[i % len(records)]
        ip = "10.%d.%d.%d" % (i >> 16 & 255, i >> 8 & 255, i & 255)
        rec = re.sub(r"<source_ip>[^<]*</source_ip>", "<source_ip>%s</source_ip>" % ip, rec)
        rec = re.sub(r"<count>[^<]*</count>", "<count>%d</count>" % (i % 97 + 1), rec)
        chunk = rec + "\n  "
        out.write(chunk)
        size += len(chunk.encode())
        i += 1
    out.write(tail)


if __name__ == "__main__":
    main()
