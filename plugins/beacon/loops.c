/*
 * loops — the beacon plugin's scheduling (see beacon.c for the overview):
 * state of each network, the --once walk, and the head, trailing and
 * backfill loops on top of the batch engine (batch.c).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "beacon.h"

#define GRACE_EPOCHS 2
#define TRAIL_HOUR_SLOTS 300

static uint64_t current_slot(struct beacon *bc, struct bc_net *net)
{
	return lab_network_slot_at(bc->ctx, net->nw, lab_now(bc->ctx));
}

static uint64_t head_target(struct beacon *bc, struct bc_net *net)
{
	uint64_t cur = current_slot(bc, net);
	return cur > (uint64_t)net->head_lag ? cur - (uint64_t)net->head_lag : 0;
}

/* A slot without a block is missed once its grace period (2 epochs) is over. */
static int past_grace(struct beacon *bc, struct bc_net *net, uint64_t slot)
{
	int64_t t = lab_network_slot_time(bc->ctx, net->nw, slot);
	int64_t grace = (int64_t)GRACE_EPOCHS * lab_network_slots_per_epoch(bc->ctx, net->nw) *
			lab_network_seconds_per_slot(bc->ctx, net->nw);
	return lab_now(bc->ctx) >= t + grace;
}

/* ---- state ---------------------------------------------------------------- */

void bc_state_head_fields(const struct bc_net *net, struct buf *j)
{
	buf_puts(j, "\"last_head\":");
	buf_u64(j, net->last_head);
	buf_puts(j, ",\"pending\":[");
	for (size_t i = 0; i < net->npending; i++) {
		if (i)
			buf_putc(j, ',');
		buf_u64(j, net->pending[i]);
	}
	buf_puts(j, "],\"missed\":[");
	for (size_t i = 0; i < net->nmissed; i++) {
		if (i)
			buf_putc(j, ',');
		buf_u64(j, net->missed[i]);
	}
	buf_putc(j, ']');
}

void bc_state_save(struct bc_net *net)
{
	struct beacon *bc = net->bc;
	struct buf j = { 0 };
	char key[160];
	snprintf(key, sizeof key, "slot_%s", net->name);
	buf_puts(&j, "{\"backfill\":");
	if (net->bf_have) {
		buf_puts(&j, "{\"next\":");
		buf_i64(&j, net->bf_finished ? -1 : (int64_t)net->bf_next);
		buf_puts(&j, ",\"target\":");
		buf_u64(&j, net->target);
		buf_putc(&j, '}');
	} else {
		buf_puts(&j, "null");
	}
	buf_putc(&j, ',');
	bc_state_head_fields(net, &j);
	buf_putc(&j, '}');
	int rc = j.oom ? LAB_ENOMEM : lab_state_set(bc->ctx, key, j.data, j.len);
	if (rc < 0)
		lab_logkv(bc->ctx, LAB_LOG_WARN, "cannot save state", LAB_FS("network", net->name),
			  LAB_FS("error", lab_strerror(rc)));
	buf_free(&j);
	if (net->cl)
		bc_cl_head_save(net); /* the head's cursor, for a daemon taking over */
}

static int pending_has(const struct bc_net *net, uint64_t slot)
{
	for (size_t i = 0; i < net->npending; i++)
		if (net->pending[i] == slot)
			return 1;
	return 0;
}

void bc_pending_add(struct bc_net *net, uint64_t slot)
{
	if (pending_has(net, slot))
		return;
	if (net->npending >= BC_PENDING_MAX) {
		lab_logkv(net->bc->ctx, LAB_LOG_WARN, "trailing queue full, slot dropped",
			  LAB_FS("network", net->name), LAB_FI("slot", slot));
		return;
	}
	bc_slots_insert(&net->pending, &net->npending, &net->cappending, slot);
}

int bc_slots_insert(uint64_t **v, size_t *n, size_t *cap, uint64_t slot)
{
	if (*n == *cap) {
		size_t c = *cap ? *cap * 2 : 64;
		uint64_t *p = realloc(*v, c * sizeof *p);
		if (!p)
			return LAB_ENOMEM;
		*v = p;
		*cap = c;
	}
	size_t i = (*n)++;
	while (i > 0 && (*v)[i - 1] > slot) { /* keep ascending */
		(*v)[i] = (*v)[i - 1];
		i--;
	}
	(*v)[i] = slot;
	return 0;
}

#define pending_add bc_pending_add
#define pending_del bc_pending_del

void bc_pending_del(struct bc_net *net, uint64_t slot)
{
	for (size_t i = 0; i < net->npending; i++)
		if (net->pending[i] == slot) {
			memmove(&net->pending[i], &net->pending[i + 1],
				(net->npending - i - 1) * sizeof *net->pending);
			net->npending--;
			return;
		}
}

/* A missed slot that got its document after all (reprocess). */
static void missed_del(struct bc_net *net, uint64_t slot)
{
	for (size_t i = 0; i < net->nmissed; i++)
		if (net->missed[i] == slot) {
			memmove(&net->missed[i], &net->missed[i + 1],
				(net->nmissed - i - 1) * sizeof net->missed[0]);
			net->nmissed--;
			return;
		}
}

static void missed_add(struct bc_net *net, uint64_t slot)
{
	for (size_t i = 0; i < net->nmissed; i++)
		if (net->missed[i] == slot)
			return;
	if (net->nmissed == BC_MISSED_KEEP) {
		memmove(&net->missed[0], &net->missed[1], (BC_MISSED_KEEP - 1) * sizeof net->missed[0]);
		net->nmissed--;
	}
	net->missed[net->nmissed++] = slot;
	bc_log_slot(net, 1, slot);
}

/* Slots one by one at debug; at info they are counted in the progress line
 * (progress.c): a slot without a block is normal (about 1 in 100 on
 * mainnet, every slot of a range Xatu does not cover), and one info line
 * per slot flooded journald on a backfill. */
void bc_log_slot(struct bc_net *net, int missed, uint64_t slot)
{
	lab_ctx *ctx = net->bc->ctx;
	lab_logkv(ctx, LAB_LOG_DEBUG, missed ? "slot missed" : "slot stored",
		  LAB_FS("network", net->name), LAB_FI("slot", slot));
	if (missed)
		net->log_missed++;
	else
		net->log_stored++;
	bc_count_slot(net, missed);
}

uint64_t bc_head_target(struct bc_net *net) { return head_target(net->bc, net); }

int bc_past_grace(struct bc_net *net, uint64_t slot) { return past_grace(net->bc, net, slot); }

int bc_json_u64(json_object *o, uint64_t *out)
{
	if (!o || !json_object_is_type(o, json_type_int))
		return -1;
	int64_t v = json_object_get_int64(o);
	if (v < 0)
		return -1;
	*out = (uint64_t)v;
	return 0;
}

/* The latest slot state may name: the wallclock's slot plus one epoch of
 * slack for a clock stepped back between runs.  A slot beyond it was never
 * processed (the head never runs ahead of the clock), so the state is
 * corrupt; left alone such a cursor would be stuck forever (its time does
 * not fit a query: `out of range` every tick). */
static uint64_t state_slot_limit(struct bc_net *net)
{
	return current_slot(net->bc, net) + lab_network_slots_per_epoch(net->bc->ctx, net->nw);
}

static void state_future(struct bc_net *net, const char *field, uint64_t value, uint64_t limit,
			 const char *then)
{
	lab_logkv(net->bc->ctx, LAB_LOG_WARN, "state names a slot in the future, reset",
		  LAB_FS("network", net->name), LAB_FS("field", field), LAB_FI("value", value),
		  LAB_FI("latest_valid", limit), LAB_FS("reset", then));
}

/* State is untrusted: anything malformed is ignored (and logged), slots in
 * the future included.  `head_only`: the shared head state of cluster.c
 * (no backfill part). */
static void state_parse(struct bc_net *net, const char *key, const char *js, size_t len,
			int head_only)
{
	struct beacon *bc = net->bc;
	uint64_t limit = state_slot_limit(net);
	json_tokener *tok = json_tokener_new();
	json_object *o = tok ? json_tokener_parse_ex(tok, js, (int)len) : NULL;
	if (tok)
		json_tokener_free(tok);
	if (!o || !json_object_is_type(o, json_type_object)) {
		lab_logkv(bc->ctx, LAB_LOG_WARN, "ignoring malformed state", LAB_FS("key", key));
		json_object_put(o);
		return;
	}
	json_object *v, *bf;
	uint64_t u;
	if (!head_only && json_object_object_get_ex(o, "backfill", &bf) &&
	    json_object_is_type(bf, json_type_object)) {
		uint64_t target;
		json_object *nx, *tg;
		if (json_object_object_get_ex(bf, "next", &nx) &&
		    json_object_object_get_ex(bf, "target", &tg) && bc_json_u64(tg, &target) == 0 &&
		    json_object_is_type(nx, json_type_int)) {
			int64_t next = json_object_get_int64(nx);
			if (target > limit || (next >= 0 && (uint64_t)next > limit)) {
				state_future(net, target > limit ? "backfill.target" : "backfill.next",
					     target > limit ? target : (uint64_t)next, limit,
					     "backfill restarts from the head");
			} else if (next < 0) {
				net->bf_have = 1;
				/* finished down to the old target; a lower target continues below it */
				net->bf_finished = net->target >= target || target == 0;
				net->bf_next = target > 0 ? target - 1 : 0;
			} else {
				net->bf_have = 1;
				net->bf_next = (uint64_t)next;
				net->bf_finished = net->bf_next < net->target;
			}
		}
	}
	if (json_object_object_get_ex(o, "last_head", &v) && bc_json_u64(v, &u) == 0) {
		if (u <= limit)
			net->last_head = u;
		else /* (a backfill cursor without a head restarts from the head, too) */
			state_future(net, "last_head", u, limit, "first start");
	}
	size_t future = 0;
	uint64_t latest = 0;
	if (json_object_object_get_ex(o, "pending", &v) && json_object_is_type(v, json_type_array))
		for (size_t i = 0; i < json_object_array_length(v); i++)
			if (bc_json_u64(json_object_array_get_idx(v, i), &u) == 0) {
				if (u <= limit) {
					pending_add(net, u);
				} else {
					future++;
					latest = u > latest ? u : latest;
				}
			}
	if (json_object_object_get_ex(o, "missed", &v) && json_object_is_type(v, json_type_array))
		for (size_t i = 0; i < json_object_array_length(v) && net->nmissed < BC_MISSED_KEEP;
		     i++)
			if (bc_json_u64(json_object_array_get_idx(v, i), &u) == 0) {
				if (u <= limit) {
					net->missed[net->nmissed++] = u;
				} else {
					future++;
					latest = u > latest ? u : latest;
				}
			}
	if (future)
		state_future(net, "pending/missed", latest, limit, "dropped");
	json_object_put(o);
}

void bc_state_load(struct bc_net *net)
{
	char key[160];
	const char *js;
	size_t len;
	snprintf(key, sizeof key, "slot_%s", net->name);
	if (lab_state_get(net->bc->ctx, key, &js, &len) < 0)
		return;
	state_parse(net, key, js, len, 0);
}

void bc_state_parse_head(struct bc_net *net, const char *js, size_t len)
{
	char key[160];
	snprintf(key, sizeof key, "shared:%s/head", net->name);
	state_parse(net, key, js, len, 1);
}

/* ---- outcome of a batch ------------------------------------------------------ */

/* Tally and route slot outcomes; 1 when every slot ended stored/exists/missed. */
static int settle(struct batch *b, int once)
{
	struct bc_net *net = b->net;
	int ok = 1;
	uint64_t settled = 0;
	for (size_t i = 0; i < b->n; i++) {
		uint64_t slot = b->slots[i];
		switch (b->w[i].status) {
		case W_STORED:
			net->n_stored++;
			settled++;
			pending_del(net, slot);
			missed_del(net, slot);
			break;
		case W_EXISTS:
			net->n_exists++;
			settled++;
			pending_del(net, slot);
			missed_del(net, slot);
			break;
		case W_NOBLOCK:
			if (once || past_grace(b->bc, net, slot)) {
				net->n_missed++;
				settled++;
				missed_add(net, slot);
				pending_del(net, slot);
			} else {
				pending_add(net, slot);
			}
			break;
		default:
			net->n_failed++;
			ok = 0;
			if (!once)
				pending_add(net, slot);
			break;
		}
	}
	if (b->kind == BK_TRAIL)
		bc_progress_count(net, BC_LOOP_TRAIL, settled);
	return ok;
}

void bc_settle(struct batch *b)
{
	settle(b, 0);
}

/* ---- --once ------------------------------------------------------------------ */

static void once_flushed(lab_ctx *ctx, int status, void *ud)
{
	struct beacon *bc = ud;
	int ok = 1;
	for (size_t i = 0; i < bc->nnets; i++)
		if (bc->nets[i].n_failed || bc->nets[i].once_next != UINT64_MAX)
			ok = 0; /* a failure, or stopped before the end */
	if (bc->once_reported)
		return;
	bc->once_reported = 1;
	lab_done(ctx, !ok ? LAB_EIO : status);
}

static void once_pump(struct bc_net *net);

void bc_once_check_all(struct beacon *bc)
{
	for (size_t i = 0; i < bc->nnets; i++)
		if (!bc->nets[i].once_finished || bc->nets[i].lbb_busy)
			return;
	for (size_t i = 0; i < bc->nnets; i++) {
		struct bc_net *net = &bc->nets[i];
		lab_logkv(bc->ctx, LAB_LOG_INFO, "once finished", LAB_FS("network", net->name),
			  LAB_FI("stored", net->n_stored), LAB_FI("existing", net->n_exists),
			  LAB_FI("missed", net->n_missed), LAB_FI("failed", net->n_failed));
		bc_state_save(net);
	}
	if (lab_state_flush(bc->ctx, once_flushed, bc) < 0)
		once_flushed(bc->ctx, LAB_EIO, bc);
}

static void once_batch_done(struct batch *b)
{
	struct bc_net *net = b->net;
	settle(b, 1);
	net->once_inflight--;
	batch_free(b);
	once_pump(net);
}

static void once_pump(struct bc_net *net)
{
	struct beacon *bc = net->bc;
	uint64_t slots[BC_MAX_BATCH];
	uint64_t per = (uint64_t)net->concurrency;
	while (!bc->stopping && net->once_inflight < BC_MAX_INFLIGHT &&
	       net->once_next != UINT64_MAX && net->once_next >= net->once_low) {
		size_t n = 0;
		uint64_t hi = net->once_next;
		uint64_t lo = hi - per + 1;
		if (hi + 1 < per || lo < net->once_low)
			lo = net->once_low;
		for (uint64_t s = lo; s <= hi; s++)
			slots[n++] = s;
		net->once_next = lo == 0 ? UINT64_MAX : lo - 1;
		if (lo == net->once_low)
			net->once_next = UINT64_MAX;
		int rc = batch_start(bc, net, BK_ONCE, 0, slots, n, once_batch_done, NULL);
		if (rc < 0) {
			lab_logkv(bc->ctx, LAB_LOG_ERROR, "cannot start batch", LAB_FS("network", net->name),
				  LAB_FS("error", lab_strerror(rc)));
			net->n_failed += n;
			continue;
		}
		net->once_inflight++;
	}
	if (net->once_inflight == 0 && !net->once_finished) {
		net->once_finished = 1;
		bc_once_check_all(bc);
	}
}

void bc_once_begin(struct beacon *bc)
{
	for (size_t i = 0; i < bc->nnets; i++) {
		struct bc_net *net = &bc->nets[i];
		uint64_t hi = head_target(bc, net);
		net->once_low = net->target;
		net->once_next = hi >= net->target ? hi : UINT64_MAX;
		lab_logkv(bc->ctx, LAB_LOG_INFO, "once", LAB_FS("network", net->name),
			  LAB_FI("from", hi), LAB_FI("to", net->target));
		bc_lbb_refresh(net, hi);
	}
	if (bc->nnets == 0) {
		bc_once_check_all(bc); /* nothing to do: success */
		return;
	}
	for (size_t i = 0; i < bc->nnets; i++)
		once_pump(&bc->nets[i]);
}

/* ---- backfill ------------------------------------------------------------------ */


static void backfill_retry(lab_ctx *ctx, lab_timer *t, void *ud)
{
	struct bc_net *net = ud;
	net->bf_timer = NULL;
	bc_backfill_pump(net);
}

static void backfill_batch_done(struct batch *b)
{
	struct bc_net *net = b->net;
	struct beacon *bc = net->bc;
	/* A batch whose queries failed as a whole is retried later (ClickHouse
	 * down): the cursor does not move past it. */
	int whole_failed = 1;
	for (size_t i = 0; i < b->n; i++)
		if (b->w[i].status != W_FAILED)
			whole_failed = 0;
	b->u64 = whole_failed ? 2 : 1; /* 1 done, 2 failed */
	/* Settle the FIFO front to back: the cursor only passes finished
	 * batches.  After a failure, the batches behind it (lower slots) are
	 * dropped when they finish: they are redone from the cursor, and what
	 * they stored is skipped then with `exists`. */
	int moved = 0;
	while (net->bf_n > 0 && net->bf_fifo[0]->u64 != 0) {
		struct batch *f = net->bf_fifo[0];
		memmove(&net->bf_fifo[0], &net->bf_fifo[1], (size_t)(net->bf_n - 1) * sizeof f);
		net->bf_n--;
		if (f->u64 == 2 && !net->bf_discard) {
			net->bf_next = f->slots[f->n - 1];
			net->bf_finished = 0;
			net->bf_backoff_ms = net->bf_backoff_ms ? net->bf_backoff_ms * 2 : 1000;
			if (net->bf_backoff_ms > 60000)
				net->bf_backoff_ms = 60000;
			net->bf_discard = 1;
			moved = 1;
		} else if (f->u64 == 1 && !net->bf_discard) {
			settle(f, 0);
			bc_progress_count(net, BC_LOOP_BACKFILL, f->n); /* the cursor passes them */
			net->bf_backoff_ms = 0;
			if (f->slots[0] <= net->target || f->slots[0] == 0) {
				net->bf_finished = 1;
				lab_logkv(bc->ctx, LAB_LOG_INFO, "backfill finished",
					  LAB_FS("network", net->name), LAB_FI("target", net->target));
			} else if (f->slots[0] - 1 < net->bf_next) {
				net->bf_next = f->slots[0] - 1;
			}
			moved = 1;
		}
		batch_free(f);
	}
	if (net->bf_n == 0)
		net->bf_discard = 0;
	if (moved)
		bc_state_save(net);
	if (bc->stopping || net->bf_discard)
		return; /* wait for the batches in flight */
	if (net->bf_backoff_ms) {
		if (!net->bf_timer)
			lab_timer_start(bc->ctx, net->bf_backoff_ms, 0, backfill_retry, net,
					&net->bf_timer);
		return;
	}
	bc_backfill_pump(net);
}

void bc_backfill_pump(struct bc_net *net)
{
	struct beacon *bc = net->bc;
	uint64_t slots[BC_MAX_BATCH];
	uint64_t per = (uint64_t)net->concurrency;
	if (net->cl) {
		bc_cl_pump(net); /* claimed ranges instead of the cursor */
		return;
	}
	if (bc->stopping || !net->bf_have || net->bf_timer)
		return;
	/* the next range starts below the lowest batch in flight */
	while (net->bf_n < BC_MAX_INFLIGHT) {
		uint64_t hi = net->bf_n ? net->bf_fifo[net->bf_n - 1]->slots[0] : net->bf_next + 1;
		if (net->bf_finished || hi == 0 || hi - 1 < net->target)
			return;
		if (net->bf_n && net->bf_fifo[net->bf_n - 1]->slots[0] <= net->target)
			return;
		hi--;
		uint64_t lo = hi + 1 >= per ? hi + 1 - per : 0;
		if (lo < net->target)
			lo = net->target;
		size_t n = 0;
		for (uint64_t s = lo; s <= hi; s++)
			slots[n++] = s;
		struct batch *b = NULL;
		int rc = batch_start(bc, net, BK_BACKFILL, 0, slots, n, backfill_batch_done, &b);
		if (rc < 0)
			return;
		b->u64 = 0;
		net->bf_fifo[net->bf_n++] = b;
	}
}

/* ---- head ------------------------------------------------------------------------ */

/* Timer to the next slot boundary + head_delay_ms. */
static void head_schedule(struct bc_net *net);
static void head_fire(lab_ctx *ctx, lab_timer *t, void *ud);

static void head_batch_done(struct batch *b)
{
	struct bc_net *net = b->net;
	struct beacon *bc = net->bc;
	uint64_t slot = b->slots[0];
	int st = b->w[0].status;
	net->head_busy = 0;
	batch_free(b);
	if (bc->stopping)
		return;
	if (st == W_STORED || st == W_EXISTS) {
		bc_progress_count(net, BC_LOOP_HEAD, 1);
		net->head_ok = 1;
		pending_del(net, slot);
		lab_logkv(bc->ctx, LAB_LOG_DEBUG, "head slot stored", LAB_FS("network", net->name),
			  LAB_FI("slot", slot));
		bc_state_save(net);
		head_schedule(net);
		return;
	}
	/* No block yet (or a failure): retry within the slot with backoff. */
	uint64_t back = (uint64_t)250 << (net->head_attempt < 5 ? net->head_attempt : 5);
	net->head_attempt++;
	int64_t now_ms = lab_now_ms(bc->ctx);
	int64_t boundary =
		lab_network_slot_time(bc->ctx, net->nw, current_slot(bc, net) + 1) * 1000;
	if (now_ms + (int64_t)back < boundary &&
	    lab_timer_start(bc->ctx, back, 0, head_fire, net, NULL) == 0) {
		net->head_armed = 1;
		return;
	}
	pending_add(net, slot); /* trailing takes over */
	net->head_ok = 1;
	bc_state_save(net);
	head_schedule(net);
}

static void head_fire(lab_ctx *ctx, lab_timer *t, void *ud)
{
	struct bc_net *net = ud;
	struct beacon *bc = net->bc;
	net->head_armed = 0;
	if (bc->stopping || net->head_busy)
		return;
	if (!bc_cl_head_ok(net))
		return; /* the head lease was lost: bc_head_resume() when it is back */
	uint64_t h = head_target(bc, net);
	if (h != net->head_slot) {
		if (net->head_slot && !net->head_ok)
			pending_add(net, net->head_slot); /* its slot ran out */
		net->head_attempt = 0;
		net->head_ok = 0;
		/* slots skipped since the last head (daemon down, late timer) go to trailing */
		if (net->last_head && h > net->last_head + 1) {
			uint64_t from = net->last_head + 1;
			if (h - from > BC_PENDING_MAX / 2)
				from = h - BC_PENDING_MAX / 2;
			for (uint64_t s = from; s < h; s++)
				pending_add(net, s);
		}
		net->head_slot = h;
		if (h > net->last_head)
			net->last_head = h;
		bc_lbb_refresh(net, h); /* once per head tick, the whole window again */
	}
	pending_del(net, h); /* the head owns it while it retries */
	struct batch *b = NULL;
	if (batch_start(bc, net, BK_HEAD, 0, &h, 1, head_batch_done, &b) < 0) {
		pending_add(net, h);
		net->head_ok = 1;
		head_schedule(net);
		return;
	}
	b->lease = net->cl ? bc_cl_head_lease(net) : NULL;
	net->head_busy = 1;
}

static void head_schedule(struct bc_net *net)
{
	struct beacon *bc = net->bc;
	if (bc->stopping)
		return;
	int64_t now_ms = lab_now_ms(bc->ctx);
	int64_t at = lab_network_slot_time(bc->ctx, net->nw, current_slot(bc, net) + 1) * 1000 +
		     bc->head_delay_ms;
	uint64_t delay = at > now_ms ? (uint64_t)(at - now_ms) : 0;
	if (lab_timer_start(bc->ctx, delay, 0, head_fire, net, NULL) < 0)
		lab_logkv(bc->ctx, LAB_LOG_ERROR, "cannot schedule the head slot",
			  LAB_FS("network", net->name));
	else
		net->head_armed = 1;
}

void bc_head_resume(struct bc_net *net)
{
	if (!net->head_armed && !net->head_busy)
		head_schedule(net);
}

/* ---- trailing ---------------------------------------------------------------------- */

static void trail_next(struct bc_net *net);

static void trail_batch_done(struct batch *b)
{
	struct bc_net *net = b->net;
	settle(b, 0);
	net->trail_busy = 0;
	net->trail_below = b->slots[0]; /* this round continues below the batch */
	batch_free(b);
	bc_state_save(net);
	trail_next(net);
}

/* One round per slot tick: every pending slot once, newest first, in batches
 * of `concurrency`; a slot that stays pending waits for the next round. */
static void trail_next(struct bc_net *net)
{
	struct beacon *bc = net->bc;
	uint64_t slots[BC_MAX_BATCH];
	size_t n = 0;
	if (bc->stopping || net->trail_busy)
		return; /* (in a cluster: cluster.c's rounds instead) */
	uint64_t h = net->head_busy ? net->head_slot : UINT64_MAX;
	size_t per = (size_t)net->concurrency;
	for (size_t i = net->npending; i > 0 && n < per; i--) {
		uint64_t s = net->pending[i - 1];
		if (s < net->trail_below && s != h)
			slots[n++] = s;
	}
	if (!n)
		return;
	for (size_t i = 0; i < n / 2; i++) { /* ascending for batch_start */
		uint64_t x = slots[i];
		slots[i] = slots[n - 1 - i];
		slots[n - 1 - i] = x;
	}
	struct batch *b = NULL;
	if (batch_start(bc, net, BK_TRAIL, 0, slots, n, trail_batch_done, &b) == 0)
		net->trail_busy = 1;
}

void bc_trail_fire(lab_ctx *ctx, lab_timer *t, void *ud)
{
	struct bc_net *net = ud;
	if (net->cl) {
		bc_cl_trail_fire(net); /* claimed slot by slot by every daemon */
		return;
	}
	if (net->trail_busy)
		return;
	net->trail_below = UINT64_MAX; /* a new round */
	trail_next(net);
}

void bc_serve_begin(struct beacon *bc)
{
	lab_ctx *ctx = bc->ctx;
	int cluster = bc_cl_enabled(ctx);
	for (size_t i = 0; i < bc->nnets; i++) {
		struct bc_net *net = &bc->nets[i];
		uint64_t h = head_target(bc, net);
		if (cluster) { /* cluster.c: the head waits for its lease, backfill claims ranges */
			uint64_t sps_ms = (uint64_t)lab_network_seconds_per_slot(ctx, net->nw) * 1000;
			if (bc_cl_begin(net) < 0)
				lab_logkv(ctx, LAB_LOG_ERROR, "cannot start in cluster mode",
					  LAB_FS("network", net->name));
			lab_timer_start(ctx, 2000, sps_ms ? sps_ms : 12000, bc_trail_fire, net, NULL);
			continue;
		}
		if (!net->last_head) { /* first start: trailing takes the hour before the head */
			uint64_t from = h > TRAIL_HOUR_SLOTS ? h - TRAIL_HOUR_SLOTS : 0;
			for (uint64_t s = from; s < h; s++)
				pending_add(net, s);
			net->last_head = h > 0 ? h - 1 : 0;
			if (!net->bf_have) {
				net->bf_have = 1;
				net->bf_next = from > 0 ? from - 1 : 0;
				net->bf_finished = from == 0 || from - 1 < net->target;
			}
		} else if (!net->bf_have) {
			net->bf_have = 1;
			net->bf_next = net->last_head;
		}
		bc_state_save(net);
		lab_logkv(ctx, LAB_LOG_INFO, "beacon started", LAB_FS("network", net->name),
			  LAB_FI("head", h), LAB_FI("backfill_next", net->bf_next),
			  LAB_FI("backfill_target", net->target),
			  LAB_FS("backfill", net->bf_finished ? "finished" : "running"),
			  LAB_FI("pending", net->npending));
		head_schedule(net);
		uint64_t sps_ms = (uint64_t)lab_network_seconds_per_slot(ctx, net->nw) * 1000;
		lab_timer_start(ctx, 2000, sps_ms ? sps_ms : 12000, bc_trail_fire, net, NULL);
		bc_backfill_pump(net);
	}
	bc_progress_start(bc);
}

