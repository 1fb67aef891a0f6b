/* One state value's strict check (host/state.h state_value_parse,
 * state_value_check): exactly one RFC 8259 value, valid UTF-8, finite
 * numbers.  Its own file so lab-plugin-test's JSON writer (host/jsonw.c
 * lab_json_raw) links it without the state service and storage. */
#include "state.h"

#include <json-c/json.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define PARSE_DEPTH 64

static int all_finite(json_object *o)
{
	switch (json_object_get_type(o)) {
	case json_type_double:
		return isfinite(json_object_get_double(o));
	case json_type_array: {
		size_t i, n = json_object_array_length(o);
		for (i = 0; i < n; i++)
			if (!all_finite(json_object_array_get_idx(o, i)))
				return 0;
		return 1;
	}
	case json_type_object: {
		json_object_object_foreach(o, k, v) {
			(void)k;
			if (!all_finite(v))
				return 0;
		}
		return 1;
	}
	default:
		return 1;
	}
}

/* Exactly one JSON value; *out may be NULL for `null`. */
int state_value_parse(const char *text, size_t len, json_object **out, const char **why)
{
	struct json_tokener *tok;
	enum json_tokener_error jerr;
	json_object *o;
	char *copy;
	size_t end;

	*out = NULL;
	if (len > (size_t)INT32_MAX - 1) {
		*why = "too large";
		return LAB_EPARSE;
	}
	if (memchr(text, '\0', len)) {
		*why = "contains a NUL byte";
		return LAB_EPARSE;
	}
	/* The terminating NUL tells the tokener the text ends (a number at the
	 * very end would otherwise be incomplete). */
	copy = malloc(len + 1);
	if (!copy)
		return LAB_ENOMEM;
	memcpy(copy, text, len);
	copy[len] = '\0';
	tok = json_tokener_new_ex(PARSE_DEPTH);
	if (!tok) {
		free(copy);
		return LAB_ENOMEM;
	}
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
	o = json_tokener_parse_ex(tok, copy, (int)len + 1);
	jerr = json_tokener_get_error(tok);
	end = json_tokener_get_parse_end(tok);
	json_tokener_free(tok);
	if (jerr == json_tokener_success)
		while (end < len && strchr(" \t\r\n", copy[end]))
			end++;
	free(copy);
	if (jerr != json_tokener_success || end < len) {
		json_object_put(o);
		*why = jerr != json_tokener_success ? json_tokener_error_desc(jerr)
						     : "text after the value";
		return LAB_EPARSE;
	}
	if (!all_finite(o)) {
		json_object_put(o);
		*why = "NaN or Infinity is not JSON";
		return LAB_EPARSE;
	}
	*out = o;
	return 0;
}

int state_value_check(const char *text, size_t len)
{
	json_object *o;
	const char *why;
	if (!text)
		return LAB_EPARSE;
	int rc = state_value_parse(text, len, &o, &why);
	json_object_put(o);
	return rc < 0 ? (rc == LAB_ENOMEM ? rc : LAB_EPARSE) : 0;
}
