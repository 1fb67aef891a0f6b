# Shared by the benchmarks; sourced after tests/integration/lib.sh.
# figure NAME VALUE UNIT: one result line.
figure() { echo "$1 $2 $3"; }
# verdict NAME OK|MISSED TEXT: the one-line judgement against a target.
verdict() { echo "verdict $1 $2 $3"; }
# done_bench NAME: the runner's proof that the benchmark ran to its end.
done_bench() { echo "bench $1 done"; }
# free_port: an unused loopback TCP port.
free_port() {
	p=$(( 20000 + $(od -An -N2 -tu2 /dev/urandom) % 30000 ))
	while ss -ltnH "sport = :$p" 2>/dev/null | grep -q .; do p=$((p + 1)); done
	echo "$p"
}
