/* The daemon: sets up the services and the plugin registry (slot.h), runs
 * the service, --once and -t modes, handles signals and serves the admin
 * API (daemon_admin.c). */
#ifndef LAB_HOST_DAEMON_H
#define LAB_HOST_DAEMON_H

#include <stddef.h>
#include <uv.h>

#include "defer.h"
#include "heap.h"
#include "slot.h"

struct daemon_opts {
	int mode; /* enum run_mode */
	const char *config_path;
	const char *const *overrides;
	size_t n_overrides;
	const char *const *only; /* --plugin NAME... (NULL = every enabled one) */
	size_t n_only;
	int debug;
	int connect; /* -t --connect: also reach ClickHouse, storage, NATS */
};

struct daemon {
	struct slots reg; /* services, config, plugins */
	struct daemon_opts opts;
	struct admin *admin;
	uv_signal_t sig_int, sig_term, sig_hup;
	uv_timer_t flush_timer;
	uv_timer_t exit_timer;
	uv_timer_t once_timer; /* --once watchdog: once.timeout */
	struct heap_trim trim;
	struct defer defer; /* the services' deferred completions */
	int exit_code;
	/* What runs (SIGHUP, reload_host.c): the services were opened from
	 * boot_cfg; the settings SIGHUP applies were last taken from applied_cfg. */
	struct config *boot_cfg;
	struct config *applied_cfg;
};

/* Runs a whole daemon life; returns the process exit status. */
int daemon_main(const struct daemon_opts *opts);

/* reload_host.c: after a SIGHUP config reload (reg.cfg is the new config),
 * applies the host settings that can change while labd runs and logs one
 * line per other setting that differs from the running one. */
void reload_host_settings(struct daemon *dm);

/* The admin API handlers (daemon_admin.c); their ud is a struct slots. */
extern const struct admin_ops daemon_admin_ops;

#endif
