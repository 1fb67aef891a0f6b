/* SDK 1.1 options: the host checks declared ranges, allowed values and key
 * rules before init and reports each violation as
 * "FILE:LINE: setting 'plugins.NAME.PATH': REASON"; it refuses bad
 * declarations (a default outside its range, a binding of the wrong size);
 * lab_cfg_bind fills the plugin's struct; --describe prints the checks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"
#include "plugin_decls.h"

static char conf[64];
static char err[1024];

struct net {
	int64_t lag;
	int64_t concurrency;
	int mev;
	double ratio;
};

struct cfg {
	const char *mode;
	int64_t delay;
	int64_t period;
	const char *prefix;
	int64_t untouched;
};

static const lab_option net_opts[] = {
	{ .name = "lag", .type = LAB_SET_INT, .def = "3", LAB_RANGE(0, 100), LAB_BIND(struct net, lag) },
	{ .name = "backfill", .type = LAB_SET_GROUP,
	  .children = (const lab_option[]){
		  { .name = "concurrency", .type = LAB_SET_INT, .def = "16", LAB_RANGE(1, 256),
		    LAB_BIND(struct net, concurrency) },
		  { 0 } } },
	{ .name = "mev", .type = LAB_SET_BOOL, .def = "true", LAB_BIND(struct net, mev) },
	{ .name = "ratio", .type = LAB_SET_DOUBLE, .def = "0.5", LAB_BIND(struct net, ratio) },
	{ 0 },
};

static const lab_option opts[] = {
	{ .name = "mode", .type = LAB_SET_STRING, .def = "fast", LAB_ALLOWED("fast", "slow"),
	  LAB_BIND(struct cfg, mode) },
	{ .name = "delay", .type = LAB_SET_INT, .def = "500", LAB_RANGE(0, 11000),
	  LAB_BIND(struct cfg, delay) },
	{ .name = "period", .type = LAB_SET_DURATION, .def = "1h", LAB_MIN(1), LAB_MAX(86400),
	  LAB_BIND(struct cfg, period) },
	{ .name = "prefix", .type = LAB_SET_STRING, .def = "p", .flags = LAB_SETTING_KEY_PREFIX,
	  LAB_BIND(struct cfg, prefix) },
	{ .name = "names", .type = LAB_SET_STRINGS, .flags = LAB_SETTING_KEY_SEGMENT },
	{ .name = "kinds", .type = LAB_SET_STRINGS, LAB_ALLOWED("a", "b") },
	{ .name = "untouched", .type = LAB_SET_INT, LAB_BIND(struct cfg, untouched) },
	{ .name = "networks", .type = LAB_SET_MAP, .children = net_opts },
	{ 0 },
};

static struct config *load(const char *text)
{
	struct config *c = NULL;
	FILE *f = fopen(conf, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	if (config_load(conf, NULL, 0, &c, err, sizeof err))
		fail_msg("load: %s", err);
	return c;
}

/* Validates plugin `t`'s section (text inside "plugins = { t = { ... }; };"). */
static int check(const char *section, const lab_option *o, struct config **c)
{
	char text[2048];
	struct plugin_decls pd;
	snprintf(text, sizeof text, "plugins = { t = {\n%s\n}; };\n", section);
	*c = load(text);
	assert_int_equal(plugin_decls_of_options(&pd, o, sizeof(lab_option), 17), 0);
	err[0] = '\0';
	int rc = config_validate_plugin_decls(*c, config_plugin(*c, "t"), &pd, err, sizeof err);
	plugin_decls_free(&pd);
	return rc;
}

static void fails(const char *section, const char *want)
{
	struct config *c;
	char full[1200];
	assert_int_equal(check(section, opts, &c), LAB_ECONFIG);
	snprintf(full, sizeof full, "%s:%s", conf, want);
	if (strcmp(err, full) != 0)
		fail_msg("got  \"%s\"\nwant \"%s\"", err, full);
	config_free(c);
}

static void test_violations(void **st)
{
	struct config *c;
	(void)st;
	assert_int_equal(check("mode = \"slow\"; delay = 0; period = \"1d\"; names = [\"a.b\"];"
			       "kinds = [\"b\"]; networks = { m = { lag = 100; }; };", opts, &c), 0);
	config_free(c);
	fails("delay = 11001;", "2: setting 'plugins.t.delay': must be between 0 and 11000");
	fails("delay = -1;", "2: setting 'plugins.t.delay': must be between 0 and 11000");
	fails("\nperiod = \"0s\";", "3: setting 'plugins.t.period': must be between 1s and 86400s");
	fails("period = \"2d\";", "2: setting 'plugins.t.period': must be between 1s and 86400s");
	fails("mode = \"medium\";", "2: setting 'plugins.t.mode': must be one of \"fast\", \"slow\"");
	fails("kinds = [\"a\", \"c\"];", "2: setting 'plugins.t.kinds[1]': must be one of \"a\", \"b\"");
	fails("names = [\"ok\", \"j\xc3\xbcrgen\"];",
	      "2: setting 'plugins.t.names[1]': must be one key segment of 1 to 128 characters "
	      "[A-Za-z0-9._-], not . or ..");
	fails("prefix = \"../up\";", "2: setting 'plugins.t.prefix': must be a relative storage key "
	      "prefix like \"a/b\" (no empty, . or .. segment, no control character or backslash, "
	      "at most 256 bytes)");
	fails("networks = { m = {\nbackfill = { concurrency = 0; }; }; };",
	      "3: setting 'plugins.t.networks.m.backfill.concurrency': must be between 1 and 256");
	/* The value itself is never quoted (it may be a secret). */
	fails("mode = \"s3cr3t\";", "2: setting 'plugins.t.mode': must be one of \"fast\", \"slow\"");
}

/* LAB_ALLOWED makes a compound literal: static tables at file scope only. */
static const lab_option notallowed[] = {
	{ .name = "s", .type = LAB_SET_STRING, .def = "c", LAB_ALLOWED("a", "b") }, { 0 } };

static void test_bad_declarations(void **st)
{
	struct config *c;
	(void)st;
	static const lab_option outside[] = {
		{ .name = "n", .type = LAB_SET_INT, .def = "0", LAB_MIN(1) }, { 0 } };
	static const lab_option inverted[] = {
		{ .name = "n", .type = LAB_SET_INT, LAB_RANGE(5, 1) }, { 0 } };
	static const lab_option badbind[] = {
		{ .name = "b", .type = LAB_SET_BOOL, LAB_BIND(struct cfg, delay) }, { 0 } };
	static const lab_option listbind[] = {
		{ .name = "l", .type = LAB_SET_STRINGS, LAB_BIND(struct cfg, mode) }, { 0 } };
	static const lab_option rangedstr[] = {
		{ .name = "s", .type = LAB_SET_STRING, LAB_MAX(3) }, { 0 } };
	const struct {
		const lab_option *o;
		const char *why;
	} cases[] = {
		{ outside, "plugin t: setting 'n': bad declaration: default is outside min/max" },
		{ inverted, "plugin t: setting 'n': bad declaration: min is above max" },
		{ notallowed, "plugin t: setting 's': bad declaration: default is not an allowed value" },
		{ badbind, "plugin t: setting 'b': bad declaration: bound member has the wrong size for the type" },
		{ listbind, "plugin t: setting 'l': bad declaration: a setting of this type cannot be bound" },
		{ rangedstr, "plugin t: setting 's': bad declaration: min/max on a type other than integer or duration" },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		assert_int_equal(check("", cases[i].o, &c), LAB_ECONFIG);
		assert_string_equal(err, cases[i].why);
		config_free(c);
	}
}

static void test_bind(void **st)
{
	struct config *c;
	struct plugin_decls pd;
	struct cfg v = { .untouched = 42 };
	struct net n = { 0 };
	const lab_cfg *m;
	(void)st;
	assert_int_equal(check("mode = \"slow\"; period = \"2h\";\n"
			       "networks = { m = { backfill = { concurrency = 4; }; mev = false; }; };",
			       opts, &c), 0);
	const config_setting_t *sec = config_plugin(c, "t")->section;
	assert_int_equal(plugin_decls_of_options(&pd, opts, sizeof(lab_option), 17), 0);
	assert_int_equal(cfgapi_bind(sec, &pd, NULL, &v), 0);
	assert_string_equal(v.mode, "slow");
	assert_int_equal(v.delay, 500);     /* default */
	assert_int_equal(v.period, 7200);   /* duration in seconds */
	assert_string_equal(v.prefix, "p");
	assert_int_equal(v.untouched, 42);  /* bound, but no value and no default */
	assert_int_equal(cfgapi_elem(sec, NULL, "networks", 0, &m), 0);
	assert_int_equal(cfgapi_bind(sec, &pd, m, &n), 0);
	assert_int_equal(n.lag, 3);
	assert_int_equal(n.concurrency, 4); /* inside a group: same struct */
	assert_int_equal(n.mev, 0);
	assert_true(n.ratio == 0.5);
	assert_int_equal(cfgapi_bind(sec, &pd, NULL, NULL), LAB_EINVAL);
	plugin_decls_free(&pd);
	config_free(c);
}

/* A plugin built with a larger lab_option (a later minor) is read with its
 * stride: the host sees the members it knows. */
struct option_v9 {
	lab_option o;
	int64_t later_member;
};

/* lab_cfg_error's text: the node's file and line, or the section's for a
 * setting not in the file, or no line when the plugin has no section. */
static void test_cfg_error(void **st)
{
	struct config *c;
	struct plugin_decls pd;
	const lab_cfg *m;
	char e[512], want[512];
	(void)st;
	assert_int_equal(check("networks = {\n m = { lag = 1; }; };", opts, &c), 0);
	const config_setting_t *sec = config_plugin(c, "t")->section;
	assert_int_equal(plugin_decls_of_options(&pd, opts, sizeof(lab_option), 17), 0);
	assert_int_equal(cfgapi_elem(sec, NULL, "networks", 0, &m), 0);
	cfgapi_error(sec, pd.settings, "t", m, "lag", "two targets", e, sizeof e);
	snprintf(want, sizeof want, "%s:3: setting 'plugins.t.networks.m.lag': two targets", conf);
	assert_string_equal(e, want);
	cfgapi_error(sec, pd.settings, "t", m, "backfill", "two targets", e, sizeof e);
	snprintf(want, sizeof want, "%s:3: setting 'plugins.t.networks.m.backfill': two targets", conf);
	assert_string_equal(e, want);
	cfgapi_error(NULL, pd.settings, "t", NULL, "networks", "none", e, sizeof e);
	assert_string_equal(e, "?: setting 'plugins.t.networks': none");
	plugin_decls_free(&pd);
	config_free(c);
}

static void test_stride(void **st)
{
	struct plugin_decls pd;
	(void)st;
	static const struct option_v9 wide[] = {
		{ { .name = "delay", .type = LAB_SET_INT, .def = "5", LAB_RANGE(1, 9) }, 77 },
		{ { .name = "mode", .type = LAB_SET_STRING }, 78 },
		{ { 0 }, 0 },
	};
	assert_int_equal(plugin_decls_of_options(&pd, &wide[0].o, sizeof wide[0], 17), 0);
	assert_string_equal(pd.settings[0].name, "delay");
	assert_string_equal(pd.settings[1].name, "mode");
	assert_null(pd.settings[2].name);
	const lab_option *o = plugin_decls_option(&pd, &pd.settings[0]);
	assert_non_null(o);
	assert_int_equal(o->max, 9);
	assert_null(plugin_decls_option(&pd, &pd.settings[0] + 3));
	plugin_decls_free(&pd);
}

static void test_describe(void **st)
{
	struct plugin_decls pd;
	char *text = NULL;
	size_t len = 0;
	(void)st;
	assert_int_equal(plugin_decls_of_options(&pd, opts, sizeof(lab_option), 17), 0);
	FILE *f = open_memstream(&text, &len);
	config_describe_decls("t", &pd, f);
	fclose(f);
	assert_non_null(strstr(text, "| `mode` | string, one of \"fast\", \"slow\" | `fast` |"));
	assert_non_null(strstr(text, "| `delay` | integer, between 0 and 11000 | `500` |"));
	assert_non_null(strstr(text, "| `period` | duration, between 1s and 86400s | `1h` |"));
	assert_non_null(strstr(text, "| `prefix` | string, storage key prefix | `p` |"));
	assert_non_null(strstr(text, "| `networks.<name>.backfill.concurrency` | integer, between 1 and 256 | `16` |"));
	free(text);
	plugin_decls_free(&pd);
}

int main(void)
{
	snprintf(conf, sizeof conf, "/tmp/labd-options-%ld.conf", (long)getpid());
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_violations),
		cmocka_unit_test(test_bad_declarations),
		cmocka_unit_test(test_bind),
		cmocka_unit_test(test_cfg_error),
		cmocka_unit_test(test_stride),
		cmocka_unit_test(test_describe),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	unlink(conf);
	return rc;
}
