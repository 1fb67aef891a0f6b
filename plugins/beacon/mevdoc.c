/* mevdoc — MEV parts of the slot document (SPEC §9.5); see mevdoc.h. */
#include "mevdoc.h"

#include <stdlib.h>
#include <string.h>

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
	int64_t q = t / MEV_BUCKET_MS;
	if (t % MEV_BUCKET_MS < 0)
		q--; /* C truncates toward zero; the bucket is the floor */
	return q * MEV_BUCKET_MS;
}

void mg_begin(struct mev_group *g, struct jbuf *b, const char *inner)
{
	memset(g, 0, sizeof *g);
	g->b = b;
	g->inner = inner;
	jbuf_char(b, '{');
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
			jbuf_char(g->b, ',');
			g->items++;
			return 0;
		}
		jbuf_lit(g->b, "]},");
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
	jbuf_str(g->b, relay, n);
	jbuf_lit(g->b, ":{\"");
	jbuf_lit(g->b, g->inner);
	jbuf_lit(g->b, "\":[");
	g->items++;
	return 0;
}

void mg_end(struct mev_group *g)
{
	if (g->relay)
		jbuf_lit(g->b, "]}");
	jbuf_char(g->b, '}');
	mg_discard(g);
}

void mg_discard(struct mev_group *g)
{
	free(g->relay);
	g->relay = NULL;
	g->relay_len = 0;
}

static void field(struct jbuf *b, const char *name, const struct sd_str *v)
{
	jbuf_lit(b, name);
	sd_put_str(b, v);
}

void mev_bid_json(struct jbuf *b, const struct mev_bid *x)
{
	jbuf_lit(b, "{\"slot\":");
	jbuf_u64(b, x->slot);
	field(b, ",\"parent_hash\":", &x->parent_hash);
	field(b, ",\"block_hash\":", &x->block_hash);
	field(b, ",\"builder_pubkey\":", &x->builder_pubkey);
	field(b, ",\"proposer_pubkey\":", &x->proposer_pubkey);
	field(b, ",\"proposer_fee_recipient\":", &x->proposer_fee_recipient);
	field(b, ",\"value\":", &x->value);
	jbuf_lit(b, ",\"gas_limit\":");
	jbuf_u64(b, x->gas_limit);
	jbuf_lit(b, ",\"gas_used\":");
	jbuf_u64(b, x->gas_used);
	jbuf_lit(b, ",\"slot_time\":");
	jbuf_i64(b, x->slot_time);
	jbuf_lit(b, ",\"time_bucket\":");
	jbuf_i64(b, mev_time_bucket(x->slot_time));
	jbuf_char(b, '}');
}

void mev_payload_json(struct jbuf *b, const struct mev_payload *x)
{
	jbuf_lit(b, "{\"slot\":");
	jbuf_u64(b, x->slot);
	field(b, ",\"block_hash\":", &x->block_hash);
	jbuf_lit(b, ",\"block_number\":");
	jbuf_u64(b, x->block_number);
	field(b, ",\"proposer_pubkey\":", &x->proposer_pubkey);
	field(b, ",\"proposer_fee_recipient\":", &x->proposer_fee_recipient);
	jbuf_char(b, '}');
}
