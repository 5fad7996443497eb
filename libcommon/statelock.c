#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "fsutil.h"
#include "log.h"
#include "statelock.h"

/* The directory itself is locked too: a lock file deleted under its owner (by hand, by
 * a cleanup) let a second daemon create another and lock that, and both wrote the same
 * state (a durability audit lost a tank so, 7 December). The directory cannot be
 * replaced under its owner without its state going with it. A file system that cannot
 * lock a directory (flock on NFS needs a file open for writing) keeps the file's lock
 * alone. Returns false when another process holds it. */
static bool lock_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		fatal("cannot open %s: %s", dir, strerror(errno));
	if (flock(fd, LOCK_EX | LOCK_NB) == 0)
		return true; /* fd stays open, and the lock held, until exit */
	int err = errno;
	close(fd);
	if (err == EWOULDBLOCK)
		return false;
	log_notice("cannot lock the directory %s (%s): its lock file alone guards it", dir,
		   strerror(err));
	return true;
}

int state_lock_or_die(const char *dir, const char *daemon_name)
{
	int r = fs_mkdir_p(dir, 0750);
	if (r < 0)
		fatal("cannot create %s: %s", dir, strerror(-r));
	char *path = fs_path_join(dir, "lock");
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0640);
	if (fd < 0)
		fatal("cannot open the lock file %s: %s", path, strerror(errno));
	bool dir_free = lock_dir(dir);
	if (!dir_free || flock(fd, LOCK_EX | LOCK_NB) < 0) {
		if (dir_free && errno != EWOULDBLOCK)
			fatal("cannot lock %s: %s", path, strerror(errno));
		char buf[32] = "";
		ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
		long pid = n > 0 ? strtol(buf, NULL, 10) : 0;
		if (pid > 0)
			fatal("%s is in use by another %s (pid %ld, holding %s); only one %s may own "
			      "a state directory: stop that one first, or give this one another "
			      "server.state_dir",
			      dir, daemon_name, pid, path, daemon_name);
		fatal("%s is in use by another process (it holds the lock on %s); only one %s "
		      "may own a state directory",
		      dir, path, daemon_name);
	}
	/* Ours now: record who we are for the next one's message. */
	char pid[32];
	int len = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
	if (ftruncate(fd, 0) < 0 || pwrite(fd, pid, (size_t)len, 0) != len)
		log_warn("cannot write the pid into %s: %s", path, strerror(errno));
	free(path);
	return fd;
}
