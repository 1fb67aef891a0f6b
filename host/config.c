/* Loading the daemon's configuration: read the libconfig file, expand
 * ${NAME} / ${NAME:-default} in every string, apply -D overrides, validate
 * against the host schema below and fill struct host_conf.  Plugin
 * sections are only checked for the host's keys here. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "config.h"
#include "keyrules.h"
#include "listen_addr.h"
#include "log.h"
#include "storage_backend.h"

#ifndef LAB_PLUGINDIR
#define LAB_PLUGINDIR "/usr/lib/lab/plugins"
#endif


/* ---------------------------------------------------------------- host schema (SPEC §4.2)
 * Meanings are documented in etc/labd.conf and docs/configuration.md;
 * enumerations and ranges are checked in fill_host(). */
#define END { NULL, 0, NULL, NULL, NULL, 0 }
#define STR(n, def) { n, LAB_SET_STRING, def, NULL, NULL, 0 }
#define REQ_STR(n) { n, LAB_SET_STRING, NULL, NULL, NULL, LAB_SETTING_REQUIRED }
#define DUR(n, def) { n, LAB_SET_DURATION, def, NULL, NULL, 0 }
#define GROUP(n, keys) { n, LAB_SET_GROUP, NULL, NULL, keys, 0 }
#define LIST(n, keys) { n, LAB_SET_LIST, NULL, NULL, keys, 0 }

static const lab_setting log_keys[] = { STR("level", "info"), STR("format", "logfmt"), END };
static const lab_setting admin_keys[] = {
	STR("listen", "127.0.0.1:9470"), STR("token", ""),
	{ "reprocess_max_slots", LAB_SET_INT, "50400", NULL, NULL, 0 }, END
};
static const lab_setting http_keys[] = {
	STR("listen", ""),
	{ "max_connections", LAB_SET_INT, "4096", NULL, NULL, 0 },
	{ "max_header_bytes", LAB_SET_INT, "8192", NULL, NULL, 0 },
	DUR("request_timeout", "10s"), DUR("idle_timeout", "60s"),
	{ "max_streams_per_ip", LAB_SET_INT, "64", NULL, NULL, 0 },
	{ "stream_buffer", LAB_SET_INT, "262144", NULL, NULL, 0 },
	DUR("heartbeat", "15s"),
	{ "max_ws_message", LAB_SET_INT, "65536", NULL, NULL, 0 }, END
};
static const lab_setting state_keys[] = { DUR("flush_interval", "60s"), END };
static const lab_setting reload_keys[] = { DUR("drain_timeout", "10s"), END };
static const lab_setting retry_keys[] = { DUR("initial_delay", "1s"), DUR("max_delay", "5m"), END };
static const lab_setting once_keys[] = { DUR("timeout", "6h"), END };
static const lab_setting fs_keys[] = { STR("root", "/var/lib/lab/data"), END };
static const lab_setting s3_keys[] = {
	STR("endpoint", NULL), STR("region", "us-east-1"), STR("bucket", "lab-data"),
	STR("access_key_id", NULL), STR("secret_access_key", NULL), DUR("timeout", "30s"),
	STR("url_style", "path"),
	{ "max_retries", LAB_SET_INT, "4", NULL, NULL, 0 }, END
};
static const lab_setting storage_keys[] = {
	STR("backend", "fs"), STR("prefix", ""), GROUP("fs", fs_keys), GROUP("s3", s3_keys), END
};
#define NUM_TEXT_(n) #n
#define NUM_TEXT(n) NUM_TEXT_(n)
static const lab_setting clickhouse_keys[] = {
	STR("url", "http://127.0.0.1:8123"), STR("database", "default"), STR("user", "default"),
	STR("password", ""), DUR("timeout", "60s"),
	{ "max_concurrency", LAB_SET_INT, "8", NULL, NULL, 0 },
	{ "max_result_mb", LAB_SET_INT, NUM_TEXT(CH_MAX_RESULT_MB_DEFAULT), NULL, NULL, 0 },
	DUR("probe_interval", "10s"), STR("compression", "auto"), END
};
static const lab_setting work_keys[] = {
	{ "max_per_plugin", LAB_SET_INT, NUM_TEXT(WORK_MAX_PER_PLUGIN_DEFAULT), NULL, NULL, 0 }, END
};
static const lab_setting nats_keys[] = { STR("url", "nats://127.0.0.1:4222"), END };
static const lab_setting broker_keys[] = {
	STR("backend", "local"), GROUP("nats", nats_keys), STR("subject_prefix", "lab"), END
};
static const lab_setting cluster_keys[] = {
	STR("backend", "none"), STR("node", ""), DUR("lease_ttl", "15s"),
	DUR("renew_interval", "5s"), STR("bucket_prefix", "lab"), DUR("claim_done_ttl", "7d"), END
};
static const lab_setting validator_keys[] = { REQ_STR("range"), REQ_STR("entity"), END };
static const lab_setting network_keys[] = {
	REQ_STR("name"), { "genesis_time", LAB_SET_INT, NULL, NULL, NULL, LAB_SETTING_REQUIRED },
	STR("config_file", NULL), STR("config_url", NULL),
	LIST("validator_set", validator_keys),
	/* FORK = { CLIENT = "VERSION"; ... }: clients are free names (checked in fill_network) */
	{ "min_client_versions", LAB_SET_MAP, NULL, NULL, NULL, CFG_HOST_OPEN }, END
};
static const lab_setting ethereum_keys[] = { LIST("networks", network_keys), END };
static const lab_setting host_schema[] = {
	GROUP("log", log_keys), GROUP("admin", admin_keys), GROUP("http", http_keys),
	STR("plugin_dir", LAB_PLUGINDIR),
	GROUP("state", state_keys), GROUP("reload", reload_keys), GROUP("plugin_retry", retry_keys),
	GROUP("once", once_keys),
	GROUP("storage", storage_keys),
	GROUP("clickhouse", clickhouse_keys), GROUP("broker", broker_keys),
	GROUP("work", work_keys), GROUP("cluster", cluster_keys), GROUP("ethereum", ethereum_keys),
	/* plugin sections: the host checks only enabled/path, plugins the rest */
	{ "plugins", LAB_SET_MAP, NULL, NULL, config_plugin_host_keys, CFG_HOST_OPEN }, END
};

/* ---------------------------------------------------------------- small helpers */

static void one_line(char *err)
{
	for (; err && *err; err++)
		if ((unsigned char)*err < 0x20 || *err == 0x7f)
			*err = '?';
}

static int name_ok(const char *s, int dash)
{
	if (!s || !*s)
		return 0;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '_' ||
		      (dash && *s == '-')))
			return 0;
	return 1;
}

/* Absolute directory of the config file, for includes and relative paths. */
static char *config_dir(const char *path)
{
	const char *slash = strrchr(path, '/');
	struct buf b = BUF_INIT;
	if (path[0] != '/') {
		char *cwd = getcwd(NULL, 0);
		buf_puts(&b, cwd ? cwd : ".");
		free(cwd);
		if (slash)
			buf_putc(&b, '/');
	}
	if (slash)
		buf_append(&b, path, slash == path ? 1 : (size_t)(slash - path));
	if (b.oom) {
		buf_free(&b);
		return NULL;
	}
	return b.data ? buf_steal(&b, NULL) : strdup("/");
}

/* `p` resolved against `dir`, unless absolute or given with -D (then it is
 * the operator's, relative to the working directory). */
static char *resolve_path(const char *dir, const char *p, const config_setting_t *node)
{
	struct buf b = BUF_INIT;
	if (p[0] == '/' || (node && config_setting_source_file(node) == config_override_file))
		return strdup(p);
	buf_puts(&b, dir);
	if (b.len && b.data[b.len - 1] != '/')
		buf_putc(&b, '/');
	buf_puts(&b, p);
	if (b.oom) {
		buf_free(&b);
		return NULL;
	}
	return buf_steal(&b, NULL);
}

/* ---------------------------------------------------------------- reading */

static int read_file(struct config *c, const char *path, char *err, size_t errlen)
{
	/* libconfig only says "file I/O error": find the reason first. */
	struct stat st;
	FILE *f = fopen(path, "r");
	int e = !f ? errno : fstat(fileno(f), &st) == 0 && S_ISDIR(st.st_mode) ? EISDIR : 0;
	if (f)
		fclose(f);
	if (e) {
		snprintf(err, errlen, "%s: cannot read: %s", path, strerror(e));
		one_line(err);
		return LAB_ECONFIG;
	}
	if (!config_read_file(&c->cfg, path)) {
		const char *text = config_error_text(&c->cfg);
		if (config_error_type(&c->cfg) == CONFIG_ERR_FILE_IO)
			snprintf(err, errlen, "%s: cannot read: %s", path,
				 text ? text : "I/O error");
		else
			snprintf(err, errlen, "%s:%d: %s",
				 config_error_file(&c->cfg) ? config_error_file(&c->cfg) : path,
				 config_error_line(&c->cfg), text ? text : "syntax error");
		one_line(err);
		return LAB_ECONFIG;
	}
	return 0;
}

/* ---------------------------------------------------------------- host_conf */

/* The node at a host `path` (NULL if absent); *def gets the schema default. */
static const config_setting_t *host_lookup(const struct config *c, const char *path,
					   const char **def)
{
	const lab_setting *keys = host_schema, *d = NULL;
	char comp[64];
	for (const char *p = path; keys;) {
		size_t n = strcspn(p, ".");
		if (n >= sizeof comp)
			break;
		memcpy(comp, p, n);
		comp[n] = '\0';
		d = config_decl_find(keys, comp);
		if (!p[n] || !d)
			break;
		keys = d->children;
		p += n + 1;
	}
	*def = d ? d->def : NULL;
	return config_lookup(&c->cfg, path);
}

static const char *str_at(const struct config *c, const char *path, const config_setting_t **node)
{
	const char *def;
	const config_setting_t *n = host_lookup(c, path, &def);
	if (node)
		*node = n;
	if (n)
		return config_setting_get_string(n);
	return def ? def : "";
}

static int64_t int_at(const struct config *c, const char *path, const config_setting_t **node)
{
	const char *def;
	const config_setting_t *n = host_lookup(c, path, &def);
	*node = n;
	if (n)
		return config_setting_get_int64(n);
	return def ? strtoll(def, NULL, 10) : 0;
}

static int64_t dur_at(const struct config *c, const char *path, const config_setting_t **node)
{
	int64_t secs = 0;
	(void)config_parse_duration(str_at(c, path, node), &secs);
	return secs;
}

/* Reports at the node if there is one (defaults are always valid). */
static int bad(char *err, size_t errlen, const struct config *c, const config_setting_t *n,
	       const char *path, const char *why)
{
	if (n)
		config_node_error(err, errlen, n, NULL, "%s", why);
	else
		config_error(err, errlen, c->host.file, 0, path, "%s", why);
	return LAB_ECONFIG;
}

#define DUP(field, val)                                 \
	do {                                            \
		if (!((field) = strdup(val)))           \
			goto oom;                       \
	} while (0)

/* cluster.node (node = 1: also '.' and ':') and cluster.bucket_prefix
 * (a JetStream bucket name part: [A-Za-z0-9_-]). */
static int cluster_token_ok(const char *s, int node)
{
	for (; *s; s++)
		if (!(isalnum((unsigned char)*s) || *s == '_' || *s == '-' ||
		      (node && (*s == '.' || *s == ':'))))
			return 0;
	return 1;
}

static int subject_prefix_ok(const char *s)
{
	if (!*s || *s == '.' || s[strlen(s) - 1] == '.' || strstr(s, ".."))
		return 0;
	for (; *s; s++)
		if ((unsigned char)*s <= ' ' || *s == '*' || *s == '>' || *s == 0x7f)
			return 0;
	return 1;
}

static int parse_u64(const char *s, const char *end, uint64_t *out)
{
	uint64_t v = 0;
	if (s == end)
		return 0;
	for (; s < end; s++) {
		if (*s < '0' || *s > '9' || v > (UINT64_MAX - (uint64_t)(*s - '0')) / 10)
			return 0;
		v = v * 10 + (uint64_t)(*s - '0');
	}
	*out = v;
	return 1;
}

/* "N" or "LO-HI" with LO <= HI. */
static int parse_range(const char *s, uint64_t *lo, uint64_t *hi)
{
	const char *dash = strchr(s, '-');
	const char *end = s + strlen(s);
	if (!dash) {
		if (!parse_u64(s, end, lo))
			return 0;
		*hi = *lo;
		return 1;
	}
	return parse_u64(s, dash, lo) && parse_u64(dash + 1, end, hi) && *lo <= *hi;
}

/* storage.prefix: "" or segments that pass the storage key rules; kept
 * with one trailing '/' so that prefix + key is the stored key. */
static int fill_prefix(struct config *c, char *err, size_t errlen)
{
	const config_setting_t *n;
	const char *s = str_at(c, "storage.prefix", &n);
	size_t len = strlen(s);
	struct host_conf *h = &c->host;

	while (len && s[len - 1] == '/')
		len--;
	if (len && (s[0] == '/' || len > 256 || !key_segments_ok(s, len, STORAGE_META_DIR)))
		return bad(err, errlen, c, n, "storage.prefix",
			   "must be \"\" or key segments like \"shadow/labd\" (no empty, . or .. "
			   "segment, no control character or backslash, at most 256 bytes)");
	if (!(h->storage_prefix = malloc(len + 2)))
		goto oom;
	memcpy(h->storage_prefix, s, len);
	if (len)
		h->storage_prefix[len++] = '/';
	h->storage_prefix[len] = '\0';
	return 0;
oom:
	snprintf(err, errlen, "out of memory");
	return LAB_ENOMEM;
}

/* min_client_versions = { FORK = { CLIENT = "VERSION"; ... }; ... } */
static int fill_min_versions(struct config *c, struct network_conf *nc, const config_setting_t *e,
			     char *err, size_t errlen)
{
	const config_setting_t *m = config_setting_get_member(e, "min_client_versions");
	size_t total = 0;
	for (int i = 0; m && i < config_setting_length(m); i++)
		total += (size_t)config_setting_length(config_setting_get_elem(m, (unsigned)i));
	if (total && !(nc->min_versions = calloc(total, sizeof *nc->min_versions)))
		goto oom;
	for (int i = 0; m && i < config_setting_length(m); i++) {
		const config_setting_t *f = config_setting_get_elem(m, (unsigned)i);
		if (!name_ok(config_setting_name(f), 1))
			return bad(err, errlen, c, f, NULL, "fork names must match [a-z0-9_-]+");
		for (int k = 0; k < config_setting_length(f); k++) {
			const config_setting_t *v = config_setting_get_elem(f, (unsigned)k);
			struct client_version *cv = &nc->min_versions[nc->n_min_versions];
			if (config_setting_type(v) != CONFIG_TYPE_STRING)
				return bad(err, errlen, c, v, NULL,
					   "wrong type: expected a version string");
			if (!*config_setting_get_string(v))
				return bad(err, errlen, c, v, NULL, "must not be empty");
			DUP(cv->fork, config_setting_name(f));
			DUP(cv->client, config_setting_name(v));
			DUP(cv->version, config_setting_get_string(v));
			nc->n_min_versions++;
		}
	}
	return 0;
oom:
	snprintf(err, errlen, "out of memory");
	return LAB_ENOMEM;
}

static int fill_network(struct config *c, const char *dir, size_t i, const config_setting_t *e,
			char *err, size_t errlen)
{
	struct network_conf *nc = &c->host.networks[i];
	const config_setting_t *n = config_setting_get_member(e, "name");
	const char *name = config_setting_get_string(n);
	if (!name_ok(name, 1))
		return bad(err, errlen, c, n, NULL, "network names must match [a-z0-9_-]+");
	for (size_t j = 0; j < i; j++)
		if (strcmp(c->host.networks[j].name, name) == 0)
			return bad(err, errlen, c, n, NULL, "network name used twice");
	DUP(nc->name, name);
	nc->node = e;
	n = config_setting_get_member(e, "genesis_time");
	nc->genesis_time = config_setting_get_int64(n);
	if (nc->genesis_time < 0)
		return bad(err, errlen, c, n, NULL, "must not be negative");
	const config_setting_t *file = config_setting_get_member(e, "config_file");
	const config_setting_t *url = config_setting_get_member(e, "config_url");
	if (file && url)
		return bad(err, errlen, c, url, NULL, "set config_file or config_url, not both");
	if (file && !*config_setting_get_string(file))
		return bad(err, errlen, c, file, NULL, "must not be empty");
	if (url && !*config_setting_get_string(url))
		return bad(err, errlen, c, url, NULL, "must not be empty");
	if (file && !(nc->config_file = resolve_path(dir, config_setting_get_string(file), file)))
		goto oom;
	if (url)
		DUP(nc->config_url, config_setting_get_string(url));
	const config_setting_t *vs = config_setting_get_member(e, "validator_set");
	size_t nv = vs ? (size_t)config_setting_length(vs) : 0;
	if (nv && !(nc->validators = calloc(nv, sizeof *nc->validators)))
		goto oom;
	for (size_t k = 0; k < nv; k++) {
		const config_setting_t *v = config_setting_get_elem(vs, (unsigned)k);
		struct validator_range *r = &nc->validators[k];
		n = config_setting_get_member(v, "range");
		if (!parse_range(config_setting_get_string(n), &r->lo, &r->hi))
			return bad(err, errlen, c, n, NULL,
				   "bad range: expected \"N\" or \"LO-HI\" with LO <= HI");
		n = config_setting_get_member(v, "entity");
		if (!*config_setting_get_string(n))
			return bad(err, errlen, c, n, NULL, "must not be empty");
		DUP(r->entity, config_setting_get_string(n));
		nc->n_validators = k + 1;
	}
	return fill_min_versions(c, nc, e, err, errlen);
oom:
	snprintf(err, errlen, "out of memory");
	return LAB_ENOMEM;
}

static int fill_plugins(struct config *c, const char *dir, char *err, size_t errlen)
{
	struct host_conf *h = &c->host;
	const config_setting_t *ps = config_lookup(&c->cfg, "plugins");
	size_t np = ps ? (size_t)config_setting_length(ps) : 0;
	if (np && !(h->plugins = calloc(np, sizeof *h->plugins)))
		goto oom;
	for (size_t i = 0; i < np; i++) {
		const config_setting_t *sec = config_setting_get_elem(ps, (unsigned)i);
		const char *name = config_setting_name(sec);
		struct plugin_conf *pc = &h->plugins[i];
		if (!name_ok(name, 0) || strlen(name) > 64)
			return bad(err, errlen, c, sec, NULL,
				   "plugin names must match [a-z0-9_]+ (at most 64 characters)");
		h->n_plugins = i + 1;
		DUP(pc->name, name);
		pc->section = sec;
		pc->enabled = 1;
		(void)config_setting_lookup_bool(sec, "enabled", &pc->enabled);
		pc->log_level = -1;
		const config_setting_t *ll = config_setting_get_member(sec, "log_level");
		if (ll) {
			const char *v = config_setting_get_string(ll);
			if (!v || (pc->log_level = log_level_parse(v)) < 0)
				return bad(err, errlen, c, ll, NULL,
					   "must be one of debug, info, warn, error");
		}
		const config_setting_t *pn = config_setting_get_member(sec, "path");
		if (pn) {
			const char *p = config_setting_get_string(pn);
			if (!*p)
				return bad(err, errlen, c, pn, NULL, "must not be empty");
			if (!(pc->path = resolve_path(dir, p, pn)))
				goto oom;
		} else {
			struct buf b = BUF_INIT;
			buf_printf(&b, "%s/%s.so", h->plugin_dir, name);
			if (b.oom)
				goto oom;
			pc->path = buf_steal(&b, NULL);
		}
	}
	return 0;
oom:
	snprintf(err, errlen, "out of memory");
	return LAB_ENOMEM;
}

/* The public HTTP listener (docs/http.md). */
static int fill_http(struct config *c, char *err, size_t errlen)
{
	static const struct {
		const char *path;
		int dur;
		int64_t min, max;
		const char *why;
	} lim[] = {
		{ "http.max_connections", 0, 1, 1000000, "must be between 1 and 1000000" },
		{ "http.max_header_bytes", 0, 1024, 1048576, "must be between 1024 and 1048576" },
		{ "http.request_timeout", 1, 1, 3600, "must be between 1s and 1h" },
		{ "http.idle_timeout", 1, 1, 86400, "must be between 1s and 1d" },
		{ "http.max_streams_per_ip", 0, 1, 1000000, "must be between 1 and 1000000" },
		{ "http.stream_buffer", 0, 4096, 67108864, "must be between 4096 and 67108864 (64 MiB)" },
		{ "http.heartbeat", 1, 1, 3600, "must be between 1s and 1h" },
		{ "http.max_ws_message", 0, 125, 16777216, "must be between 125 and 16777216 (16 MiB)" },
	};
	struct host_conf *h = &c->host;
	int64_t *dst[] = { &h->http_max_connections, &h->http_max_header_bytes,
			   &h->http_request_timeout, &h->http_idle_timeout,
			   &h->http_max_streams_per_ip, &h->http_stream_buffer, &h->http_heartbeat,
			   &h->http_max_ws_message };
	const config_setting_t *n;
	DUP(h->http_listen, str_at(c, "http.listen", &n));
	if (h->http_listen[0] && listen_addr_parse(h->http_listen, NULL) != 0)
		return bad(err, errlen, c, n, "http.listen",
			   "must be a numeric \"A.B.C.D:PORT\" or \"[IPv6]:PORT\" (port 0-65535), or \"\" to turn the listener off");
	size_t ll = strlen(h->http_listen);
	if (ll && strcmp(h->http_listen, h->admin_listen) == 0 &&
	    !(ll >= 2 && strcmp(h->http_listen + ll - 2, ":0") == 0)) /* port 0: two free ports */
		return bad(err, errlen, c, n, "http.listen", "must differ from admin.listen");
	for (size_t i = 0; i < sizeof lim / sizeof lim[0]; i++) {
		int64_t v = lim[i].dur ? dur_at(c, lim[i].path, &n) : int_at(c, lim[i].path, &n);
		if (v < lim[i].min || v > lim[i].max)
			return bad(err, errlen, c, n, lim[i].path, lim[i].why);
		*dst[i] = v;
	}
	return 0;
oom:
	snprintf(err, errlen, "out of memory");
	return LAB_ENOMEM;
}

static int fill_host(struct config *c, const char *dir, char *err, size_t errlen)
{
	struct host_conf *h = &c->host;
	const config_setting_t *n;
	const char *s;
	int rc;

	h->log_level = log_level_parse(str_at(c, "log.level", &n));
	if (h->log_level < 0)
		return bad(err, errlen, c, n, "log.level",
			   "must be one of debug, info, warn, error");
	h->log_format = log_format_parse(str_at(c, "log.format", &n));
	if (h->log_format < 0)
		return bad(err, errlen, c, n, "log.format", "must be logfmt or json");

	DUP(h->admin_listen, str_at(c, "admin.listen", &n));
	h->admin_listen_set = n != NULL;
	/* The check the admin endpoint makes when it binds, so -t agrees. */
	if (h->admin_listen[0] && listen_addr_parse(h->admin_listen, NULL) != 0)
		return bad(err, errlen, c, n, "admin.listen",
			   "must be a numeric \"A.B.C.D:PORT\" or \"[IPv6]:PORT\" (port 0-65535), or \"\" to turn the endpoint off");
	DUP(h->admin_token, str_at(c, "admin.token", NULL));
	h->admin_reprocess_max_slots = int_at(c, "admin.reprocess_max_slots", &n);
	if (h->admin_reprocess_max_slots < 1 || h->admin_reprocess_max_slots > 10000000)
		return bad(err, errlen, c, n, "admin.reprocess_max_slots",
			   "must be between 1 and 10000000");

	if ((rc = fill_http(c, err, errlen)) < 0)
		return rc;

	s = str_at(c, "plugin_dir", &n);
	if (!*s)
		return bad(err, errlen, c, n, "plugin_dir", "must not be empty");
	if (!(h->plugin_dir = resolve_path(dir, s, n)))
		goto oom;

	h->state_flush_interval = dur_at(c, "state.flush_interval", &n);
	if (h->state_flush_interval <= 0)
		return bad(err, errlen, c, n, "state.flush_interval", "must be positive");
	h->drain_timeout = dur_at(c, "reload.drain_timeout", &n);
	if (h->drain_timeout < 0)
		return bad(err, errlen, c, n, "reload.drain_timeout", "must not be negative");
	h->retry_initial = dur_at(c, "plugin_retry.initial_delay", &n);
	if (h->retry_initial < 0)
		return bad(err, errlen, c, n, "plugin_retry.initial_delay",
			   "must not be negative (0s turns automatic restarts off)");
	h->retry_max = dur_at(c, "plugin_retry.max_delay", &n);
	if (h->retry_max < h->retry_initial || h->retry_max > 86400)
		return bad(err, errlen, c, n, "plugin_retry.max_delay",
			   "must be at least plugin_retry.initial_delay and at most 1d");
	h->once_timeout = dur_at(c, "once.timeout", &n);
	if (h->once_timeout <= 0)
		return bad(err, errlen, c, n, "once.timeout", "must be positive");

	s = str_at(c, "storage.backend", &n);
	if (strcmp(s, "fs") != 0 && strcmp(s, "s3") != 0)
		return bad(err, errlen, c, n, "storage.backend", "must be fs or s3");
	DUP(h->storage_backend, s);
	if ((rc = fill_prefix(c, err, errlen)) < 0)
		return rc;
	s = str_at(c, "storage.s3.url_style", &n);
	if (strcmp(s, "path") != 0 && strcmp(s, "virtual") != 0)
		return bad(err, errlen, c, n, "storage.s3.url_style", "must be path or virtual");
	h->s3_virtual_hosted = strcmp(s, "virtual") == 0;
	s = h->storage_backend;
	DUP(h->fs_root, str_at(c, "storage.fs.root", &n));
	if (strcmp(s, "fs") == 0 && !h->fs_root[0])
		return bad(err, errlen, c, n, "storage.fs.root", "must not be empty with backend fs");
	DUP(h->s3_endpoint, str_at(c, "storage.s3.endpoint", NULL));
	DUP(h->s3_region, str_at(c, "storage.s3.region", NULL));
	DUP(h->s3_bucket, str_at(c, "storage.s3.bucket", NULL));
	DUP(h->s3_access_key_id, str_at(c, "storage.s3.access_key_id", NULL));
	DUP(h->s3_secret_access_key, str_at(c, "storage.s3.secret_access_key", NULL));
	h->s3_timeout = dur_at(c, "storage.s3.timeout", &n);
	if (h->s3_timeout <= 0)
		return bad(err, errlen, c, n, "storage.s3.timeout", "must be positive");
	h->s3_max_retries = int_at(c, "storage.s3.max_retries", &n);
	if (h->s3_max_retries < 0 || h->s3_max_retries > 20)
		return bad(err, errlen, c, n, "storage.s3.max_retries", "must be between 0 and 20");
	if (strcmp(s, "s3") == 0) {
		static const char s3_why[] = "required when storage.backend is \"s3\"";
		static const char *const need[] = { "endpoint", "bucket", "access_key_id",
						    "secret_access_key" };
		for (size_t i = 0; i < sizeof need / sizeof need[0]; i++) {
			char path[64];
			snprintf(path, sizeof path, "storage.s3.%s", need[i]);
			if (*str_at(c, path, &n))
				continue;
			if (n)
				return bad(err, errlen, c, n, path,
					   "must not be empty with backend s3");
			/* Point at the innermost group that exists. */
			if ((n = config_lookup(&c->cfg, "storage.s3")))
				config_node_error(err, errlen, n, need[i], "%s", s3_why);
			else if ((n = config_lookup(&c->cfg, "storage")))
				config_node_error(err, errlen, n, path + 8, "%s", s3_why);
			else
				config_error(err, errlen, c->host.file, 0, path, "%s", s3_why);
			return LAB_ECONFIG;
		}
	}

	DUP(h->ch_url, str_at(c, "clickhouse.url", NULL));
	DUP(h->ch_database, str_at(c, "clickhouse.database", NULL));
	DUP(h->ch_user, str_at(c, "clickhouse.user", NULL));
	DUP(h->ch_password, str_at(c, "clickhouse.password", NULL));
	h->ch_timeout = dur_at(c, "clickhouse.timeout", &n);
	if (h->ch_timeout <= 0)
		return bad(err, errlen, c, n, "clickhouse.timeout", "must be positive");
	h->ch_max_concurrency = int_at(c, "clickhouse.max_concurrency", &n);
	if (h->ch_max_concurrency < 1 || h->ch_max_concurrency > 256)
		return bad(err, errlen, c, n, "clickhouse.max_concurrency",
			   "must be between 1 and 256");
	h->ch_max_result_mb = int_at(c, "clickhouse.max_result_mb", &n);
	if (h->ch_max_result_mb < 1 || h->ch_max_result_mb > 65536)
		return bad(err, errlen, c, n, "clickhouse.max_result_mb",
			   "must be between 1 and 65536");
	const char *comp = str_at(c, "clickhouse.compression", &n);
	if (!comp || !strcmp(comp, "auto"))
		h->ch_compression = CH_COMPRESSION_AUTO;
	else if (!strcmp(comp, "on"))
		h->ch_compression = CH_COMPRESSION_ON;
	else if (!strcmp(comp, "off"))
		h->ch_compression = CH_COMPRESSION_OFF;
	else
		return bad(err, errlen, c, n, "clickhouse.compression",
			   "must be \"auto\", \"on\" or \"off\"");
	h->ch_probe_interval = dur_at(c, "clickhouse.probe_interval", &n);
	if (h->ch_probe_interval < 0)
		return bad(err, errlen, c, n, "clickhouse.probe_interval",
			   "must not be negative (0 turns the probe off)");

	h->work_max_per_plugin = int_at(c, "work.max_per_plugin", &n);
	if (h->work_max_per_plugin < 1 || h->work_max_per_plugin > 1024)
		return bad(err, errlen, c, n, "work.max_per_plugin", "must be between 1 and 1024");

	s = str_at(c, "broker.backend", &n);
	if (strcmp(s, "local") != 0 && strcmp(s, "nats") != 0)
		return bad(err, errlen, c, n, "broker.backend", "must be local or nats");
	DUP(h->broker_backend, s);
	DUP(h->nats_url, str_at(c, "broker.nats.url", NULL));
	s = str_at(c, "broker.subject_prefix", &n);
	if (!subject_prefix_ok(s))
		return bad(err, errlen, c, n, "broker.subject_prefix",
			   "must be a non-empty NATS subject without wildcards or spaces");
	DUP(h->subject_prefix, s);

	s = str_at(c, "cluster.backend", &n);
	if (strcmp(s, "none") != 0 && strcmp(s, "nats") != 0)
		return bad(err, errlen, c, n, "cluster.backend", "must be \"none\" or \"nats\"");
	if (strcmp(s, "nats") == 0 && strcmp(h->broker_backend, "nats") != 0)
		return bad(err, errlen, c, n, "cluster.backend",
			   "\"nats\" needs broker.backend = \"nats\" (the cluster uses its server)");
	DUP(h->cluster_backend, s);
	s = str_at(c, "cluster.node", &n);
	if (strlen(s) > 64 || !cluster_token_ok(s, 1))
		return bad(err, errlen, c, n, "cluster.node",
			   "must be at most 64 bytes of [A-Za-z0-9_.:-] (empty: HOSTNAME:PID)");
	DUP(h->cluster_node, s);
	h->cluster_lease_ttl = dur_at(c, "cluster.lease_ttl", &n);
	if (h->cluster_lease_ttl < 2 || h->cluster_lease_ttl > 3600)
		return bad(err, errlen, c, n, "cluster.lease_ttl", "must be between 2s and 1h");
	h->cluster_renew_interval = dur_at(c, "cluster.renew_interval", &n);
	if (h->cluster_renew_interval < 1 || 2 * h->cluster_renew_interval >= h->cluster_lease_ttl)
		return bad(err, errlen, c, n, "cluster.renew_interval",
			   "must be at least 1s and less than half of cluster.lease_ttl");
	s = str_at(c, "cluster.bucket_prefix", &n);
	if (!*s || strlen(s) > 32 || !cluster_token_ok(s, 0))
		return bad(err, errlen, c, n, "cluster.bucket_prefix",
			   "must be 1..32 bytes of [A-Za-z0-9_-]");
	DUP(h->cluster_bucket_prefix, s);
	h->cluster_claim_done_ttl = dur_at(c, "cluster.claim_done_ttl", &n);
	if (h->cluster_claim_done_ttl < 60)
		return bad(err, errlen, c, n, "cluster.claim_done_ttl", "must be at least 1m");

	const config_setting_t *nets = config_lookup(&c->cfg, "ethereum.networks");
	size_t nn = nets ? (size_t)config_setting_length(nets) : 0;
	if (nn && !(h->networks = calloc(nn, sizeof *h->networks)))
		goto oom;
	for (size_t i = 0; i < nn; i++) {
		h->n_networks = i + 1;
		rc = fill_network(c, dir, i, config_setting_get_elem(nets, (unsigned)i), err, errlen);
		if (rc)
			return rc;
	}
	return fill_plugins(c, dir, err, errlen);
oom:
	snprintf(err, errlen, "out of memory");
	return LAB_ENOMEM;
}

/* ---------------------------------------------------------------- API */

int config_load(const char *path, const char *const *overrides, size_t n, struct config **out,
		char *err, size_t errlen)
{
	return config_load_flags(path, overrides, n, 0, out, err, errlen);
}

int config_load_flags(const char *path, const char *const *overrides, size_t n, unsigned flags,
		      struct config **out, char *err, size_t errlen)
{
	char dummy[8];
	struct config *c;
	char *dir = NULL;
	int rc;
	if (!err || !errlen) {
		err = dummy;
		errlen = sizeof dummy;
	}
	err[0] = '\0';
	if (!out || !path || (n && !overrides)) {
		snprintf(err, errlen, "config_load: invalid argument");
		return LAB_EINVAL;
	}
	*out = NULL;
	if (!(c = calloc(1, sizeof *c))) {
		snprintf(err, errlen, "out of memory");
		return LAB_ENOMEM;
	}
	c->refs = 1;
	config_init(&c->cfg);
	c->host.file = strdup(path);
	dir = config_dir(path);
	if (!c->host.file || !dir) {
		snprintf(err, errlen, "out of memory");
		rc = LAB_ENOMEM;
		goto fail;
	}
	config_set_include_dir(&c->cfg, dir);
	if ((rc = read_file(c, path, err, errlen)))
		goto fail;
	/* Overrides first: a -D that replaces a ${VAR} setting makes VAR unneeded. */
	for (size_t i = 0; i < n; i++) {
		const char *ov = overrides[i] ? overrides[i] : "";
		if ((rc = config_apply_override(c, host_schema, ov, (unsigned)(i + 1), err, errlen)))
			goto fail;
	}
	if ((rc = config_subst_tree(config_root_setting(&c->cfg), flags, err, errlen)))
		goto fail;
	rc = config_validate_group(config_root_setting(&c->cfg), host_schema, NULL, 1, err, errlen);
	if (rc)
		goto fail;
	if ((rc = fill_host(c, dir, err, errlen)))
		goto fail;
	free(dir);
	*out = c;
	return 0;
fail:
	free(dir);
	config_free(c);
	return rc;
}

struct config *config_ref(struct config *c)
{
	if (c)
		c->refs++;
	return c;
}

void config_free(struct config *c)
{
	if (!c || --c->refs > 0)
		return;
	struct host_conf *h = &c->host;
	char **strs[] = { &h->file, &h->admin_listen, &h->admin_token, &h->http_listen, &h->plugin_dir,
			  &h->storage_backend, &h->storage_prefix, &h->fs_root, &h->s3_endpoint, &h->s3_region,
			  &h->s3_bucket, &h->s3_access_key_id, &h->s3_secret_access_key,
			  &h->ch_url, &h->ch_database, &h->ch_user, &h->ch_password,
			  &h->broker_backend, &h->nats_url, &h->subject_prefix,
			  &h->cluster_backend, &h->cluster_node, &h->cluster_bucket_prefix };
	for (size_t i = 0; i < sizeof strs / sizeof strs[0]; i++)
		free(*strs[i]);
	for (size_t i = 0; i < h->n_networks; i++) {
		struct network_conf *nc = &h->networks[i];
		free(nc->name);
		free(nc->config_file);
		free(nc->config_url);
		validator_ranges_free(nc->validators, nc->n_validators);
		client_versions_free(nc->min_versions, nc->n_min_versions);
	}
	free(h->networks);
	for (size_t i = 0; i < h->n_plugins; i++) {
		free(h->plugins[i].name);
		free(h->plugins[i].path);
	}
	free(h->plugins);
	config_destroy(&c->cfg);
	free(c);
}

const struct plugin_conf *config_plugin(const struct config *c, const char *name)
{
	if (!c || !name)
		return NULL;
	for (size_t i = 0; i < c->host.n_plugins; i++)
		if (strcmp(c->host.plugins[i].name, name) == 0)
			return &c->host.plugins[i];
	return NULL;
}
