/* Cluster front (SDK 1.5): the leases, claims and pending requests of each
 * plugin, the renew loop, loss detection and the "none" executor.  Loop
 * thread only, except complete() (any thread).
 *
 * Loss rule.  A renewal (or acquisition) sent at monotonic time T that the
 * store confirms proves the key was written no earlier than T, so it cannot
 * expire before T + lease_ttl.  The lease is valid until
 * T + lease_ttl - renew_interval (cluster_loss_deadline): a margin of one
 * renew interval for clocks and delivery.  At that instant without a newer
 * confirmed renewal, LOST is reported, before another daemon could acquire
 * the key.  A renewal refused (wrong revision) is LOST at once.
 *
 * Keys.  Leases "lease/PLUGIN/NAME" and live claims "claim/PLUGIN/NAME" in
 * the leases bucket, done markers "PLUGIN/NAME" in the done bucket, shared
 * state "PLUGIN/KEY" in the state bucket.  A lease or claim value is
 * {"node":N,"plugin":P,"name":X,"since":MS} (the node lets a daemon take
 * back its own lease after a renewal answered too late). */
#include "build_config.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "cluster.h"
#include "cluster_kv.h"
#include "crash.h"
#include "list.h"
#include "log.h"
#include "metrics.h"

#define each(p, h) for ((p) = (h)->next; (p) != (h); (p) = (p)->next)

#define CHECK_MS 100 /* loss-deadline check period */
#define SHARED_MAX (1u << 20)

enum { K_LEASE, K_CLAIM, K_REQ, K_LIST, K_FIRE };

struct owner {
	struct list link;
	lab_ctx *ctx;
	char *plugin;
	struct list leases, claims, reqs;
	struct list revs; /* backend none: struct local_rev */
};

struct lab_lease {
	struct list link;
	struct owner *o; /* NULL: released, waiting for its request */
	char *name, *key;
	lab_lease_cb cb;
	void *ud;
	int held;
	int told;       /* last event delivered: 0, ACQUIRED or LOST */
	int inflight;
	uint64_t rev, valid_until, since;
};

struct lab_claim {
	struct list link;
	struct owner *o; /* NULL: finished, waiting for its request */
	char *name, *key;
	int inflight;
	uint64_t rev, valid_until;
};

struct req { /* a claim or shared-state request waiting for its answer */
	struct list link;
	struct owner *o; /* NULL: its plugin stopped; drop the answer */
	char *name;
	int shared;
	lab_claim_cb claim_cb;
	lab_shared_cb shared_cb;
	void *ud;
	struct kv_req *answer; /* backend none: the ready answer */
};

struct local_rev {
	struct list link;
	uint64_t rev;
	char key[];
};

struct cluster {
	uv_loop_t *loop;
	struct metrics *m;
	cluster_gate_fn gate;
	int nats;
	struct kvn *kvn;
	char node[128];
	uint64_t ttl_ms, renew_ms;
	struct list owners;
	uv_async_t async;
	uv_mutex_t mu;
	struct kv_req *done_head, *done_tail; /* under mu */
	uv_timer_t tick, check;
	int handles;
	int closing;
	int listing; /* a KV_LIST in flight */
	char *leases_json;
	int64_t leases_at_ms;
};

#ifndef HAVE_NATS
/* Built without nats.c: cluster_open refuses backend "nats", so these are
 * never reached. */
void kvn_submit(struct kvn *k, struct kv_req *r) { (void)k; kv_req_free(r); }
int kvn_up(struct kvn *k) { return k != NULL; }
void kvn_close(struct kvn *k) { (void)k; }
#endif

void kv_req_free(struct kv_req *r)
{
	if (!r)
		return;
	free(r->key);
	free(r->key2);
	free(r->val);
	free(r->out_val);
	free(r);
}

/* ---- pure parts -------------------------------------------------------- */

int cluster_name_ok(const char *name)
{
	if (!name)
		return 0;
	size_t n = strnlen(name, LAB_CLUSTER_NAME_MAX + 1);
	if (n == 0 || n > LAB_CLUSTER_NAME_MAX)
		return 0;
	size_t seg = 0; /* bytes in the current segment */
	for (size_t i = 0; i < n; i++) {
		char ch = name[i];
		if (ch == '/') {
			if (seg == 0 || name[i - 1] == '.')
				return 0;
			seg = 0;
		} else if (ch == '.') {
			if (seg == 0 || name[i - 1] == '.')
				return 0;
			seg++;
		} else if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
			   (ch >= '0' && ch <= '9') || ch == '_' || ch == '-') {
			seg++;
		} else {
			return 0;
		}
	}
	return seg > 0 && name[n - 1] != '.';
}

uint64_t cluster_loss_deadline(uint64_t sent_ms, uint64_t ttl_ms, uint64_t renew_ms)
{
	return renew_ms >= ttl_ms ? sent_ms : sent_ms + (ttl_ms - renew_ms);
}

/* ---- helpers ----------------------------------------------------------- */

static char *join(const char *a, const char *b, const char *c)
{
	size_t n = strlen(a) + strlen(b) + strlen(c) + 3;
	char *s = malloc(n);
	if (s)
		snprintf(s, n, "%s%s/%s", a, b, c);
	return s;
}

static struct owner *owner_of(struct cluster *c, lab_ctx *ctx, const char *plugin, int create)
{
	struct list *p;
	each(p, &c->owners) {
		struct owner *o = list_entry(p, struct owner, link);
		if (o->ctx == ctx)
			return o;
	}
	if (!create)
		return NULL;
	struct owner *o = calloc(1, sizeof *o);
	if (!o || !(o->plugin = strdup(plugin))) {
		free(o);
		return NULL;
	}
	o->ctx = ctx;
	list_init(&o->leases);
	list_init(&o->claims);
	list_init(&o->reqs);
	list_init(&o->revs);
	list_add_tail(&c->owners, &o->link);
	return o;
}

static void count_held(struct cluster *c, struct owner *o)
{
	struct list *p;
	double leases = 0, claims = 0;
	each(p, &o->leases)
		leases += list_entry(p, struct lab_lease, link)->held;
	each(p, &o->claims)
		claims++;
	metric_set(c->m, M_CLUSTER_LEASES_HELD, leases, o->plugin);
	metric_set(c->m, M_CLUSTER_CLAIMS_IN_FLIGHT, claims, o->plugin);
}

/* The value written for a lease or claim this daemon holds. */
static char *holder_value(struct cluster *c, const char *plugin, const char *name,
			  uint64_t since, size_t *len)
{
	struct buf b = BUF_INIT;
	buf_puts(&b, "{\"node\":");
	buf_json_str(&b, c->node, strlen(c->node));
	buf_puts(&b, ",\"plugin\":");
	buf_json_str(&b, plugin, strlen(plugin));
	buf_puts(&b, ",\"name\":");
	buf_json_str(&b, name, strlen(name));
	buf_printf(&b, ",\"since\":%llu}", (unsigned long long)since);
	if (b.oom) {
		buf_free(&b);
		return NULL;
	}
	return buf_steal(&b, len);
}

static struct kv_req *new_req(enum kv_op op, const char *key, int kind, void *target)
{
	struct kv_req *r = calloc(1, sizeof *r);
	if (!r || !(r->key = strdup(key))) {
		free(r);
		return NULL;
	}
	r->op = op;
	r->kind = kind;
	r->target = target;
	r->sent_ms = clock_monotonic_ms();
	return r;
}

static void complete(void *ud, struct kv_req *r);

/* backend none: every request succeeds (claims: one holder per name in
 * this daemon); the answer arrives on the next loop turn like a real one. */
static void run_local(struct cluster *c, struct kv_req *r)
{
	r->status = 0;
	r->out_rev = r->rev + 1;
	if (r->op == KV_CLAIM) {
		struct list *p, *q;
		each(p, &c->owners) {
			struct owner *o = list_entry(p, struct owner, link);
			each(q, &o->claims)
				if (!strcmp(list_entry(q, struct lab_claim, link)->key, r->key))
					r->status = LAB_EBUSY;
		}
	} else if (r->op == KV_LIST) {
		r->out_val = strdup("[]");
		r->out_len = 2;
	}
	complete(c, r);
}

static void submit(struct cluster *c, struct kv_req *r)
{
	if (c->nats)
		kvn_submit(c->kvn, r);
	else
		run_local(c, r);
}

static void fire_event(struct cluster *c, struct lab_lease *l, int event)
{
	struct owner *o = l->o;
	if (!o || l->told == event)
		return;
	if (event == LAB_LEASE_ACQUIRED && !c->gate(o->ctx))
		return; /* not started yet: told at a later check */
	int was_told = l->told == LAB_LEASE_ACQUIRED;
	l->told = event;
	if (event == LAB_LEASE_LOST && !was_told)
		return; /* the plugin never heard of it */
	metric_add(c->m, M_CLUSTER_LEASE_CHANGES, 1, o->plugin,
		   event == LAB_LEASE_ACQUIRED ? "acquired" : "lost");
	log_kv(event == LAB_LEASE_LOST ? LAB_LOG_WARN : LAB_LOG_INFO, o->plugin,
	       event == LAB_LEASE_LOST ? "lease lost" : "lease acquired", LAB_FS("lease", l->name),
	       LAB_FS("node", c->node));
	count_held(c, o);
	if (c->gate(o->ctx) && l->cb)
		CRASH_CALL(o->plugin, "lease callback", l->cb(o->ctx, l, event, l->ud));
}

static void lease_free(struct lab_lease *l)
{
	free(l->name);
	free(l->key);
	free(l);
}

static void claim_free(struct lab_claim *cl)
{
	free(cl->name);
	free(cl->key);
	free(cl);
}

/* ---- completions (loop) -------------------------------------------------- */

static void lease_done(struct cluster *c, struct lab_lease *l, struct kv_req *r)
{
	l->inflight = 0;
	if (!l->o) { /* released meanwhile: give the key back if we got it */
		if (r->status == 0 && (r->op == KV_ACQUIRE || r->op == KV_RENEW)) {
			struct kv_req *rel = new_req(KV_RELEASE, l->key, K_FIRE, NULL);
			if (rel) {
				rel->rev = r->out_rev;
				submit(c, rel);
			}
		}
		lease_free(l);
		return;
	}
	uint64_t now = clock_monotonic_ms();
	if (r->status == 0) {
		l->rev = r->out_rev;
		l->valid_until = c->nats ? cluster_loss_deadline(r->sent_ms, c->ttl_ms, c->renew_ms)
					 : UINT64_MAX;
		if (l->valid_until > now) {
			l->held = 1;
			fire_event(c, l, LAB_LEASE_ACQUIRED);
		}
	} else if (r->op == KV_RENEW && r->status != LAB_EUNAVAIL) {
		/* Refused: the key expired or someone else holds it now. */
		l->held = 0;
		fire_event(c, l, LAB_LEASE_LOST);
	}
	/* KV unreachable: held until the deadline (check_deadlines). */
}

static void claim_done_renew(struct cluster *c, struct lab_claim *cl, struct kv_req *r)
{
	cl->inflight = 0;
	if (!cl->o) {
		claim_free(cl);
		return;
	}
	if (r->status == 0) {
		cl->rev = r->out_rev;
		cl->valid_until = cluster_loss_deadline(r->sent_ms, c->ttl_ms, c->renew_ms);
	} else if (r->status != LAB_EUNAVAIL) {
		cl->valid_until = 0;
	}
}

static void req_done(struct cluster *c, struct req *q, struct kv_req *r)
{
	struct owner *o = q->o;
	if (!o) {
		free(q->name);
		free(q);
		return;
	}
	list_del(&q->link);
	if (!q->shared) {
		const char *res = r->status == 0 ? "granted" : r->status == LAB_EBUSY ? "busy"
				: r->status == LAB_EEXIST ? "done" : "error";
		metric_add(c->m, M_CLUSTER_CLAIMS, 1, o->plugin, res);
		struct lab_claim *cl = NULL;
		if (r->status == 0 && (cl = calloc(1, sizeof *cl))) {
			cl->o = o;
			cl->name = q->name;
			q->name = NULL;
			cl->key = r->key;
			r->key = NULL;
			cl->rev = r->out_rev;
			cl->valid_until = c->nats ? cluster_loss_deadline(r->sent_ms, c->ttl_ms,
									  c->renew_ms)
						  : UINT64_MAX;
			list_add_tail(&o->claims, &cl->link);
			count_held(c, o);
		}
		int st = r->status == 0 && !cl ? LAB_ENOMEM : r->status;
		if (c->gate(o->ctx))
			CRASH_CALL(o->plugin, "claim callback", q->claim_cb(o->ctx, st, cl, q->ud));
	} else {
		if (r->op == KV_CAS && r->status == LAB_EEXIST)
			metric_add(c->m, M_CLUSTER_CAS_CONFLICTS, 1, o->plugin);
		if (c->gate(o->ctx))
			CRASH_CALL(o->plugin, "shared state callback",
				   q->shared_cb(o->ctx, r->status, r->out_val, r->out_len, r->out_rev,
						q->ud));
	}
	free(q->name);
	free(q);
}

static void handle(struct cluster *c, struct kv_req *r)
{
	switch (r->kind) {
	case K_LEASE: lease_done(c, r->target, r); break;
	case K_CLAIM: claim_done_renew(c, r->target, r); break;
	case K_REQ: req_done(c, r->target, r); break;
	case K_LIST:
		c->listing = 0;
		if (r->status == 0 && r->out_val) {
			free(c->leases_json);
			c->leases_json = r->out_val;
			r->out_val = NULL;
			c->leases_at_ms = clock_now_ms();
		}
		break;
	default: break;
	}
	if (c->nats)
		metric_set(c->m, M_CLUSTER_UP, kvn_up(c->kvn));
	kv_req_free(r);
}

/* Closing: the owners are gone, so every target is detached: free it. */
static void drop(struct kv_req *r)
{
	if (r->kind == K_LEASE)
		lease_free(r->target);
	else if (r->kind == K_CLAIM)
		claim_free(r->target);
	else if (r->kind == K_REQ) {
		struct req *q = r->target;
		free(q->name);
		free(q);
	}
	kv_req_free(r);
}

static void on_async(uv_async_t *a)
{
	struct cluster *c = a->data;
	uv_mutex_lock(&c->mu);
	struct kv_req *r = c->done_head;
	c->done_head = c->done_tail = NULL;
	uv_mutex_unlock(&c->mu);
	while (r) {
		struct kv_req *next = r->next;
		if (c->closing)
			drop(r);
		else
			handle(c, r);
		r = next;
	}
}

static void complete(void *ud, struct kv_req *r)
{
	struct cluster *c = ud;
	uv_mutex_lock(&c->mu);
	kv_fifo_push(&c->done_head, &c->done_tail, r);
	uv_mutex_unlock(&c->mu);
	uv_async_send(&c->async);
}

/* ---- the renew loop -------------------------------------------------------- */

static void send_lease(struct cluster *c, struct lab_lease *l)
{
	size_t len = 0;
	if (!l->held)
		l->since = (uint64_t)clock_now_ms();
	char *v = holder_value(c, l->o->plugin, l->name, l->since, &len);
	struct kv_req *r = v ? new_req(l->held ? KV_RENEW : KV_ACQUIRE, l->key, K_LEASE, l) : NULL;
	if (!r) {
		free(v);
		return;
	}
	r->val = v;
	r->len = len;
	r->rev = l->rev;
	l->inflight = 1;
	submit(c, r);
}

static void send_claim_renew(struct cluster *c, struct lab_claim *cl)
{
	size_t len = 0;
	char *v = holder_value(c, cl->o->plugin, cl->name, 0, &len);
	struct kv_req *r = v ? new_req(KV_RENEW, cl->key, K_CLAIM, cl) : NULL;
	if (!r) {
		free(v);
		return;
	}
	r->val = v;
	r->len = len;
	r->rev = cl->rev;
	cl->inflight = 1;
	submit(c, r);
}

static void on_tick(uv_timer_t *t)
{
	struct cluster *c = t->data;
	struct list *p, *q;
	if (!c->nats)
		return;
	uint64_t now = clock_monotonic_ms();
	each(p, &c->owners) {
		struct owner *o = list_entry(p, struct owner, link);
		each(q, &o->leases) {
			struct lab_lease *l = list_entry(q, struct lab_lease, link);
			if (!l->inflight)
				send_lease(c, l);
		}
		each(q, &o->claims) {
			struct lab_claim *cl = list_entry(q, struct lab_claim, link);
			if (!cl->inflight && cl->valid_until > now)
				send_claim_renew(c, cl);
		}
	}
	struct kv_req *r = new_req(c->listing ? KV_PING : KV_LIST, "-", c->listing ? K_FIRE : K_LIST,
				   NULL);
	if (r) {
		c->listing |= r->op == KV_LIST;
		submit(c, r);
	}
}

static void on_check(uv_timer_t *t)
{
	struct cluster *c = t->data;
	struct list *p, *q;
	uint64_t now = clock_monotonic_ms();
	each(p, &c->owners) {
		struct owner *o = list_entry(p, struct owner, link);
		each(q, &o->leases) {
			struct lab_lease *l = list_entry(q, struct lab_lease, link);
			if (l->held && now >= l->valid_until) {
				l->held = 0;
				fire_event(c, l, LAB_LEASE_LOST);
			} else if (l->held && l->told != LAB_LEASE_ACQUIRED) {
				fire_event(c, l, LAB_LEASE_ACQUIRED); /* the plugin has started */
			}
		}
	}
}

/* ---- the SDK calls ------------------------------------------------------------ */

int cluster_lease_hold(struct cluster *c, lab_ctx *ctx, const char *plugin, const char *name,
		       lab_lease_cb cb, void *ud, lab_lease **out)
{
	if (!c || !out || !cb || !cluster_name_ok(name))
		return LAB_EINVAL;
	*out = NULL;
	struct owner *o = owner_of(c, ctx, plugin, 1);
	if (!o)
		return LAB_ENOMEM;
	struct list *p;
	each(p, &o->leases)
		if (!strcmp(list_entry(p, struct lab_lease, link)->name, name))
			return LAB_EEXIST;
	struct lab_lease *l = calloc(1, sizeof *l);
	if (!l || !(l->name = strdup(name)) || !(l->key = join("lease/", plugin, name))) {
		if (l)
			free(l->name);
		free(l);
		return LAB_ENOMEM;
	}
	l->o = o;
	l->cb = cb;
	l->ud = ud;
	list_add_tail(&o->leases, &l->link);
	send_lease(c, l);
	*out = l;
	return 0;
}

/* Handles are looked up, never dereferenced first: a stale handle (released,
 * or its plugin forgotten) is LAB_EINVAL, not a use after free. */
static int mine_lease(struct cluster *c, lab_ctx *ctx, const lab_lease *l)
{
	struct owner *o = owner_of(c, ctx, NULL, 0);
	struct list *p;
	if (o && l)
		each(p, &o->leases)
			if (list_entry(p, struct lab_lease, link) == l)
				return 1;
	return 0;
}

static int mine_claim(struct cluster *c, lab_ctx *ctx, const lab_claim *cl)
{
	struct owner *o = owner_of(c, ctx, NULL, 0);
	struct list *p;
	if (o && cl)
		each(p, &o->claims)
			if (list_entry(p, struct lab_claim, link) == cl)
				return 1;
	return 0;
}

int cluster_lease_valid(struct cluster *c, lab_ctx *ctx, const lab_lease *l)
{
	if (!c || !mine_lease(c, ctx, l))
		return 0;
	return l->held && clock_monotonic_ms() < l->valid_until;
}

static void lease_drop(struct cluster *c, struct lab_lease *l, int tell)
{
	struct owner *o = l->o;
	list_del(&l->link);
	if (l->held && tell)
		metric_add(c->m, M_CLUSTER_LEASE_CHANGES, 1, o->plugin, "released");
	if (l->held && !l->inflight) {
		struct kv_req *r = new_req(KV_RELEASE, l->key, K_FIRE, NULL);
		if (r) {
			r->rev = l->rev;
			submit(c, r);
		}
	}
	l->held = 0;
	l->o = NULL;
	if (!l->inflight)
		lease_free(l);
	count_held(c, o);
}

int cluster_lease_release(struct cluster *c, lab_ctx *ctx, lab_lease *l)
{
	if (!c || !mine_lease(c, ctx, l))
		return LAB_EINVAL;
	lease_drop(c, l, 1);
	return 0;
}

int cluster_claim(struct cluster *c, lab_ctx *ctx, const char *plugin, const char *name,
		  lab_claim_cb cb, void *ud)
{
	if (!c || !cb || !cluster_name_ok(name))
		return LAB_EINVAL;
	struct owner *o = owner_of(c, ctx, plugin, 1);
	if (!o)
		return LAB_ENOMEM;
	struct req *q = calloc(1, sizeof *q);
	char *key = join("claim/", plugin, name);
	size_t len = 0;
	char *v = holder_value(c, plugin, name, (uint64_t)clock_now_ms(), &len);
	struct kv_req *r = key ? new_req(KV_CLAIM, key, K_REQ, q) : NULL;
	if (!q || !r || !v || !(q->name = strdup(name)) || !(r->key2 = join("", plugin, name))) {
		free(q ? q->name : NULL);
		free(q);
		free(key);
		free(v);
		kv_req_free(r);
		return LAB_ENOMEM;
	}
	free(key);

	r->val = v;
	r->len = len;
	q->o = o;
	q->claim_cb = cb;
	q->ud = ud;
	list_add_tail(&o->reqs, &q->link);
	submit(c, r);
	return 0;
}

int cluster_claim_valid(struct cluster *c, lab_ctx *ctx, const lab_claim *cl)
{
	return c && mine_claim(c, ctx, cl) && clock_monotonic_ms() < cl->valid_until;
}

static void claim_drop(struct cluster *c, struct lab_claim *cl, int completed)
{
	struct owner *o = cl->o;
	list_del(&cl->link);
	size_t len = 0;
	struct kv_req *r = new_req(KV_FINISH, cl->key, K_FIRE, NULL);
	if (r && completed) {
		r->done = 1;
		r->key2 = join("", o->plugin, cl->name);
		r->val = holder_value(c, o->plugin, cl->name, (uint64_t)clock_now_ms(), &len);
		r->len = len;
		if (!r->key2 || !r->val) {
			kv_req_free(r);
			r = NULL;
		}
	}
	if (r) {
		r->rev = cl->rev;
		if (c->nats)
			kvn_submit(c->kvn, r);
		else
			kv_req_free(r);
	}
	cl->o = NULL;
	if (!cl->inflight)
		claim_free(cl);
	count_held(c, o);
}

int cluster_claim_finish(struct cluster *c, lab_ctx *ctx, lab_claim *cl, int completed)
{
	if (!c || !mine_claim(c, ctx, cl))
		return LAB_EINVAL;
	claim_drop(c, cl, completed);
	return 0;
}

static int shared_req(struct cluster *c, lab_ctx *ctx, const char *plugin, enum kv_op op,
		      const char *key, const char *json, size_t len, uint64_t rev,
		      lab_shared_cb cb, void *ud)
{
	if (!c || !cb || !cluster_name_ok(key))
		return LAB_EINVAL;
	if (op == KV_CAS && (!json || len == 0))
		return LAB_EINVAL;
	if (len > SHARED_MAX)
		return LAB_ERANGE;
	struct owner *o = owner_of(c, ctx, plugin, 1);
	if (!o)
		return LAB_ENOMEM;
	char *k = join("", plugin, key);
	struct req *q = calloc(1, sizeof *q);
	struct kv_req *r = k ? new_req(op, k, K_REQ, q) : NULL;
	free(k);
	if (!q || !r || (op == KV_CAS && !(r->val = malloc(len + 1)))) {
		free(q);
		kv_req_free(r);
		return LAB_ENOMEM;
	}
	if (op == KV_CAS) {
		memcpy(r->val, json, len);
		r->val[len] = '\0';
		r->len = len;
		r->rev = rev;
	}
	q->o = o;
	q->shared = 1;
	q->shared_cb = cb;
	q->ud = ud;
	list_add_tail(&o->reqs, &q->link);
	submit(c, r);
	return 0;
}

int cluster_shared_get(struct cluster *c, lab_ctx *ctx, const char *plugin, const char *key,
		       lab_shared_cb cb, void *ud)
{
	return shared_req(c, ctx, plugin, KV_GET, key, NULL, 0, 0, cb, ud);
}

int cluster_shared_cas(struct cluster *c, lab_ctx *ctx, const char *plugin, const char *key,
		       const char *json, size_t len, uint64_t revision, lab_shared_cb cb, void *ud)
{
	return shared_req(c, ctx, plugin, KV_CAS, key, json, len, revision, cb, ud);
}

int cluster_is_local(const struct cluster *c) { return !c || !c->nats; }

uint64_t cluster_local_rev(struct cluster *c, lab_ctx *ctx, const char *plugin, const char *key,
			   int exists, int bump)
{
	struct owner *o = c ? owner_of(c, ctx, plugin, 1) : NULL;
	if (!o)
		return 0;
	struct list *p;
	struct local_rev *lr = NULL;
	each(p, &o->revs)
		if (!strcmp(list_entry(p, struct local_rev, link)->key, key))
			lr = list_entry(p, struct local_rev, link);
	if (!lr) {
		if (!exists && !bump)
			return 0;
		size_t n = strlen(key) + 1;
		if (!(lr = calloc(1, sizeof *lr + n)))
			return 0;
		memcpy(lr->key, key, n);
		lr->rev = exists ? 1 : 0; /* a value loaded from disk: revision 1 */
		list_add_tail(&o->revs, &lr->link);
	}
	if (bump)
		lr->rev++;
	return lr->rev;
}

int cluster_local_answer(struct cluster *c, lab_ctx *ctx, const char *plugin, int status,
			 const char *json, size_t len, uint64_t rev, lab_shared_cb cb, void *ud)
{
	struct owner *o = c ? owner_of(c, ctx, plugin, 1) : NULL;
	if (!o || !cb)
		return o ? LAB_EINVAL : LAB_ENOMEM;
	struct req *q = calloc(1, sizeof *q);
	struct kv_req *r = new_req(KV_GET, "-", K_REQ, q);
	if (!q || !r || (json && !(r->out_val = malloc(len + 1)))) {
		free(q);
		kv_req_free(r);
		return LAB_ENOMEM;
	}
	if (json) {
		memcpy(r->out_val, json, len);
		r->out_val[len] = '\0';
		r->out_len = len;
	}
	r->status = status;
	r->out_rev = rev;
	q->o = o;
	q->shared = 1;
	q->shared_cb = cb;
	q->ud = ud;
	list_add_tail(&o->reqs, &q->link);
	complete(c, r);
	return 0;
}

void cluster_forget(struct cluster *c, lab_ctx *ctx)
{
	struct owner *o = c ? owner_of(c, ctx, NULL, 0) : NULL;
	if (!o)
		return;
	struct list *p, *t;
	list_for_each_safe(p, t, &o->leases)
		lease_drop(c, list_entry(p, struct lab_lease, link), 1);
	list_for_each_safe(p, t, &o->claims)
		claim_drop(c, list_entry(p, struct lab_claim, link), 0);
	list_for_each_safe(p, t, &o->reqs) {
		struct req *q = list_entry(p, struct req, link);
		list_del(&q->link);
		q->o = NULL; /* freed when its answer arrives */
	}
	list_for_each_safe(p, t, &o->revs)
		free(list_entry(p, struct local_rev, link));
	metric_set(c->m, M_CLUSTER_LEASES_HELD, 0, o->plugin);
	metric_set(c->m, M_CLUSTER_CLAIMS_IN_FLIGHT, 0, o->plugin);
	list_del(&o->link);
	free(o->plugin);
	free(o);
}

/* ---- admin ----------------------------------------------------------------- */

void cluster_plugin_json(struct cluster *c, lab_ctx *ctx, struct buf *out)
{
	struct owner *o = c ? owner_of(c, ctx, NULL, 0) : NULL;
	struct list *p;
	int first = 1, claims = 0;
	buf_puts(out, "{\"leases\":[");
	if (o) {
		each(p, &o->leases) {
			struct lab_lease *l = list_entry(p, struct lab_lease, link);
			if (!l->held)
				continue;
			if (!first)
				buf_putc(out, ',');
			first = 0;
			buf_json_str(out, l->name, strlen(l->name));
		}
		each(p, &o->claims)
			claims++;
	}
	buf_printf(out, "],\"claims_in_flight\":%d}", claims);
}

int cluster_leases_json(struct cluster *c, struct buf *out)
{
	buf_puts(out, "{\"backend\":");
	buf_json_str(out, cluster_backend_name(c), 4);
	buf_puts(out, ",\"node\":");
	buf_json_str(out, c ? c->node : "", c ? strlen(c->node) : 0);
	buf_printf(out, ",\"listed_at_ms\":%lld,\"now_ms\":%lld,\"entries\":",
		   (long long)(c ? c->leases_at_ms : 0), (long long)clock_now_ms());
	buf_puts(out, c && c->leases_json ? c->leases_json : "[]");
	buf_putc(out, '}');
	return 200;
}

/* ---- open / close ---------------------------------------------------------- */

const char *cluster_backend_name(const struct cluster *c) { return c && c->nats ? "nats" : "none"; }
const char *cluster_node_id(const struct cluster *c) { return c ? c->node : ""; }

int cluster_open(uv_loop_t *loop, struct metrics *m, const struct host_conf *hc,
		 cluster_gate_fn gate, struct cluster **out)
{
	struct cluster *c = calloc(1, sizeof *c);
	if (!c)
		return LAB_ENOMEM;
	c->loop = loop;
	c->m = m;
	c->gate = gate;
	c->nats = hc->cluster_backend && !strcmp(hc->cluster_backend, "nats");
	c->ttl_ms = (uint64_t)hc->cluster_lease_ttl * 1000;
	c->renew_ms = (uint64_t)hc->cluster_renew_interval * 1000;
	if (hc->cluster_node && *hc->cluster_node) {
		snprintf(c->node, sizeof c->node, "%s", hc->cluster_node);
	} else {
		char host[64] = "localhost";
		(void)gethostname(host, sizeof host - 1);
		snprintf(c->node, sizeof c->node, "%s:%ld", host, (long)getpid());
	}
	list_init(&c->owners);
	uv_mutex_init(&c->mu);
	if (c->nats) {
#ifdef HAVE_NATS
		int rc = kvn_open(hc, c->node, complete, c, &c->kvn);
#else
		int rc = LAB_ENOTSUP; /* built without nats.c */
#endif
		if (rc) {
			uv_mutex_destroy(&c->mu);
			free(c);
			return rc;
		}
	}
	uv_async_init(loop, &c->async, on_async);
	c->async.data = c;
	uv_timer_init(loop, &c->tick);
	c->tick.data = c;
	uv_timer_init(loop, &c->check);
	c->check.data = c;
	uv_timer_start(&c->tick, on_tick, 0, c->renew_ms ? c->renew_ms : 1000);
	uv_timer_start(&c->check, on_check, CHECK_MS, CHECK_MS);
	metric_set(m, M_CLUSTER_UP, 1);
	log_kv(LAB_LOG_INFO, "cluster", "cluster services", LAB_FS("backend", cluster_backend_name(c)),
	       LAB_FS("node", c->node), LAB_FI("lease_ttl_s", hc->cluster_lease_ttl),
	       LAB_FI("renew_interval_s", hc->cluster_renew_interval));
	*out = c;
	return 0;
}

static void closed(uv_handle_t *h)
{
	struct cluster *c = h->data;
	if (--c->handles)
		return;
	struct kv_req *r = c->done_head;
	while (r) {
		struct kv_req *next = r->next;
		drop(r);
		r = next;
	}
	uv_mutex_destroy(&c->mu);
	free(c->leases_json);
	free(c);
}

void cluster_close(struct cluster *c)
{
	if (!c)
		return;
	struct list *p, *t;
	list_for_each_safe(p, t, &c->owners)
		cluster_forget(c, list_entry(p, struct owner, link)->ctx);
	/* The thread sends the releases queued above, then stops. */
	kvn_close(c->kvn);
	c->kvn = NULL;
	c->closing = 1;
	on_async(&c->async); /* free what came back */
	c->handles = 3;
	uv_close((uv_handle_t *)&c->async, closed);
	uv_close((uv_handle_t *)&c->tick, closed);
	uv_close((uv_handle_t *)&c->check, closed);
}
