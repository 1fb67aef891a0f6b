/* labctl-compare: two JSON documents.
 *
 * Objects compare by key (their order never matters); integers exactly,
 * other numbers within a relative tolerance; arrays element by element, except at the paths below
 * where the original backend left the order to chance (there they compare
 * as multisets).  A path pattern is dotted segments: `*` is any object key,
 * `[]` any array element ("[].countries", "attestations.windows[].validator_indices").
 *
 * Always ignored: `processing_time_ms` (a measurement of the run itself).
 * --profile original: labd's documented differences from the original are
 * reported as intentional, not as differences (docs/migration.md).
 * --align-windows: time series are cut to the buckets both documents cover,
 * less the first and the last of those (either may be partial). */
#include <fnmatch.h>
#include <json-c/json.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compare.h"
#include "keyseg.h" /* host: the username -> key rule (SPEC §9.2) */
#include "lab/plugin.h"

#define PARSE_DEPTH 128
#define VALUE_MAX 200 /* bytes of a value shown in a difference */
#define PATH_DEPTH 64

struct unordered_rule {
	const char *key_glob, *path;
};

/* Where the original left the order to chance (SPEC §9.2, §9.3). */
static const struct unordered_rule unordered[] = {
	{ "*countries/*", "[].countries" },
	{ "*users/*", "[].users" },
	{ "*user-summaries/*", "nodes" },
	{ "*user-summaries/*", "contributors" },
	{ "*user-summaries/*", "contributors.[].nodes" },
	{ "*slots/*", "attestations.windows" },
	{ "*slots/*", "attestations.windows.[].validator_indices" },
};

struct seg {
	const char *key; /* NULL: array element */
	size_t idx;
};

struct ctx {
	const char *key;
	const struct cmp_opts *o;
	struct doc_result *r;
	struct seg path[PATH_DEPTH];
	size_t depth;
	int too_deep;
};

void doc_result_free(struct doc_result *r)
{
	for (size_t i = 0; i < r->n; i++) {
		free(r->v[i].path);
		free(r->v[i].a);
		free(r->v[i].b);
	}
	free(r->v);
	memset(r, 0, sizeof *r);
}

/* ---- paths ---------------------------------------------------------------- */

/* Does the current path match pattern p ("a.*.[]", "" = the root)? */
static int path_is(const struct ctx *c, const char *p)
{
	size_t i = 0;
	while (*p) {
		size_t n = strcspn(p, ".");
		if (i >= c->depth)
			return 0;
		const struct seg *s = &c->path[i++];
		if (n == 2 && p[0] == '[' && p[1] == ']') {
			if (s->key)
				return 0;
		} else if (!(n == 1 && p[0] == '*')) {
			if (!s->key || strlen(s->key) != n || memcmp(s->key, p, n) != 0)
				return 0;
		} else if (!s->key) {
			return 0;
		}
		p += n;
		if (*p == '.')
			p++;
	}
	return i == c->depth;
}

static const char *last_key(const struct ctx *c)
{
	return c->depth && c->path[c->depth - 1].key ? c->path[c->depth - 1].key : "";
}

static char *path_text(const struct ctx *c)
{
	struct buf b = BUF_INIT;
	buf_putc(&b, '$');
	for (size_t i = 0; i < c->depth; i++) {
		const char *k = c->path[i].key;
		if (!k) {
			buf_printf(&b, "[%zu]", c->path[i].idx);
		} else if (*k && strspn(k, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
					   "0123456789_-") == strlen(k)) {
			buf_printf(&b, ".%s", k);
		} else {
			buf_puts(&b, "[");
			buf_json_str(&b, k, strlen(k));
			buf_puts(&b, "]");
		}
	}
	return b.oom ? NULL : buf_steal(&b, NULL);
}

/* ---- recording ------------------------------------------------------------ */

/* The value as JSON text; a long one is cut and given as a JSON string of
 * its first VALUE_MAX bytes and "..." (so the --json report stays JSON). */
static char *value_text(json_object *v)
{
	const char *s = json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN);
	size_t n = strlen(s);
	struct buf b = BUF_INIT;

	if (n <= VALUE_MAX)
		return strdup(s);
	/* Cut at a UTF-8 character boundary. */
	for (n = VALUE_MAX; n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80; n--)
		;
	struct buf t = BUF_INIT;
	buf_append(&t, s, n);
	buf_puts(&t, "...");
	if (!t.oom)
		buf_json_str(&b, t.data, t.len);
	buf_free(&t);
	return b.oom ? NULL : buf_steal(&b, NULL);
}

static const char *intentional(const struct ctx *c, json_object *a, json_object *b)
{
	if (!c->o->profile_original)
		return NULL;
	if (fnmatch("*slots/*", c->key, 0) == 0 && path_is(c, "network"))
		return "the original wrote its processor name into network";
	if (!strcmp(last_key(c), "processed_at") || !strcmp(last_key(c), "updated_at"))
		return "computed at another moment";
	if (!strcmp(c->key, "config.json") && !a && b &&
	    path_is(c, "ethereum.networks.*.forks.consensus.*"))
		return "labd lists every fork the network's config.yaml schedules";
	return NULL;
}

static void record(struct ctx *c, json_object *a, int has_a, json_object *b, int has_b,
		   const char *why)
{
	struct doc_result *r = c->r;
	if (!why)
		why = intentional(c, has_a ? a : NULL, has_b ? b : NULL);
	if (why)
		r->n_intentional++;
	else
		r->n_real++;
	if (r->n >= c->o->max_diffs) {
		/* Keep real differences ahead of intentional ones. */
		if (why)
			return;
		size_t i;
		for (i = 0; i < r->n && !r->v[i].intentional; i++)
			;
		if (i == r->n)
			return;
		free(r->v[i].path);
		free(r->v[i].a);
		free(r->v[i].b);
		memmove(&r->v[i], &r->v[i + 1], (r->n - i - 1) * sizeof *r->v);
		r->n--;
	}
	struct difference *nv = realloc(r->v, (r->n + 1) * sizeof *nv);
	if (!nv)
		return;
	r->v = nv;
	struct difference *d = &r->v[r->n++];
	d->path = path_text(c);
	d->a = has_a ? value_text(a) : NULL;
	d->b = has_b ? value_text(b) : NULL;
	d->intentional = why;
}

static int ignored(const struct ctx *c)
{
	if (!strcmp(last_key(c), "processing_time_ms"))
		return 1;
	for (size_t i = 0; i < c->o->n_ignore; i++)
		if (path_is(c, c->o->ignore[i]))
			return 1;
	return 0;
}

/* ---- comparing ------------------------------------------------------------ */

static int is_number(json_object *v)
{
	return json_object_is_type(v, json_type_int) || json_object_is_type(v, json_type_double);
}

/* Integers (counts, slots, Unix times) compare exactly; the tolerance is
 * for numbers written with a fraction or exponent (averages, quantiles). */
static int numbers_equal(json_object *a, json_object *b, double tol)
{
	if (json_object_is_type(a, json_type_int) && json_object_is_type(b, json_type_int))
		return json_object_get_int64(a) == json_object_get_int64(b);
	double x = json_object_get_double(a), y = json_object_get_double(b);
	return x == y || fabs(x - y) <= tol * fmax(fabs(x), fabs(y));
}

static void diff(struct ctx *c, json_object *a, json_object *b);

static void push(struct ctx *c, const char *key, size_t idx)
{
	if (c->depth < PATH_DEPTH)
		c->path[c->depth] = (struct seg){ key, idx };
	c->depth++;
}

static void pop(struct ctx *c) { c->depth--; }

/* (latitude, longitude) given the other way round: the original's
 * continent centres (SPEC §9.3). */
static int swapped_geo(struct ctx *c, json_object *a, json_object *b)
{
	json_object *la, *lo, *lb, *lob;
	if (!c->o->profile_original || fnmatch("*slots/*", c->key, 0) != 0 || !path_is(c, "nodes.*.geo"))
		return 0;
	if (!json_object_object_get_ex(a, "latitude", &la) ||
	    !json_object_object_get_ex(a, "longitude", &lo) ||
	    !json_object_object_get_ex(b, "latitude", &lb) ||
	    !json_object_object_get_ex(b, "longitude", &lob) || !is_number(la) || !is_number(lo) ||
	    !is_number(lb) || !is_number(lob))
		return 0;
	return numbers_equal(la, lob, c->o->tolerance) && numbers_equal(lo, lb, c->o->tolerance) &&
	       !numbers_equal(la, lb, c->o->tolerance);
}

static void diff_object(struct ctx *c, json_object *a, json_object *b)
{
	int swap = swapped_geo(c, a, b);
	if (swap) {
		push(c, "latitude", 0);
		record(c, json_object_object_get(a, "latitude"), 1,
		       json_object_object_get(b, "latitude"), 1,
		       "the original swapped the continent centres' latitude and longitude");
		pop(c);
	}
	json_object_object_foreach(a, k, va)
	{
		json_object *vb;
		if (swap && (!strcmp(k, "latitude") || !strcmp(k, "longitude")))
			continue;
		push(c, k, 0);
		if (json_object_object_get_ex(b, k, &vb))
			diff(c, va, vb);
		else if (!ignored(c))
			record(c, va, 1, NULL, 0, NULL);
		pop(c);
	}
	json_object_object_foreach(b, k2, vb2)
	{
		if (json_object_object_get_ex(a, k2, NULL))
			continue;
		push(c, k2, 0);
		if (!ignored(c))
			record(c, NULL, 0, vb2, 1, NULL);
		pop(c);
	}
}

static const char *sort_key(json_object *v, char *tmp, size_t n)
{
	json_object *k;
	if (json_object_is_type(v, json_type_object)) {
		static const char *const names[] = { "name", "client_name", "start_ms" };
		for (size_t i = 0; i < 3; i++)
			if (json_object_object_get_ex(v, names[i], &k)) {
				if (json_object_is_type(k, json_type_int)) {
					snprintf(tmp, n, "%020lld", (long long)json_object_get_int64(k));
					return tmp;
				}
				if (json_object_is_type(k, json_type_string))
					return json_object_get_string(k);
			}
	}
	if (json_object_is_type(v, json_type_int)) {
		/* numeric order, negatives first */
		long long x = (long long)json_object_get_int64(v);
		snprintf(tmp, n, "%c%020llu", x < 0 ? '0' : '1',
			 x < 0 ? (unsigned long long)(x + (long long)9e18) : (unsigned long long)x);
		return tmp;
	}
	return json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN);
}

struct keyed {
	json_object *v;
	char *k;
};

static int keyed_cmp(const void *x, const void *y)
{
	return strcmp(((const struct keyed *)x)->k, ((const struct keyed *)y)->k);
}

static struct keyed *sorted(json_object *arr, size_t n)
{
	struct keyed *v = calloc(n ? n : 1, sizeof *v);
	char tmp[48];
	if (!v)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		v[i].v = json_object_array_get_idx(arr, i);
		v[i].k = strdup(sort_key(v[i].v, tmp, sizeof tmp));
		if (!v[i].k)
			v[i].k = strdup("");
	}
	qsort(v, n, sizeof *v, keyed_cmp);
	return v;
}

static int is_unordered(const struct ctx *c)
{
	for (size_t i = 0; i < sizeof unordered / sizeof unordered[0]; i++)
		if (fnmatch(unordered[i].key_glob, c->key, 0) == 0 && path_is(c, unordered[i].path))
			return 1;
	return 0;
}

static void diff_array(struct ctx *c, json_object *a, json_object *b)
{
	size_t na = json_object_array_length(a), nb = json_object_array_length(b);
	size_t n = na < nb ? na : nb;

	if (is_unordered(c)) {
		struct keyed *sa = sorted(a, na), *sb = sorted(b, nb);
		if (sa && sb) {
			for (size_t i = 0; i < n; i++) {
				push(c, NULL, i);
				diff(c, sa[i].v, sb[i].v);
				pop(c);
			}
			for (size_t i = n; i < na || i < nb; i++) {
				push(c, NULL, i);
				record(c, i < na ? sa[i].v : NULL, i < na, i < nb ? sb[i].v : NULL,
				       i < nb, NULL);
				pop(c);
			}
		}
		for (size_t i = 0; sa && i < na; i++)
			free(sa[i].k);
		for (size_t i = 0; sb && i < nb; i++)
			free(sb[i].k);
		free(sa);
		free(sb);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		push(c, NULL, i);
		diff(c, json_object_array_get_idx(a, i), json_object_array_get_idx(b, i));
		pop(c);
	}
	for (size_t i = n; i < na || i < nb; i++) {
		push(c, NULL, i);
		record(c, i < na ? json_object_array_get_idx(a, i) : NULL, i < na,
		       i < nb ? json_object_array_get_idx(b, i) : NULL, i < nb, NULL);
		pop(c);
	}
}

static void diff(struct ctx *c, json_object *a, json_object *b)
{
	if (c->depth >= PATH_DEPTH) {
		c->too_deep = 1;
		return;
	}
	if (ignored(c))
		return;
	enum json_type ta = json_object_get_type(a), tb = json_object_get_type(b);
	if (is_number(a) && is_number(b)) {
		if (!numbers_equal(a, b, c->o->tolerance))
			record(c, a, 1, b, 1, NULL);
		return;
	}
	if (ta != tb) {
		record(c, a, 1, b, 1, NULL);
		return;
	}
	switch (ta) {
	case json_type_object:
		diff_object(c, a, b);
		break;
	case json_type_array:
		diff_array(c, a, b);
		break;
	case json_type_string:
		if (json_object_get_string_len(a) != json_object_get_string_len(b) ||
		    memcmp(json_object_get_string(a), json_object_get_string(b),
			   (size_t)json_object_get_string_len(a)) != 0)
			record(c, a, 1, b, 1, NULL);
		break;
	case json_type_boolean:
		if (json_object_get_boolean(a) != json_object_get_boolean(b))
			record(c, a, 1, b, 1, NULL);
		break;
	default: /* null */
		break;
	}
}

/* ---- --align-windows ------------------------------------------------------ */

static int cmp_i64(const void *x, const void *y)
{
	int64_t a = *(const int64_t *)x, b = *(const int64_t *)y;
	return (a > b) - (a < b);
}

/* The times of a series: `timestamps` of {"timestamps":[...], ...} or the
 * `time` of each element of [{"time":...}, ...]; NULL when neither. */
static int64_t *series_times(json_object *d, size_t *n)
{
	json_object *ts, *t;
	size_t len;
	int64_t *v;
	int obj = json_object_is_type(d, json_type_object);

	if (obj) {
		if (!json_object_object_get_ex(d, "timestamps", &ts) ||
		    !json_object_is_type(ts, json_type_array))
			return NULL;
	} else if (!json_object_is_type(d, json_type_array)) {
		return NULL;
	} else {
		ts = d;
	}
	len = json_object_array_length(ts);
	if (!(v = malloc((len ? len : 1) * sizeof *v)))
		return NULL;
	for (size_t i = 0; i < len; i++) {
		json_object *e = json_object_array_get_idx(ts, i);
		if (!obj && !(json_object_is_type(e, json_type_object) &&
			      json_object_object_get_ex(e, "time", &t) && (e = t)))
			e = NULL;
		if (!e || !json_object_is_type(e, json_type_int)) {
			free(v);
			return NULL;
		}
		v[i] = json_object_get_int64(e);
	}
	*n = len;
	return v;
}

static int kept(const int64_t *keep, size_t nk, int64_t t)
{
	return bsearch(&t, keep, nk, sizeof *keep, cmp_i64) != NULL;
}

/* Keeps the buckets whose time is in keep[] (sorted). */
static void cut(json_object *d, const int64_t *times, size_t nt, const int64_t *keep, size_t nk)
{
	if (json_object_is_type(d, json_type_array)) {
		for (size_t i = nt; i-- > 0;)
			if (!kept(keep, nk, times[i]))
				json_object_array_del_idx(d, i, 1);
		return;
	}
	/* Every array as long as `timestamps` runs parallel to it. */
	json_object_object_foreach(d, k, v)
	{
		(void)k;
		if (!json_object_is_type(v, json_type_array) || json_object_array_length(v) != nt)
			continue;
		for (size_t i = nt; i-- > 0;)
			if (!kept(keep, nk, times[i]))
				json_object_array_del_idx(v, i, 1);
	}
}

static void align(json_object *a, json_object *b)
{
	size_t na, nb, nk = 0;
	int64_t *ta = series_times(a, &na), *tb = ta ? series_times(b, &nb) : NULL, *keep = NULL;

	if (ta && tb && (keep = malloc((na ? na : 1) * sizeof *keep))) {
		int64_t *sb = malloc((nb ? nb : 1) * sizeof *sb);
		if (sb) {
			memcpy(sb, tb, nb * sizeof *sb);
			qsort(sb, nb, sizeof *sb, cmp_i64);
			for (size_t i = 0; i < na; i++)
				if (kept(sb, nb, ta[i]) && !(nk && keep[nk - 1] == ta[i]))
					keep[nk++] = ta[i];
			qsort(keep, nk, sizeof *keep, cmp_i64);
			/* The overlap's first and last buckets may be partial on one side. */
			if (nk >= 2) {
				memmove(keep, keep + 1, (nk - 2) * sizeof *keep);
				nk -= 2;
			} else {
				nk = 0;
			}
			cut(a, ta, na, keep, nk);
			cut(b, tb, nb, keep, nk);
			free(sb);
		}
	}
	free(keep);
	free(ta);
	free(tb);
}

/* ---- entry points --------------------------------------------------------- */

static json_object *parse(const char *s, size_t n)
{
	json_tokener *tok = json_tokener_new_ex(PARSE_DEPTH);
	json_object *o;
	if (!tok)
		return NULL;
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	o = json_tokener_parse_ex(tok, s, (int)n);
	if (!o && json_tokener_get_error(tok) == json_tokener_continue)
		o = NULL; /* truncated */
	else if (o && json_tokener_get_parse_end(tok) < n) {
		for (size_t i = json_tokener_get_parse_end(tok); i < n; i++)
			if (!strchr(" \t\r\n", s[i])) {
				json_object_put(o);
				o = NULL;
				break;
			}
	}
	/* A JSON document is an object or an array here (the Lab's documents). */
	if (o && !json_object_is_type(o, json_type_object) && !json_object_is_type(o, json_type_array)) {
		json_object_put(o);
		o = NULL;
	}
	json_tokener_free(tok);
	return o;
}

int json_compare(const char *key, const char *a, size_t alen, const char *b, size_t blen,
		 const struct cmp_opts *o, struct doc_result *r, char *err, size_t errlen)
{
	json_object *ja, *jb;
	struct ctx c = { .key = key, .o = o, .r = r };

	memset(r, 0, sizeof *r);
	if (alen > INT32_MAX || !(ja = parse(a, alen))) {
		snprintf(err, errlen, "A: not a JSON document");
		return -1;
	}
	if (blen > INT32_MAX || !(jb = parse(b, blen))) {
		json_object_put(ja);
		snprintf(err, errlen, "B: not a JSON document");
		return -1;
	}
	if (o->align_windows)
		align(ja, jb);
	diff(&c, ja, jb);
	json_object_put(ja);
	json_object_put(jb);
	if (c.too_deep) {
		doc_result_free(r);
		snprintf(err, errlen, "nested deeper than %d levels", PATH_DEPTH);
		return -1;
	}
	return 0;
}

char *original_key_to_labd(const char *key)
{
	static const char dir[] = "user-summaries/users/";
	const char *p = strstr(key, dir), *name;
	char out[LAB_KEY_SEGMENT_MAX];
	size_t n;
	int kn;

	if (!p || strchr(p + sizeof dir - 1, '/'))
		return NULL;
	name = p + sizeof dir - 1;
	n = strlen(name);
	if (n < 5 || strcmp(name + n - 5, ".json") != 0)
		return NULL;
	if ((kn = keyseg_make(name, n - 5, 0, out, sizeof out)) < 0)
		return NULL;
	n = (size_t)kn;
	if (n == strlen(name) - 5 && memcmp(out, name, n) == 0)
		return NULL; /* the same key in both */
	struct buf b = BUF_INIT;
	buf_append(&b, key, (size_t)(name - key));
	buf_append(&b, out, n);
	buf_puts(&b, ".json");
	return b.oom ? NULL : buf_steal(&b, NULL);
}
