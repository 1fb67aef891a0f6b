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
	assert_non_null(strstr(err, "cannot load"));
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
		cmocka_unit_test(test_writable_file),
		cmocka_unit_test(test_writable_dir),
		cmocka_unit_test(test_foreign_owner),
		cmocka_unit_test(test_private_copy),
		cmocka_unit_test(test_descriptor_checks),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
