/* A plugin named "example" with the example's settings whose init
 * (RELOAD_INIT_FAIL) or start (RELOAD_START_FAIL) fails: the bad new
 * builds of tests/integration/reload.sh. */
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
	return LAB_ECONFIG;
#else
	(void)ctx;
	*self = malloc(1);
	return *self ? 0 : LAB_ENOMEM;
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
	(void)self;
	return 0;
}

static void p_destroy(void *self) { free(self); }

LAB_PLUGIN_DEFINE(.name = "example", .version = "9.9.9-bad", .settings = settings,
		  .init = p_init, .start = p_start, .stop = p_stop, .destroy = p_destroy)
