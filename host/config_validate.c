/* Schema validation: one checker for a libconfig group against a lab_setting
 * map, used for the host's schema and for every plugin's declared settings.
 * Errors are one line, "FILE:LINE: setting 'a.b': reason", and never quote
 * the offending value (it may be a secret). */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "config.h"
#include "keyseg.h"

/* Bounds recursion over a plugin's (possibly self-referencing) declarations. */
#define DECL_MAX_DEPTH 16

const lab_setting config_plugin_host_keys[] = {
	{ "enabled", LAB_SET_BOOL, "true", "load and run this plugin", NULL, 0 },
	{ "path", LAB_SET_STRING, NULL, "the plugin's .so (default plugin_dir/NAME.so)", NULL, 0 },
	{ "log_level", LAB_SET_STRING, NULL,
	  "this plugin's log level: debug, info, warn or error (default: log.level); SIGHUP applies it",
	  NULL, 0 },
	{ NULL, 0, NULL, NULL, NULL, 0 }
};

const lab_setting *config_decl_find(const lab_setting *keys, const char *name)
{
	if (!keys || !name)
		return NULL;
	for (; keys->name; keys++)
		if (strcmp(keys->name, name) == 0)
			return keys;
	return NULL;
}

/* "<int>(s|m|h|d)", and with ms_ok also "<int>ms"; the value in
 * milliseconds when ms_ok, else in seconds. */
static int parse_duration(const char *s, int ms_ok, int64_t *out)
{
	int neg = 0;
	int64_t v = 0, mult;
	if (!s)
		return LAB_EINVAL;
	if (*s == '-') {
		neg = 1;
		s++;
	}
	if (*s < '0' || *s > '9')
		return LAB_EINVAL;
	for (; *s >= '0' && *s <= '9'; s++) {
		if (v > (INT64_MAX - (*s - '0')) / 10)
			return LAB_ERANGE;
		v = v * 10 + (*s - '0');
	}
	switch (*s) {
	case 's': mult = 1; break;
	case 'm': mult = 60; break;
	case 'h': mult = 3600; break;
	case 'd': mult = 86400; break;
	default: return LAB_EINVAL;
	}
	if (ms_ok && s[0] == 'm' && s[1] == 's' && s[2] == '\0') {
		*out = neg ? -v : v;
		return 0;
	}
	if (s[1] != '\0')
		return LAB_EINVAL;
	if (ms_ok) {
		if (mult > INT64_MAX / 1000)
			return LAB_ERANGE;
		mult *= 1000;
	}
	if (v > INT64_MAX / mult)
		return LAB_ERANGE;
	*out = neg ? -(v * mult) : v * mult;
	return 0;
}

int config_parse_duration(const char *s, int64_t *seconds)
{
	return parse_duration(s, 0, seconds);
}

int config_parse_duration_ms(const char *s, int64_t *ms) { return parse_duration(s, 1, ms); }

/* A DURATION declaration's value in its own unit (ms with LAB_SETTING_MS). */
static int decl_duration(const lab_setting *d, const char *s, int64_t *out)
{
	return parse_duration(s, (d->flags & LAB_SETTING_MS) != 0, out);
}

/* ---------------------------------------------------------------- errors */

/* Dotted path of n below the root: "ethereum.networks[0].name". */
static void node_path(struct buf *b, const config_setting_t *n)
{
	const config_setting_t *p = n ? config_setting_parent(n) : NULL;
	if (!p)
		return;
	node_path(b, p);
	if (config_setting_is_list(p) || config_setting_is_array(p)) {
		buf_printf(b, "[%d]", config_setting_index(n));
	} else {
		if (b->len)
			buf_putc(b, '.');
		buf_puts(b, config_setting_name(n) ? config_setting_name(n) : "?");
	}
}

static void verror(char *err, size_t errlen, const char *file, unsigned line, const char *path,
		   const char *fmt, va_list ap)
{
	int n;
	if (!err || errlen == 0)
		return;
	if (!file)
		file = "?";
	if (line)
		n = snprintf(err, errlen, "%s:%u: setting '%s': ", file, line, path ? path : "");
	else
		n = snprintf(err, errlen, "%s: setting '%s': ", file, path ? path : "");
	if (n >= 0 && (size_t)n < errlen)
		vsnprintf(err + n, errlen - (size_t)n, fmt, ap);
	/* One line, whatever odd bytes a file name holds. */
	for (char *p = err; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
}

void config_error(char *err, size_t errlen, const char *file, unsigned line, const char *path,
		  const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	verror(err, errlen, file, line, path, fmt, ap);
	va_end(ap);
}

void config_node_error(char *err, size_t errlen, const config_setting_t *node, const char *child,
		       const char *fmt, ...)
{
	struct buf b = BUF_INIT;
	const char *file = NULL;
	unsigned line = 0;
	va_list ap;
	if (node) {
		node_path(&b, node);
		file = config_setting_source_file(node);
		line = config_setting_source_line(node);
		if (!file && node->config && node->config->root) {
			file = config_setting_source_file(node->config->root);
			line = 0;
		}
	}
	if (child) {
		if (b.len)
			buf_putc(&b, '.');
		buf_puts(&b, child);
	}
	va_start(ap, fmt);
	verror(err, errlen, file, line, b.oom ? "?" : (b.data ? b.data : ""), fmt, ap);
	va_end(ap);
	buf_free(&b);
}

/* ---------------------------------------------------------------- checking */

struct vctx {
	char *err;
	size_t errlen;
	int host;
	const struct plugin_decls *pd; /* the plugin's options (checks), or NULL */
};

/* ---------------------------------------------------------------- 1.1 checks */

static int in_limits(const lab_option *o, int64_t x)
{
	return (!o->has_min || x >= o->min) && (!o->has_max || x <= o->max);
}

static int is_allowed(const lab_option *o, const char *s)
{
	if (!o->allowed)
		return 1;
	for (const char *const *a = o->allowed; *a; a++)
		if (strcmp(*a, s) == 0)
			return 1;
	return 0;
}

/* "between 0 and 11000", "at least 1s", "one of \"a\", \"b\"": the one
 * wording of a declaration's checks, for errors and for --describe. */
static void limits_text(struct buf *b, const lab_option *o, const lab_setting *d)
{
	const char *unit = d->type != LAB_SET_DURATION ? "" : (d->flags & LAB_SETTING_MS) ? "ms" : "s";
	if (o->has_min && o->has_max)
		buf_printf(b, "between %lld%s and %lld%s", (long long)o->min, unit,
			   (long long)o->max, unit);
	else if (o->has_min)
		buf_printf(b, "at least %lld%s", (long long)o->min, unit);
	else if (o->has_max)
		buf_printf(b, "at most %lld%s", (long long)o->max, unit);
	if (o->allowed) {
		buf_puts(b, "one of ");
		for (const char *const *a = o->allowed; *a; a++)
			buf_printf(b, "%s\"%s\"", a == o->allowed ? "" : ", ", *a);
	}
}

/* The key rules a string value must follow (LAB_SETTING_KEY_*), or NULL. */
static const char *key_rule_broken(const lab_setting *d, const char *s)
{
	if ((d->flags & LAB_SETTING_KEY_PREFIX) && !keyseg_prefix_ok(s, strlen(s)))
		return "must be a relative storage key prefix like \"a/b\" (no empty, . or .. "
		       "segment, no control character or backslash, at most 256 bytes)";
	if ((d->flags & LAB_SETTING_KEY_SEGMENT) && !keyseg_check(s, strlen(s), LAB_KEYSEG_PORTABLE))
		return "must be one key segment of 1 to 128 characters [A-Za-z0-9._-], not . or ..";
	return NULL;
}

static int check_string(struct vctx *v, const config_setting_t *s, const lab_setting *d,
			const lab_option *o);

static int limits_error(struct vctx *v, const config_setting_t *s, const lab_option *o,
			const lab_setting *d)
{
	struct buf b = BUF_INIT;
	limits_text(&b, o, d);
	config_node_error(v->err, v->errlen, s, NULL, "must be %s",
			  b.oom || !b.data ? "in range" : b.data);
	buf_free(&b);
	return LAB_ECONFIG;
}

/* A value of the right type against its declaration's min/max/allowed.
 * The value itself is never quoted (it may be a secret). */
static int check_limits(struct vctx *v, const config_setting_t *s, const lab_setting *d)
{
	const lab_option *o = plugin_decls_option(v->pd, d);
	int64_t x = 0;
	if (!o)
		return 0;
	switch (d->type) {
	case LAB_SET_INT:
		x = config_setting_get_int64(s);
		break;
	case LAB_SET_DURATION:
		if (decl_duration(d, config_setting_get_string(s), &x) < 0)
			return 0; /* reported by the type check */
		break;
	case LAB_SET_STRING:
		return check_string(v, s, d, o);
	case LAB_SET_STRINGS:
		for (int i = 0; i < config_setting_length(s); i++) {
			int rc = check_string(v, config_setting_get_elem(s, (unsigned)i), d, o);
			if (rc)
				return rc;
		}
		return 0;
	default:
		return 0;
	}
	return in_limits(o, x) ? 0 : limits_error(v, s, o, d);
}

static int check_string(struct vctx *v, const config_setting_t *s, const lab_setting *d,
			const lab_option *o)
{
	const char *str = config_setting_get_string(s);
	const char *why = key_rule_broken(d, str);
	if (why) {
		config_node_error(v->err, v->errlen, s, NULL, "%s", why);
		return LAB_ECONFIG;
	}
	return is_allowed(o, str) ? 0 : limits_error(v, s, o, d);
}

static const char *got_name(int t)
{
	switch (t) {
	case CONFIG_TYPE_GROUP: return "a group";
	case CONFIG_TYPE_INT:
	case CONFIG_TYPE_INT64: return "an integer";
	case CONFIG_TYPE_FLOAT: return "a float";
	case CONFIG_TYPE_STRING: return "a string";
	case CONFIG_TYPE_BOOL: return "a boolean";
	case CONFIG_TYPE_ARRAY: return "an array";
	case CONFIG_TYPE_LIST: return "a list";
	default: return "nothing";
	}
}

static const char *expect_name(int t)
{
	switch (t) {
	case LAB_SET_STRING: return "a string";
	case LAB_SET_INT: return "an integer";
	case LAB_SET_BOOL: return "true or false";
	case LAB_SET_DURATION: return "a duration string like \"10s\"";
	case LAB_SET_DOUBLE: return "a number";
	case LAB_SET_STRINGS: return "a list of strings";
	case LAB_SET_GROUP: return "a group { ... }";
	case LAB_SET_LIST: return "a list of groups ( { ... }, ... )";
	case LAB_SET_MAP: return "a group of named groups { NAME = { ... }; }";
	default: return "(an undeclared type)";
	}
}

static int wrong_type(struct vctx *v, const config_setting_t *s, int want)
{
	config_node_error(v->err, v->errlen, s, NULL, "wrong type: expected %s, got %s",
			  expect_name(want), got_name(config_setting_type(s)));
	return LAB_ECONFIG;
}

/* Edit distance, capped: used only for "did you mean" on short names. */
static size_t distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), row[65];
	if (la > 64 || lb > 64)
		return SIZE_MAX;
	for (size_t j = 0; j <= lb; j++)
		row[j] = j;
	for (size_t i = 1; i <= la; i++) {
		size_t diag = row[0];
		row[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			size_t up = row[j];
			size_t best = diag + (a[i - 1] != b[j - 1]);
			if (row[j] + 1 < best)
				best = row[j] + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			row[j] = best;
			diag = up;
		}
	}
	return row[lb];
}

static const char *suggest(const char *name, const lab_setting *keys, const lab_setting *extra)
{
	const lab_setting *sets[2] = { keys, extra };
	const char *best = NULL;
	size_t bd = 3;
	for (int k = 0; k < 2; k++)
		for (const lab_setting *d = sets[k]; d && d->name; d++) {
			size_t dist = distance(name, d->name);
			if (dist < bd) {
				bd = dist;
				best = d->name;
			}
		}
	return best;
}

static int validate(struct vctx *v, const config_setting_t *g, const lab_setting *keys,
		    const lab_setting *extra, int open);

/* Every element of list s must be a group keyed by `children`. */
static int check_groups(struct vctx *v, const config_setting_t *s, const lab_setting *children,
			int open)
{
	int n = config_setting_length(s);
	for (int i = 0; i < n; i++) {
		const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
		if (!config_setting_is_group(e))
			return wrong_type(v, e, LAB_SET_GROUP);
		int rc = validate(v, e, children, NULL, open);
		if (rc)
			return rc;
	}
	return 0;
}

static int check_value(struct vctx *v, const config_setting_t *s, const lab_setting *d)
{
	int t = config_setting_type(s);
	int64_t secs;
	switch (d->type) {
	case LAB_SET_STRING:
		return t == CONFIG_TYPE_STRING ? check_limits(v, s, d) : wrong_type(v, s, d->type);
	case LAB_SET_INT:
		if (t == CONFIG_TYPE_INT || t == CONFIG_TYPE_INT64)
			return check_limits(v, s, d);
		return wrong_type(v, s, d->type);
	case LAB_SET_BOOL:
		return t == CONFIG_TYPE_BOOL ? 0 : wrong_type(v, s, d->type);
	case LAB_SET_DOUBLE:
		return config_setting_is_number(s) ? 0 : wrong_type(v, s, d->type);
	case LAB_SET_DURATION:
		if (t != CONFIG_TYPE_STRING)
			return wrong_type(v, s, d->type);
		if (decl_duration(d, config_setting_get_string(s), &secs) < 0) {
			config_node_error(v->err, v->errlen, s, NULL, "bad duration: expected %s",
					  (d->flags & LAB_SETTING_MS)
						  ? "<int>(ms|s|m|h|d), e.g. \"250ms\" or \"10s\""
						  : "<int>(s|m|h|d), e.g. \"10s\" or \"-720h\"");
			return LAB_ECONFIG;
		}
		return check_limits(v, s, d);
	case LAB_SET_STRINGS:
		if (t != CONFIG_TYPE_LIST && t != CONFIG_TYPE_ARRAY)
			return wrong_type(v, s, d->type);
		for (int i = 0; i < config_setting_length(s); i++) {
			const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
			if (config_setting_type(e) != CONFIG_TYPE_STRING)
				return wrong_type(v, e, LAB_SET_STRING);
		}
		return check_limits(v, s, d);
	case LAB_SET_GROUP:
		if (t != CONFIG_TYPE_GROUP)
			return wrong_type(v, s, d->type);
		return validate(v, s, d->children, NULL, 0);
	case LAB_SET_LIST:
		/* `[]` is how libconfig spells an empty array; accept it as an empty list. */
		if (t != CONFIG_TYPE_LIST &&
		    !(t == CONFIG_TYPE_ARRAY && config_setting_length(s) == 0))
			return wrong_type(v, s, d->type);
		return check_groups(v, s, d->children, 0);
	case LAB_SET_MAP:
		if (t != CONFIG_TYPE_GROUP)
			return wrong_type(v, s, d->type);
		return check_groups(v, s, d->children, v->host && (d->flags & CFG_HOST_OPEN));
	default:
		config_node_error(v->err, v->errlen, s, NULL, "declared with an unknown type (%d)",
				  d->type);
		return LAB_ECONFIG;
	}
}

static int validate(struct vctx *v, const config_setting_t *g, const lab_setting *keys,
		    const lab_setting *extra, int open)
{
	int n = config_setting_length(g);
	for (int i = 0; i < n; i++) {
		const config_setting_t *m = config_setting_get_elem(g, (unsigned)i);
		const char *name = config_setting_name(m);
		const lab_setting *d = config_decl_find(keys, name);
		if (!d)
			d = config_decl_find(extra, name);
		if (!d) {
			if (open)
				continue;
			const char *hint = name ? suggest(name, keys, extra) : NULL;
			if (hint)
				config_node_error(v->err, v->errlen, m, NULL,
						  "unknown setting (did you mean '%s'?)", hint);
			else
				config_node_error(v->err, v->errlen, m, NULL, "unknown setting");
			return LAB_ECONFIG;
		}
		int rc = check_value(v, m, d);
		if (rc)
			return rc;
	}
	for (const lab_setting *d = keys; d && d->name; d++) {
		if ((d->flags & LAB_SETTING_REQUIRED) &&
		    !config_setting_get_member((config_setting_t *)g, d->name)) {
			config_node_error(v->err, v->errlen, g, d->name,
					  "required setting is missing");
			return LAB_ECONFIG;
		}
	}
	return 0;
}

static int validate_group(const config_setting_t *g, const lab_setting *keys,
			  const lab_setting *extra, int host, const struct plugin_decls *pd,
			  char *err, size_t errlen)
{
	struct vctx v = { err, errlen, host, pd };
	if (!g)
		return LAB_EINVAL;
	if (!config_setting_is_group(g))
		return wrong_type(&v, g, LAB_SET_GROUP);
	return validate(&v, g, keys, extra, 0);
}

int config_validate_group(const config_setting_t *g, const lab_setting *keys,
			  const lab_setting *extra, int host, char *err, size_t errlen)
{
	return validate_group(g, keys, extra, host, NULL, err, errlen);
}

/* ---------------------------------------------------------------- declarations */

static int valid_decl_name(const char *s)
{
	if (!s || !((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z')))
		return 0;
	for (s++; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '_' || *s == '-'))
			return 0;
	return 1;
}

static int valid_default(const lab_setting *d)
{
	char *end;
	int64_t secs;
	if (!d->def)
		return 1;
	switch (d->type) {
	case LAB_SET_INT:
		errno = 0;
		(void)strtoll(d->def, &end, 10);
		return errno == 0 && end != d->def && *end == '\0';
	case LAB_SET_DOUBLE:
		errno = 0;
		(void)strtod(d->def, &end);
		return errno == 0 && end != d->def && *end == '\0';
	case LAB_SET_BOOL:
		return strcmp(d->def, "true") == 0 || strcmp(d->def, "false") == 0;
	case LAB_SET_DURATION:
		return decl_duration(d, d->def, &secs) == 0;
	case LAB_SET_STRING:
		return 1;
	default:
		return 0; /* aggregates take no default */
	}
}

/* The size a bound member of this type must have; 0 = cannot be bound. */
static size_t bind_size_of(int type)
{
	switch (type) {
	case LAB_SET_STRING: return sizeof(const char *);
	case LAB_SET_INT:
	case LAB_SET_DURATION: return sizeof(int64_t);
	case LAB_SET_BOOL: return sizeof(int);
	case LAB_SET_DOUBLE: return sizeof(double);
	default: return 0;
	}
}

/* What is wrong with a 1.1 declaration's checks and binding, or NULL. */
static const char *bad_option(const lab_setting *d, const lab_option *o)
{
	int ordered = d->type == LAB_SET_INT || d->type == LAB_SET_DURATION;
	int64_t x;
	if ((o->has_min || o->has_max) && !ordered)
		return "min/max on a type other than integer or duration";
	if (o->has_min && o->has_max && o->min > o->max)
		return "min is above max";
	if (o->allowed && d->type != LAB_SET_STRING && d->type != LAB_SET_STRINGS)
		return "allowed values on a type other than string or strings";
	if (o->allowed && !o->allowed[0])
		return "empty list of allowed values";
	if ((d->flags & (LAB_SETTING_KEY_PREFIX | LAB_SETTING_KEY_SEGMENT)) &&
	    d->type != LAB_SET_STRING && d->type != LAB_SET_STRINGS)
		return "key rules on a type other than string or strings";
	if ((d->flags & LAB_SETTING_MS) && d->type != LAB_SET_DURATION)
		return "LAB_SETTING_MS on a type other than duration";
	if (d->def && d->type == LAB_SET_STRING && key_rule_broken(d, d->def))
		return "default breaks its key rule";
	if (d->def && ordered) {
		if (d->type == LAB_SET_INT)
			x = strtoll(d->def, NULL, 10); /* checked by valid_default */
		else if (decl_duration(d, d->def, &x) < 0)
			return "default does not match the type";
		if (!in_limits(o, x))
			return "default is outside min/max";
	}
	if (d->def && d->type == LAB_SET_STRING && !is_allowed(o, d->def))
		return "default is not an allowed value";
	if (o->bind_size && !bind_size_of(d->type))
		return "a setting of this type cannot be bound";
	if (o->bind_size && o->bind_size != bind_size_of(d->type))
		return "bound member has the wrong size for the type";
	return NULL;
}

/* A plugin's declarations are code, but checking them turns a plugin bug
 * into a clear refusal instead of surprising defaults. */
static int check_decls(const char *plugin, const lab_setting *keys,
		       const struct plugin_decls *pd, struct buf *path, int depth, char *err,
		       size_t errlen)
{
	if (depth > DECL_MAX_DEPTH) {
		snprintf(err, errlen, "plugin %s: setting '%s': declarations nested too deeply",
			 plugin, path->data ? path->data : "");
		return LAB_ECONFIG;
	}
	for (const lab_setting *d = keys; d && d->name; d++) {
		size_t mark = path->len;
		const char *why = NULL;
		if (path->len)
			buf_putc(path, '.');
		buf_puts(path, d->name);
		if (path->oom)
			return LAB_ENOMEM;
		if (!valid_decl_name(d->name))
			why = "invalid name";
		else if (depth == 0 && config_decl_find(config_plugin_host_keys, d->name))
			why = "reserved for the host";
		else if (config_decl_find(keys, d->name) != d)
			why = "declared twice";
		else if (d->type < LAB_SET_STRING || d->type > LAB_SET_MAP)
			why = "unknown type";
		else if (!valid_default(d))
			why = "default does not match the type";
		else if (plugin_decls_option(pd, d))
			why = bad_option(d, plugin_decls_option(pd, d));
		if (why) {
			snprintf(err, errlen, "plugin %s: setting '%s': bad declaration: %s",
				 plugin, path->data, why);
			return LAB_ECONFIG;
		}
		if (d->type == LAB_SET_GROUP || d->type == LAB_SET_LIST || d->type == LAB_SET_MAP) {
			int rc = check_decls(plugin, d->children, pd, path, depth + 1, err, errlen);
			if (rc)
				return rc;
		}
		path->len = mark;
		path->data[mark] = '\0';
	}
	return 0;
}

int config_validate_plugin(const struct config *c, const struct plugin_conf *p,
			   const lab_setting *settings, char *err, size_t errlen)
{
	struct plugin_decls pd;
	plugin_decls_of_settings(&pd, settings);
	return config_validate_plugin_decls(c, p, &pd, err, errlen);
}

int config_validate_plugin_decls(const struct config *c, const struct plugin_conf *p,
				 const struct plugin_decls *pd, char *err, size_t errlen)
{
	struct buf path = BUF_INIT;
	const lab_setting *settings = pd ? pd->settings : NULL;
	int rc;
	if (!p || !p->name)
		return LAB_EINVAL;
	rc = check_decls(p->name, settings, pd, &path, 0, err, errlen);
	buf_free(&path);
	if (rc)
		return rc;
	if (p->section)
		return validate_group(p->section, settings, config_plugin_host_keys, 0, pd, err,
				      errlen);
	for (const lab_setting *d = settings; d && d->name; d++) {
		if (d->flags & LAB_SETTING_REQUIRED) {
			char where[512];
			snprintf(where, sizeof where, "plugins.%s.%s", p->name, d->name);
			config_error(err, errlen, c ? c->host.file : NULL, 0, where,
				     "required setting is missing (the plugin has no section)");
			return LAB_ECONFIG;
		}
	}
	return 0;
}

/* ---------------------------------------------------------------- describe */

static const char *type_word(int t)
{
	switch (t) {
	case LAB_SET_STRING: return "string";
	case LAB_SET_INT: return "integer";
	case LAB_SET_BOOL: return "bool";
	case LAB_SET_DURATION: return "duration";
	case LAB_SET_DOUBLE: return "number";
	case LAB_SET_STRINGS: return "list of strings";
	case LAB_SET_GROUP: return "group";
	case LAB_SET_LIST: return "list of groups";
	case LAB_SET_MAP: return "map of groups";
	default: return "?";
	}
}

/* Table cells: `|` would end the cell and a newline the row. */
static void cell(FILE *out, const char *s)
{
	for (; s && *s; s++) {
		if (*s == '|')
			fputs("\\|", out);
		else if (*s == '\n' || *s == '\r')
			fputc(' ', out);
		else
			fputc(*s, out);
	}
}

static void describe_rows(FILE *out, const lab_setting *keys, const struct plugin_decls *pd,
			  struct buf *prefix, int depth)
{
	if (depth > DECL_MAX_DEPTH)
		return;
	for (const lab_setting *d = keys; d && d->name; d++) {
		size_t mark = prefix->len;
		buf_puts(prefix, d->name);
		if (prefix->oom)
			return;
		fputs("| `", out);
		cell(out, prefix->data);
		fprintf(out, "` | %s", type_word(d->type));
		const lab_option *o = plugin_decls_option(pd, d);
		if (o && (o->has_min || o->has_max || o->allowed)) {
			struct buf lim = BUF_INIT;
			limits_text(&lim, o, d);
			fputs(", ", out);
			cell(out, lim.data);
			buf_free(&lim);
		}
		if (o && (d->flags & LAB_SETTING_KEY_PREFIX))
			fputs(", storage key prefix", out);
		if (o && (d->flags & LAB_SETTING_KEY_SEGMENT))
			fputs(", key segment `[A-Za-z0-9._-]`", out);
		fputs(" | ", out);
		if (d->flags & LAB_SETTING_REQUIRED)
			fputs("*required*", out);
		else if (d->def) {
			fputs("`", out);
			cell(out, d->def[0] ? d->def : "\"\"");
			fputs("`", out);
		} else {
			fputs("—", out);
		}
		fputs(" | ", out);
		cell(out, d->desc);
		fputs(" |\n", out);
		if (d->type == LAB_SET_GROUP)
			buf_puts(prefix, ".");
		else if (d->type == LAB_SET_LIST)
			buf_puts(prefix, "[].");
		else if (d->type == LAB_SET_MAP)
			buf_puts(prefix, ".<name>.");
		if (d->type == LAB_SET_GROUP || d->type == LAB_SET_LIST || d->type == LAB_SET_MAP)
			describe_rows(out, d->children, pd, prefix, depth + 1);
		prefix->len = mark;
		if (prefix->data)
			prefix->data[mark] = '\0';
	}
}

void config_describe(const char *name, const lab_setting *settings, FILE *out)
{
	struct plugin_decls pd;
	plugin_decls_of_settings(&pd, settings);
	config_describe_decls(name, &pd, out);
}

void config_describe_decls(const char *name, const struct plugin_decls *pd, FILE *out)
{
	const lab_setting *settings = pd ? pd->settings : NULL;
	struct buf prefix = BUF_INIT;
	fprintf(out, "Settings of the section `plugins.%s`. The host also reads `enabled` (bool, "
		     "default `true`), `path` (string, default `plugin_dir/%s.so`) and "
		     "`log_level` (string, default `log.level`).\n\n",
		name, name);
	if (!settings || !settings->name) {
		fputs("This plugin declares no settings.\n", out);
		return;
	}
	fputs("| Setting | Type | Default | Description |\n| --- | --- | --- | --- |\n", out);
	describe_rows(out, settings, pd, &prefix, 0);
	buf_free(&prefix);
}
