/* contributors — pure helpers; see compute.h. */
#include "compute.h"

#include "keyrules.h"
#include "sha256.h"

#include <string.h>

/* ---- keys --------------------------------------------------------------- */

int contrib_safe_segment(const char *s, size_t n)
{
	return key_segment_ok(s, n, 128, NULL, KEY_SEG_PLAIN);
}

/* SPEC §9.2: the raw name is the key when it is printable UTF-8 of 1..128
 * bytes without / \\ % ? # and not "." or "..".  '/' and '\\' would split or
 * escape the key, '%' keeps raw and escaped keys apart, '?' and '#' end the
 * path of the URL a browser builds from the name. */
int contrib_raw_segment(const char *s, size_t n)
{
	return key_segment_ok(s, n, CONTRIB_RAW_MAX, "%?#", 0);
}

size_t contrib_user_escaped_key(const char *s, size_t n, char *out)
{
	static const char HEX[] = "0123456789ABCDEF";
	size_t o = 0;
	if (n >= 1 && n <= 64) {
		for (size_t i = 0; i < n; i++) {
			unsigned c = (unsigned char)s[i];
			if (key_plain_byte(c)) {
				out[o++] = (char)c;
			} else {
				out[o++] = '%';
				out[o++] = HEX[c >> 4];
				out[o++] = HEX[c & 15];
			}
		}
		out[o] = '\0';
		return o;
	}
	out[o++] = '%';
	out[o++] = 'h';
	sha256_hex(s, n, out + o); /* 64 lower-case hex digits and the NUL */
	return o + 2 * SHA256_LEN;
}

size_t contrib_user_key(const char *s, size_t n, char *out)
{
	if (contrib_raw_segment(s, n)) {
		memcpy(out, s, n);
		out[n] = '\0';
		return n;
	}
	return contrib_user_escaped_key(s, n, out);
}

int contrib_user_stale_key(const char *s, size_t n, char *out)
{
	/* Before SPEC §9.2 named the raw rule, only safe segments were raw:
	 * every other raw name was stored under its escaped form. */
	if (!contrib_raw_segment(s, n) || contrib_safe_segment(s, n))
		return 0;
	contrib_user_escaped_key(s, n, out);
	return 1;
}

/* ---- scheduling --------------------------------------------------------- */

