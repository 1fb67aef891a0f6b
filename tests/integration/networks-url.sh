#!/bin/sh
# ethereum.networks config_url: fetched over HTTP at start, cached in
# storage (state/networks/NAME.yaml); when the URL fails (server down, 404,
# a body that is not a config), the cached copy is used with a warning;
# with neither, start-up fails naming the network. The server is
# tests/http-file-server (a static file server, real HTTP over TCP).
. "$(dirname "$0")/lib.sh"
SRV="$top_builddir/tests/http-file-server"
J="$top_builddir/tests/json-get"
[ -x "$SRV" ] || fail "$SRV not built"
stage_plugins
mkdir -p "$T/www"
cp "$top_srcdir/etc/networks/sepolia.yaml" "$T/www/sepolia.yaml"
"$SRV" "$T/www" "$T/port" &
SRV_PID=$!
wait_for '[ -s "$T/port" ]' || fail "file server did not start"
URL="http://127.0.0.1:$(cat "$T/port")"
stop_srv() { kill -TERM "$SRV_PID" 2>/dev/null; wait "$SRV_PID" 2>/dev/null; SRV_PID=""; }
trap 'stop_srv; cleanup' EXIT

conf() { # conf URL
	write_conf 'example = { interval = "1h"; };'
	cat >>"$T/labd.conf" <<CONF
ethereum = { networks = ( { name = "sepolia"; genesis_time = 1655733600; config_url = "$1"; } ); };
CONF
}
deneb() { gzip -dc "$T/data/config.json" | "$J" - /ethereum/networks/sepolia/forks/consensus/deneb/epoch; }

# 1. No cache and the URL fails: a start-up error naming the network.
conf "$URL/missing.yaml"
"$LABD" --once -c "$T/labd.conf" 2>"$T/labd.log" && fail "must fail without config and cache"
grep -q "network 'sepolia': cannot use config_url $URL/missing.yaml: HTTP status 404; and there is no cached copy" "$T/labd.log" ||
	fail "error message: $(cat "$T/labd.log")"
pass "config_url failing with no cached copy stops start-up, naming the network"

# 2. Fetched: used (fork epochs reach config.json) and cached.
conf "$URL/sepolia.yaml"
"$LABD" --once -c "$T/labd.conf" 2>"$T/labd.log" || fail "--once with config_url"
grep -q 'msg="network config fetched" network=sepolia' "$T/labd.log" || fail "no fetch log"
[ "$(deneb)" = 132608 ] || fail "sepolia deneb epoch from the URL: $(deneb)"
cached=$(gzip -dc "$T/data/state/networks/sepolia.yaml") || fail "not cached"
[ "$cached" = "$(cat "$T/www/sepolia.yaml")" ] || fail "cached copy differs from the served file"
grep -q '^GET /sepolia.yaml 200$' "$T/requests.log" || fail "server log: $(cat "$T/requests.log")"
pass "config_url is fetched, used and cached in storage"

# 3. The server answers garbage: the cached copy is used, with a warning.
printf '<html>not yaml: [\n' >"$T/www/sepolia.yaml"
rm -f "$T/data/config.json"
"$LABD" --once -c "$T/labd.conf" 2>"$T/labd.log" || fail "--once with a bad body and a cache"
grep -q 'msg="cannot fetch the network config; using the cached copy" network=sepolia' "$T/labd.log" ||
	fail "no cache warning: $(cat "$T/labd.log")"
[ "$(deneb)" = 132608 ] || fail "deneb epoch from the cache: $(deneb)"
pass "a bad body falls back to the cached copy"

# 4. The server is down: the cached copy again (a restart without network).
stop_srv
rm -f "$T/data/config.json"
"$LABD" --once -c "$T/labd.conf" 2>"$T/labd.log" || fail "--once with the server down and a cache"
grep -q 'using the cached copy' "$T/labd.log" || fail "no cache warning"
[ "$(deneb)" = 132608 ] || fail "deneb epoch from the cache: $(deneb)"
# The cache itself is untrusted: a corrupt copy is a clear error.
printf 'SLOTS_PER_EPOCH: [\n' | gzip >"$T/data/state/networks/sepolia.yaml"
"$LABD" --once -c "$T/labd.conf" 2>"$T/labd.log" && fail "a bad cache must fail"
grep -q "the cached copy is bad too: state/networks/sepolia.yaml:" "$T/labd.log" || fail "bad cache message: $(cat "$T/labd.log")"
pass "server down: the cached copy is used; a corrupt cache is a clear error"
