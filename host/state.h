/* Per-plugin durable state: one JSON object stored at
 * state/modules/NAME.json.  Loaded before init; kept in memory; flushed
 * (atomically, through storage put_atomic) when dirty. */
#ifndef LAB_HOST_STATE_H
#define LAB_HOST_STATE_H

#include <stddef.h>

#include "storage.h"

struct state;

typedef void (*state_load_cb)(int status, struct state *st, void *ud);
typedef void (*state_flush_cb)(int status, void *ud);

/* Loads the plugin's state (absent = empty).  A corrupt file is logged,
 * counted (lab_state_corrupt_total), copied aside to
 * state/modules/NAME.json.corrupt-UNIXTIME and replaced by an empty state. */
int state_load(struct storage *s, const char *plugin, state_load_cb cb, void *ud);
void state_free(struct state *st);

int state_get(struct state *st, const char *key, const char **json, size_t *len);
int state_set(struct state *st, const char *key, const char *json, size_t len);
int state_delete(struct state *st, const char *key);
int state_dirty(const struct state *st);
/* Writes the state if dirty (or always if force); cb may be NULL. Counts
 * lab_state_flushes_total{result}. */
int state_flush(struct state *st, int force, state_flush_cb cb, void *ud);
/* Flushes in flight (the daemon waits for 0 before exiting). */
int state_pending(const struct state *st);

#endif
