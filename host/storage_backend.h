/* The contract between the storage front (storage.c) and a backend (fs, s3).
 *
 * The front validates keys, fills in default headers, gzips bodies, keeps
 * operations on one key in issue order, counts in-flight operations, handles
 * cancellation and metrics.  A backend only moves bytes:
 *
 *  - It is created by its open function (one per backend, named in
 *    storage.c's table), which may block: it runs once at start-up, before
 *    the loop turns.
 *  - put/get/exists/delete start one operation on `req` and return 0; the
 *    completion req->done then runs later on the loop thread, exactly once,
 *    after the backend set req->status (and for get req->data/len/encoding).
 *    They never call req->done before returning.  A negative return means
 *    the operation did not start and req->done will not be called.  Work
 *    that blocks (file I/O) runs on libuv's thread pool; network I/O is
 *    driven by the loop.  Nothing in a backend blocks the loop.
 *  - Errors are LAB_E* codes.  The backend decides how an OS or HTTP error
 *    maps to LAB_E* and logs the reason once (the front does not log again).
 *  - ready() answers from the backend's last known state (it may start an
 *    asynchronous probe for next time) and never blocks.
 *  - close() is called once, when no operation is in flight.  The backend
 *    releases its resources; if it has loop handles to close it may finish
 *    later while the caller keeps running the loop.
 *
 * The request belongs to the front; the backend may keep private per-request
 * data in `priv` while the operation runs.
 */
#ifndef LAB_HOST_STORAGE_BACKEND_H
#define LAB_HOST_STORAGE_BACKEND_H

#include <stddef.h>
#include <uv.h>

#include "config.h"

enum sb_op { SB_PUT = 0, SB_GET, SB_EXISTS, SB_DELETE };

/* How a backend knows a stored body is encoded (for get). */
enum sb_encoding {
	SB_ENC_UNKNOWN = 0, /* sniff: gunzip when the body starts with the gzip magic */
	SB_ENC_IDENTITY,    /* return as is */
	SB_ENC_GZIP         /* gunzip; failure is LAB_EPARSE */
};

struct sb_req {
	/* in (read-only for the backend, valid until done) */
	enum sb_op op;
	const char *key;           /* already validated by storage_key_check() */
	const char *plugin;        /* for log records ("host" for the host) */
	const void *body;          /* put: the gzip bytes to store */
	size_t len;
	const char *content_type;  /* put: never NULL */
	const char *content_encoding; /* put: "gzip" */
	const char *cache_control; /* put: never NULL */
	unsigned flags;            /* put: LAB_PUT_* */

	/* out */
	int status;                /* 0, exists 1/0, or LAB_E* */
	void *data;                /* get: malloc'ed stored bytes (the front frees them) */
	size_t data_len;
	enum sb_encoding encoding; /* get */

	/* completion: called by the backend on the loop thread, exactly once */
	void (*done)(struct sb_req *req);
	void *priv;                /* backend's */
};

struct storage_backend;

struct storage_backend_ops {
	const char *name;
	int (*put)(struct storage_backend *b, struct sb_req *req);
	int (*get)(struct storage_backend *b, struct sb_req *req);
	int (*exists)(struct storage_backend *b, struct sb_req *req);
	int (*del)(struct storage_backend *b, struct sb_req *req);
	/* 0 ready; else LAB_E* and *reason (static or backend-owned, valid
	 * until the next call) says why. */
	int (*ready)(struct storage_backend *b, const char **reason);
	void (*close)(struct storage_backend *b);
};

/* Every backend embeds this first. */
struct storage_backend {
	const struct storage_backend_ops *ops;
	uv_loop_t *loop;
};

/* Backends.  Each returns 0 and a backend, or LAB_E* after logging why. */
int storage_fs_open(uv_loop_t *loop, const struct host_conf *hc, struct storage_backend **out);
int storage_s3_open(uv_loop_t *loop, const struct host_conf *hc, struct storage_backend **out);

/* ENDPOINT/BUCKET (path style) or scheme://BUCKET.HOST (virtual-hosted),
 * without a trailing '/', malloc'ed into *out.  0 or LAB_E* (logged).
 * Shared by the s3 backend and labctl-compare's bucket listing. */
int storage_s3_bucket_url(const char *endpoint, const char *bucket, int virtual_hosted,
			  char **out);

/* The top-level directory the fs backend keeps object headers under; it is
 * not a valid first key segment on any backend (so a tree stays syncable). */
#define STORAGE_META_DIR ".lab-meta"

#endif
