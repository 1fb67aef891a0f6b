/*
 * example — the tutorial plugin.  It shows every part of a labd plugin:
 *   - declared settings with their ranges, checked by the host before init,
 *     bound into the plugin's struct and printed by --describe (SDK 1.1),
 *   - a repeating timer that logs and counts,
 *   - a counter kept in durable state (continues across restarts/reloads),
 *   - a broker event per tick (lab.example.tick),
 *   - its own metrics on /metrics (SDK 1.2): a counter with a label, a gauge
 *     and a histogram, registered in init (they are optional: on an older
 *     host the calls return LAB_ENOTSUP and the plugin runs without them),
 *   - a one-shot mode (`labd --once`) that stores a document and reports done,
 *   - a `describe` entry for the frontend config.json,
 *   - several daemons (SDK 1.5 cluster services, docs/cluster.md): with a
 *     cluster backend other than "none", only the daemon holding the lease
 *     "example/tick" ticks, and the counter is shared state written with
 *     compare-and-set, so the daemon that takes the lease over counts on.
 *     On an older host (or backend "none") the plugin runs as on one daemon:
 *     it checks LAB_HAS() instead of requiring minor 5.
 * Build out of tree with:
 *   cc -shared -fPIC $(pkg-config --cflags lab-plugin) example.c -o example.so
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* `options` (ranges, binding) need SDK 1.1 on the host. */
#define LAB_PLUGIN_MIN_ABI_MINOR 1
#include <lab/plugin.h>

struct example {
	lab_ctx *ctx;
	int64_t interval_s;
	const char *message;     /* owned by the host's config, valid until destroy */
	const char *path_prefix; /* likewise */
	int64_t count;
	char describe_buf[256];
	/* SDK 1.2 metrics, exposed as lab_example_*.  The host owns them; NULL
	 * when the host has no metrics (the update wrappers accept NULL). */
	lab_metric *m_ticks;    /* lab_example_ticks_total{trigger} */
	lab_metric *m_count;    /* lab_example_count */
	lab_metric *m_interval; /* lab_example_tick_interval_seconds */
	uint64_t last_tick_ms;  /* monotonic; 0 = no tick yet */
	/* SDK 1.5 cluster mode (backend not "none"): the lease and the shared
	 * counter's revision; ready = lease held and the counter read */
	int cluster, ready;
	lab_lease *lease;
	uint64_t rev;
};

/* The host checks these before init and lab_cfg_bind() fills the struct. */
static const lab_option options[] = {
	{ .name = "interval", .type = LAB_SET_DURATION, .def = "10s", LAB_MIN(1),
	  LAB_BIND(struct example, interval_s), .desc = "how often the timer fires" },
	{ .name = "message", .type = LAB_SET_STRING, .def = "tick",
	  LAB_BIND(struct example, message), .desc = "text logged at every tick" },
	{ .name = "path_prefix", .type = LAB_SET_STRING, .def = "example",
	  .flags = LAB_SETTING_KEY_PREFIX, LAB_BIND(struct example, path_prefix),
	  .desc = "storage prefix of the document written by --once" },
	{ 0 },
};

static void save_count(struct example *ex)
{
	char json[32];
	int n = snprintf(json, sizeof json, "%" PRId64, ex->count);
	int rc = lab_state_set(ex->ctx, "counter", json, (size_t)n);
	if (rc < 0)
		lab_logf(ex->ctx, LAB_LOG_WARN, "cannot save the counter: %s", lab_strerror(rc));
}

/*
 * The counter as saved in state, or -1.  State is untrusted input: the
 * value is not NUL-terminated (copy it, bounded, before strtoll), and it
 * may be negative, not a number, or beyond int64_t (strtoll saturates and
 * sets ERANGE; counting on from INT64_MAX would overflow).
 */
static int64_t parse_count(const char *json, size_t len)
{
	char buf[24];
	char *end;
	if (len == 0 || len >= sizeof buf || json[0] < '0' || json[0] > '9')
		return -1;
	memcpy(buf, json, len);
	buf[len] = '\0';
	errno = 0;
	long long v = strtoll(buf, &end, 10);
	if (errno != 0 || *end != '\0' || v < 0 || v == INT64_MAX)
		return -1;
	return v;
}

static void shared_saved(lab_ctx *ctx, int status, const char *json, size_t len, uint64_t rev,
			 void *ud)
{
	struct example *ex = ud;
	(void)json, (void)len;
	if (status == 0)
		ex->rev = rev;
	else /* LAB_EEXIST: another daemon wrote meanwhile (we lost the lease) */
		lab_logf(ctx, LAB_LOG_WARN, "shared counter not saved: %s", lab_strerror(status));
}

static void tick(struct example *ex, const char *trigger)
{
	char event[64];
	uint64_t now = lab_monotonic_ms(ex->ctx);
	/* In a cluster only the lease holder works; lab_lease_valid() right
	 * before anything is stored, since the lease can be lost at any time. */
	if (ex->cluster && !(ex->ready && lab_lease_valid(ex->ctx, ex->lease)))
		return;
	if (ex->count < INT64_MAX) /* saturate: signed overflow is undefined */
		ex->count++;
	save_count(ex);
	lab_metric_add(ex->ctx, ex->m_ticks, 1, LAB_LABELS(trigger));
	lab_metric_set(ex->ctx, ex->m_count, (double)ex->count, NULL);
	if (ex->last_tick_ms)
		lab_metric_observe(ex->ctx, ex->m_interval, (double)(now - ex->last_tick_ms) / 1000,
				   NULL);
	ex->last_tick_ms = now;
	lab_logkv(ex->ctx, LAB_LOG_INFO, ex->message, LAB_FI("count", ex->count),
		  LAB_FI("now", lab_now(ex->ctx)));
	int n = snprintf(event, sizeof event, "{\"count\":%" PRId64 "}", ex->count);
	lab_publish(ex->ctx, "example.tick", event, (size_t)n);
	/* compare-and-set on the revision read: a stale holder cannot overwrite */
	if (ex->cluster)
		lab_shared_cas(ex->ctx, "counter", event + 9, (size_t)n - 10, ex->rev, shared_saved, ex);
}

static void shared_loaded(lab_ctx *ctx, int status, const char *json, size_t len, uint64_t rev,
			  void *ud)
{
	struct example *ex = ud;
	if (status < 0 && status != LAB_ENOENT) {
		lab_logf(ctx, LAB_LOG_WARN, "cannot read the shared counter: %s", lab_strerror(status));
		return; /* no ticks here until the lease is acquired again */
	}
	int64_t v = status == 0 ? parse_count(json, len) : -1;
	if (v >= 0)
		ex->count = v; /* continue where the last holder stopped */
	ex->rev = status == 0 ? rev : 0; /* 0: the first write creates it */
	ex->ready = 1;
	lab_logkv(ctx, LAB_LOG_INFO, "lease acquired", LAB_FS("lease", "tick"),
		  LAB_FI("count", ex->count));
}

/* Loop thread, and before anything else the plugin sees after a loss. */
static void on_lease(lab_ctx *ctx, lab_lease *l, int event, void *ud)
{
	struct example *ex = ud;
	(void)l;
	if (event == LAB_LEASE_LOST) {
		ex->ready = 0; /* stop at once */
		lab_logf(ctx, LAB_LOG_WARN, "lease lost: not ticking");
	} else if (event == LAB_LEASE_ACQUIRED &&
		   lab_shared_get(ctx, "counter", shared_loaded, ex) < 0) {
		lab_logf(ctx, LAB_LOG_WARN, "cannot read the shared counter");
	}
}

static void on_timer(lab_ctx *ctx, lab_timer *t, void *ud) { tick(ud, "timer"); }

/*
 * Metrics are registered in init.  Registering is idempotent, and the host
 * keeps a plugin's metrics across a hot reload: the new version gets the
 * counts of the old one.  A failure is not fatal (LAB_ENOTSUP on a host
 * older than SDK 1.2): the handle stays NULL and updates are ignored.
 */
static void register_metrics(struct example *ex)
{
	lab_ctx *ctx = ex->ctx;
	int rc = lab_metric_counter(ctx, "ticks_total", "Timer ticks and run requests.",
				    LAB_LABELS("trigger"), &ex->m_ticks);
	if (rc == 0)
		rc = lab_metric_gauge(ctx, "count", "The durable counter's value.", NULL,
				      &ex->m_count);
	if (rc == 0)
		rc = lab_metric_histogram(ctx, "tick_interval_seconds",
					  "Seconds between two ticks.", NULL, &ex->m_interval);
	if (rc < 0 && rc != LAB_ENOTSUP)
		lab_logf(ctx, LAB_LOG_WARN, "metrics unavailable: %s", lab_strerror(rc));
}

static int example_init(lab_ctx *ctx, void **self)
{
	struct example *ex = calloc(1, sizeof *ex);
	const char *json;
	size_t len;
	if (!ex)
		return LAB_ENOMEM;
	ex->ctx = ctx;
	/* Types and ranges were checked by the host; defaults come from `options`. */
	if (lab_cfg_bind(ctx, NULL, ex) < 0) {
		free(ex);
		return LAB_ECONFIG;
	}
	/* State is untrusted: a bad value restarts the count instead of failing. */
	if (lab_state_get(ctx, "counter", &json, &len) == 0) {
		int64_t v = parse_count(json, len);
		if (v >= 0)
			ex->count = v;
		else
			lab_logkv(ctx, LAB_LOG_WARN, "state counter is not a count; starting from 0",
				  LAB_FI("length", (int64_t)len));
	}
	register_metrics(ex);
	lab_metric_set(ctx, ex->m_count, (double)ex->count, NULL);
	*self = ex;
	return 0;
}

static int example_start(void *self)
{
	struct example *ex = self;
	uint64_t ms = (uint64_t)ex->interval_s * 1000;
	lab_logkv(ex->ctx, LAB_LOG_INFO, "example started", LAB_FI("interval_s", ex->interval_s),
		  LAB_FI("count", ex->count));
	/* lab_cluster_backend() is "none" on a host without SDK 1.5, too. */
	const char *backend = lab_cluster_backend(ex->ctx);
	ex->cluster = backend && strcmp(backend, "none") != 0;
	if (ex->cluster) {
		int rc = lab_lease_hold(ex->ctx, "tick", on_lease, ex, &ex->lease);
		if (rc < 0)
			return rc;
	}
	return lab_timer_start(ex->ctx, ms, ms, on_timer, ex, NULL);
}

/* Timers and subscriptions are removed, leases released, by the host
 * after stop returns. */
static int example_stop(void *self) { return 0; }

static void example_destroy(void *self) { free(self); }

static void once_flushed(lab_ctx *ctx, int status, void *ud) { lab_done(ctx, status); }

static void once_stored(lab_ctx *ctx, int status, const void *data, size_t len, void *ud)
{
	if (status < 0) {
		lab_logf(ctx, LAB_LOG_ERROR, "cannot store the document: %s", lab_strerror(status));
		lab_done(ctx, status);
		return;
	}
	/* Record work in state only after its document is durably stored. */
	int rc = lab_state_flush(ctx, once_flushed, ud);
	if (rc < 0)
		lab_done(ctx, rc);
}

static int example_once(void *self)
{
	struct example *ex = self;
	char key[256], body[128];
	tick(ex, "once");
	int kn = snprintf(key, sizeof key, "%s/last.json", ex->path_prefix);
	if (kn < 0 || (size_t)kn >= sizeof key)
		return LAB_EINVAL;
	int n = snprintf(body, sizeof body, "{\"count\":%" PRId64 ",\"at\":%" PRId64 "}", ex->count,
			 lab_now(ex->ctx));
	return lab_storage_put_atomic(ex->ctx, key, body, (size_t)n, "application/json", NULL,
				      once_stored, ex);
}

static int example_run(void *self)
{
	tick(self, "run");
	return 0;
}

static const char *example_describe(void *self)
{
	struct example *ex = self;
	snprintf(ex->describe_buf, sizeof ex->describe_buf,
		 "{\"enabled\":true,\"description\":\"Tutorial plugin\",\"interval_s\":%" PRId64 "}",
		 ex->interval_s);
	return ex->describe_buf;
}

#ifndef EXAMPLE_VERSION /* tests build a second variant with another version */
#define EXAMPLE_VERSION "1.0.0"
#endif

LAB_PLUGIN_DEFINE(.name = "example", .version = EXAMPLE_VERSION,
		  .description = "Tutorial plugin: a timer that counts, state, events and --once",
		  .options = options, .init = example_init, .start = example_start,
		  .stop = example_stop, .destroy = example_destroy, .once = example_once,
		  .run = example_run, .describe = example_describe)
