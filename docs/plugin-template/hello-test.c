/*
 * Unit tests of hello on lab-plugin-test, the fake host of
 * docs/plugin-testing.md: `make test` builds and runs them.  No labd, no
 * ClickHouse: the query gets a canned answer, storage and state are in
 * memory and time only moves when the test says so.
 */
#include <lab/plugin-test.h>

const lab_plugin *lab_plugin_entry(void);

/* A new fake host with hello configured by `conf` and initialised. */
static labt *hello_host(const char *conf)
{
	labt *t = labt_new(lab_plugin_entry());
	LABT_CHECK_INT(labt_config(t, conf), 0);
	LABT_CHECK_INT(labt_init(t), 0);
	return t;
}

/* init refuses a bad network name and logs where it was set. */
static void test_bad_network(void)
{
	labt *t = labt_new(lab_plugin_entry());
	LABT_CHECK_INT(labt_config(t, "network = \"Main\";"), 0); /* a valid string ... */
	LABT_CHECK_INT(labt_init(t), LAB_ECONFIG);                /* ... hello refuses */
	LABT_CHECK_INT(labt_logs(t, LAB_LOG_ERROR, "setting 'network' must match"), 1);
	labt_free(t);
}

/* One pass: the query, the document (built on a worker), state and event. */
static void test_pass(void)
{
	labt *t = hello_host("network = \"sepolia\"; interval = \"1m\";");
	int status = -1;
	labt_set_now(t, 1735787045000LL); /* 2025-01-02T03:04:05Z */
	LABT_CHECK(labt_ch_rows(t, "meta_network_name = 'sepolia'", "count()\n287\n") >= 0);
	LABT_CHECK_INT(labt_once(t), 0);
	LABT_CHECK_INT(labt_once_wait(t, 60000, &status), 0);
	LABT_CHECK_INT(status, 0);
	/* The parameters were bound as ClickHouse literals. */
	LABT_CHECK_INT(labt_ch_queries(t, "slot_start_date_time >= toDateTime(1735783445)"), 1);
	const char *doc = labt_storage_get(t, "hello/sepolia/latest.json", NULL);
	LABT_CHECK_STR(doc, "{\"network\":\"sepolia\",\"blocks\":287,\"generated_at\":1735787045}");
	LABT_CHECK_STR(labt_state_get(t, "runs"), "1");
	LABT_CHECK_STR(labt_event(t, "hello.updated", 0, NULL, NULL),
		       "{\"network\":\"sepolia\",\"runs\":1}");
	labt_free(t);
}

/* Service mode: a pass at start, then one per interval; a failed query is
 * logged and the next pass tries again. */
static void test_timer_and_failure(void)
{
	labt *t = hello_host("interval = \"1m\";");
	int q = labt_ch_fail(t, "beacon_api_eth_v1_events_block", LAB_EQUERY, "Table missing");
	LABT_CHECK(q >= 0);
	LABT_CHECK_INT(labt_ch_times(t, q, 1), 0); /* only the first query fails */
	LABT_CHECK(labt_ch_rows(t, "count()", "count()\n5\n") >= 0);
	labt_work_mode(t, LABT_WORK_THREAD); /* build documents on a real thread */
	LABT_CHECK_INT(labt_start(t), 0);
	LABT_CHECK_INT(labt_logs(t, LAB_LOG_ERROR, "error=Table missing"), 1);
	LABT_CHECK_INT(labt_storage_count(t), 0);
	labt_advance(t, 60000);
	LABT_CHECK_INT(labt_ch_queries(t, NULL), 2);
	LABT_CHECK_STR(labt_json(t, labt_storage_get(t, "hello/mainnet/latest.json", NULL), "blocks"),
		       "5");
	LABT_CHECK_INT(labt_stop(t), 0);
	labt_free(t);
}

/* The run count continues from state; a corrupt value restarts it. */
static void test_state(void)
{
	labt *t = labt_new(lab_plugin_entry());
	LABT_CHECK_INT(labt_state_set(t, "runs", "41"), 0);
	LABT_CHECK_INT(labt_config(t, "clickhouse = false;"), 0);
	LABT_CHECK_INT(labt_init(t), 0);
	LABT_CHECK_INT(labt_start(t), 0);
	LABT_CHECK_STR(labt_state_get(t, "runs"), "42");
	LABT_CHECK_INT(labt_ch_queries(t, NULL), 0);
	labt_free(t);
}

int main(void)
{
	test_bad_network();
	test_pass();
	test_timer_and_failure();
	test_state();
	printf("ok - hello unit tests\n");
	return 0;
}
