/* labctl-config-import: shared state of the importer.
 *
 * import_yaml.c   the YAML document (libyaml's document API): lookups,
 *                 key checks against the keys a format knows, FILE:LINE
 *                 diagnostics, warnings for settings labd has no equivalent of
 * import_emit.c   libconfig text: quoted strings, durations, secrets
 *                 (written as ${ENV} references, never copied), ClickHouse DSNs
 * import_python.c the Python backend's config.yaml
 * import_go.c     the Go `srv` service's config
 * config_import.c command line, format detection, writing the result
 */
#ifndef LAB_TOOLS_IMPORT_H
#define LAB_TOOLS_IMPORT_H

#include <stddef.h>
#include <stdint.h>
#include <yaml.h>

#include "buf.h"

struct imp {
	const char *file;
	yaml_document_t doc;
	int error;          /* an error was reported: nothing is written */
	struct buf warnings; /* "FILE:LINE: key: why" lines */
	size_t n_dropped;   /* settings without an equivalent */
	struct buf notes;   /* secrets to export, other hints (not drops) */

	/* the output, by section */
	struct buf log, storage, clickhouse, networks, plugins;
	int have_clickhouse;
	char *ch_first_dsn; /* Go: per-network DSNs must agree (labd has one ClickHouse) */
};

/* ---- import_yaml.c ---- */
yaml_node_t *y_root(struct imp *im);
/* The value of `key` in mapping `map`, or NULL (also when map is not a mapping). */
yaml_node_t *y_get(struct imp *im, yaml_node_t *map, const char *key);
/* A scalar's text, or NULL (with an error naming `path`) for anything else. */
const char *y_str(struct imp *im, yaml_node_t *n, const char *path);
int y_line(const yaml_node_t *n);
int y_is_map(const yaml_node_t *n);
int y_is_seq(const yaml_node_t *n);
/* Mapping pair i: key text (NULL when the key is not a scalar) and value. */
size_t y_map_len(const yaml_node_t *map);
const char *y_map_key(struct imp *im, yaml_node_t *map, size_t i, yaml_node_t **value);
size_t y_seq_len(const yaml_node_t *seq);
yaml_node_t *y_seq_at(struct imp *im, yaml_node_t *seq, size_t i);
/* Every key of `map` must be one of the NULL-terminated `known`; else an
 * error "FILE:LINE: PATH.KEY: unknown setting".  0 or -1. */
int y_known(struct imp *im, yaml_node_t *map, const char *path, const char *const *known);
/* Requires a mapping (NULL allowed when optional): 0 or -1 with an error. */
int y_need_map(struct imp *im, yaml_node_t *n, const char *path, int optional);
int y_need_seq(struct imp *im, yaml_node_t *n, const char *path);
/* Integers and booleans of YAML 1.1 as both backends read them. */
int y_int(struct imp *im, yaml_node_t *n, const char *path, int64_t *out);
int y_bool(struct imp *im, yaml_node_t *n, const char *path, int *out);
void y_error(struct imp *im, const yaml_node_t *n, const char *path, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* A setting labd has no equivalent of: listed, counted, not written. */
void y_drop(struct imp *im, const yaml_node_t *n, const char *path, const char *why);
void y_note(struct imp *im, const yaml_node_t *n, const char *path, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* ---- import_emit.c ---- */
/* A libconfig string literal of s (escaped). */
void emit_str(struct buf *b, const char *s);
/* `name = "value";` */
void emit_kv(struct buf *b, const char *indent, const char *name, const char *value);
/* A secret: a ${...} reference is kept as it is; a literal becomes "${env}"
 * (noted: the operator exports it); "" stays "". */
void emit_secret(struct imp *im, struct buf *b, const char *indent, const char *name,
		 yaml_node_t *n, const char *path, const char *env);
/* Durations.  `go`: Go's time.ParseDuration syntax ("1h30m", "90s");
 * else labd's own <int>(s|m|h|d).  Writes `name = "…";`.  0 or -1 (error). */
int emit_duration(struct imp *im, struct buf *b, const char *indent, const char *name,
		  yaml_node_t *n, const char *path, int go, int negative_ok);
/* A ClickHouse URL/DSN ("clickhouse+http://user:pass@host:port/db?protocol=https",
 * "http://host:8123", or a ${...} reference) into im->clickhouse. */
int emit_clickhouse_dsn(struct imp *im, yaml_node_t *n, const char *path, const char *protocol);
/* The network-name / fork-name rule of labd.conf ([a-z0-9_-]+). */
int import_name_ok(const char *s);
/* Windows { file, step, label, range } of both formats into `b`. */
int emit_windows(struct imp *im, struct buf *b, yaml_node_t *seq, const char *path, int go);
/* validator_set = ( { range = "R"; entity = "E"; } ) from a mapping R: E. */
int emit_validator_ranges(struct imp *im, struct buf *b, yaml_node_t *ranges, const char *path);
/* A map at `path` whose only key is `key`, holding the ranges above (the
 * Python format's validator_set.known_validators, the Go format's
 * validator.knownValidatorRanges). */
int emit_validator_map(struct imp *im, struct buf *b, yaml_node_t *map, const char *path, const char *key);
/* min_client_versions = { FORK = { CLIENT = "V"; }; } from forks.consensus. */
int emit_forks(struct imp *im, struct buf *b, yaml_node_t *forks, const char *path);

/* ---- the formats ---- */
int import_python(struct imp *im, yaml_node_t *root);
int import_go(struct imp *im, yaml_node_t *root);

#endif
