/* The segment rules of a storage key (SPEC §5), header-only: used by the
 * storage front (host/storage.c) for every key and by the config loader
 * for storage.prefix, so both refuse exactly the same things. */
#ifndef LAB_COMMON_KEYRULES_H
#define LAB_COMMON_KEYRULES_H

#include <stddef.h>
#include <string.h>

#include "jsonstr.h"

/* 1 when key[0..n) is one or more '/'-separated segments, none empty, "."
 * or "..", of printable UTF-8 only (no control byte, no DEL, no C1 control,
 * no invalid sequence: S3 keys are UTF-8, and a browser asks for the key it
 * decoded from UTF-8 percent-escapes, SPEC §9.2), with no backslash, and a
 * first segment other than `reserved_first` (may be NULL).  n == 0 is
 * refused. */
static inline int key_segments_ok(const char *key, size_t n, const char *reserved_first)
{
	size_t seg = 0;

	if (n == 0)
		return 0;
	for (size_t i = 0; i <= n;) {
		unsigned char c = i < n ? (unsigned char)key[i] : '\0';
		size_t l;
		if (c == '/' || i == n) {
			size_t sl = i - seg;
			const char *sp = key + seg;
			if (sl == 0 || (sl == 1 && sp[0] == '.') ||
			    (sl == 2 && sp[0] == '.' && sp[1] == '.'))
				return 0;
			if (seg == 0 && reserved_first && sl == strlen(reserved_first) &&
			    memcmp(sp, reserved_first, sl) == 0)
				return 0;
			seg = ++i;
			continue;
		}
		if (c == '\\' || !(l = utf8_text_seq((const unsigned char *)key + i, n - i)))
			return 0;
		i += l;
	}
	return 1;
}

#endif
