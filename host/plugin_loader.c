#include "plugin_loader.h"
#include "plugin_elf.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crash.h"

static int check_owner_mode(const char *what, const char *path, const struct stat *st, char *err,
			    size_t errlen)
{
	if (st->st_mode & (S_IWGRP | S_IWOTH)) {
		snprintf(err, errlen, "%s %s is writable by group or others (mode %03o): refused",
			 what, path, (unsigned)(st->st_mode & 0777));
		return LAB_EPERM;
	}
	if (st->st_uid != 0 && st->st_uid != geteuid()) {
		snprintf(err, errlen, "%s %s is owned by uid %u (neither root nor the daemon user): refused",
			 what, path, (unsigned)st->st_uid);
		return LAB_EPERM;
	}
	return 0;
}

char *plugin_path_dir(const char *path)
{
	char *dir = strdup(path);
	if (!dir)
		return NULL;
	char *slash = strrchr(dir, '/');
	if (slash == dir)
		dir[1] = '\0';
	else if (slash)
		*slash = '\0';
	else
		strcpy(dir, ".");
	return dir;
}

/*
 * Every directory from `dir` (resolved, absolute) up to "/" must be safe,
 * as sshd's StrictModes demands: whoever can write one of them can swap
 * what lies below.  The plugin's own directory must not be writable by
 * group or others at all (a sticky, root-owned dir like /tmp is still
 * unsafe: others can plant a NAME.so before it exists).  Above it, a
 * root-owned sticky directory (/tmp) is allowed: others cannot rename or
 * remove the entries they do not own in it.
 */
static int check_dir_chain(const char *dir, char *err, size_t errlen)
{
	char *d = strdup(dir);
	if (!d)
		return LAB_ENOMEM;
	int rc = 0;
	for (int first = 1;; first = 0) {
		struct stat st;
		if (stat(d, &st) != 0) {
			snprintf(err, errlen, "cannot stat plugin directory %s: %s", d, strerror(errno));
			rc = LAB_EIO;
			break;
		}
		int sticky_root = !first && (st.st_mode & S_ISVTX) && st.st_uid == 0;
		if (!sticky_root) {
			rc = check_owner_mode(first ? "plugin directory" : "directory above the plugin", d,
					      &st, err, errlen);
			if (rc)
				break;
		}
		char *slash = strrchr(d, '/');
		if (!slash || (slash == d && d[1] == '\0'))
			break; /* "/" checked */
		if (slash == d)
			d[1] = '\0';
		else
			*slash = '\0';
	}
	free(d);
	return rc;
}

/* The resolved directory of `path` (without following its last component). */
static int check_dir_of(const char *path, char *err, size_t errlen)
{
	char *dir = plugin_path_dir(path);
	if (!dir)
		return LAB_ENOMEM;
	char *real = realpath(dir, NULL);
	if (!real) {
		snprintf(err, errlen, "cannot resolve plugin directory %s: %s", dir, strerror(errno));
		free(dir);
		return LAB_EIO;
	}
	int rc = check_dir_chain(real, err, errlen);
	free(real);
	free(dir);
	return rc;
}

int plugin_check_file(const char *path, char *err, size_t errlen)
{
	struct stat st;
	/* The file the loader will really open: symlinks resolved. */
	char *real = realpath(path, NULL);
	if (!real || stat(real, &st) != 0) {
		int e = errno;
		snprintf(err, errlen, "cannot open %s: %s", path, strerror(e));
		free(real);
		return e == ENOENT ? LAB_ENOENT : LAB_EIO;
	}
	int rc = 0;
	if (!S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "%s is not a regular file", path);
		rc = LAB_EINVAL;
	}
	if (!rc)
		rc = check_owner_mode("plugin file", real, &st, err, errlen);
	if (!rc)
		rc = check_dir_of(real, err, errlen);
	/* A symlink is only as safe as the directories that hold it. */
	if (!rc && strcmp(real, path) != 0)
		rc = check_dir_of(path, err, errlen);
	free(real);
	return rc;
}

static int valid_plugin_name(const char *s)
{
	if (!s || !*s || strlen(s) > 64)
		return 0;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '_'))
			return 0;
	return 1;
}

/* A 1.1 descriptor field, when the plugin's descriptor is large enough to have it. */
#define DESC_HAS(d, field) ((d)->size >= offsetof(lab_plugin, field) + sizeof((d)->field))

/* The plugin declares `options` and this host reads them (a 1.0 host does not). */
static int uses_options(const lab_plugin *d)
{
	return LAB_HOST_ABI_MINOR >= 1 && DESC_HAS(d, options) && d->options;
}

/* The top-level names a plugin declares may not be the host's keys. */
static const char *reserved_name(const lab_plugin *d)
{
	for (const lab_setting *s = d->settings; s && s->name; s++)
		if (strcmp(s->name, "enabled") == 0 || strcmp(s->name, "path") == 0 ||
		    strcmp(s->name, "log_level") == 0)
			return s->name;
	if (!uses_options(d))
		return NULL; /* check_options() has checked option_size */
	for (const char *o = (const char *)d->options;; o += d->option_size) {
		const char *n = ((const lab_option *)(const void *)o)->name;
		if (!n)
			return NULL;
		if (strcmp(n, "enabled") == 0 || strcmp(n, "path") == 0 ||
		    strcmp(n, "log_level") == 0)
			return n;
	}
}

/* The ABI 1.1 descriptor fields: `options` needs minor 1, excludes
 * `settings` and is read with a stride of at least 1.1's lab_option. */
static int check_options(const lab_plugin *d, const char *name, char *err, size_t errlen)
{
	if (!uses_options(d))
		return 0;
	if (d->abi_minor < 1) {
		snprintf(err, errlen,
			 "plugin %s: declares `options` (ABI 1.1) but says it needs ABI %u.%u: define LAB_PLUGIN_MIN_ABI_MINOR 1 before including lab/plugin.h",
			 name, d->abi_major, d->abi_minor);
		return LAB_EABI;
	}
	if (d->settings) {
		snprintf(err, errlen, "plugin %s: declares both `settings` and `options`", name);
		return LAB_EABI;
	}
	if (!DESC_HAS(d, option_size) || d->option_size < LAB_OPTION_SIZE_V1_1 ||
	    d->option_size % sizeof(void *) != 0) {
		snprintf(err, errlen, "plugin %s: option_size %u is not a 1.1 lab_option size (%zu)",
			 name, DESC_HAS(d, option_size) ? (unsigned)d->option_size : 0u,
			 (size_t)LAB_OPTION_SIZE_V1_1);
		return LAB_EABI;
	}
	return 0;
}

int plugin_check_descriptor(const lab_plugin *d, const char *name, char *err, size_t errlen)
{
	if (!d) {
		snprintf(err, errlen, "plugin %s: lab_plugin_entry() returned NULL", name);
		return LAB_EABI;
	}
	if (d->magic != LAB_PLUGIN_MAGIC) {
		snprintf(err, errlen, "plugin %s: bad descriptor magic 0x%08x (expected 0x%08x): not a labd plugin",
			 name, (unsigned)d->magic, (unsigned)LAB_PLUGIN_MAGIC);
		return LAB_EABI;
	}
	if (d->abi_major != LAB_ABI_MAJOR) {
		snprintf(err, errlen,
			 "plugin %s: ABI %u.%u is incompatible with this host's ABI %d.%d (major versions differ): rebuild the plugin against SDK %d.x",
			 name, d->abi_major, d->abi_minor, LAB_ABI_MAJOR, LAB_ABI_MINOR, LAB_ABI_MAJOR);
		return LAB_EABI;
	}
	if (d->abi_minor > LAB_HOST_ABI_MINOR) {
		snprintf(err, errlen,
			 "plugin %s: needs ABI %u.%u but this host provides %d.%d: upgrade labd",
			 name, d->abi_major, d->abi_minor, LAB_ABI_MAJOR, LAB_HOST_ABI_MINOR);
		return LAB_EABI;
	}
	if (d->size < LAB_PLUGIN_SIZE_V1_0) {
		snprintf(err, errlen, "plugin %s: descriptor size %u is smaller than ABI 1.0's %zu",
			 name, (unsigned)d->size, (size_t)LAB_PLUGIN_SIZE_V1_0);
		return LAB_EABI;
	}
	if (!valid_plugin_name(d->name)) {
		snprintf(err, errlen, "plugin %s: descriptor name is missing or not [a-z0-9_]+", name);
		return LAB_EABI;
	}
	if (strcmp(d->name, name) != 0) {
		snprintf(err, errlen, "plugin %s: the file is plugin '%s', not '%s'", name, d->name,
			 name);
		return LAB_EABI;
	}
	if (!d->init || !d->start || !d->stop || !d->destroy) {
		snprintf(err, errlen, "plugin %s: descriptor lacks a required callback (init, start, stop, destroy)",
			 name);
		return LAB_EABI;
	}
	if (!d->version || !*d->version) {
		snprintf(err, errlen, "plugin %s: descriptor has no version", name);
		return LAB_EABI;
	}
	int rc = check_options(d, name, err, errlen);
	if (rc)
		return rc;
	const char *reserved = reserved_name(d);
	if (reserved) {
		snprintf(err, errlen, "plugin %s: declares the host's setting '%s'", name, reserved);
		return LAB_EABI;
	}
	return 0;
}

static int copy_file(const char *src, const char *dst, char *err, size_t errlen)
{
	int in = open(src, O_RDONLY | O_CLOEXEC);
	if (in < 0) {
		snprintf(err, errlen, "cannot open %s: %s", src, strerror(errno));
		return LAB_EIO;
	}
	int out = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0700);
	if (out < 0) {
		snprintf(err, errlen, "cannot create %s: %s", dst, strerror(errno));
		close(in);
		return LAB_EIO;
	}
	char buf[65536];
	int rc = 0;
	for (;;) {
		ssize_t n = read(in, buf, sizeof buf);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			snprintf(err, errlen, "cannot read %s: %s", src, strerror(errno));
			rc = LAB_EIO;
			break;
		}
		if (n == 0)
			break;
		for (ssize_t off = 0; off < n;) {
			ssize_t w = write(out, buf + off, (size_t)(n - off));
			if (w < 0 && errno == EINTR)
				continue;
			if (w < 0) {
				snprintf(err, errlen, "cannot write %s: %s", dst, strerror(errno));
				rc = LAB_EIO;
				goto done;
			}
			off += w;
		}
	}
done:
	close(in);
	if (close(out) != 0 && rc == 0) {
		snprintf(err, errlen, "cannot write %s: %s", dst, strerror(errno));
		rc = LAB_EIO;
	}
	if (rc)
		unlink(dst);
	return rc;
}

static int check_elf(const char *path, char *err, size_t errlen)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(err, errlen, "cannot open: %s", strerror(errno));
		return LAB_EIO;
	}
	int rc = plugin_elf_check_fd(fd, err, errlen);
	close(fd);
	return rc;
}

int plugin_image_open(const char *name, const char *path, const char *copy_dir,
		      struct plugin_image **out, char *err, size_t errlen)
{
	static atomic_uint seq;
	char reason[512];
	int rc = plugin_check_file(path, reason, sizeof reason);
	if (rc) {
		snprintf(err, errlen, "plugin %s: %s", name, reason);
		return rc;
	}
	struct plugin_image *img = calloc(1, sizeof *img);
	if (!img || !(img->path = strdup(path))) {
		free(img);
		return LAB_ENOMEM;
	}
	const char *load = path;
	if (copy_dir) {
		size_t n = strlen(copy_dir) + strlen(name) + 64;
		img->copy_path = malloc(n);
		if (!img->copy_path) {
			rc = LAB_ENOMEM;
			goto fail;
		}
		snprintf(img->copy_path, n, "%s/%s.%ld.%u.so", copy_dir, name, (long)getpid(),
			 atomic_fetch_add(&seq, 1));
		rc = copy_file(path, img->copy_path, reason, sizeof reason);
		if (rc) {
			snprintf(err, errlen, "plugin %s: %s", name, reason);
			free(img->copy_path);
			img->copy_path = NULL;
			goto fail;
		}
		load = img->copy_path;
	}
	/* The copy is ours and no longer changes; without one (-t, --once,
	 * --describe) the file is checked as it is now. */
	rc = check_elf(load, reason, sizeof reason);
	if (rc) {
		snprintf(err, errlen, "plugin %s: %s: %s", name, path, reason);
		goto fail;
	}
	dlerror();
	/* dlopen runs the plugin's constructors: its code too. */
	CRASH_CALL(name, "load (constructors)", img->dl = dlopen(load, RTLD_NOW | RTLD_LOCAL));
	if (!img->dl) {
		const char *e = dlerror();
		snprintf(err, errlen, "plugin %s: cannot load %s: %s", name, path, e ? e : "unknown");
		rc = LAB_EABI;
		goto fail;
	}
	const lab_plugin *(*entry)(void);
	*(void **)&entry = dlsym(img->dl, LAB_PLUGIN_ENTRY_SYMBOL);
	if (!entry) {
		snprintf(err, errlen, "plugin %s: %s does not export %s()", name, path,
			 LAB_PLUGIN_ENTRY_SYMBOL);
		rc = LAB_EABI;
		goto fail;
	}
	CRASH_CALL(name, "lab_plugin_entry", img->desc = entry());
	rc = plugin_check_descriptor(img->desc, name, err, errlen);
	if (rc)
		goto fail;
	if (uses_options(img->desc))
		rc = plugin_decls_of_options(&img->decls, img->desc->options,
					     img->desc->option_size, PLUGIN_DECL_MAX_DEPTH + 1);
	else
		plugin_decls_of_settings(&img->decls, img->desc->settings);
	if (rc)
		goto fail;
	*out = img;
	return 0;
fail:
	plugin_image_close(img);
	return rc;
}

void plugin_image_close(struct plugin_image *img)
{
	if (!img)
		return;
	plugin_decls_free(&img->decls);
	if (img->dl)
		dlclose(img->dl);
	if (img->copy_path) {
		unlink(img->copy_path);
		free(img->copy_path);
	}
	free(img->path);
	free(img);
}
