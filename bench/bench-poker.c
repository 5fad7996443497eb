/* Poker benchmark: hand evaluations per second, whole hands per second with decisions,
 * and a 100,000-hand tournament between the six strategy families.
 *
 * Tournament: every hand seats one player of each family (parameters drawn anew from the
 * family's creation ranges, aggression as a random fish's), ten big blinds deep with a
 * big blind of 5 energy, the button rotating; the winner pays the house cut of a
 * full-size fish (0.197). It prints each family's win rate (hands with a net gain) and
 * mean energy per hand with its standard error, and fails (exit 1) unless the best and
 * the worst family differ by more than six standard errors: strategies must matter.
 *
 * Last, the tick time of a 10,000-fish tank (bench-sim's world: the original's density
 * at capacity) with the poker hands it plays per tick, to compare with bench-sim's figure
 * from before real poker (docs/poker.md has both). */
#include "config.h"

#include <math.h>
#include <string.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "simd/sim/cards.h"
#include "simd/sim/holdem.h"
#include "simd/sim/internal.h"

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void bench_eval(struct rng *r)
{
	enum { N = 1 << 16 };
	static uint8_t hands[N][7];
	for (int k = 0; k < N; k++) {
		uint8_t deck[52];
		for (int i = 0; i < 52; i++)
			deck[i] = (uint8_t)i;
		for (int i = 0; i < 7; i++) {
			int j = i + (int)rng_below(r, (uint64_t)(52 - i));
			uint8_t x = deck[i];
			deck[i] = deck[j];
			deck[j] = x;
			hands[k][i] = deck[i];
		}
	}
	cards_init();
	uint32_t sink = 0;
	long evals = 0;
	double t0 = now(), t;
	do {
		for (int k = 0; k < N; k++)
			sink += cards_eval(hands[k], 7);
		evals += N;
	} while ((t = now() - t0) < 1.0);
	printf("bench: poker_eval7_per_s %.1f M/s (checksum %u)\n", evals / t / 1e6, sink & 0xff);
}

static void random_style(struct rng *r, int family, struct holdem_style *s)
{
	struct fish f;
	f.g.poker.id = family;
	for (int i = 0; i < POKER_PARAM_COUNT; i++)
		f.g.poker.p[i] = rng_range(r, poker_defs[family].rand_lo[i],
					   poker_defs[family].rand_hi[i]);
	f.g.t[T_AGGRESSION] = rng_uniform(r);
	f.g.learned[LEARN_POKER] = 0;
	poker_fish_style(&f, s);
}

static void bench_hands(struct rng *r, int n)
{
	struct holdem_style st[HOLDEM_MAX_PLAYERS];
	int64_t stacks[HOLDEM_MAX_PLAYERS];
	for (int i = 0; i < n; i++) {
		random_style(r, i % POKER_STRATEGY_COUNT, &st[i]);
		stacks[i] = 50000;
	}
	struct holdem_hand h;
	long hands = 0, actions = 0;
	double t0 = now(), t;
	do {
		for (int k = 0; k < 1000; k++) {
			holdem_play(&h, n, stacks, 5000, (int)(hands % n), st, r);
			actions += h.n_actions;
			hands++;
		}
	} while ((t = now() - t0) < 1.0);
	printf("bench: poker_hands_%dmax_per_s %.0f hands/s (%.1f actions a hand)\n", n, hands / t,
	       (double)actions / hands);
}

static int tournament(struct rng *r, int hands)
{
	int n = POKER_STRATEGY_COUNT;
	double sum[POKER_STRATEGY_COUNT] = {0}, sum2[POKER_STRATEGY_COUNT] = {0};
	long wins[POKER_STRATEGY_COUNT] = {0};
	int64_t stacks[HOLDEM_MAX_PLAYERS];
	for (int i = 0; i < n; i++)
		stacks[i] = 50000;
	const double cut = fmin(0.25, 0.08 + (1.0 - 0.35) * 0.18);
	for (int k = 0; k < hands; k++) {
		struct holdem_style st[HOLDEM_MAX_PLAYERS];
		for (int i = 0; i < n; i++)
			random_style(r, i, &st[i]);
		struct holdem_hand h;
		holdem_play(&h, n, stacks, 5000, k % n, st, r);
		for (int i = 0; i < n; i++) {
			double net = (double)(h.won[i] - h.total[i]) / POKER_CHIPS;
			if (net > 0) {
				net *= 1 - cut;
				wins[i]++;
			}
			sum[i] += net;
			sum2[i] += net * net;
		}
	}
	printf("# tournament: %d hands, six-handed, one player per strategy family\n", hands);
	printf("# %-18s %8s %14s\n", "strategy", "win rate", "energy/hand");
	double best = -1e9, worst = 1e9, se_max = 0;
	for (int i = 0; i < n; i++) {
		double mean = sum[i] / hands, var = sum2[i] / hands - mean * mean;
		double se = sqrt(var / hands);
		printf("# %-18s %7.1f%% %+8.3f ± %.3f\n", poker_defs[i].name,
		       100.0 * wins[i] / hands, mean, 1.96 * se);
		printf("bench: poker_tournament_%s_energy_per_hand %.3f energy\n",
		       poker_defs[i].name, mean);
		printf("bench: poker_tournament_%s_win_rate %.3f\n", poker_defs[i].name,
		       (double)wins[i] / hands);
		best = fmax(best, mean);
		worst = fmin(worst, mean);
		se_max = fmax(se_max, se);
	}
	if (best - worst <= 6 * se_max) {
		fprintf(stderr, "bench-poker: strategies do not differ measurably (%.3f vs %.3f)\n",
			best, worst);
		return 1;
	}
	return 0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static void bench_tank(int n)
{
	struct tank_params p = tank_params_default(42);
	double k = sqrt(n / 100.0);
	tank_params_scale_world(&p, (int)lround(1088 * k), (int)lround(612 * k));
	p.max_fish = n;
	p.initial_fish = n;
	struct tank *t = tank_new(&p, "bench-tank");
	for (int i = 0; i < 10; i++)
		tank_step(t);
	struct tank_stats s0, s1;
	tank_get_stats(t, &s0);
	enum { MAX_TICKS = 1000 };
	static double dt[MAX_TICKS];
	int ticks = 0;
	double start = now();
	while (ticks < MAX_TICKS && (ticks < 5 || now() - start < 3.0)) {
		double t0 = now();
		tank_step(t);
		dt[ticks++] = now() - t0;
	}
	tank_get_stats(t, &s1);
	qsort(dt, (size_t)ticks, sizeof *dt, cmp_double);
	printf("bench: poker_tank_%d_tick_median %.2f ms (%.1f poker hands a tick, %d ticks)\n", n,
	       dt[ticks / 2] * 1e3, (double)(s1.poker_hands - s0.poker_hands) / ticks, ticks);
	tank_free(t);
}

int main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	struct rng r;
	rng_seed(&r, 20261201);
	bench_eval(&r);
	bench_hands(&r, 2);
	bench_hands(&r, 6);
	int rc = tournament(&r, 100000);
	bench_tank(10000);
	return rc;
}
