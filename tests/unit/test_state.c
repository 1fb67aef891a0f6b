/* Per-plugin state over the fs storage backend on a real loop. */
#include <dirent.h>
#include <fcntl.h>
#include <json-c/json.h>
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

/* cmocka 1.1 has no assert_double_equal; metric values here are small integers. */
#define assert_metric(v, want) assert_int_equal((long)(v), (long)(want))

#include "lab/plugin.h"
#include "log.h"
#include "metrics.h"

/* This test's registry (the daemon owns one; the services get it at open). */
static struct metrics *M;
#include "state.h"
#include "storage.h"
#include "testutil.h"

struct fx {
	char dir[256];
	char root[300];
	uv_loop_t loop;
	struct host_conf hc;
	struct storage *s;
};

static void run(struct fx *f)
{
	uv_run(&f->loop, UV_RUN_DEFAULT);
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof *f);
	assert_non_null(f);
	tu_mkdtemp(f->dir, sizeof f->dir, "state");
	snprintf(f->root, sizeof f->root, "%s/root", f->dir);
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
	run(f);
	assert_int_equal(uv_loop_close(&f->loop), 0);
	tu_rm_rf(f->dir);
	metrics_free(M);
	M = NULL;
	free(f);
	return 0;
}

struct loaded {
	int called, status;
	struct state *st;
};

static void on_loaded(int status, struct state *st, void *ud)
{
	struct loaded *l = ud;
	l->called++;
	l->status = status;
	l->st = st;
}

static struct state *load(struct fx *f, const char *name)
{
	struct loaded l = { 0, 0, NULL };
	assert_int_equal(state_load(f->s, M, name, on_loaded, &l), 0);
	run(f);
	assert_int_equal(l.called, 1);
	assert_int_equal(l.status, 0);
	assert_non_null(l.st);
	return l.st;
}

struct flushed {
	int called, status, order;
};

static int flush_seq;

static void on_flushed(int status, void *ud)
{
	struct flushed *fl = ud;
	fl->called++;
	fl->status = status;
	fl->order = ++flush_seq;
}

struct got {
	int called, status;
	char *data;
	size_t len;
};

static void on_get(int status, const void *data, size_t len, void *ud)
{
	struct got *r = ud;
	r->called++;
	r->status = status;
	r->len = len;
	free(r->data);
	r->data = NULL;
	if (data) {
		r->data = malloc(len + 1);
		assert_non_null(r->data);
		memcpy(r->data, data, len);
	}
}

static void put_raw(struct fx *f, const char *key, const void *data, size_t len)
{
	assert_int_equal(storage_put(f->s, "t", key, data, len, NULL, NULL, 0, NULL, NULL, NULL),
			 0);
	run(f);
}

static void write_disk(struct fx *f, const char *rel, const void *data, size_t len)
{
	char path[512];
	FILE *fp;
	snprintf(path, sizeof path, "%s/%s", f->root, rel);
	for (char *s = strchr(path + strlen(f->root) + 1, '/'); s; s = strchr(s + 1, '/')) {
		*s = '\0';
		mkdir(path, 0755);
		*s = '/';
	}
	fp = fopen(path, "wb");
	assert_non_null(fp);
	assert_int_equal(fwrite(data, 1, len, fp), len);
	fclose(fp);
}

static void assert_value(struct state *st, const char *key, const char *want)
{
	const char *json = NULL;
	size_t len = 0;
	assert_int_equal(state_get(st, key, &json, &len), 0);
	assert_string_equal(json, want);
	assert_int_equal(len, strlen(want));
}

/* ---- basics ------------------------------------------------------------------ */

static void test_load_absent_is_empty(void **state)
{
	struct fx *f = *state;
	struct state *st = load(f, "fresh");
	const char *json;

	assert_int_equal(state_get(st, "x", &json, NULL), LAB_ENOENT);
	assert_false(state_dirty(st));
	assert_int_equal(state_flush(st, 0, NULL, NULL), 1); /* nothing to write */
	assert_int_equal(state_pending(st), 0);
	state_free(st);
}

static void test_bad_names(void **state)
{
	struct fx *f = *state;
	struct loaded l = { 0, 0, NULL };
	static const char *const bad[] = { "", "Beacon", "a-b", "../x", "a/b", "a.json", "a b" };
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		assert_int_equal(state_load(f->s, M, bad[i], on_loaded, &l), LAB_EINVAL);
	assert_int_equal(state_load(f->s, M, NULL, on_loaded, &l), LAB_EINVAL);
	run(f);
	assert_int_equal(l.called, 0);
}

static void test_set_get_delete(void **state)
{
	struct fx *f = *state;
	struct state *st = load(f, "p");
	const char *json;

	assert_int_equal(state_set(st, "a", "{ \"b\" : [1, 2] }", 16), 0);
	assert_true(state_dirty(st));
	assert_value(st, "a", "{ \"b\" : [1, 2] }"); /* kept as set */
	assert_int_equal(state_set(st, "n", "null", 4), 0);
	assert_value(st, "n", "null");
	assert_int_equal(state_set(st, "num", " 42\n", 4), 0);
	assert_value(st, "num", "42");
	assert_int_equal(state_set(st, "s", "\"caf\xc3\xa9\"", 7), 0);
	assert_value(st, "s", "\"caf\xc3\xa9\"");
	/* len is honoured: the text need not be NUL-terminated. */
	assert_int_equal(state_set(st, "t", "truexyz", 4), 0);
	assert_value(st, "t", "true");
	assert_int_equal(state_set(st, "big", "18446744073709551615", 20), 0);
	assert_value(st, "big", "18446744073709551615");

	assert_int_equal(state_delete(st, "a"), 0);
	assert_int_equal(state_get(st, "a", &json, NULL), LAB_ENOENT);
	assert_int_equal(state_delete(st, "a"), 0); /* absent: fine */
	state_free(st);
}

static void test_set_refuses(void **state)
{
	struct fx *f = *state;
	struct state *st = load(f, "p");
	static const char *const bad[] = {
		"", " ", "1 2", "{", "{\"a\":1}x", "[1,]", "'a'", "NaN", "[Infinity]", "-Infinity",
		"{\"a\":NaN}", "\"\xff\"", "nul", "/*c*/1", "{a:1}", "[1] [2]",
	};
	char deep[200];

	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		if (state_set(st, "k", bad[i], strlen(bad[i])) != LAB_EPARSE)
			fail_msg("accepted \"%s\"", bad[i]);
	assert_int_equal(state_set(st, "k", "1\0002", 3), LAB_EPARSE);
	assert_int_equal(state_set(st, "k", NULL, 0), LAB_EPARSE);
	assert_int_equal(state_set(st, "k", "1", STATE_VALUE_MAX + 1), LAB_ERANGE);
	memset(deep, '[', 100);
	memset(deep + 100, ']', 100);
	assert_int_equal(state_set(st, "k", deep, sizeof deep), LAB_EPARSE); /* depth > 64 */
	assert_int_equal(state_set(st, "k", deep + 70, 60), 0);

	assert_int_equal(state_set(st, "", "1", 1), LAB_EINVAL);
	assert_int_equal(state_set(st, "a\nb", "1", 1), LAB_EINVAL);
	assert_int_equal(state_set(st, "\xff", "1", 1), LAB_EINVAL);
	assert_int_equal(state_set(st, "\xc3", "1", 1), LAB_EINVAL);
	assert_int_equal(state_set(st, "\xed\xa0\x80", "1", 1), LAB_EINVAL); /* surrogate */
	assert_int_equal(state_set(st, "\xc3\xa9t\xc3\xa9", "1", 1), 0);
	state_free(st);
}

/* *json stays valid until that key is set or deleted. */
static void test_pointer_stability(void **state)
{
	struct fx *f = *state;
	struct state *st = load(f, "p");
	const char *p1, *p2;

	assert_int_equal(state_set(st, "a", "[1,2,3]", 7), 0);
	assert_int_equal(state_get(st, "a", &p1, NULL), 0);
	assert_int_equal(state_set(st, "b", "{\"x\":1}", 7), 0);
	assert_int_equal(state_delete(st, "b"), 0);
	assert_int_equal(state_flush(st, 1, NULL, NULL), 0);
	run(f);
	assert_int_equal(state_get(st, "a", &p2, NULL), 0);
	assert_ptr_equal(p1, p2);
	assert_string_equal(p1, "[1,2,3]");
	assert_int_equal(state_set(st, "a", "7", 1), 0);
	assert_value(st, "a", "7");
	state_free(st);
}

/* ---- flushing ---------------------------------------------------------------- */

static void test_flush_then_load(void **state)
{
	struct fx *f = *state;
	struct state *st = load(f, "beacon");
	struct flushed fl = { 0, 0, 0 };
	char path[512];
	unsigned char head[2];
	FILE *fp;

	assert_int_equal(state_set(st, "mainnet", "{\"head\":123,\"backfill\":100}", 27), 0);
	assert_int_equal(state_set(st, "list", "[\"a\",\"b\"]", 9), 0);
	assert_int_equal(state_flush(st, 0, on_flushed, &fl), 0);
	assert_int_equal(state_pending(st), 1);
	run(f);
	assert_int_equal(fl.called, 1);
	assert_int_equal(fl.status, 0);
	assert_false(state_dirty(st));
	assert_int_equal(state_pending(st), 0);
	assert_metric(metric_get(M, M_STATE_FLUSHES, "ok"), 1);
	/* State writes are counted apart from document writes. */
	assert_metric(metric_get(M, M_STATE_OPS, "beacon", "put", "ok"), 1);
	assert_true(metric_get(M, M_STATE_BYTES, "beacon", "put") > 20);
	assert_metric(metric_get(M, M_STORAGE_OPS, "beacon", "put", "ok"), 0);
	assert_metric(metric_get(M, M_STORAGE_BYTES, "beacon", "put"), 0);
	state_free(st);

	snprintf(path, sizeof path, "%s/state/modules/beacon.json", f->root);
	fp = fopen(path, "rb");
	assert_non_null(fp);
	assert_int_equal(fread(head, 1, 2, fp), 2);
	fclose(fp);
	assert_int_equal(head[0], 0x1f);
	assert_int_equal(head[1], 0x8b);

	st = load(f, "beacon");
	assert_false(state_dirty(st));
	assert_value(st, "mainnet", "{\"head\":123,\"backfill\":100}");
	assert_value(st, "list", "[\"a\",\"b\"]");
	state_free(st);
}

static int count_aside(struct fx *f, const char *prefix)
{
	char path[512];
	struct dirent *de;
	DIR *d;
	int n = 0;
	snprintf(path, sizeof path, "%s/state/modules", f->root);
	d = opendir(path);
	assert_non_null(d);
	while ((de = readdir(d)))
		if (strncmp(de->d_name, prefix, strlen(prefix)) == 0 &&
		    !strstr(de->d_name, ".tmp."))
			n++;
	closedir(d);
	return n;
}

static void check_corrupt(struct fx *f, const char *name, const void *raw, size_t len, int on_disk)
{
	char key[128], prefix[128];
	struct state *st;
	const char *json;
	double before = metric_get(M, M_STATE_CORRUPT, name);

	snprintf(key, sizeof key, "state/modules/%s.json", name);
	if (on_disk)
		write_disk(f, key, raw, len);
	else
		put_raw(f, key, raw, len);
	st = load(f, name);
	assert_int_equal(state_get(st, "anything", &json, NULL), LAB_ENOENT);
	assert_true(state_dirty(st)); /* the next flush replaces the corrupt file */
	assert_metric(metric_get(M, M_STATE_CORRUPT, name), before + 1);
	snprintf(prefix, sizeof prefix, "%s.json.corrupt-", name);
	assert_int_equal(count_aside(f, prefix), 1);

	/* The copy holds exactly the bytes that were found. */
	{
		char path[512], akey[512];
		struct got r = { 0, 0, NULL, 0 };
		struct dirent *de;
		DIR *d;
		snprintf(path, sizeof path, "%s/state/modules", f->root);
		d = opendir(path);
		assert_non_null(d);
		while ((de = readdir(d)))
			if (strncmp(de->d_name, prefix, strlen(prefix)) == 0)
				snprintf(akey, sizeof akey, "state/modules/%s", de->d_name);
		closedir(d);
		assert_int_equal(storage_get(f->s, "t", akey, on_get, &r, NULL), 0);
		run(f);
		assert_int_equal(r.status, 0);
		assert_int_equal(r.len, len);
		assert_memory_equal(r.data, raw, len);
		free(r.data);
	}

	/* Flushing writes a clean empty state over it. */
	assert_int_equal(state_flush(st, 0, NULL, NULL), 0);
	run(f);
	state_free(st);
	st = load(f, name);
	assert_false(state_dirty(st));
	state_free(st);
	assert_metric(metric_get(M, M_STATE_CORRUPT, name), before + 1);
}

static void test_corrupt_not_json(void **state)
{
	check_corrupt(*state, "notjson", "this is {not json", 17, 0);
}

static void test_corrupt_not_object(void **state)
{
	check_corrupt(*state, "array", "[1]", 3, 0);
	check_corrupt(*state, "number", "42", 2, 0);
}

static void test_corrupt_gzip(void **state)
{
	check_corrupt(*state, "badgz", "\x1f\x8b\x08\x00garbage-garbage", 19, 1);
}

static void test_plain_json_file_accepted(void **state)
{
	struct fx *f = *state;
	struct state *st;
	write_disk(f, "state/modules/hand.json", "{\"k\":[true]}", 12);
	st = load(f, "hand");
	assert_value(st, "k", "[true]");
	assert_false(state_dirty(st));
	state_free(st);
}

/* A state file as the previous version wrote it (json-c: compact, '/'
 * escaped, gzip through storage) loads; its values come back compact, and
 * a file written by this version (texts as set) loads back the same. */
static void test_previous_version_file(void **state)
{
	static const char old[] =
		"{\"block_timings\":{\"last_processed\":{\"mainnet\\/last_30_days\":"
		"\"2025-05-07T11:05:35+00:00\"}},\"slot_mainnet\":{\"backfill\":null,"
		"\"last_head\":0,\"pending\":[],\"missed\":[11649320,11649322]},"
		"\"x\":1.5,\"s\":\"caf\\u00e9 \\\"q\\\"\",\"n\":null}";
	struct fx *f = *state;
	struct state *st;

	put_raw(f, "state/modules/old.json", old, sizeof old - 1);
	st = load(f, "old");
	assert_false(state_dirty(st));
	assert_value(st, "block_timings",
		     "{\"last_processed\":{\"mainnet/last_30_days\":\"2025-05-07T11:05:35+00:00\"}}");
	assert_value(st, "slot_mainnet",
		     "{\"backfill\":null,\"last_head\":0,\"pending\":[],\"missed\":[11649320,11649322]}");
	assert_value(st, "x", "1.5");
	assert_value(st, "s", "\"caf\xc3\xa9 \\\"q\\\"\"");
	assert_value(st, "n", "null");
	static const char v[] = " [ 1, {\"c\" : \"/\"} ] ";
	assert_int_equal(state_set(st, "a/\"b", v, sizeof v - 1), 0);
	assert_value(st, "a/\"b", "[ 1, {\"c\" : \"/\"} ]");
	assert_int_equal(state_flush(st, 0, NULL, NULL), 0);
	run(f);
	state_free(st);
	st = load(f, "old");
	assert_value(st, "slot_mainnet",
		     "{\"backfill\":null,\"last_head\":0,\"pending\":[],\"missed\":[11649320,11649322]}");
	assert_value(st, "a/\"b", "[1,{\"c\":\"/\"}]"); /* a loaded value: compact */
	assert_value(st, "s", "\"caf\xc3\xa9 \\\"q\\\"\"");
	state_free(st);
}

static void test_set_during_flush_keeps_dirty(void **state)
{
	struct fx *f = *state;
	struct state *st = load(f, "p");
	struct flushed a = { 0, 0, 0 }, b = { 0, 0, 0 }, c = { 0, 0, 0 }, d = { 0, 0, 0 };
	struct state *again;

	flush_seq = 0;
	assert_int_equal(state_set(st, "v", "1", 1), 0);
	assert_int_equal(state_flush(st, 0, on_flushed, &a), 0);
	/* Nothing changed yet: this one joins the write in flight. */
	assert_int_equal(state_flush(st, 0, on_flushed, &b), 0);
	assert_int_equal(state_pending(st), 1);
	assert_int_equal(state_set(st, "v", "2", 1), 0);
	/* Changed: queued behind it; a second request shares the queued write. */
	assert_int_equal(state_flush(st, 0, on_flushed, &c), 0);
	assert_int_equal(state_flush(st, 1, on_flushed, &d), 0);
	assert_int_equal(state_pending(st), 2);
	run(f);
	assert_int_equal(a.called + b.called + c.called + d.called, 4);
	assert_true(a.order < c.order && b.order < c.order && c.order < d.order);
	assert_int_equal(a.status | b.status | c.status | d.status, 0);
	assert_false(state_dirty(st));
	assert_metric(metric_get(M, M_STATE_FLUSHES, "ok"), 2);

	/* A set while the write is in flight leaves the state dirty after it. */
	assert_int_equal(state_set(st, "v", "3", 1), 0);
	assert_int_equal(state_flush(st, 0, NULL, NULL), 0);
	assert_int_equal(state_set(st, "v", "4", 1), 0);
	run(f);
	assert_true(state_dirty(st));
	assert_int_equal(state_flush(st, 0, NULL, NULL), 0);
	run(f);
	assert_false(state_dirty(st));
	state_free(st);
	again = load(f, "p");
	assert_value(again, "v", "4");
	state_free(again);
}

static void free_in_cb(int status, void *ud)
{
	struct state **st = ud;
	state_free(*st);
	*st = NULL;
}

static void test_free_with_flush_in_flight(void **state)
{
	struct fx *f = *state;
	struct state *st = load(f, "p");
	struct flushed a = { 0, 0, 0 };

	assert_int_equal(state_set(st, "v", "\"kept\"", 6), 0);
	assert_int_equal(state_flush(st, 0, on_flushed, &a), 0);
	state_free(st);
	run(f);
	assert_int_equal(a.called, 0);
	st = load(f, "p");
	assert_value(st, "v", "\"kept\"");

	/* Freeing from inside a flush callback, with another write queued. */
	assert_int_equal(state_set(st, "v", "1", 1), 0);
	assert_int_equal(state_flush(st, 0, free_in_cb, &st), 0);
	assert_int_equal(state_set(st, "v", "2", 1), 0);
	assert_int_equal(state_flush(st, 0, on_flushed, &a), 0);
	run(f);
	assert_null(st);
	assert_int_equal(a.called, 0);
}

static void test_flush_failure(void **state)
{
	struct fx *f = *state;
	struct state *st = load(f, "p");
	struct flushed a = { 0, 0, 0 };
	FILE *fp;

	assert_int_equal(state_set(st, "v", "1", 1), 0);
	tu_rm_rf(f->root);
	fp = fopen(f->root, "w"); /* the root is now a plain file */
	assert_non_null(fp);
	fclose(fp);
	assert_int_equal(state_flush(st, 0, on_flushed, &a), 0);
	run(f);
	assert_int_equal(a.called, 1);
	assert_int_equal(a.status, LAB_EIO);
	assert_true(state_dirty(st));
	assert_metric(metric_get(M, M_STATE_FLUSHES, "failed"), 1);
	unlink(f->root);
	assert_int_equal(mkdir(f->root, 0755), 0);
	assert_int_equal(state_flush(st, 0, on_flushed, &a), 0);
	run(f);
	assert_int_equal(a.status, 0);
	assert_false(state_dirty(st));
	state_free(st);
}

/* A directory where the state file should be reads as absent. */
static void test_load_directory_is_absent(void **state)
{
	struct fx *f = *state;
	struct state *st;
	char path[512];

	snprintf(path, sizeof path, "%s/state", f->root);
	assert_int_equal(mkdir(path, 0755), 0);
	snprintf(path, sizeof path, "%s/state/modules", f->root);
	assert_int_equal(mkdir(path, 0755), 0);
	snprintf(path, sizeof path, "%s/state/modules/dir.json", f->root);
	assert_int_equal(mkdir(path, 0755), 0);
	st = load(f, "dir");
	assert_false(state_dirty(st));
	state_free(st);
}

/* ---- state_parse on hostile input -------------------------------------------- */

static void test_state_parse_hostile(void **state)
{
	const char *why = NULL;
	json_object *o = NULL;
	static const char seed[] = "{\"a\":[1,2.5,{\"b\":\"c\\u00e9\"}],\"n\":null,\"t\":true}";
	char buf[sizeof seed + 8];
	unsigned rnd = 12345;
	char *deep;

	assert_int_equal(state_parse(seed, strlen(seed), &o, &why), 0);
	assert_non_null(o);
	json_object_put(o);
	assert_int_equal(state_parse("[1]", 3, NULL, &why), LAB_EPARSE);
	assert_string_equal(why, "not a JSON object");
	assert_int_equal(state_parse(NULL, 0, NULL, NULL), LAB_EPARSE);
	assert_int_equal(state_parse("", 0, NULL, NULL), LAB_EPARSE);
	assert_int_equal(state_parse("{}", STATE_FILE_MAX + 1, NULL, NULL), LAB_EPARSE);

	/* Deep nesting is refused, not recursed into. */
	deep = malloc(200001);
	assert_non_null(deep);
	memset(deep, '[', 100000);
	memset(deep + 100000, ']', 100000);
	deep[0] = '{';
	assert_int_equal(state_parse(deep, 200000, NULL, &why), LAB_EPARSE);
	free(deep);

	/* Mutations of a valid document: any outcome but a crash or a leak. */
	for (int i = 0; i < 20000; i++) {
		size_t n = strlen(seed);
		memcpy(buf, seed, n);
		for (int k = 0; k < 1 + i % 4; k++) {
			rnd = rnd * 1103515245u + 12345u;
			buf[(rnd >> 8) % n] = (char)(rnd >> 16);
		}
		rnd = rnd * 1103515245u + 12345u;
		n = (rnd >> 8) % (n + 1);
		o = NULL;
		int rc = state_parse(buf, n, &o, &why);
		assert_true(rc == 0 || rc == LAB_EPARSE);
		assert_true((rc == 0) == (o != NULL));
		json_object_put(o);
	}
}

/* A daemon of a cluster keeps its state under state/nodes/NODE/NAME.json:
 * two nodes on one bucket do not overwrite each other; a node without a
 * file of its own starts from the single-daemon file (read only). */
static struct state *load_node(struct fx *f, const char *name, const char *node)
{
	struct loaded l = { 0, 0, NULL };
	assert_int_equal(state_load_node(f->s, M, name, node, on_loaded, &l), 0);
	run(f);
	assert_int_equal(l.called, 1);
	assert_int_equal(l.status, 0);
	assert_non_null(l.st);
	return l.st;
}

static void flush_now(struct fx *f, struct state *st)
{
	struct flushed fl = { 0, 0, 0 };
	assert_int_equal(state_flush(st, 0, on_flushed, &fl), 0);
	run(f);
	assert_int_equal(fl.status, 0);
}

static void test_node_keys(void **state)
{
	struct fx *f = *state;
	struct loaded l = { 0, 0, NULL };
	const char *js;
	size_t len;
	char path[512];
	struct stat sb;

	/* the single-daemon file */
	struct state *st = load(f, "beacon");
	assert_int_equal(state_set(st, "k", "\"single\"", 8), 0);
	flush_now(f, st);
	state_free(st);
	/* node a: none of its own yet, so it starts from the single file */
	struct state *a = load_node(f, "beacon", "a");
	assert_int_equal(state_get(a, "k", &js, &len), 0);
	assert_memory_equal(js, "\"single\"", 8);
	assert_int_equal(state_set(a, "k", "\"a\"", 3), 0);
	flush_now(f, a);
	struct state *b = load_node(f, "beacon", "b.host-2");
	assert_int_equal(state_set(b, "k", "\"b\"", 3), 0);
	flush_now(f, b);
	state_free(a);
	state_free(b);
	snprintf(path, sizeof path, "%s/state/nodes/a/beacon.json", f->root);
	assert_int_equal(stat(path, &sb), 0);
	snprintf(path, sizeof path, "%s/state/nodes/b.host-2/beacon.json", f->root);
	assert_int_equal(stat(path, &sb), 0);
	/* each node reads its own back; the single-daemon file is untouched */
	a = load_node(f, "beacon", "a");
	assert_int_equal(state_get(a, "k", &js, &len), 0);
	assert_memory_equal(js, "\"a\"", 3);
	state_free(a);
	b = load_node(f, "beacon", "b.host-2");
	assert_int_equal(state_get(b, "k", &js, &len), 0);
	assert_memory_equal(js, "\"b\"", 3);
	state_free(b);
	st = load(f, "beacon");
	assert_int_equal(state_get(st, "k", &js, &len), 0);
	assert_memory_equal(js, "\"single\"", 8);
	state_free(st);
	/* node names that are no key segment */
	assert_int_equal(state_load_node(f->s, M, "beacon", "", on_loaded, &l), LAB_EINVAL);
	assert_int_equal(state_load_node(f->s, M, "beacon", "..", on_loaded, &l), LAB_EINVAL);
	assert_int_equal(state_load_node(f->s, M, "beacon", "a/b", on_loaded, &l), LAB_EINVAL);
	assert_int_equal(state_load_node(f->s, M, "beacon", "h:1", on_loaded, &l), LAB_EINVAL);
	assert_int_equal(l.called, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_load_absent_is_empty, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_names, setup, teardown),
		cmocka_unit_test_setup_teardown(test_set_get_delete, setup, teardown),
		cmocka_unit_test_setup_teardown(test_set_refuses, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pointer_stability, setup, teardown),
		cmocka_unit_test_setup_teardown(test_flush_then_load, setup, teardown),
		cmocka_unit_test_setup_teardown(test_node_keys, setup, teardown),
		cmocka_unit_test_setup_teardown(test_corrupt_not_json, setup, teardown),
		cmocka_unit_test_setup_teardown(test_corrupt_not_object, setup, teardown),
		cmocka_unit_test_setup_teardown(test_corrupt_gzip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_plain_json_file_accepted, setup, teardown),
		cmocka_unit_test_setup_teardown(test_previous_version_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_set_during_flush_keeps_dirty, setup, teardown),
		cmocka_unit_test_setup_teardown(test_free_with_flush_in_flight, setup, teardown),
		cmocka_unit_test_setup_teardown(test_flush_failure, setup, teardown),
		cmocka_unit_test_setup_teardown(test_load_directory_is_absent, setup, teardown),
		cmocka_unit_test(test_state_parse_hostile),
	};
	/* The failures provoked here log errors: show them only on request. */
	int devnull = getenv("LAB_TEST_LOG") ? -1 : open("/dev/null", O_WRONLY | O_CLOEXEC);
	int rc;
	log_setup(LAB_LOG_DEBUG, LOG_FORMAT_LOGFMT, devnull >= 0 ? devnull : 2);
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	if (devnull >= 0)
		close(devnull);
	return rc;
}
