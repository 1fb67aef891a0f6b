/* libFuzzer target: the ClickHouse TabSeparatedWithNames response parser
 * (host/ch_rows.c), which reads whatever the server (or anything between)
 * sends.  The input is the response body.
 *
 * Oracles: (1) feeding it in arbitrary chunks gives exactly the result of
 * feeding it at once (same status, columns, names, cells); (2) batch mode
 * delivers the same rows, in order, never more than `batch` at a time;
 * (3) every getter stays in bounds on every cell, and a cell reads back as
 * the bytes stored for it. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ch_internal.h"

struct batch_check {
	const struct lab_rows *all;
	size_t batch;
	size_t seen;
	int bad;
};

static void touch(const struct lab_rows *r)
{
	size_t nr = ch_rows_count(r), nc = ch_rows_columns(r);
	for (size_t c = 0; c < nc; c++)
		if (!ch_rows_column_name(r, c))
			abort();
	if (ch_rows_column_name(r, nc) != NULL || ch_rows_is_null(r, nr, 0) != LAB_ERANGE ||
	    ch_rows_is_null(r, 0, nc) != LAB_ERANGE)
		abort();
	for (size_t i = 0; i < nr; i++)
		for (size_t c = 0; c < nc; c++) {
			const char *s;
			size_t len;
			int64_t i64;
			uint64_t u64;
			double d;
			int null = ch_rows_is_null(r, i, c);
			int rc = ch_rows_str(r, i, c, &s, &len);
			if (null != (rc == LAB_ENOENT) || (rc != 0 && rc != LAB_ENOENT))
				abort();
			if (rc == 0 && s[len] != '\0')
				abort();
			ch_rows_i64(r, i, c, &i64);
			ch_rows_u64(r, i, c, &u64);
			ch_rows_f64(r, i, c, &d);
		}
}

static int same_cell(const struct lab_rows *a, size_t ra, const struct lab_rows *b, size_t rb,
		     size_t c)
{
	const char *sa, *sb;
	size_t la, lb;
	int xa = ch_rows_str(a, ra, c, &sa, &la), xb = ch_rows_str(b, rb, c, &sb, &lb);
	if (xa != xb)
		return 0;
	return xa != 0 || (la == lb && memcmp(sa, sb, la) == 0);
}

static int on_batch(const struct lab_rows *rows, void *ud)
{
	struct batch_check *bc = ud;
	size_t n = ch_rows_count(rows);
	touch(rows);
	if (n == 0 || n > bc->batch || ch_rows_columns(rows) != ch_rows_columns(bc->all))
		bc->bad = 1;
	for (size_t i = 0; i < n && !bc->bad; i++) {
		if (bc->seen + i >= ch_rows_count(bc->all)) {
			bc->bad = 1;
			break;
		}
		for (size_t c = 0; c < ch_rows_columns(rows); c++)
			if (!same_cell(rows, i, bc->all, bc->seen + i, c))
				bc->bad = 1;
	}
	bc->seen += n;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	/* The first byte picks chunk sizes and the batch size; the rest is the body. */
	unsigned seed = data[0];
	const char *body = (const char *)data + 1;
	size_t n = size - 1;

	struct ch_parser whole, parts;
	ch_parser_init(&whole, 0, NULL, NULL);
	int rw = ch_parser_feed(&whole, body, n, NULL);
	if (rw == 0)
		rw = ch_parser_finish(&whole);

	ch_parser_init(&parts, 0, NULL, NULL);
	int rp = 0;
	size_t off = 0, step = (seed & 15) + 1;
	while (off < n && rp == 0) {
		size_t k = n - off < step ? n - off : step;
		rp = ch_parser_feed(&parts, body + off, k, NULL);
		off += k;
		step = ((step * 7 + seed) % 23) + 1;
	}
	if (rp == 0)
		rp = ch_parser_finish(&parts);
	if (rw != rp)
		abort();
	if (rw == 0) {
		const struct lab_rows *a = &whole.rows, *b = &parts.rows;
		if (ch_rows_count(a) != ch_rows_count(b) || ch_rows_columns(a) != ch_rows_columns(b))
			abort();
		for (size_t c = 0; c < ch_rows_columns(a); c++)
			if (strcmp(ch_rows_column_name(a, c), ch_rows_column_name(b, c)) != 0)
				abort();
		for (size_t i = 0; i < ch_rows_count(a); i++)
			for (size_t c = 0; c < ch_rows_columns(a); c++)
				if (!same_cell(a, i, b, i, c))
					abort();
		touch(a);

		struct batch_check bc = { .all = a, .batch = (seed >> 4) + 1 };
		struct ch_parser bat;
		ch_parser_init(&bat, bc.batch, on_batch, &bc);
		if (ch_parser_feed(&bat, body, n, NULL) != 0 || ch_parser_finish(&bat) != 0)
			abort();
		if (bc.bad || bc.seen != ch_rows_count(a))
			abort();
		ch_parser_free(&bat);
	}
	ch_parser_free(&whole);
	ch_parser_free(&parts);
	return 0;
}
