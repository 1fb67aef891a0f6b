/*
 * contributors — documents (SPEC §9.2): built on the loop from the rows of
 * one answer, then stored in parallel (contrib.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "contrib.h"

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

/* A cell that does not parse marks the whole result bad (c->row_err). */
static int cell_ok(struct contrib *c, int rc)
{
	if (rc < 0)
		c->row_err = LAB_EPARSE;
	return rc >= 0;
}

static uint64_t col_u64(struct contrib *c, const lab_rows *rows, size_t r, size_t col)
{
	uint64_t v = 0;
	return cell_ok(c, lab_rows_u64(c->ctx, rows, r, col, &v)) ? v : 0;
}

static int64_t col_i64(struct contrib *c, const lab_rows *rows, size_t r, size_t col)
{
	int64_t v = 0;
	return cell_ok(c, lab_rows_i64(c->ctx, rows, r, col, &v)) ? v : 0;
}

static int col_is(struct contrib *c, const lab_rows *rows, size_t r, size_t col, const char *want)
{
	const char *s;
	size_t n;
	col_str(c, rows, r, col, &s, &n);
	return n == strlen(want) && memcmp(s, want, n) == 0;
}


/* ---- the job's documents -------------------------------------------------- */

void contrib_docs_free(struct contrib *c)
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


void contrib_job_done(struct contrib *c, int rc)
{
	contrib_docs_free(c);
	contrib_cache_free(c);
	wj_done(&c->run, rc);
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
	buf_puts(&e, contrib_proc_name[p]);
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

/* Every document of the job was stored (or failed): the runner records the
 * window, and the processor after its last job, only when all were. */
static void puts_finished(struct contrib *c) { contrib_job_done(c, c->puts_failed ? LAB_EIO : 0); }

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
		publish_stored(c, d, contrib_task(c, contrib_job(c), &w));
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

void contrib_store(struct contrib *c)
{
	c->puts_failed = 0;
	/* The puts complete later (plugin.h §3), so puts_pending cannot reach
	 * zero while they are issued; a put that cannot be submitted (< 0, no
	 * callback) is not counted. */
	c->puts_pending = 0;
	if (!wj_may_store(&c->run)) { /* cluster: the lease was lost while the query ran */
		lab_logkv(c->ctx, LAB_LOG_WARN, "lease lost, documents not stored",
			  LAB_FI("documents", c->ndocs));
		contrib_job_done(c, LAB_EBUSY);
		return;
	}
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
	if (c->puts_pending == 0) /* nothing in flight: no document, or none submitted */
		puts_finished(c);
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
	buf_i64(b, contrib_now(c));
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

static void free_elems(struct contrib_elem *e, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(e[i].text);
	free(e);
}

/* rows: net, time, name, count (sorted by them): the element of each
 * (network, time) as text, then with the cached buckets (cache.c); one
 * document per network with elements. */
static int build_series(struct contrib *c, int p, long w, const lab_rows *rows, size_t nr)
{
	const char *list = p == P_COUNTRIES ? "countries" : "users";
	const char *val = p == P_COUNTRIES ? "value" : "nodes";
	struct contrib_elem *e = NULL;
	size_t ne = 0, net = 0;
	struct buf b = { 0 };
	int64_t cur = 0;
	int rc = 0;
	for (size_t r = 0; r <= nr; r++) {
		const char *s;
		size_t sl, n = c->nnets;
		int64_t t = 0;
		if (r < nr) {
			for (n = 0; n < c->nnets && !col_is(c, rows, r, 0, c->nets[n]); n++)
				;
			if (n == c->nnets)
				continue;
			t = col_i64(c, rows, r, 1);
		}
		if (b.len && (r == nr || n != net || t != cur)) {
			struct contrib_elem *x = realloc(e, (ne + 1) * sizeof *x);
			buf_puts(&b, "]}");
			if (x)
				e = x;
			if (!x || b.oom) {
				rc = LAB_ENOMEM;
				break;
			}
			e = x;
			e[ne].t = cur;
			e[ne].net = net;
			e[ne].text = b.data;
			ne++;
			memset(&b, 0, sizeof b);
		}
		if (r == nr)
			break;
		if (!b.len) {
			buf_puts(&b, "{\"time\":");
			buf_i64(&b, t);
			buf_puts(&b, ",\"");
			buf_puts(&b, list);
			buf_puts(&b, "\":[");
			net = n;
			cur = t;
		} else {
			buf_append(&b, ",", 1);
		}
		col_str(c, rows, r, 2, &s, &sl);
		buf_puts(&b, "{\"name\":");
		buf_json_str(&b, s, sl);
		buf_puts(&b, ",\"");
		buf_puts(&b, val);
		buf_puts(&b, "\":");
		buf_u64(&b, col_u64(c, rows, r, 3));
		buf_append(&b, "}", 1);
	}
	buf_free(&b);
	/* a malformed answer is not cached (the caller stores nothing) */
	if (rc == 0 && c->row_err == 0)
		rc = contrib_cache_merge(c, p, w, &e, &ne);
	for (size_t i = 0; rc == 0 && i < ne; i++) {
		struct doc *d = c->ndocs ? &c->docs[c->ndocs - 1] : NULL;
		if (!d || strcmp(d->network, c->nets[e[i].net])) {
			if (d)
				buf_append(&d->body, "]", 1);
			d = doc_add(c, c->nets[e[i].net], c->wins[w].file);
			if (!d || doc_key(d, c->prefix, list, c->nets[e[i].net], c->wins[w].file) < 0) {
				rc = LAB_ENOMEM;
				break;
			}
			buf_append(&d->body, "[", 1);
		} else {
			buf_append(&d->body, ",", 1);
		}
		buf_puts(&d->body, e[i].text);
	}
	if (rc == 0 && c->ndocs)
		buf_append(&c->docs[c->ndocs - 1].body, "]", 1);
	free_elems(e, ne);
	return rc;
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

/* The key segment of username s[0..sl) (SPEC §9.2, the host's key-segment
 * service) into key, and *has_stale = 1 with the segment labd 1.0 used
 * into stale when that differs: 1.0 used only portable names raw and
 * escaped every other name, so a name that is raw now but not portable
 * (jürgen, "d a v e") has an escaped copy to remove.  0 or < 0. */
static int user_keys(lab_ctx *ctx, const char *s, size_t sl, char key[LAB_KEY_SEGMENT_MAX],
		     char stale[LAB_KEY_SEGMENT_MAX], int *has_stale)
{
	int raw = lab_key_segment_check(ctx, s, sl, 0);
	int rc = lab_key_segment(ctx, s, sl, 0, key, LAB_KEY_SEGMENT_MAX);
	*has_stale = 0;
	if (rc < 0 || raw < 0)
		return rc < 0 ? rc : raw;
	if (!raw)
		lab_logkv(ctx, LAB_LOG_DEBUG, "username stored under its escaped key",
			  LAB_FS("key", key), LAB_FI("bytes", (int64_t)sl));
	if (raw == 1 && lab_key_segment_check(ctx, s, sl, LAB_KEYSEG_PORTABLE) == 0) {
		rc = lab_key_segment(ctx, s, sl, LAB_KEYSEG_ESCAPED, stale, LAB_KEY_SEGMENT_MAX);
		if (rc < 0)
			return rc;
		*has_stale = 1;
	}
	return 0;
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
		char key[LAB_KEY_SEGMENT_MAX], stale[LAB_KEY_SEGMENT_MAX];
		int has_stale, rc;
		col_str(c, rows, r, 0, &s, &sl);
		if ((rc = user_keys(ctx, s, sl, key, stale, &has_stale)) < 0) {
			buf_free(&sb);
			return rc;
		}
		struct doc *d = doc_add(c, NULL, NULL);
		if (!d || doc_key(d, c->prefix, "user-summaries", "users", key) < 0 ||
		    (has_stale &&
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
		buf_i64(&d->body, contrib_now(c));
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
		buf_i64(&sb, contrib_now(c));
		buf_puts(&sb, ",\"nodes\":");
		buf_append(&sb, nodes.data ? nodes.data : "", nodes.len);
		buf_append(&sb, "}", 1);
		if (nodes.oom)
			sb.oom = 1;
		buf_free(&nodes);
		r = e;
	}
	buf_puts(&sb, "],\"updated_at\":");
	buf_i64(&sb, contrib_now(c));
	buf_append(&sb, "}", 1);
	/* doc_add may have moved the array: find the summary again (index 0). */
	c->docs[0].body = sb;
	return 0;
}


int contrib_build(struct contrib *c, int p, long w, const lab_rows *rows, size_t nr)
{
	switch (p) {
	case P_SUMMARY: return build_summary(c, rows, nr);
	case P_COUNTRIES:
	case P_USERS: return build_series(c, p, w, rows, nr);
	default: return build_user_summaries(c, rows, nr);
	}
}
