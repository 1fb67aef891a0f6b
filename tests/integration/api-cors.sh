#!/bin/sh
# CORS as the Lab web frontend meets it (issue 16): the browser page on
# https://lab.ethpandaops.io reads documents and REST answers from the api's
# base URL with fetch() (a simple GET: Origin, Accept-Encoding: gzip; a
# revalidation adds If-None-Match), opens EventSource on /api/v1/events,
# and a request with a non-simple header is preceded by an OPTIONS
# preflight. The api runs with cors_origins = ( that origin ).
#  - allowed origin: GET of a document, its 304 revalidation, a JSON 404 and
#    /api/v1/networks carry Access-Control-Allow-Origin: ORIGIN and
#    Vary: Origin, and expose ETag; the SSE stream too;
#  - preflight (OPTIONS, Access-Control-Request-Method: GET,
#    Access-Control-Request-Headers: if-none-match): 204 with the origin,
#    GET among the allowed methods and the asked header allowed;
#  - another origin: the same answers without any Access-Control-Allow-*.
. "$(dirname "$0")/lib.sh"
. "$top_srcdir/tests/bench/lib.sh"
ORIGIN=https://lab.ethpandaops.io
KEY=beacon/slots/mainnet/1.json
api_plugins docwriter || fail "plugins not built"
HPORT=$(free_port)
api_conf "$HPORT" 'broker = { backend = "local"; };' "docwriter = { key = \"$KEY\"; };" |
	sed "s|api = { enabled = true; };|api = { enabled = true; cors_origins = ( \"$ORIGIN\" ); };|" >"$T/labd.conf"
grep -q cors_origins "$T/labd.conf" || fail "config"
start_labd
api_wait "$HPORT" || fail "the api did not answer on $HPORT"
http POST /publish/docwriter.write -d '{}'
wait_for 'grep -q "docwriter: burst done" "$T/labd.log"' 200 || fail "the document was not written"
U="http://127.0.0.1:$HPORT"

# hdr NAME FILE: the value of header NAME in a curl -D dump (last one).
hdr() { tr -d '\r' <"$2" | awk -v k="$(echo "$1" | tr A-Z a-z)" 'BEGIN { FS = ": " }
	tolower($1) == k { v = substr($0, length($1) + 3) } END { print v }'; }
status() { tr -d '\r' <"$1" | awk 'NR == 1 { print $2 }'; }
req() { # req NAME [curl args...] URL: headers into $T/NAME.h
	n=$1
	shift
	curl -s -o "$T/$n.b" -D "$T/$n.h" "$@" || fail "curl $*"
}
allowed() { # allowed NAME: the answer is open to ORIGIN
	[ "$(hdr Access-Control-Allow-Origin "$T/$1.h")" = "$ORIGIN" ] ||
		fail "$1: Access-Control-Allow-Origin '$(hdr Access-Control-Allow-Origin "$T/$1.h")', want $ORIGIN: $(cat "$T/$1.h")"
	hdr Vary "$T/$1.h" | grep -qi origin || fail "$1: no Vary: Origin: $(cat "$T/$1.h")"
}
closed() { # closed NAME: no Access-Control-Allow-* at all
	if tr -d '\r' <"$T/$1.h" | grep -qi '^access-control-allow'; then fail "$1: CORS headers for another origin: $(cat "$T/$1.h")"; fi
}

# ---- the page's fetch() of a document, then its revalidation
req doc -H "Origin: $ORIGIN" -H 'Accept-Encoding: gzip' "$U/$KEY"
[ "$(status "$T/doc.h")" = 200 ] || fail "GET /$KEY: $(cat "$T/doc.h")"
allowed doc
hdr Access-Control-Expose-Headers "$T/doc.h" | grep -qi etag || fail "ETag not exposed: $(cat "$T/doc.h")"
etag=$(hdr ETag "$T/doc.h")
[ -n "$etag" ] || fail "no ETag"
req reval -H "Origin: $ORIGIN" -H 'Accept-Encoding: gzip' -H "If-None-Match: $etag" "$U/$KEY"
[ "$(status "$T/reval.h")" = 304 ] || fail "revalidation: $(cat "$T/reval.h")"
allowed reval
req missing -H "Origin: $ORIGIN" "$U/beacon/slots/mainnet/2.json"
[ "$(status "$T/missing.h")" = 404 ] || fail "missing document: $(cat "$T/missing.h")"
allowed missing
grep -q '"error"' "$T/missing.b" || fail "404 body: $(cat "$T/missing.b")"
req nets -H "Origin: $ORIGIN" "$U/api/v1/networks"
[ "$(status "$T/nets.h")" = 200 ] || fail "/api/v1/networks: $(cat "$T/nets.h")"
allowed nets
pass "GET, 304, JSON 404 and REST answers are open to $ORIGIN (Vary: Origin, ETag exposed)"

# ---- the preflight
req pre -X OPTIONS -H "Origin: $ORIGIN" -H 'Access-Control-Request-Method: GET' \
	-H 'Access-Control-Request-Headers: if-none-match' "$U/$KEY"
case $(status "$T/pre.h") in 200 | 204) ;; *) fail "preflight: $(cat "$T/pre.h")" ;; esac
allowed pre
hdr Access-Control-Allow-Methods "$T/pre.h" | grep -q GET || fail "preflight methods: $(cat "$T/pre.h")"
hdr Access-Control-Allow-Headers "$T/pre.h" | grep -qi if-none-match || fail "preflight headers: $(cat "$T/pre.h")"
pass "preflight OPTIONS: 2xx, origin, GET and the asked header allowed"

# ---- EventSource: the stream's header (curl stops after 2 s)
curl -s -N -m 2 -D "$T/sse.h" -o /dev/null -H "Origin: $ORIGIN" "$U/api/v1/events?topics=slots:mainnet"
[ "$(status "$T/sse.h")" = 200 ] || fail "SSE: $(cat "$T/sse.h")"
hdr Content-Type "$T/sse.h" | grep -q text/event-stream || fail "SSE type: $(cat "$T/sse.h")"
[ "$(hdr Access-Control-Allow-Origin "$T/sse.h")" = "$ORIGIN" ] || fail "SSE not open to $ORIGIN: $(cat "$T/sse.h")"
pass "EventSource from $ORIGIN: text/event-stream with Access-Control-Allow-Origin"

# ---- another origin
req odoc -H 'Origin: https://evil.example' -H 'Accept-Encoding: gzip' "$U/$KEY"
[ "$(status "$T/odoc.h")" = 200 ] || fail "GET from another origin: $(cat "$T/odoc.h")"
closed odoc
req opre -X OPTIONS -H 'Origin: https://evil.example' -H 'Access-Control-Request-Method: GET' "$U/$KEY"
closed opre
pass "another origin gets the same answers without Access-Control-Allow-*"
stop_labd
[ "$STOP_RC" = 0 ] || fail "labd exit $STOP_RC"
