/* beacon on lab-plugin-test: the backfill target comes from the network's
 * fork epochs; a network ethereum.networks does not define is refused at
 * init; reprocess requests arrive over the broker (malformed ones are
 * logged and ignored, a valid one is queued and its slot queried; a batch
 * that fails as a whole is retried); the loops' gauges and the backfill's
 * progress entry (SDK 1.2) are there from the start. */
#include <lab/plugin-test.h>

const lab_plugin *lab_plugin_entry(void);

static labt *host(const char *conf)
{
	labt *t = labt_new(lab_plugin_entry());
	LABT_CHECK_INT(labt_network(t, "mainnet", 1606824023, 12, 32), 0);
	LABT_CHECK_INT(labt_network_fork(t, "mainnet", "deneb", 269568), 0);
	LABT_CHECK_INT(labt_config(t, conf), 0);
	return t;
}

static void test_backfill_target(void)
{
	labt *t = host("networks = { mainnet = { backfill = { to_fork = \"deneb\"; "
		       "concurrency = 4; }; }; };");
	LABT_CHECK_INT(labt_init(t), 0);
	const char *d = labt_describe(t);
	LABT_CHECK_STR(labt_json(t, d, "networks.mainnet.backfill.target_slot"), "8626176");
	LABT_CHECK_STR(labt_json(t, d, "networks.mainnet.backfill.concurrency"), "4");
	/* the loops' gauges (SDK 1.2 metrics) are set from the start */
	LABT_CHECK_INT(labt_start(t), 0);
	LABT_CHECK(labt_metric(t, "target_slot", LAB_LABELS("mainnet", "backfill")) == 8626176);
	LABT_CHECK(labt_metric(t, "eta_seconds", LAB_LABELS("mainnet", "backfill")) == -1);
	LABT_CHECK(strstr(labt_metrics_text(t), "# TYPE lab_beacon_slots_stored_total counter\n"));
	/* and the backfill's progress entry: the head down to the target */
	double done = -1, total = -1;
	LABT_CHECK_INT(labt_progress(t, "mainnet backfill", &done, &total, NULL), 0);
	LABT_CHECK(total > 2000000 && done < total);
	LABT_CHECK(total - done == labt_metric(t, "slots_remaining", LAB_LABELS("mainnet", "backfill")));
	labt_free(t);
}

static void test_unknown_network(void)
{
	labt *t = host("networks = { gnosis = { }; };");
	LABT_CHECK_INT(labt_init(t), LAB_ECONFIG);
	LABT_CHECK(strstr(labt_error(t), "names network 'gnosis'") != NULL);
	labt_free(t);
}

static void test_reprocess(void)
{
	labt *t = host("networks = { mainnet = { mev = false; "
		       "locally_built_blocks = { enabled = false; }; }; };");
	LABT_CHECK_INT(labt_init(t), 0);
	/* ClickHouse is down: every query fails */
	LABT_CHECK(labt_ch_fail(t, "SELECT", LAB_EUNAVAIL, "connection refused") >= 0);
	LABT_CHECK_INT(labt_start(t), 0);
	LABT_CHECK_INT(labt_subscriptions(t), 1);
	LABT_CHECK_INT(labt_publish(t, "beacon.reprocess", "{\"slot\":", 8), 0);
	LABT_CHECK_INT(labt_logs(t, LAB_LOG_WARN, "ignoring malformed reprocess request"), 1);
	size_t before = labt_ch_queries(t, NULL);
	const char req[] = "{\"network\":\"mainnet\",\"slot\":9000000}";
	LABT_CHECK_INT(labt_publish(t, "beacon.reprocess", req, sizeof req - 1), 0);
	labt_advance(t, 1000);
	LABT_CHECK(labt_ch_queries(t, "9000000") >= 1);
	LABT_CHECK(labt_ch_queries(t, NULL) > before);
	/* the queued request's batch failed as a whole: kept and retried later */
	LABT_CHECK(labt_logs(t, LAB_LOG_WARN, "reprocess batch failed, retrying network=mainnet "
					      "from=9000000 to=9000000") >= 1);
	LABT_CHECK_INT(labt_stop(t), 0);
	labt_free(t);
}

int main(void)
{
	test_backfill_target();
	test_unknown_network();
	test_reprocess();
	printf("ok - beacon on lab-plugin-test\n");
	return 0;
}
