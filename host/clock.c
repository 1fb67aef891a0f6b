#include "clock.h"
#include "rfc3339.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lab/plugin.h"

static _Atomic int64_t g_fixed_ms;
static atomic_int g_is_fixed;

void clock_fix(int64_t unix_ms)
{
	atomic_store(&g_fixed_ms, unix_ms);
	atomic_store(&g_is_fixed, 1);
}

int clock_is_fixed(void) { return atomic_load(&g_is_fixed); }

int64_t clock_now_ms(void)
{
	if (atomic_load(&g_is_fixed))
		return atomic_load(&g_fixed_ms);
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

uint64_t clock_monotonic_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

int clock_parse_rfc3339(const char *s, int64_t *unix_ms)
{
	return s && rfc3339_parse(s, strlen(s), 0, unix_ms) == 0 ? 0 : LAB_EINVAL;
}

void clock_format_iso8601(int64_t unix_s, char *out, size_t n)
{
	char t[RFC3339_MAX];
	rfc3339_format(t, unix_s, -1, 1);
	snprintf(out, n, "%s", t);
}
