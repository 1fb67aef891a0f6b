/* Per-plugin durable state: one JSON object stored at
 * state/modules/NAME.json.  Loaded before init; kept in memory; flushed
 * (atomically, through storage put_atomic) when dirty.  Loop thread only,
 * except state_parse().  See docs/storage.md. */
#ifndef LAB_HOST_STATE_H
#define LAB_HOST_STATE_H

#include <stddef.h>

#include "storage.h"

struct state;
struct json_object;
struct metrics;

typedef void (*state_load_cb)(int status, struct state *st, void *ud);
typedef void (*state_flush_cb)(int status, void *ud);

/* Limits: one value given to state_set, and the whole state file. */
#define STATE_VALUE_MAX ((size_t)16 << 20)
#define STATE_FILE_MAX ((size_t)64 << 20)
#define STATE_KEY_MAX 1024

/* Loads the plugin's state (absent = empty).  A corrupt file is logged,
 * counted (lab_state_corrupt_total), copied aside to
 * state/modules/NAME.json.corrupt-UNIXTIME and replaced by an empty state
 * (marked dirty, so the next flush overwrites the corrupt file).  If the
 * copy cannot be written the load fails and the file stays untouched.
 * `plugin` must match [a-z0-9_]+ (LAB_EINVAL otherwise).  On success cb gets
 * 0 and the state (the caller owns it); on failure a LAB_E* and NULL.  A
 * negative return means cb will not be called.  Flushes and corrupt files
 * are counted in metrics (NULL: not counted). */
int state_load(struct storage *s, struct metrics *metrics, const char *plugin, state_load_cb cb,
	       void *ud);
/* The same for one daemon of a cluster (docs/cluster.md): the state lives
 * at state/nodes/NODE/NAME.json (node NULL: state/modules/NAME.json, as
 * state_load), so daemons sharing a bucket do not overwrite each other's
 * file.  When the node's file is absent, the single-daemon file is read
 * instead (a daemon that joins a cluster keeps what it had; written back
 * under the node's key only).  `node`: state_node_ok(). */
#define STATE_NODE_MAX 64
int state_load_node(struct storage *s, struct metrics *metrics, const char *plugin,
		    const char *node, state_load_cb cb, void *ud);
/* 1 when `node` is a key segment of [A-Za-z0-9_.-], 1..STATE_NODE_MAX bytes. */
int state_node_ok(const char *node);
/* Frees the state.  A flush in flight still completes, but no flush
 * callback is called any more (queued flushes are dropped): to be sure the
 * state is durable, flush and wait for state_pending() == 0 first.  Safe to
 * call from a flush callback. */
void state_free(struct state *st);

/* Returns the value's JSON text (NUL-terminated): as state_set() was given
 * it, without the whitespace around it (a value loaded from the file:
 * compact).  *json stays valid until the next set/delete of that key or
 * state_free.  LAB_ENOENT when absent.  len may be NULL. */
int state_get(struct state *st, const char *key, const char **json, size_t *len);
/* `json` must be exactly one JSON value (RFC 8259; surrounding whitespace
 * allowed, no NaN/Infinity, valid UTF-8): LAB_EPARSE otherwise, LAB_ERANGE
 * beyond STATE_VALUE_MAX.  Keys: 1..STATE_KEY_MAX bytes of UTF-8 without
 * control characters (LAB_EINVAL otherwise). */
int state_set(struct state *st, const char *key, const char *json, size_t len);
/* The check state_set() makes of a value, alone (the SDK's lab_json_raw):
 * 0, LAB_EPARSE, or LAB_ENOMEM. */
int state_value_check(const char *text, size_t len);
/* Exactly one JSON value (as state_value_check) parsed into *out (NULL for
 * `null`; the caller puts it); *why says what is wrong on LAB_EPARSE.
 * host/state_value.c. */
int state_value_parse(const char *text, size_t len, struct json_object **out, const char **why);
/* Deleting an absent key succeeds (and does not make the state dirty). */
int state_delete(struct state *st, const char *key);
int state_dirty(const struct state *st);
/*
 * Writes the state if dirty (or always if force); cb may be NULL.  Counts
 * lab_state_flushes_total{result="ok"|"failed"}.  Returns 0 when a write
 * was started or joined (cb will be called exactly once, when it is
 * durable or failed), 1 when there was nothing to write (cb is not called),
 * or a negative LAB_E* (cb is not called).  Two writes of one state never
 * overlap: a flush requested while one is in flight joins it when nothing
 * changed since, else it is queued (several queued requests share one
 * write).  A set during a flush keeps the state dirty.
 */
int state_flush(struct state *st, int force, state_flush_cb cb, void *ud);
/* Flushes in flight or queued (the daemon waits for 0 before exiting). */
int state_pending(const struct state *st);

/*
 * Parses a state file: 0 and the object in *out (may be NULL to only
 * check; the caller json_object_put()s it), or LAB_EPARSE and a static
 * reason in *why (may be NULL), or LAB_ENOMEM.  Never crashes on any input: the entry
 * point for fuzzing.
 */
int state_parse(const char *text, size_t len, struct json_object **out, const char **why);

#endif
