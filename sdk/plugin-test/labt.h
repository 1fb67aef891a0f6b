/* lab-plugin-test internals (lab/plugin-test.h): one fake host instance,
 * its virtual-time event queue and the services behind its function table.
 * labt.c: life cycle, clock, event queue, work; labt_api.c: the SDK table
 * (log, config, networks, timers, broker); labt_data.c: ClickHouse rules,
 * storage, state and JSON inspection; labt_metrics.c: metrics and
 * progress. */
#ifndef LAB_PLUGIN_TEST_INTERNAL_H
#define LAB_PLUGIN_TEST_INTERNAL_H

#include <libconfig.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "lab/plugin-test.h"
#include "plugin_decls.h"
#include "progress.h"

/* Growable array of pointers. */
struct labt_vec {
	void **v;
	size_t n, cap;
};
void labti_vec_push(struct labt_vec *a, void *p);
void labti_vec_del(struct labt_vec *a, size_t i);

enum labt_ev_kind { EV_TIMER, EV_QUERY, EV_STORAGE, EV_FLUSH, EV_MSG, EV_WORK, EV_CLUSTER };

/* Everything that calls the plugin back: timers, completions of operations
 * (the lab_op handed out is the event), messages and work items.  Ordered
 * by (due, seq) on one queue. */
struct labt_ev {
	int kind;
	uint64_t due, seq;
	int queued;
	/* timers */
	lab_timer_cb timer_cb;
	uint64_t repeat;
	/* completions */
	lab_query_cb query_cb;
	lab_rows_cb rows_cb;
	lab_storage_cb storage_cb;
	lab_done_cb done_cb;
	int status;
	char *errmsg;
	char *tsv; /* a query's canned rows */
	struct buf body; /* storage get: the object; messages: the data */
	char *subject;
	/* messages: the subscription it goes to */
	struct lab_sub *sub;
	/* work */
	lab_work_fn work_fn;
	lab_work_done_cb work_done;
	lab_work_cancel_fn work_cancel; /* 1.3: called instead of done when cancelled */
	pthread_t thread;
	int thread_started;
	void *ud;
	/* cluster (1.5, labt_cluster.c): the answer to deliver */
	void (*cluster_fire)(struct labt *t, struct labt_ev *e);
	void (*cluster_free)(void *obj); /* NULL: cluster_obj is not the event's */
	void *cluster_obj;
	uint64_t rev;
};

struct lab_sub {
	struct labt *t;
	char *pattern;
	lab_msg_cb cb;
	void *ud;
};

struct labt_net {
	char *name;
	int64_t genesis;
	uint32_t sps, spe;
	char **forks;
	uint64_t *fork_epochs;
	size_t nforks;
	uint64_t *ent_lo, *ent_hi;
	char **ent_name;
	size_t nents;
};

struct labt_rule {
	char *pattern;
	int is_regex;
	void *re; /* regex_t */
	char *tsv;
	int status;
	char *message;
	uint64_t delay;
	unsigned left; /* 0 with limited: used up */
	int limited;
};

struct labt_obj {
	char *key;
	struct buf body;
	char *ctype;
};

enum labt_phase { P_NEW, P_READY, P_RUNNING, P_ONCE, P_DRAINING, P_DEAD };

struct labt {
	lab_ctx pub; /* first: the plugin's ctx */
	lab_host_api api;
	const lab_plugin *desc;
	struct plugin_decls decls;
	int have_decls;
	config_t cfg;
	int have_cfg;
	const config_setting_t *section;
	void *self;
	int phase;
	int in_callback;
	int in_work; /* an inline work function runs: only thread-safe calls */
	pthread_t loop_thread;
	char err[2048];

	int64_t wall0;  /* wall ms at mono 0 */
	uint64_t mono;  /* virtual monotonic ms */
	uint64_t seq;
	struct labt_vec queue; /* struct labt_ev *, armed timers and pending events */
	struct labt_vec timers;

	int done_called, done_status;
	uint64_t drain_ms;

	struct labt_vec nets;  /* struct labt_net * */
	struct labt_vec subs;  /* struct lab_sub * */
	struct labt_vec events; /* struct labt_obj *: key = subject */

	struct labt_vec rules; /* struct labt_rule * */
	struct labt_vec queries; /* char * */
	size_t unmatched;
	size_t batch;

	struct labt_vec objs; /* struct labt_obj *, sorted by key */
	struct labt_vec writes; /* char * keys */
	struct labt_vec sfail;  /* struct labt_rule *: status, left */
	uint64_t storage_delay;

	struct labt_vec state; /* struct labt_obj *: key, body = JSON */
	size_t flushes;
	int flush_fail;
	unsigned flush_fail_n;

	int work_mode;
	size_t works, works_open;
	struct labt_vec held; /* struct labt_ev *: LABT_WORK_HOLD items not released yet */
	size_t work_cancels;

	struct metrics *metrics; /* the host's registry (host/metrics.c), this plugin's families */
	int series_warned;
	struct buf metrics_text;
	struct progress_entry progress[LAB_PROGRESS_MAX];
	unsigned n_progress;

	int log_level, verbose;
	/* cluster (1.5, labt_cluster.c) */
	struct labt_vec leases;  /* struct lab_lease * */
	struct labt_vec claims;  /* struct lab_claim *: held */
	struct labt_vec cl_done; /* char *: completed claim names */
	struct labt_vec cl_rules; /* struct labt_obj *: key = name, body = status text */
	struct labt_vec shared;  /* struct labt_obj *: key, body = JSON, ctype = revision text */
	struct labt_vec cl_refused; /* char *: lease names another daemon holds */
	char *cl_backend;           /* labt_cluster_backend(); NULL = "none" */

	struct labt_vec logs; /* char * */
	struct labt_vec strs; /* char * owned results of labt_json */

	/* HTTP (1.4, labt_http.c) */
	struct labt_vec http_routes;  /* struct labt_route * */
	struct labt_vec http_reqs;    /* struct labt_req *: every injected request */
	struct labt_vec http_streams; /* lab_stream *: kept until labt_free */
};

/* The fake host behind a ctx; aborts on a foreign ctx. */
struct labt *labti_of(lab_ctx *ctx);
/* Abort the test: "lab-plugin-test: FN: WHY". */
void labti_die(const char *fn, const char *why) __attribute__((noreturn));
/* Abort unless on the test's thread (a loop-only SDK function). */
void labti_loop_only(struct labt *t, const char *fn);
char *labti_strdup(const char *s);
char *labti_strndup(const char *s, size_t n);

/* Queue an event (due = now + delay); a new event gets the next seq. */
struct labt_ev *labti_ev_new(struct labt *t, int kind);
void labti_ev_queue(struct labt *t, struct labt_ev *e, uint64_t delay);
/* Take an event off the queue (and the timers) and free it. */
void labti_ev_drop(struct labt *t, struct labt_ev *e);
void labti_ev_free(struct labt_ev *e);
/* Whether the plugin may start operations (running, once, draining). */
int labti_accepts_ops(const struct labt *t);

/* The SDK table (labt_api.c), the ClickHouse/storage/state services
 * (labt_data.c). */
void labti_api_fill(lab_host_api *api);
void labti_log_add(struct labt *t, int level, const char *msg, const lab_field *f, size_t n);
int labti_subject_match(const char *pattern, const char *subject);
void labti_deliver(struct labt *t, const char *subject, const void *data, size_t len);
void labti_data_free(struct labt *t);
/* Metrics and progress (labt_metrics.c): the registry made by labt_new,
 * freed by labt_free. */
void labti_metrics_new(struct labt *t);
void labti_metrics_free(struct labt *t);
int labti_metric_register(struct labt *t, int type, const char *name, const char *help,
			  const char *const *labels, lab_metric **out);
int labti_metric_update(struct labt *t, lab_metric *metric, int op, double v,
			const char *const *values);
int labti_progress(struct labt *t, const char *what, double done, double total, double per_second);
void labti_nets_free(struct labt *t);
void labti_cluster_fill(lab_host_api *api);
void labti_cluster_free(struct labt *t);
int labti_query(struct labt *t, const char *sql, const lab_param *params, size_t n,
	       unsigned flags, lab_rows_cb on_rows, lab_query_cb cb, void *ud, lab_op **out);
void labti_query_fire(struct labt *t, struct labt_ev *e);
int labti_storage_op(struct labt *t, int which, const char *key, const void *data, size_t len,
		    const char *ctype, lab_storage_cb cb, void *ud, lab_op **out);
void labti_storage_fire(struct labt *t, struct labt_ev *e);
int labti_state_get(struct labt *t, const char *key, const char **json, size_t *len);
int labti_state_set_(struct labt *t, const char *key, const char *json, size_t len);
int labti_state_delete_(struct labt *t, const char *key);
/* A flush (counted; may be made to fail): 0 or the injected status. */
int labti_state_flush_now(struct labt *t);

enum { LABT_PUT, LABT_GET, LABT_EXISTS, LABT_DELETE };

/* HTTP (labt_http.c): the SDK members, and the plugin's stop (routes go,
 * open streams get on_close(LAB_ECANCELED)); free at labt_free. */
int labti_http_route(struct labt *t, const char *method, const char *pattern, lab_http_cb cb,
		     void *ud, lab_route **out);
const char *labti_http_method(const lab_http_req *r);
const char *labti_http_path(const lab_http_req *r);
const char *labti_http_query(const lab_http_req *r, const char *name);
const char *labti_http_header(const lab_http_req *r, const char *name);
int labti_http_respond(struct labt *t, lab_http_req *req, const lab_http_response *a);
int labti_stream_open(struct labt *t, lab_http_req *req, int kind, const char *const *headers,
		      lab_stream_msg_cb on_msg, lab_stream_close_cb on_close, void *ud,
		      lab_stream **out);
int labti_stream_send(struct labt *t, lab_stream *s, const char *event, const char *id,
		      const void *data, size_t len);
int labti_stream_close(struct labt *t, lab_stream *s, int code);
void labti_http_stop(struct labt *t);
void labti_http_free(struct labt *t);

#endif
