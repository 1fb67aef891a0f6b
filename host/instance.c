#include "instance.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker.h"
#include "clickhouse.h"
#include "cluster.h"
#include "crash.h"
#include "httpd.h"
#include "log.h"
#include "metrics.h"
#include "plugin_loader.h"
#include "services.h"
#include "storage.h"

struct instance *instance_of(lab_ctx *ctx) { return (struct instance *)ctx; }

const char *instance_name(const struct instance *inst) { return inst->name; }

int instance_accepts_work(const struct instance *inst)
{
	return inst->phase == INST_NEW || inst->phase == INST_READY ||
	       inst->phase == INST_RUNNING || inst->phase == INST_ONCE;
}

int instance_busy(const struct instance *inst) { return inst->n_ops || inst->n_works; }

static void once_reported(struct deferred *item)
{
	struct instance *inst = list_entry(item, struct instance, once_report);
	if (inst->once_done)
		inst->once_done(inst->owner, inst->once_status);
}

void instance_report_once(struct instance *inst, int status)
{
	if (inst->phase != INST_ONCE || inst->once_reported)
		return;
	inst->once_reported = 1;
	inst->once_status = status;
	defer_push(inst->svc->defer, &inst->once_report);
}

void instance_log_reported(struct instance *inst, int level, const char *msg, const lab_field *f,
			   size_t n)
{
	const char *error = NULL;
	if (!inst->error_report || level < LAB_LOG_WARN || !msg ||
	    !pthread_equal(pthread_self(), inst->loop_thread))
		return;
	for (size_t i = 0; f && i < n; i++)
		if (f[i].key && strcmp(f[i].key, "error") == 0 && f[i].type == LAB_FIELD_STR && f[i].s)
			error = f[i].s;
	if (level == LAB_LOG_WARN && !error)
		return; /* a warning about something else (dropped values, a reset) */
	char text[300];
	if (error)
		snprintf(text, sizeof text, "%s: %s", msg, error);
	else
		snprintf(text, sizeof text, "%s", msg);
	inst->error_report(inst->owner, text);
}

int instance_new(const struct host_services *svc, const char *name,
		 const config_setting_t *section, struct plugin_image *img, struct instance **out)
{
	struct instance *inst = calloc(1, sizeof *inst);
	if (!inst)
		return LAB_ENOMEM;
	inst->svc = svc;
	inst->name = name;
	inst->section = section;
	inst->img = img;
	inst->desc = img->desc;
	inst->phase = INST_NEW;
	inst->callbacks_allowed = 1;
	inst->loop_thread = pthread_self();
	list_init(&inst->timers);
	list_init(&inst->subs);
	list_init(&inst->ops);
	list_init(&inst->works);
	work_queue_init(&inst->wq, svc->loop, svc->work_max_per_plugin);
	uv_timer_init(svc->loop, &inst->drain_timer);
	inst->drain_timer.data = inst;
	deferred_init(&inst->once_report, once_reported);
	*out = inst;
	return 0;
}

int instance_init(struct instance *inst)
{
	void *self = NULL;
	int rc;
	CRASH_CALL(inst->name, "init", rc = inst->desc->init(&inst->pub, &self));
	if (rc < 0) {
		/* init failed: the plugin freed its own things; drop ours. */
		inst->callbacks_allowed = 0;
		struct list *p, *t;
		list_for_each_safe(p, t, &inst->timers)
			instance_timer_cancel(inst, list_entry(p, struct lab_timer, link));
		list_for_each_safe(p, t, &inst->subs)
			instance_remove_sub(list_entry(p, struct lab_sub, link));
		list_for_each_safe(p, t, &inst->ops)
			instance_op_cancel(inst, list_entry(p, struct lab_op, link));
		inst->phase = INST_DEAD;
		return rc;
	}
	inst->self = self;
	inst->phase = INST_READY;
	return 0;
}

int instance_start(struct instance *inst)
{
	if (inst->phase != INST_READY)
		return LAB_ESTATE;
	inst->phase = INST_RUNNING;
	int rc;
	CRASH_CALL(inst->name, "start", rc = inst->desc->start(inst->self));
	return rc;
}

int instance_once(struct instance *inst)
{
	if (inst->phase != INST_READY)
		return LAB_ESTATE;
	if (!inst->desc->once)
		return LAB_ENOTSUP;
	inst->phase = INST_ONCE;
	int rc;
	CRASH_CALL(inst->name, "once", rc = inst->desc->once(inst->self));
	return rc;
}

int instance_run(struct instance *inst)
{
	if (inst->phase != INST_RUNNING)
		return LAB_ESTATE;
	if (!inst->desc->run)
		return LAB_ENOTSUP;
	int rc;
	CRASH_CALL(inst->name, "run", rc = inst->desc->run(inst->self));
	return rc;
}

/* ---- timers ---------------------------------------------------------- */

static void timer_closed(uv_handle_t *h) { free(h->data); }

static void timer_release(lab_timer *t)
{
	if (t->dead)
		return;
	t->dead = 1;
	list_del(&t->link);
	uv_timer_stop(&t->h);
	uv_close((uv_handle_t *)&t->h, timer_closed);
}

static void timer_fired(uv_timer_t *h)
{
	lab_timer *t = h->data;
	struct instance *inst = t->inst;
	if (t->dead || !inst->callbacks_allowed)
		return;
	metric_add(inst->svc->metrics, M_TIMER_FIRES, 1, instance_name(inst));
	CRASH_CALL(inst->name, "timer callback", t->cb(&inst->pub, t, t->ud));
	/* t stays allocated until its close callback, even if cancelled above. */
	if (!t->repeat)
		timer_release(t);
}

int instance_timer_start(struct instance *inst, uint64_t delay, uint64_t repeat, lab_timer_cb cb,
			 void *ud, lab_timer **out)
{
	if (!cb)
		return LAB_EINVAL;
	if (!instance_accepts_work(inst))
		return LAB_ECANCELED;
	lab_timer *t = calloc(1, sizeof *t);
	if (!t)
		return LAB_ENOMEM;
	t->inst = inst;
	t->cb = cb;
	t->ud = ud;
	t->repeat = repeat;
	uv_timer_init(inst->svc->loop, &t->h);
	t->h.data = t;
	uv_timer_start(&t->h, timer_fired, delay, repeat);
	list_add_tail(&inst->timers, &t->link);
	if (out)
		*out = t;
	return 0;
}

int instance_timer_cancel(struct instance *inst, lab_timer *t)
{
	if (!t || t->inst != inst)
		return LAB_EINVAL;
	timer_release(t);
	return 0;
}

/* ---- subscriptions --------------------------------------------------- */

void instance_remove_sub(struct lab_sub *s)
{
	list_del(&s->link);
	broker_unsubscribe(s->bs);
	free(s);
}

/* ---- operations ------------------------------------------------------ */

struct lab_op *instance_op_new(struct instance *inst, int kind)
{
	struct lab_op *op = calloc(1, sizeof *op);
	if (!op)
		return NULL;
	op->inst = inst;
	op->kind = kind;
	list_add_tail(&inst->ops, &op->link);
	inst->n_ops++;
	return op;
}

static void drain_check(struct instance *inst);

int instance_op_finish(struct lab_op *op, struct instance **inst_out)
{
	struct instance *inst = op->inst;
	*inst_out = inst;
	if (!inst) {
		/* Detached by cancellation: nobody is waiting for this one. */
		free(op);
		return 0;
	}
	list_del(&op->link);
	inst->n_ops--;
	free(op);
	return inst->callbacks_allowed;
}

void instance_op_after(struct instance *inst)
{
	if (inst)
		drain_check(inst);
}

int instance_op_cancel(struct instance *inst, lab_op *op)
{
	if (!op || op->inst != inst)
		return LAB_EINVAL;
	list_del(&op->link);
	inst->n_ops--;
	if (op->kind == OP_STORAGE && op->inner) {
		/* The storage layer promises not to call back: free now. */
		storage_cancel(op->inner);
		free(op);
	} else if (op->kind == OP_QUERY && op->inner) {
		/* Same promise from the ClickHouse client. */
		clickhouse_cancel(op->inner);
		free(op);
	} else {
		/* Completion will still arrive; it finds the op detached. */
		op->inst = NULL;
	}
	return 0;
}

/* ---- work ------------------------------------------------------------ */

static void work_run(void *ud)
{
	struct lab_work *w = ud;
	/* On a worker: the frame is that thread's own. */
	CRASH_CALL(w->inst->name, "work function", w->fn(w->ud));
}

static void work_after(void *ud, int status)
{
	struct lab_work *w = ud;
	struct instance *inst = w->inst;
	list_del(&w->link);
	inst->n_works--;
	if (inst->callbacks_allowed) {
		if (w->done)
			CRASH_CALL(inst->name, "work done callback",
				   w->done(&inst->pub, status, w->ud));
	} else if (w->cancel) {
		/* Past the drain timeout: the plugin's last word on this item, so
		 * it can free it (lab_work_submit_cancel); destroy comes later. */
		CRASH_CALL(inst->name, "work cancel callback", w->cancel(w->ud));
	}
	free(w);
	drain_check(inst);
}

int instance_work_submit(struct instance *inst, lab_work_fn fn, lab_work_done_cb done,
			 lab_work_cancel_fn cancel, void *ud)
{
	if (!fn)
		return LAB_EINVAL;
	if (!instance_accepts_work(inst) && inst->phase != INST_DRAINING)
		return LAB_ECANCELED;
	struct lab_work *w = calloc(1, sizeof *w);
	if (!w)
		return LAB_ENOMEM;
	w->inst = inst;
	w->fn = fn;
	w->done = done;
	w->cancel = cancel;
	w->ud = ud;
	if (work_queue_submit(&inst->wq, &w->item, work_run, work_after, w) != 0) {
		free(w);
		return LAB_EIO;
	}
	list_add_tail(&inst->works, &w->link);
	inst->n_works++;
	return 0;
}

/* ---- stop and drain -------------------------------------------------- */

static void finish_stop(struct instance *inst)
{
	uv_timer_stop(&inst->drain_timer);
	inst->callbacks_allowed = 0;
	/* After the drain: give back its leases and claims (others may take
	 * them at once), drop its pending cluster requests. */
	cluster_forget(inst->svc->cluster, &inst->pub);
	inst->phase = INST_DEAD;
	if (inst->self)
		CRASH_CALL(inst->name, "destroy", inst->desc->destroy(inst->self));
	inst->self = NULL;
	if (inst->stopped_cb) {
		instance_stopped_cb cb = inst->stopped_cb;
		inst->stopped_cb = NULL;
		cb(inst, inst->stopped_ud);
	}
}

static void drain_check(struct instance *inst)
{
	if (inst->phase == INST_DRAINING && inst->n_ops == 0 && inst->n_works == 0)
		finish_stop(inst);
}

static void drain_expired(uv_timer_t *h)
{
	struct instance *inst = h->data;
	struct list *p, *t;
	log_kv(LAB_LOG_WARN, instance_name(inst), "drain timeout: cancelling in-flight work",
	       LAB_FI("ops", inst->n_ops), LAB_FI("work_items", inst->n_works));
	inst->callbacks_allowed = 0;
	list_for_each_safe(p, t, &inst->ops)
		instance_op_cancel(inst, list_entry(p, struct lab_op, link));
	/* Queued items can be cancelled; running ones must be waited for. */
	work_queue_cancel(&inst->wq);
	list_for_each_safe(p, t, &inst->works)
		uv_cancel((uv_req_t *)&list_entry(p, struct lab_work, link)->item.req);
	drain_check(inst);
}

int instance_stop(struct instance *inst, uint64_t drain_ms, instance_stopped_cb cb, void *ud)
{
	struct list *p, *t;
	if (inst->phase == INST_DRAINING) {
		inst->stopped_cb = cb; /* the new caller waits instead */
		inst->stopped_ud = ud;
		return 1;
	}
	inst->stopped_cb = NULL;
	if (inst->phase == INST_DEAD || inst->phase == INST_NEW) {
		inst->phase = INST_DEAD;
		finish_stop(inst);
		return 0;
	}
	int was_started = inst->phase == INST_RUNNING || inst->phase == INST_ONCE;
	inst->phase = INST_DRAINING;
	if (was_started) {
		int rc;
		CRASH_CALL(inst->name, "stop", rc = inst->desc->stop(inst->self));
		if (rc < 0)
			log_kv(LAB_LOG_WARN, instance_name(inst), "plugin stop reported an error",
			       LAB_FS("error", lab_strerror(rc)));
	}
	list_for_each_safe(p, t, &inst->timers)
		timer_release(list_entry(p, struct lab_timer, link));
	list_for_each_safe(p, t, &inst->subs)
		instance_remove_sub(list_entry(p, struct lab_sub, link));
	/* routes go, unanswered requests get 503, streams close (on_close now) */
	httpd_owner_stop(inst->svc->httpd, &inst->pub);
	if (!instance_busy(inst)) {
		finish_stop(inst);
		return 0;
	}
	inst->stopped_cb = cb;
	inst->stopped_ud = ud;
	uv_timer_start(&inst->drain_timer, drain_expired, drain_ms, 0);
	return 1;
}

static void inst_closed(uv_handle_t *h)
{
	struct instance *inst = h->data;
	plugin_image_close(inst->img);
	free(inst);
}

int instance_cluster_gate(lab_ctx *ctx)
{
	struct instance *inst = instance_of(ctx);
	return inst->callbacks_allowed && (inst->phase == INST_RUNNING || inst->phase == INST_ONCE ||
					   inst->phase == INST_DRAINING);
}

void instance_free(struct instance *inst)
{
	if (!inst)
		return;
	struct list *p, *t;
	defer_cancel(&inst->once_report);
	/* Never-started instances may still hold handles from init. */
	list_for_each_safe(p, t, &inst->timers)
		timer_release(list_entry(p, struct lab_timer, link));
	list_for_each_safe(p, t, &inst->subs)
		instance_remove_sub(list_entry(p, struct lab_sub, link));
	httpd_owner_stop(inst->svc->httpd, &inst->pub);
	cluster_forget(inst->svc->cluster, &inst->pub);
	/* Its metric families go with the plugin, except across a hot reload. */
	if (!inst->keep_metrics)
		metrics_plugin_drop(inst->svc->metrics, inst->name);
	uv_close((uv_handle_t *)&inst->drain_timer, inst_closed);
}
