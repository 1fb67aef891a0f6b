/* The request path check of the public HTTP listener (docs/http.md), run
 * before any plugin sees a request.  Pure functions: no state, any thread. */
#ifndef LAB_HOST_HTTPD_PATH_H
#define LAB_HOST_HTTPD_PATH_H

#include <stddef.h>

#define HTTPD_PATH_MAX 1024

/* Checks the raw (still percent-encoded) path of a request target and
 * writes its decoded form, NUL-terminated, into out (cap >= len + 1).
 * Refused: empty or not starting with '/', longer than HTTPD_PATH_MAX,
 * a NUL or control byte (raw or decoded), '\\' (raw or %5C), an encoded
 * slash (%2F), an invalid escape ("%", "%4", "%zz"), "//", and a "." or
 * ".." segment after decoding.  Returns 0 or -1 with *why set to a short
 * message for the 400 answer. */
int httpd_path_check(const char *raw, size_t len, char *out, size_t cap, const char **why);

/* Percent-decodes a query value in place ('+' is a space); -1 on an
 * invalid escape or a decoded NUL. */
int httpd_query_decode(char *s);

#endif
