/* Test plugin for tests/integration/self-heal.sh: fails on purpose.
 *
 *   init_error, start_error  a LAB_E* code (e.g. -4 = LAB_EIO) init or start
 *                            returns, after logging "flaky: TEXT" at error
 *                            level, as long as the file `until` does not
 *                            exist ("" = always); 0 = succeed
 *   query_ms                 while running, SELECT 1 every query_ms ms
 *                            (0 = never); a failure is logged at warn with
 *                            an `error` field, as the real plugins do
 *
 * A test plugin may look at a file; a real one would not. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <lab/plugin.h>

static const lab_setting settings[] = {
	{ .name = "init_error", .type = LAB_SET_INT, .def = "0", .desc = "code init returns" },
	{ .name = "start_error", .type = LAB_SET_INT, .def = "0", .desc = "code start returns" },
	{ .name = "until", .type = LAB_SET_STRING, .def = "", .desc = "fail until this file exists" },
	{ .name = "query_ms", .type = LAB_SET_INT, .def = "0", .desc = "SELECT 1 period (ms)" },
	{ 0 },
};

struct flaky {
	lab_ctx *ctx;
	int64_t start_error, query_ms;
	const char *until;
	lab_timer *timer;
	int querying;
};

static int failing(const char *until) { return !until[0] || access(until, F_OK) != 0; }

static void queried(lab_ctx *ctx, int status, const char *errmsg, const lab_rows *rows, void *ud)
{
	struct flaky *f = ud;
	(void)rows;
	f->querying = 0;
	if (status < 0)
		lab_logkv(ctx, LAB_LOG_WARN, "probe query failed; retried at the next tick",
			  LAB_FS("error", errmsg ? errmsg : lab_strerror(status)));
	else
		lab_logkv(ctx, LAB_LOG_DEBUG, "probe query ok");
}

static void tick(lab_ctx *ctx, lab_timer *t, void *ud)
{
	struct flaky *f = ud;
	(void)t;
	if (f->querying)
		return;
	int rc = lab_query(ctx, "SELECT 1", NULL, 0, queried, f);
	if (rc < 0)
		lab_logkv(ctx, LAB_LOG_WARN, "probe query not started",
			  LAB_FS("error", lab_strerror(rc)));
	else
		f->querying = 1;
}

static int f_init(lab_ctx *ctx, void **self)
{
	int64_t init_error = 0;
	struct flaky *f = calloc(1, sizeof *f);
	if (!f)
		return LAB_ENOMEM;
	f->ctx = ctx;
	lab_cfg_int(ctx, NULL, "init_error", &init_error);
	lab_cfg_int(ctx, NULL, "start_error", &f->start_error);
	lab_cfg_int(ctx, NULL, "query_ms", &f->query_ms);
	lab_cfg_string(ctx, NULL, "until", &f->until);
	if (init_error < 0 && failing(f->until)) {
		lab_logf(ctx, LAB_LOG_ERROR, "flaky: init refused on purpose");
		free(f);
		return (int)init_error;
	}
	*self = f;
	return 0;
}

static int f_start(void *self)
{
	struct flaky *f = self;
	if (f->start_error < 0 && failing(f->until)) {
		lab_logf(f->ctx, LAB_LOG_ERROR, "flaky: start refused on purpose");
		return (int)f->start_error;
	}
	if (f->query_ms > 0)
		return lab_timer_start(f->ctx, (uint64_t)f->query_ms, (uint64_t)f->query_ms, tick, f,
				       &f->timer);
	return 0;
}

static int f_stop(void *self)
{
	(void)self;
	return 0;
}

static void f_destroy(void *self) { free(self); }

LAB_EXPORT const lab_plugin *lab_plugin_entry(void);
LAB_EXPORT const lab_plugin *lab_plugin_entry(void)
{
	static const lab_plugin desc = {
		.magic = LAB_PLUGIN_MAGIC,
		.abi_major = LAB_ABI_MAJOR,
		.abi_minor = 0,
		.size = sizeof(lab_plugin),
		.name = "flaky",
		.version = "0.0.1",
		.description = "fails on purpose (self-heal test)",
		.settings = settings,
		.init = f_init,
		.start = f_start,
		.stop = f_stop,
		.destroy = f_destroy,
	};
	return &desc;
}
