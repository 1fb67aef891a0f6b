/* The key-segment service of SDK 1.1 (host/keyseg.c): the username mapping
 * of SPEC §9.2, byte for byte what the contributors plugin stores (the
 * vectors below are its keys), and the checks behind LAB_SETTING_KEY_*. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
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
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
