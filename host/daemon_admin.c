/* The admin API's answers about plugins (SPEC §4.4): /readyz, /plugins
 * and POST /plugins/NAME/{reload,enable,disable,run}, with their JSON;
 * POST /plugins/NAME/reprocess and POST /publish/SUBJECT hand a message to
 * the broker (docs/admin-api.md).  The handlers' `ud` is the daemon's
 * registry (struct slots). */
#include "daemon.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin.h"
#include "broker.h"
#include "buf.h"
#include "clickhouse.h"
#include "clock.h"
#include "cluster.h"
#include "instance.h"
#include "jsonstr.h"
#include "log.h"
#include "networks.h"
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
		char msg[800], when[32] = "";
		if (s->next_retry_at)
			clock_format_iso8601(s->next_retry_at / 1000, when, sizeof when);
		snprintf(msg, sizeof msg, "plugin %s is %s%s%s%s%s%s", s->name,
			 slot_status_name(s->status), s->last_error[0] ? ": " : "", s->last_error,
			 when[0] ? " (restarting at " : "", when, when[0] ? ")" : "");
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

/* A finite number as JSON: integers plainly, others with 6 significant digits. */
static void json_num(struct buf *b, double v)
{
	if (v >= -9e15 && v <= 9e15 && v == (double)(long long)v)
		buf_printf(b, "%lld", (long long)v);
	else if (v == v)
		buf_printf(b, "%.6g", v);
	else
		buf_puts(b, "null");
}

/* "progress":[{"what","done","total","percent","per_second","eta_seconds","updated_at"}]
 * from lab_progress() (ABI 1.2); eta_seconds null when the rate is unknown. */
static void progress_json(const struct plugin_report *r, struct buf *b)
{
	char when[32];
	buf_puts(b, ",\"progress\":[");
	for (unsigned i = 0; i < r->n_progress; i++) {
		const struct progress_entry *p = &r->progress[i];
		buf_puts(b, i ? ",{" : "{");
		json_kv_str(b, "what", p->what, 0);
		buf_puts(b, ",\"done\":");
		json_num(b, p->done);
		buf_puts(b, ",\"total\":");
		json_num(b, p->total);
		buf_puts(b, ",\"percent\":");
		json_num(b, p->total > 0 ? (double)(long long)(p->done * 1000 / p->total) / 10 : 0);
		buf_puts(b, ",\"per_second\":");
		json_num(b, p->per_second);
		buf_puts(b, ",\"eta_seconds\":");
		if (p->per_second > 0)
			json_num(b, (double)(long long)((p->total - p->done) / p->per_second));
		else
			buf_puts(b, "null");
		clock_format_iso8601(p->at_ms / 1000, when, sizeof when);
		json_kv_str(b, "updated_at", when, 1);
		buf_putc(b, '}');
	}
	buf_putc(b, ']');
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
	/* Self-healing (slot_retry.c): when last_error was set, automatic
	 * restarts since the plugin last ran, and when the next one is due. */
	when[0] = '\0';
	if (s->last_error[0] && s->last_error_at)
		clock_format_iso8601(s->last_error_at / 1000, when, sizeof when);
	json_kv_str(b, "last_error_at", when[0] ? when : NULL, 1);
	buf_printf(b, ",\"retries\":%u", s->retries);
	when[0] = '\0';
	if (s->next_retry_at)
		clock_format_iso8601(s->next_retry_at / 1000, when, sizeof when);
	json_kv_str(b, "next_retry", when[0] ? when : NULL, 1);
	when[0] = '\0';
	if (s->report.last_success_ms)
		clock_format_iso8601(s->report.last_success_ms / 1000, when, sizeof when);
	json_kv_str(b, "last_success", s->report.last_success_ms ? when : NULL, 1);
	json_kv_str(b, "log_level",
		    s->report.log_level >= 0 ? log_level_name(s->report.log_level) : NULL, 1);
	progress_json(&s->report, b);
	/* "cluster":{"leases":[held names],"claims_in_flight":N} (docs/cluster.md) */
	buf_puts(b, ",\"cluster\":");
	cluster_plugin_json(s->d ? s->d->svc.cluster : NULL, s->inst ? &s->inst->pub : NULL, b);
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

static int admin_leases(void *ud, struct buf *out)
{
	struct slots *d = ud;
	return cluster_leases_json(d->svc.cluster, out);
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
			s->retries = 0; /* the operator's start, not an automatic one */
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
			slot_retry_cancel(s);
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


/* ---- POST /plugins/NAME/reprocess, POST /publish/SUBJECT (issues 20, 21) ----
 * Both deliver a message through the broker, so it reaches plugin
 * subscriptions with the local broker and with NATS alike.  The body is
 * untrusted: bounded by the admin server (ADMIN_BODY_MAX), parsed strictly
 * with a bounded depth, one JSON value and nothing but white space after. */

#define BODY_JSON_DEPTH 32

/* What json-c's strict mode still lets through and JSON (RFC 8259) does
 * not: single-quoted strings, raw control characters in strings, invalid
 * UTF-8, "1.".  A published body goes on as it is, so it must be JSON. */
static int json_text_ok(const char *s, size_t n)
{
	int in_str = 0;
	for (size_t i = 0; i < n;) {
		unsigned char c = (unsigned char)s[i];
		if (c >= 0x80) {
			size_t k = utf8_seq((const unsigned char *)s + i, n - i);
			if (!k)
				return 0;
			i += k;
			continue;
		}
		if (in_str) {
			if (c < 0x20)
				return 0;
			if (c == '\\') {
				i += 2; /* json-c checks the escape itself */
				continue;
			}
			in_str = c != '"';
		} else if (c == '"') {
			in_str = 1;
		} else if (c == '\'' || (c == '.' && (i + 1 >= n || !isdigit((unsigned char)s[i + 1])))) {
			return 0;
		}
		i++;
	}
	return 1;
}

/* 0 and *out (NULL for "null"), or -1: not one JSON value. */
static int body_json(const char *body, size_t len, json_object **out)
{
	*out = NULL;
	if (!body || len == 0 || len > ADMIN_BODY_MAX || !json_text_ok(body, len))
		return -1;
	json_tokener *tok = json_tokener_new_ex(BODY_JSON_DEPTH);
	if (!tok)
		return -1;
	/* With the terminating NUL in the length, a bare literal at the end
	 * ("null", "1") is complete instead of json_tokener_continue; a NUL
	 * inside the body fails the white-space check below. */
	char *text = malloc(len + 1);
	if (!text) {
		json_tokener_free(tok);
		return -1;
	}
	memcpy(text, body, len);
	text[len] = '\0';
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	json_object *o = json_tokener_parse_ex(tok, text, (int)len + 1);
	free(text);
	int ok = json_tokener_get_error(tok) == json_tokener_success;
	for (size_t i = json_tokener_get_parse_end(tok); ok && i < len; i++)
		if (!strchr(" \t\r\n", body[i]))
			ok = 0;
	json_tokener_free(tok);
	if (!ok) {
		json_object_put(o);
		return -1;
	}
	*out = o;
	return 0;
}

/* A non-negative JSON integer member; 0 found, 1 absent, -1 malformed. */
static int member_u64(json_object *o, const char *key, uint64_t *out)
{
	json_object *v;
	if (!json_object_object_get_ex(o, key, &v))
		return 1;
	if (!json_object_is_type(v, json_type_int))
		return -1;
	errno = 0;
	int64_t x = json_object_get_int64(v);
	if (x < 0 || errno == ERANGE)
		return -1;
	*out = (uint64_t)x;
	return 0;
}

/* {"network":NET,"from":A,"to":B} or {"network":NET,"slot":S} (SPEC §8's
 * single-slot form, the same as from = to = S); published as
 * NAME.reprocess with from/to, after the checks that need no plugin. */
static int admin_reprocess(void *ud, const char *name, const char *body, size_t len,
			   struct buf *out)
{
	struct slots *d = ud;
	struct slot *s = slots_find(d, name);
	if (!s)
		return admin_error(out, 404, "no such plugin in the configuration");
	json_object *o = NULL;
	json_object *jn;
	uint64_t from = 0, to = 0, slot = 0;
	int has_from = -1, has_to = -1, has_slot = -1;
	const char *why = NULL;
	if (body_json(body, len, &o) < 0 || !json_object_is_type(o, json_type_object))
		why = "the body must be a JSON object {\"network\":NET,\"from\":SLOT,\"to\":SLOT}";
	else if (!json_object_object_get_ex(o, "network", &jn) ||
		 !json_object_is_type(jn, json_type_string))
		why = "\"network\" (a string) is required";
	else if ((has_from = member_u64(o, "from", &from)) < 0 ||
		 (has_to = member_u64(o, "to", &to)) < 0 ||
		 (has_slot = member_u64(o, "slot", &slot)) < 0)
		why = "\"from\", \"to\" and \"slot\" must be non-negative integers";
	else if (has_slot == 0 && (has_from == 0 || has_to == 0))
		why = "give either \"slot\" or \"from\" and \"to\"";
	else if (has_slot != 0 && (has_from != 0 || has_to != 0))
		why = "\"from\" and \"to\" are both required (or \"slot\" alone)";
	if (has_slot == 0)
		from = to = slot;
	if (!why && from > to)
		why = "\"from\" must not be greater than \"to\"";
	const char *net = !why ? json_object_get_string(jn) : NULL;
	if (!why && !networks_find(d->svc.nets, net))
		why = "unknown network (not in ethereum.networks)";
	int64_t max = d->cfg->host.admin_reprocess_max_slots;
	if (!why && to - from >= (uint64_t)max) {
		char msg[160];
		snprintf(msg, sizeof msg,
			 "range of %" PRIu64 " slots exceeds admin.reprocess_max_slots (%" PRId64
			 "); split it into several requests", to - from + 1, max);
		json_object_put(o);
		return admin_error(out, 413, msg);
	}
	if (why) {
		json_object_put(o);
		return admin_error(out, 400, why);
	}
	char subject[96]; /* NAME ([a-z0-9_]{1,64}) + ".reprocess" */
	snprintf(subject, sizeof subject, "%s.reprocess", name);
	int code = 0;
	if (d->stopping)
		code = admin_error(out, 409, "daemon is stopping");
	else if (s->status != PS_RUNNING)
		code = admin_error(out, 409, "plugin is not running");
	else if (!broker_subscribed(d->svc.broker, name, subject))
		code = admin_error(out, 409, "plugin does not subscribe to NAME.reprocess (it cannot reprocess)");
	if (code) {
		json_object_put(o);
		return code;
	}
	struct buf payload = BUF_INIT;
	buf_puts(&payload, "{\"network\":");
	buf_json_str(&payload, net, strlen(net));
	buf_printf(&payload, ",\"from\":%" PRIu64 ",\"to\":%" PRIu64 "}", from, to);
	int rc = payload.oom ? LAB_ENOMEM
			     : broker_publish(d->svc.broker, NULL, subject, payload.data, payload.len);
	if (rc < 0) {
		buf_free(&payload);
		json_object_put(o);
		return admin_error(out, rc == LAB_EBUSY ? 503 : 500, lab_strerror(rc));
	}
	log_kv(LAB_LOG_INFO, name, "reprocess requested through the admin API",
	       LAB_FS("network", net), LAB_FI("from", from), LAB_FI("to", to));
	json_object_put(o); /* net pointed into it */
	buf_puts(out, "{\"plugin\":");
	buf_json_str(out, name, strlen(name));
	json_kv_str(out, "subject", subject, 1);
	buf_puts(out, ",\"request\":");
	buf_append(out, payload.data, payload.len);
	buf_printf(out, ",\"slots\":%" PRIu64 ",\"state\":\"queued\"}", to - from + 1);
	buf_free(&payload);
	return 202;
}

/* The body (any JSON value) published on SUBJECT as the host.  Subjects
 * under host. are the host's own events and cannot be forged. */
static int admin_publish(void *ud, const char *subject, const char *body, size_t len,
			 struct buf *out)
{
	struct slots *d = ud;
	if (!broker_subject_valid(subject, 0))
		return admin_error(out, 400, "invalid subject: tokens of [A-Za-z0-9_-] separated by "
					     "'.', without the subject_prefix (e.g. beacon.reprocess)");
	if (strcmp(subject, "host") == 0 || strncmp(subject, "host.", 5) == 0)
		return admin_error(out, 403, "subjects under host. are the host's own events");
	json_object *o;
	if (body_json(body, len, &o) < 0)
		return admin_error(out, 400, "the body must be one JSON value (at most 4096 bytes)");
	json_object_put(o);
	if (d->stopping)
		return admin_error(out, 409, "daemon is stopping");
	if (!d->svc.broker)
		return admin_error(out, 409, "no broker");
	int rc = broker_publish(d->svc.broker, NULL, subject, body, len);
	if (rc < 0)
		return admin_error(out, rc == LAB_EBUSY ? 503 : 500, lab_strerror(rc));
	log_kv(LAB_LOG_INFO, NULL, "message published through the admin API",
	       LAB_FS("subject", subject), LAB_FI("bytes", len));
	buf_puts(out, "{\"subject\":");
	buf_json_str(out, subject, strlen(subject));
	buf_printf(out, ",\"bytes\":%zu,\"state\":\"published\"}", len);
	return 202;
}

const struct admin_ops daemon_admin_ops = {
	.readyz = admin_readyz,
	.plugins = admin_plugins,
	.leases = admin_leases,
	.plugin_action = admin_action,
	.reprocess = admin_reprocess,
	.publish = admin_publish,
};

