/* Timers on the event loop (timer.h). */
#include "config.h"

#include <event2/event.h>

#include "timer.h"

struct timeval timer_tv(double s)
{
	return (struct timeval){(time_t)s, (suseconds_t)((s - (double)(time_t)s) * 1e6)};
}

void timer_every(struct event *ev, double *armed, double period)
{
	if (period == *armed && event_pending(ev, EV_TIMEOUT, NULL))
		return;
	*armed = period;
	struct timeval tv = timer_tv(period);
	event_del(ev);
	event_add(ev, &tv);
}
