/* labctl-config-import: writing labd.conf text (libconfig syntax) from
 * values read in either format. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config.h"
#include "import.h"

int import_name_ok(const char *s)
{
	if (!s || !*s)
		return 0;
	for (; *s; s++)
		if (!(islower((unsigned char)*s) || isdigit((unsigned char)*s) || *s == '_' || *s == '-'))
			return 0;
	return 1;
}

void emit_str(struct buf *b, const char *s)
{
	buf_putc(b, '"');
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			buf_printf(b, "\\%c", c);
		else if (c < 0x20 || c == 0x7f)
			buf_printf(b, "\\x%02x", c);
		else
			buf_putc(b, (char)c);
	}
	buf_putc(b, '"');
}

void emit_kv(struct buf *b, const char *indent, const char *name, const char *value)
{
	buf_printf(b, "%s%s = ", indent, name);
	emit_str(b, value);
	buf_puts(b, ";\n");
}

/* "${NAME}" or "${NAME:-...}" somewhere in s: labd expands it the same way. */
static int has_env_ref(const char *s) { return strstr(s, "${") != NULL; }

static void secret_value(struct imp *im, struct buf *b, const char *indent, const char *name,
			 const char *v, const yaml_node_t *n, const char *path, const char *env)
{
	if (!*v || has_env_ref(v)) {
		emit_kv(b, indent, name, v);
		return;
	}
	buf_printf(b, "%s%s = \"${%s}\";\n", indent, name, env);
	y_note(im, n, path, "a secret: not copied; export %s with its value before labd starts",
	       env);
}

void emit_secret(struct imp *im, struct buf *b, const char *indent, const char *name,
		 yaml_node_t *n, const char *path, const char *env)
{
	const char *v = y_str(im, n, path);
	if (v)
		secret_value(im, b, indent, name, v, n, path, env);
}

/* Go's time.ParseDuration: [-]N(.N)?(ns|us|µs|ms|s|m|h) repeated.  Whole
 * seconds only (labd's resolution). */
static int go_duration(const char *s, int64_t *secs)
{
	double total = 0;
	int neg = 0;

	if (*s == '-' || *s == '+')
		neg = *s++ == '-';
	if (!*s)
		return -1;
	if (strcmp(s, "0") == 0) {
		*secs = 0;
		return 0;
	}
	while (*s) {
		char *end;
		double v = strtod(s, &end), mult;
		if (end == s || v < 0 || *s == '+' || *s == '-' || isspace((unsigned char)*s))
			return -1;
		s = end;
		if (strncmp(s, "ns", 2) == 0)
			mult = 1e-9, s += 2;
		else if (strncmp(s, "us", 2) == 0)
			mult = 1e-6, s += 2;
		else if (strncmp(s, "\xc2\xb5s", 3) == 0)
			mult = 1e-6, s += 3;
		else if (strncmp(s, "ms", 2) == 0)
			mult = 1e-3, s += 2;
		else if (*s == 's')
			mult = 1, s++;
		else if (*s == 'm')
			mult = 60, s++;
		else if (*s == 'h')
			mult = 3600, s++;
		else
			return -1;
		total += v * mult;
	}
	if (total != (double)(int64_t)total || total > 1e15)
		return -1;
	*secs = neg ? -(int64_t)total : (int64_t)total;
	return 0;
}

int emit_duration(struct imp *im, struct buf *b, const char *indent, const char *name,
		  yaml_node_t *n, const char *path, int go, int negative_ok)
{
	const char *s = y_str(im, n, path);
	int64_t secs;
	char out[32];

	if (!s)
		return -1;
	if (go ? go_duration(s, &secs) < 0 : config_parse_duration(s, &secs) < 0) {
		y_error(im, n, path, "bad duration \"%s\" (expected %s)", s,
			go ? "Go syntax like \"90s\", \"1h30m\", \"-24h\" in whole seconds" :
			     "<int>(s|m|h|d) like \"6h\" or \"-30d\"");
		return -1;
	}
	if (negative_ok ? secs >= 0 : secs <= 0) {
		y_error(im, n, path, "must be %s", negative_ok ? "negative" : "positive");
		return -1;
	}
	if (!go) { /* the same syntax: keep the operator's spelling */
		emit_kv(b, indent, name, s);
		return 0;
	}
	int64_t a = secs < 0 ? -secs : secs;
	if (a % 3600 == 0)
		snprintf(out, sizeof out, "%lldh", (long long)(secs / 3600));
	else if (a % 60 == 0)
		snprintf(out, sizeof out, "%lldm", (long long)(secs / 60));
	else
		snprintf(out, sizeof out, "%llds", (long long)secs);
	emit_kv(b, indent, name, out);
	return 0;
}

static char *pct_decode(const char *s, size_t n)
{
	char *o = malloc(n + 1), *p = o;
	if (!o)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '%' && i + 2 < n && isxdigit((unsigned char)s[i + 1]) &&
		    isxdigit((unsigned char)s[i + 2])) {
			char hex[3] = { s[i + 1], s[i + 2], 0 };
			*p++ = (char)strtol(hex, NULL, 16);
			i += 2;
		} else {
			*p++ = s[i];
		}
	}
	*p = '\0';
	return o;
}

int emit_clickhouse_dsn(struct imp *im, yaml_node_t *n, const char *path, const char *protocol)
{
	const char *dsn = y_str(im, n, path), *rest, *at, *slash, *q;
	struct buf *b = &im->clickhouse;
	int https = 0, native = 0;

	if (!dsn)
		return -1;
	if (!*dsn) {
		y_error(im, n, path, "must not be empty");
		return -1;
	}
	if (has_env_ref(dsn)) {
		/* Opaque until run time: labd needs an HTTP(S) URL there. */
		emit_kv(b, "\t", "url", dsn);
		y_note(im, n, path, "kept as a reference: it must hold ClickHouse's HTTP(S) URL "
				    "(http://host:8123), with user and password set separately");
		return 0;
	}
	rest = strstr(dsn, "://");
	if (!rest) {
		y_error(im, n, path, "not a URL (expected scheme://host[:port][/database])");
		return -1;
	}
	size_t sl = (size_t)(rest - dsn);
	if ((sl == 5 && strncasecmp(dsn, "https", 5) == 0) ||
	    (sl == 16 && strncasecmp(dsn, "clickhouse+https", 16) == 0))
		https = 1;
	else if ((sl == 4 && strncasecmp(dsn, "http", 4) == 0) ||
		 (sl == 15 && strncasecmp(dsn, "clickhouse+http", 15) == 0))
		https = 0;
	else if ((sl == 10 && strncasecmp(dsn, "clickhouse", 10) == 0) ||
		 (sl == 17 && strncasecmp(dsn, "clickhouse+native", 17) == 0) ||
		 (sl == 3 && strncasecmp(dsn, "tcp", 3) == 0))
		native = 1;
	else {
		y_error(im, n, path, "unsupported scheme \"%.*s\"", (int)sl, dsn);
		return -1;
	}
	rest += 3;
	q = strchr(rest, '?');
	if (q && (strstr(q, "protocol=https") || strstr(q, "secure=true")))
		https = 1, native = 0;
	if (protocol && strcmp(protocol, "native") == 0)
		native = 1;
	if (protocol && strcmp(protocol, "http") == 0)
		native = 0;
	size_t hostend = strcspn(rest, "/?");
	at = memchr(rest, '@', hostend);
	if (at) {
		const char *colon = memchr(rest, ':', (size_t)(at - rest));
		char *user = pct_decode(rest, (size_t)((colon ? colon : at) - rest));
		char *pass = colon ? pct_decode(colon + 1, (size_t)(at - colon - 1)) : NULL;
		if (!user || (colon && !pass)) {
			free(user);
			free(pass);
			y_error(im, n, path, "out of memory");
			return -1;
		}
		if (*user)
			emit_kv(b, "\t", "user", user);
		if (pass)
			secret_value(im, b, "\t", "password", pass, n, path, "LAB_CLICKHOUSE_PASSWORD");
		free(user);
		free(pass);
		rest = at + 1;
		hostend = strcspn(rest, "/?");
	}
	if (hostend == 0) {
		y_error(im, n, path, "no host");
		return -1;
	}
	buf_printf(b, "\turl = \"%s://%.*s\";\n", https ? "https" : "http", (int)hostend, rest);
	slash = rest[hostend] == '/' ? rest + hostend + 1 : NULL;
	if (slash) {
		size_t dl = strcspn(slash, "?");
		if (dl) {
			char *db = pct_decode(slash, dl);
			if (db)
				emit_kv(b, "\t", "database", db);
			free(db);
		}
	}
	if (native)
		y_note(im, n, path,
		       "the native protocol is not spoken by labd: it uses ClickHouse's HTTP "
		       "interface at the same host and port; change the port to the HTTP one "
		       "(8123, or 8443 with TLS) if they differ");
	return 0;
}

int emit_windows(struct imp *im, struct buf *b, yaml_node_t *seq, const char *path, int go)
{
	static const char *const py_keys[] = { "file", "step", "label", "range", NULL };
	static const char *const go_keys[] = { "file", "step", "label", "range", "name", "duration",
					       NULL };
	char p[128];

	if (y_need_seq(im, seq, path) < 0)
		return -1;
	buf_puts(b, "\t\ttime_windows = (\n");
	for (size_t i = 0; i < y_seq_len(seq); i++) {
		yaml_node_t *w = y_seq_at(im, seq, i), *f;
		snprintf(p, sizeof p, "%s[%zu]", path, i);
		if (y_need_map(im, w, p, 0) < 0 || y_known(im, w, p, go ? go_keys : py_keys) < 0)
			return -1;
		char fp[160];
		snprintf(fp, sizeof fp, "%s.file", p);
		const char *file = y_str(im, f = y_get(im, w, "file"), fp);
		if (!file)
			return -1;
		char *fname = strdup(file);
		if (!fname)
			return -1;
		size_t fl = strlen(fname);
		/* The Go service named window files with their extension. */
		if (fl > 5 && strcmp(fname + fl - 5, ".json") == 0)
			fname[fl - 5] = '\0';
		buf_puts(b, "\t\t\t{ ");
		buf_puts(b, "file = ");
		emit_str(b, fname);
		buf_puts(b, ";\n");
		free(fname);
		snprintf(fp, sizeof fp, "%s.step", p);
		if (emit_duration(im, b, "\t\t\t  ", "step", y_get(im, w, "step"), fp, go, 0) < 0)
			return -1;
		yaml_node_t *label = y_get(im, w, "label"), *name = y_get(im, w, "name");
		snprintf(fp, sizeof fp, "%s.label", p);
		if (label) {
			const char *l = y_str(im, label, fp);
			if (!l)
				return -1;
			emit_kv(b, "\t\t\t  ", "label", l);
		} else if (go && name) {
			const char *l = y_str(im, name, fp);
			if (!l)
				return -1;
			emit_kv(b, "\t\t\t  ", "label", l);
			y_note(im, name, fp, "no label: the window's name \"%s\" is used as its label", l);
		} else {
			y_error(im, w, fp, "required");
			return -1;
		}
		snprintf(fp, sizeof fp, "%s.range", p);
		if (emit_duration(im, b, "\t\t\t  ", "range", y_get(im, w, "range"), fp, go, 1) < 0)
			return -1;
		/* duration repeats range in the Go config; name is its label above. */
		if (go && y_get(im, w, "duration")) {
			snprintf(fp, sizeof fp, "%s.duration", p);
			y_drop(im, y_get(im, w, "duration"), fp,
			       "the window's length is its range in labd");
		}
		buf_printf(b, "\t\t\t}%s\n", i + 1 < y_seq_len(seq) ? "," : "");
	}
	buf_puts(b, "\t\t);\n");
	return 0;
}

int emit_forks(struct imp *im, struct buf *b, yaml_node_t *forks, const char *path)
{
	static const char *const fork_keys[] = { "consensus", NULL };
	static const char *const one_fork[] = { "min_client_versions", NULL };
	char p[256];
	yaml_node_t *cons;

	if (y_need_map(im, forks, path, 1) < 0 || y_known(im, forks, path, fork_keys) < 0)
		return -1;
	snprintf(p, sizeof p, "%s.consensus", path);
	cons = y_get(im, forks, "consensus");
	if (y_need_map(im, cons, p, 1) < 0 || !y_map_len(cons))
		return im->error ? -1 : 0;
	buf_puts(b, "\t\t  min_client_versions = {\n");
	for (size_t i = 0; i < y_map_len(cons); i++) {
		yaml_node_t *f, *mcv;
		const char *fork = y_map_key(im, cons, i, &f);
		char fp[320];
		if (!fork)
			return -1;
		snprintf(fp, sizeof fp, "%s.%s", p, fork);
		if (!import_name_ok(fork)) {
			y_error(im, f, fp, "fork names must match [a-z0-9_-]+");
			return -1;
		}
		if (y_need_map(im, f, fp, 1) < 0 || y_known(im, f, fp, one_fork) < 0)
			return -1;
		buf_printf(b, "\t\t\t%s = {", fork);
		mcv = y_get(im, f, "min_client_versions");
		snprintf(fp, sizeof fp, "%s.%s.min_client_versions", p, fork);
		if (y_need_map(im, mcv, fp, 1) < 0)
			return -1;
		for (size_t k = 0; k < y_map_len(mcv); k++) {
			yaml_node_t *v;
			const char *client = y_map_key(im, mcv, k, &v);
			char cp[400];
			if (!client)
				return -1;
			snprintf(cp, sizeof cp, "%s.%s", fp, client);
			if (!isalpha((unsigned char)client[0]) ||
			    strspn(client, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
					   "0123456789_-") != strlen(client)) {
				y_error(im, v, cp, "client names must match [A-Za-z][A-Za-z0-9_-]*");
				return -1;
			}
			const char *ver = y_str(im, v, cp);
			if (!ver)
				return -1;
			if (!*ver) /* pydantic's None / an empty entry: no minimum */
				continue;
			buf_printf(b, " %s = ", client);
			emit_str(b, ver);
			buf_putc(b, ';');
		}
		buf_puts(b, " };\n");
	}
	buf_puts(b, "\t\t  };\n");
	return 0;
}

int emit_validator_ranges(struct imp *im, struct buf *b, yaml_node_t *ranges, const char *path)
{
	if (y_need_map(im, ranges, path, 1) < 0)
		return -1;
	if (!y_map_len(ranges))
		return 0;
	buf_puts(b, "\t\t  validator_set = (\n");
	for (size_t i = 0; i < y_map_len(ranges); i++) {
		yaml_node_t *e;
		const char *range = y_map_key(im, ranges, i, &e), *entity;
		char ep[320];
		if (!range)
			return -1;
		snprintf(ep, sizeof ep, "%s.%s", path, range);
		if (!(entity = y_str(im, e, ep)))
			return -1;
		buf_puts(b, "\t\t\t{ range = ");
		emit_str(b, range);
		buf_puts(b, "; entity = ");
		emit_str(b, entity);
		buf_printf(b, "; }%s\n", i + 1 < y_map_len(ranges) ? "," : "");
	}
	buf_puts(b, "\t\t  );\n");
	return 0;
}

int emit_validator_map(struct imp *im, struct buf *b, yaml_node_t *map, const char *path, const char *key)
{
	const char *const keys[] = { key, NULL };
	char p[256];

	if (y_need_map(im, map, path, 1) < 0 || y_known(im, map, path, keys) < 0)
		return -1;
	snprintf(p, sizeof p, "%s.%s", path, key);
	return emit_validator_ranges(im, b, y_get(im, map, key), p);
}
