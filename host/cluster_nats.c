/* The "nats" cluster executor: JetStream key/value through nats.c, in one
 * thread of its own (every KV call blocks on a request/reply), never on the
 * loop.
 *
 * Connection.  Its own natsConnection to broker.nats.url, made like the
 * broker's (host/broker_nats.c: retry on a failed connect, reconnect
 * forever), not the broker's connection itself: the broker's publisher
 * thread owns that one and serialises publishes behind a queue, and a KV
 * request stuck there behind thousands of events would turn into a lost
 * lease.  When the connection is not up a request fails at once with
 * LAB_EUNAVAIL instead of waiting for its timeout.
 *
 * Buckets.  PREFIX_leases (MaxAge = lease_ttl: a lease or claim whose last
 * write is older than the TTL is gone — nats-server 2.9 has no per-key
 * TTL), PREFIX_done (MaxAge = claim_done_ttl), PREFIX_state (no TTL).
 * History 1.  Created when missing; an existing bucket is used as it is.
 *
 * A released lease or claim is overwritten with an empty value on the
 * holder's revision (a conditional delete: never removes another holder's
 * key); an empty value counts as free. */
#include "build_config.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wstrict-prototypes"
#include <nats/nats.h>
#pragma GCC diagnostic pop

#include "buf.h"
#include "cluster_kv.h"
#include "lab/plugin.h"
#include "log.h"

#define CONNECT_TIMEOUT_MS 2000
#define RECONNECT_WAIT_MS 1000
#define LIST_MAX 10000 /* entries listed by KV_LIST */

enum { B_LEASES, B_DONE, B_STATE, B_COUNT };

struct kvn {
	uv_thread_t thread;
	uv_mutex_t mu;
	uv_cond_t cond;
	struct kv_req *head, *tail; /* under mu */
	int stop;                   /* under mu */
	atomic_int up;
	kv_complete_fn complete;
	void *ud;
	/* the thread's */
	char *url, *node_tag, *bucket[B_COUNT];
	int64_t ttl_ns[B_COUNT];
	int64_t wait_ms;
	natsOptions *opts;
	natsConnection *nc;
	jsCtx *js;
	kvStore *kv[B_COUNT];
	int setup_logged;
};

static int unavailable(natsStatus s)
{
	switch (s) {
	case NATS_TIMEOUT:
	case NATS_NO_RESPONDERS:
	case NATS_CONNECTION_CLOSED:
	case NATS_CONNECTION_DISCONNECTED:
	case NATS_NOT_YET_CONNECTED:
	case NATS_IO_ERROR:
	case NATS_NO_SERVER:
	case NATS_STALE_CONNECTION:
	case NATS_CONNECTION_AUTH_FAILED:
	case NATS_SSL_ERROR:
	case NATS_DRAINING:
		return 1;
	default:
		return 0;
	}
}

/* Opens (or creates) the buckets; 0 when all three are there. */
static int setup(struct kvn *k)
{
	if (natsConnection_Status(k->nc) != NATS_CONN_STATUS_CONNECTED)
		return LAB_EUNAVAIL;
	if (!k->js) {
		jsOptions jo;
		jsOptions_Init(&jo);
		jo.Wait = k->wait_ms;
		if (natsConnection_JetStream(&k->js, k->nc, &jo) != NATS_OK)
			return LAB_EUNAVAIL;
	}
	for (int i = 0; i < B_COUNT; i++) {
		if (k->kv[i])
			continue;
		kvConfig cfg;
		kvConfig_Init(&cfg);
		cfg.Bucket = k->bucket[i];
		cfg.History = 1;
		cfg.TTL = k->ttl_ns[i];
		natsStatus s = js_CreateKeyValue(&k->kv[i], k->js, &cfg);
		if (s != NATS_OK && !unavailable(s)) {
			/* It exists with another configuration: use it as it is. */
			s = js_KeyValue(&k->kv[i], k->js, k->bucket[i]);
		}
		if (s != NATS_OK) {
			if (!k->setup_logged++)
				log_kv(LAB_LOG_WARN, "cluster", "cannot open a JetStream KV bucket",
				       LAB_FS("bucket", k->bucket[i]),
				       LAB_FS("error", natsStatus_GetText(s)));
			k->kv[i] = NULL;
			return unavailable(s) ? LAB_EUNAVAIL : LAB_EIO;
		}
	}
	k->setup_logged = 0;
	return 0;
}

/* A live value: present, a put, not empty (released). */
static int get_live(kvStore *kv, const char *key, char **val, size_t *len, uint64_t *rev, int *st)
{
	kvEntry *e = NULL;
	natsStatus s = kvStore_Get(&e, kv, key);
	*rev = 0;
	if (s == NATS_NOT_FOUND) {
		*st = 0;
		return 0;
	}
	if (s != NATS_OK) {
		*st = unavailable(s) ? LAB_EUNAVAIL : LAB_EIO;
		return 0;
	}
	*st = 0;
	*rev = kvEntry_Revision(e);
	int live = kvEntry_Operation(e) == kvOp_Put && kvEntry_ValueLen(e) > 0;
	if (live && val) {
		int n = kvEntry_ValueLen(e);
		if ((*val = malloc((size_t)n + 1))) {
			memcpy(*val, kvEntry_Value(e), (size_t)n);
			(*val)[n] = '\0';
			*len = (size_t)n;
		}
	}
	kvEntry_Destroy(e);
	return live;
}

static int write_status(natsStatus s)
{
	if (s == NATS_OK)
		return 0;
	return unavailable(s) ? LAB_EUNAVAIL : LAB_EEXIST; /* wrong last revision */
}

/* Create `key`, or take it over when it is free (released) or, with
 * take_ours, held by this node (a renewal confirmed after we gave up). */
static void acquire(struct kvn *k, struct kv_req *r, int take_ours)
{
	kvStore *kv = k->kv[B_LEASES];
	uint64_t rev = 0;
	natsStatus s = kvStore_Create(&rev, kv, r->key, r->val, (int)r->len);
	if (s == NATS_OK) {
		r->out_rev = rev;
		return;
	}
	if ((r->status = write_status(s)) == LAB_EUNAVAIL)
		return;
	char *cur = NULL;
	size_t n = 0;
	int st, live = get_live(kv, r->key, &cur, &n, &rev, &st);
	if (st) {
		r->status = st;
	} else if (live && !(take_ours && cur && strstr(cur, k->node_tag))) {
		r->status = LAB_EBUSY;
	} else {
		/* rev 0: gone between the two calls; Update on 0 = create. */
		s = kvStore_Update(&r->out_rev, kv, r->key, r->val, (int)r->len, rev);
		r->status = write_status(s);
		if (r->status == LAB_EEXIST)
			r->status = LAB_EBUSY; /* someone was faster */
	}
	free(cur);
}

static void release(struct kvn *k, struct kv_req *r)
{
	uint64_t rev;
	r->status = write_status(kvStore_Update(&rev, k->kv[B_LEASES], r->key, "", 0, r->rev));
}

static int done_exists(struct kvn *k, const char *key, int *st)
{
	uint64_t rev;
	return get_live(k->kv[B_DONE], key, NULL, NULL, &rev, st);
}

static void claim(struct kvn *k, struct kv_req *r)
{
	int st;
	if (done_exists(k, r->key2, &st) || st) {
		r->status = st ? st : LAB_EEXIST;
		return;
	}
	acquire(k, r, 0);
	if (r->status)
		return;
	/* Finished by another daemon between our check and our create (it
	 * writes the marker before it releases the claim): give it back. */
	if (done_exists(k, r->key2, &st) || st) {
		uint64_t rev;
		(void)kvStore_Update(&rev, k->kv[B_LEASES], r->key, "", 0, r->out_rev);
		r->status = st ? st : LAB_EEXIST;
	}
}

static void finish(struct kvn *k, struct kv_req *r)
{
	if (r->done) {
		uint64_t rev;
		natsStatus s = kvStore_Put(&rev, k->kv[B_DONE], r->key2, r->val, (int)r->len);
		if (s != NATS_OK) {
			r->status = write_status(s);
			return; /* keep the claim: it expires, and nobody redoes it before */
		}
	}
	release(k, r);
}

static void get_state(struct kvn *k, struct kv_req *r)
{
	int st;
	int live = get_live(k->kv[B_STATE], r->key, &r->out_val, &r->out_len, &r->out_rev, &st);
	r->status = st ? st : live ? 0 : LAB_ENOENT;
	if (!live)
		r->out_rev = 0;
}

static void cas_state(struct kvn *k, struct kv_req *r)
{
	natsStatus s = r->rev ? kvStore_Update(&r->out_rev, k->kv[B_STATE], r->key, r->val,
					       (int)r->len, r->rev)
			      : kvStore_Create(&r->out_rev, k->kv[B_STATE], r->key, r->val,
					       (int)r->len);
	if ((r->status = write_status(s)) == LAB_EEXIST) {
		int st;
		(void)get_live(k->kv[B_STATE], r->key, &r->out_val, &r->out_len, &r->out_rev, &st);
		if (st)
			r->status = st;
	}
}

/* [{"key":K,"value":V,"revision":R,"written_ms":T},...] of the live entries. */
static void list(struct kvn *k, struct kv_req *r)
{
	kvKeysList keys = { 0 };
	struct buf b = BUF_INIT;
	natsStatus s = kvStore_Keys(&keys, k->kv[B_LEASES], NULL);
	if (s != NATS_OK && s != NATS_NOT_FOUND) {
		r->status = unavailable(s) ? LAB_EUNAVAIL : LAB_EIO;
		buf_free(&b);
		return;
	}
	buf_putc(&b, '[');
	int first = 1;
	for (int i = 0; s == NATS_OK && i < keys.Count && i < LIST_MAX; i++) {
		kvEntry *e = NULL;
		if (kvStore_Get(&e, k->kv[B_LEASES], keys.Keys[i]) != NATS_OK) {
			continue;
		}
		int n = kvEntry_ValueLen(e);
		if (kvEntry_Operation(e) == kvOp_Put && n > 0) {
			if (!first)
				buf_putc(&b, ',');
			first = 0;
			buf_puts(&b, "{\"key\":");
			buf_json_str(&b, keys.Keys[i], strlen(keys.Keys[i]));
			buf_puts(&b, ",\"value\":");
			buf_json_str(&b, kvEntry_Value(e), (size_t)n);
			buf_printf(&b, ",\"revision\":%llu,\"written_ms\":%lld}",
				   (unsigned long long)kvEntry_Revision(e),
				   (long long)(kvEntry_Created(e) / 1000000));
		}
		kvEntry_Destroy(e);
	}
	buf_putc(&b, ']');
	if (s == NATS_OK)
		kvKeysList_Destroy(&keys);
	r->status = b.oom ? LAB_ENOMEM : 0;
	r->out_val = buf_steal(&b, &r->out_len);
}

static void run(struct kvn *k, struct kv_req *r)
{
	r->status = setup(k);
	if (r->status == 0) {
		switch (r->op) {
		case KV_ACQUIRE: acquire(k, r, 1); break;
		case KV_RENEW:
			r->status = write_status(kvStore_Update(&r->out_rev, k->kv[B_LEASES], r->key,
								r->val, (int)r->len, r->rev));
			break;
		case KV_RELEASE: release(k, r); break;
		case KV_CLAIM: claim(k, r); break;
		case KV_FINISH: finish(k, r); break;
		case KV_GET: get_state(k, r); break;
		case KV_CAS: cas_state(k, r); break;
		case KV_LIST: list(k, r); break;
		case KV_PING: break;
		}
	}
	atomic_store(&k->up, r->status != LAB_EUNAVAIL);
}

static void thread_main(void *arg)
{
	struct kvn *k = arg;
	natsStatus s = natsConnection_Connect(&k->nc, k->opts);
	if (s != NATS_OK && s != NATS_NOT_YET_CONNECTED)
		log_kv(LAB_LOG_ERROR, "cluster", "cannot create the NATS connection",
		       LAB_FS("error", natsStatus_GetText(s)));
	for (;;) {
		uv_mutex_lock(&k->mu);
		while (!k->head && !k->stop)
			uv_cond_wait(&k->cond, &k->mu);
		struct kv_req *r = k->head;
		if (r && !(k->head = r->next))
			k->tail = NULL;
		int stop = k->stop;
		uv_mutex_unlock(&k->mu);
		if (!r)
			break;
		/* Stopping: still give back what we hold, nothing else. */
		if (stop && r->op != KV_RELEASE && r->op != KV_FINISH)
			r->status = LAB_ECANCELED;
		else if (!k->nc)
			r->status = LAB_EUNAVAIL;
		else
			run(k, r);
		k->complete(k->ud, r);
	}
	for (int i = 0; i < B_COUNT; i++)
		kvStore_Destroy(k->kv[i]);
	jsCtx_Destroy(k->js);
	if (k->nc) {
		natsConnection_Close(k->nc);
		natsConnection_Destroy(k->nc);
	}
	natsOptions_Destroy(k->opts);
	nats_ReleaseThreadMemory();
}

int kvn_open(const struct host_conf *hc, const char *node, kv_complete_fn complete, void *ud,
	     struct kvn **out)
{
	static const char *const suffix[B_COUNT] = { "_leases", "_done", "_state" };
	struct kvn *k = calloc(1, sizeof *k);
	if (!k)
		return LAB_ENOMEM;
	k->complete = complete;
	k->ud = ud;
	const char *url = hc->nats_url && *hc->nats_url ? hc->nats_url : "nats://127.0.0.1:4222";
	int rc = LAB_ENOMEM;
	struct buf tag = BUF_INIT;
	/* How the holder's node appears in a lease value (cluster.c writes it). */
	buf_puts(&tag, "\"node\":");
	buf_json_str(&tag, node, strlen(node));
	k->node_tag = tag.oom ? NULL : buf_steal(&tag, NULL);
	buf_free(&tag);
	if (!(k->url = strdup(url)) || !k->node_tag)
		goto fail;
	for (int i = 0; i < B_COUNT; i++) {
		size_t n = strlen(hc->cluster_bucket_prefix) + strlen(suffix[i]) + 1;
		if (!(k->bucket[i] = malloc(n)))
			goto fail;
		snprintf(k->bucket[i], n, "%s%s", hc->cluster_bucket_prefix, suffix[i]);
	}
	k->ttl_ns[B_LEASES] = hc->cluster_lease_ttl * 1000000000LL;
	k->ttl_ns[B_DONE] = hc->cluster_claim_done_ttl * 1000000000LL;
	/* A request must answer well inside the loss margin (renew_interval). */
	k->wait_ms = hc->cluster_renew_interval * 1000 / 2;
	if (k->wait_ms > 2000)
		k->wait_ms = 2000;
	natsOptions *o = NULL;
	natsStatus s = natsOptions_Create(&o);
	if (s == NATS_OK)
		s = natsOptions_SetURL(o, k->url);
	if (s == NATS_OK)
		s = natsOptions_SetName(o, "labd-cluster");
	if (s == NATS_OK)
		s = natsOptions_SetTimeout(o, CONNECT_TIMEOUT_MS);
	if (s == NATS_OK)
		s = natsOptions_SetMaxReconnect(o, -1);
	if (s == NATS_OK)
		s = natsOptions_SetReconnectWait(o, RECONNECT_WAIT_MS);
	if (s == NATS_OK)
		s = natsOptions_SetRetryOnFailedConnect(o, true, NULL, NULL);
	if (s != NATS_OK) {
		log_kv(LAB_LOG_ERROR, "cluster", "bad NATS options",
		       LAB_FS("error", natsStatus_GetText(s)));
		natsOptions_Destroy(o);
		rc = LAB_ECONFIG;
		goto fail;
	}
	k->opts = o;
	uv_mutex_init(&k->mu);
	uv_cond_init(&k->cond);
	if (uv_thread_create(&k->thread, thread_main, k) != 0) {
		natsOptions_Destroy(o);
		uv_mutex_destroy(&k->mu);
		uv_cond_destroy(&k->cond);
		rc = LAB_EIO;
		goto fail;
	}
	*out = k;
	return 0;
fail:
	free(k->url);
	free(k->node_tag);
	for (int i = 0; i < B_COUNT; i++)
		free(k->bucket[i]);
	free(k);
	return rc;
}

void kvn_submit(struct kvn *k, struct kv_req *r)
{
	uv_mutex_lock(&k->mu);
	kv_fifo_push(&k->head, &k->tail, r);
	uv_cond_signal(&k->cond);
	uv_mutex_unlock(&k->mu);
}

int kvn_up(struct kvn *k) { return atomic_load(&k->up); }

void kvn_close(struct kvn *k)
{
	if (!k)
		return;
	uv_mutex_lock(&k->mu);
	k->stop = 1;
	uv_cond_signal(&k->cond);
	uv_mutex_unlock(&k->mu);
	/* At most one request timeout (<= 2 s): only at daemon exit. */
	uv_thread_join(&k->thread);
	uv_mutex_destroy(&k->mu);
	uv_cond_destroy(&k->cond);
	free(k->url);
	free(k->node_tag);
	for (int i = 0; i < B_COUNT; i++)
		free(k->bucket[i]);
	free(k);
}
