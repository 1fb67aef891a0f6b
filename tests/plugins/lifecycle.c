/* Lifecycle probe: logs every callback as "lifecycle: NAME" so tests can
 * check the order; `once` finishes through a one-shot timer, and a work
 * item proves worker-thread completion arrives on the loop before stop. */
#include <stdlib.h>

#include <lab/plugin.h>

static const lab_setting settings[] = {
	{ .name = "once_status", .type = LAB_SET_INT, .def = "0",
	  .desc = "status reported by --once" },
	{ .name = "tick_ms", .type = LAB_SET_INT, .def = "100", .desc = "timer period" },
	{ 0 },
};

struct lc {
	lab_ctx *ctx;
	int64_t once_status;
	int64_t tick_ms;
};

static void say(lab_ctx *ctx, const char *what) { lab_logf(ctx, LAB_LOG_INFO, "lifecycle: %s", what); }

static int lc_init(lab_ctx *ctx, void **self)
{
	struct lc *p = calloc(1, sizeof *p);
	if (!p)
		return LAB_ENOMEM;
	p->ctx = ctx;
	lab_cfg_int(ctx, NULL, "once_status", &p->once_status);
	lab_cfg_int(ctx, NULL, "tick_ms", &p->tick_ms);
	say(ctx, "init");
	*self = p;
	return 0;
}

static void on_tick(lab_ctx *ctx, lab_timer *t, void *ud) { say(ctx, "tick"); }

static int lc_start(void *self)
{
	struct lc *p = self;
	say(p->ctx, "start");
	return lab_timer_start(p->ctx, (uint64_t)p->tick_ms, (uint64_t)p->tick_ms, on_tick, p, NULL);
}

static int lc_stop(void *self)
{
	struct lc *p = self;
	say(p->ctx, "stop");
	return 0;
}

static void lc_destroy(void *self)
{
	struct lc *p = self;
	say(p->ctx, "destroy");
	free(p);
}

static volatile int work_value;

static void work_fn(void *ud) { work_value = 42; }

static void work_done(lab_ctx *ctx, int status, void *ud)
{
	struct lc *p = ud;
	say(ctx, work_value == 42 && status == 0 ? "work-done" : "work-failed");
	lab_done(ctx, (int)p->once_status);
}

static void once_timer(lab_ctx *ctx, lab_timer *t, void *ud)
{
	struct lc *p = ud;
	say(ctx, "once-timer");
	if (lab_work_submit(ctx, work_fn, work_done, p) < 0)
		lab_done(ctx, LAB_EIO);
}

static int lc_once(void *self)
{
	struct lc *p = self;
	say(p->ctx, "once");
	return lab_timer_start(p->ctx, 10, 0, once_timer, p, NULL);
}

static int lc_run(void *self)
{
	struct lc *p = self;
	say(p->ctx, "run");
	return 0;
}

LAB_PLUGIN_DEFINE(.name = "lifecycle", .version = "2.3.4", .description = "lifecycle probe",
		  .settings = settings, .init = lc_init, .start = lc_start, .stop = lc_stop,
		  .destroy = lc_destroy, .once = lc_once, .run = lc_run)
