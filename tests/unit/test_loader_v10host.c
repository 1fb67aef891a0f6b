/* The real loader (host/plugin_loader.c) built as a 1.0-only host
 * (-DLAB_HOST_ABI_MINOR=0): a plugin built against the 1.1 SDK that declares
 * it needs minor 1 is refused with a message naming both versions; the
 * same source declaring minor 0 (the default) is accepted, so LAB_HAS() is
 * what guards its newer calls. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "plugin_loader.h"

#if LAB_HOST_ABI_MINOR != 0
#error "build this test with -DLAB_HOST_ABI_MINOR=0"
#endif

static char tmpdir[64];
static char err[1024];

/* A private 0644 copy in a 0755 directory (the loader refuses writable ones). */
static const char *staged(const char *name)
{
	static char path[1024];
	char cmd[2600];
	snprintf(path, sizeof path, "%s/%s.so", tmpdir, name);
	snprintf(cmd, sizeof cmd, "cp '%s/tests/plugins/.libs/%s.so' '%s' && chmod 644 '%s'",
		 TEST_BUILDDIR, name, path, path);
	assert_int_equal(system(cmd), 0);
	return path;
}

static void test_refuses_needs11(void **st)
{
	struct plugin_image *img = NULL;
	(void)st;
	int rc = plugin_image_open("needs11", staged("needs11"), NULL, &img, err, sizeof err);
	printf("# 1.0-only host, plugin that needs 1.1: %s\n", err);
	assert_int_equal(rc, LAB_EABI);
	assert_null(img);
	assert_non_null(strstr(err, "plugin needs11: needs ABI 1.1 but this host provides 1.0"));
}

static void test_accepts_needs10(void **st)
{
	struct plugin_image *img = NULL;
	(void)st;
	int rc = plugin_image_open("needs10", staged("needs10"), NULL, &img, err, sizeof err);
	if (rc)
		fail_msg("%s", err);
	assert_int_equal(img->desc->abi_minor, 0);
	assert_non_null(img->decls.settings);
	printf("# 1.0-only host, plugin built with SDK 1.1 needing 1.0: loaded\n");
	plugin_image_close(img);
}

static int setup(void **st)
{
	(void)st;
	snprintf(tmpdir, sizeof tmpdir, "/tmp/labd-v10host-XXXXXX");
	assert_non_null(mkdtemp(tmpdir));
	return chmod(tmpdir, 0755);
}

static int teardown(void **st)
{
	char cmd[128];
	(void)st;
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_refuses_needs11),
		cmocka_unit_test(test_accepts_needs10),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
