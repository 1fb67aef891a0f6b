#!/bin/sh
# contributors plugin against a real ClickHouse 18.16 with generated data
# (docs/plugins/contributors.md).  Two networks: mainnet with 42 clients (so
# every hostile client name of the generator is present) and sepolia with 12
# clients and a genesis 6 s later (client names shared by both networks have
# a unique latest event).  `labd --once --plugin contributors --now T` runs
# all four processors; every document is flattened by tests/contrib-check and
# compared with expectations computed by DIFFERENT SQL here (DISTINCT + count
# instead of uniqExact, splitByChar instead of the regular expressions,
# argMax instead of ORDER BY + LIMIT 1 BY, substring instead of LIKE; the
# plugin's reverse/position and arrayFirst username rules against splitByChar
# and the original's regular expression — the latter is exact here because
# the fixture's names that take that rule are valid UTF-8).
# Then: storage key safety, the username → key mapping (SPEC §9.2; more in
# contributors-keys.sh), state, --once with no rows (nothing written),
# configuration errors with file:line; serve mode
# over NATS: the first check stores everything and announces every document
# on lab.contributors.updated, lab.contributors.run forces another pass.
[ "${1:-}" = --inner ] || exec "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/services/with-services.sh" clickhouse,nats -- "$0" --inner
. "$top_srcdir/tests/integration/lib.sh"

CHECK="$top_builddir/tests/contrib-check"
GEN="$top_builddir/tests/fixtures/xatu-gen"
[ -x "$CHECK" ] || make -C "$top_builddir" tests/contrib-check >/dev/null || fail "cannot build tests/contrib-check"
[ -x "$GEN" ] || make -C "$top_builddir" tests/fixtures/xatu-gen >/dev/null || fail "cannot build xatu-gen"

GENESIS=1700000000
NOW_UNIX=$((GENESIS + 400 * 12))
NOW=$(date -u -d "@$NOW_UNIX" +%Y-%m-%dT%H:%M:%SZ)

"$top_srcdir/tests/fixtures/load-schema.sh" "$CLICKHOUSE_URL" >/dev/null || fail "schema"
"$GEN" --network mainnet --genesis $GENESIS --from-slot 0 --to-slot 399 --clients 42 \
	--validators 256 --out "$T/gen1" >/dev/null || fail "xatu-gen mainnet"
"$GEN" --network sepolia --genesis $((GENESIS + 6)) --from-slot 200 --to-slot 399 --clients 12 \
	--validators 256 --seed 2 --out "$T/gen2" >/dev/null || fail "xatu-gen sepolia"
for d in gen1 gen2; do
	"$top_srcdir/tests/fixtures/load.sh" "$CLICKHOUSE_URL" "$T/$d" >/dev/null || fail "load $d"
done

stage_plugins
[ -f "$T/plugins/contributors.so" ] || fail "contributors.so was not built"
cat >"$T/labd.conf" <<CONF
log = { level = "info"; format = "logfmt"; };
admin = { listen = ""; };
plugin_dir = "$T/plugins";
storage = { backend = "fs"; fs = { root = "$T/data"; }; };
clickhouse = { url = "$CLICKHOUSE_URL"; database = "default"; };
broker = { backend = "local"; };
plugins = {
	contributors = {
		networks = [ "mainnet", "sepolia", "holesky" ];
		time_windows = (
			{ file = "last_1h"; step = "10m"; label = "Last 1h"; range = "-1h"; },
			{ file = "last_2h"; step = "1h"; label = "Last 2h"; range = "-2h"; }
		);
	};
};
CONF

q() {
	curl -sS --fail --data-binary "$1" "$CLICKHOUSE_URL/?database=default" || fail "query: $1"
}

# ---- 0. configuration errors ---------------------------------------------------
# (-D sets single values only: the list cases are whole config files)
badconf() {
	sed "/^	contributors = {/,/^	};/c\\
	contributors = { $1 };" "$T/labd.conf" >"$T/bad.conf"
	if "$LABD" -t -c "$T/bad.conf" >"$T/t.log" 2>&1; then fail "labd -t accepted: $1"; fi
	grep -q 'plugin=contributors.*bad.conf:[0-9]*: ' "$T/t.log" || { cat "$T/t.log" >&2; fail "no file:line error for: $1"; }
}
badconf 'interval = "0s";'
badconf 'networks = [ "main/net" ];'
badconf 'networks = [ "mainnet", "mainnet" ];'
badconf 'time_windows = ( { file = "../x"; step = "1h"; range = "-1h"; } );'
badconf 'time_windows = ( { file = "a"; step = "1h"; range = "1h"; } );'
badconf 'time_windows = ( { file = "a"; step = "0s"; range = "-1h"; } );'
badconf 'time_windows = ( { file = "a"; step = "1h"; range = "-1h"; }, { file = "a"; step = "1h"; range = "-2h"; } );'
"$LABD" -t -c "$T/labd.conf" >"$T/t.log" 2>&1 || { cat "$T/t.log" >&2; fail "labd -t rejects the test config"; }
"$LABD" --describe contributors -c "$T/labd.conf" >"$T/describe.txt" 2>&1 || fail "--describe"
grep -q 'time_windows' "$T/describe.txt" || fail "--describe lacks time_windows"
pass "configuration errors name file:line; --describe lists the settings"

# ---- 1. one pass ----------------------------------------------------------------
"$LABD" -c "$T/labd.conf" --once --plugin contributors --now "$NOW" 2>"$T/labd.log" || fail "labd --once failed"
P="$T/data/xatu_public_contributors"
for f in summary.json countries/mainnet/last_1h.json countries/mainnet/last_2h.json \
	countries/sepolia/last_1h.json users/mainnet/last_1h.json users/sepolia/last_2h.json \
	user-summaries/summary.json user-summaries/users/ethpandaops.json; do
	[ -f "$P/$f" ] || fail "missing $f"
done
[ ! -e "$P/countries/holesky" ] || fail "a document for holesky, which has no rows"
un() { gunzip -c "$P/$1" >"$T/doc.json" 2>/dev/null || cp "$P/$1" "$T/doc.json"; }
pass "labd --once wrote summary, countries, users and user summaries"

# Fixture-specific: the plugin replaces invalid UTF-8 bytes by U+FFFD; the
# hostile names' only invalid bytes are 0xFF, 0xFE and 0xC3 before '('.
fix() {
	echo "replaceAll(replaceAll(replaceAll($1, '\\xFF', '\\xEF\\xBF\\xBD'), '\\xFE', '\\xEF\\xBF\\xBD'), '\\xC3(', '\\xEF\\xBF\\xBD(')"
}
hx() { echo "if($1 = '', '-', hex($1))"; }
PUB="meta_client_name != '' AND slot_start_date_time >= toDateTime(%d) AND slot_start_date_time <= toDateTime($NOW_UNIX)"
NOTEPO="substring(meta_client_name, 1, 11) != 'ethpandaops'"

# ---- 2. summary.json -----------------------------------------------------------
un summary.json
"$CHECK" summary "$T/doc.json" | sort >"$T/got" || fail "summary.json is not the expected JSON"
S=$((NOW_UNIX - 3600))
NODES="(SELECT DISTINCT meta_network_name AS net, meta_client_geo_country AS country,
	meta_client_geo_continent_code AS continent, meta_client_geo_city AS city,
	meta_client_name AS name, meta_consensus_implementation AS cons
	FROM beacon_api_eth_v1_events_block FINAL WHERE $(printf "$PUB" $S)
	AND meta_network_name IN ('mainnet', 'sepolia', 'holesky'))"
NP="countIf(substring(name, 1, 11) != 'ethpandaops')"
{
	q "SELECT net, '-', '-', count(), $NP FROM $NODES GROUP BY net"
	echo "holesky	-	-	0	0"
	for d in countries:country continents:continent cities:city consensus_implementations:cons; do
		q "SELECT net, '${d%%:*}', $(hx "${d#*:}"), count(), $NP FROM $NODES GROUP BY net, ${d#*:}"
	done
} | sort >"$T/want"
[ -s "$T/want" ] || fail "no expected summary rows"
diff "$T/want" "$T/got" >"$T/diff" || { head -20 "$T/diff" >&2; fail "summary.json differs from the expectation"; }
grep -q 'ethpandaops' "$T/gen1/manifest" 2>/dev/null || true
n=$(awk -F'\t' '$1 == "mainnet" && $2 == "-" && $4 != $5' "$T/got" | wc -l)
[ "$n" = 1 ] || fail "summary: public and total nodes should differ on mainnet (ethpandaops nodes)"
pass "summary.json: totals, public nodes and the four maps of 3 networks ($(wc -l <"$T/want") lines) match"

# ---- 3. countries and users per window ------------------------------------------
# username of /([^/]+)/[^/]+$ without regular expressions: the second-to-last
# '/'-separated part, when there are >= 3 parts and the last two are non-empty
USERNAME="if(length(p) >= 3 AND p[-1] != '' AND p[-2] != '', p[-2], '')"
nwin=0
for w in last_1h:600:3600 last_2h:3600:7200; do
	file=${w%%:*}
	rest=${w#*:}
	step=${rest%%:*}
	S=$((NOW_UNIX - ${rest#*:}))
	for net in mainnet sepolia; do
		un "countries/$net/$file.json"
		"$CHECK" series "$T/doc.json" countries value >"$T/got" || fail "countries/$net/$file.json"
		q "SELECT t, $(hx k), count() FROM (SELECT DISTINCT intDiv(toUInt32(slot_start_date_time), $step) * $step AS t,
			meta_client_geo_country AS k, meta_client_name FROM beacon_api_eth_v1_events_block FINAL
			WHERE $(printf "$PUB" $S) AND $NOTEPO AND meta_network_name = '$net')
			GROUP BY t, k ORDER BY t, k" >"$T/want"
		[ -s "$T/want" ] || fail "no expected rows for countries/$net/$file"
		diff "$T/want" "$T/got" >"$T/diff" || { head -20 "$T/diff" >&2; fail "countries/$net/$file.json differs"; }
		un "users/$net/$file.json"
		"$CHECK" series "$T/doc.json" users nodes >"$T/got" || fail "users/$net/$file.json"
		q "SELECT t, $(hx "$(fix u)"), count() FROM (SELECT DISTINCT intDiv(toUInt32(slot_start_date_time), $step) * $step AS t,
			splitByChar('/', meta_client_name) AS p, $USERNAME AS u, meta_client_name
			FROM beacon_api_eth_v1_events_block FINAL
			WHERE $(printf "$PUB" $S) AND $NOTEPO AND meta_network_name = '$net')
			GROUP BY t, u ORDER BY t, u" >"$T/want"
		diff "$T/want" "$T/got" >"$T/diff" || { head -20 "$T/diff" >&2; fail "users/$net/$file.json differs"; }
		nwin=$((nwin + 2))
	done
done
# the hostile names reach users as escaped JSON: the control-byte user, the NUL user, '..'
un users/mainnet/last_2h.json
"$CHECK" series "$T/doc.json" users nodes | cut -f2 | sort -u >"$T/users"
for u in 2E2E 6E756C00757365 75730965720A6E616D6501 EFBFBDEFBFBD75736572 6A C3BC; do
	grep -q "$u" "$T/users" || fail "users: no username containing hex $u"
done
pass "countries and users: $nwin documents (2 networks x 2 windows) match distinct counts per bucket"

# ---- 4. user summaries ----------------------------------------------------------
S=$((NOW_UNIX - 86400))
UNAME="multiIf(substring(name, 1, 3) = 'pub', if(length(p) >= 3 AND p[-1] != '' AND p[-2] != '', p[-2], ''),
	substring(name, 1, 11) = 'ethpandaops', 'ethpandaops',
	extractAll(name, '/([^/]+)/[^/]+/')[1])"
q "SELECT $(hx "$(fix u)"), x.1, $(hx "$(fix name)"), x.2, x.3, $(hx x.4), $(hx x.5), x.6, x.7, x.8, x.9, x.10
	FROM (SELECT name, splitByChar('/', name) AS p, $UNAME AS u, x FROM (
	SELECT meta_client_name AS name, argMax(tuple(meta_network_name, meta_consensus_implementation,
		meta_consensus_version, meta_client_geo_country, meta_client_geo_city,
		meta_client_geo_continent_code, slot, toUnixTimestamp(slot_start_date_time),
		meta_client_implementation, meta_client_version),
		tuple(slot_start_date_time, event_date_time)) AS x
	FROM beacon_api_eth_v1_events_block FINAL
	WHERE $(printf "$PUB" $S) AND meta_network_name IN ('mainnet', 'sepolia', 'holesky')
	GROUP BY name)) ORDER BY u, name" >"$T/rows"
awk -F'\t' 'NR == FNR { c[$1]++; next } { $1 = $1 "\t" c[$1]; print }' OFS='\t' "$T/rows" "$T/rows" >"$T/want"
un user-summaries/summary.json
"$CHECK" users "$T/doc.json" >"$T/got" || fail "user-summaries/summary.json"
diff "$T/want" "$T/got" >"$T/diff" || { head -20 "$T/diff" >&2; fail "user-summaries/summary.json differs"; }
awk -F'\t' '$3 == "sepolia"' "$T/got" | grep -q . || fail "user summaries: no node on sepolia"
nusers=$(cut -f1 "$T/want" | sort -u | wc -l)
nfiles=$(ls "$P/user-summaries/users" | wc -l)
[ "$nusers" = "$nfiles" ] || fail "user summaries: $nusers users but $nfiles files"
# every user file holds exactly that user's nodes of the summary
for f in "$P"/user-summaries/users/*.json; do
	gunzip -c "$f" >"$T/doc.json" 2>/dev/null || cp "$f" "$T/doc.json"
	"$CHECK" user "$T/doc.json" >"$T/u" || fail "$f"
	h=$(head -n 1 "$T/u" | cut -f1)
	awk -F'\t' -v h="$h" '$1 == h' "$T/got" | cut -f1,3- >"$T/w"
	diff "$T/w" "$T/u" >/dev/null || fail "$(basename "$f") differs from its summary entry"
done
pass "user summaries: $nusers users and their latest nodes match (argMax), one file per user"

# ---- 5. keys ---------------------------------------------------------------------
# SPEC §9.2: user documents are stored under the raw name when it is safe,
# under the escaped form otherwise; every other segment is [A-Za-z0-9._-].
U="$P/user-summaries/users"
bad=$(cd "$T/data" && find . -type f | sed 's|^\./||' | grep -v '^state/' | grep -v '^\.' |
	grep -v '^xatu_public_contributors/user-summaries/users/' | tr '/' '\n' |
	grep -Ev '^[A-Za-z0-9._-]+$|^$' | head -n 3)
[ -z "$bad" ] || fail "unsafe key segments: $bad"
find "$P" \( -name . -o -name .. \) -print | grep -q . && fail "a . or .. segment"
for k in '%2E%2E' '%2E' '%252e%252e' 'nul%00user' 'us%09er%0Aname%01' '%FF%FEuser' '%22quote%5Cback' \
	'%he3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855' ethpandaops "$(printf 'j\303\274rgen')"; do
	[ -f "$U/$k.json" ] || fail "no user file $k.json"
done
[ ! -e "$U/j%C3%BCrgen.json" ] || fail "jürgen is stored under its escaped key"
# the 300-byte username is hashed: its sha256, computed here by sha256sum
h=$(printf 'u%.0s' $(seq 300) | sha256sum | cut -c1-64)
[ -f "$U/%h$h.json" ] || fail "the 300-byte username is not stored as %h<sha256>"
pass "hostile usernames are percent-encoded or hashed, jürgen is stored under its raw name"

# ---- 6. state ----------------------------------------------------------------------
ST="$T/data/state/modules/contributors.json"
gunzip -c "$ST" >"$T/state.json" 2>/dev/null || cp "$ST" "$T/state.json"
for p in summary countries users user_summaries; do
	[ "$("$top_builddir/tests/json-get" "$T/state.json" "/$p/last_processed")" = "$NOW_UNIX" ] ||
		fail "state: $p.last_processed is not $NOW_UNIX"
done
for p in countries users; do
	for w in last_1h last_2h; do
		[ "$("$top_builddir/tests/json-get" "$T/state.json" "/$p/last_processed_windows/$w")" = "$NOW_UNIX" ] ||
			fail "state: $p window $w not recorded"
	done
done
pass "state: last_processed and last_processed_windows are the run's time"

# ---- 7. no rows, no write ---------------------------------------------------------
rm -rf "$T/data"
LATER=$(date -u -d "@$((NOW_UNIX + 3 * 86400))" +%Y-%m-%dT%H:%M:%SZ)
"$LABD" -c "$T/labd.conf" --once --plugin contributors --now "$LATER" 2>"$T/labd.log" || fail "--once without rows failed"
[ ! -e "$P" ] || { find "$P" >&2; fail "documents were written without rows"; }
pass "no rows: --once succeeds and writes no document"

# ---- 8. serve mode over NATS: events and lab.contributors.run -------------------------
SUB="$top_builddir/tests/nats-sub"
[ -x "$SUB" ] || make -C "$top_builddir" tests/nats-sub >/dev/null 2>&1
if [ ! -x "$SUB" ]; then
	echo "skip: events over NATS (no tests/nats-sub: labd built without nats.c)"
	exit 0
fi
rm -rf "$T/data"
sed -i "s|^broker = .*|broker = { backend = \"nats\"; nats = { url = \"$NATS_URL\"; }; subject_prefix = \"lab\"; };|" "$T/labd.conf"
per_pass=$((10 + nusers))
"$SUB" sub "$NATS_URL" lab.contributors.updated $((2 * per_pass)) 30 >"$T/events" 2>&1 &
SUB_PID=$!
wait_for 'grep -q ready "$T/events"' || fail "nats-sub did not subscribe"
"$LABD" -c "$T/labd.conf" --now "$NOW" 2>"$T/labd.log" &
LABD_PID=$!
i=0
while [ "$(grep -c '^lab.contributors.updated' "$T/events")" -lt $per_pass ]; do
	i=$((i + 1)); [ $i -lt 300 ] || fail "only $(grep -c '^lab' "$T/events") of $per_pass events after the first pass"
	sleep 0.1
done
grep -qF 'lab.contributors.updated {"kind":"countries","network":"sepolia","window":"last_2h","key":"xatu_public_contributors/countries/sepolia/last_2h.json"}' "$T/events" ||
	fail "no countries event for sepolia/last_2h"
grep -qF 'lab.contributors.updated {"kind":"summary","key":"xatu_public_contributors/summary.json"}' "$T/events" ||
	fail "no summary event"
grep -qF '"key":"xatu_public_contributors/user-summaries/users/%2E%2E.json"}' "$T/events" || fail "no event for the user '..'"
[ -f "$P/summary.json" ] || fail "serve mode stored no summary"
gunzip -c "$T/data/config.json" >"$T/config.json" 2>/dev/null || cp "$T/data/config.json" "$T/config.json"
JG="$top_builddir/tests/json-get"
[ "$("$JG" "$T/config.json" /modules/xatu_public_contributors/time_windows/1/range)" = "-2h" ] &&
	[ "$("$JG" "$T/config.json" /modules/xatu_public_contributors/networks/2)" = holesky ] ||
	fail "config.json lacks the contributors module entry"
"$SUB" pub "$NATS_URL" lab.contributors.run '{}' || fail "cannot publish lab.contributors.run"
wait "$SUB_PID" || { tail -3 "$T/events" >&2; fail "lab.contributors.run did not announce $per_pass more documents"; }
n=$(grep -c 'msg="pass finished" failed=0' "$T/labd.log")
[ "$n" = 2 ] || fail "expected 2 passes, saw $n"
kill -TERM "$LABD_PID"; wait "$LABD_PID" || fail "labd did not stop cleanly"; LABD_PID=""
pass "serve mode: config.json entry; $per_pass documents announced on lab.contributors.updated per pass; lab.contributors.run forces a pass"
