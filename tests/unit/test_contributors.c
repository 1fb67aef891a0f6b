/* Unit tests of the contributors plugin's pure parts: JSON strings as the
 * plugin writes them (common/buf: control bytes, invalid UTF-8).  The
 * username → key mapping of SPEC §9.2 is the host's key-segment service
 * (tests/unit/test_keyseg.c); the scheduling gates are
 * tests/unit/test_window_job.c's. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "buf.h"

static void check_json(const char *in, size_t n, const char *want)
{
	struct buf b = { 0 };
	buf_json_str(&b, in, n);
	assert_false(b.oom);
	assert_string_equal(b.data, want);
	buf_free(&b);
}

static void test_json_strings(void **st)
{
	(void)st;
	check_json("plain", 5, "\"plain\"");
	check_json("a\"b\\c", 5, "\"a\\\"b\\\\c\"");
	check_json("t\tn\nr\r\x01\x7f", 8, "\"t\\tn\\nr\\r\\u0001\\u007f\"");
	check_json("nul\0user", 8, "\"nul\\u0000user\"");
	/* valid UTF-8 kept, invalid bytes replaced one by one */
	check_json("j\xc3\xbcrgen", 7, "\"j\xc3\xbcrgen\"");
	check_json("\xff\xfeuser", 6, "\"\\ufffd\\ufffduser\"");
	check_json("node-\xc3(", 7, "\"node-\\ufffd(\"");
	check_json("\xed\xa0\x80", 3, "\"\\ufffd\\ufffd\\ufffd\""); /* surrogate */
	check_json("\xc0\xaf", 2, "\"\\ufffd\\ufffd\"");           /* overlong */
	check_json("\xf0\x9f\x98\x80", 4, "\"\xf0\x9f\x98\x80\"");
	check_json("", 0, "\"\"");
}

static void test_json_numbers(void **st)
{
	(void)st;
	struct buf b = { 0 };
	buf_i64(&b, -5);
	buf_append(&b, ",", 1);
	buf_u64(&b, UINT64_MAX);
	assert_string_equal(b.data, "-5,18446744073709551615");
	buf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_json_strings),
		cmocka_unit_test(test_json_numbers),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
