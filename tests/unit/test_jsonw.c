/* The SDK 1.3 JSON writer (host/jsonw.c): grammar, latched errors, limits. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "jsonw.h"

static const char *finish(lab_json *j, int *rc)
{
	const char *d = NULL;
	size_t n = 0;
	*rc = jsonw_finish(j, &d, &n);
	if (*rc == 0)
		assert_int_equal(strlen(d), n);
	return d;
}

static void test_nesting_and_commas(void **st)
{
	int rc;
	lab_json *j = jsonw_new();
	jsonw_open(j, '[');
	jsonw_i64(j, -1);
	jsonw_open(j, '{');
	jsonw_key(j, "a", (size_t)-1);
	jsonw_u64(j, 2);
	jsonw_key(j, "b\"", 2);
	jsonw_open(j, '[');
	jsonw_close(j);
	jsonw_close(j);
	jsonw_str(j, NULL, 0); /* NULL string: null */
	jsonw_f64(j, 0.5);
	jsonw_raw(j, " {\"x\":[1]} ", (size_t)-1);
	jsonw_close(j);
	assert_string_equal(finish(j, &rc), "[-1,{\"a\":2,\"b\\\"\":[]},null,0.5, {\"x\":[1]} ]");
	assert_int_equal(rc, 0);
	jsonw_free(j);
}

static void test_errors_latch(void **st)
{
	int rc;
	lab_json *j = jsonw_new();
	jsonw_open(j, '{');
	jsonw_key(j, "k", 1);
	jsonw_key(j, "k2", 2); /* a key where a value is due */
	jsonw_i64(j, 1);       /* ignored after the error */
	jsonw_close(j);
	finish(j, &rc);
	assert_int_equal(rc, LAB_EINVAL);
	jsonw_free(j);

	j = jsonw_new();
	jsonw_open(j, '(');
	finish(j, &rc);
	assert_int_equal(rc, LAB_EINVAL);
	jsonw_free(j);

	j = jsonw_new(); /* two top-level values */
	jsonw_i64(j, 1);
	jsonw_i64(j, 2);
	finish(j, &rc);
	assert_int_equal(rc, LAB_EINVAL);
	jsonw_free(j);

	j = jsonw_new(); /* NaN in raw is not JSON */
	jsonw_raw(j, "NaN", 3);
	finish(j, &rc);
	assert_int_equal(rc, LAB_EPARSE);
	jsonw_free(j);

	j = jsonw_new(); /* close with a key pending */
	jsonw_open(j, '{');
	jsonw_key(j, "k", 1);
	jsonw_close(j);
	finish(j, &rc);
	assert_int_equal(rc, LAB_EINVAL);
	jsonw_free(j);
	jsonw_free(NULL);
	assert_int_equal(jsonw_finish(NULL, NULL, NULL), LAB_EINVAL);
}

static void test_depth(void **st)
{
	int rc;
	lab_json *j = jsonw_new();
	for (int i = 0; i < 64; i++)
		jsonw_open(j, '[');
	for (int i = 0; i < 64; i++)
		jsonw_close(j);
	finish(j, &rc);
	assert_int_equal(rc, 0);
	jsonw_free(j);
	j = jsonw_new();
	for (int i = 0; i < 65; i++)
		jsonw_open(j, '[');
	finish(j, &rc);
	assert_int_equal(rc, LAB_EINVAL);
	jsonw_free(j);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_nesting_and_commas),
		cmocka_unit_test(test_errors_latch),
		cmocka_unit_test(test_depth),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
