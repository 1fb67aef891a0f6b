#include "daemon.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "admin.h"
#include "broker.h"
#include "buf.h"
#include "build_config.h"
#include "clickhouse.h"
#include "clock.h"
#include "config_json.h"
#include "heap.h"
#include "instance.h"
#include "log.h"
#include "metrics.h"
#include "networks.h"
#include "plugin_loader.h"
#include "reload.h"
#include "state.h"
#include "storage.h"

/* Idle heap trim (heap.c): how often to look, and how much free heap to keep. */
#define HEAP_TRIM_PERIOD_MS 10000
#define HEAP_TRIM_SLACK (256u << 10)

static const char *const status_names[PS__COUNT] = { "loaded", "running", "stopping", "failed",
						      "disabled" };

const char *slot_status_name(int status)
{
	return status >= 0 && status < PS__COUNT ? status_names[status] : "unknown";
}

uint64_t daemon_drain_ms(const struct daemon *d)
{
	int64_t s = d->cfg->host.drain_timeout;
	return s > 0 ? (uint64_t)s * 1000 : 0;
}

static void daemon_shutdown(struct daemon *d);
static void slot_activate(struct slot *s);

static void slot_set_status(struct slot *s, int status)
{
	s->status = status;
	metrics_plugin_state(s->name, slot_status_name(status));
}

static void slot_fail(struct slot *s, const char *err)
{
	snprintf(s->last_error, sizeof s->last_error, "%s", err);
	slot_set_status(s, PS_FAILED);
	log_kv(LAB_LOG_ERROR, s->name, "plugin failed", LAB_FS("error", err));
}

/* lab.host.plugin: {"plugin","event","version","generation"} */
static void publish_plugin_event(struct slot *s, const char *event)
{
	struct daemon *d = s->d;
	if (!d->broker)
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
		broker_publish(d->broker, NULL, "host.plugin", b.data, b.len);
	buf_free(&b);
}

/* ---- --once bookkeeping ------------------------------------------------ */

static void phase_step_done(struct daemon *d)
{
	if (d->pending > 0)
		d->pending--;
	if (d->pending == 0 && (d->opts.mode != MODE_SERVE || d->stopping))
		daemon_shutdown(d);
}

/* An activation ended (failed, or cut short by shutdown) without a running instance. */
static void slot_settled(struct slot *s)
{
	if (s->d->opts.mode != MODE_SERVE || s->d->stopping)
		phase_step_done(s->d);
}

/* ---- deactivation: stop, drain, flush, unload -------------------------- */

struct deactivate {
	struct slot *s;
	void (*then)(struct slot *s);
};

static void deactivate_flushed(int status, void *ud)
{
	struct deactivate *da = ud;
	struct slot *s = da->s;
	if (status < 0)
		log_kv(LAB_LOG_ERROR, s->name, "state flush failed",
		       LAB_FS("error", lab_strerror(status)));
	if (da->then)
		da->then(s);
	free(da);
}

static void deactivate_stopped(struct instance *inst, void *ud)
{
	struct deactivate *da = ud;
	struct slot *s = da->s;
	s->inst = NULL;
	instance_free(inst);
	if (s->status != PS_FAILED)
		slot_set_status(s, s->enabled ? PS_LOADED : PS_DISABLED);
	log_kv(LAB_LOG_INFO, s->name, "plugin stopped", LAB_FI("generation", s->generation));
	publish_plugin_event(s, "stopped");
	if (s->state && state_flush(s->state, 0, deactivate_flushed, da) == 0)
		return;
	deactivate_flushed(0, da);
}

static void slot_deactivate(struct slot *s, void (*then)(struct slot *s))
{
	struct deactivate *da = calloc(1, sizeof *da);
	if (!da) {
		log_msg(LAB_LOG_ERROR, s->name, "out of memory while stopping");
		return;
	}
	da->s = s;
	da->then = then;
	if (!s->inst) {
		deactivate_flushed(0, da);
		return;
	}
	if (s->status != PS_FAILED)
		slot_set_status(s, PS_STOPPING);
	instance_stop(s->inst, daemon_drain_ms(s->d), deactivate_stopped, da);
}

static void after_phase_deactivate(struct slot *s) { phase_step_done(s->d); }

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

static void slot_started(struct slot *s)
{
	struct daemon *d = s->d;
	slot_set_status(s, PS_RUNNING);
	s->last_error[0] = '\0';
	log_kv(LAB_LOG_INFO, s->name, "plugin running", LAB_FS("version", s->version),
	       LAB_FI("generation", s->generation));
	publish_plugin_event(s, "started");
	/* lab.NAME.run is answered by the host for every plugin with a run callback. */
	if (d->broker && s->inst->desc->run) {
		char subj[96];
		snprintf(subj, sizeof subj, "%s.run", s->name);
		struct lab_sub *sub = calloc(1, sizeof *sub);
		if (sub && broker_subscribe(d->broker, s->name, subj, run_requested, s, &sub->bs) == 0) {
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
	slot_settled(s);
}

static void slot_begin(struct slot *s)
{
	struct daemon *d = s->d;
	struct instance *inst = s->inst;
	char err[600];
	int rc = instance_init(inst);
	if (rc < 0) {
		snprintf(err, sizeof err, "init failed: %s", lab_strerror(rc));
		slot_fail(s, err);
		publish_plugin_event(s, "failed");
		s->inst = NULL;
		instance_free(inst);
		if (d->opts.mode == MODE_ONCE) {
			s->once_finished = 1;
			s->once_status = rc;
		}
		slot_settled(s);
		return;
	}
	config_json_plugin_ready(d, s); /* its describe entry; rewrites config.json */
	if (d->opts.mode == MODE_TEST) {
		log_kv(LAB_LOG_INFO, s->name, "plugin ok", LAB_FS("version", s->version));
		slot_set_status(s, PS_LOADED);
		instance_stop(inst, 0, failed_stopped, s);
		return;
	}
	if (d->opts.mode == MODE_ONCE) {
		slot_set_status(s, PS_RUNNING);
		rc = instance_once(inst);
		if (rc == LAB_ENOTSUP) {
			s->once_finished = 1;
			s->once_status = rc;
			slot_fail(s, "plugin has no one-shot (--once) mode");
			instance_stop(inst, daemon_drain_ms(d), failed_stopped, s);
			return;
		}
		if (rc < 0 && !inst->once_reported) {
			/* once() failed without reporting: that is its result. */
			inst->once_reported = 1;
			daemon_once_done(d, s, rc);
		}
		return;
	}
	rc = instance_start(inst);
	if (rc < 0) {
		snprintf(err, sizeof err, "start failed: %s", lab_strerror(rc));
		slot_fail(s, err);
		publish_plugin_event(s, "failed");
		instance_stop(inst, daemon_drain_ms(d), failed_stopped, s);
		return;
	}
	slot_started(s);
}

static void state_loaded(int status, struct state *st, void *ud)
{
	struct slot *s = ud;
	struct daemon *d = s->d;
	s->state_loading = 0;
	if (status < 0 || !st) {
		char err[256];
		snprintf(err, sizeof err, "cannot load state: %s", lab_strerror(status));
		slot_fail(s, err);
		if (s->inst) {
			struct instance *inst = s->inst;
			s->inst = NULL;
			instance_free(inst);
		}
		if (d->opts.mode == MODE_ONCE) {
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

int daemon_slot_open_image(struct slot *s, struct plugin_image **out, char *err, size_t errlen)
{
	struct daemon *d = s->d;
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
	rc = config_validate_plugin(d->cfg, pc, img->desc->settings, err, errlen);
	if (rc) {
		plugin_image_close(img);
		return rc;
	}
	*out = img;
	return 0;
}

/* Loads the image and starts the chain; failures are recorded in the slot. */
static void slot_activate(struct slot *s)
{
	struct daemon *d = s->d;
	struct plugin_image *img = NULL;
	char err[600];
	int rc = daemon_slot_open_image(s, &img, err, sizeof err);
	if (rc) {
		slot_fail(s, err);
		if (d->opts.mode == MODE_ONCE) {
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
	rc = instance_new(d, s, img, &s->inst);
	if (rc) {
		plugin_image_close(img);
		slot_fail(s, lab_strerror(rc));
		slot_settled(s);
		return;
	}
	slot_set_status(s, PS_LOADED);
	log_kv(LAB_LOG_INFO, s->name, "plugin loaded", LAB_FS("version", s->version),
	       LAB_FS("path", s->path), LAB_FI("generation", s->generation));
	publish_plugin_event(s, "loaded");

	if (s->state || !d->storage) {
		slot_begin(s);
		return;
	}
	s->state_loading = 1;
	rc = state_load(d->storage, s->name, state_loaded, s);
	if (rc < 0)
		state_loaded(rc, NULL, s);
}

void daemon_once_done(struct daemon *d, struct slot *s, int status)
{
	s->once_finished = 1;
	s->once_status = status;
	if (status < 0)
		log_kv(LAB_LOG_ERROR, s->name, "one-shot run failed",
		       LAB_FS("error", lab_strerror(status)));
	else
		log_kv(LAB_LOG_INFO, s->name, "one-shot run finished");
	slot_deactivate(s, after_phase_deactivate);
}

/* Shared with reload.c / config_reload.c (daemon.h). */
void daemon_slot_status(struct slot *s, int status) { slot_set_status(s, status); }
void daemon_slot_event(struct slot *s, const char *event) { publish_plugin_event(s, event); }
void daemon_slot_started(struct slot *s) { slot_started(s); }
void daemon_slot_activate(struct slot *s) { slot_activate(s); }
void daemon_slot_deactivate(struct slot *s, void (*then)(struct slot *s))
{
	slot_deactivate(s, then);
}

/* ---- periodic state flush ------------------------------------------------ */

static void flush_tick(uv_timer_t *h)
{
	struct daemon *d = h->data;
	for (size_t i = 0; i < d->n_slots; i++) {
		struct state *st = d->slots[i].state;
		if (st && state_dirty(st))
			state_flush(st, 0, NULL, NULL);
	}
}

/* ---- admin --------------------------------------------------------------- */

static int admin_readyz(void *ud, struct buf *out)
{
	struct daemon *d = ud;
	struct buf reasons = BUF_INIT;
	int n = 0;
	const char *why;
	for (size_t i = 0; i < d->n_slots; i++) {
		struct slot *s = &d->slots[i];
		if (!s->enabled || s->status == PS_RUNNING)
			continue;
		char msg[700];
		snprintf(msg, sizeof msg, "plugin %s is %s%s%s", s->name, slot_status_name(s->status),
			 s->last_error[0] ? ": " : "", s->last_error);
		buf_puts(&reasons, n++ ? "," : "");
		buf_json_str(&reasons, msg, strlen(msg));
	}
	if (d->storage && storage_ready(d->storage, &why) != 0) {
		char msg[300];
		snprintf(msg, sizeof msg, "storage: %s", why ? why : "not ready");
		buf_puts(&reasons, n++ ? "," : "");
		buf_json_str(&reasons, msg, strlen(msg));
	}
	if (d->ch && clickhouse_ready(d->ch, &why) != 0) {
		char msg[300];
		snprintf(msg, sizeof msg, "clickhouse: %s", why ? why : "unreachable");
		buf_puts(&reasons, n++ ? "," : "");
		buf_json_str(&reasons, msg, strlen(msg));
	}
	if (d->broker && broker_ready(d->broker, &why) != 0) {
		char msg[300];
		snprintf(msg, sizeof msg, "broker: %s", why ? why : "not ready");
		buf_puts(&reasons, n++ ? "," : "");
		buf_json_str(&reasons, msg, strlen(msg));
	}
	if (d->stopping) {
		buf_puts(&reasons, n++ ? "," : "");
		buf_puts(&reasons, "\"daemon is stopping\"");
	}
	if (n == 0) {
		buf_puts(out, "{\"status\":\"ready\"}");
	} else {
		buf_puts(out, "{\"status\":\"not ready\",\"reasons\":[");
		buf_append(out, reasons.data, reasons.len);
		buf_puts(out, "]}");
	}
	buf_free(&reasons);
	return n == 0 ? 200 : 503;
}

static void slot_json(const struct slot *s, struct buf *b)
{
	char when[32] = "";
	char abi[16];
	buf_putc(b, '{');
	json_kv_str(b, "name", s->name, 0);
	json_kv_str(b, "version", s->version[0] ? s->version : NULL, 1);
	json_kv_str(b, "description", s->description[0] ? s->description : NULL, 1);
	snprintf(abi, sizeof abi, "%u.%u", s->inst ? s->inst->desc->abi_major : LAB_ABI_MAJOR,
		 s->inst ? s->inst->desc->abi_minor : 0);
	json_kv_str(b, "abi", s->inst ? abi : NULL, 1);
	json_kv_str(b, "state", slot_status_name(s->status), 1);
	buf_printf(b, ",\"enabled\":%s,\"generation\":%u", s->enabled ? "true" : "false",
		   s->generation);
	json_kv_str(b, "path", s->path, 1);
	if (s->loaded_at)
		clock_format_iso8601(s->loaded_at, when, sizeof when);
	json_kv_str(b, "loaded_at", s->loaded_at ? when : NULL, 1);
	json_kv_str(b, "last_error", s->last_error[0] ? s->last_error : NULL, 1);
	buf_putc(b, '}');
}

static int admin_plugins(void *ud, struct buf *out)
{
	struct daemon *d = ud;
	buf_putc(out, '[');
	for (size_t i = 0; i < d->n_slots; i++) {
		if (i)
			buf_putc(out, ',');
		slot_json(&d->slots[i], out);
	}
	buf_putc(out, ']');
	return 200;
}

static struct slot *find_slot(struct daemon *d, const char *name)
{
	for (size_t i = 0; i < d->n_slots; i++)
		if (strcmp(d->slots[i].name, name) == 0)
			return &d->slots[i];
	return NULL;
}

struct slot *daemon_find_slot(struct daemon *d, const char *name) { return find_slot(d, name); }

static int admin_error(struct buf *out, int code, const char *msg)
{
	buf_puts(out, "{\"error\":");
	buf_json_str(out, msg, strlen(msg));
	buf_putc(out, '}');
	return code;
}

static void after_admin_disable(struct slot *s) { (void)s; }

static int admin_action(void *ud, const char *name, const char *action, struct buf *out)
{
	struct daemon *d = ud;
	struct slot *s = find_slot(d, name);
	if (!s)
		return admin_error(out, 404, "no such plugin in the configuration");
	if (d->stopping)
		return admin_error(out, 409, "daemon is stopping");
	if (strcmp(action, "reload") == 0)
		return reload_admin(s, out);
	if (reload_busy(s))
		return admin_error(out, 409, "plugin is being reloaded; try again");
	if (strcmp(action, "run") == 0) {
		if (!s->inst || s->status != PS_RUNNING)
			return admin_error(out, 409, "plugin is not running");
		int rc = instance_run(s->inst);
		if (rc == LAB_ENOTSUP)
			return admin_error(out, 409, "plugin has no run callback");
		if (rc < 0)
			return admin_error(out, 500, lab_strerror(rc));
	} else if (strcmp(action, "enable") == 0) {
		if (s->status == PS_STOPPING || s->state_loading)
			return admin_error(out, 409, "plugin is busy; try again");
		s->enabled = 1;
		if (!s->inst) {
			s->last_error[0] = '\0';
			slot_activate(s);
			if (s->status == PS_FAILED)
				return admin_error(out, 500, s->last_error);
		}
		log_kv(LAB_LOG_INFO, s->name, "plugin enabled through the admin API");
	} else if (strcmp(action, "disable") == 0) {
		if (s->state_loading)
			return admin_error(out, 409, "plugin is busy; try again");
		s->enabled = 0;
		if (s->inst) {
			slot_deactivate(s, after_admin_disable);
		} else {
			slot_set_status(s, PS_DISABLED);
		}
		log_kv(LAB_LOG_INFO, s->name, "plugin disabled through the admin API");
	} else {
		return admin_error(out, 404, "unknown action");
	}
	buf_puts(out, "{\"plugin\":");
	buf_json_str(out, s->name, strlen(s->name));
	json_kv_str(out, "state", slot_status_name(s->status), 1);
	buf_printf(out, ",\"generation\":%u}", s->generation);
	return 200;
}

static const struct admin_ops admin_ops = {
	.readyz = admin_readyz,
	.plugins = admin_plugins,
	.plugin_action = admin_action,
};

/* ---- signals and shutdown ------------------------------------------------ */

static void close_handle(uv_handle_t *h)
{
	if (!uv_is_closing(h))
		uv_close(h, NULL);
}

static void shutdown_slot_done(struct slot *s) { phase_step_done(s->d); }

static void daemon_finish(struct daemon *d)
{
	if (d->admin) {
		admin_stop(d->admin);
		d->admin = NULL;
	}
	reload_stop(d); /* file watchers and debounce timers */
	heap_trim_stop();
	uv_timer_stop(&d->flush_timer);
	close_handle((uv_handle_t *)&d->flush_timer);
	close_handle((uv_handle_t *)&d->exit_timer);
	close_handle((uv_handle_t *)&d->sig_int);
	close_handle((uv_handle_t *)&d->sig_term);
	close_handle((uv_handle_t *)&d->sig_hup);
	if (d->broker) {
		broker_close(d->broker);
		d->broker = NULL;
	}
}

static void daemon_shutdown(struct daemon *d)
{
	if (!d->stopping) {
		d->stopping = 1;
		/* Held through the loop: a slot that stops synchronously must not
		 * finish the daemon (close the broker) before the next one stops. */
		d->pending = 1;
		for (size_t i = 0; i < d->n_slots; i++) {
			struct slot *s = &d->slots[i];
			if (s->state_loading) {
				d->pending++; /* state_loaded sees `stopping` and settles */
			} else if (s->inst) {
				d->pending++;
				slot_deactivate(s, shutdown_slot_done);
			} else if (s->state && state_dirty(s->state)) {
				d->pending++;
				slot_deactivate(s, shutdown_slot_done);
			}
		}
		if (--d->pending)
			return;
	}
	if (d->pending == 0)
		daemon_finish(d);
}

static void exit_now(uv_timer_t *h)
{
	struct daemon *d = h->data;
	log_msg(LAB_LOG_ERROR, NULL, "shutdown did not finish in time; exiting");
	_exit(d->exit_code ? d->exit_code : 1);
}

static void on_signal(uv_signal_t *h, int signum)
{
	struct daemon *d = h->data;
	if (signum == SIGHUP) {
		if (d->opts.mode == MODE_SERVE && !d->stopping) {
			config_reload(d);
			return;
		}
		log_msg(LAB_LOG_WARN, NULL,
			"SIGHUP received: configuration reload only applies to the running service; ignored");
		return;
	}
	if (d->stopping) {
		log_msg(LAB_LOG_WARN, NULL, "second signal: exiting without waiting");
		_exit(1);
	}
	log_kv(LAB_LOG_INFO, NULL, "shutting down", LAB_FS("signal", signum == SIGINT ? "SIGINT" : "SIGTERM"));
	/* Bound the whole shutdown: drain + state flush, with a margin. */
	uv_timer_start(&d->exit_timer, exit_now, daemon_drain_ms(d) + 15000, 0);
	uv_unref((uv_handle_t *)&d->exit_timer);
	daemon_shutdown(d);
}

/* ---- setup --------------------------------------------------------------- */

static int slot_wanted(const struct daemon *d, const char *name, int enabled)
{
	if (d->opts.n_only == 0)
		return enabled;
	for (size_t i = 0; i < d->opts.n_only; i++)
		if (strcmp(d->opts.only[i], name) == 0)
			return 1;
	return 0;
}

static int build_slots(struct daemon *d)
{
	const struct host_conf *hc = &d->cfg->host;
	size_t max = hc->n_plugins + d->opts.n_only;
	d->slots = calloc(max ? max : 1, sizeof *d->slots);
	if (!d->slots)
		return LAB_ENOMEM;
	for (size_t i = 0; i < hc->n_plugins; i++) {
		struct slot *s = &d->slots[d->n_slots++];
		s->d = d;
		s->name = strdup(hc->plugins[i].name);
		s->path = strdup(hc->plugins[i].path);
		s->section = hc->plugins[i].section;
		s->enabled = hc->plugins[i].enabled;
		s->selected = slot_wanted(d, s->name, s->enabled);
		if (!s->name || !s->path)
			return LAB_ENOMEM;
		s->status = PS_DISABLED;
		metrics_plugin_state(s->name, "disabled");
	}
	/* --plugin NAME for a plugin without a config section: defaults apply. */
	for (size_t i = 0; i < d->opts.n_only; i++) {
		const char *name = d->opts.only[i];
		if (find_slot(d, name))
			continue;
		struct slot *s = &d->slots[d->n_slots++];
		size_t n = strlen(hc->plugin_dir) + strlen(name) + 8;
		s->d = d;
		s->name = strdup(name);
		s->path = malloc(n);
		if (!s->name || !s->path)
			return LAB_ENOMEM;
		snprintf(s->path, n, "%s/%s.so", hc->plugin_dir, name);
		s->selected = 1;
		s->status = PS_DISABLED;
	}
	return 0;
}

static void free_slots(struct daemon *d)
{
	for (size_t i = 0; i < d->n_slots; i++) {
		state_free(d->slots[i].state);
		free(d->slots[i].name);
		free(d->slots[i].path);
	}
	free(d->slots);
}

static int valid_only_names(const struct daemon_opts *o)
{
	for (size_t i = 0; i < o->n_only; i++) {
		const char *p = o->only[i];
		if (!*p || strlen(p) > 64)
			return 0;
		for (; *p; p++)
			if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_'))
				return 0;
	}
	return 1;
}

int daemon_main(const struct daemon_opts *opts)
{
	struct daemon *d = calloc(1, sizeof *d);
	char err[1024];
	int rc, exit_code = 1;
	if (!d) {
		fprintf(stderr, "labd: out of memory\n");
		return 1;
	}
	d->opts = *opts;
	if (!valid_only_names(opts)) {
		fprintf(stderr, "labd: --plugin takes a plugin name ([a-z0-9_]+)\n");
		free(d);
		return 2;
	}
	rc = config_load(opts->config_path, opts->overrides, opts->n_overrides, &d->cfg, err,
			 sizeof err);
	if (rc) {
		fprintf(stderr, "labd: %s\n", err);
		free(d);
		return 1;
	}
	const struct host_conf *hc = &d->cfg->host;
	log_setup(opts->debug ? LAB_LOG_DEBUG : hc->log_level, hc->log_format, 2);
	if (metrics_init(PACKAGE_VERSION) < 0) {
		fprintf(stderr, "labd: out of memory\n");
		config_free(d->cfg);
		free(d);
		return 1;
	}
	metric_set(M_UP, 1);

	d->loop = malloc(sizeof *d->loop);
	if (!d->loop || uv_loop_init(d->loop) != 0) {
		fprintf(stderr, "labd: cannot create the event loop\n");
		goto out_early;
	}
	rc = networks_load(hc, &d->nets, err, sizeof err);
	if (rc) {
		fprintf(stderr, "labd: %s\n", err);
		goto out_loop;
	}
	if (build_slots(d) < 0) {
		fprintf(stderr, "labd: out of memory\n");
		goto out_loop;
	}
	if (opts->mode != MODE_TEST) {
		rc = storage_open(d->loop, hc, &d->storage);
		if (rc) {
			fprintf(stderr, "labd: cannot open %s storage: %s\n", hc->storage_backend,
				lab_strerror(rc));
			goto out_loop;
		}
		rc = broker_open(d->loop, hc, &d->broker);
		if (rc) {
			fprintf(stderr, "labd: cannot open %s broker: %s\n", hc->broker_backend,
				lab_strerror(rc));
			goto out_loop;
		}
		rc = clickhouse_open(d->loop, hc, &d->ch);
		if (rc) {
			fprintf(stderr, "labd: cannot create the ClickHouse client: %s\n",
				lab_strerror(rc));
			goto out_loop;
		}
	}
	/* config_url networks: fetched (blocking, nothing runs yet), cached in storage. */
	rc = networks_fetch_urls(d->nets, d->loop, d->storage, err, sizeof err);
	if (rc) {
		fprintf(stderr, "labd: %s\n", err);
		if (d->storage)
			storage_close(d->storage); /* freed by the loop run at out_loop */
		d->storage = NULL;
		goto out_loop;
	}

	uv_signal_init(d->loop, &d->sig_int);
	uv_signal_init(d->loop, &d->sig_term);
	uv_signal_init(d->loop, &d->sig_hup);
	uv_timer_init(d->loop, &d->flush_timer);
	uv_timer_init(d->loop, &d->exit_timer);
	d->sig_int.data = d->sig_term.data = d->sig_hup.data = d;
	d->flush_timer.data = d->exit_timer.data = d;
	uv_signal_start(&d->sig_int, on_signal, SIGINT);
	uv_signal_start(&d->sig_term, on_signal, SIGTERM);
	uv_signal_start(&d->sig_hup, on_signal, SIGHUP);

	int want_admin = hc->admin_listen[0] &&
			 (opts->mode == MODE_SERVE || (opts->mode == MODE_ONCE && hc->admin_listen_set));
	if (want_admin) {
		rc = admin_start(d->loop, hc->admin_listen, hc->admin_token, &admin_ops, d, &d->admin);
		if (rc) {
			fprintf(stderr, "labd: cannot serve the admin API on %s: %s\n",
				hc->admin_listen, lab_strerror(rc));
			d->exit_code = 1;
			daemon_finish(d);
			uv_run(d->loop, UV_RUN_DEFAULT);
			goto out_services;
		}
		log_kv(LAB_LOG_INFO, NULL, "admin API listening", LAB_FS("listen", hc->admin_listen),
		       LAB_FI("port", admin_port(d->admin)));
		/* /readyz asks ClickHouse itself, not only through plugins' queries. */
		clickhouse_probe_start(d->ch, (uint64_t)hc->ch_probe_interval * 1000);
	}

	log_kv(LAB_LOG_INFO, NULL, "labd starting", LAB_FS("version", PACKAGE_VERSION),
	       LAB_FS("config", hc->file),
	       LAB_FS("mode", opts->mode == MODE_SERVE ? "service" : opts->mode == MODE_ONCE ? "once" : "test"));

	if (opts->mode == MODE_SERVE) {
		if (hc->state_flush_interval > 0)
			uv_timer_start(&d->flush_timer, flush_tick,
				       (uint64_t)hc->state_flush_interval * 1000,
				       (uint64_t)hc->state_flush_interval * 1000);
		reload_setup(d); /* private-copy dir, plugin file watchers */
		/* Freed memory goes back to the kernel once a burst of work is over. */
		(void)heap_trim_start(d->loop, HEAP_TRIM_PERIOD_MS, HEAP_TRIM_SLACK);
		for (size_t i = 0; i < d->n_slots; i++)
			if (d->slots[i].enabled)
				slot_activate(&d->slots[i]);
	} else {
		d->pending = 1; /* held until every selected slot is started */
		for (size_t i = 0; i < d->n_slots; i++) {
			if (!d->slots[i].selected)
				continue;
			d->pending++;
			slot_activate(&d->slots[i]);
		}
		phase_step_done(d);
	}

	uv_run(d->loop, UV_RUN_DEFAULT);

	exit_code = d->exit_code;
	if (opts->mode != MODE_SERVE) {
		size_t n = 0;
		for (size_t i = 0; i < d->n_slots; i++) {
			struct slot *s = &d->slots[i];
			if (!s->selected)
				continue;
			n++;
			if (opts->mode == MODE_ONCE && (!s->once_finished || s->once_status < 0))
				exit_code = 1;
			if (opts->mode == MODE_TEST && s->status == PS_FAILED)
				exit_code = 1;
		}
		if (opts->mode == MODE_TEST)
			fprintf(stderr, "labd: %s: configuration %s, %zu plugin%s checked\n", hc->file,
				exit_code ? "has errors" : "ok", n, n == 1 ? "" : "s");
	}

out_services:
	if (d->storage)
		storage_close(d->storage);
	uv_run(d->loop, UV_RUN_DEFAULT);
out_loop:
	if (d->ch)
		clickhouse_close(d->ch);
	d->ch = NULL;
	if (d->broker)
		broker_close(d->broker);
	uv_run(d->loop, UV_RUN_DEFAULT);
	if (uv_loop_close(d->loop) != 0)
		log_msg(LAB_LOG_DEBUG, NULL, "event loop closed with handles still open");
	free_slots(d);
	networks_free(d->nets);
	config_json_free();
	reload_cleanup(d); /* pending reload images, retired configs, private-copy dir */
	/* The last line of a run, so an operator can tell an exit from a hang
	 * (a -t run ends with its own verdict line instead). */
	if (opts->mode != MODE_TEST)
		log_kv(exit_code ? LAB_LOG_WARN : LAB_LOG_INFO, NULL, "labd exiting",
		       LAB_FI("exit_code", exit_code));
out_early:
	free(d->loop);
	metrics_free();
	config_free(d->cfg);
	free(d);
	return exit_code;
}
