/* Durable file handling. Every state file is replaced atomically: write a temp
 * file, fsync it, rename it over the old one, fsync the directory (DESIGN §7).
 * A failed fsync is not retried: the page cache may have dropped the data, so the
 * callers treat it as fatal. */
#ifndef TW_FSUTIL_H
#define TW_FSUTIL_H

#include <stddef.h>
#include <sys/types.h>

/* 0 or -errno. */
int fs_write_atomic(const char *path, const void *data, size_t len, mode_t mode);
/* Like fs_write_atomic, but exits through fatal() on any error: for state whose
 * loss would break the durability contract. */
void fs_write_atomic_or_die(const char *path, const void *data, size_t len);
/* write(2) all of data, again after EINTR; 0 or -errno. */
int fs_write_all(int fd, const void *data, size_t len);
/* open(2) with O_CLOEXEC, waiting up to a minute while the process is out of
 * descriptors (transient), and exiting through fatal() on any other failure: for files
 * whose loss would lose state. Only for background threads and startup. */
int fs_open_or_die(const char *path, int flags, mode_t mode);
/* Read a whole file (at most max bytes) into a NUL-terminated malloc'd buffer.
 * -ENOENT when absent, -EFBIG when larger than max, -EINVAL when not a regular file. */
int fs_read_file(const char *path, size_t max, char **ret, size_t *ret_len);
/* What fs_read_file's error means, in words ("not a regular file" for a directory or a
 * device in the file's place, where strerror would say "Invalid argument"). */
const char *fs_read_error(int r);
/* Why a Unix socket at path cannot be connected to, in words a user can act on (no
 * file, not a socket, no permission, nobody listening); written to buf. */
const char *fs_socket_fault(const char *path, char *buf, size_t n);
/* mkdir -p with the given mode for created components. */
int fs_mkdir_p(const char *path, mode_t mode);
/* fsync a directory by path. */
int fs_fsync_dir(const char *path);
/* Like fs_fsync_dir, but a failure exits through fatal() naming the directory: a failed
 * fsync is fatal (DESIGN.md §7). */
void fs_fsync_dir_or_die(const char *path);
/* Join "dir/name" into a malloc'd string (never NULL). */
char *fs_path_join(const char *dir, const char *name);

#endif
