/* SHA-256 through libcrypto (OpenSSL's EVP interface; libcurl loads it
 * already), header-only.  The S3 backend sends the hex digest of every
 * request body in x-amz-content-sha256; the contributors plugin names the
 * storage key of a long or empty username after its digest.  Whatever
 * includes this header links $(CRYPTO_LIBS). */
#ifndef LAB_COMMON_SHA256_H
#define LAB_COMMON_SHA256_H

#include <stddef.h>

#include <openssl/evp.h>

#define SHA256_LEN 32

/* One-shot: the lowercase hex digest of data (65 bytes with the NUL).
 * Returns 0, or -1 when libcrypto fails (out is then ""). */
static inline int sha256_hex(const void *data, size_t len, char out[2 * SHA256_LEN + 1])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char d[EVP_MAX_MD_SIZE];
	unsigned int dl = 0;

	out[0] = '\0';
	if (!EVP_Digest(data, len, d, &dl, EVP_sha256(), NULL) || dl != SHA256_LEN)
		return -1;
	for (unsigned int i = 0; i < dl; i++) {
		out[2 * i] = hex[d[i] >> 4];
		out[2 * i + 1] = hex[d[i] & 15];
	}
	out[2 * SHA256_LEN] = '\0';
	return 0;
}

#endif
