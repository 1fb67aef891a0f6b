/* The SDK 1.3 helpers, driven by tests/integration/sdk13.sh:
 *   - the JSON writer: `once` writes kit/doc.json built with lab_json_*
 *     (untrusted strings, numbers, nesting, a raw state value) and logs
 *     what the latched errors return;
 *   - millisecond durations: `interval` (LAB_SETTING_MS, bound) and
 *     `plain` (seconds only) are logged as the host reads them;
 *   - the cancel callback: `work_ms` > 0 submits one work item that sleeps
 *     that long with lab_work_submit_cancel() and reports lab_done at once,
 *     so a short drain timeout cancels it: the log says which of done and
 *     cancel ran, and that the item was freed;
 *   - `hang` = true: once never calls lab_done (the --once watchdog);
 *   - `watch_events` = true: start subscribes to lab.host.plugin and logs
 *     every event (tests/integration/reload-edges.sh);
 *   - `reject` = true: init refuses the section (the SIGHUP rollback). */
#define LAB_PLUGIN_MIN_ABI_MINOR 3
#include <lab/plugin.h>

#include <stdlib.h>
#include <string.h>
#include <time.h>

struct kit {
	lab_ctx *ctx;
	int64_t interval_ms; /* bound: milliseconds (LAB_SETTING_MS) */
	int64_t plain_s;     /* bound: seconds */
	int64_t work_ms;
	int hang;
	int watch_events;
	int reject;
};

static const lab_option options[] = {
	{ .name = "interval", .type = LAB_SET_DURATION, .def = "250ms", .flags = LAB_SETTING_MS,
	  .desc = "a sub-second duration", LAB_RANGE(10, 60000), LAB_BIND(struct kit, interval_ms) },
	{ .name = "plain", .type = LAB_SET_DURATION, .def = "2s", .desc = "whole seconds only",
	  LAB_BIND(struct kit, plain_s) },
	{ .name = "work_ms", .type = LAB_SET_INT, .def = "0", .desc = "sleep of the work item",
	  LAB_BIND(struct kit, work_ms) },
	{ .name = "hang", .type = LAB_SET_BOOL, .def = "false", .desc = "never call lab_done",
	  LAB_BIND(struct kit, hang) },
	{ .name = "watch_events", .type = LAB_SET_BOOL, .def = "false",
	  .desc = "log lab.host.plugin events", LAB_BIND(struct kit, watch_events) },
	{ .name = "reject", .type = LAB_SET_BOOL, .def = "false", .desc = "init refuses the section",
	  LAB_BIND(struct kit, reject) },
	{ 0 },
};

static int kit_init(lab_ctx *ctx, void **self)
{
	struct kit *k = calloc(1, sizeof *k);
	if (!k)
		return LAB_ENOMEM;
	k->ctx = ctx;
	int rc = lab_cfg_bind(ctx, NULL, k);
	int64_t ms = -1, s = -1, pms = -1;
	int src = lab_cfg_duration(ctx, NULL, "interval", &s);
	lab_cfg_duration_ms(ctx, NULL, "interval", &ms);
	lab_cfg_duration_ms(ctx, NULL, "plain", &pms);
	lab_logkv(ctx, LAB_LOG_INFO, "kit: durations", LAB_FI("bind_rc", rc),
		  LAB_FI("interval_bound", k->interval_ms), LAB_FI("interval_ms", ms),
		  LAB_FI("interval_seconds_rc", src), LAB_FI("plain_bound", k->plain_s),
		  LAB_FI("plain_ms", pms));
	if (k->reject) {
		free(k);
		return lab_cfg_error(ctx, NULL, "reject", "kit: this section is refused");
	}
	*self = k;
	return 0;
}

static void on_event(lab_ctx *ctx, const char *subject, const void *data, size_t len, void *ud)
{
	lab_logkv(ctx, LAB_LOG_INFO, "kit: event", LAB_FS("subject", subject),
		  LAB_FI("len", (int64_t)len));
	lab_logf(ctx, LAB_LOG_INFO, "kit: event %.*s", (int)(len < 300 ? len : 300),
		 (const char *)data);
}

static int kit_start(void *self)
{
	struct kit *k = self;
	if (k->watch_events)
		return lab_subscribe(k->ctx, "host.plugin", on_event, k, NULL);
	return 0;
}
static int kit_stop(void *self) { return 0; }
static void kit_destroy(void *self)
{
	struct kit *k = self;
	lab_logf(k->ctx, LAB_LOG_INFO, "kit: destroy");
	free(k);
}

/* ---- JSON ---- */

static void write_doc(struct kit *k)
{
	lab_ctx *ctx = k->ctx;
	static const char nasty[] = "q\"b\\s\n\x01\xff end"; /* quote, backslash, control, bad UTF-8 */
	const char *raw;
	size_t rawlen;
	lab_json *j = lab_json_new(ctx);
	lab_json_open(ctx, j, '{');
	lab_json_key(ctx, j, "name");
	lab_json_str(ctx, j, nasty, sizeof nasty - 1);
	lab_json_key(ctx, j, "nul");
	lab_json_str(ctx, j, "a\0b", 3);
	lab_json_key(ctx, j, "i");
	lab_json_i64(ctx, j, INT64_MIN);
	lab_json_key(ctx, j, "u");
	lab_json_u64(ctx, j, UINT64_MAX);
	lab_json_key(ctx, j, "f");
	lab_json_f64(ctx, j, -25.5);
	lab_json_key(ctx, j, "inf");
	lab_json_f64(ctx, j, 1.0 / 0.0);
	lab_json_key(ctx, j, "list");
	lab_json_open(ctx, j, '[');
	lab_json_bool(ctx, j, 1);
	lab_json_null(ctx, j);
	lab_json_open(ctx, j, '{');
	lab_json_close(ctx, j);
	lab_json_open(ctx, j, '[');
	lab_json_close(ctx, j);
	lab_json_close(ctx, j);
	lab_json_key(ctx, j, "state");
	if (lab_state_get(ctx, "seen", &raw, &rawlen) == 0)
		lab_json_raw(ctx, j, raw, rawlen);
	else
		lab_json_null(ctx, j);
	lab_json_close(ctx, j);
	const char *doc;
	size_t n;
	int rc = lab_json_finish(ctx, j, &doc, &n);
	lab_logkv(ctx, LAB_LOG_INFO, "kit: document", LAB_FI("rc", rc));
	if (rc == 0) {
		lab_storage_put(ctx, "kit/doc.json", doc, n, "application/json", NULL, NULL, NULL);
		lab_state_set(ctx, "seen", "{\"runs\":[1,2]}", 14);
	}
	lab_json_free(ctx, j);

	/* Misuse latches: each finish reports the first error. */
	int r[6];
	j = lab_json_new(ctx); /* a value where a key is due */
	lab_json_open(ctx, j, '{');
	lab_json_i64(ctx, j, 1);
	lab_json_close(ctx, j);
	r[0] = lab_json_finish(ctx, j, &doc, &n);
	lab_json_free(ctx, j);
	j = lab_json_new(ctx); /* still open */
	lab_json_open(ctx, j, '[');
	r[1] = lab_json_finish(ctx, j, &doc, &n);
	lab_json_free(ctx, j);
	j = lab_json_new(ctx); /* raw that is not one JSON value */
	lab_json_open(ctx, j, '[');
	lab_json_raw(ctx, j, "1 2", 3);
	lab_json_close(ctx, j);
	r[2] = lab_json_finish(ctx, j, &doc, &n);
	lab_json_free(ctx, j);
	j = lab_json_new(ctx); /* close without open */
	lab_json_close(ctx, j);
	r[3] = lab_json_finish(ctx, j, &doc, &n);
	lab_json_free(ctx, j);
	j = lab_json_new(ctx); /* a key in an array */
	lab_json_open(ctx, j, '[');
	lab_json_key(ctx, j, "k");
	r[4] = lab_json_finish(ctx, j, &doc, &n);
	lab_json_free(ctx, j);
	j = lab_json_new(ctx); /* nothing written */
	r[5] = lab_json_finish(ctx, j, &doc, &n);
	lab_json_free(ctx, j);
	lab_logkv(ctx, LAB_LOG_INFO, "kit: misuse", LAB_FI("value_for_key", r[0]),
		  LAB_FI("open", r[1]), LAB_FI("bad_raw", r[2]), LAB_FI("close_unopened", r[3]),
		  LAB_FI("key_in_array", r[4]), LAB_FI("empty", r[5]));
}

/* ---- work with cancel ---- */

struct job {
	lab_ctx *ctx;
	int64_t ms;
	char *payload; /* what the plugin must free either way */
};

static void job_run(void *ud)
{
	struct job *jb = ud;
	struct timespec ts = { (time_t)(jb->ms / 1000), (long)(jb->ms % 1000) * 1000000L };
	nanosleep(&ts, NULL);
	lab_logf(jb->ctx, LAB_LOG_INFO, "kit: work ran");
}

static void job_free(struct job *jb)
{
	free(jb->payload);
	free(jb);
}

static void job_done(lab_ctx *ctx, int status, void *ud)
{
	lab_logkv(ctx, LAB_LOG_INFO, "kit: work done", LAB_FI("status", status));
	job_free(ud);
}

static void job_cancel(void *ud)
{
	struct job *jb = ud;
	lab_logf(jb->ctx, LAB_LOG_INFO, "kit: work cancelled, freed");
	job_free(jb);
}

static int kit_once(void *self)
{
	struct kit *k = self;
	write_doc(k);
	if (k->hang) {
		lab_logf(k->ctx, LAB_LOG_INFO, "kit: hanging (never calling lab_done)");
		return 0;
	}
	if (k->work_ms > 0) {
		struct job *jb = calloc(1, sizeof *jb);
		if (!jb)
			return LAB_ENOMEM;
		jb->ctx = k->ctx;
		jb->ms = k->work_ms;
		jb->payload = malloc(4096);
		int rc = lab_work_submit_cancel(k->ctx, job_run, job_done, job_cancel, jb);
		if (rc < 0) {
			job_free(jb);
			return rc;
		}
	}
	lab_done(k->ctx, 0);
	return 0;
}

LAB_PLUGIN_DEFINE(.name = "kit", .version = "1.0.0",
		  .description = "SDK 1.3 helpers under test", .options = options,
		  .init = kit_init, .start = kit_start, .stop = kit_stop, .destroy = kit_destroy,
		  .once = kit_once)
