#!/bin/sh
# Installs the Debian packages labd needs to build, test and run the demo.
# Idempotent: only missing packages are installed.
#   install-deps.sh          everything: build, demo and every test
#   install-deps.sh --demo   only what the demo needs (build, ClickHouse):
#                            no NATS, s3rver, chdb (~540 MB), packaging or
#                            analysis tools
set -eu
demo=0
case ${1:-} in
--demo) demo=1 ;;
'') ;;
*) echo "usage: $0 [--demo]" >&2; exit 2 ;;
esac
PKGS="build-essential autoconf automake libtool pkg-config
libuv1-dev libcurl4-openssl-dev libssl-dev libjson-c-dev libconfig-dev libnats-dev libyaml-dev
libgeonames-dev zlib1g-dev libdeflate-dev libisal-dev libmicrohttpd-dev libwslay-dev libexpat1-dev
curl ca-certificates gzip procps iproute2
clickhouse-server clickhouse-client"
# The tests: cmocka, memcheck, clang (libFuzzer), servers, the ABI check,
# jq (labctl's tables), awscli (storage-sync.sh), promtool (alert rules), the Debian package build,
# python3-websockets (the api plugin's WebSocket client, tests/integration/api.sh,
# and tests/bench/fanout.py, freshness.py); nginx-light, wrk: the api's
# benchmark against nginx (tests/bench/api-nginx.sh).
# cmake, meson: the plugin template's build snippets (tests/abi/out-of-tree.sh).
[ $demo = 1 ] || PKGS="$PKGS libcmocka-dev valgrind clang binutils jq awscli nats-server nodejs abigail-tools
prometheus debhelper lintian fakeroot cmake meson ninja-build python3-websockets wrk nginx-light"
missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
# npm comes with Node.js on some machines; install Debian's only when absent.
[ $demo = 1 ] || command -v npm >/dev/null 2>&1 || missing="$missing npm"
SUDO=""
[ "$(id -u)" = 0 ] || SUDO=sudo
if [ -n "$missing" ]; then
	echo "installing:$missing"
	$SUDO apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi
[ $demo = 0 ] || exit 0
# s3rver (S3 imitation for the integration tests) comes from the npm registry.
sh "$(dirname "$0")/s3rver.sh" install
# chdb (modern ClickHouse in-process, for tests/integration/modern-clickhouse.sh) too.
sh "$(dirname "$0")/chdb.sh" install
