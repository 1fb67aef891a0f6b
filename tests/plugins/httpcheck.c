/* SDK 1.4 HTTP services under test (tests/integration/http.sh):
 *   GET/POST /t/hello   a small JSON body with ETag, Last-Modified,
 *                       Cache-Control and a CORS header (POST: 201)
 *   GET /t/gz           a gzip-encoded body (LAB_HTTP_GZIP)
 *   GET /t/badgz        LAB_HTTP_GZIP on a body that is not gzip (502)
 *   GET /t/later        answered 100 ms later from a timer
 *   GET /t/never        answered only after 3 s (after the host's 504)
 *   GET /files/...      prefix route: echoes the decoded path, query `q`
 *                       and header X-Test as JSON
 *   GET /files/exact    exact route beside the prefix
 *   GET /sse            an SSE stream: "tick" events every 200 ms;
 *                       ?flood=1 sends 16 KiB events until the host drops
 *                       the client (slow reader)
 *   GET /ws             a WebSocket: echoes text; "flood" sends 16 KiB
 *                       messages until dropped; "bye" closes with 1000
 * Every stream end is logged: "httpcheck: closed" kind=.. reason=.. */
#define LAB_PLUGIN_MIN_ABI_MINOR 4
#include <lab/plugin.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_STREAMS 64

struct hc;
struct slot {
	struct hc *hc;
	lab_stream *s;
	int kind;
	int flood;
	unsigned seq;
};

struct hc {
	lab_ctx *ctx;
	lab_timer *tick;
	struct slot streams[MAX_STREAMS];
	lab_http_req *later[16];
	size_t n_later;
	lab_http_req *never;
	lab_timer *never_timer;
};

static const unsigned char gz_body[] = {
	0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x03, 0xcb, 0x48, 0xcd,
	0xc9, 0xc9, 0x57, 0x48, 0xaf, 0xca, 0x2c, 0x50, 0x28, 0xcf, 0x2f, 0xca, 0x49,
	0xe1, 0x02, 0x00, 0x3e, 0x56, 0x00, 0xe8, 0x11, 0x00, 0x00, 0x00
};
static char flood_buf[16 * 1024];

static void reply(lab_ctx *ctx, lab_http_req *req, int status, const char *body)
{
	lab_http_response r = { .status = status, .body = body, .len = strlen(body) };
	lab_http_respond(ctx, req, &r);
}

static void on_hello(lab_ctx *ctx, lab_http_req *req, void *ud)
{
	(void)ud;
	static const char *const extra[] = { "Access-Control-Allow-Origin: *", NULL };
	int post = strcmp(lab_http_method(req), "POST") == 0;
	lab_http_response r = { .status = post ? 201 : 200,
				.body = "{\"hello\":\"world\"}",
				.len = 17,
				.etag = "\"v1\"",
				.last_modified = 1700000000,
				.cache_control = "public, max-age=60",
				.headers = extra };
	lab_http_respond(ctx, req, &r);
}

static void on_gz(lab_ctx *ctx, lab_http_req *req, void *ud)
{
	int bad = ud != NULL;
	lab_http_response r = { .status = 200,
				.content_type = "text/plain",
				.body = bad ? (const void *)"plain, not gzip" : gz_body,
				.len = bad ? 15 : sizeof gz_body,
				.flags = LAB_HTTP_GZIP };
	int rc = lab_http_respond(ctx, req, &r);
	if (bad)
		lab_logkv(ctx, LAB_LOG_INFO, "httpcheck: badgz", LAB_FI("rc", rc));
}

static void later_fire(lab_ctx *ctx, lab_timer *t, void *ud)
{
	(void)t;
	struct hc *hc = ud;
	for (size_t i = 0; i < hc->n_later; i++)
		reply(ctx, hc->later[i], 200, "{\"later\":true}");
	hc->n_later = 0;
}

static void on_later(lab_ctx *ctx, lab_http_req *req, void *ud)
{
	struct hc *hc = ud;
	if (hc->n_later == sizeof hc->later / sizeof hc->later[0]) {
		reply(ctx, req, 503, "{\"busy\":true}");
		return;
	}
	hc->later[hc->n_later++] = req;
	lab_timer_start(ctx, 100, 0, later_fire, hc, NULL);
}

static void never_fire(lab_ctx *ctx, lab_timer *t, void *ud)
{
	(void)t;
	struct hc *hc = ud;
	hc->never_timer = NULL;
	if (hc->never) {
		lab_http_response r = { .status = 200, .body = "{}", .len = 2 };
		int rc = lab_http_respond(ctx, hc->never, &r);
		lab_logkv(ctx, LAB_LOG_INFO, "httpcheck: late answer", LAB_FI("rc", rc));
		hc->never = NULL;
	}
}

static void on_never(lab_ctx *ctx, lab_http_req *req, void *ud)
{
	struct hc *hc = ud;
	if (hc->never) {
		reply(ctx, req, 503, "{\"busy\":true}");
		return;
	}
	hc->never = req;
	lab_timer_start(ctx, 3000, 0, never_fire, hc, &hc->never_timer);
}

static void on_files(lab_ctx *ctx, lab_http_req *req, void *ud)
{
	const char *exact = ud;
	lab_json *j = lab_json_new(ctx);
	lab_json_open(ctx, j, '{');
	lab_json_key(ctx, j, "path");
	lab_json_str(ctx, j, lab_http_path(req), (size_t)-1);
	lab_json_key(ctx, j, "exact");
	lab_json_bool(ctx, j, exact != NULL);
	const char *q = lab_http_query(req, "q"), *x = lab_http_header(req, "x-test");
	lab_json_key(ctx, j, "q");
	if (q)
		lab_json_str(ctx, j, q, (size_t)-1);
	else
		lab_json_null(ctx, j);
	lab_json_key(ctx, j, "x_test");
	if (x)
		lab_json_str(ctx, j, x, (size_t)-1);
	else
		lab_json_null(ctx, j);
	lab_json_close(ctx, j);
	const char *doc;
	size_t n;
	if (lab_json_finish(ctx, j, &doc, &n) == 0) {
		lab_http_response r = { .status = 200, .body = doc, .len = n };
		lab_http_respond(ctx, req, &r);
	} else {
		reply(ctx, req, 500, "{}");
	}
	lab_json_free(ctx, j);
}

static struct slot *slot_new(struct hc *hc)
{
	for (size_t i = 0; i < MAX_STREAMS; i++)
		if (!hc->streams[i].hc) {
			memset(&hc->streams[i], 0, sizeof hc->streams[i]);
			hc->streams[i].hc = hc;
			return &hc->streams[i];
		}
	return NULL;
}

static void on_close(lab_ctx *ctx, lab_stream *s, int reason, void *ud)
{
	struct slot *sl = ud;
	(void)s;
	lab_logkv(ctx, LAB_LOG_INFO, "httpcheck: closed",
		  LAB_FS("kind", sl->kind == LAB_STREAM_SSE ? "sse" : "websocket"),
		  LAB_FI("reason", reason));
	sl->hc = NULL;
	sl->s = NULL;
}

static void on_msg(lab_ctx *ctx, lab_stream *s, const void *data, size_t len, void *ud)
{
	struct slot *sl = ud;
	if (len == 5 && memcmp(data, "flood", 5) == 0) {
		sl->flood = 1;
		return;
	}
	if (len == 3 && memcmp(data, "bye", 3) == 0) {
		lab_stream_close(ctx, s, 1000);
		return;
	}
	lab_stream_send(ctx, s, NULL, NULL, data, len);
}

static void on_stream(lab_ctx *ctx, lab_http_req *req, void *ud)
{
	struct hc *hc = ud;
	int kind = strcmp(lab_http_path(req), "/ws") == 0 ? LAB_STREAM_WEBSOCKET : LAB_STREAM_SSE;
	struct slot *sl = slot_new(hc);
	if (!sl) {
		reply(ctx, req, 503, "{\"busy\":true}");
		return;
	}
	sl->kind = kind;
	const char *fl = lab_http_query(req, "flood");
	sl->flood = fl && strcmp(fl, "1") == 0;
	static const char *const cors[] = { "Access-Control-Allow-Origin: *", NULL };
	int rc = lab_stream_open(ctx, req, kind, cors, on_msg, on_close, sl, &sl->s);
	if (rc < 0) {
		lab_logkv(ctx, LAB_LOG_INFO, "httpcheck: open refused", LAB_FI("rc", rc));
		sl->hc = NULL;
	}
}

static void tick(lab_ctx *ctx, lab_timer *t, void *ud)
{
	(void)t;
	struct hc *hc = ud;
	char id[32], msg[64];
	for (size_t i = 0; i < MAX_STREAMS; i++) {
		struct slot *sl = &hc->streams[i];
		if (!sl->hc || !sl->s)
			continue;
		if (sl->flood) {
			int rc = 0;
			for (int k = 0; k < 64 && rc == 0; k++)
				rc = lab_stream_send(ctx, sl->s, "flood", NULL, flood_buf,
						     sizeof flood_buf);
			if (rc < 0) {
				lab_logkv(ctx, LAB_LOG_INFO, "httpcheck: flood stopped",
					  LAB_FI("rc", rc));
				sl->flood = 0;
			}
			continue;
		}
		if (sl->kind != LAB_STREAM_SSE)
			continue;
		snprintf(id, sizeof id, "%u", ++sl->seq);
		int n = snprintf(msg, sizeof msg, "{\"tick\":%u}", sl->seq);
		lab_stream_send(ctx, sl->s, "tick", id, msg, (size_t)n);
	}
}

static int hc_init(lab_ctx *ctx, void **self)
{
	struct hc *hc = calloc(1, sizeof *hc);
	if (!hc)
		return LAB_ENOMEM;
	hc->ctx = ctx;
	memset(flood_buf, 'x', sizeof flood_buf);
	*self = hc;
	return 0;
}

static int hc_start(void *self)
{
	struct hc *hc = self;
	lab_ctx *ctx = hc->ctx;
	int rc = 0;
	rc |= lab_http_route(ctx, "GET", "/t/hello", on_hello, hc, NULL);
	rc |= lab_http_route(ctx, "POST", "/t/hello", on_hello, hc, NULL);
	rc |= lab_http_route(ctx, "GET", "/t/gz", on_gz, NULL, NULL);
	rc |= lab_http_route(ctx, "GET", "/t/badgz", on_gz, hc, NULL);
	rc |= lab_http_route(ctx, "GET", "/t/later", on_later, hc, NULL);
	rc |= lab_http_route(ctx, "GET", "/t/never", on_never, hc, NULL);
	rc |= lab_http_route(ctx, "GET", "/files/*", on_files, NULL, NULL);
	rc |= lab_http_route(ctx, "GET", "/files/exact", on_files, hc, NULL);
	rc |= lab_http_route(ctx, "GET", "/sse", on_stream, hc, NULL);
	rc |= lab_http_route(ctx, "GET", "/ws", on_stream, hc, NULL);
	if (rc)
		return LAB_EINVAL;
	/* refusals the host must make */
	lab_logkv(ctx, LAB_LOG_INFO, "httpcheck: routes",
		  LAB_FI("dup", lab_http_route(ctx, "GET", "/t/hello", on_hello, hc, NULL)),
		  LAB_FI("dotdot", lab_http_route(ctx, "GET", "/a/../b", on_hello, hc, NULL)),
		  LAB_FI("lower", lab_http_route(ctx, "get", "/x", on_hello, hc, NULL)));
	return lab_timer_start(ctx, 200, 200, tick, hc, &hc->tick);
}

static int hc_stop(void *self)
{
	struct hc *hc = self;
	lab_logf(hc->ctx, LAB_LOG_INFO, "httpcheck: stopping");
	return 0;
}

static void hc_destroy(void *self)
{
	free(self);
}

LAB_PLUGIN_DEFINE(.name = "httpcheck", .version = "1.0.0",
		  .description = "SDK 1.4 HTTP services under test", .init = hc_init,
		  .start = hc_start, .stop = hc_stop, .destroy = hc_destroy)
