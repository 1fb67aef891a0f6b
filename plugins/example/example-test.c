/*
 * Unit tests of the example plugin on lab-plugin-test (docs/plugin-testing.md):
 * the plugin runs in this process against a fake host with virtual time.
 * Build and run out of tree with:
 *   cc example-test.c example.c $(pkg-config --cflags --libs lab-plugin-test) -o example-test
 *   ./example-test
 */
#include <math.h>

#include <lab/plugin-test.h>

const lab_plugin *lab_plugin_entry(void);

/* Settings are checked like labd does, before init. */
static void test_settings(void)
{
	labt *t = labt_new(lab_plugin_entry());
	LABT_CHECK_INT(labt_config(t, "interval = \"0s\";"), LAB_ECONFIG);
	LABT_CHECK(strstr(labt_error(t), "interval") != NULL);
	LABT_CHECK_INT(labt_config(t, "colour = \"red\";"), LAB_ECONFIG); /* unknown key */
	LABT_CHECK_INT(labt_config(t, "path_prefix = \"../up\";"), LAB_ECONFIG);
	LABT_CHECK_INT(labt_config(t, "interval = \"2s\"; message = \"hi\";"), 0);
	LABT_CHECK_INT(labt_init(t), 0);
	LABT_CHECK_STR(labt_json(t, labt_describe(t), "interval_s"), "2");
	labt_free(t);
}

/* The timer ticks every interval: counter in state, an event, a log line. */
static void test_ticks(void)
{
	labt *t = labt_new(lab_plugin_entry());
	LABT_CHECK_INT(labt_config(t, "interval = \"10s\"; message = \"tock\";"), 0);
	LABT_CHECK_INT(labt_init(t), 0);
	LABT_CHECK_INT(labt_start(t), 0);
	LABT_CHECK_INT(labt_events(t, "example.tick"), 0);
	labt_advance(t, 9999); /* not yet */
	LABT_CHECK_INT(labt_events(t, "example.tick"), 0);
	labt_advance(t, 1);
	LABT_CHECK_INT(labt_events(t, "example.tick"), 1);
	labt_advance(t, 20000);
	LABT_CHECK_INT(labt_events(t, "example.*"), 3);
	LABT_CHECK_STR(labt_event(t, "example.tick", 2, NULL, NULL), "{\"count\":3}");
	LABT_CHECK_STR(labt_state_get(t, "counter"), "3");
	LABT_CHECK_INT(labt_logs(t, LAB_LOG_INFO, "tock count=3"), 1);
	LABT_CHECK_INT(labt_stop(t), 0);
	LABT_CHECK_INT(labt_state_flushes(t), 1); /* the host flushes on stop */
	labt_free(t);
}

/* The count continues from durable state; a bad value restarts it. */
static void test_state(void)
{
	labt *t = labt_new(lab_plugin_entry());
	LABT_CHECK_INT(labt_state_set(t, "counter", "41"), 0);
	LABT_CHECK_INT(labt_init(t), 0);
	LABT_CHECK_INT(labt_run(t), LAB_ESTATE); /* not started */
	LABT_CHECK_INT(labt_start(t), 0);
	LABT_CHECK_INT(labt_run(t), 0);
	LABT_CHECK_STR(labt_state_get(t, "counter"), "42");
	labt_free(t);

	t = labt_new(lab_plugin_entry());
	LABT_CHECK_INT(labt_state_set(t, "counter", "\"forty\""), 0);
	LABT_CHECK_INT(labt_init(t), 0);
	LABT_CHECK_INT(labt_logs(t, LAB_LOG_WARN, "not a count"), 1);
	labt_free(t);
}

/* --once stores the document, flushes state and reports done. */
static void test_once(void)
{
	labt *t = labt_new(lab_plugin_entry());
	int status = 1;
	labt_set_now(t, 1700000000000LL);
	LABT_CHECK_INT(labt_config(t, "path_prefix = \"ex/a\";"), 0);
	LABT_CHECK_INT(labt_init(t), 0);
	LABT_CHECK_INT(labt_once(t), 0);
	LABT_CHECK_INT(labt_once_wait(t, 1000, &status), 0);
	LABT_CHECK_INT(status, 0);
	const char *doc = labt_storage_get(t, "ex/a/last.json", NULL);
	LABT_CHECK(doc != NULL);
	LABT_CHECK_STR(labt_json(t, doc, "count"), "1");
	LABT_CHECK_STR(labt_json(t, doc, "at"), "1700000000");
	LABT_CHECK_STR(labt_storage_content_type(t, "ex/a/last.json"), "application/json");
	LABT_CHECK_INT(labt_state_flushes(t), 1);
	labt_free(t);
}

/* A storage failure fails the --once run with its status. */
static void test_once_storage_fails(void)
{
	labt *t = labt_new(lab_plugin_entry());
	int status = 0;
	LABT_CHECK(labt_storage_fail(t, "last.json", LAB_EIO, 0) >= 0);
	LABT_CHECK_INT(labt_init(t), 0);
	LABT_CHECK_INT(labt_once(t), 0);
	LABT_CHECK_INT(labt_once_wait(t, 1000, &status), 0);
	LABT_CHECK_INT(status, LAB_EIO);
	LABT_CHECK_INT(labt_logs(t, LAB_LOG_ERROR, "cannot store the document"), 1);
	LABT_CHECK_INT(labt_storage_count(t), 0);
	labt_free(t);
}

/* Its SDK 1.2 metrics, as labd would expose them on /metrics. */
static void test_metrics(void)
{
	labt *t = labt_new(lab_plugin_entry());
	LABT_CHECK_INT(labt_state_set(t, "counter", "5"), 0);
	LABT_CHECK_INT(labt_config(t, "interval = \"10s\";"), 0);
	LABT_CHECK_INT(labt_init(t), 0);
	LABT_CHECK(labt_metric(t, "count", NULL) == 5); /* set in init from state */
	LABT_CHECK(isnan(labt_metric(t, "ticks_total", LAB_LABELS("timer")))); /* no tick yet */
	LABT_CHECK_INT(labt_start(t), 0);
	labt_advance(t, 30000); /* three timer ticks */
	LABT_CHECK_INT(labt_run(t), 0);
	LABT_CHECK(labt_metric(t, "ticks_total", LAB_LABELS("timer")) == 3);
	LABT_CHECK(labt_metric(t, "ticks_total", LAB_LABELS("run")) == 1);
	LABT_CHECK(labt_metric(t, "count", NULL) == 9);
	/* two intervals of 10 s between the timer ticks, then 0 s to the run */
	LABT_CHECK(labt_metric(t, "tick_interval_seconds", NULL) == 3);
	LABT_CHECK(labt_metric_sum(t, "tick_interval_seconds", NULL) == 20);
	const char *text = labt_metrics_text(t);
	LABT_CHECK(strstr(text, "# TYPE lab_example_ticks_total counter\n") != NULL);
	LABT_CHECK(strstr(text, "lab_example_ticks_total{trigger=\"timer\"} 3\n") != NULL);
	LABT_CHECK(strstr(text, "lab_example_tick_interval_seconds_bucket{le=\"10\"} 3\n") != NULL);
	LABT_CHECK(strstr(text, "lab_example_count 9\n") != NULL);
	labt_free(t);
}

/* Several daemons (labt_cluster_backend "nats"): only the lease holder
 * ticks, the counter continues from the shared value, a lost lease stops
 * the ticks at once, a stale holder's CAS conflicts. */
static void test_cluster(void)
{
	labt *t = labt_new(lab_plugin_entry());
	labt_cluster_backend(t, "nats");
	labt_lease_refuse(t, "tick", 1); /* another daemon holds it */
	LABT_CHECK_INT(labt_config(t, "interval = \"1s\";"), 0);
	LABT_CHECK_INT(labt_init(t), 0);
	LABT_CHECK_INT(labt_start(t), 0);
	labt_advance(t, 3000);
	LABT_CHECK_INT(labt_lease_held(t, "tick"), 0);
	LABT_CHECK_INT(labt_events(t, "example.tick"), 0); /* not the holder: no tick */
	/* the other daemon counted to 41 and stopped: this one takes over */
	LABT_CHECK_INT(labt_shared_set(t, "counter", "41"), 0);
	labt_lease_refuse(t, "tick", 0);
	labt_advance(t, 1000);
	LABT_CHECK_INT(labt_lease_held(t, "tick"), 1);
	LABT_CHECK(labt_events(t, "example.tick") >= 1);
	LABT_CHECK_STR(labt_event(t, "example.tick", 0, NULL, NULL), "{\"count\":42}");
	LABT_CHECK_STR(labt_shared_value(t, "counter", NULL), "42");
	/* lost: no tick until it is back */
	LABT_CHECK_INT(labt_lease_lose(t, "tick", -1), 0);
	size_t n = labt_events(t, "example.tick");
	labt_advance(t, 5000);
	LABT_CHECK_INT(labt_events(t, "example.tick"), n);
	LABT_CHECK_INT(labt_logs(t, LAB_LOG_WARN, "lease lost: not ticking"), 1);
	LABT_CHECK_INT(labt_stop(t), 0);
	labt_free(t);
}

int main(void)
{
	test_settings();
	test_ticks();
	test_state();
	test_once();
	test_once_storage_fails();
	test_metrics();
	test_cluster();
	printf("ok - example plugin unit tests (lab-plugin-test)\n");
	return 0;
}
