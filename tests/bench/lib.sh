# Shared by the benchmarks; sourced after tests/integration/lib.sh.
# figure NAME VALUE UNIT: one result line.
figure() { echo "$1 $2 $3"; }
# verdict NAME OK|MISSED TEXT: the one-line judgement against a target.
verdict() { echo "verdict $1 $2 $3"; }
# done_bench NAME: the runner's proof that the benchmark ran to its end.
done_bench() { echo "bench $1 done"; }
# free_port: an unused loopback TCP port below the kernel's ephemeral range,
# so that no other process's outgoing connection can take it between the
# runs that reuse it (the admin port of startup.sh's 60 starts).
free_port() {
	low=$(awk '{ print $1 }' /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null)
	[ -n "$low" ] && [ "$low" -gt 12000 ] || low=32768
	p=$(( 10000 + $(od -An -N2 -tu2 /dev/urandom) % (low - 11000) ))
	while ss -tanH "sport = :$p" 2>/dev/null | grep -q .; do p=$((p + 1)); done
	echo "$p"
}
# load_xatu FROM TO: the Xatu schema and generated mainnet slots FROM..TO
# (tests/fixtures/xatu-gen, genesis $GENESIS) loaded into $CLICKHOUSE_URL.
load_xatu() {
	"$top_srcdir/tests/fixtures/load-schema.sh" "$CLICKHOUSE_URL" >/dev/null || exit 1
	"$top_builddir/tests/fixtures/xatu-gen" --network mainnet --genesis "$GENESIS" --from-slot "$1" \
		--to-slot "$2" --out "$T/gen" >/dev/null || exit 1
	"$top_srcdir/tests/fixtures/load.sh" "$CLICKHOUSE_URL" "$T/gen" >/dev/null || exit 1
	rm -rf "$T/gen"
}
