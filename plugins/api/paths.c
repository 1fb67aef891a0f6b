/* Request path -> storage key (paths.h).  Each accepted form is matched
 * segment by segment; everything else is refused before any storage call. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "keyrules.h"
#include "paths.h"

struct cursor {
	const char *s;
	size_t n;
};

/* Consumes `lit` followed by '/' (or the end when last). */
static int eat(struct cursor *c, const char *lit)
{
	size_t l = strlen(lit);
	if (c->n < l || memcmp(c->s, lit, l) != 0)
		return 0;
	if (c->n == l) {
		c->s += l;
		c->n = 0;
		return 1;
	}
	if (c->s[l] != '/')
		return 0;
	c->s += l + 1;
	c->n -= l + 1;
	return 1;
}

/* The next segment (up to '/' or the end); 0 when empty. */
static int seg(struct cursor *c, const char **s, size_t *n, int last)
{
	const char *slash = memchr(c->s, '/', c->n);
	if (last ? slash != NULL : slash == NULL)
		return 0;
	*s = c->s;
	*n = slash ? (size_t)(slash - c->s) : c->n;
	c->s += *n + (slash ? 1 : 0);
	c->n -= *n + (slash ? 1 : 0);
	return *n > 0;
}

static int portable(const char *s, size_t n)
{
	return key_segment_ok(s, n, API_SEG_MAX, NULL, KEY_SEG_PLAIN);
}

/* Last segment "NAME.json": NAME[0..*n). */
static int json_file(struct cursor *c, const char **name, size_t *n)
{
	if (!seg(c, name, n, 1) || *n <= 5 || memcmp(*name + *n - 5, ".json", 5) != 0)
		return 0;
	*n -= 5;
	return 1;
}

int api_parse_u64(const char *s, size_t n, uint64_t *v)
{
	uint64_t r = 0;
	if (n == 0 || n > 20 || (n > 1 && s[0] == '0'))
		return 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return 0;
		unsigned d = (unsigned)(s[i] - '0');
		if (r > (UINT64_MAX - d) / 10)
			return 0;
		r = r * 10 + d;
	}
	*v = r;
	return 1;
}

static int set_key(struct api_doc *out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int set_key(struct api_doc *out, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int k = vsnprintf(out->key, sizeof out->key, fmt, ap);
	va_end(ap);
	return k > 0 && (size_t)k < sizeof out->key ? 0 : -1;
}

int api_slot_doc(const struct api_prefixes *p, const char *net, size_t netlen, const char *slot,
		 size_t slotlen, struct api_doc *out)
{
	memset(out, 0, sizeof *out);
	if (!portable(net, netlen) || !api_parse_u64(slot, slotlen, &out->slot))
		return -1;
	out->kind = API_DOC_SLOT;
	memcpy(out->network, net, netlen);
	return set_key(out, "%s/slots/%.*s/%.*s.json", p->beacon, (int)netlen, net, (int)slotlen, slot);
}

/* NET/FILE.json below `what` of prefix `pre` (the cursor is past both). */
static int net_file(struct cursor *c, const char *pre, const char *what, const char *file,
		    struct api_doc *out)
{
	const char *net, *name;
	size_t nl, fl;
	if (!seg(c, &net, &nl, 0) || !portable(net, nl) || !json_file(c, &name, &fl))
		return -1;
	if (file ? (fl != strlen(file) || memcmp(name, file, fl) != 0) : !portable(name, fl))
		return -1;
	memcpy(out->network, net, nl);
	return set_key(out, "%s/%s/%.*s/%.*s.json", pre, what, (int)nl, net, (int)fl, name);
}

static int beacon(const struct api_prefixes *p, struct cursor *c, struct api_doc *out)
{
	const char *net, *slot;
	size_t nl, sl;
	if (eat(c, "slots")) {
		if (!seg(c, &net, &nl, 0) || !json_file(c, &slot, &sl))
			return -1;
		return api_slot_doc(p, net, nl, slot, sl, out);
	}
	if (eat(c, "locally_built_blocks")) {
		out->kind = API_DOC_RECENT;
		return net_file(c, p->beacon, "locally_built_blocks", "recent", out);
	}
	return -1;
}

static int timings(const struct api_prefixes *p, struct cursor *c, struct api_doc *out)
{
	out->kind = API_DOC_WINDOWED;
	if (eat(c, "block_timings"))
		return net_file(c, p->timings, "block_timings", NULL, out);
	if (eat(c, "size_cdf"))
		return net_file(c, p->timings, "size_cdf", NULL, out);
	return -1;
}

static int contributors(const struct api_prefixes *p, struct cursor *c, struct api_doc *out)
{
	const char *name;
	size_t nl;
	out->kind = API_DOC_WINDOWED;
	if (c->n == 12 && memcmp(c->s, "summary.json", 12) == 0)
		return set_key(out, "%s/summary.json", p->contributors);
	if (eat(c, "countries"))
		return net_file(c, p->contributors, "countries", NULL, out);
	if (eat(c, "users"))
		return net_file(c, p->contributors, "users", NULL, out);
	if (!eat(c, "user-summaries"))
		return -1;
	if (c->n == 12 && memcmp(c->s, "summary.json", 12) == 0)
		return set_key(out, "%s/user-summaries/summary.json", p->contributors);
	if (!eat(c, "users") || !json_file(c, &name, &nl) ||
	    !key_segment_ok(name, nl, API_USER_SEG_MAX, "?#", 0))
		return -1;
	return set_key(out, "%s/user-summaries/users/%.*s.json", p->contributors, (int)nl,
		       name);
}

int api_path_to_doc(const struct api_prefixes *p, const char *rel, size_t n, struct api_doc *out)
{
	struct cursor c = { rel, n };
	memset(out, 0, sizeof *out);
	if (n > API_KEY_MAX || memchr(rel, '\0', n))
		return -1;
	if (n == 11 && memcmp(rel, "config.json", 11) == 0) {
		out->kind = API_DOC_CONFIG;
		memcpy(out->key, "config.json", 12);
		return 0;
	}
	/* The Go successor's alias of the slot documents. */
	if (eat(&c, "beacon_slots")) {
		if (!eat(&c, "slots"))
			return -1;
		const char *net, *slot;
		size_t nl, sl;
		if (!seg(&c, &net, &nl, 0) || !json_file(&c, &slot, &sl))
			return -1;
		return api_slot_doc(p, net, nl, slot, sl, out);
	}
	c = (struct cursor){ rel, n };
	if (eat(&c, p->beacon) && c.n)
		return beacon(p, &c, out);
	c = (struct cursor){ rel, n };
	if (eat(&c, p->timings) && c.n)
		return timings(p, &c, out);
	c = (struct cursor){ rel, n };
	if (eat(&c, p->contributors) && c.n)
		return contributors(p, &c, out);
	return -1;
}
