/* xoshiro256** (Blackman and Vigna, public domain reference algorithm). It is fast, has a
 * 2^256 period and a state small enough to store exactly in a snapshot. */
#include "config.h"

#include <math.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "rng.h"

uint64_t splitmix64(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

void rng_seed(struct rng *r, uint64_t seed)
{
	uint64_t sm = seed;
	for (int i = 0; i < 4; i++)
		r->s[i] = splitmix64(&sm);
	/* An all-zero state would be a fixed point; splitmix64 cannot produce four zeros, but
	 * state from JSON is checked against it too. */
	if (!(r->s[0] | r->s[1] | r->s[2] | r->s[3]))
		r->s[0] = 1;
}

void rng_seed_kernel(struct rng *r)
{
	uint64_t seed;
	if (getrandom(&seed, sizeof seed, 0) != (ssize_t)sizeof seed) {
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		seed = (uint64_t)ts.tv_nsec ^ ((uint64_t)getpid() << 32) ^ (uint64_t)ts.tv_sec;
	}
	rng_seed(r, seed);
}

static inline uint64_t rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

uint64_t rng_next(struct rng *r)
{
	uint64_t *s = r->s;
	uint64_t result = rotl(s[1] * 5, 7) * 9;
	uint64_t t = s[1] << 17;
	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return result;
}

double rng_uniform(struct rng *r)
{
	return (double)(rng_next(r) >> 11) * 0x1.0p-53;
}

double rng_range(struct rng *r, double lo, double hi)
{
	return lo + (hi - lo) * rng_uniform(r);
}

uint64_t rng_below(struct rng *r, uint64_t n)
{
	if (n == 0)
		return 0;
	/* Rejection sampling keeps the draw unbiased for any n. */
	uint64_t limit = UINT64_MAX - UINT64_MAX % n;
	for (;;) {
		uint64_t v = rng_next(r);
		if (v < limit)
			return v % n;
	}
}

int rng_int(struct rng *r, int lo, int hi)
{
	if (hi <= lo)
		return lo;
	return lo + (int)rng_below(r, (uint64_t)((int64_t)hi - lo + 1));
}

double rng_gauss(struct rng *r)
{
	double u1 = rng_uniform(r), u2 = rng_uniform(r);
	if (u1 < 1e-300)
		u1 = 1e-300;
	return sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
}

int rng_chance(struct rng *r, double p)
{
	return rng_uniform(r) < p;
}
