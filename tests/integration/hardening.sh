#!/bin/sh
# Issue 15 findings 1, 7, 8 and 11 against the real daemon (docs/security.md,
# "Attacks and what labd does"):
#  1. a truncated plugin .so — installed by rename, copied in place slowly,
#     reloaded through the admin API, checked by labd -t — is refused with a
#     message; the daemon never dies of SIGBUS, the old instance keeps
#     running, /healthz answers within 1 s throughout, no private copy stays;
#  7. labd -t refuses what start-up refuses;
#  8. the plugin permission check follows symlinks and checks every
#     directory up to "/";
# 11. the example plugin survives a state counter beyond int64_t.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/hardening-lib.sh"
stage_plugins
P=$T/plugins
SO=$top_builddir/plugins/example/.libs/example.so
[ -f "$SO" ] || fail "example.so not built"
size=$(wc -c <"$SO")
head -c 8000 "$SO" >"$T/example-trunc.so"
mkdir -p "$T/tmp"
chmod 700 "$T/tmp"
TMPDIR=$T/tmp
export TMPDIR
write_conf 'example = { interval = "1s"; };'

# ---- 1. labd -t with a truncated plugin: a message, exit 1 (was: SIGBUS, 135)
cp "$T/example-trunc.so" "$P/example.so"
"$LABD" -t -c "$T/labd.conf" 2>"$T/t.log"
rc=$?
[ $rc = 1 ] || fail "labd -t with a truncated plugin: exit $rc (135 = SIGBUS)"
grep -q 'not a loadable shared object' "$T/t.log" || fail "labd -t message: $(cat "$T/t.log")"
pass "labd -t refuses a truncated plugin with a message (exit 1)"
cp "$SO" "$P/example.so"

field() { # field PLUGIN KEY -> value from /plugins (strings unquoted)
	http GET /plugins
	printf '%s\n' "$BODY" | sed 's/},{/}\n{/g' | grep "\"name\":\"$1\"" |
		sed -n "s/.*\"$2\":\"\{0,1\}\([^\",}]*\).*/\1/p"
}
copies() { find "$T/tmp" -name '*.so' | wc -l; }
failed_reloads() {
	v=$(metric 'lab_plugin_reloads_total{plugin="example",result="failed"}')
	echo "${v:-0}"
}

start_labd
watch_health
wait_for '[ "$(field example state)" = running ]' || fail "example not running: $BODY"
[ "$(copies)" = 1 ] || fail "expected one private copy, found $(copies)"

# ---- 1a. the way docs/reload.md recommends: install .new && mv
f0=$(failed_reloads)
cp "$T/example-trunc.so" "$P/example.so.new" && chmod 644 "$P/example.so.new" &&
	mv "$P/example.so.new" "$P/example.so"
wait_for '[ "$(failed_reloads)" -gt "$f0" ]' || fail "truncated file by rename: no failed reload"
grep -q 'not a loadable shared object' "$T/labd.log" || fail "reload failure not explained"
[ "$(field example state)" = running ] || fail "old instance not running: $BODY"
[ "$(field example generation)" = 1 ] || fail "generation changed: $BODY"
[ "$(copies)" = 1 ] || fail "private copy of the refused file left behind ($(copies) copies)"
check_health "truncated file installed by rename"
pass "a truncated file installed by rename is refused; the old instance keeps running"

# ---- 1b. POST /plugins/NAME/reload while the file is truncated
http POST /plugins/example/reload
[ "$CODE" != 200 ] || fail "reload of a truncated file answered 200"
echo "$BODY" | grep -q 'not a loadable shared object' || fail "reload answer: $CODE $BODY"
[ "$(field example generation)" = 1 ] || fail "generation changed: $BODY"
[ "$(copies)" = 1 ] || fail "private copy left behind after the admin reload"
check_health "admin reload of a truncated file"
pass "POST /plugins/example/reload of a truncated file: $CODE with the reason"

# ---- 1c. a slow in-place copy: the watcher sees the half-written file
(head -c 8000 "$SO"; sleep 1; tail -c +8001 "$SO") >"$P/example.so"
[ "$(wc -c <"$P/example.so")" = "$size" ] || fail "in-place copy incomplete"
# The complete file arrives last: a reload of it must succeed.
wait_for '[ "$(field example generation)" -ge 2 ]' || fail "complete file not reloaded: $BODY"
wait_for '[ "$(field example state)" = running ]' || fail "not running after the copy: $BODY"
[ "$(copies)" = 1 ] || fail "copies left behind after the slow copy: $(copies)"
check_health "slow in-place copy"
pass "a slow in-place copy never crashes labd; the finished file is loaded"
stop_health
stop_labd
[ "$STOP_RC" = 0 ] || fail "labd exit $STOP_RC"
[ "$(copies)" = 0 ] || fail "private copies left after exit"

# ---- 7. labd -t runs the checks start-up runs
t_refuses() { # t_refuses WHAT -D...: -t and start-up both refuse, naming the setting
	what=$1
	shift
	"$LABD" -t -c "$T/labd.conf" "$@" 2>"$T/t.log" && fail "labd -t accepted $what"
	grep -q "$what" "$T/t.log" || fail "labd -t does not name $what: $(cat "$T/t.log")"
	timeout 10 "$LABD" -c "$T/labd.conf" "$@" 2>"$T/s.log" && fail "labd started with $what"
	grep -q "$what" "$T/s.log" || fail "start-up does not name $what: $(cat "$T/s.log")"
}
t_refuses admin.listen -D admin.listen=localhost:9470
t_refuses admin.listen -D admin.listen=127.0.0.1:99999
t_refuses storage.fs.root -D storage.fs.root=
"$LABD" -t -c "$T/labd.conf" -D admin.listen= 2>"$T/t.log" || fail "-t refused admin.listen=\"\": $(cat "$T/t.log")"
pass "labd -t refuses admin.listen localhost:9470 and 127.0.0.1:99999 and an empty storage.fs.root, as start-up does"

# ---- 8. permissions: the resolved file and every directory up to /
mkdir -p "$T/open" "$T/mid/leaf"
chmod 777 "$T/open"
cp "$SO" "$T/open/example.so"
chmod 644 "$T/open/example.so"
rm -f "$P/example.so"
ln -s "$T/open/example.so" "$P/example.so"
"$LABD" -t -c "$T/labd.conf" 2>"$T/t.log" && fail "-t accepted a symlink to a .so in a 0777 directory"
grep -q "$T/open" "$T/t.log" || fail "-t does not name the writable directory: $(cat "$T/t.log")"
chmod 755 "$T/open"
"$LABD" -t -c "$T/labd.conf" 2>"$T/t.log" || fail "-t refused a safe symlink: $(cat "$T/t.log")"
chmod 755 "$T/mid" "$T/mid/leaf"
cp "$SO" "$T/mid/leaf/example.so"
chmod 644 "$T/mid/leaf/example.so"
chmod 777 "$T/mid"
"$LABD" -t -c "$T/labd.conf" -D "plugins.example.path=$T/mid/leaf/example.so" 2>"$T/t.log" &&
	fail "-t accepted a plugin under a world-writable grandparent"
grep -q "directory above the plugin $T/mid" "$T/t.log" || fail "-t message: $(cat "$T/t.log")"
chmod 755 "$T/mid"
rm -f "$P/example.so"
cp "$SO" "$P/example.so"
chmod 644 "$P/example.so"
pass "symlink targets in a 0777 directory and world-writable grandparents are refused"

# ---- 11. the example plugin and a state counter beyond int64_t
mkdir -p "$T/data/state/modules"
printf '{"counter":99999999999999999999999}' | gzip >"$T/data/state/modules/example.json"
"$LABD" --once --plugin example -c "$T/labd.conf" 2>"$T/labd.log" || fail "--once with a huge counter"
state=$(gzip -dc "$T/data/state/modules/example.json")
echo "$state" | grep -q '"counter": *1[,}]' || fail "counter after one pass: $state"
printf '{"counter":"12abc"}' | gzip >"$T/data/state/modules/example.json"
"$LABD" --once --plugin example -c "$T/labd.conf" 2>"$T/labd.log" || fail "--once with a string counter"
gzip -dc "$T/data/state/modules/example.json" | grep -q '"counter": *1[,}]' || fail "counter: $state"
pass "a state counter beyond int64_t or not a number restarts at 0 (no signed overflow)"
