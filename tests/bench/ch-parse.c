/* Parser throughput of the ClickHouse result reader (host/ch_rows.c):
 * builds N six-column TabSeparatedWithNames rows in memory (a 66-byte hex
 * hash and an escaped string per row, Xatu-like), feeds them in 16 KB
 * chunks in streaming mode (4096-row batches) and reads every cell with the
 * typed getters.  Prints rows/s and MB/s.  Build: make tests/bench/ch-parse;
 * run: tests/bench/ch-parse [rows] (default 1000000). */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "ch_internal.h"

static uint64_t sum;

static int on_batch(const struct lab_rows *r, void *ud)
{
	(void)ud;
	for (size_t i = 0; i < r->nrows; i++) {
		uint64_t u;
		int64_t v;
		double d;
		const char *s;
		size_t n;
		if (ch_rows_u64(r, i, 0, &u) || ch_rows_str(r, i, 1, &s, &n) ||
		    ch_rows_i64(r, i, 2, &v) || ch_rows_f64(r, i, 4, &d) ||
		    ch_rows_str(r, i, 5, &s, &n))
			return LAB_EPARSE;
		sum += u + (uint64_t)v + n;
	}
	return 0;
}

int main(int argc, char **argv)
{
	long rows = argc > 1 ? atol(argv[1]) : 1000000;
	struct buf in = BUF_INIT;
	buf_puts(&in, "slot\tblock_root\tproposer\tts\tvalue\tname\n");
	for (long i = 0; i < rows; i++)
		buf_printf(&in, "%ld\t0x%064lx\t%ld\t2024-01-01 00:00:%02ld\t%ld.5\tnet\\twork %ld\n",
			   9000000 + i, i, i % 500000, i % 60, i, i);
	if (in.oom)
		return 1;
	struct ch_parser p;
	ch_parser_init(&p, 4096, on_batch, NULL);
	struct timespec a, b;
	clock_gettime(CLOCK_MONOTONIC, &a);
	for (size_t off = 0; off < in.len; off += 16384) {
		size_t n = in.len - off < 16384 ? in.len - off : 16384;
		if (ch_parser_feed(&p, in.data + off, n, NULL) < 0)
			return 1;
	}
	if (ch_parser_finish(&p) < 0)
		return 1;
	clock_gettime(CLOCK_MONOTONIC, &b);
	double s = (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
	printf("ch-parse: %llu rows, %.1f MB in %.3f s: %.2f M rows/s, %.0f MB/s (checksum %llu)\n",
	       (unsigned long long)p.total_rows, (double)in.len / 1e6, s,
	       (double)p.total_rows / s / 1e6, (double)in.len / s / 1e6, (unsigned long long)sum);
	ch_parser_free(&p);
	buf_free(&in);
	return 0;
}
