/* The admin HTTP endpoint (SPEC §4.4), served by libmicrohttpd driven from
 * the libuv loop (MHD's epoll fd watched with uv_poll, no extra thread), so
 * every handler runs on the loop thread. */
#ifndef LAB_HOST_ADMIN_H
#define LAB_HOST_ADMIN_H

#include <uv.h>

#include "buf.h"

/* What the admin server asks of the daemon.  Each fills `out` with a body
 * (JSON unless noted) and returns the HTTP status. */
struct admin_ops {
	int (*readyz)(void *ud, struct buf *out);
	int (*plugins)(void *ud, struct buf *out);
	/* action: "reload" | "enable" | "disable" | "run" */
	int (*plugin_action)(void *ud, const char *name, const char *action, struct buf *out);
	/* POST /plugins/NAME/reprocess and POST /publish/SUBJECT: the request
	 * body (at most ADMIN_BODY_MAX bytes, untrusted, not NUL-terminated;
	 * len 0 when there was none).  NAME matches [a-z0-9_]{1,64}; SUBJECT
	 * has only [A-Za-z0-9_.-] and at most 255 bytes (not checked further). */
	int (*reprocess)(void *ud, const char *name, const char *body, size_t len,
			 struct buf *out);
	int (*publish)(void *ud, const char *subject, const char *body, size_t len,
		       struct buf *out);
	/* GET /cluster/leases (docs/cluster.md); NULL = 501 */
	int (*leases)(void *ud, struct buf *out);
};

/* Largest request body (bytes); beyond it 413 or the connection is closed. */
#define ADMIN_BODY_MAX 4096

struct admin;
struct metrics;

/* listen: "HOST:PORT" (IPv4 or [IPv6], numeric; port 0 = any free port); the
 * caller skips admin_start() for "" (disabled).  token: "" = mutating requests
 * need no token.  Errors: LAB_ECONFIG (bad listen), LAB_EIO (cannot bind),
 * LAB_ENOMEM.  /metrics renders the registry metrics (NULL: only the
 * process metrics). */
/* Replaces the token mutating requests need (SIGHUP); "" or NULL: none.
 * Errors: LAB_ENOMEM (the old token stays). */
int admin_set_token(struct admin *a, const char *token);
int admin_start(uv_loop_t *loop, struct metrics *metrics, const char *listen, const char *token,
		const struct admin_ops *ops, void *ud, struct admin **out);
/* The bound port (useful with port 0). */
int admin_port(const struct admin *a);
/* Closes the listener and every connection; no admin callback or ops call
 * happens afterwards.  Safe from any loop callback, including an ops
 * handler.  The memory is released by the loop's close callbacks, so the
 * loop must run (uv_run) before uv_loop_close(). */
void admin_stop(struct admin *a);

#endif
