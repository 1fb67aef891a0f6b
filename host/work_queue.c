/* The per-plugin bound on work items: see work_queue.h. */
#include "work_queue.h"

#include "lab/plugin.h"

static void pool_run(uv_work_t *req)
{
	struct work_item *it = req->data;
	if (!it->cancelled)
		it->run(it->ud);
}

static void to_pool(struct work_queue *q, struct work_item *it);

static struct work_item *pop(struct work_queue *q)
{
	struct work_item *it = list_entry(q->fifo.next, struct work_item, link);
	list_del(&it->link);
	q->waiting--;
	return it;
}

static void pool_after(uv_work_t *req, int status)
{
	struct work_item *it = req->data;
	struct work_queue *q = it->q;
	q->running--;
	/* The next waiting item goes to the pool before `after` runs: `after`
	 * may end the owner, and q with it. */
	while (!list_empty(&q->fifo) && q->running < q->max)
		to_pool(q, pop(q));
	it->after(it->ud, status == UV_ECANCELED || it->cancelled ? LAB_ECANCELED : 0);
}

/* uv_queue_work() fails only for a NULL work callback; pool_run is not. */
static void to_pool(struct work_queue *q, struct work_item *it)
{
	it->req.data = it;
	(void)uv_queue_work(q->loop, &it->req, pool_run, pool_after);
	q->running++;
}

void work_queue_init(struct work_queue *q, uv_loop_t *loop, size_t max)
{
	q->loop = loop;
	q->max = max ? max : 1;
	q->running = q->waiting = 0;
	list_init(&q->fifo);
}

int work_queue_submit(struct work_queue *q, struct work_item *it, work_run_fn run,
		      work_after_fn after, void *ud)
{
	it->q = q;
	it->run = run;
	it->after = after;
	it->ud = ud;
	it->cancelled = 0;
	if (!run || !after)
		return LAB_EINVAL;
	if (q->running < q->max) {
		to_pool(q, it);
		return 0;
	}
	list_add_tail(&q->fifo, &it->link);
	q->waiting++;
	return 0;
}

void work_queue_cancel(struct work_queue *q)
{
	/* Through the pool, flagged: libuv then calls `after` from the loop
	 * (UV_ECANCELED when the caller's uv_cancel catches it first). */
	while (!list_empty(&q->fifo)) {
		struct work_item *it = pop(q);
		it->cancelled = 1;
		to_pool(q, it);
	}
}
