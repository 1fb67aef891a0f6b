/*
 * window_cache — the bucket cache of the windowed jobs (window_cache.h).
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "buf.h"
#include "window_cache.h"

int64_t wc_floor(int64_t x, int64_t step)
{
	int64_t q = x / step;
	if (x % step && x < 0)
		q--;
	return q * step;
}

void wc_plan(const struct wc *c, int64_t now, int64_t start, int64_t step, int64_t margin,
	     int full, struct wc_plan *p)
{
	int64_t mid = wc_floor(start, step) + step; /* the first complete bucket */
	int64_t stable = wc_floor(now - margin, step);
	if (stable < mid)
		stable = mid;
	memset(p, 0, sizeof *p);
	p->full = full;
	p->keep_from = mid;
	p->keep_to = stable;
	p->b0 = 1;
	p->b1 = 0;
	if (full || c->from >= c->to || c->from > mid || c->to <= mid) {
		/* the whole window: forced, or nothing usable */
		p->a0 = start;
		p->a1 = now;
		p->use_from = p->use_to = mid;
		return;
	}
	int64_t u = c->to < stable ? c->to : stable;
	p->a0 = start;
	p->a1 = mid - 1 < now ? mid - 1 : now;
	p->use_from = mid;
	p->use_to = u;
	if (u <= now) {
		p->b0 = u;
		p->b1 = now;
	}
}

static int same_cells(const struct wc *c, const union wc_cell *x, const union wc_cell *y)
{
	for (size_t k = 0; k < c->ncols; k++) {
		if (c->smask >> k & 1 ? strcmp(x[k].s, y[k].s) != 0 :
		    c->dmask >> k & 1 ? x[k].d != y[k].d : x[k].i != y[k].i)
			return 0;
	}
	return 1;
}

int64_t wc_mismatches(const struct wc *a, const struct wc *b, int64_t from, int64_t to,
		      int (*same)(const union wc_cell *x, const union wc_cell *y))
{
	size_t i = 0, k = 0;
	int64_t bad = 0;
	while (i < a->n && wc_row(a, i)[0].i < from)
		i++;
	while (k < b->n && wc_row(b, k)[0].i < from)
		k++;
	for (;;) {
		int64_t ta = i < a->n ? wc_row(a, i)[0].i : INT64_MAX;
		int64_t tb = k < b->n ? wc_row(b, k)[0].i : INT64_MAX;
		int64_t t = ta < tb ? ta : tb;
		if (t >= to)
			break;
		size_t i2 = i, k2 = k;
		while (i2 < a->n && wc_row(a, i2)[0].i == t)
			i2++;
		while (k2 < b->n && wc_row(b, k2)[0].i == t)
			k2++;
		int eq = i2 - i == k2 - k;
		for (size_t x = 0; eq && x < i2 - i; x++)
			eq = same ? same(wc_row(a, i + x), wc_row(b, k + x)) :
				    same_cells(a, wc_row(a, i + x), wc_row(b, k + x));
		bad += !eq;
		i = i2;
		k = k2;
	}
	return bad;
}

/* lab_PLUGIN_incremental_mismatch_total{key}: registering is idempotent
 * (the same family each time); on a host before SDK 1.2 both calls answer
 * LAB_ENOTSUP and the count stays in the state value and the log. */
static void count_mismatches(lab_ctx *ctx, const char *key, int64_t n)
{
	lab_metric *m = NULL;
	if (lab_metric_counter(ctx, "incremental_mismatch_total",
			       "Cached buckets a full recompute found different.", LAB_LABELS("key"),
			       &m) == 0)
		lab_metric_add(ctx, m, (double)n, LAB_LABELS(key));
}

int64_t wc_commit(lab_ctx *ctx, const struct wc *old, struct wc *nc, const struct wc_plan *p,
		  int64_t now, int64_t step, const char *key, const char *fp, int64_t max_bytes,
		  int (*same)(const union wc_cell *x, const union wc_cell *y))
{
	int whole = p->use_from == p->use_to;
	int64_t bad = 0;
	nc->from = p->keep_from;
	nc->to = p->keep_to;
	nc->last_full = whole ? now : old->last_full;
	nc->mismatches = old->mismatches;
	if (whole && old->from < old->to && old->to > nc->from && old->from < nc->to) {
		int64_t from = old->from > nc->from ? old->from : nc->from;
		int64_t to = old->to < nc->to ? old->to : nc->to;
		bad = wc_mismatches(old, nc, from, to, same);
		nc->mismatches += bad;
		if (bad) {
			lab_logkv(ctx, LAB_LOG_WARN,
				  "full recompute differs from cached buckets; fresh result kept",
				  LAB_FS("key", key), LAB_FI("buckets", bad),
				  LAB_FI("compared", (to - from) / step),
				  LAB_FI("mismatch_total", nc->mismatches));
			count_mismatches(ctx, key, bad);
		}
	}
	int rc = wc_save(ctx, nc, key, fp, max_bytes < 0 ? 0 : (size_t)max_bytes);
	if (rc == 1)
		lab_logkv(ctx, LAB_LOG_WARN, "bucket cache over cache_max_bytes; not kept",
			  LAB_FS("key", key), LAB_FI("cache_max_bytes", max_bytes));
	else if (rc < 0)
		lab_logkv(ctx, LAB_LOG_WARN, "cannot save the bucket cache", LAB_FS("key", key),
			  LAB_FS("error", lab_strerror(rc)));
	lab_logkv(ctx, LAB_LOG_DEBUG, "bucket cache", LAB_FS("key", key),
		  LAB_FI("buckets", (int64_t)nc->n), LAB_FI("whole", whole),
		  LAB_FI("used_from", p->use_from), LAB_FI("used_to", p->use_to));
	return bad;
}

int wc_full_request(const void *data, size_t len)
{
	json_tokener *tok = len < 65536 ? json_tokener_new() : NULL;
	json_object *o = tok ? json_tokener_parse_ex(tok, data, (int)len) : NULL, *v;
	int full = o && json_object_is_type(o, json_type_object) &&
		   json_object_object_get_ex(o, "full", &v) &&
		   json_object_is_type(v, json_type_boolean) && json_object_get_boolean(v);
	if (tok)
		json_tokener_free(tok);
	if (o)
		json_object_put(o);
	return full;
}

void wc_free(struct wc *c)
{
	for (size_t i = 0; c->smask && i < c->n; i++)
		for (size_t k = 0; k < c->ncols; k++)
			if (c->smask >> k & 1)
				free(wc_row(c, i)[k].s);
	free(c->cells);
	c->cells = NULL;
	c->n = c->cap = 0;
}

int wc_add(struct wc *c, const union wc_cell *row)
{
	if (c->n == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 64;
		union wc_cell *p = cap > SIZE_MAX / sizeof *c->cells / c->ncols ?
					   NULL : realloc(c->cells, cap * c->ncols * sizeof *p);
		if (!p) {
			for (size_t k = 0; k < c->ncols; k++)
				if (c->smask >> k & 1)
					free(row[k].s);
			return LAB_ENOMEM;
		}
		c->cells = p;
		c->cap = cap;
	}
	memcpy(wc_row(c, c->n), row, c->ncols * sizeof *row);
	c->n++;
	return 0;
}

static int get_i64(json_object *o, const char *name, int64_t *out)
{
	json_object *v;
	if (!json_object_object_get_ex(o, name, &v) || !json_object_is_type(v, json_type_int))
		return -1;
	*out = json_object_get_int64(v);
	return 0;
}

/* The strings of the first n cells of a row not added. */
static void free_strings(const struct wc *c, union wc_cell *row, size_t n)
{
	for (size_t k = 0; k < n; k++)
		if (c->smask >> k & 1)
			free(row[k].s);
}

/* A row read: every row in [from, to), sorted by t; -1 otherwise. */
static int row_ok(const struct wc *c, const union wc_cell *row)
{
	return row[0].i >= c->from && row[0].i < c->to &&
	       !(c->n && row[0].i < wc_row(c, c->n - 1)[0].i);
}

/* Numeric rows packed in one string, "t,c1,...;t,c1,...": one JSON value
 * instead of one per cell, for the host's state parser and ours (a 60-day
 * size_cdf cache has ~70,000 cells).  -1 when malformed. */
static int read_packed(struct wc *c, const char *p)
{
	union wc_cell row[WC_MAX_COLS];
	while (*p) {
		for (size_t k = 0; k < c->ncols; k++) {
			char *end;
			/* strtod/strtoll would skip spaces and read nan/inf */
			if (!(*p == '-' || (*p >= '0' && *p <= '9')))
				return -1;
			errno = 0;
			if (c->dmask >> k & 1) {
				row[k].d = strtod(p, &end);
				if (!isfinite(row[k].d))
					return -1;
			} else {
				row[k].i = strtoll(p, &end, 10);
			}
			if (errno || end == p)
				return -1;
			p = end;
			if (*p != (k + 1 < c->ncols ? ',' : ';') && !(k + 1 == c->ncols && !*p))
				return -1;
			if (*p && !*++p)
				return -1; /* a separator at the end */
		}
		if (!row_ok(c, row))
			return -1;
		if (wc_add(c, row) < 0)
			return LAB_ENOMEM;
	}
	return 0;
}

/* The rows of a loaded value; -1 when one is malformed or out of order. */
static int read_rows(struct wc *c, json_object *rows)
{
	size_t n = json_object_array_length(rows);
	union wc_cell row[WC_MAX_COLS];
	for (size_t i = 0; i < n; i++) {
		json_object *r = json_object_array_get_idx(rows, i);
		if (!json_object_is_type(r, json_type_array) || json_object_array_length(r) != c->ncols)
			return -1;
		for (size_t k = 0; k < c->ncols; k++) {
			json_object *v = json_object_array_get_idx(r, k);
			if (c->smask >> k & 1) {
				row[k].s = NULL;
				if (!json_object_is_type(v, json_type_string) ||
				    strlen(json_object_get_string(v)) !=
					    (size_t)json_object_get_string_len(v))
					goto bad;
				if (!(row[k].s = strdup(json_object_get_string(v))))
					goto nomem;
			} else if (c->dmask >> k & 1) {
				if (!json_object_is_type(v, json_type_double) &&
				    !json_object_is_type(v, json_type_int))
					goto bad;
				row[k].d = json_object_get_double(v);
			} else {
				if (!json_object_is_type(v, json_type_int))
					goto bad;
				row[k].i = json_object_get_int64(v);
			}
			continue;
bad:
			free_strings(c, row, k);
			return -1;
nomem:
			free_strings(c, row, k);
			return LAB_ENOMEM;
		}
		if (!row_ok(c, row)) {
			free_strings(c, row, c->ncols);
			return -1;
		}
		if (wc_add(c, row) < 0)
			return LAB_ENOMEM;
	}
	return 0;
}

int wc_load(lab_ctx *ctx, struct wc *c, const char *key, const char *fp, size_t ncols,
	    uint32_t dmask, uint32_t smask, const char **why)
{
	const char *text;
	size_t len;
	json_object *o = NULL, *rows, *v;
	int64_t ver;
	int rc = 0;
	memset(c, 0, sizeof *c);
	c->ncols = ncols < 1 ? 1 : ncols > WC_MAX_COLS ? WC_MAX_COLS : ncols;
	c->dmask = dmask & ~1u;
	c->smask = smask & ~1u & ~c->dmask;
	if (why)
		*why = NULL;
	if (lab_state_get(ctx, key, &text, &len) < 0)
		return 0; /* never cached */
	json_tokener *tok = len < ((size_t)1 << 30) ? json_tokener_new() : NULL;
	if (tok) {
		o = json_tokener_parse_ex(tok, text, (int)len);
		json_tokener_free(tok);
	}
	const char *bad = "unreadable";
	if (!o || !json_object_is_type(o, json_type_object))
		goto drop;
	get_i64(o, "last_full", &c->last_full);
	get_i64(o, "mismatches", &c->mismatches);
	if (c->last_full < 0)
		c->last_full = 0;
	if (c->mismatches < 0)
		c->mismatches = 0;
	if (get_i64(o, "v", &ver) < 0 || ver != 1 || !json_object_object_get_ex(o, "fp", &v) ||
	    !json_object_is_type(v, json_type_string)) {
		goto drop;
	}
	if (strcmp(json_object_get_string(v), fp)) {
		/* another window definition, query version or network: the
		 * rows answer another question; the next run is a full one */
		bad = "fingerprint";
		c->last_full = 0;
		goto drop;
	}
	if (get_i64(o, "from", &c->from) < 0 || get_i64(o, "to", &c->to) < 0 ||
	    c->from > c->to || !json_object_object_get_ex(o, "rows", &rows))
		goto drop;
	if (c->smask ? !json_object_is_type(rows, json_type_array) :
		       !json_object_is_type(rows, json_type_string) ||
			       strlen(json_object_get_string(rows)) !=
				       (size_t)json_object_get_string_len(rows))
		goto drop;
	rc = c->smask ? read_rows(c, rows) : read_packed(c, json_object_get_string(rows));
	if (rc == 0) {
		json_object_put(o);
		return 0;
	}
	if (rc == LAB_ENOMEM) {
		json_object_put(o);
		wc_free(c);
		return rc;
	}
drop:
	if (o)
		json_object_put(o);
	wc_free(c);
	c->from = c->to = 0;
	if (why)
		*why = bad;
	return 0;
}

int wc_save(lab_ctx *ctx, const struct wc *c, const char *key, const char *fp, size_t max_bytes)
{
	struct buf b = { 0 };
	int over = 0;
	for (int pass = 0; pass < 2; pass++) {
		int rows = pass == 0 && max_bytes > 0;
		buf_free(&b);
		b.oom = 0;
		buf_puts(&b, "{\"v\":1,\"fp\":");
		buf_json_str(&b, fp, strlen(fp));
		buf_puts(&b, ",\"from\":");
		buf_i64(&b, rows ? c->from : 0);
		buf_puts(&b, ",\"to\":");
		buf_i64(&b, rows ? c->to : 0);
		buf_puts(&b, ",\"last_full\":");
		buf_i64(&b, c->last_full);
		buf_puts(&b, ",\"mismatches\":");
		buf_i64(&b, c->mismatches);
		buf_puts(&b, c->smask ? ",\"rows\":[" : ",\"rows\":\"");
		for (size_t i = 0; rows && i < c->n; i++) {
			const union wc_cell *r = wc_row(c, i);
			if (c->smask)
				buf_puts(&b, i ? ",[" : "[");
			else if (i)
				buf_putc(&b, ';');
			for (size_t k = 0; k < c->ncols; k++) {
				if (k)
					buf_putc(&b, ',');
				if (c->smask >> k & 1) {
					buf_json_str(&b, r[k].s, strlen(r[k].s));
				} else if (c->dmask >> k & 1) {
					char s[40];
					/* %.17g reads back as the same double; a
					 * non-finite value is not JSON: null would
					 * not read back, so write 0 and let the
					 * row's next full run correct it */
					snprintf(s, sizeof s, "%.17g", isfinite(r[k].d) ? r[k].d : 0.0);
					buf_puts(&b, s);
					if (!strpbrk(s, ".eE"))
						buf_puts(&b, ".0");
				} else {
					buf_i64(&b, r[k].i);
				}
			}
			if (c->smask)
				buf_putc(&b, ']');
		}
		buf_puts(&b, c->smask ? "]}" : "\"}");
		if (!rows || b.oom || b.len <= max_bytes)
			break;
		over = 1;
	}
	int rc = b.oom ? LAB_ENOMEM : lab_state_set(ctx, key, b.data, b.len);
	buf_free(&b);
	return rc < 0 ? rc : over;
}
