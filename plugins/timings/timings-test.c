/* timings on lab-plugin-test: a --once pass over canned ClickHouse answers
 * (streamed in batches of one row) writes both documents and records the
 * window in state; a failing query fails the run and stores nothing for it;
 * an unknown network is refused at init. */
#include <lab/plugin-test.h>

const lab_plugin *lab_plugin_entry(void);

static const char conf[] =
	"networks = [ \"mainnet\" ];\n"
	"time_windows = ( { file = \"last_day\"; step = \"1h\"; label = \"Last day\"; "
	"range = \"-24h\"; } );\n";

static const char bt_rows[] = "t\tmin\tmax\tavg\tp05\tp50\tp95\tblocks\n"
			      "1735686000\t1907\t5972\t4010.5\t2536.3\t3982\t5553.85\t304\n"
			      "1735689600\t1000\t2000\t1500\t1100\t1500\t1900\t10\n";
/* size_cdf's partials per time bucket t (the bucket cache keeps them) */
static const char cdf_rows[] = "t\tq\tc\ts0\tn0\ts1\tn1\ts2\tn2\ts3\tn3\ts4\tn4\n"
			       "1735686000\t1\t0\t3800\t2\t0\t0\t3800\t2\t0\t0\t0\t0\n";

static labt *host(void)
{
	labt *t = labt_new(lab_plugin_entry());
	LABT_CHECK_INT(labt_network(t, "mainnet", 1606824023, 12, 32), 0);
	LABT_CHECK_INT(labt_config(t, conf), 0);
	LABT_CHECK_INT(labt_init(t), 0);
	labt_ch_batch(t, 1);
	return t;
}

static void test_once(void)
{
	labt *t = host();
	int status = 1;
	LABT_CHECK(labt_ch_rows(t, "propagation_slot_start_diff < 6000", bt_rows) >= 0);
	LABT_CHECK(labt_ch_rows(t, "intDiv(total, 32768)", cdf_rows) >= 0);
	LABT_CHECK_INT(labt_once(t), 0);
	LABT_CHECK_INT(labt_once_wait(t, 60000, &status), 0);
	LABT_CHECK_INT(status, 0);
	/* The window ends now (2025-01-01T00:00:00Z) and starts 24 h before;
	 * with no bucket cache yet both queries cover all of it. */
	LABT_CHECK_INT(labt_ch_queries(t, "slot_start_date_time BETWEEN toDateTime(1735603200) AND "), 2);
	LABT_CHECK_INT(labt_ch_queries(t, "meta_network_name = 'mainnet'"), 2);
	const char *bt = labt_storage_get(t, "beacon_chain_timings/block_timings/mainnet/last_day.json",
					  NULL);
	LABT_CHECK(bt != NULL);
	LABT_CHECK_STR(labt_json(t, bt, "timestamps"), "[1735686000,1735689600]");
	LABT_CHECK_STR(labt_json(t, bt, "blocks.0"), "304");
	LABT_CHECK_STR(labt_json(t, bt, "p95s.0"), "5553.85");
	const char *cdf = labt_storage_get(t, "beacon_chain_timings/size_cdf/mainnet/last_day.json",
					   NULL);
	LABT_CHECK(cdf != NULL);
	LABT_CHECK_STR(labt_json(t, cdf, "sizes_kb"), "[64]");
	LABT_CHECK_STR(labt_json(t, cdf, "arrival_times_ms.all.0"), "1900.0");
	LABT_CHECK(labt_state_get(t, "block_timings") != NULL);
	LABT_CHECK(strstr(labt_state_get(t, "block_timings"), "mainnet/last_day") != NULL);
	LABT_CHECK_INT(labt_logs(t, LAB_LOG_WARN, NULL), 0);
	labt_free(t);
}

static void test_query_fails(void)
{
	labt *t = host();
	int status = 0;
	LABT_CHECK(labt_ch_fail(t, "propagation_slot_start_diff < 6000", LAB_EQUERY,
				"Code: 60. Table default.beacon_api_eth_v1_events_block doesn't exist") >= 0);
	LABT_CHECK(labt_ch_rows(t, "intDiv(total, 32768)", cdf_rows) >= 0);
	LABT_CHECK_INT(labt_once(t), 0);
	LABT_CHECK_INT(labt_once_wait(t, 60000, &status), 0);
	LABT_CHECK_INT(status, LAB_EQUERY);
	LABT_CHECK(labt_logs(t, LAB_LOG_WARN, "doesn't exist") >= 1);
	LABT_CHECK(!labt_storage_get(t, "beacon_chain_timings/block_timings/mainnet/last_day.json",
				     NULL));
	labt_free(t);
}

static void test_unknown_network(void)
{
	labt *t = labt_new(lab_plugin_entry());
	LABT_CHECK_INT(labt_network(t, "mainnet", 1606824023, 12, 32), 0);
	LABT_CHECK_INT(labt_config(t, "networks = [ \"holesky\" ];"), 0);
	LABT_CHECK_INT(labt_init(t), LAB_ECONFIG);
	LABT_CHECK(strstr(labt_error(t), "unknown network \"holesky\"") != NULL);
	labt_free(t);
}

int main(void)
{
	test_once();
	test_query_fails();
	test_unknown_network();
	printf("ok - timings on lab-plugin-test\n");
	return 0;
}
