/* Security: storage keys built from untrusted data (client, user and network
 * names) can never leave their prefix or the storage root (issue 10).
 * Complements test_storage_fs.c's test_key_check with the hostile names of
 * tests/fixtures (docs/testing.md), `%2e` spellings, NUL bytes, overlong
 * UTF-8 dots, the raw usernames of SPEC §9.2 and very long names, and
 * checks on the real fs backend that an accepted key is stored exactly at
 * ROOT/KEY and nowhere else. */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uv.h>

#include <cmocka.h>

#include "lab/plugin.h"
#include "log.h"
#include "metrics.h"

/* This test's registry (the daemon owns one; the services get it at open). */
static struct metrics *M;
#include "storage.h"
#include "testutil.h"

struct fx {
	char dir[256];
	char root[300];
	uv_loop_t loop;
	struct host_conf hc;
	struct storage *s;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof *f);
	assert_non_null(f);
	tu_mkdtemp(f->dir, sizeof f->dir, "keys");
	/* ROOT is two levels down: an escape by one or two ".." would land in
	 * DIR/data or DIR, which the tests check stay empty. */
	snprintf(f->root, sizeof f->root, "%s/data/root", f->dir);
	assert_int_equal(uv_loop_init(&f->loop), 0);
	f->hc.storage_backend = "fs";
	f->hc.fs_root = f->root;
	assert_int_equal(metrics_new("test", &M), 0);
	assert_int_equal(storage_open(&f->loop, M, &f->hc, &f->s), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	storage_close(f->s);
	uv_run(&f->loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&f->loop), 0);
	tu_rm_rf(f->dir);
	metrics_free(M);
	M = NULL;
	free(f);
	return 0;
}

/* The only entry of `dir` is `only`. */
static void assert_only_entry(const char *dir, const char *only)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	assert_non_null(d);
	while ((e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		if (strcmp(e->d_name, only) != 0)
			fail_msg("%s/%s exists: something escaped the storage root", dir, e->d_name);
	}
	closedir(d);
}

static void assert_nothing_escaped(struct fx *f)
{
	char data[300];
	snprintf(data, sizeof data, "%s/data", f->dir);
	assert_only_entry(f->dir, "data");
	assert_only_entry(data, "root");
}

static int put_sync(struct fx *f, const char *key)
{
	struct tu_result r = { 0 };
	int rc = storage_put(f->s, "t", key, "x", 1, NULL, NULL, 0, tu_on_done, &r, NULL);
	if (rc < 0)
		return rc;
	uv_run(&f->loop, UV_RUN_DEFAULT);
	free(r.data);
	assert_int_equal(r.called, 1);
	return r.status;
}

/* Keys made from the hostile client names of tests/fixtures/xatu-gen: each
 * one is refused, or accepted and then stored inside its prefix. */
static void test_hostile_names(void **state)
{
	struct fx *f = *state;
	static const struct {
		const char *name;
		int accepted; /* only printable UTF-8 without ".", ".." or empty segments, "\\" */
	} names[] = {
		{ "../..", 0 },
		{ "pub-%2e%2e/%2e%2e/node-%2f", 1 }, /* literal bytes: "%2e" is not a dot */
		{ "pub-dots/../node-1", 0 },
		{ "pub-dot/./node", 0 },
		{ "pub-empty//node", 0 },
		{ "noslashname", 1 },
		{ "pub-json/\"quote\\back/node", 0 },
		{ "pub-utf8/j\xc3\xbcrgen/n\xc3\xb6" "de-1", 1 },
		{ "pub-bin/\xff\xfeuser/node-\xc3(", 0 }, /* invalid UTF-8 */
		{ "pub-ctl/us\ter\nname\x01/node\x7f\r", 0 },
		{ "..", 0 },
		{ ".", 0 },
		{ "", 0 },
		{ "%2e%2e", 1 },
		{ "%2E%2E/%2F", 1 },
		{ "..%2f..%2f", 1 },
		{ ".%2e/x", 1 },
		{ "\xc0\xae\xc0\xae/x", 0 }, /* overlong UTF-8 dots: invalid UTF-8 */
		{ "..\\..\\x", 0 },
		{ "a/.lab-meta", 1 }, /* the metadata directory is reserved at the root only */
		{ "...", 1 },
		{ "....//x", 0 },
		/* SPEC §9.2 raw usernames: printable UTF-8, spaces, '?', '#', '%' */
		{ "d a v e", 1 },
		{ "grace.h", 1 },
		{ "a?b#c%d", 1 },
		{ "\xe6\x97\xa5\xf0\x9f\x98\x80", 1 },
		{ "\xc2\xa0", 1 },          /* U+00A0 is printable */
		{ "c1\xc2\x85", 0 },        /* U+0085, a C1 control */
		{ "\xed\xa0\x80", 0 },       /* a surrogate */
		{ "\xf4\x90\x80\x80", 0 },   /* beyond U+10FFFF */
		{ "cut\xe2\x82", 0 },        /* truncated before the '/' */
	};
	char key[1200], path[1600], real[PATH_MAX], rroot[PATH_MAX];
	assert_non_null(realpath(f->root, rroot));
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
		snprintf(key, sizeof key, "contributors/users/%s/latest.json", names[i].name);
		int ok = storage_key_check(key) == 0;
		if (ok != names[i].accepted)
			fail_msg("key \"%s\": %s, expected %s", key, ok ? "accepted" : "refused",
				 names[i].accepted ? "accepted" : "refused");
		if (!ok) {
			assert_int_equal(put_sync(f, key), LAB_EPERM);
			continue;
		}
		if (strstr(key, "/.lab-meta/")) {
			/* fs reserves .lab-meta as a directory at any depth (docs/storage.md) */
			assert_int_equal(put_sync(f, key), LAB_EPERM);
			continue;
		}
		assert_int_equal(put_sync(f, key), 0);
		snprintf(path, sizeof path, "%s/%s", f->root, key);
		assert_non_null(realpath(path, real));
		assert_true(strncmp(real, rroot, strlen(rroot)) == 0);
		assert_true(strncmp(real + strlen(rroot), "/contributors/users/", 20) == 0);
	}
	assert_nothing_escaped(f);
}

/* "%2e%2e" is three bytes "%", "2", "e"... to the fs backend: a directory
 * literally named %2e%2e inside the root, never the parent. */
static void test_percent_encoding_is_literal(void **state)
{
	struct fx *f = *state;
	char path[600];
	struct stat st;
	assert_int_equal(put_sync(f, "%2e%2e/%2e%2e/escape.json"), 0);
	snprintf(path, sizeof path, "%s/%%2e%%2e/%%2e%%2e/escape.json", f->root);
	assert_int_equal(stat(path, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_nothing_escaped(f);
}

/* A C string ends at its NUL: what follows is never seen by the check or the
 * backend.  "a\0/../../escape" is the key "a". */
static void test_nul_truncates(void **state)
{
	struct fx *f = *state;
	static const char key[] = "a\0/../../escape.json";
	char path[600];
	struct stat st;
	assert_int_equal(storage_key_check(key), 0);
	assert_int_equal(put_sync(f, key), 0);
	snprintf(path, sizeof path, "%s/a", f->root);
	assert_int_equal(stat(path, &st), 0);
	assert_nothing_escaped(f);
	/* ...and a NUL cannot hide a bad prefix either. */
	assert_int_equal(storage_key_check("..\0/ok"), LAB_EPERM);
}

/* Very long keys and segments: refused by length, or failing cleanly in the
 * backend (a segment over NAME_MAX), never truncated into another key. */
static void test_long_names(void **state)
{
	struct fx *f = *state;
	char key[STORAGE_KEY_MAX + 64];
	/* 1024 bytes, segments of 200: accepted and stored. */
	size_t n = 0;
	while (n < STORAGE_KEY_MAX) {
		size_t seg = STORAGE_KEY_MAX - n > 200 ? 200 : STORAGE_KEY_MAX - n;
		memset(key + n, 'k', seg);
		n += seg;
		if (n < STORAGE_KEY_MAX)
			key[n - 1] = '/';
	}
	key[STORAGE_KEY_MAX] = '\0';
	assert_int_equal(strlen(key), STORAGE_KEY_MAX);
	assert_int_equal(storage_key_check(key), 0);
	assert_int_equal(put_sync(f, key), 0);
	/* One byte more: refused before any I/O. */
	key[STORAGE_KEY_MAX] = 'k';
	key[STORAGE_KEY_MAX + 1] = '\0';
	assert_int_equal(storage_key_check(key), LAB_EPERM);
	assert_int_equal(put_sync(f, key), LAB_EPERM);
	/* A 300-byte segment (longer than NAME_MAX, as xatu-gen's pub-long
	 * user): the key is valid, the file system refuses it, put fails. */
	memset(key, 'u', 300);
	strcpy(key + 300, "/node.json");
	assert_int_equal(storage_key_check(key), 0);
	assert_true(put_sync(f, key) < 0);
	assert_nothing_escaped(f);
}

int main(void)
{
	log_setup(LAB_LOG_ERROR, 0, 2);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_hostile_names, setup, teardown),
		cmocka_unit_test_setup_teardown(test_percent_encoding_is_literal, setup, teardown),
		cmocka_unit_test_setup_teardown(test_nul_truncates, setup, teardown),
		cmocka_unit_test_setup_teardown(test_long_names, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
