/* Shared unit-test helpers; see testutil.h. */
#include "testutil.h"

#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

void tu_mkdtemp(char *out, size_t cap, const char *tag)
{
	const char *tmp = getenv("TMPDIR");
	int n = snprintf(out, cap, "%s/labd-%s-XXXXXX", tmp && *tmp ? tmp : "/tmp", tag);
	assert_true(n > 0 && (size_t)n < cap);
	assert_non_null(mkdtemp(out));
}

static int rm_cb(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	remove(p);
	return 0;
}

void tu_rm_rf(const char *path) { nftw(path, rm_cb, 16, FTW_DEPTH | FTW_PHYS); }

static void watchdog(uv_timer_t *t) { (void)t; }

void tu_run_until(uv_loop_t *loop, int *flag, int want, uint64_t ms)
{
	uv_timer_t wd;
	uv_timer_init(loop, &wd);
	uv_timer_start(&wd, watchdog, 10, 10);
	uint64_t end = uv_now(loop) + ms;
	while ((!flag || *flag < want) && uv_now(loop) < end)
		uv_run(loop, UV_RUN_ONCE);
	uv_close((uv_handle_t *)&wd, NULL);
	uv_run(loop, UV_RUN_NOWAIT);
}

void tu_on_done(int status, const void *data, size_t len, void *ud)
{
	struct tu_result *r = ud;
	r->called++;
	r->status = status;
	free(r->data);
	r->data = NULL;
	r->len = len;
	if (data) {
		r->data = malloc(len + 1);
		assert_non_null(r->data);
		memcpy(r->data, data, len);
		r->data[len] = '\0';
	}
}
