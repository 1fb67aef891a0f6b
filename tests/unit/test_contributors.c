/* Unit tests of the contributors plugin's pure parts: JSON strings as the
 * plugin writes them (common/jbuf: control bytes, invalid UTF-8), the
 * username → key mapping with every hostile name of the generator (its hash
 * is common/sha256), scheduling gates. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "compute.h"
#include "jbuf.h"

static void check_json(const char *in, size_t n, const char *want)
{
	struct jbuf b = { 0 };
	jbuf_str(&b, in, n);
	assert_false(b.oom);
	assert_string_equal(b.p, want);
	jbuf_free(&b);
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
	struct jbuf b = { 0 };
	jbuf_i64(&b, -5);
	jbuf_raw(&b, ",", 1);
	jbuf_u64(&b, UINT64_MAX);
	assert_string_equal(b.p, "-5,18446744073709551615");
	jbuf_free(&b);
}

/* Key segments must be [A-Za-z0-9._%-]+, not "." or "..", at most 200 bytes. */
static void assert_key_ok(const char *k)
{
	size_t n = strlen(k);
	assert_true(n > 0 && n < CONTRIB_KEY_MAX);
	assert_false(strcmp(k, ".") == 0 || strcmp(k, "..") == 0);
	for (size_t i = 0; i < n; i++)
		assert_non_null(
			strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._%-", k[i]));
}

static void check_key(const char *u, size_t n, const char *want)
{
	char k[CONTRIB_KEY_MAX];
	size_t kn = contrib_user_key(u, n, k);
	assert_int_equal(kn, strlen(k));
	assert_key_ok(k);
	if (want)
		assert_string_equal(k, want);
}

static void test_user_keys(void **st)
{
	(void)st;
	check_key("alice", 5, "alice");
	check_key("a.b_c-D9", 8, "a.b_c-D9");
	check_key("..", 2, "%2E%2E");
	check_key(".", 1, "%2E");
	check_key("a/b", 3, "a%2Fb");
	check_key("%2e%2e", 6, "%252e%252e");
	check_key("us\ter\nname\x01", 11, "us%09er%0Aname%01");
	check_key("\xff\xfeuser", 6, "%FF%FEuser");
	check_key("nul\0user", 8, "nul%00user");
	check_key("\"quote\\back", 11, "%22quote%5Cback");
	check_key("j\xc3\xbcrgen", 7, "j%C3%BCrgen");
	check_key("a.b/", 4, "a%2Eb%2F");
	/* empty and long names are hashed */
	check_key("", 0, "%he3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	char a1000[1000]; /* several blocks; SHA-256 itself: tests/unit/test_sha256.c */
	memset(a1000, 'a', sizeof a1000);
	check_key(a1000, sizeof a1000,
		  "%h41edece42d63e8d9bf515a9ba6932e1c20cbc9f5a5d134645adb5db1b9737ea3");
	char u300[300];
	memset(u300, 'u', sizeof u300);
	check_key(u300, 300, NULL);
	char k[CONTRIB_KEY_MAX];
	contrib_user_key(u300, 300, k);
	assert_int_equal(strlen(k), 66);
	assert_memory_equal(k, "%h", 2);
	/* 128 safe bytes are kept, 129 are hashed */
	check_key(u300, 128, NULL);
	contrib_user_key(u300, 128, k);
	assert_int_equal(strlen(k), 128);
	contrib_user_key(u300, 129, k);
	assert_int_equal(strlen(k), 66);
	/* a 10 kB name */
	char *big = malloc(10240);
	assert_non_null(big);
	memset(big, '/', 10240);
	check_key(big, 10240, NULL);
	free(big);
}

/* Distinct names give distinct keys: every pair of a set of tricky names. */
static void test_user_keys_injective(void **st)
{
	(void)st;
	static const struct {
		const char *s;
		size_t n;
	} names[] = {
		{ "..", 2 }, { ".", 1 }, { "%2E%2E", 6 }, { "%2e%2e", 6 }, { "%252E", 5 },
		{ "a/b", 3 }, { "a%2Fb", 5 }, { "", 0 }, { "%h", 2 }, { "nul", 3 },
		{ "nul\0user", 8 }, { "nuluser", 7 }, { "\xff", 1 }, { "%FF", 3 },
		{ "j\xc3\xbcrgen", 7 }, { "j%C3%BCrgen", 11 }, { "ethpandaops", 11 },
		{ "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", 64 },
		{ "%he3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", 66 },
	};
	size_t n = sizeof names / sizeof *names;
	char a[CONTRIB_KEY_MAX], b[CONTRIB_KEY_MAX];
	for (size_t i = 0; i < n; i++) {
		contrib_user_key(names[i].s, names[i].n, a);
		assert_key_ok(a);
		for (size_t j = i + 1; j < n; j++) {
			contrib_user_key(names[j].s, names[j].n, b);
			if (strcmp(a, b) == 0)
				fail_msg("names %zu and %zu share key %s", i, j, a);
		}
	}
}

static void test_safe_segment(void **st)
{
	(void)st;
	assert_true(contrib_safe_segment("mainnet", 7));
	assert_true(contrib_safe_segment("last_6h", 7));
	assert_true(contrib_safe_segment("...", 3));
	assert_false(contrib_safe_segment("..", 2));
	assert_false(contrib_safe_segment(".", 1));
	assert_false(contrib_safe_segment("", 0));
	assert_false(contrib_safe_segment("a b", 3));
	assert_false(contrib_safe_segment("a%b", 3));
}

static void test_due(void **st)
{
	(void)st;
	assert_true(contrib_due(1000, 0, 3600, 0));          /* never ran */
	assert_false(contrib_due(1000, 900, 3600, 0));       /* too soon */
	assert_true(contrib_due(4500, 900, 3600, 0));        /* exactly interval */
	assert_false(contrib_due(4499, 900, 3600, 0));
	assert_true(contrib_due(1000, 900, 3600, 1));        /* forced */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_json_strings),   cmocka_unit_test(test_json_numbers),
		cmocka_unit_test(test_user_keys),
		cmocka_unit_test(test_user_keys_injective), cmocka_unit_test(test_safe_segment),
		cmocka_unit_test(test_due),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
