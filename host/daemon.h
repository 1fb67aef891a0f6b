/* The daemon: owns the loop, the services, and one `slot` per configured
 * plugin; runs the service, --once and -t modes; answers the admin API. */
#ifndef LAB_HOST_DAEMON_H
#define LAB_HOST_DAEMON_H

#include <stdint.h>
#include <uv.h>

#include "config.h"

enum slot_status { PS_LOADED, PS_RUNNING, PS_STOPPING, PS_FAILED, PS_DISABLED, PS__COUNT };
const char *slot_status_name(int status);

enum daemon_mode { MODE_SERVE, MODE_ONCE, MODE_TEST };

struct instance;
struct state;
struct plugin_image;

/* A configured plugin across its loaded generations. */
struct slot {
	struct daemon *d;
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
};

struct daemon_opts {
	int mode;
	const char *config_path;
	const char *const *overrides;
	size_t n_overrides;
	const char *const *only; /* --plugin NAME... (NULL = every enabled one) */
	size_t n_only;
	int debug;
};

struct daemon {
	uv_loop_t *loop;
	struct daemon_opts opts;
	struct config *cfg;
	struct networks *nets;
	struct storage *storage;
	struct clickhouse *ch; /* NULL in --test */
	struct broker *broker;
	struct admin *admin;
	struct slot *slots;
	size_t n_slots;
	uv_signal_t sig_int, sig_term, sig_hup;
	uv_timer_t flush_timer;
	uv_timer_t exit_timer;
	int stopping;
	int exit_code;
	unsigned pending; /* slots still starting/stopping/flushing in this phase */
	char copy_dir[256];
};

/* Runs a whole daemon life; returns the process exit status. */
int daemon_main(const struct daemon_opts *opts);

/* Drain timeout in ms (reload.drain_timeout). */
uint64_t daemon_drain_ms(const struct daemon *d);
/* Called by the host API when a plugin reports its --once result. */
void daemon_once_done(struct daemon *d, struct slot *s, int status);

/* Slot life-cycle steps, shared with reload.c and config_reload.c. */
void daemon_slot_status(struct slot *s, int status);
void daemon_slot_event(struct slot *s, const char *event); /* lab.host.plugin */
void daemon_slot_started(struct slot *s); /* inst just started: RUNNING, event, run sub */
void daemon_slot_activate(struct slot *s);
/* The slot's plugin file loaded (a private copy in serve mode) and its config
 * section validated against the settings it declares; err says why not. */
int daemon_slot_open_image(struct slot *s, struct plugin_image **out, char *err, size_t errlen);
void daemon_slot_deactivate(struct slot *s, void (*then)(struct slot *s));
struct slot *daemon_find_slot(struct daemon *d, const char *name);

#endif
