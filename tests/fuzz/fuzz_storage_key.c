/* libFuzzer target: the storage-key validator (host/storage.c
 * storage_key_check).  The input is the key (up to its first NUL, as a C
 * caller would pass it).  Oracle: an independent statement of the rule —
 * a key the host accepts must be 1..STORAGE_KEY_MAX bytes, relative, and
 * have no empty, "." or ".." segment, no control byte or backslash, and not
 * start with the metadata directory — so it can never leave its prefix,
 * however the backend joins it to the root. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lab/plugin.h"
#include "storage.h"
#include "storage_backend.h"

static int oracle_safe(const char *k)
{
	size_t n = strlen(k);
	if (n == 0 || n > STORAGE_KEY_MAX)
		return 0;
	const char *seg = k;
	for (;;) {
		const char *slash = strchr(seg, '/');
		size_t sl = slash ? (size_t)(slash - seg) : strlen(seg);
		if (sl == 0 || (sl == 1 && seg[0] == '.') || (sl == 2 && !memcmp(seg, "..", 2)))
			return 0;
		if (seg == k && sl == strlen(STORAGE_META_DIR) && !memcmp(seg, STORAGE_META_DIR, sl))
			return 0;
		for (size_t i = 0; i < sl; i++) {
			unsigned char c = (unsigned char)seg[i];
			if (c < 0x20 || c == 0x7f || c == '\\')
				return 0;
		}
		if (!slash)
			return 1;
		seg = slash + 1;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *key = malloc(size + 1);
	if (!key)
		return 0;
	memcpy(key, data, size);
	key[size] = '\0';
	int rc = storage_key_check(key);
	if (rc != 0 && rc != LAB_EPERM)
		abort();
	if ((rc == 0) != oracle_safe(key)) {
		fprintf(stderr, "storage_key_check(\"%.200s\") = %d, the rule says %s\n", key, rc,
			oracle_safe(key) ? "safe" : "unsafe");
		abort();
	}
	free(key);
	return 0;
}
