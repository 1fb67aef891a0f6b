/*
 * mevdoc — the JSON of SPEC §9.5 that does not need the host: wei amounts,
 * relay-keyed groups written as rows stream in, bids and payloads.  Pure
 * computation (no host calls), so unit tests link it directly.
 */
#ifndef BEACON_MEVDOC_H
#define BEACON_MEVDOC_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "slotdoc.h"

#define MEV_WEI_MAX_DIGITS 78 /* 2^256 - 1 has 78 digits */
#define MEV_BUCKET_MS 50

/* 1 when s[0..n) is a canonical decimal wei amount: "0", or 1-78 digits
 * without a leading zero; else 0.  Wei amounts never pass through an
 * integer type: values above 2^64 are common. */
int mev_wei_ok(const char *s, size_t n);

/* floor(slot_time / 50) * 50, also for negative times. */
int64_t mev_time_bucket(int64_t slot_time);

/*
 * {RELAY: {"<inner>": [item, ...]}, ...} written while rows arrive in
 * relay order (bytewise ascending, each relay's rows together).
 * mg_item() opens the relay's array (or continues it) and leaves the
 * writer where the caller appends one item.
 */
struct mev_group {
	struct buf *b;
	const char *inner;
	char *relay; /* the open relay (a copy), NULL before the first */
	size_t relay_len;
	size_t items;
};

void mg_begin(struct mev_group *g, struct buf *b, const char *inner);
/* 0; -1 when `relay` sorts before the open one (rows out of order); -2 out of memory. */
int mg_item(struct mev_group *g, const char *relay, size_t n);
void mg_end(struct mev_group *g);
/* Forget without writing (the document is being dropped). */
void mg_discard(struct mev_group *g);

/* One bid; strings are the stored bytes (FixedString padding is removed). */
struct mev_bid {
	uint64_t slot;
	struct sd_str parent_hash, block_hash, builder_pubkey, proposer_pubkey,
		proposer_fee_recipient, value;
	uint64_t gas_limit, gas_used;
	int64_t slot_time;
};
void mev_bid_json(struct buf *b, const struct mev_bid *x);
/* The same bytes field by field (any string; the unit tests compare both). */
void mev_bid_json_general(struct buf *b, const struct mev_bid *x);

struct mev_payload {
	uint64_t slot;
	struct sd_str block_hash, proposer_pubkey, proposer_fee_recipient;
	uint64_t block_number;
};
void mev_payload_json(struct buf *b, const struct mev_payload *x);

#endif
