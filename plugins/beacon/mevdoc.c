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

/* The bid's JSON written field by field through buf (any string). */
static void bid_json_slow(struct buf *b, const struct mev_bid *x)
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

/* A bid is written ~3000 times per mainnet slot: the common case (strings
 * that need no escape, a few hundred bytes in all) goes into a stack buffer
 * and reaches the document in one copy, with the same bytes as
 * bid_json_slow(); anything else takes bid_json_slow(). */
#define BID_FAST_MAX 1024

struct fastw {
	char *p;
	size_t len;
	int fail;
};

static void fw_raw(struct fastw *w, const char *s, size_t n)
{
	if (w->fail || n > BID_FAST_MAX - w->len) {
		w->fail = 1;
		return;
	}
	memcpy(w->p + w->len, s, n);
	w->len += n;
}

#define fw_lit(w, s) fw_raw((w), (s), sizeof(s) - 1)

static void fw_u64(struct fastw *w, uint64_t v)
{
	char t[20];
	size_t i = sizeof t;
	do {
		t[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	fw_raw(w, t + i, sizeof t - i);
}

static void fw_i64(struct fastw *w, int64_t v)
{
	if (v < 0) {
		fw_lit(w, "-");
		fw_u64(w, (uint64_t)0 - (uint64_t)v);
	} else {
		fw_u64(w, (uint64_t)v);
	}
}

/* As field(): the name, then null or the string without FixedString
 * padding. */
static void fw_field(struct fastw *w, const char *name, size_t name_len, const struct sd_str *v)
{
	fw_raw(w, name, name_len);
	if (!v->p) {
		fw_lit(w, "null");
		return;
	}
	size_t n = v->n;
	while (n && v->p[n - 1] == '\0')
		n--;
	const unsigned char *u = (const unsigned char *)v->p;
	size_t i = 0;
	/* printable ASCII but '"' and '\\' (hex and decimal text: all of it) */
	while (i < n && u[i] >= 0x20 && u[i] < 0x7f && u[i] != '"' && u[i] != '\\')
		i++;
	if (i < n && json_str_plain(u + i, n - i) != n - i) {
		w->fail = 1; /* needs an escape */
		return;
	}
	fw_lit(w, "\"");
	fw_raw(w, v->p, n);
	fw_lit(w, "\"");
}

#define FW_FIELD(w, name, v) fw_field((w), (name), sizeof(name) - 1, (v))

void mev_bid_json(struct buf *b, const struct mev_bid *x)
{
	char t[BID_FAST_MAX];
	struct fastw w = { t, 0, 0 };
	fw_lit(&w, "{\"slot\":");
	fw_u64(&w, x->slot);
	FW_FIELD(&w, ",\"parent_hash\":", &x->parent_hash);
	FW_FIELD(&w, ",\"block_hash\":", &x->block_hash);
	FW_FIELD(&w, ",\"builder_pubkey\":", &x->builder_pubkey);
	FW_FIELD(&w, ",\"proposer_pubkey\":", &x->proposer_pubkey);
	FW_FIELD(&w, ",\"proposer_fee_recipient\":", &x->proposer_fee_recipient);
	FW_FIELD(&w, ",\"value\":", &x->value);
	fw_lit(&w, ",\"gas_limit\":");
	fw_u64(&w, x->gas_limit);
	fw_lit(&w, ",\"gas_used\":");
	fw_u64(&w, x->gas_used);
	fw_lit(&w, ",\"slot_time\":");
	fw_i64(&w, x->slot_time);
	fw_lit(&w, ",\"time_bucket\":");
	fw_i64(&w, mev_time_bucket(x->slot_time));
	fw_lit(&w, "}");
	if (w.fail)
		bid_json_slow(b, x);
	else
		buf_append(b, t, w.len);
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
