/* Reading a ClickHouse result (`lab_rows`, built by ch_rows.c): the
 * getters behind the lab_rows_* functions of the host API.  The parser
 * that builds the rows is private to the ClickHouse client (ch_internal.h). */
#ifndef LAB_HOST_CH_ROWS_H
#define LAB_HOST_CH_ROWS_H

#include <stddef.h>
#include <stdint.h>

#include "lab/plugin.h"

size_t ch_rows_count(const struct lab_rows *r);
size_t ch_rows_columns(const struct lab_rows *r);
const char *ch_rows_column_name(const struct lab_rows *r, size_t col);
int ch_rows_is_null(const struct lab_rows *r, size_t row, size_t col);
int ch_rows_str(const struct lab_rows *r, size_t row, size_t col, const char **s, size_t *len);
int ch_rows_i64(const struct lab_rows *r, size_t row, size_t col, int64_t *out);
int ch_rows_u64(const struct lab_rows *r, size_t row, size_t col, uint64_t *out);
int ch_rows_f64(const struct lab_rows *r, size_t row, size_t col, double *out);

#endif
