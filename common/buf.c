/* The growable buffer and JSON writer (see buf.h). */
#include "buf.h"
#include "rfc3339.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

void buf_free(struct buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
	b->oom = 0;
}

void buf_reset(struct buf *b)
{
	b->len = 0;
	if (b->data)
		b->data[0] = '\0';
}

int buf_reserve(struct buf *b, size_t extra)
{
	if (b->oom)
		return -1;
	if (extra > SIZE_MAX - b->len - 1)
		goto fail;
	size_t need = b->len + extra + 1;
	if (need <= b->cap)
		return 0;
	size_t cap = b->cap ? b->cap : 64;
	while (cap < need)
		cap = cap > SIZE_MAX / 2 ? need : cap * 2;
	char *p = realloc(b->data, cap);
	if (!p)
		goto fail;
	b->data = p;
	b->cap = cap;
	return 0;
fail:
	b->oom = 1;
	return -1;
}

void buf_append(struct buf *b, const void *p, size_t n)
{
	if (buf_reserve(b, n) < 0)
		return;
	if (n)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
}

void buf_puts(struct buf *b, const char *s) { buf_append(b, s, strlen(s)); }

void buf_putc(struct buf *b, char c) { buf_append(b, &c, 1); }

void buf_vprintf(struct buf *b, const char *fmt, va_list ap)
{
	va_list cp;
	va_copy(cp, ap);
	int n = vsnprintf(NULL, 0, fmt, cp);
	va_end(cp);
	if (n < 0 || buf_reserve(b, (size_t)n) < 0)
		return;
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	b->len += (size_t)n;
}

void buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	buf_vprintf(b, fmt, ap);
	va_end(ap);
}

/* Bytes a JSON string holds as they are without looking further: printable
 * ASCII but '"' and '\\' (hex and decimal text, nearly all of a document). */
static const unsigned char ascii_plain[256] = {
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1,
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0,
	/* 0x80..0xff: 0 */
};

size_t buf_ascii_plain(const char *s, size_t n)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0;
#ifdef __SSE2__
	/* 16 bytes at a time (hashes and keys are most of a document): a byte
	 * below 0x20 or above 0x7e is below 0x20 as a signed byte, or 0x7f. */
	const __m128i lo = _mm_set1_epi8(0x20), del = _mm_set1_epi8(0x7f);
	const __m128i q = _mm_set1_epi8('"'), bs = _mm_set1_epi8('\\');
	if (n >= 16) {
		/* the last 16 bytes overlap the loop's: no byte loop for the tail */
		for (size_t at = 0;; at += 16) {
			if (at + 16 > n)
				at = n - 16;
			__m128i v = _mm_loadu_si128((const __m128i *)(const void *)(u + at));
			__m128i bad = _mm_or_si128(
				_mm_or_si128(_mm_cmplt_epi8(v, lo), _mm_cmpeq_epi8(v, del)),
				_mm_or_si128(_mm_cmpeq_epi8(v, q), _mm_cmpeq_epi8(v, bs)));
			unsigned m = (unsigned)_mm_movemask_epi8(bad);
			if (m)
				return at + (size_t)__builtin_ctz(m);
			if (at + 16 == n)
				return n;
		}
	}
#endif
	while (i < n && ascii_plain[u[i]])
		i++;
	return i;
}

char *buf_put_u64(char *d, uint64_t v)
{
	/* two digits a step */
	static const char pairs[201] = "00010203040506070809101112131415161718192021222324"
				       "25262728293031323334353637383940414243444546474849"
				       "50515253545556575859606162636465666768697071727374"
				       "75767778798081828384858687888990919293949596979899";
	char t[20];
	size_t i = sizeof t;
	while (v >= 100) {
		unsigned r = (unsigned)(v % 100);
		v /= 100;
		i -= 2;
		memcpy(t + i, pairs + 2 * r, 2);
	}
	if (v >= 10) {
		i -= 2;
		memcpy(t + i, pairs + 2 * v, 2);
	} else {
		t[--i] = (char)('0' + v);
	}
	memcpy(d, t + i, sizeof t - i);
	return d + (sizeof t - i);
}

char *buf_put_i64(char *d, int64_t v)
{
	if (v < 0) {
		*d++ = '-';
		return buf_put_u64(d, (uint64_t)0 - (uint64_t)v);
	}
	return buf_put_u64(d, (uint64_t)v);
}

void buf_json_str(struct buf *b, const char *s, size_t n)
{
	const unsigned char *u = (const unsigned char *)s;
	char esc[6];
	size_t i = buf_ascii_plain(s, n);
	/* The common case in one append: quotes and plain ASCII. */
	if (i == n && n <= SIZE_MAX - 3 && buf_reserve(b, n + 2) == 0) {
		char *d = b->data + b->len;
		d[0] = '"';
		memcpy(d + 1, s, n);
		d[n + 1] = '"';
		d[n + 2] = '\0';
		b->len += n + 2;
		return;
	}
	i = 0;
	buf_putc(b, '"');
	while (i < n) {
		size_t run = json_str_plain(u + i, n - i);
		buf_append(b, s + i, run);
		i += run;
		if (i < n)
			buf_append(b, esc, json_str_escape(u[i++], esc));
	}
	buf_putc(b, '"');
}

/* Decimal digits without printf (a document has thousands of numbers). */
void buf_i64(struct buf *b, int64_t v)
{
	char t[BUF_DEC_MAX];
	buf_append(b, t, (size_t)(buf_put_i64(t, v) - t));
}

void buf_u64(struct buf *b, uint64_t v)
{
	char t[BUF_DEC_MAX];
	buf_append(b, t, (size_t)(buf_put_u64(t, v) - t));
}

void buf_f64(struct buf *b, double v)
{
	char t[48];
	int n = isfinite(v) ? snprintf(t, sizeof t, "%.6f", v) : -1;
	if (n <= 0 || (size_t)n >= sizeof t) {
		buf_puts(b, "null");
		return;
	}
	while (n > 0 && t[n - 1] == '0')
		n--;
	if (n > 0 && t[n - 1] == '.')
		n--;
	if (n == 2 && t[0] == '-' && t[1] == '0') /* -0 */
		buf_putc(b, '0');
	else
		buf_append(b, t, (size_t)n);
}

void buf_iso(struct buf *b, int64_t unix_s, int micros)
{
	char out[RFC3339_MAX];
	size_t n = rfc3339_format(out, unix_s, micros, 0);
	if (!n) {
		buf_puts(b, "null");
		return;
	}
	buf_putc(b, '"');
	buf_append(b, out, n);
	buf_putc(b, '"');
}

char *buf_steal(struct buf *b, size_t *len)
{
	char *d = b->data;
	if (len)
		*len = b->len;
	b->data = NULL;
	b->len = b->cap = 0;
	return d;
}

void json_kv_str(struct buf *b, const char *k, const char *v, int comma)
{
	if (comma)
		buf_putc(b, ',');
	buf_json_str(b, k, strlen(k));
	buf_putc(b, ':');
	if (v)
		buf_json_str(b, v, strlen(v));
	else
		buf_puts(b, "null");
}
