/*
 * A power cut for tests: an LD_PRELOAD library that keeps, beside a daemon's state
 * directory, the image a disk would hold after the power went out.
 *
 * Why not just kill -9: a killed process leaves its writes in the page cache, so a
 * daemon that skips fdatasync, or answers before it, looks as durable as a correct one.
 * Here only what was made durable survives:
 *   - a file's content is what it held at its last fsync/fdatasync (never synced: empty);
 *   - a directory's entries are what it listed at its last fsync (never synced: as at
 *     start for directories that existed then, empty for new ones).
 * That is the strict model POSIX allows (ext4 and xfs often keep more), so a daemon that
 * passes here holds on any file system.
 *
 * Environment:
 *   TW_POWERLOSS_DIR     the state directory to watch (absolute, existing); unset: inert
 *   TW_POWERLOSS_SHADOW  where the durable image is kept (absolute, existing, empty)
 *   TW_POWERLOSS_DELAY_MS  sleep this long inside every watched fsync before it counts,
 *                        so that an answer sent before its fsync reaches the client while
 *                        the record is not yet durable, and a test can catch it
 *   TW_POWERLOSS_FAIL    a control file: while it names a path, syncs of that path fail
 *                        with EIO (must_fail)
 *
 * Shadow layout: f-<key> holds a file's durable bytes; d-<key> a directory's durable
 * entries, one "f|d <key> <name>" a line, where <key> is the file's identity (ident_of);
 * root names the top directory's key; log gets one line per watched fsync ("<seq>
 * <monotonic ns> <path>"). Each is replaced by rename, so a kill -9 of the daemon
 * mid-update leaves the previous image whole.
 * tests/powerloss/reconstruct.py turns the shadow into a state directory.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static int (*real_fsync)(int);
static int (*real_fdatasync)(int);
static char watch[PATH_MAX];
static size_t watch_len;
static char shadow[PATH_MAX];
static long delay_ms;
static unsigned long seq;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

static void die(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("powerloss: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	_exit(99);
}

/* A file's identity in the shadow: device, inode number and birth time. The number
 * alone is not enough: once a file is deleted the file system hands its inode to the
 * next new file, and a directory listing not synced since the deletion still names the
 * old one. Keyed by number only, the new file's bytes would replace the deleted file's
 * durable image, and a rebuilt directory would show the old name with another file's
 * content, which no disk can do (a power cut keeps the deleted file whole, or not at
 * all). The birth time tells the two apart; where a file system has none, it is 0. */
struct ident {
	char key[96];
	mode_t mode;
};

static int ident_of(int dirfd, const char *path, int flags, struct ident *id)
{
	struct statx sx;
	if (statx(dirfd, path, flags, STATX_TYPE | STATX_INO | STATX_BTIME, &sx) < 0)
		return -1;
	bool born = sx.stx_mask & STATX_BTIME;
	snprintf(id->key, sizeof id->key, "%x.%x-%llx-%llx.%x", sx.stx_dev_major, sx.stx_dev_minor,
		 (unsigned long long)sx.stx_ino,
		 born ? (unsigned long long)sx.stx_btime.tv_sec : 0ULL,
		 born ? sx.stx_btime.tv_nsec : 0U);
	id->mode = sx.stx_mode;
	return 0;
}

/* Write buf to shadow/name through a temporary file and rename: whole or not at all. */
static void shadow_put(const char *name, const char *buf, size_t len)
{
	char tmp[PATH_MAX + 64], dst[PATH_MAX + 64];
	snprintf(tmp, sizeof tmp, "%s/.tmp-%s", shadow, name);
	snprintf(dst, sizeof dst, "%s/%s", shadow, name);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		die("open %s: %s", tmp, strerror(errno));
	size_t off = 0;
	while (off < len) {
		ssize_t w = write(fd, buf + off, len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			die("write %s: %s", tmp, strerror(errno));
		off += (size_t)w;
	}
	close(fd);
	if (rename(tmp, dst) < 0)
		die("rename %s: %s", tmp, strerror(errno));
}

/* Read all of an open file (through its /proc link, so write-only fds work too). */
static char *slurp(const char *path, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	size_t cap = 65536, n = 0;
	char *buf = malloc(cap);
	for (;;) {
		if (n == cap) {
			cap *= 2;
			buf = realloc(buf, cap);
		}
		if (!buf)
			die("out of memory");
		ssize_t r = read(fd, buf + n, cap - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		n += (size_t)r;
	}
	close(fd);
	*len = n;
	return buf;
}

static void capture_file(const char *path, const struct ident *id)
{
	char name[128];
	size_t len = 0;
	char *buf = slurp(path, &len);
	if (!buf)
		return;
	snprintf(name, sizeof name, "f-%s", id->key);
	shadow_put(name, buf, len);
	free(buf);
}

static void capture_dir(const char *path, const struct ident *id, int recurse)
{
	DIR *d = opendir(path);
	if (!d)
		return;
	size_t cap = 4096, n = 0;
	char *buf = malloc(cap);
	struct dirent *e;
	while (buf && (e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		char child[PATH_MAX];
		struct ident cs;
		if (snprintf(child, sizeof child, "%s/%s", path, e->d_name) >= (int)sizeof child)
			continue;
		if (ident_of(AT_FDCWD, child, AT_SYMLINK_NOFOLLOW, &cs) < 0 ||
		    !(S_ISREG(cs.mode) || S_ISDIR(cs.mode)))
			continue;
		size_t need = strlen(e->d_name) + strlen(cs.key) + 8;
		while (n + need >= cap)
			buf = realloc(buf, cap *= 2);
		if (!buf)
			break;
		n += (size_t)sprintf(buf + n, "%c %s %s\n", S_ISDIR(cs.mode) ? 'd' : 'f', cs.key,
				     e->d_name);
		if (recurse) {
			if (S_ISDIR(cs.mode))
				capture_dir(child, &cs, 1);
			else
				capture_file(child, &cs);
		}
	}
	closedir(d);
	if (!buf)
		die("out of memory");
	char name[128];
	snprintf(name, sizeof name, "d-%s", id->key);
	shadow_put(name, buf, n);
	free(buf);
}

static void log_sync(const char *path)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	char line[PATH_MAX + 64];
	int n = snprintf(line, sizeof line, "%lu %lld %s\n", ++seq,
			 (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec, path);
	char dst[PATH_MAX + 8];
	snprintf(dst, sizeof dst, "%s/log", shadow);
	int fd = open(dst, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (fd >= 0) {
		if (write(fd, line, (size_t)n) < 0) { /* the log only helps a reader */
		}
		close(fd);
	}
}

/* fd's /proc link into link, and the path it names into path; false if unreadable. */
static bool fd_path(int fd, char link[64], char path[PATH_MAX])
{
	snprintf(link, 64, "/proc/self/fd/%d", fd);
	ssize_t n = readlink(link, path, PATH_MAX - 1);
	if (n < 0)
		return false;
	path[n] = 0;
	return true;
}

/* After the real sync succeeded: make what it covered durable in the shadow. */
static void capture(int fd)
{
	if (!watch_len)
		return;
	char link[64], path[PATH_MAX];
	if (!fd_path(fd, link, path))
		return;
	if (strncmp(path, watch, watch_len) || (path[watch_len] && path[watch_len] != '/'))
		return;
	struct ident id;
	if (ident_of(fd, "", AT_EMPTY_PATH, &id) < 0)
		return;
	if (delay_ms > 0) {
		struct timespec ts = {delay_ms / 1000, (delay_ms % 1000) * 1000000L};
		while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
			;
	}
	pthread_mutex_lock(&lock);
	if (S_ISDIR(id.mode))
		capture_dir(link, &id, 0);
	else if (S_ISREG(id.mode))
		capture_file(link, &id);
	log_sync(path);
	pthread_mutex_unlock(&lock);
}

/* TW_POWERLOSS_FAIL names a control file: while it exists, every fsync and fdatasync of
 * the file or directory whose path it holds fails with EIO, as on a failing disk, so a
 * test can check that a daemon stops rather than goes on. Read at each sync, so the test
 * chooses the moment. Works without TW_POWERLOSS_DIR. */
static bool must_fail(int fd)
{
	const char *control = getenv("TW_POWERLOSS_FAIL");
	if (!control || !*control)
		return false;
	char want[PATH_MAX], link[64], path[PATH_MAX];
	FILE *f = fopen(control, "r");
	if (!f)
		return false;
	bool named = fgets(want, sizeof want, f) != NULL;
	fclose(f);
	if (!named)
		return false;
	want[strcspn(want, "\n")] = 0;
	return fd_path(fd, link, path) && strcmp(path, want) == 0;
}

int fsync(int fd)
{
	if (must_fail(fd)) {
		errno = EIO;
		return -1;
	}
	int r = real_fsync(fd);
	if (r == 0) {
		int saved = errno;
		capture(fd);
		errno = saved;
	}
	return r;
}

int fdatasync(int fd)
{
	if (must_fail(fd)) {
		errno = EIO;
		return -1;
	}
	int r = real_fdatasync(fd);
	if (r == 0) {
		int saved = errno;
		capture(fd);
		errno = saved;
	}
	return r;
}

__attribute__((constructor)) static void powerloss_init(void)
{
	real_fsync = (int (*)(int))dlsym(RTLD_NEXT, "fsync");
	real_fdatasync = (int (*)(int))dlsym(RTLD_NEXT, "fdatasync");
	if (!real_fsync || !real_fdatasync)
		die("cannot find fsync/fdatasync");
	const char *w = getenv("TW_POWERLOSS_DIR");
	const char *s = getenv("TW_POWERLOSS_SHADOW");
	const char *d = getenv("TW_POWERLOSS_DELAY_MS");
	if (!w || !*w)
		return;
	if (!s || !*s)
		die("TW_POWERLOSS_DIR is set but TW_POWERLOSS_SHADOW is not");
	if (!realpath(w, watch) || !realpath(s, shadow))
		die("cannot resolve %s or %s", w, s);
	delay_ms = d ? strtol(d, NULL, 10) : 0;
	/* The state as the test left it before the start is durable: the test synced it. */
	struct ident id;
	if (ident_of(AT_FDCWD, watch, 0, &id) < 0 || !S_ISDIR(id.mode))
		die("%s is not a directory", watch);
	char probe[PATH_MAX + 8];
	snprintf(probe, sizeof probe, "%s/root", shadow);
	/* A restarted daemon under the same shadow keeps the image it has. */
	if (access(probe, F_OK) < 0) {
		capture_dir(watch, &id, 1);
		shadow_put("root", id.key, strlen(id.key));
	}
	watch_len = strlen(watch);
}
