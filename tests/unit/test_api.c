/* Unit tests of the api plugin's pure parts: request path -> storage key
 * (plugins/api/paths.c), the document cache with its generations
 * (cache.c), topics, subscription sets and the SSE replay ring (topics.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cache.h"
#include "message.h"
#include "paths.h"
#include "topics.h"

static const struct api_prefixes pfx = { "beacon", "beacon_chain_timings",
					  "xatu_public_contributors" };

static const char *key_of(const char *path)
{
	static struct api_doc d;
	return api_path_to_doc(&pfx, path, strlen(path), &d) == 0 ? d.key : NULL;
}

static void test_paths_documents(void **st)
{
	struct api_doc d;
	(void)st;
	assert_string_equal(key_of("config.json"), "config.json");
	assert_int_equal(api_path_to_doc(&pfx, "beacon/slots/mainnet/123.json", 29, &d), 0);
	assert_string_equal(d.key, "beacon/slots/mainnet/123.json");
	assert_int_equal(d.kind, API_DOC_SLOT);
	assert_true(d.slot == 123);
	assert_string_equal(d.network, "mainnet");
	/* the Go-era alias reads the same key */
	assert_string_equal(key_of("beacon_slots/slots/holesky/0.json"), "beacon/slots/holesky/0.json");
	assert_string_equal(key_of("beacon/locally_built_blocks/mainnet/recent.json"),
			    "beacon/locally_built_blocks/mainnet/recent.json");
	assert_string_equal(key_of("beacon_chain_timings/block_timings/mainnet/last_30_days.json"),
			    "beacon_chain_timings/block_timings/mainnet/last_30_days.json");
	assert_string_equal(key_of("beacon_chain_timings/size_cdf/sepolia/last_1_day.json"),
			    "beacon_chain_timings/size_cdf/sepolia/last_1_day.json");
	assert_string_equal(key_of("xatu_public_contributors/summary.json"),
			    "xatu_public_contributors/summary.json");
	assert_string_equal(key_of("xatu_public_contributors/countries/mainnet/1h.json"),
			    "xatu_public_contributors/countries/mainnet/1h.json");
	assert_string_equal(key_of("xatu_public_contributors/users/mainnet/1h.json"),
			    "xatu_public_contributors/users/mainnet/1h.json");
	assert_string_equal(key_of("xatu_public_contributors/user-summaries/summary.json"),
			    "xatu_public_contributors/user-summaries/summary.json");
	/* usernames: any safe UTF-8 key segment, as the contributors plugin stores them */
	assert_string_equal(key_of("xatu_public_contributors/user-summaries/users/J\xc3\xbcrgen.json"),
			    "xatu_public_contributors/user-summaries/users/J\xc3\xbcrgen.json");
	assert_string_equal(key_of("xatu_public_contributors/user-summaries/users/a%2Fb.json"),
			    "xatu_public_contributors/user-summaries/users/a%2Fb.json");
	assert_int_equal(api_slot_doc(&pfx, "mainnet", 7, "18446744073709551615", 20, &d), 0);
	assert_string_equal(d.key, "beacon/slots/mainnet/18446744073709551615.json");
	/* other storage prefixes */
	struct api_prefixes other = { "b/x", "t", "c" };
	assert_int_equal(api_path_to_doc(&other, "b/x/slots/m/5.json", 18, &d), 0);
	assert_string_equal(d.key, "b/x/slots/m/5.json");
	assert_int_equal(api_path_to_doc(&other, "beacon_slots/slots/m/5.json", 27, &d), 0);
	assert_string_equal(d.key, "b/x/slots/m/5.json");
	assert_int_equal(api_path_to_doc(&other, "beacon/slots/m/5.json", 21, &d), -1);
}

static void test_paths_refused(void **st)
{
	static const char *const bad[] = {
		"", "/", "config.json/", "config.jsonx", "state/modules/beacon.json",
		"beacon/slots/mainnet/01.json", "beacon/slots/mainnet/-1.json",
		"beacon/slots/mainnet/1.5.json", "beacon/slots/mainnet/.json",
		"beacon/slots/mainnet/18446744073709551616.json", "beacon/slots/mainnet/1",
		"beacon/slots/mainnet/1.JSON", "beacon/slots/../1.json", "beacon/slots/./1.json",
		"beacon/slots/main net/1.json", "beacon/slots/main%2Fnet/1.json",
		"beacon/slots//1.json", "beacon/slots/mainnet/1.json/x", "beacon/slots/mainnet",
		"beacon/slots", "beacon", "beacon/", "beacon/other/mainnet/1.json",
		"beacon/locally_built_blocks/mainnet/old.json",
		"beacon_chain_timings/block_timings/mainnet/../x.json",
		"beacon_chain_timings/block_timings/mainnet/a b.json",
		"beacon_chain_timings/other/mainnet/x.json",
		"beacon_chain_timings/block_timings/x.json",
		"xatu_public_contributors/summary.json/", "xatu_public_contributors/secret.json",
		"xatu_public_contributors/user-summaries/users/.json",
		"xatu_public_contributors/user-summaries/users/a?b.json",
		"xatu_public_contributors/user-summaries/users/a\\b.json",
		"xatu_public_contributors/user-summaries/users/a\x01.json",
		"xatu_public_contributors/user-summaries/users/\xff.json",
		"xatu_public_contributors/user-summaries/users/x/y.json",
		"beacon_slots/mainnet/1.json", "../beacon/slots/mainnet/1.json",
	};
	struct api_doc d;
	(void)st;
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		if (api_path_to_doc(&pfx, bad[i], strlen(bad[i]), &d) != -1)
			fail_msg("accepted '%s' as %s", bad[i], d.key);
	/* a NUL inside */
	assert_int_equal(api_path_to_doc(&pfx, "config.json\0", 12, &d), -1);
	/* a network of 129 bytes */
	char p[300];
	memset(p, 'n', sizeof p);
	memcpy(p, "beacon/slots/", 13);
	memcpy(p + 13 + 129, "/1.json", 8);
	assert_int_equal(api_path_to_doc(&pfx, p, strlen(p), &d), -1);
	p[13 + 128] = '/';
	memcpy(p + 13 + 129, "1.json", 7);
	assert_int_equal(api_path_to_doc(&pfx, p, strlen(p), &d), 0);
}

static unsigned char *dup_bytes(const char *s)
{
	unsigned char *d = malloc(strlen(s) + 1);
	memcpy(d, s, strlen(s) + 1);
	return d;
}

static void test_cache_fill_and_lru(void **st)
{
	(void)st;
	struct cache *c = cache_new(3 * (sizeof(struct cache_entry) + 16 + 100));
	struct cache_entry *e = cache_get(c, "k1");
	assert_non_null(e);
	assert_ptr_equal(cache_get(c, "k1"), e);
	assert_int_equal(e->state, CE_EMPTY);
	uint64_t g = cache_fill_begin(e);
	assert_int_equal(cache_fill_done(c, e, g, CE_READY, dup_bytes("{}"), 2, 1, "\"x\"", 100, 0), 1);
	assert_int_equal(e->state, CE_READY);
	assert_int_equal(e->len, 2);
	assert_string_equal(e->etag, "\"x\"");
	assert_true(e->last_modified == 100);
	/* a later fill in the same second still moves Last-Modified forward */
	cache_invalidate(c, "k1");
	assert_int_equal(e->state, CE_EMPTY);
	assert_null(e->data);
	g = cache_fill_begin(e);
	assert_int_equal(cache_fill_done(c, e, g, CE_READY, dup_bytes("{1}"), 3, 0, "\"y\"", 100, 0), 1);
	assert_true(e->last_modified == 101);
	/* budget: the least recently used go first, a filling entry stays */
	struct cache_entry *f = cache_get(c, "k2");
	uint64_t gf = cache_fill_begin(f);
	for (int i = 0; i < 6; i++) {
		char k[8];
		snprintf(k, sizeof k, "x%d", i);
		struct cache_entry *x = cache_get(c, k);
		uint64_t gx = cache_fill_begin(x);
		cache_fill_done(c, x, gx, CE_READY, dup_bytes("0123456789"), 10, 0, "\"z\"", 1, 0);
		cache_trim(c);
	}
	assert_true(c->bytes <= c->budget);
	assert_null(cache_find(c, "k1"));
	assert_ptr_equal(cache_find(c, "k2"), f);
	assert_non_null(cache_find(c, "x5"));
	assert_true(c->st.evictions >= 4);
	cache_fill_done(c, f, gf, CE_MISSING, NULL, 0, 0, NULL, 0, 5);
	assert_int_equal(f->state, CE_MISSING);
	cache_free(c);
}

/* The freshness rule: a fill that began before an invalidation never
 * stores its (possibly old) bytes. */
static void test_cache_generation(void **st)
{
	(void)st;
	struct cache *c = cache_new(1 << 20);
	struct cache_entry *e = cache_get(c, "beacon/slots/m/1.json");
	uint64_t g = cache_fill_begin(e);
	assert_int_equal(cache_invalidate(c, "beacon/slots/m/1.json"), 1);
	assert_int_equal(e->state, CE_FILLING); /* still pinned for its waiters */
	assert_int_equal(cache_fill_done(c, e, g, CE_READY, dup_bytes("old"), 3, 0, "\"o\"", 1, 0), 0);
	assert_int_equal(e->state, CE_EMPTY);
	assert_null(e->data);
	assert_int_equal(c->st.stale_fills, 1);
	g = cache_fill_begin(e);
	assert_int_equal(cache_fill_done(c, e, g, CE_READY, dup_bytes("new"), 3, 0, "\"n\"", 1, 0), 1);
	assert_memory_equal(e->data, "new", 3);
	assert_int_equal(cache_invalidate(c, "unknown"), 0);
	/* many keys: the table grows, every key is found */
	for (int i = 0; i < 5000; i++) {
		char k[32];
		snprintf(k, sizeof k, "k/%d", i);
		assert_non_null(cache_get(c, k));
	}
	for (int i = 0; i < 5000; i++) {
		char k[32];
		snprintf(k, sizeof k, "k/%d", i);
		assert_non_null(cache_find(c, k));
	}
	cache_free(c);
}

static void test_topics(void **st)
{
	struct topic t;
	struct topic_set s = { 0 };
	char name[TOPIC_TEXT_MAX], bad[TOPIC_TEXT_MAX];
	struct buf b = BUF_INIT;
	(void)st;
	assert_int_equal(topic_parse("slots:mainnet", 13, &t), 0);
	assert_int_equal(t.kind, TOPIC_SLOTS);
	assert_string_equal(t.network, "mainnet");
	topic_name(&t, name);
	assert_string_equal(name, "slots:mainnet");
	assert_int_equal(topic_parse("timings", 7, &t), 0);
	assert_int_equal(topic_parse("*", 1, &t), 0);
	assert_int_equal(t.kind, TOPIC_ALL);
	assert_int_equal(topic_parse("slots:", 6, &t), -1);
	assert_int_equal(topic_parse("slots:..", 8, &t), -1);
	assert_int_equal(topic_parse("slots:a/b", 9, &t), -1);
	assert_int_equal(topic_parse("slots", 5, &t), -1);
	assert_int_equal(topic_parse("Timings", 7, &t), -1);
	assert_int_equal(topic_parse("", 0, &t), -1);

	assert_int_equal(topic_set_parse_list(&s, "slots:mainnet,timings", bad), 0);
	topic_set_json(&s, &b);
	assert_string_equal(b.data, "[\"timings\",\"slots:mainnet\"]");
	buf_free(&b);
	struct topic ev;
	assert_int_equal(topic_of_subject("beacon.slot", "mainnet", &ev), 0);
	assert_true(topic_set_match(&s, &ev));
	assert_int_equal(topic_of_subject("beacon.slot", "holesky", &ev), 0);
	assert_false(topic_set_match(&s, &ev));
	assert_int_equal(topic_of_subject("beacon.slot", NULL, &ev), -1);
	assert_int_equal(topic_of_subject("beacon.slot", "../x", &ev), -1);
	assert_int_equal(topic_of_subject("timings.updated", NULL, &ev), 0);
	assert_true(topic_set_match(&s, &ev));
	assert_int_equal(topic_of_subject("contributors.updated", NULL, &ev), 0);
	assert_false(topic_set_match(&s, &ev));
	assert_int_equal(topic_of_subject("host.plugin", NULL, &ev), 0);
	assert_int_equal(ev.kind, TOPIC_PLUGINS);
	assert_int_equal(topic_of_subject("beacon.reprocess", "m", &ev), -1);
	topic_parse("timings", 7, &t);
	topic_set_remove(&s, &t);
	assert_int_equal(topic_of_subject("timings.updated", NULL, &ev), 0);
	assert_false(topic_set_match(&s, &ev));
	topic_parse("*", 1, &t);
	topic_set_add(&s, &t);
	assert_true(topic_set_match(&s, &ev));

	struct topic_set s2 = { 0 };
	assert_int_equal(topic_set_parse_list(&s2, "timings,,plugins", bad), -1);
	assert_string_equal(bad, "");
	assert_int_equal(topic_set_parse_list(&s2, "timings,nope", bad), -1);
	assert_string_equal(bad, "nope");
	struct topic_set s3 = { 0 };
	for (int i = 0; i < TOPIC_SET_NETS; i++) {
		char n[32];
		snprintf(n, sizeof n, "slots:n%d", i);
		assert_int_equal(topic_set_parse_list(&s3, n, bad), 0);
	}
	assert_int_equal(topic_set_parse_list(&s3, "slots:n0", bad), 0); /* already there */
	assert_int_equal(topic_set_parse_list(&s3, "slots:one_more", bad), -1);

	/* the packed form live clients keep: same answers, same set back */
	struct topic_pack p = { 0 };
	assert_int_equal(topic_of_subject("beacon.slot", "n15", &ev), 0);
	assert_false(topic_pack_match(&p, &ev)); /* empty */
	assert_int_equal(topic_pack_set(&p, &s3), 0);
	assert_int_equal(p.nnets, TOPIC_SET_NETS);
	assert_true(topic_pack_match(&p, &ev));
	assert_int_equal(topic_of_subject("beacon.slot", "n16", &ev), 0);
	assert_false(topic_pack_match(&p, &ev));
	assert_int_equal(topic_of_subject("timings.updated", NULL, &ev), 0);
	assert_false(topic_pack_match(&p, &ev));
	struct topic_set back;
	memset(&back, 0x55, sizeof back);
	topic_pack_get(&p, &back);
	assert_int_equal(back.mask, s3.mask);
	assert_int_equal(back.nnets, s3.nnets);
	for (size_t i = 0; i < s3.nnets; i++)
		assert_string_equal(back.nets[i], s3.nets[i]);
	assert_int_equal(topic_pack_set(&p, &s), 0); /* replaces: "*" and mainnet */
	assert_true(topic_pack_match(&p, &ev));
	assert_int_equal(p.nnets, 1);
	assert_string_equal(p.nets, "mainnet");
	struct topic_set none = { 0 };
	assert_int_equal(topic_pack_set(&p, &none), 0);
	assert_null(p.nets);
	assert_false(topic_pack_match(&p, &ev));
	topic_pack_free(&p);
}

static void test_ring(void **st)
{
	struct live_ring r;
	struct topic t = { .kind = TOPIC_TIMINGS };
	(void)st;
	assert_int_equal(live_ring_init(&r, 3, 1000), 0);
	assert_null(live_ring_after(&r, 0, 0));
	for (int i = 0; i < 5; i++) {
		char j[16];
		int n = snprintf(j, sizeof j, "{\"i\":%d}", i);
		assert_non_null(live_ring_push(&r, &t, j, (size_t)n));
	}
	/* holds ids 1002..1004 */
	assert_true(live_ring_after(&r, 0, 0)->id == 1002); /* older than all: everything */
	assert_true(live_ring_after(&r, 1002, 0)->id == 1003);
	assert_true(live_ring_after(&r, 1002, 1)->id == 1004);
	assert_null(live_ring_after(&r, 1002, 2));
	assert_null(live_ring_after(&r, 1004, 0));
	assert_null(live_ring_after(&r, 99999, 0)); /* from the future: nothing */
	assert_string_equal(live_ring_after(&r, 1003, 0)->json, "{\"i\":4}");
	live_ring_free(&r);
}

static void test_client_msg(void **st)
{
	struct topic_set s = { 0 };
	char bad[TOPIC_TEXT_MAX];
	struct buf b = BUF_INIT;
	(void)st;
#define MSG(text) api_client_msg(text, strlen(text), &s, bad)
	assert_int_equal(MSG("{\"subscribe\":[\"timings\",\"slots:mainnet\"]}"), CLIENT_MSG_OK);
	assert_int_equal(MSG(" {\"unsubscribe\":[\"timings\",\"plugins\"],\"subscribe\":[\"*\"]}\n"),
			 CLIENT_MSG_OK);
	topic_set_json(&s, &b);
	assert_string_equal(b.data, "[\"*\",\"slots:mainnet\"]");
	buf_free(&b);
	struct topic_set before = s;
	assert_int_equal(MSG("{\"subscribe\":[\"timings\",\"slots:a/b\"]}"), CLIENT_MSG_BAD_TOPIC);
	assert_string_equal(bad, "slots:a/b");
	assert_memory_equal(&s, &before, sizeof s); /* nothing applied */
	assert_int_equal(MSG("{\"subscribe\":[\"slots:ma\\u0000x\"]}"), CLIENT_MSG_BAD_TOPIC);
	assert_int_equal(MSG("{\"subscribe\":[1]}"), CLIENT_MSG_BAD_TOPIC);
	assert_string_equal(bad, "(not a string)");
	assert_int_equal(MSG("{\"subscribe\":\"timings\"}"), CLIENT_MSG_BAD_SHAPE);
	assert_int_equal(MSG("{\"hello\":[]}"), CLIENT_MSG_BAD_SHAPE);
	assert_int_equal(MSG("{}"), CLIENT_MSG_BAD_SHAPE);
	assert_int_equal(MSG("[\"subscribe\"]"), CLIENT_MSG_BAD_SHAPE);
	assert_int_equal(MSG("\"x\""), CLIENT_MSG_BAD_SHAPE);
	assert_int_equal(MSG("not json"), CLIENT_MSG_NOT_JSON);
	assert_int_equal(MSG("{\"subscribe\":[]} x"), CLIENT_MSG_NOT_JSON);
	assert_int_equal(MSG("{\"subscribe\":["), CLIENT_MSG_NOT_JSON);
	assert_int_equal(MSG(""), CLIENT_MSG_NOT_JSON);
	assert_int_equal(api_client_msg("{}\0", 3, &s, bad), CLIENT_MSG_NOT_JSON);
#undef MSG
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_paths_documents), cmocka_unit_test(test_paths_refused),
		cmocka_unit_test(test_cache_fill_and_lru), cmocka_unit_test(test_cache_generation),
		cmocka_unit_test(test_topics), cmocka_unit_test(test_ring),
		cmocka_unit_test(test_client_msg),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
