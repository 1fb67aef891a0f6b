/* A plugin's setting declarations as the host uses them.  The config code
 * (validation, getters, --describe) walks lab_setting trees; a 1.1 plugin
 * declares lab_option trees instead (the same six members plus checks and
 * binding), read with the stride the plugin was built with.  plugin_decls
 * holds the lab_setting view of either, and for options a host-stride copy
 * of each option laid out in parallel with its lab_setting, so the checks of
 * a declaration are found in O(1) from the declaration itself. */
#ifndef LAB_HOST_PLUGIN_DECLS_H
#define LAB_HOST_PLUGIN_DECLS_H

#include <stddef.h>

#include "lab/plugin.h"

/* Deeper declarations are refused (a table may refer to itself). */
#define PLUGIN_DECL_MAX_DEPTH 16

struct plugin_decls {
	const lab_setting *settings; /* the tree the config code walks; NULL = none */
	lab_setting *set_mem;        /* options only: every converted entry, ... */
	lab_option *opt_mem;         /* ... and its option at the same index */
	size_t n;                    /* entries in set_mem / opt_mem */
};

/* The view of a 1.0 `settings` tree (nothing is copied; no checks). */
void plugin_decls_of_settings(struct plugin_decls *pd, const lab_setting *settings);

/* Copy a 1.1 `options` tree read with `stride` (>= LAB_OPTION_SIZE_V1_1;
 * members beyond sizeof(lab_option) are ignored, missing ones read as 0).
 * Declarations nested deeper than `max_depth` are cut off (the declaration
 * check reports them).  LAB_ENOMEM or 0. */
int plugin_decls_of_options(struct plugin_decls *pd, const lab_option *options, size_t stride,
			    int max_depth);
void plugin_decls_free(struct plugin_decls *pd);

/* The option of declaration `d`, or NULL (1.0 tables, the host's schema). */
const lab_option *plugin_decls_option(const struct plugin_decls *pd, const lab_setting *d);

#endif
