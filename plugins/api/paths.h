/* The api plugin's map from a request path to a storage key (pure: libc and
 * common/keyrules.h, no SDK), so unit tests and the fuzz target run it
 * without a host.  Only the document keys of SPEC §6 come out of it: any
 * other path is refused, so nothing else is ever read from storage. */
#ifndef LAB_API_PATHS_H
#define LAB_API_PATHS_H

#include <stddef.h>
#include <stdint.h>

/* What the document is; decides Cache-Control and the cache's expiry. */
enum api_doc_kind {
	API_DOC_CONFIG = 1, /* config.json (host; rewritten at start, no event) */
	API_DOC_SLOT,       /* beacon/slots/NET/SLOT.json */
	API_DOC_RECENT,     /* beacon/locally_built_blocks/NET/recent.json */
	API_DOC_WINDOWED,   /* timings and contributors documents */
};

#define API_KEY_MAX 512
#define API_SEG_MAX 128     /* NET and WINDOW: the portable segment rule */
#define API_USER_SEG_MAX 200 /* a username segment as lab_key_segment() makes it */

/* The storage prefixes of the writers (their `path_prefix` settings). */
struct api_prefixes {
	const char *beacon;       /* "beacon" */
	const char *timings;      /* "beacon_chain_timings" */
	const char *contributors; /* "xatu_public_contributors" */
};

struct api_doc {
	enum api_doc_kind kind;
	char key[API_KEY_MAX];
	char network[API_SEG_MAX + 1]; /* "" when the key has none */
	uint64_t slot;                 /* API_DOC_SLOT */
};

/* rel[0..n): the decoded request path below the configured URL prefix,
 * without its leading '/' ("beacon/slots/mainnet/1.json").  Returns 0 and
 * fills *out when it names a document of SPEC §6 (or the Go-era alias
 * beacon_slots/slots/NET/SLOT.json), -1 otherwise.  NET and WINDOW must be
 * portable segments ([A-Za-z0-9._-], 1..128, not "." or ".."), SLOT a
 * canonical decimal uint64 (no sign, no leading zero), USERNAME one storage
 * key segment (printable UTF-8, no '/', '\\', '?', '#', 1..200 bytes). */
int api_path_to_doc(const struct api_prefixes *p, const char *rel, size_t n,
		    struct api_doc *out);

/* The slot document key of NET/SLOT, for /api/v1/networks/NET/slots/SLOT
 * (same rules); -1 when refused. */
int api_slot_doc(const struct api_prefixes *p, const char *net, size_t netlen, const char *slot,
		 size_t slotlen, struct api_doc *out);

/* 1 when s[0..n) is a canonical decimal uint64; *v gets it. */
int api_parse_u64(const char *s, size_t n, uint64_t *v);

#endif
