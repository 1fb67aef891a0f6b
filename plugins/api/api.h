/* The api plugin: the instance shared by its files.
 *   api.c    settings, life cycle, routes, CORS and the JSON answers
 *   docs.c   documents from the cache, filled from storage (one read per key)
 *   rest.c   /api/v1/networks..., /api/v1/contributors/summary
 *   live.c   broker events: invalidation, WebSocket and SSE fan-out
 *   paths.c, cache.c, topics.c: the pure parts (unit-tested without a host) */
#ifndef LAB_API_API_H
#define LAB_API_API_H

/* Declares 1.1 (options): it loads on any 1.x host and tests LAB_HAS for the
 * HTTP services of 1.4 in start, refusing to start with a clear message. */
#define LAB_PLUGIN_MIN_ABI_MINOR 1
#include <lab/plugin.h>

#include "cache.h"
#include "paths.h"
#include "topics.h"

struct live_client;

struct api {
	lab_ctx *ctx;
	/* settings (lab_cfg_bind) */
	const char *prefix; /* URL prefix: "/" or "/lab-data" */
	int64_t cache_bytes;
	const char *beacon_prefix, *timings_prefix, *contributors_prefix;
	int64_t head_slots;    /* slots this close to the wallclock head may be rewritten */
	int64_t missing_ttl;   /* seconds a "not found" is remembered */
	int64_t config_ttl;    /* seconds config.json is kept (no event for it) */
	int64_t replay_events; /* SSE Last-Event-ID ring */
	int64_t max_event_bytes;
	int cors;
	/* derived */
	size_t prefix_len;      /* without a trailing '/' ("" for "/") */
	char **origins;         /* cors_origins; NULL = "*" */
	size_t norigins;
	int any_origin;
	struct api_prefixes pfx;
	struct cache *cache;
	int raw_gzip; /* the host hands out stored gzip bytes */
	struct live_ring ring;
	struct live_client *clients;
	size_t nclients;
	int stopping;
	/* metrics (NULL when unavailable) */
	lab_metric *m_cache;   /* lab_api_cache_requests_total{result} */
	lab_metric *m_bytes;   /* lab_api_cache_bytes */
	lab_metric *m_reads;   /* lab_api_storage_reads_total{result} */
	lab_metric *m_clients; /* lab_api_live_clients{kind} */
	lab_metric *m_events;  /* lab_api_live_events_total{topic_kind} */
};

/* api.c */
/* The CORS headers for this request, NULL-terminated, in `hdr` (room for
 * API_MAX_HEADERS) with their text in `room`; extra lines (may be NULL)
 * are appended first. */
#define API_MAX_HEADERS 8
#define API_HEADER_ROOM 1024
void api_cors_headers(struct api *a, lab_http_req *req, const char *const *extra,
		      const char **hdr, char *room);
/* Answers {"error":{"code":status,"message":msg}} with CORS. */
void api_error(struct api *a, lab_http_req *req, int status, const char *msg);
/* Answers a JSON body (not cached: Cache-Control as given). */
void api_json(struct api *a, lab_http_req *req, int status, const char *body, size_t len,
	      const char *cache_control);

/* docs.c */
void api_docs_cb(lab_ctx *ctx, lab_http_req *req, void *ud);
/* Serve a mapped document (REST routes reuse it). */
void api_docs_serve(struct api *a, lab_http_req *req, const struct api_doc *doc);
/* Answers every request still waiting on a fill (plugin stopping). */
void api_docs_stop(struct api *a);

/* rest.c */
void api_networks_cb(lab_ctx *ctx, lab_http_req *req, void *ud);
void api_network_cb(lab_ctx *ctx, lab_http_req *req, void *ud);
void api_contributors_cb(lab_ctx *ctx, lab_http_req *req, void *ud);

/* live.c */
int api_live_start(struct api *a);
void api_live_cb(lab_ctx *ctx, lab_http_req *req, void *ud);   /* WebSocket */
void api_events_cb(lab_ctx *ctx, lab_http_req *req, void *ud); /* SSE */
void api_live_stop(struct api *a);
void api_live_free(struct api *a);

#endif
