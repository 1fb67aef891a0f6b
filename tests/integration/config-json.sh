#!/bin/sh
# The host's config.json (SPEC §9.4): written through storage (fs) after the
# plugins' init, with the frontend's headers; module entries from the
# plugins' describe callbacks, networks from ethereum.networks.
. "$(dirname "$0")/lib.sh"
J="$top_builddir/tests/json-get"
[ -x "$J" ] || fail "$J not built"
stage_plugins
write_conf 'example = { interval = "7s"; };
lifecycle = { enabled = false; };'
cat >>"$T/labd.conf" <<CONF
ethereum = { networks = (
	{ name = "mainnet"; genesis_time = 1606824023;
	  config_file = "$top_srcdir/etc/networks/mainnet.yaml";
	  min_client_versions = { electra = { lighthouse = "7.0.0"; teku = "25.4.1"; };
				  notscheduled = { prysm = "9.9.9"; }; }; },
	{ name = "devnet"; genesis_time = 1700000000; }
); };
CONF

"$LABD" --once -c "$T/labd.conf" 2>"$T/labd.log" || fail "--once failed"
[ -f "$T/data/config.json" ] || fail "config.json not written"
gzip -dc "$T/data/config.json" >"$T/c.json" || fail "config.json is not gzip"
meta=$(meta_file "$T/data" config.json)
[ "$("$J" "$meta" /Content-Type)" = application/json ] || fail "Content-Type: $(cat "$meta")"
[ "$("$J" "$meta" /Cache-Control)" = "no-store, no-cache, must-revalidate" ] ||
	fail "Cache-Control: $(cat "$meta")"

# Top level: exactly modules and ethereum.
[ "$("$J" -k "$T/c.json" "" | tr '\n' ' ')" = "modules ethereum " ] ||
	fail "top-level keys: $(cat "$T/c.json")"
# The example plugin's describe entry, keyed by the plugin name (no path_prefix).
[ "$("$J" "$T/c.json" /modules/example)" = '{"enabled":true,"description":"Tutorial plugin","interval_s":7}' ] ||
	fail "example entry: $("$J" "$T/c.json" /modules/example)"
[ "$("$J" -k "$T/c.json" /modules | tr '\n' ' ')" = "example " ] || fail "modules: only enabled, initialised plugins"
pass "config.json: headers, modules from describe"

N=/ethereum/networks/mainnet
[ "$("$J" "$T/c.json" $N/genesis_time)" = 1606824023 ] || fail "genesis_time"
[ "$("$J" -t "$T/c.json" $N/genesis_time)" = int ] || fail "genesis_time type"
[ "$("$J" "$T/c.json" $N/forks/consensus/deneb/epoch)" = 269568 ] || fail "deneb epoch"
[ "$("$J" "$T/c.json" $N/forks/consensus/phase0/epoch)" = 0 ] || fail "phase0 epoch"
[ "$("$J" "$T/c.json" $N/forks/consensus/electra/min_client_versions)" = '{"lighthouse":"7.0.0","teku":"25.4.1"}' ] ||
	fail "min_client_versions: $("$J" "$T/c.json" $N/forks/consensus/electra/min_client_versions)"
[ "$("$J" "$T/c.json" $N/forks/consensus/deneb/min_client_versions)" = '{}' ] || fail "min_client_versions of deneb"
# Forks in activation order; a fork not scheduled (GLOAS, 2^64-1) is absent.
[ "$("$J" -k "$T/c.json" $N/forks/consensus | tr '\n' ' ')" = "phase0 altair bellatrix capella deneb electra fulu " ] ||
	fail "fork list: $("$J" -k "$T/c.json" $N/forks/consensus | tr '\n' ' ')"
[ "$("$J" "$T/c.json" /ethereum/networks/devnet)" = '{"genesis_time":1700000000,"forks":{"consensus":{}}}' ] ||
	fail "devnet: $("$J" "$T/c.json" /ethereum/networks/devnet)"
pass "config.json: networks with genesis_time and fork epochs"

# Service mode writes it too, once the plugins are initialised.
rm -f "$T/data/config.json" "$T/labd.log" # start_labd must not read the last run's port
start_labd
wait_for '[ -f "$T/data/config.json" ]' || fail "service mode: config.json not written"
stop_labd
gzip -dc "$T/data/config.json" | "$J" - /modules/example/interval_s | grep -qx 7 || fail "service mode content"
pass "config.json written in service mode"

# storage.prefix: every key (config.json, state, documents) under it.
rm -rf "$T/data"
"$LABD" --once -c "$T/labd.conf" -D 'storage.prefix="shadow/labd/"' 2>"$T/labd.log" || fail "--once with storage.prefix"
[ -f "$T/data/shadow/labd/config.json" ] || fail "storage.prefix: config.json not under the prefix: $(cd "$T/data" && find . -type f)"
[ ! -e "$T/data/config.json" ] || fail "storage.prefix: config.json written at the root too"
for bad in '"/abs"' '"a/../b"' '"a//b"' '".lab-meta"'; do
	if "$LABD" -t -c "$T/labd.conf" -D "storage.prefix=$bad" 2>"$T/t.err"; then fail "storage.prefix=$bad accepted"; fi
	grep -q "storage.prefix" "$T/t.err" || fail "storage.prefix=$bad: error does not name the setting: $(cat "$T/t.err")"
done
# min_client_versions: values must be strings
if "$LABD" -t -c "$T/labd.conf" -D 'ethereum.networks.[0].min_client_versions.electra.nimbus=25' 2>"$T/t.err"; then
	fail "a numeric client version accepted"
fi
grep -q "min_client_versions.electra.nimbus" "$T/t.err" || fail "min_client_versions error: $(cat "$T/t.err")"
pass "storage.prefix places every key under it; bad prefixes and versions refused"
