/* The frontend's config.json (SPEC §9.4), written by the host to storage
 * key `config.json`:
 *   {"modules":{PREFIX:{...}},
 *    "ethereum":{"networks":{NAME:{"genesis_time":int,
 *        "forks":{"consensus":{FORK:{"min_client_versions":{},"epoch":int}}}}}}}
 * Module entries are the plugins' `describe` objects.  See docs/operations.md. */
#ifndef LAB_HOST_CONFIG_JSON_H
#define LAB_HOST_CONFIG_JSON_H

#include <stddef.h>

#include "buf.h"

struct slot;
struct networks;
struct host_services;

/* The recorded entries and the writer; one per daemon. */
struct config_json;
/* Writes go to svc->storage (none when NULL: -t) with svc->nets. */
struct config_json *config_json_new(const struct host_services *svc);
/* Frees the recorded entries (end of daemon_main, after the last loop run). */
void config_json_free(struct config_json *cj);

/* A plugin finished init (s->inst is READY): record its describe
 * entry and (re)write config.json.  Writes are asynchronous and coalesced:
 * at most one is in flight, and the last one carries every entry recorded
 * so far.  Failures are logged; they never stop a plugin. */
void config_json_plugin_ready(struct config_json *cj, struct slot *s);

/* Builds the document from the recorded entries (none if cj is NULL) and
 * `nets` (tests). */
int config_json_build(const struct config_json *cj, const struct networks *nets,
		      struct buf *out);

/* Validates one describe text: a JSON object of at most
 * CONFIG_JSON_ENTRY_MAX bytes.  Returns its module key (path_prefix if it
 * is a non-empty string, else `plugin`) in key[keylen]; LAB_EPARSE,
 * LAB_ERANGE otherwise. */
#define CONFIG_JSON_ENTRY_MAX ((size_t)1 << 20)
int config_json_entry_check(const char *plugin, const char *text, char *key, size_t keylen);

#endif
