#!/usr/bin/env bash
# docs/EVIDENCE-FORMAT.md is executable: its example files and shell blocks
# are extracted and run, first on the document's own worked example (the
# values must match the table), then on a live store made by akashi.
. "$(dirname "$0")/lib/tap.sh"
DOC=$ROOT/docs/EVIDENCE-FORMAT.md

# block ATTR=VALUE: the body of the fenced block whose info string has it.
block() {
	awk -v want="$1" '
		/^```/ && inb { inb = 0; next }
		/^```/ { for (i = 2; i <= NF; i++) if ($i == want) inb = 1; next }
		inb { print }' "$DOC"
}

E=$T/example
mkdir -p "$E"
for f in entries.jsonl pubkey.pem checkpoint; do block "file=$f" >"$E/$f"; done
is "$(wc -l <"$E/entries.jsonl")" "3" "the example has three entries"
cd "$E" || exit 1
leaves=$(block name=leaves | sh)
is "$leaves" "c65e7078a6fe0323a34cf2d7560c15a0ab06542eef95b15f7ec5a9fa11d8b6ee
cf6f976c20707f9799a8220dabe9313b4065a54071103b8bbc2f04e568b59321
1822e549618137808b346687ae92050d3e9b9e2d825c843b20595a73d6364df2" "leaf hashes as the table says"
is "$(block name=root3 | sh)" "$(sed -n 3p checkpoint)" "the root matches the checkpoint"
is "chain $(block name=chain | sh)" "$(sed -n 4p checkpoint)" "the chain matches the checkpoint"
is "$(block name=signature | sh 2>&1)" "Signature Verified Successfully" "openssl verifies the signature"
kid=$(block name=keyid | sh)
is "$(echo "$kid" | sed -n 1p)" "a7bcd475" "key id as the table says"
is "$(echo "$kid" | sed -n 2p)" "a7bcd475" "and as the signature line carries"
# akashi's own verifier agrees with the document's example.
printf 'x' >>note-body
fails "a changed signed text does not verify" sh -c "$(block name=signature | tail -n 1)"

# The same commands on a store made by akashi.
L=$T/live
mkdir -p "$L"
S=$T/store
new_store "$S"
"$AKASHI" --store "$S" ingest - >/dev/null <<'J'
{"kind":"consent","time":"2026-07-01T00:00:00Z","source":"api:crm","body":{"subject":"hanako@example.jp","list":"お知らせ","action":"opt_in","method":"double_opt_in","proof":{"ip":"192.0.2.7"}}}
{"kind":"send","time":"2026-07-02T00:00:00Z","source":"mta","body":{"rcpt":"hanako@example.jp","status":"sent"}}
{"kind":"consent","time":"2026-07-03T00:00:00Z","source":"web","body":{"subject":"hanako@example.jp","list":"お知らせ","action":"opt_out","method":"one_click"}}
J
"$AKASHI" --store "$S" log >"$L/entries.jsonl"
"$AKASHI" --store "$S" checkpoint >"$L/checkpoint"
"$AKASHI" --store "$S" key >"$L/pubkey.pem"
cd "$L" || exit 1
block name=leaves | sh >/dev/null
is "$(block name=root3 | sh)" "$(sed -n 3p checkpoint)" "live store: the root recomputed with openssl matches"
is "chain $(block name=chain | sh)" "$(sed -n 4p checkpoint)" "live store: the chain matches"
is "$(block name=signature | sh 2>&1)" "Signature Verified Successfully" "live store: openssl verifies the checkpoint"
kid=$(block name=keyid | sh)
is "$(echo "$kid" | sed -n 1p)" "$(echo "$kid" | sed -n 2p)" "live store: the key id matches the key"
done_testing
