/* ClickHouse client internals shared by clickhouse.c and the unit tests:
 * parameter binding (ch_sql.c) and the incremental TabSeparatedWithNames
 * parser that builds `lab_rows` (ch_rows.c). */
#ifndef LAB_HOST_CH_INTERNAL_H
#define LAB_HOST_CH_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "lab/plugin.h"

/* ---- binding ---------------------------------------------------------- */

/* Appends `sql` to out with the n-th `?` (outside '...', "...", `...` and
 * -- / block comments) replaced by params[n-1] rendered as a ClickHouse
 * literal.  LAB_EINVAL when the placeholder and parameter counts differ, a
 * type is unknown, a double is not finite or a string is NULL with a
 * length; LAB_ERANGE for a DATETIME outside 0..2^32-1; LAB_ENOMEM. */
int ch_bind(struct buf *out, const char *sql, const lab_param *params, size_t n);

/* Appends s as a quoted ClickHouse string literal. */
void ch_quote(struct buf *out, const char *s, size_t len);

/* Whether the statement returns rows (starts with SELECT, WITH, SHOW,
 * DESCRIBE/DESC, EXISTS or EXPLAIN after whitespace, comments and '('), so
 * the host appends a FORMAT clause. */
int ch_returns_rows(const char *sql);

/* ---- rows ------------------------------------------------------------- */

#define CH_NULL_LEN SIZE_MAX

struct ch_cell {
	size_t off, len; /* into lab_rows.data; len CH_NULL_LEN = NULL */
};

struct lab_rows {
	size_t ncols, nrows;
	struct buf names;  /* column names, each NUL-terminated */
	size_t *name_off;  /* ncols offsets into names */
	size_t name_cap;
	struct ch_cell *cells; /* nrows * ncols, row-major */
	size_t cells_cap;      /* in cells */
	struct buf data;       /* decoded field bytes (each field NUL-terminated) */
};

/* Called with a full batch; return 0 or a negative LAB_E* to stop. */
typedef int (*ch_batch_fn)(const struct lab_rows *rows, void *ud);

struct ch_parser {
	struct lab_rows rows;
	int header_done;  /* names row parsed */
	int esc;          /* just after a backslash */
	int hexleft;      /* \xHH digits still expected */
	unsigned hexval;
	size_t field_raw; /* raw bytes in the current field */
	int null_cand;    /* current field so far is exactly "\N" */
	size_t field_off; /* where the current field starts (names or data) */
	size_t col;       /* current column */
	size_t batch;     /* 0 = keep everything, else flush every `batch` rows */
	ch_batch_fn on_batch;
	void *ud;
	uint64_t total_rows;
	int err;          /* sticky error */
	size_t err_at;    /* byte offset (of the whole input) of the error */
	uint64_t consumed;
};

void ch_parser_init(struct ch_parser *p, size_t batch, ch_batch_fn on_batch, void *ud);
void ch_parser_free(struct ch_parser *p);
/* Clears everything (for a retry). */
void ch_parser_reset(struct ch_parser *p);
/* Feeds bytes; 0, LAB_EPARSE (sticky), LAB_ENOMEM or the batch callback's
 * error.  On error *used (if given) is the number of bytes consumed. */
int ch_parser_feed(struct ch_parser *p, const char *data, size_t len, size_t *used);
/* Bytes the parser holds now (rows not yet handed on, the current row):
 * what a size cap on an answer must bound. */
size_t ch_parser_held(const struct ch_parser *p);
/* End of input: LAB_EPARSE when it stopped inside a row; flushes the last
 * partial batch in batch mode. */
int ch_parser_finish(struct ch_parser *p);

/* Getters: ch_rows.h (also used by hostapi.c). */
#include "ch_rows.h"

#endif
