#!/bin/sh
# with-services.sh SERVICES -- COMMAND [ARG...]
#
# Starts the named services (comma list of clickhouse, nats, s3) in a fresh
# temp directory, exports their env files (CLICKHOUSE_URL, NATS_URL,
# S3_ENDPOINT, ...; see each script) plus LABD_SERVICES_DIR, runs COMMAND,
# then stops every service and removes the directory, also when COMMAND
# fails or the script is interrupted. Exits with COMMAND's status (1 when a
# service cannot start). KEEP_SERVICES_DIR=1 keeps the directory (logs).
set -u
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck disable=SC2034 # SVC_NAME is read by lib.sh
SVC_NAME=with-services
. "$here/lib.sh"

[ $# -ge 3 ] && [ "$2" = -- ] || { echo "usage: $0 clickhouse,nats,s3 -- COMMAND [ARG...]" >&2; exit 2; }
services=$(echo "$1" | tr ',' ' ')
shift 2

root=$(mktemp -d /tmp/labd-services-XXXXXX) || exit 1
started=""
child=""

cleanup() {
	trap '' INT TERM
	if [ -n "$child" ] && svc_alive "$child"; then
		kill -TERM "$child" 2>/dev/null
		wait "$child" 2>/dev/null
	fi
	# Stop in reverse start order.
	rev=""
	for s in $started; do rev="$s $rev"; done
	for s in $rev; do
		SVC_QUIET=1 "$here/$(script_for "$s")" stop "$root/$s" >/dev/null 2>&1 ||
			echo "with-services: stopping $s failed" >&2
	done
	if [ "${KEEP_SERVICES_DIR:-0}" = 1 ]; then
		echo "with-services: kept $root" >&2
	else
		rm -rf "$root"
	fi
}

script_for() {
	case $1 in
	clickhouse) echo clickhouse.sh ;;
	nats) echo nats.sh ;;
	s3 | s3rver) echo s3rver.sh ;;
	*) return 1 ;;
	esac
}

trap 'cleanup' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

for s in $services; do
	script_for "$s" >/dev/null || { echo "with-services: unknown service '$s' (clickhouse, nats, s3)" >&2; exit 2; }
done
for s in $services; do
	script=$(script_for "$s")
	# Recorded before starting: a signal during the start must stop it too.
	started="$started $s"
	if ! SVC_QUIET=${SVC_QUIET:-1} "$here/$script" start "$root/$s"; then
		echo "with-services: $s did not start" >&2
		exit 1
	fi
	set -a
	# shellcheck disable=SC1090
	. "$root/$s/env"
	set +a
done
LABD_SERVICES_DIR=$root
export LABD_SERVICES_DIR

# The command runs in the background so that a signal to this script is
# handled at once (a foreground child would delay the trap until it exits).
# An explicit redirection keeps its stdin, and env --default-signal undoes
# the SIGINT/SIGQUIT ignoring that sh imposes on background commands (a
# test sending SIGINT to labd must see labd's real behaviour).
if env --default-signal=INT true 2>/dev/null; then
	env --default-signal=INT,QUIT "$@" 0<&0 &
else
	"$@" 0<&0 &
fi
child=$!
wait "$child"
rc=$?
child=""
exit $rc
