/* The admin endpoint over real TCP: the test thread runs the libuv loop, each
 * request is a blocking libcurl call in a helper thread that wakes the loop
 * with a uv_async_t when it is done. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>
#include <curl/curl.h>
#include <uv.h>

#include "admin.h"
#include "buf.h"
#include "log.h"
#include "metrics.h"

/* This test's registry (the daemon owns one; the services get it at open). */
static struct metrics *M;

#define TOKEN "s3cret-t0ken"

struct fx {
	uv_loop_t loop;
	uv_async_t wake;
	struct admin *admin;
	int port;
	int done;
	/* stub state */
	int ready_status;
	int action_calls;
	char last_name[128];
	char last_action[32];
	int stop_in_action;
	/* reprocess / publish: what reached the op */
	int body_calls;
	char last_body[5000];
	size_t last_body_len;
};

static struct fx fx;

struct http {
	const char *method;
	const char *path;
	const char *url;           /* overrides http://127.0.0.1:PORT/path */
	const char *auth;          /* Authorization header value */
	const char *extra;         /* one more header line */
	const char *body;
	size_t body_len;
	long status;
	CURLcode rc;
	struct buf resp;
	struct buf hdrs;
	char ctype[128];
};

/* ---------------------------------------------------------------- stubs */

static int stub_readyz(void *ud, struct buf *out)
{
	struct fx *f = ud;
	if (f->ready_status == 200)
		buf_puts(out, "{\"ready\":true}");
	else
		buf_puts(out, "{\"ready\":false,\"reasons\":[\"clickhouse: connection refused\"]}");
	return f->ready_status;
}

static int stub_plugins(void *ud, struct buf *out)
{
	buf_puts(out, "[{\"name\":\"beacon\",\"state\":\"running\"}]");
	return 200;
}

static int stub_action(void *ud, const char *name, const char *action, struct buf *out)
{
	struct fx *f = ud;
	f->action_calls++;
	snprintf(f->last_name, sizeof(f->last_name), "%s", name);
	snprintf(f->last_action, sizeof(f->last_action), "%s", action);
	if (f->stop_in_action) {
		admin_stop(f->admin);
		f->admin = NULL;
	}
	if (strcmp(name, "missing") == 0) {
		buf_puts(out, "{\"error\":\"no such plugin\"}");
		return 404;
	}
	if (strcmp(name, "weird") == 0)
		return 42; /* not an HTTP status */
	buf_printf(out, "{\"plugin\":\"%s\",\"action\":\"%s\",\"generation\":2}", name, action);
	return 200;
}

static int stub_body(const char *who, const char *body, size_t len, struct buf *out)
{
	fx.body_calls++;
	fx.last_body_len = len;
	assert_true(len < sizeof fx.last_body);
	if (len)
		memcpy(fx.last_body, body, len);
	fx.last_body[len] = '\0';
	snprintf(fx.last_name, sizeof(fx.last_name), "%s", who);
	buf_puts(out, "{}");
	return 202;
}

static int stub_reprocess(void *ud, const char *name, const char *body, size_t len,
			  struct buf *out)
{
	return stub_body(name, body, len, out);
}

static int stub_publish(void *ud, const char *subject, const char *body, size_t len,
			struct buf *out)
{
	return stub_body(subject, body, len, out);
}

static const struct admin_ops stub_ops = { stub_readyz, stub_plugins, stub_action, stub_reprocess,
					   stub_publish, NULL };

/* ---------------------------------------------------------------- HTTP client */

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
	buf_append(ud, p, size * n);
	return size * n;
}

static size_t on_header(char *p, size_t size, size_t n, void *ud)
{
	buf_append(ud, p, size * n);
	return size * n;
}

static void *http_thread(void *arg)
{
	struct http *h = arg;
	char url[256];
	if (h->url)
		snprintf(url, sizeof(url), "%s", h->url);
	else
		snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", fx.port, h->path);
	CURL *c = curl_easy_init();
	struct curl_slist *hl = NULL;
	char auth[512];
	if (!c) {
		h->rc = CURLE_FAILED_INIT;
		goto out;
	}
	if (h->auth) {
		snprintf(auth, sizeof(auth), "Authorization: %s", h->auth);
		hl = curl_slist_append(hl, auth);
	}
	if (h->extra)
		hl = curl_slist_append(hl, h->extra);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &h->resp);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, &h->hdrs);
	if (hl)
		curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
	if (strcmp(h->method, "POST") == 0) {
		curl_easy_setopt(c, CURLOPT_POST, 1L);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)h->body_len);
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, h->body ? h->body : "");
	} else if (strcmp(h->method, "HEAD") == 0) {
		curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
	} else if (strcmp(h->method, "GET") != 0) {
		curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, h->method);
	}
	h->rc = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &h->status);
	char *ct = NULL;
	if (curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &ct) == CURLE_OK && ct)
		snprintf(h->ctype, sizeof(h->ctype), "%s", ct);
	curl_slist_free_all(hl);
	curl_easy_cleanup(c);
out:
	uv_async_send(&fx.wake);
	return NULL;
}

static void on_wake(uv_async_t *a)
{
	fx.done = 1;
}

/* Runs the loop until the request thread is done. */
static void perform(struct http *h)
{
	pthread_t t;
	fx.done = 0;
	assert_int_equal(pthread_create(&t, NULL, http_thread, h), 0);
	while (!fx.done)
		uv_run(&fx.loop, UV_RUN_ONCE);
	assert_int_equal(pthread_join(t, NULL), 0);
}

static void http_free(struct http *h)
{
	buf_free(&h->resp);
	buf_free(&h->hdrs);
}

/* One request; returns the status (0 if the transfer failed). */
static long request(const char *method, const char *path, const char *auth, struct http *h)
{
	memset(h, 0, sizeof(*h));
	h->method = method;
	h->path = path;
	h->auth = auth;
	perform(h);
	return h->rc == CURLE_OK ? h->status : 0;
}

static long status_of(const char *method, const char *path, const char *auth)
{
	struct http h;
	long st = request(method, path, auth, &h);
	http_free(&h);
	return st;
}

static int has_header(const struct http *h, const char *line)
{
	return h->hdrs.data && strcasestr(h->hdrs.data, line) != NULL;
}

/* ---------------------------------------------------------------- fixtures */

static int start(const char *token)
{
	memset(&fx, 0, sizeof(fx));
	fx.ready_status = 200;
	if (uv_loop_init(&fx.loop) != 0 || uv_async_init(&fx.loop, &fx.wake, on_wake) != 0)
		return -1;
	if (metrics_new("9.9.9", &M) != 0)
		return -1;
	if (admin_start(&fx.loop, M, "127.0.0.1:0", token, &stub_ops, &fx, &fx.admin) != 0)
		return -1;
	fx.port = admin_port(fx.admin);
	return fx.port > 0 ? 0 : -1;
}

static int setup(void **state)
{
	return start(TOKEN);
}

static int setup_notoken(void **state)
{
	return start("");
}

/* admin_stop, then the loop must end by itself with nothing left open. */
static int teardown(void **state)
{
	if (fx.admin)
		admin_stop(fx.admin);
	fx.admin = NULL;
	uv_close((uv_handle_t *)&fx.wake, NULL);
	int rc = uv_run(&fx.loop, UV_RUN_DEFAULT);
	int rc2 = uv_loop_close(&fx.loop);
	metrics_free(M);
	M = NULL;
	if (rc != 0 || rc2 != 0) {
		fprintf(stderr, "teardown: uv_run=%d uv_loop_close=%d\n", rc, rc2);
		return -1;
	}
	return 0;
}

/* ---------------------------------------------------------------- tests */

static void test_healthz(void **state)
{
	struct http h;
	assert_int_equal(request("GET", "/healthz", NULL, &h), 200);
	assert_string_equal(h.resp.data, "{\"status\":\"ok\"}");
	assert_string_equal(h.ctype, "application/json");
	assert_true(has_header(&h, "Cache-Control: no-store"));
	http_free(&h);
	/* Query strings are ignored; HEAD answers without a body. */
	assert_int_equal(status_of("GET", "/healthz?verbose=1", NULL), 200);
	assert_int_equal(request("HEAD", "/healthz", NULL, &h), 200);
	assert_true(h.resp.len == 0);
	http_free(&h);
}

static void test_metrics(void **state)
{
	struct http h;
	metric_add(M, M_TIMER_FIRES, 3, "beacon\"x");
	assert_int_equal(request("GET", "/metrics", NULL, &h), 200);
	assert_string_equal(h.ctype, "text/plain; version=0.0.4; charset=utf-8");
	assert_non_null(strstr(h.resp.data, "\nlab_up 1\n"));
	assert_non_null(strstr(h.resp.data, "lab_build_info{version=\"9.9.9\"} 1\n"));
	assert_non_null(strstr(h.resp.data, "lab_timer_fires_total{plugin=\"beacon\\\"x\"} 3\n"));
	assert_non_null(strstr(h.resp.data, "\nprocess_resident_memory_bytes "));
	http_free(&h);
}

static void test_readyz(void **state)
{
	struct http h;
	assert_int_equal(request("GET", "/readyz", NULL, &h), 200);
	assert_string_equal(h.resp.data, "{\"ready\":true}");
	http_free(&h);
	fx.ready_status = 503;
	assert_int_equal(request("GET", "/readyz", NULL, &h), 503);
	assert_non_null(strstr(h.resp.data, "clickhouse: connection refused"));
	assert_string_equal(h.ctype, "application/json");
	http_free(&h);
}

static void test_plugins(void **state)
{
	struct http h;
	assert_int_equal(request("GET", "/plugins", NULL, &h), 200);
	assert_string_equal(h.resp.data, "[{\"name\":\"beacon\",\"state\":\"running\"}]");
	http_free(&h);
}

static void test_actions(void **state)
{
	static const char *const actions[] = { "reload", "enable", "disable", "run" };
	char path[128];
	struct http h;
	for (int i = 0; i < 4; i++) {
		snprintf(path, sizeof(path), "/plugins/beacon_2/%s", actions[i]);
		assert_int_equal(request("POST", path, "Bearer " TOKEN, &h), 200);
		assert_string_equal(fx.last_name, "beacon_2");
		assert_string_equal(fx.last_action, actions[i]);
		assert_int_equal(fx.action_calls, i + 1);
		assert_non_null(strstr(h.resp.data, "\"generation\":2"));
		http_free(&h);
	}
	/* The handler's status passes through; a nonsense one becomes 500. */
	assert_int_equal(status_of("POST", "/plugins/missing/run", "Bearer " TOKEN), 404);
	assert_int_equal(status_of("POST", "/plugins/weird/run", "Bearer " TOKEN), 500);
	/* The longest valid name. */
	char name[65];
	memset(name, 'a', 64);
	name[64] = '\0';
	snprintf(path, sizeof(path), "/plugins/%s/run", name);
	assert_int_equal(status_of("POST", path, "Bearer " TOKEN), 200);
	assert_string_equal(fx.last_name, name);
	/* A small body is read and ignored. */
	memset(&h, 0, sizeof(h));
	h.method = "POST";
	h.path = "/plugins/beacon/run";
	h.auth = "Bearer " TOKEN;
	h.body = "{\"ignored\":true}";
	h.body_len = strlen(h.body);
	perform(&h);
	assert_int_equal(h.status, 200);
	http_free(&h);
}

static void test_auth(void **state)
{
	struct http h;
	assert_int_equal(request("POST", "/plugins/beacon/reload", NULL, &h), 401);
	assert_true(has_header(&h, "WWW-Authenticate: Bearer"));
	assert_non_null(strstr(h.resp.data, "\"error\""));
	http_free(&h);
	static const char *const wrong[] = {
		"Bearer wrong", "Bearer " TOKEN "x", "Bearer s3cret", "Bearer ", "Bearer",
		"Basic " TOKEN, TOKEN, "Bearer S3CRET-T0KEN",
	};
	for (size_t i = 0; i < sizeof(wrong) / sizeof(wrong[0]); i++)
		assert_int_equal(status_of("POST", "/plugins/beacon/reload", wrong[i]), 401);
	assert_int_equal(fx.action_calls, 0);
	/* The scheme is case-insensitive (RFC 7235), the token is not. */
	assert_int_equal(status_of("POST", "/plugins/beacon/reload", "bearer " TOKEN), 200);
	assert_int_equal(fx.action_calls, 1);
	/* Reads need no token. */
	assert_int_equal(status_of("GET", "/plugins", NULL), 200);
}

static void test_no_token(void **state)
{
	assert_int_equal(status_of("POST", "/plugins/beacon/enable", NULL), 200);
	assert_int_equal(status_of("POST", "/plugins/beacon/enable", "Bearer anything"), 200);
	assert_int_equal(fx.action_calls, 2);
	/* A browser's cross-site POST (it always sends Origin) is refused. */
	struct http h;
	memset(&h, 0, sizeof(h));
	h.method = "POST";
	h.path = "/plugins/beacon/disable";
	h.extra = "Origin: http://evil.example";
	perform(&h);
	assert_int_equal(h.status, 403);
	http_free(&h);
	assert_int_equal(fx.action_calls, 2);
}

static void test_method_not_allowed(void **state)
{
	struct http h;
	assert_int_equal(request("GET", "/plugins/beacon/reload", "Bearer " TOKEN, &h), 405);
	assert_true(has_header(&h, "Allow: POST"));
	http_free(&h);
	assert_int_equal(request("POST", "/healthz", "Bearer " TOKEN, &h), 405);
	assert_true(has_header(&h, "Allow: GET, HEAD"));
	http_free(&h);
	assert_int_equal(status_of("DELETE", "/plugins", NULL), 405);
	assert_int_equal(status_of("PUT", "/plugins/beacon/run", "Bearer " TOKEN), 405);
	assert_int_equal(fx.action_calls, 0);
}

static void test_not_found(void **state)
{
	static const char *const paths[] = {
		"/", "/nope", "/healthz/", "/plugins/", "/plugins/beacon", "/plugins/beacon/",
		"/plugins/Beacon/reload", "/plugins/a-b/run", "/plugins//run",
		"/plugins/beacon/explode", "/plugins/beacon/run/extra", "/plugins/a%2Fb/run",
		"/plugins/a%00b/run", "/plugins/%2e%2e/run", "/plugins/be%22acon/run",
		"/plugins/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa/run",
	};
	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		struct http h;
		long st = request("POST", paths[i], "Bearer " TOKEN, &h);
		if (st != 404)
			fail_msg("%s: status %ld", paths[i], st);
		assert_string_equal(h.ctype, "application/json");
		http_free(&h);
	}
	assert_int_equal(status_of("GET", "/metricsx", NULL), 404);
	assert_int_equal(fx.action_calls, 0);
}

static void test_huge_header(void **state)
{
	size_t n = 100 * 1024;
	char *line = malloc(n + 16);
	assert_non_null(line);
	memcpy(line, "X-Big: ", 7);
	memset(line + 7, 'a', n);
	line[7 + n] = '\0';
	struct http h;
	memset(&h, 0, sizeof(h));
	h.method = "GET";
	h.path = "/healthz";
	h.extra = line;
	perform(&h);
	/* MHD answers 431 itself; a dropped connection would do too. */
	assert_true(h.rc != CURLE_OK || h.status == 431 || h.status == 413);
	http_free(&h);
	free(line);
	assert_int_equal(status_of("GET", "/healthz", NULL), 200);
}

static void test_huge_body(void **state)
{
	size_t n = 100 * 1024;
	char *body = malloc(n);
	assert_non_null(body);
	memset(body, 'b', n);
	struct http h;
	memset(&h, 0, sizeof(h));
	h.method = "POST";
	h.path = "/plugins/beacon/run";
	h.auth = "Bearer " TOKEN;
	h.body = body;
	h.body_len = n;
	perform(&h);
	assert_true(h.rc != CURLE_OK || h.status == 413);
	http_free(&h);
	/* Chunked, so no Content-Length to refuse up front: the connection is dropped. */
	memset(&h, 0, sizeof(h));
	h.method = "POST";
	h.path = "/plugins/beacon/run";
	h.auth = "Bearer " TOKEN;
	h.extra = "Transfer-Encoding: chunked";
	h.body = body;
	h.body_len = n;
	perform(&h);
	assert_true(h.rc != CURLE_OK || h.status >= 400);
	http_free(&h);
	free(body);
	assert_int_equal(fx.action_calls, 0);
	assert_int_equal(status_of("GET", "/healthz", NULL), 200);
}

/* reprocess and publish get their body (whole, even when it arrives in
 * pieces); both need the token; bad subjects are 404 before any op. */
static void post_body(const char *path, const char *body, size_t len, const char *extra,
		      long want)
{
	struct http h;
	memset(&h, 0, sizeof(h));
	h.method = "POST";
	h.path = path;
	h.auth = "Bearer " TOKEN;
	h.extra = extra;
	h.body = body;
	h.body_len = len;
	perform(&h);
	assert_int_equal(h.status, want);
	http_free(&h);
}

static void test_bodies(void **state)
{
	static const char rp[] = "{\"network\":\"mainnet\",\"from\":1,\"to\":9}";
	post_body("/plugins/beacon/reprocess", rp, strlen(rp), NULL, 202);
	assert_int_equal(fx.body_calls, 1);
	assert_string_equal(fx.last_name, "beacon");
	assert_string_equal(fx.last_body, rp);
	assert_int_equal(fx.action_calls, 0);

	char big[4096];
	memset(big, 'x', sizeof big);
	post_body("/publish/a.b-c_D", big, sizeof big, "Transfer-Encoding: chunked", 202);
	assert_int_equal(fx.body_calls, 2);
	assert_string_equal(fx.last_name, "a.b-c_D");
	assert_int_equal(fx.last_body_len, sizeof big);
	post_body("/publish/x", "", 0, NULL, 202);
	assert_int_equal(fx.last_body_len, 0);
	assert_int_equal(fx.body_calls, 3);

	char over[4097];
	memset(over, 'x', sizeof over);
	post_body("/publish/x", over, sizeof over, NULL, 413);
	post_body("/publish/a*b", "{}", 2, NULL, 404);
	post_body("/publish/", "{}", 2, NULL, 404);
	post_body("/publish/a/b", "{}", 2, NULL, 404);
	assert_int_equal(fx.body_calls, 3);
	assert_int_equal(status_of("POST", "/publish/x", NULL), 401);
	assert_int_equal(status_of("POST", "/plugins/beacon/reprocess", NULL), 401);
	assert_int_equal(status_of("GET", "/publish/x", NULL), 405);
	assert_int_equal(fx.body_calls, 3);
}

/* An action handler that stops the admin server from inside a request. */
static void test_stop_in_handler(void **state)
{
	struct http h;
	fx.stop_in_action = 1;
	request("POST", "/plugins/beacon/disable", "Bearer " TOKEN, &h);
	http_free(&h);
	assert_int_equal(fx.action_calls, 1);
	assert_null(fx.admin);
	/* teardown checks that the loop ends with nothing left open */
}

/* admin_stop with connections open (idle, mid-headers, mid-body). */
static void test_stop_with_connections(void **state)
{
	static const char *const sends[] = {
		"",
		"GET /healthz HTTP/1.1\r\nHost: x\r\n",
		"POST /plugins/beacon/run HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " TOKEN
		"\r\nContent-Length: 100\r\n\r\npartial",
	};
	int fds[3];
	for (int i = 0; i < 3; i++) {
		struct sockaddr_in sin = { 0 };
		sin.sin_family = AF_INET;
		sin.sin_port = htons((uint16_t)fx.port);
		sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		fds[i] = socket(AF_INET, SOCK_STREAM, 0);
		assert_true(fds[i] >= 0);
		assert_int_equal(connect(fds[i], (struct sockaddr *)&sin, sizeof(sin)), 0);
		size_t len = strlen(sends[i]);
		if (len)
			assert_int_equal(send(fds[i], sends[i], len, 0), (ssize_t)len);
	}
	for (int i = 0; i < 50; i++) {
		uv_run(&fx.loop, UV_RUN_NOWAIT);
		usleep(2000);
	}
	admin_stop(fx.admin);
	fx.admin = NULL;
	for (int i = 0; i < 3; i++)
		close(fds[i]);
	assert_int_equal(fx.action_calls, 0);
}

/* Expected failures log errors: keep them out of the test output. */
static void quiet(int on)
{
	static int devnull = -1;
	if (devnull < 0)
		devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
	log_setup(LAB_LOG_ERROR, LOG_FORMAT_LOGFMT, on && devnull >= 0 ? devnull : 2);
}

/* MHD's idle timeout (10 s) fires through the uv timer: the server closes an
 * idle connection.  Slow, so only with LAB_SLOW_TESTS=1. */
static void test_idle_timeout(void **state)
{
	if (!getenv("LAB_SLOW_TESTS")) {
		print_message("set LAB_SLOW_TESTS=1 to run\n");
		return;
	}
	struct sockaddr_in sin = { 0 };
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)fx.port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	assert_true(fd >= 0);
	assert_true(connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0 || errno == EINPROGRESS);
	uint64_t t0 = uv_hrtime();
	char c;
	ssize_t n = -1;
	while (uv_hrtime() - t0 < 15ull * 1000000000) {
		uv_run(&fx.loop, UV_RUN_NOWAIT);
		n = recv(fd, &c, 1, 0);
		if (n == 0 || (n < 0 && errno != EAGAIN))
			break;
		usleep(10000);
	}
	double secs = (double)(uv_hrtime() - t0) / 1e9;
	close(fd);
	assert_int_equal(n, 0);
	assert_true(secs > 9 && secs < 13);
}

static void test_bad_listen(void **state)
{
	static const char *const bad[] = {
		"", "9470", "127.0.0.1", "127.0.0.1:", "127.0.0.1:99999", "127.0.0.1:12x",
		"localhost:9470", "::1:9470", "[::1]", "[::1]9470", "[::1:9470", "1.2.3:80",
		"127.0.0.1:-1", "[127.0.0.1]:80", "999.0.0.1:80", ":9470",
	};
	uv_loop_t loop;
	struct admin *a = (struct admin *)&loop;
	assert_int_equal(uv_loop_init(&loop), 0);
	quiet(1);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int rc = admin_start(&loop, M, bad[i], "", &stub_ops, NULL, &a);
		if (rc >= 0)
			fail_msg("\"%s\" accepted", bad[i]);
		assert_null(a);
	}
	/* The port the fixture holds is busy. */
	char busy[64];
	snprintf(busy, sizeof(busy), "127.0.0.1:%d", fx.port);
	assert_true(admin_start(&loop, M, busy, "", &stub_ops, NULL, &a) < 0);
	quiet(0);
	assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
	assert_int_equal(uv_loop_close(&loop), 0);
}

static void test_ipv6(void **state)
{
	struct admin *a = NULL;
	quiet(1);
	int rc = admin_start(&fx.loop, M, "[::1]:0", TOKEN, &stub_ops, &fx, &a);
	quiet(0);
	if (rc < 0) {
		print_message("IPv6 loopback unavailable here, skipped\n");
		return;
	}
	char url[128];
	snprintf(url, sizeof(url), "http://[::1]:%d/plugins/beacon/run", admin_port(a));
	struct http h;
	memset(&h, 0, sizeof(h));
	h.method = "POST";
	h.url = url;
	h.auth = "Bearer " TOKEN;
	perform(&h);
	assert_int_equal(h.rc, CURLE_OK);
	assert_int_equal(h.status, 200);
	http_free(&h);
	admin_stop(a);
}

int main(void)
{
	log_setup(LAB_LOG_ERROR, LOG_FORMAT_LOGFMT, 2);
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0)
		return 1;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_healthz, setup, teardown),
		cmocka_unit_test_setup_teardown(test_metrics, setup, teardown),
		cmocka_unit_test_setup_teardown(test_readyz, setup, teardown),
		cmocka_unit_test_setup_teardown(test_plugins, setup, teardown),
		cmocka_unit_test_setup_teardown(test_actions, setup, teardown),
		cmocka_unit_test_setup_teardown(test_auth, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_token, setup_notoken, teardown),
		cmocka_unit_test_setup_teardown(test_method_not_allowed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_not_found, setup, teardown),
		cmocka_unit_test_setup_teardown(test_huge_header, setup, teardown),
		cmocka_unit_test_setup_teardown(test_huge_body, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bodies, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stop_in_handler, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stop_with_connections, setup, teardown),
		cmocka_unit_test_setup_teardown(test_idle_timeout, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_listen, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ipv6, setup, teardown),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	curl_global_cleanup();
	return rc;
}
