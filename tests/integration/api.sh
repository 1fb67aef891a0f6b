#!/bin/sh
# The api plugin (issue 16, docs/api.md) against a real labd with fs storage
# holding fixture documents, with real clients: curl for documents, REST,
# CORS, conditional requests and SSE; Python's websockets (Debian
# python3-websockets) for the WebSocket.  Events are published through the
# admin API (POST /publish/SUBJECT), as a writer daemon would publish them.
. "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3
"$PY" -c 'import websockets' 2>/dev/null || { echo "SKIP: python3-websockets is not installed"; exit 77; }
J="$top_builddir/tests/json-get"
[ -x "$J" ] || fail "$J not built"

ADMIN_TOKEN=api-$$-token
AUTH="Authorization: Bearer $ADMIN_TOKEN"
HP=$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
H=http://127.0.0.1:$HP
NOW=2025-01-02T03:04:05Z # mainnet slot (1735787045 - 1606824023) / 12 = 10746918
stage_plugins
write_conf 'api = { cors_origins = ( "https://lab.example" ); replay_events = 8; missing_ttl = "0s"; };'
cat >>"$T/labd.conf" <<CONF
http = { listen = "127.0.0.1:$HP"; };
ethereum = { networks = ( { name = "mainnet"; genesis_time = 1606824023;
	config_file = "$top_srcdir/etc/networks/mainnet.yaml"; } ); };
CONF

# Fixture documents as the writers store them: gzip bytes under the key.
put() { # KEY JSON
	mkdir -p "$(dirname "$T/data/$1")"
	printf '%s' "$2" | gzip -c >"$T/data/$1.tmp" && mv "$T/data/$1.tmp" "$T/data/$1"
}
SLOT='{"slot":100,"network":"mainnet","v":1}'
put beacon/slots/mainnet/100.json "$SLOT"
put beacon_chain_timings/block_timings/mainnet/last_30_days.json '{"timestamps":[1,2]}'
put xatu_public_contributors/summary.json '{"updated_at":1,"networks":{}}'
put xatu_public_contributors/user-summaries/users/J%C3%BCrgen.json '{"name":"x"}'
put "xatu_public_contributors/user-summaries/users/$(printf 'Bj\303\266rn').json" '{"name":"Bjorn"}'
put state/modules/api.json '{"secret":true}'
# a key storage cannot read: gzip magic, then garbage (a torn or corrupt object)
printf '\037\213\010\000garbage-garbage-garbage' >"$T/data/beacon/slots/mainnet/555.json"

start_labd --now "$NOW"
wait_for 'grep -q "msg=\"api started\"" "$T/labd.log"' || fail "api did not start"
GZ=$(sed -n 's/.*msg="api started".* gzip=\([a-z]*\).*/\1/p' "$T/labd.log")

# get PATH [curl args...]: CODE, BODY, and the headers in $T/h (lower-case names).
get() {
	p=$1; shift
	rm -f "$T/b" "$T/h.raw" # curl leaves -o alone when there is no body
	: >"$T/b"
	CODE=$(curl -s -D "$T/h.raw" -o "$T/b" -w '%{http_code}' "$@" "$H$p") || CODE=000
	tr -d '\r' <"$T/h.raw" | sed 's/^\([^:]*\):/\L\1:/' >"$T/h"
	BODY=$(cat "$T/b")
}
hdr() { sed -n "s/^$1: //p" "$T/h" | head -n 1; }
pub() { # SUBJECT JSON
	c=$(curl -s -o /dev/null -w '%{http_code}' -X POST -H "$AUTH" --data-binary "$2" \
		"http://127.0.0.1:$PORT/publish/$1")
	[ "$c" = 202 ] || fail "publish $1: $c"
}

# ---- documents
get /beacon/slots/mainnet/100.json
[ "$CODE" = 200 ] && [ "$BODY" = "$SLOT" ] || fail "slot document: $CODE $BODY"
[ "$(hdr content-type)" = application/json ] || fail "content-type: $(hdr content-type)"
[ "$(hdr cache-control)" = "public, max-age=86400, s-maxage=86400" ] || fail "cache-control: $(hdr cache-control)"
ETAG=$(hdr etag)
echo "$ETAG" | grep -Eq '^"[0-9a-f]{32}"$' || fail "etag: $ETAG"
[ -n "$(hdr last-modified)" ] || fail "no Last-Modified"
get /beacon_slots/slots/mainnet/100.json
[ "$CODE" = 200 ] && [ "$BODY" = "$SLOT" ] || fail "Go-era alias: $CODE $BODY"
get /beacon/slots/mainnet/100.json -H "If-None-Match: $ETAG"
[ "$CODE" = 304 ] && [ -z "$BODY" ] || fail "If-None-Match $ETAG: $CODE $(cat "$T/h")"
get /beacon/slots/mainnet/100.json -I # curl -I writes the headers to -o too
[ "$CODE" = 200 ] && [ "$(hdr etag)" = "$ETAG" ] && [ "$(hdr content-length)" = ${#SLOT} ] ||
	fail "HEAD: $CODE $(cat "$T/h")"
get /beacon/slots/mainnet/100.json -H 'Accept-Encoding: gzip'
if [ "$GZ" = stored ]; then
	[ "$(hdr content-encoding)" = gzip ] || fail "gzip bytes not sent as stored"
	[ "$(gzip -dc "$T/b")" = "$SLOT" ] || fail "gzip body"
	get /beacon/slots/mainnet/100.json
	[ -z "$(hdr content-encoding)" ] && [ "$BODY" = "$SLOT" ] || fail "decoded for a client without gzip"
else
	[ "$BODY" = "$SLOT" ] || fail "decoded body: $BODY"
fi
get /beacon_chain_timings/block_timings/mainnet/last_30_days.json
[ "$CODE" = 200 ] && [ "$(hdr cache-control)" = "public, max-age=600, s-maxage=600" ] ||
	fail "windowed document: $CODE $(hdr cache-control)"
get /xatu_public_contributors/user-summaries/users/J%C3%BCrgen.json
[ "$CODE" = 404 ] || fail "the escaped key is not the raw name: $CODE"
get /xatu_public_contributors/user-summaries/users/J%25C3%25BCrgen.json
[ "$CODE" = 200 ] || fail "a username key segment: $CODE"
# the frontend asks for the raw name, percent-encoded as UTF-8 (SPEC §9.2)
get /xatu_public_contributors/user-summaries/users/Bj%C3%B6rn.json
[ "$CODE" = 200 ] && [ "$BODY" = '{"name":"Bjorn"}' ] || fail "a raw UTF-8 username: $CODE $BODY"
pass "documents: body, headers, alias, 304, HEAD, gzip=$GZ"

# ---- errors: JSON of one shape; nothing but document keys read
get /beacon/slots/mainnet/999.json
[ "$CODE" = 404 ] && [ "$("$J" "$T/b" /error/code)" = 404 ] || fail "missing document: $CODE $BODY"
[ -n "$("$J" "$T/b" /error/message)" ] || fail "404 without message"
for p in /beacon/slots/mainnet/01.json /beacon/slots/mainnet/1 /beacon/other/x.json \
	/beacon/slots/main%20net/1.json /xatu_public_contributors/secret.json; do
	get "$p"
	[ "$CODE" = 404 ] && [ "$("$J" "$T/b" /error/code)" = 404 ] || fail "$p: $CODE $BODY"
done
for p in /beacon/slots/../../state/modules/api.json /beacon/%2e%2e/state/modules/api.json \
	/beacon/slots%2fmainnet/100.json /beacon//slots/mainnet/100.json; do
	get "$p" --path-as-is
	[ "$CODE" = 400 ] && [ "$("$J" "$T/b" /error/code)" = 400 ] || fail "$p: $CODE $BODY"
done
get /state/modules/api.json
[ "$CODE" = 404 ] || fail "state is not a document: $CODE"
get /beacon/slots/mainnet/555.json
[ "$CODE" = 503 ] && [ "$("$J" "$T/b" /error/code)" = 503 ] || fail "storage failure: $CODE $BODY"
get /beacon/slots/mainnet/100.json -X POST
[ "$CODE" = 405 ] || fail "POST: $CODE"
pass "errors: 404/400/405/503 JSON, traversal refused"

# ---- CORS
get /beacon/slots/mainnet/100.json -H 'Origin: https://lab.example'
[ "$(hdr access-control-allow-origin)" = https://lab.example ] || fail "ACAO: $(cat "$T/h")"
hdr vary | grep -q Origin || fail "Vary: Origin"
hdr access-control-expose-headers | grep -q ETag || fail "expose headers"
get /beacon/slots/mainnet/100.json -H 'Origin: https://evil.example'
[ -z "$(hdr access-control-allow-origin)" ] || fail "origin not listed got ACAO"
get /config.json -X OPTIONS -H 'Origin: https://lab.example' -H 'Access-Control-Request-Method: GET' \
	-H 'Access-Control-Request-Headers: if-none-match'
[ "$CODE" = 204 ] || fail "preflight: $CODE"
hdr access-control-allow-methods | grep -q GET || fail "preflight methods"
[ "$(hdr access-control-allow-headers)" = if-none-match ] || fail "preflight headers"
get /api/v1/networks -X OPTIONS -H 'Origin: https://lab.example'
[ "$CODE" = 204 ] || fail "preflight on REST: $CODE"
pass "CORS: listed origin, preflight"

# ---- invalidation: the cached bytes until the event, the new ones after it
put beacon/slots/mainnet/100.json '{"slot":100,"network":"mainnet","v":2}'
get /beacon/slots/mainnet/100.json
[ "$BODY" = "$SLOT" ] || fail "not served from the cache: $BODY"
pub beacon.slot '{"network":"mainnet","slot":100,"key":"beacon/slots/mainnet/100.json"}'
wait_for 'get /beacon/slots/mainnet/100.json; [ "$BODY" = "{\"slot\":100,\"network\":\"mainnet\",\"v\":2}" ]' ||
	fail "event did not replace the document: $BODY"
[ "$(hdr etag)" != "$ETAG" ] || fail "same ETag for new bytes"
get /beacon/slots/mainnet/100.json -H "If-None-Match: $ETAG"
[ "$CODE" = 200 ] || fail "old ETag matched new bytes: $CODE"
put beacon/slots/mainnet/999.json '{"slot":999}'
pub beacon.slot '{"network":"mainnet","slot":999}' # no key: derived
wait_for 'get /beacon/slots/mainnet/999.json; [ "$CODE" = 200 ]' || fail "missing document after event: $CODE"
hits=$(curl -s "http://127.0.0.1:$PORT/metrics" | awk '$1 == "lab_api_cache_requests_total{result=\"hit\"}" { print $2 }')
[ -n "$hits" ] && [ "$hits" -ge 1 ] || fail "no cache hits counted: $hits"
pass "invalidation by lab.beacon.slot (with and without key)"

# ---- REST
get /api/v1/networks
[ "$CODE" = 200 ] || fail "networks: $CODE"
[ "$("$J" "$T/b" /networks/0/name)" = mainnet ] || fail "networks: $BODY"
[ "$("$J" "$T/b" /networks/0/current_slot)" = 10746918 ] || fail "current_slot: $BODY"
[ "$("$J" "$T/b" /networks/0/current_epoch)" = 335841 ] || fail "current_epoch: $BODY"
[ "$("$J" "$T/b" /networks/0/seconds_per_slot)" = 12 ] || fail "seconds_per_slot: $BODY"
[ "$("$J" "$T/b" /networks/0/forks/deneb)" = 269568 ] || fail "forks: $BODY"
get /api/v1/networks/mainnet/slot
[ "$("$J" "$T/b" /slot)" = 10746918 ] && [ "$("$J" "$T/b" /slot_start_time)" = 1735787039 ] ||
	fail "current slot: $BODY"
get /api/v1/networks/mainnet/slots/999
[ "$CODE" = 200 ] && [ "$BODY" = '{"slot":999}' ] || fail "slot by REST: $CODE $BODY"
get /api/v1/networks/mainnet/slots/12345
[ "$CODE" = 404 ] && [ "$("$J" "$T/b" /error/code)" = 404 ] || fail "slot not stored: $CODE"
get /api/v1/networks/mainnet/slots/12x
[ "$CODE" = 400 ] || fail "bad slot: $CODE"
get /api/v1/networks/nonet/slot
[ "$CODE" = 404 ] && [ "$("$J" "$T/b" /error/message)" = "unknown network" ] || fail "unknown network: $BODY"
get /api/v1/contributors/summary
[ "$CODE" = 200 ] && [ "$BODY" = '{"updated_at":1,"networks":{}}' ] || fail "contributors summary: $BODY"
pass "REST: networks, wallclock slot, slots by number, contributors summary"

# ---- SSE
get '/api/v1/events?topics=slots:mainnet,nope'
[ "$CODE" = 400 ] && "$J" "$T/b" /error/message | grep -q nope || fail "invalid topic: $CODE $BODY"
get /api/v1/events
[ "$CODE" = 400 ] || fail "no topics: $CODE"
curl -sN "$H/api/v1/events?topics=slots:mainnet" >"$T/sse1" 2>/dev/null &
SSE=$!
wait_for 'grep -q "^data: {\"subscribed\":\[\"slots:mainnet\"\]}" "$T/sse1"' || fail "SSE: no subscribed event: $(cat "$T/sse1")"
pub timings.updated '{"network":"mainnet","window":"w","kind":"size_cdf","key":"x/y.json"}'
pub beacon.slot '{"network":"holesky","slot":5,"key":"beacon/slots/holesky/5.json"}'
pub beacon.slot '{"network":"mainnet","slot":101,"key":"beacon/slots/mainnet/101.json"}'
pub beacon.slot '{"network":"mainnet","slot":102,"key":"beacon/slots/mainnet/102.json"}'
wait_for 'grep -q "\"slot\":102" "$T/sse1"' || fail "SSE: events not delivered: $(cat "$T/sse1")"
kill "$SSE" 2>/dev/null; wait "$SSE" 2>/dev/null
grep -q holesky "$T/sse1" && fail "SSE: another network's event delivered"
grep -q size_cdf "$T/sse1" && fail "SSE: an unsubscribed topic delivered"
grep -qx 'data: {"topic":"slots:mainnet","subject":"beacon.slot","data":{"network":"mainnet","slot":101,"key":"beacon/slots/mainnet/101.json"}}' "$T/sse1" ||
	fail "SSE message: $(cat "$T/sse1")"
ID1=$(grep -B1 '"slot":101' "$T/sse1" | sed -n 's/^id: //p')
ID2=$(grep -B1 '"slot":102' "$T/sse1" | sed -n 's/^id: //p')
[ -n "$ID1" ] && [ "$ID2" -gt "$ID1" ] || fail "SSE ids: '$ID1' '$ID2'"
# Reconnect after the first: the second is replayed from the ring.
curl -sN -H "Last-Event-ID: $ID1" "$H/api/v1/events?topics=slots:mainnet" >"$T/sse2" 2>/dev/null &
SSE=$!
wait_for 'grep -q "\"slot\":102" "$T/sse2"' || fail "SSE: no replay after Last-Event-ID: $(cat "$T/sse2")"
kill "$SSE" 2>/dev/null; wait "$SSE" 2>/dev/null
grep -q '"slot":101' "$T/sse2" && fail "SSE: replayed what the client had"
pass "SSE: topics, filtering, ids, Last-Event-ID replay, 400 for bad topics"

# ---- WebSocket
cat >"$T/ws.py" <<'PY'
import asyncio, json, sys, urllib.request
import websockets

H, ADMIN, TOKEN = sys.argv[1], sys.argv[2], sys.argv[3]

def publish(subject, body):
    req = urllib.request.Request(f"{ADMIN}/publish/{subject}", data=json.dumps(body).encode(),
                                 headers={"Authorization": f"Bearer {TOKEN}"}, method="POST")
    assert urllib.request.urlopen(req).status == 202

async def recv(ws):
    return json.loads(await asyncio.wait_for(ws.recv(), 5))

async def closed_with(msg):
    async with websockets.connect(f"{H}/api/v1/live") as ws:
        await ws.send(msg)
        try:
            await asyncio.wait_for(ws.recv(), 5)
        except websockets.ConnectionClosed as e:
            return e.code
    return None

async def main():
    async with websockets.connect(f"{H}/api/v1/live") as ws:
        await ws.send(json.dumps({"subscribe": ["timings", "slots:mainnet"]}))
        assert await recv(ws) == {"subscribed": ["timings", "slots:mainnet"]}
        await ws.send(json.dumps({"subscribe": ["slots:../x"]}))
        err = await recv(ws)
        assert err["error"]["code"] == 400 and "slots:../x" in err["error"]["message"], err
        await ws.send(json.dumps({"unsubscribe": ["slots:mainnet"]}))
        assert await recv(ws) == {"subscribed": ["timings"]}
        publish("beacon.slot", {"network": "mainnet", "slot": 7, "key": "beacon/slots/mainnet/7.json"})
        publish("timings.updated", {"network": "mainnet", "window": "w", "kind": "block_timings",
                                    "key": "beacon_chain_timings/block_timings/mainnet/w.json"})
        m = await recv(ws)
        assert m["topic"] == "timings" and m["subject"] == "timings.updated", m
        assert m["data"]["kind"] == "block_timings", m
        await ws.send(json.dumps({"subscribe": ["*"]}))
        assert await recv(ws) == {"subscribed": ["*", "timings"]}
        publish("contributors.updated", {"kind": "summary", "key": "xatu_public_contributors/summary.json"})
        m = await recv(ws)
        assert m["topic"] == "contributors", m
    assert await closed_with("not json") == 1003
    assert await closed_with(json.dumps({"subscribe": "timings"})) == 1008
    assert await closed_with(json.dumps({"hello": []})) == 1008
    assert await closed_with(json.dumps([1, 2])) == 1008
    print("ws ok")

asyncio.run(main())
PY
out=$("$PY" "$T/ws.py" "ws://127.0.0.1:$HP" "http://127.0.0.1:$PORT" "$ADMIN_TOKEN" 2>&1) ||
	fail "WebSocket client: $out"
[ "$out" = "ws ok" ] || fail "WebSocket client: $out"
wait_for '[ "$(curl -s "http://127.0.0.1:$PORT/metrics" | awk "\$1 == \"lab_api_live_clients{kind=\\\"websocket\\\"}\" { print \$2 }")" = 0 ]' ||
	fail "websocket clients not released"
pass "WebSocket: subscribe/unsubscribe acks, invalid topic, events by topic, close codes 1003/1008"

stop_labd
[ "$STOP_RC" = 0 ] || fail "labd exit status $STOP_RC"
grep -q 'level=error' "$T/labd.log" && fail "errors in the log: $(grep level=error "$T/labd.log")"
pass "clean stop"
