/* HTTP client on the libuv loop (see http.h).
 *
 * One CURLM per `struct http`; curl tells us which sockets to watch
 * (CURLMOPT_SOCKETFUNCTION -> one uv_poll_t per socket) and when to wake it
 * (CURLMOPT_TIMERFUNCTION -> one uv_timer_t).  Finished transfers are
 * collected with curl_multi_info_read() after every socket action, outside
 * any curl callback, so completion callbacks may start or cancel transfers.
 *
 * curl forbids curl_multi_remove_handle() from inside its own callbacks.  A
 * cancel that arrives while curl is running (from a data/header callback of
 * another transfer) is therefore deferred: the request is marked, its
 * callbacks are cut off at once, and it is removed right after curl
 * returns.
 */
#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"
#include "lab/plugin.h"
#include "list.h"
#include "log.h"

struct http {
	uv_loop_t *loop;
	CURLM *multi;
	uv_timer_t timer;
	uv_prepare_t keep;     /* started while transfers run: keeps the loop alive */
	char *name;
	struct list reqs;      /* active requests */
	struct list deferred;  /* cancelled while curl was running */
	struct list socks;     /* struct http_sock being polled */
	size_t active;
	unsigned in_curl;      /* > 0 while inside curl_multi_* calls */
	unsigned handles;      /* open uv handles (timer + polls) */
	int closing;
};

struct http_sock {
	uv_poll_t poll;
	struct http *h;
	struct list link;
	curl_socket_t fd;
};

struct http_req {
	struct http *h;
	CURL *easy;
	struct list link;
	struct curl_slist *hdrs;
	struct http_callbacks cb;
	struct buf body;
	int cb_err;    /* error from the data callback / collection */
	int cancelled;
	char errbuf[CURL_ERROR_SIZE];
};

static void handle_closed(uv_handle_t *hd);
static void set_active(struct http *h, int delta);

static void maybe_free(struct http *h)
{
	if (h->closing && h->handles == 0) {
		free(h->name);
		free(h);
	}
}

static void req_free(struct http_req *r)
{
	if (r->easy) {
		curl_multi_remove_handle(r->h->multi, r->easy);
		curl_easy_cleanup(r->easy);
	}
	curl_slist_free_all(r->hdrs);
	buf_free(&r->body);
	free(r);
}

static void run_deferred(struct http *h)
{
	while (!list_empty(&h->deferred)) {
		struct http_req *r = list_entry(h->deferred.next, struct http_req, link);
		list_del(&r->link);
		req_free(r);
	}
}

static int map_curl_error(struct http_req *r, CURLcode cc)
{
	if (r->cb_err && (cc == CURLE_WRITE_ERROR || cc == CURLE_ABORTED_BY_CALLBACK))
		return r->cb_err;
	switch (cc) {
	case CURLE_OPERATION_TIMEDOUT:
		return LAB_ETIMEDOUT;
	case CURLE_OUT_OF_MEMORY:
		return LAB_ENOMEM;
	default:
		return LAB_EIO;
	}
}

static void check_done(struct http *h)
{
	CURLMsg *m;
	int left;
	/* h->multi is NULL once a done callback called http_close(). */
	while (h->multi && (m = curl_multi_info_read(h->multi, &left))) {
		if (m->msg != CURLMSG_DONE)
			continue;
		struct http_req *r = NULL;
		curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&r);
		if (!r || r->cancelled)
			continue;
		CURLcode cc = m->data.result;
		long code = 0;
		curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &code);
		int status = 0;
		const char *msg = NULL;
		if (cc != CURLE_OK) {
			status = map_curl_error(r, cc);
			msg = r->errbuf[0] ? r->errbuf : curl_easy_strerror(cc);
		} else if (r->cb_err) {
			status = r->cb_err;
		}
		/* Take it off the multi first: the callback may start new ones. */
		list_del(&r->link);
		set_active(h, -1);
		curl_multi_remove_handle(h->multi, r->easy);
		if (r->body.oom && !status)
			status = LAB_ENOMEM;
		r->cb.done(status, code, &r->body, msg, r->cb.ud);
		req_free(r);
	}
}

static void socket_action(struct http *h, curl_socket_t fd, int ev)
{
	int running;
	if (!h->multi)
		return;
	h->in_curl++;
	curl_multi_socket_action(h->multi, fd, ev, &running);
	h->in_curl--;
	run_deferred(h);
	check_done(h);
}

static void on_poll(uv_poll_t *p, int status, int events)
{
	struct http_sock *s = p->data;
	int ev = 0;
	if (status < 0)
		ev = CURL_CSELECT_ERR;
	if (events & UV_READABLE)
		ev |= CURL_CSELECT_IN;
	if (events & UV_WRITABLE)
		ev |= CURL_CSELECT_OUT;
	socket_action(s->h, s->fd, ev);
}

static void on_timer(uv_timer_t *t)
{
	socket_action(t->data, CURL_SOCKET_TIMEOUT, 0);
}

static int sock_cb(CURL *e, curl_socket_t fd, int what, void *userp, void *sockp)
{
	(void)e;
	struct http *h = userp;
	struct http_sock *s = sockp;
	if (what == CURL_POLL_REMOVE) {
		if (s) {
			uv_poll_stop(&s->poll);
			curl_multi_assign(h->multi, fd, NULL);
			list_del(&s->link);
			uv_close((uv_handle_t *)&s->poll, handle_closed);
		}
		return 0;
	}
	if (!s) {
		s = calloc(1, sizeof *s);
		if (!s)
			return -1;
		s->h = h;
		s->fd = fd;
		if (uv_poll_init_socket(h->loop, &s->poll, fd) != 0) {
			free(s);
			return -1;
		}
		s->poll.data = s;
		/* Pooled idle connections must not keep the loop alive; `keep` does
		 * that while transfers run. */
		uv_unref((uv_handle_t *)&s->poll);
		h->handles++;
		list_add_tail(&h->socks, &s->link);
		curl_multi_assign(h->multi, fd, s);
	}
	int ev = 0;
	if (what == CURL_POLL_IN || what == CURL_POLL_INOUT)
		ev |= UV_READABLE;
	if (what == CURL_POLL_OUT || what == CURL_POLL_INOUT)
		ev |= UV_WRITABLE;
	uv_poll_start(&s->poll, ev, on_poll);
	return 0;
}

static int timer_cb(CURLM *m, long timeout_ms, void *userp)
{
	(void)m;
	struct http *h = userp;
	if (h->closing)
		return 0;
	if (timeout_ms < 0)
		uv_timer_stop(&h->timer);
	else
		uv_timer_start(&h->timer, on_timer, (uint64_t)timeout_ms, 0);
	return 0;
}

static void keep_cb(uv_prepare_t *p)
{
	(void)p;
}

static void set_active(struct http *h, int delta)
{
	h->active = (size_t)((long)h->active + delta);
	if (h->closing)
		return;
	if (h->active)
		uv_prepare_start(&h->keep, keep_cb);
	else
		uv_prepare_stop(&h->keep);
}

static void handle_closed(uv_handle_t *hd)
{
	struct http *h;
	if (hd->type == UV_TIMER || hd->type == UV_PREPARE) {
		h = hd->data;
	} else {
		struct http_sock *s = hd->data;
		h = s->h;
		free(s);
	}
	h->handles--;
	maybe_free(h);
}

int http_open(uv_loop_t *loop, const char *name, struct http **out)
{
	static int global_done;
	if (!global_done) {
		if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
			return LAB_EIO;
		global_done = 1;
		/* Without curl's threaded (or c-ares) resolver a host name is
		 * resolved inside curl_multi_socket_action(): on the loop. */
		if (!(curl_version_info(CURLVERSION_NOW)->features & CURL_VERSION_ASYNCHDNS))
			log_msg(LAB_LOG_WARN, NULL,
				"libcurl resolves host names synchronously, blocking the loop: use IP addresses in clickhouse.url and storage.s3.endpoint");
	}
	struct http *h = calloc(1, sizeof *h);
	if (!h)
		return LAB_ENOMEM;
	h->loop = loop;
	h->name = strdup(name ? name : "http");
	h->multi = curl_multi_init();
	if (!h->name || !h->multi) {
		int rc = h->multi ? LAB_ENOMEM : LAB_EIO;
		if (h->multi)
			curl_multi_cleanup(h->multi);
		free(h->name);
		free(h);
		return rc;
	}
	list_init(&h->reqs);
	list_init(&h->deferred);
	list_init(&h->socks);
	curl_multi_setopt(h->multi, CURLMOPT_SOCKETFUNCTION, sock_cb);
	curl_multi_setopt(h->multi, CURLMOPT_SOCKETDATA, h);
	curl_multi_setopt(h->multi, CURLMOPT_TIMERFUNCTION, timer_cb);
	curl_multi_setopt(h->multi, CURLMOPT_TIMERDATA, h);
	curl_multi_setopt(h->multi, CURLMOPT_MAXCONNECTS, 32L);
	uv_timer_init(loop, &h->timer);
	h->timer.data = h;
	uv_prepare_init(loop, &h->keep);
	h->keep.data = h;
	h->handles = 2;
	*out = h;
	return 0;
}

void http_close(struct http *h)
{
	if (!h)
		return;
	while (!list_empty(&h->reqs)) {
		struct http_req *r = list_entry(h->reqs.next, struct http_req, link);
		list_del(&r->link);
		req_free(r);
	}
	run_deferred(h);
	h->active = 0;
	h->closing = 1;
	uv_timer_stop(&h->timer);
	/* Cleanup closes the pooled connections: curl reports each socket's
	 * removal through sock_cb, which closes its poll handle. */
	curl_multi_cleanup(h->multi);
	h->multi = NULL;
	while (!list_empty(&h->socks)) {
		struct http_sock *s = list_entry(h->socks.next, struct http_sock, link);
		list_del(&s->link);
		uv_poll_stop(&s->poll);
		uv_close((uv_handle_t *)&s->poll, handle_closed);
	}
	uv_prepare_stop(&h->keep);
	uv_close((uv_handle_t *)&h->keep, handle_closed);
	uv_close((uv_handle_t *)&h->timer, handle_closed);
}

static size_t write_cb(char *p, size_t size, size_t n, void *ud)
{
	struct http_req *r = ud;
	size_t len = size * n;
	if (r->cancelled)
		return 0;
	if (r->cb.on_data) {
		int rc = r->cb.on_data(p, len, r->cb.ud);
		if (rc < 0) {
			r->cb_err = rc;
			return 0;
		}
		return r->cancelled ? 0 : len;
	}
	buf_append(&r->body, p, len);
	if (r->body.oom) {
		r->cb_err = LAB_ENOMEM;
		return 0;
	}
	return len;
}

static size_t header_cb(char *p, size_t size, size_t n, void *ud)
{
	struct http_req *r = ud;
	size_t len = size * n;
	if (r->cancelled || !r->cb.on_header)
		return len;
	size_t l = len;
	while (l && (p[l - 1] == '\n' || p[l - 1] == '\r'))
		l--;
	if (l)
		r->cb.on_header(p, l, r->cb.ud);
	return len;
}

int http_start(struct http *h, const struct http_request *req, const struct http_callbacks *cb,
	       struct http_req **out)
{
	if (!h || h->closing || !req || !req->url || !req->method || !cb || !cb->done)
		return LAB_EINVAL;
	struct http_req *r = calloc(1, sizeof *r);
	if (!r)
		return LAB_ENOMEM;
	r->h = h;
	r->cb = *cb;
	r->easy = curl_easy_init();
	if (!r->easy) {
		free(r);
		return LAB_ENOMEM;
	}
	CURL *e = r->easy;
	int bad = 0;
	bad |= curl_easy_setopt(e, CURLOPT_URL, req->url) != CURLE_OK;
	curl_easy_setopt(e, CURLOPT_PRIVATE, r);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, r->errbuf);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, write_cb);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, header_cb);
	curl_easy_setopt(e, CURLOPT_HEADERDATA, r);
	curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(e, CURLOPT_TCP_NODELAY, 1L);
#if LIBCURL_VERSION_NUM >= 0x075500
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
#else
	curl_easy_setopt(e, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
	if (req->timeout_ms > 0)
		curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, req->timeout_ms);
	if (req->connect_timeout_ms > 0)
		curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, req->connect_timeout_ms);
	if (req->accept_gzip)
		curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "");
	if (req->userpwd) {
		curl_easy_setopt(e, CURLOPT_USERPWD, req->userpwd);
		curl_easy_setopt(e, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
	}
	if (req->aws_sigv4) {
#if LIBCURL_VERSION_NUM >= 0x074b00
		bad |= curl_easy_setopt(e, CURLOPT_AWS_SIGV4, req->aws_sigv4) != CURLE_OK;
#else
		bad = 1;
#endif
	}
	if (req->recv_buffer > 0)
		curl_easy_setopt(e, CURLOPT_BUFFERSIZE, req->recv_buffer);
	const char *m = req->method;
	if (!strcmp(m, "GET")) {
		curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
	} else if (!strcmp(m, "HEAD")) {
		curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
	} else {
		/* POST, PUT, DELETE, ...: a body (maybe empty) from memory. */
		if (req->body || strcmp(m, "DELETE") != 0) {
			curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
			curl_easy_setopt(e, CURLOPT_POSTFIELDS, req->body ? req->body : "");
		}
		if (strcmp(m, "POST") != 0)
			curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, m);
	}
	/* No "Expect: 100-continue" round trip for large bodies — except with
	 * SigV4: libcurl before 8.3.0 (Debian 12 has 7.88) names a header
	 * removed this way in SignedHeaders although it never sends it (curl
	 * issue 11664), and servers that check refuse the signature. */
	int oom = !req->aws_sigv4 && !(r->hdrs = curl_slist_append(NULL, "Expect:"));
	for (size_t i = 0; !oom && i < req->nheaders; i++) {
		struct curl_slist *n = curl_slist_append(r->hdrs, req->headers[i]);
		if (!n) {
			curl_slist_free_all(r->hdrs);
			r->hdrs = NULL;
			oom = 1;
		}
		r->hdrs = n;
	}
	if (oom) {
		curl_easy_cleanup(e);
		free(r);
		return LAB_ENOMEM;
	}
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, r->hdrs);
	if (bad) {
		r->easy = NULL;
		curl_easy_cleanup(e);
		req_free(r);
		return LAB_EINVAL;
	}
	h->in_curl++;
	CURLMcode mc = curl_multi_add_handle(h->multi, e);
	h->in_curl--;
	if (mc != CURLM_OK) {
		r->easy = NULL;
		curl_easy_cleanup(e);
		req_free(r);
		return mc == CURLM_OUT_OF_MEMORY ? LAB_ENOMEM : LAB_EIO;
	}
	list_add_tail(&h->reqs, &r->link);
	set_active(h, 1);
	if (out)
		*out = r;
	return 0;
}

void http_cancel(struct http_req *r)
{
	if (!r || r->cancelled)
		return;
	struct http *h = r->h;
	r->cancelled = 1;
	list_del(&r->link);
	set_active(h, -1);
	if (h->in_curl) {
		list_add_tail(&h->deferred, &r->link);
		return;
	}
	req_free(r);
}

size_t http_active(const struct http *h)
{
	return h ? h->active : 0;
}

static uint64_t rnd_next(void)
{
	static uint64_t s;
	if (!s)
		s = uv_hrtime() | 1;
	s ^= s << 13;
	s ^= s >> 7;
	s ^= s << 17;
	return s;
}

uint64_t http_backoff_ms(unsigned attempt, uint64_t base_ms, uint64_t max_ms)
{
	if (attempt == 0)
		attempt = 1;
	uint64_t d = base_ms;
	for (unsigned i = 1; i < attempt && d < max_ms; i++)
		d = d > UINT64_MAX / 2 ? UINT64_MAX : d * 2;
	if (d > max_ms)
		d = max_ms;
	uint64_t lo = d / 2;
	uint64_t span = d - lo;
	return lo + (span ? rnd_next() % (span + 1) : 0);
}

int http_urlencode(struct buf *b, const char *s, size_t len, int keep_slash)
{
	static const char hex[] = "0123456789ABCDEF";
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		    c == '-' || c == '_' || c == '.' || c == '~' || (keep_slash && c == '/')) {
			buf_putc(b, (char)c);
		} else {
			char t[3] = { '%', hex[c >> 4], hex[c & 15] };
			buf_append(b, t, 3);
		}
	}
	return b->oom ? LAB_ENOMEM : 0;
}
