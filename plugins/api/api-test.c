/*
 * Unit tests of the api plugin on lab-plugin-test (docs/plugin-testing.md):
 * the plugin runs against the fake host with virtual time, so the races
 * that matter — many requests on one key while its storage read is in
 * flight, an event arriving during a fill — are driven step by step.
 *
 * lab-plugin-test has no HTTP fakes yet (SDK 1.4), so this file puts a
 * small fake HTTP layer into the fake host's table: routes, requests whose
 * answer is recorded, and streams whose messages are recorded.  It also
 * counts the plugin's storage reads by wrapping storage_get.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lab/plugin-test.h>

const lab_plugin *lab_plugin_entry(void);

/* ---- the fake HTTP layer ---------------------------------------------------- */

struct route {
	char method[8], pattern[256];
	lab_http_cb cb;
	void *ud;
};

struct req {
	lab_http_req pub; /* first: the plugin gets &pub */
	char path[1100];
	char query[512];   /* "name=value&..." (already decoded) */
	char headers[512]; /* "Name: value\n..." */
	char tmp[512];
	int answered, status;
	char body[4096];
	size_t len;
	unsigned flags;
	char etag[64], cc[128], extra[1024];
	int64_t last_modified;
};

struct stream {
	int kind, open, close_code;
	char sent[8192];
	size_t nsent;
	lab_stream_msg_cb on_msg;
	lab_stream_close_cb on_close;
	void *ud;
};

static struct route routes[64];
static size_t nroutes;
static struct stream streams[8];
static size_t nstreams;
static unsigned storage_reads;
static int (*real_get)(lab_ctx *, const char *, lab_storage_cb, void *, lab_op **);
static lab_ctx *the_ctx;

static int f_route(lab_ctx *ctx, const char *method, const char *pattern, lab_http_cb cb,
		   void *ud, lab_route **out)
{
	(void)ctx;
	(void)out;
	for (size_t i = 0; i < nroutes; i++)
		if (!strcmp(routes[i].method, method) && !strcmp(routes[i].pattern, pattern))
			return LAB_EEXIST;
	struct route *r = &routes[nroutes++];
	snprintf(r->method, sizeof r->method, "%s", method);
	snprintf(r->pattern, sizeof r->pattern, "%s", pattern);
	r->cb = cb;
	r->ud = ud;
	return 0;
}

static const char *f_method(const lab_http_req *r) { (void)r; return "GET"; }
static const char *f_path(const lab_http_req *r) { return ((const struct req *)r)->path; }

static const char *find_in(struct req *q, const char *list, const char *name, char sep, char eq)
{
	size_t n = strlen(name);
	for (const char *p = list; *p;) {
		const char *end = strchr(p, sep);
		size_t l = end ? (size_t)(end - p) : strlen(p);
		if (l > n && !strncasecmp(p, name, n) && p[n] == eq) {
			const char *v = p + n + 1;
			while (*v == ' ')
				v++;
			snprintf(q->tmp, sizeof q->tmp, "%.*s", (int)(l - (size_t)(v - p)), v);
			return q->tmp;
		}
		p += l + (end ? 1 : 0);
	}
	return NULL;
}

static const char *f_query(const lab_http_req *r, const char *name)
{
	struct req *q = (struct req *)r;
	return find_in(q, q->query, name, '&', '=');
}

static const char *f_header(const lab_http_req *r, const char *name)
{
	struct req *q = (struct req *)r;
	return find_in(q, q->headers, name, '\n', ':');
}

static int f_respond(lab_ctx *ctx, lab_http_req *r, const lab_http_response *resp)
{
	struct req *q = (struct req *)r;
	(void)ctx;
	if (q->answered)
		abort(); /* answered twice */
	q->answered = 1;
	q->status = resp->status;
	q->len = resp->len < sizeof q->body ? resp->len : sizeof q->body - 1;
	memcpy(q->body, resp->body ? resp->body : "", q->len);
	q->body[q->len] = '\0';
	q->flags = resp->flags;
	snprintf(q->etag, sizeof q->etag, "%s", resp->etag ? resp->etag : "");
	snprintf(q->cc, sizeof q->cc, "%s", resp->cache_control ? resp->cache_control : "");
	q->last_modified = resp->last_modified;
	q->extra[0] = '\0';
	for (size_t i = 0; resp->headers && resp->headers[i]; i++) {
		strncat(q->extra, resp->headers[i], sizeof q->extra - strlen(q->extra) - 2);
		strcat(q->extra, "\n");
	}
	return 0;
}

static int f_stream_open(lab_ctx *ctx, lab_http_req *r, int kind, const char *const *headers,
			 lab_stream_msg_cb on_msg, lab_stream_close_cb on_close, void *ud,
			 lab_stream **out)
{
	struct req *q = (struct req *)r;
	(void)ctx;
	(void)headers;
	q->answered = 1;
	q->status = 101;
	struct stream *s = &streams[nstreams++];
	memset(s, 0, sizeof *s);
	s->kind = kind;
	s->open = 1;
	s->on_msg = on_msg;
	s->on_close = on_close;
	s->ud = ud;
	if (out)
		*out = (lab_stream *)s;
	return 0;
}

static int f_stream_send(lab_ctx *ctx, lab_stream *ls, const char *event, const char *id,
			 const void *data, size_t len)
{
	struct stream *s = (struct stream *)ls;
	(void)ctx;
	if (!s->open)
		return LAB_ESTATE;
	if (memchr(data, '\n', len))
		return LAB_EINVAL;
	int n = snprintf(s->sent + s->nsent, sizeof s->sent - s->nsent, "%s%s%s%s%s%s%.*s\n",
			 s->kind == LAB_STREAM_SSE && id ? "id: " : "",
			 s->kind == LAB_STREAM_SSE && id ? id : "",
			 s->kind == LAB_STREAM_SSE && id ? "\n" : "",
			 s->kind == LAB_STREAM_SSE && event ? "event: " : "",
			 s->kind == LAB_STREAM_SSE && event ? event : "",
			 s->kind == LAB_STREAM_SSE && event ? "\n" : "", (int)len,
			 (const char *)data);
	s->nsent += (size_t)n;
	return 0;
}

static int f_stream_close(lab_ctx *ctx, lab_stream *ls, int code)
{
	struct stream *s = (struct stream *)ls;
	(void)ctx;
	if (!s->open)
		return LAB_ESTATE;
	s->close_code = code;
	return 0;
}

/* The host's side of a stream ending (on a later turn in labd). */
static void stream_end(struct stream *s, int reason)
{
	s->open = 0;
	s->on_close(the_ctx, (lab_stream *)s, reason, s->ud);
}

static void ws_send(struct stream *s, const char *text)
{
	s->on_msg(the_ctx, (lab_stream *)s, text, strlen(text), s->ud);
}

static int counting_get(lab_ctx *ctx, const char *key, lab_storage_cb cb, void *ud, lab_op **op)
{
	storage_reads++;
	return real_get(ctx, key, cb, ud, op);
}

/* A labt with the fake HTTP layer in its host table. */
static labt *new_api(const char *config)
{
	labt *t = labt_new(lab_plugin_entry());
	the_ctx = labt_ctx(t);
	lab_host_api *api = (lab_host_api *)the_ctx->api; /* the fake host's own table */
	api->size = sizeof *api;
	api->abi_minor = LAB_ABI_MINOR;
	api->http_route = f_route;
	api->http_method = f_method;
	api->http_path = f_path;
	api->http_query = f_query;
	api->http_header = f_header;
	api->http_respond = f_respond;
	api->stream_open = f_stream_open;
	api->stream_send = f_stream_send;
	api->stream_close = f_stream_close;
	real_get = api->storage_get;
	api->storage_get = counting_get;
	nroutes = nstreams = 0;
	storage_reads = 0;
	labt_network(t, "mainnet", 1606824023, 12, 32);
	labt_network_fork(t, "mainnet", "deneb", 269568);
	labt_set_now(t, 1735787045000LL); /* mainnet slot 10746918 */
	LABT_CHECK_INT(labt_config(t, config ? config : ""), 0);
	LABT_CHECK_INT(labt_init(t), 0);
	LABT_CHECK_INT(labt_start(t), 0);
	return t;
}

/* Issue a GET like the host: longest matching route. */
static struct req *get(const char *path, const char *query, const char *headers)
{
	struct req *q = calloc(1, sizeof *q);
	q->pub.api = the_ctx->api;
	snprintf(q->path, sizeof q->path, "%s", path);
	snprintf(q->query, sizeof q->query, "%s", query ? query : "");
	snprintf(q->headers, sizeof q->headers, "%s", headers ? headers : "");
	struct route *best = NULL;
	size_t bestlen = 0;
	for (size_t i = 0; i < nroutes; i++) {
		struct route *r = &routes[i];
		size_t pl = strlen(r->pattern);
		int match = strcmp(r->method, "GET") == 0 &&
			    (strcmp(r->pattern, path) == 0 ||
			     (pl >= 2 && r->pattern[pl - 1] == '*' &&
			      strncmp(r->pattern, path, pl - 1) == 0 && strlen(path) > pl - 1));
		if (match && pl > bestlen) {
			best = r;
			bestlen = pl;
		}
	}
	if (!best) {
		q->answered = 1;
		q->status = 404;
		return q;
	}
	best->cb(the_ctx, &q->pub, best->ud);
	return q;
}

static int has_route(const char *method, const char *pattern)
{
	for (size_t i = 0; i < nroutes; i++)
		if (!strcmp(routes[i].method, method) && !strcmp(routes[i].pattern, pattern))
			return 1;
	return 0;
}

#define SLOT_KEY "beacon/slots/mainnet/100.json"
#define SLOT_DOC "{\"slot\":100,\"v\":1}"

/* ---- tests -------------------------------------------------------------------- */

static void test_settings_and_routes(void)
{
	labt *t = labt_new(lab_plugin_entry());
	LABT_CHECK_INT(labt_config(t, "prefix = \"lab-data\";"), 0);
	LABT_CHECK_INT(labt_init(t), LAB_ECONFIG);
	labt_free(t);
	t = labt_new(lab_plugin_entry());
	LABT_CHECK_INT(labt_config(t, "prefix = \"/lab-data/\";"), 0);
	LABT_CHECK_INT(labt_init(t), LAB_ECONFIG);
	labt_free(t);
	t = labt_new(lab_plugin_entry());
	LABT_CHECK_INT(labt_config(t, "beacon_prefix = \"../x\";"), LAB_ECONFIG);
	labt_free(t);
	/* the fake host without HTTP services: start says so */
	t = labt_new(lab_plugin_entry());
	LABT_CHECK_INT(labt_init(t), 0);
	LABT_CHECK_INT(labt_start(t), LAB_ENOTSUP);
	LABT_CHECK_INT(labt_logs(t, LAB_LOG_ERROR, "no HTTP services"), 1);
	labt_free(t);

	t = new_api("prefix = \"/lab-data\";");
	LABT_CHECK(has_route("GET", "/lab-data/config.json"));
	LABT_CHECK(has_route("GET", "/lab-data/beacon/*"));
	LABT_CHECK(has_route("GET", "/lab-data/beacon_slots/*"));
	LABT_CHECK(has_route("GET", "/lab-data/beacon_chain_timings/*"));
	LABT_CHECK(has_route("GET", "/lab-data/xatu_public_contributors/*"));
	LABT_CHECK(has_route("GET", "/api/v1/networks"));
	LABT_CHECK(has_route("GET", "/api/v1/networks/*"));
	LABT_CHECK(has_route("GET", "/api/v1/live"));
	LABT_CHECK(has_route("GET", "/api/v1/events"));
	LABT_CHECK(has_route("OPTIONS", "/lab-data/beacon/*"));
	LABT_CHECK(has_route("OPTIONS", "/api/v1/events"));
	LABT_CHECK_INT(labt_subscriptions(t), 5);
	labt_storage_put(t, SLOT_KEY, SLOT_DOC, strlen(SLOT_DOC));
	struct req *q = get("/lab-data/beacon/slots/mainnet/100.json", NULL, NULL);
	labt_pump(t);
	LABT_CHECK_INT(q->status, 200);
	LABT_CHECK_STR(q->body, SLOT_DOC);
	free(q);
	labt_free(t);
}

/* Many requests on one key while its read is in flight: one storage read,
 * everyone answered with the same bytes; then hits without reads. */
static void test_coalesced_fill(void)
{
	labt *t = new_api(NULL);
	struct req *q[5];
	labt_storage_put(t, SLOT_KEY, SLOT_DOC, strlen(SLOT_DOC));
	labt_storage_delay(t, 50);
	for (int i = 0; i < 4; i++)
		q[i] = get(i == 3 ? "/beacon_slots/slots/mainnet/100.json"
				  : "/beacon/slots/mainnet/100.json", NULL, NULL);
	labt_pump(t);
	LABT_CHECK_INT(storage_reads, 1);
	for (int i = 0; i < 4; i++)
		LABT_CHECK_INT(q[i]->answered, 0);
	labt_advance(t, 50);
	for (int i = 0; i < 4; i++) {
		LABT_CHECK_INT(q[i]->status, 200);
		LABT_CHECK_STR(q[i]->body, SLOT_DOC);
		LABT_CHECK_STR(q[i]->etag, q[0]->etag);
		LABT_CHECK_STR(q[i]->cc, "public, max-age=86400, s-maxage=86400");
		LABT_CHECK(q[i]->last_modified == 1735787045);
	}
	LABT_CHECK(strlen(q[0]->etag) == 34 && q[0]->etag[0] == '"');
	LABT_CHECK(labt_metric(t, "cache_requests_total", LAB_LABELS("miss")) == 1);
	LABT_CHECK(labt_metric(t, "cache_requests_total", LAB_LABELS("coalesced")) == 3);
	q[4] = get("/beacon/slots/mainnet/100.json", NULL, NULL);
	LABT_CHECK_INT(q[4]->status, 200); /* answered at once from the cache */
	LABT_CHECK_INT(storage_reads, 1);
	LABT_CHECK(labt_metric(t, "cache_requests_total", LAB_LABELS("hit")) == 1);
	LABT_CHECK(labt_metric(t, "cache_bytes", NULL) > 0);
	for (int i = 0; i < 5; i++)
		free(q[i]);
	labt_free(t);
}

/* The freshness rule: an event that arrives while the key is being read
 * makes the plugin read again; nobody gets the bytes read before it. */
static void test_event_during_fill(void)
{
	static const char v2[] = "{\"slot\":100,\"v\":2}";
	static const char ev[] = "{\"network\":\"mainnet\",\"slot\":100,\"key\":\"" SLOT_KEY "\"}";
	labt *t = new_api(NULL);
	labt_storage_put(t, SLOT_KEY, SLOT_DOC, strlen(SLOT_DOC));
	struct req *a = get("/beacon/slots/mainnet/100.json", NULL, NULL);
	labt_pump(t);
	LABT_CHECK_STR(a->body, SLOT_DOC);
	/* the writer replaces the document, the event is on its way; a reader
	 * before the event may still get the cached bytes */
	labt_storage_delay(t, 50);
	labt_storage_put(t, SLOT_KEY, v2, strlen(v2));
	struct req *b = get("/beacon/slots/mainnet/100.json", NULL, NULL);
	LABT_CHECK_STR(b->body, SLOT_DOC);
	LABT_CHECK_INT(labt_publish(t, "beacon.slot", ev, strlen(ev)), 0);
	struct req *c = get("/beacon/slots/mainnet/100.json", NULL, NULL);
	LABT_CHECK_INT(c->answered, 0); /* read again */
	/* a second event while that read is in flight: it is discarded */
	LABT_CHECK_INT(labt_publish(t, "beacon.slot", ev, strlen(ev)), 0);
	struct req *d = get("/beacon/slots/mainnet/100.json", NULL, NULL);
	labt_advance(t, 50);
	LABT_CHECK_INT(c->answered, 0);
	LABT_CHECK(labt_metric(t, "storage_reads_total", LAB_LABELS("stale")) == 1);
	labt_advance(t, 50);
	LABT_CHECK_INT(c->status, 200);
	LABT_CHECK_STR(c->body, v2);
	LABT_CHECK_STR(d->body, v2);
	LABT_CHECK(strcmp(c->etag, a->etag) != 0);
	LABT_CHECK(c->last_modified > a->last_modified); /* same second, still newer */
	LABT_CHECK_INT(storage_reads, 3);
	free(a), free(b), free(c), free(d);
	labt_free(t);
}

static void test_errors(void)
{
	labt *t = new_api("missing_ttl = \"10s\";");
	/* not a document form: no storage read at all */
	static const char *const bad[] = {
		"/beacon/slots/mainnet/01.json", "/beacon/slots/mainnet/x.json",
		"/beacon/other/mainnet/1.json", "/beacon/slots/mainnet/1.json.gz",
		"/xatu_public_contributors/secret.json", "/beacon_slots/mainnet/1.json",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		struct req *q = get(bad[i], NULL, NULL);
		LABT_CHECK_INT(q->status, 404);
		LABT_CHECK_STR(labt_json(t, q->body, "error.code"), "404");
		free(q);
	}
	LABT_CHECK_INT(storage_reads, 0);
	/* not stored: 404, remembered for missing_ttl */
	struct req *q = get("/beacon/slots/mainnet/7.json", NULL, NULL);
	labt_pump(t);
	LABT_CHECK_INT(q->status, 404);
	LABT_CHECK_STR(q->body, "{\"error\":{\"code\":404,\"message\":\"no such document\"}}");
	LABT_CHECK_STR(q->cc, "no-store");
	free(q);
	q = get("/beacon/slots/mainnet/7.json", NULL, NULL);
	LABT_CHECK_INT(q->status, 404);
	LABT_CHECK_INT(storage_reads, 1);
	free(q);
	/* storage fails: 503 JSON, nothing kept (the next request reads again) */
	labt_storage_fail(t, "size_cdf", LAB_EIO, 1);
	q = get("/beacon_chain_timings/size_cdf/mainnet/w.json", NULL, NULL);
	labt_pump(t);
	LABT_CHECK_INT(q->status, 503);
	LABT_CHECK_STR(labt_json(t, q->body, "error.code"), "503");
	free(q);
	labt_storage_put(t, "beacon_chain_timings/size_cdf/mainnet/w.json", "{}", 2);
	q = get("/beacon_chain_timings/size_cdf/mainnet/w.json", NULL, NULL);
	labt_pump(t);
	LABT_CHECK_INT(q->status, 200);
	LABT_CHECK_STR(q->cc, "public, max-age=600, s-maxage=600");
	free(q);
	labt_free(t);
}

static void test_cors_and_cache_control(void)
{
	labt *t = new_api("cors_origins = ( \"https://lab.example\" );");
	labt_storage_put(t, "beacon/slots/mainnet/10746900.json", "{}", 2);
	struct req *q = get("/beacon/slots/mainnet/10746900.json", NULL, "Origin: https://lab.example");
	labt_pump(t);
	LABT_CHECK_STR(q->cc, "public, max-age=12, s-maxage=12"); /* near the head */
	LABT_CHECK(strstr(q->extra, "Access-Control-Allow-Origin: https://lab.example\n") != NULL);
	LABT_CHECK(strstr(q->extra, "Vary: Origin\n") != NULL);
	free(q);
	q = get("/beacon/slots/mainnet/10746900.json", NULL, "Origin: https://evil.example");
	LABT_CHECK(strstr(q->extra, "Access-Control") == NULL);
	LABT_CHECK(strstr(q->extra, "Vary: Origin\n") != NULL); /* cache-safe without a match too */
	free(q);
	labt_storage_put(t, "config.json", "{\"modules\":{}}", 14);
	q = get("/config.json", NULL, NULL);
	labt_pump(t);
	LABT_CHECK_STR(q->cc, "public, max-age=60");
	free(q);
	labt_free(t);
	/* any origin (default): "*" on every answer, no Vary */
	t = new_api(NULL);
	q = get("/api/v1/networks", NULL, NULL);
	LABT_CHECK(strstr(q->extra, "Access-Control-Allow-Origin: *\n") != NULL);
	LABT_CHECK(strstr(q->extra, "Vary") == NULL);
	free(q);
	labt_free(t);
	/* cors = false: nothing */
	t = new_api("cors = false;");
	q = get("/api/v1/networks", NULL, "Origin: https://lab.example");
	LABT_CHECK(strstr(q->extra, "Access-Control") == NULL);
	free(q);
	labt_free(t);
}

static void test_rest(void)
{
	labt *t = new_api(NULL);
	struct req *q = get("/api/v1/networks", NULL, NULL);
	LABT_CHECK_INT(q->status, 200);
	LABT_CHECK_STR(labt_json(t, q->body, "networks.0.name"), "\"mainnet\"");
	LABT_CHECK_STR(labt_json(t, q->body, "networks.0.current_slot"), "10746918");
	LABT_CHECK_STR(labt_json(t, q->body, "networks.0.current_epoch"), "335841");
	LABT_CHECK_STR(labt_json(t, q->body, "networks.0.forks.deneb"), "269568");
	free(q);
	q = get("/api/v1/networks/mainnet/slot", NULL, NULL);
	LABT_CHECK_STR(labt_json(t, q->body, "slot"), "10746918");
	LABT_CHECK_STR(labt_json(t, q->body, "slot_start_time"), "1735787039");
	free(q);
	q = get("/api/v1/networks/sepolia/slot", NULL, NULL);
	LABT_CHECK_INT(q->status, 404);
	free(q);
	q = get("/api/v1/networks/mainnet/slots/1e3", NULL, NULL);
	LABT_CHECK_INT(q->status, 400);
	free(q);
	labt_storage_put(t, SLOT_KEY, SLOT_DOC, strlen(SLOT_DOC));
	q = get("/api/v1/networks/mainnet/slots/100", NULL, NULL);
	labt_pump(t);
	LABT_CHECK_STR(q->body, SLOT_DOC);
	free(q);
	q = get("/api/v1/networks/mainnet/slots/101", NULL, NULL);
	labt_pump(t);
	LABT_CHECK_INT(q->status, 404);
	free(q);
	labt_free(t);
}

static void test_sse(void)
{
	static const char e1[] = "{\"network\":\"mainnet\",\"slot\":1,\"key\":\"beacon/slots/mainnet/1.json\"}";
	static const char e2[] = "{\"network\":\"holesky\",\"slot\":2}";
	static const char e3[] = "{\n  \"network\": \"mainnet\", \"slot\": 3 }";
	labt *t = new_api("replay_events = 2;");
	struct req *q = get("/api/v1/events", "topics=slots:mainnet,bogus", NULL);
	LABT_CHECK_INT(q->status, 400);
	LABT_CHECK(strstr(q->body, "bogus") != NULL);
	free(q);
	q = get("/api/v1/events", NULL, NULL);
	LABT_CHECK_INT(q->status, 400);
	free(q);
	q = get("/api/v1/events", "topics=slots:mainnet", NULL);
	LABT_CHECK_INT(q->status, 101);
	struct stream *s = &streams[0];
	LABT_CHECK_STR(s->sent, "event: subscribed\n{\"subscribed\":[\"slots:mainnet\"]}\n");
	s->nsent = 0;
	s->sent[0] = '\0';
	labt_publish(t, "beacon.slot", e1, strlen(e1));
	labt_publish(t, "beacon.slot", e2, strlen(e2));
	labt_publish(t, "timings.updated", "{}", 2);
	labt_publish(t, "beacon.slot", e3, strlen(e3));
	labt_publish(t, "beacon.slot", "not json", 8);
	char id1[24];
	LABT_CHECK(sscanf(s->sent, "id: %23s", id1) == 1);
	char want[512];
	snprintf(want, sizeof want,
		 "id: %s\n{\"topic\":\"slots:mainnet\",\"subject\":\"beacon.slot\",\"data\":%s}\n", id1,
		 e1);
	LABT_CHECK(strncmp(s->sent, want, strlen(want)) == 0);
	LABT_CHECK(strstr(s->sent, "holesky") == NULL);
	LABT_CHECK(strstr(s->sent, "\"data\":{\"network\":\"mainnet\",\"slot\":3}}") != NULL);
	LABT_CHECK(labt_metric(t, "live_clients", LAB_LABELS("sse")) == 1);
	free(q);
	/* reconnect after the first: the ring (2 messages: e2's... e3 and the
	 * timings one) replays what matches */
	char hdr[64];
	snprintf(hdr, sizeof hdr, "Last-Event-ID: %s", id1);
	q = get("/api/v1/events", "topics=*", hdr);
	struct stream *s2 = &streams[1];
	LABT_CHECK(strstr(s2->sent, "\"subject\":\"timings.updated\"") != NULL);
	LABT_CHECK(strstr(s2->sent, "\"slot\":3") != NULL);
	LABT_CHECK(strstr(s2->sent, "\"slot\":1,") == NULL);
	free(q);
	stream_end(s, 0);
	stream_end(s2, LAB_ECANCELED);
	LABT_CHECK(labt_metric(t, "live_clients", LAB_LABELS("sse")) == 0);
	labt_free(t);
}

static void test_websocket(void)
{
	labt *t = new_api(NULL);
	struct req *q = get("/api/v1/live", NULL, NULL);
	struct stream *s = &streams[0];
	LABT_CHECK_INT(q->status, 101);
	ws_send(s, "{\"subscribe\":[\"timings\",\"slots:mainnet\"]}");
	LABT_CHECK_STR(s->sent, "{\"subscribed\":[\"timings\",\"slots:mainnet\"]}\n");
	s->nsent = 0;
	ws_send(s, "{\"subscribe\":[\"slots:a/b\"]}");
	LABT_CHECK(strstr(s->sent, "{\"error\":{\"code\":400,") == s->sent);
	LABT_CHECK(strstr(s->sent, "slots:a/b") != NULL);
	s->nsent = 0;
	ws_send(s, "{\"unsubscribe\":[\"slots:mainnet\"]}");
	LABT_CHECK_STR(s->sent, "{\"subscribed\":[\"timings\"]}\n");
	s->nsent = 0;
	labt_publish(t, "beacon.slot", "{\"network\":\"mainnet\",\"slot\":1}", 30);
	labt_publish(t, "timings.updated", "{\"kind\":\"size_cdf\"}", 19);
	LABT_CHECK_STR(s->sent, "{\"topic\":\"timings\",\"subject\":\"timings.updated\",\"data\":{\"kind\":\"size_cdf\"}}\n");
	ws_send(s, "[\"subscribe\"]");
	LABT_CHECK_INT(s->close_code, 1008);
	stream_end(s, 0);
	free(q);
	q = get("/api/v1/live", NULL, NULL);
	ws_send(&streams[1], "{\"subscribe\":[\"timings\"");
	LABT_CHECK_INT(streams[1].close_code, 1003);
	stream_end(&streams[1], 0);
	free(q);
	LABT_CHECK(labt_metric(t, "live_clients", LAB_LABELS("websocket")) == 0);
	labt_free(t);
}

/* The budget: old documents go, the cache stays under it. */
static void test_budget(void)
{
	labt *t = new_api("cache_bytes = 2000;");
	char key[64], doc[300];
	memset(doc, 'x', sizeof doc);
	doc[0] = '"';
	doc[sizeof doc - 2] = '"';
	doc[sizeof doc - 1] = '\0';
	for (int i = 0; i < 20; i++) {
		snprintf(key, sizeof key, "beacon/slots/mainnet/%d.json", i);
		labt_storage_put(t, key, doc, strlen(doc));
		snprintf(key, sizeof key, "/beacon/slots/mainnet/%d.json", i);
		struct req *q = get(key, NULL, NULL);
		labt_pump(t);
		LABT_CHECK_INT(q->status, 200);
		free(q);
		LABT_CHECK(labt_metric(t, "cache_bytes", NULL) <= 2000);
	}
	unsigned before = storage_reads;
	struct req *q = get("/beacon/slots/mainnet/19.json", NULL, NULL);
	LABT_CHECK_INT(q->status, 200); /* the newest is still there */
	free(q);
	q = get("/beacon/slots/mainnet/0.json", NULL, NULL);
	labt_pump(t);
	LABT_CHECK_INT(storage_reads, before + 1); /* the oldest was evicted */
	free(q);
	labt_free(t);
}

int main(void)
{
	test_settings_and_routes();
	test_coalesced_fill();
	test_event_during_fill();
	test_errors();
	test_cors_and_cache_control();
	test_rest();
	test_sse();
	test_websocket();
	test_budget();
	printf("ok - api plugin unit tests (lab-plugin-test)\n");
	return 0;
}
