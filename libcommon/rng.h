/* xoshiro256** seeded through splitmix64: every tank's own generator (deterministic),
 * and migrated's scheduler (seeded from the kernel).
 * Its whole state is four 64-bit words, so it serializes exactly (as hex in JSON). */
#ifndef TW_RNG_H
#define TW_RNG_H

#include <stdint.h>

struct rng {
	uint64_t s[4];
};

uint64_t splitmix64(uint64_t *state);
void rng_seed(struct rng *r, uint64_t seed);
/* Seeded from the kernel (the clock and pid if getrandom fails): for choices that are
 * not part of any tank's course. */
void rng_seed_kernel(struct rng *r);
uint64_t rng_next(struct rng *r);
/* Uniform in [0, 1) with 53 random bits. */
double rng_uniform(struct rng *r);
/* Uniform in [lo, hi). */
double rng_range(struct rng *r, double lo, double hi);
/* Uniform integer in [0, n), unbiased; 0 when n == 0. */
uint64_t rng_below(struct rng *r, uint64_t n);
/* Uniform integer in [lo, hi] inclusive. */
int rng_int(struct rng *r, int lo, int hi);
/* Standard normal (Box-Muller, no cached spare so the state stays four words). */
double rng_gauss(struct rng *r);
int rng_chance(struct rng *r, double p);

#endif
