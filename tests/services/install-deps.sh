#!/bin/sh
# Installs the Debian packages labd needs to build, test and run the demo.
# Idempotent: only missing packages are installed.
set -eu
PKGS="build-essential autoconf automake libtool pkg-config
libuv1-dev libcurl4-openssl-dev libjson-c-dev libconfig-dev libnats-dev libyaml-dev libexpat1-dev
libgeonames-dev zlib1g-dev libmicrohttpd-dev libcmocka-dev
valgrind clang curl ca-certificates gzip procps binutils iproute2
clickhouse-server clickhouse-client nats-server nodejs abigail-tools"
missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
# npm comes with Node.js on some machines; install Debian's only when absent.
command -v npm >/dev/null 2>&1 || missing="$missing npm"
SUDO=""
[ "$(id -u)" = 0 ] || SUDO=sudo
if [ -n "$missing" ]; then
	echo "installing:$missing"
	$SUDO apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi
# s3rver (S3 imitation for the integration tests) comes from the npm registry.
sh "$(dirname "$0")/s3rver.sh" install
# chdb (modern ClickHouse in-process, for tests/integration/modern-clickhouse.sh) too.
sh "$(dirname "$0")/chdb.sh" install
