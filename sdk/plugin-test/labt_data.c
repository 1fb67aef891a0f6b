/* lab-plugin-test: the services that keep data — canned ClickHouse answers
 * (matched on the SQL after binding, parsed by the host's own
 * TabSeparatedWithNames parser), in-memory storage and state, and JSON
 * inspection for assertions. */
#include <json-c/json.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ch_internal.h"
#include "keyrules.h"
#include "labt.h"
#include "state.h"

/* The storage front's key rules (host/storage.c, storage_key_check): at
 * most 1024 bytes, segments as common/keyrules.h says, not under the
 * metadata directory of the fs backend. */
#define LABT_KEY_MAX 1024
#define LABT_META_DIR ".lab-meta"

/* ---- patterns ----------------------------------------------------------- */

static void rule_set_pattern(struct labt_rule *r, const char *pattern)
{
	size_t n = strlen(pattern);
	r->pattern = labti_strdup(pattern);
	if (n >= 2 && pattern[0] == '/' && pattern[n - 1] == '/') {
		char *re = labti_strndup(pattern + 1, n - 2);
		r->re = calloc(1, sizeof(regex_t));
		if (!r->re)
			labti_die("calloc", "out of memory");
		if (regcomp(r->re, re, REG_EXTENDED | REG_NOSUB) != 0) {
			free(re);
			free(r->re);
			r->re = NULL;
			r->is_regex = -1; /* refused by the adder */
			return;
		}
		free(re);
		r->is_regex = 1;
	}
}

static int pattern_match(const struct labt_rule *r, const char *s)
{
	if (r->is_regex == 1)
		return regexec(r->re, s, 0, NULL, 0) == 0;
	return strstr(s, r->pattern) != NULL;
}

static int text_match(const char *pattern, const char *s)
{
	struct labt_rule r = { 0 };
	int m;
	if (!pattern)
		return 1;
	rule_set_pattern(&r, pattern);
	m = r.is_regex >= 0 && pattern_match(&r, s);
	if (r.re) {
		regfree(r.re);
		free(r.re);
	}
	free(r.pattern);
	return m;
}

static void rule_free(struct labt_rule *r)
{
	if (r->re) {
		regfree(r->re);
		free(r->re);
	}
	free(r->pattern);
	free(r->tsv);
	free(r->message);
	free(r);
}

static int rule_add(struct labt_vec *v, const char *pattern, struct labt_rule **out)
{
	if (!pattern)
		return LAB_EINVAL;
	struct labt_rule *r = calloc(1, sizeof *r);
	if (!r)
		labti_die("calloc", "out of memory");
	rule_set_pattern(r, pattern);
	if (r->is_regex < 0) {
		rule_free(r);
		return LAB_EINVAL;
	}
	labti_vec_push(v, r);
	*out = r;
	return (int)v->n - 1;
}

/* ---- ClickHouse ---------------------------------------------------------- */

static int tsv_check(const char *tsv)
{
	struct ch_parser p;
	ch_parser_init(&p, 0, NULL, NULL);
	int rc = ch_parser_feed(&p, tsv, strlen(tsv), NULL);
	if (rc == 0)
		rc = ch_parser_finish(&p);
	ch_parser_free(&p);
	return rc;
}

int labt_ch_rows(labt *t, const char *pattern, const char *tsv)
{
	struct labt_rule *r;
	if (!tsv || tsv_check(tsv) < 0)
		return LAB_EPARSE;
	int id = rule_add(&t->rules, pattern, &r);
	if (id >= 0)
		r->tsv = labti_strdup(tsv);
	return id;
}

int labt_ch_fail(labt *t, const char *pattern, int status, const char *message)
{
	struct labt_rule *r;
	if (status >= 0)
		return LAB_EINVAL;
	int id = rule_add(&t->rules, pattern, &r);
	if (id >= 0) {
		r->status = status;
		r->message = labti_strdup(message ? message : lab_strerror(status));
	}
	return id;
}

int labt_ch_delay(labt *t, int rule, uint64_t ms)
{
	if (rule < 0 || (size_t)rule >= t->rules.n)
		return LAB_EINVAL;
	((struct labt_rule *)t->rules.v[rule])->delay = ms;
	return 0;
}

int labt_ch_times(labt *t, int rule, unsigned n)
{
	if (rule < 0 || (size_t)rule >= t->rules.n)
		return LAB_EINVAL;
	struct labt_rule *r = t->rules.v[rule];
	r->limited = 1;
	r->left = n;
	return 0;
}

void labt_ch_batch(labt *t, size_t rows) { t->batch = rows ? rows : 1; }

size_t labt_ch_queries(const labt *t, const char *pattern)
{
	size_t n = 0;
	for (size_t i = 0; i < t->queries.n; i++)
		n += text_match(pattern, t->queries.v[i]);
	return n;
}

const char *labt_ch_sql(const labt *t, size_t i)
{
	return i < t->queries.n ? t->queries.v[i] : NULL;
}
size_t labt_ch_unmatched(const labt *t) { return t->unmatched; }

int labti_query(struct labt *t, const char *sql, const lab_param *params, size_t n,
	       unsigned flags, lab_rows_cb on_rows, lab_query_cb cb, void *ud, lab_op **out)
{
	struct buf b = BUF_INIT;
	struct labt_rule *hit = NULL;
	int rc;
	if (!sql || (n && !params) || (flags & ~(unsigned)LAB_QUERY_STREAM) ||
	    ((flags & LAB_QUERY_STREAM) && !on_rows))
		return LAB_EINVAL;
	if (!labti_accepts_ops(t))
		return LAB_ECANCELED;
	if ((rc = ch_bind(&b, sql, params, n)) < 0) {
		buf_free(&b);
		return rc;
	}
	char *bound = labti_strndup(b.data ? b.data : "", b.len);
	buf_free(&b);
	labti_vec_push(&t->queries, bound);
	for (size_t i = 0; i < t->rules.n && !hit; i++) {
		struct labt_rule *r = t->rules.v[i];
		if ((!r->limited || r->left > 0) && pattern_match(r, bound))
			hit = r;
	}
	struct labt_ev *e = labti_ev_new(t, EV_QUERY);
	e->query_cb = cb;
	e->rows_cb = (flags & LAB_QUERY_STREAM) ? on_rows : NULL;
	e->ud = ud;
	if (!hit) {
		t->unmatched++;
		e->status = LAB_EQUERY;
		struct buf m = BUF_INIT;
		buf_printf(&m, "lab-plugin-test: no canned answer for: %s", bound);
		e->errmsg = labti_strndup(m.data, m.len);
		buf_free(&m);
		if (t->verbose)
			fprintf(stderr, "%s\n", e->errmsg);
	} else {
		if (hit->limited)
			hit->left--;
		e->status = hit->status;
		e->errmsg = hit->message ? labti_strdup(hit->message) : NULL;
		e->tsv = hit->tsv ? labti_strdup(hit->tsv) : NULL;
	}
	labti_ev_queue(t, e, hit ? hit->delay : 0);
	if (out)
		*out = (lab_op *)e;
	return 0;
}

struct stream_ctx {
	struct labt *t;
	struct labt_ev *e;
};

static int stream_batch(const struct lab_rows *rows, void *ud)
{
	struct stream_ctx *s = ud;
	s->e->rows_cb(&s->t->pub, rows, s->e->ud);
	return 0;
}

void labti_query_fire(struct labt *t, struct labt_ev *e)
{
	lab_ctx *ctx = &t->pub;
	struct ch_parser p;
	struct stream_ctx sc = { t, e };
	if (e->status < 0 || !e->tsv) {
		if (e->query_cb)
			e->query_cb(ctx, e->status ? e->status : LAB_EQUERY, e->errmsg, NULL, e->ud);
		return;
	}
	/* Parsed again for each answer: the rows live only during the callback. */
	ch_parser_init(&p, e->rows_cb ? t->batch : 0, e->rows_cb ? stream_batch : NULL, &sc);
	int rc = ch_parser_feed(&p, e->tsv, strlen(e->tsv), NULL);
	if (rc == 0)
		rc = ch_parser_finish(&p);
	if (e->query_cb) {
		if (rc < 0)
			e->query_cb(ctx, rc, "lab-plugin-test: canned rows do not parse", NULL, e->ud);
		else
			e->query_cb(ctx, 0, NULL, e->rows_cb ? NULL : &p.rows, e->ud);
	}
	ch_parser_free(&p);
}

/* ---- storage --------------------------------------------------------------- */

static int key_ok(const char *key)
{
	size_t n;
	if (!key)
		return 0;
	n = strnlen(key, LABT_KEY_MAX + 1);
	return n <= LABT_KEY_MAX && key_segments_ok(key, n, LABT_META_DIR);
}

/* Index of `key` in the sorted vec, or where it would go (*found = 0). */
static size_t obj_find(const struct labt_vec *v, const char *key, int *found)
{
	size_t lo = 0, hi = v->n;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int c = strcmp(((struct labt_obj *)v->v[mid])->key, key);
		if (c == 0) {
			*found = 1;
			return mid;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	*found = 0;
	return lo;
}

static void obj_free(struct labt_obj *o)
{
	free(o->key);
	free(o->ctype);
	buf_free(&o->body);
	free(o);
}

static void obj_put(struct labt_vec *v, const char *key, const void *data, size_t len,
		    const char *ctype)
{
	int found;
	size_t i = obj_find(v, key, &found);
	struct labt_obj *o;
	if (found) {
		o = v->v[i];
		buf_reset(&o->body);
		free(o->ctype);
		o->ctype = NULL;
	} else {
		o = calloc(1, sizeof *o);
		if (!o)
			labti_die("calloc", "out of memory");
		o->key = labti_strdup(key);
		labti_vec_push(v, NULL);
		memmove(v->v + i + 1, v->v + i, (v->n - 1 - i) * sizeof *v->v);
		v->v[i] = o;
	}
	buf_append(&o->body, "", 0);
	buf_append(&o->body, data, len);
	if (!o->body.data)
		buf_puts(&o->body, ""); /* NUL-terminated even when empty */
	if (o->body.oom)
		labti_die("storage", "out of memory");
	o->ctype = ctype ? labti_strdup(ctype) : NULL;
}

static void obj_del(struct labt_vec *v, const char *key)
{
	int found;
	size_t i = obj_find(v, key, &found);
	if (found) {
		obj_free(v->v[i]);
		labti_vec_del(v, i);
	}
}

static const struct labt_obj *obj_get(const struct labt_vec *v, const char *key)
{
	int found;
	size_t i = obj_find(v, key, &found);
	return found ? v->v[i] : NULL;
}

int labt_storage_put(labt *t, const char *key, const void *data, size_t len)
{
	if (!key_ok(key))
		return LAB_EPERM;
	if (!data && len)
		return LAB_EINVAL;
	obj_put(&t->objs, key, data, len, NULL);
	return 0;
}

const char *labt_storage_get(const labt *t, const char *key, size_t *len)
{
	const struct labt_obj *o = key ? obj_get(&t->objs, key) : NULL;
	if (!o)
		return NULL;
	if (len)
		*len = o->body.len;
	return o->body.data;
}

const char *labt_storage_content_type(const labt *t, const char *key)
{
	const struct labt_obj *o = key ? obj_get(&t->objs, key) : NULL;
	return o ? o->ctype : NULL;
}

size_t labt_storage_count(const labt *t) { return t->objs.n; }
const char *labt_storage_key(const labt *t, size_t i)
{
	return i < t->objs.n ? ((struct labt_obj *)t->objs.v[i])->key : NULL;
}

size_t labt_storage_writes(const labt *t, const char *pattern)
{
	size_t n = 0;
	for (size_t i = 0; i < t->writes.n; i++)
		n += text_match(pattern, t->writes.v[i]);
	return n;
}

int labt_storage_fail(labt *t, const char *pattern, int status, unsigned n)
{
	struct labt_rule *r;
	if (status >= 0)
		return LAB_EINVAL;
	int id = rule_add(&t->sfail, pattern, &r);
	if (id >= 0) {
		r->status = status;
		r->limited = n > 0;
		r->left = n;
	}
	return id;
}

void labt_storage_delay(labt *t, uint64_t ms) { t->storage_delay = ms; }

/* The operation happens when it completes (as seen by the plugin), so a get
 * issued before a put of the same key completes sees the old object. */
int labti_storage_op(struct labt *t, int which, const char *key, const void *data, size_t len,
		    const char *ctype, lab_storage_cb cb, void *ud, lab_op **out)
{
	if (!key)
		return LAB_EINVAL;
	if (!labti_accepts_ops(t))
		return LAB_ECANCELED;
	if (!key_ok(key))
		return LAB_EPERM;
	struct labt_ev *e = labti_ev_new(t, EV_STORAGE);
	e->storage_cb = cb;
	e->ud = ud;
	e->status = which; /* the operation until it fires */
	e->subject = labti_strdup(key);
	e->errmsg = ctype ? labti_strdup(ctype) : NULL;
	if (which == LABT_PUT)
		buf_append(&e->body, data, len);
	if (e->body.oom)
		labti_die("storage", "out of memory");
	labti_ev_queue(t, e, t->storage_delay);
	if (out)
		*out = (lab_op *)e;
	return 0;
}

static int injected(struct labt *t, const char *key)
{
	for (size_t i = 0; i < t->sfail.n; i++) {
		struct labt_rule *r = t->sfail.v[i];
		if ((r->limited && r->left == 0) || !pattern_match(r, key))
			continue;
		if (r->limited)
			r->left--;
		return r->status;
	}
	return 0;
}

void labti_storage_fire(struct labt *t, struct labt_ev *e)
{
	const char *key = e->subject;
	int which = e->status, status = injected(t, key);
	const void *data = NULL;
	size_t len = 0;
	const struct labt_obj *o = obj_get(&t->objs, key);
	if (status == 0) {
		switch (which) {
		case LABT_PUT:
			obj_put(&t->objs, key, e->body.data, e->body.len,
				e->errmsg ? e->errmsg :
				(strlen(key) >= 5 && !strcmp(key + strlen(key) - 5, ".json")) ?
					    "application/json" : "application/octet-stream");
			labti_vec_push(&t->writes, labti_strdup(key));
			break;
		case LABT_GET:
			if (o) {
				data = o->body.data;
				len = o->body.len;
			} else {
				status = LAB_ENOENT;
			}
			break;
		case LABT_EXISTS:
			status = o != NULL;
			break;
		default:
			obj_del(&t->objs, key);
			labti_vec_push(&t->writes, labti_strdup(key));
			break;
		}
	}
	if (e->storage_cb)
		e->storage_cb(&t->pub, status, data, len, e->ud);
}

/* ---- state ----------------------------------------------------------------- */

/* One JSON value, with labd's own state check (host/state_value.c). */
static int json_one(const char *json, size_t len) { return state_value_check(json, len) == 0; }

/* State keys as labd checks them (host/state.c): 1..1024 bytes of UTF-8
 * without C0 controls or DEL. */
static int state_key_ok(const char *key)
{
	const unsigned char *p = (const unsigned char *)key;
	size_t n = strnlen(key, 1025), l;
	if (n == 0 || n > 1024)
		return 0;
	for (size_t i = 0; i < n; i += l)
		if (p[i] < 0x20 || p[i] == 0x7f || !(l = utf8_seq(p + i, n - i)))
			return 0;
	return 1;
}

int labti_state_get(struct labt *t, const char *key, const char **json, size_t *len)
{
	if (!key || !json)
		return LAB_EINVAL;
	const struct labt_obj *o = obj_get(&t->state, key);
	if (!o)
		return LAB_ENOENT;
	*json = o->body.data;
	if (len)
		*len = o->body.len;
	return 0;
}

int labti_state_set_(struct labt *t, const char *key, const char *json, size_t len)
{
	if (!key || !json || !state_key_ok(key))
		return LAB_EINVAL;
	if (len > ((size_t)16 << 20))
		return LAB_ERANGE;
	if (!json_one(json, len))
		return LAB_EPARSE;
	while (len && strchr(" \t\r\n", json[len - 1]))
		len--;
	while (len && strchr(" \t\r\n", *json))
		json++, len--;
	obj_put(&t->state, key, json, len, NULL);
	return 0;
}

int labti_state_delete_(struct labt *t, const char *key)
{
	if (!key)
		return LAB_EINVAL;
	obj_del(&t->state, key);
	return 0;
}

int labti_state_flush_now(struct labt *t)
{
	t->flushes++;
	if (t->flush_fail_n) {
		t->flush_fail_n--;
		return t->flush_fail;
	}
	return 0;
}

int labt_state_set(labt *t, const char *key, const char *json)
{
	return json ? labti_state_set_(t, key, json, strlen(json)) : LAB_EINVAL;
}

const char *labt_state_get(const labt *t, const char *key)
{
	const struct labt_obj *o = key ? obj_get(&t->state, key) : NULL;
	return o ? o->body.data : NULL;
}

size_t labt_state_flushes(const labt *t) { return t->flushes; }

void labt_state_fail_flush(labt *t, int status, unsigned n)
{
	t->flush_fail = status;
	t->flush_fail_n = status < 0 ? n : 0;
}

/* ---- JSON inspection ---------------------------------------------------- */

const char *labt_json(labt *t, const char *json, const char *path)
{
	json_object *root, *cur;
	char comp[256];
	if (!json || !path)
		return NULL;
	root = json_tokener_parse(json);
	if (!root && !json_one(json, strlen(json)))
		return NULL;
	cur = root;
	for (const char *p = path; *p;) {
		size_t n = strcspn(p, ".");
		if (n == 0 || n >= sizeof comp) {
			cur = NULL;
			break;
		}
		memcpy(comp, p, n);
		comp[n] = '\0';
		if (json_object_is_type(cur, json_type_object)) {
			if (!json_object_object_get_ex(cur, comp, &cur))
				cur = NULL;
		} else if (json_object_is_type(cur, json_type_array)) {
			char *end;
			unsigned long k = strtoul(comp, &end, 10);
			cur = (*end || k >= json_object_array_length(cur)) ? NULL :
									  json_object_array_get_idx(cur, k);
			if (!cur) {
				json_object_put(root);
				return NULL;
			}
		} else {
			cur = NULL;
		}
		if (!cur)
			break;
		p += n;
		if (*p == '.')
			p++;
	}
	if (!cur && *path) {
		json_object_put(root);
		return NULL;
	}
	char *s = labti_strdup(json_object_to_json_string_ext(cur, JSON_C_TO_STRING_PLAIN |
								   JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(root);
	labti_vec_push(&t->strs, s);
	return s;
}

void labti_data_free(struct labt *t)
{
	for (size_t i = 0; i < t->rules.n; i++)
		rule_free(t->rules.v[i]);
	for (size_t i = 0; i < t->sfail.n; i++)
		rule_free(t->sfail.v[i]);
	for (size_t i = 0; i < t->queries.n; i++)
		free(t->queries.v[i]);
	for (size_t i = 0; i < t->writes.n; i++)
		free(t->writes.v[i]);
	for (size_t i = 0; i < t->objs.n; i++)
		obj_free(t->objs.v[i]);
	for (size_t i = 0; i < t->state.n; i++)
		obj_free(t->state.v[i]);
	for (size_t i = 0; i < t->events.n; i++)
		obj_free(t->events.v[i]);
	free(t->rules.v);
	free(t->sfail.v);
	free(t->queries.v);
	free(t->writes.v);
	free(t->objs.v);
	free(t->state.v);
	free(t->events.v);
}
