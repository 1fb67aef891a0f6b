#!/bin/sh
# contributors against a ClickHouse that answers numbers it cannot parse
# (issue 15, finding 6): a cell that is NaN, inf, negative or out of range
# where a count, a time or a slot belongs fails the processor's job — labd
# --once exits non-zero, names the processor in the log, stores nothing for
# it (the previous documents stay byte for byte) and does not advance its
# state — as beacon and timings already do.
# The real ClickHouse 18.16 serves the data; tests/ch-capture-proxy.js
# rewrites one column of its answers.  That is a FAKE, for a fault the real
# server cannot produce (count() and UInt64 columns never hold "nan").
[ "${1:-}" = --inner ] || exec "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/services/with-services.sh" clickhouse -- "$0" --inner
. "$top_srcdir/tests/integration/lib.sh"
command -v node >/dev/null 2>&1 || { echo "SKIP: node is not installed (ch-capture-proxy.js)"; exit 77; }
GEN="$top_builddir/tests/fixtures/xatu-gen"
JG="$top_builddir/tests/json-get"
[ -x "$GEN" ] || make -C "$top_builddir" tests/fixtures/xatu-gen >/dev/null || fail "cannot build xatu-gen"
[ -x "$JG" ] || make -C "$top_builddir" tests/json-get >/dev/null || fail "cannot build json-get"
PROXY_PID=""
trap '[ -n "$PROXY_PID" ] && kill "$PROXY_PID" 2>/dev/null; cleanup' EXIT

GENESIS=1700000000
NOW_UNIX=$((GENESIS + 200 * 12))
NOW=$(date -u -d "@$NOW_UNIX" +%Y-%m-%dT%H:%M:%SZ)
"$top_srcdir/tests/fixtures/load-schema.sh" "$CLICKHOUSE_URL" >/dev/null || fail "schema"
"$GEN" --network mainnet --genesis $GENESIS --from-slot 0 --to-slot 199 --clients 12 \
	--validators 256 --out "$T/gen" >/dev/null || fail "xatu-gen"
"$top_srcdir/tests/fixtures/load.sh" "$CLICKHOUSE_URL" "$T/gen" >/dev/null || fail "load"

# proxy [COLUMN=VALUE...]: (re)start the proxy; PROXY_URL is where it listens.
proxy() {
	[ -z "$PROXY_PID" ] || { kill "$PROXY_PID"; wait "$PROXY_PID" 2>/dev/null; }
	rm -f "$T/proxy.out" # else the wait below may read the old proxy's port
	node "$top_srcdir/tests/ch-capture-proxy.js" "$CLICKHOUSE_URL" "$T/capture.jsonl" "$@" >"$T/proxy.out" 2>&1 &
	PROXY_PID=$!
	wait_for 'grep -q "^listening" "$T/proxy.out"' || { cat "$T/proxy.out" >&2; fail "proxy did not start"; }
	PROXY_URL="http://127.0.0.1:$(sed -n 's/^listening //p' "$T/proxy.out")"
}

stage_plugins
conf() {
	cat >"$T/labd.conf" <<CONF
log = { level = "info"; format = "logfmt"; };
admin = { listen = ""; };
plugin_dir = "$T/plugins";
storage = { backend = "fs"; fs = { root = "$T/data"; }; };
clickhouse = { url = "$PROXY_URL"; database = "default"; };
broker = { backend = "local"; };
plugins = { contributors = { networks = [ "mainnet" ];
	time_windows = ( { file = "last_1h"; step = "10m"; label = "Last 1h"; range = "-1h"; } ); }; };
CONF
}

# ---- the reference: an undisturbed pass through the proxy -----------------------
proxy
conf
"$LABD" -c "$T/labd.conf" --once --plugin contributors --now "$NOW" 2>"$T/labd.log" || fail "reference --once failed"
P="$T/data/xatu_public_contributors"
ST="$T/data/state/modules/contributors.json"
for f in summary.json countries/mainnet/last_1h.json users/mainnet/last_1h.json user-summaries/summary.json; do
	[ -f "$P/$f" ] || fail "reference: no $f"
done
# sums PROCESSOR: checksums of the processor's documents
sums() {
	case $1 in
	summary) (cd "$P" && md5sum summary.json) ;;
	countries) (cd "$P" && md5sum countries/*/*) ;;
	users) (cd "$P" && md5sum users/*/*) ;;
	user_summaries) (cd "$P" && find user-summaries -type f | sort | xargs md5sum) ;;
	esac
}
pass "reference: --once stored $(find "$P" -type f | wc -l) documents"

# ---- one corrupt column at a time ------------------------------------------------
# COLUMN VALUE PROCESSORS (the query columns of plugins/contributors/contributors.c).
# Each run is a minute later than the one before, so a processor that ran
# records a new time and rewrites its documents.
state() { { gunzip -c "$ST" 2>/dev/null || cat "$ST"; } | "$JG" - "/$1/last_processed"; }
n=0
while read -r col val procs; do
	n=$((n + 1))
	for p in $procs; do
		sums $p >"$T/before.$p"
		state $p >"$T/before.$p.state"
	done
	proxy "$col=$val"
	conf
	"$LABD" -c "$T/labd.conf" --once --plugin contributors \
		--now "$(date -u -d "@$((NOW_UNIX + 60 * n))" +%Y-%m-%dT%H:%M:%SZ)" 2>"$T/labd.log"
	rc=$?
	[ $rc = 1 ] || fail "$col=$val: labd --once exited $rc, not 1"
	grep -q 'msg="pass finished" failed=1' "$T/labd.log" || fail "$col=$val: the pass did not finish"
	grep -q 'Sanitizer\|runtime error' "$T/labd.log" && fail "$col=$val: sanitizer report"
	for p in $procs; do
		grep 'malformed ClickHouse answer, nothing stored' "$T/labd.log" | grep -q "processor=$p " ||
			fail "$col=$val: no malformed-answer error for $p"
		sums $p | cmp -s - "$T/before.$p" || fail "$col=$val: the $p documents changed"
		state $p | cmp -s - "$T/before.$p.state" || fail "$col=$val: the state of $p advanced"
	done
done <<EOF
total nan summary
public inf summary
total -1 summary
t 1e30 countries users
n -5 countries users
n 18446744073709551616 countries users
slot NaN user_summaries
sst_unix inf user_summaries
EOF
pass "$n corrupt answers (NaN, inf, negative, out of range): the job fails, documents and state stay"
