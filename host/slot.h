/* The registry of configured plugins (`struct slots`) and the slot state
 * machine: load -> state -> init -> start|once -> stop -> drain -> flush.
 * A slot is one configured plugin across its loaded generations; its
 * current generation is an `instance` (instance.h).  The daemon owns one
 * registry; hot reload (reload.c), SIGHUP (config_reload.c) and config.json
 * (config_json.c) work on it.  Loop thread only. */
#ifndef LAB_HOST_SLOT_H
#define LAB_HOST_SLOT_H

#include <stdint.h>
#include <uv.h>

#include "config.h"
#include "defer.h"
#include "instance.h"
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
	int64_t last_error_at; /* Unix ms when last_error was set, 0: never */
	/* Automatic restarts of a failed plugin (slot_retry.c): attempts made
	 * since it last ran, and when the next one is due (Unix ms, 0: none). */
	unsigned retries;
	int64_t next_retry_at;
	uv_timer_t retry_timer;
	int retry_timer_live;
	/* What the plugin itself reported (an error log line) during the
	 * current init/start, to say more than the code it returns. */
	char reported[256];
	char version[64];
	char description[256];
	struct state *state;
	int state_loading;
	struct instance *inst; /* current generation, NULL when none */
	int selected;          /* --once: this slot runs */
	int once_finished;
	int once_status;
	struct deferred settle; /* a failed activation counts as a step later */
	/* log level, last success and progress (instance.h): kept across hot
	 * reloads, progress cleared when the plugin is (re)activated or stopped */
	struct plugin_report report;
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
	uint64_t retry_rng;     /* jitter of automatic restarts (slot_retry.c) */
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
/* How slot_fail() decides whether to restart the plugin automatically. */
enum slot_retry { RETRY_BY_CODE, RETRY_ALWAYS, RETRY_NEVER };
/* The plugin is `failed` because of err (rc: the LAB_E* behind it): records
 * last_error, logs it once and, in serve mode, plans an automatic restart
 * when the failure is transient (slot_retry.c). */
void slot_fail(struct slot *s, const char *err, int rc, enum slot_retry retry);
/* Sets last_error (and its time) to text, as the plugin reported it. */
void slot_note_error(struct slot *s, const char *text);
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

/* ---- slot_retry.c: automatic restarts of failed plugins ---------------
 * A plugin whose load of state, init or start failed for a transient
 * reason is started again after a delay: plugin_retry.initial_delay,
 * doubling up to plugin_retry.max_delay, each with +-20 % jitter.  Serve
 * mode only; docs/operations.md ("Self-healing"). */

/* Is a failure with this code worth retrying without a change by the
 * operator?  (LAB_EIO, LAB_ETIMEDOUT, LAB_EUNAVAIL, LAB_EBUSY, LAB_ENOMEM,
 * LAB_EQUERY, LAB_ECANCELED: yes; configuration, ABI, permission and
 * programming errors: no.) */
int slot_error_transient(int rc);
/* The delay before restart attempt `attempt` (0 = the first) in ms:
 * initial_ms doubled per attempt, at most max_ms, times 0.8..1.2 from `rnd`
 * (any 64-bit value), never above max_ms.  Pure, for tests. */
uint64_t slot_retry_delay_ms(uint64_t initial_ms, uint64_t max_ms, unsigned attempt,
			     uint64_t rnd);
/* Plans the next restart of failed `s`; returns the delay in ms, or 0 when
 * none is planned (not serve mode, stopping, disabled, or restarts off). */
uint64_t slot_retry_schedule(struct slot *s);
/* Drops a planned restart (the slot starts or stops for another reason). */
void slot_retry_cancel(struct slot *s);
/* Closes every slot's restart timer (shutdown; the loop must run after). */
void slots_retry_close(struct slots *d);

#endif
