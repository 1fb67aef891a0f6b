/*
 * contributors — community node summaries (SPEC §9.2, docs/plugins/contributors.md).
 *
 * Four processors, run in order in one "pass": summary, countries (per
 * window), users (per window), user_summaries.  Each processor is gated by
 * `interval` since its last success, each window by its `step`; --once and
 * run requests ignore the gates.  A pass runs one query at a time; the
 * documents of a query are stored in parallel, and only when all of them
 * were stored is the work recorded in state.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>
#include <lab/plugin.h>

#include "compute.h"
#include "buf.h"

enum { P_SUMMARY, P_COUNTRIES, P_USERS, P_USUM, NPROC };
static const char *const proc_name[NPROC] = { "summary", "countries", "users", "user_summaries" };

static const lab_setting window_settings[] = {
	{ .name = "file", .type = LAB_SET_STRING, .desc = "file name of the window ([A-Za-z0-9._-])",
	  .flags = LAB_SETTING_REQUIRED },
	{ .name = "step", .type = LAB_SET_DURATION, .desc = "time bucket and re-run period",
	  .flags = LAB_SETTING_REQUIRED },
	{ .name = "label", .type = LAB_SET_STRING, .def = "", .desc = "label for the front end" },
	{ .name = "range", .type = LAB_SET_DURATION, .desc = "negative duration: start = now + range",
	  .flags = LAB_SETTING_REQUIRED },
	{ 0 },
};

static const lab_setting settings[] = {
	{ .name = "path_prefix", .type = LAB_SET_STRING, .def = "xatu_public_contributors",
	  .desc = "storage prefix of every document" },
	{ .name = "interval", .type = LAB_SET_DURATION, .def = "1h",
	  .desc = "minimum time between two runs of each processor" },
	{ .name = "networks", .type = LAB_SET_STRINGS,
	  .desc = "networks to process (default: every ethereum.networks entry)" },
	{ .name = "time_windows", .type = LAB_SET_LIST, .children = window_settings,
	  .desc = "windows of countries/users (default: last_90_days, last_30_days, last_1_day, last_6h)" },
	{ 0 },
};

struct window {
	char *file, *label;
	int64_t step, range;
};

struct pstate {
	int64_t last;
	int64_t *win_last; /* per window */
};

struct contrib;
struct doc {
	struct contrib *c;
	char *key;
	char *stale_key; /* user documents: labd 1.0's escaped copy to remove, or NULL */
	struct buf body;
	const char *network; /* NULL = none; points into c->nets */
	const char *window;  /* NULL = none */
};

struct contrib {
	lab_ctx *ctx;
	const char *prefix;
	int64_t interval;
	char **nets;
	size_t nnets;
	struct window *wins;
	size_t nwins;
	struct pstate st[NPROC];
	lab_timer *timer;
	/* the running pass */
	int busy, again, force, once, stopping;
	int64_t now;
	size_t task;
	int ran[NPROC], failed[NPROC], norecord[NPROC];
	int pass_failed;
	struct doc *docs;
	size_t ndocs, puts_pending;
	int puts_failed;
	int row_err; /* a cell of the current answer did not parse (LAB_EPARSE) */
	struct buf describe;
};

static void pass_next(struct contrib *c);
static void pass_start(struct contrib *c, int force);

/* ---- state ---------------------------------------------------------------- */

static void state_load(struct contrib *c, int p)
{
	const char *json;
	size_t len;
	if (lab_state_get(c->ctx, proc_name[p], &json, &len) < 0)
		return;
	struct json_tokener *tok = json_tokener_new();
	if (!tok)
		return;
	struct json_object *o = json_tokener_parse_ex(tok, json, (int)len), *v, *w;
	json_tokener_free(tok);
	if (!o)
		return;
	/* Untrusted: wrong types read as "never ran". */
	if (json_object_object_get_ex(o, "last_processed", &v) &&
	    (json_object_is_type(v, json_type_int) || json_object_is_type(v, json_type_double)))
		c->st[p].last = json_object_get_int64(v);
	if (json_object_object_get_ex(o, "last_processed_windows", &w) &&
	    json_object_is_type(w, json_type_object))
		for (size_t i = 0; i < c->nwins; i++)
			if (json_object_object_get_ex(w, c->wins[i].file, &v) &&
			    json_object_is_type(v, json_type_int))
				c->st[p].win_last[i] = json_object_get_int64(v);
	json_object_put(o);
}

static void state_save(struct contrib *c, int p)
{
	struct buf b = { 0 };
	buf_puts(&b, "{\"last_processed\":");
	buf_i64(&b, c->st[p].last);
	buf_puts(&b, ",\"last_processed_windows\":{");
	int first = 1;
	for (size_t i = 0; (p == P_COUNTRIES || p == P_USERS) && i < c->nwins; i++) {
		if (c->st[p].win_last[i] <= 0)
			continue;
		if (!first)
			buf_append(&b, ",", 1);
		first = 0;
		buf_json_str(&b, c->wins[i].file, strlen(c->wins[i].file));
		buf_append(&b, ":", 1);
		buf_i64(&b, c->st[p].win_last[i]);
	}
	buf_puts(&b, "}}");
	int rc = b.oom ? LAB_ENOMEM : lab_state_set(c->ctx, proc_name[p], b.data, b.len);
	if (rc < 0)
		lab_logkv(c->ctx, LAB_LOG_WARN, "cannot save state", LAB_FS("processor", proc_name[p]),
			  LAB_FS("error", lab_strerror(rc)));
	buf_free(&b);
}

/* ---- rows -----------------------------------------------------------------
 * ClickHouse answers are untrusted: a cell that does not convert (NaN, inf,
 * a negative or out-of-range count, a missing column) sets c->row_err, and
 * the task then fails without storing anything, so the previous documents
 * stay and the work is not recorded (as beacon and timings do).  A NULL
 * string is read as "" (the Xatu geo columns are nullable). */

static void col_str(struct contrib *c, const lab_rows *rows, size_t r, size_t col,
		    const char **s, size_t *n)
{
	int rc = lab_rows_str(c->ctx, rows, r, col, s, n);
	if (rc < 0 || !*s) {
		if (rc < 0 && rc != LAB_ENOENT)
			c->row_err = LAB_EPARSE;
		*s = "";
		*n = 0;
	}
}

static uint64_t col_u64(struct contrib *c, const lab_rows *rows, size_t r, size_t col)
{
	uint64_t v = 0;
	if (lab_rows_u64(c->ctx, rows, r, col, &v) < 0) {
		c->row_err = LAB_EPARSE;
		v = 0;
	}
	return v;
}

static int64_t col_i64(struct contrib *c, const lab_rows *rows, size_t r, size_t col)
{
	int64_t v = 0;
	if (lab_rows_i64(c->ctx, rows, r, col, &v) < 0) {
		c->row_err = LAB_EPARSE;
		v = 0;
	}
	return v;
}

static int col_is(struct contrib *c, const lab_rows *rows, size_t r, size_t col, const char *want)
{
	const char *s;
	size_t n;
	col_str(c, rows, r, col, &s, &n);
	return n == strlen(want) && memcmp(s, want, n) == 0;
}

/* ---- tasks ---------------------------------------------------------------- */

static size_t ntasks(const struct contrib *c) { return 2 + 2 * c->nwins; }

/* Processor and window (-1 = none) of task i. */
static int task_proc(const struct contrib *c, size_t i, long *win)
{
	*win = -1;
	if (i == 0)
		return P_SUMMARY;
	if (i <= c->nwins) {
		*win = (long)(i - 1);
		return P_COUNTRIES;
	}
	if (i <= 2 * c->nwins) {
		*win = (long)(i - 1 - c->nwins);
		return P_USERS;
	}
	return P_USUM;
}

static int task_first_of_proc(const struct contrib *c, size_t i)
{
	long w;
	return i == 0 || task_proc(c, i - 1, &w) != task_proc(c, i, &w);
}

static int task_last_of_proc(const struct contrib *c, size_t i)
{
	long w;
	return i + 1 == ntasks(c) || task_proc(c, i + 1, &w) != task_proc(c, i, &w);
}

static void docs_free(struct contrib *c)
{
	for (size_t i = 0; i < c->ndocs; i++) {
		free(c->docs[i].key);
		free(c->docs[i].stale_key);
		buf_free(&c->docs[i].body);
	}
	free(c->docs);
	c->docs = NULL;
	c->ndocs = 0;
}

/* The current task finished (ok = its work may be recorded). */
static void task_done(struct contrib *c, int ok)
{
	long w;
	int p = task_proc(c, c->task, &w);
	docs_free(c);
	if (!ok) {
		c->failed[p] = 1;
		c->pass_failed = 1;
	}
	if (task_last_of_proc(c, c->task) && c->ran[p] && !c->failed[p] && !c->norecord[p]) {
		c->st[p].last = c->now;
		state_save(c, p);
	}
	c->task++;
	pass_next(c);
}

static struct doc *doc_add(struct contrib *c, const char *network, const char *window)
{
	struct doc *d = realloc(c->docs, (c->ndocs + 1) * sizeof *d);
	if (!d)
		return NULL;
	c->docs = d;
	d = &c->docs[c->ndocs++];
	memset(d, 0, sizeof *d);
	d->c = c;
	d->network = network;
	d->window = window;
	return d;
}

/* "PREFIX/A[/B[/C]].json", malloc'ed, or NULL. */
static char *key_of(const char *prefix, const char *a, const char *b, const char *cc)
{
	size_t n = strlen(prefix) + strlen(a) + (b ? strlen(b) + 1 : 0) +
		   (cc ? strlen(cc) + 1 : 0) + 8;
	char *k = malloc(n);
	if (k)
		snprintf(k, n, "%s/%s%s%s%s%s.json", prefix, a, b ? "/" : "", b ? b : "",
			 cc ? "/" : "", cc ? cc : "");
	return k;
}

static int doc_key(struct doc *d, const char *prefix, const char *a, const char *b,
		   const char *cc)
{
	d->key = key_of(prefix, a, b, cc);
	return d->key ? 0 : LAB_ENOMEM;
}

static void publish_stored(struct contrib *c, const struct doc *d, int p)
{
	struct buf e = { 0 };
	buf_puts(&e, "{\"kind\":");
	buf_puts(&e, "\"");
	buf_puts(&e, proc_name[p]);
	buf_puts(&e, "\"");
	if (d->network) {
		buf_puts(&e, ",\"network\":");
		buf_json_str(&e, d->network, strlen(d->network));
	}
	if (d->window) {
		buf_puts(&e, ",\"window\":");
		buf_json_str(&e, d->window, strlen(d->window));
	}
	buf_puts(&e, ",\"key\":");
	buf_json_str(&e, d->key, strlen(d->key));
	buf_puts(&e, "}");
	if (!e.oom) {
		int rc = lab_publish(c->ctx, "contributors.updated", e.data, e.len);
		if (rc < 0)
			lab_logkv(c->ctx, LAB_LOG_WARN, "cannot publish", LAB_FS("key", d->key),
				  LAB_FS("error", lab_strerror(rc)));
	}
	buf_free(&e);
}

static void puts_finished(struct contrib *c)
{
	long w;
	int p = task_proc(c, c->task, &w);
	int ok = !c->puts_failed;
	if (ok && w >= 0) {
		c->st[p].win_last[w] = c->now;
		state_save(c, p);
	}
	task_done(c, ok);
}

/* The stale escaped copy is gone (or was never there).  A failure leaves it
 * for the next pass to remove; the document itself is stored either way. */
static void on_stale_deleted(lab_ctx *ctx, int status, const void *data, size_t len, void *ud)
{
	struct doc *d = ud;
	struct contrib *c = d->c;
	(void)data;
	(void)len;
	if (status < 0 && status != LAB_ENOENT)
		lab_logkv(ctx, LAB_LOG_WARN, "cannot remove the escaped copy of a user document",
			  LAB_FS("key", d->stale_key), LAB_FS("error", lab_strerror(status)));
	if (--c->puts_pending == 0)
		puts_finished(c);
}

static void on_put(lab_ctx *ctx, int status, const void *data, size_t len, void *ud)
{
	struct doc *d = ud;
	struct contrib *c = d->c;
	long w;
	(void)data;
	(void)len;
	if (status < 0) {
		lab_logkv(ctx, LAB_LOG_ERROR, "cannot store document", LAB_FS("key", d->key),
			  LAB_FS("error", lab_strerror(status)));
		c->puts_failed = 1;
	} else {
		publish_stored(c, d, task_proc(c, c->task, &w));
		/* Only now that the raw key holds the document: a reader never
		 * finds neither copy. */
		if (d->stale_key) {
			int rc = lab_storage_delete(ctx, d->stale_key, on_stale_deleted, d);
			if (rc == 0)
				c->puts_pending++;
			else
				lab_logkv(ctx, LAB_LOG_WARN,
					  "cannot remove the escaped copy of a user document",
					  LAB_FS("key", d->stale_key), LAB_FS("error", lab_strerror(rc)));
		}
	}
	if (--c->puts_pending == 0)
		puts_finished(c);
}

/* Store every document of the current task; 0 when there is nothing to store. */
static int store_docs(struct contrib *c)
{
	c->puts_failed = 0;
	c->puts_pending = 1; /* held while issuing */
	for (size_t i = 0; i < c->ndocs; i++) {
		struct doc *d = &c->docs[i];
		if (d->body.oom || !d->key) {
			c->puts_failed = 1;
			continue;
		}
		c->puts_pending++;
		int rc = lab_storage_put_atomic(c->ctx, d->key, d->body.data, d->body.len,
						"application/json", NULL, on_put, d);
		if (rc < 0) {
			lab_logkv(c->ctx, LAB_LOG_ERROR, "cannot store document", LAB_FS("key", d->key),
				  LAB_FS("error", lab_strerror(rc)));
			c->puts_failed = 1;
			c->puts_pending--;
		}
	}
	if (--c->puts_pending == 0)
		puts_finished(c);
	return 0;
}

/* ---- documents ------------------------------------------------------------ */

static const char *const dims[] = { "countries", "continents", "cities",
				    "consensus_implementations" };

/* rows: net, dim, k, total, public (sorted by net, dim, k) */
static int build_summary(struct contrib *c, const lab_rows *rows, size_t nr)
{
	struct doc *d = doc_add(c, NULL, NULL);
	if (!d || doc_key(d, c->prefix, "summary", NULL, NULL) < 0)
		return LAB_ENOMEM;
	struct buf *b = &d->body;
	buf_puts(b, "{\"updated_at\":");
	buf_i64(b, c->now);
	buf_puts(b, ",\"networks\":{");
	for (size_t n = 0; n < c->nnets; n++) {
		uint64_t total = 0, pub = 0;
		for (size_t r = 0; r < nr; r++)
			if (col_is(c, rows, r, 0, c->nets[n]) && col_is(c, rows, r, 1, "")) {
				total = col_u64(c, rows, r, 3);
				pub = col_u64(c, rows, r, 4);
			}
		if (n)
			buf_append(b, ",", 1);
		buf_json_str(b, c->nets[n], strlen(c->nets[n]));
		buf_puts(b, ":{\"total_nodes\":");
		buf_u64(b, total);
		buf_puts(b, ",\"total_public_nodes\":");
		buf_u64(b, pub);
		for (size_t k = 0; k < sizeof dims / sizeof *dims; k++) {
			int first = 1;
			buf_puts(b, ",\"");
			buf_puts(b, dims[k]);
			buf_puts(b, "\":{");
			for (size_t r = 0; r < nr; r++) {
				const char *s;
				size_t sl;
				if (!col_is(c, rows, r, 0, c->nets[n]) ||
				    !col_is(c, rows, r, 1, dims[k]))
					continue;
				if (!first)
					buf_append(b, ",", 1);
				first = 0;
				col_str(c, rows, r, 2, &s, &sl);
				buf_json_str(b, s, sl);
				buf_puts(b, ":{\"total_nodes\":");
				buf_u64(b, col_u64(c, rows, r, 3));
				buf_puts(b, ",\"public_nodes\":");
				buf_u64(b, col_u64(c, rows, r, 4));
				buf_append(b, "}", 1);
			}
			buf_append(b, "}", 1);
		}
		buf_append(b, "}", 1);
	}
	buf_puts(b, "}}");
	return 0;
}

/* rows: net, time, name, count (sorted); one document per network with rows. */
static int build_series(struct contrib *c, int p, long w, const lab_rows *rows, size_t nr)
{
	const char *list = p == P_COUNTRIES ? "countries" : "users";
	const char *val = p == P_COUNTRIES ? "value" : "nodes";
	for (size_t n = 0; n < c->nnets; n++) {
		struct doc *d = NULL;
		int64_t cur = 0;
		for (size_t r = 0; r < nr; r++) {
			const char *s;
			size_t sl;
			if (!col_is(c, rows, r, 0, c->nets[n]))
				continue;
			int64_t t = col_i64(c, rows, r, 1);
			if (!d) {
				d = doc_add(c, c->nets[n], c->wins[w].file);
				if (!d || doc_key(d, c->prefix, list, c->nets[n], c->wins[w].file) < 0)
					return LAB_ENOMEM;
				buf_append(&d->body, "[", 1);
			} else if (t != cur) {
				buf_puts(&d->body, "]},");
			}
			if (d->body.len == 1 || t != cur) {
				buf_puts(&d->body, "{\"time\":");
				buf_i64(&d->body, t);
				buf_puts(&d->body, ",\"");
				buf_puts(&d->body, list);
				buf_puts(&d->body, "\":[");
				cur = t;
			} else {
				buf_append(&d->body, ",", 1);
			}
			col_str(c, rows, r, 2, &s, &sl);
			buf_puts(&d->body, "{\"name\":");
			buf_json_str(&d->body, s, sl);
			buf_puts(&d->body, ",\"");
			buf_puts(&d->body, val);
			buf_puts(&d->body, "\":");
			buf_u64(&d->body, col_u64(c, rows, r, 3));
			buf_append(&d->body, "}", 1);
		}
		if (d)
			buf_puts(&d->body, "]}]");
	}
	return 0;
}

/* rows: username, network, client_name, consensus_client, consensus_version,
 * country, city, continent, latest_slot, latest_slot_start_date_time,
 * client_implementation, client_version (sorted by username, client_name). */
static const char *const node_fields[] = { "network",   "client_name",
					   "consensus_client", "consensus_version",
					   "country",  "city",
					   "continent", "latest_slot",
					   "latest_slot_start_date_time", "client_implementation",
					   "client_version" };

static void node_json(struct contrib *c, struct buf *b, const lab_rows *rows, size_t r)
{
	buf_append(b, "{", 1);
	for (size_t f = 0; f < sizeof node_fields / sizeof *node_fields; f++) {
		if (f)
			buf_append(b, ",", 1);
		buf_append(b, "\"", 1);
		buf_puts(b, node_fields[f]);
		buf_puts(b, "\":");
		if (f == 7 || f == 8) {
			buf_u64(b, col_u64(c, rows, r, f + 1));
		} else {
			const char *s;
			size_t sl;
			col_str(c, rows, r, f + 1, &s, &sl);
			buf_json_str(b, s, sl);
		}
	}
	buf_append(b, "}", 1);
}

static int same_user(struct contrib *c, const lab_rows *rows, size_t a, size_t b)
{
	const char *s, *t;
	size_t sl, tl;
	col_str(c, rows, a, 0, &s, &sl);
	col_str(c, rows, b, 0, &t, &tl);
	return sl == tl && memcmp(s, t, sl) == 0;
}

static int build_user_summaries(struct contrib *c, const lab_rows *rows, size_t nr)
{
	lab_ctx *ctx = c->ctx;
	struct doc *sum = doc_add(c, NULL, NULL);
	if (!sum || doc_key(sum, c->prefix, "user-summaries", "summary", NULL) < 0)
		return LAB_ENOMEM;
	struct buf sb = { 0 };
	buf_puts(&sb, "{\"contributors\":[");
	size_t r = 0;
	while (r < nr) {
		size_t e = r + 1;
		while (e < nr && same_user(c, rows, r, e))
			e++;
		const char *s;
		size_t sl;
		char key[CONTRIB_KEY_MAX], stale[CONTRIB_KEY_MAX];
		col_str(c, rows, r, 0, &s, &sl);
		contrib_user_key(s, sl, key);
		if (!contrib_raw_segment(s, sl))
			lab_logkv(ctx, LAB_LOG_DEBUG, "username stored under its escaped key",
				  LAB_FS("key", key), LAB_FI("bytes", (int64_t)sl));
		struct doc *d = doc_add(c, NULL, NULL);
		if (!d || doc_key(d, c->prefix, "user-summaries", "users", key) < 0 ||
		    (contrib_user_stale_key(s, sl, stale) &&
		     !(d->stale_key = key_of(c->prefix, "user-summaries", "users", stale)))) {
			buf_free(&sb);
			return LAB_ENOMEM;
		}
		struct buf nodes = { 0 };
		buf_append(&nodes, "[", 1);
		for (size_t i = r; i < e; i++) {
			if (i > r)
				buf_append(&nodes, ",", 1);
			node_json(c, &nodes, rows, i);
		}
		buf_append(&nodes, "]", 1);
		buf_puts(&d->body, "{\"name\":");
		buf_json_str(&d->body, s, sl);
		buf_puts(&d->body, ",\"nodes\":");
		buf_append(&d->body, nodes.data ? nodes.data : "", nodes.len);
		buf_puts(&d->body, ",\"updated_at\":");
		buf_i64(&d->body, c->now);
		buf_append(&d->body, "}", 1);
		if (nodes.oom)
			d->body.oom = 1;
		if (r)
			buf_append(&sb, ",", 1);
		buf_puts(&sb, "{\"name\":");
		buf_json_str(&sb, s, sl);
		buf_puts(&sb, ",\"node_count\":");
		buf_u64(&sb, e - r);
		buf_puts(&sb, ",\"updated_at\":");
		buf_i64(&sb, c->now);
		buf_puts(&sb, ",\"nodes\":");
		buf_append(&sb, nodes.data ? nodes.data : "", nodes.len);
		buf_append(&sb, "}", 1);
		if (nodes.oom)
			sb.oom = 1;
		buf_free(&nodes);
		r = e;
	}
	buf_puts(&sb, "],\"updated_at\":");
	buf_i64(&sb, c->now);
	buf_append(&sb, "}", 1);
	/* doc_add may have moved the array: find the summary again (index 0). */
	c->docs[0].body = sb;
	return 0;
}

/* ---- queries ---------------------------------------------------------------
 * All portable to ClickHouse 18.16 (SPEC §11).  `?` are bound by the host. */

#define PUBLIC_ROWS                                                                 \
	" FROM beacon_api_eth_v1_events_block FINAL"                                \
	" WHERE slot_start_date_time BETWEEN ? AND ?"                               \
	" AND meta_client_name != '' AND meta_client_name IS NOT NULL"              \
	" AND meta_network_name IN (%s)"

static const char SQL_SUMMARY[] =
	"SELECT net, dk.1 AS dim, dk.2 AS k, count() AS total, sum(pub) AS public"
	" FROM (SELECT net, pub, arrayJoin([('', ''), ('countries', country),"
	" ('continents', continent), ('cities', city), ('consensus_implementations', cons)]) AS dk"
	" FROM (SELECT meta_network_name AS net, meta_client_geo_country AS country,"
	" meta_client_geo_continent_code AS continent, meta_client_geo_city AS city,"
	" meta_client_name AS name, meta_consensus_implementation AS cons,"
	" if(name LIKE 'ethpandaops%%', 0, 1) AS pub" PUBLIC_ROWS
	" GROUP BY net, country, continent, city, name, cons))"
	" GROUP BY net, dim, k ORDER BY net, dim, k";

static const char SQL_COUNTRIES[] =
	"SELECT meta_network_name AS net,"
	" toInt64(intDiv(toUInt32(slot_start_date_time), ?) * ?) AS t,"
	" meta_client_geo_country AS k, uniqExact(meta_client_name) AS n" PUBLIC_ROWS
	" AND meta_client_name NOT LIKE 'ethpandaops%%'"
	" GROUP BY net, t, k ORDER BY net, t, k";

/*
 * Usernames (SPEC §9.2) without regular expressions: ClickHouse's RE2 works
 * on UTF-8, and `[^/]+` does not match invalid UTF-8 bytes, so
 * extractAll(name, '/([^/]+)/[^/]+$') yields '' for a name like
 * "pub-x/\xff\xfeuser/node" although the rule is about bytes.  These are
 * byte-exact on every ClickHouse version:
 *   USER_TAIL  /([^/]+)/[^/]+$ — in the reversed name r, i = the first '/',
 *              which must not be the first byte (last part non-empty), and
 *              the next '/' after it must exist and not follow at once;
 *   USER_MID   /([^/]+)/[^/]+/ — the first part p[k] (k >= 2: a '/' before
 *              it) that is non-empty, followed by a non-empty part that is
 *              itself followed by a '/'.
 * Both read columns r, i, r2, j and p, defined by USER_COLS over `name`.
 */
#define USER_COLS                                                                   \
	" reverse(name) AS r, position(r, '/') AS i, substring(r, i + 1) AS r2,"    \
	" position(r2, '/') AS j, splitByChar('/', name) AS p"
#define USER_TAIL "if(i > 1 AND j > 1, reverse(substring(r2, 1, j - 1)), '')"
#define USER_MID                                                                    \
	"arrayElement(p, arrayFirst(x -> x >= 2 AND x + 2 <= length(p) AND p[x] != ''" \
	" AND p[x + 1] != '', arrayEnumerate(p)))"

static const char SQL_USERS[] =
	"SELECT net, t, k, uniqExact(name) AS n FROM ("
	"SELECT meta_network_name AS net,"
	" toInt64(intDiv(toUInt32(slot_start_date_time), ?) * ?) AS t,"
	" meta_client_name AS name," USER_COLS ", " USER_TAIL " AS k" PUBLIC_ROWS
	" AND meta_client_name NOT LIKE 'ethpandaops%%')"
	" GROUP BY net, t, k ORDER BY net, t, k";

static const char SQL_USUM[] =
	"SELECT username, net, name, cons, consv, country, city, continent, slot, sst_unix,"
	" impl, ver FROM ("
	"SELECT multiIf(name LIKE 'pub%%', " USER_TAIL ", name LIKE 'ethpandaops%%', 'ethpandaops', "
	USER_MID ") AS username, net, name, cons, consv, country, city, continent, slot,"
	" toUnixTimestamp(sst) AS sst_unix, impl, ver," USER_COLS " FROM ("
	"SELECT meta_network_name AS net, meta_client_name AS name,"
	" meta_consensus_implementation AS cons, meta_consensus_version AS consv,"
	" meta_client_geo_country AS country, meta_client_geo_city AS city,"
	" meta_client_geo_continent_code AS continent, slot, slot_start_date_time AS sst,"
	" meta_client_implementation AS impl, meta_client_version AS ver" PUBLIC_ROWS
	" ORDER BY name, sst DESC, event_date_time DESC, net, slot DESC, cons, consv, impl, ver,"
	" country, city, continent"
	" LIMIT 1 BY name)) ORDER BY username, name";

static void on_query(lab_ctx *ctx, int status, const char *errmsg, const lab_rows *rows, void *ud)
{
	struct contrib *c = ud;
	long w;
	int p = task_proc(c, c->task, &w);
	int rc = 0;
	if (status < 0) {
		lab_logkv(ctx, LAB_LOG_ERROR, "query failed", LAB_FS("processor", proc_name[p]),
			  LAB_FS("error", lab_strerror(status)), LAB_FS("message", errmsg ? errmsg : ""));
		task_done(c, 0);
		return;
	}
	size_t nr = ctx->api->rows_count(rows);
	if (nr == 0) {
		lab_logkv(ctx, LAB_LOG_INFO, "no rows, nothing stored", LAB_FS("processor", proc_name[p]),
			  LAB_FS("window", w >= 0 ? c->wins[w].file : ""));
		/* summary / user_summaries: no write, and not recorded (retried next
		 * time); a window: not recorded, the processor still is. */
		if (w < 0)
			c->norecord[p] = 1;
		task_done(c, 1);
		return;
	}
	c->row_err = 0;
	switch (p) {
	case P_SUMMARY: rc = build_summary(c, rows, nr); break;
	case P_COUNTRIES:
	case P_USERS: rc = build_series(c, p, w, rows, nr); break;
	default: rc = build_user_summaries(c, rows, nr); break;
	}
	if (rc == 0 && c->row_err < 0) {
		lab_logkv(ctx, LAB_LOG_ERROR, "malformed ClickHouse answer, nothing stored",
			  LAB_FS("processor", proc_name[p]),
			  LAB_FS("window", w >= 0 ? c->wins[w].file : ""), LAB_FI("rows", (int64_t)nr));
		task_done(c, 0);
		return;
	}
	if (rc < 0) {
		lab_logkv(ctx, LAB_LOG_ERROR, "cannot build documents", LAB_FS("processor", proc_name[p]),
			  LAB_FS("error", lab_strerror(rc)));
		task_done(c, 0);
		return;
	}
	lab_logkv(ctx, LAB_LOG_INFO, "storing documents", LAB_FS("processor", proc_name[p]),
		  LAB_FS("window", w >= 0 ? c->wins[w].file : ""), LAB_FI("rows", (int64_t)nr),
		  LAB_FI("documents", (int64_t)c->ndocs));
	store_docs(c);
}

static int issue_query(struct contrib *c, int p, long w)
{
	const char *tmpl = p == P_SUMMARY ? SQL_SUMMARY :
			   p == P_COUNTRIES ? SQL_COUNTRIES :
			   p == P_USERS ? SQL_USERS : SQL_USUM;
	size_t np = c->nnets, k = 0;
	char *marks = malloc(np * 3 + 1), *sql = NULL;
	lab_param *params = calloc(np + 4, sizeof *params);
	int rc = LAB_ENOMEM;
	if (!marks || !params)
		goto out;
	marks[0] = '\0';
	for (size_t i = 0; i < np; i++)
		strcat(marks, i ? ",?" : "?");
	size_t sl = strlen(tmpl) + strlen(marks) + 1;
	if (!(sql = malloc(sl)))
		goto out;
	snprintf(sql, sl, tmpl, marks);
	int64_t start;
	if (p == P_SUMMARY)
		start = c->now - 3600;
	else if (p == P_USUM)
		start = c->now - 86400;
	else
		start = c->now + c->wins[w].range;
	if (p == P_COUNTRIES || p == P_USERS) {
		params[k++] = LAB_PUINT(c->wins[w].step);
		params[k++] = LAB_PUINT(c->wins[w].step);
	}
	params[k++] = LAB_PTIME(start < 0 ? 0 : start);
	params[k++] = LAB_PTIME(c->now);
	for (size_t i = 0; i < np; i++)
		params[k++] = LAB_PSTR(c->nets[i]);
	rc = c->ctx->api->query(c->ctx, sql, params, k, 0, NULL, on_query, c, NULL);
out:
	free(marks);
	free(sql);
	free(params);
	return rc;
}

/* ---- the pass ------------------------------------------------------------- */

static void on_once_flushed(lab_ctx *ctx, int status, void *ud)
{
	struct contrib *c = ud;
	lab_done(ctx, c->pass_failed ? LAB_EIO : status);
}

static void pass_end(struct contrib *c)
{
	c->busy = 0;
	/* A pass that found nothing due (most minutes) is not news at info. */
	int ran = 0;
	for (int p = 0; p < NPROC; p++)
		ran |= c->ran[p];
	lab_logkv(c->ctx, ran || c->pass_failed ? LAB_LOG_INFO : LAB_LOG_DEBUG, "pass finished",
		  LAB_FI("failed", c->pass_failed));
	if (c->once) {
		int rc = lab_state_flush(c->ctx, on_once_flushed, c);
		if (rc < 0)
			lab_done(c->ctx, rc);
		return;
	}
	if (c->again && !c->stopping) {
		c->again = 0;
		pass_start(c, 1); /* a run was asked for while this pass ran */
	}
}

static void pass_next(struct contrib *c)
{
	while (c->task < ntasks(c)) {
		long w;
		int p = task_proc(c, c->task, &w);
		if (c->stopping && !c->once) {
			c->task = ntasks(c);
			break;
		}
		if (task_first_of_proc(c, c->task))
			c->ran[p] = contrib_due(c->now, c->st[p].last, c->interval, c->force);
		int run = c->ran[p] && (w < 0 || contrib_due(c->now, c->st[p].win_last[w],
							     c->wins[w].step, c->force));
		if (run) {
			int rc = issue_query(c, p, w);
			if (rc == 0)
				return; /* continues in on_query */
			lab_logkv(c->ctx, LAB_LOG_ERROR, "cannot start query",
				  LAB_FS("processor", proc_name[p]), LAB_FS("error", lab_strerror(rc)));
			c->failed[p] = 1;
			c->pass_failed = 1;
		}
		if (task_last_of_proc(c, c->task) && c->ran[p] && !c->failed[p] && !c->norecord[p]) {
			c->st[p].last = c->now;
			state_save(c, p);
		}
		c->task++;
	}
	pass_end(c);
}

static void pass_start(struct contrib *c, int force)
{
	if (c->busy) {
		if (force)
			c->again = 1;
		return;
	}
	c->busy = 1;
	c->force = force;
	c->now = lab_now(c->ctx);
	c->task = 0;
	c->pass_failed = 0;
	memset(c->ran, 0, sizeof c->ran);
	memset(c->failed, 0, sizeof c->failed);
	memset(c->norecord, 0, sizeof c->norecord);
	pass_next(c);
}

/* ---- life cycle ----------------------------------------------------------- */

static void free_all(struct contrib *c)
{
	for (size_t i = 0; i < c->nnets; i++)
		free(c->nets[i]);
	free(c->nets);
	for (size_t i = 0; i < c->nwins; i++) {
		free(c->wins[i].file);
		free(c->wins[i].label);
	}
	free(c->wins);
	for (int p = 0; p < NPROC; p++)
		free(c->st[p].win_last);
	docs_free(c);
	buf_free(&c->describe);
	free(c);
}

static int cfg_error(struct contrib *c, const lab_cfg *node, const char *path, const char *what)
{
	const char *file = "?";
	int line = 0;
	lab_cfg_where(c->ctx, node, path, &file, &line);
	lab_logf(c->ctx, LAB_LOG_ERROR, "%s:%d: %s", file ? file : "?", line, what);
	return LAB_ECONFIG;
}

static int add_window(struct contrib *c, const char *file, const char *label, int64_t step,
		      int64_t range)
{
	struct window *w = &c->wins[c->nwins];
	w->file = strdup(file);
	w->label = strdup(label);
	w->step = step;
	w->range = range;
	c->nwins++;
	return w->file && w->label ? 0 : LAB_ENOMEM;
}

static int read_config(struct contrib *c)
{
	lab_ctx *ctx = c->ctx;
	if (lab_cfg_string(ctx, NULL, "path_prefix", &c->prefix) < 0 ||
	    lab_cfg_duration(ctx, NULL, "interval", &c->interval) < 0)
		return LAB_ECONFIG;
	if (c->interval <= 0)
		return cfg_error(c, NULL, "interval", "setting 'interval' must be positive");
	if (!*c->prefix || strstr(c->prefix, "..") || c->prefix[0] == '/' ||
	    c->prefix[strlen(c->prefix) - 1] == '/')
		return cfg_error(c, NULL, "path_prefix", "setting 'path_prefix' is not a safe key prefix");
	int n = lab_cfg_count(ctx, NULL, "networks");
	if (n < 0)
		return LAB_ECONFIG;
	size_t nn = n > 0 ? (size_t)n : lab_network_count(ctx);
	c->nets = calloc(nn ? nn : 1, sizeof *c->nets);
	if (!c->nets)
		return LAB_ENOMEM;
	for (size_t i = 0; i < nn; i++) {
		const char *name = NULL;
		if (n > 0) {
			const lab_cfg *e;
			if (lab_cfg_elem(ctx, NULL, "networks", (int)i, &e) < 0 ||
			    lab_cfg_string(ctx, e, NULL, &name) < 0)
				return LAB_ECONFIG;
		} else {
			name = lab_network_name(ctx, lab_network_at(ctx, i));
		}
		if (!name || !contrib_safe_segment(name, strlen(name)))
			return cfg_error(c, NULL, "networks", "a network name is not a safe key segment");
		for (size_t j = 0; j < c->nnets; j++)
			if (strcmp(c->nets[j], name) == 0)
				return cfg_error(c, NULL, "networks", "a network is listed twice");
		if (!(c->nets[c->nnets] = strdup(name)))
			return LAB_ENOMEM;
		c->nnets++;
	}
	if (c->nnets == 0)
		return cfg_error(c, NULL, "networks", "no networks to process (set 'networks' or ethereum.networks)");
	n = lab_cfg_count(ctx, NULL, "time_windows");
	if (n < 0)
		return LAB_ECONFIG;
	c->wins = calloc(n > 0 ? (size_t)n : 4, sizeof *c->wins);
	if (!c->wins)
		return LAB_ENOMEM;
	if (n == 0) {
		if (add_window(c, "last_90_days", "Last 90d", 3 * 86400, -90 * 86400) < 0 ||
		    add_window(c, "last_30_days", "Last 30d", 86400, -30 * 86400) < 0 ||
		    add_window(c, "last_1_day", "Last 1d", 3600, -86400) < 0 ||
		    add_window(c, "last_6h", "Last 6h", 300, -6 * 3600) < 0)
			return LAB_ENOMEM;
	}
	for (int i = 0; i < n; i++) {
		const lab_cfg *e;
		const char *file, *label;
		int64_t step, range;
		if (lab_cfg_elem(ctx, NULL, "time_windows", i, &e) < 0 ||
		    lab_cfg_string(ctx, e, "file", &file) < 0 ||
		    lab_cfg_string(ctx, e, "label", &label) < 0 ||
		    lab_cfg_duration(ctx, e, "step", &step) < 0 ||
		    lab_cfg_duration(ctx, e, "range", &range) < 0)
			return LAB_ECONFIG;
		if (!contrib_safe_segment(file, strlen(file)))
			return cfg_error(c, e, "file", "time window 'file' is not a safe key segment");
		for (size_t j = 0; j < c->nwins; j++)
			if (strcmp(c->wins[j].file, file) == 0)
				return cfg_error(c, e, "file", "time window 'file' is used twice");
		if (step <= 0 || step > UINT32_MAX)
			return cfg_error(c, e, "step", "time window 'step' must be positive");
		if (range >= 0)
			return cfg_error(c, e, "range", "time window 'range' must be negative");
		if (add_window(c, file, label, step, range) < 0)
			return LAB_ENOMEM;
	}
	for (int p = 0; p < NPROC; p++)
		if (!(c->st[p].win_last = calloc(c->nwins ? c->nwins : 1, sizeof(int64_t))))
			return LAB_ENOMEM;
	return 0;
}

static int contrib_init(lab_ctx *ctx, void **self)
{
	struct contrib *c = calloc(1, sizeof *c);
	if (!c)
		return LAB_ENOMEM;
	c->ctx = ctx;
	int rc = read_config(c);
	if (rc < 0) {
		free_all(c);
		return rc;
	}
	for (int p = 0; p < NPROC; p++)
		state_load(c, p);
	*self = c;
	return 0;
}

static void on_tick(lab_ctx *ctx, lab_timer *t, void *ud)
{
	(void)ctx;
	(void)t;
	pass_start(ud, 0);
}

static int contrib_start(void *self)
{
	struct contrib *c = self;
	/* Gates are checked every minute (or every interval, if shorter). */
	uint64_t period = c->interval < 60 ? (uint64_t)c->interval * 1000 : 60000;
	lab_logkv(c->ctx, LAB_LOG_INFO, "contributors started", LAB_FI("networks", (int64_t)c->nnets),
		  LAB_FI("windows", (int64_t)c->nwins), LAB_FI("interval_s", c->interval));
	return lab_timer_start(c->ctx, 0, period, on_tick, c, &c->timer);
}

static int contrib_stop(void *self)
{
	struct contrib *c = self;
	c->stopping = 1;
	return 0;
}

static void contrib_destroy(void *self) { free_all(self); }

static int contrib_once(void *self)
{
	struct contrib *c = self;
	c->once = 1;
	pass_start(c, 1);
	return 0;
}

static int contrib_run(void *self)
{
	pass_start(self, 1);
	return 0;
}

static void duration_text(struct buf *b, int64_t s)
{
	char t[32];
	int64_t a = s < 0 ? -s : s;
	const char *u = "s";
	int64_t v = s;
	if (a && a % 86400 == 0)
		u = "d", v = s / 86400;
	else if (a && a % 3600 == 0)
		u = "h", v = s / 3600;
	else if (a && a % 60 == 0)
		u = "m", v = s / 60;
	snprintf(t, sizeof t, "%" PRId64 "%s", v, u);
	buf_json_str(b, t, strlen(t));
}

static const char *contrib_describe(void *self)
{
	struct contrib *c = self;
	struct buf *b = &c->describe;
	buf_free(b);
	b->oom = 0;
	buf_puts(b, "{\"enabled\":true,\"description\":\"Xatu public contributors\",\"path_prefix\":");
	buf_json_str(b, c->prefix, strlen(c->prefix));
	buf_puts(b, ",\"networks\":[");
	for (size_t i = 0; i < c->nnets; i++) {
		if (i)
			buf_append(b, ",", 1);
		buf_json_str(b, c->nets[i], strlen(c->nets[i]));
	}
	buf_puts(b, "],\"time_windows\":[");
	for (size_t i = 0; i < c->nwins; i++) {
		if (i)
			buf_append(b, ",", 1);
		buf_puts(b, "{\"file\":");
		buf_json_str(b, c->wins[i].file, strlen(c->wins[i].file));
		buf_puts(b, ",\"step\":");
		duration_text(b, c->wins[i].step);
		buf_puts(b, ",\"label\":");
		buf_json_str(b, c->wins[i].label, strlen(c->wins[i].label));
		buf_puts(b, ",\"range\":");
		duration_text(b, c->wins[i].range);
		buf_append(b, "}", 1);
	}
	buf_puts(b, "]}");
	return b->oom ? NULL : b->data;
}

LAB_PLUGIN_DEFINE(.name = "contributors", .version = "1.0.0",
		  .description = "Xatu public contributors: node counts by country, user and network",
		  .settings = settings, .init = contrib_init, .start = contrib_start,
		  .stop = contrib_stop, .destroy = contrib_destroy, .once = contrib_once,
		  .run = contrib_run, .describe = contrib_describe)
