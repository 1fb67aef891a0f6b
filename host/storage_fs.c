/* The `fs` storage backend: objects are files under storage.fs.root, their
 * headers JSON sidecars under ROOT/.lab-meta/.  Every file operation runs on
 * libuv's thread pool; results are mapped to LAB_E* (and logged) back on the
 * loop.  Writes go to a temporary name and are renamed into place, so no
 * reader ever sees a partial file. */
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
#include "log.h"
#include "storage.h"
#include "storage_backend.h"

struct fs_backend {
	struct storage_backend base;
	char *root;
	size_t root_len;
	unsigned inflight; /* operations and the readiness probe */
	int closing;
	uint64_t seed, counter;

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
	uv_work_t w;
	struct fs_backend *fs;
	struct sb_req *req;
	int err;          /* errno of the step that failed, 0 if none */
	const char *step;
	int exists;
	int root_bad;     /* the failure is the root's, not the key's */
	char *meta;       /* put: the sidecar document */
	size_t meta_len;
	char *path, *tmp, *mpath, *mtmp;
	char paths[];
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

static int fsync_dir_of(struct fs_work *w, const char *path)
{
	char *dir = strdup(path), *slash;
	int fd, rc = 0;

	if (!dir) {
		errno = ENOMEM;
		return fail(w, "fsync");
	}
	slash = strrchr(dir, '/');
	if (slash)
		*(slash == dir ? slash + 1 : slash) = '\0';
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || fsync(fd) != 0)
		rc = fail(w, "fsync");
	if (fd >= 0)
		close(fd);
	free(dir);
	return rc;
}

/* mkdir -p of the directories of `file` below the root. */
static int mkdir_parents(struct fs_work *w, const char *file, int sync)
{
	size_t from = w->fs->root_len + 1;
	char *p = strdup(file), *s;
	int rc = 0;

	if (!p) {
		errno = ENOMEM;
		return fail(w, "mkdir");
	}
	for (s = strchr(p + from, '/'); s; s = strchr(s + 1, '/')) {
		*s = '\0';
		if (mkdir(p, 0755) == 0) {
			if (sync && fsync_dir_of(w, p) != 0) {
				rc = -1;
				break;
			}
		} else if (errno != EEXIST) {
			rc = fail(w, "mkdir");
			break;
		}
		*s = '/';
	}
	free(p);
	return rc;
}

static int write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t k = write(fd, p, n);
		if (k < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += k;
		n -= (size_t)k;
	}
	return 0;
}

/* Writes `tmp`, renames it to `path`; with sync, fsyncs the file before the
 * rename and the directory after it. */
static int write_replace(struct fs_work *w, const char *path, const char *tmp, const void *data,
			 size_t len, int sync)
{
	int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0 && errno == ENOENT) {
		if (mkdir_parents(w, tmp, sync) != 0)
			return -1;
		fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	}
	if (fd < 0)
		return fail(w, "open");
	if (write_all(fd, data, len) != 0 || (sync && fsync(fd) != 0)) {
		fail(w, "write");
		close(fd);
		unlink(tmp);
		return -1;
	}
	if (close(fd) != 0) {
		fail(w, "close");
		unlink(tmp);
		return -1;
	}
	if (rename(tmp, path) != 0) {
		fail(w, "rename");
		unlink(tmp);
		return -1;
	}
	return sync ? fsync_dir_of(w, path) : 0;
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

static void put_work(uv_work_t *uw)
{
	struct fs_work *w = uw->data;
	int sync = (w->req->flags & LAB_PUT_ATOMIC) != 0;

	errno = 0;
	/* Headers first: once the body is visible, its headers are too. */
	if (write_replace(w, w->mpath, w->mtmp, w->meta, w->meta_len, sync) == 0 &&
	    write_replace(w, w->path, w->tmp, w->req->body, w->req->len, sync) == 0)
		return;
	/* A path conflict between keys, or the root itself gone? */
	if (w->err == ENOENT || w->err == ENOTDIR || w->err == EISDIR || w->err == EEXIST) {
		int err = probe_root(w->fs->root);
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
	struct stat st;
	size_t cap, len = 0;
	char *data = NULL;
	int fd;

	errno = 0;
	/* O_NONBLOCK: a FIFO planted in the tree must not hang a worker. */
	fd = open(w->path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0) {
		fail(w, "open");
		return;
	}
	if (fstat(fd, &st) != 0) {
		fail(w, "stat");
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		w->err = ENOENT; /* a directory (prefix of other keys) is not an object */
		w->step = "open";
		goto out;
	}
	if ((uint64_t)st.st_size > STORAGE_BODY_MAX) {
		w->err = EFBIG;
		w->step = "stat";
		goto out;
	}
	cap = (size_t)st.st_size + 1;
	data = malloc(cap);
	if (!data) {
		errno = ENOMEM;
		fail(w, "read");
		goto out;
	}
	for (;;) {
		ssize_t k;
		if (len == cap) {
			char *nd;
			if (cap > STORAGE_BODY_MAX) {
				w->err = EFBIG;
				w->step = "read";
				goto out;
			}
			nd = realloc(data, cap * 2);
			if (!nd) {
				errno = ENOMEM;
				fail(w, "read");
				goto out;
			}
			data = nd;
			cap *= 2;
		}
		k = read(fd, data + len, cap - len);
		if (k < 0) {
			if (errno == EINTR)
				continue;
			fail(w, "read");
			goto out;
		}
		if (k == 0)
			break;
		len += (size_t)k;
	}
	req->data = data;
	req->data_len = len;
	req->encoding = SB_ENC_UNKNOWN;
	data = NULL;
out:
	free(data);
	close(fd);
}

static void exists_work(uv_work_t *uw)
{
	struct fs_work *w = uw->data;
	struct stat st;

	errno = 0;
	if (stat(w->path, &st) == 0)
		w->exists = S_ISREG(st.st_mode);
	else if (errno == ENOENT || errno == ENOTDIR)
		w->exists = 0;
	else
		fail(w, "stat");
}

static void delete_work(uv_work_t *uw)
{
	struct fs_work *w = uw->data;

	errno = 0;
	/* Missing (or a directory, which is no object) counts as deleted. */
	if (unlink(w->path) != 0 && errno != ENOENT && errno != ENOTDIR && errno != EISDIR) {
		fail(w, "unlink");
		return;
	}
	if (unlink(w->mpath) != 0 && errno != ENOENT && errno != ENOTDIR && errno != EISDIR)
		fail(w, "unlink");
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

static void work_after(uv_work_t *uw, int status)
{
	struct fs_work *w = uw->data;
	struct fs_backend *fs = w->fs;
	struct sb_req *req = w->req;
	int rc = 0;

	if (w->err) {
		rc = w->root_bad ? LAB_EIO : map_errno(req->op, w->err);
		if (rc != LAB_ENOENT) {
			char eb[128];
			log_kv(LAB_LOG_ERROR, req->plugin, "storage operation failed",
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
		if (rc == 0 || rc == LAB_EEXIST || rc == LAB_EINVAL) {
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

/* ---- operations ---------------------------------------------------------- */

static int start(struct fs_backend *fs, struct sb_req *req, uv_work_cb fn)
{
	size_t klen = strlen(req->key), mlen = strlen(STORAGE_META_DIR);
	/* path, tmp, meta path, meta tmp: "/" + ".json" + ".tmp." + 16 hex + NULs */
	size_t n = 4 * (fs->root_len + 1 + mlen + 1 + klen + 5 + 5 + 16 + 1);
	struct fs_work *w = calloc(1, sizeof *w + n);
	char *p;

	if (!w)
		return LAB_ENOMEM;
	w->fs = fs;
	w->req = req;
	w->w.data = w;
	p = w->paths;
	w->path = p;
	p += sprintf(p, "%s/%s", fs->root, req->key) + 1;
	w->mpath = p;
	p += sprintf(p, "%s/%s/%s.json", fs->root, STORAGE_META_DIR, req->key) + 1;
	if (req->op == SB_PUT) {
		uint64_t id = fs->seed ^ (++fs->counter * 0x9e3779b97f4a7c15ull);
		struct buf m = BUF_INIT;
		w->tmp = p;
		p += sprintf(p, "%s.tmp.%016llx", w->path, (unsigned long long)id) + 1;
		w->mtmp = p;
		sprintf(p, "%s.tmp.%016llx", w->mpath, (unsigned long long)id);
		buf_puts(&m, "{\"Content-Type\":");
		buf_json_str(&m, req->content_type, strlen(req->content_type));
		buf_puts(&m, ",\"Content-Encoding\":");
		buf_json_str(&m, req->content_encoding, strlen(req->content_encoding));
		buf_puts(&m, ",\"Cache-Control\":");
		buf_json_str(&m, req->cache_control, strlen(req->cache_control));
		buf_puts(&m, "}\n");
		if (m.oom) {
			buf_free(&m);
			free(w);
			return LAB_ENOMEM;
		}
		w->meta = m.data;
		w->meta_len = m.len;
	}
	req->priv = w;
	if (uv_queue_work(fs->base.loop, &w->w, fn, work_after) != 0) {
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
	return start((struct fs_backend *)b, req, put_work);
}

static int fs_get(struct storage_backend *b, struct sb_req *req)
{
	return start((struct fs_backend *)b, req, get_work);
}

static int fs_exists(struct storage_backend *b, struct sb_req *req)
{
	return start((struct fs_backend *)b, req, exists_work);
}

static int fs_delete(struct storage_backend *b, struct sb_req *req)
{
	return start((struct fs_backend *)b, req, delete_work);
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
