/* One loaded generation of a plugin: the lab_ctx handed to it, the
 * resources the host owns on its behalf (timers, subscriptions, in-flight
 * operations, work items) and its life cycle: init -> start|once ->
 * stop -> drain (bounded) -> destroy.  After destroy the host never calls
 * the plugin's code again; the image may then be unloaded. */
#ifndef LAB_HOST_INSTANCE_H
#define LAB_HOST_INSTANCE_H

#include <libconfig.h>
#include <pthread.h>
#include <stdint.h>
#include <uv.h>

#include "defer.h"
#include "lab/plugin.h"
#include "list.h"
#include "progress.h"
#include "work_queue.h"

struct host_services;
struct state;
struct plugin_image;

enum inst_phase {
	INST_NEW,      /* created, init not yet called */
	INST_READY,    /* init succeeded */
	INST_RUNNING,  /* start called */
	INST_ONCE,     /* once called, waiting for lab_done */
	INST_DRAINING, /* stop called, in-flight work completing */
	INST_DEAD      /* destroy called (or init failed) */
};

/* What the host keeps about a plugin across its generations, for /plugins
 * and the log filter: the slot owns it, every instance of the slot points to
 * it (so a hot reload keeps it). */
struct plugin_report {
	_Atomic int log_level;   /* plugins.NAME.log_level; -1 = the host's (read by workers) */
	int64_t last_success_ms; /* wall clock of the last storage write that succeeded; 0 = none */
	struct progress_entry progress[LAB_PROGRESS_MAX];
	unsigned n_progress;
	int series_warned; /* the metric series bound was logged */
};

struct instance;
typedef void (*instance_stopped_cb)(struct instance *inst, void *ud);

struct instance {
	lab_ctx pub; /* first: the plugin's ctx points here */
	const struct host_services *svc;
	const char *name;                /* the plugin's; outlives the instance */
	const config_setting_t *section; /* its config section, NULL: none */
	struct state *state;             /* its durable state, NULL until loaded */
	/* lab_done, or a --once run given up: reported once to the owner. */
	void (*once_done)(void *owner, int status);
	/* The plugin reported an error ("MSG" or "MSG: ERROR"): a log line at
	 * error level, or a warning with an `error` field, logged on the loop
	 * thread (lines from worker threads are only logged).  NULL: unused. */
	void (*error_report)(void *owner, const char *text);
	void *owner;
	pthread_t loop_thread; /* the thread instance_new() ran on */
	struct plugin_image *img;
	struct plugin_report *report; /* the slot's (slot_bind); NULL in tests without a slot */
	/* Keep the plugin's metric families when this instance is freed (a hot
	 * reload: the next instance registers them again). */
	int keep_metrics;
	const lab_plugin *desc;
	void *self;
	int phase;
	int callbacks_allowed;

	struct list timers; /* struct lab_timer */
	struct list subs;   /* struct lab_sub */
	struct list ops;    /* struct lab_op */
	struct list works;  /* struct lab_work */
	unsigned n_ops, n_works;
	struct work_queue wq; /* the bound on this plugin's work items on the pool */

	uv_timer_t drain_timer;
	instance_stopped_cb stopped_cb;
	void *stopped_ud;

	int once_reported;
	int once_status;
	struct deferred once_report; /* once_done runs from the loop, never inside lab_done */
};

/* Creates the instance around an opened image (ownership of img moves in).
 * `name` and `section` must outlive it; the owner sets pub.api, state and
 * once_done (slot_bind) before instance_init(). */
int instance_new(const struct host_services *svc, const char *name,
		 const config_setting_t *section, struct plugin_image *img, struct instance **out);
/* Calls init; on failure the instance is DEAD and must be freed. */
int instance_init(struct instance *inst);
int instance_start(struct instance *inst);
int instance_once(struct instance *inst);
int instance_run(struct instance *inst);
/* stop + drain (bounded by drain_ms) + destroy.  0: nothing was in flight,
 * the instance is DEAD now and cb is not called.  1: it drains; cb runs from
 * the loop once it is DEAD (never inside this call). */
int instance_stop(struct instance *inst, uint64_t drain_ms, instance_stopped_cb cb, void *ud);
/* Frees a DEAD (or never-initialised) instance and its image. Asynchronous
 * (uv handles close on the next loop turn); the loop must run afterwards. */
void instance_free(struct instance *inst);
/* The --once result (lab_done, or the host giving up the run): the first
 * one counts; once_done gets it on the next turn of the loop. */
void instance_report_once(struct instance *inst, int status);
/* May the cluster services call this plugin's callbacks now (started, not
 * yet drained)? */
int instance_cluster_gate(lab_ctx *ctx);
/* Is anything still in flight? */
int instance_busy(const struct instance *inst);
/* A log line of the plugin (any thread): hands errors to error_report. */
void instance_log_reported(struct instance *inst, int level, const char *msg, const lab_field *f,
			   size_t n);

/* Used by the host API table (hostapi.c). */
struct instance *instance_of(lab_ctx *ctx);
const char *instance_name(const struct instance *inst);
int instance_accepts_work(const struct instance *inst);

/* Resource wrappers, shared with hostapi.c. */
struct lab_timer {
	uv_timer_t h;
	struct instance *inst;
	struct list link;
	lab_timer_cb cb;
	void *ud;
	uint64_t repeat;
	int dead;
};

struct lab_sub {
	struct instance *inst;
	struct list link;
	struct broker_sub *bs;
	lab_msg_cb cb;
	void *ud;
};

enum op_kind { OP_STORAGE, OP_QUERY, OP_FLUSH };

struct lab_op {
	struct instance *inst; /* NULL once detached (cancelled) */
	struct list link;
	int kind;
	void *inner; /* struct storage_op * for OP_STORAGE, struct ch_query * for OP_QUERY */
	lab_storage_cb storage_cb;
	lab_query_cb query_cb;
	lab_rows_cb rows_cb;
	lab_done_cb done_cb;
	void *ud;
	const char *opname; /* metric label: put/get/exists/delete */
	int is_put;         /* a storage put: its success is the plugin's last success */
};

struct lab_work {
	struct work_item item;
	struct instance *inst;
	struct list link;
	lab_work_fn fn;
	lab_work_done_cb done;
	lab_work_cancel_fn cancel; /* 1.3: called instead of done once callbacks stopped */
	void *ud;
};

/* Timer/sub/op/work bookkeeping used by hostapi.c. */
int instance_timer_start(struct instance *inst, uint64_t delay, uint64_t repeat, lab_timer_cb cb,
			 void *ud, lab_timer **out);
int instance_timer_cancel(struct instance *inst, lab_timer *t);
struct lab_op *instance_op_new(struct instance *inst, int kind);
/* Called by completion wrappers: unlinks and frees the op; returns whether
 * the plugin's callback may be called (it must be called AFTER this, with
 * the saved cb/ud, then instance_op_after()). */
int instance_op_finish(struct lab_op *op, struct instance **inst_out);
void instance_op_after(struct instance *inst);
int instance_op_cancel(struct instance *inst, lab_op *op);
/* cancel (may be NULL): called on the loop instead of done when the item
 * ends after the host stopped calling back (drain timeout), before destroy. */
int instance_work_submit(struct instance *inst, lab_work_fn fn, lab_work_done_cb done,
			 lab_work_cancel_fn cancel, void *ud);
void instance_remove_sub(struct lab_sub *s);

#endif
