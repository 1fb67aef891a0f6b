/* compute.c — pure computation of the timings plugin (see compute.h). */
#include "compute.h"
#include "keyrules.h"
#include "rfc3339.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

const char *const tm_set_names[TM_NSETS] = { "all", "mev", "non_mev", "solo_mev",
					     "solo_non_mev" };

/* A JSON string of a C string (buf_json_str: always valid JSON). */
static void jstr(struct buf *b, const char *s) { buf_json_str(b, s, strlen(s)); }

void tm_json_f64(struct buf *b, double v)
{
	char e[40], s[400];
	int p, exp10;
	if (!isfinite(v)) {
		buf_puts(b, "null");
		return;
	}
	if (v == 0) {
		buf_puts(b, signbit(v) ? "-0.0" : "0.0");
		return;
	}
	/* Shortest precision that reads back as the same double. */
	for (p = 1; p < 17; p++) {
		snprintf(e, sizeof e, "%.*e", p - 1, v);
		if (strtod(e, NULL) == v)
			break;
	}
	snprintf(e, sizeof e, "%.*e", p - 1, v);
	exp10 = atoi(strchr(e, 'e') + 1);
	if (exp10 >= -4 && exp10 < 16) {
		int dec = p - 1 - exp10;
		snprintf(s, sizeof s, "%.*f", dec > 0 ? dec : 0, v);
		buf_puts(b, s);
		if (!strchr(s, '.'))
			buf_puts(b, ".0");
		return;
	}
	buf_puts(b, e); /* "1e+16", "1.5e-05": Python's spelling too */
}

double tm_round_half_even(double x)
{
	if (!isfinite(x))
		return x;
	double f = floor(x), d = x - f;
	if (d > 0.5)
		return f + 1;
	if (d < 0.5)
		return f;
	return fmod(f, 2.0) == 0 ? f : f + 1;
}

int64_t tm_bucket_kb_qc(int64_t q, int c)
{
	int64_t r = q + ((c > 0 || (c == 0 && (q & 1))) ? 1 : 0);
	return (r < 1 ? 1 : r) * 32;
}

int64_t tm_bucket_kb(uint64_t total)
{
	if (total < 1)
		total = 1;
	uint64_t rem = total % 32768;
	return tm_bucket_kb_qc((int64_t)(total / 32768), rem > 16384 ? 1 : rem == 16384 ? 0 : -1);
}

int tm_block_timings_json(const struct tm_bt_row *r, size_t n, struct buf *o)
{
	static const char *const names[] = { "mins", "maxs", "avgs", "p05s", "p50s", "p95s" };
	buf_puts(o, "{\"timestamps\":[");
	for (size_t i = 0; i < n; i++) {
		if (i)
			buf_putc(o, ',');
		buf_i64(o, r[i].ts);
	}
	for (size_t k = 0; k < 6; k++) {
		buf_puts(o, "],\"");
		buf_puts(o, names[k]);
		buf_puts(o, "\":[");
		for (size_t i = 0; i < n; i++) {
			const double v[6] = { r[i].min, r[i].max, r[i].avg,
					      r[i].p05, r[i].p50, r[i].p95 };
			if (i)
				buf_putc(o, ',');
			tm_json_f64(o, v[k]);
		}
	}
	buf_puts(o, "],\"blocks\":[");
	for (size_t i = 0; i < n; i++) {
		if (i)
			buf_putc(o, ',');
		buf_i64(o, r[i].blocks);
	}
	buf_puts(o, "]}");
	return o->oom ? -1 : 0;
}

static int64_t group_kb(const struct tm_cdf_group *g) { return tm_bucket_kb_qc(g->q, g->c); }

static int cmp_group(const void *a, const void *b)
{
	int64_t x = group_kb(a), y = group_kb(b);
	return x < y ? -1 : x > y;
}

int tm_size_cdf_json(struct tm_cdf_group *g, size_t n, struct buf *o)
{
	size_t m = 0;
	if (n)
		qsort(g, n, sizeof *g, cmp_group);
	/* Merge the groups of one bucket into the first of them. */
	for (size_t i = 0; i < n; i++) {
		if (m && group_kb(&g[m - 1]) == group_kb(&g[i])) {
			for (int s = 0; s < TM_NSETS; s++) {
				g[m - 1].sum[s] += g[i].sum[s];
				g[m - 1].cnt[s] += g[i].cnt[s];
			}
		} else {
			g[m++] = g[i];
		}
	}
	buf_puts(o, "{\"sizes_kb\":[");
	int first = 1;
	for (size_t i = 0; i < m; i++) {
		if (!g[i].cnt[TM_ALL])
			continue;
		if (!first)
			buf_putc(o, ',');
		first = 0;
		buf_i64(o, group_kb(&g[i]));
	}
	buf_puts(o, "],\"arrival_times_ms\":{");
	for (int s = 0; s < TM_NSETS; s++) {
		if (s)
			buf_putc(o, ',');
		jstr(o, tm_set_names[s]);
		buf_puts(o, ":[");
		first = 1;
		for (size_t i = 0; i < m; i++) {
			if (!g[i].cnt[s])
				continue;
			if (!first)
				buf_putc(o, ',');
			first = 0;
			/* Arrivals are integers, so the sum is exact below 2^53
			 * and sum/count equals the mean however it is summed. */
			tm_json_f64(o, tm_round_half_even((double)g[i].sum[s] / (double)g[i].cnt[s]));
		}
		buf_putc(o, ']');
	}
	buf_puts(o, "}}");
	return o->oom ? -1 : 0;
}

int tm_describe_json(const char *prefix, const char *const *nets, size_t nnet,
		     const struct tm_window *wins, size_t nwin, struct buf *o)
{
	buf_puts(o, "{\"enabled\":true,\"description\":\"Beacon chain block timing metrics\","
		    "\"path_prefix\":");
	jstr(o, prefix);
	buf_puts(o, ",\"networks\":[");
	for (size_t i = 0; i < nnet; i++) {
		if (i)
			buf_putc(o, ',');
		jstr(o, nets[i]);
	}
	buf_puts(o, "],\"time_windows\":[");
	for (size_t i = 0; i < nwin; i++) {
		const struct tm_window *w = &wins[i];
		buf_puts(o, i ? ",{\"file\":" : "{\"file\":");
		jstr(o, w->file);
		buf_puts(o, ",\"step\":");
		jstr(o, w->step_text);
		buf_puts(o, ",\"label\":");
		jstr(o, w->label);
		buf_puts(o, ",\"range\":");
		jstr(o, w->range_text);
		buf_putc(o, '}');
	}
	buf_puts(o, "]}");
	return o->oom ? -1 : 0;
}

void tm_iso8601(int64_t t, char out[32])
{
	/* Years beyond 9999 do not fit the format: clamp (state times only). */
	char s[RFC3339_MAX];
	const char *v = rfc3339_format(s, t, -1, 0) ? s : "9999-12-31T23:59:59+00:00";
	/* copied by length: snprintf here trips -Wformat-truncation in
	 * sanitizer builds (RFC3339_MAX is larger than 32) */
	size_t n = strnlen(v, 31);
	memcpy(out, v, n);
	out[n] = '\0';
}

int tm_parse_iso8601(const char *s, size_t len, int64_t *out)
{
	int64_t ms;
	if (rfc3339_parse(s, len, RFC3339_ZONE_OPTIONAL, &ms))
		return -1;
	*out = ms / 1000 - (ms % 1000 < 0);
	return 0;
}

int tm_valid_segment(const char *s)
{
	return key_segment_ok(s, strlen(s), 128, NULL, KEY_SEG_PLAIN);
}

int tm_valid_prefix(const char *s)
{
	char seg[129];
	if (!*s)
		return 0;
	for (;;) {
		size_t n = strcspn(s, "/");
		if (n == 0 || n >= sizeof seg)
			return 0;
		memcpy(seg, s, n);
		seg[n] = '\0';
		if (!tm_valid_segment(seg))
			return 0;
		if (!s[n])
			return 1;
		s += n + 1;
	}
}
