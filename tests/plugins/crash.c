/* Crash test plugin (tests/integration/faults-kill.sh, docs/reliability.md):
 * dereferences NULL in the callback named by `crash_in`:
 *   "none"      never (the control run)
 *   "init"      in init
 *   "start"     in start
 *   "callback"  in the timer callback of tick number `crash_after`, or
 *               of the first tick that finds `trigger_file`
 *   "abort"     calls abort() (SIGABRT) where "callback" would segfault
 *   "work"      segfaults in a lab_work function submitted by that tick
 * (tests/integration/crash-report.sh checks labd's one-line report.)
 * Between ticks it does durable work the way real plugins do: every
 * `tick_ms` it stores crash/N.json (N = state "next", from 0), and only
 * once that put has completed sets state next = N + 1 ("work is recorded
 * in state only after its documents are durably stored").  After a crash
 * and a restart nothing below `next` may be missing or damaged. */
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <lab/plugin.h>

static const lab_setting settings[] = {
	{ .name = "crash_in", .type = LAB_SET_STRING, .def = "none",
	  .desc = "none, init, start, callback, abort or work" },
	{ .name = "crash_after", .type = LAB_SET_INT, .def = "5",
	  .desc = "with crash_in = callback: crash in this tick (1 = the first)" },
	{ .name = "trigger_file", .type = LAB_SET_STRING, .def = "",
	  .desc = "with crash_in = callback: crash in the first tick that finds this file "
		  "(instead of crash_after)" },
	{ .name = "tick_ms", .type = LAB_SET_INT, .def = "100", .desc = "timer period" },
	{ 0 },
};

struct crash {
	lab_ctx *ctx;
	const char *crash_in, *trigger;
	int64_t crash_after, tick_ms, ticks;
	int64_t next; /* next document number; state "next" */
	int busy;
};

static void boom(lab_ctx *ctx, const char *where)
{
	lab_logf(ctx, LAB_LOG_WARN, "crash: segfault in %s", where);
	/* An unmapped address that is not NULL: UBSan (sanitizer builds)
	 * would stop at a NULL store before any signal is raised. */
	volatile int *volatile p = (volatile int *)(uintptr_t)16;
	*p = 1;
}

static void boom_work(void *ud)
{
	(void)ud;
	volatile int *volatile p = (volatile int *)(uintptr_t)16; /* see boom() */
	*p = 1;
}

static int crash_init(lab_ctx *ctx, void **self)
{
	struct crash *c = calloc(1, sizeof *c);
	if (!c)
		return LAB_ENOMEM;
	c->ctx = ctx;
	lab_cfg_string(ctx, NULL, "crash_in", &c->crash_in);
	lab_cfg_int(ctx, NULL, "crash_after", &c->crash_after);
	lab_cfg_int(ctx, NULL, "tick_ms", &c->tick_ms);
	lab_cfg_string(ctx, NULL, "trigger_file", &c->trigger);
	const char *js;
	size_t len;
	if (lab_state_get(ctx, "next", &js, &len) == 0) {
		char b[32];
		snprintf(b, sizeof b, "%.*s", (int)(len < 31 ? len : 31), js);
		c->next = strtoll(b, NULL, 10);
	}
	lab_logf(ctx, LAB_LOG_INFO, "crash: init next=%lld", (long long)c->next);
	if (!strcmp(c->crash_in, "init"))
		boom(ctx, "init");
	*self = c;
	return 0;
}

static void on_put(lab_ctx *ctx, int status, const void *data, size_t len, void *ud)
{
	struct crash *c = ud;
	c->busy = 0;
	if (status < 0)
		return; /* retried at the next tick */
	c->next++;
	char b[32];
	int n = snprintf(b, sizeof b, "%lld", (long long)c->next);
	lab_state_set(ctx, "next", b, (size_t)n);
}

static void on_tick(lab_ctx *ctx, lab_timer *t, void *ud)
{
	struct crash *c = ud;
	c->ticks++;
	if (!strcmp(c->crash_in, "callback") &&
	    (c->trigger[0] ? access(c->trigger, F_OK) == 0 : c->ticks == c->crash_after))
		boom(ctx, "callback");
	if (c->trigger[0] ? access(c->trigger, F_OK) == 0 : c->ticks == c->crash_after) {
		if (!strcmp(c->crash_in, "abort")) {
			lab_logf(ctx, LAB_LOG_WARN, "crash: abort in callback");
			abort();
		}
		if (!strcmp(c->crash_in, "work")) {
			lab_logf(ctx, LAB_LOG_WARN, "crash: segfault in work");
			lab_work_submit(ctx, boom_work, NULL, c);
		}
	}
	if (c->busy)
		return;
	char key[64], doc[128];
	snprintf(key, sizeof key, "crash/%lld.json", (long long)c->next);
	int n = snprintf(doc, sizeof doc, "{\"n\":%lld,\"pad\":\"%040d\"}", (long long)c->next, 0);
	if (lab_storage_put(ctx, key, doc, (size_t)n, "application/json", NULL, on_put, c) == 0)
		c->busy = 1;
}

static int crash_start(void *self)
{
	struct crash *c = self;
	if (!strcmp(c->crash_in, "start"))
		boom(c->ctx, "start");
	return lab_timer_start(c->ctx, (uint64_t)c->tick_ms, (uint64_t)c->tick_ms, on_tick, c,
			       NULL);
}

static int crash_stop(void *self)
{
	(void)self;
	return 0;
}

static void crash_destroy(void *self)
{
	free(self);
}

LAB_PLUGIN_DEFINE(.name = "crash", .version = "1.0.0",
		  .description = "segfaults on demand (fault-injection tests)", .settings = settings,
		  .init = crash_init, .start = crash_start, .stop = crash_stop,
		  .destroy = crash_destroy)
