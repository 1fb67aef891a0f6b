/* SIGHUP: configuration reload (SPEC §7).  See reload.h and docs/reload.md.
 *
 * The new file is loaded and validated completely (host schema, and the
 * section of every plugin that would start or restart, against the
 * settings of the plugin file it would load) before anything changes; a
 * broken config is logged and changes nothing.  Then: plugins newly enabled
 * start, disabled (or removed) ones stop, those whose section or path
 * changed restart, the rest keep running untouched.  A slot holds a
 * reference to the config its section is in (untouched plugins may hold
 * pointers into it), so a replaced config is freed when the last plugin
 * using it has moved to a newer one. */
#include <libconfig.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "config.h"
#include "config_json.h"
#include "instance.h"
#include "log.h"
#include "plugin_loader.h"
#include "reload.h"
#include "slot.h"

enum { P_KEEP, P_START, P_STOP, P_RESTART };

/* A canonical text of a setting (names, types, values), for comparison.
 * `skip` (may be NULL): a member of the top group left out; in a plugin
 * section `log_level` is always left out too (applied without a restart). */
static void dump(const config_setting_t *n, struct buf *b, const char *skip)
{
	const char *name = config_setting_name(n);
	int t = config_setting_type(n);
	if (name) {
		buf_puts(b, name);
		buf_putc(b, '=');
	}
	switch (t) {
	case CONFIG_TYPE_GROUP:
	case CONFIG_TYPE_LIST:
	case CONFIG_TYPE_ARRAY: {
		buf_putc(b, t == CONFIG_TYPE_GROUP ? '{' : t == CONFIG_TYPE_LIST ? '(' : '[');
		int len = config_setting_length(n);
		for (int i = 0; i < len; i++) {
			const config_setting_t *e = config_setting_get_elem(n, (unsigned)i);
			const char *en = e ? config_setting_name(e) : NULL;
			if (!e || (skip && en && strcmp(en, skip) == 0) ||
			    (skip && en && strcmp(skip, "enabled") == 0 && strcmp(en, "log_level") == 0))
				continue;
			dump(e, b, NULL);
			buf_putc(b, ';');
		}
		buf_putc(b, t == CONFIG_TYPE_GROUP ? '}' : t == CONFIG_TYPE_LIST ? ')' : ']');
		break;
	}
	case CONFIG_TYPE_INT:
	case CONFIG_TYPE_INT64:
		buf_printf(b, "%lld", (long long)config_setting_get_int64(n));
		break;
	case CONFIG_TYPE_FLOAT:
		buf_printf(b, "%.17g", config_setting_get_float(n));
		break;
	case CONFIG_TYPE_BOOL:
		buf_puts(b, config_setting_get_bool(n) ? "true" : "false");
		break;
	case CONFIG_TYPE_STRING: {
		const char *s = config_setting_get_string(n);
		buf_json_str(b, s ? s : "", s ? strlen(s) : 0);
		break;
	}
	default:
		buf_printf(b, "?%d", t);
	}
}

/* Do two plugin sections differ (ignoring `enabled`)?  -1: out of memory. */
static int sections_differ(const config_setting_t *a, const config_setting_t *b)
{
	struct buf x = BUF_INIT, y = BUF_INIT;
	if (a)
		dump(a, &x, "enabled");
	if (b)
		dump(b, &y, "enabled");
	int rc = (x.oom || y.oom) ? -1 : (x.len != y.len || (x.len && memcmp(x.data, y.data, x.len) != 0));
	buf_free(&x);
	buf_free(&y);
	return rc;
}

int config_settings_differ(const config_setting_t *a, const config_setting_t *b)
{
	struct buf x = BUF_INIT, y = BUF_INIT;
	if (a)
		dump(a, &x, NULL);
	if (b)
		dump(b, &y, NULL);
	/* Both absent: nothing to compare (memcmp wants non-NULL pointers). */
	int rc = !x.oom && !y.oom &&
		 (x.len != y.len || (x.len && memcmp(x.data, y.data, x.len) != 0));
	buf_free(&x);
	buf_free(&y);
	return rc;
}

static void set_from_config(struct slot *s)
{
	const struct plugin_conf *pc = config_plugin(s->d->cfg, s->name);
	if (!pc)
		return; /* no section any more: keep the old path, no section */
	s->section = pc->section;
	if (s->cfg != s->d->cfg) {
		config_free(s->cfg);
		s->cfg = config_ref(s->d->cfg);
	}
	if (strcmp(pc->path, s->path) != 0) {
		char *p = strdup(pc->path);
		if (p) {
			free(s->path);
			s->path = p;
		} else {
			log_msg(LAB_LOG_ERROR, s->name, "out of memory: keeping the old plugin path");
		}
	}
}

static void after_stop(struct slot *s) { (void)s; }

static void restart_then(struct slot *s)
{
	/* If the plugin refuses the new section (init or start fails), the
	 * slot goes back to the one it ran with (slot.c, slot_rollback). */
	if (s->enabled && !s->d->stopping)
		slot_rollback_arm(s);
	set_from_config(s);
	if (s->enabled && !s->d->stopping) {
		s->last_error[0] = '\0';
		s->retries = 0; /* the operator's start, not an automatic one */
		slot_activate(s);
	}
}

/* Can `pc` start with its section?  Opens the plugin file to learn its settings. */
static int check_plugin(struct slots *d, struct config *nc, const struct plugin_conf *pc,
			char *err, size_t errlen)
{
	struct plugin_image *img = NULL;
	int rc = plugin_image_open(pc->name, pc->path, d->copy_dir[0] ? d->copy_dir : NULL, &img,
				   err, errlen);
	if (rc)
		return rc;
	rc = config_validate_plugin_decls(nc, pc, &img->decls, err, errlen);
	plugin_image_close(img);
	return rc;
}

int config_reload(struct slots *d, const char *path, const char *const *overrides,
		  size_t n_overrides)
{
	struct config *nc = NULL;
	char err[1024];
	const char *file = d->cfg->host.file;
	log_kv(LAB_LOG_INFO, NULL, "SIGHUP: reloading the configuration", LAB_FS("config", file));
	int rc = config_load(path, overrides, n_overrides, &nc, err,
			     sizeof err);
	if (rc) {
		log_kv(LAB_LOG_ERROR, NULL, "configuration reload rejected; nothing changed",
		       LAB_FS("error", err));
		return rc;
	}
	int *plan = calloc(d->n_slots ? d->n_slots : 1, sizeof *plan);
	if (!plan) {
		log_msg(LAB_LOG_ERROR, NULL, "configuration reload: out of memory; nothing changed");
		config_free(nc);
		return LAB_ENOMEM;
	}
	for (size_t i = 0; i < nc->host.n_plugins; i++)
		if (!slots_find(d, nc->host.plugins[i].name))
			log_kv(LAB_LOG_WARN, nc->host.plugins[i].name,
			       "new plugin section ignored: adding a plugin needs a restart of labd");

	size_t n_start = 0, n_stop = 0, n_restart = 0;
	for (size_t i = 0; i < d->n_slots; i++) {
		struct slot *s = &d->slots[i];
		const struct plugin_conf *pc = config_plugin(nc, s->name);
		int want = pc ? pc->enabled : 0;
		if (s->enabled && !want) {
			plan[i] = P_STOP;
		} else if (!s->enabled && want) {
			plan[i] = P_START;
		} else if (want) {
			int diff = sections_differ(s->section, pc->section);
			if (diff < 0) {
				snprintf(err, sizeof err, "out of memory");
				rc = LAB_ENOMEM;
				break;
			}
			if (diff || strcmp(pc->path, s->path) != 0)
				plan[i] = P_RESTART;
		}
		if (plan[i] == P_KEEP)
			continue;
		if (reload_busy(s) || s->state_loading || s->status == PS_STOPPING) {
			snprintf(err, sizeof err, "plugin %s is busy (reloading or stopping); send SIGHUP again",
				 s->name);
			rc = LAB_EBUSY;
			break;
		}
		if (plan[i] == P_START || plan[i] == P_RESTART) {
			rc = check_plugin(d, nc, pc, err, sizeof err);
			if (rc)
				break;
		}
	}
	if (rc) {
		log_kv(LAB_LOG_ERROR, NULL, "configuration reload rejected; nothing changed",
		       LAB_FS("error", err));
		free(plan);
		config_free(nc);
		return rc;
	}
	/* Settings outside `plugins`: the caller (reload_host.c) applies or names them. */
	config_free(d->cfg); /* slots whose section is in it still hold it */
	d->cfg = nc;

	int restarted_any = 0;
	for (size_t i = 0; i < d->n_slots; i++) {
		struct slot *s = &d->slots[i];
		switch (plan[i]) {
		case P_STOP:
			n_stop++;
			s->enabled = 0;
			log_kv(LAB_LOG_INFO, s->name, "configuration reload: stopping (disabled)");
			if (s->inst) {
				slot_deactivate(s, after_stop);
			} else {
				slot_retry_cancel(s); /* a failed one waiting for a restart */
				slot_set_status(s, PS_DISABLED);
			}
			break;
		case P_START:
			n_start++;
			restarted_any = 1;
			s->enabled = 1;
			set_from_config(s);
			log_kv(LAB_LOG_INFO, s->name, "configuration reload: starting (enabled)");
			if (!s->inst) {
				s->last_error[0] = '\0';
		s->retries = 0; /* the operator's start, not an automatic one */
				slot_activate(s);
			}
			break;
		case P_RESTART:
			n_restart++;
			restarted_any = 1;
			log_kv(LAB_LOG_INFO, s->name, "configuration reload: restarting (section changed)");
			slot_deactivate(s, restart_then);
			break;
		default:
			/* Running plugins keep their section (same content) and its
			 * nodes; stopped ones see the new one when they start. */
			if (!s->inst)
				set_from_config(s);
		}
	}
	free(plan);
	/* plugins.NAME.log_level: applied at once, whatever else happened (the
	 * log filter reads it on every record, a hot reload keeps it). */
	for (size_t i = 0; i < d->n_slots; i++) {
		struct slot *s = &d->slots[i];
		const struct plugin_conf *pc = config_plugin(nc, s->name);
		int lv = pc ? pc->log_level : -1;
		if (lv != s->report.log_level) {
			s->report.log_level = lv;
			log_kv(LAB_LOG_INFO, s->name, "configuration reload: plugin log level applied",
			       LAB_FS("log_level", lv >= 0 ? log_level_name(lv) : "log.level"));
		}
	}
	/* config.json is rewritten by every plugin that (re)starts; otherwise here. */
	if (!restarted_any) {
		for (size_t i = 0; i < d->n_slots; i++) {
			struct slot *s = &d->slots[i];
			if (s->inst && s->inst->phase == INST_RUNNING) {
				config_json_plugin_ready(d->cj, s);
				break;
			}
		}
	}
	log_kv(LAB_LOG_INFO, NULL, "configuration reloaded", LAB_FI("started", n_start),
	       LAB_FI("stopped", n_stop), LAB_FI("restarted", n_restart),
	       LAB_FI("unchanged", d->n_slots - n_start - n_stop - n_restart));
	return 0;
}
