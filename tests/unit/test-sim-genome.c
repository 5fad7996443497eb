/* Genome: random creation and inheritance stay in range; mutation happens at the adaptive
 * rate with the adaptive strength; recombination, linked traits, epigenetics, learning and
 * algorithm inheritance behave as the model says (spec §2.3-2.4). */
#include "config.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "simd/sim/internal.h"
#include "tap.h"

static struct rng rng;

static void middle_genome(struct genome *g)
{
	genome_random(g, &rng);
	for (int i = 0; i < TRAIT_COUNT; i++)
		g->t[i] = (trait_defs[i].lo + trait_defs[i].hi) / 2;
	g->t[T_SPEED] = 1.0; /* no linkage shift */
}

/* Two middle parents that differ in one trait. */
static void parents_apart(struct genome *a, struct genome *b, int trait, double va, double vb)
{
	middle_genome(a);
	middle_genome(b);
	a->t[trait] = va;
	b->t[trait] = vb;
}

static void test_random_ranges(void)
{
	bool in_rand = true, valid = true;
	struct json_err e = {""};
	for (int k = 0; k < 3000; k++) {
		struct genome g;
		genome_random(&g, &rng);
		for (int i = 0; i < TRAIT_COUNT; i++)
			in_rand &= g.t[i] >= trait_defs[i].rand_lo &&
				   g.t[i] <= trait_defs[i].rand_hi;
		valid &= genome_check(&g, &e) == 0;
	}
	ok(in_rand, "random traits fall in their creation ranges");
	ok(valid, "random genomes pass validation (%s)", e.msg);
}

static void test_inheritance_in_range(void)
{
	bool valid = true;
	struct json_err e = {""};
	for (int k = 0; k < 20000; k++) {
		struct genome a, b, c;
		genome_random(&a, &rng);
		genome_random(&b, &rng);
		/* push the parents to the clamp edges to stress the clamps */
		if (k % 2) {
			for (int i = 0; i < TRAIT_COUNT; i++) {
				a.t[i] = trait_defs[i].hi;
				b.t[i] = trait_defs[i].lo;
			}
		}
		genome_inherit(&c, &a, &b, k % 3 == 0 ? 0.6 : -1, genome_stress(k % 20), &rng);
		valid &= genome_check(&c, &e) == 0;
		double compat = genome_compatibility(&a, &c, k % 200, (k % 10) / 10.0);
		valid &= compat >= 0 && compat <= 1;
	}
	ok(valid, "20,000 children (edge parents, all stress levels) stay in range (%s)", e.msg);
}

/* Identical parents: any change of a trait is a mutation. */
static void mutation_stats(double stress, double *frac, double *mean, double *sd)
{
	struct genome a, c;
	middle_genome(&a);
	long n = 0, mutated = 0;
	double s = 0, s2 = 0;
	for (int k = 0; k < 6000; k++) {
		genome_inherit(&c, &a, &a, -1, stress, &rng);
		for (int i = 0; i < TRAIT_COUNT; i++) {
			if (i == T_METABOLISM)
				continue; /* linked to speed, tested below */
			double d = c.t[i] - a.t[i];
			n++;
			if (fabs(d) > 1e-9) {
				mutated++;
				s += d;
				s2 += d * d;
			}
		}
	}
	*frac = (double)mutated / n;
	*mean = s / mutated;
	*sd = sqrt(s2 / mutated - *mean * *mean);
}

static void test_mutation_statistics(void)
{
	double frac, mean, sd;
	mutation_stats(0.0, &frac, &mean, &sd);
	is_double(frac, 0.10, 0.01, "no stress: 10%% of traits mutate (%.4f)", frac);
	is_double(mean, 0.0, 0.01, "mutations are unbiased (mean %.4f)", mean);
	is_double(sd, 0.10, 0.012, "no stress: mutation strength 0.10 (sd %.4f)", sd);

	double sfrac, smean, ssd;
	mutation_stats(genome_stress(0), &sfrac, &smean, &ssd);
	is_double(genome_stress(0), 0.8, 1e-12, "an empty tank is at stress 0.8");
	is_double(genome_stress(15), 0.0, 1e-12, "15 fish: no stress");
	is_double(sfrac, 0.26, 0.015, "full stress: 26%% of traits mutate (%.4f)", sfrac);
	ok(ssd > sd * 1.5, "full stress mutates harder (sd %.3f vs %.3f)", ssd, sd);
}

static void test_recombination(void)
{
	struct genome a, b, c;
	parents_apart(&a, &b, T_AGGRESSION, 0.2, 0.8);
	int near_a = 0, near_b = 0, other = 0;
	for (int k = 0; k < 4000; k++) {
		genome_inherit(&c, &a, &b, -1, 0, &rng);
		double v = c.t[T_AGGRESSION];
		if (fabs(v - (0.85 * 0.2 + 0.15 * 0.8)) < 1e-9)
			near_a++;
		else if (fabs(v - (0.15 * 0.2 + 0.85 * 0.8)) < 1e-9)
			near_b++;
		else
			other++;
	}
	ok(abs(near_a - near_b) < 300, "one parent carries 70%%, either parent (%d/%d)", near_a,
	   near_b);
	is_double(other / 4000.0, 0.10, 0.02, "the rest are mutations");

	/* weighted (post-poker) inheritance: 0.6 towards the winner */
	genome_inherit(&c, &a, &b, 0.6, 0, &rng);
	int exact = 0;
	for (int k = 0; k < 1000; k++) {
		genome_inherit(&c, &a, &b, 0.6, 0, &rng);
		exact += fabs(c.t[T_AGGRESSION] - (0.6 * 0.2 + 0.4 * 0.8)) < 1e-9;
	}
	is_double(exact / 1000.0, 0.9, 0.03, "winner-weighted blend 0.6/0.4 when not mutated");
}

static void test_linked_and_epigenetic(void)
{
	struct genome a, c;
	middle_genome(&a);
	a.t[T_SPEED] = 1.4;
	a.t[T_METABOLISM] = 1.0;
	int exact = 0, n = 0;
	for (int k = 0; k < 3000; k++) {
		genome_inherit(&c, &a, &a, -1, 0, &rng);
		if (fabs(c.t[T_SPEED] - 1.4) < 1e-9) {
			n++;
			exact += fabs(c.t[T_METABOLISM] - 1.0) < 1e-9;
		}
	}
	/* The original added 0.2 x (speed - 1) at every birth, which compounded. */
	is_double(exact / (double)n, 0.9, 0.03,
		  "metabolism is inherited as it is, not ratcheted up by speed, unless mutated");

	struct genome b;
	middle_genome(&b);
	a.epi[EPI_STARVATION] = 0.4;
	b.epi[EPI_STARVATION] = 0.2;
	a.epi[EPI_PREDATION] = 0.02;
	b.epi[EPI_PREDATION] = 0.01;
	a.learned[LEARN_FOOD] = 0.8;
	b.learned[LEARN_FOOD] = 0.4;
	genome_inherit(&c, &a, &b, -1, 0, &rng);
	is_double(c.epi[EPI_STARVATION], 0.15, 1e-12, "epigenetic marks: half the parents' mean");
	is_double(c.epi[EPI_PREDATION], 0.0, 0, "faint epigenetic marks (<= 0.01) are dropped");
	is_double(c.learned[LEARN_FOOD], 0.15, 1e-12, "learned behaviour: a quarter is inherited");
}

static void test_algorithm_inheritance(void)
{
	struct genome a, b, c;
	middle_genome(&a);
	middle_genome(&b);
	b.behavior = a.behavior;
	b.poker = a.poker;
	int same = 0, params_ok = 1, poker_same = 0, n = 4000;
	struct json_err e;
	for (int k = 0; k < n; k++) {
		genome_inherit(&c, &a, &b, -1, 0, &rng);
		same += c.behavior.algo == a.behavior.algo;
		poker_same += c.poker.id == a.poker.id;
		params_ok &= behavior_check(&c.behavior, &e) == 0 && poker_check(&c.poker, &e) == 0;
	}
	double expect = 0.95 + 0.05 / algo_count;
	is_double(same / (double)n, expect, 0.015, "the algorithm is kept unless it switches (5%%)");
	is_double(poker_same / (double)n, 0.95 + 0.05 / poker_count, 0.015,
		  "the poker strategy is kept unless it switches (5%%)");
	ok(params_ok, "inherited parameters stay within their bounds");

	/* different parent algorithms: the child copies one of them (or a random new one) */
	do
		behavior_random(&b.behavior, &rng);
	while (b.behavior.algo == a.behavior.algo);
	int from_a = 0, from_b = 0;
	for (int k = 0; k < n; k++) {
		genome_inherit(&c, &a, &b, -1, 0, &rng);
		from_a += c.behavior.algo == a.behavior.algo;
		from_b += c.behavior.algo == b.behavior.algo;
	}
	ok(abs(from_a - from_b) < 250 && from_a + from_b > n * 0.93,
	   "different algorithms: the child takes either parent's (%d/%d)", from_a, from_b);
	ok(algo_count >= 12, "%d behaviour algorithms", algo_count);
	int fam[FAM_COUNT] = {0};
	for (int i = 0; i < algo_count; i++)
		fam[algo_defs[i].family]++;
	bool all = true;
	for (int i = 0; i < FAM_COUNT; i++)
		all &= fam[i] >= 2;
	ok(all, "every one of the 6 families has at least two algorithms");
}

/* Hue is a circle: parents on either side of red have a red child, not a cyan one, and a
 * line of descent walks round the circle instead of stopping at 0 or 1. */
static void test_hue_circle(void)
{
	struct genome a, b, c;
	parents_apart(&a, &b, T_COLOR_HUE, 0.02, 0.98);
	int near_red = 0, in_range = 0, n = 4000;
	for (int k = 0; k < n; k++) {
		genome_inherit(&c, &a, &b, k % 2 ? 0.6 : -1, 0, &rng);
		double h = c.t[T_COLOR_HUE];
		in_range += h >= 0 && h < 1;
		near_red += fmin(h, 1 - h) < 0.1;
	}
	ok(in_range == n, "a child's hue is in [0, 1) (%d of %d)", in_range, n);
	ok(near_red > n * 0.9, "hues 0.02 and 0.98 give a red child (%d of %d within 0.1 of 0)",
	   near_red, n);

	/* One line of descent, each child mated with itself: only mutation moves it. */
	a.t[T_COLOR_HUE] = 0.99;
	int at_edge = 0, low = 0, high = 0, gens = 3000;
	for (int k = 0; k < gens; k++) {
		genome_inherit(&c, &a, &a, -1, 1.0, &rng);
		a.t[T_COLOR_HUE] = c.t[T_COLOR_HUE];
		at_edge += c.t[T_COLOR_HUE] == 0.0 || c.t[T_COLOR_HUE] == 1.0;
		low += c.t[T_COLOR_HUE] < 0.5;
		high += c.t[T_COLOR_HUE] >= 0.5;
	}
	ok(at_edge == 0, "no generation's hue stops at 0 or 1 (%d of %d)", at_edge, gens);
	ok(low > gens / 10 && high > gens / 10,
	   "the line's hue walks round the circle (%d below 0.5, %d above)", low, high);
}

int main(void)
{
	rng_seed(&rng, 2024);
	test_random_ranges();
	test_inheritance_in_range();
	test_mutation_statistics();
	test_recombination();
	test_linked_and_epigenetic();
	test_algorithm_inheritance();
	test_hue_circle();
	return tap_done();
}
