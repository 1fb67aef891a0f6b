/* libFuzzer target: the admin HTTP endpoint (host/admin.c) as a client sees
 * it.  admin.c has no pure request parser — routing reads headers from the
 * libmicrohttpd connection — so this drives the real server: admin_start()
 * on 127.0.0.1:0 with a token, one TCP connection per input, the input
 * written as the raw request, then the loop runs until the server closes
 * the connection (or 3 s pass).
 *
 * Security oracle: a mutating call (POST /plugins/NAME/ACTION) must never
 * reach the daemon unless the request carries the token, and never with an
 * Origin header.  Anything the server answers must be an HTTP/1.x status line. */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include "admin.h"
#include "buf.h"
#include "lab/plugin.h"
#include "log.h"
#include "metrics.h"

/* This test's registry (the daemon owns one; the services get it at open). */
static struct metrics *M;

#define TOKEN "fuzz-token-5f3a9c"
#define FUZZ_MAX_INPUT 65536

static uv_loop_t loop;
static struct admin *adm;
static int port;
static const uint8_t *cur;
static size_t cur_len;

static int op_readyz(void *ud, struct buf *out)
{
	(void)ud;
	buf_puts(out, "{\"ready\":true}");
	return 200;
}

static int op_plugins(void *ud, struct buf *out)
{
	(void)ud;
	buf_puts(out, "[]");
	return 200;
}

/* Every mutating request that reaches the daemon carried the token and no
 * Origin header. */
static void oracle(const char *action, const char *name)
{
	if (!memmem(cur, cur_len, TOKEN, strlen(TOKEN))) {
		fprintf(stderr, "admin: %s %s reached the daemon without the token\n", action, name);
		abort();
	}
	/* Header names are case-insensitive: look for "origin:" in any case,
	 * in the request head only — the same bytes after the blank line are
	 * body, not a header (a false alarm the smoke run once hit). */
	size_t head = cur_len;
	const unsigned char *end = memmem(cur, cur_len, "\r\n\r\n", 4);
	if (end)
		head = (size_t)(end - cur);
	for (size_t i = 0; i + 7 <= head; i++)
		if (strncasecmp((const char *)cur + i, "origin:", 7) == 0 &&
		    (i == 0 || cur[i - 1] == '\n')) {
			fprintf(stderr, "admin: %s %s accepted with an Origin header\n", action, name);
			abort();
		}
}

static int op_action(void *ud, const char *name, const char *action, struct buf *out)
{
	(void)ud;
	oracle(action, name);
	buf_puts(out, "{\"ok\":true}");
	return 200;
}

/* reprocess and publish also get the body: never more than ADMIN_BODY_MAX
 * bytes, and never more than the request held. */
static int op_body(const char *action, const char *name, const char *body, size_t len,
		   struct buf *out)
{
	oracle(action, name);
	if (len > ADMIN_BODY_MAX || len > cur_len || (len && !body)) {
		fprintf(stderr, "admin: %s %s got a body of %zu bytes\n", action, name, len);
		abort();
	}
	buf_puts(out, "{\"ok\":true}");
	return 202;
}

static int op_reprocess(void *ud, const char *name, const char *body, size_t len, struct buf *out)
{
	(void)ud;
	return op_body("reprocess", name, body, len, out);
}

static int op_publish(void *ud, const char *subject, const char *body, size_t len, struct buf *out)
{
	(void)ud;
	return op_body("publish", subject, body, len, out);
}

static const struct admin_ops ops = { .readyz = op_readyz, .plugins = op_plugins,
				       .plugin_action = op_action, .reprocess = op_reprocess,
				       .publish = op_publish }; /* .leases NULL: 501 */

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	log_setup(LAB_LOG_ERROR, 0, 2);
	if (metrics_new("fuzz", &M) != 0 || uv_loop_init(&loop) != 0)
		abort();
	if (admin_start(&loop, M, "127.0.0.1:0", TOKEN, &ops, NULL, &adm) != 0)
		abort();
	port = admin_port(adm);
	if (port <= 0)
		abort();
	return 0;
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > FUZZ_MAX_INPUT)
		return 0;
	cur = data;
	cur_len = size;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		abort();
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0 && errno != EINPROGRESS)
		abort();

	char resp[512];
	size_t got = 0, sent = 0;
	int wr_done = 0, closed = 0;
	double deadline = now() + 3.0, last = 0;
	/* The handlers answer synchronously: 50 ms without a byte once the whole
	 * request is written means the server is done.  It does not close on our
	 * half-close (a keep-alive connection, or an incomplete request, waits
	 * for MHD's 10 s connection timeout), so EOF cannot be the signal. */
	while (!closed && now() < deadline && !(wr_done && now() - last > 0.05)) {
		uv_run(&loop, UV_RUN_NOWAIT);
		if (!wr_done) {
			if (sent < size) {
				ssize_t w = send(fd, data + sent, size - sent, MSG_NOSIGNAL);
				if (w > 0)
					sent += (size_t)w;
				else if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK &&
					 errno != ENOTCONN)
					wr_done = 1; /* the server closed on us: fine */
				last = now();
			}
			if (sent == size && !wr_done) {
				if (shutdown(fd, SHUT_WR) == 0 || errno != ENOTCONN)
					wr_done = 1;
				last = now();
			}
		}
		char tmp[4096];
		ssize_t r = recv(fd, tmp, sizeof tmp, 0);
		if (r > 0) {
			size_t k = (size_t)r < sizeof resp - got ? (size_t)r : sizeof resp - got;
			memcpy(resp + got, tmp, k);
			got += k;
			last = now();
		} else if (r == 0 ||
			   (errno != EAGAIN && errno != EWOULDBLOCK && errno != ENOTCONN)) {
			closed = 1;
		} else {
			/* Sleep until the client socket or the server's loop has news. */
			struct pollfd p[2] = { { .fd = fd, .events = POLLIN },
					       { .fd = uv_backend_fd(&loop), .events = POLLIN } };
			poll(p, 2, 5);
		}
	}
	/* A reset, not a FIN: MHD notices it at once (see above). */
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };
	setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
	close(fd);
	/* Let the server see the close and free the connection. */
	for (int i = 0; i < 4; i++)
		uv_run(&loop, UV_RUN_NOWAIT);
	if (got >= 8 && memcmp(resp, "HTTP/1.", 7) != 0) {
		fprintf(stderr, "admin: the answer is not HTTP: %.40s\n", resp);
		abort();
	}
	return 0;
}
