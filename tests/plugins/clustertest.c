/* Test plugin for tests/integration/cluster.sh: uses the SDK 1.5 cluster
 * services and logs what happens.
 *
 *   lease     a lease name held from start ("" = none); its events are
 *             logged as msg="lease acquired"/"lease lost" lease=NAME
 *   claims    claim "unit/1".."unit/N" at start; each answer is logged as
 *             msg=claim unit=unit/I status=granted|busy|done|ERROR
 *   finish    finish every granted claim at once (1 = completed, 0 = give
 *             back, -1 = keep it)
 *   cas       increment the shared counter "counter" this many times
 *             (get, then compare-and-set, retrying on conflicts); logs
 *             msg="cas done" conflicts=N at the end */
#define LAB_PLUGIN_MIN_ABI_MINOR 5
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lab/plugin.h>

static const lab_setting settings[] = {
	{ .name = "lease", .type = LAB_SET_STRING, .def = "", .desc = "lease to hold" },
	{ .name = "claims", .type = LAB_SET_INT, .def = "0", .desc = "units to claim" },
	{ .name = "units", .type = LAB_SET_STRING, .def = "unit", .desc = "unit name prefix" },
	{ .name = "finish", .type = LAB_SET_INT, .def = "-1", .desc = "finish claims (1/0/-1)" },
	{ .name = "cas", .type = LAB_SET_INT, .def = "0", .desc = "counter increments" },
	{ .name = "cas_wait_ms", .type = LAB_SET_INT, .def = "0",
	  .desc = "wait between the first get and the first CAS (forces conflicts)" },
	{ 0 },
};

static int64_t last_value; /* after our own success: what we wrote */

struct ct {
	lab_ctx *ctx;
	const char *lease_name, *units;
	int64_t claims, finish, cas, cas_wait_ms;
	char first[32];
	uint64_t first_rev;
	lab_lease *lease;
	int64_t done, conflicts;
};

static void on_lease(lab_ctx *ctx, lab_lease *l, int event, void *ud)
{
	struct ct *t = ud;
	(void)l;
	lab_logkv(ctx, LAB_LOG_INFO, event == LAB_LEASE_ACQUIRED ? "lease acquired" : "lease lost",
		  LAB_FS("lease", t->lease_name), LAB_FI("valid", lab_lease_valid(ctx, l)));
}

static void on_claim(lab_ctx *ctx, int status, lab_claim *c, void *ud)
{
	char *unit = ud;
	const char *s = status == 0 ? "granted" : status == LAB_EBUSY ? "busy"
		      : status == LAB_EEXIST ? "done" : lab_strerror(status);
	lab_logkv(ctx, LAB_LOG_INFO, "claim", LAB_FS("unit", unit), LAB_FS("status", s),
		  LAB_FI("valid", lab_claim_valid(ctx, c)));
	free(unit);
}

static void cas_step(lab_ctx *ctx, struct ct *t, const char *json, uint64_t rev);

static void on_cas(lab_ctx *ctx, int status, const char *json, size_t len, uint64_t rev, void *ud)
{
	struct ct *t = ud;
	(void)len;
	if (status == 0)
		t->done++;
	else if (status == LAB_EEXIST)
		t->conflicts++;
	else {
		lab_logkv(ctx, LAB_LOG_WARN, "cas failed", LAB_FS("error", lab_strerror(status)));
		return;
	}
	if (t->done >= t->cas) {
		lab_logkv(ctx, LAB_LOG_INFO, "cas done", LAB_FI("conflicts", t->conflicts),
			  LAB_FI("increments", t->done), LAB_FI("value", last_value));
		return;
	}
	/* After a success the value is ours: rev is the new revision. */
	cas_step(ctx, t, status == 0 ? NULL : json, rev);
}

static void cas_step(lab_ctx *ctx, struct ct *t, const char *json, uint64_t rev)
{
	char buf[32];
	int64_t v = json ? strtoll(json, NULL, 10) : rev ? last_value : 0;
	last_value = v + 1;
	snprintf(buf, sizeof buf, "%lld", (long long)last_value);
	int rc = lab_shared_cas(ctx, "counter", buf, strlen(buf), rev, on_cas, t);
	if (rc)
		lab_logkv(ctx, LAB_LOG_WARN, "cas not sent", LAB_FS("error", lab_strerror(rc)));
}

static void first_cas(lab_ctx *ctx, lab_timer *timer, void *ud)
{
	struct ct *t = ud;
	(void)timer;
	cas_step(ctx, t, t->first, t->first_rev);
}

static void on_get(lab_ctx *ctx, int status, const char *json, size_t len, uint64_t rev, void *ud)
{
	struct ct *t = ud;
	lab_timer *timer;
	(void)len;
	if (status != 0 && status != LAB_ENOENT) {
		lab_logkv(ctx, LAB_LOG_WARN, "get failed", LAB_FS("error", lab_strerror(status)));
		return;
	}
	snprintf(t->first, sizeof t->first, "%.20s", status == 0 ? json : "0");
	t->first_rev = rev;
	lab_timer_start(ctx, (uint64_t)t->cas_wait_ms, 0, first_cas, t, &timer);
}

static int ct_init(lab_ctx *ctx, void **self)
{
	struct ct *t = calloc(1, sizeof *t);
	if (!t)
		return LAB_ENOMEM;
	t->ctx = ctx;
	lab_cfg_string(ctx, NULL, "lease", &t->lease_name);
	lab_cfg_int(ctx, NULL, "claims", &t->claims);
	lab_cfg_string(ctx, NULL, "units", &t->units);
	lab_cfg_int(ctx, NULL, "finish", &t->finish);
	lab_cfg_int(ctx, NULL, "cas", &t->cas);
	lab_cfg_int(ctx, NULL, "cas_wait_ms", &t->cas_wait_ms);
	*self = t;
	return 0;
}

static struct ct *the_ct;

static void claimed(lab_ctx *ctx, int status, lab_claim *c, void *ud)
{
	struct ct *t = the_ct; /* one instance per process in the tests */
	on_claim(ctx, status, c, ud);
	if (status == 0 && t->finish >= 0)
		lab_claim_finish(ctx, c, (int)t->finish);
}

static int ct_start(void *self)
{
	struct ct *t = self;
	the_ct = t;
	lab_logkv(t->ctx, LAB_LOG_INFO, "cluster", LAB_FS("backend", lab_cluster_backend(t->ctx)),
		  LAB_FS("node", lab_cluster_node(t->ctx)));
	if (t->lease_name[0]) {
		int rc = lab_lease_hold(t->ctx, t->lease_name, on_lease, t, &t->lease);
		if (rc)
			return rc;
	}
	for (int64_t i = 1; i <= t->claims; i++) {
		char *unit = malloc(48);
		if (!unit)
			return LAB_ENOMEM;
		snprintf(unit, 48, "%.16s/%lld", t->units, (long long)i);
		int rc = lab_claim_acquire(t->ctx, unit, claimed, unit);
		if (rc) {
			free(unit);
			return rc;
		}
	}
	if (t->cas > 0)
		return lab_shared_get(t->ctx, "counter", on_get, t);
	return 0;
}

static int ct_stop(void *self)
{
	(void)self;
	return 0;
}

static void ct_destroy(void *self) { free(self); }

LAB_PLUGIN_DEFINE(.name = "clustertest", .version = "0.0.1",
		  .description = "cluster services test plugin", .settings = settings,
		  .init = ct_init, .start = ct_start, .stop = ct_stop, .destroy = ct_destroy)
