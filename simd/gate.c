/* Changes to a running tank, made on the event loop without waiting for its tick (issue
 * 13, item 0).
 *
 * A tank's tick thread holds the tank's lock for a whole tick: 50 ms and more for a
 * tank of 100,000 fish. A change made on the loop (food, a fish, pause, exits, a
 * reservation, a commit or abort, an arrival, a deletion) took the lock as it came, so
 * the loop, and with it /health and every other tank's answers, waited for the rest of
 * the tick. Now a change goes through the tank's gate. While the tick thread sleeps
 * between two ticks, the loop holds the gate (the thread cannot start a tick then) and
 * makes the change at once. In the middle of a tick, the handler asks for the gate and
 * returns: at the tick's end the thread parks outside the lock and wakes the loop, which
 * runs every change waiting for that tank, in the order they came, and lets the thread
 * go on. The loop never blocks for a tick: it waits only for what a tick does not hold,
 * the short copies of a snapshot or a reader.
 *
 * A change runs at once when nothing ticks the tank (not started yet, stopped, paused:
 * a paused tank's thread sleeps without the lock). A change finds its tank again by id
 * when it runs: the tank may have been deleted by a change before it. */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "simd.h"
#include "xalloc.h"

enum { GATE_OPEN, GATE_ASKED, GATE_HELD };

struct gate_wait {
	gate_fn fn;
	void *arg;
	struct gate_wait *next;
};

static void on_gate(evutil_socket_t fd, short what, void *arg);

void gate_init(struct tank_slot *s, struct event_base *base)
{
	pthread_mutex_init(&s->gate_lock, NULL);
	cond_init_monotonic(&s->gate_cond);
	s->gate_ev = event_new(base, -1, 0, on_gate, s);
	if (!s->gate_ev)
		abort();
}

/* Run (or, with run false, drop) every change waiting, in the order they came, until
 * one keeps the gate (gate_run_set). */
static void run_waiting(struct tank_slot *s, bool run)
{
	struct gate_wait *w;
	while (!s->gate_kept && (w = s->gate_head)) {
		s->gate_head = w->next;
		if (!s->gate_head)
			s->gate_tail = NULL;
		w->fn(w->arg, run);
		free(w);
	}
}

void gate_free(struct tank_slot *s)
{
	run_waiting(s, false);
	event_free(s->gate_ev);
	pthread_cond_destroy(&s->gate_cond);
	pthread_mutex_destroy(&s->gate_lock);
}

/* The tick thread between two ticks: sleep until `until` (NULL: do not sleep), parking
 * outside the tank's lock whenever the loop asks for the gate, until it is done. */
void gate_sleep(struct tank_slot *s, const struct timespec *until)
{
	bool due = false;
	pthread_mutex_lock(&s->gate_lock);
	s->gate_idle = true;
	for (;;) {
		if (s->gate == GATE_ASKED) {
			s->gate = GATE_HELD;
			event_active(s->gate_ev, 0, 0);
		}
		if (s->stop)
			break;
		if (s->gate == GATE_HELD) {
			s->gate_parked = true;
			pthread_cond_wait(&s->gate_cond, &s->gate_lock);
			s->gate_parked = false;
			continue;
		}
		if (due || !until)
			break;
		due = pthread_cond_timedwait(&s->gate_cond, &s->gate_lock, until) == ETIMEDOUT;
	}
	s->gate_idle = false;
	pthread_mutex_unlock(&s->gate_lock);
}

/* Wake a parked or sleeping tick thread that is told to stop. */
void gate_wake(struct tank_slot *s)
{
	pthread_mutex_lock(&s->gate_lock);
	pthread_cond_broadcast(&s->gate_cond);
	pthread_mutex_unlock(&s->gate_lock);
}

/* Loop: let the tick thread go on. Only a thread parked in gate_sleep waits for that; one
 * still asleep there is not woken for nothing (that cost a context switch a change). The
 * hold taken with the gate is let go: a tank deleted meanwhile is freed here. */
static void open_gate(struct tank_slot *s)
{
	pthread_mutex_lock(&s->gate_lock);
	s->gate = GATE_OPEN;
	if (s->gate_parked)
		pthread_cond_broadcast(&s->gate_cond);
	pthread_mutex_unlock(&s->gate_lock);
	tanks_release(s->sd, s);
}

/* Loop, the gate held: run the changes waiting, then let the thread go on, unless one
 * of them keeps the gate. A drain further up the stack (a change that ran a set of gates
 * to its end from inside it) goes on by itself. */
static void drain(struct tank_slot *s)
{
	if (s->gate_draining)
		return;
	s->gate_draining = true;
	run_waiting(s, true);
	s->gate_draining = false;
	if (!s->gate_kept)
		open_gate(s);
}

/* Loop: the tick thread is parked (or gone). */
static void on_gate(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	drain(arg);
}

/* Hold the gate for the loop at once if the tick thread is between two ticks: it cannot
 * leave gate_sleep while the gate is held, and it need not wake for it. */
static bool hold_if_idle(struct tank_slot *s)
{
	pthread_mutex_lock(&s->gate_lock);
	bool held = s->gate_idle && s->gate == GATE_OPEN;
	if (held)
		s->gate = GATE_HELD;
	pthread_mutex_unlock(&s->gate_lock);
	return held;
}

static void enqueue(struct tank_slot *s, gate_fn fn, void *arg)
{
	struct gate_wait *w = xcalloc(1, sizeof *w);
	w->fn = fn;
	w->arg = arg;
	if (s->gate_tail)
		s->gate_tail->next = w;
	else
		s->gate_head = w;
	s->gate_tail = w;
	s->sd->gate_queued++;
}

void gate_run(struct simd *sd, struct tank_slot *s, gate_fn fn, void *arg)
{
	if (s->gate_kept) { /* it runs when the set that keeps the gate is done */
		enqueue(s, fn, arg);
		return;
	}
	if (!s->gate_head && (!s->thread_started || s->paused)) {
		sd->gate_direct++;
		fn(arg, true);
		return;
	}
	/* Most of the time a tank sleeps between ticks (a tick of 1,000 fish takes 0.5 ms
	 * of its 33): then the change is made at once, without waking the thread. Handing
	 * every change over through the thread cost a sixth of the migrations a second
	 * between small ticking tanks. */
	if (!s->gate_head && hold_if_idle(s)) {
		sd->gate_direct++;
		tanks_hold(sd, s); /* a deletion frees the slot only after the gate opens */
		s->gate_draining = true;
		fn(arg, true);
		s->gate_draining = false;
		if (!s->gate_kept)
			drain(s); /* and any change that came meanwhile */
		return;
	}
	enqueue(s, fn, arg);
	pthread_mutex_lock(&s->gate_lock);
	bool ask = s->gate == GATE_OPEN;
	if (ask) {
		s->gate = GATE_ASKED;
		pthread_cond_broadcast(&s->gate_cond); /* a sleeping thread parks at once */
	}
	pthread_mutex_unlock(&s->gate_lock);
	if (ask)
		tanks_hold(sd, s);
}

/* Loop, after the tick thread is joined. A gate asked for and never held is run now; at
 * shutdown, when the loop runs no more, the changes waiting are dropped unanswered (their
 * clients see the connection close, as for any request in flight). */
void gate_after_stop(struct tank_slot *s, bool shutdown)
{
	if (shutdown)
		s->gate_kept = false; /* the set that kept it is dropped with the changes */
	pthread_mutex_lock(&s->gate_lock);
	int was = s->gate;
	if (was == GATE_ASKED || (shutdown && was == GATE_HELD))
		s->gate = shutdown ? GATE_OPEN : GATE_HELD;
	pthread_mutex_unlock(&s->gate_lock);
	if (!shutdown) {
		if (was == GATE_ASKED)
			event_active(s->gate_ev, 0, 0);
		return;
	}
	event_del(s->gate_ev);
	run_waiting(s, false);
	if (was != GATE_OPEN)
		tanks_release(s->sd, s);
}

/* A set of gates, taken one after the other in rank order (largest tank first, then by
 * address): two sets never wait for each other in a cycle, and while a set waits for
 * the largest tank's tick to end it holds no other. Each gate taken is kept: the tank's
 * thread stays parked and its other changes wait until the set is done.
 *
 * A set of every tank (an arrival looks for its fish in each) holds the tanks there were
 * when it began. A tank added while it waits is not taken: taking its gate then, out of
 * rank order, could wait in a cycle with another set. Such a tank does not start ticking
 * until every set that lacks it is done (gate_defers_start), so that no change of the
 * set finds its lock taken by a tick. Sets once let every gate go and began again when
 * they found a new tank: a steady stream of creations could hold an arrival back without
 * end (37 fresh starts in one run of t-simd-gates). Now a set ends after one pass, and a
 * new tank waits at most for the sets under way when it came. */
struct gate_set {
	struct simd *sd;
	gate_fn fn;
	void *arg;
	bool every;   /* every tank of the daemon (gate_run_all), in sd->gate_all_sets */
	uint64_t seq; /* its number among those sets */
	TAILQ_ENTRY(gate_set) link;
	size_t n, held;
	struct tank_slot *slot[];
};

bool gate_defers_start(struct simd *sd, struct tank_slot *s)
{
	const struct gate_set *oldest = TAILQ_FIRST(&sd->gate_all_sets);
	bool defer = oldest && oldest->seq <= s->added_at;
	if (defer && !s->start_deferred)
		sd->gate_starts_deferred++;
	s->start_deferred = defer;
	return defer;
}

/* A set of every tank is done: start the tanks that waited for it (and for no set still
 * under way). At shutdown (run false) nothing starts. */
static void all_set_done(struct gate_set *gs, bool run)
{
	struct simd *sd = gs->sd;
	TAILQ_REMOVE(&sd->gate_all_sets, gs, link);
	if (!run)
		return;
	struct tank_slot *s;
	TAILQ_FOREACH (s, &sd->tanks, link)
		if (s->start_deferred && !gate_defers_start(sd, s))
			tanks_start(sd, s);
}

static int rank_cmp(const void *a, const void *b)
{
	const struct tank_slot *x = *(struct tank_slot *const *)a,
			       *y = *(struct tank_slot *const *)b;
	if (x->gate_rank != y->gate_rank)
		return x->gate_rank > y->gate_rank ? -1 : 1;
	uintptr_t px = (uintptr_t)x, py = (uintptr_t)y;
	return px < py ? -1 : px > py;
}

/* Let the tanks of a set go on. At shutdown (run false) the gates are only unkept:
 * gate_after_stop opens them and drops what waits. */
static void set_end(struct gate_set *gs, bool run)
{
	if (!run)
		gs->fn(gs->arg, false);
	for (size_t i = gs->held; i-- > 0;) {
		struct tank_slot *s = gs->slot[i];
		s->gate_kept = false;
		if (run)
			drain(s);
	}
	for (size_t i = 0; i < gs->n; i++)
		tanks_release(gs->sd, gs->slot[i]);
	if (gs->every)
		all_set_done(gs, run);
	free(gs);
}

static void set_step(void *arg, bool run)
{
	struct gate_set *gs = arg;
	if (!run) {
		set_end(gs, false);
		return;
	}
	struct tank_slot *s = gs->slot[gs->held++];
	/* Run at once because nothing ticks it (gate_run): hold it all the same, so that a
	 * tank resumed meanwhile parks before its next tick. (Asked for and not yet parked
	 * cannot happen with no change waiting; if it did, the ask's hold serves.) */
	pthread_mutex_lock(&s->gate_lock);
	bool open = s->gate == GATE_OPEN;
	s->gate = GATE_HELD;
	pthread_mutex_unlock(&s->gate_lock);
	if (open)
		tanks_hold(gs->sd, s);
	s->gate_kept = true;
	if (gs->held < gs->n) {
		gate_run(gs->sd, gs->slot[gs->held], set_step, gs);
		return;
	}
	gs->fn(gs->arg, true);
	set_end(gs, true);
}

static void set_run(struct simd *sd, struct tank_slot *const *slots, size_t n, bool every,
		    gate_fn fn, void *arg)
{
	if (n == 0) {
		fn(arg, true);
		return;
	}
	struct gate_set *gs = xcalloc(1, sizeof *gs + n * sizeof gs->slot[0]);
	gs->sd = sd;
	gs->fn = fn;
	gs->arg = arg;
	gs->every = every;
	if (every) {
		gs->seq = ++sd->gate_all_seq;
		TAILQ_INSERT_TAIL(&sd->gate_all_sets, gs, link);
	}
	qsort(memcpy(gs->slot, slots, n * sizeof gs->slot[0]), n, sizeof gs->slot[0], rank_cmp);
	for (size_t i = 0; i < n; i++)
		if (i == 0 || gs->slot[i] != gs->slot[gs->n - 1])
			gs->slot[gs->n++] = gs->slot[i];
	/* A tank deleted while the set waits for another stays in memory until the set is
	 * done with it (its changes then find it gone by id). */
	for (size_t i = 0; i < gs->n; i++)
		tanks_hold(sd, gs->slot[i]);
	gate_run(sd, gs->slot[0], set_step, gs);
}

void gate_run_set(struct simd *sd, struct tank_slot *const *slots, size_t n, gate_fn fn, void *arg)
{
	set_run(sd, slots, n, false, fn, arg);
}

void gate_run_all(struct simd *sd, gate_fn fn, void *arg)
{
	struct tank_slot **all = xcalloc(sd->n_tanks + 1, sizeof *all), *s;
	size_t n = 0;
	TAILQ_FOREACH (s, &sd->tanks, link)
		all[n++] = s;
	set_run(sd, all, n, true, fn, arg);
	free(all);
}

void gate_lock(struct tank_slot *s)
{
	if (pthread_mutex_trylock(&s->lock) == 0)
		return;
	/* With the gate held or the tank paused, no tick runs: a snapshot's or a reader's
	 * copy holds the lock, for a moment. Else the tick may hold it, which the gate is
	 * there to avoid. */
	pthread_mutex_lock(&s->gate_lock);
	bool between = s->gate == GATE_HELD || s->paused;
	pthread_mutex_unlock(&s->gate_lock);
	__atomic_add_fetch(&s->sd->loop_lock_waits[between], 1, __ATOMIC_RELAXED);
	pthread_mutex_lock(&s->lock);
}
