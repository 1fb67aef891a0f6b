/* The two rewrites applied to a freshly read configuration before it is
 * validated: ${NAME} / ${NAME:-default} expansion in every string, and
 * -D key.path=value overrides. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "config.h"
#include "log.h"

/* Identity matters: a config file could be named "-D". */
const char config_override_file[] = CFG_OVERRIDE_FILE;

/* ---------------------------------------------------------------- ${NAME} substitution */

static int var_start(int ch) { return isalpha(ch) || ch == '_'; }
static int var_char(int ch) { return isalnum(ch) || ch == '_'; }

/* Expands s (the value of node) into b.  Errors name the variable, never a
 * value.  With CONFIG_ENV_UNSET_OK an unset variable is a warning and its
 * reference stays as written. */
static int expand(const config_setting_t *node, const char *s, unsigned flags, struct buf *b,
		  char *why, size_t whylen)
{
	while (*s) {
		const char *d = strchr(s, '$');
		if (!d) {
			buf_puts(b, s);
			break;
		}
		buf_append(b, s, (size_t)(d - s));
		if (d[1] != '{') {
			buf_putc(b, '$');
			s = d + 1;
			continue;
		}
		const char *name = d + 2, *p = name, *def = NULL;
		size_t deflen = 0;
		while (var_char((unsigned char)*p))
			p++;
		size_t nlen = (size_t)(p - name);
		if (p[0] == ':' && p[1] == '-') {
			def = p + 2;
			p = strchr(def, '}');
			if (p)
				deflen = (size_t)(p - def);
		}
		if (!p || !strchr(p, '}')) {
			snprintf(why, whylen, "unterminated ${ in string");
			return LAB_ECONFIG;
		}
		if (*p != '}' || nlen == 0 || nlen > 255 || !var_start((unsigned char)name[0])) {
			snprintf(why, whylen,
				 "bad ${NAME} reference (NAME is [A-Za-z_][A-Za-z0-9_]*)");
			return LAB_ECONFIG;
		}
		char var[256];
		memcpy(var, name, nlen);
		var[nlen] = '\0';
		const char *val = getenv(var);
		if (def && (!val || !*val)) {
			buf_append(b, def, deflen);
		} else if (!val && (flags & CONFIG_ENV_UNSET_OK)) {
			char msg[600];
			config_node_error(msg, sizeof msg, node, NULL,
					  "environment variable '%s' is not set here; checked with the text ${%s} instead (the service's environment must set it)",
					  var, var);
			log_kv(LAB_LOG_WARN, NULL, "configuration check: environment variable not set",
			       LAB_FS("detail", msg));
			buf_append(b, d, (size_t)(p + 1 - d));
		} else if (!val) {
			snprintf(why, whylen, "environment variable '%s' is not set", var);
			return LAB_ECONFIG;
		} else {
			buf_puts(b, val);
		}
		s = p + 1;
	}
	return b->oom ? LAB_ENOMEM : 0;
}

static int subst_string(config_setting_t *s, unsigned flags, char *err, size_t errlen)
{
	const char *v = config_setting_get_string(s);
	struct buf b = BUF_INIT;
	char why[320];
	/* -D values were expanded by the shell already; they are taken literally. */
	if (!v || !strstr(v, "${") || config_setting_source_file(s) == config_override_file)
		return 0;
	int rc = expand(s, v, flags, &b, why, sizeof why);
	if (rc == 0 && !config_setting_set_string(s, b.data ? b.data : ""))
		rc = LAB_ENOMEM;
	buf_free(&b);
	if (rc == LAB_ECONFIG)
		config_node_error(err, errlen, s, NULL, "%s", why);
	else if (rc)
		snprintf(err, errlen, "out of memory");
	return rc;
}

/* Recursion depth is bounded by libconfig's parser (a few thousand levels);
 * keep this frame small. */
int config_subst_tree(config_setting_t *s, unsigned flags, char *err, size_t errlen)
{
	if (config_setting_type(s) == CONFIG_TYPE_STRING)
		return subst_string(s, flags, err, errlen);
	if (!config_setting_is_aggregate(s))
		return 0;
	for (int i = 0; i < config_setting_length(s); i++) {
		int rc = config_subst_tree(config_setting_get_elem(s, (unsigned)i), flags, err, errlen);
		if (rc)
			return rc;
	}
	return 0;
}

/* ---------------------------------------------------------------- -D overrides */

static int parse_int(const char *v, long long *out)
{
	char *end;
	int base = (v[0] == '0' && (v[1] == 'x' || v[1] == 'X')) ? 16 : 10;
	if (!*v || isspace((unsigned char)*v))
		return 0;
	errno = 0;
	*out = strtoll(v, &end, base);
	return errno == 0 && end != v && *end == '\0';
}

/* Decimal only (strtod also takes "nan", "inf", hex).  1: has a '.' or an
 * exponent, 0: looks like an integer, -1: not a number. */
static int parse_float(const char *v, double *out)
{
	const char *p = v + (*v == '-' || *v == '+');
	char *end;
	if (!isdigit((unsigned char)*p) && !(*p == '.' && isdigit((unsigned char)p[1])))
		return -1;
	if (strspn(v, "0123456789+-.eE") != strlen(v))
		return -1;
	errno = 0;
	*out = strtod(v, &end);
	if (errno || *end || !isfinite(*out))
		return -1;
	return strpbrk(v, ".eE") != NULL;
}

static int parse_bool(const char *v, int *out)
{
	*out = strcasecmp(v, "true") == 0;
	return *out || strcasecmp(v, "false") == 0;
}

static int quoted(const char *v)
{
	size_t n = strlen(v);
	return n >= 2 && (v[0] == '"' || v[0] == '\'') && v[n - 1] == v[0];
}

/* The libconfig type an unknown -D key gets from its text. */
static int infer_type(const char *v)
{
	long long ll;
	double d;
	int b;
	if (quoted(v))
		return CONFIG_TYPE_STRING;
	if (parse_bool(v, &b))
		return CONFIG_TYPE_BOOL;
	if (parse_int(v, &ll))
		return CONFIG_TYPE_INT64;
	if (parse_float(v, &d) == 1)
		return CONFIG_TYPE_FLOAT;
	return CONFIG_TYPE_STRING;
}

static int decl_type(const lab_setting *d)
{
	switch (d->type) {
	case LAB_SET_STRING:
	case LAB_SET_DURATION: return CONFIG_TYPE_STRING;
	case LAB_SET_INT: return CONFIG_TYPE_INT64;
	case LAB_SET_BOOL: return CONFIG_TYPE_BOOL;
	case LAB_SET_DOUBLE: return CONFIG_TYPE_FLOAT;
	default: return CONFIG_TYPE_GROUP;
	}
}

static void mark_override(config_setting_t *s, unsigned idx)
{
	s->file = config_override_file;
	s->line = idx;
}

/* Copies src (a setting of a scratch config) under dst_parent as `name`
 * (NULL inside lists and arrays), every node marked as coming from -D. */
static int copy_tree(config_setting_t *dst_parent, const char *name, const config_setting_t *src,
		     unsigned idx)
{
	int type = config_setting_type(src);
	config_setting_t *d = config_setting_add(dst_parent, name, type);
	if (!d)
		return -1;
	mark_override(d, idx);
	switch (type) {
	case CONFIG_TYPE_INT: return config_setting_set_int(d, config_setting_get_int(src)) ? 0 : -1;
	case CONFIG_TYPE_INT64:
		return config_setting_set_int64(d, config_setting_get_int64(src)) ? 0 : -1;
	case CONFIG_TYPE_FLOAT:
		return config_setting_set_float(d, config_setting_get_float(src)) ? 0 : -1;
	case CONFIG_TYPE_BOOL: return config_setting_set_bool(d, config_setting_get_bool(src)) ? 0 : -1;
	case CONFIG_TYPE_STRING:
		return config_setting_set_string(d, config_setting_get_string(src)) ? 0 : -1;
	default:
		for (int i = 0; i < config_setting_length(src); i++) {
			const config_setting_t *c = config_setting_get_elem(src, (unsigned)i);
			if (copy_tree(d, type == CONFIG_TYPE_GROUP ? config_setting_name(c) : NULL, c,
				      idx) < 0)
				return -1;
		}
		return 0;
	}
}

static int aggregate_text(const char *v)
{
	v += strspn(v, " \t");
	return *v == '{' || *v == '(' || *v == '[';
}

/* -D a.b={ ... } (or a list/array): the value, in libconfig syntax, replaces
 * the whole setting.  This is how a command line swaps a group whose members
 * exclude each other (beacon's backfill takes one of to_fork, to_slot,
 * to_date): setting one member would leave the file's other one beside it. */
static int set_aggregate(config_setting_t *parent, config_setting_t *s, const char *name,
			 const char *value, unsigned idx, const char *key, char *err, size_t errlen)
{
	struct buf text = BUF_INIT;
	config_t tmp;
	int rc = 0;
	buf_puts(&text, "v = ");
	buf_puts(&text, value);
	buf_puts(&text, ";");
	if (text.oom) {
		buf_free(&text);
		snprintf(err, errlen, "out of memory");
		return LAB_ENOMEM;
	}
	config_init(&tmp);
	if (!config_read_string(&tmp, text.data)) {
		config_error(err, errlen, config_override_file, idx, key, "bad value: %s",
			     config_error_text(&tmp));
		rc = LAB_ECONFIG;
	} else if (s && !config_setting_remove(parent, name)) {
		config_error(err, errlen, config_override_file, idx, key, "cannot replace this setting");
		rc = LAB_ECONFIG;
	} else if (copy_tree(parent, name, config_lookup(&tmp, "v"), idx) < 0) {
		config_error(err, errlen, config_override_file, idx, key, "cannot set this value");
		rc = LAB_ECONFIG;
	}
	config_destroy(&tmp);
	buf_free(&text);
	return rc;
}

/* Sets (creating under parent if s is NULL) the last component of a -D key. */
static int set_value(config_setting_t *parent, config_setting_t *s, const char *name,
		     const lab_setting *decl, const char *value, unsigned idx, const char *key,
		     char *err, size_t errlen)
{
	if (aggregate_text(value))
		return set_aggregate(parent, s, name, value, idx, key, err, errlen);
	int type = s ? config_setting_type(s) : decl ? decl_type(decl) : infer_type(value);
	long long ll = 0;
	double dv = 0;
	int bv = 0;
	char *sv = NULL;
	const char *want = NULL;
	switch (type) {
	case CONFIG_TYPE_INT:
	case CONFIG_TYPE_INT64:
		if (!parse_int(value, &ll))
			want = "an integer";
		break;
	case CONFIG_TYPE_FLOAT:
		if (parse_float(value, &dv) < 0)
			want = "a number";
		break;
	case CONFIG_TYPE_BOOL:
		if (!parse_bool(value, &bv))
			want = "true or false";
		break;
	case CONFIG_TYPE_STRING:
		sv = quoted(value) ? strndup(value + 1, strlen(value) - 2) : strdup(value);
		if (!sv) {
			snprintf(err, errlen, "out of memory");
			return LAB_ENOMEM;
		}
		break;
	default:
		config_error(err, errlen, config_override_file, idx, key,
			     "is a group or list: give the whole value in libconfig syntax, "
			     "e.g. -D 'a.b={ x = 1; }'");
		return LAB_ECONFIG;
	}
	if (want) {
		config_error(err, errlen, config_override_file, idx, key, "wrong type: expected %s", want);
		return LAB_ECONFIG;
	}
	if (!s) {
		if (type == CONFIG_TYPE_INT64 && ll >= INT32_MIN && ll <= INT32_MAX)
			type = CONFIG_TYPE_INT;
		s = config_setting_add(parent, name, type);
		if (!s) {
			free(sv);
			config_error(err, errlen, config_override_file, idx, key, "invalid setting name");
			return LAB_ECONFIG;
		}
	} else if (type == CONFIG_TYPE_INT && (ll < INT32_MIN || ll > INT32_MAX)) {
		s->type = CONFIG_TYPE_INT64; /* libconfig would store 0 in an int */
	}
	int ok;
	switch (config_setting_type(s)) {
	case CONFIG_TYPE_INT: ok = config_setting_set_int(s, (int)ll); break;
	case CONFIG_TYPE_INT64: ok = config_setting_set_int64(s, ll); break;
	case CONFIG_TYPE_FLOAT: ok = config_setting_set_float(s, dv); break;
	case CONFIG_TYPE_BOOL: ok = config_setting_set_bool(s, bv); break;
	default: ok = config_setting_set_string(s, sv); break;
	}
	free(sv);
	if (!ok) {
		config_error(err, errlen, config_override_file, idx, key, "cannot set this value");
		return LAB_ECONFIG;
	}
	mark_override(s, idx);
	return 0;
}

/* Applies "a.b.c=value": missing groups are created; a key unknown to the
 * tree takes its type from the host schema, else from its text. */
int config_apply_override(struct config *c, const lab_setting *host_schema, const char *ov,
			  unsigned idx, char *err, size_t errlen)
{
	const char *eq = strchr(ov, '=');
	if (!eq || eq == ov) {
		config_error(err, errlen, config_override_file, idx, "?", "expected -D key.path=value");
		return LAB_ECONFIG;
	}
	char *key = strndup(ov, (size_t)(eq - ov));
	if (!key) {
		snprintf(err, errlen, "out of memory");
		return LAB_ENOMEM;
	}
	config_setting_t *cur = config_root_setting(&c->cfg);
	const lab_setting *keys = host_schema, *map = NULL, *decl;
	int rc = 0;
	char *comp = key;
	for (;;) {
		char *dot = strchr(comp, '.');
		if (dot)
			*dot = '\0';
		if (!*comp) {
			if (dot)
				*dot = '.';
			config_error(err, errlen, config_override_file, idx, key,
				     "empty name in key path");
			rc = LAB_ECONFIG;
			break;
		}
		if (map) { /* a member of a MAP: its keys are the map's children */
			decl = NULL;
			keys = map->children;
			map = NULL;
		} else {
			decl = config_decl_find(keys, comp);
			keys = decl && decl->type == LAB_SET_GROUP ? decl->children : NULL;
			map = decl && decl->type == LAB_SET_MAP ? decl : NULL;
		}
		config_setting_t *next = config_setting_get_member(cur, comp);
		if (!dot) {
			rc = set_value(cur, next, comp, decl, eq + 1, idx, key, err, errlen);
			break;
		}
		if (!next) {
			next = config_setting_add(cur, comp, CONFIG_TYPE_GROUP);
			if (!next) {
				*dot = '.';
				config_error(err, errlen, config_override_file, idx, key,
					     "invalid setting name");
				rc = LAB_ECONFIG;
				break;
			}
			mark_override(next, idx);
		} else if (!config_setting_is_group(next)) {
			*dot = '.';
			config_error(err, errlen, config_override_file, idx, key,
				     "'%.*s' is not a group", (int)(dot - key), key);
			rc = LAB_ECONFIG;
			break;
		}
		*dot = '.';
		cur = next;
		comp = dot + 1;
	}
	free(key);
	return rc;
}

