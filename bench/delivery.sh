#!/bin/bash
# bench/delivery.sh - the delivery engine end to end: `akashi send` of
# 20,000 messages of about 5 KB (RSA-2048 DKIM, every recipient gated,
# queued and sent entries appended) to Postfix's smtp-sink on loopback,
# next to three baselines measured in the same run on the same machine:
#
#   smtp-source -> smtp-sink        the SMTP limit (same message, 16 reused sessions)
#   openssl speed -multi 2 rsa2048  the signing limit of both cores
#   Postfix + OpenDKIM -> smtp-sink a private Postfix signing with OpenDKIM as a
#                                   milter (RSA-2048, relaxed/relaxed), relaying
#                                   the same message to the same sink
#
# smtp-sink has no STARTTLS, so akashi runs with smtp.tls = off here (the
# e2e tests cover TLS; connections are reused, so TLS costs a handshake
# per connection, not per message). Medians of RUNS (3) runs: the machine
# is shared and noisy. Needs root, postfix and opendkim (make deps).
#
#   BENCH_DELIVERY_N          messages akashi sends (20000)
#   BENCH_DELIVERY_POSTFIX_N  messages through Postfix + OpenDKIM (5000: it is slow)
. "$(dirname "$0")/lib.sh"
# The private Postfix instance's main.cf and master.cf, as the tests make them.
. "$(dirname "$0")/../tests/e2e/lib/postfix-instance.sh"
set +e
NMSG=${BENCH_DELIVERY_N:-20000}
NPF=${BENCH_DELIVERY_POSTFIX_N:-5000}
PY=/usr/bin/python3
if [ "$(id -u)" != 0 ] || [ ! -x /usr/sbin/smtp-sink ] || [ ! -x /usr/sbin/opendkim ]; then
	echo "delivery: skipped (needs root, postfix and opendkim: make deps)"
	exit 0
fi
dir=$(mktemp -d /tmp/akashi-bench-delivery.XXXXXX)
chmod 755 "$dir"
PIDS=""
cleanup() {
	local c
	for c in "$dir"/pf-*/etc; do
		[ -f "$c/main.cf" ] && /usr/sbin/postfix -c "$c" stop >/dev/null 2>&1
	done
	for p in $PIDS; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
	for c in "$dir"/od-*/opendkim.pid; do [ -f "$c" ] && kill "$(cat "$c")" 2>/dev/null; done
	sleep 1
	for c in "$dir"/pf-*/etc; do
		[ -f "$c/main.cf" ] && /usr/sbin/postfix -c "$c" abort >/dev/null 2>&1
	done
	rm -rf "$dir"
}
trap cleanup EXIT INT TERM
free_port() { $PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() {
	local i
	for i in $(seq 100); do
		$PY -c "import socket; socket.create_connection(('127.0.0.1',$1),1).close()" 2>/dev/null && return 0
		sleep 0.1
	done
	echo "delivery: nothing listens on port $1" >&2
	return 1
}

# --- the sink ------------------------------------------------------------
SINK=$(free_port)
/usr/sbin/smtp-sink -u postfix 127.0.0.1:$SINK 1024 >"$dir/sink.out" 2>&1 &
PIDS="$PIDS $!"
wait_port $SINK || exit 1

# --- one message of about 5 KB, as template and as a plain message -------
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$dir/dkim.pem" 2>/dev/null
$PY - "$dir" <<'PY'
import sys
d = sys.argv[1]
para = ("Thank you for being a customer. This month we have news about our products, "
        "our service hours and the changes to our terms that take effect next quarter.\n")
body = "Dear {{name}},\n\n" + para * 31 + "\nKind regards,\nExample News\n"
hdr = "From: Example News <news@example.com>\nTo: {{name}} <{{email}}>\nSubject: News for {{name}}\n"
open(d + "/t.eml", "w").write(hdr + "\n" + body)
plain = (hdr + "\n" + body).replace("{{name}}", "User 1").replace("{{email}}", "u00001@ok.test")
open(d + "/msg.eml", "w").write(plain.replace("\n", "\r\n"))
PY
$PY -c '
import sys
with open(sys.argv[1], "w") as f:
    f.write("email,name\n")
    for i in range(int(sys.argv[2])):
        f.write("u%05d@ok.test,User %d\n" % (i, i))' "$dir/r.csv" "$NMSG"
size=$(wc -c <"$dir/msg.eml")

# --- baseline: smtp-source into the sink ----------------------------------
for i in $(seq "$RUNS"); do
	t0=$(now)
	/usr/sbin/smtp-source -d -s 16 -m "$NMSG" -F "$dir/msg.eml" -f news@example.com \
		-t u00001@ok.test 127.0.0.1:$SINK >/dev/null 2>&1
	t1=$(now)
	awk -v n="$NMSG" -v a="$t0" -v b="$t1" 'BEGIN {printf "%.0f\n", n / (b - a)}'
done | median >"$dir/source"

# --- baseline: RSA-2048 signatures on both cores --------------------------
for i in $(seq "$RUNS"); do
	openssl speed -seconds 2 -multi 2 rsa2048 2>/dev/null | awk '/^rsa 2048/ {print $6}'
done | median >"$dir/openssl"

# --- baseline: Postfix + OpenDKIM ------------------------------------------
# stop_opendkim PIDFILE: OpenDKIM takes its time on SIGTERM and removes its
# socket and pid file when it finally exits: wait for it (then SIGKILL),
# and give every run a directory of its own, so a late exit cannot remove
# the next run's socket.
stop_opendkim() {
	local p i
	[ -f "$1" ] || return 0
	p=$(cat "$1")
	kill "$p" 2>/dev/null
	for i in $(seq 100); do kill -0 "$p" 2>/dev/null || return 0; sleep 0.1; done
	kill -9 "$p" 2>/dev/null
}

pf_run() {
	local pf=$dir/pf-$1 od=$dir/od-$1 port t0 t1 n i last=0 still=0
	mkdir -p "$pf/etc" "$pf/queue" "$pf/data" "$pf/log" "$od"
	chown postfix "$pf/data"
	chown opendkim "$od"
	cp "$dir/dkim.pem" "$od/key.pem"
	chown opendkim "$od/key.pem"
	chmod 600 "$od/key.pem"
	cat >"$od/opendkim.conf" <<ODK
Syslog no
Mode s
Domain example.com
Selector rsa1
KeyFile $od/key.pem
Canonicalization relaxed/relaxed
SignatureAlgorithm rsa-sha256
Socket local:$od/opendkim.sock
PidFile $od/opendkim.pid
UMask 000
UserID opendkim
RequireSafeKeys false
ODK
	/usr/sbin/opendkim -x "$od/opendkim.conf" >"$od/out" 2>&1
	for i in $(seq 300); do [ -S "$od/opendkim.sock" ] && break; sleep 0.1; done
	if [ ! -S "$od/opendkim.sock" ]; then
		echo "delivery: OpenDKIM did not start: $(cat "$od/out")" >&2
		stop_opendkim "$od/opendkim.pid"
		return 1
	fi
	port=$(free_port)
	{
		pfi_main_cf "$pf" postfix-bench
		cat <<MAIN
alias_maps =
alias_database =
local_recipient_maps =
myhostname = mx.akashi.test
mydestination =
relayhost = [127.0.0.1]:$SINK
smtpd_milters = unix:$od/opendkim.sock
milter_default_action = tempfail
default_destination_concurrency_limit = 16
MAIN
	} >"$pf/etc/main.cf"
	pfi_master_cf "$port" >"$pf/etc/master.cf"
	if ! /usr/sbin/postfix -c "$pf/etc" start >"$pf/start.out" 2>&1; then
		sed "s/^/delivery: postfix: /" "$pf/start.out" >&2
		stop_opendkim "$od/opendkim.pid"
		return 1
	fi
	wait_port "$port" || return 1
	t0=$(now)
	/usr/sbin/smtp-source -d -s 16 -m "$NPF" -F "$dir/msg.eml" -f news@example.com \
		-t u00001@ok.test 127.0.0.1:$port >"$pf/source.out" 2>&1
	# Until every message is delivered; give up after 30 s without progress.
	while :; do
		n=$(grep -c 'status=sent' "$pf/log/maillog" 2>/dev/null)
		n=${n:-0}
		[ "$n" -ge "$NPF" ] && break
		if [ "$n" = "$last" ]; then
			still=$((still + 1))
			[ $still -ge 300 ] && break
		else
			still=0
			last=$n
		fi
		sleep 0.1
	done
	t1=$(now)
	/usr/sbin/postfix -c "$pf/etc" stop >/dev/null 2>&1
	stop_opendkim "$od/opendkim.pid"
	if [ "$n" -lt "$NPF" ]; then
		echo "delivery: Postfix delivered $n of $NPF: $(grep -m1 -E 'reject|warning' "$pf/log/maillog")" >&2
		return 1
	fi
	awk -v n="$NPF" -v a="$t0" -v b="$t1" 'BEGIN {printf "%.0f\n", n / (b - a)}'
}
for i in $(seq "$RUNS"); do pf_run "$i"; done | median >"$dir/postfix"

# --- akashi send ------------------------------------------------------------
ak_run() {
	local s=$dir/store-$1
	rm -rf "$s"
	"$AKASHI" --store "$s" init --origin bench.example/log >/dev/null || return 1
	# The gate's mass-approval rule wants a second person's approval for
	# a campaign this large: give it, as an admin entry.
	printf '{"kind":"admin","time":"2026-01-01T00:00:00Z","source":"bench","body":{"actor":"boss","action":"approval","campaign":"bench-%s"}}\n' "$1" |
		"$AKASHI" --store "$s" ingest - >/dev/null || return 1
	/usr/bin/time -f "%e %M %U %S" -o "$dir/time-$1" "$AKASHI" --store "$s" \
		--set relay=127.0.0.1:$SINK --set smtp.tls=off --set dkim.domain=example.com \
		--set dkim.selector=rsa1 --set dkim.key="$dir/dkim.pem" \
		--set delivery.connections=16 send --campaign "bench-$1" --stream transactional \
		--list news --from news@example.com --owner alice --template "$dir/t.eml" \
		--recipients "$dir/r.csv" >"$dir/send-$1.out" 2>&1 || { cat "$dir/send-$1.out" >&2; return 1; }
	grep -q "sent $NMSG," "$dir/send-$1.out" || { cat "$dir/send-$1.out" >&2; return 1; }
	entries=$("$AKASHI" --store "$s" log --kind send | grep -c '"status":"sent"')
	[ "$entries" = "$NMSG" ] || { echo "delivery: $entries sent entries, want $NMSG" >&2; return 1; }
	read -r wall rss usr sys <"$dir/time-$1"
	echo "$wall $rss $usr $sys" >"$dir/ak-$1"
	awk -v n="$NMSG" -v w="$wall" 'BEGIN {printf "%.0f\n", n / w}'
	rm -rf "$s"
}
for i in $(seq "$RUNS"); do ak_run "$i"; done | median >"$dir/akashi"
rss=$(cat "$dir"/ak-* 2>/dev/null | awk '{print $2}' | sort -n | tail -1)
cpu=$(cat "$dir"/ak-* 2>/dev/null | awk -v n="$NMSG" '{printf "%.3f\n", ($3 + $4) * 1000 / n}' | median)

src=$(cat "$dir/source"); ossl=$(cat "$dir/openssl"); pf=$(cat "$dir/postfix"); ak=$(cat "$dir/akashi")
printf 'delivery: %s messages of %s bytes, RSA-2048 DKIM, gate + queued/sent entries; smtp.tls = off\n' "$(fmt "$NMSG")" "$size"
printf '  (smtp-sink has no STARTTLS); medians of %s runs on a shared, noisy machine\n' "$RUNS"
printf '  %-44s %10s msgs/s   (the SMTP limit)\n' "smtp-source -> smtp-sink, 16 reused sessions" "$(fmt "${src:-0}")"
printf '  %-44s %10s sign/s   (the signing limit)\n' "openssl speed -multi 2 rsa2048" "$(fmt "${ossl:-0}")"
printf '  %-44s %10s msgs/s   (%s messages)\n' "Postfix + OpenDKIM milter -> smtp-sink" "$(fmt "${pf:-0}")" "$(fmt "$NPF")"
printf '  %-44s %10s msgs/s   (peak RSS %s MiB)\n' "akashi send -> smtp-sink" "$(fmt "${ak:-0}")" "$(awk -v r="${rss:-0}" 'BEGIN {printf "%.0f", r / 1024}')"
printf '  akashi CPU time (user + sys, all threads): %s ms per message = %s messages per CPU-second\n' \
	"${cpu:-?}" "$(awk -v c="${cpu:-0}" 'BEGIN {if (c > 0) printf "%.0f", 1000 / c; else print "?"}')"
load=$(cut -d' ' -f1-3 /proc/loadavg)
printf '  load average during the run: %s (2 cores; other sessions share them)\n' "$load"
if [ -n "$ak" ] && [ -n "$pf" ] && [ "$pf" != 0 ]; then
	echo "  akashi / Postfix+OpenDKIM: $(ratio "$ak" "$pf")   akashi / openssl sign rate: $(ratio "$ak" "${ossl:-1}")"
	check_target ">= 3,000 msgs/s" "$(awk -v a="$ak" 'BEGIN {print (a >= 3000) ? 1 : 0}')"
	check_target ">= 5x Postfix + OpenDKIM" "$(awk -v a="$ak" -v p="$pf" 'BEGIN {print (a >= 5 * p) ? 1 : 0}')"
fi
exit 0
