/* Unit tests of the windowed-job runner (common/window_job.h) against a fake
 * host table: which jobs a pass runs (due, group gates, force), a tick while
 * a pass runs (dropped) against a run request (one more forced pass), --once
 * (flush, then lab_done with the first failure), stop, completions from
 * within start(), and the state documents, byte for byte; cluster mode
 * (SDK 1.5 leases and shared state, faked): a job runs only under its lease,
 * gated by the shared time read when the lease is acquired, records it with
 * compare-and-set, and may not store once the lease is lost. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "window_cache.h"
#include "window_job.h"

/* ---- the fake host -------------------------------------------------------- */

#define NKEYS 8
static struct {
	int64_t now_s;
	char keys[NKEYS][64], vals[NKEYS][512];
	int sets;
	lab_done_cb flush_cb;
	void *flush_ud;
	int done_calls, done_status;
	lab_timer_cb tick;
	void *tick_ud;
	uint64_t tick_ms;
} H;

static void f_log(lab_ctx *ctx, int level, const char *msg, const lab_field *f, size_t n)
{
	(void)ctx, (void)level, (void)msg, (void)f, (void)n;
}
static int64_t f_now_ms(lab_ctx *ctx)
{
	(void)ctx;
	return H.now_s * 1000;
}
static int f_timer_start(lab_ctx *ctx, uint64_t delay, uint64_t repeat, lab_timer_cb cb, void *ud,
			 lab_timer **out)
{
	(void)ctx, (void)delay, (void)out;
	H.tick = cb;
	H.tick_ud = ud;
	H.tick_ms = repeat;
	return 0;
}
static int slot_of(const char *key, int create)
{
	for (int i = 0; i < NKEYS; i++)
		if (!strcmp(H.keys[i], key))
			return i;
	for (int i = 0; create && i < NKEYS; i++)
		if (!H.keys[i][0]) {
			snprintf(H.keys[i], sizeof H.keys[i], "%s", key);
			return i;
		}
	return -1;
}
static int f_state_get(lab_ctx *ctx, const char *key, const char **json, size_t *len)
{
	(void)ctx;
	int i = slot_of(key, 0);
	if (i < 0)
		return LAB_ENOENT;
	*json = H.vals[i];
	*len = strlen(H.vals[i]);
	return 0;
}
static int f_state_set(lab_ctx *ctx, const char *key, const char *json, size_t len)
{
	(void)ctx;
	int i = slot_of(key, 1);
	assert_true(i >= 0 && len < sizeof H.vals[i]);
	memcpy(H.vals[i], json, len);
	H.vals[i][len] = '\0';
	H.sets++;
	return 0;
}
static int f_state_flush(lab_ctx *ctx, lab_done_cb cb, void *ud)
{
	(void)ctx;
	H.flush_cb = cb;
	H.flush_ud = ud;
	return 0;
}
static void f_done(lab_ctx *ctx, int status)
{
	(void)ctx;
	H.done_calls++;
	H.done_status = status;
}

/* SDK 1.5 fakes: leases by index, shared state answered by the test */
#define NL 8
static struct {
	const char *backend;
	int nl;
	char name[NL][64];
	lab_lease_cb cb[NL];
	void *ud[NL];
	int valid[NL];
	/* the last shared_get / shared_cas, answered by the test */
	char get_key[64], cas_key[64], cas_json[128];
	uint64_t cas_rev;
	lab_shared_cb get_cb, cas_cb;
	void *get_ud, *cas_ud;
	int gets, cases;
} C;

static const char *f_backend(lab_ctx *c) { (void)c; return C.backend; }
static int f_lease_hold(lab_ctx *c, const char *name, lab_lease_cb cb, void *ud, lab_lease **out)
{
	(void)c;
	assert_true(C.nl < NL);
	snprintf(C.name[C.nl], sizeof C.name[0], "%s", name);
	C.cb[C.nl] = cb;
	C.ud[C.nl] = ud;
	*out = (lab_lease *)&C.valid[C.nl];
	C.nl++;
	return 0;
}
static int f_lease_valid(lab_ctx *c, const lab_lease *l) { (void)c; return *(const int *)l; }
static int f_shared_get(lab_ctx *c, const char *key, lab_shared_cb cb, void *ud)
{
	(void)c;
	snprintf(C.get_key, sizeof C.get_key, "%s", key);
	C.get_cb = cb;
	C.get_ud = ud;
	C.gets++;
	return 0;
}
static int f_shared_cas(lab_ctx *c, const char *key, const char *json, size_t len, uint64_t rev,
			lab_shared_cb cb, void *ud)
{
	(void)c;
	snprintf(C.cas_key, sizeof C.cas_key, "%s", key);
	snprintf(C.cas_json, sizeof C.cas_json, "%.*s", (int)len, json);
	C.cas_rev = rev;
	C.cas_cb = cb;
	C.cas_ud = ud;
	C.cases++;
	return 0;
}

static lab_host_api api;
static lab_ctx ctx = { &api };

static const char *state(const char *key)
{
	int i = slot_of(key, 0);
	return i < 0 ? NULL : H.vals[i];
}

/* ---- the fake plugin ------------------------------------------------------ */

static struct {
	size_t started[64];
	size_t n;
	int sync;       /* complete from within start() with sync_rc */
	int sync_rc;
	int fail_start; /* start() of job fail_job returns this */
	size_t fail_job;
} P;

static struct wj R;

static int p_start(void *ud, size_t job)
{
	assert_ptr_equal(ud, &P);
	assert_true(P.n < 64);
	P.started[P.n++] = job;
	if (P.fail_start && job == P.fail_job)
		return P.fail_start;
	if (P.sync)
		wj_done(&R, P.sync_rc);
	return 0;
}

static void iso(int64_t t, char out[32]) { snprintf(out, 32, "T%lld", (long long)t); }
static int iso_parse(const char *s, size_t n, int64_t *t)
{
	char buf[32];
	if (n < 2 || n >= sizeof buf || s[0] != 'T')
		return -1;
	memcpy(buf, s + 1, n - 1);
	buf[n - 1] = '\0';
	*t = strtoll(buf, NULL, 10);
	return 0;
}

static const struct wj_ops unix_ops = { .start = p_start };
static const struct wj_ops text_ops = { .start = p_start, .time_text = iso,
					.time_parse = iso_parse };

static int setup(void **st)
{
	(void)st;
	memset(&H, 0, sizeof H);
	memset(&P, 0, sizeof P);
	api.size = sizeof api;
	api.log = f_log;
	api.now_ms = f_now_ms;
	api.timer_start = f_timer_start;
	api.state_get = f_state_get;
	api.state_set = f_state_set;
	api.state_flush = f_state_flush;
	api.done = f_done;
	memset(&C, 0, sizeof C);
	C.backend = "none";
	api.cluster_backend = f_backend;
	api.lease_hold = f_lease_hold;
	api.lease_valid = f_lease_valid;
	api.shared_get = f_shared_get;
	api.shared_cas = f_shared_cas;
	H.now_s = 100000;
	return 0;
}

static int teardown(void **st)
{
	(void)st;
	wj_free(&R);
	return 0;
}

/* timings-like: two groups without a gate, two jobs each gated by `period`. */
static void make_flat(int64_t period)
{
	wj_init(&R, &ctx, &text_ops, &P, "last_processed");
	assert_int_equal(wj_add_group(&R, "a", 0), 0);
	assert_int_equal(wj_add_job(&R, "n/w1", period), 0);
	assert_int_equal(wj_add_job(&R, "n/w2", period), 0);
	assert_int_equal(wj_add_group(&R, "b", 0), 0);
	assert_int_equal(wj_add_job(&R, "n/w1", period), 0);
	assert_int_equal(wj_add_job(&R, "n/w2", period), 0);
	assert_int_equal(wj_load(&R), 0);
}

/* contributors-like: a gated group with one job, a gated group with two
 * windows (periods 10 and 100). */
static void make_gated(void)
{
	wj_init(&R, &ctx, &unix_ops, &P, "last_processed_windows");
	assert_int_equal(wj_add_group(&R, "summary", 1000), 0);
	assert_int_equal(wj_add_job(&R, NULL, 0), 0);
	assert_int_equal(wj_add_group(&R, "users", 1000), 0);
	assert_int_equal(wj_add_job(&R, "short", 10), 0);
	assert_int_equal(wj_add_job(&R, "long", 100), 0);
	assert_int_equal(wj_load(&R), 0);
}

/* Completes every started job (in order) with rc until the pass ends. */
static void finish_all(int rc)
{
	size_t guard = 0;
	while (R.busy && guard++ < 64)
		wj_done(&R, rc);
	assert_false(R.busy);
}

/* ---- tests ---------------------------------------------------------------- */

static void test_due(void **st)
{
	(void)st;
	assert_true(wj_due(1000, WJ_NEVER, 3600));
	assert_false(wj_due(1000, 0, 3600));
	assert_true(wj_due(3600, 0, 3600));
	assert_false(wj_due(3599, 0, 3600));
	assert_true(wj_due(1000, 5000, 3600)); /* clock went back */
}

static void test_tick_runs_due_jobs_and_records(void **st)
{
	(void)st;
	make_flat(3600);
	assert_int_equal(wj_start(&R, 60000), 0);
	assert_int_equal(H.tick_ms, 60000);
	H.tick(&ctx, NULL, H.tick_ud);
	assert_true(R.busy);
	assert_int_equal(P.n, 1); /* one job at a time */
	finish_all(0);
	assert_int_equal(P.n, 4);
	for (size_t i = 0; i < 4; i++)
		assert_int_equal(P.started[i], i);
	assert_string_equal(state("a"), "{\"last_processed\":{\"n/w1\":\"T100000\",\"n/w2\":\"T100000\"}}");
	assert_string_equal(state("b"), "{\"last_processed\":{\"n/w1\":\"T100000\",\"n/w2\":\"T100000\"}}");
	/* nothing due a second later, nor just before the period ends */
	H.now_s += 3599;
	H.tick(&ctx, NULL, H.tick_ud);
	assert_false(R.busy);
	assert_int_equal(P.n, 4);
	H.now_s += 1;
	H.tick(&ctx, NULL, H.tick_ud);
	finish_all(0);
	assert_int_equal(P.n, 8);
	assert_int_equal(H.done_calls, 0);
}

static void test_failed_job_is_retried(void **st)
{
	(void)st;
	make_flat(3600);
	wj_start(&R, 60000);
	wj_run(&R);
	wj_done(&R, 0);
	wj_done(&R, LAB_EIO); /* job 1 fails */
	finish_all(0);
	assert_string_equal(state("a"), "{\"last_processed\":{\"n/w1\":\"T100000\"}}");
	P.n = 0;
	H.now_s += 60;
	H.tick(&ctx, NULL, H.tick_ud);
	finish_all(0);
	assert_int_equal(P.n, 1);
	assert_int_equal(P.started[0], 1);
}

static void test_busy_tick_dropped_run_again(void **st)
{
	(void)st;
	make_flat(3600);
	wj_start(&R, 60000);
	H.tick(&ctx, NULL, H.tick_ud);
	H.tick(&ctx, NULL, H.tick_ud); /* busy: dropped */
	finish_all(0);
	assert_int_equal(P.n, 4);
	/* a run request while a pass runs: exactly one more (forced) pass */
	H.now_s += 10;
	wj_run(&R);
	wj_run(&R);
	wj_run(&R);
	assert_int_equal(P.n, 5);
	finish_all(0);
	assert_int_equal(P.n, 12); /* 4 + 4 forced + 4 forced again */
	assert_false(R.again);
	/* a tick now: nothing is due (all just recorded) */
	H.tick(&ctx, NULL, H.tick_ud);
	assert_int_equal(P.n, 12);
}

static void test_force_ignores_schedule(void **st)
{
	(void)st;
	make_flat(3600);
	wj_run(&R);
	finish_all(0);
	H.now_s += 1;
	wj_run(&R);
	finish_all(0);
	assert_int_equal(P.n, 8);
	assert_string_equal(state("b"), "{\"last_processed\":{\"n/w1\":\"T100001\",\"n/w2\":\"T100001\"}}");
}

static void test_once(void **st)
{
	(void)st;
	make_flat(3600);
	/* all recorded: --once still runs everything */
	strcpy(H.keys[0], "a");
	strcpy(H.vals[0], "{\"last_processed\":{\"n/w1\":\"T100000\",\"n/w2\":\"T99999\"}}");
	wj_free(&R);
	make_flat(3600);
	wj_once(&R);
	wj_done(&R, 0);
	wj_done(&R, LAB_EQUERY);
	wj_done(&R, LAB_EIO);
	assert_null(H.flush_cb);
	wj_done(&R, 0);
	assert_false(R.busy);
	assert_int_equal(P.n, 4);
	assert_int_equal(H.done_calls, 0); /* only after the flush */
	assert_non_null(H.flush_cb);
	H.flush_cb(&ctx, 0, H.flush_ud);
	assert_int_equal(H.done_calls, 1);
	assert_int_equal(H.done_status, LAB_EQUERY); /* the first failure */
	/* the failed job keeps its old time */
	assert_string_equal(state("a"), "{\"last_processed\":{\"n/w1\":\"T100000\",\"n/w2\":\"T99999\"}}");
}

static void test_once_ok_reports_flush(void **st)
{
	(void)st;
	make_flat(3600);
	wj_once(&R);
	finish_all(0);
	H.flush_cb(&ctx, LAB_EIO, H.flush_ud);
	assert_int_equal(H.done_status, LAB_EIO);
	setup(NULL);
	wj_free(&R);
	make_flat(3600);
	wj_once(&R);
	finish_all(0);
	H.flush_cb(&ctx, 0, H.flush_ud);
	assert_int_equal(H.done_calls, 1);
	assert_int_equal(H.done_status, 0);
}

static void test_stop_ends_pass(void **st)
{
	(void)st;
	make_flat(3600);
	wj_start(&R, 60000);
	wj_run(&R);
	wj_run(&R); /* again requested */
	wj_stop(&R);
	wj_done(&R, 0); /* the job in flight ends; no other starts */
	assert_false(R.busy);
	assert_int_equal(P.n, 1);
	H.tick(&ctx, NULL, H.tick_ud);
	assert_int_equal(P.n, 1);
}

static void test_sync_completion(void **st)
{
	(void)st;
	make_flat(3600);
	P.sync = 1;
	wj_once(&R);
	assert_false(R.busy);
	assert_int_equal(P.n, 4);
	assert_non_null(H.flush_cb);
	/* a start that fails is a failure of the pass, the pass goes on */
	setup(NULL);
	wj_free(&R);
	make_flat(3600);
	P.sync = 1;
	P.fail_start = LAB_ENOMEM;
	P.fail_job = 2;
	wj_once(&R);
	assert_int_equal(P.n, 4);
	H.flush_cb(&ctx, 0, H.flush_ud);
	assert_int_equal(H.done_status, LAB_ENOMEM);
}

/* Acquire lease i; the shared state answers `json` (NULL: none yet). */
static void acquire(int i, const char *json, uint64_t rev)
{
	C.valid[i] = 1;
	C.cb[i](&ctx, (lab_lease *)&C.valid[i], LAB_LEASE_ACQUIRED, C.ud[i]);
	assert_string_equal(C.get_key, C.name[i]);
	C.get_cb(&ctx, json ? 0 : LAB_ENOENT, json, json ? strlen(json) : 0, json ? rev : 0,
		 C.get_ud);
}

static void test_cluster(void **st)
{
	(void)st;
	C.backend = "nats";
	make_flat(60);
	assert_int_equal(wj_start(&R, 1000), 0);
	assert_int_equal(C.nl, 4); /* one lease per job, named like its state */
	assert_string_equal(C.name[0], "a/n/w1");
	assert_string_equal(C.name[3], "b/n/w2");
	H.tick(&ctx, NULL, H.tick_ud);
	assert_int_equal(P.n, 0); /* no lease held: nothing runs */

	/* job 2: another daemon ran it 10 s ago -> not due; job 0: never -> runs
	 * as soon as its lease is acquired (not at the next tick) */
	acquire(2, "{\"last\":99990}", 7);
	assert_int_equal(P.n, 0);
	acquire(0, NULL, 0);
	assert_int_equal(P.n, 1);
	assert_int_equal(P.started[0], 0);
	assert_int_equal(wj_may_store(&R), 1);
	wj_done(&R, 0);
	/* recorded with compare-and-set, "must not exist yet" */
	assert_string_equal(C.cas_key, "a/n/w1");
	assert_string_equal(C.cas_json, "{\"last\":100000}");
	assert_int_equal(C.cas_rev, 0);
	C.cas_cb(&ctx, 0, NULL, 0, 1, C.cas_ud);

	/* 70 s later both held jobs are due; the lease of job 2 is lost while
	 * it runs: its result may not be stored, nothing is recorded */
	H.now_s += 70;
	H.tick(&ctx, NULL, H.tick_ud);
	assert_int_equal(P.n, 2);
	assert_int_equal(P.started[1], 0);
	wj_done(&R, 0);
	assert_int_equal(C.cas_rev, 1); /* the revision of our last write */
	C.cas_cb(&ctx, 0, NULL, 0, 2, C.cas_ud);
	assert_int_equal(P.n, 3);
	assert_int_equal(P.started[2], 2);
	C.valid[2] = 0;
	C.cb[2](&ctx, (lab_lease *)&C.valid[2], LAB_LEASE_LOST, C.ud[2]);
	assert_int_equal(wj_may_store(&R), 0);
	int cases = C.cases;
	wj_done(&R, LAB_EBUSY);
	assert_int_equal(C.cases, cases);
}

static void test_cluster_none(void **st)
{
	(void)st;
	make_flat(60); /* backend "none": no lease, no shared state, as before */
	assert_int_equal(wj_start(&R, 1000), 0);
	H.tick(&ctx, NULL, H.tick_ud);
	assert_int_equal(C.nl, 0);
	assert_int_equal(P.n, 1);
	assert_int_equal(wj_may_store(&R), 1);
}

static void test_group_gates(void **st)
{
	(void)st;
	make_gated();
	wj_start(&R, 60000);
	H.tick(&ctx, NULL, H.tick_ud); /* nothing recorded: all due */
	finish_all(0);
	assert_int_equal(P.n, 3);
	assert_string_equal(state("summary"), "{\"last_processed\":100000,\"last_processed_windows\":{}}");
	assert_string_equal(state("users"),
			    "{\"last_processed\":100000,\"last_processed_windows\":{\"short\":100000,"
			    "\"long\":100000}}");
	/* the group gate (1000) holds back the windows that are due by themselves */
	H.now_s += 500;
	H.tick(&ctx, NULL, H.tick_ud);
	assert_int_equal(P.n, 3);
	/* group due: only the window whose own step passed runs */
	H.now_s = 100000 + 1000;
	wj_free(&R);
	make_gated(); /* reloads what was saved */
	strcpy(H.vals[slot_of("users", 0)],
	       "{\"last_processed\":100000,\"last_processed_windows\":{\"short\":100000,\"long\":100950}}");
	wj_free(&R);
	make_gated();
	H.tick = NULL;
	wj_start(&R, 60000);
	H.tick(&ctx, NULL, H.tick_ud);
	finish_all(0);
	assert_int_equal(P.n, 5);
	assert_int_equal(P.started[3], 0);
	assert_int_equal(P.started[4], 1); /* "short"; "long" ran 50 s ago */
	assert_string_equal(state("users"),
			    "{\"last_processed\":101000,\"last_processed_windows\":{\"short\":101000,"
			    "\"long\":100950}}");
}

static void test_force_ignores_gates(void **st)
{
	(void)st;
	make_gated();
	wj_run(&R);
	finish_all(0);
	H.now_s += 1; /* no group and no window due */
	wj_run(&R);
	finish_all(0);
	assert_int_equal(P.n, 6);
	assert_string_equal(state("users"),
			    "{\"last_processed\":100001,\"last_processed_windows\":{\"short\":100001,"
			    "\"long\":100001}}");
}

static void test_norecord_and_failure(void **st)
{
	(void)st;
	make_gated();
	wj_run(&R);
	wj_done(&R, WJ_NORECORD); /* summary: no rows -> group not recorded */
	wj_done(&R, WJ_NORECORD); /* a window without rows: window not recorded, group is */
	wj_done(&R, 0);
	assert_false(R.busy);
	assert_null(state("summary"));
	assert_string_equal(state("users"),
			    "{\"last_processed\":100000,\"last_processed_windows\":{\"long\":100000}}");
	H.now_s += 2000;
	wj_run(&R);
	wj_done(&R, 0);
	wj_done(&R, LAB_EIO); /* a failed window keeps the group unrecorded */
	wj_done(&R, 0);
	assert_string_equal(state("summary"), "{\"last_processed\":102000,\"last_processed_windows\":{}}");
	assert_string_equal(state("users"),
			    "{\"last_processed\":100000,\"last_processed_windows\":{\"long\":102000}}");
}

static void test_unknown_entries_kept(void **st)
{
	(void)st;
	strcpy(H.keys[0], "a");
	strcpy(H.vals[0], "{\"last_processed\":{\"old/w\":\"T5\",\"n/w2\":\"T99999\",\"x/y\":[1,\"a/b\"]}}");
	strcpy(H.keys[1], "users");
	strcpy(H.vals[1], "{\"last_processed\":7,\"last_processed_windows\":{\"gone\":42}}");
	make_flat(3600);
	wj_run(&R);
	finish_all(0);
	assert_string_equal(state("a"), "{\"last_processed\":{\"n/w1\":\"T100000\",\"n/w2\":\"T100000\","
					"\"old/w\":\"T5\",\"x/y\":[1,\"a/b\"]}}");
	wj_free(&R);
	make_gated();
	assert_int_equal(R.groups[1].last, 7);
	wj_run(&R);
	finish_all(0);
	assert_string_equal(state("users"),
			    "{\"last_processed\":100000,\"last_processed_windows\":{\"short\":100000,"
			    "\"long\":100000,\"gone\":42}}");
}

static void test_untrusted_state(void **st)
{
	(void)st;
	strcpy(H.keys[0], "summary");
	strcpy(H.vals[0], "[1,2");
	strcpy(H.keys[1], "users");
	strcpy(H.vals[1], "{\"last_processed\":\"x\",\"last_processed_windows\":{\"short\":\"1\",\"long\":99990}}");
	make_gated();
	assert_true(R.groups[0].last == WJ_NEVER);
	assert_true(R.groups[1].last == WJ_NEVER);
	assert_true(R.jobs[1].last == WJ_NEVER);
	assert_int_equal(R.jobs[2].last, 99990);
	wj_free(&R);
	strcpy(H.keys[2], "a");
	strcpy(H.vals[2], "{\"last_processed\":{\"n/w1\":5,\"n/w2\":\"T99000\"}}");
	make_flat(3600);
	assert_true(R.jobs[0].last == WJ_NEVER);
	assert_int_equal(R.jobs[1].last, 99000);
}

/* ---- the bucket cache (window_cache.h) -------------------------------------- */

static void test_cache_plan(void **st)
{
	(void)st;
	struct wc c = { .ncols = 2 };
	struct wc_plan p;
	/* step 100, margin 30, window [1050, 2000]: first bucket 1000 (partial),
	 * complete from 1100, stable below floor(1970) = 1900 */
	wc_plan(&c, 2000, 1050, 100, 30, 0, &p);
	assert_int_equal(p.a0, 1050);
	assert_int_equal(p.a1, 2000); /* empty cache: the whole window */
	assert_true(p.b0 > p.b1);
	assert_int_equal(p.use_from, p.use_to);
	assert_int_equal(p.keep_from, 1100);
	assert_int_equal(p.keep_to, 1900);
	/* cache [1100, 1900) an hour... 300 s later: window [1350, 2300] */
	c.from = 1100;
	c.to = 1900;
	wc_plan(&c, 2300, 1350, 100, 30, 0, &p);
	assert_int_equal(p.a0, 1350);
	assert_int_equal(p.a1, 1399);
	assert_int_equal(p.use_from, 1400);
	assert_int_equal(p.use_to, 1900);
	assert_int_equal(p.b0, 1900);
	assert_int_equal(p.b1, 2300);
	assert_int_equal(p.keep_from, 1400);
	assert_int_equal(p.keep_to, 2200);
	/* forced, or a cache that does not reach back: the whole window */
	wc_plan(&c, 2300, 1350, 100, 30, 1, &p);
	assert_true(p.full && p.a1 == 2300 && p.use_from == p.use_to);
	wc_plan(&c, 2300, 950, 100, 30, 0, &p);
	assert_true(p.a0 == 950 && p.a1 == 2300 && p.use_from == p.use_to);
	/* a bigger margin than the cache's: the cached part is still used,
	 * the rest of the window is asked for */
	wc_plan(&c, 2000, 1050, 100, 500, 0, &p);
	assert_int_equal(p.use_to, 1500);
	assert_int_equal(p.b0, 1500);
	assert_int_equal(p.keep_to, 1500);
	assert_int_equal(wc_floor(-1, 100), -100);
	assert_int_equal(wc_floor(199, 100), 100);
}

static void test_cache_state(void **st)
{
	(void)st;
	struct wc c;
	const char *why;
	union wc_cell r[3];
	assert_int_equal(wc_load(&ctx, &c, "k", "fp1", 3, 0x2, 0x4, &why), 0);
	assert_null(why);
	assert_int_equal(c.n, 0);
	c.from = 100;
	c.to = 300;
	c.last_full = 90;
	c.mismatches = 2;
	r[0].i = 100, r[1].d = 0.1, r[2].s = strdup("a\"\xc3\xa9");
	assert_int_equal(wc_add(&c, r), 0);
	r[0].i = 200, r[1].d = 1e300, r[2].s = strdup("");
	assert_int_equal(wc_add(&c, r), 0);
	assert_int_equal(wc_save(&ctx, &c, "k", "fp1", 4096), 0);
	assert_string_equal(state("k"), "{\"v\":1,\"fp\":\"fp1\",\"from\":100,\"to\":300,"
					"\"last_full\":90,\"mismatches\":2,\"rows\":[[100,"
					"0.10000000000000001,\"a\\\"\xc3\xa9\"],[200,1.0000000000000001e+300,\"\"]]}");
	struct wc d;
	assert_int_equal(wc_load(&ctx, &d, "k", "fp1", 3, 0x2, 0x4, &why), 0);
	assert_null(why);
	assert_int_equal(d.n, 2);
	assert_true(wc_row(&d, 0)[1].d == 0.1 && wc_row(&d, 1)[1].d == 1e300);
	assert_string_equal(wc_row(&d, 0)[2].s, "a\"\xc3\xa9");
	assert_int_equal(d.last_full, 90);
	assert_int_equal(wc_mismatches(&c, &d, 0, 1000, NULL), 0);
	wc_row(&d, 1)[1].d = 2;
	assert_int_equal(wc_mismatches(&c, &d, 0, 1000, NULL), 1);
	assert_int_equal(wc_mismatches(&c, &d, 0, 200, NULL), 0);
	wc_free(&d);
	/* another fingerprint: rows dropped, last_full forgotten */
	assert_int_equal(wc_load(&ctx, &d, "k", "fp2", 3, 0x2, 0x4, &why), 0);
	assert_string_equal(why, "fingerprint");
	assert_true(d.n == 0 && d.from == d.to && d.last_full == 0);
	wc_free(&d);
	/* over the bound: saved without rows */
	assert_int_equal(wc_save(&ctx, &c, "k", "fp1", 10), 1);
	assert_int_equal(wc_load(&ctx, &d, "k", "fp1", 3, 0x2, 0x4, &why), 0);
	assert_true(d.n == 0 && d.from == 0 && d.to == 0 && d.mismatches == 2);
	wc_free(&d);
	wc_free(&c);
	/* untrusted values: all read as an empty cache */
	static const char *const bad[] = {
		"[]", "{\"v\":2,\"fp\":\"fp1\"}", "{\"v\":1,\"fp\":\"fp1\",\"from\":300,\"to\":100,\"rows\":[]}",
		"{\"v\":1,\"fp\":\"fp1\",\"from\":100,\"to\":300,\"rows\":[[400,1.0,\"x\"]]}",
		"{\"v\":1,\"fp\":\"fp1\",\"from\":100,\"to\":300,\"rows\":[[200,1.0,\"x\"],[100,1.0,\"y\"]]}",
		"{\"v\":1,\"fp\":\"fp1\",\"from\":100,\"to\":300,\"rows\":[[200,1.0]]}",
		"{\"v\":1,\"fp\":\"fp1\",\"from\":100,\"to\":300,\"rows\":[[200,\"1\",\"x\"]]}",
		"{\"v\":1,\"fp\":\"fp1\",\"from\":100,\"to\":300,\"rows\":[[200,1.0,\"a\\u0000b\"]]}",
		"{\"v\":1,\"fp\":\"fp1\",\"from\":100,\"to\":300,\"rows\":[[200,1.0,\"x\"],[250,1.0,7]]}",
		"not json",
	};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		assert_int_equal(f_state_set(&ctx, "k", bad[i], strlen(bad[i])), 0);
		assert_int_equal(wc_load(&ctx, &d, "k", "fp1", 3, 0x2, 0x4, &why), 0);
		assert_non_null(why);
		assert_true(d.n == 0 && d.from == d.to);
		wc_free(&d);
	}
	/* numeric rows are packed into one string */
	struct wc e = { .ncols = 3, .dmask = 0x2, .from = 100, .to = 300 };
	r[0].i = 100, r[1].d = 0.5, r[2].i = -7;
	assert_int_equal(wc_add(&e, r), 0);
	r[0].i = 250, r[1].d = 3, r[2].i = 9;
	assert_int_equal(wc_add(&e, r), 0);
	assert_int_equal(wc_save(&ctx, &e, "n", "f", 4096), 0);
	assert_string_equal(state("n"), "{\"v\":1,\"fp\":\"f\",\"from\":100,\"to\":300,"
					"\"last_full\":0,\"mismatches\":0,\"rows\":\"100,0.5,-7;250,3.0,9\"}");
	assert_int_equal(wc_load(&ctx, &d, "n", "f", 3, 0x2, 0, &why), 0);
	assert_null(why);
	assert_int_equal(d.n, 2);
	assert_int_equal(wc_mismatches(&e, &d, 0, 1000, NULL), 0);
	wc_free(&d);
	wc_free(&e);
	static const char *const badn[] = {
		"\"100,0.5\"", "\"100,0.5,1;\"", "\"100,nan,1\"", "\"100, 1,1\"", "\"100,1,1,\"",
		"\"100,1,99999999999999999999\"", "\"250,1,1;100,1,1\"", "\"300,1,1\"", "[[100,1.0,1]]",
		"\"100,-inf,1\"", "\"100,1,1x\"",
	};
	for (size_t i = 0; i < sizeof badn / sizeof *badn; i++) {
		char v[200];
		snprintf(v, sizeof v, "{\"v\":1,\"fp\":\"f\",\"from\":100,\"to\":300,\"rows\":%s}", badn[i]);
		assert_int_equal(f_state_set(&ctx, "n", v, strlen(v)), 0);
		assert_int_equal(wc_load(&ctx, &d, "n", "f", 3, 0x2, 0, &why), 0);
		assert_non_null(why);
		assert_true(d.n == 0 && d.from == d.to);
		wc_free(&d);
	}
	assert_true(wc_full_request("{\"full\":true}", 13));
	assert_false(wc_full_request("{\"full\":1}", 10));
	assert_false(wc_full_request("", 0));
	assert_false(wc_full_request("{\"full\":true", 12));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_due, setup, NULL),
		cmocka_unit_test_setup_teardown(test_tick_runs_due_jobs_and_records, setup, teardown),
		cmocka_unit_test_setup_teardown(test_failed_job_is_retried, setup, teardown),
		cmocka_unit_test_setup_teardown(test_busy_tick_dropped_run_again, setup, teardown),
		cmocka_unit_test_setup_teardown(test_force_ignores_schedule, setup, teardown),
		cmocka_unit_test_setup_teardown(test_once, setup, teardown),
		cmocka_unit_test_setup_teardown(test_once_ok_reports_flush, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stop_ends_pass, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sync_completion, setup, teardown),
		cmocka_unit_test_setup_teardown(test_group_gates, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cluster, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cluster_none, setup, teardown),
		cmocka_unit_test_setup_teardown(test_force_ignores_gates, setup, teardown),
		cmocka_unit_test_setup_teardown(test_norecord_and_failure, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unknown_entries_kept, setup, teardown),
		cmocka_unit_test_setup_teardown(test_untrusted_state, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cache_plan, setup, NULL),
		cmocka_unit_test_setup_teardown(test_cache_state, setup, NULL),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
