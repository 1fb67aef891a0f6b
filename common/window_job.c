/*
 * window_job — the windowed-job runner (window_job.h).
 */
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "buf.h"
#include "cluster_mode.h"
#include "window_job.h"

#ifndef JSON_C_TO_STRING_NOSLASHESCAPE
#define JSON_C_TO_STRING_NOSLASHESCAPE 0
#endif

/* settle(): the job was not due (nothing to record) */
#define SKIPPED 2

static void run_next(struct wj *r);
static void pass_start(struct wj *r, int force);

static int64_t read_time_scalar(json_object *v)
{
	if (!json_object_is_type(v, json_type_int))
		return WJ_NEVER;
	int64_t t = json_object_get_int64(v);
	return t > 0 ? t : WJ_NEVER; /* 0 is written for "never" */
}

/* ------------------------------------------------------------------ cluster */

struct wj_lease {
	struct wj *r;
	size_t job;
	char *name; /* lease and shared state key */
	lab_lease *l;
	int held, loaded, saving, dirty;
	uint64_t rev;
	int64_t last; /* the shared recorded time; WJ_NEVER = never */
};

static int64_t cl_period(const struct wj *r, size_t i)
{
	const struct wj_job *j = &r->jobs[i];
	const struct wj_group *g = &r->groups[j->group];
	if (!j->entry)
		return g->period;
	return j->period > g->period ? j->period : g->period;
}

static void cl_loaded(lab_ctx *ctx, int status, const char *json, size_t len, uint64_t rev,
		      void *ud)
{
	struct wj_lease *L = ud;
	struct wj *r = L->r;
	if (!L->held)
		return; /* lost meanwhile: read again at the next ACQUIRED */
	if (status < 0 && status != LAB_ENOENT) {
		lab_logkv(ctx, LAB_LOG_WARN, "cannot read shared state", LAB_FS("key", L->name),
			  LAB_FS("error", lab_strerror(status)));
		return; /* the job stays off here until the lease comes back */
	}
	const struct wj_job *j = &r->jobs[L->job];
	/* none shared yet: what this daemon recorded alone before, if anything */
	L->last = j->entry ? j->last : r->groups[j->group].last;
	L->rev = 0;
	if (status == 0) {
		json_tokener *tok = json_tokener_new();
		json_object *o = tok ? json_tokener_parse_ex(tok, json, (int)len) : NULL, *v;
		if (tok)
			json_tokener_free(tok);
		L->rev = rev;
		L->last = WJ_NEVER;
		if (o && json_object_object_get_ex(o, "last", &v))
			L->last = read_time_scalar(v);
		json_object_put(o);
	}
	L->loaded = 1;
	lab_logkv(ctx, LAB_LOG_INFO, "lease acquired", LAB_FS("job", L->name),
		  LAB_FI("last", L->last == WJ_NEVER ? 0 : L->last));
	pass_start(r, 0); /* what is due runs now, not at the next tick */
}

static void cl_event(lab_ctx *ctx, lab_lease *l, int event, void *ud)
{
	struct wj_lease *L = ud;
	(void)l;
	if (event == LAB_LEASE_LOST) {
		L->held = L->loaded = 0;
		lab_logkv(ctx, LAB_LOG_WARN, "lease lost", LAB_FS("job", L->name));
		return;
	}
	if (event != LAB_LEASE_ACQUIRED || L->held)
		return;
	L->held = 1;
	if (lab_shared_get(ctx, L->name, cl_loaded, L) < 0)
		L->held = 0;
}

static void cl_save(struct wj_lease *L);

static void cl_saved(lab_ctx *ctx, int status, const char *json, size_t len, uint64_t rev,
		     void *ud)
{
	struct wj_lease *L = ud;
	(void)json;
	(void)len;
	L->saving = 0;
	if (status == 0 || status == LAB_EEXIST)
		L->rev = rev; /* EEXIST: a stale holder wrote; ours goes on top while held */
	if (status == LAB_EEXIST)
		L->dirty = 1;
	else if (status < 0)
		lab_logkv(ctx, LAB_LOG_WARN, "cannot save shared state", LAB_FS("key", L->name),
			  LAB_FS("error", lab_strerror(status)));
	if (L->dirty && !L->r->stopping)
		cl_save(L);
}

static void cl_save(struct wj_lease *L)
{
	struct wj *r = L->r;
	if (!L->held || !lab_lease_valid(r->ctx, L->l))
		return;
	if (L->saving) {
		L->dirty = 1;
		return;
	}
	L->dirty = 0;
	struct buf b = { 0 };
	buf_puts(&b, "{\"last\":");
	buf_i64(&b, L->last == WJ_NEVER ? 0 : L->last);
	buf_putc(&b, '}');
	L->saving = 1;
	if (b.oom || lab_shared_cas(r->ctx, L->name, b.data, b.len, L->rev, cl_saved, L) < 0)
		L->saving = 0;
	buf_free(&b);
}

/* The leases, one per job; 0 when not in cluster mode. */
static int cl_start(struct wj *r)
{
	if (!cluster_mode(r->ctx) || r->cl || !r->njobs)
		return 0;
	if (!(r->cl = calloc(r->njobs, sizeof *r->cl)))
		return LAB_ENOMEM;
	for (size_t i = 0; i < r->njobs; i++) {
		struct wj_lease *L = &r->cl[i];
		const struct wj_job *j = &r->jobs[i];
		const char *g = r->groups[j->group].state_key;
		size_t n = strlen(g) + (j->entry ? strlen(j->entry) + 1 : 0) + 1;
		L->r = r;
		L->job = i;
		L->last = WJ_NEVER;
		if (!(L->name = malloc(n)))
			return LAB_ENOMEM;
		strcpy(L->name, g);
		if (j->entry) {
			strcat(L->name, "/");
			strcat(L->name, j->entry);
		}
		int rc = lab_lease_hold(r->ctx, L->name, cl_event, L, &L->l);
		if (rc < 0) {
			lab_logkv(r->ctx, LAB_LOG_ERROR, "cannot hold a lease", LAB_FS("job", L->name),
				  LAB_FS("error", lab_strerror(rc)));
			return rc;
		}
	}
	return 0;
}

int wj_may_store(const struct wj *r)
{
	if (!r->cl || r->next >= r->njobs)
		return 1;
	const struct wj_lease *L = &r->cl[r->next];
	return L->held && lab_lease_valid(r->ctx, L->l);
}

int wj_due(int64_t now, int64_t last, int64_t period)
{
	if (last == WJ_NEVER)
		return 1;
	/* a recorded time in the future (clock moved back): due, as never */
	return last > now || now - last >= period;
}

void wj_init(struct wj *r, lab_ctx *ctx, const struct wj_ops *ops, void *ud, const char *map)
{
	memset(r, 0, sizeof *r);
	r->ctx = ctx;
	r->ops = ops;
	r->ud = ud;
	r->map = map;
}

int wj_add_group(struct wj *r, const char *state_key, int64_t period)
{
	struct wj_group *g = realloc(r->groups, (r->ngroups + 1) * sizeof *g);
	if (!g)
		return LAB_ENOMEM;
	r->groups = g;
	g = &r->groups[r->ngroups];
	memset(g, 0, sizeof *g);
	if (!(g->state_key = strdup(state_key)))
		return LAB_ENOMEM;
	g->period = period;
	g->last = WJ_NEVER;
	g->first = r->njobs;
	r->ngroups++;
	return 0;
}

int wj_add_job(struct wj *r, const char *entry, int64_t period)
{
	if (!r->ngroups)
		return LAB_EINVAL;
	struct wj_job *j = realloc(r->jobs, (r->njobs + 1) * sizeof *j);
	if (!j)
		return LAB_ENOMEM;
	r->jobs = j;
	j = &r->jobs[r->njobs];
	memset(j, 0, sizeof *j);
	if (entry && !(j->entry = strdup(entry)))
		return LAB_ENOMEM;
	j->group = r->ngroups - 1;
	j->period = period;
	j->last = WJ_NEVER;
	r->njobs++;
	r->groups[j->group].n++;
	return 0;
}

void wj_free(struct wj *r)
{
	for (size_t i = 0; i < r->ngroups; i++) {
		free(r->groups[i].state_key);
		if (r->groups[i].kept)
			buf_free(r->groups[i].kept);
		free(r->groups[i].kept);
	}
	for (size_t i = 0; i < r->njobs; i++)
		free(r->jobs[i].entry);
	for (size_t i = 0; r->cl && i < r->njobs; i++)
		free(r->cl[i].name); /* the leases are released by the host at stop */
	free(r->cl);
	r->cl = NULL;
	free(r->groups);
	free(r->jobs);
	r->groups = NULL;
	r->jobs = NULL;
	r->ngroups = r->njobs = 0;
}

/* ------------------------------------------------------------------ state */

/* A recorded time from untrusted state; WJ_NEVER when unreadable. */
static int64_t read_time(const struct wj *r, json_object *v, int scalar)
{
	int64_t t;
	if (r->ops->time_parse && !scalar) {
		if (!json_object_is_type(v, json_type_string) ||
		    r->ops->time_parse(json_object_get_string(v),
				       (size_t)json_object_get_string_len(v), &t) < 0)
			return WJ_NEVER;
		return t;
	}
	if (json_object_is_type(v, json_type_int) ||
	    (scalar && json_object_is_type(v, json_type_double))) {
		t = json_object_get_int64(v);
		return t > 0 ? t : WJ_NEVER; /* 0 is written for "never" */
	}
	return WJ_NEVER;
}

/* The entries of map `m` that no job of `g` has, as they were read. */
static int keep_unknown(struct wj *r, struct wj_group *g, json_object *m)
{
	json_object_object_foreach(m, name, val) {
		size_t i = g->first;
		while (i < g->first + g->n && !(r->jobs[i].entry && !strcmp(r->jobs[i].entry, name)))
			i++;
		if (i < g->first + g->n)
			continue;
		const char *text = json_object_to_json_string_ext(
			val, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
		if (!g->kept && !(g->kept = calloc(1, sizeof *g->kept)))
			return LAB_ENOMEM;
		if (g->kept->len)
			buf_putc(g->kept, ',');
		buf_json_str(g->kept, name, strlen(name));
		buf_putc(g->kept, ':');
		buf_puts(g->kept, text ? text : "null");
		if (g->kept->oom)
			return LAB_ENOMEM;
	}
	return 0;
}

static int load_group(struct wj *r, struct wj_group *g)
{
	const char *text;
	size_t len;
	json_object *o, *v, *m = NULL;
	if (lab_state_get(r->ctx, g->state_key, &text, &len) < 0 || len >= (size_t)1 << 30)
		return 0; /* absent: never ran */
	json_tokener *tok = json_tokener_new();
	if (!tok)
		return LAB_ENOMEM;
	o = json_tokener_parse_ex(tok, text, (int)len);
	json_tokener_free(tok);
	if (!o)
		return 0;
	if (g->period > 0 && json_object_object_get_ex(o, "last_processed", &v))
		g->last = read_time(r, v, 1);
	if (json_object_object_get_ex(o, r->map, &m) && json_object_is_type(m, json_type_object))
		for (size_t i = g->first; i < g->first + g->n; i++)
			if (r->jobs[i].entry && json_object_object_get_ex(m, r->jobs[i].entry, &v))
				r->jobs[i].last = read_time(r, v, 0);
	int rc = m && json_object_is_type(m, json_type_object) ? keep_unknown(r, g, m) : 0;
	json_object_put(o);
	return rc;
}

int wj_load(struct wj *r)
{
	for (size_t i = 0; i < r->ngroups; i++) {
		int rc = load_group(r, &r->groups[i]);
		if (rc < 0)
			return rc;
	}
	return 0;
}

static void write_time(const struct wj *r, struct buf *b, int64_t t)
{
	if (r->ops->time_text) {
		char s[32];
		r->ops->time_text(t, s);
		buf_json_str(b, s, strlen(s));
	} else {
		buf_i64(b, t);
	}
}

static void save_group(struct wj *r, const struct wj_group *g)
{
	struct buf b = { 0 };
	int first = 1;
	buf_putc(&b, '{');
	if (g->period > 0) {
		buf_puts(&b, "\"last_processed\":");
		buf_i64(&b, g->last == WJ_NEVER ? 0 : g->last);
		buf_putc(&b, ',');
	}
	buf_json_str(&b, r->map, strlen(r->map));
	buf_puts(&b, ":{");
	for (size_t i = g->first; i < g->first + g->n; i++) {
		const struct wj_job *j = &r->jobs[i];
		if (!j->entry || j->last == WJ_NEVER)
			continue;
		if (!first)
			buf_putc(&b, ',');
		first = 0;
		buf_json_str(&b, j->entry, strlen(j->entry));
		buf_putc(&b, ':');
		write_time(r, &b, j->last);
	}
	if (g->kept && g->kept->len) {
		if (!first)
			buf_putc(&b, ',');
		buf_append(&b, g->kept->data, g->kept->len);
	}
	buf_puts(&b, "}}");
	int rc = b.oom ? LAB_ENOMEM : lab_state_set(r->ctx, g->state_key, b.data, b.len);
	if (rc < 0)
		lab_logkv(r->ctx, LAB_LOG_WARN, "cannot save state", LAB_FS("key", g->state_key),
			  LAB_FS("error", lab_strerror(rc)));
	buf_free(&b);
}

/* ------------------------------------------------------------------ the pass */

static void once_flushed(lab_ctx *ctx, int status, void *ud)
{
	struct wj *r = ud;
	lab_done(ctx, r->pass_rc < 0 ? r->pass_rc : status);
}

static void pass_start(struct wj *r, int force)
{
	if (r->busy) {
		if (force)
			r->again = 1;
		return;
	}
	r->busy = 1;
	r->force = force;
	r->now = lab_now(r->ctx);
	r->next = 0;
	r->ran = 0;
	r->pass_rc = 0;
	run_next(r);
}

static void pass_end(struct wj *r)
{
	r->busy = 0;
	/* A pass that found nothing due (most minutes) is not news at info. */
	lab_logkv(r->ctx, r->ran || r->pass_rc ? LAB_LOG_INFO : LAB_LOG_DEBUG, "pass finished",
		  LAB_FI("failed", r->pass_rc < 0));
	if (r->once) {
		r->once = 0;
		int rc = lab_state_flush(r->ctx, once_flushed, r);
		if (rc < 0)
			lab_done(r->ctx, rc);
		return;
	}
	if (r->again && !r->stopping) {
		r->again = 0;
		pass_start(r, 1); /* a run was asked for while this pass ran */
	}
}

/* Job r->next is settled (ran with `rc`, or was not due): record, move on. */
static void settle(struct wj *r, int rc)
{
	struct wj_job *j = &r->jobs[r->next];
	struct wj_group *g = &r->groups[j->group];
	if (rc < 0) {
		g->failed = 1;
		if (!r->pass_rc)
			r->pass_rc = rc;
	} else if (rc == WJ_NORECORD && g->due) {
		if (!j->entry)
			g->norecord = 1;
	} else if (g->due && j->entry && rc == 0) {
		j->last = r->now;
		save_group(r, g);
	}
	if (r->cl && rc == 0) {
		r->cl[r->next].last = r->now;
		cl_save(&r->cl[r->next]);
	}
	if (r->next + 1 == g->first + g->n && g->due && g->period > 0 && !g->failed &&
	    !g->norecord) {
		g->last = r->now;
		save_group(r, g);
	}
	r->next++;
}

/* Starts the next due job of the pass, or ends the pass. */
static void run_next(struct wj *r)
{
	while (r->next < r->njobs && !r->stopping) {
		struct wj_job *j = &r->jobs[r->next];
		struct wj_group *g = &r->groups[j->group];
		if (r->next == g->first) {
			g->due = r->force || g->period <= 0 || wj_due(r->now, g->last, g->period);
			g->failed = g->norecord = 0;
			if (g->due && g->period > 0)
				r->ran = 1; /* a gated group is due: news even if no job is */
		}
		if (r->cl) { /* cluster mode: this daemon's leases, their shared times */
			const struct wj_lease *L = &r->cl[r->next];
			g->due = 1;
			if (!L->loaded || !lab_lease_valid(r->ctx, L->l) ||
			    (!r->force && !wj_due(r->now, L->last, cl_period(r, r->next)))) {
				settle(r, SKIPPED);
				continue;
			}
		} else if (!g->due || (!r->force && j->entry && !wj_due(r->now, j->last, j->period))) {
			settle(r, SKIPPED);
			continue;
		}
		r->ran = 1;
		/* start() issues the job's first operation, whose completion comes
		 * later (plugin.h §3): wj_done() never runs inside start(), so this
		 * is a plain loop step.  A start() whose submission failed (< 0, no
		 * callback) is settled here and the pass goes on. */
		int rc = r->ops->start(r->ud, r->next);
		if (rc == 0)
			return; /* continues in wj_done() */
		settle(r, rc);
	}
	pass_end(r);
}

void wj_done(struct wj *r, int rc)
{
	if (!r->busy || r->next >= r->njobs)
		return;
	settle(r, rc);
	run_next(r);
}

static void on_tick(lab_ctx *ctx, lab_timer *t, void *ud)
{
	(void)ctx;
	(void)t;
	pass_start(ud, 0);
}

int wj_start(struct wj *r, uint64_t period_ms)
{
	int rc = cl_start(r);
	if (rc < 0)
		return rc;
	rc = lab_timer_start(r->ctx, 0, period_ms, on_tick, r, NULL);
	return rc < 0 ? rc : 0;
}

void wj_run(struct wj *r) { pass_start(r, 1); }

void wj_once(struct wj *r)
{
	r->once = 1;
	pass_start(r, 1);
}

void wj_stop(struct wj *r) { r->stopping = 1; }
