/*
 * contributors — the pure parts of the plugin (no host calls), linked by
 * the plugin and by tests/unit/test_contributors.c (the JSON buffer is
 * common/buf.h, SHA-256 common/sha256.h):
 *   - the username → storage key segment mapping (SPEC §9.2)
 * (the scheduling gates are common/window_job's).
 */
#ifndef CONTRIBUTORS_COMPUTE_H
#define CONTRIBUTORS_COMPUTE_H
#include <stddef.h>
#include <stdint.h>

/* ---- keys ----------------------------------------------------------------
 * A safe key segment: 1..128 bytes of [A-Za-z0-9._-], not "." or "..".
 * Network names and window files must be safe segments. */
int contrib_safe_segment(const char *s, size_t n);

/*
 * Usernames come from data anyone can send; the Lab frontend fetches
 * user-summaries/users/${name}.json with the raw name, which the browser
 * percent-encodes as UTF-8 and the bucket (or HTTP server) decodes once.
 * So the key segment of a username (SPEC §9.2) is:
 *   - the raw name when contrib_raw_segment() says it is safe: valid UTF-8
 *     of 1..CONTRIB_RAW_MAX bytes, no control character (C0, DEL, C1), none
 *     of / \ % ? #, not "." or "..";
 *   - otherwise its escaped form (contrib_user_escaped_key): a name of
 *     1..64 bytes is percent-encoded, every byte outside [A-Za-z0-9_-] (so
 *     also '.') becoming %XX (upper-case hex) — the result always contains
 *     '%', which a raw name never does; any other name (empty, or longer
 *     than 64 bytes) becomes "%h" + the 64 lower-case hex digits of
 *     SHA-256(name); "%h" is not a percent escape, so it cannot equal an
 *     encoded name.
 * Two different names never share a key.  Each writes a NUL-terminated
 * segment (without ".json") to `out` (CONTRIB_KEY_MAX bytes are always
 * enough) and returns its length.
 */
#define CONTRIB_RAW_MAX 128
#define CONTRIB_KEY_MAX 200
int contrib_raw_segment(const char *s, size_t n);
size_t contrib_user_key(const char *s, size_t n, char *out);
size_t contrib_user_escaped_key(const char *s, size_t n, char *out);

/*
 * The key segment under which labd 1.0 stored this username's document
 * when that differs from contrib_user_key(): 1.0 used only safe segments
 * raw and escaped every other name, so a name that is raw now but not a
 * safe segment (jürgen, "d a v e") has a stale escaped copy to remove.
 * Returns 1 and writes `out` (CONTRIB_KEY_MAX bytes) then, 0 otherwise.
 */
int contrib_user_stale_key(const char *s, size_t n, char *out);

#endif
