#!/bin/sh
# Issue 15 finding 4: the admin API under connection floods
# (docs/admin-api.md "Limits", docs/security.md "Attacks").  Before the fix,
# 65 idle connections held for 13 s left /healthz unanswered for good, and
# 64 slowloris connections kept it unavailable as long as they liked.
# Throughout, /healthz must answer within 1 s.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/hardening-lib.sh"
CONNS="python3 $top_srcdir/tests/admin-conns.py"
command -v python3 >/dev/null || { echo "SKIP: no python3"; exit 77; }
stage_plugins
write_conf 'example = { interval = "1s"; };'
start_labd
watch_health

# 65 idle connections held 13 s (beyond the 10 s idle timeout), then closed.
$CONNS idle "$PORT" 65 13
check_health "65 idle connections"
http GET /healthz
[ "$CODE" = 200 ] || fail "/healthz after the idle connections: $CODE"
pass "65 idle connections held 13 s: /healthz answered within 1 s throughout and after"

# At the limit, a new connection takes the place of the oldest idle one.
[ "$($CONNS evict "$PORT" 64)" = ok ] || fail "64 idle + 1: the oldest was not closed within 2 s"
pass "64 idle connections + 1: the oldest idle one is closed"

# Slowloris: 64 connections sending one header line every 4 s for 14 s.
$CONNS slowloris "$PORT" 64 14
check_health "slowloris"
pass "slowloris (64 connections, a header line every 4 s): /healthz answered within 1 s"

http POST /plugins/example/run
[ "$CODE" = 200 ] || fail "admin API after the attacks: $CODE $BODY"
stop_health
stop_labd
[ "$STOP_RC" = 0 ] || fail "labd exit $STOP_RC"
