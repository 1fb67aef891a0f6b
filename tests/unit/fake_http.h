/* FAULT INJECTION: a tiny HTTP/1.1 server on a loopback port, in threads of
 * the test process, for tests/unit/test_http.c and test_clickhouse.c.  It
 * exists to produce what real servers rarely do on demand: 5xx, garbage,
 * stalls, connection resets.  Header-only (static functions).
 *
 * Routes (path prefix):
 *   /hello           200 "hello world" (keep-alive)
 *   /big?n=N         200, N bytes of the pattern 'a' + i % 26
 *   /echo            200 with the request body
 *   /status/NNN      NNN with body "boom NNN"
 *   /garbage         "NOT HTTP AT ALL" then close
 *   /stall           never answers (until the client goes away)
 *   /reset           close with SO_LINGER 0 (a TCP reset)
 *   /gzip            gzip-encoded body when the request accepts gzip
 * fake_custom, when set, is asked first; it returns 1 when it answered.
 */
#ifndef LAB_TESTS_FAKE_HTTP_H
#define LAB_TESTS_FAKE_HTTP_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>
#include <zlib.h>

struct fake_req {
	char method[16];
	char path[512];
	char *body;
	size_t body_len;
	int accept_gzip;
};

static int (*fake_custom)(int fd, const struct fake_req *r);
static int fake_accepts; /* connections accepted (atomic) */
static int fake_requests;

static int fake_write(int fd, const void *p, size_t n)
{
	const char *c = p;
	while (n) {
		ssize_t w = send(fd, c, n, MSG_NOSIGNAL);
		if (w <= 0)
			return -1;
		c += w;
		n -= (size_t)w;
	}
	return 0;
}

static int fake_respond(int fd, int code, const char *extra_headers, const void *body, size_t n)
{
	char head[512];
	int l = snprintf(head, sizeof head,
			 "HTTP/1.1 %d X\r\nContent-Length: %zu\r\nConnection: keep-alive\r\n%s\r\n",
			 code, n, extra_headers ? extra_headers : "");
	if (fake_write(fd, head, (size_t)l) < 0)
		return -1;
	return n ? fake_write(fd, body, n) : 0;
}

/* Reads one request; 0 ok, -1 closed/error. */
static int fake_read_req(int fd, char *buf, size_t cap, size_t *have, struct fake_req *r)
{
	char *end;
	for (;;) {
		buf[*have] = '\0';
		if ((end = strstr(buf, "\r\n\r\n")))
			break;
		if (*have + 1 >= cap)
			return -1;
		ssize_t n = recv(fd, buf + *have, cap - 1 - *have, 0);
		if (n <= 0)
			return -1;
		*have += (size_t)n;
	}
	size_t head_len = (size_t)(end + 4 - buf);
	memset(r, 0, sizeof *r);
	sscanf(buf, "%15s %511s", r->method, r->path);
	size_t clen = 0;
	for (char *l = strstr(buf, "\r\n"); l && l < end; l = strstr(l + 2, "\r\n")) {
		if (!strncasecmp(l + 2, "Content-Length:", 15))
			clen = strtoul(l + 17, NULL, 10);
		if (!strncasecmp(l + 2, "Accept-Encoding:", 16)) {
			char *e = strstr(l + 2, "\r\n");
			char *g = strstr(l + 2, "gzip");
			r->accept_gzip = g && g < e;
		}
	}
	r->body = malloc(clen + 1);
	if (!r->body)
		return -1;
	size_t got = *have - head_len < clen ? *have - head_len : clen;
	memcpy(r->body, buf + head_len, got);
	size_t rest = *have - head_len - got;
	memmove(buf, buf + head_len + got, rest);
	*have = rest;
	while (got < clen) {
		ssize_t n = recv(fd, r->body + got, clen - got, 0);
		if (n <= 0) {
			free(r->body);
			return -1;
		}
		got += (size_t)n;
	}
	r->body[clen] = '\0';
	r->body_len = clen;
	return 0;
}

static int fake_gzip(const char *in, size_t n, unsigned char *out, size_t cap, size_t *outlen)
{
	z_stream z;
	memset(&z, 0, sizeof z);
	if (deflateInit2(&z, 6, Z_DEFLATED, 31, 8, Z_DEFAULT_STRATEGY) != Z_OK)
		return -1;
	z.next_in = (unsigned char *)in;
	z.avail_in = (unsigned)n;
	z.next_out = out;
	z.avail_out = (unsigned)cap;
	int rc = deflate(&z, Z_FINISH);
	*outlen = z.total_out;
	deflateEnd(&z);
	return rc == Z_STREAM_END ? 0 : -1;
}

static void *fake_conn(void *arg)
{
	int fd = (int)(intptr_t)arg;
	static __thread char buf[65536];
	size_t have = 0;
	struct fake_req r;
	while (fake_read_req(fd, buf, sizeof buf, &have, &r) == 0) {
		__atomic_add_fetch(&fake_requests, 1, __ATOMIC_SEQ_CST);
		int keep = 1;
		const char *p = r.path;
		if (fake_custom && fake_custom(fd, &r)) {
			/* answered */
		} else if (!strcmp(p, "/hello")) {
			fake_respond(fd, 200, NULL, "hello world", 11);
		} else if (!strncmp(p, "/big?n=", 7)) {
			size_t n = strtoul(p + 7, NULL, 10);
			char *b = malloc(n ? n : 1);
			for (size_t i = 0; b && i < n; i++)
				b[i] = (char)('a' + i % 26);
			if (b)
				fake_respond(fd, 200, NULL, b, n);
			free(b);
		} else if (!strcmp(p, "/echo")) {
			fake_respond(fd, 200, NULL, r.body, r.body_len);
		} else if (!strncmp(p, "/status/", 8)) {
			char b[32];
			int code = atoi(p + 8);
			int l = snprintf(b, sizeof b, "boom %d", code);
			fake_respond(fd, code, NULL, b, (size_t)l);
		} else if (!strcmp(p, "/garbage")) {
			fake_write(fd, "NOT HTTP AT ALL\r\n\r\n", 19);
			keep = 0;
		} else if (!strcmp(p, "/stall")) {
			struct pollfd pf = { fd, POLLIN, 0 };
			poll(&pf, 1, 20000); /* until the client closes */
			keep = 0;
		} else if (!strcmp(p, "/reset")) {
			struct linger lg = { 1, 0 };
			setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
			keep = 0;
		} else if (!strcmp(p, "/gzip")) {
			static const char text[] = "compressed hello, compressed hello, compressed hello";
			if (r.accept_gzip) {
				unsigned char z[512];
				size_t zl;
				if (fake_gzip(text, sizeof text - 1, z, sizeof z, &zl) == 0)
					fake_respond(fd, 200, "Content-Encoding: gzip\r\n", z, zl);
			} else {
				fake_respond(fd, 200, NULL, "plain", 5);
			}
		} else {
			fake_respond(fd, 404, NULL, "no", 2);
		}
		free(r.body);
		if (!keep)
			break;
	}
	close(fd);
	return NULL;
}

static void *fake_accept_loop(void *arg)
{
	int ls = (int)(intptr_t)arg;
	for (;;) {
		int fd = accept(ls, NULL, NULL);
		if (fd < 0)
			continue;
		__atomic_add_fetch(&fake_accepts, 1, __ATOMIC_SEQ_CST);
		pthread_t t;
		pthread_attr_t a;
		pthread_attr_init(&a);
		pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
		if (pthread_create(&t, &a, fake_conn, (void *)(intptr_t)fd) != 0)
			close(fd);
		pthread_attr_destroy(&a);
	}
	return NULL;
}

/* Starts the server; returns its port. */
static int fake_http_start(void)
{
	int ls = socket(AF_INET, SOCK_STREAM, 0);
	int one = 1;
	setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t sl = sizeof sa;
	if (bind(ls, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(ls, 128) != 0 ||
	    getsockname(ls, (struct sockaddr *)&sa, &sl) != 0)
		return -1;
	pthread_t t;
	if (pthread_create(&t, NULL, fake_accept_loop, (void *)(intptr_t)ls) != 0)
		return -1;
	pthread_detach(t);
	return ntohs(sa.sin_port);
}

/* A port nobody listens on (bound, then closed). */
static int fake_closed_port(void)
{
	int s = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t sl = sizeof sa;
	bind(s, (struct sockaddr *)&sa, sizeof sa);
	getsockname(s, (struct sockaddr *)&sa, &sl);
	close(s);
	return ntohs(sa.sin_port);
}

#endif
