/* Deliberately broken plugins for the loader tests, selected at build time:
 * BAD_MAGIC, BAD_MAJOR, NEW_MINOR, INIT_FAIL, START_FAIL; PNAME is the name
 * in the descriptor (set to a different name for the name-mismatch case). */
#include <stdlib.h>

#include <lab/plugin.h>

static int p_init(lab_ctx *ctx, void **self)
{
#ifdef INIT_FAIL
	lab_logf(ctx, LAB_LOG_ERROR, "initfail: refusing to initialise");
	return LAB_ECONFIG;
#else
	*self = malloc(1);
	return *self ? 0 : LAB_ENOMEM;
#endif
}

static int p_start(void *self)
{
#ifdef START_FAIL
	return LAB_EIO;
#else
	return 0;
#endif
}

static int p_stop(void *self) { return 0; }
static void p_destroy(void *self) { free(self); }
static int p_once(void *self) { return LAB_EIO; }

LAB_EXPORT const lab_plugin *lab_plugin_entry(void);
LAB_EXPORT const lab_plugin *lab_plugin_entry(void)
{
	static const lab_plugin desc = {
#ifdef BAD_MAGIC
		.magic = 0xdeadbeef,
#else
		.magic = LAB_PLUGIN_MAGIC,
#endif
#ifdef BAD_MAJOR
		.abi_major = LAB_ABI_MAJOR + 1,
#else
		.abi_major = LAB_ABI_MAJOR,
#endif
#ifdef NEW_MINOR
		.abi_minor = LAB_ABI_MINOR + 1,
#else
		.abi_minor = LAB_ABI_MINOR,
#endif
		.size = sizeof(lab_plugin),
		.name = PNAME,
		.version = "0.0.1",
		.init = p_init,
		.start = p_start,
		.stop = p_stop,
		.destroy = p_destroy,
		.once = p_once,
	};
	return &desc;
}
