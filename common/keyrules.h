/* The segment rules of a storage key (SPEC §5), header-only: used by the
 * storage front (host/storage.c) for every key and by the config loader
 * for storage.prefix, so both refuse exactly the same things. */
#ifndef LAB_COMMON_KEYRULES_H
#define LAB_COMMON_KEYRULES_H

#include <stddef.h>
#include <string.h>

/* 1 when key[0..n) is one or more '/'-separated segments, none empty, "."
 * or "..", with no byte below 0x20, no 0x7f and no backslash, and a first
 * segment other than `reserved_first` (may be NULL).  n == 0 is refused. */
static inline int key_segments_ok(const char *key, size_t n, const char *reserved_first)
{
	size_t seg = 0;

	if (n == 0)
		return 0;
	for (size_t i = 0; i <= n; i++) {
		unsigned char c = i < n ? (unsigned char)key[i] : '\0';
		if (c == '/' || i == n) {
			size_t sl = i - seg;
			const char *sp = key + seg;
			if (sl == 0 || (sl == 1 && sp[0] == '.') ||
			    (sl == 2 && sp[0] == '.' && sp[1] == '.'))
				return 0;
			if (seg == 0 && reserved_first && sl == strlen(reserved_first) &&
			    memcmp(sp, reserved_first, sl) == 0)
				return 0;
			seg = i + 1;
			continue;
		}
		if (c < 0x20 || c == 0x7f || c == '\\')
			return 0;
	}
	return 1;
}

#endif
