/* The crab (spec §2.2): a predator walking the bottom. It eats sinking food, and when
 * hungry hunts fish; a fish it touches while its hunt cooldown is over dies. */
#include "config.h"

#include <math.h>
#include <string.h>

#include "simd/sim/internal.h"

#define CRAB_FOOD_SIGHT 100.0
#define CRAB_FISH_SIGHT 80.0
#define CRAB_KILL_GAIN 60.0
#define CRAB_BITE 20.0

void crab_add_random(struct tank *t)
{
	struct rng *r = &t->rng;
	t->crabs = sim_xrealloc(t->crabs, t->n_crabs + 1, sizeof *t->crabs);
	struct crab *c = &t->crabs[t->n_crabs++];
	memset(c, 0, sizeof *c);
	c->id = ++t->crab_serial;
	c->g_speed = rng_range(r, 0.8, 1.2);
	c->g_metabolism = rng_range(r, 0.8, 1.2);
	c->g_energy = rng_range(r, 0.8, 1.2);
	c->x = rng_range(r, 50, t->p.width - 50);
	c->y = t->p.height - CRAB_HALF_H;
	c->vx = (rng_chance(r, 0.5) ? 1 : -1) * 1.5 * c->g_speed;
	c->energy = crab_max_energy(c);
	t->flow[EIN_CRAB_SPAWN] += c->energy;
}

static void crab_eat(struct tank *t, struct crab *c)
{
	const struct grid_item *cand[CRAB_BUDGET];
	size_t nc = grid_near(&t->food_grid, c->x, c->y, CRAB_HALF_W + FOOD_RADIUS, NULL, -1, cand,
			      CRAB_BUDGET);
	for (size_t k = 0; k < nc; k++) {
		const struct grid_item *it = cand[k];
		struct food *fd = &t->food[it->idx];
		if (fd->dead || fabs(fd->x - c->x) > CRAB_HALF_W + FOOD_RADIUS ||
		    fabs(fd->y - c->y) > CRAB_HALF_H + FOOD_RADIUS)
			continue;
		double bite = fmin(CRAB_BITE, fmin(fd->energy, crab_max_energy(c) - c->energy));
		if (!(bite > 0))
			return;
		fd->energy -= bite;
		c->energy += bite;
		if (fd->energy <= 0.1) {
			t->flow[EOUT_FOOD_DECAY] += fd->energy;
			fd->energy = 0;
			fd->dead = true;
		}
		return; /* one bite a frame */
	}
}

void crab_update_all(struct tank *t)
{
	for (size_t i = 0; i < t->n_crabs; i++) {
		struct crab *c = &t->crabs[i];
		double cost = fmin(c->energy, 0.01 * c->g_metabolism);
		c->energy -= cost;
		t->flow[EOUT_CRAB_METABOLISM] += cost;
		if (c->hunt_cooldown > 0)
			c->hunt_cooldown--;
		double speed = 1.5 * c->g_speed, target = NAN, best;

		best = CRAB_FOOD_SIGHT * CRAB_FOOD_SIGHT;
		const struct grid_item *cand[CRAB_BUDGET];
		size_t nc = grid_near(&t->food_grid, c->x, c->y, CRAB_FOOD_SIGHT, NULL, -1, cand,
				      CRAB_BUDGET);
		for (size_t k = 0; k < nc; k++) {
			const struct grid_item *it = cand[k];
			if (t->food[it->idx].dead)
				continue;
			double dx = it->x - c->x, dy = it->y - c->y, d2 = dx * dx + dy * dy;
			if (d2 < best) {
				best = d2;
				target = it->x;
			}
		}
		if (isnan(target) && c->energy < 0.7 * crab_max_energy(c) && c->hunt_cooldown == 0) {
			best = CRAB_FISH_SIGHT * CRAB_FISH_SIGHT;
			nc = grid_near(&t->fish_grid, c->x, c->y, CRAB_FISH_SIGHT, NULL, -1, cand,
				       CRAB_BUDGET);
			for (size_t k = 0; k < nc; k++) {
				const struct grid_item *it = cand[k];
				double dx = it->x - c->x, dy = it->y - c->y, d2 = dx * dx + dy * dy;
				if (d2 < best) {
					best = d2;
					target = it->x;
				}
			}
		}
		if (!isnan(target)) {
			double dx = target - c->x;
			c->vx = fabs(dx) < speed ? dx : (dx > 0 ? speed : -speed);
		} else if (fabs(c->vx) < speed * 0.5) {
			c->vx = c->vx >= 0 ? speed : -speed; /* resume the patrol */
		}
		c->x += c->vx;
		if (c->x < CRAB_HALF_W || c->x > t->p.width - CRAB_HALF_W) {
			c->x = clampd(c->x, CRAB_HALF_W, t->p.width - CRAB_HALF_W);
			c->vx = -c->vx;
		}
		crab_eat(t, c);
	}
}

void crab_collide_fish(struct tank *t)
{
	for (size_t i = 0; i < t->n_crabs; i++) {
		struct crab *c = &t->crabs[i];
		const struct grid_item *cand[CRAB_BUDGET];
		size_t nc = grid_near(&t->fish_grid, c->x, c->y, FISH_HALF + CRAB_HALF_W, NULL, -1,
				      cand, CRAB_BUDGET);
		for (size_t k = 0; k < nc; k++) {
			const struct grid_item *it = cand[k];
			struct fish *f = &t->fish[it->idx];
			if (f->dead || fabs(f->x - c->x) >= FISH_HALF + CRAB_HALF_W ||
			    fabs(f->y - c->y) >= FISH_HALF + CRAB_HALF_H)
				continue;
			f->crab_contact = CRAB_CONTACT_FRAMES;
			memory_remember(&f->mem.danger, c->x, c->y);
			f->g.learned[LEARN_PREDATOR] = fmin(1.0, f->g.learned[LEARN_PREDATOR] + 0.1);
			f->g.epi[EPI_PREDATION] = fmin(1.0, f->g.epi[EPI_PREDATION] + 0.1);
			/* Size against predation: a crab's strike kills a small fish nearly
			 * always and a large one less often (a missed strike costs the crab
			 * its cooldown too); size costs energy every frame. */
			if (c->hunt_cooldown == 0 &&
			    !rng_chance(&t->rng, clampd(2.0 - 1.3 * f->g.t[T_SIZE], 0.25, 1.0))) {
				c->hunt_cooldown = CRAB_HUNT_COOLDOWN;
				continue;
			}
			if (c->hunt_cooldown == 0) {
				double gain = fmin(CRAB_KILL_GAIN,
						   fmin(f->energy, crab_max_energy(c) - c->energy));
				gain = fmax(0.0, gain);
				c->energy += gain;
				t->flow[EOUT_PREDATION] += f->energy - gain;
				f->energy = 0;
				c->hunt_cooldown = CRAB_HUNT_COOLDOWN;
				tank_kill_fish(t, f, DEATH_PREDATION);
			}
		}
	}
}
