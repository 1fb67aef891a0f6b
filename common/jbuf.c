/* jbuf — growable buffer with JSON writers (see jbuf.h). */
#include "jbuf.h"
#include "jsonstr.h"
#include "rfc3339.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void jbuf_free(struct jbuf *b)
{
	free(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
}

static int grow(struct jbuf *b, size_t need)
{
	if (b->oom)
		return -1;
	if (need > SIZE_MAX - b->len - 1) {
		b->oom = 1;
		return -1;
	}
	need += b->len + 1; /* the NUL */
	if (need <= b->cap)
		return 0;
	size_t cap = b->cap ? b->cap : 1024;
	while (cap < need) {
		if (cap > SIZE_MAX / 2) {
			b->oom = 1;
			return -1;
		}
		cap *= 2;
	}
	char *p = realloc(b->p, cap);
	if (!p) {
		b->oom = 1;
		return -1;
	}
	b->p = p;
	b->cap = cap;
	return 0;
}

void jbuf_raw(struct jbuf *b, const char *s, size_t n)
{
	if (n == 0 || grow(b, n) < 0)
		return;
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

void jbuf_lit(struct jbuf *b, const char *s) { jbuf_raw(b, s, strlen(s)); }

void jbuf_char(struct jbuf *b, char c) { jbuf_raw(b, &c, 1); }

void jbuf_i64(struct jbuf *b, int64_t v)
{
	char t[24];
	int n = snprintf(t, sizeof t, "%" PRId64, v);
	jbuf_raw(b, t, (size_t)n);
}

void jbuf_u64(struct jbuf *b, uint64_t v)
{
	char t[24];
	int n = snprintf(t, sizeof t, "%" PRIu64, v);
	jbuf_raw(b, t, (size_t)n);
}

void jbuf_f64(struct jbuf *b, double v)
{
	char t[48];
	if (!isfinite(v)) {
		jbuf_lit(b, "null");
		return;
	}
	int n = snprintf(t, sizeof t, "%.6f", v);
	if (n <= 0 || (size_t)n >= sizeof t) {
		jbuf_lit(b, "null");
		return;
	}
	while (n > 0 && t[n - 1] == '0')
		n--;
	if (n > 0 && t[n - 1] == '.')
		n--;
	if (n == 2 && t[0] == '-' && t[1] == '0') /* -0 */
		jbuf_lit(b, "0");
	else
		jbuf_raw(b, t, (size_t)n);
}

void jbuf_str(struct jbuf *b, const char *s, size_t n)
{
	const unsigned char *u = (const unsigned char *)s;
	char esc[6];
	size_t i = 0;
	jbuf_char(b, '"');
	while (i < n) {
		size_t run = json_str_plain(u + i, n - i);
		jbuf_raw(b, s + i, run);
		i += run;
		if (i < n)
			jbuf_raw(b, esc, json_str_escape(u[i++], esc));
	}
	jbuf_char(b, '"');
}

void jbuf_iso(struct jbuf *b, int64_t unix_s, int micros)
{
	char out[RFC3339_MAX];
	size_t n = rfc3339_format(out, unix_s, micros, 0);
	if (!n) {
		jbuf_lit(b, "null");
		return;
	}
	jbuf_char(b, '"');
	jbuf_raw(b, out, n);
	jbuf_char(b, '"');
}
