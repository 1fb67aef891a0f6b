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
