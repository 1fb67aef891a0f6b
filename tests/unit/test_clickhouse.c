/* host/clickhouse.c against a fake ClickHouse (FAULT INJECTION: the
 * in-test server of fake_http.h answering like ClickHouse's HTTP interface,
 * so tests can have 500s with and without exceptions, exceptions after a
 * 200, garbage and gzip on demand).  The real server is exercised by
 * tests/integration/clickhouse.sh. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "fake_http.h"
#include "ch_internal.h"
#include "clickhouse.h"
#include "metrics.h"

/* This test's registry (the daemon owns one; the services get it at open). */
static struct metrics *M;
#include "testutil.h"

static int port;
static uv_loop_t loop;
static struct clickhouse *CH;
static char last_url[512];
static char last_sql[4096];
static int saw_gzip;
static int ch_requests;
static int probes;      /* SELECT 1 probes answered (atomic) */
static int probe_down;  /* answer probes with a bare 503 (atomic) */

static void tsv_field(struct buf *b, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '\t')
			buf_puts(b, "\\t");
		else if (s[i] == '\n')
			buf_puts(b, "\\n");
		else if (s[i] == '\\')
			buf_puts(b, "\\\\");
		else
			buf_putc(b, s[i]);
	}
}

static int fake_ch(int fd, const struct fake_req *r)
{
	if (strncmp(r->path, "/?", 2) != 0)
		return 0;
	__atomic_add_fetch(&ch_requests, 1, __ATOMIC_SEQ_CST);
	snprintf(last_url, sizeof last_url, "%s", r->path);
	snprintf(last_sql, sizeof last_sql, "%s", r->body);
	const char *sql = r->body;
	struct buf b = BUF_INIT;
	if (!strcmp(sql, "SELECT 1")) { /* the readiness probe (no FORMAT clause) */
		__atomic_add_fetch(&probes, 1, __ATOMIC_SEQ_CST);
		if (__atomic_load_n(&probe_down, __ATOMIC_SEQ_CST))
			fake_respond(fd, 503, NULL, "", 0);
		else
			fake_respond(fd, 200, NULL, "1\n", 2);
	} else if (strstr(sql, "EXC500")) {
		static const char e[] = "Code: 62, e.displayText() = DB::Exception: Syntax error: "
					"failed at position 8, e.what() = DB::Exception\n";
		fake_respond(fd, 500, NULL, e, sizeof e - 1);
	} else if (strstr(sql, "BUSY503")) {
		fake_respond(fd, 503, NULL, "overloaded\n", 11);
	} else if (strstr(sql, "MIDSTREAM")) {
		static const char e[] = "x\n1\n2\nCode: 241, e.displayText() = DB::Exception: "
					"Memory limit exceeded\n";
		fake_respond(fd, 200, NULL, e, sizeof e - 1);
	} else if (strstr(sql, "MIDROW")) {
		static const char e[] = "a\tb\n1\t2\n3Code: 241. DB::Exception: boom\n";
		fake_respond(fd, 200, NULL, e, sizeof e - 1);
	} else if (strstr(sql, "GARBAGE")) {
		fake_respond(fd, 200, NULL, "a\tb\n1\n", 6);
	} else if (strstr(sql, "BIGN")) {
		buf_puts(&b, "number\n");
		for (int i = 0; i < 10000; i++)
			buf_printf(&b, "%d\n", i);
		fake_respond(fd, 200, NULL, b.data, b.len);
	} else if (strstr(sql, "GZ")) {
		saw_gzip = r->accept_gzip && strstr(r->path, "enable_http_compression=1") != NULL;
		static const char t[] = "n\n1\n2\n3\n";
		unsigned char z[256];
		size_t zl;
		fake_gzip(t, sizeof t - 1, z, sizeof z, &zl);
		fake_respond(fd, 200, "Content-Encoding: gzip\r\n", z, zl);
	} else {
		/* Echo the SQL as a one-row, one-column result. */
		buf_puts(&b, "sql\n");
		tsv_field(&b, sql, r->body_len);
		buf_putc(&b, '\n');
		fake_respond(fd, 200, NULL, b.data, b.len);
	}
	buf_free(&b);
	return 1;
}

struct res {
	int called, status;
	char err[512];
	char first[512];
	size_t nrows, batches, maxbatch;
	char *order; /* appended tag on completion */
	const char *tag;
	struct ch_query *cancel_me;
	struct res *peer; /* whose cancel_me points at this query */
};

static void done_cb(int status, const char *errmsg, const lab_rows *rows, void *ud)
{
	struct res *r = ud;
	r->called++;
	r->status = status;
	if (r->peer)
		r->peer->cancel_me = NULL; /* finished: no longer cancellable */
	snprintf(r->err, sizeof r->err, "%s", errmsg ? errmsg : "");
	if (rows) {
		r->nrows = ch_rows_count(rows);
		const char *s;
		size_t len;
		if (ch_rows_str(rows, 0, 0, &s, &len) == 0)
			snprintf(r->first, sizeof r->first, "%.*s", (int)len, s);
	}
	if (r->order && r->tag)
		strcat(r->order, r->tag);
}

static int rows_cb(const lab_rows *b, void *ud)
{
	struct res *r = ud;
	r->batches++;
	size_t n = ch_rows_count(b);
	if (n > r->maxbatch)
		r->maxbatch = n;
	r->nrows += n;
	if (r->cancel_me) {
		clickhouse_cancel(r->cancel_me);
		r->cancel_me = NULL;
	}
	return 0;
}

static void run_until(int *flag, int want, uint64_t ms) { tu_run_until(&loop, flag, want, ms); }

static int open_ch_comp(int maxc, const char *host, int comp)
{
	char url[128];
	snprintf(url, sizeof url, "http://%s:%d/", host, port);
	struct host_conf hc = { 0 };
	hc.ch_compression = comp;
	hc.ch_url = url;
	hc.ch_database = (char *)"x db";
	hc.ch_user = (char *)"default";
	hc.ch_password = (char *)"";
	hc.ch_timeout = 10;
	hc.ch_max_concurrency = maxc;
	return clickhouse_open(&loop, M, &hc, &CH);
}

/* The fake server is on loopback: compression asked for explicitly. */
static int open_ch(int maxc) { return open_ch_comp(maxc, "127.0.0.1", CH_COMPRESSION_ON); }

static int setup(void **st)
{
	(void)st;
	uv_loop_init(&loop);
	return open_ch(4);
}

static int teardown(void **st)
{
	(void)st;
	clickhouse_close(CH);
	uv_run(&loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&loop), 0);
	return 0;
}

static void test_request_shape(void **st)
{
	struct res r = { 0 };
	lab_param p[] = { LAB_PSTR("a'b"), LAB_PUINT(7) };
	assert_int_equal(clickhouse_query(CH, "p", "SELECT ?, ? ;\n", p, 2, 0, NULL, done_cb, &r,
					  NULL), 0);
	assert_int_equal(r.called, 0); /* never synchronously */
	run_until(&r.called, 1, 5000);
	assert_int_equal(r.status, 0);
	assert_string_equal(r.first, "SELECT 'a\\'b', 7\nFORMAT TabSeparatedWithNames");
	assert_non_null(strstr(last_url, "database=x%20db"));
	assert_non_null(strstr(last_url, "enable_http_compression=1"));
	assert_null(strstr(last_url, "param_"));
	/* Statements without rows get no FORMAT clause. */
	struct res c = { 0 };
	assert_int_equal(clickhouse_query(CH, "p", "CREATE TABLE t (a UInt8) ENGINE = Memory", NULL,
					  0, 0, NULL, done_cb, &c, NULL), 0);
	run_until(&c.called, 1, 5000);
	assert_string_equal(c.first, "CREATE TABLE t (a UInt8) ENGINE = Memory");
	/* Binding errors are immediate. */
	assert_int_equal(clickhouse_query(CH, "p", "SELECT ?", NULL, 0, 0, NULL, done_cb, &r, NULL),
			 LAB_EINVAL);
	assert_int_equal(clickhouse_query(CH, "p", "SELECT 1", NULL, 0, LAB_QUERY_STREAM, NULL,
					  done_cb, &r, NULL), LAB_EINVAL);
}

static void test_errors(void **st)
{
	struct res r = { 0 };
	int before = ch_requests;
	assert_int_equal(clickhouse_query(CH, "p", "SELECT EXC500", NULL, 0, 0, NULL, done_cb, &r,
					  NULL), 0);
	run_until(&r.called, 1, 5000);
	assert_int_equal(r.status, LAB_EQUERY);
	assert_true(strncmp(r.err, "Code: 62, e.displayText() = DB::Exception: Syntax error", 55) == 0);
	assert_int_equal(ch_requests - before, 1); /* not retried */

	struct res m = { 0 };
	assert_int_equal(clickhouse_query(CH, "p", "SELECT MIDSTREAM", NULL, 0, 0, NULL, done_cb, &m,
					  NULL), 0);
	run_until(&m.called, 1, 5000);
	assert_int_equal(m.status, LAB_EQUERY);
	assert_non_null(strstr(m.err, "Memory limit exceeded"));

	struct res w = { 0 };
	assert_int_equal(clickhouse_query(CH, "p", "SELECT MIDROW", NULL, 0, 0, NULL, done_cb, &w,
					  NULL), 0);
	run_until(&w.called, 1, 5000);
	assert_int_equal(w.status, LAB_EQUERY);
	assert_non_null(strstr(w.err, "Code: 241. DB::Exception: boom"));

	struct res g = { 0 };
	assert_int_equal(clickhouse_query(CH, "p", "SELECT GARBAGE", NULL, 0, 0, NULL, done_cb, &g,
					  NULL), 0);
	run_until(&g.called, 1, 5000);
	assert_int_equal(g.status, LAB_EPARSE);
}

static void test_retry_5xx(void **st)
{
	struct res r = { 0 };
	int before = ch_requests;
	uint64_t t0 = uv_hrtime();
	assert_int_equal(clickhouse_query(CH, "p", "SELECT BUSY503", NULL, 0, 0, NULL, done_cb, &r,
					  NULL), 0);
	run_until(&r.called, 1, 10000);
	uint64_t ms = (uv_hrtime() - t0) / 1000000;
	assert_int_equal(r.status, LAB_EUNAVAIL);
	assert_non_null(strstr(r.err, "HTTP 503"));
	assert_int_equal(ch_requests - before, 4); /* 1 + 3 retries */
	/* Backoff 200, 400, 800 ms with jitter in [d/2, d]: 700..1400 ms. */
	assert_true(ms >= 650 && ms < 5000);
	const char *why = NULL;
	/* 5xx without ClickHouse's own error text: unavailable, with the reason */
	assert_int_equal(clickhouse_ready(CH, &why), 1);
	assert_non_null(strstr(why, "HTTP 503"));
	/* Writes are not sent twice. */
	struct res w = { 0 };
	before = ch_requests;
	assert_int_equal(clickhouse_query(CH, "p", "INSERT INTO t SELECT BUSY503", NULL, 0, 0, NULL,
					  done_cb, &w, NULL), 0);
	run_until(&w.called, 1, 10000);
	assert_int_equal(w.status, LAB_EUNAVAIL);
	assert_int_equal(ch_requests - before, 1);
}

static void test_unreachable(void **st)
{
	clickhouse_close(CH);
	uv_run(&loop, UV_RUN_DEFAULT);
	char url[64];
	snprintf(url, sizeof url, "http://127.0.0.1:%d", fake_closed_port());
	struct host_conf hc = { 0 };
	hc.ch_url = url;
	hc.ch_timeout = 5;
	hc.ch_max_concurrency = 2;
	assert_int_equal(clickhouse_open(&loop, M, &hc, &CH), 0);
	struct res r = { 0 };
	assert_int_equal(clickhouse_query(CH, "p", "SELECT 1", NULL, 0, 0, NULL, done_cb, &r, NULL),
			 0);
	run_until(&r.called, 1, 10000);
	assert_int_equal(r.status, LAB_EIO);
	const char *why = NULL;
	assert_int_equal(clickhouse_ready(CH, &why), 1);
	assert_non_null(why);
}

/* clickhouse.compression = "auto" (the default): not asked for from a
 * loopback server (localhost or 127.0.0.0/8), which answers uncompressed. */
static void test_compression_auto_loopback(void **st)
{
	(void)st;
	const char *hosts[] = { "127.0.0.1", "localhost" };
	for (size_t i = 0; i < 2; i++) {
		clickhouse_close(CH);
		uv_run(&loop, UV_RUN_DEFAULT);
		assert_int_equal(open_ch_comp(2, hosts[i], CH_COMPRESSION_AUTO), 0);
		struct res r = { 0 };
		assert_int_equal(clickhouse_query(CH, "p", "SELECT 1", NULL, 0, 0, NULL, done_cb,
						  &r, NULL), 0);
		run_until(&r.called, 1, 5000);
		assert_int_equal(r.status, 0);
		assert_non_null(strstr(last_url, "enable_http_compression=0"));
	}
}

static void test_gzip_and_stream(void **st)
{
	struct res r = { 0 };
	assert_int_equal(clickhouse_query(CH, "p", "SELECT GZ", NULL, 0, 0, NULL, done_cb, &r, NULL),
			 0);
	run_until(&r.called, 1, 5000);
	assert_int_equal(r.status, 0);
	assert_int_equal(r.nrows, 3);
	assert_string_equal(r.first, "1");
	assert_true(saw_gzip);

	struct res s = { 0 };
	assert_int_equal(clickhouse_query(CH, "p", "SELECT BIGN", NULL, 0, LAB_QUERY_STREAM,
					  rows_cb, done_cb, &s, NULL), 0);
	run_until(&s.called, 1, 5000);
	assert_int_equal(s.status, 0);
	assert_int_equal(s.nrows, 10000);
	assert_int_equal(s.batches, 3);
	assert_int_equal(s.maxbatch, CH_BATCH_ROWS);
}

static void test_fairness(void **st)
{
	clickhouse_close(CH);
	uv_run(&loop, UV_RUN_DEFAULT);
	assert_int_equal(open_ch(1), 0);
	static char order[64];
	order[0] = '\0';
	static const char *const tags[] = { "A1", "A2", "A3", "A4", "B1", "B2" };
	struct res r[6];
	memset(r, 0, sizeof r);
	int total = 0;
	for (int i = 0; i < 6; i++) {
		r[i].order = order;
		r[i].tag = tags[i];
		assert_int_equal(clickhouse_query(CH, tags[i][0] == 'A' ? "A" : "B", "SELECT 1", NULL,
						  0, 0, NULL, done_cb, &r[i], NULL), 0);
	}
	assert_int_equal(clickhouse_queued(CH), 6);
	for (int spins = 0; spins < 500 && total < 6; spins++) {
		run_until(NULL, 0, 10);
		assert_true(clickhouse_running(CH) <= 1);
		total = 0;
		for (int i = 0; i < 6; i++)
			total += r[i].called;
	}
	assert_int_equal(total, 6);
	assert_string_equal(order, "A1B1A2B2A3A4");
	assert_true(metric_get(M, M_CH_QUERIES, "A", "ok") >= 4);
	assert_true(metric_get(M, M_CH_QUERY_SECONDS, "B") >= 2);
}

static void test_cancel(void **st)
{
	clickhouse_close(CH);
	uv_run(&loop, UV_RUN_DEFAULT);
	assert_int_equal(open_ch(1), 0);
	struct res a = { 0 }, b = { 0 }, c = { 0 };
	struct ch_query *qb, *qc;
	assert_int_equal(clickhouse_query(CH, "p", "SELECT BIGN", NULL, 0, LAB_QUERY_STREAM,
					  rows_cb, done_cb, &a, NULL), 0);
	assert_int_equal(clickhouse_query(CH, "p", "SELECT 2", NULL, 0, 0, NULL, done_cb, &b, &qb),
			 0);
	assert_int_equal(clickhouse_query(CH, "p", "SELECT BIGN", NULL, 0, LAB_QUERY_STREAM,
					  rows_cb, done_cb, &c, &qc), 0);
	/* Cancel a queued one right away, and the third from its own batch. */
	clickhouse_cancel(qb);
	c.cancel_me = qc;
	run_until(&a.called, 1, 5000);
	run_until(NULL, 0, 300);
	assert_int_equal(a.status, 0);
	assert_int_equal(b.called, 0);
	assert_int_equal(c.called, 0);
	assert_int_equal(c.batches, 1);
	assert_int_equal(clickhouse_running(CH) + clickhouse_queued(CH), 0);
	/* A running query cancelled from another one's batch callback. */
	struct res d = { 0 }, e = { 0 };
	struct ch_query *qe;
	clickhouse_close(CH);
	uv_run(&loop, UV_RUN_DEFAULT);
	assert_int_equal(open_ch(4), 0);
	assert_int_equal(clickhouse_query(CH, "p", "SELECT BIGN", NULL, 0, LAB_QUERY_STREAM,
					  rows_cb, done_cb, &e, &qe), 0);
	d.cancel_me = qe;
	e.peer = &d;
	assert_int_equal(clickhouse_query(CH, "p", "SELECT BIGN", NULL, 0, LAB_QUERY_STREAM,
					  rows_cb, done_cb, &d, NULL), 0);
	run_until(&d.called, 1, 5000);
	run_until(NULL, 0, 200);
	assert_int_equal(d.status, 0);
	/* e may have finished before d's first batch; if not, it never completes. */
	assert_true(e.called == 0 || e.status == 0);
	assert_int_equal(clickhouse_running(CH), 0);
}

/* Runs the loop until clickhouse_ready() says `want` (0 = ready), 5 s at most. */
static int ready_within(int want, const char **why)
{
	for (int i = 0; i < 250; i++) {
		if (clickhouse_ready(CH, why) == want)
			return 1;
		run_until(NULL, 0, 20);
	}
	return 0;
}

static void test_probe(void **st)
{
	const char *why = NULL;
	assert_int_equal(clickhouse_ready(CH, &why), 0); /* no probe: passive */
	clickhouse_probe_start(CH, 100);
	/* Right after the start: not ready until a working server answered. */
	assert_int_equal(clickhouse_ready(CH, &why), 1);
	assert_non_null(strstr(why, "no answer yet"));
	assert_true(ready_within(0, &why));
	__atomic_store_n(&probe_down, 1, __ATOMIC_SEQ_CST);
	assert_true(ready_within(1, &why));
	assert_non_null(strstr(why, "HTTP 503"));
	__atomic_store_n(&probe_down, 0, __ATOMIC_SEQ_CST);
	assert_true(ready_within(0, &why));
	/* On an interval, outside the plugins' queues. */
	assert_true(__atomic_load_n(&probes, __ATOMIC_SEQ_CST) >= 3);
	assert_int_equal(clickhouse_running(CH), 0);
	assert_int_equal(clickhouse_queued(CH), 0);
}

int main(void)
{
	metrics_new("test", &M);
	fake_custom = fake_ch;
	port = fake_http_start();
	if (port < 0)
		return 1;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_request_shape, setup, teardown),
		cmocka_unit_test_setup_teardown(test_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_retry_5xx, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unreachable, setup, teardown),
		cmocka_unit_test_setup_teardown(test_compression_auto_loopback, setup, teardown),
		cmocka_unit_test_setup_teardown(test_gzip_and_stream, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fairness, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cancel, setup, teardown),
		cmocka_unit_test_setup_teardown(test_probe, setup, teardown),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	metrics_free(M);
	M = NULL;
	return rc;
}
