# Helpers shared by tests/integration/faults-*.sh (docs/reliability.md);
# sourced after lib.sh, not run.  Beacon data: 200 generated mainnet slots
# in the real ClickHouse, a reference `--once` run, and comparisons of
# document sets that ignore only the time-dependent fields.
FLAT="$top_builddir/tests/beacon-flat"
GEN="$top_builddir/tests/fixtures/xatu-gen"
PROXY="$top_builddir/tests/faultproxy"
for x in tests/beacon-flat tests/fixtures/xatu-gen tests/faultproxy; do
	[ -x "$top_builddir/$x" ] || make -C "$top_builddir" "$x" >/dev/null 2>&1 || fail "cannot build $x"
done

GENESIS=1606824023
FROM=9000000
TO=9000199
LAG=3
# --once: the head slot is TO.  Serve mode: head = FROM+600, so the backfill
# walks TO..FROM (the trailing hour FROM+300.. has no data: missed at once).
NOW=$(date -u -d "@$((GENESIS + (TO + LAG) * 12 + 5))" +%Y-%m-%dT%H:%M:%SZ)
NOW2=$(date -u -d "@$((GENESIS + (FROM + 600 + LAG) * 12 + 5))" +%Y-%m-%dT%H:%M:%SZ)
SLOTDIR=beacon/slots/mainnet

# load_beacon_data: schema + 200 slots into $CLICKHOUSE_URL.
load_beacon_data() {
	"$top_srcdir/tests/fixtures/load-schema.sh" "$CLICKHOUSE_URL" >/dev/null || fail "schema"
	"$GEN" --network mainnet --genesis $GENESIS --from-slot $FROM --to-slot $TO --out "$T/gen" >/dev/null || fail "xatu-gen"
	"$top_srcdir/tests/fixtures/load.sh" "$CLICKHOUSE_URL" "$T/gen" >/dev/null || fail "load"
}

# beacon_conf DATA_DIR CH_URL [STORAGE_LINE] > config (admin on a kernel-picked port)
beacon_conf() {
	_st=${3:-"storage = { backend = \"fs\"; fs = { root = \"$1\"; }; };"}
	cat <<CONF
log = { level = "debug"; format = "logfmt"; };
admin = { listen = "127.0.0.1:0"; };
plugin_dir = "$T/plugins";
state = { flush_interval = "1s"; };
$_st
clickhouse = { url = "$2"; database = "default"; max_concurrency = 8; timeout = "20s"; };
broker = { backend = "local"; };
ethereum = { networks = ( { name = "mainnet"; genesis_time = $GENESIS;
	config_file = "$top_srcdir/etc/networks/mainnet.yaml";
	validator_set = ( { range = "0-99"; entity = "cfg-entity"; } ); } ); };
plugins = {
	beacon = { enabled = true;
		networks = { mainnet = { head_lag_slots = $LAG;
			backfill = { to_slot = $FROM; concurrency = ${BF_CONCURRENCY:-4}; }; }; }; };
	${EXTRA_PLUGINS:-}
};
CONF
}

# reference_run: the documents of an undisturbed --once run, in $T/ref.
reference_run() {
	beacon_conf "$T/ref" "$CLICKHOUSE_URL" >"$T/ref.conf"
	"$LABD" -c "$T/ref.conf" --once --plugin beacon --now "$NOW" -D admin.listen='""' 2>"$T/ref.log" ||
		{ tail -20 "$T/ref.log" >&2; fail "reference --once run failed"; }
	[ "$(ls "$T/ref/$SLOTDIR" | wc -l)" -gt 100 ] || fail "reference run stored too few documents"
	docs_flat "$T/ref" >"$T/ref.flat" || fail "reference documents are not JSON"
	missed_of "$T/ref" >"$T/ref.missed"
	NREF=$(ls "$T/ref/$SLOTDIR" | wc -l)
}

# docs_flat ROOT: every slot document flattened (SLOT<TAB>path...<TAB>value),
# without the two time-dependent fields (processed_at, processing_time_ms).
# Fails on a document that is not complete gzip'd JSON.
docs_flat() {
	for f in "$1/$SLOTDIR"/*.json${SFX:-}; do
		s=$(basename "$f" ".json${SFX:-}")
		gzip -dc "$f" >"$T/one.json" || { echo "truncated gzip: $f" >&2; return 1; }
		"$FLAT" <"$T/one.json" >"$T/one.flat" || { echo "not JSON: $f" >&2; return 1; }
		awk -F'\t' -v s="$s" '$1 != "processed_at" && $1 != "processing_time_ms" { print s "\t" $0 }' "$T/one.flat"
	done
}

# state_flat ROOT: the beacon state file flattened (it is stored gzip'd).
state_flat() {
	f="$1/state/modules/beacon.json${SFX:-}"
	[ -f "$f" ] || return 0
	{ gzip -dc "$f" 2>/dev/null || cat "$f"; } | "$FLAT"
}

# missed slots of the data range (serve mode also misses the empty slots above it)
missed_of() { state_flat "$1" | awk -F'\t' -v lo=$FROM -v hi=$TO '$1 == "slot_mainnet" && $2 == "missed" && $4 >= lo && $4 <= hi { print $4 }' | sort -n; }

# same_docs ROOT WHAT: the documents under ROOT equal the reference run's:
# the same keys, the same contents (but for the time fields), the same
# slots recorded as missed, and no temporary file left behind.
same_docs() {
	ls "$T/ref/$SLOTDIR" | sort >"$T/want.keys"
	ls "$1/$SLOTDIR" | grep "^[0-9]*\.json${SFX:-}\$" | sed "s/${SFX:-}\$//" | sort >"$T/got.keys"
	cmp -s "$T/want.keys" "$T/got.keys" || { diff "$T/want.keys" "$T/got.keys" | head >&2; fail "$2: stored keys differ from the undisturbed run"; }
	docs_flat "$1" >"$T/got.flat" || fail "$2: a document is truncated or not JSON"
	cmp -s "$T/ref.flat" "$T/got.flat" || { diff "$T/ref.flat" "$T/got.flat" | head >&2; fail "$2: document contents differ from the undisturbed run"; }
	missed_of "$1" >"$T/got.missed"
	cmp -s "$T/ref.missed" "$T/got.missed" || { diff "$T/ref.missed" "$T/got.missed" | head >&2; fail "$2: slots recorded as missed differ (a slot with a block lost as missed?)"; }
	# (ALLOW_TMP=1 after kill -9: an interrupted write leaves its *.tmp.*
	# file, never read, skipped by docs/storage-sync.sh; counted by the caller)
	tmps=$(find "$1" -name '*.tmp*' | head -3)
	[ -z "$tmps" ] || [ "${ALLOW_TMP:-0}" = 1 ] || fail "$2: temporary files left: $tmps"
}

# check_cursor ROOT PID WHAT: with labd frozen (SIGSTOP), the persisted
# backfill cursor has not moved past unstored work: every slot of the data
# range above backfill.next has its document, or is recorded as missed, or
# is queued in pending for a retry.
check_cursor() {
	[ -z "$2" ] || kill -STOP "$2" # (no PID: labd is not running)
	state_flat "$1" >"$T/cur.flat"
	ls "$1/$SLOTDIR" 2>/dev/null | grep "^[0-9]*\.json${SFX:-}\$" | sed "s/${SFX:-}\$//; s/\.json\$//" >"$T/cur.docs"
	[ -z "$2" ] || kill -CONT "$2"
	next=$(awk -F'\t' '$1 == "slot_mainnet" && $2 == "backfill" && $3 == "next" { print $4 }' "$T/cur.flat")
	CURSOR="(none flushed yet)"
	[ -n "$next" ] || return 0 # no state flushed yet: nothing claimed
	[ "$next" = -1 ] && next=$((FROM - 1))
	awk -F'\t' '$1 == "slot_mainnet" && ($2 == "missed" || $2 == "pending") { print $4 }' "$T/cur.flat" >>"$T/cur.docs"
	bad=$(awk -v lo="$next" -v hi=$TO -v from=$FROM 'NR == FNR { have[$1] = 1; next } END {
		for (s = lo + 1; s <= hi; s++) if (s >= from && !(s in have)) { print s; n++; if (n > 4) exit } }' "$T/cur.docs" /dev/null)
	[ -z "$bad" ] || fail "$3: state says backfill.next=$next but slots above it have no document and are not pending: $bad"
	CURSOR=$next
}

# start_proxy UPSTREAM_PORT: the fault proxy (tests/faultproxy.c) in mode
# pass; sets PROXY_PORT; `fault MODE` switches its mode.
start_proxy() {
	echo pass >"$T/proxy.mode"
	rm -f "$T/proxy.port"
	"$PROXY" "$1" "$T/proxy.mode" "$T/proxy.port" 2>"$T/proxy.log" &
	PROXY_PID=$!
	wait_for '[ -s "$T/proxy.port" ]' || fail "faultproxy did not start"
	PROXY_PORT=$(cat "$T/proxy.port")
}
fault() { echo "$1" >"$T/proxy.mode"; }
stop_proxy() {
	[ -n "${PROXY_PID:-}" ] || return 0
	kill "$PROXY_PID" 2>/dev/null
	wait "$PROXY_PID" 2>/dev/null
	PROXY_PID=""
}
# the proxy, and whatever a test adds to FAULTS_CLEANUP (e.g. umount), go
# before lib.sh's cleanup (labd, the temp dir)
FAULTS_CLEANUP=""
faults_cleanup() {
	stop_proxy
	[ -z "$FAULTS_CLEANUP" ] || eval "$FAULTS_CLEANUP"
	cleanup
}
trap faults_cleanup EXIT

# wait_long SECONDS CONDITION
wait_long() {
	_n=$(($1 * 10))
	while [ $_n -gt 0 ]; do
		eval "$2" && return 0
		sleep 0.1
		_n=$((_n - 1))
	done
	return 1
}

alive() { kill -0 "$LABD_PID" 2>/dev/null || fail "labd died ($1)"; }

# readyz_has TEXT: /readyz answers 503 and its reasons contain TEXT.
readyz_has() { http GET /readyz; [ "$CODE" = 503 ] && case $BODY in *"$1"*) true ;; *) false ;; esac; }
readyz_ok() { http GET /readyz; [ "$CODE" = 200 ]; }
ndocs() { ls "$1/$SLOTDIR" 2>/dev/null | grep -c "^[0-9]*\.json${SFX:-}\$"; }
# all_stored ROOT: every reference document is there and nothing of the
# data range is still pending a retry.  "backfill finished" alone is not
# the end: slots of a partly failed batch are retried by the trailing loop
# at its next slot tick, after the backfill cursor has passed them.
all_stored() {
	[ "$(ndocs "$1")" -ge "$NREF" ] || return 1
	p=$(state_flat "$1" | awk -F'\t' -v lo=$FROM -v hi=$TO '$1 == "slot_mainnet" && $2 == "pending" && $4 >= lo && $4 <= hi' | wc -l)
	[ "$p" = 0 ]
}

# san_check: under --enable-sanitizers, no report in labd's logs (the crash
# plugin's own segfault reports, crash.*.log, are expected)
san_check() {
	_l=$(ls "$T"/*.log 2>/dev/null | grep -v '/crash\.[^/]*\.log$')
	[ -n "$_l" ] || return 0
	# shellcheck disable=SC2086
	if grep -l -a -E 'AddressSanitizer|LeakSanitizer|runtime error:' $_l >/dev/null 2>&1; then
		# shellcheck disable=SC2086
		grep -a -h -A5 -E 'AddressSanitizer|LeakSanitizer|runtime error:' $_l | head -30 >&2
		fail "sanitizer reports in the labd logs"
	fi
}
