/* The admin HTTP endpoint: libmicrohttpd on the loop through the shared
 * driver (mhd_uv.h), so every handler runs on the loop thread. */
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

#include "log.h"
#include "metrics.h"
#include "mhd_uv.h"

#define CONN_LIMIT 64
/* A connection must deliver a complete request head within this time of
 * connecting or of its previous answer, or it is cut: idle and slowloris
 * connections cannot hold the slots that /healthz needs. */
#define HEAD_TIMEOUT_MS 5000
/* libmicrohttpd's own backstop (idle seconds). */
#define CONN_TIMEOUT_S 10
#define CONN_MEMORY (32 * 1024)
#define MAX_BODY ADMIN_BODY_MAX
#define NAME_MAX_LEN 64
/* A broker subject (host/broker.h BROKER_SUBJECT_MAX). */
#define SUBJECT_MAX_LEN 255

#define CT_JSON "application/json"
#define CT_PROM "text/plain; version=0.0.4; charset=utf-8"

struct admin {
	uv_loop_t *loop;
	struct metrics *metrics; /* rendered at /metrics (NULL: process metrics only) */
	struct mhd_uv *drv;
	struct admin_ops ops;
	void *ud;
	char *token;
	size_t token_len;
};

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
	if (mhd_uv_stopping(a->drv))
		return MHD_NO; /* admin_stop() ran inside this MHD_run(): no more callbacks */
	if (!r) {
		r = calloc(1, sizeof(*r));
		if (!r)
			return MHD_NO;
		*req_cls = r;
		mhd_uv_request_begin(a->drv, c);
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
	(void)toe;
	mhd_uv_request_end(a->drv, c);
	struct req *r = *req_cls;
	if (r)
		buf_free(&r->in);
	free(r);
	*req_cls = NULL;
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

static void admin_freed(void *cls)
{
	struct admin *a = cls;
	if (a->token) {
		explicit_bzero(a->token, a->token_len);
		free(a->token);
	}
	free(a);
}

int admin_start(uv_loop_t *loop, struct metrics *metrics, const char *listen, const char *token,
		const struct admin_ops *ops, void *ud, struct admin **out)
{
	*out = NULL;
	if (!loop || !listen || !ops)
		return LAB_EINVAL;
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
	struct mhd_uv_conf conf = {
		.name = "admin",
		.listen = listen,
		.conn_limit = CONN_LIMIT,
		.head_timeout_ms = HEAD_TIMEOUT_MS,
		.mhd_timeout_s = CONN_TIMEOUT_S,
		.conn_memory = CONN_MEMORY,
		.on_request = on_request,
		.on_completed = on_completed,
		.cls = a,
		.on_freed = admin_freed,
	};
	int rc = mhd_uv_start(loop, &conf, &a->drv);
	if (rc < 0) {
		admin_freed(a);
		return rc;
	}
	*out = a;
	return 0;
}

int admin_port(const struct admin *a)
{
	return a ? mhd_uv_port(a->drv) : -1;
}

void admin_stop(struct admin *a)
{
	if (a)
		mhd_uv_stop(a->drv);
}
