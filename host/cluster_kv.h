/* Between the cluster front (cluster.c, loop thread) and its key/value
 * executor: one request = one logical step (acquire a lease, renew it,
 * take a claim, ...), possibly several KV calls.  The "nats" executor
 * (cluster_nats.c) runs requests in its own thread; the "none" executor
 * (cluster.c) on the loop.  Either way a finished request goes back through
 * `complete` (any thread) and is handled on the loop. */
#ifndef LAB_HOST_CLUSTER_KV_H
#define LAB_HOST_CLUSTER_KV_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"

enum kv_op {
	KV_ACQUIRE, /* leases bucket: create `key`, or take it when released (or ours) */
	KV_RENEW,   /* leases bucket: update `key` on revision `rev` */
	KV_RELEASE, /* leases bucket: overwrite `key` with "" on revision `rev` */
	KV_CLAIM,   /* done bucket has `key2`? EEXIST; else like KV_ACQUIRE (never take ours) */
	KV_FINISH,  /* `done` set: put `key2` in the done bucket; then like KV_RELEASE */
	KV_GET,     /* state bucket: get `key` */
	KV_CAS,     /* state bucket: create (rev 0) or update `key` on `rev` */
	KV_LIST,    /* leases bucket: every live entry, as a JSON array in out_val */
	KV_PING     /* is the store reachable? */
};

struct kv_req {
	struct kv_req *next;
	enum kv_op op;
	char *key, *key2;
	char *val; /* NUL-terminated; len bytes */
	size_t len;
	uint64_t rev;
	int done;
	uint64_t sent_ms; /* monotonic ms when the loop submitted it */
	/* results */
	int status;       /* 0, LAB_EBUSY, LAB_EEXIST, LAB_ENOENT, LAB_EUNAVAIL, ... */
	uint64_t out_rev;
	char *out_val;    /* malloc'd, NUL-terminated; NULL = none */
	size_t out_len;
	/* the front's */
	int kind;
	void *target;
};

void kv_req_free(struct kv_req *r);

/* Appends r to a singly linked FIFO (the caller holds its lock). */
static inline void kv_fifo_push(struct kv_req **head, struct kv_req **tail, struct kv_req *r)
{
	r->next = NULL;
	if (*tail)
		(*tail)->next = r;
	else
		*head = r;
	*tail = r;
}

struct kvn;
typedef void (*kv_complete_fn)(void *ud, struct kv_req *r);

/* Starts the thread; it connects (in the background, retrying) to
 * broker.nats.url and opens or creates the three buckets. */
int kvn_open(const struct host_conf *hc, const char *node, kv_complete_fn complete, void *ud,
	     struct kvn **out);
/* Queues r (ownership moves until `complete`).  Loop thread. */
void kvn_submit(struct kvn *k, struct kv_req *r);
/* Is the store reachable (last request's verdict)?  Any thread. */
int kvn_up(struct kvn *k);
/* Stops the thread after the request it runs (bounded by the request
 * timeout); queued requests are completed with LAB_ECANCELED. */
void kvn_close(struct kvn *k);

#endif
