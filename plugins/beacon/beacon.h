/*
 * beacon plugin — shared declarations of the plugin glue (beacon.c: config,
 * loops, state) and the batch engine (batch.c: one pass over a set of slots:
 * exists → queries → documents → puts).
 */
#ifndef BEACON_BEACON_H
#define BEACON_BEACON_H

#include <stddef.h>
#include <stdint.h>

#include <lab/plugin.h>

#include "geo.h"
#include "slotdoc.h"
#include "mevdoc.h"

#define BC_MAX_BATCH 256
#define BC_MAX_INFLIGHT 2
#define BC_PENDING_MAX 4096
#define BC_MISSED_KEEP 256
/* Requests waiting in a network's reprocess queue (reprocess.c). */
#define BC_RP_QUEUE_MAX 64
/* progress.c: the loops of a network, and the gauges of each. */
enum { BC_LOOP_HEAD, BC_LOOP_TRAIL, BC_LOOP_BACKFILL, BC_LOOPS };
enum { BC_GAUGES = 5 };
#define PROG_WINDOW 12 /* rate samples kept per loop */
/* cluster.c: slots per backfill claim; claims are aligned on multiples of it */
#define BC_CLAIM_SLOTS 32

struct bc_loopstat {
	uint64_t done; /* slots settled since start (backfill: passed by the cursor) */
	uint64_t done_at[PROG_WINDOW], at_ms[PROG_WINDOW]; /* samples (monotonic ms) */
	unsigned pos, nsamples;
	double rate; /* slots per second over the samples */
};

struct beacon;
struct batch;
struct bc_cl;

enum bc_target { BC_TO_FORK = 0, BC_TO_SLOT = 1, BC_TO_DATE = 2 };

/* One reprocess request: slots from..to, next is the first not yet done. */
struct bc_rp {
	uint64_t from, to, next;
	uint64_t stored, missed, failed;
};

struct bc_net {
	struct beacon *bc;
	const lab_network *nw;
	const char *name;
	int64_t head_lag;
	int64_t concurrency;
	int target_kind;
	const char *to_fork, *to_date;
	int64_t to_slot;
	uint64_t target; /* resolved backfill target slot */
	int mev;             /* relay bids and delivered payloads in slot documents (SPEC §9.5) */
	int lbb;             /* locally built blocks document */
	int64_t lbb_slots;   /* its window: the last lbb_slots slots up to the head */
	int lbb_busy;        /* its query or put is in flight */
	void *lbb_req;       /* that request (local_blocks.c) */
	uint64_t mev_malformed; /* wei values dropped (not canonical decimal), since start */

	/* backfill */
	uint64_t bf_next; /* next slot to take (downward); below target = finished */
	int bf_have;      /* bf_next valid */
	int bf_finished;
	struct batch *bf_fifo[BC_MAX_INFLIGHT]; /* in slot order: [0] is the highest range */
	int bf_n;
	uint64_t bf_backoff_ms;
	int bf_discard; /* a batch failed: drop the ones behind it as they finish */
	lab_timer *bf_timer;

	/* head */
	uint64_t last_head;
	uint64_t head_slot;
	int head_busy;
	int head_ok; /* head_slot stored or handed to trailing */
	unsigned head_attempt;

	/* trailing */
	uint64_t *pending;
	size_t npending, cappending;
	int trail_busy;
	uint64_t trail_below; /* the current round takes pending slots below this */
	uint64_t missed[BC_MISSED_KEEP];
	size_t nmissed;

	/* --once */
	uint64_t once_next, once_low;
	int once_inflight;
	int once_finished;
	uint64_t n_stored, n_missed, n_failed, n_exists;

	/* reprocess queue (reprocess.c): FIFO, [0] is being worked on */
	struct bc_rp rp[BC_RP_QUEUE_MAX];
	size_t nrp;
	uint64_t rp_queued; /* slots not yet done, every request together */
	int rp_busy;        /* a batch in flight */
	uint64_t rp_backoff_ms;
	lab_timer *rp_timer;

	/* cluster mode (cluster.c); NULL with backend "none" or an older host */
	struct bc_cl *cl;
	int head_armed; /* a timer to head_fire is running */

	/* slots stored and missed since the last progress line (progress.c) */
	uint64_t log_stored, log_missed;
	struct bc_loopstat loops[BC_LOOPS];
};

struct beacon {
	lab_ctx *ctx;
	const char *prefix;
	int64_t head_delay_ms;
	struct bc_net *nets;
	size_t nnets;
	struct geo_table geo; /* constant (cities.c) */
	int stopping;
	int once;
	int once_reported;
	struct batch *batches; /* every live batch, for destroy */
	struct buf mev_spare;  /* mev.c: a finished batch's document buffer, for the next batch */
	lab_sub *reprocess_sub;
	int64_t rp_queue_max; /* reprocess_queue_slots */
	char *describe;
	int64_t progress_interval_s; /* `progress_interval` */
	/* SDK 1.2 metrics (progress.c); NULL on an older host */
	lab_metric *m_gauge[BC_GAUGES]; /* {network,loop}: cursor, target, remaining, rate, eta */
	lab_metric *m_stored, *m_missed; /* {network} */
};

enum bc_kind { BK_ONCE, BK_HEAD, BK_TRAIL, BK_BACKFILL, BK_REPROCESS };

/* Per-slot outcome. */
enum bc_wstatus { W_TODO = 0, W_EXISTS, W_STORED, W_NOBLOCK, W_FAILED };

struct bc_slotw {
	struct sd_slot sd;
	int status;
	struct buf payloads; /* {RELAY:{"payloads":[...]}} of this slot (mev.c); empty = {} */
	struct sd_str pay_pp, pay_fr; /* the first payload's proposer key, fee recipient (batch arena) */
	struct sd_str mev_ref[3];     /* mev.c: the bid rows' references of this slot */
};

typedef void (*bc_batch_done)(struct batch *b);

struct arena_chunk;

struct batch {
	struct beacon *bc;
	struct bc_net *net;
	int kind;
	int force; /* skip the exists check (reprocess) */
	uint64_t *slots; /* ascending */
	struct bc_slotw *w;
	size_t n;
	int ops;    /* operations in flight */
	int failed; /* a query failed: the whole batch failed */
	int phase;
	int finished;
	uint64_t t0;
	bc_batch_done done;
	struct arena_chunk *arena;
	struct batch *next_live, **prev_live;
	uint64_t u64; /* for the caller */
	lab_param qp[5]; /* phase 1's parameters */
	uint64_t vlo, vhi; /* the slots with a block (attestation query) */
	struct mev_stream *mev; /* mev.c: the bid query streaming into documents */
	/* cluster.c: the documents are stored only while this claim (backfill)
	 * or lease (head) is valid, and slot i only while claims[i] (trailing:
	 * one claim per slot) is; NULL = unguarded */
	lab_claim *claim;
	const lab_lease *lease;
	lab_claim **claims;
};

/* Start a batch over `slots` (n ≥ 1, ascending, copied).  done() is called once
 * (on the loop) unless the plugin is torn down first; then batch_free(). */
int batch_start(struct beacon *bc, struct bc_net *net, int kind, int force, const uint64_t *slots,
		size_t n, bc_batch_done done, struct batch **out);
void batch_free(struct batch *b);

/* For mev.c: the batch engine's steps it builds on. */
#define BC_Q_PAYLOADS (-5)
int batch_query(struct batch *b, int which, const char *sql, const lab_param *p, size_t np);
/* A NUL-terminated copy of s[0..n) that lives as long as the batch; NULL when out of memory. */
const char *batch_dup(struct batch *b, const char *s, size_t n);
void batch_op_done(struct batch *b);
/* After issuing a phase's operations: moves on when none is in flight. */
void batch_settle(struct batch *b);
size_t batch_slot_index(const struct batch *b, uint64_t slot); /* SIZE_MAX: not in the batch */
/* [lo, hi] of the slots still to do; 0 when none. */
int batch_todo_range(const struct batch *b, uint64_t *lo, uint64_t *hi);
/* The slot document of w[i] up to "attestations" (no closing brace). */
int batch_doc_open(struct batch *b, size_t i, struct buf *doc);
/* Store a finished document of w[i] (copied); on failure w[i] is W_FAILED. */
void batch_put_doc(struct batch *b, size_t i, const struct buf *doc);
void batch_doc_failed(struct batch *b, size_t i, int rc);

/* mev.c: relay bids and delivered payloads (SPEC §9.5). */
#define MEV_PAYLOAD_COLUMNS 6
int mev_query_payloads(struct batch *b);                     /* phase 1 */
int mev_take_payloads(struct batch *b, const lab_rows *rows); /* its rows */
void mev_docs(struct batch *b); /* phase 3: documents written while the bids stream in */
void mev_free(struct batch *b);

/* local_blocks.c: the rolling locally built blocks document of a network,
 * for slots [head - lbb_slots + 1, head]; nothing when one is in flight. */
void bc_lbb_refresh(struct bc_net *net, uint64_t head);

/* loops.c */
struct json_object;
int bc_json_u64(struct json_object *o, uint64_t *out); /* non-negative integer */
/* A slot stored (missed = 0) or recorded as missed: logged at debug, counted
 * (metrics, and the next progress line). */
void bc_log_slot(struct bc_net *net, int missed, uint64_t slot);
uint64_t bc_head_target(struct bc_net *net); /* current slot - head_lag_slots */

/* loops.c, for cluster.c */
void bc_pending_add(struct bc_net *net, uint64_t slot);
/* Insert into an ascending array grown as needed; LAB_ENOMEM. */
int bc_slots_insert(uint64_t **v, size_t *n, size_t *cap, uint64_t slot);
void bc_pending_del(struct bc_net *net, uint64_t slot);
/* A slot without a block is recorded as missed (its grace period is over). */
int bc_past_grace(struct bc_net *net, uint64_t slot);
/* "last_head":N,"pending":[...],"missed":[...] (the state's head part) */
void bc_state_head_fields(const struct bc_net *net, struct buf *j);
/* The head/pending/missed part of a state document (untrusted). */
void bc_state_parse_head(struct bc_net *net, const char *js, size_t len);
void bc_head_resume(struct bc_net *net); /* the head lease was acquired */

/* cluster.c: the cluster backend (SDK 1.5) is there and not "none" */
int bc_cl_enabled(lab_ctx *ctx);
int bc_cl_begin(struct bc_net *net); /* serve mode, instead of backfill's cursor */
void bc_cl_pump(struct bc_net *net);
void bc_cl_free(struct bc_net *net);
int bc_cl_head_ok(const struct bc_net *net); /* head and trailing may run (1 off-cluster) */
const lab_lease *bc_cl_head_lease(const struct bc_net *net);
void bc_cl_head_save(struct bc_net *net);    /* the shared head state (holder only) */
/* The guard of slot i's document of a batch: 1 = store (no guard, or still valid). */
int bc_cl_may_store(const struct batch *b, size_t i);
/* A trailing round (instead of loops.c's, in a cluster): every daemon claims
 * the holder's pending slots one by one (NETWORK/trail/SLOT). */
void bc_cl_trail_fire(struct bc_net *net);

/* progress.c */
void bc_metrics_register(struct beacon *bc);         /* init */
void bc_progress_start(struct beacon *bc);           /* serve mode: timers */
void bc_progress_count(struct bc_net *net, int loop, uint64_t n); /* n slots settled */
void bc_count_slot(struct bc_net *net, int missed);  /* the stored/missed counters */
void bc_state_load(struct bc_net *net);
void bc_state_save(struct bc_net *net);
void bc_once_begin(struct beacon *bc);
void bc_serve_begin(struct beacon *bc);
void bc_backfill_pump(struct bc_net *net);
void bc_trail_fire(lab_ctx *ctx, lab_timer *t, void *ud); /* a trailing round now */
void bc_once_check_all(struct beacon *bc); /* --once: report when every part finished */
/* A serve-mode batch's outcomes: stored/existing slots leave pending and
 * missed; no block: missed past the grace period, else pending; failed:
 * pending (trailing retries).  Counts into n_stored etc. */
void bc_settle(struct batch *b);

/* reprocess.c: the beacon.reprocess subscription's callback, and stop. */
void bc_on_reprocess(lab_ctx *ctx, const char *subject, const void *data, size_t len, void *ud);
void bc_reprocess_stop(struct bc_net *net);

/* Storage key of a slot document. */
int bc_key(const struct beacon *bc, const struct bc_net *net, uint64_t slot, char *buf,
	   size_t size);

#endif
