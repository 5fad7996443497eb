#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fsutil.h"
#include "log.h"
#include "xalloc.h"

int fs_write_all(int fd, const void *data, size_t len)
{
	const char *p = data;
	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

char *fs_path_join(const char *dir, const char *name)
{
	size_t n = strlen(dir) + strlen(name) + 2;
	char *p = xmalloc(n);
	snprintf(p, n, "%s/%s", dir, name);
	return p;
}

int fs_fsync_dir(const char *path)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	int r = fsync(fd) < 0 ? -errno : 0;
	close(fd);
	return r;
}

void fs_fsync_dir_or_die(const char *path)
{
	int r = fs_fsync_dir(path);
	if (r < 0)
		fatal("cannot fsync %s: %s", path, strerror(-r));
}

int fs_write_atomic(const char *path, const void *data, size_t len, mode_t mode)
{
	size_t n = strlen(path) + 16;
	char *tmp = xmalloc(n);
	char *dircopy = xstrdup(path);
	snprintf(tmp, n, "%s.tmp", path);
	int r = 0;
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	if (fd < 0) {
		r = -errno;
		goto out;
	}
	r = fs_write_all(fd, data, len);
	if (r == 0 && fsync(fd) < 0)
		r = -errno;
	if (close(fd) < 0 && r == 0)
		r = -errno;
	if (r == 0 && rename(tmp, path) < 0)
		r = -errno;
	if (r == 0)
		r = fs_fsync_dir(dirname(dircopy));
	if (r < 0)
		unlink(tmp);
out:
	free(tmp);
	free(dircopy);
	return r;
}

void fs_write_atomic_or_die(const char *path, const void *data, size_t len)
{
	/* Running out of descriptors (a flood of clients) is transient and no reason to
	 * lose the daemon: wait for some to close. Every other failure is fatal. Callers
	 * are background threads, so waiting here stalls no event loop. */
	int r;
	for (int waited_ms = 0;; waited_ms += 100) {
		r = fs_write_atomic(path, data, len, 0640);
		if ((r != -EMFILE && r != -ENFILE) || waited_ms >= 60000)
			break;
		if (waited_ms == 0)
			log_warn("out of file descriptors writing %s; retrying", path);
		usleep(100 * 1000);
	}
	if (r < 0)
		fatal("cannot write %s durably: %s; stopping so no state is lost", path,
		      strerror(-r));
}

int fs_open_or_die(const char *path, int flags, mode_t mode)
{
	/* Out of descriptors is transient, as in fs_write_atomic_or_die: wait a while. */
	int fd;
	for (int waited_ms = 0;; waited_ms += 100) {
		fd = open(path, flags | O_CLOEXEC, mode);
		if (fd >= 0 || (errno != EMFILE && errno != ENFILE) || waited_ms >= 60000)
			break;
		usleep(100 * 1000);
	}
	if (fd < 0)
		fatal("cannot open %s: %s", path, strerror(errno));
	return fd;
}

const char *fs_read_error(int r)
{
	return r == -EINVAL  ? "not a regular file"
	       : r == -EFBIG ? "larger than allowed"
			     : strerror(-r);
}

const char *fs_socket_fault(const char *path, char *buf, size_t n)
{
	/* curl says "Failed to connect to <host> port 80" for a Unix socket, which hides
	 * the three causes a user can act on. */
	struct stat st;
	if (stat(path, &st) < 0)
		snprintf(buf, n, "no socket at %s (%s): is the daemon running?", path,
			 strerror(errno));
	else if (!S_ISSOCK(st.st_mode))
		snprintf(buf, n, "%s is not a socket", path);
	else if (access(path, W_OK) < 0)
		snprintf(buf, n, "%s: %s (the sockets are for root and the group tankworld)", path,
			 strerror(errno));
	else
		snprintf(buf, n, "nothing listens at %s: is the daemon running?", path);
	return buf;
}

int fs_read_file(const char *path, size_t max, char **ret, size_t *ret_len)
{
	/* O_NONBLOCK so a FIFO in place of a file cannot hang us before the fstat check. */
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return -errno;
	struct stat st;
	if (fstat(fd, &st) < 0) {
		int r = -errno;
		close(fd);
		return r;
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		return -EINVAL;
	}
	if ((size_t)st.st_size > max) {
		close(fd);
		return -EFBIG;
	}
	size_t cap = (size_t)st.st_size + 1, len = 0;
	char *buf = xmalloc(cap);
	for (;;) {
		if (len + 1 >= cap) {
			if (cap > max + 1) {
				free(buf);
				close(fd);
				return -EFBIG;
			}
			cap *= 2;
			buf = xrealloc(buf, cap);
		}
		ssize_t got = read(fd, buf + len, cap - len - 1);
		if (got < 0) {
			if (errno == EINTR)
				continue;
			int r = -errno;
			free(buf);
			close(fd);
			return r;
		}
		if (got == 0)
			break;
		len += (size_t)got;
	}
	close(fd);
	if (len > max) {
		free(buf);
		return -EFBIG;
	}
	buf[len] = '\0';
	*ret = buf;
	if (ret_len)
		*ret_len = len;
	return 0;
}

/* mkdir, and when it created the folder, fsync the parent: a new directory entry is
 * durable only once its parent is synced, and a state folder that vanishes in a power cut
 * takes every file under it along (found by the power-loss test). */
static int mkdir_durable(char *buf, mode_t mode)
{
	if (mkdir(buf, mode) < 0)
		return -errno;
	char *slash = strrchr(buf, '/');
	if (!slash)
		return fs_fsync_dir(".");
	if (slash == buf)
		return fs_fsync_dir("/");
	*slash = '\0';
	int r = fs_fsync_dir(buf);
	*slash = '/';
	return r;
}

int fs_mkdir_p(const char *path, mode_t mode)
{
	char buf[PATH_MAX];
	if (strlen(path) >= sizeof buf)
		return -ENAMETOOLONG;
	strcpy(buf, path);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		int r = mkdir_durable(buf, mode);
		if (r < 0 && r != -EEXIST)
			return r;
		*p = '/';
	}
	int r = mkdir_durable(buf, mode);
	if (r < 0) {
		if (r != -EEXIST)
			return r;
		struct stat st;
		if (stat(buf, &st) < 0)
			return -errno;
		if (!S_ISDIR(st.st_mode))
			return -ENOTDIR;
	}
	return 0;
}
