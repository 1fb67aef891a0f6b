/* Hot plugin reload (SPEC §7) and its file-change trigger.  See reload.h
 * and docs/reload.md.  Everything here runs on the loop thread. */
#include "reload.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "clock.h"
#include "config.h"
#include "config_json.h"
#include "instance.h"
#include "log.h"
#include "metrics.h"
#include "plugin_loader.h"
#include "slot.h"
#include "state.h"

#define DEBOUNCE_MS 200

enum { PH_NEW, PH_OLD };

/* One reload in progress. */
struct job {
	struct slot *s;
	struct plugin_image *img_new, *img_old;
	int phase; /* PH_NEW: trying the new image; PH_OLD: restarting the old one */
	unsigned old_gen;
	int64_t old_loaded_at;
	char trigger[16];
	uint64_t t0;
	int fail_rc;
	int last_rc; /* the code of the latest launch that failed */
	char why[600];  /* why the new image failed */
	char why2[600]; /* why the old one could not be restarted */
	struct job *next;
};

struct watch {
	uv_fs_event_t h;
	struct reloader *rl;
	char *dir;
	struct watch *next;
};

struct fsig {
	int valid;
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime;
};

struct reloader {
	struct slots *d;
	struct job *jobs;
	struct watch *watches;
	uv_timer_t *debounce; /* one per slot */
	struct fsig *sig;     /* one per slot: the file last loaded or tried */
	size_t n;
	int timers_live;
};

/* ---- helpers ------------------------------------------------------------- */

static size_t slot_index(const struct slot *s) { return (size_t)(s - s->d->slots); }

static void note_file(const struct slot *s)
{
	struct reloader *R = s->d->rl;
	struct stat st;
	if (!R || !R->sig || slot_index(s) >= R->n)
		return;
	struct fsig *f = &R->sig[slot_index(s)];
	if (stat(s->path, &st) != 0) {
		f->valid = 0;
		return;
	}
	f->valid = 1;
	f->dev = st.st_dev;
	f->ino = st.st_ino;
	f->size = st.st_size;
	f->mtime = st.st_mtim;
}

/* Has the file changed since note_file()?  Missing files never count. */
static int file_changed(const struct slot *s)
{
	struct reloader *R = s->d->rl;
	struct stat st;
	if (!R || !R->sig || slot_index(s) >= R->n || stat(s->path, &st) != 0)
		return 0;
	const struct fsig *f = &R->sig[slot_index(s)];
	return !f->valid || f->dev != st.st_dev || f->ino != st.st_ino || f->size != st.st_size ||
	       f->mtime.tv_sec != st.st_mtim.tv_sec || f->mtime.tv_nsec != st.st_mtim.tv_nsec;
}

static struct job *job_of(const struct slot *s)
{
	if (!s->d->rl)
		return NULL;
	for (struct job *j = s->d->rl->jobs; j; j = j->next)
		if (j->s == s)
			return j;
	return NULL;
}

int reload_busy(const struct slot *s) { return job_of(s) != NULL; }

static void job_free(struct job *j)
{
	for (struct job **p = &j->s->d->rl->jobs; *p; p = &(*p)->next) {
		if (*p == j) {
			*p = j->next;
			break;
		}
	}
	plugin_image_close(j->img_new);
	plugin_image_close(j->img_old);
	free(j);
}

static void count_reload(const struct slot *s, int ok)
{
	metric_add(s->d->svc.metrics, M_PLUGIN_RELOADS, 1, s->name, ok ? "ok" : "failed");
}

/* A failure decided before the running instance was touched. */
static void early_failure(struct slot *s, const char *trigger, const char *why)
{
	char msg[sizeof s->last_error];
	snprintf(msg, sizeof msg, "reload failed: %.480s", why);
	slot_note_error(s, msg);
	log_kv(LAB_LOG_ERROR, s->name, "reload failed; the running version is kept",
	       LAB_FS("trigger", trigger), LAB_FS("error", why), LAB_FS("version", s->version),
	       LAB_FI("generation", s->generation));
	count_reload(s, 0);
	slot_event(s, "reload_failed");
}

/* ---- the swap ------------------------------------------------------------ */

/* The steps below return the outcome of the reload when they finish it
 * (0: the new version runs; <0: it failed, the job is freed) or 1 when it
 * continues from the loop (an instance drains). */
static int step(struct job *j);
static int launch_failed(struct job *j);

static void launch_dead(struct job *j, struct instance *inst)
{
	if (j->s->inst == inst)
		j->s->inst = NULL;
	instance_free(inst); /* closes its image (asynchronously) */
}

static void launch_stopped(struct instance *inst, void *ud)
{
	launch_dead(ud, inst);
	(void)launch_failed(ud);
}

/* Creates, inits and starts an instance of img (ownership moves in).
 * 0: running.  <0: failed, nothing left.  1: start failed and the instance
 * is draining; launch_stopped() continues with launch_failed(). */
static int launch(struct job *j, struct plugin_image *img, char *why, size_t whylen)
{
	struct slot *s = j->s;
	struct slots *d = s->d;
	struct instance *inst = NULL;
	snprintf(s->version, sizeof s->version, "%s", img->desc->version);
	snprintf(s->description, sizeof s->description, "%s",
		 img->desc->description ? img->desc->description : "");
	if (j->phase == PH_NEW) {
		s->generation = j->old_gen + 1;
		s->loaded_at = clock_now_ms() / 1000;
	} else {
		s->generation = j->old_gen;
		s->loaded_at = j->old_loaded_at;
	}
	int rc = instance_new(&d->svc, s->name, s->section, img, &inst);
	if (rc) {
		plugin_image_close(img);
		snprintf(why, whylen, "%s", lab_strerror(rc));
		j->last_rc = rc;
		return rc;
	}
	s->inst = inst;
	slot_bind(s, inst);
	inst->keep_metrics = 1; /* until the reload succeeded (step()) */
	slot_set_status(s, PS_LOADED);
	rc = instance_init(inst);
	if (rc < 0) {
		snprintf(why, whylen, "init failed: %s", lab_strerror(rc));
		j->last_rc = rc;
		s->inst = NULL;
		instance_free(inst);
		return rc;
	}
	config_json_plugin_ready(d->cj, s);
	rc = instance_start(inst);
	if (rc < 0) {
		snprintf(why, whylen, "start failed: %s", lab_strerror(rc));
		j->fail_rc = rc;
		j->last_rc = rc;
		if (instance_stop(inst, slots_drain_ms(d), launch_stopped, j) == 1)
			return 1;
		launch_dead(j, inst);
		return rc;
	}
	return 0;
}

static int finish(struct job *j, int rc)
{
	job_free(j);
	return rc;
}

/* Called after a launch failed (at once or once the failed instance drained). */
static int launch_failed(struct job *j)
{
	struct slot *s = j->s;
	if (j->phase == PH_NEW) {
		log_kv(LAB_LOG_ERROR, s->name, "new version failed; restarting the old one",
		       LAB_FS("trigger", j->trigger), LAB_FS("error", j->why));
		j->phase = PH_OLD;
		return step(j);
	}
	char err[sizeof s->last_error];
	snprintf(err, sizeof err, "reload failed: %.200s; restarting the old version failed too: %.200s",
		 j->why, j->why2);
	/* Restarted later (slot_retry.c) if the old version failed for a transient reason. */
	slot_fail(s, err, j->last_rc, RETRY_BY_CODE);
	metrics_plugin_drop(s->d->svc.metrics, s->name); /* no version of it runs */
	s->report.n_progress = 0;
	count_reload(s, 0);
	slot_event(s, "failed");
	/* The host's outcome, not the plugin's code (that is in the text): a
	 * plugin's LAB_EBUSY must not turn the admin answer into a 409. */
	return finish(j, LAB_EIO);
}

static int step(struct job *j)
{
	struct slot *s = j->s;
	struct plugin_image *img;
	if (j->phase == PH_NEW) {
		img = j->img_new;
		j->img_new = NULL;
	} else {
		img = j->img_old;
		j->img_old = NULL;
	}
	if (!img) { /* cannot happen: each image is launched once */
		snprintf(j->phase == PH_NEW ? j->why : j->why2, sizeof j->why, "no image to start");
		if (j->phase == PH_NEW)
			j->fail_rc = LAB_ESTATE;
		return launch_failed(j);
	}
	char *why = j->phase == PH_NEW ? j->why : j->why2;
	int rc = launch(j, img, why, sizeof j->why);
	if (rc == 1)
		return 1; /* launch_stopped() continues */
	if (rc < 0) {
		if (j->phase == PH_NEW)
			j->fail_rc = rc;
		return launch_failed(j);
	}
	uint64_t ms = clock_monotonic_ms() - j->t0;
	/* The running version owns the plugin's metrics now: what it did not
	 * register again is gone, and unloading it later drops the rest. */
	s->inst->keep_metrics = 0;
	metrics_plugin_sweep(s->d->svc.metrics, s->name);
	slot_started(s); /* RUNNING, clears last_error, "started" event */
	if (j->phase == PH_NEW) {
		log_kv(LAB_LOG_INFO, s->name, "plugin reloaded", LAB_FS("trigger", j->trigger),
		       LAB_FS("version", s->version), LAB_FI("generation", s->generation),
		       LAB_FI("ms", ms));
		count_reload(s, 1);
		slot_event(s, "reloaded");
		return finish(j, 0); /* closes the old image and deletes its private copy */
	} else {
		char msg[sizeof s->last_error];
		snprintf(msg, sizeof msg, "reload failed: %.480s", j->why);
		slot_note_error(s, msg);
		log_kv(LAB_LOG_ERROR, s->name, "reload failed; the old version runs again",
		       LAB_FS("trigger", j->trigger), LAB_FS("error", j->why),
		       LAB_FS("version", s->version), LAB_FI("generation", s->generation));
		count_reload(s, 0);
		slot_event(s, "reload_failed");
		return finish(j, LAB_EIO); /* the host's outcome, as above */
	}
}

/* The old instance is gone: keep its image for a rollback, start the new one. */
static int old_dead(struct job *j, struct instance *inst)
{
	struct slot *s = j->s;
	j->img_old = inst->img;
	inst->img = NULL; /* kept loaded for a rollback */
	if (s->inst == inst)
		s->inst = NULL;
	instance_free(inst);
	/* The new instance continues on the same in-memory state; make it durable. */
	if (s->state && state_dirty(s->state))
		state_flush(s->state, 0, NULL, NULL);
	return step(j);
}

static void old_stopped(struct instance *inst, void *ud) { (void)old_dead(ud, inst); }

int reload_plugin(struct slot *s, const char *trigger, char *err, size_t errlen)
{
	struct slots *d = s->d;
	char why[600];
	if (d->stopping) {
		snprintf(err, errlen, "daemon is stopping");
		return LAB_ESTATE;
	}
	if (reload_busy(s)) {
		snprintf(err, errlen, "a reload of this plugin is already under way");
		return LAB_EBUSY;
	}
	if (!s->inst || s->status != PS_RUNNING || s->inst->phase != INST_RUNNING) {
		snprintf(err, errlen, "plugin is not running (state %s); enable it instead",
			 slot_status_name(s->status));
		return LAB_ESTATE;
	}
	if (!d->copy_dir[0] || !d->rl) {
		/* dlopen() of the same path would hand back the loaded image. */
		snprintf(err, errlen, "hot reload is off: no private copy directory (see the start-up log)");
		return LAB_ENOTSUP;
	}
	uint64_t t0 = clock_monotonic_ms();
	note_file(s);
	struct plugin_image *img = NULL;
	int rc = slot_open_image(s, &img, why, sizeof why);
	if (rc) {
		early_failure(s, trigger, why);
		snprintf(err, errlen, "%s", why);
		return rc;
	}
	struct job *j = calloc(1, sizeof *j);
	if (!j) {
		plugin_image_close(img);
		snprintf(err, errlen, "out of memory");
		return LAB_ENOMEM;
	}
	j->s = s;
	j->img_new = img;
	j->phase = PH_NEW;
	j->old_gen = s->generation;
	j->old_loaded_at = s->loaded_at;
	j->t0 = t0;
	snprintf(j->trigger, sizeof j->trigger, "%s", trigger);
	j->next = d->rl->jobs;
	d->rl->jobs = j;

	log_kv(LAB_LOG_INFO, s->name, "reloading", LAB_FS("trigger", trigger),
	       LAB_FS("new_version", img->desc->version), LAB_FI("generation", s->generation));
	slot_set_status(s, PS_STOPPING);
	struct instance *old = s->inst;
	old->keep_metrics = 1; /* the new version takes them over (metrics.h) */
	metrics_plugin_mark_stale(d->svc.metrics, s->name);
	if (instance_stop(old, slots_drain_ms(d), old_stopped, j) == 1)
		return 1; /* draining: old_stopped() continues */
	int res = old_dead(j, old); /* j is freed unless res == 1 */
	if (res < 0)
		snprintf(err, errlen, "%s", s->last_error);
	return res;
}

int reload_admin(struct slot *s, struct buf *out)
{
	char err[700];
	int rc = reload_plugin(s, "admin", err, sizeof err);
	/* SPEC §4.4: 200 once accepted; "state":"reloading" while the old instance drains. */
	int code = rc >= 0 ? 200 : (rc == LAB_ESTATE || rc == LAB_EBUSY) ? 409 : 500;
	buf_puts(out, "{\"plugin\":");
	buf_json_str(out, s->name, strlen(s->name));
	if (rc < 0) {
		buf_puts(out, ",\"error\":");
		buf_json_str(out, err, strlen(err));
	}
	buf_puts(out, ",\"state\":");
	const char *st = rc == 1 ? "reloading" : slot_status_name(s->status);
	buf_json_str(out, st, strlen(st));
	buf_puts(out, ",\"version\":");
	buf_json_str(out, s->version, strlen(s->version));
	buf_printf(out, ",\"generation\":%u}", s->generation);
	return code;
}

/* ---- file watching ----------------------------------------------------- */

static int dir_matches(const char *path, const char *dir, const char *file)
{
	const char *slash = strrchr(path, '/');
	size_t dl = slash ? (size_t)(slash - path) : 1;
	const char *base = slash ? slash + 1 : path;
	const char *pdir = slash ? path : ".";
	if (slash == path)
		dl = 1; /* "/x.so" */
	return strlen(dir) == dl && strncmp(pdir, dir, dl) == 0 && strcmp(base, file) == 0;
}

static void debounce_fired(uv_timer_t *t)
{
	struct slot *s = t->data;
	struct slots *d = s->d;
	char err[700];
	if (d->stopping || !s->enabled || !file_changed(s))
		return;
	if (reload_busy(s) || s->state_loading || s->status == PS_STOPPING) {
		uv_timer_start(t, debounce_fired, DEBOUNCE_MS, 0); /* try again later */
		return;
	}
	if (!s->inst && s->status == PS_FAILED) {
		note_file(s);
		log_kv(LAB_LOG_INFO, s->name, "plugin file changed; starting the failed plugin again",
		       LAB_FS("path", s->path));
		s->last_error[0] = '\0';
		s->retries = 0;
		slot_activate(s);
		return;
	}
	if (s->status != PS_RUNNING)
		return;
	log_kv(LAB_LOG_INFO, s->name, "plugin file changed", LAB_FS("path", s->path));
	reload_plugin(s, "file", err, sizeof err); /* outcome logged there */
}

static void on_fs_event(uv_fs_event_t *h, const char *filename, int events, int status)
{
	struct watch *w = h->data;
	struct reloader *R = w->rl;
	(void)events;
	if (status < 0 || !filename || !R->debounce)
		return;
	for (size_t i = 0; i < R->n; i++) {
		struct slot *s = &R->d->slots[i];
		if (dir_matches(s->path, w->dir, filename))
			uv_timer_start(&R->debounce[i], debounce_fired, DEBOUNCE_MS, 0);
	}
}

static void watch_closed(uv_handle_t *h)
{
	struct watch *w = h->data;
	free(w->dir);
	free(w);
}

static void watch_dir(struct reloader *R, const char *dir)
{
	for (struct watch *w = R->watches; w; w = w->next)
		if (strcmp(w->dir, dir) == 0)
			return;
	struct watch *w = calloc(1, sizeof *w);
	if (!w || !(w->dir = strdup(dir))) {
		free(w);
		log_msg(LAB_LOG_ERROR, NULL, "out of memory while watching plugin files");
		return;
	}
	w->rl = R;
	int rc = uv_fs_event_init(R->d->svc.loop, &w->h);
	if (rc != 0) {
		free(w->dir);
		free(w);
	} else {
		w->h.data = w;
		rc = uv_fs_event_start(&w->h, on_fs_event, dir, 0);
		if (rc != 0)
			uv_close((uv_handle_t *)&w->h, watch_closed);
	}
	if (rc != 0) {
		log_kv(LAB_LOG_WARN, NULL, "cannot watch the plugin directory; reload on file change is off",
		       LAB_FS("dir", dir), LAB_FS("error", uv_strerror(rc)));
		return;
	}
	w->next = R->watches;
	R->watches = w;
}

/* Private-copy directories of labd processes that are gone (SIGKILL, crash):
 * "labd-plugins-PID.XXXXXX" owned by us, PID not running.  Only the *.so
 * copies inside are removed, then the directory (if that leaves it empty). */
static void sweep_stale(const char *tmp)
{
	static const char prefix[] = "labd-plugins-";
	DIR *dir = opendir(tmp);
	if (!dir)
		return;
	struct dirent *e;
	int n = 0;
	while ((e = readdir(dir))) {
		if (strncmp(e->d_name, prefix, sizeof prefix - 1) != 0)
			continue;
		char *end;
		long pid = strtol(e->d_name + sizeof prefix - 1, &end, 10);
		if (pid <= 0 || *end != '.' || pid == (long)getpid())
			continue;
		if (kill((pid_t)pid, 0) == 0 || errno != ESRCH)
			continue;
		char path[512];
		struct stat st;
		int len = snprintf(path, sizeof path, "%s/%s", tmp, e->d_name);
		if (len <= 0 || (size_t)len >= sizeof path || lstat(path, &st) != 0 ||
		    !S_ISDIR(st.st_mode) || st.st_uid != geteuid())
			continue;
		DIR *sub = opendir(path);
		if (!sub)
			continue;
		struct dirent *f;
		while ((f = readdir(sub))) {
			size_t fl = strlen(f->d_name);
			char fp[800];
			if (fl < 4 || strcmp(f->d_name + fl - 3, ".so") != 0)
				continue;
			if (snprintf(fp, sizeof fp, "%s/%s", path, f->d_name) < (int)sizeof fp)
				unlink(fp);
		}
		closedir(sub);
		if (rmdir(path) == 0)
			n++;
	}
	closedir(dir);
	if (n)
		log_kv(LAB_LOG_INFO, NULL, "removed plugin copy directories of exited labd processes",
		       LAB_FS("dir", tmp), LAB_FI("count", n));
}

void reload_setup(struct slots *d)
{
	const char *tmp = getenv("TMPDIR");
	struct reloader *R = calloc(1, sizeof *R);
	if (!R) {
		log_msg(LAB_LOG_ERROR, NULL, "out of memory: hot reload is off");
		return;
	}
	R->d = d;
	d->rl = R;
	if (!tmp || !*tmp)
		tmp = "/tmp";
	sweep_stale(tmp);
	int n = snprintf(d->copy_dir, sizeof d->copy_dir, "%s/labd-plugins-%ld.XXXXXX", tmp,
			 (long)getpid());
	if (n <= 0 || (size_t)n >= sizeof d->copy_dir || !mkdtemp(d->copy_dir)) {
		log_kv(LAB_LOG_WARN, NULL,
		       "cannot create a private directory for plugin copies; plugins load from their files",
		       LAB_FS("dir", tmp), LAB_FS("error", strerror(errno)));
		d->copy_dir[0] = '\0';
	}
	R->n = d->n_slots;
	R->debounce = calloc(R->n ? R->n : 1, sizeof *R->debounce);
	R->sig = calloc(R->n ? R->n : 1, sizeof *R->sig);
	if (!R->debounce || !R->sig) {
		free(R->debounce);
		free(R->sig);
		R->debounce = NULL;
		R->sig = NULL;
		log_msg(LAB_LOG_ERROR, NULL, "out of memory: reload on file change is off");
		return;
	}
	for (size_t i = 0; i < R->n; i++) {
		struct slot *s = &d->slots[i];
		uv_timer_init(d->svc.loop, &R->debounce[i]);
		R->debounce[i].data = s;
		note_file(s);
		char *dir = plugin_path_dir(s->path);
		if (!dir)
			continue;
		watch_dir(R, dir);
		free(dir);
	}
	R->timers_live = 1;
}

void reload_stop(struct slots *d)
{
	struct reloader *R = d->rl;
	if (!R)
		return;
	struct watch *w = R->watches;
	R->watches = NULL;
	while (w) {
		struct watch *next = w->next;
		uv_fs_event_stop(&w->h);
		uv_close((uv_handle_t *)&w->h, watch_closed);
		w = next;
	}
	if (R->timers_live) {
		for (size_t i = 0; i < R->n; i++) {
			uv_timer_stop(&R->debounce[i]);
			uv_close((uv_handle_t *)&R->debounce[i], NULL);
		}
		R->timers_live = 0;
	}
}

void reload_cleanup(struct slots *d)
{
	struct reloader *R = d->rl;
	while (R && R->jobs)
		job_free(R->jobs); /* reloads cut short by shutdown */
	if (R) {
		free(R->debounce);
		free(R->sig);
		free(R);
		d->rl = NULL;
	}
	if (d->copy_dir[0] && rmdir(d->copy_dir) != 0)
		log_kv(LAB_LOG_WARN, NULL, "cannot remove the plugin copy directory",
		       LAB_FS("dir", d->copy_dir), LAB_FS("error", strerror(errno)));
}
