/* labctl-compare: two storage locations side by side (docs/migration.md).
 *
 * compare.c       command line, the run (list both sides, fetch in
 *                 parallel through the host's storage layer, compare),
 *                 the report (text, --json) and the exit status
 * compare_list.c  listing a local tree and an S3 bucket/prefix
 *                 (ListObjectsV2 through the host's HTTP client, SigV4)
 * compare_json.c  comparing two JSON documents: tolerance, order-insensitive
 *                 arrays, --align-windows, --profile original
 */
#ifndef LAB_TOOLS_COMPARE_H
#define LAB_TOOLS_COMPARE_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "buf.h"

struct keylist {
	char **v;
	size_t n, cap;
};
int keylist_add(struct keylist *l, const char *s, size_t n);
void keylist_sort(struct keylist *l);
void keylist_free(struct keylist *l);

/* One side: a local directory or s3://BUCKET[/PREFIX]. */
struct side {
	char name;        /* 'A' or 'B' */
	const char *spec; /* as given */
	int is_s3;
	char *dir;        /* local */
	char *endpoint, *bucket, *prefix, *region, *key_id, *secret; /* s3; prefix "" or "p/" */
	int virtual_hosted;
	struct keylist keys; /* relative keys, sorted */
	struct keylist bad;  /* listed names that are not valid storage keys */
};

/* Lists `s` into s->keys (s->bad).  0, or -1 after writing why to err. */
int list_local(struct side *s, char *err, size_t errlen);
int list_s3(uv_loop_t *loop, struct side *s, char *err, size_t errlen);

struct cmp_opts {
	double tolerance; /* relative, for numbers */
	int align_windows;
	int profile_original;
	size_t max_diffs; /* detailed differences kept per document */
	const char **ignore; /* extra ignored JSON paths (pattern syntax of compare_json.c) */
	size_t n_ignore;
};

struct difference {
	char *path;  /* $.a.b[3] */
	char *a, *b; /* JSON text, or NULL = absent */
	const char *intentional; /* reason, or NULL for a real difference */
};

struct doc_result {
	struct difference *v; /* the first max_diffs, real ones first */
	size_t n;
	size_t n_real, n_intentional, n_ignored;
	const char *key_reason; /* the two keys differ on purpose (--profile original) */
};
void doc_result_free(struct doc_result *r);

/* Compares two JSON texts of document `key`.  0 with *r filled, or -1 when
 * a side is not JSON (err names the side). */
int json_compare(const char *key, const char *a, size_t alen, const char *b, size_t blen,
		 const struct cmp_opts *o, struct doc_result *r, char *err, size_t errlen);

/* --profile original: the labd key of an original key that labd escapes
 * (user summaries of unsafe usernames), malloc'ed; NULL when none. */
char *original_key_to_labd(const char *key);

#endif
