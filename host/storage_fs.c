/* The `fs` storage backend: objects are files under storage.fs.root; their
 * headers live under ROOT/.lab-meta/ (docs/storage.md): one file per
 * directory holds the headers its objects share, and an object whose headers
 * differ gets a sidecar of its own.  Every file operation runs on libuv's
 * thread pool and goes through fs_beneath.c, which never follows a symlink
 * inside the root; results are mapped to LAB_E* (and logged) back on the
 * loop.
 *
 * Writes (puts and deletes) to one directory are queued per directory and
 * run in batches on one worker at a time: the kernel serializes directory
 * updates on the directory's inode lock anyway, and workers that race for it
 * spin on it (issue 24: a quarter of labd's CPU in rwsem_spin_on_owner).
 * A batch also fsyncs its directories once for all its atomic puts. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "fs_beneath.h"
#include "log.h"
#include "storage.h"
#include "storage_backend.h"

/* Writes to one directory that one worker takes at once; bounded so that a
 * long queue does not delay every callback of a batch for long. */
#define FS_BATCH_MAX 64
/* The file in ROOT/.lab-meta/DIR/ that holds DIR's shared headers.  No
 * sidecar can have this name (sidecars end in ".json"), and keys may not
 * use it as a directory on fs (fs_key_dir). */
#define FS_DIR_META STORAGE_META_DIR
/* Largest headers document read back (three header values of <= 255 bytes). */
#define FS_META_MAX 1024

struct fs_dir;

struct fs_backend {
	struct storage_backend base;
	char *root;
	size_t root_len;
	unsigned inflight; /* operations and the readiness probe */
	int closing;
	uint64_t seed, counter;
	struct fs_dir *dirs; /* directories with writes queued or running */

	/* readiness: the last probe of the root, and the last write */
	uv_work_t probe;
	int probe_running;
	int probe_err;
	int probe_result; /* written by the worker, copied on the loop */
	int write_err;
	char write_step[16];
	char reason[512];
};

struct fs_work {
	uv_work_t w;          /* get, exists: one work item each */
	struct fs_work *next; /* put, delete: in its directory's queue or batch */
	struct fs_backend *fs;
	struct sb_req *req;
	int err;              /* errno of the step that failed, 0 if none */
	const char *step;
	int exists;
	int root_bad;         /* the failure is the root's, not the key's */
	char *meta;           /* put: the headers document */
	size_t meta_len;
	size_t dir_len;       /* key[0, dir_len) is the directory ("" for the root) */
	const char *name;     /* the key's last segment */
	uint64_t id;          /* put: temp-name suffix */
};

/* One directory's write queue; exists while it has writes. */
struct fs_dir {
	struct fs_dir *next;
	struct fs_backend *fs;
	uv_work_t w;
	struct fs_work *queue, **queue_tail; /* waiting */
	struct fs_work *batch;               /* running on a worker */
	char rel[];                          /* the directory, relative to the root */
};

static const char *errstr(int err, char *buf, size_t n)
{
	return strerror_r(err, buf, n);
}

/* ---- helpers run on the thread pool ------------------------------------- */

static int fail(struct fs_work *w, const char *step)
{
	w->err = errno ? errno : EIO;
	w->step = step;
	return -1;
}

/* 0 if `root` is a writable directory, else an errno. */
static int probe_root(const char *root)
{
	struct stat st;
	if (stat(root, &st) != 0)
		return errno;
	if (!S_ISDIR(st.st_mode))
		return ENOTDIR;
	if (access(root, W_OK | X_OK) != 0)
		return errno;
	return 0;
}

/* The root itself may be reached through symlinks (the operator's choice);
 * nothing below it is. */
static int open_root(struct fs_work *w)
{
	int fd = open(w->fs->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		fail(w, "root");
		w->root_bad = 1;
	}
	return fd;
}

/* The directory of w's key below `root` (create for writes). */
static int open_key_dir(struct fs_work *w, int root, int create)
{
	int fd = fsb_open_dir(root, w->req->key, w->dir_len, create);
	if (fd < 0)
		fail(w, create ? "mkdir" : "open");
	return fd;
}

/* The headers directory ROOT/.lab-meta/DIR of w's key. */
static int open_meta_dir(struct fs_work *w, int root, int create)
{
	int meta = fsb_open_dir(root, STORAGE_META_DIR, strlen(STORAGE_META_DIR), create), fd;
	if (meta < 0) {
		fail(w, create ? "mkdir" : "open");
		return -1;
	}
	fd = fsb_open_dir(meta, w->req->key, w->dir_len, create);
	if (fd < 0)
		fail(w, create ? "mkdir" : "open");
	close(meta);
	return fd;
}

/* State of one batch's directory handles, opened as the batch needs them. */
struct batch_ctx {
	int root, dir, mdir;
	int dir_dirty, mdir_dirty; /* an atomic write needs a directory fsync */
	int dmeta_read;
	size_t dmeta_len;          /* DIR's shared headers, 0 when none */
	char dmeta[FS_META_MAX];
	char name[512], tmp[512];  /* NAME_MAX + suffixes fit */
};

/* buf = name + suffix (+ ".tmp." + id when tmp); ENAMETOOLONG when it does
 * not fit (no file system takes such a name anyway). */
static int name_fmt(char *buf, size_t cap, const char *name, const char *suffix, int tmp, uint64_t id)
{
	int n = tmp ? snprintf(buf, cap, "%s%s.tmp.%016llx", name, suffix, (unsigned long long)id)
		    : snprintf(buf, cap, "%s%s", name, suffix);
	if (n < 0 || (size_t)n >= cap) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}

/* Puts the object's headers: nothing when they equal the directory's shared
 * ones (after removing an older sidecar), the directory's shared headers
 * when it has none yet, else a sidecar. */
static int put_meta(struct fs_work *w, struct batch_ctx *b, int sync)
{
	int r;

	if (b->mdir < 0 && (b->mdir = open_meta_dir(w, b->root, 1)) < 0)
		return -1;
	if (!b->dmeta_read) {
		char *d;
		size_t n;
		if (fsb_read_file(b->mdir, FS_DIR_META, FS_META_MAX, &d, &n) == 0) {
			memcpy(b->dmeta, d, n);
			b->dmeta_len = n;
			free(d);
		} else if (errno == ENOENT || errno == EFBIG) {
			b->dmeta_len = 0; /* none, or not one labd wrote: (re)written below */
		} else {
			return fail(w, "read");
		}
		b->dmeta_read = 1;
	}
	if (name_fmt(b->name, sizeof b->name, w->name, ".json", 0, 0) != 0)
		return fail(w, "meta");
	if (b->dmeta_len == 0) {
		/* The directory's first object: its headers become the shared
		 * ones, durably (they are rewritten never, so this is rare). */
		if (name_fmt(b->tmp, sizeof b->tmp, FS_DIR_META, "", 1, w->id) != 0 ||
		    fsb_replace(b->mdir, FS_DIR_META, b->tmp, w->meta, w->meta_len, 1) != 0 ||
		    fsync(b->mdir) != 0)
			return fail(w, "meta");
		memcpy(b->dmeta, w->meta, w->meta_len);
		b->dmeta_len = w->meta_len;
	}
	if (b->dmeta_len == w->meta_len && memcmp(b->dmeta, w->meta, w->meta_len) == 0) {
		/* Shared headers: a sidecar left from an earlier put would win. */
		r = fsb_is_file(b->mdir, b->name);
		if (r < 0 || (r == 1 && unlinkat(b->mdir, b->name, 0) != 0 && errno != ENOENT))
			return fail(w, "meta");
		b->mdir_dirty |= sync && r == 1;
		return 0;
	}
	if (name_fmt(b->tmp, sizeof b->tmp, b->name, "", 1, w->id) != 0 ||
	    fsb_replace(b->mdir, b->name, b->tmp, w->meta, w->meta_len, sync) != 0)
		return fail(w, "meta");
	b->mdir_dirty |= sync;
	return 0;
}

static void put_one(struct fs_work *w, struct batch_ctx *b)
{
	int sync = (w->req->flags & LAB_PUT_ATOMIC) != 0;

	if (b->dir < 0 && (b->dir = open_key_dir(w, b->root, 1)) < 0)
		return;
	/* Headers first: once the body is visible, its headers are too. */
	if (put_meta(w, b, sync) != 0)
		return;
	if (name_fmt(b->tmp, sizeof b->tmp, w->name, "", 1, w->id) != 0 ||
	    fsb_replace(b->dir, w->name, b->tmp, w->req->body, w->req->len, sync) != 0) {
		fail(w, errno == ENAMETOOLONG ? "open" : "write");
		return;
	}
	b->dir_dirty |= sync;
}

static void delete_one(struct fs_work *w, struct batch_ctx *b)
{
	if (b->dir < 0 && (b->dir = open_key_dir(w, b->root, 0)) < 0) {
		/* Missing directory: nothing to delete. */
		if (w->err == ENOENT || w->err == ENOTDIR)
			w->err = 0;
		return;
	}
	/* Missing (or a directory, which is no object) counts as deleted. */
	if (unlinkat(b->dir, w->name, 0) != 0 && errno != ENOENT && errno != EISDIR) {
		fail(w, "unlink");
		return;
	}
	if (b->mdir < 0 && (b->mdir = open_meta_dir(w, b->root, 0)) < 0) {
		if (w->err == ENOENT || w->err == ENOTDIR)
			w->err = 0;
		return;
	}
	if (name_fmt(b->name, sizeof b->name, w->name, ".json", 0, 0) != 0 ||
	    (unlinkat(b->mdir, b->name, 0) != 0 && errno != ENOENT && errno != EISDIR))
		fail(w, "unlink");
}

/* One directory's batch of writes, in queue order. */
static void batch_work(uv_work_t *uw)
{
	struct fs_dir *d = uw->data;
	struct batch_ctx b = { .root = -1, .dir = -1, .mdir = -1 };
	struct fs_work *w;

	for (w = d->batch; w; w = w->next) {
		errno = 0;
		if (b.root < 0 && (b.root = open_root(w)) < 0)
			continue;
		if (w->req->op == SB_PUT)
			put_one(w, &b);
		else
			delete_one(w, &b);
	}
	/* One directory fsync makes every atomic put of the batch durable;
	 * none of their callbacks has run yet. */
	if ((b.dir_dirty && fsync(b.dir) != 0) || (b.mdir_dirty && fsync(b.mdir) != 0)) {
		int err = errno ? errno : EIO;
		for (w = d->batch; w; w = w->next)
			if (!w->err && (w->req->flags & LAB_PUT_ATOMIC)) {
				w->err = err;
				w->step = "fsync";
			}
	}
	if (b.mdir >= 0)
		close(b.mdir);
	if (b.dir >= 0)
		close(b.dir);
	if (b.root >= 0)
		close(b.root);
	/* A path conflict between keys, or the root itself gone? */
	for (w = d->batch; w; w = w->next) {
		int err;
		if (w->root_bad ||
		    !(w->err == ENOENT || w->err == ENOTDIR || w->err == EISDIR || w->err == EEXIST))
			continue;
		err = probe_root(d->fs->root);
		if (err) {
			w->err = err;
			w->step = "root";
			w->root_bad = 1;
		}
	}
}

static void get_work(uv_work_t *uw)
{
	struct fs_work *w = uw->data;
	struct sb_req *req = w->req;
	char *data;
	size_t len;
	int root, dir;

	errno = 0;
	if ((root = open_root(w)) < 0)
		return;
	dir = open_key_dir(w, root, 0);
	close(root); /* w->err already holds a failure's errno */
	if (dir < 0)
		return;
	if (fsb_read_file(dir, w->name, STORAGE_BODY_MAX, &data, &len) == 0) {
		req->data = data;
		req->data_len = len;
		req->encoding = SB_ENC_UNKNOWN;
	} else {
		fail(w, errno == ENOENT ? "open" : "read");
	}
	close(dir);
}

static void exists_work(uv_work_t *uw)
{
	struct fs_work *w = uw->data;
	int root, dir, r;

	errno = 0;
	if ((root = open_root(w)) < 0)
		return;
	dir = open_key_dir(w, root, 0);
	close(root);
	if (dir < 0) {
		if (w->err == ENOENT || w->err == ENOTDIR)
			w->err = 0; /* no directory, no object */
		return;
	}
	r = fsb_is_file(dir, w->name);
	if (r < 0)
		fail(w, "stat");
	else
		w->exists = r;
	close(dir);
}

/* ---- completion on the loop --------------------------------------------- */

static void fs_free(struct fs_backend *fs)
{
	free(fs->root);
	free(fs);
}

static int map_errno(enum sb_op op, int err)
{
	switch (err) {
	case ENOENT:
		return op == SB_PUT ? LAB_EIO : LAB_ENOENT;
	case ENOTDIR:
	case EISDIR:
	case EEXIST:
		return op == SB_PUT ? LAB_EEXIST : LAB_ENOENT;
	case ELOOP:
		return LAB_EPERM; /* a symlink inside the root: refused */
	case ENAMETOOLONG:
		return LAB_EINVAL;
	case EFBIG:
		return LAB_ERANGE;
	case ENOMEM:
		return LAB_ENOMEM;
	default:
		return LAB_EIO; /* ENOSPC, EDQUOT, EROFS, EACCES, EPERM, EIO, ... */
	}
}

/* Maps w's outcome, logs a failure once, frees w and calls back. */
static void work_finish(struct fs_work *w)
{
	struct fs_backend *fs = w->fs;
	struct sb_req *req = w->req;
	int rc = 0;

	if (w->err) {
		rc = w->root_bad ? LAB_EIO : map_errno(req->op, w->err);
		if (rc != LAB_ENOENT) {
			char eb[128];
			log_kv(LAB_LOG_ERROR, req->plugin,
			       w->err == ELOOP ? "storage operation refused: symlink inside the root"
					       : "storage operation failed",
			       LAB_FS("backend", "fs"), LAB_FS("key", req->key),
			       LAB_FS("step", w->step),
			       LAB_FS("error", errstr(w->err, eb, sizeof eb)),
			       LAB_FS("result", lab_strerror(rc)));
		}
	} else if (req->op == SB_EXISTS) {
		rc = w->exists;
	}
	if (req->op == SB_PUT || req->op == SB_DELETE) {
		/* Conflicting keys say nothing about the health of the root. */
		if (rc == 0 || rc == LAB_EEXIST || rc == LAB_EINVAL || rc == LAB_EPERM) {
			fs->write_err = 0;
		} else {
			fs->write_err = w->err;
			snprintf(fs->write_step, sizeof fs->write_step, "%s", w->step);
		}
	}
	req->status = rc;
	req->priv = NULL;
	free(w->meta);
	free(w);
	fs->inflight--;
	if (fs->closing && fs->inflight == 0)
		fs_free(fs);
	req->done(req); /* last: it may close the storage */
}

static void work_after(uv_work_t *uw, int status)
{
	work_finish(uw->data);
}

static void batch_after(uv_work_t *uw, int status);

/* Hands up to FS_BATCH_MAX queued writes of `d` to a worker. */
static int dir_start(struct fs_dir *d)
{
	struct fs_work **tail = &d->batch;
	int n = 0;

	while (d->queue && n < FS_BATCH_MAX) {
		*tail = d->queue;
		tail = &d->queue->next;
		d->queue = d->queue->next;
		n++;
	}
	*tail = NULL;
	if (!d->queue)
		d->queue_tail = &d->queue;
	d->w.data = d;
	return uv_queue_work(d->fs->base.loop, &d->w, batch_work, batch_after) == 0 ? 0 : LAB_EIO;
}

static void dir_unlink(struct fs_dir *d)
{
	struct fs_dir **pp = &d->fs->dirs;
	while (*pp != d)
		pp = &(*pp)->next;
	*pp = d->next;
	free(d);
}

static void batch_after(uv_work_t *uw, int status)
{
	struct fs_dir *d = uw->data;
	struct fs_work *w = d->batch, *next, *failed = NULL;

	d->batch = NULL;
	/* The next batch starts before this one's callbacks run (they may
	 * close the storage); an empty queue retires the directory. */
	if (d->queue) {
		if (dir_start(d) != 0) {
			failed = d->batch;
			d->batch = NULL;
		}
	}
	if (!d->batch && !d->queue)
		dir_unlink(d);
	for (; w; w = next) {
		next = w->next;
		work_finish(w);
	}
	for (w = failed; w; w = next) {
		next = w->next;
		w->err = EIO;
		w->step = "queue";
		work_finish(w);
	}
}

/* ---- operations ---------------------------------------------------------- */

/* Splits the key into directory and name; on fs, STORAGE_META_DIR is
 * reserved as a directory at every depth (it names the shared headers file
 * in ROOT/.lab-meta/DIR/). */
static int fs_key_dir(struct fs_work *w)
{
	const char *key = w->req->key, *slash = strrchr(key, '/'), *p;
	size_t ml = strlen(STORAGE_META_DIR);

	w->dir_len = slash ? (size_t)(slash - key) : 0;
	w->name = slash ? slash + 1 : key;
	for (p = key; p < w->name; p = strchr(p, '/') + 1)
		if (strncmp(p, STORAGE_META_DIR, ml) == 0 && p[ml] == '/') {
			log_kv(LAB_LOG_ERROR, w->req->plugin, "storage operation refused",
			       LAB_FS("backend", "fs"), LAB_FS("key", key),
			       LAB_FS("error", "\"" STORAGE_META_DIR "\" is reserved on fs"),
			       LAB_FS("result", lab_strerror(LAB_EPERM)));
			return LAB_EPERM;
		}
	return 0;
}

static struct fs_work *work_new(struct fs_backend *fs, struct sb_req *req, int *rc)
{
	struct fs_work *w = calloc(1, sizeof *w);

	*rc = LAB_ENOMEM;
	if (!w)
		return NULL;
	w->fs = fs;
	w->req = req;
	w->w.data = w;
	if ((*rc = fs_key_dir(w)) != 0) {
		free(w);
		return NULL;
	}
	if (req->op == SB_PUT) {
		struct buf m = BUF_INIT;
		w->id = fs->seed ^ (++fs->counter * 0x9e3779b97f4a7c15ull);
		buf_puts(&m, "{\"Content-Type\":");
		buf_json_str(&m, req->content_type, strlen(req->content_type));
		buf_puts(&m, ",\"Content-Encoding\":");
		buf_json_str(&m, req->content_encoding, strlen(req->content_encoding));
		buf_puts(&m, ",\"Cache-Control\":");
		buf_json_str(&m, req->cache_control, strlen(req->cache_control));
		buf_puts(&m, "}\n");
		if (m.oom || m.len > FS_META_MAX) {
			buf_free(&m);
			free(w);
			*rc = m.oom ? LAB_ENOMEM : LAB_EINVAL;
			return NULL;
		}
		w->meta = m.data;
		w->meta_len = m.len;
	}
	return w;
}

/* get, exists: one work item each (reads take no exclusive directory lock). */
static int start_read(struct fs_backend *fs, struct sb_req *req, uv_work_cb fn)
{
	int rc;
	struct fs_work *w = work_new(fs, req, &rc);

	if (!w)
		return rc;
	req->priv = w;
	if (uv_queue_work(fs->base.loop, &w->w, fn, work_after) != 0) {
		free(w);
		req->priv = NULL;
		return LAB_EIO;
	}
	fs->inflight++;
	return 0;
}

/* put, delete: queued on the key's directory. */
static int start_write(struct fs_backend *fs, struct sb_req *req)
{
	struct fs_dir *d;
	struct fs_work *w;
	int rc;

	if (!(w = work_new(fs, req, &rc)))
		return rc;
	for (d = fs->dirs; d; d = d->next)
		if (strlen(d->rel) == w->dir_len && memcmp(d->rel, req->key, w->dir_len) == 0)
			break;
	if (!d) {
		if (!(d = calloc(1, sizeof *d + w->dir_len + 1))) {
			free(w->meta);
			free(w);
			return LAB_ENOMEM;
		}
		memcpy(d->rel, req->key, w->dir_len);
		d->fs = fs;
		d->queue_tail = &d->queue;
		d->next = fs->dirs;
		fs->dirs = d;
	}
	*d->queue_tail = w;
	d->queue_tail = &w->next;
	req->priv = w;
	if (!d->batch && dir_start(d) != 0) {
		/* Only w can be queued here: an idle directory has no queue. */
		d->batch = NULL;
		dir_unlink(d);
		free(w->meta);
		free(w);
		req->priv = NULL;
		return LAB_EIO;
	}
	fs->inflight++;
	return 0;
}

static int fs_put(struct storage_backend *b, struct sb_req *req)
{
	return start_write((struct fs_backend *)b, req);
}

static int fs_get(struct storage_backend *b, struct sb_req *req)
{
	return start_read((struct fs_backend *)b, req, get_work);
}

static int fs_exists(struct storage_backend *b, struct sb_req *req)
{
	return start_read((struct fs_backend *)b, req, exists_work);
}

static int fs_delete(struct storage_backend *b, struct sb_req *req)
{
	return start_write((struct fs_backend *)b, req);
}

/* ---- readiness ----------------------------------------------------------- */

static void probe_work(uv_work_t *uw)
{
	struct fs_backend *fs = uw->data;
	fs->probe_result = probe_root(fs->root);
}

static void probe_after(uv_work_t *uw, int status)
{
	struct fs_backend *fs = uw->data;
	fs->probe_running = 0;
	fs->probe_err = fs->probe_result;
	fs->inflight--;
	if (fs->closing && fs->inflight == 0)
		fs_free(fs);
}

static int fs_ready(struct storage_backend *b, const char **reason)
{
	struct fs_backend *fs = (struct fs_backend *)b;
	char eb[128];

	/* Answer from what is known; refresh it for the next question. */
	if (!fs->probe_running && !fs->closing) {
		fs->probe.data = fs;
		if (uv_queue_work(fs->base.loop, &fs->probe, probe_work, probe_after) == 0) {
			fs->probe_running = 1;
			fs->inflight++;
		}
	}
	if (fs->probe_err) {
		snprintf(fs->reason, sizeof fs->reason, "fs root %s: %s", fs->root,
			 errstr(fs->probe_err, eb, sizeof eb));
		*reason = fs->reason;
		return LAB_EIO;
	}
	if (fs->write_err) {
		snprintf(fs->reason, sizeof fs->reason, "fs root %s: last write failed (%s): %s",
			 fs->root, fs->write_step, errstr(fs->write_err, eb, sizeof eb));
		*reason = fs->reason;
		return LAB_EIO;
	}
	return 0;
}

static void fs_close(struct storage_backend *b)
{
	struct fs_backend *fs = (struct fs_backend *)b;
	fs->closing = 1;
	if (fs->inflight == 0)
		fs_free(fs);
}

static const struct storage_backend_ops fs_ops = {
	.name = "fs",
	.put = fs_put,
	.get = fs_get,
	.exists = fs_exists,
	.del = fs_delete,
	.ready = fs_ready,
	.close = fs_close,
};

/* ---- open ---------------------------------------------------------------- */

/* mkdir -p; start-up only. */
static int mkdir_all(char *path)
{
	char *s;
	for (s = strchr(path + 1, '/');; s = strchr(s + 1, '/')) {
		if (s)
			*s = '\0';
		int rc = mkdir(path, 0755);
		int err = errno;
		if (s)
			*s = '/';
		if (rc != 0 && err != EEXIST)
			return err;
		if (!s)
			return 0;
	}
}

int storage_fs_open(uv_loop_t *loop, const struct host_conf *hc, struct storage_backend **out)
{
	const char *root = hc->fs_root;
	struct fs_backend *fs;
	char eb[128];
	size_t n;
	int err;

	*out = NULL;
	if (!root || !*root) {
		log_msg(LAB_LOG_ERROR, NULL, "storage.fs.root is empty");
		return LAB_ECONFIG;
	}
	fs = calloc(1, sizeof *fs);
	if (!fs || !(fs->root = strdup(root))) {
		free(fs);
		return LAB_ENOMEM;
	}
	/* Trailing slashes would double up in every path. */
	n = strlen(fs->root);
	while (n > 1 && fs->root[n - 1] == '/')
		fs->root[--n] = '\0';
	fs->root_len = n;
	fs->base.ops = &fs_ops;
	fs->base.loop = loop;

	err = mkdir_all(fs->root);
	if (err == 0)
		err = probe_root(fs->root);
	if (err == ENOTDIR || err == ENOENT || err == ELOOP || err == ENAMETOOLONG) {
		log_kv(LAB_LOG_ERROR, NULL, "storage.fs.root is not a usable directory",
		       LAB_FS("root", fs->root), LAB_FS("error", errstr(err, eb, sizeof eb)));
		fs_free(fs);
		return LAB_ECONFIG;
	}
	if (err) {
		/* Writable later (remount, permissions) is fine: /readyz says why. */
		log_kv(LAB_LOG_WARN, NULL, "storage.fs.root is not writable",
		       LAB_FS("root", fs->root), LAB_FS("error", errstr(err, eb, sizeof eb)));
		fs->probe_err = err;
	}
	if (getrandom(&fs->seed, sizeof fs->seed, GRND_NONBLOCK) != (ssize_t)sizeof fs->seed)
		fs->seed = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
	*out = &fs->base;
	return 0;
}
