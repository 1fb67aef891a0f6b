#!/bin/sh
# contributors: per-user documents under the key the Lab frontend requests
# (issue 23, SPEC §9.2).  The frontend fetches
# user-summaries/users/${name}.json with the raw name; the browser
# percent-encodes it as UTF-8 and the bucket (or web server) decodes it once.
# Client names with the usernames below are inserted into the real
# ClickHouse 18.16; `labd --once --plugin contributors` runs once with the fs
# backend and once with S3 (s3rver); before each run an older labd's
# escaped copies of the raw names are planted (and one unrelated escaped
# document).  Then, for both backends:
#   - names that must be raw are stored under the raw name (UTF-8, spaces,
#     '.', 128 bytes), their escaped copies are gone, the unrelated one stays;
#   - names that must be escaped ("..", "%2e%2e", '?', '#', a tab, NUL,
#     invalid UTF-8, a C1 control, 129 bytes, empty) have exactly the
#     expected escaped keys;
#   - every stored user document is fetched over HTTP through a URL built
#     the way a browser builds it (encodeURIComponent, run by node): from
#     the raw name for raw names, from the key for escaped ones — from
#     s3rver, and from the fs tree served by tests/http-file-server (which
#     decodes the path once); each answer is that user's document.
# s3rver does not check SigV4 signatures (tests/services/s3rver.sh), so
# labd reaches it through tests/sigv4-check-proxy.js, which verifies each
# one independently of libcurl (a checker in front of the real server, not
# a fake of it); s3rver shows that the objects land under the raw UTF-8 keys.
[ "${1:-}" = --inner ] || exec "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/services/with-services.sh" clickhouse,s3 -- "$0" --inner
. "$top_srcdir/tests/integration/lib.sh"
command -v node >/dev/null 2>&1 || { echo "SKIP: node is not installed (s3rver, encodeURIComponent)"; exit 77; }
JG="$top_builddir/tests/json-get"
SRV="$top_builddir/tests/http-file-server"
for x in tests/json-get tests/http-file-server; do
	[ -x "$top_builddir/$x" ] || make -C "$top_builddir" "$x" >/dev/null || fail "cannot build $x"
done
SRV_PID=""
SIG_PID=""
trap 'for p in $SRV_PID $SIG_PID; do kill "$p" 2>/dev/null; done; cleanup' EXIT

NOW_UNIX=1700003600
NOW=$(date -u -d "@$NOW_UNIX" +%Y-%m-%dT%H:%M:%SZ)
EMPTY_SHA=e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
q() { curl -sS --fail --data-binary "$1" "$CLICKHOUSE_URL/?database=default" || fail "query: $1"; }
enc() { node -e 'process.stdout.write(encodeURIComponent(process.argv[1]))' -- "$1"; }
sha() { printf '%s' "$1" | sha256sum | cut -c1-64; }

# ---- the usernames ------------------------------------------------------------------
U128=$(i=0; while [ $i -lt 62 ]; do printf '\303\274'; i=$((i + 1)); done; printf '\342\202\254x')
[ "$(printf '%s' "$U128" | wc -c)" = 128 ] || fail "the 128-byte name is $(printf '%s' "$U128" | wc -c) bytes"
U129=$(printf 'u%.0s' $(seq 129))
JUERGEN=$(printf 'j\303\274rgen')
# raw names (one a line) and the SQL literals of the escaped ones with their keys
printf '%s\n' "$JUERGEN" 'd a v e' grace.h "$U128" "a+b&c=d'e" >"$T/raw"
# the escaped names as ClickHouse string literal bodies, '|', their keys
cat >"$T/escaped" <<EOF
..|%2E%2E
%2e%2e|%252e%252e
a?b|a%3Fb
a#b|a%23b
tab\\there|tab%09here
nul\\0user|nul%00user
\\xFF\\xFEuser|%FF%FEuser
c1\\xC2\\x85|c1%C2%85
$U129|%h$(sha "$U129")
|%h$EMPTY_SHA
EOF
lit() { printf '%s' "$1" | sed "s/\\\\/\\\\\\\\/g; s/'/\\\\'/g"; } # a ClickHouse string literal's body
names=""
while IFS= read -r u; do names="$names'pub-k/$(lit "$u")/node-1', "; done <"$T/raw"
while IFS='|' read -r l k; do names="$names'pub-k/$l/node-1', "; done <"$T/escaped"
names="$names'ethpandaops/mainnet/node-1'"

"$top_srcdir/tests/fixtures/load-schema.sh" "$CLICKHOUSE_URL" >/dev/null || fail "schema"
q "INSERT INTO beacon_api_eth_v1_events_block (updated_date_time, event_date_time, slot,
	slot_start_date_time, meta_client_name, meta_network_name, meta_client_geo_country,
	meta_consensus_implementation)
	SELECT toDateTime($NOW_UNIX - 600), toDateTime($NOW_UNIX - 599), 100, toDateTime($NOW_UNIX - 600),
	name, 'mainnet', 'Germany', 'lighthouse' FROM (SELECT arrayJoin([$names]) AS name)"
nnames=$(($(wc -l <"$T/raw") + $(wc -l <"$T/escaped") + 1))
[ "$(q "SELECT count() FROM beacon_api_eth_v1_events_block FINAL")" = $nnames ] || fail "rows not inserted"

stage_plugins
conf() { # BACKEND-LINE
	cat >"$T/labd.conf" <<CONF
log = { level = "info"; format = "logfmt"; };
admin = { listen = ""; };
plugin_dir = "$T/plugins";
$1
clickhouse = { url = "$CLICKHOUSE_URL"; database = "default"; };
broker = { backend = "local"; };
plugins = { contributors = { networks = [ "mainnet" ];
	time_windows = ( { file = "last_1h"; step = "10m"; label = "Last 1h"; range = "-1h"; } ); }; };
CONF
}
USERS=xatu_public_contributors/user-summaries/users
# the keys an older labd used for the raw names that were not [A-Za-z0-9._-]
STALE="j%C3%BCrgen d%20a%20v%20e %h$(sha "$U128") a%2Bb%26c%3Dd%27e"
KEEP='keep%20me'
OLD_DOC='{"name":"old","nodes":[],"updated_at":1}'

# check_served BASE_URL FETCH: every user document through browser-built URLs
check_served() {
	n=0
	while IFS= read -r u; do
		$2 "$1/$USERS/$(enc "$u").json" "$T/got" || fail "$1: GET of raw name $u failed"
		{ gunzip -c "$T/got" 2>/dev/null || cat "$T/got"; } >"$T/got.json"
		[ "$("$JG" "$T/got.json" /name)" = "$u" ] || fail "$1: the document of $u names $("$JG" "$T/got.json" /name)"
		[ "$("$JG" "$T/got.json" /updated_at)" = $NOW_UNIX ] || fail "$1: $u: not this run's document"
		n=$((n + 1))
	done <"$T/raw"
	while IFS='|' read -r l k; do
		$2 "$1/$USERS/$(enc "$k").json" "$T/got" || fail "$1: GET of escaped key $k failed"
		{ gunzip -c "$T/got" 2>/dev/null || cat "$T/got"; } >"$T/got.json"
		[ "$("$JG" -t "$T/got.json" /name)" = string ] && [ "$("$JG" "$T/got.json" /updated_at)" = $NOW_UNIX ] ||
			fail "$1: $k is not this run's user document"
		n=$((n + 1))
	done <"$T/escaped"
	# the names that must be escaped are not reachable under their raw form
	$2 "$1/$USERS/$(enc 'a?b').json" "$T/got" && fail "$1: a?b is stored raw"
	$2 "$1/$USERS/$(enc 'a#b').json" "$T/got" && fail "$1: a#b is stored raw"
	$2 "$1/$USERS/$(enc '%2e%2e').json" "$T/got" && fail "$1: %2e%2e is stored raw"
	for k in $STALE; do
		$2 "$1/$USERS/$(enc "$k").json" "$T/got" && fail "$1: the stale copy $k.json is still there"
	done
	$2 "$1/$USERS/$(enc "$KEEP").json" "$T/got" || fail "$1: an unrelated document was removed"
	echo "$n"
}

# ---- 1. fs ----------------------------------------------------------------------------
conf "storage = { backend = \"fs\"; fs = { root = \"$T/data\"; }; };"
D="$T/data/$USERS"
mkdir -p "$D"
for k in $STALE $KEEP; do printf '%s' "$OLD_DOC" | gzip -n >"$D/$k.json"; done
"$LABD" -c "$T/labd.conf" --once --plugin contributors --now "$NOW" 2>"$T/labd.log" || fail "--once (fs) failed"
while IFS= read -r u; do [ -f "$D/$u.json" ] || fail "fs: no raw file for $u"; done <"$T/raw"
while IFS='|' read -r l k; do [ -f "$D/$k.json" ] || fail "fs: no file $k.json for $l"; done <"$T/escaped"
for k in $STALE; do [ ! -e "$D/$k.json" ] || fail "fs: stale $k.json left behind"; done
[ -f "$D/$KEEP.json" ] || fail "fs: the unrelated $KEEP.json was removed"
nf=$(ls "$D" | wc -l)
[ "$nf" = $((nnames + 1)) ] || fail "fs: $nf files for $nnames users and $KEEP: $(ls "$D")"
pass "fs: raw names stored raw, $(wc -l <"$T/escaped") unsafe names escaped, $(echo $STALE | wc -w) stale escaped copies removed"

"$SRV" "$T/data" "$T/srv.port" 2>"$T/srv.log" &
SRV_PID=$!
wait_for '[ -s "$T/srv.port" ]' || fail "http-file-server did not start"
fs_get() { [ "$(curl -s -o "$2" -w '%{http_code}' --max-time 5 "$1")" = 200 ]; }
n=$(check_served "http://127.0.0.1:$(cat "$T/srv.port")" fs_get) || exit 1
grep -q "^GET /$USERS/j%C3%BCrgen.json 200" "$T/requests.log" || fail "the file server did not see a browser-encoded path"
kill "$SRV_PID"; wait "$SRV_PID" 2>/dev/null; SRV_PID=""
pass "fs tree over HTTP: $n user documents fetched through URLs built by encodeURIComponent"

# ---- 2. S3 (s3rver) ------------------------------------------------------------------
# labd talks to s3rver through tests/sigv4-check-proxy.js, which verifies
# every SigV4 signature (s3rver does not).
node "$top_srcdir/tests/sigv4-check-proxy.js" "$S3_ENDPOINT" "$S3_SECRET_ACCESS_KEY" "$T/sigv4.log" >"$T/sigv4.out" 2>&1 &
SIG_PID=$!
wait_for 'grep -q "^listening" "$T/sigv4.out"' || { cat "$T/sigv4.out" >&2; fail "sigv4-check-proxy did not start"; }
SIG_URL="http://127.0.0.1:$(sed -n 's/^listening //p' "$T/sigv4.out")"
conf "storage = { backend = \"s3\"; s3 = { endpoint = \"$SIG_URL\"; bucket = \"$S3_BUCKET\";
	region = \"$S3_REGION\"; access_key_id = \"\${S3_ACCESS_KEY_ID}\";
	secret_access_key = \"\${S3_SECRET_ACCESS_KEY}\"; timeout = \"5s\"; max_retries = 2; }; };"
B="$S3_ENDPOINT/$S3_BUCKET"
# s3 METHOD URL OUT [DATA]: a signed request (s3rver wants the key id and
# the payload hash header); the status on stdout.
s3() {
	h=$EMPTY_SHA
	[ -z "${4:-}" ] || h=$(sha256sum <"$4" | cut -c1-64)
	curl -s -X "$1" -o "$3" -w '%{http_code}' --max-time 5 ${4:+--data-binary "@$4"} \
		--aws-sigv4 "aws:amz:$S3_REGION:s3" --user "$S3_ACCESS_KEY_ID:$S3_SECRET_ACCESS_KEY" \
		-H "x-amz-content-sha256: $h" "$2"
}
# the verifier itself: curl's signature passes, a wrong secret does not
[ "$(s3 GET "$SIG_URL/$S3_BUCKET/?list-type=2" "$T/got")" = 200 ] || fail "sigv4-check-proxy refused curl's signature"
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 --aws-sigv4 "aws:amz:$S3_REGION:s3" \
	--user "$S3_ACCESS_KEY_ID:wrong" -H "x-amz-content-sha256: $EMPTY_SHA" "$SIG_URL/$S3_BUCKET/?list-type=2")
[ "$code" = 403 ] || fail "sigv4-check-proxy accepted a wrong secret: HTTP $code"
: >"$T/sigv4.log"
for k in $STALE $KEEP; do
	printf '%s' "$OLD_DOC" | gzip -n >"$T/old.gz"
	code=$(s3 PUT "$B/$USERS/$(enc "$k").json" "$T/put.out" "$T/old.gz")
	[ "$code" = 200 ] || fail "cannot plant $k.json in s3rver: HTTP $code"
done
"$LABD" -c "$T/labd.conf" --once --plugin contributors --now "$NOW" 2>"$T/labd.log" || fail "--once (s3) failed"
grep '^bad' "$T/sigv4.log" | head -3 | grep . && fail "labd sent requests whose SigV4 signature does not verify"
nput=$(grep -c "^ok PUT /$S3_BUCKET/$USERS/" "$T/sigv4.log")
[ "$nput" = $nnames ] || fail "$nput verified PUTs of user documents, want $nnames"
grep -q "^ok PUT /$S3_BUCKET/$USERS/j%C3%BCrgen.json\$" "$T/sigv4.log" &&
	grep -q "^ok PUT /$S3_BUCKET/$USERS/d%20a%20v%20e.json\$" "$T/sigv4.log" &&
	grep -q "^ok DELETE /$S3_BUCKET/$USERS/j%25C3%25BCrgen.json\$" "$T/sigv4.log" ||
	fail "no verified PUT/DELETE of the UTF-8, space and escaped keys: $(grep users/ "$T/sigv4.log" | head -5)"
pass "s3: every request's SigV4 signature verifies, UTF-8 and space keys included ($nput user PUTs)"
s3_get() { [ "$(s3 GET "$1" "$2")" = 200 ]; }
n=$(check_served "$B" s3_get) || exit 1
code=$(s3 GET "$B/?list-type=2&prefix=$USERS/" "$T/list")
[ "$code" = 200 ] || fail "list: HTTP $code"
sed 's/<Key>/\n<Key>/g' "$T/list" | sed -n 's/^<Key>\([^<]*\)<.*/\1/p' >"$T/keys"
for u in "$JUERGEN" 'd a v e' "$U128"; do
	grep -qxF "$USERS/$u.json" "$T/keys" || fail "s3: no object with the raw UTF-8 key of $u"
done
# (grep -c: s3rver's XML, and so the last line here, ends without a newline)
[ "$(grep -c '' "$T/keys")" = $((nnames + 1)) ] || fail "s3: $(grep -c '' "$T/keys") objects: $(cat "$T/keys")"
pass "s3rver: objects under the raw UTF-8 keys, $n user documents fetched through browser-built URLs, stale copies removed"
