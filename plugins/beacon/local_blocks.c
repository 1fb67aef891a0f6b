/*
 * local_blocks — the rolling "locally built blocks" document of a network
 * (SPEC §9.5): the blocks validator clients built themselves
 * (beacon_api_eth_v3_validator_block FINAL) for the last `slots` slots up to
 * the head, at PREFIX/locally_built_blocks/NETWORK/recent.json.
 *
 * The whole window is queried again on every head tick, so rows that
 * arrive late appear in the next document (the Go version queried each
 * slot once and lost later rows).  No rows is a valid document
 * ("slot_blocks": []), not an error.  A failed query or store leaves the
 * previous document in place; the next tick tries again.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "beacon.h"

#define LBB_COLUMNS 26

static const char SQL_LBB[] =
	"SELECT slot, toUnixTimestamp(slot_start_date_time), meta_client_name,"
	" toUnixTimestamp(event_date_time), meta_client_version, meta_client_implementation,"
	" meta_client_geo_city, meta_client_geo_country, meta_client_geo_country_code,"
	" meta_client_geo_continent_code, meta_client_geo_longitude, meta_client_geo_latitude,"
	" meta_consensus_version, meta_consensus_implementation, meta_network_name,"
	" block_version, block_total_bytes, block_total_bytes_compressed,"
	" toString(execution_payload_value), toString(consensus_payload_value),"
	" execution_payload_block_number, execution_payload_gas_limit, execution_payload_gas_used,"
	" execution_payload_transactions_count, execution_payload_transactions_total_bytes,"
	" execution_payload_transactions_total_bytes_compressed"
	" FROM beacon_api_eth_v3_validator_block FINAL"
	" WHERE meta_network_name = ? AND slot BETWEEN ? AND ?"
	" AND slot_start_date_time BETWEEN ? AND ?"
	" ORDER BY slot DESC, meta_client_name, event_date_time";

/* The columns of a block in document order: which column, how written. */
enum { C_TEXT, C_TIME, C_FLOAT, C_INT, C_WEI, C_META_END };
static const struct {
	size_t col;
	int kind;
	const char *key;
} FIELDS[] = {
	{ 2, C_TEXT, "meta_client_name" },
	{ 3, C_TIME, "event_date_time" },
	{ 4, C_TEXT, "meta_client_version" },
	{ 5, C_TEXT, "meta_client_implementation" },
	{ 6, C_TEXT, "meta_client_geo_city" },
	{ 7, C_TEXT, "meta_client_geo_country" },
	{ 8, C_TEXT, "meta_client_geo_country_code" },
	{ 9, C_TEXT, "meta_client_geo_continent_code" },
	{ 10, C_FLOAT, "meta_client_geo_longitude" },
	{ 11, C_FLOAT, "meta_client_geo_latitude" },
	{ 12, C_TEXT, "meta_consensus_version" },
	{ 13, C_TEXT, "meta_consensus_implementation" },
	{ 14, C_TEXT, "meta_network_name" },
	{ 0, C_META_END, NULL }, /* "metadata" ends here */
	{ 15, C_TEXT, "block_version" },
	{ 16, C_INT, "block_total_bytes" },
	{ 17, C_INT, "block_total_bytes_compressed" },
	{ 18, C_WEI, "execution_payload_value" },
	{ 19, C_WEI, "consensus_payload_value" },
	{ 20, C_INT, "execution_payload_block_number" },
	{ 21, C_INT, "execution_payload_gas_limit" },
	{ 22, C_INT, "execution_payload_gas_used" },
	{ 23, C_INT, "execution_payload_transactions_count" },
	{ 24, C_INT, "execution_payload_transactions_total_bytes" },
	{ 25, C_INT, "execution_payload_transactions_total_bytes_compressed" },
};

struct lbb_req {
	struct bc_net *net;
	char key[512];
};

static int text(lab_ctx *ctx, const lab_rows *r, size_t row, size_t col, struct sd_str *v)
{
	int isnull = lab_rows_is_null(ctx, r, row, col);
	if (isnull < 0)
		return LAB_EPARSE;
	v->p = NULL;
	v->n = 0;
	if (isnull)
		return 0;
	return lab_rows_str(ctx, r, row, col, &v->p, &v->n) < 0 ? LAB_EPARSE : 0;
}

/* One cell as JSON (text and wei as strings without padding, NULL as null). */
static int put_cell(lab_ctx *ctx, struct buf *b, const lab_rows *r, size_t row, size_t col,
		    int kind)
{
	struct sd_str v;
	double d;
	int64_t t;
	if (text(ctx, r, row, col, &v) < 0)
		return LAB_EPARSE;
	switch (kind) {
	case C_TIME:
		if (lab_rows_i64(ctx, r, row, col, &t) < 0)
			return LAB_EPARSE;
		buf_iso(b, t, -1);
		break;
	case C_FLOAT:
		if (!v.p)
			buf_puts(b, "null");
		else if (lab_rows_f64(ctx, r, row, col, &d) < 0)
			return LAB_EPARSE;
		else
			buf_f64(b, d);
		break;
	case C_INT:
		sd_put_int(b, &v);
		break;
	default:
		sd_put_str(b, &v);
	}
	return 0;
}

/* One block (with a leading comma unless first); 1 when a wei amount is
 * malformed (nothing written: the row is dropped). */
static int put_block(lab_ctx *ctx, struct buf *b, const lab_rows *r, size_t row, uint64_t slot,
		     int first)
{
	int64_t start;
	for (size_t i = 0; i < sizeof FIELDS / sizeof FIELDS[0]; i++) {
		struct sd_str v;
		if (FIELDS[i].kind != C_WEI)
			continue;
		if (text(ctx, r, row, FIELDS[i].col, &v) < 0)
			return LAB_EPARSE;
		if (v.p && !mev_wei_ok(v.p, v.n))
			return 1;
	}
	if (lab_rows_i64(ctx, r, row, 1, &start) < 0)
		return LAB_EPARSE;
	if (!first)
		buf_putc(b, ',');
	buf_puts(b, "{\"slot\":");
	buf_u64(b, slot);
	buf_puts(b, ",\"slot_start_date_time\":");
	buf_iso(b, start, -1);
	buf_puts(b, ",\"metadata\":{");
	for (size_t i = 0; i < sizeof FIELDS / sizeof FIELDS[0]; i++) {
		if (FIELDS[i].kind == C_META_END) {
			buf_putc(b, '}');
			continue;
		}
		if (i)
			buf_putc(b, ',');
		buf_putc(b, '"');
		buf_puts(b, FIELDS[i].key);
		buf_puts(b, "\":");
		int rc = put_cell(ctx, b, r, row, FIELDS[i].col, FIELDS[i].kind);
		if (rc < 0)
			return rc;
	}
	buf_putc(b, '}');
	return 0;
}

/* The document from the rows (slot descending, then client, then time). */
static int build(struct bc_net *net, const lab_rows *r, struct buf *b, uint64_t *dropped)
{
	lab_ctx *ctx = net->bc->ctx;
	size_t nr = lab_rows_count(ctx, r);
	uint64_t cur = 0;
	int open = 0;
	buf_puts(b, "{\"network\":");
	buf_json_str(b, net->name, strlen(net->name));
	buf_puts(b, ",\"updated_at\":");
	buf_i64(b, lab_now(ctx));
	buf_puts(b, ",\"slot_blocks\":[");
	for (size_t i = 0; i < nr; i++) {
		uint64_t slot;
		if (lab_rows_u64(ctx, r, i, 0, &slot) < 0)
			return LAB_EPARSE;
		if (!open || slot != cur) {
			if (open && slot > cur)
				return LAB_EPARSE; /* not slot descending: a slot would repeat */
			size_t mark = b->len;
			if (open)
				buf_puts(b, "]}");
			buf_puts(b, open ? ",{\"slot\":" : "{\"slot\":");
			buf_u64(b, slot);
			buf_puts(b, ",\"blocks\":[");
			int rc = put_block(ctx, b, r, i, slot, 1);
			if (rc < 0)
				return rc;
			if (rc == 1) { /* dropped: a slot opens only with a block */
				(*dropped)++;
				b->len = mark;
				if (b->data)
					b->data[mark] = '\0';
				continue;
			}
			open = 1;
			cur = slot;
			continue;
		}
		int rc = put_block(ctx, b, r, i, slot, 0);
		if (rc < 0)
			return rc;
		if (rc == 1)
			(*dropped)++;
	}
	if (open)
		buf_puts(b, "]}");
	buf_puts(b, "]}");
	return b->oom ? LAB_ENOMEM : 0;
}

static void on_put(lab_ctx *ctx, int status, const void *data, size_t len, void *ud)
{
	struct lbb_req *q = ud;
	struct bc_net *net = q->net;
	if (status < 0) {
		lab_logkv(ctx, LAB_LOG_WARN, "cannot store locally built blocks",
			  LAB_FS("network", net->name), LAB_FS("error", lab_strerror(status)));
		if (net->bc->once)
			net->n_failed++;
	} else {
		struct buf e = { 0 };
		buf_puts(&e, "{\"network\":");
		buf_json_str(&e, net->name, strlen(net->name));
		buf_puts(&e, ",\"key\":");
		buf_json_str(&e, q->key, strlen(q->key));
		buf_putc(&e, '}');
		if (!e.oom)
			lab_publish(ctx, "beacon.locally_built_blocks", e.data, e.len);
		buf_free(&e);
		lab_logkv(ctx, LAB_LOG_DEBUG, "locally built blocks stored", LAB_FS("network", net->name));
	}
	free(q);
	net->lbb_req = NULL;
	net->lbb_busy = 0;
	if (net->bc->once)
		bc_once_check_all(net->bc);
}

static void failed(struct bc_net *net, struct lbb_req *q, int rc, const char *errmsg)
{
	lab_logkv(net->bc->ctx, LAB_LOG_WARN, "locally built blocks query failed",
		  LAB_FS("network", net->name), LAB_FS("error", errmsg ? errmsg : lab_strerror(rc)));
	free(q);
	net->lbb_req = NULL;
	net->lbb_busy = 0;
	if (net->bc->once) {
		net->n_failed++;
		bc_once_check_all(net->bc);
	}
}

static void on_rows(lab_ctx *ctx, int status, const char *errmsg, const lab_rows *rows, void *ud)
{
	struct lbb_req *q = ud;
	struct bc_net *net = q->net;
	struct buf doc = { 0 };
	uint64_t dropped = 0;
	int rc = status;
	/* fewer columns than asked for is not ClickHouse's answer (see batch.c) */
	if (rc == 0 && (!rows || lab_rows_columns(ctx, rows) < LBB_COLUMNS))
		rc = LAB_EPARSE;
	if (rc == 0)
		rc = build(net, rows, &doc, &dropped);
	if (rc < 0) {
		buf_free(&doc);
		failed(net, q, rc, status < 0 ? errmsg : NULL);
		return;
	}
	if (dropped) {
		net->mev_malformed += dropped;
		lab_logkv(ctx, LAB_LOG_WARN, "malformed wei values dropped", LAB_FS("network", net->name),
			  LAB_FS("document", "locally_built_blocks"), LAB_FI("count", dropped),
			  LAB_FI("total", net->mev_malformed));
	}
	if (!bc_cl_head_ok(net)) { /* the head lease was lost meanwhile: its new holder writes it */
		buf_free(&doc);
		failed(net, q, LAB_EBUSY, NULL);
		return;
	}
	rc = lab_storage_put_atomic(ctx, q->key, doc.data, doc.len, "application/json",
				    "public,max-age=1,s-maxage=1", on_put, q);
	buf_free(&doc);
	if (rc < 0)
		failed(net, q, rc, NULL);
}

void bc_lbb_refresh(struct bc_net *net, uint64_t head)
{
	struct beacon *bc = net->bc;
	lab_ctx *ctx = bc->ctx;
	if (!net->lbb || net->lbb_busy)
		return;
	struct lbb_req *q = calloc(1, sizeof *q);
	if (!q)
		return;
	q->net = net;
	int n = snprintf(q->key, sizeof q->key, "%s/locally_built_blocks/%s/recent.json", bc->prefix,
			 net->name);
	if (n < 0 || (size_t)n >= sizeof q->key) {
		free(q);
		return;
	}
	uint64_t lo = head + 1 > (uint64_t)net->lbb_slots ? head + 1 - (uint64_t)net->lbb_slots : 0;
	lab_param p[5] = {
		LAB_PSTR(net->name),
		LAB_PUINT(lo),
		LAB_PUINT(head),
		LAB_PTIME(lab_network_slot_time(ctx, net->nw, lo)),
		LAB_PTIME(lab_network_slot_time(ctx, net->nw, head)),
	};
	net->lbb_busy = 1;
	net->lbb_req = q; /* freed by destroy if the host cancels it without calling back */
	int rc = lab_query(ctx, SQL_LBB, p, 5, on_rows, q);
	if (rc < 0) {
		net->lbb_req = NULL;
		net->lbb_busy = 0;
		lab_logkv(ctx, LAB_LOG_WARN, "cannot query", LAB_FS("network", net->name),
			  LAB_FS("what", "locally built blocks"), LAB_FS("error", lab_strerror(rc)));
		free(q);
		if (bc->once)
			net->n_failed++;
	}
}
