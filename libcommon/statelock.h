/* One owner per state directory: a daemon holds an exclusive flock on a lock file in
 * its part of the state, and on that directory, for as long as it runs, so a second
 * copy started by mistake on the same state (other sockets, other ports) refuses to
 * start instead of serving the same fish twice. The lock file holds the owner's pid, for the message only: the lock
 * itself is the flock, which the kernel drops when the owner dies, even by kill -9. */
#ifndef TW_STATELOCK_H
#define TW_STATELOCK_H

/* Lock dir/lock or exit through fatal() naming the holder. Returns the descriptor,
 * which stays open (and locked) until exit. */
int state_lock_or_die(const char *dir, const char *daemon_name);

#endif
