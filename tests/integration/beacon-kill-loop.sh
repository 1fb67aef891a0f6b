#!/bin/sh
# beacon-kill-loop.sh [ITERATIONS] — not part of `make check`: repeats the
# kill -9 / restart scenario of tests/integration/beacon.sh (section 3) with
# varied kill points until one fails, to reproduce intermittent resume bugs
# (issue 25).  Each iteration: serve mode from an empty data directory, kill
# -9 once K documents exist (K from 0 to all of them) plus a pause of 0-1.5 s (zero,
# one or two state flushes in between), restart at the same clock, and
# expect within 60 s: every document of the data range, nothing pending,
# no slot stored twice, and the backfill cursor at its end in state.  On a
# failure the iteration's logs, state and data stay in the printed
# directory.  OLD_SIGNAL=1 waits instead for what beacon.sh waited for
# before issue 25 ("backfill finished" in the restarted daemon's log), to
# show how that test failed.  Run from the build directory:
#   ../tests/integration/beacon-kill-loop.sh 50
[ "${1:-}" = --inner ] || exec "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/services/with-services.sh" clickhouse -- "$0" --inner "$@"
shift
N=${1:-50}
. "$top_srcdir/tests/integration/lib.sh"
. "$top_srcdir/tests/integration/faults-lib.sh"
KEEP_TMP=1 # the evidence of a failure stays; removed below on success
trap 'exit 143' TERM INT # (runs the EXIT cleanup: labd is stopped)

stage_plugins
load_beacon_data
reference_run
echo "# reference: $NREF documents"

# bf_next ROOT: the persisted backfill cursor (-1 = finished)
bf_next() { state_flat "$1" | awk -F'\t' '$1 == "slot_mainnet" && $2 == "backfill" && $3 == "next" { print $4 }'; }

it=0
while [ $it -lt "$N" ]; do
	it=$((it + 1))
	D="$T/d"
	rm -rf "$D" "$T"/it.*
	beacon_conf "$D" "$CLICKHOUSE_URL" >"$T/labd.conf"
	K=$(awk -v s="$$$it" -v n="$NREF" 'BEGIN { srand(s); print int(rand() * (n + 1)) }')
	P=$(awk -v s="$$$it" 'BEGIN { srand(s + 1); printf "%.1f", int(rand() * 16) / 10 }')
	start_labd --now "$NOW2"
	wait_long 60 "[ \"\$(ndocs \"$D\")\" -ge $K ]" || fail "iteration $it: never reached $K documents"
	sleep "$P"
	kill -9 "$LABD_PID"; wait "$LABD_PID" 2>/dev/null; LABD_PID=""
	cp "$T/labd.log" "$T/it.1.log"
	first=$(ndocs "$D")
	cur=$(bf_next "$D")
	start_labd --now "$NOW2"
	t0=$(date +%s%N)
	# what the product guarantees after a restart: all documents, nothing
	# pending, the cursor at the end (-1) in a flushed state
	done_cond='all_stored "$D" && [ "$(bf_next "$D")" = -1 ]'
	[ "${OLD_SIGNAL:-0}" = 0 ] || done_cond='grep -q "msg=\"backfill finished\"" "$T/labd.log"'
	if ! wait_long 60 "$done_cond"; then
		cp "$T/labd.log" "$T/it.2.log"
		echo "FAIL at iteration $it: kill after K=$K documents + ${P}s (at $first documents, persisted next=$cur)" >&2
		echo "  now $(ndocs "$D") documents, state: $(state_flat "$D" | tr '\n' ' ' | head -c 400)" >&2
		echo "  evidence kept in $T (it.1.log before the kill, it.2.log after the restart, d/ data and state)" >&2
		exit 1
	fi
	ms=$((($(date +%s%N) - t0) / 1000000))
	stop_labd
	cp "$T/labd.log" "$T/it.2.log"
	cat "$T/it.1.log" "$T/it.2.log" | sed -n 's/.*msg="slot stored".* slot=\([0-9]*\).*/\1/p' | sort | uniq -d >"$T/dups"
	[ ! -s "$T/dups" ] || fail "iteration $it: slots stored twice: $(head -5 "$T/dups" | tr '\n' ' ')"
	fin=$(grep -c 'msg="backfill finished"' "$T/it.2.log")
	if [ $ms -gt "${SLOW_MS:-5000}" ]; then # a slow restart: keep its evidence too
		mkdir -p "$T/slow.$it" && cp -r "$T/it.1.log" "$T/it.2.log" "$D/state" "$T/slow.$it/"
		echo "# slow restart: evidence in $T/slow.$it"
	fi
	echo "ok $it: K=$K pause=${P}s killed at $first documents, persisted next=${cur:-none}; restart done in ${ms} ms (\"backfill finished\" logged: $fin)"
done
ls -d "$T"/slow.* >/dev/null 2>&1 || KEEP_TMP=0
echo "# $N iterations passed"
