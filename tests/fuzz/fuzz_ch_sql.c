/* libFuzzer target: ClickHouse parameter binding (host/ch_sql.c).
 *
 * Input: a one-byte mode, then
 *  mode even — "injection": the rest is a string parameter (a hostile client
 *   name) bound into fixed queries.  Oracle: an independent ClickHouse lexer
 *   finds exactly one string literal where the `?` was, it decodes to the
 *   input bytes, and the query text around it is unchanged — the value
 *   cannot end the literal, open a comment or add a clause.
 *  mode odd — "template": the rest, up to a NUL, is the SQL; after it, the
 *   parameters (a type byte and a value each).  Oracle: no crash; binding
 *   fails exactly when the counts differ or a value is invalid, and
 *   ch_returns_rows() is total. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ch_internal.h"

/* Decodes a ClickHouse '...' literal starting at s[0] == '\''.  Returns the
 * length of the literal (quotes included), 0 if unterminated; the decoded
 * bytes go to out. */
static size_t lex_string(const char *s, size_t n, char *out, size_t *outlen)
{
	size_t i = 1, o = 0;
	while (i < n) {
		char c = s[i];
		if (c == '\\') {
			if (i + 1 >= n)
				return 0;
			char e = s[i + 1];
			i += 2;
			switch (e) {
			case 'n': out[o++] = '\n'; break;
			case 't': out[o++] = '\t'; break;
			case 'r': out[o++] = '\r'; break;
			case '0': out[o++] = '\0'; break;
			case 'b': out[o++] = '\b'; break;
			case 'f': out[o++] = '\f'; break;
			case 'a': out[o++] = '\a'; break;
			case 'v': out[o++] = '\v'; break;
			case 'x': {
				if (i + 2 > n)
					return 0;
				unsigned v = 0;
				for (int k = 0; k < 2; k++) {
					char h = s[i + k];
					v = v * 16 + (unsigned)(h >= '0' && h <= '9'   ? h - '0'
								: h >= 'a' && h <= 'f' ? h - 'a' + 10
								: h >= 'A' && h <= 'F' ? h - 'A' + 10
										       : 99);
				}
				if (v > 255)
					return 0;
				out[o++] = (char)v;
				i += 2;
				break;
			}
			default: out[o++] = e; break;
			}
		} else if (c == '\'') {
			if (i + 1 < n && s[i + 1] == '\'') { /* doubled quote */
				out[o++] = '\'';
				i += 2;
				continue;
			}
			*outlen = o;
			return i + 1;
		} else {
			out[o++] = c;
			i++;
		}
	}
	return 0;
}

static void injection(const char *v, size_t len)
{
	static const char *const tmpl[][2] = {
		{ "SELECT slot FROM t WHERE meta_client_name = ", " AND slot > 5 FORMAT TSV" },
		{ "SELECT 1 FROM t WHERE a IN (", ", 'x') -- end" },
		{ "SELECT 1 FROM t WHERE a = -", "" },
		{ "INSERT INTO t VALUES (", ")" },
	};
	lab_param p = { LAB_PARAM_STR, v, len, 0, 0, 0.0 };
	for (size_t t = 0; t < sizeof tmpl / sizeof tmpl[0]; t++) {
		char sql[256];
		snprintf(sql, sizeof sql, "%s?%s", tmpl[t][0], tmpl[t][1]);
		struct buf out = BUF_INIT;
		if (ch_bind(&out, sql, &p, 1) != 0)
			abort();
		size_t pre = strlen(tmpl[t][0]), post = strlen(tmpl[t][1]);
		if (out.len < pre + 2 + post || memcmp(out.data, tmpl[t][0], pre) != 0 ||
		    out.data[pre] != '\'')
			abort();
		char *dec = malloc(len + 1);
		size_t declen = 0;
		if (!dec)
			abort();
		size_t lit = lex_string(out.data + pre, out.len - pre, dec, &declen);
		if (lit == 0) {
			fprintf(stderr, "ch_bind: the value left the literal unterminated\n");
			abort();
		}
		if (declen != len || memcmp(dec, v, len) != 0) {
			fprintf(stderr, "ch_bind: the literal decodes to other bytes\n");
			abort();
		}
		if (out.len - pre - lit != post || memcmp(out.data + pre + lit, tmpl[t][1], post)) {
			fprintf(stderr, "ch_bind: the value changed the query after the literal: %.*s\n",
				(int)(out.len - pre - lit), out.data + pre + lit);
			abort();
		}
		/* Only printable ASCII and bytes >= 0x80 inside: no raw controls. */
		for (size_t i = pre; i < pre + lit; i++) {
			unsigned char c = (unsigned char)out.data[i];
			if (c < 0x20 || c == 0x7f)
				abort();
		}
		free(dec);
		buf_free(&out);
	}
}

static void template(const uint8_t *d, size_t n)
{
	const uint8_t *nul = memchr(d, 0, n);
	size_t sl = nul ? (size_t)(nul - d) : n;
	char *sql = malloc(sl + 1);
	if (!sql)
		abort();
	memcpy(sql, d, sl);
	sql[sl] = '\0';
	const uint8_t *q = nul ? nul + 1 : d + n, *end = d + n;
	lab_param ps[16];
	size_t np = 0;
	while (q < end && np < 16) {
		lab_param *p = &ps[np++];
		memset(p, 0, sizeof *p);
		uint8_t t = *q++;
		p->type = t % 8; /* 0 and 7 are not types */
		uint64_t raw = 0;
		for (int k = 0; k < 8 && q < end; k++)
			raw = raw << 8 | *q++;
		p->i = (int64_t)raw;
		p->u = raw;
		memcpy(&p->d, &raw, sizeof p->d);
		if (p->type == LAB_PARAM_STR) {
			size_t l = (size_t)(raw & 63);
			if (l > (size_t)(end - q))
				l = (size_t)(end - q);
			p->s = (const char *)q;
			p->len = l;
			q += l;
		}
	}
	ch_returns_rows(sql);
	struct buf out = BUF_INIT;
	int rc = ch_bind(&out, sql, ps, np);
	if (rc > 0 || (rc == 0 && out.oom))
		abort();
	int bad_value = 0;
	for (size_t i = 0; i < np; i++)
		bad_value |= ps[i].type < 1 || ps[i].type > 6 ||
			     (ps[i].type == LAB_PARAM_DOUBLE && !isfinite(ps[i].d)) ||
			     (ps[i].type == LAB_PARAM_DATETIME &&
			      (ps[i].i < 0 || ps[i].i > (int64_t)UINT32_MAX));
	if (rc == 0 && bad_value)
		abort(); /* an invalid value was rendered */
	buf_free(&out);
	free(sql);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	if (data[0] % 2 == 0)
		injection((const char *)data + 1, size - 1);
	else
		template(data + 1, size - 1);
	return 0;
}
