/* Object storage behind the plugins' lab_storage_* calls: the `fs` backend
 * (a directory tree) and, later, `s3`.  Bodies are stored gzip-encoded with
 * Content-Encoding: gzip; get returns them gunzipped.  All operations are
 * asynchronous: completions run on the loop. */
#ifndef LAB_HOST_STORAGE_H
#define LAB_HOST_STORAGE_H

#include <stddef.h>
#include <uv.h>

#include "config.h"

struct storage;
struct storage_op;

/* status as lab_storage_cb: 0 ok; exists: 1/0; <0 LAB_E*.  data/len for get. */
typedef void (*storage_cb)(int status, const void *data, size_t len, void *ud);

int storage_open(uv_loop_t *loop, const struct host_conf *hc, struct storage **out);
/* Waits for in-flight operations to finish, then frees. */
void storage_close(struct storage *s);

/* 0 if the key is safe (SPEC §5 storage rules), LAB_EPERM otherwise. */
int storage_key_check(const char *key);

/* Default headers: content_type NULL -> by extension (".json" ->
 * application/json, else application/octet-stream); cache_control NULL ->
 * "max-age=3600".  Buffers are copied.  `out` may be NULL. */
int storage_put(struct storage *s, const char *key, const void *data, size_t len,
		const char *content_type, const char *cache_control, unsigned flags,
		storage_cb cb, void *ud, struct storage_op **out);
int storage_get(struct storage *s, const char *key, storage_cb cb, void *ud,
		struct storage_op **out);
int storage_exists(struct storage *s, const char *key, storage_cb cb, void *ud,
		   struct storage_op **out);
int storage_delete(struct storage *s, const char *key, storage_cb cb, void *ud,
		   struct storage_op **out);
/* The callback will not be called; the operation may still complete. */
void storage_cancel(struct storage_op *op);
/* Name of the backend and whether it answered its last probe (for /readyz). */
int storage_ready(struct storage *s, const char **reason);

/* gzip helpers shared by the backends. */
int gzip_encode(const void *in, size_t n, void **out, size_t *outlen);
int gzip_decode(const void *in, size_t n, void **out, size_t *outlen);

#endif
