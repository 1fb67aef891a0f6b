/*
 * mev — relay bids and delivered payloads in the slot document (SPEC §9.5).
 *
 *   phase 1  delivered payloads of the batch's slots: small; kept per slot
 *            as the JSON text of "delivered_payloads";
 *   phase 3  the bids: one streamed query for the batch, rows in document
 *            order (slot, relay, bids, the winning bid).  Each slot's
 *            document is opened when its first row arrives, the rows are
 *            written straight into it, and it is stored as soon as the next
 *            slot's rows begin — so a batch holds one document and one
 *            batch of rows at a time however many bids a slot has (a
 *            mainnet slot: ~3000 bids, 1-2 MB of JSON).
 *
 * The selection (±12 s, the winning hash excluded, identical bids once,
 * top 2 per relay and 50 ms bucket, the winner) is done by ClickHouse in
 * one statement that runs on 18.16 (no window functions, no CTE): LIMIT n
 * BY over subqueries, UNION ALL of the competing bids, the winners, the
 * rows whose value is not a canonical decimal (so that every dropped row is
 * counted), and an end marker row — a streamed answer without it (a proxy's
 * one-line page, a cut) is a failure, never "no bids".  Wei values stay
 * text end to end and are ordered by (length, text).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "beacon.h"

#define MEV_WINDOW_S 180 /* bids and payloads: slot start ± 3 min, so the sorting key prunes */
#define BID_MAX_MS 12000
#define BID_COLUMNS 13

enum { K_BID = 0, K_WINNER = 1, K_MALFORMED = 2, K_END = 3 };

struct mev_stream {
	size_t next; /* w[] index: every todo slot before it is written */
	size_t cur;  /* w[] index of the open document, when `open` */
	int open;
	struct buf doc;
	struct mev_group g;
	int end_seen; /* the end marker arrived */
	int bad;      /* a row that ClickHouse cannot have sent: the answer is refused */
	int seen;     /* a row with a slot arrived; `last_slot` is its slot */
	uint64_t last_slot;
	uint64_t dropped; /* malformed values of the open slot */
};

/* network, lo, hi, and the ±180 s window: 5 parameters. */
static void window_params(const struct batch *b, uint64_t lo, uint64_t hi, lab_param *p)
{
	lab_ctx *ctx = b->bc->ctx;
	p[0] = LAB_PSTR(b->net->name);
	p[1] = LAB_PUINT(lo);
	p[2] = LAB_PUINT(hi);
	p[3] = LAB_PTIME(lab_network_slot_time(ctx, b->net->nw, lo) - MEV_WINDOW_S);
	p[4] = LAB_PTIME(lab_network_slot_time(ctx, b->net->nw, hi) + MEV_WINDOW_S);
}

#define WINDOW_WHERE                                                                   \
	" WHERE meta_network_name = ? AND slot BETWEEN ? AND ?"                        \
	" AND slot_start_date_time BETWEEN ? AND ?"

/* ---- delivered payloads ------------------------------------------------------ */

static const char SQL_PAYLOADS[] =
	"SELECT slot, relay_name, toString(block_hash) AS bh, block_number, proposer_pubkey,"
	" toString(proposer_fee_recipient) AS fr"
	" FROM mev_relay_proposer_payload_delivered" WINDOW_WHERE
	" GROUP BY slot, relay_name, bh, block_number, proposer_pubkey, fr"
	" ORDER BY slot, relay_name, bh, block_number, proposer_pubkey, fr";

int mev_query_payloads(struct batch *b)
{
	uint64_t lo, hi;
	lab_param p[5];
	if (!batch_todo_range(b, &lo, &hi))
		return 0;
	window_params(b, lo, hi, p);
	return batch_query(b, BC_Q_PAYLOADS, SQL_PAYLOADS, p, 5);
}

static int cell(lab_ctx *ctx, const lab_rows *r, size_t row, size_t col, struct sd_str *out)
{
	if (lab_rows_str(ctx, r, row, col, &out->p, &out->n) < 0)
		return LAB_EPARSE;
	return 0;
}

int mev_take_payloads(struct batch *b, const lab_rows *r)
{
	lab_ctx *ctx = b->bc->ctx;
	size_t nr = lab_rows_count(ctx, r);
	struct bc_slotw *cur = NULL;
	struct mev_group g = { 0 };
	int rc = 0;
	for (size_t i = 0; i < nr && rc == 0; i++) {
		struct mev_payload x;
		struct sd_str relay;
		if (lab_rows_u64(ctx, r, i, 0, &x.slot) < 0 || cell(ctx, r, i, 1, &relay) < 0 ||
		    cell(ctx, r, i, 2, &x.block_hash) < 0 ||
		    lab_rows_u64(ctx, r, i, 3, &x.block_number) < 0 ||
		    cell(ctx, r, i, 4, &x.proposer_pubkey) < 0 ||
		    cell(ctx, r, i, 5, &x.proposer_fee_recipient) < 0) {
			rc = LAB_EPARSE;
			break;
		}
		size_t k = batch_slot_index(b, x.slot);
		if (k == SIZE_MAX || b->w[k].status != W_TODO)
			continue;
		struct bc_slotw *w = &b->w[k];
		if (w != cur) {
			if (cur)
				mg_end(&g);
			if (w->payloads.len) { /* this slot's rows came before: not sorted */
				rc = LAB_EPARSE;
				cur = NULL;
				break;
			}
			mg_begin(&g, &w->payloads, "payloads");
			cur = w;
			/* the bid rows' references (slot_refs); NULL when out of memory: none */
			w->pay_pp.p = batch_dup(b, x.proposer_pubkey.p, x.proposer_pubkey.n);
			w->pay_pp.n = w->pay_pp.p ? x.proposer_pubkey.n : 0;
			w->pay_fr.p = batch_dup(b, x.proposer_fee_recipient.p, x.proposer_fee_recipient.n);
			w->pay_fr.n = w->pay_fr.p ? x.proposer_fee_recipient.n : 0;
		}
		int m = mg_item(&g, relay.p, relay.n);
		if (m < 0) {
			rc = m == -1 ? LAB_EPARSE : LAB_ENOMEM;
			break;
		}
		mev_payload_json(&w->payloads, &x);
	}
	if (cur && rc == 0)
		mg_end(&g);
	mg_discard(&g);
	for (size_t i = 0; i < b->n && rc == 0; i++)
		if (b->w[i].payloads.oom)
			rc = LAB_ENOMEM;
	return rc;
}

/* ---- bids, streamed into the documents ------------------------------------------ */

/* Per bid row: the bucket is counted from -12 s so that intDiv (which
 * truncates) floors; st and bk name the slot time and the bucket. */
#define BID_COLS                                                                          \
	"slot, relay_name, toString(parent_hash) AS ph, toString(block_hash) AS bh,"      \
	" builder_pubkey AS bp, proposer_pubkey AS pp, toString(proposer_fee_recipient) AS fr," \
	" toString(value) AS v, gas_limit AS gl, gas_used AS gu,"                         \
	" toInt64(timestamp_ms) - (toInt64(slot) * ? + ?) * 1000 AS st,"                  \
	" intDiv(st + 12000, 50) AS bk"
#define WEI_OK "match(v, '^(0|[1-9][0-9]{0,77})$')"
#define OUT_COLS "slot, relay_name, kind, ph, bh, bp, pp, fr, v, gl, gu, st"

struct bid_sql {
	struct buf sql;
	lab_param *p;
	size_t np, cap;
	const lab_param *win; /* (slot, hash) pairs of the blocks with a payload hash */
	size_t nwin;
};

/* The scan: the bid columns and each row's kind, in a subquery of its
 * own.  Why its own level: `kind` holds the (slot, hash) list of the
 * batch's winners, and ClickHouse 18.16 substitutes an alias's whole
 * expression wherever the alias is used (the LIMIT BY keys below use kind
 * a dozen times) and builds a column name from each copy; read from a
 * subquery, kind is a plain column.  On a 32-slot batch the statement took
 * 28 ms of ClickHouse CPU instead of 50 ms, same answer byte for byte. */
static void add_scan(struct bid_sql *q, const struct batch *b, uint64_t lo, uint64_t hi)
{
	lab_ctx *ctx = b->bc->ctx;
	buf_puts(&q->sql, "SELECT " BID_COLS ", multiIf(NOT " WEI_OK ", 2, ");
	q->p[q->np++] = LAB_PUINT(lab_network_seconds_per_slot(ctx, b->net->nw));
	q->p[q->np++] = LAB_PINT(lab_network_genesis(ctx, b->net->nw));
	if (q->nwin) { /* the block's payload hash: a winning row */
		buf_puts(&q->sql, "(slot, block_hash) IN (");
		for (size_t i = 0; i < q->nwin; i++) {
			buf_puts(&q->sql, i ? ",(?,?)" : "(?,?)");
			q->p[q->np++] = q->win[2 * i];
			q->p[q->np++] = q->win[2 * i + 1];
		}
		buf_puts(&q->sql, ")");
	} else {
		buf_puts(&q->sql, "0");
	}
	buf_puts(&q->sql, ", 1, 0) AS kind FROM mev_relay_bid_trace" WINDOW_WHERE);
	window_params(b, lo, hi, q->p + q->np);
	q->np += 5;
}

/* A reference string for the SQL and the document: '' when absent or when
 * it holds a NUL (then no row can match it but an empty one, which is
 * written the same either way). */
static struct sd_str ref_of(const char *p, size_t n)
{
	struct sd_str r = { "", 0 };
	while (p && n && p[n - 1] == '\0')
		n--;
	if (p && n && !memchr(p, '\0', n)) {
		r.p = p;
		r.n = n;
	}
	return r;
}

/* The references of a todo slot: the block's execution parent hash (a
 * relay's bids for the slot build on it), the first delivered payload's
 * proposer key and fee recipient (the proposer's registration, which the
 * bids carry too); without a payload, the block's fee recipient (a block
 * not built by a relay's builder pays the proposer's).  Only a guess of
 * what the rows hold: a row that differs is sent in full. */
static void slot_refs(struct bc_slotw *w)
{
	const struct sd_str *blk = w->sd.block;
	w->mev_ref[0] = ref_of(blk[22].p, blk[22].n); /* execution_payload_parent_hash */
	w->mev_ref[1] = ref_of(w->pay_pp.p, w->pay_pp.n);
	if (w->pay_fr.p)
		w->mev_ref[2] = ref_of(w->pay_fr.p, w->pay_fr.n);
	else
		w->mev_ref[2] = ref_of(blk[15].p, blk[15].n); /* execution_payload_fee_recipient */
}

/* sm: bit k set when column k of (parent hash, proposer, fee recipient)
 * equals the slot's reference; [refs][indexOf([slots], slot)] is '' for a
 * slot not listed (index 0). */
static int refs_sql(struct bid_sql *q, struct batch *b)
{
	static const char *const col[3] = { "ph", "pp", "fr" };
	for (int k = 0; k < 3; k++) {
		buf_puts(&q->sql, k ? " + (" : "((");
		buf_puts(&q->sql, col[k]);
		buf_puts(&q->sql, " = [");
		size_t j = 0;
		for (size_t i = 0; i < b->n; i++) {
			struct bc_slotw *w = &b->w[i];
			if (w->status != W_TODO)
				continue;
			if (k == 0)
				slot_refs(w);
			buf_puts(&q->sql, j++ ? ",?" : "?");
			q->p[q->np] = LAB_PSTR(w->mev_ref[k].p);
			q->p[q->np++].len = w->mev_ref[k].n;
		}
		buf_puts(&q->sql, "][");
		if (k == 0) {
			buf_puts(&q->sql, "indexOf([");
			j = 0;
			for (size_t i = 0; i < b->n; i++)
				if (b->w[i].status == W_TODO) {
					buf_puts(&q->sql, j++ ? ",?" : "?");
					q->p[q->np++] = LAB_PUINT(b->slots[i]);
				}
			buf_puts(&q->sql, "], slot) AS si])");
		} else {
			buf_puts(&q->sql, k == 1 ? "si]) * 2" : "si]) * 4");
		}
	}
	buf_puts(&q->sql, ")");
	return q->sql.oom ? LAB_ENOMEM : 0;
}

/* The statement (see the file comment), columns:
 * slot, relay, kind, parent_hash, block_hash, builder, proposer, fee recipient,
 * value, gas_limit, gas_used, slot_time.  One scan of the table: each row
 * gets its kind (malformed, winning hash, competing), and the LIMIT BY keys
 * depend on it — competing bids by (bucket, k_id = hash, builder, proposer,
 * fee recipient) then the top 2 per bucket; winners one per relay, the
 * latest first; malformed rows each their own (rn), so all are counted. */
static int build_bid_sql(struct batch *b, uint64_t lo, uint64_t hi, struct bid_sql *q)
{
	size_t nwin = 0;
	for (size_t i = 0; i < b->n; i++)
		if (b->w[i].status == W_TODO && b->w[i].sd.block[13].p)
			nwin++;
	size_t ntodo = 0;
	for (size_t i = 0; i < b->n; i++)
		ntodo += b->w[i].status == W_TODO;
	lab_param *win = calloc(2 * nwin + 1, sizeof *win);
	q->cap = 7 + 2 * nwin + 4 * ntodo;
	q->p = calloc(q->cap, sizeof *q->p);
	if (!win || !q->p) {
		free(win);
		return LAB_ENOMEM;
	}
	nwin = 0;
	for (size_t i = 0; i < b->n; i++) {
		const struct sd_str *h = &b->w[i].sd.block[13]; /* execution_payload_block_hash */
		if (b->w[i].status != W_TODO || !h->p)
			continue;
		size_t n = h->n;
		while (n && h->p[n - 1] == '\0')
			n--;
		win[2 * nwin] = LAB_PUINT(b->slots[i]);
		win[2 * nwin + 1] = LAB_PSTR(h->p);
		win[2 * nwin + 1].len = n;
		nwin++;
	}
	q->win = win;
	q->nwin = nwin;

	/* The slot's parent hash, proposer and fee recipient repeat on every
	 * bid row: a row equal to its slot's reference (see slot_refs) sends ''
	 * and a bit in `sm` instead, ~45 % fewer bytes to send and parse.  An
	 * exact comparison, so the document is the same whatever the rows hold. */
	buf_puts(&q->sql, "SELECT slot, relay_name, kind, if(bitAnd(sm, 1) != 0, '', ph) AS o_ph, bh, bp,"
			  " if(bitAnd(sm, 2) != 0, '', pp) AS o_pp, if(bitAnd(sm, 4) != 0, '', fr) AS o_fr,"
			  " v, gl, gu, st, ");
	if (refs_sql(q, b) < 0)
		return LAB_ENOMEM;
	/* k_id: the identity of a competing bid (hash, builder, proposer, fee
	 * recipient) as a 128-bit SipHash of an unambiguous concatenation (the
	 * hashes are fixed-width, the builder key length-prefixed): sorting 16
	 * bytes instead of ~300 makes the statement a quarter faster. */
	buf_puts(&q->sql, " AS sm FROM (SELECT " OUT_COLS ", bk FROM (SELECT * FROM (SELECT *,"
			  " if(kind = 0, bk, 0) AS k_bk,"
			  " sipHash128(if(kind = 0, concat(bh, fr, toString(length(bp)), ':', bp, pp), ''))"
			  " AS k_id, if(kind = 2, toInt64(rowNumberInAllBlocks()), 0) AS rn FROM (");
	add_scan(q, b, lo, hi);
	buf_puts(&q->sql, ") WHERE (kind != 0 OR st BETWEEN -12000 AND 12000)"
			  " ORDER BY slot, relay_name, kind, k_bk, k_id, rn,"
			  " if(kind = 1, -st, 0), length(v) DESC, v DESC, st, bh, bp, pp, fr, ph"
			  " LIMIT 1 BY slot, relay_name, kind, k_bk, k_id, rn)"
			  " ORDER BY slot, relay_name, kind, if(kind = 0, bk, rn), length(v) DESC, v DESC,"
			  " st, bh, bp, pp, fr"
			  " LIMIT 2 BY slot, relay_name, kind, if(kind = 0, bk, rn))"
			  " UNION ALL SELECT toUInt32(0), '', toUInt8(3), '', '', '', '', '', '',"
			  " toUInt64(0), toUInt64(0), toInt64(0), toInt64(0))"
			  " ORDER BY kind = 3, slot, relay_name, kind, bk, length(v) DESC, v DESC, st, bh,"
			  " bp, pp, fr");
	buf_putc(&q->sql, '\0');
	return q->sql.oom ? LAB_ENOMEM : 0;
}

static void bid_sql_free(struct bid_sql *q)
{
	buf_free(&q->sql);
	free(q->p);
	free((void *)q->win);
}

/* Close the open document: delivered payloads, the closing brace, store. */
static void close_doc(struct batch *b)
{
	struct mev_stream *m = b->mev;
	struct bc_slotw *w = &b->w[m->cur];
	mg_end(&m->g);
	buf_puts(&m->doc, ",\"delivered_payloads\":");
	if (w->payloads.len)
		buf_append(&m->doc, w->payloads.data, w->payloads.len);
	else
		buf_puts(&m->doc, "{}");
	buf_putc(&m->doc, '}');
	if (m->dropped) {
		b->net->mev_malformed += m->dropped;
		lab_logkv(b->bc->ctx, LAB_LOG_WARN, "malformed wei values dropped",
			  LAB_FS("network", b->net->name), LAB_FI("slot", w->sd.slot),
			  LAB_FI("count", m->dropped), LAB_FI("total", b->net->mev_malformed));
	}
	batch_put_doc(b, m->cur, &m->doc);
	m->doc.len = 0; /* the buffer is reused for the next slot */
	m->doc.oom = 0;
	m->open = 0;
	m->dropped = 0;
}

static void open_doc(struct batch *b, size_t i)
{
	struct mev_stream *m = b->mev;
	int rc = batch_doc_open(b, i, &m->doc);
	m->cur = i;
	m->open = 1;
	buf_puts(&m->doc, ",\"relay_bids\":");
	mg_begin(&m->g, &m->doc, "bids");
	if (rc < 0)
		m->doc.oom = 1; /* reported when stored */
}

/* Write every todo slot before index `upto` (they have no bids). */
static void write_until(struct batch *b, size_t upto)
{
	struct mev_stream *m = b->mev;
	if (m->open)
		close_doc(b);
	for (; m->next < upto && m->next < b->n; m->next++)
		if (b->w[m->next].status == W_TODO) {
			open_doc(b, m->next);
			close_doc(b);
		}
}

static void take_bid(struct batch *b, const lab_rows *r, size_t row)
{
	lab_ctx *ctx = b->bc->ctx;
	struct mev_stream *m = b->mev;
	struct mev_bid x;
	struct sd_str relay;
	uint64_t kind;
	if (lab_rows_u64(ctx, r, row, 2, &kind) < 0 || kind > K_END) {
		m->bad = 1;
		return;
	}
	if (kind == K_END) {
		m->end_seen = 1;
		return;
	}
	if (lab_rows_u64(ctx, r, row, 0, &x.slot) < 0 || cell(ctx, r, row, 1, &relay) < 0) {
		m->bad = 1;
		return;
	}
	size_t i = batch_slot_index(b, x.slot);
	/* The statement reads the batch's slot range; a batch of the trailing
	 * loop may have gaps in it, whose rows are not this batch's. */
	if (x.slot < b->slots[0] || x.slot > b->slots[b->n - 1]) {
		m->bad = 1; /* a slot outside the range asked for */
		return;
	}
	if (m->seen && x.slot < m->last_slot) {
		m->bad = 1; /* out of order */
		return;
	}
	m->seen = 1;
	m->last_slot = x.slot;
	if (i == SIZE_MAX)
		return;
	if (!m->open || i != m->cur) {
		if (b->w[i].status != W_TODO || i < m->next)
			return; /* in the range, but without a block (or already stored) */
		write_until(b, i);
		open_doc(b, i);
		m->next = i + 1;
	}
	if (kind == K_MALFORMED) {
		m->dropped++;
		return;
	}
	uint64_t sm;
	if (cell(ctx, r, row, 3, &x.parent_hash) < 0 || cell(ctx, r, row, 4, &x.block_hash) < 0 ||
	    cell(ctx, r, row, 5, &x.builder_pubkey) < 0 ||
	    cell(ctx, r, row, 6, &x.proposer_pubkey) < 0 ||
	    cell(ctx, r, row, 7, &x.proposer_fee_recipient) < 0 ||
	    cell(ctx, r, row, 8, &x.value) < 0 || lab_rows_u64(ctx, r, row, 9, &x.gas_limit) < 0 ||
	    lab_rows_u64(ctx, r, row, 10, &x.gas_used) < 0 ||
	    lab_rows_i64(ctx, r, row, 11, &x.slot_time) < 0 ||
	    lab_rows_u64(ctx, r, row, 12, &sm) < 0 || sm > 7) {
		m->bad = 1;
		return;
	}
	/* equal to the slot's reference: ClickHouse sent '' (refs_sql) */
	if (((sm & 1) && x.parent_hash.n) || ((sm & 2) && x.proposer_pubkey.n) ||
	    ((sm & 4) && x.proposer_fee_recipient.n)) {
		m->bad = 1;
		return;
	}
	const struct sd_str *ref = b->w[i].mev_ref;
	if (sm & 1)
		x.parent_hash = ref[0];
	if (sm & 2)
		x.proposer_pubkey = ref[1];
	if (sm & 4)
		x.proposer_fee_recipient = ref[2];
	if (!mev_wei_ok(x.value.p, x.value.n)) { /* ClickHouse's check and ours disagree */
		m->dropped++;
		return;
	}
	int rc = mg_item(&m->g, relay.p, relay.n);
	if (rc < 0) {
		m->bad = 1;
		return;
	}
	mev_bid_json(&m->doc, &x);
}

/* The document buffer (1-2 MB on mainnet) goes to the next batch while
 * another is in flight (a backfill keeps two): its pages are not faulted
 * in again for every batch.  The last batch frees both. */
static void doc_release(struct batch *b)
{
	struct beacon *bc = b->bc;
	struct buf *doc = &b->mev->doc;
	int others = bc->batches != b || b->next_live;
	if (others && !bc->mev_spare.data && !doc->oom) {
		bc->mev_spare = *doc;
		buf_reset(&bc->mev_spare);
		memset(doc, 0, sizeof *doc);
		return;
	}
	buf_free(doc);
	if (!others)
		buf_free(&bc->mev_spare);
}

static void on_bid_rows(lab_ctx *ctx, const lab_rows *r, void *ud)
{
	struct batch *b = ud;
	struct mev_stream *m = b->mev;
	size_t nr = lab_rows_count(ctx, r);
	if (nr && lab_rows_columns(ctx, r) < BID_COLUMNS)
		m->bad = 1;
	for (size_t i = 0; i < nr && !m->bad; i++) {
		if (m->end_seen)
			m->bad = 1; /* nothing follows the end marker */
		else
			take_bid(b, r, i);
	}
}

static void on_bids_done(lab_ctx *ctx, int status, const char *errmsg, const lab_rows *rows,
			 void *ud)
{
	struct batch *b = ud;
	struct mev_stream *m = b->mev;
	if (status == 0 && (m->bad || !m->end_seen))
		status = LAB_EPARSE;
	if (status < 0) {
		if (m->open) {
			mg_discard(&m->g);
			m->open = 0;
		}
		if (!b->failed)
			lab_logkv(ctx, LAB_LOG_WARN, "slot query failed", LAB_FS("network", b->net->name),
				  LAB_FI("from", b->slots[0]), LAB_FI("to", b->slots[b->n - 1]),
				  LAB_FS("error", errmsg && !m->bad ? errmsg
							      : m->bad ? "relay bids out of order or malformed"
								       : lab_strerror(status)));
		b->failed = 1;
	} else {
		write_until(b, b->n);
	}
	doc_release(b);
	batch_op_done(b);
}

void mev_docs(struct batch *b)
{
	lab_ctx *ctx = b->bc->ctx;
	uint64_t lo, hi;
	b->phase = 3;
	if (batch_todo_range(b, &lo, &hi)) {
		struct bid_sql q = { 0 };
		int rc = b->mev || (b->mev = calloc(1, sizeof *b->mev)) ? 0 : LAB_ENOMEM;
		if (rc == 0 && !b->mev->doc.data) { /* doc_release */
			b->mev->doc = b->bc->mev_spare;
			memset(&b->bc->mev_spare, 0, sizeof b->bc->mev_spare);
		}
		if (rc == 0)
			rc = build_bid_sql(b, lo, hi, &q);
		if (rc == 0) {
			b->ops++;
			rc = lab_query_stream(ctx, q.sql.data, q.p, q.np, on_bid_rows, on_bids_done, b);
			if (rc < 0)
				b->ops--;
		}
		bid_sql_free(&q);
		if (rc < 0) {
			lab_logkv(ctx, LAB_LOG_WARN, "cannot query", LAB_FS("network", b->net->name),
				  LAB_FI("from", b->slots[0]), LAB_FS("error", lab_strerror(rc)));
			b->failed = 1;
		}
	}
	batch_settle(b);
}

void mev_free(struct batch *b)
{
	for (size_t i = 0; b->w && i < b->n; i++)
		buf_free(&b->w[i].payloads);
	if (b->mev) {
		mg_discard(&b->mev->g);
		buf_free(&b->mev->doc);
		free(b->mev);
		b->mev = NULL;
	}
}
