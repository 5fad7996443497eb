/* The fish genome (spec §2.3): continuous traits with random and clamp ranges, discrete
 * template and pattern, mate preferences, epigenetic marks, learned behaviours and the
 * three evolvable algorithms. Inheritance is recombination plus adaptive mutation. */
#include "config.h"

#include <math.h>

#include "simd/sim/internal.h"

const struct trait_def trait_defs[TRAIT_COUNT] = {
	[T_SPEED] = {"speed_modifier", 0.7, 1.3, 0.5, 1.5},
	[T_SIZE] = {"size_modifier", 0.7, 1.3, 0.7, 1.3},
	[T_VISION] = {"vision_range", 0.7, 1.3, 0.7, 1.3},
	[T_METABOLISM] = {"metabolism_rate", 0.7, 1.3, 0.7, 1.3},
	[T_MAX_ENERGY] = {"max_energy", 0.7, 1.5, 0.7, 1.5},
	[T_FERTILITY] = {"fertility", 0.6, 1.4, 0.6, 1.4},
	[T_AGGRESSION] = {"aggression", 0.0, 1.0, 0.0, 1.0},
	[T_SOCIAL] = {"social_tendency", 0.0, 1.0, 0.0, 1.0},
	[T_COLOR_HUE] = {"color_hue", 0.0, 1.0, 0.0, 1.0},
	[T_FIN_SIZE] = {"fin_size", 0.6, 1.4, 0.6, 1.4},
	[T_TAIL_SIZE] = {"tail_size", 0.6, 1.4, 0.6, 1.4},
	[T_BODY_ASPECT] = {"body_aspect", 0.7, 1.3, 0.7, 1.3},
	[T_EYE_SIZE] = {"eye_size", 0.7, 1.3, 0.7, 1.3},
	[T_PATTERN_INTENSITY] = {"pattern_intensity", 0.0, 1.0, 0.0, 1.0},
};

const char *const mate_pref_names[PREF_COUNT] = {"prefer_similar_size", "prefer_different_color",
						 "prefer_high_energy", "prefer_high_fitness"};
const char *const epi_names[EPI_COUNT] = {"starvation_stress", "predation_stress"};
const char *const learn_names[LEARN_COUNT] = {"food_finding", "predator_avoidance",
					      "poker_confidence"};

/* Bounds of the non-trait genome parts (learned poker confidence may be negative). */
static const double learn_lo[LEARN_COUNT] = {0.0, 0.0, -1.0};

double genome_stress(int fish_count)
{
	if (fish_count >= TARGET_POPULATION)
		return 0.0;
	return 0.8 * (1.0 - (double)fish_count / TARGET_POPULATION);
}

void genome_random(struct genome *g, struct rng *r)
{
	for (int i = 0; i < TRAIT_COUNT; i++)
		g->t[i] = rng_range(r, trait_defs[i].rand_lo, trait_defs[i].rand_hi);
	g->template_id = rng_int(r, 0, TEMPLATE_MAX);
	g->pattern_type = rng_int(r, 0, PATTERN_MAX);
	for (int i = 0; i < PREF_COUNT; i++)
		g->mate_pref[i] = 0.5;
	for (int i = 0; i < EPI_COUNT; i++)
		g->epi[i] = 0.0;
	for (int i = 0; i < LEARN_COUNT; i++)
		g->learned[i] = 0.0;
	behavior_random(&g->behavior, r);
	behavior_random(&g->poker_behavior, r);
	poker_random(&g->poker, r);
}

/* Blend one continuous value: recombination (one parent's value carries 70 %, the mean of
 * both the rest) or, after poker, a weighted average towards the winner a. */
static double blend(double a, double b, double w, struct rng *r)
{
	if (w < 0) {
		double pick = rng_chance(r, 0.5) ? a : b;
		return pick * 0.7 + (a + b) * 0.15;
	}
	return w * a + (1.0 - w) * b;
}

static double mutate(double v, double rate, double strength, double lo, double hi, struct rng *r)
{
	if (rng_chance(r, rate))
		v += rng_gauss(r) * strength;
	return clampd(v, lo, hi);
}

/* Hue is a colour circle: 0 and 1 are the same red. Blending it as a line would take
 * the mean of 0.05 and 0.95 to cyan, and clamping a mutation would pile hues up at 0
 * and 1 (one seed of twenty ended there). So b is first moved to within half a turn of
 * a, and the result wraps into [0, 1). The RNG draws are the ones blend and mutate make. */
static double inherit_hue(double a, double b, double w, double rate, double strength, struct rng *r)
{
	b = a + remainder(b - a, 1.0);
	double v = blend(a, b, w, r);
	if (rng_chance(r, rate))
		v += rng_gauss(r) * strength;
	v -= floor(v);
	return v < 1.0 ? v : 0.0; /* floor leaves 1.0 for a v a hair below 0 */
}

static int inherit_discrete(int a, int b, double w, double rate, int max, struct rng *r)
{
	int v = rng_chance(r, w < 0 ? 0.5 : w) ? a : b;
	if (rng_chance(r, rate))
		v += rng_int(r, -1, 1);
	return clampi(v, 0, max);
}

void genome_inherit(struct genome *c, const struct genome *a, const struct genome *b, double w,
		    double stress, struct rng *r)
{
	double rate = fmin(0.4, 0.1 * (1.0 + 2.0 * stress));
	double strength = fmin(0.25, 0.1 * (1.0 + 1.5 * stress));

	for (int i = 0; i < TRAIT_COUNT; i++) {
		if (i == T_COLOR_HUE) {
			c->t[i] = inherit_hue(a->t[i], b->t[i], w, rate, strength, r);
			continue;
		}
		c->t[i] = mutate(blend(a->t[i], b->t[i], w, r), rate, strength, trait_defs[i].lo,
				 trait_defs[i].hi, r);
	}
	/* The original linked speed to metabolism by adding (speed - 1) x 0.2 to the child's
	 * metabolism at every birth, which compounds over generations and drives metabolism
	 * to its ceiling. Here speed costs energy where it is used (fish_move), once. */
	c->template_id = inherit_discrete(a->template_id, b->template_id, w, rate, TEMPLATE_MAX, r);
	c->pattern_type = inherit_discrete(a->pattern_type, b->pattern_type, w, rate, PATTERN_MAX,
					   r);
	for (int i = 0; i < PREF_COUNT; i++)
		c->mate_pref[i] = mutate(blend(a->mate_pref[i], b->mate_pref[i], w, r), rate,
					 strength, 0, 1, r);
	for (int i = 0; i < EPI_COUNT; i++) {
		double v = (a->epi[i] + b->epi[i]) * 0.5 * 0.5;
		c->epi[i] = fabs(v) <= 0.01 ? 0.0 : v;
	}
	for (int i = 0; i < LEARN_COUNT; i++)
		c->learned[i] = (a->learned[i] + b->learned[i]) * 0.5 * 0.25;
	double switch_rate = w < 0 ? 0.05 : 0.03;
	behavior_inherit(&c->behavior, &a->behavior, &b->behavior, w, switch_rate, r);
	behavior_inherit(&c->poker_behavior, &a->poker_behavior, &b->poker_behavior, w, switch_rate,
			 r);
	poker_inherit(&c->poker, &a->poker, &b->poker, w, switch_rate, r);
}

double genome_compatibility(const struct genome *s, const struct genome *m, double mate_fitness,
			    double mate_energy_ratio)
{
	double fit = fmin(1.0, fmax(0.0, mate_fitness) / 100.0);
	double size_sim = 1.0 - fabs(s->t[T_SIZE] - m->t[T_SIZE]) / 0.6;
	double dh = fabs(s->t[T_COLOR_HUE] - m->t[T_COLOR_HUE]);
	double color_diff = fmin(dh, 1.0 - dh) * 2.0;
	double variance = 0;
	for (int i = 0; i < TRAIT_COUNT; i++)
		variance += fabs(s->t[i] - m->t[i]) / (trait_defs[i].hi - trait_defs[i].lo);
	variance = fmin(1.0, 2.0 * variance / TRAIT_COUNT);
	/* A preference of 0.5 (the default) weighs its criterion as the original did. */
	double c = 0.3 * fit * 2 * s->mate_pref[PREF_HIGH_FITNESS] +
		   0.2 * size_sim * 2 * s->mate_pref[PREF_SIMILAR_SIZE] +
		   0.2 * color_diff * 2 * s->mate_pref[PREF_DIFFERENT_COLOR] + 0.3 * variance;
	c = fmin(1.0, c);
	c += 0.2 * mate_energy_ratio * 2 * s->mate_pref[PREF_HIGH_ENERGY];
	return clampd(c, 0.0, 1.0);
}

static int check_range(struct json_err *e, const char *what, double v, double lo, double hi)
{
	if (!isfinite(v) || v < lo || v > hi)
		return jv_fail(e, "%s must be a number in [%g, %g]", what, lo, hi);
	return 0;
}

int genome_check(const struct genome *g, struct json_err *e)
{
	int r;
	for (int i = 0; i < TRAIT_COUNT; i++)
		if ((r = check_range(e, trait_defs[i].name, g->t[i], trait_defs[i].lo,
				     trait_defs[i].hi)) < 0)
			return r;
	if (g->template_id < 0 || g->template_id > TEMPLATE_MAX)
		return jv_fail(e, "template_id out of range");
	if (g->pattern_type < 0 || g->pattern_type > PATTERN_MAX)
		return jv_fail(e, "pattern_type out of range");
	for (int i = 0; i < PREF_COUNT; i++)
		if ((r = check_range(e, mate_pref_names[i], g->mate_pref[i], 0, 1)) < 0)
			return r;
	for (int i = 0; i < EPI_COUNT; i++)
		if ((r = check_range(e, epi_names[i], g->epi[i], 0, 1)) < 0)
			return r;
	for (int i = 0; i < LEARN_COUNT; i++)
		if ((r = check_range(e, learn_names[i], g->learned[i], learn_lo[i], 1)) < 0)
			return r;
	if ((r = behavior_check(&g->behavior, e)) < 0 ||
	    (r = behavior_check(&g->poker_behavior, e)) < 0 || (r = poker_check(&g->poker, e)) < 0)
		return r;
	return 0;
}

/* Crossing two parents' parameters of the same algorithm (behaviour or poker
 * strategy): weighted towards the winner (w >= 0, post-poker mating), else each
 * parameter half the time the parents' mean and half the time one parent's value
 * (original §2.4). */
void cross_params(struct rng *r, double *c, const double *a, const double *b, int n, double w)
{
	for (int i = 0; i < n; i++) {
		if (w >= 0)
			c[i] = w * a[i] + (1 - w) * b[i];
		else if (rng_chance(r, 0.5))
			c[i] = (a[i] + b[i]) * 0.5;
		else
			c[i] = rng_chance(r, 0.5) ? a[i] : b[i];
	}
}
