# Shared by the benchmarks; sourced after tests/integration/lib.sh.
# figure NAME VALUE UNIT: one result line.
figure() { echo "$1 $2 $3"; }
# verdict NAME OK|MISSED TEXT: the one-line judgement against a target.
verdict() { echo "verdict $1 $2 $3"; }
# done_bench NAME: the runner's proof that the benchmark ran to its end.
done_bench() { echo "bench $1 done"; }
# free_port: an unused loopback TCP port below the kernel's ephemeral range,
# so that no other process's outgoing connection can take it between the
# runs that reuse it (the admin port of startup.sh's 60 starts).
free_port() {
	low=$(awk '{ print $1 }' /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null)
	[ -n "$low" ] && [ "$low" -gt 12000 ] || low=32768
	p=$(( 10000 + $(od -An -N2 -tu2 /dev/urandom) % (low - 11000) ))
	while ss -tanH "sport = :$p" 2>/dev/null | grep -q .; do p=$((p + 1)); done
	echo "$p"
}
# load_xatu FROM TO: the Xatu schema and generated mainnet slots FROM..TO
# (tests/fixtures/xatu-gen, genesis $GENESIS) loaded into $CLICKHOUSE_URL.
load_xatu() {
	"$top_srcdir/tests/fixtures/load-schema.sh" "$CLICKHOUSE_URL" >/dev/null || exit 1
	"$top_builddir/tests/fixtures/xatu-gen" --network mainnet --genesis "$GENESIS" --from-slot "$1" \
		--to-slot "$2" --out "$T/gen" >/dev/null || exit 1
	"$top_srcdir/tests/fixtures/load.sh" "$CLICKHOUSE_URL" "$T/gen" >/dev/null || exit 1
	rm -rf "$T/gen"
}

# ---- the read side (api-*.sh, tests/integration/api-*.sh) ----------------------
# nginx_start ROOT PORT: Debian's nginx, one worker, gzip_static on, serving
# ROOT (KEY.gz next to KEY) on 127.0.0.1:PORT in the foreground of a
# background job; sets NGINX_PID. Its files live under $T/nginx.
nginx_start() {
	NGINX=$(command -v nginx || echo /usr/sbin/nginx)
	[ -x "$NGINX" ] || { echo "nginx is not installed" >&2; return 1; }
	mkdir -p "$T/nginx/tmp"
	cat >"$T/nginx/nginx.conf" <<NGX
worker_processes 1;
daemon off;
master_process off;
pid $T/nginx/nginx.pid;
error_log $T/nginx/error.log warn;
events { worker_connections 4096; }
http {
	access_log off;
	client_body_temp_path $T/nginx/tmp/body;
	proxy_temp_path $T/nginx/tmp/proxy;
	fastcgi_temp_path $T/nginx/tmp/fastcgi;
	uwsgi_temp_path $T/nginx/tmp/uwsgi;
	scgi_temp_path $T/nginx/tmp/scgi;
	types { application/json json; }
	default_type application/octet-stream;
	sendfile on;
	tcp_nopush on;
	tcp_nodelay on;
	keepalive_timeout 65;
	keepalive_requests 1000000;
	open_file_cache max=1000 inactive=60s;
	server {
		listen 127.0.0.1:$2 reuseport;
		root $1;
		gzip_static on;
		etag on;
		location / { add_header Cache-Control "public,max-age=86400,s-maxage=86400"; add_header Vary Accept-Encoding; }
	}
}
NGX
	# master_process off: the one process is the worker (what "one worker"
	# measures), and killing NGINX_PID stops everything.
	"$NGINX" -c "$T/nginx/nginx.conf" -p "$T/nginx" 2>"$T/nginx/stderr" &
	NGINX_PID=$!
	trap 'nginx_stop; cleanup' EXIT
	wait_for "curl -s -o /dev/null http://127.0.0.1:$2/" ||
		{ cat "$T/nginx/stderr" "$T/nginx/error.log" >&2; return 1; }
}
nginx_stop() {
	[ -n "${NGINX_PID:-}" ] || return 0
	kill -TERM "$NGINX_PID" 2>/dev/null
	wait "$NGINX_PID" 2>/dev/null
	NGINX_PID=""
}

# wrk_run URL PATHS_FILE CONNECTIONS SECONDS: one `wrk --latency` run with
# Accept-Encoding: gzip, cycling through the paths of PATHS_FILE (one a
# line). Prints "RPS P99_MS REQUESTS ERRORS" (errors: socket errors and
# non-2xx/3xx answers); wrk's own report goes to $T/wrk.last.
wrk_run() {
	cat >"$T/wrk.lua" <<'LUA'
local paths, i = {}, 0
local f = assert(io.open(os.getenv("WRK_PATHS")))
for l in f:lines() do if #l > 0 then paths[#paths + 1] = l end end
f:close()
request = function()
	i = i % #paths + 1
	return wrk.format("GET", paths[i], { ["Accept-Encoding"] = "gzip" })
end
done = function(s, lat, _)
	local e = s.errors
	io.write(string.format("wrk-result %.1f %.3f %d %d\n", s.requests / (s.duration / 1e6),
		lat:percentile(99) / 1000, s.requests, e.connect + e.read + e.write + e.timeout + e.status))
end
LUA
	WRK_PATHS=$2 wrk -t1 -c"$3" -d"$4"s --latency -s "$T/wrk.lua" "$1" >"$T/wrk.last" 2>&1 ||
		{ cat "$T/wrk.last" >&2; return 1; }
	sed -n 's/^wrk-result //p' "$T/wrk.last"
}

# rss_kb PID: VmRSS in kB.
rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }

# PY: Debian's python3 (python3-websockets is a Debian package; a pyenv or
# venv python3 earlier in PATH would not see it).
PY=/usr/bin/python3

# api_conf HTTP_PORT BROKER_LINES PLUGINS_TEXT: $T/labd.conf for a daemon
# running the api plugin on 127.0.0.1:HTTP_PORT (fs storage under $T/data,
# admin on a free port), with the stream limits raised for the fan-out
# (2,000 streams from one address); API_HTTP_EXTRA adds http settings
# (e.g. 'heartbeat = "2s";'). BROKER_LINES: e.g.
# 'broker = { backend = "local"; };'. PLUGINS_TEXT goes inside plugins = {}.
api_conf() {
	cat <<CONF
log = { level = "${API_LOG_LEVEL:-info}"; format = "logfmt"; };
admin = { listen = "127.0.0.1:0"; token = "${ADMIN_TOKEN:-}"; };
plugin_dir = "$T/plugins";
state = { flush_interval = "60s"; };
storage = { backend = "fs"; fs = { root = "$T/data"; }; };
$2
http = { listen = "127.0.0.1:$1"; max_connections = 8192; max_streams_per_ip = 8192; ${API_HTTP_EXTRA:-} };
plugins = {
	api = { enabled = true; };
$3
};
CONF
}

# api_wait HTTP_PORT: until the api has started (its routes are registered
# in start, after the admin port opened) and its port answers.
api_wait() {
	wait_for 'grep -q "msg=\"api started\"" "$T/labd.log"' 200 &&
		wait_for "[ \"\$(curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:$1/api/v1/networks)\" != 000 ]" 100
}

# machine_load: what else the machine was doing, as comment lines.
machine_load() {
	echo "# load average: $(cut -d' ' -f1-3 /proc/loadavg); busiest processes over 1 s (%CPU):"
	top -b -n 2 -d 1 -w 120 2>/dev/null | awk '/^top -/ { n++ } n == 2 && /^ *[0-9]/ { print "#   " $9 " " $12 }' | head -n 5
}

# api_plugins [PLUGIN...]: stages the plugins (once) and keeps only api.so
# and the ones named; fails when one of them is not built.
api_plugins() {
	[ -d "$T/plugins" ] || stage_plugins
	for so in "$T"/plugins/*.so; do
		case " api $* " in *" $(basename "$so" .so) "*) ;; *) rm -f "$so" ;; esac
	done
	for n in api "$@"; do [ -f "$T/plugins/$n.so" ] || { echo "$n.so not built" >&2; return 1; }; done
}

# api_daemon [PLUGINS_TEXT]: labd on the local broker with the api on a
# free port HPORT (and PLUGINS_TEXT), started, its api answering.
api_daemon() {
	HPORT=$(free_port)
	api_conf "$HPORT" 'broker = { backend = "local"; };' "${1:-}" >"$T/labd.conf"
	start_labd
	api_wait "$HPORT" || fail "the api did not answer on $HPORT"
}

# cpu_s PID: the process's CPU seconds so far (utime + stime, USER_HZ 100).
cpu_s() { awk '{ printf "%.2f", ($14 + $15) / 100 }' "/proc/$1/stat"; }
