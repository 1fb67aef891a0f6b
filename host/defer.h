/* Deferred completions: the one place where the host runs a completion
 * "later, on the loop" instead of inside the call that caused it, so that
 * no plugin callback ever runs before the call that registered it returns
 * (lab/plugin.h, "Completion").  Items are embedded in their owner's struct
 * (no allocation, no failure); a queued item runs once, on the next turn of
 * the loop, in the order queued.  Loop thread only. */
#ifndef LAB_HOST_DEFER_H
#define LAB_HOST_DEFER_H

#include <uv.h>

#include "list.h"

struct deferred;
typedef void (*deferred_fn)(struct deferred *item);

struct deferred {
	struct list link; /* self-linked when not queued */
	deferred_fn fn;
};

struct defer {
	uv_idle_t idle; /* runs only while the queue is not empty */
	struct list queue;
	int closing;
};

/* The queue lives in the caller's memory; defer_close() before the loop's
 * last run, then the memory may go once that run is over. */
int defer_init(struct defer *q, uv_loop_t *loop);
void defer_close(struct defer *q);

/* Zero-initialised items must be prepared once with deferred_init(). */
void deferred_init(struct deferred *item, deferred_fn fn);
/* Queues `item` (no-op if it is queued already, or the queue is closing). */
void defer_push(struct defer *q, struct deferred *item);
/* Takes `item` off the queue if it is there (its owner is going away). */
void defer_cancel(struct deferred *item);

#endif
