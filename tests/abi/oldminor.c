/*
 * oldminor — a plugin built against an OLDER minor of the SDK.
 *
 * tests/abi/old-minor.sh compiles this file against the frozen v1.0 header
 * (tests/abi/v1.0/lab/plugin.h), never against sdk/include, and runs it on the
 * current host: it must load and work.  The same file compiled against a
 * header whose LAB_ABI_MINOR is one above the host's (PLUGIN_NAME
 * "newerminor") must be refused at load with a message naming both versions.
 *
 * Its --once pass uses the services a 1.0 plugin relies on: config, a timer,
 * state, storage, the broker, logging and done.
 *
 * Built with -DLAB_PLUGIN_MIN_ABI_MINOR=1 against a 1.1 header it is a
 * plugin that NEEDS 1.1: its settings are `options` (a range, binding) and
 * it logs a username's key segment from the 1.1 host service.  A 1.0-only
 * host must refuse it (tests/unit/test_loader_v10host.c).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include <lab/plugin.h>

#ifndef LAB_PLUGIN_MIN_ABI_MINOR /* the 1.0 header has no such thing */
#define LAB_PLUGIN_MIN_ABI_MINOR 0
#endif

#ifndef PLUGIN_NAME
#define PLUGIN_NAME "oldminor"
#endif

struct oldminor {
	lab_ctx *ctx;
	const char *greeting;
	int64_t runs;
	int64_t step;
};

#if LAB_PLUGIN_MIN_ABI_MINOR >= 1
static const lab_option options[] = {
	{ .name = "greeting", .type = LAB_SET_STRING, .def = "hello from ABI 1.1",
	  LAB_BIND(struct oldminor, greeting), .desc = "text stored in the document" },
	{ .name = "step", .type = LAB_SET_INT, .def = "1", LAB_RANGE(1, 10),
	  LAB_BIND(struct oldminor, step), .desc = "runs added per pass" },
	{ 0 },
};
#define DECLARED .options = options
#else
static const lab_setting settings[] = {
	{ .name = "greeting", .type = LAB_SET_STRING, .def = "hello from ABI 1.0",
	  .desc = "text stored in the document" },
	{ 0 },
};
#define DECLARED .settings = settings
#endif

static int p_init(lab_ctx *ctx, void **self)
{
	const char *json;
	size_t len;
	/* The host's table is never smaller than the one this plugin was built
	 * with, and it is of the same major. */
	if (ctx->api->size < sizeof(lab_host_api) || ctx->api->abi_major != LAB_ABI_MAJOR)
		return LAB_EABI;
	struct oldminor *p = calloc(1, sizeof *p);
	if (!p)
		return LAB_ENOMEM;
	p->ctx = ctx;
	p->step = 1;
#if LAB_PLUGIN_MIN_ABI_MINOR >= 1
	char seg[LAB_KEY_SEGMENT_MAX];
	static const char user[] = "j\xc3\xbcrgen/x";
	if (lab_cfg_bind(ctx, NULL, p) < 0 ||
	    lab_key_segment(ctx, user, sizeof user - 1, 0, seg, sizeof seg) < 0) {
		free(p);
		return LAB_ECONFIG;
	}
	lab_logkv(ctx, LAB_LOG_INFO, PLUGIN_NAME ": 1.1 services", LAB_FS("key_segment", seg),
		  LAB_FI("step", p->step));
#else
	if (lab_cfg_string(ctx, NULL, "greeting", &p->greeting) < 0) {
		free(p);
		return LAB_ECONFIG;
	}
#endif
	if (lab_state_get(ctx, "runs", &json, &len) == 0)
		p->runs = strtoll(json, NULL, 10);
	lab_logkv(ctx, LAB_LOG_INFO, PLUGIN_NAME ": loaded",
		  LAB_FI("built_abi_minor", LAB_ABI_MINOR),
		  LAB_FI("needs_abi_minor", LAB_PLUGIN_MIN_ABI_MINOR),
		  LAB_FI("host_abi_minor", ctx->api->abi_minor),
		  LAB_FI("host_api_size", ctx->api->size));
	*self = p;
	return 0;
}

static int p_start(void *self) { return 0; }
static int p_stop(void *self) { return 0; }
static void p_destroy(void *self) { free(self); }

static void on_stored(lab_ctx *ctx, int status, const void *data, size_t len, void *ud)
{
	struct oldminor *p = ud;
	char json[32];
	if (status < 0) {
		lab_done(ctx, status);
		return;
	}
	int n = snprintf(json, sizeof json, "%" PRId64, p->runs);
	int rc = lab_state_set(ctx, "runs", json, (size_t)n);
	if (rc == 0)
		rc = lab_publish(ctx, PLUGIN_NAME ".done", json, (size_t)n);
	lab_logkv(ctx, LAB_LOG_INFO, PLUGIN_NAME ": pass finished", LAB_FI("runs", p->runs),
		  LAB_FI("status", rc));
	lab_done(ctx, rc);
}

static void on_timer(lab_ctx *ctx, lab_timer *t, void *ud)
{
	struct oldminor *p = ud;
	char body[256];
	p->runs += p->step;
	int n = snprintf(body, sizeof body, "{\"greeting\":\"%s\",\"runs\":%" PRId64 "}",
			 p->greeting, p->runs);
	if (n < 0 || (size_t)n >= sizeof body) {
		lab_done(ctx, LAB_ERANGE);
		return;
	}
	int rc = lab_storage_put_atomic(ctx, PLUGIN_NAME "/done.json", body, (size_t)n,
					"application/json", NULL, on_stored, p);
	if (rc < 0)
		lab_done(ctx, rc);
}

static int p_once(void *self)
{
	struct oldminor *p = self;
	return lab_timer_start(p->ctx, 10, 0, on_timer, p, NULL);
}

LAB_PLUGIN_DEFINE(.name = PLUGIN_NAME, .version = "1.0.0",
		  .description = "ABI test: a plugin built against an older SDK minor",
		  DECLARED, .init = p_init, .start = p_start, .stop = p_stop,
		  .destroy = p_destroy, .once = p_once)
