/*
 * compute.h — the pure part of the timings plugin: rounding, size buckets,
 * number formatting, the two documents, the describe entry and ISO-8601
 * times (the schedule is common/window_job's).  Output goes to a struct buf
 * (common/buf.h; its strings are always valid JSON).  No host calls: the
 * unit tests link compute.c directly, and the document builders run on
 * worker threads.
 */
#ifndef TIMINGS_COMPUTE_H
#define TIMINGS_COMPUTE_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h" /* common/: the plugins' JSON output buffer */

/* A double as Python's repr() writes it: shortest round-trip digits, always
 * with a '.' or exponent ("32.0", "0.1", "1e+16"); non-finite -> null.
 * (SPEC 9.1 wants floats, so not buf_f64, which writes "32".) */
void tm_json_f64(struct buf *b, double v);

/* Round half to even (independent of the FPU rounding mode). */
double tm_round_half_even(double x);

/* size_cdf bucket in KiB of a slot's total bytes (block + blobs, at least 1):
 * round_half_even(total / 32768) * 32, at least 32. */
int64_t tm_bucket_kb(uint64_t total);
/* The same from q = total / 32768 and c = sign(total % 32768 - 16384). */
int64_t tm_bucket_kb_qc(int64_t q, int c);

/* One row of the block_timings query (one time bucket). */
struct tm_bt_row {
	int64_t ts;
	double min, max, avg, p05, p50, p95;
	int64_t blocks;
};

/* {"timestamps":[...],"mins":[...],...,"blocks":[...]} in row order. */
int tm_block_timings_json(const struct tm_bt_row *rows, size_t n, struct buf *out);

/* The five size_cdf sets, in output order. */
enum { TM_ALL, TM_MEV, TM_NON_MEV, TM_SOLO_MEV, TM_SOLO_NON_MEV, TM_NSETS };
extern const char *const tm_set_names[TM_NSETS];

/* One row of the size_cdf query: per (q, c) group of slots, the sum of the
 * arrivals and the number of slots of each set. */
struct tm_cdf_group {
	int64_t q;
	int c;
	uint64_t sum[TM_NSETS];
	uint64_t cnt[TM_NSETS];
	int64_t t; /* the time bucket (the cache's key; not in the document) */
};

/* Merges groups into buckets (tm_bucket_kb_qc), averages each set per bucket
 * with round half to even, and writes
 * {"sizes_kb":[...],"arrival_times_ms":{"all":[...],...}}.  `g` is reordered. */
int tm_size_cdf_json(struct tm_cdf_group *g, size_t n, struct buf *out);

/* A configured time window; the texts are the configuration's. */
struct tm_window {
	const char *file, *step_text, *label, *range_text;
	int64_t step, range;
};

/* The module entry of config.json (docs/plugins/timings.md):
 * {"enabled":true,"description":...,"path_prefix":...,"networks":[...],
 *  "time_windows":[{"file","step","label","range"}]}.  The strings come from
 * the configuration and are written as valid JSON whatever their bytes. */
int tm_describe_json(const char *prefix, const char *const *nets, size_t nnet,
		     const struct tm_window *wins, size_t nwin, struct buf *out);

/* "2026-11-23T00:37:14+00:00" (Python's isoformat of an aware UTC time). */
void tm_iso8601(int64_t t, char out[32]);
/* Parses what Python's datetime.fromisoformat wrote (optional fraction,
 * optional Z/+HH:MM/-HH:MM; no offset = UTC).  0 or -1. */
int tm_parse_iso8601(const char *s, size_t len, int64_t *out);

/* A storage key segment we accept for window files: [A-Za-z0-9._-]+, not
 * "." or "..", at most 128 bytes. */
int tm_valid_segment(const char *s);
/* A path prefix: one or more valid segments joined by '/'. */
int tm_valid_prefix(const char *s);

#endif
