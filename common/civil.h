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

/* The inverse: the proleptic Gregorian date of a day count since 1970-01-01
 * (Howard Hinnant's civil_from_days). */
static inline void civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
	z += 719468;
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	int64_t doe = z - era * 146097;
	int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	int64_t mp = (5 * doy + 2) / 153;
	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = yoe + era * 400 + (*m <= 2);
}

/* Days in month m (1..12) of year y. */
static inline int days_in_month(int64_t y, int m)
{
	static const int mdays[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
	return m == 2 ? 28 + leap : mdays[m - 1];
}

#endif
