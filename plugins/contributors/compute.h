/*
 * contributors — the pure parts of the plugin (no host calls), linked by
 * the plugin and by tests/unit/test_contributors.c (the JSON buffer is
 * common/jbuf.h, SHA-256 common/sha256.h):
 *   - the username → storage key segment mapping,
 *   - the scheduling gates of the four processors.
 */
#ifndef CONTRIBUTORS_COMPUTE_H
#define CONTRIBUTORS_COMPUTE_H
#include <stddef.h>
#include <stdint.h>

/* ---- keys ----------------------------------------------------------------
 * A safe key segment: 1..128 bytes of [A-Za-z0-9._-], not "." or "..". */
int contrib_safe_segment(const char *s, size_t n);

/*
 * The key segment of a username (without ".json"), written to `out`
 * (NUL-terminated; CONTRIB_KEY_MAX bytes are always enough):
 *   - a safe segment is used as it is;
 *   - any other username of 1..64 bytes is percent-encoded: every byte
 *     outside [A-Za-z0-9_-] (so also '.') becomes %XX (upper-case hex);
 *     the result always contains '%', which a safe segment never does;
 *   - any other username (empty, or longer than 64 bytes) becomes
 *     "%h" + the 64 lower-case hex digits of SHA-256(username); "%h" is not
 *     a percent escape, so it cannot equal an encoded name.
 * Returns the length written.
 */
#define CONTRIB_KEY_MAX 200
size_t contrib_user_key(const char *s, size_t n, char *out);

/* ---- scheduling ----------------------------------------------------------
 * A processor (or window) runs when it never ran (last == 0) or at least
 * `period` seconds passed since `last`.  `force` (--once, run requests)
 * always runs. */
int contrib_due(int64_t now, int64_t last, int64_t period, int force);

#endif
