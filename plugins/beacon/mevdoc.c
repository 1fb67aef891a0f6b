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

/* ~3000 bids per mainnet slot: the strings (hex, decimal) are plain ASCII,
 * which buf_json_str() appends in one step. */
void mev_bid_json(struct buf *b, const struct mev_bid *x)
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
