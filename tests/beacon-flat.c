/*
 * beacon-flat — print every leaf of a JSON document read from stdin as one
 * line: the keys/indices of its path, then the value, separated by tabs.
 * Strings are written with ClickHouse's TabSeparated escapes (\\ \t \n \r
 * \0 \b \f \'), so lines compare byte for byte with SQL output; null is
 * printed as \N.  Used by tests/integration/beacon.sh.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

static void esc(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		switch (c) {
		case '\\': fputs("\\\\", stdout); break;
		case '\t': fputs("\\t", stdout); break;
		case '\n': fputs("\\n", stdout); break;
		case '\r': fputs("\\r", stdout); break;
		case '\0': fputs("\\0", stdout); break;
		case '\b': fputs("\\b", stdout); break;
		case '\f': fputs("\\f", stdout); break;
		case '\'': fputs("\\'", stdout); break;
		default: putchar(c);
		}
	}
}

struct path {
	const char *k[32];
	size_t n;
};

static void walk(json_object *o, struct path *p)
{
	if (json_object_is_type(o, json_type_object)) {
		json_object_object_foreach(o, key, val)
		{
			if (p->n < 32) {
				p->k[p->n++] = key;
				walk(val, p);
				p->n--;
			}
		}
		return;
	}
	if (json_object_is_type(o, json_type_array)) {
		char idx[24];
		size_t len = json_object_array_length(o);
		for (size_t i = 0; i < len && p->n < 32; i++) {
			snprintf(idx, sizeof idx, "%zu", i);
			p->k[p->n] = idx;
			p->n++;
			walk(json_object_array_get_idx(o, i), p);
			p->n--;
		}
		return;
	}
	for (size_t i = 0; i < p->n; i++) {
		esc(p->k[i], strlen(p->k[i]));
		putchar('\t');
	}
	if (!o)
		fputs("\\N", stdout);
	else if (json_object_is_type(o, json_type_string))
		esc(json_object_get_string(o), (size_t)json_object_get_string_len(o));
	else
		fputs(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN), stdout);
	putchar('\n');
}

int main(void)
{
	size_t cap = 1 << 16, len = 0, r;
	char *buf = malloc(cap);
	if (!buf)
		return 2;
	while ((r = fread(buf + len, 1, cap - len, stdin)) > 0) {
		len += r;
		if (len == cap) {
			char *nb = realloc(buf, cap *= 2);
			if (!nb)
				return 2;
			buf = nb;
		}
	}
	json_tokener *tok = json_tokener_new();
	json_object *o = json_tokener_parse_ex(tok, buf, (int)len);
	if (!o || json_tokener_get_error(tok) != json_tokener_success) {
		fprintf(stderr, "beacon-flat: not one JSON document\n");
		return 1;
	}
	struct path p = { .n = 0 };
	walk(o, &p);
	json_object_put(o);
	json_tokener_free(tok);
	free(buf);
	return 0;
}
