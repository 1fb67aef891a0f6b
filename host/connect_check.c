/* labd -t --connect: each service the configuration names is opened with the
 * same clients the daemon uses (so URL, credentials and TLS are read the same
 * way), asked one thing, and closed.  The checks run together on a private
 * loop, bounded by CONNECT_CHECK_TIMEOUT_MS; labd has not started anything
 * yet, so blocking here is fine. */
#include "connect_check.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#include "broker.h"
#include "clickhouse.h"
#include "lab/plugin.h"
#include "storage.h"

#define POLL_MS 50
/* After the verdict, clients still closing (an S3 request in its retries)
 * are given this long, then abandoned: the process is about to exit. */
#define DRAIN_MS 3000
#define PROBE_BODY "labd connectivity check\n"

enum { C_CH, C_STORAGE, C_BROKER, C_N };
static const char *const check_name[C_N] = { "clickhouse", "storage", "broker" };

struct cc {
	uv_loop_t loop;
	uv_timer_t deadline, poll;
	const struct host_conf *hc;
	uint64_t t0;
	int done[C_N];
	int failed;
	struct clickhouse *ch;
	struct ch_query *q;
	struct storage *st;
	struct storage_op *op;
	int st_step; /* 0 put, 1 get, 2 delete */
	char key[160];
	struct broker *br;
};

static void report(struct cc *c, int which, int ok, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void report(struct cc *c, int which, int ok, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	fprintf(stderr, "labd: check %s: %s: %s (%llu ms)\n", check_name[which],
		ok ? "ok" : "FAILED", msg, (unsigned long long)(uv_now(&c->loop) - c->t0));
	c->done[which] = 1;
	if (!ok)
		c->failed = 1;
	int all = 1;
	for (int i = 0; i < C_N; i++)
		all &= c->done[i];
	if (all) {
		uv_timer_stop(&c->deadline);
		uv_timer_stop(&c->poll);
	}
}

/* ---- ClickHouse ---------------------------------------------------------------- */

static void ch_done(int status, const char *errmsg, const lab_rows *rows, void *ud)
{
	struct cc *c = ud;
	c->q = NULL;
	if (status < 0)
		report(c, C_CH, 0, "SELECT 1 as user \"%s\" on database \"%s\": %s%s%s", c->hc->ch_user,
		       c->hc->ch_database, lab_strerror(status), errmsg ? ": " : "",
		       errmsg ? errmsg : "");
	else
		report(c, C_CH, 1, "SELECT 1 answered (user \"%s\", database \"%s\")", c->hc->ch_user,
		       c->hc->ch_database);
}

static void ch_start(struct cc *c)
{
	int rc = clickhouse_open(&c->loop, NULL, c->hc, &c->ch);
	if (rc == 0)
		rc = clickhouse_query(c->ch, "labd-check", "SELECT 1", NULL, 0, 0, NULL, ch_done, c,
				      &c->q);
	if (rc < 0)
		report(c, C_CH, 0, "cannot ask: %s", lab_strerror(rc));
}

/* ---- storage: put, get, delete of a probe object --------------------------------- */

static void st_next(int status, const void *data, size_t len, void *ud);

static const char *st_where(const struct cc *c)
{
	return strcmp(c->hc->storage_backend, "s3") == 0 ? c->hc->s3_bucket : c->hc->fs_root;
}

static void st_next(int status, const void *data, size_t len, void *ud)
{
	struct cc *c = ud;
	static const char *const step[] = { "put", "get", "delete" };
	const char *what = strcmp(c->hc->storage_backend, "s3") == 0 ? "bucket" : "root";
	c->op = NULL;
	if (status < 0) {
		report(c, C_STORAGE, 0, "%s %s: %s of %s%s: %s", c->hc->storage_backend, what,
		       step[c->st_step], c->hc->storage_prefix, c->key, lab_strerror(status));
		return;
	}
	if (c->st_step == 1 && (len != sizeof PROBE_BODY - 1 || memcmp(data, PROBE_BODY, len) != 0)) {
		report(c, C_STORAGE, 0, "%s %s: the probe %s%s read back differs", c->hc->storage_backend,
		       what, c->hc->storage_prefix, c->key);
		return;
	}
	int rc = 0;
	switch (++c->st_step) {
	case 1:
		rc = storage_get(c->st, "labd-check", c->key, st_next, c, &c->op);
		break;
	case 2:
		rc = storage_delete(c->st, "labd-check", c->key, st_next, c, &c->op);
		break;
	default:
		if (strcmp(c->hc->storage_backend, "fs") == 0) { /* the probe's directory, if empty */
			char dir[4096];
			snprintf(dir, sizeof dir, "%s/%s.labd-check", c->hc->fs_root,
				 c->hc->storage_prefix);
			rmdir(dir);
		}
		report(c, C_STORAGE, 1, "%s %s \"%s\": put, get and delete of %s%s", c->hc->storage_backend,
		       what, st_where(c), c->hc->storage_prefix, c->key);
		return;
	}
	if (rc < 0)
		report(c, C_STORAGE, 0, "%s: %s", step[c->st_step], lab_strerror(rc));
}

static void st_start(struct cc *c)
{
	char host[64] = "";
	gethostname(host, sizeof host - 1);
	for (char *p = host; *p; p++) /* a safe key segment whatever the host name */
		if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_", *p))
			*p = '_';
	snprintf(c->key, sizeof c->key, ".labd-check/%s-%ld.txt", host[0] ? host : "host",
		 (long)getpid());
	int rc = storage_open(&c->loop, NULL, c->hc, &c->st);
	if (rc == 0)
		rc = storage_put(c->st, "labd-check", c->key, PROBE_BODY, sizeof PROBE_BODY - 1,
				 "text/plain", "no-store", 0, st_next, c, &c->op);
	if (rc < 0)
		report(c, C_STORAGE, 0, "cannot open %s storage: %s", c->hc->storage_backend,
		       lab_strerror(rc));
}

/* ---- broker ------------------------------------------------------------------------- */

static void br_poll(struct cc *c)
{
	if (c->done[C_BROKER] || !c->br)
		return;
	const char *why = NULL;
	if (broker_ready(c->br, &why) == 0)
		report(c, C_BROKER, 1, "nats: connected");
}

static void br_start(struct cc *c)
{
	if (strcmp(c->hc->broker_backend, "nats") != 0) {
		report(c, C_BROKER, 1, "%s: in-process, nothing to reach", c->hc->broker_backend);
		return;
	}
	int rc = broker_open(&c->loop, NULL, c->hc, &c->br);
	if (rc < 0)
		report(c, C_BROKER, 0, "cannot open the nats broker: %s", lab_strerror(rc));
}

/* ---- timing ------------------------------------------------------------------------- */

static void on_poll(uv_timer_t *t)
{
	br_poll(t->data);
}

static void on_deadline(uv_timer_t *t)
{
	struct cc *c = t->data;
	const char *why = NULL;
	if (!c->done[C_CH]) {
		clickhouse_cancel(c->q);
		c->q = NULL;
		clickhouse_ready(c->ch, &why);
		report(c, C_CH, 0, "no answer to SELECT 1 within %d s%s%s", CONNECT_CHECK_TIMEOUT_MS / 1000,
		       why ? ": " : "", why ? why : "");
	}
	if (!c->done[C_STORAGE]) {
		why = NULL;
		if (c->op)
			storage_cancel(c->op);
		c->op = NULL;
		if (c->st)
			storage_ready(c->st, &why);
		report(c, C_STORAGE, 0, "%s storage: no answer within %d s%s%s", c->hc->storage_backend,
		       CONNECT_CHECK_TIMEOUT_MS / 1000, why ? ": " : "", why ? why : "");
	}
	if (!c->done[C_BROKER]) {
		why = NULL;
		broker_ready(c->br, &why);
		report(c, C_BROKER, 0, "no connection to the nats server within %d s: %s",
		       CONNECT_CHECK_TIMEOUT_MS / 1000, why ? why : "not connected");
	}
}

int connect_check(const struct host_conf *hc)
{
	static struct cc c; /* abandoned, not freed, if a client never finishes closing */
	memset(&c, 0, sizeof c);
	c.hc = hc;
	if (uv_loop_init(&c.loop) != 0) {
		fprintf(stderr, "labd: check: cannot create an event loop\n");
		return 1;
	}
	c.t0 = uv_now(&c.loop);
	uv_timer_init(&c.loop, &c.deadline);
	uv_timer_init(&c.loop, &c.poll);
	c.deadline.data = c.poll.data = &c;
	uv_timer_start(&c.deadline, on_deadline, CONNECT_CHECK_TIMEOUT_MS, 0);
	uv_timer_start(&c.poll, on_poll, POLL_MS, POLL_MS);
	ch_start(&c);
	st_start(&c);
	br_start(&c);
	while (!(c.done[C_CH] && c.done[C_STORAGE] && c.done[C_BROKER]))
		uv_run(&c.loop, UV_RUN_ONCE);

	uv_close((uv_handle_t *)&c.deadline, NULL);
	uv_close((uv_handle_t *)&c.poll, NULL);
	if (c.ch)
		clickhouse_close(c.ch);
	if (c.st)
		storage_close(c.st);
	if (c.br)
		broker_close(c.br);
	uint64_t until = uv_now(&c.loop) + DRAIN_MS;
	while (uv_run(&c.loop, UV_RUN_NOWAIT) != 0 && uv_now(&c.loop) < until)
		usleep(10000);
	if (uv_loop_close(&c.loop) != 0)
		fprintf(stderr, "labd: check: a client did not finish closing; leaving it\n");
	fprintf(stderr, "labd: connectivity %s\n", c.failed ? "has errors" : "ok");
	return c.failed;
}
