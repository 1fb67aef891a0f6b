#!/bin/sh
# Beacon backfill throughput (SPEC §10: >= 50 slots/s against local
# ClickHouse, i.e. >= 25x the original's designed ceiling of 2 slots/s; host
# CPU <= 10 % of ClickHouse's own query time): `labd --once` over
# BEACON_BENCH_SLOTS generated slots (default 2000) with backfill concurrency
# 1, 4 and 16 (slots per batch; two batches in flight), each into an empty
# fs store.  Per run: slots/s, labd CPU time per slot (user and system),
# ClickHouse query time per slot (system.query_log, the run's time window),
# labd CPU over ClickHouse time.
# Two datasets: the generator's defaults (24 clients, 2000 validators: about
# 70 blob events and 225 attestation rows per slot) and a denser one
# (--clients 20 --validators 8192: about 60 blob events, 256 committee
# members and 900 attestation rows per slot), in separate slot ranges of the
# same tables.  Concurrency 16 runs BEACON_BENCH_REPEAT times (default 3) on
# each; the verdict takes the median ratio, and the spread is printed.
# Then the original design's pace (one slot at a time, its queries one after
# another, 500 ms pause per slot), emulated by the harness, not the product:
# labd at backfill concurrency 1 with mev off (the original had no relay
# queries) behind tests/bench/ch-pace-proxy.js, which forwards one
# ClickHouse request at a time and holds each slot's block query 500 ms; over the top BEACON_ORIGINAL_SLOTS slots of the same range (default
# 40: at < 2 slots/s the whole range would take 17 minutes), its absolute
# throughput and the speed-up of concurrency 16 over it, measured side by
# side in this run.
# Then relay bids (SPEC §9.5) on BEACON_MEV_SLOTS (default 160) mainnet-like
# slots (xatu-gen --mev-relays 8 --mev-buckets 180: ~3,600 bid rows and
# ~2,900 listed bids a slot) at concurrency 16, with `mev` on and off:
# slots/s, peak RSS (target <= 64 MiB), labd CPU over ClickHouse time
# (target <= 10 %), and the document size before and after gzip; with mev on
# it is repeated like concurrency 16 (BEACON_BENCH_REPEAT, and
# BEACON_BENCH_BASELINE / BEACON_BENCH_PERF below apply to it).
# BEACON_BENCH_ONLY=mev runs the relay-bids section alone (no other dataset
# is generated).
[ "${1:-}" = --inner ] || exec "$top_srcdir/tests/services/with-services.sh" clickhouse -- sh "$0" --inner
. "$top_srcdir/tests/integration/lib.sh"
. "$top_srcdir/tests/bench/lib.sh"
N=${BEACON_BENCH_SLOTS:-2000}
NO=${BEACON_ORIGINAL_SLOTS:-40}
CONCS=${BEACON_BENCH_CONCURRENCY:-1 4 16}
REPEAT=${BEACON_BENCH_REPEAT:-3}
GENESIS=1606824023
FROM=9000000       # the generator's default density
DENSE_FROM=8000000 # the dense dataset, below it in the same tables
TO=$((FROM + N - 1))
"$top_srcdir/tests/fixtures/load-schema.sh" "$CLICKHOUSE_URL" >/dev/null || exit 1
# gen FROM ARGS...: generates and loads N slots from FROM, 250 at a time
# (ClickHouse 18.16 runs out of its per-query memory inserting the dense
# dataset's 1.8 million attestation rows at once; a slot's rows do not
# depend on the range asked for).
gen() {
	from=$1 s=$1
	shift
	: >"$T/gen.rows"
	while [ "$s" -lt $((from + N)) ]; do
		e=$((s + 249))
		[ $e -lt $((from + N)) ] || e=$((from + N - 1))
		"$top_builddir/tests/fixtures/xatu-gen" --network mainnet --genesis $GENESIS --from-slot "$s" \
			--to-slot "$e" "$@" --out "$T/gen" >/dev/null || exit 1
		"$top_srcdir/tests/fixtures/load.sh" "$CLICKHOUSE_URL" "$T/gen" >>"$T/gen.rows" || exit 1
		rm -rf "$T/gen"
		s=$((e + 1))
	done
}
ONLY=${BEACON_BENCH_ONLY:-}
if [ "$ONLY" != mev ]; then
	gen $FROM
	gen $DENSE_FROM --clients 20 --validators 8192
	awk '{ r[$1] += $2 } END { for (t in r) printf "# dense dataset: %s %.0f rows per slot\n", t, r[t] / '"$N"' }' "$T/gen.rows" | sort >&2
fi
stage_plugins
cat >"$T/labd.conf" <<CONF
log = { level = "warn"; };
admin = { listen = ""; };
plugin_dir = "$T/plugins";
storage = { backend = "fs"; fs = { root = "$T/data"; }; };
clickhouse = { url = "$CLICKHOUSE_URL"; database = "default"; max_concurrency = 8; };
ethereum = { networks = ( { name = "mainnet"; genesis_time = $GENESIS;
	config_file = "$top_srcdir/etc/networks/mainnet.yaml"; } ); };
plugins = { beacon = { enabled = true; networks = { mainnet = {
	backfill = { to_slot = $FROM; concurrency = 16; }; }; }; }; };
CONF
q() { curl -sS --data-binary "$1" "$CLICKHOUSE_URL/?database=default"; }
sleep 2 # let the load's own queries reach the query log

# run NAME SLOTS TOP -D...: one --once pass over slots TOP-SLOTS+1..TOP into
# an empty store; prints NAME_* figures.
# Each run gets a new directory, and none is removed before the end: ext4
# creates files markedly slower right after thousands were deleted
# (recently_deleted() in its inode allocator), which is not labd's cost.
run() {
	name=$1 n=$2 top=$3
	shift 3
	D="$T/data-$name"
	now=$(date -u -d "@$((GENESIS + (top + 3) * 12 + 5))" +%Y-%m-%dT%H:%M:%SZ)
	sleep 1
	t0=$(q "SELECT toUnixTimestamp(now())")
	# shellcheck disable=SC2086 # RUN_LABD may be a command with arguments
	/usr/bin/time -f "%e %U %S %M" -o "$T/time" ${RUN_LABD:-$LABD} -c "$T/labd.conf" --once --plugin beacon \
		--now "$now" -D "plugins.beacon.networks.mainnet.backfill.to_slot=$((top - n + 1))" \
		-D "storage.fs.root=\"$D\"" "$@" \
		2>"$T/labd.log" || { tail "$T/labd.log" >&2; exit 1; }
	t1=$(q "SELECT toUnixTimestamp(now())")
	sleep 1
	q "SYSTEM FLUSH LOGS" >/dev/null 2>&1
	read -r wall usr sys maxrss <"$T/time"
	stored=$(find "$D/beacon/slots/mainnet" -name '*.json' | wc -l)
	raw=$(find "$D/beacon/slots/mainnet" -name '*.json' -exec gzip -dc {} + | wc -c)
	gz=$(find "$D/beacon/slots/mainnet" -name '*.json' -printf '%s\n' | awk '{ n += $1 } END { print n + 0 }')
	# ClickHouse's own time for the plugin's queries in this run's window.
	# (and the CPU time of its threads: query time includes waiting for a
	# CPU when the machine is busy)
	q "SELECT sum(query_duration_ms), count(),
		intDiv(sum(ProfileEvents.Values[indexOf(ProfileEvents.Names, 'OSCPUVirtualTimeMicroseconds')]), 1000)
		FROM system.query_log
		WHERE type = 2 AND event_time BETWEEN toDateTime($t0) AND toDateTime($t1)
		AND query LIKE '%meta_network_name = %'
		AND query NOT LIKE '%system.query_log%' FORMAT TabSeparated" >"$T/ch"
	read -r ch_ms nq ch_cpu <"$T/ch"
	awk -v p="beacon_$name" -v n="$n" -v w="$wall" -v u="$usr" -v s="$sys" -v ch="$ch_ms" \
		-v q="$nq" -v st="$stored" -v m="$maxrss" -v raw="$raw" -v gz="$gz" -v chc="$ch_cpu" 'BEGIN {
		cpu = (u + s) * 1000
		printf "%s_slots %d slots\n%s_documents %d documents\n%s_wall %.2f s\n", p, n, p, st, p, w
		printf "%s_throughput %.1f slots/s\n", p, n / w
		printf "%s_labd_cpu_per_slot %.3f ms\n", p, cpu / n
		printf "%s_labd_user_cpu_per_slot %.3f ms\n", p, u * 1000 / n
		printf "%s_labd_sys_cpu_per_slot %.3f ms\n", p, s * 1000 / n
		printf "%s_labd_cpu_user_sys %.2f+%.2f s\n", p, u, s
		printf "%s_clickhouse_queries %d queries\n", p, q
		printf "%s_clickhouse_time_per_slot %.2f ms\n", p, ch / n
		printf "%s_labd_cpu_vs_clickhouse %.1f %%\n", p, ch ? 100 * cpu / ch : 0
		printf "%s_clickhouse_cpu_per_slot %.2f ms\n", p, chc / n
		printf "%s_labd_cpu_vs_clickhouse_cpu %.1f %%\n", p, chc ? 100 * cpu / chc : 0
		printf "%s_labd_user_cpu_vs_clickhouse %.1f %%\n", p, ch ? 100 * u * 1000 / ch : 0
		# ClickHouse query time over wall time: above 100 % when queries overlap
		printf "%s_clickhouse_time_vs_wall %.0f %%\n", p, w ? 100 * ch / (w * 1000) : 0
		printf "%s_peak_rss %d kB\n", p, m
		printf "%s_document_bytes %.0f bytes\n", p, st ? raw / st : 0
		printf "%s_document_gzip_bytes %.0f bytes\n", p, st ? gz / st : 0
	}' | tee -a "$T/fig"
}
fig() { awk -v k="$1" '$1 == k { print $2 }' "$T/fig"; }
# repeat NAME TOP [SLOTS [-D...]]: REPEAT runs at concurrency 16 over SLOTS
# slots (default N) (NAME, NAME_r2, ...), then
# NAME_labd_cpu_vs_clickhouse_median and _spread (min-max) over them.  With
# BEACON_BENCH_BASELINE=/path/to/another/labd each run is followed by one of
# that binary (base_NAME...), so a change is compared under the same load.
# With BEACON_BENCH_PERF=DIR one more run of each binary goes through
# `perf record -g` (not counted in the figures); the top entries of
# `perf report --no-children` go to DIR/NAME.txt (BEACON_BENCH_PERF_ARGS: the
# recording options, default -g; `--call-graph dwarf` for callers).
repeat() {
	rname=$1 rtop=$2 rn=${3:-$N} ri=1
	shift 2
	[ $# -eq 0 ] || shift
	while [ $ri -le "$REPEAT" ]; do
		rsuffix=
		[ $ri -gt 1 ] && rsuffix=_r$ri
		run "$rname$rsuffix" "$rn" "$rtop" -D "plugins.beacon.networks.mainnet.backfill.concurrency=16" "$@"
		if [ -n "${BEACON_BENCH_BASELINE:-}" ]; then
			RUN_LABD=$BEACON_BENCH_BASELINE
			run "base_$rname$rsuffix" "$rn" "$rtop" -D "plugins.beacon.networks.mainnet.backfill.concurrency=16" "$@"
			RUN_LABD=
		fi
		ri=$((ri + 1))
	done
	for rp in "" base_; do
		grep "^beacon_$rp${rname}\(_r[0-9]*\)\?_labd_cpu_vs_clickhouse " "$T/fig" | awk '{ print $2 }' |
			sort -n >"$T/ratios"
		[ -s "$T/ratios" ] || continue
		med=$(awk '{ v[NR] = $1 } END { print (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2) }' "$T/ratios")
		figure "beacon_$rp${rname}_labd_cpu_vs_clickhouse_median" "$med" % | tee -a "$T/fig"
		figure "beacon_$rp${rname}_labd_cpu_vs_clickhouse_spread" "$(head -n 1 "$T/ratios")-$(tail -n 1 "$T/ratios")" % |
			tee -a "$T/fig"
	done
	if [ -n "${BEACON_BENCH_PERF:-}" ]; then
		mkdir -p "$BEACON_BENCH_PERF"
		for rp in "" base_; do
			[ -z "$rp" ] || [ -n "${BEACON_BENCH_BASELINE:-}" ] || continue
			bin=$LABD
			[ -z "$rp" ] || bin=$BEACON_BENCH_BASELINE
			RUN_LABD="perf record -q ${BEACON_BENCH_PERF_ARGS:--g} -o $BEACON_BENCH_PERF/$rp$rname.data -- $bin"
			run "perf_$rp$rname" "$rn" "$rtop" -D "plugins.beacon.networks.mainnet.backfill.concurrency=16" "$@" >/dev/null
			RUN_LABD=
			perf report -i "$BEACON_BENCH_PERF/$rp$rname.data" --no-children --stdio --percent-limit 1 \
				--sort sym 2>/dev/null | grep -E '^ +[0-9.]+%' | head -n 25 >"$BEACON_BENCH_PERF/$rp$rname.txt"
		done
	fi
}
: >"$T/fig"
if [ "$ONLY" != mev ]; then
	for c in $CONCS; do
		if [ "$c" = 16 ]; then
			repeat c16 $TO
		else
			run "c$c" "$N" $TO -D "plugins.beacon.networks.mainnet.backfill.concurrency=$c"
		fi
	done
	repeat dense_c16 $((DENSE_FROM + N - 1))
	# the original's pace: one ClickHouse request at a time, 500 ms per slot
	node "$top_srcdir/tests/bench/ch-pace-proxy.js" "$CLICKHOUSE_URL" 500 \
		'FROM beacon_api_eth_v2_beacon_block FINAL' >"$T/pace.out" 2>&1 &
	pace_pid=$!
	wait_for 'grep -q "^listening" "$T/pace.out"' || { cat "$T/pace.out" >&2; exit 1; }
	# (mev off: the original had no relay queries)
	run original "$NO" $TO -D "plugins.beacon.networks.mainnet.backfill.concurrency=1" \
		-D "plugins.beacon.networks.mainnet.mev=false" \
		-D "clickhouse.url=\"http://127.0.0.1:$(sed -n 's/^listening //p' "$T/pace.out")\""
	kill "$pace_pid"
	wait "$pace_pid" 2>/dev/null
	paused=$(sed -n 's/^requests [0-9]* paused //p' "$T/pace.out")
	figure beacon_original_paused_slots "${paused:-0}" slots
fi
# mainnet-like relay bids on a range of their own, with and without mev
NM=${BEACON_MEV_SLOTS:-160}
MFROM=$((TO + 1000))
MTO=$((MFROM + NM - 1))
"$top_builddir/tests/fixtures/xatu-gen" --network mainnet --genesis $GENESIS --from-slot $MFROM \
	--to-slot $MTO --mev-relays 8 --mev-buckets 180 --out "$T/genm" >/dev/null || exit 1
"$top_srcdir/tests/fixtures/load.sh" "$CLICKHOUSE_URL" "$T/genm" >/dev/null || exit 1
figure beacon_mev_bid_rows_per_slot "$(($(wc -l <"$T/genm/mev_relay_bid_trace.tsv") / NM))" rows
rm -rf "$T/genm"
sleep 2
repeat mev $MTO "$NM"
# BEACON_BENCH_KEEP=DIR: the stores of the first mev run (and of the
# baseline's) are copied there, to compare the documents.
if [ -n "${BEACON_BENCH_KEEP:-}" ]; then
	mkdir -p "$BEACON_BENCH_KEEP"
	cp -r "$T/data-mev" "$BEACON_BENCH_KEEP/" || exit 1
	[ ! -d "$T/data-base_mev" ] || cp -r "$T/data-base_mev" "$BEACON_BENCH_KEEP/" || exit 1
fi
run nomev "$NM" $MTO -D "plugins.beacon.networks.mainnet.backfill.concurrency=16" \
	-D "plugins.beacon.networks.mainnet.mev=false"
if [ "$ONLY" != mev ]; then
	tp=$(fig beacon_c16_throughput)
	ratio=$(fig beacon_c16_labd_cpu_vs_clickhouse_median)
	dratio=$(fig beacon_dense_c16_labd_cpu_vs_clickhouse_median)
	orig=$(fig beacon_original_throughput)
	[ -n "$tp" ] || tp=0
	[ -n "$ratio" ] || ratio=100
	[ -n "$dratio" ] || dratio=100
	speedup=$(awk -v a="$tp" -v b="$orig" 'BEGIN { printf "%.1f", (b > 0 ? a / b : 0) }')
	vs_ceiling=$(awk -v a="$tp" 'BEGIN { printf "%.1f", a / 2 }')
	figure beacon_speedup_vs_original "$speedup" x
	figure beacon_speedup_vs_design_ceiling "$vs_ceiling" x
	if awk -v t="$tp" 'BEGIN { exit !(t >= 50) }'; then
		verdict beacon OK "backfill $tp slots/s with concurrency 16 (target >= 50 = 25x the original's 2 slots/s ceiling)"
	else
		verdict beacon MISSED "backfill $tp slots/s with concurrency 16 (target >= 50)"
	fi
	# cpu_verdict NAME RATIO WHAT
	cpu_verdict() {
		spread=$(fig "beacon_${1}_labd_cpu_vs_clickhouse_spread")
		if awk -v r="$2" 'BEGIN { exit !(r <= 10) }'; then
			verdict "beacon-cpu$3" OK "labd CPU $2 % of ClickHouse query time at concurrency 16$4 (median of $REPEAT runs, spread $spread %; target <= 10 %)"
		else
			verdict "beacon-cpu$3" MISSED "labd CPU $2 % of ClickHouse query time at concurrency 16$4 (median of $REPEAT runs, spread $spread %; target <= 10 %)"
		fi
	}
	cpu_verdict c16 "$ratio" "" ""
	cpu_verdict dense_c16 "$dratio" -dense " on the dense dataset"
	if awk -v s="$speedup" 'BEGIN { exit !(s >= 25) }'; then
		verdict beacon-original OK "${speedup}x the original pacing measured in this run ($orig slots/s over $NO slots; ${vs_ceiling}x its 2 slots/s design ceiling; target >= 25x)"
	else
		verdict beacon-original MISSED "${speedup}x the original pacing measured in this run ($orig slots/s; target >= 25x)"
	fi
fi
mtp=$(fig beacon_mev_throughput) ntp=$(fig beacon_nomev_throughput)
mrss=$(fig beacon_mev_peak_rss) mratio=$(fig beacon_mev_labd_cpu_vs_clickhouse_median)
figure beacon_mev_throughput_vs_nomev "$(awk -v a="${mtp:-0}" -v b="${ntp:-0}" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }')" x
figure beacon_mev_gzip_ratio "$(awk -v a="$(fig beacon_mev_document_bytes)" -v b="$(fig beacon_mev_document_gzip_bytes)" 'BEGIN { printf "%.1f", (b > 0 ? a / b : 0) }')" x
if awk -v r="${mrss:-999999}" 'BEGIN { exit !(r <= 65536) }'; then
	verdict beacon-mev-rss OK "peak RSS $mrss kB during a mainnet-like backfill with mev at concurrency 16 (target <= 64 MiB)"
else
	verdict beacon-mev-rss MISSED "peak RSS $mrss kB during a mainnet-like backfill with mev (target <= 64 MiB)"
fi
if awk -v r="${mratio:-100}" 'BEGIN { exit !(r <= 10) }'; then
	verdict beacon-mev-cpu OK "labd CPU $mratio % of ClickHouse query time with mev (median of $REPEAT runs, spread $(fig beacon_mev_labd_cpu_vs_clickhouse_spread) %; $mtp slots/s; $ntp without mev) (target <= 10 %)"
else
	verdict beacon-mev-cpu MISSED "labd CPU $mratio % of ClickHouse query time with mev (median of $REPEAT runs, spread $(fig beacon_mev_labd_cpu_vs_clickhouse_spread) %; $mtp slots/s; $ntp without mev) (target <= 10 %)"
fi
done_bench beacon
