/* Loading a plugin image: file checks, dlopen(RTLD_NOW|RTLD_LOCAL) (never
 * uv_dlopen, which is lazy), the entry symbol, and the descriptor checks
 * (magic, ABI major/minor, size, name, required callbacks). */
#ifndef LAB_HOST_PLUGIN_LOADER_H
#define LAB_HOST_PLUGIN_LOADER_H

#include <stddef.h>

#include "lab/plugin.h"
#include "plugin_decls.h"

/* The ABI minor this host provides (tests build a 1.0-only loader with
 * -DLAB_HOST_ABI_MINOR=0). */
#ifndef LAB_HOST_ABI_MINOR
#define LAB_HOST_ABI_MINOR LAB_ABI_MINOR
#endif

struct plugin_image {
	void *dl;
	const lab_plugin *desc;
	char *path;      /* the file as configured */
	char *copy_path; /* private copy actually dlopen()ed, or NULL */
	/* the declared settings (`settings` or `options`), for validation,
	 * the lab_cfg_* getters, lab_cfg_bind and --describe */
	struct plugin_decls decls;
};

/*
 * Open `path` as plugin `name`.  With `private_copy`, the file is first
 * copied to a private file under `copy_dir` (so dlopen cannot hand back a
 * cached image of an older file with the same name).  On failure returns a
 * negative LAB_E* and one line in err naming the plugin and the reason.
 */
int plugin_image_open(const char *name, const char *path, const char *copy_dir,
		      struct plugin_image **out, char *err, size_t errlen);
void plugin_image_close(struct plugin_image *img);

/* A copy of the directory part of `path` ("/" for "/x", "." when there is
 * none); the caller frees it.  NULL when out of memory. */
char *plugin_path_dir(const char *path);
/* Refuse files or directories that others could have written. */
int plugin_check_file(const char *path, char *err, size_t errlen);
/* Descriptor checks alone (also used by tests). */
int plugin_check_descriptor(const lab_plugin *d, const char *name, char *err, size_t errlen);

#endif
