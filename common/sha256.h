/* SHA-256 (FIPS 180-4), small and self-contained (common/: libc only, see
 * common/README.md).  The S3 backend sends the hex digest of every request
 * body in x-amz-content-sha256; the contributors plugin names the storage key
 * of a long or empty username after its digest. */
#ifndef LAB_COMMON_SHA256_H
#define LAB_COMMON_SHA256_H

#include <stddef.h>
#include <stdint.h>

#define SHA256_LEN 32

struct sha256 {
	uint32_t h[8];
	uint64_t len;          /* bytes hashed so far */
	unsigned char blk[64];
	size_t fill;           /* bytes in blk */
};

void sha256_init(struct sha256 *s);
void sha256_update(struct sha256 *s, const void *data, size_t len);
void sha256_final(struct sha256 *s, unsigned char out[SHA256_LEN]);

/* One-shot: the lowercase hex digest of data (65 bytes with the NUL). */
void sha256_hex(const void *data, size_t len, char out[2 * SHA256_LEN + 1]);

#endif
