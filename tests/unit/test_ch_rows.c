/* TabSeparatedWithNames parsing (host/ch_rows.c): escapes, NULLs, strict
 * numbers, batches, and the same result for every chunk boundary. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ch_internal.h"

static const char input[] =
	"s\tn\tu\tf\tz\n"
	"a\\tb\\nc\\\\d\\'e\\0f\\x41\\N\t-9223372036854775808\t18446744073709551615\t0.1\t\\N\n"
	"\t42\t0\t-inf\t\\\\N\n"
	"\xc3\xa9\\b\\f\\r\t1x\t-1\tnan\tinf\n";

static void check_rows(const struct lab_rows *r)
{
	const char *s;
	size_t len;
	int64_t i;
	uint64_t u;
	double d;
	assert_int_equal(ch_rows_columns(r), 5);
	assert_int_equal(ch_rows_count(r), 3);
	assert_string_equal(ch_rows_column_name(r, 0), "s");
	assert_string_equal(ch_rows_column_name(r, 4), "z");
	assert_null(ch_rows_column_name(r, 5));
	/* Row 0: escapes; \N inside a longer field is just N. */
	assert_int_equal(ch_rows_str(r, 0, 0, &s, &len), 0);
	assert_int_equal(len, 13);
	assert_memory_equal(s, "a\tb\nc\\d'e\0fAN", 13);
	assert_int_equal(ch_rows_i64(r, 0, 1, &i), 0);
	assert_true(i == INT64_MIN);
	assert_int_equal(ch_rows_u64(r, 0, 2, &u), 0);
	assert_true(u == UINT64_MAX);
	assert_int_equal(ch_rows_f64(r, 0, 3, &d), 0);
	assert_true(d == 0.1);
	assert_int_equal(ch_rows_is_null(r, 0, 4), 1);
	assert_int_equal(ch_rows_str(r, 0, 4, &s, &len), LAB_ENOENT);
	assert_int_equal(ch_rows_i64(r, 0, 4, &i), LAB_ENOENT);
	/* Row 1: empty string, not NULL; "\\N" is the text \N. */
	assert_int_equal(ch_rows_is_null(r, 1, 0), 0);
	assert_int_equal(ch_rows_str(r, 1, 0, &s, &len), 0);
	assert_int_equal(len, 0);
	assert_int_equal(ch_rows_i64(r, 1, 0, &i), LAB_EPARSE);
	assert_int_equal(ch_rows_i64(r, 1, 1, &i), 0);
	assert_int_equal(i, 42);
	assert_int_equal(ch_rows_f64(r, 1, 3, &d), 0);
	assert_true(isinf(d) && d < 0);
	assert_int_equal(ch_rows_is_null(r, 1, 4), 0);
	assert_int_equal(ch_rows_str(r, 1, 4, &s, &len), 0);
	assert_int_equal(len, 2);
	assert_memory_equal(s, "\\N", 2);
	/* Row 2. */
	assert_int_equal(ch_rows_str(r, 2, 0, &s, &len), 0);
	assert_int_equal(len, 5);
	assert_memory_equal(s, "\xc3\xa9\b\f\r", 5);
	assert_int_equal(ch_rows_i64(r, 2, 1, &i), LAB_EPARSE);
	assert_int_equal(ch_rows_u64(r, 2, 2, &u), LAB_EPARSE);
	assert_int_equal(ch_rows_f64(r, 2, 3, &d), 0);
	assert_true(isnan(d));
	assert_int_equal(ch_rows_f64(r, 2, 4, &d), 0);
	assert_true(isinf(d) && d > 0);
	/* Out of range. */
	assert_int_equal(ch_rows_str(r, 3, 0, &s, &len), LAB_ERANGE);
	assert_int_equal(ch_rows_is_null(r, 0, 5), LAB_ERANGE);
}

static void test_whole(void **st)
{
	struct ch_parser p;
	ch_parser_init(&p, 0, NULL, NULL);
	assert_int_equal(ch_parser_feed(&p, input, sizeof input - 1, NULL), 0);
	assert_int_equal(ch_parser_finish(&p), 0);
	check_rows(&p.rows);
	ch_parser_free(&p);
}

static void test_every_split(void **st)
{
	size_t n = sizeof input - 1;
	for (size_t cut = 0; cut <= n; cut++) {
		struct ch_parser p;
		ch_parser_init(&p, 0, NULL, NULL);
		assert_int_equal(ch_parser_feed(&p, input, cut, NULL), 0);
		assert_int_equal(ch_parser_feed(&p, input + cut, n - cut, NULL), 0);
		assert_int_equal(ch_parser_finish(&p), 0);
		check_rows(&p.rows);
		ch_parser_free(&p);
	}
	/* And one byte at a time. */
	struct ch_parser p;
	ch_parser_init(&p, 0, NULL, NULL);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(ch_parser_feed(&p, input + i, 1, NULL), 0);
	assert_int_equal(ch_parser_finish(&p), 0);
	check_rows(&p.rows);
	ch_parser_free(&p);
}

static void test_strict_numbers(void **st)
{
	static const char in[] = "v\n"
				 " 1\n+1\n1 \n9223372036854775808\n18446744073709551616\n0x10\n1e400\n"
				 "-0\n1e-5\n-\n";
	struct ch_parser p;
	ch_parser_init(&p, 0, NULL, NULL);
	assert_int_equal(ch_parser_feed(&p, in, sizeof in - 1, NULL), 0);
	assert_int_equal(ch_parser_finish(&p), 0);
	int64_t i;
	uint64_t u;
	double d;
	for (size_t r = 0; r < 5; r++)
		assert_int_equal(ch_rows_i64(&p.rows, r, 0, &i), LAB_EPARSE);
	assert_int_equal(ch_rows_u64(&p.rows, 3, 0, &u), 0);
	assert_true(u == 9223372036854775808u);
	assert_int_equal(ch_rows_u64(&p.rows, 4, 0, &u), LAB_EPARSE);
	assert_int_equal(ch_rows_u64(&p.rows, 1, 0, &u), LAB_EPARSE);
	assert_int_equal(ch_rows_f64(&p.rows, 5, 0, &d), LAB_EPARSE);
	assert_int_equal(ch_rows_f64(&p.rows, 6, 0, &d), LAB_EPARSE);
	assert_int_equal(ch_rows_f64(&p.rows, 0, 0, &d), LAB_EPARSE);
	assert_int_equal(ch_rows_i64(&p.rows, 7, 0, &i), 0);
	assert_int_equal(i, 0);
	assert_int_equal(ch_rows_f64(&p.rows, 8, 0, &d), 0);
	assert_true(d == 1e-5);
	assert_int_equal(ch_rows_i64(&p.rows, 9, 0, &i), LAB_EPARSE);
	ch_parser_free(&p);
}

static void test_malformed(void **st)
{
	static const char *const bad[] = {
		"a\tb\n1\n",          /* too few fields */
		"a\n1\t2\n",          /* too many */
		"a\n\\xZZ\n",         /* bad hex escape */
	};
	for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
		struct ch_parser p;
		ch_parser_init(&p, 0, NULL, NULL);
		int rc = ch_parser_feed(&p, bad[k], strlen(bad[k]), NULL);
		if (rc == 0)
			rc = ch_parser_finish(&p);
		assert_int_equal(rc, LAB_EPARSE);
		/* Sticky. */
		assert_int_equal(ch_parser_feed(&p, "x", 1, NULL), LAB_EPARSE);
		ch_parser_free(&p);
	}
	/* Input ending inside a row. */
	struct ch_parser p;
	ch_parser_init(&p, 0, NULL, NULL);
	assert_int_equal(ch_parser_feed(&p, "a\n1", 3, NULL), 0);
	assert_int_equal(ch_parser_finish(&p), LAB_EPARSE);
	ch_parser_free(&p);
	/* An empty result is the names row only. */
	ch_parser_init(&p, 0, NULL, NULL);
	assert_int_equal(ch_parser_feed(&p, "a\tb\n", 4, NULL), 0);
	assert_int_equal(ch_parser_finish(&p), 0);
	assert_int_equal(ch_rows_columns(&p.rows), 2);
	assert_int_equal(ch_rows_count(&p.rows), 0);
	ch_parser_free(&p);
}

struct bstate {
	size_t batches, rows, maxrows;
	uint64_t next;
	int bad, stop_at;
};

static int on_batch(const struct lab_rows *r, void *ud)
{
	struct bstate *b = ud;
	b->batches++;
	if (r->nrows > b->maxrows)
		b->maxrows = r->nrows;
	for (size_t i = 0; i < r->nrows; i++) {
		uint64_t v;
		if (ch_rows_u64(r, i, 0, &v) != 0 || v != b->next)
			b->bad = 1;
		b->next++;
	}
	b->rows += r->nrows;
	if (b->stop_at && (int)b->batches == b->stop_at)
		return LAB_ECANCELED;
	return 0;
}

static void test_batches(void **st)
{
	struct buf in = BUF_INIT;
	buf_puts(&in, "number\n");
	for (int i = 0; i < 10001; i++)
		buf_printf(&in, "%d\n", i);
	struct bstate b = { 0 };
	struct ch_parser p;
	ch_parser_init(&p, 1000, on_batch, &b);
	/* Odd chunk size so batches end mid-chunk. */
	for (size_t off = 0; off < in.len; off += 777) {
		size_t n = in.len - off < 777 ? in.len - off : 777;
		assert_int_equal(ch_parser_feed(&p, in.data + off, n, NULL), 0);
		/* Never more than one batch held. */
		assert_true(p.rows.nrows < 1000);
	}
	assert_int_equal(ch_parser_finish(&p), 0);
	assert_int_equal(b.rows, 10001);
	assert_int_equal(b.batches, 11);
	assert_int_equal(b.maxrows, 1000);
	assert_false(b.bad);
	assert_int_equal(p.total_rows, 10001);
	ch_parser_free(&p);

	/* The batch callback's error stops parsing. */
	struct bstate c = { .stop_at = 2 };
	ch_parser_init(&p, 1000, on_batch, &c);
	assert_int_equal(ch_parser_feed(&p, in.data, in.len, NULL), LAB_ECANCELED);
	assert_int_equal(c.batches, 2);
	ch_parser_free(&p);
	buf_free(&in);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_whole),
		cmocka_unit_test(test_every_split),
		cmocka_unit_test(test_strict_numbers),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_batches),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
