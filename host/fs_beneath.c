/* File operations confined beneath a directory (see fs_beneath.h). */
#include "fs_beneath.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* close() that keeps the errno of the failure being reported. */
static void close_keep_errno(int fd)
{
	int err = errno;
	close(fd);
	errno = err;
}

static int is_symlink(int dir, const char *name)
{
	struct stat st;
	return fstatat(dir, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode);
}

int fsb_open_dir(int at, const char *rel, size_t len, int create)
{
	char name[NAME_MAX + 1];
	size_t i = 0;
	int fd = fcntl(at, F_DUPFD_CLOEXEC, 0);

	while (fd >= 0 && i < len) {
		const char *seg = rel + i, *end = memchr(seg, '/', len - i);
		size_t n = end ? (size_t)(end - seg) : len - i;
		int next;

		if (n == 0 || n > NAME_MAX) {
			close(fd);
			errno = n ? ENAMETOOLONG : EINVAL;
			return -1;
		}
		memcpy(name, seg, n);
		name[n] = '\0';
		/* O_NOFOLLOW: a symlink here fails with ELOOP instead of leading
		 * out of the tree. */
		next = openat(fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (next < 0 && errno == ENOENT && create) {
			if (mkdirat(fd, name, 0755) == 0) {
				if (fsync(fd) != 0) {
					close_keep_errno(fd);
					return -1;
				}
			} else if (errno != EEXIST) {
				close_keep_errno(fd);
				return -1;
			}
			next = openat(fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		}
		if (next < 0 && errno == ENOTDIR && is_symlink(fd, name))
			errno = ELOOP; /* O_DIRECTORY reports a symlink as ENOTDIR */
		close_keep_errno(fd);
		fd = next;
		i += n + 1;
	}
	return fd;
}

int fsb_is_file(int dir, const char *name)
{
	struct stat st;

	if (fstatat(dir, name, &st, AT_SYMLINK_NOFOLLOW) == 0)
		return S_ISREG(st.st_mode);
	return errno == ENOENT || errno == ENOTDIR ? 0 : -1;
}

int fsb_read_file(int dir, const char *name, size_t max, char **data, size_t *len)
{
	struct stat st;
	size_t cap, n = 0;
	char *buf = NULL;
	/* O_NONBLOCK: a FIFO planted in the tree must not hang a worker. */
	int fd = openat(dir, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);

	*data = NULL;
	*len = 0;
	if (fd < 0)
		return -1;
	if (fstat(fd, &st) != 0)
		goto fail;
	if (!S_ISREG(st.st_mode)) {
		errno = ENOENT; /* a directory (prefix of other keys) is not a file */
		goto fail;
	}
	if ((uint64_t)st.st_size > max) {
		errno = EFBIG;
		goto fail;
	}
	/* The size is a hint: the file may grow or shrink while it is read. */
	cap = (size_t)st.st_size + 1;
	if (!(buf = malloc(cap)))
		goto fail;
	for (;;) {
		ssize_t k;
		if (n + 1 >= cap) {
			char *nb;
			if (cap > max) {
				errno = EFBIG;
				goto fail;
			}
			if (!(nb = realloc(buf, cap * 2)))
				goto fail;
			buf = nb;
			cap *= 2;
		}
		k = read(fd, buf + n, cap - 1 - n);
		if (k < 0) {
			if (errno == EINTR)
				continue;
			goto fail;
		}
		if (k == 0)
			break;
		n += (size_t)k;
	}
	if (n > max) {
		errno = EFBIG;
		goto fail;
	}
	close(fd);
	buf[n] = '\0';
	*data = buf;
	*len = n;
	return 0;
fail:
	free(buf);
	close_keep_errno(fd);
	return -1;
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

/* The classic way: a named temp file, then a rename over `name`. */
static int replace_named(int dir, const char *name, const char *tmp, const void *data, size_t len,
			 int sync)
{
	int fd = openat(dir, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);

	if (fd < 0)
		return -1;
	if (write_all(fd, data, len) != 0 || (sync && fsync(fd) != 0)) {
		close_keep_errno(fd);
		goto fail;
	}
	if (close(fd) != 0 || renameat(dir, tmp, dir, name) != 0)
		goto fail;
	return 0;
fail:
	{
		int err = errno;
		unlinkat(dir, tmp, 0);
		errno = err;
	}
	return -1;
}

int fsb_replace(int dir, const char *name, const char *tmp, const void *data, size_t len, int sync)
{
#ifdef O_TMPFILE
	char proc[40];
	struct stat st;
	int fd, taken, rc;

	fd = openat(dir, ".", O_TMPFILE | O_WRONLY | O_CLOEXEC, 0644);
	if (fd < 0) {
		/* No O_TMPFILE on this file system (or kernel). */
		if (errno == EOPNOTSUPP || errno == EISDIR || errno == EINVAL)
			return replace_named(dir, name, tmp, data, len, sync);
		return -1;
	}
	if (write_all(fd, data, len) != 0 || (sync && fsync(fd) != 0)) {
		close_keep_errno(fd);
		return -1;
	}
	/* linkat() through /proc needs no privilege (AT_EMPTY_PATH would). */
	snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
	/* A new name is one directory update: the link.  The lookup takes no
	 * exclusive directory lock. */
	taken = fstatat(dir, name, &st, AT_SYMLINK_NOFOLLOW) == 0;
	rc = -1;
	if (!taken)
		rc = linkat(AT_FDCWD, proc, dir, name, AT_SYMLINK_FOLLOW);
	if (rc != 0 && (taken || errno == EEXIST)) {
		/* Replacing: link under the temp name, rename over. */
		rc = linkat(AT_FDCWD, proc, dir, tmp, AT_SYMLINK_FOLLOW);
		if (rc == 0 && (rc = renameat(dir, tmp, dir, name)) != 0) {
			int err = errno;
			unlinkat(dir, tmp, 0);
			errno = err;
		}
	}
	if (rc != 0 && errno == ENOENT && access("/proc/self/fd", X_OK) != 0) {
		/* No /proc mounted (a bare chroot): write it again, by name. */
		close(fd);
		return replace_named(dir, name, tmp, data, len, sync);
	}
	close_keep_errno(fd);
	return rc;
#else
	return replace_named(dir, name, tmp, data, len, sync);
#endif
}
