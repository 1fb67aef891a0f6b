/*
 * api — the read side of labd: every SPEC §6 document over HTTP from an
 * in-memory cache invalidated by the broker events, REST for what is not
 * a document, and live updates over WebSocket and SSE.  This file: the
 * settings, the life cycle, the routes, CORS and the JSON answers.
 * docs/plugins/api.md and docs/api.md are its manual.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "buf.h"
#include "keyrules.h"

static const lab_option options[] = {
	{ .name = "prefix", .type = LAB_SET_STRING, .def = "/", LAB_BIND(struct api, prefix),
	  .desc = "URL prefix of the documents: \"/\" or e.g. \"/lab-data\" (old deployments)" },
	{ .name = "cache_bytes", .type = LAB_SET_INT, .def = "268435456", LAB_MIN(0),
	  LAB_BIND(struct api, cache_bytes),
	  .desc = "byte budget of the document cache (least recently used documents go first)" },
	{ .name = "cors", .type = LAB_SET_BOOL, .def = "true", LAB_BIND(struct api, cors),
	  .desc = "answer CORS requests (preflight OPTIONS, Access-Control-Allow-Origin)" },
	{ .name = "cors_origins", .type = LAB_SET_STRINGS,
	  .desc = "origins allowed by CORS, e.g. ( \"https://lab.ethpandaops.io\" ); "
		  "absent or \"*\" = any origin" },
	{ .name = "beacon_prefix", .type = LAB_SET_STRING, .def = "beacon",
	  .flags = LAB_SETTING_KEY_PREFIX, LAB_BIND(struct api, beacon_prefix),
	  .desc = "storage prefix of the beacon plugin's documents (its path_prefix)" },
	{ .name = "timings_prefix", .type = LAB_SET_STRING, .def = "beacon_chain_timings",
	  .flags = LAB_SETTING_KEY_PREFIX, LAB_BIND(struct api, timings_prefix),
	  .desc = "storage prefix of the timings plugin's documents (its path_prefix)" },
	{ .name = "contributors_prefix", .type = LAB_SET_STRING,
	  .def = "xatu_public_contributors", .flags = LAB_SETTING_KEY_PREFIX,
	  LAB_BIND(struct api, contributors_prefix),
	  .desc = "storage prefix of the contributors plugin's documents (its path_prefix)" },
	{ .name = "head_slots", .type = LAB_SET_INT, .def = "64", LAB_RANGE(0, 1000000),
	  LAB_BIND(struct api, head_slots),
	  .desc = "slot documents this close to the wallclock slot may still be rewritten "
		  "(reprocess): short Cache-Control" },
	{ .name = "missing_ttl", .type = LAB_SET_DURATION, .def = "2s", LAB_RANGE(0, 3600),
	  LAB_BIND(struct api, missing_ttl),
	  .desc = "how long a document that is not stored is remembered as missing" },
	{ .name = "config_ttl", .type = LAB_SET_DURATION, .def = "60s", LAB_RANGE(0, 86400),
	  LAB_BIND(struct api, config_ttl),
	  .desc = "how long config.json is cached (no event announces it)" },
	{ .name = "replay_events", .type = LAB_SET_INT, .def = "1024", LAB_RANGE(1, 1000000),
	  LAB_BIND(struct api, replay_events),
	  .desc = "events kept for SSE clients that reconnect with Last-Event-ID" },
	{ .name = "max_event_bytes", .type = LAB_SET_INT, .def = "65536", LAB_RANGE(256, 16777216),
	  LAB_BIND(struct api, max_event_bytes),
	  .desc = "broker events larger than this are not forwarded to clients" },
	{ 0 },
};

/* ---- CORS ----------------------------------------------------------------- */

static int origin_allowed(struct api *a, const char *origin)
{
	if (a->any_origin)
		return 1;
	for (size_t i = 0; i < a->norigins; i++)
		if (strcmp(a->origins[i], origin) == 0)
			return 1;
	return 0;
}

/* A header value we echo must be one line of printable ASCII. */
static int header_safe(const char *s, size_t max)
{
	size_t n = strlen(s);
	if (n == 0 || n > max)
		return 0;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7e)
			return 0;
	return 1;
}

/* Cache-safe: with "any origin" every answer carries ACAO "*" (the same
 * for every request); with a list, every answer carries Vary: Origin, so a
 * shared cache never hands one origin's answer to another. */
void api_cors_headers(struct api *a, lab_http_req *req, const char *const *extra,
		      const char **hdr, char *room)
{
	size_t k = 0;
	for (; extra && extra[k] && k < API_MAX_HEADERS - 4; k++)
		hdr[k] = extra[k];
	if (a->cors) {
		const char *origin = lab_http_header(req, "Origin");
		int ok = a->any_origin || (origin && header_safe(origin, 512) &&
					   origin_allowed(a, origin));
		if (!a->any_origin)
			hdr[k++] = "Vary: Origin";
		if (ok) {
			snprintf(room, API_HEADER_ROOM, "Access-Control-Allow-Origin: %s",
				 a->any_origin ? "*" : origin);
			hdr[k++] = room;
			hdr[k++] = "Access-Control-Expose-Headers: ETag, Last-Modified, Content-Length";
		}
	}
	hdr[k] = NULL;
}

/* OPTIONS on every route: the CORS preflight. */
static void preflight_cb(lab_ctx *ctx, lab_http_req *req, void *ud)
{
	struct api *a = ud;
	const char *extra[4];
	char allow_headers[300];
	size_t k = 0;
	const char *origin = lab_http_header(req, "Origin");
	const char *want = lab_http_header(req, "Access-Control-Request-Headers");
	if (a->cors && origin && header_safe(origin, 512) && origin_allowed(a, origin)) {
		extra[k++] = "Access-Control-Allow-Methods: GET, HEAD, OPTIONS";
		extra[k++] = "Access-Control-Max-Age: 86400";
		if (want && header_safe(want, 256)) {
			snprintf(allow_headers, sizeof allow_headers,
				 "Access-Control-Allow-Headers: %s", want);
			extra[k++] = allow_headers;
		}
	}
	extra[k] = NULL;
	const char *hdr[API_MAX_HEADERS];
	char room[API_HEADER_ROOM];
	api_cors_headers(a, req, extra, hdr, room);
	lab_http_response r = { .status = 204, .content_type = "text/plain", .body = "", .len = 0,
				.cache_control = "no-cache", .headers = hdr };
	lab_http_respond(ctx, req, &r);
}

/* ---- JSON answers ----------------------------------------------------------- */

void api_json(struct api *a, lab_http_req *req, int status, const char *body, size_t len,
	      const char *cache_control)
{
	const char *hdr[API_MAX_HEADERS];
	char room[API_HEADER_ROOM];
	api_cors_headers(a, req, NULL, hdr, room);
	lab_http_response r = { .status = status, .content_type = "application/json",
				.body = body, .len = len, .cache_control = cache_control,
				.headers = hdr };
	int rc = lab_http_respond(a->ctx, req, &r);
	if (rc < 0)
		lab_logf(a->ctx, LAB_LOG_DEBUG, "cannot answer: %s", lab_strerror(rc));
}

void api_error(struct api *a, lab_http_req *req, int status, const char *msg)
{
	struct buf b = BUF_INIT;
	buf_printf(&b, "{\"error\":{\"code\":%d,\"message\":", status);
	buf_json_str(&b, msg, strlen(msg));
	buf_puts(&b, "}}");
	if (b.oom) {
		static const char oom[] = "{\"error\":{\"code\":503,\"message\":\"out of memory\"}}";
		api_json(a, req, 503, oom, sizeof oom - 1, "no-store");
	} else {
		api_json(a, req, status, b.data, b.len, "no-store");
	}
	buf_free(&b);
}

/* ---- life cycle ------------------------------------------------------------- */

static void register_metrics(struct api *a)
{
	lab_ctx *ctx = a->ctx;
	lab_metric_counter(ctx, "cache_requests_total",
			   "Document requests by cache result (hit, miss, coalesced).",
			   LAB_LABELS("result"), &a->m_cache);
	lab_metric_gauge(ctx, "cache_bytes", "Bytes held by the document cache.", NULL,
			 &a->m_bytes);
	lab_metric_counter(ctx, "storage_reads_total",
			   "Storage reads of the cache by result (ok, missing, error, stale).",
			   LAB_LABELS("result"), &a->m_reads);
	lab_metric_gauge(ctx, "live_clients", "Open live streams by kind (websocket, sse).",
			 LAB_LABELS("kind"), &a->m_clients);
	lab_metric_counter(ctx, "live_events_total", "Broker events forwarded to live clients.",
			   LAB_LABELS("topic"), &a->m_events);
}

static int read_origins(struct api *a)
{
	lab_ctx *ctx = a->ctx;
	int n = lab_cfg_count(ctx, NULL, "cors_origins");
	if (n < 0)
		return LAB_ECONFIG;
	a->any_origin = n == 0;
	if (n == 0)
		return 0;
	a->origins = calloc((size_t)n, sizeof *a->origins);
	if (!a->origins)
		return LAB_ENOMEM;
	for (int i = 0; i < n; i++) {
		const lab_cfg *e;
		const char *s;
		if (lab_cfg_elem(ctx, NULL, "cors_origins", i, &e) < 0 ||
		    lab_cfg_string(ctx, e, NULL, &s) < 0)
			return LAB_ECONFIG;
		if (strcmp(s, "*") == 0)
			a->any_origin = 1;
		else if (!header_safe(s, 512))
			return lab_cfg_error(ctx, NULL, "cors_origins",
					     "an origin is not one line of printable ASCII");
		if (!(a->origins[a->norigins++] = strdup(s)))
			return LAB_ENOMEM;
	}
	return 0;
}

static void api_free(struct api *a)
{
	for (size_t i = 0; i < a->norigins; i++)
		free(a->origins[i]);
	free(a->origins);
	cache_free(a->cache);
	live_ring_free(&a->ring);
	free(a);
}

static int api_configure(struct api *a)
{
	lab_ctx *ctx = a->ctx;
	int rc = lab_cfg_bind(ctx, NULL, a);
	if (rc < 0)
		return rc;
	/* "/" or "/seg/seg" with storage-key segments, no trailing '/' */
	size_t pl = strlen(a->prefix);
	if (a->prefix[0] != '/' ||
	    (pl > 1 && (a->prefix[pl - 1] == '/' || pl > 200 ||
			!key_segments_ok(a->prefix + 1, pl - 1, NULL) || strchr(a->prefix, '%'))))
		return lab_cfg_error(ctx, NULL, "prefix",
				     "must be \"/\" or \"/name[/name...]\" without a trailing '/'");
	a->prefix_len = pl == 1 ? 0 : pl;
	a->pfx = (struct api_prefixes){ a->beacon_prefix, a->timings_prefix,
					a->contributors_prefix };
	if ((rc = read_origins(a)) < 0)
		return rc;
#ifdef LAB_HAVE_STORAGE_GET_RAW
	a->raw_gzip = LAB_HAS(ctx, storage_get_raw); /* keep and send the stored gzip */
#endif
	a->cache = cache_new((size_t)a->cache_bytes);
	if (!a->cache || live_ring_init(&a->ring, (size_t)a->replay_events,
					(uint64_t)lab_now_ms(ctx)) < 0)
		return LAB_ENOMEM;
	return 0;
}

static int api_init(lab_ctx *ctx, void **self)
{
	struct api *a = calloc(1, sizeof *a);
	if (!a)
		return LAB_ENOMEM;
	a->ctx = ctx;
	int rc = api_configure(a);
	if (rc < 0) {
		api_free(a);
		return rc;
	}
	register_metrics(a);
	*self = a;
	return 0;
}

/* GET (and OPTIONS for the preflight) on one pattern.  Two settings may
 * name the same storage prefix: the route exists already, which is fine. */
static int route(struct api *a, const char *pattern, lab_http_cb cb)
{
	int rc = lab_http_route(a->ctx, "GET", pattern, cb, a, NULL);
	if (rc == 0 || rc == LAB_EEXIST)
		rc = lab_http_route(a->ctx, "OPTIONS", pattern, preflight_cb, a, NULL);
	if (rc < 0 && rc != LAB_EEXIST) {
		lab_logkv(a->ctx, LAB_LOG_ERROR, "cannot register the route",
			  LAB_FS("pattern", pattern), LAB_FS("error", lab_strerror(rc)));
		return rc;
	}
	return 0;
}

static int doc_route(struct api *a, const char *what, int prefix)
{
	char pattern[512];
	int n = snprintf(pattern, sizeof pattern, "%.*s/%s%s", (int)a->prefix_len, a->prefix, what,
			 prefix ? "/*" : "");
	if (n < 0 || (size_t)n >= sizeof pattern)
		return LAB_EINVAL;
	return route(a, pattern, api_docs_cb);
}

static int api_start(void *self)
{
	struct api *a = self;
	int rc = 0;
	if (!LAB_HAS(a->ctx, http_route)) {
		lab_logf(a->ctx, LAB_LOG_ERROR, "this labd has no HTTP services (SDK 1.4)");
		return LAB_ENOTSUP;
	}
	if (!rc) rc = doc_route(a, "config.json", 0);
	if (!rc) rc = doc_route(a, a->beacon_prefix, 1);
	if (!rc) rc = doc_route(a, "beacon_slots", 1);
	if (!rc) rc = doc_route(a, a->timings_prefix, 1);
	if (!rc) rc = doc_route(a, a->contributors_prefix, 1);
	if (!rc) rc = route(a, "/api/v1/networks", api_networks_cb);
	if (!rc) rc = route(a, "/api/v1/networks/*", api_network_cb);
	if (!rc) rc = route(a, "/api/v1/contributors/summary", api_contributors_cb);
	if (!rc) rc = route(a, "/api/v1/live", api_live_cb);
	if (!rc) rc = route(a, "/api/v1/events", api_events_cb);
	if (!rc) rc = api_live_start(a);
	if (!rc)
		lab_logkv(a->ctx, LAB_LOG_INFO, "api started", LAB_FS("prefix", a->prefix),
			  LAB_FI("cache_bytes", a->cache_bytes),
			  LAB_FS("gzip", a->raw_gzip ? "stored" : "decoded"));
	return rc;
}

static int api_stop(void *self)
{
	struct api *a = self;
	a->stopping = 1;
	/* the host answers our unanswered requests with 503 once stop returns */
	api_docs_stop(a);
	api_live_stop(a);
	return 0;
}

static void api_destroy(void *self)
{
	struct api *a = self;
	api_live_free(a);
	api_free(a);
}

LAB_PLUGIN_DEFINE(.name = "api", .version = "1.0.0",
		  .description = "Serves the documents over HTTP from a cache invalidated by broker "
				 "events, REST, and live updates over WebSocket and SSE",
		  .options = options, .init = api_init, .start = api_start, .stop = api_stop,
		  .destroy = api_destroy)
