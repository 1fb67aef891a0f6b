#!/bin/sh
# labd -t --connect (issue 20, finding 7) against real servers
# (clickhouse-server 18.16, nats-server, s3rver behind the SigV4 checker):
# ClickHouse SELECT 1 with the credentials, storage put/get/delete of a
# probe under .labd-check/ (fs and S3), NATS connection; each reported on
# one line, exit 1 on any failure, every check bounded in time; plain -t
# still reaches nothing.
[ "${1:-}" = --inner ] || exec "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/services/with-services.sh" clickhouse,nats,s3 -- "$0" --inner
. "$top_srcdir/tests/integration/lib.sh"
SIG_PID=""
trap 'rc=$?; [ -z "$SIG_PID" ] || kill "$SIG_PID" 2>/dev/null; [ $rc = 0 ] || KEEP_TMP=1; cleanup' EXIT

stage_plugins
conf() { # conf STORAGE-LINE BROKER-LINE CLICKHOUSE-EXTRA
	cat >"$T/labd.conf" <<CONF
log = { level = "warn"; format = "logfmt"; };
admin = { listen = ""; };
plugin_dir = "$T/plugins";
$1
$2
clickhouse = { url = "$CLICKHOUSE_URL"; database = "default"; $3 };
plugins = { example = { interval = "1h"; }; };
CONF
}
FS='storage = { backend = "fs"; fs = { root = "'$T/data'"; }; };'
NATS="broker = { backend = \"nats\"; nats = { url = \"$NATS_URL\"; }; };"
LOCAL='broker = { backend = "local"; };'
check() { # check EXPECTED-EXIT ARGS...: runs labd -t --connect, output in $T/out
	want=$1
	shift
	t0=$(date +%s%N)
	timeout 60 "$LABD" -t --connect -c "$T/labd.conf" "$@" >"$T/out" 2>&1
	rc=$?
	ms=$((($(date +%s%N) - t0) / 1000000))
	[ $rc -eq "$want" ] || { cat "$T/out" >&2; fail "labd -t --connect exited $rc, $want expected"; }
}
has() { grep -q "$1" "$T/out" || { cat "$T/out" >&2; fail "no line '$1'"; }; }

# ---- everything reachable ----------------------------------------------------------
conf "$FS" "$NATS" ""
check 0
has '^labd: check clickhouse: ok: SELECT 1 answered (user "default", database "default")'
has "^labd: check storage: ok: fs root \"$T/data\": put, get and delete of .labd-check/"
has '^labd: check broker: ok: nats: connected'
has '^labd: connectivity ok$'
[ -e "$T/data/.labd-check" ] && fail "the probe (or its directory) was left behind"
grep -q "$NATS_URL" "$T/out" && fail "the NATS URL (it may hold credentials) is printed"
pass "all reachable: ClickHouse, fs storage, NATS each ok on one line, exit 0 ($ms ms)"

# ---- S3 with the right and a wrong secret (the proxy checks every signature) --------
node "$top_srcdir/tests/sigv4-check-proxy.js" "$S3_ENDPOINT" "$S3_SECRET_ACCESS_KEY" "$T/sigv4.log" >"$T/sigv4.out" 2>&1 &
SIG_PID=$!
wait_for 'grep -q "^listening" "$T/sigv4.out"' || { cat "$T/sigv4.out" >&2; fail "sigv4-check-proxy did not start"; }
SIG_URL="http://127.0.0.1:$(sed -n 's/^listening //p' "$T/sigv4.out")"
s3conf() { # s3conf SECRET BUCKET
	conf "storage = { backend = \"s3\"; s3 = { endpoint = \"$SIG_URL\"; bucket = \"$2\";
		region = \"$S3_REGION\"; access_key_id = \"$S3_ACCESS_KEY_ID\";
		secret_access_key = \"$1\"; timeout = \"3s\"; max_retries = 1; }; };" "$LOCAL" ""
}
s3conf "$S3_SECRET_ACCESS_KEY" "$S3_BUCKET"
check 0
has "^labd: check storage: ok: s3 bucket \"$S3_BUCKET\": put, get and delete of .labd-check/"
has '^labd: check broker: ok: local: in-process'
grep -q '^ok PUT .*/\.labd-check/' "$T/sigv4.log" || fail "no signed PUT of the probe reached S3"
grep -q '^ok DELETE .*/\.labd-check/' "$T/sigv4.log" || fail "the probe was not deleted"
s3conf wrong-secret "$S3_BUCKET"
check 1
has '^labd: check storage: FAILED: s3 bucket: put of .labd-check/'
has '^labd: connectivity has errors$'
grep -q 'wrong-secret' "$T/out" && fail "the secret is printed"
s3conf "$S3_SECRET_ACCESS_KEY" no-such-bucket
check 1
has '^labd: check storage: FAILED: s3 bucket: put of .labd-check/'
pass "S3: put/get/delete of a probe with the right secret; a wrong secret and a missing bucket fail, exit 1"

# ---- ClickHouse: wrong password, unknown user, nothing listening --------------------
conf "$FS" "$LOCAL" 'user = "default"; password = "wrong";'
check 1
has '^labd: check clickhouse: FAILED: SELECT 1 as user "default" on database "default": .*[Pp]assword'
grep -q '"wrong"' "$T/out" && fail "the password is printed"
conf "$FS" "$LOCAL" 'user = "nobody";'
check 1
has '^labd: check clickhouse: FAILED: SELECT 1 as user "nobody"'
has '^labd: check storage: ok'
sed -i "s|url = \"$CLICKHOUSE_URL\"|url = \"http://127.0.0.1:1\"|" "$T/labd.conf"
sed -i 's|user = "nobody";|timeout = "2s";|' "$T/labd.conf"
check 1
has '^labd: check clickhouse: FAILED'
[ $ms -le 15000 ] || fail "ClickHouse unreachable took $ms ms (the checks are bounded at 10 s)"
pass "ClickHouse: a wrong password, an unknown user and nothing listening fail with the reason, exit 1 ($ms ms)"

# ---- NATS down, an unwritable fs root -------------------------------------------------
: >"$T/not-a-dir"
conf "storage = { backend = \"fs\"; fs = { root = \"$T/not-a-dir/data\"; }; };" \
	'broker = { backend = "nats"; nats = { url = "nats://127.0.0.1:1"; }; };' ""
check 1
has '^labd: check broker: FAILED: no connection to the nats server within 10 s'
has '^labd: check storage: FAILED: cannot open fs storage'
has '^labd: check clickhouse: ok'
[ $ms -le 20000 ] || fail "NATS down took $ms ms"
pass "NATS down fails after the 10 s bound ($ms ms), an fs root under a file fails; exit 1"

# ---- plain -t reaches nothing --------------------------------------------------------
"$LABD" -t -c "$T/labd.conf" >"$T/out" 2>&1 || { cat "$T/out" >&2; fail "labd -t (no --connect) failed with services down"; }
grep -q '^labd: check ' "$T/out" && fail "labd -t without --connect checked services"
"$LABD" --connect -c "$T/labd.conf" 2>/dev/null; [ $? -eq 2 ] || fail "--connect without -t must be a usage error"
pass "labd -t without --connect reaches no service; --connect alone is a usage error"
