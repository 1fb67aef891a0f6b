#!/bin/sh
# Upload an fs storage tree to an S3 bucket with each object's headers
# (Content-Type, Content-Encoding, Cache-Control) taken from ROOT/.lab-meta/:
# the object's own sidecar .lab-meta/KEY.json if it has one, else the
# headers its directory's objects share, .lab-meta/DIR/.lab-meta
# (docs/storage.md).  `aws s3 sync` cannot set headers per object.
#
#   storage-sync.sh ROOT s3://BUCKET[/PREFIX] [extra aws-cli options...]
#   SINCE=/var/lib/lab/.synced storage-sync.sh ...   # only files newer than the marker
#
# Needs the AWS CLI and jq.
set -eu

[ $# -ge 2 ] || { echo "usage: $0 ROOT s3://BUCKET[/PREFIX] [aws options]" >&2; exit 2; }
root=${1%/}
dest=${2%/}
shift 2
command -v aws >/dev/null || { echo "$0: aws CLI not found" >&2; exit 1; }
command -v jq >/dev/null || { echo "$0: jq not found" >&2; exit 1; }

start_marker=$(mktemp)
trap 'rm -f "$start_marker"' EXIT

newer=
if [ -n "${SINCE:-}" ] && [ -e "$SINCE" ]; then
	newer="-newer $SINCE"
fi

cd "$root"
# shellcheck disable=SC2086
find . -path ./.lab-meta -prune -o -type f ! -name '*.tmp.*' $newer -print |
while IFS= read -r f; do
	key=${f#./}
	case $key in */*) dir=${key%/*}/ ;; *) dir= ;; esac
	meta=".lab-meta/$key.json"
	[ -f "$meta" ] || meta=".lab-meta/${dir}.lab-meta"
	if [ -f "$meta" ]; then
		ctype=$(jq -r '."Content-Type" // "application/octet-stream"' "$meta")
		cenc=$(jq -r '."Content-Encoding" // "gzip"' "$meta")
		cache=$(jq -r '."Cache-Control" // "max-age=3600"' "$meta")
	else
		# No sidecar (put there by hand): defaults, gzip only if it is gzip.
		case $key in *.json) ctype=application/json ;; *) ctype=application/octet-stream ;; esac
		cache=max-age=3600
		cenc=
		[ "$(head -c 2 "$key" | od -An -tx1 | tr -d ' ')" = 1f8b ] && cenc=gzip
	fi
	if [ -n "$cenc" ]; then
		aws s3 cp "$key" "$dest/$key" --only-show-errors --content-type "$ctype" \
			--content-encoding "$cenc" --cache-control "$cache" "$@"
	else
		aws s3 cp "$key" "$dest/$key" --only-show-errors --content-type "$ctype" \
			--cache-control "$cache" "$@"
	fi
done

if [ -n "${SINCE:-}" ]; then
	touch -r "$start_marker" "$SINCE"
fi
