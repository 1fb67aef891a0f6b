#!/bin/sh
# labctl (issue 20, finding 10) against a running labd with an admin token:
# tables by default and --json for scripts, `status`, the token from the
# environment or a file and never on any command line (curl's included),
# a hint on 401, git-style subcommands from $LAB_LIBEXECDIR; `labctl
# publish` (issue 21) reaches a plugin's subscription through the local
# broker, and POST /publish/SUBJECT and /plugins/NAME/reprocess refuse
# untrusted input (the beacon side of reprocess: reprocess.sh).
. "$(dirname "$0")/lib.sh"
LABCTL=$top_srcdir/tools/labctl
TOKEN=s3cret-$$-token
ADMIN_TOKEN=$TOKEN
stage_plugins
write_conf 'example = { interval = "1h"; };
initfail = { };'
# a network for the reprocess checks
cat >>"$T/labd.conf" <<CONF
ethereum = { networks = ( { name = "mainnet"; genesis_time = 1606824023;
	config_file = "$top_srcdir/etc/networks/mainnet.yaml"; } ); };
CONF
start_labd
ctl() { sh "$LABCTL" -a "127.0.0.1:$PORT" "$@"; }

# ---- tables and --json -------------------------------------------------------------
out=$(ctl list) || fail "labctl list"
echo "$out" | head -n 1 | grep -q '^PLUGIN  *STATE  *VERSION  *GEN  *LOADED  *LAST SUCCESS  *LAST ERROR$' ||
	fail "list: no table header: $out"
echo "$out" | grep -q '^example  *running  *1\.0\.0  *1 ' || fail "list: no example row: $out"
echo "$out" | grep -q '^initfail  *failed .*init failed' || fail "list: no initfail row with its error: $out"
ctl --json list | jq -e 'map(.name) | index("example") != null' >/dev/null || fail "--json list is not the API's JSON"
pass "list prints a table; --json the API's answer"

out=$(ctl status); rc=$?
[ $rc -eq 0 ] || fail "status exit $rc"
echo "$out" | head -n 1 | grep -q 'NOT READY (HTTP 503)' || fail "status: readiness line: $out"
echo "$out" | grep -q '^  - plugin initfail is failed' || fail "status: no reason: $out"
echo "$out" | grep -q '^example  *running' || fail "status: no plugin table: $out"
ctl --json status | jq -e '.ready == false and (.plugins | length) == 2 and (.readyz.reasons | length) >= 1' >/dev/null ||
	fail "--json status"
pass "status: readiness, reasons and each plugin's state"

# ---- the token -----------------------------------------------------------------------
out=$(ctl run example 2>&1) && fail "a POST without the token must fail"
echo "$out" | grep -q 'HTTP 401: this request needs the admin token: set LABCTL_TOKEN' || fail "no 401 hint: $out"
out=$(LABCTL_TOKEN=wrong ctl run example 2>&1) && fail "a wrong token must fail"
echo "$out" | grep -q 'HTTP 401: labd refused the token' || fail "no wrong-token hint: $out"
out=$(LABCTL_TOKEN=$TOKEN ctl run example) || fail "run with LABCTL_TOKEN: $out"
echo "$out" | grep -q "^example: run ok; state running" || fail "run output: $out"
LAB_ADMIN_TOKEN=$TOKEN ctl run example >/dev/null || fail "run with LAB_ADMIN_TOKEN"
printf '%s\r\n' "$TOKEN" >"$T/token"
chmod 600 "$T/token"
ctl -T "$T/token" run example >/dev/null || fail "run with -T FILE"
LABCTL_TOKEN_FILE=$T/token ctl --json reload example | jq -e '.state == "running"' >/dev/null ||
	fail "reload with LABCTL_TOKEN_FILE"
ctl -t "$TOKEN" list 2>"$T/err"; [ $? -eq 2 ] || fail "-t TOKEN must be refused"
grep -q 'process list' "$T/err" || fail "-t: no reason given"
pass "token from LABCTL_TOKEN, LAB_ADMIN_TOKEN, -T FILE, LABCTL_TOKEN_FILE; a hint on 401; -t refused"

# curl's command line: a wrapper first on PATH records it.
mkdir -p "$T/bin"
cat >"$T/bin/curl" <<WRAP
#!/bin/sh
printf '%s\n' "\$*" >>"$T/curl-argv"
exec $(command -v curl) "\$@"
WRAP
chmod 755 "$T/bin/curl"
PATH="$T/bin:$PATH" LABCTL_TOKEN=$TOKEN ctl run example >/dev/null || fail "run through the wrapper"
[ -s "$T/curl-argv" ] || fail "the curl wrapper was not used"
grep -q "$TOKEN" "$T/curl-argv" && fail "the token is on curl's command line: $(cat "$T/curl-argv")"
pass "the token is on no command line"

# ---- subcommands ---------------------------------------------------------------------
mkdir -p "$T/libexec"
printf '#!/bin/sh\necho "hello $LABCTL_ADDR $*"\n' >"$T/libexec/labctl-hello"
chmod 755 "$T/libexec/labctl-hello"
out=$(LAB_LIBEXECDIR=$T/libexec ctl hello a "b c") || fail "subcommand"
[ "$out" = "hello 127.0.0.1:$PORT a b c" ] || fail "subcommand output: $out"
LAB_LIBEXECDIR=$T/libexec ctl nosuch 2>/dev/null; [ $? -eq 2 ] || fail "an unknown command must exit 2"
pass "labctl COMMAND runs \$LAB_LIBEXECDIR/labctl-COMMAND"

# ---- publish (issue 21): into the local broker, to a plugin's subscription ------------
# The host answers example.run for the example plugin: each run logs one tick.
ticks() { grep -c 'plugin=example msg=tick count=' "$T/labd.log"; }
before=$(ticks)
out=$(LABCTL_TOKEN=$TOKEN ctl publish example.run '{}') || fail "labctl publish: $out"
[ "$out" = "published on example.run (2 bytes)" ] || fail "publish output: $out"
wait_for '[ "$(ticks)" -gt "$before" ]' || fail "publish example.run did not reach the plugin's run subscription"
before=$(ticks)
echo '{"from":"stdin"}' | LABCTL_TOKEN=$TOKEN ctl --json publish example.run - |
	jq -e '.subject == "example.run" and .bytes == 17' >/dev/null || fail "publish - (stdin) --json"
wait_for '[ "$(ticks)" -gt "$before" ]' || fail "publish from stdin did not reach the plugin"
grep -q 'msg="message published through the admin API" subject=example.run bytes=2' "$T/labd.log" ||
	fail "no log line for the publish"
out=$(ctl publish example.run '{}' 2>&1) && fail "publish without the token must fail"
echo "$out" | grep -q 'HTTP 401' || fail "publish without token: $out"
ctl publish 'a b' '{}' 2>/dev/null; [ $? -eq 2 ] || fail "labctl publish must refuse a bad subject itself"
H="Authorization: Bearer $TOKEN"
http POST /publish/a..b -H "$H" --data-binary '{}'
[ "$CODE" = 400 ] || fail "subject a..b: HTTP $CODE $BODY"
http POST /publish/example.%2A -H "$H" --data-binary '{}'
[ "$CODE" = 404 ] || fail "subject with a wildcard: HTTP $CODE $BODY"
http POST /publish/host.plugin -H "$H" --data-binary '{"plugin":"x","event":"started"}'
[ "$CODE" = 403 ] || fail "host.plugin must not be forged: HTTP $CODE $BODY"
for bad in '' '{' '{"a":1} x' "{'a':1}" '[1,]' 'nul' '[1.]' "$(printf '"a\tb"')" "$(printf '"\377"')"; do
	http POST /publish/example.run -H "$H" --data-binary "$bad"
	[ "$CODE" = 400 ] || fail "body '$bad': HTTP $CODE $BODY"
done
deep=$(awk 'BEGIN { for (i = 0; i < 100; i++) printf "["; for (i = 0; i < 100; i++) printf "]" }')
http POST /publish/example.run -H "$H" --data-binary "$deep"
[ "$CODE" = 400 ] || fail "100 nested arrays: HTTP $CODE"
big=$(awk 'BEGIN { printf "\""; for (i = 0; i < 5000; i++) printf "x"; printf "\"" }')
http POST /publish/example.run -H "$H" --data-binary "$big"
[ "$CODE" = 413 ] || fail "5 KB body: HTTP $CODE"
http POST /publish/example.run -H "$H" --data-binary 'null'
[ "$CODE" = 202 ] || fail "body null: HTTP $CODE $BODY"
http GET /publish/example.run
[ "$CODE" = 405 ] || fail "GET /publish: HTTP $CODE"
pass "labctl publish reaches a plugin's subscription (local broker); bad subjects, host.*, bad or deep JSON, 5 KB and no token refused"

# ---- reprocess: the admin API's checks (the beacon side: reprocess.sh) ----------------
http POST /plugins/nosuch/reprocess -H "$H" --data-binary '{"network":"mainnet","from":1,"to":2}'
[ "$CODE" = 404 ] || fail "reprocess of an unknown plugin: HTTP $CODE"
for bad in '' '[]' '{"from":1,"to":2}' '{"network":"mainnet","from":2,"to":1}' \
	'{"network":"mainnet","from":-1,"to":2}' '{"network":"mainnet","from":1}' \
	'{"network":"mainnet","slot":1,"from":1,"to":1}' '{"network":"mainnet","from":"1","to":2}' \
	'{"network":"nonet","slot":1}'; do
	http POST /plugins/example/reprocess -H "$H" --data-binary "$bad"
	[ "$CODE" = 400 ] || fail "reprocess body '$bad': HTTP $CODE $BODY"
done
http POST /plugins/example/reprocess -H "$H" --data-binary '{"network":"mainnet","from":0,"to":50400}'
[ "$CODE" = 413 ] || fail "50401 slots (admin.reprocess_max_slots 50400): HTTP $CODE $BODY"
echo "$BODY" | grep -q 'admin.reprocess_max_slots' || fail "413 does not name the setting: $BODY"
http POST /plugins/example/reprocess -H "$H" --data-binary '{"network":"mainnet","slot":7}'
[ "$CODE" = 409 ] || fail "reprocess of a plugin that does not subscribe: HTTP $CODE $BODY"
out=$(LABCTL_TOKEN=$TOKEN ctl reprocess example mainnet 1 2 2>&1) && fail "labctl reprocess example must fail"
echo "$out" | grep -q 'HTTP 409: plugin does not subscribe' || fail "labctl reprocess error: $out"
ctl reprocess beacon mainnet x 2>/dev/null; [ $? -eq 2 ] || fail "labctl reprocess must refuse a non-number"
pass "reprocess: unknown plugin 404, malformed ranges 400, over admin.reprocess_max_slots 413, a plugin that cannot reprocess 409"
stop_labd

# ---- bash completion -----------------------------------------------------------------
if command -v bash >/dev/null 2>&1; then
	comp() { # comp FILE WORDS...: the completions of the last word
		f=$1
		shift
		bash -c '. "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); compopt() { :; }
			_${COMP_WORDS[0]}; printf "%s\n" "${COMPREPLY[@]}"' comp "$f" "$@"
	}
	c=$top_srcdir/tools/bash-completion
	comp "$c/labd" labd --pl | grep -qx -- --plugin || fail "labd --pl does not complete"
	comp "$c/labd" labd -D "plugin_dir=$T/plugins" --plugin "" | grep -qx example ||
		fail "labd --plugin does not complete plugin names"
	comp "$c/labd" labd -D clickhouse.u | grep -qx 'clickhouse.url=' || fail "labd -D does not complete keys"
	comp "$c/labctl" labctl st | grep -qx status || fail "labctl st does not complete"
	comp "$c/labctl" labctl rep | grep -qx reprocess || fail "labctl rep does not complete"
	comp "$c/labctl" labctl pu | grep -qx publish || fail "labctl pu does not complete"
	comp "$c/labctl" labctl reprocess b | grep -qx beacon || fail "labctl reprocess b does not complete"
	comp "$c/labctl" labctl publish beacon. | grep -qx beacon.reprocess || fail "labctl publish does not complete subjects"
	comp "$c/labd" labd --con | grep -qx -- --connect || fail "labd --con does not complete"
	LAB_LIBEXECDIR=$T/libexec comp "$c/labctl" labctl hel | grep -qx hello ||
		fail "labctl does not complete labctl-NAME programs"
	pass "bash completion of labd (options, plugins, -D keys) and labctl (commands, subcommands)"
fi
