#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "buf.h"
#include "log.h"
#include "metrics.h"

/* This test's registry (the daemon owns one; the services get it at open). */
static struct metrics *M;

static struct buf out = BUF_INIT;

static const char *render(void)
{
	buf_reset(&out);
	metrics_render(M, &out);
	assert_false(out.oom);
	return out.data;
}

static void assert_has(const char *text, const char *needle)
{
	if (!strstr(text, needle))
		fail_msg("missing \"%s\" in:\n%s", needle, text);
}

static void assert_lacks(const char *text, const char *needle)
{
	if (strstr(text, needle))
		fail_msg("unexpected \"%s\" in:\n%s", needle, text);
}

static int setup(void **state)
{
	return metrics_new("1.2.3", &M);
}

static int teardown(void **state)
{
	metrics_free(M);
	M = NULL;
	buf_free(&out);
	return 0;
}

static void test_gauges_and_headers(void **state)
{
	const char *t = render();
	assert_has(t, "# HELP lab_up ");
	assert_has(t, "# TYPE lab_up gauge\nlab_up 1\n");
	assert_has(t, "# TYPE lab_build_info gauge\nlab_build_info{version=\"1.2.3\"} 1\n");
	/* Every family announces itself, with or without series, in enum order. */
	static const char *const order[] = {
		"lab_up", "lab_build_info", "lab_plugin_state", "lab_plugin_reloads_total",
		"lab_timer_fires_total", "lab_clickhouse_queries_total",
		"lab_clickhouse_query_seconds", "lab_clickhouse_rows_total",
		"lab_storage_ops_total", "lab_storage_bytes_total", "lab_broker_messages_total",
		"lab_broker_dropped_total", "lab_state_flushes_total", "lab_state_corrupt_total",
		"process_resident_memory_bytes", "process_start_time_seconds",
	};
	const char *prev = t;
	for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
		char line[128];
		snprintf(line, sizeof(line), "# TYPE %s ", order[i]);
		const char *p = strstr(t, line);
		if (!p)
			fail_msg("no TYPE line for %s", order[i]);
		assert_true(p >= prev);
		prev = p;
	}
	assert_has(t, "# TYPE lab_timer_fires_total counter\n");
	assert_has(t, "# TYPE lab_clickhouse_query_seconds histogram\n");
	assert_int_equal(t[strlen(t) - 1], '\n');
}

static void test_counters(void **state)
{
	metric_add(M, M_TIMER_FIRES, 1, "beacon");
	metric_add(M, M_TIMER_FIRES, 2, "beacon");
	metric_add(M, M_TIMER_FIRES, 1, "alpha");
	metric_add(M, M_STORAGE_OPS, 1, "beacon", "put", "ok");
	metric_add(M, M_STORAGE_BYTES, 1536, "beacon", "put");
	metric_add(M, M_STATE_FLUSHES, 1, "ok");
	metric_add(M, M_CH_ROWS, 0.5, "timings");
	metric_add(M, M_TIMER_FIRES, -5, "beacon"); /* counters never go down */
	assert_true(metric_get(M, M_TIMER_FIRES, "beacon") == 3);
	assert_true(metric_get(M, M_TIMER_FIRES, "absent") == 0);
	const char *t = render();
	/* Sorted by label values: alpha before beacon. */
	assert_has(t, "lab_timer_fires_total{plugin=\"alpha\"} 1\n"
		      "lab_timer_fires_total{plugin=\"beacon\"} 3\n");
	assert_has(t, "lab_storage_ops_total{plugin=\"beacon\",op=\"put\",result=\"ok\"} 1\n");
	assert_has(t, "lab_storage_bytes_total{plugin=\"beacon\",op=\"put\"} 1536\n");
	assert_has(t, "lab_state_flushes_total{result=\"ok\"} 1\n");
	assert_has(t, "lab_clickhouse_rows_total{plugin=\"timings\"} 0.5\n");

	metric_set(M, M_UP, 0);
	assert_has(render(), "\nlab_up 0\n");
}

static void test_escaping(void **state)
{
	metric_add(M, M_TIMER_FIRES, 1, "a\"b");
	metric_add(M, M_TIMER_FIRES, 1, "back\\slash");
	metric_add(M, M_TIMER_FIRES, 1, "new\nline");
	metric_add(M, M_TIMER_FIRES, 1, "bad\xff utf8");
	metric_add(M, M_TIMER_FIRES, 1, "caf\xc3\xa9");
	metric_add(M, M_TIMER_FIRES, 1, (const char *)NULL);
	const char *t = render();
	assert_has(t, "lab_timer_fires_total{plugin=\"a\\\"b\"} 1\n");
	assert_has(t, "lab_timer_fires_total{plugin=\"back\\\\slash\"} 1\n");
	assert_has(t, "lab_timer_fires_total{plugin=\"new\\nline\"} 1\n");
	assert_has(t, "lab_timer_fires_total{plugin=\"bad\xef\xbf\xbd utf8\"} 1\n");
	assert_has(t, "lab_timer_fires_total{plugin=\"caf\xc3\xa9\"} 1\n");
	assert_has(t, "lab_timer_fires_total{plugin=\"\"} 1\n");
	assert_lacks(t, "new\nline");
	assert_true(metric_get(M, M_TIMER_FIRES, "a\"b") == 1);

	/* Over-long values are cut, not rejected. */
	char longname[600];
	memset(longname, 'x', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	metric_add(M, M_TIMER_FIRES, 7, longname);
	assert_true(metric_get(M, M_TIMER_FIRES, longname) == 7);
	longname[255] = '\0';
	char want[700];
	snprintf(want, sizeof(want), "{plugin=\"%s\"} 7\n", longname);
	assert_has(render(), want);
}

static void test_histogram(void **state)
{
	metric_observe(M, M_CH_QUERY_SECONDS, 0.003, "beacon");
	metric_observe(M, M_CH_QUERY_SECONDS, 0.01, "beacon");  /* le is inclusive */
	metric_observe(M, M_CH_QUERY_SECONDS, 0.2, "beacon");
	metric_observe(M, M_CH_QUERY_SECONDS, 3, "beacon");
	metric_observe(M, M_CH_QUERY_SECONDS, 100, "beacon");   /* only +Inf */
	assert_true(metric_get(M, M_CH_QUERY_SECONDS, "beacon") == 5);
	const char *t = render();
	static const char want[] =
		"lab_clickhouse_query_seconds_bucket{plugin=\"beacon\",le=\"0.005\"} 1\n"
		"lab_clickhouse_query_seconds_bucket{plugin=\"beacon\",le=\"0.01\"} 2\n"
		"lab_clickhouse_query_seconds_bucket{plugin=\"beacon\",le=\"0.025\"} 2\n"
		"lab_clickhouse_query_seconds_bucket{plugin=\"beacon\",le=\"0.05\"} 2\n"
		"lab_clickhouse_query_seconds_bucket{plugin=\"beacon\",le=\"0.1\"} 2\n"
		"lab_clickhouse_query_seconds_bucket{plugin=\"beacon\",le=\"0.25\"} 3\n"
		"lab_clickhouse_query_seconds_bucket{plugin=\"beacon\",le=\"0.5\"} 3\n"
		"lab_clickhouse_query_seconds_bucket{plugin=\"beacon\",le=\"1\"} 3\n"
		"lab_clickhouse_query_seconds_bucket{plugin=\"beacon\",le=\"2.5\"} 3\n"
		"lab_clickhouse_query_seconds_bucket{plugin=\"beacon\",le=\"5\"} 4\n"
		"lab_clickhouse_query_seconds_bucket{plugin=\"beacon\",le=\"10\"} 4\n"
		"lab_clickhouse_query_seconds_bucket{plugin=\"beacon\",le=\"30\"} 4\n"
		"lab_clickhouse_query_seconds_bucket{plugin=\"beacon\",le=\"60\"} 4\n"
		"lab_clickhouse_query_seconds_bucket{plugin=\"beacon\",le=\"+Inf\"} 5\n"
		"lab_clickhouse_query_seconds_sum{plugin=\"beacon\"} 103.213\n"
		"lab_clickhouse_query_seconds_count{plugin=\"beacon\"} 5\n";
	assert_has(t, want);

	/* Shortest exact decimal for non-integral sums. */
	metric_observe(M, M_CH_QUERY_SECONDS, 0.1, "x");
	metric_observe(M, M_CH_QUERY_SECONDS, 0.2, "x");
	assert_has(render(),
		   "lab_clickhouse_query_seconds_sum{plugin=\"x\"} 0.30000000000000004\n");
}

static void test_plugin_state(void **state)
{
	metrics_plugin_state(M, "beacon", "loaded");
	assert_true(metric_get(M, M_PLUGIN_STATE, "beacon", "loaded") == 1);
	metrics_plugin_state(M, "beacon", "running");
	assert_true(metric_get(M, M_PLUGIN_STATE, "beacon", "loaded") == 0);
	assert_true(metric_get(M, M_PLUGIN_STATE, "beacon", "running") == 1);
	const char *t = render();
	assert_has(t, "lab_plugin_state{plugin=\"beacon\",state=\"disabled\"} 0\n"
		      "lab_plugin_state{plugin=\"beacon\",state=\"failed\"} 0\n"
		      "lab_plugin_state{plugin=\"beacon\",state=\"loaded\"} 0\n"
		      "lab_plugin_state{plugin=\"beacon\",state=\"running\"} 1\n"
		      "lab_plugin_state{plugin=\"beacon\",state=\"stopping\"} 0\n");
	metrics_plugin_state(M, "beacon", "bogus");
	assert_true(metric_get(M, M_PLUGIN_STATE, "beacon", "running") == 0);
	assert_lacks(render(), "bogus");
	metrics_plugin_state(M, "beacon", NULL);
	metrics_plugin_state(M, NULL, "failed");
	assert_true(metric_get(M, M_PLUGIN_STATE, "", "failed") == 1);
}

static void test_forget_plugin(void **state)
{
	metrics_plugin_state(M, "beacon", "running");
	metrics_plugin_state(M, "timings", "running");
	metric_add(M, M_TIMER_FIRES, 1, "beacon");
	metric_add(M, M_STORAGE_OPS, 1, "beacon", "get", "ok");
	metric_observe(M, M_CH_QUERY_SECONDS, 1, "beacon");
	metric_add(M, M_STATE_FLUSHES, 1, "beacon"); /* "result" label, not a plugin: kept */
	metric_add(M, M_TIMER_FIRES, 1, "timings");
	metrics_forget_plugin(M, "beacon");
	const char *t = render();
	assert_lacks(t, "plugin=\"beacon\"");
	assert_has(t, "lab_state_flushes_total{result=\"beacon\"} 1\n");
	assert_has(t, "lab_timer_fires_total{plugin=\"timings\"} 1\n");
	assert_has(t, "lab_plugin_state{plugin=\"timings\",state=\"running\"} 1\n");
	metrics_forget_plugin(M, "nothing");
	metrics_forget_plugin(M, NULL);
}

static void test_process(void **state)
{
	const char *t = render();
	const char *p = strstr(t, "\nprocess_resident_memory_bytes ");
	assert_non_null(p);
	double rss = strtod(p + strlen("\nprocess_resident_memory_bytes "), NULL);
	assert_true(rss > 100 * 1024);
	assert_true(rss < 64.0 * 1024 * 1024 * 1024);
	p = strstr(t, "\nprocess_start_time_seconds ");
	assert_non_null(p);
	double st = strtod(p + strlen("\nprocess_start_time_seconds "), NULL);
	double now = (double)time(NULL);
	/* Within a few minutes of now (the test just started). */
	assert_true(st > now - 600 && st <= now + 5);
	assert_has(t, "# TYPE process_resident_memory_bytes gauge\n");
	assert_has(t, "# TYPE process_start_time_seconds gauge\n");
}

static void test_wrong_labels(void **state)
{
	/* Too few, too many, none where some are needed, some where none are. */
	metric_add(M, M_STORAGE_OPS, 1, "beacon");
	metric_add(M, M_STORAGE_OPS, 1, "beacon", "put", "ok", "extra");
	metric_add(M, M_TIMER_FIRES, 1);
	metric_set(M, M_UP, 5, "unexpected");
	metric_observe(M, M_CH_QUERY_SECONDS, 1);
	metric_observe(M, M_CH_QUERY_SECONDS, 1, "a", "b");
	metric_observe(M, M_TIMER_FIRES, 1, "beacon");  /* not a histogram */
	metric_add(M, M_CH_QUERY_SECONDS, 1, "beacon"); /* not a counter */
	metric_add(M, (enum metric_id)99, 1, "x");
	metric_add(M, (enum metric_id)-1, 1, "x");
	assert_true(metric_get(M, M_STORAGE_OPS, "beacon") == 0);
	assert_true(metric_get(M, (enum metric_id)M_COUNT) == 0);
	const char *t = render();
	assert_lacks(t, "lab_storage_ops_total{");
	assert_lacks(t, "lab_timer_fires_total{");
	assert_lacks(t, "lab_clickhouse_query_seconds_bucket");
	assert_has(t, "\nlab_up 1\n");
}

static void test_many_series(void **state)
{
	/* A few hundred series: bounded work, stable order, all present. */
	char name[32];
	for (int i = 0; i < 300; i++) {
		snprintf(name, sizeof(name), "p%03d", 299 - i);
		metric_add(M, M_STORAGE_OPS, 1, name, "put", "ok");
		metric_add(M, M_STORAGE_OPS, 1, name, "put", "ok");
	}
	const char *t = render();
	assert_has(t, "lab_storage_ops_total{plugin=\"p000\",op=\"put\",result=\"ok\"} 2\n"
		      "lab_storage_ops_total{plugin=\"p001\",op=\"put\",result=\"ok\"} 2\n");
	assert_true(metric_get(M, M_STORAGE_OPS, "p299", "put", "ok") == 2);
}

/* Two registries in one process (two daemons' services) share nothing:
 * series, forgotten plugins, warnings and renderings stay apart, and freeing
 * one leaves the other intact. */
static void test_two_registries(void **state)
{
	struct metrics *other = NULL;
	struct buf b = BUF_INIT;
	assert_int_equal(metrics_new("4.5.6", &other), 0);
	metric_add(M, M_TIMER_FIRES, 2, "beacon");
	metric_add(other, M_TIMER_FIRES, 5, "beacon");
	metric_add(other, M_TIMER_FIRES, 1, "timings");
	metrics_plugin_state(M, "beacon", "running");
	metrics_plugin_state(other, "beacon", "failed");
	metric_observe(other, M_CH_QUERY_SECONDS, 0.2, "beacon");
	metric_set(M, M_UP, 0);
	/* a wrong call warns once per registry, and is ignored in both */
	metric_add(M, M_STORAGE_OPS, 1, "x");
	metric_add(other, M_STORAGE_OPS, 1, "x");

	assert_true(metric_get(M, M_TIMER_FIRES, "beacon") == 2);
	assert_true(metric_get(other, M_TIMER_FIRES, "beacon") == 5);
	assert_true(metric_get(M, M_TIMER_FIRES, "timings") == 0);
	assert_true(metric_get(M, M_PLUGIN_STATE, "beacon", "running") == 1);
	assert_true(metric_get(other, M_PLUGIN_STATE, "beacon", "running") == 0);
	assert_true(metric_get(other, M_PLUGIN_STATE, "beacon", "failed") == 1);
	assert_true(metric_get(M, M_CH_QUERY_SECONDS, "beacon") == 0);
	assert_true(metric_get(other, M_CH_QUERY_SECONDS, "beacon") == 1);
	assert_true(metric_get(M, M_UP) == 0);
	assert_true(metric_get(other, M_UP) == 1);

	metrics_forget_plugin(other, "beacon");
	assert_true(metric_get(other, M_TIMER_FIRES, "beacon") == 0);
	assert_true(metric_get(M, M_TIMER_FIRES, "beacon") == 2);

	metrics_render(other, &b);
	assert_false(b.oom);
	assert_has(b.data, "lab_build_info{version=\"4.5.6\"} 1\n");
	assert_has(b.data, "lab_timer_fires_total{plugin=\"timings\"} 1\n");
	assert_lacks(b.data, "plugin=\"beacon\"");
	assert_lacks(b.data, "1.2.3");
	const char *t = render();
	assert_has(t, "lab_build_info{version=\"1.2.3\"} 1\n");
	assert_has(t, "lab_up 0\n");
	assert_has(t, "lab_timer_fires_total{plugin=\"beacon\"} 2\n");
	assert_lacks(t, "timings");
	assert_lacks(t, "4.5.6");

	metrics_free(other);
	assert_true(metric_get(M, M_TIMER_FIRES, "beacon") == 2);
	assert_has(render(), "lab_timer_fires_total{plugin=\"beacon\"} 2\n");
	buf_free(&b);
}

/* A NULL registry (a tool or test running a service without one) is
 * accepted everywhere and counts nothing; /metrics then holds the families
 * and the process metrics only. */
static void test_null_registry(void **state)
{
	struct buf b = BUF_INIT;
	metric_add(NULL, M_TIMER_FIRES, 1, "beacon");
	metric_set(NULL, M_UP, 1);
	metric_observe(NULL, M_CH_QUERY_SECONDS, 1, "beacon");
	metrics_plugin_state(NULL, "beacon", "running");
	metrics_forget_plugin(NULL, "beacon");
	assert_true(metric_get(NULL, M_TIMER_FIRES, "beacon") == 0);
	metrics_render(NULL, &b);
	assert_false(b.oom);
	assert_has(b.data, "# TYPE lab_up gauge\n# HELP lab_build_info ");
	assert_lacks(b.data, "beacon");
	metrics_free(NULL);
	buf_free(&b);
}

/* ---- plugin families (SDK 1.2) ---- */

#define L(...) ((const char *const[]){ __VA_ARGS__, NULL })

static void test_plugin_families(void **state)
{
	struct metric_family *c, *g, *h, *again;
	assert_int_equal(metrics_plugin_register(M, "beacon", LAB_METRIC_COUNTER, "slots_total",
						 "Slots \\ stored.", L("network"), &c), 0);
	assert_int_equal(metrics_plugin_register(M, "beacon", LAB_METRIC_GAUGE, "cursor", "",
						 L("network", "loop"), &g), 0);
	assert_int_equal(metrics_plugin_register(M, "beacon", LAB_METRIC_HISTOGRAM, "batch_seconds",
						 "Batch time.", NULL, &h), 0);
	assert_int_equal(metrics_plugin_update(M, "beacon", c, LAB_METRIC_ADD, 2, L("main\"net"), NULL), 0);
	assert_int_equal(metrics_plugin_update(M, "beacon", g, LAB_METRIC_SET, 7, L("a", "backfill"), NULL), 0);
	assert_int_equal(metrics_plugin_update(M, "beacon", h, LAB_METRIC_OBSERVE, 0.3, NULL, NULL), 0);
	const char *t = render();
	assert_has(t, "# HELP lab_beacon_slots_total Slots \\\\ stored.\n# TYPE lab_beacon_slots_total counter\n");
	assert_has(t, "lab_beacon_slots_total{network=\"main\\\"net\"} 2\n");
	assert_has(t, "lab_beacon_cursor{network=\"a\",loop=\"backfill\"} 7\n");
	assert_has(t, "lab_beacon_batch_seconds_bucket{le=\"0.5\"} 1\n");
	/* idempotent: the same family, values kept */
	assert_int_equal(metrics_plugin_register(M, "beacon", LAB_METRIC_COUNTER, "slots_total", "x",
						 L("network"), &again), 0);
	assert_ptr_equal(again, c);
	/* another shape, a clash with the host's or another plugin's family */
	assert_int_equal(metrics_plugin_register(M, "beacon", LAB_METRIC_GAUGE, "slots_total", "x",
						 L("network"), &again), LAB_EEXIST);
	assert_int_equal(metrics_plugin_register(M, "plugin", LAB_METRIC_GAUGE, "state", "x", NULL,
						 &again), LAB_EEXIST); /* lab_plugin_state */
	assert_int_equal(metrics_plugin_register(M, "beacon_slots", LAB_METRIC_GAUGE, "total", "x",
						 NULL, &again), LAB_EEXIST);
	assert_int_equal(metrics_plugin_register(M, "beacon", LAB_METRIC_GAUGE, "batch_seconds_sum",
						 "x", NULL, &again), LAB_EEXIST);
	/* bad names, help, labels */
	const char *bad_names[] = { "", "9a", "a-b", "a b", "ä" };
	for (size_t i = 0; i < sizeof bad_names / sizeof *bad_names; i++)
		assert_int_equal(metrics_plugin_register(M, "x", LAB_METRIC_GAUGE, bad_names[i], "h",
							 NULL, &again), LAB_EINVAL);
	assert_int_equal(metrics_plugin_register(M, "x", LAB_METRIC_GAUGE, "a", "two\nlines", NULL,
						 &again), LAB_EINVAL);
	assert_int_equal(metrics_plugin_register(M, "x", LAB_METRIC_GAUGE, "a", "h", L("le"), &again),
			 LAB_EINVAL);
	assert_int_equal(metrics_plugin_register(M, "x", LAB_METRIC_GAUGE, "a", "h", L("__x"), &again),
			 LAB_EINVAL);
	assert_int_equal(metrics_plugin_register(M, "x", LAB_METRIC_GAUGE, "a", "h", L("a", "a"),
						 &again), LAB_EINVAL);
	assert_int_equal(metrics_plugin_register(M, "x", LAB_METRIC_GAUGE, "a", "h",
						 L("a", "b", "c", "d", "e"), &again), LAB_EINVAL);
	assert_int_equal(metrics_plugin_register(M, "x", 9, "a", "h", NULL, &again), LAB_EINVAL);
	/* wrong updates */
	assert_int_equal(metrics_plugin_update(M, "beacon", c, LAB_METRIC_ADD, -1, L("a"), NULL), LAB_ERANGE);
	assert_int_equal(metrics_plugin_update(M, "beacon", c, LAB_METRIC_SET, 1, L("a"), NULL), LAB_EINVAL);
	assert_int_equal(metrics_plugin_update(M, "beacon", c, LAB_METRIC_ADD, 0.0 / 0.0, L("a"), NULL),
			 LAB_ERANGE);
	assert_int_equal(metrics_plugin_update(M, "beacon", c, LAB_METRIC_ADD, 1, NULL, NULL), LAB_EINVAL);
	assert_int_equal(metrics_plugin_update(M, "beacon", c, LAB_METRIC_ADD, 1, L("a", "b"), NULL),
			 LAB_EINVAL);
	assert_int_equal(metrics_plugin_update(M, "beacon", h, LAB_METRIC_ADD, 1, NULL, NULL), LAB_EINVAL);
	assert_int_equal(metrics_plugin_update(M, "other", c, LAB_METRIC_ADD, 1, L("a"), NULL), LAB_EINVAL);
	assert_int_equal(metrics_plugin_update(M, "beacon", (struct metric_family *)&out,
					       LAB_METRIC_ADD, 1, L("a"), NULL), LAB_EINVAL);
	/* the series bound per plugin */
	char v[16];
	int hit = 0, rc = 0;
	for (int i = 0; i < LAB_METRIC_MAX_SERIES + 5 && rc == 0; i++) {
		snprintf(v, sizeof v, "n%d", i);
		rc = metrics_plugin_update(M, "beacon", c, LAB_METRIC_ADD, 1, L(v), &hit);
	}
	assert_int_equal(rc, LAB_EBUSY);
	assert_true(hit);
	/* a hot reload: marked stale, registered again, swept */
	metrics_plugin_mark_stale(M, "beacon");
	assert_int_equal(metrics_plugin_register(M, "beacon", LAB_METRIC_COUNTER, "slots_total", "x",
						 L("network"), &again), 0);
	metrics_plugin_sweep(M, "beacon");
	t = render();
	assert_has(t, "lab_beacon_slots_total{network=\"main\\\"net\"} 2\n");
	assert_lacks(t, "lab_beacon_cursor");
	assert_lacks(t, "lab_beacon_batch_seconds");
	metrics_plugin_drop(M, "beacon");
	assert_lacks(render(), "lab_beacon_");
}

int main(void)
{
	log_setup(LAB_LOG_ERROR, LOG_FORMAT_LOGFMT, 2);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_gauges_and_headers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_counters, setup, teardown),
		cmocka_unit_test_setup_teardown(test_escaping, setup, teardown),
		cmocka_unit_test_setup_teardown(test_histogram, setup, teardown),
		cmocka_unit_test_setup_teardown(test_plugin_state, setup, teardown),
		cmocka_unit_test_setup_teardown(test_forget_plugin, setup, teardown),
		cmocka_unit_test_setup_teardown(test_process, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wrong_labels, setup, teardown),
		cmocka_unit_test_setup_teardown(test_many_series, setup, teardown),
		cmocka_unit_test_setup_teardown(test_two_registries, setup, teardown),
		cmocka_unit_test_setup_teardown(test_null_registry, setup, teardown),
		cmocka_unit_test_setup_teardown(test_plugin_families, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
