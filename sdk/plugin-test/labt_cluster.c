/* lab-plugin-test: the SDK 1.5 cluster services as a single daemon that a
 * test can steer: leases are ACQUIRED on the next pump and LOST when the
 * test says so (labt_lease_lose); claims are granted unless held, done, or
 * given another answer by the test (labt_claim_answer); shared state lives
 * in memory with revisions.  Answers come as events of the fake loop, never
 * inside the call. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "labt.h"

struct lab_lease {
	struct labt *t;
	char *name;
	lab_lease_cb cb;
	void *ud;
	int held;
};

struct lab_claim {
	struct labt *t;
	char *name;
	int lost; /* labt_claim_lose: invalid, held until the plugin finishes it */
};

struct pending { /* a claim or shared-state request */
	char *name;
	lab_claim_cb claim_cb;
	lab_shared_cb shared_cb;
	char *json;
	void *ud;
};

static int vfind(const struct labt_vec *v, const void *p)
{
	for (size_t i = 0; i < v->n; i++)
		if (v->v[i] == p)
			return (int)i;
	return -1;
}

static struct labt_obj *obj_find(const struct labt_vec *v, const char *key)
{
	for (size_t i = 0; i < v->n; i++) {
		struct labt_obj *o = v->v[i];
		if (!strcmp(o->key, key))
			return o;
	}
	return NULL;
}

static int name_ok(const char *s)
{
	size_t n = s ? strlen(s) : 0;
	if (n == 0 || n > LAB_CLUSTER_NAME_MAX || s[0] == '/' || s[n - 1] == '/' || s[0] == '.' ||
	    s[n - 1] == '.' || strstr(s, "//") || strstr(s, "..") || strstr(s, "/.") ||
	    strstr(s, "./"))
		return 0;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
		      *s == '_' || *s == '-' || *s == '.' || *s == '/'))
			return 0;
	return 1;
}

/* ---- leases ---------------------------------------------------------------- */

static int refused(const struct labt *t, const char *name)
{
	for (size_t i = 0; i < t->cl_refused.n; i++)
		if (!strcmp(t->cl_refused.v[i], name))
			return 1;
	return 0;
}

static void lease_fire(struct labt *t, struct labt_ev *e)
{
	struct lab_lease *l = e->cluster_obj;
	if (vfind(&t->leases, l) < 0 || l->held)
		return; /* released meanwhile */
	if (refused(t, l->name))
		return; /* another daemon holds it: granted at labt_lease_refuse(.., 0) */
	l->held = 1;
	l->cb(&t->pub, l, LAB_LEASE_ACQUIRED, l->ud);
}

static void queue_grant(struct labt *t, struct lab_lease *l, uint64_t delay)
{
	struct labt_ev *e = labti_ev_new(t, EV_CLUSTER);
	e->cluster_fire = lease_fire;
	e->cluster_obj = l;
	labti_ev_queue(t, e, delay);
}

static int api_lease_hold(lab_ctx *ctx, const char *name, lab_lease_cb cb, void *ud,
			  lab_lease **out)
{
	struct labt *t = labti_of(ctx);
	labti_loop_only(t, "lab_lease_hold");
	if (!out || !cb || !name_ok(name))
		return LAB_EINVAL;
	*out = NULL;
	for (size_t i = 0; i < t->leases.n; i++)
		if (!strcmp(((struct lab_lease *)t->leases.v[i])->name, name))
			return LAB_EEXIST;
	struct lab_lease *l = calloc(1, sizeof *l);
	if (!l)
		labti_die("calloc", "out of memory");
	l->t = t;
	l->name = labti_strdup(name);
	l->cb = cb;
	l->ud = ud;
	labti_vec_push(&t->leases, l);
	queue_grant(t, l, 0);
	*out = l;
	return 0;
}

static int api_lease_valid(lab_ctx *ctx, const lab_lease *l)
{
	struct labt *t = labti_of(ctx);
	return vfind(&t->leases, l) >= 0 && l->held;
}

static void lease_free(struct labt *t, struct lab_lease *l)
{
	/* Pending grant events find it gone (vfind) — drop them first. */
	for (size_t i = t->queue.n; i-- > 0;) {
		struct labt_ev *e = t->queue.v[i];
		if (e->kind == EV_CLUSTER && e->cluster_obj == l)
			labti_ev_drop(t, e);
	}
	free(l->name);
	free(l);
}

static int api_lease_release(lab_ctx *ctx, lab_lease *l)
{
	struct labt *t = labti_of(ctx);
	labti_loop_only(t, "lab_lease_release");
	int i = vfind(&t->leases, l);
	if (i < 0)
		return LAB_EINVAL;
	labti_vec_del(&t->leases, (size_t)i);
	lease_free(t, l);
	return 0;
}

int labt_lease_lose(labt *t, const char *name, int64_t regain_after_ms)
{
	for (size_t i = 0; i < t->leases.n; i++) {
		struct lab_lease *l = t->leases.v[i];
		if (strcmp(l->name, name) != 0)
			continue;
		if (!l->held)
			return LAB_ESTATE;
		l->held = 0;
		t->in_callback++;
		l->cb(&t->pub, l, LAB_LEASE_LOST, l->ud);
		t->in_callback--;
		/* The handle may have been released from the callback. */
		if (vfind(&t->leases, l) >= 0 && regain_after_ms >= 0)
			queue_grant(t, l, (uint64_t)regain_after_ms);
		return 0;
	}
	return LAB_ENOENT;
}

int labt_lease_refuse(labt *t, const char *name, int refuse)
{
	int was = -1;
	for (size_t i = 0; i < t->cl_refused.n; i++)
		if (!strcmp(t->cl_refused.v[i], name))
			was = (int)i;
	if (refuse && was < 0)
		labti_vec_push(&t->cl_refused, labti_strdup(name));
	if (refuse || was < 0)
		return 0;
	free(t->cl_refused.v[was]);
	labti_vec_del(&t->cl_refused, (size_t)was);
	for (size_t i = 0; i < t->leases.n; i++) { /* a hold waiting for it: granted now */
		struct lab_lease *l = t->leases.v[i];
		if (!l->held && !strcmp(l->name, name))
			queue_grant(t, l, 0);
	}
	return 0;
}

int labt_lease_held(const labt *t, const char *name)
{
	for (size_t i = 0; i < t->leases.n; i++) {
		const struct lab_lease *l = t->leases.v[i];
		if (!strcmp(l->name, name))
			return l->held;
	}
	return 0;
}

/* ---- claims ---------------------------------------------------------------- */

/* Frees a request with its event (answered or dropped). */
static void pending_free(void *arg)
{
	struct pending *p = arg;
	free(p->name);
	free(p->json);
	free(p);
}

static void claim_fire(struct labt *t, struct labt_ev *e)
{
	struct pending *p = e->cluster_obj;
	int status = 0;
	struct labt_obj *rule = obj_find(&t->cl_rules, p->name);
	for (size_t i = 0; i < t->claims.n; i++)
		if (!strcmp(((struct lab_claim *)t->claims.v[i])->name, p->name))
			status = LAB_EBUSY;
	for (size_t i = 0; !status && i < t->cl_done.n; i++)
		if (!strcmp(t->cl_done.v[i], p->name))
			status = LAB_EEXIST;
	if (!status && rule)
		status = atoi(rule->body.data);
	struct lab_claim *c = NULL;
	if (status == 0) {
		if (!(c = calloc(1, sizeof *c)))
			labti_die("calloc", "out of memory");
		c->t = t;
		c->name = labti_strdup(p->name);
		labti_vec_push(&t->claims, c);
	}
	p->claim_cb(&t->pub, status, c, p->ud); /* p: freed with the event */
}

static int api_claim_acquire(lab_ctx *ctx, const char *name, lab_claim_cb cb, void *ud)
{
	struct labt *t = labti_of(ctx);
	labti_loop_only(t, "lab_claim_acquire");
	if (!cb || !name_ok(name))
		return LAB_EINVAL;
	struct pending *p = calloc(1, sizeof *p);
	if (!p)
		labti_die("calloc", "out of memory");
	p->name = labti_strdup(name);
	p->claim_cb = cb;
	p->ud = ud;
	struct labt_ev *e = labti_ev_new(t, EV_CLUSTER);
	e->cluster_fire = claim_fire;
	e->cluster_free = pending_free;
	e->cluster_obj = p;
	labti_ev_queue(t, e, 0);
	return 0;
}

static int api_claim_valid(lab_ctx *ctx, const lab_claim *c)
{
	return vfind(&labti_of(ctx)->claims, c) >= 0 && !c->lost;
}

static int api_claim_finish(lab_ctx *ctx, lab_claim *c, int completed)
{
	struct labt *t = labti_of(ctx);
	labti_loop_only(t, "lab_claim_finish");
	int i = vfind(&t->claims, c);
	if (i < 0)
		return LAB_EINVAL;
	labti_vec_del(&t->claims, (size_t)i);
	if (completed) /* even when lost, as labd: the plugin checks lab_claim_valid() first */
		labti_vec_push(&t->cl_done, c->name);
	else
		free(c->name);
	free(c);
	return 0;
}

int labt_claim_answer(labt *t, const char *name, int status)
{
	struct labt_obj *o = obj_find(&t->cl_rules, name);
	if (!o) {
		if (!(o = calloc(1, sizeof *o)))
			labti_die("calloc", "out of memory");
		o->key = labti_strdup(name);
		labti_vec_push(&t->cl_rules, o);
	}
	buf_reset(&o->body);
	buf_printf(&o->body, "%d", status);
	return 0;
}

size_t labt_claims_held(const labt *t) { return t->claims.n; }

int labt_claim_lose(labt *t, const char *name)
{
	for (size_t i = 0; i < t->claims.n; i++) {
		struct lab_claim *c = t->claims.v[i];
		if (strcmp(c->name, name) != 0 || c->lost)
			continue;
		c->lost = 1;
		return 0;
	}
	return LAB_ENOENT;
}

int labt_claim_done(const labt *t, const char *name)
{
	for (size_t i = 0; i < t->cl_done.n; i++)
		if (!strcmp(t->cl_done.v[i], name))
			return 1;
	return 0;
}

/* ---- shared state ------------------------------------------------------------ */

/* (a key labt_shared_set() is creating has no revision yet: 0) */
static uint64_t obj_rev(const struct labt_obj *o)
{
	return o && o->ctype ? strtoull(o->ctype, NULL, 10) : 0;
}

static void shared_fire(struct labt *t, struct labt_ev *e)
{
	struct pending *p = e->cluster_obj;
	struct labt_obj *o = obj_find(&t->shared, p->name);
	if (!p->json) { /* get */
		p->shared_cb(&t->pub, o ? 0 : LAB_ENOENT, o ? o->body.data : NULL,
			     o ? o->body.len : 0, obj_rev(o), p->ud);
	} else if (obj_rev(o) != e->rev) {
		p->shared_cb(&t->pub, LAB_EEXIST, o ? o->body.data : NULL, o ? o->body.len : 0,
			     obj_rev(o), p->ud);
	} else {
		char rev[24];
		if (!o) {
			if (!(o = calloc(1, sizeof *o)))
				labti_die("calloc", "out of memory");
			o->key = labti_strdup(p->name);
			labti_vec_push(&t->shared, o);
		}
		buf_reset(&o->body);
		buf_puts(&o->body, p->json);
		snprintf(rev, sizeof rev, "%llu", (unsigned long long)(e->rev + 1));
		free(o->ctype);
		o->ctype = labti_strdup(rev);
		p->shared_cb(&t->pub, 0, NULL, 0, e->rev + 1, p->ud);
	}
}

static int shared_req(struct labt *t, const char *key, const char *json, size_t len,
		      uint64_t rev, lab_shared_cb cb, void *ud)
{
	if (!cb || !name_ok(key))
		return LAB_EINVAL;
	struct pending *p = calloc(1, sizeof *p);
	if (!p)
		labti_die("calloc", "out of memory");
	p->name = labti_strdup(key);
	p->shared_cb = cb;
	p->ud = ud;
	if (json)
		p->json = labti_strndup(json, len);
	struct labt_ev *e = labti_ev_new(t, EV_CLUSTER);
	e->cluster_fire = shared_fire;
	e->cluster_free = pending_free;
	e->cluster_obj = p;
	e->rev = rev;
	labti_ev_queue(t, e, 0);
	return 0;
}

static int api_shared_get(lab_ctx *ctx, const char *key, lab_shared_cb cb, void *ud)
{
	struct labt *t = labti_of(ctx);
	labti_loop_only(t, "lab_shared_get");
	return shared_req(t, key, NULL, 0, 0, cb, ud);
}

static int api_shared_cas(lab_ctx *ctx, const char *key, const char *json, size_t len,
			  uint64_t revision, lab_shared_cb cb, void *ud)
{
	struct labt *t = labti_of(ctx);
	labti_loop_only(t, "lab_shared_cas");
	if (!json || !len)
		return LAB_EINVAL;
	return shared_req(t, key, json, len, revision, cb, ud);
}

const char *labt_shared_value(const labt *t, const char *key, uint64_t *revision)
{
	struct labt_obj *o = obj_find(&t->shared, key);
	if (revision)
		*revision = obj_rev(o);
	return o ? o->body.data : NULL;
}

int labt_shared_set(labt *t, const char *key, const char *json)
{
	struct labt_obj *o = obj_find(&t->shared, key);
	char rev[24];
	if (!o) {
		if (!(o = calloc(1, sizeof *o)))
			labti_die("calloc", "out of memory");
		o->key = labti_strdup(key);
		labti_vec_push(&t->shared, o);
	}
	snprintf(rev, sizeof rev, "%llu", (unsigned long long)(obj_rev(o) + 1));
	buf_reset(&o->body);
	buf_puts(&o->body, json);
	free(o->ctype);
	o->ctype = labti_strdup(rev);
	return 0;
}

static const char *api_cluster_backend(lab_ctx *ctx)
{
	const char *b = labti_of(ctx)->cl_backend;
	return b ? b : "none";
}

void labt_cluster_backend(labt *t, const char *backend)
{
	free(t->cl_backend);
	t->cl_backend = backend && strcmp(backend, "none") != 0 ? labti_strdup(backend) : NULL;
}

static const char *api_cluster_node(lab_ctx *ctx)
{
	(void)ctx;
	return "labt";
}

void labti_cluster_fill(lab_host_api *api)
{
	api->lease_hold = api_lease_hold;
	api->lease_valid = api_lease_valid;
	api->lease_release = api_lease_release;
	api->claim_acquire = api_claim_acquire;
	api->claim_valid = api_claim_valid;
	api->claim_finish = api_claim_finish;
	api->shared_get = api_shared_get;
	api->shared_cas = api_shared_cas;
	api->cluster_backend = api_cluster_backend;
	api->cluster_node = api_cluster_node;
}

static void objs_free(struct labt_vec *v)
{
	for (size_t i = 0; i < v->n; i++) {
		struct labt_obj *o = v->v[i];
		free(o->key);
		buf_free(&o->body);
		free(o->ctype);
		free(o);
	}
	free(v->v);
	v->v = NULL;
	v->n = 0;
}

void labti_cluster_free(struct labt *t)
{
	/* labt_free dropped the events first (with their requests). */
	for (size_t i = 0; i < t->leases.n; i++)
		lease_free(t, t->leases.v[i]);
	free(t->leases.v);
	for (size_t i = 0; i < t->claims.n; i++) {
		struct lab_claim *c = t->claims.v[i];
		free(c->name);
		free(c);
	}
	free(t->claims.v);
	for (size_t i = 0; i < t->cl_done.n; i++)
		free(t->cl_done.v[i]);
	free(t->cl_done.v);
	objs_free(&t->cl_rules);
	objs_free(&t->shared);
	for (size_t i = 0; i < t->cl_refused.n; i++)
		free(t->cl_refused.v[i]);
	free(t->cl_refused.v);
	free(t->cl_backend);
}
