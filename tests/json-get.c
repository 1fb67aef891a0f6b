/* json-get: prints one value of a JSON document, for shell tests (there is
 * no jq on the test machines).
 *
 *   json-get [-t|-k] FILE|- POINTER
 *
 * POINTER is an RFC 6901 JSON pointer ("" = the whole document,
 * "/modules/example/interval_s", "/a/0" for an array element; "~1" stands
 * for "/" and "~0" for "~" inside a key).  Prints a string value raw,
 * anything else as compact JSON; -t prints the type instead (null, boolean,
 * double, int, object, array, string), -k the keys of an object one a line
 * (in document order).  Exit 0 if found, 1 if not, 2 on bad input. */
#include <errno.h>
#include <json-c/json.h>
#include <json-c/json_pointer.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
	int mode = 0, ai = 1;
	if (argc == 4 && (strcmp(argv[1], "-t") == 0 || strcmp(argv[1], "-k") == 0)) {
		mode = argv[1][1];
		ai = 2;
	} else if (argc != 3) {
		fprintf(stderr, "usage: json-get [-t|-k] FILE|- POINTER\n");
		return 2;
	}
	const char *file = argv[ai], *ptr = argv[ai + 1];
	FILE *f = strcmp(file, "-") == 0 ? stdin : fopen(file, "rb");
	if (!f) {
		fprintf(stderr, "json-get: %s: %s\n", file, strerror(errno));
		return 2;
	}
	size_t cap = 65536, len = 0, n;
	char *text = malloc(cap);
	while (text && (n = fread(text + len, 1, cap - len - 1, f)) > 0) {
		len += n;
		if (cap - len - 1 == 0) {
			char *t = realloc(text, cap * 2);
			if (!t) {
				free(text);
				text = NULL;
				break;
			}
			text = t;
			cap *= 2;
		}
	}
	if (f != stdin)
		fclose(f);
	if (!text) {
		fprintf(stderr, "json-get: out of memory\n");
		return 2;
	}
	text[len] = '\0';
	json_tokener *tok = json_tokener_new();
	json_object *doc = tok ? json_tokener_parse_ex(tok, text, (int)len) : NULL;
	int ok = tok && json_tokener_get_error(tok) == json_tokener_success;
	if (tok)
		json_tokener_free(tok);
	free(text);
	if (!ok) {
		fprintf(stderr, "json-get: %s: not valid JSON\n", file);
		json_object_put(doc);
		return 2;
	}
	json_object *v = NULL;
	if (json_pointer_get(doc, ptr, &v) != 0) {
		json_object_put(doc);
		return 1;
	}
	if (mode == 't') {
		printf("%s\n", json_type_to_name(json_object_get_type(v)));
	} else if (mode == 'k') {
		if (!json_object_is_type(v, json_type_object)) {
			json_object_put(doc);
			return 1;
		}
		json_object_object_foreach(v, k, val)
		{
			(void)val;
			printf("%s\n", k);
		}
	} else if (json_object_is_type(v, json_type_string)) {
		printf("%s\n", json_object_get_string(v));
	} else {
		printf("%s\n", json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN));
	}
	json_object_put(doc);
	return 0;
}
