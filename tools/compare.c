/* labctl-compare (`labctl compare A B`): compares every document of two
 * storage locations — local trees or S3 bucket/prefixes — and reports per
 * key prefix what is equal, different, only on one side, or different on
 * purpose (--profile original).  It only reads: both sides are opened
 * through the host's storage layer (host/storage.c: the fs backend's reads
 * on the thread pool, the s3 backend's signed GETs with retries, gunzip),
 * `--jobs` documents at a time.  docs/migration.md, labctl(1).
 *
 * Exit status: 0 when nothing but intentional differences remain, 1 when
 * documents differ or exist on one side only, 2 on errors (a side cannot
 * be listed, a document cannot be read or is not JSON, usage). */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "compare.h"
#include "config.h"
#include "lab/plugin.h"
#include "log.h"
#include "storage.h"

#define DEFAULT_JOBS 32
#define DEFAULT_TOLERANCE 1e-9
#define PROGRESS_EVERY_MS 100

enum status { ST_EQUAL, ST_DIFFERENT, ST_ONLY_A, ST_ONLY_B, ST_INTENTIONAL, ST_ERROR, ST_N };
static const char *const status_name[] = { "equal",	  "different",	 "only_a",
					    "only_b",	  "intentional", "error" };

struct entry { /* a document that is not simply equal */
	char *key, *key_b; /* key_b: when B's key differs (escaped username) */
	enum status st;
	struct doc_result r;
	char *error;
};

struct job {
	struct run *run;
	const char *ka, *kb;
	const char *key_reason;
	void *da, *db;
	size_t la, lb;
	int ra, rb, left;
};

struct run {
	uv_loop_t *loop;
	struct cmp_opts o;
	struct side a, b;
	struct storage *sa, *sb;
	struct job *jobs;
	size_t njobs, next, inflight, done, max_inflight;
	struct keylist prefixes;
	size_t (*stats)[ST_N];
	size_t total[ST_N];
	struct entry *entries;
	size_t nentries;
	int progress;
	uint64_t progress_at;
};

/* ---- bookkeeping ---------------------------------------------------------- */

static size_t prefix_len(const char *key)
{
	const char *s = strrchr(key, '/');
	return s ? (size_t)(s - key) + 1 : 0;
}

static size_t prefix_index(struct run *r, const char *key)
{
	size_t n = prefix_len(key), lo = 0, hi = r->prefixes.n;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int c = strncmp(r->prefixes.v[mid], key, n);
		if (c == 0 && r->prefixes.v[mid][n])
			c = 1;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static int collect_prefixes(struct run *r, const struct keylist *l)
{
	for (size_t i = 0; i < l->n; i++) {
		size_t n = prefix_len(l->v[i]);
		if (r->prefixes.n && strlen(r->prefixes.v[r->prefixes.n - 1]) == n &&
		    !strncmp(r->prefixes.v[r->prefixes.n - 1], l->v[i], n))
			continue;
		if (keylist_add(&r->prefixes, l->v[i], n) < 0)
			return -1;
	}
	return 0;
}

static void unique(struct keylist *l)
{
	size_t w = 0;
	for (size_t i = 0; i < l->n; i++) {
		if (w && !strcmp(l->v[w - 1], l->v[i])) {
			free(l->v[i]);
			continue;
		}
		l->v[w++] = l->v[i];
	}
	l->n = w;
}

static struct entry *add_entry(struct run *r, const char *key, enum status st)
{
	struct entry *nv = realloc(r->entries, (r->nentries + 1) * sizeof *nv);
	if (!nv)
		return NULL;
	r->entries = nv;
	struct entry *e = &nv[r->nentries++];
	memset(e, 0, sizeof *e);
	e->key = strdup(key);
	e->st = st;
	return e;
}

static void count(struct run *r, const char *key, enum status st)
{
	r->stats[prefix_index(r, key)][st]++;
	r->total[st]++;
}

static void progress(struct run *r, int final)
{
	if (!r->progress)
		return;
	uint64_t now = uv_now(r->loop);
	if (!final && now - r->progress_at < PROGRESS_EVERY_MS)
		return;
	r->progress_at = now;
	if (final) {
		fputs("\r\033[K", stderr);
		return;
	}
	size_t width = 30, filled = r->njobs ? r->done * width / r->njobs : width;
	char bar[31];
	memset(bar, '#', filled);
	memset(bar + filled, '.', width - filled);
	bar[width] = '\0';
	fprintf(stderr, "\rcomparing [%s] %zu/%zu documents", bar, r->done, r->njobs);
}

/* ---- fetching and comparing ----------------------------------------------- */

static const char *why(int status)
{
	switch (status) {
	case LAB_EPARSE:
		return "the stored body is not valid gzip (corrupt or truncated)";
	case LAB_ENOENT:
		return "gone since it was listed";
	case LAB_EPERM:
		return "access denied";
	case LAB_ERANGE:
		return "larger than 256 MiB";
	default:
		return lab_strerror(status);
	}
}

static int is_json_key(const char *k)
{
	size_t n = strlen(k);
	return n >= 5 && !strcmp(k + n - 5, ".json");
}

static void finish(struct job *j)
{
	struct run *r = j->run;
	struct entry *e = NULL;
	char err[256];

	if (j->ra < 0 || j->rb < 0) {
		snprintf(err, sizeof err, "%c: %s", j->ra < 0 ? 'A' : 'B', why(j->ra < 0 ? j->ra : j->rb));
		count(r, j->ka, ST_ERROR);
		if ((e = add_entry(r, j->ka, ST_ERROR)))
			e->error = strdup(err);
	} else if (!is_json_key(j->ka)) {
		/* Not a document (e.g. a cached network config.yaml): bytes. */
		enum status st = j->la == j->lb && !memcmp(j->da, j->db, j->la) ? ST_EQUAL :
										   ST_DIFFERENT;
		count(r, j->ka, st);
		if (st != ST_EQUAL)
			add_entry(r, j->ka, st);
	} else {
		struct doc_result res;
		if (json_compare(j->ka, j->da, j->la, j->db, j->lb, &r->o, &res, err, sizeof err) < 0) {
			count(r, j->ka, ST_ERROR);
			if ((e = add_entry(r, j->ka, ST_ERROR)))
				e->error = strdup(err);
		} else {
			enum status st = res.n_real ? ST_DIFFERENT :
					 res.n_intentional || j->key_reason ? ST_INTENTIONAL :
									    ST_EQUAL;
			res.key_reason = j->key_reason;
			count(r, j->ka, st);
			if (st != ST_EQUAL && (e = add_entry(r, j->ka, st)))
				e->r = res;
			else
				doc_result_free(&res);
		}
	}
	if (e && strcmp(j->kb, j->ka) != 0)
		e->key_b = strdup(j->kb);
	free(j->da);
	free(j->db);
	j->da = j->db = NULL;
	r->inflight--;
	r->done++;
	progress(r, 0);
}

static void start_more(struct run *r);

static void got(struct job *j, int side_b, int status, const void *data, size_t len)
{
	void *copy = NULL;
	if (status >= 0 && !(copy = malloc(len ? len : 1)))
		status = LAB_ENOMEM;
	if (copy && len)
		memcpy(copy, data, len);
	if (side_b) {
		j->rb = status;
		j->db = copy;
		j->lb = len;
	} else {
		j->ra = status;
		j->da = copy;
		j->la = len;
	}
	if (--j->left == 0) {
		finish(j);
		start_more(j->run);
	}
}

static void got_a(int status, const void *data, size_t len, void *ud) { got(ud, 0, status, data, len); }
static void got_b(int status, const void *data, size_t len, void *ud) { got(ud, 1, status, data, len); }

static void start_more(struct run *r)
{
	while (r->inflight < r->max_inflight && r->next < r->njobs) {
		struct job *j = &r->jobs[r->next++];
		int rc;
		j->run = r;
		j->left = 2;
		r->inflight++;
		if ((rc = storage_get(r->sa, NULL, j->ka, got_a, j, NULL)) < 0)
			got(j, 0, rc, NULL, 0);
		if ((rc = storage_get(r->sb, NULL, j->kb, got_b, j, NULL)) < 0)
			got(j, 1, rc, NULL, 0);
	}
}

/* ---- the plan ------------------------------------------------------------- */

static const char *excludes[64];
static size_t n_excludes;

/* state/ (each backend's own bookkeeping) unless --include-state, and --exclude. */
static int excluded(const char *key, int include_state)
{
	if (!include_state && !strncmp(key, "state/", 6))
		return 1;
	for (size_t i = 0; i < n_excludes; i++)
		if (!strncmp(key, excludes[i], strlen(excludes[i])))
			return 1;
	return 0;
}

/* Index + 1 of k in the sorted list, 0 when absent. */
static size_t find(const struct keylist *l, const char *k)
{
	size_t lo = 0, hi = l->n;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int c = strcmp(l->v[mid], k);
		if (!c)
			return mid + 1;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return 0;
}

static int add_job(struct run *r, size_t *cap, const char *ka, const char *kb, const char *reason)
{
	if (r->njobs == *cap) {
		*cap = *cap ? *cap * 2 : 1024;
		struct job *nv = realloc(r->jobs, *cap * sizeof *nv);
		if (!nv)
			return -1;
		r->jobs = nv;
	}
	r->jobs[r->njobs++] = (struct job){ .ka = ka, .kb = kb, .key_reason = reason };
	return 0;
}

static int plan(struct run *r, int include_state)
{
	const struct keylist *a = &r->a.keys, *b = &r->b.keys;
	size_t i = 0, k = 0, cap = 0;
	static const char escaped[] = "labd stores this user's summary under an escaped key";

	if (collect_prefixes(r, a) < 0 || collect_prefixes(r, b) < 0)
		return -1;
	keylist_sort(&r->prefixes);
	unique(&r->prefixes);
	if (!(r->stats = calloc(r->prefixes.n ? r->prefixes.n : 1, sizeof *r->stats)))
		return -1;
	/* --profile original: an unsafe username, raw in A, escaped in B.  B's
	 * escaped keys that pair with one of A's raw keys are marked first:
	 * the escaped key may sort before or after the raw one. */
	unsigned char *paired_b = NULL;
	if (r->o.profile_original && b->n) {
		if (!(paired_b = calloc(b->n, 1)))
			return -1;
		for (size_t j = 0; j < a->n; j++) {
			if (!strstr(a->v[j], "user-summaries/users/") || find(b, a->v[j]))
				continue;
			char *lk = original_key_to_labd(a->v[j]);
			size_t at = lk ? find(b, lk) : 0;
			if (at && !find(a, lk))
				paired_b[at - 1] = 1;
			free(lk);
		}
	}
	while (i < a->n || k < b->n) {
		int c = i == a->n ? 1 : k == b->n ? -1 : strcmp(a->v[i], b->v[k]);
		const char *key = c <= 0 ? a->v[i] : b->v[k];
		if (excluded(key, include_state)) {
		} else if (c == 0) {
			if (add_job(r, &cap, a->v[i], b->v[k], NULL) < 0)
				goto oom;
		} else if (c < 0) {
			char *lk = paired_b ? original_key_to_labd(key) : NULL;
			size_t at = lk ? find(b, lk) : 0;
			free(lk);
			if (at && paired_b[at - 1]) {
				if (add_job(r, &cap, key, b->v[at - 1], escaped) < 0)
					goto oom;
			} else {
				count(r, key, ST_ONLY_A);
				add_entry(r, key, ST_ONLY_A);
			}
		} else if (!paired_b || !paired_b[k]) {
			count(r, key, ST_ONLY_B);
			add_entry(r, key, ST_ONLY_B);
		}
		if (c <= 0)
			i++;
		if (c >= 0)
			k++;
	}
	free(paired_b);
	return 0;
oom:
	free(paired_b);
	return -1;
}

/* ---- report --------------------------------------------------------------- */

static int entry_cmp(const void *x, const void *y)
{
	return strcmp(((const struct entry *)x)->key, ((const struct entry *)y)->key);
}

static void side_desc(struct buf *b, const struct side *s)
{
	buf_printf(b, "%s (%zu objects%s)", s->spec, s->keys.n, s->bad.n ? ", some unreadable" : "");
}

static void report_text(struct run *r, size_t max_docs)
{
	struct buf b = BUF_INIT;
	buf_puts(&b, "A: ");
	side_desc(&b, &r->a);
	buf_puts(&b, "\nB: ");
	side_desc(&b, &r->b);
	buf_printf(&b, "\n\n%-52s %8s %9s %7s %7s %11s %6s\n", "prefix", "equal", "different",
		   "only-A", "only-B", "intentional", "errors");
	for (size_t p = 0; p < r->prefixes.n; p++) {
		size_t *s = r->stats[p], sum = 0;
		for (int k = 0; k < ST_N; k++)
			sum += s[k];
		if (!sum)
			continue;
		buf_printf(&b, "%-52s %8zu %9zu %7zu %7zu %11zu %6zu\n",
			   *r->prefixes.v[p] ? r->prefixes.v[p] : "(top level)", s[ST_EQUAL],
			   s[ST_DIFFERENT], s[ST_ONLY_A], s[ST_ONLY_B], s[ST_INTENTIONAL], s[ST_ERROR]);
	}
	buf_printf(&b, "%-52s %8zu %9zu %7zu %7zu %11zu %6zu\n", "total", r->total[ST_EQUAL],
		   r->total[ST_DIFFERENT], r->total[ST_ONLY_A], r->total[ST_ONLY_B],
		   r->total[ST_INTENTIONAL], r->total[ST_ERROR]);
	for (int pass = 0; pass < 2; pass++) {
		size_t shown = 0, hidden = 0;
		for (size_t i = 0; i < r->nentries; i++) {
			struct entry *e = &r->entries[i];
			/* pass 0: real problems; pass 1: the intentional ones */
			if ((e->st == ST_INTENTIONAL) != pass)
				continue;
			if (shown == max_docs) {
				hidden++;
				continue;
			}
			if (!shown)
				buf_puts(&b, pass ? "\nintentional differences (--profile original):\n" :
						    "\ndifferences:\n");
			shown++;
			buf_printf(&b, "%s: %s", status_name[e->st], e->key);
			if (e->key_b)
				buf_printf(&b, " (B: %s)", e->key_b);
			buf_putc(&b, '\n');
			if (e->error)
				buf_printf(&b, "    %s\n", e->error);
			if (e->r.key_reason)
				buf_printf(&b, "    key: %s\n", e->r.key_reason);
			for (size_t d = 0; d < e->r.n; d++) {
				struct difference *df = &e->r.v[d];
				buf_printf(&b, "    %s: A %s, B %s%s%s\n", df->path, df->a ? df->a : "(absent)",
					   df->b ? df->b : "(absent)", df->intentional ? "  -- " : "",
					   df->intentional ? df->intentional : "");
			}
			size_t more = e->r.n_real + e->r.n_intentional - e->r.n;
			if (more)
				buf_printf(&b, "    ... and %zu more\n", more);
		}
		if (hidden)
			buf_printf(&b, "... and %zu more documents (--max-docs)\n", hidden);
	}
	fwrite(b.data, 1, b.len, stdout);
	buf_free(&b);
}

static void json_counts(struct buf *b, const size_t *s)
{
	buf_putc(b, '{');
	for (int k = 0; k < ST_N; k++)
		buf_printf(b, "%s\"%s\":%zu", k ? "," : "", status_name[k], s[k]);
	buf_putc(b, '}');
}

static void report_json(struct run *r)
{
	struct buf b = BUF_INIT;
	buf_putc(&b, '{');
	json_kv_str(&b, "a", r->a.spec, 0);
	json_kv_str(&b, "b", r->b.spec, 1);
	buf_puts(&b, ",\"prefixes\":{");
	for (size_t p = 0, first = 1; p < r->prefixes.n; p++) {
		size_t sum = 0;
		for (int k = 0; k < ST_N; k++)
			sum += r->stats[p][k];
		if (!sum)
			continue;
		if (!first)
			buf_putc(&b, ',');
		first = 0;
		buf_json_str(&b, r->prefixes.v[p], strlen(r->prefixes.v[p]));
		buf_putc(&b, ':');
		json_counts(&b, r->stats[p]);
	}
	buf_puts(&b, "},\"total\":");
	json_counts(&b, r->total);
	buf_puts(&b, ",\"documents\":[");
	for (size_t i = 0; i < r->nentries; i++) {
		struct entry *e = &r->entries[i];
		buf_puts(&b, i ? ",{" : "{");
		json_kv_str(&b, "key", e->key, 0);
		if (e->key_b)
			json_kv_str(&b, "key_b", e->key_b, 1);
		json_kv_str(&b, "status", status_name[e->st], 1);
		if (e->error)
			json_kv_str(&b, "error", e->error, 1);
		if (e->r.key_reason)
			json_kv_str(&b, "key_reason", e->r.key_reason, 1);
		if (e->st == ST_DIFFERENT || e->st == ST_INTENTIONAL) {
			buf_printf(&b, ",\"real\":%zu,\"intentional\":%zu,\"differences\":[",
				   e->r.n_real, e->r.n_intentional);
			for (size_t d = 0; d < e->r.n; d++) {
				struct difference *df = &e->r.v[d];
				buf_puts(&b, d ? ",{" : "{");
				json_kv_str(&b, "path", df->path, 0);
				/* a and b are JSON texts already (or absent) */
				buf_printf(&b, ",\"a\":%s,\"b\":%s", df->a ? df->a : "null",
					   df->b ? df->b : "null");
				buf_printf(&b, ",\"a_present\":%s,\"b_present\":%s",
					   df->a ? "true" : "false", df->b ? "true" : "false");
				json_kv_str(&b, "intentional", df->intentional, 1);
				buf_putc(&b, '}');
			}
			buf_putc(&b, ']');
		}
		buf_putc(&b, '}');
	}
	buf_puts(&b, "]}\n");
	fwrite(b.data, 1, b.len, stdout);
	buf_free(&b);
}

/* ---- sides ---------------------------------------------------------------- */

/* LABCTL_A_S3_ENDPOINT, else S3_ENDPOINT, else def. */
static const char *env(char side, const char *name, const char *def)
{
	char k[64];
	const char *v;
	snprintf(k, sizeof k, "LABCTL_%c_%s", side, name);
	if ((v = getenv(k)) && *v)
		return v;
	return (v = getenv(name)) && *v ? v : def;
}

static int side_parse(struct side *s, char name, const char *spec, char *err, size_t errlen)
{
	s->name = name;
	s->spec = spec;
	if (strncmp(spec, "s3://", 5) != 0) {
		s->dir = strdup(spec);
		return s->dir ? 0 : -1;
	}
	const char *bk = spec + 5, *slash = strchr(bk, '/');
	size_t bl = slash ? (size_t)(slash - bk) : strlen(bk);
	const char *style = env(name, "S3_URL_STYLE", "path");
	s->is_s3 = 1;
	s->bucket = strndup(bk, bl);
	/* "" or "p/q/" */
	const char *p = slash ? slash + 1 : "";
	size_t pl = strlen(p);
	while (pl && p[pl - 1] == '/')
		pl--;
	s->prefix = malloc(pl + 2);
	if (!s->bucket || !s->prefix)
		return -1;
	memcpy(s->prefix, p, pl);
	if (pl)
		s->prefix[pl++] = '/';
	s->prefix[pl] = '\0';
	s->endpoint = (char *)env(name, "S3_ENDPOINT", NULL);
	s->region = (char *)env(name, "S3_REGION", "us-east-1");
	s->key_id = (char *)env(name, "S3_ACCESS_KEY_ID", NULL);
	s->secret = (char *)env(name, "S3_SECRET_ACCESS_KEY", NULL);
	if (!*s->bucket) {
		snprintf(err, errlen, "%s: no bucket (s3://BUCKET[/PREFIX])", spec);
		return -1;
	}
	if (!s->endpoint || !s->key_id || !s->secret) {
		snprintf(err, errlen,
			 "%s: set S3_ENDPOINT, S3_ACCESS_KEY_ID and S3_SECRET_ACCESS_KEY "
			 "(or LABCTL_%c_S3_...)",
			 spec, name);
		return -1;
	}
	if (strcmp(style, "path") && strcmp(style, "virtual")) {
		snprintf(err, errlen, "S3_URL_STYLE must be path or virtual");
		return -1;
	}
	s->virtual_hosted = !strcmp(style, "virtual");
	return 0;
}

static int side_open(struct run *r, struct side *s, struct storage **out, char *err, size_t errlen)
{
	struct host_conf hc = { 0 };
	if (s->is_s3) {
		hc.storage_backend = (char *)"s3";
		hc.storage_prefix = s->prefix;
		hc.s3_endpoint = s->endpoint;
		hc.s3_bucket = s->bucket;
		hc.s3_region = s->region;
		hc.s3_access_key_id = s->key_id;
		hc.s3_secret_access_key = s->secret;
		hc.s3_virtual_hosted = s->virtual_hosted;
		hc.s3_timeout = 30;
		hc.s3_max_retries = 4;
	} else {
		hc.storage_backend = (char *)"fs";
		hc.fs_root = s->dir; /* listed already: it exists, nothing is created */
	}
	if (storage_open(r->loop, NULL, &hc, out) < 0) {
		snprintf(err, errlen, "%s: cannot open (for a prefix: key segments only)", s->spec);
		return -1;
	}
	return 0;
}

static void usage(FILE *f)
{
	fputs("usage: labctl compare [options] A B\n"
	      "Compares every document of two storage locations.  A and B are each a local\n"
	      "directory (labd's fs tree or a plain mirror of a bucket) or s3://BUCKET[/PREFIX]\n"
	      "(S3_ENDPOINT, S3_REGION, S3_ACCESS_KEY_ID, S3_SECRET_ACCESS_KEY, S3_URL_STYLE=path|\n"
	      "virtual from the environment; LABCTL_A_S3_... or LABCTL_B_S3_... for one side).\n"
	      "  --tolerance R       relative tolerance for numbers (default 1e-9)\n"
	      "  --align-windows     compare time series on the buckets both cover\n"
	      "  --profile original  A is the original backend's output: labd's documented\n"
	      "                      differences are reported as intentional\n"
	      "  --ignore PATH       ignore a JSON path (e.g. nodes.*.geo, [].users), repeatable\n"
	      "  --include-state     compare state/ too (skipped by default)\n"
	      "  --exclude PREFIX    skip keys starting with PREFIX on both sides (repeatable)\n"
	      "  -j, --jobs N        documents fetched at once (default 32)\n"
	      "  --max-diffs N       differences shown per document (default 5)\n"
	      "  --max-docs N        documents listed in the text report (default 20)\n"
	      "  --json              the report as JSON on stdout\n"
	      "  --no-progress       no progress bar (shown on a terminal)\n"
	      "  --debug             log the storage layer's requests\n"
	      "Exit status: 0 nothing but intentional differences, 1 differences, 2 errors.\n",
	      f);
}

static long num_arg(const char *s, long lo, long hi)
{
	char *end;
	long v = strtol(s, &end, 10);
	return *s && !*end && v >= lo && v <= hi ? v : -1;
}

int main(int argc, char **argv)
{
	enum { OPT_TOL = 256, OPT_ALIGN, OPT_PROFILE, OPT_IGNORE, OPT_STATE, OPT_EXCL, OPT_MAXD, OPT_MAXDOCS,
	       OPT_JSON, OPT_NOPROG, OPT_DEBUG };
	static const struct option opts[] = {
		{ "tolerance", required_argument, NULL, OPT_TOL },
		{ "align-windows", no_argument, NULL, OPT_ALIGN },
		{ "profile", required_argument, NULL, OPT_PROFILE },
		{ "ignore", required_argument, NULL, OPT_IGNORE },
		{ "include-state", no_argument, NULL, OPT_STATE },
		{ "exclude", required_argument, NULL, OPT_EXCL },
		{ "jobs", required_argument, NULL, 'j' },
		{ "max-diffs", required_argument, NULL, OPT_MAXD },
		{ "max-docs", required_argument, NULL, OPT_MAXDOCS },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "no-progress", no_argument, NULL, OPT_NOPROG },
		{ "debug", no_argument, NULL, OPT_DEBUG },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct run r = { .o = { .tolerance = DEFAULT_TOLERANCE, .max_diffs = 5 },
			 .max_inflight = DEFAULT_JOBS };
	static const char *ignore[64];
	long max_docs = 20, v;
	int c, json = 0, noprog = 0, debug = 0, include_state = 0, rc = 2, devnull = -1;
	char err[512], *end;
	uv_loop_t loop;

	while ((c = getopt_long(argc, argv, "j:h", opts, NULL)) != -1) {
		switch (c) {
		case OPT_TOL:
			r.o.tolerance = strtod(optarg, &end);
			if (!*optarg || *end || !(r.o.tolerance >= 0 && r.o.tolerance < 1)) {
				fprintf(stderr, "labctl compare: --tolerance: a number in [0, 1)\n");
				return 2;
			}
			break;
		case OPT_ALIGN: r.o.align_windows = 1; break;
		case OPT_PROFILE:
			if (strcmp(optarg, "original") && strcmp(optarg, "none")) {
				fprintf(stderr, "labctl compare: --profile: original or none\n");
				return 2;
			}
			r.o.profile_original = !strcmp(optarg, "original");
			break;
		case OPT_IGNORE:
			if (r.o.n_ignore == sizeof ignore / sizeof ignore[0]) {
				fprintf(stderr, "labctl compare: too many --ignore\n");
				return 2;
			}
			ignore[r.o.n_ignore++] = optarg;
			r.o.ignore = ignore;
			break;
		case OPT_STATE: include_state = 1; break;
		case OPT_EXCL:
			if (n_excludes == sizeof excludes / sizeof excludes[0] || !*optarg) {
				fprintf(stderr, "labctl compare: --exclude: a non-empty prefix, at most 64\n");
				return 2;
			}
			excludes[n_excludes++] = optarg;
			break;
		case 'j':
			if ((v = num_arg(optarg, 1, 1024)) < 0) {
				fprintf(stderr, "labctl compare: --jobs: 1..1024\n");
				return 2;
			}
			r.max_inflight = (size_t)v;
			break;
		case OPT_MAXD:
			if ((v = num_arg(optarg, 0, 1000000)) < 0) {
				fprintf(stderr, "labctl compare: --max-diffs: a count\n");
				return 2;
			}
			r.o.max_diffs = (size_t)v;
			break;
		case OPT_MAXDOCS:
			if ((max_docs = num_arg(optarg, 0, 100000000)) < 0) {
				fprintf(stderr, "labctl compare: --max-docs: a count\n");
				return 2;
			}
			break;
		case OPT_JSON: json = 1; break;
		case OPT_NOPROG: noprog = 1; break;
		case OPT_DEBUG: debug = 1; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind + 2 != argc) {
		usage(stderr);
		return 2;
	}
	/* The storage layer logs its own failures; the report says them once
	 * (its log goes to stderr only with --debug). */
	if (debug)
		log_setup(LAB_LOG_DEBUG, LOG_FORMAT_LOGFMT, 2);
	else if ((devnull = open("/dev/null", O_WRONLY | O_CLOEXEC)) >= 0)
		log_setup(LAB_LOG_ERROR, LOG_FORMAT_LOGFMT, devnull);
	r.progress = !noprog && isatty(2);
	if (uv_loop_init(&loop) != 0)
		return 2;
	r.loop = &loop;
	if (side_parse(&r.a, 'A', argv[optind], err, sizeof err) < 0 ||
	    side_parse(&r.b, 'B', argv[optind + 1], err, sizeof err) < 0)
		goto fail;
	if ((r.a.is_s3 ? list_s3(&loop, &r.a, err, sizeof err) : list_local(&r.a, err, sizeof err)) < 0 ||
	    (r.b.is_s3 ? list_s3(&loop, &r.b, err, sizeof err) : list_local(&r.b, err, sizeof err)) < 0)
		goto fail;
	if (side_open(&r, &r.a, &r.sa, err, sizeof err) < 0 ||
	    side_open(&r, &r.b, &r.sb, err, sizeof err) < 0)
		goto fail;
	if (plan(&r, include_state) < 0) {
		snprintf(err, sizeof err, "out of memory");
		goto fail;
	}
	for (int side = 0; side < 2; side++) {
		struct side *s = side ? &r.b : &r.a;
		for (size_t i = 0; i < s->bad.n; i++) {
			struct entry *e = add_entry(&r, s->bad.v[i], ST_ERROR);
			char m[64];
			snprintf(m, sizeof m, "%c: not a valid storage key; not compared", s->name);
			if (e)
				e->error = strdup(m);
			r.total[ST_ERROR]++;
		}
	}
	start_more(&r);
	while (r.done < r.njobs)
		uv_run(&loop, UV_RUN_ONCE);
	progress(&r, 1);
	if (r.nentries)
		qsort(r.entries, r.nentries, sizeof *r.entries, entry_cmp);
	if (json)
		report_json(&r);
	else
		report_text(&r, (size_t)max_docs);
	rc = r.total[ST_ERROR] ? 2 :
	     r.total[ST_DIFFERENT] || r.total[ST_ONLY_A] || r.total[ST_ONLY_B] ? 1 :
										  0;
	if (rc == 2)
		fprintf(stderr, "labctl compare: %zu document%s could not be compared (see the report)\n",
			r.total[ST_ERROR], r.total[ST_ERROR] == 1 ? "" : "s");
	goto out;
fail:
	fprintf(stderr, "labctl compare: error: %s\n", err);
out:
	if (r.sa)
		storage_close(r.sa);
	if (r.sb)
		storage_close(r.sb);
	while (uv_run(&loop, UV_RUN_NOWAIT))
		;
	uv_run(&loop, UV_RUN_DEFAULT);
	uv_loop_close(&loop);
	if (devnull >= 0)
		close(devnull);
	for (size_t i = 0; i < r.nentries; i++) {
		free(r.entries[i].key);
		free(r.entries[i].key_b);
		free(r.entries[i].error);
		doc_result_free(&r.entries[i].r);
	}
	free(r.entries);
	free(r.jobs);
	free(r.stats);
	keylist_free(&r.prefixes);
	struct side *sides[] = { &r.a, &r.b };
	for (int i = 0; i < 2; i++) {
		keylist_free(&sides[i]->keys);
		keylist_free(&sides[i]->bad);
		free(sides[i]->dir);
		free(sides[i]->bucket);
		free(sides[i]->prefix);
	}
	return rc;
}
