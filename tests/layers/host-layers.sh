#!/bin/sh
# The host's layers (docs/architecture.md, "Layers"): a file may include
# headers of its own layer and of the layers below it, never above.  Every
# host file must be placed in a layer here; SDK (lab/*), common/ and
# generated headers (build_config.h) are below everything.
# Usage: host-layers.sh [SRCDIR]  (exit 1 on an upward include or an
# unplaced file).
: "${top_srcdir:=$(cd "$(dirname "$0")/../.." && pwd)}"
src=${1:-$top_srcdir}
cd "$src/host" || exit 1

layer() { # layer NAME.c|NAME.h -> 1 (top) .. 6 (bottom), 9 = below all, 0 = unplaced
	case ${1%.[ch]} in
	main) echo 1 ;;
	daemon | daemon_admin | reload | config_reload | connect_check | reload_host) echo 2 ;;
	slot | slot_retry | config_json) echo 3 ;;
	hostapi | cfgapi) echo 4 ;;
	instance) echo 5 ;;
	services | defer | admin | mhd_uv | httpd | httpd_internal | httpd_path | httpd_stream | listen_addr | broker | broker_backend | broker_nats | buf | \
	ch_internal | ch_rows | ch_sql | clickhouse | clock | config | config_override | \
	config_validate | fs_beneath | gzip | heap | http | list | log | metrics | networks | \
	networks_url | plugin_elf | plugin_loader | state | state_value | progress | storage | storage_backend | \
	storage_fs | storage_s3 | sha256 | keyrules | keyseg | plugin_decls | work_queue | jsonw | crash | \
	cluster | cluster_kv | cluster_nats) echo 6 ;;
	*) echo 0 ;;
	esac
}

bad=0
for f in *.c *.h; do
	lf=$(layer "$f")
	if [ "$lf" = 0 ]; then
		echo "host/$f: not placed in a layer (tests/layers/host-layers.sh, docs/architecture.md)"
		bad=1
		continue
	fi
	for h in $(sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"\([^"]*\)".*/\1/p' "$f"); do
		[ -f "$h" ] || continue # lab/..., common/, generated: below every layer
		lh=$(layer "$h")
		if [ "$lh" = 0 ]; then
			echo "host/$h (included by host/$f): not placed in a layer"
			bad=1
		elif [ "$lh" -lt "$lf" ]; then
			echo "host/$f (layer $lf) includes $h from layer $lh above it"
			bad=1
		fi
	done
done
[ $bad = 0 ] && echo "ok - host includes follow the layers"
exit $bad
