/* labctl-config-import: reading the YAML document.  Every lookup names
 * the setting's dotted path and line in its diagnostics, so an operator can
 * find each warning and error in the original file. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "import.h"

yaml_node_t *y_root(struct imp *im) { return yaml_document_get_root_node(&im->doc); }

int y_line(const yaml_node_t *n) { return n ? (int)n->start_mark.line + 1 : 0; }
int y_is_map(const yaml_node_t *n) { return n && n->type == YAML_MAPPING_NODE; }
int y_is_seq(const yaml_node_t *n) { return n && n->type == YAML_SEQUENCE_NODE; }

static void vline(struct buf *b, const char *file, const yaml_node_t *n, const char *path,
		  const char *fmt, va_list ap)
{
	if (n)
		buf_printf(b, "%s:%d: %s: ", file, y_line(n), path);
	else
		buf_printf(b, "%s: %s: ", file, path);
	buf_vprintf(b, fmt, ap);
	buf_putc(b, '\n');
}

void y_error(struct imp *im, const yaml_node_t *n, const char *path, const char *fmt, ...)
{
	struct buf b = BUF_INIT;
	va_list ap;

	va_start(ap, fmt);
	vline(&b, im->file, n, path, fmt, ap);
	va_end(ap);
	/* The first error is the one worth reading; later ones may follow from it. */
	if (!im->error && b.data)
		fprintf(stderr, "labctl config import: error: %s", b.data);
	im->error = 1;
	buf_free(&b);
}

void y_drop(struct imp *im, const yaml_node_t *n, const char *path, const char *why)
{
	buf_printf(&im->warnings, "%s:%d: %s: not imported: %s\n", im->file, y_line(n), path, why);
	im->n_dropped++;
}

void y_note(struct imp *im, const yaml_node_t *n, const char *path, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vline(&im->notes, im->file, n, path, fmt, ap);
	va_end(ap);
}

yaml_node_t *y_get(struct imp *im, yaml_node_t *map, const char *key)
{
	if (!y_is_map(map))
		return NULL;
	for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
	     p++) {
		yaml_node_t *k = yaml_document_get_node(&im->doc, p->key);
		if (k && k->type == YAML_SCALAR_NODE && strcmp((char *)k->data.scalar.value, key) == 0)
			return yaml_document_get_node(&im->doc, p->value);
	}
	return NULL;
}

const char *y_str(struct imp *im, yaml_node_t *n, const char *path)
{
	if (!n || n->type != YAML_SCALAR_NODE) {
		y_error(im, n, path, "expected a string");
		return NULL;
	}
	if (strlen((char *)n->data.scalar.value) != n->data.scalar.length) {
		y_error(im, n, path, "contains a NUL byte");
		return NULL;
	}
	return (const char *)n->data.scalar.value;
}

size_t y_map_len(const yaml_node_t *map)
{
	return y_is_map(map) ? (size_t)(map->data.mapping.pairs.top - map->data.mapping.pairs.start) :
			       0;
}

const char *y_map_key(struct imp *im, yaml_node_t *map, size_t i, yaml_node_t **value)
{
	yaml_node_pair_t *p = map->data.mapping.pairs.start + i;
	yaml_node_t *k = yaml_document_get_node(&im->doc, p->key);
	*value = yaml_document_get_node(&im->doc, p->value);
	if (!k || k->type != YAML_SCALAR_NODE) {
		y_error(im, k, "(key)", "mapping keys must be plain strings");
		return NULL;
	}
	return (const char *)k->data.scalar.value;
}

size_t y_seq_len(const yaml_node_t *seq)
{
	return y_is_seq(seq) ? (size_t)(seq->data.sequence.items.top - seq->data.sequence.items.start) :
			       0;
}

yaml_node_t *y_seq_at(struct imp *im, yaml_node_t *seq, size_t i)
{
	return yaml_document_get_node(&im->doc, seq->data.sequence.items.start[i]);
}

int y_known(struct imp *im, yaml_node_t *map, const char *path, const char *const *known)
{
	for (size_t i = 0; i < y_map_len(map); i++) {
		yaml_node_t *v;
		const char *k = y_map_key(im, map, i, &v);
		size_t j;
		if (!k)
			return -1;
		for (j = 0; known[j]; j++)
			if (strcmp(known[j], k) == 0)
				break;
		if (!known[j]) {
			yaml_node_pair_t *p = map->data.mapping.pairs.start + i;
			char full[256];
			snprintf(full, sizeof full, "%s%s%s", path, *path ? "." : "", k);
			y_error(im, yaml_document_get_node(&im->doc, p->key), full,
				"unknown setting (not part of this config format)");
			return -1;
		}
	}
	return 0;
}

int y_need_map(struct imp *im, yaml_node_t *n, const char *path, int optional)
{
	if (!n && optional)
		return 0;
	/* `key:` with nothing after it is an empty (null) scalar: treat as {}. */
	if (optional && n->type == YAML_SCALAR_NODE && n->data.scalar.length == 0)
		return 0;
	if (!y_is_map(n)) {
		y_error(im, n, path, n ? "expected a mapping (key: value lines)" : "required");
		return -1;
	}
	return 0;
}

int y_need_seq(struct imp *im, yaml_node_t *n, const char *path)
{
	if (!y_is_seq(n)) {
		y_error(im, n, path, "expected a list (- item lines)");
		return -1;
	}
	return 0;
}

int y_int(struct imp *im, yaml_node_t *n, const char *path, int64_t *out)
{
	const char *s = y_str(im, n, path);
	char *end;
	long long v;

	if (!s)
		return -1;
	v = strtoll(s, &end, 10);
	if (!*s || *end || end == s) {
		y_error(im, n, path, "expected an integer, got \"%s\"", s);
		return -1;
	}
	*out = v;
	return 0;
}

int y_bool(struct imp *im, yaml_node_t *n, const char *path, int *out)
{
	static const char *const t[] = { "true", "yes", "on", NULL }, *const f[] = { "false", "no",
										       "off", NULL };
	const char *s = y_str(im, n, path);
	if (!s)
		return -1;
	for (size_t i = 0; t[i]; i++) {
		if (strcasecmp(s, t[i]) == 0) {
			*out = 1;
			return 0;
		}
		if (strcasecmp(s, f[i]) == 0) {
			*out = 0;
			return 0;
		}
	}
	y_error(im, n, path, "expected true or false, got \"%s\"", s);
	return -1;
}
