#!/bin/sh
# Invalidation across daemons (issue 16): a writer daemon (the docwriter test
# plugin: store a slot document, then announce it on lab.beacon.slot) and an
# api daemon, both on the nats broker of one nats-server -js and the same
# fs storage root.
#  1. The api serves version 1 (and caches it); the writer rewrites the
#     document once; as soon as the api daemon has the event (waited for on
#     a WebSocket subscription to the api) the api serves the new bytes —
#     the same as the store holds.
#  2. A short freshness run across the two daemons: tests/bench/freshness.py
#     reads the document with 4 readers while the writer rewrites it 200
#     times; no read written after the reader saw the event of version V
#     returns an older version.
. "$(dirname "$0")/lib.sh"
. "$top_srcdir/tests/bench/lib.sh"
if [ "${1:-}" != --inner ]; then
	grep -q 'define HAVE_NATS 1' "$top_builddir/host/build_config.h" ||
		{ echo "SKIP: labd built without libnats"; exit 77; }
	command -v nats-server >/dev/null 2>&1 || [ -x /usr/sbin/nats-server ] ||
		{ echo "SKIP: nats-server is not installed"; exit 77; }
	"$PY" -c 'import websockets' 2>/dev/null || { echo "SKIP: python3-websockets is not installed"; exit 77; }
	"$top_srcdir/tests/services/with-services.sh" nats -- "$0" --inner
	exit $?
fi
KEY=beacon/slots/mainnet/1.json
stage_plugins
[ -f "$T/plugins/api.so" ] || fail "api.so not built"
[ -f "$T/plugins/docwriter.so" ] || fail "docwriter.so not built"
# Each daemon its own plugin directory: the writer has no api, the api no writer.
mkdir -p "$T/wplugins" && chmod 755 "$T/wplugins"
mv "$T/plugins/docwriter.so" "$T/wplugins/"
find "$T/plugins" -name '*.so' ! -name api.so -exec rm -f {} +
BROKER="broker = { backend = \"nats\"; nats = { url = \"$NATS_URL\"; }; };"
HPORT=$(free_port)
api_conf "$HPORT" "$BROKER" '' >"$T/labd.conf"
sed -e "s|plugin_dir = \"$T/plugins\"|plugin_dir = \"$T/wplugins\"|" -e '/^http = /d' \
	-e 's|api = { enabled = true; };|docwriter = { key = "'"$KEY"'"; pad = 3000; };|' "$T/labd.conf" >"$T/writer.conf"
grep -q docwriter "$T/writer.conf" && ! grep -q 'api = ' "$T/writer.conf" || fail "writer config: $(cat "$T/writer.conf")"

# The writer daemon (in the background; killed on exit like labd).
"$LABD" -c "$T/writer.conf" -D clickhouse.probe_interval=0s 2>"$T/writer.log" &
WRITER_PID=$!
trap 'kill -9 "$WRITER_PID" 2>/dev/null; [ -z "${FRESH_PID:-}" ] || kill -9 "$FRESH_PID" 2>/dev/null; cleanup' EXIT
wait_for 'grep -q "plugin=docwriter msg=\"plugin running\"" "$T/writer.log"' 200 ||
	fail "the writer daemon did not start: $(tail -n 5 "$T/writer.log")"
start_labd -D clickhouse.probe_interval=0s
api_wait "$HPORT" || fail "the api did not answer on $HPORT"
wait_for 'http GET /readyz; [ "$CODE" = 200 ]' 200 || fail "api daemon not ready: $BODY"

# ---- 1. one rewrite, seen across the daemons
burst() { # burst N: asks the writer (over NATS, through the api daemon's admin API)
	http POST /publish/docwriter.write -d "{\"count\":$1}"
	[ "$CODE" = 202 ] || [ "$CODE" = 200 ] || fail "publish docwriter.write: $CODE $BODY"
}
burst 1
wait_for 'grep -q "docwriter: burst done.*version=1" "$T/writer.log"' 200 || fail "version 1 not written: $(tail -n 5 "$T/writer.log")"
wait_for 'curl -sf -o "$T/v1" "http://127.0.0.1:$HPORT/$KEY"' 100 || fail "GET /$KEY"
grep -q '"v":1,' "$T/v1" || fail "version 1 expected: $(head -c 80 "$T/v1")"
curl -sf -o /dev/null "http://127.0.0.1:$HPORT/$KEY" # cached now
# A subscriber on the api tells when the api daemon has the event.
"$PY" - "$HPORT" >"$T/sub.out" 2>"$T/sub.err" <<'PY' &
import asyncio, re, sys, websockets
async def main():
    async with websockets.connect("ws://127.0.0.1:%s/api/v1/live" % sys.argv[1]) as ws:
        await ws.send('{"subscribe":["slots:mainnet"]}')
        await asyncio.sleep(0.5)
        print("ready", flush=True)
        async for m in ws:
            if re.search(r'"v"\s*:\s*2\b', m):
                print("event", flush=True)
                return
asyncio.run(asyncio.wait_for(main(), 30))
PY
SUB_PID=$!
wait_for 'grep -q ready "$T/sub.out"' 100 || fail "subscriber: $(cat "$T/sub.err")"
burst 1
wait "$SUB_PID" || fail "no event for version 2 reached the api's subscriber: $(cat "$T/sub.err")"
curl -sf -H 'Accept-Encoding: gzip' -D "$T/h2" -o "$T/v2.gz" "http://127.0.0.1:$HPORT/$KEY" || fail "GET after the event"
if grep -qi '^content-encoding: gzip' "$T/h2"; then gzip -dc "$T/v2.gz" >"$T/v2"; else cp "$T/v2.gz" "$T/v2"; fi
gzip -dc "$T/data/$KEY" | cmp -s - "$T/v2" || fail "after the event the api serves $(head -c 40 "$T/v2"), the store holds $(gzip -dc "$T/data/$KEY" | head -c 40)"
grep -q '"v":2,' "$T/v2" || fail "version 2 expected: $(head -c 80 "$T/v2")"
pass "a rewrite by the writer daemon reaches the api daemon over NATS: the next GET serves the new bytes"

# ---- 2. freshness across the daemons
"$PY" "$top_srcdir/tests/bench/freshness.py" --base "http://127.0.0.1:$HPORT" --path "/$KEY" \
	--expect 202 --readers 4 --ws-subscribe '{"subscribe":["slots:mainnet"]}' --timeout 45 \
	>"$T/fresh.out" 2>"$T/fresh.err" &
FRESH_PID=$!
wait_for 'grep -q "^ready" "$T/fresh.out" 2>/dev/null' 200 || fail "freshness reader not ready: $(cat "$T/fresh.err")"
burst 200
wait "$FRESH_PID" || fail "freshness across daemons: $(cat "$T/fresh.out" "$T/fresh.err")"
FRESH_PID=""
reads=$(awk '$1 == "freshness_reads" { print $2 }' "$T/fresh.out")
pass "200 rewrites on the writer daemon, $reads reads on the api daemon: none stale after its event"
stop_labd
[ "$STOP_RC" = 0 ] || fail "api daemon exit $STOP_RC"
