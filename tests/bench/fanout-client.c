/* fanout-client: the live-update load client of the fan-out benchmark
 * (issue 16, tests/bench/api-fanout.sh), a C twin of `fanout.py clients`.
 *
 *   fanout-client --base http://127.0.0.1:PORT --ws N --sse N
 *                 [--ws-path /api/v1/live] [--ws-subscribe JSON]
 *                 [--sse-path /api/v1/events?topics=*] [--origin URL]
 *                 [--ramp N] --out FILE
 *
 * Opens N WebSocket and N SSE connections (non-blocking connects, at most
 * --ramp (64) in flight: the server's listen backlog), prints "connected N"
 * once every client has its stream open or has failed, then reads until
 * SIGTERM or SIGINT; then closes every client (WebSocket close 1000) and
 * writes fanout.py's JSON (`fanout.py report` merges both kinds of files)
 * plus its own checks, and prints its CPU time per received message.
 *
 * WebSocket: handshake with a random Sec-WebSocket-Key, Sec-WebSocket-Accept
 * checked (OpenSSL SHA-1 + base64); frames parsed, the subscribe message
 * masked and pings answered by libwslay's client event API.
 * SSE: GET with Accept: text/event-stream; the body may be chunked or
 * close-delimited (HTTP/1.0 style); lines end in LF, CRLF or CR; id:,
 * event:, data: fields and comments (heartbeats) per the EventSource rules.
 *
 * Latency = receipt time (CLOCK_REALTIME when the bytes were read) minus the
 * message's "t_pub" (µs since the epoch, set by `fanout.py publish`), kept
 * in fixed histograms: 1 µs buckets below 100 ms, 100 µs buckets (the ones
 * fanout.py writes) up to 10 s, later ones in the last bucket.  Self-checks,
 * so a broken client cannot report good figures: negative latencies,
 * absurd ones (> 1 h: a wrong field or clock), and per client the
 * publisher's "seq" must run 1, 2, 3... (a gap, repeat or reordering is a
 * seq error).  Single-threaded epoll; run several processes for more cores.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <wslay/wslay.h>

#define FINE_US 100000      /* 1 µs buckets below this (100 ms) */
#define BUCKET_US 100       /* fanout.py's resolution */
#define BUCKETS 100000      /* 10 s of 100 µs buckets; later ones in the last */
#define ABSURD_US 3600000000LL
#define HEAD_MAX 8192
#define LINE_MAX_SSE (1 << 22)
#define HANDSHAKE_S 30

enum kind { WS, SSE };
enum state { ST_NEW, ST_CONNECTING, ST_HEAD, ST_OPEN, ST_DONE };

struct conn {
	int fd;
	uint8_t kind, state;
	uint8_t drained;    /* the last recv() was short: the socket is empty */
	uint8_t eof;        /* the peer closed (or reset) the socket */
	uint8_t chunked;    /* SSE: Transfer-Encoding: chunked */
	uint8_t cr;         /* SSE: the last line ended in CR (skip a following LF) */
	uint8_t opened;     /* reached ST_OPEN (counted as connected) */
	uint8_t ev_data, ev_tpub, ev_comment, ev_id; /* SSE: the event being read */
	uint8_t csz_len;    /* SSE: bytes of a chunk size line in csz */
	char csz[24];
	int64_t ev_t, ev_seq;
	int64_t chunk_left; /* > 0: data bytes left; 0: a size line next; -2, -1: the CRLF after data */
	int64_t t_recv;     /* µs, when the bytes being handled were read */
	int64_t last_seq;
	uint64_t count;     /* messages with t_pub */
	char *in;           /* head bytes, then carry-over (partial line, leftover for wslay) */
	size_t in_len, in_off, in_cap;
	char key[32];       /* WebSocket: Sec-WebSocket-Key */
	time_t started;
	wslay_event_context_ptr ws;
};

static struct {
	const char *host, *port, *ws_path, *ws_sub, *sse_path, *origin, *out;
	int n_ws, n_sse, ramp;
} opt = { "127.0.0.1", "80", "/api/v1/live", "{\"subscribe\":[\"*\"]}", "/api/v1/events?topics=*", NULL, NULL,
	  0, 0, 64 };

static struct {
	uint64_t fine[FINE_US];
	uint64_t hist[BUCKETS + 1];
	uint64_t msgs[2], other[2], heartbeats[2], ended[2], connected;
	uint64_t negative, absurd, seq_errors, sse_no_id;
	int64_t max_us;
	uint64_t n_errors;
	char errors[20][160];
} st;

static struct conn *conns;
static int n_conns, ep, stopping;
static struct sockaddr_storage addr;
static socklen_t addr_len;
static char *ws_req_fmt, *sse_req;
static size_t sse_req_len;
static char rbuf[1 << 16];

static int64_t now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* CPU seconds of this process, user + system; *sys: the system part. */
static double cpu_s(double *sys)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	if (sys)
		*sys = ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
	return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

static void error(const char *fmt, ...)
{
	if (st.n_errors < 20) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(st.errors[st.n_errors], sizeof st.errors[0], fmt, ap);
		va_end(ap);
	}
	st.n_errors++;
}

/* ---------------------------------------------------------------- messages */

/* The integer after KEY, optionally as \"KEY\" (a JSON string holding
 * JSON), like fanout.py's regex t_pub\\?"\s*:\s*(\d+).  0: not found. */
static int find_int(const char *p, size_t n, const char *key, size_t klen, int64_t *v)
{
	const char *end = p + n;
	while (p < end) {
		const char *k = memmem(p, (size_t)(end - p), key, klen);
		if (!k)
			return 0;
		const char *q = k + klen;
		p = q;
		if (q < end && *q == '\\')
			q++;
		if (q >= end || *q != '"')
			continue;
		q++;
		while (q < end && (*q == ' ' || *q == '\t'))
			q++;
		if (q >= end || *q != ':')
			continue;
		q++;
		while (q < end && (*q == ' ' || *q == '\t'))
			q++;
		if (q >= end || *q < '0' || *q > '9')
			continue;
		int64_t x = 0;
		while (q < end && *q >= '0' && *q <= '9' && x < INT64_MAX / 10)
			x = x * 10 + (*q++ - '0');
		*v = x;
		return 1;
	}
	return 0;
}

static void record(struct conn *c, int64_t t_pub, int64_t seq)
{
	int64_t lat = c->t_recv - t_pub;
	if (lat < 0) {
		st.negative++;
		lat = 0;
	} else if (lat > ABSURD_US) {
		st.absurd++;
	}
	if (lat > st.max_us)
		st.max_us = lat;
	if (lat < FINE_US)
		st.fine[lat]++;
	int64_t b = lat / BUCKET_US;
	st.hist[b < BUCKETS ? b : BUCKETS]++;
	if (seq != c->last_seq + 1)
		st.seq_errors++;
	c->last_seq = seq;
	st.msgs[c->kind]++;
	c->count++;
}

/* ---------------------------------------------------------------- connections */

static void end_conn(struct conn *c, int early)
{
	if (c->state == ST_DONE)
		return;
	if (c->state == ST_OPEN && early && !stopping)
		st.ended[c->kind]++;
	if (c->ws)
		wslay_event_context_free(c->ws);
	c->ws = NULL;
	if (c->fd >= 0)
		close(c->fd); /* also leaves the epoll set */
	c->fd = -1;
	c->state = ST_DONE;
	free(c->in);
	c->in = NULL;
	c->in_len = c->in_off = c->in_cap = 0;
}

static int in_append(struct conn *c, const char *p, size_t n)
{
	if (c->in_len + n > c->in_cap) {
		size_t cap = c->in_cap ? c->in_cap : 256;
		while (cap < c->in_len + n)
			cap *= 2;
		char *q = realloc(c->in, cap);
		if (!q)
			return -1;
		c->in = q;
		c->in_cap = cap;
	}
	memcpy(c->in + c->in_len, p, n);
	c->in_len += n;
	return 0;
}

static void want_out(struct conn *c, int on)
{
	struct epoll_event e = { .events = EPOLLIN | (on ? EPOLLOUT : 0), .data.ptr = c };
	epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &e);
}

/* ---------------------------------------------------------------- WebSocket */

static ssize_t ws_recv(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, int flags, void *ud)
{
	struct conn *c = ud;
	(void)flags;
	if (c->in_off < c->in_len) { /* bytes that came with the 101 head */
		size_t n = c->in_len - c->in_off < len ? c->in_len - c->in_off : len;
		memcpy(buf, c->in + c->in_off, n);
		c->in_off += n;
		return (ssize_t)n;
	}
	if (c->drained) { /* saves the recv() that would return EAGAIN */
		wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
		return -1;
	}
	ssize_t n = recv(c->fd, buf, len, 0);
	if (n > 0) {
		c->t_recv = now_us();
		if ((size_t)n < len)
			c->drained = 1;
		return n;
	}
	if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
		wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
		return -1;
	}
	c->eof = 1;
	wslay_event_set_error(ctx, WSLAY_ERR_CALLBACK_FAILURE);
	return -1;
}

static ssize_t ws_send(wslay_event_context_ptr ctx, const uint8_t *data, size_t len, int flags, void *ud)
{
	struct conn *c = ud;
	(void)flags;
	ssize_t n = send(c->fd, data, len, MSG_NOSIGNAL);
	if (n >= 0)
		return n;
	wslay_event_set_error(ctx, errno == EAGAIN || errno == EINTR ? WSLAY_ERR_WOULDBLOCK : WSLAY_ERR_CALLBACK_FAILURE);
	return -1;
}

static int ws_genmask(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, void *ud)
{
	(void)ctx;
	(void)ud;
	return RAND_bytes(buf, (int)len) == 1 ? 0 : -1;
}

static void ws_on_msg(wslay_event_context_ptr ctx, const struct wslay_event_on_msg_recv_arg *arg, void *ud)
{
	struct conn *c = ud;
	(void)ctx;
	if (arg->opcode == WSLAY_PING) {
		st.heartbeats[WS]++; /* wslay queues the pong */
		return;
	}
	if (arg->opcode != WSLAY_TEXT_FRAME && arg->opcode != WSLAY_BINARY_FRAME)
		return;
	int64_t t, seq = 0;
	if (find_int((const char *)arg->msg, arg->msg_length, "t_pub", 5, &t)) {
		find_int((const char *)arg->msg, arg->msg_length, "seq", 3, &seq);
		record(c, t, seq);
	} else {
		st.other[WS]++;
	}
}

static const struct wslay_event_callbacks ws_cbs = {
	.recv_callback = ws_recv, .send_callback = ws_send, .genmask_callback = ws_genmask,
	.on_msg_recv_callback = ws_on_msg,
};

static void ws_flush(struct conn *c)
{
	if (wslay_event_send(c->ws) != 0) {
		if (!stopping)
			error("ws: send failed");
		end_conn(c, 1);
		return;
	}
	want_out(c, wslay_event_want_write(c->ws));
}

static void ws_read(struct conn *c)
{
	c->drained = 0;
	int r = wslay_event_recv(c->ws);
	if (r != 0 || c->eof) {
		if (!c->eof && !stopping)
			error("ws: wslay_event_recv %d", r);
		end_conn(c, 1);
		return;
	}
	if (!wslay_event_get_read_enabled(c->ws)) { /* close frame or protocol error */
		if (!wslay_event_get_close_received(c->ws) && !stopping)
			error("ws: bad frame from the server");
		wslay_event_send(c->ws); /* the close answer, best effort */
		end_conn(c, 1);
		return;
	}
	if (wslay_event_want_write(c->ws))
		ws_flush(c);
}

/* ---------------------------------------------------------------- HTTP head */

/* The value of header NAME in the head (NUL-terminated), or NULL. */
static const char *header(const char *head, const char *name, size_t *vlen)
{
	size_t nl = strlen(name);
	for (const char *l = strstr(head, "\r\n"); l; l = strstr(l, "\r\n")) {
		l += 2;
		if (strncasecmp(l, name, nl) == 0 && l[nl] == ':') {
			const char *v = l + nl + 1;
			while (*v == ' ' || *v == '\t')
				v++;
			const char *e = strstr(v, "\r\n");
			size_t n = e ? (size_t)(e - v) : strlen(v);
			while (n && (v[n - 1] == ' ' || v[n - 1] == '\t'))
				n--;
			*vlen = n;
			return v;
		}
	}
	return NULL;
}

static int has_token(const char *v, size_t n, const char *tok)
{
	size_t tl = strlen(tok);
	for (size_t i = 0; i + tl <= n; i++)
		if (strncasecmp(v + i, tok, tl) == 0 && (i == 0 || v[i - 1] == ',' || v[i - 1] == ' ') &&
		    (i + tl == n || v[i + tl] == ',' || v[i + tl] == ' '))
			return 1;
	return 0;
}

static void ws_accept_for(const char *key, char out[32])
{
	static const char guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
	char in[64];
	unsigned char md[SHA_DIGEST_LENGTH];
	int n = snprintf(in, sizeof in, "%s%s", key, guid);
	SHA1((const unsigned char *)in, (size_t)n, md);
	EVP_EncodeBlock((unsigned char *)out, md, SHA_DIGEST_LENGTH);
}

static void ready(struct conn *c);
static void sse_body(struct conn *c, const char *p, size_t n);

/* The head is complete at c->in[0..hl) (hl includes the blank line). */
static void on_head(struct conn *c, size_t hl)
{
	char head[HEAD_MAX + 1];
	memcpy(head, c->in, hl);
	head[hl] = 0;
	char *eol = strstr(head, "\r\n");
	int status = 0;
	if (strncmp(head, "HTTP/1.", 7) != 0 || sscanf(head + 8, " %d", &status) != 1) {
		error("%s: bad status line", c->kind == WS ? "ws" : "sse");
		end_conn(c, 0);
		return;
	}
	size_t vl;
	const char *v;
	if (c->kind == WS) {
		char want[32];
		ws_accept_for(c->key, want);
		if (status != 101) {
			if (eol)
				*eol = 0;
			error("ws: %s", head);
		} else if (!(v = header(head, "upgrade", &vl)) || !has_token(v, vl, "websocket") ||
			   !(v = header(head, "connection", &vl)) || !has_token(v, vl, "upgrade")) {
			error("ws: 101 without Upgrade: websocket / Connection: upgrade");
		} else if (!(v = header(head, "sec-websocket-accept", &vl)) || vl != strlen(want) ||
			   memcmp(v, want, vl) != 0) {
			error("ws: wrong Sec-WebSocket-Accept");
		} else if (wslay_event_context_client_init(&c->ws, &ws_cbs, c) != 0) {
			error("ws: wslay_event_context_client_init failed");
		} else {
			wslay_event_config_set_max_recv_msg_length(c->ws, 1 << 22);
			c->in_off = hl; /* frames that came with the head: ws_recv serves them first */
			struct wslay_event_msg m = { WSLAY_TEXT_FRAME, (const uint8_t *)opt.ws_sub, strlen(opt.ws_sub) };
			if (opt.ws_sub[0] && wslay_event_queue_msg(c->ws, &m) != 0) {
				error("ws: cannot queue the subscribe message");
				end_conn(c, 0);
				return;
			}
			ready(c);
			ws_flush(c);
			if (c->state == ST_OPEN && c->in_off < c->in_len)
				ws_read(c);
			return;
		}
		end_conn(c, 0);
		return;
	}
	if (status != 200) {
		if (eol)
			*eol = 0;
		error("sse: %s", head);
		end_conn(c, 0);
		return;
	}
	if (!(v = header(head, "content-type", &vl)) || vl < 17 || strncasecmp(v, "text/event-stream", 17) != 0) {
		error("sse: not text/event-stream");
		end_conn(c, 0);
		return;
	}
	c->chunked = (v = header(head, "transfer-encoding", &vl)) && has_token(v, vl, "chunked");
	size_t rest = c->in_len - hl;
	char *body = NULL;
	if (rest) {
		body = malloc(rest);
		if (!body) {
			error("sse: out of memory");
			end_conn(c, 0);
			return;
		}
		memcpy(body, c->in + hl, rest);
	}
	c->in_len = 0; /* from now on the carry-over of a partial line or chunk size line */
	ready(c);
	if (body) {
		sse_body(c, body, rest);
		free(body);
	}
}

/* ---------------------------------------------------------------- SSE */

static void sse_field(struct conn *c, const char *l, size_t n)
{
	if (n == 0) { /* blank line: dispatch */
		if (c->ev_data) {
			if (c->ev_tpub) {
				if (!c->ev_id)
					st.sse_no_id++;
				record(c, c->ev_t, c->ev_seq);
			} else {
				st.other[SSE]++;
			}
		} else if (c->ev_comment) {
			st.heartbeats[SSE]++;
		}
		c->ev_data = c->ev_tpub = c->ev_comment = c->ev_id = 0;
		return;
	}
	if (l[0] == ':') {
		c->ev_comment = 1;
		return;
	}
	const char *colon = memchr(l, ':', n);
	size_t fl = colon ? (size_t)(colon - l) : n;
	const char *v = colon ? colon + 1 : l + n;
	if (v < l + n && *v == ' ')
		v++;
	size_t vl = (size_t)(l + n - v);
	if (fl == 4 && memcmp(l, "data", 4) == 0) {
		/* An event's data may span several data: lines (joined by LF):
		 * the two fields are looked for in each. */
		if (!c->ev_data)
			c->ev_seq = 0;
		c->ev_data = 1;
		if (!c->ev_tpub && find_int(v, vl, "t_pub", 5, &c->ev_t))
			c->ev_tpub = 1;
		if (!c->ev_seq)
			find_int(v, vl, "seq", 3, &c->ev_seq);
	} else if (fl == 2 && memcmp(l, "id", 2) == 0) {
		c->ev_id = 1;
	}
	/* "event" (the type) and "retry" need no action here. */
}

/* Body bytes (dechunked): split into lines, a partial line carried over. */
static void sse_lines(struct conn *c, const char *p, size_t n)
{
	const char *end = p + n;
	if (c->cr && p < end && *p == '\n')
		p++;
	c->cr = 0;
	while (p < end) {
		const char *e = p;
		while (e < end && *e != '\n' && *e != '\r')
			e++;
		if (e == end) {
			if (c->in_len + (size_t)(e - p) > LINE_MAX_SSE || in_append(c, p, (size_t)(e - p)) != 0) {
				error("sse: line too long");
				end_conn(c, 1);
			}
			return;
		}
		if (c->in_len) {
			if (in_append(c, p, (size_t)(e - p)) != 0) {
				error("sse: out of memory");
				end_conn(c, 1);
				return;
			}
			sse_field(c, c->in, c->in_len);
			c->in_len = 0;
		} else {
			sse_field(c, p, (size_t)(e - p));
		}
		if (*e == '\r') {
			if (e + 1 == end) {
				c->cr = 1;
				return;
			}
			if (e[1] == '\n')
				e++;
		}
		p = e + 1;
	}
}

/* Response body bytes: through the chunked decoder when chunked. */
static void sse_body(struct conn *c, const char *p, size_t n)
{
	if (!c->chunked) {
		sse_lines(c, p, n);
		return;
	}
	const char *end = p + n;
	while (p < end && c->state == ST_OPEN) {
		if (c->chunk_left > 0) {
			size_t take = (size_t)(end - p) < (uint64_t)c->chunk_left ? (size_t)(end - p) : (size_t)c->chunk_left;
			sse_lines(c, p, take);
			p += take;
			c->chunk_left -= (int64_t)take;
			if (c->chunk_left == 0)
				c->chunk_left = -2; /* the CRLF after the data */
			continue;
		}
		if (c->chunk_left < 0) { /* -2, -1: CR and LF still to skip */
			if (*p != (c->chunk_left == -2 ? '\r' : '\n')) {
				error("sse: bad chunk end");
				end_conn(c, 1);
				return;
			}
			p++;
			c->chunk_left++;
			continue;
		}
		/* The size line (a few bytes), kept apart from SSE's line carry-over. */
		const char *e = memchr(p, '\n', (size_t)(end - p));
		size_t take = e ? (size_t)(e - p + 1) : (size_t)(end - p);
		if (c->csz_len + take >= sizeof c->csz) {
			error("sse: bad chunk size line");
			end_conn(c, 1);
			return;
		}
		memcpy(c->csz + c->csz_len, p, take);
		c->csz_len = (uint8_t)(c->csz_len + take);
		p += take;
		if (!e)
			return;
		char *q;
		c->csz[c->csz_len] = 0;
		c->csz_len = 0;
		unsigned long long size = strtoull(c->csz, &q, 16);
		if (q == c->csz || (*q != '\r' && *q != ';' && *q != '\n')) {
			error("sse: bad chunk size");
			end_conn(c, 1);
			return;
		}
		if (size == 0) { /* the last chunk: the server ended the stream */
			end_conn(c, 1);
			return;
		}
		c->chunk_left = (int64_t)size;
	}
}

static void sse_read(struct conn *c)
{
	for (;;) {
		ssize_t n = recv(c->fd, rbuf, sizeof rbuf, 0);
		if (n > 0) {
			c->t_recv = now_us();
			sse_body(c, rbuf, (size_t)n);
			if ((size_t)n < sizeof rbuf || c->state != ST_OPEN)
				return;
			continue;
		}
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		end_conn(c, 1); /* EOF ends a close-delimited body: early unless stopping */
		return;
	}
}

/* ---------------------------------------------------------------- connecting */

static int pending, in_flight, next_new;
static double cpu_connected, sys_connected;

static void start_next(void);

static void settled(void)
{
	if (--pending == 0) {
		cpu_connected = cpu_s(&sys_connected);
		printf("connected %llu\n", (unsigned long long)st.connected);
		fflush(stdout);
	}
}

static void ready(struct conn *c)
{
	c->state = ST_OPEN;
	c->opened = 1;
	st.connected++;
	in_flight--;
	settled();
	start_next();
}

static void failed(struct conn *c)
{
	(void)c;
	in_flight--;
	settled();
	start_next();
}

static void start_one(struct conn *c)
{
	c->fd = socket(addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	c->started = time(NULL);
	in_flight++;
	if (c->fd < 0) {
		error("%s socket: %s", c->kind == WS ? "ws" : "sse", strerror(errno));
		c->state = ST_DONE;
		failed(c);
		return;
	}
	int one = 1;
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	c->state = ST_CONNECTING;
	if (connect(c->fd, (struct sockaddr *)&addr, addr_len) != 0 && errno != EINPROGRESS) {
		error("%s connect: %s", c->kind == WS ? "ws" : "sse", strerror(errno));
		end_conn(c, 0);
		failed(c);
		return;
	}
	struct epoll_event e = { .events = EPOLLOUT, .data.ptr = c };
	epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &e);
}

static void start_next(void)
{
	while (in_flight < opt.ramp && next_new < n_conns)
		start_one(&conns[next_new++]);
}

static void send_request(struct conn *c)
{
	int err = 0;
	socklen_t el = sizeof err;
	getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &el);
	if (err) {
		error("%s connect: %s", c->kind == WS ? "ws" : "sse", strerror(err));
		end_conn(c, 0);
		failed(c);
		return;
	}
	char req[2048];
	const char *p = sse_req;
	size_t n = sse_req_len;
	if (c->kind == WS) {
		unsigned char raw[16];
		RAND_bytes(raw, sizeof raw);
		EVP_EncodeBlock((unsigned char *)c->key, raw, sizeof raw);
		int k = snprintf(req, sizeof req, ws_req_fmt, c->key);
		p = req;
		n = (size_t)k;
	}
	/* A fresh socket's send buffer takes a request of a few hundred bytes. */
	if (send(c->fd, p, n, MSG_NOSIGNAL) != (ssize_t)n) {
		error("%s send: %s", c->kind == WS ? "ws" : "sse", strerror(errno));
		end_conn(c, 0);
		failed(c);
		return;
	}
	c->state = ST_HEAD;
	struct epoll_event e = { .events = EPOLLIN, .data.ptr = c };
	epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &e);
}

static void head_read(struct conn *c)
{
	ssize_t n = recv(c->fd, rbuf, sizeof rbuf, 0);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		error("%s: connection closed before the response head", c->kind == WS ? "ws" : "sse");
		end_conn(c, 0);
		failed(c);
		return;
	}
	c->t_recv = now_us();
	size_t old = c->in_len;
	if (in_append(c, rbuf, (size_t)n) != 0) {
		error("out of memory");
		end_conn(c, 0);
		failed(c);
		return;
	}
	size_t from = old > 3 ? old - 3 : 0;
	char *e = memmem(c->in + from, c->in_len - from, "\r\n\r\n", 4);
	if (!e) {
		if (c->in_len > HEAD_MAX) {
			error("%s: response head too large", c->kind == WS ? "ws" : "sse");
			end_conn(c, 0);
			failed(c);
		}
		return;
	}
	size_t hl = (size_t)(e - c->in) + 4;
	if (hl > HEAD_MAX) {
		error("%s: response head too large", c->kind == WS ? "ws" : "sse");
		end_conn(c, 0);
		failed(c);
		return;
	}
	on_head(c, hl);
	if (c->state == ST_DONE && !c->opened)
		failed(c);
}

/* ---------------------------------------------------------------- results */

static void json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;
		if (ch == '"' || ch == '\\')
			fprintf(f, "\\%c", ch);
		else if (ch < 0x20 || ch >= 0x7f)
			fprintf(f, "\\u%04x", ch);
		else
			fputc(ch, f);
	}
	fputc('"', f);
}

/* The latency at quantile q in µs (upper bucket edge), -1 when empty. */
static int64_t quantile(double q)
{
	uint64_t total = 0, run = 0;
	for (int i = 0; i <= BUCKETS; i++)
		total += st.hist[i];
	if (!total)
		return -1;
	double want = q * (double)total;
	for (int i = 0; i < FINE_US; i++)
		if (st.fine[i] && (double)(run += st.fine[i]) >= want)
			return i + 1;
	for (int i = FINE_US / BUCKET_US; i <= BUCKETS; i++)
		if (st.hist[i] && (double)(run += st.hist[i]) >= want)
			return (int64_t)(i + 1) * BUCKET_US;
	return st.max_us;
}

static int write_out(double cpu_total, double cpu_recv)
{
	FILE *f = fopen(opt.out, "w");
	if (!f) {
		perror(opt.out);
		return -1;
	}
	fprintf(f, "{\"client\":\"c\",\"connected\":%llu", (unsigned long long)st.connected);
	static const char *kn[2] = { "ws", "sse" };
	const char *names[] = { "msgs", "other", "heartbeats", "ended" };
	uint64_t *vals[] = { st.msgs, st.other, st.heartbeats, st.ended };
	for (int i = 0; i < 4; i++)
		fprintf(f, ",\"%s\":{\"ws\":%llu,\"sse\":%llu}", names[i], (unsigned long long)vals[i][WS],
			(unsigned long long)vals[i][SSE]);
	fputs(",\"errors\":[", f);
	for (uint64_t i = 0; i < st.n_errors && i < 20; i++) {
		if (i)
			fputc(',', f);
		json_str(f, st.errors[i]);
	}
	fprintf(f, "],\"n_errors\":%llu,\"per_client\":{", (unsigned long long)st.n_errors);
	for (int k = 0; k < 2; k++) {
		fprintf(f, "%s\"%s\":[", k ? "," : "", kn[k]);
		int first = 1;
		for (int i = 0; i < n_conns; i++)
			if (conns[i].kind == k && conns[i].opened) {
				fprintf(f, "%s%llu", first ? "" : ",", (unsigned long long)conns[i].count);
				first = 0;
			}
		fputc(']', f);
	}
	fputs("},\"hist\":{", f);
	int first = 1;
	for (int i = 0; i <= BUCKETS; i++)
		if (st.hist[i]) {
			fprintf(f, "%s\"%d\":%llu", first ? "" : ",", i, (unsigned long long)st.hist[i]);
			first = 0;
		}
	fputs("},\"hist_us\":{", f); /* 1 µs buckets below 100 ms */
	first = 1;
	for (int i = 0; i < FINE_US; i++)
		if (st.fine[i]) {
			fprintf(f, "%s\"%d\":%llu", first ? "" : ",", i, (unsigned long long)st.fine[i]);
			first = 0;
		}
	fprintf(f,
		"},\"max_us\":%lld,\"negative\":%llu,\"absurd\":%llu,\"seq_errors\":%llu,\"sse_no_id\":%llu,"
		"\"cpu_s\":%.3f,\"cpu_recv_s\":%.3f}\n",
		(long long)st.max_us, (unsigned long long)st.negative, (unsigned long long)st.absurd,
		(unsigned long long)st.seq_errors, (unsigned long long)st.sse_no_id, cpu_total, cpu_recv);
	return fclose(f) == 0 ? 0 : -1;
}

/* ---------------------------------------------------------------- main */

static int usage(void)
{
	fprintf(stderr, "usage: fanout-client --base http://HOST:PORT --ws N --sse N [--ws-path P] [--ws-subscribe JSON]\n"
			"                     [--sse-path P] [--origin URL] [--ramp N] --out FILE\n");
	return 2;
}

static int parse_base(const char *base)
{
	static char host[256], port[16];
	if (strncmp(base, "http://", 7) != 0)
		return -1;
	const char *h = base + 7, *slash = strchr(h, '/');
	size_t n = slash ? (size_t)(slash - h) : strlen(h);
	if (n == 0 || n >= sizeof host)
		return -1;
	memcpy(host, h, n);
	host[n] = 0;
	char *colon = strrchr(host, ':');
	if (colon && !strchr(colon, ']')) {
		*colon = 0;
		snprintf(port, sizeof port, "%s", colon + 1);
		opt.port = port;
	}
	if (host[0] == '[') { /* [v6] */
		memmove(host, host + 1, strlen(host));
		host[strcspn(host, "]")] = 0;
	}
	opt.host = host;
	return 0;
}

int main(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!v)
			return usage();
		i++;
		if (!strcmp(a, "--base")) {
			if (parse_base(v) != 0)
				return usage();
		} else if (!strcmp(a, "--ws"))
			opt.n_ws = atoi(v);
		else if (!strcmp(a, "--sse"))
			opt.n_sse = atoi(v);
		else if (!strcmp(a, "--ws-path"))
			opt.ws_path = v;
		else if (!strcmp(a, "--ws-subscribe"))
			opt.ws_sub = v;
		else if (!strcmp(a, "--sse-path"))
			opt.sse_path = v;
		else if (!strcmp(a, "--origin"))
			opt.origin = v;
		else if (!strcmp(a, "--ramp"))
			opt.ramp = atoi(v);
		else if (!strcmp(a, "--out"))
			opt.out = v;
		else
			return usage();
	}
	if (!opt.out || opt.n_ws < 0 || opt.n_sse < 0 || opt.ramp < 1)
		return usage();
	n_conns = opt.n_ws + opt.n_sse;

	/* One descriptor per client plus a few: raise the soft limit to the hard one. */
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
		getrlimit(RLIMIT_NOFILE, &rl);
	}
	if ((rlim_t)n_conns + 16 > rl.rlim_cur) {
		fprintf(stderr, "fanout-client: %d clients need %d descriptors, the limit is %llu (ulimit -n)\n", n_conns,
			n_conns + 16, (unsigned long long)rl.rlim_cur);
		return 1;
	}

	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM }, *ai;
	int r = getaddrinfo(opt.host, opt.port, &hints, &ai);
	if (r != 0) {
		fprintf(stderr, "fanout-client: %s:%s: %s\n", opt.host, opt.port, gai_strerror(r));
		return 1;
	}
	memcpy(&addr, ai->ai_addr, ai->ai_addrlen);
	addr_len = ai->ai_addrlen;
	freeaddrinfo(ai);

	char hostport[300], origin[512] = "";
	snprintf(hostport, sizeof hostport, strchr(opt.host, ':') ? "[%s]:%s" : "%s:%s", opt.host, opt.port);
	if (opt.origin)
		snprintf(origin, sizeof origin, "Origin: %s\r\n", opt.origin);
	if (asprintf(&ws_req_fmt,
		     "GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
		     "Sec-WebSocket-Key: %%s\r\nSec-WebSocket-Version: 13\r\n%s\r\n",
		     opt.ws_path, hostport, origin) < 0 ||
	    asprintf(&sse_req, "GET %s HTTP/1.1\r\nHost: %s\r\nAccept: text/event-stream\r\n%s\r\n", opt.sse_path,
		     hostport, origin) < 0)
		return 1;
	if (strchr(opt.ws_path, '%') || strlen(ws_req_fmt) > 1500) {
		fprintf(stderr, "fanout-client: --ws-path must not contain %% and the request must stay short\n");
		return 1;
	}
	sse_req_len = strlen(sse_req);

	conns = calloc((size_t)n_conns + 1, sizeof *conns);
	if (!conns)
		return 1;
	for (int i = 0; i < n_conns; i++) {
		conns[i].fd = -1;
		conns[i].kind = i < opt.n_ws ? WS : SSE;
	}
	sigset_t ss;
	sigemptyset(&ss);
	sigaddset(&ss, SIGTERM);
	sigaddset(&ss, SIGINT);
	sigprocmask(SIG_BLOCK, &ss, NULL);
	signal(SIGPIPE, SIG_IGN);
	int sfd = signalfd(-1, &ss, SFD_NONBLOCK | SFD_CLOEXEC);
	ep = epoll_create1(EPOLL_CLOEXEC);
	if (sfd < 0 || ep < 0) {
		perror("fanout-client");
		return 1;
	}
	struct epoll_event se = { .events = EPOLLIN, .data.ptr = NULL };
	epoll_ctl(ep, EPOLL_CTL_ADD, sfd, &se);

	pending = n_conns;
	if (pending == 0) {
		cpu_connected = cpu_s(&sys_connected);
		printf("connected 0\n");
		fflush(stdout);
	}
	start_next();
	struct epoll_event evs[256];
	while (!stopping) {
		int n = epoll_wait(ep, evs, 256, pending ? 1000 : -1);
		if (n < 0 && errno != EINTR) {
			perror("epoll_wait");
			break;
		}
		for (int i = 0; i < n; i++) {
			struct conn *c = evs[i].data.ptr;
			if (!c) {
				stopping = 1;
				continue;
			}
			if (c->state == ST_DONE)
				continue; /* ended earlier in this batch */
			uint32_t ev = evs[i].events;
			if (c->state == ST_CONNECTING) {
				send_request(c);
			} else if (c->state == ST_HEAD) {
				head_read(c);
			} else if (c->kind == WS) {
				if (ev & (EPOLLIN | EPOLLERR | EPOLLHUP))
					ws_read(c);
				if (c->state == ST_OPEN && (ev & EPOLLOUT))
					ws_flush(c);
			} else {
				sse_read(c);
			}
		}
		if (pending) { /* handshakes that hang */
			time_t now = time(NULL);
			for (int i = 0; i < next_new; i++) {
				struct conn *c = &conns[i];
				if ((c->state == ST_CONNECTING || c->state == ST_HEAD) && now - c->started > HANDSHAKE_S) {
					error("%s: no response within %d s", c->kind == WS ? "ws" : "sse", HANDSHAKE_S);
					end_conn(c, 0);
					failed(c);
				}
			}
		}
	}
	for (int i = 0; i < n_conns; i++) {
		struct conn *c = &conns[i];
		if (c->state == ST_OPEN && c->kind == WS && c->ws && wslay_event_queue_close(c->ws, 1000, NULL, 0) == 0)
			wslay_event_send(c->ws);
		end_conn(c, 0);
	}
	double sys, cpu = cpu_s(&sys), cpu_recv = cpu - cpu_connected;
	uint64_t got = st.msgs[WS] + st.msgs[SSE];
	int rc = write_out(cpu, cpu_recv) == 0 ? 0 : 1;
	printf("messages %llu\nclient_cpu_s %.3f\nclient_cpu_recv_s %.3f (system %.3f)\ncpu_per_message_us %.2f\n",
	       (unsigned long long)got, cpu, cpu_recv, sys - sys_connected, got ? cpu_recv * 1e6 / (double)got : 0.0);
	printf("latency_us p50 %lld p99 %lld max %lld negative %llu absurd %llu seq_errors %llu\n",
	       (long long)quantile(0.5), (long long)quantile(0.99), (long long)st.max_us,
	       (unsigned long long)st.negative, (unsigned long long)st.absurd, (unsigned long long)st.seq_errors);
	for (int i = 0; i < n_conns; i++)
		free(conns[i].in);
	free(conns);
	free(ws_req_fmt);
	free(sse_req);
	close(ep);
	close(sfd);
	return rc;
}
