/* The public HTTP listener and the SDK 1.4 HTTP services (docs/http.md):
 * plugins register routes and answer requests or turn them into SSE or
 * WebSocket streams.  libmicrohttpd on the loop (mhd_uv.h), WebSocket
 * framing by libwslay.  One `struct httpd` per daemon, owned by it; the
 * route table exists even when the listener is off (routes are then never
 * called).
 *
 * Threading: loop thread only. */
#ifndef LAB_HOST_HTTPD_H
#define LAB_HOST_HTTPD_H

#include <stdint.h>
#include <uv.h>

#include "lab/plugin.h"

struct httpd;
struct metrics;

/* The settings group `http` (config.c validates the ranges). */
struct httpd_conf {
	const char *listen;          /* "" = no listener */
	int64_t max_connections;
	int64_t max_header_bytes;
	int64_t request_timeout_ms;  /* head complete / plugin answer */
	int64_t idle_timeout_ms;     /* keep-alive idle */
	int64_t max_streams_per_ip;
	int64_t stream_buffer;       /* bytes queued per stream */
	int64_t heartbeat_ms;
	int64_t max_ws_message;      /* bytes, incoming */
};

/* api: the table every lab_http_req points at (the host's).
 * Errors: LAB_ENOMEM. */
int httpd_new(uv_loop_t *loop, struct metrics *metrics, const lab_host_api *api,
	      struct httpd **out);
/* Starts the listener (conf->listen not empty).  Errors: LAB_ECONFIG,
 * LAB_EIO (cannot bind), LAB_ENOMEM. */
int httpd_listen(struct httpd *h, const struct httpd_conf *conf);
/* The bound port, -1 without a listener. */
int httpd_port(const struct httpd *h);
/* Closes the listener, every connection and stream (their owners must have
 * been stopped: httpd_owner_stop) and frees `h` once the loop has run the
 * close callbacks. */
void httpd_free(struct httpd *h);

/* The plugin services (hostapi.c); `owner` is the instance's ctx, `plugin`
 * its name (outlives the owner's routes). */
int httpd_route(struct httpd *h, lab_ctx *owner, const char *plugin, const char *method,
		const char *pattern, lab_http_cb cb, void *ud, lab_route **out);
const char *httpd_req_method(const lab_http_req *req);
const char *httpd_req_path(const lab_http_req *req);
const char *httpd_req_query(const lab_http_req *req, const char *name);
const char *httpd_req_header(const lab_http_req *req, const char *name);
int httpd_respond(lab_ctx *owner, lab_http_req *req, const lab_http_response *resp);
int httpd_stream_open(lab_ctx *owner, lab_http_req *req, int kind, const char *const *headers,
		      lab_stream_msg_cb on_msg, lab_stream_close_cb on_close, void *ud,
		      lab_stream **out);
int httpd_stream_send(lab_ctx *owner, lab_stream *s, const char *event, const char *id,
		      const void *data, size_t len);
int httpd_stream_close(lab_ctx *owner, lab_stream *s, int code);

/* The plugin stopped: its routes go, its unanswered requests get 503, its
 * streams are closed and their on_close runs now with LAB_ECANCELED. */
void httpd_owner_stop(struct httpd *h, lab_ctx *owner);

#endif
