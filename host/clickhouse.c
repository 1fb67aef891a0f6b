/* ClickHouse HTTP client: see clickhouse.h and docs/clickhouse.md.
 *
 * A query is POSTed with its bound SQL as the body and
 *   ?database=D&enable_http_compression=1&max_execution_time=T
 * (settings are URL arguments; no `param_x`), the host appending
 * `FORMAT TabSeparatedWithNames` to statements that return rows.  The body
 * is parsed as it arrives (ch_rows.c); a non-200 answer's body is collected
 * (bounded) as the error text.
 *
 * Result classes:
 *   200 and the TSV parses           -> 0
 *   any answer with "DB::Exception"  -> LAB_EQUERY, not retried (a 200 whose
 *                                       body breaks off with an exception
 *                                       included)
 *   transport error                  -> retried, finally LAB_EIO / LAB_ETIMEDOUT
 *   5xx without exception text       -> retried, finally LAB_EUNAVAIL
 *   other 4xx                        -> LAB_EQUERY
 *   200 with malformed TSV, or empty -> LAB_EPARSE (a rows query always
 *   (no names row) for a rows query     gets a names row)
 * /readyz (clickhouse_ready) is not ready from a transport error, a 5xx
 * without exception text or a malformed/empty 200 until the next answer.
 * With clickhouse_probe_start() the client also asks on its own: `SELECT 1`
 * every clickhouse.probe_interval, outside the plugins' queues and metrics,
 * and it is not ready until a working server has answered once.
 * Only reads are retried (a write may have been applied before the
 * connection broke), and a streamed query not once a batch was delivered.
 *
 * Fairness: at most max_concurrency queries are in flight; waiting queries
 * sit in per-plugin FIFOs and are dispatched round-robin across plugins. */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ch_internal.h"
#include "clickhouse.h"
#include "http.h"
#include "list.h"
#include "log.h"
#include "metrics.h"

#define CH_MAX_ATTEMPTS 4       /* first try + 3 retries */
#define CH_BACKOFF_BASE_MS 200
#define CH_BACKOFF_MAX_MS 3000
#define CH_ERRBODY_MAX 16384    /* bytes of error text kept */
#define CH_TAIL_KEEP 4096       /* raw bytes kept before a parse error */
#define CH_RECV_BUFFER (128L << 10) /* bytes per socket read of an answer */

struct ch_plugin {
	struct list link;  /* in clickhouse.plugins */
	struct list rr;    /* in clickhouse.ready (when it has queued queries) */
	int in_ready;
	struct list queue; /* struct ch_query.link */
	char name[];
};

struct clickhouse {
	uv_loop_t *loop;
	struct metrics *metrics; /* NULL: not counted */
	struct http *http;
	char *url;     /* base URL with the query-string arguments */
	char *userpwd; /* "user:password" or NULL */
	long timeout_ms;
	size_t max_result; /* bytes one answer may hold in memory (clickhouse.max_result_mb) */
	size_t max_running, running, queued;
	struct list plugins; /* struct ch_plugin */
	struct list ready;   /* plugins with waiting queries, round-robin order */
	struct list active;  /* running queries */
	uv_timer_t kick;     /* deferred dispatch (never from inside curl) */
	int closing;
	int handles;   /* open loop handles; ch is freed when the last closes */
	int last_transport_err;
	int answered;  /* a working server answered since the start */
	char last_err[256];
	/* the readiness probe (clickhouse_probe_start) */
	uv_timer_t probe_timer;
	struct http_req *probe;
	uint64_t probe_ms; /* 0 = not probing */
	struct buf probe_body; /* the answer's first bytes (bounded) */
};

enum { Q_QUEUED, Q_RUNNING, Q_BACKOFF };

struct ch_query {
	struct clickhouse *ch;
	struct ch_plugin *pl;
	struct list link; /* plugin queue, or clickhouse.active */
	int state;
	unsigned attempt;
	int stream;
	int retryable;     /* a read (returns rows): safe to send again */
	ch_rows_fn on_rows;
	ch_done_fn done;
	void *ud;
	struct buf sql;
	struct http_req *req;
	uv_timer_t *timer; /* backoff timer, allocated on the first retry */
	uint64_t t_start;
	long code;         /* HTTP status of the current attempt */
	struct ch_parser parser;
	struct buf errbody; /* non-200 body, or the tail after a parse error */
	int parse_failed;
	int delivered;     /* a batch went to on_rows */
	int in_cb;         /* inside a callback of this query */
	int cancelled;
	int cb_err;
	size_t tail_len;   /* last raw bytes of a 200 body (exception check) */
	char tail[CH_TAIL_KEEP];
};

static void dispatch(struct clickhouse *ch);

static void kick_cb(uv_timer_t *t)
{
	dispatch(t->data);
}

static void schedule_dispatch(struct clickhouse *ch)
{
	if (!ch->closing)
		uv_timer_start(&ch->kick, kick_cb, 0, 0);
}


/* Whether the URL's host is a loopback address (localhost, 127.0.0.0/8,
 * ::1).  Unparsable: no (compression stays on). */
static int url_is_loopback(const char *url)
{
	CURLU *h = curl_url();
	char *host = NULL;
	int lo = 0;
	if (h && curl_url_set(h, CURLUPART_URL, url, 0) == CURLUE_OK &&
	    curl_url_get(h, CURLUPART_HOST, &host, 0) == CURLUE_OK && host)
		lo = !strcasecmp(host, "localhost") || !strncmp(host, "127.", 4) ||
		     !strcmp(host, "[::1]") || !strcmp(host, "::1");
	curl_free(host);
	curl_url_cleanup(h);
	return lo;
}

static char *url_with_args(const struct host_conf *hc)
{
	struct buf b = BUF_INIT;
	const char *u = hc->ch_url && hc->ch_url[0] ? hc->ch_url : "http://127.0.0.1:8123";
	size_t l = strlen(u);
	while (l && u[l - 1] == '/')
		l--;
	buf_append(&b, u, l);
	buf_puts(&b, "/?database=");
	const char *db = hc->ch_database && hc->ch_database[0] ? hc->ch_database : "default";
	http_urlencode(&b, db, strlen(db), 0);
	/* gzip of the answer costs both sides CPU (ClickHouse compresses, libcurl
	 * inflates: ~10 % of labd's CPU in a mainnet-like backfill with relay
	 * bids) and only saves bandwidth, which a loopback connection does not
	 * need: "auto" asks for it unless the host is a loopback address. */
	int comp = hc->ch_compression == CH_COMPRESSION_ON ||
		   (hc->ch_compression == CH_COMPRESSION_AUTO && !url_is_loopback(u));
	buf_printf(&b, "&enable_http_compression=%d", comp);
	if (hc->ch_timeout > 0)
		buf_printf(&b, "&max_execution_time=%lld", (long long)hc->ch_timeout);
	if (b.oom) {
		buf_free(&b);
		return NULL;
	}
	return buf_steal(&b, NULL);
}

int clickhouse_open(uv_loop_t *loop, struct metrics *metrics, const struct host_conf *hc,
		    struct clickhouse **out)
{
	struct clickhouse *ch = calloc(1, sizeof *ch);
	if (!ch)
		return LAB_ENOMEM;
	ch->loop = loop;
	ch->metrics = metrics;
	ch->url = url_with_args(hc);
	if (hc->ch_user && hc->ch_user[0]) {
		size_t n = strlen(hc->ch_user) + strlen(hc->ch_password ? hc->ch_password : "") + 2;
		ch->userpwd = malloc(n);
		if (ch->userpwd)
			snprintf(ch->userpwd, n, "%s:%s", hc->ch_user,
				 hc->ch_password ? hc->ch_password : "");
	}
	if (!ch->url || (hc->ch_user && hc->ch_user[0] && !ch->userpwd)) {
		free(ch->url);
		free(ch->userpwd);
		free(ch);
		return LAB_ENOMEM;
	}
	int rc = http_open(loop, "clickhouse", &ch->http);
	if (rc < 0) {
		free(ch->url);
		free(ch->userpwd);
		free(ch);
		return rc;
	}
	ch->timeout_ms = hc->ch_timeout > 0 ? (long)hc->ch_timeout * 1000 : 0;
	ch->max_running = hc->ch_max_concurrency > 0 ? (size_t)hc->ch_max_concurrency : 4;
	ch->max_result = (size_t)(hc->ch_max_result_mb > 0 ? hc->ch_max_result_mb : CH_MAX_RESULT_MB_DEFAULT) << 20;
	list_init(&ch->plugins);
	list_init(&ch->ready);
	list_init(&ch->active);
	uv_timer_init(loop, &ch->kick);
	ch->kick.data = ch;
	uv_timer_init(loop, &ch->probe_timer);
	ch->probe_timer.data = ch;
	uv_unref((uv_handle_t *)&ch->probe_timer);
	ch->handles = 2;
	*out = ch;
	return 0;
}

static void timer_freed(uv_handle_t *h)
{
	free(h);
}

static void query_free(struct ch_query *q)
{
	if (q->req)
		http_cancel(q->req);
	q->req = NULL;
	if (q->timer) {
		uv_timer_stop(q->timer);
		uv_close((uv_handle_t *)q->timer, timer_freed);
	}
	ch_parser_free(&q->parser);
	buf_free(&q->sql);
	buf_free(&q->errbody);
	free(q);
}

#define PROBE_BODY_MAX 512 /* "1\n", or the start of an error text */

static void handle_closed(uv_handle_t *h)
{
	struct clickhouse *ch = h->data;
	if (--ch->handles == 0)
		free(ch);
}

void clickhouse_close(struct clickhouse *ch)
{
	if (!ch)
		return;
	ch->closing = 1;
	while (!list_empty(&ch->active)) {
		struct ch_query *q = list_entry(ch->active.next, struct ch_query, link);
		list_del(&q->link);
		query_free(q);
	}
	while (!list_empty(&ch->plugins)) {
		struct ch_plugin *pl = list_entry(ch->plugins.next, struct ch_plugin, link);
		while (!list_empty(&pl->queue)) {
			struct ch_query *q = list_entry(pl->queue.next, struct ch_query, link);
			list_del(&q->link);
			query_free(q);
		}
		list_del(&pl->link);
		free(pl);
	}
	http_close(ch->http); /* cancels the probe too (no callback) */
	ch->probe = NULL;
	buf_free(&ch->probe_body);
	free(ch->url);
	free(ch->userpwd);
	uv_timer_stop(&ch->kick);
	uv_close((uv_handle_t *)&ch->kick, handle_closed);
	uv_timer_stop(&ch->probe_timer);
	uv_close((uv_handle_t *)&ch->probe_timer, handle_closed);
}

static struct ch_plugin *plugin_get(struct clickhouse *ch, const char *name)
{
	struct list *p;
	for (p = ch->plugins.next; p != &ch->plugins; p = p->next) {
		struct ch_plugin *pl = list_entry(p, struct ch_plugin, link);
		if (!strcmp(pl->name, name))
			return pl;
	}
	size_t l = strlen(name);
	struct ch_plugin *pl = calloc(1, sizeof *pl + l + 1);
	if (!pl)
		return NULL;
	memcpy(pl->name, name, l + 1);
	list_init(&pl->queue);
	list_add_tail(&ch->plugins, &pl->link);
	return pl;
}

/* ---- completion ------------------------------------------------------- */

static const char *result_label(int status)
{
	switch (status) {
	case 0: return "ok";
	case LAB_EQUERY: return "query_error";
	case LAB_ETIMEDOUT: return "timeout";
	case LAB_EPARSE: return "parse_error";
	case LAB_ECANCELED: return "cancelled";
	case LAB_ERANGE: return "too_large";
	default: return "failed";
	}
}

/* Removes q from the active list, reports and frees it. */
static void finish(struct ch_query *q, int status, const char *errmsg)
{
	struct clickhouse *ch = q->ch;
	if (q->state == Q_RUNNING || q->state == Q_BACKOFF) {
		list_del(&q->link);
		ch->running--;
	}
	double secs = (double)(uv_hrtime() - q->t_start) / 1e9;
	metric_add(ch->metrics, M_CH_QUERIES, 1, q->pl->name, result_label(status));
	metric_observe(ch->metrics, M_CH_QUERY_SECONDS, secs, q->pl->name);
	if (q->parser.total_rows)
		metric_add(ch->metrics, M_CH_ROWS, (double)q->parser.total_rows, q->pl->name);
	if (status < 0)
		log_kv(LAB_LOG_DEBUG, q->pl->name, "clickhouse query failed",
		       LAB_FS("error", lab_strerror(status)),
		       LAB_FS("detail", errmsg ? errmsg : ""));
	q->in_cb++;
	q->done(status, status < 0 ? (errmsg ? errmsg : lab_strerror(status)) : NULL,
		status == 0 && !q->stream ? &q->parser.rows : NULL, q->ud);
	q->in_cb--;
	q->req = NULL;
	query_free(q);
	schedule_dispatch(ch);
}

/* Trims ClickHouse's error text to one readable line. */
static const char *err_text(struct buf *b)
{
	if (!b->len)
		return NULL;
	char *s = b->data;
	char *code = strstr(s, "Code:");
	if (code)
		s = code;
	size_t l = strlen(s);
	while (l && (s[l - 1] == '\n' || s[l - 1] == '\r' || s[l - 1] == ' '))
		s[--l] = '\0';
	for (size_t i = 0; i < l; i++)
		if (s[i] == '\n' || s[i] == '\r' || s[i] == '\t')
			s[i] = ' ';
	return s;
}

static void start_attempt(struct ch_query *q);

static void backoff_fire(uv_timer_t *t)
{
	struct ch_query *q = t->data;
	start_attempt(q);
}

/* Retries when allowed; returns 1 if a retry was scheduled. */
static int maybe_retry(struct ch_query *q, const char *why)
{
	struct clickhouse *ch = q->ch;
	if (ch->closing || !q->retryable || q->attempt >= CH_MAX_ATTEMPTS || q->delivered)
		return 0;
	if (!q->timer) {
		q->timer = malloc(sizeof *q->timer);
		if (!q->timer)
			return 0;
		uv_timer_init(ch->loop, q->timer);
		q->timer->data = q;
	}
	uint64_t d = http_backoff_ms(q->attempt, CH_BACKOFF_BASE_MS, CH_BACKOFF_MAX_MS);
	log_kv(LAB_LOG_INFO, q->pl->name, "clickhouse query retry", LAB_FS("reason", why),
	       LAB_FI("attempt", (int64_t)q->attempt), LAB_FI("delay_ms", (int64_t)d));
	q->state = Q_BACKOFF;
	q->req = NULL;
	uv_timer_start(q->timer, backoff_fire, d, 0);
	return 1;
}

static void on_done(int status, long code, const struct buf *body, const char *errmsg, void *ud)
{
	(void)body;
	struct ch_query *q = ud;
	struct clickhouse *ch = q->ch;
	q->req = NULL;
	if (status < 0 && status != q->cb_err) {
		/* Transport failure: the server was not (fully) reached. */
		ch->last_transport_err = status;
		snprintf(ch->last_err, sizeof ch->last_err, "%s",
			 errmsg ? errmsg : lab_strerror(status));
		if (status == LAB_EIO && maybe_retry(q, ch->last_err))
			return;
		finish(q, status, ch->last_err);
		return;
	}
	ch->last_transport_err = 0;
	ch->answered = 1;
	if (status == q->cb_err && status < 0 && !q->parse_failed) {
		/* on_rows asked to stop, out of memory, or the answer is too large */
		char why[160];
		if (status == LAB_ERANGE)
			snprintf(why, sizeof why,
				 "the answer needs more than clickhouse.max_result_mb = %zu MiB%s",
				 q->ch->max_result >> 20,
				 q->stream ? " for one batch of rows" : " (stream it, or narrow the query)");
		finish(q, status, status == LAB_ERANGE ? why : NULL);
		return;
	}
	q->code = code;
	buf_putc(&q->errbody, '\0');
	q->errbody.len--;
	int has_exc = q->errbody.data && strstr(q->errbody.data, "DB::Exception") != NULL;
	if (code != 200) {
		const char *t = err_text(&q->errbody);
		char msg[300];
		if (has_exc || (code >= 400 && code < 500)) {
			finish(q, LAB_EQUERY, t ? t : "ClickHouse refused the query");
			return;
		}
		snprintf(msg, sizeof msg, "HTTP %ld from ClickHouse%s%.200s", code, t ? ": " : "",
			 t ? t : "");
		if (code >= 500) { /* a 5xx without ClickHouse's text: unavailable (/readyz) */
			ch->last_transport_err = LAB_EUNAVAIL;
			snprintf(ch->last_err, sizeof ch->last_err, "%.200s", msg);
		}
		if (maybe_retry(q, msg))
			return;
		finish(q, code >= 500 ? LAB_EUNAVAIL : LAB_EIO, msg);
		return;
	}
	/* ClickHouse reports an error found after it began sending a 200 by
	 * appending the exception text: "\nCode: N, e.displayText() =
	 * DB::Exception: ..." (newer: "Code: N. DB::Exception: ..."). */
	if (!q->parse_failed && q->tail_len) {
		char *t = q->tail;
		q->tail[q->tail_len < sizeof q->tail ? q->tail_len : sizeof q->tail - 1] = '\0';
		char *c = strstr(t, "\nCode: ");
		if (c)
			c++;
		else if (!strncmp(t, "Code: ", 6) && q->parser.consumed <= q->tail_len)
			c = t; /* the whole body is the exception */
		if (c && strstr(c, "DB::Exception")) {
			buf_reset(&q->errbody);
			buf_puts(&q->errbody, c);
			finish(q, LAB_EQUERY, err_text(&q->errbody));
			return;
		}
	}
	if (q->parse_failed) {
		if (has_exc) {
			finish(q, LAB_EQUERY, err_text(&q->errbody));
			return;
		}
		/* garbage in a 200: whatever answered is not a healthy ClickHouse */
		ch->last_transport_err = LAB_EPARSE;
		snprintf(ch->last_err, sizeof ch->last_err,
			 "malformed TabSeparated result from ClickHouse");
		finish(q, q->parser.err ? q->parser.err : LAB_EPARSE,
		       "malformed TabSeparated result from ClickHouse");
		return;
	}
	q->in_cb++;
	int rc = ch_parser_finish(&q->parser);
	q->in_cb--;
	if (q->cancelled) {
		list_del(&q->link);
		ch->running--;
		query_free(q);
		schedule_dispatch(ch);
		return;
	}
	/* TabSeparatedWithNames always starts with the names row, also for no
	 * rows: an empty 200 is not ClickHouse's answer (a proxy, a cut). */
	if (rc == 0 && q->retryable && !q->parser.header_done)
		rc = LAB_EPARSE;
	if (rc == LAB_EPARSE) {
		ch->last_transport_err = LAB_EPARSE;
		snprintf(ch->last_err, sizeof ch->last_err, "%s",
			 q->parser.header_done ? "ClickHouse result ended inside a row"
					       : "empty result from ClickHouse (no names row)");
		finish(q, rc, ch->last_err);
		return;
	}
	if (rc < 0) {
		finish(q, rc, NULL);
		return;
	}
	finish(q, 0, NULL);
}

static void on_header(const char *line, size_t len, void *ud)
{
	struct ch_query *q = ud;
	if (len > 5 && !memcmp(line, "HTTP/", 5)) {
		const char *sp = memchr(line, ' ', len);
		q->code = sp ? strtol(sp + 1, NULL, 10) : 0;
		/* A new response (e.g. after 100 Continue): forget error text. */
		buf_reset(&q->errbody);
	}
}

static int batch_cb(const struct lab_rows *rows, void *ud)
{
	struct ch_query *q = ud;
	q->delivered = 1;
	int rc = q->on_rows(rows, q->ud);
	if (q->cancelled)
		return LAB_ECANCELED;
	return rc;
}

static int on_data(const char *data, size_t len, void *ud)
{
	struct ch_query *q = ud;
	if (q->code != 200 || q->parse_failed) {
		size_t room = CH_ERRBODY_MAX > q->errbody.len ? CH_ERRBODY_MAX - q->errbody.len : 0;
		buf_append(&q->errbody, data, len < room ? len : room);
		return 0;
	}
	/* Keep the last bytes for the exception check in on_done. */
	if (len >= sizeof q->tail - 1) {
		memcpy(q->tail, data + len - (sizeof q->tail - 1), sizeof q->tail - 1);
		q->tail_len = sizeof q->tail - 1;
	} else {
		size_t keep = sizeof q->tail - 1 - len;
		if (q->tail_len > keep) {
			memmove(q->tail, q->tail + q->tail_len - keep, keep);
			q->tail_len = keep;
		}
		memcpy(q->tail + q->tail_len, data, len);
		q->tail_len += len;
	}
	size_t used = 0;
	q->in_cb++;
	int rc = ch_parser_feed(&q->parser, data, len, &used);
	q->in_cb--;
	if (q->cancelled) {
		/* clickhouse_cancel() ran inside on_rows: free now that we are out. */
		struct clickhouse *ch = q->ch;
		list_del(&q->link);
		ch->running--;
		q->req = NULL; /* http_cancel already done */
		query_free(q);
		schedule_dispatch(ch);
		return LAB_ECANCELED;
	}
	if (rc == LAB_EPARSE) {
		/* Maybe ClickHouse broke off with an exception: keep the text. */
		q->parse_failed = 1;
		size_t from = used > CH_TAIL_KEEP ? used - CH_TAIL_KEEP : 0;
		buf_append(&q->errbody, data + from, len - from);
		return 0;
	}
	if (rc == 0 && ch_parser_held(&q->parser) > q->ch->max_result)
		rc = LAB_ERANGE; /* an endless or huge answer: never grow past the cap */
	if (rc < 0) {
		q->cb_err = rc;
		return rc;
	}
	return 0;
}

/* One POST of `sql` to the server (a query's attempt, or the probe). */
static int post(struct clickhouse *ch, const char *sql, size_t len, long timeout_ms,
		long connect_timeout_ms, const struct http_callbacks *cb, struct http_req **out)
{
	static const char *const hdrs[] = { "Content-Type: text/plain; charset=utf-8" };
	struct http_request req = {
		.method = "POST",
		.url = ch->url,
		.headers = hdrs,
		.nheaders = 1,
		.body = sql,
		.body_len = len,
		.userpwd = ch->userpwd,
		.timeout_ms = timeout_ms,
		.connect_timeout_ms = connect_timeout_ms,
		.accept_gzip = 1,
		/* Answers run to megabytes (relay bids: ~0.7 MB of TSV a slot):
		 * 8x fewer socket reads than curl's 16 KiB; the buffer lives only
		 * as long as the request. */
		.recv_buffer = CH_RECV_BUFFER,
	};
	return http_start(ch->http, &req, cb, out);
}

static void start_attempt(struct ch_query *q)
{
	struct clickhouse *ch = q->ch;
	q->attempt++;
	q->code = 0;
	q->parse_failed = 0;
	q->cb_err = 0;
	q->tail_len = 0;
	buf_reset(&q->errbody);
	ch_parser_reset(&q->parser);
	q->state = Q_RUNNING;
	struct http_callbacks cb = { .on_data = on_data, .on_header = on_header, .done = on_done,
				     .ud = q };
	int rc = post(ch, q->sql.data, q->sql.len, ch->timeout_ms, 5000, &cb, &q->req);
	if (rc < 0) {
		q->req = NULL;
		finish(q, rc, NULL);
	}
}

static void dispatch(struct clickhouse *ch)
{
	while (!ch->closing && ch->running < ch->max_running && !list_empty(&ch->ready)) {
		struct ch_plugin *pl = list_entry(ch->ready.next, struct ch_plugin, rr);
		list_del(&pl->rr);
		struct ch_query *q = list_entry(pl->queue.next, struct ch_query, link);
		list_del(&q->link);
		ch->queued--;
		if (list_empty(&pl->queue))
			pl->in_ready = 0;
		else
			list_add_tail(&ch->ready, &pl->rr); /* to the back: round-robin */
		list_add_tail(&ch->active, &q->link);
		ch->running++;
		start_attempt(q);
	}
}

int clickhouse_query(struct clickhouse *ch, const char *plugin, const char *sql,
		     const lab_param *params, size_t n, unsigned flags, ch_rows_fn on_rows,
		     ch_done_fn done, void *ud, struct ch_query **out)
{
	if (!ch || !sql || !done || ((flags & LAB_QUERY_STREAM) && !on_rows))
		return LAB_EINVAL;
	if (ch->closing)
		return LAB_ECANCELED;
	struct ch_query *q = calloc(1, sizeof *q);
	if (!q)
		return LAB_ENOMEM;
	int rc = ch_bind(&q->sql, sql, params, n);
	q->retryable = ch_returns_rows(sql);
	if (rc == 0 && q->retryable) {
		/* Drop trailing blanks and ';' before the FORMAT clause. */
		while (q->sql.len && (q->sql.data[q->sql.len - 1] == ';' ||
				      q->sql.data[q->sql.len - 1] == ' ' ||
				      q->sql.data[q->sql.len - 1] == '\n' ||
				      q->sql.data[q->sql.len - 1] == '\t' ||
				      q->sql.data[q->sql.len - 1] == '\r'))
			q->sql.data[--q->sql.len] = '\0';
		buf_puts(&q->sql, "\nFORMAT TabSeparatedWithNames");
		if (q->sql.oom)
			rc = LAB_ENOMEM;
	}
	struct ch_plugin *pl = rc == 0 ? plugin_get(ch, plugin ? plugin : "") : NULL;
	if (rc == 0 && !pl)
		rc = LAB_ENOMEM;
	if (rc < 0) {
		buf_free(&q->sql);
		free(q);
		return rc;
	}
	q->ch = ch;
	q->pl = pl;
	q->stream = (flags & LAB_QUERY_STREAM) != 0;
	q->on_rows = on_rows;
	q->done = done;
	q->ud = ud;
	q->state = Q_QUEUED;
	q->t_start = uv_hrtime();
	ch_parser_init(&q->parser, q->stream ? CH_BATCH_ROWS : 0, q->stream ? batch_cb : NULL, q);
	list_add_tail(&pl->queue, &q->link);
	ch->queued++;
	if (!pl->in_ready) {
		pl->in_ready = 1;
		list_add_tail(&ch->ready, &pl->rr);
	}
	schedule_dispatch(ch);
	if (out)
		*out = q;
	return 0;
}

void clickhouse_cancel(struct ch_query *q)
{
	if (!q || q->cancelled)
		return;
	struct clickhouse *ch = q->ch;
	q->cancelled = 1;
	if (q->req) {
		http_cancel(q->req); /* deferred by http.c when inside curl */
		q->req = NULL;
	}
	if (q->in_cb)
		return; /* freed by the code that called out, once it regains control */
	if (q->state == Q_QUEUED) {
		list_del(&q->link);
		ch->queued--;
		if (list_empty(&q->pl->queue) && q->pl->in_ready) {
			list_del(&q->pl->rr);
			q->pl->in_ready = 0;
		}
	} else {
		list_del(&q->link);
		ch->running--;
		schedule_dispatch(ch);
	}
	query_free(q);
}

/* ---- readiness ---------------------------------------------------------- */

static void probe_set(struct clickhouse *ch, int err, const char *why)
{
	int was = ch->last_transport_err;
	ch->last_transport_err = err;
	if (err) {
		snprintf(ch->last_err, sizeof ch->last_err, "%s", why);
		/* Log changes only: a down server is probed every interval. */
		if (!was)
			log_kv(LAB_LOG_WARN, NULL, "clickhouse readiness probe failed",
			       LAB_FS("error", ch->last_err));
		return;
	}
	if (was)
		log_msg(LAB_LOG_INFO, NULL, "clickhouse readiness probe ok");
	ch->answered = 1;
}

/* Keeps the first PROBE_BODY_MAX bytes and ends an answer longer than
 * that: whatever sends more is not a ClickHouse answering SELECT 1. */
static int probe_data(const char *data, size_t len, void *ud)
{
	struct clickhouse *ch = ud;
	if (ch->probe_body.len + len > PROBE_BODY_MAX)
		return LAB_ERANGE;
	buf_append(&ch->probe_body, data, len);
	return ch->probe_body.oom ? LAB_ENOMEM : 0;
}

static void probe_done(int status, long code, const struct buf *unused, const char *errmsg,
		       void *ud)
{
	struct clickhouse *ch = ud;
	const struct buf *body = &ch->probe_body;
	char why[300];
	(void)unused;
	ch->probe = NULL;
	if (status == LAB_ERANGE) {
		probe_set(ch, LAB_EPARSE, "unexpected answer to SELECT 1 from ClickHouse (too long)");
		return;
	}
	if (status < 0) {
		probe_set(ch, status, errmsg ? errmsg : lab_strerror(status));
		return;
	}
	if (code == 200 && body->len >= 1 && body->data[0] == '1') {
		probe_set(ch, 0, NULL);
		return;
	}
	/* Keep the text: ClickHouse's (a refused user, an unknown database)
	 * says more than the code. */
	struct buf text = BUF_INIT;
	buf_append(&text, body->data, body->len < 512 ? body->len : 512);
	buf_putc(&text, '\0');
	const char *t = text.oom ? NULL : err_text(&text);
	if (code == 200)
		snprintf(why, sizeof why, "unexpected answer to SELECT 1 from ClickHouse");
	else
		snprintf(why, sizeof why, "HTTP %ld from ClickHouse%s%.200s", code, t ? ": " : "",
			 t ? t : "");
	buf_free(&text);
	probe_set(ch, code == 200 ? LAB_EPARSE : LAB_EUNAVAIL, why);
}

static void probe_tick(uv_timer_t *t)
{
	struct clickhouse *ch = t->data;
	if (ch->probe || ch->closing)
		return; /* the last one is still out: its timeout ends it */
	/* At most one interval (and the query timeout): a probe that hangs
	 * must turn /readyz to 503 before the next one is due. */
	long timeout = (long)ch->probe_ms;
	if (ch->timeout_ms > 0 && ch->timeout_ms < timeout)
		timeout = ch->timeout_ms;
	static const char sql[] = "SELECT 1";
	struct http_callbacks cb = { .on_data = probe_data, .done = probe_done, .ud = ch };
	buf_free(&ch->probe_body); /* also clears an earlier out-of-memory mark */
	int rc = post(ch, sql, sizeof sql - 1, timeout, timeout < 5000 ? timeout : 5000, &cb,
		      &ch->probe);
	if (rc < 0) {
		ch->probe = NULL;
		probe_set(ch, rc, lab_strerror(rc));
	}
}

void clickhouse_probe_start(struct clickhouse *ch, uint64_t interval_ms)
{
	if (!ch || ch->closing || ch->probe_ms == interval_ms)
		return;
	uint64_t was = ch->probe_ms;
	ch->probe_ms = interval_ms;
	if (!interval_ms) {
		uv_timer_stop(&ch->probe_timer); /* a probe still out completes */
		return;
	}
	/* A changed interval (SIGHUP) counts from now; turned on, probe at once. */
	uv_timer_start(&ch->probe_timer, probe_tick, was ? interval_ms : 0, interval_ms);
}

int clickhouse_ready(const struct clickhouse *ch, const char **why)
{
	if (!ch)
		return 0;
	if (ch->last_transport_err) {
		if (why)
			*why = ch->last_err;
		return 1;
	}
	if (ch->probe_ms && !ch->answered) {
		if (why)
			*why = ch->probe ? "no answer yet (checking)" : "no answer yet";
		return 1;
	}
	return 0;
}

size_t clickhouse_running(const struct clickhouse *ch)
{
	return ch ? ch->running : 0;
}

size_t clickhouse_queued(const struct clickhouse *ch)
{
	return ch ? ch->queued : 0;
}
