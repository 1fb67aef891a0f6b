/* Test plugin for tests/integration/clickhouse.sh: exercises lab_query and
 * lab_query_stream against a real ClickHouse in --once runs.  `mode`
 * selects the check; each logs "querier: ..." lines the script greps and
 * reports 0 through lab_done only when the check held.
 *
 *   roundtrip  SELECT ? for a tricky string (', \, newline, tab, %, ?,
 *              UTF-8) and typed values; must come back byte for byte
 *   error      a query ClickHouse rejects: LAB_EQUERY with its message
 *   stream     SELECT number FROM numbers(rows) streamed; checks order and
 *              count, logs rows/s
 *   rows       same through lab_query (one row set)
 *   down       expects a transport failure (LAB_EIO / LAB_EUNAVAIL)
 *   cancel     cancels a streamed query from its first batch; done must
 *              not be called
 *   many       `count` concurrent small queries, all must succeed
 *   tick       (service mode) SELECT 1 every 200 ms, for /readyz
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <lab/plugin.h>

static const lab_setting settings[] = {
	{ .name = "mode", .type = LAB_SET_STRING, .def = "roundtrip", .desc = "which check" },
	{ .name = "rows", .type = LAB_SET_INT, .def = "1000000", .desc = "rows for stream" },
	{ .name = "count", .type = LAB_SET_INT, .def = "50", .desc = "queries for many" },
	{ 0 },
};

struct q {
	lab_ctx *ctx;
	const char *mode;
	int64_t rows, count;
	uint64_t seen, next;
	int bad;
	int64_t pending, ok;
	double t0;
	lab_op *op;
	int cancelled_cb;
};

/* The tricky string: quote, backslash, newline, CR, tab, %, ?, --, block
 * comment opener, a control byte, and UTF-8. */
static const char tricky[] = "it's a \\ back\\slash\nnew line\r\ttab 100% ? -- /* x */ \x01 "
			     "\xc3\xa9t\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 ''\\'";

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int q_init(lab_ctx *ctx, void **self)
{
	struct q *p = calloc(1, sizeof *p);
	if (!p)
		return LAB_ENOMEM;
	p->ctx = ctx;
	p->mode = "roundtrip";
	lab_cfg_string(ctx, NULL, "mode", &p->mode);
	lab_cfg_int(ctx, NULL, "rows", &p->rows);
	lab_cfg_int(ctx, NULL, "count", &p->count);
	*self = p;
	return 0;
}

static void q_destroy(void *self) { free(self); }
static void tick_done(lab_ctx *ctx, int status, const char *errmsg, const lab_rows *r, void *ud)
{
	lab_logf(ctx, LAB_LOG_INFO, "querier: tick status=%d", status);
}

static void tick(lab_ctx *ctx, lab_timer *t, void *ud)
{
	lab_query(ctx, "SELECT 1", NULL, 0, tick_done, ud);
}

/* Service mode with mode = "tick": a query every 200 ms (for /readyz). */
static int q_start(void *self)
{
	struct q *p = self;
	if (strcmp(p->mode, "tick") != 0)
		return 0;
	return lab_timer_start(p->ctx, 200, 200, tick, p, NULL);
}
static int q_stop(void *self) { return 0; }

static void finish(struct q *p, int ok, const char *what)
{
	lab_logf(p->ctx, LAB_LOG_INFO, "querier: %s %s", what, ok ? "ok" : "FAILED");
	lab_done(p->ctx, ok ? 0 : LAB_EIO);
}

static void roundtrip_done(lab_ctx *ctx, int status, const char *errmsg, const lab_rows *r,
			   void *ud)
{
	struct q *p = ud;
	if (status) {
		lab_logf(ctx, LAB_LOG_ERROR, "querier: roundtrip error %d: %s", status, errmsg);
		finish(p, 0, "roundtrip");
		return;
	}
	int failed_at = 0;
	int ok = lab_rows_count(ctx, r) == 1 && lab_rows_columns(ctx, r) == 7;
	const char *s;
	size_t len;
	int64_t i;
	uint64_t u;
	double d;
	if (ok && lab_rows_str(ctx, r, 0, 0, &s, &len) == 0) {
		if (len != sizeof tricky - 1 || memcmp(s, tricky, len) != 0) {
			lab_logf(ctx, LAB_LOG_ERROR, "querier: string differs (len %zu want %zu)", len,
				 sizeof tricky - 1);
			ok = 0;
		}
	} else {
		ok = 0;
	}
	if (!ok)
		failed_at = 1;
	ok = ok && lab_rows_i64(ctx, r, 0, 1, &i) == 0 && i == INT64_MIN;
	if (!ok && !failed_at)
		failed_at = 2;
	ok = ok && lab_rows_u64(ctx, r, 0, 2, &u) == 0 && u == UINT64_MAX;
	if (!ok && !failed_at)
		failed_at = 3;
	ok = ok && lab_rows_f64(ctx, r, 0, 3, &d) == 0 && d == 0.1;
	if (!ok && !failed_at)
		failed_at = 4;
	ok = ok && lab_rows_is_null(ctx, r, 0, 4) == 1;
	if (!ok && !failed_at)
		failed_at = 5;
	ok = ok && lab_rows_u64(ctx, r, 0, 5, &u) == 0 && u == 1700000000;
	if (!ok && !failed_at)
		failed_at = 6;
	ok = ok && lab_rows_i64(ctx, r, 0, 6, &i) == 0 && i == 5; /* 0 - -5 */
	if (!ok && !failed_at)
		failed_at = 7;
	ok = ok && lab_rows_i64(ctx, r, 0, 0, &i) == LAB_EPARSE;
	if (!ok && !failed_at)
		failed_at = 8;
	ok = ok && lab_rows_str(ctx, r, 1, 0, &s, &len) == LAB_ERANGE;
	if (!ok && !failed_at)
		failed_at = 9;
	ok = ok && strcmp(lab_rows_column_name(ctx, r, 1), "i") == 0;
	if (!ok && !failed_at)
		failed_at = 10;
	if (!ok)
		lab_logf(ctx, LAB_LOG_ERROR, "querier: roundtrip check %d failed", failed_at);
	finish(p, ok, "roundtrip");
}

static void error_done(lab_ctx *ctx, int status, const char *errmsg, const lab_rows *r, void *ud)
{
	struct q *p = ud;
	lab_logf(ctx, LAB_LOG_INFO, "querier: error status=%d msg=%s", status, errmsg ? errmsg : "");
	finish(p, status == LAB_EQUERY && errmsg && strstr(errmsg, "nosuchcolumn") && !r, "error");
}

static void stream_rows(lab_ctx *ctx, const lab_rows *b, void *ud)
{
	struct q *p = ud;
	size_t n = lab_rows_count(ctx, b);
	for (size_t i = 0; i < n; i++) {
		uint64_t v;
		if (lab_rows_u64(ctx, b, i, 0, &v) != 0 || v != p->next)
			p->bad = 1;
		p->next++;
	}
	p->seen += n;
}

static void stream_done(lab_ctx *ctx, int status, const char *errmsg, const lab_rows *r, void *ud)
{
	struct q *p = ud;
	double secs = now_s() - p->t0;
	if (!strcmp(p->mode, "rows") && status == 0)
		stream_rows(ctx, r, p);
	lab_logf(ctx, LAB_LOG_INFO, "querier: %s rows=%" PRIu64 " secs=%.3f rows_per_sec=%.0f status=%d",
		 p->mode, p->seen, secs, secs > 0 ? (double)p->seen / secs : 0.0, status);
	if (status)
		lab_logf(ctx, LAB_LOG_ERROR, "querier: %s", errmsg);
	finish(p, status == 0 && !p->bad && p->seen == (uint64_t)p->rows, p->mode);
}

static void down_done(lab_ctx *ctx, int status, const char *errmsg, const lab_rows *r, void *ud)
{
	struct q *p = ud;
	lab_logf(ctx, LAB_LOG_INFO, "querier: down status=%d (%s) msg=%s", status,
		 lab_strerror(status), errmsg ? errmsg : "");
	finish(p, (status == LAB_EIO || status == LAB_EUNAVAIL) && !r, "down");
}

static void cancel_done(lab_ctx *ctx, int status, const char *errmsg, const lab_rows *r, void *ud)
{
	struct q *p = ud;
	p->cancelled_cb = 1;
}

static void cancel_check(lab_ctx *ctx, lab_timer *t, void *ud)
{
	struct q *p = ud;
	finish(p, !p->cancelled_cb && p->seen > 0, "cancel");
}

static void cancel_rows(lab_ctx *ctx, const lab_rows *b, void *ud)
{
	struct q *p = ud;
	p->seen += lab_rows_count(ctx, b);
	if (p->op) {
		int rc = lab_op_cancel(ctx, p->op);
		p->op = NULL;
		if (rc != 0 || lab_timer_start(ctx, 300, 0, cancel_check, p, NULL) != 0)
			finish(p, 0, "cancel");
	}
}

static void many_done(lab_ctx *ctx, int status, const char *errmsg, const lab_rows *r, void *ud)
{
	struct q *p = ud;
	uint64_t v;
	if (status == 0 && lab_rows_u64(ctx, r, 0, 0, &v) == 0 && v == 42)
		p->ok++;
	else
		lab_logf(ctx, LAB_LOG_ERROR, "querier: many: status %d %s", status, errmsg ? errmsg : "");
	if (--p->pending == 0)
		finish(p, p->ok == p->count, "many");
}

static int q_once(void *self)
{
	struct q *p = self;
	lab_ctx *ctx = p->ctx;
	p->t0 = now_s();
	if (!strcmp(p->mode, "roundtrip")) {
		lab_param prm[] = { LAB_PSTR(tricky), LAB_PINT(INT64_MIN), LAB_PUINT(UINT64_MAX),
				    LAB_PDOUBLE(0.1), LAB_PNULL, LAB_PTIME(1700000000),
				    LAB_PINT(-5) };
		return lab_query(ctx,
				 "SELECT ? AS s, /* a ? in a comment */ ? AS i, ? AS u, ? AS d, ? AS n, "
				 "toUInt32(?) AS t, 0-? AS neg -- trailing ? comment\n",
				 prm, 7, roundtrip_done, p);
	}
	if (!strcmp(p->mode, "error"))
		return lab_query(ctx, "SELECT nosuchcolumn FROM system.one", NULL, 0, error_done, p);
	if (!strcmp(p->mode, "stream") || !strcmp(p->mode, "rows")) {
		lab_param prm[] = { LAB_PUINT(p->rows) };
		if (!strcmp(p->mode, "rows"))
			return lab_query(ctx, "SELECT number FROM system.numbers LIMIT ?", prm, 1,
					 stream_done, p);
		return lab_query_stream(ctx, "SELECT number FROM system.numbers LIMIT ?", prm, 1,
					stream_rows, stream_done, p);
	}
	if (!strcmp(p->mode, "down"))
		return lab_query(ctx, "SELECT 1", NULL, 0, down_done, p);
	if (!strcmp(p->mode, "cancel")) {
		lab_param prm[] = { LAB_PUINT(100000000) };
		return ctx->api->query(ctx, "SELECT number FROM system.numbers LIMIT ?", prm, 1,
				       LAB_QUERY_STREAM, cancel_rows, cancel_done, p, &p->op);
	}
	if (!strcmp(p->mode, "many")) {
		p->pending = p->count;
		for (int64_t i = 0; i < p->count; i++) {
			int rc = lab_query(ctx, "SELECT 42", NULL, 0, many_done, p);
			if (rc < 0)
				return rc;
		}
		return 0;
	}
	return LAB_EINVAL;
}

LAB_PLUGIN_DEFINE(.name = "querier", .version = "1.0.0", .description = "ClickHouse query probe",
		  .settings = settings, .init = q_init, .start = q_start,
		  .stop = q_stop, .destroy = q_destroy, .once = q_once)
