/* The storage front: key rules, default headers, gzip (on the thread pool),
 * per-key ordering, cancellation, in-flight accounting and metrics.  The
 * bytes are moved by a backend (storage_backend.h). */
#include "storage.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "keyrules.h"
#include "lab/plugin.h"
#include "log.h"
#include "metrics.h"
#include "storage_backend.h"

#define KEY_BUCKETS 256
#define HEADER_MAX 256
/* put must copy the caller's body (the SDK lets the caller reuse its buffer
 * at once) and gzips the copy on the thread pool.  A large body (a slot
 * document with relay bids: ~1.5 MB) is gzipped on the loop thread straight
 * from the caller's buffer instead: its copy cost about as much loop time
 * as the gzip (a new mmap block whose every page faults, unmapped again
 * after the gzip: ~30 % of labd's CPU in a mainnet-like backfill, see
 * docs/performance.md), and a burst of puts held all the copies at once.
 * The encoder (compressor and output scratch) is kept for INLINE_IDLE_MS
 * after the last large put, so an idle daemon holds none of it. */
#define INLINE_MIN ((size_t)256 << 10)
#define INLINE_IDLE_MS 1000

struct storage {
	uv_loop_t *loop;
	struct metrics *metrics; /* NULL: not counted */
	struct storage_backend *be;
	unsigned pending;
	int closing;
	/* storage.prefix ("" or "seg/.../"): every key the callers name is
	 * stored under it, so a shadow run can share a bucket (docs/migration.md). */
	char prefix[STORAGE_KEY_MAX + 2];
	/* The op currently running for each key; later ops on that key wait in
	 * its queue. */
	struct storage_op *running[KEY_BUCKETS];
	struct gzip_enc enc;     /* large bodies, loop thread (INLINE_MIN) */
	uv_timer_t enc_timer;    /* releases enc when large puts stop */
};

struct storage_op {
	struct storage *s;
	struct sb_req req;
	uv_work_t work;
	storage_cb cb;
	void *ud;
	int cancelled;
	unsigned hflags; /* STORAGE_GET_RAW_ON_ERROR, STORAGE_STATE */
	unsigned hash;
	struct storage_op *hnext;  /* bucket chain (running ops only) */
	struct storage_op *qnext;  /* FIFO of ops waiting on the same key */
	struct storage_op *qtail;  /* running op only: last waiter */
	void *body;                /* put: the caller's bytes; get: the decoded body */
	size_t body_len;
	void *gz;                  /* put: the encoded body */
	size_t gz_len;
	int work_rc;
	char strings[];            /* key, plugin, content type, cache control */
};

static const char *const op_names[] = { "put", "get", "exists", "delete" };

static const struct {
	const char *name;
	int (*open)(uv_loop_t *loop, const struct host_conf *hc, struct storage_backend **out);
} backends[] = {
	{ "fs", storage_fs_open },
	{ "s3", storage_s3_open },
};

/* ---- keys and headers ---------------------------------------------------- */

int storage_key_check(const char *key)
{
	size_t n;

	if (!key)
		return LAB_EPERM;
	n = strnlen(key, STORAGE_KEY_MAX + 1);
	if (n > STORAGE_KEY_MAX || key[n] != '\0' || !key_segments_ok(key, n, STORAGE_META_DIR))
		return LAB_EPERM;
	return 0;
}

/* Header values travel into HTTP requests: printable ASCII only. */
static int header_ok(const char *v)
{
	size_t n = 0;
	for (; *v; v++, n++)
		if ((unsigned char)*v < 0x20 || (unsigned char)*v >= 0x7f || n >= HEADER_MAX)
			return 0;
	return 1;
}

static const char *default_type(const char *key)
{
	size_t n = strlen(key);
	if (n >= 5 && strcmp(key + n - 5, ".json") == 0)
		return "application/json";
	return "application/octet-stream";
}

/* ---- open / close -------------------------------------------------------- */

int storage_open(uv_loop_t *loop, struct metrics *metrics, const struct host_conf *hc,
		 struct storage **out)
{
	const char *name = hc->storage_backend ? hc->storage_backend : "fs";
	struct storage *s;
	size_t i;
	int rc;

	*out = NULL;
	for (i = 0; i < sizeof backends / sizeof backends[0]; i++)
		if (strcmp(backends[i].name, name) == 0)
			break;
	if (i == sizeof backends / sizeof backends[0]) {
		log_kv(LAB_LOG_ERROR, NULL, "storage backend not available in this build",
		       LAB_FS("backend", name));
		return LAB_ENOTSUP;
	}
	s = calloc(1, sizeof *s);
	if (!s)
		return LAB_ENOMEM;
	s->loop = loop;
	s->metrics = metrics;
	if (hc->storage_prefix) {
		size_t n = strlen(hc->storage_prefix);
		/* config.c checked it; the guard keeps the copy below in bounds. */
		if (n >= sizeof s->prefix || (n && (hc->storage_prefix[n - 1] != '/' ||
						    !key_segments_ok(hc->storage_prefix, n - 1,
								     STORAGE_META_DIR)))) {
			log_kv(LAB_LOG_ERROR, NULL, "bad storage.prefix",
			       LAB_FS("prefix", hc->storage_prefix));
			free(s);
			return LAB_ECONFIG;
		}
		memcpy(s->prefix, hc->storage_prefix, n + 1);
	}
	rc = backends[i].open(loop, hc, &s->be);
	if (rc < 0) {
		free(s);
		return rc;
	}
	uv_timer_init(loop, &s->enc_timer);
	s->enc_timer.data = s;
	uv_unref((uv_handle_t *)&s->enc_timer);
	*out = s;
	return 0;
}

static void storage_freed(uv_handle_t *h)
{
	free(h->data);
}

static void storage_free(struct storage *s)
{
	gzip_enc_release(&s->enc);
	s->be->ops->close(s->be);
	uv_timer_stop(&s->enc_timer);
	uv_close((uv_handle_t *)&s->enc_timer, storage_freed); /* frees s */
}

void storage_close(struct storage *s)
{
	if (!s || s->closing)
		return;
	s->closing = 1;
	if (s->pending == 0)
		storage_free(s);
}

unsigned storage_pending(const struct storage *s)
{
	return s ? s->pending : 0;
}

int storage_ready(struct storage *s, const char **reason)
{
	const char *dummy;
	if (!reason)
		reason = &dummy;
	if (s->closing) {
		*reason = "closing";
		return LAB_ESTATE;
	}
	*reason = NULL;
	return s->be->ops->ready(s->be, reason);
}

const char *storage_backend_name(const struct storage *s)
{
	return s->be->ops->name;
}

/* ---- per-key ordering ---------------------------------------------------- */

static unsigned key_hash(const char *key)
{
	uint32_t h = 2166136261u;
	for (; *key; key++)
		h = (h ^ (unsigned char)*key) * 16777619u;
	return h;
}

/* Returns 1 if op may start now, 0 if it waits behind a running op. */
static int key_enter(struct storage *s, struct storage_op *op)
{
	struct storage_op *r;
	op->hash = key_hash(op->req.key);
	for (r = s->running[op->hash % KEY_BUCKETS]; r; r = r->hnext) {
		if (r->hash == op->hash && strcmp(r->req.key, op->req.key) == 0) {
			if (r->qtail)
				r->qtail->qnext = op;
			else
				r->qnext = op;
			r->qtail = op;
			return 0;
		}
	}
	op->hnext = s->running[op->hash % KEY_BUCKETS];
	s->running[op->hash % KEY_BUCKETS] = op;
	return 1;
}

/* Removes the running op `op`; returns the next op for its key (now running). */
static struct storage_op *key_leave(struct storage *s, struct storage_op *op)
{
	struct storage_op **pp = &s->running[op->hash % KEY_BUCKETS];
	struct storage_op *next = op->qnext;
	while (*pp != op)
		pp = &(*pp)->hnext;
	*pp = op->hnext;
	if (next) {
		next->qtail = op->qtail == next ? NULL : op->qtail;
		next->hnext = s->running[next->hash % KEY_BUCKETS];
		s->running[next->hash % KEY_BUCKETS] = next;
	}
	return next;
}

/* ---- completion ---------------------------------------------------------- */

static int op_start(struct storage_op *op);

static void op_free(struct storage_op *op)
{
	free(op->body);
	free(op->gz);
	free(op->req.data);
	free(op);
}

static void op_finish(struct storage_op *op, int status, const void *data, size_t len)
{
	struct storage *s = op->s;
	struct storage_op *next;
	/* An existence check answers 0 for a missing key: that is not_found
	 * too, like a get of a missing key. */
	int missing = status == LAB_ENOENT || (op->req.op == SB_EXISTS && status == 0);
	const char *result = missing ? "not_found" : status >= 0 ? "ok" : "failed";
	int is_state = (op->hflags & STORAGE_STATE) != 0;
	enum metric_id bytes = is_state ? M_STATE_BYTES : M_STORAGE_BYTES;

	metric_add(s->metrics, is_state ? M_STATE_OPS : M_STORAGE_OPS, 1, op->req.plugin,
		   op_names[op->req.op], result);
	if (op->req.op == SB_PUT && status >= 0)
		metric_add(s->metrics, bytes, (double)op->gz_len, op->req.plugin, "put");
	else if (op->req.op == SB_GET && op->req.data)
		metric_add(s->metrics, bytes, (double)op->req.data_len, op->req.plugin, "get");
	if (!op->cancelled && op->cb)
		op->cb(status, data, len, op->ud);

	/* Start the followers after the callback, so an op it issued on the
	 * same key queues behind them in order. */
	next = key_leave(s, op);
	op_free(op);
	while (next) {
		int rc = op_start(next);
		if (rc >= 0)
			break;
		struct storage_op *failed = next;
		metric_add(s->metrics, failed->hflags & STORAGE_STATE ? M_STATE_OPS : M_STORAGE_OPS,
			   1, failed->req.plugin, op_names[failed->req.op], "failed");
		if (!failed->cancelled && failed->cb)
			failed->cb(rc, NULL, 0, failed->ud);
		next = key_leave(s, failed);
		op_free(failed);
		s->pending--;
	}
	s->pending--;
	if (s->closing && s->pending == 0)
		storage_free(s);
}

static void decode_work(uv_work_t *w)
{
	struct storage_op *op = w->data;
	op->work_rc = gzip_decode(op->req.data, op->req.data_len, &op->body, &op->body_len);
}

static void decode_after(uv_work_t *w, int status)
{
	struct storage_op *op = w->data;
	int rc = op->work_rc;

	if (rc == 0) {
		op_finish(op, 0, op->body, op->body_len);
		return;
	}
	log_kv(LAB_LOG_WARN, op->req.plugin, "stored object cannot be decoded",
	       LAB_FS("key", op->req.key), LAB_FS("error", lab_strerror(rc)));
	if ((rc == LAB_EPARSE || rc == LAB_ERANGE) && (op->hflags & STORAGE_GET_RAW_ON_ERROR))
		op_finish(op, rc, op->req.data, op->req.data_len);
	else
		op_finish(op, rc, NULL, 0);
}

static void backend_done(struct sb_req *req)
{
	struct storage_op *op = (void *)((char *)req - offsetof(struct storage_op, req));
	int gz;

	if (req->op != SB_GET || req->status < 0) {
		op_finish(op, req->status, NULL, 0);
		return;
	}
	if (req->data_len > STORAGE_BODY_MAX) {
		op_finish(op, LAB_ERANGE, NULL, 0);
		return;
	}
	if (op->hflags & STORAGE_GET_RAW) {
		op_finish(op, 0, req->data ? req->data : "", req->data_len);
		return;
	}
	gz = req->encoding == SB_ENC_GZIP ||
	     (req->encoding == SB_ENC_UNKNOWN && gzip_is_gzip(req->data, req->data_len));
	if (!gz) {
		op_finish(op, 0, req->data ? req->data : "", req->data_len);
		return;
	}
	op->work.data = op;
	if (uv_queue_work(op->s->loop, &op->work, decode_work, decode_after) != 0)
		op_finish(op, LAB_EIO, NULL, 0);
}

static void encode_work(uv_work_t *w)
{
	struct storage_op *op = w->data;
	op->work_rc = gzip_encode(op->body, op->body_len, &op->gz, &op->gz_len);
	free(op->body);
	op->body = NULL;
}

static void encode_after(uv_work_t *w, int status)
{
	struct storage_op *op = w->data;
	struct storage_backend *be = op->s->be;
	int rc = op->work_rc;

	if (rc == 0) {
		op->req.body = op->gz;
		op->req.len = op->gz_len;
		rc = be->ops->put(be, &op->req);
	}
	if (rc < 0)
		op_finish(op, rc, NULL, 0);
}

static int op_start(struct storage_op *op)
{
	struct storage_backend *be = op->s->be;

	switch (op->req.op) {
	case SB_PUT:
		if (op->gz) { /* gzipped at issue (INLINE_MIN) */
			op->req.body = op->gz;
			op->req.len = op->gz_len;
			return be->ops->put(be, &op->req);
		}
		op->work.data = op;
		if (uv_queue_work(op->s->loop, &op->work, encode_work, encode_after) != 0)
			return LAB_EIO;
		return 0;
	case SB_GET:
		return be->ops->get(be, &op->req);
	case SB_EXISTS:
		return be->ops->exists(be, &op->req);
	default:
		return be->ops->del(be, &op->req);
	}
}

/* ---- issuing ------------------------------------------------------------- */

static void enc_idle(uv_timer_t *t)
{
	struct storage *s = t->data;
	gzip_enc_release(&s->enc);
}

static char *put_str(char **p, const char *v)
{
	char *r = *p;
	size_t n = strlen(v) + 1;
	memcpy(r, v, n);
	*p += n;
	return r;
}

static int op_issue(struct storage *s, enum sb_op kind, const char *plugin, const char *key,
		    const void *data, size_t len, const char *ctype, const char *cache,
		    unsigned flags, unsigned hflags, storage_cb cb, void *ud,
		    struct storage_op **out)
{
	struct storage_op *op;
	size_t extra;
	char *p;
	int rc;

	if (out)
		*out = NULL;
	if (!s || !key)
		return LAB_EINVAL;
	if (s->closing)
		return LAB_ESTATE;
	if ((rc = storage_key_check(key)) < 0)
		return rc;
	if (strlen(s->prefix) + strlen(key) > STORAGE_KEY_MAX)
		return LAB_EPERM;
	if (!plugin || !*plugin)
		plugin = "host";
	if (kind == SB_PUT) {
		if (!data && len)
			return LAB_EINVAL;
		if (len > STORAGE_BODY_MAX)
			return LAB_ERANGE;
		if (!ctype)
			ctype = default_type(key);
		if (!cache)
			cache = "max-age=3600";
		if (!header_ok(ctype) || !header_ok(cache))
			return LAB_EINVAL;
	} else {
		ctype = cache = "";
	}
	extra = strlen(s->prefix) + strlen(key) + strlen(plugin) + strlen(ctype) + strlen(cache) + 4;
	op = calloc(1, sizeof *op + extra);
	if (!op)
		return LAB_ENOMEM;
	if (kind == SB_PUT && len >= INLINE_MIN) {
		uv_timer_start(&s->enc_timer, enc_idle, INLINE_IDLE_MS, 0);
		rc = gzip_enc_run(&s->enc, data, len, &op->gz, &op->gz_len);
		if (rc < 0) {
			free(op);
			return rc;
		}
	} else if (kind == SB_PUT) {
		op->body = malloc(len ? len : 1);
		if (!op->body) {
			free(op);
			return LAB_ENOMEM;
		}
		if (len)
			memcpy(op->body, data, len);
		op->body_len = len;
	}
	p = op->strings;
	op->s = s;
	op->cb = cb;
	op->ud = ud;
	op->hflags = hflags;
	op->req.op = kind;
	op->req.key = p; /* the stored key: prefix + key */
	memcpy(p, s->prefix, strlen(s->prefix));
	p += strlen(s->prefix);
	put_str(&p, key);
	op->req.plugin = put_str(&p, plugin);
	op->req.content_type = put_str(&p, ctype);
	op->req.cache_control = put_str(&p, cache);
	op->req.content_encoding = "gzip";
	op->req.flags = flags;
	op->req.done = backend_done;

	if (key_enter(s, op)) {
		rc = op_start(op);
		if (rc < 0) {
			key_leave(s, op); /* just entered: nobody waits behind it yet */
			op_free(op);
			return rc;
		}
	}
	s->pending++;
	if (out)
		*out = op;
	return 0;
}

int storage_put(struct storage *s, const char *plugin, const char *key, const void *data,
		size_t len, const char *content_type, const char *cache_control, unsigned flags,
		storage_cb cb, void *ud, struct storage_op **out)
{
	return op_issue(s, SB_PUT, plugin, key, data, len, content_type, cache_control, flags, 0,
			cb, ud, out);
}

int storage_put_flags(struct storage *s, const char *plugin, const char *key, const void *data,
		      size_t len, const char *content_type, const char *cache_control,
		      unsigned flags, unsigned hflags, storage_cb cb, void *ud,
		      struct storage_op **out)
{
	return op_issue(s, SB_PUT, plugin, key, data, len, content_type, cache_control, flags,
			hflags, cb, ud, out);
}

int storage_get(struct storage *s, const char *plugin, const char *key, storage_cb cb, void *ud,
		struct storage_op **out)
{
	return op_issue(s, SB_GET, plugin, key, NULL, 0, NULL, NULL, 0, 0, cb, ud, out);
}

int storage_get_flags(struct storage *s, const char *plugin, const char *key, unsigned flags,
		      storage_cb cb, void *ud, struct storage_op **out)
{
	return op_issue(s, SB_GET, plugin, key, NULL, 0, NULL, NULL, 0, flags, cb, ud, out);
}

int storage_exists(struct storage *s, const char *plugin, const char *key, storage_cb cb,
		   void *ud, struct storage_op **out)
{
	return op_issue(s, SB_EXISTS, plugin, key, NULL, 0, NULL, NULL, 0, 0, cb, ud, out);
}

int storage_delete(struct storage *s, const char *plugin, const char *key, storage_cb cb,
		   void *ud, struct storage_op **out)
{
	return op_issue(s, SB_DELETE, plugin, key, NULL, 0, NULL, NULL, 0, 0, cb, ud, out);
}

void storage_cancel(struct storage_op *op)
{
	if (op)
		op->cancelled = 1;
}
