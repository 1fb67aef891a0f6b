/* libFuzzer target: the public HTTP listener's path check
 * (host/httpd_path.c), which runs on every request target before any
 * plugin sees it.  Oracle: an accepted path starts with '/', is no longer
 * than its raw form, has no NUL, control byte, backslash, empty segment or
 * "." / ".." segment after decoding; the query decoder never grows its
 * input and stops at a NUL. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "httpd_path.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char out[HTTPD_PATH_MAX + 2];
	const char *why = NULL;
	if (httpd_path_check((const char *)data, size, out, sizeof out, &why) == 0) {
		size_t n = strlen(out);
		if (n == 0 || out[0] != '/' || n > size || strstr(out, "//") || strchr(out, '\\'))
			abort();
		for (size_t i = 0; i < n; i++)
			if ((unsigned char)out[i] < 0x20 || out[i] == 0x7f)
				abort();
		for (size_t i = 0; i < n; i++) {
			if (out[i] != '/')
				continue;
			const char *seg = out + i + 1;
			size_t l = strcspn(seg, "/");
			if ((l == 1 && seg[0] == '.') || (l == 2 && seg[0] == '.' && seg[1] == '.'))
				abort();
		}
	} else if (!why || !*why) {
		abort();
	}
	char *q = malloc(size + 1);
	if (!q)
		return 0;
	memcpy(q, data, size);
	q[size] = '\0';
	size_t before = strlen(q);
	if (httpd_query_decode(q) == 0 && strlen(q) > before)
		abort();
	free(q);
	return 0;
}
