/* Per-plugin durable state: per key, the value's JSON text as the plugin
 * set it (validated once, on set), written whole as one JSON object with
 * put_atomic.  State files are untrusted input: every path through
 * state_parse() ends in an object or LAB_EPARSE; a loaded file is split
 * into per-key texts once. */
#include "state.h"

#include <json-c/json.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "jsonstr.h"
#include "keyrules.h"
#include "lab/plugin.h"
#include "log.h"
#include "metrics.h"

#define NAME_MAX_LEN 64
#define KEY_PREFIX "state/modules/"
#define NODE_PREFIX "state/nodes/"

struct waiter {
	state_flush_cb cb;
	void *ud;
	struct waiter *next;
};

struct state {
	struct storage *s;
	struct metrics *metrics; /* NULL: not counted */
	char name[NAME_MAX_LEN + 1];
	/* KEY_PREFIX NAME.json, or NODE_PREFIX NODE/NAME.json in a cluster */
	char key[sizeof NODE_PREFIX + STATE_NODE_MAX + 1 + NAME_MAX_LEN + 5];
	char plain[sizeof KEY_PREFIX + NAME_MAX_LEN + 5]; /* the single-daemon key */
	json_object *vals;       /* key -> string object: the value's JSON text */
	uint64_t version;        /* bumped by every change */
	uint64_t written;        /* version last made durable */
	uint64_t inflight_version;
	struct storage_op *op;   /* the write in flight */
	struct waiter *inflight; /* callbacks of the write in flight */
	struct waiter *queued;   /* callbacks of the next write */
	int queued_flag;
	int busy;                /* inside flush callbacks */
	int doomed;              /* state_free() called from a callback */
};

struct loader {
	struct state *st;
	state_load_cb cb;
	void *ud;
	int fallback; /* reading the single-daemon key after the node's was absent */
};

/* ---- parsing: state_value_parse (state_value.c) ---------------------- */

int state_parse(const char *text, size_t len, struct json_object **out, const char **why)
{
	const char *dummy;
	json_object *o;
	int rc;

	if (out)
		*out = NULL;
	if (!why)
		why = &dummy;
	*why = NULL;
	if (!text) {
		*why = "no data";
		return LAB_EPARSE;
	}
	if (len > STATE_FILE_MAX) {
		*why = "larger than the state size limit";
		return LAB_EPARSE;
	}
	rc = state_value_parse(text, len, &o, why);
	if (rc < 0)
		return rc == LAB_ENOMEM ? rc : LAB_EPARSE;
	if (!json_object_is_type(o, json_type_object)) {
		json_object_put(o);
		*why = "not a JSON object";
		return LAB_EPARSE;
	}
	if (out)
		*out = o;
	else
		json_object_put(o);
	return 0;
}

/* UTF-8 (RFC 3629) without C0/DEL controls. */
static int key_ok(const char *key)
{
	const unsigned char *p = (const unsigned char *)key;
	size_t n = strnlen(key, STATE_KEY_MAX + 1), l;

	if (n == 0 || n > STATE_KEY_MAX)
		return 0;
	for (size_t i = 0; i < n; i += l)
		if (p[i] < 0x20 || p[i] == 0x7f || !(l = utf8_seq(p + i, n - i)))
			return 0;
	return 1;
}

/* ---- life cycle ---------------------------------------------------------- */

static struct state *state_new(struct storage *s, const char *plugin, const char *node)
{
	struct state *st = calloc(1, sizeof *st);
	if (!st)
		return NULL;
	st->s = s;
	snprintf(st->name, sizeof st->name, "%s", plugin);
	snprintf(st->plain, sizeof st->plain, KEY_PREFIX "%s.json", plugin);
	if (node)
		snprintf(st->key, sizeof st->key, NODE_PREFIX "%s/%s.json", node, plugin);
	else
		snprintf(st->key, sizeof st->key, "%s", st->plain);
	st->vals = json_object_new_object();
	if (!st->vals) {
		free(st);
		return NULL;
	}
	return st;
}

static void waiters_free(struct waiter *w)
{
	while (w) {
		struct waiter *n = w->next;
		free(w);
		w = n;
	}
}

void state_free(struct state *st)
{
	if (!st)
		return;
	if (st->busy) {
		st->doomed = 1;
		return;
	}
	if (st->op)
		storage_cancel(st->op); /* the write lands; nobody is told */
	waiters_free(st->inflight);
	waiters_free(st->queued);
	json_object_put(st->vals);
	free(st);
}

static int name_ok(const char *name)
{
	size_t n = 0;
	if (!name)
		return 0;
	for (; name[n]; n++)
		if (!((name[n] >= 'a' && name[n] <= 'z') || (name[n] >= '0' && name[n] <= '9') ||
		      name[n] == '_'))
			return 0;
	return n > 0 && n <= NAME_MAX_LEN;
}

static void load_done(struct loader *ld, int status)
{
	struct state *st = ld->st;
	if (status < 0) {
		state_free(st);
		st = NULL;
	}
	ld->cb(status, st, ld->ud);
	free(ld);
}

static void aside_saved(int status, const void *data, size_t len, void *ud)
{
	struct loader *ld = ud;
	if (status < 0) {
		log_kv(LAB_LOG_ERROR, ld->st->name,
		       "cannot copy the corrupt state file aside; leaving it in place",
		       LAB_FS("key", ld->st->key), LAB_FS("error", lab_strerror(status)));
		load_done(ld, status);
		return;
	}
	ld->st->version = 1; /* dirty: the next flush replaces the corrupt file */
	load_done(ld, 0);
}

static void load_corrupt(struct loader *ld, const char *why, const void *raw, size_t len)
{
	struct state *st = ld->st;
	char aside[sizeof st->key + 32];
	int rc;

	if (ld->fallback) { /* the single-daemon file is not this node's: left as it is */
		log_kv(LAB_LOG_WARN, st->name,
		       "the single-daemon state file is corrupt; the node starts empty",
		       LAB_FS("key", st->plain), LAB_FS("reason", why));
		load_done(ld, 0);
		return;
	}
	snprintf(aside, sizeof aside, "%s.corrupt-%lld", st->key, (long long)time(NULL));
	log_kv(LAB_LOG_ERROR, st->name, "state file is corrupt; moving it aside and starting empty",
	       LAB_FS("key", st->key), LAB_FS("reason", why), LAB_FS("aside", aside),
	       LAB_FI("bytes", (int64_t)len));
	metric_add(st->metrics, M_STATE_CORRUPT, 1, st->name);
	rc = storage_put_flags(st->s, st->name, aside, raw ? raw : "", raw ? len : 0,
			       "application/octet-stream", "no-store", LAB_PUT_ATOMIC, STORAGE_STATE,
			       aside_saved, ld, NULL);
	if (rc < 0)
		aside_saved(rc, NULL, 0, ld);
}

static void load_got(int status, const void *data, size_t len, void *ud)
{
	struct loader *ld = ud;
	const char *why = NULL;
	json_object *o;
	int rc;

	if (status == LAB_ENOENT && !ld->fallback && strcmp(ld->st->key, ld->st->plain) != 0) {
		/* the node's first start in a cluster: what the daemon kept
		 * alone before (read only; written under the node's key) */
		ld->fallback = 1;
		status = storage_get_flags(ld->st->s, ld->st->name, ld->st->plain,
					   STORAGE_GET_RAW_ON_ERROR | STORAGE_STATE, load_got, ld, NULL);
		if (status >= 0)
			return;
	}
	if (status == LAB_ENOENT) {
		load_done(ld, 0);
		return;
	}
	if (status == LAB_EPARSE || status == LAB_ERANGE) {
		load_corrupt(ld, status == LAB_EPARSE ? "gzip data is corrupt" : "too large",
			     data, len);
		return;
	}
	if (status < 0) {
		log_kv(LAB_LOG_ERROR, ld->st->name, "cannot read the state file",
		       LAB_FS("key", ld->st->key), LAB_FS("error", lab_strerror(status)));
		load_done(ld, status);
		return;
	}
	rc = state_parse(data, len, &o, &why);
	if (rc == LAB_ENOMEM) {
		load_done(ld, rc);
		return;
	}
	if (rc < 0) {
		load_corrupt(ld, why, data, len);
		return;
	}
	rc = 0;
	json_object_object_foreach(o, k, v) {
		/* one serialization per key, here only; get returns this text */
		size_t n = 0;
		const char *text = json_object_to_json_string_length(
			v, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &n);
		json_object *t = text ? json_object_new_string_len(text, (int)n) : NULL;
		if (!t || json_object_object_add(ld->st->vals, k, t) != 0) {
			json_object_put(t);
			rc = LAB_ENOMEM;
			break;
		}
	}
	json_object_put(o);
	load_done(ld, rc);
}

int state_node_ok(const char *node)
{
	size_t n = node ? strlen(node) : 0;
	return n > 0 && n <= STATE_NODE_MAX && key_segment_ok(node, n, STATE_NODE_MAX, NULL, KEY_SEG_PLAIN);
}

int state_load(struct storage *s, struct metrics *metrics, const char *plugin, state_load_cb cb,
	       void *ud)
{
	return state_load_node(s, metrics, plugin, NULL, cb, ud);
}

int state_load_node(struct storage *s, struct metrics *metrics, const char *plugin,
		    const char *node, state_load_cb cb, void *ud)
{
	struct loader *ld;
	int rc;

	if (!s || !cb || !name_ok(plugin) || (node && !state_node_ok(node)))
		return LAB_EINVAL;
	ld = calloc(1, sizeof *ld);
	if (!ld)
		return LAB_ENOMEM;
	ld->st = state_new(s, plugin, node);
	if (!ld->st) {
		free(ld);
		return LAB_ENOMEM;
	}
	ld->st->metrics = metrics;
	ld->cb = cb;
	ld->ud = ud;
	rc = storage_get_flags(s, plugin, ld->st->key, STORAGE_GET_RAW_ON_ERROR | STORAGE_STATE, load_got, ld,
			       NULL);
	if (rc < 0) {
		state_free(ld->st);
		free(ld);
	}
	return rc;
}

/* ---- values -------------------------------------------------------------- */

int state_get(struct state *st, const char *key, const char **json, size_t *len)
{
	json_object *t;

	if (!st || !key || !json)
		return LAB_EINVAL;
	if (!json_object_object_get_ex(st->vals, key, &t))
		return LAB_ENOENT;
	*json = json_object_get_string(t);
	if (len)
		*len = (size_t)json_object_get_string_len(t);
	return 0;
}

static int json_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

int state_set(struct state *st, const char *key, const char *json, size_t len)
{
	const char *why;
	json_object *v, *t;
	int rc;

	if (!st || !key || (!json && len))
		return LAB_EINVAL;
	if (!key_ok(key))
		return LAB_EINVAL;
	if (len > STATE_VALUE_MAX)
		return LAB_ERANGE;
	if (!json)
		return LAB_EPARSE;
	rc = state_value_parse(json, len, &v, &why);
	if (rc < 0)
		return rc;
	json_object_put(v);
	/* valid: kept as it is, without the whitespace around it */
	while (len && json_space(json[len - 1]))
		len--;
	while (len && json_space(*json))
		json++, len--;
	t = json_object_new_string_len(json, (int)len);
	if (!t || json_object_object_add(st->vals, key, t) != 0) {
		json_object_put(t);
		return LAB_ENOMEM;
	}
	st->version++;
	return 0;
}

int state_delete(struct state *st, const char *key)
{
	if (!st || !key)
		return LAB_EINVAL;
	if (!json_object_object_get_ex(st->vals, key, NULL))
		return 0;
	json_object_object_del(st->vals, key);
	st->version++;
	return 0;
}

int state_dirty(const struct state *st)
{
	return st && st->version != st->written;
}

int state_pending(const struct state *st)
{
	return st ? (st->op != NULL) + (st->queued_flag != 0) : 0;
}

/* ---- flushing ------------------------------------------------------------ */

static int waiter_add(struct waiter **list, state_flush_cb cb, void *ud)
{
	struct waiter *w, **pp;
	if (!cb)
		return 0;
	w = calloc(1, sizeof *w);
	if (!w)
		return LAB_ENOMEM;
	w->cb = cb;
	w->ud = ud;
	for (pp = list; *pp; pp = &(*pp)->next)
		;
	*pp = w;
	return 0;
}

/* Calls and frees the callbacks; returns 1 if the state was freed meanwhile. */
static int notify(struct state *st, struct waiter *w, int status)
{
	st->busy++;
	while (w) {
		struct waiter *n = w->next;
		w->cb(status, w->ud);
		free(w);
		w = n;
	}
	st->busy--;
	if (st->doomed && !st->busy) {
		st->doomed = 0;
		state_free(st);
		return 1;
	}
	return 0;
}

static void flush_done(int status, const void *data, size_t len, void *ud);

static int flush_start(struct state *st)
{
	struct buf text = BUF_INIT;
	size_t n = 0;
	int rc;

	buf_putc(&text, '{');
	json_object_object_foreach(st->vals, k, v) {
		if (text.len > 1)
			buf_putc(&text, ',');
		buf_json_str(&text, k, strlen(k));
		buf_putc(&text, ':');
		buf_append(&text, json_object_get_string(v), (size_t)json_object_get_string_len(v));
	}
	buf_putc(&text, '}');
	n = text.len;
	if (text.oom)
		rc = LAB_ENOMEM;
	else if (n > STATE_FILE_MAX)
		rc = LAB_ERANGE; /* it could not be loaded back */
	else
		rc = storage_put_flags(st->s, st->name, st->key, text.data, n, "application/json",
				       "no-store", LAB_PUT_ATOMIC, STORAGE_STATE, flush_done, st,
				       &st->op);
	buf_free(&text);
	if (rc < 0) {
		st->op = NULL;
		metric_add(st->metrics, M_STATE_FLUSHES, 1, "failed");
		log_kv(LAB_LOG_ERROR, st->name, "state flush failed", LAB_FS("key", st->key),
		       LAB_FS("error", lab_strerror(rc)), LAB_FI("bytes", (int64_t)n));
		return rc;
	}
	st->inflight_version = st->version;
	return 0;
}

static void flush_done(int status, const void *data, size_t len, void *ud)
{
	struct state *st = ud;
	struct waiter *w;
	int rc;

	st->op = NULL;
	if (status >= 0) {
		st->written = st->inflight_version;
		metric_add(st->metrics, M_STATE_FLUSHES, 1, "ok");
	} else {
		metric_add(st->metrics, M_STATE_FLUSHES, 1, "failed");
		/* the storage backend logged the cause */
		log_kv(LAB_LOG_ERROR, st->name, "state flush failed", LAB_FS("key", st->key),
		       LAB_FS("error", lab_strerror(status)));
	}
	w = st->inflight;
	st->inflight = NULL;
	if (notify(st, w, status < 0 ? status : 0))
		return;
	/* A callback may have started a write already (it joined or queued). */
	while (st->queued_flag && !st->op) {
		w = st->queued;
		st->queued = NULL;
		st->queued_flag = 0;
		rc = flush_start(st);
		if (rc == 0) {
			st->inflight = w;
			break;
		}
		if (notify(st, w, rc))
			return;
	}
}

int state_flush(struct state *st, int force, state_flush_cb cb, void *ud)
{
	int rc;

	if (!st)
		return LAB_EINVAL;
	if (st->op) {
		if (st->version == st->inflight_version)
			return waiter_add(&st->inflight, cb, ud);
		rc = waiter_add(&st->queued, cb, ud);
		if (rc == 0)
			st->queued_flag = 1;
		return rc;
	}
	if (!force && !state_dirty(st))
		return 1;
	if (cb) {
		struct waiter *w = calloc(1, sizeof *w);
		if (!w)
			return LAB_ENOMEM;
		w->cb = cb;
		w->ud = ud;
		rc = flush_start(st);
		if (rc < 0) {
			free(w);
			return rc;
		}
		st->inflight = w;
		return 0;
	}
	return flush_start(st);
}
