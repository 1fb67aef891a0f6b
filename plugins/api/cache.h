/* The api plugin's document cache (pure: libc only, unit-tested without a
 * host).  A hash table of entries by storage key with an LRU list and a
 * byte budget.  An entry being filled is pinned (never evicted), so its
 * generation counter survives until the fill completes: cache_invalidate()
 * bumps it, and a fill that started under an older generation is refused
 * by cache_fill_done(), so bytes read before an event can never enter the
 * cache after it. */
#ifndef LAB_API_CACHE_H
#define LAB_API_CACHE_H

#include <stddef.h>
#include <stdint.h>

enum cache_state {
	CE_EMPTY = 0,   /* known key, no bytes (new, invalidated, or expired) */
	CE_FILLING = 1, /* a storage read is in flight; waiters hang on it */
	CE_READY = 2,   /* bytes held */
	CE_MISSING = 3  /* storage said "no such key" (negative entry) */
};

struct cache_entry {
	char *key;
	struct cache_entry *hnext;       /* hash chain */
	struct cache_entry *prev, *next; /* LRU: head = most recently used */
	uint64_t gen;                    /* bumped by cache_invalidate() */
	uint64_t fill_gen;               /* gen when the current fill began */
	int state;                       /* enum cache_state */
	unsigned char *data;             /* CE_READY: the body (owned) */
	size_t len;
	int gzip;                        /* data is gzip bytes */
	char etag[48];                   /* strong ETag with quotes, CE_READY */
	int64_t last_modified;           /* Unix seconds; kept across invalidation */
	int64_t expires_ms;              /* monotonic ms; 0 = until evicted/invalidated */
	void *waiters;                   /* the caller's list while CE_FILLING */
};

struct cache_stats {
	uint64_t hits, misses, evictions, invalidations, stale_fills;
};

struct cache {
	struct cache_entry **buckets;
	size_t nbuckets, count;
	size_t bytes, budget;
	struct cache_entry *head, *tail;
	struct cache_stats st;
};

/* NULL on out of memory. */
struct cache *cache_new(size_t budget_bytes);
/* Frees every entry (waiters must have been answered: they are not touched). */
void cache_free(struct cache *c);

struct cache_entry *cache_find(struct cache *c, const char *key);
/* The entry of key, created CE_EMPTY when absent; NULL on out of memory. */
struct cache_entry *cache_get(struct cache *c, const char *key);
/* Mark used (LRU head). */
void cache_touch(struct cache *c, struct cache_entry *e);
/* Begin a fill: CE_FILLING, remembers the generation; returns it. */
uint64_t cache_fill_begin(struct cache_entry *e);
/*
 * A fill started under `gen` completed.  state CE_READY (takes `data`,
 * which must be malloc'ed; sets etag/last_modified as given; last_modified
 * is raised to the previous value + 1 when it would not be newer, so that
 * If-Modified-Since never matches replaced bytes), CE_MISSING, or CE_EMPTY
 * (a failure: nothing is kept).  Returns 1 when stored, 0 when the entry
 * was invalidated since the fill began (the data is freed; the entry goes
 * back to CE_EMPTY with its waiters, for the caller to read again).
 * Does not evict: call cache_trim() once the waiters are answered.
 */
int cache_fill_done(struct cache *c, struct cache_entry *e, uint64_t gen, int state,
		    unsigned char *data, size_t len, int gzip, const char *etag,
		    int64_t last_modified, int64_t expires_ms);
/* Drop the bytes of key (if cached) and bump its generation.  Returns 1 when
 * the key was known. */
int cache_invalidate(struct cache *c, const char *key);
/* Evict least recently used entries that are not filling until the bytes
 * fit the budget. */
void cache_trim(struct cache *c);
/* Bytes an entry counts against the budget. */
size_t cache_entry_cost(const struct cache_entry *e);

#endif
