/*
 * faultproxy — a TCP proxy that injects faults between labd and a real
 * server (ClickHouse or s3rver) for tests/integration/faults-*.sh.
 *
 * This is a FAKE, used only for faults the real servers cannot be made to
 * produce on demand: slow answers, connections cut mid-transfer, HTTP
 * 500/503 without the server's own error text, truncated and garbage
 * bodies.  Everything that can be done with the real servers (stopping
 * and restarting them) is done with them, not with this program.
 *
 *   faultproxy UPSTREAM_PORT MODE_FILE PORT_FILE
 *
 * Listens on 127.0.0.1 (a port picked by the kernel, written to PORT_FILE
 * once listening) and forwards to 127.0.0.1:UPSTREAM_PORT.  MODE_FILE holds
 * one line, read when a connection is accepted and re-checked every 50 ms
 * while it lives; when the line changes every open connection is closed
 * (one still sending a request upstream once the server answers, or after
 * ~2 s), so a mode applies to whole connections (keep-alive clients
 * reconnect and meet the new mode).  Modes:
 *   pass           forward both ways untouched (also: missing/empty file)
 *   delay MS       forward, but hold each chunk of the answer MS ms
 *   cut            accept, then reset the connection at once
 *   status CODE    read the request, answer CODE with a short body, close
 *                  (503 carries S3's SlowDown error document)
 *   truncate N     forward, but close both sides after N bytes of answer
 *   garbage        answer 200 with 600 pseudo-random bytes (Content-Length)
 *   oneline        answer 200 with one line of HTML (parses as an empty
 *                  TabSeparatedWithNames result with one column)
 *   empty          answer 200 with an empty body
 *   endless        answer 200 with a TabSeparatedWithNames header and rows
 *                  that never end (no Content-Length), as fast as the client
 *                  reads, until it hangs up
 *   endless-field  the same, but one field that never ends (no newline)
 * Every accepted connection is logged to stderr with its mode.
 * One process per connection (fork): simple, and loads here are tiny.
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>

static int upstream_port;
static const char *mode_file;

static void read_mode(char *out, size_t n)
{
	FILE *f = fopen(mode_file, "r");
	out[0] = '\0';
	if (f) {
		if (!fgets(out, (int)n, f))
			out[0] = '\0';
		fclose(f);
	}
	size_t l = strlen(out);
	while (l && (out[l - 1] == '\n' || out[l - 1] == '\r' || out[l - 1] == ' '))
		out[--l] = '\0';
	if (!out[0])
		snprintf(out, n, "pass");
}

static int write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t k = write(fd, p, n);
		if (k < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += k;
		n -= (size_t)k;
	}
	return 0;
}

static void reset_close(int fd)
{
	struct linger lg = { 1, 0 };
	setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
	close(fd);
}

/* Reads one request (headers, then Content-Length bytes of body unless the
 * client waits for 100-continue).  0 when a request was read. */
static int read_request(int fd)
{
	char buf[65536];
	size_t len = 0;
	char *end = NULL;
	while (!end) {
		struct pollfd p = { fd, POLLIN, 0 };
		if (poll(&p, 1, 5000) <= 0)
			return -1;
		ssize_t k = read(fd, buf + len, sizeof buf - 1 - len);
		if (k <= 0)
			return -1;
		len += (size_t)k;
		buf[len] = '\0';
		end = strstr(buf, "\r\n\r\n");
		if (!end && len >= sizeof buf - 1)
			return -1;
	}
	size_t head = (size_t)(end + 4 - buf);
	long clen = 0;
	int expect = 0;
	for (char *l = buf; l < end; l = strstr(l, "\r\n") + 2) {
		if (!strncasecmp(l, "Content-Length:", 15))
			clen = strtol(l + 15, NULL, 10);
		if (!strncasecmp(l, "Expect:", 7) && strstr(l, "100"))
			expect = 1;
		if (!strstr(l, "\r\n"))
			break;
	}
	if (expect)
		return 0; /* answer at once: the body is never sent */
	long have = (long)(len - head);
	while (have < clen) {
		struct pollfd p = { fd, POLLIN, 0 };
		if (poll(&p, 1, 5000) <= 0)
			return -1;
		ssize_t k = read(fd, buf, sizeof buf);
		if (k <= 0)
			return -1;
		have += k;
	}
	return 0;
}

static void answer(int fd, int code, const char *ctype, const char *body, size_t blen)
{
	char head[512];
	const char *reason = code == 200 ? "OK" : code == 503 ? "Service Unavailable"
				 : code == 500	  ? "Internal Server Error"
						  : "Error";
	int n = snprintf(head, sizeof head,
			 "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
			 "Connection: close\r\n\r\n",
			 code, reason, ctype, blen);
	if (write_all(fd, head, (size_t)n) == 0)
		write_all(fd, body, blen);
	shutdown(fd, SHUT_WR);
	/* drain until the client closes, so it sees the answer, not a reset */
	char b[4096];
	struct pollfd p = { fd, POLLIN, 0 };
	while (poll(&p, 1, 1000) > 0 && read(fd, b, sizeof b) > 0)
		;
	close(fd);
}

static void canned(int fd, const char *mode)
{
	if (read_request(fd) < 0) {
		close(fd);
		return;
	}
	if (!strncmp(mode, "status ", 7)) {
		int code = atoi(mode + 7);
		if (code == 503) {
			static const char b[] =
				"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>SlowDown</Code>"
				"<Message>Please reduce your request rate.</Message></Error>\n";
			answer(fd, code, "application/xml", b, sizeof b - 1);
		} else {
			static const char b[] = "faultproxy: injected error\n";
			answer(fd, code, "text/plain", b, sizeof b - 1);
		}
	} else if (!strcmp(mode, "garbage")) {
		char b[600];
		unsigned x = 2463534242u;
		for (size_t i = 0; i < sizeof b; i++) {
			x ^= x << 13;
			x ^= x >> 17;
			x ^= x << 5;
			b[i] = (char)(x & 0xff);
		}
		answer(fd, 200, "text/tab-separated-values", b, sizeof b);
	} else if (!strcmp(mode, "oneline")) {
		static const char b[] = "<html><body>upstream is having a bad day</body></html>\n";
		answer(fd, 200, "text/html", b, sizeof b - 1);
	} else if (!strncmp(mode, "endless", 7)) {
		static const char head[] = "HTTP/1.1 200 OK\r\nContent-Type: text/tab-separated-values\r\n"
					   "Connection: close\r\n\r\nx\n";
		char b[65536];
		int rows = strcmp(mode, "endless-field") != 0;
		memset(b, 'a', sizeof b);
		for (size_t i = 63; rows && i < sizeof b; i += 64)
			b[i] = '\n';
		if (write_all(fd, head, sizeof head - 1) == 0)
			while (write_all(fd, b, sizeof b) == 0)
				;
		close(fd);
	} else {
		answer(fd, 200, "text/plain", "", 0);
	}
}

static void relay(int cfd, const char *mode)
{
	long delay_ms = 0, trunc = -1;
	if (!strncmp(mode, "delay ", 6))
		delay_ms = atol(mode + 6);
	if (!strncmp(mode, "truncate ", 9))
		trunc = atol(mode + 9);
	int ufd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)upstream_port) };
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (ufd < 0 || connect(ufd, (struct sockaddr *)&a, sizeof a) != 0) {
		reset_close(cfd); /* upstream down: the client sees a reset */
		if (ufd >= 0)
			close(ufd);
		return;
	}
	int one = 1;
	setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	setsockopt(ufd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	char start_mode[256], now_mode[256];
	snprintf(start_mode, sizeof start_mode, "%s", mode);
	long sent = 0;
	int in_request = 0, waited = 0;
	char buf[65536];
	for (;;) {
		struct pollfd p[2] = { { cfd, POLLIN, 0 }, { ufd, POLLIN, 0 } };
		int r = poll(p, 2, 50);
		if (r < 0 && errno != EINTR)
			break;
		read_mode(now_mode, sizeof now_mode);
		/* The mode changed: drop the connection — but not while a request
		 * is still going upstream (up to ~2 s): an upload cut short leaves
		 * s3rver, which writes objects in place, with a partial object that
		 * real S3 never shows, and the tests check that none is visible.
		 * Once the server answers, the request has arrived whole. */
		if (strcmp(now_mode, start_mode) && (!in_request || ++waited > 40))
			break;
		if (r <= 0)
			continue;
		if (p[0].revents & (POLLIN | POLLHUP | POLLERR)) {
			ssize_t k = read(cfd, buf, sizeof buf);
			if (k <= 0 || write_all(ufd, buf, (size_t)k) < 0)
				break;
			in_request = 1;
		}
		if (p[1].revents & (POLLIN | POLLHUP | POLLERR)) {
			ssize_t k = read(ufd, buf, sizeof buf);
			if (k <= 0)
				break;
			in_request = 0;
			if (delay_ms > 0) {
				struct timespec ts = { delay_ms / 1000, (delay_ms % 1000) * 1000000L };
				nanosleep(&ts, NULL);
			}
			size_t n = (size_t)k;
			if (trunc >= 0 && sent + k > trunc)
				n = (size_t)(trunc - sent);
			if (write_all(cfd, buf, n) < 0)
				break;
			sent += (long)n;
			if (trunc >= 0 && sent >= trunc)
				break;
		}
	}
	close(ufd);
	close(cfd);
}

int main(int argc, char **argv)
{
	if (argc != 4) {
		fprintf(stderr, "usage: %s UPSTREAM_PORT MODE_FILE PORT_FILE\n", argv[0]);
		return 2;
	}
	upstream_port = atoi(argv[1]);
	mode_file = argv[2];
	struct sigaction sa = { .sa_handler = SIG_IGN, .sa_flags = SA_NOCLDWAIT };
	sigaction(SIGCHLD, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	int lfd = socket(AF_INET, SOCK_STREAM, 0);
	int one = 1;
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = 0 };
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	socklen_t al = sizeof a;
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&a, sizeof a) != 0 || listen(lfd, 128) != 0 ||
	    getsockname(lfd, (struct sockaddr *)&a, &al) != 0) {
		perror("faultproxy: listen");
		return 1;
	}
	char tmp[4096];
	snprintf(tmp, sizeof tmp, "%s.tmp", argv[3]);
	FILE *pf = fopen(tmp, "w");
	if (!pf || fprintf(pf, "%d\n", ntohs(a.sin_port)) < 0 || fclose(pf) != 0 ||
	    rename(tmp, argv[3]) != 0) {
		perror("faultproxy: port file");
		return 1;
	}
	for (;;) {
		int cfd = accept(lfd, NULL, NULL);
		if (cfd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			perror("faultproxy: accept");
			return 1;
		}
		char mode[256];
		read_mode(mode, sizeof mode);
		fprintf(stderr, "faultproxy: connection, mode %s\n", mode);
		pid_t pid = fork();
		if (pid == 0) {
			close(lfd);
			if (!strcmp(mode, "cut"))
				reset_close(cfd);
			else if (!strncmp(mode, "status ", 7) || !strcmp(mode, "garbage") ||
				 !strcmp(mode, "oneline") || !strcmp(mode, "empty") ||
				 !strncmp(mode, "endless", 7))
				canned(cfd, mode);
			else
				relay(cfd, mode);
			_exit(0);
		}
		close(cfd);
	}
}
