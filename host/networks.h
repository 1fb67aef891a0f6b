/* Ethereum networks from `ethereum.networks`: genesis time, slot timing and
 * fork epochs (from the network's config.yaml, read with libyaml), and the
 * validator-set entity ranges.  Exposed to plugins as `lab_network`. */
#ifndef LAB_HOST_NETWORKS_H
#define LAB_HOST_NETWORKS_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "config.h"
#include "lab/plugin.h"

struct networks;

/* Loads every configured network; YAML errors name FILE:LINE. */
int networks_load(const struct host_conf *hc, struct networks **out, char *err, size_t errlen);
void networks_free(struct networks *n);

size_t networks_count(const struct networks *n);
const lab_network *networks_at(const struct networks *n, size_t i);
const lab_network *networks_find(const struct networks *n, const char *name);

const char *network_name(const lab_network *net);
int64_t network_genesis_time(const lab_network *net);
uint32_t network_seconds_per_slot(const lab_network *net);
uint32_t network_slots_per_epoch(const lab_network *net);
int network_fork_epoch(const lab_network *net, const char *fork, uint64_t *epoch);
const char *network_entity(const lab_network *net, uint64_t validator_index);
/* Forks in activation order (for config.json). */
size_t network_fork_count(const lab_network *net);
int network_fork_at(const lab_network *net, size_t i, const char **name, uint64_t *epoch);
/* The configured min_client_versions entries (fork, client, version), in
 * file order, for config.json. */
size_t network_min_version_count(const lab_network *net);
int network_min_version_at(const lab_network *net, size_t i, const char **fork,
			   const char **client, const char **version);

/* The config_url of network `net` while its config.yaml has not been
 * fetched yet (until then it has the defaults and no forks), else NULL. */
const char *network_pending_url(const lab_network *net);
/* Parse `text` (named `file` in errors) as the config.yaml of network i and
 * use it; clears the pending URL.  On error the network is unchanged. */
int networks_apply_yaml(struct networks *n, size_t i, const char *text, size_t len,
			const char *file, char *err, size_t errlen);

struct storage;
/* Fetches every pending config_url (networks_url.c): blocking libcurl, at
 * start-up only, before the plugins run.  A fetched file is cached in
 * storage (key state/networks/NAME.yaml) when `st` is not NULL; when the
 * fetch fails, the cached copy is used with a warning (the loop is run
 * until the storage operation completes).  Neither: LAB_ECONFIG naming the
 * network in err. */
int networks_fetch_urls(struct networks *n, uv_loop_t *loop, struct storage *st, char *err,
			size_t errlen);

/* Parse one network config.yaml text (tests, fuzzing). */
int networks_parse_yaml(const char *text, size_t len, const char *file, uint32_t *seconds_per_slot,
			uint32_t *slots_per_epoch, char ***fork_names, uint64_t **fork_epochs,
			size_t *n_forks, char *err, size_t errlen);

#endif
