/* delay-relay HOST:PORT DELAY_MS
 *
 * A benchmark harness, not product code: a TCP relay on 127.0.0.1 that pipes
 * every connection to HOST:PORT and delivers the bytes coming from the
 * client DELAY_MS after they arrived (in order); the answers go back at
 * once.  In front of ClickHouse, every HTTP request reaches the server
 * DELAY_MS late: a network round trip to a remote cluster
 * (tests/bench/cluster.sh).  Prints "listening PORT" on stdout once it
 * accepts connections; SIGTERM ends it.
 *
 * Why not tests/integration/relay.js --delay-ms: a simulated network should
 * not use the CPU the benchmark measures.  The Node relay parses and
 * re-sends every request and answer (0.06-0.12 of a core in the clustering
 * benchmark, on a 2-core machine); this one copies bytes and sleeps.
 *
 * Three threads per connection: one reads the client and stamps each chunk
 * with its due time, one writes due chunks upstream, one copies the
 * answers back.  Connections are few (a daemon's ClickHouse pool), so
 * threads keep it short.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define CHUNK (64 * 1024)

struct chunk {
	struct chunk *next;
	struct timespec due;
	size_t len; /* 0: the client closed its side */
	char data[];
};

struct pair {
	int client, up;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct chunk *head, *tail;
	int refs; /* threads still running; the last one frees the pair */
};

static long delay_ms;

static void pair_release(struct pair *p)
{
	pthread_mutex_lock(&p->mu);
	int last = --p->refs == 0;
	pthread_mutex_unlock(&p->mu);
	if (!last)
		return;
	close(p->client);
	close(p->up);
	while (p->head) {
		struct chunk *c = p->head;
		p->head = c->next;
		free(c);
	}
	pthread_mutex_destroy(&p->mu);
	pthread_cond_destroy(&p->cv);
	free(p);
}

static int write_all(int fd, const char *b, size_t n)
{
	while (n) {
		ssize_t w = send(fd, b, n, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		b += w;
		n -= (size_t)w;
	}
	return 0;
}

static void enqueue(struct pair *p, struct chunk *c)
{
	pthread_mutex_lock(&p->mu);
	if (p->tail)
		p->tail->next = c;
	else
		p->head = c;
	p->tail = c;
	pthread_cond_signal(&p->cv);
	pthread_mutex_unlock(&p->mu);
}

/* client -> queue, each chunk due delay_ms after it was read */
static void *client_reader(void *arg)
{
	struct pair *p = arg;
	for (;;) {
		struct chunk *c = malloc(sizeof *c + CHUNK);
		if (!c)
			break;
		ssize_t n;
		do
			n = recv(p->client, c->data, CHUNK, 0);
		while (n < 0 && errno == EINTR);
		clock_gettime(CLOCK_MONOTONIC, &c->due);
		c->due.tv_sec += delay_ms / 1000;
		c->due.tv_nsec += (delay_ms % 1000) * 1000000L;
		if (c->due.tv_nsec >= 1000000000L) {
			c->due.tv_sec++;
			c->due.tv_nsec -= 1000000000L;
		}
		c->next = NULL;
		c->len = n > 0 ? (size_t)n : 0;
		enqueue(p, c);
		if (n <= 0)
			break;
	}
	pair_release(p);
	return NULL;
}

/* queue -> upstream, each chunk at its due time */
static void *up_writer(void *arg)
{
	struct pair *p = arg;
	for (;;) {
		pthread_mutex_lock(&p->mu);
		while (!p->head)
			pthread_cond_wait(&p->cv, &p->mu);
		struct chunk *c = p->head;
		p->head = c->next;
		if (!p->head)
			p->tail = NULL;
		pthread_mutex_unlock(&p->mu);
		while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &c->due, NULL) == EINTR)
			;
		int end = c->len == 0 || write_all(p->up, c->data, c->len) < 0;
		free(c);
		if (end)
			break;
	}
	/* client gone (or upstream broken): end both directions */
	shutdown(p->up, SHUT_RDWR);
	shutdown(p->client, SHUT_RDWR);
	pair_release(p);
	return NULL;
}

/* upstream -> client, at once */
static void *up_reader(void *arg)
{
	struct pair *p = arg;
	char *buf = malloc(CHUNK);
	for (;;) {
		ssize_t n = buf ? recv(p->up, buf, CHUNK, 0) : -1;
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0 || write_all(p->client, buf, (size_t)n) < 0)
			break;
	}
	free(buf);
	/* upstream closed: the client's reader sees EOF and ends the writer */
	shutdown(p->client, SHUT_RDWR);
	pair_release(p);
	return NULL;
}

static int connect_up(const struct addrinfo *ai)
{
	int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static void spawn(void *(*fn)(void *), struct pair *p)
{
	pthread_t t;
	pthread_attr_t a;
	pthread_attr_init(&a);
	pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&a, 256 * 1024);
	if (pthread_create(&t, &a, fn, p) != 0) {
		fprintf(stderr, "delay-relay: cannot start a thread\n");
		exit(1);
	}
	pthread_attr_destroy(&a);
}

int main(int argc, char **argv)
{
	char host[256];
	const char *colon = argc == 3 ? strrchr(argv[1], ':') : NULL;
	char *end;
	delay_ms = argc == 3 ? strtol(argv[2], &end, 10) : -1;
	if (!colon || colon == argv[1] || (size_t)(colon - argv[1]) >= sizeof host ||
	    delay_ms < 0 || *end) {
		fprintf(stderr, "usage: delay-relay HOST:PORT DELAY_MS\n");
		return 2;
	}
	memcpy(host, argv[1], (size_t)(colon - argv[1]));
	host[colon - argv[1]] = '\0';
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *ai;
	if (getaddrinfo(host, colon + 1, &hints, &ai) != 0) {
		fprintf(stderr, "delay-relay: cannot resolve %s\n", argv[1]);
		return 1;
	}
	signal(SIGPIPE, SIG_IGN);
	int ls = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in a = { .sin_family = AF_INET };
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	socklen_t al = sizeof a;
	if (ls < 0 || bind(ls, (struct sockaddr *)&a, sizeof a) < 0 || listen(ls, 128) < 0 ||
	    getsockname(ls, (struct sockaddr *)&a, &al) < 0) {
		perror("delay-relay: listen");
		return 1;
	}
	printf("listening %d\n", ntohs(a.sin_port));
	fflush(stdout);
	for (;;) {
		int c = accept4(ls, NULL, NULL, SOCK_CLOEXEC);
		if (c < 0) {
			if (errno == EINTR || errno == ECONNABORTED || errno == EMFILE)
				continue;
			perror("delay-relay: accept");
			return 1;
		}
		int up = connect_up(ai);
		if (up < 0) {
			close(c);
			continue;
		}
		int one = 1;
		setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
		setsockopt(up, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
		struct pair *p = calloc(1, sizeof *p);
		if (!p) {
			close(c);
			close(up);
			continue;
		}
		p->client = c;
		p->up = up;
		p->refs = 3;
		pthread_mutex_init(&p->mu, NULL);
		pthread_cond_init(&p->cv, NULL);
		spawn(client_reader, p);
		spawn(up_writer, p);
		spawn(up_reader, p);
	}
}
