/*
 * slotdoc — the per-slot data the beacon plugin collects from ClickHouse and
 * the document of SPEC §9.3 built from it.  Pure computation: no host calls,
 * so unit tests link it directly.
 */
#ifndef BEACON_SLOTDOC_H
#define BEACON_SLOTDOC_H

#include <stddef.h>
#include <stdint.h>

#include "geo.h"
#include "buf.h"

#define SD_BLOCK_FIELDS 26
#define SD_WINDOW_MS 50
#define SD_ATT_MAX_MS 12000

enum sd_kind { SD_STR = 0, SD_INT = 1, SD_TIME = 2 };

/* Name and kind of block field i (0..SD_BLOCK_FIELDS-1), in document order. */
const char *sd_block_field(size_t i, int *kind);

/* A byte string (not NUL-terminated; may hold NULs). */
struct sd_str {
	const char *p;
	size_t n;
};

/* One first sighting of a client; blob = -1 for block sightings. */
struct sd_seen {
	struct sd_str client, city, country, cc, continent;
	int64_t ms;
	int64_t blob;
};

struct sd_vote {
	uint64_t validator;
	int64_t ms; /* minimum propagation of this validator (≤ 12000) */
};

struct sd_slot {
	uint64_t slot;
	int has_block;
	struct sd_str block[SD_BLOCK_FIELDS]; /* raw text; p == NULL means NULL */
	uint64_t proposer;
	const char *entity; size_t entity_len; /* NULL = none */
	int entity_set;
	struct sd_seen *seen[4]; /* block_seen, blob_seen, block_first_seen_p2p, blob_first_seen_p2p */
	size_t nseen[4], capseen[4];
	struct sd_vote *votes;
	size_t nvotes, capvotes;
	uint64_t max_votes;
};

enum { SD_BLOCK_SEEN = 0, SD_BLOB_SEEN = 1, SD_BLOCK_P2P = 2, SD_BLOB_P2P = 3 };

/* Username rule of SPEC §9.3: "" without '/', "ethpandaops" when the name
 * contains it, else the second part; *u points into name. */
void sd_username(const char *name, size_t n, const char **u, size_t *ulen);

/* Attestation windows: sorts votes by (window start, validator) and writes
 * [{"start_ms","end_ms","validator_indices":[...]}]. */
void sd_windows_json(struct buf *b, struct sd_vote *votes, size_t n);

/* Window start of each vote: floor((m - first) / 50) * 50 + first, then minus its mod 50. */
int64_t sd_window_start(int64_t ms, int64_t first);

/*
 * The whole document.  processed_ms: Unix ms of processing; processing_ms:
 * how long it took.  geo may be NULL (coordinates null).  Returns 0 or -2
 * when out of memory.
 */
int sd_build(struct buf *b, struct sd_slot *s, const char *network, int64_t processed_ms,
	     int64_t processing_ms, const struct geo_table *geo);

/* The same without its closing brace, so that more keys can follow
 * (SPEC §9.5: "relay_bids", "delivered_payloads"). */
int sd_build_open(struct buf *b, struct sd_slot *s, const char *network, int64_t processed_ms,
		  int64_t processing_ms, const struct geo_table *geo);

/* Integer text (optionally negative) as is; anything else (and NULL) as null. */
void sd_put_int(struct buf *b, const struct sd_str *v);
/* A string without FixedString NUL padding; NULL as null. */
void sd_put_str(struct buf *b, const struct sd_str *v);

#endif
