/* Heap tuning (see heap.h).  glibc only; elsewhere these are no-ops. */
#include "heap.h"

#include <stddef.h>

#ifdef __GLIBC__
#include <malloc.h>
#endif

#include "log.h"

/* Work items run on the libuv thread pool and (with nats) on nats threads:
 * each would get its own malloc arena, and each arena keeps its own freed
 * memory dirty.  Two arenas are plenty for a single-loop daemon. */
#define ARENA_MAX 2
/* Freeing a document's buffers (gzip state, bodies) must not hand the top of
 * the heap back to the kernel every time, only to fault it in again for the
 * next document: trim in bulk when idle instead (heap_trim_start). */
#define TRIM_THRESHOLD (32u << 20)
/* Fixed, so glibc's dynamic threshold cannot creep up after a large free. */
#define MMAP_THRESHOLD (256u << 10)

void heap_tune(void)
{
#ifdef __GLIBC__
	mallopt(M_ARENA_MAX, ARENA_MAX);
	mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD);
	mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD);
#endif
}

void heap_trim_now(void)
{
#ifdef __GLIBC__
	malloc_trim(0);
#endif
}

static void trim_tick(uv_timer_t *t)
{
	struct heap_trim *ht = t->data;
	(void)ht;
#ifdef __GLIBC__
#if __GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 33)
	struct mallinfo2 mi = mallinfo2();
	size_t free_bytes = mi.fordblks;
#else
	struct mallinfo mi = mallinfo();
	size_t free_bytes = (size_t)(unsigned)mi.fordblks;
#endif
	if (free_bytes > ht->slack) {
		malloc_trim(0);
		log_kv(LAB_LOG_DEBUG, NULL, "heap trimmed", LAB_FI("free_bytes", free_bytes));
	}
#endif
}

int heap_trim_start(struct heap_trim *ht, uv_loop_t *loop, uint64_t period_ms, size_t slack)
{
	if (ht->active)
		return 0;
	int rc = uv_timer_init(loop, &ht->timer);
	if (rc)
		return rc;
	ht->slack = slack;
	ht->timer.data = ht;
	uv_timer_start(&ht->timer, trim_tick, period_ms, period_ms);
	uv_unref((uv_handle_t *)&ht->timer);
	ht->active = 1;
	return 0;
}

void heap_trim_stop(struct heap_trim *ht)
{
	if (!ht->active)
		return;
	uv_timer_stop(&ht->timer);
	uv_close((uv_handle_t *)&ht->timer, NULL);
	ht->active = 0;
}
