#!/usr/bin/python3
# tests/e2e/lib/smtp-scripted.py - an SMTP server that misbehaves on
# purpose, for what a well-behaved one (smtp-server.py) never does. It
# offers PIPELINING, takes MAIL, refuses every RCPT (550 5.1.1), and then
# answers DATA as --data says:
#   354     go ahead anyway (a server that lost track of its recipients)
#   421     shut down the session
#   close   drop the connection without a word
# or, with --data slow, accepts every RCPT, takes the message, creates
# PORT_FILE.data, and answers 250 only after --delay seconds (a message
# still on the wire when the sender is told to stop).
#
#   smtp-scripted.py --port-file F --data 354|421|close|slow [--delay S]
import argparse, socket, threading, time

ap = argparse.ArgumentParser()
ap.add_argument("--port-file", required=True)
ap.add_argument("--data", choices=["354", "421", "close", "slow"], required=True)
ap.add_argument("--delay", type=float, default=3.0)
a = ap.parse_args()


def session(c):
    f = c.makefile("rb")
    c.sendall(b"220 scripted ESMTP\r\n")
    for line in f:
        verb = line[:4].upper()
        if verb in (b"EHLO", b"HELO"):
            c.sendall(b"250-scripted\r\n250 PIPELINING\r\n")
        elif verb == b"MAIL":
            c.sendall(b"250 2.1.0 ok\r\n")
        elif verb == b"RCPT":
            c.sendall(b"250 2.1.5 ok\r\n" if a.data == "slow" else b"550 5.1.1 no such user\r\n")
        elif verb == b"DATA":
            if a.data == "slow":
                c.sendall(b"354 go ahead\r\n")
                for body in f:
                    if body == b".\r\n":
                        break
                open(a.port_file + ".data", "w").close()
                time.sleep(a.delay)
                c.sendall(b"250 2.0.0 queued slowly\r\n")
            elif a.data == "354":
                c.sendall(b"354 go ahead\r\n")
            elif a.data == "421":
                c.sendall(b"421 4.3.2 shutting down\r\n")
                break
            else:
                break
        elif verb == b"RSET":
            c.sendall(b"250 2.0.0 ok\r\n")
        elif verb == b"QUIT":
            c.sendall(b"221 2.0.0 bye\r\n")
            break
        else:
            c.sendall(b"500 5.5.2 what\r\n")
    c.close()


s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen(16)
with open(a.port_file + ".tmp", "w") as pf:
    pf.write("%d\n" % s.getsockname()[1])
import os
os.rename(a.port_file + ".tmp", a.port_file)
while True:
    conn, _ = s.accept()
    threading.Thread(target=session, args=(conn,), daemon=True).start()
