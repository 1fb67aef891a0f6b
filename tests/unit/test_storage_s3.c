/* Storage front + s3 backend on a real libuv loop.  FAULT INJECTION: the
 * server is the in-process stub of fake_http.h (not S3), answering what a
 * real S3 rarely does on demand: 500 then 200 (retried), 403 (not
 * retried, S3's Code/Message logged), 429 forever (bounded attempts), a
 * closed port.  The happy path against a real S3 imitation is
 * tests/integration/s3.sh (s3rver). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#include <cmocka.h>

#include "fake_http.h"
#include "lab/plugin.h"
#include "log.h"
#include "metrics.h"

/* This test's registry (the daemon owns one; the services get it at open). */
static struct metrics *M;
#include "storage.h"
#include "testutil.h"

static int port;

/* ---- the stub: a one-object-per-path store with injected faults ---------- */

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static int n_flaky, n_deny, n_busy, n_put_gzip, n_space, n_stall;
static char *stored;      /* the last PUT body to /bkt/obj.json */
static size_t stored_len;
static char last_put_path[512];

static const char deny_xml[] =
	"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>AccessDenied</Code>"
	"<Message>Access Denied</Message><RequestId>1</RequestId></Error>";
static const char busy_xml[] = "<Error><Code>SlowDown</Code><Message>Reduce your request "
			       "rate.</Message></Error>";

static int stub(int fd, const struct fake_req *r)
{
	const char *p = r->path;
	int n;

	if (!strcmp(p, "/bkt")) { /* readiness probe: HEAD bucket */
		fake_respond(fd, 200, NULL, NULL, 0);
		return 1;
	}
	if (!strcmp(p, "/wo")) { /* a key without s3:ListBucket */
		fake_respond(fd, 403, NULL, deny_xml, sizeof deny_xml - 1);
		return 1;
	}
	if (!strcmp(p, "/wo/x.json")) {
		fake_respond(fd, 200, NULL, NULL, 0);
		return 1;
	}
	if (!strcmp(p, "/bkt/stall.json")) { /* never answers: a timeout */
		struct pollfd pf = { fd, POLLIN, 0 };
		__atomic_add_fetch(&n_stall, 1, __ATOMIC_SEQ_CST);
		poll(&pf, 1, 20000); /* until the client gives up */
		return 1;
	}
	if (!strcmp(p, "/bkt/flaky.json")) {
		pthread_mutex_lock(&mu);
		n = ++n_flaky;
		pthread_mutex_unlock(&mu);
		if (n <= 2)
			fake_respond(fd, 500, NULL, "<Error><Code>InternalError</Code></Error>", 41);
		else
			fake_respond(fd, 200, NULL, NULL, 0);
		return 1;
	}
	if (!strcmp(p, "/bkt/deny.json")) {
		__atomic_add_fetch(&n_deny, 1, __ATOMIC_SEQ_CST);
		fake_respond(fd, 403, "Content-Type: application/xml\r\n", deny_xml,
			     sizeof deny_xml - 1);
		return 1;
	}
	if (!strcmp(p, "/bkt/busy.json")) {
		__atomic_add_fetch(&n_busy, 1, __ATOMIC_SEQ_CST);
		fake_respond(fd, 429, NULL, busy_xml, sizeof busy_xml - 1);
		return 1;
	}
	if (!strcmp(p, "/bkt/a%20b/%C3%A9~x.json")) { /* key "a b/é~x.json" */
		__atomic_add_fetch(&n_space, 1, __ATOMIC_SEQ_CST);
		fake_respond(fd, 200, NULL, NULL, 0);
		return 1;
	}
	if (!strcmp(p, "/bkt/obj.json")) {
		pthread_mutex_lock(&mu);
		if (!strcmp(r->method, "PUT")) {
			free(stored);
			stored = malloc(r->body_len ? r->body_len : 1);
			memcpy(stored, r->body, r->body_len);
			stored_len = r->body_len;
			snprintf(last_put_path, sizeof last_put_path, "%s", p);
			if (r->body_len >= 2 && (unsigned char)r->body[0] == 0x1f &&
			    (unsigned char)r->body[1] == 0x8b)
				n_put_gzip++;
			fake_respond(fd, 200, NULL, NULL, 0);
		} else if (!strcmp(r->method, "DELETE")) {
			free(stored);
			stored = NULL;
			fake_respond(fd, 204, NULL, NULL, 0);
		} else if (!stored) {
			fake_respond(fd, 404, NULL, NULL, 0);
		} else if (!strcmp(r->method, "HEAD")) {
			/* HEAD: headers only; Content-Length of the object */
			char h[64];
			snprintf(h, sizeof h, "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\n\r\n",
				 stored_len);
			fake_write(fd, h, strlen(h));
		} else {
			fake_respond(fd, 200, "Content-Encoding: gzip\r\n", stored, stored_len);
		}
		pthread_mutex_unlock(&mu);
		return 1;
	}
	if (!strcmp(p, "/bkt/plain.txt")) { /* stored without Content-Encoding */
		fake_respond(fd, 200, NULL, "\x1f\x8b not gzip", 12);
		return 1;
	}
	return 0; /* 404 "no" */
}

/* ---- fixture -------------------------------------------------------------- */

struct fx {
	uv_loop_t loop;
	struct host_conf hc;
	struct storage *s;
	char endpoint[64];
};

static void wait_for(struct fx *f, struct tu_result *r)
{
	while (!r->called)
		uv_run(&f->loop, UV_RUN_ONCE);
}

static int open_at(void **state, int p, long retries, const char *bucket)
{
	struct fx *f = calloc(1, sizeof *f);
	assert_non_null(f);
	assert_int_equal(uv_loop_init(&f->loop), 0);
	snprintf(f->endpoint, sizeof f->endpoint, "http://127.0.0.1:%d/", p);
	f->hc.storage_backend = "s3";
	f->hc.s3_endpoint = f->endpoint;
	f->hc.s3_region = "us-east-1";
	f->hc.s3_bucket = (char *)bucket;
	f->hc.s3_access_key_id = "AKID";
	f->hc.s3_secret_access_key = "SECRET";
	f->hc.s3_timeout = retries == 1 ? 1 : 5;
	f->hc.s3_max_retries = retries;
	assert_int_equal(metrics_new("test", &M), 0);
	assert_int_equal(storage_open(&f->loop, M, &f->hc, &f->s), 0);
	assert_string_equal(storage_backend_name(f->s), "s3");
	*state = f;
	return 0;
}

static int setup(void **state)
{
	return open_at(state, port, 3, "bkt");
}

static int setup_closed(void **state)
{
	return open_at(state, fake_closed_port(), 1, "bkt");
}

static int setup_one_retry(void **state)
{
	return open_at(state, port, 1, "bkt");
}

static int setup_wo(void **state)
{
	return open_at(state, port, 1, "wo");
}

static int teardown(void **state)
{
	struct fx *f = *state;
	storage_close(f->s);
	/* The HTTP client closes its handles on the loop. */
	uv_run(&f->loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&f->loop), 0);
	metrics_free(M);
	M = NULL;
	free(f);
	return 0;
}

/* storage_ready() once the first bucket check has answered. */
static int ready_settled(struct fx *f, const char **why)
{
	int rc;
	for (int i = 0; i < 1000; i++) {
		*why = NULL;
		rc = storage_ready(f->s, why);
		if (!(rc == LAB_EUNAVAIL && *why && strstr(*why, "not checked")))
			return rc;
		uv_run(&f->loop, UV_RUN_ONCE);
	}
	fail_msg("the bucket check never answered");
	return rc;
}

static void put_sync(struct fx *f, const char *key, const char *body, struct tu_result *r)
{
	memset(r, 0, sizeof *r);
	assert_int_equal(storage_put(f->s, "t", key, body, strlen(body), NULL, NULL,
				     LAB_PUT_ATOMIC, tu_on_done, r, NULL),
			 0);
	wait_for(f, r);
	assert_int_equal(r->called, 1);
}

/* ---- tests ---------------------------------------------------------------- */

static void test_roundtrip(void **state)
{
	struct fx *f = *state;
	struct tu_result r;
	static const char doc[] = "{\"hello\":\"s3\",\"n\":[1,2,3]}";

	put_sync(f, "obj.json", doc, &r);
	assert_int_equal(r.status, 0);
	pthread_mutex_lock(&mu);
	assert_int_equal(n_put_gzip, 1); /* the body went out gzip-encoded */
	assert_string_equal(last_put_path, "/bkt/obj.json");
	pthread_mutex_unlock(&mu);

	memset(&r, 0, sizeof r);
	assert_int_equal(storage_exists(f->s, "t", "obj.json", tu_on_done, &r, NULL), 0);
	wait_for(f, &r);
	assert_int_equal(r.status, 1);

	memset(&r, 0, sizeof r);
	assert_int_equal(storage_get(f->s, "t", "obj.json", tu_on_done, &r, NULL), 0);
	wait_for(f, &r);
	assert_int_equal(r.status, 0);
	assert_int_equal(r.len, strlen(doc));
	assert_string_equal(r.data, doc); /* Content-Encoding: gzip -> gunzipped */
	free(r.data);

	memset(&r, 0, sizeof r);
	assert_int_equal(storage_delete(f->s, "t", "obj.json", tu_on_done, &r, NULL), 0);
	wait_for(f, &r);
	assert_int_equal(r.status, 0);

	memset(&r, 0, sizeof r);
	assert_int_equal(storage_exists(f->s, "t", "obj.json", tu_on_done, &r, NULL), 0);
	wait_for(f, &r);
	assert_int_equal(r.status, 0); /* HEAD 404 */

	memset(&r, 0, sizeof r);
	assert_int_equal(storage_get(f->s, "t", "obj.json", tu_on_done, &r, NULL), 0);
	wait_for(f, &r);
	assert_int_equal(r.status, LAB_ENOENT);

	/* Deleting a missing object succeeds: the stub answers 404 for a path
	 * it does not know, and 404 counts as gone. */
	memset(&r, 0, sizeof r);
	assert_int_equal(storage_delete(f->s, "t", "nothing/here.json", tu_on_done, &r, NULL), 0);
	wait_for(f, &r);
	assert_int_equal(r.status, 0);

	/* Without Content-Encoding the front sniffs: a fake magic fails to
	 * decode, like on fs. */
	memset(&r, 0, sizeof r);
	assert_int_equal(storage_get(f->s, "t", "plain.txt", tu_on_done, &r, NULL), 0);
	wait_for(f, &r);
	assert_int_equal(r.status, LAB_EPARSE);

	const char *why = NULL;
	assert_int_equal(ready_settled(f, &why), 0);
}

/* A body whose gzip is over 16 KiB is hashed on the thread pool. */
static void test_large_body(void **state)
{
	struct fx *f = *state;
	struct tu_result r;
	size_t n = 200 * 1024;
	char *big = malloc(n);
	uint32_t x = 12345;

	assert_non_null(big);
	for (size_t i = 0; i < n; i++) {
		x = x * 1103515245u + 12345u;
		big[i] = (char)(x >> 24);
	}
	memset(&r, 0, sizeof r);
	assert_int_equal(storage_put(f->s, "t", "obj.json", big, n, NULL, NULL, 0, tu_on_done, &r,
				     NULL),
			 0);
	wait_for(f, &r);
	assert_int_equal(r.status, 0);
	pthread_mutex_lock(&mu);
	assert_true(stored_len > 16 * 1024);
	pthread_mutex_unlock(&mu);
	memset(&r, 0, sizeof r);
	assert_int_equal(storage_get(f->s, "t", "obj.json", tu_on_done, &r, NULL), 0);
	wait_for(f, &r);
	assert_int_equal(r.status, 0);
	assert_int_equal(r.len, n);
	assert_memory_equal(r.data, big, n);
	free(r.data);
	free(big);
}

static void test_key_encoding(void **state)
{
	struct fx *f = *state;
	struct tu_result r;
	put_sync(f, "a b/\xc3\xa9~x.json", "{}", &r);
	assert_int_equal(r.status, 0);
	assert_int_equal(__atomic_load_n(&n_space, __ATOMIC_SEQ_CST), 1);
}

static void test_retry_500_then_200(void **state)
{
	struct fx *f = *state;
	struct tu_result r;
	uint64_t t0 = uv_hrtime();

	put_sync(f, "flaky.json", "{\"x\":1}", &r);
	assert_int_equal(r.status, 0);
	pthread_mutex_lock(&mu);
	assert_int_equal(n_flaky, 3); /* 500, 500, 200 */
	pthread_mutex_unlock(&mu);
	/* Two backoffs of at least base/2 = 50 ms and 100 ms. */
	assert_true(uv_hrtime() - t0 >= 150 * 1000000ull);
}

static void test_403_not_retried(void **state)
{
	struct fx *f = *state;
	struct tu_result r;
	const char *why = NULL;

	put_sync(f, "deny.json", "{}", &r);
	assert_int_equal(r.status, LAB_EPERM);
	assert_int_equal(__atomic_load_n(&n_deny, __ATOMIC_SEQ_CST), 1);
	assert_int_equal(ready_settled(f, &why), LAB_EPERM);
	assert_non_null(why);
	assert_non_null(strstr(why, "last write failed: HTTP 403 AccessDenied: Access Denied"));

	/* A good write clears it. */
	put_sync(f, "obj.json", "{}", &r);
	assert_int_equal(r.status, 0);
	assert_int_equal(ready_settled(f, &why), 0);
}

static void test_429_bounded(void **state)
{
	struct fx *f = *state;
	struct tu_result r;
	put_sync(f, "busy.json", "{}", &r);
	assert_int_equal(r.status, LAB_EUNAVAIL);
	assert_int_equal(__atomic_load_n(&n_busy, __ATOMIC_SEQ_CST), 4); /* 1 + max_retries */
}

static void test_unreachable(void **state)
{
	struct fx *f = *state;
	struct tu_result r;
	const char *why = NULL;

	put_sync(f, "obj.json", "{}", &r);
	assert_int_equal(r.status, LAB_EIO); /* connection refused, twice */
	memset(&r, 0, sizeof r);
	assert_int_equal(storage_get(f->s, "t", "obj.json", tu_on_done, &r, NULL), 0);
	wait_for(f, &r);
	assert_int_equal(r.status, LAB_EIO);
	/* The bucket check fails too. */
	assert_int_equal(ready_settled(f, &why), LAB_EIO);
	assert_non_null(why);
	assert_non_null(strstr(why, "s3 http://127.0.0.1:"));
}

/* A server that accepts and never answers: each attempt times out after
 * storage.s3.timeout (1 s here), then one retry. */
static void test_timeout(void **state)
{
	struct fx *f = *state;
	struct tu_result r;
	uint64_t t0 = uv_hrtime();

	put_sync(f, "stall.json", "{}", &r);
	assert_int_equal(r.status, LAB_ETIMEDOUT);
	assert_int_equal(__atomic_load_n(&n_stall, __ATOMIC_SEQ_CST), 2);
	assert_true(uv_hrtime() - t0 >= 2000 * 1000000ull);
}

/* HEAD bucket 403: not ready ("access denied") until a put succeeds. */
static void test_probe_403(void **state)
{
	struct fx *f = *state;
	struct tu_result r;
	const char *why = NULL;

	assert_int_equal(ready_settled(f, &why), LAB_EPERM);
	assert_non_null(strstr(why, "HTTP 403 (access denied)"));
	put_sync(f, "x.json", "{}", &r);
	assert_int_equal(r.status, 0);
	assert_int_equal(storage_ready(f->s, &why), 0);
}

static void test_bad_config(void **state)
{
	uv_loop_t loop;
	struct host_conf hc;
	struct storage *s = NULL;
	(void)state;
	memset(&hc, 0, sizeof hc);
	assert_int_equal(uv_loop_init(&loop), 0);
	hc.storage_backend = "s3";
	hc.s3_endpoint = "ftp://x";
	hc.s3_region = "us-east-1";
	hc.s3_bucket = "b";
	hc.s3_access_key_id = "a";
	hc.s3_secret_access_key = "s";
	hc.s3_timeout = 1;
	assert_int_equal(storage_open(&loop, M, &hc, &s), LAB_ECONFIG);
	hc.s3_endpoint = "http://x";
	hc.s3_access_key_id = "a:b";
	assert_int_equal(storage_open(&loop, M, &hc, &s), LAB_ECONFIG);
	hc.s3_access_key_id = "a";
	hc.s3_bucket = "";
	assert_int_equal(storage_open(&loop, M, &hc, &s), LAB_ECONFIG);
	assert_null(s);
	assert_int_equal(uv_loop_close(&loop), 0);
}

int main(void)
{
	log_setup(LAB_LOG_ERROR, LOG_FORMAT_LOGFMT, 2);
	fake_custom = stub;
	port = fake_http_start();
	if (port < 0)
		return 1;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_roundtrip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_large_body, setup, teardown),
		cmocka_unit_test_setup_teardown(test_key_encoding, setup, teardown),
		cmocka_unit_test_setup_teardown(test_retry_500_then_200, setup, teardown),
		cmocka_unit_test_setup_teardown(test_403_not_retried, setup, teardown),
		cmocka_unit_test_setup_teardown(test_429_bounded, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unreachable, setup_closed, teardown),
		cmocka_unit_test_setup_teardown(test_probe_403, setup_wo, teardown),
		cmocka_unit_test_setup_teardown(test_timeout, setup_one_retry, teardown),
		cmocka_unit_test(test_bad_config),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	free(stored);
	return rc;
}
