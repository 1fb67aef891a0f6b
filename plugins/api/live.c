/*
 * Broker events (api.h): each §8 event drops the cached document it names
 * (so the next request reads the new bytes) and goes out at once to every
 * live client subscribed to its topic, as
 *     {"topic":"slots:mainnet","subject":"beacon.slot","data":{...}}
 * over WebSocket (GET /api/v1/live, subscribe by message) and SSE (GET
 * /api/v1/events?topics=..., with ids and Last-Event-ID replay from a
 * bounded ring).  Heartbeats, send buffers, frame limits: the host's.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "buf.h"
#include "message.h"

struct live_client {
	struct api *a;
	lab_stream *s;
	int kind; /* LAB_STREAM_SSE, LAB_STREAM_WEBSOCKET */
	int dead; /* the host is closing it: send nothing more */
	struct live_client *prev, *next;
	struct topic_pack sub; /* what it subscribed to */
};

static const char *kind_name(int kind) { return kind == LAB_STREAM_SSE ? "sse" : "websocket"; }

static const char *const subjects[] = { "beacon.slot", "beacon.locally_built_blocks",
					"timings.updated", "contributors.updated",
					"host.plugin" };

static const char *get_str(json_object *o, const char *k)
{
	json_object *v;
	if (!json_object_is_type(o, json_type_object) || !json_object_object_get_ex(o, k, &v) ||
	    !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

/* Drop the document the event names.  The key is untrusted, but it is
 * only looked up in the cache, never read from storage. */
static void invalidate(struct api *a, const char *subject, json_object *o)
{
	const char *key = get_str(o, "key");
	if (key) {
		if (cache_invalidate(a->cache, key))
			lab_metric_set(a->ctx, a->m_bytes, (double)a->cache->bytes, NULL);
		return;
	}
	/* beacon.slot without "key": derive it */
	json_object *slot;
	const char *net = get_str(o, "network");
	if (strcmp(subject, "beacon.slot") == 0 && net &&
	    json_object_object_get_ex(o, "slot", &slot) &&
	    json_object_is_type(slot, json_type_int)) {
		char num[24];
		struct api_doc doc;
		int n = snprintf(num, sizeof num, "%" PRId64, json_object_get_int64(slot));
		if (api_slot_doc(&a->pfx, net, strlen(net), num, (size_t)n, &doc) == 0 &&
		    cache_invalidate(a->cache, doc.key))
			lab_metric_set(a->ctx, a->m_bytes, (double)a->cache->bytes, NULL);
	}
}

/* The SSE id is the ring's number, formatted by the caller once per event
 * (a fan-out to thousands of streams would format it once per stream). */
static void send_msg(struct live_client *c, const struct live_msg *m, const char *id)
{
	int rc = lab_stream_send(c->a->ctx, c->s, NULL, c->kind == LAB_STREAM_SSE ? id : NULL,
				 m->json, m->len);
	if (rc < 0)
		c->dead = 1; /* slow client (LAB_EBUSY): the host closes it */
}

static void on_event(lab_ctx *ctx, const char *subject, const void *data, size_t len, void *ud)
{
	struct api *a = ud;
	json_object *o = api_json_parse(data, len);
	if (!o) {
		lab_logkv(ctx, LAB_LOG_DEBUG, "event is not JSON; ignored", LAB_FS("subject", subject));
		return;
	}
	invalidate(a, subject, o);
	struct topic t;
	if (topic_of_subject(subject, get_str(o, "network"), &t) < 0 ||
	    len > (size_t)a->max_event_bytes) {
		json_object_put(o);
		return;
	}
	char name[TOPIC_TEXT_MAX];
	topic_name(&t, name);
	struct buf b = BUF_INIT;
	buf_puts(&b, "{\"topic\":");
	buf_json_str(&b, name, strlen(name));
	buf_puts(&b, ",\"subject\":");
	buf_json_str(&b, subject, strlen(subject));
	buf_puts(&b, ",\"data\":");
	/* re-serialized plain: one line (SSE data), nothing but valid JSON */
	buf_puts(&b, json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
						       JSON_C_TO_STRING_NOSLASHESCAPE));
	buf_putc(&b, '}');
	json_object_put(o);
	const struct live_msg *m = b.oom ? NULL : live_ring_push(&a->ring, &t, b.data, b.len);
	buf_free(&b);
	if (!m)
		return;
	lab_metric_add(ctx, a->m_events, 1, LAB_LABELS(t.kind == TOPIC_SLOTS ? "slots" : name));
	char id[24];
	snprintf(id, sizeof id, "%" PRIu64, m->id);
	for (struct live_client *c = a->clients; c; c = c->next)
		if (!c->dead && topic_pack_match(&c->sub, &t))
			send_msg(c, m, id);
}

int api_live_start(struct api *a)
{
	for (size_t i = 0; i < sizeof subjects / sizeof subjects[0]; i++) {
		int rc = lab_subscribe(a->ctx, subjects[i], on_event, a, NULL);
		if (rc < 0) {
			lab_logkv(a->ctx, LAB_LOG_ERROR, "cannot subscribe",
				  LAB_FS("subject", subjects[i]), LAB_FS("error", lab_strerror(rc)));
			return rc;
		}
	}
	return 0;
}

/* ---- clients ------------------------------------------------------------- */

static struct live_client *client_new(struct api *a, int kind)
{
	struct live_client *c = calloc(1, sizeof *c);
	if (c) {
		c->a = a;
		c->kind = kind;
	}
	return c;
}

static void client_link(struct live_client *c)
{
	struct api *a = c->a;
	c->next = a->clients;
	if (a->clients)
		a->clients->prev = c;
	a->clients = c;
	a->nclients++;
	lab_metric_add(a->ctx, a->m_clients, 1, LAB_LABELS(kind_name(c->kind)));
}

static void client_unlink(struct live_client *c)
{
	struct api *a = c->a;
	if (c->prev)
		c->prev->next = c->next;
	else
		a->clients = c->next;
	if (c->next)
		c->next->prev = c->prev;
	a->nclients--;
	lab_metric_add(a->ctx, a->m_clients, -1, LAB_LABELS(kind_name(c->kind)));
}

static void on_close(lab_ctx *ctx, lab_stream *s, int reason, void *ud)
{
	struct live_client *c = ud;
	(void)ctx;
	(void)s;
	(void)reason;
	client_unlink(c);
	topic_pack_free(&c->sub);
	free(c);
}

/* {"subscribed":[...]} — the acknowledgement of every (un)subscription. */
static void send_subscribed(struct live_client *c, const struct topic_set *set)
{
	struct buf b = BUF_INIT;
	buf_puts(&b, "{\"subscribed\":");
	topic_set_json(set, &b);
	buf_putc(&b, '}');
	if (!b.oom && lab_stream_send(c->a->ctx, c->s, "subscribed", NULL, b.data, b.len) < 0)
		c->dead = 1;
	buf_free(&b);
}

static void send_error(struct live_client *c, const char *what, const char *detail)
{
	struct buf b = BUF_INIT;
	char msg[256];
	snprintf(msg, sizeof msg, "%s%s%s", what, detail ? ": " : "", detail ? detail : "");
	buf_puts(&b, "{\"error\":{\"code\":400,\"message\":");
	buf_json_str(&b, msg, strlen(msg));
	buf_puts(&b, "}}");
	if (!b.oom && lab_stream_send(c->a->ctx, c->s, "error", NULL, b.data, b.len) < 0)
		c->dead = 1;
	buf_free(&b);
}

/*
 * A WebSocket message: {"subscribe":[topics]} and/or {"unsubscribe":[topics]}.
 * Not JSON: close 1003 (unsupported data).  JSON of another shape: close
 * 1008 (policy violation).  An invalid topic: an error message, nothing
 * changes.  (Frames, sizes and UTF-8 are the host's: 1002, 1009.)
 */
static void on_ws_msg(lab_ctx *ctx, lab_stream *s, const void *data, size_t len, void *ud)
{
	struct live_client *c = ud;
	char bad[TOPIC_TEXT_MAX];
	struct topic_set set;
	if (c->dead)
		return;
	topic_pack_get(&c->sub, &set);
	switch (api_client_msg(data, len, &set, bad)) {
	case CLIENT_MSG_OK:
		if (topic_pack_set(&c->sub, &set) < 0) {
			c->dead = 1;
			lab_stream_close(ctx, s, 1011);
			break;
		}
		send_subscribed(c, &set);
		break;
	case CLIENT_MSG_BAD_TOPIC:
		send_error(c, "invalid topic (or more than 16 networks)", bad);
		break;
	case CLIENT_MSG_NOT_JSON:
		c->dead = 1;
		lab_stream_close(ctx, s, 1003);
		break;
	case CLIENT_MSG_BAD_SHAPE:
		c->dead = 1;
		lab_stream_close(ctx, s, 1008);
		break;
	}
}

void api_live_cb(lab_ctx *ctx, lab_http_req *req, void *ud)
{
	struct api *a = ud;
	struct live_client *c = client_new(a, LAB_STREAM_WEBSOCKET);
	const char *hdr[API_MAX_HEADERS];
	char room[API_HEADER_ROOM];
	if (!c) {
		api_error(a, req, 503, "out of memory");
		return;
	}
	api_cors_headers(a, req, NULL, hdr, room);
	/* on failure the host has answered (400 not an upgrade, 429/503 limits) */
	int rc = lab_stream_open(ctx, req, LAB_STREAM_WEBSOCKET, hdr, on_ws_msg, on_close, c, &c->s);
	if (rc < 0) {
		free(c);
		return;
	}
	client_link(c);
}

/* The replay for Last-Event-ID: every held message after it that matches. */
static void replay(struct live_client *c, const char *last)
{
	uint64_t after;
	if (!last || !api_parse_u64(last, strlen(last), &after))
		return;
	const struct live_msg *m;
	for (size_t i = 0; !c->dead && (m = live_ring_after(&c->a->ring, after, i)); i++)
		if (topic_pack_match(&c->sub, &m->topic)) {
			char id[24];
			snprintf(id, sizeof id, "%" PRIu64, m->id);
			send_msg(c, m, id);
		}
}

void api_events_cb(lab_ctx *ctx, lab_http_req *req, void *ud)
{
	struct api *a = ud;
	const char *topics = lab_http_query(req, "topics");
	struct topic_set set = { 0 };
	char bad[TOPIC_TEXT_MAX], msg[TOPIC_TEXT_MAX + 64];
	if (!topics || !*topics) {
		api_error(a, req, 400, "topics required, e.g. ?topics=slots:mainnet,timings or ?topics=*");
		return;
	}
	if (strlen(topics) > 4096 || topic_set_parse_list(&set, topics, bad) < 0) {
		snprintf(msg, sizeof msg, "invalid topic (or more than 16 networks): %s",
			 strlen(topics) > 4096 ? "(list too long)" : bad);
		api_error(a, req, 400, msg);
		return;
	}
	struct live_client *c = client_new(a, LAB_STREAM_SSE);
	const char *hdr[API_MAX_HEADERS];
	char room[API_HEADER_ROOM];
	if (!c) {
		api_error(a, req, 503, "out of memory");
		return;
	}
	if (topic_pack_set(&c->sub, &set) < 0) {
		free(c);
		api_error(a, req, 503, "out of memory");
		return;
	}
	/* the host sends X-Accel-Buffering: no with every SSE stream itself */
	api_cors_headers(a, req, NULL, hdr, room);
	int rc = lab_stream_open(ctx, req, LAB_STREAM_SSE, hdr, NULL, on_close, c, &c->s);
	if (rc < 0) {
		topic_pack_free(&c->sub);
		free(c);
		return;
	}
	client_link(c);
	send_subscribed(c, &set);
	const char *last = lab_http_header(req, "Last-Event-ID");
	replay(c, last ? last : lab_http_query(req, "last_event_id"));
}

/* stop: the host closes the streams (on_close, reason LAB_ECANCELED). */
void api_live_stop(struct api *a) { (void)a; }

/* destroy: whatever the host did not close is freed without a callback. */
void api_live_free(struct api *a)
{
	for (struct live_client *c = a->clients, *n; c; c = n) {
		n = c->next;
		topic_pack_free(&c->sub);
		free(c);
	}
	a->clients = NULL;
}
