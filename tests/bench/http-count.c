/* http-count PORTFILE UPSTREAM_PORT
 *
 * A counting TCP relay for the storage benchmark: listens on 127.0.0.1 (a
 * free port, written to PORTFILE), relays every connection to
 * 127.0.0.1:UPSTREAM_PORT, and parses the client's side as HTTP/1.1
 * requests (request line, headers, Content-Length bodies) to count them by
 * method.  On SIGTERM or SIGINT it prints one line and exits:
 *   requests=N GET=N PUT=N HEAD=N POST=N DELETE=N OTHER=N COPY=N BUCKET=N BUCKET_HEAD=N
 *   chunked=N bytes_up=N bytes_down=N header_bytes=N body_bytes=N conns=N
 * COPY counts requests with an x-amz-copy-source header, BUCKET requests on
 * the bucket itself (a path with no key: "/bucket" or "/bucket/"; the
 * backend's reachability check is a HEAD there: BUCKET_HEAD), chunked
 * requests whose body could not be followed (Transfer-Encoding: chunked).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAXC 256
#define HMAX 16384

struct conn {
	int c, u;        /* client and upstream sockets; -1 when closed */
	char h[HMAX];    /* request headers being read */
	size_t hn;
	unsigned long long body; /* body bytes still to skip */
	int lost;        /* chunked or oversized: stop parsing */
};

static struct conn conns[MAXC];
static volatile sig_atomic_t stop;
static unsigned long long n_req, n_get, n_put, n_head, n_post, n_del, n_other, n_copy, n_bucket, n_bhead,
	n_chunked, up, down, hbytes, bbytes, n_conns;

static void on_sig(int s) { (void)s; stop = 1; }

static int listen_any(int *port)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t al = sizeof a;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) < 0 || listen(fd, 128) < 0 ||
	    getsockname(fd, (struct sockaddr *)&a, &al) < 0)
		return -1;
	*port = ntohs(a.sin_port);
	return fd;
}

static int connect_up(int port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((unsigned short)port) };
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof a) < 0) {
		close(fd);
		fd = -1;
	}
	return fd;
}

/* One complete header block h[0..n) (ending in CRLFCRLF). */
static void request(struct conn *k, const char *h, size_t n)
{
	char line[512];
	size_t i = 0;
	n_req++;
	hbytes += n;
	while (i < n && i < sizeof line - 1 && h[i] != '\r') {
		line[i] = h[i];
		i++;
	}
	line[i] = '\0';
	char *sp = strchr(line, ' ');
	char *path = sp ? sp + 1 : "";
	if (sp)
		*sp = '\0';
	char *q = strpbrk(path, " ?");
	if (q)
		*q = '\0';
	if (!strcmp(line, "GET"))
		n_get++;
	else if (!strcmp(line, "PUT"))
		n_put++;
	else if (!strcmp(line, "HEAD"))
		n_head++;
	else if (!strcmp(line, "POST"))
		n_post++;
	else if (!strcmp(line, "DELETE"))
		n_del++;
	else
		n_other++;
	const char *slash = path[0] == '/' ? strchr(path + 1, '/') : NULL;
	if (!slash || slash[1] == '\0') {
		n_bucket++;
		n_bhead += !strcmp(line, "HEAD");
	}
	/* headers */
	unsigned long long cl = 0;
	const char *p = h;
	while ((p = memchr(p, '\n', (size_t)(h + n - p))) && ++p < h + n) {
		if (!strncasecmp(p, "content-length:", 15))
			cl = strtoull(p + 15, NULL, 10);
		else if (!strncasecmp(p, "x-amz-copy-source:", 18))
			n_copy++;
		else if (!strncasecmp(p, "transfer-encoding:", 18) && strstr(p, "chunked"))
			k->lost = 1;
	}
	if (k->lost)
		n_chunked++;
	k->body = cl;
}

static void parse(struct conn *k, const char *buf, size_t len)
{
	while (len && !k->lost) {
		if (k->body) {
			size_t t = len < k->body ? len : (size_t)k->body;
			k->body -= t;
			bbytes += t;
			buf += t;
			len -= t;
			continue;
		}
		/* header bytes: copy until CRLFCRLF */
		size_t t = 0;
		int done = 0;
		while (t < len) {
			if (k->hn >= HMAX) {
				k->lost = 1;
				return;
			}
			k->h[k->hn++] = buf[t++];
			if (k->hn >= 4 && !memcmp(k->h + k->hn - 4, "\r\n\r\n", 4)) {
				done = 1;
				break;
			}
		}
		buf += t;
		len -= t;
		if (done) {
			request(k, k->h, k->hn);
			k->hn = 0;
		}
	}
}

static void drop(struct conn *k)
{
	if (k->c >= 0)
		close(k->c);
	if (k->u >= 0)
		close(k->u);
	k->c = k->u = -1;
}

static int relay(int from, int to, unsigned long long *count, struct conn *k)
{
	char buf[65536];
	ssize_t r = read(from, buf, sizeof buf);
	if (r <= 0)
		return -1;
	*count += (unsigned long long)r;
	if (k)
		parse(k, buf, (size_t)r);
	for (ssize_t off = 0; off < r;) {
		ssize_t w = write(to, buf + off, (size_t)(r - off));
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		off += w;
	}
	return 0;
}

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: http-count PORTFILE UPSTREAM_PORT\n");
		return 2;
	}
	int uport = atoi(argv[2]), port;
	int lfd = listen_any(&port);
	if (lfd < 0) {
		perror("http-count: listen");
		return 1;
	}
	FILE *f = fopen(argv[1], "w");
	if (!f)
		return 1;
	fprintf(f, "%d\n", port);
	fclose(f);
	struct sigaction sa = { .sa_handler = on_sig };
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	for (int i = 0; i < MAXC; i++)
		conns[i].c = conns[i].u = -1;
	while (!stop) {
		struct pollfd pf[1 + 2 * MAXC];
		int map[1 + 2 * MAXC], np = 0;
		pf[np].fd = lfd;
		pf[np].events = POLLIN;
		map[np++] = -1;
		for (int i = 0; i < MAXC; i++)
			if (conns[i].c >= 0) {
				pf[np].fd = conns[i].c;
				pf[np].events = POLLIN;
				map[np++] = 2 * i;
				pf[np].fd = conns[i].u;
				pf[np].events = POLLIN;
				map[np++] = 2 * i + 1;
			}
		if (poll(pf, (nfds_t)np, 200) < 0)
			continue;
		for (int j = 1; j < np; j++) {
			if (!(pf[j].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			struct conn *k = &conns[map[j] / 2];
			if (k->c < 0)
				continue;
			int rc = map[j] % 2 == 0 ? relay(k->c, k->u, &up, k) : relay(k->u, k->c, &down, NULL);
			if (rc < 0)
				drop(k);
		}
		if (pf[0].revents & POLLIN) {
			int c = accept(lfd, NULL, NULL);
			int i = 0;
			while (i < MAXC && conns[i].c >= 0)
				i++;
			int u = c >= 0 && i < MAXC ? connect_up(uport) : -1;
			if (u < 0) {
				if (c >= 0)
					close(c);
				continue;
			}
			memset(&conns[i], 0, sizeof conns[i]);
			conns[i].c = c;
			conns[i].u = u;
			n_conns++;
		}
	}
	printf("requests=%llu GET=%llu PUT=%llu HEAD=%llu POST=%llu DELETE=%llu OTHER=%llu COPY=%llu "
	       "BUCKET=%llu BUCKET_HEAD=%llu chunked=%llu bytes_up=%llu bytes_down=%llu header_bytes=%llu "
	       "body_bytes=%llu conns=%llu\n",
	       n_req, n_get, n_put, n_head, n_post, n_del, n_other, n_copy, n_bucket, n_bhead, n_chunked, up,
	       down, hbytes, bbytes, n_conns);
	return 0;
}
