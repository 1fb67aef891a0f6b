#!/bin/sh
# Live-update fan-out (issue 16): labd with the api plugin (in-process
# broker), API_FANOUT_WS WebSocket (default 1000) and API_FANOUT_SSE SSE
# clients (default 1000) subscribed to slots:mainnet from the C load client
# tests/bench/fanout-client (API_FANOUT_CLIENT=c, the default; built by
# `make bench`) or from tests/bench/fanout.py (API_FANOUT_CLIENT=py:
# python3-websockets, ~33 us CPU per message, so 200,000 messages/s need
# more cores than labd), API_FANOUT_PROCS processes sharing them (default
# 1 for c, 2 for py), then API_FANOUT_RATE events/s (default 100) for API_FANOUT_SECONDS
# (default 60) published on lab.beacon.slot through the admin API
# (POST /publish/beacon.slot), each carrying its publish time ("t_pub",
# microseconds, taken just before the POST is written).
# Reported: delivery latency publish -> receipt (p50..max over every client
# and event; target p99 <= 50 ms), messages lost, streams ended early,
# labd's RSS before the clients, with them connected and idle (per client:
# target <= 16 KiB) and after they all disconnected (target: back within
# 10 % of the increase, "near baseline"), slow-client drops.
# The latency includes the admin API's handling of the POST and the
# clients' own delays; the clients' CPU seconds (and per message) are
# reported so a client-bound run is visible.
# The run FAILS (no "bench api-fanout done") when the measurement cannot be
# trusted: a receipt before its publish time or more than an hour after, a
# client whose "seq" numbers do not run 1, 2, 3... (C client), or a client
# that got fewer messages than published while no stream was ended or
# dropped by labd (those are reported as a MISSED target instead).
# API_FANOUT_MAX_P99 (ms, default 50) is the latency target; the integration
# test runs this with a few clients for a few seconds (tests/integration/
# api-live.sh).
. "$top_srcdir/tests/integration/lib.sh"
. "$top_srcdir/tests/bench/lib.sh"
WS=${API_FANOUT_WS:-1000}
SSE=${API_FANOUT_SSE:-1000}
CLIENT=${API_FANOUT_CLIENT:-c}
case $CLIENT in
c) PROCS=${API_FANOUT_PROCS:-1} CBIN="$top_builddir/tests/bench/fanout-client"
	[ -x "$CBIN" ] || { echo "$CBIN is not built (make bench, or make tests/bench/fanout-client)" >&2; exit 1; } ;;
py) PROCS=${API_FANOUT_PROCS:-2} ;;
*) echo "API_FANOUT_CLIENT must be c or py" >&2; exit 1 ;;
esac
RATE=${API_FANOUT_RATE:-100}
SECS=${API_FANOUT_SECONDS:-60}
MAX_P99=${API_FANOUT_MAX_P99:-50}
N=$((WS + SSE))
FAN="$top_srcdir/tests/bench/fanout.py"
[ "$CLIENT" = c ] || "$PY" -c 'import websockets' 2>/dev/null || { echo "python3-websockets is not installed" >&2; exit 1; }
ulimit -n 16384 2>/dev/null || ulimit -n 4096
CLIENT_PIDS=""
trap 'for p in $CLIENT_PIDS; do kill -9 "$p" 2>/dev/null; done; cleanup' EXIT
api_plugins || exit 1
api_daemon
sleep 1
rss0=$(rss_kb "$LABD_PID")

# ---- connect ------------------------------------------------------------------
i=0
while [ $i -lt "$PROCS" ]; do
	w=$((WS / PROCS)) s=$((SSE / PROCS))
	[ $i -ne 0 ] || { w=$((w + WS % PROCS)); s=$((s + SSE % PROCS)); }
	# API_FANOUT_CLIENT_WRAP: a command put before the client (e.g.
	# "valgrind -q --error-exitcode=99", "perf record -o FILE").
	if [ "$CLIENT" = c ]; then set -- "$CBIN"; else set -- "$PY" "$FAN" clients; fi
	[ -z "${API_FANOUT_CLIENT_WRAP:-}" ] || set -- $API_FANOUT_CLIENT_WRAP "$@"
	"$@" --base "http://127.0.0.1:$HPORT" --ws "$w" --sse "$s" \
		--ws-subscribe '{"subscribe":["slots:mainnet"]}' --sse-path '/api/v1/events?topics=slots:mainnet' \
		--out "$T/fan.$i.json" >"$T/fan.$i.out" 2>"$T/fan.$i.err" &
	CLIENT_PIDS="$CLIENT_PIDS $!"
	i=$((i + 1))
done
t0=$(date +%s)
connected=0
while [ $(($(date +%s) - t0)) -lt 120 ]; do
	connected=$(cat "$T"/fan.*.out 2>/dev/null | awk '/^connected/ { n += $2; k++ } END { print k == '"$PROCS"' ? n : -1 }')
	[ "$connected" -ge 0 ] && break
	sleep 0.5
done
figure api_fanout_connect_seconds $(($(date +%s) - t0)) s
[ "$connected" = "$N" ] || fail "only $connected of $N clients connected: $(cat "$T"/fan.*.err | tail -n 5)"
sleep 3
rss1=$(rss_kb "$LABD_PID")

# ---- publish ------------------------------------------------------------------
machine_load
c0=$(cpu_s "$LABD_PID")
"$PY" "$FAN" publish --admin "http://127.0.0.1:$PORT" --token "${ADMIN_TOKEN:-}" --subject beacon.slot \
	--rate "$RATE" --seconds "$SECS" --template '{"network":"mainnet","slot":1,"key":"beacon/slots/mainnet/1.json"}' \
	--out "$T/pub.json" 2>"$T/pub.err" || fail "publisher: $(cat "$T/pub.err")"
published=$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["published"])' "$T/pub.json")
sleep 2
labd_cpu=$(echo "$(cpu_s "$LABD_PID") $c0" | awk '{ printf "%.2f", $1 - $2 }')
rss2=$(rss_kb "$LABD_PID")
for p in $CLIENT_PIDS; do kill -TERM "$p"; done
for p in $CLIENT_PIDS; do wait "$p"; done
CLIENT_PIDS=""
# The host notices a closed WebSocket at once (close frame, EOF); a closed
# SSE stream only when a write to it fails — the heartbeat after next
# (http.heartbeat, 15 s) at the latest. Wait for every stream to be gone.
streams() {
	http GET /metrics
	printf '%s\n' "$BODY" | awk '$1 ~ /^lab_http_streams\{/ { n += $2 } END { print n + 0 }'
}
t0=$(date +%s)
while [ "$(streams)" -gt 0 ] && [ $(($(date +%s) - t0)) -lt "${API_FANOUT_CLOSE_WAIT:-45}" ]; do sleep 0.5; done
figure api_fanout_all_closed_seconds $(($(date +%s) - t0)) s
# API_FANOUT_SETTLE (s, default 2): time for labd's idle heap trim first.
sleep "${API_FANOUT_SETTLE:-2}"
rss3=$(rss_kb "$LABD_PID")
drops=$(metric 'lab_http_slow_client_drops_total{plugin="api",kind="websocket"}')
drops_sse=$(metric 'lab_http_slow_client_drops_total{plugin="api",kind="sse"}')
streams_left=$(streams)
stop_labd

# ---- figures ------------------------------------------------------------------
if [ "$CLIENT" = c ]; then
	echo "# clients: tests/bench/fanout-client (C, epoll + libwslay), $PROCS process(es)"
else
	echo "# clients: tests/bench/fanout.py (python3-websockets), $PROCS process(es)"
fi
figure api_fanout_ws_clients "$WS" clients
figure api_fanout_sse_clients "$SSE" clients
figure api_fanout_rate "$RATE" events/s
figure api_fanout_seconds "$SECS" s
figure api_fanout_published "$published" events
# labd's CPU over the publishing (and 2 s after): a figure a loaded machine
# distorts less than the wall-clock latency.
figure api_fanout_labd_cpu "$labd_cpu" s
figure api_fanout_labd_cpu_per_delivery "$(echo "$labd_cpu $published $N" | awk '{ printf "%.2f", $2 * $3 ? $1 * 1e6 / ($2 * $3) : 0 }')" us
"$PY" "$FAN" report "$T"/fan.*.json --published "$published" | sed 's/^fanout_/api_fanout_/' >"$T/report"
cat "$T/report"
val() { awk -v k="$1" '$1 == k { print $2 }' "$T/report"; }
figure api_fanout_rss_before "$rss0" kB
figure api_fanout_rss_connected "$rss1" kB
figure api_fanout_rss_after_events "$rss2" kB
figure api_fanout_rss_disconnected "$rss3" kB
per=$(( (rss1 - rss0) * 1024 / N ))
figure api_fanout_rss_per_client "$per" bytes
figure api_fanout_slow_client_drops "$((${drops:-0} + ${drops_sse:-0}))" streams
figure api_fanout_streams_left "$streams_left" streams
p99=$(val api_fanout_latency_p99)
missing=$(val api_fanout_messages_missing)
ended=$(val api_fanout_streams_ended_early)
# Can the figures be trusted? (see the top)
bad=$(($(val api_fanout_latency_negative) + $(val api_fanout_latency_absurd) + $(val api_fanout_seq_errors)))
[ "$bad" -eq 0 ] || fail "the clients mis-measured: $(grep -E '_negative|_absurd|_seq_errors' "$T/report" | tr '\n' ' ')"
short=0
for k in ws sse; do
	m=$(val api_fanout_min_per_client_$k)
	[ -z "$m" ] || [ "$m" -ge "$published" ] || short=1
done
[ "$short" = 0 ] || [ "$ended" != 0 ] || [ "$((${drops:-0} + ${drops_sse:-0}))" != 0 ] ||
	fail "a client got fewer than the $published published messages, but no stream ended or was dropped: $(grep min_per_client "$T/report" | tr '\n' ' ')"
if [ "$missing" = 0 ] && [ "$ended" = 0 ] && [ "$published" -gt 0 ] &&
	echo "$p99 $MAX_P99" | awk '{ exit !($1 != "none" && $1 <= $2) }'; then
	verdict api-fanout-latency OK "p99 $p99 ms (target <= $MAX_P99) publish -> receipt, $WS WebSocket + $SSE SSE clients, $published events at $RATE/s, none lost"
else
	verdict api-fanout-latency MISSED "p99 $p99 ms (target <= $MAX_P99), $missing messages missing, $ended streams ended early, $published events published"
fi
# "Near baseline": what stays after disconnecting is at most a tenth of
# what the clients took (allocator caches keep some pages).
if [ "$per" -le 16384 ] && [ $((rss3 - rss0)) -le $(((rss1 - rss0) / 10 + 512)) ]; then
	verdict api-fanout-memory OK "$per bytes per connected idle client (target <= 16384); RSS $rss0 kB before, $rss1 kB with $N clients, $rss3 kB after they left"
else
	verdict api-fanout-memory MISSED "$per bytes per connected idle client (target <= 16384); RSS $rss0 kB before, $rss1 kB with $N clients, $rss3 kB after they left"
fi
done_bench api-fanout
