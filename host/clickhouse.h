/* ClickHouse HTTP client (docs/clickhouse.md): parameter binding, gzip,
 * TabSeparatedWithNames parsed as it arrives, retries with backoff, a
 * global concurrency limit shared round-robin between plugins.  Loop
 * thread only. */
#ifndef LAB_HOST_CLICKHOUSE_H
#define LAB_HOST_CLICKHOUSE_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "config.h"
#include "lab/plugin.h"

struct clickhouse;
struct metrics;
struct ch_query;

/* Batch of a streamed query; return 0 or a negative LAB_E* to abort. */
typedef int (*ch_rows_fn)(const lab_rows *batch, void *ud);
/* Completion, exactly once unless cancelled.  rows: the whole result (non
 * streaming, status 0), else NULL. */
typedef void (*ch_done_fn)(int status, const char *errmsg, const lab_rows *rows, void *ud);

/* Rows per streamed batch. */
#define CH_BATCH_ROWS 4096

/* Queries are counted in metrics (NULL: not counted). */
int clickhouse_open(uv_loop_t *loop, struct metrics *metrics, const struct host_conf *hc,
		    struct clickhouse **out);
/* Cancels everything (no callbacks); handles close on the next loop run. */
void clickhouse_close(struct clickhouse *ch);

/* Queues a query for `plugin` (the fairness and metrics label).  flags:
 * LAB_QUERY_STREAM (on_rows required).  0 and *out (optional), or
 * LAB_EINVAL (binding) / LAB_ENOMEM. */
int clickhouse_query(struct clickhouse *ch, const char *plugin, const char *sql,
		     const lab_param *params, size_t n, unsigned flags, ch_rows_fn on_rows,
		     ch_done_fn done, void *ud, struct ch_query **out);

/* No callback is called afterwards.  Safe from inside this or any other
 * query's callbacks. */
void clickhouse_cancel(struct ch_query *q);

/* Asks the server `SELECT 1` now and then every interval_ms (0: never),
 * outside the plugins' queues, concurrency limit and metrics; each answer
 * counts for clickhouse_ready() like a query's.  Called again (SIGHUP), it
 * changes the interval; 0 turns the probe off. */
void clickhouse_probe_start(struct clickhouse *ch, uint64_t interval_ms);

/* 0 when the last answer came from a working server (or none yet, without
 * a probe); else nonzero and *why: the last transfer failed, or was a 5xx
 * without ClickHouse's exception text, or a malformed/empty 200, or the
 * probe is on and no working server has answered yet. */
int clickhouse_ready(const struct clickhouse *ch, const char **why);

/* Queries running / waiting (tests). */
size_t clickhouse_running(const struct clickhouse *ch);
size_t clickhouse_queued(const struct clickhouse *ch);

#endif
