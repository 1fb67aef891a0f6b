/* The per-plugin bound on lab_work_submit(): at most `max` work items of
 * one owner (a plugin instance) are on libuv's thread pool at once, so one
 * plugin cannot occupy every worker (the pool also runs the host's gzip and
 * file I/O, and every other plugin's work).  Items past the bound wait in
 * the owner's FIFO and go to the pool, in order, as earlier ones finish;
 * submitting never fails for being over the bound.  Loop thread only,
 * except `run`, which runs on a worker. */
#ifndef LAB_HOST_WORK_QUEUE_H
#define LAB_HOST_WORK_QUEUE_H

#include <stddef.h>
#include <uv.h>

#include "list.h"

typedef void (*work_run_fn)(void *ud);
/* On the loop, after run returned: status 0, or LAB_ECANCELED when the
 * item was cancelled before it started (run was not called). */
typedef void (*work_after_fn)(void *ud, int status);

struct work_queue;

/* One item; owned by the caller, who must keep it until `after`. */
struct work_item {
	uv_work_t req; /* uv_cancel() works on it once it is on the pool */
	struct work_queue *q;
	struct list link; /* in the waiting FIFO */
	work_run_fn run;
	work_after_fn after;
	void *ud;
	int cancelled; /* set on the loop before the item goes to the pool */
};

struct work_queue {
	uv_loop_t *loop;
	size_t max;     /* items on the pool at once */
	size_t running; /* on the pool (queued there or running) */
	size_t waiting; /* in the FIFO below */
	struct list fifo; /* struct work_item.link */
};

/* max: work.max_per_plugin (0 counts as 1). */
void work_queue_init(struct work_queue *q, uv_loop_t *loop, size_t max);

/* Runs it->run(ud) on the pool now or, past the bound, once earlier items
 * of this queue finished; `after` follows on the loop (never from inside
 * this call).  0, or LAB_EINVAL without run or after. */
int work_queue_submit(struct work_queue *q, struct work_item *it, work_run_fn run,
		      work_after_fn after, void *ud);

/* Cancels every waiting item: each still gets `after` with LAB_ECANCELED,
 * from the loop, without its `run`.  Items already on the pool are the
 * caller's to uv_cancel() (their `req`), as for any libuv work request. */
void work_queue_cancel(struct work_queue *q);

#endif
