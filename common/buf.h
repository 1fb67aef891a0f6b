/* The one growable byte buffer and JSON writer, for every document, event,
 * HTTP body and log line of the host and the plugins (common/, see
 * common/README.md).  Once anything was written, `data` is NUL-terminated
 * (the NUL is not counted in `len`); an empty buffer may have data == NULL.
 * Allocation failure latches `oom`: later appends are no-ops, so callers
 * check once at the end.  Strings from ClickHouse, configs and plugins are
 * untrusted: buf_json_str() always writes a valid JSON string. */
#ifndef LAB_COMMON_BUF_H
#define LAB_COMMON_BUF_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "jsonstr.h"

struct buf {
	char *data;
	size_t len;
	size_t cap;
	int oom;
};

#define BUF_INIT { NULL, 0, 0, 0 }

void buf_free(struct buf *b);
void buf_reset(struct buf *b);
int buf_reserve(struct buf *b, size_t extra);
void buf_append(struct buf *b, const void *p, size_t n);
void buf_puts(struct buf *b, const char *s);
void buf_putc(struct buf *b, char c);
void buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void buf_vprintf(struct buf *b, const char *fmt, va_list ap);
/* Appends s[0..n) (NULs included) as a JSON string literal (with quotes):
 * control bytes escaped, each invalid UTF-8 byte becomes U+FFFD.  The
 * escape and utf8_seq() are common/jsonstr.h. */
void buf_json_str(struct buf *b, const char *s, size_t n);
/* Length of the prefix of s[0..n) that buf_json_str() copies as it is
 * without looking further: printable ASCII but '"' and '\\'. */
size_t buf_ascii_plain(const char *s, size_t n);
/* Decimal text of v at d (no NUL), for writers that reserved room (at most
 * BUF_DEC_MAX bytes); returns the end. */
#define BUF_DEC_MAX 20
char *buf_put_u64(char *d, uint64_t v);
char *buf_put_i64(char *d, int64_t v);
void buf_i64(struct buf *b, int64_t v);
void buf_u64(struct buf *b, uint64_t v);
/* A number with up to 6 decimals, shortest form ("40", "-25.5"); null when not finite. */
void buf_f64(struct buf *b, double v);
/* A JSON string of Unix seconds as RFC 3339 UTC "YYYY-MM-DDTHH:MM:SS+00:00"
 * (common/rfc3339.h); with micros >= 0 also ".ffffff"; null beyond year 9999. */
void buf_iso(struct buf *b, int64_t unix_s, int micros);
/* [","] "k":"v" (v NULL: null), strings escaped as by buf_json_str. */
void json_kv_str(struct buf *b, const char *k, const char *v, int comma);
/* Hands the data to the caller (who frees it) and resets b. */
char *buf_steal(struct buf *b, size_t *len);

#endif
