/*
 * rfc3339.h — the one RFC 3339 timestamp parser and formatter, used by the
 * host (`--now`, admin times, config import) and the plugins (beacon's
 * `to_date`, document times).  Header-only, pure C over civil.h: no libc tm
 * functions, no TZ (see common/README.md).  Input is untrusted: impossible
 * dates (Feb 31, Feb 29 of a common year, hour 24) are refused.
 */
#ifndef LAB_COMMON_RFC3339_H
#define LAB_COMMON_RFC3339_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "civil.h"

/* Longest rfc3339_format() output with its NUL: "YYYY-MM-DDTHH:MM:SS.ffffff+00:00". */
#define RFC3339_MAX 33

/* Accept a date-time without its zone (read as UTC): for state written by
 * older tools.  Without this flag the zone is required, as RFC 3339 says. */
#define RFC3339_ZONE_OPTIONAL 1

static inline int rfc3339_digits_(const char *s, size_t len, size_t at, int n, int *out)
{
	int v = 0;
	if (at + (size_t)n > len)
		return -1;
	for (int i = 0; i < n; i++) {
		if (s[at + i] < '0' || s[at + i] > '9')
			return -1;
		v = v * 10 + (s[at + i] - '0');
	}
	*out = v;
	return 0;
}

/* s[0..len) = "YYYY-MM-DD(T|t| )HH:MM:SS[.frac](Z|z|+HH:MM|-HH:MM)" -> Unix
 * milliseconds (fraction digits beyond the third dropped; second 60 of a
 * leap second counts as the next minute's 0).  Returns 0, or -1 when s is
 * not such a timestamp or names an impossible date or time. */
static inline int rfc3339_parse(const char *s, size_t len, int flags, int64_t *unix_ms)
{
	int y, mo, d, h, mi, se, ms = 0, oh = 0, om = 0, sign = 1;
	size_t i = 19;

	if (!s || len < 19 || rfc3339_digits_(s, len, 0, 4, &y) || s[4] != '-' ||
	    rfc3339_digits_(s, len, 5, 2, &mo) || s[7] != '-' || rfc3339_digits_(s, len, 8, 2, &d) ||
	    (s[10] != 'T' && s[10] != 't' && s[10] != ' ') || rfc3339_digits_(s, len, 11, 2, &h) ||
	    s[13] != ':' || rfc3339_digits_(s, len, 14, 2, &mi) || s[16] != ':' ||
	    rfc3339_digits_(s, len, 17, 2, &se))
		return -1;
	if (mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo) || h > 23 || mi > 59 || se > 60)
		return -1;
	if (i < len && s[i] == '.') {
		size_t j = ++i;
		for (; i < len && s[i] >= '0' && s[i] <= '9'; i++)
			if (i - j < 3)
				ms = ms * 10 + (s[i] - '0');
		if (i == j)
			return -1;
		for (size_t k = i - j; k < 3; k++)
			ms *= 10;
	}
	if (i < len && (s[i] == 'Z' || s[i] == 'z')) {
		i++;
	} else if (i < len && (s[i] == '+' || s[i] == '-')) {
		sign = s[i] == '-' ? -1 : 1;
		if (rfc3339_digits_(s, len, i + 1, 2, &oh) || i + 3 >= len || s[i + 3] != ':' ||
		    rfc3339_digits_(s, len, i + 4, 2, &om) || oh > 23 || om > 59)
			return -1;
		i += 6;
	} else if (!(flags & RFC3339_ZONE_OPTIONAL)) {
		return -1;
	}
	if (i != len)
		return -1;
	int64_t secs = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + se -
		       sign * (oh * 3600 + om * 60);
	*unix_ms = secs * 1000 + ms;
	return 0;
}

/* Unix seconds -> "YYYY-MM-DDTHH:MM:SS" plus ".ffffff" when micros >= 0
 * (taken modulo 10^6), then "Z" when zulu, else "+00:00".  Returns the
 * length, or 0 (out = "") when the year is outside 0000..9999. */
static inline size_t rfc3339_format(char out[RFC3339_MAX], int64_t unix_s, int micros, int zulu)
{
	int64_t days = unix_s / 86400, sod = unix_s % 86400, y;
	int m, d, n;

	if (sod < 0) {
		sod += 86400;
		days--;
	}
	civil_from_days(days, &y, &m, &d);
	out[0] = '\0';
	if (y < 0 || y > 9999)
		return 0;
	n = snprintf(out, RFC3339_MAX, "%04d-%02d-%02dT%02d:%02d:%02d", (int)y, m, d,
		     (int)(sod / 3600), (int)(sod / 60 % 60), (int)(sod % 60));
	if (micros >= 0)
		n += snprintf(out + n, RFC3339_MAX - (size_t)n, ".%06d", micros % 1000000);
	n += snprintf(out + n, RFC3339_MAX - (size_t)n, "%s", zulu ? "Z" : "+00:00");
	return (size_t)n;
}

#endif
