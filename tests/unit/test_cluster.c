/* Cluster services (host/cluster.c): the pure parts (name rules, the loss
 * deadline) and the "none" backend end to end on a private loop: a lease
 * is ACQUIRED on the next loop turn, never inside the call; claims are
 * granted, a unit held already is busy; release and forget free everything
 * (ASan/valgrind see leaks). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cluster.h"
#include "config.h"

static void test_names(void **st)
{
	(void)st;
	static const char *const good[] = { "a", "timings/mainnet/last_30_days",
					    "beacon/mainnet/slots/1000-1031", "a.b/c_d/E-9" };
	static const char *const bad[] = { "", "/a", "a/", "a//b", ".a", "a.", "a..b", "a/.b",
					   "a./b", "a b", "a*", "a>", "ä", "a\\b" };
	for (size_t i = 0; i < sizeof good / sizeof *good; i++)
		assert_int_equal(cluster_name_ok(good[i]), 1);
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
		assert_int_equal(cluster_name_ok(bad[i]), 0);
	assert_int_equal(cluster_name_ok(NULL), 0);
	char longname[LAB_CLUSTER_NAME_MAX + 2];
	memset(longname, 'x', sizeof longname);
	longname[LAB_CLUSTER_NAME_MAX] = '\0';
	assert_int_equal(cluster_name_ok(longname), 1);
	longname[LAB_CLUSTER_NAME_MAX] = 'x';
	longname[LAB_CLUSTER_NAME_MAX + 1] = '\0';
	assert_int_equal(cluster_name_ok(longname), 0);
}

static void test_deadline(void **st)
{
	(void)st;
	/* Sent at 1000 ms, ttl 15 s, renew 5 s: valid until 11 s, 5 s before
	 * the server can expire the key (16 s). */
	assert_int_equal(cluster_loss_deadline(1000, 15000, 5000), 11000);
	assert_int_equal(cluster_loss_deadline(0, 3000, 1000), 2000);
	/* The next renewal (sent one interval later) is due before the deadline. */
	assert_true(1000 + 5000 < cluster_loss_deadline(1000, 15000, 5000));
	/* Degenerate settings never extend validity. */
	assert_int_equal(cluster_loss_deadline(500, 1000, 1000), 500);
}

static int gate(lab_ctx *ctx) { return ctx != NULL; }
static int events, last_event, claims_granted, claims_busy;
static lab_claim *granted;

static void on_lease(lab_ctx *ctx, lab_lease *l, int event, void *ud)
{
	(void)ctx, (void)l, (void)ud;
	events++;
	last_event = event;
}

static void on_claim(lab_ctx *ctx, int status, lab_claim *c, void *ud)
{
	(void)ctx, (void)ud;
	if (status == 0) {
		claims_granted++;
		granted = c;
	} else if (status == LAB_EBUSY) {
		claims_busy++;
	}
}

static void test_none(void **st)
{
	(void)st;
	uv_loop_t loop;
	uv_loop_init(&loop);
	struct host_conf hc = { 0 };
	hc.cluster_backend = "none";
	hc.cluster_node = "n1";
	hc.cluster_lease_ttl = 15;
	hc.cluster_renew_interval = 5;
	struct cluster *c = NULL;
	assert_int_equal(cluster_open(&loop, NULL, &hc, gate, &c), 0);
	assert_string_equal(cluster_backend_name(c), "none");
	assert_string_equal(cluster_node_id(c), "n1");
	lab_ctx ctx = { 0 };
	lab_lease *l = NULL;
	assert_int_equal(cluster_lease_hold(c, &ctx, "p", "bad//name", on_lease, NULL, &l),
			 LAB_EINVAL);
	assert_int_equal(cluster_lease_hold(c, &ctx, "p", "x/one", on_lease, NULL, &l), 0);
	lab_lease *dup = NULL;
	assert_int_equal(cluster_lease_hold(c, &ctx, "p", "x/one", on_lease, NULL, &dup), LAB_EEXIST);
	assert_null(dup);
	assert_int_equal(events, 0); /* never inside the call */
	assert_int_equal(cluster_claim(c, &ctx, "p", "u/1", on_claim, NULL), 0);
	assert_int_equal(cluster_claim(c, &ctx, "p", "u/1", on_claim, NULL), 0);
	uv_run(&loop, UV_RUN_NOWAIT);
	assert_int_equal(events, 1);
	assert_int_equal(last_event, LAB_LEASE_ACQUIRED);
	assert_int_equal(cluster_lease_valid(c, &ctx, l), 1);
	/* Both requests were queued before either was granted: the first wins. */
	assert_int_equal(claims_granted + claims_busy, 2);
	assert_true(claims_granted >= 1);
	assert_int_equal(cluster_claim_valid(c, &ctx, granted), 1);
	assert_int_equal(cluster_claim_finish(c, &ctx, granted, 1), 0);
	assert_int_equal(cluster_lease_release(c, &ctx, l), 0);
	assert_int_equal(cluster_lease_release(c, &ctx, l), LAB_EINVAL);
	cluster_forget(c, &ctx);
	cluster_close(c);
	uv_run(&loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&loop), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_deadline),
		cmocka_unit_test(test_none),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
