/* ready-time RUNS PORT -- COMMAND [ARG...]
 *
 * Starts COMMAND RUNS times and measures, each time, the wall time from just
 * before fork() to the first "HTTP/1.x 200" answer to GET /readyz on
 * 127.0.0.1:PORT; then SIGTERMs the process and waits for it.  Polls every
 * 0.5 ms with a fresh connection, so the figure is accurate to about 1 ms.
 * Prints one line per run on stderr and "startup_ready_ms_p50/max" on stdout.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* 1 when /readyz answered 200, 0 otherwise (not listening yet, 503, ...). */
static int ready(int port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((unsigned short)port) };
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return 0;
	int ok = 0;
	if (connect(fd, (struct sockaddr *)&a, sizeof a) == 0) {
		static const char req[] = "GET /readyz HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
		if (write(fd, req, sizeof req - 1) == (ssize_t)(sizeof req - 1)) {
			char buf[64];
			ssize_t n = read(fd, buf, sizeof buf - 1);
			if (n >= 12) {
				buf[n] = '\0';
				ok = strncmp(buf, "HTTP/1.", 7) == 0 && strncmp(buf + 9, "200", 3) == 0;
			}
		}
	}
	close(fd);
	return ok;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
	if (argc < 5 || strcmp(argv[3], "--") != 0) {
		fprintf(stderr, "usage: ready-time RUNS PORT -- COMMAND [ARG...]\n");
		return 2;
	}
	int runs = atoi(argv[1]), port = atoi(argv[2]);
	if (runs < 1 || runs > 1000 || port < 1 || port > 65535) {
		fprintf(stderr, "ready-time: bad RUNS or PORT\n");
		return 2;
	}
	double *t = calloc((size_t)runs, sizeof *t);
	if (!t)
		return 1;
	for (int i = 0; i < runs; i++) {
		double t0 = now_ms();
		pid_t pid = fork();
		if (pid < 0) {
			perror("fork");
			return 1;
		}
		if (pid == 0) {
			execvp(argv[4], argv + 4);
			perror("exec");
			_exit(127);
		}
		int status;
		for (;;) {
			if (ready(port)) {
				t[i] = now_ms() - t0;
				break;
			}
			if (waitpid(pid, &status, WNOHANG) == pid) {
				fprintf(stderr, "ready-time: command exited before it was ready\n");
				return 1;
			}
			if (now_ms() - t0 > 10000) {
				fprintf(stderr, "ready-time: not ready after 10 s\n");
				kill(pid, SIGKILL);
				return 1;
			}
			usleep(500);
		}
		kill(pid, SIGTERM);
		while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
			;
		fprintf(stderr, "run %d: ready after %.1f ms\n", i + 1, t[i]);
	}
	qsort(t, (size_t)runs, sizeof *t, cmp);
	printf("startup_ready_ms_p50 %.1f ms\n", t[runs / 2]);
	printf("startup_ready_ms_max %.1f ms\n", t[runs - 1]);
	free(t);
	return 0;
}
