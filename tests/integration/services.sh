#!/bin/bash
# Smoke test of tests/services/ and tests/fixtures/: starts ClickHouse, NATS
# and s3rver through with-services.sh, applies the Xatu schema, generates and
# loads 200 slots for two networks, checks the rows against the manifest,
# does a NATS publish/subscribe and an S3 PUT/GET, and afterwards checks
# that no server process or port is left behind. Also checks that the
# generator is deterministic. Bash for /dev/tcp (the NATS check).
set -u
: "${top_builddir:=$(cd "$(dirname "$0")/../.." && pwd)}"
: "${top_srcdir:=$(cd "$(dirname "$0")/../.." && pwd)}"
SERVICES="$top_srcdir/tests/services"
FIXTURES="$top_srcdir/tests/fixtures"
GEN="$top_builddir/tests/fixtures/xatu-gen"

fail() {
	echo "FAIL: $*" >&2
	exit 1
}
pass() { echo "ok - $*"; }

# ------------------------------------------------------------ outer part
if [ "${1:-}" != --inner ]; then
	[ -x "$GEN" ] || fail "$GEN not built (make tests/fixtures/xatu-gen)"
	T=$(mktemp -d /tmp/labd-svc-test-XXXXXX)
	trap 'if [ "${KEEP_TMP:-0}" = 1 ]; then echo "kept $T" >&2; else rm -rf "$T"; fi' EXIT
	export SMOKE_T=$T top_builddir top_srcdir
	t0=$(date +%s.%N)
	"$SERVICES/with-services.sh" clickhouse,nats,s3 -- "$0" --inner
	rc=$?
	[ $rc -eq 0 ] || fail "inner test failed (exit $rc)"
	# with-services.sh must have stopped everything and removed its directory.
	[ -s "$T/pids" ] || fail "inner test recorded no pids"
	for pid in $(cat "$T/pids"); do
		if [ -d "/proc/$pid" ] && ! grep -q '^State:.*Z' "/proc/$pid/status" 2>/dev/null; then
			fail "server pid $pid still running after with-services.sh returned"
		fi
	done
	for port in $(cat "$T/ports"); do
		[ -z "$(ss -Htln "( sport = :$port )" 2>/dev/null)" ] || fail "port $port still listening"
	done
	[ ! -e "$(cat "$T/servicesdir")" ] || fail "services dir $(cat "$T/servicesdir") left behind"
	pass "all servers stopped, ports closed, temp dir removed"

	# A failing command: its status comes back and the servers still stop.
	"$SERVICES/with-services.sh" nats -- sh -c 'echo "$NATS_PID" >"$SMOKE_T/pid2"; exit 7'
	rc=$?
	[ $rc -eq 7 ] || fail "with-services.sh returned $rc for a command that exited 7"
	pid2=$(cat "$T/pid2")
	sleep 0.2
	if [ -d "/proc/$pid2" ] && ! grep -q '^State:.*Z' "/proc/$pid2/status" 2>/dev/null; then
		fail "nats pid $pid2 survived a failing command"
	fi
	pass "failing command: exit status kept, server stopped"
	t1=$(date +%s.%N)
	echo "# services smoke test took $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }') s"
	exit 0
fi

# ------------------------------------------------------------ inner part
T=$SMOKE_T
echo "$CLICKHOUSE_PID $NATS_PID $S3_PID" >"$T/pids"
echo "$LABD_SERVICES_DIR" >"$T/servicesdir"
{
	echo "${CLICKHOUSE_URL##*:}" "$CLICKHOUSE_TCP_PORT"
	echo "${NATS_URL##*:}" "${NATS_MONITOR_URL##*:}" "${S3_ENDPOINT##*:}"
} | tr ' ' '\n' >"$T/ports"

ch() { # ch SQL: prints the TSV result; fails the test on error
	local out code
	out=$(curl -sS -w '\n%{http_code}' --data-binary "$1 FORMAT TabSeparated" "$CLICKHOUSE_URL/") || fail "curl: $1"
	code=${out##*$'\n'}
	out=${out%$'\n'*}
	[ "$code" = 200 ] || fail "ClickHouse error for: $1
$out"
	printf '%s\n' "$out"
}

# manifest lookups
mf() { awk -F'\t' -v k="$2" '$1 == k { print $2; exit }' "$1"; }
mtable() { awk -F'\t' -v t="$2" -v f="$3" '$1 == "table" && $2 == t { for (i = 3; i <= NF; i++) { split($i, kv, "="); if (kv[1] == f) print kv[2] } }' "$1"; }
msum() { # msum MANIFEST KEY: sum of KEY=N over slot lines
	awk -F'\t' -v k="$2" '$1 == "slot" { for (i = 3; i <= NF; i++) if (index($i, k "=") == 1) { s += substr($i, length(k) + 2) } } END { print s + 0 }' "$1"
}
mcount() { awk -F'\t' -v k="$2" '$1 == k { print ($2 == "" ? 0 : split($2, a, " ")) }' "$1"; }
mslots() { # mslots MANIFEST 'key=value' -> number of slot lines with that field
	awk -F'\t' -v kv="$2" '$1 == "slot" { for (i = 3; i <= NF; i++) if ($i == kv) { n++; break } } END { print n + 0 }' "$1"
}
mslots2() { # slot lines having both fields
	awk -F'\t' -v a="$2" -v b="$3" '$1 == "slot" { x = 0; y = 0; for (i = 3; i <= NF; i++) { if ($i == a) x = 1; if ($i == b) y = 1 } if (x && y) n++ } END { print n + 0 }' "$1"
}

# --- generator: determinism and slice independence
gen() { "$GEN" "$@" || fail "xatu-gen $*"; }
gen --network mainnet --genesis 1606824023 --from-slot 9000000 --to-slot 9000199 --seed 7 --out "$T/mainnet"
gen --network mainnet --genesis 1606824023 --from-slot 9000000 --to-slot 9000199 --seed 7 --out "$T/mainnet.again"
diff -r "$T/mainnet" "$T/mainnet.again" >/dev/null || fail "two generator runs differ"
pass "generator is deterministic (two runs, identical files)"
gen --network mainnet --genesis 1606824023 --from-slot 9000050 --to-slot 9000099 --seed 7 --out "$T/slice"
awk -F'\t' '$1 == "slot" && $2 >= 9000050 && $2 <= 9000099' "$T/mainnet/manifest" >"$T/slice.want"
awk -F'\t' '$1 == "slot"' "$T/slice/manifest" >"$T/slice.got"
cmp -s "$T/slice.want" "$T/slice.got" || fail "slots 50-99 differ between a 200-slot and a 50-slot run"
[ "$(wc -l <"$T/slice.got")" -eq 50 ] || fail "slice has $(wc -l <"$T/slice.got") slot lines"
pass "a slot's data does not depend on the requested range"
gen --network mainnet --genesis 1606824023 --from-slot 9000000 --to-slot 9000199 --seed 8 --out "$T/seed8"
! cmp -s "$T/mainnet/beacon_api_eth_v1_events_block.tsv" "$T/seed8/beacon_api_eth_v1_events_block.tsv" ||
	fail "--seed has no effect"
gen --network sepolia --genesis 1655733600 --from-slot 6000000 --to-slot 6000199 --seed 7 --clients 30 --out "$T/sepolia"
pass "generated 200 slots for mainnet and sepolia"
"$GEN" --network x --genesis 1 --from-slot 5 --to-slot 4 --out "$T/bad" 2>/dev/null && fail "from > to accepted"
"$GEN" --network x --genesis 4294967000 --from-slot 0 --to-slot 100 --out "$T/bad" 2>/dev/null && fail "DateTime overflow accepted"
pass "generator refuses bad ranges"

# --- schema and load
"$FIXTURES/load-schema.sh" "$CLICKHOUSE_URL" 2>"$T/schema.err" || fail "load-schema.sh: $(cat "$T/schema.err")"
"$FIXTURES/load-schema.sh" "$CLICKHOUSE_URL" 2>"$T/schema.err" || fail "load-schema.sh is not idempotent: $(cat "$T/schema.err")"
[ "$(ch "SELECT count() FROM system.tables WHERE database = currentDatabase()")" -eq 13 ] || fail "expected 13 tables"
pass "schema applied (13 tables; idempotent)"
for net in mainnet sepolia; do
	"$FIXTURES/load.sh" "$CLICKHOUSE_URL" "$T/$net" >"$T/load.$net" || fail "load.sh $net"
done
pass "loaded both networks"

# --- row counts against the manifest (FINAL: background merges may already
# have collapsed some duplicates, so a plain count() lies between the two)
for net in mainnet sepolia; do
	m="$T/$net/manifest"
	for t in $(awk -F'\t' '$1 == "table" { print $2 }' "$m"); do
		rows=$(mtable "$m" "$t" rows)
		final=$(mtable "$m" "$t" final)
		got_final=$(ch "SELECT count() FROM $t FINAL WHERE meta_network_name = '$net'")
		got=$(ch "SELECT count() FROM $t WHERE meta_network_name = '$net'")
		[ "$got_final" = "$final" ] || fail "$net $t: FINAL count $got_final, manifest says $final"
		[ "$got" -le "$rows" ] && [ "$got" -ge "$final" ] || fail "$net $t: count $got outside [$final, $rows]"
		printf '# %-8s %-40s rows=%-6s final=%s\n' "$net" "$t" "$rows" "$final"
	done
done
pass "row counts match the manifests"

# --- the manifest's per-slot facts, recomputed in SQL
m="$T/mainnet/manifest"
N="meta_network_name = 'mainnet'"
nslots=200
want=$((nslots - $(mcount "$m" empty_slots) - $(mcount "$m" no_event_slots)))
got=$(ch "SELECT uniqExact(slot) FROM beacon_api_eth_v1_events_block WHERE $N")
[ "$got" = "$want" ] || fail "slots with block events: $got, manifest implies $want"
got=$(ch "SELECT uniqExact(slot) FROM mev_relay_proposer_payload_delivered FINAL WHERE $N")
[ "$got" = "$(mcount "$m" mev_slots)" ] || fail "MEV slots: $got vs $(mcount "$m" mev_slots)"
got=$(ch "SELECT count() FROM (SELECT slot FROM mev_relay_proposer_payload_delivered FINAL WHERE $N GROUP BY slot HAVING count() = 2)")
[ "$got" = "$(mcount "$m" mev_two_relay_slots)" ] || fail "two-relay MEV slots: $got"
got=$(ch "SELECT sum(a) FROM (SELECT min(propagation_slot_start_diff) AS a FROM beacon_api_eth_v1_events_block WHERE $N GROUP BY slot)")
[ "$got" = "$(msum "$m" arrival_min)" ] || fail "sum of first arrivals: $got vs $(msum "$m" arrival_min)"
got=$(ch "SELECT sum(a) FROM (SELECT min(propagation_slot_start_diff) AS a FROM beacon_api_eth_v1_events_block FINAL WHERE $N GROUP BY slot)")
[ "$got" = "$(msum "$m" arrival_min_final)" ] || fail "sum of first arrivals (FINAL): $got"
got=$(ch "SELECT sum(v) FROM (SELECT max(length(validators) * (toUInt32(committee_index) + 1)) AS v FROM beacon_api_eth_v1_beacon_committee WHERE $N GROUP BY slot)")
[ "$got" = "$(msum "$m" max_votes)" ] || fail "sum of maximum votes: $got vs $(msum "$m" max_votes)"
got=$(ch "SELECT count() FROM (SELECT DISTINCT slot, attesting_validator_index FROM beacon_api_eth_v1_events_attestation
	WHERE $N AND attesting_validator_index IS NOT NULL AND propagation_slot_start_diff <= 12000
	AND (slot, beacon_block_root) IN (SELECT slot, block_root FROM canonical_beacon_block WHERE $N
		UNION ALL SELECT slot, block_root FROM beacon_api_eth_v2_beacon_block WHERE $N))")
[ "$got" = "$(msum "$m" att_validators)" ] || fail "attesting validators: $got vs $(msum "$m" att_validators)"
got=$(ch "SELECT count() FROM beacon_api_eth_v1_events_attestation WHERE $N AND attesting_validator_index IS NULL")
[ "$got" -gt 0 ] || fail "no attestations with a NULL validator index"
got=$(ch "SELECT count() FROM beacon_api_eth_v1_events_attestation WHERE $N AND propagation_slot_start_diff > 12000")
[ "$got" -gt 0 ] || fail "no attestations later than 12 s"
got=$(ch "SELECT count() FROM canonical_beacon_block FINAL ANY LEFT JOIN
	(SELECT index AS proposer_index, entity FROM ethseer_validator_entity FINAL WHERE $N) USING proposer_index
	WHERE $N AND entity = 'solo_stakers'")
[ "$got" = "$(mslots2 "$m" canonical=1 solo=1)" ] || fail "canonical solo-staker slots: $got vs $(mslots2 "$m" canonical=1 solo=1)"
got=$(ch "SELECT count() FROM canonical_beacon_block FINAL WHERE $N AND block_total_bytes_compressed IS NULL")
[ "$got" = "$(mslots2 "$m" canonical=1 null_size=1)" ] || fail "NULL-size canonical blocks: $got"
got=$(ch "SELECT countIf(c = 0), countIf(c > 6) FROM (SELECT slot, count() AS c FROM canonical_beacon_blob_sidecar FINAL WHERE $N GROUP BY slot)")
[ "$got" = $'0\t0' ] || fail "blob counts per slot out of 1..6: $got"
got=$(ch "SELECT sum(c) FROM (SELECT count() AS c FROM canonical_beacon_blob_sidecar FINAL WHERE $N GROUP BY slot)")
want=$(awk -F'\t' '$1 == "slot" { c = 0; b = 0; for (i = 3; i <= NF; i++) { if ($i == "canonical=1") c = 1; if ($i ~ /^blobs=/) b = substr($i, 7) } if (c) s += b } END { print s + 0 }' "$m")
[ "$got" = "$want" ] || fail "canonical blobs: $got vs $want"
for s in $(awk -F'\t' '$1 == "empty_slots" { print $2 }' "$m"); do
	got=$(ch "SELECT (SELECT count() FROM beacon_api_eth_v1_events_block WHERE $N AND slot = $s)
		+ (SELECT count() FROM canonical_beacon_block WHERE $N AND slot = $s)
		+ (SELECT count() FROM beacon_api_eth_v2_beacon_block WHERE $N AND slot = $s)")
	[ "$got" = 0 ] || fail "empty slot $s has block rows"
done
got=$(ch "SELECT count() FROM beacon_api_eth_v1_events_block WHERE $N AND propagation_slot_start_diff > 6000")
[ "$got" -gt 0 ] || fail "no late block events"
pass "manifest facts hold in ClickHouse (slots, MEV, arrivals, votes, attesters, entities, blobs, empty slots)"

# --- hostile client names survive the TSV round trip byte for byte
got=$(ch "SELECT hex(meta_client_name) FROM beacon_api_eth_v1_events_block WHERE $N AND position(meta_client_name, 'pub-ctl/') = 1 LIMIT 1")
[ "$got" = "$(printf 'pub-ctl/us\ter\nname\001/node\177\r' | od -An -tx1 | tr -d ' \n' | tr a-f A-F)" ] || fail "control-byte name mangled: $got"
got=$(ch "SELECT count() FROM beacon_api_eth_v1_events_block WHERE $N AND meta_client_name = unhex('7075622D6E756C2F6E756C00757365722F6E6F6465')")
[ "$got" -gt 0 ] || fail "name with NUL byte lost"
got=$(ch "SELECT count() FROM beacon_api_eth_v1_events_block WHERE $N AND meta_client_name = unhex('7075622D62696E2FFFFE757365722F6E6F64652DC328')")
[ "$got" -gt 0 ] || fail "non-UTF-8 name lost"
got=$(ch "SELECT max(length(meta_client_name)) FROM beacon_api_eth_v1_events_block WHERE $N")
[ "$got" -gt 500 ] || fail "no very long client name"
got=$(ch "SELECT uniqExact(meta_client_geo_country) FROM beacon_api_eth_v1_events_block WHERE $N AND meta_client_geo_city = 'Paris'")
[ "$got" = 2 ] || fail "duplicate city names in two countries missing"
pass "hostile names and geo edge cases round-trip"

# --- NATS: a real publish/subscribe over two client connections
nats_port=${NATS_URL##*:}
exec 3<>"/dev/tcp/127.0.0.1/$nats_port" || fail "cannot connect to NATS"
exec 4<>"/dev/tcp/127.0.0.1/$nats_port" || fail "cannot connect to NATS"
read -r -t 5 info <&3 && [[ $info == INFO* ]] || fail "no INFO from NATS"
read -r -t 5 info <&4 || fail "no INFO from NATS"
printf 'CONNECT {"verbose":false}\r\nSUB lab.smoke.> 1\r\nPING\r\n' >&3
read -r -t 5 line <&3 && [[ $line == PONG* ]] || fail "subscriber got '$line' instead of PONG"
printf 'CONNECT {"verbose":false}\r\nPUB lab.smoke.test 17\r\n{"hello":"world"}\r\nPING\r\n' >&4
read -r -t 5 line <&4 && [[ $line == PONG* ]] || fail "publisher got '$line' instead of PONG"
read -r -t 5 line <&3 && [[ $line == "MSG lab.smoke.test 1 17"* ]] || fail "subscriber got '$line' instead of MSG"
read -r -t 5 line <&3 && [[ ${line%$'\r'} == '{"hello":"world"}' ]] || fail "payload '$line'"
exec 3>&- 4>&-
varz=$(curl -sf "$NATS_MONITOR_URL/varz") || fail "/varz"
[[ $varz == *'"in_msgs": 1'* || $varz == *'"in_msgs":1'* ]] || fail "/varz does not count the message"
curl -sf "$NATS_MONITOR_URL/jsz" | grep -q '"config"' || fail "JetStream not enabled"
pass "NATS publish/subscribe, /varz and JetStream"

# --- S3: signed PUT, GET, HEAD, DELETE (s3rver wants x-amz-content-sha256)
s3() { # s3 METHOD KEY [FILE]: prints the HTTP code; body in $T/s3.out
	local hash method=(-X "$1") body=()
	if [ -n "${3:-}" ]; then hash=$(sha256sum "$3" | cut -d' ' -f1); body=(--data-binary "@$3")
	else hash=$(printf '' | sha256sum | cut -d' ' -f1); fi
	# -X HEAD would make curl wait for a body that never comes.
	[ "$1" = HEAD ] && method=(-I)
	curl -s -o "$T/s3.out" -w '%{http_code}' --max-time 20 "${method[@]}" "${body[@]}" \
		--aws-sigv4 "aws:amz:$S3_REGION:s3" --user "$S3_ACCESS_KEY_ID:$S3_SECRET_ACCESS_KEY" \
		-H "x-amz-content-sha256: $hash" -H 'Content-Type: application/json' \
		"$S3_ENDPOINT/$S3_BUCKET/$2"
}
printf '{"slot":1,"network":"mainnet"}' | gzip -c >"$T/doc.json.gz"
[ "$(s3 PUT beacon/slots/mainnet/1.json "$T/doc.json.gz")" = 200 ] || fail "S3 PUT: $(cat "$T/s3.out")"
[ "$(s3 GET beacon/slots/mainnet/1.json)" = 200 ] || fail "S3 GET"
cmp -s "$T/s3.out" "$T/doc.json.gz" || fail "S3 GET returned other bytes"
[ "$(s3 HEAD beacon/slots/mainnet/1.json)" = 200 ] || fail "S3 HEAD"
[ "$(s3 DELETE beacon/slots/mainnet/1.json)" = 204 ] || fail "S3 DELETE"
[ "$(s3 GET beacon/slots/mainnet/1.json)" = 404 ] || fail "S3 GET after DELETE"
pass "S3 PUT/GET/HEAD/DELETE on s3rver"

# --- status commands see the running services
"$SERVICES/clickhouse.sh" status "$LABD_SERVICES_DIR/clickhouse" >/dev/null || fail "clickhouse.sh status"
"$SERVICES/nats.sh" status "$LABD_SERVICES_DIR/nats" >/dev/null || fail "nats.sh status"
"$SERVICES/s3rver.sh" status "$LABD_SERVICES_DIR/s3" >/dev/null || fail "s3rver.sh status"
pass "status commands"
exit 0
