#!/usr/bin/env python3
"""bench/gen-maillog.py - a large synthetic maillog made of real ones.

Replicates the given logs (written by a real Postfix, e.g.
tests/data/postfix/real-*.log) until the output reaches --mb megabytes.
Each copy gets fresh queue ids (so joins and state handling do real work
and ids are never reused by accident) and times shifted past the copy
before, lines keeping their spacing within a copy (a retry logged a second
after the first try stays a second later), so the output reads like a
long, busy log.

usage: gen-maillog.py [--mb N] LOG... > out.log
"""
import argparse
import re
import sys

QID = re.compile(r"\b[0-9A-F]{10,12}\b")


def seconds(ts):
    """Seconds into the day of an RFC 3164 "Mon dd hh:mm:ss"."""
    h, m, s = (int(x) for x in ts[7:15].split(":"))
    return h * 3600 + m * 60 + s


def templates(paths):
    """Each line as (seconds after the log's first line, pieces), pieces
    being text or an int naming a queue id."""
    out, ids = [], {}
    for path in paths:
        with open(path, encoding="utf-8") as f:
            start = None
            for line in f:
                t = seconds(line[:15])
                start = t if start is None else start
                body = line[15:]  # drop the RFC 3164 timestamp
                pieces, pos = [], 0
                for m in QID.finditer(body):
                    pieces.append(body[pos:m.start()])
                    pieces.append(ids.setdefault((path, m.group(0)), len(ids)))
                    pos = m.end()
                pieces.append(body[pos:])
                out.append(((t - start) % 86400, pieces))
    return out, len(ids)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mb", type=int, default=1024)
    ap.add_argument("logs", nargs="+")
    a = ap.parse_args()
    lines, nids = templates(a.logs)
    span = max(off for off, _ in lines) + 1
    months = "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split()
    limit = a.mb << 20
    written, copy, counter = 0, 0, 0
    out = sys.stdout
    stamps = {}

    def stamp(t):
        """2026-01-01 00:00:00 plus t seconds, as "Mon dd hh:mm:ss"."""
        if t not in stamps:
            day_of_year, s = divmod(t, 86400)
            h, s = divmod(s, 3600)
            mi, s = divmod(s, 60)
            month, day = 0, day_of_year % 365 + 1
            for mdays in (31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31):
                if day <= mdays:
                    break
                day -= mdays
                month += 1
            stamps.clear()
            stamps[t] = "%s %2d %02d:%02d:%02d" % (months[month], day, h, mi, s)
        return stamps[t]

    while written < limit:
        base = copy * span
        qids = ["%011X" % (counter + i) for i in range(nids)]
        counter += nids
        chunk = "".join(
            stamp(base + off) + "".join(p if isinstance(p, str) else qids[p] for p in pieces)
            for off, pieces in lines
        )
        out.write(chunk)
        written += len(chunk)
        copy += 1


if __name__ == "__main__":
    main()
