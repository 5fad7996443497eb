/* Tanks as a service: each tank ticks on a thread of its own at its tick rate, and
 * publishes its status after every tick so readers never wait for a tick. */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "simd.h"

static void status_cache_forget(const struct tank_slot *s);

struct tank_slot *tanks_find(struct simd *sd, const char *id)
{
	struct tank_slot *s;
	TAILQ_FOREACH(s, &sd->tanks, link)
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
	slot->status_paused = slot->paused;
	pthread_mutex_unlock(&slot->status_lock);
}

struct tank_slot *tanks_add(struct simd *sd, const struct tank_meta *meta, struct tank *sim,
			    bool paused)
{
	struct tank_slot *s = calloc(1, sizeof *s);
	if (!s)
		abort();
	s->meta = *meta;
	s->sd = sd;
	s->sim = sim;
	s->paused = paused;
	s->tick_rate = sd->daemon->conf.sim.tick_rate;
	pthread_mutex_init(&s->lock, NULL);
	pthread_mutex_init(&s->status_lock, NULL);
	tank_publish_status(s);
	pthread_mutex_lock(&sd->list_lock);
	TAILQ_INSERT_TAIL(&sd->tanks, s, link);
	sd->n_tanks++;
	pthread_mutex_unlock(&sd->list_lock);
	if (!sd->default_tank[0])
		snprintf(sd->default_tank, sizeof sd->default_tank, "%s", meta->id);
	return s;
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

/* Absolute-deadline ticking: a slow tick is followed at once by the next, and if the
 * tank falls more than a second behind it skips ahead rather than racing to catch up. */
static void *tick_main(void *arg)
{
	struct tank_slot *s = arg;
	struct timespec next, now, window_start;
	clock_gettime(CLOCK_MONOTONIC, &next);
	window_start = next;
	long period = (long)(1e9 / s->tick_rate);
	int ticks_in_window = 0;
	while (!s->stop) {
		add_ns(&next, period);
		clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL);
		if (s->stop)
			break;
		pthread_mutex_lock(&s->lock);
		if (!s->paused) {
			tank_step(s->sim);
			ticks_in_window++;
		}
		if (tank_exited_count(s->sim) > 0)
			xfer_collect_exits(s->sd, s);
		tank_publish_status(s);
		pthread_mutex_unlock(&s->lock);
		clock_gettime(CLOCK_MONOTONIC, &now);
		double window = ts_diff(&now, &window_start);
		if (window >= 1.0) {
			pthread_mutex_lock(&s->status_lock);
			s->fps = ticks_in_window / window;
			pthread_mutex_unlock(&s->status_lock);
			ticks_in_window = 0;
			window_start = now;
		}
		if (ts_diff(&now, &next) > 1.0)
			next = now;
	}
	return NULL;
}

void tanks_start(struct simd *sd, struct tank_slot *s)
{
	s->stop = false;
	if (pthread_create(&s->thread, NULL, tick_main, s) != 0)
		fatal("cannot start the tick thread of tank %s", s->meta.id);
	s->thread_started = true;
}

static void stop_thread(struct tank_slot *s)
{
	if (!s->thread_started)
		return;
	s->stop = true;
	pthread_join(s->thread, NULL);
	s->thread_started = false;
}

void tanks_remove(struct simd *sd, struct tank_slot *s)
{
	stop_thread(s);
	status_cache_forget(s);
	pthread_mutex_lock(&sd->list_lock);
	TAILQ_REMOVE(&sd->tanks, s, link);
	sd->n_tanks--;
	pthread_mutex_unlock(&sd->list_lock);
	if (strcmp(sd->default_tank, s->meta.id) == 0) {
		struct tank_slot *first = TAILQ_FIRST(&sd->tanks);
		snprintf(sd->default_tank, sizeof sd->default_tank, "%s", first ? first->meta.id : "");
	}
	tank_free(s->sim);
	pthread_mutex_destroy(&s->lock);
	pthread_mutex_destroy(&s->status_lock);
	free(s);
}

void tanks_stop_all(struct simd *sd)
{
	struct tank_slot *s;
	TAILQ_FOREACH(s, &sd->tanks, link)
		stop_thread(s);
}

size_t tanks_total_fish(struct simd *sd)
{
	size_t n = 0;
	struct tank_slot *s;
	TAILQ_FOREACH(s, &sd->tanks, link) {
		pthread_mutex_lock(&s->status_lock);
		n += (size_t)s->stats.fish_count;
		pthread_mutex_unlock(&s->status_lock);
	}
	return n;
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
	json_object_object_add(o, "max_fish", json_object_new_int(p->max_fish));
	json_object_object_add(o, "seed", json_object_new_uint64(p->seed));
	json_object_object_add(o, "width", json_object_new_int(p->width));
	json_object_object_add(o, "height", json_object_new_int(p->height));
	return o;
}

static json_object *round2(double x)
{
	return json_object_new_double(round(x * 100.0) / 100.0);
}

/* What a TankStatus shows besides the constant metadata, read once. */
struct status_view {
	struct tank_stats st;
	double fps;
	bool paused, running;
	size_t in_transit;
};

static void status_view_read(struct tank_slot *s, struct status_view *v)
{
	memset(v, 0, sizeof *v);
	pthread_mutex_lock(&s->status_lock);
	v->st = s->stats;
	v->fps = s->fps;
	v->paused = s->status_paused;
	pthread_mutex_unlock(&s->status_lock);
	v->running = s->thread_started;
	v->in_transit = transfers_in_transit(s->sd, s->meta.id);
}

static json_object *status_view_json(struct simd *sd, struct tank_slot *s,
				     const struct status_view *v)
{
	const struct tank_stats *st = &v->st;
	/* Parameters never change after creation, so reading them needs no lock. */
	json_object *o = json_object_new_object();
	json_object_object_add(o, "tank", tank_meta_json(&s->meta, tank_get_params(s->sim),
							   sd->daemon->conf.server.server_id));
	json_object_object_add(o, "running", json_object_new_boolean(v->running));
	json_object_object_add(o, "paused", json_object_new_boolean(v->paused));
	json_object_object_add(o, "frame", json_object_new_uint64(st->frame));
	json_object_object_add(o, "fps", json_object_new_double(round(v->fps * 10.0) / 10.0));
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
	json_object_object_add(stats, "total_energy", round2(st->total_energy));
	json_object_object_add(stats, "fish_energy", round2(st->fish_energy));
	json_object_object_add(stats, "plant_energy", round2(st->plant_energy));
	json_object_object_add(stats, "food_count", json_object_new_int(st->food_count));
	json_object_object_add(stats, "plant_count", json_object_new_int(st->plant_count));
	json_object_object_add(stats, "migrations_in", json_object_new_uint64(st->migrations_in));
	json_object_object_add(stats, "migrations_out", json_object_new_uint64(st->migrations_out));
	json_object_object_add(stats, "in_transit", json_object_new_int((int)v->in_transit));
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
 * text is what tank_status_json would print at that moment, byte for byte. Event loop
 * thread only, like every caller of tank_status_json. */
#define STATUS_CACHE_SLOTS 8
static struct status_cache {
	const struct tank_slot *slot;
	struct status_view v;
	char *text;
	size_t len;
} status_cache[STATUS_CACHE_SLOTS];
static unsigned status_cache_next;

static void status_cache_forget(const struct tank_slot *s)
{
	for (int i = 0; i < STATUS_CACHE_SLOTS; i++)
		if (status_cache[i].slot == s) {
			free(status_cache[i].text);
			memset(&status_cache[i], 0, sizeof status_cache[i]);
		}
}

const char *tank_status_text(struct simd *sd, struct tank_slot *s, size_t *len);
const char *tank_status_text(struct simd *sd, struct tank_slot *s, size_t *len)
{
	struct status_view v;
	status_view_read(s, &v);
	struct status_cache *c = NULL;
	for (int i = 0; i < STATUS_CACHE_SLOTS && !c; i++)
		if (status_cache[i].slot == s)
			c = &status_cache[i];
	if (c && memcmp(&c->v, &v, sizeof v) == 0) {
		*len = c->len;
		return c->text;
	}
	if (!c) {
		c = &status_cache[status_cache_next++ % STATUS_CACHE_SLOTS];
		c->slot = s;
	}
	json_object *o = status_view_json(sd, s, &v);
	const char *text = jv_to_string(o);
	size_t n = strlen(text);
	char *copy = malloc(n + 1);
	if (!copy)
		abort();
	memcpy(copy, text, n + 1);
	json_object_put(o);
	free(c->text);
	c->text = copy;
	c->len = n;
	c->v = v;
	*len = n;
	return copy;
}
