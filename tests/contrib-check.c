/* contrib-check: flattens the contributors plugin's documents into TSV lines
 * for tests/integration/contributors.sh, where they are compared with
 * expectations computed by other SQL (there is no jq on the test machines).
 * Strings are printed as upper-case hex of their (JSON-decoded) bytes.
 *
 *   contrib-check series FILE LIST VALUE   TIME HEX(name) VALUE, document order
 *   contrib-check summary FILE             NET DIM HEX(key) TOTAL PUBLIC (DIM "-" = totals)
 *   contrib-check users FILE               per node: HEX(user) NODE_COUNT NODE...
 *   contrib-check user FILE                per node: HEX(name) NODE...
 * NODE: NET HEX(client_name) consensus_client consensus_version
 *   HEX(country) HEX(city) continent latest_slot latest_slot_start_date_time
 *   client_implementation client_version.
 * Exit 0 ok, 2 on a file that is not the expected JSON. */
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void bad(const char *why)
{
	fprintf(stderr, "contrib-check: %s\n", why);
	exit(2);
}

static struct json_object *get(struct json_object *o, const char *k, json_type t)
{
	struct json_object *v;
	if (!json_object_object_get_ex(o, k, &v) || !json_object_is_type(v, t)) {
		fprintf(stderr, "contrib-check: key %s missing or of the wrong type\n", k);
		exit(2);
	}
	return v;
}

static void hex(const char *s, size_t n)
{
	if (n == 0)
		fputs("-", stdout);
	for (size_t i = 0; i < n; i++)
		printf("%02X", (unsigned char)s[i]);
}

static void hexo(struct json_object *o)
{
	hex(json_object_get_string(o), (size_t)json_object_get_string_len(o));
}

static void node(const char *prefix, struct json_object *n)
{
	static const char *f[] = { "network", "client_name", "consensus_client", "consensus_version",
				   "country", "city", "continent", "latest_slot",
				   "latest_slot_start_date_time", "client_implementation",
				   "client_version" };
	fputs(prefix, stdout);
	for (size_t i = 0; i < sizeof f / sizeof *f; i++) {
		putchar('\t');
		if (i == 7 || i == 8) {
			printf("%lld", (long long)json_object_get_int64(get(n, f[i], json_type_int)));
		} else {
			struct json_object *v = get(n, f[i], json_type_string);
			if (i == 1 || i == 4 || i == 5)
				hexo(v);
			else
				fputs(json_object_get_string(v), stdout);
		}
	}
	putchar('\n');
}

static void nodes(const char *prefix, struct json_object *arr)
{
	for (size_t i = 0; i < json_object_array_length(arr); i++)
		node(prefix, json_object_array_get_idx(arr, i));
}

/* Upper-case hex of a JSON string ("-" when empty), in a static buffer. */
static const char *hexstr(struct json_object *o)
{
	static char *buf;
	const char *s = json_object_get_string(o);
	size_t n = (size_t)json_object_get_string_len(o);
	free(buf);
	buf = malloc(2 * n + 2);
	if (!buf)
		bad("out of memory");
	if (n == 0)
		strcpy(buf, "-");
	for (size_t i = 0; i < n; i++)
		sprintf(buf + 2 * i, "%02X", (unsigned char)s[i]);
	return buf;
}

int main(int argc, char **argv)
{
	if (argc < 3)
		bad("usage: contrib-check series|summary|users|user FILE [LIST VALUE]");
	struct json_object *doc = json_object_from_file(argv[2]);
	if (!doc)
		bad("not JSON");
	if (strcmp(argv[1], "series") == 0 && argc == 5) {
		if (!json_object_is_type(doc, json_type_array))
			bad("not an array");
		for (size_t i = 0; i < json_object_array_length(doc); i++) {
			struct json_object *e = json_object_array_get_idx(doc, i);
			long long t = (long long)json_object_get_int64(get(e, "time", json_type_int));
			struct json_object *l = get(e, argv[3], json_type_array);
			for (size_t j = 0; j < json_object_array_length(l); j++) {
				struct json_object *x = json_object_array_get_idx(l, j);
				printf("%lld\t", t);
				hexo(get(x, "name", json_type_string));
				printf("\t%lld\n",
				       (long long)json_object_get_int64(get(x, argv[4], json_type_int)));
			}
		}
	} else if (strcmp(argv[1], "summary") == 0) {
		static const char *dims[] = { "countries", "continents", "cities",
					      "consensus_implementations" };
		get(doc, "updated_at", json_type_int);
		json_object_object_foreach(get(doc, "networks", json_type_object), net, v)
		{
			printf("%s\t-\t-\t%lld\t%lld\n", net,
			       (long long)json_object_get_int64(get(v, "total_nodes", json_type_int)),
			       (long long)json_object_get_int64(
				       get(v, "total_public_nodes", json_type_int)));
			for (size_t d = 0; d < 4; d++) {
				json_object_object_foreach(get(v, dims[d], json_type_object), k, c)
				{
					printf("%s\t%s\t", net, dims[d]);
					hex(k, strlen(k));
					printf("\t%lld\t%lld\n",
					       (long long)json_object_get_int64(
						       get(c, "total_nodes", json_type_int)),
					       (long long)json_object_get_int64(
						       get(c, "public_nodes", json_type_int)));
				}
			}
		}
	} else if (strcmp(argv[1], "users") == 0) {
		get(doc, "updated_at", json_type_int);
		struct json_object *l = get(doc, "contributors", json_type_array);
		for (size_t i = 0; i < json_object_array_length(l); i++) {
			struct json_object *c = json_object_array_get_idx(l, i);
			char prefix[64];
			const char *h = hexstr(get(c, "name", json_type_string));
			char *p = malloc(strlen(h) + sizeof prefix);
			if (!p)
				bad("out of memory");
			snprintf(prefix, sizeof prefix, "\t%lld",
				 (long long)json_object_get_int64(get(c, "node_count", json_type_int)));
			strcpy(p, h);
			strcat(p, prefix);
			get(c, "updated_at", json_type_int);
			nodes(p, get(c, "nodes", json_type_array));
			free(p);
		}
	} else if (strcmp(argv[1], "user") == 0) {
		get(doc, "updated_at", json_type_int);
		char *p = strdup(hexstr(get(doc, "name", json_type_string)));
		if (!p)
			bad("out of memory");
		nodes(p, get(doc, "nodes", json_type_array));
		free(p);
	} else {
		bad("unknown mode");
	}
	json_object_put(doc);
	return 0;
}
