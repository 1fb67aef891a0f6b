/* A metrics registry: one sorted list of series per family, each series one
 * small allocation holding its label values, rendered as Prometheus text 0.0.4.
 * Each registry is an object; nothing here is process-wide. */
#include "metrics.h"

#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

#define MAX_LABELS 3
#define MAX_LABEL_LEN 255
#define MAX_KEY (MAX_LABELS * (MAX_LABEL_LEN + 1))
#define NBUCKETS 13

enum mtype { MT_GAUGE, MT_COUNTER, MT_HISTOGRAM };

struct family {
	const char *name;
	const char *help;
	enum mtype type;
	unsigned nlabels;
	const char *labels[MAX_LABELS];
};

static const struct family families[M_COUNT] = {
	[M_UP] = { "lab_up", "1 while the daemon is running.", MT_GAUGE, 0, { NULL } },
	[M_BUILD_INFO] = { "lab_build_info", "Build information; the value is always 1.",
			   MT_GAUGE, 1, { "version" } },
	[M_PLUGIN_STATE] = { "lab_plugin_state",
			     "1 for the state a plugin is in, 0 for the other states.",
			     MT_GAUGE, 2, { "plugin", "state" } },
	[M_PLUGIN_RELOADS] = { "lab_plugin_reloads_total", "Plugin hot reloads by result.",
			       MT_COUNTER, 2, { "plugin", "result" } },
	[M_TIMER_FIRES] = { "lab_timer_fires_total", "Plugin timer callbacks run.",
			    MT_COUNTER, 1, { "plugin" } },
	[M_CH_QUERIES] = { "lab_clickhouse_queries_total", "ClickHouse queries by result.",
			   MT_COUNTER, 2, { "plugin", "result" } },
	[M_CH_QUERY_SECONDS] = { "lab_clickhouse_query_seconds",
				 "ClickHouse query duration in seconds.",
				 MT_HISTOGRAM, 1, { "plugin" } },
	[M_CH_ROWS] = { "lab_clickhouse_rows_total", "Rows received from ClickHouse.",
			MT_COUNTER, 1, { "plugin" } },
	[M_STORAGE_OPS] = { "lab_storage_ops_total", "Storage operations by operation and result.",
			    MT_COUNTER, 3, { "plugin", "op", "result" } },
	[M_STORAGE_BYTES] = { "lab_storage_bytes_total", "Bytes written to or read from storage.",
			      MT_COUNTER, 2, { "plugin", "op" } },
	[M_BROKER_MESSAGES] = { "lab_broker_messages_total", "Broker messages by direction.",
				MT_COUNTER, 2, { "plugin", "direction" } },
	[M_BROKER_DROPPED] = { "lab_broker_dropped_total", "Broker events that could not be sent.",
			       MT_COUNTER, 1, { "plugin" } },
	[M_STATE_FLUSHES] = { "lab_state_flushes_total", "Durable state flushes by result.",
			      MT_COUNTER, 1, { "result" } },
	[M_STATE_CORRUPT] = { "lab_state_corrupt_total",
			      "Corrupt state files moved aside (the plugin started fresh).",
			      MT_COUNTER, 1, { "plugin" } },
	[M_STATE_OPS] = { "lab_state_ops_total",
			  "Storage operations on durable plugin state by operation and result.",
			  MT_COUNTER, 3, { "plugin", "op", "result" } },
	[M_STATE_BYTES] = { "lab_state_bytes_total",
			    "Bytes of durable plugin state written to or read from storage.",
			    MT_COUNTER, 2, { "plugin", "op" } },
	[M_PLUGIN_RETRIES] = { "lab_plugin_retries_total",
			       "Automatic restarts of a failed plugin (transient failures).",
			       MT_COUNTER, 1, { "plugin" } },
	[M_CONFIG_RELOADS] = { "lab_config_reloads_total",
			       "Configuration reloads (SIGHUP) by result: ok or error (nothing changed).",
			       MT_COUNTER, 1, { "result" } },
	[M_HTTP_REQUESTS] = { "lab_http_requests_total",
			      "Requests answered by the public HTTP listener, by plugin, route and status "
			      "(plugin and route empty for requests refused before routing).",
			      MT_COUNTER, 3, { "plugin", "route", "code" } },
	[M_HTTP_SECONDS] = { "lab_http_request_duration_seconds",
			     "Time from a request's head to its answer being queued, in seconds.",
			     MT_HISTOGRAM, 2, { "plugin", "route" } },
	[M_HTTP_CONNECTIONS] = { "lab_http_connections",
				 "Open connections of the public HTTP listener (streams included).",
				 MT_GAUGE, 0, { NULL } },
	[M_HTTP_STREAMS] = { "lab_http_streams", "Open SSE and WebSocket streams.",
			     MT_GAUGE, 2, { "plugin", "kind" } },
	[M_HTTP_SLOW_DROPS] = { "lab_http_slow_client_drops_total",
				"Streams closed because the client did not read fast enough.",
				MT_COUNTER, 2, { "plugin", "kind" } },
	[M_HTTP_REJECTED] = { "lab_http_rejected_total",
			      "Requests or connections refused before any plugin saw them, by reason.",
			      MT_COUNTER, 1, { "reason" } },
	[M_CLUSTER_UP] = { "lab_cluster_up",
			   "1 while the cluster key/value store answers (always 1 with backend none).",
			   MT_GAUGE, 0, { NULL } },
	[M_CLUSTER_LEASES_HELD] = { "lab_cluster_leases_held", "Cluster leases this daemon holds.",
				    MT_GAUGE, 1, { "plugin" } },
	[M_CLUSTER_LEASE_CHANGES] = { "lab_cluster_lease_changes_total",
				      "Cluster lease changes by event: acquired, lost, released.",
				      MT_COUNTER, 2, { "plugin", "event" } },
	[M_CLUSTER_CLAIMS_IN_FLIGHT] = { "lab_cluster_claims_in_flight",
					 "Cluster claims this daemon holds.", MT_GAUGE, 1,
					 { "plugin" } },
	[M_CLUSTER_CLAIMS] = { "lab_cluster_claims_total",
			       "Cluster claim requests by result: granted, busy, done, error.",
			       MT_COUNTER, 2, { "plugin", "result" } },
	[M_CLUSTER_CAS_CONFLICTS] = { "lab_cluster_cas_conflicts_total",
				      "Shared-state compare-and-set conflicts.", MT_COUNTER, 1,
				      { "plugin" } },
};

static const double bucket_le[NBUCKETS] = {
	0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60
};

static const char *const plugin_states[] = {
	"loaded", "running", "stopping", "failed", "disabled"
};

const char metric_label_end[] = "";

struct series {
	struct series *next;
	double value;      /* counter or gauge value; histogram: sum */
	uint64_t *hist;    /* histogram only: NBUCKETS per-bucket counts, then the total */
	uint16_t keylen;   /* bytes in key, NULs included */
	char key[];        /* label values in declared order, each NUL-terminated */
};

/* A family a plugin registered (ABI 1.2), exposed as lab_PLUGIN_NAME. */
struct metric_family {
	struct metric_family *next; /* sorted by name */
	char *owner;                /* the plugin's name */
	char *name;                 /* exposed: lab_PLUGIN_NAME */
	char *help;
	enum mtype type;
	unsigned nlabels;
	char *labels[LAB_METRIC_MAX_LABELS];
	struct series *series;
	unsigned nseries;
	int stale; /* not registered again since the plugin's hot reload began */
};

struct metrics {
	struct series *heads[M_COUNT];
	unsigned char warned[M_COUNT];
	double start_time; /* cached process_start_time_seconds; 0 = unknown */
	struct metric_family *plugin_families;
};

static void warn_once(struct metrics *m, enum metric_id id, const char *what)
{
	if (m->warned[id])
		return;
	m->warned[id] = 1;
	LOGW("metrics: %s: %s (ignored)", families[id].name, what);
}

static size_t put_label(char *key, size_t off, const char *v)
{
	size_t n = v ? strnlen(v, MAX_LABEL_LEN) : 0;
	if (n)
		memcpy(key + off, v, n);
	key[off + n] = '\0';
	return off + n + 1;
}

/* Reads exactly the family's labels up to the sentinel into key; -1 if the count differs. */
static int key_from_va(enum metric_id id, va_list ap, char *key, size_t *len)
{
	size_t off = 0;
	for (unsigned i = 0; i < families[id].nlabels; i++) {
		const char *v = va_arg(ap, const char *);
		if (v == metric_label_end)
			return -1;
		off = put_label(key, off, v);
	}
	if (va_arg(ap, const char *) != metric_label_end)
		return -1;
	*len = off;
	return 0;
}

static int key_cmp(const char *a, size_t alen, const char *b, size_t blen)
{
	int c = memcmp(a, b, alen < blen ? alen : blen);
	if (c)
		return c;
	return alen < blen ? -1 : alen > blen;
}

/* The series with this key in the list at *head; NULL if absent. */
static struct series *find_in(struct series **head, const char *key, size_t len,
			      struct series ***where)
{
	struct series **pp = head;
	for (; *pp; pp = &(*pp)->next) {
		int c = key_cmp((*pp)->key, (*pp)->keylen, key, len);
		if (c == 0)
			return *pp;
		if (c > 0)
			break;
	}
	*where = pp;
	return NULL;
}

/* A new series linked at *where (its sorted position); NULL: out of memory. */
static struct series *insert_at(struct series **where, int hist, const char *key, size_t len)
{
	struct series *s = calloc(1, sizeof(*s) + len);
	if (!s)
		return NULL;
	if (hist) {
		s->hist = calloc(NBUCKETS + 1, sizeof(*s->hist));
		if (!s->hist) {
			free(s);
			return NULL;
		}
	}
	memcpy(s->key, key, len);
	s->keylen = (uint16_t)len;
	s->next = *where;
	*where = s;
	return s;
}

/* The series with this key, created (in sorted position) when create is set. */
static struct series *lookup(struct metrics *m, enum metric_id id, const char *key, size_t len,
			     int create)
{
	struct series **where;
	struct series *s = find_in(&m->heads[id], key, len, &where);
	if (s || !create)
		return s;
	s = insert_at(where, families[id].type == MT_HISTOGRAM, key, len);
	if (!s)
		warn_once(m, id, "out of memory");
	return s;
}

static void series_free(struct series *s)
{
	free(s->hist);
	free(s);
}

static void do_update(struct metrics *m, enum metric_id id, double v, int set, va_list ap)
{
	char key[MAX_KEY];
	size_t len;
	if (!m || (unsigned)id >= M_COUNT)
		return;
	if (families[id].type == MT_HISTOGRAM) {
		warn_once(m, id, "add/set on a histogram");
		return;
	}
	if (key_from_va(id, ap, key, &len) < 0) {
		warn_once(m, id, "wrong number of labels");
		return;
	}
	if (v != v || (!set && families[id].type == MT_COUNTER && v < 0))
		return;
	struct series *s = lookup(m, id, key, len, 1);
	if (!s)
		return;
	s->value = set ? v : s->value + v;
}

void metric_add_l(struct metrics *m, enum metric_id id, double v, ...)
{
	va_list ap;
	va_start(ap, v);
	do_update(m, id, v, 0, ap);
	va_end(ap);
}

void metric_set_l(struct metrics *m, enum metric_id id, double v, ...)
{
	va_list ap;
	va_start(ap, v);
	do_update(m, id, v, 1, ap);
	va_end(ap);
}

/* One observation into a histogram series: its bucket, the total and the sum. */
static void observe(struct series *s, double v)
{
	unsigned i = 0;
	while (i < NBUCKETS && v > bucket_le[i])
		i++;
	if (i < NBUCKETS)
		s->hist[i]++;
	s->hist[NBUCKETS]++;
	s->value += v;
}

void metric_observe_l(struct metrics *m, enum metric_id id, double v, ...)
{
	char key[MAX_KEY];
	size_t len;
	va_list ap;
	if (!m || (unsigned)id >= M_COUNT)
		return;
	if (families[id].type != MT_HISTOGRAM) {
		warn_once(m, id, "observe on a counter or gauge");
		return;
	}
	va_start(ap, v);
	int bad = key_from_va(id, ap, key, &len);
	va_end(ap);
	if (bad) {
		warn_once(m, id, "wrong number of labels");
		return;
	}
	if (v != v)
		return;
	struct series *s = lookup(m, id, key, len, 1);
	if (s)
		observe(s, v);
}

double metric_get_l(struct metrics *m, enum metric_id id, ...)
{
	char key[MAX_KEY];
	size_t len;
	va_list ap;
	if (!m || (unsigned)id >= M_COUNT)
		return 0;
	va_start(ap, id);
	int bad = key_from_va(id, ap, key, &len);
	va_end(ap);
	if (bad) {
		warn_once(m, id, "wrong number of labels");
		return 0;
	}
	struct series *s = lookup(m, id, key, len, 0);
	if (!s)
		return 0;
	return s->hist ? (double)s->hist[NBUCKETS] : s->value;
}

void metrics_plugin_state(struct metrics *m, const char *plugin, const char *state)
{
	char key[MAX_KEY];
	if (!m)
		return;
	size_t plen = put_label(key, 0, plugin);
	int known = 0;
	for (size_t i = 0; i < sizeof(plugin_states) / sizeof(plugin_states[0]); i++) {
		int on = state && strcmp(state, plugin_states[i]) == 0;
		known |= on;
		size_t len = put_label(key, plen, plugin_states[i]);
		struct series *s = lookup(m, M_PLUGIN_STATE, key, len, 1);
		if (s)
			s->value = on;
	}
	if (!known)
		LOGD("metrics: unknown plugin state \"%s\"", state ? state : "(null)");
}

/* Index of the "plugin" label in family id, -1 if it has none. */
static int plugin_label(enum metric_id id)
{
	for (unsigned i = 0; i < families[id].nlabels; i++)
		if (strcmp(families[id].labels[i], "plugin") == 0)
			return (int)i;
	return -1;
}

static const char *key_label(const struct series *s, int idx)
{
	const char *p = s->key;
	while (idx-- > 0)
		p += strlen(p) + 1;
	return p;
}

void metrics_forget_plugin(struct metrics *m, const char *plugin)
{
	char name[MAX_LABEL_LEN + 1];
	if (!m)
		return;
	put_label(name, 0, plugin);
	for (int id = 0; id < M_COUNT; id++) {
		int idx = plugin_label(id);
		if (idx < 0)
			continue;
		struct series **pp = &m->heads[id];
		while (*pp) {
			struct series *s = *pp;
			if (strcmp(key_label(s, idx), name) == 0) {
				*pp = s->next;
				series_free(s);
			} else {
				pp = &s->next;
			}
		}
	}
}

/* ---------------------------------------------------------------- plugin families (ABI 1.2) */

#define PF_NAME_MAX 100  /* the plugin's part of a family name */
#define PF_LABEL_MAX 64  /* a label name */
#define PF_HELP_MAX 200

static void family_free(struct metric_family *f)
{
	while (f->series) {
		struct series *s = f->series;
		f->series = s->next;
		series_free(s);
	}
	for (unsigned i = 0; i < f->nlabels; i++)
		free(f->labels[i]);
	free(f->owner);
	free(f->name);
	free(f->help);
	free(f);
}

/* [a-zA-Z_][a-zA-Z0-9_]{0,max-1} */
static int ident_ok(const char *s, size_t max)
{
	size_t n = s ? strnlen(s, max + 1) : 0;
	if (n == 0 || n > max || (s[0] >= '0' && s[0] <= '9'))
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_'))
			return 0;
	}
	return 1;
}

/* One line of valid UTF-8 without control characters. */
static int help_ok(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n = strnlen(s, PF_HELP_MAX + 1);
	if (n > PF_HELP_MAX)
		return 0;
	for (size_t i = 0; i < n;) {
		size_t l;
		if ((l = utf8_text_seq(p + i, n - i)) == 0)
			return 0;
		i += l;
	}
	return 1;
}

/* Does exposed name `a` (of type ta) share a sample name with `b` (tb)? */
static int names_clash(const char *a, enum mtype ta, const char *b, enum mtype tb)
{
	static const char *const hsuf[] = { "", "_bucket", "_sum", "_count" };
	unsigned na = ta == MT_HISTOGRAM ? 4 : 1, nb = tb == MT_HISTOGRAM ? 4 : 1;
	size_t la = strlen(a), lb = strlen(b);
	for (unsigned i = 0; i < na; i++)
		for (unsigned j = 0; j < nb; j++) {
			size_t sa = strlen(hsuf[i]), sb = strlen(hsuf[j]);
			if (la + sa == lb + sb) {
				char x[PF_NAME_MAX + 100], y[PF_NAME_MAX + 100];
				snprintf(x, sizeof x, "%s%s", a, hsuf[i]);
				snprintf(y, sizeof y, "%s%s", b, hsuf[j]);
				if (strcmp(x, y) == 0)
					return 1;
			}
		}
	return 0;
}

static unsigned count_labels(const char *const *v, unsigned max)
{
	unsigned n = 0;
	while (v && n <= max && v[n])
		n++;
	return n;
}

static int same_shape(const struct metric_family *f, enum mtype type, const char *const *labels,
		      unsigned n)
{
	if (f->type != type || f->nlabels != n)
		return 0;
	for (unsigned i = 0; i < n; i++)
		if (strcmp(f->labels[i], labels[i]) != 0)
			return 0;
	return 1;
}

int metrics_plugin_register(struct metrics *m, const char *plugin, int type, const char *name,
			    const char *help, const char *const *labels,
			    struct metric_family **out)
{
	static const enum mtype types[] = { [LAB_METRIC_COUNTER] = MT_COUNTER,
					    [LAB_METRIC_GAUGE] = MT_GAUGE,
					    [LAB_METRIC_HISTOGRAM] = MT_HISTOGRAM };
	char full[PF_NAME_MAX + 80];
	if (!out)
		return LAB_EINVAL;
	*out = NULL;
	if (!m || !plugin)
		return LAB_ESTATE;
	if (type < LAB_METRIC_COUNTER || type > LAB_METRIC_HISTOGRAM || !ident_ok(name, PF_NAME_MAX) ||
	    !help || !help_ok(help))
		return LAB_EINVAL;
	enum mtype mt = types[type];
	unsigned n = count_labels(labels, LAB_METRIC_MAX_LABELS);
	if (n > LAB_METRIC_MAX_LABELS)
		return LAB_EINVAL;
	for (unsigned i = 0; i < n; i++) {
		if (!ident_ok(labels[i], PF_LABEL_MAX) || strncmp(labels[i], "__", 2) == 0 ||
		    strcmp(labels[i], "le") == 0 || strcmp(labels[i], "plugin") == 0)
			return LAB_EINVAL;
		for (unsigned j = 0; j < i; j++)
			if (strcmp(labels[i], labels[j]) == 0)
				return LAB_EINVAL;
	}
	snprintf(full, sizeof full, "lab_%s_%s", plugin, name);
	unsigned owned = 0;
	struct metric_family **pp = &m->plugin_families, **at = NULL;
	for (; *pp; pp = &(*pp)->next) {
		struct metric_family *f = *pp;
		if (strcmp(f->owner, plugin) == 0 && strcmp(f->name, full) == 0) {
			if (!same_shape(f, mt, labels, n))
				return LAB_EEXIST;
			f->stale = 0; /* a reloaded instance takes it over, values and all */
			*out = f;
			return 0;
		}
		if (names_clash(full, mt, f->name, f->type))
			return LAB_EEXIST;
		owned += strcmp(f->owner, plugin) == 0;
		if (!at && strcmp(f->name, full) > 0)
			at = pp;
	}
	if (!at)
		at = pp;
	for (int id = 0; id < M_COUNT; id++)
		if (names_clash(full, mt, families[id].name, families[id].type))
			return LAB_EEXIST;
	if (owned >= LAB_METRIC_MAX_FAMILIES)
		return LAB_EBUSY;
	struct metric_family *f = calloc(1, sizeof *f);
	struct buf h = BUF_INIT;
	if (!f)
		return LAB_ENOMEM;
	for (const char *p = help; *p; p++) { /* HELP escapes \ (and newline, refused above) */
		if (*p == '\\')
			buf_putc(&h, '\\');
		buf_putc(&h, *p);
	}
	f->help = h.oom ? NULL : h.data ? buf_steal(&h, NULL) : strdup("");
	buf_free(&h);
	f->owner = strdup(plugin);
	f->name = strdup(full);
	f->type = mt;
	int oom = !f->help || !f->owner || !f->name;
	for (unsigned i = 0; i < n; i++, f->nlabels++)
		oom |= !(f->labels[i] = strdup(labels[i]));
	if (oom) {
		family_free(f);
		return LAB_ENOMEM;
	}
	f->next = *at;
	*at = f;
	*out = f;
	return 0;
}

/* Series of `plugin` over all its families. */
static unsigned plugin_series(const struct metrics *m, const char *plugin)
{
	unsigned n = 0;
	for (const struct metric_family *f = m->plugin_families; f; f = f->next)
		if (strcmp(f->owner, plugin) == 0)
			n += f->nseries;
	return n;
}

int metrics_plugin_update(struct metrics *m, const char *plugin, struct metric_family *fam,
			  int op, double v, const char *const *values, int *limit_hit)
{
	char key[LAB_METRIC_MAX_LABELS * (MAX_LABEL_LEN + 1)];
	struct metric_family *f = m ? m->plugin_families : NULL;
	if (limit_hit)
		*limit_hit = 0;
	/* The handle comes from the plugin: only one of its own families is used. */
	while (f && (f != fam || strcmp(f->owner, plugin) != 0))
		f = f->next;
	if (!f)
		return LAB_EINVAL;
	if ((op == LAB_METRIC_OBSERVE) != (f->type == MT_HISTOGRAM) ||
	    (op == LAB_METRIC_SET && f->type != MT_GAUGE) ||
	    (op != LAB_METRIC_ADD && op != LAB_METRIC_SET && op != LAB_METRIC_OBSERVE))
		return LAB_EINVAL;
	if (v != v || v > 1.7976931348623157e308 || v < -1.7976931348623157e308 ||
	    (f->type == MT_COUNTER && v < 0))
		return LAB_ERANGE;
	if (count_labels(values, f->nlabels) != f->nlabels)
		return LAB_EINVAL;
	size_t len = 0;
	for (unsigned i = 0; i < f->nlabels; i++)
		len = put_label(key, len, values[i]);
	struct series **where;
	struct series *s = find_in(&f->series, key, len, &where);
	if (!s) {
		if (plugin_series(m, plugin) >= LAB_METRIC_MAX_SERIES) {
			if (limit_hit)
				*limit_hit = 1;
			return LAB_EBUSY;
		}
		s = insert_at(where, f->type == MT_HISTOGRAM, key, len);
		if (!s)
			return LAB_ENOMEM;
		f->nseries++;
	}
	if (op == LAB_METRIC_OBSERVE) {
		observe(s, v);
	} else {
		s->value = op == LAB_METRIC_SET ? v : s->value + v;
	}
	return 0;
}

/* Every family of `plugin` (stale_only: those not registered again). */
static void drop_families(struct metrics *m, const char *plugin, int stale_only)
{
	struct metric_family **pp = m ? &m->plugin_families : NULL;
	while (pp && *pp) {
		struct metric_family *f = *pp;
		if (strcmp(f->owner, plugin) == 0 && (!stale_only || f->stale)) {
			*pp = f->next;
			family_free(f);
		} else {
			pp = &f->next;
		}
	}
}

void metrics_plugin_drop(struct metrics *m, const char *plugin) { drop_families(m, plugin, 0); }

void metrics_plugin_sweep(struct metrics *m, const char *plugin) { drop_families(m, plugin, 1); }

void metrics_plugin_mark_stale(struct metrics *m, const char *plugin)
{
	for (struct metric_family *f = m ? m->plugin_families : NULL; f; f = f->next)
		if (strcmp(f->owner, plugin) == 0)
			f->stale = 1;
}

void metrics_free(struct metrics *m)
{
	if (!m)
		return;
	while (m->plugin_families) {
		struct metric_family *f = m->plugin_families;
		m->plugin_families = f->next;
		family_free(f);
	}
	for (int id = 0; id < M_COUNT; id++) {
		while (m->heads[id]) {
			struct series *s = m->heads[id];
			m->heads[id] = s->next;
			series_free(s);
		}
	}
	free(m);
}

int metrics_new(const char *version, struct metrics **out)
{
	struct metrics *m = calloc(1, sizeof(*m));
	*out = NULL;
	if (!m)
		return LAB_ENOMEM;
	metric_set(m, M_UP, 1);
	metric_set(m, M_BUILD_INFO, 1, version ? version : "");
	if (!m->heads[M_UP] || !m->heads[M_BUILD_INFO]) {
		metrics_free(m);
		return LAB_ENOMEM;
	}
	*out = m;
	return 0;
}

/* ---------------------------------------------------------------- rendering */

/* Go's float formatting as Prometheus prints it: integers plainly, otherwise
 * the shortest representation that reads back exactly. */
static void put_value(struct buf *b, double v)
{
	char tmp[40];
	if (v != v) {
		buf_puts(b, "NaN");
	} else if (v > 1.7976931348623157e308 || v < -1.7976931348623157e308) {
		buf_puts(b, v > 0 ? "+Inf" : "-Inf");
	} else if (v >= -9e15 && v <= 9e15 && v == (double)(long long)v) {
		buf_printf(b, "%lld", (long long)v);
	} else {
		for (int prec = 15; prec <= 17; prec++) {
			snprintf(tmp, sizeof(tmp), "%.*g", prec, v);
			if (strtod(tmp, NULL) == v)
				break;
		}
		buf_puts(b, tmp);
	}
}

/* A label value: \, " and newline escaped; invalid UTF-8 (which would make
 * Prometheus reject the whole scrape) becomes U+FFFD. */
static void put_escaped(struct buf *b, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n = strlen(s);
	for (size_t i = 0; i < n;) {
		size_t l;
		if (p[i] == '\\' || p[i] == '"') {
			buf_putc(b, '\\');
			buf_putc(b, (char)p[i++]);
		} else if (p[i] == '\n') {
			buf_puts(b, "\\n");
			i++;
		} else if ((l = utf8_seq(p + i, n - i)) == 0) {
			buf_puts(b, "\xef\xbf\xbd");
			i++;
		} else {
			buf_append(b, p + i, l);
			i += l;
		}
	}
}

/* What rendering needs of a family, host-declared or a plugin's. */
struct shape {
	const char *name;
	unsigned nlabels;
	const char *const *labels;
};

/* `{a="x",b="y"}` (plus le= for histogram buckets); nothing without labels. */
static void put_labels(struct buf *b, const struct shape *f, const struct series *s,
		       const char *le)
{
	if (f->nlabels == 0 && !le)
		return;
	buf_putc(b, '{');
	const char *v = s->key;
	for (unsigned i = 0; i < f->nlabels; i++) {
		buf_printf(b, "%s%s=\"", i ? "," : "", f->labels[i]);
		put_escaped(b, v);
		buf_putc(b, '"');
		v += strlen(v) + 1;
	}
	if (le)
		buf_printf(b, "%sle=\"%s\"", f->nlabels ? "," : "", le);
	buf_putc(b, '}');
}

static void put_sample(struct buf *b, const struct shape *f, const char *suffix,
		       const struct series *s, const char *le, double v)
{
	buf_puts(b, f->name);
	buf_puts(b, suffix);
	put_labels(b, f, s, le);
	buf_putc(b, ' ');
	put_value(b, v);
	buf_putc(b, '\n');
}

static void render_histogram(struct buf *b, const struct shape *f, const struct series *s)
{
	char le[16];
	uint64_t cum = 0;
	for (unsigned i = 0; i < NBUCKETS; i++) {
		cum += s->hist[i];
		snprintf(le, sizeof(le), "%g", bucket_le[i]);
		put_sample(b, f, "_bucket", s, le, (double)cum);
	}
	put_sample(b, f, "_bucket", s, "+Inf", (double)s->hist[NBUCKETS]);
	put_sample(b, f, "_sum", s, NULL, s->value);
	put_sample(b, f, "_count", s, NULL, (double)s->hist[NBUCKETS]);
}

static void render_series(struct buf *b, const struct shape *f, enum mtype type,
			  const struct series *head)
{
	for (const struct series *s = head; s; s = s->next) {
		if (type == MT_HISTOGRAM)
			render_histogram(b, f, s);
		else
			put_sample(b, f, "", s, NULL, s->value);
	}
}

static void put_header(struct buf *b, const char *name, const char *help, const char *type)
{
	buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* ---------------------------------------------------------------- process metrics */

static ssize_t read_small(const char *path, char *out, size_t cap)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	size_t len = 0;
	while (len < cap - 1) {
		ssize_t n = read(fd, out + len, cap - 1 - len);
		if (n < 0) {
			close(fd);
			return -1;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	out[len] = '\0';
	return (ssize_t)len;
}

static double resident_bytes(void)
{
	char tmp[256];
	unsigned long long size, resident;
	long page = sysconf(_SC_PAGESIZE);
	if (read_small("/proc/self/statm", tmp, sizeof(tmp)) < 0 || page <= 0 ||
	    sscanf(tmp, "%llu %llu", &size, &resident) != 2)
		return -1;
	return (double)resident * (double)page;
}

/* "btime N" from /proc/stat; 0 if absent.  Lines (the intr one) may be long. */
static unsigned long long boot_time(void)
{
	FILE *f = fopen("/proc/stat", "re");
	if (!f)
		return 0;
	char *line = NULL;
	size_t cap = 0;
	unsigned long long bt = 0;
	while (getline(&line, &cap, f) > 0) {
		if (strncmp(line, "btime ", 6) == 0) {
			if (sscanf(line + 6, "%llu", &bt) != 1)
				bt = 0;
			break;
		}
	}
	free(line);
	fclose(f);
	return bt;
}

/* Boot time plus field 22 (starttime, clock ticks) of /proc/self/stat; the
 * command name (field 2) may hold spaces and parentheses, so parse after the last ')'. */
static double process_start(void)
{
	char tmp[2048];
	if (read_small("/proc/self/stat", tmp, sizeof(tmp)) < 0)
		return 0;
	char *p = strrchr(tmp, ')');
	if (!p)
		return 0;
	p++;
	for (int field = 3; field < 22; field++) {
		while (*p == ' ')
			p++;
		while (*p && *p != ' ')
			p++;
		if (!*p)
			return 0;
	}
	char *end;
	unsigned long long ticks = strtoull(p, &end, 10);
	long hz = sysconf(_SC_CLK_TCK);
	unsigned long long bt = boot_time();
	if (end == p || hz <= 0 || bt == 0)
		return 0;
	return (double)bt + (double)ticks / (double)hz;
}

/* m may be NULL (the start time is then not cached). */
static void render_process(struct metrics *m, struct buf *b)
{
	double rss = resident_bytes();
	if (rss >= 0) {
		put_header(b, "process_resident_memory_bytes", "Resident memory size in bytes.",
			   "gauge");
		buf_puts(b, "process_resident_memory_bytes ");
		put_value(b, rss);
		buf_putc(b, '\n');
	}
	double start = m ? m->start_time : 0;
	if (start == 0)
		start = process_start();
	if (m)
		m->start_time = start;
	if (start > 0) {
		put_header(b, "process_start_time_seconds",
			   "Start time of the process since unix epoch in seconds.", "gauge");
		buf_puts(b, "process_start_time_seconds ");
		put_value(b, start);
		buf_putc(b, '\n');
	}
}

void metrics_render(struct metrics *m, struct buf *out)
{
	static const char *const type_names[] = { "gauge", "counter", "histogram" };
	for (int id = 0; id < M_COUNT; id++) {
		const struct family *f = &families[id];
		struct shape sh = { f->name, f->nlabels, f->labels };
		put_header(out, f->name, f->help, type_names[f->type]);
		render_series(out, &sh, f->type, m ? m->heads[id] : NULL);
	}
	metrics_plugin_render(m, NULL, out);
	render_process(m, out);
}

void metrics_plugin_render(struct metrics *m, const char *plugin, struct buf *out)
{
	static const char *const type_names[] = { "gauge", "counter", "histogram" };
	for (const struct metric_family *f = m ? m->plugin_families : NULL; f; f = f->next) {
		struct shape sh = { f->name, f->nlabels, (const char *const *)f->labels };
		if (plugin && strcmp(f->owner, plugin) != 0)
			continue;
		put_header(out, f->name, f->help, type_names[f->type]);
		render_series(out, &sh, f->type, f->series);
	}
}

int metrics_plugin_value(struct metrics *m, const char *plugin, const char *name,
			 const char *const *values, double *value, double *count)
{
	char full[PF_NAME_MAX + 80], key[LAB_METRIC_MAX_LABELS * (MAX_LABEL_LEN + 1)];
	if (!m || !plugin || !name)
		return LAB_ENOENT;
	snprintf(full, sizeof full, "lab_%s_%s", plugin, name);
	const struct metric_family *f = m->plugin_families;
	while (f && (strcmp(f->owner, plugin) != 0 || strcmp(f->name, full) != 0))
		f = f->next;
	if (!f || count_labels(values, f->nlabels) != f->nlabels)
		return LAB_ENOENT;
	size_t len = 0;
	for (unsigned i = 0; i < f->nlabels; i++)
		len = put_label(key, len, values[i]);
	struct series **where;
	struct series *s = find_in((struct series **)&f->series, key, len, &where);
	if (!s)
		return LAB_ENOENT;
	*value = s->value;
	*count = s->hist ? (double)s->hist[NBUCKETS] : 0;
	return 0;
}
