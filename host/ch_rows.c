/* Incremental TabSeparatedWithNames parser and the lab_rows getters.
 *
 * Input arrives in arbitrary chunks (a field, an escape or a row may be
 * split anywhere).  Decoded field bytes go straight into the row set's
 * arena; a cell is an (offset, length) pair so the arena may move.  In
 * batch mode the arena is emptied after every `batch` complete rows, so a
 * streamed result never holds more than one batch. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "ch_internal.h"
#include "hexdig.h"

void ch_parser_init(struct ch_parser *p, size_t batch, ch_batch_fn on_batch, void *ud)
{
	memset(p, 0, sizeof *p);
	p->batch = batch;
	p->on_batch = on_batch;
	p->ud = ud;
}

void ch_parser_free(struct ch_parser *p)
{
	buf_free(&p->rows.names);
	buf_free(&p->rows.data);
	free(p->rows.name_off);
	free(p->rows.cells);
	memset(&p->rows, 0, sizeof p->rows);
}

void ch_parser_reset(struct ch_parser *p)
{
	size_t batch = p->batch;
	ch_batch_fn fn = p->on_batch;
	void *ud = p->ud;
	ch_parser_free(p);
	ch_parser_init(p, batch, fn, ud);
}

static struct buf *cur_buf(struct ch_parser *p)
{
	return p->header_done ? &p->rows.data : &p->rows.names;
}

static int end_field(struct ch_parser *p)
{
	struct lab_rows *r = &p->rows;
	struct buf *b = cur_buf(p);
	int is_null = p->null_cand && p->field_raw == 2;
	size_t len = b->len - p->field_off;
	/* the cell's NUL (every field: buf_reserve only when it must grow) */
	if (b->len + 2 > b->cap && buf_reserve(b, 1) < 0)
		return LAB_ENOMEM;
	b->data[b->len] = '\0';
	b->data[++b->len] = '\0';
	if (!p->header_done) {
		if (r->ncols == r->name_cap) {
			size_t nc = r->name_cap ? r->name_cap * 2 : 16;
			size_t *n = realloc(r->name_off, nc * sizeof *n);
			if (!n)
				return LAB_ENOMEM;
			r->name_off = n;
			r->name_cap = nc;
		}
		r->name_off[r->ncols++] = p->field_off;
	} else {
		if (p->col >= r->ncols)
			return LAB_EPARSE;
		size_t need = (r->nrows + 1) * r->ncols;
		if (need > r->cells_cap) {
			size_t nc = r->cells_cap ? r->cells_cap * 2 : 64 * r->ncols;
			while (nc < need)
				nc *= 2;
			struct ch_cell *c = realloc(r->cells, nc * sizeof *c);
			if (!c)
				return LAB_ENOMEM;
			r->cells = c;
			r->cells_cap = nc;
		}
		struct ch_cell *c = &r->cells[r->nrows * r->ncols + p->col];
		c->off = p->field_off;
		c->len = is_null ? CH_NULL_LEN : len;
		p->col++;
	}
	p->field_raw = 0;
	p->null_cand = 0;
	p->field_off = cur_buf(p)->len;
	return 0;
}

static int flush_batch(struct ch_parser *p)
{
	struct lab_rows *r = &p->rows;
	if (!r->nrows)
		return 0;
	int rc = p->on_batch ? p->on_batch(r, p->ud) : 0;
	r->nrows = 0;
	buf_reset(&r->data);
	p->field_off = 0;
	return rc;
}

static int end_row(struct ch_parser *p)
{
	struct lab_rows *r = &p->rows;
	int rc = end_field(p);
	if (rc < 0)
		return rc;
	if (!p->header_done) {
		p->header_done = 1;
		p->field_off = r->data.len;
		p->col = 0;
		return 0;
	}
	if (p->col != r->ncols)
		return LAB_EPARSE;
	p->col = 0;
	r->nrows++;
	p->total_rows++;
	if (p->batch && r->nrows >= p->batch)
		return flush_batch(p);
	return 0;
}

static const unsigned char special[256] = { ['\t'] = 1, ['\n'] = 1, ['\\'] = 1 };

/* Length of the run of plain bytes (no tab, newline or backslash) at d.
 * Hex hashes and keys make most of a result: with SSE2 (every x86-64) 16
 * bytes are tested at a time. */
static size_t plain_run(const char *d, size_t n)
{
	size_t j = 0;
#ifdef __SSE2__
	const __m128i tab = _mm_set1_epi8('\t'), nl = _mm_set1_epi8('\n'), bs = _mm_set1_epi8('\\');
	for (; j + 16 <= n; j += 16) {
		__m128i v = _mm_loadu_si128((const __m128i *)(const void *)(d + j));
		__m128i hit = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, tab), _mm_cmpeq_epi8(v, nl)),
					   _mm_cmpeq_epi8(v, bs));
		unsigned m = (unsigned)_mm_movemask_epi8(hit);
		if (m)
			return j + (size_t)__builtin_ctz(m);
	}
#endif
	while (j < n && !special[(unsigned char)d[j]])
		j++;
	return j;
}

size_t ch_parser_held(const struct ch_parser *p)
{
	const struct lab_rows *r = &p->rows;
	return r->names.cap + r->name_cap * sizeof *r->name_off +
	       r->cells_cap * sizeof *r->cells + r->data.cap;
}

int ch_parser_feed(struct ch_parser *p, const char *data, size_t len, size_t *used)
{
	size_t i = 0;
	int rc = p->err;
	if (rc)
		goto out;
	while (i < len) {
		struct buf *b = cur_buf(p);
		if (p->hexleft) {
			int v = hexdig((unsigned char)data[i]);
			if (v < 0) {
				rc = LAB_EPARSE;
				goto out;
			}
			p->hexval = p->hexval * 16 + (unsigned)v;
			p->field_raw++;
			i++;
			if (--p->hexleft == 0)
				buf_putc(b, (char)p->hexval);
			continue;
		}
		if (p->esc) {
			char c = data[i++], o;
			p->esc = 0;
			p->field_raw++;
			switch (c) {
			case 'n': o = '\n'; break;
			case 't': o = '\t'; break;
			case 'r': o = '\r'; break;
			case 'b': o = '\b'; break;
			case 'f': o = '\f'; break;
			case 'a': o = '\a'; break;
			case 'v': o = '\v'; break;
			case '0': o = '\0'; break;
			case 'x':
				p->hexleft = 2;
				p->hexval = 0;
				continue;
			case 'N':
				if (p->field_raw == 2)
					p->null_cand = 1;
				o = 'N';
				break;
			default: o = c; break; /* \\ \' \" and anything else: itself */
			}
			buf_putc(b, o);
			continue;
		}
		/* Fast path: copy a run of plain bytes, with room for the NUL that
		 * end_field() adds when the field ends with the run. */
		size_t j = i + plain_run(data + i, len - i);
		if (j > i) {
			size_t n = j - i;
			if ((n + 2 > b->cap - b->len || b->oom) && buf_reserve(b, n + 1) < 0) {
				rc = LAB_ENOMEM;
				goto out;
			}
			memcpy(b->data + b->len, data + i, n);
			b->len += n;
			b->data[b->len] = '\0';
			p->field_raw += n;
			i = j;
			continue;
		}
		char c = data[i++];
		if (c == '\\') {
			p->esc = 1;
			p->field_raw++;
		} else if (c == '\t') {
			if ((rc = end_field(p)) < 0)
				goto out;
		} else { /* '\n' */
			if ((rc = end_row(p)) < 0)
				goto out;
		}
	}
	if (p->rows.names.oom || p->rows.data.oom)
		rc = LAB_ENOMEM;
out:
	if (rc < 0 && !p->err) {
		p->err = rc;
		p->err_at = (size_t)p->consumed + i;
	}
	p->consumed += i;
	if (used)
		*used = i;
	return rc;
}

int ch_parser_finish(struct ch_parser *p)
{
	if (p->err)
		return p->err;
	struct buf *b = cur_buf(p);
	if (p->esc || p->hexleft || p->col || b->len != p->field_off || p->field_raw) {
		p->err = LAB_EPARSE; /* stopped inside a row */
		return p->err;
	}
	if (p->batch) {
		int rc = flush_batch(p);
		if (rc < 0)
			p->err = rc;
		return rc;
	}
	return 0;
}

/* ---- getters ---------------------------------------------------------- */

size_t ch_rows_count(const struct lab_rows *r)
{
	return r ? r->nrows : 0;
}

size_t ch_rows_columns(const struct lab_rows *r)
{
	return r ? r->ncols : 0;
}

const char *ch_rows_column_name(const struct lab_rows *r, size_t col)
{
	if (!r || col >= r->ncols)
		return NULL;
	return r->names.data + r->name_off[col];
}

static const struct ch_cell *cell(const struct lab_rows *r, size_t row, size_t col)
{
	if (!r || row >= r->nrows || col >= r->ncols)
		return NULL;
	return &r->cells[row * r->ncols + col];
}

int ch_rows_is_null(const struct lab_rows *r, size_t row, size_t col)
{
	const struct ch_cell *c = cell(r, row, col);
	if (!c)
		return LAB_ERANGE;
	return c->len == CH_NULL_LEN;
}

int ch_rows_str(const struct lab_rows *r, size_t row, size_t col, const char **s, size_t *len)
{
	const struct ch_cell *c = cell(r, row, col);
	if (!c)
		return LAB_ERANGE;
	if (c->len == CH_NULL_LEN)
		return LAB_ENOENT;
	if (s)
		*s = r->data.data + c->off;
	if (len)
		*len = c->len;
	return 0;
}

/* The cell as a NUL-terminated string (cells are stored with a NUL). */
static int cell_text(const struct lab_rows *r, size_t row, size_t col, const char **s,
		     size_t *len)
{
	int rc = ch_rows_str(r, row, col, s, len);
	if (rc < 0)
		return rc;
	if (*len == 0 || *len > 400 || memchr(*s, '\0', *len))
		return LAB_EPARSE;
	return 0;
}

/* The cell as strict decimal digits (after one '-' when *neg is given):
 * LAB_EPARSE on anything else or beyond UINT64_MAX. */
static int cell_digits(const struct lab_rows *r, size_t row, size_t col, int *neg,
		       uint64_t *out)
{
	const char *s;
	size_t len;
	uint64_t v = 0;
	int rc = ch_rows_str(r, row, col, &s, &len);
	if (rc < 0)
		return rc;
	if (neg) {
		*neg = len && s[0] == '-';
		s += *neg;
		len -= (size_t)*neg;
	}
	if (len == 0 || len > 20)
		return LAB_EPARSE;
	/* 19 digits cannot overflow: the division only for the 20th */
	size_t i = 0;
	for (; i < len && i < 19; i++) {
		unsigned d = (unsigned)(unsigned char)s[i] - '0';
		if (d > 9)
			return LAB_EPARSE;
		v = v * 10 + d;
	}
	if (i < len) {
		unsigned d = (unsigned)(unsigned char)s[i] - '0';
		if (d > 9 || v > (UINT64_MAX - d) / 10)
			return LAB_EPARSE;
		v = v * 10 + d;
	}
	*out = v;
	return 0;
}

int ch_rows_i64(const struct lab_rows *r, size_t row, size_t col, int64_t *out)
{
	int neg;
	uint64_t v;
	int rc = cell_digits(r, row, col, &neg, &v);
	if (rc < 0)
		return rc;
	if (neg ? v > (uint64_t)INT64_MAX + 1 : v > (uint64_t)INT64_MAX)
		return LAB_EPARSE;
	if (out)
		*out = neg ? (int64_t)(0 - v) : (int64_t)v;
	return 0;
}

int ch_rows_u64(const struct lab_rows *r, size_t row, size_t col, uint64_t *out)
{
	uint64_t v;
	int rc = cell_digits(r, row, col, NULL, &v);
	if (rc == 0 && out)
		*out = v;
	return rc;
}

int ch_rows_f64(const struct lab_rows *r, size_t row, size_t col, double *out)
{
	const char *s;
	size_t len;
	int rc = cell_text(r, row, col, &s, &len);
	if (rc < 0)
		return rc;
	/* ClickHouse writes inf, -inf, nan (also +inf in some versions). */
	const char *t = s + (s[0] == '-' || s[0] == '+');
	if (!strcasecmp(t, "inf") || !strcasecmp(t, "nan")) {
		double v = t[0] == 'n' || t[0] == 'N' ? NAN : INFINITY;
		if (s[0] == '-')
			v = -v;
		if (out)
			*out = v;
		return 0;
	}
	/* Plain decimal / exponent syntax only (no hex floats, no spaces). */
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		if (!((c >= '0' && c <= '9') || c == '.' || c == 'e' || c == 'E' || c == '-' ||
		      c == '+'))
			return LAB_EPARSE;
	}
	errno = 0;
	char *end;
	double v = strtod(s, &end);
	if (end != s + len || (errno == ERANGE && isinf(v)))
		return LAB_EPARSE;
	if (out)
		*out = v;
	return 0;
}
