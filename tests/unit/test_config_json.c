/* config.json: describe texts are untrusted (entry check), and the document
 * shape from networks (config_json_build). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "buf.h"
#include "config.h"
#include "config_json.h"
#include "log.h"
#include "networks.h"
#include "storage.h"

/* Fake (not exercised here): config_json.c writes through storage, which
 * tests/integration/config-json.sh covers with the real fs backend. */
int storage_put(struct storage *s, const char *plugin, const char *key, const void *data,
		size_t len, const char *content_type, const char *cache_control, unsigned flags,
		storage_cb cb, void *ud, struct storage_op **out)
{
	return LAB_ENOTSUP;
}

static void test_entry_check(void **state)
{
	char key[64];
	assert_int_equal(config_json_entry_check("p", "{\"a\":1}", key, sizeof key), 0);
	assert_string_equal(key, "p");
	assert_int_equal(config_json_entry_check("p", " {\"path_prefix\":\"beacon_chain_timings\"} ",
						 key, sizeof key),
			 0);
	assert_string_equal(key, "beacon_chain_timings");
	/* path_prefix that is not a non-empty string: the plugin name. */
	assert_int_equal(config_json_entry_check("p", "{\"path_prefix\":\"\"}", key, sizeof key), 0);
	assert_string_equal(key, "p");
	assert_int_equal(config_json_entry_check("p", "{\"path_prefix\":7}", key, sizeof key), 0);
	assert_string_equal(key, "p");

	/* (json-c 0.16 accepts 'single quotes' even in strict mode; harmless:
	 * entries are re-serialised by json-c, so config.json is valid JSON.) */
	static const char *const bad[] = { "", "[]", "1", "\"s\"", "null", "{", "{\"a\":1}x",
					   "{\"a\":1}{}", "{\"a\":}", "{\"a\":1,}" };
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		assert_int_equal(config_json_entry_check("p", bad[i], key, sizeof key), LAB_EPARSE);

	/* Nesting beyond 64 levels. */
	char deep[200];
	size_t n = 0;
	deep[n++] = '{';
	deep[n++] = '"';
	deep[n++] = 'a';
	deep[n++] = '"';
	deep[n++] = ':';
	for (int i = 0; i < 70; i++)
		deep[n++] = '[';
	for (int i = 0; i < 70; i++)
		deep[n++] = ']';
	deep[n++] = '}';
	deep[n] = '\0';
	assert_int_equal(config_json_entry_check("p", deep, key, sizeof key), LAB_EPARSE);

	/* Too large, and a key that does not fit. */
	size_t big = CONFIG_JSON_ENTRY_MAX + 16;
	char *b = malloc(big + 1);
	assert_non_null(b);
	memset(b, ' ', big);
	memcpy(b, "{}", 2);
	b[big] = '\0';
	assert_int_equal(config_json_entry_check("p", b, key, sizeof key), LAB_ERANGE);
	free(b);
	assert_int_equal(config_json_entry_check("p", "{\"path_prefix\":\"0123456789\"}", key, 8),
			 LAB_ERANGE);
	assert_int_equal(config_json_entry_check(NULL, "{}", key, sizeof key), LAB_EINVAL);
}

static void test_build_networks(void **state)
{
	struct network_conf nc[2] = { { 0 } };
	struct host_conf hc = { 0 };
	struct networks *n = NULL;
	struct buf b = BUF_INIT;
	char err[256];
	hc.networks = nc;
	hc.n_networks = 2;
	nc[0].name = "a";
	nc[0].genesis_time = 100;
	nc[1].name = "b";
	nc[1].genesis_time = 5;
	nc[1].config_url = "http://x/c.yaml"; /* pending: defaults, no forks */
	assert_int_equal(networks_load(&hc, &n, err, sizeof err), 0);
	const char *y = "ALTAIR_FORK_EPOCH: 10\nDENEB_FORK_EPOCH: 0x20\nEIP7_FORK_EPOCH: 18446744073709551615\n";
	assert_int_equal(networks_apply_yaml(n, 0, y, strlen(y), "y", err, sizeof err), 0);
	assert_int_equal(config_json_build(NULL, n, &b), 0);
	assert_string_equal(
		b.data,
		"{\"modules\":{},\"ethereum\":{\"networks\":{"
		"\"a\":{\"genesis_time\":100,\"forks\":{\"consensus\":{"
		"\"phase0\":{\"min_client_versions\":{},\"epoch\":0},"
		"\"altair\":{\"min_client_versions\":{},\"epoch\":10},"
		"\"deneb\":{\"min_client_versions\":{},\"epoch\":32}}}},"
		"\"b\":{\"genesis_time\":5,\"forks\":{\"consensus\":{}}}}}}");
	buf_free(&b);
	networks_free(n);
}

int main(void)
{
	log_setup(LAB_LOG_ERROR, LOG_FORMAT_LOGFMT, 2);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_entry_check),
		cmocka_unit_test(test_build_networks),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
