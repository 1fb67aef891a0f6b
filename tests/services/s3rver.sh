#!/bin/sh
# s3rver.sh start|stop|status DIR [--purge]
# s3rver.sh install          (only installs s3rver into the cache, e.g. in CI setup)
#
# Runs s3rver 3 (an S3 imitation on Node.js, from the npm registry) on
# 127.0.0.1 with objects under DIR/s3 and the bucket lab-data created at
# start. Path-style URLs: $S3_ENDPOINT/lab-data/KEY.
# s3rver is installed once into a cache directory this script owns:
# $LABD_S3RVER_HOME, default ${XDG_CACHE_HOME:-$HOME/.cache}/labd/s3rver.
#   start   writes DIR/env:
#             S3_ENDPOINT=http://127.0.0.1:PORT  S3_BUCKET=lab-data
#             S3_ACCESS_KEY_ID=S3RVER  S3_SECRET_ACCESS_KEY=S3RVER
#             S3_REGION=us-east-1  S3_PID=PID
#   stop    SIGTERM (SIGKILL after 20 s); --purge removes what start created
#   status  exit 0 and print DIR/env when the bucket answers
# Note: s3rver 3 checks the access key id but not SigV4 signatures, and
# requires the x-amz-content-sha256 header on signed requests.
set -u
SVC_NAME=s3rver
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

BUCKET=lab-data
HOME_DIR=${LABD_S3RVER_HOME:-${XDG_CACHE_HOME:-${HOME:-/tmp}/.cache}/labd/s3rver}
JS="$HOME_DIR/node_modules/s3rver/bin/s3rver.js"
EMPTY_SHA=e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855

install_s3rver() {
	[ -f "$JS" ] && return 0
	command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1 ||
		svc_die "node and npm are needed (Node 20 + npm)"
	mkdir -p "$HOME_DIR" || svc_die "cannot create $HOME_DIR"
	# Parallel test runs may race here: mkdir is the lock.
	i=0
	while ! mkdir "$HOME_DIR/.lock" 2>/dev/null; do
		[ -f "$JS" ] && return 0
		i=$((i + 1))
		[ $i -lt 1200 ] || svc_die "timed out waiting for $HOME_DIR/.lock"
		sleep 0.1
	done
	if [ ! -f "$JS" ]; then
		svc_log "installing s3rver@3 into $HOME_DIR"
		[ -f "$HOME_DIR/package.json" ] || echo '{"name":"labd-s3rver","private":true}' >"$HOME_DIR/package.json"
		if ! npm install --prefix "$HOME_DIR" --no-audit --no-fund --loglevel=error s3rver@3 >"$HOME_DIR/install.log" 2>&1; then
			rmdir "$HOME_DIR/.lock"
			cat "$HOME_DIR/install.log" >&2
			svc_die "npm install s3rver@3 failed"
		fi
	fi
	rmdir "$HOME_DIR/.lock"
	[ -f "$JS" ] || svc_die "s3rver installed but $JS is missing"
}

# s3_get URL: a signed GET (curl's SigV4 does not add the payload hash
# header that s3rver insists on).
s3_get() {
	curl -sf -o /dev/null --max-time 2 --aws-sigv4 "aws:amz:us-east-1:s3" --user S3RVER:S3RVER \
		-H "x-amz-content-sha256: $EMPTY_SHA" "$1"
}

start() {
	svc_check_not_running "$DIR"
	install_s3rver
	mkdir -p "$DIR/s3"
	svc_created "$DIR" s3 stdout.log env pid
	# Port 0: the kernel picks a free port and s3rver prints it.
	node "$JS" -d "$DIR/s3" -a 127.0.0.1 -p 0 --silent --configure-bucket "$BUCKET" \
		</dev/null >"$DIR/stdout.log" 2>&1 &
	pid=$!
	echo "$pid" >"$DIR/pid"
	timeout=${S3RVER_START_TIMEOUT:-30}
	i=0
	port=""
	while [ $i -lt $((timeout * 10)) ]; do
		port=$(sed -n 's/^S3rver listening on [0-9.]*:\([0-9][0-9]*\)$/\1/p' "$DIR/stdout.log" | head -n 1)
		[ -n "$port" ] && break
		svc_alive "$pid" || break
		sleep 0.1
		i=$((i + 1))
	done
	endpoint="http://127.0.0.1:$port"
	ok=0
	if [ -n "$port" ]; then
		j=0
		while [ $j -lt 50 ]; do
			if s3_get "$endpoint/$BUCKET/"; then ok=1; break; fi
			svc_alive "$pid" || break
			sleep 0.1
			j=$((j + 1))
		done
	fi
	if [ $ok = 0 ]; then
		svc_kill_wait "$pid" 5
		rm -f "$DIR/pid"
		echo "$SVC_NAME: server did not become ready; output:" >&2
		tail -n 20 "$DIR/stdout.log" >&2
		exit 1
	fi
	{
		echo "S3_ENDPOINT=$endpoint"
		echo "S3_BUCKET=$BUCKET"
		echo "S3_ACCESS_KEY_ID=S3RVER"
		echo "S3_SECRET_ACCESS_KEY=S3RVER"
		echo "S3_REGION=us-east-1"
		echo "S3_PID=$pid"
	} >"$DIR/env"
	svc_log "ready on $endpoint (bucket $BUCKET, pid $pid)"
}

status() {
	[ -f "$DIR/env" ] && [ -f "$DIR/pid" ] || { echo "not running"; return 1; }
	svc_alive "$(cat "$DIR/pid")" || { echo "not running (stale pid)"; return 1; }
	ep=$(svc_env_get "$DIR/env" S3_ENDPOINT)
	s3_get "$ep/$BUCKET/" || { echo "not answering at $ep"; return 1; }
	cat "$DIR/env"
}

[ $# -ge 1 ] || { echo "usage: $0 start|stop|status DIR [--purge] | $0 install" >&2; exit 2; }
cmd=$1
if [ "$cmd" = install ]; then
	install_s3rver
	exit 0
fi
[ $# -ge 2 ] || { echo "usage: $0 start|stop|status DIR [--purge] | $0 install" >&2; exit 2; }
case $cmd in start) mkdir -p "$2" || svc_die "cannot create $2" ;; esac
[ -d "$2" ] || { [ "$cmd" = stop ] && exit 0; echo "not running"; exit 1; }
DIR=$(cd "$2" && pwd)

case $cmd in
start) start ;;
stop) svc_stop_common "$DIR" "${3:-}" ;;
status) status ;;
*) echo "usage: $0 start|stop|status DIR [--purge] | $0 install" >&2; exit 2 ;;
esac
