/* labctl-compare: listing a side.
 *
 * Local: every regular file under the directory, as labd's fs backend or a
 * plain mirror (aws s3 sync, rclone) lays it out; the fs backend's header
 * sidecars (.lab-meta/) and its in-progress temp files (KEY.tmp.<16 hex>)
 * are not documents.
 *
 * S3: ListObjectsV2 (GET ?list-type=2, 1000 keys a page, following
 * NextContinuationToken) through the host's HTTP client, signed by libcurl
 * (SigV4), on the loop; the XML answer is read with expat as it arrives.
 * A server that answers a v2 page with 500 (s3rver 3 does for every
 * truncated page) is listed with ListObjects v1 from there on, paging by
 * marker = the last key. */
#define _XOPEN_SOURCE 700
#include <errno.h>
#include <expat.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "compare.h"
#include "http.h"
#include "lab/plugin.h"
#include "storage.h"
#include "storage_backend.h"

#define LIST_TIMEOUT_MS 120000
#define LIST_RETRIES 4 /* a page answered 5xx/429 or cut: retried with backoff */
#define TEXT_MAX 2048 /* longest element text kept (keys are at most 1024 bytes) */

int keylist_add(struct keylist *l, const char *s, size_t n)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 1024;
		char **v = realloc(l->v, cap * sizeof *v);
		if (!v)
			return -1;
		l->v = v;
		l->cap = cap;
	}
	if (!(l->v[l->n] = strndup(s, n)))
		return -1;
	l->n++;
	return 0;
}

static int str_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

void keylist_sort(struct keylist *l)
{
	if (l->n)
		qsort(l->v, l->n, sizeof *l->v, str_cmp);
}

void keylist_free(struct keylist *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	memset(l, 0, sizeof *l);
}

/* A listed name: a document key, or refused (kept in s->bad to report). */
static int add_key(struct side *s, const char *k, size_t n)
{
	if (n > STORAGE_KEY_MAX || memchr(k, '\0', n) || storage_key_check(k) < 0)
		return keylist_add(&s->bad, k, n);
	return keylist_add(&s->keys, k, n);
}

/* ---- local ---------------------------------------------------------------- */

static struct side *walk_side;
static size_t walk_root_len;
static int walk_failed;

static int is_temp(const char *name)
{
	const char *t = strstr(name, ".tmp.");
	if (!t || strlen(t + 5) != 16)
		return 0;
	return strspn(t + 5, "0123456789abcdef") == 16;
}

static int visit(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	const char *rel = path + walk_root_len;
	(void)st;
	if (ftw->level == 0)
		return 0;
	if (*rel == '/')
		rel++;
	if (type == FTW_D && ftw->level == 1 && strcmp(rel, STORAGE_META_DIR) == 0)
		return FTW_SKIP_SUBTREE;
	if (type == FTW_DNR || type == FTW_NS) {
		walk_failed = errno ? errno : EACCES;
		return FTW_STOP;
	}
	if (type != FTW_F || is_temp(path + ftw->base))
		return 0;
	if (add_key(walk_side, rel, strlen(rel)) < 0) {
		walk_failed = ENOMEM;
		return FTW_STOP;
	}
	return 0;
}

int list_local(struct side *s, char *err, size_t errlen)
{
	struct stat st;
	if (stat(s->dir, &st) < 0 || !S_ISDIR(st.st_mode)) {
		snprintf(err, errlen, "%s: %s", s->dir, errno && !S_ISDIR(st.st_mode) && errno != 0 ?
								strerror(errno) :
								"not a directory");
		return -1;
	}
	walk_side = s;
	walk_root_len = strlen(s->dir);
	walk_failed = 0;
	errno = 0;
	if (nftw(s->dir, visit, 64, FTW_PHYS | FTW_ACTIONRETVAL) != 0 || walk_failed) {
		snprintf(err, errlen, "%s: cannot list: %s", s->dir,
			 strerror(walk_failed ? walk_failed : errno));
		return -1;
	}
	keylist_sort(&s->keys);
	keylist_sort(&s->bad);
	return 0;
}

/* ---- S3 ------------------------------------------------------------------- */

struct lister {
	struct side *s;
	uv_loop_t *loop;
	struct http *http;
	XML_Parser xml;
	char *base_url, *userpwd, *sigv4;
	/* parse state */
	int depth;
	int in_contents_key, in_truncated, in_token, in_code, in_message;
	struct buf text;
	int truncated;
	char *token;
	char code[128], message[256];
	int done, rc;
	unsigned attempt; /* of the current page */
	size_t keys0, bad0; /* list lengths before the current page */
	int v1;             /* fell back to ListObjects (v1): marker = the last key */
	char *last_key, *marker;
	uv_timer_t retry;
	int retry_used;
	char *err;
	size_t errlen;
};

static void on_start(void *ud, const XML_Char *name, const XML_Char **attrs)
{
	struct lister *l = ud;
	(void)attrs;
	l->depth++;
	buf_reset(&l->text);
	/* ListBucketResult > Contents > Key; ListBucketResult > IsTruncated, ...;
	 * Error > Code, Message */
	l->in_contents_key = l->depth == 3 && !strcmp(name, "Key");
	l->in_truncated = l->depth == 2 && !strcmp(name, "IsTruncated");
	l->in_token = l->depth == 2 && !strcmp(name, "NextContinuationToken");
	l->in_code = l->depth == 2 && !strcmp(name, "Code");
	l->in_message = l->depth == 2 && !strcmp(name, "Message");
}

static void on_text(void *ud, const XML_Char *s, int len)
{
	struct lister *l = ud;
	if ((l->in_contents_key || l->in_truncated || l->in_token || l->in_code || l->in_message) &&
	    l->text.len + (size_t)len <= TEXT_MAX)
		buf_append(&l->text, s, (size_t)len);
}

static void on_end(void *ud, const XML_Char *name)
{
	struct lister *l = ud;
	const char *t = l->text.data ? l->text.data : "";
	size_t plen = strlen(l->s->prefix);
	(void)name;
	if (l->in_contents_key) {
		free(l->last_key);
		l->last_key = strndup(t, l->text.len);
		/* Keys come back with the prefix we asked for. */
		if (l->text.len >= plen && !memcmp(t, l->s->prefix, plen) &&
		    add_key(l->s, t + plen, l->text.len - plen) < 0)
			l->rc = LAB_ENOMEM;
	} else if (l->in_truncated) {
		l->truncated = !strcmp(t, "true");
	} else if (l->in_token) {
		free(l->token);
		l->token = strdup(t);
	} else if (l->in_code) {
		snprintf(l->code, sizeof l->code, "%s", t);
	} else if (l->in_message) {
		snprintf(l->message, sizeof l->message, "%s", t);
	}
	l->in_contents_key = l->in_truncated = l->in_token = l->in_code = l->in_message = 0;
	l->depth--;
}

static int on_data(const char *data, size_t len, void *ud)
{
	struct lister *l = ud;
	if (XML_Parse(l->xml, data, (int)len, 0) == XML_STATUS_ERROR)
		return LAB_EPARSE;
	return l->rc;
}

static int page_start(struct lister *l);

static void retry_page(uv_timer_t *t)
{
	struct lister *l = t->data;
	int rc = page_start(l);
	if (rc < 0) {
		snprintf(l->err, l->errlen, "%s: listing failed: %s", l->s->spec, lab_strerror(rc));
		l->rc = rc;
		l->done = 1;
	}
}

static void printable(char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			*s = '?';
}

static void page_done(int status, long code, const struct buf *body, const char *errmsg, void *ud)
{
	struct lister *l = ud;
	(void)body;
	if (status == 0 && XML_Parse(l->xml, "", 0, 1) == XML_STATUS_ERROR && code / 100 == 2)
		status = LAB_EPARSE;
	printable(l->code);
	printable(l->message);
	if (status == 0 && code == 500 && !l->v1) {
		/* s3rver 3 answers 500 to every truncated ListObjectsV2 page: go on
		 * with ListObjects (v1), which pages by marker, from this page. */
		while (l->s->keys.n > l->keys0)
			free(l->s->keys.v[--l->s->keys.n]);
		while (l->s->bad.n > l->bad0)
			free(l->s->bad.v[--l->s->bad.n]);
		l->v1 = 1;
		if ((status = page_start(l)) == 0)
			return;
	}
	if ((status == LAB_ETIMEDOUT || status == LAB_EIO || (status == 0 && (code >= 500 || code == 429))) &&
	    l->attempt < LIST_RETRIES) {
		/* A page cut short may have added some of its keys: drop them. */
		while (l->s->keys.n > l->keys0)
			free(l->s->keys.v[--l->s->keys.n]);
		while (l->s->bad.n > l->bad0)
			free(l->s->bad.v[--l->s->bad.n]);
		l->attempt++;
		if (!l->retry_used) {
			uv_timer_init(l->loop, &l->retry);
			l->retry.data = l;
			l->retry_used = 1;
		}
		uv_timer_start(&l->retry, retry_page, http_backoff_ms(l->attempt, 200, 5000), 0);
		return;
	}
	if (status < 0) {
		snprintf(l->err, l->errlen, "%s: listing failed: %s", l->s->spec,
			 status == LAB_EPARSE ? "the answer is not ListObjectsV2 XML" :
			 errmsg		      ? errmsg :
						lab_strerror(status));
	} else if (code / 100 != 2) {
		snprintf(l->err, l->errlen, "%s: listing failed: HTTP %ld%s%s%s%s%s", l->s->spec, code,
			 l->code[0] ? " " : "", l->code, l->message[0] ? ": " : "", l->message,
			 code == 404   ? " (no such bucket?)" :
			 code == 403 || code == 401 ? " (credentials refused)" :
						      "");
		status = LAB_EIO;
	} else if (l->truncated && l->v1 && l->last_key) {
		free(l->marker);
		l->marker = strdup(l->last_key);
		l->attempt = 0;
		if ((status = l->marker ? page_start(l) : LAB_ENOMEM) == 0)
			return;
		snprintf(l->err, l->errlen, "%s: listing failed: %s", l->s->spec,
			 lab_strerror(status));
	} else if (l->truncated && l->token && *l->token) {
		l->attempt = 0;
		if ((status = page_start(l)) == 0)
			return;
		snprintf(l->err, l->errlen, "%s: listing failed: %s", l->s->spec,
			 lab_strerror(status));
	} else if (l->truncated) {
		snprintf(l->err, l->errlen, "%s: listing failed: truncated page without a token",
			 l->s->spec);
		status = LAB_EPARSE;
	}
	l->rc = status < 0 ? status : 0;
	l->done = 1;
}

static int page_start(struct lister *l)
{
	static const char *const hdrs[] = {
		"x-amz-content-sha256: e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
	};
	struct buf url = BUF_INIT;
	int rc;

	/* Query parameters in the sorted order SigV4's canonical request uses. */
	buf_printf(&url, "%s/?", l->base_url);
	if (l->v1) {
		if (l->marker) {
			buf_puts(&url, "marker=");
			http_urlencode(&url, l->marker, strlen(l->marker), 0);
			buf_putc(&url, '&');
		}
		buf_puts(&url, "max-keys=1000");
	} else if (l->token) {
		buf_puts(&url, "continuation-token=");
		http_urlencode(&url, l->token, strlen(l->token), 0);
		buf_putc(&url, '&');
	}
	if (!l->v1)
		buf_puts(&url, "list-type=2&max-keys=1000");
	if (*l->s->prefix) {
		buf_puts(&url, "&prefix=");
		http_urlencode(&url, l->s->prefix, strlen(l->s->prefix), 0);
	}
	if (url.oom) {
		buf_free(&url);
		return LAB_ENOMEM;
	}
	if (l->xml)
		XML_ParserFree(l->xml);
	if (!(l->xml = XML_ParserCreate("UTF-8"))) {
		buf_free(&url);
		return LAB_ENOMEM;
	}
	XML_SetUserData(l->xml, l);
	XML_SetElementHandler(l->xml, on_start, on_end);
	XML_SetCharacterDataHandler(l->xml, on_text);
	l->depth = 0;
	l->truncated = 0;
	l->code[0] = l->message[0] = '\0';
	l->keys0 = l->s->keys.n;
	l->bad0 = l->s->bad.n;
	struct http_request hr = { .method = "GET",
				   .url = url.data,
				   .headers = hdrs,
				   .nheaders = 1,
				   .userpwd = l->userpwd,
				   .aws_sigv4 = l->sigv4,
				   .timeout_ms = LIST_TIMEOUT_MS,
				   .connect_timeout_ms = 5000 };
	struct http_callbacks cb = { .on_data = on_data, .done = page_done, .ud = l };
	rc = http_start(l->http, &hr, &cb, NULL);
	buf_free(&url);
	return rc;
}

int list_s3(uv_loop_t *loop, struct side *s, char *err, size_t errlen)
{
	struct lister l = { .s = s, .loop = loop, .err = err, .errlen = errlen };
	struct buf b = BUF_INIT;
	int rc;

	if ((rc = storage_s3_bucket_url(s->endpoint, s->bucket, s->virtual_hosted, &l.base_url)) < 0) {
		snprintf(err, errlen, "%s: bad endpoint or bucket", s->spec);
		return -1;
	}
	buf_printf(&b, "%s:%s", s->key_id, s->secret);
	l.userpwd = b.oom ? NULL : buf_steal(&b, NULL);
	buf_free(&b);
	buf_printf(&b, "aws:amz:%s:s3", s->region);
	l.sigv4 = b.oom ? NULL : buf_steal(&b, NULL);
	buf_free(&b);
	rc = l.userpwd && l.sigv4 ? http_open(loop, "list", &l.http) : LAB_ENOMEM;
	if (rc == 0 && (rc = page_start(&l)) == 0) {
		while (!l.done)
			uv_run(loop, UV_RUN_ONCE);
		rc = l.rc;
	} else {
		snprintf(err, errlen, "%s: cannot start listing: %s", s->spec, lab_strerror(rc));
	}
	if (l.retry_used)
		uv_close((uv_handle_t *)&l.retry, NULL);
	if (l.http)
		http_close(l.http);
	uv_run(loop, UV_RUN_NOWAIT);
	if (l.xml)
		XML_ParserFree(l.xml);
	buf_free(&l.text);
	free(l.token);
	free(l.last_key);
	free(l.marker);
	free(l.base_url);
	free(l.userpwd);
	free(l.sigv4);
	if (rc < 0)
		return -1;
	keylist_sort(&s->keys);
	keylist_sort(&s->bad);
	return 0;
}
