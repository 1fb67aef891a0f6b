/* The public HTTP listener: routes, requests and answers (httpd.h).
 * Streams are in httpd_stream.c. */
#include "httpd_internal.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "civil.h"
#include "heap.h"
#include "log.h"
#include "metrics.h"
#include "storage.h" /* gzip_decode */

#define SWEEP_MS 250
#define BODY_MAX (64 * 1024) /* request bodies are read and dropped up to this */
#define CT_JSON "application/json"
#define STREAMS_TRIM 64 /* streams ended since the last trim that earn one at the sweep */
/* MHD's per-connection pool is http.max_header_bytes plus this: MHD's index
 * of the head (64 bytes per header, query argument and cookie, and a copy
 * of the Cookie header) and the answer's head go there too.  Half of the
 * pool is dirtied by every connection (MHD zeroes its read buffer when it
 * shrinks it) and an SSE stream keeps its pool for life, so this margin
 * is idle memory per client (docs/http.md, docs/performance.md). */
#define POOL_MARGIN 4096

static const char *const wdays[] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
static const char *const months[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
				      "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };

/* ---------------------------------------------------------------- small helpers */

/* IMF-fixdate ("Sun, 06 Nov 1994 08:49:37 GMT"), the only form we send. */
static void http_date(int64_t t, char out[32])
{
	int64_t days = t >= 0 ? t / 86400 : (t - 86399) / 86400;
	int64_t sec = t - days * 86400, y;
	int m, d;
	civil_from_days(days, &y, &m, &d);
	int wd = (int)(((days % 7) + 11) % 7); /* 1970-01-01 was a Thursday */
	snprintf(out, 32, "%s, %02d %s %04d %02d:%02d:%02d GMT", wdays[wd], d, months[m - 1],
		 (int)y, (int)(sec / 3600), (int)(sec / 60 % 60), (int)(sec % 60));
}

/* IMF-fixdate only (what browsers send back); -1 when it is not one. */
static int64_t http_date_parse(const char *s)
{
	char wd[4], mon[4];
	int d, y, hh, mm, ss, n = 0;
	if (!s || sscanf(s, "%3s, %2d %3s %4d %2d:%2d:%2d GMT%n", wd, &d, mon, &y, &hh, &mm, &ss,
			 &n) != 7 || n == 0)
		return -1;
	int m = 0;
	while (m < 12 && strcmp(mon, months[m]) != 0)
		m++;
	if (m == 12 || d < 1 || d > 31 || hh > 23 || mm > 59 || ss > 60)
		return -1;
	return days_from_civil(y, m + 1, d) * 86400 + hh * 3600 + mm * 60 + ss;
}

/* Accept-Encoding allows gzip (a "gzip" or "*" entry without q=0). */
static int accepts_gzip(const char *ae)
{
	int star = 0;
	while (ae && *ae) {
		const char *end = strchr(ae, ',');
		size_t n = end ? (size_t)(end - ae) : strlen(ae);
		char item[64];
		if (n < sizeof item) {
			memcpy(item, ae, n);
			item[n] = '\0';
			char *p = item, *semi = strchr(item, ';');
			double q = 1;
			if (semi) {
				*semi = '\0';
				const char *qs = strstr(semi + 1, "q=");
				if (qs)
					q = strtod(qs + 2, NULL);
			}
			while (*p == ' ' || *p == '\t')
				p++;
			size_t l = strlen(p);
			while (l && (p[l - 1] == ' ' || p[l - 1] == '\t'))
				p[--l] = '\0';
			if (strcasecmp(p, "gzip") == 0 || strcasecmp(p, "x-gzip") == 0)
				return q > 0;
			if (strcmp(p, "*") == 0)
				star = q > 0;
		}
		ae = end ? end + 1 : NULL;
	}
	return star;
}

/* If-None-Match lists `etag` (weak comparison, RFC 9110 §13.1.2) or is "*". */
static int etag_matches(const char *inm, const char *etag)
{
	if (etag[0] == 'W' && etag[1] == '/')
		etag += 2;
	size_t el = strlen(etag);
	while (inm && *inm) {
		while (*inm == ' ' || *inm == '\t' || *inm == ',')
			inm++;
		if (*inm == '*')
			return 1;
		if (inm[0] == 'W' && inm[1] == '/')
			inm += 2;
		const char *end = inm;
		if (*end == '"') {
			end = strchr(inm + 1, '"');
			end = end ? end + 1 : inm + strlen(inm);
		} else {
			while (*end && *end != ',')
				end++;
		}
		if ((size_t)(end - inm) == el && memcmp(inm, etag, el) == 0)
			return 1;
		inm = end;
	}
	return 0;
}

/* "Name: value" with a token name, no CR/LF, and not a header the host sets. */
int httpd_header_ok(const char *line)
{
	static const char *const reserved[] = { "content-length", "content-encoding",
						"transfer-encoding", "connection", "upgrade" };
	const char *colon = strchr(line, ':');
	if (!colon || colon == line || colon[1] != ' ' || strpbrk(line, "\r\n"))
		return 0;
	for (const char *p = line; p < colon; p++)
		if (!isalnum((unsigned char)*p) && !strchr("!#$%&'*+-.^_`|~", *p))
			return 0;
	for (size_t i = 0; i < sizeof reserved / sizeof reserved[0]; i++)
		if (strlen(reserved[i]) == (size_t)(colon - line) &&
		    strncasecmp(line, reserved[i], (size_t)(colon - line)) == 0)
			return 0;
	return 1;
}

int httpd_add_header_line(struct MHD_Response *resp, const char *line)
{
	const char *colon = strchr(line, ':');
	char name[128];
	size_t n = (size_t)(colon - line);
	if (n >= sizeof name)
		return 0;
	memcpy(name, line, n);
	name[n] = '\0';
	return MHD_add_response_header(resp, name, colon + 2) == MHD_YES;
}

struct MHD_Response *httpd_json_error(unsigned status, const char *msg)
{
	struct buf b = BUF_INIT;
	buf_printf(&b, "{\"error\":{\"code\":%u,\"message\":", status);
	buf_json_str(&b, msg, strlen(msg));
	buf_puts(&b, "}}");
	if (b.oom) {
		buf_free(&b);
		return NULL;
	}
	size_t len;
	char *data = buf_steal(&b, &len);
	struct MHD_Response *r = MHD_create_response_from_buffer_with_free_callback(len, data, free);
	if (!r) {
		free(data);
		return NULL;
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, CT_JSON);
	MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	return r;
}

enum MHD_Result httpd_queue_error(struct MHD_Connection *c, unsigned status, const char *msg,
				  const char *hname, const char *hval)
{
	struct MHD_Response *r = httpd_json_error(status, msg);
	if (!r)
		return MHD_NO;
	if (hname)
		MHD_add_response_header(r, hname, hval);
	enum MHD_Result ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

/* ---------------------------------------------------------------- routes */

static int method_ok(const char *m)
{
	size_t n = strlen(m);
	if (n == 0 || n >= 16)
		return 0;
	for (; *m; m++)
		if (!isupper((unsigned char)*m))
			return 0;
	return 1;
}

/* 2 * matched length, +1 for an exact pattern; 0 = no match. */
static size_t route_score(const struct lab_route *rt, const char *path, size_t plen)
{
	if (!rt->prefix)
		return plen == rt->plen && memcmp(path, rt->pattern, plen) == 0 ? 2 * plen + 1 : 0;
	return plen > rt->plen && memcmp(path, rt->pattern, rt->plen) == 0 ? 2 * rt->plen : 0;
}

/* The route for (method, path); NULL with *known set when the path has a
 * route for other methods (Allow listed in allow). */
static struct lab_route *route_find(struct httpd *h, const char *method, const char *path,
				    int *known, struct buf *allow)
{
	size_t plen = strlen(path), best = 0;
	const struct lab_route *pat = NULL;
	for (struct lab_route *rt = h->routes; rt; rt = rt->next) {
		size_t sc = route_score(rt, path, plen);
		if (sc > best) {
			best = sc;
			pat = rt;
		}
	}
	*known = pat != NULL;
	if (!pat)
		return NULL;
	const char *want = strcmp(method, "HEAD") == 0 ? "GET" : method;
	for (struct lab_route *rt = h->routes; rt; rt = rt->next) {
		if (strcmp(rt->pattern, pat->pattern) != 0)
			continue;
		if (strcmp(rt->method, want) == 0)
			return rt;
		buf_printf(allow, "%s%s", allow->len ? ", " : "", rt->method);
		if (strcmp(rt->method, "GET") == 0)
			buf_puts(allow, ", HEAD");
	}
	return NULL;
}

int httpd_route(struct httpd *h, lab_ctx *owner, const char *plugin, const char *method,
		const char *pattern, lab_http_cb cb, void *ud, lab_route **out)
{
	if (out)
		*out = NULL;
	if (!h)
		return LAB_ENOTSUP;
	if (!method || !pattern || !cb || !method_ok(method) || strcmp(method, "HEAD") == 0)
		return LAB_EINVAL;
	size_t len = strlen(pattern);
	int prefix = len >= 2 && pattern[len - 1] == '*' && pattern[len - 2] == '/';
	size_t plen = prefix ? len - 1 : len;
	char tmp[HTTPD_PATH_MAX + 1];
	const char *why;
	/* A pattern is a plain path: no escapes, nothing the request check refuses. */
	if (plen > HTTPD_PATH_MAX || strchr(pattern, '%') || memchr(pattern, '*', plen) ||
	    httpd_path_check(pattern, plen, tmp, sizeof tmp, &why) != 0)
		return LAB_EINVAL;
	for (struct lab_route *rt = h->routes; rt; rt = rt->next)
		if (strcmp(rt->pattern, pattern) == 0 && strcmp(rt->method, method) == 0)
			return LAB_EEXIST;
	struct lab_route *rt = calloc(1, sizeof *rt);
	if (!rt || !(rt->pattern = strdup(pattern))) {
		free(rt);
		return LAB_ENOMEM;
	}
	snprintf(rt->method, sizeof rt->method, "%s", method);
	rt->owner = owner;
	rt->plugin = plugin;
	rt->plen = plen;
	rt->prefix = prefix;
	rt->cb = cb;
	rt->ud = ud;
	rt->next = h->routes;
	h->routes = rt;
	if (out)
		*out = rt;
	return 0;
}

/* ---------------------------------------------------------------- requests */

static void pending_unlink(struct httpd_req *r)
{
	if (!r->prev && r->h->pending != r)
		return;
	if (r->prev)
		r->prev->next = r->next;
	else
		r->h->pending = r->next;
	if (r->next)
		r->next->prev = r->prev;
	r->prev = r->next = NULL;
}

static void req_free(struct httpd_req *r)
{
	pending_unlink(r);
	if (r->resp)
		MHD_destroy_response(r->resp);
	for (size_t i = 0; i < r->nq; i++)
		free(r->qvals[i]);
	free(r->qvals);
	free(r->path);
	free(r->route_pattern);
	free(r);
}

static void count(struct httpd *h, const struct httpd_req *r, unsigned status)
{
	char code[8];
	snprintf(code, sizeof code, "%u", status);
	metric_add(h->metrics, M_HTTP_REQUESTS, 1, r->plugin ? r->plugin : "",
		   r->route_pattern ? r->route_pattern : "", code);
	if (r->plugin)
		metric_observe(h->metrics, M_HTTP_SECONDS, (double)(uv_hrtime() - r->t0) / 1e9,
			       r->plugin, r->route_pattern);
}

/* The answer is ready: on the plugin's next turn MHD takes it. */
void httpd_req_ready(struct httpd_req *r, struct MHD_Response *resp, unsigned status)
{
	r->resp = resp;
	r->status = status;
	r->state = RQ_READY;
	if (r->suspended && r->conn) {
		r->suspended = 0;
		MHD_resume_connection(r->conn);
		mhd_uv_kick(r->h->drv);
	}
}

static enum MHD_Result queue_ready(struct httpd_req *r)
{
	struct MHD_Response *resp = r->resp;
	r->resp = NULL;
	r->state = RQ_QUEUED;
	if (!resp)
		return MHD_NO;
	enum MHD_Result ret = MHD_queue_response(r->conn, r->status, resp);
	MHD_destroy_response(resp);
	count(r->h, r, r->status);
	return ret;
}

const char *httpd_req_method(const lab_http_req *req)
{
	return req ? ((const struct httpd_req *)req)->method : NULL;
}

const char *httpd_req_path(const lab_http_req *req)
{
	return req ? ((const struct httpd_req *)req)->path : NULL;
}

const char *httpd_req_header(const lab_http_req *req, const char *name)
{
	const struct httpd_req *r = (const struct httpd_req *)req;
	if (!r || !name || !r->conn)
		return NULL;
	return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}

const char *httpd_req_query(const lab_http_req *req, const char *name)
{
	struct httpd_req *r = (struct httpd_req *)req;
	const char *v = NULL;
	size_t vlen = 0;
	if (!r || !name || !r->conn)
		return NULL;
	if (MHD_lookup_connection_value_n(r->conn, MHD_GET_ARGUMENT_KIND, name, strlen(name), &v,
					  &vlen) != MHD_YES)
		return NULL;
	char **q = realloc(r->qvals, (r->nq + 1) * sizeof *q);
	if (!q)
		return NULL;
	r->qvals = q;
	char *s = malloc(vlen + 1);
	if (!s)
		return NULL;
	if (v)
		memcpy(s, v, vlen);
	s[v ? vlen : 0] = '\0';
	if (strlen(s) != (v ? vlen : 0) || httpd_query_decode(s) != 0) {
		free(s); /* an invalid escape or a NUL: as if absent */
		return NULL;
	}
	r->qvals[r->nq++] = s;
	return s;
}

/* The plugin's answer as an MHD response; NULL on a bad one (*rc set). */
static struct MHD_Response *build(struct httpd_req *r, const lab_http_response *a,
				  unsigned *status, int *rc)
{
	*rc = 0;
	if (!a || a->status < 100 || a->status > 599 || (a->len && !a->body)) {
		*rc = LAB_EINVAL;
		return NULL;
	}
	for (const char *const *hl = a->headers; hl && *hl; hl++)
		if (!httpd_header_ok(*hl)) {
			*rc = LAB_EINVAL;
			return NULL;
		}
	*status = (unsigned)a->status;
	int gz = (a->flags & LAB_HTTP_GZIP) != 0;
	int send_gz = gz && r->conn &&
		      accepts_gzip(MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND,
							       MHD_HTTP_HEADER_ACCEPT_ENCODING));
	/* A strong ETag names one representation (RFC 9110 8.8.3): the gzip
	 * one gets "-gz" inside the quotes; a weak one is shared. */
	char *etag_gz = NULL;
	const char *etag = a->etag;
	size_t el = etag ? strlen(etag) : 0;
	if (send_gz && el >= 2 && etag[0] == '"' && etag[el - 1] == '"') {
		etag_gz = malloc(el + 4);
		if (!etag_gz) {
			*rc = LAB_ENOMEM;
			return NULL;
		}
		memcpy(etag_gz, etag, el - 1);
		memcpy(etag_gz + el - 1, "-gz\"", 4);
		etag_gz[el + 3] = '\0';
		etag = etag_gz;
	}
	int not_modified = 0;
	if (a->status >= 200 && a->status < 300 && r->conn) {
		const char *inm = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND,
							      MHD_HTTP_HEADER_IF_NONE_MATCH);
		if (inm && etag) {
			not_modified = etag_matches(inm, etag);
		} else if (!inm && a->last_modified > 0) {
			int64_t ims = http_date_parse(MHD_lookup_connection_value(
				r->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_IF_MODIFIED_SINCE));
			not_modified = ims >= a->last_modified;
		}
	}
	struct MHD_Response *resp;
	if (not_modified) {
		*status = MHD_HTTP_NOT_MODIFIED;
		resp = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
	} else if (gz && !send_gz) {
		void *plain;
		size_t plen;
		if (gzip_decode(a->body, a->len, &plain, &plen) != 0) {
			*rc = LAB_EPARSE;
			return NULL;
		}
		resp = MHD_create_response_from_buffer_with_free_callback(plen, plain, free);
		if (!resp)
			free(plain);
	} else {
		resp = MHD_create_response_from_buffer(a->len, (void *)a->body,
						       MHD_RESPMEM_MUST_COPY);
	}
	if (!resp) {
		free(etag_gz);
		*rc = LAB_ENOMEM;
		return NULL;
	}
	char date[32];
	int ok = 1;
	if (!not_modified)
		ok &= MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
					      a->content_type ? a->content_type : CT_JSON) == MHD_YES;
	if (send_gz && !not_modified)
		ok &= MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_ENCODING, "gzip") ==
		      MHD_YES;
	if (gz)
		ok &= MHD_add_response_header(resp, MHD_HTTP_HEADER_VARY, "Accept-Encoding") ==
		      MHD_YES;
	if (etag)
		ok &= MHD_add_response_header(resp, MHD_HTTP_HEADER_ETAG, etag) == MHD_YES;
	free(etag_gz);
	if (a->last_modified > 0) {
		http_date(a->last_modified, date);
		ok &= MHD_add_response_header(resp, MHD_HTTP_HEADER_LAST_MODIFIED, date) == MHD_YES;
	}
	if (a->cache_control)
		ok &= MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL,
					      a->cache_control) == MHD_YES;
	for (const char *const *hl = a->headers; hl && *hl; hl++)
		ok &= httpd_add_header_line(resp, *hl);
	if (!ok) { /* a value MHD refused (CR/LF in etag or cache_control) */
		MHD_destroy_response(resp);
		*rc = LAB_EINVAL;
		return NULL;
	}
	return resp;
}

void httpd_req_answered(struct httpd_req *r)
{
	pending_unlink(r);
	r->plugin_done = 1;
}

/* The plugin's one answer to `r` arrives: 1 when it is still wanted; 0
 * when the host answered 504 already or the client is gone (dropped). */
static int take(struct httpd_req *r)
{
	httpd_req_answered(r);
	if (r->state == RQ_WAIT && !r->mhd_done)
		return 1;
	if (r->mhd_done)
		req_free(r);
	return 0;
}

int httpd_respond(lab_ctx *owner, lab_http_req *req, const lab_http_response *a)
{
	struct httpd_req *r = (struct httpd_req *)req;
	(void)owner;
	if (!r || r->plugin_done)
		return LAB_ESTATE;
	if (!take(r))
		return 0;
	unsigned status = 500;
	int rc;
	struct MHD_Response *resp = build(r, a, &status, &rc);
	if (!resp) {
		if (rc == LAB_EINVAL)
			log_msg(LAB_LOG_WARN, r->plugin, "http: invalid response for %s %s", r->method,
				r->path);
		status = rc == LAB_EPARSE ? MHD_HTTP_BAD_GATEWAY : MHD_HTTP_INTERNAL_SERVER_ERROR;
		resp = httpd_json_error(status, rc == LAB_EPARSE ? "stored body is not valid gzip"
							   : "internal error");
	}
	httpd_req_ready(r, resp, status);
	return rc;
}

int httpd_stream_open(lab_ctx *owner, lab_http_req *req, int kind, const char *const *headers,
		      lab_stream_msg_cb on_msg, lab_stream_close_cb on_close, void *ud,
		      lab_stream **out)
{
	struct httpd_req *r = (struct httpd_req *)req;
	(void)owner;
	if (out)
		*out = NULL;
	if (!r || r->plugin_done)
		return LAB_ESTATE;
	if (!take(r))
		return LAB_ECANCELED; /* answered 504 already, or the client is gone */
	return httpd_stream_start(r, kind, headers, on_msg, on_close, ud, out);
}

/* ---------------------------------------------------------------- MHD callbacks */

static size_t unescape_none(void *cls, struct MHD_Connection *c, char *uri)
{
	(void)cls;
	(void)c;
	return strlen(uri); /* httpd_path_check decodes: it must see %2F as written */
}

static enum MHD_Result refuse(struct httpd_req *r, unsigned status, const char *reason,
			      const char *msg, const char *hname, const char *hval)
{
	r->state = RQ_QUEUED;
	if (reason)
		metric_add(r->h->metrics, M_HTTP_REJECTED, 1, reason);
	count(r->h, r, status);
	return httpd_queue_error(r->conn, status, msg, hname, hval);
}

static enum MHD_Result first_call(struct httpd *h, struct httpd_req *r, const char *url,
				  const char *method)
{
	const char *why;
	size_t ulen = strlen(url);
	if (strlen(method) >= sizeof r->method)
		return refuse(r, MHD_HTTP_NOT_IMPLEMENTED, "method", "method not implemented",
			      NULL, NULL);
	memcpy(r->method, method, strlen(method) + 1);
	if (ulen > HTTPD_PATH_MAX)
		return refuse(r, MHD_HTTP_BAD_REQUEST, "path", "path too long", NULL, NULL);
	if (!(r->path = malloc(ulen + 1)))
		return MHD_NO;
	if (httpd_path_check(url, ulen, r->path, ulen + 1, &why) != 0)
		return refuse(r, MHD_HTTP_BAD_REQUEST, "path", why, NULL, NULL);
	struct buf allow = BUF_INIT;
	int known;
	struct lab_route *rt = route_find(h, r->method, r->path, &known, &allow);
	if (!rt) {
		enum MHD_Result ret =
			known ? refuse(r, MHD_HTTP_METHOD_NOT_ALLOWED, "method",
				       "method not allowed", MHD_HTTP_HEADER_ALLOW,
				       allow.data ? allow.data : "")
			      : refuse(r, MHD_HTTP_NOT_FOUND, "not_found", "not found", NULL, NULL);
		buf_free(&allow);
		return ret;
	}
	buf_free(&allow);
	r->route = rt;
	r->owner = rt->owner;
	r->plugin = rt->plugin;
	if (!(r->route_pattern = strdup(rt->pattern)))
		return MHD_NO;
	return MHD_YES;
}

static enum MHD_Result dispatch(struct httpd *h, struct httpd_req *r)
{
	struct lab_route *rt = r->route;
	r->state = RQ_WAIT;
	r->plugin_done = 0;
	r->next = h->pending;
	if (h->pending)
		h->pending->prev = r;
	h->pending = r;
	rt->cb(rt->owner, &r->pub, rt->ud);
	if (r->state == RQ_READY)
		return queue_ready(r);
	if (r->state == RQ_WAIT) {
		MHD_suspend_connection(r->conn);
		r->suspended = 1;
	}
	return MHD_YES;
}

/* ---------------------------------------------------------------- head size */

struct head_count {
	size_t bytes;
	int nargs;
};

static enum MHD_Result count_header(void *cls, enum MHD_ValueKind kind, const char *key,
				    const char *value)
{
	struct head_count *hc = cls;
	(void)kind;
	hc->bytes += strlen(key) + 2 + (value ? strlen(value) : 0) + 2; /* "Name: value\r\n" */
	return MHD_YES;
}

static enum MHD_Result count_arg(void *cls, enum MHD_ValueKind kind, const char *key,
				 const char *value)
{
	struct head_count *hc = cls;
	(void)kind;
	/* "?" or "&", then key[=value] (raw: the host does not unescape) */
	hc->bytes += 1 + strlen(key) + (value ? 1 + strlen(value) : 0);
	hc->nargs++;
	return MHD_YES;
}

/* The request head as http.max_header_bytes counts it: the request line
 * ("METHOD TARGET VERSION\r\n"), each header as "Name: value\r\n" and the
 * blank line — the bytes a client sends when it writes one space after
 * each colon.  MHD gives the head, not its raw length. */
static size_t head_bytes(struct MHD_Connection *c, const char *method, const char *url,
			 const char *version)
{
	struct head_count hc = { strlen(method) + 1 + strlen(url) + 1 + strlen(version) + 2 + 2, 0 };
	MHD_get_connection_values(c, MHD_HEADER_KIND, count_header, &hc);
	MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, count_arg, &hc);
	return hc.bytes;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
				  const char *method, const char *version, const char *upload,
				  size_t *upload_size, void **req_cls)
{
	struct httpd *h = cls;
	struct httpd_req *r = *req_cls;
	(void)version;
	(void)upload;
	if (mhd_uv_stopping(h->drv))
		return MHD_NO;
	if (!r) {
		mhd_uv_request_begin(h->drv, c);
		if (!(r = calloc(1, sizeof *r)))
			return MHD_NO;
		r->pub.api = h->api;
		r->h = h;
		r->conn = c;
		r->t0 = uv_hrtime();
		r->plugin_done = 1; /* until dispatched */
		*req_cls = r;
		/* The pool has room past max_header_bytes (POOL_MARGIN): the
		 * limit itself is kept here, to the byte. */
		if (head_bytes(c, method, url, version) > (size_t)h->conf.max_header_bytes)
			return refuse(r, MHD_HTTP_REQUEST_HEADER_FIELDS_TOO_LARGE, "header",
				      "request head too large", NULL, NULL);
		return first_call(h, r, url, method);
	}
	if (r->state == RQ_QUEUED) {
		*upload_size = 0;
		return MHD_YES;
	}
	if (*upload_size) {
		/* Request bodies are not for plugins in SDK 1.4: read and dropped. */
		r->body_seen += *upload_size;
		*upload_size = 0;
		return r->body_seen > BODY_MAX ? MHD_NO : MHD_YES;
	}
	if (r->state == RQ_NEW)
		return dispatch(h, r);
	if (r->state == RQ_READY)
		return queue_ready(r);
	return MHD_YES;
}

static void on_completed(void *cls, struct MHD_Connection *c, void **req_cls,
			 enum MHD_RequestTerminationCode toe)
{
	struct httpd *h = cls;
	struct httpd_req *r = *req_cls;
	(void)toe;
	mhd_uv_request_end(h->drv, c);
	*req_cls = NULL;
	if (!r)
		return;
	r->mhd_done = 1;
	r->conn = NULL;
	if (r->stream) {
		struct lab_stream *s = r->stream;
		r->stream = NULL;
		s->req = NULL;
		httpd_stream_req_done(s);
	}
	if (r->plugin_done)
		req_free(r);
}

static void on_reject(void *cls, const char *reason)
{
	struct httpd *h = cls;
	metric_add(h->metrics, M_HTTP_REJECTED, 1, reason);
}

/* ---------------------------------------------------------------- sweep */

static void on_sweep(uv_timer_t *t)
{
	struct httpd *h = t->data;
	uint64_t now = uv_now(h->loop);
	uint64_t t0 = uv_hrtime();
	for (struct httpd_req *r = h->pending; r; r = r->next) {
		if (r->state != RQ_WAIT || r->mhd_done)
			continue;
		if ((t0 - r->t0) / 1000000 >= (uint64_t)h->conf.request_timeout_ms) {
			log_msg(LAB_LOG_WARN, r->plugin, "http: no answer within %lld ms for %s %s: 504",
				(long long)h->conf.request_timeout_ms, r->method, r->path);
			httpd_req_ready(r,
					httpd_json_error(MHD_HTTP_GATEWAY_TIMEOUT,
							 "the plugin did not answer in time"),
					MHD_HTTP_GATEWAY_TIMEOUT);
		}
	}
	int hb = now - h->last_heartbeat >= (uint64_t)h->conf.heartbeat_ms;
	if (hb)
		h->last_heartbeat = now;
	httpd_streams_sweep(h, hb);
	/* Many clients gone at once (a proxy restart, a browser fleet): their
	 * buffers go back to the kernel now, not at the next idle trim. */
	if (h->streams_ended >= STREAMS_TRIM) {
		h->streams_ended = 0;
		heap_trim_now();
	}
	metric_set(h->metrics, M_HTTP_CONNECTIONS, (double)mhd_uv_live(h->drv));
}

/* ---------------------------------------------------------------- public */

int httpd_new(uv_loop_t *loop, struct metrics *metrics, const lab_host_api *api,
	      struct httpd **out)
{
	struct httpd *h = calloc(1, sizeof *h);
	if (!h)
		return LAB_ENOMEM;
	h->loop = loop;
	h->metrics = metrics;
	h->api = api;
	*out = h;
	return 0;
}

int httpd_listen(struct httpd *h, const struct httpd_conf *conf)
{
	if (!conf->listen || !conf->listen[0] || h->drv)
		return 0;
	h->conf = *conf;
	if (!(h->listen = strdup(conf->listen)))
		return LAB_ENOMEM;
	h->conf.listen = h->listen;
	struct mhd_uv_conf mc = {
		.name = "http",
		.listen = h->listen,
		.conn_limit = (unsigned)conf->max_connections,
		.head_timeout_ms = (uint64_t)conf->request_timeout_ms,
		.idle_timeout_ms = (uint64_t)conf->idle_timeout_ms,
		/* MHD's own backstop; streams are kept alive by heartbeats */
		.mhd_timeout_s = (unsigned)((conf->idle_timeout_ms + conf->heartbeat_ms) / 1000 + 5),
		/* the read buffer holds the request head; on_request keeps the
		 * limit exactly */
		.conn_memory = (size_t)conf->max_header_bytes + POOL_MARGIN,
		.extra_flags = MHD_ALLOW_SUSPEND_RESUME | MHD_ALLOW_UPGRADE,
		.on_request = on_request,
		.on_completed = on_completed,
		.cls = h,
		.on_reject = on_reject,
		.unescape = unescape_none,
	};
	int rc = mhd_uv_start(h->loop, &mc, &h->drv);
	if (rc < 0)
		return rc;
	uv_timer_init(h->loop, &h->sweep);
	h->sweep.data = h;
	h->last_heartbeat = uv_now(h->loop);
	uv_timer_start(&h->sweep, on_sweep, SWEEP_MS, SWEEP_MS);
	h->sweeping = 1;
	return 0;
}

int httpd_port(const struct httpd *h)
{
	return h && h->drv ? mhd_uv_port(h->drv) : -1;
}

void httpd_owner_stop(struct httpd *h, lab_ctx *owner)
{
	if (!h)
		return;
	struct lab_route **pp = &h->routes;
	while (*pp) {
		struct lab_route *rt = *pp;
		if (rt->owner == owner) {
			*pp = rt->next;
			free(rt->pattern);
			free(rt);
		} else {
			pp = &rt->next;
		}
	}
	struct httpd_req *r = h->pending, *next;
	for (; r; r = next) {
		next = r->next;
		if (r->owner != owner)
			continue;
		httpd_req_answered(r);
		if (r->state == RQ_WAIT && !r->mhd_done)
			httpd_req_ready(r, httpd_json_error(MHD_HTTP_SERVICE_UNAVAILABLE, "plugin stopped"),
					MHD_HTTP_SERVICE_UNAVAILABLE);
		else if (r->mhd_done)
			req_free(r);
	}
	httpd_streams_cancel(h, owner);
}

static void sweep_closed(uv_handle_t *hd)
{
	struct httpd *h = hd->data;
	if (h->ws_enc)
		wslay_frame_context_free(h->ws_enc);
	free(h->listen);
	free(h);
}

void httpd_free(struct httpd *h)
{
	if (!h)
		return;
	h->freeing = 1;
	while (h->routes) {
		struct lab_route *rt = h->routes;
		h->routes = rt->next;
		free(rt->pattern);
		free(rt);
	}
	httpd_streams_cancel(h, NULL);
	/* Requests the plugins never answered (owners not stopped): dropped. */
	while (h->pending) {
		struct httpd_req *r = h->pending;
		httpd_req_answered(r);
		if (r->suspended && r->conn) {
			r->suspended = 0;
			MHD_resume_connection(r->conn);
		}
	}
	if (h->drv)
		mhd_uv_stop(h->drv); /* completed callbacks free the requests */
	if (h->sweeping)
		uv_close((uv_handle_t *)&h->sweep, sweep_closed);
	else
		sweep_closed((uv_handle_t *)&(uv_timer_t){ .data = h });
}
