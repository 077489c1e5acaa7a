# tests/e2e/lib/daemon.sh - run `akashi serve` in a test (sourced after
# tap.sh). Loopback only, on a free port.
#
#   daemon_start STORE [--set K=V]...   start it; $PORT, $URL, $DPID, $DLOG
#   daemon_stop [SIGNAL]                 signal it (TERM), wait; its exit status
#   api METHOD PATH [TOKEN] [CURL ARGS]  request; $CODE and $BODY ($T/body)
#   tokens STORE                         $TI $TR $TE $TA: one token per role
DLOG=$T/daemon.log
DAEMON_CMD=${DAEMON_CMD:-}

free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# daemon_start STORE [ARGS...]: the daemon in the background, ready.
daemon_start() {
	local store=$1 i
	shift
	PORT=$(free_port)
	URL=http://127.0.0.1:$PORT
	$DAEMON_CMD "$AKASHI" --store "$store" serve --set "listen=127.0.0.1:$PORT" \
		--set checkpoint.interval=0 --set audit.interval=0 "$@" >>"$DLOG" 2>&1 &
	DPID=$!
	for i in $(seq 1 400); do
		if curl -s -o /dev/null "$URL/healthz" 2>/dev/null; then return 0; fi
		if ! kill -0 $DPID 2>/dev/null; then break; fi
		sleep 0.05
	done
	echo "# the daemon did not start:" && sed 's/^/#   /' "$DLOG"
	return 1
}

# daemon_stop [SIG]: the daemon's exit status (124 if it hangs 60 s).
daemon_stop() {
	local sig=${1:-TERM} i
	kill -"$sig" $DPID 2>/dev/null
	for i in $(seq 1 600); do
		kill -0 $DPID 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 $DPID 2>/dev/null; then
		kill -9 $DPID
		wait $DPID 2>/dev/null
		return 124
	fi
	wait $DPID
}

# api METHOD PATH [TOKEN] [CURL ARGS...]
api() {
	local m=$1 p=$2 tok=${3:-}
	shift 2
	[ $# -gt 0 ] && shift
	if [ -n "$tok" ]; then
		CODE=$(curl -s -o "$T/body" -w '%{http_code}' -X "$m" -H "Authorization: Bearer $tok" "$@" "$URL$p")
	else
		CODE=$(curl -s -o "$T/body" -w '%{http_code}' -X "$m" "$@" "$URL$p")
	fi
	BODY=$(cat "$T/body")
}

tokens() {
	TI=$("$AKASHI" --store "$1" token create --role ingest --name ci 2>/dev/null)
	TR=$("$AKASHI" --store "$1" token create --role read --name reader 2>/dev/null)
	TE=$("$AKASHI" --store "$1" token create --role export --name exporter 2>/dev/null)
	TA=$("$AKASHI" --store "$1" token create --role admin --name ops 2>/dev/null)
}

# jq-less JSON field: json FIELD [TEXT]
json() {
	python3 -c 'import json, sys
v = json.loads(sys.argv[2])
for k in sys.argv[1].split("."):
    v = v[int(k)] if isinstance(v, list) else v.get(k)
print(v if isinstance(v, str) else json.dumps(v, separators=(",", ":")))' "$1" "${2:-$BODY}"
}

size_of() { sqlite3 "$1/akashi.db" "SELECT size FROM head"; }
