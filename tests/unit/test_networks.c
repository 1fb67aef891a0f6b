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
#include "log.h"
#include "networks.h"

#ifndef TEST_SRCDIR
#define TEST_SRCDIR "."
#endif

/* etc/networks/NAME.yaml of the source tree: $top_srcdir (set by `make
 * check`) or the path compiled in. */
static char *network_file(const char *name)
{
	const char *top = getenv("top_srcdir");
	char *p;
	if (!top || !*top)
		top = TEST_SRCDIR;
	assert_true(asprintf(&p, "%s/etc/networks/%s.yaml", top, name) > 0);
	return p;
}

struct parsed {
	int rc;
	uint32_t sps, spe;
	char **names;
	uint64_t *epochs;
	size_t n;
	char err[512];
};

static void parse(struct parsed *r, const char *text, size_t len)
{
	memset(r, 0, sizeof *r);
	r->rc = networks_parse_yaml(text, len, "t.yaml", &r->sps, &r->spe, &r->names, &r->epochs,
				    &r->n, r->err, sizeof r->err);
}

static void parsed_free(struct parsed *r)
{
	for (size_t i = 0; i < r->n; i++)
		free(r->names[i]);
	free(r->names);
	free(r->epochs);
	r->names = NULL;
	r->epochs = NULL;
	r->n = 0;
}

static int64_t fork_of(const struct parsed *r, const char *name)
{
	for (size_t i = 0; i < r->n; i++)
		if (strcmp(r->names[i], name) == 0)
			return (int64_t)r->epochs[i];
	return -1;
}

static void test_mainnet_file(void **state)
{
	struct network_conf nc = { 0 };
	struct host_conf hc = { 0 };
	struct networks *n = NULL;
	char err[512];
	nc.name = "mainnet";
	nc.genesis_time = 1606824023;
	nc.config_file = network_file("mainnet");
	hc.networks = &nc;
	hc.n_networks = 1;
	int rc = networks_load(&hc, &n, err, sizeof err);
	if (rc)
		fail_msg("networks_load: %s", err);
	assert_int_equal(networks_count(n), 1);
	const lab_network *net = networks_find(n, "mainnet");
	assert_non_null(net);
	assert_ptr_equal(net, networks_at(n, 0));
	assert_null(networks_at(n, 1));
	assert_null(networks_find(n, "sepolia"));
	assert_string_equal(network_name(net), "mainnet");
	assert_int_equal(network_genesis_time(net), 1606824023);
	assert_int_equal(network_seconds_per_slot(net), 12);
	assert_int_equal(network_slots_per_epoch(net), 32);
	uint64_t e;
	assert_int_equal(network_fork_epoch(net, "deneb", &e), 0);
	assert_int_equal(e, 269568);
	assert_int_equal(network_fork_epoch(net, "electra", &e), 0);
	assert_int_equal(e, 364032);
	assert_int_equal(network_fork_epoch(net, "DENEB", &e), 0);
	assert_int_equal(e, 269568);
	assert_int_equal(network_fork_epoch(net, "Altair", &e), 0);
	assert_int_equal(e, 74240);
	assert_int_equal(network_fork_epoch(net, "phase0", &e), 0);
	assert_int_equal(e, 0);
	assert_int_equal(network_fork_epoch(net, "gloas", &e), LAB_ENOENT); /* far future */
	assert_int_equal(network_fork_epoch(net, "nope", &e), LAB_ENOENT);

	static const struct {
		const char *name;
		uint64_t epoch;
	} order[] = { { "phase0", 0 },	      { "altair", 74240 }, { "bellatrix", 144896 },
		      { "capella", 194048 },  { "deneb", 269568 }, { "electra", 364032 },
		      { "fulu", 411392 } };
	assert_int_equal(network_fork_count(net), sizeof order / sizeof order[0]);
	for (size_t i = 0; i < sizeof order / sizeof order[0]; i++) {
		const char *name;
		assert_int_equal(network_fork_at(net, i, &name, &e), 0);
		assert_string_equal(name, order[i].name);
		assert_int_equal(e, order[i].epoch);
	}
	assert_int_equal(network_fork_at(net, 7, NULL, &e), LAB_ERANGE);
	networks_free(n);
	free(nc.config_file);
}

static void test_testnet_files(void **state)
{
	struct network_conf nc[2] = { { 0 } };
	struct host_conf hc = { 0 };
	struct networks *n = NULL;
	char err[512];
	nc[0].name = "sepolia";
	nc[0].genesis_time = 1655733600;
	nc[0].config_file = network_file("sepolia");
	nc[1].name = "holesky";
	nc[1].genesis_time = 1695902400;
	nc[1].config_file = network_file("holesky");
	hc.networks = nc;
	hc.n_networks = 2;
	if (networks_load(&hc, &n, err, sizeof err))
		fail_msg("networks_load: %s", err);
	uint64_t e;
	const lab_network *s = networks_find(n, "sepolia"), *h = networks_find(n, "holesky");
	assert_non_null(s);
	assert_non_null(h);
	assert_int_equal(network_seconds_per_slot(s), 12);
	assert_int_equal(network_slots_per_epoch(h), 32);
	assert_int_equal(network_fork_epoch(s, "capella", &e), 0);
	assert_int_equal(e, 56832);
	assert_int_equal(network_fork_epoch(s, "electra", &e), 0);
	assert_int_equal(e, 222464);
	assert_int_equal(network_fork_epoch(h, "deneb", &e), 0);
	assert_int_equal(e, 29696);
	assert_int_equal(network_fork_epoch(h, "electra", &e), 0);
	assert_int_equal(e, 115968);
	/* Ties at epoch 0 are ordered by name. */
	const char *name;
	assert_int_equal(network_fork_at(h, 0, &name, &e), 0);
	assert_string_equal(name, "altair");
	assert_int_equal(network_fork_at(h, 1, &name, &e), 0);
	assert_string_equal(name, "bellatrix");
	assert_int_equal(network_fork_at(h, 2, &name, &e), 0);
	assert_string_equal(name, "phase0");
	assert_int_equal(network_fork_at(h, 3, &name, &e), 0);
	assert_string_equal(name, "capella");
	networks_free(n);
	free(nc[0].config_file);
	free(nc[1].config_file);
}

static void test_values(void **state)
{
	struct parsed r;
	const char *y = "# comment\n"
			"SECONDS_PER_SLOT: '6'\n"
			"SLOTS_PER_EPOCH: \"0x10\"\n"
			"ALTAIR_FORK_EPOCH: \"10\"\n"
			"BELLATRIX_FORK_EPOCH: 0x14\n"
			"GLOAS_FORK_EPOCH: 18446744073709551615\n"
			"HUGE_FORK_EPOCH: 9223372036854775808\n"
			"BIG_FORK_EPOCH: 9223372036854775807\n"
			"EIP7594_FORK_EPOCH: 30\n"
			"TERMINAL_TOTAL_DIFFICULTY: 58750000000000000000000\n"
			"GENESIS_FORK_VERSION: 0x00000000\n"
			"CONFIG_NAME: 'x'\n"
			"NESTED: { a: [1, 2, {b: c}], d: e }\n"
			"LIST:\n  - EPOCH: 1\n    X: 2\n"
			"? complex key\n: 5\n"
			"? [a, b]\n: 6\n"
			"_FORK_EPOCH: 7\n"
			"LOWER_fork_epoch: 8\n"
			"bad-name_FORK_EPOCH: 9\n"
			"ALTAIR_FORK_EPOCH: 11\n"; /* a repeated key: the last wins */
	parse(&r, y, strlen(y));
	if (r.rc)
		fail_msg("%s", r.err);
	assert_int_equal(r.sps, 6);
	assert_int_equal(r.spe, 16);
	assert_int_equal(fork_of(&r, "altair"), 11);
	assert_int_equal(fork_of(&r, "bellatrix"), 20);
	assert_int_equal(fork_of(&r, "gloas"), -1);
	assert_int_equal(fork_of(&r, "huge"), -1);
	assert_int_equal(fork_of(&r, "big"), INT64_MAX);
	assert_int_equal(fork_of(&r, "eip7594"), 30);
	assert_int_equal(fork_of(&r, "phase0"), 0);
	assert_int_equal(r.n, 5);
	/* Activation order. */
	for (size_t i = 1; i < r.n; i++)
		assert_true(r.epochs[i - 1] <= r.epochs[i]);
	assert_string_equal(r.names[0], "phase0");
	assert_string_equal(r.names[r.n - 1], "big");
	parsed_free(&r);
}

static void test_defaults(void **state)
{
	struct parsed r;
	const char *y = "PRESET_BASE: 'mainnet'\n";
	parse(&r, y, strlen(y));
	assert_int_equal(r.rc, 0);
	assert_int_equal(r.sps, 12);
	assert_int_equal(r.spe, 32);
	assert_int_equal(r.n, 1);
	assert_string_equal(r.names[0], "phase0");
	parsed_free(&r);

	/* Newer configs only give SLOT_DURATION_MS. */
	y = "SLOT_DURATION_MS: 6000\n";
	parse(&r, y, strlen(y));
	assert_int_equal(r.rc, 0);
	assert_int_equal(r.sps, 6);
	parsed_free(&r);
	y = "SECONDS_PER_SLOT: 12\nSLOT_DURATION_MS: 500\n";
	parse(&r, y, strlen(y));
	assert_int_equal(r.rc, 0);
	assert_int_equal(r.sps, 12);
	parsed_free(&r);
	y = "A: 1\nSLOT_DURATION_MS: 1500\n";
	parse(&r, y, strlen(y));
	assert_int_equal(r.rc, LAB_ERANGE);
	assert_non_null(strstr(r.err, "t.yaml:2: SLOT_DURATION_MS"));
}

static void expect_error(const char *y, int rc, const char *where)
{
	struct parsed r;
	parse(&r, y, strlen(y));
	if (r.rc != rc || !strstr(r.err, where))
		fail_msg("YAML:\n%s\nrc %d (want %d), error \"%s\" (want \"%s\")", y, r.rc, rc,
			 r.err, where);
	assert_null(r.names);
	assert_null(r.epochs);
	assert_int_equal(r.n, 0);
}

static void test_errors(void **state)
{
	expect_error("A: 1\n  B: 2\n", LAB_EPARSE, "t.yaml:2: invalid YAML: ");
	expect_error("A: 1\nB: [1, 2\nC: 3\n", LAB_EPARSE, "t.yaml:3: invalid YAML: ");
	expect_error("A: 'unterminated\n", LAB_EPARSE, "t.yaml:");
	expect_error("A: 1\nSECONDS_PER_SLOT: abc\n", LAB_EPARSE, "t.yaml:2: SECONDS_PER_SLOT");
	expect_error("SECONDS_PER_SLOT: 0\n", LAB_ERANGE, "t.yaml:1: SECONDS_PER_SLOT");
	expect_error("SLOTS_PER_EPOCH: 4294967296\n", LAB_ERANGE, "t.yaml:1: SLOTS_PER_EPOCH");
	expect_error("SLOTS_PER_EPOCH: -1\n", LAB_EPARSE, "t.yaml:1: SLOTS_PER_EPOCH");
	expect_error("SLOTS_PER_EPOCH: 1.5\n", LAB_EPARSE, "t.yaml:1:");
	expect_error("SLOTS_PER_EPOCH: ''\n", LAB_EPARSE, "t.yaml:1:");
	expect_error("SLOTS_PER_EPOCH:\n", LAB_EPARSE, "t.yaml:1:");
	expect_error("\n\nSLOTS_PER_EPOCH:\n  - 1\n", LAB_EPARSE, "t.yaml:3: SLOTS_PER_EPOCH");
	expect_error("DENEB_FORK_EPOCH: 18446744073709551616\n", LAB_EPARSE,
		     "t.yaml:1: DENEB_FORK_EPOCH");
	expect_error("DENEB_FORK_EPOCH: 0x\n", LAB_EPARSE, "t.yaml:1:");
	expect_error("A: &x 1\nDENEB_FORK_EPOCH: *x\n", LAB_EPARSE, "t.yaml:2: DENEB_FORK_EPOCH");
	expect_error("- a\n- b\n", LAB_EPARSE, "t.yaml:1: expected a mapping");
	expect_error("just a scalar", LAB_EPARSE, "t.yaml:1: expected a mapping");
	expect_error("", LAB_EPARSE, "t.yaml: empty document");
	expect_error("# only a comment\n", LAB_EPARSE, "t.yaml: empty document");

	char deep[300];
	strcpy(deep, "A: ");
	memset(deep + 3, '[', 200);
	deep[203] = '\0';
	expect_error(deep, LAB_EPARSE, "nesting deeper than");

	/* More fork keys than we keep. */
	char *many = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&many, &len);
	assert_non_null(m);
	for (int i = 0; i < 100; i++)
		fprintf(m, "F%d_FORK_EPOCH: %d\n", i, i);
	fclose(m);
	expect_error(many, LAB_ERANGE, "t.yaml:65: more than 64");
	free(many);
}

/* Deterministic noise: none of this may crash (ASan/valgrind watch). */
static uint64_t rng = 0x9e3779b97f4a7c15ull;
static uint32_t next_rand(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)(rng >> 11);
}

static void parse_noise(const char *text, size_t len)
{
	struct parsed r;
	parse(&r, text, len);
	if (r.rc == 0) {
		assert_true(r.sps > 0 && r.spe > 0 && r.n >= 1);
		parsed_free(&r);
	} else {
		assert_true(r.rc < 0);
		assert_true(r.err[0] != '\0');
		assert_null(r.names);
	}
}

static void test_garbage(void **state)
{
	char buf[1024];
	static const char *const pieces[] = {
		":", " ", "\n", "- ", "[", "]", "{", "}", ",", "'", "\"", "&a ", "*a", "!!str ",
		"? ", "#", "---\n", "...\n", "\t", "0x", "12", "18446744073709551615",
		"DENEB_FORK_EPOCH", "SECONDS_PER_SLOT", "SLOTS_PER_EPOCH", "SLOT_DURATION_MS",
		"\xff", "\xc3\xa9", "\x00", "\\", "|\n", ">\n", "%YAML 1.1\n", "  ",
	};
	for (int it = 0; it < 3000; it++) {
		size_t n = next_rand() % sizeof buf;
		for (size_t i = 0; i < n; i++)
			buf[i] = (char)next_rand();
		parse_noise(buf, n);
	}
	for (int it = 0; it < 3000; it++) {
		size_t n = 0;
		while (n < sizeof buf - 32 && next_rand() % 64) {
			const char *p = pieces[next_rand() % (sizeof pieces / sizeof pieces[0])];
			size_t pl = p[0] ? strlen(p) : 1;
			memcpy(buf + n, p, pl);
			n += pl;
		}
		parse_noise(buf, n);
	}

	/* Mutations of a real file. */
	char *path = network_file("mainnet");
	FILE *f = fopen(path, "rb");
	assert_non_null(f);
	static char text[16384], mut[16384];
	size_t tl = fread(text, 1, sizeof text, f);
	fclose(f);
	free(path);
	assert_true(tl > 0 && tl < sizeof text);
	parse_noise(text, tl);
	for (int it = 0; it < 1000; it++) {
		memcpy(mut, text, tl);
		size_t ml = tl;
		int k = 1 + (int)(next_rand() % 8);
		for (int j = 0; j < k; j++)
			mut[next_rand() % ml] = (char)next_rand();
		if (next_rand() % 4 == 0)
			ml = next_rand() % tl;
		parse_noise(mut, ml);
	}
	parse_noise(NULL, 0);
}

static void test_validators(void **state)
{
	struct validator_range v[] = {
		{ 100, 199, "b" },
		{ 0, 9, "a" },
		{ 50, 50, "single" },
		{ 1000, UINT64_MAX, "rest" },
	};
	struct network_conf nc = { 0 };
	struct host_conf hc = { 0 };
	struct networks *n = NULL;
	char err[512];
	nc.name = "devnet";
	nc.genesis_time = 1;
	nc.validators = v;
	nc.n_validators = 4;
	hc.networks = &nc;
	hc.n_networks = 1;
	if (networks_load(&hc, &n, err, sizeof err))
		fail_msg("%s", err);
	const lab_network *net = networks_at(n, 0);
	static const struct {
		uint64_t index;
		const char *entity;
	} t[] = { { 0, "a" },	    { 9, "a" },	     { 10, NULL },   { 49, NULL },
		  { 50, "single" }, { 51, NULL },    { 99, NULL },   { 100, "b" },
		  { 150, "b" },	    { 199, "b" },    { 200, NULL },  { 999, NULL },
		  { 1000, "rest" }, { UINT64_MAX, "rest" } };
	for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
		const char *got = network_entity(net, t[i].index);
		if (t[i].entity ? !got || strcmp(got, t[i].entity) : got != NULL)
			fail_msg("validator %llu: got %s, want %s", (unsigned long long)t[i].index,
				 got ? got : "NULL", t[i].entity ? t[i].entity : "NULL");
	}
	/* No config file: defaults and no forks. */
	assert_int_equal(network_seconds_per_slot(net), 12);
	assert_int_equal(network_slots_per_epoch(net), 32);
	assert_int_equal(network_fork_count(net), 0);
	uint64_t e;
	assert_int_equal(network_fork_epoch(net, "phase0", &e), LAB_ENOENT);
	networks_free(n);

	/* No ranges at all. */
	nc.n_validators = 0;
	assert_int_equal(networks_load(&hc, &n, err, sizeof err), 0);
	assert_null(network_entity(networks_at(n, 0), 0));
	networks_free(n);
}

static void test_overlap(void **state)
{
	struct validator_range v[] = { { 0, 10, "a" }, { 20, 30, "c" }, { 10, 15, "b" } };
	struct network_conf nc = { 0 };
	struct host_conf hc = { 0 };
	struct networks *n = (void *)1;
	char err[512];
	nc.name = "mainnet";
	nc.validators = v;
	nc.n_validators = 3;
	hc.networks = &nc;
	hc.n_networks = 1;
	assert_int_equal(networks_load(&hc, &n, err, sizeof err), LAB_ECONFIG);
	assert_null(n);
	assert_non_null(strstr(err, "network 'mainnet'"));
	assert_non_null(strstr(err, "0-10 (a) and 10-15 (b) overlap"));
}

static void test_load_errors(void **state)
{
	struct network_conf nc[2] = { { 0 } };
	struct host_conf hc = { 0 };
	struct networks *n = (void *)1;
	char err[512];
	hc.networks = nc;
	hc.n_networks = 2;
	nc[0].name = "ok";
	nc[1].name = "remote";
	nc[1].config_url = "https://example.org/config.yaml";
	/* config_url: loaded with the defaults, pending until fetched. */
	assert_int_equal(networks_load(&hc, &n, err, sizeof err), 0);
	assert_string_equal(network_pending_url(networks_find(n, "remote")),
			    "https://example.org/config.yaml");
	assert_null(network_pending_url(networks_find(n, "ok")));
	assert_int_equal(network_fork_count(networks_find(n, "remote")), 0);
	const char *fetched = "SECONDS_PER_SLOT: 6\nDENEB_FORK_EPOCH: 9\n";
	assert_int_equal(networks_apply_yaml(n, 1, "SLOTS_PER_EPOCH: [", 18, "u", err, sizeof err),
			 LAB_EPARSE);
	assert_non_null(network_pending_url(networks_find(n, "remote"))); /* unchanged */
	assert_int_equal(networks_apply_yaml(n, 1, fetched, strlen(fetched), "u", err, sizeof err), 0);
	assert_null(network_pending_url(networks_find(n, "remote")));
	assert_int_equal(network_seconds_per_slot(networks_find(n, "remote")), 6);
	uint64_t e = 0;
	assert_int_equal(network_fork_epoch(networks_find(n, "remote"), "deneb", &e), 0);
	assert_int_equal(e, 9);
	networks_free(n);
	n = NULL;

	nc[1].config_url = NULL;
	nc[1].config_file = "/nonexistent/dir/config.yaml";
	assert_int_equal(networks_load(&hc, &n, err, sizeof err), LAB_EIO);
	assert_non_null(strstr(err, "network 'remote': /nonexistent/dir/config.yaml"));

	/* A YAML error names the file and the line. */
	char path[] = "/tmp/test_networks_XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	const char *y = "SECONDS_PER_SLOT: 12\nSLOTS_PER_EPOCH: [\n";
	assert_int_equal(write(fd, y, strlen(y)), (ssize_t)strlen(y));
	close(fd);
	nc[1].config_file = path;
	assert_true(networks_load(&hc, &n, err, sizeof err) == LAB_EPARSE);
	char want[100];
	snprintf(want, sizeof want, "network 'remote': %s:3: invalid YAML", path);
	if (!strstr(err, want))
		fail_msg("error \"%s\", want \"%s\"", err, want);
	unlink(path);

	/* Nothing configured. */
	hc.n_networks = 0;
	assert_int_equal(networks_load(&hc, &n, err, sizeof err), 0);
	assert_int_equal(networks_count(n), 0);
	assert_null(networks_at(n, 0));
	networks_free(n);
	assert_int_equal(networks_load(NULL, &n, NULL, 0), 0);
	networks_free(n);
	networks_free(NULL);
	assert_null(network_entity(NULL, 1));
	assert_int_equal(network_fork_count(NULL), 0);
}

int main(void)
{
	log_setup(LAB_LOG_ERROR, LOG_FORMAT_LOGFMT, 2);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mainnet_file),  cmocka_unit_test(test_testnet_files),
		cmocka_unit_test(test_values),	      cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_errors),	      cmocka_unit_test(test_garbage),
		cmocka_unit_test(test_validators),    cmocka_unit_test(test_overlap),
		cmocka_unit_test(test_load_errors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
