/* Configuration: loading, ${} substitution, -D, host schema, plugin
 * validation, the lab_cfg getters and --describe. */
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"
#include "log.h"

#define END { NULL, 0, NULL, NULL, NULL, 0 }
#define REQ LAB_SETTING_REQUIRED

static char tmpdir[256];
static char conf[512];
static char err[1024];
static char expect[1024];

static int rm_entry(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb; (void)flag; (void)ftw;
	return remove(p);
}

static int group_setup(void **st)
{
	(void)st;
	snprintf(tmpdir, sizeof tmpdir, "/tmp/labd-test-config-XXXXXX");
	if (!mkdtemp(tmpdir))
		return -1;
	snprintf(conf, sizeof conf, "%s/t.conf", tmpdir);
	return 0;
}

static int group_teardown(void **st)
{
	(void)st;
	return nftw(tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
}

static int load(const char *text, const char *const *ov, size_t n, struct config **c)
{
	write_file(conf, text);
	*c = NULL;
	err[0] = '\0';
	int rc = config_load(conf, ov, n, c, err, sizeof err);
	if (rc)
		assert_null(*c);
	else
		assert_non_null(*c);
	return rc;
}

/* Loading `text` fails with exactly "t.conf:LINE: setting 'SETTING': ..." (LINE 0: none). */
static void load_fails_at(const char *text, int line, const char *setting)
{
	struct config *c;
	assert_int_equal(load(text, NULL, 0, &c), LAB_ECONFIG);
	if (line)
		snprintf(expect, sizeof expect, "%s:%d: setting '%s': ", conf, line, setting);
	else
		snprintf(expect, sizeof expect, "%s: setting '%s': ", conf, setting);
	if (strncmp(err, expect, strlen(expect)) != 0)
		fail_msg("got \"%s\", want prefix \"%s\"", err, expect);
	assert_null(strchr(err, '\n'));
}

static const char full_conf[] =
	"log = { level = \"debug\"; format = \"json\"; };\n"
	"admin = { listen = \"127.0.0.1:9999\"; token = \"tok\"; };\n"
	"plugin_dir = \"/opt/lab/plugins\";\n"
	"state = { flush_interval = \"5m\"; };\n"
	"reload = { drain_timeout = \"3s\"; };\n"
	"storage = { backend = \"s3\"; fs = { root = \"/srv/data\"; };\n"
	"  s3 = { endpoint = \"http://127.0.0.1:9000\"; region = \"eu-west-1\"; bucket = \"b\";\n"
	"         access_key_id = \"AK\"; secret_access_key = \"SK\"; }; };\n"
	"clickhouse = { url = \"http://ch:8123\"; database = \"xatu\"; user = \"u\";\n"
	"  password = \"pw\"; timeout = \"2m\"; max_concurrency = 16; };\n"
	"broker = { backend = \"nats\"; nats = { url = \"nats://n:4222\"; }; subject_prefix = \"dev.lab\"; };\n"
	"ethereum = { networks = (\n"
	"  { name = \"mainnet\"; genesis_time = 1606824023; config_file = \"networks/mainnet.yaml\";\n"
	"    validator_set = ( { range = \"0-999\"; entity = \"a\"; }, { range = \"4242\"; entity = \"b\"; } ); },\n"
	"  { name = \"holesky\"; genesis_time = 1695902400; config_url = \"https://x/config.yaml\"; } ); };\n"
	"plugins = { example = { interval = \"10s\"; };\n"
	"  beacon = { enabled = false; path = \"/x/beacon.so\"; }; };\n";

static void test_full(void **st)
{
	struct config *c;
	(void)st;
	assert_int_equal(load(full_conf, NULL, 0, &c), 0);
	const struct host_conf *h = &c->host;
	assert_string_equal(h->file, conf);
	assert_int_equal(h->log_level, LAB_LOG_DEBUG);
	assert_int_equal(h->log_format, LOG_FORMAT_JSON);
	assert_string_equal(h->admin_listen, "127.0.0.1:9999");
	assert_int_equal(h->admin_listen_set, 1);
	assert_string_equal(h->admin_token, "tok");
	assert_string_equal(h->plugin_dir, "/opt/lab/plugins");
	assert_int_equal(h->state_flush_interval, 300);
	assert_int_equal(h->drain_timeout, 3);
	assert_string_equal(h->storage_backend, "s3");
	assert_string_equal(h->fs_root, "/srv/data");
	assert_string_equal(h->s3_endpoint, "http://127.0.0.1:9000");
	assert_string_equal(h->s3_region, "eu-west-1");
	assert_string_equal(h->s3_bucket, "b");
	assert_string_equal(h->s3_access_key_id, "AK");
	assert_string_equal(h->s3_secret_access_key, "SK");
	assert_string_equal(h->ch_url, "http://ch:8123");
	assert_string_equal(h->ch_database, "xatu");
	assert_string_equal(h->ch_user, "u");
	assert_string_equal(h->ch_password, "pw");
	assert_int_equal(h->ch_timeout, 120);
	assert_int_equal(h->ch_max_concurrency, 16);
	assert_string_equal(h->broker_backend, "nats");
	assert_string_equal(h->nats_url, "nats://n:4222");
	assert_string_equal(h->subject_prefix, "dev.lab");
	assert_int_equal(h->n_networks, 2);
	assert_string_equal(h->networks[0].name, "mainnet");
	assert_int_equal(h->networks[0].genesis_time, 1606824023);
	snprintf(expect, sizeof expect, "%s/networks/mainnet.yaml", tmpdir);
	assert_string_equal(h->networks[0].config_file, expect);
	assert_null(h->networks[0].config_url);
	assert_non_null(h->networks[0].node);
	assert_int_equal(h->networks[0].n_validators, 2);
	assert_int_equal(h->networks[0].validators[0].lo, 0);
	assert_int_equal(h->networks[0].validators[0].hi, 999);
	assert_string_equal(h->networks[0].validators[0].entity, "a");
	assert_int_equal(h->networks[0].validators[1].lo, 4242);
	assert_int_equal(h->networks[0].validators[1].hi, 4242);
	assert_string_equal(h->networks[1].name, "holesky");
	assert_null(h->networks[1].config_file);
	assert_string_equal(h->networks[1].config_url, "https://x/config.yaml");
	assert_int_equal(h->networks[1].n_validators, 0);
	assert_int_equal(h->n_plugins, 2);
	const struct plugin_conf *p = config_plugin(c, "example");
	assert_ptr_equal(p, &h->plugins[0]);
	assert_int_equal(p->enabled, 1);
	assert_string_equal(p->path, "/opt/lab/plugins/example.so");
	assert_non_null(p->section);
	p = config_plugin(c, "beacon");
	assert_non_null(p);
	assert_int_equal(p->enabled, 0);
	assert_string_equal(p->path, "/x/beacon.so");
	assert_null(config_plugin(c, "timings"));
	config_free(c);
}

static void test_defaults(void **st)
{
	struct config *c;
	(void)st;
	assert_int_equal(load("# nothing\n", NULL, 0, &c), 0);
	const struct host_conf *h = &c->host;
	assert_int_equal(h->log_level, LAB_LOG_INFO);
	assert_int_equal(h->log_format, LOG_FORMAT_LOGFMT);
	assert_string_equal(h->admin_listen, "127.0.0.1:9470");
	assert_int_equal(h->admin_listen_set, 0);
	assert_string_equal(h->admin_token, "");
	assert_string_equal(h->plugin_dir, LAB_PLUGINDIR);
	assert_int_equal(h->state_flush_interval, 60);
	assert_int_equal(h->drain_timeout, 10);
	assert_int_equal(h->retry_initial, 1);
	assert_int_equal(h->retry_max, 300);
	assert_string_equal(h->storage_backend, "fs");
	assert_string_equal(h->fs_root, "/var/lib/lab/data");
	assert_string_equal(h->s3_endpoint, "");
	assert_string_equal(h->s3_region, "us-east-1");
	assert_string_equal(h->s3_bucket, "lab-data");
	assert_string_equal(h->ch_url, "http://127.0.0.1:8123");
	assert_string_equal(h->ch_database, "default");
	assert_string_equal(h->ch_user, "default");
	assert_string_equal(h->ch_password, "");
	assert_int_equal(h->ch_timeout, 60);
	assert_int_equal(h->ch_max_concurrency, 8);
	assert_int_equal(h->ch_probe_interval, 10);
	assert_int_equal(h->work_max_per_plugin, 2);
	assert_string_equal(h->broker_backend, "local");
	assert_string_equal(h->nats_url, "nats://127.0.0.1:4222");
	assert_string_equal(h->subject_prefix, "lab");
	assert_int_equal(h->n_networks, 0);
	assert_int_equal(h->n_plugins, 0);
	config_free(c);
	/* An explicitly empty listen counts as set (and disables the endpoint). */
	assert_int_equal(load("admin = { listen = \"\"; };", NULL, 0, &c), 0);
	assert_string_equal(c->host.admin_listen, "");
	assert_int_equal(c->host.admin_listen_set, 1);
	config_free(c);
}

static void test_read_errors(void **st)
{
	struct config *c = NULL;
	char path[600];
	(void)st;
	snprintf(path, sizeof path, "%s/absent.conf", tmpdir);
	assert_int_equal(config_load(path, NULL, 0, &c, err, sizeof err), LAB_ECONFIG);
	assert_null(c);
	snprintf(expect, sizeof expect, "%s: cannot read: No such file or directory", path);
	assert_string_equal(err, expect);
	assert_int_equal(config_load(tmpdir, NULL, 0, &c, err, sizeof err), LAB_ECONFIG);
	snprintf(expect, sizeof expect, "%s: cannot read: Is a directory", tmpdir);
	assert_string_equal(err, expect);

	assert_int_equal(load("log = { level = \"info\"; };\nadmin = { listen = ;\n", NULL, 0, &c),
			 LAB_ECONFIG);
	snprintf(expect, sizeof expect, "%s:2: syntax error", conf);
	assert_string_equal(err, expect);
	assert_int_equal(load("a = 1;\n\na = 2;\n", NULL, 0, &c), LAB_ECONFIG);
	snprintf(expect, sizeof expect, "%s:3: duplicate setting name", conf);
	assert_string_equal(err, expect);
	/* Nesting deeper than libconfig's parser stack is a parse error, not a crash. */
	size_t depth = 20000, len = depth * 8 + 64, n = 0;
	char *deep = malloc(len);
	assert_non_null(deep);
	n += (size_t)snprintf(deep + n, len - n, "plugins = { x = { y = ");
	for (size_t i = 0; i < depth; i++)
		n += (size_t)snprintf(deep + n, len - n, "(");
	for (size_t i = 0; i < depth; i++)
		n += (size_t)snprintf(deep + n, len - n, ")");
	snprintf(deep + n, len - n, "; }; };\n");
	assert_int_equal(load(deep, NULL, 0, &c), LAB_ECONFIG);
	snprintf(expect, sizeof expect, "%s:1: ", conf);
	assert_int_equal(strncmp(err, expect, strlen(expect)), 0);
	free(deep);
}

static void test_includes(void **st)
{
	struct config *c;
	char inc[600];
	(void)st;
	snprintf(inc, sizeof inc, "%s/inc.conf", tmpdir);
	write_file(inc, "clickhouse = { max_concurrency = 3; };\n");
	assert_int_equal(load("@include \"inc.conf\"\nlog = { level = \"warn\"; };\n", NULL, 0, &c), 0);
	assert_int_equal(c->host.ch_max_concurrency, 3);
	assert_int_equal(c->host.log_level, LAB_LOG_WARN);
	config_free(c);
	write_file(inc, "\nclickhouse = { max_concurrency = 0; };\n");
	assert_int_equal(load("@include \"inc.conf\"\n", NULL, 0, &c), LAB_ECONFIG);
	/* libconfig 1.5 names an included file as the @include line wrote it */
	snprintf(expect, sizeof expect, "inc.conf:2: setting 'clickhouse.max_concurrency': ");
	if (strncmp(err, expect, strlen(expect)) != 0)
		fail_msg("got \"%s\", want prefix \"%s\"", err, expect);
}

static void test_unknown_and_types(void **st)
{
	(void)st;
	load_fails_at("log = {};\nfoo = 1;\n", 2, "foo");
	assert_non_null(strstr(err, "unknown setting"));
	load_fails_at("log = {\n  levle = \"debug\";\n};\n", 2, "log.levle");
	assert_non_null(strstr(err, "unknown setting (did you mean 'level'?)"));
	load_fails_at("ethereum = { networks = ( { name = \"a\"; genesis_time = 1;\n"
		      "  validator_set = ( { range = \"1\"; entity = \"e\"; colour = 1; } ); } ); };",
		      2, "ethereum.networks[0].validator_set[0].colour");
	load_fails_at("clickhouse = {\n max_concurrency = \"8\";\n};\n", 2,
		      "clickhouse.max_concurrency");
	assert_non_null(strstr(err, "wrong type: expected an integer, got a string"));
	load_fails_at("log = \"debug\";\n", 1, "log");
	assert_non_null(strstr(err, "expected a group"));
	load_fails_at("ethereum = { networks = { a = 1; }; };\n", 1, "ethereum.networks");
	load_fails_at("ethereum = { networks = ( 1 ); };\n", 1, "ethereum.networks[0]");
	load_fails_at("ethereum = { networks = ( { name = \"a\"; } ); };\n", 1,
		      "ethereum.networks[0].genesis_time");
	assert_non_null(strstr(err, "required setting is missing"));
	load_fails_at("state = { flush_interval = 60; };\n", 1, "state.flush_interval");
	load_fails_at("plugins = { x = true; };\n", 1, "plugins.x");
	load_fails_at("plugins = { x = { enabled = \"yes\"; }; };\n", 1, "plugins.x.enabled");
	load_fails_at("plugins = {\n Bad-Name = { }; };\n", 2, "plugins.Bad-Name");
	load_fails_at("log = { level = \"verbose\"; };\n", 1, "log.level");
	load_fails_at("log = { format = \"xml\"; };\n", 1, "log.format");
	load_fails_at("storage = { backend = \"gcs\"; };\n", 1, "storage.backend");
	load_fails_at("broker = { backend = \"kafka\"; };\n", 1, "broker.backend");
	load_fails_at("broker = { subject_prefix = \"a.*\"; };\n", 1, "broker.subject_prefix");
	load_fails_at("clickhouse = { max_concurrency = 257; };\n", 1, "clickhouse.max_concurrency");
	load_fails_at("clickhouse = { timeout = \"0s\"; };\n", 1, "clickhouse.timeout");
	load_fails_at("plugin_dir = \"\";\n", 1, "plugin_dir");
	/* s3 needs its endpoint and keys */
	load_fails_at("storage = { backend = \"s3\";\n s3 = { endpoint = \"http://e\"; }; };\n", 2,
		      "storage.s3.access_key_id");
	assert_non_null(strstr(err, "required when storage.backend is \"s3\""));
	load_fails_at("\nstorage = { backend = \"s3\"; };\n", 2, "storage.s3.endpoint");
	struct config *c;
	assert_int_equal(load("", (const char *[]){ "storage.backend=s3" }, 1, &c), LAB_ECONFIG);
	assert_string_equal(err, "-D:1: setting 'storage.s3.endpoint': required when "
				 "storage.backend is \"s3\"");
	load_fails_at("storage = { backend = \"s3\"; s3 = { endpoint = \"\"; }; };\n", 1,
		      "storage.s3.endpoint");
}

static void test_durations(void **st)
{
	int64_t s = 0;
	(void)st;
	assert_int_equal(config_parse_duration("10s", &s), 0);
	assert_int_equal(s, 10);
	assert_int_equal(config_parse_duration("5m", &s), 0);
	assert_int_equal(s, 300);
	assert_int_equal(config_parse_duration("-720h", &s), 0);
	assert_int_equal(s, -720 * 3600);
	assert_int_equal(config_parse_duration("90d", &s), 0);
	assert_int_equal(s, 90 * 86400);
	assert_int_equal(config_parse_duration("0s", &s), 0);
	assert_int_equal(s, 0);
	const char *bad[] = { "", "10", "s", "-", "-s", "1.5h", "10x", "10 s", " 10s", "+10s", "10sm",
			      "0x10s", "99999999999999999999s", "999999999999999999d" };
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		s = 7;
		assert_true(config_parse_duration(bad[i], &s) < 0);
		assert_int_equal(s, 7);
	}
	load_fails_at("reload = {\n drain_timeout = \"10x\"; };\n", 2, "reload.drain_timeout");
	assert_non_null(strstr(err, "bad duration"));
	load_fails_at("state = { flush_interval = \"-1m\"; };\n", 1, "state.flush_interval");
}

static void test_env(void **st)
{
	struct config *c;
	(void)st;
	setenv("LABT_USER", "alice", 1);
	setenv("LABT_EMPTY", "", 1);
	unsetenv("LABT_UNSET");
	assert_int_equal(load("clickhouse = { user = \"${LABT_USER}\"; database = \"x${LABT_USER}y${LABT_USER}\";\n"
			      "  url = \"${LABT_UNSET:-http://d:1}\"; password = \"${LABT_EMPTY:-dflt}\"; };\n"
			      "admin = { token = \"a$b $ $$ $5 ${LABT_EMPTY}!\"; };\n"
			      "plugins = { p = { l = ( \"${LABT_USER}\", [ \"${LABT_USER}\" ] ); }; };\n",
			      NULL, 0, &c), 0);
	assert_string_equal(c->host.ch_user, "alice");
	assert_string_equal(c->host.ch_database, "xaliceyalice");
	assert_string_equal(c->host.ch_url, "http://d:1");
	assert_string_equal(c->host.ch_password, "dflt");
	assert_string_equal(c->host.admin_token, "a$b $ $$ $5 !");
	const config_setting_t *l = config_lookup(&c->cfg, "plugins.p.l");
	assert_string_equal(config_setting_get_string_elem(l, 0), "alice");
	assert_string_equal(config_setting_get_string_elem(config_setting_get_elem(l, 1), 0), "alice");
	config_free(c);
	load_fails_at("\nclickhouse = { password = \"${LABT_UNSET}\"; };\n", 2, "clickhouse.password");
	assert_non_null(strstr(err, "environment variable 'LABT_UNSET' is not set"));
	load_fails_at("plugins = { p = { l = ( \"ok\", \"${LABT_UNSET}\" ); }; };\n", 1,
		      "plugins.p.l[1]");
	load_fails_at("admin = { token = \"${LABT_USER\"; };\n", 1, "admin.token");
	assert_non_null(strstr(err, "unterminated"));
	load_fails_at("admin = { token = \"${1X}\"; };\n", 1, "admin.token");
	load_fails_at("admin = { token = \"${}\"; };\n", 1, "admin.token");
	/* substituted text is not re-expanded */
	setenv("LABT_META", "${LABT_UNSET}", 1);
	assert_int_equal(load("admin = { token = \"${LABT_META}\"; };\n", NULL, 0, &c), 0);
	assert_string_equal(c->host.admin_token, "${LABT_UNSET}");
	config_free(c);
}

static void test_overrides(void **st)
{
	struct config *c;
	(void)st;
	const char *text = "log = { level = \"info\"; };\nclickhouse = { max_concurrency = 4; };\n"
			   "plugins = { example = { enabled = true; ratio = 1.5; }; };\n";
	const char *ov[] = { "log.level=debug", "clickhouse.max_concurrency=16",
			     "plugins.example.enabled=false", "plugins.example.ratio=2",
			     "admin.listen=127.0.0.1:1", "clickhouse.password=1234",
			     "admin.token=\"quoted\"", "plugins.newp.enabled=false",
			     "plugins.example.n=5000000000", "plugins.example.f=0.25",
			     "plugins.example.b=TRUE", "plugins.example.s=hello world",
			     "plugins.example.q='42'", "plugins.example.deep.er.key=x" };
	assert_int_equal(load(text, ov, sizeof ov / sizeof ov[0], &c), 0);
	assert_int_equal(c->host.log_level, LAB_LOG_DEBUG);
	assert_int_equal(c->host.ch_max_concurrency, 16);
	assert_string_equal(c->host.admin_listen, "127.0.0.1:1");
	assert_int_equal(c->host.admin_listen_set, 1);
	assert_string_equal(c->host.ch_password, "1234");
	assert_string_equal(c->host.admin_token, "quoted");
	const struct plugin_conf *p = config_plugin(c, "example");
	assert_int_equal(p->enabled, 0);
	p = config_plugin(c, "newp");
	assert_non_null(p);
	assert_int_equal(p->enabled, 0);
	assert_string_equal(p->path, LAB_PLUGINDIR "/newp.so");
	const config_setting_t *s = config_lookup(&c->cfg, "plugins.example.ratio");
	assert_int_equal(config_setting_type(s), CONFIG_TYPE_FLOAT);
	assert_true(config_setting_get_float(s) == 2.0);
	s = config_lookup(&c->cfg, "plugins.example.n");
	assert_int_equal(config_setting_type(s), CONFIG_TYPE_INT64);
	assert_true(config_setting_get_int64(s) == 5000000000LL);
	s = config_lookup(&c->cfg, "plugins.example.f");
	assert_int_equal(config_setting_type(s), CONFIG_TYPE_FLOAT);
	assert_true(config_setting_get_float(s) == 0.25);
	s = config_lookup(&c->cfg, "plugins.example.b");
	assert_int_equal(config_setting_type(s), CONFIG_TYPE_BOOL);
	assert_int_equal(config_setting_get_bool(s), 1);
	assert_string_equal(config_setting_get_string(config_lookup(&c->cfg, "plugins.example.s")),
			    "hello world");
	assert_string_equal(config_setting_get_string(config_lookup(&c->cfg, "plugins.example.q")),
			    "42");
	s = config_lookup(&c->cfg, "plugins.example.deep.er.key");
	assert_string_equal(config_setting_get_string(s), "x");
	assert_string_equal(config_setting_source_file(s), "-D");
	assert_int_equal(config_setting_source_line(s), 14);
	assert_string_equal(config_setting_source_file(config_lookup(&c->cfg, "plugins.example.deep")),
			    "-D");
	config_free(c);

	/* What an undeclared -D value becomes. */
	struct {
		const char *ov;
		int type;
	} infer[] = { { "plugins.x.v=.5", CONFIG_TYPE_FLOAT }, { "plugins.x.v=-1e3", CONFIG_TYPE_FLOAT },
		      { "plugins.x.v=+7", CONFIG_TYPE_INT }, { "plugins.x.v=0x1f", CONFIG_TYPE_INT },
		      { "plugins.x.v=nan", CONFIG_TYPE_STRING }, { "plugins.x.v=1.2.3", CONFIG_TYPE_STRING },
		      { "plugins.x.v=1e", CONFIG_TYPE_STRING }, { "plugins.x.v=False", CONFIG_TYPE_BOOL },
		      { "plugins.x.v=\"true\"", CONFIG_TYPE_STRING }, { "plugins.x.v=", CONFIG_TYPE_STRING } };
	for (size_t i = 0; i < sizeof infer / sizeof infer[0]; i++) {
		assert_int_equal(load("", &infer[i].ov, 1, &c), 0);
		s = config_lookup(&c->cfg, "plugins.x.v");
		if (config_setting_type(s) != infer[i].type)
			fail_msg("%s: type %d", infer[i].ov, config_setting_type(s));
		config_free(c);
	}

	/* An int setting grows to 64 bits instead of being truncated. */
	const char *big[] = { "plugins.x.v=5000000000" };
	assert_int_equal(load("plugins = { x = { v = 1; }; };", big, 1, &c), 0);
	assert_true(config_setting_get_int64(config_lookup(&c->cfg, "plugins.x.v")) == 5000000000LL);
	config_free(c);

	struct {
		const char *ov, *setting, *why;
	} bad[] = {
		{ "clickhouse.max_concurrency=abc", "clickhouse.max_concurrency", "expected an integer" },
		{ "clickhouse.max_concurrency=1000", "clickhouse.max_concurrency", "between 1 and 256" },
		{ "plugins.example.enabled=maybe", "plugins.example.enabled", "true or false" },
		{ "plugins.example.ratio=x", "plugins.example.ratio", "expected a number" },
		{ "log=debug", "log", "group or list" },
		{ "log.level.x=1", "log.level.x", "'log.level' is not a group" },
		{ "noequals", "?", "key.path=value" },
		{ "=1", "?", "key.path=value" },
		{ "a..b=1", "a..b", "empty name" },
		{ "log.9x=1", "log.9x", "invalid setting name" },
		{ "bogus=1", "bogus", "unknown setting" },
		{ "log.format=json\"", "log.format", "must be logfmt or json" },
		{ "plugins.example.g={ x = ; }", "plugins.example.g", "bad value" },
		{ "plugins.example.g={ x = 1; } y", "plugins.example.g", "bad value" },
		{ "log={ level = \"loud\"; }", "log.level", "must be one of" },
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		const char *o[] = { "log.level=warn", bad[i].ov };
		assert_int_equal(load(text, o, 2, &c), LAB_ECONFIG);
		snprintf(expect, sizeof expect, "-D:2: setting '%s': ", bad[i].setting);
		if (strncmp(err, expect, strlen(expect)) != 0 || !strstr(err, bad[i].why))
			fail_msg("%s: got \"%s\"", bad[i].ov, err);
	}
}

/* -D with a value in libconfig syntax replaces a whole group (a one-of group
 * such as beacon's backfill), list or array. */
static void test_override_groups(void **st)
{
	struct config *c;
	(void)st;
	const char *text = "plugins = { beacon = { networks = { mainnet = {\n"
			   "  backfill = { to_fork = \"deneb\"; concurrency = 16; }; }; }; };\n"
			   "  timings = { networks = [ \"mainnet\", \"sepolia\" ]; }; };\n";
	const char *ov[] = { "plugins.beacon.networks.mainnet.backfill={ to_slot = 11649024; }",
			     "plugins.timings.networks=[ \"holesky\" ]",
			     "plugins.x.l=( { a = 1; b = [ 1.5, 2.5 ]; }, \"s\", 5000000000L, true )" };
	assert_int_equal(load(text, ov, 3, &c), 0);
	const config_setting_t *b = config_lookup(&c->cfg, "plugins.beacon.networks.mainnet.backfill");
	assert_non_null(b);
	assert_int_equal(config_setting_length(b), 1); /* to_fork and concurrency are gone */
	assert_null(config_setting_get_member(b, "to_fork"));
	const config_setting_t *s = config_setting_get_member(b, "to_slot");
	assert_non_null(s);
	assert_int_equal(config_setting_get_int(s), 11649024);
	assert_string_equal(config_setting_source_file(s), "-D");
	assert_int_equal(config_setting_source_line(s), 1);
	s = config_lookup(&c->cfg, "plugins.timings.networks");
	assert_int_equal(config_setting_type(s), CONFIG_TYPE_ARRAY);
	assert_int_equal(config_setting_length(s), 1);
	assert_string_equal(config_setting_get_string_elem(s, 0), "holesky");
	s = config_lookup(&c->cfg, "plugins.x.l");
	assert_int_equal(config_setting_type(s), CONFIG_TYPE_LIST);
	assert_int_equal(config_setting_length(s), 4);
	const config_setting_t *g = config_setting_get_elem(s, 0);
	assert_int_equal(config_setting_get_int(config_setting_get_member(g, "a")), 1);
	assert_true(config_setting_get_float_elem(config_setting_get_member(g, "b"), 1) == 2.5);
	assert_string_equal(config_setting_get_string_elem(s, 1), "s");
	assert_true(config_setting_get_int64_elem(s, 2) == 5000000000LL);
	assert_int_equal(config_setting_get_bool_elem(s, 3), 1);
	config_free(c);
}

static void test_ranges(void **st)
{
	struct config *c;
	(void)st;
	assert_int_equal(load("ethereum = { networks = ( { name = \"n-1_x\"; genesis_time = 0;\n"
			      "  validator_set = ( { range = \"5-5\"; entity = \"a\"; },\n"
			      "    { range = \"18446744073709551615\"; entity = \"b\"; } ); } ); };\n",
			      NULL, 0, &c), 0);
	const struct network_conf *n = &c->host.networks[0];
	assert_int_equal(n->validators[0].lo, 5);
	assert_int_equal(n->validators[0].hi, 5);
	assert_true(n->validators[1].lo == UINT64_MAX && n->validators[1].hi == UINT64_MAX);
	config_free(c);
	const char *bad[] = { "9-1", "a-b", "-5", "1-", "", "1-2-3", " 1", "18446744073709551616",
			      "0x10" };
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		char text[512];
		snprintf(text, sizeof text,
			 "ethereum = { networks = ( { name = \"m\"; genesis_time = 1;\n"
			 "  validator_set = ( { range = \"0-1\"; entity = \"a\"; },\n"
			 "   { range = \"%s\"; entity = \"b\"; } ); } ); };\n", bad[i]);
		load_fails_at(text, 3, "ethereum.networks[0].validator_set[1].range");
		assert_non_null(strstr(err, "bad range"));
	}
	const char *netdup = "ethereum = { networks = ( { name = \"m\"; genesis_time = 1; },\n"
			     "  { name = \"m\"; genesis_time = 2; } ); };\n";
	load_fails_at(netdup, 2, "ethereum.networks[1].name");
	load_fails_at("ethereum = { networks = ( { name = \"Main Net\"; genesis_time = 1; } ); };",
		      1, "ethereum.networks[0].name");
	load_fails_at("ethereum = { networks = ( { name = \"m\"; genesis_time = 1;\n"
		      " config_file = \"a\";\n config_url = \"b\"; } ); };", 3,
		      "ethereum.networks[0].config_url");
	load_fails_at("ethereum = { networks = ( { name = \"m\"; genesis_time = -1; } ); };", 1,
		      "ethereum.networks[0].genesis_time");
	load_fails_at("work = { max_per_plugin = 0; };", 1, "work.max_per_plugin");
	load_fails_at("work = { max_per_plugin = 1025; };", 1, "work.max_per_plugin");
	load_fails_at("clickhouse = { probe_interval = \"-1s\"; };", 1, "clickhouse.probe_interval");
	load_fails_at("plugin_retry = { initial_delay = \"-1s\"; };", 1, "plugin_retry.initial_delay");
	load_fails_at("plugin_retry = { initial_delay = \"10s\";\n max_delay = \"5s\"; };", 2,
		      "plugin_retry.max_delay");
	load_fails_at("plugin_retry = { max_delay = \"2d\"; };", 1, "plugin_retry.max_delay");
}

static void test_paths(void **st)
{
	struct config *c;
	(void)st;
	assert_int_equal(load("plugin_dir = \"lib\";\n"
			      "ethereum = { networks = ( { name = \"m\"; genesis_time = 1;"
			      " config_file = \"/abs/m.yaml\"; } ); };\n"
			      "plugins = { a = { }; b = { path = \"x/b.so\"; }; c = { path = \"/abs/c.so\"; };"
			      " d = { }; };\n", (const char *[]){ "plugins.d.path=rel/d.so" }, 1, &c), 0);
	snprintf(expect, sizeof expect, "%s/lib", tmpdir);
	assert_string_equal(c->host.plugin_dir, expect);
	snprintf(expect, sizeof expect, "%s/lib/a.so", tmpdir);
	assert_string_equal(config_plugin(c, "a")->path, expect);
	snprintf(expect, sizeof expect, "%s/x/b.so", tmpdir);
	assert_string_equal(config_plugin(c, "b")->path, expect);
	assert_string_equal(config_plugin(c, "c")->path, "/abs/c.so");
	assert_string_equal(config_plugin(c, "d")->path, "rel/d.so"); /* -D: relative to the cwd */
	assert_string_equal(c->host.networks[0].config_file, "/abs/m.yaml");
	config_free(c);

	/* A config path given relative to the working directory. */
	char cwd[512];
	assert_non_null(getcwd(cwd, sizeof cwd));
	assert_int_equal(chdir(tmpdir), 0);
	write_file("rel.conf", "plugins = { a = { path = \"a.so\"; }; };\n");
	assert_int_equal(config_load("rel.conf", NULL, 0, &c, err, sizeof err), 0);
	assert_int_equal(chdir(cwd), 0);
	snprintf(expect, sizeof expect, "%s/a.so", tmpdir);
	assert_string_equal(config_plugin(c, "a")->path, expect);
	assert_string_equal(c->host.file, "rel.conf");
	config_free(c);
	load_fails_at("plugins = { a = { path = \"\"; }; };", 1, "plugins.a.path");
}

/* ---------------------------------------------------------------- plugin schemas */

static const lab_setting window_keys[] = {
	{ "file", LAB_SET_STRING, NULL, "file name", NULL, REQ },
	{ "step", LAB_SET_DURATION, "1m", "bucket", NULL, 0 },
	{ "range", LAB_SET_DURATION, "-1h", "range", NULL, 0 },
	END
};
static const lab_setting backfill_keys[] = {
	{ "to_fork", LAB_SET_STRING, "deneb", "target fork", NULL, 0 },
	{ "concurrency", LAB_SET_INT, "16", "parallel slots", NULL, 0 },
	END
};
static const lab_setting net_keys[] = {
	{ "head_lag_slots", LAB_SET_INT, "3", "lag", NULL, 0 },
	{ "backfill", LAB_SET_GROUP, NULL, "backfill", backfill_keys, 0 },
	END
};
static const lab_setting tsettings[] = {
	{ "name", LAB_SET_STRING, NULL, "a name", NULL, REQ },
	{ "interval", LAB_SET_DURATION, "1h", "period | pipe", NULL, 0 },
	{ "networks", LAB_SET_STRINGS, NULL, "networks", NULL, 0 },
	{ "time_windows", LAB_SET_LIST, NULL, "windows", window_keys, 0 },
	{ "per_network", LAB_SET_MAP, NULL, "per network", net_keys, 0 },
	{ "ratio", LAB_SET_DOUBLE, "0.5", "ratio", NULL, 0 },
	{ "verbose", LAB_SET_BOOL, "false", "verbose", NULL, 0 },
	{ "api_key", LAB_SET_STRING, "", "secret", NULL, 0 },
	{ "backfill", LAB_SET_GROUP, NULL, "backfill", backfill_keys, 0 },
	END
};

static const char plugin_conf_text[] =
	"plugins = { t = {\n"
	"  enabled = true;\n"
	"  name = \"x\";\n"
	"  networks = [ \"mainnet\", \"holesky\" ];\n"
	"  time_windows = ( { file = \"last_30_days\"; range = \"-30d\"; },\n"
	"                   { file = \"last_1h\"; step = \"5m\"; } );\n"
	"  per_network = { mainnet = { backfill = { to_fork = \"electra\"; }; };\n"
	"                  holesky = { head_lag_slots = 7; }; };\n"
	"  ratio = 2;\n"
	"}; };\n";

static int plugin_check(const char *text, struct config **c)
{
	if (load(text, NULL, 0, c))
		fail_msg("load: %s", err);
	return config_validate_plugin(*c, config_plugin(*c, "t"), tsettings, err, sizeof err);
}

static void plugin_fails_at(const char *text, int line, const char *setting, const char *why)
{
	struct config *c;
	assert_int_equal(plugin_check(text, &c), LAB_ECONFIG);
	snprintf(expect, sizeof expect, "%s:%d: setting '%s': ", conf, line, setting);
	if (strncmp(err, expect, strlen(expect)) != 0 || !strstr(err, why))
		fail_msg("got \"%s\", want \"%s...%s\"", err, expect, why);
	config_free(c);
}

static void test_validate_plugin(void **st)
{
	struct config *c;
	(void)st;
	assert_int_equal(plugin_check(plugin_conf_text, &c), 0);
	config_free(c);
	plugin_fails_at("plugins = { t = {\n intervall = \"1h\"; name = \"x\"; }; };", 2,
			"plugins.t.intervall", "did you mean 'interval'?");
	plugin_fails_at("plugins = { t = {\n  enabled = false; }; };", 1, "plugins.t.name",
			"required setting is missing");
	plugin_fails_at("plugins = { t = { name = \"x\";\n networks = ( \"a\", 1 ); }; };", 2,
			"plugins.t.networks[1]", "expected a string");
	plugin_fails_at("plugins = { t = { name = \"x\";\n networks = \"a\"; }; };", 2,
			"plugins.t.networks", "expected a list of strings");
	plugin_fails_at("plugins = { t = { name = \"x\"; time_windows = (\n { step = \"1m\"; } ); }; };",
			2, "plugins.t.time_windows[0].file", "required");
	plugin_fails_at("plugins = { t = { name = \"x\"; time_windows = (\n \"a\" ); }; };", 2,
			"plugins.t.time_windows[0]", "expected a group");
	plugin_fails_at("plugins = { t = { name = \"x\"; time_windows = ( { file = \"f\";\n"
			" step = \"1\"; } ); }; };", 2, "plugins.t.time_windows[0].step",
			"bad duration");
	plugin_fails_at("plugins = { t = { name = \"x\"; per_network = {\n m = 1; }; }; };", 2,
			"plugins.t.per_network.m", "expected a group");
	plugin_fails_at("plugins = { t = { name = \"x\"; per_network = { m = {\n"
			" backfill = { to_slot = 1; }; }; }; }; };", 2,
			"plugins.t.per_network.m.backfill.to_slot", "unknown setting");
	plugin_fails_at("plugins = { t = { name = \"x\";\n verbose = 1; }; };", 2,
			"plugins.t.verbose", "expected true or false");
	plugin_fails_at("plugins = { t = { name = \"x\";\n ratio = \"1\"; }; };", 2, "plugins.t.ratio",
			"expected a number");
	plugin_fails_at("plugins = { t = { name = \"x\";\n backfill = ( ); }; };", 2,
			"plugins.t.backfill", "expected a group");
	/* `[]` is an empty list */
	assert_int_equal(plugin_check("plugins = { t = { name = \"x\"; time_windows = [ ]; }; };", &c),
			 0);
	config_free(c);

	/* No section: only required settings can fail. */
	assert_int_equal(load("", NULL, 0, &c), 0);
	struct plugin_conf none = { "t", 1, "/x/t.so", NULL, -1 };
	assert_int_equal(config_validate_plugin(c, &none, tsettings, err, sizeof err), LAB_ECONFIG);
	snprintf(expect, sizeof expect, "%s: setting 'plugins.t.name': required", conf);
	assert_int_equal(strncmp(err, expect, strlen(expect)), 0);
	assert_int_equal(config_validate_plugin(c, &none, backfill_keys, err, sizeof err), 0);
	assert_int_equal(config_validate_plugin(c, &none, NULL, err, sizeof err), 0);

	/* Bad declarations are refused before the section is looked at. */
	static const lab_setting reserved[] = { { "enabled", LAB_SET_BOOL, "true", "x", NULL, 0 }, END };
	static const lab_setting baddef[] = { { "n", LAB_SET_INT, "ten", "x", NULL, 0 }, END };
	static const lab_setting twice[] = { { "n", LAB_SET_INT, NULL, "x", NULL, 0 },
					     { "n", LAB_SET_INT, NULL, "x", NULL, 0 }, END };
	static const lab_setting badtype[] = { { "g", LAB_SET_GROUP, NULL, "x", baddef, 0 }, END };
	assert_int_equal(config_validate_plugin(c, &none, reserved, err, sizeof err), LAB_ECONFIG);
	assert_string_equal(err, "plugin t: setting 'enabled': bad declaration: reserved for the host");
	assert_int_equal(config_validate_plugin(c, &none, baddef, err, sizeof err), LAB_ECONFIG);
	assert_non_null(strstr(err, "default does not match the type"));
	assert_int_equal(config_validate_plugin(c, &none, twice, err, sizeof err), LAB_ECONFIG);
	assert_non_null(strstr(err, "declared twice"));
	assert_int_equal(config_validate_plugin(c, &none, badtype, err, sizeof err), LAB_ECONFIG);
	assert_non_null(strstr(err, "setting 'g.n'"));
	config_free(c);
}

static void test_cfgapi(void **st)
{
	struct config *c;
	const char *s;
	int64_t i;
	int b;
	double d;
	const lab_cfg *e, *m;
	(void)st;
	assert_int_equal(plugin_check(plugin_conf_text, &c), 0);
	const config_setting_t *sec = config_plugin(c, "t")->section;
#define S(node, path) cfgapi_string(sec, tsettings, node, path, &s)
#define I(node, path) cfgapi_int(sec, tsettings, node, path, &i)
#define DU(node, path) cfgapi_duration(sec, tsettings, node, path, &i)
	assert_int_equal(S(NULL, "name"), 0);
	assert_string_equal(s, "x");
	assert_int_equal(DU(NULL, "interval"), 0); /* default */
	assert_int_equal(i, 3600);
	assert_int_equal(S(NULL, "interval"), 0);
	assert_string_equal(s, "1h");
	assert_int_equal(cfgapi_double(sec, tsettings, NULL, "ratio", &d), 0); /* an int in the file */
	assert_true(d == 2.0);
	assert_int_equal(cfgapi_bool(sec, tsettings, NULL, "verbose", &b), 0);
	assert_int_equal(b, 0);
	assert_int_equal(cfgapi_bool(sec, tsettings, NULL, "enabled", &b), 0);
	assert_int_equal(b, 1);
	assert_int_equal(S(NULL, "backfill.to_fork"), 0); /* group absent: default */
	assert_string_equal(s, "deneb");
	assert_int_equal(I(NULL, "backfill.concurrency"), 0);
	assert_int_equal(i, 16);
	/* errors */
	assert_int_equal(S(NULL, "networks"), LAB_EINVAL);     /* a list */
	assert_int_equal(I(NULL, "name"), LAB_EINVAL);         /* a string */
	assert_int_equal(I(NULL, "interval"), LAB_EINVAL);     /* default of another type */
	assert_int_equal(S(NULL, "nope"), LAB_ENOENT);         /* undeclared */
	assert_int_equal(S(NULL, "time_windows"), LAB_EINVAL);
	assert_int_equal(S(NULL, "name.x"), LAB_EINVAL);       /* below a string */
	assert_int_equal(S(NULL, "a..b"), LAB_EINVAL);
	assert_int_equal(S(NULL, "backfill."), LAB_EINVAL);
	assert_int_equal(S(NULL, NULL), LAB_EINVAL);            /* the section, a group */

	/* lists: elements take the LIST's children */
	assert_int_equal(cfgapi_count(sec, NULL, "time_windows"), 2);
	assert_int_equal(cfgapi_count(sec, NULL, "networks"), 2);
	assert_int_equal(cfgapi_count(sec, NULL, "per_network"), 2);
	assert_int_equal(cfgapi_count(sec, NULL, "backfill"), 0);
	assert_int_equal(cfgapi_count(sec, NULL, "name"), LAB_EINVAL);
	assert_int_equal(cfgapi_elem(sec, NULL, "time_windows", 0, &e), 0);
	assert_null(cfgapi_name(e));
	assert_int_equal(S(e, "file"), 0);
	assert_string_equal(s, "last_30_days");
	assert_int_equal(DU(e, "range"), 0);
	assert_int_equal(i, -30 * 86400);
	assert_int_equal(DU(e, "step"), 0); /* default from the LIST's children */
	assert_int_equal(i, 60);
	assert_int_equal(cfgapi_elem(sec, NULL, "time_windows", 1, &e), 0);
	assert_int_equal(DU(e, "step"), 0);
	assert_int_equal(i, 300);
	assert_int_equal(DU(e, "range"), 0);
	assert_int_equal(i, -3600);
	assert_int_equal(cfgapi_elem(sec, NULL, "time_windows", 2, &e), LAB_ERANGE);
	assert_int_equal(cfgapi_elem(sec, NULL, "time_windows", -1, &e), LAB_ERANGE);
	assert_int_equal(cfgapi_elem(sec, NULL, "backfill", 0, &e), LAB_ENOENT);
	assert_int_equal(cfgapi_elem(sec, NULL, "ratio", 0, &e), LAB_EINVAL);
	assert_int_equal(cfgapi_elem(sec, NULL, "networks", 1, &e), 0);
	assert_int_equal(S(e, NULL), 0);
	assert_string_equal(s, "holesky");

	/* maps: members take the MAP's children, nested groups included */
	assert_int_equal(cfgapi_elem(sec, NULL, "per_network", 0, &m), 0);
	assert_string_equal(cfgapi_name(m), "mainnet");
	assert_int_equal(I(m, "head_lag_slots"), 0);
	assert_int_equal(i, 3);
	assert_int_equal(S(m, "backfill.to_fork"), 0);
	assert_string_equal(s, "electra");
	assert_int_equal(I(m, "backfill.concurrency"), 0);
	assert_int_equal(i, 16);
	assert_int_equal(cfgapi_elem(sec, m, "backfill", 0, &e), 0);
	assert_string_equal(cfgapi_name(e), "to_fork");
	assert_int_equal(cfgapi_elem(sec, NULL, "per_network", 1, &m), 0);
	assert_int_equal(I(m, "head_lag_slots"), 0);
	assert_int_equal(i, 7);
	assert_int_equal(I(NULL, "per_network.sepolia.backfill.concurrency"), 0); /* absent member */
	assert_int_equal(i, 16);

	/* where */
	const char *file;
	int line;
	assert_int_equal(cfgapi_where(sec, NULL, "name", &file, &line), 0);
	assert_string_equal(file, conf);
	assert_int_equal(line, 3);
	assert_int_equal(cfgapi_elem(sec, NULL, "time_windows", 1, &e), 0);
	assert_int_equal(cfgapi_where(sec, e, "step", &file, &line), 0);
	assert_int_equal(line, 6);
	assert_int_equal(cfgapi_where(sec, e, "range", &file, &line), 0);
	assert_string_equal(file, conf);
	assert_int_equal(line, 0);
	assert_int_equal(cfgapi_where(sec, NULL, NULL, &file, &line), 0);
	assert_int_equal(line, 1);
	config_free(c);

	/* No section at all: everything is a default. */
	assert_int_equal(cfgapi_string(NULL, tsettings, NULL, "backfill.to_fork", &s), 0);
	assert_string_equal(s, "deneb");
	assert_int_equal(cfgapi_double(NULL, tsettings, NULL, "ratio", &d), 0);
	assert_true(d == 0.5);
	assert_int_equal(cfgapi_string(NULL, tsettings, NULL, "name", &s), LAB_ENOENT);
	assert_int_equal(cfgapi_string(NULL, NULL, NULL, "name", &s), LAB_ENOENT);
	assert_int_equal(cfgapi_count(NULL, NULL, "time_windows"), 0);
	assert_int_equal(cfgapi_elem(NULL, NULL, "time_windows", 0, &e), LAB_ENOENT);
	assert_int_equal(cfgapi_where(NULL, NULL, "interval", &file, &line), 0);
	assert_int_equal(line, 0);
	assert_null(cfgapi_name(NULL));

	/* -D settings are located at "-D", line = option number */
	const char *ov[] = { "log.level=info", "plugins.t.name=y" };
	assert_int_equal(load("", ov, 2, &c), 0);
	sec = config_plugin(c, "t")->section;
	assert_int_equal(cfgapi_where(sec, NULL, "name", &file, &line), 0);
	assert_string_equal(file, "-D");
	assert_int_equal(line, 2);
	assert_int_equal(S(NULL, "name"), 0);
	assert_string_equal(s, "y");
	config_free(c);
#undef S
#undef I
#undef DU
}

static void test_secrets(void **st)
{
	struct config *c;
	(void)st;
	const char *cases[] = {
		"clickhouse = { password = 918273; };",
		"admin = { token = 918273; };",
		"storage = { s3 = { secret_access_key = 918273; }; };",
		"storage = { s3 = { secret_access_key = [ \"918273\" ]; }; };",
		"clickhouse = { password = \"918273\"; bogus = 918273; };",
		"clickhouse = { timeout = \"918273\"; };",
		"ethereum = { networks = ( { name = \"m\"; genesis_time = 1;"
		" validator_set = ( { range = \"918273-1\"; entity = \"e\"; } ); } ); };",
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		assert_int_equal(load(cases[i], NULL, 0, &c), LAB_ECONFIG);
		assert_non_null(strstr(err, conf));
		if (strstr(err, "918273"))
			fail_msg("value echoed: %s", err);
	}
	const char *ov[] = { "clickhouse.max_concurrency=918273x" };
	assert_int_equal(load("", ov, 1, &c), LAB_ECONFIG);
	assert_null(strstr(err, "918273"));
	assert_int_equal(plugin_check("plugins = { t = { name = \"x\"; api_key = 918273; }; };", &c),
			 LAB_ECONFIG);
	assert_non_null(strstr(err, "plugins.t.api_key"));
	assert_null(strstr(err, "918273"));
	config_free(c);
}

static void test_describe(void **st)
{
	char *text = NULL;
	size_t len = 0;
	(void)st;
	FILE *f = open_memstream(&text, &len);
	assert_non_null(f);
	config_describe("t", tsettings, f);
	fclose(f);
	assert_non_null(strstr(text, "| Setting | Type | Default | Description |\n"));
	assert_non_null(strstr(text, "| `name` | string | *required* | a name |\n"));
	assert_non_null(strstr(text, "| `interval` | duration | `1h` | period \\| pipe |\n"));
	assert_non_null(strstr(text, "| `api_key` | string | `\"\"` | secret |\n"));
	assert_non_null(strstr(text, "| `networks` | list of strings | — | networks |\n"));
	assert_non_null(strstr(text, "| `time_windows[].file` | string | *required* | file name |\n"));
	assert_non_null(strstr(text, "| `per_network.<name>.backfill.to_fork` | string | `deneb` |"));
	assert_non_null(strstr(text, "| `backfill.concurrency` | integer | `16` |"));
	assert_non_null(strstr(text, "plugins.t"));
	free(text);
	f = open_memstream(&text, &len);
	config_describe("e", NULL, f);
	fclose(f);
	assert_non_null(strstr(text, "declares no settings"));
	free(text);
}

/* etc/labd.conf must load (plugin_dir overridden), be safe for production
 * (the real plugins enabled, the tutorial example documented but disabled,
 * no made-up validator entities) and document the example plugin. */
static void test_example_conf(void **st)
{
	struct config *c;
	char path[1024];
	const char *top = getenv("top_srcdir");
	(void)st;
	if (top) {
		snprintf(path, sizeof path, "%s/etc/labd.conf", top);
	} else {
		snprintf(path, sizeof path, "%s", __FILE__);
		char *p = strstr(path, "tests/unit/test_config.c");
		assert_non_null(p);
		snprintf(p, sizeof path - (size_t)(p - path), "etc/labd.conf");
	}
	const char *ov[] = { "plugin_dir=/tmp/plugins" };
	unsetenv("S3_ACCESS_KEY_ID");
	unsetenv("CLICKHOUSE_PASSWORD");
	int rc = config_load(path, ov, 1, &c, err, sizeof err);
	if (rc)
		fail_msg("%s", err);
	assert_string_equal(c->host.plugin_dir, "/tmp/plugins");
	const struct plugin_conf *p = config_plugin(c, "example");
	assert_non_null(p);
	assert_int_equal(p->enabled, 0);
	assert_string_equal(p->path, "/tmp/plugins/example.so");
	static const char *const real[] = { "beacon", "timings", "contributors" };
	for (size_t i = 0; i < sizeof real / sizeof real[0]; i++) {
		const struct plugin_conf *rp = config_plugin(c, real[i]);
		assert_non_null(rp);
		assert_int_equal(rp->enabled, 1);
	}
	assert_int_equal(c->host.n_networks, 1);
	assert_int_equal(c->host.networks[0].n_validators, 0);
	assert_string_equal(c->host.networks[0].name, "mainnet");
	assert_int_equal(c->host.networks[0].genesis_time, 1606824023);
	assert_int_equal(c->host.networks[0].config_file[0], '/');
	assert_non_null(strstr(c->host.networks[0].config_file, "etc/networks/mainnet.yaml"));
	static const lab_setting example[] = {
		{ "interval", LAB_SET_DURATION, "10s", "repeating timer period", NULL, 0 },
		{ "message", LAB_SET_STRING, "tick", "message", NULL, 0 },
		{ "path_prefix", LAB_SET_STRING, "example", "prefix", NULL, 0 },
		END
	};
	assert_int_equal(config_validate_plugin(c, p, example, err, sizeof err), 0);
	int64_t secs;
	assert_int_equal(cfgapi_duration(p->section, example, NULL, "interval", &secs), 0);
	assert_int_equal(secs, 10);
	config_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_full),
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_read_errors),
		cmocka_unit_test(test_includes),
		cmocka_unit_test(test_unknown_and_types),
		cmocka_unit_test(test_durations),
		cmocka_unit_test(test_env),
		cmocka_unit_test(test_overrides),
		cmocka_unit_test(test_override_groups),
		cmocka_unit_test(test_ranges),
		cmocka_unit_test(test_paths),
		cmocka_unit_test(test_validate_plugin),
		cmocka_unit_test(test_cfgapi),
		cmocka_unit_test(test_secrets),
		cmocka_unit_test(test_describe),
		cmocka_unit_test(test_example_conf),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
