/* A plugin named "example" with the example's settings whose init
 * (RELOAD_INIT_FAIL) or start (RELOAD_START_FAIL) fails with RELOAD_RC
 * (default LAB_ECONFIG / LAB_EIO): the bad new builds of
 * tests/integration/reload.sh and reload-edges.sh.  stop and destroy log
 * that they ran (plugin.h: both follow a failed start). */
#include <stdlib.h>

#include <lab/plugin.h>

static const lab_setting settings[] = {
	{ .name = "interval", .type = LAB_SET_DURATION, .def = "10s", .desc = "unused" },
	{ .name = "message", .type = LAB_SET_STRING, .def = "tick", .desc = "unused" },
	{ .name = "path_prefix", .type = LAB_SET_STRING, .def = "example", .desc = "unused" },
	{ 0 },
};

static int p_init(lab_ctx *ctx, void **self)
{
#ifdef RELOAD_INIT_FAIL
	lab_logf(ctx, LAB_LOG_ERROR, "reload-bad: refusing to initialise");
#ifdef RELOAD_RC
	return RELOAD_RC;
#else
	return LAB_ECONFIG;
#endif
#else
	lab_ctx **p = malloc(sizeof *p);
	if (!p)
		return LAB_ENOMEM;
	*p = ctx;
	*self = p;
	return 0;
#endif
}

static int p_start(void *self)
{
	(void)self;
#ifdef RELOAD_START_FAIL
	return LAB_EIO;
#else
	return 0;
#endif
}

static int p_stop(void *self)
{
	lab_logf(*(lab_ctx **)self, LAB_LOG_INFO, "reload-bad: stop");
	return 0;
}

static void p_destroy(void *self)
{
	lab_logf(*(lab_ctx **)self, LAB_LOG_INFO, "reload-bad: destroy");
	free(self);
}

LAB_PLUGIN_DEFINE(.name = "example", .version = "9.9.9-bad", .settings = settings,
		  .init = p_init, .start = p_start, .stop = p_stop, .destroy = p_destroy)
