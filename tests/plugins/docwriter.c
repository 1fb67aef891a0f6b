/* A small document writer for the read-side tests and benchmarks
 * (tests/integration/api-*.sh, tests/bench/api-freshness.sh): it behaves
 * like a data plugin — store a document, then announce it on the broker —
 * but on request and as fast as storage allows.
 *
 * A message on lab.docwriter.write (payload {} or {"count":N}) starts a
 * burst of N rewrites (default: the `count` setting) of one document `key`
 * (an slot document key by default). Rewrite i stores
 *   {"v":V,"writer":"docwriter","pad":"xxx..."}
 * with V one more than the previous version of this instance (from 1), and
 * after the put has completed publishes lab.beacon.slot
 *   {"network":NET,"slot":SLOT,"key":KEY,"v":V}
 * as the beacon plugin does (SPEC §8; "v" is extra). The next rewrite
 * starts `interval` after that. The end of a burst is logged
 * ("docwriter: burst done"). Bursts do not overlap: a request during one
 * is logged and dropped. */
#define LAB_PLUGIN_MIN_ABI_MINOR 3
#include <lab/plugin.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct docwriter {
	lab_ctx *ctx;
	const char *key;     /* host-owned (bound) */
	const char *network;
	int64_t slot;
	int64_t count;
	int64_t interval_ms;
	int64_t pad;
	int64_t version; /* last version written */
	int64_t left;    /* rewrites left in the burst; 0 = idle */
	char *body;      /* room for one document */
};

static const lab_option options[] = {
	{ .name = "key", .type = LAB_SET_STRING, .def = "beacon/slots/mainnet/1.json",
	  .desc = "the document rewritten", LAB_BIND(struct docwriter, key) },
	{ .name = "network", .type = LAB_SET_STRING, .def = "mainnet",
	  .desc = "network named in the event", LAB_BIND(struct docwriter, network) },
	{ .name = "slot", .type = LAB_SET_INT, .def = "1", .desc = "slot named in the event",
	  LAB_RANGE(0, INT64_MAX / 2), LAB_BIND(struct docwriter, slot) },
	{ .name = "count", .type = LAB_SET_INT, .def = "1",
	  .desc = "rewrites per burst when the request names none", LAB_RANGE(1, 1000000),
	  LAB_BIND(struct docwriter, count) },
	{ .name = "interval", .type = LAB_SET_DURATION, .def = "0ms", .flags = LAB_SETTING_MS,
	  .desc = "pause between rewrites", LAB_RANGE(0, 60000),
	  LAB_BIND(struct docwriter, interval_ms) },
	{ .name = "pad", .type = LAB_SET_INT, .def = "2000", .desc = "padding bytes per document",
	  LAB_RANGE(0, 1 << 20), LAB_BIND(struct docwriter, pad) },
	{ 0 },
};

static void write_next(struct docwriter *w);

static void on_timer(lab_ctx *ctx, lab_timer *t, void *ud) { write_next(ud); }

static void stored(lab_ctx *ctx, int status, const void *data, size_t len, void *ud)
{
	struct docwriter *w = ud;
	if (status < 0) {
		lab_logf(ctx, LAB_LOG_ERROR, "docwriter: cannot store %s: %s", w->key,
			 lab_strerror(status));
		w->left = 0;
		return;
	}
	char ev[600];
	int n = snprintf(ev, sizeof ev,
			 "{\"network\":\"%s\",\"slot\":%" PRId64 ",\"key\":\"%s\",\"v\":%" PRId64 "}",
			 w->network, w->slot, w->key, w->version);
	if (n > 0 && (size_t)n < sizeof ev)
		lab_publish(ctx, "beacon.slot", ev, (size_t)n);
	if (--w->left == 0) {
		lab_logkv(ctx, LAB_LOG_INFO, "docwriter: burst done", LAB_FI("version", w->version));
		return;
	}
	if (w->interval_ms > 0)
		lab_timer_start(ctx, (uint64_t)w->interval_ms, 0, on_timer, w, NULL);
	else
		write_next(w);
}

static void write_next(struct docwriter *w)
{
	w->version++;
	int n = snprintf(w->body, 64, "{\"v\":%" PRId64 ",\"writer\":\"docwriter\",\"pad\":\"",
			 w->version);
	memset(w->body + n, 'x', (size_t)w->pad);
	memcpy(w->body + n + w->pad, "\"}", 2);
	int rc = lab_storage_put_atomic(w->ctx, w->key, w->body, (size_t)(n + w->pad + 2),
					"application/json", NULL, stored, w);
	if (rc < 0) {
		lab_logf(w->ctx, LAB_LOG_ERROR, "docwriter: put: %s", lab_strerror(rc));
		w->left = 0;
	}
}

static void on_write(lab_ctx *ctx, const char *subject, const void *data, size_t len, void *ud)
{
	struct docwriter *w = ud;
	if (w->left > 0) {
		lab_logf(ctx, LAB_LOG_WARN, "docwriter: burst in progress, request dropped");
		return;
	}
	int64_t count = w->count;
	const char *p = len < 200 ? memmem(data, len, "\"count\":", 8) : NULL;
	if (p) { /* our own test harness's request; bounded above */
		char num[32];
		size_t i = 0, off = (size_t)(p - (const char *)data) + 8;
		while (off + i < len && i < sizeof num - 1 && ((const char *)data)[off + i] >= '0' &&
		       ((const char *)data)[off + i] <= '9') {
			num[i] = ((const char *)data)[off + i];
			i++;
		}
		num[i] = '\0';
		if (i > 0 && i < 8)
			count = strtoll(num, NULL, 10);
	}
	if (count < 1)
		return;
	w->left = count;
	lab_logkv(ctx, LAB_LOG_INFO, "docwriter: burst", LAB_FI("count", count));
	write_next(w);
}

static int dw_init(lab_ctx *ctx, void **self)
{
	struct docwriter *w = calloc(1, sizeof *w);
	if (!w)
		return LAB_ENOMEM;
	w->ctx = ctx;
	int rc = lab_cfg_bind(ctx, NULL, w);
	/* Both are spliced into the event's JSON: no quotes or backslashes
	 * (the key itself is checked by storage on each put). */
	if (rc == 0 && (strpbrk(w->key, "\"\\") || strlen(w->key) > 400))
		rc = lab_cfg_error(ctx, NULL, "key", "docwriter: not a plain key");
	if (rc == 0 && (strpbrk(w->network, "\"\\") || strlen(w->network) > 128))
		rc = lab_cfg_error(ctx, NULL, "network", "docwriter: not a plain name");
	if (rc == 0 && !(w->body = malloc((size_t)w->pad + 100)))
		rc = LAB_ENOMEM;
	if (rc < 0) {
		free(w);
		return rc;
	}
	*self = w;
	return 0;
}

static int dw_start(void *self)
{
	struct docwriter *w = self;
	return lab_subscribe(w->ctx, "docwriter.write", on_write, w, NULL);
}
static int dw_stop(void *self) { return 0; }
static void dw_destroy(void *self)
{
	struct docwriter *w = self;
	free(w->body);
	free(w);
}

LAB_PLUGIN_DEFINE(.name = "docwriter", .version = "1.0.0",
		  .description = "rewrites one document on request and announces it",
		  .options = options, .init = dw_init, .start = dw_start, .stop = dw_stop,
		  .destroy = dw_destroy)
