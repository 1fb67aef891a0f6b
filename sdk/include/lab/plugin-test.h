/*
 * lab/plugin-test.h — lab-plugin-test, a scripted fake labd host for unit
 * tests of a plugin.  The plugin runs in the test's own process, on the
 * test's thread, against the real SDK function table (lab/plugin.h), with:
 *
 *   - ClickHouse: canned answers (TabSeparatedWithNames text, errors,
 *     delays) chosen by matching the bound SQL (substring or regex);
 *   - storage and state: in memory, preloadable and inspectable, with
 *     injectable failures;
 *   - a broker: publish into the plugin's subscriptions, read what it
 *     published;
 *   - virtual time: the wall and monotonic clocks only move when the test
 *     says so; advancing them fires the timers (and delayed answers) that
 *     fall due, in order;
 *   - logs captured for assertions;
 *   - metrics (labd's own registry) and progress entries readable back
 *     (SDK 1.2); the JSON writer, millisecond durations, identifier
 *     parameters and cancellable work of SDK 1.3 as labd has them.
 *
 * Build a test (docs/plugin-testing.md):
 *     cc test_hello.c hello.c $(pkg-config --cflags --libs lab-plugin-test)
 * and write it as
 *     labt *t = labt_new(lab_plugin_entry());
 *     LABT_CHECK(labt_config(t, "interval = \"10s\";") == 0);
 *     LABT_CHECK(labt_init(t) == 0 && labt_start(t) == 0);
 *     labt_advance(t, 10000);              // the timer fires
 *     LABT_CHECK(labt_events(t, "hello.updated") == 1);
 *     labt_free(t);
 *
 * Every callback of the plugin runs from a labt_* call of the test (never
 * from another thread, never before the SDK call that registered it has
 * returned, as lab/plugin.h promises).  The driver calls labt_start,
 * labt_once, labt_run, labt_publish, labt_advance and labt_pump run every
 * callback that is due before they return.
 *
 * The fake host implements the SDK functions of ABI 1.LABT_ABI_MINOR; its
 * table ends there, so LAB_HAS() is false for newer functions (their
 * wrappers return LAB_ENOTSUP) and a plugin that declares it needs a newer
 * minor is refused by labt_init() with LAB_EABI.
 *
 * Everything here runs on the test's thread only; one labt is one plugin
 * instance.  Misuse of the SDK (a loop-only function called from a work
 * function, a handle of another instance, a callback after destroy)
 * aborts the test with a message naming the function.
 */
#ifndef LAB_PLUGIN_TEST_H
#define LAB_PLUGIN_TEST_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lab/plugin.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The last SDK minor whose functions the fake host implements. */
#define LABT_ABI_MINOR 5

typedef struct labt labt;

/* ---- set-up ------------------------------------------------------------ */

/* A fake host around `plugin` (its lab_plugin_entry()).  The clocks start at
 * 2025-01-01T00:00:00Z (wall) and 0 (monotonic).  Never NULL (aborts when
 * out of memory). */
labt *labt_new(const lab_plugin *plugin);
/* Stops the plugin if it runs (as labt_stop), then frees everything. */
void labt_free(labt *t);
/* dlopen() a plugin file and return its descriptor (NULL: message on stderr).
 * The file stays loaded until the process exits. */
const lab_plugin *labt_dlopen(const char *path);

/* The plugin's configuration section, as written inside
 * `plugins = { NAME = { ... }; };` of labd.conf (libconfig syntax).  It is
 * checked against the plugin's settings/options like the real host does;
 * LAB_ECONFIG with the host's message in labt_error() otherwise.  Without a
 * call the plugin has no section (every setting at its default). */
int labt_config(labt *t, const char *section);
/* The last error message of labt_config/labt_init ("" when none). */
const char *labt_error(const labt *t);

/* Networks seen by lab_network_*: add before init.  Forks and validator
 * entities are optional. */
int labt_network(labt *t, const char *name, int64_t genesis_time, uint32_t seconds_per_slot,
		 uint32_t slots_per_epoch);
int labt_network_fork(labt *t, const char *network, const char *fork, uint64_t epoch);
int labt_network_entity(labt *t, const char *network, uint64_t first, uint64_t last,
			const char *entity);

/* Log lines below `level` are not captured (lab_log_enabled says 0).
 * Default LAB_LOG_DEBUG.  LABT_VERBOSE=1 in the environment also prints
 * every captured line to stderr. */
void labt_log_level(labt *t, int level);

/* ---- clock ------------------------------------------------------------- */

/* Set the wall clock (Unix ms) without firing anything. */
void labt_set_now(labt *t, int64_t unix_ms);
int64_t labt_now_ms(const labt *t);
/* Advance both clocks by `ms`: every timer and delayed completion that falls
 * due runs at its own time, in order, and whatever they start that is due
 * runs too.  Returns the number of callbacks run. */
size_t labt_advance(labt *t, uint64_t ms);
/* Run every callback due now (completions, messages, 0 ms timers, work
 * items) without moving the clocks, until nothing is due.  Returns the
 * number run. */
size_t labt_pump(labt *t);
/* Timers of the plugin that are armed. */
size_t labt_timers(const labt *t);
/* Monotonic ms until the next timer or delayed completion; -1 when none. */
int64_t labt_next_due(const labt *t);

/* ---- life cycle ---------------------------------------------------------
 * Each returns what the plugin's callback returned (or LAB_ESTATE when the
 * instance is in the wrong phase, LAB_ENOTSUP when the plugin has no such
 * callback).  labt_init fails with LAB_EABI when the descriptor is refused
 * (message in labt_error()), LAB_ECONFIG when the defaults are bad. */
int labt_init(labt *t);
int labt_start(labt *t);
int labt_run(labt *t);
/* `labd --once`: calls once() (start is not called). */
int labt_once(labt *t);
/* Advance virtual time (at most max_ms) until the plugin called lab_done();
 * 0 and its status in *status, or LAB_ETIMEDOUT. */
int labt_once_wait(labt *t, uint64_t max_ms, int *status);
/* Whether lab_done() was called, and with which status (first call). */
int labt_done_called(const labt *t, int *status);
/* stop, drain (in-flight completions still run; virtual time advances to
 * them, at most the drain timeout, default 30 s; what is left is cancelled
 * without callback, except the `cancel` of lab_work_submit_cancel items:
 * see "work" below), then destroy.  Returns stop()'s result. */
int labt_stop(labt *t);
/* The drain timeout of labt_stop (ms). */
void labt_drain_timeout(labt *t, uint64_t ms);
/* The plugin's `describe` JSON (NULL: none). */
const char *labt_describe(labt *t);
/* The plugin's instance pointer (what init stored in *self). */
void *labt_self(const labt *t);
lab_ctx *labt_ctx(labt *t);

/* ---- ClickHouse ---------------------------------------------------------
 * A query is answered by the first rule, in the order they were added,
 * whose pattern matches its SQL after `?` binding (what ClickHouse would
 * get, without the FORMAT clause) and that has uses left.  A pattern
 * "/.../" is a POSIX extended regular expression, anything else a
 * substring.  A query no rule matches fails with LAB_EQUERY and the message
 * "lab-plugin-test: no canned answer for: SQL" (and is counted by
 * labt_ch_unmatched).  Binding errors are returned by lab_query at once,
 * as the real host does.
 * Each adder returns the rule's id (>= 0) or a negative LAB_E*.
 */
/* Rows as ClickHouse's TabSeparatedWithNames text: a header line of column
 * names, then one line per row, every line ending in \n; \N is NULL,
 * escapes as ClickHouse writes them.  LAB_EPARSE when the text is
 * malformed, LAB_EINVAL for a regex that does not compile. */
int labt_ch_rows(labt *t, const char *pattern, const char *tsv);
/* Fail the query with `status` (LAB_EQUERY, LAB_EIO, ...) and `message`. */
int labt_ch_fail(labt *t, const char *pattern, int status, const char *message);
/* Answer after `ms` of virtual time (default 0: on the next pump). */
int labt_ch_delay(labt *t, int rule, uint64_t ms);
/* Use the rule at most `n` times (default: without limit). */
int labt_ch_times(labt *t, int rule, unsigned n);
/* Rows per on_rows batch of a streaming query (default 1000). */
void labt_ch_batch(labt *t, size_t rows);
/* Queries the plugin sent (cancelled ones included), their bound SQL, and
 * how many matched `pattern` (NULL: all). */
size_t labt_ch_queries(const labt *t, const char *pattern);
const char *labt_ch_sql(const labt *t, size_t i);
size_t labt_ch_unmatched(const labt *t);

/* ---- storage ------------------------------------------------------------
 * In memory, keyed exactly as the plugin names objects (no prefix, no
 * gzip).  Keys are checked with the host's rules (LAB_EPERM).
 */
/* Put an object before or between the plugin's calls. */
int labt_storage_put(labt *t, const char *key, const void *data, size_t len);
/* The object (NUL-terminated copy owned by t, valid until the key changes)
 * and its length; NULL when absent. */
const char *labt_storage_get(const labt *t, const char *key, size_t *len);
const char *labt_storage_content_type(const labt *t, const char *key);
/* Objects stored now, and the i-th key (sorted). */
size_t labt_storage_count(const labt *t);
const char *labt_storage_key(const labt *t, size_t i);
/* Puts/deletes the plugin made (successful ones) whose key matches pattern. */
size_t labt_storage_writes(const labt *t, const char *pattern);
/* Operations on keys matching `pattern` fail with `status` (at most n
 * times; 0 = always).  Returns a rule id. */
int labt_storage_fail(labt *t, const char *pattern, int status, unsigned n);
/* lab_storage_get_raw hands back the object's bytes as put here: the fake
 * stores without gzip, so put gzip bytes to test a plugin's gzip path. */
/* Every storage operation completes after `ms` of virtual time. */
void labt_storage_delay(labt *t, uint64_t ms);

/* ---- state --------------------------------------------------------------
 * The plugin's durable state.  Preload before init (it is loaded before
 * init in labd).  Values are JSON texts.
 */
int labt_state_set(labt *t, const char *key, const char *json);
/* NUL-terminated value, NULL when absent. */
const char *labt_state_get(const labt *t, const char *key);
/* lab_state_flush() calls made, and state flushes done by the host (on
 * stop); the next `n` flushes fail with `status` (0 = none). */
size_t labt_state_flushes(const labt *t);
void labt_state_fail_flush(labt *t, int status, unsigned n);

/* ---- broker -------------------------------------------------------------
 * Subjects without the deployment prefix, NATS wildcards `*` and `>`.
 * labt_publish delivers to the plugin's matching subscriptions (like
 * `labctl publish`) and runs what is due.  The plugin's own publications
 * are recorded and also delivered to its subscriptions.
 */
int labt_publish(labt *t, const char *subject, const char *data, size_t len);
/* Messages the plugin published on subjects matching `pattern` (a subject
 * or a wildcard pattern; NULL: all). */
size_t labt_events(const labt *t, const char *pattern);
/* The i-th message (0 = oldest) on subjects matching pattern; NULL when
 * there are fewer.  *subject (may be NULL) is its subject; the data is
 * NUL-terminated. */
const char *labt_event(const labt *t, const char *pattern, size_t i, const char **subject,
		       size_t *len);
/* The plugin's subscriptions now. */
size_t labt_subscriptions(const labt *t);

/* ---- work ---------------------------------------------------------------
 * LABT_WORK_INLINE (default): a submitted work function runs on the test's
 * thread at the next pump, its `done` right after.  LABT_WORK_THREAD: it
 * runs on a new thread at once; the next pump waits for it and calls done.
 * LABT_WORK_HOLD: it waits, not run, until labt_work_release() (then as
 * INLINE) — a work item still outstanding when the drain of labt_stop ends.
 *
 * Cancellation (1.3 lab_work_submit_cancel): labt_stop drains as labd
 * does; work that is left when the drain ends (held items, and items due
 * past the drain timeout) gets its `cancel(ud)` instead of `done`, on the
 * test's thread before destroy (a THREAD item after its fn returned).
 * Items of plain lab_work_submit are dropped without a call back.  Work
 * submitted in init of an instance stopped without being started is
 * cancelled the same way.
 */
enum labt_work_mode { LABT_WORK_INLINE = 0, LABT_WORK_THREAD = 1, LABT_WORK_HOLD = 2 };
void labt_work_mode(labt *t, int mode);
/* Work items submitted (held ones included). */
size_t labt_work_submitted(const labt *t);
/* LABT_WORK_HOLD: make the held items due (the next pump runs them, in
 * submission order).  Returns how many were held. */
size_t labt_work_release(labt *t);
/* `cancel` callbacks labt_stop made (lab_work_submit_cancel). */
size_t labt_work_cancelled(const labt *t);

/* ---- metrics and progress (1.2) -----------------------------------------
 * The plugin's lab_metric_* go into labd's own registry code, so the rules
 * (names, labels, types, LAB_METRIC_MAX_* limits and the errors) are
 * labd's.  `name` is the name the plugin registered (without the
 * lab_PLUGIN_ prefix labd exposes it under); `values` the label values in
 * the family's order, NULL-terminated (LAB_LABELS(...)), NULL for a family
 * without labels.
 */
/* A counter's or gauge's value; a histogram's number of observations.
 * NAN when the family or that series does not exist (never updated). */
double labt_metric(const labt *t, const char *name, const char *const *values);
/* A histogram's sum of observations (counters, gauges: their value); NAN
 * when absent. */
double labt_metric_sum(const labt *t, const char *name, const char *const *values);
/* The plugin's families as labd's /metrics shows them (Prometheus text
 * 0.0.4, # HELP/# TYPE lines, histograms with their buckets).  Valid until
 * the next call or labt_free. */
const char *labt_metrics_text(labt *t);
/* The plugin's lab_progress() entry `what`: 0 and its values (done is
 * capped at total, as labd shows it; each pointer may be NULL), LAB_ENOENT
 * when there is none (never set, or removed with total 0). */
int labt_progress(const labt *t, const char *what, double *done, double *total,
		  double *per_second);
/* Progress entries the plugin has now (at most LAB_PROGRESS_MAX). */
size_t labt_progress_count(const labt *t);

/* ---- cluster (1.5) --------------------------------------------------------
 * The fake host is one daemon of a cluster the test steers (backend "none"
 * unless labt_cluster_backend() says otherwise, node "labt").  Leases are ACQUIRED on the next pump; claims are granted
 * on the next pump unless held (LAB_EBUSY), completed (LAB_EEXIST) or given
 * another answer with labt_claim_answer; shared state is kept in memory,
 * revisions count writes.  Pending answers are dropped when the plugin
 * stops, as labd does.
 */
/* What lab_cluster_backend() answers from now on ("nats": the plugin takes
 * its cluster paths; "none" or NULL: back to "none").  Call it before
 * labt_init() for a plugin that decides at init.  Only the answer changes:
 * the fakes below serve every backend alike. */
void labt_cluster_backend(labt *t, const char *backend);
/* refuse = 1: another daemon holds the lease `name` — the plugin's hold
 * of it is not ACQUIRED (now or after a loss) until refuse = 0, which
 * grants a waiting hold on the next pump. */
int labt_lease_refuse(labt *t, const char *name, int refuse);
/* The lease `name` is LOST now (its callback runs inside this call); it is
 * ACQUIRED again after regain_after_ms of virtual time (< 0: never).
 * LAB_ENOENT: no such lease; LAB_ESTATE: not held. */
int labt_lease_lose(labt *t, const char *name, int64_t regain_after_ms);
/* 1 while the plugin holds the lease `name`. */
int labt_lease_held(const labt *t, const char *name);
/* Later claims of `name` answer `status` (LAB_EBUSY, LAB_EEXIST,
 * LAB_EUNAVAIL, ... ; 0 = granted again) unless held or done. */
int labt_claim_answer(labt *t, const char *name, int status);
/* Claims the plugin holds now. */
size_t labt_claims_held(const labt *t);
/* The held claim `name` is lost (it expired, another daemon may have it):
 * lab_claim_valid() answers 0 from now on; it stays held until the plugin
 * finishes it, and finishing it with completed = 1 still writes the done
 * marker, as labd does (so a test sees a plugin that forgot to check
 * lab_claim_valid() first).  LAB_ENOENT: not held. */
int labt_claim_lose(labt *t, const char *name);
/* 1 when the plugin finished the claim `name` with completed = 1. */
int labt_claim_done(const labt *t, const char *name);
/* The shared value of `key` (NULL: none) and its revision (0: none). */
const char *labt_shared_value(const labt *t, const char *key, uint64_t *revision);
/* Write `key` as another daemon would (revision + 1): the plugin's next
 * CAS on the old revision gets LAB_EEXIST. */
int labt_shared_set(labt *t, const char *key, const char *json);

/* ---- logs ---------------------------------------------------------------
 * Each line as "LEVEL msg key=value ...", LEVEL one of debug, info, warn,
 * error; string values as given (not quoted).
 */
/* Lines at `min_level` or above containing `substr` (NULL: any). */
size_t labt_logs(const labt *t, int min_level, const char *substr);

/* ---- HTTP (1.4) -------------------------------------------------------------
 * The fake host keeps the routes the plugin registers (lab_http_route) and
 * lets a test inject a request into them.  It records the plugin's answer
 * exactly as given: the listener's own work (path checks, 304, gzip
 * decoding, HEAD, limits) is labd's and is not imitated.
 *
 * labt_http(t, "GET", "/api/v1/x?q=1", LABT_HEADERS("Accept-Encoding: gzip"))
 * calls the route the longest pattern matches (HEAD reaches GET routes),
 * then runs what is due now (labt_pump), and returns the request's index.
 * No route: status 404; a route for other methods: 405.  An answer the
 * plugin gives later (after a storage read) appears once the test lets
 * virtual time run (labt_pump, labt_advance).  lab_http_query returns the
 * raw (not percent-decoded) value. */
#define LABT_HEADERS(...) ((const char *const[]){ __VA_ARGS__, NULL })
int labt_http(labt *t, const char *method, const char *target, const char *const *headers);
/* The answer's status; 0 while the plugin has not answered.  A stream:
 * 200 (SSE) or 101 (WebSocket). */
int labt_http_status(const labt *t, int req);
const char *labt_http_body(const labt *t, int req, size_t *len);
/* Content-Type, ETag, Cache-Control, Content-Encoding ("gzip" for
 * LAB_HTTP_GZIP) and the extra header lines; NULL when absent.  Valid until
 * the next call. */
const char *labt_http_response_header(const labt *t, int req, const char *name);
int64_t labt_http_last_modified(const labt *t, int req);
/* The stream the plugin opened for the request, or NULL.  Streams live
 * until labt_free (also after on_close), so a test can read them. */
lab_stream *labt_http_stream(const labt *t, int req);
/* The number of messages the plugin sent on `s`; message `k` in *data and *len
 * (SSE: the full "id:/event:/data:" text; WebSocket: the payload). */
size_t labt_stream_sent(const labt *t, lab_stream *s, size_t k, const char **data, size_t *len);
/* A WebSocket message from the client: on_msg runs, then labt_pump. */
int labt_stream_push(labt *t, lab_stream *s, const void *data, size_t len);
/* The client went away: on_close(reason) runs now (0, or e.g. LAB_EBUSY to
 * imitate a slow-client drop). */
int labt_stream_peer_close(labt *t, lab_stream *s, int reason);
/* 1 once on_close ran; *close_code: the code the plugin closed with
 * (lab_stream_close), 1001 after labt_stop, 0 = none. */
int labt_stream_state(const labt *t, lab_stream *s, int *close_code);
size_t labt_log_count(const labt *t);
const char *labt_log_line(const labt *t, size_t i);

/* ---- JSON inspection ----------------------------------------------------
 * The JSON text of the value at `path` in `json` ("a.b.2.c": members and
 * array indexes), compact, in a buffer of t valid until labt_free; NULL
 * when the document is not JSON or the path is absent.  Strings come back
 * with their quotes: labt_json(t, doc, "network") == "\"mainnet\"".
 */
const char *labt_json(labt *t, const char *json, const char *path);

/* ---- checks -------------------------------------------------------------
 * Minimal assertions for tests without a framework: on failure print
 * FILE:LINE and the expression, then exit(1) (automake: a failed test).
 */
#define LABT_CHECK(cond)                                                                   \
	do {                                                                               \
		if (!(cond)) {                                                             \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
			exit(1);                                                           \
		}                                                                          \
	} while (0)
#define LABT_CHECK_INT(a, b)                                                               \
	do {                                                                               \
		long long labt_a_ = (long long)(a), labt_b_ = (long long)(b);              \
		if (labt_a_ != labt_b_) {                                                  \
			fprintf(stderr, "%s:%d: %s == %lld, expected %s == %lld\n", __FILE__,    \
				__LINE__, #a, labt_a_, #b, labt_b_);                       \
			exit(1);                                                           \
		}                                                                          \
	} while (0)
#define LABT_CHECK_STR(a, b)                                                               \
	do {                                                                               \
		const char *labt_a_ = (a), *labt_b_ = (b);                                 \
		if (!labt_a_ || !labt_b_ || strcmp(labt_a_, labt_b_) != 0) {               \
			fprintf(stderr, "%s:%d: %s is \"%s\", expected \"%s\"\n", __FILE__,      \
				__LINE__, #a, labt_a_ ? labt_a_ : "(null)",                  \
				labt_b_ ? labt_b_ : "(null)");                             \
			exit(1);                                                           \
		}                                                                          \
	} while (0)

#ifdef __cplusplus
}
#endif
#endif /* LAB_PLUGIN_TEST_H */
