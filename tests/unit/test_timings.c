/* Unit tests of the timings plugin's pure parts (plugins/timings/compute.c):
 * rounding, size buckets, Python-style floats, both documents, the describe
 * entry (valid JSON from any configured bytes), ISO-8601 state times, the
 * schedule decision and key segments. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "compute.h"

static void test_round_half_even(void **st)
{
	(void)st;
	assert_true(tm_round_half_even(0.5) == 0);
	assert_true(tm_round_half_even(1.5) == 2);
	assert_true(tm_round_half_even(2.5) == 2);
	assert_true(tm_round_half_even(3.5) == 4);
	assert_true(tm_round_half_even(2.4999999) == 2);
	assert_true(tm_round_half_even(2.5000001) == 3);
	assert_true(tm_round_half_even(-0.5) == 0);
	assert_true(tm_round_half_even(-1.5) == -2);
	assert_true(tm_round_half_even(1234.0) == 1234);
	/* the mean of 1001 and 1002 */
	assert_true(tm_round_half_even((1001.0 + 1002.0) / 2) == 1002);
	assert_true(tm_round_half_even((1000.0 + 1001.0) / 2) == 1000);
}

static void test_bucket(void **st)
{
	(void)st;
	assert_int_equal(tm_bucket_kb(0), 32);
	assert_int_equal(tm_bucket_kb(1), 32);
	assert_int_equal(tm_bucket_kb(16384), 32);      /* 0.5 -> 0 -> at least 32 */
	assert_int_equal(tm_bucket_kb(32768), 32);      /* 1.0 */
	assert_int_equal(tm_bucket_kb(49151), 32);      /* 1.49997 */
	assert_int_equal(tm_bucket_kb(49152), 64);      /* 1.5 -> 2 */
	assert_int_equal(tm_bucket_kb(81920), 64);      /* 2.5 -> 2 */
	assert_int_equal(tm_bucket_kb(81921), 96);      /* 2.50003 -> 3 */
	assert_int_equal(tm_bucket_kb(114688), 128);    /* 3.5 -> 4 */
	/* Against the definition in doubles (exact here: total < 2^53). */
	for (uint64_t t = 1; t < 3000000; t += 4093) {
		double r = tm_round_half_even((double)t / 32768.0) * 32;
		assert_int_equal(tm_bucket_kb(t), r < 32 ? 32 : (int64_t)r);
	}
	for (uint64_t q = 0; q < 40; q++)
		for (int c = -1; c <= 1; c++)
			assert_int_equal(tm_bucket_kb_qc((int64_t)q, c),
					 tm_bucket_kb(q * 32768 + (uint64_t)(16384 + c * 100)));
}

static void check_f64(double v, const char *want)
{
	struct buf b = { 0 };
	tm_json_f64(&b, v);
	assert_false(b.oom);
	assert_string_equal(b.data, want);
	buf_free(&b);
}

static void test_float_repr(void **st)
{
	(void)st;
	check_f64(32.0, "32.0");
	check_f64(0.0, "0.0");
	check_f64(0.1, "0.1");
	check_f64(1234.5, "1234.5");
	check_f64(123.456, "123.456");
	check_f64(100000.0, "100000.0");
	check_f64(5999.0, "5999.0");
	check_f64(2.0 / 3.0, "0.6666666666666666");
	check_f64(1e16, "1e+16");
	check_f64(1.5e-05, "1.5e-05");
	check_f64(0.0001, "0.0001");
	check_f64(-2.5, "-2.5");
	check_f64(NAN, "null");
	check_f64(1234567.125, "1234567.125");
}

static void test_block_timings_json(void **st)
{
	(void)st;
	struct tm_bt_row r[2] = {
		{ 1700000000, 100, 5999, 1234.5, 150.5, 1200, 5000.25, 42 },
		{ 1700021600, 7, 8, 7.5, 7, 7.5, 8, 2 },
	};
	struct buf b = { 0 };
	assert_int_equal(tm_block_timings_json(r, 2, &b), 0);
	assert_string_equal(b.data, "{\"timestamps\":[1700000000,1700021600],\"mins\":[100.0,7.0],"
				 "\"maxs\":[5999.0,8.0],\"avgs\":[1234.5,7.5],"
				 "\"p05s\":[150.5,7.0],\"p50s\":[1200.0,7.5],"
				 "\"p95s\":[5000.25,8.0],\"blocks\":[42,2]}");
	buf_free(&b);
	assert_int_equal(tm_block_timings_json(NULL, 0, &b), 0);
	assert_string_equal(b.data, "{\"timestamps\":[],\"mins\":[],\"maxs\":[],\"avgs\":[],"
				 "\"p05s\":[],\"p50s\":[],\"p95s\":[],\"blocks\":[]}");
	buf_free(&b);
}

static void test_size_cdf_json(void **st)
{
	(void)st;
	/* sets: all, mev, non_mev, solo_mev, solo_non_mev */
	struct tm_cdf_group g[] = {
		/* q=2, c=0: 2.5 -> 2 -> 64 KiB */
		{ 2, 0, { 3003, 1001, 2002, 0, 0 }, { 3, 1, 2, 0, 0 }, 0 },
		/* q=1, c=-1 -> 32 KiB */
		{ 1, -1, { 2001, 2001, 0, 2001, 0 }, { 2, 2, 0, 2, 0 }, 0 },
		/* q=0, c=1 -> 1 -> 32 KiB (merged with the group above) */
		{ 0, 1, { 1000, 0, 1000, 0, 1000 }, { 1, 0, 1, 0, 1 }, 0 },
		/* q=1, c=0: 1.5 -> 2 -> 64 KiB (merged with the first) */
		{ 1, 0, { 1000, 0, 1000, 0, 0 }, { 1, 0, 1, 0, 0 }, 0 },
		/* q=3, c=0: 3.5 -> 4 -> 128 KiB, mev only */
		{ 3, 0, { 500, 500, 0, 0, 0 }, { 1, 1, 0, 0, 0 }, 0 },
	};
	struct buf b = { 0 };
	assert_int_equal(tm_size_cdf_json(g, 5, &b), 0);
	/* 32: all (2001+1000)/3 = 1000.33 -> 1000; mev 2001/2 = 1000.5 -> 1000;
	 *     non_mev 1000; solo_mev 1000.5 -> 1000; solo_non_mev 1000.
	 * 64: all 4003/4 = 1000.75 -> 1001; mev 1001; non_mev 3002/3 -> 1001.
	 * 128: all 500, mev 500. */
	assert_string_equal(b.data, "{\"sizes_kb\":[32,64,128],\"arrival_times_ms\":{"
				 "\"all\":[1000.0,1001.0,500.0],\"mev\":[1000.0,1001.0,500.0],"
				 "\"non_mev\":[1000.0,1001.0],\"solo_mev\":[1000.0],"
				 "\"solo_non_mev\":[1000.0]}}");
	buf_free(&b);
	/* .5 means round to even: 1001.5 -> 1002, 1002.5 -> 1002 */
	struct tm_cdf_group h[] = {
		{ 5, -1, { 2003, 2003, 0, 0, 0 }, { 2, 2, 0, 0, 0 }, 0 },
		{ 6, -1, { 2005, 0, 2005, 0, 0 }, { 2, 0, 2, 0, 0 }, 0 },
	};
	assert_int_equal(tm_size_cdf_json(h, 2, &b), 0);
	assert_string_equal(b.data, "{\"sizes_kb\":[160,192],\"arrival_times_ms\":{"
				 "\"all\":[1002.0,1002.0],\"mev\":[1002.0],\"non_mev\":[1002.0],"
				 "\"solo_mev\":[],\"solo_non_mev\":[]}}");
	buf_free(&b);
	assert_int_equal(tm_size_cdf_json(NULL, 0, &b), 0);
	assert_string_equal(b.data, "{\"sizes_kb\":[],\"arrival_times_ms\":{\"all\":[],\"mev\":[],"
				 "\"non_mev\":[],\"solo_mev\":[],\"solo_non_mev\":[]}}");
	buf_free(&b);
}

/* Whether s is well-formed UTF-8 (RFC 3629 table, written independently of
 * common/jsonstr.h) without raw control bytes or DEL, as JSON text must be. */
static int json_text_ok(const char *s, size_t n)
{
	const unsigned char *u = (const unsigned char *)s;
	for (size_t i = 0; i < n;) {
		unsigned c = u[i], lo = 0x80, hi = 0xbf;
		size_t k;
		if (c < 0x20 || c == 0x7f)
			return 0;
		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf)
			k = 1;
		else if (c >= 0xe0 && c <= 0xef)
			k = 2, lo = c == 0xe0 ? 0xa0 : 0x80, hi = c == 0xed ? 0x9f : 0xbf;
		else if (c >= 0xf0 && c <= 0xf4)
			k = 3, lo = c == 0xf0 ? 0x90 : 0x80, hi = c == 0xf4 ? 0x8f : 0xbf;
		else
			return 0;
		for (size_t j = 1; j <= k; j++) {
			if (i + j >= n || u[i + j] < (j == 1 ? lo : 0x80) ||
			    u[i + j] > (j == 1 ? hi : 0xbf))
				return 0;
		}
		i += k + 1;
	}
	return 1;
}

static void test_describe_json(void **st)
{
	(void)st;
	const char *nets[] = { "mainnet", "sepolia" };
	struct tm_window w[] = {
		{ "last_30_days", "6h", "Last 30d", "-720h", 6 * 3600, -720 * 3600 },
		{ "edge", "5m", "Edge \"x\" \\ y", "-20m", 300, -1200 },
	};
	struct buf b = { 0 };
	assert_int_equal(tm_describe_json("beacon_chain_timings", nets, 2, w, 2, &b), 0);
	assert_string_equal(b.data, "{\"enabled\":true,\"description\":\"Beacon chain block timing "
				 "metrics\",\"path_prefix\":\"beacon_chain_timings\","
				 "\"networks\":[\"mainnet\",\"sepolia\"],\"time_windows\":["
				 "{\"file\":\"last_30_days\",\"step\":\"6h\",\"label\":\"Last 30d\","
				 "\"range\":\"-720h\"},{\"file\":\"edge\",\"step\":\"5m\","
				 "\"label\":\"Edge \\\"x\\\" \\\\ y\",\"range\":\"-20m\"}]}");
	buf_free(&b);

	/* Network names and labels come from the configuration: control bytes,
	 * DEL and invalid UTF-8 (lone continuation, truncated and overlong
	 * sequences, a surrogate, 0xff) still give valid JSON; valid UTF-8 stays. */
	const char *bad_nets[] = { "net\x01\n\x7f", "caf\xc3\xa9\x80" };
	struct tm_window bw = { "f", "1h\t", "L\xe2\x82\xac \xe2\x82 \xc0\xaf \xed\xa0\x80 \xff!",
				"-1h\r", 3600, -3600 };
	assert_int_equal(tm_describe_json("p", bad_nets, 2, &bw, 1, &b), 0);
	assert_false(b.oom);
	assert_string_equal(b.data, "{\"enabled\":true,\"description\":\"Beacon chain block timing "
				 "metrics\",\"path_prefix\":\"p\",\"networks\":["
				 "\"net\\u0001\\n\\u007f\",\"caf\xc3\xa9\\ufffd\"],"
				 "\"time_windows\":[{\"file\":\"f\",\"step\":\"1h\\t\","
				 "\"label\":\"L\xe2\x82\xac \\ufffd\\ufffd \\ufffd\\ufffd "
				 "\\ufffd\\ufffd\\ufffd \\ufffd!\",\"range\":\"-1h\\r\"}]}");
	assert_true(json_text_ok(b.data, b.len));
	assert_false(json_text_ok(bw.label, strlen(bw.label))); /* the checker checks */
	assert_false(json_text_ok(bad_nets[0], strlen(bad_nets[0])));
	assert_true(json_text_ok("caf\xc3\xa9 \xf0\x9f\x98\x80", 10));
	buf_free(&b);

	assert_int_equal(tm_describe_json("p", NULL, 0, NULL, 0, &b), 0);
	assert_string_equal(b.data, "{\"enabled\":true,\"description\":\"Beacon chain block timing "
				 "metrics\",\"path_prefix\":\"p\",\"networks\":[],"
				 "\"time_windows\":[]}");
	buf_free(&b);
}

static int64_t parse(const char *s)
{
	int64_t t = -1;
	if (tm_parse_iso8601(s, strlen(s), &t))
		return -1;
	return t;
}

static void test_iso8601(void **st)
{
	(void)st;
	char s[32];
	tm_iso8601(1700000000, s);
	assert_string_equal(s, "2023-11-14T22:13:20+00:00");
	tm_iso8601(0, s);
	assert_string_equal(s, "1970-01-01T00:00:00+00:00");
	assert_int_equal(parse("2023-11-14T22:13:20+00:00"), 1700000000);
	assert_int_equal(parse("2023-11-14T22:13:20.123456+00:00"), 1700000000);
	assert_int_equal(parse("2023-11-14T22:13:20Z"), 1700000000);
	assert_int_equal(parse("2023-11-14T22:13:20"), 1700000000);
	assert_int_equal(parse("2023-11-15T00:13:20+02:00"), 1700000000);
	assert_int_equal(parse("2023-11-14T20:13:20-02:00"), 1700000000);
	assert_int_equal(parse("2024-02-29T00:00:00+00:00"), 1709164800);
	assert_int_equal(parse("1970-01-01T00:00:00+00:00"), 0);
	assert_int_equal(parse(""), -1);
	assert_int_equal(parse("yesterday"), -1);
	assert_int_equal(parse("2023-13-14T22:13:20+00:00"), -1);
	assert_int_equal(parse("2023-11-14T22:13:20+00:00junk"), -1);
	assert_int_equal(parse("2023-11-14T22:13:20."), -1);
	assert_int_equal(parse("2023-11-14T22:13:20+0"), -1);
	for (int64_t t = 0; t < 4000000000; t += 86399 * 97)
		tm_iso8601(t, s), assert_int_equal(parse(s), t);
}

static void test_segments(void **st)
{
	(void)st;
	assert_true(tm_valid_segment("last_30_days"));
	assert_true(tm_valid_segment("a.b-c"));
	assert_false(tm_valid_segment(""));
	assert_false(tm_valid_segment("."));
	assert_false(tm_valid_segment(".."));
	assert_false(tm_valid_segment("a/b"));
	assert_false(tm_valid_segment("a b"));
	assert_true(tm_valid_prefix("beacon_chain_timings"));
	assert_true(tm_valid_prefix("x/beacon_chain_timings"));
	assert_false(tm_valid_prefix("x//y"));
	assert_false(tm_valid_prefix("/x"));
	assert_false(tm_valid_prefix("x/"));
	assert_false(tm_valid_prefix("../x"));
	assert_false(tm_valid_prefix(""));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_half_even), cmocka_unit_test(test_bucket),
		cmocka_unit_test(test_float_repr),      cmocka_unit_test(test_block_timings_json),
		cmocka_unit_test(test_size_cdf_json),   cmocka_unit_test(test_describe_json),
		cmocka_unit_test(test_iso8601),
		cmocka_unit_test(test_segments),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
