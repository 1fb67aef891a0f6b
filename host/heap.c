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
#define TRIM_THRESHOLD (4u << 20)
/* Fixed, so glibc's dynamic threshold cannot creep up after a large free. */
#define MMAP_THRESHOLD (256u << 10)

static uv_timer_t trim_timer;
static int trim_active;
static size_t trim_slack;

void heap_tune(void)
{
#ifdef __GLIBC__
	mallopt(M_ARENA_MAX, ARENA_MAX);
	mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD);
	mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD);
#endif
}

static void trim_tick(uv_timer_t *t)
{
	(void)t;
#ifdef __GLIBC__
#if __GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 33)
	struct mallinfo2 mi = mallinfo2();
	size_t free_bytes = mi.fordblks;
#else
	struct mallinfo mi = mallinfo();
	size_t free_bytes = (size_t)(unsigned)mi.fordblks;
#endif
	if (free_bytes > trim_slack) {
		malloc_trim(0);
		log_kv(LAB_LOG_DEBUG, NULL, "heap trimmed", LAB_FI("free_bytes", free_bytes));
	}
#endif
}

int heap_trim_start(uv_loop_t *loop, uint64_t period_ms, size_t slack)
{
	if (trim_active)
		return 0;
	int rc = uv_timer_init(loop, &trim_timer);
	if (rc)
		return rc;
	trim_slack = slack;
	uv_timer_start(&trim_timer, trim_tick, period_ms, period_ms);
	uv_unref((uv_handle_t *)&trim_timer);
	trim_active = 1;
	return 0;
}

void heap_trim_stop(void)
{
	if (!trim_active)
		return;
	uv_timer_stop(&trim_timer);
	uv_close((uv_handle_t *)&trim_timer, NULL);
	trim_active = 0;
}
