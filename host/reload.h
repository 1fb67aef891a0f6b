/* Hot reload of one plugin (SPEC §7) and the reload triggers: plugin files
 * watched with uv_fs_event (debounced), POST /plugins/NAME/reload, and
 * SIGHUP (config_reload.c).  See docs/reload.md.
 *
 * Protocol: the new file is copied privately and dlopen()ed, its descriptor
 * and the plugin's config section are checked BEFORE the running instance
 * is touched; then the old instance is stopped and drained (bounded by
 * reload.drain_timeout), its state flushed, and a new instance is inited and
 * started on the same in-memory state.  On success the old image is closed
 * (its private copy deleted).  If init or start fails, the old image is
 * started again on the same state and the failure is reported in /plugins
 * (last_error), the log, lab_plugin_reloads_total{result="failed"} and a
 * lab.host.plugin event "reload_failed". */
#ifndef LAB_HOST_RELOAD_H
#define LAB_HOST_RELOAD_H

#include <libconfig.h>
#include <stddef.h>

struct slots;
struct slot;
struct buf;

/* Serve mode: creates the private-copy directory (d->copy_dir) and watches
 * the directories of the configured plugin files.  Failures are logged
 * (reload by file change is then off); never fatal. */
void reload_setup(struct slots *d);
/* Closes the watchers and debounce timers (shutdown; the loop must run). */
void reload_stop(struct slots *d);
/* End of daemon_main, after the last loop run: frees what is left (images
 * of reloads cut short by shutdown) and removes the
 * private-copy directory. */
void reload_cleanup(struct slots *d);

/* Starts a reload of `s`.  Returns 0 when the new generation is running
 * already (nothing was in flight), 1 when the old instance is draining (the
 * outcome shows in /plugins), or a negative LAB_E* with the reason in err:
 * then the running instance is the old one (untouched or restarted). */
int reload_plugin(struct slot *s, const char *trigger, char *err, size_t errlen);
/* Is a reload of `s` under way? */
int reload_busy(const struct slot *s);
/* POST /plugins/NAME/reload: the HTTP status and a JSON body in out
 * (200 "running" or "reloading" while the old instance drains; 409; 500). */
int reload_admin(struct slot *s, struct buf *out);

/* config_reload.c: SIGHUP.  Loads and validates the config file again; a
 * broken config changes nothing (logged, LAB_E* returned).  Otherwise
 * plugins newly enabled start, disabled ones stop, those whose section (or
 * path) changed restart, the rest are untouched; d->cfg is the new config
 * and 0 is returned.  Settings outside `plugins` are the caller's
 * (reload_host.c). */
int config_reload(struct slots *d, const char *path, const char *const *overrides,
		  size_t n_overrides);
/* Do two settings (with everything below them) differ?  NULL: absent. */
int config_settings_differ(const config_setting_t *a, const config_setting_t *b);

#endif
