/*
 * contributors — community node summaries (SPEC §9.2, docs/plugins/contributors.md).
 *
 * Four processors, run in order in one "pass": summary, countries (per
 * window), users (per window), user_summaries.  Each processor is gated by
 * `interval` since its last success, each window by its `step`; --once and
 * run requests ignore the gates.  A pass runs one query at a time; the
 * documents of a query are stored in parallel, and only when all of them
 * were stored is the work recorded in state.  The schedule is
 * common/window_job's; this file: settings, configuration, life cycle.
 * sql.c: the queries; docs.c: the documents; cache.c: the bucket cache of
 * countries and users (contrib.h).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The settings are SDK 1.1 options (ranges, key rules, binding). */
#define LAB_PLUGIN_MIN_ABI_MINOR 1
#include <lab/plugin.h>

#include "contrib.h"

const char *const contrib_proc_name[NPROC] = { "summary", "countries", "users",
					       "user_summaries" };

/* One window as configured: lab_cfg_bind() fills it from a time_windows
 * element; add_window() copies it. */
struct window_cfg {
	const char *file, *label;
	int64_t step, range;
};

/* The settings (SDK 1.1 options).  The host checks types, ranges and key
 * rules before init; what the table cannot say (repeated networks or
 * files, the prefix's ".." and trailing '/') read_config reports with
 * lab_cfg_error(). */
static const lab_option window_settings[] = {
	{ .name = "file", .type = LAB_SET_STRING, .desc = "file name of the window ([A-Za-z0-9._-])",
	  .flags = LAB_SETTING_REQUIRED | LAB_SETTING_KEY_SEGMENT,
	  LAB_BIND(struct window_cfg, file) },
	{ .name = "step", .type = LAB_SET_DURATION, .desc = "time bucket and re-run period",
	  .flags = LAB_SETTING_REQUIRED, LAB_RANGE(1, UINT32_MAX), LAB_BIND(struct window_cfg, step) },
	{ .name = "label", .type = LAB_SET_STRING, .def = "", .desc = "label for the front end",
	  LAB_BIND(struct window_cfg, label) },
	{ .name = "range", .type = LAB_SET_DURATION, .desc = "negative duration: start = now + range",
	  .flags = LAB_SETTING_REQUIRED, LAB_MAX(-1), LAB_BIND(struct window_cfg, range) },
	{ 0 },
};

static const lab_option settings[] = {
	{ .name = "path_prefix", .type = LAB_SET_STRING, .def = "xatu_public_contributors",
	  .flags = LAB_SETTING_KEY_PREFIX, LAB_BIND(struct contrib, prefix),
	  .desc = "storage prefix of every document" },
	{ .name = "interval", .type = LAB_SET_DURATION, .def = "1h", LAB_MIN(1),
	  LAB_BIND(struct contrib, interval),
	  .desc = "minimum time between two runs of each processor" },
	{ .name = "settle_margin", .type = LAB_SET_DURATION, .def = "30m", LAB_MIN(0),
	  LAB_BIND(struct contrib, settle_margin),
	  .desc = "countries/users: a bucket ending longer ago than this is stable: cached, not "
		  "queried again" },
	{ .name = "full_interval", .type = LAB_SET_DURATION, .def = "24h", LAB_MIN(0),
	  LAB_BIND(struct contrib, full_interval),
	  .desc = "time between two full recomputes of a window (\"0s\": every run is full)" },
	{ .name = "cache_max_bytes", .type = LAB_SET_INT, .def = "1048576", LAB_MIN(0),
	  LAB_BIND(struct contrib, cache_max_bytes),
	  .desc = "largest bucket cache kept per (processor, window) in state (0: no cache)" },
	{ .name = "networks", .type = LAB_SET_STRINGS, .flags = LAB_SETTING_KEY_SEGMENT,
	  .desc = "networks to process (default: every ethereum.networks entry)" },
	{ .name = "time_windows", .type = LAB_SET_LIST, .children = window_settings,
	  .desc = "windows of countries/users (default: last_90_days, last_30_days, last_1_day, last_6h)" },
	{ 0 },
};

/* ---- the runner's jobs ---------------------------------------------------- */

int contrib_task(const struct contrib *c, size_t i, long *win)
{
	*win = -1;
	if (i == 0)
		return P_SUMMARY;
	if (i <= c->nwins) {
		*win = (long)(i - 1);
		return P_COUNTRIES;
	}
	if (i <= 2 * c->nwins) {
		*win = (long)(i - 1 - c->nwins);
		return P_USERS;
	}
	return P_USUM;
}

/* wj_ops.start: job i of the pass (continues in sql.c's answer). */
static int run_job(void *ud, size_t i)
{
	struct contrib *c = ud;
	long w;
	int p = contrib_task(c, i, &w);
	int rc = contrib_query(c, p, w);
	if (rc < 0)
		lab_logkv(c->ctx, LAB_LOG_ERROR, "cannot start query",
			  LAB_FS("processor", contrib_proc_name[p]), LAB_FS("error", lab_strerror(rc)));
	return rc;
}

static const struct wj_ops run_ops = { .start = run_job };

/* The runner's groups and jobs (in contrib_task's order), then the state
 * {"last_processed":N,"last_processed_windows":{"FILE":N}} per processor. */
static int build_jobs(struct contrib *c)
{
	wj_init(&c->run, c->ctx, &run_ops, c, "last_processed_windows");
	for (int p = 0; p < NPROC; p++) {
		if (wj_add_group(&c->run, contrib_proc_name[p], c->interval) < 0)
			return LAB_ENOMEM;
		if (p == P_COUNTRIES || p == P_USERS) {
			for (size_t w = 0; w < c->nwins; w++)
				if (wj_add_job(&c->run, c->wins[w].file, c->wins[w].step) < 0)
					return LAB_ENOMEM;
		} else if (wj_add_job(&c->run, NULL, 0) < 0) {
			return LAB_ENOMEM;
		}
	}
	return wj_load(&c->run);
}

/* ---- life cycle ----------------------------------------------------------- */

static void free_all(struct contrib *c)
{
	for (size_t i = 0; i < c->nnets; i++)
		free(c->nets[i]);
	free(c->nets);
	for (size_t i = 0; i < c->nwins; i++) {
		free(c->wins[i].file);
		free(c->wins[i].label);
	}
	free(c->wins);
	wj_free(&c->run);
	contrib_docs_free(c);
	contrib_cache_free(c);
	buf_free(&c->describe);
	free(c);
}

static int add_window(struct contrib *c, const char *file, const char *label, int64_t step,
		      int64_t range)
{
	struct window *w = &c->wins[c->nwins];
	w->file = strdup(file);
	w->label = strdup(label);
	w->step = step;
	w->range = range;
	c->nwins++;
	return w->file && w->label ? 0 : LAB_ENOMEM;
}

static int read_config(struct contrib *c)
{
	lab_ctx *ctx = c->ctx;
	/* interval >= 1 s and a safe key prefix were checked by the host */
	int rc = lab_cfg_bind(ctx, NULL, c);
	if (rc < 0)
		return rc;
	/* stricter than LAB_SETTING_KEY_PREFIX: no ".." anywhere, no trailing '/' */
	if (strstr(c->prefix, "..") || c->prefix[strlen(c->prefix) - 1] == '/')
		return lab_cfg_error(ctx, NULL, "path_prefix", "is not a safe key prefix");
	int n = lab_cfg_count(ctx, NULL, "networks");
	if (n < 0)
		return LAB_ECONFIG;
	size_t nn = n > 0 ? (size_t)n : lab_network_count(ctx);
	c->nets = calloc(nn ? nn : 1, sizeof *c->nets);
	if (!c->nets)
		return LAB_ENOMEM;
	for (size_t i = 0; i < nn; i++) {
		const char *name = NULL;
		if (n > 0) {
			const lab_cfg *e;
			if (lab_cfg_elem(ctx, NULL, "networks", (int)i, &e) < 0 ||
			    lab_cfg_string(ctx, e, NULL, &name) < 0)
				return LAB_ECONFIG;
		} else {
			name = lab_network_name(ctx, lab_network_at(ctx, i));
		}
		/* the host checked configured names (LAB_SETTING_KEY_SEGMENT), not
		 * the ethereum.networks defaults */
		if (!name || lab_key_segment_check(ctx, name, strlen(name), LAB_KEYSEG_PORTABLE) != 1)
			return lab_cfg_error(ctx, NULL, "networks",
					     "a network name is not a safe key segment");
		for (size_t j = 0; j < c->nnets; j++)
			if (strcmp(c->nets[j], name) == 0)
				return lab_cfg_error(ctx, NULL, "networks", "a network is listed twice");
		if (!(c->nets[c->nnets] = strdup(name)))
			return LAB_ENOMEM;
		c->nnets++;
	}
	if (c->nnets == 0)
		return lab_cfg_error(ctx, NULL, "networks",
				     "no networks to process (set 'networks' or ethereum.networks)");
	n = lab_cfg_count(ctx, NULL, "time_windows");
	if (n < 0)
		return LAB_ECONFIG;
	c->wins = calloc(n > 0 ? (size_t)n : 4, sizeof *c->wins);
	if (!c->wins)
		return LAB_ENOMEM;
	if (n == 0) {
		if (add_window(c, "last_90_days", "Last 90d", 3 * 86400, -90 * 86400) < 0 ||
		    add_window(c, "last_30_days", "Last 30d", 86400, -30 * 86400) < 0 ||
		    add_window(c, "last_1_day", "Last 1d", 3600, -86400) < 0 ||
		    add_window(c, "last_6h", "Last 6h", 300, -6 * 3600) < 0)
			return LAB_ENOMEM;
	}
	for (int i = 0; i < n; i++) {
		/* the host checked file (a portable segment), 1 s <= step <=
		 * UINT32_MAX s and range <= -1 s */
		const lab_cfg *e;
		struct window_cfg w = { 0 };
		if (lab_cfg_elem(ctx, NULL, "time_windows", i, &e) < 0)
			return LAB_ECONFIG;
		if ((rc = lab_cfg_bind(ctx, e, &w)) < 0)
			return rc;
		for (size_t j = 0; j < c->nwins; j++)
			if (strcmp(c->wins[j].file, w.file) == 0)
				return lab_cfg_error(ctx, e, "file", "is used twice");
		if (add_window(c, w.file, w.label, w.step, w.range) < 0)
			return LAB_ENOMEM;
	}
	return 0;
}

static int contrib_init(lab_ctx *ctx, void **self)
{
	struct contrib *c = calloc(1, sizeof *c);
	if (!c)
		return LAB_ENOMEM;
	c->ctx = ctx;
	int rc = read_config(c);
	if (rc == 0)
		rc = build_jobs(c);
	if (rc < 0) {
		free_all(c);
		return rc;
	}
	*self = c;
	return 0;
}

/*
 * lab.contributors.run with {"full":true}: the host calls run() for every
 * message on the subject (SDK: no body); this subscription to the same
 * subject reads the body.  Whichever comes first, every window that starts
 * after the request is recomputed in full, and the forced pass asked for
 * here (queued behind a pass already running) reaches those that started
 * before it.
 */
static void on_run_msg(lab_ctx *ctx, const char *subject, const void *data, size_t len, void *ud)
{
	struct contrib *c = ud;
	(void)subject;
	if (wc_full_request(data, len)) {
		c->full_requested = lab_now(ctx);
		lab_logkv(ctx, LAB_LOG_INFO, "full recompute requested");
		wj_run(&c->run);
	}
}

static int contrib_start(void *self)
{
	struct contrib *c = self;
	if (lab_subscribe(c->ctx, "contributors.run", on_run_msg, c, NULL) < 0)
		lab_logkv(c->ctx, LAB_LOG_DEBUG, "no subscription to contributors.run");
	/* Gates are checked every minute (or every interval, if shorter). */
	uint64_t period = c->interval < 60 ? (uint64_t)c->interval * 1000 : 60000;
	lab_logkv(c->ctx, LAB_LOG_INFO, "contributors started", LAB_FI("networks", (int64_t)c->nnets),
		  LAB_FI("windows", (int64_t)c->nwins), LAB_FI("interval_s", c->interval));
	return wj_start(&c->run, period);
}

static int contrib_stop(void *self)
{
	wj_stop(&((struct contrib *)self)->run);
	return 0;
}

static void contrib_destroy(void *self) { free_all(self); }

static int contrib_once(void *self)
{
	wj_once(&((struct contrib *)self)->run);
	return 0;
}

static int contrib_run(void *self)
{
	wj_run(&((struct contrib *)self)->run);
	return 0;
}

static void duration_text(struct buf *b, int64_t s)
{
	char t[32];
	int64_t a = s < 0 ? -s : s;
	const char *u = "s";
	int64_t v = s;
	if (a && a % 86400 == 0)
		u = "d", v = s / 86400;
	else if (a && a % 3600 == 0)
		u = "h", v = s / 3600;
	else if (a && a % 60 == 0)
		u = "m", v = s / 60;
	snprintf(t, sizeof t, "%" PRId64 "%s", v, u);
	buf_json_str(b, t, strlen(t));
}

static const char *contrib_describe(void *self)
{
	struct contrib *c = self;
	struct buf *b = &c->describe;
	buf_free(b);
	b->oom = 0;
	buf_puts(b, "{\"enabled\":true,\"description\":\"Xatu public contributors\",\"path_prefix\":");
	buf_json_str(b, c->prefix, strlen(c->prefix));
	buf_puts(b, ",\"networks\":[");
	for (size_t i = 0; i < c->nnets; i++) {
		if (i)
			buf_append(b, ",", 1);
		buf_json_str(b, c->nets[i], strlen(c->nets[i]));
	}
	buf_puts(b, "],\"time_windows\":[");
	for (size_t i = 0; i < c->nwins; i++) {
		if (i)
			buf_append(b, ",", 1);
		buf_puts(b, "{\"file\":");
		buf_json_str(b, c->wins[i].file, strlen(c->wins[i].file));
		buf_puts(b, ",\"step\":");
		duration_text(b, c->wins[i].step);
		buf_puts(b, ",\"label\":");
		buf_json_str(b, c->wins[i].label, strlen(c->wins[i].label));
		buf_puts(b, ",\"range\":");
		duration_text(b, c->wins[i].range);
		buf_append(b, "}", 1);
	}
	buf_puts(b, "]}");
	return b->oom ? NULL : b->data;
}

LAB_PLUGIN_DEFINE(.name = "contributors", .version = "1.0.0",
		  .description = "Xatu public contributors: node counts by country, user and network",
		  .options = settings, .init = contrib_init, .start = contrib_start,
		  .stop = contrib_stop, .destroy = contrib_destroy, .once = contrib_once,
		  .run = contrib_run, .describe = contrib_describe)
