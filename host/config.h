/* The daemon's configuration: a libconfig file, `${NAME}` / `${NAME:-def}`
 * environment substitution in every string, `-D key.path=value` overrides,
 * and validation against a declared schema (the host's own, and each
 * enabled plugin's lab_setting map): unknown keys, wrong types and bad
 * values are errors naming FILE:LINE and the setting.  Values are never
 * echoed into error messages for keys that may hold secrets. */
#ifndef LAB_HOST_CONFIG_H
#define LAB_HOST_CONFIG_H

/* Default of clickhouse.max_result_mb (MiB one ClickHouse answer may hold). */
#define CH_MAX_RESULT_MB_DEFAULT 256
/* Default of work.max_per_plugin: lab_work items of one plugin on libuv's
 * thread pool at once (the pool has 4 threads unless UV_THREADPOOL_SIZE). */
#define WORK_MAX_PER_PLUGIN_DEFAULT 2

#include <libconfig.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "lab/plugin.h"
#include "plugin_decls.h"

struct validator_range {
	uint64_t lo, hi; /* inclusive */
	char *entity;
};

/* Frees the entities of r[0..n) and r itself (config and networks). */
static inline void validator_ranges_free(struct validator_range *r, size_t n)
{
	for (size_t k = 0; k < n; k++)
		free(r[k].entity);
	free(r);
}

/* One entry of a network's min_client_versions: FORK = { CLIENT = "VERSION"; } */
struct client_version {
	char *fork, *client, *version;
};
/* Frees the strings of v[0..n) and v itself (config and networks). */
static inline void client_versions_free(struct client_version *v, size_t n)
{
	for (size_t k = 0; k < n; k++) {
		free(v[k].fork);
		free(v[k].client);
		free(v[k].version);
	}
	free(v);
}

struct network_conf {
	char *name;
	int64_t genesis_time;
	char *config_file; /* NULL if not set */
	char *config_url;  /* NULL if not set */
	struct validator_range *validators;
	size_t n_validators;
	struct client_version *min_versions; /* for config.json (SPEC §9.4) */
	size_t n_min_versions;
	const config_setting_t *node; /* for FILE:LINE in later errors */
};

struct plugin_conf {
	char *name;
	int enabled;
	char *path;                      /* resolved: `path` or plugin_dir/NAME.so */
	const config_setting_t *section; /* the plugin's group (owned by the config) */
	int log_level;                   /* `log_level`: LAB_LOG_*, -1 = the host's log.level */
};

/* Every string is non-NULL after config_load() unless noted. */
struct host_conf {
	char *file; /* the config file path as given */

	int log_level;  /* LAB_LOG_* */
	int log_format; /* LOG_FORMAT_* */

	char *admin_listen; /* "" = disabled */
	int admin_listen_set; /* set explicitly in the file or with -D */
	char *admin_token;    /* "" = no token (secret) */
	int64_t admin_reprocess_max_slots; /* slots one POST /plugins/NAME/reprocess may ask for */

	/* the public HTTP listener (http.*): "" = off; durations in seconds */
	char *http_listen;
	int64_t http_max_connections, http_max_header_bytes, http_request_timeout,
		http_idle_timeout, http_max_streams_per_ip, http_stream_buffer, http_heartbeat,
		http_max_ws_message;

	char *plugin_dir;

	int64_t state_flush_interval; /* seconds */
	int64_t drain_timeout;        /* seconds: reload.drain_timeout */
	int64_t retry_initial;        /* seconds: plugin_retry.initial_delay (0 = no automatic restarts) */
	int64_t retry_max;            /* seconds: plugin_retry.max_delay */
	int64_t once_timeout;         /* seconds: once.timeout, the --once watchdog */

	char *storage_backend; /* "fs" | "s3" */
	char *storage_prefix;  /* "" or "a/b/": prepended to every storage key */
	char *fs_root;
	int s3_virtual_hosted; /* storage.s3.url_style = "virtual" */
	char *s3_endpoint, *s3_region, *s3_bucket, *s3_access_key_id, *s3_secret_access_key;
	int64_t s3_timeout;     /* seconds: one request attempt */
	int64_t s3_max_retries; /* retries after the first attempt */

	char *ch_url, *ch_database, *ch_user, *ch_password; /* password is secret */
#define CH_COMPRESSION_AUTO 0 /* off when the url's host is a loopback address */
#define CH_COMPRESSION_ON 1
#define CH_COMPRESSION_OFF 2
	int64_t ch_timeout; /* seconds */
	int64_t ch_max_concurrency;
	int64_t ch_max_result_mb; /* cap of one answer held in memory */
	int64_t ch_probe_interval; /* seconds; 0 = no readiness probe */
	int ch_compression; /* CH_COMPRESSION_*: HTTP response compression */

	int64_t work_max_per_plugin; /* lab_work items of one plugin on the pool at once */

	char *broker_backend; /* "local" | "nats" */
	char *nats_url;
	char *subject_prefix;

	char *cluster_backend;       /* "none" | "nats" (docs/cluster.md) */
	char *cluster_node;          /* "" = HOSTNAME:PID */
	int64_t cluster_lease_ttl;   /* seconds */
	int64_t cluster_renew_interval; /* seconds, < lease_ttl / 2 */
	char *cluster_bucket_prefix; /* PREFIX_leases, PREFIX_done, PREFIX_state */
	int64_t cluster_claim_done_ttl; /* seconds: life of a claim's done marker */

	struct network_conf *networks;
	size_t n_networks;

	struct plugin_conf *plugins;
	size_t n_plugins;
};

/* Reference-counted: config_load() returns one reference, config_ref()
 * takes another, config_free() drops one and frees at the last.  Whoever
 * keeps a pointer into the tree (a plugin's section) holds a reference. */
struct config {
	config_t cfg; /* libconfig tree (owns every config_setting_t) */
	struct host_conf host;
	unsigned refs;
};

/*
 * Load and validate `path`, apply `n` overrides "key.path=value" (after
 * substitution, before validation).  On failure returns a negative LAB_E*
 * and writes one human-readable line "FILE:LINE: setting 'a.b': reason"
 * to err.  Plugin sections are only checked for `enabled`/`path` here; use
 * config_validate_plugin() once the plugin's settings are known.
 */
int config_load(const char *path, const char *const *overrides, size_t n, struct config **out,
		char *err, size_t errlen);
/* config_load() with flags: CONFIG_ENV_UNSET_OK (labd -t) makes an unset
 * ${NAME} without a default a warning (logged, naming FILE:LINE and the
 * variable) instead of an error; the setting keeps its "${NAME}" text. */
#define CONFIG_ENV_UNSET_OK 1u
int config_load_flags(const char *path, const char *const *overrides, size_t n, unsigned flags,
		      struct config **out, char *err, size_t errlen);
struct config *config_ref(struct config *c);
void config_free(struct config *c);

/* Validate a plugin's section against its declared settings. */
int config_validate_plugin(const struct config *c, const struct plugin_conf *p,
			   const lab_setting *settings, char *err, size_t errlen);
/* The same for any declarations (1.1 options: also min/max/allowed, and the
 * declarations themselves: ranges, allowed values, defaults, bindings). */
int config_validate_plugin_decls(const struct config *c, const struct plugin_conf *p,
				 const struct plugin_decls *pd, char *err, size_t errlen);

/* Find a plugin's entry by name; NULL if not configured. */
const struct plugin_conf *config_plugin(const struct config *c, const char *name);

/* Parse "<int>(s|m|h|d)" (optionally negative) into seconds. */
int config_parse_duration(const char *s, int64_t *seconds);
/* Also "<int>ms" (SDK 1.2 LAB_SETTING_MS); the value in milliseconds. */
int config_parse_duration_ms(const char *s, int64_t *ms);

/* Print a plugin's settings (labd --describe NAME) as a Markdown table. */
void config_describe(const char *name, const lab_setting *settings, FILE *out);
/* The same with the 1.1 checks (ranges and allowed values in the Type column). */
void config_describe_decls(const char *name, const struct plugin_decls *pd, FILE *out);

/*
 * The plugin-facing getters behind lab_cfg_*: `section` is the plugin's
 * section (may be NULL = empty), `settings` its declared map (for defaults),
 * node/path as in lab/plugin.h.  lab_cfg pointers are config_setting_t
 * pointers of this tree; defaults that have no node are served from the
 * settings map.
 */
int cfgapi_string(const config_setting_t *section, const lab_setting *settings,
		  const lab_cfg *node, const char *path, const char **out);
int cfgapi_int(const config_setting_t *section, const lab_setting *settings, const lab_cfg *node,
	       const char *path, int64_t *out);
int cfgapi_bool(const config_setting_t *section, const lab_setting *settings, const lab_cfg *node,
		const char *path, int *out);
int cfgapi_double(const config_setting_t *section, const lab_setting *settings,
		  const lab_cfg *node, const char *path, double *out);
int cfgapi_duration(const config_setting_t *section, const lab_setting *settings,
		    const lab_cfg *node, const char *path, int64_t *seconds);
/* SDK 1.2: any duration in milliseconds ("250ms" needs LAB_SETTING_MS, which
 * the validator checked); cfgapi_duration gives LAB_ERANGE for sub-seconds. */
int cfgapi_duration_ms(const config_setting_t *section, const lab_setting *settings,
		       const lab_cfg *node, const char *path, int64_t *ms);
int cfgapi_count(const config_setting_t *section, const lab_cfg *node, const char *path);
int cfgapi_elem(const config_setting_t *section, const lab_cfg *node, const char *path, int index,
		const lab_cfg **out);
const char *cfgapi_name(const lab_cfg *node);
/* lab_cfg_error: `msg` about node/path as "FILE:LINE: setting 'PATH': msg". */
void cfgapi_error(const config_setting_t *section, const lab_setting *settings,
		  const char *plugin, const lab_cfg *node, const char *path, const char *msg,
		  char *err, size_t errlen);
/* lab_cfg_bind: store node's bound settings (and its groups') into `base`. */
int cfgapi_bind(const config_setting_t *section, const struct plugin_decls *pd,
		const lab_cfg *node, void *base);
int cfgapi_where(const config_setting_t *section, const lab_cfg *node, const char *path,
		 const char **file, int *line);

/*
 * Internal to the config subsystem (config.c, config_validate.c, cfgapi.c).
 */

/* lab_setting.flags bit, honoured only in the host's own schema: members of
 * this MAP may hold keys beyond `children` (the plugins' own settings). */
#define CFG_HOST_OPEN (1u << 31)

/* The host's keys in every plugin section: `enabled` (bool), `path` (string). */
extern const lab_setting config_plugin_host_keys[];

/* The declaration named `name` in the NULL-terminated `keys`; NULL if none. */
const lab_setting *config_decl_find(const lab_setting *keys, const char *name);

/* Check group `g` against `keys` (plus `extra`, may be NULL).  `host` set:
 * the host's schema (CFG_HOST_OPEN applies). */
int config_validate_group(const config_setting_t *g, const lab_setting *keys,
			  const lab_setting *extra, int host, char *err, size_t errlen);

/* "FILE:LINE: setting 'PATH[.child]': reason" for `node` (line omitted if 0). */
void config_node_error(char *err, size_t errlen, const config_setting_t *node, const char *child,
		       const char *fmt, ...) __attribute__((format(printf, 5, 6)));
void config_error(char *err, size_t errlen, const char *file, unsigned line, const char *path,
		  const char *fmt, ...) __attribute__((format(printf, 6, 7)));

/* Marks settings created or changed by the n-th (1-based) -D option. */
#define CFG_OVERRIDE_FILE "-D"

/* config_override.c: the rewrites applied before validation. */
extern const char config_override_file[]; /* the "file" of -D settings (compared by address) */
int config_subst_tree(config_setting_t *s, unsigned flags, char *err, size_t errlen);
int config_apply_override(struct config *c, const lab_setting *host_schema, const char *ov,
			  unsigned idx, char *err, size_t errlen);

#endif
