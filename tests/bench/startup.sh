#!/bin/sh
# Start to ready: process start to the first 200 from /readyz, with local
# ClickHouse 18.16 and fs storage, every plugin built in this tree enabled
# (target <= 50 ms, SPEC §10).  20 runs; p50 and max.
[ "${1:-}" = --inner ] || exec "$top_srcdir/tests/services/with-services.sh" clickhouse -- sh "$0" --inner
. "$top_srcdir/tests/integration/lib.sh"
. "$top_srcdir/tests/bench/lib.sh"
stage_plugins
rm -f "$T"/plugins/bad* "$T"/plugins/nosymbol.so "$T"/plugins/initfail.so "$T"/plugins/startfail.so \
	"$T"/plugins/wrongname.so "$T"/plugins/newminor.so "$T"/plugins/lifecycle.so "$T"/plugins/querier.so
port=$(free_port)
sections=""
for so in "$T"/plugins/*.so; do
	n=$(basename "$so" .so)
	sections="$sections
$n = { };"
done
write_conf "$sections"
sed -i "s/127.0.0.1:0/127.0.0.1:$port/" "$T/labd.conf"
printf 'clickhouse = { url = "%s"; };\n' "$CLICKHOUSE_URL" >>"$T/labd.conf"
"$LABD" -t -c "$T/labd.conf" || { echo "config does not validate" >&2; exit 1; }
"$top_builddir/tests/bench/ready-time" 20 "$port" -- "$LABD" -c "$T/labd.conf" >"$T/fig" 2>"$T/runs" ||
	{ cat "$T/runs" >&2; exit 1; }
cat "$T/fig"
p50=$(awk '/_p50/ { print $2 }' "$T/fig")
max=$(awk '/_max/ { print $2 }' "$T/fig")
figure startup_plugins "$(ls "$T"/plugins/*.so | wc -l)" plugins
if awk -v m="$max" 'BEGIN { exit !(m <= 50) }'; then
	verdict startup OK "start to ready p50 $p50 ms, max $max ms (target <= 50 ms)"
else
	verdict startup MISSED "start to ready max $max ms > 50 ms (p50 $p50 ms)"
fi
done_bench startup
