/*
 * timings — block arrival statistics and the block-size CDF per (network,
 * time window), the successor of the original beacon_chain_timings module
 * (SPEC §9.1, docs/plugins/timings.md).
 *
 * Work unit ("job"): one processor (block_timings or size_cdf) for one
 * (network, window).  Jobs run one at a time, in a pass over all of them:
 *   query (streamed) -> document built on a worker (lab_work) -> put_atomic
 *   -> event lab.timings.updated -> state last_processed[NETWORK/WINDOW].
 * A tick (every min(interval, 60 s)) starts a pass that runs the jobs whose
 * last success is at least `interval` old, so a failed job is retried at the
 * next tick.  --once and `run` start a pass that runs every job.  The
 * schedule (passes, due jobs, state) is common/window_job's; this file
 * supplies the queries and the documents.
 * All heavy lifting (FINAL, grouping, quantiles, the size_cdf joins) happens
 * in ClickHouse; the plugin only averages a few hundred groups and writes.
 * The bucket cache (common/window_cache.h, docs/plugins/timings.md) keeps
 * each job's stable buckets in state, so a run asks only for the first and
 * the unstable buckets; a full recompute runs every full_interval and on
 * {"full":true} (lab.timings.run).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* The settings are SDK 1.1 options (ranges, key rules, binding). */
#define LAB_PLUGIN_MIN_ABI_MINOR 1
#include <lab/plugin.h>

#include "compute.h"
#include "window_cache.h"
#include "window_job.h"

/* The settings (SDK 1.1 options).  The host checks types, ranges and key
 * rules before init; lab_cfg_bind() fills struct timings and each
 * struct tm_window.  What the table cannot say (unknown or repeated
 * networks, repeated window files, timings' stricter prefix) init reports
 * with lab_cfg_error(). */
static const lab_option window_options[] = {
	{ .name = "file", .type = LAB_SET_STRING,
	  .flags = LAB_SETTING_REQUIRED | LAB_SETTING_KEY_SEGMENT, LAB_BIND(struct tm_window, file),
	  .desc = "document name (NETWORK/FILE.json), unique, [A-Za-z0-9._-]" },
	{ .name = "step", .type = LAB_SET_DURATION, .flags = LAB_SETTING_REQUIRED, LAB_MIN(1),
	  LAB_BIND(struct tm_window, step), .desc = "block_timings bucket width (positive)" },
	{ .name = "label", .type = LAB_SET_STRING, .flags = LAB_SETTING_REQUIRED,
	  LAB_BIND(struct tm_window, label), .desc = "label shown by the front end" },
	{ .name = "range", .type = LAB_SET_DURATION, .flags = LAB_SETTING_REQUIRED, LAB_MAX(-1),
	  LAB_BIND(struct tm_window, range),
	  .desc = "window start relative to now (negative, e.g. \"-720h\")" },
	{ 0 },
};


/* The original's windows, used when time_windows is not configured. */
static const struct {
	const char *file, *step, *label, *range;
	int64_t step_s, range_s;
} default_windows[] = {
	{ "last_30_days", "6h", "Last 30d", "-720h", 6 * 3600, -720 * 3600 },
	{ "last_60_days", "6h", "Last 60d", "-1440h", 6 * 3600, -1440 * 3600 },
	{ "last_90_days", "24h", "Last 90d", "-2160h", 24 * 3600, -2160 * 3600 },
};

enum { K_BLOCK_TIMINGS, K_SIZE_CDF, K_N };
static const char *const kind_names[K_N] = { "block_timings", "size_cdf" };

struct job {
	int kind;
	size_t net, win;
	int64_t start, end;
	char key[512];
	/* the bucket cache of (kind, network, window) and this run's plan */
	struct wc cache;
	struct wc_plan plan;
	char cache_key[600], fp[300];
	int64_t mismatches; /* buckets of this full run that differed from the cache */
	/* query results */
	struct tm_bt_row *bt;
	struct tm_cdf_group *cdf;
	size_t n, cap;
	int row_err;
	/* the document, built on a worker */
	struct buf doc;
	int build_rc;
	uint64_t t_query, t_build;
};

struct timings {
	lab_ctx *ctx;
	const char *prefix;
	int64_t interval;
	const char **nets;
	size_t nnet;
	struct tm_window *wins;
	size_t nwin;
	/* one group per kind, state {"last_processed":{"NET/WIN":"ISO"}}; job
	 * index = (kind * nnet + net) * nwin + win */
	struct wj run;
	struct job job; /* the job in flight */
	/* the bucket cache (window_cache.h) */
	int64_t settle_margin, full_interval, cache_max_bytes;
	int64_t full_requested; /* lab_now() of the last {"full":true} run request, 0 = none */
	char *describe;
};

static const lab_option options[] = {
	{ .name = "networks", .type = LAB_SET_STRINGS,
	  .desc = "networks to process (default: every ethereum.networks entry)" },
	{ .name = "time_windows", .type = LAB_SET_LIST, .children = window_options,
	  .desc = "windows { file, step, label, range } (default: last_30_days, last_60_days, "
		  "last_90_days)" },
	{ .name = "interval", .type = LAB_SET_DURATION, .def = "1h", LAB_MIN(1),
	  LAB_BIND(struct timings, interval),
	  .desc = "minimum time between two runs of one (network, window)" },
	{ .name = "settle_margin", .type = LAB_SET_DURATION, .def = "30m", LAB_MIN(0),
	  LAB_BIND(struct timings, settle_margin),
	  .desc = "a bucket ending longer ago than this is stable: cached, not queried again" },
	{ .name = "full_interval", .type = LAB_SET_DURATION, .def = "24h", LAB_MIN(0),
	  LAB_BIND(struct timings, full_interval),
	  .desc = "time between two full recomputes of a window (\"0s\": every run is full)" },
	{ .name = "cache_max_bytes", .type = LAB_SET_INT, .def = "1048576", LAB_MIN(0),
	  LAB_BIND(struct timings, cache_max_bytes),
	  .desc = "largest bucket cache kept per (kind, network, window) in state (0: no cache)" },
	{ .name = "path_prefix", .type = LAB_SET_STRING, .def = "beacon_chain_timings",
	  .flags = LAB_SETTING_KEY_PREFIX, LAB_BIND(struct timings, prefix),
	  .desc = "storage prefix of the documents" },
	{ 0 },
};

/* ------------------------------------------------------------------ SQL */

/* Both queries read two time ranges (window_cache.h's plan: the first,
 * partial bucket and everything after the cached buckets; a full run passes
 * the whole window and an empty second range) and answer per time bucket.
 * Bump QUERY_VERSION when a query's answer changes meaning: every cache
 * built by the old one is dropped. */
#define QUERY_VERSION "1"
#define RANGES                                                                      \
	"(slot_start_date_time BETWEEN ? AND ? OR slot_start_date_time BETWEEN ? AND ?)"

/* Time bucket = slot_start_date_time floored to a multiple of step seconds
 * since the Unix epoch.  quantile() as the original (reservoir sampling:
 * exact up to 8192 values per bucket, linear interpolation).  The argument is
 * cast to Float64 because 18.16 returns quantile(UInt32) as a truncated
 * UInt32 while modern servers (production) return the interpolated Float64. */
static const char sql_block_timings[] =
	"SELECT toUInt64(intDiv(toUInt64(toUInt32(slot_start_date_time)), ?) * ?) AS t,"
	" min(propagation_slot_start_diff), max(propagation_slot_start_diff),"
	" avg(propagation_slot_start_diff),"
	" quantile(0.05)(toFloat64(propagation_slot_start_diff)),"
	" quantile(0.50)(toFloat64(propagation_slot_start_diff)),"
	" quantile(0.95)(toFloat64(propagation_slot_start_diff)), count(*)"
	" FROM beacon_api_eth_v1_events_block FINAL"
	" WHERE " RANGES " AND meta_network_name = ?"
	" AND propagation_slot_start_diff < 6000"
	" GROUP BY t ORDER BY t";

/*
 * The five inputs of size_cdf joined in ClickHouse, one JOIN per SELECT
 * (18.16), every joined subquery named (modern servers refuse anonymous
 * ones: joined_subquery_requires_alias), groups by q = total / 32768 and
 * c = sign(total % 32768 - 16384) (multiIf: 18.16 has no sign())
 * so that the half-to-even bucket rounding is decided in C exactly, and
 * by t, the block_timings bucket of the slot: the cache keeps per t and
 * size bucket the sums and counts, which merge exactly (integers).
 * The entity join is not limited in time: an entity that changes moves old
 * slots between sets, which only the next full recompute sees.
 * Canonical blocks with a non-NULL size INNER JOIN the per-slot minimum
 * arrival (both needed); blobs, MEV and entity are LEFT joins (absent = 0).
 */
static const char sql_size_cdf[] =
	"SELECT t, q, c,"
	" sum(arrival), count(),"
	" sumIf(arrival, mev = 1), countIf(mev = 1),"
	" sumIf(arrival, mev = 0), countIf(mev = 0),"
	" sumIf(arrival, solo = 1 AND mev = 1), countIf(solo = 1 AND mev = 1),"
	" sumIf(arrival, solo = 1 AND mev = 0), countIf(solo = 1 AND mev = 0)"
	" FROM ("
	"  SELECT t, intDiv(total, 32768) AS q,"
	"   toInt8(multiIf(total % 32768 > 16384, 1, total % 32768 = 16384, 0, -1)) AS c,"
	"   arrival, mev, solo"
	"  FROM ("
	"   SELECT t, proposer_index, arrival, mev,"
	"    greatest(toUInt64(block_size) + toUInt64(blob_bytes), toUInt64(1)) AS total"
	"   FROM ("
	"    SELECT t, slot, proposer_index, block_size, arrival, blob_bytes"
	"    FROM ("
	"     SELECT t, slot, proposer_index, block_size, arrival"
	"     FROM ("
	"      SELECT toUInt64(intDiv(toUInt64(toUInt32(slot_start_date_time)), ?) * ?) AS t,"
	"       slot, proposer_index,"
	"       assumeNotNull(block_total_bytes_compressed) AS block_size"
	"      FROM canonical_beacon_block FINAL"
	"      WHERE " RANGES " AND meta_network_name = ?"
	"       AND block_total_bytes_compressed IS NOT NULL"
	"     ) AS blk ALL INNER JOIN ("
	"      SELECT slot, min(propagation_slot_start_diff) AS arrival"
	"      FROM beacon_api_eth_v1_events_block FINAL"
	"      WHERE " RANGES " AND meta_network_name = ?"
	"      GROUP BY slot"
	"     ) AS arr USING (slot)"
	"    ) AS blk_arr ANY LEFT JOIN ("
	"     SELECT slot, count() * 131072 AS blob_bytes"
	"     FROM canonical_beacon_blob_sidecar FINAL"
	"     WHERE " RANGES " AND meta_network_name = ?"
	"     GROUP BY slot"
	"    ) AS blobs USING (slot)"
	"   ) AS with_blobs ANY LEFT JOIN ("
	"    SELECT slot, toUInt8(1) AS mev"
	"    FROM mev_relay_proposer_payload_delivered FINAL"
	"    WHERE " RANGES " AND meta_network_name = ?"
	"    GROUP BY slot"
	"   ) AS mevs USING (slot)"
	"  ) AS with_mev ANY LEFT JOIN ("
	"   SELECT `index` AS proposer_index, toUInt8(any(entity) = 'solo_stakers') AS solo"
	"   FROM ethseer_validator_entity FINAL"
	"   WHERE meta_network_name = ?"
	"   GROUP BY `index`"
	"  ) AS ents USING (proposer_index)"
	" )"
	" GROUP BY t, q, c ORDER BY t, q, c";

/* ------------------------------------------------------------------ a job */

static void job_reset(struct job *j)
{
	wc_free(&j->cache);
	free(j->bt);
	free(j->cdf);
	buf_free(&j->doc);
	memset(j, 0, sizeof *j);
}

static void job_finish(struct timings *tm, int rc, const char *what, const char *errmsg)
{
	struct job *j = &tm->job;
	if (rc < 0) {
		lab_logkv(tm->ctx, LAB_LOG_WARN, "timings job failed; retried at the next tick",
			  LAB_FS("kind", kind_names[j->kind]), LAB_FS("network", tm->nets[j->net]),
			  LAB_FS("window", tm->wins[j->win].file), LAB_FS("step", what),
			  LAB_FS("error", errmsg ? errmsg : lab_strerror(rc)));
	}
	job_reset(j);
	wj_done(&tm->run, rc);
}

static void on_stored(lab_ctx *ctx, int status, const void *data, size_t len, void *ud)
{
	struct timings *tm = ud;
	struct job *j = &tm->job;
	struct buf ev = { 0 };
	(void)data;
	(void)len;
	if (status < 0) {
		job_finish(tm, status, "store", NULL);
		return;
	}
	buf_puts(&ev, "{\"network\":");
	buf_json_str(&ev, tm->nets[j->net], strlen(tm->nets[j->net]));
	buf_puts(&ev, ",\"window\":");
	buf_json_str(&ev, tm->wins[j->win].file, strlen(tm->wins[j->win].file));
	buf_puts(&ev, ",\"kind\":");
	buf_json_str(&ev, kind_names[j->kind], strlen(kind_names[j->kind]));
	buf_puts(&ev, ",\"key\":");
	buf_json_str(&ev, j->key, strlen(j->key));
	buf_putc(&ev, '}');
	if (!ev.oom)
		lab_publish(ctx, "timings.updated", ev.data, ev.len);
	buf_free(&ev);
	lab_logkv(ctx, LAB_LOG_INFO, "timings document stored", LAB_FS("key", j->key),
		  LAB_FI("rows", (int64_t)j->n),
		  LAB_FI("incremental", j->plan.use_from != j->plan.use_to),
		  LAB_FI("query_ms", (int64_t)j->t_query),
		  LAB_FI("build_ms", (int64_t)j->t_build));
	job_finish(tm, 0, NULL, NULL);
}

/* lab_monotonic_ms() is not among the thread-safe calls: read the clock here. */
static uint64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Worker thread: only the pure code and the thread-safe host calls. */
static void build_doc(void *ud)
{
	struct timings *tm = ud;
	struct job *j = &tm->job;
	uint64_t t0 = mono_ms();
	if (j->kind == K_BLOCK_TIMINGS)
		j->build_rc = tm_block_timings_json(j->bt, j->n, &j->doc);
	else
		j->build_rc = tm_size_cdf_json(j->cdf, j->n, &j->doc);
	j->t_build = mono_ms() - t0;
}

static void built(lab_ctx *ctx, int status, void *ud)
{
	struct timings *tm = ud;
	struct job *j = &tm->job;
	if (status < 0 || j->build_rc < 0) {
		job_finish(tm, status < 0 ? status : LAB_ENOMEM, "build", NULL);
		return;
	}
	if (!wj_may_store(&tm->run)) { /* cluster: the lease was lost while the query ran */
		job_finish(tm, LAB_EBUSY, "store", "lease lost, the new holder writes it");
		return;
	}
	int rc = lab_storage_put_atomic(ctx, j->key, j->doc.data, j->doc.len, "application/json",
					"max-age=3600", on_stored, tm);
	if (rc < 0)
		job_finish(tm, rc, "store", NULL);
}

static int grow(struct job *j, size_t more, size_t elem, void **arr)
{
	if (j->n + more <= j->cap)
		return 0;
	size_t cap = j->cap ? j->cap : 64;
	while (cap < j->n + more) {
		if (cap > SIZE_MAX / 2 / elem)
			return LAB_ENOMEM;
		cap *= 2;
	}
	void *p = realloc(*arr, cap * elem);
	if (!p)
		return LAB_ENOMEM;
	*arr = p;
	j->cap = cap;
	return 0;
}

static void on_rows(lab_ctx *ctx, const lab_rows *r, void *ud)
{
	struct timings *tm = ud;
	struct job *j = &tm->job;
	size_t n = lab_rows_count(ctx, r);
	if (j->row_err)
		return;
	if (lab_rows_columns(ctx, r) != (j->kind == K_BLOCK_TIMINGS ? 8u : 13u)) {
		j->row_err = LAB_EPARSE;
		return;
	}
	if (j->kind == K_BLOCK_TIMINGS) {
		if ((j->row_err = grow(j, n, sizeof *j->bt, (void **)&j->bt)))
			return;
		for (size_t i = 0; i < n; i++) {
			struct tm_bt_row *o = &j->bt[j->n];
			if (lab_rows_i64(ctx, r, i, 0, &o->ts) < 0 ||
			    lab_rows_f64(ctx, r, i, 1, &o->min) < 0 ||
			    lab_rows_f64(ctx, r, i, 2, &o->max) < 0 ||
			    lab_rows_f64(ctx, r, i, 3, &o->avg) < 0 ||
			    lab_rows_f64(ctx, r, i, 4, &o->p05) < 0 ||
			    lab_rows_f64(ctx, r, i, 5, &o->p50) < 0 ||
			    lab_rows_f64(ctx, r, i, 6, &o->p95) < 0 ||
			    lab_rows_i64(ctx, r, i, 7, &o->blocks) < 0) {
				j->row_err = LAB_EPARSE;
				return;
			}
			j->n++;
		}
	} else {
		if ((j->row_err = grow(j, n, sizeof *j->cdf, (void **)&j->cdf)))
			return;
		for (size_t i = 0; i < n; i++) {
			struct tm_cdf_group *o = &j->cdf[j->n];
			int64_t c;
			if (lab_rows_i64(ctx, r, i, 0, &o->t) < 0 ||
			    lab_rows_i64(ctx, r, i, 1, &o->q) < 0 ||
			    lab_rows_i64(ctx, r, i, 2, &c) < 0 || c < -1 || c > 1 || o->q < 0 ||
			    o->q > INT64_MAX / 64) {
				j->row_err = LAB_EPARSE;
				return;
			}
			o->c = (int)c;
			for (int s = 0; s < TM_NSETS; s++) {
				if (lab_rows_u64(ctx, r, i, 3 + 2 * (size_t)s, &o->sum[s]) < 0 ||
				    lab_rows_u64(ctx, r, i, 4 + 2 * (size_t)s, &o->cnt[s]) < 0 ||
				    o->sum[s] > INT64_MAX || o->cnt[s] > INT64_MAX) {
					j->row_err = LAB_EPARSE;
					return;
				}
			}
			/* As its size bucket (q = kb / 32, c = -1), merged into the
			 * previous row of the same (t, kb): rows come ordered by
			 * (t, q, c), and kb does not decrease in (q, c) order, so a
			 * 60-day answer keeps ~3x fewer groups in memory. */
			o->q = tm_bucket_kb_qc(o->q, o->c) / 32;
			o->c = -1;
			struct tm_cdf_group *prev = j->n ? &j->cdf[j->n - 1] : NULL;
			if (prev && prev->t == o->t && prev->q == o->q) {
				for (int s = 0; s < TM_NSETS; s++) {
					if (o->sum[s] > INT64_MAX - prev->sum[s] ||
					    o->cnt[s] > INT64_MAX - prev->cnt[s]) {
						j->row_err = LAB_EPARSE;
						return;
					}
					prev->sum[s] += o->sum[s];
					prev->cnt[s] += o->cnt[s];
				}
				continue;
			}
			j->n++;
		}
	}
}

/* ------------------------------------------------------------------ the bucket cache */

/* The cache's rows: block_timings (t, min, max, avg, p05, p50, p95, blocks),
 * doubles in columns 1-6; size_cdf (t, kb, sum x 5, count x 5). */
#define BT_COLS 8
#define BT_DMASK 0x7eu
#define CDF_COLS 12
/* quantile() is exact up to this many values per bucket (its reservoir);
 * above it two runs over the same rows may sample differently. */
#define QUANTILE_EXACT_MAX 8192

static void bt_to_cells(const struct tm_bt_row *r, union wc_cell *c)
{
	c[0].i = r->ts;
	c[1].d = r->min;
	c[2].d = r->max;
	c[3].d = r->avg;
	c[4].d = r->p05;
	c[5].d = r->p50;
	c[6].d = r->p95;
	c[7].i = r->blocks;
}

static void cells_to_bt(const union wc_cell *c, struct tm_bt_row *r)
{
	r->ts = c[0].i;
	r->min = c[1].d;
	r->max = c[2].d;
	r->avg = c[3].d;
	r->p05 = c[4].d;
	r->p50 = c[5].d;
	r->p95 = c[6].d;
	r->blocks = c[7].i;
}

static void cdf_to_cells(const struct tm_cdf_group *g, union wc_cell *c)
{
	c[0].i = g->t;
	c[1].i = tm_bucket_kb_qc(g->q, g->c);
	for (int s = 0; s < TM_NSETS; s++) {
		c[2 + s].i = (int64_t)g->sum[s];
		c[2 + TM_NSETS + s].i = (int64_t)g->cnt[s];
	}
}

/* A cached row as a group of its size bucket: q = kb / 32 with c = -1
 * gives tm_bucket_kb_qc() == kb back. */
static void cells_to_cdf(const union wc_cell *c, struct tm_cdf_group *g)
{
	g->t = c[0].i;
	g->q = c[1].i / 32;
	g->c = -1;
	for (int s = 0; s < TM_NSETS; s++) {
		g->sum[s] = (uint64_t)c[2 + s].i;
		g->cnt[s] = (uint64_t)c[2 + TM_NSETS + s].i;
	}
}

static int cmp_bt(const void *a, const void *b)
{
	const struct tm_bt_row *x = a, *y = b;
	return x->ts < y->ts ? -1 : x->ts > y->ts;
}

static int cmp_cdf(const void *a, const void *b)
{
	const struct tm_cdf_group *x = a, *y = b;
	int64_t kx = tm_bucket_kb_qc(x->q, x->c), ky = tm_bucket_kb_qc(y->q, y->c);
	if (x->t != y->t)
		return x->t < y->t ? -1 : 1;
	return kx < ky ? -1 : kx > ky;
}

/* wc_mismatches: two block_timings rows of one bucket are the same result.
 * A quantile of a bucket above quantile()'s exact range is a sample: not
 * compared. */
static int same_bt(const union wc_cell *a, const union wc_cell *b)
{
	for (size_t k = 1; k < BT_COLS; k++) {
		if (k >= 4 && k <= 6 && a[7].i > QUANTILE_EXACT_MAX)
			continue;
		if (BT_DMASK >> k & 1 ? a[k].d != b[k].d : a[k].i != b[k].i)
			return 0;
	}
	return 1;
}

/*
 * The fresh answer plus the cached buckets it did not ask for become the
 * document's rows; its stable buckets become the new cache (saved in
 * state).  A run that queried the whole window compares the buckets it
 * shares with the old cache: a difference (rows that arrived after their
 * bucket settled, a changed entity, a sampled quantile...) is counted and
 * logged, and the fresh result wins.
 */
static int merge_cache(struct timings *tm)
{
	struct job *j = &tm->job;
	const struct wc_plan *p = &j->plan;
	struct wc *old = &j->cache, nc = { .ncols = old->ncols, .dmask = old->dmask };
	union wc_cell cells[WC_MAX_COLS];
	int rc = 0;
	/* the cached buckets this run did not ask for */
	for (size_t i = 0; i < old->n; i++) {
		const union wc_cell *c = wc_row(old, i);
		if (c[0].i < p->use_from || c[0].i >= p->use_to)
			continue;
		if (j->kind == K_BLOCK_TIMINGS) {
			if ((rc = grow(j, 1, sizeof *j->bt, (void **)&j->bt)) < 0)
				return rc;
			cells_to_bt(c, &j->bt[j->n++]);
		} else {
			if ((rc = grow(j, 1, sizeof *j->cdf, (void **)&j->cdf)) < 0)
				return rc;
			cells_to_cdf(c, &j->cdf[j->n++]);
		}
	}
	if (j->kind == K_BLOCK_TIMINGS) {
		if (j->n)
			qsort(j->bt, j->n, sizeof *j->bt, cmp_bt);
	} else if (j->n) {
		/* one group per (t, size bucket): the cache's rows and the
		 * document's input alike (tm_size_cdf_json merges across t) */
		size_t m = 0;
		qsort(j->cdf, j->n, sizeof *j->cdf, cmp_cdf);
		for (size_t i = 0; i < j->n; i++) {
			struct tm_cdf_group g = j->cdf[i];
			g.q = tm_bucket_kb_qc(g.q, g.c) / 32;
			g.c = -1;
			if (m && j->cdf[m - 1].t == g.t && j->cdf[m - 1].q == g.q) {
				for (int s = 0; s < TM_NSETS; s++) {
					j->cdf[m - 1].sum[s] += g.sum[s];
					j->cdf[m - 1].cnt[s] += g.cnt[s];
				}
			} else {
				j->cdf[m++] = g;
			}
		}
		j->n = m;
	}
	/* the new cache: every stable bucket, all of it known now */
	for (size_t i = 0; i < j->n; i++) {
		if (j->kind == K_BLOCK_TIMINGS)
			bt_to_cells(&j->bt[i], cells);
		else
			cdf_to_cells(&j->cdf[i], cells);
		if (cells[0].i < p->keep_from || cells[0].i >= p->keep_to)
			continue;
		if ((rc = wc_add(&nc, cells)) < 0) {
			wc_free(&nc);
			return rc;
		}
	}
	j->mismatches = wc_commit(tm->ctx, old, &nc, p, wj_now(&tm->run), tm->wins[j->win].step,
				  j->cache_key, j->fp, tm->cache_max_bytes,
				  j->kind == K_BLOCK_TIMINGS ? same_bt : NULL);
	wc_free(&nc);
	return 0; /* a cache that was not saved costs the next run, not this one */
}

static void on_query(lab_ctx *ctx, int status, const char *errmsg, const lab_rows *rows,
		     void *ud)
{
	struct timings *tm = ud;
	struct job *j = &tm->job;
	(void)rows;
	j->t_query = lab_monotonic_ms(ctx) - j->t_query;
	if (status < 0) {
		job_finish(tm, status, "query", errmsg);
		return;
	}
	if (j->row_err) {
		job_finish(tm, j->row_err, "rows", NULL);
		return;
	}
	int rc = merge_cache(tm);
	if (rc < 0) {
		job_finish(tm, rc, "cache", NULL);
		return;
	}
	rc = lab_work_submit(ctx, build_doc, built, tm);
	if (rc < 0)
		job_finish(tm, rc, "build", NULL);
}

static int start_job(struct timings *tm, int kind, size_t net, size_t win)
{
	struct job *j = &tm->job;
	const struct tm_window *w = &tm->wins[win];
	const char *nw = tm->nets[net];
	int rc;
	job_reset(j);
	j->kind = kind;
	j->net = net;
	j->win = win;
	j->end = wj_now(&tm->run);
	j->start = j->end + w->range;
	int n = snprintf(j->key, sizeof j->key, "%s/%s/%s/%s.json", tm->prefix, kind_names[kind],
			 nw, w->file);
	if (n < 0 || (size_t)n >= sizeof j->key)
		return LAB_ERANGE;
	/* the bucket cache: its key, what it must have been built by */
	n = snprintf(j->cache_key, sizeof j->cache_key, "cache/%s/%s/%s", kind_names[kind], nw,
		     w->file);
	int f = snprintf(j->fp, sizeof j->fp, "%s/q%s/%s/step=%" PRId64, kind_names[kind],
			 QUERY_VERSION, nw, w->step);
	if (n < 0 || (size_t)n >= sizeof j->cache_key || f < 0 || (size_t)f >= sizeof j->fp)
		return LAB_ERANGE;
	const char *why;
	if ((rc = wc_load(tm->ctx, &j->cache, j->cache_key, j->fp,
			  kind == K_BLOCK_TIMINGS ? BT_COLS : CDF_COLS,
			  kind == K_BLOCK_TIMINGS ? BT_DMASK : 0, 0, &why)) < 0)
		return rc;
	if (why)
		lab_logkv(tm->ctx, LAB_LOG_INFO, "bucket cache dropped; full recompute",
			  LAB_FS("key", j->cache_key), LAB_FS("reason", why));
	int64_t now = wj_now(&tm->run);
	int full = tm->cache_max_bytes == 0 || tm->full_interval == 0 ||
		   now - j->cache.last_full >= tm->full_interval || j->cache.last_full > now ||
		   j->cache.last_full < tm->full_requested;
	wc_plan(&j->cache, j->end, j->start, w->step, tm->settle_margin, full, &j->plan);
	const struct wc_plan *pl = &j->plan;
	j->t_query = lab_monotonic_ms(tm->ctx);
	if (kind == K_BLOCK_TIMINGS) {
		lab_param p[] = { LAB_PINT(w->step), LAB_PINT(w->step), LAB_PTIME(pl->a0),
				  LAB_PTIME(pl->a1), LAB_PTIME(pl->b0), LAB_PTIME(pl->b1),
				  LAB_PSTR(nw) };
		rc = lab_query_stream(tm->ctx, sql_block_timings, p, sizeof p / sizeof *p, on_rows,
				      on_query, tm);
	} else {
#define R LAB_PTIME(pl->a0), LAB_PTIME(pl->a1), LAB_PTIME(pl->b0), LAB_PTIME(pl->b1), LAB_PSTR(nw)
		lab_param p[] = { LAB_PINT(w->step), LAB_PINT(w->step), R, R, R, R, LAB_PSTR(nw) };
#undef R
		rc = lab_query_stream(tm->ctx, sql_size_cdf, p, sizeof p / sizeof *p, on_rows,
				      on_query, tm);
	}
	return rc;
}

/* ------------------------------------------------------------------ the runner's jobs */

/* wj_ops.start: job `i` of the pass. */
static int run_job(void *ud, size_t i)
{
	struct timings *tm = ud;
	int kind = (int)(i / (tm->nnet * tm->nwin));
	size_t net = i / tm->nwin % tm->nnet, win = i % tm->nwin;
	int rc = start_job(tm, kind, net, win);
	if (rc < 0) {
		lab_logkv(tm->ctx, LAB_LOG_WARN, "timings job not started; retried at the next tick",
			  LAB_FS("kind", kind_names[kind]), LAB_FS("network", tm->nets[net]),
			  LAB_FS("window", tm->wins[win].file), LAB_FS("error", lab_strerror(rc)));
		job_reset(&tm->job);
	}
	return rc;
}

static const struct wj_ops run_ops = {
	.start = run_job, .time_text = tm_iso8601, .time_parse = tm_parse_iso8601,
};

/* The runner's groups and jobs, then the state. */
static int build_jobs(struct timings *tm)
{
	char entry[512];
	wj_init(&tm->run, tm->ctx, &run_ops, tm, "last_processed");
	for (int k = 0; k < K_N; k++) {
		if (wj_add_group(&tm->run, kind_names[k], 0) < 0)
			return LAB_ENOMEM;
		for (size_t n = 0; n < tm->nnet; n++)
			for (size_t w = 0; w < tm->nwin; w++) {
				int len = snprintf(entry, sizeof entry, "%s/%s", tm->nets[n],
						   tm->wins[w].file);
				if (len < 0 || (size_t)len >= sizeof entry)
					return LAB_ERANGE;
				if (wj_add_job(&tm->run, entry, tm->interval) < 0)
					return LAB_ENOMEM;
			}
	}
	return wj_load(&tm->run);
}

/* ------------------------------------------------------------------ config */

static int read_networks(struct timings *tm)
{
	lab_ctx *ctx = tm->ctx;
	int n = lab_cfg_count(ctx, NULL, "networks");
	if (n < 0)
		return lab_cfg_error(ctx, NULL, "networks", "not a list of strings");
	size_t count = n ? (size_t)n : lab_network_count(ctx);
	if (!count)
		return lab_cfg_error(ctx, NULL, "networks", "no networks (ethereum.networks is empty)");
	if (!(tm->nets = calloc(count, sizeof *tm->nets)))
		return LAB_ENOMEM;
	tm->nnet = count;
	for (size_t i = 0; i < count; i++) {
		const char *name;
		if (!n) {
			tm->nets[i] = lab_network_name(ctx, lab_network_at(ctx, i));
			continue;
		}
		const lab_cfg *e;
		if (lab_cfg_elem(ctx, NULL, "networks", (int)i, &e) < 0 ||
		    lab_cfg_string(ctx, e, NULL, &name) < 0)
			return lab_cfg_error(ctx, NULL, "networks", "not a list of strings");
		if (!lab_network_find(ctx, name))
			return lab_cfg_error(ctx, NULL, "networks",
					     "unknown network \"%.100s\" (not in ethereum.networks)", name);
		for (size_t k = 0; k < i; k++)
			if (!strcmp(tm->nets[k], name))
				return lab_cfg_error(ctx, NULL, "networks", "network listed twice");
		tm->nets[i] = name;
	}
	return 0;
}

static int read_windows(struct timings *tm)
{
	lab_ctx *ctx = tm->ctx;
	int n = lab_cfg_count(ctx, NULL, "time_windows");
	if (n < 0)
		return lab_cfg_error(ctx, NULL, "time_windows", "not a list");
	size_t count = n ? (size_t)n : sizeof default_windows / sizeof *default_windows;
	if (!(tm->wins = calloc(count, sizeof *tm->wins)))
		return LAB_ENOMEM;
	tm->nwin = count;
	for (size_t i = 0; i < count; i++) {
		struct tm_window *w = &tm->wins[i];
		const lab_cfg *e;
		if (!n) {
			w->file = default_windows[i].file;
			w->step_text = default_windows[i].step;
			w->label = default_windows[i].label;
			w->range_text = default_windows[i].range;
			w->step = default_windows[i].step_s;
			w->range = default_windows[i].range_s;
			continue;
		}
		/* The host checked file (a portable segment), step >= 1 s and
		 * range <= -1 s; the texts of the durations go into describe. */
		if (lab_cfg_elem(ctx, NULL, "time_windows", (int)i, &e) < 0 ||
		    lab_cfg_bind(ctx, e, w) < 0 ||
		    lab_cfg_string(ctx, e, "step", &w->step_text) < 0 ||
		    lab_cfg_string(ctx, e, "range", &w->range_text) < 0)
			return lab_cfg_error(ctx, e, "file", "incomplete time window");
		for (size_t k = 0; k < i; k++)
			if (!strcmp(tm->wins[k].file, w->file))
				return lab_cfg_error(ctx, e, "file", "duplicate window file");
	}
	return 0;
}

static int build_describe(struct timings *tm)
{
	struct buf b = { 0 };
	if (tm_describe_json(tm->prefix, (const char *const *)tm->nets, tm->nnet, tm->wins,
			     tm->nwin, &b) < 0) {
		buf_free(&b);
		return LAB_ENOMEM;
	}
	tm->describe = b.data;
	return 0;
}

/* ------------------------------------------------------------------ life cycle */

static void timings_destroy(void *self)
{
	struct timings *tm = self;
	if (!tm)
		return;
	job_reset(&tm->job);
	wj_free(&tm->run);
	free(tm->nets);
	free(tm->wins);
	free(tm->describe);
	free(tm);
}

static int timings_init(lab_ctx *ctx, void **self)
{
	struct timings *tm = calloc(1, sizeof *tm);
	int rc;
	if (!tm)
		return LAB_ENOMEM;
	tm->ctx = ctx;
	/* interval >= 1 s and a safe key prefix were checked by the host */
	if ((rc = lab_cfg_bind(ctx, NULL, tm)) < 0)
		goto fail;
	/* timings' own prefix rule is stricter than LAB_SETTING_KEY_PREFIX:
	 * '/'-separated portable segments, no trailing '/' */
	if (!tm_valid_prefix(tm->prefix)) {
		rc = lab_cfg_error(ctx, NULL, "path_prefix",
				   "must be '/'-separated segments of [A-Za-z0-9._-]");
		goto fail;
	}
	if ((rc = read_networks(tm)) < 0 || (rc = read_windows(tm)) < 0 ||
	    (rc = build_jobs(tm)) < 0 || (rc = build_describe(tm)) < 0)
		goto fail;
	*self = tm;
	return 0;
fail:
	timings_destroy(tm);
	return rc;
}

/*
 * lab.timings.run with {"full":true}: the host calls run() for every
 * message on the subject (SDK: no body); this subscription to the same
 * subject reads the body.  Whichever comes first, every job that starts
 * after the request does a full recompute, and the forced pass asked for
 * here (queued behind a pass already running) reaches the jobs that
 * started before it.
 */
static void on_run_msg(lab_ctx *ctx, const char *subject, const void *data, size_t len, void *ud)
{
	struct timings *tm = ud;
	(void)subject;
	if (wc_full_request(data, len)) {
		tm->full_requested = lab_now(ctx);
		lab_logkv(ctx, LAB_LOG_INFO, "full recompute requested");
		wj_run(&tm->run);
	}
}

static int timings_start(void *self)
{
	struct timings *tm = self;
	int64_t tick = tm->interval < 60 ? tm->interval : 60;
	/* no broker: no run requests by message at all */
	if (lab_subscribe(tm->ctx, "timings.run", on_run_msg, tm, NULL) < 0)
		lab_logkv(tm->ctx, LAB_LOG_DEBUG, "no subscription to timings.run");
	lab_logkv(tm->ctx, LAB_LOG_INFO, "timings started", LAB_FI("networks", (int64_t)tm->nnet),
		  LAB_FI("windows", (int64_t)tm->nwin), LAB_FI("interval_s", tm->interval));
	return wj_start(&tm->run, (uint64_t)tick * 1000);
}

static int timings_stop(void *self)
{
	wj_stop(&((struct timings *)self)->run);
	return 0;
}

static int timings_once(void *self)
{
	wj_once(&((struct timings *)self)->run);
	return 0;
}

static int timings_run(void *self)
{
	wj_run(&((struct timings *)self)->run);
	return 0;
}

static const char *timings_describe(void *self) { return ((struct timings *)self)->describe; }

LAB_PLUGIN_DEFINE(.name = "timings", .version = "1.0.0",
		  .description = "Block arrival statistics and block-size CDF per network and "
				 "time window (beacon_chain_timings)",
		  .options = options, .init = timings_init, .start = timings_start,
		  .stop = timings_stop, .destroy = timings_destroy, .once = timings_once,
		  .run = timings_run, .describe = timings_describe)
