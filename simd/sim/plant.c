/* Fractal plants (spec §2.2): rooted on spots along the bottom, they grow from light
 * (photosynthesis, the tank's second energy source), make nectar when well fed, wither
 * when starved, and spread when a fish eats their nectar. The L-system shape is the
 * viewer's business; the genome carries its parameters. */
#include "config.h"

#include <math.h>
#include <string.h>

#include "simd/sim/internal.h"

const struct trait_def plant_trait_defs[PLANT_TRAIT_COUNT] = {
	[PT_ANGLE] = {"angle", 15, 45, 10, 60},
	[PT_LENGTH_RATIO] = {"length_ratio", 0.55, 0.8, 0.4, 0.9},
	[PT_BRANCH_PROBABILITY] = {"branch_probability", 0.6, 1.0, 0.3, 1.0},
	[PT_CURVE_FACTOR] = {"curve_factor", 0.0, 0.3, 0.0, 0.5},
	[PT_COLOR_HUE] = {"color_hue", 0.2, 0.45, 0.0, 1.0},
	[PT_COLOR_SATURATION] = {"color_saturation", 0.5, 1.0, 0.2, 1.0},
	[PT_STEM_THICKNESS] = {"stem_thickness", 0.7, 1.3, 0.5, 1.5},
	[PT_LEAF_DENSITY] = {"leaf_density", 0.3, 0.9, 0.1, 1.0},
	[PT_AGGRESSION] = {"aggression", 0.2, 0.8, 0.0, 1.0},
	[PT_BLUFF_FREQUENCY] = {"bluff_frequency", 0.05, 0.3, 0.0, 0.5},
	[PT_RISK_TOLERANCE] = {"risk_tolerance", 0.2, 0.8, 0.0, 1.0},
	[PT_BASE_ENERGY_RATE] = {"base_energy_rate", 0.02, 0.05, 0.01, 0.08},
	[PT_GROWTH_EFFICIENCY] = {"growth_efficiency", 0.8, 1.2, 0.6, 1.4},
	[PT_NECTAR_THRESHOLD] = {"nectar_threshold_ratio", 0.6, 0.9, 0.6, 0.9},
};
const char *const plant_fractal_names[PLANT_FRACTAL_TYPES] = {"lsystem_fern", "bush", "tree",
							      "cosmic_fern", "willow"};

#define PLANT_DEATH_ENERGY 5.0
#define SPROUT_ENERGY 10.0
#define SPROUT_REACH 4 /* root spots either side of the parent */

double plant_size(const struct plant *p)
{
	return 0.3 + 0.7 * fmin(1.0, p->energy / plant_max_energy(p));
}

double spot_x(const struct tank *t, int spot)
{
	return (spot + 0.5) * t->p.width / t->p.root_spots;
}

double spot_y(const struct tank *t)
{
	return t->p.height - 10.0;
}

bool spot_blocked(const struct tank *t, int spot)
{
	/* The castle stands on the bottom near the left wall and covers the spots under it. */
	double x = spot_x(t, spot);
	return x >= CASTLE_X && x <= CASTLE_X + CASTLE_W;
}

static void plant_genome_random(struct plant_genome *g, struct rng *r)
{
	g->fractal_type = rng_int(r, 0, PLANT_FRACTAL_TYPES - 1);
	for (int i = 0; i < PLANT_TRAIT_COUNT; i++)
		g->t[i] = rng_range(r, plant_trait_defs[i].rand_lo, plant_trait_defs[i].rand_hi);
}

static struct plant *plant_push(struct tank *t, int spot)
{
	sim_grow((void **)&t->plants, &t->cap_plants, t->n_plants + 1, sizeof *t->plants);
	struct plant *p = &t->plants[t->n_plants++];
	memset(p, 0, sizeof *p);
	p->serial = t->plant_serial++;
	ids_make(t->id, ID_DOMAIN_PLANT, p->serial, p->id);
	p->spot = spot;
	t->spot_plant[spot] = (int)(t->n_plants - 1);
	return p;
}

void plant_add_random(struct tank *t, int spot, double energy)
{
	struct plant *p = plant_push(t, spot);
	plant_genome_random(&p->g, &t->rng);
	p->energy = fmin(energy, plant_max_energy(p));
	t->flow[EIN_PLANT_SPAWN] += p->energy;
}

void plants_reindex(struct tank *t)
{
	for (int i = 0; i < t->p.root_spots; i++)
		t->spot_plant[i] = -1;
	for (size_t i = 0; i < t->n_plants; i++)
		if (!t->plants[i].dead)
			t->spot_plant[t->plants[i].spot] = (int)i;
}

static bool spot_free(const struct tank *t, int s)
{
	return s >= 0 && s < t->p.root_spots && t->spot_plant[s] < 0 && !spot_blocked(t, s);
}

void plant_update_all(struct tank *t)
{
	for (size_t i = 0; i < t->n_plants; i++) {
		struct plant *p = &t->plants[i];
		if (p->dead)
			continue;
		p->age++;
		if (p->poker_cooldown > 0)
			p->poker_cooldown--;
		if (p->nectar_cooldown > 0)
			p->nectar_cooldown--;
		/* Neighbours on adjacent spots shade each other. */
		int shade = (p->spot > 0 && t->spot_plant[p->spot - 1] >= 0) +
			    (p->spot + 1 < t->p.root_spots && t->spot_plant[p->spot + 1] >= 0);
		double max = plant_max_energy(p);
		double gain = p->g.t[PT_BASE_ENERGY_RATE] * (1.0 + sqrt(p->energy / max) * 0.5) *
			      t->activity *
			      (shade == 1   ? 0.75
			       : shade == 2 ? 0.5
					    : 1.0) *
			      (p->g.fractal_type == PLANT_COSMIC_FERN ? 1.1 : 1.0);
		gain = fmax(0.0, fmin(gain, max - p->energy));
		p->energy += gain;
		t->flow[EIN_PHOTOSYNTHESIS] += gain;
		if (p->energy / max >= p->g.t[PT_NECTAR_THRESHOLD] && p->nectar_cooldown == 0 &&
		    p->energy > NECTAR_ENERGY + PLANT_DEATH_ENERGY && t->n_food < food_cap(t)) {
			/* Nectar is paid for by the plant, not made from nothing. */
			double top = spot_y(t) - 65.0 * plant_size(p);
			struct food *fd = food_push(t, FOOD_NECTAR, spot_x(t, p->spot), top,
						    NECTAR_ENERGY);
			fd->source_spot = p->spot;
			fd->source_plant = p->serial;
			p->energy -= NECTAR_ENERGY;
			p->nectar_cooldown = NECTAR_COOLDOWN;
			p->nectar_produced++;
		}
		if (p->energy < PLANT_DEATH_ENERGY) {
			t->flow[EOUT_PLANT_DEATH] += p->energy;
			p->energy = 0;
			p->dead = true;
			t->spot_plant[p->spot] = -1;
		}
	}
}

bool plant_sprout(struct tank *t, const struct food *nectar)
{
	struct plant *parent = NULL;
	size_t pi = 0;
	for (size_t i = 0; i < t->n_plants; i++)
		if (!t->plants[i].dead && t->plants[i].serial == nectar->source_plant) {
			parent = &t->plants[i];
			pi = i;
			break;
		}
	/* Spots held for this tank's plants in transit are not free (plant_move.c). */
	if (!parent || parent->energy < SPROUT_ENERGY + PLANT_DEATH_ENERGY ||
	    plant_free_spots(t) <= 0)
		return false;
	int spot = -1;
	for (int d = 1; d <= SPROUT_REACH && spot < 0; d++) {
		if (spot_free(t, parent->spot - d))
			spot = parent->spot - d;
		else if (spot_free(t, parent->spot + d))
			spot = parent->spot + d;
	}
	if (spot < 0)
		return false;
	struct plant *c = plant_push(t, spot);
	parent = &t->plants[pi]; /* plant_push may have moved the array */
	c->g = parent->g;
	struct rng *r = &t->rng;
	for (int i = 0; i < PLANT_TRAIT_COUNT; i++) {
		const struct trait_def *d = &plant_trait_defs[i];
		if (rng_chance(r, 0.3))
			c->g.t[i] += rng_gauss(r) * 0.1 * (d->hi - d->lo);
		c->g.t[i] = clampd(c->g.t[i], d->lo, d->hi);
	}
	if (rng_chance(r, 0.05))
		c->g.fractal_type = rng_int(r, 0, PLANT_FRACTAL_TYPES - 1);
	c->generation = parent->generation + 1;
	memcpy(c->parent_id, parent->id, UUID_STR_LEN);
	parent->energy -= SPROUT_ENERGY;
	c->energy = fmin(SPROUT_ENERGY, plant_max_energy(c));
	t->flow[EOUT_OVERFLOW] += SPROUT_ENERGY - c->energy;
	return true;
}

int plant_check(const struct plant *p, int nspots, struct json_err *e)
{
	if (!ids_valid(p->id) || (p->parent_id[0] && !ids_valid(p->parent_id)))
		return jv_fail(e, "plant ids must be UUIDs");
	if (p->spot < 0 || p->spot >= nspots)
		return jv_fail(e, "plant root_spot out of range");
	if (p->g.fractal_type < 0 || p->g.fractal_type >= PLANT_FRACTAL_TYPES)
		return jv_fail(e, "plant fractal_type out of range");
	for (int i = 0; i < PLANT_TRAIT_COUNT; i++) {
		const struct trait_def *d = &plant_trait_defs[i];
		if (!isfinite(p->g.t[i]) || p->g.t[i] < d->lo || p->g.t[i] > d->hi)
			return jv_fail(e, "plant %s must be in [%g, %g]", d->name, d->lo, d->hi);
	}
	if (!isfinite(p->energy) || p->energy < 0 || p->energy > plant_max_energy(p))
		return jv_fail(e, "plant energy must be in [0, max_energy]");
	if (p->age < 0 || p->generation < 0 || p->poker_cooldown < 0 ||
	    p->poker_cooldown > PLANT_POKER_COOLDOWN || p->nectar_cooldown < 0 ||
	    p->nectar_cooldown > NECTAR_COOLDOWN || p->poker_wins < 0 || p->poker_losses < 0 ||
	    p->nectar_produced < 0)
		return jv_fail(e, "plant counters out of range");
	return 0;
}
