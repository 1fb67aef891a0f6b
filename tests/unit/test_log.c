#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "log.h"

static char out[8192];

/* Runs fn with the log going to a pipe, returns what was written. */
static const char *capture(int level, int format, void (*fn)(void))
{
	int p[2];
	assert_int_equal(pipe(p), 0);
	log_setup(level, format, p[1]);
	fn();
	close(p[1]);
	ssize_t n = read(p[0], out, sizeof out - 1);
	close(p[0]);
	out[n > 0 ? n : 0] = '\0';
	log_setup(LAB_LOG_INFO, LOG_FORMAT_LOGFMT, 2);
	return out;
}

static void emit_fields(void)
{
	log_kv(LAB_LOG_INFO, "beacon", "slot stored", LAB_FS("network", "mainnet"),
	       LAB_FI("slot", 123), LAB_FS("client", "a b\"c"));
}

static void test_logfmt(void **st)
{
	const char *s = capture(LAB_LOG_INFO, LOG_FORMAT_LOGFMT, emit_fields);
	assert_non_null(strstr(s, "ts="));
	assert_non_null(strstr(s, " level=info plugin=beacon msg=\"slot stored\" network=mainnet slot=123 client=\"a b\\\"c\"\n"));
	assert_int_equal(strncmp(s, "ts=", 3), 0);
	assert_int_equal(s[strlen(s) - 1], '\n');
}

static void test_json(void **st)
{
	const char *s = capture(LAB_LOG_INFO, LOG_FORMAT_JSON, emit_fields);
	json_object *o = json_tokener_parse(s);
	assert_non_null(o);
	json_object *v;
	assert_true(json_object_object_get_ex(o, "msg", &v));
	assert_string_equal(json_object_get_string(v), "slot stored");
	assert_true(json_object_object_get_ex(o, "slot", &v));
	assert_int_equal(json_object_get_int64(v), 123);
	assert_true(json_object_object_get_ex(o, "client", &v));
	assert_string_equal(json_object_get_string(v), "a b\"c");
	assert_true(json_object_object_get_ex(o, "level", &v));
	assert_string_equal(json_object_get_string(v), "info");
	json_object_put(o);
}

static void emit_debug(void) { log_msg(LAB_LOG_DEBUG, NULL, "hidden %d", 1); }

static void test_level_filter(void **st)
{
	assert_string_equal(capture(LAB_LOG_INFO, LOG_FORMAT_LOGFMT, emit_debug), "");
	assert_non_null(strstr(capture(LAB_LOG_DEBUG, LOG_FORMAT_LOGFMT, emit_debug), "msg=\"hidden 1\""));
}

static void emit_hostile(void)
{
	log_kv(LAB_LOG_WARN, NULL, "x", LAB_FS("name", "evil\nlevel=error msg=forged"));
}

static void test_no_line_injection(void **st)
{
	const char *s = capture(LAB_LOG_INFO, LOG_FORMAT_LOGFMT, emit_hostile);
	assert_null(strchr(s, '\n') == s + strlen(s) - 1 ? NULL : "more than one line");
	assert_non_null(strstr(s, "name=\"evil\\nlevel=error msg=forged\""));
}

static void test_parse(void **st)
{
	assert_int_equal(log_level_parse("debug"), LAB_LOG_DEBUG);
	assert_int_equal(log_level_parse("error"), LAB_LOG_ERROR);
	assert_int_equal(log_level_parse("loud"), -1);
	assert_int_equal(log_format_parse("json"), LOG_FORMAT_JSON);
	assert_int_equal(log_format_parse("xml"), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_logfmt),
		cmocka_unit_test(test_json),
		cmocka_unit_test(test_level_filter),
		cmocka_unit_test(test_no_line_injection),
		cmocka_unit_test(test_parse),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
