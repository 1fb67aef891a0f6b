#!/bin/sh
# The migration toolkit (issue 22, docs/migration.md) against a real
# ClickHouse 18.16 and a real s3rver:
#   1. `labctl config import` of both old formats (tests/migration/*.yaml,
#      every key of each): exit 3 with every dropped setting listed by line,
#      secrets written as ${ENV}, `labd -t` passes on the result;
#   2. bad input: missing file, malformed YAML, unknown key, bad value ->
#      a message naming FILE:LINE and the key, exit 1, nothing written;
#   3. `labd --once --now T` with each imported config and with a
#      hand-written equivalent: the three trees hold the same documents
#      (labctl compare says equal, and so does a byte comparison with only
#      processing_time_ms removed);
#   4. shadow run: the "old backend's" objects at the bucket root, labd
#      with storage.prefix in the same bucket: the old objects stay byte
#      for byte, labd writes only under the prefix; labctl compare of root
#      vs prefix (S3 vs S3) and prefix vs a local tree (S3 vs fs) is equal;
#   5. planted differences (a number beyond the tolerance, a missing and an
#      extra document, a reordered list where order does not matter and one
#      where it does) are reported exactly, in text and --json;
#   6. --profile original and --align-windows;
#   7. compare's bad input: no such bucket, refused credentials, a non-JSON
#      object, corrupt gzip -> named, exit 2, nothing written anywhere.
[ "${1:-}" = --inner ] || exec "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/services/with-services.sh" clickhouse,s3 -- "$0" --inner
. "$top_srcdir/tests/integration/lib.sh"

IMPORT="$top_builddir/tools/labctl-config-import"
CMP="$top_builddir/tools/labctl-compare"
LABCTL="$top_srcdir/tools/labctl"
GEN="$top_builddir/tests/fixtures/xatu-gen"
SRV="$top_builddir/tests/http-file-server"
J="$top_builddir/tests/json-get"
for x in "$IMPORT" "$CMP" "$GEN" "$SRV" "$J"; do [ -x "$x" ] || fail "$x not built"; done
LAB_LIBEXECDIR="$top_builddir/tools"
export LAB_LIBEXECDIR
stage_plugins

GENESIS=1606824023
FROM=9000000
TO=9000039
NOW_UNIX=$((GENESIS + (TO + 4) * 12))
NOW=$(date -u -d "@$NOW_UNIX" +%Y-%m-%dT%H:%M:%SZ)
"$top_srcdir/tests/fixtures/load-schema.sh" "$CLICKHOUSE_URL" >/dev/null || fail "schema"
"$GEN" --network mainnet --genesis $GENESIS --from-slot $FROM --to-slot $TO --out "$T/gen" >/dev/null || fail "xatu-gen"
"$top_srcdir/tests/fixtures/load.sh" "$CLICKHOUSE_URL" "$T/gen" >/dev/null || fail "load"

# The networks' config.yaml over HTTP, as config_url has it.
mkdir -p "$T/www"
cp "$top_srcdir/etc/networks/mainnet.yaml" "$T/www/"
"$SRV" "$T/www" "$T/port" &
SRV_PID=$!
wait_for '[ -s "$T/port" ]' || fail "file server did not start"
stop_srv() { kill -TERM "$SRV_PID" 2>/dev/null; wait "$SRV_PID" 2>/dev/null; }
trap 'stop_srv; cleanup' EXIT
NET_URL="http://127.0.0.1:$(cat "$T/port")/mainnet.yaml"
CH_HOSTPORT=${CLICKHOUSE_URL#http://}

# ---- 1. import both formats ------------------------------------------------
sed -e "s|CLICKHOUSE_URL|clickhouse+http://default:@$CH_HOSTPORT/default|" -e "s|CONFIG_URL|$NET_URL|" \
	"$top_srcdir/tests/migration/python-config.yaml" >"$T/python.yaml"
sed -e "s|CLICKHOUSE_DSN|clickhouse+http://default:@$CH_HOSTPORT/default?protocol=http|" -e "s|CONFIG_URL|$NET_URL|" \
	"$top_srcdir/tests/migration/go-config.yaml" >"$T/go.yaml"

"$LABCTL" config import -o "$T/python.conf" "$T/python.yaml" 2>"$T/python.err"
[ $? -eq 3 ] || fail "python import: exit 3 expected (settings dropped): $(cat "$T/python.err")"
"$LABCTL" config import -o "$T/go.conf" "$T/go.yaml" 2>"$T/go.err"
[ $? -eq 3 ] || fail "go import: exit 3 expected: $(cat "$T/go.err")"
# Every setting without an equivalent, with its line.
for w in '15: clickhouse.database' '16: clickhouse.username' '17: clickhouse.password' '18: clickhouse.debug' \
	'43: modules.beacon.description' '48: modules.beacon.networks.mainnet.backlog_days' \
	'51: modules.beacon_chain_timings.description' '67: modules.xatu_public_contributors.description'; do
	grep -q "python.yaml:$w: not imported" "$T/python.err" || fail "python import: no warning '$w': $(cat "$T/python.err")"
done
grep -q "python format; 8 settings not imported" "$T/python.err" || fail "python count: $(cat "$T/python.err")"
for w in '8: grpc' '46: cache' '52: geolocation' '60: modules.beacon_slots.beacon_slots.backfill' \
	'64: modules.beacon_slots.beacon_slots.locally_built_blocks' \
	'83: modules.xatu_public_contributors.xatu_public_contributors.redis_key_prefix' \
	'84: modules.xatu_public_contributors.xatu_public_contributors.backfill_hours' \
	'88: modules.xatu_public_contributors.xatu_public_contributors.time_windows\[0\].duration'; do
	grep -q "go.yaml:$w: not imported" "$T/go.err" || fail "go import: no warning '$w': $(cat "$T/go.err")"
done
grep -q "go format; 9 settings not imported" "$T/go.err" || fail "go count: $(cat "$T/go.err")"
# Secrets: references, never the values.
grep -q 'secret_access_key = "${LAB_S3_SECRET_ACCESS_KEY}";' "$T/python.conf" || fail "python secret: $(cat "$T/python.conf")"
grep -q 'access_key_id = "${S3_ACCESS_KEY}";' "$T/go.conf" || fail "go: an existing \${ENV} reference is kept"
! grep -q 'wJalrXUtnFEMI\|a-literal-secret\|AKIDEXAMPLE' "$T/python.conf" "$T/go.conf" || fail "a secret was copied"
grep -q 'export LAB_S3_SECRET_ACCESS_KEY' "$T/python.err" || fail "python: secret note"
# min_client_versions and the rest of the network.
grep -q 'electra = { grandine = "1.0.0"; lighthouse = "7.0.0-beta.0";' "$T/python.conf" || fail "min_client_versions"
grep -q 'genesis_time = 1606824023;' "$T/go.conf" || fail "go genesis (RFC 3339 -> Unix)"
grep -q 'file = "last_1_day";' "$T/go.conf" || fail "go window file without .json"
grep -q 'url_style = "path";' "$T/go.conf" || fail "go usePathStyle"
grep -q 'endpoint = "http://127.0.0.1:9";' "$T/go.conf" || fail "go endpoint with the scheme of secure: false"
LAB_S3_ACCESS_KEY_ID=x LAB_S3_SECRET_ACCESS_KEY=y S3_ACCESS_KEY=z \
	"$LABD" -t -c "$T/python.conf" -D plugin_dir="\"$T/plugins\"" 2>"$T/t.log" || fail "labd -t on the python import: $(cat "$T/t.log")"
LAB_S3_SECRET_ACCESS_KEY=y S3_ACCESS_KEY=z \
	"$LABD" -t -c "$T/go.conf" -D plugin_dir="\"$T/plugins\"" 2>"$T/t.log" || fail "labd -t on the go import: $(cat "$T/t.log")"
pass "config import: both formats, every dropped setting listed with its line, secrets as \${ENV}, labd -t passes"

# ---- 2. import: bad input ---------------------------------------------------
bad_import() { # NAME EXPECTED-MESSAGE (the file is $T/bad.yaml unless NAME says otherwise)
	rm -f "$T/out.conf"
	"$IMPORT" -o "$T/out.conf" "$1" 2>"$T/bad.err"
	rc=$?
	[ $rc -eq 1 ] || fail "bad import $1: exit $rc, want 1"
	grep -q "$2" "$T/bad.err" || fail "bad import $1: message: $(cat "$T/bad.err")"
	[ ! -e "$T/out.conf" ] || fail "bad import $1: wrote $T/out.conf"
	ls "$T"/out.conf.tmp.* >/dev/null 2>&1 && fail "bad import $1: left a temp file"
	return 0
}
bad_import "$T/missing.yaml" "missing.yaml: No such file"
bad_import "$T" "not a regular file"
printf 'storage:\n  s3:\n    endpoint: "x\n  bad: [\n' >"$T/bad.yaml"
bad_import "$T/bad.yaml" "bad.yaml:[0-9]*:[0-9]*: YAML"
sed 's/^    bucket: "lab-data"/    bucket: "lab-data"\n    buckett: "typo"/' "$T/python.yaml" >"$T/bad.yaml"
bad_import "$T/bad.yaml" "bad.yaml:10: storage.s3.buckett: unknown setting"
sed 's/^      genesis_time: 1606824023/      genesis_time: soon/' "$T/python.yaml" >"$T/bad.yaml"
bad_import "$T/bad.yaml" "bad.yaml:24: ethereum.networks.mainnet.genesis_time: expected an integer"
sed 's/^      genesis: "2020-12-01T12:00:23Z"/      genesis: "yesterday"/' "$T/go.yaml" >"$T/bad.yaml"
bad_import "$T/bad.yaml" "bad.yaml:25: ethereum.networks.mainnet.genesis: expected an RFC 3339"
sed 's/^      interval: "60m"/      interval: "1d"/' "$T/go.yaml" >"$T/bad.yaml"
bad_import "$T/bad.yaml" "beacon_chain_timings.interval: bad duration"
# An existing output is not replaced without --force.
echo keep >"$T/exists.conf"
"$IMPORT" -o "$T/exists.conf" "$T/python.yaml" 2>/dev/null && fail "replaced an existing file"
[ "$(cat "$T/exists.conf")" = keep ] || fail "existing output changed"
pass "config import: bad input named by file, line and key; exit 1; nothing written"

# ---- 3. --once with the imported configs = with a hand-written one ----------
cat >"$T/hand.conf" <<CONF
storage = { backend = "fs"; };
clickhouse = { url = "$CLICKHOUSE_URL"; database = "default"; user = "default"; password = ""; };
ethereum = { networks = (
	{ name = "mainnet"; genesis_time = $GENESIS; config_url = "$NET_URL";
	  validator_set = ( { range = "0-999"; entity = "genesis-operator"; }, { range = "1000"; entity = "lone-validator"; } );
	  min_client_versions = { electra = { grandine = "1.0.0"; lighthouse = "7.0.0-beta.0"; lodestar = "1.27.0";
					      nimbus = "25.2.0"; prysm = "5.3.0"; teku = "25.2.0"; }; }; }
); };
plugins = {
	beacon = { networks = { mainnet = { head_lag_slots = 3; }; }; };
	timings = { time_windows = (
		{ file = "last_1_day"; step = "1h"; label = "Last 1d"; range = "-24h"; },
		{ file = "last_7_days"; step = "6h"; label = "Last 7d"; range = "-168h"; } ); interval = "1h"; };
	contributors = { time_windows = (
		{ file = "last_1_day"; step = "1h"; label = "Last 1d"; range = "-24h"; },
		{ file = "last_6h"; step = "5m"; label = "Last 6h"; range = "-6h"; } ); interval = "1h"; };
};
CONF
once() { # CONF TREE [extra -D...]
	conf=$1 tree=$2
	shift 2
	LAB_S3_ACCESS_KEY_ID=x LAB_S3_SECRET_ACCESS_KEY=y S3_ACCESS_KEY=z "$LABD" -c "$conf" --once --now "$NOW" \
		-D plugin_dir="\"$T/plugins\"" -D 'admin.listen=""' -D 'log.level="info"' \
		-D "plugins.beacon.networks.mainnet.backfill.to_slot=$FROM" "$@" 2>"$T/once.log" ||
		{ cat "$T/once.log" >&2; fail "--once with $conf"; }
	[ -n "$tree" ] || return 0
}
for c in hand python go; do
	once "$T/$c.conf" x -D 'storage.backend="fs"' -D "storage.fs.root=\"$T/tree-$c\"" \
		-D "clickhouse.url=\"$CLICKHOUSE_URL\"" -D 'clickhouse.password=""'
done
ndocs=$(cd "$T/tree-hand" && find . -path ./.lab-meta -prune -o -type f -name '*.json' ! -path './state/*' -print | wc -l)
[ "$ndocs" -ge 40 ] || fail "hand-written run stored only $ndocs documents"
for k in beacon/slots/mainnet/$FROM.json beacon_chain_timings/block_timings/mainnet/last_1_day.json \
	xatu_public_contributors/summary.json config.json; do
	[ -f "$T/tree-hand/$k" ] || fail "hand-written run: no $k"
done
flat() { # TREE -> one line per document: key, then its JSON without processing_time_ms
	# (config.json: its parts, since the order of its module entries follows
	# the order the plugins became ready in)
	(cd "$1" && find . -path ./.lab-meta -prune -o -path ./state -prune -o -type f ! -name config.json -print |
		LC_ALL=C sort | while read -r f; do printf '%s ' "$f"; gzip -dc "$f" | sed 's/"processing_time_ms":[0-9]*,//'; echo; done
	for p in /modules/beacon /modules/beacon_chain_timings /modules/xatu_public_contributors /ethereum; do
		printf 'config.json%s ' "$p"; gzip -dc config.json | "$J" - "$p"
	done)
}
flat "$T/tree-hand" >"$T/hand.flat"
for c in python go; do
	flat "$T/tree-$c" >"$T/$c.flat"
	cmp -s "$T/hand.flat" "$T/$c.flat" || { diff "$T/hand.flat" "$T/$c.flat" | head -5 >&2; fail "$c import: documents differ from the hand-written run"; }
	"$LABCTL" compare --no-progress "$T/tree-hand" "$T/tree-$c" >"$T/cmp.out" 2>&1 ||
		fail "labctl compare hand vs $c: $(cat "$T/cmp.out")"
	grep -q "^total *$ndocs  *0  *0  *0  *0  *0$" "$T/cmp.out" || fail "compare totals: $(cat "$T/cmp.out")"
done
grep -q '"min_client_versions":{"grandine":"1.0.0"' "$T/hand.flat" || fail "config.json min_client_versions"
pass "--once with either imported config stores the documents of the hand-written one ($ndocs documents; labctl compare: equal)"

# ---- 4. shadow run in the same bucket under storage.prefix -----------------
urlenc() { # KEY -> the key percent-encoded except unreserved bytes and '/'
	printf '%s' "$1" | od -An -tu1 -v | awk '{ for (i = 1; i <= NF; i++) { c = $i
		if ((c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c == 45 || c == 46 || c == 95 || c == 126 || c == 47)
			printf "%c", c; else printf "%%%02X", c } }'
}
s3() { # METHOD KEY [curl args]: path-style, signed
	m=$1
	case $2 in '?'*) k=$2 ;; *) k=$(urlenc "$2") ;; esac
	shift 2
	curl -sS -o "$T/s3.body" -w '%{http_code}' -X "$m" --aws-sigv4 "aws:amz:us-east-1:s3" \
		--user "$S3_ACCESS_KEY_ID:$S3_SECRET_ACCESS_KEY" -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" \
		"$@" "$S3_ENDPOINT/$S3_BUCKET/$k"
}
# The old backend's objects: the hand-written tree's documents at the root.
(cd "$T/tree-hand" && find . -path ./.lab-meta -prune -o -path ./state -prune -o -type f -print | sed 's|^\./||') >"$T/old.keys"
while read -r k; do
	code=$(s3 PUT "$k" -H "Content-Encoding: gzip" -H "Content-Type: application/json" --data-binary "@$T/tree-hand/$k")
	[ "$code" = 200 ] || fail "upload $k: HTTP $code"
done <"$T/old.keys"
sums() { while read -r k; do s3 GET "$k" >/dev/null; sha256sum <"$T/s3.body"; done <"$T/old.keys"; }
sums >"$T/old.before"
once "$T/python.conf" "" -D "storage.s3.endpoint=\"$S3_ENDPOINT\"" -D "storage.s3.bucket=\"$S3_BUCKET\"" \
	-D 'storage.prefix="shadow/labd"' -D "clickhouse.url=\"$CLICKHOUSE_URL\"" -D 'clickhouse.password=""' \
	-D "storage.s3.access_key_id=\"$S3_ACCESS_KEY_ID\"" -D "storage.s3.secret_access_key=\"$S3_SECRET_ACCESS_KEY\""
sums >"$T/old.after"
cmp -s "$T/old.before" "$T/old.after" || fail "the shadow run changed the old backend's objects"
S3_URL_STYLE=path
export S3_URL_STYLE
"$CMP" --no-progress --json --exclude shadow/ "s3://$S3_BUCKET" "s3://$S3_BUCKET/shadow/labd" >"$T/cmp.json" 2>"$T/cmp.err" ||
	fail "compare root vs shadow prefix: $(cat "$T/cmp.err"; head -c 600 "$T/cmp.json")"
[ "$("$J" "$T/cmp.json" /total/equal)" = "$ndocs" ] || fail "root vs prefix: equal $("$J" "$T/cmp.json" /total)"
"$CMP" --no-progress "s3://$S3_BUCKET/shadow/labd" "$T/tree-python" >"$T/cmp.out" 2>&1 || fail "S3 prefix vs local tree: $(cat "$T/cmp.out")"
grep -q "^total *$ndocs  *0  *0  *0  *0  *0$" "$T/cmp.out" || fail "S3 vs fs totals: $(cat "$T/cmp.out")"
pass "shadow run: old objects untouched, labd under storage.prefix; compare S3 vs S3 and S3 vs fs: equal"

# ---- 5. planted differences --------------------------------------------------
cp -r "$T/tree-hand" "$T/planted"
P=$T/planted
edit() { # KEY SED-EXPR: rewrite a stored document (gzip, like the fs backend)
	gzip -dc "$P/$1" | sed "$2" | gzip >"$P/$1.new" && mv "$P/$1.new" "$P/$1"
}
BT=beacon_chain_timings/block_timings/mainnet
# (a) a number beyond the tolerance; the same document also gets a change within it
gzip -dc "$P/$BT/last_1_day.json" >"$T/bt.json"
first_max=$(sed -n 's/.*"maxs":\[\([^],]*\).*/\1/p' "$T/bt.json")
[ -n "$first_max" ] || fail "fixture: no maxs in $(cat "$T/bt.json")"
edit $BT/last_1_day.json 's/"maxs":\[[^],]*/"maxs":[99999.5/'
# ... and a change within it (--tolerance 1e-6): the first p50 gets a digit far behind the point
grep -q '"p50s":\[[0-9]*\.[0-9]*[],]' "$T/bt.json" || fail "fixture: p50s[0] is not a decimal: $(cat "$T/bt.json")"
edit $BT/last_1_day.json 's/"p50s":\[\([0-9]*\.[0-9]*\)/"p50s":[\10000001/'
# (b) missing, (c) extra
rm "$P/beacon/slots/mainnet/$FROM.json"
cp "$P/beacon/slots/mainnet/$((FROM + 1)).json" "$P/beacon/slots/mainnet/8999999.json"
# (d) order does not matter: the countries of one time bucket reversed
CK=xatu_public_contributors/countries/mainnet/last_6h.json
gzip -dc "$P/$CK" >"$T/c.json"
n0=$("$J" "$T/c.json" /0/countries | tr -cd '{' | wc -c)
[ "$n0" -ge 2 ] || fail "fixture: the first countries bucket has $n0 entries"
gzip -dc "$P/$CK" | awk '{
	# reverse the first "countries" list: split its elements and write them backwards
	i = index($0, "\"countries\":[") + 13; j = index(substr($0, i), "]") + i - 1
	n = split(substr($0, i, j - i), e, "},{")
	out = ""; for (k = n; k >= 1; k--) { x = e[k]; if (k > 1) x = "{" x; if (k < n) x = x "}"; out = out (out == "" ? "" : ",") x }
	gsub(/^{{/, "{", out); gsub(/}}$/, "}", out)
	print substr($0, 1, i - 1) out substr($0, j) }' | gzip >"$P/$CK.new" && mv "$P/$CK.new" "$P/$CK"
[ "$(gzip -dc "$P/$CK" | "$J" - /0/countries/0)" != "$("$J" "$T/c.json" /0/countries/0)" ] || fail "countries were not reordered"
# (e) order matters: the time buckets of a users document reversed
UK=xatu_public_contributors/users/mainnet/last_6h.json
gzip -dc "$P/$UK" >"$T/u.json"
"$J" "$T/u.json" /1/time >/dev/null || fail "fixture: $UK has one time bucket"
# (the document has no final newline: add one for sed and tac)
{ gzip -dc "$P/$UK"; echo; } | sed 's/^\[{//; s/}\]$//; s/},{"time"/\n"time"/g' | tac |
	awk 'BEGIN { ORS = "" } NR > 1 { print "},{" } { print }' | sed 's/^/[{/; s/$/}]/' | gzip >"$P/$UK.new"
mv "$P/$UK.new" "$P/$UK"
nt=$(grep -o '"time"' "$T/u.json" | wc -l)
[ "$(gzip -dc "$P/$UK" | "$J" - /0/time)" = "$("$J" "$T/u.json" /$((nt - 1))/time)" ] &&
	[ "$(gzip -dc "$P/$UK" | "$J" - /$((nt - 1))/time)" = "$("$J" "$T/u.json" /0/time)" ] ||
	fail "users buckets not reversed: $(gzip -dc "$P/$UK" | head -c 300)"
"$CMP" --no-progress --json --tolerance 1e-6 "$T/tree-hand" "$P" >"$T/planted.json" 2>"$T/planted.err"
[ $? -eq 1 ] || fail "planted: exit 1 expected: $(cat "$T/planted.err")"
t() { "$J" "$T/planted.json" "/total/$1"; }
[ "$(t different)" = 2 ] && [ "$(t only_a)" = 1 ] && [ "$(t only_b)" = 1 ] && [ "$(t error)" = 0 ] &&
	[ "$(t equal)" = $((ndocs - 3)) ] || fail "planted totals: $("$J" "$T/planted.json" /total)"
grep -q "{\"key\":\"$BT/last_1_day.json\",\"status\":\"different\",\"real\":1,\"intentional\":0,\"differences\":\[{\"path\":\"\$.maxs\[0\]\",\"a\":$first_max,\"b\":99999.5" "$T/planted.json" ||
	fail "planted (a): $(cat "$T/planted.json")"
grep -q "{\"key\":\"$UK\",\"status\":\"different\"" "$T/planted.json" || fail "planted (e) not reported"
grep -q "{\"key\":\"beacon/slots/mainnet/$FROM.json\",\"status\":\"only_a\"}" "$T/planted.json" || fail "planted (b)"
grep -q "{\"key\":\"beacon/slots/mainnet/8999999.json\",\"status\":\"only_b\"}" "$T/planted.json" || fail "planted (c)"
! grep -q "$CK" "$T/planted.json" || fail "planted (d): a reordered countries list is not a difference"
[ "$("$J" "$T/planted.json" /prefixes/beacon~1slots~1mainnet~1/only_a)" = 1 ] || fail "per-prefix summary"
# The text report says the same.
"$CMP" --no-progress "$T/tree-hand" "$P" >"$T/planted.txt" 2>&1
grep -q "^$BT/ *1  *1  *0  *0  *0  *0$" "$T/planted.txt" || fail "text summary: $(cat "$T/planted.txt")"
grep -q "\$.maxs\[0\]: A $first_max, B 99999.5" "$T/planted.txt" || fail "text difference: $(cat "$T/planted.txt")"
grep -q "^only_a: beacon/slots/mainnet/$FROM.json" "$T/planted.txt" || fail "text only_a"
pass "planted differences reported exactly: beyond tolerance, missing, extra, reordered where order matters (not where it does not)"

# ---- 6. --profile original, --align-windows ---------------------------------
rm -rf "$T/orig" "$T/new"
mkdir -p "$T/orig/beacon/slots/mainnet" "$T/new/beacon/slots/mainnet" \
	"$T/orig/xatu_public_contributors/user-summaries/users" "$T/new/xatu_public_contributors/user-summaries/users" \
	"$T/orig/$BT" "$T/new/$BT"
echo '{"slot":1,"network":"beacon_slot","nodes":{"c1":{"geo":{"city":null,"latitude":-100,"longitude":40}}}}' >"$T/orig/beacon/slots/mainnet/1.json"
echo '{"slot":1,"network":"mainnet","nodes":{"c1":{"geo":{"city":null,"latitude":40,"longitude":-100}}}}' >"$T/new/beacon/slots/mainnet/1.json"
# a name labd escapes (SPEC §9.2: '?' is never part of a raw key)
echo '{"name":"a?b","nodes":[]}' >"$T/orig/xatu_public_contributors/user-summaries/users/a?b.json"
echo '{"name":"a?b","nodes":[]}' >"$T/new/xatu_public_contributors/user-summaries/users/a%3Fb.json"
"$CMP" --no-progress --profile original "$T/orig" "$T/new" >"$T/prof.txt" 2>&1 || fail "--profile original: $(cat "$T/prof.txt")"
grep -q "^total *0  *0  *0  *0  *2  *0$" "$T/prof.txt" || fail "--profile original totals: $(cat "$T/prof.txt")"
grep -q "network: A \"beacon_slot\", B \"mainnet\"  -- the original wrote" "$T/prof.txt" || fail "profile: network"
grep -q "swapped the continent centres" "$T/prof.txt" || fail "profile: geo"
grep -q "(B: xatu_public_contributors/user-summaries/users/a%3Fb.json)" "$T/prof.txt" || fail "profile: escaped key"
"$CMP" --no-progress "$T/orig" "$T/new" >/dev/null 2>&1
[ $? -eq 1 ] || fail "without the profile these are differences"
# Windows computed one bucket apart: the overlap, less its edges, is equal.
echo '{"timestamps":[0,10,20,30],"mins":[5,1,2,7],"blocks":[1,2,3,4]}' >"$T/orig/$BT/w.json"
echo '{"timestamps":[10,20,30,40],"mins":[9,2,8,1],"blocks":[9,3,9,9]}' >"$T/new/$BT/w.json"
"$CMP" --no-progress --profile original --align-windows "$T/orig" "$T/new" >"$T/al.txt" 2>&1 || fail "--align-windows: $(cat "$T/al.txt")"
"$CMP" --no-progress --profile original "$T/orig" "$T/new" >/dev/null 2>&1
[ $? -eq 1 ] || fail "without --align-windows the windows differ"
pass "--profile original reports labd's documented differences as intentional; --align-windows compares the overlap"

# ---- 7. compare: bad input ----------------------------------------------------
snapshot() { (cd "$T/tree-hand" && find . -type f -exec sha256sum {} + | sort); s3 GET "?list-type=2" >/dev/null; cat "$T/s3.body"; }
snapshot >"$T/snap.before"
bad_cmp() { # EXPECTED-MESSAGE ARGS...
	msg=$1
	shift
	"$CMP" --no-progress "$@" >"$T/bc.out" 2>"$T/bc.err"
	rc=$?
	[ $rc -eq 2 ] || fail "compare $*: exit $rc, want 2: $(cat "$T/bc.err")"
	grep -q "$msg" "$T/bc.err" "$T/bc.out" || fail "compare $*: message: $(cat "$T/bc.err" "$T/bc.out")"
}
bad_cmp "s3://no-such-bucket: listing failed: HTTP 404 NoSuchBucket" "s3://no-such-bucket" "$T/tree-hand"
# (s3rver accepts any secret for its key id, so the key id is the wrong one)
(LABCTL_A_S3_ACCESS_KEY_ID=NOBODY
	export LABCTL_A_S3_ACCESS_KEY_ID
	bad_cmp "listing failed: HTTP 403 InvalidAccessKeyId.*(credentials refused)" "s3://$S3_BUCKET" "$T/tree-hand") || exit 1
bad_cmp "$T/nowhere: No such file" "$T/nowhere" "$T/tree-hand"
[ ! -e "$T/nowhere" ] || fail "compare created a missing directory"
cp -r "$T/tree-hand" "$T/broken"
printf 'not json at all' | gzip >"$T/broken/beacon/slots/mainnet/$FROM.json"
printf '\037\213\010\000garbage-after-the-gzip-magic' >"$T/broken/$BT/last_1_day.json"
bad_cmp "1 document could not be compared\|2 documents could not be compared" "$T/tree-hand" "$T/broken"
grep -q "^error: beacon/slots/mainnet/$FROM.json" "$T/bc.out" && grep -q "B: not a JSON document" "$T/bc.out" || fail "non-JSON: $(cat "$T/bc.out")"
grep -q "^error: $BT/last_1_day.json" "$T/bc.out" && grep -q "B: the stored body is not valid gzip" "$T/bc.out" || fail "corrupt gzip: $(cat "$T/bc.out")"
snapshot >"$T/snap.after"
cmp -s "$T/snap.before" "$T/snap.after" || fail "compare wrote something"
pass "compare: missing bucket, refused credentials, non-JSON, corrupt gzip named; exit 2; nothing written"
