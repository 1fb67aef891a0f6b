# Helpers for the hardening tests (issue 15); sourced after lib.sh.
#
# watch_health: polls GET /healthz every 0.2 s in the background, each
# request with a 1 s limit (5 s when labd runs under valgrind, which slows
# dlopen and everything else tenfold); every miss is appended to
# $T/health.miss.  check_health fails the test if there was any, or if labd
# exited meanwhile.
HEALTH_PID=""
HEALTH_LIMIT=1
[ "${LABD_UNDER_VALGRIND:-0}" = 1 ] && HEALTH_LIMIT=5
watch_health() {
	: >"$T/health.miss"
	(
		# Ends with the test, even one that fails without stop_health.
		while [ -d "$T" ] && kill -0 $$ 2>/dev/null; do
			c=$(curl -s -o /dev/null -w '%{http_code}' --max-time "$HEALTH_LIMIT" \
				"http://127.0.0.1:$PORT/healthz" 2>/dev/null) || c=000
			[ "$c" = 200 ] || echo "$(date +%T.%N) healthz $c" >>"$T/health.miss"
			sleep 0.2
		done
	) &
	HEALTH_PID=$!
}
stop_health() {
	if [ -n "$HEALTH_PID" ]; then
		kill "$HEALTH_PID" 2>/dev/null
		wait "$HEALTH_PID" 2>/dev/null
		HEALTH_PID=""
	fi
}
check_health() { # check_health WHAT
	kill -0 "$LABD_PID" 2>/dev/null || fail "$1: labd exited"
	if [ -s "$T/health.miss" ]; then
		head -n 5 "$T/health.miss" >&2
		fail "$1: /healthz did not answer within $HEALTH_LIMIT s $(wc -l <"$T/health.miss") time(s)"
	fi
}
