/* Timers on the event loop, in seconds held as doubles (as the configuration holds them). */
#ifndef TW_TIMER_H
#define TW_TIMER_H

#include <sys/time.h>

struct event;

/* The timeval of s seconds (s >= 0), to the microsecond. */
struct timeval timer_tv(double s);

/* Arms a persistent timer to fire every period seconds, unless it is already pending
 * with that period. A reload that left the period as it was must leave the timer alone:
 * starting it over at every SIGHUP, reloads more often than the period stopped it for
 * good (simd's snapshot rounds, migrated's passes, discoveryd's and the HTTP server's
 * sweeps; audits found each). *armed holds the period last armed, 0 before the first. */
void timer_every(struct event *ev, double *armed, double period);

#endif
