/* beacon on lab-plugin-test: the backfill target comes from the network's
 * fork epochs; a network ethereum.networks does not define is refused at
 * init; reprocess requests arrive over the broker (malformed ones are
 * logged and ignored, a valid one is queued and its slot queried; a batch
 * that fails as a whole is retried); the loops' gauges and the backfill's
 * progress entry (SDK 1.2) are there from the start; in a cluster
 * (labt_cluster_backend "nats") every daemon claims the head holder's
 * trailing slots one by one, and the holder drops the ones done. */
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

/* Every query answers no rows (ClickHouse names the columns all the
 * same): no block anywhere.  The rule's id. */
static int no_rows(labt *t)
{
	char hdr[400] = "c0";
	for (int i = 1; i < 32; i++)
		snprintf(hdr + strlen(hdr), sizeof hdr - strlen(hdr), "\tc%d", i);
	strcat(hdr, "\n");
	return labt_ch_rows(t, "SELECT", hdr);
}

/* Trailing under claims: the slots above the shared backfill top that the
 * head lease holder left pending are claimed one by one ("NET/trail/SLOT")
 * by a daemon that does not hold the head lease; a slot still pending is
 * done (EEXIST) or busy elsewhere; a slot at or below the top is
 * backfill's and never claimed by trailing. */
static void test_cluster_trailing(void)
{
	labt *t = host("networks = { mainnet = { mev = false; "
		       "locally_built_blocks = { enabled = false; }; "
		       "backfill = { to_slot = 9999000; concurrency = 4; }; }; };");
	labt_cluster_backend(t, "nats");
	labt_lease_refuse(t, "mainnet/head", 1); /* another daemon holds the head */
	/* backfill finished (the frontier is at the target); the holder's cursor */
	LABT_CHECK_INT(labt_shared_set(t, "mainnet/backfill", "{\"top\":10000000,\"done_to\":9999000}"), 0);
	LABT_CHECK_INT(labt_shared_set(t, "mainnet/head",
				       "{\"last_head\":10000010,\"pending\":[9999990,10000001,"
				       "10000002,10000003,10000004],\"missed\":[]}"),
		       0);
	labt_claim_answer(t, "mainnet/trail/10000002", LAB_EBUSY); /* another daemon has it */
	labt_claim_answer(t, "mainnet/trail/10000004", LAB_EEXIST); /* done elsewhere */
	LABT_CHECK(no_rows(t) >= 0);
	LABT_CHECK_INT(labt_init(t), 0);
	LABT_CHECK_INT(labt_start(t), 0);
	labt_advance(t, 3000); /* the first trailing round */
	LABT_CHECK_INT(labt_lease_held(t, "mainnet/head"), 0);
	/* no block in (fake) ClickHouse, long past the grace period: missed,
	 * so the claims are finished as done */
	LABT_CHECK_INT(labt_claim_done(t, "mainnet/trail/10000001"), 1);
	LABT_CHECK_INT(labt_claim_done(t, "mainnet/trail/10000003"), 1);
	LABT_CHECK_INT(labt_claim_done(t, "mainnet/trail/10000002"), 0);
	LABT_CHECK_INT(labt_claim_done(t, "mainnet/trail/9999990"), 0); /* backfill's */
	LABT_CHECK_INT((int)labt_claims_held(t), 0);
	LABT_CHECK(labt_ch_queries(t, NULL) > 0);
	/* not the holder: the shared cursor is left alone */
	LABT_CHECK(strstr(labt_shared_value(t, "mainnet/head", NULL), "10000001") != NULL);
	/* this daemon takes the head over: its next round finds 10000001 and
	 * 10000003 done (EEXIST) and drops them from the shared pending list */
	labt_lease_refuse(t, "mainnet/head", 0);
	labt_advance(t, 12000);
	LABT_CHECK_INT(labt_lease_held(t, "mainnet/head"), 1);
	const char *head = labt_shared_value(t, "mainnet/head", NULL);
	LABT_CHECK(head && strstr(head, "10000001") == NULL && strstr(head, "10000003") == NULL &&
		   strstr(head, "10000004") == NULL);
	LABT_CHECK(strstr(head, "10000002") != NULL); /* still busy elsewhere */
	LABT_CHECK(strstr(head, "9999990") != NULL);  /* left to backfill */
	LABT_CHECK_INT(labt_stop(t), 0);
	labt_free(t);
}

/* A trailing claim lost while its queries run (it expired: another daemon
 * may have it) is finished without a done marker, and a later round
 * claims the slot again and finishes it. */
static void test_cluster_trailing_lost(void)
{
	labt *t = host("networks = { mainnet = { mev = false; "
		       "locally_built_blocks = { enabled = false; }; "
		       "backfill = { to_slot = 9999000; concurrency = 4; }; }; };");
	labt_cluster_backend(t, "nats");
	labt_lease_refuse(t, "mainnet/head", 1);
	LABT_CHECK_INT(labt_shared_set(t, "mainnet/backfill", "{\"top\":10000000,\"done_to\":9999000}"), 0);
	LABT_CHECK_INT(labt_shared_set(t, "mainnet/head",
				       "{\"last_head\":10000010,\"pending\":[10000001],\"missed\":[]}"),
		       0);
	int rule = no_rows(t);
	LABT_CHECK(rule >= 0);
	LABT_CHECK_INT(labt_ch_delay(t, rule, 5000), 0); /* the queries take 5 s */
	LABT_CHECK_INT(labt_init(t), 0);
	LABT_CHECK_INT(labt_start(t), 0);
	labt_advance(t, 2500); /* the first round: claimed, queries in flight */
	LABT_CHECK_INT((int)labt_claims_held(t), 1);
	LABT_CHECK_INT(labt_claim_lose(t, "mainnet/trail/10000001"), 0);
	labt_advance(t, 5000); /* the answers: the claim is no longer valid */
	LABT_CHECK_INT((int)labt_claims_held(t), 0);
	LABT_CHECK_INT(labt_claim_done(t, "mainnet/trail/10000001"), 0);
	labt_advance(t, 12000); /* the next round (tick at 14 s) claims it again */
	LABT_CHECK_INT(labt_claim_done(t, "mainnet/trail/10000001"), 1);
	LABT_CHECK_INT(labt_stop(t), 0);
	labt_free(t);
}

int main(void)
{
	test_backfill_target();
	test_unknown_network();
	test_reprocess();
	test_cluster_trailing();
	test_cluster_trailing_lost();
	printf("ok - beacon on lab-plugin-test\n");
	return 0;
}
