/* The host clock.  `labd --now` fixes the wall clock for the whole run (it
 * does not advance), so one-shot runs and tests are reproducible; timers
 * and durations always use the monotonic clock. */
#ifndef LAB_HOST_CLOCK_H
#define LAB_HOST_CLOCK_H

#include <stddef.h>
#include <stdint.h>

void clock_fix(int64_t unix_ms);
int clock_is_fixed(void);
/* Thread-safe. */
int64_t clock_now_ms(void);
uint64_t clock_monotonic_ms(void);
/* "2025-01-02T03:04:05Z", "...05.678Z", "...05+02:00" -> Unix ms
 * (common/rfc3339.h; LAB_EINVAL when s is not one). */
int clock_parse_rfc3339(const char *s, int64_t *unix_ms);
/* Unix seconds -> "2025-01-02T03:04:05Z" ("" beyond year 9999). */
void clock_format_iso8601(int64_t unix_s, char *out, size_t n);

#endif
