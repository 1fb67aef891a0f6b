/* HTTP services of the fake host (SDK 1.4): routes the plugin registers,
 * requests a test injects (labt_http), the answers and streams it reads
 * back.  No sockets: the fake records what the plugin answered exactly as
 * given (no 304/gzip/HEAD handling, which are the host's). */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "labt.h"

struct labt_route {
	char *method, *pattern;
	size_t plen;
	int prefix;
	lab_http_cb cb;
	void *ud;
};

/* A request; its pub member is what the plugin holds. */
struct labt_req {
	lab_http_req pub;
	struct labt *t;
	char *method, *path, *query;
	char **headers; /* "Name: value" */
	int answered;
	int status;
	struct buf body;
	char *ctype, *etag, *cache_control;
	int64_t last_modified;
	unsigned flags;
	struct buf extra; /* extra header lines, '\n'-terminated */
	lab_stream *stream;
	char *qval; /* last lab_http_query result */
};

struct lab_stream {
	struct labt *t;
	int kind;
	lab_stream_msg_cb on_msg;
	lab_stream_close_cb on_close;
	void *ud;
	int closed; /* on_close called */
	int close_code;
	struct labt_vec sent; /* struct buf * */
};

static struct labt_req *req_of(const lab_http_req *r) { return (struct labt_req *)r; }

static void free_reqs(struct labt *t)
{
	for (size_t i = 0; i < t->http_reqs.n; i++) {
		struct labt_req *r = t->http_reqs.v[i];
		free(r->method);
		free(r->path);
		free(r->query);
		for (char **h = r->headers; h && *h; h++)
			free(*h);
		free(r->headers);
		buf_free(&r->body);
		buf_free(&r->extra);
		free(r->ctype);
		free(r->etag);
		free(r->cache_control);
		free(r->qval);
		free(r);
	}
	t->http_reqs.n = 0;
}

void labti_http_stop(struct labt *t)
{
	for (size_t i = 0; i < t->http_routes.n; i++) {
		struct labt_route *rt = t->http_routes.v[i];
		free(rt->method);
		free(rt->pattern);
		free(rt);
	}
	t->http_routes.n = 0;
	for (size_t i = 0; i < t->http_streams.n; i++) {
		lab_stream *s = t->http_streams.v[i];
		if (s->closed)
			continue;
		s->closed = 1;
		s->close_code = 1001;
		if (s->on_close) {
			t->in_callback++;
			s->on_close(&t->pub, s, LAB_ECANCELED, s->ud);
			t->in_callback--;
		}
	}
}

void labti_http_free(struct labt *t)
{
	labti_http_stop(t);
	free_reqs(t);
	for (size_t i = 0; i < t->http_streams.n; i++) {
		lab_stream *s = t->http_streams.v[i];
		for (size_t k = 0; k < s->sent.n; k++) {
			buf_free(s->sent.v[k]);
			free(s->sent.v[k]);
		}
		free(s->sent.v);
		free(s);
	}
	free(t->http_routes.v);
	free(t->http_reqs.v);
	free(t->http_streams.v);
}

/* ---- the SDK table ---------------------------------------------------- */

int labti_http_route(struct labt *t, const char *method, const char *pattern, lab_http_cb cb,
		     void *ud, lab_route **out)
{
	labti_loop_only(t, "lab_http_route");
	if (!method || !pattern || !cb || pattern[0] != '/' || strcmp(method, "HEAD") == 0)
		return LAB_EINVAL;
	size_t len = strlen(pattern);
	int prefix = len >= 2 && pattern[len - 1] == '*' && pattern[len - 2] == '/';
	if (strstr(pattern, "//") || strstr(pattern, "/../") || strstr(pattern, "/./") ||
	    (!prefix && strchr(pattern, '*')))
		return LAB_EINVAL;
	for (const char *m = method; *m; m++)
		if (*m < 'A' || *m > 'Z')
			return LAB_EINVAL;
	for (size_t i = 0; i < t->http_routes.n; i++) {
		struct labt_route *rt = t->http_routes.v[i];
		if (strcmp(rt->method, method) == 0 && strcmp(rt->pattern, pattern) == 0)
			return LAB_EEXIST;
	}
	struct labt_route *rt = calloc(1, sizeof *rt);
	if (!rt)
		return LAB_ENOMEM;
	rt->method = labti_strdup(method);
	rt->pattern = labti_strdup(pattern);
	rt->plen = prefix ? len - 1 : len;
	rt->prefix = prefix;
	rt->cb = cb;
	rt->ud = ud;
	labti_vec_push(&t->http_routes, rt);
	if (out)
		*out = (lab_route *)rt;
	return 0;
}

const char *labti_http_method(const lab_http_req *r) { return req_of(r)->method; }
const char *labti_http_path(const lab_http_req *r) { return req_of(r)->path; }

const char *labti_http_header(const lab_http_req *req, const char *name)
{
	struct labt_req *r = req_of(req);
	size_t n = strlen(name);
	for (char **h = r->headers; h && *h; h++)
		if (strncasecmp(*h, name, n) == 0 && (*h)[n] == ':')
			return *h + n + 1 + ((*h)[n + 1] == ' ');
	return NULL;
}

const char *labti_http_query(const lab_http_req *req, const char *name)
{
	struct labt_req *r = req_of(req);
	size_t n = strlen(name);
	for (const char *p = r->query; p && *p;) {
		const char *end = strchr(p, '&');
		size_t l = end ? (size_t)(end - p) : strlen(p);
		if (strncmp(p, name, n) == 0 && (l == n || p[n] == '=')) {
			free(r->qval);
			r->qval = l == n ? labti_strdup("") : labti_strndup(p + n + 1, l - n - 1);
			return r->qval; /* not decoded: tests write plain values */
		}
		p = end ? end + 1 : NULL;
	}
	return NULL;
}

int labti_http_respond(struct labt *t, lab_http_req *req, const lab_http_response *a)
{
	struct labt_req *r = req_of(req);
	labti_loop_only(t, "lab_http_respond");
	if (r->answered)
		labti_die("lab_http_respond", "the request was answered already");
	r->answered = 1;
	if (!a || a->status < 100 || a->status > 599 || (a->len && !a->body)) {
		r->status = 500;
		return LAB_EINVAL;
	}
	r->status = a->status;
	buf_append(&r->body, a->body ? a->body : "", a->len);
	r->ctype = labti_strdup(a->content_type ? a->content_type : "application/json");
	r->etag = a->etag ? labti_strdup(a->etag) : NULL;
	r->cache_control = a->cache_control ? labti_strdup(a->cache_control) : NULL;
	r->last_modified = a->last_modified;
	r->flags = a->flags;
	for (const char *const *h = a->headers; h && *h; h++)
		buf_printf(&r->extra, "%s\n", *h);
	return 0;
}

int labti_stream_open(struct labt *t, lab_http_req *req, int kind, const char *const *headers,
		      lab_stream_msg_cb on_msg, lab_stream_close_cb on_close, void *ud,
		      lab_stream **out)
{
	struct labt_req *r = req_of(req);
	labti_loop_only(t, "lab_stream_open");
	if (r->answered)
		labti_die("lab_stream_open", "the request was answered already");
	r->answered = 1;
	if (kind != LAB_STREAM_SSE && kind != LAB_STREAM_WEBSOCKET) {
		r->status = 500;
		return LAB_EINVAL;
	}
	lab_stream *s = calloc(1, sizeof *s);
	if (!s)
		return LAB_ENOMEM;
	s->t = t;
	s->kind = kind;
	s->on_msg = on_msg;
	s->on_close = on_close;
	s->ud = ud;
	labti_vec_push(&t->http_streams, s);
	r->status = kind == LAB_STREAM_SSE ? 200 : 101;
	r->stream = s;
	for (const char *const *h = headers; h && *h; h++)
		buf_printf(&r->extra, "%s\n", *h);
	if (out)
		*out = s;
	return 0;
}

int labti_stream_send(struct labt *t, lab_stream *s, const char *event, const char *id,
		      const void *data, size_t len)
{
	labti_loop_only(t, "lab_stream_send");
	if (!s || (!data && len))
		return LAB_EINVAL;
	if (s->closed || s->close_code)
		return LAB_ESTATE;
	struct buf *b = calloc(1, sizeof *b);
	if (!b)
		return LAB_ENOMEM;
	if (s->kind == LAB_STREAM_SSE) {
		if ((event && strpbrk(event, "\r\n")) || (id && strpbrk(id, "\r\n")) ||
		    memchr(data ? data : "", '\n', len) || memchr(data ? data : "", '\r', len)) {
			free(b);
			return LAB_EINVAL;
		}
		if (id)
			buf_printf(b, "id: %s\n", id);
		if (event)
			buf_printf(b, "event: %s\n", event);
		buf_puts(b, "data: ");
		buf_append(b, data ? data : "", len);
		buf_puts(b, "\n\n");
	} else {
		buf_append(b, data ? data : "", len);
	}
	labti_vec_push(&s->sent, b);
	return 0;
}

static void close_later(struct labt *t, lab_stream *s, int reason);

int labti_stream_close(struct labt *t, lab_stream *s, int code)
{
	labti_loop_only(t, "lab_stream_close");
	if (!s)
		return LAB_EINVAL;
	if (s->closed || s->close_code)
		return LAB_ESTATE;
	s->close_code = code ? code : 1000;
	close_later(t, s, 0);
	return 0;
}

/* on_close on a later turn: a zero-delay timer event of the fake loop. */
static void close_fire(lab_ctx *ctx, lab_timer *tm, void *ud)
{
	(void)tm;
	lab_stream *s = ud;
	if (s->closed)
		return;
	s->closed = 1;
	if (s->on_close)
		s->on_close(ctx, s, 0, s->ud);
}

static void close_later(struct labt *t, lab_stream *s, int reason)
{
	(void)reason;
	struct labt_ev *e = labti_ev_new(t, EV_TIMER);
	e->timer_cb = close_fire;
	e->ud = s;
	labti_ev_queue(t, e, 0);
}

/* ---- the test's side ------------------------------------------------------ */

static size_t score(const struct labt_route *rt, const char *path)
{
	size_t n = strlen(path);
	if (!rt->prefix)
		return strcmp(rt->pattern, path) == 0 ? 2 * n + 1 : 0;
	return n > rt->plen && strncmp(path, rt->pattern, rt->plen) == 0 ? 2 * rt->plen : 0;
}

int labt_http(labt *t, const char *method, const char *target, const char *const *headers)
{
	labti_loop_only(t, "labt_http");
	struct labt_req *r = calloc(1, sizeof *r);
	if (!r)
		labti_die("labt_http", "out of memory");
	r->pub.api = &t->api;
	r->t = t;
	r->method = labti_strdup(method);
	const char *q = strchr(target, '?');
	r->path = q ? labti_strndup(target, (size_t)(q - target)) : labti_strdup(target);
	r->query = q ? labti_strdup(q + 1) : NULL;
	size_t nh = 0;
	while (headers && headers[nh])
		nh++;
	r->headers = calloc(nh + 1, sizeof *r->headers);
	for (size_t i = 0; i < nh; i++)
		r->headers[i] = labti_strdup(headers[i]);
	labti_vec_push(&t->http_reqs, r);
	int idx = (int)t->http_reqs.n - 1;
	struct labt_route *best = NULL, *match = NULL;
	size_t bs = 0;
	for (size_t i = 0; i < t->http_routes.n; i++) {
		struct labt_route *rt = t->http_routes.v[i];
		size_t sc = score(rt, r->path);
		if (sc > bs) {
			bs = sc;
			best = rt;
		}
	}
	const char *want = strcmp(method, "HEAD") == 0 ? "GET" : method;
	for (size_t i = 0; best && i < t->http_routes.n; i++) {
		struct labt_route *rt = t->http_routes.v[i];
		if (strcmp(rt->pattern, best->pattern) == 0 && strcmp(rt->method, want) == 0)
			match = rt;
	}
	if (!match) {
		r->answered = 1;
		r->status = best ? 405 : 404;
		return idx;
	}
	t->in_callback++;
	match->cb(&t->pub, &r->pub, match->ud);
	t->in_callback--;
	labt_pump(t);
	return idx;
}

static struct labt_req *req_at(const labt *t, int i)
{
	if (i < 0 || (size_t)i >= t->http_reqs.n)
		labti_die("labt_http_*", "no such request");
	return t->http_reqs.v[i];
}

int labt_http_status(const labt *t, int i)
{
	struct labt_req *r = req_at(t, i);
	return r->answered ? r->status : 0;
}

const char *labt_http_body(const labt *t, int i, size_t *len)
{
	struct labt_req *r = req_at(t, i);
	if (len)
		*len = r->body.len;
	return r->body.data ? r->body.data : "";
}

const char *labt_http_response_header(const labt *t, int i, const char *name)
{
	struct labt_req *r = req_at(t, i);
	if (strcasecmp(name, "Content-Type") == 0)
		return r->ctype;
	if (strcasecmp(name, "ETag") == 0)
		return r->etag;
	if (strcasecmp(name, "Cache-Control") == 0)
		return r->cache_control;
	if (strcasecmp(name, "Content-Encoding") == 0)
		return r->flags & LAB_HTTP_GZIP ? "gzip" : NULL;
	size_t n = strlen(name);
	for (const char *p = r->extra.data; p && *p;) {
		const char *nl = strchr(p, '\n');
		if (strncasecmp(p, name, n) == 0 && p[n] == ':') {
			free(r->qval);
			r->qval = labti_strndup(p + n + 2, (size_t)(nl - p) - n - 2);
			return r->qval;
		}
		p = nl + 1;
	}
	return NULL;
}

int64_t labt_http_last_modified(const labt *t, int i) { return req_at(t, i)->last_modified; }

lab_stream *labt_http_stream(const labt *t, int i) { return req_at(t, i)->stream; }

size_t labt_stream_sent(const labt *t, lab_stream *s, size_t k, const char **data, size_t *len)
{
	(void)t;
	if (k < s->sent.n) {
		struct buf *b = s->sent.v[k];
		if (data)
			*data = b->data ? b->data : "";
		if (len)
			*len = b->len;
	}
	return s->sent.n;
}

int labt_stream_push(labt *t, lab_stream *s, const void *data, size_t len)
{
	labti_loop_only(t, "labt_stream_push");
	if (s->closed || s->kind != LAB_STREAM_WEBSOCKET)
		return LAB_ESTATE;
	if (s->on_msg) {
		t->in_callback++;
		s->on_msg(&t->pub, s, data, len, s->ud);
		t->in_callback--;
	}
	labt_pump(t);
	return 0;
}

int labt_stream_peer_close(labt *t, lab_stream *s, int reason)
{
	labti_loop_only(t, "labt_stream_peer_close");
	if (s->closed)
		return LAB_ESTATE;
	s->closed = 1;
	if (s->on_close) {
		t->in_callback++;
		s->on_close(&t->pub, s, reason, s->ud);
		t->in_callback--;
	}
	labt_pump(t);
	return 0;
}

int labt_stream_state(const labt *t, lab_stream *s, int *close_code)
{
	(void)t;
	if (close_code)
		*close_code = s->close_code;
	return s->closed;
}
