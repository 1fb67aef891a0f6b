#!/bin/sh
# Freshness (issue 16): one labd with the api plugin and the docwriter test
# plugin (tests/plugins/docwriter.c: store a document, then announce it on
# lab.beacon.slot with its version, like the beacon plugin), in-process
# broker, fs storage. tests/bench/freshness.py subscribes over WebSocket
# and hammers the document with API_FRESH_READERS keep-alive readers
# (default 4) while the writer rewrites it API_FRESH_WRITES times (default
# 1000): every GET written after the reader saw the event of version V must
# return version >= V. Target: zero stale reads (and no bad answers).
# tests/integration/api-live.sh runs it short; api-cluster.sh does the same
# check with the writer in a second daemon on the nats broker.
. "$top_srcdir/tests/integration/lib.sh"
. "$top_srcdir/tests/bench/lib.sh"
WRITES=${API_FRESH_WRITES:-1000}
READERS=${API_FRESH_READERS:-4}
"$PY" -c 'import websockets' 2>/dev/null || { echo "python3-websockets is not installed" >&2; exit 1; }
KEY=beacon/slots/mainnet/1.json
api_plugins docwriter || exit 1
api_daemon "docwriter = { key = \"$KEY\"; pad = 2000; };"
# Version 1 exists (and is cached) before the reader starts.
http POST /publish/docwriter.write -d '{"count":1}'
wait_for 'grep -q "docwriter: burst done" "$T/labd.log"' 200 || fail "the writer did not write version 1"
curl -sf -o /dev/null "http://127.0.0.1:$HPORT/$KEY" || fail "GET /$KEY"

"$PY" "$top_srcdir/tests/bench/freshness.py" --base "http://127.0.0.1:$HPORT" --path "/$KEY" \
	--expect $((WRITES + 1)) --readers "$READERS" --ws-subscribe '{"subscribe":["slots:mainnet"]}' \
	--timeout 600 >"$T/fresh.out" 2>"$T/fresh.err" &
FRESH_PID=$!
trap 'kill -9 "$FRESH_PID" 2>/dev/null; cleanup' EXIT
wait_for 'grep -q "^ready" "$T/fresh.out" 2>/dev/null' 200 || fail "freshness reader not ready: $(cat "$T/fresh.err")"
machine_load
t0=$(date +%s)
http POST /publish/docwriter.write -d "{\"count\":$WRITES}"
[ "$CODE" = 202 ] || [ "$CODE" = 200 ] || fail "cannot ask for the rewrites: $CODE $BODY"
wait "$FRESH_PID"
rc=$?
FRESH_PID=""
secs=$(($(date +%s) - t0))
stop_labd
sed 's/^freshness_/api_freshness_/' "$T/fresh.out" | grep -v '^ready'
figure api_freshness_writes "$WRITES" writes
figure api_freshness_seconds "$secs" s
sed 's/^/# /' "$T/fresh.err" | head -n 10
stale=$(awk '$1 == "freshness_stale_reads" { print $2 }' "$T/fresh.out")
bad=$(awk '$1 == "freshness_bad_reads" { print $2 }' "$T/fresh.out")
reads=$(awk '$1 == "freshness_reads" { print $2 }' "$T/fresh.out")
if [ "$rc" = 0 ]; then
	verdict api-freshness OK "0 stale reads in $reads reads while the document was rewritten $WRITES times (${secs} s), $READERS readers"
else
	verdict api-freshness MISSED "${stale:-?} stale and ${bad:-?} bad reads in ${reads:-?} reads over $WRITES rewrites"
fi
done_bench api-freshness
