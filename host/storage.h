/* Object storage behind the plugins' lab_storage_* calls: the `fs` backend
 * (a directory tree) and, later, `s3`.  Bodies are stored gzip-encoded with
 * Content-Encoding: gzip; get returns them gunzipped.  All operations are
 * asynchronous: completions run on the loop.  Loop thread only, except the
 * gzip helpers.  See docs/storage.md. */
#ifndef LAB_HOST_STORAGE_H
#define LAB_HOST_STORAGE_H

#include <stddef.h>
#include <uv.h>

#include "config.h"

struct storage;
struct metrics;
struct storage_op;

/* status as lab_storage_cb: 0 ok; exists: 1/0; <0 LAB_E*.  data/len for get
 * (valid until the callback returns; NULL/0 otherwise). */
typedef void (*storage_cb)(int status, const void *data, size_t len, void *ud);

/* Largest body put accepts and get returns (uncompressed): LAB_ERANGE beyond. */
#define STORAGE_BODY_MAX ((size_t)256 << 20)
#define STORAGE_KEY_MAX 1024

/* Opens the backend named by hc->storage_backend.  May block (start-up
 * only): the fs backend creates its root here.  Operations are counted in
 * metrics (the daemon's registry; NULL: not counted). */
int storage_open(uv_loop_t *loop, struct metrics *metrics, const struct host_conf *hc,
		 struct storage **out);
/*
 * Refuses new operations and frees the storage once nothing is in flight:
 * at once if storage_pending() is 0, else when the last operation completes
 * (its callback still runs).  It never runs the loop itself: the caller
 * keeps running it (uv_run) until the operations and the backend's handles
 * are done.  To know that every write landed, let the loop run until
 * storage_pending() == 0 before calling this.
 */
void storage_close(struct storage *s);
/* Operations started and not yet completed (cancelled ones included). */
unsigned storage_pending(const struct storage *s);

/* 0 if the key is safe (SPEC §5 storage rules), LAB_EPERM otherwise.
 * Refused: empty, longer than STORAGE_KEY_MAX, a leading or trailing "/",
 * an empty, "." or ".." segment, invalid UTF-8 (overlong forms, surrogates
 * and truncated sequences included), control characters (below U+0020,
 * U+007F, U+0080..U+009F), backslash, and a first segment equal to the fs
 * backend's metadata directory (.lab-meta).  Everything else is allowed:
 * spaces, '%', '?', '#' and any printable UTF-8 (SPEC §9.2 raw usernames). */
int storage_key_check(const char *key);

/*
 * `plugin` labels the operation in metrics (lab_storage_ops_total,
 * lab_storage_bytes_total) and log records: the plugin's name, or NULL for
 * the host's own writes (labelled "host").  It is copied.
 *
 * Default headers: content_type NULL -> by extension (".json" ->
 * application/json, else application/octet-stream); cache_control NULL ->
 * "max-age=3600".  Buffers are copied.  `out` may be NULL; the handle is
 * valid until the callback runs or storage_cancel() is called.
 *
 * Operations on one key run in the order they were issued (a get issued
 * after a put sees the put).  A negative return means nothing was started
 * and cb will not be called.
 */
int storage_put(struct storage *s, const char *plugin, const char *key, const void *data,
		size_t len, const char *content_type, const char *cache_control, unsigned flags,
		storage_cb cb, void *ud, struct storage_op **out);
int storage_get(struct storage *s, const char *plugin, const char *key, storage_cb cb, void *ud,
		struct storage_op **out);
int storage_exists(struct storage *s, const char *plugin, const char *key, storage_cb cb,
		   void *ud, struct storage_op **out);
int storage_delete(struct storage *s, const char *plugin, const char *key, storage_cb cb,
		   void *ud, struct storage_op **out);

/* storage_get with flags.  STORAGE_GET_RAW_ON_ERROR: when the stored body
 * cannot be gunzipped (LAB_EPARSE, or LAB_ERANGE past STORAGE_BODY_MAX),
 * the callback gets that status together with the raw stored bytes (so a
 * caller can keep a copy of a corrupt object). */
#define STORAGE_GET_RAW_ON_ERROR (1u << 0)
/* The operation reads or writes a plugin's durable state (host/state.c):
 * counted in lab_state_ops_total / lab_state_bytes_total instead of the
 * document counters lab_storage_ops_total / lab_storage_bytes_total. */
#define STORAGE_STATE (1u << 1)
/* storage_get: the callback gets the body as stored (not gunzipped, gzip or
 * not), for lab_storage_get_raw. */
#define STORAGE_GET_RAW (1u << 2)
/* storage_put with host flags (STORAGE_STATE). */
int storage_put_flags(struct storage *s, const char *plugin, const char *key, const void *data,
		      size_t len, const char *content_type, const char *cache_control,
		      unsigned flags, unsigned hflags, storage_cb cb, void *ud,
		      struct storage_op **out);
int storage_get_flags(struct storage *s, const char *plugin, const char *key, unsigned flags,
		      storage_cb cb, void *ud, struct storage_op **out);

/* The callback will not be called; the operation still completes (a put may
 * still land) and then frees itself.  `op` must not be used afterwards. */
void storage_cancel(struct storage_op *op);
/* 0 when the backend is usable; else LAB_E* and *reason says why (static or
 * storage-owned, valid until the next call).  Never blocks. */
int storage_ready(struct storage *s, const char **reason);
/* "fs" or "s3". */
const char *storage_backend_name(const struct storage *s);

/* gzip helpers shared by the backends.  Thread-safe.  Decoding refuses
 * input without the gzip magic, corrupt or truncated input (LAB_EPARSE) and
 * output beyond `max` bytes (LAB_ERANGE); gzip_decode uses GZIP_DECODE_MAX. */
#define GZIP_DECODE_MAX STORAGE_BODY_MAX
int gzip_encode(const void *in, size_t n, void **out, size_t *outlen);
int gzip_decode(const void *in, size_t n, void **out, size_t *outlen);
int gzip_decode_max(const void *in, size_t n, size_t max, void **out, size_t *outlen);
/* A reusable encoder: the same bytes as gzip_encode, without allocating a
 * compressor and a bound-sized output block per call (for large bodies on
 * one thread; not thread-safe).  *out is malloc'ed to the encoded size.
 * A zeroed struct is ready; gzip_enc_release frees what it keeps (it may be
 * used again afterwards). */
struct libdeflate_compressor;
struct isal_zstream;
struct gzip_enc {
	struct libdeflate_compressor *c; /* bodies below 512 KiB */
	int level;
	struct isal_zstream *z;          /* igzip state and level buffer, */
	unsigned char *lvlbuf;           /* larger bodies (~360 KB kept)  */
	unsigned char *scratch;
	size_t cap;
};
int gzip_enc_run(struct gzip_enc *e, const void *in, size_t n, void **out, size_t *outlen);
void gzip_enc_release(struct gzip_enc *e);
/* Starts with the gzip magic 1f 8b. */
int gzip_is_gzip(const void *data, size_t n);

#endif
