/* jbuf — growable buffer with JSON writers (see jbuf.h). */
#include "jbuf.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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
	if (b->len + need <= b->cap)
		return 0;
	size_t cap = b->cap ? b->cap : 1024;
	while (cap < b->len + need) {
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

/* Length of the valid UTF-8 sequence at s (1..4), 0 when invalid. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
	unsigned c = s[0];
	size_t len;
	unsigned min;
	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf) {
		len = 2;
		min = 0x80;
	} else if (c >= 0xe0 && c <= 0xef) {
		len = 3;
		min = 0x800;
	} else if (c >= 0xf0 && c <= 0xf4) {
		len = 4;
		min = 0x10000;
	} else {
		return 0;
	}
	if (n < len)
		return 0;
	unsigned cp = c & (0x7fu >> len);
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

void jbuf_str(struct jbuf *b, const char *s, size_t n)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0, run = 0;
	jbuf_char(b, '"');
	while (i < n) {
		unsigned c = u[i];
		size_t l = c >= 0x20 && c != '"' && c != '\\' && c != 0x7f ? utf8_len(u + i, n - i) : 0;
		if (l) {
			i += l;
			run += l;
			continue;
		}
		jbuf_raw(b, s + i - run, run);
		run = 0;
		char esc[8];
		if (c == '"')
			jbuf_lit(b, "\\\"");
		else if (c == '\\')
			jbuf_lit(b, "\\\\");
		else if (c == '\n')
			jbuf_lit(b, "\\n");
		else if (c == '\r')
			jbuf_lit(b, "\\r");
		else if (c == '\t')
			jbuf_lit(b, "\\t");
		else if (c < 0x20 || c == 0x7f) {
			snprintf(esc, sizeof esc, "\\u%04x", c);
			jbuf_lit(b, esc);
		} else {
			jbuf_lit(b, "\\ufffd"); /* invalid UTF-8 byte */
		}
		i++;
	}
	jbuf_raw(b, s + i - run, run);
	jbuf_char(b, '"');
}

void jbuf_iso(struct jbuf *b, int64_t unix_s, int micros)
{
	struct tm tm;
	time_t t = (time_t)unix_s;
	char out[64];
	if (!gmtime_r(&t, &tm)) {
		jbuf_lit(b, "null");
		return;
	}
	int n;
	if (micros >= 0)
		n = snprintf(out, sizeof out, "\"%04d-%02d-%02dT%02d:%02d:%02d.%06d+00:00\"",
			     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
			     tm.tm_sec, micros % 1000000);
	else
		n = snprintf(out, sizeof out, "\"%04d-%02d-%02dT%02d:%02d:%02d+00:00\"",
			     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
			     tm.tm_sec);
	if (n > 0 && (size_t)n < sizeof out)
		jbuf_raw(b, out, (size_t)n);
	else
		jbuf_lit(b, "null");
}
