/* lab-plugin-test: the SDK function table of the fake host (lab_host_api)
 * and the services that need no data store: log capture, the virtual
 * clock, configuration (the real host's getters over the test's section),
 * timers, the broker, networks, work, lab_done and key segments.
 *
 * Adding the services of a new SDK minor: implement them (a labt_*.c file
 * of their own when they keep data), fill their members in labti_api_fill()
 * and move LABT_API_END and LABT_ABI_MINOR (lab/plugin-test.h) to that
 * minor's last member.  The table ends at LABT_API_END, so LAB_HAS() is
 * false for every member after it: their wrappers return LAB_ENOTSUP and a
 * plugin declaring a newer minor is refused by labt_init().  A member left
 * NULL inside the table aborts labt_new() (fail loudly, not with a NULL
 * call in the middle of a test). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "jsonw.h"
#include "keyseg.h"
#include "ch_rows.h"
#include "labt.h"

/* The last member of the table this fake host implements (ABI 1.5). */
#define LABT_API_END (offsetof(lab_host_api, cluster_node) + sizeof(void (*)(void)))

/* ---- log ----------------------------------------------------------------- */

static const char *level_name(int level)
{
	switch (level) {
	case LAB_LOG_DEBUG: return "debug";
	case LAB_LOG_INFO: return "info";
	case LAB_LOG_WARN: return "warn";
	default: return "error";
	}
}

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;

void labti_log_add(struct labt *t, int level, const char *msg, const lab_field *f, size_t n)
{
	struct buf b = BUF_INIT;
	if (level < t->log_level)
		return;
	buf_printf(&b, "%s %s", level_name(level), msg ? msg : "");
	for (size_t i = 0; f && i < n; i++) {
		const char *k = f[i].key ? f[i].key : "?";
		if (f[i].type == LAB_FIELD_STR)
			buf_printf(&b, " %s=%s", k, f[i].s ? f[i].s : "(null)");
		else if (f[i].type == LAB_FIELD_INT)
			buf_printf(&b, " %s=%lld", k, (long long)f[i].i);
		else if (f[i].type == LAB_FIELD_DOUBLE)
			buf_printf(&b, " %s=%g", k, f[i].d);
		else
			buf_printf(&b, " %s=(bad field type %d)", k, f[i].type);
	}
	char *line = labti_strndup(b.data ? b.data : "", b.len);
	buf_free(&b);
	/* lab_log is thread-safe: work functions on threads log too. */
	pthread_mutex_lock(&log_lock);
	labti_vec_push(&t->logs, line);
	if (t->verbose)
		fprintf(stderr, "[%s] %s\n", t->desc && t->desc->name ? t->desc->name : "?", line);
	pthread_mutex_unlock(&log_lock);
}

static void api_log(lab_ctx *ctx, int level, const char *msg, const lab_field *f, size_t n)
{
	labti_log_add(labti_of(ctx), level, msg, f, n);
}

static int api_log_enabled(lab_ctx *ctx, int level) { return level >= labti_of(ctx)->log_level; }

size_t labt_log_count(const labt *t) { return t->logs.n; }
const char *labt_log_line(const labt *t, size_t i) { return i < t->logs.n ? t->logs.v[i] : NULL; }

static int line_level(const char *l)
{
	if (!strncmp(l, "debug", 5))
		return LAB_LOG_DEBUG;
	if (!strncmp(l, "info", 4))
		return LAB_LOG_INFO;
	if (!strncmp(l, "warn", 4))
		return LAB_LOG_WARN;
	return LAB_LOG_ERROR;
}

size_t labt_logs(const labt *t, int min_level, const char *substr)
{
	size_t n = 0;
	for (size_t i = 0; i < t->logs.n; i++) {
		const char *l = t->logs.v[i];
		if (line_level(l) >= min_level && (!substr || strstr(l, substr)))
			n++;
	}
	return n;
}

/* ---- clock (thread-safe: plain reads of the test's own values) ---------- */

static int64_t api_now_ms(lab_ctx *ctx) { return labt_now_ms(labti_of(ctx)); }
static uint64_t api_monotonic_ms(lab_ctx *ctx) { return labti_of(ctx)->mono; }

/* ---- config: the real host's getters (host/cfgapi.c) ------------------- */

#define SEC(ctx) (labti_of(ctx)->section)
#define SETS(ctx) (labti_of(ctx)->decls.settings)

static int api_cfg_string(lab_ctx *ctx, const lab_cfg *node, const char *path, const char **out)
{
	return cfgapi_string(SEC(ctx), SETS(ctx), node, path, out);
}
static int api_cfg_int(lab_ctx *ctx, const lab_cfg *node, const char *path, int64_t *out)
{
	return cfgapi_int(SEC(ctx), SETS(ctx), node, path, out);
}
static int api_cfg_bool(lab_ctx *ctx, const lab_cfg *node, const char *path, int *out)
{
	return cfgapi_bool(SEC(ctx), SETS(ctx), node, path, out);
}
static int api_cfg_double(lab_ctx *ctx, const lab_cfg *node, const char *path, double *out)
{
	return cfgapi_double(SEC(ctx), SETS(ctx), node, path, out);
}
static int api_cfg_duration(lab_ctx *ctx, const lab_cfg *node, const char *path, int64_t *out)
{
	return cfgapi_duration(SEC(ctx), SETS(ctx), node, path, out);
}
static int api_cfg_count(lab_ctx *ctx, const lab_cfg *node, const char *path)
{
	return cfgapi_count(SEC(ctx), node, path);
}
static int api_cfg_elem(lab_ctx *ctx, const lab_cfg *node, const char *path, int index,
			const lab_cfg **out)
{
	return cfgapi_elem(SEC(ctx), node, path, index, out);
}
static const char *api_cfg_name(lab_ctx *ctx, const lab_cfg *node) { return cfgapi_name(node); }
static int api_cfg_where(lab_ctx *ctx, const lab_cfg *node, const char *path, const char **file,
			 int *line)
{
	return cfgapi_where(SEC(ctx), node, path, file, line);
}
static int api_cfg_bind(lab_ctx *ctx, const lab_cfg *node, void *base)
{
	return cfgapi_bind(SEC(ctx), &labti_of(ctx)->decls, node, base);
}
static void api_cfg_error(lab_ctx *ctx, const lab_cfg *node, const char *path, const char *msg)
{
	struct labt *t = labti_of(ctx);
	char line[1536];
	cfgapi_error(t->section, SETS(ctx), t->desc->name, node, path, msg ? msg : "", line,
		     sizeof line);
	labti_log_add(t, LAB_LOG_ERROR, line, NULL, 0);
	snprintf(t->err, sizeof t->err, "%s", line);
}

/* ---- timers --------------------------------------------------------------- */

static int api_timer_start(lab_ctx *ctx, uint64_t delay, uint64_t repeat, lab_timer_cb cb,
			   void *ud, lab_timer **out)
{
	struct labt *t = labti_of(ctx);
	labti_loop_only(t, "lab_timer_start");
	if (!cb)
		return LAB_EINVAL;
	if (t->phase != P_RUNNING && t->phase != P_ONCE && t->phase != P_READY)
		return LAB_ECANCELED;
	struct labt_ev *e = labti_ev_new(t, EV_TIMER);
	e->timer_cb = cb;
	e->ud = ud;
	e->repeat = repeat;
	labti_vec_push(&t->timers, e);
	labti_ev_queue(t, e, delay);
	if (out)
		*out = (lab_timer *)e;
	return 0;
}

static int api_timer_cancel(lab_ctx *ctx, lab_timer *timer)
{
	struct labt *t = labti_of(ctx);
	labti_loop_only(t, "lab_timer_cancel");
	for (size_t i = 0; i < t->timers.n; i++) {
		struct labt_ev *e = t->timers.v[i];
		if ((lab_timer *)e != timer)
			continue;
		labti_vec_del(&t->timers, i);
		if (e->queued) /* else it is firing: fire() frees it after the callback */
			labti_ev_drop(t, e);
		return 0;
	}
	return LAB_EINVAL;
}

/* ---- state, storage, ClickHouse (labt_data.c) ---------------------------- */

static int api_state_get(lab_ctx *ctx, const char *key, const char **json, size_t *len)
{
	struct labt *t = labti_of(ctx);
	labti_loop_only(t, "lab_state_get");
	return labti_state_get(t, key, json, len);
}
static int api_state_set(lab_ctx *ctx, const char *key, const char *json, size_t len)
{
	struct labt *t = labti_of(ctx);
	labti_loop_only(t, "lab_state_set");
	return labti_state_set_(t, key, json, len);
}
static int api_state_delete(lab_ctx *ctx, const char *key)
{
	struct labt *t = labti_of(ctx);
	labti_loop_only(t, "lab_state_delete");
	return labti_state_delete_(t, key);
}
static int api_state_flush(lab_ctx *ctx, lab_done_cb cb, void *ud)
{
	struct labt *t = labti_of(ctx);
	labti_loop_only(t, "lab_state_flush");
	struct labt_ev *e = labti_ev_new(t, EV_FLUSH);
	e->done_cb = cb;
	e->ud = ud;
	e->status = labti_state_flush_now(t);
	labti_ev_queue(t, e, t->storage_delay);
	return 0;
}

static int api_storage_put(lab_ctx *ctx, const char *key, const void *data, size_t len,
			   const char *ctype, const char *cache, unsigned flags, lab_storage_cb cb,
			   void *ud, lab_op **out)
{
	struct labt *t = labti_of(ctx);
	labti_loop_only(t, "lab_storage_put");
	if (!data && len)
		return LAB_EINVAL;
	return labti_storage_op(t, LABT_PUT, key, data, len, ctype, cb, ud, out);
}
static int api_storage_get(lab_ctx *ctx, const char *key, lab_storage_cb cb, void *ud,
			   lab_op **out)
{
	struct labt *t = labti_of(ctx);
	labti_loop_only(t, "lab_storage_get");
	return labti_storage_op(t, LABT_GET, key, NULL, 0, NULL, cb, ud, out);
}
/* The fake keeps objects as put (no gzip), so "as stored" is those bytes:
 * preload gzip bytes with labt_storage_put to drive a plugin's gzip path;
 * an object the plugin put itself comes back plain, as a non-gzip object
 * another writer stored would from labd. */
static int api_storage_get_raw(lab_ctx *ctx, const char *key, lab_storage_cb cb, void *ud,
			       lab_op **out)
{
	struct labt *t = labti_of(ctx);
	labti_loop_only(t, "lab_storage_get_raw");
	return labti_storage_op(t, LABT_GET, key, NULL, 0, NULL, cb, ud, out);
}
static int api_storage_exists(lab_ctx *ctx, const char *key, lab_storage_cb cb, void *ud,
			      lab_op **out)
{
	struct labt *t = labti_of(ctx);
	labti_loop_only(t, "lab_storage_exists");
	return labti_storage_op(t, LABT_EXISTS, key, NULL, 0, NULL, cb, ud, out);
}
static int api_storage_delete(lab_ctx *ctx, const char *key, lab_storage_cb cb, void *ud,
			      lab_op **out)
{
	struct labt *t = labti_of(ctx);
	labti_loop_only(t, "lab_storage_delete");
	return labti_storage_op(t, LABT_DELETE, key, NULL, 0, NULL, cb, ud, out);
}

static int api_query(lab_ctx *ctx, const char *sql, const lab_param *params, size_t n,
		     unsigned flags, lab_rows_cb on_rows, lab_query_cb cb, void *ud, lab_op **out)
{
	struct labt *t = labti_of(ctx);
	labti_loop_only(t, "lab_query");
	return labti_query(t, sql, params, n, flags, on_rows, cb, ud, out);
}

static int api_op_cancel(lab_ctx *ctx, lab_op *op)
{
	struct labt *t = labti_of(ctx);
	labti_loop_only(t, "lab_op_cancel");
	for (size_t i = 0; i < t->queue.n; i++) {
		struct labt_ev *e = t->queue.v[i];
		if ((lab_op *)e == op && (e->kind == EV_QUERY || e->kind == EV_STORAGE)) {
			labti_ev_drop(t, e);
			return 0;
		}
	}
	return LAB_EINVAL;
}

/* ---- broker --------------------------------------------------------------- */

/* NATS subject match: `*` one token, `>` the rest (one token or more). */
int labti_subject_match(const char *p, const char *s)
{
	for (;;) {
		size_t pn = strcspn(p, "."), sn = strcspn(s, ".");
		if (pn == 1 && p[0] == '>' && !p[1])
			return sn > 0;
		if (!(pn == 1 && p[0] == '*') && (pn != sn || memcmp(p, s, pn) != 0))
			return 0;
		if (pn == 1 && p[0] == '*' && sn == 0)
			return 0;
		p += pn;
		s += sn;
		if (!*p || !*s)
			return !*p && !*s;
		p++, s++;
	}
}

void labti_deliver(struct labt *t, const char *subject, const void *data, size_t len)
{
	for (size_t i = 0; i < t->subs.n; i++) {
		struct lab_sub *s = t->subs.v[i];
		if (!labti_subject_match(s->pattern, subject))
			continue;
		struct labt_ev *e = labti_ev_new(t, EV_MSG);
		e->sub = s;
		e->subject = labti_strdup(subject);
		buf_append(&e->body, data, len);
		labti_ev_queue(t, e, 0);
	}
}

static int subject_ok(const char *s, int pattern)
{
	if (!*s || strlen(s) > 256)
		return 0;
	for (const char *p = s;; p++) {
		size_t n = strcspn(p, ".");
		if (n == 0)
			return 0;
		for (size_t i = 0; i < n; i++) {
			unsigned char c = (unsigned char)p[i];
			if (c <= ' ' || c == 0x7f || ((c == '*' || c == '>') && (!pattern || n != 1)))
				return 0;
		}
		if (p[0] == '>' && p[n])
			return 0; /* `>` only last */
		p += n;
		if (!*p)
			return 1;
	}
}

static int api_publish(lab_ctx *ctx, const char *subject, const void *data, size_t len)
{
	struct labt *t = labti_of(ctx);
	labti_loop_only(t, "lab_publish");
	if (!subject || (!data && len))
		return LAB_EINVAL;
	if (!subject_ok(subject, 0))
		return LAB_EINVAL;
	if (t->phase == P_DEAD)
		return LAB_ECANCELED;
	struct labt_obj *o = calloc(1, sizeof *o);
	if (!o)
		labti_die("calloc", "out of memory");
	o->key = labti_strdup(subject);
	buf_append(&o->body, data, len);
	buf_append(&o->body, "", 1); /* NUL-terminated for labt_event; not counted */
	o->body.len--;
	labti_vec_push(&t->events, o);
	labti_deliver(t, subject, data, len);
	return 0;
}

static int api_subscribe(lab_ctx *ctx, const char *subject, lab_msg_cb cb, void *ud,
			 lab_sub **out)
{
	struct labt *t = labti_of(ctx);
	labti_loop_only(t, "lab_subscribe");
	if (!subject || !cb || !subject_ok(subject, 1))
		return LAB_EINVAL;
	if (t->phase != P_RUNNING && t->phase != P_ONCE && t->phase != P_READY)
		return LAB_ECANCELED;
	struct lab_sub *s = calloc(1, sizeof *s);
	if (!s)
		labti_die("calloc", "out of memory");
	s->t = t;
	s->pattern = labti_strdup(subject);
	s->cb = cb;
	s->ud = ud;
	labti_vec_push(&t->subs, s);
	if (out)
		*out = s;
	return 0;
}

static int api_unsubscribe(lab_ctx *ctx, lab_sub *sub)
{
	struct labt *t = labti_of(ctx);
	labti_loop_only(t, "lab_unsubscribe");
	for (size_t i = 0; i < t->subs.n; i++) {
		if (t->subs.v[i] != sub)
			continue;
		labti_vec_del(&t->subs, i);
		for (size_t j = t->queue.n; j-- > 0;) {
			struct labt_ev *e = t->queue.v[j];
			if (e->kind == EV_MSG && e->sub == sub)
				labti_ev_drop(t, e);
		}
		free(sub->pattern);
		free(sub);
		return 0;
	}
	return LAB_EINVAL;
}

size_t labt_subscriptions(const labt *t) { return t->subs.n; }

int labt_publish(labt *t, const char *subject, const char *data, size_t len)
{
	if (!subject || !subject_ok(subject, 0) || (!data && len))
		return LAB_EINVAL;
	labti_deliver(t, subject, data, len);
	labt_pump(t);
	return 0;
}

static int event_matches(const struct labt_obj *o, const char *pattern)
{
	return !pattern || labti_subject_match(pattern, o->key);
}

size_t labt_events(const labt *t, const char *pattern)
{
	size_t n = 0;
	for (size_t i = 0; i < t->events.n; i++)
		n += event_matches(t->events.v[i], pattern);
	return n;
}

const char *labt_event(const labt *t, const char *pattern, size_t idx, const char **subject,
		       size_t *len)
{
	for (size_t i = 0; i < t->events.n; i++) {
		const struct labt_obj *o = t->events.v[i];
		if (!event_matches(o, pattern) || idx-- > 0)
			continue;
		if (subject)
			*subject = o->key;
		if (len)
			*len = o->body.len;
		return o->body.data ? o->body.data : "";
	}
	return NULL;
}

/* ---- networks ------------------------------------------------------------- */

static struct labt_net *net_named(const struct labt *t, const char *name)
{
	for (size_t i = 0; name && i < t->nets.n; i++) {
		struct labt_net *n = t->nets.v[i];
		if (!strcmp(n->name, name))
			return n;
	}
	return NULL;
}

int labt_network(labt *t, const char *name, int64_t genesis, uint32_t sps, uint32_t spe)
{
	if (!name || !*name || net_named(t, name) || !sps || !spe)
		return LAB_EINVAL;
	struct labt_net *n = calloc(1, sizeof *n);
	if (!n)
		labti_die("calloc", "out of memory");
	n->name = labti_strdup(name);
	n->genesis = genesis;
	n->sps = sps;
	n->spe = spe;
	labti_vec_push(&t->nets, n);
	return 0;
}

/* Room for one more element in the array p of n elements. */
#define GROW(p, n)                                                    \
	do {                                                          \
		void *q_ = realloc((p), ((n) + 1) * sizeof *(p));     \
		if (!q_)                                              \
			labti_die("realloc", "out of memory");        \
		(p) = q_;                                             \
	} while (0)

int labt_network_fork(labt *t, const char *network, const char *fork, uint64_t epoch)
{
	struct labt_net *n = net_named(t, network);
	if (!n || !fork)
		return LAB_EINVAL;
	GROW(n->forks, n->nforks);
	GROW(n->fork_epochs, n->nforks);
	n->forks[n->nforks] = labti_strdup(fork);
	n->fork_epochs[n->nforks++] = epoch;
	return 0;
}

int labt_network_entity(labt *t, const char *network, uint64_t first, uint64_t last,
			const char *entity)
{
	struct labt_net *n = net_named(t, network);
	if (!n || !entity || first > last)
		return LAB_EINVAL;
	GROW(n->ent_lo, n->nents);
	GROW(n->ent_hi, n->nents);
	GROW(n->ent_name, n->nents);
	n->ent_lo[n->nents] = first;
	n->ent_hi[n->nents] = last;
	n->ent_name[n->nents++] = labti_strdup(entity);
	return 0;
}

void labti_nets_free(struct labt *t)
{
	for (size_t i = 0; i < t->nets.n; i++) {
		struct labt_net *n = t->nets.v[i];
		for (size_t k = 0; k < n->nforks; k++)
			free(n->forks[k]);
		for (size_t k = 0; k < n->nents; k++)
			free(n->ent_name[k]);
		free(n->forks);
		free(n->fork_epochs);
		free(n->ent_lo);
		free(n->ent_hi);
		free(n->ent_name);
		free(n->name);
		free(n);
	}
	free(t->nets.v);
}

static size_t api_network_count(lab_ctx *ctx) { return labti_of(ctx)->nets.n; }
static const lab_network *api_network_at(lab_ctx *ctx, size_t i)
{
	struct labt *t = labti_of(ctx);
	return i < t->nets.n ? (const lab_network *)t->nets.v[i] : NULL;
}
static const lab_network *api_network_find(lab_ctx *ctx, const char *name)
{
	return (const lab_network *)net_named(labti_of(ctx), name);
}
#define NET(n) ((const struct labt_net *)(n))
static const char *net_name(const lab_network *n) { return NET(n)->name; }
static int64_t net_genesis(const lab_network *n) { return NET(n)->genesis; }
static uint32_t net_sps(const lab_network *n) { return NET(n)->sps; }
static uint32_t net_spe(const lab_network *n) { return NET(n)->spe; }
static int net_fork(const lab_network *n, const char *fork, uint64_t *epoch)
{
	if (!fork || !epoch)
		return LAB_EINVAL;
	for (size_t k = 0; k < NET(n)->nforks; k++) {
		if (!strcmp(NET(n)->forks[k], fork)) {
			*epoch = NET(n)->fork_epochs[k];
			return 0;
		}
	}
	return LAB_ENOENT;
}
static const char *net_entity(const lab_network *n, uint64_t index)
{
	for (size_t k = 0; k < NET(n)->nents; k++)
		if (index >= NET(n)->ent_lo[k] && index <= NET(n)->ent_hi[k])
			return NET(n)->ent_name[k];
	return NULL;
}

/* ---- work, done, identity, key segments ---------------------------------- */

int labti_work_submit_(struct labt *t, lab_work_fn fn, lab_work_done_cb done,
		       lab_work_cancel_fn cancel, void *ud);
static int api_work_submit(lab_ctx *ctx, lab_work_fn fn, lab_work_done_cb done, void *ud)
{
	struct labt *t = labti_of(ctx);
	labti_loop_only(t, "lab_work_submit");
	return labti_work_submit_(t, fn, done, NULL, ud);
}

static void api_done(lab_ctx *ctx, int status)
{
	struct labt *t = labti_of(ctx);
	labti_loop_only(t, "lab_done");
	if (t->done_called) /* later calls are ignored (lab/plugin.h) */
		return;
	t->done_called = 1;
	t->done_status = status;
}

static const char *api_plugin_name(lab_ctx *ctx) { return labti_of(ctx)->desc->name; }

static int api_key_segment(lab_ctx *ctx, const char *name, size_t len, unsigned flags, char *out,
			   size_t cap)
{
	if (!name || !out)
		return LAB_EINVAL;
	return keyseg_make(name, len, flags, out, cap);
}

static int api_key_segment_check(lab_ctx *ctx, const char *s, size_t len, unsigned flags)
{
	return s ? keyseg_check(s, len, flags) : 0;
}

/* ---- 1.2: metrics and progress (labt_metrics.c) ------------------------- */

static int api_metric_register(lab_ctx *ctx, int type, const char *name, const char *help,
			       const char *const *labels, lab_metric **out)
{
	struct labt *t = labti_of(ctx);
	labti_loop_only(t, "lab_metric_register");
	return labti_metric_register(t, type, name, help, labels, out);
}
static int api_metric_update(lab_ctx *ctx, lab_metric *metric, int op, double v,
			     const char *const *values)
{
	struct labt *t = labti_of(ctx);
	labti_loop_only(t, "lab_metric_update");
	return labti_metric_update(t, metric, op, v, values);
}
static int api_progress(lab_ctx *ctx, const char *what, double done, double total,
			double per_second)
{
	struct labt *t = labti_of(ctx);
	labti_loop_only(t, "lab_progress");
	return labti_progress(t, what, done, total, per_second);
}

/* ---- 1.3: JSON writer (host/jsonw.c), durations in ms, cancellable work -- */

static lab_json *api_json_new(lab_ctx *ctx)
{
	labti_of(ctx); /* a foreign ctx aborts, as everywhere */
	return jsonw_new();
}
static int api_cfg_duration_ms(lab_ctx *ctx, const lab_cfg *node, const char *path, int64_t *ms)
{
	return cfgapi_duration_ms(SEC(ctx), SETS(ctx), node, path, ms);
}
int labti_work_submit_(struct labt *t, lab_work_fn fn, lab_work_done_cb done,
		       lab_work_cancel_fn cancel, void *ud);
static int api_work_submit_cancel(lab_ctx *ctx, lab_work_fn fn, lab_work_done_cb done,
				  lab_work_cancel_fn cancel, void *ud)
{
	struct labt *t = labti_of(ctx);
	labti_loop_only(t, "lab_work_submit_cancel");
	return labti_work_submit_(t, fn, done, cancel, ud);
}

/* ---- HTTP (1.4): labt_http.c ------------------------------------------------ */

static int api_http_route(lab_ctx *ctx, const char *method, const char *pattern, lab_http_cb cb,
			  void *ud, lab_route **out)
{
	return labti_http_route(labti_of(ctx), method, pattern, cb, ud, out);
}
static int api_http_respond(lab_ctx *ctx, lab_http_req *req, const lab_http_response *resp)
{
	return labti_http_respond(labti_of(ctx), req, resp);
}
static int api_stream_open(lab_ctx *ctx, lab_http_req *req, int kind, const char *const *headers,
			   lab_stream_msg_cb on_msg, lab_stream_close_cb on_close, void *ud,
			   lab_stream **out)
{
	return labti_stream_open(labti_of(ctx), req, kind, headers, on_msg, on_close, ud, out);
}
static int api_stream_send(lab_ctx *ctx, lab_stream *s, const char *event, const char *id,
			   const void *data, size_t len)
{
	return labti_stream_send(labti_of(ctx), s, event, id, data, len);
}
static int api_stream_close(lab_ctx *ctx, lab_stream *s, int code)
{
	return labti_stream_close(labti_of(ctx), s, code);
}

/* ---- the table ------------------------------------------------------------ */

static size_t api_rows_count(const lab_rows *r) { return ch_rows_count(r); }
static size_t api_rows_columns(const lab_rows *r) { return ch_rows_columns(r); }

void labti_api_fill(lab_host_api *api)
{
	memset(api, 0, sizeof *api);
	*api = (lab_host_api){
		.size = (uint32_t)LABT_API_END,
		.abi_major = LAB_ABI_MAJOR,
		.abi_minor = LABT_ABI_MINOR,
		.log = api_log,
		.log_enabled = api_log_enabled,
		.now_ms = api_now_ms,
		.monotonic_ms = api_monotonic_ms,
		.cfg_string = api_cfg_string,
		.cfg_int = api_cfg_int,
		.cfg_bool = api_cfg_bool,
		.cfg_double = api_cfg_double,
		.cfg_duration = api_cfg_duration,
		.cfg_count = api_cfg_count,
		.cfg_elem = api_cfg_elem,
		.cfg_name = api_cfg_name,
		.cfg_where = api_cfg_where,
		.timer_start = api_timer_start,
		.timer_cancel = api_timer_cancel,
		.state_get = api_state_get,
		.state_set = api_state_set,
		.state_delete = api_state_delete,
		.state_flush = api_state_flush,
		.storage_put = api_storage_put,
		.storage_get = api_storage_get,
		.storage_exists = api_storage_exists,
		.storage_delete = api_storage_delete,
		.query = api_query,
		.op_cancel = api_op_cancel,
		.rows_count = api_rows_count,
		.rows_columns = api_rows_columns,
		.rows_column_name = ch_rows_column_name,
		.rows_is_null = ch_rows_is_null,
		.rows_str = ch_rows_str,
		.rows_i64 = ch_rows_i64,
		.rows_u64 = ch_rows_u64,
		.rows_f64 = ch_rows_f64,
		.publish = api_publish,
		.subscribe = api_subscribe,
		.unsubscribe = api_unsubscribe,
		.network_count = api_network_count,
		.network_at = api_network_at,
		.network_find = api_network_find,
		.network_name = net_name,
		.network_genesis_time = net_genesis,
		.network_seconds_per_slot = net_sps,
		.network_slots_per_epoch = net_spe,
		.network_fork_epoch = net_fork,
		.network_entity = net_entity,
		.work_submit = api_work_submit,
		.done = api_done,
		.plugin_name = api_plugin_name,
		.cfg_bind = api_cfg_bind,
		.cfg_error = api_cfg_error,
		.key_segment = api_key_segment,
		.key_segment_check = api_key_segment_check,
		.metric_register = api_metric_register,
		.metric_update = api_metric_update,
		.progress = api_progress,
		.json_new = api_json_new,
		JSONW_API_MEMBERS,
		.cfg_duration_ms = api_cfg_duration_ms,
		.work_submit_cancel = api_work_submit_cancel,
		.http_route = api_http_route,
		.http_method = labti_http_method,
		.http_path = labti_http_path,
		.http_query = labti_http_query,
		.http_header = labti_http_header,
		.http_respond = api_http_respond,
		.stream_open = api_stream_open,
		.stream_send = api_stream_send,
		.stream_close = api_stream_close,
		.storage_get_raw = api_storage_get_raw,
	};
	labti_cluster_fill(api); /* 1.5 (labt_cluster.c) */
	/* Every member inside the table is implemented (see the top of this file). */
	const char *p = (const char *)api + offsetof(lab_host_api, log);
	for (; p + sizeof(void (*)(void)) <= (const char *)api + LABT_API_END;
	     p += sizeof(void (*)(void))) {
		void (*fn)(void);
		memcpy(&fn, p, sizeof fn);
		if (!fn)
			labti_die("labt_new", "a member of the SDK table below LABT_API_END is not "
					     "implemented (sdk/plugin-test/labt_api.c)");
	}
}
