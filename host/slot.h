/* The registry of configured plugins (`struct slots`) and the slot state
 * machine: load -> state -> init -> start|once -> stop -> drain -> flush.
 * A slot is one configured plugin across its loaded generations; its
 * current generation is an `instance` (instance.h).  The daemon owns one
 * registry; hot reload (reload.c), SIGHUP (config_reload.c) and config.json
 * (config_json.c) work on it.  Loop thread only. */
#ifndef LAB_HOST_SLOT_H
#define LAB_HOST_SLOT_H

#include <stdint.h>

#include "config.h"
#include "defer.h"
#include "services.h"

enum slot_status { PS_LOADED, PS_RUNNING, PS_STOPPING, PS_FAILED, PS_DISABLED, PS__COUNT };
const char *slot_status_name(int status);

enum run_mode { MODE_SERVE, MODE_ONCE, MODE_TEST };

struct instance;
struct state;
struct plugin_image;
struct config_json;
struct reloader;

/* A configured plugin across its loaded generations. */
struct slot {
	struct slots *d;
	char *name;
	char *path;
	const config_setting_t *section; /* NULL: no section in the config */
	struct config *cfg;              /* a reference to the config `section` is in */
	int enabled;                     /* wanted running */
	int status;                      /* enum slot_status */
	unsigned generation;
	int64_t loaded_at; /* Unix seconds of the current generation */
	char last_error[512];
	char version[64];
	char description[256];
	struct state *state;
	int state_loading;
	struct instance *inst; /* current generation, NULL when none */
	int selected;          /* --once: this slot runs */
	int once_finished;
	int once_status;
	struct deferred settle; /* a failed activation counts as a step later */
	/* A SIGHUP restart in progress: the section, config and path the plugin
	 * ran with, restored when the new section's activation fails
	 * (docs/reload.md: a refused value changes nothing).  cfg NULL: none. */
	struct {
		const config_setting_t *section;
		struct config *cfg;
		char *path;
	} rollback;
};

/* Every configured plugin and what their life cycle needs. */
struct slots {
	struct host_services svc;
	struct config *cfg; /* the current config (a reference) */
	int mode;           /* enum run_mode */
	int stopping;
	unsigned pending;   /* slots still starting/stopping/flushing in this phase */
	char copy_dir[256]; /* private plugin copies (serve mode), "" = none */
	struct slot *slots;
	size_t n_slots;
	struct config_json *cj; /* config.json entries (config_json.c) */
	struct reloader *rl;    /* hot reload (reload.c), NULL outside serve mode */
	/* Called when `pending` reaches 0 in --once/-t or while stopping. */
	void (*phase_done)(void *owner);
	void *owner;
};

/* Arms the rollback of a SIGHUP restart (before the new section is set). */
void slot_rollback_arm(struct slot *s);
/* Forgets an armed rollback. */
void slot_rollback_clear(struct slot *s);

/* Drain timeout in ms (reload.drain_timeout). */
uint64_t slots_drain_ms(const struct slots *d);
struct slot *slots_find(struct slots *d, const char *name);
/* One step of the current phase (start of --once/-t, shutdown) finished.
 * Steps are only ever counted from the loop (deferred), never inside the
 * call that started them, so a phase needs no hold while it starts. */
void slots_step_done(struct slots *d);

void slot_set_status(struct slot *s, int status);
void slot_event(struct slot *s, const char *event); /* lab.host.plugin */
void slot_started(struct slot *s); /* inst just started: RUNNING, event, run sub */
/* Loads the image and starts the chain; failures are recorded in the slot. */
void slot_activate(struct slot *s);
/* The slot's plugin file loaded (a private copy in serve mode) and its config
 * section validated against the settings it declares; err says why not. */
int slot_open_image(struct slot *s, struct plugin_image **out, char *err, size_t errlen);
/* stop, drain, flush the state, then `then` (may be NULL) on a later turn
 * of the loop, never inside this call. */
void slot_deactivate(struct slot *s, void (*then)(struct slot *s));
/* Connects a new instance of `s` to it (the host API table, its state, its
 * --once result); right after instance_new(), before instance_init(). */
void slot_bind(struct slot *s, struct instance *inst);
/* The plugin reported its --once result. */
void slot_once_done(struct slot *s, int status);

#endif
