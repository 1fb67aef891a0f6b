/* mevdoc — MEV parts of the slot document (SPEC §9.5); see mevdoc.h. */
#include "mevdoc.h"

#include <stdlib.h>
#include <string.h>

#include "jsonstr.h"

int mev_wei_ok(const char *s, size_t n)
{
	if (!s || n == 0 || n > MEV_WEI_MAX_DIGITS)
		return 0;
	if (s[0] == '0')
		return n == 1;
	for (size_t i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return 0;
	return 1;
}

int64_t mev_time_bucket(int64_t t)
{
	int64_t r = t % MEV_BUCKET_MS;
	if (r < 0)
		r += MEV_BUCKET_MS; /* C truncates toward zero; the bucket is the floor */
	/* A winning row's time is not range-checked (relay data): no overflow
	 * below the lowest bucket that int64 holds. */
	return t < INT64_MIN + r ? INT64_MIN : t - r;
}

void mg_begin(struct mev_group *g, struct buf *b, const char *inner)
{
	memset(g, 0, sizeof *g);
	g->b = b;
	g->inner = inner;
	buf_putc(b, '{');
}

static int cmp_bytes(const char *a, size_t an, const char *b, size_t bn)
{
	size_t n = an < bn ? an : bn;
	int c = n ? memcmp(a, b, n) : 0;
	if (c)
		return c;
	return an < bn ? -1 : an > bn;
}

int mg_item(struct mev_group *g, const char *relay, size_t n)
{
	if (g->relay) {
		int c = cmp_bytes(relay, n, g->relay, g->relay_len);
		if (c < 0)
			return -1;
		if (c == 0) {
			buf_putc(g->b, ',');
			g->items++;
			return 0;
		}
		buf_puts(g->b, "]},");
	}
	char *copy = malloc(n + 1);
	if (!copy)
		return -2;
	if (n)
		memcpy(copy, relay, n);
	copy[n] = '\0';
	free(g->relay);
	g->relay = copy;
	g->relay_len = n;
	buf_json_str(g->b, relay, n);
	buf_puts(g->b, ":{\"");
	buf_puts(g->b, g->inner);
	buf_puts(g->b, "\":[");
	g->items++;
	return 0;
}

void mg_end(struct mev_group *g)
{
	if (g->relay)
		buf_puts(g->b, "]}");
	buf_putc(g->b, '}');
	mg_discard(g);
}

void mg_discard(struct mev_group *g)
{
	free(g->relay);
	g->relay = NULL;
	g->relay_len = 0;
}

static void field(struct buf *b, const char *name, const struct sd_str *v)
{
	buf_puts(b, name);
	sd_put_str(b, v);
}

/* The key fragments of a bid, in order; the strings are quoted. */
#define BID_K_SLOT "{\"slot\":"
#define BID_K_PH ",\"parent_hash\":\""
#define BID_K_BH "\",\"block_hash\":\""
#define BID_K_BP "\",\"builder_pubkey\":\""
#define BID_K_PP "\",\"proposer_pubkey\":\""
#define BID_K_FR "\",\"proposer_fee_recipient\":\""
#define BID_K_V "\",\"value\":\""
#define BID_K_GL "\",\"gas_limit\":"
#define BID_K_GU ",\"gas_used\":"
#define BID_K_ST ",\"slot_time\":"
#define BID_K_TB ",\"time_bucket\":"
#define BID_FIXED                                                                             \
	(sizeof BID_K_SLOT + sizeof BID_K_PH + sizeof BID_K_BH + sizeof BID_K_BP +            \
	 sizeof BID_K_PP + sizeof BID_K_FR + sizeof BID_K_V + sizeof BID_K_GL + sizeof BID_K_GU + \
	 sizeof BID_K_ST + sizeof BID_K_TB + 1 + 5 * BUF_DEC_MAX)
#define PUT(d, lit) (memcpy((d), (lit), sizeof(lit) - 1), (d) + sizeof(lit) - 1)

static char *put_raw(char *d, const struct sd_str *v)
{
	memcpy(d, v->p, v->n);
	return d + v->n;
}

/* A string of the bid without NUL padding; 0 when it needs the general
 * writer (NULL, or a byte buf_json_str() would escape). */
static int plain(const struct sd_str *v, struct sd_str *out)
{
	size_t n = v->n;
	if (!v->p)
		return 0;
	while (n && v->p[n - 1] == '\0')
		n--;
	out->p = v->p;
	out->n = n;
	return buf_ascii_plain(v->p, n) == n;
}

/* ~3000 bids per mainnet slot: when the strings (hex, decimal) are plain
 * ASCII, as they are, the bid is written in one reservation from fixed key
 * fragments — the same bytes as the general writer below. */
void mev_bid_json(struct buf *b, const struct mev_bid *x)
{
	struct sd_str s[6];
	if (plain(&x->parent_hash, &s[0]) && plain(&x->block_hash, &s[1]) &&
	    plain(&x->builder_pubkey, &s[2]) && plain(&x->proposer_pubkey, &s[3]) &&
	    plain(&x->proposer_fee_recipient, &s[4]) && plain(&x->value, &s[5])) {
		size_t n = BID_FIXED;
		for (int k = 0; k < 6; k++)
			n += s[k].n;
		if (buf_reserve(b, n) < 0)
			return;
		char *d = b->data + b->len;
		d = PUT(d, BID_K_SLOT);
		d = buf_put_u64(d, x->slot);
		d = put_raw(PUT(d, BID_K_PH), &s[0]);
		d = put_raw(PUT(d, BID_K_BH), &s[1]);
		d = put_raw(PUT(d, BID_K_BP), &s[2]);
		d = put_raw(PUT(d, BID_K_PP), &s[3]);
		d = put_raw(PUT(d, BID_K_FR), &s[4]);
		d = put_raw(PUT(d, BID_K_V), &s[5]);
		d = buf_put_u64(PUT(d, BID_K_GL), x->gas_limit);
		d = buf_put_u64(PUT(d, BID_K_GU), x->gas_used);
		d = buf_put_i64(PUT(d, BID_K_ST), x->slot_time);
		d = buf_put_i64(PUT(d, BID_K_TB), mev_time_bucket(x->slot_time));
		*d++ = '}';
		*d = '\0';
		b->len = (size_t)(d - b->data);
		return;
	}
	mev_bid_json_general(b, x);
}

void mev_bid_json_general(struct buf *b, const struct mev_bid *x)
{
	buf_puts(b, "{\"slot\":");
	buf_u64(b, x->slot);
	field(b, ",\"parent_hash\":", &x->parent_hash);
	field(b, ",\"block_hash\":", &x->block_hash);
	field(b, ",\"builder_pubkey\":", &x->builder_pubkey);
	field(b, ",\"proposer_pubkey\":", &x->proposer_pubkey);
	field(b, ",\"proposer_fee_recipient\":", &x->proposer_fee_recipient);
	field(b, ",\"value\":", &x->value);
	buf_puts(b, ",\"gas_limit\":");
	buf_u64(b, x->gas_limit);
	buf_puts(b, ",\"gas_used\":");
	buf_u64(b, x->gas_used);
	buf_puts(b, ",\"slot_time\":");
	buf_i64(b, x->slot_time);
	buf_puts(b, ",\"time_bucket\":");
	buf_i64(b, mev_time_bucket(x->slot_time));
	buf_putc(b, '}');
}

void mev_payload_json(struct buf *b, const struct mev_payload *x)
{
	buf_puts(b, "{\"slot\":");
	buf_u64(b, x->slot);
	field(b, ",\"block_hash\":", &x->block_hash);
	buf_puts(b, ",\"block_number\":");
	buf_u64(b, x->block_number);
	field(b, ",\"proposer_pubkey\":", &x->proposer_pubkey);
	field(b, ",\"proposer_fee_recipient\":", &x->proposer_fee_recipient);
	buf_putc(b, '}');
}
