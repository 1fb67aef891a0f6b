#!/bin/sh
# Trailing under claims (issue 17, docs/cluster.md): three labd on one
# nats-server -js, ClickHouse 18.16 with TRAIL_SLOTS generated slots
# (default 300), each daemon's storage behind its own counting relay
# (tests/integration/relay.js) in front of s3rver, so the PUTs of every key
# are counted outside labd AND attributed to the daemon that made them.
# The clock is fixed so that the hour trailing takes on a first start
# (300 slots below the head) covers most of the data; backfill gets the
# rest (the slots at or below the shared top).
#   - every slot document is PUT exactly once across the three daemons,
#     none is missing;
#   - the trailing slots (above the backfill top) were stored by more than
#     one daemon: trailing is claimed slot by slot by every daemon, not run
#     by the head lease holder alone;
#   - the daemons stop cleanly (SIGTERM, exit 0);
#   - each daemon keeps its plugin state at state/nodes/NODE/NAME.json, none
#     writes the single-daemon state/modules/NAME.json.
if [ "${1:-}" != --inner ]; then
	: "${top_srcdir:=$(cd "$(dirname "$0")/../.." && pwd)}"
	: "${top_builddir:=$top_srcdir}"
	grep -q "define HAVE_NATS 1" "$top_builddir/host/build_config.h" 2>/dev/null ||
		{ echo "SKIP: labd built without libnats"; exit 77; }
	command -v node >/dev/null 2>&1 || { echo "SKIP: node is not installed (relay.js)"; exit 77; }
	exec "$top_srcdir/tests/services/with-services.sh" clickhouse,nats,s3 -- "$0" --inner
fi
. "$top_srcdir/tests/integration/lib.sh"
trap 'rc=$?; [ $rc = 0 ] || [ $rc = 77 ] || KEEP_TMP=1; for p in $PIDS; do kill -9 $p 2>/dev/null; done; cleanup' EXIT
PIDS=""

[ -x "$top_builddir/tests/fixtures/xatu-gen" ] || make -C "$top_builddir" tests/fixtures/xatu-gen >/dev/null || fail "cannot build xatu-gen"
N=${TRAIL_SLOTS:-300}
GENESIS=1606824023
FROM=9000000
TO=$((FROM + N - 1))
LAG=3
# The head slot is TO + 40: trailing takes TO - 260 .. TO + 39 (the last 39
# have no data: within their grace period, they stay pending), backfill
# FROM .. TO - 261.
HEAD=$((TO + 40))
NOW=$(date -u -d "@$((GENESIS + (HEAD + LAG) * 12 + 5))" +%Y-%m-%dT%H:%M:%SZ)
TTL=3 RENEW=1

stage_plugins
load_slots $FROM $TO
NDOCS=$(wc -l <"$T/want.slots")

# one counting relay per daemon in front of s3rver
for k in 1 2 3; do # (not i: wait_for uses it)
	start_relay "$S3_ENDPOINT" --log "$T/puts$k.log"
	PIDS="$PIDS $RELAY_PID"
	eval "RELAY$k=\$RELAY"
done

{ cluster_conf "$RELAY1" t; cat <<CONF
plugins = {
	beacon = { enabled = true;
		networks = { mainnet = { head_lag_slots = $LAG;
			backfill = { to_slot = $FROM; concurrency = 8; }; }; }; };
};
CONF
} >"$T/labd.conf"
"$LABD" -t -c "$T/labd.conf" >"$T/t.log" 2>&1 || { cat "$T/t.log"; fail "config"; }

start_node() {
	i=$1; shift
	eval "r=\$RELAY$i"
	"$LABD" -c "$T/labd.conf" --now "$NOW" -D "cluster.node=\"d$i\"" \
		-D "storage.s3.endpoint=\"$r\"" "$@" 2>"$T/d$i.log" &
	eval "D$i=$!"
	PIDS="$PIDS $!"
}
# puts: "COUNT SLOT" per slot document PUT by any daemon (status 200)
p="/$S3_BUCKET/beacon/slots/mainnet/"
puts() {
	cat "$T"/puts[123].log 2>/dev/null | awk -v p="$p" '$1 == "PUT" && $3 == 200 && index($2, p) == 1 {
		k = substr($2, length(p) + 1); sub(/\.json$/, "", k); n[k]++ } END { for (k in n) print n[k], k }'
}
# by I TOP: the slots above TOP daemon I stored
by() {
	awk -v p="$p" -v top="$2" '$1 == "PUT" && $3 == 200 && index($2, p) == 1 {
		k = substr($2, length(p) + 1); sub(/\.json$/, "", k); if (k + 0 > top) n++ } END { print n + 0 }' "$T/puts$1.log"
}

start_node 1; start_node 2; start_node 3
i=0
while [ "$(puts | wc -l)" -lt "$NDOCS" ]; do
	i=$((i + 1)); [ $i -le 1800 ] || fail "$(puts | wc -l) of $NDOCS documents after 180 s"
	for d in $D1 $D2 $D3; do kill -0 "$d" 2>/dev/null || fail "daemon $d died"; done
	sleep 0.1
done
sleep 2 # anything stored twice would come now
puts | awk '{ print $2 }' | sort -n >"$T/got.slots"
cmp -s "$T/want.slots" "$T/got.slots" || { diff "$T/want.slots" "$T/got.slots" | head >&2; fail "stored slots differ from the manifest's block slots"; }
dups=$(puts | awk '$1 > 1' | wc -l)
[ "$dups" = 0 ] || { puts | awk '$1 > 1' | head >&2; fail "$dups slot documents stored more than once"; }

top=$(sed -n 's/.*msg="beacon started".*backfill_top=\([0-9]*\).*/\1/p' "$T/d1.log" | head -n 1)
[ -n "$top" ] || fail "no backfill_top in d1's log"
[ "$top" = $((HEAD - 301)) ] || fail "backfill top $top, expected $((HEAD - 301))"
ntrail=$(awk -v top="$top" '$1 > top' "$T/want.slots" | wc -l)
[ "$ntrail" -ge 100 ] || fail "only $ntrail trailing slots with data: the test covers nothing"
storers=0 split=""
for i in 1 2 3; do
	n=$(by $i "$top")
	split="$split d$i:$n"
	[ "$n" = 0 ] || storers=$((storers + 1))
done
[ "$storers" -ge 2 ] || fail "the $ntrail trailing slots were stored by $storers daemon(s) ($split), not by several"
holder=$(grep -l 'msg="head lease acquired"' "$T"/d[123].log | sed 's/.*d\([123]\)\.log/\1/' | tr '\n' ' ')
pass "$NDOCS documents stored exactly once; the $ntrail trailing slots above the top $top were stored by $storers daemons ($split; head lease holder: d$holder)"

for d in $D1 $D2 $D3; do kill -TERM "$d"; done
for d in $D1 $D2 $D3; do wait "$d" || fail "a daemon exited $?"; done
pass "three daemons stopped cleanly"

# each daemon's plugin state under its own node key, none at the
# single-daemon key (they would overwrite each other's file)
for k in 1 2 3; do
	grep -q "^PUT /$S3_BUCKET/state/nodes/d$k/beacon.json 200" "$T/puts$k.log" ||
		fail "d$k did not write its state at state/nodes/d$k/beacon.json"
done
! grep -q "^PUT /$S3_BUCKET/state/modules/" "$T"/puts[123].log || fail "a daemon of the cluster wrote a single-daemon state file"
pass "each daemon wrote its state at state/nodes/NODE/beacon.json, none at state/modules/"
