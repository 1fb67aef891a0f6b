#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
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

/* The plain-ASCII fast path and the general one give the same bytes; every
 * single byte (0..255) alone and after plain text. */
static void test_json_str_paths(void **st)
{
	struct buf b = BUF_INIT, want = BUF_INIT;
	buf_json_str(&b, "", 0);
	buf_json_str(&b, "0xabc ~}|{ 123", 14);
	assert_string_equal(b.data, "\"\"\"0xabc ~}|{ 123\"");
	for (int c = 0; c < 256; c++) {
		char in[4] = { 'a', 'b', (char)c, 'z' };
		char esc[6];
		buf_reset(&b);
		buf_reset(&want);
		buf_json_str(&b, in, 4);
		buf_puts(&want, "\"ab");
		unsigned char u = (unsigned char)c;
		if (u >= 0x20 && u < 0x7f && u != '"' && u != '\\')
			buf_putc(&want, (char)c);
		else
			buf_append(&want, esc, json_str_escape(u, esc));
		buf_puts(&want, "z\"");
		assert_int_equal(b.len, want.len);
		assert_memory_equal(b.data, want.data, b.len);
	}
	buf_free(&b);
	buf_free(&want);
}

/* buf_ascii_plain (16 bytes at a time, then byte by byte): each byte value
 * at each position of a 40-byte plain string, and the JSON of it. */
static void test_ascii_plain(void **st)
{
	(void)st;
	struct buf b = BUF_INIT, want = BUF_INIT;
	char in[40];
	memset(in, 'x', sizeof in);
	assert_int_equal(buf_ascii_plain(in, sizeof in), sizeof in);
	assert_int_equal(buf_ascii_plain(in, 0), 0);
	for (int c = 0; c < 256; c++) {
		unsigned char u = (unsigned char)c;
		int ok = u >= 0x20 && u < 0x7f && u != '"' && u != '\\';
		for (size_t at = 0; at < sizeof in; at++) {
			char esc[6];
			in[at] = (char)c;
			assert_int_equal(buf_ascii_plain(in, sizeof in), ok ? sizeof in : at);
			buf_reset(&b);
			buf_reset(&want);
			buf_json_str(&b, in, sizeof in);
			buf_putc(&want, '"');
			buf_append(&want, in, at);
			if (ok)
				buf_putc(&want, (char)c);
			else
				buf_append(&want, esc, json_str_escape(u, esc));
			buf_append(&want, in + at + 1, sizeof in - at - 1);
			buf_putc(&want, '"');
			assert_int_equal(b.len, want.len);
			assert_memory_equal(b.data, want.data, b.len);
			in[at] = 'x';
		}
	}
	buf_free(&b);
	buf_free(&want);
}

static void test_integers(void **st)
{
	struct buf b = BUF_INIT;
	buf_i64(&b, 0);
	buf_putc(&b, ' ');
	buf_i64(&b, -7);
	buf_putc(&b, ' ');
	buf_i64(&b, INT64_MIN);
	buf_putc(&b, ' ');
	buf_i64(&b, INT64_MAX);
	buf_putc(&b, ' ');
	buf_u64(&b, UINT64_MAX);
	buf_putc(&b, ' ');
	buf_u64(&b, 10);
	assert_string_equal(b.data, "0 -7 -9223372036854775808 9223372036854775807 "
				    "18446744073709551615 10");
	char t[BUF_DEC_MAX + 1];
	*buf_put_i64(t, INT64_MIN) = '\0';
	assert_string_equal(t, "-9223372036854775808");
	*buf_put_u64(t, UINT64_MAX) = '\0';
	assert_string_equal(t, "18446744073709551615");
	*buf_put_u64(t, 0) = '\0';
	assert_string_equal(t, "0");
	/* against printf: small values, around each power of ten, a sequence */
	uint64_t x = 0x9e3779b97f4a7c15u;
	for (int k = 0; k < 3000; k++) {
		char want[32];
		uint64_t p10 = 1;
		for (int e = 0; e < k % 20; e++)
			p10 *= 10;
		uint64_t v = k < 1000 ? (uint64_t)k : k < 2000 ? p10 + (uint64_t)(k % 3) - 1 : (x = x * 6364136223846793005u + 1442695040888963407u);
		*buf_put_u64(t, v) = '\0';
		snprintf(want, sizeof want, "%" PRIu64, v);
		assert_string_equal(t, want);
		*buf_put_i64(t, (int64_t)v) = '\0';
		snprintf(want, sizeof want, "%" PRId64, (int64_t)v);
		assert_string_equal(t, want);
	}
	buf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_append_printf),
		cmocka_unit_test(test_growth),
		cmocka_unit_test(test_json_str),
		cmocka_unit_test(test_json_str_paths),
		cmocka_unit_test(test_ascii_plain),
		cmocka_unit_test(test_integers),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
