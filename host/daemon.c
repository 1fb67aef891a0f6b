/* The daemon's set-up, modes, signals and shutdown.  The plugins' life
 * cycle is the registry's (slot.c); the admin handlers are in
 * daemon_admin.c. */
#include "daemon.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "admin.h"
#include "httpd.h"
#include "broker.h"
#include "buf.h"
#include "build_config.h"
#include "clickhouse.h"
#include "clock.h"
#include "cluster.h"
#include "config_json.h"
#include "connect_check.h"
#include "hostapi.h"
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

/* ---- periodic state flush ------------------------------------------------ */

static void flush_tick(uv_timer_t *h)
{
	struct daemon *d = h->data;
	for (size_t i = 0; i < d->reg.n_slots; i++) {
		struct state *st = d->reg.slots[i].state;
		if (st && state_dirty(st))
			state_flush(st, 0, NULL, NULL);
	}
}

/* ---- signals and shutdown ------------------------------------------------ */

static void close_handle(uv_handle_t *h)
{
	if (!uv_is_closing(h))
		uv_close(h, NULL);
}

static void shutdown_slot_done(struct slot *s) { slots_step_done(s->d); }

static void daemon_finish(struct daemon *d)
{
	if (d->admin) {
		admin_stop(d->admin);
		d->admin = NULL;
	}
	if (d->reg.svc.httpd) {
		httpd_free(d->reg.svc.httpd);
		d->reg.svc.httpd = NULL;
	}
	reload_stop(&d->reg); /* file watchers and debounce timers */
	slots_retry_close(&d->reg); /* planned restarts of failed plugins */
	heap_trim_stop(&d->trim);
	uv_timer_stop(&d->flush_timer);
	close_handle((uv_handle_t *)&d->flush_timer);
	close_handle((uv_handle_t *)&d->exit_timer);
	close_handle((uv_handle_t *)&d->once_timer);
	close_handle((uv_handle_t *)&d->sig_int);
	close_handle((uv_handle_t *)&d->sig_term);
	close_handle((uv_handle_t *)&d->sig_hup);
	if (d->reg.svc.cluster) {
		cluster_close(d->reg.svc.cluster); /* releases what is still held */
		d->reg.svc.cluster = NULL;
	}
	if (d->reg.svc.broker) {
		broker_close(d->reg.svc.broker);
		d->reg.svc.broker = NULL;
	}
}

/* Stops every slot, then finishes (the registry calls phase_done when the
 * last one has stopped and flushed).  Steps are counted from the loop, never
 * inside slot_deactivate(), so no hold is needed while they start. */
static void daemon_shutdown(struct daemon *d)
{
	if (!d->reg.stopping) {
		d->reg.stopping = 1;
		for (size_t i = 0; i < d->reg.n_slots; i++) {
			struct slot *s = &d->reg.slots[i];
			if (s->state_loading) {
				d->reg.pending++; /* state_loaded sees `stopping` and settles */
			} else if (s->inst || (s->state && state_dirty(s->state))) {
				d->reg.pending++;
				slot_deactivate(s, shutdown_slot_done);
			}
		}
	}
	if (d->reg.pending == 0)
		daemon_finish(d);
}

static void phase_done(void *owner) { daemon_shutdown(owner); }

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
		if (d->opts.mode == MODE_SERVE && !d->reg.stopping) {
			int rc = config_reload(&d->reg, d->opts.config_path, d->opts.overrides,
					       d->opts.n_overrides);
			metric_add(d->reg.svc.metrics, M_CONFIG_RELOADS, 1, rc == 0 ? "ok" : "error");
			if (rc == 0)
				reload_host_settings(d);
			return;
		}
		log_msg(LAB_LOG_WARN, NULL,
			"SIGHUP received: configuration reload only applies to the running service; ignored");
		return;
	}
	if (d->reg.stopping) {
		log_msg(LAB_LOG_WARN, NULL, "second signal: exiting without waiting");
		_exit(1);
	}
	log_kv(LAB_LOG_INFO, NULL, "shutting down", LAB_FS("signal", signum == SIGINT ? "SIGINT" : "SIGTERM"));
	/* Bound the whole shutdown: drain + state flush, with a margin. */
	uv_timer_start(&d->exit_timer, exit_now, slots_drain_ms(&d->reg) + 15000, 0);
	uv_unref((uv_handle_t *)&d->exit_timer);
	daemon_shutdown(d);
}

/* ---- the --once watchdog ---------------------------------------------------- */

/* once.timeout passed: name the plugins that never reported lab_done, end
 * their runs as failed (stop, drain, flush as usual) and bound the rest. */
static void once_expired(uv_timer_t *h)
{
	struct daemon *d = h->data;
	struct buf names = BUF_INIT;
	size_t n = 0;
	for (size_t i = 0; i < d->reg.n_slots; i++) {
		struct slot *s = &d->reg.slots[i];
		if (!s->selected || s->once_finished)
			continue;
		if (n++)
			buf_putc(&names, ',');
		buf_puts(&names, s->name);
	}
	if (n == 0) {
		buf_free(&names);
		return; /* everything reported; the run is ending anyway */
	}
	log_kv(LAB_LOG_ERROR, NULL, "--once timed out: these plugins never called lab_done",
	       LAB_FS("plugins", names.oom ? "?" : names.data),
	       LAB_FI("once_timeout_s", d->reg.cfg->host.once_timeout));
	buf_free(&names);
	d->exit_code = 1;
	for (size_t i = 0; i < d->reg.n_slots; i++) {
		struct slot *s = &d->reg.slots[i];
		if (s->selected && !s->once_finished && s->inst && s->inst->phase == INST_ONCE)
			instance_report_once(s->inst, LAB_ETIMEDOUT);
	}
	/* The stop is bounded by the drain; the whole exit by a margin on top. */
	uv_timer_start(&d->exit_timer, exit_now, slots_drain_ms(&d->reg) + 15000, 0);
	uv_unref((uv_handle_t *)&d->exit_timer);
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
	const struct host_conf *hc = &d->reg.cfg->host;
	size_t max = hc->n_plugins + d->opts.n_only;
	d->reg.slots = calloc(max ? max : 1, sizeof *d->reg.slots);
	if (!d->reg.slots)
		return LAB_ENOMEM;
	for (size_t i = 0; i < hc->n_plugins; i++) {
		struct slot *s = &d->reg.slots[d->reg.n_slots++];
		s->d = &d->reg;
		s->name = strdup(hc->plugins[i].name);
		s->path = strdup(hc->plugins[i].path);
		s->section = hc->plugins[i].section;
		s->cfg = config_ref(d->reg.cfg);
		s->enabled = hc->plugins[i].enabled;
		s->report.log_level = hc->plugins[i].log_level;
		s->selected = slot_wanted(d, s->name, s->enabled);
		if (!s->name || !s->path)
			return LAB_ENOMEM;
		s->status = PS_DISABLED;
		metrics_plugin_state(d->reg.svc.metrics, s->name, "disabled");
	}
	/* --plugin NAME for a plugin without a config section: defaults apply. */
	for (size_t i = 0; i < d->opts.n_only; i++) {
		const char *name = d->opts.only[i];
		if (slots_find(&d->reg, name))
			continue;
		struct slot *s = &d->reg.slots[d->reg.n_slots++];
		size_t n = strlen(hc->plugin_dir) + strlen(name) + 8;
		s->d = &d->reg;
		s->name = strdup(name);
		s->path = malloc(n);
		if (!s->name || !s->path)
			return LAB_ENOMEM;
		snprintf(s->path, n, "%s/%s.so", hc->plugin_dir, name);
		s->selected = 1;
		s->status = PS_DISABLED;
		s->report.log_level = -1;
	}
	return 0;
}

static void free_slots(struct daemon *d)
{
	for (size_t i = 0; i < d->reg.n_slots; i++) {
		state_free(d->reg.slots[i].state);
		config_free(d->reg.slots[i].cfg);
		free(d->reg.slots[i].name);
		free(d->reg.slots[i].path);
		slot_rollback_clear(&d->reg.slots[i]);
	}
	free(d->reg.slots);
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
	d->reg.mode = opts->mode;
	d->reg.phase_done = phase_done;
	d->reg.owner = d;
	if (!valid_only_names(opts)) {
		fprintf(stderr, "labd: --plugin takes a plugin name ([a-z0-9_]+)\n");
		free(d);
		return 2;
	}
	/* -t runs where the service's environment may be missing (a shell before
	 * `systemctl reload`): unset ${NAME}s are warnings there. */
	rc = config_load_flags(opts->config_path, opts->overrides, opts->n_overrides,
			       opts->mode == MODE_TEST ? CONFIG_ENV_UNSET_OK : 0, &d->reg.cfg, err,
			       sizeof err);
	if (rc) {
		fprintf(stderr, "labd: %s\n", err);
		free(d);
		return 1;
	}
	/* Held to the end: the services were opened from it, and hc points into it. */
	d->boot_cfg = config_ref(d->reg.cfg);
	d->applied_cfg = config_ref(d->reg.cfg);
	const struct host_conf *hc = &d->reg.cfg->host;
	log_setup(opts->debug ? LAB_LOG_DEBUG : hc->log_level, hc->log_format, 2);
	if (metrics_new(PACKAGE_VERSION, &d->reg.svc.metrics) < 0) {
		fprintf(stderr, "labd: out of memory\n");
		config_free(d->reg.cfg);
		config_free(d->boot_cfg);
		config_free(d->applied_cfg);
		free(d);
		return 1;
	}

	d->reg.svc.loop = malloc(sizeof *d->reg.svc.loop);
	if (!d->reg.svc.loop || uv_loop_init(d->reg.svc.loop) != 0) {
		fprintf(stderr, "labd: cannot create the event loop\n");
		goto out_early;
	}
	d->reg.svc.work_max_per_plugin = (size_t)hc->work_max_per_plugin;
	if (defer_init(&d->defer, d->reg.svc.loop) == 0)
		d->reg.svc.defer = &d->defer;
	else
		goto out_loop;
	rc = networks_load(hc, &d->reg.svc.nets, err, sizeof err);
	if (rc) {
		fprintf(stderr, "labd: %s\n", err);
		goto out_loop;
	}
	if (build_slots(d) < 0) {
		fprintf(stderr, "labd: out of memory\n");
		goto out_loop;
	}
	if (opts->mode != MODE_TEST) {
		rc = storage_open(d->reg.svc.loop, d->reg.svc.metrics, hc, &d->reg.svc.storage);
		if (rc) {
			fprintf(stderr, "labd: cannot open %s storage: %s\n", hc->storage_backend,
				lab_strerror(rc));
			goto out_loop;
		}
		rc = broker_open(d->reg.svc.loop, d->reg.svc.metrics, hc, &d->reg.svc.broker);
		if (rc) {
			fprintf(stderr, "labd: cannot open %s broker: %s\n", hc->broker_backend,
				lab_strerror(rc));
			goto out_loop;
		}
		rc = cluster_open(d->reg.svc.loop, d->reg.svc.metrics, hc, instance_cluster_gate,
				  &d->reg.svc.cluster);
		if (rc) {
			fprintf(stderr, "labd: cannot start the %s cluster backend: %s\n",
				hc->cluster_backend, lab_strerror(rc));
			goto out_loop;
		}
		rc = clickhouse_open(d->reg.svc.loop, d->reg.svc.metrics, hc, &d->reg.svc.ch);
		if (rc) {
			fprintf(stderr, "labd: cannot create the ClickHouse client: %s\n",
				lab_strerror(rc));
			goto out_loop;
		}
	}
	/* config_url networks: fetched (blocking, nothing runs yet), cached in storage. */
	rc = networks_fetch_urls(d->reg.svc.nets, d->reg.svc.loop, d->reg.svc.storage, err, sizeof err);
	if (rc) {
		fprintf(stderr, "labd: %s\n", err);
		if (d->reg.svc.storage)
			storage_close(d->reg.svc.storage); /* freed by the loop run at out_loop */
		d->reg.svc.storage = NULL;
		goto out_loop;
	}

	d->reg.cj = config_json_new(&d->reg.svc);
	if (!d->reg.cj)
		log_msg(LAB_LOG_ERROR, NULL, "out of memory: config.json will not be written");

	uv_signal_init(d->reg.svc.loop, &d->sig_int);
	uv_signal_init(d->reg.svc.loop, &d->sig_term);
	uv_signal_init(d->reg.svc.loop, &d->sig_hup);
	uv_timer_init(d->reg.svc.loop, &d->flush_timer);
	uv_timer_init(d->reg.svc.loop, &d->exit_timer);
	uv_timer_init(d->reg.svc.loop, &d->once_timer);
	d->sig_int.data = d->sig_term.data = d->sig_hup.data = d;
	d->flush_timer.data = d->exit_timer.data = d->once_timer.data = d;
	uv_signal_start(&d->sig_int, on_signal, SIGINT);
	uv_signal_start(&d->sig_term, on_signal, SIGTERM);
	uv_signal_start(&d->sig_hup, on_signal, SIGHUP);

	if (opts->mode != MODE_TEST &&
	    httpd_new(d->reg.svc.loop, d->reg.svc.metrics, &hostapi_table, &d->reg.svc.httpd) < 0)
		log_msg(LAB_LOG_ERROR, NULL, "out of memory: no HTTP services for plugins");
	if (opts->mode == MODE_SERVE && hc->http_listen[0] && d->reg.svc.httpd) {
		struct httpd_conf hcf = {
			.listen = hc->http_listen,
			.max_connections = hc->http_max_connections,
			.max_header_bytes = hc->http_max_header_bytes,
			.request_timeout_ms = hc->http_request_timeout * 1000,
			.idle_timeout_ms = hc->http_idle_timeout * 1000,
			.max_streams_per_ip = hc->http_max_streams_per_ip,
			.stream_buffer = hc->http_stream_buffer,
			.heartbeat_ms = hc->http_heartbeat * 1000,
			.max_ws_message = hc->http_max_ws_message,
		};
		rc = httpd_listen(d->reg.svc.httpd, &hcf);
		if (rc) {
			fprintf(stderr, "labd: cannot serve HTTP on %s: %s\n", hc->http_listen,
				lab_strerror(rc));
			d->exit_code = 1;
			daemon_finish(d);
			uv_run(d->reg.svc.loop, UV_RUN_DEFAULT);
			goto out_services;
		}
		log_kv(LAB_LOG_INFO, NULL, "HTTP listening", LAB_FS("listen", hc->http_listen),
		       LAB_FI("port", httpd_port(d->reg.svc.httpd)));
	}

	int want_admin = hc->admin_listen[0] &&
			 (opts->mode == MODE_SERVE || (opts->mode == MODE_ONCE && hc->admin_listen_set));
	if (want_admin) {
		rc = admin_start(d->reg.svc.loop, d->reg.svc.metrics, hc->admin_listen,
				 hc->admin_token, &daemon_admin_ops, &d->reg, &d->admin);
		if (rc) {
			fprintf(stderr, "labd: cannot serve the admin API on %s: %s\n",
				hc->admin_listen, lab_strerror(rc));
			d->exit_code = 1;
			daemon_finish(d);
			uv_run(d->reg.svc.loop, UV_RUN_DEFAULT);
			goto out_services;
		}
		log_kv(LAB_LOG_INFO, NULL, "admin API listening", LAB_FS("listen", hc->admin_listen),
		       LAB_FI("port", admin_port(d->admin)));
		/* /readyz asks ClickHouse itself, not only through plugins' queries. */
		clickhouse_probe_start(d->reg.svc.ch, (uint64_t)hc->ch_probe_interval * 1000);
	}

	log_kv(LAB_LOG_INFO, NULL, "labd starting", LAB_FS("version", PACKAGE_VERSION),
	       LAB_FS("config", hc->file),
	       LAB_FS("mode", opts->mode == MODE_SERVE ? "service" : opts->mode == MODE_ONCE ? "once" : "test"));

	if (opts->mode == MODE_SERVE) {
		/* Both series exist from the start, so increase() sees the first reload. */
		metric_add(d->reg.svc.metrics, M_CONFIG_RELOADS, 0, "ok");
		metric_add(d->reg.svc.metrics, M_CONFIG_RELOADS, 0, "error");
		if (hc->state_flush_interval > 0)
			uv_timer_start(&d->flush_timer, flush_tick,
				       (uint64_t)hc->state_flush_interval * 1000,
				       (uint64_t)hc->state_flush_interval * 1000);
		reload_setup(&d->reg); /* private-copy dir, plugin file watchers */
		/* Freed memory goes back to the kernel once a burst of work is over. */
		(void)heap_trim_start(&d->trim, d->reg.svc.loop, HEAP_TRIM_PERIOD_MS, HEAP_TRIM_SLACK);
		for (size_t i = 0; i < d->reg.n_slots; i++)
			if (d->reg.slots[i].enabled)
				slot_activate(&d->reg.slots[i]);
	} else {
		for (size_t i = 0; i < d->reg.n_slots; i++) {
			if (!d->reg.slots[i].selected)
				continue;
			d->reg.pending++;
			slot_activate(&d->reg.slots[i]);
		}
		if (opts->mode == MODE_ONCE) {
			/* Never keeps the loop alive itself: a finished run exits. */
			uv_timer_start(&d->once_timer, once_expired,
				       (uint64_t)hc->once_timeout * 1000, 0);
			uv_unref((uv_handle_t *)&d->once_timer);
		}
		if (d->reg.pending == 0)
			daemon_shutdown(d); /* nothing selected */
	}

	uv_run(d->reg.svc.loop, UV_RUN_DEFAULT);

	exit_code = d->exit_code;
	if (opts->mode != MODE_SERVE) {
		size_t n = 0;
		for (size_t i = 0; i < d->reg.n_slots; i++) {
			struct slot *s = &d->reg.slots[i];
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
		if (opts->mode == MODE_TEST && opts->connect && connect_check(hc) != 0)
			exit_code = 1;
	}

out_services:
	if (d->reg.svc.storage)
		storage_close(d->reg.svc.storage);
	uv_run(d->reg.svc.loop, UV_RUN_DEFAULT);
out_loop:
	if (d->reg.svc.defer)
		defer_close(d->reg.svc.defer);
	d->reg.svc.defer = NULL;
	if (d->reg.svc.ch)
		clickhouse_close(d->reg.svc.ch);
	d->reg.svc.ch = NULL;
	/* A start-up error after cluster_open: its check timer would keep the
	 * loop below running for ever. */
	if (d->reg.svc.cluster)
		cluster_close(d->reg.svc.cluster);
	d->reg.svc.cluster = NULL;
	if (d->reg.svc.broker)
		broker_close(d->reg.svc.broker);
	uv_run(d->reg.svc.loop, UV_RUN_DEFAULT);
	if (uv_loop_close(d->reg.svc.loop) != 0)
		log_msg(LAB_LOG_DEBUG, NULL, "event loop closed with handles still open");
	free_slots(d);
	networks_free(d->reg.svc.nets);
	config_json_free(d->reg.cj);
	reload_cleanup(&d->reg); /* pending reload images, private-copy dir */
	/* The last line of a run, so an operator can tell an exit from a hang
	 * (a -t run ends with its own verdict line instead). */
	if (opts->mode != MODE_TEST)
		log_kv(exit_code ? LAB_LOG_WARN : LAB_LOG_INFO, NULL, "labd exiting",
		       LAB_FI("exit_code", exit_code));
out_early:
	free(d->reg.svc.loop);
	metrics_free(d->reg.svc.metrics);
	config_free(d->reg.cfg);
	config_free(d->boot_cfg);
	config_free(d->applied_cfg);
	free(d);
	return exit_code;
}
