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
 *
 * State, one key per network, "slot_NETWORK":
 *   {"backfill":{"next":N,"target":T},"last_head":H,"pending":[...],"missed":[...]}
 *
 * This file: settings, life cycle.  reprocess.c: the repair queue
 * (beacon.reprocess messages).  loops.c: state and the loops.  batch.c: queries and documents.  slotdoc.c: the document.
 * mev.c, mevdoc.c: relay bids and payloads.  local_blocks.c: recent.json.
 */
/* The settings are SDK 1.1 options (ranges, key rules, binding). */
#define LAB_PLUGIN_MIN_ABI_MINOR 1

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "beacon.h"
#include "rfc3339.h"

/* The settings (SDK 1.1 options, hence LAB_PLUGIN_MIN_ABI_MINOR above).  The host
 * checks types, ranges and key rules before init; lab_cfg_bind() fills
 * struct beacon and struct bc_net. */
static const lab_option backfill_options[] = {
	{ .name = "to_fork", .type = LAB_SET_STRING,
	  .desc = "backfill down to the first slot of this fork (the default target: \"deneb\")" },
	{ .name = "to_slot", .type = LAB_SET_INT, LAB_MIN(0),
	  .desc = "backfill down to this slot" },
	{ .name = "to_date", .type = LAB_SET_STRING,
	  .desc = "backfill down to the slot at this RFC 3339 time" },
	{ .name = "concurrency", .type = LAB_SET_INT, .def = "16", LAB_RANGE(1, BC_MAX_BATCH),
	  LAB_BIND(struct bc_net, concurrency),
	  .desc = "slots per batch; two batches are in flight" },
	{ 0 },
};

static const lab_option lbb_options[] = {
	{ .name = "enabled", .type = LAB_SET_BOOL, .def = "true", LAB_BIND(struct bc_net, lbb),
	  .desc = "write PREFIX/locally_built_blocks/NETWORK/recent.json on every head tick" },
	{ .name = "slots", .type = LAB_SET_INT, .def = "16", LAB_RANGE(1, 1024),
	  LAB_BIND(struct bc_net, lbb_slots),
	  .desc = "slots the document covers, up to the head slot" },
	{ 0 },
};

static const lab_option network_options[] = {
	{ .name = "head_lag_slots", .type = LAB_SET_INT, .def = "3", LAB_RANGE(0, 100000),
	  LAB_BIND(struct bc_net, head_lag),
	  .desc = "the head loop processes current_slot - head_lag_slots" },
	{ .name = "backfill", .type = LAB_SET_GROUP, .children = backfill_options,
	  .desc = "backfill target (exactly one of to_fork, to_slot, to_date) and concurrency" },
	{ .name = "mev", .type = LAB_SET_BOOL, .def = "true", LAB_BIND(struct bc_net, mev),
	  .desc = "relay bids and delivered payloads in every slot document" },
	{ .name = "locally_built_blocks", .type = LAB_SET_GROUP, .children = lbb_options,
	  .desc = "the rolling document of blocks that validator clients built themselves" },
	{ 0 },
};

static const lab_option options[] = {
	{ .name = "path_prefix", .type = LAB_SET_STRING, .def = "beacon",
	  .flags = LAB_SETTING_KEY_PREFIX, LAB_BIND(struct beacon, prefix),
	  .desc = "storage prefix: documents at PREFIX/slots/NETWORK/SLOT.json" },
	{ .name = "head_delay_ms", .type = LAB_SET_INT, .def = "500", LAB_RANGE(0, 11000),
	  LAB_BIND(struct beacon, head_delay_ms),
	  .desc = "delay after the slot boundary before the head slot is processed" },
	{ .name = "networks", .type = LAB_SET_MAP, .children = network_options,
	  .desc = "per network settings; default: every ethereum.networks entry" },
	{ .name = "reprocess_queue_slots", .type = LAB_SET_INT, .def = "1000000",
	  LAB_RANGE(1, 100000000), LAB_BIND(struct beacon, rp_queue_max),
	  .desc = "slots the reprocess queue of a network holds, all requests together (at most "
		  "64 requests); a beacon.reprocess request that does not fit is refused" },
	{ .name = "progress_interval", .type = LAB_SET_DURATION, .def = "60s",
	  LAB_RANGE(1, 86400), LAB_BIND(struct beacon, progress_interval_s),
	  .desc = "one `progress` info line per network this often (slots stored and missed, "
		  "head, backfill cursor, rate, ETA)" },
	{ 0 },
};

/* ---- life cycle ------------------------------------------------------------------------ */

static int resolve_target(struct beacon *bc, struct bc_net *net, const lab_cfg *node)
{
	lab_ctx *ctx = bc->ctx;
	if (net->target_kind == BC_TO_SLOT) {
		net->target = (uint64_t)net->to_slot; /* the host checked min 0 */
	} else if (net->target_kind == BC_TO_DATE) {
		int64_t ms;
		if (rfc3339_parse(net->to_date, strlen(net->to_date), 0, &ms) < 0)
			return lab_cfg_error(ctx, node, "backfill.to_date",
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
					return lab_cfg_error(ctx, node, "backfill.to_fork",
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
	net->head_lag = 3;
	net->concurrency = 16;
	net->to_fork = "deneb";
	net->target_kind = BC_TO_FORK;
	net->mev = 1;
	net->lbb = 1;
	net->lbb_slots = 16;
	if (node) {
		static const char *const keys[] = { "backfill.to_fork", "backfill.to_slot",
						    "backfill.to_date" };
		const char *s, *str[3] = { NULL, NULL, NULL };
		int64_t v = 0;
		int has[3], cli[3], set = 0, ncli = 0;
		int rc = lab_cfg_bind(ctx, node, net);
		if (rc < 0)
			return rc;
		has[0] = lab_cfg_string(ctx, node, keys[0], &str[0]) == 0;
		has[1] = lab_cfg_int(ctx, node, keys[1], &v) == 0;
		has[2] = lab_cfg_string(ctx, node, keys[2], &str[2]) == 0;
		/* A target set on the command line (-D ...backfill.to_slot=N, whose
		 * "file" is "-D") replaces the file's: the three exclude each other,
		 * so an override of one member must win over another from the file. */
		for (int i = 0; i < 3; i++) {
			const char *file = NULL;
			int line = 0;
			cli[i] = has[i] && lab_cfg_where(ctx, node, keys[i], &file, &line) == 0 && file &&
				 strcmp(file, "-D") == 0;
			set += has[i];
			ncli += cli[i];
		}
		if (set > 1 && ncli == 1)
			for (int i = 0; i < 3; i++)
				has[i] = cli[i];
		else if (set > 1)
			return lab_cfg_error(ctx, node, "backfill",
					     "takes exactly one of to_fork, to_slot, to_date (on the "
					     "command line, -D of one of them replaces the file's, or "
					     "replace the whole group: "
					     "-D 'plugins.beacon.networks.NET.backfill={ to_slot = N; }')");
		if (has[0] && (s = str[0])) {
			net->to_fork = s;
		} else if (has[1]) {
			net->to_slot = v;
			net->target_kind = BC_TO_SLOT;
		} else if (has[2]) {
			net->to_date = str[2];
			net->target_kind = BC_TO_DATE;
		}
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
		bc_cl_free(&bc->nets[i]);
	}
	free(bc->nets);
	free(bc->describe);
	buf_free(&bc->mev_spare);
	free(bc);
}

static int beacon_init(lab_ctx *ctx, void **self)
{
	struct beacon *bc = calloc(1, sizeof *bc);
	int rc = 0;
	if (!bc)
		return LAB_ENOMEM;
	bc->ctx = ctx;
	rc = lab_cfg_bind(ctx, NULL, bc); /* path_prefix, head_delay_ms */
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
				rc = lab_cfg_error(ctx, node, NULL,
						   "names network '%s' that ethereum.networks does not define",
						   net->name ? net->name : "?");
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
		bc_metrics_register(bc);
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
	int rc = lab_subscribe(bc->ctx, "beacon.reprocess", bc_on_reprocess, bc, &bc->reprocess_sub);
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
	for (size_t i = 0; i < bc->nnets; i++) {
		bc_reprocess_stop(&bc->nets[i]);
		bc_state_save(&bc->nets[i]);
	}
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
		  .options = options, .init = beacon_init, .start = beacon_start,
		  .stop = beacon_stop, .destroy = beacon_destroy, .once = beacon_once,
		  .run = beacon_run, .describe = beacon_describe)
