#!/bin/sh
# Forced fault of issue 17: "a daemon whose lease was lost while a query was
# in flight does not store the stale result over a newer one" — with real
# servers only (nats-server -js, ClickHouse 18.16, s3rver):
#   daemon A (d1) reaches ClickHouse through tests/integration/relay.js with
#   an 8 s delay (longer than lease_ttl 3 s) and nats-server through
#   tests/integration/tcp-relay.js; B (d2) reaches both directly.  Each
#   daemon's storage goes through its own counting relay.js.
#   1. A starts alone and acquires the timings job's lease; its query is
#      held 8 s by the ClickHouse relay;
#   2. right then A's NATS relay is frozen (SIGSTOP: a silent network, the
#      TCP connection stays open), so A cannot renew: its lease is LOST at
#      its deadline, the key expires in nats-server after the ttl;
#   3. B starts, takes the lease over and stores the timings document;
#   4. A's query returns after B stored: A must NOT store it — its storage
#      relay logs no PUT of the document, the document is PUT exactly once
#      (by B), and A logs the refused store ("lease lost, the new holder
#      writes it").  With the lab_lease_valid() check before the put
#      removed (wj_may_store), A's stale document is PUT a second time and
#      this test fails (tried once by hand).
if [ "${1:-}" != --inner ]; then
	: "${top_srcdir:=$(cd "$(dirname "$0")/../.." && pwd)}"
	: "${top_builddir:=$top_srcdir}"
	grep -q "define HAVE_NATS 1" "$top_builddir/host/build_config.h" 2>/dev/null ||
		{ echo "SKIP: labd built without libnats"; exit 77; }
	command -v node >/dev/null 2>&1 || { echo "SKIP: node is not installed (relay.js)"; exit 77; }
	exec "$top_srcdir/tests/services/with-services.sh" clickhouse,nats,s3 -- "$0" --inner
fi
. "$top_srcdir/tests/integration/lib.sh"
trap 'rc=$?; [ $rc = 0 ] || [ $rc = 77 ] || KEEP_TMP=1; [ -z "${NRELAY_PID:-}" ] || kill -CONT $NRELAY_PID 2>/dev/null; for p in $PIDS; do kill -9 $p 2>/dev/null; done; cleanup' EXIT
PIDS=""

GENESIS=1606824023
NOW=2024-06-01T12:00:05Z
TTL=3 RENEW=1 DELAY_MS=8000
DOC=beacon_chain_timings/block_timings/mainnet/edge.json

stage_plugins
"$top_srcdir/tests/fixtures/load-schema.sh" "$CLICKHOUSE_URL" >/dev/null || fail "schema"

for k in 1 2; do # (not i: wait_for uses it)
	start_relay "$S3_ENDPOINT" --log "$T/puts$k.log"
	PIDS="$PIDS $RELAY_PID"
	eval "S3R$k=\$RELAY"
done
start_relay "$CLICKHOUSE_URL" --delay-ms $DELAY_MS --log "$T/ch1.log"
PIDS="$PIDS $RELAY_PID"
CH1=$RELAY
node "$top_srcdir/tests/integration/tcp-relay.js" "${NATS_URL#nats://}" >"$T/nrelay.out" 2>"$T/nrelay.err" &
NRELAY_PID=$!
PIDS="$PIDS $NRELAY_PID"
wait_for 'grep -q "^listening" "$T/nrelay.out"' || fail "tcp-relay.js did not start: $(cat "$T/nrelay.err")"
NATS1="nats://127.0.0.1:$(sed -n 's/^listening //p' "$T/nrelay.out")"

{ cluster_conf "$S3R1" s; cat <<CONF
plugins = {
	timings = { enabled = true; interval = "1h"; networks = [ "mainnet" ];
		time_windows = ( { file = "edge"; step = "5m"; label = "Edge"; range = "-20m"; } ); };
};
CONF
} >"$T/labd.conf"
"$LABD" -t -c "$T/labd.conf" >"$T/t.log" 2>&1 || { cat "$T/t.log"; fail "config"; }
docputs() { grep -c "^PUT /$S3_BUCKET/$DOC 200" "$1" 2>/dev/null; }

# 1. A alone: its lease, its query held by the ClickHouse relay
"$LABD" -c "$T/labd.conf" --now "$NOW" -D 'cluster.node="A"' -D "storage.s3.endpoint=\"$S3R1\"" \
	-D "clickhouse.url=\"$CH1\"" -D "broker.nats.url=\"$NATS1\"" 2>"$T/d1.log" &
A=$!; PIDS="$PIDS $A"
wait_for 'grep -q "plugin=timings msg=\"lease acquired\"" "$T/d1.log"' 200 || fail "A did not acquire the timings lease"
# A reads its shared cursor (NATS) before it queries: cut only once the
# query is held by the relay, or the read, not the query, is what is cut
wait_for 'grep -q "^HELD " "$T/ch1.log"' 200 || fail "A's query did not reach the delaying relay"
# 2. cut A off nats-server while its query is in flight
kill -STOP $NRELAY_PID
tcut=$(date +%s%N)
[ "$(docputs "$T/puts1.log")" = 0 ] || fail "A stored before its query could return (is the relay delaying?)"
# 3. B takes the lease over and stores
"$LABD" -c "$T/labd.conf" --now "$NOW" -D 'cluster.node="B"' -D "storage.s3.endpoint=\"$S3R2\"" 2>"$T/d2.log" &
B=$!; PIDS="$PIDS $B"
wait_for '[ "$(docputs "$T/puts2.log")" = 1 ]' 200 || fail "B did not store $DOC within 20 s of A's cut"
tb=$(date +%s%N)
grep -q "plugin=timings msg=\"lease acquired\"" "$T/d2.log" || fail "B stored without logging its lease"
[ $(((tb - tcut) / 1000000)) -lt $DELAY_MS ] || fail "B stored $(((tb - tcut) / 1000000)) ms after the cut: A's query had returned already, the test proves nothing"
grep -q "plugin=timings msg=\"lease lost\"" "$T/d1.log" || fail "A did not log its lease lost"
# 4. A's query comes back (DELAY_MS after it left; the relay logs it when
# answered): no store — the PUT count first, then A's log line
wait_for 'grep -q "^POST\|^GET" "$T/ch1.log"' 300 || fail "A's query did not come back through the delaying relay"
sleep 2 # a stale put would show now
[ "$(docputs "$T/puts1.log")" = 0 ] || fail "A stored its stale $DOC after losing the lease ($(docputs "$T/puts1.log") PUTs)"
[ "$(docputs "$T/puts2.log")" = 1 ] || fail "$DOC PUT $(docputs "$T/puts2.log") times by B"
wait_for 'grep -q "plugin=timings msg=\"timings job failed; retried at the next tick\".*step=store error=\"lease lost, the new holder writes it\"" "$T/d1.log"' 200 ||
	fail "A did not log its refused store: $(grep plugin=timings "$T/d1.log" | tail -n 3)"
pass "A lost its lease while its query was in flight (${DELAY_MS} ms): B took over and stored $DOC once, A refused to store the stale result"

kill -CONT $NRELAY_PID
kill -TERM $B; wait $B || fail "B exited $?"
kill -TERM $A; wait $A || fail "A exited $?"
pass "both daemons stopped cleanly"
