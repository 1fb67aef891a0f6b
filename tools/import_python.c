/* labctl-config-import: the Python backend's config.yaml (ethpandaops/lab
 * backend/lab/core/config.py): storage.s3, clickhouse, ethereum.networks
 * (a mapping by name), modules.{beacon, beacon_chain_timings,
 * xatu_public_contributors}.  Its modules are disabled unless they say
 * `enabled: true` (pydantic default), so every imported section states it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "import.h"

static int storage(struct imp *im, yaml_node_t *st)
{
	static const char *const top[] = { "s3", NULL };
	static const char *const s3k[] = { "endpoint", "region", "bucket", "access_key_id",
					   "secret_access_key", NULL };
	struct buf *b = &im->storage;
	yaml_node_t *s3;
	const char *v;

	if (y_need_map(im, st, "storage", 0) < 0 || y_known(im, st, "storage", top) < 0)
		return -1;
	s3 = y_get(im, st, "s3");
	if (y_need_map(im, s3, "storage.s3", 0) < 0 || y_known(im, s3, "storage.s3", s3k) < 0)
		return -1;
	buf_puts(b, "\tbackend = \"s3\";\n\ts3 = {\n");
	/* boto3 was configured with addressing_style "path". */
	buf_puts(b, "\t\turl_style = \"path\";\n");
	if (!(v = y_str(im, y_get(im, s3, "endpoint"), "storage.s3.endpoint")))
		return -1;
	emit_kv(b, "\t\t", "endpoint", v);
	if (!(v = y_str(im, y_get(im, s3, "region"), "storage.s3.region")))
		return -1;
	emit_kv(b, "\t\t", "region", v);
	if (!(v = y_str(im, y_get(im, s3, "bucket"), "storage.s3.bucket")))
		return -1;
	emit_kv(b, "\t\t", "bucket", v);
	emit_secret(im, b, "\t\t", "access_key_id", y_get(im, s3, "access_key_id"),
		    "storage.s3.access_key_id", "LAB_S3_ACCESS_KEY_ID");
	emit_secret(im, b, "\t\t", "secret_access_key", y_get(im, s3, "secret_access_key"),
		    "storage.s3.secret_access_key", "LAB_S3_SECRET_ACCESS_KEY");
	buf_puts(b, "\t};\n");
	return im->error ? -1 : 0;
}

static int clickhouse(struct imp *im, yaml_node_t *ch)
{
	static const char *const keys[] = { "url", "database", "username", "password", "debug",
					    NULL };
	yaml_node_t *n;

	if (y_need_map(im, ch, "clickhouse", 0) < 0 || y_known(im, ch, "clickhouse", keys) < 0)
		return -1;
	if (emit_clickhouse_dsn(im, y_get(im, ch, "url"), "clickhouse.url", NULL) < 0)
		return -1;
	/* Only `url` was read by the original (SQLAlchemy); the other keys of its
	 * example file were ignored there, so they are not carried over either. */
	static const char *const ignored[] = { "database", "username", "password", "debug" };
	for (size_t i = 0; i < sizeof ignored / sizeof ignored[0]; i++) {
		char p[64];
		snprintf(p, sizeof p, "clickhouse.%s", ignored[i]);
		if ((n = y_get(im, ch, ignored[i])))
			y_drop(im, n, p,
			       strcmp(ignored[i], "debug") == 0 ?
				       "labd logs each query with log.level = \"debug\"" :
				       "the original read only clickhouse.url (put it there)");
	}
	return 0;
}

static int networks(struct imp *im, yaml_node_t *eth)
{
	static const char *const top[] = { "networks", NULL };
	static const char *const net_keys[] = { "config_url", "genesis_time", "forks",
						"validator_set", NULL };
	struct buf *b = &im->networks;
	yaml_node_t *nets;

	if (y_need_map(im, eth, "ethereum", 1) < 0 || y_known(im, eth, "ethereum", top) < 0)
		return -1;
	nets = y_get(im, eth, "networks");
	if (y_need_map(im, nets, "ethereum.networks", 1) < 0)
		return -1;
	for (size_t i = 0; i < y_map_len(nets); i++) {
		yaml_node_t *nn;
		const char *name = y_map_key(im, nets, i, &nn), *url;
		char p[256], q[300];
		int64_t genesis;
		if (!name)
			return -1;
		snprintf(p, sizeof p, "ethereum.networks.%s", name);
		if (!import_name_ok(name)) {
			y_error(im, nn, p, "network names must match [a-z0-9_-]+ in labd");
			return -1;
		}
		if (y_need_map(im, nn, p, 0) < 0 || y_known(im, nn, p, net_keys) < 0)
			return -1;
		snprintf(q, sizeof q, "%s.genesis_time", p);
		if (y_int(im, y_get(im, nn, "genesis_time"), q, &genesis) < 0)
			return -1;
		snprintf(q, sizeof q, "%s.config_url", p);
		if (!(url = y_str(im, y_get(im, nn, "config_url"), q)))
			return -1;
		buf_printf(b, "%s\t\t{ name = \"%s\"; genesis_time = %lld;\n", b->len ? ",\n" : "",
			   name, (long long)genesis);
		emit_kv(b, "\t\t  ", "config_url", url);
		snprintf(q, sizeof q, "%s.validator_set", p);
		if (emit_validator_map(im, b, y_get(im, nn, "validator_set"), q, "known_validators") < 0)
			return -1;
		snprintf(q, sizeof q, "%s.forks", p);
		if (emit_forks(im, b, y_get(im, nn, "forks"), q) < 0)
			return -1;
		buf_puts(b, "\t\t}");
	}
	return 0;
}

/* enabled, description, path_prefix: the keys of every module. */
static int module_common(struct imp *im, struct buf *b, yaml_node_t *m, const char *path)
{
	char p[128];
	yaml_node_t *n;
	int enabled = 0;

	snprintf(p, sizeof p, "%s.enabled", path);
	if ((n = y_get(im, m, "enabled")) && y_bool(im, n, p, &enabled) < 0)
		return -1;
	buf_printf(b, "\t\tenabled = %s;\n", enabled ? "true" : "false");
	snprintf(p, sizeof p, "%s.description", path);
	if ((n = y_get(im, m, "description")))
		y_drop(im, n, p, "labd's plugins describe themselves in config.json");
	snprintf(p, sizeof p, "%s.path_prefix", path);
	if ((n = y_get(im, m, "path_prefix"))) {
		const char *v = y_str(im, n, p);
		if (!v)
			return -1;
		if (*v)
			emit_kv(b, "\t\t", "path_prefix", v);
	}
	return 0;
}

static int string_list(struct imp *im, struct buf *b, const char *name, yaml_node_t *seq,
		       const char *path)
{
	char p[160];
	if (y_need_seq(im, seq, path) < 0)
		return -1;
	buf_printf(b, "\t\t%s = [", name);
	for (size_t i = 0; i < y_seq_len(seq); i++) {
		snprintf(p, sizeof p, "%s[%zu]", path, i);
		const char *v = y_str(im, y_seq_at(im, seq, i), p);
		if (!v)
			return -1;
		buf_puts(b, i ? ", " : " ");
		emit_str(b, v);
	}
	buf_puts(b, " ];\n");
	return 0;
}

static int beacon(struct imp *im, yaml_node_t *m, yaml_node_t *eth_nets)
{
	static const char *const keys[] = { "enabled", "description", "path_prefix", "networks",
					    NULL };
	static const char *const net_keys[] = { "head_lag_slots", "backlog_days", NULL };
	struct buf *b = &im->plugins;
	yaml_node_t *nets;

	if (y_need_map(im, m, "modules.beacon", 1) < 0 || y_known(im, m, "modules.beacon", keys) < 0)
		return -1;
	buf_puts(b, "\tbeacon = {\n");
	if (module_common(im, b, m, "modules.beacon") < 0)
		return -1;
	nets = y_get(im, m, "networks");
	if (y_need_map(im, nets, "modules.beacon.networks", 1) < 0)
		return -1;
	if (y_map_len(nets)) {
		/* The original processed every ethereum network, with these
		 * entries as overrides; labd's map restricts, so list them all. */
		buf_puts(b, "\t\tnetworks = {\n");
		for (size_t i = 0; i < y_map_len(eth_nets); i++) {
			yaml_node_t *v, *o;
			const char *name = y_map_key(im, eth_nets, i, &v);
			buf_printf(b, "\t\t\t%s = {", name);
			if ((o = y_get(im, nets, name))) {
				char p[200], q[240];
				snprintf(p, sizeof p, "modules.beacon.networks.%s", name);
				if (y_need_map(im, o, p, 1) < 0 || y_known(im, o, p, net_keys) < 0)
					return -1;
				int64_t lag;
				snprintf(q, sizeof q, "%s.head_lag_slots", p);
				if ((v = y_get(im, o, "head_lag_slots"))) {
					if (y_int(im, v, q, &lag) < 0)
						return -1;
					buf_printf(b, " head_lag_slots = %lld;", (long long)lag);
				}
				snprintf(q, sizeof q, "%s.backlog_days", p);
				if ((v = y_get(im, o, "backlog_days")))
					y_drop(im, v, q,
					       "labd backfills to a fixed fork, slot or date "
					       "(backfill.to_fork, to_slot, to_date)");
			}
			buf_puts(b, " };\n");
		}
		for (size_t i = 0; i < y_map_len(nets); i++) {
			yaml_node_t *v;
			const char *name = y_map_key(im, nets, i, &v);
			char p[200];
			snprintf(p, sizeof p, "modules.beacon.networks.%s", name ? name : "?");
			if (name && !y_get(im, eth_nets, name)) {
				y_error(im, v, p, "not a network of ethereum.networks");
				return -1;
			}
		}
		buf_puts(b, "\t\t};\n");
	}
	buf_puts(b, "\t};\n");
	return 0;
}

static int windowed(struct imp *im, yaml_node_t *m, const char *module, const char *plugin)
{
	static const char *const timings_keys[] = { "enabled", "description", "path_prefix",
						    "networks", "time_windows", "interval", NULL };
	static const char *const contrib_keys[] = { "enabled", "description", "path_prefix",
						    "networks", "time_windows", "interval",
						    "schedule_hours", NULL };
	int contrib = strcmp(plugin, "contributors") == 0;
	struct buf *b = &im->plugins;
	char path[64], p[96];
	yaml_node_t *n;

	snprintf(path, sizeof path, "modules.%s", module);
	if (y_need_map(im, m, path, 1) < 0 ||
	    y_known(im, m, path, contrib ? contrib_keys : timings_keys) < 0)
		return -1;
	buf_printf(b, "\t%s = {\n", plugin);
	if (module_common(im, b, m, path) < 0)
		return -1;
	snprintf(p, sizeof p, "%s.networks", path);
	if ((n = y_get(im, m, "networks")) && string_list(im, b, "networks", n, p) < 0)
		return -1;
	snprintf(p, sizeof p, "%s.time_windows", path);
	if ((n = y_get(im, m, "time_windows")) && emit_windows(im, b, n, p, 0) < 0)
		return -1;
	yaml_node_t *sh = contrib ? y_get(im, m, "schedule_hours") : NULL;
	snprintf(p, sizeof p, "%s.interval", path);
	if ((n = y_get(im, m, "interval"))) {
		if (sh) /* the module used schedule_hours; interval was unused */
			y_drop(im, n, p, "the original used schedule_hours, not interval");
		else if (emit_duration(im, b, "\t\t", "interval", n, p, 0, 0) < 0)
			return -1;
	}
	if (sh) {
		int64_t h;
		snprintf(p, sizeof p, "%s.schedule_hours", path);
		if (y_int(im, sh, p, &h) < 0)
			return -1;
		if (h <= 0) {
			y_error(im, sh, p, "must be positive");
			return -1;
		}
		buf_printf(b, "\t\tinterval = \"%lldh\";\n", (long long)h);
	}
	buf_puts(b, "\t};\n");
	return 0;
}

int import_python(struct imp *im, yaml_node_t *root)
{
	static const char *const top[] = { "storage", "clickhouse", "ethereum", "modules", NULL };
	static const char *const mods[] = { "beacon", "beacon_chain_timings",
					    "xatu_public_contributors", NULL };
	yaml_node_t *m, *n, *eth_nets;

	if (y_known(im, root, "", top) < 0 || storage(im, y_get(im, root, "storage")) < 0 ||
	    clickhouse(im, y_get(im, root, "clickhouse")) < 0 ||
	    networks(im, y_get(im, root, "ethereum")) < 0)
		return -1;
	eth_nets = y_get(im, y_get(im, root, "ethereum"), "networks");
	m = y_get(im, root, "modules");
	if (y_need_map(im, m, "modules", 0) < 0 || y_known(im, m, "modules", mods) < 0)
		return -1;
	if ((n = y_get(im, m, "beacon")) && beacon(im, n, eth_nets) < 0)
		return -1;
	if ((n = y_get(im, m, "beacon_chain_timings")) &&
	    windowed(im, n, "beacon_chain_timings", "timings") < 0)
		return -1;
	if ((n = y_get(im, m, "xatu_public_contributors")) &&
	    windowed(im, n, "xatu_public_contributors", "contributors") < 0)
		return -1;
	return im->error ? -1 : 0;
}
