/* libFuzzer target: the state-file loader (host/state.c state_parse).
 * Oracle beyond "no crash": whatever state_parse accepts, the host must be
 * able to write back (json-c, as state_flush does) and load again to an
 * equal object; otherwise a saved state would be refused at the next start. */
#include <json-c/json.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "lab/plugin.h"
#include "log.h"
#include "state.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	log_setup(LAB_LOG_ERROR, 0, 2);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct json_object *o = NULL, *again = NULL;
	const char *why = NULL;
	int rc = state_parse((const char *)data, size, &o, &why);
	if (rc == 0) {
		if (!o || !json_object_is_type(o, json_type_object))
			abort();
		size_t n;
		const char *text = json_object_to_json_string_length(o, JSON_C_TO_STRING_PLAIN, &n);
		if (!text)
			abort();
		const char *why2 = NULL;
		if (state_parse(text, n, &again, &why2) != 0) {
			fprintf(stderr, "written state does not load again: %s\n%.*s\n",
				why2 ? why2 : "?", (int)(n > 400 ? 400 : n), text);
			abort();
		}
		if (!json_object_equal(o, again)) {
			fprintf(stderr, "state changed in a write/load round trip\n");
			abort();
		}
		json_object_put(again);
		json_object_put(o);
	} else {
		if (rc != LAB_EPARSE || o != NULL || !why)
			abort();
	}
	return 0;
}
