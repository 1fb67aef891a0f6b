/* libmicrohttpd on the libuv loop (mhd_uv.h): one driver for the admin
 * endpoint and the public HTTP listener. */
#include "mhd_uv.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "buf.h"
#include "listen_addr.h"
#include "log.h"

#define SWEEP_MS 500
#define LISTEN_BACKLOG 1024

/* One accepted connection, as the guard sees it. */
struct conn {
	struct conn *prev, *next;
	int fd;
	uint64_t since;  /* connected, or its last answer completed (loop ms) */
	int answered;    /* it had an answer: the idle timeout applies */
	int in_request;  /* its request head arrived; being answered */
	int held;        /* a long-lived stream: never cut by the guard */
	int cut;         /* shut down by the guard; MHD closes it next */
	int detached;    /* its owner holds the socket now (mhd_uv_detach) */
};

struct mhd_uv {
	uv_loop_t *loop;
	struct mhd_uv_conf conf;
	char *name;
	struct MHD_Daemon *mhd;
	uv_poll_t poll;
	uv_timer_t timer;
	int listen_fd;
	uv_poll_t lpoll;
	uv_timer_t sweep;
	struct conn *conns;
	unsigned n_live; /* connections not cut */
	unsigned n_detached; /* sockets MHD let go of, still open (mhd_uv_detach) */
	int port;
	int handles;  /* uv handles whose close callback is pending */
	int starting; /* MHD messages are worth a warning only during start */
	int in_run;   /* inside MHD_run(): mhd_uv_stop() must defer the teardown */
	int rerun;    /* mhd_uv_kick() from inside MHD_run(): run again next turn */
	int stopping;
};

static struct conn *conn_of(struct MHD_Connection *c)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	return ci ? ci->socket_context : NULL;
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
	const struct mhd_uv *d = cls;
	int level = d->starting ? LAB_LOG_ERROR : LAB_LOG_DEBUG;
	if (!log_enabled(level))
		return;
	struct buf b = BUF_INIT;
	buf_vprintf(&b, fmt, ap);
	while (b.len && (b.data[b.len - 1] == '\n' || b.data[b.len - 1] == ' '))
		b.data[--b.len] = '\0';
	if (!b.oom && b.data)
		log_msg(level, NULL, "%s: %s", d->name, b.data);
	buf_free(&b);
}

/* ---------------------------------------------------------------- connection guard */

/* libmicrohttpd sees the shut-down socket as closed by the peer and
 * releases the connection (MHD_CONNECTION_NOTIFY_CLOSED) in its next run. */
static void conn_cut(struct mhd_uv *d, struct conn *cn, const char *reason)
{
	if (cn->cut)
		return;
	shutdown(cn->fd, SHUT_RDWR);
	cn->cut = 1;
	d->n_live--;
	if (d->conf.on_reject)
		d->conf.on_reject(d->conf.cls, reason);
}

static void on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
			  enum MHD_ConnectionNotificationCode toe)
{
	struct mhd_uv *d = cls;
	if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
		const union MHD_ConnectionInfo *ci =
			MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
		struct conn *cn = calloc(1, sizeof *cn);
		if (!cn || !ci) {
			free(cn); /* untracked: only MHD's own timeout applies */
			return;
		}
		cn->fd = ci->connect_fd;
		cn->since = uv_now(d->loop);
		cn->next = d->conns;
		if (d->conns)
			d->conns->prev = cn;
		d->conns = cn;
		d->n_live++;
		*socket_context = cn;
		return;
	}
	struct conn *cn = *socket_context;
	if (!cn)
		return;
	if (!cn->cut && !cn->detached)
		d->n_live--;
	if (cn->prev)
		cn->prev->next = cn->next;
	else
		d->conns = cn->next;
	if (cn->next)
		cn->next->prev = cn->prev;
	free(cn);
	*socket_context = NULL;
}

void mhd_uv_request_begin(struct mhd_uv *d, struct MHD_Connection *c)
{
	(void)d;
	struct conn *cn = conn_of(c);
	if (cn)
		cn->in_request = 1;
}

void mhd_uv_request_end(struct mhd_uv *d, struct MHD_Connection *c)
{
	struct conn *cn = conn_of(c);
	if (cn) {
		cn->in_request = 0;
		cn->answered = 1;
		cn->since = uv_now(d->loop); /* the next request head is due from now */
	}
}

void mhd_uv_hold(struct mhd_uv *d, struct MHD_Connection *c)
{
	(void)d;
	struct conn *cn = conn_of(c);
	if (cn)
		cn->held = 1;
}

const struct sockaddr *mhd_uv_client(struct MHD_Connection *c)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	return ci ? ci->client_addr : NULL;
}

/* The connection waiting longest for a request head, or NULL when every
 * live one is being answered (the list is newest first: on a tie the
 * oldest wins). */
static struct conn *oldest_waiting(struct mhd_uv *d)
{
	struct conn *best = NULL;
	for (struct conn *cn = d->conns; cn; cn = cn->next)
		if (!cn->cut && !cn->in_request && !cn->held && !cn->detached &&
		    (!best || cn->since <= best->since))
			best = cn;
	return best;
}

static void run_mhd(struct mhd_uv *d);

static void on_sweep(uv_timer_t *t)
{
	struct mhd_uv *d = t->data;
	uint64_t now = uv_now(d->loop);
	uint64_t idle = d->conf.idle_timeout_ms ? d->conf.idle_timeout_ms : d->conf.head_timeout_ms;
	int cut = 0;
	for (struct conn *cn = d->conns; cn; cn = cn->next) {
		if (cn->cut || cn->in_request || cn->held || cn->detached)
			continue;
		if (now - cn->since >= (cn->answered ? idle : d->conf.head_timeout_ms)) {
			conn_cut(d, cn, "timeout");
			cut = 1;
		}
	}
	if (cut)
		run_mhd(d);
}

/* At the limit a new connection takes the place of the one that has waited
 * longest without sending a request; when all are being answered, the new
 * one is accepted and closed at once (never left hanging in the backlog). */
static void on_listen(uv_poll_t *p, int status, int events)
{
	(void)status;
	(void)events;
	struct mhd_uv *d = p->data;
	int added = 0;
	for (;;) {
		struct sockaddr_storage ss;
		socklen_t len = sizeof ss;
		int fd = accept4(d->listen_fd, (struct sockaddr *)&ss, &len,
				 SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				LOGW("%s: accept: %s", d->name, strerror(errno));
			break;
		}
		if (d->n_live + d->n_detached >= d->conf.conn_limit) {
			struct conn *victim = oldest_waiting(d);
			if (!victim) {
				close(fd);
				if (d->conf.on_reject)
					d->conf.on_reject(d->conf.cls, "connections");
				continue;
			}
			conn_cut(d, victim, "connections");
		}
		if (MHD_add_connection(d->mhd, fd, (struct sockaddr *)&ss, len) != MHD_YES)
			LOGD("%s: connection refused: %s", d->name, strerror(errno)); /* fd closed by MHD */
		added = 1;
	}
	if (added)
		run_mhd(d);
}

static int listen_socket(const struct sockaddr_storage *ss, int *port)
{
	socklen_t len = ss->ss_family == AF_INET6 ? sizeof(struct sockaddr_in6)
						  : sizeof(struct sockaddr_in);
	int one = 1;
	int fd = socket(ss->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (ss->ss_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
	if (bind(fd, (const struct sockaddr *)ss, len) != 0 || listen(fd, LISTEN_BACKLOG) != 0) {
		int e = errno;
		close(fd);
		return -e;
	}
	struct sockaddr_storage bound;
	len = sizeof bound;
	if (getsockname(fd, (struct sockaddr *)&bound, &len) != 0) {
		int e = errno;
		close(fd);
		return -e;
	}
	*port = ntohs(bound.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&bound)->sin6_port
						  : ((struct sockaddr_in *)&bound)->sin_port);
	return fd;
}

/* ---------------------------------------------------------------- loop glue */

static void on_closed(uv_handle_t *h)
{
	struct mhd_uv *d = h->data;
	if (--d->handles > 0)
		return;
	if (d->conf.on_freed)
		d->conf.on_freed(d->conf.cls);
	free(d->name);
	free(d);
}

/* Closing the poll handle first removes MHD's epoll fd from the loop before
 * MHD_stop_daemon() closes it. */
static void teardown(struct mhd_uv *d)
{
	uv_close((uv_handle_t *)&d->poll, on_closed);
	uv_close((uv_handle_t *)&d->timer, on_closed);
	uv_close((uv_handle_t *)&d->lpoll, on_closed);
	uv_close((uv_handle_t *)&d->sweep, on_closed);
	close(d->listen_fd); /* its poll handle is stopped already */
	d->listen_fd = -1;
	MHD_stop_daemon(d->mhd); /* closes the connections: NOTIFY_CLOSED frees each */
	d->mhd = NULL;
}

static void on_timer(uv_timer_t *t);

static void run_mhd(struct mhd_uv *d)
{
	MHD_UNSIGNED_LONG_LONG ms;
	if (d->in_run)
		return;
	d->in_run = 1;
	d->rerun = 0;
	MHD_run(d->mhd);
	d->in_run = 0;
	if (d->stopping) {
		teardown(d);
		return;
	}
	/* MHD_get_timeout() does not know about a resume (or upgrade close)
	 * asked for by one of its callbacks: the timer below must not
	 * replace that kick. */
	if (d->rerun) {
		d->rerun = 0;
		uv_timer_start(&d->timer, on_timer, 0, 0);
		return;
	}
	/* MHD_get_timeout() is 0 when edge-triggered data is still pending. */
	if (MHD_get_timeout(d->mhd, &ms) == MHD_YES)
		uv_timer_start(&d->timer, on_timer, ms > 86400000 ? 86400000 : (uint64_t)ms, 0);
	else
		uv_timer_stop(&d->timer);
}

static void on_timer(uv_timer_t *t)
{
	run_mhd(t->data);
}

static void on_poll(uv_poll_t *p, int status, int events)
{
	(void)events;
	struct mhd_uv *d = p->data;
	if (status < 0)
		LOGW("%s: poll: %s", d->name, uv_strerror(status));
	run_mhd(d);
}

/* ---------------------------------------------------------------- public */

void mhd_uv_kick(struct mhd_uv *d)
{
	/* Never MHD_run() from inside one of its callbacks: on the next turn. */
	if (d && !d->stopping) {
		if (d->in_run)
			d->rerun = 1;
		uv_timer_start(&d->timer, on_timer, 0, 0);
	}
}

int mhd_uv_start(uv_loop_t *loop, const struct mhd_uv_conf *conf, struct mhd_uv **out)
{
	struct sockaddr_storage ss;
	*out = NULL;
	int rc = listen_addr_parse(conf->listen, &ss);
	if (rc < 0) {
		LOGE("%s: listen \"%s\": expected a numeric HOST:PORT or [IPV6]:PORT", conf->name,
		     conf->listen);
		return rc;
	}
	struct mhd_uv *d = calloc(1, sizeof(*d));
	if (!d || !(d->name = strdup(conf->name))) {
		free(d);
		return LAB_ENOMEM;
	}
	d->loop = loop;
	d->conf = *conf;
	d->conf.name = d->name;
	d->conf.listen = NULL;

	d->listen_fd = listen_socket(&ss, &d->port);
	if (d->listen_fd < 0) {
		LOGE("%s: cannot listen on %s: %s", d->name, conf->listen, strerror(-d->listen_fd));
		rc = LAB_EIO;
		goto fail;
	}
	unsigned flags = MHD_USE_NO_LISTEN_SOCKET | MHD_USE_EPOLL | MHD_USE_TURBO |
			 MHD_USE_ERROR_LOG | conf->extra_flags;
	d->starting = 1;
	/* Two-pointer options take the function in `value` (MHD_OPTION_ARRAY). */
	struct MHD_OptionItem extra[] = {
		{ conf->unescape ? MHD_OPTION_UNESCAPE_CALLBACK : MHD_OPTION_END,
		  (intptr_t)conf->unescape, NULL },
		{ MHD_OPTION_END, 0, NULL },
	};
	d->mhd = MHD_start_daemon(flags, 0, NULL, NULL, conf->on_request, conf->cls,
				  /* the logger must come first */
				  MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, d,
				  /* the guard keeps conn_limit; cut ones may linger a run */
				  MHD_OPTION_CONNECTION_LIMIT, 2 * conf->conn_limit + 16,
				  MHD_OPTION_NOTIFY_CONNECTION, on_connection, d,
				  MHD_OPTION_CONNECTION_TIMEOUT, conf->mhd_timeout_s,
				  MHD_OPTION_CONNECTION_MEMORY_LIMIT, conf->conn_memory,
				  MHD_OPTION_NOTIFY_COMPLETED, conf->on_completed, conf->cls,
				  MHD_OPTION_ARRAY, extra, MHD_OPTION_END);
	d->starting = 0;
	if (!d->mhd) {
		LOGE("%s: cannot start the HTTP server on %s", d->name, conf->listen);
		rc = LAB_EIO;
		goto fail;
	}
	const union MHD_DaemonInfo *info = MHD_get_daemon_info(d->mhd, MHD_DAEMON_INFO_EPOLL_FD);
	if (!info) {
		rc = LAB_EIO;
		goto fail_mhd;
	}
	rc = uv_poll_init(loop, &d->poll, info->epoll_fd);
	if (rc == 0)
		rc = uv_poll_init(loop, &d->lpoll, d->listen_fd);
	if (rc < 0) {
		LOGE("%s: poll: %s", d->name, uv_strerror(rc));
		rc = LAB_EIO;
		goto fail_mhd;
	}
	uv_timer_init(loop, &d->timer);
	uv_timer_init(loop, &d->sweep);
	d->poll.data = d->timer.data = d->lpoll.data = d->sweep.data = d;
	d->handles = 4;
	uv_timer_start(&d->sweep, on_sweep, SWEEP_MS, SWEEP_MS);
	rc = uv_poll_start(&d->poll, UV_READABLE, on_poll);
	if (rc == 0)
		rc = uv_poll_start(&d->lpoll, UV_READABLE, on_listen);
	if (rc < 0) {
		LOGE("%s: poll: %s", d->name, uv_strerror(rc));
		d->conf.on_freed = NULL; /* the caller frees on failure */
		mhd_uv_stop(d);
		return LAB_EIO;
	}
	LOGI("%s: listening on %s (port %d)", d->name, conf->listen, d->port);
	*out = d;
	return 0;
fail_mhd:
	MHD_stop_daemon(d->mhd);
fail:
	if (d->listen_fd >= 0)
		close(d->listen_fd);
	free(d->name);
	free(d);
	return rc;
}

int mhd_uv_port(const struct mhd_uv *d) { return d ? d->port : -1; }
struct MHD_Daemon *mhd_uv_daemon(struct mhd_uv *d) { return d->mhd; }
unsigned mhd_uv_live(const struct mhd_uv *d) { return d ? d->n_live + d->n_detached : 0; }

void mhd_uv_detach(struct mhd_uv *d, struct MHD_Connection *c)
{
	struct conn *cn = conn_of(c);
	d->n_detached++;
	/* counted once: no longer as MHD's, though MHD closes it only next run */
	if (cn && !cn->cut && !cn->detached) {
		cn->detached = 1;
		d->n_live--;
	}
}

void mhd_uv_detached_end(struct mhd_uv *d)
{
	if (d && d->n_detached > 0)
		d->n_detached--;
}
int mhd_uv_stopping(const struct mhd_uv *d) { return d->stopping; }

void mhd_uv_stop(struct mhd_uv *d)
{
	if (!d || d->stopping)
		return;
	d->stopping = 1;
	if (!d->in_run)
		teardown(d);
}
