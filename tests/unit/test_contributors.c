/* Unit tests of the contributors plugin's pure parts: JSON strings as the
 * plugin writes them (common/buf: control bytes, invalid UTF-8), the
 * username → key mapping of SPEC §9.2 (names that must be raw, names that
 * must be escaped, injectivity, the stale keys of labd 1.0; the hash is
 * common/sha256).  The scheduling gates are tests/unit/test_window_job.c's. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "compute.h"
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

/* The name is its own key (SPEC §9.2 raw rule). */
static void check_raw(const char *u, size_t n)
{
	char k[CONTRIB_KEY_MAX];
	assert_true(contrib_raw_segment(u, n));
	assert_int_equal(contrib_user_key(u, n, k), n);
	assert_memory_equal(k, u, n);
	assert_int_equal(k[n], '\0');
	assert_null(memchr(k, '%', n)); /* what keeps raw and escaped keys apart */
}

/* The name is escaped: the key holds '%', only [A-Za-z0-9_%-] (no '.', so
 * never "." or ".."), and is `want` when given. */
static void check_escaped(const char *u, size_t n, const char *want)
{
	char k[CONTRIB_KEY_MAX];
	assert_false(contrib_raw_segment(u, n));
	size_t kn = contrib_user_key(u, n, k);
	assert_int_equal(kn, strlen(k));
	assert_true(kn > 0 && kn < CONTRIB_KEY_MAX);
	assert_non_null(strchr(k, '%'));
	for (size_t i = 0; i < kn; i++)
		assert_non_null(
			strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_%-", k[i]));
	if (want)
		assert_string_equal(k, want);
}

#define RAW(lit) check_raw(lit, sizeof(lit) - 1)
#define ESC(lit, want) check_escaped(lit, sizeof(lit) - 1, want)

/* 128 bytes of UTF-8: 62 x "ü" (2 bytes), "€" (3 bytes) and "x". */
static size_t utf8_128(char *out)
{
	size_t n = 0;
	for (int i = 0; i < 62; i++) {
		memcpy(out + n, "\xc3\xbc", 2);
		n += 2;
	}
	memcpy(out + n, "\xe2\x82\xac", 3); /* 127 */
	n += 3;
	out[n++] = 'x';
	return n;
}

static void test_user_keys_raw(void **st)
{
	(void)st;
	RAW("alice");
	RAW("a.b_c-D9");
	RAW("j\xc3\xbcrgen");
	RAW("d a v e");
	RAW("grace.h");
	RAW("...");
	RAW(".hidden");
	RAW("a b+c=d&e;f,g'h\"i(j)k!l*m~n@o$p:q");
	RAW("\xe6\x97\xa5\xe6\x9c\xac");          /* CJK */
	RAW("\xf0\x9f\x98\x80");                  /* U+1F600, 4 bytes */
	RAW("\xc2\xa0nbsp");                      /* U+00A0 is not a control */
	RAW("\xe2\x80\xae" "rtl");                /* U+202E: printable by the rule */
	char u[200];
	size_t n = utf8_128(u);
	assert_int_equal(n, 128);
	check_raw(u, n);
	memset(u, 'u', 128);
	check_raw(u, 128);
}

static void test_user_keys_escaped(void **st)
{
	(void)st;
	ESC("..", "%2E%2E");
	ESC(".", "%2E");
	ESC("%2e%2e", "%252e%252e");
	ESC("a?b", "a%3Fb");
	ESC("a#b", "a%23b");
	ESC("a/b", "a%2Fb");
	ESC("a\\b", "a%5Cb");
	ESC("a%b", "a%25b");
	ESC("tab\there", "tab%09here");
	ESC("nul\0user", "nul%00user");
	ESC("us\ter\nname\x01", "us%09er%0Aname%01");
	ESC("del\x7f", "del%7F");
	ESC("c1\xc2\x85", "c1%C2%85");           /* U+0085 NEL, a C1 control */
	ESC("\xff\xfeuser", "%FF%FEuser");        /* invalid UTF-8 */
	ESC("node-\xc3(", "node-%C3%28");         /* truncated sequence */
	ESC("\xc0\xae\xc0\xae", "%C0%AE%C0%AE");  /* overlong dots */
	ESC("\xed\xa0\x80", "%ED%A0%80");         /* a surrogate */
	ESC("\"quote\\back", "%22quote%5Cback");
	ESC("j\xc3\xbcrgen/", "j%C3%BCrgen%2F");
	/* empty and long names are hashed */
	ESC("", "%he3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	char a1000[1000]; /* several blocks; SHA-256 itself: tests/unit/test_sha256.c */
	memset(a1000, 'a', sizeof a1000);
	check_escaped(a1000, sizeof a1000,
		      "%h41edece42d63e8d9bf515a9ba6932e1c20cbc9f5a5d134645adb5db1b9737ea3");
	char u[300];
	memset(u, 'u', sizeof u);
	check_escaped(u, 129, NULL); /* 129 bytes: too long to be raw */
	char k[CONTRIB_KEY_MAX];
	assert_int_equal(contrib_user_key(u, 129, k), 66);
	assert_memory_equal(k, "%h", 2);
	check_escaped(u, 300, NULL);
	size_t n = utf8_128(u);
	u[n++] = 'y';
	check_escaped(u, n, NULL); /* 129 bytes of UTF-8 */
	/* a multi-byte character cut at the end is invalid UTF-8 */
	n = utf8_128(u) - 1;
	u[n - 1] = '\xe2';
	check_escaped(u, n, NULL);
	/* 64 unsafe bytes are percent-encoded, 65 hashed */
	memset(u, '?', 65);
	assert_int_equal(contrib_user_key(u, 64, k), 192);
	assert_int_equal(contrib_user_key(u, 65, k), 66);
	/* a 10 kB name */
	char *big = malloc(10240);
	assert_non_null(big);
	memset(big, '/', 10240);
	check_escaped(big, 10240, NULL);
	free(big);
}

/* The copy labd 1.0 left under the escaped key, for names that are raw now. */
static void test_user_stale_keys(void **st)
{
	(void)st;
	char k[CONTRIB_KEY_MAX];
	assert_int_equal(contrib_user_stale_key("j\xc3\xbcrgen", 7, k), 1);
	assert_string_equal(k, "j%C3%BCrgen");
	assert_int_equal(contrib_user_stale_key("d a v e", 7, k), 1);
	assert_string_equal(k, "d%20a%20v%20e");
	assert_int_equal(contrib_user_stale_key("alice", 5, k), 0);   /* raw then too */
	assert_int_equal(contrib_user_stale_key("grace.h", 7, k), 0);
	assert_int_equal(contrib_user_stale_key("..", 2, k), 0);      /* escaped then and now */
	assert_int_equal(contrib_user_stale_key("a?b", 3, k), 0);
	assert_int_equal(contrib_user_stale_key("", 0, k), 0);
	char u[200];
	size_t n = utf8_128(u);
	assert_int_equal(contrib_user_stale_key(u, n, k), 1); /* over 64 bytes: hashed then */
	assert_int_equal(strlen(k), 66);
	assert_memory_equal(k, "%h", 2);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Distinct names give distinct keys: every pair of a set of tricky names,
 * then every name of up to 3 bytes over an alphabet of troublemakers. */
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
		{ "d a v e", 7 }, { "d%20a%20v%20e", 13 }, { "grace.h", 7 }, { "grace%2Eh", 9 },
		{ "a?b", 3 }, { "a%3Fb", 5 }, { "a#b", 3 }, { "a%23b", 5 }, { "\t", 1 }, { "%09", 3 },
		{ "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", 64 },
		{ "%he3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", 66 },
		{ "he3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", 65 },
	};
	size_t n = sizeof names / sizeof *names;
	char a[CONTRIB_KEY_MAX], b[CONTRIB_KEY_MAX];
	for (size_t i = 0; i < n; i++) {
		contrib_user_key(names[i].s, names[i].n, a);
		for (size_t j = i + 1; j < n; j++) {
			contrib_user_key(names[j].s, names[j].n, b);
			if (strcmp(a, b) == 0)
				fail_msg("names %zu and %zu share key %s", i, j, a);
		}
	}
	/* 128- and 129-byte names differ from each other and from their hashes */
	char u[200];
	memset(u, 'u', sizeof u);
	contrib_user_key(u, 128, a);
	contrib_user_key(u, 129, b);
	assert_string_not_equal(a, b);

	static const char alpha[] = ".%2Eeh/ ?#\\\x00\xc3\xbc\xff\x7f\xc2\x85";
	const size_t na = sizeof alpha - 1, total = 1 + na + na * na + na * na * na;
	char **keys = calloc(total, sizeof *keys);
	assert_non_null(keys);
	size_t m = 0;
	for (size_t len = 0; len <= 3; len++) {
		size_t count = len == 0 ? 1 : len == 1 ? na : len == 2 ? na * na : na * na * na;
		for (size_t x = 0; x < count; x++) {
			char name[3];
			for (size_t d = 0, v = x; d < len; d++, v /= na)
				name[d] = alpha[v % na];
			contrib_user_key(name, len, a);
			keys[m] = strdup(a);
			assert_non_null(keys[m]);
			/* raw keys are the name itself, escaped ones hold '%' */
			if (contrib_raw_segment(name, len))
				assert_memory_equal(keys[m], name, len);
			else
				assert_non_null(strchr(keys[m], '%'));
			m++;
		}
	}
	assert_int_equal(m, total);
	qsort(keys, m, sizeof *keys, cmp_str);
	for (size_t i = 1; i < m; i++)
		if (strcmp(keys[i - 1], keys[i]) == 0)
			fail_msg("two names share key %s", keys[i]);
	for (size_t i = 0; i < m; i++)
		free(keys[i]);
	free(keys);
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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_json_strings),   cmocka_unit_test(test_json_numbers),
		cmocka_unit_test(test_user_keys_raw), cmocka_unit_test(test_user_keys_escaped),
		cmocka_unit_test(test_user_stale_keys),
		cmocka_unit_test(test_user_keys_injective), cmocka_unit_test(test_safe_segment),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
