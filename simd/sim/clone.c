/* A copy of a tank for readers (issue 13): simd takes it under the tank's lock and
 * serializes it without the lock, so a snapshot costs the tick one memcpy of the arrays
 * instead of the whole JSON encoding. */
#include "config.h"

#include <string.h>

#include "simd/sim/internal.h"

/* n items into the room's array if it holds them, else into a new one. */
static void *take_array(struct sim_room *room, const void *src, size_t n, size_t elem, size_t *cap)
{
	void *p = sim_room_take(room, n, elem, cap);
	if (n)
		memcpy(p, src, n * elem);
	return p;
}

static void *dup_array(const void *src, size_t n, size_t elem, size_t *cap)
{
	struct sim_room none = {0};
	return take_array(&none, src, n, elem, cap);
}

void tank_room_size(const struct tank *t, enum tank_copy what, struct tank_room *r)
{
	*r = (struct tank_room){.since = r->since, .limit = r->limit};
	if (what == TANK_COPY_ENTITIES) {
		entities_room_size(t, &r->rows);
		return;
	}
	if (what == TANK_COPY_LINEAGE) {
		lineage_pick_room_size(t, r->limit, &r->picks, &r->living);
		return;
	}
	if (what == TANK_COPY_STRATEGIES) {
		strategies_room_size(t, &r->strats);
		return;
	}
	if (what == TANK_COPY_HISTORY) {
		history_room_size(t, r->since, r->limit, &r->hist);
		return;
	}
	sim_room_size(&r->fish, t->n_fish);
	sim_room_size(&r->food, t->n_food);
	sim_room_size(&r->lin, t->lin.n);
	/* The history (up to history_size rows, 10,000 by default: megabytes) and the
	 * event ring (4,096 events, 0.7 MB) are copied whole: sized exactly, as they do not
	 * grow within a few ticks but at a sample or never. */
	if (t->hist.rows)
		r->hist.cap = t->hist.cap * sim_history_column_count();
	if (t->events.e)
		r->events.cap = EVENTS_SIZE;
}

void tank_room_make(struct tank_room *r)
{
	if (r->fish.cap)
		sim_room_make(&r->fish, sizeof(struct fish));
	if (r->food.cap)
		sim_room_make(&r->food, sizeof(struct food));
	if (r->lin.cap)
		sim_room_make(&r->lin, sizeof(struct lineage_rec));
	if (r->hist.cap)
		sim_room_make(&r->hist, sizeof(double));
	if (r->events.cap)
		sim_room_make(&r->events, sizeof(struct sim_event_rec));
	if (r->rows.cap)
		entities_room_make(&r->rows);
	if (r->picks.cap)
		lineage_pick_room_make(&r->picks, &r->living);
	if (r->strats.cap)
		strategies_room_make(&r->strats);
}

bool tank_room_empty(const struct tank_room *r)
{
	return !(r->fish.cap | r->food.cap | r->lin.cap | r->hist.cap | r->events.cap |
		 r->rows.cap | r->picks.cap | r->living.cap | r->strats.cap);
}

void tank_room_free(struct tank_room *r)
{
	sim_room_free(&r->fish);
	sim_room_free(&r->food);
	sim_room_free(&r->lin);
	sim_room_free(&r->hist);
	sim_room_free(&r->events);
	sim_room_free(&r->rows);
	sim_room_free(&r->picks);
	sim_room_free(&r->living);
	sim_room_free(&r->strats);
}

struct tank *tank_clone(const struct tank *t)
{
	struct tank_room none = {0};
	return tank_clone_in(t, &none);
}

struct tank *tank_clone_in(const struct tank *t, struct tank_room *r)
{
	struct tank *c = sim_xcalloc(1, sizeof *c);
	/* Scalars and counters; every pointer is replaced below (a new pointer field of
	 * struct tank must be handled here too, unless it is a frame's working buffer: those
	 * belong in struct tank_work, which the copy starts without). */
	*c = *t;
	c->fish = take_array(&r->fish, t->fish, t->n_fish, sizeof *t->fish, &c->cap_fish);
	c->food = take_array(&r->food, t->food, t->n_food, sizeof *t->food, &c->cap_food);
	c->plants = dup_array(t->plants, t->n_plants, sizeof *t->plants, &c->cap_plants);
	size_t cap_crabs;
	c->crabs = dup_array(t->crabs, t->n_crabs, sizeof *t->crabs, &cap_crabs);
	c->exited = dup_array(t->exited, t->n_exited, sizeof *t->exited, &c->cap_exited);
	for (size_t i = 0; i < t->n_exited; i++)
		c->exited[i].f = fish_clone(t->exited[i].f);
	/* Newborns wait only within a frame; between frames there are none, and the
	 * copy takes none of the frame's other buffers either. */
	memset(&c->work, 0, sizeof c->work);
	memset(&c->fish_grid, 0, sizeof c->fish_grid);
	memset(&c->food_grid, 0, sizeof c->food_grid);
	c->spot_plant = NULL;
	/* The poker log is observation only, never serialized: the copy has none. */
	c->poker_log = NULL;
	c->poker_log_next = c->poker_log_n = 0;
	c->id_index = NULL;
	c->id_index_cap = 0;
	c->id_index_valid = false;
	c->pool = NULL;
	c->threads = 1;
	/* History and events are serialized: the copy carries its own (hist.cap and the
	 * ring's size stay the tank's; the room may be larger). */
	size_t got;
	if (t->hist.rows)
		c->hist.rows = take_array(&r->hist, t->hist.rows,
					  t->hist.cap * sim_history_column_count(),
					  sizeof *t->hist.rows, &got);
	if (t->events.e)
		c->events.e = take_array(&r->events, t->events.e, EVENTS_SIZE, sizeof *t->events.e,
					 &got);
	lineage_copy(&c->lin, &t->lin, &r->lin);
	tank_init_derived(c);
	return c;
}
