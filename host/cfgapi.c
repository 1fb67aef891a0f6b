/* The plugin-facing configuration getters (lab_cfg_* in lab/plugin.h).  A
 * lab_cfg is a config_setting_t of the plugin's section.  A setting absent
 * from the file yields the default declared in the plugin's settings map;
 * the declaration of a node is found by walking from the section down, where
 * LIST elements and MAP members take the `children` of their LIST/MAP. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

/* Deeper than any sane declaration; bounds the walk up to the section. */
#define MAX_DEPTH 64

/* Where a node sits in the declarations. */
struct spos {
	const lab_setting *decl; /* the node's own (NULL: section, element, member, unknown) */
	const lab_setting *keys; /* declarations of its named children */
};

struct res {
	const config_setting_t *node; /* NULL: not in the file */
	const config_setting_t *last; /* deepest node of the path that exists */
	struct spos pos;
};

static struct spos step_member(struct spos p, const char *name)
{
	struct spos r = { NULL, NULL };
	if (p.decl && p.decl->type == LAB_SET_MAP) {
		r.keys = p.decl->children;
		return r;
	}
	if (p.decl && p.decl->type != LAB_SET_GROUP)
		return r;
	r.decl = config_decl_find(p.keys, name);
	if (r.decl && r.decl->type == LAB_SET_GROUP)
		r.keys = r.decl->children;
	return r;
}

static struct spos step_elem(struct spos p)
{
	struct spos r = { NULL, NULL };
	if (p.decl && (p.decl->type == LAB_SET_LIST || p.decl->type == LAB_SET_MAP))
		r.keys = p.decl->children;
	return r;
}

static struct spos pos_of(const config_setting_t *section, const lab_setting *settings,
			  const config_setting_t *n, int depth)
{
	struct spos unknown = { NULL, NULL };
	if (n == section)
		return (struct spos){ NULL, settings };
	const config_setting_t *parent = config_setting_parent(n);
	if (!parent || depth > MAX_DEPTH)
		return unknown;
	struct spos pp = pos_of(section, settings, parent, depth + 1);
	if (config_setting_is_list(parent) || config_setting_is_array(parent))
		return step_elem(pp);
	return step_member(pp, config_setting_name(n));
}

static int resolve(const config_setting_t *section, const lab_setting *settings,
		   const lab_cfg *node, const char *path, struct res *r)
{
	const config_setting_t *cur = node ? (const config_setting_t *)node : section;
	char comp[256];
	r->pos = node ? pos_of(section, settings, cur, 0) : (struct spos){ NULL, settings };
	r->last = cur;
	for (const char *p = path ? path : ""; *p;) {
		size_t n = strcspn(p, ".");
		if (n == 0 || n >= sizeof comp)
			return LAB_EINVAL;
		memcpy(comp, p, n);
		comp[n] = '\0';
		if (cur) {
			if (!config_setting_is_group(cur))
				return LAB_EINVAL;
			cur = config_setting_get_member((config_setting_t *)cur, comp);
			if (cur)
				r->last = cur;
		}
		r->pos = step_member(r->pos, comp);
		p += n;
		if (*p == '.' && !*++p)
			return LAB_EINVAL;
	}
	r->node = cur;
	return 0;
}

/* The declared default of a missing setting, if its type is one of a/b. */
static int default_of(const struct res *r, int a, int b, const char **def)
{
	const lab_setting *d = r->pos.decl;
	if (!d || !d->def)
		return LAB_ENOENT;
	if (d->type != a && d->type != b)
		return LAB_EINVAL;
	*def = d->def;
	return 0;
}

#define CT(x) (1u << CONFIG_TYPE_##x) /* a libconfig type as a bit of typed_node()'s mask */

/* What every getter does before converting: LAB_EINVAL without `out`, find
 * the setting, then either r->node (in the file; its libconfig type must be
 * one of the bits in `types`) or, when it is not in the file, *def (the
 * declared default, whose declared type must be def_a or def_b). */
static int typed_node(const config_setting_t *section, const lab_setting *settings,
		      const lab_cfg *node, const char *path, const void *out, unsigned types,
		      int def_a, int def_b, struct res *r, const char **def)
{
	int rc;
	if (!out)
		return LAB_EINVAL;
	if ((rc = resolve(section, settings, node, path, r)))
		return rc;
	if (!r->node)
		return default_of(r, def_a, def_b, def);
	int t = config_setting_type(r->node);
	if (t < 0 || t >= 32 || !(types & (1u << t)))
		return LAB_EINVAL;
	return 0;
}

/* A declared numeric default (int when i is set, else double); the whole
 * text must be the number.  Nothing is stored on LAB_EINVAL. */
static int number_of(const char *def, int64_t *i, double *f)
{
	char *end;
	long long iv = 0;
	double fv = 0;
	errno = 0;
	if (i)
		iv = strtoll(def, &end, 10);
	else
		fv = strtod(def, &end);
	if (errno || end == def || *end)
		return LAB_EINVAL;
	if (i)
		*i = iv;
	else
		*f = fv;
	return 0;
}

int cfgapi_string(const config_setting_t *section, const lab_setting *settings,
		  const lab_cfg *node, const char *path, const char **out)
{
	struct res r;
	const char *def;
	int rc = typed_node(section, settings, node, path, out, CT(STRING), LAB_SET_STRING,
			    LAB_SET_DURATION, &r, &def);
	if (rc == 0)
		*out = r.node ? config_setting_get_string(r.node) : def;
	return rc;
}

int cfgapi_int(const config_setting_t *section, const lab_setting *settings, const lab_cfg *node,
	       const char *path, int64_t *out)
{
	struct res r;
	const char *def;
	int rc = typed_node(section, settings, node, path, out, CT(INT) | CT(INT64), LAB_SET_INT,
			    LAB_SET_INT, &r, &def);
	if (rc)
		return rc;
	if (!r.node)
		return number_of(def, out, NULL);
	*out = config_setting_get_int64(r.node);
	return 0;
}

int cfgapi_bool(const config_setting_t *section, const lab_setting *settings, const lab_cfg *node,
		const char *path, int *out)
{
	struct res r;
	const char *def;
	int rc = typed_node(section, settings, node, path, out, CT(BOOL), LAB_SET_BOOL,
			    LAB_SET_BOOL, &r, &def);
	if (rc)
		return rc;
	if (r.node)
		*out = config_setting_get_bool(r.node) ? 1 : 0;
	else if (strcmp(def, "true") == 0)
		*out = 1;
	else if (strcmp(def, "false") == 0)
		*out = 0;
	else
		return LAB_EINVAL;
	return 0;
}

int cfgapi_double(const config_setting_t *section, const lab_setting *settings,
		  const lab_cfg *node, const char *path, double *out)
{
	struct res r;
	const char *def;
	int rc = typed_node(section, settings, node, path, out, CT(FLOAT) | CT(INT) | CT(INT64),
			    LAB_SET_DOUBLE, LAB_SET_INT, &r, &def);
	if (rc)
		return rc;
	if (!r.node)
		return number_of(def, NULL, out);
	if (config_setting_type(r.node) == CONFIG_TYPE_FLOAT)
		*out = config_setting_get_float(r.node);
	else
		*out = (double)config_setting_get_int64(r.node);
	return 0;
}

/* The duration text of a DURATION setting (from the file or the default). */
static int duration_text(const config_setting_t *section, const lab_setting *settings,
			 const lab_cfg *node, const char *path, const void *out, const char **s)
{
	struct res r;
	int rc = typed_node(section, settings, node, path, out, CT(STRING), LAB_SET_DURATION,
			    LAB_SET_STRING, &r, s);
	if (rc == 0 && r.node)
		*s = config_setting_get_string(r.node);
	return rc;
}

int cfgapi_duration_ms(const config_setting_t *section, const lab_setting *settings,
		       const lab_cfg *node, const char *path, int64_t *ms)
{
	const char *s;
	int64_t v;
	int rc = duration_text(section, settings, node, path, ms, &s);
	if (rc)
		return rc;
	if ((rc = config_parse_duration_ms(s, &v)) < 0)
		return rc;
	*ms = v;
	return 0;
}

int cfgapi_duration(const config_setting_t *section, const lab_setting *settings,
		    const lab_cfg *node, const char *path, int64_t *seconds)
{
	const char *s;
	int64_t v;
	int rc = duration_text(section, settings, node, path, seconds, &s);
	if (rc)
		return rc;
	if (config_parse_duration(s, &v) == 0) {
		*seconds = v;
		return 0;
	}
	if (config_parse_duration_ms(s, &v) < 0)
		return LAB_EINVAL;
	if (v % 1000)
		return LAB_ERANGE; /* "250ms": read it with lab_cfg_duration_ms */
	*seconds = v / 1000;
	return 0;
}

int cfgapi_count(const config_setting_t *section, const lab_cfg *node, const char *path)
{
	struct res r;
	int rc = resolve(section, NULL, node, path, &r);
	if (rc)
		return rc;
	if (!r.node)
		return 0;
	if (!config_setting_is_aggregate(r.node))
		return LAB_EINVAL;
	return config_setting_length(r.node);
}

int cfgapi_elem(const config_setting_t *section, const lab_cfg *node, const char *path, int index,
		const lab_cfg **out)
{
	struct res r;
	int rc;
	if (!out)
		return LAB_EINVAL;
	if ((rc = resolve(section, NULL, node, path, &r)))
		return rc;
	if (!r.node)
		return LAB_ENOENT;
	if (!config_setting_is_aggregate(r.node))
		return LAB_EINVAL;
	if (index < 0 || index >= config_setting_length(r.node))
		return LAB_ERANGE;
	*out = (const lab_cfg *)config_setting_get_elem(r.node, (unsigned)index);
	return 0;
}

const char *cfgapi_name(const lab_cfg *node)
{
	return node ? config_setting_name((const config_setting_t *)node) : NULL;
}

static const char *file_of(const config_setting_t *n)
{
	const char *f = config_setting_source_file(n);
	if (!f && n->config && n->config->root)
		f = config_setting_source_file(n->config->root);
	return f ? f : "(default)";
}

int cfgapi_where(const config_setting_t *section, const lab_cfg *node, const char *path,
		 const char **file, int *line)
{
	struct res r;
	int rc;
	if (!file || !line)
		return LAB_EINVAL;
	if ((rc = resolve(section, NULL, node, path, &r)))
		return rc;
	if (r.node) {
		*file = file_of(r.node);
		*line = (int)config_setting_source_line(r.node);
	} else {
		/* A default: name the file the section lives in, line 0. */
		*file = r.last ? file_of(r.last) : "(default)";
		*line = 0;
	}
	return 0;
}

/* ---------------------------------------------------------------- bind */

/* Store one bound setting at base + bind_offset; a setting without value or
 * default leaves the member as it is. */
static int bind_one(const config_setting_t *section, const lab_setting *settings,
		    const lab_cfg *node, const char *path, const lab_setting *d,
		    const lab_option *o, char *dst)
{
	int rc = LAB_EINVAL;
	union {
		const char *s;
		int64_t i;
		int b;
		double f;
	} v;
	switch (d->type) {
	case LAB_SET_STRING: rc = cfgapi_string(section, settings, node, path, &v.s); break;
	case LAB_SET_INT: rc = cfgapi_int(section, settings, node, path, &v.i); break;
	case LAB_SET_DURATION:
		rc = (d->flags & LAB_SETTING_MS) ? cfgapi_duration_ms(section, settings, node, path, &v.i)
						 : cfgapi_duration(section, settings, node, path, &v.i);
		break;
	case LAB_SET_BOOL: rc = cfgapi_bool(section, settings, node, path, &v.b); break;
	case LAB_SET_DOUBLE: rc = cfgapi_double(section, settings, node, path, &v.f); break;
	default: break;
	}
	if (rc == LAB_ENOENT)
		return 0;
	if (rc == 0)
		memcpy(dst + o->bind_offset, &v, o->bind_size); /* size checked at load */
	return rc;
}

static int bind_level(const config_setting_t *section, const struct plugin_decls *pd,
		      const lab_cfg *node, const lab_setting *keys, char *path, size_t plen,
		      char *base, int depth)
{
	if (depth > MAX_DEPTH)
		return LAB_EINVAL;
	for (const lab_setting *d = keys; d && d->name; d++) {
		size_t n = strlen(d->name);
		if (plen + n + 2 > 256)
			return LAB_EINVAL;
		memcpy(path + plen, d->name, n + 1);
		int rc = 0;
		const lab_option *o = plugin_decls_option(pd, d);
		if (d->type == LAB_SET_GROUP) {
			path[plen + n] = '.';
			rc = bind_level(section, pd, node, d->children, path, plen + n + 1, base,
					depth + 1);
		} else if (o && o->bind_size) {
			rc = bind_one(section, pd->settings, node, path, d, o, base);
		}
		if (rc)
			return rc;
	}
	return 0;
}

int cfgapi_bind(const config_setting_t *section, const struct plugin_decls *pd,
		const lab_cfg *node, void *base)
{
	struct res r;
	char path[256];
	int rc;
	if (!base || !pd)
		return LAB_EINVAL;
	if ((rc = resolve(section, pd->settings, node, NULL, &r)))
		return rc;
	return bind_level(section, pd, node, r.pos.keys, path, 0, base, 0);
}

/* ---------------------------------------------------------------- errors */

void cfgapi_error(const config_setting_t *section, const lab_setting *settings,
		  const char *plugin, const lab_cfg *node, const char *path, const char *msg,
		  char *err, size_t errlen)
{
	struct res r;
	const config_setting_t *at = node ? (const config_setting_t *)node : section;
	if (!at) { /* the plugin has no section: name the setting, no line */
		char where[512];
		snprintf(where, sizeof where, "plugins.%s%s%s", plugin ? plugin : "?",
			 path && *path ? "." : "", path ? path : "");
		config_error(err, errlen, NULL, 0, where, "%s", msg);
		return;
	}
	if (resolve(section, settings, node, path, &r) == 0 && r.node)
		config_node_error(err, errlen, r.node, NULL, "%s", msg);
	else
		config_node_error(err, errlen, at, path && *path ? path : NULL, "%s", msg);
}
