#!/bin/sh
# labctl (issue 20, finding 10) against a running labd with an admin token:
# tables by default and --json for scripts, `status`, the token from the
# environment or a file and never on any command line (curl's included),
# a hint on 401, git-style subcommands from $LAB_LIBEXECDIR.
. "$(dirname "$0")/lib.sh"
LABCTL=$top_srcdir/tools/labctl
TOKEN=s3cret-$$-token
ADMIN_TOKEN=$TOKEN
stage_plugins
write_conf 'example = { interval = "1h"; };
initfail = { };'
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
	LAB_LIBEXECDIR=$T/libexec comp "$c/labctl" labctl hel | grep -qx hello ||
		fail "labctl does not complete labctl-NAME programs"
	pass "bash completion of labd (options, plugins, -D keys) and labctl (commands, subcommands)"
fi
