/* host/work_queue.c on libuv's real thread pool (4 threads): one owner
 * never has more than its bound on the pool, so another owner's work runs
 * while the first one's backlog waits; waiting items start in order; a
 * cancel ends the waiting ones with LAB_ECANCELED without running them;
 * completions never come from inside the submitting call. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include <cmocka.h>

#include "lab/plugin.h"
#include "testutil.h"
#include "work_queue.h"

#define N 6

static uv_loop_t loop;
/* atomics (workers): blocking items running now and at most; starts */
static int cur, max_seen, started, release_all;

struct job {
	struct work_item item;
	int block;  /* wait for release_all */
	int ran;    /* written by the worker, read after `after` */
	int order;  /* when it started (0, 1, ...) */
	int status; /* from after; 1 = not yet */
	int *done;  /* counts afters */
};

static void run(void *ud)
{
	struct job *j = ud;
	int c = __atomic_add_fetch(&cur, j->block, __ATOMIC_SEQ_CST);
	int m = __atomic_load_n(&max_seen, __ATOMIC_SEQ_CST);
	while (c > m && !__atomic_compare_exchange_n(&max_seen, &m, c, 0, __ATOMIC_SEQ_CST,
						     __ATOMIC_SEQ_CST))
		;
	if (j->block) /* the owner under test's items */
		j->order = __atomic_fetch_add(&started, 1, __ATOMIC_SEQ_CST);
	for (int i = 0; j->block && i < 5000 && !__atomic_load_n(&release_all, __ATOMIC_SEQ_CST); i++)
		usleep(1000);
	j->ran = 1;
	__atomic_sub_fetch(&cur, j->block, __ATOMIC_SEQ_CST);
}

static void after(void *ud, int status)
{
	struct job *j = ud;
	j->status = status;
	(*j->done)++;
}

static void submit(struct work_queue *q, struct job *j, int block, int *done)
{
	j->block = block;
	j->status = 1;
	j->ran = 0;
	j->done = done;
	assert_int_equal(work_queue_submit(q, &j->item, run, after, j), 0);
}

static int setup(void **st)
{
	(void)st;
	cur = max_seen = started = release_all = 0;
	return uv_loop_init(&loop);
}

static int teardown(void **st)
{
	(void)st;
	uv_run(&loop, UV_RUN_DEFAULT);
	return uv_loop_close(&loop);
}

static void test_bound(void **st)
{
	(void)st;
	struct work_queue a, b;
	struct job ja[N], jb = { 0 };
	int done_a = 0, done_b = 0;
	work_queue_init(&a, &loop, 2);
	work_queue_init(&b, &loop, 2);
	for (int i = 0; i < N; i++)
		submit(&a, &ja[i], 1, &done_a);
	assert_int_equal(done_a, 0); /* never from inside submit */
	assert_int_equal(a.running, 2);
	assert_int_equal(a.waiting, N - 2);
	/* a's backlog holds 2 of the 4 workers: b's item runs meanwhile. */
	submit(&b, &jb, 0, &done_b);
	tu_run_until(&loop, &done_b, 1, 3000);
	assert_int_equal(done_b, 1);
	assert_int_equal(jb.status, 0);
	assert_int_equal(done_a, 0);
	assert_int_equal(__atomic_load_n(&max_seen, __ATOMIC_SEQ_CST), 2);
	__atomic_store_n(&release_all, 1, __ATOMIC_SEQ_CST);
	tu_run_until(&loop, &done_a, N, 10000);
	assert_int_equal(done_a, N);
	for (int i = 0; i < N; i++) {
		assert_int_equal(ja[i].status, 0);
		assert_true(ja[i].ran);
	}
	/* The waiting items start only after the first two (they go to the
	 * pool in FIFO order; two workers may then start them in any order). */
	for (int i = 0; i < N; i++)
		assert_true(i < 2 ? ja[i].order < 2 : ja[i].order >= 2);
	assert_int_equal(a.running + a.waiting, 0);
	assert_int_equal(__atomic_load_n(&max_seen, __ATOMIC_SEQ_CST), 2);
}

static void test_cancel(void **st)
{
	(void)st;
	struct work_queue q;
	struct job j[4];
	int done = 0;
	work_queue_init(&q, &loop, 1);
	for (int i = 0; i < 4; i++)
		submit(&q, &j[i], i == 0, &done);
	tu_run_until(&loop, NULL, 0, 50); /* j[0] on a worker, blocked */
	work_queue_cancel(&q);
	assert_int_equal(done, 0); /* never from inside cancel */
	assert_int_equal(q.waiting, 0);
	__atomic_store_n(&release_all, 1, __ATOMIC_SEQ_CST);
	tu_run_until(&loop, &done, 4, 10000);
	assert_int_equal(done, 4);
	assert_int_equal(j[0].status, 0);
	assert_true(j[0].ran);
	for (int i = 1; i < 4; i++) {
		assert_int_equal(j[i].status, LAB_ECANCELED);
		assert_false(j[i].ran);
	}
	assert_int_equal(q.running, 0);
}

static void test_args(void **st)
{
	(void)st;
	struct work_queue q;
	struct job j = { 0 };
	work_queue_init(&q, &loop, 0); /* 0 counts as 1 */
	assert_int_equal(q.max, 1);
	assert_int_equal(work_queue_submit(&q, &j.item, NULL, after, &j), LAB_EINVAL);
	assert_int_equal(work_queue_submit(&q, &j.item, run, NULL, &j), LAB_EINVAL);
	assert_int_equal(q.running + q.waiting, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_bound, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cancel, setup, teardown),
		cmocka_unit_test_setup_teardown(test_args, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
