#!/bin/bash
# tests/e2e/lib/postfix-instance.sh - a private, throw-away Postfix on
# loopback, so tests read maillog lines a real Postfix wrote.
#
# The instance has its own config, queue and data directories under one
# temporary directory, listens on 127.0.0.1:<free port>, logs through
# postlogd to a file (maillog_file: no syslog daemon needed) and relays to
# smtp-sink processes on loopback. It never touches /etc/postfix, the
# system queue or a system Postfix that may be running: every command gets
# -c <our config directory>.
#
# Recipient domains decide the fate of each recipient (transport_maps):
#   ok.test       smtp-sink that accepts              -> status=sent
#   defer.test    smtp-sink answering 4xx to RCPT     -> status=deferred
#   bounce.test   smtp-sink answering 5xx to RCPT     -> status=bounced
#   error.test    error(8)                            -> status=bounced, relay=none
#   discard.test  discard(8)                          -> status=sent, relay=none
#   pipe.test     pipe(8) running /bin/true           -> status=sent, relay=akpipe
#   localhost     local(8), alias to a file           -> status=sent, relay=local
#   team@ok.test  virtual alias to two ok.test boxes  -> orig_to=<team@ok.test>
# Senders are @sender.test, routed to the accepting sink, so Postfix's own
# bounce notices are delivered too. A message with the null sender to
# defer.test expires at once (bounce_queue_lifetime = 0 applies to null-sender
# mail only): qmgr logs "status=expired, returned to sender" for it, while
# ordinary deferred mail stays deferred (maximal_queue_lifetime = 1d).
# header_checks log X-Akashi-Campaign / -List / -Stream with INFO.
#
# Use as a library:
#   . tests/e2e/lib/postfix-instance.sh
#   pfi_setup                      # in a TAP script: skip it unless root and postfix,
#                                  # pfi_start (or bail), pfi_stop at exit
#   pfi_start [SYSLOG_NAME]        # sets PFI_DIR PFI_PORT PFI_LOG; trap pfi_stop EXIT
#   pfi_send N [quoted]            # N messages of the standard mix (+1 that expires;
#                                  # "quoted": +1 to a quoted local-part that looks
#                                  # like log fields, '"odd>, relay=evil, ..."@ok.test')
#   pfi_wait [TIMEOUT]             # until every sent message has its final/deferred status
#   pfi_stop                       # stop Postfix, kill the sinks, remove PFI_DIR
# or as a script:
#   postfix-instance.sh capture OUT.log [N] [SYSLOG_NAME]
#
# Needs root (Postfix drops to the postfix user), packages postfix and
# python3. All functions return non-zero on failure with a message on stderr.

PFI_DIR=""
PFI_PORT=""
PFI_LOG=""
PFI_SINK_PORT=""
PFI_SENT=""      # file listing the Message-IDs pfi_send used, one a line

pfi_log() { echo "postfix-instance: $*" >&2; }

# pfi_main_cf DIR SYSLOG_NAME: the main.cf lines every private instance
# shares (its own directories under DIR, logging to DIR/log/maillog,
# loopback only, no TLS); the caller appends its own.
pfi_main_cf() {
	cat <<MAIN
compatibility_level = 3.6
queue_directory = $1/queue
data_directory = $1/data
command_directory = /usr/sbin
daemon_directory = /usr/lib/postfix/sbin
meta_directory = /etc/postfix
shlib_directory = /usr/lib/postfix
mail_owner = postfix
setgid_group = postdrop
syslog_name = $2
maillog_file = $1/log/maillog
maillog_file_prefixes = $1
inet_interfaces = loopback-only
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
smtpd_relay_restrictions = permit_mynetworks, reject
smtp_tls_security_level = none
smtpd_tls_security_level = none
smtputf8_enable = no
biff = no
MAIN
}

# pfi_master_cf PORT: master.cf with smtpd on 127.0.0.1:PORT, the usual
# services and postlogd (maillog_file needs it); the caller appends its own.
pfi_master_cf() {
	cat <<MASTER
127.0.0.1:$1 inet n - n - - smtpd
pickup    unix  n - n 60 1 pickup
cleanup   unix  n - n - 0 cleanup
qmgr      unix  n - n 300 1 qmgr
rewrite   unix  - - n - - trivial-rewrite
bounce    unix  - - n - 0 bounce
defer     unix  - - n - 0 bounce
trace     unix  - - n - 0 bounce
verify    unix  - - n - 1 verify
flush     unix  n - n 1000? 0 flush
proxymap  unix  - - n - - proxymap
proxywrite unix - - n - 1 proxymap
smtp      unix  - - n - - smtp
relay     unix  - - n - - smtp
showq     unix  n - n - - showq
error     unix  - - n - - error
retry     unix  - - n - - error
discard   unix  - - n - - discard
local     unix  - n n - - local
virtual   unix  - n n - - virtual
lmtp      unix  - - n - - lmtp
anvil     unix  - - n - 1 anvil
scache    unix  - - n - 1 scache
postlog   unix-dgram n - n - 1 postlogd
MASTER
}

# A TCP port nobody listens on right now (the kernel picks it).
pfi_free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# pfi_sink NAME [smtp-sink options...]: start one smtp-sink; its port goes
# to PFI_SINK_PORT. Run in this shell (not in $(...)) so the sink stays our
# child and pfi_stop can reap it.
pfi_sink() {
	local name=$1 port tries=0
	shift
	while [ $tries -lt 5 ]; do
		port=$(pfi_free_port) || return 1
		/usr/sbin/smtp-sink -u postfix "$@" "127.0.0.1:$port" 64 \
			>"$PFI_DIR/sink-$name.out" 2>&1 &
		echo $! >>"$PFI_DIR/sink.pids"
		# Wait until it listens (or died because the port was taken meanwhile).
		local i
		for i in $(seq 50); do
			if python3 -c "import socket,sys; socket.create_connection(('127.0.0.1',$port),1).close()" 2>/dev/null; then
				PFI_SINK_PORT=$port
				return 0
			fi
			kill -0 $! 2>/dev/null || break
			sleep 0.1
		done
		tries=$((tries + 1))
	done
	pfi_log "smtp-sink $name did not start"
	return 1
}

pfi_start() {
	local syslog_name=${1:-postfix} ok defer bounce cf
	[ "$(id -u)" = 0 ] || { pfi_log "needs root"; return 1; }
	[ -x /usr/sbin/postfix ] && [ -x /usr/sbin/smtp-sink ] || {
		pfi_log "package postfix is not installed"; return 1; }
	PFI_DIR=$(mktemp -d /tmp/akashi-pfi.XXXXXX) || return 1
	chmod 755 "$PFI_DIR"
	mkdir -p "$PFI_DIR/etc" "$PFI_DIR/queue" "$PFI_DIR/data" "$PFI_DIR/log" "$PFI_DIR/mail"
	chown postfix "$PFI_DIR/data"
	chmod 1777 "$PFI_DIR/mail"
	cf=$PFI_DIR/etc
	PFI_LOG=$PFI_DIR/log/maillog
	PFI_SENT=$PFI_DIR/sent-ids

	pfi_sink ok -h sink-ok.test || return 1
	ok=$PFI_SINK_PORT
	pfi_sink defer -h sink-defer.test -r RCPT || return 1
	defer=$PFI_SINK_PORT
	pfi_sink bounce -h sink-bounce.test -f RCPT || return 1
	bounce=$PFI_SINK_PORT
	PFI_PORT=$(pfi_free_port) || return 1

	{
		pfi_main_cf "$PFI_DIR" "$syslog_name"
		cat <<MAIN
myhostname = mx1.akashi.test
mydomain = akashi.test
myorigin = \$myhostname
mydestination = localhost
smtpd_recipient_restrictions = permit_mynetworks, reject
# Let error.test through to error(8) instead of refusing it at RCPT time.
smtpd_reject_unlisted_recipient = no
transport_maps = texthash:$cf/transport
virtual_alias_maps = texthash:$cf/virtual
alias_maps = texthash:$cf/aliases
alias_database =
local_recipient_maps =
header_checks = regexp:$cf/header_checks
bounce_queue_lifetime = 0
maximal_queue_lifetime = 1d
queue_run_delay = 3600s
minimal_backoff_time = 3600s
maximal_backoff_time = 7200s
default_destination_concurrency_limit = 4
smtp_connection_cache_on_demand = no
MAIN
	} >"$cf/main.cf"
	{
		pfi_master_cf "$PFI_PORT"
		cat <<MASTER
akpipe    unix  - n n - - pipe
  flags=q user=nobody argv=/bin/true \${recipient}
MASTER
	} >"$cf/master.cf"
	cat >"$cf/transport" <<TRANSPORT
ok.test       smtp:[127.0.0.1]:$ok
sender.test   smtp:[127.0.0.1]:$ok
defer.test    smtp:[127.0.0.1]:$defer
bounce.test   smtp:[127.0.0.1]:$bounce
error.test    error:5.1.1 mailbox unavailable (akashi test)
discard.test  discard:
pipe.test     akpipe:
TRANSPORT
	printf 'team@ok.test alice@ok.test, bob@ok.test\n' >"$cf/virtual"
	printf 'filebox %s/mail/filebox\n' "$PFI_DIR" >"$cf/aliases"
	printf '/^X-Akashi-(Campaign|List|Stream):/ INFO\n' >"$cf/header_checks"

	/usr/sbin/postfix -c "$cf" check >"$PFI_DIR/check.out" 2>&1 ||
		{ pfi_log "postfix check failed:"; cat "$PFI_DIR/check.out" >&2; return 1; }
	/usr/sbin/postfix -c "$cf" start >"$PFI_DIR/start.out" 2>&1 ||
		{ pfi_log "postfix start failed:"; cat "$PFI_DIR/start.out" >&2; return 1; }
	local i
	for i in $(seq 100); do
		python3 -c "import socket; socket.create_connection(('127.0.0.1',$PFI_PORT),1).close()" \
			2>/dev/null && return 0
		sleep 0.1
	done
	pfi_log "postfix did not listen on 127.0.0.1:$PFI_PORT"
	return 1
}

# pfi_send N [quoted]: N messages of the standard mix, then one null-sender
# message that expires. Message-IDs go to $PFI_SENT.
pfi_send() {
	local n=${1:-10} quoted=${2:-}
	python3 - "$PFI_PORT" "$n" "$PFI_SENT" "$quoted" <<'PY'
import smtplib, sys
from email.message import EmailMessage
port, n, sent_path = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
quoted = sys.argv[4] == "quoted"
# (recipients, stream) per message, cycled.
mix = [
    (["user{i}@ok.test"], "marketing"),
    (["user{i}@ok.test", "Other{i}@OK.test", "slow{i}@defer.test"], "marketing"),
    (["gone{i}@bounce.test"], "transactional"),
    (["nobody{i}@error.test", "user{i}@discard.test"], "transactional"),
    (["team@ok.test"], "marketing"),
    (["job{i}@pipe.test", "filebox@localhost"], None),
]
ids = []
with smtplib.SMTP("127.0.0.1", port, local_hostname="client.akashi.test") as s:
    for i in range(n):
        rcpts, stream = mix[i % len(mix)]
        rcpts = [r.format(i=i) for r in rcpts]
        m = EmailMessage()
        mid = "<akashi-test-%d.%d@sender.test>" % (i, port)
        m["Message-ID"] = mid
        m["From"] = "News <news@sender.test>"
        m["To"] = ", ".join(rcpts)
        m["Subject"] = "akashi postfix test %d" % i
        if stream:
            m["X-Akashi-Campaign"] = "spring-%d" % (i % 3)
            m["X-Akashi-List"] = "newsletter"
            m["X-Akashi-Stream"] = stream
        m.set_content("test message %d\n" % i)
        sender = "News+%d@Sender.test" % i if i % 2 else "news@sender.test"
        s.send_message(m, from_addr=sender, to_addrs=rcpts)
        ids.append(mid)
    # A quoted local-part that looks like more fields: the adapter must
    # not take any of it for relay= or status=.
    if quoted:
        m = EmailMessage()
        mid = "<akashi-test-quoted.%d@sender.test>" % port
        odd = '"odd>, relay=evil, status=bounced (x)"@ok.test'
        m["Message-ID"] = mid
        m["From"] = "news@sender.test"
        m["To"] = "undisclosed-recipients:;"
        m["Subject"] = "akashi postfix test: quoted"
        m.set_content("quoted\n")
        s.send_message(m, from_addr="news@sender.test", to_addrs=[odd])
        ids.append(mid)
    # Null sender to defer.test: bounce_queue_lifetime = 0 expires it after
    # the first attempt.
    m = EmailMessage()
    mid = "<akashi-test-expire.%d@sender.test>" % port
    m["Message-ID"] = mid
    m["From"] = "MAILER-DAEMON@sender.test"
    m["To"] = "late1@defer.test, late2@defer.test"
    m["Subject"] = "akashi postfix test: expires"
    m["X-Akashi-Stream"] = "transactional"
    m.set_content("expires\n")
    s.send_message(m, from_addr="", to_addrs=["late1@defer.test", "late2@defer.test", "early@ok.test"])
    ids.append(mid)
with open(sent_path, "a") as f:
    f.write("".join(x + "\n" for x in ids))
PY
}

# pfi_wait [TIMEOUT]: wait until the log shows, for every Message-ID in
# $PFI_SENT, a status for each of its recipients, and the queue holds only
# deferred mail (so Postfix's own bounce notices have been delivered too).
pfi_wait() {
	local timeout=${1:-60} t=0
	while [ "$t" -lt $((timeout * 10)) ]; do
		if python3 - "$PFI_LOG" "$PFI_SENT" <<'PY'
import re, sys
log, sent = sys.argv[1], sys.argv[2]
want = set(l.strip() for l in open(sent) if l.strip())
qid_of, nrcpt, done, expired = {}, {}, {}, set()
for line in open(log, errors="replace"):
    m = re.search(r" ([0-9A-Za-z]+): message-id=(\S+)", line)
    if m: qid_of[m.group(2)] = m.group(1)
    m = re.search(r" ([0-9A-Za-z]+): from=<.*>, size=\d+, nrcpt=(\d+)", line)
    if m: nrcpt[m.group(1)] = int(m.group(2))
    m = re.search(r" ([0-9A-Za-z]+): to=<(.*?)>,.* status=(sent|deferred|bounced)", line)
    if m: done.setdefault(m.group(1), set()).add(m.group(2))
    m = re.search(r" ([0-9A-Za-z]+): from=<.*>, status=expired", line)
    if m: expired.add(m.group(1))
for mid in want:
    q = qid_of.get(mid)
    if q is None or q not in nrcpt: sys.exit(1)
    if q not in expired and len(done.get(q, ())) < nrcpt[q]: sys.exit(1)
sys.exit(0)
PY
		then
			# Nothing but deferred mail left in the queue.
			if ! /usr/sbin/postqueue -c "$PFI_DIR/etc" -j 2>/dev/null |
				grep -v '"queue_name": *"deferred"' | grep -q .; then
				return 0
			fi
		fi
		sleep 0.1
		t=$((t + 1))
	done
	pfi_log "timed out after ${timeout}s waiting for delivery statuses in $PFI_LOG"
	return 1
}

# pfi_flush: retry the deferred mail now (postqueue -f) and wait until the
# log shows the new attempts, so a log holds a recipient deferred twice.
pfi_flush() {
	local before after t=0
	before=$(grep -c 'status=deferred' "$PFI_LOG")
	# A second later, so the retry's timestamp differs from the first try's.
	sleep 1.1
	/usr/sbin/postqueue -c "$PFI_DIR/etc" -f || return 1
	while [ "$t" -lt 300 ]; do
		after=$(grep -c 'status=deferred' "$PFI_LOG")
		if [ "$after" -gt "$before" ] && ! /usr/sbin/postqueue -c "$PFI_DIR/etc" -j 2>/dev/null |
			grep -v '"queue_name": *"deferred"' | grep -q .; then
			return 0
		fi
		sleep 0.1
		t=$((t + 1))
	done
	pfi_log "timed out waiting for retried deliveries"
	return 1
}

# pfi_setup: what a TAP script (tap.sh sourced) does first: skip itself
# where Postfix cannot run here, else start the instance, stop it at exit,
# and report the start as a test.
pfi_setup() {
	if [ "$(id -u)" != 0 ] || [ ! -x /usr/sbin/postfix ] || [ ! -x /usr/sbin/smtp-sink ]; then
		echo "1..0 # SKIP needs root and the postfix package"
		exit 0
	fi
	trap 'pfi_stop; rm -rf "$T"' EXIT
	pfi_start >"$T/start.log" 2>&1 || bail "cannot start a private Postfix: $(cat "$T/start.log")"
	result 0 "a private Postfix listens on 127.0.0.1:$PFI_PORT"
}

pfi_stop() {
	local p
	if [ -n "$PFI_DIR" ] && [ -f "$PFI_DIR/etc/main.cf" ]; then
		/usr/sbin/postfix -c "$PFI_DIR/etc" stop >/dev/null 2>&1
		# master exits after its children; do not leave it behind.
		for p in $(seq 50); do
			[ -f "$PFI_DIR/queue/pid/master.pid" ] &&
				kill -0 "$(tr -d ' ' <"$PFI_DIR/queue/pid/master.pid")" 2>/dev/null || break
			sleep 0.1
		done
		/usr/sbin/postfix -c "$PFI_DIR/etc" abort >/dev/null 2>&1 || true
	fi
	if [ -n "$PFI_DIR" ] && [ -f "$PFI_DIR/sink.pids" ]; then
		for p in $(cat "$PFI_DIR/sink.pids"); do
			kill "$p" 2>/dev/null && wait "$p" 2>/dev/null
		done
	fi
	if [ -n "$PFI_DIR" ] && [ -z "${PFI_KEEP:-}" ]; then
		rm -rf "$PFI_DIR"
	fi
	PFI_DIR=""
	return 0
}

# As a script: capture OUT.log [N] [SYSLOG_NAME]
if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	set -u
	case "${1:-}" in
	capture)
		out=${2:?usage: $0 capture OUT.log [N] [SYSLOG_NAME]}
		trap pfi_stop EXIT
		pfi_start "${4:-postfix}" && pfi_send "${3:-12}" quoted && pfi_wait 60 &&
			pfi_flush && sleep 1 && cp "$PFI_LOG" "$out" || exit 1
		;;
	*)
		echo "usage: $0 capture OUT.log [N] [SYSLOG_NAME]" >&2
		exit 2
		;;
	esac
fi
