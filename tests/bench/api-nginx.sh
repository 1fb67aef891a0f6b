#!/bin/sh
# Cached document GETs, labd's api against nginx (issue 16): the same
# documents — API_BENCH_SLOTS (default 32) beacon slot documents and the
# timings documents that `labd --once` writes from generated mainnet data
# (the demo's Electra hour), gzip-encoded as stored — served by
#   - Debian's nginx, one worker (master_process off), gzip_static on,
#     from disk (KEY.gz = the stored bytes, KEY = the decoded document),
#   - labd with the api plugin, its cache warmed by two GETs of each,
# both on loopback, loaded by the same `wrk --latency` command (one thread,
# API_BENCH_CONNECTIONS connections, default 50, API_BENCH_SECONDS, default
# 10, Accept-Encoding: gzip, cycling through the same paths), one after the
# other in one run. Before the load, every document must come back from
# both with the same bytes (after gzip -d). Reported: requests/s and p99 of
# each, the ratio labd/nginx (target >= 1.0), and each server's CPU seconds
# over its run. wrk gets one core; the servers the other (2-core machine).
[ "${1:-}" = --inner ] || exec "$top_srcdir/tests/services/with-services.sh" clickhouse -- sh "$0" --inner
. "$top_srcdir/tests/integration/lib.sh"
. "$top_srcdir/tests/bench/lib.sh"
SLOTS=${API_BENCH_SLOTS:-32}
SECS=${API_BENCH_SECONDS:-10}
CONNS=${API_BENCH_CONNECTIONS:-50}
command -v wrk >/dev/null || { echo "wrk is not installed (tests/services/install-deps.sh)" >&2; exit 1; }
GENESIS=1606824023
FROM=11649024 # the demo's hour (tests/services/demo.sh)
TO=$((FROM + SLOTS - 1))
NOW=$(date -u -d "@$((GENESIS + (TO + 3) * 12))" +%Y-%m-%dT%H:%M:%SZ)
load_xatu $FROM $TO
stage_plugins
"$LABD" --once -c "$top_srcdir/etc/labd.conf" --now "$NOW" -D 'admin.listen=""' \
	-D plugin_dir="$T/plugins" -D storage.fs.root="$T/data" -D clickhouse.url="$CLICKHOUSE_URL" \
	-D plugins.beacon.networks.mainnet.head_lag_slots=3 \
	-D plugins.beacon.networks.mainnet.backfill.to_fork=electra 2>"$T/once.log" ||
	{ tail "$T/once.log" >&2; exit 1; }
# ClickHouse has done its part: it would take CPU from the servers measured.
SVC_QUIET=1 "$top_srcdir/tests/services/clickhouse.sh" stop "$LABD_SERVICES_DIR/clickhouse" >/dev/null 2>&1

# ---- the documents, and nginx's copy of them ----------------------------------
(cd "$T/data" && find beacon/slots beacon_chain_timings -name '*.json' -type f | LC_ALL=C sort) >"$T/keys"
[ -s "$T/keys" ] || { echo "labd --once wrote no documents" >&2; exit 1; }
sed 's|^|/|' "$T/keys" >"$T/paths"
while read -r k; do
	mkdir -p "$T/ngx/$(dirname "$k")"
	gzip -t "$T/data/$k" || { echo "$k is not stored gzip-encoded" >&2; exit 1; }
	cp "$T/data/$k" "$T/ngx/$k.gz"
	gzip -dc "$T/data/$k" >"$T/ngx/$k"
done <"$T/keys"
chmod -R a+rX "$T/ngx"
ndocs=$(wc -l <"$T/keys")
bytes=$(cat "$T/ngx"/beacon/slots/mainnet/*.json.gz | wc -c)
figure api_nginx_documents "$ndocs" documents
figure api_nginx_slot_document_gzip_bytes "$((bytes / SLOTS))" bytes

NPORT=$(free_port)
nginx_start "$T/ngx" "$NPORT" || exit 1

# ---- labd, the api alone, on the same store -----------------------------------
api_plugins || exit 1
api_daemon

# Same documents from both (and the warm-up: two GETs each). nginx sends
# the stored gzip bytes; so should labd (the api answers with
# LAB_HTTP_GZIP when the host hands it the stored bytes: its log says
# gzip=stored) — if it does not, the figures say so (labd_gzip 0) and the
# comparison is not like for like.
labd_gzip=1
wire_n=0 wire_l=0
while read -r p; do
	for srv in "$NPORT" "$HPORT"; do
		curl -sf -H 'Accept-Encoding: gzip' -D "$T/h.$srv" -o "$T/b.$srv" "http://127.0.0.1:$srv$p" ||
			fail "GET $p from :$srv"
		if grep -qi '^content-encoding: gzip' "$T/h.$srv"; then
			gzip -dc "$T/b.$srv" >"$T/d.$srv" || fail "$p from :$srv: not gzip"
		else
			[ "$srv" = "$HPORT" ] || fail "$p from nginx is not gzip-encoded"
			labd_gzip=0
			cp "$T/b.$srv" "$T/d.$srv"
		fi
	done
	wire_n=$((wire_n + $(wc -c <"$T/b.$NPORT")))
	wire_l=$((wire_l + $(wc -c <"$T/b.$HPORT")))
	cmp -s "$T/d.$NPORT" "$T/d.$HPORT" || fail "$p: labd and nginx serve different documents"
	curl -sf -H 'Accept-Encoding: gzip' -o /dev/null "http://127.0.0.1:$HPORT$p"
done <"$T/paths"
figure api_nginx_labd_gzip "$labd_gzip" yes=1
figure api_nginx_nginx_body_bytes_per_request "$((wire_n / ndocs))" bytes
figure api_nginx_labd_body_bytes_per_request "$((wire_l / ndocs))" bytes

machine_load
c0=$(cpu_s "$NGINX_PID")
set -- $(wrk_run "http://127.0.0.1:$NPORT" "$T/paths" "$CONNS" "$SECS") || exit 1
n_rps=$1 n_p99=$2 n_err=$4
n_cpu=$(echo "$(cpu_s "$NGINX_PID") $c0" | awk '{ printf "%.2f", $1 - $2 }')
nginx_stop
c0=$(cpu_s "$LABD_PID")
set -- $(wrk_run "http://127.0.0.1:$HPORT" "$T/paths" "$CONNS" "$SECS") || exit 1
l_rps=$1 l_p99=$2 l_err=$4
l_cpu=$(echo "$(cpu_s "$LABD_PID") $c0" | awk '{ printf "%.2f", $1 - $2 }')
rss=$(rss_kb "$LABD_PID")
stop_labd
figure api_nginx_connections "$CONNS" connections
figure api_nginx_seconds "$SECS" s
figure api_nginx_nginx_rps "$n_rps" requests/s
figure api_nginx_nginx_p99 "$n_p99" ms
figure api_nginx_nginx_errors "$n_err" requests
figure api_nginx_nginx_cpu "$n_cpu" s
figure api_nginx_labd_rps "$l_rps" requests/s
figure api_nginx_labd_p99 "$l_p99" ms
figure api_nginx_labd_errors "$l_err" requests
figure api_nginx_labd_cpu "$l_cpu" s
figure api_nginx_labd_rss_after "$rss" kB
ratio=$(echo "$l_rps $n_rps" | awk '{ printf "%.2f", $1 / $2 }')
figure api_nginx_ratio "$ratio" x
note=""
[ "$labd_gzip" = 1 ] || note="; labd sent the documents decoded (not like for like)"
if [ "$n_err" = 0 ] && [ "$l_err" = 0 ] && echo "$ratio" | awk '{ exit !($1 >= 1.0) }'; then
	verdict api-vs-nginx OK "labd $l_rps req/s (p99 $l_p99 ms) vs nginx $n_rps req/s (p99 $n_p99 ms): ${ratio}x (target >= 1.0x), $ndocs documents, $CONNS connections$note"
else
	verdict api-vs-nginx MISSED "labd $l_rps req/s (p99 $l_p99 ms, $l_err errors) vs nginx $n_rps req/s (p99 $n_p99 ms, $n_err errors): ${ratio}x (target >= 1.0x)$note"
fi
done_bench api-nginx
