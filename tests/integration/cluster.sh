#!/bin/sh
# Cluster services (SDK 1.5) against a real nats-server -js: three daemons
# run tests/plugins/clustertest with cluster.backend = "nats" (lease_ttl 3s,
# renew_interval 1s).  Exactly one holds the lease; the same units claimed
# by all three are granted once; 3 x 20 CAS increments of one shared counter
# end at 60; SIGKILL of the holder -> another acquires within ttl + renew;
# a finished claim answers "done"; a 10 s NATS outage -> LOST everywhere,
# re-acquired after; backend none grants everything locally.
. "$(dirname "$0")/lib.sh"
NATS_SVC="$top_srcdir/tests/services/nats.sh"

if [ "${1:-}" != --inner ]; then
	grep -q 'define HAVE_NATS 1' "$top_builddir/host/build_config.h" ||
		{ echo "SKIP: labd built without libnats"; exit 77; }
	command -v nats-server >/dev/null 2>&1 || [ -x /usr/sbin/nats-server ] ||
		{ echo "SKIP: nats-server is not installed"; exit 77; }
	"$top_srcdir/tests/services/with-services.sh" nats -- "$0" --inner
	exit $?
fi

PORT_NATS=${NATS_URL##*:}
NATS_DIR="$LABD_SERVICES_DIR/nats"
stage_plugins
[ -f "$T/plugins/clustertest.so" ] || fail "clustertest.so not built"
# cas_wait_ms: each daemon reads the counter, then waits 2 s before its
# first CAS, so the later ones write on a stale revision: conflicts.
write_conf 'clustertest = { lease = "test/one"; claims = 3; cas = 20; cas_wait_ms = 2500; };'
PIDS=""
# start_node N ARGS...: labd number N, log $T/labdN.log, admin port in PORTN.
start_node() {
	n=$1; shift
	"$LABD" -c "$T/labd.conf" -D broker.backend=nats -D "broker.nats.url=$NATS_URL" \
		-D clickhouse.probe_interval=0s -D cluster.backend=nats -D cluster.lease_ttl=3s \
		-D cluster.renew_interval=1s -D "cluster.node=node$n" -D "storage.fs.root=$T/data$n" \
		"$@" 2>"$T/labd$n.log" &
	eval "PID$n=$!"
	PIDS="$PIDS $!"
	wait_for "grep -q 'msg=\"admin API listening\"' '$T/labd$n.log'" 200 || fail "node$n did not start"
	eval "PORT$n=\$(sed -n 's/.*msg=\"admin API listening\".* port=\([0-9]*\).*/\1/p' '$T/labd$n.log' | head -n 1)"
}
cleanup_nodes() { for p in $PIDS; do kill -9 "$p" 2>/dev/null; done; }
# stop_nodes: SIGTERM every running node; each must exit 0 (releases what it
# holds; under ASan also: no leak, no error).
stop_nodes() {
	for p in $PIDS; do
		kill -0 "$p" 2>/dev/null || continue
		kill -TERM "$p"
		wait "$p" || fail "a node exited with $? (logs: $(grep -h -i 'sanitizer\|error' "$T"/labd[0-9].log | head -5))"
	done
	PIDS=""
}
trap 'cleanup_nodes; cleanup' EXIT
# held N: 1 when node N's log says it holds the lease now
held() {
	last=$(grep -E 'msg="lease (acquired|lost)"' "$T/labd$1.log" | tail -n 1)
	case $last in *'lease acquired'*) echo 1 ;; *) echo 0 ;; esac
}
holders() { echo $(($(held 1) + $(held 2) + $(held 3))); }
wait_long() { n=$(($1 * 10)); while [ "$n" -gt 0 ]; do eval "$2" && return 0; sleep 0.1; n=$((n - 1)); done; return 1; }

# ---- 0. settings: file:line errors
printf 'cluster = {\n backend = "nats";\n};\n' >"$T/bad.conf"
"$LABD" -t -c "$T/bad.conf" 2>"$T/bad.err" && fail "cluster nats without broker nats accepted"
grep -q "bad.conf:2: setting 'cluster.backend': \"nats\" needs broker.backend = \"nats\"" "$T/bad.err" ||
	fail "error: $(cat "$T/bad.err")"
printf 'cluster = {\n lease_ttl = "10s";\n renew_interval = "5s";\n};\n' >"$T/bad.conf"
"$LABD" -t -c "$T/bad.conf" 2>"$T/bad.err" && fail "renew_interval = ttl/2 accepted"
grep -q "bad.conf:3: setting 'cluster.renew_interval'" "$T/bad.err" || fail "error: $(cat "$T/bad.err")"
printf 'cluster = { node = "a b"; };\n' >"$T/bad.conf"
"$LABD" -t -c "$T/bad.conf" 2>"$T/bad.err" && fail "node with a space accepted"
grep -q "bad.conf:1: setting 'cluster.node'" "$T/bad.err" || fail "error: $(cat "$T/bad.err")"
pass "cluster settings are checked (file:line errors)"

# ---- 1. one holder among three
for i in 1 2 3; do start_node $i; done
wait_long 15 '[ "$(holders)" = 1 ]' || fail "no single holder: $(holders)"
sleep 4 # several renewals later: still exactly one
[ "$(holders)" = 1 ] || fail "holders after renewals: $(holders)"
for i in 1 2 3; do [ "$(held $i)" = 1 ] && H=$i; done
eval "P=\$PORT$H"
curl -s "http://127.0.0.1:$P/plugins" | grep -q '"cluster":{"leases":\["test/one"\]' ||
	fail "/plugins of the holder: $(curl -s "http://127.0.0.1:$P/plugins")"
curl -s "http://127.0.0.1:$P/cluster/leases" | grep -q 'lease/clustertest/test/one' ||
	fail "/cluster/leases: $(curl -s "http://127.0.0.1:$P/cluster/leases")"
curl -s "http://127.0.0.1:$P/metrics" | grep -q '^lab_cluster_leases_held{plugin="clustertest"} 1' ||
	fail "lab_cluster_leases_held of the holder"
curl -s "http://127.0.0.1:$P/metrics" | grep -q '^lab_cluster_up 1' || fail "lab_cluster_up"
out=$("$top_srcdir/tools/labctl" -a "127.0.0.1:$P" leases) || fail "labctl leases"
printf '%s\n' "$out" | grep -Eq "^lease/clustertest/test/one +node$H " || fail "labctl leases: $out"
pass "exactly one of three daemons holds the lease (node$H)"

# ---- 2. claims: each unit granted once, busy elsewhere
for u in 1 2 3; do
	g=$(cat "$T"/labd[123].log | grep -c "msg=claim unit=unit/$u status=granted")
	b=$(cat "$T"/labd[123].log | grep -c "msg=claim unit=unit/$u status=busy")
	[ "$g" = 1 ] && [ "$b" = 2 ] || fail "unit/$u: granted $g busy $b"
done
pass "3 units claimed by 3 daemons: each granted once, busy twice"

# ---- 3. CAS: 60 increments, no lost update
wait_long 30 '[ "$(cat "$T"/labd[123].log | grep -c "msg=\"cas done\"")" = 3 ]' || fail "cas not done"
max=$(cat "$T"/labd[123].log | sed -n 's/.*msg="cas done".* value=\([0-9]*\).*/\1/p' | sort -n | tail -n 1)
conf=$(cat "$T"/labd[123].log | sed -n 's/.*msg="cas done" conflicts=\([0-9]*\).*/\1/p' | awk '{s+=$1} END {print s}')
[ "$max" = 60 ] || fail "counter ends at $max, not 60"
[ "$conf" -ge 1 ] || fail "no CAS conflict although the daemons wrote on stale revisions"
mconf=0
for i in 1 2 3; do
	eval "P=\$PORT$i"
	v=$(curl -s "http://127.0.0.1:$P/metrics" | awk '$1 == "lab_cluster_cas_conflicts_total{plugin=\"clustertest\"}" { print $2 }')
	mconf=$((mconf + ${v:-0}))
done
[ "$mconf" = "$conf" ] || fail "lab_cluster_cas_conflicts_total sums to $mconf, the plugins saw $conf"
pass "3 x 20 CAS increments end at 60 ($conf conflicts counted)"

# ---- 4. SIGKILL of the holder: another takes over within ttl + renew
eval "HP=\$PID$H"
t0=$(date +%s%N)
kill -9 "$HP"
wait "$HP" 2>/dev/null
PIDS=$(echo " $PIDS " | sed "s/ $HP / /")
others=""
for i in 1 2 3; do [ "$i" != "$H" ] && others="$others $i"; done
others_holding() { for i in $others; do held "$i"; done | grep -c 1; }
wait_long 10 '[ "$(others_holding)" = 1 ]' || fail "no takeover"
t1=$(date +%s%N)
ms=$(((t1 - t0) / 1000000))
[ "$ms" -le 5000 ] || fail "takeover took $ms ms (ttl 3 s + renew 1 s)"
pass "holder killed: takeover after $ms ms (bound 4000 ms + polling)"

# ---- 5. a 10 s NATS outage: LOST on the holder, re-acquired after
for i in $others; do [ "$(held $i)" = 1 ] && H2=$i; done
lost_before=$(grep -c 'msg="lease lost"' "$T/labd$H2.log")
SVC_QUIET=1 "$NATS_SVC" stop "$NATS_DIR" >/dev/null || fail "cannot stop nats-server"
wait_long 5 '[ "$(grep -c "msg=\"lease lost\"" "$T/labd$H2.log")" -gt "$lost_before" ]' || fail "no LOST during the outage"
sleep 8
for i in $others; do [ "$(held $i)" = 0 ] || fail "node$i holds the lease while NATS is down"; done
NATS_PORT=$PORT_NATS SVC_QUIET=1 "$NATS_SVC" start "$NATS_DIR" >/dev/null || fail "cannot restart nats-server"
wait_long 20 '[ "$(others_holding)" = 1 ]' || fail "not re-acquired after the outage"
pass "NATS down 10 s: lease lost, re-acquired by one daemon after"
stop_nodes

# ---- 6. a finished claim is done for everyone
write_conf 'clustertest = { claims = 1; units = "fin"; finish = 1; };'
start_node 1
wait_long 10 'grep -q "msg=claim unit=fin/1 status=granted" "$T/labd1.log"' || fail "fin/1 not granted"
sleep 1
start_node 2
wait_long 10 'grep -q "msg=claim unit=fin/1 status=done" "$T/labd2.log"' || fail "fin/1 not done: $(grep claim "$T/labd2.log")"
pass "claim finished (completed) -> LAB_EEXIST for the next daemon"
stop_nodes

# ---- 7. backend none: everything granted locally
write_conf 'clustertest = { lease = "test/one"; claims = 2; cas = 5; };'
start_labd
wait_for 'grep -q "msg=\"cas done\" conflicts=0 increments=5 value=5" "$T/labd.log"' 100 || fail "none: cas"
grep -q 'msg="lease acquired"' "$T/labd.log" || fail "none: lease"
[ "$(grep -c 'status=granted' "$T/labd.log")" = 2 ] || fail "none: claims"
grep -q 'backend=none' "$T/labd.log" || fail "none: backend name"
stop_labd
[ "$STOP_RC" = 0 ] || fail "labd exit $STOP_RC"
pass "backend none: lease, claims and shared state granted locally"
