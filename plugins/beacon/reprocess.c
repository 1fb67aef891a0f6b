/*
 * reprocess — the beacon plugin's repair queue (issue 20).  Messages on
 * `beacon.reprocess` (SPEC §8; the admin API's POST /plugins/beacon/reprocess
 * publishes them, with the local broker and with NATS alike) ask for one
 * slot, {"network","slot"}, or a range, {"network","from","to"} (inclusive).
 * Each network keeps a FIFO of requested ranges and works through it one
 * batch of `concurrency` slots at a time, rebuilding every slot even when its
 * document exists (force), so a slot recorded as missed is queried again and
 * stored (and leaves the missed list) once ClickHouse has its block.  A batch
 * whose queries all failed (ClickHouse down) is retried with backoff; the
 * slots of a partly failed batch go to trailing.
 *
 * Messages are untrusted (anyone on the NATS server can publish): ranges in
 * the future are refused, and the queue of a network holds at most
 * `reprocess_queue_slots` slots in at most BC_RP_QUEUE_MAX requests.  The
 * queue lives in memory: a restart or hot reload drops what is left (logged).
 */
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "beacon.h"

#define RP_BACKOFF_MIN_MS 1000
#define RP_BACKOFF_MAX_MS 60000

static void rp_pump(struct bc_net *net);

static void rp_retry(lab_ctx *ctx, lab_timer *t, void *ud)
{
	struct bc_net *net = ud;
	net->rp_timer = NULL;
	rp_pump(net);
}

/* Try the front request again later: 1 s, doubling up to 60 s. */
static void rp_backoff(struct bc_net *net)
{
	net->rp_backoff_ms = net->rp_backoff_ms ? net->rp_backoff_ms * 2 : RP_BACKOFF_MIN_MS;
	if (net->rp_backoff_ms > RP_BACKOFF_MAX_MS)
		net->rp_backoff_ms = RP_BACKOFF_MAX_MS;
	if (lab_timer_start(net->bc->ctx, net->rp_backoff_ms, 0, rp_retry, net, &net->rp_timer) < 0)
		net->rp_timer = NULL;
}

static void rp_batch_done(struct batch *b)
{
	struct bc_net *net = b->net;
	struct beacon *bc = net->bc;
	struct bc_rp *r = &net->rp[0];
	int whole_failed = 1;
	for (size_t i = 0; i < b->n; i++)
		if (b->w[i].status != W_FAILED)
			whole_failed = 0;
	net->rp_busy = 0;
	if (bc->stopping) {
		batch_free(b);
		return;
	}
	if (whole_failed) {
		rp_backoff(net);
		lab_logkv(bc->ctx, LAB_LOG_WARN, "reprocess batch failed, retrying",
			  LAB_FS("network", net->name), LAB_FI("from", b->slots[0]),
			  LAB_FI("to", b->slots[b->n - 1]), LAB_FI("retry_ms", net->rp_backoff_ms));
		batch_free(b);
		return;
	}
	net->rp_backoff_ms = 0;
	for (size_t i = 0; i < b->n; i++) {
		int st = b->w[i].status;
		if (st == W_STORED || st == W_EXISTS)
			r->stored++;
		else if (st == W_NOBLOCK)
			r->missed++;
		else
			r->failed++;
	}
	bc_settle(b); /* stored: out of pending and missed; no block: missed or trailing */
	uint64_t last = b->slots[b->n - 1];
	batch_free(b);
	net->rp_queued -= last + 1 - r->next;
	r->next = last + 1;
	if (r->next > r->to) {
		lab_logkv(bc->ctx, r->failed ? LAB_LOG_WARN : LAB_LOG_INFO, "reprocess finished",
			  LAB_FS("network", net->name), LAB_FI("from", r->from), LAB_FI("to", r->to),
			  LAB_FI("stored", r->stored), LAB_FI("missed", r->missed),
			  LAB_FI("failed", r->failed), LAB_FI("queued", net->rp_queued));
		memmove(&net->rp[0], &net->rp[1], (net->nrp - 1) * sizeof net->rp[0]);
		net->nrp--;
	}
	bc_state_save(net);
	rp_pump(net);
}

/* One batch in flight per network: repairs share ClickHouse with the head,
 * trailing and backfill loops instead of crowding them out. */
static void rp_pump(struct bc_net *net)
{
	struct beacon *bc = net->bc;
	uint64_t slots[BC_MAX_BATCH];
	if (bc->stopping || net->rp_busy || net->rp_timer || net->nrp == 0)
		return;
	struct bc_rp *r = &net->rp[0];
	uint64_t per = (uint64_t)net->concurrency;
	uint64_t hi = r->to - r->next + 1 > per ? r->next + per - 1 : r->to;
	size_t n = 0;
	for (uint64_t s = r->next; s <= hi; s++)
		slots[n++] = s;
	int rc = batch_start(bc, net, BK_REPROCESS, 1, slots, n, rp_batch_done, NULL);
	if (rc < 0) { /* nothing could be issued: try again later */
		lab_logkv(bc->ctx, LAB_LOG_WARN, "cannot start a reprocess batch",
			  LAB_FS("network", net->name), LAB_FS("error", lab_strerror(rc)));
		rp_backoff(net);
		return;
	}
	net->rp_busy = 1;
}

/* A non-negative integer member: 0 found, 1 absent, -1 malformed. */
static int member_u64(json_object *o, const char *key, uint64_t *out)
{
	json_object *v;
	if (!json_object_object_get_ex(o, key, &v))
		return 1;
	return bc_json_u64(v, out) < 0 ? -1 : 0;
}

static void refuse(struct beacon *bc, const char *why, const char *network, uint64_t from,
		   uint64_t to)
{
	lab_logkv(bc->ctx, LAB_LOG_WARN, "reprocess request refused", LAB_FS("reason", why),
		  LAB_FS("network", network), LAB_FI("from", from), LAB_FI("to", to));
}

void bc_on_reprocess(lab_ctx *ctx, const char *subject, const void *data, size_t len, void *ud)
{
	struct beacon *bc = ud;
	json_tokener *tok = json_tokener_new();
	json_object *o = tok && len < 65536 ? json_tokener_parse_ex(tok, data, (int)len) : NULL;
	json_object *jn;
	uint64_t slot = 0, from = 0, to = 0;
	if (tok)
		json_tokener_free(tok);
	int hs = -1, hf = -1, ht = -1;
	if (!o || !json_object_is_type(o, json_type_object) ||
	    !json_object_object_get_ex(o, "network", &jn) ||
	    !json_object_is_type(jn, json_type_string) || (hs = member_u64(o, "slot", &slot)) < 0 ||
	    (hf = member_u64(o, "from", &from)) < 0 || (ht = member_u64(o, "to", &to)) < 0 ||
	    (hs == 0) == (hf == 0 || ht == 0) || (hs != 0 && (hf != 0 || ht != 0))) {
		lab_logkv(ctx, LAB_LOG_WARN, "ignoring malformed reprocess request",
			  LAB_FS("subject", subject));
		json_object_put(o);
		return;
	}
	if (hs == 0)
		from = to = slot;
	const char *name = json_object_get_string(jn);
	struct bc_net *net = NULL;
	for (size_t i = 0; i < bc->nnets; i++)
		if (!strcmp(bc->nets[i].name, name))
			net = &bc->nets[i];
	uint64_t n = to - from + 1;
	if (!net) {
		refuse(bc, "unknown network", name, from, to);
	} else if (from > to) {
		refuse(bc, "from is greater than to", name, from, to);
	} else if (to > lab_network_slot_at(ctx, net->nw, lab_now(ctx))) {
		refuse(bc, "the range ends in the future", name, from, to);
	} else if (net->nrp >= BC_RP_QUEUE_MAX || n > (uint64_t)bc->rp_queue_max ||
		   net->rp_queued + n > (uint64_t)bc->rp_queue_max) {
		refuse(bc, "queue full (reprocess_queue_slots)", name, from, to);
	} else if (bc->stopping) {
		refuse(bc, "stopping", name, from, to);
	} else {
		struct bc_rp *r = &net->rp[net->nrp++];
		memset(r, 0, sizeof *r);
		r->from = r->next = from;
		r->to = to;
		net->rp_queued += n;
		lab_logkv(ctx, LAB_LOG_INFO, "reprocess queued", LAB_FS("network", name),
			  LAB_FI("from", from), LAB_FI("to", to), LAB_FI("slots", n),
			  LAB_FI("queued", net->rp_queued));
		rp_pump(net);
	}
	json_object_put(o);
}

/* Stop: what is left of the queue is dropped (it lives in memory). */
void bc_reprocess_stop(struct bc_net *net)
{
	if (net->rp_queued)
		lab_logkv(net->bc->ctx, LAB_LOG_WARN, "reprocess queue dropped at stop",
			  LAB_FS("network", net->name), LAB_FI("requests", net->nrp),
			  LAB_FI("slots", net->rp_queued));
}
