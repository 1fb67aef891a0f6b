/* Loader refusals against real shared objects built by the test suite. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "plugin_loader.h"

static char tmpdir[256];
static char err[1024];

static const char *built(const char *name)
{
	static char path[1024];
	snprintf(path, sizeof path, "%s/tests/plugins/.libs/%s.so", TEST_BUILDDIR, name);
	return path;
}

/* Copies a built plugin into a private 0755 directory (the build tree's
 * permissions depend on the umask of whoever built it). */
static const char *staged(const char *name, mode_t mode)
{
	static char path[1024];
	char cmd[3400];
	snprintf(path, sizeof path, "%s/%s.so", tmpdir, name);
	snprintf(cmd, sizeof cmd, "rm -f '%s' && cp '%s' '%s'", path, built(name), path);
	assert_int_equal(system(cmd), 0);
	assert_int_equal(chmod(path, mode), 0);
	return path;
}

static int setup(void **st)
{
	snprintf(tmpdir, sizeof tmpdir, "/tmp/labd-loader-XXXXXX");
	assert_non_null(mkdtemp(tmpdir));
	assert_int_equal(chmod(tmpdir, 0755), 0);
	return 0;
}

static int teardown(void **st)
{
	char cmd[300];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

static int open_as(const char *name, const char *path, struct plugin_image **img)
{
	err[0] = '\0';
	*img = NULL;
	return plugin_image_open(name, path, NULL, img, err, sizeof err);
}

static void test_good(void **st)
{
	struct plugin_image *img;
	assert_int_equal(open_as("lifecycle", staged("lifecycle", 0644), &img), 0);
	assert_non_null(img);
	assert_string_equal(img->desc->name, "lifecycle");
	assert_string_equal(img->desc->version, "2.3.4");
	plugin_image_close(img);
}

static void test_bad_magic(void **st)
{
	struct plugin_image *img;
	assert_int_equal(open_as("badmagic", staged("badmagic", 0644), &img), LAB_EABI);
	assert_null(img);
	assert_non_null(strstr(err, "plugin badmagic: bad descriptor magic 0xdeadbeef"));
}

static void test_bad_major(void **st)
{
	struct plugin_image *img;
	char want[64];
	assert_int_equal(open_as("badmajor", staged("badmajor", 0644), &img), LAB_EABI);
	snprintf(want, sizeof want, "ABI %d.%d is incompatible with this host's ABI %d.%d",
		 LAB_ABI_MAJOR + 1, LAB_ABI_MINOR, LAB_ABI_MAJOR, LAB_ABI_MINOR);
	assert_non_null(strstr(err, "plugin badmajor"));
	assert_non_null(strstr(err, want));
}

static void test_new_minor(void **st)
{
	struct plugin_image *img;
	char want[64];
	assert_int_equal(open_as("newminor", staged("newminor", 0644), &img), LAB_EABI);
	snprintf(want, sizeof want, "needs ABI %d.%d but this host provides %d.%d", LAB_ABI_MAJOR,
		 LAB_ABI_MINOR + 1, LAB_ABI_MAJOR, LAB_ABI_MINOR);
	assert_non_null(strstr(err, want));
}

static void test_wrong_name(void **st)
{
	struct plugin_image *img;
	assert_int_equal(open_as("wrongname", staged("wrongname", 0644), &img), LAB_EABI);
	assert_non_null(strstr(err, "the file is plugin 'someoneelse', not 'wrongname'"));
}

static void test_no_symbol(void **st)
{
	struct plugin_image *img;
	assert_int_equal(open_as("nosymbol", staged("nosymbol", 0644), &img), LAB_EABI);
	assert_non_null(strstr(err, "does not export lab_plugin_entry()"));
}

static void test_missing(void **st)
{
	struct plugin_image *img;
	char path[512];
	snprintf(path, sizeof path, "%s/absent.so", tmpdir);
	assert_int_equal(open_as("absent", path, &img), LAB_ENOENT);
	assert_non_null(strstr(err, "No such file"));
}

static void test_garbage_file(void **st)
{
	struct plugin_image *img;
	char path[512];
	snprintf(path, sizeof path, "%s/garbage.so", tmpdir);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs("\x7f" "ELF this is not really a shared object", f);
	fclose(f);
	assert_int_equal(open_as("garbage", path, &img), LAB_EABI);
	assert_non_null(strstr(err, "not a loadable shared object"));
}

/* Issue 15 finding 1: dlopen of a truncated file mapped segments past its
 * end and the first touch killed the process with SIGBUS.  Every prefix
 * length that cuts a segment must be refused with a message, and the
 * private copy must not be left behind. */
static void test_truncated(void **st)
{
	struct plugin_image *img;
	char copies[512], path[512], cmd[4096];
	struct stat sb;
	snprintf(copies, sizeof copies, "%s/copies-trunc", tmpdir);
	assert_int_equal(mkdir(copies, 0700), 0);
	assert_int_equal(stat(built("lifecycle"), &sb), 0);
	snprintf(path, sizeof path, "%s/lifecycle.so", tmpdir);
	const long cuts[] = { 0, 10, 64, 200, 4096, 8000, (long)sb.st_size / 2, (long)sb.st_size - 1 };
	for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
		snprintf(cmd, sizeof cmd, "rm -f '%s' && head -c %ld '%s' > '%s' && chmod 644 '%s'", path,
			 cuts[i], built("lifecycle"), path, path);
		assert_int_equal(system(cmd), 0);
		img = NULL;
		int rc = plugin_image_open("lifecycle", path, copies, &img, err, sizeof err);
		if (rc == 0) {
			/* Only a cut inside trailing section data may load. */
			assert_true(cuts[i] > 4096);
			plugin_image_close(img);
			continue;
		}
		assert_int_equal(rc, LAB_EABI);
		assert_null(img);
		assert_non_null(strstr(err, "plugin lifecycle: "));
		assert_non_null(strstr(err, "not a loadable shared object"));
	}
	assert_int_equal(rmdir(copies), 0); /* fails if a copy was left behind */
}

/* A 0644 copy of the lifecycle plugin at `dst`. */
static void place_lifecycle(const char *dst)
{
	char cmd[4096];
	snprintf(cmd, sizeof cmd, "cp '%s' '%s' && chmod 644 '%s'", built("lifecycle"), dst, dst);
	assert_int_equal(system(cmd), 0);
}

/* Issue 15 finding 8: the check follows symlinks to the real file and
 * checks every directory up to "/", like sshd's StrictModes. */
static void test_symlink_to_writable_dir(void **st)
{
	struct plugin_image *img;
	char open_dir[512], target[600], link[512], cmd[4096];
	snprintf(open_dir, sizeof open_dir, "%s/open", tmpdir);
	assert_int_equal(mkdir(open_dir, 0777), 0);
	assert_int_equal(chmod(open_dir, 0777), 0);
	snprintf(target, sizeof target, "%s/lifecycle.so", open_dir);
	place_lifecycle(target);
	snprintf(link, sizeof link, "%s/lifecycle.so", tmpdir);
	unlink(link);
	assert_int_equal(symlink(target, link), 0);
	assert_int_equal(open_as("lifecycle", link, &img), LAB_EPERM);
	assert_non_null(strstr(err, open_dir));
	/* The same file in a safe directory, reached through a safe link: fine. */
	assert_int_equal(chmod(open_dir, 0755), 0);
	assert_int_equal(open_as("lifecycle", link, &img), 0);
	plugin_image_close(img);
	snprintf(cmd, sizeof cmd, "rm -rf '%s' '%s'", link, open_dir);
	assert_int_equal(system(cmd), 0);
}

static void test_writable_grandparent(void **st)
{
	struct plugin_image *img;
	char mid[512], leaf[600], path[700], cmd[4096];
	snprintf(mid, sizeof mid, "%s/mid", tmpdir);
	snprintf(leaf, sizeof leaf, "%s/leaf", mid);
	assert_int_equal(mkdir(mid, 0755), 0);
	assert_int_equal(mkdir(leaf, 0755), 0);
	snprintf(path, sizeof path, "%s/lifecycle.so", leaf);
	place_lifecycle(path);
	assert_int_equal(open_as("lifecycle", path, &img), 0);
	plugin_image_close(img);
	assert_int_equal(chmod(mid, 0777), 0);
	assert_int_equal(open_as("lifecycle", path, &img), LAB_EPERM);
	assert_non_null(strstr(err, "directory above the plugin"));
	assert_non_null(strstr(err, mid));
	/* Sticky and root-owned (like /tmp) is safe above the plugin's dir. */
	if (geteuid() == 0) {
		assert_int_equal(chmod(mid, 01777), 0);
		assert_int_equal(open_as("lifecycle", path, &img), 0);
		plugin_image_close(img);
	}
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", mid);
	assert_int_equal(system(cmd), 0);
}

static void test_writable_file(void **st)
{
	struct plugin_image *img;
	assert_int_equal(open_as("lifecycle", staged("lifecycle", 0666), &img), LAB_EPERM);
	assert_non_null(strstr(err, "writable by group or others"));
	assert_int_equal(open_as("lifecycle", staged("lifecycle", 0664), &img), LAB_EPERM);
}

static void test_writable_dir(void **st)
{
	struct plugin_image *img;
	const char *p = staged("lifecycle", 0644);
	assert_int_equal(chmod(tmpdir, 0777), 0);
	assert_int_equal(open_as("lifecycle", p, &img), LAB_EPERM);
	assert_non_null(strstr(err, "plugin directory"));
	assert_int_equal(chmod(tmpdir, 0755), 0);
}

static void test_foreign_owner(void **st)
{
	struct plugin_image *img;
	if (geteuid() != 0)
		skip();
	const char *p = staged("lifecycle", 0644);
	assert_int_equal(chown(p, 12345, 12345), 0);
	assert_int_equal(open_as("lifecycle", p, &img), LAB_EPERM);
	assert_non_null(strstr(err, "owned by uid 12345"));
}

static void test_private_copy(void **st)
{
	struct plugin_image *img = NULL;
	char copies[512];
	snprintf(copies, sizeof copies, "%s/copies", tmpdir);
	assert_int_equal(mkdir(copies, 0700), 0);
	assert_int_equal(plugin_image_open("lifecycle", staged("lifecycle", 0644), copies, &img, err,
					   sizeof err), 0);
	assert_non_null(img->copy_path);
	assert_int_equal(access(img->copy_path, F_OK), 0);
	char *copy = strdup(img->copy_path);
	plugin_image_close(img);
	assert_int_not_equal(access(copy, F_OK), 0);
	free(copy);
	assert_int_equal(rmdir(copies), 0);
}

static int nop_init(lab_ctx *c, void **s) { return 0; }
static int nop_start(void *s) { return 0; }
static void nop_destroy(void *s) {}

static void test_descriptor_checks(void **st)
{
	static const lab_setting reserved[] = { { .name = "enabled", .type = LAB_SET_BOOL }, { 0 } };
	lab_plugin d = { .magic = LAB_PLUGIN_MAGIC, .abi_major = LAB_ABI_MAJOR,
			 .abi_minor = LAB_ABI_MINOR, .size = sizeof(lab_plugin), .name = "x",
			 .version = "1", .init = nop_init, .start = nop_start, .stop = nop_start,
			 .destroy = nop_destroy };
	assert_int_equal(plugin_check_descriptor(&d, "x", err, sizeof err), 0);
	d.size = 8;
	assert_int_equal(plugin_check_descriptor(&d, "x", err, sizeof err), LAB_EABI);
	assert_non_null(strstr(err, "descriptor size 8"));
	d.size = sizeof(lab_plugin);
	d.stop = NULL;
	assert_int_equal(plugin_check_descriptor(&d, "x", err, sizeof err), LAB_EABI);
	assert_non_null(strstr(err, "required callback"));
	d.stop = nop_start;
	d.settings = reserved;
	assert_int_equal(plugin_check_descriptor(&d, "x", err, sizeof err), LAB_EABI);
	assert_non_null(strstr(err, "declares the host's setting 'enabled'"));
	d.settings = NULL;
	d.name = "Bad-Name";
	assert_int_equal(plugin_check_descriptor(&d, "x", err, sizeof err), LAB_EABI);
	assert_int_equal(plugin_check_descriptor(NULL, "x", err, sizeof err), LAB_EABI);
}

/* ABI 1.1 `options`: need a declared minor 1, exclude `settings`, a sane
 * option_size, and the host's keys stay reserved. */
static void test_options_checks(void **st)
{
	static const lab_option opts[] = { { .name = "n", .type = LAB_SET_INT }, { 0 } };
	static const lab_option reserved[] = { { .name = "n", .type = LAB_SET_INT },
					       { .name = "path", .type = LAB_SET_STRING }, { 0 } };
	static const lab_setting settings[] = { { .name = "s", .type = LAB_SET_INT }, { 0 } };
	lab_plugin d = { .magic = LAB_PLUGIN_MAGIC, .abi_major = LAB_ABI_MAJOR, .abi_minor = 1,
			 .size = sizeof(lab_plugin), .name = "x", .version = "1", .init = nop_init,
			 .start = nop_start, .stop = nop_start, .destroy = nop_destroy,
			 .options = opts, .option_size = sizeof(lab_option) };
	(void)st;
	assert_int_equal(plugin_check_descriptor(&d, "x", err, sizeof err), 0);
	d.abi_minor = 0;
	assert_int_equal(plugin_check_descriptor(&d, "x", err, sizeof err), LAB_EABI);
	assert_non_null(strstr(err, "declares `options` (ABI 1.1) but says it needs ABI 1.0: define LAB_PLUGIN_MIN_ABI_MINOR 1"));
	d.abi_minor = 1;
	d.settings = settings;
	assert_int_equal(plugin_check_descriptor(&d, "x", err, sizeof err), LAB_EABI);
	assert_non_null(strstr(err, "declares both `settings` and `options`"));
	d.settings = NULL;
	d.option_size = 8;
	assert_int_equal(plugin_check_descriptor(&d, "x", err, sizeof err), LAB_EABI);
	assert_non_null(strstr(err, "option_size 8 is not a 1.1 lab_option size"));
	d.option_size = sizeof(lab_option);
	d.options = reserved;
	assert_int_equal(plugin_check_descriptor(&d, "x", err, sizeof err), LAB_EABI);
	assert_non_null(strstr(err, "declares the host's setting 'path'"));
	/* A 1.0-sized descriptor has no `options`: its trailing memory is not read. */
	d.options = opts;
	d.abi_minor = 0;
	d.size = LAB_PLUGIN_SIZE_V1_0;
	assert_int_equal(plugin_check_descriptor(&d, "x", err, sizeof err), 0);
}

/* The directory part of a plugin path (the checks and the reload watcher). */
static void test_path_dir(void **st)
{
	(void)st;
	static const char *const cases[][2] = {
		{ "/usr/lib/labd/beacon.so", "/usr/lib/labd" }, { "/beacon.so", "/" },
		{ "plugins/x.so", "plugins" }, { "x.so", "." }, { "a//b.so", "a/" },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char *d = plugin_path_dir(cases[i][0]);
		assert_non_null(d);
		assert_string_equal(d, cases[i][1]);
		free(d);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good),
		cmocka_unit_test(test_bad_magic),
		cmocka_unit_test(test_bad_major),
		cmocka_unit_test(test_new_minor),
		cmocka_unit_test(test_wrong_name),
		cmocka_unit_test(test_no_symbol),
		cmocka_unit_test(test_missing),
		cmocka_unit_test(test_garbage_file),
		cmocka_unit_test(test_truncated),
		cmocka_unit_test(test_symlink_to_writable_dir),
		cmocka_unit_test(test_writable_grandparent),
		cmocka_unit_test(test_writable_file),
		cmocka_unit_test(test_writable_dir),
		cmocka_unit_test(test_foreign_owner),
		cmocka_unit_test(test_private_copy),
		cmocka_unit_test(test_descriptor_checks),
		cmocka_unit_test(test_options_checks),
		cmocka_unit_test(test_path_dir),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
