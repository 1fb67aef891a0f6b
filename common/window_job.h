/*
 * window_job — the windowed-job runner shared by the timings and
 * contributors plugins: it owns the schedule, the plugin owns the work.
 *
 * A plugin's work is a fixed list of jobs in groups (timings: one group per
 * processor, one job per (network, window); contributors: one group per
 * processor, one job per window or a single job).  The runner runs them in a
 * "pass", one job at a time, in the order they were added:
 *
 *   - due: a group with a period runs when it never ran or at least `period`
 *     seconds passed since its last success (the group's scalar
 *     `last_processed`); a job with an entry runs, within a due group, when
 *     its own entry is due in the same way.  A forced pass runs every job.
 *     "now" is read once, when the pass starts, and is what gets recorded.
 *   - busy / again: a pass asked for while one runs is dropped when it is a
 *     tick (the running pass covers it) and remembered when forced (run
 *     requests): one more forced pass follows the running one.
 *   - once: wj_once() runs one forced pass, flushes the state and calls
 *     lab_done() with the pass's first failure (or the flush's status).
 *   - stop: wj_stop() ends the pass after the job in flight.
 *   - state: each group is one lab_state key holding the recorded times
 *       {"last_processed":N,"<map>":{"ENTRY":T,...}}   (group with a period)
 *       {"<map>":{"ENTRY":T,...}}                     (group without)
 *     T is Unix seconds, or the text of ops->time_text when the plugin keeps
 *     times as text (timings: ISO 8601, SPEC §9.1).  Loaded state is
 *     untrusted: anything unreadable means "never ran".  Entries of jobs no
 *     longer configured (a window removed) are kept as they were read.
 *
 * A job ends with wj_done(): 0 records it (its entry, and its group once the
 * group's last job ran and none failed), WJ_NORECORD succeeds without
 * recording (a job without an entry then also keeps its group unrecorded),
 * < 0 fails it (logged by the plugin; the pass goes on, and --once reports
 * the first failure).
 *
 * Cluster mode (docs/cluster.md; only when the host's SDK 1.5 cluster
 * backend is not "none" — cluster_mode.h — and never for --once): wj_start()
 * holds one lease per job, named like its shared state: "GROUP/ENTRY" for a
 * job with an entry, "GROUP" for one without (the host puts the plugin's
 * name in front).  A job runs only on the daemon holding its lease, gated
 * by its own recorded time, the shared state {"last":T} (Unix seconds),
 * read when the lease is acquired and written (compare-and-set) when the
 * job succeeds, so a daemon taking a lease over continues where the last
 * holder stopped.  Its period is the job's (with an entry; the larger of the
 * job's and its group's) or the group's: a group's gate over jobs with
 * entries is not kept cluster-wide.  The state documents above are still
 * written locally as before.  Before storing, the plugin asks
 * wj_may_store(): 0 when the lease was lost while the job ran.
 *
 * Uses only the SDK (lab/plugin.h), json-c and common/buf; loop thread only.
 */
#ifndef LAB_COMMON_WINDOW_JOB_H
#define LAB_COMMON_WINDOW_JOB_H

#include <stddef.h>
#include <stdint.h>

#include <lab/plugin.h>

#include "buf.h"

#define WJ_NORECORD 1
#define WJ_NEVER INT64_MIN

struct wj_ops {
	/* Start job `job`: 0 = started (wj_done() follows from a later
	 * callback, never from within this call: plugin.h §3);
	 * < 0 = not started (the plugin logged why; counted as a failure). */
	int (*start)(void *ud, size_t job);
	/* Optional: recorded times as JSON strings (out: NUL-terminated) and
	 * their parser (0 or -1); NULL = Unix seconds as integers. */
	void (*time_text)(int64_t t, char out[32]);
	int (*time_parse)(const char *s, size_t len, int64_t *t);
};

struct wj_group {
	char *state_key;
	int64_t period; /* 0 = the group has no gate of its own */
	int64_t last;   /* WJ_NEVER = never */
	size_t first, n;
	struct buf *kept; /* loaded entries no job has ("NAME":VALUE,...), rewritten as read */
	int due, failed, norecord; /* the running pass */
};

struct wj_job {
	size_t group;
	char *entry; /* NULL = no gate of its own */
	int64_t period;
	int64_t last;
};

struct wj_lease; /* cluster mode (window_job.c) */

struct wj {
	lab_ctx *ctx;
	const struct wj_ops *ops;
	void *ud;
	const char *map; /* name of the entry map in the state documents */
	struct wj_group *groups;
	size_t ngroups;
	struct wj_job *jobs;
	size_t njobs;
	/* the pass */
	int busy, force, again, once, stopping;
	int64_t now;
	size_t next;   /* the job in flight, or the next to look at */
	int ran;       /* the pass found work due (logged at info, else debug) */
	int pass_rc;   /* first failure of the pass */
	struct wj_lease *cl; /* per job, cluster mode only */
};

/* `map`: the entry map's name ("last_processed", "last_processed_windows"),
 * a string that outlives the runner. */
void wj_init(struct wj *r, lab_ctx *ctx, const struct wj_ops *ops, void *ud, const char *map);
/* A group stored under lab_state key `state_key`; its jobs follow.  The
 * strings are copied.  0 or LAB_ENOMEM. */
int wj_add_group(struct wj *r, const char *state_key, int64_t period);
/* A job of the last group; `entry` NULL = none. */
int wj_add_job(struct wj *r, const char *entry, int64_t period);
/* Reads every group's state (after the jobs were added).  0 or LAB_ENOMEM. */
int wj_load(struct wj *r);
void wj_free(struct wj *r);

/* The tick timer: an unforced pass every `period_ms` (the first at once). */
int wj_start(struct wj *r, uint64_t period_ms);
void wj_run(struct wj *r); /* a forced pass (run requests) */
void wj_once(struct wj *r); /* the --once pass */
void wj_stop(struct wj *r);
/* The job in flight ended: 0, WJ_NORECORD or a negative LAB_E* error. */
void wj_done(struct wj *r, int rc);

/* 1 unless the job in flight runs under a lease that was lost (cluster
 * mode): then its result must not be stored. */
int wj_may_store(const struct wj *r);

/* The pass's time (for the plugin's queries and documents). */
static inline int64_t wj_now(const struct wj *r) { return r->now; }
/* The job in flight. */
static inline size_t wj_current(const struct wj *r) { return r->next; }
/* Whether something last done at `last` is due again at `now`. */
int wj_due(int64_t now, int64_t last, int64_t period);

#endif
