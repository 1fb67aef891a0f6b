/* The SDK 1.3 JSON writer (lab_json_*): common/buf.c's writer behind an
 * opaque handle, with the commas, colons and nesting checks a plugin would
 * otherwise get wrong.  No loop, no instance: safe on any thread, one
 * thread per writer at a time. */
#ifndef LAB_HOST_JSONW_H
#define LAB_HOST_JSONW_H

#include "lab/plugin.h"

lab_json *jsonw_new(void);
/* The writer's members of lab_host_api (all but json_new, which takes the
 * ctx), for the host's table and lab-plugin-test's. */
#define JSONW_API_MEMBERS                                                                 \
	.json_open = jsonw_open, .json_close = jsonw_close, .json_key = jsonw_key,         \
	.json_str = jsonw_str, .json_i64 = jsonw_i64, .json_u64 = jsonw_u64,               \
	.json_f64 = jsonw_f64, .json_bool = jsonw_bool, .json_null = jsonw_null,           \
	.json_raw = jsonw_raw, .json_finish = jsonw_finish, .json_free = jsonw_free
void jsonw_open(lab_json *j, char kind);
void jsonw_close(lab_json *j);
void jsonw_key(lab_json *j, const char *key, size_t len);
void jsonw_str(lab_json *j, const char *s, size_t len);
void jsonw_i64(lab_json *j, int64_t v);
void jsonw_u64(lab_json *j, uint64_t v);
void jsonw_f64(lab_json *j, double v);
void jsonw_bool(lab_json *j, int v);
void jsonw_null(lab_json *j);
void jsonw_raw(lab_json *j, const char *json, size_t len);
int jsonw_finish(lab_json *j, const char **data, size_t *len);
void jsonw_free(lab_json *j);

#endif
