#!/bin/sh
# Security promises of the admin endpoint and of secret handling (issue 10,
# docs/security.md): 127.0.0.1 by default; mutating calls need the token and
# no Origin; request size and header limits; no secret (admin token, S3
# secret key, ClickHouse password) in logs at debug level, /plugins,
# /metrics, /readyz, --describe, -t or config.json; a group/world-writable
# plugin directory is refused.
. "$(dirname "$0")/lib.sh"
command -v curl >/dev/null || { echo "SKIP: no curl"; exit 77; }
stage_plugins

TOKEN=tok-9d1e77c0aa41
S3SECRET=s3sec-4b6f0c1e2d
CHPASS=chpw-71a3e5d9b8
export LABD_TEST_CH_PASSWORD="$CHPASS"
ADMIN_TOKEN=$TOKEN
write_conf 'example = { interval = "1s"; message = "hi"; };'
# The secrets: one literal, one through \${ENV}.  The backend stays fs, so
# the S3 keys are only configured, never used.
sed -i "s|^storage = .*|storage = { backend = \"fs\"; fs = { root = \"$T/data\"; }; s3 = { endpoint = \"http://127.0.0.1:1\"; access_key_id = \"AKIDTEST\"; secret_access_key = \"$S3SECRET\"; }; };|" "$T/labd.conf"
cat >>"$T/labd.conf" <<'CONF'
clickhouse = { url = "http://127.0.0.1:1"; password = "${LABD_TEST_CH_PASSWORD}"; };
CONF
grep -q "$S3SECRET" "$T/labd.conf" || fail "test setup: S3 secret not in the config"

# ---- the default listen address: 127.0.0.1
write_default_conf() {
	grep -v '^admin = ' "$T/labd.conf" >"$T/default.conf"
}
write_default_conf
"$LABD" -c "$T/default.conf" 2>"$T/default.log" &
dpid=$!
i=0
while [ $i -lt 100 ]; do
	grep -q -e 'admin API listening' -e 'cannot listen' "$T/default.log" && break
	kill -0 "$dpid" 2>/dev/null || break
	sleep 0.05
	i=$((i + 1))
done
kill -TERM "$dpid" 2>/dev/null
wait "$dpid" 2>/dev/null
if grep -q 'admin API listening' "$T/default.log"; then
	grep 'admin API listening' "$T/default.log" | grep -q 'listen=127.0.0.1:9470' ||
		fail "default admin listen is not 127.0.0.1:9470: $(grep 'admin API listening' "$T/default.log")"
else
	# Port 9470 taken by someone else: the refusal still names the default.
	grep -q 'cannot listen on 127.0.0.1:9470' "$T/default.log" ||
		fail "labd without admin.listen neither listened nor named 127.0.0.1:9470: $(tail -n 5 "$T/default.log")"
fi
pass "admin endpoint binds 127.0.0.1:9470 by default"

# ---- the token and Origin on mutating endpoints (GETs stay open)
start_labd --debug
http GET /healthz
[ "$CODE" = 200 ] || fail "/healthz: $CODE"
for auth in "" "Bearer" "Bearer " "Bearer ${TOKEN%?}" "Bearer ${TOKEN}x" "Basic $TOKEN" "$TOKEN" \
	"Bearer $(printf '%s' "$TOKEN" | tr a-z A-Z)"; do
	if [ -n "$auth" ]; then
		http POST /plugins/example/disable -H "Authorization: $auth"
	else
		http POST /plugins/example/disable
	fi
	[ "$CODE" = 401 ] || fail "disable with Authorization '$auth' must be 401, got $CODE"
done
http POST /plugins/example/disable -H "Authorization: Bearer $TOKEN" -H "Origin: http://evil.example"
[ "$CODE" = 403 ] || fail "a POST with Origin must be 403 even with the token: $CODE"
http GET /plugins/example/disable -H "Authorization: Bearer $TOKEN"
[ "$CODE" = 405 ] || fail "GET on a mutating endpoint must be 405: $CODE"
http GET /plugins
echo "$BODY" | grep -q '"name":"example"[^}]*"state":"running"' || fail "a refused call changed the plugin: $BODY"
http POST /plugins/example/disable -H "authorization: bearer $TOKEN"
[ "$CODE" = 200 ] || fail "the right token (scheme and header name in any case) must be accepted: $CODE $BODY"
pass "mutating endpoints: 401 without/with a wrong token, 403 with Origin, 405 for GET"

# ---- request size and header limits; the daemon survives them
head -c 5000 /dev/zero | tr '\0' a >"$T/big-body"
http POST /plugins/example/enable -H "Authorization: Bearer $TOKEN" --data-binary @"$T/big-body"
[ "$CODE" = 413 ] || fail "a 5000-byte body must be 413: $CODE"
big=$(head -c 40000 /dev/zero | tr '\0' b)
http GET /healthz -H "X-Big: $big"
case $CODE in 431|413|400|000) ;; *) fail "a 40 kB header must be refused, got $CODE" ;; esac
http GET "/$(head -c 40000 /dev/zero | tr '\0' c)"
case $CODE in 414|431|413|400|404|000) ;; *) fail "a 40 kB URL must be refused, got $CODE" ;; esac
hdrs=""
n=0
while [ $n -lt 3000 ]; do hdrs="$hdrs -H X-H$n:$n"; n=$((n + 1)); done
# shellcheck disable=SC2086
http GET /healthz $hdrs
case $CODE in 431|413|400|000) ;; *) fail "3000 headers (~40 kB) must be refused, got $CODE" ;; esac
http GET /healthz
[ "$CODE" = 200 ] && kill -0 "$LABD_PID" || fail "labd did not survive oversized requests"
pass "413 for a large body; 40 kB header, 40 kB URL and 3000 headers refused; still serving"

# ---- no secret in what labd shows
http GET /plugins
printf '%s\n' "$BODY" >"$T/out-plugins"
http GET /metrics
printf '%s\n' "$BODY" >"$T/out-metrics"
http GET /readyz
printf '%s\n' "$BODY" >"$T/out-readyz"
stop_labd
"$LABD" --describe example -c "$T/labd.conf" >"$T/out-describe" 2>&1 || fail "--describe failed: $(cat "$T/out-describe")"
"$LABD" -t -c "$T/labd.conf" --debug >"$T/out-t" 2>&1 || fail "-t failed: $(cat "$T/out-t")"
"$LABD" --once -c "$T/labd.conf" --debug >"$T/out-once" 2>&1
checked="labd.log out-plugins out-metrics out-readyz out-describe out-t out-once"
if [ -f "$T/data/config.json" ]; then
	gzip -dc "$T/data/config.json" >"$T/out-config.json" 2>/dev/null || cp "$T/data/config.json" "$T/out-config.json"
	checked="$checked out-config.json"
fi
for f in $checked; do
	[ -s "$T/$f" ] || [ "$f" = out-once ] || fail "$f is empty: nothing was checked"
	for s in "$TOKEN" "$S3SECRET" "$CHPASS"; do
		grep -q -- "$s" "$T/$f" && fail "secret ${s%%-*}... found in $f: $(grep -- "$s" "$T/$f" | head -n 2)"
	done
done
grep -q 'level=debug' "$T/labd.log" || fail "--debug produced no debug lines: nothing was checked at debug level"
pass "no secret in the debug log, /plugins, /metrics, /readyz, --describe, -t, --once$( [ -f "$T/out-config.json" ] && echo ', config.json')"

# ---- plugin directory and files: group/world-writable refused
# (unit tests: tests/unit/test_loader.c test_writable_file, test_writable_dir)
chmod 777 "$T/plugins"
"$LABD" -t -c "$T/labd.conf" >"$T/out-perm" 2>&1 && fail "-t accepted a world-writable plugin directory"
grep -q 'writable by group or others' "$T/out-perm" || fail "no reason given: $(cat "$T/out-perm")"
chmod 755 "$T/plugins"
chmod 664 "$T/plugins/example.so"
"$LABD" -t -c "$T/labd.conf" >"$T/out-perm" 2>&1 && fail "-t accepted a group-writable plugin"
grep -q 'writable by group or others' "$T/out-perm" || fail "no reason given: $(cat "$T/out-perm")"
chmod 644 "$T/plugins/example.so"
"$LABD" -t -c "$T/labd.conf" >"$T/out-perm" 2>&1 || fail "-t refused a 0644 plugin in a 0755 dir: $(cat "$T/out-perm")"
pass "group/world-writable plugin directory or file refused by -t"

# ---- etc/labd.service hardening (docs/security.md)
unit="$top_srcdir/etc/labd.service"
for k in NoNewPrivileges=yes ProtectSystem=strict User=labd PrivateTmp=yes ProtectHome=yes \
	SystemCallFilter=@system-service MemoryDenyWriteExecute=yes Restart=on-failure \
	ReadWritePaths=/var/lib/lab "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX"; do
	grep -qx "$k" "$unit" || fail "etc/labd.service lacks $k"
done
if command -v systemd-analyze >/dev/null 2>&1 &&
	systemd-analyze security --offline=true "$unit" >"$T/sa" 2>&1; then
	# --threshold is on a 0-100 scale: 15 = exposure 1.5 (the unit rates 1.1).
	systemd-analyze security --offline=true --threshold=15 "$unit" >/dev/null 2>&1 ||
		fail "systemd-analyze: $(grep Overall "$T/sa")"
	pass "etc/labd.service hardened: $(sed -n 's/.*Overall exposure level for labd.service: *\([0-9.]* [A-Z]*\).*/\1/p' "$T/sa")"
else
	pass "etc/labd.service hardening keys present (systemd-analyze --offline unavailable: score not checked)"
fi
