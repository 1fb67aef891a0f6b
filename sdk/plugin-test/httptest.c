/* lab-plugin-test's HTTP fakes (SDK 1.4): requests injected into the routes
 * of tests/plugins/httpcheck.c (the plugin tests/integration/http.sh runs
 * on the real listener), answers and streams read back. */
#include <string.h>

#include <lab/plugin-test.h>

const lab_plugin *lab_plugin_entry(void);

int main(void)
{
	labt *t = labt_new(lab_plugin_entry());
	LABT_CHECK_INT(labt_init(t), 0);
	LABT_CHECK_INT(labt_start(t), 0);

	int r = labt_http(t, "GET", "/t/hello", NULL);
	LABT_CHECK_INT(labt_http_status(t, r), 200);
	LABT_CHECK_STR(labt_http_body(t, r, NULL), "{\"hello\":\"world\"}");
	LABT_CHECK_STR(labt_http_response_header(t, r, "ETag"), "\"v1\"");
	LABT_CHECK_STR(labt_http_response_header(t, r, "Access-Control-Allow-Origin"), "*");
	LABT_CHECK(labt_http_last_modified(t, r) == 1700000000);
	LABT_CHECK_INT(labt_http_status(t, labt_http(t, "HEAD", "/t/hello", NULL)), 200);
	LABT_CHECK_INT(labt_http_status(t, labt_http(t, "PUT", "/t/hello", NULL)), 405);
	LABT_CHECK_INT(labt_http_status(t, labt_http(t, "GET", "/nope", NULL)), 404);
	r = labt_http(t, "GET", "/t/gz", NULL);
	LABT_CHECK_STR(labt_http_response_header(t, r, "Content-Encoding"), "gzip");

	r = labt_http(t, "GET", "/t/later", NULL);
	LABT_CHECK_INT(labt_http_status(t, r), 0); /* answered from a timer */
	labt_advance(t, 100);
	LABT_CHECK_INT(labt_http_status(t, r), 200);

	r = labt_http(t, "GET", "/files/a/b?q=v&x=1", LABT_HEADERS("X-Test: hi"));
	LABT_CHECK_STR(labt_http_body(t, r, NULL),
		       "{\"path\":\"/files/a/b\",\"exact\":false,\"q\":\"v\",\"x_test\":\"hi\"}");

	r = labt_http(t, "GET", "/ws", NULL);
	LABT_CHECK_INT(labt_http_status(t, r), 101);
	lab_stream *ws = labt_http_stream(t, r);
	LABT_CHECK(ws != NULL);
	LABT_CHECK_INT(labt_stream_push(t, ws, "hi", 2), 0);
	const char *d;
	size_t n;
	LABT_CHECK_INT(labt_stream_sent(t, ws, 0, &d, &n), 1);
	LABT_CHECK(n == 2 && memcmp(d, "hi", 2) == 0);
	LABT_CHECK_INT(labt_stream_push(t, ws, "bye", 3), 0);
	int code = 0;
	LABT_CHECK_INT(labt_stream_state(t, ws, &code), 1);
	LABT_CHECK_INT(code, 1000);
	LABT_CHECK_INT(labt_logs(t, LAB_LOG_INFO, "httpcheck: closed"), 1);

	r = labt_http(t, "GET", "/sse", NULL);
	lab_stream *sse = labt_http_stream(t, r);
	LABT_CHECK_INT(labt_http_status(t, r), 200);
	labt_advance(t, 200);
	LABT_CHECK(labt_stream_sent(t, sse, 0, &d, &n) >= 1);
	LABT_CHECK(strncmp(d, "id: 1\nevent: tick\ndata: {\"tick\":1}\n\n", n) == 0);

	LABT_CHECK_INT(labt_stop(t), 0);
	LABT_CHECK_INT(labt_stream_state(t, sse, &code), 1);
	LABT_CHECK_INT(code, 1001);
	LABT_CHECK_INT(labt_logs(t, LAB_LOG_INFO, "reason=-6"), 1);
	labt_free(t);
	return 0;
}
