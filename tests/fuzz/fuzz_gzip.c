/* libFuzzer target: decoding stored objects (host/gzip.c gzip_decode_max),
 * which runs on whatever an S3 bucket or the fs root hands back, state files
 * included.  Oracle: the output never exceeds the bound; what decodes
 * re-encodes and decodes to the same bytes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lab/plugin.h"
#include "storage.h"

#define MAX_OUT ((size_t)1 << 20)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	void *out = NULL, *gz = NULL, *back = NULL;
	size_t n = 0, gzn = 0, backn = 0;
	int rc = gzip_decode_max(data, size, MAX_OUT, &out, &n);
	if (rc != 0) {
		if (rc > 0)
			abort();
		free(out);
		return 0;
	}
	if (n > MAX_OUT || (n && !out))
		abort();
	if (gzip_encode(out, n, &gz, &gzn) != 0 || !gzip_is_gzip(gz, gzn))
		abort();
	if (gzip_decode_max(gz, gzn, MAX_OUT, &back, &backn) != 0 || backn != n ||
	    (n && memcmp(out, back, n) != 0))
		abort();
	free(out);
	free(gz);
	free(back);
	return 0;
}
