/*
 * cluster — the beacon plugin on several daemons (SDK 1.5 cluster services,
 * docs/cluster.md).  Only when the host's cluster backend is not "none":
 * with backend "none", or on a host older than SDK 1.5, none of this runs
 * and the loops of loops.c behave exactly as on one daemon.
 *
 *   head             under the lease "NETWORK/head" (the host names it
 *                    beacon/NETWORK/head): one daemon of the cluster runs
 *                    it.  Its cursor (last_head, pending, missed) is the
 *                    shared state "NETWORK/head", written with compare-and-
 *                    set after every save, so a daemon that takes the lease
 *                    over continues where the last holder stopped.
 *   trailing         every daemon: the slots to do are the holder's pending
 *                    list (its own copy on the holder, the shared
 *                    "NETWORK/head" read once per round elsewhere).  Each
 *                    slot is claimed alone, "NETWORK/trail/SLOT", and the
 *                    claim finished as done only when the slot was stored,
 *                    existed or is missed (past its grace period) with the
 *                    claim still valid; a slot still without a block within
 *                    its grace is released for a later round; such young
 *                    slots are asked for by the holder only (they mostly
 *                    wait for their block: N daemons asking every round
 *                    would only multiply the queries).  The holder
 *                    drops a pending slot when its claim answers EEXIST (done
 *                    by some daemon).  Why these names cannot collide with
 *                    backfill: trailing claims live under "trail/", backfill
 *                    under "slots/", so a trailing done marker never reads as
 *                    a finished backfill range; and trailing takes only slots
 *                    above the shared backfill top, backfill only slots at or
 *                    below it (the top is fixed cluster-wide by the first
 *                    daemon), so no slot is ever held by both kinds at once.
 *   backfill         every daemon: the slots from the shared top down to the
 *                    target are cut into ranges of BC_CLAIM_SLOTS aligned on
 *                    multiples of it ("NETWORK/slots/START-END", the same
 *                    names on every daemon whatever its clock or settings),
 *                    each claimed before it runs as one batch.  BUSY (another
 *                    daemon has it) = retried later; EEXIST (a done marker)
 *                    = finished.  The shared state "NETWORK/backfill"
 *                    {"top":T,"done_to":F} holds the top (fixed by the first
 *                    daemon) and the frontier F: every range from F up to
 *                    the top is done; a (re)starting daemon walks from it.
 * A document produced under a lease or claim is stored only while it is
 * still valid (batch.c checks right before the put): a daemon that lost it
 * while a query was in flight does not overwrite the new holder's work.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "beacon.h"
#include "cluster_mode.h"

#define TRAIL_HOUR_SLOTS 300 /* as loops.c: the hour trailing takes on a first start */
#define RETRY_BUSY_MS 2000   /* a range another daemon holds: look again */
#define RETRY_ERROR_MS 5000  /* the KV unreachable, or a batch failed */
#define PUMP_TICK_MS 1000

struct bc_cl_range {
	uint64_t start;
	uint64_t at_ms; /* monotonic: not before */
};

struct bc_cl;
struct claimreq { /* a backfill claim request (in bc_cl, see trreq) */
	struct bc_cl *cl;
	uint64_t start;
	int used;
};
struct trreq { /* a trailing claim request: in bc_cl, no allocation (an
		* answer pending at stop is dropped by the host, never delivered) */
	struct bc_cl *cl;
	size_t i;
};

struct bc_cl {
	struct bc_net *net;
	/* head */
	lab_lease *head;
	int head_held;  /* ACQUIRED, not LOST */
	int head_ready; /* and the shared head state read */
	uint64_t head_rev;
	int head_saving, head_dirty;
	/* trailing: one round at a time, newest first, `concurrency` claims */
	int tr_busy;       /* a round's claims asked for, or its batch running */
	int tr_reading;    /* the shared head state is being read */
	int tr_asked;      /* claim answers still to come */
	uint64_t tr_below; /* the round takes slots below this */
	uint64_t *tr;      /* not the holder: the holder's pending list as read */
	size_t ntr, captr;
	size_t tr_n;
	uint64_t tr_slots[BC_MAX_BATCH]; /* the round's slots, descending */
	lab_claim *tr_claim[BC_MAX_BATCH];
	lab_claim *tr_bclaims[BC_MAX_BATCH]; /* the batch's, aligned with its slots */
	struct trreq tr_req[BC_MAX_BATCH];
	struct claimreq bf_req[BC_MAX_INFLIGHT]; /* inflight bounds the requests out */
	int tr_dropped;                      /* the holder dropped pending slots */
	uint64_t tr_granted, tr_busy_n, tr_done, tr_error;
	/* backfill */
	int bf_ready;
	uint64_t top;
	uint64_t frontier; /* start of the lowest range such that all above are done */
	uint64_t cursor;   /* next range start to claim; UINT64_MAX: walked to the target */
	uint64_t bf_rev;
	int bf_saving, bf_dirty;
	uint64_t saved_frontier;
	uint64_t *done; /* ranges done below the frontier, unsorted */
	size_t ndone, capdone;
	struct bc_cl_range *retry;
	size_t nretry, capretry;
	int inflight; /* claims asked for + batches running */
	int finished_logged;
	lab_timer *tick;
	uint64_t claims_granted, claims_busy, claims_done, claims_error;
};

/* ---- helpers ------------------------------------------------------------- */

int bc_cl_enabled(lab_ctx *ctx) { return cluster_mode(ctx); }

static uint64_t range_start(uint64_t slot) { return slot - slot % BC_CLAIM_SLOTS; }

static void range_name(const struct bc_net *net, uint64_t start, char *out, size_t cap)
{
	snprintf(out, cap, "%s/slots/%" PRIu64 "-%" PRIu64, net->name, start,
		 start + BC_CLAIM_SLOTS - 1);
}

static json_object *parse(const char *js, size_t len)
{
	json_tokener *tok = json_tokener_new();
	json_object *o = tok && js ? json_tokener_parse_ex(tok, js, (int)len) : NULL;
	if (tok)
		json_tokener_free(tok);
	if (o && !json_object_is_type(o, json_type_object)) {
		json_object_put(o);
		o = NULL;
	}
	return o;
}

/* ---- backfill: the shared top and frontier ---------------------------------- */

static void bf_save(struct bc_cl *cl);

static int bf_finished(const struct bc_cl *cl)
{
	const struct bc_net *net = cl->net;
	return cl->top < net->target || cl->frontier <= net->target || cl->frontier == 0;
}

/* The progress line and the local state show the frontier as the cursor. */
static void bf_publish(struct bc_cl *cl)
{
	struct bc_net *net = cl->net;
	net->bf_have = 1;
	net->bf_finished = bf_finished(cl);
	net->bf_next = cl->frontier > 0 ? cl->frontier - 1 : 0;
	if (net->bf_next > cl->top)
		net->bf_next = cl->top;
}

static int done_has(struct bc_cl *cl, uint64_t start, int take)
{
	for (size_t i = 0; i < cl->ndone; i++)
		if (cl->done[i] == start) {
			if (take)
				cl->done[i] = cl->done[--cl->ndone];
			return 1;
		}
	return 0;
}

/* Range `start` is done (stored here, or a done marker): the frontier moves
 * down over every contiguous done range below it. */
static void mark_done(struct bc_cl *cl, uint64_t start)
{
	struct bc_net *net = cl->net;
	if (start >= cl->frontier)
		return;
	if (start + BC_CLAIM_SLOTS != cl->frontier) {
		if (done_has(cl, start, 0))
			return;
		if (cl->ndone == cl->capdone) {
			size_t cap = cl->capdone ? cl->capdone * 2 : 64;
			uint64_t *p = realloc(cl->done, cap * sizeof *p);
			if (!p)
				return; /* the frontier stays: the range is claimed (EEXIST) again later */
			cl->done = p;
			cl->capdone = cap;
		}
		cl->done[cl->ndone++] = start;
		return;
	}
	uint64_t before = cl->frontier;
	cl->frontier = start;
	while (cl->frontier >= BC_CLAIM_SLOTS && done_has(cl, cl->frontier - BC_CLAIM_SLOTS, 1))
		cl->frontier -= BC_CLAIM_SLOTS;
	bc_progress_count(net, BC_LOOP_BACKFILL,
			  (before > cl->top + 1 ? cl->top + 1 : before) -
				  (cl->frontier > net->target ? cl->frontier : net->target));
	bf_publish(cl);
	bf_save(cl);
	if (bf_finished(cl) && !cl->finished_logged) {
		cl->finished_logged = 1;
		lab_logkv(net->bc->ctx, LAB_LOG_INFO, "backfill finished", LAB_FS("network", net->name),
			  LAB_FI("target", net->target), LAB_FS("cluster", "claims"));
	}
}

static void bf_json(const struct bc_cl *cl, uint64_t frontier, struct buf *j)
{
	buf_puts(j, "{\"top\":");
	buf_u64(j, cl->top);
	buf_puts(j, ",\"done_to\":");
	buf_u64(j, frontier);
	buf_putc(j, '}');
}

/* Reads {"top":T,"done_to":F}; -1 when malformed. */
static int bf_parse(const char *js, size_t len, uint64_t *top, uint64_t *frontier)
{
	json_object *o = parse(js, len), *v;
	int rc = -1;
	if (o && json_object_object_get_ex(o, "top", &v) && bc_json_u64(v, top) == 0 &&
	    json_object_object_get_ex(o, "done_to", &v) && bc_json_u64(v, frontier) == 0)
		rc = 0;
	json_object_put(o);
	return rc;
}

static void bf_saved(lab_ctx *ctx, int status, const char *json, size_t len, uint64_t rev,
		     void *ud)
{
	struct bc_cl *cl = ud;
	uint64_t top, frontier;
	cl->bf_saving = 0;
	if (status == 0) {
		cl->bf_rev = rev;
	} else if (status == LAB_EEXIST && bf_parse(json, len, &top, &frontier) == 0) {
		/* another daemon moved it meanwhile: ours is written on top only
		 * when it is lower (further) than the stored one */
		cl->bf_rev = rev;
		cl->saved_frontier = frontier;
		cl->bf_dirty = 1;
	} else {
		cl->bf_dirty = 1; /* tried again with the next move */
		lab_logkv(ctx, LAB_LOG_WARN, "cannot save the shared backfill frontier",
			  LAB_FS("network", cl->net->name), LAB_FS("error", lab_strerror(status)));
	}
	if (cl->bf_dirty && !cl->net->bc->stopping)
		bf_save(cl);
}

static void bf_save(struct bc_cl *cl)
{
	if (cl->bf_saving) {
		cl->bf_dirty = 1;
		return;
	}
	cl->bf_dirty = 0;
	if (cl->frontier >= cl->saved_frontier)
		return; /* nothing new (or the shared one is further) */
	struct buf j = { 0 };
	char key[160];
	snprintf(key, sizeof key, "%s/backfill", cl->net->name);
	bf_json(cl, cl->frontier, &j);
	cl->saved_frontier = cl->frontier;
	cl->bf_saving = 1;
	if (j.oom || lab_shared_cas(cl->net->bc->ctx, key, j.data, j.len, cl->bf_rev, bf_saved, cl) < 0)
		cl->bf_saving = 0;
	buf_free(&j);
}

/* ---- backfill: claims -------------------------------------------------------- */

static void pump(struct bc_cl *cl);

static void retry_add(struct bc_cl *cl, uint64_t start, uint64_t after_ms)
{
	if (cl->nretry == cl->capretry) {
		size_t cap = cl->capretry ? cl->capretry * 2 : 16;
		struct bc_cl_range *p = realloc(cl->retry, cap * sizeof *p);
		if (!p)
			return; /* walked again after a restart (the frontier stays above it) */
		cl->retry = p;
		cl->capretry = cap;
	}
	cl->retry[cl->nretry].start = start;
	cl->retry[cl->nretry].at_ms = lab_monotonic_ms(cl->net->bc->ctx) + after_ms;
	cl->nretry++;
}

static void range_batch_done(struct batch *b)
{
	struct bc_net *net = b->net;
	struct bc_cl *cl = net->cl;
	lab_ctx *ctx = net->bc->ctx;
	lab_claim *c = b->claim;
	uint64_t start = b->u64;
	int ok = 1;
	for (size_t i = 0; i < b->n; i++)
		if (b->w[i].status == W_FAILED || b->w[i].status == W_TODO)
			ok = 0;
	if (ok)
		bc_settle(b); /* counts, and slots without a block are recorded as missed */
	b->claim = NULL;
	batch_free(b);
	cl->inflight--;
	if (ok && lab_claim_valid(ctx, c)) {
		lab_claim_finish(ctx, c, 1);
		mark_done(cl, start);
	} else {
		/* a query failed, or the claim was lost meanwhile: released, and the
		 * range is claimed again later (what was stored is skipped by the
		 * exists check) */
		lab_claim_finish(ctx, c, 0);
		retry_add(cl, start, RETRY_ERROR_MS);
	}
	bc_state_save(net);
	pump(cl);
}

static void on_claim(lab_ctx *ctx, int status, lab_claim *claim, void *ud)
{
	struct claimreq *rq = ud;
	struct bc_cl *cl = rq->cl;
	struct bc_net *net = cl->net;
	uint64_t start = rq->start;
	rq->used = 0;
	cl->inflight--;
	if (status == 0 && net->bc->stopping) {
		lab_claim_finish(ctx, claim, 0);
		return;
	}
	if (status == 0) {
		cl->claims_granted++;
		uint64_t lo = start > net->target ? start : net->target;
		uint64_t hi = start + BC_CLAIM_SLOTS - 1 < cl->top ? start + BC_CLAIM_SLOTS - 1 : cl->top;
		uint64_t slots[BC_CLAIM_SLOTS];
		size_t n = 0;
		for (uint64_t s = lo; s <= hi; s++)
			slots[n++] = s;
		struct batch *b = NULL;
		int rc = n ? batch_start(net->bc, net, BK_BACKFILL, 0, slots, n, range_batch_done, &b)
			   : LAB_EINVAL;
		if (rc < 0) {
			lab_claim_finish(ctx, claim, 0);
			retry_add(cl, start, RETRY_ERROR_MS);
		} else {
			b->claim = claim;
			b->u64 = start;
			cl->inflight++;
		}
	} else if (status == LAB_EBUSY) {
		cl->claims_busy++;
		retry_add(cl, start, RETRY_BUSY_MS);
	} else if (status == LAB_EEXIST) {
		cl->claims_done++;
		mark_done(cl, start);
	} else {
		cl->claims_error++;
		if (cl->claims_error == 1 || cl->claims_error % 100 == 0)
			lab_logkv(ctx, LAB_LOG_WARN, "cannot claim a backfill range, retried",
				  LAB_FS("network", net->name), LAB_FI("start", start),
				  LAB_FS("error", lab_strerror(status)),
				  LAB_FI("errors", cl->claims_error));
		retry_add(cl, start, RETRY_ERROR_MS);
	}
	pump(cl);
}

/* The next range to claim: a retry that is due, else the walk's cursor. */
static int next_range(struct bc_cl *cl, uint64_t *start)
{
	uint64_t now = lab_monotonic_ms(cl->net->bc->ctx);
	for (size_t i = 0; i < cl->nretry; i++)
		if (cl->retry[i].at_ms <= now) {
			*start = cl->retry[i].start;
			cl->retry[i] = cl->retry[--cl->nretry];
			return 1;
		}
	while (cl->cursor != UINT64_MAX) {
		uint64_t s = cl->cursor;
		if (s + BC_CLAIM_SLOTS - 1 < cl->net->target || s + BC_CLAIM_SLOTS <= s) {
			cl->cursor = UINT64_MAX;
			break;
		}
		cl->cursor = s >= BC_CLAIM_SLOTS ? s - BC_CLAIM_SLOTS : UINT64_MAX;
		if (s < cl->frontier && !done_has(cl, s, 0)) {
			*start = s;
			return 1;
		}
	}
	return 0;
}

static void pump(struct bc_cl *cl)
{
	struct bc_net *net = cl->net;
	struct beacon *bc = net->bc;
	uint64_t start;
	if (bc->stopping || !cl->bf_ready || bf_finished(cl))
		return;
	while (cl->inflight < BC_MAX_INFLIGHT && next_range(cl, &start)) {
		char name[200];
		struct claimreq *rq = NULL;
		for (size_t i = 0; i < BC_MAX_INFLIGHT && !rq; i++)
			if (!cl->bf_req[i].used)
				rq = &cl->bf_req[i];
		if (!rq) { /* cannot happen: inflight counts the requests out */
			retry_add(cl, start, RETRY_BUSY_MS);
			return;
		}
		rq->cl = cl;
		rq->start = start;
		rq->used = 1;
		range_name(net, start, name, sizeof name);
		cl->inflight++;
		int rc = lab_claim_acquire(bc->ctx, name, on_claim, rq);
		if (rc < 0) {
			cl->inflight--;
			rq->used = 0;
			retry_add(cl, start, RETRY_ERROR_MS);
			return;
		}
	}
}

static void on_tick(lab_ctx *ctx, lab_timer *t, void *ud)
{
	(void)ctx;
	(void)t;
	pump(ud);
}

/* ---- head: the lease and its shared state ---------------------------------------- */

static void head_saved(lab_ctx *ctx, int status, const char *json, size_t len, uint64_t rev,
		       void *ud)
{
	struct bc_cl *cl = ud;
	(void)json;
	(void)len;
	cl->head_saving = 0;
	if (status == 0 || status == LAB_EEXIST)
		cl->head_rev = rev; /* EEXIST: written by another holder; ours goes on top if we still hold */
	if (status < 0 && status != LAB_EEXIST)
		lab_logkv(ctx, LAB_LOG_WARN, "cannot save the shared head state",
			  LAB_FS("network", cl->net->name), LAB_FS("error", lab_strerror(status)));
	if (cl->head_dirty && !cl->net->bc->stopping)
		bc_cl_head_save(cl->net);
}

void bc_cl_head_save(struct bc_net *net)
{
	struct bc_cl *cl = net->cl;
	lab_ctx *ctx = net->bc->ctx;
	if (!cl || !cl->head_ready || !lab_lease_valid(ctx, cl->head))
		return; /* only the holder writes the head's cursor */
	if (cl->head_saving) {
		cl->head_dirty = 1;
		return;
	}
	cl->head_dirty = 0;
	struct buf j = { 0 };
	char key[160];
	snprintf(key, sizeof key, "%s/head", net->name);
	buf_putc(&j, '{');
	bc_state_head_fields(net, &j);
	buf_putc(&j, '}');
	cl->head_saving = 1;
	if (j.oom || lab_shared_cas(ctx, key, j.data, j.len, cl->head_rev, head_saved, cl) < 0)
		cl->head_saving = 0;
	buf_free(&j);
}

static void head_loaded(lab_ctx *ctx, int status, const char *json, size_t len, uint64_t rev,
			void *ud);

static void head_reload(lab_ctx *ctx, lab_timer *t, void *ud)
{
	struct bc_cl *cl = ud;
	char key[160];
	(void)t;
	if (!cl->head_held || cl->net->bc->stopping)
		return;
	snprintf(key, sizeof key, "%s/head", cl->net->name);
	if (lab_shared_get(ctx, key, head_loaded, cl) < 0)
		lab_timer_start(ctx, RETRY_ERROR_MS, 0, head_reload, cl, NULL);
}

static void head_loaded(lab_ctx *ctx, int status, const char *json, size_t len, uint64_t rev,
			void *ud)
{
	struct bc_cl *cl = ud;
	struct bc_net *net = cl->net;
	if (!cl->head_held || net->bc->stopping)
		return; /* lost meanwhile: the next ACQUIRED reads again */
	if (status < 0 && status != LAB_ENOENT) {
		lab_logkv(ctx, LAB_LOG_WARN, "cannot read the shared head state, retried",
			  LAB_FS("network", net->name), LAB_FS("error", lab_strerror(status)));
		lab_timer_start(ctx, RETRY_ERROR_MS, 0, head_reload, cl, NULL);
		return;
	}
	net->npending = 0;
	net->nmissed = 0;
	uint64_t h = bc_head_target(net);
	if (status == 0) {
		cl->head_rev = rev;
		bc_state_parse_head(net, json, len);
	} else {
		/* first head of the cluster: trailing takes the slots between the
		 * shared backfill top and the head */
		cl->head_rev = 0;
		uint64_t from = cl->top + 1;
		if (h > from && h - from > BC_PENDING_MAX / 2)
			from = h - BC_PENDING_MAX / 2;
		for (uint64_t s = from; s < h; s++)
			bc_pending_add(net, s);
		net->last_head = h > 0 ? h - 1 : 0;
	}
	cl->head_ready = 1;
	lab_logkv(ctx, LAB_LOG_INFO, "head lease acquired", LAB_FS("network", net->name),
		  LAB_FI("head", h), LAB_FI("last_head", net->last_head),
		  LAB_FI("pending", net->npending));
	bc_cl_head_save(net);
	bc_head_resume(net);
}

static void on_head_lease(lab_ctx *ctx, lab_lease *l, int event, void *ud)
{
	struct bc_cl *cl = ud;
	struct bc_net *net = cl->net;
	(void)l;
	if (event == LAB_LEASE_LOST) {
		cl->head_held = cl->head_ready = 0;
		lab_logkv(ctx, LAB_LOG_WARN, "head lease lost: the head stops",
			  LAB_FS("network", net->name));
		return;
	}
	if (event != LAB_LEASE_ACQUIRED || cl->head_held)
		return;
	cl->head_held = 1;
	head_reload(ctx, NULL, cl);
}

int bc_cl_head_ok(const struct bc_net *net)
{
	const struct bc_cl *cl = net->cl;
	if (!cl)
		return 1;
	return cl->head_ready && lab_lease_valid(net->bc->ctx, cl->head);
}

const lab_lease *bc_cl_head_lease(const struct bc_net *net)
{
	return net->cl ? net->cl->head : NULL;
}

int bc_cl_may_store(const struct batch *b, size_t i)
{
	lab_ctx *ctx = b->bc->ctx;
	if (b->claims && b->claims[i] && !lab_claim_valid(ctx, b->claims[i]))
		return 0;
	if (b->claim && !lab_claim_valid(ctx, b->claim))
		return 0;
	if (b->lease && !lab_lease_valid(ctx, b->lease))
		return 0;
	return 1;
}

/* ---- trailing: every daemon claims the pending slots one by one ---------------------- */

static int is_holder(const struct bc_cl *cl)
{
	return cl->head_ready && lab_lease_valid(cl->net->bc->ctx, cl->head);
}

static void tr_round(struct bc_cl *cl);

static void tr_batch_done(struct batch *b)
{
	struct bc_net *net = b->net;
	struct bc_cl *cl = net->cl;
	lab_ctx *ctx = net->bc->ctx;
	size_t n = b->n;
	for (size_t i = 0; i < n; i++) {
		lab_claim *c = cl->tr_bclaims[i];
		int st = b->w[i].status;
		int done = st == W_STORED || st == W_EXISTS ||
			   (st == W_NOBLOCK && bc_past_grace(net, b->slots[i]));
		/* lost meanwhile: not stored (batch.c), another daemon redoes it */
		done = done && lab_claim_valid(ctx, c);
		if (done)
			cl->tr_done++;
		lab_claim_finish(ctx, c, done);
		cl->tr_bclaims[i] = NULL;
	}
	b->claims = NULL;
	bc_settle(b); /* counts; on the holder: out of pending, or pending again */
	if (!is_holder(cl))
		net->npending = 0; /* only the holder keeps the list (shared) */
	batch_free(b);
	cl->tr_busy = 0;
	bc_state_save(net);
	tr_round(cl);
}

/* Every answer is in: one batch over the granted slots. */
static void tr_launch(struct bc_cl *cl)
{
	struct bc_net *net = cl->net;
	lab_ctx *ctx = net->bc->ctx;
	uint64_t slots[BC_MAX_BATCH];
	size_t m = 0;
	for (size_t i = cl->tr_n; i > 0; i--) /* ascending for batch_start */
		if (cl->tr_claim[i - 1]) {
			slots[m] = cl->tr_slots[i - 1];
			cl->tr_bclaims[m++] = cl->tr_claim[i - 1];
			cl->tr_claim[i - 1] = NULL;
		}
	if (cl->tr_dropped) {
		cl->tr_dropped = 0;
		bc_state_save(net);
	}
	struct batch *b = NULL;
	if (m && !net->bc->stopping &&
	    batch_start(net->bc, net, BK_TRAIL, 0, slots, m, tr_batch_done, &b) == 0) {
		b->claims = cl->tr_bclaims;
		return;
	}
	for (size_t i = 0; i < m; i++) {
		lab_claim_finish(ctx, cl->tr_bclaims[i], 0);
		cl->tr_bclaims[i] = NULL;
	}
	cl->tr_busy = 0;
	if (!m)
		tr_round(cl); /* none granted here: on below */
}

static void on_trail_claim(lab_ctx *ctx, int status, lab_claim *claim, void *ud)
{
	const struct trreq *rq = ud;
	struct bc_cl *cl = rq->cl;
	struct bc_net *net = cl->net;
	size_t i = rq->i;
	if (status == 0 && net->bc->stopping) {
		lab_claim_finish(ctx, claim, 0);
	} else if (status == 0) {
		cl->tr_granted++;
		cl->tr_claim[i] = claim;
	} else if (status == LAB_EBUSY) {
		cl->tr_busy_n++; /* another daemon has it now */
	} else if (status == LAB_EEXIST) {
		cl->tr_done++;
		if (is_holder(cl)) { /* done by some daemon: off the shared list */
			bc_pending_del(net, cl->tr_slots[i]);
			cl->tr_dropped = 1;
		}
	} else {
		cl->tr_error++;
		if (cl->tr_error == 1 || cl->tr_error % 100 == 0)
			lab_logkv(ctx, LAB_LOG_WARN, "cannot claim a trailing slot, retried",
				  LAB_FS("network", net->name), LAB_FI("slot", cl->tr_slots[i]),
				  LAB_FS("error", lab_strerror(status)), LAB_FI("errors", cl->tr_error));
	}
	if (--cl->tr_asked == 0)
		tr_launch(cl);
}

/* The next `concurrency` slots of the round below tr_below, newest first,
 * each claimed; the batch starts when every answer is in. */
static void tr_round(struct bc_cl *cl)
{
	struct bc_net *net = cl->net;
	struct beacon *bc = net->bc;
	if (bc->stopping || cl->tr_busy || !cl->bf_ready)
		return;
	int holder = is_holder(cl);
	const uint64_t *list = holder ? net->pending : cl->tr;
	size_t nlist = holder ? net->npending : cl->ntr;
	uint64_t h = holder && net->head_busy ? net->head_slot : UINT64_MAX;
	size_t per = (size_t)net->concurrency, n = 0;
	if (per > BC_MAX_BATCH)
		per = BC_MAX_BATCH;
	for (size_t i = nlist; i > 0 && n < per; i--) {
		uint64_t s = list[i - 1];
		/* at or below the top: backfill's (see the comment at the top).
		 * A slot still inside its grace usually waits for its block:
		 * the holder alone asks for it each round, as a single daemon
		 * does; the others help with the older backlog, where every
		 * answer is final (stored, exists or missed). */
		if (s < cl->tr_below && s != h && s > cl->top &&
		    (holder || bc_past_grace(net, s)))
			cl->tr_slots[n++] = s;
	}
	if (!n)
		return;
	cl->tr_below = cl->tr_slots[n - 1];
	cl->tr_n = n;
	cl->tr_busy = 1;
	cl->tr_asked = (int)n + 1; /* + 1: no launch before every request is out */
	for (size_t i = 0; i < n; i++) {
		char name[200];
		struct trreq *rq = &cl->tr_req[i];
		cl->tr_claim[i] = NULL;
		snprintf(name, sizeof name, "%s/trail/%" PRIu64, net->name, cl->tr_slots[i]);
		rq->cl = cl;
		rq->i = i;
		if (lab_claim_acquire(bc->ctx, name, on_trail_claim, rq) < 0)
			cl->tr_asked--;
	}
	if (--cl->tr_asked == 0)
		tr_launch(cl);
}

/* Not the holder: the holder's pending list, from the shared head state.
 * Untrusted: slots beyond the head (plus an epoch) or at/below the top
 * are ignored. */
static void tr_loaded(lab_ctx *ctx, int status, const char *json, size_t len, uint64_t rev,
		      void *ud)
{
	struct bc_cl *cl = ud;
	struct bc_net *net = cl->net;
	json_object *o = status == 0 ? parse(json, len) : NULL, *v;
	(void)rev;
	cl->tr_reading = 0;
	if (net->bc->stopping)
		goto out;
	cl->ntr = 0;
	uint64_t limit = bc_head_target(net) + (uint64_t)lab_network_slots_per_epoch(ctx, net->nw);
	if (o && json_object_object_get_ex(o, "pending", &v) &&
	    json_object_is_type(v, json_type_array)) {
		size_t n = json_object_array_length(v);
		for (size_t i = 0; i < n && cl->ntr < BC_PENDING_MAX; i++) {
			uint64_t s;
			if (bc_json_u64(json_object_array_get_idx(v, i), &s) < 0 || s > limit ||
			    s <= cl->top)
				continue;
			/* kept ascending, as the holder's */
			if (bc_slots_insert(&cl->tr, &cl->ntr, &cl->captr, s) < 0)
				break;
		}
	} else if (status < 0 && status != LAB_ENOENT) {
		lab_logkv(ctx, LAB_LOG_DEBUG, "cannot read the shared head state for trailing",
			  LAB_FS("network", net->name), LAB_FS("error", lab_strerror(status)));
	}
	tr_round(cl);
out:
	json_object_put(o);
}

void bc_cl_trail_fire(struct bc_net *net)
{
	struct bc_cl *cl = net->cl;
	char key[160];
	if (!cl || cl->tr_busy || cl->tr_reading || net->bc->stopping)
		return;
	cl->tr_below = UINT64_MAX; /* a new round */
	if (is_holder(cl)) {
		tr_round(cl);
		return;
	}
	snprintf(key, sizeof key, "%s/head", net->name);
	cl->tr_reading = 1;
	if (lab_shared_get(net->bc->ctx, key, tr_loaded, cl) < 0)
		cl->tr_reading = 0;
}

/* ---- start ------------------------------------------------------------------------ */

static void hold_head(struct bc_cl *cl)
{
	struct bc_net *net = cl->net;
	char name[160];
	snprintf(name, sizeof name, "%s/head", net->name);
	int rc = lab_lease_hold(net->bc->ctx, name, on_head_lease, cl, &cl->head);
	if (rc < 0)
		lab_logkv(net->bc->ctx, LAB_LOG_ERROR, "cannot hold the head lease",
			  LAB_FS("network", net->name), LAB_FS("error", lab_strerror(rc)));
}

static void bf_begin(struct bc_cl *cl, uint64_t top, uint64_t frontier, uint64_t rev)
{
	struct bc_net *net = cl->net;
	const char *node = lab_cluster_node(net->bc->ctx);
	cl->top = top;
	cl->frontier = frontier;
	cl->saved_frontier = frontier;
	cl->bf_rev = rev;
	cl->cursor = frontier >= BC_CLAIM_SLOTS ? frontier - BC_CLAIM_SLOTS : UINT64_MAX;
	cl->bf_ready = 1;
	bf_publish(cl);
	lab_logkv(net->bc->ctx, LAB_LOG_INFO, "beacon started", LAB_FS("network", net->name),
		  LAB_FS("cluster", lab_cluster_backend(net->bc->ctx)),
		  LAB_FS("node", node ? node : "?"), LAB_FI("backfill_top", top),
		  LAB_FI("backfill_done_to", frontier), LAB_FI("backfill_target", net->target),
		  LAB_FS("backfill", bf_finished(cl) ? "finished" : "running"));
	hold_head(cl);
	pump(cl);
}

static void bf_loaded(lab_ctx *ctx, int status, const char *json, size_t len, uint64_t rev,
		      void *ud);

static void bf_created(lab_ctx *ctx, int status, const char *json, size_t len, uint64_t rev,
		       void *ud)
{
	struct bc_cl *cl = ud;
	if (status == LAB_EEXIST) { /* another daemon was first: its top */
		bf_loaded(ctx, 0, json, len, rev, ud);
		return;
	}
	if (status < 0) {
		bf_loaded(ctx, status, NULL, 0, 0, ud); /* retried */
		return;
	}
	bf_begin(cl, cl->top, cl->frontier, rev);
}

static void bf_retry(lab_ctx *ctx, lab_timer *t, void *ud)
{
	struct bc_cl *cl = ud;
	char key[160];
	(void)t;
	snprintf(key, sizeof key, "%s/backfill", cl->net->name);
	if (lab_shared_get(ctx, key, bf_loaded, cl) < 0)
		lab_timer_start(ctx, RETRY_ERROR_MS, 0, bf_retry, cl, NULL);
}

static void bf_loaded(lab_ctx *ctx, int status, const char *json, size_t len, uint64_t rev,
		      void *ud)
{
	struct bc_cl *cl = ud;
	struct bc_net *net = cl->net;
	uint64_t top, frontier;
	if (net->bc->stopping)
		return;
	if (status == 0 && bf_parse(json, len, &top, &frontier) == 0) {
		bf_begin(cl, top, frontier, rev);
		return;
	}
	if (status == 0 || status == LAB_ENOENT) {
		/* none yet (or unreadable: replaced): this daemon's top, created
		 * only if absent (revision 0), so the first daemon fixes it */
		uint64_t h = bc_head_target(net);
		uint64_t from = h > TRAIL_HOUR_SLOTS ? h - TRAIL_HOUR_SLOTS : 0;
		if (status == 0)
			lab_logkv(ctx, LAB_LOG_WARN, "ignoring malformed shared backfill state",
				  LAB_FS("network", net->name));
		cl->top = from > 0 ? from - 1 : 0;
		cl->frontier = range_start(cl->top) + BC_CLAIM_SLOTS; /* nothing done */
		struct buf j = { 0 };
		char key[160];
		snprintf(key, sizeof key, "%s/backfill", net->name);
		bf_json(cl, cl->frontier, &j);
		int rc = j.oom ? LAB_ENOMEM
			       : lab_shared_cas(ctx, key, j.data, j.len, status == 0 ? rev : 0,
						bf_created, cl);
		buf_free(&j);
		if (rc >= 0)
			return;
		status = rc;
	}
	lab_logkv(ctx, LAB_LOG_WARN, "cannot read the shared backfill state, retried",
		  LAB_FS("network", net->name), LAB_FS("error", lab_strerror(status)));
	lab_timer_start(ctx, RETRY_ERROR_MS, 0, bf_retry, cl, NULL);
}

int bc_cl_begin(struct bc_net *net)
{
	struct beacon *bc = net->bc;
	struct bc_cl *cl = calloc(1, sizeof *cl);
	if (!cl)
		return LAB_ENOMEM;
	cl->net = net;
	net->cl = cl;
	/* the loops of loops.c wait: backfill is replaced by claims, head and
	 * trailing wait for the lease */
	net->npending = 0;
	net->bf_have = 0;
	lab_timer_start(bc->ctx, PUMP_TICK_MS, PUMP_TICK_MS, on_tick, cl, &cl->tick);
	bf_retry(bc->ctx, NULL, cl);
	return 0;
}

void bc_cl_pump(struct bc_net *net)
{
	if (net->cl)
		pump(net->cl);
}

void bc_cl_free(struct bc_net *net)
{
	struct bc_cl *cl = net->cl;
	if (!cl)
		return;
	/* leases and claims are released by the host when the plugin stops */
	free(cl->done);
	free(cl->retry);
	free(cl->tr);
	free(cl);
	net->cl = NULL;
}
