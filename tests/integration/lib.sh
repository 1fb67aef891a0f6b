# Shared helpers for integration tests; sourced, not run.
# Every test gets a private 0755 temp dir, removed (and labd killed) on exit,
# even when the test fails.
set -u
: "${top_builddir:=$(cd "$(dirname "$0")/../.." && pwd)}"
: "${top_srcdir:=$(cd "$(dirname "$0")/../.." && pwd)}"
LABD="$top_builddir/labd"
T=$(mktemp -d /tmp/labd-it-XXXXXX)
chmod 755 "$T"
# LABD_VALGRIND=1 (tests/valgrind.sh): every labd run goes through memcheck;
# an error or a definite leak makes labd exit 99, which the tests see.
if [ "${LABD_VALGRIND:-0}" = 1 ]; then
	cat >"$T/labd-vg" <<VG
#!/bin/sh
exec valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite \
	--log-file="$T/valgrind.%p.log" "$top_builddir/labd" "\$@"
VG
	chmod 755 "$T/labd-vg"
	LABD="$T/labd-vg"
	LABD_UNDER_VALGRIND=1
	export LABD_UNDER_VALGRIND
fi
LABD_PID=""
cleanup() {
	if [ -n "$LABD_PID" ]; then kill -9 "$LABD_PID" 2>/dev/null; wait "$LABD_PID" 2>/dev/null; fi
	if [ "${KEEP_TMP:-0}" = 1 ]; then echo "kept $T" >&2; else rm -rf "$T"; fi
}
trap cleanup EXIT

fail() {
	echo "FAIL: $*" >&2
	if [ -f "$T/labd.log" ]; then echo "--- labd log (last 40 lines)" >&2; tail -n 40 "$T/labd.log" >&2; fi
	exit 1
}
pass() { echo "ok - $*"; }

# Plugins are copied into a 0755 directory of our own: the build tree's
# modes depend on the umask of whoever built it, and labd refuses plugins
# that others could write.
stage_plugins() {
	mkdir -p "$T/plugins"
	chmod 755 "$T/plugins"
	for so in "$top_builddir"/plugins/*/.libs/*.so "$top_builddir"/tests/plugins/.libs/*.so; do
		[ -f "$so" ] || continue
		cp "$so" "$T/plugins/"
	done
	chmod 644 "$T"/plugins/*.so
}

# A minimal config; extra text ($1) goes inside `plugins = { ... }`.
write_conf() {
	cat >"$T/labd.conf" <<CONF
log = { level = "info"; format = "logfmt"; };
admin = { listen = "127.0.0.1:0"; token = "${ADMIN_TOKEN:-}"; };
plugin_dir = "$T/plugins";
state = { flush_interval = "60s"; };
storage = { backend = "fs"; fs = { root = "$T/data"; }; };
broker = { backend = "local"; };
plugins = {
$1
};
CONF
}

# start_labd ARGS...: runs labd in the background, waits for the admin port.
start_labd() {
	# The log is read for the admin port: a stale one from an earlier start
	# would be read before the new process truncates it.
	rm -f "$T/labd.log"
	"$LABD" -c "$T/labd.conf" "$@" 2>"$T/labd.log" &
	LABD_PID=$!
	i=0
	while [ $i -lt 100 ]; do
		PORT=$(sed -n 's/.*msg="admin API listening".* port=\([0-9]*\).*/\1/p' "$T/labd.log" | head -n 1)
		[ -n "$PORT" ] && return 0
		kill -0 "$LABD_PID" 2>/dev/null || fail "labd exited early"
		sleep 0.05
		i=$((i + 1))
	done
	fail "labd did not open its admin port"
}

stop_labd() {
	kill -TERM "$LABD_PID"
	wait "$LABD_PID"
	STOP_RC=$?
	LABD_PID=""
}

# http METHOD PATH [curl args...]: sets CODE and BODY.
http() {
	m=$1; p=$2; shift 2
	CODE=$(curl -s -o "$T/body" -w '%{http_code}' -X "$m" "$@" "http://127.0.0.1:$PORT$p") || CODE=000
	BODY=$(cat "$T/body" 2>/dev/null)
}

# wait_for CMD [TRIES]: retries a shell condition for up to ~5 s (TRIES
# times every 50 ms, default 100).
wait_for() {
	i=0
	while [ $i -lt "${2:-100}" ]; do
		if eval "$1"; then return 0; fi
		sleep 0.05
		i=$((i + 1))
	done
	return 1
}

metric() { # metric 'name{labels}' -> value or empty
	http GET /metrics
	printf '%s\n' "$BODY" | awk -v k="$1" '$1 == k { print $2 }'
}

# meta_file ROOT KEY: the fs backend's headers document that applies to KEY
# (docs/storage.md): its own sidecar if it has one, else its directory's
# shared one.
meta_file() {
	case $2 in */*) d=${2%/*}/ ;; *) d= ;; esac
	if [ -f "$1/.lab-meta/$2.json" ]; then echo "$1/.lab-meta/$2.json"; else echo "$1/.lab-meta/${d}.lab-meta"; fi
}

# load_slots FROM TO: the Xatu schema and generated mainnet slots FROM..TO
# (genesis $GENESIS) loaded into $CLICKHOUSE_URL 250 at a time (ClickHouse
# 18.16's insert memory); $T/want.slots lists the slots that get a document
# (a block clients fetched), one per line, ascending.
load_slots() {
	"$top_srcdir/tests/fixtures/load-schema.sh" "$CLICKHOUSE_URL" >/dev/null || fail "schema"
	: >"$T/manifest"
	ls_s=$1
	while [ "$ls_s" -le "$2" ]; do
		ls_e=$((ls_s + 249)); [ $ls_e -le "$2" ] || ls_e=$2
		"$top_builddir/tests/fixtures/xatu-gen" --network mainnet --genesis "$GENESIS" \
			--from-slot "$ls_s" --to-slot "$ls_e" --out "$T/gen" >/dev/null || fail "xatu-gen"
		"$top_srcdir/tests/fixtures/load.sh" "$CLICKHOUSE_URL" "$T/gen" >/dev/null || fail "load"
		cat "$T/gen/manifest" >>"$T/manifest"
		rm -rf "$T/gen"
		ls_s=$((ls_e + 1))
	done
	awk -F'\t' '$1 == "slot" { st = ""; ne = 0
		for (i = 3; i <= NF; i++) { if ($i == "status=block") st = "b"; if ($i == "no_events=1") ne = 1 }
		if (st == "b" && !ne) print $2 }' "$T/manifest" | sort -n >"$T/want.slots"
}

# start_listener NAME CMD ARGS...: CMD in the background (killed at exit
# with the test's temp dir), then waits for its "listening PORT" line;
# sets LISTENER_PID and LISTENER_PORT.  NAME names its $T/NAME.out/.err.
start_listener() {
	sl_name=$1
	shift
	"$@" >"$T/$sl_name.out" 2>"$T/$sl_name.err" &
	LISTENER_PID=$!
	wait_for 'grep -q "^listening" "$T/$sl_name.out"' || fail "$sl_name did not start: $(cat "$T/$sl_name.err")"
	LISTENER_PORT=$(sed -n 's/^listening //p' "$T/$sl_name.out")
}

# start_relay UPSTREAM ARGS...: tests/integration/relay.js (start_listener);
# sets RELAY_PID and RELAY, its URL.
start_relay() {
	start_listener relay node "$top_srcdir/tests/integration/relay.js" "$@"
	RELAY_PID=$LISTENER_PID
	RELAY="http://127.0.0.1:$LISTENER_PORT"
}

# cluster_conf S3_ENDPOINT BUCKET_PREFIX: the labd.conf head the cluster
# tests share (s3 through the given endpoint, ClickHouse, NATS broker and
# cluster backend with $TTL/$RENEW, mainnet at $GENESIS); the caller adds
# its plugins block.
cluster_conf() {
	cat <<CONF
log = { level = "info"; format = "logfmt"; };
admin = { listen = "127.0.0.1:0"; };
plugin_dir = "$T/plugins";
state = { flush_interval = "1s"; };
storage = { backend = "s3";
	s3 = { endpoint = "$1"; bucket = "$S3_BUCKET"; region = "$S3_REGION";
	       access_key_id = "$S3_ACCESS_KEY_ID"; secret_access_key = "$S3_SECRET_ACCESS_KEY"; }; };
clickhouse = { url = "$CLICKHOUSE_URL"; database = "default"; max_concurrency = 8; probe_interval = "0s"; };
broker = { backend = "nats"; nats = { url = "$NATS_URL"; }; };
cluster = { backend = "nats"; lease_ttl = "${TTL}s"; renew_interval = "${RENEW}s"; bucket_prefix = "$2"; };
ethereum = { networks = ( { name = "mainnet"; genesis_time = $GENESIS;
	config_file = "$top_srcdir/etc/networks/mainnet.yaml"; } ); };
CONF
}
