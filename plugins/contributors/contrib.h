/*
 * contributors — what the plugin's files share (not part of the SDK).
 *
 *   contributors.c  settings, configuration, life cycle, the runner's jobs
 *   sql.c           the queries (SPEC §9.2, §11) and their answers
 *   docs.c          documents from the rows, and their storage
 *   cache.c         the bucket cache of countries and users (window_cache.h)
 * The schedule (passes, gates, state) is common/window_job's.
 */
#ifndef CONTRIBUTORS_CONTRIB_H
#define CONTRIBUTORS_CONTRIB_H

#include <stddef.h>
#include <stdint.h>

#include <lab/plugin.h>

#include "buf.h"
#include "window_cache.h"
#include "window_job.h"

enum { P_SUMMARY, P_COUNTRIES, P_USERS, P_USUM, NPROC };
extern const char *const contrib_proc_name[NPROC];

struct window {
	char *file, *label;
	int64_t step, range;
};

struct contrib;
struct doc {
	struct contrib *c;
	char *key;
	char *stale_key; /* user documents: labd 1.0's escaped copy to remove, or NULL */
	struct buf body;
	const char *network; /* NULL = none; points into c->nets */
	const char *window;  /* NULL = none */
};

struct contrib {
	lab_ctx *ctx;
	const char *prefix;
	int64_t interval;
	char **nets;
	size_t nnets;
	struct window *wins;
	size_t nwins;
	/* one group per processor, in order; summary and user_summaries have
	 * one job, countries and users one per window (entry = window file) */
	struct wj run;
	/* the job in flight */
	struct doc *docs;
	size_t ndocs, puts_pending;
	int puts_failed;
	int row_err; /* a cell of the current answer did not parse (LAB_EPARSE) */
	/* the bucket cache of countries/users (window_cache.h): settings, and
	 * the job in flight's cache and plan */
	int64_t settle_margin, full_interval, cache_max_bytes;
	int64_t full_requested; /* lab_now() of the last {"full":true} run request */
	struct wc cache;
	struct wc_plan plan;
	char cache_key[300], *fp;
	struct buf describe;
};

/* contributors.c: processor and window (-1 = none) of job i. */
int contrib_task(const struct contrib *c, size_t i, long *win);
/* The job in flight and the pass's time. */
static inline size_t contrib_job(const struct contrib *c) { return wj_current(&c->run); }
static inline int64_t contrib_now(const struct contrib *c) { return wj_now(&c->run); }

/* The cache's rows: (t, network, the bucket's element of the document's
 * array as JSON text).  Bump CONTRIB_QUERY_VERSION when the answer of the
 * countries or users query changes meaning: old caches are dropped. */
#define CONTRIB_QUERY_VERSION "1"
#define CACHE_COLS 3
#define CACHE_SMASK 0x6u

/* One time bucket of one network in a countries/users document: the
 * element {"time":T,"LIST":[...]} as JSON text (malloc'ed). */
struct contrib_elem {
	int64_t t;
	size_t net;
	char *text;
};

/* cache.c: loads the cache of processor p's window w and plans the run
 * over [start, now] (c->plan); 0 or < 0. */
int contrib_cache_plan(struct contrib *c, int p, long w, int64_t start);
/* Adds the cached buckets the run did not ask for to the fresh elements
 * (*e, *n; they end sorted by network and time), then keeps the stable
 * ones as the new cache (counting mismatches of a whole-window run).
 * 0 or LAB_ENOMEM. */
int contrib_cache_merge(struct contrib *c, int p, long w, struct contrib_elem **e, size_t *n);
void contrib_cache_free(struct contrib *c);

/* sql.c: starts the query of processor p (window w); 0 or < 0. */
int contrib_query(struct contrib *c, int p, long w);

/* docs.c */
/* The documents of processor p (window w) from a non-empty answer. */
int contrib_build(struct contrib *c, int p, long w, const lab_rows *rows, size_t nr);
/* Stores every document built; the job ends when all were stored. */
void contrib_store(struct contrib *c);
void contrib_docs_free(struct contrib *c);
/* The job in flight ended: frees its documents, tells the runner. */
void contrib_job_done(struct contrib *c, int rc);

#endif
