/* config.json for the frontend (SPEC §9.4).  Each plugin's `describe` text
 * is untrusted: it is parsed (json-c, bounded size and depth) and must be an
 * object, or the plugin gets no entry and a warning.  The entries are kept
 * here, by plugin name, so that a plugin that has finished (--once) or
 * failed later keeps its entry in every later write. */
#include "config_json.h"

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crash.h"
#include "instance.h"
#include "log.h"
#include "networks.h"
#include "services.h"
#include "slot.h"
#include "storage.h"

#define KEY "config.json"
#define CACHE_CONTROL "no-store, no-cache, must-revalidate"
#define MODULE_KEY_MAX 256
#define PARSE_DEPTH 64

struct entry {
	char *plugin;
	char *key;
	json_object *obj;
};

struct config_json {
	struct entry *v;
	size_t n;
	const struct host_services *svc;
	int in_flight;
	int dirty;
};

struct config_json *config_json_new(const struct host_services *svc)
{
	struct config_json *cj = calloc(1, sizeof *cj);
	if (cj)
		cj->svc = svc;
	return cj;
}

int config_json_entry_check(const char *plugin, const char *text, char *key, size_t keylen)
{
	size_t len = text ? strlen(text) : 0;
	if (!plugin || !text || !key || !keylen)
		return LAB_EINVAL;
	if (len > CONFIG_JSON_ENTRY_MAX)
		return LAB_ERANGE;
	json_tokener *tok = json_tokener_new_ex(PARSE_DEPTH);
	if (!tok)
		return LAB_ENOMEM;
	/* Strict (no trailing commas, ...); whatever json-c accepts is written
	 * back re-serialised, so config.json is always valid JSON. */
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	json_object *o = json_tokener_parse_ex(tok, text, (int)len);
	int ok = o && json_tokener_get_error(tok) == json_tokener_success &&
		 json_object_is_type(o, json_type_object);
	if (ok) { /* one object, then only white space */
		for (size_t i = json_tokener_get_parse_end(tok); i < len; i++)
			if (!strchr(" \t\r\n", text[i]))
				ok = 0;
	}
	json_tokener_free(tok);
	if (!ok) {
		json_object_put(o);
		return LAB_EPARSE;
	}
	json_object *pp = NULL;
	const char *k = plugin;
	if (json_object_object_get_ex(o, "path_prefix", &pp) && json_object_is_type(pp, json_type_string) &&
	    json_object_get_string_len(pp) > 0)
		k = json_object_get_string(pp);
	int rc = strlen(k) < keylen ? 0 : LAB_ERANGE;
	if (rc == 0)
		memcpy(key, k, strlen(k) + 1);
	json_object_put(o);
	return rc;
}

static int record(struct config_json *cj, const char *plugin, const char *text)
{
	char key[MODULE_KEY_MAX];
	int rc = config_json_entry_check(plugin, text, key, sizeof key);
	if (rc < 0)
		return rc;
	json_object *o = json_tokener_parse(text); /* checked above */
	if (!o)
		return LAB_ENOMEM;
	struct entry *e = NULL;
	for (size_t i = 0; i < cj->n; i++)
		if (strcmp(cj->v[i].plugin, plugin) == 0)
			e = &cj->v[i];
	if (!e) {
		struct entry *nv = realloc(cj->v, (cj->n + 1) * sizeof *nv);
		if (!nv) {
			json_object_put(o);
			return LAB_ENOMEM;
		}
		cj->v = nv;
		e = &cj->v[cj->n];
		memset(e, 0, sizeof *e);
		if (!(e->plugin = strdup(plugin))) {
			json_object_put(o);
			return LAB_ENOMEM;
		}
		cj->n++;
	}
	char *k = strdup(key);
	if (!k) {
		json_object_put(o);
		return LAB_ENOMEM;
	}
	for (size_t i = 0; i < cj->n; i++)
		if (&cj->v[i] != e && cj->v[i].key && strcmp(cj->v[i].key, key) == 0)
			log_kv(LAB_LOG_WARN, plugin,
			       "config.json: module key used by another plugin too; the last one wins",
			       LAB_FS("key", key), LAB_FS("other", cj->v[i].plugin));
	free(e->key);
	json_object_put(e->obj);
	e->key = k;
	e->obj = o;
	return 0;
}

void config_json_free(struct config_json *cj)
{
	if (!cj)
		return;
	for (size_t i = 0; i < cj->n; i++) {
		free(cj->v[i].plugin);
		free(cj->v[i].key);
		json_object_put(cj->v[i].obj);
	}
	free(cj->v);
	free(cj);
}

/* json_object_object_add takes ownership; NULL values are refused. */
static int add(json_object *to, const char *k, json_object *v)
{
	if (!v)
		return LAB_ENOMEM;
	if (json_object_object_add(to, k, v) != 0) {
		json_object_put(v);
		return LAB_ENOMEM;
	}
	return 0;
}

/* {CLIENT: VERSION} of `fork` from ethereum.networks[].min_client_versions
 * ({} when none is configured).  Forks the network's config.yaml does not
 * schedule have no epoch and are not listed in config.json at all. */
static json_object *min_versions_json(const lab_network *net, const char *fork)
{
	json_object *o = json_object_new_object();
	for (size_t i = 0; o && i < network_min_version_count(net); i++) {
		const char *f, *client, *version;
		if (network_min_version_at(net, i, &f, &client, &version) == 0 &&
		    strcmp(f, fork) == 0 && add(o, client, json_object_new_string(version)) < 0) {
			json_object_put(o);
			return NULL;
		}
	}
	return o;
}

static json_object *network_json(const lab_network *net)
{
	json_object *o = json_object_new_object(), *forks = json_object_new_object(),
		    *cons = json_object_new_object();
	int rc = o && forks && cons ? 0 : LAB_ENOMEM;
	if (rc == 0)
		rc = add(o, "genesis_time", json_object_new_int64(network_genesis_time(net)));
	for (size_t i = 0; rc == 0 && i < network_fork_count(net); i++) {
		const char *name;
		uint64_t epoch;
		network_fork_at(net, i, &name, &epoch);
		json_object *f = json_object_new_object();
		if (!f) {
			rc = LAB_ENOMEM;
			break;
		}
		rc = add(f, "min_client_versions", min_versions_json(net, name));
		if (rc == 0)
			rc = add(f, "epoch", json_object_new_int64((int64_t)epoch));
		if (rc == 0)
			rc = add(cons, name, f);
		else
			json_object_put(f);
	}
	if (rc == 0) {
		rc = add(forks, "consensus", cons);
		cons = NULL;
	}
	if (rc == 0) {
		rc = add(o, "forks", forks);
		forks = NULL;
	}
	json_object_put(cons);
	json_object_put(forks);
	if (rc) {
		json_object_put(o);
		return NULL;
	}
	return o;
}

int config_json_build(const struct config_json *cj, const struct networks *nets, struct buf *out)
{
	json_object *root = json_object_new_object(), *mods = json_object_new_object(),
		    *eth = json_object_new_object(), *nws = json_object_new_object();
	int rc = root && mods && eth && nws ? 0 : LAB_ENOMEM;
	for (size_t i = 0; rc == 0 && cj && i < cj->n; i++)
		rc = add(mods, cj->v[i].key, json_object_get(cj->v[i].obj));
	for (size_t i = 0; rc == 0 && i < networks_count(nets); i++) {
		const lab_network *net = networks_at(nets, i);
		rc = add(nws, network_name(net), network_json(net));
	}
	if (rc == 0) {
		rc = add(root, "modules", mods);
		mods = NULL;
	}
	if (rc == 0) {
		rc = add(eth, "networks", nws);
		nws = NULL;
	}
	if (rc == 0) {
		rc = add(root, "ethereum", eth);
		eth = NULL;
	}
	if (rc == 0) {
		size_t len = 0;
		const char *s = json_object_to_json_string_length(root, JSON_C_TO_STRING_PLAIN, &len);
		if (!s)
			rc = LAB_ENOMEM;
		else
			buf_append(out, s, len);
		if (out->oom)
			rc = LAB_ENOMEM;
	}
	json_object_put(mods);
	json_object_put(nws);
	json_object_put(eth);
	json_object_put(root);
	return rc;
}

static void write_now(struct config_json *cj);

static void written(int status, const void *data, size_t len, void *ud)
{
	struct config_json *cj = ud;
	cj->in_flight = 0;
	if (status < 0)
		log_kv(LAB_LOG_ERROR, NULL, "cannot write config.json",
		       LAB_FS("error", lab_strerror(status)));
	else
		log_kv(LAB_LOG_DEBUG, NULL, "config.json written", LAB_FI("modules", cj->n));
	if (cj->dirty)
		write_now(cj);
}

static void write_now(struct config_json *cj)
{
	const struct host_services *svc = cj->svc;
	struct buf b = BUF_INIT;
	cj->dirty = 0;
	if (!svc || !svc->storage)
		return;
	int rc = config_json_build(cj, svc->nets, &b);
	if (rc == 0)
		rc = storage_put(svc->storage, NULL, KEY, b.data, b.len, "application/json",
				 CACHE_CONTROL, LAB_PUT_ATOMIC, written, cj, NULL);
	buf_free(&b);
	if (rc < 0) {
		log_kv(LAB_LOG_ERROR, NULL, "cannot write config.json", LAB_FS("error", lab_strerror(rc)));
		return;
	}
	cj->in_flight = 1;
}

void config_json_plugin_ready(struct config_json *cj, struct slot *s)
{
	if (!cj || !s || !s->inst || !cj->svc || !cj->svc->storage)
		return;
	const lab_plugin *desc = s->inst->desc;
	if (desc->describe) {
		const char *text;
		CRASH_CALL(s->name, "describe", text = desc->describe(s->inst->self));
		if (text) {
			int rc = record(cj, s->name, text);
			if (rc < 0)
				log_kv(LAB_LOG_WARN, s->name,
				       "describe did not return a JSON object; no config.json entry",
				       LAB_FS("error", lab_strerror(rc)));
		}
	}
	if (cj->in_flight)
		cj->dirty = 1;
	else
		write_now(cj);
}
