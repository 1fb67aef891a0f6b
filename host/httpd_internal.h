/* Private to httpd.c and httpd_stream.c. */
#ifndef LAB_HOST_HTTPD_INTERNAL_H
#define LAB_HOST_HTTPD_INTERNAL_H

#include <microhttpd.h>
#include <sys/socket.h>
#include <wslay/wslay.h>

#include "buf.h"
#include "httpd.h"
#include "httpd_path.h"
#include "mhd_uv.h"

struct lab_route {
	struct lab_route *next;
	lab_ctx *owner;
	const char *plugin;
	char method[16];
	char *pattern;  /* as registered ("/a/b" or "/a/" + "*") */
	size_t plen;    /* its length without a trailing '*' */
	int prefix;     /* ends in '*' */
	lab_http_cb cb;
	void *ud;
};

enum req_state {
	RQ_NEW,     /* head (and body) being read */
	RQ_WAIT,    /* handed to the plugin, connection suspended */
	RQ_READY,   /* an answer is ready (resp), connection resumed */
	RQ_QUEUED   /* answer queued to MHD */
};

struct httpd_req {
	lab_http_req pub; /* first: the plugin's handle points here */
	struct httpd *h;
	struct httpd_req *prev, *next; /* h->pending while the plugin owes an answer */
	struct MHD_Connection *conn;   /* NULL once MHD is done with it */
	struct lab_route *route;
	lab_ctx *owner;
	const char *plugin;
	char *route_pattern; /* for metrics */
	char method[16];
	char *path;          /* decoded */
	uint64_t t0;         /* uv_hrtime at the head */
	enum req_state state;
	int plugin_done;     /* the plugin answered or can no longer */
	int mhd_done;        /* MHD's completed callback ran */
	int suspended;
	size_t body_seen;
	struct MHD_Response *resp;
	unsigned status;
	char **qvals;        /* decoded query values handed out, freed with the request */
	size_t nq;
	struct lab_stream *stream; /* an SSE stream riding on this request */
};

struct lab_stream {
	struct lab_stream *prev, *next; /* h->streams */
	struct httpd *h;
	lab_ctx *owner;                 /* NULL after httpd_owner_stop */
	const char *plugin;
	int kind;
	lab_stream_msg_cb on_msg;
	lab_stream_close_cb on_close;
	void *ud;
	struct sockaddr_storage peer;
	int closing;     /* no more sends; on_close pending or done */
	int reported;    /* on_close called */
	int reason;      /* for on_close */
	uint64_t close_deadline; /* loop ms: force the socket shut after it */
	/* Direct output (both kinds): lab_stream_send writes to `fd` itself;
	 * `out` holds only what the socket did not take at once. */
	int pmask;       /* events `poll` is started with (0: stopped) */
	int broken;      /* a write failed: the client is gone */
	/* SSE */
	struct MHD_Connection *conn;
	struct httpd_req *req;
	struct buf out;
	size_t out_off;
	int sse_suspended;
	int direct;      /* MHD sent headers and all it had: the socket is ours */
	int ended;       /* MHD finished the response */
	/* WebSocket */
	struct MHD_UpgradeResponseHandle *urh;
	int fd;
	uv_poll_t poll;
	int polling;
	wslay_event_context_ptr ws;
	char *extra;     /* bytes MHD read past the request head */
	size_t extra_len, extra_off;
	int ws_freed;
	int upgraded;    /* MHD handed the socket over */
	int detached;    /* fd is our duplicate; MHD has let go (closed by ws_finish) */
	int ws_busy;     /* wslay may be mid-frame: our frames wait for it */
	size_t frame_left; /* bytes of our partly sent frame left at out_off */
};

struct httpd {
	uv_loop_t *loop;
	struct metrics *metrics;
	const lab_host_api *api;
	struct httpd_conf conf;
	char *listen;
	struct mhd_uv *drv;
	struct lab_route *routes;
	struct httpd_req *pending;
	struct lab_stream *streams;
	uv_timer_t sweep;
	uint64_t last_heartbeat;
	int sweeping;
	unsigned streams_ended; /* since the last heap trim */
	int freeing;
	/* wslay's frame writer, used only to produce the header of the data
	 * frames the host sends itself (httpd_stream.c, ws_send_text) */
	wslay_frame_context_ptr ws_enc;
	struct ws_enc_hdr {
		uint8_t b[14]; /* RFC 6455 §5.2: at most 14 bytes */
		size_t len;
		int got;
	} ws_hdr;
};

/* httpd.c */
enum MHD_Result httpd_queue_error(struct MHD_Connection *c, unsigned status, const char *msg,
				  const char *hname, const char *hval);
void httpd_req_answered(struct httpd_req *r);
/* {"error":{"code":N,"message":MSG}} as a response (NULL: out of memory). */
struct MHD_Response *httpd_json_error(unsigned status, const char *msg);
/* `resp` is r's answer: queued on MHD's next call for r (resumes it). */
void httpd_req_ready(struct httpd_req *r, struct MHD_Response *resp, unsigned status);
int httpd_header_ok(const char *line);
int httpd_add_header_line(struct MHD_Response *resp, const char *line);

/* httpd_stream.c */
int httpd_stream_start(struct httpd_req *r, int kind, const char *const *headers,
		       lab_stream_msg_cb on_msg, lab_stream_close_cb on_close, void *ud,
		       lab_stream **out);
/* MHD completed the request `s` rode on: an SSE stream has ended; a
 * WebSocket that never got its socket is gone. */
void httpd_stream_req_done(struct lab_stream *s);
/* Heartbeats and forced closes, from the sweep timer. */
void httpd_streams_sweep(struct httpd *h, int heartbeat);
/* Close every stream of `owner` (NULL: all) with on_close(LAB_ECANCELED) now. */
void httpd_streams_cancel(struct httpd *h, lab_ctx *owner);

#endif
