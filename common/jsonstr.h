/*
 * jsonstr.h — the one UTF-8 validator and the JSON string escape behind
 * buf_json_str() (common/buf.c); the key rules (keyrules.h) and the state
 * key check use utf8_seq() too.  Header-only (static inline), so whatever
 * already compiles buf.c needs no further source file.
 * Pure libc, no host or SDK header: see common/README.md.
 *
 * A writer of a JSON string literal from untrusted bytes loops:
 *   run = json_str_plain(s + i, n - i); append those bytes as they are;
 *   then, if bytes are left, append json_str_escape(s[i]) and skip one byte.
 * The result is always valid JSON: control bytes and DEL escaped, each byte
 * that does not start valid UTF-8 replaced by U+FFFD.
 */
#ifndef LAB_COMMON_JSONSTR_H
#define LAB_COMMON_JSONSTR_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* Length of the valid UTF-8 sequence at s (n > 0 bytes left), 0 if invalid
 * (overlong, surrogate, beyond U+10FFFF, truncated). */
static inline size_t utf8_seq(const unsigned char *s, size_t n)
{
	size_t len;
	uint32_t min, cp;
	if (s[0] < 0x80)
		return 1;
	if ((s[0] & 0xe0) == 0xc0) {
		len = 2; min = 0x80; cp = s[0] & 0x1f;
	} else if ((s[0] & 0xf0) == 0xe0) {
		len = 3; min = 0x800; cp = s[0] & 0x0f;
	} else if ((s[0] & 0xf8) == 0xf0) {
		len = 4; min = 0x10000; cp = s[0] & 0x07;
	} else {
		return 0;
	}
	if (len > n)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

/* Like utf8_seq(), but 0 also for a control character: C0 (below U+0020),
 * DEL (U+007F) and C1 (U+0080..U+009F, encoded C2 80..C2 9F).  Used where
 * a name must be printable text (storage keys, SPEC §9.2 usernames). */
static inline size_t utf8_text_seq(const unsigned char *s, size_t n)
{
	if (s[0] < 0x20 || s[0] == 0x7f)
		return 0;
	if (s[0] == 0xc2 && n > 1 && s[1] >= 0x80 && s[1] <= 0x9f)
		return 0;
	return utf8_seq(s, n);
}

/* Length of the longest prefix of s[0..n) that a JSON string holds as it
 * is: valid UTF-8 without '"', '\\', control bytes or DEL. */
static inline size_t json_str_plain(const unsigned char *s, size_t n)
{
	size_t i = 0, l;
	while (i < n && s[i] >= 0x20 && s[i] != '"' && s[i] != '\\' && s[i] != 0x7f &&
	       (l = utf8_seq(s + i, n - i)) != 0)
		i += l;
	return i;
}

/* The escape of byte c, where json_str_plain() stopped, written to esc (not
 * NUL-terminated): \" \\ \n \r \t, \u00xx for other control bytes and DEL,
 * \ufffd for a byte that does not start valid UTF-8.  Returns its length. */
static inline size_t json_str_escape(unsigned char c, char esc[6])
{
	static const char hex[] = "0123456789abcdef";
	char e = c == '"' ? '"' : c == '\\' ? '\\' : c == '\n' ? 'n' : c == '\r' ? 'r'
		 : c == '\t' ? 't' : 0;
	if (e) {
		esc[0] = '\\';
		esc[1] = e;
		return 2;
	}
	if (c < 0x20 || c == 0x7f) {
		memcpy(esc, "\\u00", 4);
		esc[4] = hex[c >> 4];
		esc[5] = hex[c & 15];
	} else {
		memcpy(esc, "\\ufffd", 6);
	}
	return 6;
}

#endif
