/* The segment rules of a storage key (SPEC §5), header-only: used by the
 * storage front (host/storage.c) for every key, by the config loader for
 * storage.prefix, and by the plugins for the key segments they build from
 * names (timings' window files, contributors' usernames), so all refuse
 * exactly the same things. */
#ifndef LAB_COMMON_KEYRULES_H
#define LAB_COMMON_KEYRULES_H

#include <stddef.h>
#include <string.h>

#include "jsonstr.h"

/* A byte of a plain name: A-Z a-z 0-9 _ - (with '.' the bytes safe in any
 * URL, file name and shell word unquoted). */
static inline int key_plain_byte(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '_' || c == '-';
}

/* Segment s[0..n) holds only key_plain_byte()s and '.'. */
#define KEY_SEG_PLAIN 1u

/* The one key-segment validator: 1 when s[0..n) is one segment of a
 * storage key, 1..max bytes, not "." or "..", of printable UTF-8 only (no
 * control byte, no DEL, no C1 control, no invalid sequence: S3 keys are
 * UTF-8, and a browser asks for the key it decoded from UTF-8
 * percent-escapes, SPEC §9.2), with no '/', no backslash and no byte of
 * `forbid` (may be NULL); with KEY_SEG_PLAIN only plain bytes and '.'. */
static inline int key_segment_ok(const char *s, size_t n, size_t max, const char *forbid,
				 unsigned flags)
{
	const unsigned char *u = (const unsigned char *)s;

	if (n == 0 || n > max || (n == 1 && s[0] == '.') || (n == 2 && s[0] == '.' && s[1] == '.'))
		return 0;
	for (size_t i = 0, l; i < n; i += l) {
		if (u[i] == '/' || u[i] == '\\' || (u[i] && forbid && strchr(forbid, u[i])))
			return 0;
		if (flags & KEY_SEG_PLAIN)
			l = key_plain_byte(u[i]) || u[i] == '.';
		else
			l = utf8_text_seq(u + i, n - i);
		if (!l)
			return 0;
	}
	return 1;
}

/* 1 when key[0..n) is one or more '/'-separated segments, each
 * key_segment_ok() (any length), and a first segment other than
 * `reserved_first` (may be NULL).  n == 0 is refused. */
static inline int key_segments_ok(const char *key, size_t n, const char *reserved_first)
{
	size_t seg = 0;

	if (n == 0)
		return 0;
	for (size_t i = 0; i <= n; i++) {
		if (i < n && key[i] != '/')
			continue;
		if (!key_segment_ok(key + seg, i - seg, (size_t)-1, NULL, 0))
			return 0;
		if (seg == 0 && reserved_first && i == strlen(reserved_first) &&
		    memcmp(key, reserved_first, i) == 0)
			return 0;
		seg = i + 1;
	}
	return 1;
}

#endif
