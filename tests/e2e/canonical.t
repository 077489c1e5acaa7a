#!/usr/bin/env bash
# The same fact always has the same bytes: key order, white space, escapes,
# non-ASCII text, control characters, nesting and big integers in the input
# make no difference to the stored entry.
. "$(dirname "$0")/lib/tap.sh"
S=$T/s
new_store "$S"
cat >"$T/a.jsonl" <<'J'
{"kind":"system","time":"2026-07-01T00:00:00Z","source":"t","body":{"event":"e","z":{"b":[1,{"y":2,"x":1}],"a":"配信停止"},"n":9007199254740991,"m":-9007199254740991,"c":"tab\there","e":"\u00e9\u3042","u":"\u001f\u007f","q":"\"\\/"}}
J
# b.jsonl must be one line: build it with python from a differently ordered object.
python3 - >"$T/b.jsonl" <<'P'
print('  {  "source":"t" , "body" : { "q" : "\\"\\\\\\/" , "u":"\\u001F\\u007F", "e" : "\\u00e9あ", "c":"tab\\u0009here", "m": -9007199254740991 ,"n":9007199254740991, "event":"e", "z":{"a":"配信停止","b":[1,{"x":1,"y":2}]}}, "time":"2026-07-01T09:00:00+09:00" ,"kind":"system"}  ')
P
"$AKASHI" --store "$S" ingest "$T/a.jsonl" >/dev/null
"$AKASHI" --store "$S" ingest --skip-invalid --rejects "$T/r" "$T/b.jsonl" >"$T/out" 2>&1
like "$(cat "$T/out")" "0 appended, 1 duplicates" "a differently written copy of the same record is a duplicate"
body=$("$AKASHI" --store "$S" log | sed 's/,"kind".*//')
want=$(printf '%s\177%s' '{"body":{"c":"tab\there","e":"éあ","event":"e","m":-9007199254740991,"n":9007199254740991,"q":"\"\\/","u":"\u001f' '","z":{"a":"配信停止","b":[1,{"x":1,"y":2}]}}')
is "$body" "$want" \
	"the body is canonical: sorted keys, minimal escapes, lower-case \\u00xx, UTF-8 as itself"
# Python's own JCS-equivalent serialisation agrees for this (ASCII-keyed) object.
py=$("$AKASHI" --store "$S" log | python3 -c '
import json, sys
line = sys.stdin.readline().rstrip("\n")
o = json.loads(line)
print("same" if json.dumps(o, sort_keys=True, separators=(",", ":"), ensure_ascii=False) == line else "differs")')
is "$py" "same" "an independent serialiser reproduces the entry bytes"
done_testing
