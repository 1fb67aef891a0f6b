/* See plugin_decls.h. */
#include "plugin_decls.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

void plugin_decls_of_settings(struct plugin_decls *pd, const lab_setting *settings)
{
	memset(pd, 0, sizeof *pd);
	pd->settings = settings;
}

static const lab_option *opt_at(const lab_option *level, size_t stride, size_t i)
{
	return (const lab_option *)(const void *)((const char *)level + i * stride);
}

/* Entries of the level (its terminator included) and of every level below. */
static size_t count(const lab_option *level, size_t stride, int depth)
{
	size_t n = 1;
	if (!level || depth < 0)
		return 0;
	for (size_t i = 0; opt_at(level, stride, i)->name; i++) {
		const lab_option *o = opt_at(level, stride, i);
		n++;
		if (o->children)
			n += count(o->children, stride, depth - 1);
	}
	return n;
}

/* Fills the level starting at *next; returns its first lab_setting. */
static lab_setting *fill(struct plugin_decls *pd, const lab_option *level, size_t stride,
			 size_t *next, int depth)
{
	size_t len = 0, base = *next;
	while (opt_at(level, stride, len)->name)
		len++;
	*next += len + 1; /* this level's entries and terminator, then the levels below */
	for (size_t i = 0; i <= len; i++) {
		lab_option *o = &pd->opt_mem[base + i];
		lab_setting *s = &pd->set_mem[base + i];
		memcpy(o, opt_at(level, stride, i), stride < sizeof *o ? stride : sizeof *o);
		if (stride < sizeof *o)
			memset((char *)o + stride, 0, sizeof *o - stride);
		if (i == len) {
			memset(o, 0, sizeof *o);
			memset(s, 0, sizeof *s);
			break;
		}
		const lab_setting *kids = NULL;
		if (o->children && depth > 0)
			kids = fill(pd, o->children, stride, next, depth - 1);
		o->children = NULL; /* the host walks the lab_setting tree only */
		*s = (lab_setting){ .name = o->name, .type = o->type, .def = o->def, .desc = o->desc,
				    .children = kids, .flags = o->flags };
	}
	return &pd->set_mem[base];
}

int plugin_decls_of_options(struct plugin_decls *pd, const lab_option *options, size_t stride,
			    int max_depth)
{
	memset(pd, 0, sizeof *pd);
	if (!options)
		return 0;
	size_t n = count(options, stride, max_depth);
	pd->set_mem = calloc(n, sizeof *pd->set_mem);
	pd->opt_mem = calloc(n, sizeof *pd->opt_mem);
	if (!pd->set_mem || !pd->opt_mem) {
		plugin_decls_free(pd);
		return LAB_ENOMEM;
	}
	size_t next = 0;
	pd->settings = fill(pd, options, stride, &next, max_depth);
	pd->n = n;
	return 0;
}

void plugin_decls_free(struct plugin_decls *pd)
{
	free(pd->set_mem);
	free(pd->opt_mem);
	memset(pd, 0, sizeof *pd);
}

const lab_option *plugin_decls_option(const struct plugin_decls *pd, const lab_setting *d)
{
	if (!pd || !pd->set_mem || !d)
		return NULL;
	/* Compare addresses as integers: d may point into another array. */
	uintptr_t a = (uintptr_t)d, lo = (uintptr_t)pd->set_mem;
	if (a < lo || a >= lo + pd->n * sizeof *pd->set_mem)
		return NULL;
	return &pd->opt_mem[(a - lo) / sizeof *pd->set_mem];
}
