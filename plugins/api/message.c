/* Parsing what clients and the broker send (message.h). */
#include <stdio.h>
#include <string.h>

#include "message.h"

json_object *api_json_parse(const void *data, size_t len)
{
	if (len == 0 || len > INT32_MAX || memchr(data, '\0', len))
		return NULL;
	json_tokener *tok = json_tokener_new();
	if (!tok)
		return NULL;
	json_object *o = json_tokener_parse_ex(tok, data, (int)len);
	if (json_tokener_get_error(tok) != json_tokener_success) {
		json_object_put(o);
		o = NULL;
	}
	/* json-c stops after the first value: only whitespace may follow */
	for (size_t i = json_tokener_get_parse_end(tok); o && i < len; i++) {
		char c = ((const char *)data)[i];
		if (c != ' ' && c != '\n' && c != '\r' && c != '\t') {
			json_object_put(o);
			o = NULL;
		}
	}
	json_tokener_free(tok);
	return o;
}

static void set_bad(char *bad, const char *s, size_t n)
{
	snprintf(bad, TOPIC_TEXT_MAX, "%.*s", (int)(n < TOPIC_TEXT_MAX ? n : TOPIC_TEXT_MAX - 1),
		 s);
}

enum client_msg api_client_msg(const void *data, size_t len, struct topic_set *set, char *bad)
{
	json_object *o = api_json_parse(data, len);
	if (!o)
		return CLIENT_MSG_NOT_JSON;
	/* json_object_object_foreach needs an object */
	if (!json_object_is_type(o, json_type_object) || json_object_object_length(o) == 0) {
		json_object_put(o);
		return CLIENT_MSG_BAD_SHAPE;
	}
	struct topic_set next = *set;
	enum client_msg rc = CLIENT_MSG_OK;
	json_object_object_foreach(o, key, val)
	{
		int sub = strcmp(key, "subscribe") == 0;
		if ((!sub && strcmp(key, "unsubscribe") != 0) ||
		    !json_object_is_type(val, json_type_array)) {
			rc = CLIENT_MSG_BAD_SHAPE;
			break;
		}
		for (size_t i = 0; i < json_object_array_length(val) && rc == CLIENT_MSG_OK; i++) {
			json_object *e = json_object_array_get_idx(val, i);
			struct topic t;
			if (!json_object_is_type(e, json_type_string)) {
				set_bad(bad, "(not a string)", 14);
				rc = CLIENT_MSG_BAD_TOPIC;
				continue;
			}
			/* by length: a NUL inside the string is refused, not cut */
			const char *txt = json_object_get_string(e);
			size_t n = (size_t)json_object_get_string_len(e);
			if (topic_parse(txt, n, &t) < 0 || (sub && topic_set_add(&next, &t) < 0)) {
				set_bad(bad, txt, n);
				rc = CLIENT_MSG_BAD_TOPIC;
			} else if (!sub) {
				topic_set_remove(&next, &t);
			}
		}
		if (rc != CLIENT_MSG_OK)
			break;
	}
	json_object_put(o);
	if (rc == CLIENT_MSG_OK)
		*set = next;
	return rc;
}
