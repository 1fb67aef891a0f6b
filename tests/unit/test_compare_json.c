/* labctl-compare's document comparison (tools/compare_json.c): tolerance,
 * integers, order-insensitive paths, --align-windows, --profile original,
 * and refusing what is not a JSON document. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "compare.h"

static struct cmp_opts opts(void)
{
	return (struct cmp_opts){ .tolerance = 1e-6, .max_diffs = 5 };
}

/* Real differences between a and b as document `key`; -1 if not JSON. */
static int real(const char *key, const char *a, const char *b, const struct cmp_opts *o,
		struct doc_result *keep)
{
	struct doc_result r;
	char err[128];
	if (json_compare(key, a, strlen(a), b, strlen(b), o, &r, err, sizeof err) < 0)
		return -1;
	int n = (int)r.n_real;
	if (keep)
		*keep = r;
	else
		doc_result_free(&r);
	return n;
}

static void numbers(void **state)
{
	struct cmp_opts o = opts();
	struct doc_result r;
	(void)state;
	assert_int_equal(real("k.json", "{\"a\":1.0000001}", "{\"a\":1.0}", &o, NULL), 0);
	assert_int_equal(real("k.json", "{\"a\":1.1}", "{\"a\":1.0}", &o, NULL), 1);
	assert_int_equal(real("k.json", "{\"a\":5}", "{\"a\":5.0}", &o, NULL), 0);
	/* integers exactly, whatever the tolerance */
	assert_int_equal(real("k.json", "{\"t\":1714824000}", "{\"t\":1714824300}", &o, NULL), 1);
	assert_int_equal(real("k.json", "{\"a\":[1,{\"b\":true}]}", "{\"a\":[1,{\"b\":false}],\"c\":null}", &o, &r), 2);
	assert_string_equal(r.v[0].path, "$.a[1].b");
	assert_string_equal(r.v[0].a, "true");
	assert_string_equal(r.v[1].path, "$.c");
	assert_null(r.v[1].a);
	doc_result_free(&r);
	/* object key order never matters */
	assert_int_equal(real("k.json", "{\"a\":1,\"b\":2}", "{\"b\":2,\"a\":1}", &o, NULL), 0);
}

static void order(void **state)
{
	struct cmp_opts o = opts();
	(void)state;
	const char *a = "[{\"time\":1,\"countries\":[{\"name\":\"a\",\"value\":1},{\"name\":\"b\",\"value\":2}]}]";
	const char *b = "[{\"time\":1,\"countries\":[{\"name\":\"b\",\"value\":2},{\"name\":\"a\",\"value\":1}]}]";
	assert_int_equal(real("p/countries/mainnet/w.json", a, b, &o, NULL), 0);
	/* the same lists elsewhere keep their order */
	assert_int_equal(real("p/other/w.json", a, b, &o, NULL), 4);
	assert_int_equal(real("p/slots/m/1.json", "{\"attestations\":{\"windows\":[{\"start_ms\":50,\"validator_indices\":[3,1]},{\"start_ms\":0,\"validator_indices\":[2]}]}}",
			      "{\"attestations\":{\"windows\":[{\"start_ms\":0,\"validator_indices\":[2]},{\"start_ms\":50,\"validator_indices\":[1,3]}]}}", &o, NULL),
			 0);
	/* time buckets keep their order */
	assert_int_equal(real("p/users/m/w.json", "[{\"time\":1,\"users\":[]},{\"time\":2,\"users\":[]}]",
			      "[{\"time\":2,\"users\":[]},{\"time\":1,\"users\":[]}]", &o, NULL), 2);
	struct cmp_opts ig = o;
	const char *paths[] = { "[].time" };
	ig.ignore = paths;
	ig.n_ignore = 1;
	assert_int_equal(real("p/users/m/w.json", "[{\"time\":1},{\"time\":2}]", "[{\"time\":2},{\"time\":1}]", &ig, NULL), 0);
	/* processing_time_ms is never compared */
	assert_int_equal(real("b/slots/m/1.json", "{\"processing_time_ms\":3}", "{\"processing_time_ms\":9}", &o, NULL), 0);
}

static void align(void **state)
{
	struct cmp_opts o = opts();
	(void)state;
	const char *a = "{\"timestamps\":[0,10,20,30],\"mins\":[5,1,2,7],\"n\":[1,2,3,4]}";
	const char *b = "{\"timestamps\":[10,20,30,40],\"mins\":[9,2,8,1],\"n\":[9,3,9,9]}";
	assert_int_equal(real("t/w.json", a, b, &o, NULL), 12);
	o.align_windows = 1;
	/* overlap 10..30, less its edges: only 20 is compared */
	assert_int_equal(real("t/w.json", a, b, &o, NULL), 0);
	assert_int_equal(real("t/w.json", "[{\"time\":0,\"v\":1},{\"time\":5,\"v\":2},{\"time\":10,\"v\":3},{\"time\":15,\"v\":0}]",
			      "[{\"time\":5,\"v\":9},{\"time\":10,\"v\":3},{\"time\":15,\"v\":9}]", &o, NULL),
			 0);
	assert_int_equal(real("t/w.json", "[{\"time\":0,\"v\":1},{\"time\":5,\"v\":2},{\"time\":10,\"v\":4},{\"time\":15,\"v\":0}]",
			      "[{\"time\":5,\"v\":9},{\"time\":10,\"v\":3},{\"time\":15,\"v\":9}]", &o, NULL),
			 1);
}

static void profile(void **state)
{
	struct cmp_opts o = opts();
	struct doc_result r;
	(void)state;
	const char *a = "{\"network\":\"beacon_slot\",\"processed_at\":\"x\",\"nodes\":{\"c\":{\"geo\":{\"latitude\":-100,\"longitude\":40}}}}";
	const char *b = "{\"network\":\"mainnet\",\"processed_at\":\"y\",\"nodes\":{\"c\":{\"geo\":{\"latitude\":40,\"longitude\":-100}}}}";
	assert_int_equal(real("beacon/slots/m/1.json", a, b, &o, NULL), 4);
	o.profile_original = 1;
	assert_int_equal(real("beacon/slots/m/1.json", a, b, &o, &r), 0);
	assert_int_equal(r.n_intentional, 3);
	doc_result_free(&r);
	/* not swapped, just different: real */
	assert_int_equal(real("beacon/slots/m/1.json", "{\"nodes\":{\"c\":{\"geo\":{\"latitude\":1,\"longitude\":2}}}}",
			      "{\"nodes\":{\"c\":{\"geo\":{\"latitude\":1,\"longitude\":3}}}}", &o, NULL),
			 1);
	/* a name labd must escape (SPEC §9.2: '?' is never raw) */
	char *k = original_key_to_labd("xatu_public_contributors/user-summaries/users/a?b.json");
	assert_non_null(k);
	assert_string_equal(k, "xatu_public_contributors/user-summaries/users/a%3Fb.json");
	free(k);
	/* names labd stores raw, as the original did: the same key */
	assert_null(original_key_to_labd("xatu_public_contributors/user-summaries/users/alice.json"));
	assert_null(original_key_to_labd("xatu_public_contributors/user-summaries/users/a b.json"));
	assert_null(original_key_to_labd("xatu_public_contributors/user-summaries/users/j\xc3\xbcrgen.json"));
}

static void not_json(void **state)
{
	struct cmp_opts o = opts();
	(void)state;
	assert_int_equal(real("k.json", "not json", "{}", &o, NULL), -1);
	assert_int_equal(real("k.json", "{}", "{} trailing", &o, NULL), -1);
	assert_int_equal(real("k.json", "{\"a\":", "{}", &o, NULL), -1);
	assert_int_equal(real("k.json", "42", "42", &o, NULL), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(numbers), cmocka_unit_test(order), cmocka_unit_test(align),
		cmocka_unit_test(profile), cmocka_unit_test(not_json),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
