/* The api document cache (cache.h): chained hash + LRU + byte budget. */
#include <stdlib.h>
#include <string.h>

#include "cache.h"

static uint64_t hash(const char *s)
{
	uint64_t h = 1469598103934665603ull; /* FNV-1a */
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	return h;
}

size_t cache_entry_cost(const struct cache_entry *e)
{
	return sizeof *e + strlen(e->key) + 1 + e->len;
}

struct cache *cache_new(size_t budget)
{
	struct cache *c = calloc(1, sizeof *c);
	if (!c)
		return NULL;
	c->nbuckets = 256;
	c->buckets = calloc(c->nbuckets, sizeof *c->buckets);
	if (!c->buckets) {
		free(c);
		return NULL;
	}
	c->budget = budget;
	return c;
}

static void free_entry(struct cache_entry *e)
{
	free(e->data);
	free(e->key);
	free(e);
}

void cache_free(struct cache *c)
{
	if (!c)
		return;
	for (struct cache_entry *e = c->head, *n; e; e = n) {
		n = e->next;
		free_entry(e);
	}
	free(c->buckets);
	free(c);
}

struct cache_entry *cache_find(struct cache *c, const char *key)
{
	for (struct cache_entry *e = c->buckets[hash(key) & (c->nbuckets - 1)]; e; e = e->hnext)
		if (strcmp(e->key, key) == 0)
			return e;
	return NULL;
}

static void lru_unlink(struct cache *c, struct cache_entry *e)
{
	if (e->prev)
		e->prev->next = e->next;
	else
		c->head = e->next;
	if (e->next)
		e->next->prev = e->prev;
	else
		c->tail = e->prev;
	e->prev = e->next = NULL;
}

static void lru_push(struct cache *c, struct cache_entry *e)
{
	e->prev = NULL;
	e->next = c->head;
	if (c->head)
		c->head->prev = e;
	c->head = e;
	if (!c->tail)
		c->tail = e;
}

void cache_touch(struct cache *c, struct cache_entry *e)
{
	if (c->head == e)
		return;
	lru_unlink(c, e);
	lru_push(c, e);
}

/* Doubling keeps chains short; a failed allocation keeps the old table. */
static void grow(struct cache *c)
{
	size_t nb = c->nbuckets * 2;
	struct cache_entry **b = calloc(nb, sizeof *b);
	if (!b)
		return;
	for (size_t i = 0; i < c->nbuckets; i++)
		for (struct cache_entry *e = c->buckets[i], *n; e; e = n) {
			n = e->hnext;
			size_t j = hash(e->key) & (nb - 1);
			e->hnext = b[j];
			b[j] = e;
		}
	free(c->buckets);
	c->buckets = b;
	c->nbuckets = nb;
}

struct cache_entry *cache_get(struct cache *c, const char *key)
{
	struct cache_entry *e = cache_find(c, key);
	if (e)
		return e;
	e = calloc(1, sizeof *e);
	if (!e || !(e->key = strdup(key))) {
		free(e);
		return NULL;
	}
	if (c->count >= c->nbuckets)
		grow(c);
	size_t i = hash(key) & (c->nbuckets - 1);
	e->hnext = c->buckets[i];
	c->buckets[i] = e;
	c->count++;
	lru_push(c, e);
	c->bytes += cache_entry_cost(e);
	return e;
}

static void drop_data(struct cache *c, struct cache_entry *e)
{
	c->bytes -= e->len;
	free(e->data);
	e->data = NULL;
	e->len = 0;
	e->etag[0] = '\0';
}

uint64_t cache_fill_begin(struct cache_entry *e)
{
	e->state = CE_FILLING;
	e->fill_gen = e->gen;
	return e->gen;
}

int cache_fill_done(struct cache *c, struct cache_entry *e, uint64_t gen, int state,
		    unsigned char *data, size_t len, int gzip, const char *etag,
		    int64_t last_modified, int64_t expires_ms)
{
	drop_data(c, e);
	if (gen != e->gen) {
		free(data);
		e->state = CE_EMPTY;
		c->st.stale_fills++;
		return 0;
	}
	e->state = state;
	e->expires_ms = expires_ms;
	if (state != CE_READY) {
		free(data);
		return 1;
	}
	e->data = data;
	e->len = len;
	e->gzip = gzip;
	c->bytes += len;
	if (etag) {
		strncpy(e->etag, etag, sizeof e->etag - 1);
		e->etag[sizeof e->etag - 1] = '\0';
	}
	e->last_modified = last_modified > e->last_modified ? last_modified : e->last_modified + 1;
	cache_touch(c, e);
	return 1;
}

int cache_invalidate(struct cache *c, const char *key)
{
	struct cache_entry *e = cache_find(c, key);
	if (!e)
		return 0;
	e->gen++;
	c->st.invalidations++;
	if (e->state != CE_FILLING) {
		drop_data(c, e);
		e->state = CE_EMPTY;
	}
	return 1;
}

static void unlink_entry(struct cache *c, struct cache_entry *e)
{
	struct cache_entry **p = &c->buckets[hash(e->key) & (c->nbuckets - 1)];
	while (*p != e)
		p = &(*p)->hnext;
	*p = e->hnext;
	lru_unlink(c, e);
	c->count--;
	c->bytes -= cache_entry_cost(e);
	free_entry(e);
}

void cache_trim(struct cache *c)
{
	struct cache_entry *e = c->tail;
	while (c->bytes > c->budget && e) {
		struct cache_entry *prev = e->prev;
		if (e->state != CE_FILLING && !e->waiters) {
			unlink_entry(c, e);
			c->st.evictions++;
		}
		e = prev;
	}
}
