#!/bin/sh
# clickhouse.sh start|stop|status DIR [--purge]
#
# Runs Debian's clickhouse-server (18.16) on 127.0.0.1 with ports chosen at
# run time and everything (config, data, logs) under DIR. systemd is not
# available in the sandbox and not wanted in tests, so the server binary is
# started directly with a generated config.
#   start   writes DIR/config.xml, DIR/users.xml, starts the server, waits
#           for /ping, writes DIR/env:
#             CLICKHOUSE_URL=http://127.0.0.1:PORT
#             CLICKHOUSE_TCP_PORT=PORT
#             CLICKHOUSE_PID=PID
#   stop    SIGTERM (SIGKILL after 20 s); --purge also removes the files
#           start created (data, logs, configs, env)
#   status  exit 0 and print DIR/env when the server answers /ping
# Environment: CLICKHOUSE_START_TIMEOUT (seconds, default 60),
#              CLICKHOUSE_MAX_MEMORY (bytes per query, default 2 GB).
set -u
SVC_NAME=clickhouse
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

[ $# -ge 2 ] || { echo "usage: $0 start|stop|status DIR [--purge]" >&2; exit 2; }
cmd=$1
case $cmd in start) mkdir -p "$2" || svc_die "cannot create $2" ;; esac
[ -d "$2" ] || { [ "$cmd" = stop ] && exit 0; echo "not running"; exit 1; }
DIR=$(cd "$2" && pwd)
# DIR goes into XML unescaped.
case $DIR in *[\&\<\>\"\']*) svc_die "DIR must not contain & < > quotes: $DIR" ;; esac

find_server() {
	for b in clickhouse-server /usr/sbin/clickhouse-server /usr/bin/clickhouse-server; do
		if command -v "$b" >/dev/null 2>&1; then command -v "$b"; return 0; fi
	done
	# Newer packages ship one multi-call binary.
	if command -v clickhouse >/dev/null 2>&1; then echo "$(command -v clickhouse) server"; return 0; fi
	return 1
}

write_config() {
	# Small caches and a per-query memory cap: tests share a 2-core box.
	# query_log is on (flushed every second) because the benchmarks read
	# system.query_log for ClickHouse's own query time.
	cat >"$DIR/config.xml" <<EOF
<?xml version="1.0"?>
<yandex>
  <logger>
    <level>warning</level>
    <log>$DIR/log/clickhouse-server.log</log>
    <errorlog>$DIR/log/clickhouse-server.err.log</errorlog>
    <size>10M</size>
    <count>2</count>
  </logger>
  <listen_host>127.0.0.1</listen_host>
  <http_port>$1</http_port>
  <tcp_port>$2</tcp_port>
  <path>$DIR/data/</path>
  <tmp_path>$DIR/data/tmp/</tmp_path>
  <user_files_path>$DIR/data/user_files/</user_files_path>
  <format_schema_path>$DIR/data/format_schemas/</format_schema_path>
  <users_config>$DIR/users.xml</users_config>
  <default_profile>default</default_profile>
  <default_database>default</default_database>
  <timezone>UTC</timezone>
  <mark_cache_size>67108864</mark_cache_size>
  <uncompressed_cache_size>67108864</uncompressed_cache_size>
  <max_concurrent_queries>64</max_concurrent_queries>
  <max_connections>256</max_connections>
  <keep_alive_timeout>10</keep_alive_timeout>
  <query_log>
    <database>system</database>
    <table>query_log</table>
    <partition_by>toYYYYMM(event_date)</partition_by>
    <flush_interval_milliseconds>1000</flush_interval_milliseconds>
  </query_log>
</yandex>
EOF
	cat >"$DIR/users.xml" <<EOF
<?xml version="1.0"?>
<yandex>
  <profiles>
    <default>
      <max_memory_usage>${CLICKHOUSE_MAX_MEMORY:-2000000000}</max_memory_usage>
      <max_threads>2</max_threads>
      <use_uncompressed_cache>0</use_uncompressed_cache>
      <log_queries>1</log_queries>
    </default>
  </profiles>
  <users>
    <default>
      <password></password>
      <networks><ip>127.0.0.1</ip><ip>::1</ip></networks>
      <profile>default</profile>
      <quota>default</quota>
    </default>
  </users>
  <quotas>
    <default>
      <interval>
        <duration>3600</duration>
        <queries>0</queries><errors>0</errors><result_rows>0</result_rows>
        <read_rows>0</read_rows><execution_time>0</execution_time>
      </interval>
    </default>
  </quotas>
</yandex>
EOF
}

start() {
	svc_check_not_running "$DIR"
	svc_need_apt clickhouse-server clickhouse-server clickhouse-client
	server=$(find_server) || svc_die "no clickhouse-server binary"
	mkdir -p "$DIR/data" "$DIR/log"
	svc_created "$DIR" data log config.xml users.xml env pid
	timeout=${CLICKHOUSE_START_TIMEOUT:-60}
	attempt=1
	while [ $attempt -le 5 ]; do
		http=$(svc_free_port) || svc_die "no free port"
		tcp=$(svc_free_port) || svc_die "no free port"
		[ "$http" = "$tcp" ] && continue
		write_config "$http" "$tcp"
		: >"$DIR/log/stdout.log"
		# $server may be "clickhouse server": word splitting is wanted.
		# shellcheck disable=SC2086
		$server --config-file="$DIR/config.xml" </dev/null >>"$DIR/log/stdout.log" 2>&1 &
		pid=$!
		echo "$pid" >"$DIR/pid"
		clash=0
		if svc_wait_http "http://127.0.0.1:$http/ping" "Ok." "$timeout" "$pid" && svc_alive "$pid"; then
			# Someone else may have answered on that port.
			svc_owns_port "$pid" "$http" || clash=1
		fi
		if [ $clash = 0 ] && svc_alive "$pid" && svc_owns_port "$pid" "$http"; then
			{
				echo "CLICKHOUSE_URL=http://127.0.0.1:$http"
				echo "CLICKHOUSE_TCP_PORT=$tcp"
				echo "CLICKHOUSE_PID=$pid"
			} >"$DIR/env"
			svc_log "ready on http://127.0.0.1:$http (tcp $tcp, pid $pid)"
			return 0
		fi
		svc_kill_wait "$pid" 10
		rm -f "$DIR/pid"
		# A port taken between the check and the bind: try other ports.
		if [ $clash = 1 ] || grep -qs "Address already in use" "$DIR/log/clickhouse-server.err.log" "$DIR/log/stdout.log"; then
			svc_log "port clash on $http/$tcp; retrying"
			rm -f "$DIR/log/clickhouse-server.err.log"
			attempt=$((attempt + 1))
			continue
		fi
		echo "$SVC_NAME: server did not become ready within ${timeout}s; last log lines:" >&2
		tail -n 20 "$DIR/log/clickhouse-server.err.log" "$DIR/log/stdout.log" >&2 2>/dev/null
		exit 1
	done
	svc_die "gave up after repeated port clashes"
}

status() {
	[ -f "$DIR/env" ] && [ -f "$DIR/pid" ] || { echo "not running"; return 1; }
	svc_alive "$(cat "$DIR/pid")" || { echo "not running (stale pid)"; return 1; }
	url=$(svc_env_get "$DIR/env" CLICKHOUSE_URL)
	[ "$(curl -s --max-time 2 "$url/ping")" = "Ok." ] || { echo "not answering at $url"; return 1; }
	cat "$DIR/env"
}

case $cmd in
start) start ;;
stop) svc_stop_common "$DIR" "${3:-}" ;;
status) status ;;
*) echo "usage: $0 start|stop|status DIR [--purge]" >&2; exit 2 ;;
esac
