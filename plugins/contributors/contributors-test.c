/* contributors on lab-plugin-test: a --once pass over canned answers writes
 * summary.json from the summary query's groups (every configured network,
 * zeros when it had no rows); names the host's key rules refuse are refused
 * at init. */
#include <lab/plugin-test.h>

const lab_plugin *lab_plugin_entry(void);

static const char summary_rows[] = "net\tdim\tk\ttotal\tpublic\n"
				   "mainnet\t\t\t3\t2\n"
				   "mainnet\tcities\tParis\t2\t2\n"
				   "mainnet\tcountries\tFrance\t3\t2\n";

static labt *host(const char *conf)
{
	labt *t = labt_new(lab_plugin_entry());
	LABT_CHECK_INT(labt_network(t, "mainnet", 1606824023, 12, 32), 0);
	LABT_CHECK_INT(labt_network(t, "holesky", 1695902400, 12, 32), 0);
	LABT_CHECK_INT(labt_config(t, conf), 0);
	return t;
}

static void test_summary(void)
{
	labt *t = host("time_windows = ( { file = \"last_6h\"; step = \"5m\"; range = \"-6h\"; } );");
	int status = 1;
	LABT_CHECK_INT(labt_init(t), 0);
	LABT_CHECK(labt_ch_rows(t, "arrayJoin([('', '')", summary_rows) >= 0);
	/* the other processors: no rows */
	LABT_CHECK(labt_ch_rows(t, "/uniqExact\\(meta_client_name\\) AS n/", "net\tt\tk\tn\n") >= 0);
	LABT_CHECK(labt_ch_rows(t, "uniqExact(name) AS n FROM (", "net\tt\tk\tn\n") >= 0);
	LABT_CHECK(labt_ch_rows(t, "SELECT username, net",
				"username\tnet\tname\tcons\tconsv\tcountry\tcity\tcontinent\tslot\t"
				"sst_unix\timpl\tver\n") >= 0);
	LABT_CHECK_INT(labt_once(t), 0);
	LABT_CHECK_INT(labt_once_wait(t, 600000, &status), 0);
	LABT_CHECK_INT(labt_ch_unmatched(t), 0);
	LABT_CHECK_INT(status, 0);
	/* both networks were asked for, as bound string literals */
	LABT_CHECK_INT(labt_ch_queries(t, "meta_network_name IN ('mainnet','holesky')"), 4);
	const char *doc = labt_storage_get(t, "xatu_public_contributors/summary.json", NULL);
	LABT_CHECK(doc != NULL);
	LABT_CHECK_STR(labt_json(t, doc, "updated_at"), "1735689600");
	LABT_CHECK_STR(labt_json(t, doc, "networks.mainnet.total_nodes"), "3");
	LABT_CHECK_STR(labt_json(t, doc, "networks.mainnet.total_public_nodes"), "2");
	LABT_CHECK_STR(labt_json(t, doc, "networks.mainnet.cities.Paris.public_nodes"), "2");
	LABT_CHECK_STR(labt_json(t, doc, "networks.holesky.total_nodes"), "0");
	labt_free(t);
}

static void test_bad_network_name(void)
{
	labt *t = labt_new(lab_plugin_entry());
	/* LAB_SETTING_KEY_SEGMENT: the host refuses it before init */
	LABT_CHECK_INT(labt_config(t, "networks = [ \"main/net\" ];"), LAB_ECONFIG);
	LABT_CHECK(strstr(labt_error(t), "networks") != NULL);
	labt_free(t);
}

int main(void)
{
	test_summary();
	test_bad_network_name();
	printf("ok - contributors on lab-plugin-test\n");
	return 0;
}
