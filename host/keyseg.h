/* The key-segment service of SDK 1.1 (lab_key_segment, lab_key_segment_check
 * in lab/plugin.h): the host owns the storage key rules, so the one mapping
 * from untrusted names (usernames) to key segments (SPEC §9.2) lives here.
 * Pure and thread-safe. */
#ifndef LAB_HOST_KEYSEG_H
#define LAB_HOST_KEYSEG_H

#include <stddef.h>

/* 1 when s[0..n) may be one key segment as it is; LAB_KEYSEG_PORTABLE:
 * only [A-Za-z0-9._-].  0 otherwise. */
int keyseg_check(const char *s, size_t n, unsigned flags);

/* 1 when s[0..n) is a relative storage key prefix of at most 256 bytes:
 * segments as the storage front accepts them, not the metadata directory;
 * trailing '/' allowed.  LAB_SETTING_KEY_PREFIX. */
int keyseg_prefix_ok(const char *s, size_t n);

/* The segment of `name` (raw or escaped; LAB_KEYSEG_ESCAPED: escaped),
 * NUL-terminated in out[cap]; its length, or LAB_ERANGE / LAB_EINVAL. */
int keyseg_make(const char *name, size_t n, unsigned flags, char *out, size_t cap);

#endif
