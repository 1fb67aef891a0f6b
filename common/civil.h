/*
 * civil.h — calendar arithmetic without time zones or libc's tm functions
 * (timegm is not C11, and the plugins must not depend on TZ).  Header-only;
 * pure C, no host or SDK header: see common/README.md.
 */
#ifndef LAB_COMMON_CIVIL_H
#define LAB_COMMON_CIVIL_H

#include <stdint.h>

/* Days since 1970-01-01 of a proleptic Gregorian date, m 1..12, d 1..31
 * (Howard Hinnant's days_from_civil). */
static inline int64_t days_from_civil(int64_t y, int m, int d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;
	int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

#endif
