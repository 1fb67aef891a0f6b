/* REST for what is not a document (api.h): the configured networks with
 * the wallclock slot, one network's current slot, a slot's document by
 * network and number, the contributors' summary. */
#include <stdio.h>
#include <string.h>

#include "api.h"
#include "buf.h"

static const char *const forks[] = { "phase0", "altair", "bellatrix", "capella",
				     "deneb",  "electra", "fulu" };

static void network_json(struct api *a, const lab_network *n, struct buf *b)
{
	lab_ctx *ctx = a->ctx;
	const char *name = lab_network_name(ctx, n);
	uint64_t slot = lab_network_slot_at(ctx, n, lab_now(ctx));
	buf_puts(b, "{\"name\":");
	buf_json_str(b, name, strlen(name));
	buf_puts(b, ",\"genesis_time\":");
	buf_i64(b, lab_network_genesis(ctx, n));
	buf_puts(b, ",\"seconds_per_slot\":");
	buf_u64(b, lab_network_seconds_per_slot(ctx, n));
	buf_puts(b, ",\"slots_per_epoch\":");
	buf_u64(b, lab_network_slots_per_epoch(ctx, n));
	buf_puts(b, ",\"forks\":{");
	int first = 1;
	for (size_t i = 0; i < sizeof forks / sizeof forks[0]; i++) {
		uint64_t epoch;
		if (lab_network_fork_epoch(ctx, n, forks[i], &epoch) < 0)
			continue;
		buf_printf(b, "%s\"%s\":", first ? "" : ",", forks[i]);
		buf_u64(b, epoch);
		first = 0;
	}
	buf_puts(b, "},\"current_slot\":");
	buf_u64(b, slot);
	buf_puts(b, ",\"current_epoch\":");
	buf_u64(b, lab_network_epoch_of(ctx, n, slot));
	buf_puts(b, "}");
}

static void send_buf(struct api *a, lab_http_req *req, struct buf *b)
{
	if (b->oom)
		api_error(a, req, 503, "out of memory");
	else /* the wallclock slot moves: no caching */
		api_json(a, req, 200, b->data, b->len, "no-cache");
	buf_free(b);
}

void api_networks_cb(lab_ctx *ctx, lab_http_req *req, void *ud)
{
	struct api *a = ud;
	struct buf b = BUF_INIT;
	buf_puts(&b, "{\"networks\":[");
	for (size_t i = 0; i < lab_network_count(ctx); i++) {
		if (i)
			buf_putc(&b, ',');
		network_json(a, lab_network_at(ctx, i), &b);
	}
	buf_puts(&b, "]}");
	send_buf(a, req, &b);
}

/* /api/v1/networks/NET/slot and /api/v1/networks/NET/slots/SLOT */
void api_network_cb(lab_ctx *ctx, lab_http_req *req, void *ud)
{
	static const char base[] = "/api/v1/networks/";
	struct api *a = ud;
	const char *p = lab_http_path(req);
	if (strncmp(p, base, sizeof base - 1) != 0) {
		api_error(a, req, 404, "no such route");
		return;
	}
	p += sizeof base - 1;
	const char *slash = strchr(p, '/');
	char net[API_SEG_MAX + 1];
	size_t nl = slash ? (size_t)(slash - p) : 0;
	if (!slash || nl == 0 || nl > API_SEG_MAX) {
		api_error(a, req, 404, "no such route");
		return;
	}
	memcpy(net, p, nl);
	net[nl] = '\0';
	const lab_network *n = lab_network_find(ctx, net);
	const char *rest = slash + 1;
	int is_slot = strcmp(rest, "slot") == 0, is_doc = strncmp(rest, "slots/", 6) == 0;
	if (!is_slot && !is_doc) {
		api_error(a, req, 404, "no such route");
		return;
	}
	if (!n) {
		api_error(a, req, 404, "unknown network");
		return;
	}
	if (is_doc) {
		struct api_doc doc;
		if (api_slot_doc(&a->pfx, net, nl, rest + 6, strlen(rest + 6), &doc) < 0) {
			api_error(a, req, 400, "the slot is not a decimal number");
			return;
		}
		api_docs_serve(a, req, &doc);
		return;
	}
	int64_t now = lab_now(ctx);
	uint64_t slot = lab_network_slot_at(ctx, n, now);
	int64_t start = lab_network_slot_time(ctx, n, slot);
	struct buf b = BUF_INIT;
	buf_puts(&b, "{\"network\":");
	buf_json_str(&b, net, nl);
	buf_puts(&b, ",\"slot\":");
	buf_u64(&b, slot);
	buf_puts(&b, ",\"epoch\":");
	buf_u64(&b, lab_network_epoch_of(ctx, n, slot));
	buf_puts(&b, ",\"slot_start_time\":");
	buf_i64(&b, start);
	buf_puts(&b, ",\"next_slot_time\":");
	buf_i64(&b, start + (int64_t)lab_network_seconds_per_slot(ctx, n));
	buf_puts(&b, ",\"now\":");
	buf_i64(&b, now);
	buf_puts(&b, "}");
	send_buf(a, req, &b);
}

void api_contributors_cb(lab_ctx *ctx, lab_http_req *req, void *ud)
{
	struct api *a = ud;
	struct api_doc doc;
	static const char rel[] = "summary.json";
	char path[API_KEY_MAX];
	(void)ctx;
	int k = snprintf(path, sizeof path, "%s/%s", a->contributors_prefix, rel);
	if (k < 0 || (size_t)k >= sizeof path ||
	    api_path_to_doc(&a->pfx, path, (size_t)k, &doc) < 0) {
		api_error(a, req, 404, "no such document");
		return;
	}
	api_docs_serve(a, req, &doc);
}
