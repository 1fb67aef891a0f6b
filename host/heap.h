/* The process heap: glibc malloc tuning for a long-running daemon whose work
 * comes in bursts (a backfill, an hourly timings run) between idle periods. */
#ifndef LAB_HOST_HEAP_H
#define LAB_HOST_HEAP_H

#include <uv.h>

/* Call once, before any thread starts. */
void heap_tune(void);

/* Checks every `period_ms` whether the heap holds more than `slack` free
 * bytes and gives them back to the kernel.  The timer is unref'd: it never
 * keeps the loop alive.  heap_trim_stop() closes it (the struct must live
 * until the loop has run once more).  Zero-initialise the struct. */
struct heap_trim {
	uv_timer_t timer;
	size_t slack;
	int active;
};
int heap_trim_start(struct heap_trim *ht, uv_loop_t *loop, uint64_t period_ms, size_t slack);
void heap_trim_stop(struct heap_trim *ht);

/* Gives the free heap back to the kernel now: for a burst of frees the
 * periodic check would only see up to `period_ms` later (many clients
 * disconnecting at once). */
void heap_trim_now(void);

#endif
