#!/bin/sh
# The main job on the embedded default: build labd and its plugins, then run
# `labd --once` with the shipped etc/labd.conf (fs storage, in-process
# broker), writing everything under ./out.
set -eu
cd "$(dirname "$0")/../.."
top=$(pwd)
jobs=$(nproc 2>/dev/null || echo 2)
[ -x configure ] || autoreconf -fi >/dev/null 2>&1
mkdir -p build
[ -f build/Makefile ] || (cd build && ../configure -q)
make -C build -s -j"$jobs" >/dev/null

# labd refuses plugins that others could write: stage them with fixed modes.
mkdir -p out/plugins
chmod 755 out out/plugins
cp build/plugins/*/.libs/*.so out/plugins/
chmod 644 out/plugins/*.so

./build/labd --once -c etc/labd.conf \
	-D plugin_dir="$top/out/plugins" -D storage.fs.root="$top/out/data"

echo "documents written under out/data (gzip-encoded; read with gzip -dc):"
(cd out/data && find . -type f ! -path './.lab-meta/*' | sed 's|^\./||' | sort)
