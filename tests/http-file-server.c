/* http-file-server: a tiny static HTTP/1.0 file server for the integration
 * tests (tests use no Python).  A test fixture, not part of labd.
 *
 *   http-file-server DIR PORTFILE
 *
 * Listens on 127.0.0.1 on a free port, writes the port to PORTFILE, and
 * answers `GET /PATH` with DIR/PATH (200) or 404, one connection at a time,
 * until SIGTERM/SIGINT.  As a web server or a bucket does, the path ends at
 * '?' or '#' and is percent-decoded exactly once ("%2541" is the file
 * "%41"), so a URL a browser built with encodeURIComponent() from a file
 * name finds that file (tests/integration/contributors-keys.sh).  Refused
 * (400): a bad escape, a decoded NUL, backslash or control byte, and an
 * empty, "." or ".." segment.
 * Every request is appended to DIR/../requests.log as "METHOD PATH STATUS"
 * (the path as received). */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

static volatile sig_atomic_t stop;
static void on_signal(int sig) { stop = 1; }

static int hexval(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
	       : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

static int bad_segment(const char *s, size_t n)
{
	return n == 0 || (n == 1 && s[0] == '.') || (n == 2 && s[0] == '.' && s[1] == '.');
}

/* The file path of a request target ("/a/b%20c?x" -> "a/b c"), decoded
 * once; 0, or -1 when refused. */
static int target_path(const char *in, char *out, size_t cap)
{
	size_t o = 0, seg = 0;
	if (*in++ != '/')
		return -1;
	for (; *in && *in != '?' && *in != '#'; in++) {
		int c = (unsigned char)*in;
		if (c == '%') {
			int h = hexval(in[1]), l = h < 0 ? -1 : hexval(in[2]);
			if (l < 0)
				return -1;
			c = h * 16 + l;
			in += 2;
		}
		if (c < 0x20 || c == 0x7f || c == '\\' || o + 1 >= cap)
			return -1;
		if (c == '/') {
			if (bad_segment(out + seg, o - seg))
				return -1;
			seg = o + 1;
		}
		out[o++] = (char)c;
	}
	out[o] = '\0';
	return bad_segment(out + seg, o - seg) ? -1 : 0;
}

static void write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return;
		p += w;
		n -= (size_t)w;
	}
}

static void serve(int c, const char *dir, FILE *log)
{
	char req[4096], method[16], path[1024], name[1024], file[2048], head[256];
	size_t len = 0;
	/* Read the request head (up to the blank line). */
	while (len < sizeof req - 1) {
		ssize_t r = read(c, req + len, sizeof req - 1 - len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		len += (size_t)r;
		req[len] = '\0';
		if (strstr(req, "\r\n\r\n") || strstr(req, "\n\n"))
			break;
	}
	req[len] = '\0';
	int status = 400;
	char *body = NULL;
	size_t blen = 0;
	if (sscanf(req, "%15s %1023s", method, path) == 2 && strcmp(method, "GET") == 0 &&
	    target_path(path, name, sizeof name) == 0) {
		snprintf(file, sizeof file, "%s/%s", dir, name);
		int fd = open(file, O_RDONLY);
		struct stat st;
		status = 404;
		if (fd >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
		    (body = malloc((size_t)st.st_size + 1))) {
			ssize_t r = read(fd, body, (size_t)st.st_size);
			if (r == st.st_size) {
				blen = (size_t)r;
				status = 200;
			}
		}
		if (fd >= 0)
			close(fd);
	} else {
		snprintf(method, sizeof method, "?");
		snprintf(path, sizeof path, "?");
	}
	if (status != 200) {
		free(body);
		body = NULL;
		blen = 0;
	}
	int hn = snprintf(head, sizeof head,
			  "HTTP/1.0 %d %s\r\nContent-Type: application/yaml\r\n"
			  "Content-Length: %zu\r\nConnection: close\r\n\r\n",
			  status, status == 200 ? "OK" : status == 404 ? "Not Found" : "Bad Request",
			  blen);
	write_all(c, head, (size_t)hn);
	if (blen)
		write_all(c, body, blen);
	free(body);
	if (log) {
		fprintf(log, "%s %s %d\n", method, path, status);
		fflush(log);
	}
}

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: http-file-server DIR PORTFILE\n");
		return 2;
	}
	struct sigaction sa = { 0 };
	sa.sa_handler = on_signal; /* no SA_RESTART: accept() returns EINTR */
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	int s = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = { 0 };
	socklen_t alen = sizeof a;
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof a) != 0 || listen(s, 16) != 0 ||
	    getsockname(s, (struct sockaddr *)&a, &alen) != 0) {
		perror("http-file-server");
		return 1;
	}
	char logpath[2048];
	snprintf(logpath, sizeof logpath, "%s/../requests.log", argv[1]);
	FILE *log = fopen(logpath, "a");
	char tmp[2048];
	snprintf(tmp, sizeof tmp, "%s.tmp", argv[2]);
	FILE *pf = fopen(tmp, "w");
	if (!pf || fprintf(pf, "%d\n", ntohs(a.sin_port)) < 0 || fclose(pf) != 0 ||
	    rename(tmp, argv[2]) != 0) { /* readers never see a partial file */
		perror(argv[2]);
		return 1;
	}
	while (!stop) {
		int c = accept(s, NULL, NULL);
		if (c < 0)
			continue;
		serve(c, argv[1], log);
		close(c);
	}
	if (log)
		fclose(log);
	close(s);
	return 0;
}
