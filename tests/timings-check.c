/* timings-check: flattens a timings document for tests/integration/timings.sh
 * (no jq on the test machines).
 *
 *   timings-check FILE
 *
 * Prints one line per array element: "PATH INDEX TYPE VALUE", PATH being the
 * member names joined by '.', e.g. "mins 0 double 123" or
 * "arrival_times_ms.mev 3 double 1000"; TYPE is json-c's type of the value as
 * parsed (int or double), VALUE is printed with %.17g (doubles) or as an
 * integer.  Empty arrays print "PATH - empty -".  Exit 2 on unreadable or
 * invalid JSON, 1 if the top level is not an object. */
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void walk(json_object *o, const char *path)
{
	if (json_object_is_type(o, json_type_object)) {
		json_object_object_foreach(o, k, v)
		{
			char p[512];
			snprintf(p, sizeof p, "%s%s%s", path, *path ? "." : "", k);
			walk(v, p);
		}
		return;
	}
	if (json_object_is_type(o, json_type_array)) {
		size_t n = json_object_array_length(o);
		if (!n)
			printf("%s - empty -\n", path);
		for (size_t i = 0; i < n; i++) {
			json_object *e = json_object_array_get_idx(o, i);
			if (json_object_is_type(e, json_type_int))
				printf("%s %zu int %lld\n", path, i,
				       (long long)json_object_get_int64(e));
			else if (json_object_is_type(e, json_type_double))
				printf("%s %zu double %.17g\n", path, i, json_object_get_double(e));
			else
				printf("%s %zu %s %s\n", path, i,
				       json_type_to_name(json_object_get_type(e)),
				       json_object_to_json_string(e));
		}
		return;
	}
	printf("%s - %s %s\n", path, json_type_to_name(json_object_get_type(o)),
	       json_object_to_json_string(o));
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: timings-check FILE\n");
		return 2;
	}
	json_object *o = json_object_from_file(argv[1]);
	if (!o) {
		fprintf(stderr, "timings-check: %s: not JSON\n", argv[1]);
		return 2;
	}
	if (!json_object_is_type(o, json_type_object)) {
		json_object_put(o);
		return 1;
	}
	walk(o, "");
	json_object_put(o);
	return 0;
}
