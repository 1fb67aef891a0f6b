/*
 * window_cache — the bucket cache of the windowed jobs (timings,
 * contributors): which part of a window can be answered from the results
 * of earlier runs, and those results, kept in the plugin's durable state.
 *
 * A window [start, end] (end = the pass's now, both inclusive) is cut into
 * buckets of `step` seconds aligned on the Unix epoch: bucket t covers
 * [t, t + step - 1].  The first bucket (the one holding `start`) is partial
 * and changes every run; a bucket is *stable* once its end is older than
 * the settle margin (t + step <= now - margin): late rows are not expected
 * in it any more.  The cache holds the result rows of the stable buckets
 * in [from, to) (a contiguous, step-aligned range: a bucket without rows
 * in it had no data), keyed by a fingerprint of what produced them (query
 * version, network, step): another fingerprint drops the rows.
 *
 * A run asks ClickHouse only for two ranges (wc_plan): the first bucket's
 * part of the window and everything from the end of the usable cache to
 * `end`; a full run asks for the whole window.  Every stable bucket of the
 * fresh answer is then cached (the new [from, to) is [first complete
 * bucket, stable boundary)).
 *
 * The state value (untrusted when read back; anything unreadable = empty):
 *   {"v":1,"fp":"...","from":N,"to":N,"last_full":N,"mismatches":N,
 *    "rows":"t,c1,...;t,c1,..."}     (numeric columns only)
 *    "rows":[[t,c1,...],...]}         (with string columns)
 * Cells are int64, double or string per column (`dmask` bit i = column i
 * is a double, written with round-trip precision; `smask` bit i = a string,
 * which must be valid UTF-8 to read back byte for byte).  Rows are sorted
 * by t.
 * Uses only the SDK (lab/plugin.h), json-c and common/buf; loop thread only.
 */
#ifndef LAB_COMMON_WINDOW_CACHE_H
#define LAB_COMMON_WINDOW_CACHE_H

#include <stddef.h>
#include <stdint.h>

#include <lab/plugin.h>

#define WC_MAX_COLS 16

union wc_cell {
	int64_t i;
	double d;
	char *s; /* owned by the cache (NUL-terminated, no NUL inside) */
};

struct wc {
	size_t ncols;   /* cells per row, column 0 = the bucket's t (int64) */
	uint32_t dmask; /* bit i: column i is a double */
	uint32_t smask; /* bit i: column i is a string (UTF-8 text) */
	int64_t from, to; /* cached buckets [from, to); from == to: none */
	int64_t last_full; /* the pass time of the last full run, 0 = never */
	int64_t mismatches; /* buckets found different by full runs, ever */
	union wc_cell *cells; /* n rows of ncols cells */
	size_t n, cap;
};

/* What one run asks ClickHouse for and takes from the cache. */
struct wc_plan {
	int full;
	int64_t a0, a1; /* first range [a0, a1], inclusive */
	int64_t b0, b1; /* second range [b0, b1]; b0 > b1 = none */
	int64_t use_from, use_to; /* cached buckets used: [use_from, use_to) */
	int64_t keep_from, keep_to; /* buckets cached after the run */
};

/* Reads the cache of state key `key`; a missing, unreadable or differently
 * fingerprinted value gives an empty cache (last_full and mismatches are
 * kept when only the fingerprint differs: 0 = they were not).  0 or
 * LAB_ENOMEM.  `why` (may be NULL) is set to a reason when rows were
 * dropped ("fingerprint", "unreadable"), NULL otherwise. */
int wc_load(lab_ctx *ctx, struct wc *c, const char *key, const char *fp, size_t ncols,
	    uint32_t dmask, uint32_t smask, const char **why);
/* Writes the cache to state key `key`; when its text would exceed
 * `max_bytes` the rows are left out (the next run is a full one) and the
 * result is 1.  0, 1 or a negative LAB_E*. */
int wc_save(lab_ctx *ctx, const struct wc *c, const char *key, const char *fp, size_t max_bytes);
void wc_free(struct wc *c);
/* Appends a row (ncols cells); its strings become the cache's (freed by
 * wc_free, also when this fails).  0 or LAB_ENOMEM. */
int wc_add(struct wc *c, const union wc_cell *row);
static inline union wc_cell *wc_row(const struct wc *c, size_t i) { return c->cells + i * c->ncols; }

/* The buckets t in [from, to) whose rows differ between caches a and b
 * (a bucket's rows in the same order in both, as written): a different
 * number of rows, or a pair that `same` (NULL: every cell equal) says
 * differs. */
int64_t wc_mismatches(const struct wc *a, const struct wc *b, int64_t from, int64_t to,
		      int (*same)(const union wc_cell *x, const union wc_cell *y));

/*
 * The end of a run: `nc` holds the new cache's rows (the stable buckets of
 * the run, [p->keep_from, p->keep_to)).  A run that queried the whole
 * window (p->use_from == p->use_to) records `now` as its last full run and
 * compares the buckets it shares with `old` (wc_mismatches with `same`): a
 * difference is logged at warn, once, and added to the cache's count.
 * Then `nc` is saved under `key` (logged at warn when over `max_bytes` or
 * failing: the next run is then a full one, this one is not affected).
 * Returns the buckets found different.
 */
int64_t wc_commit(lab_ctx *ctx, const struct wc *old, struct wc *nc, const struct wc_plan *p,
		  int64_t now, int64_t step, const char *key, const char *fp, int64_t max_bytes,
		  int (*same)(const union wc_cell *x, const union wc_cell *y));

/* Whether a run request's body (lab.NAME.run) asks for a full recompute:
 * a JSON object with "full": true. */
int wc_full_request(const void *data, size_t len);

/* floor(x / step) * step for any sign of x. */
int64_t wc_floor(int64_t x, int64_t step);
/* The plan of a run at `now` over [start, now] with `step`, `margin`;
 * `full` forces a full run, and a cache that does not reach back to the
 * first complete bucket makes one. */
void wc_plan(const struct wc *c, int64_t now, int64_t start, int64_t step, int64_t margin,
	     int full, struct wc_plan *p);

#endif
