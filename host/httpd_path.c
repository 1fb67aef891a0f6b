/* Request path check (httpd_path.h). */
#include "httpd_path.h"

#include <string.h>

#include "hexdig.h"

int httpd_path_check(const char *raw, size_t len, char *out, size_t cap, const char **why)
{
	size_t o = 0;
	if (len == 0 || raw[0] != '/') {
		*why = "the request target must be a path starting with /";
		return -1;
	}
	if (len > HTTPD_PATH_MAX) {
		*why = "path too long";
		return -1;
	}
	if (cap < len + 1) {
		*why = "path too long";
		return -1;
	}
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)raw[i];
		if (c == '%') {
			int hi = i + 2 < len ? hexdig((unsigned char)raw[i + 1]) : -1;
			int lo = i + 2 < len ? hexdig((unsigned char)raw[i + 2]) : -1;
			if (hi < 0 || lo < 0) {
				*why = "invalid percent escape";
				return -1;
			}
			c = (unsigned char)(hi << 4 | lo);
			if (c == '/' || c == '\\') {
				*why = "encoded slash or backslash in path";
				return -1;
			}
			i += 2;
		} else if (c == '\\') {
			*why = "backslash in path";
			return -1;
		}
		if (c < 0x20 || c == 0x7f) {
			*why = c ? "control character in path" : "NUL in path";
			return -1;
		}
		out[o++] = (char)c;
	}
	out[o] = '\0';
	/* Segments of the decoded path (only raw '/' separate them). */
	for (size_t i = 0; i < o;) {
		size_t j = i + 1;
		while (j < o && out[j] != '/')
			j++;
		size_t seg = j - i - 1;
		if (seg == 0 && j < o) {
			*why = "empty path segment (//)";
			return -1;
		}
		if ((seg == 1 && out[i + 1] == '.') ||
		    (seg == 2 && out[i + 1] == '.' && out[i + 2] == '.')) {
			*why = "dot segment in path";
			return -1;
		}
		i = j;
	}
	return 0;
}

int httpd_query_decode(char *s)
{
	char *o = s;
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '+') {
			c = ' ';
		} else if (c == '%') {
			int hi = s[1] ? hexdig((unsigned char)s[1]) : -1;
			int lo = hi >= 0 && s[2] ? hexdig((unsigned char)s[2]) : -1;
			if (hi < 0 || lo < 0 || (hi == 0 && lo == 0))
				return -1;
			c = (unsigned char)(hi << 4 | lo);
			s += 2;
		}
		*o++ = (char)c;
	}
	*o = '\0';
	return 0;
}
