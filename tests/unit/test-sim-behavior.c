/* Behaviour algorithms: every one returns a bounded desire for any percept, food seekers
 * head for food, and memory changes behaviour (food memory and danger zones). */
#include "config.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "simd/sim/internal.h"
#include "tap.h"

static struct percept empty_percept(double energy_ratio)
{
	struct percept pc;
	memset(&pc, 0, sizeof pc);
	pc.food = pc.crab = pc.fish = -1;
	pc.energy_ratio = energy_ratio;
	pc.sep_d = SOCIAL_RADIUS;
	return pc;
}

static struct fish *fish_with(struct tank *t, int algo, double x, double y)
{
	struct fish *f = fish_new_random(t, x, y);
	f->g.behavior.algo = algo;
	const struct algo_def *d = &algo_defs[algo];
	for (int i = 0; i < d->nparams; i++)
		f->g.behavior.p[i] = (d->params[i].lo + d->params[i].hi) / 2;
	for (int i = 0; i < LEARN_COUNT; i++)
		f->g.learned[i] = 0;
	for (int i = 0; i < EPI_COUNT; i++)
		f->g.epi[i] = 0;
	return f;
}

static void test_bounded(struct tank *t)
{
	struct rng *r = &t->rng;
	bool bounded = true, finite = true;
	for (int k = 0; k < 20000; k++) {
		int algo = k % algo_count;
		struct fish *f = fish_with(t, algo, rng_range(r, 30, 1000), rng_range(r, 50, 580));
		behavior_random(&f->g.behavior, r);
		f->g.behavior.algo = algo;
		struct percept pc = empty_percept(rng_uniform(r));
		if (rng_chance(r, 0.7)) {
			pc.food = 0;
			pc.food_dx = rng_range(r, -300, 300);
			pc.food_dy = rng_range(r, -300, 300);
			pc.food_d = sqrt(pc.food_dx * pc.food_dx + pc.food_dy * pc.food_dy);
		}
		if (rng_chance(r, 0.5)) {
			pc.crab = 0;
			pc.crab_dx = rng_range(r, -200, 200);
			pc.crab_dy = rng_range(r, -200, 200);
			pc.crab_d = fmax(1e-6,
					 sqrt(pc.crab_dx * pc.crab_dx + pc.crab_dy * pc.crab_dy));
		}
		if (rng_chance(r, 0.6)) {
			pc.fish = 1;
			pc.fish_dx = rng_range(r, -150, 150);
			pc.fish_dy = rng_range(r, -150, 150);
			pc.fish_d = sqrt(pc.fish_dx * pc.fish_dx + pc.fish_dy * pc.fish_dy);
			pc.fish_energy_ratio = rng_uniform(r);
			pc.n_social = 3;
			pc.coh_x = pc.fish_dx;
			pc.coh_y = pc.fish_dy;
			pc.ali_x = 1;
			pc.sep_x = -0.5;
		}
		if (rng_chance(r, 0.5))
			memory_remember(&f->mem.food, rng_range(r, 0, 1000), rng_range(r, 0, 600));
		if (rng_chance(r, 0.5))
			memory_remember(&f->mem.danger, f->x + 20, f->y + 10);
		double dx, dy;
		behavior_desire(t, f, &f->g.behavior, &pc, &dx, &dy);
		finite &= isfinite(dx) && isfinite(dy);
		bounded &= sqrt(dx * dx + dy * dy) <= 1.0 + 1e-9;
		fish_free(f);
	}
	ok(finite, "every algorithm returns a finite desire");
	ok(bounded, "every algorithm returns a desire of length <= 1");
}

static void test_food_seeking(struct tank *t)
{
	int heads = 0;
	for (int a = 0; a < algo_count; a++) {
		if (algo_defs[a].family != FAM_FOOD)
			continue;
		struct fish *f = fish_with(t, a, 500, 300);
		struct percept pc = empty_percept(0.2); /* hungry */
		pc.food = 0;
		pc.food_dx = 60;
		pc.food_dy = -20;
		pc.food_d = sqrt(60 * 60 + 20 * 20);
		double dx, dy;
		behavior_desire(t, f, &f->g.behavior, &pc, &dx, &dy);
		heads += dx > 0 && dy < 0 && fabs(atan2(dy, dx) - atan2(-20, 60)) < 1e-6;
		fish_free(f);
	}
	is_int(heads, 4, "every food seeker heads straight for visible food when hungry");
}

static void test_memory_changes_behaviour(struct tank *t)
{
	int mem = algo_find("food_memory_seeker"), greedy = algo_find("greedy_food_seeker");
	ok(mem >= 0 && greedy >= 0, "food_memory_seeker and greedy_food_seeker exist");
	/* No food in sight; a strong memory of food to the lower left. */
	struct fish *f = fish_with(t, mem, 500, 300);
	memory_remember(&f->mem.food, 200, 500);
	memory_remember(&f->mem.food, 200, 500); /* reinforced */
	struct percept pc = empty_percept(0.5);
	double dx, dy;
	behavior_desire(t, f, &f->g.behavior, &pc, &dx, &dy);
	double want = atan2(200, -300);
	ok(fabs(atan2(dy, dx) - want) < 1e-6, "the memory seeker swims to remembered food");
	struct fish *g = fish_with(t, greedy, 500, 300);
	g->mem = f->mem;
	g->wander_angle = 0; /* wandering east */
	double gx, gy;
	behavior_desire(t, g, &g->g.behavior, &pc, &gx, &gy);
	ok(fabs(atan2(gy, gx) - want) > 0.3, "a greedy seeker with the same memory ignores it");

	/* Arriving at an empty remembered spot weakens the memory. */
	f->x = 201;
	f->y = 499;
	double before = f->mem.food.e[0].strength;
	behavior_desire(t, f, &f->g.behavior, &pc, &dx, &dy);
	ok(f->mem.food.e[0].strength < before && f->mem.food.e[0].failures == 1,
	   "finding nothing at a remembered spot counts a failure and weakens it");
	fish_free(f);
	fish_free(g);

	int dz = algo_find("danger_zone_avoider");
	f = fish_with(t, dz, 500, 300);
	pc = empty_percept(0.5);
	double nx, ny;
	f->wander_angle = 0;
	behavior_desire(t, f, &f->g.behavior, &pc, &nx, &ny);
	f->wander_angle = 0;
	memory_remember(&f->mem.danger, 560, 300); /* danger just east */
	behavior_desire(t, f, &f->g.behavior, &pc, &dx, &dy);
	ok(dx < nx - 0.1, "a remembered danger zone pushes the avoider away (%.2f < %.2f)", dx, nx);
	fish_free(f);
}

static void test_memory_bank(void)
{
	struct memory_bank m = {0};
	memory_remember(&m, 100, 100);
	memory_remember(&m, 120, 110); /* within 50 px: reinforce and average */
	is_int(m.n, 1, "a nearby sighting reinforces instead of adding");
	is_double(m.e[0].x, 110, 1e-12, "positions are averaged");
	is_double(m.e[0].strength, 0.55, 1e-12, "reinforcement +0.05");
	for (int i = 0; i < 15; i++)
		memory_remember(&m, 200.0 + 100 * i, 300);
	is_int(m.n, MEMORY_SLOTS, "at most %d memories per kind", MEMORY_SLOTS);
	memory_update(&m, 1000);
	ok(m.n == MEMORY_SLOTS && fabs(m.e[0].strength - 0.45) < 1e-9,
	   "strength decays 0.0001/frame");
	memory_update(&m, 900);
	is_int(m.n, 0, "memories older than %d frames are forgotten", MEMORY_MAX_AGE);
}

int main(void)
{
	struct tank_params p = tank_params_default(5);
	p.initial_fish = 0;
	struct tank *t = tank_new(&p, "behavior-test");
	test_bounded(t);
	test_food_seeking(t);
	test_memory_changes_behaviour(t);
	test_memory_bank();
	tank_free(t);
	return tap_done();
}
