/* Completion probe (lab/plugin.h, "Completion"): in --once it calls every
 * host service that takes a callback — timers, storage put/get/exists/
 * delete, state flush, publish to its own subscription, work, a query —
 * plus calls that fail at once (bad key, bad flags), each with a flag set
 * for the duration of the call.  A callback that finds the flag set ran
 * before the call that registered it returned: a broken promise.  The run
 * ends with lab_done() under the same flag, so `stop`/`destroy` running
 * inside lab_done() count too.  Logs "asynccheck: N callbacks, V early"
 * and "asynccheck: EARLY WHAT" for each broken promise. */
#include <stdlib.h>

#include <lab/plugin.h>

struct ac {
	lab_ctx *ctx;
	const char *inside; /* the call under way, NULL between calls */
	int waiting;        /* callbacks still due */
	int seen, early;
};

static struct ac *g_ac;

static void check(struct ac *p, const char *what)
{
	if (p->inside) {
		p->early++;
		lab_logf(p->ctx, LAB_LOG_ERROR, "asynccheck: EARLY %s (inside %s)", what, p->inside);
	}
	p->seen++;
}

static void finish(struct ac *p)
{
	lab_logf(p->ctx, LAB_LOG_INFO, "asynccheck: %d callbacks, %d early", p->seen, p->early);
	p->inside = "lab_done";
	lab_done(p->ctx, p->early ? LAB_EIO : 0);
	p->inside = NULL;
}

static void one_done(struct ac *p, const char *what)
{
	check(p, what);
	if (--p->waiting == 0)
		finish(p);
}

static void on_storage(lab_ctx *ctx, int status, const void *d, size_t n, void *ud)
{
	one_done(g_ac, ud);
}
static void on_flush(lab_ctx *ctx, int status, void *ud) { one_done(g_ac, "state_flush"); }
static void on_timer(lab_ctx *ctx, lab_timer *t, void *ud) { one_done(g_ac, "timer"); }
static void on_msg(lab_ctx *ctx, const char *s, const void *d, size_t n, void *ud)
{
	one_done(g_ac, "message");
}
static void work_fn(void *ud) {}
static void on_work(lab_ctx *ctx, int status, void *ud) { one_done(g_ac, "work"); }
static void on_query(lab_ctx *ctx, int status, const char *e, const lab_rows *r, void *ud)
{
	one_done(g_ac, "query");
}

/* CALL(what, expr): expr under the flag; a callback is due when it succeeds. */
#define CALL(what, expr)                                                                   \
	do {                                                                               \
		p->inside = (what);                                                        \
		int rc_ = (expr);                                                          \
		p->inside = NULL;                                                          \
		if (rc_ >= 0)                                                              \
			p->waiting++;                                                      \
		else                                                                       \
			lab_logf(p->ctx, LAB_LOG_INFO, "asynccheck: %s refused: %s", (what), \
				 lab_strerror(rc_));                                       \
	} while (0)

/* REFUSED(what, expr): a call that must fail at once, without a callback. */
#define REFUSED(what, expr)                                                                \
	do {                                                                               \
		p->inside = (what);                                                        \
		int rc_ = (expr);                                                          \
		p->inside = NULL;                                                          \
		if (rc_ >= 0) {                                                            \
			p->early++;                                                        \
			lab_logf(p->ctx, LAB_LOG_ERROR, "asynccheck: %s was accepted", (what)); \
		}                                                                          \
	} while (0)

static int ac_init(lab_ctx *ctx, void **self)
{
	struct ac *p = calloc(1, sizeof *p);
	if (!p)
		return LAB_ENOMEM;
	p->ctx = ctx;
	g_ac = p;
	*self = p;
	return 0;
}

static int ac_once(void *self)
{
	struct ac *p = self;
	lab_ctx *ctx = p->ctx;
	p->waiting = 1; /* held until every call below is made */
	CALL("timer", lab_timer_start(ctx, 0, 0, on_timer, p, NULL));
	CALL("subscribe", lab_subscribe(ctx, "asynccheck.ping", on_msg, p, NULL));
	CALL("publish", lab_publish(ctx, "asynccheck.ping", "x", 1));
	p->waiting--; /* the subscription itself completes nothing */
	CALL("storage_put", lab_storage_put(ctx, "asynccheck/a.json", "{}", 2, NULL, NULL,
					    on_storage, "storage_put"));
	CALL("storage_get", lab_storage_get(ctx, "asynccheck/a.json", on_storage, "storage_get"));
	CALL("storage_get missing", lab_storage_get(ctx, "asynccheck/none.json", on_storage,
						    "storage_get missing"));
	CALL("storage_exists", lab_storage_exists(ctx, "asynccheck/a.json", on_storage,
						  "storage_exists"));
	CALL("storage_delete", lab_storage_delete(ctx, "asynccheck/a.json", on_storage,
						  "storage_delete"));
	REFUSED("storage_put bad key", lab_storage_put(ctx, "../x", "{}", 2, NULL, NULL,
						       on_storage, "storage_put bad key"));
	REFUSED("storage_get bad key", lab_storage_get(ctx, "", on_storage, "storage_get bad key"));
	lab_state_set(ctx, "k", "1", 1);
	CALL("state_flush", lab_state_flush(ctx, on_flush, p));
	CALL("work", lab_work_submit(ctx, work_fn, on_work, p));
	REFUSED("query bad flags",
		ctx->api->query(ctx, "SELECT 1", NULL, 0, 0x80u, NULL, on_query, p, NULL));
	REFUSED("work without fn", lab_work_submit(ctx, NULL, on_work, p));
	if (--p->waiting == 0)
		finish(p);
	return 0;
}

static int ac_start(void *self) { return 0; }

static int ac_stop(void *self)
{
	check(self, "stop");
	return 0;
}

static void ac_destroy(void *self)
{
	struct ac *p = self;
	check(p, "destroy");
	if (p->early)
		lab_logf(p->ctx, LAB_LOG_ERROR, "asynccheck: %d early in all", p->early);
	g_ac = NULL;
	free(p);
}

LAB_PLUGIN_DEFINE(.name = "asynccheck", .version = "1.0.0",
		  .description = "checks that no callback runs inside the call that registered it",
		  .init = ac_init, .start = ac_start, .stop = ac_stop, .destroy = ac_destroy,
		  .once = ac_once)
