/* SIGHUP, settings outside `plugins` (docs/reload.md): those that can
 * change safely while labd runs are applied (log level and format, the
 * admin token, intervals, drain and restart delays); every other changed
 * one is named in one log line as needing a restart.  Both are compared
 * with what RUNS: live settings with the values last applied, the others
 * with the configuration labd started with — not with the previous file,
 * so a setting changed and changed back is not reported, and one still
 * different is reported at every SIGHUP.  Loop thread only. */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "admin.h"
#include "clickhouse.h"
#include "daemon.h"
#include "log.h"
#include "reload.h"

enum how { LIVE, RESTART };
enum kind { K_STR, K_I64, K_DUR, K_LEVEL, K_FORMAT, K_STYLE, K_TREE };
/* What applying a live setting takes. */
enum act { A_NONE, A_LOG, A_TOKEN, A_PROBE, A_FLUSH };

struct hsetting {
	const char *path;
	enum how how;
	enum kind kind;
	size_t off; /* in struct host_conf; K_TREE: unused */
	int secret; /* values never logged */
	enum act act;
};

#define F(m) offsetof(struct host_conf, m)
static const struct hsetting settings[] = {
	{ "log.level", LIVE, K_LEVEL, F(log_level), 0, A_LOG },
	{ "log.format", LIVE, K_FORMAT, F(log_format), 0, A_LOG },
	{ "admin.token", LIVE, K_STR, F(admin_token), 1, A_TOKEN },
	{ "clickhouse.probe_interval", LIVE, K_DUR, F(ch_probe_interval), 0, A_PROBE },
	{ "state.flush_interval", LIVE, K_DUR, F(state_flush_interval), 0, A_FLUSH },
	/* read where they are used: */
	{ "reload.drain_timeout", LIVE, K_DUR, F(drain_timeout), 0, A_NONE },
	{ "plugin_retry.initial_delay", LIVE, K_DUR, F(retry_initial), 0, A_NONE },
	{ "plugin_retry.max_delay", LIVE, K_DUR, F(retry_max), 0, A_NONE },
	{ "admin.listen", RESTART, K_STR, F(admin_listen), 0, A_NONE },
	{ "http.listen", RESTART, K_STR, F(http_listen), 0, A_NONE },
	{ "http.max_connections", RESTART, K_I64, F(http_max_connections), 0, A_NONE },
	{ "http.max_header_bytes", RESTART, K_I64, F(http_max_header_bytes), 0, A_NONE },
	{ "http.request_timeout", RESTART, K_DUR, F(http_request_timeout), 0, A_NONE },
	{ "http.idle_timeout", RESTART, K_DUR, F(http_idle_timeout), 0, A_NONE },
	{ "http.max_streams_per_ip", RESTART, K_I64, F(http_max_streams_per_ip), 0, A_NONE },
	{ "http.stream_buffer", RESTART, K_I64, F(http_stream_buffer), 0, A_NONE },
	{ "http.heartbeat", RESTART, K_DUR, F(http_heartbeat), 0, A_NONE },
	{ "http.max_ws_message", RESTART, K_I64, F(http_max_ws_message), 0, A_NONE },
	/* plugins restart on a changed path already; the file watcher does not move */
	{ "plugin_dir", RESTART, K_STR, F(plugin_dir), 0, A_NONE },
	{ "storage.backend", RESTART, K_STR, F(storage_backend), 0, A_NONE },
	{ "storage.prefix", RESTART, K_STR, F(storage_prefix), 0, A_NONE },
	{ "storage.fs.root", RESTART, K_STR, F(fs_root), 0, A_NONE },
	{ "storage.s3.endpoint", RESTART, K_STR, F(s3_endpoint), 0, A_NONE },
	{ "storage.s3.url_style", RESTART, K_STYLE, F(s3_virtual_hosted), 0, A_NONE },
	{ "storage.s3.region", RESTART, K_STR, F(s3_region), 0, A_NONE },
	{ "storage.s3.bucket", RESTART, K_STR, F(s3_bucket), 0, A_NONE },
	{ "storage.s3.access_key_id", RESTART, K_STR, F(s3_access_key_id), 1, A_NONE },
	{ "storage.s3.secret_access_key", RESTART, K_STR, F(s3_secret_access_key), 1, A_NONE },
	{ "storage.s3.timeout", RESTART, K_DUR, F(s3_timeout), 0, A_NONE },
	{ "storage.s3.max_retries", RESTART, K_I64, F(s3_max_retries), 0, A_NONE },
	{ "clickhouse.url", RESTART, K_STR, F(ch_url), 1, A_NONE },
	{ "clickhouse.database", RESTART, K_STR, F(ch_database), 0, A_NONE },
	{ "clickhouse.user", RESTART, K_STR, F(ch_user), 0, A_NONE },
	{ "clickhouse.password", RESTART, K_STR, F(ch_password), 1, A_NONE },
	{ "clickhouse.timeout", RESTART, K_DUR, F(ch_timeout), 0, A_NONE },
	{ "clickhouse.max_concurrency", RESTART, K_I64, F(ch_max_concurrency), 0, A_NONE },
	{ "clickhouse.max_result_mb", RESTART, K_I64, F(ch_max_result_mb), 0, A_NONE },
	{ "work.max_per_plugin", RESTART, K_I64, F(work_max_per_plugin), 0, A_NONE },
	{ "broker.backend", RESTART, K_STR, F(broker_backend), 0, A_NONE },
	{ "broker.nats.url", RESTART, K_STR, F(nats_url), 1, A_NONE },
	{ "broker.subject_prefix", RESTART, K_STR, F(subject_prefix), 0, A_NONE },
	{ "cluster", RESTART, K_TREE, 0, 0, A_NONE },
	{ "ethereum", RESTART, K_TREE, 0, 0, A_NONE },
};
#undef F

static const char *const level_names[] = { "debug", "info", "warn", "error" };

static const void *field(const struct config *c, const struct hsetting *h)
{
	return (const char *)&c->host + h->off;
}

static int differs(const struct config *a, const struct config *b, const struct hsetting *h)
{
	switch (h->kind) {
	case K_STR:
		return strcmp(*(char *const *)field(a, h), *(char *const *)field(b, h)) != 0;
	case K_I64:
	case K_DUR:
		return *(const int64_t *)field(a, h) != *(const int64_t *)field(b, h);
	case K_LEVEL:
	case K_FORMAT:
	case K_STYLE:
		return *(const int *)field(a, h) != *(const int *)field(b, h);
	case K_TREE:
		return config_settings_differ(config_lookup(&a->cfg, h->path),
					      config_lookup(&b->cfg, h->path));
	}
	return 0;
}

/* The value as a log field text (not for secrets or K_TREE). */
static const char *text(const struct config *c, const struct hsetting *h, char *out, size_t n)
{
	int v;
	switch (h->kind) {
	case K_STR:
		return *(char *const *)field(c, h);
	case K_I64:
		snprintf(out, n, "%lld", (long long)*(const int64_t *)field(c, h));
		return out;
	case K_DUR:
		snprintf(out, n, "%llds", (long long)*(const int64_t *)field(c, h));
		return out;
	case K_LEVEL:
		v = *(const int *)field(c, h);
		return v >= 0 && v < 4 ? level_names[v] : "?";
	case K_FORMAT:
		return *(const int *)field(c, h) == LOG_FORMAT_JSON ? "json" : "logfmt";
	case K_STYLE:
		return *(const int *)field(c, h) ? "virtual" : "path";
	case K_TREE:
		break;
	}
	return "";
}

static void apply(struct daemon *dm, const struct config *nc, enum act act)
{
	const struct host_conf *h = &nc->host;
	switch (act) {
	case A_LOG:
		log_setup(dm->opts.debug ? LAB_LOG_DEBUG : h->log_level, h->log_format, -1);
		break;
	case A_TOKEN:
		if (dm->admin && admin_set_token(dm->admin, h->admin_token) < 0)
			log_msg(LAB_LOG_ERROR, NULL, "out of memory: the admin token is unchanged");
		break;
	case A_PROBE:
		if (dm->admin) /* the probe runs while the admin API is served */
			clickhouse_probe_start(dm->reg.svc.ch, (uint64_t)h->ch_probe_interval * 1000);
		break;
	case A_FLUSH:
		if (uv_is_active((uv_handle_t *)&dm->flush_timer)) {
			uv_timer_set_repeat(&dm->flush_timer, (uint64_t)h->state_flush_interval * 1000);
			uv_timer_again(&dm->flush_timer); /* the new interval counts from now */
		}
		break;
	case A_NONE:
		break;
	}
}

void reload_host_settings(struct daemon *dm)
{
	struct config *nc = dm->reg.cfg;
	char a[32], b[32];
	unsigned applied = 0, kept = 0;
	for (size_t i = 0; i < sizeof settings / sizeof settings[0]; i++) {
		const struct hsetting *h = &settings[i];
		const struct config *running = h->how == LIVE ? dm->applied_cfg : dm->boot_cfg;
		if (!differs(running, nc, h))
			continue;
		if (h->how == RESTART) {
			kept++;
			if (h->secret || h->kind == K_TREE)
				log_kv(LAB_LOG_WARN, NULL,
				       "configuration reload: setting needs a restart of labd; the running value is kept",
				       LAB_FS("setting", h->path));
			else
				log_kv(LAB_LOG_WARN, NULL,
				       "configuration reload: setting needs a restart of labd; the running value is kept",
				       LAB_FS("setting", h->path), LAB_FS("running", text(running, h, a, sizeof a)),
				       LAB_FS("file", text(nc, h, b, sizeof b)));
			continue;
		}
		applied++;
		apply(dm, nc, h->act);
		if (h->secret)
			log_kv(LAB_LOG_INFO, NULL, "configuration reload: setting applied",
			       LAB_FS("setting", h->path));
		else
			log_kv(LAB_LOG_INFO, NULL, "configuration reload: setting applied",
			       LAB_FS("setting", h->path), LAB_FS("from", text(running, h, a, sizeof a)),
			       LAB_FS("to", text(nc, h, b, sizeof b)));
		if (h->kind == K_LEVEL && dm->opts.debug)
			log_msg(LAB_LOG_INFO, NULL, "--debug keeps the log level at debug");
	}
	/* Live settings now run as in nc. */
	config_free(dm->applied_cfg);
	dm->applied_cfg = config_ref(nc);
	if (applied || kept)
		log_kv(LAB_LOG_INFO, NULL, "configuration reload: host settings",
		       LAB_FI("applied", applied), LAB_FI("need_restart", kept));
}
