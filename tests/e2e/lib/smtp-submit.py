#!/usr/bin/python3
# tests/e2e/lib/smtp-submit.py - an SMTP submission client for the gateway
# tests: the standard library's smtplib (STARTTLS, AUTH PLAIN, SIZE), as
# the marketing tools akashi stands in front of would speak it.
#
#   smtp-submit.py PORT CA USER TOKEN MODE [ARGS...]
#
# CA is the PEM file to verify the server with after STARTTLS, or "-" for
# a session in clear (a gateway without TLS, from loopback).
# Prints what happened, one fact a line, for the test to match:
#   ehlo                     the EHLO keywords before and after STARTTLS
#   clear-auth               AUTH PLAIN before STARTTLS: "auth <code>"
#   mail-before-auth         MAIL without AUTH: "mail <code>"
#   login                    "login <code>" (535 for a bad token)
#   send FILE FROM RCPT...   "refused <rcpt> <code> <text>" per refused
#                            recipient, then "sent <code> <text>" or
#                            "error <code> <text>"
#   data FILE FROM RCPT...   MAIL without SIZE=, then RCPT and DATA by
#                            hand: "data <code> <text>"
#   pipeline FILE FROM RCPT... every command of the transaction in one
#                            write (RFC 2920), then the replies in order
#   raw FILE FROM RCPT       after DATA's 354 the bytes of FILE as they
#                            are (no dot-stuffing, line ends untouched),
#                            then QUIT: every reply until the server
#                            closes, "reply <code> <text>" each
import base64, smtplib, socket, ssl, sys

port, ca, user, token, mode = sys.argv[1:6]
args = sys.argv[6:]
ctx = ssl.create_default_context(cafile=ca) if ca != "-" else None


def connect(tls=ctx is not None):
    s = smtplib.SMTP("localhost", int(port), timeout=30)
    s.ehlo("client.test")
    if tls:
        s.starttls(context=ctx)
        s.ehlo("client.test")
    return s


def show(e):
    text = e.smtp_error.decode() if isinstance(e.smtp_error, bytes) else str(e.smtp_error)
    return "%d %s" % (e.smtp_code, text.replace("\n", " "))


if mode == "ehlo":
    s = smtplib.SMTP("localhost", int(port), timeout=30)
    s.ehlo("client.test")
    print("before", " ".join(sorted(s.esmtp_features)))
    s.starttls(context=ctx)
    s.ehlo("client.test")
    print("after", " ".join(sorted(s.esmtp_features)))
    s.quit()
elif mode == "clear-auth":
    s = connect(tls=False)
    resp = base64.b64encode(("\0%s\0%s" % (user, token)).encode()).decode()
    code, msg = s.docmd("AUTH", "PLAIN " + resp)
    print("auth", code, msg.decode())
    s.quit()
elif mode == "mail-before-auth":
    s = connect()
    code, msg = s.docmd("MAIL", "FROM:<news@example.com>")
    print("mail", code, msg.decode())
    s.quit()
elif mode == "login":
    s = connect()
    try:
        code, msg = s.login(user, token)
        print("login", code)
    except smtplib.SMTPAuthenticationError as e:
        print("login", show(e))
    s.quit()
elif mode == "raw":
    msg = open(args[0], "rb").read()
    s = connect()
    s.login(user, token)
    s.mail(args[1])
    for r in args[2:]:
        s.rcpt(r)
    code, text = s.docmd("DATA")
    print("reply", code, text.decode())
    s.sock.sendall(msg + b"QUIT\r\n")
    while True:
        try:
            code, text = s.getreply()
        except smtplib.SMTPServerDisconnected:
            break
        print("reply", code, text.decode())
        if code == 221:
            break
elif mode in ("send", "data", "pipeline"):
    msg = open(args[0], "rb").read()
    sender, rcpts = args[1], args[2:]
    s = connect()
    s.login(user, token)
    if mode == "send":
        try:
            refused = s.sendmail(sender, rcpts, msg)
            for r, (code, text) in sorted(refused.items()):
                print("refused", r, code, text.decode())
            print("sent", 250)
        except smtplib.SMTPRecipientsRefused as e:
            for r, (code, text) in sorted(e.recipients.items()):
                print("refused", r, code, text.decode())
            print("error all recipients refused")
        except (smtplib.SMTPDataError, smtplib.SMTPSenderRefused) as e:
            print("error", show(e))
    elif mode == "data":
        s.mail(sender)
        for r in rcpts:
            print("rcpt", r, s.rcpt(r)[0])
        try:
            code, text = s.data(msg)
            print("data", code, text.decode())
        except smtplib.SMTPDataError as e:
            print("data", show(e))
    else:
        # Everything at once, as a pipelining client may (RFC 2920 3.1);
        # the message is dot-stuffed by hand.
        body = msg.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
        body = b"\r\n".join((b"." + l if l.startswith(b".") else l) for l in body.split(b"\r\n"))
        if not body.endswith(b"\r\n"):
            body += b"\r\n"
        out = b"MAIL FROM:<%s>\r\n" % sender.encode()
        out += b"".join(b"RCPT TO:<%s>\r\n" % r.encode() for r in rcpts)
        out += b"DATA\r\n"
        s.sock.sendall(out)
        replies = [s.getreply() for _ in range(len(rcpts) + 2)]
        if replies[-1][0] == 354:
            s.sock.sendall(body + b".\r\nNOOP\r\n")
            replies.append(s.getreply())
            replies.append(s.getreply())
        for code, text in replies:
            print("reply", code, text.decode())
    try:
        s.quit()
    except smtplib.SMTPServerDisconnected:
        pass
