#!/bin/sh
# nats.sh start|stop|status DIR [--purge]
#
# Runs Debian's nats-server (2.9) with JetStream on 127.0.0.1, state under
# DIR. The server picks free client and monitoring ports itself (-p -1,
# -m -1) and reports them in a ports file, so there is no race between
# choosing a port and binding it.
#   start   starts the server, waits for the monitor's /healthz, writes DIR/env:
#             NATS_URL=nats://127.0.0.1:PORT
#             NATS_MONITOR_URL=http://127.0.0.1:PORT
#             NATS_PID=PID
#           NATS_PORT=P (environment) binds client port P instead: a restart
#           test stops the server and starts it again on the same port and
#           DIR (JetStream data in DIR/js survives)
#   stop    SIGTERM (SIGKILL after 20 s); --purge removes what start created
#   status  exit 0 and print DIR/env when the monitor answers
set -u
SVC_NAME=nats
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

[ $# -ge 2 ] || { echo "usage: $0 start|stop|status DIR [--purge]" >&2; exit 2; }
cmd=$1
case $cmd in start) mkdir -p "$2" || svc_die "cannot create $2" ;; esac
[ -d "$2" ] || { [ "$cmd" = stop ] && exit 0; echo "not running"; exit 1; }
DIR=$(cd "$2" && pwd)

start() {
	svc_check_not_running "$DIR"
	svc_need_apt nats-server nats-server
	bin=$(command -v nats-server || echo /usr/sbin/nats-server)
	mkdir -p "$DIR/js" "$DIR/ports"
	svc_created "$DIR" js ports nats.log stdout.log env pid
	rm -f "$DIR"/ports/*.ports
	"$bin" -js -sd "$DIR/js" -a 127.0.0.1 -p "${NATS_PORT:--1}" -m -1 --ports_file_dir "$DIR/ports" \
		-l "$DIR/nats.log" </dev/null >"$DIR/stdout.log" 2>&1 &
	pid=$!
	echo "$pid" >"$DIR/pid"
	pf="$DIR/ports/nats-server_$pid.ports"
	timeout=${NATS_START_TIMEOUT:-30}
	if ! svc_wait_file "$pf" "$timeout" "$pid"; then
		svc_kill_wait "$pid" 5
		rm -f "$DIR/pid"
		echo "$SVC_NAME: server did not start; last log lines:" >&2
		tail -n 20 "$DIR/nats.log" "$DIR/stdout.log" >&2 2>/dev/null
		exit 1
	fi
	# {"nats":["nats://127.0.0.1:P"],"monitoring":["http://127.0.0.1:M"]}
	url=$(sed -n 's/.*"nats":\["\([^"]*\)".*/\1/p' "$pf")
	mon=$(sed -n 's/.*"monitoring":\["\([^"]*\)".*/\1/p' "$pf")
	[ -n "$url" ] && [ -n "$mon" ] || svc_die "cannot read ports from $pf"
	if ! svc_wait_http "$mon/healthz" "" "$timeout" "$pid"; then
		svc_kill_wait "$pid" 5
		rm -f "$DIR/pid"
		svc_die "monitor $mon/healthz did not answer"
	fi
	{
		echo "NATS_URL=$url"
		echo "NATS_MONITOR_URL=$mon"
		echo "NATS_PID=$pid"
	} >"$DIR/env"
	svc_log "ready on $url (monitor $mon, pid $pid)"
}

status() {
	[ -f "$DIR/env" ] && [ -f "$DIR/pid" ] || { echo "not running"; return 1; }
	svc_alive "$(cat "$DIR/pid")" || { echo "not running (stale pid)"; return 1; }
	mon=$(svc_env_get "$DIR/env" NATS_MONITOR_URL)
	curl -sf -o /dev/null --max-time 2 "$mon/healthz" || { echo "not answering at $mon"; return 1; }
	cat "$DIR/env"
}

case $cmd in
start) start ;;
stop) svc_stop_common "$DIR" "${3:-}" ;;
status) status ;;
*) echo "usage: $0 start|stop|status DIR [--purge]" >&2; exit 2 ;;
esac
