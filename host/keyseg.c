/* See keyseg.h. */
#include "keyseg.h"

#include <string.h>

#include "keyrules.h"
#include "lab/plugin.h"
#include "sha256.h"
#include "storage_backend.h"

#define RAW_MAX 128     /* longest name used raw */
#define ENCODE_MAX 64   /* longest name percent-encoded; longer ones are hashed */

static int portable_byte(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '_' || c == '-';
}

int keyseg_check(const char *s, size_t n, unsigned flags)
{
	if (!s || n == 0 || n > RAW_MAX)
		return 0;
	/* One segment of a safe key (not empty, ".", ".."; printable UTF-8; no
	 * backslash), without the characters a URL path would reinterpret:
	 * '/' splits, '%' would collide with escaped names, '?' and '#' end the path. */
	if (memchr(s, '/', n) || memchr(s, '%', n) || memchr(s, '?', n) || memchr(s, '#', n))
		return 0;
	if (!key_segments_ok(s, n, NULL))
		return 0;
	if (flags & LAB_KEYSEG_PORTABLE)
		for (size_t i = 0; i < n; i++)
			if (!portable_byte((unsigned char)s[i]) && s[i] != '.')
				return 0;
	return 1;
}

int keyseg_prefix_ok(const char *s, size_t n)
{
	while (n && s[n - 1] == '/')
		n--;
	return n > 0 && n <= 256 && s[0] != '/' && key_segments_ok(s, n, STORAGE_META_DIR);
}

int keyseg_make(const char *name, size_t n, unsigned flags, char *out, size_t cap)
{
	static const char hex[] = "0123456789ABCDEF";
	char digest[2 * SHA256_LEN + 1];
	size_t len = 0;
	if ((!name && n) || !out)
		return LAB_EINVAL;
	if (!(flags & LAB_KEYSEG_ESCAPED) && keyseg_check(name, n, 0)) {
		if (n >= cap)
			return LAB_ERANGE;
		memcpy(out, name, n);
		out[n] = '\0';
		return (int)n;
	}
	if (n >= 1 && n <= ENCODE_MAX) {
		/* Every byte outside [A-Za-z0-9_-] as %XX: the result holds a '%',
		 * which a raw segment never does. */
		for (size_t i = 0; i < n; i++)
			len += portable_byte((unsigned char)name[i]) ? 1 : 3;
		if (len >= cap)
			return LAB_ERANGE;
		for (size_t i = 0, o = 0; i < n; i++) {
			unsigned char c = (unsigned char)name[i];
			if (portable_byte(c)) {
				out[o++] = (char)c;
				continue;
			}
			out[o++] = '%';
			out[o++] = hex[c >> 4];
			out[o++] = hex[c & 15];
		}
		out[len] = '\0';
		return (int)len;
	}
	/* Empty or long: "%h" + SHA-256 hex ("%h" is no percent escape, so it
	 * cannot equal an encoded name). */
	if (sha256_hex(name ? name : "", n, digest) < 0)
		return LAB_EIO; /* libcrypto failed */
	len = 2 + 2 * SHA256_LEN;
	if (len >= cap)
		return LAB_ERANGE;
	memcpy(out, "%h", 2);
	memcpy(out + 2, digest, sizeof digest);
	return (int)len;
}
