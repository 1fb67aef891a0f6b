/* The lab_progress() entries of a plugin (SDK 1.2): the rules labd and
 * lab-plugin-test share (host/progress.c). */
#ifndef LAB_HOST_PROGRESS_H
#define LAB_HOST_PROGRESS_H

#include <stdint.h>

#include "lab/plugin.h"

/* One lab_progress() entry (ABI 1.2). */
struct progress_entry {
	char what[65];
	double done, total, per_second;
	int64_t at_ms; /* wall clock of the last report */
};

/* lab_progress(what, done, total, per_second) on the entries v[0..*n)
 * (room for LAB_PROGRESS_MAX): adds or updates `what` (done capped at
 * total; at_ms = now_ms), or removes it when total is 0.  LAB_EINVAL for a
 * name that is not 1..64 bytes of printable UTF-8, LAB_ERANGE for a
 * negative, NaN or huge number, LAB_EBUSY when full, LAB_ESTATE when v is
 * NULL (no entries to keep), after those checks. */
int progress_set(struct progress_entry *v, unsigned *n, const char *what, double done,
		 double total, double per_second, int64_t now_ms);

#endif
