/* Parameter binding (host/ch_sql.c): placeholders outside literals,
 * identifiers and comments; ClickHouse literal escaping; counts. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ch_internal.h"

static char *bind(const char *sql, const lab_param *p, size_t n, int *rc)
{
	static struct buf b;
	buf_free(&b);
	*rc = ch_bind(&b, sql, p, n);
	return b.data ? b.data : (char *)"";
}

static void test_basic(void **st)
{
	int rc;
	lab_param p[] = { LAB_PSTR("mainnet"), LAB_PUINT(18446744073709551615u), LAB_PINT(-42),
			  LAB_PNULL, LAB_PTIME(1700000000) };
	const char *s = bind("SELECT a FROM t WHERE n = ? AND s >= ? AND x = ? AND y IS ? AND t > ?",
			     p, 5, &rc);
	assert_int_equal(rc, 0);
	assert_string_equal(s, "SELECT a FROM t WHERE n = 'mainnet' AND s >= 18446744073709551615 "
			       "AND x = -42 AND y IS NULL AND t > toDateTime(1700000000)");
	lab_param none[1];
	s = bind("SELECT 1", none, 0, &rc);
	assert_int_equal(rc, 0);
	assert_string_equal(s, "SELECT 1");
}

static void test_string_escapes(void **st)
{
	int rc;
	lab_param p[] = { LAB_PSTR("it's a \\ and\nnl\ttab\r 100% ? \x01\x7f \xc3\xa9") };
	const char *s = bind("SELECT ?", p, 1, &rc);
	assert_int_equal(rc, 0);
	assert_string_equal(s, "SELECT 'it\\'s a \\\\ and\\nnl\\ttab\\r 100% ? \\x01\\x7F \xc3\xa9'");
	/* Explicit length: embedded NUL becomes \0. */
	lab_param z = { LAB_PARAM_STR, "a\0b", 3, 0, 0, 0.0 };
	s = bind("SELECT ?", &z, 1, &rc);
	assert_int_equal(rc, 0);
	assert_string_equal(s, "SELECT 'a\\0b'");
	/* NULL string with a length is refused; with 0 it is ''. */
	lab_param bad = { LAB_PARAM_STR, NULL, 3, 0, 0, 0.0 };
	bind("SELECT ?", &bad, 1, &rc);
	assert_int_equal(rc, LAB_EINVAL);
	lab_param empty = { LAB_PARAM_STR, NULL, 0, 0, 0, 0.0 };
	s = bind("SELECT ?", &empty, 1, &rc);
	assert_int_equal(rc, 0);
	assert_string_equal(s, "SELECT ''");
}

static void test_placeholders_hidden(void **st)
{
	int rc;
	lab_param p[] = { LAB_PINT(1), LAB_PINT(2) };
	const char *s = bind("SELECT '?', 'it''s ?', 'a\\'?', \"col?\", `x?y` /* ? */, ? -- ?\n, ?",
			     p, 2, &rc);
	assert_int_equal(rc, 0);
	assert_string_equal(s, "SELECT '?', 'it''s ?', 'a\\'?', \"col?\", `x?y` /* ? */, 1 -- ?\n, 2");
	/* A '-' or '/' alone is an operator, not a comment. */
	s = bind("SELECT 5-?/?", p, 2, &rc);
	assert_int_equal(rc, 0);
	assert_string_equal(s, "SELECT 5-1/2");
	/* Unterminated literal: the rest is opaque, so 0 placeholders. */
	bind("SELECT 'abc ?", p, 1, &rc);
	assert_int_equal(rc, LAB_EINVAL);
	s = bind("SELECT 'abc ?", p, 0, &rc);
	assert_int_equal(rc, 0);
}

static void test_counts(void **st)
{
	int rc;
	lab_param p[] = { LAB_PINT(1), LAB_PINT(2) };
	bind("SELECT ?, ?", p, 1, &rc);
	assert_int_equal(rc, LAB_EINVAL);
	bind("SELECT ?", p, 2, &rc);
	assert_int_equal(rc, LAB_EINVAL);
	bind("SELECT 1", p, 1, &rc);
	assert_int_equal(rc, LAB_EINVAL);
	lab_param t = { 99, NULL, 0, 0, 0, 0.0 };
	bind("SELECT ?", &t, 1, &rc);
	assert_int_equal(rc, LAB_EINVAL);
	lab_param dt = LAB_PTIME(-1);
	bind("SELECT ?", &dt, 1, &rc);
	assert_int_equal(rc, LAB_ERANGE);
}

static void test_numbers(void **st)
{
	int rc;
	lab_param d[] = { LAB_PDOUBLE(0.1), LAB_PDOUBLE(-1e300), LAB_PDOUBLE(5e-324) };
	const char *s = bind("SELECT ?, ?, ?", d, 3, &rc);
	assert_int_equal(rc, 0);
	assert_string_equal(s, "SELECT 0.10000000000000001, -1.0000000000000001e+300, "
			       "4.9406564584124654e-324");
	lab_param inf = LAB_PDOUBLE(INFINITY), nan = LAB_PDOUBLE(NAN);
	bind("SELECT ?", &inf, 1, &rc);
	assert_int_equal(rc, LAB_EINVAL);
	bind("SELECT ?", &nan, 1, &rc);
	assert_int_equal(rc, LAB_EINVAL);
	/* x-? with a negative value must not become a -- comment. */
	lab_param neg[] = { LAB_PINT(-5), LAB_PDOUBLE(-2.5), LAB_PINT(INT64_MIN) };
	s = bind("SELECT 1-?, 1-?, ?", neg, 3, &rc);
	assert_int_equal(rc, 0);
	assert_string_equal(s, "SELECT 1- -5, 1- -2.5, -9223372036854775808");
}

/* SDK 1.3 LAB_PARAM_IDENT: validated, back-quoted identifiers. */
static void test_ident(void **st)
{
	int rc;
	lab_param ok[] = { LAB_PIDENT("beacon_api_eth_v1_events_block"), LAB_PIDENT("db_1.T2"),
			   LAB_PIDENT("_x") };
	const char *s = bind("SELECT count() FROM ? JOIN ? USING ?", ok, 3, &rc);
	assert_int_equal(rc, 0);
	assert_string_equal(s, "SELECT count() FROM `beacon_api_eth_v1_events_block` JOIN "
			       "`db_1`.`T2` USING `_x`");
	static const char *const bad[] = {
		"", "1abc", "a b", "a`b", "t; DROP TABLE x", "a.b.c", ".a", "a.", "a..b", "a-b",
		"caf\xc3\xa9", "a'b", "a\\b",
		"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", /* 129 */
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		lab_param p = LAB_PIDENT(bad[i]);
		bind("SELECT * FROM ?", &p, 1, &rc);
		assert_int_equal(rc, LAB_EINVAL);
	}
	lab_param n = LAB_PIDENT(NULL);
	bind("SELECT * FROM ?", &n, 1, &rc);
	assert_int_equal(rc, LAB_EINVAL);
	/* Explicit length: only the bytes given count. */
	lab_param l = { LAB_PARAM_IDENT, "tab; x", 3, 0, 0, 0.0 };
	s = bind("SELECT * FROM ?", &l, 1, &rc);
	assert_int_equal(rc, 0);
	assert_string_equal(s, "SELECT * FROM `tab`");
}

static void test_returns_rows(void **st)
{
	assert_true(ch_returns_rows("SELECT 1"));
	assert_true(ch_returns_rows("  \n-- c\n/* x */ (select 1)"));
	assert_true(ch_returns_rows("WITH 1 AS x SELECT x"));
	assert_true(ch_returns_rows("show tables"));
	assert_false(ch_returns_rows("INSERT INTO t VALUES (1)"));
	assert_false(ch_returns_rows("CREATE TABLE t (a UInt8) ENGINE = Memory"));
	assert_false(ch_returns_rows("SELECTx"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_basic),
		cmocka_unit_test(test_string_escapes),
		cmocka_unit_test(test_placeholders_hidden),
		cmocka_unit_test(test_counts),
		cmocka_unit_test(test_numbers),
		cmocka_unit_test(test_returns_rows),
		cmocka_unit_test(test_ident),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
