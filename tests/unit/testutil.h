/* Helpers shared by the cmocka unit tests of tests/unit/ (compiled into each
 * test that lists tests/unit/testutil.c): a temporary directory and its
 * removal, running a libuv loop until a flag is set, and a storage
 * completion recorder.  Failures inside fail the calling test. */
#ifndef LAB_TESTS_TESTUTIL_H
#define LAB_TESTS_TESTUTIL_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

/* Creates "$TMPDIR/labd-<tag>-XXXXXX" (TMPDIR default /tmp), name to out. */
void tu_mkdtemp(char *out, size_t cap, const char *tag);
/* Removes path and everything below it, following no links; errors ignored. */
void tu_rm_rf(const char *path);

/* Runs loop until *flag >= want (flag NULL: until ms pass) or ms pass; a
 * 10 ms timer wakes the loop so the deadline is seen while nothing happens. */
void tu_run_until(uv_loop_t *loop, int *flag, int want, uint64_t ms);

/* What a storage callback (status, data, len) delivered; data is a NUL-
 * terminated copy (NULL when none), freed by the next call or by the test. */
struct tu_result {
	int called;
	int status;
	char *data;
	size_t len;
};
/* A storage done callback; ud is a struct tu_result. */
void tu_on_done(int status, const void *data, size_t len, void *ud);

#endif
