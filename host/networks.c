/* Ethereum networks: slot timing and fork epochs from each network's
 * consensus config.yaml (libyaml event API; only the top-level keys we need
 * are read, everything else is skipped whatever its shape), plus the
 * validator-set entity ranges from labd.conf. */
#include "networks.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <yaml.h>

#include "buf.h"

#define DEFAULT_SECONDS_PER_SLOT 12
#define DEFAULT_SLOTS_PER_EPOCH 32
#define FORK_SUFFIX "_FORK_EPOCH"
#define FORK_NAME_MAX 32
#define MAX_FORKS 64
#define MAX_DEPTH 64
#define MAX_FILE (4u << 20)
/* Fork epochs from here on mean "not scheduled" (the configs use 2**64-1). */
#define FAR_FUTURE (UINT64_C(1) << 63)

struct lab_network {
	char *name;
	int64_t genesis_time;
	uint32_t seconds_per_slot;
	uint32_t slots_per_epoch;
	char **fork_names; /* activation order */
	uint64_t *fork_epochs;
	size_t n_forks;
	struct validator_range *ranges; /* sorted by lo, non-overlapping */
	size_t n_ranges;
	struct client_version *min_versions; /* ethereum.networks[].min_client_versions */
	size_t n_min_versions;
	char *config_url; /* while its config.yaml is still to be fetched */
};

struct networks {
	struct lab_network *v;
	size_t n;
};

/* ---- the config.yaml parser ------------------------------------------ */

struct fork {
	char *name;
	uint64_t epoch;
};

struct parse {
	const char *file;
	char *err;
	size_t errlen;
	int have_sps, have_spe, have_slot_ms;
	uint64_t sps, spe, slot_ms;
	size_t slot_ms_line;
	struct fork forks[MAX_FORKS];
	size_t n_forks;
};

/* Decimal or 0x-hex, the whole string, no sign, no overflow. */
static int parse_u64(const char *s, uint64_t *out)
{
	uint64_t v = 0;
	int base = 10;
	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		base = 16;
		s += 2;
	}
	if (!*s)
		return 0;
	for (; *s; s++) {
		unsigned d;
		if (*s >= '0' && *s <= '9')
			d = (unsigned)(*s - '0');
		else if (base == 16 && *s >= 'a' && *s <= 'f')
			d = (unsigned)(*s - 'a' + 10);
		else if (base == 16 && *s >= 'A' && *s <= 'F')
			d = (unsigned)(*s - 'A' + 10);
		else
			return 0;
		if (v > (UINT64_MAX - d) / (uint64_t)base)
			return 0;
		v = v * (uint64_t)base + d;
	}
	*out = v;
	return 1;
}

static int perr(struct parse *ps, size_t line, int rc, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static int perr(struct parse *ps, size_t line, int rc, const char *fmt, ...)
{
	if (ps->err && ps->errlen) {
		int n = line ? snprintf(ps->err, ps->errlen, "%s:%zu: ", ps->file, line)
			     : snprintf(ps->err, ps->errlen, "%s: ", ps->file);
		if (n >= 0 && (size_t)n < ps->errlen) {
			va_list ap;
			va_start(ap, fmt);
			vsnprintf(ps->err + n, ps->errlen - (size_t)n, fmt, ap);
			va_end(ap);
		}
	}
	return rc;
}

/* "DENEB" of "DENEB_FORK_EPOCH" lower-cased into out; 0 if key is not a fork key. */
static int fork_key(const char *key, char out[FORK_NAME_MAX + 1])
{
	size_t kl = strlen(key), sl = strlen(FORK_SUFFIX);
	if (kl <= sl || strcmp(key + kl - sl, FORK_SUFFIX) != 0 || kl - sl > FORK_NAME_MAX)
		return 0;
	for (size_t i = 0; i < kl - sl; i++) {
		char c = key[i];
		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		else if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'))
			return 0;
		out[i] = c;
	}
	out[kl - sl] = '\0';
	return 1;
}

static int add_fork(struct parse *ps, const char *name, uint64_t epoch, size_t line)
{
	for (size_t i = 0; i < ps->n_forks; i++) {
		if (strcmp(ps->forks[i].name, name) == 0) {
			ps->forks[i].epoch = epoch; /* a repeated key: the last one wins */
			return 0;
		}
	}
	if (ps->n_forks == MAX_FORKS)
		return perr(ps, line, LAB_ERANGE, "more than %d fork epochs", MAX_FORKS);
	char *dup = strdup(name);
	if (!dup)
		return perr(ps, 0, LAB_ENOMEM, "out of memory");
	ps->forks[ps->n_forks].name = dup;
	ps->forks[ps->n_forks].epoch = epoch;
	ps->n_forks++;
	return 0;
}

/* One top-level key with its value (NULL when the value is not a scalar). */
static int handle_pair(struct parse *ps, const char *key, const char *val, size_t line)
{
	char fork[FORK_NAME_MAX + 1];
	uint64_t v;
	int is_sps = strcmp(key, "SECONDS_PER_SLOT") == 0;
	int is_spe = strcmp(key, "SLOTS_PER_EPOCH") == 0;
	int is_ms = strcmp(key, "SLOT_DURATION_MS") == 0;
	int is_fork = fork_key(key, fork);

	if (!is_sps && !is_spe && !is_ms && !is_fork)
		return 0;
	if (!val || !parse_u64(val, &v))
		return perr(ps, line, LAB_EPARSE, "%s: expected an unsigned integer", key);
	if (is_sps || is_spe) {
		if (v == 0 || v > UINT32_MAX)
			return perr(ps, line, LAB_ERANGE, "%s: must be between 1 and %u", key,
				    (unsigned)UINT32_MAX);
		if (is_sps) {
			ps->sps = v;
			ps->have_sps = 1;
		} else {
			ps->spe = v;
			ps->have_spe = 1;
		}
		return 0;
	}
	if (is_ms) {
		ps->slot_ms = v;
		ps->slot_ms_line = line;
		ps->have_slot_ms = 1;
		return 0;
	}
	if (v >= FAR_FUTURE)
		return 0;
	return add_fork(ps, fork, v, line);
}

static int fork_cmp(const void *a, const void *b)
{
	const struct fork *x = a, *y = b;
	if (x->epoch != y->epoch)
		return x->epoch < y->epoch ? -1 : 1;
	return strcmp(x->name, y->name);
}

/* Walks the event stream of the first document, whose root must be a
 * mapping.  Only depth-1 key/value pairs are looked at. */
static int walk(struct parse *ps, yaml_parser_t *p)
{
	int depth = 0, want_key = 1, key_ok = 0, root_seen = 0;
	char key[64];
	size_t key_line = 0;

	for (;;) {
		yaml_event_t ev;
		if (!yaml_parser_parse(p, &ev)) {
			if (p->error == YAML_MEMORY_ERROR)
				return perr(ps, 0, LAB_ENOMEM, "out of memory");
			return perr(ps, p->problem_mark.line + 1, LAB_EPARSE,
				    "invalid YAML: %s%s%s", p->problem ? p->problem : "syntax error",
				    p->context ? " " : "", p->context ? p->context : "");
		}
		size_t line = ev.start_mark.line + 1;
		int rc = 0, node_done = 0, scalar = 0, done = 0;
		const char *val = NULL;

		switch (ev.type) {
		case YAML_STREAM_END_EVENT:
		case YAML_DOCUMENT_END_EVENT:
			done = 1;
			break;
		case YAML_MAPPING_START_EVENT:
		case YAML_SEQUENCE_START_EVENT:
			if (depth == 0 && ev.type == YAML_SEQUENCE_START_EVENT)
				rc = perr(ps, line, LAB_EPARSE, "expected a mapping of settings");
			else if (depth == MAX_DEPTH)
				rc = perr(ps, line, LAB_EPARSE, "nesting deeper than %d",
					  MAX_DEPTH);
			if (depth == 0)
				root_seen = 1;
			depth++;
			break;
		case YAML_MAPPING_END_EVENT:
		case YAML_SEQUENCE_END_EVENT:
			depth--;
			node_done = depth == 1;
			done = depth == 0;
			break;
		case YAML_SCALAR_EVENT:
		case YAML_ALIAS_EVENT:
			if (depth == 0) {
				rc = perr(ps, line, LAB_EPARSE, "expected a mapping of settings");
				break;
			}
			node_done = depth == 1;
			scalar = ev.type == YAML_SCALAR_EVENT;
			if (scalar)
				val = (const char *)ev.data.scalar.value;
			break;
		default:
			break;
		}
		if (rc == 0 && node_done) {
			if (want_key) {
				key_ok = scalar && strlen(val) < sizeof key;
				if (key_ok)
					memcpy(key, val, strlen(val) + 1);
				key_line = line;
			} else if (key_ok) {
				/* The value's own line, but the key's for a block value. */
				rc = handle_pair(ps, key, scalar ? val : NULL,
						 scalar ? line : key_line);
			}
			want_key = !want_key;
		}
		yaml_event_delete(&ev);
		if (rc)
			return rc;
		if (done)
			break;
	}
	if (!root_seen)
		return perr(ps, 0, LAB_EPARSE, "empty document: expected a mapping of settings");
	return 0;
}

int networks_parse_yaml(const char *text, size_t len, const char *file, uint32_t *seconds_per_slot,
			uint32_t *slots_per_epoch, char ***fork_names, uint64_t **fork_epochs,
			size_t *n_forks, char *err, size_t errlen)
{
	struct parse ps = { .file = file ? file : "<yaml>", .err = err, .errlen = errlen };
	yaml_parser_t p;
	int rc;

	if (err && errlen)
		err[0] = '\0';
	if (!seconds_per_slot || !slots_per_epoch || !fork_names || !fork_epochs || !n_forks ||
	    (!text && len))
		return LAB_EINVAL;
	*fork_names = NULL;
	*fork_epochs = NULL;
	*n_forks = 0;
	if (!yaml_parser_initialize(&p))
		return perr(&ps, 0, LAB_ENOMEM, "out of memory");
	yaml_parser_set_input_string(&p, (const unsigned char *)(text ? text : ""), len);
	rc = walk(&ps, &p);
	yaml_parser_delete(&p);

	if (rc == 0 && !ps.have_sps && ps.have_slot_ms) {
		/* Newer configs deprecate SECONDS_PER_SLOT for SLOT_DURATION_MS. */
		if (ps.slot_ms == 0 || ps.slot_ms % 1000 || ps.slot_ms / 1000 > UINT32_MAX)
			rc = perr(&ps, ps.slot_ms_line, LAB_ERANGE,
				  "SLOT_DURATION_MS: only whole seconds are supported");
		ps.sps = ps.slot_ms / 1000;
		ps.have_sps = 1;
	}
	if (rc == 0) {
		int have_phase0 = 0;
		for (size_t i = 0; i < ps.n_forks; i++)
			have_phase0 |= strcmp(ps.forks[i].name, "phase0") == 0;
		if (!have_phase0)
			rc = add_fork(&ps, "phase0", 0, 0);
	}
	if (rc == 0) {
		qsort(ps.forks, ps.n_forks, sizeof ps.forks[0], fork_cmp);
		*fork_names = malloc(ps.n_forks * sizeof **fork_names);
		*fork_epochs = malloc(ps.n_forks * sizeof **fork_epochs);
		if (!*fork_names || !*fork_epochs) {
			free(*fork_names);
			free(*fork_epochs);
			*fork_names = NULL;
			*fork_epochs = NULL;
			rc = perr(&ps, 0, LAB_ENOMEM, "out of memory");
		}
	}
	if (rc) {
		for (size_t i = 0; i < ps.n_forks; i++)
			free(ps.forks[i].name);
		return rc;
	}
	for (size_t i = 0; i < ps.n_forks; i++) {
		(*fork_names)[i] = ps.forks[i].name;
		(*fork_epochs)[i] = ps.forks[i].epoch;
	}
	*n_forks = ps.n_forks;
	*seconds_per_slot = ps.have_sps ? (uint32_t)ps.sps : DEFAULT_SECONDS_PER_SLOT;
	*slots_per_epoch = ps.have_spe ? (uint32_t)ps.spe : DEFAULT_SLOTS_PER_EPOCH;
	return 0;
}

/* ---- loading ---------------------------------------------------------- */

static int read_file(const char *path, char **out, size_t *len, char *err, size_t errlen)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
		return LAB_EIO;
	}
	struct buf b = BUF_INIT;
	int rc = 0;
	for (;;) {
		if (buf_reserve(&b, 16384) < 0) {
			snprintf(err, errlen, "%s: out of memory", path);
			rc = LAB_ENOMEM;
			break;
		}
		size_t r = fread(b.data + b.len, 1, b.cap - b.len - 1, f);
		b.len += r;
		b.data[b.len] = '\0';
		if (b.len > MAX_FILE) {
			snprintf(err, errlen, "%s: larger than %u bytes", path, MAX_FILE);
			rc = LAB_ERANGE;
			break;
		}
		if (r == 0) {
			if (ferror(f)) {
				snprintf(err, errlen, "%s: read error", path);
				rc = LAB_EIO;
			}
			break;
		}
	}
	fclose(f);
	if (rc) {
		buf_free(&b);
		return rc;
	}
	*out = buf_steal(&b, len);
	return 0;
}

static int range_cmp(const void *a, const void *b)
{
	const struct validator_range *x = a, *y = b;
	if (x->lo != y->lo)
		return x->lo < y->lo ? -1 : 1;
	return x->hi < y->hi ? -1 : x->hi > y->hi;
}

/* "FILE:LINE: " of the network's entry in labd.conf, if known. */
static const char *conf_where(const struct network_conf *nc, char *buf, size_t len)
{
	const char *file = nc->node ? config_setting_source_file(nc->node) : NULL;
	unsigned line = nc->node ? config_setting_source_line(nc->node) : 0;
	if (file && line)
		snprintf(buf, len, "%s:%u: ", file, line);
	else if (file)
		snprintf(buf, len, "%s: ", file);
	else
		buf[0] = '\0';
	return buf;
}

static int load_ranges(struct lab_network *net, const struct network_conf *nc, char *err,
		       size_t errlen)
{
	char where[300];
	if (!nc->n_validators)
		return 0;
	net->ranges = calloc(nc->n_validators, sizeof *net->ranges);
	if (!net->ranges)
		goto oom;
	for (size_t i = 0; i < nc->n_validators; i++) {
		const struct validator_range *r = &nc->validators[i];
		if (r->lo > r->hi || !r->entity) {
			snprintf(err, errlen, "%snetwork '%s': bad validator range",
				 conf_where(nc, where, sizeof where), net->name);
			return LAB_ECONFIG;
		}
		net->ranges[i].lo = r->lo;
		net->ranges[i].hi = r->hi;
		if (!(net->ranges[i].entity = strdup(r->entity)))
			goto oom;
		net->n_ranges = i + 1;
	}
	qsort(net->ranges, net->n_ranges, sizeof *net->ranges, range_cmp);
	for (size_t i = 1; i < net->n_ranges; i++) {
		const struct validator_range *a = &net->ranges[i - 1], *b = &net->ranges[i];
		if (b->lo <= a->hi) {
			snprintf(err, errlen,
				 "%snetwork '%s': validator ranges %llu-%llu (%s) and "
				 "%llu-%llu (%s) overlap",
				 conf_where(nc, where, sizeof where), net->name,
				 (unsigned long long)a->lo, (unsigned long long)a->hi, a->entity,
				 (unsigned long long)b->lo, (unsigned long long)b->hi, b->entity);
			return LAB_ECONFIG;
		}
	}
	return 0;
oom:
	snprintf(err, errlen, "out of memory");
	return LAB_ENOMEM;
}

static int load_one(struct lab_network *net, const struct network_conf *nc, char *err,
		    size_t errlen)
{
	char where[300];
	if (!nc->name) {
		snprintf(err, errlen, "%snetwork without a name",
			 conf_where(nc, where, sizeof where));
		return LAB_ECONFIG;
	}
	if (!(net->name = strdup(nc->name))) {
		snprintf(err, errlen, "out of memory");
		return LAB_ENOMEM;
	}
	net->genesis_time = nc->genesis_time;
	net->seconds_per_slot = DEFAULT_SECONDS_PER_SLOT;
	net->slots_per_epoch = DEFAULT_SLOTS_PER_EPOCH;

	if (nc->config_file) {
		char *text, perr_buf[512];
		size_t len;
		int rc = read_file(nc->config_file, &text, &len, perr_buf, sizeof perr_buf);
		if (rc == 0) {
			rc = networks_parse_yaml(text, len, nc->config_file, &net->seconds_per_slot,
						 &net->slots_per_epoch, &net->fork_names,
						 &net->fork_epochs, &net->n_forks, perr_buf,
						 sizeof perr_buf);
			free(text);
		}
		if (rc) {
			snprintf(err, errlen, "network '%s': %s", net->name, perr_buf);
			return rc;
		}
	} else if (nc->config_url) {
		/* Fetched later by networks_fetch_urls (networks_url.c), once
		 * storage (its cache) is open. */
		if (!(net->config_url = strdup(nc->config_url))) {
			snprintf(err, errlen, "out of memory");
			return LAB_ENOMEM;
		}
	}
	if (nc->n_min_versions &&
	    !(net->min_versions = calloc(nc->n_min_versions, sizeof *net->min_versions))) {
		snprintf(err, errlen, "out of memory");
		return LAB_ENOMEM;
	}
	for (size_t i = 0; i < nc->n_min_versions; i++) {
		struct client_version *cv = &net->min_versions[i];
		cv->fork = strdup(nc->min_versions[i].fork);
		cv->client = strdup(nc->min_versions[i].client);
		cv->version = strdup(nc->min_versions[i].version);
		net->n_min_versions = i + 1;
		if (!cv->fork || !cv->client || !cv->version) {
			snprintf(err, errlen, "out of memory");
			return LAB_ENOMEM;
		}
	}
	return load_ranges(net, nc, err, errlen);
}

static void network_clear(struct lab_network *net)
{
	free(net->name);
	for (size_t i = 0; i < net->n_forks; i++)
		free(net->fork_names[i]);
	free(net->fork_names);
	free(net->fork_epochs);
	validator_ranges_free(net->ranges, net->n_ranges);
	client_versions_free(net->min_versions, net->n_min_versions);
	free(net->config_url);
}

void networks_free(struct networks *n)
{
	if (!n)
		return;
	for (size_t i = 0; i < n->n; i++)
		network_clear(&n->v[i]);
	free(n->v);
	free(n);
}

int networks_load(const struct host_conf *hc, struct networks **out, char *err, size_t errlen)
{
	char dummy[1];
	if (!err || !errlen) {
		err = dummy;
		errlen = sizeof dummy;
	}
	err[0] = '\0';
	if (!out)
		return LAB_EINVAL;
	*out = NULL;
	struct networks *n = calloc(1, sizeof *n);
	size_t count = hc ? hc->n_networks : 0;
	if (!n || (count && !(n->v = calloc(count, sizeof *n->v)))) {
		free(n);
		snprintf(err, errlen, "out of memory");
		return LAB_ENOMEM;
	}
	for (size_t i = 0; i < count; i++) {
		n->n = i + 1;
		int rc = load_one(&n->v[i], &hc->networks[i], err, errlen);
		if (rc) {
			networks_free(n);
			return rc;
		}
	}
	*out = n;
	return 0;
}

/* ---- getters ---------------------------------------------------------- */

size_t networks_count(const struct networks *n) { return n ? n->n : 0; }

const lab_network *networks_at(const struct networks *n, size_t i)
{
	return n && i < n->n ? &n->v[i] : NULL;
}

const lab_network *networks_find(const struct networks *n, const char *name)
{
	if (!n || !name)
		return NULL;
	for (size_t i = 0; i < n->n; i++)
		if (strcmp(n->v[i].name, name) == 0)
			return &n->v[i];
	return NULL;
}

const char *network_name(const lab_network *net) { return net ? net->name : NULL; }
int64_t network_genesis_time(const lab_network *net) { return net ? net->genesis_time : 0; }

uint32_t network_seconds_per_slot(const lab_network *net)
{
	return net ? net->seconds_per_slot : 0;
}

uint32_t network_slots_per_epoch(const lab_network *net) { return net ? net->slots_per_epoch : 0; }

int network_fork_epoch(const lab_network *net, const char *fork, uint64_t *epoch)
{
	if (!net || !fork || !epoch)
		return LAB_EINVAL;
	for (size_t i = 0; i < net->n_forks; i++) {
		if (strcasecmp(net->fork_names[i], fork) == 0) {
			*epoch = net->fork_epochs[i];
			return 0;
		}
	}
	return LAB_ENOENT;
}

const char *network_entity(const lab_network *net, uint64_t index)
{
	if (!net || !net->n_ranges)
		return NULL;
	/* The last range with lo <= index. */
	size_t lo = 0, hi = net->n_ranges;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (net->ranges[mid].lo <= index)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == 0)
		return NULL;
	const struct validator_range *r = &net->ranges[lo - 1];
	return index <= r->hi ? r->entity : NULL;
}

size_t network_fork_count(const lab_network *net) { return net ? net->n_forks : 0; }

const char *network_pending_url(const lab_network *net) { return net ? net->config_url : NULL; }

int networks_apply_yaml(struct networks *n, size_t i, const char *text, size_t len,
			const char *file, char *err, size_t errlen)
{
	uint32_t sps, spe;
	char **names;
	uint64_t *epochs;
	size_t nf;
	if (!n || i >= n->n)
		return LAB_EINVAL;
	if (len > MAX_FILE) {
		snprintf(err, errlen, "%s: larger than %u bytes", file ? file : "<yaml>", MAX_FILE);
		return LAB_ERANGE;
	}
	int rc = networks_parse_yaml(text, len, file, &sps, &spe, &names, &epochs, &nf, err, errlen);
	if (rc)
		return rc;
	struct lab_network *net = &n->v[i];
	for (size_t k = 0; k < net->n_forks; k++)
		free(net->fork_names[k]);
	free(net->fork_names);
	free(net->fork_epochs);
	net->fork_names = names;
	net->fork_epochs = epochs;
	net->n_forks = nf;
	net->seconds_per_slot = sps;
	net->slots_per_epoch = spe;
	free(net->config_url);
	net->config_url = NULL;
	return 0;
}

int network_fork_at(const lab_network *net, size_t i, const char **name, uint64_t *epoch)
{
	if (!net)
		return LAB_EINVAL;
	if (i >= net->n_forks)
		return LAB_ERANGE;
	if (name)
		*name = net->fork_names[i];
	if (epoch)
		*epoch = net->fork_epochs[i];
	return 0;
}

size_t network_min_version_count(const lab_network *net) { return net ? net->n_min_versions : 0; }

int network_min_version_at(const lab_network *net, size_t i, const char **fork,
			   const char **client, const char **version)
{
	if (!net || i >= net->n_min_versions)
		return LAB_EINVAL;
	*fork = net->min_versions[i].fork;
	*client = net->min_versions[i].client;
	*version = net->min_versions[i].version;
	return 0;
}
