/* Unit tests of the beacon plugin's pure parts: username rule, attestation
 * windows, JSON writing, geolocation fallbacks, the slot document, wei
 * amounts, 50 ms buckets and the relay-keyed MEV groups. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "../../plugins/beacon/geo.h"
#include "buf.h"
#include "../../plugins/beacon/slotdoc.h"
#include "../../plugins/beacon/mevdoc.h"

static void check_user(const char *name, const char *want)
{
	const char *u;
	size_t n;
	sd_username(name, strlen(name), &u, &n);
	assert_int_equal(n, strlen(want));
	assert_memory_equal(u, want, n);
}

static void test_username(void **st)
{
	check_user("pub-b2c375ef/alice/lighthouse-erigon-000", "alice");
	check_user("noslashname", "");
	check_user("", "");
	check_user("ethpandaops/mainnet/teku-001", "ethpandaops");
	check_user("ethpandaops-fake/eve/node-1", "ethpandaops");
	check_user("corp-acme/team-x/mainnet/node-1", "team-x");
	check_user("pub-empty//node", "");
	check_user("a/b", "b");
	check_user("pub-dots/../node-1", "..");
}

static void test_window_start(void **st)
{
	/* floor((m - f)/50)*50 + f, then minus mod 50 */
	assert_int_equal(sd_window_start(4180, 4180), 4150);
	assert_int_equal(sd_window_start(4229, 4180), 4150);
	assert_int_equal(sd_window_start(4230, 4180), 4200);
	assert_int_equal(sd_window_start(4200, 4200), 4200);
	assert_int_equal(sd_window_start(4249, 4200), 4200);
	assert_int_equal(sd_window_start(4250, 4200), 4250);
	assert_int_equal(sd_window_start(0, 0), 0);
}

static void test_windows_json(void **st)
{
	struct sd_vote v[] = { { 9, 4300 }, { 3, 4180 }, { 1, 4229 }, { 2, 4230 }, { 5, 12000 } };
	struct buf b = { 0 };
	sd_windows_json(&b, v, 5);
	buf_putc(&b, '\0');
	assert_string_equal(b.data, "[{\"start_ms\":4150,\"end_ms\":4200,\"validator_indices\":[1,3]},"
				 "{\"start_ms\":4200,\"end_ms\":4250,\"validator_indices\":[2]},"
				 "{\"start_ms\":4250,\"end_ms\":4300,\"validator_indices\":[9]},"
				 "{\"start_ms\":11950,\"end_ms\":12000,\"validator_indices\":[5]}]");
	buf_free(&b);
	sd_windows_json(&b, NULL, 0);
	buf_putc(&b, '\0');
	assert_string_equal(b.data, "[]");
	buf_free(&b);
}

static void test_json_strings(void **st)
{
	struct buf b = { 0 };
	const char s[] = "a\"b\\c\td\n\x01\x7f\xff\xc3(\xc3\xa9\0z";
	buf_json_str(&b, s, sizeof s - 1);
	buf_putc(&b, '\0');
	assert_string_equal(b.data, "\"a\\\"b\\\\c\\td\\n\\u0001\\u007f\\ufffd\\ufffd(\xc3\xa9\\u0000z\"");
	json_object *o = json_tokener_parse(b.data);
	assert_non_null(o);
	json_object_put(o);
	buf_free(&b);
	buf_iso(&b, 1714824179, -1);
	buf_putc(&b, ' ');
	buf_iso(&b, 0, 5000);
	buf_putc(&b, ' ');
	buf_f64(&b, -25.0);
	buf_putc(&b, ' ');
	buf_f64(&b, 48.85341);
	buf_putc(&b, '\0');
	assert_string_equal(b.data, "\"2024-05-04T12:02:59+00:00\" \"1970-01-01T00:00:00.005000+00:00\" "
				 "-25 48.85341");
	buf_free(&b);
}

static void test_geo_fallbacks(void **st)
{
	static const struct geo_src src[] = {
		{ "Paris", "France", "FR", 2000000, 48.85, 2.35 },
		{ "Paris", "United States of America", "US", 25000, 33.66, -95.55 },
		{ "London", "United Kingdom", "GB", 8000000, 51.5, -0.12 },
		{ "London", "Canada", "CA", 350000, 42.98, -81.23 },
		{ "New York City", "United States of America", "US", 8000000, 40.71, -74.0 },
	};
	struct geo_table t;
	double lat = 0, lon = 0;
	assert_int_equal(geo_build_from(&t, src, 5), 0);
	/* exact city + country code */
	assert_int_equal(geo_lookup(&t, "Paris", 5, "United States", 13, "US", 2, "NA", 2, &lat, &lon), 1);
	assert_true(lat == 33.66 && lon == -95.55);
	/* exact city + country name, case-insensitive */
	assert_int_equal(geo_lookup(&t, "london", 6, "CANADA", 6, NULL, 0, NULL, 0, &lat, &lon), 1);
	assert_true(lat == 42.98);
	/* country given as an ISO code in the name */
	assert_int_equal(geo_lookup(&t, "London", 6, "CA", 2, NULL, 0, NULL, 0, &lat, &lon), 1);
	assert_true(lat == 42.98);
	/* city known, country not: most populous of that name */
	assert_int_equal(geo_lookup(&t, "Paris", 5, "Freedonia", 9, "", 0, "EU", 2, &lat, &lon), 1);
	assert_true(lat == 48.85);
	/* unknown city: most populous city of the country */
	assert_int_equal(geo_lookup(&t, "Smallville", 10, "United States", 13, "US", 2, "NA", 2, &lat, &lon), 1);
	assert_true(lat == 40.71);
	assert_int_equal(geo_lookup(&t, "", 0, "", 0, "US", 2, "", 0, &lat, &lon), 1);
	assert_true(lat == 40.71);
	/* continent centres (latitude, longitude) */
	assert_int_equal(geo_lookup(&t, "Atlantis", 8, "Freedonia", 9, "", 0, "EU", 2, &lat, &lon), 1);
	assert_true(lat == 50 && lon == 15);
	assert_int_equal(geo_lookup(&t, NULL, 0, NULL, 0, NULL, 0, "AN", 2, &lat, &lon), 1);
	assert_true(lat == -90 && lon == 0);
	assert_int_equal(geo_lookup(&t, NULL, 0, NULL, 0, NULL, 0, "na", 2, &lat, &lon), 1);
	assert_true(lat == 40 && lon == -100);
	/* nothing */
	assert_int_equal(geo_lookup(&t, "", 0, "", 0, "", 0, "", 0, &lat, &lon), 0);
	assert_int_equal(geo_lookup(&t, "Atlantis", 8, "Freedonia", 9, "", 0, "XX", 2, &lat, &lon), 0);
	geo_free(&t);
}

static void test_geo_geonames(void **st)
{
	struct geo_table t;
	double lat = 0, lon = 0;
	geo_builtin(&t); /* generated from libgeonames at build time */
	assert_true(t.ncities > 20000);
	assert_int_equal(geo_lookup(&t, "New York", 8, "United States", 13, "US", 2, "NA", 2, &lat, &lon), 1);
	assert_true(lat > 40.7 && lat < 40.8);
	assert_int_equal(geo_lookup(&t, "Smallville", 10, "United States", 13, "US", 2, "NA", 2, &lat, &lon), 1);
	assert_true(lat > 40.7 && lat < 40.8); /* most populous US city */
	assert_int_equal(geo_lookup(&t, "Paris", 5, "France", 6, "FR", 2, "EU", 2, &lat, &lon), 1);
	assert_true(lat > 48.8 && lat < 48.9);
	assert_int_equal(geo_lookup(&t, "Paris", 5, "United States", 13, "US", 2, "NA", 2, &lat, &lon), 1);
	assert_true(lat > 33 && lat < 34); /* Paris, Texas */
	assert_int_equal(geo_lookup(&t, "Ashburn", 7, "United States", 13, "US", 2, "NA", 2, &lat, &lon), 1);
	assert_true(lat > 39 && lat < 39.1);
	assert_int_equal(geo_lookup(&t, "Hamilton", 8, "Canada", 6, "CA", 2, "NA", 2, &lat, &lon), 1);
	assert_true(lat > 43 && lat < 43.5);
	assert_int_equal(geo_lookup(&t, "Hamilton", 8, "New Zealand", 11, "NZ", 2, "OC", 2, &lat, &lon), 1);
	assert_true(lat < -37);
	geo_free(&t);
}

#define S(x) { (x), sizeof(x) - 1 }

static void test_document(void **st)
{
	struct sd_slot s;
	memset(&s, 0, sizeof s);
	s.slot = 9000013;
	s.has_block = 1;
	for (int i = 0; i < SD_BLOCK_FIELDS; i++)
		s.block[i].p = NULL;
	s.block[0] = (struct sd_str)S("9000013");
	s.block[1] = (struct sd_str)S("1714824179");
	s.block[4] = (struct sd_str){ "0xabc\0\0", 7 }; /* FixedString padding */
	s.block[6] = (struct sd_str)S("12x"); /* not a number: null */
	s.block[10] = (struct sd_str)S("1058");
	s.proposer = 1058;
	struct sd_seen bs[] = {
		{ S("b/x/1"), S("Paris"), S("France"), S("FR"), S("EU"), 400, -1 },
		{ S("a/y/2"), S(""), S(""), S(""), S(""), 300, -1 },
	};
	struct sd_seen blobs[] = {
		{ S("a/y/2"), S(""), S(""), S(""), S(""), 500, 0 },
		{ S("a/y/2"), S(""), S(""), S(""), S(""), 510, 1 },
		{ S("c/z/3"), S("Atlantis"), S("Freedonia"), S(""), S("EU"), 700, 0 },
	};
	s.seen[SD_BLOCK_SEEN] = bs;
	s.nseen[SD_BLOCK_SEEN] = 2;
	s.seen[SD_BLOB_SEEN] = blobs;
	s.nseen[SD_BLOB_SEEN] = 3;
	struct sd_vote v[] = { { 7, 4000 }, { 2, 4010 } };
	s.votes = v;
	s.nvotes = 2;
	s.max_votes = 64;
	struct buf b = { 0 };
	assert_int_equal(sd_build(&b, &s, "mainnet", 1714824200123, 17, NULL), 0);
	buf_putc(&b, '\0');
	json_object *o = json_tokener_parse(b.data), *x, *y;
	assert_non_null(o);
	assert_true(json_object_object_get_ex(o, "network", &x));
	assert_string_equal(json_object_get_string(x), "mainnet");
	assert_true(json_object_object_get_ex(o, "processed_at", &x));
	assert_string_equal(json_object_get_string(x), "2024-05-04T12:03:20.123000+00:00");
	assert_true(json_object_object_get_ex(o, "block", &x));
	assert_int_equal(json_object_object_length(x), 26);
	assert_true(json_object_object_get_ex(x, "block_root", &y));
	assert_string_equal(json_object_get_string(y), "0xabc");
	assert_true(json_object_object_get_ex(x, "slot_start_date_time", &y));
	assert_string_equal(json_object_get_string(y), "2024-05-04T12:02:59+00:00");
	assert_true(json_object_object_get_ex(x, "block_total_bytes", &y));
	assert_null(y);
	assert_true(json_object_object_get_ex(o, "entity", &x));
	assert_null(x);
	assert_true(json_object_object_get_ex(o, "nodes", &x));
	assert_int_equal(json_object_object_length(x), 3);
	assert_true(json_object_object_get_ex(x, "a/y/2", &y));
	assert_true(json_object_object_get_ex(y, "username", &y));
	assert_string_equal(json_object_get_string(y), "y");
	assert_true(json_object_object_get_ex(o, "timings", &x));
	assert_true(json_object_object_get_ex(x, "blob_seen", &y));
	assert_true(json_object_object_get_ex(y, "a/y/2", &y));
	assert_true(json_object_object_get_ex(y, "1", &y));
	assert_int_equal(json_object_get_int(y), 510);
	assert_true(json_object_object_get_ex(o, "attestations", &x));
	assert_true(json_object_object_get_ex(x, "maximum_votes", &y));
	assert_int_equal(json_object_get_int(y), 64);
	assert_true(json_object_object_get_ex(x, "windows", &y));
	assert_int_equal(json_object_array_length(y), 1);
	json_object_put(o);
	buf_free(&b);
}

static void test_wei(void **st)
{
	static const char *const good[] = {
		"0", "1", "18446744073709551616", /* 2^64 */
		"115792089237316195423570985008687907853269984665640564039457584007913129639935", /* 2^256-1 */
	};
	static const char *const bad[] = {
		"", "00", "01", "-1", "+1", "1.0", "1e18", " 1", "1 ", "0x10", "12a",
		"1000000000000000000000000000000000000000000000000000000000000000000000000000000", /* 79 digits */
	};
	for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
		assert_true(mev_wei_ok(good[i], strlen(good[i])));
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		assert_false(mev_wei_ok(bad[i], strlen(bad[i])));
	assert_false(mev_wei_ok("1\0002", 3)); /* a NUL inside */
	assert_false(mev_wei_ok(NULL, 0));
}

static void test_time_bucket(void **st)
{
	assert_int_equal(mev_time_bucket(0), 0);
	assert_int_equal(mev_time_bucket(49), 0);
	assert_int_equal(mev_time_bucket(50), 50);
	assert_int_equal(mev_time_bucket(-1), -50);
	assert_int_equal(mev_time_bucket(-50), -50);
	assert_int_equal(mev_time_bucket(-51), -100);
	assert_int_equal(mev_time_bucket(-12000), -12000);
	assert_int_equal(mev_time_bucket(12589), 12550);
}

static struct sd_str mk(const char *s)
{
	struct sd_str v = { s, strlen(s) };
	return v;
}

static void test_mev_groups(void **st)
{
	struct buf b = { 0 };
	struct mev_group g;
	struct mev_bid x = { .slot = 7, .parent_hash = mk("0xp"), .block_hash = { "0xb\0\0", 5 },
			     .builder_pubkey = mk("0xk"), .proposer_pubkey = mk("0xq"),
			     .proposer_fee_recipient = mk("0xf"),
			     .value = mk("123456789012345678901234567890"), .gas_limit = 0,
			     .gas_used = 5, .slot_time = -1 };
	mg_begin(&g, &b, "bids");
	assert_int_equal(mg_item(&g, "Manifold", 8), 0);
	mev_bid_json(&b, &x);
	assert_int_equal(mg_item(&g, "Manifold", 8), 0);
	mev_bid_json(&b, &x);
	assert_int_equal(mg_item(&g, "aestus", 6), 0); /* bytewise after "Manifold" */
	mev_bid_json(&b, &x);
	assert_int_equal(mg_item(&g, "Manifold", 8), -1); /* out of order */
	mg_end(&g);
	assert_false(b.oom);
	const char *one = "{\"slot\":7,\"parent_hash\":\"0xp\",\"block_hash\":\"0xb\","
			  "\"builder_pubkey\":\"0xk\",\"proposer_pubkey\":\"0xq\","
			  "\"proposer_fee_recipient\":\"0xf\",\"value\":\"123456789012345678901234567890\","
			  "\"gas_limit\":0,\"gas_used\":5,\"slot_time\":-1,\"time_bucket\":-50}";
	char want[2048];
	snprintf(want, sizeof want, "{\"Manifold\":{\"bids\":[%s,%s]},\"aestus\":{\"bids\":[%s]}}", one,
		 one, one);
	assert_string_equal(b.data, want);
	buf_free(&b);

	/* bytes that need an escape, a missing string, a key longer than the
	 * fast writer's stack buffer, the extremes of the integers: the same
	 * JSON as the plain buf writers give */
	char longkey[1500];
	memset(longkey, 'k', sizeof longkey - 1);
	longkey[sizeof longkey - 1] = '\0';
	struct mev_bid y = { .slot = UINT64_MAX, .parent_hash = { NULL, 0 },
			     .block_hash = mk("0x\"b\\\n"), .builder_pubkey = mk(longkey),
			     .proposer_pubkey = mk("\xff"), .proposer_fee_recipient = mk(""),
			     .value = mk("0"), .gas_limit = UINT64_MAX, .gas_used = 0,
			     .slot_time = INT64_MIN };
	const char *tail = ",\"proposer_pubkey\":\"\\ufffd\",\"proposer_fee_recipient\":\"\","
			   "\"value\":\"0\",\"gas_limit\":18446744073709551615,\"gas_used\":0,"
			   "\"slot_time\":-9223372036854775808,\"time_bucket\":-9223372036854775808}";
	struct buf w = { 0 };
	buf_puts(&w, "{\"slot\":18446744073709551615,\"parent_hash\":null,\"block_hash\":");
	buf_json_str(&w, y.block_hash.p, y.block_hash.n);
	buf_puts(&w, ",\"builder_pubkey\":");
	buf_json_str(&w, y.builder_pubkey.p, y.builder_pubkey.n);
	buf_puts(&w, tail);
	mev_bid_json(&b, &y);
	assert_false(w.oom || b.oom);
	assert_string_equal(b.data, w.data);
	buf_free(&w);
	buf_free(&b);
	/* without the long key and the escapes: the fast writer */
	y.block_hash = mk("0xb");
	y.builder_pubkey = mk("0xk");
	mev_bid_json(&b, &y);
	buf_puts(&w, "{\"slot\":18446744073709551615,\"parent_hash\":null,\"block_hash\":\"0xb\","
		     "\"builder_pubkey\":\"0xk\"");
	buf_puts(&w, tail);
	assert_string_equal(b.data, w.data);
	buf_free(&w);
	buf_free(&b);
	/* the one-reservation writer (every string plain) against the general
	 * one: NUL padding, integer extremes, and each byte value in each
	 * string (a byte to escape sends it to the general writer) */
	char pad[68] = "0x1111111111111111111111111111111111111111111111111111111111111111";
	pad[66] = '\0';
	pad[67] = '\0';
	struct mev_bid z = { .slot = UINT64_MAX, .parent_hash = { pad, 68 },
			     .block_hash = mk("0xb"), .builder_pubkey = mk(longkey),
			     .proposer_pubkey = mk("0xq"), .proposer_fee_recipient = mk(""),
			     .value = mk("99999999999999999999999999"), .gas_limit = UINT64_MAX,
			     .gas_used = 0, .slot_time = INT64_MIN };
	for (int c = -1; c < 256; c++) {
		for (int f = 0; f < 6; f++) {
			char t[40] = "0x0123456789abcdef0123456789abcdef";
			struct mev_bid v = z;
			struct sd_str *fs[6] = { &v.parent_hash, &v.block_hash, &v.builder_pubkey,
						 &v.proposer_pubkey, &v.proposer_fee_recipient, &v.value };
			if (c >= 0) {
				t[17] = (char)c;
				fs[f]->p = t;
				fs[f]->n = 34;
			}
			struct buf g1 = { 0 }, g2 = { 0 };
			buf_puts(&g1, "[");
			buf_puts(&g2, "[");
			mev_bid_json(&g1, &v);
			mev_bid_json_general(&g2, &v);
			assert_false(g1.oom || g2.oom);
			assert_int_equal(g1.len, g2.len);
			assert_memory_equal(g1.data, g2.data, g1.len + 1);
			buf_free(&g1);
			buf_free(&g2);
			if (c < 0)
				break;
		}
		z.slot_time = c * 37 - 4000;
		z.slot = (uint64_t)c;
	}
	assert_int_equal(mev_time_bucket(INT64_MIN + 1), INT64_MIN);
	assert_int_equal(mev_time_bucket(INT64_MIN + 50), INT64_MIN + 8); /* -...850 */
	assert_int_equal(mev_time_bucket(INT64_MAX), INT64_MAX - 7);

	/* no item: an empty object */
	mg_begin(&g, &b, "payloads");
	mg_end(&g);
	assert_string_equal(b.data, "{}");
	buf_free(&b);

	struct mev_payload pl = { .slot = 9, .block_hash = mk("0xb"), .proposer_pubkey = mk("0xq"),
				  .proposer_fee_recipient = { NULL, 0 }, .block_number = 18000000 };
	mg_begin(&g, &b, "payloads");
	assert_int_equal(mg_item(&g, "a\"b", 3), 0); /* relay names are escaped */
	mev_payload_json(&b, &pl);
	mg_end(&g);
	assert_string_equal(b.data, "{\"a\\\"b\":{\"payloads\":[{\"slot\":9,\"block_hash\":\"0xb\","
				 "\"block_number\":18000000,\"proposer_pubkey\":\"0xq\","
				 "\"proposer_fee_recipient\":null}]}}");
	json_object *o = json_tokener_parse(b.data);
	assert_non_null(o);
	json_object_put(o);
	buf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_username),      cmocka_unit_test(test_window_start),
		cmocka_unit_test(test_windows_json),  cmocka_unit_test(test_json_strings),
		cmocka_unit_test(test_geo_fallbacks), cmocka_unit_test(test_geo_geonames),
		cmocka_unit_test(test_document),      cmocka_unit_test(test_wei),
		cmocka_unit_test(test_time_bucket),   cmocka_unit_test(test_mev_groups),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
