/* HTTP client on the libuv loop: libcurl's multi interface driven by
 * uv_poll (sockets) and a uv_timer (curl's timeout), the pattern of curl's
 * docs/examples/multi-uv.c.  Used by the ClickHouse client and the S3
 * storage backend; each creates its own `struct http` (own connection pool).
 *
 * Threading: loop thread only.  Callbacks run on the loop, never from
 * inside http_start().  Retry policy belongs to the caller (it knows which
 * answers are retryable); http_backoff_ms() gives the shared schedule.
 */
#ifndef LAB_HOST_HTTP_H
#define LAB_HOST_HTTP_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "buf.h"

struct http;
struct http_req;

struct http_request {
	const char *method;        /* "GET", "POST", "PUT", "HEAD", "DELETE" */
	const char *url;
	const char *const *headers; /* "Name: value" lines, copied by http_start */
	size_t nheaders;
	const void *body;          /* request body (POST/PUT); must stay valid until done */
	size_t body_len;
	const char *userpwd;       /* "user:password" (basic auth, or SigV4 keys), or NULL */
	const char *aws_sigv4;     /* CURLOPT_AWS_SIGV4 value ("aws:amz:REGION:s3"), or NULL */
	long timeout_ms;           /* whole transfer; 0 = none */
	long connect_timeout_ms;   /* 0 = curl's default */
	int accept_gzip;           /* ask for and transparently decode gzip responses */
	long recv_buffer;          /* bytes per socket read (CURLOPT_BUFFERSIZE); 0 = curl's 16 KiB */
};

/* Streaming body: called with each decoded chunk.  Return 0 to go on, a
 * negative LAB_E* to abort the transfer (done then gets that status).  When
 * NULL, the body is collected and handed to done. */
typedef int (*http_data_cb)(const char *data, size_t len, void *ud);

/* Response header line (without CRLF), e.g. "Content-Encoding: gzip";
 * optional.  Called for every header of every response (incl. redirects). */
typedef void (*http_header_cb)(const char *line, size_t len, void *ud);

/*
 * Completion, exactly once unless cancelled.  status: 0 when an HTTP answer
 * arrived (whatever its code — check `code`), or LAB_ETIMEDOUT / LAB_EIO
 * (connection failed, reset, ...) / LAB_ENOMEM / the data callback's error.
 * `body` is the collected body when no data callback was given (else
 * empty); `errmsg` is curl's message for transport errors, else NULL.  Both
 * are valid until the callback returns.
 */
typedef void (*http_done_cb)(int status, long code, const struct buf *body, const char *errmsg,
			     void *ud);

struct http_callbacks {
	http_data_cb on_data;     /* optional */
	http_header_cb on_header; /* optional */
	http_done_cb done;        /* required */
	void *ud;
};

/* 0 or LAB_ENOMEM / LAB_EIO (curl could not be initialised). */
int http_open(uv_loop_t *loop, const char *name, struct http **out);

/* Cancels every transfer still running (no callbacks) and closes the loop
 * handles; the caller keeps running the loop until they are closed. */
void http_close(struct http *h);

/* Starts one transfer.  0 and *out (may be NULL if not wanted), or LAB_E*. */
int http_start(struct http *h, const struct http_request *req, const struct http_callbacks *cb,
	       struct http_req **out);

/* Stops a transfer: its callbacks are never called. */
void http_cancel(struct http_req *r);

/* Transfers in flight (for tests and /readyz detail). */
size_t http_active(const struct http *h);

/* Retry delay for attempt n (1 = first retry): exponential from base_ms,
 * capped at max_ms, with "full jitter" (uniform in [d/2, d]) so clients that
 * failed together do not retry together. */
uint64_t http_backoff_ms(unsigned attempt, uint64_t base_ms, uint64_t max_ms);

/* URL-encodes s into b (RFC 3986 unreserved kept; '/' kept when keep_slash). */
int http_urlencode(struct buf *b, const char *s, size_t len, int keep_slash);

#endif
