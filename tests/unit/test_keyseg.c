/* The key-segment service of SDK 1.1 (host/keyseg.c): the username mapping
 * of SPEC §9.2, byte for byte what the contributors plugin stores (the
 * vectors below are its keys), and the checks behind LAB_SETTING_KEY_*. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "keyseg.h"
#include "lab/plugin.h"

struct vec {
	const char *name, *key, *escaped; /* escaped: with LAB_KEYSEG_ESCAPED */
	int portable;
};

static const struct vec vecs[] = {
	{ "alice", "alice", "alice", 1 },
	{ "j\xc3\xbcrgen", "j\xc3\xbcrgen", "j%C3%BCrgen", 0 },
	{ "d a v e", "d a v e", "d%20a%20v%20e", 0 },
	{ "a/b", "a%2Fb", "a%2Fb", 0 },
	{ ".", "%2E", "%2E", 0 },
	{ "..", "%2E%2E", "%2E%2E", 0 },
	{ "", "%he3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
	  "%he3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", 0 },
	{ "x%y", "x%25y", "x%25y", 0 },
	{ "q?#", "q%3F%23", "q%3F%23", 0 },
	{ "a\\b", "a%5Cb", "a%5Cb", 0 },
	{ "\x01" "ctl", "%01ctl", "%01ctl", 0 },
	{ "\xff" "bad", "%FFbad", "%FFbad", 0 },
	{ "a.b", "a.b", "a%2Eb", 1 },
	{ "caf\xc3\xa9/\xe2\x82\xac", "caf%C3%A9%2F%E2%82%AC", "caf%C3%A9%2F%E2%82%AC", 0 },
};

static void test_vectors(void **st)
{
	char out[LAB_KEY_SEGMENT_MAX];
	(void)st;
	for (size_t i = 0; i < sizeof vecs / sizeof vecs[0]; i++) {
		const struct vec *v = &vecs[i];
		size_t n = strlen(v->name);
		int len = keyseg_make(v->name, n, 0, out, sizeof out);
		assert_int_equal(len, (int)strlen(v->key));
		assert_string_equal(out, v->key);
		assert_int_equal(keyseg_make(v->name, n, LAB_KEYSEG_ESCAPED, out, sizeof out),
				 (int)strlen(v->escaped));
		assert_string_equal(out, v->escaped);
		assert_int_equal(keyseg_check(v->name, n, LAB_KEYSEG_PORTABLE), v->portable);
		assert_int_equal(keyseg_check(v->name, n, 0), strcmp(v->name, v->key) == 0);
	}
}

static void test_long_names(void **st)
{
	char name[200], out[LAB_KEY_SEGMENT_MAX];
	(void)st;
	memset(name, 'a', sizeof name);
	/* 128 printable bytes are raw, 129 are hashed. */
	assert_int_equal(keyseg_make(name, 128, 0, out, sizeof out), 128);
	assert_int_equal(keyseg_check(name, 129, 0), 0);
	assert_int_equal(keyseg_make(name, 129, 0, out, sizeof out), 66);
	assert_string_equal(out, "%hc12cb024a2e5551cca0e08fce8f1c5e314555cc3fef6329ee994a3db752166ae");
	/* 64 bytes are percent-encoded, 65 hashed. */
	name[64] = '/';
	assert_int_equal(keyseg_make(name + 1, 64, 0, out, sizeof out), 66);
	assert_string_equal(out + 63, "%2F");
	assert_int_equal(keyseg_make(name, 65, 0, out, sizeof out), 66);
	assert_memory_equal(out, "%h", 2);
}

static void test_errors(void **st)
{
	char out[8];
	(void)st;
	assert_int_equal(keyseg_make("alice", 5, 0, out, 5), LAB_ERANGE);
	assert_int_equal(keyseg_make("alice", 5, 0, out, 6), 5);
	assert_int_equal(keyseg_make("a/b", 3, 0, out, 5), LAB_ERANGE);
	assert_int_equal(keyseg_make("", 0, 0, out, sizeof out), LAB_ERANGE);
	assert_int_equal(keyseg_make(NULL, 3, 0, out, sizeof out), LAB_EINVAL);
	assert_int_equal(keyseg_make("a", 1, 0, NULL, 8), LAB_EINVAL);
	assert_int_equal(keyseg_check(NULL, 0, 0), 0);
}

static void test_prefix(void **st)
{
	(void)st;
	static const char *const good[] = { "beacon", "a/b", "a/b/", "x-y.z" };
	static const char *const bad[] = { "", "/abs", "../up", "a//b", "a/./b", ".lab-meta",
					   "a\\b", "\x01" };
	for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
		assert_int_equal(keyseg_prefix_ok(good[i], strlen(good[i])), 1);
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		assert_int_equal(keyseg_prefix_ok(bad[i], strlen(bad[i])), 0);
}

/* ---- the contributors plugin's username keys (SPEC §9.2), the vectors of
 * its former unit tests: the plugin calls lab_key_segment(ctx, s, n, 0, ...)
 * for the key, lab_key_segment_check(ctx, s, n, LAB_KEYSEG_PORTABLE) for
 * network names, and finds labd 1.0's stale key as below. */
static int user_raw(const char *s, size_t n) { return keyseg_check(s, n, 0); }
static int safe_segment(const char *s, size_t n) { return keyseg_check(s, n, LAB_KEYSEG_PORTABLE); }
static size_t user_key(const char *s, size_t n, char *out)
{
	int len = keyseg_make(s, n, 0, out, LAB_KEY_SEGMENT_MAX);
	assert_true(len > 0);
	return (size_t)len;
}
static int user_stale_key(const char *s, size_t n, char *out)
{
	if (!(keyseg_check(s, n, 0) == 1 && keyseg_check(s, n, LAB_KEYSEG_PORTABLE) == 0))
		return 0;
	assert_true(keyseg_make(s, n, LAB_KEYSEG_ESCAPED, out, LAB_KEY_SEGMENT_MAX) > 0);
	return 1;
}

/* The name is its own key (SPEC §9.2 raw rule). */
static void check_raw(const char *u, size_t n)
{
	char k[LAB_KEY_SEGMENT_MAX];
	assert_true(user_raw(u, n));
	assert_int_equal(user_key(u, n, k), n);
	assert_memory_equal(k, u, n);
	assert_int_equal(k[n], '\0');
	assert_null(memchr(k, '%', n)); /* what keeps raw and escaped keys apart */
}

/* The name is escaped: the key holds '%', only [A-Za-z0-9_%-] (no '.', so
 * never "." or ".."), and is `want` when given. */
static void check_escaped(const char *u, size_t n, const char *want)
{
	char k[LAB_KEY_SEGMENT_MAX];
	assert_false(user_raw(u, n));
	size_t kn = user_key(u, n, k);
	assert_int_equal(kn, strlen(k));
	assert_true(kn > 0 && kn < LAB_KEY_SEGMENT_MAX);
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
	char k[LAB_KEY_SEGMENT_MAX];
	assert_int_equal(user_key(u, 129, k), 66);
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
	assert_int_equal(user_key(u, 64, k), 192);
	assert_int_equal(user_key(u, 65, k), 66);
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
	char k[LAB_KEY_SEGMENT_MAX];
	assert_int_equal(user_stale_key("j\xc3\xbcrgen", 7, k), 1);
	assert_string_equal(k, "j%C3%BCrgen");
	assert_int_equal(user_stale_key("d a v e", 7, k), 1);
	assert_string_equal(k, "d%20a%20v%20e");
	assert_int_equal(user_stale_key("alice", 5, k), 0);   /* raw then too */
	assert_int_equal(user_stale_key("grace.h", 7, k), 0);
	assert_int_equal(user_stale_key("..", 2, k), 0);      /* escaped then and now */
	assert_int_equal(user_stale_key("a?b", 3, k), 0);
	assert_int_equal(user_stale_key("", 0, k), 0);
	char u[200];
	size_t n = utf8_128(u);
	assert_int_equal(user_stale_key(u, n, k), 1); /* over 64 bytes: hashed then */
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
	char a[LAB_KEY_SEGMENT_MAX], b[LAB_KEY_SEGMENT_MAX];
	for (size_t i = 0; i < n; i++) {
		user_key(names[i].s, names[i].n, a);
		for (size_t j = i + 1; j < n; j++) {
			user_key(names[j].s, names[j].n, b);
			if (strcmp(a, b) == 0)
				fail_msg("names %zu and %zu share key %s", i, j, a);
		}
	}
	/* 128- and 129-byte names differ from each other and from their hashes */
	char u[200];
	memset(u, 'u', sizeof u);
	user_key(u, 128, a);
	user_key(u, 129, b);
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
			user_key(name, len, a);
			keys[m] = strdup(a);
			assert_non_null(keys[m]);
			/* raw keys are the name itself, escaped ones hold '%' */
			if (user_raw(name, len))
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
	assert_true(safe_segment("mainnet", 7));
	assert_true(safe_segment("last_6h", 7));
	assert_true(safe_segment("...", 3));
	assert_false(safe_segment("..", 2));
	assert_false(safe_segment(".", 1));
	assert_false(safe_segment("", 0));
	assert_false(safe_segment("a b", 3));
	assert_false(safe_segment("a%b", 3));
}

/* LAB_HAS and the 1.1 wrappers on a host table of 1.0's size: the newer
 * members are not there (even if the memory behind the table is not zero),
 * so the wrappers answer LAB_ENOTSUP instead of calling them. */
static int logged;
static void fake_log(lab_ctx *ctx, int level, const char *msg, const lab_field *f, size_t n)
{
	(void)ctx, (void)f, (void)n;
	assert_int_equal(level, LAB_LOG_ERROR);
	assert_string_equal(msg, "two targets: 2");
	logged++;
}
static int never_key_segment(lab_ctx *ctx, const char *name, size_t len, unsigned flags,
			     char *out, size_t cap)
{
	(void)ctx, (void)name, (void)len, (void)flags, (void)out, (void)cap;
	fail_msg("called a function beyond the host table's size");
	return 0;
}
static int real_key_segment(lab_ctx *ctx, const char *name, size_t len, unsigned flags,
			    char *out, size_t cap)
{
	(void)ctx;
	return keyseg_make(name, len, flags, out, cap);
}

static void test_has(void **st)
{
	char out[LAB_KEY_SEGMENT_MAX];
	lab_host_api api = { .size = offsetof(lab_host_api, cfg_bind), .abi_major = 1,
			     .log = fake_log, .key_segment = never_key_segment };
	lab_ctx ctx = { &api };
	(void)st;
	assert_false(LAB_HAS(&ctx, key_segment));
	assert_int_equal(lab_key_segment(&ctx, "a/b", 3, 0, out, sizeof out), LAB_ENOTSUP);
	assert_int_equal(lab_key_segment_check(&ctx, "a", 1, 0), LAB_ENOTSUP);
	assert_int_equal(lab_cfg_bind(&ctx, NULL, out), LAB_ENOTSUP);
	assert_int_equal(lab_cfg_error(&ctx, NULL, "backfill", "two targets: %d", 2), LAB_ECONFIG);
	assert_int_equal(logged, 1);
	api.size = sizeof api;
	api.key_segment = real_key_segment;
	assert_true(LAB_HAS(&ctx, key_segment));
	assert_int_equal(lab_key_segment(&ctx, "a/b", 3, 0, out, sizeof out), 5);
	assert_string_equal(out, "a%2Fb");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vectors),
		cmocka_unit_test(test_long_names),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_prefix),
		cmocka_unit_test(test_has),
		cmocka_unit_test(test_user_keys_raw),
		cmocka_unit_test(test_user_keys_escaped),
		cmocka_unit_test(test_user_stale_keys),
		cmocka_unit_test(test_user_keys_injective),
		cmocka_unit_test(test_safe_segment),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
