/* The one RFC 3339 parser/formatter (common/rfc3339.h): accepted forms,
 * impossible dates refused (Feb 31, Feb 29 of a common year), zones and
 * fractions, and the formatter against gmtime_r over a wide range. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "rfc3339.h"

static int parse(const char *s, int64_t *ms)
{
	return rfc3339_parse(s, strlen(s), 0, ms);
}

static void test_parse_ok(void **st)
{
	static const struct {
		const char *s;
		int64_t ms;
	} ok[] = {
		{ "1970-01-01T00:00:00Z", 0 },
		{ "2025-01-02T03:04:05Z", 1735787045000 },
		{ "2025-01-02t03:04:05.678z", 1735787045678 },
		{ "2025-01-02 03:04:05.6+00:00", 1735787045600 },
		{ "2025-01-02T05:04:05.123456789+02:00", 1735787045123 },
		{ "2025-01-01T22:34:05-04:30", 1735787045000 },
		{ "2024-02-29T00:00:00Z", 1709164800000 },
		{ "2000-02-29T00:00:00Z", 951782400000 },
		{ "1969-12-31T23:59:59Z", -1000 },
		/* a leap second is the next minute's 0 */
		{ "2016-12-31T23:59:60Z", 1483228800000 },
	};
	int64_t ms;
	(void)st;
	for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
		if (parse(ok[i].s, &ms) != 0 || ms != ok[i].ms)
			fail_msg("\"%s\"", ok[i].s);
	}
	/* the zone is optional only when asked */
	assert_int_equal(rfc3339_parse("2025-01-02T03:04:05", 19, RFC3339_ZONE_OPTIONAL, &ms), 0);
	assert_int_equal(ms, 1735787045000);
	/* length-bounded: no NUL needed */
	assert_int_equal(rfc3339_parse("2025-01-02T03:04:05Zjunk", 20, 0, &ms), 0);
	assert_int_equal(ms, 1735787045000);
}

static void test_parse_refused(void **st)
{
	static const char *bad[] = {
		"", "2025", "2025-01-02", "2025-01-02T03:04:05", "2025-01-02T03:04Z",
		"2025-02-31T00:00:00Z", "2023-02-29T00:00:00Z", "1900-02-29T00:00:00Z",
		"2025-04-31T00:00:00Z", "2025-13-01T00:00:00Z", "2025-00-01T00:00:00Z",
		"2025-01-00T00:00:00Z", "2025-01-02T24:00:00Z", "2025-01-02T03:60:00Z",
		"2025-01-02T03:04:61Z", "2025-01-02T03:04:05.Z", "2025-01-02T03:04:05+0200",
		"2025-01-02T03:04:05+24:00", "2025-01-02T03:04:05+02:60", "2025-01-02T03:04:05Zx",
		"2025-1-02T03:04:05Z", "+025-01-02T03:04:05Z", " 2025-01-02T03:04:05Z",
		"2025-01-02X03:04:05Z", "2025-01-02T03:04:05+02:0",
	};
	int64_t ms = 42;
	(void)st;
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		if (parse(bad[i], &ms) == 0)
			fail_msg("accepted \"%s\"", bad[i]);
	}
	assert_int_equal(ms, 42);
	assert_int_equal(rfc3339_parse(NULL, 0, 0, &ms), -1);
}

static void test_format(void **st)
{
	char out[RFC3339_MAX];
	int64_t ms;
	(void)st;
	assert_int_equal(rfc3339_format(out, 1714824179, -1, 0), 25);
	assert_string_equal(out, "2024-05-04T12:02:59+00:00");
	assert_int_equal(rfc3339_format(out, 0, 5000, 0), 32);
	assert_string_equal(out, "1970-01-01T00:00:00.005000+00:00");
	assert_int_equal(rfc3339_format(out, 1735787045, -1, 1), 20);
	assert_string_equal(out, "2025-01-02T03:04:05Z");
	rfc3339_format(out, -1, -1, 1);
	assert_string_equal(out, "1969-12-31T23:59:59Z");
	rfc3339_format(out, 253402300799, 999999, 0);
	assert_string_equal(out, "9999-12-31T23:59:59.999999+00:00");
	assert_int_equal(rfc3339_format(out, 253402300800, -1, 0), 0);
	assert_string_equal(out, "");
	assert_int_equal(rfc3339_format(out, -62167219201, -1, 0), 0);
	assert_int_equal(rfc3339_format(out, INT64_MIN, -1, 0), 0);
	assert_int_equal(rfc3339_format(out, INT64_MAX, -1, 0), 0);
	/* against gmtime_r (whose %Y pads only from year 1000), and back through the parser */
	for (int64_t t = -30610224000; t < 253402300799; t += 86399 * 37 + 13) {
		struct tm tm;
		time_t tt = (time_t)t;
		char want[64];
		assert_non_null(gmtime_r(&tt, &tm));
		strftime(want, sizeof want, "%Y-%m-%dT%H:%M:%SZ", &tm);
		rfc3339_format(out, t, -1, 1);
		assert_string_equal(out, want);
		assert_int_equal(parse(out, &ms), 0);
		assert_true(ms == t * 1000);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_ok),
		cmocka_unit_test(test_parse_refused),
		cmocka_unit_test(test_format),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
