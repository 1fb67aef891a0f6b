#include "defer.h"

static void on_idle(uv_idle_t *h)
{
	struct defer *q = h->data;
	/* Only what was queued before this pass: an item that queues another
	 * one cannot keep the loop from polling. */
	struct list batch;
	list_init(&batch);
	if (!list_empty(&q->queue)) {
		batch.next = q->queue.next;
		batch.prev = q->queue.prev;
		batch.next->prev = &batch;
		batch.prev->next = &batch;
		list_init(&q->queue);
	}
	while (!list_empty(&batch)) {
		struct deferred *item = list_entry(batch.next, struct deferred, link);
		list_del(&item->link);
		item->fn(item);
	}
	if (list_empty(&q->queue))
		uv_idle_stop(&q->idle);
}

int defer_init(struct defer *q, uv_loop_t *loop)
{
	list_init(&q->queue);
	q->closing = 0;
	int rc = uv_idle_init(loop, &q->idle);
	q->idle.data = q;
	return rc;
}

void defer_close(struct defer *q)
{
	q->closing = 1;
	while (!list_empty(&q->queue))
		list_del(q->queue.next);
	uv_idle_stop(&q->idle);
	uv_close((uv_handle_t *)&q->idle, NULL);
}

void deferred_init(struct deferred *item, deferred_fn fn)
{
	list_init(&item->link);
	item->fn = fn;
}

void defer_push(struct defer *q, struct deferred *item)
{
	if (q->closing || !list_empty(&item->link))
		return;
	list_add_tail(&q->queue, &item->link);
	uv_idle_start(&q->idle, on_idle);
}

void defer_cancel(struct deferred *item) { list_del(&item->link); }
