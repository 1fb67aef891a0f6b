/* The `nats` broker backend: nats.c (libnats) in its own threads; the loop
 * thread never calls into nats.c.
 *
 * Why.  Every nats.c call on a connection takes the connection's lock, and
 * nats.c's own threads hold that lock while they wait on the network (a
 * server that accepts the connection but never answers kept the reconnect
 * thread in recv() while the loop waited for the lock in a publish: admin
 * requests, timers and signals all stopped).  So:
 *
 *  - one publisher thread owned by this backend makes every call that
 *    takes the lock: connect, publish, subscribe, unsubscribe, flush, close.
 *    The loop hands it operations through a bounded queue (`struct op`);
 *    a full queue drops the publish (LAB_EBUSY: the front counts it);
 *  - nats.c runs without an event-loop adapter: its reader, flusher and
 *    reconnect threads do the socket I/O with deadlines;
 *  - messages nats.c's delivery thread receives, and connection status
 *    changes, come back through `struct hand`: a mutex-protected, bounded
 *    list of copied messages plus a uv_async_t that the loop drains into
 *    broker_incoming().  The hand is reference counted (the loop's async
 *    handle; the subscription until nats.c's on-complete callback; the
 *    connection until its closed callback), so no nats.c thread touches
 *    freed memory.
 *
 * Connecting.  The publisher thread connects with nats.c's retry on a
 * failed connect, so a server that is down at start-up is connected to in
 * the background (forever, RECONNECT_WAIT_MS apart) and every later loss
 * reconnects by itself.  Operations queued before the first connection are
 * kept in order: the host's first events (lab.host.plugin loaded/started)
 * are published once the connection is up, to subscribers that were there
 * first.  nats.c buffers up to RECONNECT_BUF bytes of publishes while
 * disconnected.
 *
 * Closing.  The thread publishes what is queued, flushes (PING/PONG, at
 * most CLOSE_WAIT_MS), closes and tells the loop.  If the server stalls
 * even that, the loop gives up after CLOSE_GIVE_UP_MS and leaves the thread
 * behind (the process is exiting; a second signal exits at once anyway).
 *
 * Subscriptions.  The front does all the matching, so the backend keeps at
 * most ONE server subscription, `PREFIX.>`, while the front has any: two
 * overlapping patterns must not bring the same message twice.
 */
#include "build_config.h"

#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wstrict-prototypes"
#include <nats/nats.h>
#pragma GCC diagnostic pop

#include "broker_backend.h"
#include "log.h"

#define RECONNECT_WAIT_MS 2000
#define RECONNECT_BUF (8 << 20)
#define CONNECT_TIMEOUT_MS 2000
/* Bound of the thread -> loop handover (like the front's queue). */
#define HAND_MAX_MSGS 10000
#define HAND_MAX_BYTES (64u << 20)
/* Bound of the loop -> publisher thread queue. */
#define PUB_MAX_MSGS 10000
#define PUB_MAX_BYTES (64u << 20)
#define ALL_MAX 200
#define CLOSE_WAIT_MS 1000
#define CLOSE_GIVE_UP_MS 3000

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

/* An operation for the publisher thread. */
enum op_kind { OP_PUB, OP_SUB, OP_UNSUB };
struct op {
	struct op *next;
	enum op_kind kind;
	size_t len;
	char *data;      /* inside this allocation, after subject */
	char subject[];
};

struct nats_be {
	struct broker *b;
	uv_loop_t *loop;
	struct hand *h;
	char all[ALL_MAX];
	size_t n_subs;   /* the front's subscriptions (loop side) */
	int last_status; /* as last logged (loop side) */
	int drop_logged;
	uint64_t drop_log_ms, drops_unlogged;

	/* The publisher thread and its queue (fields under qmu). */
	uv_thread_t thread;
	uv_mutex_t qmu;
	uv_cond_t qcond;
	struct op *qhead, *qtail;
	size_t qcount, qbytes;
	int stop;                /* publish what is queued, flush, close, exit */
	int given_up;            /* the loop stopped waiting for the thread */
	/* Owned by the thread. */
	natsOptions *opts;
	natsConnection *nc;
	natsSubscription *sub;   /* PREFIX.> while subscribed */
	atomic_uint_fast64_t pub_failed; /* publishes nats.c refused (logged by the loop) */

	/* Closing (loop side). */
	uv_async_t done;         /* the thread has finished */
	uv_timer_t give_up;
	int handles;             /* open loop handles of the closing backend */
	int thread_done;
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

static void on_connected(natsConnection *nc, void *closure)
{
	set_status(closure, ST_CONNECTED, 0);
}

/* At most one warning a second, with the count since the last. */
static void log_drops(struct nats_be *be, uint64_t n, const char *what)
{
	uint64_t now = uv_now(be->loop);
	be->drops_unlogged += n;
	if (be->drop_logged && now - be->drop_log_ms < 1000)
		return;
	log_kv(LAB_LOG_WARN, NULL, what, LAB_FI("dropped", be->drops_unlogged));
	be->drop_logged = 1;
	be->drop_log_ms = now;
	be->drops_unlogged = 0;
}

/* The loop: messages into the front, status changes into the log. */
static void on_async(uv_async_t *a)
{
	struct hand *h = a->data;
	struct nats_be *be = h->be;

	uv_mutex_lock(&h->mu);
	struct in_msg *m = h->head;
	uint64_t overflow = h->overflow;
	int status = h->status, changed = h->status_changed, closing = h->closed;
	h->head = h->tail = NULL;
	h->count = h->bytes = 0;
	h->overflow = 0;
	h->status_changed = 0;
	h->conn_closed = 0;
	uv_mutex_unlock(&h->mu);

	uint64_t dropped = overflow;
	while (m) {
		struct in_msg *next = m->next;
		if (!closing) {
			int rc = broker_incoming(be->b, m->subject, m->data, m->len);
			/* EINVAL: outside the prefix or not a labd subject: not ours. */
			if (rc == LAB_EBUSY || rc == LAB_ENOMEM)
				dropped++;
		}
		free(m);
		m = next;
	}
	if (dropped && !closing)
		log_drops(be, dropped, "nats: received messages dropped (queue full)");
	if (changed && !closing && status != be->last_status) {
		int first = be->last_status == ST_CONNECTING;
		be->last_status = status;
		if (status == ST_CONNECTED)
			log_msg(LAB_LOG_INFO, NULL, first ? "nats: connected" : "nats: reconnected");
		else if (status == ST_RECONNECTING)
			log_msg(LAB_LOG_WARN, NULL,
				"nats: disconnected; reconnecting (publishes are buffered)");
		else if (status == ST_CLOSED)
			log_msg(LAB_LOG_ERROR, NULL, "nats: connection closed");
	}
}

/* ---- the publisher thread ------------------------------------------------- */

static natsStatus thread_subscribe(struct nats_be *be)
{
	natsSubscription *sub = NULL;
	if (be->sub || !be->nc)
		return NATS_OK;
	natsStatus s = natsConnection_Subscribe(&sub, be->nc, be->all, on_msg, be->h);
	if (s != NATS_OK)
		return s;
	/* From here the delivery thread holds a reference. */
	uv_mutex_lock(&be->h->mu);
	be->h->refs++;
	uv_mutex_unlock(&be->h->mu);
	if (natsSubscription_SetOnCompleteCB(sub, on_sub_complete, be->h) != NATS_OK)
		log_msg(LAB_LOG_WARN, NULL, "nats: cannot watch the subscription");
	be->sub = sub;
	return NATS_OK;
}

static void thread_unsubscribe(struct nats_be *be)
{
	if (!be->sub)
		return;
	natsSubscription_Unsubscribe(be->sub);
	natsSubscription_Destroy(be->sub);
	be->sub = NULL;
}

static void run_op(struct nats_be *be, struct op *o)
{
	natsStatus s = NATS_OK;
	switch (o->kind) {
	case OP_PUB:
		if (!be->nc)
			s = NATS_CONNECTION_CLOSED;
		else
			s = natsConnection_Publish(be->nc, o->subject, o->data, (int)o->len);
		if (s != NATS_OK) /* logged by the loop at its next publish */
			atomic_fetch_add(&be->pub_failed, 1);
		break;
	case OP_SUB:
		s = thread_subscribe(be);
		if (s != NATS_OK)
			log_kv(LAB_LOG_ERROR, NULL, "nats: subscribe failed", LAB_FS("subject", be->all),
			       LAB_FS("error", natsStatus_GetText(s)));
		break;
	case OP_UNSUB:
		thread_unsubscribe(be);
		break;
	}
}

static void thread_connect(struct nats_be *be)
{
	natsConnection *nc = NULL;
	/* The connection's callbacks hold a reference from here (released by
	 * on_closed, the last one nats.c makes). */
	uv_mutex_lock(&be->h->mu);
	be->h->refs++;
	uv_mutex_unlock(&be->h->mu);
	natsStatus s = natsConnection_Connect(&nc, be->opts);
	if (s == NATS_OK) {
		set_status(be->h, ST_CONNECTED, 0);
	} else if (s == NATS_NOT_YET_CONNECTED) {
		log_kv(LAB_LOG_WARN, NULL, "nats: cannot connect; retrying in the background",
		       LAB_FS("error", natsStatus_GetText(s)));
	} else {
		/* Only for options nats.c refuses late, or memory: no callbacks. */
		log_kv(LAB_LOG_ERROR, NULL, "nats: cannot connect",
		       LAB_FS("error", natsStatus_GetText(s)));
		nc = NULL;
		set_status(be->h, ST_CLOSED, 0);
		hand_unref(be->h);
	}
	be->nc = nc;
}

static void thread_close(struct nats_be *be)
{
	if (be->nc) {
		if (natsConnection_Status(be->nc) == NATS_CONN_STATUS_CONNECTED)
			natsConnection_FlushTimeout(be->nc, CLOSE_WAIT_MS);
		thread_unsubscribe(be);
		natsConnection_Close(be->nc);
		natsConnection_Destroy(be->nc);
		be->nc = NULL;
	}
	natsOptions_Destroy(be->opts);
	be->opts = NULL;
}

static void publisher(void *arg)
{
	struct nats_be *be = arg;
	thread_connect(be);
	uv_mutex_lock(&be->qmu);
	for (;;) {
		while (!be->qhead && !be->stop)
			uv_cond_wait(&be->qcond, &be->qmu);
		struct op *o = be->qhead;
		if (!o)
			break; /* stop, and nothing left */
		be->qhead = o->next;
		if (!be->qhead)
			be->qtail = NULL;
		be->qcount--;
		be->qbytes -= o->len;
		uv_mutex_unlock(&be->qmu);
		run_op(be, o);
		free(o);
		uv_mutex_lock(&be->qmu);
	}
	uv_mutex_unlock(&be->qmu);
	thread_close(be);
	uv_mutex_lock(&be->qmu);
	if (!be->given_up) /* else the loop has closed `done` */
		uv_async_send(&be->done);
	uv_mutex_unlock(&be->qmu);
}

/* Loop side: queue an operation.  Publishes beyond the bound are refused;
 * subscribe/unsubscribe never are (they are rare and tiny). */
static int enqueue(struct nats_be *be, enum op_kind kind, const char *subject, const void *data,
		   size_t len)
{
	size_t slen = strlen(subject);
	uv_mutex_lock(&be->qmu);
	if (kind == OP_PUB && (be->qcount >= PUB_MAX_MSGS || len > PUB_MAX_BYTES ||
			       be->qbytes > PUB_MAX_BYTES - len)) {
		uv_mutex_unlock(&be->qmu);
		return LAB_EBUSY;
	}
	uv_mutex_unlock(&be->qmu);
	struct op *o = malloc(sizeof *o + slen + 1 + len + 1);
	if (!o)
		return LAB_ENOMEM;
	o->next = NULL;
	o->kind = kind;
	o->len = len;
	memcpy(o->subject, subject, slen + 1);
	o->data = o->subject + slen + 1;
	if (len)
		memcpy(o->data, data, len);
	o->data[len] = '\0';
	uv_mutex_lock(&be->qmu);
	if (be->qtail)
		be->qtail->next = o;
	else
		be->qhead = o;
	be->qtail = o;
	be->qcount++;
	be->qbytes += len;
	uv_cond_signal(&be->qcond);
	uv_mutex_unlock(&be->qmu);
	return 0;
}

/* ---- the backend ------------------------------------------------------------ */

static int nats_subscribe(void *state, const char *wire_pattern, void **handle)
{
	struct nats_be *be = state;
	*handle = NULL;
	if (be->n_subs == 0) {
		int rc = enqueue(be, OP_SUB, be->all, NULL, 0);
		if (rc < 0)
			return rc;
	}
	be->n_subs++;
	return 0;
}

static void nats_unsubscribe(void *state, void *handle)
{
	struct nats_be *be = state;
	if (be->n_subs == 0 || --be->n_subs > 0)
		return;
	if (enqueue(be, OP_UNSUB, be->all, NULL, 0) < 0)
		log_msg(LAB_LOG_WARN, NULL, "nats: out of memory; the server subscription stays");
}

static int nats_publish(void *state, const char *wire_subject, const void *data, size_t len)
{
	struct nats_be *be = state;
	uint64_t failed = atomic_exchange(&be->pub_failed, 0);
	if (failed)
		log_drops(be, failed, "nats: publishes refused by nats.c (reconnect buffer full?)");
	if (len > INT32_MAX)
		return LAB_ERANGE;
	return enqueue(be, OP_PUB, wire_subject, data, len);
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

static void be_free(struct nats_be *be)
{
	struct op *o = be->qhead;
	while (o) {
		struct op *next = o->next;
		free(o);
		o = next;
	}
	uv_cond_destroy(&be->qcond);
	uv_mutex_destroy(&be->qmu);
	free(be);
}

static void closed_cb(uv_handle_t *hd)
{
	struct nats_be *be = hd->data;
	if (--be->handles > 0)
		return;
	if (be->thread_done)
		be_free(be);
	/* else: the thread was left behind and may still use `be`. */
}

static void async_closed(uv_handle_t *hd) { hand_unref(hd->data); }

static void close_handles(struct nats_be *be)
{
	uv_close((uv_handle_t *)&be->h->async, async_closed);
	uv_close((uv_handle_t *)&be->done, closed_cb);
	uv_close((uv_handle_t *)&be->give_up, closed_cb);
}

static void on_done(uv_async_t *a)
{
	struct nats_be *be = a->data;
	if (be->thread_done || uv_is_closing((uv_handle_t *)&be->done))
		return;
	be->thread_done = 1;
	uv_thread_join(&be->thread); /* it has returned: no wait */
	uv_timer_stop(&be->give_up);
	close_handles(be);
}

static void on_give_up(uv_timer_t *t)
{
	struct nats_be *be = t->data;
	log_msg(LAB_LOG_WARN, NULL,
		"nats: the server does not answer; exiting without flushing the last messages");
	uv_mutex_lock(&be->qmu);
	be->given_up = 1; /* the thread keeps `be` (never freed) but not the loop */
	uv_mutex_unlock(&be->qmu);
	close_handles(be);
}

/* The thread publishes what is queued (the host's last events), flushes and
 * closes; the loop waits for it without blocking, CLOSE_GIVE_UP_MS at most. */
static void nats_close(void *state)
{
	struct nats_be *be = state;
	struct hand *h = be->h;

	uv_mutex_lock(&h->mu);
	h->closed = 1;
	uv_mutex_unlock(&h->mu);

	uv_mutex_lock(&be->qmu);
	be->stop = 1;
	uv_cond_signal(&be->qcond);
	uv_mutex_unlock(&be->qmu);
	uv_ref((uv_handle_t *)&be->done);
	uv_timer_start(&be->give_up, on_give_up, CLOSE_GIVE_UP_MS, 0);
}

static int nats_open(struct broker *b, uv_loop_t *loop, const struct host_conf *hc, void **state)
{
	const char *url = hc && hc->nats_url && *hc->nats_url ? hc->nats_url : NATS_DEFAULT_URL;
	const char *prefix = hc && hc->subject_prefix ? hc->subject_prefix : "lab";
	struct nats_be *be = calloc(1, sizeof *be);
	struct hand *h = calloc(1, sizeof *h);
	natsOptions *o = NULL;
	natsStatus s;
	int n;

	if (!be || !h) {
		free(be);
		free(h);
		return LAB_ENOMEM;
	}
	n = *prefix ? snprintf(be->all, sizeof be->all, "%s.>", prefix)
		    : snprintf(be->all, sizeof be->all, ">");
	if (n < 0 || (size_t)n >= sizeof be->all) {
		log_kv(LAB_LOG_ERROR, NULL, "bad broker subject prefix", LAB_FS("prefix", prefix));
		free(be);
		free(h);
		return LAB_ECONFIG;
	}
	s = natsOptions_Create(&o);
	if (s == NATS_OK)
		s = natsOptions_SetURL(o, url);
	if (s == NATS_OK)
		s = natsOptions_SetName(o, "labd");
	if (s == NATS_OK)
		s = natsOptions_SetTimeout(o, CONNECT_TIMEOUT_MS);
	if (s == NATS_OK)
		s = natsOptions_SetMaxReconnect(o, -1); /* forever */
	if (s == NATS_OK)
		s = natsOptions_SetReconnectWait(o, RECONNECT_WAIT_MS);
	if (s == NATS_OK)
		s = natsOptions_SetReconnectBufSize(o, RECONNECT_BUF);
	if (s == NATS_OK)
		s = natsOptions_SetRetryOnFailedConnect(o, true, on_connected, h);
	if (s == NATS_OK)
		s = natsOptions_SetDisconnectedCB(o, on_disconnected, h);
	if (s == NATS_OK)
		s = natsOptions_SetReconnectedCB(o, on_reconnected, h);
	if (s == NATS_OK)
		s = natsOptions_SetClosedCB(o, on_closed, h);
	if (s == NATS_OK)
		s = natsOptions_SetErrorHandler(o, on_error, h);
	if (s != NATS_OK) {
		/* A URL nats.c refuses, or out of memory. */
		log_kv(LAB_LOG_ERROR, NULL, "nats: bad options (check broker.nats.url)",
		       LAB_FS("error", natsStatus_GetText(s)));
		natsOptions_Destroy(o);
		free(h);
		free(be);
		return s == NATS_NO_MEMORY ? LAB_ENOMEM : LAB_ECONFIG;
	}
	if (uv_mutex_init(&h->mu) != 0 || uv_mutex_init(&be->qmu) != 0 ||
	    uv_cond_init(&be->qcond) != 0) {
		natsOptions_Destroy(o); /* (init failures of these never happen on Linux) */
		free(h);
		free(be);
		return LAB_ENOMEM;
	}
	h->refs = 1; /* the loop's, released when the async handle is closed */
	h->status = ST_CONNECTING;
	h->be = be;
	be->h = h;
	be->b = b;
	be->loop = loop;
	be->opts = o;
	be->last_status = ST_CONNECTING;
	atomic_init(&be->pub_failed, 0);
	uv_async_init(loop, &h->async, on_async);
	h->async.data = h;
	uv_async_init(loop, &be->done, on_done);
	be->done.data = be;
	uv_timer_init(loop, &be->give_up);
	be->give_up.data = be;
	be->handles = 2;
	uv_unref((uv_handle_t *)&h->async);
	uv_unref((uv_handle_t *)&be->done);
	if (uv_thread_create(&be->thread, publisher, be) != 0) {
		log_msg(LAB_LOG_ERROR, NULL, "nats: cannot start the publisher thread");
		natsOptions_Destroy(o);
		be->opts = NULL;
		be->thread_done = 1;
		close_handles(be); /* frees be and h once the loop runs */
		return LAB_ENOMEM;
	}
	*state = be;
	return 0;
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
