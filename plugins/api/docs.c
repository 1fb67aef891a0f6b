/*
 * The documents (api.h): a request path is mapped to a storage key
 * (paths.c), answered from the cache (cache.c) or, on a miss, from ONE
 * storage read per key that every request arriving meanwhile waits on.
 * A fill that an event overtook (cache generation changed) is read again
 * before anyone is answered, so no reader sees replaced bytes once the
 * event has arrived.  A failed read answers 503 and keeps nothing.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "sha256.h"

/* A request waiting on a fill. */
struct waiter {
	lab_http_req *req;
	struct waiter *next;
	enum api_doc_kind kind;
	uint64_t slot;
	char network[API_SEG_MAX + 1];
};

/* One storage read in flight; the key is looked up again on completion. */
struct fill {
	struct api *a;
	uint64_t gen;
	enum api_doc_kind kind;
	char key[];
};

static int start_fill(struct api *a, struct cache_entry *e, enum api_doc_kind kind);

/* Is the slot close enough to the head to be rewritten (reprocess, late
 * blocks)?  Unknown networks count as head: a short max-age is the safe
 * side. */
static int near_head(struct api *a, const char *network, uint64_t slot)
{
	const lab_network *n = lab_network_find(a->ctx, network);
	if (!n)
		return 1;
	uint64_t head = lab_network_slot_at(a->ctx, n, lab_now(a->ctx));
	return slot + (uint64_t)a->head_slots >= head;
}

static const char *cache_control(struct api *a, enum api_doc_kind kind, const char *network,
				 uint64_t slot)
{
	switch (kind) {
	case API_DOC_CONFIG: return "public, max-age=60";
	case API_DOC_RECENT: return "public, max-age=1, s-maxage=1";
	case API_DOC_WINDOWED: return "public, max-age=600, s-maxage=600";
	case API_DOC_SLOT:
		return near_head(a, network, slot) ? "public, max-age=12, s-maxage=12"
						   : "public, max-age=86400, s-maxage=86400";
	}
	return "no-cache";
}

static void answer(struct api *a, lab_http_req *req, struct cache_entry *e,
		   enum api_doc_kind kind, const char *network, uint64_t slot)
{
	if (e->state == CE_MISSING) {
		api_error(a, req, 404, "no such document");
		return;
	}
	if (e->state != CE_READY) {
		api_error(a, req, 503, "storage unavailable");
		return;
	}
	const char *hdr[API_MAX_HEADERS];
	char room[API_HEADER_ROOM];
	api_cors_headers(a, req, NULL, hdr, room);
	lab_http_response r = { .status = 200, .content_type = "application/json",
				.body = e->data, .len = e->len,
				.flags = e->gzip ? LAB_HTTP_GZIP : 0, .etag = e->etag,
				.last_modified = e->last_modified,
				.cache_control = cache_control(a, kind, network, slot),
				.headers = hdr };
	int rc = lab_http_respond(a->ctx, req, &r);
	if (rc < 0)
		lab_logf(a->ctx, LAB_LOG_DEBUG, "cannot answer: %s", lab_strerror(rc));
}

static void count(struct api *a, lab_metric *m, const char *what)
{
	lab_metric_add(a->ctx, m, 1, LAB_LABELS(what));
}

/* Answer every waiter of e (in arrival order) with its current state. */
static void answer_waiters(struct api *a, struct cache_entry *e)
{
	struct waiter *w = e->waiters, *rev = NULL;
	e->waiters = NULL;
	while (w) { /* the list is newest first */
		struct waiter *n = w->next;
		w->next = rev;
		rev = w;
		w = n;
	}
	for (w = rev; w; w = rev) {
		rev = w->next;
		answer(a, w->req, e, w->kind, w->network, w->slot);
		free(w);
	}
}

static void fill_done(lab_ctx *ctx, int status, const void *data, size_t len, void *ud)
{
	struct fill *f = ud;
	struct api *a = f->a;
	struct cache_entry *e = cache_find(a->cache, f->key);
	if (!e || e->state != CE_FILLING) { /* cannot happen: filling entries are pinned */
		free(f);
		return;
	}
	int64_t mono = (int64_t)lab_monotonic_ms(ctx);
	int stored;
	if (status == 0) {
		unsigned char *copy = malloc(len ? len : 1);
		char hex[2 * SHA256_LEN + 1], etag[40];
		if (copy && sha256_hex(data, len, hex) == 0) {
			memcpy(copy, data, len);
			snprintf(etag, sizeof etag, "\"%.32s\"", hex);
			int64_t expires = f->kind == API_DOC_CONFIG ? mono + a->config_ttl * 1000 : 0;
			stored = cache_fill_done(a->cache, e, f->gen, CE_READY, copy, len, a->raw_gzip,
						 etag, lab_now(ctx), expires);
			count(a, a->m_reads, stored ? "ok" : "stale");
		} else {
			free(copy);
			stored = cache_fill_done(a->cache, e, f->gen, CE_EMPTY, NULL, 0, 0, NULL, 0, 0);
			count(a, a->m_reads, "error");
		}
	} else if (status == LAB_ENOENT) {
		stored = cache_fill_done(a->cache, e, f->gen, CE_MISSING, NULL, 0, 0, NULL, 0,
					 mono + a->missing_ttl * 1000);
		count(a, a->m_reads, stored ? "missing" : "stale");
	} else {
		stored = cache_fill_done(a->cache, e, f->gen, CE_EMPTY, NULL, 0, 0, NULL, 0, 0);
		count(a, a->m_reads, stored ? "error" : "stale");
		if (stored)
			lab_logkv(ctx, LAB_LOG_WARN, "storage read failed", LAB_FS("key", f->key),
				  LAB_FS("error", lab_strerror(status)));
	}
	enum api_doc_kind kind = f->kind;
	free(f);
	/* An event replaced the document while we read it: read it again
	 * rather than hand out what may be the old bytes. */
	if (!stored && e->waiters && !a->stopping && start_fill(a, e, kind) == 0)
		return;
	answer_waiters(a, e);
	cache_trim(a->cache);
	lab_metric_set(ctx, a->m_bytes, (double)a->cache->bytes, NULL);
}

#ifdef LAB_HAVE_STORAGE_GET_RAW
static int storage_read(struct api *a, const char *key, struct fill *f)
{
	if (a->raw_gzip)
		return lab_storage_get_raw(a->ctx, key, fill_done, f, NULL);
	return lab_storage_get(a->ctx, key, fill_done, f);
}
#else
static int storage_read(struct api *a, const char *key, struct fill *f)
{
	return lab_storage_get(a->ctx, key, fill_done, f);
}
#endif

static int start_fill(struct api *a, struct cache_entry *e, enum api_doc_kind kind)
{
	size_t kl = strlen(e->key);
	struct fill *f = malloc(sizeof *f + kl + 1);
	if (!f)
		return LAB_ENOMEM;
	f->a = a;
	f->kind = kind;
	memcpy(f->key, e->key, kl + 1);
	f->gen = cache_fill_begin(e);
	int rc = storage_read(a, e->key, f);
	if (rc < 0) {
		free(f);
		cache_fill_done(a->cache, e, e->gen, CE_EMPTY, NULL, 0, 0, NULL, 0, 0);
		lab_logkv(a->ctx, LAB_LOG_WARN, "cannot read from storage", LAB_FS("key", e->key),
			  LAB_FS("error", lab_strerror(rc)));
	}
	return rc;
}

void api_docs_serve(struct api *a, lab_http_req *req, const struct api_doc *doc)
{
	struct cache_entry *e = cache_get(a->cache, doc->key);
	if (!e) {
		api_error(a, req, 503, "out of memory");
		return;
	}
	int64_t mono = (int64_t)lab_monotonic_ms(a->ctx);
	if ((e->state == CE_READY || e->state == CE_MISSING) &&
	    (e->expires_ms == 0 || mono < e->expires_ms)) {
		count(a, a->m_cache, "hit");
		cache_touch(a->cache, e);
		answer(a, req, e, doc->kind, doc->network, doc->slot);
		return;
	}
	struct waiter *w = malloc(sizeof *w);
	if (!w) {
		api_error(a, req, 503, "out of memory");
		return;
	}
	w->req = req;
	w->kind = doc->kind;
	w->slot = doc->slot;
	memcpy(w->network, doc->network, sizeof w->network);
	w->next = e->waiters;
	e->waiters = w;
	if (e->state == CE_FILLING) {
		count(a, a->m_cache, "coalesced");
		return;
	}
	count(a, a->m_cache, "miss");
	if (start_fill(a, e, doc->kind) < 0)
		answer_waiters(a, e); /* 503: the entry is CE_EMPTY */
}

void api_docs_cb(lab_ctx *ctx, lab_http_req *req, void *ud)
{
	struct api *a = ud;
	const char *path = lab_http_path(req);
	struct api_doc doc;
	size_t n = strlen(path);
	(void)ctx;
	/* the route matched "PREFIX/..." */
	if (n <= a->prefix_len + 1 || memcmp(path, a->prefix, a->prefix_len) != 0 ||
	    path[a->prefix_len] != '/' ||
	    api_path_to_doc(&a->pfx, path + a->prefix_len + 1, n - a->prefix_len - 1, &doc) < 0) {
		api_error(a, req, 404, "no such document");
		return;
	}
	api_docs_serve(a, req, &doc);
}

/* stop: the host answers the requests a stopping plugin left with 503 and
 * frees them, so forget the waiters; fills that complete during the drain
 * then find nobody to answer. */
void api_docs_stop(struct api *a)
{
	if (!a->cache)
		return;
	for (struct cache_entry *e = a->cache->head; e; e = e->next) {
		for (struct waiter *w = e->waiters, *n; w; w = n) {
			n = w->next;
			free(w);
		}
		e->waiters = NULL;
	}
}
