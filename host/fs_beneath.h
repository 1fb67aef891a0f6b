/* File operations confined beneath a directory: every path component is
 * opened relative to its parent with O_NOFOLLOW, so a symlink planted inside
 * the tree (a directory or a file) is refused instead of followed, and no
 * operation lands outside the directory (docs/security.md, docs/storage.md).
 *
 * Blocking calls: run them on a worker thread, never on the loop.  Each
 * returns 0 or -1 with errno set; ELOOP means a symlink was met where a
 * directory or file was expected. */
#ifndef LAB_HOST_FS_BENEATH_H
#define LAB_HOST_FS_BENEATH_H

#include <stddef.h>

/* Opens the directory `rel` (`len` bytes of '/'-separated components, none
 * empty, "." or ".."; len 0 is `at` itself) below the directory fd `at`.
 * With `create`, missing directories are made (0755) and each new one's
 * parent is fsynced, so a later fsync of the new directory makes its
 * entries durable.  Returns a new O_DIRECTORY fd, or -1 with errno. */
int fsb_open_dir(int at, const char *rel, size_t len, int create);

/* 1 if `name` in `dir` is a regular file, 0 if it is absent or anything
 * else (a symlink is never followed), -1 with errno on other errors. */
int fsb_is_file(int dir, const char *name);

/* Reads the regular file `name` in `dir` (a symlink is refused with ELOOP,
 * a FIFO does not block, anything but a regular file is ENOENT) into a
 * malloc'ed, NUL-terminated buffer: *data, *len bytes.  EFBIG past `max`
 * bytes. */
int fsb_read_file(int dir, const char *name, size_t max, char **data, size_t *len);

/* Puts `len` bytes at `name` in `dir`, replacing what was there atomically:
 * a reader sees the old file or the new one, never a part.  The data goes
 * to an anonymous O_TMPFILE inode that is linked in under `name` when the
 * name is free (one directory update), else linked under `tmp` and renamed
 * over `name`; file systems without O_TMPFILE get a named `tmp` file and a
 * rename.  With `sync` the file is fsynced before it becomes visible (the
 * caller fsyncs `dir` afterwards).  `tmp` is a unique name in `dir`; it is
 * removed again on failure. */
int fsb_replace(int dir, const char *name, const char *tmp, const void *data, size_t len, int sync);

#endif
