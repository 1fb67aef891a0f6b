/*
 * hello — a labd plugin, the tutorial of docs/plugin-guide.md.
 * Every `interval` it counts the blocks a network saw in the last hour
 * (ClickHouse), stores the count as a JSON document and announces it.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lab/plugin.h>

static const lab_setting settings[] = {
	{ .name = "network", .type = LAB_SET_STRING, .def = "mainnet",
	  .desc = "network whose blocks are counted ([a-z0-9_-]+)" },
	{ .name = "interval", .type = LAB_SET_DURATION, .def = "5m",
	  .desc = "how often the count is refreshed" },
	{ .name = "clickhouse", .type = LAB_SET_BOOL, .def = "true",
	  .desc = "count in ClickHouse; false stores the document without a count" },
	{ 0 },
};

struct hello {
	lab_ctx *ctx;
	const char *network; /* owned by the host, valid until destroy */
	int64_t interval_s;
	int use_clickhouse;
	int64_t runs; /* passes that stored their document; kept in state */
	int busy;     /* a pass is in flight */
	int once;     /* started by `labd --once`: report with lab_done() */
};

static int valid_network(const char *s)
{
	if (!*s || strlen(s) > 32)
		return 0;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '_' || *s == '-'))
			return 0;
	return 1;
}

/* Report a bad setting as FILE:LINE, like the host's own checks. */
static int config_error(lab_ctx *ctx, const char *name, const char *why)
{
	const char *file = "?";
	int line = 0;
	lab_cfg_where(ctx, NULL, name, &file, &line);
	lab_logf(ctx, LAB_LOG_ERROR, "%s:%d: setting '%s' %s", file, line, name, why);
	return LAB_ECONFIG;
}

static int hello_init(lab_ctx *ctx, void **self)
{
	struct hello *h = calloc(1, sizeof *h);
	const char *json;
	size_t len;
	int rc = 0;
	if (!h)
		return LAB_ENOMEM;
	h->ctx = ctx;
	/* The host checked the types; a missing setting reads as its .def. */
	lab_cfg_string(ctx, NULL, "network", &h->network);
	lab_cfg_duration(ctx, NULL, "interval", &h->interval_s);
	lab_cfg_bool(ctx, NULL, "clickhouse", &h->use_clickhouse);
	if (!valid_network(h->network))
		rc = config_error(ctx, "network", "must match [a-z0-9_-]+");
	else if (h->interval_s <= 0)
		rc = config_error(ctx, "interval", "must be positive");
	if (rc < 0) {
		free(h); /* init failed: the host will not call destroy */
		return rc;
	}
	/* State survives restarts and reloads.  Treat it as untrusted input:
	 * the value is not NUL-terminated, and it may be negative, not a
	 * number, or too large (strtoll saturates with ERANGE, and counting on
	 * from INT64_MAX would be a signed overflow). */
	if (lab_state_get(ctx, "runs", &json, &len) == 0 && len > 0 && len < 21) {
		char buf[21], *end;
		memcpy(buf, json, len);
		buf[len] = '\0';
		errno = 0;
		long long v = strtoll(buf, &end, 10);
		if (errno == 0 && *end == '\0' && v >= 0 && v < INT64_MAX)
			h->runs = v;
	}
	*self = h;
	return 0;
}

static void pass_finished(struct hello *h, int status)
{
	h->busy = 0;
	if (status < 0)
		lab_logkv(h->ctx, LAB_LOG_ERROR, "pass failed", LAB_FS("network", h->network),
			  LAB_FS("error", lab_strerror(status)));
	if (h->once)
		lab_done(h->ctx, status);
}

static void on_stored(lab_ctx *ctx, int status, const void *data, size_t len, void *ud)
{
	struct hello *h = ud;
	char event[96], json[24];
	if (status < 0) {
		pass_finished(h, status);
		return;
	}
	/* Record the work in state only once its document is stored. */
	if (h->runs < INT64_MAX)
		h->runs++;
	int n = snprintf(json, sizeof json, "%" PRId64, h->runs);
	int rc = lab_state_set(ctx, "runs", json, (size_t)n);
	if (rc < 0)
		lab_logf(ctx, LAB_LOG_WARN, "cannot save the run count: %s", lab_strerror(rc));
	/* Events are best effort: a failed publish does not fail the pass. */
	n = snprintf(event, sizeof event, "{\"network\":\"%s\",\"runs\":%" PRId64 "}", h->network,
		     h->runs);
	rc = lab_publish(ctx, "hello.updated", event, (size_t)n);
	if (rc < 0)
		lab_logf(ctx, LAB_LOG_WARN, "cannot publish hello.updated: %s", lab_strerror(rc));
	lab_logkv(ctx, LAB_LOG_INFO, "document stored", LAB_FS("network", h->network),
		  LAB_FI("runs", h->runs));
	pass_finished(h, 0);
}

/* One unit of work for a worker thread: it owns copies of what it needs. */
struct job {
	lab_ctx *ctx;
	struct hello *h; /* only used back on the loop */
	char network[33];
	int64_t blocks; /* -1: not counted */
	char key[96];
	char doc[160];
	size_t doc_len;
};

/* Runs on a worker thread: only lab_log*, lab_now_ms and lab_strerror here. */
static void build_document(void *ud)
{
	struct job *j = ud;
	char blocks[24] = "null";
	if (j->blocks >= 0)
		snprintf(blocks, sizeof blocks, "%" PRId64, j->blocks);
	int n = snprintf(j->doc, sizeof j->doc,
			 "{\"network\":\"%s\",\"blocks\":%s,\"generated_at\":%" PRId64 "}",
			 j->network, blocks, lab_now_ms(j->ctx) / 1000);
	j->doc_len = n > 0 && (size_t)n < sizeof j->doc ? (size_t)n : 0;
	lab_logkv(j->ctx, LAB_LOG_DEBUG, "document built", LAB_FI("bytes", j->doc_len));
}

/* Back on the loop thread: every host function may be called again. */
static void document_built(lab_ctx *ctx, int status, void *ud)
{
	struct job *j = ud;
	struct hello *h = j->h;
	if (status == 0 && j->doc_len == 0)
		status = LAB_ERANGE;
	if (status == 0)
		status = lab_storage_put(ctx, j->key, j->doc, j->doc_len, "application/json",
					 "max-age=60", on_stored, h);
	free(j); /* the host copied key and body */
	if (status < 0)
		pass_finished(h, status);
}

static void make_document(struct hello *h, int64_t blocks)
{
	struct job *j = calloc(1, sizeof *j);
	int rc = LAB_ENOMEM;
	if (j) {
		j->ctx = h->ctx;
		j->h = h;
		j->blocks = blocks;
		snprintf(j->network, sizeof j->network, "%s", h->network);
		snprintf(j->key, sizeof j->key, "hello/%s/latest.json", h->network);
		rc = lab_work_submit(h->ctx, build_document, document_built, j);
		if (rc < 0)
			free(j);
	}
	if (rc < 0)
		pass_finished(h, rc);
}

static void on_count(lab_ctx *ctx, int status, const char *errmsg, const lab_rows *rows,
		     void *ud)
{
	struct hello *h = ud;
	uint64_t blocks;
	if (status < 0) {
		lab_logkv(ctx, LAB_LOG_ERROR, "block count query failed",
			  LAB_FS("error", errmsg ? errmsg : lab_strerror(status)));
		pass_finished(h, status);
		return;
	}
	/* rows is valid only during this callback: read what you need now. */
	if (lab_rows_count(ctx, rows) != 1 || lab_rows_u64(ctx, rows, 0, 0, &blocks) < 0 ||
	    blocks > INT64_MAX) {
		pass_finished(h, LAB_EPARSE);
		return;
	}
	make_document(h, (int64_t)blocks);
}

static void run_pass(struct hello *h)
{
	if (h->busy) {
		lab_logf(h->ctx, LAB_LOG_WARN, "previous pass still running: skipped");
		return;
	}
	h->busy = 1;
	if (!h->use_clickhouse) {
		make_document(h, -1);
		return;
	}
	/* `?` placeholders; the host escapes every value.  Never splice values. */
	int rc = lab_query(h->ctx,
			   "SELECT count() FROM beacon_api_eth_v1_events_block"
			   " WHERE meta_network_name = ? AND slot_start_date_time >= ?",
			   (lab_param[]){ LAB_PSTR(h->network), LAB_PTIME(lab_now(h->ctx) - 3600) },
			   2, on_count, h);
	if (rc < 0) {
		lab_logkv(h->ctx, LAB_LOG_ERROR, "block count query failed",
			  LAB_FS("error", lab_strerror(rc)));
		pass_finished(h, rc);
	}
}

static void on_tick(lab_ctx *ctx, lab_timer *timer, void *ud) { run_pass(ud); }

static int hello_start(void *self)
{
	struct hello *h = self;
	uint64_t ms = (uint64_t)h->interval_s * 1000;
	lab_logkv(h->ctx, LAB_LOG_INFO, "hello started", LAB_FS("network", h->network),
		  LAB_FI("interval_s", h->interval_s), LAB_FI("runs", h->runs));
	/* The first pass right away, then one every interval. */
	return lab_timer_start(h->ctx, 0, ms, on_tick, h, NULL);
}

static int hello_once(void *self)
{
	struct hello *h = self;
	h->once = 1;
	run_pass(h); /* it calls lab_done() when the pass ends, however it ends */
	return 0;
}

static int hello_run(void *self)
{
	run_pass(self);
	return 0;
}

/* The host removes our timer after stop returns; the pass in flight is
 * drained (its callbacks still run), so there is nothing to cancel. */
static int hello_stop(void *self) { return 0; }

static void hello_destroy(void *self) { free(self); }

LAB_PLUGIN_DEFINE(.name = "hello", .version = "0.1.0",
		  .description = "Counts the blocks a network saw in the last hour",
		  .settings = settings, .init = hello_init, .start = hello_start,
		  .stop = hello_stop, .destroy = hello_destroy, .once = hello_once,
		  .run = hello_run)
