/* lab-plugin-test's own test: the completion promise of lab/plugin.h holds
 * in the fake host (tests/plugins/asynccheck.c, the probe labd is checked
 * with by tests/integration/async-completion.sh, in both work modes), and
 * a plugin needing a newer SDK minor than the fake host implements is
 * refused with a message naming both versions; the services of SDK 1.2 and
 * 1.3 (metrics, progress, the JSON writer, millisecond durations,
 * LAB_PARAM_IDENT, cancellable work) through the small plugin "svc". */
#include <math.h>

#include <lab/plugin-test.h>

const lab_plugin *lab_plugin_entry(void);

static void probe(int mode)
{
	labt *t = labt_new(lab_plugin_entry());
	int status = 1;
	labt_work_mode(t, mode);
	LABT_CHECK_INT(labt_init(t), 0);
	LABT_CHECK_INT(labt_once(t), 0);
	LABT_CHECK_INT(labt_once_wait(t, 1000, &status), 0);
	LABT_CHECK_INT(status, 0);
	LABT_CHECK_INT(labt_logs(t, LAB_LOG_INFO, "early"), 1);
	LABT_CHECK_INT(labt_logs(t, LAB_LOG_INFO, "callbacks, 0 early"), 1);
	LABT_CHECK_INT(labt_logs(t, LAB_LOG_ERROR, NULL), 0);
	LABT_CHECK_INT(labt_events(t, "asynccheck.ping"), 1);
	LABT_CHECK_INT(labt_stop(t), 0); /* stop and destroy check it too */
	LABT_CHECK_INT(labt_logs(t, LAB_LOG_ERROR, NULL), 0);
	labt_free(t);
}

static void newer_minor(void)
{
	lab_plugin d = *lab_plugin_entry();
	d.abi_minor = LABT_ABI_MINOR + 1;
	labt *t = labt_new(&d);
	LABT_CHECK_INT(labt_init(t), LAB_EABI);
	LABT_CHECK(strstr(labt_error(t), "needs ABI 1.") != NULL);
	LABT_CHECK(strstr(labt_error(t), "lab-plugin-test implements") != NULL);
	labt_free(t);
}

/* ---- svc: a plugin using every 1.2 and 1.3 service ---------------------- */

struct svc {
	lab_ctx *ctx;
	int64_t tick_ms;
	lab_metric *items, *depth, *latency;
	int dones, cancels;
};

static const lab_setting svc_settings[] = {
	{ "tick", LAB_SET_DURATION, "250ms", "How often.", NULL, LAB_SETTING_MS },
	{ NULL, 0, NULL, NULL, NULL, 0 }
};

static void svc_rows(lab_ctx *ctx, int status, const char *errmsg, const lab_rows *rows, void *ud)
{
}

static int svc_init(lab_ctx *ctx, void **self)
{
	struct svc *s = calloc(1, sizeof *s);
	const char *doc;
	size_t len;
	if (!s)
		return LAB_ENOMEM;
	s->ctx = ctx;
	int rc = lab_cfg_duration_ms(ctx, NULL, "tick", &s->tick_ms);
	if (rc == 0)
		rc = lab_metric_counter(ctx, "items_total", "Items by kind.", LAB_LABELS("kind"),
					&s->items);
	if (rc == 0)
		rc = lab_metric_gauge(ctx, "depth", "Queue depth.", NULL, &s->depth);
	if (rc == 0)
		rc = lab_metric_histogram(ctx, "latency_seconds", "Latency.", NULL, &s->latency);
	if (rc == 0)
		rc = lab_progress(ctx, "backfill", 2, 10, 1.5);
	lab_json *j = lab_json_new(ctx);
	lab_json_open(ctx, j, '{');
	lab_json_key(ctx, j, "tick_ms");
	lab_json_i64(ctx, j, s->tick_ms);
	lab_json_key(ctx, j, "name");
	lab_json_str(ctx, j, "a\"b", 3);
	lab_json_key(ctx, j, "list");
	lab_json_open(ctx, j, '[');
	lab_json_u64(ctx, j, 1);
	lab_json_bool(ctx, j, 1);
	lab_json_null(ctx, j);
	lab_json_raw(ctx, j, "{\"x\":0.5}", 9);
	lab_json_close(ctx, j);
	lab_json_close(ctx, j);
	if (rc == 0)
		rc = lab_json_finish(ctx, j, &doc, &len);
	if (rc == 0)
		rc = lab_state_set(ctx, "doc", doc, len);
	lab_json_free(ctx, j);
	if (rc < 0) {
		free(s);
		return rc;
	}
	*self = s;
	return 0;
}

static void svc_work(void *ud) {}
static void svc_done(lab_ctx *ctx, int status, void *ud) { ((struct svc *)ud)->dones++; }
static void svc_cancel(void *ud) { ((struct svc *)ud)->cancels++; }

static int svc_start(void *self)
{
	struct svc *s = self;
	lab_metric_add(s->ctx, s->items, 2, LAB_LABELS("block"));
	lab_metric_add(s->ctx, s->items, 1, LAB_LABELS("blob"));
	lab_metric_set(s->ctx, s->depth, 4.5, NULL);
	lab_metric_observe(s->ctx, s->latency, 0.02, NULL);
	lab_metric_observe(s->ctx, s->latency, 3, NULL);
	lab_param p[] = { LAB_PIDENT("db.blocks"), LAB_PINT(7) };
	int rc = lab_query(s->ctx, "SELECT slot FROM ? WHERE slot = ?", p, 2, svc_rows, s);
	if (rc == 0)
		rc = lab_work_submit_cancel(s->ctx, svc_work, svc_done, svc_cancel, s);
	if (rc == 0)
		rc = lab_work_submit_cancel(s->ctx, svc_work, svc_done, svc_cancel, s);
	if (rc == 0) /* no cancel callback: dropped silently when cancelled */
		rc = lab_work_submit(s->ctx, svc_work, svc_done, s);
	return rc;
}

static int svc_stop(void *self) { return 0; }
static void svc_destroy(void *self) { free(self); }

static const lab_plugin svc_plugin = {
	.magic = LAB_PLUGIN_MAGIC,
	.abi_major = LAB_ABI_MAJOR,
	.abi_minor = 3, /* every service of this test */
	.size = sizeof(lab_plugin),
	.name = "svc",
	.version = "1",
	.settings = svc_settings,
	.init = svc_init,
	.start = svc_start,
	.stop = svc_stop,
	.destroy = svc_destroy,
};

static void services(void)
{
	labt *t = labt_new(&svc_plugin);
	LABT_CHECK_INT(labt_ch_rows(t, "SELECT slot FROM `db`.`blocks` WHERE slot = 7", "slot\n7\n"),
		       0);
	LABT_CHECK_INT(labt_config(t, "tick = \"1500ms\";"), 0);
	LABT_CHECK_INT(labt_init(t), 0);
	lab_ctx *ctx = labt_ctx(t);
	struct svc *s = labt_self(t);
	LABT_CHECK(LAB_HAS(ctx, work_submit_cancel) && LAB_HAS(ctx, metric_register));
	/* 1.3: cfg_duration_ms with LAB_SETTING_MS; the seconds getter refuses 1.5 s */
	LABT_CHECK_INT(s->tick_ms, 1500);
	int64_t sec;
	LABT_CHECK_INT(lab_cfg_duration(ctx, NULL, "tick", &sec), LAB_ERANGE);
	/* 1.3: the JSON writer (host/jsonw.c) */
	LABT_CHECK_STR(labt_state_get(t, "doc"),
		       "{\"tick_ms\":1500,\"name\":\"a\\\"b\",\"list\":[1,true,null,{\"x\":0.5}]}");
	lab_json *j = lab_json_new(ctx);
	const char *out;
	size_t len;
	lab_json_open(ctx, j, '{');
	lab_json_i64(ctx, j, 1); /* a value where a key belongs */
	LABT_CHECK(lab_json_finish(ctx, j, &out, &len) < 0);
	lab_json_free(ctx, j);
	/* 1.2: progress, with labd's rules */
	double done, total, rate;
	LABT_CHECK_INT(labt_progress(t, "backfill", &done, &total, &rate), 0);
	LABT_CHECK(done == 2 && total == 10 && rate == 1.5);
	LABT_CHECK_INT(lab_progress(ctx, "backfill", 12, 10, 0), 0);
	LABT_CHECK_INT(labt_progress(t, "backfill", &done, NULL, NULL), 0);
	LABT_CHECK(done == 10); /* capped at total */
	LABT_CHECK_INT(lab_progress(ctx, "", 1, 2, 0), LAB_EINVAL);
	LABT_CHECK_INT(lab_progress(ctx, "x", NAN, 2, 0), LAB_ERANGE);
	LABT_CHECK_INT(lab_progress(ctx, "backfill", 0, 0, 0), 0); /* removed */
	LABT_CHECK_INT(labt_progress(t, "backfill", NULL, NULL, NULL), LAB_ENOENT);
	LABT_CHECK_INT(labt_progress_count(t), 0);
	/* 1.2: metrics, with labd's registry */
	lab_metric *m;
	LABT_CHECK_INT(lab_metric_counter(ctx, "bad name", "x", NULL, &m), LAB_EINVAL);
	LABT_CHECK_INT(lab_metric_counter(ctx, "c", "x", LAB_LABELS("plugin"), &m), LAB_EINVAL);
	LABT_CHECK_INT(lab_metric_counter(ctx, "depth", "x", NULL, &m), LAB_EEXIST);
	LABT_CHECK_INT(lab_metric_add(ctx, s->items, -1, LAB_LABELS("block")), LAB_ERANGE);
	LABT_CHECK_INT(lab_metric_set(ctx, s->items, 1, LAB_LABELS("block")), LAB_EINVAL);
	LABT_CHECK_INT(lab_metric_add(ctx, s->items, 1, NULL), LAB_EINVAL); /* a label missing */
	labt_work_mode(t, LABT_WORK_HOLD);
	LABT_CHECK_INT(labt_start(t), 0);
	/* 1.3: LAB_PARAM_IDENT bound as a quoted identifier (host/ch_sql.c) */
	LABT_CHECK_INT(labt_ch_queries(t, "`db`.`blocks`"), 1);
	LABT_CHECK_INT(labt_ch_unmatched(t), 0);
	LABT_CHECK(labt_metric(t, "items_total", LAB_LABELS("block")) == 2);
	LABT_CHECK(labt_metric(t, "items_total", LAB_LABELS("blob")) == 1);
	LABT_CHECK(isnan(labt_metric(t, "items_total", LAB_LABELS("slot"))));
	LABT_CHECK(isnan(labt_metric(t, "nope", NULL)));
	LABT_CHECK(labt_metric(t, "depth", NULL) == 4.5);
	LABT_CHECK(labt_metric(t, "latency_seconds", NULL) == 2);
	LABT_CHECK(labt_metric_sum(t, "latency_seconds", NULL) == 3.02);
	const char *text = labt_metrics_text(t);
	LABT_CHECK(strstr(text, "# HELP lab_svc_items_total Items by kind.\n"
				"# TYPE lab_svc_items_total counter\n"
				"lab_svc_items_total{kind=\"blob\"} 1\n"
				"lab_svc_items_total{kind=\"block\"} 2\n") != NULL);
	LABT_CHECK(strstr(text, "lab_svc_latency_seconds_bucket{le=\"0.025\"} 1\n") != NULL);
	LABT_CHECK(strstr(text, "lab_svc_latency_seconds_count 2\n") != NULL);
	LABT_CHECK(strstr(text, "lab_up") == NULL); /* only the plugin's families */
	/* 1.3: held work is outstanding when the drain ends: cancel, not done */
	labt_advance(t, 1000);
	LABT_CHECK_INT(s->dones, 0);
	labt_drain_timeout(t, 5000);
	LABT_CHECK_INT(labt_stop(t), 0); /* destroy freed s: count through the host */
	LABT_CHECK_INT(labt_work_cancelled(t), 2);
	LABT_CHECK_INT(labt_work_submitted(t), 3);
	labt_free(t);

	/* Released work completes: done, never cancel. */
	t = labt_new(&svc_plugin);
	LABT_CHECK_INT(labt_ch_rows(t, "SELECT slot", "slot\n7\n"), 0);
	LABT_CHECK_INT(labt_init(t), 0);
	s = labt_self(t);
	LABT_CHECK_INT(s->tick_ms, 250); /* the default */
	labt_work_mode(t, LABT_WORK_HOLD);
	LABT_CHECK_INT(labt_start(t), 0);
	LABT_CHECK_INT(labt_work_release(t), 3);
	labt_pump(t);
	LABT_CHECK_INT(s->dones, 3);
	LABT_CHECK_INT(s->cancels, 0);
	LABT_CHECK_INT(labt_stop(t), 0);
	LABT_CHECK_INT(labt_work_cancelled(t), 0);
	labt_free(t);
}

/* ---- 1.5: the cluster fakes ---- */
struct cl {
	lab_ctx *ctx;
	lab_lease *lease;
	int acquired, lost, granted, busy, done, conflicts;
	lab_claim *claim;
	uint64_t rev;
};

static void cl_lease(lab_ctx *ctx, lab_lease *l, int event, void *ud)
{
	struct cl *c = ud;
	(void)ctx, (void)l;
	if (event == LAB_LEASE_ACQUIRED)
		c->acquired++;
	else
		c->lost++;
}

static void cl_claim(lab_ctx *ctx, int status, lab_claim *claim, void *ud)
{
	struct cl *c = ud;
	(void)ctx;
	if (status == 0) {
		c->granted++;
		c->claim = claim;
	} else if (status == LAB_EBUSY) {
		c->busy++;
	} else if (status == LAB_EEXIST) {
		c->done++;
	}
}

static void cl_shared(lab_ctx *ctx, int status, const char *json, size_t len, uint64_t rev,
		      void *ud)
{
	struct cl *c = ud;
	(void)ctx, (void)json, (void)len;
	if (status == LAB_EEXIST)
		c->conflicts++;
	c->rev = rev;
}

static int cl_init(lab_ctx *ctx, void **self)
{
	struct cl *c = calloc(1, sizeof *c);
	if (!c)
		return LAB_ENOMEM;
	c->ctx = ctx;
	*self = c;
	return 0;
}

static int cl_start(void *self)
{
	struct cl *c = self;
	int rc = lab_lease_hold(c->ctx, "x/head", cl_lease, c, &c->lease);
	if (rc == 0)
		rc = lab_claim_acquire(c->ctx, "x/u/1", cl_claim, c);
	if (rc == 0)
		rc = lab_claim_acquire(c->ctx, "x/u/1", cl_claim, c);
	return rc;
}

static const lab_plugin cl_plugin = {
	.magic = LAB_PLUGIN_MAGIC,
	.abi_major = LAB_ABI_MAJOR,
	.abi_minor = 5,
	.size = sizeof(lab_plugin),
	.name = "cl",
	.version = "1",
	.init = cl_init,
	.start = cl_start,
	.stop = svc_stop,
	.destroy = svc_destroy,
};

static void cluster(void)
{
	labt *t = labt_new(&cl_plugin);
	LABT_CHECK_INT(labt_init(t), 0);
	LABT_CHECK_INT(labt_start(t), 0); /* start, then the pump: the answers */
	struct cl *c = labt_self(t);
	lab_ctx *ctx = labt_ctx(t);
	LABT_CHECK_INT(c->acquired, 1);
	LABT_CHECK_INT(lab_lease_valid(ctx, c->lease), 1);
	LABT_CHECK_INT(c->granted, 1);
	LABT_CHECK_INT(c->busy, 1);
	LABT_CHECK_INT(labt_lease_lose(t, "x/head", 1000), 0);
	LABT_CHECK_INT(c->lost, 1);
	LABT_CHECK_INT(lab_lease_valid(ctx, c->lease), 0);
	labt_advance(t, 1000);
	LABT_CHECK_INT(c->acquired, 2);
	LABT_CHECK_INT(lab_claim_finish(ctx, c->claim, 1), 0);
	LABT_CHECK_INT(labt_claim_done(t, "x/u/1"), 1);
	LABT_CHECK_INT(lab_claim_acquire(ctx, "x/u/1", cl_claim, c), 0);
	LABT_CHECK_INT(labt_claim_answer(t, "x/u/2", LAB_EBUSY), 0);
	LABT_CHECK_INT(lab_claim_acquire(ctx, "x/u/2", cl_claim, c), 0);
	labt_pump(t);
	LABT_CHECK_INT(c->done, 1);
	LABT_CHECK_INT(c->busy, 2);
	LABT_CHECK_INT(lab_shared_cas(ctx, "cursor", "1", 1, 0, cl_shared, c), 0);
	labt_pump(t);
	LABT_CHECK_INT((int)c->rev, 1);
	labt_shared_set(t, "cursor", "5"); /* another daemon wrote */
	LABT_CHECK_INT(lab_shared_cas(ctx, "cursor", "2", 1, 1, cl_shared, c), 0);
	labt_pump(t);
	LABT_CHECK_INT(c->conflicts, 1);
	LABT_CHECK_INT((int)c->rev, 2);
	uint64_t rev;
	LABT_CHECK_STR(labt_shared_value(t, "cursor", &rev), "5");
	/* a lost claim: invalid; finished with 0 (what a plugin does after
	 * checking lab_claim_valid), no done marker */
	LABT_CHECK_INT(lab_claim_acquire(ctx, "x/u/4", cl_claim, c), 0);
	labt_pump(t);
	LABT_CHECK_INT(labt_claim_lose(t, "x/u/4"), 0);
	LABT_CHECK_INT(lab_claim_valid(ctx, c->claim), 0);
	LABT_CHECK_INT(lab_claim_finish(ctx, c->claim, 0), 0);
	LABT_CHECK_INT(labt_claim_done(t, "x/u/4"), 0);
	LABT_CHECK_INT(labt_claim_lose(t, "x/u/4"), LAB_ENOENT);
	/* refused: lost and not re-acquired until the other daemon lets go */
	LABT_CHECK_STR(lab_cluster_backend(ctx), "none");
	labt_cluster_backend(t, "nats");
	LABT_CHECK_STR(lab_cluster_backend(ctx), "nats");
	LABT_CHECK_INT(labt_lease_refuse(t, "x/head", 1), 0);
	LABT_CHECK_INT(labt_lease_lose(t, "x/head", 0), 0);
	labt_advance(t, 5000);
	LABT_CHECK_INT(labt_lease_held(t, "x/head"), 0);
	LABT_CHECK_INT(labt_lease_refuse(t, "x/head", 0), 0);
	labt_pump(t);
	LABT_CHECK_INT(labt_lease_held(t, "x/head"), 1);
	LABT_CHECK_INT(c->acquired, 3);
	LABT_CHECK_INT(lab_claim_acquire(ctx, "x/u/3", cl_claim, c), 0); /* dropped at stop */
	LABT_CHECK_INT(labt_stop(t), 0);
	labt_free(t);
}

int main(void)
{
	probe(LABT_WORK_INLINE);
	probe(LABT_WORK_THREAD);
	newer_minor();
	services();
	cluster();
	printf("ok - lab-plugin-test keeps the completion promise; newer minors refused; "
	       "SDK 1.2/1.3/1.5 services\n");
	return 0;
}
