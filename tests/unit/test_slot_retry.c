/* host/slot_retry.c: which failures are transient, the backoff delays
 * (doubling, bounded, jittered 80..120 %) and the restart timer (a real
 * libuv loop; slot_activate is a stub that counts). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <uv.h>

#include "clock.h"
#include "log.h"
#include "metrics.h"
#include "slot.h"

/* ---- stubs of what slot_retry.c calls ------------------------------------- */

static int activations;
static unsigned retries_counted;
const char metric_label_end[] = "";
void metric_add_l(struct metrics *m, enum metric_id id, double v, ...)
{
	(void)m;
	if (id == M_PLUGIN_RETRIES)
		retries_counted += (unsigned)v;
}
void log_fields(int level, const char *plugin, const char *msg, const lab_field *f, size_t n)
{
	(void)level, (void)plugin, (void)msg, (void)f, (void)n;
}
int64_t clock_now_ms(void) { return 1000000; }
uint64_t clock_monotonic_ms(void) { return (uint64_t)uv_hrtime() / 1000000; }
void slot_activate(struct slot *s)
{
	activations++;
	/* fails again at once, like a plugin whose server is still down */
	s->status = PS_FAILED;
}

/* ---- tests ----------------------------------------------------------------- */

static void test_transient(void **state)
{
	(void)state;
	int yes[] = { LAB_EIO, LAB_ETIMEDOUT, LAB_EUNAVAIL, LAB_EBUSY, LAB_ENOMEM, LAB_EQUERY,
		      LAB_ECANCELED };
	int no[] = { LAB_EINVAL, LAB_ECONFIG, LAB_EABI, LAB_ENOTSUP, LAB_EPERM, LAB_ERANGE,
		     LAB_EPARSE, LAB_ESTATE, LAB_ENOENT, LAB_EEXIST, 0, 1, -99 };
	for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++)
		assert_true(slot_error_transient(yes[i]));
	for (size_t i = 0; i < sizeof no / sizeof no[0]; i++)
		assert_false(slot_error_transient(no[i]));
}

static void test_delays(void **state)
{
	(void)state;
	/* 1 s doubling to 5 min; every jitter value stays within 80..120 % and the bound */
	uint64_t base = 1000;
	for (unsigned a = 0; a < 40; a++) {
		uint64_t want = base < 300000 ? base : 300000;
		for (uint64_t r = 0; r < 200; r += 7) {
			uint64_t d = slot_retry_delay_ms(1000, 300000, a, r * 0x9e3779b97f4a7c15u);
			assert_true(d >= want * 80 / 100);
			assert_true(d <= want * 120 / 100);
			assert_true(d <= 300000);
		}
		if (base < 300000)
			base *= 2;
	}
	/* the extremes of the jitter */
	assert_int_equal(slot_retry_delay_ms(1000, 300000, 0, 0), 800);
	assert_int_equal(slot_retry_delay_ms(1000, 300000, 0, 40), 1200);
	assert_int_equal(slot_retry_delay_ms(1000, 300000, 3, 20), 8000);
	assert_int_equal(slot_retry_delay_ms(1000, 300000, 30, 40), 300000);
	/* no overflow for a huge attempt count */
	assert_int_equal(slot_retry_delay_ms(86400000, 86400000, 4000000000u, 20), 86400000);
}

static void test_timer(void **state)
{
	(void)state;
	uv_loop_t loop;
	assert_int_equal(uv_loop_init(&loop), 0);
	struct config cfg;
	memset(&cfg, 0, sizeof cfg);
	cfg.host.retry_initial = 1;
	cfg.host.retry_max = 2;
	struct slots d;
	struct slot s;
	memset(&d, 0, sizeof d);
	memset(&s, 0, sizeof s);
	d.svc.loop = &loop;
	d.cfg = &cfg;
	d.mode = MODE_SERVE;
	d.slots = &s;
	d.n_slots = 1;
	s.d = &d;
	s.name = "p";
	s.enabled = 1;
	s.status = PS_FAILED;

	/* first restart after 0.8..1.2 s, the next ones capped at 2 s.  The
	 * timer counts from the loop's cached time: refresh it and start the
	 * clock before scheduling (under valgrind the set-up above is slow). */
	uv_update_time(&loop);
	uint64_t t0 = uv_hrtime();
	uint64_t ms = slot_retry_schedule(&s);
	assert_true(ms >= 800 && ms <= 1200);
	assert_int_equal(s.next_retry_at, 1000000 + (int64_t)ms);
	while (activations == 0)
		uv_run(&loop, UV_RUN_ONCE);
	uint64_t took = (uv_hrtime() - t0) / 1000000;
	assert_true(took + 5 >= ms);
	assert_int_equal(s.retries, 1);
	assert_int_equal(retries_counted, 1);
	assert_int_equal(s.next_retry_at, 0);
	ms = slot_retry_schedule(&s);
	assert_true(ms >= 1600 && ms <= 2000);

	/* a cancelled restart never happens; a disabled or running slot is not started */
	slot_retry_cancel(&s);
	assert_int_equal(s.next_retry_at, 0);
	uv_run(&loop, UV_RUN_NOWAIT);
	s.enabled = 0;
	assert_int_equal(slot_retry_schedule(&s), 0);
	s.enabled = 1;
	cfg.host.retry_initial = 0; /* plugin_retry.initial_delay = "0s": off */
	assert_int_equal(slot_retry_schedule(&s), 0);
	cfg.host.retry_initial = 1;
	d.mode = MODE_ONCE; /* --once: never */
	assert_int_equal(slot_retry_schedule(&s), 0);
	d.mode = MODE_SERVE;
	assert_true(slot_retry_schedule(&s) > 0);
	s.status = PS_RUNNING; /* started by something else meanwhile */
	while (s.next_retry_at)
		uv_run(&loop, UV_RUN_ONCE);
	assert_int_equal(activations, 1);

	slots_retry_close(&d);
	assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
	assert_int_equal(uv_loop_close(&loop), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_transient),
		cmocka_unit_test(test_delays),
		cmocka_unit_test(test_timer),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
