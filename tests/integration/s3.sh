#!/bin/sh
# The s3 storage backend against a real S3 imitation (s3rver 3, started by
# tests/services/with-services.sh): labd --once with the example plugin
# stores example/last.json, its state and config.json as gzip objects with
# the SPEC §6 headers; put_atomic is exactly one PUT (counted from labd's
# own per-request debug log, and no other object appears in the bucket);
# state loads back through GET; /readyz; wrong credentials (403, not
# retried) and an unreachable endpoint (retried, bounded) fail cleanly.
# Retry of 5xx/429 is proven with a fault-injecting stub in
# tests/unit/test_storage_s3.c.
if [ "${1:-}" != --inner ]; then
	: "${top_srcdir:=$(cd "$(dirname "$0")/../.." && pwd)}"
	command -v node >/dev/null 2>&1 || { echo "SKIP: node is not installed (s3rver)"; exit 77; }
	exec "$top_srcdir/tests/services/with-services.sh" s3 -- "$0" --inner
fi
. "$(dirname "$0")/lib.sh"
JSON_GET="$top_builddir/tests/json-get"
[ -x "$JSON_GET" ] || fail "$JSON_GET not built (make check builds it)"
EMPTY_SHA=e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
B="$S3_ENDPOINT/$S3_BUCKET"

# s3 METHOD KEY OUTFILE: a signed request (curl's SigV4 does not add the
# payload hash header s3rver requires); headers to OUTFILE.h, body to
# OUTFILE; prints the HTTP status.
s3() {
	curl -s -X "$1" -D "$3.h" -o "$3" -w '%{http_code}' --max-time 5 \
		--aws-sigv4 "aws:amz:$S3_REGION:s3" --user "$S3_ACCESS_KEY_ID:$S3_SECRET_ACCESS_KEY" \
		-H "x-amz-content-sha256: $EMPTY_SHA" "$B/$2"
}
# header FILE.h NAME: the value of one response header (CR stripped).
header() { tr -d '\r' <"$1" | sed -n "s/^$2: //Ip" | head -n 1; }

stage_plugins
write_conf 'example = { interval = "1h"; };'
cat >>"$T/labd.conf" <<CONF
storage = { backend = "s3";
	s3 = { endpoint = "$S3_ENDPOINT"; bucket = "$S3_BUCKET"; region = "$S3_REGION";
	       access_key_id = "\${S3_ACCESS_KEY_ID}"; secret_access_key = "\${S3_SECRET_ACCESS_KEY}";
	       timeout = "5s"; max_retries = 2; }; };
CONF
# libconfig refuses a second `storage` group: drop write_conf's fs line.
sed -i '/^storage = { backend = "fs"/d' "$T/labd.conf"
"$LABD" -t -c "$T/labd.conf" 2>"$T/labd.log" || fail "config with backend s3 does not validate"
"$LABD" -t -c "$T/labd.conf" -D storage.s3.max_retries=21 2>"$T/labd.log" && fail "max_retries 21 accepted"
grep -q 'storage.s3.max_retries.*must be between 0 and 20' "$T/labd.log" || fail "max_retries error: $(cat "$T/labd.log")"
"$LABD" -t -c "$T/labd.conf" -D storage.s3.timeout=0s 2>"$T/labd.log" && fail "timeout 0s accepted"
grep -q 'storage.s3.timeout.*must be positive' "$T/labd.log" || fail "timeout error: $(cat "$T/labd.log")"
pass "storage.s3.timeout and max_retries are validated"

# ---- 1. --once stores gzip objects with the right headers, one PUT each
NOW_S=1735787045
"$LABD" --once -c "$T/labd.conf" -D log.level=debug --now 2025-01-02T03:04:05Z 2>"$T/labd.log" ||
	fail "--once with backend s3 failed"
check_obj() { # KEY CONTENT_TYPE CACHE_CONTROL
	code=$(s3 GET "$1" "$T/obj")
	[ "$code" = 200 ] || fail "GET $1: HTTP $code"
	[ "$(header "$T/obj.h" Content-Encoding)" = gzip ] || fail "$1: Content-Encoding: $(cat "$T/obj.h")"
	[ "$(header "$T/obj.h" Content-Type)" = "$2" ] || fail "$1: Content-Type $(header "$T/obj.h" Content-Type)"
	[ "$(header "$T/obj.h" Cache-Control)" = "$3" ] ||
		fail "$1: Cache-Control '$(header "$T/obj.h" Cache-Control)', want '$3'"
	gzip -dc <"$T/obj" >"$T/obj.json" || fail "$1 is not gzip"
	[ "$("$JSON_GET" -t "$T/obj.json" "")" = object ] || fail "$1 is not a JSON object: $(cat "$T/obj.json")"
	# s3rver's ETag is the MD5 of the stored bytes: what we sent is what it kept.
	etag=$(header "$T/obj.h" ETag | tr -d '"')
	[ "$etag" = "$(md5sum <"$T/obj" | cut -d' ' -f1)" ] || fail "$1: ETag $etag does not match the body"
}
check_obj example/last.json application/json max-age=3600
[ "$(cat "$T/obj.json")" = "{\"count\":1,\"at\":$NOW_S}" ] || fail "example/last.json: $(cat "$T/obj.json")"
check_obj state/modules/example.json application/json no-store
[ "$("$JSON_GET" "$T/obj.json" /counter)" = 1 ] || fail "state: $(cat "$T/obj.json")"
check_obj config.json application/json "no-store, no-cache, must-revalidate"
pass "--once stores example/last.json, state and config.json as gzip JSON with the SPEC headers"

puts() { grep -c "msg=\"s3 request\" method=PUT key=$1 attempt=1 http_status=200" "$T/labd.log"; }
[ "$(grep -c 'msg="s3 request" method=PUT' "$T/labd.log")" = 3 ] ||
	fail "expected 3 PUTs: $(grep 's3 request' "$T/labd.log")"
[ "$(puts example/last.json)" = 1 ] || fail "put_atomic of example/last.json was not exactly one PUT"
[ "$(puts state/modules/example.json)" = 1 ] || fail "state flush was not exactly one PUT"
grep -q 'msg="s3 request" method=\(POST\|DELETE\)' "$T/labd.log" && fail "unexpected copy/delete requests"
code=$(s3 GET "?list-type=2" "$T/list")
[ "$code" = 200 ] || fail "list bucket: HTTP $code"
keys=$(sed 's/<Key>/\n<Key>/g' "$T/list" | sed -n 's/^<Key>\([^<]*\)<.*/\1/p' | sort | tr '\n' ' ')
[ "$keys" = "config.json example/last.json state/modules/example.json " ] ||
	fail "bucket holds other objects (temp uploads?): $keys"
pass "put_atomic is exactly one PUT (no temp object, copy or delete)"

# ---- 2. state loads back through GET (Content-Encoding: gzip -> gunzip)
"$LABD" --once -c "$T/labd.conf" -D log.level=debug 2>"$T/labd.log" || fail "second --once failed"
grep -q 'msg="s3 request" method=GET key=state/modules/example.json attempt=1 http_status=200' "$T/labd.log" ||
	fail "state was not read back"
s3 GET state/modules/example.json "$T/obj" >/dev/null
[ "$(gzip -dc <"$T/obj" | "$JSON_GET" - /counter)" = 2 ] || fail "state did not continue"
pass "state is read back from S3 and continues"

# ---- 3. /readyz (no ClickHouse here: its readiness probe is off)
start_labd -D clickhouse.probe_interval=0s
wait_for 'http GET /readyz; [ "$CODE" = 200 ]' || fail "readyz with s3 up: $CODE $BODY"
stop_labd
[ "$STOP_RC" = 0 ] || fail "labd exit $STOP_RC"
pass "/readyz is 200 with the bucket reachable"

# ---- 4. wrong credentials: 403 from S3, not retried, S3's code logged, --once fails
rm -f "$T/labd.log"
start_labd -D storage.s3.access_key_id=NOSUCHKEY
wait_for 'http GET /readyz; [ "$CODE" = 503 ] && echo "$BODY" | grep -q "access denied"' ||
	fail "readyz with a wrong key: $CODE $BODY"
stop_labd
[ "$STOP_RC" = 0 ] || fail "labd exit $STOP_RC"
"$LABD" --once -c "$T/labd.conf" -D log.level=debug -D storage.s3.access_key_id=NOSUCHKEY 2>"$T/labd.log"
rc=$?
[ $rc = 1 ] || fail "--once with a wrong key must exit 1, not $rc"
n=$(grep -c 'msg="s3 request" method=GET key=state/modules/example.json' "$T/labd.log")
[ "$n" = 1 ] || fail "a 403 was retried ($n requests)"
grep -q 'msg="storage operation failed" backend=s3 op=get key=state/modules/example.json attempts=1 http_status=403 s3_code=InvalidAccessKeyId' "$T/labd.log" ||
	fail "403 not logged with S3's code: $(grep 'storage operation failed' "$T/labd.log")"
pass "403 (InvalidAccessKeyId) is not retried, logged with S3's code; /readyz says access denied"

# ---- 5. unreachable endpoint: retried (bounded), then --once fails
"$LABD" --once -c "$T/labd.conf" -D log.level=debug -D storage.s3.endpoint=http://127.0.0.1:1 \
	2>"$T/labd.log"
rc=$?
[ $rc = 1 ] || fail "--once with an unreachable endpoint must exit 1, not $rc"
n=$(grep -c 'msg="s3 request" method=GET key=state/modules/example.json' "$T/labd.log")
[ "$n" = 3 ] || fail "expected 1 + max_retries (2) attempts, got $n"
grep -q 'msg="storage operation failed" backend=s3 op=get key=state/modules/example.json attempts=3' "$T/labd.log" ||
	fail "final failure not logged once"
pass "an unreachable endpoint is retried 1 + max_retries times, then fails"
