#!/bin/sh
# The fan-out benchmark's C load client (tests/bench/fanout-client) against
# a scripted SSE server (tests/integration/sse-shapes.py) that writes a few
# bytes at a time: a chunked body, a close-delimited HTTP/1.0 body with CRLF
# and bare-CR line ends, an event's data over two data: lines — every shape
# yields the same counts (every event once, in seq order, heartbeats and the
# event without t_pub told apart); a stream the server ends is counted as
# ended early; a t_pub in the future and one from 1970 trip the negative and
# absurd checks.  `fanout.py report` merges the C client's files (1 µs
# buckets).  Against labd the client runs in tests/integration/api-live.sh.
. "$(dirname "$0")/lib.sh"
CL="$top_builddir/tests/bench/fanout-client"
PY=/usr/bin/python3
[ -x "$CL" ] || fail "$CL is not built"
EV=40
"$PY" "$top_srcdir/tests/integration/sse-shapes.py" "$T/port" $EV 2>"$T/srv.err" &
SRV=$!
trap 'kill "$SRV" 2>/dev/null; cleanup' EXIT
wait_for '[ -s "$T/port" ]' 400 || fail "sse-shapes.py did not start: $(cat "$T/srv.err")"
P=$(cat "$T/port")
PIDS=""
for m in chunked close early future ancient; do
	"$CL" --base "http://127.0.0.1:$P" --ws 0 --sse 3 --sse-path "/$m?topics=slots:mainnet" --out "$T/$m.json" \
		>"$T/$m.out" 2>"$T/$m.err" &
	PIDS="$PIDS $!"
done
wait_for '[ "$(cat "$T/port.done" 2>/dev/null | wc -l)" -ge 15 ]' 1200 ||
	fail "the server did not finish its streams: $(cat "$T/srv.err" "$T"/*.err)"
sleep 0.5
for p in $PIDS; do kill -TERM "$p"; done
for p in $PIDS; do wait "$p" || fail "fanout-client exited $?: $(cat "$T"/*.err)"; done
check() { # FILE PYTHON-EXPRESSION-ON-d
	"$PY" -c 'import json, sys; d = json.load(open(sys.argv[1])); sys.exit(0 if eval(sys.argv[2]) else 1)' "$T/$1.json" "$2" ||
		fail "$1: not ($2): $(cat "$T/$1.json" | cut -c1-600)"
}
for m in chunked close early; do
	check $m 'd["connected"] == 3 and d["per_client"]["sse"] == ['$EV', '$EV', '$EV'] and d["msgs"]["sse"] == 3 * '$EV
	check $m 'd["other"]["sse"] == 3 and d["heartbeats"]["sse"] == 6 and d["n_errors"] == 0'
	check $m 'd["seq_errors"] == 0 and d["negative"] == 0 and d["absurd"] == 0 and d["sse_no_id"] == 0'
	check $m 'sum(d["hist"].values()) == 3 * '$EV' and sum(d["hist_us"].values()) <= 3 * '$EV
done
check chunked 'd["ended"]["sse"] == 0'
check close 'd["ended"]["sse"] == 0'
check early 'd["ended"]["sse"] == 3'
check future 'd["negative"] == 3 and d["absurd"] == 0 and d["per_client"]["sse"] == [1, 1, 1]'
check ancient 'd["absurd"] == 3 and d["negative"] == 0'
pass "SSE: chunked, close-delimited (CRLF, CR), early end, negative and absurd latencies"
"$PY" "$top_srcdir/tests/bench/fanout.py" report "$T/chunked.json" "$T/close.json" --published $EV >"$T/report" ||
	fail "fanout.py report"
grep -q '^fanout_messages_missing 0 ' "$T/report" || fail "report: $(cat "$T/report")"
grep -Eq '^fanout_latency_p99 [0-9]+\.[0-9]{3} ms' "$T/report" || fail "report, µs resolution: $(cat "$T/report")"
grep -q '^fanout_seq_errors 0 ' "$T/report" || fail "report: $(cat "$T/report")"
"$PY" "$top_srcdir/tests/bench/fanout.py" report "$T/future.json" --published 1 | grep -q '^fanout_latency_negative 3 ' ||
	fail "report does not show negative latencies"
pass "fanout.py report merges the C client's files: $(grep "^fanout_latency_p99 " "$T/report")"
