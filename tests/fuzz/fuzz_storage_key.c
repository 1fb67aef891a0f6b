/* libFuzzer target: the storage-key validator (host/storage.c
 * storage_key_check).  The input is the key (up to its first NUL, as a C
 * caller would pass it).  Oracle: an independent statement of the rule —
 * a key the host accepts must be 1..STORAGE_KEY_MAX bytes, relative, and
 * have no empty, "." or ".." segment, no backslash, and not start with the
 * metadata directory — so it can never leave its prefix, however the
 * backend joins it to the root — and be valid UTF-8 without control
 * characters (C0, DEL, C1), decoded here by the C library (mbrtowc in
 * C.UTF-8), not by the host's decoder (common/jsonstr.h). */
#include <locale.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>

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
		mbstate_t mb;
		memset(&mb, 0, sizeof mb);
		for (size_t i = 0, r; i < sl; i += r) {
			wchar_t wc;
			r = mbrtowc(&wc, seg + i, sl - i, &mb);
			/* glibc decodes up to 0x7FFFFFFF: Unicode ends at U+10FFFF */
			if (r == (size_t)-1 || r == (size_t)-2 || r == 0 || wc > 0x10ffff)
				return 0;
			if (wc < 0x20 || (wc >= 0x7f && wc <= 0x9f) || wc == '\\')
				return 0;
		}
		if (!slash)
			return 1;
		seg = slash + 1;
	}
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	if (!setlocale(LC_CTYPE, "C.UTF-8"))
		abort(); /* the oracle needs a UTF-8 decoder */
	return 0;
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
