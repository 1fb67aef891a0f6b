/* The admin HTTP endpoint: libmicrohttpd without threads, its epoll fd watched
 * by a uv_poll_t and its connection timeouts by a uv_timer_t, so every handler
 * runs on the loop thread. */
#include "admin.h"

#include <errno.h>
#include <microhttpd.h>
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "listen_addr.h"
#include "log.h"
#include "metrics.h"

#define CONN_LIMIT 64
/* A connection must deliver a complete request head within this time of
 * connecting or of its previous answer, or it is cut: idle and slowloris
 * connections cannot hold the slots that /healthz needs. */
#define HEAD_TIMEOUT_MS 5000
#define SWEEP_MS 500
#define LISTEN_BACKLOG 128
/* libmicrohttpd's own backstop (idle seconds). */
#define CONN_TIMEOUT_S 10
#define CONN_MEMORY (32 * 1024)
#define MAX_BODY ADMIN_BODY_MAX
#define NAME_MAX_LEN 64
/* A broker subject (host/broker.h BROKER_SUBJECT_MAX). */
#define SUBJECT_MAX_LEN 255

#define CT_JSON "application/json"
#define CT_PROM "text/plain; version=0.0.4; charset=utf-8"

/* One accepted connection, as the guard sees it. */
struct conn {
	struct conn *prev, *next;
	int fd;
	uint64_t since;  /* connected, or its last answer completed (loop ms) */
	int in_request;  /* its request head arrived; being answered */
	int cut;         /* shut down by the guard; MHD closes it next */
};

struct admin {
	uv_loop_t *loop;
	struct metrics *metrics; /* rendered at /metrics (NULL: process metrics only) */
	struct MHD_Daemon *mhd;
	uv_poll_t poll;
	uv_timer_t timer;
	/* The listening socket is labd's, not libmicrohttpd's: labd accepts,
	 * applies the limits and hands connections over (MHD_add_connection). */
	int listen_fd;
	uv_poll_t lpoll;
	uv_timer_t sweep;
	struct conn *conns;
	unsigned n_live; /* connections not cut */
	struct admin_ops ops;
	void *ud;
	char *token;
	size_t token_len;
	int port;
	int handles;  /* uv handles whose close callback is pending */
	int starting; /* MHD messages are worth a warning only during start */
	int in_run;   /* inside MHD_run(): admin_stop() must defer the teardown */
	int stopping;
};

static struct conn *conn_of(struct MHD_Connection *c)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	return ci ? ci->socket_context : NULL;
}

enum route { R_HEALTHZ, R_READYZ, R_METRICS, R_PLUGINS, R_LEASES, R_ACTION, R_PUBLISH };

/* "reprocess" (the last) hands its body to ops.reprocess. */
static const char *const actions[] = { "reload", "enable", "disable", "run", "reprocess" };
#define ACTION_REPROCESS 4u

static const struct {
	const char *path;
	enum route route;
} get_routes[] = {
	{ "/healthz", R_HEALTHZ },
	{ "/readyz", R_READYZ },
	{ "/metrics", R_METRICS },
	{ "/plugins", R_PLUGINS },
	{ "/cluster/leases", R_LEASES },
};

/* Per-request state, freed by the request-completed callback. */
struct req {
	enum route route;
	unsigned action;
	size_t body;
	char name[NAME_MAX_LEN + 1];
	/* reprocess and publish keep their body (at most MAX_BODY bytes) */
	int keep_body;
	struct buf in;
	char subject[SUBJECT_MAX_LEN + 1];
};

/* ---------------------------------------------------------------- listen address */

/* ---------------------------------------------------------------- responses */

static enum MHD_Result respond(struct MHD_Connection *c, unsigned status, struct buf *body,
			       const char *ctype, const char *hname, const char *hval)
{
	static char oom_body[] = "{\"error\":\"out of memory\"}";
	struct MHD_Response *resp;
	if (body->oom) {
		buf_free(body);
		status = MHD_HTTP_INTERNAL_SERVER_ERROR;
		ctype = CT_JSON;
		hname = NULL;
		resp = MHD_create_response_from_buffer(sizeof(oom_body) - 1, oom_body,
						       MHD_RESPMEM_PERSISTENT);
	} else {
		size_t len;
		char *data = buf_steal(body, &len);
		if (!data)
			resp = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
		else if (!(resp = MHD_create_response_from_buffer_with_free_callback(len, data,
										    free)))
			free(data);
	}
	if (!resp)
		return MHD_NO;
	int ok = MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, ctype) &&
		 MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store") &&
		 (!hname || MHD_add_response_header(resp, hname, hval));
	enum MHD_Result ret = ok ? MHD_queue_response(c, status, resp) : MHD_NO;
	MHD_destroy_response(resp);
	return ret;
}

static enum MHD_Result respond_error(struct MHD_Connection *c, unsigned status, const char *msg,
				     const char *hname, const char *hval)
{
	struct buf b = BUF_INIT;
	buf_puts(&b, "{\"error\":");
	buf_json_str(&b, msg, strlen(msg));
	buf_putc(&b, '}');
	return respond(c, status, &b, CT_JSON, hname, hval);
}

/* ---------------------------------------------------------------- routing */

/* Constant time in the given value: always walks the whole token and never
 * branches on a byte or on where the first difference is. */
static int token_equal(const char *given, size_t glen, const char *token, size_t tlen)
{
	unsigned char diff = 0;
	for (size_t i = 0; i < tlen; i++) {
		size_t in = (size_t)0 - (size_t)(i < glen);
		unsigned char g = (unsigned char)given[i & in] & (unsigned char)in;
		diff |= (unsigned char)(g ^ (unsigned char)token[i]);
	}
	return (diff | (unsigned char)(glen != tlen)) == 0;
}

static int authorized(const struct admin *a, struct MHD_Connection *c)
{
	if (a->token_len == 0)
		return 1;
	const char *h = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
						    MHD_HTTP_HEADER_AUTHORIZATION);
	if (!h || strncasecmp(h, "Bearer ", 7) != 0)
		return 0;
	h += 7;
	while (*h == ' ')
		h++;
	return token_equal(h, strlen(h), a->token, a->token_len);
}

/* "/plugins/NAME/ACTION" with NAME in [a-z0-9_]{1,64}; 0 on a match. */
static int parse_action(const char *url, struct req *r)
{
	static const char prefix[] = "/plugins/";
	if (strncmp(url, prefix, sizeof(prefix) - 1) != 0)
		return -1;
	const char *name = url + sizeof(prefix) - 1;
	size_t n = strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789_");
	if (n == 0 || n > NAME_MAX_LEN || name[n] != '/')
		return -1;
	for (unsigned i = 0; i < sizeof(actions) / sizeof(actions[0]); i++) {
		if (strcmp(name + n + 1, actions[i]) == 0) {
			memcpy(r->name, name, n);
			r->name[n] = '\0';
			r->action = i;
			r->route = R_ACTION;
			return 0;
		}
	}
	return -1;
}

/* "/publish/SUBJECT" with SUBJECT of [A-Za-z0-9_.-]{1,255}; 0 on a match
 * (the broker's rules are checked by ops.publish). */
static int parse_publish(const char *url, struct req *r)
{
	static const char prefix[] = "/publish/";
	if (strncmp(url, prefix, sizeof(prefix) - 1) != 0)
		return -1;
	const char *subj = url + sizeof(prefix) - 1;
	size_t n = strspn(subj, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-");
	if (n == 0 || n > SUBJECT_MAX_LEN || subj[n] != '\0')
		return -1;
	memcpy(r->subject, subj, n + 1);
	r->route = R_PUBLISH;
	r->keep_body = 1;
	return 0;
}

/* Everything that can be refused before the body is read: 404, 405, 401, 413. */
static enum MHD_Result route_request(struct admin *a, struct MHD_Connection *c, const char *url,
				     const char *method, struct req *r, int *refused)
{
	int found = 0;
	*refused = 1;
	for (unsigned i = 0; i < sizeof(get_routes) / sizeof(get_routes[0]); i++) {
		if (strcmp(url, get_routes[i].path) == 0) {
			r->route = get_routes[i].route;
			found = 1;
		}
	}
	if (found) {
		if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 &&
		    strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
			return respond_error(c, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed",
					     MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
	} else if (parse_action(url, r) == 0 || parse_publish(url, r) == 0) {
		if (r->route == R_ACTION && r->action == ACTION_REPROCESS)
			r->keep_body = 1;
		if (strcmp(method, MHD_HTTP_METHOD_POST) != 0)
			return respond_error(c, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed",
					     MHD_HTTP_HEADER_ALLOW, "POST");
		if (!authorized(a, c))
			return respond_error(c, MHD_HTTP_UNAUTHORIZED, "unauthorized",
					     MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer");
		/* Browsers send Origin on cross-site POSTs, CLI clients don't: without
		 * this, any web page could POST to 127.0.0.1 when no token is set. */
		if (MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_ORIGIN))
			return respond_error(c, MHD_HTTP_FORBIDDEN,
					     "requests from web pages are refused", NULL, NULL);
	} else {
		return respond_error(c, MHD_HTTP_NOT_FOUND, "not found", NULL, NULL);
	}
	const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
						     MHD_HTTP_HEADER_CONTENT_LENGTH);
	if (cl && (strlen(cl) > 9 || strtoul(cl, NULL, 10) > MAX_BODY))
		return respond_error(c, MHD_HTTP_CONTENT_TOO_LARGE, "request body too large",
				     NULL, NULL);
	*refused = 0;
	return MHD_YES;
}

static int call_op(int (*op)(void *, struct buf *), void *ud, struct buf *body)
{
	if (!op) {
		buf_puts(body, "{\"error\":\"not implemented\"}");
		return MHD_HTTP_NOT_IMPLEMENTED;
	}
	return op(ud, body);
}

static enum MHD_Result dispatch(struct admin *a, struct MHD_Connection *c, const struct req *r)
{
	struct buf body = BUF_INIT;
	const char *ctype = CT_JSON;
	int status;
	switch (r->route) {
	case R_HEALTHZ:
		buf_puts(&body, "{\"status\":\"ok\"}");
		status = MHD_HTTP_OK;
		break;
	case R_READYZ:
		status = call_op(a->ops.readyz, a->ud, &body);
		break;
	case R_METRICS:
		metrics_render(a->metrics, &body);
		ctype = CT_PROM;
		status = MHD_HTTP_OK;
		break;
	case R_PLUGINS:
		status = call_op(a->ops.plugins, a->ud, &body);
		break;
	case R_LEASES:
		status = call_op(a->ops.leases, a->ud, &body);
		break;
	case R_ACTION:
		if (!a->ops.plugin_action) {
			buf_puts(&body, "{\"error\":\"not implemented\"}");
			status = MHD_HTTP_NOT_IMPLEMENTED;
			break;
		}
		LOGI("admin: %s plugin %s", actions[r->action], r->name);
		if (r->action == ACTION_REPROCESS)
			status = a->ops.reprocess ? a->ops.reprocess(a->ud, r->name, r->in.data,
								     r->in.len, &body)
						  : MHD_HTTP_NOT_IMPLEMENTED;
		else
			status = a->ops.plugin_action(a->ud, r->name, actions[r->action], &body);
		break;
	case R_PUBLISH:
		LOGI("admin: publish %s (%zu bytes)", r->subject, r->in.len);
		status = a->ops.publish ? a->ops.publish(a->ud, r->subject, r->in.data, r->in.len,
							 &body)
					: MHD_HTTP_NOT_IMPLEMENTED;
		break;
	default:
		status = MHD_HTTP_INTERNAL_SERVER_ERROR;
		break;
	}
	if (status < 100 || status > 599) {
		LOGW("admin: handler returned status %d", status);
		buf_free(&body);
		return respond_error(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal error",
				     NULL, NULL);
	}
	return respond(c, (unsigned)status, &body, ctype, NULL, NULL);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
				  const char *method, const char *version, const char *upload,
				  size_t *upload_size, void **req_cls)
{
	struct admin *a = cls;
	struct req *r = *req_cls;
	if (a->stopping)
		return MHD_NO; /* admin_stop() ran inside this MHD_run(): no more callbacks */
	if (!r) {
		r = calloc(1, sizeof(*r));
		if (!r)
			return MHD_NO;
		*req_cls = r;
		struct conn *cn = conn_of(c);
		if (cn)
			cn->in_request = 1;
		int refused;
		enum MHD_Result ret = route_request(a, c, url, method, r, &refused);
		if (refused)
			r->body = SIZE_MAX; /* answered: ignore later calls */
		return ret;
	}
	if (r->body == SIZE_MAX) {
		*upload_size = 0;
		return MHD_YES;
	}
	if (*upload_size) {
		/* Bodies are read and ignored (kept for reprocess and publish).  One
		 * without a Content-Length can only be refused by closing: MHD
		 * accepts no response mid-upload. */
		r->body += *upload_size;
		if (r->body > MAX_BODY)
			return MHD_NO;
		if (r->keep_body) {
			buf_append(&r->in, upload, *upload_size);
			if (r->in.oom)
				return MHD_NO;
		}
		*upload_size = 0;
		return MHD_YES;
	}
	r->body = SIZE_MAX;
	return dispatch(a, c, r);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **req_cls,
			 enum MHD_RequestTerminationCode toe)
{
	struct admin *a = cls;
	struct conn *cn = conn_of(c);
	if (cn) {
		cn->in_request = 0;
		cn->since = uv_now(a->loop); /* the next request head is due from now */
	}
	struct req *r = *req_cls;
	if (r)
		buf_free(&r->in);
	free(r);
	*req_cls = NULL;
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
	const struct admin *a = cls;
	int level = a->starting ? LAB_LOG_ERROR : LAB_LOG_DEBUG;
	if (!log_enabled(level))
		return;
	struct buf b = BUF_INIT;
	buf_vprintf(&b, fmt, ap);
	while (b.len && (b.data[b.len - 1] == '\n' || b.data[b.len - 1] == ' '))
		b.data[--b.len] = '\0';
	if (!b.oom && b.data)
		log_msg(level, NULL, "admin: %s", b.data);
	buf_free(&b);
}

/* ---------------------------------------------------------------- connection guard */

/* libmicrohttpd sees the shut-down socket as closed by the peer and
 * releases the connection (MHD_CONNECTION_NOTIFY_CLOSED) in its next run. */
static void conn_cut(struct admin *a, struct conn *cn)
{
	if (cn->cut)
		return;
	shutdown(cn->fd, SHUT_RDWR);
	cn->cut = 1;
	a->n_live--;
}

static void on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
			  enum MHD_ConnectionNotificationCode toe)
{
	struct admin *a = cls;
	if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
		const union MHD_ConnectionInfo *ci =
			MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
		struct conn *cn = calloc(1, sizeof *cn);
		if (!cn || !ci) {
			free(cn); /* untracked: only MHD's own timeout applies */
			return;
		}
		cn->fd = ci->connect_fd;
		cn->since = uv_now(a->loop);
		cn->next = a->conns;
		if (a->conns)
			a->conns->prev = cn;
		a->conns = cn;
		a->n_live++;
		*socket_context = cn;
		return;
	}
	struct conn *cn = *socket_context;
	if (!cn)
		return;
	if (!cn->cut)
		a->n_live--;
	if (cn->prev)
		cn->prev->next = cn->next;
	else
		a->conns = cn->next;
	if (cn->next)
		cn->next->prev = cn->prev;
	free(cn);
	*socket_context = NULL;
}

/* The connection waiting longest for a request head, or NULL when every
 * live one is being answered (the list is newest first: on a tie the
 * oldest wins). */
static struct conn *oldest_waiting(struct admin *a)
{
	struct conn *best = NULL;
	for (struct conn *cn = a->conns; cn; cn = cn->next)
		if (!cn->cut && !cn->in_request && (!best || cn->since <= best->since))
			best = cn;
	return best;
}

static void run_mhd(struct admin *a);

static void on_sweep(uv_timer_t *t)
{
	struct admin *a = t->data;
	uint64_t now = uv_now(a->loop);
	int cut = 0;
	for (struct conn *cn = a->conns; cn; cn = cn->next) {
		if (!cn->cut && !cn->in_request && now - cn->since >= HEAD_TIMEOUT_MS) {
			conn_cut(a, cn);
			cut = 1;
		}
	}
	if (cut)
		run_mhd(a);
}

/* At the limit a new connection takes the place of the one that has waited
 * longest without sending a request; when all are being answered, the new
 * one is accepted and closed at once (never left hanging in the backlog). */
static void on_listen(uv_poll_t *p, int status, int events)
{
	struct admin *a = p->data;
	int added = 0;
	for (;;) {
		struct sockaddr_storage ss;
		socklen_t len = sizeof ss;
		int fd = accept4(a->listen_fd, (struct sockaddr *)&ss, &len,
				 SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				LOGW("admin: accept: %s", strerror(errno));
			break;
		}
		if (a->n_live >= CONN_LIMIT) {
			struct conn *victim = oldest_waiting(a);
			if (!victim) {
				close(fd);
				continue;
			}
			conn_cut(a, victim);
		}
		if (MHD_add_connection(a->mhd, fd, (struct sockaddr *)&ss, len) != MHD_YES)
			LOGD("admin: connection refused: %s", strerror(errno)); /* fd closed by MHD */
		added = 1;
	}
	if (added)
		run_mhd(a);
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
	struct admin *a = h->data;
	if (--a->handles > 0)
		return;
	if (a->token) {
		explicit_bzero(a->token, a->token_len);
		free(a->token);
	}
	free(a);
}

/* Closing the poll handle first removes MHD's epoll fd from the loop before
 * MHD_stop_daemon() closes it. */
static void teardown(struct admin *a)
{
	uv_close((uv_handle_t *)&a->poll, on_closed);
	uv_close((uv_handle_t *)&a->timer, on_closed);
	uv_close((uv_handle_t *)&a->lpoll, on_closed);
	uv_close((uv_handle_t *)&a->sweep, on_closed);
	close(a->listen_fd); /* its poll handle is stopped already */
	a->listen_fd = -1;
	MHD_stop_daemon(a->mhd); /* closes the connections: NOTIFY_CLOSED frees each */
	a->mhd = NULL;
}

static void on_timer(uv_timer_t *t);

static void run_mhd(struct admin *a)
{
	MHD_UNSIGNED_LONG_LONG ms;
	a->in_run = 1;
	MHD_run(a->mhd);
	a->in_run = 0;
	if (a->stopping) {
		teardown(a);
		return;
	}
	/* MHD_get_timeout() is 0 when edge-triggered data is still pending. */
	if (MHD_get_timeout(a->mhd, &ms) == MHD_YES)
		uv_timer_start(&a->timer, on_timer, ms > 86400000 ? 86400000 : (uint64_t)ms, 0);
	else
		uv_timer_stop(&a->timer);
}

static void on_timer(uv_timer_t *t)
{
	run_mhd(t->data);
}

static void on_poll(uv_poll_t *p, int status, int events)
{
	struct admin *a = p->data;
	if (status < 0)
		LOGW("admin: poll: %s", uv_strerror(status));
	run_mhd(a);
}

/* ---------------------------------------------------------------- public */

int admin_set_token(struct admin *a, const char *token)
{
	char *t = NULL;
	if (token && token[0] && !(t = strdup(token)))
		return LAB_ENOMEM;
	if (a->token) {
		explicit_bzero(a->token, a->token_len);
		free(a->token);
	}
	a->token = t;
	a->token_len = t ? strlen(t) : 0;
	return 0;
}

int admin_start(uv_loop_t *loop, struct metrics *metrics, const char *listen, const char *token,
		const struct admin_ops *ops, void *ud, struct admin **out)
{
	struct sockaddr_storage ss;
	*out = NULL;
	if (!loop || !listen || !ops)
		return LAB_EINVAL;
	int rc = listen_addr_parse(listen, &ss);
	if (rc < 0) {
		LOGE("admin: listen \"%s\": expected a numeric HOST:PORT or [IPV6]:PORT", listen);
		return rc;
	}
	struct admin *a = calloc(1, sizeof(*a));
	if (!a)
		return LAB_ENOMEM;
	a->loop = loop;
	a->metrics = metrics;
	a->ops = *ops;
	a->ud = ud;
	if (token && token[0]) {
		a->token_len = strlen(token);
		if (!(a->token = strdup(token))) {
			free(a);
			return LAB_ENOMEM;
		}
	}

	a->listen_fd = listen_socket(&ss, &a->port);
	if (a->listen_fd < 0) {
		LOGE("admin: cannot listen on %s: %s", listen, strerror(-a->listen_fd));
		rc = LAB_EIO;
		goto fail;
	}
	unsigned flags = MHD_USE_NO_LISTEN_SOCKET | MHD_USE_EPOLL | MHD_USE_TURBO |
			 MHD_USE_ERROR_LOG;
	a->starting = 1;
	a->mhd = MHD_start_daemon(flags, 0, NULL, NULL, on_request, a,
				  /* the logger must come first */
				  MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, a,
				  /* the guard keeps CONN_LIMIT; cut ones may linger a run */
				  MHD_OPTION_CONNECTION_LIMIT, (unsigned)(2 * CONN_LIMIT),
				  MHD_OPTION_NOTIFY_CONNECTION, on_connection, a,
				  MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)CONN_TIMEOUT_S,
				  MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)CONN_MEMORY,
				  MHD_OPTION_NOTIFY_COMPLETED, on_completed, a,
				  MHD_OPTION_END);
	a->starting = 0;
	if (!a->mhd) {
		LOGE("admin: cannot start the HTTP server on %s", listen);
		rc = LAB_EIO;
		goto fail;
	}
	const union MHD_DaemonInfo *info = MHD_get_daemon_info(a->mhd, MHD_DAEMON_INFO_EPOLL_FD);
	if (!info) {
		rc = LAB_EIO;
		goto fail_mhd;
	}
	rc = uv_poll_init(loop, &a->poll, info->epoll_fd);
	if (rc == 0)
		rc = uv_poll_init(loop, &a->lpoll, a->listen_fd);
	if (rc < 0) {
		LOGE("admin: poll: %s", uv_strerror(rc));
		rc = LAB_EIO;
		goto fail_mhd;
	}
	uv_timer_init(loop, &a->timer);
	uv_timer_init(loop, &a->sweep);
	a->poll.data = a->timer.data = a->lpoll.data = a->sweep.data = a;
	a->handles = 4;
	uv_timer_start(&a->sweep, on_sweep, SWEEP_MS, SWEEP_MS);
	rc = uv_poll_start(&a->poll, UV_READABLE, on_poll);
	if (rc == 0)
		rc = uv_poll_start(&a->lpoll, UV_READABLE, on_listen);
	if (rc < 0) {
		LOGE("admin: poll: %s", uv_strerror(rc));
		admin_stop(a);
		return LAB_EIO;
	}
	LOGI("admin: listening on %s (port %d)", listen, a->port);
	*out = a;
	return 0;
fail_mhd:
	MHD_stop_daemon(a->mhd);
fail:
	if (a->listen_fd >= 0)
		close(a->listen_fd);
	if (a->token) {
		explicit_bzero(a->token, a->token_len);
		free(a->token);
	}
	free(a);
	return rc;
}

int admin_port(const struct admin *a)
{
	return a ? a->port : -1;
}

void admin_stop(struct admin *a)
{
	if (!a || a->stopping)
		return;
	a->stopping = 1;
	if (!a->in_run)
		teardown(a);
}
