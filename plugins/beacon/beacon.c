/*
 * beacon — one JSON document per slot (SPEC §9.3): the block, its proposer
 * and entity, where the nodes that saw it are, when they saw the block and
 * its blobs, and the attestation windows; with `mev`, the relay bids and
 * delivered payloads (SPEC §9.5, mev.c); and per network the rolling
 * locally built blocks document (local_blocks.c).
 *
 * Per network three loops share one batch engine (batch.c):
 *   head      at each slot boundary (+ head_delay_ms) the slot
 *             current - head_lag_slots; retried with backoff within the slot
 *             while ClickHouse has no block yet, then left to trailing;
 *   trailing  slots head skipped or that failed, and the hour before the
 *             first head slot, retried every slot until stored or missed;
 *   backfill  from below that hour down to the target, `concurrency` slots
 *             per batch, two batches in flight; the cursor in state moves
 *             only past slots that are stored, missed, or handed to trailing.
 * `--once` walks current - head_lag_slots down to the target and stops.
 * pacing = "original" emulates the Python backend's pace for benchmarks:
 * batches of one slot, one at a time, queries one after another, a 500 ms
 * pause after each backfill / --once slot.
 *
 * State, one key per network, "slot_NETWORK":
 *   {"backfill":{"next":N,"target":T},"last_head":H,"pending":[...],"missed":[...]}
 *
 * This file: settings, life cycle, reprocess requests.  loops.c: state and
 * the loops.  batch.c: queries and documents.  slotdoc.c: the document.
 * mev.c, mevdoc.c: relay bids and payloads.  local_blocks.c: recent.json.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "beacon.h"
#include "rfc3339.h"

static const lab_setting backfill_settings[] = {
	{ .name = "to_fork", .type = LAB_SET_STRING,
	  .desc = "backfill down to the first slot of this fork (the default target: \"deneb\")" },
	{ .name = "to_slot", .type = LAB_SET_INT, .desc = "backfill down to this slot" },
	{ .name = "to_date", .type = LAB_SET_STRING,
	  .desc = "backfill down to the slot at this RFC 3339 time" },
	{ .name = "concurrency", .type = LAB_SET_INT, .def = "16",
	  .desc = "slots per batch (1-256); two batches are in flight" },
	{ 0 },
};

static const lab_setting lbb_settings[] = {
	{ .name = "enabled", .type = LAB_SET_BOOL, .def = "true",
	  .desc = "write PREFIX/locally_built_blocks/NETWORK/recent.json on every head tick" },
	{ .name = "slots", .type = LAB_SET_INT, .def = "16",
	  .desc = "slots the document covers, up to the head slot (1-1024)" },
	{ 0 },
};

static const lab_setting network_settings[] = {
	{ .name = "head_lag_slots", .type = LAB_SET_INT, .def = "3",
	  .desc = "the head loop processes current_slot - head_lag_slots" },
	{ .name = "backfill", .type = LAB_SET_GROUP, .children = backfill_settings,
	  .desc = "backfill target (exactly one of to_fork, to_slot, to_date) and concurrency" },
	{ .name = "mev", .type = LAB_SET_BOOL, .def = "true",
	  .desc = "relay bids and delivered payloads in every slot document" },
	{ .name = "locally_built_blocks", .type = LAB_SET_GROUP, .children = lbb_settings,
	  .desc = "the rolling document of blocks that validator clients built themselves" },
	{ 0 },
};

static const lab_setting settings[] = {
	{ .name = "path_prefix", .type = LAB_SET_STRING, .def = "beacon",
	  .desc = "storage prefix: documents at PREFIX/slots/NETWORK/SLOT.json" },
	{ .name = "head_delay_ms", .type = LAB_SET_INT, .def = "500",
	  .desc = "delay after the slot boundary before the head slot is processed (0-11000)" },
	{ .name = "networks", .type = LAB_SET_MAP, .children = network_settings,
	  .desc = "per network settings; default: every ethereum.networks entry" },
	{ .name = "pacing", .type = LAB_SET_STRING, .def = "batched",
	  .desc = "\"batched\", or \"original\" to emulate the Python backend's pace for "
		  "comparison: one slot at a time, its queries one after another, 500 ms "
		  "pause per slot" },
	{ 0 },
};

/* ---- helpers --------------------------------------------------------------- */

static int cfg_error(lab_ctx *ctx, const lab_cfg *node, const char *path, const char *what)
{
	const char *file = "?";
	int line = 0;
	lab_cfg_where(ctx, node, path, &file, &line);
	lab_logf(ctx, LAB_LOG_ERROR, "%s:%d: setting '%s' %s", file ? file : "?", line, path, what);
	return LAB_ECONFIG;
}

/* ---- reprocess over the broker ------------------------------------------------------- */

static void reprocess_done(struct batch *b)
{
	struct bc_net *net = b->net;
	int st = b->w[0].status;
	lab_logkv(net->bc->ctx, st == W_STORED ? LAB_LOG_INFO : LAB_LOG_WARN, "slot reprocessed",
		  LAB_FS("network", net->name), LAB_FI("slot", b->slots[0]),
		  LAB_FS("result", st == W_STORED ? "stored" : st == W_NOBLOCK ? "no block" : "failed"));
	batch_free(b);
}

static void on_reprocess(lab_ctx *ctx, const char *subject, const void *data, size_t len, void *ud)
{
	struct beacon *bc = ud;
	json_tokener *tok = json_tokener_new();
	json_object *o = tok && len < 65536 ? json_tokener_parse_ex(tok, data, (int)len) : NULL;
	json_object *jn, *js;
	uint64_t slot;
	if (tok)
		json_tokener_free(tok);
	if (!o || !json_object_object_get_ex(o, "network", &jn) ||
	    !json_object_is_type(jn, json_type_string) ||
	    !json_object_object_get_ex(o, "slot", &js) || bc_json_u64(js, &slot) < 0) {
		lab_logkv(ctx, LAB_LOG_WARN, "ignoring malformed reprocess request",
			  LAB_FS("subject", subject));
		json_object_put(o);
		return;
	}
	const char *name = json_object_get_string(jn);
	struct bc_net *net = NULL;
	for (size_t i = 0; i < bc->nnets; i++)
		if (!strcmp(bc->nets[i].name, name))
			net = &bc->nets[i];
	if (!net) {
		lab_logkv(ctx, LAB_LOG_WARN, "reprocess for an unknown network", LAB_FS("network", name));
	} else {
		int rc = batch_start(bc, net, BK_REPROCESS, 1, &slot, 1, reprocess_done, NULL);
		if (rc < 0)
			lab_logkv(ctx, LAB_LOG_WARN, "cannot reprocess", LAB_FS("network", name),
				  LAB_FS("error", lab_strerror(rc)));
	}
	json_object_put(o);
}

/* ---- life cycle ------------------------------------------------------------------------ */

static int resolve_target(struct beacon *bc, struct bc_net *net, const lab_cfg *node)
{
	lab_ctx *ctx = bc->ctx;
	if (net->target_kind == BC_TO_SLOT) {
		if (net->to_slot < 0)
			return cfg_error(ctx, node, "backfill.to_slot", "must not be negative");
		net->target = (uint64_t)net->to_slot;
	} else if (net->target_kind == BC_TO_DATE) {
		int64_t ms;
		if (rfc3339_parse(net->to_date, strlen(net->to_date), 0, &ms) < 0)
			return cfg_error(ctx, node, "backfill.to_date",
					 "must be an RFC 3339 time such as 2024-03-13T13:55:35Z");
		net->target = lab_network_slot_at(ctx, net->nw, ms / 1000);
	} else {
		uint64_t epoch;
		if (lab_network_fork_epoch(ctx, net->nw, net->to_fork, &epoch) < 0) {
			if (lab_cfg_count(ctx, node, "backfill") >= 0 && node) {
				const char *file = NULL;
				int line = 0;
				lab_cfg_where(ctx, node, "backfill.to_fork", &file, &line);
				if (line > 0)
					return cfg_error(ctx, node, "backfill.to_fork",
							 "names a fork this network does not know");
			}
			lab_logkv(ctx, LAB_LOG_ERROR, "unknown backfill fork",
				  LAB_FS("network", net->name), LAB_FS("fork", net->to_fork));
			return LAB_ECONFIG;
		}
		net->target = epoch * lab_network_slots_per_epoch(ctx, net->nw);
	}
	return 0;
}

static int net_config(struct beacon *bc, struct bc_net *net, const lab_cfg *node)
{
	lab_ctx *ctx = bc->ctx;
	int set = 0;
	net->head_lag = 3;
	net->concurrency = 16;
	net->to_fork = "deneb";
	net->target_kind = BC_TO_FORK;
	net->mev = 1;
	net->lbb = 1;
	net->lbb_slots = 16;
	if (node) {
		const char *s;
		int64_t v;
		lab_cfg_int(ctx, node, "head_lag_slots", &net->head_lag);
		lab_cfg_int(ctx, node, "backfill.concurrency", &net->concurrency);
		lab_cfg_bool(ctx, node, "mev", &net->mev);
		lab_cfg_bool(ctx, node, "locally_built_blocks.enabled", &net->lbb);
		lab_cfg_int(ctx, node, "locally_built_blocks.slots", &net->lbb_slots);
		if (lab_cfg_string(ctx, node, "backfill.to_fork", &s) == 0) {
			net->to_fork = s;
			set++;
		}
		if (lab_cfg_int(ctx, node, "backfill.to_slot", &v) == 0) {
			net->to_slot = v;
			net->target_kind = BC_TO_SLOT;
			set++;
		}
		if (lab_cfg_string(ctx, node, "backfill.to_date", &s) == 0) {
			net->to_date = s;
			net->target_kind = BC_TO_DATE;
			set++;
		}
		if (set > 1)
			return cfg_error(ctx, node, "backfill",
					 "takes exactly one of to_fork, to_slot, to_date (on the "
					 "command line, replace the whole group: "
					 "-D 'plugins.beacon.networks.NET.backfill={ to_slot = N; }')");
		if (net->head_lag < 0 || net->head_lag > 100000)
			return cfg_error(ctx, node, "head_lag_slots", "must be between 0 and 100000");
		if (net->concurrency < 1 || net->concurrency > BC_MAX_BATCH)
			return cfg_error(ctx, node, "backfill.concurrency", "must be between 1 and 256");
		if (net->lbb_slots < 1 || net->lbb_slots > 1024)
			return cfg_error(ctx, node, "locally_built_blocks.slots",
					 "must be between 1 and 1024");
	}
	return resolve_target(bc, net, node);
}

static void describe_build(struct beacon *bc)
{
	struct buf j = { 0 };
	buf_puts(&j, "{\"enabled\":true,\"description\":\"Beacon chain slot data\",\"path_prefix\":");
	buf_json_str(&j, bc->prefix, strlen(bc->prefix));
	buf_puts(&j, ",\"networks\":{");
	for (size_t i = 0; i < bc->nnets; i++) {
		struct bc_net *net = &bc->nets[i];
		if (i)
			buf_putc(&j, ',');
		buf_json_str(&j, net->name, strlen(net->name));
		buf_puts(&j, ":{\"head_lag_slots\":");
		buf_i64(&j, net->head_lag);
		buf_puts(&j, ",\"backfill\":{");
		if (net->target_kind == BC_TO_SLOT) {
			buf_puts(&j, "\"to_slot\":");
			buf_i64(&j, net->to_slot);
		} else if (net->target_kind == BC_TO_DATE) {
			buf_puts(&j, "\"to_date\":");
			buf_json_str(&j, net->to_date, strlen(net->to_date));
		} else {
			buf_puts(&j, "\"to_fork\":");
			buf_json_str(&j, net->to_fork, strlen(net->to_fork));
		}
		buf_puts(&j, ",\"target_slot\":");
		buf_u64(&j, net->target);
		buf_puts(&j, ",\"concurrency\":");
		buf_i64(&j, net->concurrency);
		buf_puts(&j, "}}");
	}
	buf_puts(&j, "}}");
	buf_putc(&j, '\0');
	if (j.oom) {
		buf_free(&j);
		return;
	}
	bc->describe = j.data;
}

static void beacon_destroy(void *self)
{
	struct beacon *bc = self;
	if (!bc)
		return;
	while (bc->batches)
		batch_free(bc->batches);
	for (size_t i = 0; i < bc->nnets; i++) {
		free(bc->nets[i].pending);
		free(bc->nets[i].lbb_req);
	}
	free(bc->nets);
	free(bc->describe);
	free(bc);
}

static int beacon_init(lab_ctx *ctx, void **self)
{
	struct beacon *bc = calloc(1, sizeof *bc);
	int rc = 0;
	if (!bc)
		return LAB_ENOMEM;
	bc->ctx = ctx;
	lab_cfg_string(ctx, NULL, "path_prefix", &bc->prefix);
	lab_cfg_int(ctx, NULL, "head_delay_ms", &bc->head_delay_ms);
	const char *pacing = "batched";
	lab_cfg_string(ctx, NULL, "pacing", &pacing);
	bc->original = pacing && !strcmp(pacing, "original");
	if (!pacing || (strcmp(pacing, "batched") != 0 && !bc->original))
		rc = cfg_error(ctx, NULL, "pacing", "must be \"batched\" or \"original\"");
	else if (!bc->prefix || !*bc->prefix || bc->prefix[0] == '/' || strstr(bc->prefix, ".."))
		rc = cfg_error(ctx, NULL, "path_prefix", "must be a relative storage prefix");
	else if (bc->head_delay_ms < 0 || bc->head_delay_ms > 11000)
		rc = cfg_error(ctx, NULL, "head_delay_ms", "must be between 0 and 11000");
	int nconf = rc == 0 ? lab_cfg_count(ctx, NULL, "networks") : 0;
	size_t nn = nconf > 0 ? (size_t)nconf : lab_network_count(ctx);
	if (rc == 0 && nn == 0)
		lab_logf(ctx, LAB_LOG_WARN, "no networks (ethereum.networks is empty): nothing to do");
	if (rc == 0 && !(bc->nets = calloc(nn ? nn : 1, sizeof *bc->nets)))
		rc = LAB_ENOMEM;
	for (size_t i = 0; rc == 0 && i < nn; i++) {
		struct bc_net *net = &bc->nets[i];
		const lab_cfg *node = NULL;
		net->bc = bc;
		if (nconf > 0) {
			lab_cfg_elem(ctx, NULL, "networks", (int)i, &node);
			net->name = lab_cfg_name(ctx, node);
			net->nw = net->name ? lab_network_find(ctx, net->name) : NULL;
			if (!net->nw) {
				char what[200];
				snprintf(what, sizeof what,
					 "names network '%s' that ethereum.networks does not define",
					 net->name ? net->name : "?");
				rc = cfg_error(ctx, node, "", what);
				break;
			}
		} else {
			net->nw = lab_network_at(ctx, i);
			net->name = lab_network_name(ctx, net->nw);
		}
		bc->nnets++;
		rc = net_config(bc, net, node);
		if (rc == 0)
			bc_state_load(net);
	}
	if (rc == 0) {
		describe_build(bc);
		geo_builtin(&bc->geo); /* constant tables: nothing to build */
	}
	if (rc < 0) {
		beacon_destroy(bc);
		return rc;
	}
	*self = bc;
	return 0;
}

static int beacon_start(void *self)
{
	struct beacon *bc = self;
	int rc = lab_subscribe(bc->ctx, "beacon.reprocess", on_reprocess, bc, &bc->reprocess_sub);
	if (rc < 0)
		lab_logf(bc->ctx, LAB_LOG_WARN, "cannot subscribe to beacon.reprocess: %s",
			 lab_strerror(rc));
	bc_serve_begin(bc);
	return 0;
}

static int beacon_once(void *self)
{
	struct beacon *bc = self;
	bc->once = 1;
	bc_once_begin(bc);
	return 0;
}

static int beacon_run(void *self)
{
	struct beacon *bc = self;
	if (bc->once || bc->stopping)
		return 0;
	for (size_t i = 0; i < bc->nnets; i++) {
		bc_trail_fire(bc->ctx, NULL, &bc->nets[i]);
		bc_backfill_pump(&bc->nets[i]);
	}
	return 0;
}

static int beacon_stop(void *self)
{
	struct beacon *bc = self;
	bc->stopping = 1;
	for (size_t i = 0; i < bc->nnets; i++)
		bc_state_save(&bc->nets[i]);
	return 0;
}

static const char *beacon_describe(void *self)
{
	struct beacon *bc = self;
	return bc->describe;
}

LAB_PLUGIN_DEFINE(.name = "beacon", .version = "1.0.0",
		  .description = "Per-slot beacon chain documents: block, proposer, entity, nodes, "
				 "seen times, attestation windows, relay bids, delivered payloads; "
				 "locally built blocks",
		  .settings = settings, .init = beacon_init, .start = beacon_start,
		  .stop = beacon_stop, .destroy = beacon_destroy, .once = beacon_once,
		  .run = beacon_run, .describe = beacon_describe)
