#!/usr/bin/env python3
"""bench/gen-maillog.py - a large synthetic maillog made of real ones.

Replicates the given logs (written by a real Postfix, e.g.
tests/data/postfix/real-*.log) until the output reaches --mb megabytes.
Each copy gets fresh queue ids (so joins and state handling do real work
and ids are never reused by accident) and a timestamp one second later
than the copy before, so the output reads like a long, busy log.

usage: gen-maillog.py [--mb N] LOG... > out.log
"""
import argparse
import re
import sys

QID = re.compile(r"\b[0-9A-F]{10,12}\b")


def templates(paths):
    """Each line as a list of pieces: text, or an int naming a queue id."""
    out, ids = [], {}
    for path in paths:
        with open(path, encoding="utf-8") as f:
            for line in f:
                body = line[15:]  # drop the RFC 3164 timestamp
                pieces, pos = [], 0
                for m in QID.finditer(body):
                    pieces.append(body[pos:m.start()])
                    pieces.append(ids.setdefault((path, m.group(0)), len(ids)))
                    pos = m.end()
                pieces.append(body[pos:])
                out.append(pieces)
    return out, len(ids)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mb", type=int, default=1024)
    ap.add_argument("logs", nargs="+")
    a = ap.parse_args()
    lines, nids = templates(a.logs)
    months = "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split()
    limit = a.mb << 20
    written, copy, counter = 0, 0, 0
    out = sys.stdout
    while written < limit:
        # 2026-01-01 00:00:00 plus one second per copy, as "Mon dd hh:mm:ss".
        s = copy
        day_of_year, s = divmod(s, 86400)
        h, s = divmod(s, 3600)
        mi, s = divmod(s, 60)
        month, day = 0, day_of_year % 365 + 1
        for mdays in (31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31):
            if day <= mdays:
                break
            day -= mdays
            month += 1
        ts = "%s %2d %02d:%02d:%02d" % (months[month], day, h, mi, s)
        qids = ["%011X" % (counter + i) for i in range(nids)]
        counter += nids
        chunk = "".join(
            ts + "".join(p if isinstance(p, str) else qids[p] for p in pieces)
            for pieces in lines
        )
        out.write(chunk)
        written += len(chunk)
        copy += 1


if __name__ == "__main__":
    main()
