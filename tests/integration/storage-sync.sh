#!/bin/sh
# docs/storage-sync.sh uploads an fs tree to a bucket (real s3rver) with the
# headers the fs backend recorded for each object: its own sidecar, else its
# directory's shared headers file, else the defaults (docs/storage.md).
# The tree comes from a real labd --once run (example plugin: document,
# state, config.json), plus a sidecar written by an older labd and a file
# put there by hand.  Needs node (s3rver), the AWS CLI and jq; skips without.
if [ "${1:-}" != --inner ]; then
	: "${top_srcdir:=$(cd "$(dirname "$0")/../.." && pwd)}"
	for c in node aws jq; do
		command -v $c >/dev/null 2>&1 || { echo "SKIP: $c is not installed"; exit 77; }
	done
	exec "$top_srcdir/tests/services/with-services.sh" s3 -- "$0" --inner
fi
. "$(dirname "$0")/lib.sh"
EMPTY_SHA=e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
s3_head() { # KEY -> headers in $T/h
	curl -s -I -o "$T/h" -w '%{http_code}' --max-time 5 --aws-sigv4 "aws:amz:$S3_REGION:s3" \
		--user "$S3_ACCESS_KEY_ID:$S3_SECRET_ACCESS_KEY" -H "x-amz-content-sha256: $EMPTY_SHA" \
		"$S3_ENDPOINT/$S3_BUCKET/$1"
}
header() { tr -d '\r' <"$T/h" | sed -n "s/^$1: //Ip" | head -n 1; }

stage_plugins
write_conf 'example = { interval = "1h"; };'
"$LABD" --once -c "$T/labd.conf" 2>"$T/labd.log" || fail "--once failed"
D="$T/data"
# An object as an older labd left it (a sidecar of its own), and one put by hand.
mkdir -p "$D/legacy" "$D/.lab-meta/legacy" "$D/hand"
cp "$D/example/last.json" "$D/legacy/old.json"
printf '{"Content-Type":"text/plain","Content-Encoding":"gzip","Cache-Control":"max-age=7"}\n' \
	>"$D/.lab-meta/legacy/old.json.json"
printf '{"by":"hand"}' >"$D/hand/plain.json"
[ ! -e "$D/.lab-meta/example/last.json.json" ] || fail "a sidecar for an object with its directory's headers"

AWS_ACCESS_KEY_ID=$S3_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY=$S3_SECRET_ACCESS_KEY \
	AWS_DEFAULT_REGION=$S3_REGION AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null \
	sh "$top_srcdir/docs/storage-sync.sh" "$D" "s3://$S3_BUCKET" --endpoint-url "$S3_ENDPOINT" \
	>"$T/sync.log" 2>&1 || { cat "$T/sync.log" >&2; fail "storage-sync.sh failed"; }

n=0
for key in $(cd "$D" && find . -path ./.lab-meta -prune -o -type f -print | sed 's|^\./||'); do
	code=$(s3_head "$key")
	[ "$code" = 200 ] || fail "HEAD $key: HTTP $code"
	case $key in
	hand/plain.json) want_t=application/json want_e= want_c=max-age=3600 ;;
	*)
		m=$(meta_file "$D" "$key")
		[ -f "$m" ] || fail "no headers file for $key"
		want_t=$(jq -r '."Content-Type"' "$m") want_e=$(jq -r '."Content-Encoding"' "$m")
		want_c=$(jq -r '."Cache-Control"' "$m")
		;;
	esac
	[ "$(header Content-Type)" = "$want_t" ] || fail "$key: Content-Type '$(header Content-Type)', want '$want_t'"
	[ "$(header Content-Encoding)" = "$want_e" ] || fail "$key: Content-Encoding '$(header Content-Encoding)', want '$want_e'"
	[ "$(header Cache-Control)" = "$want_c" ] || fail "$key: Cache-Control '$(header Cache-Control)', want '$want_c'"
	n=$((n + 1))
done
[ $n -ge 5 ] || fail "only $n objects synced"
# Spot checks against what the SPEC and the fixtures say.
s3_head config.json >/dev/null
[ "$(header Cache-Control)" = "no-store, no-cache, must-revalidate" ] || fail "config.json Cache-Control"
s3_head legacy/old.json >/dev/null
[ "$(header Content-Type)" = text/plain ] && [ "$(header Cache-Control)" = max-age=7 ] ||
	fail "an older sidecar was not used"
[ "$(s3_head .lab-meta/.lab-meta)" = 404 ] || fail ".lab-meta/ was uploaded"
s3_head state/modules/example.json >/dev/null
[ "$(header Cache-Control)" = no-store ] || fail "state Cache-Control"
pass "storage-sync.sh uploaded $n objects with the headers of their sidecar, their directory's shared file or the defaults"
