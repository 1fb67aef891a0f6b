/* ClickHouse parameter binding: `?` placeholders replaced by literals.
 *
 * The scanner knows ClickHouse's lexical rules that can hide a `?`:
 * '...' string literals and "..." / `...` quoted identifiers (backslash
 * escapes, and a doubled quote), -- line comments and block comments. */
#include <ctype.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "ch_internal.h"

void ch_quote(struct buf *out, const char *s, size_t len)
{
	static const char hex[] = "0123456789ABCDEF";
	buf_putc(out, '\'');
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		switch (c) {
		case '\\': buf_append(out, "\\\\", 2); break;
		case '\'': buf_append(out, "\\'", 2); break;
		case '\n': buf_append(out, "\\n", 2); break;
		case '\t': buf_append(out, "\\t", 2); break;
		case '\r': buf_append(out, "\\r", 2); break;
		case '\0': buf_append(out, "\\0", 2); break;
		case '\b': buf_append(out, "\\b", 2); break;
		case '\f': buf_append(out, "\\f", 2); break;
		default:
			if (c < 0x20 || c == 0x7f) {
				char t[4] = { '\\', 'x', hex[c >> 4], hex[c & 15] };
				buf_append(out, t, 4);
			} else {
				buf_putc(out, (char)c);
			}
		}
	}
	buf_putc(out, '\'');
}

/* A number starting with '-' right after a '-' would open a comment. */
static void put_number(struct buf *out, const char *num)
{
	if (num[0] == '-' && out->len && out->data[out->len - 1] == '-')
		buf_putc(out, ' ');
	buf_puts(out, num);
}

/* SDK 1.3 LAB_PARAM_IDENT: "name" or "db.name", each part 1..128 bytes of
 * [A-Za-z0-9_] not starting with a digit (the names ClickHouse needs no
 * quoting for), written back-quoted.  Nothing else is accepted: quoting an
 * arbitrary name correctly for both 18.16 and modern servers is not worth
 * the risk for table and column names. */
static int put_ident(struct buf *out, const char *s, size_t len)
{
	size_t start = 0, parts = 0;
	if (!s || len == 0 || len > 257)
		return LAB_EINVAL;
	for (size_t i = 0; i <= len; i++) {
		if (i < len && s[i] != '.') {
			unsigned char c = (unsigned char)s[i];
			int alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
			if (!alpha && !(c >= '0' && c <= '9' && i > start))
				return LAB_EINVAL;
			continue;
		}
		if (i == start || i - start > 128 || ++parts > 2)
			return LAB_EINVAL;
		start = i + 1;
	}
	buf_putc(out, '`');
	for (size_t i = 0; i < len; i++)
		if (s[i] == '.')
			buf_append(out, "`.`", 3);
		else
			buf_putc(out, s[i]);
	buf_putc(out, '`');
	return 0;
}

static int render(struct buf *out, const lab_param *p)
{
	char num[64];
	switch (p->type) {
	case LAB_PARAM_STR: {
		if (!p->s) {
			if (p->len != 0)
				return LAB_EINVAL;
			ch_quote(out, "", 0);
			return 0;
		}
		size_t len = p->len == (size_t)-1 ? strlen(p->s) : p->len;
		ch_quote(out, p->s, len);
		return 0;
	}
	case LAB_PARAM_INT:
		snprintf(num, sizeof num, "%" PRId64, p->i);
		put_number(out, num);
		return 0;
	case LAB_PARAM_UINT:
		snprintf(num, sizeof num, "%" PRIu64, p->u);
		put_number(out, num);
		return 0;
	case LAB_PARAM_DOUBLE:
		if (!isfinite(p->d))
			return LAB_EINVAL;
		snprintf(num, sizeof num, "%.17g", p->d);
		put_number(out, num);
		return 0;
	case LAB_PARAM_DATETIME:
		if (p->i < 0 || p->i > (int64_t)UINT32_MAX)
			return LAB_ERANGE;
		buf_printf(out, "toDateTime(%" PRId64 ")", p->i);
		return 0;
	case LAB_PARAM_NULL:
		buf_puts(out, "NULL");
		return 0;
	case LAB_PARAM_IDENT:
		return put_ident(out, p->s, p->s && p->len == (size_t)-1 ? strlen(p->s) : p->len);
	default:
		return LAB_EINVAL;
	}
}

/* Length of the lexical element at s that cannot contain a placeholder
 * (quoted literal / identifier / comment), or 0 if s starts none. */
static size_t skip_opaque(const char *s)
{
	const char *p = s;
	if (*p == '\'' || *p == '"' || *p == '`') {
		char q = *p++;
		while (*p) {
			if (*p == '\\' && p[1]) {
				p += 2;
			} else if (*p == q) {
				if (p[1] == q) { /* doubled quote */
					p += 2;
					continue;
				}
				return (size_t)(p + 1 - s);
			} else {
				p++;
			}
		}
		return (size_t)(p - s); /* unterminated: the rest */
	}
	if (p[0] == '-' && p[1] == '-') {
		while (*p && *p != '\n')
			p++;
		return (size_t)(p - s);
	}
	if (p[0] == '/' && p[1] == '*') {
		p += 2;
		while (*p && !(p[0] == '*' && p[1] == '/'))
			p++;
		return (size_t)(*p ? p + 2 - s : p - s);
	}
	return 0;
}

int ch_bind(struct buf *out, const char *sql, const lab_param *params, size_t n)
{
	if (!sql || (n && !params))
		return LAB_EINVAL;
	size_t used = 0;
	const char *p = sql;
	while (*p) {
		size_t k = skip_opaque(p);
		if (k) {
			buf_append(out, p, k);
			p += k;
			continue;
		}
		if (*p == '?') {
			if (used >= n)
				return LAB_EINVAL;
			int rc = render(out, &params[used++]);
			if (rc < 0)
				return rc;
			p++;
			continue;
		}
		const char *q = p + 1;
		while (*q && *q != '?' && *q != '\'' && *q != '"' && *q != '`' && *q != '-' &&
		       *q != '/')
			q++;
		buf_append(out, p, (size_t)(q - p));
		p = q;
	}
	if (used != n)
		return LAB_EINVAL;
	return out->oom ? LAB_ENOMEM : 0;
}

int ch_returns_rows(const char *sql)
{
	static const char *const kw[] = { "SELECT", "WITH", "SHOW", "DESCRIBE", "DESC", "EXISTS",
					   "EXPLAIN" };
	const char *p = sql;
	for (;;) {
		while (isspace((unsigned char)*p) || *p == '(')
			p++;
		if ((p[0] == '-' && p[1] == '-') || (p[0] == '/' && p[1] == '*'))
			p += skip_opaque(p);
		else
			break;
	}
	for (size_t i = 0; i < sizeof kw / sizeof kw[0]; i++) {
		size_t l = strlen(kw[i]);
		if (strncasecmp(p, kw[i], l) == 0 && !isalnum((unsigned char)p[l]) && p[l] != '_')
			return 1;
	}
	return 0;
}
