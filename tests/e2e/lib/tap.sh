# tests/e2e/lib/tap.sh - a small TAP library for the end-to-end scripts.
#
#   . "$(dirname "$0")/lib/tap.sh"
#   check "init makes a store" $AKASHI --store "$T/s" init
#   fails "init refuses to overwrite" $AKASHI --store "$T/s" init
#   is "$(cat x)" "want" "x holds want"
#   like "$out" 'seq 5' "names the seq"
#   done_testing
#
# Every script gets a private temporary directory $T, removed at exit, and
# $AKASHI, the binary under test (build/asan/akashi from make test).
#   skip_unless_python MODULE...   skip the whole file unless python3 has them
set -u
: "${AKASHI:=$(cd "$(dirname "$0")/../.." && pwd)/build/asan/akashi}"
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
T=$(mktemp -d "${TMPDIR:-/tmp}/akashi-e2e.XXXXXX")
# Background processes a script starts (PIDS="$PIDS $!") stop at exit too.
PIDS=""
trap 'for p in $PIDS; do kill $p 2>/dev/null; wait $p 2>/dev/null; done; rm -rf "$T"' EXIT
export LC_ALL=C.UTF-8
_n=0
_failed=0

_result() { # status desc [diagnostics]
	_n=$((_n + 1))
	if [ "$1" -eq 0 ]; then
		echo "ok $_n - $2"
	else
		echo "not ok $_n - $2"
		_failed=$((_failed + 1))
		[ -n "${3:-}" ] && printf '%s\n' "$3" | sed 's/^/#   /'
	fi
	return 0
}

# check DESC CMD...: CMD exits 0.
check() {
	local desc=$1 out
	shift
	out=$("$@" 2>&1)
	_result $? "$desc" "command: $*
$out"
}

# fails DESC CMD...: CMD exits non-zero (and not from a sanitizer or signal).
fails() {
	local desc=$1 out st
	shift
	out=$("$@" 2>&1)
	st=$?
	if [ $st -eq 0 ] || [ $st -ge 124 ] || printf '%s' "$out" | grep -q 'Sanitizer'; then
		_result 1 "$desc" "command: $* (exit $st)
$out"
	else
		_result 0 "$desc"
	fi
}

is() { # got want desc
	if [ "$1" = "$2" ]; then _result 0 "$3"; else
		_result 1 "$3" "got:  $1
want: $2"
	fi
}

like() { # got regex desc
	if printf '%s' "$1" | grep -Eq -- "$2"; then _result 0 "$3"; else
		_result 1 "$3" "got:  $1
want match: $2"
	fi
}

unlike() { # got regex desc
	if printf '%s' "$1" | grep -Eq -- "$2"; then
		_result 1 "$3" "got:  $1
want no match: $2"
	else _result 0 "$3"; fi
}

has_line() { # got line desc: one line of got is exactly line
	if printf '%s\n' "$1" | grep -Fxq -- "$2"; then _result 0 "$3"; else
		_result 1 "$3" "got:  $1
want the line: $2"
	fi
}

diag() { printf '# %s\n' "$*"; }

# result STATUS DESC [DIAGNOSTICS]: a test point from an exit status.
result() { _result "$@"; }

# bail WHY: stop the script; the runner counts it as failed.
bail() {
	echo "Bail out! $*"
	exit 1
}

done_testing() {
	echo "1..$_n"
	[ $_failed -eq 0 ]
	exit $?
}

# A store with nothing in it, at $1.
new_store() { "$AKASHI" --store "$1" init --origin "test.example/log" >/dev/null; }

# skip_unless_python MODULE...: the whole file is skipped (TAP "1..0 #
# SKIP") unless python3 imports every module (make deps installs them).
skip_unless_python() {
	if ! /usr/bin/python3 -c "import $(printf '%s,' "$@" | sed 's/,$//')" 2>/dev/null; then
		echo "1..0 # SKIP needs python3 modules $* (make deps)"
		exit 0
	fi
}
