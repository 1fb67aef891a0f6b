/* labctl-config-import: the Go `srv` service's config (ethpandaops/lab
 * backend/pkg/server/config.go, July 2025): camelCase keys, per-network
 * `xatu.dsn`, genesis as an RFC 3339 time, modules nested twice
 * (modules.NAME.NAME), window files ending in ".json", Go durations, and
 * services labd has no counterpart of (gRPC, Redis cache, geolocation
 * database), which are listed as not imported. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "clock.h"
#include "import.h"

static int log_level(struct imp *im, yaml_node_t *n)
{
	const char *v = y_str(im, n, "logLevel");
	const char *lv;

	if (!v)
		return -1;
	if (!strcasecmp(v, "trace") || !strcasecmp(v, "debug"))
		lv = "debug";
	else if (!strcasecmp(v, "info"))
		lv = "info";
	else if (!strcasecmp(v, "warn") || !strcasecmp(v, "warning"))
		lv = "warn";
	else if (!strcasecmp(v, "error") || !strcasecmp(v, "fatal") || !strcasecmp(v, "panic"))
		lv = "error";
	else {
		y_error(im, n, "logLevel", "unknown level \"%s\"", v);
		return -1;
	}
	if (strcasecmp(v, lv) != 0)
		y_note(im, n, "logLevel", "\"%s\" is written as labd's nearest level \"%s\"", v, lv);
	emit_kv(&im->log, "\t", "level", lv);
	return 0;
}

static int storage(struct imp *im, yaml_node_t *st)
{
	static const char *const keys[] = { "endpoint", "region", "accessKey", "secretKey",
					    "bucket", "secure", "usePathStyle", NULL };
	struct buf *b = &im->storage;
	yaml_node_t *n;
	const char *ep, *v;
	int secure = 0, path_style = 0;

	if (y_need_map(im, st, "storage", 0) < 0 || y_known(im, st, "storage", keys) < 0)
		return -1;
	if ((n = y_get(im, st, "secure")) && y_bool(im, n, "storage.secure", &secure) < 0)
		return -1;
	if ((n = y_get(im, st, "usePathStyle")) &&
	    y_bool(im, n, "storage.usePathStyle", &path_style) < 0)
		return -1;
	buf_puts(b, "\tbackend = \"s3\";\n\ts3 = {\n");
	buf_printf(b, "\t\turl_style = \"%s\";\n", path_style ? "path" : "virtual");
	if (!(ep = y_str(im, y_get(im, st, "endpoint"), "storage.endpoint")))
		return -1;
	/* minio-go takes host[:port] and `secure` for the scheme. */
	if (strstr(ep, "://")) {
		emit_kv(b, "\t\t", "endpoint", ep);
	} else {
		char *u = malloc(strlen(ep) + 9);
		if (!u)
			return -1;
		sprintf(u, "%s://%s", secure ? "https" : "http", ep);
		emit_kv(b, "\t\t", "endpoint", u);
		free(u);
	}
	if (!(v = y_str(im, y_get(im, st, "region"), "storage.region")))
		return -1;
	emit_kv(b, "\t\t", "region", v);
	if (!(v = y_str(im, y_get(im, st, "bucket"), "storage.bucket")))
		return -1;
	emit_kv(b, "\t\t", "bucket", v);
	emit_secret(im, b, "\t\t", "access_key_id", y_get(im, st, "accessKey"), "storage.accessKey",
		    "LAB_S3_ACCESS_KEY_ID");
	emit_secret(im, b, "\t\t", "secret_access_key", y_get(im, st, "secretKey"),
		    "storage.secretKey", "LAB_S3_SECRET_ACCESS_KEY");
	buf_puts(b, "\t};\n");
	return im->error ? -1 : 0;
}

static int xatu(struct imp *im, yaml_node_t *x, const char *path)
{
	static const char *const keys[] = { "dsn", "protocol", "insecure_skip_verify", NULL };
	char p[256];
	const char *dsn, *proto = NULL;
	yaml_node_t *n;

	if (y_need_map(im, x, path, 0) < 0 || y_known(im, x, path, keys) < 0)
		return -1;
	snprintf(p, sizeof p, "%s.dsn", path);
	if (!(dsn = y_str(im, n = y_get(im, x, "dsn"), p)))
		return -1;
	if (im->have_clickhouse) {
		/* labd has one ClickHouse for every network. */
		if (strcmp(im->ch_first_dsn, dsn) != 0)
			y_drop(im, n, p, "labd reads every network from one ClickHouse "
					 "(the first network's dsn is used)");
		return 0;
	}
	snprintf(p, sizeof p, "%s.protocol", path);
	if ((n = y_get(im, x, "protocol")) && !(proto = y_str(im, n, p)))
		return -1;
	snprintf(p, sizeof p, "%s.insecure_skip_verify", path);
	if ((n = y_get(im, x, "insecure_skip_verify"))) {
		int skip;
		if (y_bool(im, n, p, &skip) < 0)
			return -1;
		if (skip)
			y_drop(im, n, p, "labd always verifies TLS certificates");
	}
	snprintf(p, sizeof p, "%s.dsn", path);
	if (emit_clickhouse_dsn(im, y_get(im, x, "dsn"), p, proto) < 0)
		return -1;
	im->have_clickhouse = 1;
	im->ch_first_dsn = strdup(dsn);
	return im->ch_first_dsn ? 0 : -1;
}

static int networks(struct imp *im, yaml_node_t *eth)
{
	static const char *const top[] = { "networks", NULL };
	static const char *const net_keys[] = { "name", "xatu", "configURL", "genesis", "validator",
						"forks", NULL };
	struct buf *b = &im->networks;
	yaml_node_t *nets;

	if (y_need_map(im, eth, "ethereum", 0) < 0 || y_known(im, eth, "ethereum", top) < 0)
		return -1;
	nets = y_get(im, eth, "networks");
	if (y_need_map(im, nets, "ethereum.networks", 0) < 0)
		return -1;
	for (size_t i = 0; i < y_map_len(nets); i++) {
		yaml_node_t *nn, *n;
		const char *key = y_map_key(im, nets, i, &nn), *name, *url, *g;
		char p[256], q[300];
		int64_t ms;
		if (!key)
			return -1;
		snprintf(p, sizeof p, "ethereum.networks.%s", key);
		if (y_need_map(im, nn, p, 0) < 0 || y_known(im, nn, p, net_keys) < 0)
			return -1;
		snprintf(q, sizeof q, "%s.name", p);
		name = (n = y_get(im, nn, "name")) ? y_str(im, n, q) : key;
		if (!name)
			return -1;
		if (!import_name_ok(name)) {
			y_error(im, n ? n : nn, q, "network names must match [a-z0-9_-]+ in labd");
			return -1;
		}
		snprintf(q, sizeof q, "%s.genesis", p);
		if (!(g = y_str(im, n = y_get(im, nn, "genesis"), q)))
			return -1;
		if (clock_parse_rfc3339(g, &ms) < 0 || ms % 1000 != 0) {
			y_error(im, n, q, "expected an RFC 3339 time in whole seconds, got \"%s\"", g);
			return -1;
		}
		snprintf(q, sizeof q, "%s.configURL", p);
		if (!(url = y_str(im, y_get(im, nn, "configURL"), q)))
			return -1;
		buf_printf(b, "%s\t\t{ name = \"%s\"; genesis_time = %lld;\n", b->len ? ",\n" : "",
			   name, (long long)(ms / 1000));
		emit_kv(b, "\t\t  ", "config_url", url);
		snprintf(q, sizeof q, "%s.validator", p);
		if (emit_validator_map(im, b, y_get(im, nn, "validator"), q, "knownValidatorRanges") < 0)
			return -1;
		snprintf(q, sizeof q, "%s.forks", p);
		if (emit_forks(im, b, y_get(im, nn, "forks"), q) < 0)
			return -1;
		buf_puts(b, "\t\t}");
		snprintf(q, sizeof q, "%s.xatu", p);
		if ((n = y_get(im, nn, "xatu")) && xatu(im, n, q) < 0)
			return -1;
	}
	return 0;
}

static int enabled(struct imp *im, struct buf *b, yaml_node_t *m, const char *path)
{
	char p[160];
	yaml_node_t *n;
	int on = 1; /* `default:"true"` in every module's struct */

	snprintf(p, sizeof p, "%s.enabled", path);
	if ((n = y_get(im, m, "enabled")) && y_bool(im, n, p, &on) < 0)
		return -1;
	buf_printf(b, "\t\tenabled = %s;\n", on ? "true" : "false");
	return 0;
}

static int beacon_slots(struct imp *im, yaml_node_t *m, yaml_node_t *eth_nets)
{
	static const char *const keys[] = { "enabled", "backfill", "head_delay_slots",
					    "locally_built_blocks", NULL };
	static const char *const path = "modules.beacon_slots.beacon_slots";
	struct buf *b = &im->plugins;
	yaml_node_t *n;

	if (y_need_map(im, m, path, 1) < 0 || y_known(im, m, path, keys) < 0)
		return -1;
	buf_puts(b, "\tbeacon = {\n");
	if (enabled(im, b, m, path) < 0)
		return -1;
	if ((n = y_get(im, m, "head_delay_slots"))) {
		int64_t lag;
		if (y_int(im, n, "modules.beacon_slots.beacon_slots.head_delay_slots", &lag) < 0)
			return -1;
		/* The service applied it to every network. */
		buf_puts(b, "\t\tnetworks = {\n");
		for (size_t i = 0; i < y_map_len(eth_nets); i++) {
			yaml_node_t *v, *nm;
			const char *name = y_map_key(im, eth_nets, i, &v);
			if (v && (nm = y_get(im, v, "name")) && nm->type == YAML_SCALAR_NODE)
				name = (const char *)nm->data.scalar.value;
			buf_printf(b, "\t\t\t%s = { head_lag_slots = %lld; };\n", name, (long long)lag);
		}
		buf_puts(b, "\t\t};\n");
	}
	if ((n = y_get(im, m, "backfill")))
		y_drop(im, n, "modules.beacon_slots.beacon_slots.backfill",
		       "labd backfills to a fixed fork, slot or date (networks.NAME.backfill), "
		       "not a number of slots behind the head");
	if ((n = y_get(im, m, "locally_built_blocks")))
		y_drop(im, n, "modules.beacon_slots.beacon_slots.locally_built_blocks",
		       "not available in this labd version");
	buf_puts(b, "\t};\n");
	return 0;
}

static int windowed(struct imp *im, yaml_node_t *m, const char *module, const char *plugin)
{
	static const char *const timings_keys[] = { "enabled", "time_windows", "interval", NULL };
	static const char *const contrib_keys[] = { "enabled", "time_windows", "interval",
						    "redis_key_prefix", "backfill_hours", NULL };
	int contrib = strcmp(plugin, "contributors") == 0;
	struct buf *b = &im->plugins;
	char path[96], p[128];
	yaml_node_t *n;

	snprintf(path, sizeof path, "modules.%s.%s", module, module);
	if (y_need_map(im, m, path, 1) < 0 ||
	    y_known(im, m, path, contrib ? contrib_keys : timings_keys) < 0)
		return -1;
	buf_printf(b, "\t%s = {\n", plugin);
	if (enabled(im, b, m, path) < 0)
		return -1;
	snprintf(p, sizeof p, "%s.time_windows", path);
	if ((n = y_get(im, m, "time_windows")) && emit_windows(im, b, n, p, 1) < 0)
		return -1;
	snprintf(p, sizeof p, "%s.interval", path);
	if ((n = y_get(im, m, "interval"))) {
		if (emit_duration(im, b, "\t\t", "interval", n, p, 1, 0) < 0)
			return -1;
	} else if (contrib) {
		buf_puts(b, "\t\tinterval = \"15m\"; # the service's default\n");
	}
	snprintf(p, sizeof p, "%s.redis_key_prefix", path);
	if ((n = y_get(im, m, "redis_key_prefix")))
		y_drop(im, n, p, "labd keeps no Redis state (state/modules/NAME.json in storage)");
	snprintf(p, sizeof p, "%s.backfill_hours", path);
	if ((n = y_get(im, m, "backfill_hours")))
		y_drop(im, n, p, "the windows' ranges decide what is computed");
	buf_puts(b, "\t};\n");
	return 0;
}

int import_go(struct imp *im, yaml_node_t *root)
{
	static const char *const top[] = { "logLevel", "grpc", "ethereum", "storage", "modules",
					   "cache", "geolocation", NULL };
	static const struct {
		const char *module, *plugin;
	} mods[] = { { "beacon_slots", "beacon" },
		     { "beacon_chain_timings", "timings" },
		     { "xatu_public_contributors", "contributors" } };
	static const char *const mod_names[] = { "beacon_slots", "beacon_chain_timings",
						 "xatu_public_contributors", NULL };
	yaml_node_t *m, *n, *eth_nets;

	if (y_known(im, root, "", top) < 0)
		return -1;
	if ((n = y_get(im, root, "logLevel")) && log_level(im, n) < 0)
		return -1;
	if ((n = y_get(im, root, "grpc")))
		y_drop(im, n, "grpc", "labd serves no gRPC API (documents go to storage; the admin "
				      "API is admin.listen)");
	if ((n = y_get(im, root, "cache")))
		y_drop(im, n, "cache", "labd needs no cache service (Redis): state lives in storage");
	if ((n = y_get(im, root, "geolocation")))
		y_drop(im, n, "geolocation",
		       "the beacon plugin has the cities15000 table built in");
	if (storage(im, y_get(im, root, "storage")) < 0 || networks(im, y_get(im, root, "ethereum")) < 0)
		return -1;
	eth_nets = y_get(im, y_get(im, root, "ethereum"), "networks");
	m = y_get(im, root, "modules");
	if (y_need_map(im, m, "modules", 0) < 0 || y_known(im, m, "modules", mod_names) < 0)
		return -1;
	for (size_t i = 0; i < sizeof mods / sizeof mods[0]; i++) {
		static const char *const inner[4][2] = { { "beacon_slots", NULL },
							 { "beacon_chain_timings", NULL },
							 { "xatu_public_contributors", NULL } };
		yaml_node_t *outer = y_get(im, m, mods[i].module), *in;
		char p[96];
		if (!outer)
			continue;
		snprintf(p, sizeof p, "modules.%s", mods[i].module);
		if (y_need_map(im, outer, p, 0) < 0 || y_known(im, outer, p, inner[i]) < 0)
			return -1;
		if (!(in = y_get(im, outer, mods[i].module)))
			continue;
		if (i == 0 ? beacon_slots(im, in, eth_nets) < 0 :
			     windowed(im, in, mods[i].module, mods[i].plugin) < 0)
			return -1;
	}
	return im->error ? -1 : 0;
}
