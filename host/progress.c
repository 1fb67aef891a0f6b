/* lab_progress() entries: validation and update (host/progress.h), shared
 * by the host (hostapi.c) and lab-plugin-test. */
#include "progress.h"

#include <stdio.h>
#include <string.h>

#include "jsonstr.h"

/* printable UTF-8 of 1..64 bytes */
static int name_ok(const char *s)
{
	size_t n = s ? strnlen(s, 65) : 0;
	if (n == 0 || n > 64)
		return 0;
	for (size_t i = 0; i < n;) {
		size_t l = utf8_text_seq((const unsigned char *)s + i, n - i);
		if (l == 0)
			return 0;
		i += l;
	}
	return 1;
}

int progress_set(struct progress_entry *v, unsigned *n, const char *what, double done,
		 double total, double per_second, int64_t now_ms)
{
	if (!name_ok(what))
		return LAB_EINVAL;
	/* (!(x >= 0) is also true for NaN) */
	if (!(done >= 0) || !(total >= 0) || !(per_second >= 0) || done > 1e300 ||
	    total > 1e300 || per_second > 1e300)
		return LAB_ERANGE;
	if (!v || !n)
		return LAB_ESTATE;
	unsigned i = 0;
	while (i < *n && strcmp(v[i].what, what) != 0)
		i++;
	if (total == 0) { /* remove */
		if (i < *n) {
			memmove(&v[i], &v[i + 1], (*n - i - 1) * sizeof v[0]);
			(*n)--;
		}
		return 0;
	}
	if (i == *n) {
		if (*n >= LAB_PROGRESS_MAX)
			return LAB_EBUSY;
		(*n)++;
		snprintf(v[i].what, sizeof v[i].what, "%s", what);
	}
	v[i].done = done > total ? total : done;
	v[i].total = total;
	v[i].per_second = per_second;
	v[i].at_ms = now_ms;
	return 0;
}
