/* The `s3` storage backend: path-style requests ENDPOINT/BUCKET/KEY signed
 * with SigV4 (libcurl's CURLOPT_AWS_SIGV4), driven by the loop through the
 * HTTP client (http.h).  One request per operation:
 *
 *   put     PUT with Content-Type, Content-Encoding: gzip, Cache-Control
 *           (LAB_PUT_ATOMIC changes nothing: a single S3 PUT is atomic)
 *   get     GET; the body's encoding comes from Content-Encoding
 *   exists  HEAD: 200 -> 1, 404 -> 0
 *   delete  DELETE: 200, 204 and 404 all mean "gone"
 *
 * Every request carries x-amz-content-sha256 (hex SHA-256 of the body, or
 * of the empty string): AWS accepts it, s3rver and some gateways require
 * it, and curl 7.88 signs it but does not add it (bodies over
 * HASH_INLINE_MAX are hashed on the thread pool).  Transport errors,
 * timeouts, 5xx and 429 are retried with exponential backoff and jitter
 * (http_backoff_ms) up to storage.s3.max_retries times; other 4xx are
 * final.  A final failure is logged once, with S3's error Code and Message
 * when the answer had an XML body.
 *
 * Readiness: a signed HEAD of the bucket, started at open and again when
 * ready() is asked and the last probe is older than PROBE_EVERY_MS, plus
 * the result of the last write.  ready() never waits for it. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "http.h"
#include "log.h"
#include "sha256.h"
#include "storage.h"
#include "storage_backend.h"

#define BACKOFF_BASE_MS 100
#define BACKOFF_MAX_MS 5000
#define CONNECT_TIMEOUT_MS 5000
#define PROBE_EVERY_MS 2000
#define ERRTEXT_MAX 160
#define HASH_INLINE_MAX (16 * 1024) /* bytes hashed on the loop; more: thread pool */

static const char EMPTY_SHA256[] =
	"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

struct s3_backend {
	struct storage_backend base;
	struct http *http;
	char *base_url;    /* ENDPOINT/BUCKET, no trailing slash */
	char *userpwd;     /* "ID:SECRET" (secret: never logged) */
	char *sigv4;       /* "aws:amz:REGION:s3" */
	long timeout_ms;
	unsigned max_retries;
	unsigned inflight; /* operations until freed (retry timers included) */
	int closing;

	/* readiness */
	struct http_req *probe;
	uint64_t probe_at;   /* loop time the last probe started */
	int probe_rc;        /* 1 = not answered yet, 0 = ok, else LAB_E* */
	char probe_why[256];
	int put_ok;          /* a put has succeeded (the key may write) */
	int write_rc;        /* result of the last put/delete */
	char write_why[2 * ERRTEXT_MAX + 64];
	char reason[600];
};

struct s3_op {
	struct s3_backend *s3;
	struct sb_req *req;
	const char *method;
	char *url;
	char sha[2 * SHA256_LEN + 1];
	char *hdrs[4];
	size_t nhdrs;
	unsigned attempt;    /* attempts started */
	uv_timer_t timer;
	int timer_used;
	uv_work_t work;       /* hashing a large body */
	enum sb_encoding enc; /* of the current answer */
	struct buf body;      /* the current answer's body */
	int too_big;
};

static const char *const op_verb[] = { "put", "get", "exists", "delete" };

/* ---- small helpers -------------------------------------------------------- */

/* Copies the text of <tag>...</tag> from an S3 XML error body, printable
 * ASCII only, at most ERRTEXT_MAX bytes; "" when absent. */
static void xml_text(const struct buf *b, const char *tag, char *out, size_t cap)
{
	char open[32], close[32];
	const char *s, *e;
	size_t n = 0;

	out[0] = '\0';
	if (!b->data || !b->len)
		return;
	snprintf(open, sizeof open, "<%s>", tag);
	snprintf(close, sizeof close, "</%s>", tag);
	s = strstr(b->data, open); /* buf is NUL-terminated */
	if (!s)
		return;
	s += strlen(open);
	e = strstr(s, close);
	if (!e)
		return;
	for (; s < e && n + 1 < cap && n < ERRTEXT_MAX; s++)
		out[n++] = ((unsigned char)*s >= 0x20 && (unsigned char)*s < 0x7f) ? *s : '?';
	out[n] = '\0';
}

static int retryable(int status, long code)
{
	if (status == LAB_ETIMEDOUT || status == LAB_EIO)
		return 1;
	return status == 0 && (code >= 500 || code == 429);
}

/* Maps a final HTTP answer to the operation's result. */
static int map_code(enum sb_op op, long code)
{
	if (code >= 200 && code < 300)
		return op == SB_EXISTS ? 1 : 0;
	switch (code) {
	case 404:
		if (op == SB_EXISTS || op == SB_DELETE)
			return 0;
		return op == SB_GET ? LAB_ENOENT : LAB_EIO; /* put: no such bucket */
	case 400:
		return LAB_EINVAL;
	case 401:
	case 403:
		return LAB_EPERM;
	case 411:
	case 413:
		return LAB_ERANGE;
	default:
		return code >= 500 || code == 429 ? LAB_EUNAVAIL : LAB_EIO;
	}
}

/* ---- operations ----------------------------------------------------------- */

static void s3_free(struct s3_backend *s3)
{
	free(s3->base_url);
	free(s3->userpwd);
	free(s3->sigv4);
	free(s3);
}

static void op_freed(struct s3_backend *s3)
{
	s3->inflight--;
	if (s3->closing && s3->inflight == 0)
		s3_free(s3);
}

static void op_free(struct s3_op *op)
{
	for (size_t i = 0; i < op->nhdrs; i++)
		free(op->hdrs[i]);
	free(op->url);
	buf_free(&op->body);
	free(op);
}

static void timer_closed(uv_handle_t *h)
{
	struct s3_op *op = h->data;
	struct s3_backend *s3 = op->s3;
	op_free(op);
	op_freed(s3);
}

static void op_finish(struct s3_op *op, int rc)
{
	struct sb_req *req = op->req;
	struct s3_backend *s3 = op->s3;

	req->status = rc;
	req->priv = NULL;
	if (op->timer_used) {
		uv_close((uv_handle_t *)&op->timer, timer_closed);
	} else {
		op_free(op);
		op_freed(s3);
	}
	req->done(req); /* last: it may close the storage */
}

static int op_send(struct s3_op *op);

/* An operation that could not (re)start its request ends here. */
static void start_failed(struct s3_op *op, int rc)
{
	log_kv(LAB_LOG_ERROR, op->req->plugin, "storage operation failed", LAB_FS("backend", "s3"),
	       LAB_FS("op", op_verb[op->req->op]), LAB_FS("key", op->req->key),
	       LAB_FS("error", "cannot start a request"), LAB_FS("result", lab_strerror(rc)));
	op_finish(op, rc);
}

static void retry_timer(uv_timer_t *t)
{
	struct s3_op *op = t->data;
	int rc = op_send(op);
	if (rc < 0)
		start_failed(op, rc);
}

static void on_header(const char *line, size_t len, void *ud)
{
	struct s3_op *op = ud;
	static const char ce[] = "content-encoding:";

	if (len >= 5 && memcmp(line, "HTTP/", 5) == 0) {
		op->enc = SB_ENC_UNKNOWN; /* a new answer (redirect, 100-continue) */
		return;
	}
	if (len > sizeof ce - 1 && strncasecmp(line, ce, sizeof ce - 1) == 0) {
		const char *v = line + sizeof ce - 1, *end = line + len;
		while (v < end && (*v == ' ' || *v == '\t'))
			v++;
		while (end > v && (end[-1] == ' ' || end[-1] == '\t'))
			end--;
		op->enc = ((size_t)(end - v) == 4 && strncasecmp(v, "gzip", 4) == 0) ?
				  SB_ENC_GZIP :
				  SB_ENC_IDENTITY;
	}
}

static int on_data(const char *data, size_t len, void *ud)
{
	struct s3_op *op = ud;
	/* A hostile or broken server must not make us buffer without bound. */
	if (op->body.len + len > STORAGE_BODY_MAX) {
		op->too_big = 1;
		return LAB_ERANGE;
	}
	buf_append(&op->body, data, len);
	return op->body.oom ? LAB_ENOMEM : 0;
}

static void record_write(struct s3_backend *s3, enum sb_op op, int rc, const char *why)
{
	if (op != SB_PUT && op != SB_DELETE)
		return;
	/* A refused key (bad request) says nothing about the bucket's health. */
	if (rc >= 0 || rc == LAB_EINVAL || rc == LAB_ERANGE) {
		s3->write_rc = 0;
		if (rc >= 0 && op == SB_PUT)
			s3->put_ok = 1;
		return;
	}
	s3->write_rc = rc;
	snprintf(s3->write_why, sizeof s3->write_why, "%s", why);
}

static void on_done(int status, long code, const struct buf *unused, const char *errmsg, void *ud)
{
	struct s3_op *op = ud;
	struct s3_backend *s3 = op->s3;
	struct sb_req *req = op->req;
	char s3code[ERRTEXT_MAX + 1], s3msg[ERRTEXT_MAX + 1], why[2 * ERRTEXT_MAX + 64];
	int rc;

	(void)unused;
	if (log_enabled(LAB_LOG_DEBUG))
		log_kv(LAB_LOG_DEBUG, req->plugin, "s3 request", LAB_FS("method", op->method),
		       LAB_FS("key", req->key), LAB_FI("attempt", op->attempt),
		       LAB_FI("http_status", code), LAB_FS("error", errmsg ? errmsg : ""));
	if (retryable(status, code) && op->attempt <= s3->max_retries && !s3->closing) {
		uint64_t delay = http_backoff_ms(op->attempt, BACKOFF_BASE_MS, BACKOFF_MAX_MS);
		log_kv(LAB_LOG_DEBUG, req->plugin, "s3 request will be retried",
		       LAB_FS("op", op_verb[req->op]), LAB_FS("key", req->key),
		       LAB_FI("attempt", op->attempt), LAB_FI("http_status", code),
		       LAB_FI("delay_ms", delay));
		if (!op->timer_used) {
			uv_timer_init(s3->base.loop, &op->timer);
			op->timer.data = op;
			op->timer_used = 1;
		}
		uv_timer_start(&op->timer, retry_timer, delay, 0);
		return;
	}

	if (status < 0) {
		rc = op->too_big ? LAB_ERANGE : status;
		snprintf(why, sizeof why, "%s", errmsg ? errmsg : lab_strerror(rc));
		log_kv(LAB_LOG_ERROR, req->plugin, "storage operation failed",
		       LAB_FS("backend", "s3"), LAB_FS("op", op_verb[req->op]),
		       LAB_FS("key", req->key), LAB_FI("attempts", op->attempt),
		       LAB_FS("error", why), LAB_FS("result", lab_strerror(rc)));
		record_write(s3, req->op, rc, why);
		op_finish(op, rc);
		return;
	}

	rc = map_code(req->op, code);
	if (rc < 0 && !(rc == LAB_ENOENT && req->op == SB_GET)) {
		xml_text(&op->body, "Code", s3code, sizeof s3code);
		xml_text(&op->body, "Message", s3msg, sizeof s3msg);
		snprintf(why, sizeof why, "HTTP %ld%s%s%s%s", code, s3code[0] ? " " : "", s3code,
			 s3msg[0] ? ": " : "", s3msg);
		log_kv(LAB_LOG_ERROR, req->plugin, "storage operation failed",
		       LAB_FS("backend", "s3"), LAB_FS("op", op_verb[req->op]),
		       LAB_FS("key", req->key), LAB_FI("attempts", op->attempt),
		       LAB_FI("http_status", code), LAB_FS("s3_code", s3code),
		       LAB_FS("s3_message", s3msg), LAB_FS("result", lab_strerror(rc)));
		record_write(s3, req->op, rc, why);
		op_finish(op, rc);
		return;
	}
	if (req->op == SB_GET && rc == 0) {
		req->data = buf_steal(&op->body, &req->data_len);
		req->encoding = op->enc;
	}
	record_write(s3, req->op, rc, "");
	op_finish(op, rc);
}

static int op_send(struct s3_op *op)
{
	struct s3_backend *s3 = op->s3;
	struct sb_req *req = op->req;
	struct http_request hr = {
		.method = op->method,
		.url = op->url,
		.headers = (const char *const *)op->hdrs,
		.nheaders = op->nhdrs,
		.body = req->op == SB_PUT ? req->body : NULL,
		.body_len = req->op == SB_PUT ? req->len : 0,
		.userpwd = s3->userpwd,
		.aws_sigv4 = s3->sigv4,
		.timeout_ms = s3->timeout_ms,
		.connect_timeout_ms = s3->timeout_ms < CONNECT_TIMEOUT_MS ? s3->timeout_ms :
									  CONNECT_TIMEOUT_MS,
	};
	struct http_callbacks cb = { .on_data = on_data, .on_header = on_header, .done = on_done,
				     .ud = op };

	buf_reset(&op->body);
	op->too_big = 0;
	op->enc = SB_ENC_UNKNOWN;
	op->attempt++;
	return http_start(s3->http, &hr, &cb, NULL);
}

static char *hdr(const char *name, const char *value)
{
	size_t n = strlen(name) + strlen(value) + 3;
	char *s = malloc(n);
	if (s)
		snprintf(s, n, "%s: %s", name, value);
	return s;
}

/* ENDPOINT/BUCKET/KEY with the key URL-encoded except '/'. */
static char *object_url(const struct s3_backend *s3, const char *key)
{
	struct buf b = BUF_INIT;
	buf_puts(&b, s3->base_url);
	buf_putc(&b, '/');
	http_urlencode(&b, key, strlen(key), 1);
	if (b.oom) {
		buf_free(&b);
		return NULL;
	}
	return buf_steal(&b, NULL);
}

/* The headers, then the first attempt.  0 or LAB_E* (nothing sent). */
static int op_begin(struct s3_op *op)
{
	struct sb_req *req = op->req;

	if (!(op->hdrs[op->nhdrs++] = hdr("x-amz-content-sha256", op->sha)))
		return LAB_ENOMEM;
	if (req->op == SB_PUT) {
		if (!(op->hdrs[op->nhdrs++] = hdr("Content-Type", req->content_type)) ||
		    !(op->hdrs[op->nhdrs++] = hdr("Content-Encoding", req->content_encoding)) ||
		    !(op->hdrs[op->nhdrs++] = hdr("Cache-Control", req->cache_control)))
			return LAB_ENOMEM;
	}
	return op_send(op);
}

/* Large bodies are hashed on the thread pool: ~3 ms per MiB would stall
 * the loop. */
static void hash_work(uv_work_t *w)
{
	struct s3_op *op = w->data;
	(void)sha256_hex(op->req->body, op->req->len, op->sha); /* "" on failure: hash_after */
}

static void hash_after(uv_work_t *w, int status)
{
	struct s3_op *op = w->data;
	int rc = status == 0 && op->sha[0] ? op_begin(op) : LAB_EIO;

	if (rc < 0)
		start_failed(op, rc);
}

static int start(struct s3_backend *s3, struct sb_req *req, const char *method)
{
	struct s3_op *op = calloc(1, sizeof *op);
	int rc = LAB_ENOMEM;

	if (!op)
		return LAB_ENOMEM;
	op->s3 = s3;
	op->req = req;
	op->method = method;
	if (!(op->url = object_url(s3, req->key)))
		goto fail;
	req->priv = op;
	if (req->op == SB_PUT && req->len > HASH_INLINE_MAX) {
		op->work.data = op;
		if (uv_queue_work(s3->base.loop, &op->work, hash_work, hash_after) != 0) {
			rc = LAB_EIO;
			goto fail;
		}
		s3->inflight++;
		return 0;
	}
	if (req->op != SB_PUT)
		memcpy(op->sha, EMPTY_SHA256, sizeof EMPTY_SHA256);
	else if (sha256_hex(req->body, req->len, op->sha) < 0) {
		rc = LAB_EIO;
		goto fail;
	}
	if ((rc = op_begin(op)) < 0)
		goto fail;
	s3->inflight++;
	return 0;
fail:
	req->priv = NULL;
	op_free(op);
	return rc;
}

static int s3_put(struct storage_backend *b, struct sb_req *req)
{
	return start((struct s3_backend *)b, req, "PUT");
}

static int s3_get(struct storage_backend *b, struct sb_req *req)
{
	return start((struct s3_backend *)b, req, "GET");
}

static int s3_exists(struct storage_backend *b, struct sb_req *req)
{
	return start((struct s3_backend *)b, req, "HEAD");
}

static int s3_delete(struct storage_backend *b, struct sb_req *req)
{
	return start((struct s3_backend *)b, req, "DELETE");
}

/* ---- readiness ------------------------------------------------------------ */

static void probe_done(int status, long code, const struct buf *body, const char *errmsg,
		       void *ud)
{
	struct s3_backend *s3 = ud;
	int was = s3->probe_rc;

	(void)body;
	s3->probe = NULL;
	if (status < 0) {
		s3->probe_rc = status;
		snprintf(s3->probe_why, sizeof s3->probe_why, "%s",
			 errmsg ? errmsg : lab_strerror(status));
	} else if (code >= 200 && code < 300) {
		s3->probe_rc = 0;
		/* Reachable with valid credentials: an earlier write failure
		 * (outage) no longer says anything about now. */
		if (s3->write_rc != LAB_EPERM)
			s3->write_rc = 0;
	} else {
		s3->probe_rc = code == 403 || code == 401 ? LAB_EPERM :
			       code == 404		  ? LAB_ENOENT :
							    LAB_EUNAVAIL;
		snprintf(s3->probe_why, sizeof s3->probe_why, "HTTP %ld%s", code,
			 code == 404		     ? " (no such bucket)" :
			 code == 403 || code == 401 ? " (access denied)" :
						      "");
	}
	/* Log changes only: /readyz polls this every few seconds. */
	if (s3->probe_rc < 0 && was >= 0)
		log_kv(LAB_LOG_WARN, NULL, "s3 bucket check failed", LAB_FS("bucket_url", s3->base_url),
		       LAB_FS("error", s3->probe_why));
	else if (s3->probe_rc == 0 && was < 0)
		log_kv(LAB_LOG_INFO, NULL, "s3 bucket check ok again",
		       LAB_FS("bucket_url", s3->base_url));
}

static void probe_start(struct s3_backend *s3)
{
	static const char *const hdrs[] = {
		"x-amz-content-sha256: e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
	};
	struct http_request hr = {
		.method = "HEAD",
		.url = s3->base_url,
		.headers = hdrs,
		.nheaders = 1,
		.userpwd = s3->userpwd,
		.aws_sigv4 = s3->sigv4,
		.timeout_ms = s3->timeout_ms < CONNECT_TIMEOUT_MS ? s3->timeout_ms :
								    CONNECT_TIMEOUT_MS,
	};
	struct http_callbacks cb = { .done = probe_done, .ud = s3 };

	if (s3->probe || s3->closing)
		return;
	s3->probe_at = uv_now(s3->base.loop);
	if (http_start(s3->http, &hr, &cb, &s3->probe) < 0)
		s3->probe = NULL;
}

static int s3_ready(struct storage_backend *b, const char **reason)
{
	struct s3_backend *s3 = (struct s3_backend *)b;

	if (!s3->probe && uv_now(b->loop) - s3->probe_at >= PROBE_EVERY_MS)
		probe_start(s3);
	if (s3->probe_rc == 1) {
		snprintf(s3->reason, sizeof s3->reason, "s3 %s: not checked yet", s3->base_url);
		*reason = s3->reason;
		return LAB_EUNAVAIL;
	}
	/* A key limited to objects (no s3:ListBucket) gets 403 from HEAD
	 * bucket; once one of its puts succeeded, 403 there means "reachable". */
	if (s3->probe_rc < 0 && !(s3->probe_rc == LAB_EPERM && s3->put_ok)) {
		snprintf(s3->reason, sizeof s3->reason, "s3 %s: %s", s3->base_url, s3->probe_why);
		*reason = s3->reason;
		return s3->probe_rc;
	}
	if (s3->write_rc < 0) {
		snprintf(s3->reason, sizeof s3->reason, "s3 %s: last write failed: %s",
			 s3->base_url, s3->write_why);
		*reason = s3->reason;
		return s3->write_rc;
	}
	return 0;
}

static void s3_close(struct storage_backend *b)
{
	struct s3_backend *s3 = (struct s3_backend *)b;

	s3->closing = 1;
	/* Cancels the probe (no callback); closes its handles on the loop. */
	http_close(s3->http);
	s3->http = NULL;
	s3->probe = NULL;
	if (s3->inflight == 0)
		s3_free(s3);
}

static const struct storage_backend_ops s3_ops = {
	.name = "s3",
	.put = s3_put,
	.get = s3_get,
	.exists = s3_exists,
	.del = s3_delete,
	.ready = s3_ready,
	.close = s3_close,
};

/* ---- open ----------------------------------------------------------------- */

int storage_s3_bucket_url(const char *endpoint, const char *bucket, int virtual_hosted,
			  char **out)
{
	struct buf b = BUF_INIT;
	size_t n = strlen(endpoint);

	*out = NULL;
	while (n && endpoint[n - 1] == '/')
		n--;
	if (virtual_hosted) {
		/* scheme://BUCKET.host...: the bucket becomes a DNS label. */
		const char *host = strstr(endpoint, "://");
		if (!host || !*bucket || strspn(bucket, "abcdefghijklmnopqrstuvwxyz0123456789.-") !=
						 strlen(bucket)) {
			log_kv(LAB_LOG_ERROR, NULL,
			       "storage.s3.url_style \"virtual\" needs a DNS-safe bucket name "
			       "([a-z0-9.-]) and a scheme://host endpoint",
			       LAB_FS("bucket", bucket));
			return LAB_ECONFIG;
		}
		host += 3;
		buf_append(&b, endpoint, (size_t)(host - endpoint));
		buf_puts(&b, bucket);
		buf_putc(&b, '.');
		buf_append(&b, host, n - (size_t)(host - endpoint));
	} else {
		buf_append(&b, endpoint, n);
		buf_putc(&b, '/');
		http_urlencode(&b, bucket, strlen(bucket), 0);
	}
	if (b.oom) {
		buf_free(&b);
		return LAB_ENOMEM;
	}
	*out = buf_steal(&b, NULL);
	return 0;
}

static int need(const char *v, const char *name)
{
	if (v && *v)
		return 0;
	log_kv(LAB_LOG_ERROR, NULL, "storage setting is empty", LAB_FS("setting", name));
	return LAB_ECONFIG;
}

int storage_s3_open(uv_loop_t *loop, const struct host_conf *hc, struct storage_backend **out)
{
	struct s3_backend *s3;
	struct buf b = BUF_INIT;
	int rc;

	*out = NULL;
	if (need(hc->s3_endpoint, "storage.s3.endpoint") ||
	    need(hc->s3_bucket, "storage.s3.bucket") ||
	    need(hc->s3_region, "storage.s3.region") ||
	    need(hc->s3_access_key_id, "storage.s3.access_key_id") ||
	    need(hc->s3_secret_access_key, "storage.s3.secret_access_key"))
		return LAB_ECONFIG;
	if (strncasecmp(hc->s3_endpoint, "http://", 7) != 0 &&
	    strncasecmp(hc->s3_endpoint, "https://", 8) != 0) {
		log_kv(LAB_LOG_ERROR, NULL, "storage.s3.endpoint must be an http:// or https:// URL",
		       LAB_FS("endpoint", hc->s3_endpoint));
		return LAB_ECONFIG;
	}
	if (strchr(hc->s3_endpoint, '?') || strchr(hc->s3_endpoint, '#')) {
		log_kv(LAB_LOG_ERROR, NULL, "storage.s3.endpoint must not have a query or fragment",
		       LAB_FS("endpoint", hc->s3_endpoint));
		return LAB_ECONFIG;
	}
	if (strchr(hc->s3_access_key_id, ':')) {
		log_msg(LAB_LOG_ERROR, NULL, "storage.s3.access_key_id must not contain ':'");
		return LAB_ECONFIG;
	}
	if (strchr(hc->s3_region, ':')) {
		log_msg(LAB_LOG_ERROR, NULL, "storage.s3.region must not contain ':'");
		return LAB_ECONFIG;
	}
	s3 = calloc(1, sizeof *s3);
	if (!s3)
		return LAB_ENOMEM;
	s3->base.ops = &s3_ops;
	s3->base.loop = loop;
	s3->probe_rc = 1;
	s3->timeout_ms = hc->s3_timeout > 0 ? (long)hc->s3_timeout * 1000 : 30000;
	s3->max_retries = hc->s3_max_retries >= 0 ? (unsigned)hc->s3_max_retries : 0;

	if ((rc = storage_s3_bucket_url(hc->s3_endpoint, hc->s3_bucket, hc->s3_virtual_hosted,
					&s3->base_url)) < 0) {
		s3_free(s3);
		return rc;
	}
	buf_printf(&b, "%s:%s", hc->s3_access_key_id, hc->s3_secret_access_key);
	s3->userpwd = b.oom ? NULL : buf_steal(&b, NULL);
	buf_free(&b);
	buf_printf(&b, "aws:amz:%s:s3", hc->s3_region);
	s3->sigv4 = b.oom ? NULL : buf_steal(&b, NULL);
	buf_free(&b);
	if (!s3->base_url || !s3->userpwd || !s3->sigv4) {
		s3_free(s3);
		return LAB_ENOMEM;
	}
	if ((rc = http_open(loop, "s3", &s3->http)) < 0) {
		log_kv(LAB_LOG_ERROR, NULL, "cannot start the HTTP client for s3",
		       LAB_FS("error", lab_strerror(rc)));
		s3_free(s3);
		return rc;
	}
	probe_start(s3); /* runs once the loop turns */
	log_kv(LAB_LOG_INFO, NULL, "storage backend s3", LAB_FS("bucket_url", s3->base_url),
	       LAB_FS("region", hc->s3_region), LAB_FI("max_retries", s3->max_retries));
	*out = &s3->base;
	return 0;
}
