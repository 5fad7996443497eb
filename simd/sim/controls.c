/* What a person watching a tank may do to it: drop food and add a fish. Both are inputs
 * like any other call on the tank (deterministic, booked in the energy ledger). */
#include "config.h"

#include <errno.h>
#include <math.h>

#include "simd/sim/internal.h"

int tank_drop_food(struct tank *t, double x, int count)
{
	if (count < 1 || count > 100 || !isfinite(x) || x < 0 || x > t->p.width)
		return -EINVAL;
	int added = 0;
	for (int i = 0; i < count && t->n_food < food_cap(t); i++) {
		/* A small scatter, as flakes dropped from a hand spread out. */
		double fx = clampd(x + rng_range(&t->rng, -30, 30), 5, t->p.width - 5);
		int kind = rng_int(&t->rng, FOOD_ALGAE, FOOD_RARE);
		struct food *fd = food_push(t, kind, fx, rng_range(&t->rng, 0, 20), 0);
		fd->energy = fd->max_energy = food_kind_energy(kind);
		t->flow[EIN_FOOD_SPAWN] += fd->energy;
		added++;
	}
	return added;
}

int tank_add_random_fish(struct tank *t, double x, double y, const char **ret_id)
{
	if (!isfinite(x) || !isfinite(y) || x < 0 || x > t->p.width || y < 0 || y > t->p.height)
		return -EINVAL;
	x = clampd(x, FISH_HALF, t->p.width - FISH_HALF);
	y = clampd(y, FISH_TOP_MARGIN + FISH_HALF, t->p.height - FISH_HALF);
	struct fish *f = tank_spawn_fish(t, x, y);
	if (!f)
		return -ENOSPC;
	lineage_born(t, f);
	events_add(t, SIM_EV_SPAWN, f, -1); /* as every other spawn is */
	if (ret_id)
		*ret_id = f->id;
	return 0;
}
