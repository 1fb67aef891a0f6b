/* The slot state machine (slot.h): activation (load, state, init,
 * start|once), deactivation (stop, drain, flush) and the lab.host.plugin
 * events.  Loop thread only. */
#include "slot.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "broker.h"
#include "buf.h"
#include "clock.h"
#include "config_json.h"
#include "hostapi.h"
#include "keyrules.h"
#include "instance.h"
#include "log.h"
#include "metrics.h"
#include "plugin_loader.h"
#include "state.h"

static const char *const status_names[PS__COUNT] = { "loaded", "running", "stopping", "failed",
						      "disabled" };

const char *slot_status_name(int status)
{
	return status >= 0 && status < PS__COUNT ? status_names[status] : "unknown";
}

uint64_t slots_drain_ms(const struct slots *d)
{
	int64_t s = d->cfg->host.drain_timeout;
	return s > 0 ? (uint64_t)s * 1000 : 0;
}


void slot_set_status(struct slot *s, int status)
{
	s->status = status;
	metrics_plugin_state(s->d->svc.metrics, s->name, slot_status_name(status));
}

void slot_note_error(struct slot *s, const char *text)
{
	snprintf(s->last_error, sizeof s->last_error, "%s", text);
	s->last_error_at = clock_now_ms();
}

void slot_fail(struct slot *s, const char *err, int rc, enum slot_retry retry)
{
	struct slots *d = s->d;
	slot_note_error(s, err);
	slot_set_status(s, PS_FAILED);
	int transient = retry == RETRY_ALWAYS || (retry == RETRY_BY_CODE && slot_error_transient(rc));
	uint64_t ms = transient ? slot_retry_schedule(s) : 0;
	/* One line, the same msg whatever follows: operators grep for it. */
	if (ms)
		log_kv(LAB_LOG_ERROR, s->name, "plugin failed", LAB_FS("error", err),
		       LAB_FS("restart", "automatic"), LAB_FI("restart_in_ms", ms),
		       LAB_FI("restarts", s->retries));
	else if (d->mode == MODE_SERVE && !d->stopping && s->enabled && !transient)
		log_kv(LAB_LOG_ERROR, s->name, "plugin failed", LAB_FS("error", err),
		       LAB_FS("restart", "manual (not a transient error)"));
	else
		log_kv(LAB_LOG_ERROR, s->name, "plugin failed", LAB_FS("error", err));
}

/* "WHAT: CODE" and, when the plugin logged an error while doing it, ": TEXT". */
static void fail_text(struct slot *s, const char *what, int rc, char *out, size_t len)
{
	if (s->reported[0])
		snprintf(out, len, "%s: %s: %s", what, lab_strerror(rc), s->reported);
	else
		snprintf(out, len, "%s: %s", what, lab_strerror(rc));
}

/* ---- SIGHUP rollback ----------------------------------------------------- */

void slot_rollback_clear(struct slot *s)
{
	config_free(s->rollback.cfg);
	free(s->rollback.path);
	s->rollback.cfg = NULL;
	s->rollback.path = NULL;
	s->rollback.section = NULL;
}

void slot_rollback_arm(struct slot *s)
{
	slot_rollback_clear(s);
	s->rollback.path = strdup(s->path);
	if (!s->rollback.path)
		return; /* out of memory: no rollback, the failure stays */
	s->rollback.section = s->section;
	s->rollback.cfg = config_ref(s->cfg);
}

/* An activation ended without a running instance: if a SIGHUP restart
 * armed a rollback, start the plugin again with the section it ran with.
 * 1 when it did (the slot's outcome is that activation's). */
static int slot_rollback(struct slot *s)
{
	if (!s->rollback.cfg)
		return 0;
	if (s->d->stopping || s->d->mode != MODE_SERVE) {
		slot_rollback_clear(s);
		return 0;
	}
	char why[sizeof s->last_error];
	snprintf(why, sizeof why, "%s", s->last_error);
	log_kv(LAB_LOG_ERROR, s->name,
	       "configuration reload: the plugin refused its new section; restarting it with the previous one",
	       LAB_FS("error", why));
	config_free(s->cfg);
	s->cfg = s->rollback.cfg;
	s->section = s->rollback.section;
	free(s->path);
	s->path = s->rollback.path;
	s->rollback.cfg = NULL;
	s->rollback.path = NULL;
	s->rollback.section = NULL;
	slot_activate(s);
	if (s->status == PS_RUNNING) { /* slot_started() cleared the new section's error */
		char msg[sizeof s->last_error];
		snprintf(msg, sizeof msg, "configuration reload failed: %.400s; the previous section runs",
			 why);
		slot_note_error(s, msg);
	}
	return 1;
}

/* lab.host.plugin: {"plugin","event","version","generation"} */
void slot_event(struct slot *s, const char *event)
{
	struct slots *d = s->d;
	if (!d->svc.broker)
		return;
	struct buf b = BUF_INIT;
	buf_puts(&b, "{\"plugin\":");
	buf_json_str(&b, s->name, strlen(s->name));
	buf_puts(&b, ",\"event\":");
	buf_json_str(&b, event, strlen(event));
	buf_puts(&b, ",\"version\":");
	buf_json_str(&b, s->version, strlen(s->version));
	buf_printf(&b, ",\"generation\":%u}", s->generation);
	if (!b.oom)
		broker_publish(d->svc.broker, NULL, "host.plugin", b.data, b.len);
	buf_free(&b);
}

/* ---- --once bookkeeping ------------------------------------------------ */

void slots_step_done(struct slots *d)
{
	if (d->pending > 0)
		d->pending--;
	if (d->pending == 0 && (d->mode != MODE_SERVE || d->stopping) && d->phase_done)
		d->phase_done(d->owner);
}

/* An activation ended (failed, or cut short by shutdown) without a running instance. */
static void settle_run(struct deferred *item)
{
	slots_step_done(list_entry(item, struct slot, settle)->d);
}

/* An activation ended (failed, or cut short by shutdown) without a running
 * instance: a step of the phase, counted on the next turn of the loop. */
static void slot_settled(struct slot *s)
{
	if (s->d->mode != MODE_SERVE || s->d->stopping) {
		if (!s->settle.fn)
			deferred_init(&s->settle, settle_run);
		defer_push(s->d->svc.defer, &s->settle);
	}
}

struct deactivate {
	struct slot *s;
	void (*then)(struct slot *s);
	struct deferred later; /* `then` runs from the loop, never inside slot_deactivate() */
};

static void deactivate_then(struct deferred *item)
{
	struct deactivate *da = list_entry(item, struct deactivate, later);
	if (da->then)
		da->then(da->s);
	free(da);
}

static void deactivate_flushed(int status, void *ud)
{
	struct deactivate *da = ud;
	struct slot *s = da->s;
	if (status < 0)
		log_kv(LAB_LOG_ERROR, s->name, "state flush failed",
		       LAB_FS("error", lab_strerror(status)));
	deferred_init(&da->later, deactivate_then);
	defer_push(s->d->svc.defer, &da->later);
}

static void deactivate_stopped(struct instance *inst, void *ud)
{
	struct deactivate *da = ud;
	struct slot *s = da->s;
	s->inst = NULL;
	instance_free(inst);
	s->report.n_progress = 0; /* a stopped plugin makes no progress */
	if (s->status != PS_FAILED)
		slot_set_status(s, s->enabled ? PS_LOADED : PS_DISABLED);
	log_kv(LAB_LOG_INFO, s->name, "plugin stopped", LAB_FI("generation", s->generation));
	slot_event(s, "stopped");
	if (s->state && state_flush(s->state, 0, deactivate_flushed, da) == 0)
		return;
	deactivate_flushed(0, da);
}

void slot_deactivate(struct slot *s, void (*then)(struct slot *s))
{
	struct deactivate *da = calloc(1, sizeof *da);
	if (!da) {
		log_msg(LAB_LOG_ERROR, s->name, "out of memory while stopping");
		return;
	}
	da->s = s;
	da->then = then;
	slot_retry_cancel(s); /* it stops (or restarts) for another reason */
	if (!s->inst) {
		deactivate_flushed(0, da);
		return;
	}
	if (s->status != PS_FAILED)
		slot_set_status(s, PS_STOPPING);
	struct instance *inst = s->inst;
	if (instance_stop(inst, slots_drain_ms(s->d), deactivate_stopped, da) == 0)
		deactivate_stopped(inst, da);
}

static void after_phase_deactivate(struct slot *s) { slots_step_done(s->d); }

/* ---- activation: load, state, init, start|once -------------------------- */

static void run_requested(const char *subject, const void *data, size_t len, void *ud)
{
	struct slot *s = ud;
	if (s->inst && s->inst->phase == INST_RUNNING) {
		int rc = instance_run(s->inst);
		if (rc < 0 && rc != LAB_ENOTSUP)
			log_kv(LAB_LOG_WARN, s->name, "run request failed",
			       LAB_FS("error", lab_strerror(rc)));
	}
}

void slot_started(struct slot *s)
{
	struct slots *d = s->d;
	slot_set_status(s, PS_RUNNING);
	s->last_error[0] = '\0';
	s->last_error_at = 0;
	s->retries = 0;
	slot_retry_cancel(s);
	slot_rollback_clear(s); /* the new section runs: nothing to go back to */
	log_kv(LAB_LOG_INFO, s->name, "plugin running", LAB_FS("version", s->version),
	       LAB_FI("generation", s->generation));
	slot_event(s, "started");
	/* lab.NAME.run is answered by the host for every plugin with a run callback. */
	if (d->svc.broker && s->inst->desc->run) {
		char subj[96];
		snprintf(subj, sizeof subj, "%s.run", s->name);
		struct lab_sub *sub = calloc(1, sizeof *sub);
		if (sub && broker_subscribe(d->svc.broker, s->name, subj, run_requested, s, &sub->bs) == 0) {
			sub->inst = s->inst;
			list_add_tail(&s->inst->subs, &sub->link);
		} else {
			free(sub);
		}
	}
}

static void failed_stopped(struct instance *inst, void *ud)
{
	struct slot *s = ud;
	if (s->inst == inst)
		s->inst = NULL;
	instance_free(inst);
	if (!slot_rollback(s))
		slot_settled(s);
}

static void slot_begin(struct slot *s)
{
	struct slots *d = s->d;
	struct instance *inst = s->inst;
	char err[600];
	inst->state = s->state; /* loaded by now (or no storage: -t) */
	s->reported[0] = '\0';
	int rc = instance_init(inst);
	if (rc < 0) {
		fail_text(s, "init failed", rc, err, sizeof err);
		slot_fail(s, err, rc, RETRY_BY_CODE);
		slot_event(s, "failed");
		s->inst = NULL;
		instance_free(inst);
		if (d->mode == MODE_ONCE) {
			s->once_finished = 1;
			s->once_status = rc;
		}
		if (!slot_rollback(s))
			slot_settled(s);
		return;
	}
	config_json_plugin_ready(d->cj, s); /* its describe entry; rewrites config.json */
	if (d->mode == MODE_TEST) {
		log_kv(LAB_LOG_INFO, s->name, "plugin ok", LAB_FS("version", s->version));
		slot_set_status(s, PS_LOADED);
		if (instance_stop(inst, 0, failed_stopped, s) == 0)
			failed_stopped(inst, s);
		return;
	}
	if (d->mode == MODE_ONCE) {
		slot_set_status(s, PS_RUNNING);
		rc = instance_once(inst);
		if (rc == LAB_ENOTSUP) {
			s->once_finished = 1;
			s->once_status = rc;
			slot_fail(s, "plugin has no one-shot (--once) mode", rc, RETRY_NEVER);
			if (instance_stop(inst, slots_drain_ms(d), failed_stopped, s) == 0)
				failed_stopped(inst, s);
			return;
		}
		if (rc < 0 && !inst->once_reported) {
			/* once() failed without reporting: that is its result. */
			inst->once_reported = 1;
			slot_once_done(s, rc);
		}
		return;
	}
	s->reported[0] = '\0';
	rc = instance_start(inst);
	if (rc < 0) {
		fail_text(s, "start failed", rc, err, sizeof err);
		slot_fail(s, err, rc, RETRY_BY_CODE);
		slot_event(s, "failed");
		if (instance_stop(inst, slots_drain_ms(d), failed_stopped, s) == 0)
			failed_stopped(inst, s);
		return;
	}
	slot_started(s);
}


/* The node part of the plugins' state key (docs/cluster.md): NULL off a
 * cluster (the single-daemon key state/modules/NAME.json); else
 * cluster.node, or the host name when it is not set (the default node
 * HOSTNAME:PID changes with every restart, the state must not), with any
 * byte a storage key segment cannot hold replaced by '_'. */
static const char *state_node(const struct config *cfg, char *out, size_t cap)
{
	const struct host_conf *hc = &cfg->host;
	if (!hc->cluster_backend || !strcmp(hc->cluster_backend, "none"))
		return NULL;
	if (hc->cluster_node && *hc->cluster_node) {
		snprintf(out, cap, "%s", hc->cluster_node);
	} else {
		snprintf(out, cap, "localhost");
		(void)gethostname(out, cap - 1);
		out[cap - 1] = '\0';
	}
	for (char *p = out; *p; p++)
		if (!key_plain_byte((unsigned char)*p) && *p != '.')
			*p = '_';
	if (!state_node_ok(out)) /* "", ".", ".." */
		snprintf(out, cap, "node");
	return out;
}

static void state_loaded(int status, struct state *st, void *ud)
{
	struct slot *s = ud;
	struct slots *d = s->d;
	s->state_loading = 0;
	if (status < 0 || !st) {
		char err[256];
		snprintf(err, sizeof err, "cannot load state: %s", lab_strerror(status));
		/* Storage failed, not the plugin: whatever the code, it may work later. */
		slot_fail(s, err, status, RETRY_ALWAYS);
		if (s->inst) {
			struct instance *inst = s->inst;
			s->inst = NULL;
			instance_free(inst);
		}
		if (d->mode == MODE_ONCE) {
			s->once_finished = 1;
			s->once_status = status < 0 ? status : LAB_EIO;
		}
		slot_settled(s);
		return;
	}
	s->state = st;
	if (d->stopping) {
		struct instance *inst = s->inst;
		s->inst = NULL;
		instance_free(inst);
		slot_set_status(s, PS_DISABLED);
		slot_settled(s);
		return;
	}
	slot_begin(s);
}

int slot_open_image(struct slot *s, struct plugin_image **out, char *err, size_t errlen)
{
	struct slots *d = s->d;
	struct plugin_image *img = NULL;
	/* Serve mode loads private copies (reload.c), so files may be overwritten in place. */
	int rc = plugin_image_open(s->name, s->path, d->copy_dir[0] ? d->copy_dir : NULL, &img, err,
				   errlen);
	if (rc)
		return rc;
	const struct plugin_conf *pc = config_plugin(d->cfg, s->name);
	struct plugin_conf tmp = { 0 };
	if (!pc) {
		tmp.name = s->name;
		tmp.path = s->path;
		pc = &tmp;
	}
	rc = config_validate_plugin_decls(d->cfg, pc, &img->decls, err, errlen);
	if (rc) {
		plugin_image_close(img);
		return rc;
	}
	*out = img;
	return 0;
}

void slot_activate(struct slot *s)
{
	struct slots *d = s->d;
	struct plugin_image *img = NULL;
	char err[600];
	slot_retry_cancel(s); /* this is the start a planned restart would make */
	int rc = slot_open_image(s, &img, err, sizeof err);
	if (rc) {
		/* A bad file is started again when it changes (reload.c). */
		slot_fail(s, err, rc, RETRY_BY_CODE);
		if (d->mode == MODE_ONCE) {
			s->once_finished = 1;
			s->once_status = rc;
		}
		slot_settled(s);
		return;
	}
	snprintf(s->version, sizeof s->version, "%s", img->desc->version);
	snprintf(s->description, sizeof s->description, "%s",
		 img->desc->description ? img->desc->description : "");
	s->generation++;
	s->loaded_at = clock_now_ms() / 1000;
	s->report.n_progress = 0;
	rc = instance_new(&d->svc, s->name, s->section, img, &s->inst);
	if (rc) {
		plugin_image_close(img);
		slot_fail(s, lab_strerror(rc), rc, RETRY_BY_CODE);
		slot_settled(s);
		return;
	}
	slot_bind(s, s->inst);
	slot_set_status(s, PS_LOADED);
	log_kv(LAB_LOG_INFO, s->name, "plugin loaded", LAB_FS("version", s->version),
	       LAB_FS("path", s->path), LAB_FI("generation", s->generation));
	slot_event(s, "loaded");

	if (s->state || !d->svc.storage) {
		slot_begin(s);
		return;
	}
	s->state_loading = 1;
	char node[STATE_NODE_MAX + 1];
	rc = state_load_node(d->svc.storage, d->svc.metrics, s->name,
			     state_node(d->cfg, node, sizeof node), state_loaded, s);
	if (rc < 0)
		state_loaded(rc, NULL, s);
}

static void once_reported(void *owner, int status) { slot_once_done(owner, status); }

/* The plugin logged an error (instance.h): last_error while it runs, and
 * the detail of a failing init/start. */
static void error_reported(void *owner, const char *text)
{
	struct slot *s = owner;
	snprintf(s->reported, sizeof s->reported, "%s", text);
	if (s->inst && s->inst->phase >= INST_RUNNING && s->inst->phase <= INST_ONCE)
		slot_note_error(s, text);
}

void slot_bind(struct slot *s, struct instance *inst)
{
	inst->pub.api = &hostapi_table;
	inst->state = s->state;
	inst->once_done = once_reported;
	inst->error_report = error_reported;
	inst->owner = s;
	inst->report = &s->report;
}

void slot_once_done(struct slot *s, int status)
{
	s->once_finished = 1;
	s->once_status = status;
	if (status < 0) {
		char err[sizeof s->last_error];
		fail_text(s, "one-shot run failed", status, err, sizeof err);
		slot_note_error(s, err);
		log_kv(LAB_LOG_ERROR, s->name, "one-shot run failed",
		       LAB_FS("error", lab_strerror(status)));
	}
	else
		log_kv(LAB_LOG_INFO, s->name, "one-shot run finished");
	slot_deactivate(s, after_phase_deactivate);
}


struct slot *slots_find(struct slots *d, const char *name)
{
	for (size_t i = 0; i < d->n_slots; i++)
		if (strcmp(d->slots[i].name, name) == 0)
			return &d->slots[i];
	return NULL;
}

