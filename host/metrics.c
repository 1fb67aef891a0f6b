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

struct metrics {
	struct series *heads[M_COUNT];
	unsigned char warned[M_COUNT];
	double start_time; /* cached process_start_time_seconds; 0 = unknown */
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

/* The series with this key, created (in sorted position) when create is set. */
static struct series *lookup(struct metrics *m, enum metric_id id, const char *key, size_t len,
			     int create)
{
	struct series **pp = &m->heads[id];
	for (; *pp; pp = &(*pp)->next) {
		int c = key_cmp((*pp)->key, (*pp)->keylen, key, len);
		if (c == 0)
			return *pp;
		if (c > 0)
			break;
	}
	if (!create)
		return NULL;
	struct series *s = calloc(1, sizeof(*s) + len);
	if (!s)
		goto oom;
	if (families[id].type == MT_HISTOGRAM) {
		s->hist = calloc(NBUCKETS + 1, sizeof(*s->hist));
		if (!s->hist) {
			free(s);
			goto oom;
		}
	}
	memcpy(s->key, key, len);
	s->keylen = (uint16_t)len;
	s->next = *pp;
	*pp = s;
	return s;
oom:
	warn_once(m, id, "out of memory");
	return NULL;
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
	if (!s)
		return;
	unsigned i = 0;
	while (i < NBUCKETS && v > bucket_le[i])
		i++;
	if (i < NBUCKETS)
		s->hist[i]++;
	s->hist[NBUCKETS]++;
	s->value += v;
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

void metrics_free(struct metrics *m)
{
	if (!m)
		return;
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

/* `{a="x",b="y"}` (plus le= for histogram buckets); nothing without labels. */
static void put_labels(struct buf *b, const struct family *f, const struct series *s,
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

static void put_sample(struct buf *b, const struct family *f, const char *suffix,
		       const struct series *s, const char *le, double v)
{
	buf_puts(b, f->name);
	buf_puts(b, suffix);
	put_labels(b, f, s, le);
	buf_putc(b, ' ');
	put_value(b, v);
	buf_putc(b, '\n');
}

static void render_histogram(struct buf *b, const struct family *f, const struct series *s)
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
		put_header(out, f->name, f->help, type_names[f->type]);
		for (const struct series *s = m ? m->heads[id] : NULL; s; s = s->next) {
			if (f->type == MT_HISTOGRAM)
				render_histogram(out, f, s);
			else
				put_sample(out, f, "", s, NULL, s->value);
		}
	}
	render_process(m, out);
}
