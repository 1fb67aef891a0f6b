/*
 * jbuf — a small growable byte buffer with JSON writers, for the JSON
 * documents of the plugins (beacon, contributors, timings).  Pure libc (common/, see
 * common/README.md).  Strings from ClickHouse are untrusted: they may hold
 * control bytes, NULs and invalid UTF-8; jbuf_str() always writes a valid
 * JSON string (control bytes escaped, each invalid UTF-8 byte becomes
 * U+FFFD).  Once anything was written, `p` is NUL-terminated (the NUL is not
 * counted in `len`); an empty buffer may have p == NULL.
 * A buffer that failed to grow stays failed (`oom`) and later appends are
 * no-ops; check it once at the end.
 */
#ifndef LAB_COMMON_JBUF_H
#define LAB_COMMON_JBUF_H

#include <stddef.h>
#include <stdint.h>

struct jbuf {
	char *p;
	size_t len, cap;
	int oom;
};

void jbuf_free(struct jbuf *b);
void jbuf_raw(struct jbuf *b, const char *s, size_t n);
void jbuf_lit(struct jbuf *b, const char *s); /* NUL-terminated literal text */
void jbuf_char(struct jbuf *b, char c);
void jbuf_i64(struct jbuf *b, int64_t v);
void jbuf_u64(struct jbuf *b, uint64_t v);
/* A number with up to 6 decimals, shortest form ("40", "-25.5"); null when not finite. */
void jbuf_f64(struct jbuf *b, double v);
/* A JSON string from n bytes (NULs included). */
void jbuf_str(struct jbuf *b, const char *s, size_t n);
/* ISO-8601 UTC "YYYY-MM-DDTHH:MM:SS+00:00" of Unix seconds; with micros >= 0 also ".ffffff". */
void jbuf_iso(struct jbuf *b, int64_t unix_s, int micros);

#endif
