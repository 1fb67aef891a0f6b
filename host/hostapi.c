/* The function table handed to plugins (lab_host_api, ABI 1.3): thin
 * adapters from a plugin's ctx to the host services, enforcing the life
 * cycle rules of lab/plugin.h and keeping every resource owned by the
 * instance that asked for it. */
#include "hostapi.h"

#include <stdlib.h>
#include <string.h>

#include "broker.h"
#include "buf.h"
#include "ch_rows.h"
#include "clickhouse.h"
#include "clock.h"
#include "cluster.h"
#include "crash.h"
#include "config.h"
#include "instance.h"
#include "httpd.h"
#include "jsonw.h"
#include "keyseg.h"
#include "plugin_loader.h"
#include "log.h"
#include "metrics.h"
#include "networks.h"
#include "progress.h"
#include "services.h"
#include "state.h"
#include "storage.h"

static const lab_setting *settings_of(lab_ctx *ctx)
{
	return instance_of(ctx)->img->decls.settings; /* `settings` or converted `options` */
}

/* ---- log, clock ------------------------------------------------------ */

/* The plugin's own log_level when it has one, else the host's.  Thread-safe. */
static int plugin_log_level(lab_ctx *ctx)
{
	const struct plugin_report *r = instance_of(ctx)->report;
	int lv = r ? r->log_level : -1;
	return lv >= 0 ? lv : log_level();
}

static void api_log(lab_ctx *ctx, int level, const char *msg, const lab_field *f, size_t n)
{
	log_fields_at(plugin_log_level(ctx), level, instance_of(ctx)->name, msg, f, n);
	instance_log_reported(instance_of(ctx), level, msg, f, n);
}

static int api_log_enabled(lab_ctx *ctx, int level) { return level >= plugin_log_level(ctx); }

static int64_t api_now_ms(lab_ctx *ctx) { return clock_now_ms(); }

static uint64_t api_monotonic_ms(lab_ctx *ctx) { return clock_monotonic_ms(); }

/* ---- config ---------------------------------------------------------- */

static int api_cfg_string(lab_ctx *ctx, const lab_cfg *node, const char *path, const char **out)
{
	return cfgapi_string(instance_of(ctx)->section, settings_of(ctx), node, path, out);
}

static int api_cfg_int(lab_ctx *ctx, const lab_cfg *node, const char *path, int64_t *out)
{
	return cfgapi_int(instance_of(ctx)->section, settings_of(ctx), node, path, out);
}

static int api_cfg_bool(lab_ctx *ctx, const lab_cfg *node, const char *path, int *out)
{
	return cfgapi_bool(instance_of(ctx)->section, settings_of(ctx), node, path, out);
}

static int api_cfg_double(lab_ctx *ctx, const lab_cfg *node, const char *path, double *out)
{
	return cfgapi_double(instance_of(ctx)->section, settings_of(ctx), node, path, out);
}

static int api_cfg_duration(lab_ctx *ctx, const lab_cfg *node, const char *path, int64_t *out)
{
	return cfgapi_duration(instance_of(ctx)->section, settings_of(ctx), node, path, out);
}

static int api_cfg_count(lab_ctx *ctx, const lab_cfg *node, const char *path)
{
	return cfgapi_count(instance_of(ctx)->section, node, path);
}

static int api_cfg_elem(lab_ctx *ctx, const lab_cfg *node, const char *path, int index,
			const lab_cfg **out)
{
	return cfgapi_elem(instance_of(ctx)->section, node, path, index, out);
}

static const char *api_cfg_name(lab_ctx *ctx, const lab_cfg *node) { return cfgapi_name(node); }

static int api_cfg_where(lab_ctx *ctx, const lab_cfg *node, const char *path, const char **file,
			 int *line)
{
	return cfgapi_where(instance_of(ctx)->section, node, path, file, line);
}

/* ---- timers ---------------------------------------------------------- */

static int api_timer_start(lab_ctx *ctx, uint64_t delay, uint64_t repeat, lab_timer_cb cb,
			   void *ud, lab_timer **out)
{
	return instance_timer_start(instance_of(ctx), delay, repeat, cb, ud, out);
}

static int api_timer_cancel(lab_ctx *ctx, lab_timer *t)
{
	return instance_timer_cancel(instance_of(ctx), t);
}

/* ---- state ----------------------------------------------------------- */

static int api_state_get(lab_ctx *ctx, const char *key, const char **json, size_t *len)
{
	struct instance *s = instance_of(ctx);
	if (!key || !json)
		return LAB_EINVAL;
	if (!s->state)
		return LAB_ENOENT;
	return state_get(s->state, key, json, len);
}

static int api_state_set(lab_ctx *ctx, const char *key, const char *json, size_t len)
{
	struct instance *s = instance_of(ctx);
	if (!key || !json)
		return LAB_EINVAL;
	if (!s->state)
		return LAB_ESTATE;
	return state_set(s->state, key, json, len);
}

static int api_state_delete(lab_ctx *ctx, const char *key)
{
	struct instance *s = instance_of(ctx);
	if (!key)
		return LAB_EINVAL;
	if (!s->state)
		return LAB_ENOENT;
	return state_delete(s->state, key);
}

static void flush_done(int status, void *ud)
{
	struct lab_op *op = ud;
	lab_done_cb cb = op->done_cb;
	void *cud = op->ud;
	struct instance *inst;
	if (instance_op_finish(op, &inst) && cb)
		CRASH_CALL(inst->name, "state flush callback", cb(&inst->pub, status, cud));
	instance_op_after(inst);
}

static int api_state_flush(lab_ctx *ctx, lab_done_cb cb, void *ud)
{
	struct instance *inst = instance_of(ctx);
	if (!inst->state)
		return LAB_ESTATE;
	struct lab_op *op = instance_op_new(inst, OP_FLUSH);
	if (!op)
		return LAB_ENOMEM;
	op->done_cb = cb;
	op->ud = ud;
	int rc = state_flush(inst->state, 1, flush_done, op);
	if (rc < 0) {
		struct instance *dummy;
		instance_op_finish(op, &dummy);
	}
	return rc;
}

/* ---- storage --------------------------------------------------------- */

static void storage_done(int status, const void *data, size_t len, void *ud)
{
	struct lab_op *op = ud;
	lab_storage_cb cb = op->storage_cb;
	void *cud = op->ud;
	struct instance *inst;
	int put = op->is_put;
	int call = instance_op_finish(op, &inst);
	if (call && put && status == 0 && inst->report)
		inst->report->last_success_ms = clock_now_ms();
	if (call && cb)
		CRASH_CALL(inst->name, "storage callback", cb(&inst->pub, status, data, len, cud));
	instance_op_after(inst);
}

enum { SOP_PUT, SOP_GET, SOP_GET_RAW, SOP_EXISTS, SOP_DELETE };

static int storage_call(lab_ctx *ctx, int which, const char *key, const void *data, size_t len,
			const char *ctype, const char *cache, unsigned flags, lab_storage_cb cb,
			void *ud, lab_op **out)
{
	struct instance *inst = instance_of(ctx);
	struct storage *st = inst->svc->storage;
	if (!key)
		return LAB_EINVAL;
	if (!st)
		return LAB_ESTATE;
	if (!instance_accepts_work(inst) && inst->phase != INST_DRAINING)
		return LAB_ECANCELED;
	int rc = storage_key_check(key);
	if (rc < 0)
		return rc;
	struct lab_op *op = instance_op_new(inst, OP_STORAGE);
	if (!op)
		return LAB_ENOMEM;
	op->storage_cb = cb;
	op->ud = ud;
	op->is_put = which == SOP_PUT;
	struct storage_op *sop = NULL;
	const char *who = instance_name(inst);
	switch (which) {
	case SOP_PUT:
		rc = storage_put(st, who, key, data, len, ctype, cache, flags, storage_done, op, &sop);
		break;
	case SOP_GET:
		rc = storage_get(st, who, key, storage_done, op, &sop);
		break;
	case SOP_GET_RAW:
		rc = storage_get_flags(st, who, key, STORAGE_GET_RAW, storage_done, op, &sop);
		break;
	case SOP_EXISTS:
		rc = storage_exists(st, who, key, storage_done, op, &sop);
		break;
	default:
		rc = storage_delete(st, who, key, storage_done, op, &sop);
		break;
	}
	if (rc < 0) {
		struct instance *dummy;
		instance_op_finish(op, &dummy);
		return rc;
	}
	op->inner = sop;
	if (out)
		*out = op;
	return 0;
}

static int api_storage_put(lab_ctx *ctx, const char *key, const void *data, size_t len,
			   const char *ctype, const char *cache, unsigned flags, lab_storage_cb cb,
			   void *ud, lab_op **out)
{
	if (!data && len)
		return LAB_EINVAL;
	return storage_call(ctx, SOP_PUT, key, data, len, ctype, cache, flags, cb, ud, out);
}

static int api_storage_get(lab_ctx *ctx, const char *key, lab_storage_cb cb, void *ud,
			   lab_op **out)
{
	return storage_call(ctx, SOP_GET, key, NULL, 0, NULL, NULL, 0, cb, ud, out);
}

static int api_storage_get_raw(lab_ctx *ctx, const char *key, lab_storage_cb cb, void *ud,
			       lab_op **out)
{
	return storage_call(ctx, SOP_GET_RAW, key, NULL, 0, NULL, NULL, 0, cb, ud, out);
}

static int api_storage_exists(lab_ctx *ctx, const char *key, lab_storage_cb cb, void *ud,
			      lab_op **out)
{
	return storage_call(ctx, SOP_EXISTS, key, NULL, 0, NULL, NULL, 0, cb, ud, out);
}

static int api_storage_delete(lab_ctx *ctx, const char *key, lab_storage_cb cb, void *ud,
			      lab_op **out)
{
	return storage_call(ctx, SOP_DELETE, key, NULL, 0, NULL, NULL, 0, cb, ud, out);
}

/* ---- ClickHouse (host/clickhouse.c) ------------------------------------- */

static int query_rows(const lab_rows *batch, void *ud)
{
	struct lab_op *op = ud;
	struct instance *inst = op->inst;
	if (inst && inst->callbacks_allowed && op->rows_cb)
		CRASH_CALL(inst->name, "rows callback", op->rows_cb(&inst->pub, batch, op->ud));
	return 0;
}

/* A one-shot run gives up on ClickHouse at the first query that still could
 * not reach it after the client's bounded retries: the run has failed then
 * anyway (any failed query fails it), and letting each further query retry
 * on its own made `--once` take 16 s for 300 slots with ClickHouse down, and
 * about 100 h for the default backfill target. */
static void once_give_up(struct instance *inst, int status, const char *errmsg)
{
	if (!inst || inst->phase != INST_ONCE || inst->once_reported)
		return;
	if (status != LAB_EIO && status != LAB_ETIMEDOUT && status != LAB_EUNAVAIL)
		return;
	log_kv(LAB_LOG_ERROR, instance_name(inst), "ClickHouse unreachable; ending the one-shot run",
	       LAB_FS("error", errmsg && *errmsg ? errmsg : lab_strerror(status)));
	instance_report_once(inst, status);
}

static void query_done(int status, const char *errmsg, const lab_rows *rows, void *ud)
{
	struct lab_op *op = ud;
	lab_query_cb cb = op->query_cb;
	void *cud = op->ud;
	struct instance *inst;
	if (instance_op_finish(op, &inst)) {
		if (cb)
			CRASH_CALL(inst->name, "query callback",
				   cb(&inst->pub, status, errmsg, rows, cud));
		once_give_up(inst, status, errmsg);
	}
	instance_op_after(inst);
}

static int api_query(lab_ctx *ctx, const char *sql, const lab_param *params, size_t n,
		     unsigned flags, lab_rows_cb on_rows, lab_query_cb cb, void *ud, lab_op **out)
{
	struct instance *inst = instance_of(ctx);
	struct clickhouse *ch = inst->svc->ch;
	if (!sql || (n && !params) || (flags & ~(unsigned)LAB_QUERY_STREAM) ||
	    ((flags & LAB_QUERY_STREAM) && !on_rows))
		return LAB_EINVAL;
	if (!ch)
		return LAB_ESTATE;
	if (!instance_accepts_work(inst) && inst->phase != INST_DRAINING)
		return LAB_ECANCELED;
	struct lab_op *op = instance_op_new(inst, OP_QUERY);
	if (!op)
		return LAB_ENOMEM;
	op->query_cb = cb;
	op->rows_cb = on_rows;
	op->ud = ud;
	struct ch_query *q = NULL;
	int rc = clickhouse_query(ch, instance_name(inst), sql, params, n, flags, query_rows,
				  query_done, op, &q);
	if (rc < 0) {
		struct instance *dummy;
		instance_op_finish(op, &dummy);
		return rc;
	}
	op->inner = q;
	if (out)
		*out = op;
	return 0;
}

static int api_op_cancel(lab_ctx *ctx, lab_op *op)
{
	return instance_op_cancel(instance_of(ctx), op);
}

static size_t api_rows_count(const lab_rows *r) { return ch_rows_count(r); }
static size_t api_rows_columns(const lab_rows *r) { return ch_rows_columns(r); }
static const char *api_rows_column_name(const lab_rows *r, size_t c)
{
	return ch_rows_column_name(r, c);
}
static int api_rows_is_null(const lab_rows *r, size_t row, size_t c)
{
	return ch_rows_is_null(r, row, c);
}
static int api_rows_str(const lab_rows *r, size_t row, size_t c, const char **s, size_t *l)
{
	return ch_rows_str(r, row, c, s, l);
}
static int api_rows_i64(const lab_rows *r, size_t row, size_t c, int64_t *o)
{
	return ch_rows_i64(r, row, c, o);
}
static int api_rows_u64(const lab_rows *r, size_t row, size_t c, uint64_t *o)
{
	return ch_rows_u64(r, row, c, o);
}
static int api_rows_f64(const lab_rows *r, size_t row, size_t c, double *o)
{
	return ch_rows_f64(r, row, c, o);
}

/* ---- broker ---------------------------------------------------------- */

static int api_publish(lab_ctx *ctx, const char *subject, const void *data, size_t len)
{
	struct instance *inst = instance_of(ctx);
	if (!subject || (!data && len))
		return LAB_EINVAL;
	if (!inst->svc->broker)
		return LAB_ESTATE;
	if (inst->phase == INST_DEAD)
		return LAB_ECANCELED;
	return broker_publish(inst->svc->broker, instance_name(inst), subject, data, len);
}

static void sub_deliver(const char *subject, const void *data, size_t len, void *ud)
{
	struct lab_sub *s = ud;
	if (s->inst->callbacks_allowed && s->inst->phase != INST_DRAINING)
		CRASH_CALL(s->inst->name, "message callback",
			   s->cb(&s->inst->pub, subject, data, len, s->ud));
}

static int api_subscribe(lab_ctx *ctx, const char *subject, lab_msg_cb cb, void *ud,
			 lab_sub **out)
{
	struct instance *inst = instance_of(ctx);
	if (!subject || !cb)
		return LAB_EINVAL;
	if (!inst->svc->broker)
		return LAB_ESTATE;
	if (!instance_accepts_work(inst))
		return LAB_ECANCELED;
	struct lab_sub *s = calloc(1, sizeof *s);
	if (!s)
		return LAB_ENOMEM;
	s->inst = inst;
	s->cb = cb;
	s->ud = ud;
	int rc = broker_subscribe(inst->svc->broker, instance_name(inst), subject, sub_deliver, s,
				  &s->bs);
	if (rc < 0) {
		free(s);
		return rc;
	}
	list_add_tail(&inst->subs, &s->link);
	if (out)
		*out = s;
	return 0;
}

static int api_unsubscribe(lab_ctx *ctx, lab_sub *s)
{
	if (!s || s->inst != instance_of(ctx))
		return LAB_EINVAL;
	instance_remove_sub(s);
	return 0;
}

/* ---- networks -------------------------------------------------------- */

static size_t api_network_count(lab_ctx *ctx)
{
	const struct host_services *d = instance_of(ctx)->svc;
	return d->nets ? networks_count(d->nets) : 0;
}

static const lab_network *api_network_at(lab_ctx *ctx, size_t i)
{
	const struct host_services *d = instance_of(ctx)->svc;
	return d->nets ? networks_at(d->nets, i) : NULL;
}

static const lab_network *api_network_find(lab_ctx *ctx, const char *name)
{
	const struct host_services *d = instance_of(ctx)->svc;
	return d->nets && name ? networks_find(d->nets, name) : NULL;
}

/* ---- work, done, identity --------------------------------------------- */

static int api_work_submit(lab_ctx *ctx, lab_work_fn fn, lab_work_done_cb done, void *ud)
{
	return instance_work_submit(instance_of(ctx), fn, done, NULL, ud);
}

static void api_done(lab_ctx *ctx, int status)
{
	instance_report_once(instance_of(ctx), status);
}

static const char *api_plugin_name(lab_ctx *ctx) { return instance_of(ctx)->name; }

/* ---- ABI 1.1 ----------------------------------------------------------- */

static int api_cfg_bind(lab_ctx *ctx, const lab_cfg *node, void *base)
{
	return cfgapi_bind(instance_of(ctx)->section, &instance_of(ctx)->img->decls, node, base);
}

static void api_cfg_error(lab_ctx *ctx, const lab_cfg *node, const char *path, const char *msg)
{
	char line[1536];
	cfgapi_error(instance_of(ctx)->section, settings_of(ctx), instance_of(ctx)->name, node, path, msg,
		     line, sizeof line);
	log_fields(LAB_LOG_ERROR, instance_of(ctx)->name, line, NULL, 0);
	instance_log_reported(instance_of(ctx), LAB_LOG_ERROR, line, NULL, 0);
}

static int api_key_segment(lab_ctx *ctx, const char *name, size_t len, unsigned flags, char *out,
			   size_t cap)
{
	return keyseg_make(name, len, flags, out, cap);
}

static int api_key_segment_check(lab_ctx *ctx, const char *s, size_t len, unsigned flags)
{
	return keyseg_check(s, len, flags);
}

/* ---- ABI 1.2 ----------------------------------------------------------- */

static int api_metric_register(lab_ctx *ctx, int type, const char *name, const char *help,
			       const char *const *labels, lab_metric **out)
{
	struct instance *inst = instance_of(ctx);
	struct metric_family *f = NULL;
	if (!out)
		return LAB_EINVAL;
	*out = NULL;
	int rc = metrics_plugin_register(inst->svc->metrics, inst->name, type, name, help, labels,
					 &f);
	if (rc == 0)
		*out = (lab_metric *)f; /* the plugin's handle is the family itself */
	return rc;
}

static int api_metric_update(lab_ctx *ctx, lab_metric *metric, int op, double v,
			     const char *const *values)
{
	struct instance *inst = instance_of(ctx);
	int limit_hit = 0;
	int rc = metrics_plugin_update(inst->svc->metrics, inst->name, (struct metric_family *)metric,
				       op, v, values, &limit_hit);
	if (limit_hit && inst->report && !inst->report->series_warned) {
		inst->report->series_warned = 1;
		log_kv(LAB_LOG_WARN, inst->name,
		       "metric series limit reached; new label values are dropped",
		       LAB_FI("limit", LAB_METRIC_MAX_SERIES));
	}
	return rc;
}

static int api_progress(lab_ctx *ctx, const char *what, double done, double total,
			double per_second)
{
	struct plugin_report *r = instance_of(ctx)->report;
	return progress_set(r ? r->progress : NULL, r ? &r->n_progress : NULL, what, done, total,
			    per_second, clock_now_ms());
}

/* ---- ABI 1.3 ----------------------------------------------------------- */

static lab_json *api_json_new(lab_ctx *ctx) { return jsonw_new(); }

static int api_cfg_duration_ms(lab_ctx *ctx, const lab_cfg *node, const char *path, int64_t *ms)
{
	return cfgapi_duration_ms(instance_of(ctx)->section, settings_of(ctx), node, path, ms);
}

static int api_work_submit_cancel(lab_ctx *ctx, lab_work_fn fn, lab_work_done_cb done,
				  lab_work_cancel_fn cancel, void *ud)
{
	return instance_work_submit(instance_of(ctx), fn, done, cancel, ud);
}

/* ---- HTTP (1.4): httpd.c; the plugin's name labels its metrics ---------- */

static int api_http_route(lab_ctx *ctx, const char *method, const char *pattern, lab_http_cb cb,
			  void *ud, lab_route **out)
{
	struct instance *inst = instance_of(ctx);
	if (!inst->svc->httpd)
		return LAB_ENOTSUP;
	return httpd_route(inst->svc->httpd, ctx, instance_name(inst), method, pattern, cb, ud, out);
}

static int api_http_respond(lab_ctx *ctx, lab_http_req *req, const lab_http_response *resp)
{
	return httpd_respond(ctx, req, resp);
}

static int api_stream_open(lab_ctx *ctx, lab_http_req *req, int kind, const char *const *headers,
			   lab_stream_msg_cb on_msg, lab_stream_close_cb on_close, void *ud,
			   lab_stream **out)
{
	return httpd_stream_open(ctx, req, kind, headers, on_msg, on_close, ud, out);
}

static int api_stream_send(lab_ctx *ctx, lab_stream *s, const char *event, const char *id,
			   const void *data, size_t len)
{
	return httpd_stream_send(ctx, s, event, id, data, len);
}

static int api_stream_close(lab_ctx *ctx, lab_stream *s, int code)
{
	return httpd_stream_close(ctx, s, code);
}

/* ---- cluster (1.5) ------------------------------------------------------ */

static struct cluster *cluster_for(lab_ctx *ctx, struct instance **out)
{
	struct instance *inst = instance_of(ctx);
	*out = inst;
	return inst->phase == INST_DEAD ? NULL : inst->svc->cluster;
}

static int api_lease_hold(lab_ctx *ctx, const char *name, lab_lease_cb cb, void *ud,
			  lab_lease **out)
{
	struct instance *inst;
	struct cluster *c = cluster_for(ctx, &inst);
	return c ? cluster_lease_hold(c, ctx, inst->name, name, cb, ud, out) : LAB_ESTATE;
}

static int api_lease_valid(lab_ctx *ctx, const lab_lease *l)
{
	struct instance *inst;
	struct cluster *c = cluster_for(ctx, &inst);
	return c ? cluster_lease_valid(c, ctx, l) : 0;
}

static int api_lease_release(lab_ctx *ctx, lab_lease *l)
{
	struct instance *inst;
	struct cluster *c = cluster_for(ctx, &inst);
	return c ? cluster_lease_release(c, ctx, l) : LAB_EINVAL;
}

static int api_claim_acquire(lab_ctx *ctx, const char *name, lab_claim_cb cb, void *ud)
{
	struct instance *inst;
	struct cluster *c = cluster_for(ctx, &inst);
	return c ? cluster_claim(c, ctx, inst->name, name, cb, ud) : LAB_ESTATE;
}

static int api_claim_valid(lab_ctx *ctx, const lab_claim *cl)
{
	struct instance *inst;
	struct cluster *c = cluster_for(ctx, &inst);
	return c ? cluster_claim_valid(c, ctx, cl) : 0;
}

static int api_claim_finish(lab_ctx *ctx, lab_claim *cl, int completed)
{
	struct instance *inst;
	struct cluster *c = cluster_for(ctx, &inst);
	return c ? cluster_claim_finish(c, ctx, cl, completed) : LAB_EINVAL;
}

/* backend none: shared state is the plugin's own state under the same key. */
static int api_shared_get(lab_ctx *ctx, const char *key, lab_shared_cb cb, void *ud)
{
	struct instance *inst;
	struct cluster *c = cluster_for(ctx, &inst);
	if (!c)
		return LAB_ESTATE;
	if (!cluster_is_local(c))
		return cluster_shared_get(c, ctx, inst->name, key, cb, ud);
	if (!cb || !cluster_name_ok(key))
		return LAB_EINVAL;
	const char *json = NULL;
	size_t len = 0;
	int rc = inst->state ? state_get(inst->state, key, &json, &len) : LAB_ENOENT;
	uint64_t rev = cluster_local_rev(c, ctx, inst->name, key, rc == 0, 0);
	return cluster_local_answer(c, ctx, inst->name, rc == 0 ? 0 : LAB_ENOENT, rc ? NULL : json,
				    rc ? 0 : len, rc ? 0 : rev, cb, ud);
}

static int api_shared_cas(lab_ctx *ctx, const char *key, const char *json, size_t len,
			  uint64_t revision, lab_shared_cb cb, void *ud)
{
	struct instance *inst;
	struct cluster *c = cluster_for(ctx, &inst);
	if (!c)
		return LAB_ESTATE;
	if (!cluster_is_local(c))
		return cluster_shared_cas(c, ctx, inst->name, key, json, len, revision, cb, ud);
	if (!cb || !json || !cluster_name_ok(key))
		return LAB_EINVAL;
	if (!inst->state)
		return LAB_ESTATE;
	const char *cur = NULL;
	size_t curlen = 0;
	int exists = state_get(inst->state, key, &cur, &curlen) == 0;
	uint64_t rev = cluster_local_rev(c, ctx, inst->name, key, exists, 0);
	if (rev != revision) {
		metric_add(inst->svc->metrics, M_CLUSTER_CAS_CONFLICTS, 1, inst->name);
		return cluster_local_answer(c, ctx, inst->name, LAB_EEXIST, exists ? cur : NULL,
					    exists ? curlen : 0, rev, cb, ud);
	}
	int rc = state_set(inst->state, key, json, len);
	if (rc)
		return rc;
	rev = cluster_local_rev(c, ctx, inst->name, key, 1, 1);
	return cluster_local_answer(c, ctx, inst->name, 0, NULL, 0, rev, cb, ud);
}

static const char *api_cluster_backend(lab_ctx *ctx)
{
	return cluster_backend_name(instance_of(ctx)->svc->cluster);
}

static const char *api_cluster_node(lab_ctx *ctx)
{
	return cluster_node_id(instance_of(ctx)->svc->cluster);
}

const lab_host_api hostapi_table = {
	.size = sizeof(lab_host_api),
	.abi_major = LAB_ABI_MAJOR,
	.abi_minor = LAB_ABI_MINOR,
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
	.rows_column_name = api_rows_column_name,
	.rows_is_null = api_rows_is_null,
	.rows_str = api_rows_str,
	.rows_i64 = api_rows_i64,
	.rows_u64 = api_rows_u64,
	.rows_f64 = api_rows_f64,
	.publish = api_publish,
	.subscribe = api_subscribe,
	.unsubscribe = api_unsubscribe,
	.network_count = api_network_count,
	.network_at = api_network_at,
	.network_find = api_network_find,
	.network_name = network_name,
	.network_genesis_time = network_genesis_time,
	.network_seconds_per_slot = network_seconds_per_slot,
	.network_slots_per_epoch = network_slots_per_epoch,
	.network_fork_epoch = network_fork_epoch,
	.network_entity = network_entity,
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
	.http_method = httpd_req_method,
	.http_path = httpd_req_path,
	.http_query = httpd_req_query,
	.http_header = httpd_req_header,
	.http_respond = api_http_respond,
	.stream_open = api_stream_open,
	.stream_send = api_stream_send,
	.stream_close = api_stream_close,
	.storage_get_raw = api_storage_get_raw,
	.lease_hold = api_lease_hold,
	.lease_valid = api_lease_valid,
	.lease_release = api_lease_release,
	.claim_acquire = api_claim_acquire,
	.claim_valid = api_claim_valid,
	.claim_finish = api_claim_finish,
	.shared_get = api_shared_get,
	.shared_cas = api_shared_cas,
	.cluster_backend = api_cluster_backend,
	.cluster_node = api_cluster_node,
};
