/* A growable byte buffer, always NUL-terminated.  Used for JSON, HTTP
 * bodies and log lines.  Allocation failure latches `oom`: later appends
 * are no-ops, so callers check once at the end. */
#ifndef LAB_HOST_BUF_H
#define LAB_HOST_BUF_H

#include <stdarg.h>
#include <stddef.h>

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
/* Appends s as a JSON string literal (with quotes); invalid UTF-8 bytes
 * become U+FFFD.  The escape and utf8_seq() are common/jsonstr.h. */
void buf_json_str(struct buf *b, const char *s, size_t n);
/* [","] "k":"v" (v NULL: null), strings escaped as by buf_json_str. */
void json_kv_str(struct buf *b, const char *k, const char *v, int comma);
/* Hands the data to the caller (who frees it) and resets b. */
char *buf_steal(struct buf *b, size_t *len);

#endif
