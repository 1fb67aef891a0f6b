#!/bin/sh
# labd's command line: --version, --help, -t on good and broken configs,
# usage errors, ABI refusal messages.
. "$(dirname "$0")/lib.sh"

out=$("$LABD" --version) || fail "--version exit status"
echo "$out" | grep -Eq '^labd [0-9]+\.[0-9]+\.[0-9]+ \(plugin SDK ABI 1\.2\)$' || fail "--version: $out"
pass "--version"

"$LABD" --help >"$T/help" || fail "--help exit status"
for w in -c -D -t --once --plugin --now --describe --debug --version --help; do
	grep -q -- "$w" "$T/help" || fail "--help does not mention $w"
done
pass "--help lists every option"

"$LABD" --bogus 2>"$T/err"; [ $? -eq 2 ] || fail "unknown option must exit 2"
grep -q "unknown option '--bogus'" "$T/err" || fail "unknown option message"
"$LABD" --now yesterday 2>"$T/err"; [ $? -eq 2 ] || fail "bad --now must exit 2"
"$LABD" --plugin example 2>"$T/err"; [ $? -eq 2 ] || fail "--plugin without --once must exit 2"
pass "usage errors exit 2"

stage_plugins
# The shipped example configuration, pointed at the staged plugins and a
# private data dir, passes -t.
"$LABD" -t -c "$top_srcdir/etc/labd.conf" -D plugin_dir="$T/plugins" \
	-D storage.fs.root="$T/data" 2>"$T/t.log" || { cat "$T/t.log"; fail "-t on etc/labd.conf"; }
grep -q "configuration ok" "$T/t.log" || fail "-t did not say ok"
[ ! -e "$T/data" ] || fail "-t must not touch storage"
pass "-t accepts etc/labd.conf"

# A syntax error names FILE:LINE.
printf 'log = { level = "info"; };\nadmin = { listen = "" \n' >"$T/broken.conf"
"$LABD" -t -c "$T/broken.conf" 2>"$T/err"; [ $? -eq 1 ] || fail "-t on broken config must exit 1"
grep -q "$T/broken.conf:[0-9]" "$T/err" || fail "syntax error without FILE:LINE: $(cat "$T/err")"
pass "-t reports FILE:LINE for a syntax error"

# An unknown key names FILE:LINE and the key.
printf 'log = { level = "info"; };\nplugin_dri = "/x";\n' >"$T/typo.conf"
"$LABD" -t -c "$T/typo.conf" 2>"$T/err"; [ $? -eq 1 ] || fail "typo must fail"
grep -q "$T/typo.conf:2: .*plugin_dri" "$T/err" || fail "unknown key message: $(cat "$T/err")"
pass "-t rejects unknown keys with FILE:LINE"

# An unknown plugin setting is caught once the plugin declares its settings.
write_conf 'example = { intervall = "1s"; };'
"$LABD" -t -c "$T/labd.conf" 2>"$T/err"; [ $? -eq 1 ] || fail "unknown plugin setting must fail -t"
grep -q "labd.conf:[0-9]*: .*intervall" "$T/err" || fail "plugin setting message: $(cat "$T/err")"
pass "-t validates plugin sections against their declared settings"

# A plugin with the wrong ABI major: refused, naming plugin and both versions.
write_conf 'badmajor = { };'
"$LABD" -t -c "$T/labd.conf" 2>"$T/err"; [ $? -eq 1 ] || fail "-t must fail on an ABI mismatch"
grep -q 'plugin badmajor: ABI 2\.[0-9]* is incompatible with this host.s ABI 1\.[0-9]*' "$T/err" ||
	fail "ABI message: $(cat "$T/err")"
pass "-t refuses a plugin of another ABI major"

write_conf 'initfail = { };'
"$LABD" -t -c "$T/labd.conf" 2>"$T/err"; [ $? -eq 1 ] || fail "-t must fail when init fails"
grep -q 'init failed' "$T/err" || fail "init failure message"
pass "-t runs init"

# --describe prints the declared settings.
write_conf 'example = { };'
"$LABD" --describe example -c "$T/labd.conf" >"$T/desc" || fail "--describe"
grep -q 'interval' "$T/desc" && grep -q 'duration' "$T/desc" && grep -q '10s' "$T/desc" ||
	fail "--describe output: $(cat "$T/desc")"
pass "--describe"

# ${ENV} substitution and -D reach the daemon.
write_conf 'example = { message = "${LABD_TEST_MSG}"; };'
"$LABD" -t -c "$T/labd.conf" 2>"$T/err"; [ $? -eq 1 ] || fail "unset env var must fail"
grep -q 'LABD_TEST_MSG' "$T/err" || fail "env error should name the variable"
LABD_TEST_MSG=hi "$LABD" -t -c "$T/labd.conf" 2>"$T/err" || fail "env var set: $(cat "$T/err")"
"$LABD" -t -c "$T/labd.conf" -D plugins.example.message=x 2>"$T/err" || fail "-D override: $(cat "$T/err")"
"$LABD" -t -c "$T/labd.conf" -D 'plugins.example.message=${NOPE}' 2>"$T/err" ||
	fail "-D values are literal, not expanded: $(cat "$T/err")"
pass "env substitution and -D"
