/*
 * batch — one pass of the beacon plugin over a set of slots.
 *
 *   exists (one per slot, unless forced)
 *   → phase 1, concurrently, one query per table for the whole slot range:
 *     block, block seen, blob seen, p2p block, p2p blob, committee sizes
 *   → phase 2, concurrently: proposer entities (those the validator set does
 *     not name) and attestation minima for the slots' block roots
 *   → one document per slot with a block, stored; an event per stored slot.
 *
 * Batching several slots per query keeps ClickHouse busy with few, larger
 * queries (SPEC §10: ≥ 50 slots/s); results are split per slot by the slot
 * column.  Every query runs on ClickHouse 18.16 and modern servers: no
 * window functions, `LIMIT n BY` for "first per client".
 */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "beacon.h"

/* ---- arena for strings copied out of row sets --------------------------- */

struct arena_chunk {
	struct arena_chunk *next;
	size_t used, cap;
	char data[];
};

static const char *arena_dup(struct batch *b, const char *s, size_t n)
{
	struct arena_chunk *c = b->arena;
	if (!c || c->cap - c->used < n + 1) {
		size_t cap = n + 1 > 65536 ? n + 1 : 65536;
		c = malloc(sizeof *c + cap);
		if (!c)
			return NULL;
		c->next = b->arena;
		c->used = 0;
		c->cap = cap;
		b->arena = c;
	}
	char *p = c->data + c->used;
	if (n)
		memcpy(p, s, n);
	p[n] = '\0';
	c->used += n + 1;
	return p;
}

const char *batch_dup(struct batch *b, const char *s, size_t n)
{
	return arena_dup(b, s, n);
}

void batch_free(struct batch *b)
{
	if (!b)
		return;
	if (b->prev_live) {
		*b->prev_live = b->next_live;
		if (b->next_live)
			b->next_live->prev_live = b->prev_live;
	}
	for (size_t i = 0; b->w && i < b->n; i++) {
		for (int k = 0; k < 4; k++)
			free(b->w[i].sd.seen[k]);
		free(b->w[i].sd.votes);
	}
	mev_free(b);
	while (b->arena) {
		struct arena_chunk *c = b->arena;
		b->arena = c->next;
		free(c);
	}
	free(b->w);
	free(b->slots);
	free(b);
}

int bc_key(const struct beacon *bc, const struct bc_net *net, uint64_t slot, char *buf,
	   size_t size)
{
	int n = snprintf(buf, size, "%s/slots/%s/%" PRIu64 ".json", bc->prefix, net->name, slot);
	return n > 0 && (size_t)n < size ? 0 : LAB_ERANGE;
}

size_t batch_slot_index(const struct batch *b, uint64_t slot)
{
	size_t lo = 0, hi = b->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (b->slots[mid] < slot)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < b->n && b->slots[lo] == slot ? lo : SIZE_MAX;
}

static struct bc_slotw *slot_w(struct batch *b, uint64_t slot)
{
	size_t i = batch_slot_index(b, slot);
	return i == SIZE_MAX ? NULL : &b->w[i];
}

static void finish(struct batch *b)
{
	if (b->finished)
		return;
	b->finished = 1;
	b->done(b);
}

static void op_done(struct batch *b);
static void advance(struct batch *b);
void batch_op_done(struct batch *b) { op_done(b); }

/* After a phase has issued its operations.  Their completions always come
 * later (plugin.h §3: no callback before the call that registered it
 * returns), so counting them cannot reach zero while issuing; but when none
 * is in flight (nothing to do, or every submission failed synchronously:
 * < 0 and no callback) nothing would move the batch on, so move on now. */
void batch_settle(struct batch *b)
{
	if (b->ops == 0)
		advance(b);
}

/* ---- SQL ------------------------------------------------------------------ */

/* Common filter: network, slot range, ±15 min around the range (5 params). */
#define RANGE_WHERE                                                                    \
	" WHERE meta_network_name = ? AND slot BETWEEN ? AND ?"                        \
	" AND slot_start_date_time BETWEEN ? AND ?"

static const char SQL_BLOCK[] =
	"SELECT slot, toUnixTimestamp(slot_start_date_time), epoch,"
	" toUnixTimestamp(epoch_start_date_time), block_root, block_version, block_total_bytes,"
	" block_total_bytes_compressed, parent_root, state_root, proposer_index,"
	" eth1_data_block_hash, eth1_data_deposit_root, execution_payload_block_hash,"
	" execution_payload_block_number, execution_payload_fee_recipient,"
	" execution_payload_base_fee_per_gas, execution_payload_blob_gas_used,"
	" execution_payload_excess_blob_gas, execution_payload_gas_limit,"
	" execution_payload_gas_used, execution_payload_state_root,"
	" execution_payload_parent_hash, execution_payload_transactions_count,"
	" execution_payload_transactions_total_bytes,"
	" execution_payload_transactions_total_bytes_compressed"
	" FROM beacon_api_eth_v2_beacon_block FINAL" RANGE_WHERE
	" ORDER BY slot, event_date_time, meta_client_name, block_root LIMIT 1 BY slot";

/* First event per client: earliest event_date_time, ties broken by the
 * propagation time (events in the same second tie otherwise). */
#define SEEN_COLS                                                                      \
	"SELECT slot, meta_client_name, propagation_slot_start_diff, meta_client_geo_city," \
	" meta_client_geo_country, meta_client_geo_country_code,"                      \
	" meta_client_geo_continent_code"

static const char SQL_BLOCK_SEEN[] =
	SEEN_COLS ", -1 FROM beacon_api_eth_v1_events_block" RANGE_WHERE
	" ORDER BY slot, meta_client_name, event_date_time, propagation_slot_start_diff"
	" LIMIT 1 BY slot, meta_client_name";

static const char SQL_BLOB_SEEN[] =
	SEEN_COLS ", blob_index FROM beacon_api_eth_v1_events_blob_sidecar" RANGE_WHERE
	" ORDER BY slot, meta_client_name, blob_index, event_date_time,"
	" propagation_slot_start_diff LIMIT 1 BY slot, meta_client_name, blob_index";

static const char SQL_BLOCK_P2P[] =
	SEEN_COLS ", -1 FROM libp2p_gossipsub_beacon_block" RANGE_WHERE
	" ORDER BY slot, meta_client_name, event_date_time, propagation_slot_start_diff"
	" LIMIT 1 BY slot, meta_client_name";

static const char SQL_BLOB_P2P[] =
	SEEN_COLS ", blob_index FROM libp2p_gossipsub_blob_sidecar" RANGE_WHERE
	" ORDER BY slot, meta_client_name, blob_index, event_date_time,"
	" propagation_slot_start_diff LIMIT 1 BY slot, meta_client_name, blob_index";

static const char SQL_COMMITTEE[] =
	"SELECT slot, max(length(validators) * (toUInt32OrZero(committee_index) + 1))"
	" FROM beacon_api_eth_v1_beacon_committee" RANGE_WHERE " GROUP BY slot";

/* ---- phase 1 callbacks ---------------------------------------------------- */

/* What a query fetches: one of these, or a seen list (SD_BLOCK_SEEN..SD_BLOB_P2P). */
enum { Q_BLOCK = -1, Q_COMMITTEE = -2, Q_ENTITY = -3, Q_VOTES = -4, Q_PAYLOADS = BC_Q_PAYLOADS };

/* Columns each query selects (see the SQL above and query_entities/query_votes). */
static size_t query_columns(int which)
{
	switch (which) {
	case Q_BLOCK:
		return SD_BLOCK_FIELDS;
	case Q_COMMITTEE:
	case Q_ENTITY:
		return 2;
	case Q_VOTES:
		return 4;
	case Q_PAYLOADS:
		return MEV_PAYLOAD_COLUMNS;
	default:
		return 8;
	}
}

struct qctx {
	struct batch *b;
	int which; /* Q_* or a seen list */
};

static int row_str(struct batch *b, const lab_rows *r, size_t row, size_t col, struct sd_str *out)
{
	lab_ctx *ctx = b->bc->ctx;
	const char *s;
	size_t n;
	if (lab_rows_is_null(ctx, r, row, col) == 1) {
		out->p = NULL;
		out->n = 0;
		return 0;
	}
	if (lab_rows_str(ctx, r, row, col, &s, &n) < 0)
		return LAB_EPARSE;
	if (!(out->p = arena_dup(b, s, n)))
		return LAB_ENOMEM;
	out->n = n;
	return 0;
}

static int take_block(struct batch *b, const lab_rows *r)
{
	lab_ctx *ctx = b->bc->ctx;
	size_t nr = lab_rows_count(ctx, r);
	if (lab_rows_columns(ctx, r) < 1 + SD_BLOCK_FIELDS - 1)
		return nr ? LAB_EPARSE : 0;
	for (size_t i = 0; i < nr; i++) {
		uint64_t slot, prop;
		if (lab_rows_u64(ctx, r, i, 0, &slot) < 0)
			return LAB_EPARSE;
		struct bc_slotw *w = slot_w(b, slot);
		if (!w || w->status != W_TODO || w->sd.has_block)
			continue;
		for (size_t c = 0; c < SD_BLOCK_FIELDS; c++) {
			int rc = row_str(b, r, i, c, &w->sd.block[c]);
			if (rc < 0)
				return rc;
		}
		if (lab_rows_u64(ctx, r, i, 10, &prop) < 0)
			return LAB_EPARSE;
		w->sd.proposer = prop;
		w->sd.has_block = 1;
	}
	return 0;
}

static int take_seen(struct batch *b, const lab_rows *r, int k)
{
	lab_ctx *ctx = b->bc->ctx;
	size_t nr = lab_rows_count(ctx, r);
	if (nr && lab_rows_columns(ctx, r) < 8)
		return LAB_EPARSE;
	for (size_t i = 0; i < nr; i++) {
		uint64_t slot;
		int64_t ms, blob;
		if (lab_rows_u64(ctx, r, i, 0, &slot) < 0 || lab_rows_i64(ctx, r, i, 2, &ms) < 0 ||
		    lab_rows_i64(ctx, r, i, 7, &blob) < 0)
			return LAB_EPARSE;
		struct bc_slotw *w = slot_w(b, slot);
		if (!w || w->status != W_TODO)
			continue;
		struct sd_slot *sd = &w->sd;
		if (sd->nseen[k] == sd->capseen[k]) {
			size_t cap = sd->capseen[k] ? sd->capseen[k] * 2 : 32;
			struct sd_seen *p = realloc(sd->seen[k], cap * sizeof *p);
			if (!p)
				return LAB_ENOMEM;
			sd->seen[k] = p;
			sd->capseen[k] = cap;
		}
		struct sd_seen *s = &sd->seen[k][sd->nseen[k]];
		memset(s, 0, sizeof *s);
		int rc;
		if ((rc = row_str(b, r, i, 1, &s->client)) < 0 ||
		    (rc = row_str(b, r, i, 3, &s->city)) < 0 ||
		    (rc = row_str(b, r, i, 4, &s->country)) < 0 ||
		    (rc = row_str(b, r, i, 5, &s->cc)) < 0 ||
		    (rc = row_str(b, r, i, 6, &s->continent)) < 0)
			return rc;
		if (!s->client.p) /* NULL client names cannot key a map */
			continue;
		s->ms = ms;
		s->blob = blob;
		sd->nseen[k]++;
	}
	return 0;
}

static int take_committee(struct batch *b, const lab_rows *r)
{
	lab_ctx *ctx = b->bc->ctx;
	size_t nr = lab_rows_count(ctx, r);
	for (size_t i = 0; i < nr; i++) {
		uint64_t slot, v;
		if (lab_rows_u64(ctx, r, i, 0, &slot) < 0)
			return LAB_EPARSE;
		if (lab_rows_is_null(ctx, r, i, 1) == 1)
			continue;
		if (lab_rows_u64(ctx, r, i, 1, &v) < 0)
			return LAB_EPARSE;
		struct bc_slotw *w = slot_w(b, slot);
		if (w && w->status == W_TODO)
			w->sd.max_votes = v;
	}
	return 0;
}

static int take_entity(struct batch *b, const lab_rows *r)
{
	lab_ctx *ctx = b->bc->ctx;
	size_t nr = lab_rows_count(ctx, r);
	for (size_t i = 0; i < nr; i++) {
		uint64_t index;
		struct sd_str e;
		int rc;
		if (lab_rows_u64(ctx, r, i, 0, &index) < 0)
			return LAB_EPARSE;
		if ((rc = row_str(b, r, i, 1, &e)) < 0)
			return rc;
		if (!e.p)
			continue;
		for (size_t j = 0; j < b->n; j++) {
			struct sd_slot *sd = &b->w[j].sd;
			if (b->w[j].status == W_TODO && sd->has_block && !sd->entity_set &&
			    sd->proposer == index) {
				sd->entity = e.p;
				sd->entity_len = e.n;
				sd->entity_set = 1;
			}
		}
	}
	return 0;
}

/* Root text of a block without FixedString padding. */
static size_t root_len(const struct sd_str *s)
{
	size_t n = s->p ? s->n : 0;
	while (n && s->p[n - 1] == '\0')
		n--;
	return n;
}

static int take_votes(struct batch *b, const lab_rows *r)
{
	lab_ctx *ctx = b->bc->ctx;
	size_t nr = lab_rows_count(ctx, r);
	for (size_t i = 0; i < nr; i++) {
		uint64_t slot, v;
		int64_t ms;
		const char *root;
		size_t rlen;
		if (lab_rows_u64(ctx, r, i, 0, &slot) < 0 ||
		    lab_rows_str(ctx, r, i, 1, &root, &rlen) < 0 ||
		    lab_rows_u64(ctx, r, i, 2, &v) < 0 || lab_rows_i64(ctx, r, i, 3, &ms) < 0)
			return LAB_EPARSE;
		struct bc_slotw *w = slot_w(b, slot);
		if (!w || w->status != W_TODO || !w->sd.has_block)
			continue;
		while (rlen && root[rlen - 1] == '\0')
			rlen--;
		const struct sd_str *br = &w->sd.block[4];
		size_t blen = root_len(br);
		if (blen != rlen || memcmp(br->p, root, rlen) != 0)
			continue; /* a vote for another block root */
		if (ms < 0 || ms > SD_ATT_MAX_MS)
			continue;
		struct sd_slot *sd = &w->sd;
		if (sd->nvotes == sd->capvotes) {
			size_t cap = sd->capvotes ? sd->capvotes * 2 : 64;
			struct sd_vote *p = realloc(sd->votes, cap * sizeof *p);
			if (!p)
				return LAB_ENOMEM;
			sd->votes = p;
			sd->capvotes = cap;
		}
		sd->votes[sd->nvotes].validator = v;
		sd->votes[sd->nvotes].ms = ms;
		sd->nvotes++;
	}
	return 0;
}

static void on_query(lab_ctx *ctx, int status, const char *errmsg, const lab_rows *rows, void *ud)
{
	struct qctx *q = ud;
	struct batch *b = q->b;
	int which = q->which;
	free(q);
	int rc = status;
	/* ClickHouse names its columns also when no row matches: fewer columns
	 * than asked for is not its answer (e.g. a proxy's one-line error
	 * page), and must not read as "no block" (recorded as missed). */
	if (rc == 0 && rows && lab_rows_columns(ctx, rows) < query_columns(which))
		rc = LAB_EPARSE;
	if (rc == 0 && rows) {
		if (which == Q_BLOCK)
			rc = take_block(b, rows);
		else if (which == Q_COMMITTEE)
			rc = take_committee(b, rows);
		else if (which == Q_ENTITY)
			rc = take_entity(b, rows);
		else if (which == Q_VOTES)
			rc = take_votes(b, rows);
		else if (which == Q_PAYLOADS)
			rc = mev_take_payloads(b, rows);
		else
			rc = take_seen(b, rows, which);
	}
	if (rc < 0) {
		if (!b->failed)
			lab_logkv(ctx, LAB_LOG_WARN, "slot query failed", LAB_FS("network", b->net->name),
				  LAB_FI("from", b->slots[0]), LAB_FI("to", b->slots[b->n - 1]),
				  LAB_FS("error", errmsg ? errmsg : lab_strerror(rc)));
		b->failed = 1;
	}
	op_done(b);
}

int batch_query(struct batch *b, int which, const char *sql, const lab_param *p, size_t np)
{
	struct qctx *q = malloc(sizeof *q);
	if (!q)
		return LAB_ENOMEM;
	q->b = b;
	q->which = which;
	b->ops++; /* counted while in flight; undone when the submission fails */
	int rc = lab_query(b->bc->ctx, sql, p, np, on_query, q);
	if (rc < 0) {
		b->ops--;
		free(q);
		if (!b->failed)
			lab_logkv(b->bc->ctx, LAB_LOG_WARN, "cannot query", LAB_FS("network", b->net->name),
				  LAB_FI("from", b->slots[0]), LAB_FS("error", lab_strerror(rc)));
		return rc;
	}
	return 0;
}

/* The todo range [lo, hi]; 0 when nothing is left to do. */
int batch_todo_range(const struct batch *b, uint64_t *lo, uint64_t *hi)
{
	int any = 0;
	for (size_t i = 0; i < b->n; i++)
		if (b->w[i].status == W_TODO) {
			if (!any)
				*lo = b->slots[i];
			*hi = b->slots[i];
			any = 1;
		}
	return any;
}

static void range_params(struct batch *b, uint64_t lo, uint64_t hi, lab_param *p)
{
	lab_ctx *ctx = b->bc->ctx;
	p[0] = LAB_PSTR(b->net->name);
	p[1] = LAB_PUINT(lo);
	p[2] = LAB_PUINT(hi);
	p[3] = LAB_PTIME(lab_network_slot_time(ctx, b->net->nw, lo) - 900);
	p[4] = LAB_PTIME(lab_network_slot_time(ctx, b->net->nw, hi) + 900);
}

/* Phase 1's queries. */
static const struct {
	int which;
	const char *sql;
} P1[] = {
	{ Q_BLOCK, SQL_BLOCK },
	{ SD_BLOCK_SEEN, SQL_BLOCK_SEEN },
	{ SD_BLOB_SEEN, SQL_BLOB_SEEN },
	{ SD_BLOCK_P2P, SQL_BLOCK_P2P },
	{ SD_BLOB_P2P, SQL_BLOB_P2P },
	{ Q_COMMITTEE, SQL_COMMITTEE },
};
#define NP1 (sizeof P1 / sizeof P1[0])

/* Issues phase 1's queries for slots lo..hi; 0, or the first submission's
 * error (the batch is then failed; the queries issued before still count). */
static int phase1_issue(struct batch *b, uint64_t lo, uint64_t hi)
{
	int rc = 0;
	range_params(b, lo, hi, b->qp);
	b->phase = 1;
	/* every query at once */
	for (size_t i = 0; i < NP1 && rc == 0; i++)
		rc = batch_query(b, P1[i].which, P1[i].sql, b->qp, 5);
	/* MEV payloads: their own ±180 s window */
	if (rc == 0 && b->net->mev)
		rc = mev_query_payloads(b);
	if (rc < 0)
		b->failed = 1;
	return rc;
}

static void phase1(struct batch *b)
{
	uint64_t lo, hi;
	if (!batch_todo_range(b, &lo, &hi)) {
		finish(b);
		return;
	}
	phase1_issue(b, lo, hi);
	batch_settle(b);
}

/* Append "?,?,...,?" (n placeholders) to buf. */
static void placeholders(struct buf *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		buf_puts(s, i ? ",?" : "?");
}

static void query_entities(struct batch *b)
{
	size_t np = 0, nent = 0;
	for (size_t i = 0; i < b->n; i++)
		if (b->w[i].status == W_TODO && !b->w[i].sd.entity_set)
			nent++;
	if (!nent)
		return;
	lab_param *p = calloc(nent + 1, sizeof *p);
	struct buf sql = { 0 };
	if (!p) {
		b->failed = 1;
		return;
	}
	p[np++] = LAB_PSTR(b->net->name);
	buf_puts(&sql, "SELECT index, entity FROM ethseer_validator_entity FINAL"
		       " WHERE meta_network_name = ? AND index IN (");
	for (size_t i = 0; i < b->n; i++)
		if (b->w[i].status == W_TODO && !b->w[i].sd.entity_set)
			p[np++] = LAB_PUINT(b->w[i].sd.proposer);
	placeholders(&sql, np - 1);
	buf_puts(&sql, ") ORDER BY index, entity LIMIT 1 BY index");
	buf_putc(&sql, '\0');
	if (sql.oom || batch_query(b, Q_ENTITY, sql.data, p, np) < 0)
		b->failed = 1;
	buf_free(&sql);
	free(p);
}

/* Attestations: the exact slot window (slot start .. +seconds per slot),
 * validators with an index, ≤ 12000 ms, the slots' block roots over
 * [b->vlo, b->vhi]; the per-slot root is matched when the rows are split. */
static void query_votes(struct batch *b)
{
	lab_ctx *ctx = b->bc->ctx;
	size_t np = 0, nroots = 0;
	for (size_t i = 0; i < b->n; i++)
		if (b->w[i].status == W_TODO)
			nroots++;
	lab_param *p = calloc(nroots + 8, sizeof *p);
	struct buf sql = { 0 };
	if (!p) {
		b->failed = 1;
		return;
	}
	int64_t g = lab_network_genesis(ctx, b->net->nw);
	uint32_t sps = lab_network_seconds_per_slot(ctx, b->net->nw);
	range_params(b, b->vlo, b->vhi, p);
	np = 5;
	p[np++] = LAB_PUINT(sps);
	p[np++] = LAB_PINT(g);
	p[np++] = LAB_PINT(g + (int64_t)sps);
	buf_puts(&sql,
		 "SELECT slot, beacon_block_root, attesting_validator_index,"
		 " min(propagation_slot_start_diff)"
		 " FROM beacon_api_eth_v1_events_attestation" RANGE_WHERE
		 " AND toInt64(toUnixTimestamp(slot_start_date_time)) - toInt64(slot) * ?"
		 " BETWEEN ? AND ?"
		 " AND attesting_validator_index IS NOT NULL"
		 " AND propagation_slot_start_diff <= 12000 AND beacon_block_root IN (");
	size_t first = np;
	for (size_t i = 0; i < b->n; i++)
		if (b->w[i].status == W_TODO) {
			const struct sd_str *r = &b->w[i].sd.block[4];
			p[np] = LAB_PSTR(r->p ? r->p : "");
			p[np].len = root_len(r);
			np++;
		}
	placeholders(&sql, np - first);
	buf_puts(&sql, ") GROUP BY slot, beacon_block_root, attesting_validator_index");
	buf_putc(&sql, '\0');
	if (sql.oom || batch_query(b, Q_VOTES, sql.data, p, np) < 0)
		b->failed = 1;
	buf_free(&sql);
	free(p);
}

static void phase2(struct batch *b)
{
	lab_ctx *ctx = b->bc->ctx;
	size_t nblocks = 0;
	uint64_t lo = 0, hi = 0;
	for (size_t i = 0; i < b->n; i++) {
		struct bc_slotw *w = &b->w[i];
		if (w->status != W_TODO)
			continue;
		if (!w->sd.has_block) {
			w->status = W_NOBLOCK;
			continue;
		}
		const char *e = lab_network_entity(ctx, b->net->nw, w->sd.proposer);
		if (e) { /* the configured validator set first */
			w->sd.entity = e;
			w->sd.entity_len = strlen(e);
			w->sd.entity_set = 1;
		}
		if (!nblocks)
			lo = b->slots[i];
		hi = b->slots[i];
		nblocks++;
	}
	b->phase = 2;
	if (nblocks) {
		b->vlo = lo;
		b->vhi = hi;
		query_entities(b);
		if (!b->failed)
			query_votes(b);
	} else {
		b->phase = 3;
	}
	batch_settle(b);
}

/* ---- phase 3: documents and puts ------------------------------------------- */

struct putctx {
	struct batch *b;
	size_t i;
};

static void on_put(lab_ctx *ctx, int status, const void *data, size_t len, void *ud)
{
	struct putctx *pc = ud;
	struct batch *b = pc->b;
	struct bc_slotw *w = &b->w[pc->i];
	free(pc);
	if (status < 0) {
		w->status = W_FAILED;
		lab_logkv(ctx, LAB_LOG_WARN, "cannot store slot", LAB_FS("network", b->net->name),
			  LAB_FI("slot", w->sd.slot), LAB_FS("error", lab_strerror(status)));
	} else {
		char key[512];
		w->status = W_STORED;
		if (bc_key(b->bc, b->net, w->sd.slot, key, sizeof key) == 0) {
			struct buf e = { 0 };
			buf_puts(&e, "{\"network\":");
			buf_json_str(&e, b->net->name, strlen(b->net->name));
			buf_puts(&e, ",\"slot\":");
			buf_u64(&e, w->sd.slot);
			buf_puts(&e, ",\"key\":");
			buf_json_str(&e, key, strlen(key));
			buf_putc(&e, '}');
			if (!e.oom)
				lab_publish(ctx, "beacon.slot", e.data, e.len);
			buf_free(&e);
		}
		bc_log_slot(b->net, 0, w->sd.slot);
	}
	op_done(b);
}

void batch_doc_failed(struct batch *b, size_t i, int rc)
{
	b->w[i].status = W_FAILED;
	lab_logkv(b->bc->ctx, LAB_LOG_WARN, "cannot store slot", LAB_FS("network", b->net->name),
		  LAB_FI("slot", b->w[i].sd.slot), LAB_FS("error", lab_strerror(rc)));
}

int batch_doc_open(struct batch *b, size_t i, struct buf *doc)
{
	lab_ctx *ctx = b->bc->ctx;
	int64_t took = (int64_t)(lab_monotonic_ms(ctx) - b->t0);
	return sd_build_open(doc, &b->w[i].sd, b->net->name, lab_now_ms(ctx), took, &b->bc->geo) < 0
		       ? LAB_ENOMEM
		       : 0;
}

void batch_put_doc(struct batch *b, size_t i, const struct buf *doc)
{
	lab_ctx *ctx = b->bc->ctx;
	char key[512];
	if (!bc_cl_may_store(b, i)) {
		/* the claim or lease was lost while the queries ran: another
		 * daemon may own the slot now; not stored, the batch fails */
		b->w[i].status = W_FAILED;
		lab_logkv(ctx, LAB_LOG_WARN, "claim or lease lost, slot not stored",
			  LAB_FS("network", b->net->name), LAB_FI("slot", b->w[i].sd.slot));
		return;
	}
	int rc = doc->oom ? LAB_ENOMEM : bc_key(b->bc, b->net, b->w[i].sd.slot, key, sizeof key);
	struct putctx *pc = rc == 0 ? malloc(sizeof *pc) : NULL;
	if (rc == 0 && !pc)
		rc = LAB_ENOMEM;
	if (rc == 0) {
		pc->b = b;
		pc->i = i;
		b->ops++;
		rc = lab_storage_put(ctx, key, doc->data, doc->len, "application/json",
				     "public,max-age=86400,s-maxage=86400", on_put, pc);
		if (rc < 0) {
			b->ops--;
			free(pc);
		}
	}
	if (rc < 0)
		batch_doc_failed(b, i, rc);
}

static void phase3(struct batch *b)
{
	if (b->net->mev) { /* the documents are written as the bids stream in */
		mev_docs(b);
		return;
	}
	b->phase = 3;
	for (size_t i = 0; i < b->n; i++) {
		if (b->w[i].status != W_TODO)
			continue;
		struct buf doc = { 0 };
		int rc = batch_doc_open(b, i, &doc);
		buf_putc(&doc, '}');
		if (rc < 0)
			batch_doc_failed(b, i, rc);
		else
			batch_put_doc(b, i, &doc);
		buf_free(&doc);
	}
	batch_settle(b);
}

static void op_done(struct batch *b)
{
	if (--b->ops == 0)
		advance(b);
}

/* The operations of the current phase are all done: the next phase. */
static void advance(struct batch *b)
{
	if (b->failed) {
		for (size_t i = 0; i < b->n; i++)
			if (b->w[i].status == W_TODO)
				b->w[i].status = W_FAILED;
		finish(b);
		return;
	}
	if (b->phase == 0)
		phase1(b);
	else if (b->phase == 1)
		phase2(b);
	else if (b->phase == 2)
		phase3(b);
	else
		finish(b);
}

/* ---- phase 0: exists -------------------------------------------------------- */

struct exctx {
	struct batch *b;
	size_t i;
};

static void on_exists(lab_ctx *ctx, int status, const void *data, size_t len, void *ud)
{
	struct exctx *e = ud;
	struct batch *b = e->b;
	if (status == 1)
		b->w[e->i].status = W_EXISTS;
	/* an error is not fatal: the slot is rebuilt and overwritten */
	free(e);
	op_done(b);
}

int batch_start(struct beacon *bc, struct bc_net *net, int kind, int force, const uint64_t *slots,
		size_t n, bc_batch_done done, struct batch **out)
{
	lab_ctx *ctx = bc->ctx;
	if (n == 0 || n > BC_MAX_BATCH)
		return LAB_EINVAL;
	struct batch *b = calloc(1, sizeof *b);
	if (!b)
		return LAB_ENOMEM;
	b->slots = malloc(n * sizeof *b->slots);
	b->w = calloc(n, sizeof *b->w);
	if (!b->slots || !b->w) {
		free(b->slots);
		free(b->w);
		free(b);
		return LAB_ENOMEM;
	}
	memcpy(b->slots, slots, n * sizeof *slots);
	b->bc = bc;
	b->net = net;
	b->kind = kind;
	b->force = force;
	b->n = n;
	b->done = done;
	b->t0 = lab_monotonic_ms(ctx);
	for (size_t i = 0; i < n; i++)
		b->w[i].sd.slot = slots[i];
	/* live list */
	b->next_live = bc->batches;
	if (bc->batches)
		bc->batches->prev_live = &b->next_live;
	bc->batches = b;
	b->prev_live = &bc->batches;

	/* done() must never run before the caller has recorded the batch; the
	 * completions of what is issued here come later (plugin.h §3). */
	for (size_t i = 0; !force && i < n; i++) {
		char key[512];
		struct exctx *e = malloc(sizeof *e);
		if (!e || bc_key(bc, net, slots[i], key, sizeof key) < 0) {
			free(e);
			continue;
		}
		e->b = b;
		e->i = i;
		b->ops++;
		if (lab_storage_exists(ctx, key, on_exists, e) < 0) {
			b->ops--;
			free(e);
		}
	}
	/* No exists check in flight (force, or none could be submitted: the
	 * slots are then rebuilt): phase 1 at once.  When not even one of its
	 * queries could be submitted, the batch never started: it is freed and
	 * the caller gets the error instead of done(). */
	if (b->ops == 0) {
		uint64_t lo = 0, hi = 0;
		batch_todo_range(b, &lo, &hi); /* every slot is still to do */
		int rc = phase1_issue(b, lo, hi);
		if (b->ops == 0) {
			batch_free(b);
			return rc < 0 ? rc : LAB_EIO;
		}
	}
	if (out)
		*out = b;
	return 0;
}
