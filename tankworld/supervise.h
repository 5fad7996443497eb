/* Supervising one server's three daemons in the foreground, for people who run a
 * server by hand (systemd does this in production). Each daemon runs in a process
 * group of its own, so a Ctrl-C reaches the supervisor alone and the stop is orderly.
 * Its output is read line by line and printed with its name in front. A daemon that
 * dies is started again after a backoff that grows while it keeps dying. */
#ifndef TW_SUPERVISE_H
#define TW_SUPERVISE_H

#include <stdbool.h>
#include <sys/types.h>

/* Room for -c FILE, every --set tankworld takes and adds, and --check-config. */
#define SUP_MAX_ARGS 96
#define SUP_MAX_CHILDREN 8
#define SUP_LINE_MAX 4096
/* systemd's StartLimitBurst and StartLimitIntervalSec in our units: a daemon started
 * this often within this long and dead again is not started once more. */
#define SUP_START_BURST 5
#define SUP_START_INTERVAL 60.0

struct sup_child {
	const char *name;
	char *argv[SUP_MAX_ARGS + 1];
	pid_t pid;
	int out_fd;		 /* read end of its stdout+stderr, -1 when not running */
	char line[SUP_LINE_MAX]; /* a partial line carried between reads */
	size_t line_len;
	double started_at; /* monotonic seconds */
	double restart_at; /* when to start it again, 0 while running */
	double backoff;	   /* seconds before the next restart */
	unsigned restarts;
	double starts[SUP_START_BURST]; /* the last starts (monotonic), a ring */
	unsigned nstarts;		/* starts so far */
};

/* Start a child now. Returns 0 or -errno. */
int sup_start(struct sup_child *c, double now);
/* Read what a child printed; prefixes and prints complete lines. Returns false at EOF. */
bool sup_drain(struct sup_child *c);
/* A child exited with status: log why, and plan its restart with backoff. */
void sup_exited(struct sup_child *c, int status, double now);
/* The backoff after a death: doubles from 0.25 s up to 30 s, and starts over when the
 * child had been up for a minute (a daemon that crashed once after a long run is
 * restarted at once, one that crashes at start does not spin). Exposed for tests. */
double sup_next_backoff(double previous, double uptime);
/* Whether a child that died may not start again: it started SUP_START_BURST times within
 * the last SUP_START_INTERVAL seconds. */
bool sup_start_limited(const struct sup_child *c, double now);
/* Start the n children and supervise them until SIGINT or SIGTERM has stopped them all
 * (SIGKILL after 30 s). SIGHUP is passed on to every child. Children stop in reverse
 * order, so list them in start order. A child past its start limit stops them all too
 * (a server missing a daemon is not one, and a daemon that cannot start, a port taken or
 * a state folder locked, printed its reason every 30 s for ever). Returns 0, or 1 after
 * such a stop. */
int sup_run(struct sup_child *kids, int n);

#endif
