#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "buf.h"

static void test_append_printf(void **st)
{
	struct buf b = BUF_INIT;
	buf_puts(&b, "abc");
	buf_printf(&b, "-%d-%s", 42, "x");
	buf_putc(&b, '!');
	assert_string_equal(b.data, "abc-42-x!");
	assert_int_equal(b.len, 9);
	size_t n;
	char *s = buf_steal(&b, &n);
	assert_int_equal(n, 9);
	assert_null(b.data);
	free(s);
}

static void test_growth(void **st)
{
	struct buf b = BUF_INIT;
	for (int i = 0; i < 10000; i++)
		buf_putc(&b, (char)('a' + i % 26));
	assert_int_equal(b.len, 10000);
	assert_int_equal(b.data[9999], 'a' + 9999 % 26);
	assert_int_equal(b.data[10000], '\0');
	buf_free(&b);
}

static void test_json_str(void **st)
{
	struct buf b = BUF_INIT;
	const char in[] = "q\"b\\n\n\x01\xc3\xa9\xff";
	buf_json_str(&b, in, sizeof in - 1);
	assert_string_equal(b.data, "\"q\\\"b\\\\n\\n\\u0001\xc3\xa9\\ufffd\"");
	buf_reset(&b);
	/* Overlong encoding and surrogates are not valid UTF-8. */
	buf_json_str(&b, "\xc0\xaf\xed\xa0\x80", 5);
	assert_string_equal(b.data, "\"\\ufffd\\ufffd\\ufffd\\ufffd\\ufffd\"");
	buf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_append_printf),
		cmocka_unit_test(test_growth),
		cmocka_unit_test(test_json_str),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
