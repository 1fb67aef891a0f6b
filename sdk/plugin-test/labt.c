/* lab-plugin-test: the fake host's life cycle, virtual clock, event queue
 * and work items (lab/plugin-test.h).  Every plugin callback is an event on
 * one queue ordered by (due, seq) and runs only from labt_pump/labt_advance
 * (and the driver calls that pump), so none runs before the SDK call that
 * registered it has returned. */
#include <dlfcn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "labt.h"

/* 2025-01-01T00:00:00Z: a fixed start, so documents are reproducible. */
#define LABT_WALL0 1735689600000LL
/* A pump that runs this many callbacks without the queue emptying is a
 * plugin re-arming itself forever (a 0 ms repeating timer). */
#define LABT_PUMP_MAX 1000000

void labti_die(const char *fn, const char *why)
{
	fprintf(stderr, "lab-plugin-test: %s: %s\n", fn, why);
	abort();
}

char *labti_strndup(const char *s, size_t n)
{
	char *p = malloc(n + 1);
	if (!p)
		labti_die("malloc", "out of memory");
	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

char *labti_strdup(const char *s) { return labti_strndup(s, strlen(s)); }

void labti_vec_push(struct labt_vec *a, void *p)
{
	if (a->n == a->cap) {
		size_t cap = a->cap ? a->cap * 2 : 8;
		void **v = realloc(a->v, cap * sizeof *v);
		if (!v)
			labti_die("realloc", "out of memory");
		a->v = v;
		a->cap = cap;
	}
	a->v[a->n++] = p;
}

void labti_vec_del(struct labt_vec *a, size_t i)
{
	memmove(a->v + i, a->v + i + 1, (a->n - i - 1) * sizeof *a->v);
	a->n--;
}

static int vec_find(const struct labt_vec *a, const void *p)
{
	for (size_t i = 0; i < a->n; i++)
		if (a->v[i] == p)
			return (int)i;
	return -1;
}

struct labt *labti_of(lab_ctx *ctx)
{
	struct labt *t = (struct labt *)ctx;
	if (!ctx || ctx->api != &t->api)
		labti_die("ctx", "not a lab-plugin-test context");
	return t;
}

void labti_loop_only(struct labt *t, const char *fn)
{
	if (t->in_work || !pthread_equal(pthread_self(), t->loop_thread))
		labti_die(fn, "called from a work function: only the thread-safe SDK functions "
			     "(lab/plugin.h §4) may be");
}

/* ---- events ------------------------------------------------------------- */

struct labt_ev *labti_ev_new(struct labt *t, int kind)
{
	struct labt_ev *e = calloc(1, sizeof *e);
	if (!e)
		labti_die("calloc", "out of memory");
	e->kind = kind;
	return e;
}

void labti_ev_queue(struct labt *t, struct labt_ev *e, uint64_t delay)
{
	e->due = t->mono + delay;
	e->seq = ++t->seq;
	e->queued = 1;
	labti_vec_push(&t->queue, e);
}

static void ev_unqueue(struct labt *t, struct labt_ev *e)
{
	int i = vec_find(&t->queue, e);
	if (i >= 0)
		labti_vec_del(&t->queue, (size_t)i);
	e->queued = 0;
}

void labti_ev_free(struct labt_ev *e)
{
	if (!e)
		return;
	if (e->thread_started)
		pthread_join(e->thread, NULL);
	if (e->cluster_free)
		e->cluster_free(e->cluster_obj);
	free(e->errmsg);
	free(e->tsv);
	free(e->subject);
	buf_free(&e->body);
	free(e);
}

void labti_ev_drop(struct labt *t, struct labt_ev *e)
{
	int i;
	ev_unqueue(t, e);
	if ((i = vec_find(&t->timers, e)) >= 0)
		labti_vec_del(&t->timers, (size_t)i);
	if (e->kind == EV_WORK)
		t->works_open--;
	labti_ev_free(e);
}

/* The next event due at or before `limit`, or NULL. */
static struct labt_ev *next_due(struct labt *t, uint64_t limit)
{
	struct labt_ev *best = NULL;
	for (size_t i = 0; i < t->queue.n; i++) {
		struct labt_ev *e = t->queue.v[i];
		if (e->due <= limit && (!best || e->due < best->due ||
					(e->due == best->due && e->seq < best->seq)))
			best = e;
	}
	return best;
}

int labti_accepts_ops(const struct labt *t)
{
	return t->phase == P_RUNNING || t->phase == P_ONCE || t->phase == P_DRAINING ||
	       t->phase == P_READY;
}

static void *work_thread(void *ud)
{
	struct labt_ev *e = ud;
	e->work_fn(e->ud);
	return NULL;
}

int labti_work_submit_(struct labt *t, lab_work_fn fn, lab_work_done_cb done,
		       lab_work_cancel_fn cancel, void *ud);
int labti_work_submit_(struct labt *t, lab_work_fn fn, lab_work_done_cb done,
		       lab_work_cancel_fn cancel, void *ud)
{
	if (!fn)
		return LAB_EINVAL;
	if (!labti_accepts_ops(t))
		return LAB_ECANCELED;
	struct labt_ev *e = labti_ev_new(t, EV_WORK);
	e->work_fn = fn;
	e->work_done = done;
	e->work_cancel = cancel;
	e->ud = ud;
	if (t->work_mode == LABT_WORK_HOLD) { /* waits for labt_work_release */
		t->works++;
		t->works_open++;
		labti_vec_push(&t->held, e);
		return 0;
	}
	if (t->work_mode == LABT_WORK_THREAD) {
		if (pthread_create(&e->thread, NULL, work_thread, e) != 0) {
			free(e);
			return LAB_ENOMEM;
		}
		e->thread_started = 1;
	}
	t->works++;
	t->works_open++;
	labti_ev_queue(t, e, 0);
	return 0;
}

/* Runs one event taken off the queue; frees it unless it is a repeating
 * timer that stays armed. */
static void fire(struct labt *t, struct labt_ev *e)
{
	lab_ctx *ctx = &t->pub;
	ev_unqueue(t, e);
	if (t->phase == P_DEAD)
		labti_die("pump", "an event is left after destroy (lab-plugin-test bug)");
	t->in_callback++;
	switch (e->kind) {
	case EV_TIMER:
		e->timer_cb(ctx, (lab_timer *)e, e->ud);
		if (vec_find(&t->timers, e) < 0) { /* cancelled from its callback */
			labti_ev_free(e);
		} else if (e->repeat) {
			labti_ev_queue(t, e, e->repeat);
		} else {
			labti_vec_del(&t->timers, (size_t)vec_find(&t->timers, e));
			labti_ev_free(e);
		}
		break;
	case EV_QUERY:
		labti_query_fire(t, e);
		labti_ev_free(e);
		break;
	case EV_STORAGE:
		labti_storage_fire(t, e);
		labti_ev_free(e);
		break;
	case EV_FLUSH:
		if (e->done_cb)
			e->done_cb(ctx, e->status, e->ud);
		labti_ev_free(e);
		break;
	case EV_MSG:
		if (vec_find(&t->subs, e->sub) >= 0)
			e->sub->cb(ctx, e->subject, e->body.data, e->body.len, e->sub->ud);
		labti_ev_free(e);
		break;
	case EV_CLUSTER:
		e->cluster_fire(t, e);
		labti_ev_free(e);
		break;
	case EV_WORK:
		if (e->thread_started) {
			pthread_join(e->thread, NULL);
			e->thread_started = 0;
		} else {
			t->in_work = 1;
			e->work_fn(e->ud);
			t->in_work = 0;
		}
		t->works_open--;
		if (e->work_done)
			e->work_done(ctx, 0, e->ud);
		labti_ev_free(e);
		break;
	}
	t->in_callback--;
}

static size_t run_until(struct labt *t, uint64_t limit)
{
	size_t n = 0;
	struct labt_ev *e;
	while ((e = next_due(t, limit))) {
		if (e->due > t->mono)
			t->mono = e->due;
		fire(t, e);
		if (++n > LABT_PUMP_MAX)
			labti_die("pump", "more than a million callbacks without the queue emptying "
					 "(a 0 ms repeating timer?)");
	}
	return n;
}

size_t labt_pump(labt *t) { return run_until(t, t->mono); }

size_t labt_advance(labt *t, uint64_t ms)
{
	uint64_t target = t->mono + ms;
	size_t n = run_until(t, target);
	t->mono = target;
	return n + labt_pump(t);
}

int64_t labt_next_due(const labt *t)
{
	struct labt_ev *e = next_due((struct labt *)t, UINT64_MAX);
	return e ? (int64_t)(e->due - t->mono) : -1;
}

size_t labt_timers(const labt *t) { return t->timers.n; }

void labt_set_now(labt *t, int64_t unix_ms) { t->wall0 = unix_ms - (int64_t)t->mono; }
int64_t labt_now_ms(const labt *t) { return t->wall0 + (int64_t)t->mono; }
void labt_work_mode(labt *t, int mode) { t->work_mode = mode; }
size_t labt_work_submitted(const labt *t) { return t->works; }
size_t labt_work_cancelled(const labt *t) { return t->work_cancels; }

size_t labt_work_release(labt *t)
{
	size_t n = t->held.n;
	for (size_t i = 0; i < n; i++)
		labti_ev_queue(t, t->held.v[i], 0); /* in submission order (seq) */
	t->held.n = 0;
	return n;
}

/* Work left when the drain ended (held, or due past the drain timeout):
 * lab_work_submit_cancel's `cancel` runs instead of `done` (1.3); plain
 * lab_work_submit items go without a call back. */
static void cancel_work(struct labt *t)
{
	labt_work_release(t);
	for (size_t i = 0; i < t->queue.n; i++) {
		struct labt_ev *e = t->queue.v[i];
		if (e->kind != EV_WORK || !e->work_cancel)
			continue;
		if (e->thread_started) { /* fn runs: cancel follows its return */
			pthread_join(e->thread, NULL);
			e->thread_started = 0;
		}
		lab_work_cancel_fn cancel = e->work_cancel;
		e->work_cancel = NULL;
		t->work_cancels++;
		t->in_callback++;
		cancel(e->ud);
		t->in_callback--;
	}
}
void labt_drain_timeout(labt *t, uint64_t ms) { t->drain_ms = ms; }
void labt_log_level(labt *t, int level) { t->log_level = level; }
void *labt_self(const labt *t) { return t->self; }
lab_ctx *labt_ctx(labt *t) { return &t->pub; }
const char *labt_error(const labt *t) { return t->err; }

int labt_done_called(const labt *t, int *status)
{
	if (t->done_called && status)
		*status = t->done_status;
	return t->done_called;
}

/* ---- set-up ------------------------------------------------------------- */

labt *labt_new(const lab_plugin *plugin)
{
	struct labt *t = calloc(1, sizeof *t);
	if (!t)
		labti_die("labt_new", "out of memory");
	labti_api_fill(&t->api);
	t->pub.api = &t->api;
	t->desc = plugin;
	t->wall0 = LABT_WALL0;
	t->drain_ms = 30000;
	t->batch = 1000;
	labti_metrics_new(t);
	t->loop_thread = pthread_self();
	const char *v = getenv("LABT_VERBOSE");
	t->verbose = v && *v && strcmp(v, "0") != 0;
	return t;
}

const lab_plugin *labt_dlopen(const char *path)
{
	void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (!h) {
		fprintf(stderr, "lab-plugin-test: cannot load %s: %s\n", path, dlerror());
		return NULL;
	}
	const lab_plugin *(*entry)(void);
	*(void **)&entry = dlsym(h, LAB_PLUGIN_ENTRY_SYMBOL);
	if (!entry) {
		fprintf(stderr, "lab-plugin-test: %s has no %s\n", path, LAB_PLUGIN_ENTRY_SYMBOL);
		return NULL;
	}
	return entry();
}

static void set_err(struct labt *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void set_err(struct labt *t, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(t->err, sizeof t->err, fmt, ap);
	va_end(ap);
}

/* The checks of the real loader (lab/plugin.h §1) against this fake host. */
static int check_desc(struct labt *t)
{
	const lab_plugin *d = t->desc;
	if (!d)
		return set_err(t, "no plugin descriptor"), LAB_EABI;
	if (d->magic != LAB_PLUGIN_MAGIC)
		return set_err(t, "bad magic: not a labd plugin"), LAB_EABI;
	if (d->abi_major != LAB_ABI_MAJOR || d->abi_minor > LABT_ABI_MINOR)
		return set_err(t, "plugin '%s' needs ABI %u.%u; lab-plugin-test implements %d.%d",
			       d->name ? d->name : "?", d->abi_major, d->abi_minor, LAB_ABI_MAJOR,
			       LABT_ABI_MINOR),
		       LAB_EABI;
	if (d->size < LAB_PLUGIN_SIZE_V1_0 || !d->name || !d->init || !d->start || !d->stop ||
	    !d->destroy)
		return set_err(t, "descriptor too small or without init/start/stop/destroy"),
		       LAB_EABI;
	return 0;
}

static int load_decls(struct labt *t)
{
	const lab_plugin *d = t->desc;
	if (t->have_decls)
		return 0;
	int has_opts = d->size >= offsetof(lab_plugin, option_size) + sizeof(uint32_t) &&
		       d->options;
	if (has_opts && d->settings)
		return set_err(t, "plugin declares both settings and options"), LAB_EABI;
	if (has_opts) {
		if (d->option_size < LAB_OPTION_SIZE_V1_1)
			return set_err(t, "option_size %u too small", d->option_size), LAB_EABI;
		if (plugin_decls_of_options(&t->decls, d->options, d->option_size,
					    PLUGIN_DECL_MAX_DEPTH) < 0)
			labti_die("labt_init", "out of memory");
	} else {
		plugin_decls_of_settings(&t->decls, d->settings);
	}
	t->have_decls = 1;
	return 0;
}

static int validate(struct labt *t)
{
	struct plugin_conf pc = { 0 };
	pc.name = (char *)t->desc->name;
	pc.section = t->section;
	if (config_validate_plugin_decls(NULL, &pc, &t->decls, t->err, sizeof t->err) < 0)
		return LAB_ECONFIG;
	return 0;
}

int labt_config(labt *t, const char *section)
{
	int rc;
	t->err[0] = '\0';
	if (t->phase != P_NEW)
		return set_err(t, "labt_config after labt_init"), LAB_ESTATE;
	if ((rc = check_desc(t)) < 0 || (rc = load_decls(t)) < 0)
		return rc;
	if (t->have_cfg)
		config_destroy(&t->cfg);
	config_init(&t->cfg);
	t->have_cfg = 1;
	t->section = NULL;
	struct buf b = BUF_INIT;
	/* The wrapper shares the section's first line: lines are the section's. */
	buf_printf(&b, "plugins = { %s = { %s\n}; };\n", t->desc->name, section ? section : "");
	if (!config_read_string(&t->cfg, b.data ? b.data : "")) {
		set_err(t, "labt_config: line %d: %s", config_error_line(&t->cfg),
			config_error_text(&t->cfg));
		buf_free(&b);
		return LAB_ECONFIG;
	}
	buf_free(&b);
	struct buf path = BUF_INIT;
	buf_printf(&path, "plugins.%s", t->desc->name);
	t->section = config_lookup(&t->cfg, path.data);
	buf_free(&path);
	return validate(t);
}

/* ---- life cycle --------------------------------------------------------- */

int labt_init(labt *t)
{
	int rc;
	if (t->phase != P_NEW)
		return LAB_ESTATE;
	if ((rc = check_desc(t)) < 0 || (rc = load_decls(t)) < 0)
		return rc;
	if (!t->have_cfg && (rc = validate(t)) < 0)
		return rc;
	t->in_callback++;
	rc = t->desc->init(&t->pub, &t->self);
	t->in_callback--;
	if (rc < 0) {
		t->phase = P_DEAD; /* the host calls nothing else after a failed init */
		if (!t->err[0])
			set_err(t, "init: %s", lab_strerror(rc));
		return rc;
	}
	t->phase = P_READY;
	return 0;
}

static int call(labt *t, int (*fn)(void *), int from, int to)
{
	if (!fn)
		return LAB_ENOTSUP;
	if (t->phase != from)
		return LAB_ESTATE;
	t->phase = to;
	t->in_callback++;
	int rc = fn(t->self);
	t->in_callback--;
	return rc;
}

int labt_start(labt *t)
{
	int rc = call(t, t->desc->start, P_READY, P_RUNNING);
	labt_pump(t);
	return rc;
}

int labt_once(labt *t)
{
	int rc = call(t, t->desc->once, P_READY, P_ONCE);
	if (rc < 0 && rc != LAB_ENOTSUP && rc != LAB_ESTATE && !t->done_called) {
		t->done_called = 1; /* labd counts a failed once() as the run's result */
		t->done_status = rc;
	}
	labt_pump(t);
	return rc;
}

int labt_run(labt *t)
{
	if (!t->desc->run)
		return LAB_ENOTSUP;
	if (t->phase != P_RUNNING)
		return LAB_ESTATE;
	t->in_callback++;
	int rc = t->desc->run(t->self);
	t->in_callback--;
	labt_pump(t);
	return rc;
}

int labt_once_wait(labt *t, uint64_t max_ms, int *status)
{
	uint64_t end = t->mono + max_ms;
	labt_pump(t);
	while (!t->done_called) {
		struct labt_ev *e = next_due(t, end);
		if (!e)
			break;
		labt_advance(t, e->due - t->mono);
	}
	if (!t->done_called) {
		t->mono = end > t->mono ? end : t->mono;
		return LAB_ETIMEDOUT;
	}
	if (status)
		*status = t->done_status;
	return 0;
}

/* Cluster answers are not waited for by a drain: labd drops them when the
 * plugin stops. */
static int is_op(const struct labt_ev *e)
{
	return e->kind != EV_TIMER && e->kind != EV_MSG && e->kind != EV_CLUSTER;
}

static int ops_pending(const struct labt *t)
{
	for (size_t i = 0; i < t->queue.n; i++)
		if (is_op(t->queue.v[i]))
			return 1;
	return 0;
}

/* Timers and subscriptions go when stop returns (lab/plugin.h §2). */
static void remove_timers_subs(struct labt *t)
{
	while (t->timers.n)
		labti_ev_drop(t, t->timers.v[t->timers.n - 1]);
	for (size_t i = t->queue.n; i-- > 0;) {
		struct labt_ev *e = t->queue.v[i];
		if (e->kind == EV_MSG)
			labti_ev_drop(t, e);
	}
	for (size_t i = 0; i < t->subs.n; i++) {
		struct lab_sub *s = t->subs.v[i];
		free(s->pattern);
		free(s);
	}
	t->subs.n = 0;
}

int labt_stop(labt *t)
{
	int rc = 0;
	if (t->phase == P_RUNNING || t->phase == P_ONCE) {
		t->phase = P_DRAINING;
		t->in_callback++;
		rc = t->desc->stop(t->self);
		t->in_callback--;
		remove_timers_subs(t);
		labti_http_stop(t); /* as labd: routes go, streams get LAB_ECANCELED */
		uint64_t end = t->mono + t->drain_ms;
		labt_pump(t);
		while (ops_pending(t)) {
			struct labt_ev *e = next_due(t, end);
			if (!e)
				break;
			labt_advance(t, e->due - t->mono);
			remove_timers_subs(t); /* started while draining: never fire */
		}
		/* Past the drain timeout: cancelled without calling back (work
		 * with a cancel callback gets it). */
		cancel_work(t);
		while (t->queue.n)
			labti_ev_drop(t, t->queue.v[t->queue.n - 1]);
		labti_state_flush_now(t);
	} else if (t->phase != P_READY) {
		return LAB_ESTATE;
	}
	remove_timers_subs(t);
	labti_http_stop(t);
	cancel_work(t); /* never started: submitted in init */
	while (t->queue.n)
		labti_ev_drop(t, t->queue.v[t->queue.n - 1]);
	t->phase = P_DEAD;
	t->in_callback++;
	t->desc->destroy(t->self);
	t->in_callback--;
	t->self = NULL;
	return rc;
}

const char *labt_describe(labt *t)
{
	if (!t->desc->describe || (t->phase != P_READY && t->phase != P_RUNNING))
		return NULL;
	return t->desc->describe(t->self);
}

void labt_free(labt *t)
{
	if (!t)
		return;
	if (t->phase != P_NEW && t->phase != P_DEAD)
		labt_stop(t);
	remove_timers_subs(t);
	while (t->queue.n)
		labti_ev_drop(t, t->queue.v[t->queue.n - 1]);
	for (size_t i = 0; i < t->held.n; i++) /* only when labt_stop was not reached */
		labti_ev_free(t->held.v[i]);
	free(t->held.v);
	labti_metrics_free(t);
	labti_http_free(t);
	labti_data_free(t);
	labti_cluster_free(t);
	labti_nets_free(t);
	for (size_t i = 0; i < t->logs.n; i++)
		free(t->logs.v[i]);
	for (size_t i = 0; i < t->strs.n; i++)
		free(t->strs.v[i]);
	free(t->logs.v);
	free(t->strs.v);
	free(t->queue.v);
	free(t->timers.v);
	free(t->subs.v);
	if (t->have_decls)
		plugin_decls_free(&t->decls);
	if (t->have_cfg)
		config_destroy(&t->cfg);
	free(t);
}
