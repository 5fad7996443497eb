/* Evolution, short: a default tank runs until its fish are more than 10 generations from
 * the founders; it never dies out, and the gene pool drifts away from the founders'. */
#include "config.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "sim-test.h"
#include "tap.h"

static const char *const traits[] = {"speed_modifier",	"size_modifier", "vision_range",
				     "metabolism_rate", "max_energy",	 "aggression",
				     "social_tendency", "color_hue"};
#define NTRAITS (sizeof traits / sizeof traits[0])

static void trait_means(const struct tank *t, double *m)
{
	size_t n = tank_fish_count(t);
	for (size_t i = 0; i < NTRAITS; i++) {
		m[i] = 0;
		for (size_t k = 0; k < n; k++)
			m[i] += fish_trait(tank_fish_at(t, k), traits[i]);
		m[i] /= n ? n : 1;
	}
}

int main(void)
{
	struct tank_params p = tank_params_default(2025);
	struct tank *t = tank_new(&p, "evolution");
	double start[NTRAITS], end[NTRAITS];
	trait_means(t, start);
	int max_frames = 60000, frames = 0, min_fish = 1 << 30;
	struct tank_stats s;
	do {
		for (int i = 0; i < 300; i++, frames++)
			tank_step(t);
		tank_get_stats(t, &s);
		if (s.fish_count < min_fish)
			min_fish = s.fish_count;
	} while (s.max_generation <= 10 && frames < max_frames);
	/* a little longer, so the descendants dominate the pool */
	for (int i = 0; i < 3000; i++, frames++) {
		tank_step(t);
		if (frames % 300 == 0) {
			tank_get_stats(t, &s);
			if (s.fish_count < min_fish)
				min_fish = s.fish_count;
		}
	}
	tank_get_stats(t, &s);
	printf("# %d frames: %d fish, generation %d (mean %.1f, max ever %d), %llu births, "
	       "%llu deaths (%llu starved, %llu eaten, %llu old), %llu spawns\n",
	       frames, s.fish_count, s.generation, s.generation_mean, s.max_generation,
	       (unsigned long long)s.births, (unsigned long long)s.deaths,
	       (unsigned long long)s.deaths_by_cause[DEATH_STARVATION],
	       (unsigned long long)s.deaths_by_cause[DEATH_PREDATION],
	       (unsigned long long)s.deaths_by_cause[DEATH_OLD_AGE], (unsigned long long)s.spawns);
	ok(s.max_generation > 10, "generations rise past 10 (%d within %d frames)",
	   s.max_generation, frames);
	ok(min_fish > 0 && s.fish_count > 0, "the tank never dies out (at least %d fish)", min_fish);
	ok(s.births > s.spawns, "most fish are born, not spawned (%llu born, %llu spawned)",
	   (unsigned long long)s.births, (unsigned long long)s.spawns);
	/* Emergency spawns keep adding generation-0 fish (the original's rule), so the mean
	 * stays well below the maximum. */
	ok(s.generation_mean > 1.0, "the living fish are mostly descendants (mean generation %.1f)",
	   s.generation_mean);
	trait_means(t, end);
	double drift = 0;
	for (size_t i = 0; i < NTRAITS; i++) {
		drift += fabs(end[i] - start[i]);
		printf("# %-16s %.3f -> %.3f\n", traits[i], start[i], end[i]);
	}
	ok(drift / NTRAITS > 0.03, "trait means drift from the founders' (mean |shift| %.3f)",
	   drift / NTRAITS);
	ok(s.deaths_by_cause[DEATH_STARVATION] > 0 && s.deaths_by_cause[DEATH_OLD_AGE] > 0,
	   "fish die of hunger and of old age");
	ok(ledger_error(t) < 1e-9 && population_balanced(t), "the books still balance");
	tank_free(t);
	return tap_done();
}
