/* The `nats` broker backend: nats.c (libnats) driven by the host's loop
 * through nats.c's libuv adapter.
 *
 * Threads.  With the adapter, nats.c reads and writes the socket from the
 * loop (uv_poll), but it still runs its own threads: one delivers each
 * subscription's messages (so message callbacks are NOT on the loop), one
 * reconnects, one runs the connection callbacks.  Everything those threads
 * hand to the host goes through `struct hand`: a mutex-protected, bounded
 * list of copied messages plus a uv_async_t that the loop drains into
 * broker_incoming().  The hand is reference counted (the loop's async
 * handle; the subscription until nats.c's on-complete callback says its
 * delivery thread is done; the connection until its closed callback, the
 * last one nats.c makes, possibly after natsConnection_Close returned), so
 * no nats.c thread ever touches freed memory.
 *
 * Subscriptions.  The front does all the matching, so the backend keeps at
 * most ONE server subscription, `PREFIX.>`, while the front has any: two
 * overlapping patterns must not bring the same message twice.
 *
 * Connecting.  The adapter must attach a connection for the first time on
 * the loop thread (natsLibuv_Attach returns NATS_ILLEGAL_STATE elsewhere),
 * so nats.c's retry-on-failed-connect cannot be used.  broker_open connects
 * synchronously: it runs before the loop turns.  If the server is down
 * then, the daemon still starts: a timer (backoff 1 s .. 30 s) probes the
 * server from the worker pool with a throwaway connection, and only once a
 * probe succeeds is the real connection made, on the loop.  Messages
 * published before the first connection are dropped and counted.  After
 * the first connection nats.c reconnects forever by itself, buffering up to
 * RECONNECT_BUF bytes of publishes, and resubscribes.
 */
#include "build_config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmissing-prototypes"
#pragma GCC diagnostic ignored "-Wunused-parameter"
#pragma GCC diagnostic ignored "-Wstrict-prototypes"
#include <nats/adapters/libuv.h>
#pragma GCC diagnostic pop

#include "broker_backend.h"
#include "log.h"

#define RECONNECT_WAIT_MS 2000
#define RECONNECT_BUF (8 << 20)
#define CONNECT_TIMEOUT_MS 2000
#define RETRY_MIN_MS 1000
#define RETRY_MAX_MS 30000
/* Bound of the thread -> loop handover (like the front's queue). */
#define HAND_MAX_MSGS 10000
#define HAND_MAX_BYTES (64u << 20)
#define ALL_MAX 200
#define CLOSE_TICK_MS 5
#define CLOSE_WAIT_MS 1000

extern const struct broker_backend broker_backend_nats;

enum { ST_CONNECTING, ST_CONNECTED, ST_RECONNECTING, ST_CLOSED };

struct in_msg {
	struct in_msg *next;
	size_t len;
	char *data;      /* inside this allocation, after subject */
	char subject[];
};

/* Shared between the loop and nats.c's threads; fields under `mu`. */
struct hand {
	uv_mutex_t mu;
	uv_async_t async;
	int refs;
	int closed; /* the loop no longer listens: drop everything */
	struct in_msg *head, *tail;
	size_t count, bytes;
	uint64_t overflow;   /* dropped: handover full */
	int status;          /* ST_* as reported by nats.c's callbacks */
	int status_changed;
	int conn_closed;     /* the connection closed for good */
	struct nats_be *be;  /* loop side only */
};

struct nats_be {
	struct broker *b;
	uv_loop_t *loop;
	struct hand *h;
	natsOptions *opts;
	natsConnection *nc;
	natsSubscription *sub; /* PREFIX.> while n_subs > 0 */
	size_t n_subs;
	char all[ALL_MAX];
	char *url;
	uv_timer_t retry;
	uv_work_t probe;
	int probing;
	int probe_ok;
	uint64_t backoff_ms;
	int closing;
	int retry_open; /* the timer handle is not closed yet */
	int last_status; /* as last logged */
	int drop_logged;
	uint64_t drop_log_ms, drops_unlogged;
	unsigned close_ticks;
};

/* ---- the handover ------------------------------------------------------- */

static void hand_unref(struct hand *h)
{
	uv_mutex_lock(&h->mu);
	int last = --h->refs == 0;
	uv_mutex_unlock(&h->mu);
	if (!last)
		return;
	struct in_msg *m = h->head;
	while (m) {
		struct in_msg *next = m->next;
		free(m);
		m = next;
	}
	uv_mutex_destroy(&h->mu);
	free(h);
}

/* nats.c's delivery thread. */
static void on_msg(natsConnection *nc, natsSubscription *sub, natsMsg *msg, void *closure)
{
	struct hand *h = closure;
	const char *subject = natsMsg_GetSubject(msg);
	const char *data = natsMsg_GetData(msg);
	int dlen = natsMsg_GetDataLength(msg);
	size_t len = dlen > 0 ? (size_t)dlen : 0;
	size_t slen = subject ? strlen(subject) : 0;
	struct in_msg *m = NULL;

	uv_mutex_lock(&h->mu);
	if (!h->closed && subject) {
		if (h->count >= HAND_MAX_MSGS || len > HAND_MAX_BYTES ||
		    h->bytes > HAND_MAX_BYTES - len ||
		    !(m = malloc(sizeof *m + slen + 1 + len + 1))) {
			h->overflow++;
		} else {
			m->next = NULL;
			m->len = len;
			memcpy(m->subject, subject, slen + 1);
			m->data = m->subject + slen + 1;
			if (len)
				memcpy(m->data, data, len);
			m->data[len] = '\0';
			if (h->tail)
				h->tail->next = m;
			else
				h->head = m;
			h->tail = m;
			h->count++;
			h->bytes += len;
		}
		uv_async_send(&h->async);
	}
	uv_mutex_unlock(&h->mu);
	natsMsg_Destroy(msg);
}

/* nats.c's delivery thread, after its last on_msg. */
static void on_sub_complete(void *closure) { hand_unref(closure); }

static void set_status(struct hand *h, int status, int closed)
{
	uv_mutex_lock(&h->mu);
	h->status = status;
	h->status_changed = 1;
	h->conn_closed |= closed;
	if (!h->closed)
		uv_async_send(&h->async);
	uv_mutex_unlock(&h->mu);
}

/* nats.c's callback thread. */
static void on_disconnected(natsConnection *nc, void *closure)
{
	set_status(closure, ST_RECONNECTING, 0);
}

static void on_reconnected(natsConnection *nc, void *closure)
{
	set_status(closure, ST_CONNECTED, 0);
}

/* The last callback nats.c makes for a connection: drops its reference. */
static void on_closed(natsConnection *nc, void *closure)
{
	set_status(closure, ST_CLOSED, 1);
	hand_unref(closure);
}

static void on_error(natsConnection *nc, natsSubscription *sub, natsStatus err, void *closure)
{
	/* log_kv is thread-safe. */
	log_kv(LAB_LOG_WARN, NULL, "nats: asynchronous error", LAB_FS("error", natsStatus_GetText(err)));
}

static void start_retry(struct nats_be *be);
static int subscribe_all(struct nats_be *be);

/* The loop: messages into the front, status changes into the log. */
static void on_async(uv_async_t *a)
{
	struct hand *h = a->data;
	struct nats_be *be = h->be;

	uv_mutex_lock(&h->mu);
	struct in_msg *m = h->head;
	uint64_t overflow = h->overflow;
	int status = h->status, changed = h->status_changed, conn_closed = h->conn_closed;
	h->head = h->tail = NULL;
	h->count = h->bytes = 0;
	h->overflow = 0;
	h->status_changed = 0;
	h->conn_closed = 0;
	uv_mutex_unlock(&h->mu);

	uint64_t dropped = overflow;
	while (m) {
		struct in_msg *next = m->next;
		if (!be->closing) {
			int rc = broker_incoming(be->b, m->subject, m->data, m->len);
			/* EINVAL: outside the prefix or not a labd subject: not ours. */
			if (rc == LAB_EBUSY || rc == LAB_ENOMEM)
				dropped++;
		}
		free(m);
		m = next;
	}
	if (dropped && !be->closing) {
		/* At most one warning a second, with the count since the last. */
		uint64_t now = uv_now(be->loop);
		be->drops_unlogged += dropped;
		if (!be->drop_logged || now - be->drop_log_ms >= 1000) {
			log_kv(LAB_LOG_WARN, NULL, "nats: received messages dropped (queue full)",
			       LAB_FI("dropped", be->drops_unlogged));
			be->drop_logged = 1;
			be->drop_log_ms = now;
			be->drops_unlogged = 0;
		}
	}
	if (changed && !be->closing && status != be->last_status) {
		be->last_status = status;
		if (status == ST_CONNECTED)
			log_msg(LAB_LOG_INFO, NULL, "nats: reconnected");
		else if (status == ST_RECONNECTING)
			log_msg(LAB_LOG_WARN, NULL,
				"nats: disconnected; reconnecting (publishes are buffered)");
	}
	if (conn_closed && !be->closing && be->nc) {
		/* Closed for good (nats.c gave up): start over. */
		log_msg(LAB_LOG_WARN, NULL, "nats: connection closed; connecting again");
		if (be->sub) {
			natsSubscription_Destroy(be->sub);
			be->sub = NULL;
		}
		natsConnection_Destroy(be->nc);
		be->nc = NULL;
		start_retry(be);
	}
}

/* ---- connecting ----------------------------------------------------------- */

/* On the loop thread only (the adapter's first attach). */
static natsStatus connect_now(struct nats_be *be)
{
	natsConnection *nc = NULL;
	natsStatus s = natsConnection_Connect(&nc, be->opts);
	if (s != NATS_OK)
		return s;
	be->nc = nc;
	uv_mutex_lock(&be->h->mu);
	be->h->refs++; /* the connection's callbacks' (a failed connect makes none) */
	be->h->status = ST_CONNECTED;
	uv_mutex_unlock(&be->h->mu);
	be->last_status = ST_CONNECTED;
	if (be->n_subs && subscribe_all(be) < 0)
		log_msg(LAB_LOG_ERROR, NULL, "nats: cannot subscribe after connecting");
	return NATS_OK;
}

/* Worker pool: can the server be reached?  A throwaway connection without
 * the event loop (its own threads), closed at once. */
static void probe_work(uv_work_t *w)
{
	struct nats_be *be = w->data;
	natsOptions *o = NULL;
	natsConnection *nc = NULL;
	be->probe_ok = 0;
	if (natsOptions_Create(&o) != NATS_OK)
		return;
	if (natsOptions_SetURL(o, be->url) == NATS_OK &&
	    natsOptions_SetTimeout(o, CONNECT_TIMEOUT_MS) == NATS_OK &&
	    natsOptions_SetAllowReconnect(o, false) == NATS_OK &&
	    natsConnection_Connect(&nc, o) == NATS_OK) {
		be->probe_ok = 1;
		natsConnection_Close(nc);
		natsConnection_Destroy(nc);
	}
	natsOptions_Destroy(o);
}

static void maybe_free(struct nats_be *be);

static void probe_done(uv_work_t *w, int status)
{
	struct nats_be *be = w->data;
	be->probing = 0;
	if (be->closing) {
		maybe_free(be);
		return;
	}
	if (status == 0 && be->probe_ok) {
		natsStatus s = connect_now(be);
		if (s == NATS_OK) {
			log_msg(LAB_LOG_INFO, NULL, "nats: connected");
			be->backoff_ms = RETRY_MIN_MS;
			return;
		}
		log_kv(LAB_LOG_WARN, NULL, "nats: cannot connect; retrying",
		       LAB_FS("error", natsStatus_GetText(s)));
	}
	start_retry(be);
}

static void retry_tick(uv_timer_t *t)
{
	struct nats_be *be = t->data;
	if (be->closing || be->probing || be->nc)
		return;
	be->probing = 1;
	be->probe.data = be;
	if (uv_queue_work(be->loop, &be->probe, probe_work, probe_done) != 0) {
		be->probing = 0;
		start_retry(be);
	}
}

static void start_retry(struct nats_be *be)
{
	uv_mutex_lock(&be->h->mu);
	be->h->status = ST_CONNECTING;
	uv_mutex_unlock(&be->h->mu);
	be->last_status = ST_CONNECTING;
	uv_timer_start(&be->retry, retry_tick, be->backoff_ms, 0);
	be->backoff_ms = be->backoff_ms * 2 > RETRY_MAX_MS ? RETRY_MAX_MS : be->backoff_ms * 2;
}

/* ---- subscriptions --------------------------------------------------------- */

static int subscribe_all(struct nats_be *be)
{
	natsSubscription *sub = NULL;
	if (be->sub || !be->nc)
		return 0;
	natsStatus s = natsConnection_Subscribe(&sub, be->nc, be->all, on_msg, be->h);
	if (s == NATS_OK) {
		/* From here the delivery thread holds a reference. */
		uv_mutex_lock(&be->h->mu);
		be->h->refs++;
		uv_mutex_unlock(&be->h->mu);
		s = natsSubscription_SetOnCompleteCB(sub, on_sub_complete, be->h);
		if (s != NATS_OK) {
			/* Never happens on a live subscription; keep the
			 * reference rather than risk a use after free. */
			log_kv(LAB_LOG_WARN, NULL, "nats: cannot watch the subscription",
			       LAB_FS("error", natsStatus_GetText(s)));
		}
		be->sub = sub;
		return 0;
	}
	log_kv(LAB_LOG_ERROR, NULL, "nats: subscribe failed", LAB_FS("subject", be->all),
	       LAB_FS("error", natsStatus_GetText(s)));
	return s == NATS_NO_MEMORY ? LAB_ENOMEM : LAB_EIO;
}

static int nats_subscribe(void *state, const char *wire_pattern, void **handle)
{
	struct nats_be *be = state;
	*handle = NULL;
	/* Before the first connection the subscription is made on connect. */
	int rc = subscribe_all(be);
	if (rc < 0)
		return rc;
	be->n_subs++;
	return 0;
}

static void nats_unsubscribe(void *state, void *handle)
{
	struct nats_be *be = state;
	if (be->n_subs == 0 || --be->n_subs > 0 || !be->sub)
		return;
	natsSubscription_Unsubscribe(be->sub);
	natsSubscription_Destroy(be->sub);
	be->sub = NULL;
}

/* ---- the backend ------------------------------------------------------------ */

static int nats_publish(void *state, const char *wire_subject, const void *data, size_t len)
{
	struct nats_be *be = state;
	if (!be->nc)
		return LAB_EUNAVAIL; /* never connected yet */
	if (len > INT32_MAX)
		return LAB_ERANGE;
	natsStatus s = natsConnection_Publish(be->nc, wire_subject, data, (int)len);
	switch (s) {
	case NATS_OK:
		return 0;
	case NATS_INSUFFICIENT_BUFFER: /* the reconnect buffer is full */
		return LAB_EBUSY;
	case NATS_NO_MEMORY:
		return LAB_ENOMEM;
	case NATS_MAX_PAYLOAD:
		return LAB_ERANGE;
	case NATS_CONNECTION_CLOSED:
		return LAB_EUNAVAIL;
	default:
		return LAB_EIO;
	}
}

static int nats_ready(void *state, const char **reason)
{
	struct nats_be *be = state;
	uv_mutex_lock(&be->h->mu);
	int status = be->h->status;
	uv_mutex_unlock(&be->h->mu);
	switch (status) {
	case ST_CONNECTED:
		return 0;
	case ST_RECONNECTING:
		*reason = "nats: reconnecting";
		return LAB_EUNAVAIL;
	case ST_CONNECTING:
		*reason = "nats: connecting";
		return LAB_EUNAVAIL;
	default:
		*reason = "nats: connection closed";
		return LAB_EUNAVAIL;
	}
}

static void maybe_free(struct nats_be *be)
{
	if (be->probing || be->retry_open)
		return;
	free(be->url);
	free(be);
}

static void retry_closed(uv_handle_t *hd)
{
	struct nats_be *be = hd->data;
	be->retry_open = 0;
	maybe_free(be);
}

static void async_closed(uv_handle_t *hd) { hand_unref(hd->data); }

static void close_finish(struct nats_be *be)
{
	if (be->nc) {
		natsConnection_Close(be->nc);
		natsConnection_Destroy(be->nc);
		be->nc = NULL;
	}
	natsOptions_Destroy(be->opts);
	be->opts = NULL;
	uv_close((uv_handle_t *)&be->h->async, async_closed);
	uv_close((uv_handle_t *)&be->retry, retry_closed);
}

/* Writes what nats.c still holds in its write buffer (on the loop: with the
 * adapter, nothing else would), 0 when it is empty. */
static int write_pending(struct nats_be *be)
{
	if (!be->nc || natsConnection_Status(be->nc) != NATS_CONN_STATUS_CONNECTED)
		return 0;
	natsConnection_ProcessWriteEvent(be->nc);
	return natsConnection_Buffered(be->nc) > 0;
}

static void close_tick(uv_timer_t *t)
{
	struct nats_be *be = t->data;
	if (write_pending(be) && ++be->close_ticks < CLOSE_WAIT_MS / CLOSE_TICK_MS)
		return;
	uv_timer_stop(t);
	close_finish(be);
}

/* natsConnection_Close would try to flush with a PING it cannot get the PONG
 * of (the loop is this thread), then drop the buffer: the host's last events
 * (lab.host.plugin "stopped") are written first, for up to CLOSE_WAIT_MS. */
static void nats_close(void *state)
{
	struct nats_be *be = state;
	struct hand *h = be->h;
	be->closing = 1;

	uv_mutex_lock(&h->mu);
	h->closed = 1;
	uv_mutex_unlock(&h->mu);

	uv_timer_stop(&be->retry);
	if (be->sub) {
		natsSubscription_Unsubscribe(be->sub);
		natsSubscription_Destroy(be->sub);
		be->sub = NULL;
	}
	if (!write_pending(be)) {
		close_finish(be);
		return;
	}
	uv_ref((uv_handle_t *)&be->retry);
	uv_timer_start(&be->retry, close_tick, CLOSE_TICK_MS, CLOSE_TICK_MS);
}

static int nats_open(struct broker *b, uv_loop_t *loop, const struct host_conf *hc, void **state)
{
	const char *url = hc && hc->nats_url && *hc->nats_url ? hc->nats_url : NATS_DEFAULT_URL;
	const char *prefix = hc && hc->subject_prefix ? hc->subject_prefix : "lab";
	struct nats_be *be = calloc(1, sizeof *be);
	struct hand *h = calloc(1, sizeof *h);
	natsStatus s;
	int n;

	if (!be || !h || !(be->url = strdup(url)))
		goto oom;
	n = *prefix ? snprintf(be->all, sizeof be->all, "%s.>", prefix)
		    : snprintf(be->all, sizeof be->all, ">");
	if (n < 0 || (size_t)n >= sizeof be->all) {
		log_kv(LAB_LOG_ERROR, NULL, "bad broker subject prefix", LAB_FS("prefix", prefix));
		free(be->url);
		free(be);
		free(h);
		return LAB_ECONFIG;
	}
	if (uv_mutex_init(&h->mu) != 0)
		goto oom;
	h->refs = 1; /* the loop's, released when the async handle is closed */
	h->status = ST_CONNECTING;
	h->be = be;
	be->h = h;
	be->b = b;
	be->loop = loop;
	be->backoff_ms = RETRY_MIN_MS;

	natsLibuv_Init();
	natsLibuv_SetThreadLocalLoop(loop);
	s = natsOptions_Create(&be->opts);
	if (s == NATS_OK)
		s = natsOptions_SetURL(be->opts, url);
	if (s == NATS_OK)
		s = natsOptions_SetName(be->opts, "labd");
	if (s == NATS_OK)
		s = natsOptions_SetTimeout(be->opts, CONNECT_TIMEOUT_MS);
	if (s == NATS_OK)
		s = natsOptions_SetMaxReconnect(be->opts, -1); /* forever */
	if (s == NATS_OK)
		s = natsOptions_SetReconnectWait(be->opts, RECONNECT_WAIT_MS);
	if (s == NATS_OK)
		s = natsOptions_SetReconnectBufSize(be->opts, RECONNECT_BUF);
	if (s == NATS_OK)
		s = natsOptions_SetDisconnectedCB(be->opts, on_disconnected, h);
	if (s == NATS_OK)
		s = natsOptions_SetReconnectedCB(be->opts, on_reconnected, h);
	if (s == NATS_OK)
		s = natsOptions_SetClosedCB(be->opts, on_closed, h);
	if (s == NATS_OK)
		s = natsOptions_SetErrorHandler(be->opts, on_error, h);
	if (s == NATS_OK)
		s = natsOptions_SetEventLoop(be->opts, loop, natsLibuv_Attach, natsLibuv_Read,
					     natsLibuv_Write, natsLibuv_Detach);
	if (s != NATS_OK) {
		/* A URL nats.c refuses, or out of memory. */
		log_kv(LAB_LOG_ERROR, NULL, "nats: bad options (check broker.nats.url)",
		       LAB_FS("error", natsStatus_GetText(s)));
		natsOptions_Destroy(be->opts);
		uv_mutex_destroy(&h->mu);
		free(h);
		free(be->url);
		free(be);
		return s == NATS_NO_MEMORY ? LAB_ENOMEM : LAB_ECONFIG;
	}
	uv_async_init(loop, &h->async, on_async);
	h->async.data = h;
	uv_timer_init(loop, &be->retry);
	be->retry.data = be;
	be->retry_open = 1;
	uv_unref((uv_handle_t *)&h->async);
	uv_unref((uv_handle_t *)&be->retry);

	/* Blocking, but broker_open runs before the loop turns. */
	s = connect_now(be);
	if (s == NATS_OK) {
		log_msg(LAB_LOG_INFO, NULL, "nats: connected");
	} else {
		log_kv(LAB_LOG_WARN, NULL, "nats: cannot connect; retrying in the background",
		       LAB_FS("error", natsStatus_GetText(s)));
		start_retry(be);
	}
	*state = be;
	return 0;
oom:
	if (be)
		free(be->url);
	free(be);
	free(h);
	return LAB_ENOMEM;
}

const struct broker_backend broker_backend_nats = {
	.name = "nats",
	.open = nats_open,
	.publish = nats_publish,
	.subscribe = nats_subscribe,
	.unsubscribe = nats_unsubscribe,
	.ready = nats_ready,
	.close = nats_close,
};
