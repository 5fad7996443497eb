/* Tanks as a service: each tank ticks on a thread of its own at its tick rate, and
 * publishes its status after every tick so readers never wait for a tick. */
#include "config.h"

#include "history_json.h"

#include <errno.h>
#include <math.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "records.h"
#include "stream.h"
#include "xalloc.h"

static void status_cache_forget(struct tank_slot *s);

struct tank_slot *tanks_find(struct simd *sd, const char *id)
{
	struct tank_slot *s;
	TAILQ_FOREACH (s, &sd->tanks, link)
		if (strcmp(s->meta.id, id) == 0)
			return s;
	return NULL;
}

void tank_publish_status(struct tank_slot *slot)
{
	struct tank_stats st;
	tank_get_stats(slot->sim, &st);
	pthread_mutex_lock(&slot->status_lock);
	slot->stats = st;
	slot->history_have = tank_history_latest(slot->sim, slot->history_row);
	slot->status_paused = slot->paused;
	pthread_mutex_unlock(&slot->status_lock);
}

struct tank_slot *tanks_add(struct simd *sd, const struct tank_meta *meta, struct tank *sim,
			    bool paused)
{
	struct tank_slot *s = xcalloc(1, sizeof *s);
	s->meta = *meta;
	s->sd = sd;
	s->sim = sim;
	s->history_row = xcalloc(sim_history_column_count(), sizeof *s->history_row);
	/* The lineage records of fish born here name this server and date births from the
	 * tank's creation (the core has no clock). */
	tank_set_origin(sim, sd->daemon->conf.server.server_id, meta->created_at);
	s->paused = paused;
	s->tick_rate = sd->daemon->conf.sim.tick_rate;
	s->exit_budget[0] = s->exit_budget[1] = -1; /* walls open as the exits say */
	pthread_mutex_init(&s->lock, NULL);
	cond_init_monotonic(&s->wake);
	pthread_mutex_init(&s->status_lock, NULL);
	s->stream = tank_stream_new(sd->daemon->base);
	gate_init(s, sd->daemon->base);
	/* A set of gates is taken largest tank first (gate_run_set): the one slowest to reach
	 * the end of its tick is waited for while no other tank is held. */
	s->gate_rank = tank_get_params(sim)->max_fish;
	s->added_at = sd->gate_all_seq; /* the sets of every tank begun so far lack it */
	tank_publish_status(s);
	pthread_mutex_lock(&sd->list_lock);
	TAILQ_INSERT_TAIL(&sd->tanks, s, link);
	sd->n_tanks++;
	pthread_mutex_unlock(&sd->list_lock);
	if (!sd->default_tank[0])
		snprintf(sd->default_tank, sizeof sd->default_tank, "%s", meta->id);
	return s;
}

static int by_creation(const void *a, const void *b)
{
	const struct tank_slot *x = *(struct tank_slot *const *)a,
			       *y = *(struct tank_slot *const *)b;
	if (x->meta.created_at != y->meta.created_at)
		return x->meta.created_at < y->meta.created_at ? -1 : 1;
	return strcmp(x->meta.id, y->meta.id);
}

void tanks_order_by_creation(struct simd *sd)
{
	if (!sd->n_tanks)
		return;
	struct tank_slot **v = xcalloc(sd->n_tanks, sizeof *v), *s;
	size_t n = 0;
	TAILQ_FOREACH (s, &sd->tanks, link)
		v[n++] = s;
	qsort(v, n, sizeof *v, by_creation);
	pthread_mutex_lock(&sd->list_lock);
	TAILQ_INIT(&sd->tanks);
	for (size_t i = 0; i < n; i++)
		TAILQ_INSERT_TAIL(&sd->tanks, v[i], link);
	pthread_mutex_unlock(&sd->list_lock);
	/* Said at every start: a simd from before 5 December made the tank found first in
	 * the directory the default, so an upgrade can change it. */
	log_info("default tank: %s (%s), the first created", v[0]->meta.id, v[0]->meta.name);
	snprintf(sd->default_tank, sizeof sd->default_tank, "%s", v[0]->meta.id);
	free(v);
}

/* Tanks are put back in order of creation by this stamp at the start, and the first is
 * the default tank: with the clock set back (a board before NTP), a tank created later
 * sorted first and became the default after a restart. Called on the loop, which alone
 * adds tanks, just before one is added. */
double tanks_creation_stamp(struct simd *sd)
{
	double t = now_wall();
	struct tank_slot *s;
	TAILQ_FOREACH (s, &sd->tanks, link)
		if (t <= s->meta.created_at)
			t = s->meta.created_at + 0.001;
	return t;
}

static void add_ns(struct timespec *t, long ns)
{
	t->tv_nsec += ns;
	while (t->tv_nsec >= 1000000000L) {
		t->tv_nsec -= 1000000000L;
		t->tv_sec++;
	}
}

static double ts_diff(const struct timespec *a, const struct timespec *b)
{
	return (double)(a->tv_sec - b->tv_sec) + (a->tv_nsec - b->tv_nsec) / 1e9;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

#define TICK_RING (sizeof((struct tank_slot *)0)->tick_ring / sizeof(double))

/* Median and 99th percentile of the last ticks' durations (at most TICK_RING of them,
 * about 8 s at 30 ticks/s), published once a second with fps. */
static void tick_stats(const struct tank_slot *s, double *median, double *p99)
{
	double d[TICK_RING];
	size_t n = s->tick_ring_n < TICK_RING ? s->tick_ring_n : TICK_RING;
	*median = *p99 = 0;
	if (n == 0)
		return;
	memcpy(d, s->tick_ring, n * sizeof *d);
	qsort(d, n, sizeof *d, cmp_double);
	*median = d[n / 2];
	size_t k = (size_t)ceil((double)n * 0.99);
	*p99 = d[k > 0 ? k - 1 : 0];
}

/* Absolute-deadline ticking: a slow tick is followed at once by the next, and if the
 * tank falls more than a second behind it skips ahead rather than racing to catch up.
 * A tank that cannot keep its rate thus slows down alone (every tank has its own
 * thread) and says so in its status ("lagging"). */
/* What the tick thread counts between two status windows. */
struct tick_window {
	struct timespec start;
	int ticks;
	bool paused;
};

/* A paused tank does not wake at the tick rate: it sleeps until resumed or stopped (at
 * most a second, to publish its status). Called with the tank's lock held. */
static void wait_while_paused(struct tank_slot *s)
{
	struct timespec until;
	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_sec += 1;
	pthread_cond_timedwait(&s->wake, &s->lock, &until);
}

/* One step, timed: wall time for the tick figures users see; this thread's CPU time for
 * what re-simulating the step costs, whatever else the machine does. */
static void timed_step(struct tank_slot *s)
{
	struct timespec t0, c0, c1, now;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c0);
	tank_step(s->sim);
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c1);
	clock_gettime(CLOCK_MONOTONIC, &now);
	s->resim_cost += ts_diff(&c1, &c0);
	double d = ts_diff(&now, &t0);
	s->tick_ring[s->tick_ring_n++ % TICK_RING] = d;
	s->tick_sum += d;
}

/* Once a second: the rate, the tick time and whether the tank lags, for its status. */
static void close_window(struct tank_slot *s, struct tick_window *w, const struct timespec *now,
			 bool ff)
{
	double window = ts_diff(now, &w->start);
	if (window < 1.0)
		return;
	double med, p99;
	tick_stats(s, &med, &p99);
	pthread_mutex_lock(&s->status_lock);
	s->fps = w->ticks / window;
	s->tick_median = med;
	s->tick_p99 = p99;
	s->tick_seconds = s->tick_sum;
	s->ticks = s->tick_ring_n;
	s->lagging = !ff && !w->paused && s->fps < 0.9 * s->tick_rate;
	pthread_mutex_unlock(&s->status_lock);
	*w = (struct tick_window){.start = *now};
}

static void *tick_main(void *arg)
{
	struct tank_slot *s = arg;
	struct timespec next, now;
	clock_gettime(CLOCK_MONOTONIC, &next);
	struct tick_window w = {.start = next};
	long period = (long)(1e9 / s->tick_rate);
	/* A fast-forward tank ticks back to back. Its thread is a batch thread at a low
	 * priority (the unit's sandbox may refuse; the kernel still shares the CPUs), so the
	 * event loop and the other tanks, which sleep between ticks, take the CPU whenever
	 * they wake. It used to yield after every tick at the lowest priority as well: on a
	 * busy machine each yield gave up the CPU for the others' whole time slice, and the
	 * tank crawled at 45 ticks/s. Its status and stream follow at the normal rate. */
	bool ff = s->meta.fast_forward;
	if (ff) {
		struct sched_param sp = {0};
		(void)pthread_setschedparam(pthread_self(), SCHED_BATCH, &sp);
		(void)setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), 10);
	}
	struct timespec last_publish = next;
	while (!s->stop) {
		/* Between two ticks, changes the loop asked for are made (gate.c). */
		if (!ff)
			add_ns(&next, period);
		gate_sleep(s, ff ? NULL : &next);
		if (s->stop)
			break;
		/* A snapshot or reader waiting for the lock gets it first: mutexes are not
		 * fair, and a tank behind its schedule would relock at once and starve it for
		 * seconds (tanks_lock_fair). */
		for (int i = 0; i < 200 && __atomic_load_n(&s->lock_wanted, __ATOMIC_ACQUIRE); i++)
			usleep(500);
		pthread_mutex_lock(&s->lock);
		if (s->paused && !s->stop) {
			wait_while_paused(s);
			/* then restart its clock rather than race to catch up */
			clock_gettime(CLOCK_MONOTONIC, &next);
		}
		if (!s->paused && !s->stop) {
			timed_step(s);
			w.ticks++;
		} else {
			w.paused = true;
		}
		if (tank_exited_count(s->sim) > 0)
			xfer_collect_exits(s->sd, s);
		store_mark(s->sd, s);
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (!ff || s->paused || ts_diff(&now, &last_publish) >= 1.0 / 30) {
			tank_publish_status(s);
			tank_stream_tick(s->stream, s->sim, &s->stats, s->paused);
			last_publish = now;
		}
		pthread_mutex_unlock(&s->lock);
		clock_gettime(CLOCK_MONOTONIC, &now);
		close_window(s, &w, &now, ff);
		if (ts_diff(&now, &next) > 1.0)
			next = now;
	}
	return NULL;
}

/* A tank that may hold this many fish moves them on two threads (when there are two
 * CPUs): below it one core keeps 30 ticks/s easily and a second thread costs more in
 * hand-offs than it saves. The state is the same either way. */
#define TANK_THREADS_FROM_FISH 20000

void tanks_start(struct simd *sd, struct tank_slot *s)
{
	if (gate_defers_start(sd, s))
		return; /* gate.c starts it once the sets that do not hold it are done */
	s->stop = false;
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	tank_set_threads(s->sim,
			 tank_get_params(s->sim)->max_fish >= TANK_THREADS_FROM_FISH && cpus >= 2
				 ? 2
				 : 1);
	/* The fish of this tank in the outbox keep their slots (max_fish), its plants their
	 * root spots: count them once here, after recovery; transfers.c keeps the counts. */
	pthread_mutex_lock(&s->lock);
	tank_set_in_transit(s->sim, transfers_in_transit_of(sd, s->meta.id, false));
	tank_set_plants_in_transit(s->sim, transfers_in_transit_of(sd, s->meta.id, true));
	/* Budgets are runtime state: walls open as the exits say until migrated's next word,
	 * which may reopen one the tank had closed before the restart (journaled). */
	exitgate_sync(sd, s);
	tank_publish_status(s);
	pthread_mutex_unlock(&s->lock);
	if (pthread_create(&s->thread, NULL, tick_main, s) != 0)
		fatal("cannot start the tick thread of tank %s", s->meta.id);
	s->thread_started = true;
}

static void stop_thread(struct tank_slot *s)
{
	if (!s->thread_started)
		return;
	gate_lock(s);
	s->stop = true;
	pthread_cond_broadcast(&s->wake);
	pthread_mutex_unlock(&s->lock);
	gate_wake(s);
	pthread_join(s->thread, NULL);
	s->thread_started = false;
}

void tanks_free_slot(struct tank_slot *s)
{
	tank_free(s->sim);
	gate_free(s);
	exitgate_free(s);
	pthread_mutex_destroy(&s->lock);
	pthread_cond_destroy(&s->wake);
	pthread_mutex_destroy(&s->status_lock);
	free(s->history_row);
	status_cache_forget(s); /* the loop no longer reaches a removed slot */
	free(s);
}

void tanks_remove(struct simd *sd, struct tank_slot *s)
{
	stop_thread(s);
	gate_after_stop(s, false);
	tank_stream_free(s->stream);
	pthread_mutex_lock(&sd->list_lock);
	TAILQ_REMOVE(&sd->tanks, s, link);
	sd->n_tanks--;
	/* A snapshot round or reader still holding the slot frees it when done with it. */
	bool held = s->hold > 0;
	s->removed = true;
	pthread_mutex_unlock(&sd->list_lock);
	if (strcmp(sd->default_tank, s->meta.id) == 0) {
		struct tank_slot *first = TAILQ_FIRST(&sd->tanks);
		snprintf(sd->default_tank, sizeof sd->default_tank, "%s",
			 first ? first->meta.id : "");
	}
	if (!held)
		tanks_free_slot(s);
}

void tanks_lock_fair(struct tank_slot *s)
{
	__atomic_add_fetch(&s->lock_wanted, 1, __ATOMIC_ACQ_REL);
	pthread_mutex_lock(&s->lock);
	__atomic_sub_fetch(&s->lock_wanted, 1, __ATOMIC_ACQ_REL);
}

void tanks_lock_for_copy(struct tank_slot *s, enum tank_copy what, struct tank_room *room,
			 struct timespec *since)
{
	tanks_lock_fair(s);
	tank_room_size(s->sim, what, room);
	if (!tank_room_empty(room)) {
		pthread_mutex_unlock(&s->lock);
		tank_room_make(room);
		tanks_lock_fair(s);
	}
	clock_gettime(CLOCK_MONOTONIC, since);
}

void tanks_copy_held(struct simd *sd, enum tank_copy what, const struct timespec *since)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	uint64_t ns = (uint64_t)(ts_diff(&now, since) * 1e9);
	uint64_t *max = &sd->copy_held_max_ns[what];
	uint64_t was = __atomic_load_n(max, __ATOMIC_RELAXED);
	while (ns > was && !__atomic_compare_exchange_n(max, &was, ns, false, __ATOMIC_RELAXED,
							__ATOMIC_RELAXED))
		;
}

void tanks_hold(struct simd *sd, struct tank_slot *s)
{
	pthread_mutex_lock(&sd->list_lock);
	s->hold++;
	pthread_mutex_unlock(&sd->list_lock);
}

void tanks_release_locked(struct tank_slot *s)
{
	if (--s->hold == 0 && s->removed)
		tanks_free_slot(s);
}

void tanks_release(struct simd *sd, struct tank_slot *s)
{
	pthread_mutex_lock(&sd->list_lock);
	tanks_release_locked(s);
	pthread_mutex_unlock(&sd->list_lock);
}

/* Building a tank: tank_new spawns every initial fish, which for 100,000 fish takes
 * seconds. It runs on a thread of its own (the core is pure: nothing is shared until
 * the tank is handed over), and the result comes back to the loop through an event. */
#define BUILD_ON_LOOP_MAX 1000 /* initial fish: below this, building takes < 5 ms */

struct tank_build {
	struct simd *sd;
	struct tank_params p;
	char id[TANK_ID_MAX + 1];
	struct tank *t;
	tanks_built_fn done;
	void *arg;
	struct event *ev;
	pthread_t thread;
	struct tank_build *next;
};

static void *build_main(void *arg)
{
	struct tank_build *b = arg;
	b->t = tank_new(&b->p, b->id);
	event_active(b->ev, EV_READ, 0);
	return NULL;
}

static void build_unlink(struct simd *sd, struct tank_build *b)
{
	pthread_mutex_lock(&sd->build_lock);
	for (struct tank_build **pp = &sd->builds; *pp; pp = &(*pp)->next)
		if (*pp == b) {
			*pp = b->next;
			break;
		}
	pthread_mutex_unlock(&sd->build_lock);
}

static void on_built(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct tank_build *b = arg;
	pthread_join(b->thread, NULL);
	build_unlink(b->sd, b);
	event_free(b->ev);
	b->done(b->sd, b->t, b->arg);
	free(b);
}

void tanks_build(struct simd *sd, const struct tank_params *p, const char *tank_id,
		 tanks_built_fn done, void *arg)
{
	if (p->initial_fish <= BUILD_ON_LOOP_MAX) {
		done(sd, tank_new(p, tank_id), arg);
		return;
	}
	struct tank_build *b = xcalloc(1, sizeof *b);
	b->sd = sd;
	b->p = *p;
	snprintf(b->id, sizeof b->id, "%s", tank_id);
	b->done = done;
	b->arg = arg;
	b->ev = event_new(sd->daemon->base, -1, 0, on_built, b);
	if (!b->ev)
		abort();
	pthread_mutex_lock(&sd->build_lock);
	b->next = sd->builds;
	sd->builds = b;
	pthread_mutex_unlock(&sd->build_lock);
	if (pthread_create(&b->thread, NULL, build_main, b) != 0)
		fatal("cannot start a thread to build tank %s", tank_id);
}

/* What a fish costs at peak: 2.9 MB per 1,000 fish at 100,000 (docs/performance.md),
 * and while a snapshot round copies and encodes the tank about four times that (a
 * 1,000,000-fish tank cycled between 4.5 and 11 GB). */
#define FISH_PEAK_BYTES (12 * 1024)

static long long fish_total_limit(const struct conf *c)
{
	if (c->sim.max_fish_total > 0)
		return c->sim.max_fish_total;
	long pages = sysconf(_SC_PHYS_PAGES), size = sysconf(_SC_PAGESIZE);
	if (pages <= 0 || size <= 0)
		return 1000000; /* unknown: one largest tank */
	return (long long)pages * size / FISH_PEAK_BYTES;
}

/* The limits protect the machine, not a fairness: a tank count past them starved the
 * loop and took minutes to stop (2,000 tanks: both cores busy, SIGTERM after 111 s),
 * and one POST /api/tanks of 1,000,000 fish took 11 GB (an adversarial probe). Tanks
 * already saved are never refused at a start. */
int tanks_room(struct simd *sd, int max_fish, const char **which, struct json_err *e)
{
	const struct conf *c = &sd->daemon->conf;
	size_t n = sd->n_tanks;
	long long fish = max_fish;
	struct tank_slot *s;
	TAILQ_FOREACH (s, &sd->tanks, link) /* max_fish is fixed at creation */
		fish += tank_get_params(s->sim)->max_fish;
	pthread_mutex_lock(&sd->build_lock);
	for (struct tank_build *b = sd->builds; b; b = b->next, n++)
		fish += b->p.max_fish;
	pthread_mutex_unlock(&sd->build_lock);
	if (n >= (size_t)c->sim.max_tanks) {
		*which = "too_many_tanks";
		jv_fail(e, "this simd runs %zu tanks, its limit (sim.max_tanks %d)", n,
			c->sim.max_tanks);
		return -ENOSPC;
	}
	long long limit = fish_total_limit(c);
	if (fish > limit) {
		*which = "too_many_fish";
		jv_fail(e,
			"with max_fish %d the tanks would hold up to %lld fish, past this simd's "
			"limit of %lld (sim.max_fish_total%s)",
			max_fish, fish, limit,
			c->sim.max_fish_total > 0 ? "" : " 0: one fish per 12 KiB of memory");
		return -ENOSPC;
	}
	return 0;
}

void tanks_build_shutdown(struct simd *sd)
{
	for (;;) {
		pthread_mutex_lock(&sd->build_lock);
		struct tank_build *b = sd->builds;
		if (b)
			sd->builds = b->next;
		pthread_mutex_unlock(&sd->build_lock);
		if (!b)
			return;
		pthread_join(b->thread, NULL);
		event_free(b->ev);
		tank_free(b->t);
		b->done(sd, NULL, b->arg);
		free(b);
	}
}

void tanks_stop_all(struct simd *sd)
{
	struct tank_slot *s;
	TAILQ_FOREACH (s, &sd->tanks, link) {
		stop_thread(s);
		gate_after_stop(s, true);
	}
}

size_t tanks_count_fish(struct simd *sd, bool public_only, size_t *tanks, size_t *in_transit)
{
	size_t fish = 0, n = 0, moving = 0;
	struct tank_slot *s;
	TAILQ_FOREACH (s, &sd->tanks, link) {
		if (public_only && !s->meta.is_public)
			continue;
		pthread_mutex_lock(&s->status_lock);
		n++;
		fish += (size_t)s->stats.fish_count;
		moving += (size_t)s->stats.in_transit + (size_t)s->stats.plants_in_transit;
		pthread_mutex_unlock(&s->status_lock);
	}
	if (tanks)
		*tanks = n;
	if (in_transit)
		*in_transit = moving;
	return fish;
}

json_object *tank_meta_json(const struct tank_meta *m, const struct tank_params *p,
			    const char *server_id)
{
	char ts[32];
	iso8601_utc(m->created_at, ts);
	json_object *o = json_object_new_object();
	json_object_object_add(o, "tank_id", json_object_new_string(m->id));
	json_object_object_add(o, "name", json_object_new_string(m->name));
	json_object_object_add(o, "description", json_object_new_string(m->description));
	json_object_object_add(o, "created_at", json_object_new_string(ts));
	json_object_object_add(o, "server_id", json_object_new_string(server_id));
	json_object_object_add(o, "is_public", json_object_new_boolean(m->is_public));
	json_object_object_add(o, "allow_transfers", json_object_new_boolean(m->allow_transfers));
	json_object_object_add(o, "fast_forward", json_object_new_boolean(m->fast_forward));
	json_object_object_add(o, "max_fish", json_object_new_int(p->max_fish));
	json_object_object_add(o, "seed", json_object_new_uint64(p->seed));
	json_object_object_add(o, "width", json_object_new_int(p->width));
	json_object_object_add(o, "height", json_object_new_int(p->height));
	return o;
}

/* What a TankStatus shows besides the constant metadata, read once. */
struct status_view {
	struct tank_stats st;
	double fps, tick_median, tick_p99;
	bool paused, running, starting, lagging;
	size_t in_transit;
};

static void status_view_read(struct tank_slot *s, struct status_view *v)
{
	memset(v, 0, sizeof *v);
	pthread_mutex_lock(&s->status_lock);
	v->st = s->stats;
	v->fps = s->fps;
	v->tick_median = s->tick_median;
	v->tick_p99 = s->tick_p99;
	v->lagging = s->lagging;
	v->paused = s->status_paused;
	pthread_mutex_unlock(&s->status_lock);
	v->running = s->thread_started;
	v->starting = s->start_deferred;
	/* Published with the fish count after the same change, so the two always agree. */
	v->in_transit = (size_t)v->st.in_transit;
}

static json_object *status_view_json(struct simd *sd, struct tank_slot *s,
				     const struct status_view *v)
{
	const struct tank_stats *st = &v->st;
	/* Parameters never change after creation, so reading them needs no lock. */
	json_object *o = json_object_new_object();
	json_object_object_add(o, "tank",
			       tank_meta_json(&s->meta, tank_get_params(s->sim),
					      sd->daemon->conf.server.server_id));
	json_object_object_add(o, "running", json_object_new_boolean(v->running));
	/* Not running yet, but will be: created while arrivals were under way, the tank
	 * starts ticking once they are done (gate_defers_start), so it is not "stopped". */
	json_object_object_add(o, "starting", json_object_new_boolean(v->starting));
	json_object_object_add(o, "paused", json_object_new_boolean(v->paused));
	json_object_object_add(o, "frame", json_object_new_uint64(st->frame));
	json_object_object_add(o, "fps", jv_new_decimal(v->fps, 1));
	/* Measured tick time over the last ticks, and whether the tank keeps its rate. */
	json_object *tick = json_object_new_object();
	json_object_object_add(tick, "median_ms", jv_new_decimal(v->tick_median * 1e3, 2));
	json_object_object_add(tick, "p99_ms", jv_new_decimal(v->tick_p99 * 1e3, 2));
	json_object_object_add(tick, "target_rate", json_object_new_double(s->tick_rate));
	json_object_object_add(tick, "lagging", json_object_new_boolean(v->lagging));
	json_object_object_add(o, "tick", tick);
	json_object *stats = json_object_new_object();
	json_object_object_add(stats, "fish_count", json_object_new_int(st->fish_count));
	json_object_object_add(stats, "generation", json_object_new_int(st->generation));
	json_object_object_add(stats, "max_generation", json_object_new_int(st->max_generation));
	json_object_object_add(stats, "births", json_object_new_uint64(st->births));
	json_object_object_add(stats, "deaths", json_object_new_uint64(st->deaths));
	json_object *causes = json_object_new_object();
	for (int c = 0; c < DEATH_CAUSE_COUNT; c++)
		json_object_object_add(causes, death_cause_name(c),
				       json_object_new_uint64(st->deaths_by_cause[c]));
	json_object_object_add(stats, "death_causes", causes);
	json_object_object_add(stats, "total_energy", jv_new_decimal(st->total_energy, 2));
	json_object_object_add(stats, "fish_energy", jv_new_decimal(st->fish_energy, 2));
	json_object_object_add(stats, "plant_energy", jv_new_decimal(st->plant_energy, 2));
	json_object_object_add(stats, "food_count", json_object_new_int(st->food_count));
	json_object_object_add(stats, "plant_count", json_object_new_int(st->plant_count));
	json_object_object_add(stats, "migrations_in", json_object_new_uint64(st->migrations_in));
	json_object_object_add(stats, "migrations_out", json_object_new_uint64(st->migrations_out));
	json_object_object_add(stats, "in_transit", json_object_new_int((int)v->in_transit));
	json_object_object_add(stats, "plant_migrations_in",
			       json_object_new_uint64(st->plant_migrations_in));
	json_object_object_add(stats, "plant_migrations_out",
			       json_object_new_uint64(st->plant_migrations_out));
	json_object_object_add(stats, "plants_in_transit",
			       json_object_new_int(st->plants_in_transit));
	json_object_object_add(stats, "poker_hands", json_object_new_uint64(st->poker_hands));
	json_object_object_add(stats, "poker_energy_moved",
			       jv_new_decimal(st->poker_energy_moved, 2));
	tank_status_add_evolution(stats, st);
	json_object_object_add(o, "stats", stats);
	return o;
}

json_object *tank_status_json(struct simd *sd, struct tank_slot *s)
{
	struct status_view v;
	status_view_read(s, &v);
	return status_view_json(sd, s, &v);
}

/* GET /api/tanks/{id} is the hot read (viewers poll it), and building and printing the
 * JSON was a third of its cost: the text is kept per tank and reused while nothing it
 * shows has changed, which is most requests (the status changes once per tick). The
 * text is what tank_status_json would print at that moment, byte for byte. GET
 * /api/tanks is made of the same texts: built afresh for every tank on every list, 200
 * clients listing 100 tanks at once held the loop for 670 ms (an adversarial probe).
 * Event loop thread only, like every caller of tank_status_json. */
struct status_cache {
	struct status_view v;
	char *text;
	size_t len;
};

static void status_cache_forget(struct tank_slot *s)
{
	if (s->status_text)
		free(s->status_text->text);
	free(s->status_text);
	s->status_text = NULL;
}

const char *tank_status_text(struct simd *sd, struct tank_slot *s, size_t *len)
{
	struct status_view v;
	status_view_read(s, &v);
	struct status_cache *c = s->status_text;
	if (c && memcmp(&c->v, &v, sizeof v) == 0) {
		*len = c->len;
		return c->text;
	}
	if (!c)
		c = s->status_text = xcalloc(1, sizeof *c);
	json_object *o = status_view_json(sd, s, &v);
	const char *text = jv_to_string(o);
	size_t n = strlen(text);
	char *copy = xmalloc(n + 1);
	memcpy(copy, text, n + 1);
	json_object_put(o);
	free(c->text);
	c->text = copy;
	c->len = n;
	c->v = v;
	*len = n;
	return copy;
}

char *tanks_list_text(struct simd *sd, bool include_private, size_t *len)
{
	struct sim_text b = {0};
	size_t count = 0;
	struct tank_slot *s;
	TAILQ_FOREACH (s, &sd->tanks, link)
		count += s->meta.is_public || include_private;
	char head[48];
	sim_text_add(&b, head,
		     (size_t)snprintf(head, sizeof head, "{\"count\":%zu,\"tanks\":[", count));
	bool first = true;
	TAILQ_FOREACH (s, &sd->tanks, link) {
		if (!s->meta.is_public && !include_private)
			continue;
		size_t n;
		const char *text = tank_status_text(sd, s, &n);
		if (!first)
			sim_text_add(&b, ",", 1);
		sim_text_add(&b, text, n);
		first = false;
	}
	/* A private default tank is not named to a reader who cannot list it (it would send
	 * the reader to a 401, and give away the id): the first tank it sees is then. */
	struct tank_slot *def = sd->default_tank[0] ? tanks_find(sd, sd->default_tank) : NULL;
	if (def && !def->meta.is_public && !include_private)
		TAILQ_FOREACH (def, &sd->tanks, link)
			if (def->meta.is_public)
				break;
	json_object *id = def ? json_object_new_string(def->meta.id) : NULL;
	const char *idt = id ? jv_to_string(id) : "null";
	static const char key[] = "],\"default_tank_id\":";
	sim_text_add(&b, key, sizeof key - 1);
	sim_text_add(&b, idt, strlen(idt));
	sim_text_add(&b, "}", 1);
	json_object_put(id);
	*len = b.len;
	return b.p;
}

struct tank_params tanks_default_params(const struct conf *c, uint64_t seed)
{
	struct tank_params p = tank_params_default(seed);
	tank_params_scale_world(&p, c->sim.width, c->sim.height);
	p.max_fish = c->sim.max_fish;
	if (p.initial_fish > p.max_fish)
		p.initial_fish = p.max_fish;
	p.spawn_floor = c->sim.spawn_floor;
	p.history_interval = c->sim.history_interval;
	p.history_size = c->sim.history_size;
	p.lineage_depth = c->sim.lineage_depth;
	return p;
}

int tanks_conf_check(const struct conf *c, char *err, size_t errlen)
{
	struct tank_params p = tanks_default_params(c, 1);
	struct json_err e;
	if (tank_params_check(&p, &e) < 0) {
		snprintf(err, errlen, "[sim] width %d and height %d: %s", c->sim.width,
			 c->sim.height, e.msg);
		return -EINVAL;
	}
	return 0;
}

/* state_dir/sim/public-tanks.json for migrated, which shows a caller without the token
 * only what concerns public tanks, as simd does: their ids, written at the start and
 * when a tank is made or deleted (a tank's privacy is fixed when it is made). migrated
 * takes a local tank it does not find there as private, so a new public tank's
 * creation is answered only once the file names it (done). */
void tanks_publish_public(struct simd *sd, state_written_fn done, void *arg)
{
	json_object *ids = json_object_new_array(), *o = json_object_new_object();
	struct tank_slot *s;
	TAILQ_FOREACH (s, &sd->tanks, link)
		if (s->meta.is_public)
			json_object_array_add(ids, json_object_new_string(s->meta.id));
	json_object_object_add(o, "public", ids);
	const char *text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
	bool changed = !sd->public_last || strcmp(sd->public_last, text) != 0;
	if (changed) {
		free(sd->public_last);
		sd->public_last = xstrdup(text);
	}
	/* Unchanged but awaited: written again, since the last write may not be on disk. */
	if (done)
		state_writer_submit_then(sd->public_tanks, xstrdup(text), strlen(text), done, arg);
	else if (changed)
		state_writer_submit(sd->public_tanks, xstrdup(text), strlen(text));
	json_object_put(o);
}
