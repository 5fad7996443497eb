/* Fish entering and leaving a tank: the hooks simd's exactly-once migration builds on
 * (DESIGN §6). A fish keeps its id and every field; arrivals are not births and departures
 * are not deaths. */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <string.h>
#include <sys/types.h>

#include "simd/sim/internal.h"

struct fish *tank_adopt_fish(struct tank *t, struct fish *f)
{
	sim_grow((void **)&t->fish, &t->cap_fish, t->n_fish + 1, sizeof *t->fish);
	struct fish *slot = &t->fish[t->n_fish++];
	*slot = *f;
	fish_free(f);
	/* The key of the fish's random streams: FNV-1a of its id. */
	uint64_t h = 1469598103934665603ULL;
	for (const char *c = slot->id; *c; c++)
		h = (h ^ (unsigned char)*c) * 1099511628211ULL;
	slot->key = h;
	fishidx_added(t, t->n_fish - 1);
	return slot;
}

static ssize_t find_index(const struct tank *t, const char *id)
{
	/* The index is a cache: building it does not change the tank's state. */
	return fishidx_find((struct tank *)t, id);
}

size_t tank_fish_count(const struct tank *t)
{
	return t->n_fish;
}

const struct fish *tank_fish_at(const struct tank *t, size_t i)
{
	return i < t->n_fish ? &t->fish[i] : NULL;
}

const struct fish *tank_find_fish(const struct tank *t, const char *id)
{
	ssize_t i = id ? find_index(t, id) : -1;
	return i < 0 ? NULL : &t->fish[i];
}

int tank_take_fish(struct tank *t, const char *id, struct fish **ret)
{
	ssize_t i = id ? find_index(t, id) : -1;
	if (i < 0)
		return -ENOENT;
	struct fish *f = fish_clone(&t->fish[i]);
	fishidx_taken(t, (size_t)i);
	/* The fish keep their order (a swap would change the tank's course). */
	memmove(&t->fish[i], &t->fish[i + 1], (t->n_fish - (size_t)i - 1) * sizeof *t->fish);
	t->n_fish--;
	t->flow[EOUT_MIGRATION] += f->energy;
	t->migrations_out++;
	events_add(t, SIM_EV_MIGRATION_OUT, f, -1);
	lineage_stamp(t, f);
	*ret = f;
	return 0;
}

const char *tank_pick_fish(struct tank *t)
{
	if (t->n_fish == 0)
		return NULL;
	return t->fish[rng_below(&t->rng, t->n_fish)].id;
}

static bool id_listed(const char *id, const char *const *ids, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(ids[i], id) == 0)
			return true;
	return false;
}

const char *tank_pick_fish_except(const struct tank *t, struct rng *rng, const char *const *except,
				  size_t n_except)
{
	if (t->n_fish == 0)
		return NULL;
	/* Rejection keeps the draw uniform over the fish not listed; the list is the few
	 * fish that arrived in one migration pass, so a draw rarely hits it. A tank of
	 * (nearly) only listed fish ends in a scan from a random start. */
	for (int tries = 0; tries < 64; tries++) {
		const char *id = t->fish[rng_below(rng, t->n_fish)].id;
		if (!id_listed(id, except, n_except))
			return id;
	}
	size_t start = rng_below(rng, t->n_fish);
	for (size_t k = 0; k < t->n_fish; k++) {
		const char *id = t->fish[(start + k) % t->n_fish].id;
		if (!id_listed(id, except, n_except))
			return id;
	}
	return NULL;
}

static bool id_known(const struct tank *t, const char *id)
{
	if (find_index(t, id) >= 0)
		return true;
	for (size_t i = 0; i < t->n_exited; i++)
		if (strcmp(t->exited[i].f->id, id) == 0)
			return true;
	return false;
}

static void place(struct tank *t, struct fish *f, enum wall arrival)
{
	double top = FISH_TOP_MARGIN + FISH_HALF, bottom = t->p.height - FISH_HALF;
	f->y = clampd(f->y, top, bottom);
	if (arrival == WALL_LEFT) {
		f->x = ARRIVAL_INSET;
		f->vx = fabs(f->vx);
	} else if (arrival == WALL_RIGHT) {
		f->x = t->p.width - ARRIVAL_INSET;
		f->vx = -fabs(f->vx);
	} else {
		f->x = clampd(f->x, FISH_HALF, t->p.width - FISH_HALF);
	}
	f->dead = 0;
	f->exited = 0;
}

int tank_put_fish(struct tank *t, struct fish *f, enum wall arrival)
{
	if (!f)
		return -EINVAL;
	if (tank_full(t))
		return -ENOSPC;
	return tank_readmit_fish(t, f, arrival);
}

int tank_readmit_fish(struct tank *t, struct fish *f, enum wall arrival)
{
	if (!f)
		return -EINVAL;
	if (id_known(t, f->id))
		return -EEXIST;
	place(t, f, arrival);
	t->flow[EIN_MIGRATION] += f->energy;
	t->migrations_in++;
	events_add(t, SIM_EV_MIGRATION_IN, f, (int)arrival);
	lineage_arrived(t, f);
	tank_note_generation(t, f);
	tank_adopt_fish(t, f);
	return 0;
}

int tank_return_fish_at(struct tank *t, struct fish *f, enum wall left_by)
{
	if (!f)
		return -EINVAL;
	if (id_known(t, f->id))
		return -EEXIST;
	/* No capacity check: its slot stayed reserved while it was away. Placed as if it
	 * arrived through the wall it left by: inside it, heading away from it. */
	place(t, f, left_by);
	t->flow[EOUT_MIGRATION] -= f->energy;
	events_add(t, SIM_EV_MIGRATION_RETURNED, f, -1);
	lineage_arrived(t, f);
	tank_note_generation(t, f);
	tank_adopt_fish(t, f);
	if (t->migrations_out > 0)
		t->migrations_out--;
	return 0;
}

void tank_set_in_transit(struct tank *t, size_t n)
{
	t->in_transit = n;
}

size_t tank_in_transit(const struct tank *t)
{
	return t->in_transit;
}

bool tank_has_room(const struct tank *t)
{
	return !tank_full(t);
}

void tank_set_exit(struct tank *t, enum wall w, bool open)
{
	if (w == WALL_LEFT || w == WALL_RIGHT)
		t->exit[w] = open;
}

bool tank_get_exit(const struct tank *t, enum wall w)
{
	return (w == WALL_LEFT || w == WALL_RIGHT) && t->exit[w];
}

size_t tank_take_exited(struct tank *t, struct fish **out, enum wall *walls, size_t max)
{
	size_t k = max < t->n_exited ? max : t->n_exited;
	for (size_t i = 0; i < k; i++) {
		out[i] = t->exited[i].f;
		if (walls)
			walls[i] = t->exited[i].wall;
	}
	if (k == 0)
		return 0;
	memmove(t->exited, t->exited + k, (t->n_exited - k) * sizeof *t->exited);
	t->n_exited -= k;
	return k;
}

size_t tank_exited_count(const struct tank *t)
{
	return t->n_exited;
}
