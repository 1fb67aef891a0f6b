/* SSE and WebSocket streams of the public HTTP listener (httpd.h).
 * A fan-out sends one message to thousands of streams, so a message costs
 * one sendmsg() per stream and nothing else (docs/http.md, "Streams"):
 * lab_stream_send writes to the socket itself when nothing waits, keeps
 * the unsent rest in s->out and polls for UV_WRITABLE only then.
 * SSE: a close-delimited (not chunked) MHD response; its reader hands the
 * socket over the first time it finds nothing to send (MHD has written
 * the head and everything before, see sse_read) and the connection stays
 * suspended until the stream ends.  WebSocket: MHD's upgrade hands over
 * the socket; libwslay reads frames and sends control frames (ping, pong,
 * close); a data frame's header comes from wslay's frame writer
 * (ws_text_header) and is sent with the payload in one sendmsg(). */
#include "httpd_internal.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "log.h"
#include "metrics.h"

#define WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
#define SSE_BLOCK 1024 /* MHD's per-response block for the SSE reader */
#define CLOSE_GRACE_MS 2000 /* a closing stream's queued bytes get this long */

static const char *kind_name(int kind) { return kind == LAB_STREAM_SSE ? "sse" : "websocket"; }

/* ---------------------------------------------------------------- bookkeeping */

static int same_ip(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	if (a->ss_family != b->ss_family)
		return 0;
	if (a->ss_family == AF_INET)
		return ((const struct sockaddr_in *)a)->sin_addr.s_addr ==
		       ((const struct sockaddr_in *)b)->sin_addr.s_addr;
	if (a->ss_family == AF_INET6)
		return memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr,
			      &((const struct sockaddr_in6 *)b)->sin6_addr, 16) == 0;
	return 0;
}

static void stream_unlink(struct lab_stream *s)
{
	struct httpd *h = s->h;
	if (s->prev)
		s->prev->next = s->next;
	else if (h->streams == s)
		h->streams = s->next;
	if (s->next)
		s->next->prev = s->prev;
	s->prev = s->next = NULL;
}

/* on_close, once; the plugin's handle is invalid afterwards. */
static void report(struct lab_stream *s, int reason)
{
	if (s->reported)
		return;
	s->reported = 1;
	s->h->streams_ended++;
	metric_add(s->h->metrics, M_HTTP_STREAMS, -1, s->plugin, kind_name(s->kind));
	if (s->owner && s->on_close)
		s->on_close(s->owner, s, reason, s->ud);
	s->owner = NULL;
}

static void stream_destroy(struct lab_stream *s)
{
	buf_free(&s->out);
	free(s->extra);
	free(s);
}

static void stream_free(struct lab_stream *s)
{
	stream_unlink(s);
	stream_destroy(s);
}

/* A stream with a poll handle is freed once the handle has closed (it was
 * unlinked before: the httpd may be gone by then). */
static void stream_poll_closed(uv_handle_t *hd)
{
	stream_destroy(hd->data);
}

static void stream_release(struct lab_stream *s)
{
	if (s->polling) {
		s->polling = 0;
		stream_unlink(s); /* gone for sweeps and cancels already */
		uv_close((uv_handle_t *)&s->poll, stream_poll_closed);
	} else {
		stream_free(s);
	}
}

static int conn_fd(struct MHD_Connection *c)
{
	const union MHD_ConnectionInfo *ci =
		c ? MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD) : NULL;
	return ci ? ci->connect_fd : -1;
}

/* ---------------------------------------------------------------- direct output */

static size_t out_pending(const struct lab_stream *s) { return s->out.len - s->out_off; }

/* Start (or stop, mask 0) the stream's poll only when its events change:
 * every uv_poll_start costs an epoll_ctl on the next loop turn. */
static void poll_set(struct lab_stream *s, int mask, uv_poll_cb cb)
{
	if (!s->polling || mask == s->pmask)
		return;
	s->pmask = mask;
	if (!mask || uv_poll_start(&s->poll, mask, cb) != 0)
		uv_poll_stop(&s->poll);
}

/* Bytes the socket took (0: it is full), -1 when the connection failed. */
static ssize_t sock_sendv(int fd, struct iovec *iov, int n)
{
	struct msghdr mh = { .msg_iov = iov, .msg_iovlen = (size_t)n };
	for (;;) {
		ssize_t r = sendmsg(fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (r >= 0)
			return r;
		if (errno != EINTR)
			return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -1;
	}
}

/* Length of the server frame (unmasked) whose header starts at p. */
static size_t ws_frame_len(const unsigned char *p)
{
	size_t n = p[1] & 0x7f;
	if (n == 126)
		return 4 + ((size_t)p[2] << 8 | p[3]);
	if (n < 126)
		return 2 + n;
	n = 0;
	for (int i = 2; i < 10; i++)
		n = n << 8 | p[i];
	return 10 + n;
}

/* k bytes of s->out went out from out_off: where does the frame that is
 * now partly sent end?  Frames past the first are whole in the buffer. */
static void ws_advance(struct lab_stream *s, size_t k)
{
	if (k <= s->frame_left) {
		s->frame_left -= k;
		return;
	}
	size_t p = s->out_off + s->frame_left, end = s->out_off + k;
	while (p < end)
		p += ws_frame_len((const unsigned char *)s->out.data + p);
	s->frame_left = p - end;
}

/* Keep what the socket did not take of iov (from byte `sent` on). */
static int out_keep(struct lab_stream *s, const struct iovec *iov, int n, size_t sent)
{
	if (s->out_off > 4096 && s->out_off * 2 > s->out.len) { /* compact */
		memmove(s->out.data, s->out.data + s->out_off, out_pending(s));
		s->out.len -= s->out_off;
		s->out_off = 0;
	}
	for (int i = 0; i < n; i++) {
		if (sent >= iov[i].iov_len) {
			sent -= iov[i].iov_len;
			continue;
		}
		buf_append(&s->out, (const char *)iov[i].iov_base + sent, iov[i].iov_len - sent);
		sent = 0;
	}
	return s->out.oom ? LAB_ENOMEM : 0;
}

/* One message: sent now when `now` and nothing waits, else queued.  A
 * failed socket sets s->broken (the caller closes the stream later: no
 * plugin callback may run inside lab_stream_send). */
static int out_write(struct lab_stream *s, struct iovec *iov, int n, int now)
{
	size_t total = 0, sent = 0;
	for (int i = 0; i < n; i++)
		total += iov[i].iov_len;
	if (now && !out_pending(s)) {
		ssize_t r = sock_sendv(s->fd, iov, n);
		if (r < 0) {
			s->broken = 1;
			return 0;
		}
		sent = (size_t)r;
		if (sent == total)
			return 0;
		if (s->kind == LAB_STREAM_WEBSOCKET)
			s->frame_left = sent ? total - sent : 0;
	}
	return out_keep(s, iov, n, sent);
}

/* Send what waits in s->out: 0 (all sent, or the socket is full), -1 when
 * the connection failed.  A drained stream holds no buffer. */
static int out_flush(struct lab_stream *s)
{
	while (out_pending(s)) {
		struct iovec v = { s->out.data + s->out_off, out_pending(s) };
		ssize_t r = sock_sendv(s->fd, &v, 1);
		if (r < 0) {
			s->broken = 1;
			return -1;
		}
		if (r == 0)
			return 0;
		if (s->kind == LAB_STREAM_WEBSOCKET)
			ws_advance(s, (size_t)r);
		s->out_off += (size_t)r;
	}
	buf_free(&s->out);
	s->out_off = s->frame_left = 0;
	return 0;
}

/* ---------------------------------------------------------------- SSE */

static void sse_on_poll(uv_poll_t *p, int status, int events);

/* MHD takes the socket back (the stream is ending): it sends what is left
 * in s->out through the reader, then ends the response. */
static void sse_wake(struct lab_stream *s)
{
	s->direct = 0;
	if (s->pmask & UV_WRITABLE)
		poll_set(s, UV_DISCONNECT, sse_on_poll);
	if (s->sse_suspended && s->conn) {
		s->sse_suspended = 0;
		MHD_resume_connection(s->conn);
		mhd_uv_kick(s->h->drv);
	}
}

/* MHD calls the reader only once it has written the response head and the
 * whole previous block (connection.c 0.9.75: the head goes out before
 * HEADERS_SENT, try_ready_normal_body reads again only after the block
 * is sent), and an unchunked body adds no framing of MHD's own: when the
 * reader finds nothing to send, the socket is idle on MHD's side and stays
 * so while the connection is suspended.  From then on lab_stream_send
 * writes to it directly (sse_send). */
static ssize_t sse_read(void *cls, uint64_t pos, char *dst, size_t max)
{
	struct lab_stream *s = cls;
	(void)pos;
	size_t avail = out_pending(s);
	if (avail) {
		size_t n = avail < max ? avail : max;
		memcpy(dst, s->out.data + s->out_off, n);
		s->out_off += n;
		if (s->out_off == s->out.len) {
			buf_free(&s->out);
			s->out_off = 0;
		}
		return (ssize_t)n;
	}
	if (s->closing)
		return MHD_CONTENT_READER_END_OF_STREAM;
	MHD_suspend_connection(s->conn);
	s->sse_suspended = 1;
	s->direct = s->fd >= 0;
	return 0;
}

/* The client is gone (hangup, failed write): drop what waits, shut the
 * socket and resume; MHD's final write fails, it closes the connection and
 * the completed callback reports on_close(0).  No plugin callback here. */
static void sse_hangup(struct lab_stream *s)
{
	poll_set(s, 0, sse_on_poll);
	if (!s->closing) {
		s->closing = 1;
		s->reason = 0;
		s->close_deadline = uv_now(s->h->loop) + CLOSE_GRACE_MS;
	}
	buf_free(&s->out);
	s->out_off = 0;
	int fd = conn_fd(s->conn);
	if (fd >= 0)
		shutdown(fd, SHUT_RDWR);
	sse_wake(s);
}

/* Poll for the rest of a message only while one waits. */
static void sse_arm(struct lab_stream *s)
{
	if (s->direct)
		poll_set(s, UV_DISCONNECT | (out_pending(s) ? UV_WRITABLE : 0), sse_on_poll);
}

/* A suspended SSE connection is out of MHD's sight: without this watch a
 * client that went away is only noticed when a heartbeat write fails.  Only
 * hangup/error is asked for (UV_DISCONNECT), so bytes a client sends do not
 * wake the loop; UV_WRITABLE while a message waits. */
static void sse_on_poll(uv_poll_t *p, int status, int events)
{
	struct lab_stream *s = p->data;
	if (status < 0 || (events & UV_DISCONNECT) || s->broken) {
		sse_hangup(s);
		return;
	}
	if (s->direct && out_flush(s) < 0) {
		sse_hangup(s);
		return;
	}
	if (s->direct)
		sse_arm(s);
	else
		poll_set(s, UV_DISCONNECT, sse_on_poll);
}

static void sse_watch(struct lab_stream *s)
{
	int fd = conn_fd(s->conn);
	if (fd < 0 || uv_poll_init(s->h->loop, &s->poll, fd) != 0)
		return; /* MHD sends everything itself; the heartbeat finds a gone client */
	s->fd = fd;
	/* one message per write: do not let Nagle hold the next one back */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &(int){ 1 }, sizeof(int));
	s->poll.data = s;
	s->polling = 1;
	poll_set(s, UV_DISCONNECT, sse_on_poll);
}

void httpd_stream_req_done(struct lab_stream *s)
{
	if (s->kind == LAB_STREAM_WEBSOCKET && s->upgraded)
		return; /* the socket lives on without the request */
	s->ended = 1;
	s->conn = NULL;
	s->direct = 0;
	report(s, s->reason ? s->reason : (s->kind == LAB_STREAM_WEBSOCKET ? LAB_EIO : 0));
	stream_release(s); /* before MHD closes the socket: the poll handle stops now */
}

/* An event (or, data NULL, a heartbeat comment) in one write when the
 * socket is ours and nothing waits; else behind what waits. */
static int sse_send(struct lab_stream *s, const char *event, const char *id, const void *data,
		    size_t len)
{
	struct iovec iov[9];
	int n = 0;
#define IOV(p, l) (iov[n++] = (struct iovec){ (void *)(p), (l) })
	if (id) {
		IOV("id: ", 4);
		IOV(id, strlen(id));
		IOV("\n", 1);
	}
	if (event) {
		IOV("event: ", 7);
		IOV(event, strlen(event));
		IOV("\n", 1);
	}
	if (data) {
		IOV("data: ", 6);
		IOV(data, len);
		IOV("\n\n", 2);
	} else {
		IOV(": hb\n\n", 6);
	}
#undef IOV
	int rc = out_write(s, iov, n, s->direct);
	if (s->broken)
		sse_hangup(s);
	else if (s->direct)
		sse_arm(s);
	else
		sse_wake(s); /* no socket of ours (no poll handle): MHD sends it */
	return rc;
}

/* ---------------------------------------------------------------- WebSocket */

static ssize_t ws_recv(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, int flags,
		       void *ud)
{
	struct lab_stream *s = ud;
	(void)flags;
	if (s->extra_off < s->extra_len) {
		size_t n = s->extra_len - s->extra_off;
		n = n < len ? n : len;
		memcpy(buf, s->extra + s->extra_off, n);
		s->extra_off += n;
		return (ssize_t)n;
	}
	ssize_t n = recv(s->fd, buf, len, 0);
	if (n > 0)
		return n;
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
	else
		wslay_event_set_error(ctx, WSLAY_ERR_CALLBACK_FAILURE);
	return -1;
}

static ssize_t ws_send(wslay_event_context_ptr ctx, const uint8_t *data, size_t len, int flags,
		       void *ud)
{
	struct lab_stream *s = ud;
	(void)flags;
	ssize_t n = send(s->fd, data, len, MSG_NOSIGNAL);
	if (n >= 0)
		return n;
	if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
		wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
	else
		wslay_event_set_error(ctx, WSLAY_ERR_CALLBACK_FAILURE);
	return -1;
}

static int ws_genmask(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, void *ud)
{
	(void)ctx;
	(void)ud;
	memset(buf, 0, len); /* servers never mask */
	return 0;
}

static void ws_on_msg(wslay_event_context_ptr ctx, const struct wslay_event_on_msg_recv_arg *arg,
		      void *ud)
{
	struct lab_stream *s = ud;
	(void)ctx;
	if (arg->opcode != WSLAY_TEXT_FRAME && arg->opcode != WSLAY_BINARY_FRAME)
		return; /* ping (answered by wslay), pong, close (answered by wslay) */
	if (!s->closing && s->owner && s->on_msg)
		s->on_msg(s->owner, s, arg->msg, arg->msg_length, s->ud);
}

static const struct wslay_event_callbacks ws_callbacks = {
	.recv_callback = ws_recv,
	.send_callback = ws_send,
	.genmask_callback = ws_genmask,
	.on_msg_recv_callback = ws_on_msg,
};

/* The WebSocket is over: release wslay, hand the socket back to MHD to
 * close, report, free (after the poll handle closed). */
static void ws_finish(struct lab_stream *s)
{
	if (s->ws_freed)
		return;
	s->ws_freed = 1;
	if (s->req) {
		s->req->stream = NULL;
		s->req = NULL;
	}
	int reason = s->reason;
	if (s->ws) {
		uint16_t sent = wslay_event_get_status_code_sent(s->ws);
		if (!reason && (sent == WSLAY_CODE_PROTOCOL_ERROR || sent == WSLAY_CODE_MESSAGE_TOO_BIG ||
				sent == WSLAY_CODE_INVALID_FRAME_PAYLOAD_DATA))
			reason = LAB_EPARSE;
		wslay_event_context_free(s->ws);
		s->ws = NULL;
	}
	if (s->urh) {
		MHD_upgrade_action(s->urh, MHD_UPGRADE_ACTION_CLOSE);
		s->urh = NULL;
		if (!s->h->freeing)
			mhd_uv_kick(s->h->drv);
	}
	int fd = s->detached ? s->fd : -1;
	struct mhd_uv *drv = s->h->drv;
	report(s, reason);
	stream_release(s); /* the poll handle is out of epoll before the close */
	if (fd >= 0) {
		close(fd);
		mhd_uv_detached_end(drv);
	}
}

static void ws_on_poll(uv_poll_t *p, int status, int events);

/* Our frames and wslay's never interleave: wslay_event_send runs only when
 * none of ours is partly sent (s->out is sent first, and a direct write
 * either completes a frame or leaves its rest at the head of s->out), and
 * ours wait while wslay may be mid-frame (ws_busy: its last send left
 * something queued). */
static int ws_pump(struct lab_stream *s)
{
	for (;;) {
		if (!s->ws_busy && out_pending(s)) {
			if (out_flush(s) < 0)
				return -1;
			if (out_pending(s))
				return 0; /* socket full */
		}
		if (!wslay_event_want_write(s->ws)) {
			s->ws_busy = 0;
			return 0;
		}
		if (wslay_event_send(s->ws) != 0)
			return -1;
		s->ws_busy = wslay_event_want_write(s->ws);
		if (wslay_event_get_close_sent(s->ws)) {
			/* nothing may follow a close frame: ours queued behind it go */
			s->out.len = s->out_off + s->frame_left;
			s->ws_busy = 0;
			return 0;
		}
		if (s->ws_busy)
			return 0;
	}
}

/* Poll for what the stream needs now; never finishes it (callers may be
 * inside a plugin's call): a stream that is over is polled for
 * UV_WRITABLE and finished in ws_on_poll. */
static void ws_arm(struct lab_stream *s)
{
	if (!s->ws || s->ws_freed || !s->upgraded)
		return;
	int r = wslay_event_want_read(s->ws);
	int w = s->broken || s->ws_busy || out_pending(s) || wslay_event_want_write(s->ws);
	poll_set(s, (r ? UV_READABLE : 0) | (w || !r ? UV_WRITABLE : 0), ws_on_poll);
}

static void ws_update(struct lab_stream *s)
{
	if (!s->ws || s->ws_freed || !s->upgraded)
		return; /* before the upgrade: s->out waits for ws_upgraded */
	if (s->broken || (!wslay_event_want_read(s->ws) && !wslay_event_want_write(s->ws) &&
			  !out_pending(s))) {
		ws_finish(s);
		return;
	}
	ws_arm(s);
}

static void ws_on_poll(uv_poll_t *p, int status, int events)
{
	struct lab_stream *s = p->data;
	if (status < 0 || s->broken) {
		ws_finish(s);
		return;
	}
	if ((events & UV_READABLE) && wslay_event_recv(s->ws) != 0) {
		ws_finish(s);
		return;
	}
	if (s->ws_freed)
		return; /* a plugin callback closed it */
	/* also right after a read: a pong goes out in this turn */
	if (ws_pump(s) != 0) {
		ws_finish(s);
		return;
	}
	ws_update(s);
}

static void ws_upgraded(void *cls, struct MHD_Connection *c, void *req_cls, const char *extra_in,
			size_t extra_in_size, MHD_socket sock, struct MHD_UpgradeResponseHandle *urh)
{
	struct lab_stream *s = cls;
	(void)req_cls;
	s->upgraded = 1;
	s->urh = urh;
	s->fd = sock;
	s->conn = NULL;
	int fl = fcntl(sock, F_GETFL);
	if (fl >= 0)
		fcntl(sock, F_SETFL, fl | O_NONBLOCK);
	/* one message per write: do not let Nagle hold the next one back */
	setsockopt(sock, IPPROTO_TCP, TCP_NODELAY, &(int){ 1 }, sizeof(int));
	if (extra_in_size && (s->extra = malloc(extra_in_size))) {
		memcpy(s->extra, extra_in, extra_in_size);
		s->extra_len = extra_in_size;
	}
	/* MHD keeps an upgraded connection — its memory pool (http.max_header_bytes
	 * + 4 KiB, half of it dirty), the connection and the upgrade handle —
	 * until MHD_UPGRADE_ACTION_CLOSE.  The stream needs only the socket: it
	 * keeps a duplicate and lets MHD go now (MHD_USE_TURBO: MHD close()s its
	 * descriptor without shutdown(), the connection stays up on ours).
	 * mhd_uv still counts it against http.max_connections. */
	int dup_fd = fcntl(sock, F_DUPFD_CLOEXEC, 0);
	if (dup_fd >= 0) {
		s->fd = dup_fd;
		s->detached = 1;
		mhd_uv_detach(s->h->drv, c);
		MHD_upgrade_action(urh, MHD_UPGRADE_ACTION_CLOSE);
		s->urh = NULL;
		mhd_uv_kick(s->h->drv);
	}
	if (!s->ws) {
		ws_finish(s);
		return;
	}
	if (uv_poll_init(s->h->loop, &s->poll, s->fd) != 0) {
		ws_finish(s);
		return;
	}
	s->poll.data = s;
	s->polling = 1;
	if (s->extra_len && wslay_event_recv(s->ws) != 0) {
		ws_finish(s);
		return;
	}
	if (ws_pump(s) != 0) { /* what was sent before the upgrade */
		ws_finish(s);
		return;
	}
	ws_update(s);
}

/* wslay's frame writer hands over the header, then the payload; the
 * header is kept, the payload is left where it is (the caller sends it
 * from the plugin's buffer in the same sendmsg). */
static ssize_t ws_enc_capture(const uint8_t *data, size_t len, int flags, void *ud)
{
	struct ws_enc_hdr *w = ud;
	(void)flags;
	if (!w->got) {
		if (len > sizeof w->b)
			return -1;
		memcpy(w->b, data, len);
		w->len = len;
		w->got = 1;
	}
	return (ssize_t)len;
}

static int ws_genmask_none(uint8_t *buf, size_t len, void *ud)
{
	(void)ud;
	memset(buf, 0, len); /* never called: server frames are not masked */
	return 0;
}

/* The header of a final unmasked text frame of `len` bytes, from wslay. */
static int ws_text_header(struct httpd *h, const void *data, size_t len)
{
	static const struct wslay_frame_callbacks cb = { .send_callback = ws_enc_capture,
							 .genmask_callback = ws_genmask_none };
	if (!h->ws_enc && wslay_frame_context_init(&h->ws_enc, &cb, &h->ws_hdr) != 0) {
		h->ws_enc = NULL;
		return LAB_ENOMEM;
	}
	struct wslay_frame_iocb io = { .fin = 1, .opcode = WSLAY_TEXT_FRAME,
				       .payload_length = len, .data = data, .data_length = len };
	h->ws_hdr.got = 0;
	if (wslay_frame_send(h->ws_enc, &io) != (ssize_t)len || !h->ws_hdr.got)
		return LAB_EINVAL;
	return 0;
}

/* A data message: one text frame, written at once when the socket is ours,
 * nothing of ours waits and wslay is not mid-frame. */
static int ws_send_text(struct lab_stream *s, const void *data, size_t len)
{
	struct httpd *h = s->h;
	int rc = ws_text_header(h, data, len);
	if (rc < 0)
		return rc;
	struct iovec iov[2] = { { h->ws_hdr.b, h->ws_hdr.len }, { (void *)data, len } };
	rc = out_write(s, iov, len ? 2 : 1, s->upgraded && s->polling && !s->ws_busy);
	if (s->broken && !s->closing) {
		s->closing = 1; /* the client is gone: finished on the next turn */
		s->reason = 0;
		s->close_deadline = uv_now(s->h->loop);
	}
	ws_arm(s);
	return rc;
}

/* Sec-WebSocket-Accept for a checked key (RFC 6455 §4.2.2). */
static int ws_accept_key(const char *key, char out[32])
{
	unsigned char raw[32], dig[SHA_DIGEST_LENGTH];
	size_t klen = strlen(key);
	if (klen != 24 || EVP_DecodeBlock(raw, (const unsigned char *)key, 24) != 18)
		return -1; /* 16 bytes + padding */
	char cat[24 + sizeof WS_GUID];
	memcpy(cat, key, 24);
	memcpy(cat + 24, WS_GUID, sizeof WS_GUID);
	SHA1((const unsigned char *)cat, 24 + sizeof WS_GUID - 1, dig);
	EVP_EncodeBlock((unsigned char *)out, dig, SHA_DIGEST_LENGTH);
	return 0;
}

/* Comma-separated header value lists `token` (case-insensitive). */
static int has_token(const char *v, const char *token)
{
	size_t tl = strlen(token);
	while (v && *v) {
		while (*v == ' ' || *v == '\t' || *v == ',')
			v++;
		const char *e = v;
		while (*e && *e != ',')
			e++;
		const char *t = e;
		while (t > v && (t[-1] == ' ' || t[-1] == '\t'))
			t--;
		if ((size_t)(t - v) == tl && strncasecmp(v, token, tl) == 0)
			return 1;
		v = e;
	}
	return 0;
}

/* ---------------------------------------------------------------- open, send, close */

int httpd_stream_start(struct httpd_req *r, int kind, const char *const *headers,
		       lab_stream_msg_cb on_msg, lab_stream_close_cb on_close, void *ud,
		       lab_stream **out)
{
	struct httpd *h = r->h;
	struct MHD_Connection *c = r->conn;
	char accept[32];
	const char *why = NULL;
	unsigned status = 0;
	int rc = 0;
	for (const char *const *hl = headers; hl && *hl; hl++)
		if (!httpd_header_ok(*hl)) {
			why = "internal error";
			status = MHD_HTTP_INTERNAL_SERVER_ERROR;
			rc = LAB_EINVAL;
		}
	if (!rc && kind == LAB_STREAM_WEBSOCKET) {
		const char *key = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
							      "Sec-WebSocket-Key");
		const char *ver = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
							      "Sec-WebSocket-Version");
		if (strcmp(r->method, "GET") != 0 ||
		    !has_token(MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Upgrade"),
			       "websocket") ||
		    !has_token(MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Connection"),
			       "upgrade") ||
		    !ver || strcmp(ver, "13") != 0 || !key || ws_accept_key(key, accept) != 0) {
			why = "not a valid WebSocket upgrade request";
			status = MHD_HTTP_BAD_REQUEST;
			rc = LAB_EINVAL;
		}
	} else if (!rc && kind != LAB_STREAM_SSE) {
		why = "internal error";
		status = MHD_HTTP_INTERNAL_SERVER_ERROR;
		rc = LAB_EINVAL;
	}
	const struct sockaddr *peer = mhd_uv_client(c);
	struct sockaddr_storage ss = { 0 };
	if (peer)
		memcpy(&ss, peer, peer->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6)
							       : sizeof(struct sockaddr_in));
	if (!rc) {
		int64_t n = 0;
		for (struct lab_stream *o = h->streams; o; o = o->next)
			n += !o->closing && same_ip(&o->peer, &ss);
		if (n >= h->conf.max_streams_per_ip) {
			why = "too many streams from this address";
			status = MHD_HTTP_TOO_MANY_REQUESTS;
			rc = LAB_EBUSY;
			metric_add(h->metrics, M_HTTP_REJECTED, 1, "streams_per_ip");
		}
	}
	struct lab_stream *s = NULL;
	struct MHD_Response *resp = NULL;
	if (!rc && !(s = calloc(1, sizeof *s)))
		rc = LAB_ENOMEM;
	if (!rc) {
		s->h = h;
		s->owner = r->owner;
		s->plugin = r->plugin;
		s->kind = kind;
		s->on_msg = on_msg;
		s->on_close = on_close;
		s->ud = ud;
		s->peer = ss;
		s->fd = -1;
		if (kind == LAB_STREAM_SSE) {
			/* The block is calloc'ed with the response, per stream; MHD
			 * fills chunks from the connection's write buffer anyway. */
			resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, SSE_BLOCK, sse_read,
								 s, NULL);
			if (resp) {
				MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
							"text/event-stream");
				MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL,
							"no-cache");
				MHD_add_response_header(resp, "X-Accel-Buffering", "no");
				/* close-delimited, not chunked: once MHD has sent the
				 * head, the host writes events to the socket itself */
				MHD_set_response_options(resp, MHD_RF_HTTP_VERSION_1_0_ONLY,
							 MHD_RO_END);
			}
			status = MHD_HTTP_OK;
		} else if (wslay_event_context_server_init(&s->ws, &ws_callbacks, s) != 0) {
			s->ws = NULL; /* resp stays NULL: out of memory */
		} else {
			/* sends before the upgrade wait in wslay's queue */
			wslay_event_config_set_max_recv_msg_length(s->ws,
								   (uint64_t)h->conf.max_ws_message);
			resp = MHD_create_response_for_upgrade(ws_upgraded, s);
			if (resp) {
				MHD_add_response_header(resp, MHD_HTTP_HEADER_UPGRADE, "websocket");
				MHD_add_response_header(resp, "Sec-WebSocket-Accept", accept);
			}
			status = MHD_HTTP_SWITCHING_PROTOCOLS;
		}
		for (const char *const *hl = headers; resp && hl && *hl; hl++)
			httpd_add_header_line(resp, *hl);
		if (!resp) {
			if (s->ws)
				wslay_event_context_free(s->ws);
			free(s);
			s = NULL;
			rc = LAB_ENOMEM;
			why = "out of memory";
			status = MHD_HTTP_INTERNAL_SERVER_ERROR;
		}
	}
	if (rc) {
		resp = httpd_json_error(status, why);
	} else {
		s->next = h->streams;
		if (h->streams)
			h->streams->prev = s;
		h->streams = s;
		s->conn = c;
		s->req = r;
		r->stream = s;
		mhd_uv_hold(h->drv, c);
		if (kind == LAB_STREAM_SSE)
			sse_watch(s);
		metric_add(h->metrics, M_HTTP_STREAMS, 1, s->plugin, kind_name(kind));
		if (out)
			*out = s;
	}
	httpd_req_ready(r, resp, status);
	return rc;
}

int httpd_stream_send(lab_ctx *owner, lab_stream *s, const char *event, const char *id,
		      const void *data, size_t len)
{
	(void)owner;
	if (!s || (!data && len))
		return LAB_EINVAL;
	if (s->closing)
		return LAB_ESTATE;
	if (s->kind == LAB_STREAM_SSE &&
	    ((event && strpbrk(event, "\r\n")) || (id && strpbrk(id, "\r\n")) ||
	     memchr(data ? data : "", '\n', len) || memchr(data ? data : "", '\r', len)))
		return LAB_EINVAL;
	if (s->kind == LAB_STREAM_WEBSOCKET && s->ws &&
	    (wslay_event_get_close_received(s->ws) || wslay_event_get_close_sent(s->ws)))
		return LAB_ESTATE; /* nothing may follow a close frame */
	size_t queued = out_pending(s) + (s->ws ? wslay_event_get_queued_msg_length(s->ws) : 0);
	if (queued + len > (size_t)s->h->conf.stream_buffer) {
		log_msg(LAB_LOG_INFO, s->plugin, "http: %s client too slow (%zu bytes queued): dropped",
			kind_name(s->kind), queued);
		metric_add(s->h->metrics, M_HTTP_SLOW_DROPS, 1, s->plugin, kind_name(s->kind));
		s->closing = 1;
		s->reason = LAB_EBUSY;
		s->close_deadline = uv_now(s->h->loop) + CLOSE_GRACE_MS;
		if (s->kind == LAB_STREAM_SSE) {
			/* the client reads nothing: cut it now, do not wait for the buffer */
			buf_free(&s->out);
			s->out_off = 0;
			int fd = conn_fd(s->conn);
			if (fd >= 0)
				shutdown(fd, SHUT_RDWR);
			sse_wake(s);
		} else if (s->ws) {
			/* the close goes right after the frame in flight, not after
			 * everything queued: a client that reads again sees 1013 */
			s->out.len = s->out_off + s->frame_left;
			wslay_event_queue_close(s->ws, 1013, (const uint8_t *)"too slow", 8);
			ws_arm(s);
		}
		return LAB_EBUSY;
	}
	if (s->kind == LAB_STREAM_SSE)
		return sse_send(s, event, id, data ? data : "", len);
	return ws_send_text(s, data, len);
}

int httpd_stream_close(lab_ctx *owner, lab_stream *s, int code)
{
	(void)owner;
	if (!s)
		return LAB_EINVAL;
	if (s->closing)
		return LAB_ESTATE;
	s->closing = 1;
	s->reason = 0;
	s->close_deadline = uv_now(s->h->loop) + CLOSE_GRACE_MS;
	if (s->kind == LAB_STREAM_SSE) {
		sse_wake(s);
		return 0;
	}
	if (!(code == 1000 || code == 1003 || code == 1008 || code == 1011 ||
	      (code >= 3000 && code <= 4999)))
		code = 1000;
	if (s->ws) {
		wslay_event_queue_close(s->ws, (uint16_t)code, NULL, 0);
		ws_arm(s);
	}
	return 0;
}

void httpd_streams_sweep(struct httpd *h, int heartbeat)
{
	uint64_t now = uv_now(h->loop);
	struct lab_stream *s = h->streams, *next;
	for (; s; s = next) {
		next = s->next;
		if (s->closing) {
			if (now < s->close_deadline)
				continue;
			/* the client did not take its last bytes in time */
			if (s->kind == LAB_STREAM_WEBSOCKET) {
				if (s->upgraded)
					ws_finish(s); /* else the request's end frees it */
			} else {
				int fd = conn_fd(s->conn);
				if (fd >= 0)
					shutdown(fd, SHUT_RDWR);
				buf_free(&s->out);
				s->out_off = 0;
				sse_wake(s);
			}
			continue;
		}
		if (!heartbeat)
			continue;
		if (s->kind == LAB_STREAM_SSE) {
			if (out_pending(s) + 8 <= (size_t)h->conf.stream_buffer)
				sse_send(s, NULL, NULL, NULL, 0);
		} else if (s->ws && s->upgraded) {
			struct wslay_event_msg m = { WSLAY_PING, NULL, 0 };
			wslay_event_queue_msg(s->ws, &m);
			if (ws_pump(s) != 0)
				ws_finish(s);
			else
				ws_update(s);
		}
	}
}

void httpd_streams_cancel(struct httpd *h, lab_ctx *owner)
{
	struct lab_stream *s = h->streams, *next;
	for (; s; s = next) {
		next = s->next;
		if (owner && s->owner != owner)
			continue;
		report(s, LAB_ECANCELED);
		if (!s->closing) {
			s->closing = 1;
			s->reason = LAB_ECANCELED;
			s->close_deadline = uv_now(h->loop) + CLOSE_GRACE_MS;
		}
		if (s->kind == LAB_STREAM_SSE) {
			if (h->freeing) {
				int fd = conn_fd(s->conn);
				if (fd >= 0)
					shutdown(fd, SHUT_RDWR);
			}
			sse_wake(s);
		} else if (h->freeing) {
			ws_finish(s);
		} else if (s->ws) {
			wslay_event_queue_close(s->ws, 1001, NULL, 0);
			ws_arm(s);
		}
	}
}
