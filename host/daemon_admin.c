/* The admin API's answers about plugins (SPEC §4.4): /readyz, /plugins
 * and POST /plugins/NAME/{reload,enable,disable,run}, with their JSON.
 * The handlers' `ud` is the daemon's registry (struct slots). */
#include "daemon.h"

#include <stdio.h>
#include <string.h>

#include "admin.h"
#include "broker.h"
#include "buf.h"
#include "clickhouse.h"
#include "clock.h"
#include "instance.h"
#include "log.h"
#include "reload.h"
#include "slot.h"
#include "storage.h"

/* One reason of /readyz: "WHAT: WHY" as a JSON string, comma-separated. */
static void add_reason(struct buf *reasons, int *n, const char *what, const char *why)
{
	char msg[300];
	snprintf(msg, sizeof msg, "%s: %s", what, why);
	buf_puts(reasons, (*n)++ ? "," : "");
	buf_json_str(reasons, msg, strlen(msg));
}

static int admin_readyz(void *ud, struct buf *out)
{
	struct slots *d = ud;
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
	if (d->svc.storage && storage_ready(d->svc.storage, &why) != 0)
		add_reason(&reasons, &n, "storage", why ? why : "not ready");
	if (d->svc.ch && clickhouse_ready(d->svc.ch, &why) != 0)
		add_reason(&reasons, &n, "clickhouse", why ? why : "unreachable");
	if (d->svc.broker && broker_ready(d->svc.broker, &why) != 0)
		add_reason(&reasons, &n, "broker", why ? why : "not ready");
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
	struct slots *d = ud;
	buf_putc(out, '[');
	for (size_t i = 0; i < d->n_slots; i++) {
		if (i)
			buf_putc(out, ',');
		slot_json(&d->slots[i], out);
	}
	buf_putc(out, ']');
	return 200;
}

static int admin_error(struct buf *out, int code, const char *msg)
{
	buf_puts(out, "{\"error\":");
	buf_json_str(out, msg, strlen(msg));
	buf_putc(out, '}');
	return code;
}

/* An action's error about a known plugin: the shape of the reload answer,
 * {"plugin","error","state","version","generation"} (docs/admin-api.md). */
static int slot_error(struct buf *out, int code, const struct slot *s, const char *msg)
{
	buf_puts(out, "{\"plugin\":");
	buf_json_str(out, s->name, strlen(s->name));
	json_kv_str(out, "error", msg, 1);
	json_kv_str(out, "state", slot_status_name(s->status), 1);
	json_kv_str(out, "version", s->version[0] ? s->version : NULL, 1);
	buf_printf(out, ",\"generation\":%u}", s->generation);
	return code;
}

static void after_admin_disable(struct slot *s) { (void)s; }

static int admin_action(void *ud, const char *name, const char *action, struct buf *out)
{
	struct slots *d = ud;
	struct slot *s = slots_find(d, name);
	if (!s)
		return admin_error(out, 404, "no such plugin in the configuration");
	if (d->stopping)
		return slot_error(out, 409, s, "daemon is stopping");
	if (strcmp(action, "reload") == 0)
		return reload_admin(s, out);
	if (reload_busy(s))
		return slot_error(out, 409, s, "plugin is being reloaded; try again");
	if (strcmp(action, "run") == 0) {
		if (!s->inst || s->status != PS_RUNNING)
			return slot_error(out, 409, s, "plugin is not running");
		int rc = instance_run(s->inst);
		if (rc == LAB_ENOTSUP)
			return slot_error(out, 409, s, "plugin has no run callback");
		if (rc < 0)
			return slot_error(out, 500, s, lab_strerror(rc));
	} else if (strcmp(action, "enable") == 0) {
		if (s->status == PS_STOPPING || s->state_loading)
			return slot_error(out, 409, s, "plugin is busy; try again");
		s->enabled = 1;
		if (!s->inst) {
			s->last_error[0] = '\0';
			slot_activate(s);
			if (s->status == PS_FAILED)
				return slot_error(out, 500, s, s->last_error);
		}
		log_kv(LAB_LOG_INFO, s->name, "plugin enabled through the admin API");
	} else if (strcmp(action, "disable") == 0) {
		if (s->state_loading)
			return slot_error(out, 409, s, "plugin is busy; try again");
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

const struct admin_ops daemon_admin_ops = {
	.readyz = admin_readyz,
	.plugins = admin_plugins,
	.plugin_action = admin_action,
};

