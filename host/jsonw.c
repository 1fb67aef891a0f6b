/* The SDK 1.3 JSON writer: see jsonw.h and lab/plugin.h ("JSON writer").
 * The text is written by common/buf.c (one writer for host and plugins);
 * this file only keeps the grammar: where a key is due, where a comma goes,
 * and the first error. */
#include "jsonw.h"

#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "state.h"

#define JSONW_DEPTH 64

struct lab_json {
	struct buf b;
	int err;    /* first error, latched */
	int depth;  /* open containers */
	int done;   /* one complete top-level value written */
	char kind[JSONW_DEPTH]; /* '{' or '[' per level */
	unsigned char count[JSONW_DEPTH]; /* 0: nothing yet, 1: members written */
	unsigned char want_value; /* in an object: a key was written */
};

lab_json *jsonw_new(void) { return calloc(1, sizeof(struct lab_json)); }

static int fail(lab_json *j, int err)
{
	if (!j->err)
		j->err = err;
	return err;
}

/* Before a value: the comma, or the check that a key came first. */
static int value_slot(lab_json *j)
{
	if (!j || j->err)
		return -1;
	if (j->b.oom)
		return fail(j, LAB_ENOMEM);
	if (j->depth == 0) {
		if (j->done)
			return fail(j, LAB_EINVAL); /* a second top-level value */
		j->done = 1;
		return 0;
	}
	int d = j->depth - 1;
	if (j->kind[d] == '{') {
		if (!j->want_value)
			return fail(j, LAB_EINVAL); /* a value where a key is due */
		j->want_value = 0;
		return 0;
	}
	if (j->count[d])
		buf_putc(&j->b, ',');
	j->count[d] = 1;
	return 0;
}

void jsonw_open(lab_json *j, char kind)
{
	if (kind != '{' && kind != '[') {
		if (j)
			fail(j, LAB_EINVAL);
		return;
	}
	if (value_slot(j) != 0)
		return;
	if (j->depth == JSONW_DEPTH) {
		fail(j, LAB_EINVAL);
		return;
	}
	j->kind[j->depth] = kind;
	j->count[j->depth] = 0;
	j->depth++;
	buf_putc(&j->b, kind);
}

void jsonw_close(lab_json *j)
{
	if (!j || j->err)
		return;
	if (j->depth == 0 || j->want_value) {
		fail(j, LAB_EINVAL); /* nothing open, or a key without its value */
		return;
	}
	j->depth--;
	buf_putc(&j->b, j->kind[j->depth] == '{' ? '}' : ']');
}

void jsonw_key(lab_json *j, const char *key, size_t len)
{
	if (!j || j->err)
		return;
	int d = j->depth - 1;
	if (d < 0 || j->kind[d] != '{' || j->want_value || !key) {
		fail(j, LAB_EINVAL);
		return;
	}
	if (j->count[d])
		buf_putc(&j->b, ',');
	j->count[d] = 1;
	buf_json_str(&j->b, key, len == (size_t)-1 ? strlen(key) : len);
	buf_putc(&j->b, ':');
	j->want_value = 1;
}

void jsonw_str(lab_json *j, const char *s, size_t len)
{
	if (j && !s && len && len != (size_t)-1) {
		fail(j, LAB_EINVAL);
		return;
	}
	if (value_slot(j) != 0)
		return;
	if (!s)
		buf_puts(&j->b, "null");
	else
		buf_json_str(&j->b, s, len == (size_t)-1 ? strlen(s) : len);
}

void jsonw_i64(lab_json *j, int64_t v)
{
	if (value_slot(j) == 0)
		buf_i64(&j->b, v);
}

void jsonw_u64(lab_json *j, uint64_t v)
{
	if (value_slot(j) == 0)
		buf_u64(&j->b, v);
}

void jsonw_f64(lab_json *j, double v)
{
	if (value_slot(j) == 0)
		buf_f64(&j->b, v);
}

void jsonw_bool(lab_json *j, int v)
{
	if (value_slot(j) == 0)
		buf_puts(&j->b, v ? "true" : "false");
}

void jsonw_null(lab_json *j)
{
	if (value_slot(j) == 0)
		buf_puts(&j->b, "null");
}

void jsonw_raw(lab_json *j, const char *json, size_t len)
{
	if (!j || j->err)
		return;
	if (!json) {
		fail(j, LAB_EINVAL);
		return;
	}
	if (len == (size_t)-1)
		len = strlen(json);
	/* The state service's check: exactly one strict JSON value. */
	int rc = state_value_check(json, len);
	if (rc < 0) {
		fail(j, rc);
		return;
	}
	if (value_slot(j) == 0)
		buf_append(&j->b, json, len);
}

int jsonw_finish(lab_json *j, const char **data, size_t *len)
{
	if (!j || !data)
		return LAB_EINVAL;
	if (!j->err && j->b.oom)
		j->err = LAB_ENOMEM;
	if (j->err)
		return j->err;
	if (j->depth || !j->done)
		return LAB_ESTATE;
	*data = j->b.data;
	if (len)
		*len = j->b.len;
	return 0;
}

void jsonw_free(lab_json *j)
{
	if (!j)
		return;
	buf_free(&j->b);
	free(j);
}
