#!/bin/sh
# Installs the Debian packages labd needs to build, test and run the demo.
# Idempotent: only missing packages are installed.
set -eu
PKGS="build-essential autoconf automake libtool pkg-config
libuv1-dev libcurl4-openssl-dev libjson-c-dev libconfig-dev libnats-dev libyaml-dev
libgeonames-dev zlib1g-dev libmicrohttpd-dev libcmocka-dev
valgrind curl ca-certificates gzip procps binutils"
missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
SUDO=""
[ "$(id -u)" = 0 ] || SUDO=sudo
echo "installing:$missing"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
