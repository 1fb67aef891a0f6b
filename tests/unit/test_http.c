/* host/http.c against the in-test fake HTTP server (fault injection, see
 * fake_http.h): bodies collected and streamed, POST, HTTP errors, timeout,
 * refused / garbage / reset connections, cancellation (also from other
 * transfers' callbacks), concurrency with connection reuse, gzip, backoff. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "fake_http.h"
#include "http.h"
#include "lab/plugin.h"
#include "testutil.h"

static int port;
static uv_loop_t loop;
static struct http *H;
static char url[256];

static const char *U(const char *path)
{
	snprintf(url, sizeof url, "http://127.0.0.1:%d%s", port, path);
	return url;
}

struct res {
	int called, status;
	long code;
	struct buf body;
	size_t streamed;
	int pattern_bad;
	char err[256];
};

static void done_cb(int status, long code, const struct buf *body, const char *errmsg, void *ud)
{
	struct res *r = ud;
	r->called++;
	r->status = status;
	r->code = code;
	if (body && body->len)
		buf_append(&r->body, body->data, body->len);
	snprintf(r->err, sizeof r->err, "%s", errmsg ? errmsg : "");
}

static int data_cb(const char *d, size_t n, void *ud)
{
	struct res *r = ud;
	for (size_t i = 0; i < n; i++)
		if (d[i] != (char)('a' + (r->streamed + i) % 26))
			r->pattern_bad = 1;
	r->streamed += n;
	return 0;
}

/* Runs the loop until *flag >= want or ms pass. */
static void run_until(int *flag, int want, uint64_t ms) { tu_run_until(&loop, flag, want, ms); }

static int start(const char *method, const char *path, const void *body, size_t len,
		 long timeout_ms, int gzip, struct res *r, http_data_cb on_data, struct http_req **out)
{
	struct http_request rq = { .method = method, .url = U(path), .body = body, .body_len = len,
				   .timeout_ms = timeout_ms, .accept_gzip = gzip };
	struct http_callbacks cb = { .on_data = on_data, .done = done_cb, .ud = r };
	return http_start(H, &rq, &cb, out);
}

static int setup(void **st)
{
	(void)st;
	uv_loop_init(&loop);
	return http_open(&loop, "test", &H);
}

static int teardown(void **st)
{
	(void)st;
	http_close(H);
	uv_run(&loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&loop), 0);
	return 0;
}

static void test_get_collected(void **st)
{
	struct res r = { 0 };
	assert_int_equal(start("GET", "/hello", NULL, 0, 5000, 0, &r, NULL, NULL), 0);
	assert_int_equal(r.called, 0); /* never from inside http_start */
	assert_int_equal(http_active(H), 1);
	run_until(&r.called, 1, 5000);
	assert_int_equal(r.called, 1);
	assert_int_equal(r.status, 0);
	assert_int_equal(r.code, 200);
	assert_int_equal(r.body.len, 11);
	assert_memory_equal(r.body.data, "hello world", 11);
	assert_int_equal(http_active(H), 0);
	buf_free(&r.body);
}

static void test_streamed(void **st)
{
	struct res r = { 0 };
	assert_int_equal(start("GET", "/big?n=3000000", NULL, 0, 10000, 0, &r, data_cb, NULL), 0);
	run_until(&r.called, 1, 10000);
	assert_int_equal(r.status, 0);
	assert_int_equal(r.streamed, 3000000);
	assert_false(r.pattern_bad);
	assert_int_equal(r.body.len, 0); /* streamed, not collected */
}

static int abort_cb(const char *d, size_t n, void *ud)
{
	(void)d;
	(void)n;
	(void)ud;
	return LAB_EPARSE;
}

static void test_data_cb_error(void **st)
{
	struct res r = { 0 };
	assert_int_equal(start("GET", "/big?n=3000000", NULL, 0, 10000, 0, &r, abort_cb, NULL), 0);
	run_until(&r.called, 1, 10000);
	assert_int_equal(r.status, LAB_EPARSE);
}

static void test_post_put(void **st)
{
	size_t n = 300000;
	char *b = malloc(n);
	for (size_t i = 0; i < n; i++)
		b[i] = (char)(i * 7);
	struct res r = { 0 };
	assert_int_equal(start("POST", "/echo", b, n, 5000, 0, &r, NULL, NULL), 0);
	run_until(&r.called, 1, 5000);
	assert_int_equal(r.status, 0);
	assert_int_equal(r.code, 200);
	assert_int_equal(r.body.len, n);
	assert_memory_equal(r.body.data, b, n);
	buf_free(&r.body);
	struct res p = { 0 };
	assert_int_equal(start("PUT", "/echo", "xyz", 3, 5000, 0, &p, NULL, NULL), 0);
	run_until(&p.called, 1, 5000);
	assert_int_equal(p.status, 0);
	assert_string_equal(p.body.data, "xyz");
	buf_free(&p.body);
	free(b);
}

static void test_http_error_codes(void **st)
{
	struct res r = { 0 };
	assert_int_equal(start("GET", "/status/500", NULL, 0, 5000, 0, &r, NULL, NULL), 0);
	run_until(&r.called, 1, 5000);
	assert_int_equal(r.status, 0); /* an answer arrived */
	assert_int_equal(r.code, 500);
	assert_string_equal(r.body.data, "boom 500");
	buf_free(&r.body);
}

static void test_timeout(void **st)
{
	struct res r = { 0 };
	uint64_t t0 = uv_hrtime();
	assert_int_equal(start("GET", "/stall", NULL, 0, 300, 0, &r, NULL, NULL), 0);
	run_until(&r.called, 1, 5000);
	uint64_t ms = (uv_hrtime() - t0) / 1000000;
	assert_int_equal(r.status, LAB_ETIMEDOUT);
	assert_true(ms >= 250 && ms < 3000);
	assert_true(r.err[0] != '\0');
}

static void test_transport_errors(void **st)
{
	struct res r = { 0 };
	char u[64];
	snprintf(u, sizeof u, "http://127.0.0.1:%d/x", fake_closed_port());
	struct http_request rq = { .method = "GET", .url = u, .timeout_ms = 5000 };
	struct http_callbacks cb = { .done = done_cb, .ud = &r };
	assert_int_equal(http_start(H, &rq, &cb, NULL), 0);
	run_until(&r.called, 1, 5000);
	assert_int_equal(r.status, LAB_EIO);
	assert_non_null(strstr(r.err, "onnect"));

	struct res g = { 0 };
	assert_int_equal(start("GET", "/garbage", NULL, 0, 5000, 0, &g, NULL, NULL), 0);
	run_until(&g.called, 1, 5000);
	assert_int_equal(g.status, LAB_EIO);

	struct res x = { 0 };
	assert_int_equal(start("GET", "/reset", NULL, 0, 5000, 0, &x, NULL, NULL), 0);
	run_until(&x.called, 1, 5000);
	assert_int_equal(x.status, LAB_EIO);

	/* Bad arguments. */
	struct http_request none = { .method = "GET", .url = NULL };
	assert_int_equal(http_start(H, &none, &cb, NULL), LAB_EINVAL);
}

static void test_cancel(void **st)
{
	struct res r = { 0 };
	struct http_req *q;
	assert_int_equal(start("GET", "/stall", NULL, 0, 0, 0, &r, NULL, &q), 0);
	run_until(NULL, 0, 100);
	http_cancel(q);
	assert_int_equal(http_active(H), 0);
	run_until(NULL, 0, 100);
	assert_int_equal(r.called, 0);
}

/* Cancels another transfer from inside a callback. */
static struct http_req *victim;
static struct res vres;

static void done_cancel(int status, long code, const struct buf *body, const char *errmsg,
			void *ud)
{
	done_cb(status, code, body, errmsg, ud);
	http_cancel(victim);
}

static int data_cancel(const char *d, size_t n, void *ud)
{
	if (victim) {
		http_cancel(victim); /* inside curl: deferred */
		victim = NULL;
	}
	return data_cb(d, n, ud);
}

static void test_cancel_from_callbacks(void **st)
{
	memset(&vres, 0, sizeof vres);
	assert_int_equal(start("GET", "/stall", NULL, 0, 0, 0, &vres, NULL, &victim), 0);
	struct res r = { 0 };
	struct http_request rq = { .method = "GET", .url = U("/hello"), .timeout_ms = 5000 };
	struct http_callbacks cb = { .done = done_cancel, .ud = &r };
	assert_int_equal(http_start(H, &rq, &cb, NULL), 0);
	run_until(&r.called, 1, 5000);
	assert_int_equal(r.status, 0);
	run_until(NULL, 0, 50);
	assert_int_equal(vres.called, 0);
	assert_int_equal(http_active(H), 0);
	buf_free(&r.body);

	/* From a data callback of another transfer. */
	assert_int_equal(start("GET", "/stall", NULL, 0, 0, 0, &vres, NULL, &victim), 0);
	struct res s = { 0 };
	assert_int_equal(start("GET", "/big?n=2000000", NULL, 0, 5000, 0, &s, data_cancel, NULL), 0);
	run_until(&s.called, 1, 5000);
	assert_int_equal(s.status, 0);
	assert_int_equal(s.streamed, 2000000);
	run_until(NULL, 0, 50);
	assert_int_equal(vres.called, 0);
	assert_int_equal(http_active(H), 0);
}

static void test_many_and_reuse(void **st)
{
	enum { N = 100 };
	static struct res r[N];
	memset(r, 0, sizeof r);
	int total = 0;
	for (int i = 0; i < N; i++)
		assert_int_equal(start("GET", "/hello", NULL, 0, 10000, 0, &r[i], NULL, NULL), 0);
	assert_int_equal(http_active(H), N);
	for (int spins = 0; spins < 1000 && total < N; spins++) {
		run_until(NULL, 0, 10);
		total = 0;
		for (int i = 0; i < N; i++)
			total += r[i].called;
	}
	assert_int_equal(total, N);
	for (int i = 0; i < N; i++) {
		assert_int_equal(r[i].status, 0);
		assert_string_equal(r[i].body.data, "hello world");
		buf_free(&r[i].body);
	}
	/* Sequential requests reuse one kept-alive connection. */
	int before = __atomic_load_n(&fake_accepts, __ATOMIC_SEQ_CST);
	for (int i = 0; i < 10; i++) {
		struct res s = { 0 };
		assert_int_equal(start("GET", "/hello", NULL, 0, 5000, 0, &s, NULL, NULL), 0);
		run_until(&s.called, 1, 5000);
		assert_int_equal(s.status, 0);
		buf_free(&s.body);
	}
	assert_true(__atomic_load_n(&fake_accepts, __ATOMIC_SEQ_CST) - before <= 1);
}

static void test_gzip(void **st)
{
	struct res r = { 0 };
	assert_int_equal(start("GET", "/gzip", NULL, 0, 5000, 1, &r, NULL, NULL), 0);
	run_until(&r.called, 1, 5000);
	assert_int_equal(r.status, 0);
	assert_string_equal(r.body.data, "compressed hello, compressed hello, compressed hello");
	buf_free(&r.body);
	struct res p = { 0 };
	assert_int_equal(start("GET", "/gzip", NULL, 0, 5000, 0, &p, NULL, NULL), 0);
	run_until(&p.called, 1, 5000);
	assert_string_equal(p.body.data, "plain");
	buf_free(&p.body);
}

static void test_close_in_flight(void **st)
{
	struct res r = { 0 };
	assert_int_equal(start("GET", "/stall", NULL, 0, 0, 0, &r, NULL, NULL), 0);
	run_until(NULL, 0, 50);
	/* teardown closes H with the stall in flight: no callback, loop ends. */
	assert_int_equal(r.called, 0);
}

static void done_close(int status, long code, const struct buf *body, const char *errmsg,
		       void *ud)
{
	done_cb(status, code, body, errmsg, ud);
	http_close(H); /* from inside a completion, with another transfer running */
	H = NULL;
}

static void test_close_from_callback(void **st)
{
	struct res a = { 0 }, b = { 0 };
	assert_int_equal(start("GET", "/stall", NULL, 0, 0, 0, &b, NULL, NULL), 0);
	struct http_request rq = { .method = "GET", .url = U("/hello"), .timeout_ms = 5000 };
	struct http_callbacks cb = { .done = done_close, .ud = &a };
	assert_int_equal(http_start(H, &rq, &cb, NULL), 0);
	run_until(&a.called, 1, 5000);
	assert_int_equal(a.called, 1);
	assert_int_equal(a.status, 0);
	assert_null(H);
	run_until(NULL, 0, 50);
	assert_int_equal(b.called, 0);
	buf_free(&a.body);
}

static void test_backoff(void **st)
{
	for (unsigned a = 0; a < 70; a++) {
		uint64_t d = 100;
		for (unsigned i = 1; i < a && d < 1000; i++)
			d *= 2;
		if (d > 1000)
			d = 1000;
		for (int k = 0; k < 50; k++) {
			uint64_t v = http_backoff_ms(a, 100, 1000);
			assert_true(v >= d / 2 && v <= d);
		}
	}
	/* Jitter: not all the same. */
	uint64_t first = http_backoff_ms(5, 100, 100000), differ = 0;
	for (int k = 0; k < 50; k++)
		differ |= http_backoff_ms(5, 100, 100000) != first;
	assert_true(differ);
	assert_true(http_backoff_ms(200, 1000, UINT64_MAX / 2) <= UINT64_MAX / 2);
}

static void test_urlencode(void **st)
{
	struct buf b = BUF_INIT;
	assert_int_equal(http_urlencode(&b, "a b/c~d%é", strlen("a b/c~d%é"), 0), 0);
	assert_string_equal(b.data, "a%20b%2Fc~d%25%C3%A9");
	buf_reset(&b);
	http_urlencode(&b, "x/y", 3, 1);
	assert_string_equal(b.data, "x/y");
	buf_free(&b);
}

int main(void)
{
	port = fake_http_start();
	if (port < 0)
		return 1;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_get_collected, setup, teardown),
		cmocka_unit_test_setup_teardown(test_streamed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_data_cb_error, setup, teardown),
		cmocka_unit_test_setup_teardown(test_post_put, setup, teardown),
		cmocka_unit_test_setup_teardown(test_http_error_codes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_timeout, setup, teardown),
		cmocka_unit_test_setup_teardown(test_transport_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cancel, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cancel_from_callbacks, setup, teardown),
		cmocka_unit_test_setup_teardown(test_many_and_reuse, setup, teardown),
		cmocka_unit_test_setup_teardown(test_gzip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_close_in_flight, setup, teardown),
		cmocka_unit_test_setup_teardown(test_close_from_callback, setup, teardown),
		cmocka_unit_test(test_backoff),
		cmocka_unit_test(test_urlencode),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
