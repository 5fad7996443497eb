/* The tank RNG and fish ids: determinism, ranges, distribution, id format and uniqueness. */
#include "config.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "simd/sim/internal.h"
#include "tap.h"

static void test_rng(void)
{
	struct rng a, b;
	rng_seed(&a, 12345);
	rng_seed(&b, 12345);
	bool same = true;
	for (int i = 0; i < 1000; i++)
		same &= rng_next(&a) == rng_next(&b);
	ok(same, "same seed, same stream");
	rng_seed(&b, 12346);
	int equal = 0;
	for (int i = 0; i < 1000; i++)
		equal += rng_next(&a) == rng_next(&b);
	ok(equal == 0, "a different seed gives a different stream");

	rng_seed(&a, 7);
	double sum = 0, sum2 = 0, lo = 1, hi = 0;
	int n = 200000, below_ok = 1, int_ok = 1, counts[6] = {0};
	for (int i = 0; i < n; i++) {
		double u = rng_uniform(&a);
		lo = fmin(lo, u);
		hi = fmax(hi, u);
		sum += u;
		uint64_t k = rng_below(&a, 7);
		below_ok &= k < 7;
		int v = rng_int(&a, -2, 3);
		int_ok &= v >= -2 && v <= 3;
		if (v >= -2 && v <= 3)
			counts[v + 2]++;
	}
	ok(lo >= 0 && hi < 1, "uniform stays in [0, 1)");
	is_double(sum / n, 0.5, 0.005, "uniform mean is 1/2");
	ok(below_ok, "rng_below(7) < 7");
	ok(int_ok, "rng_int(-2, 3) stays in range");
	bool flat = true;
	for (int i = 0; i < 6; i++)
		flat &= fabs(counts[i] / (double)n - 1 / 6.0) < 0.01;
	ok(flat, "rng_int is flat over its range");

	sum = sum2 = 0;
	for (int i = 0; i < n; i++) {
		double g = rng_gauss(&a);
		sum += g;
		sum2 += g * g;
	}
	is_double(sum / n, 0, 0.01, "gauss mean 0");
	is_double(sum2 / n, 1, 0.02, "gauss variance 1");
	is_int(rng_below(&a, 0), 0, "rng_below(0) is 0");
}

static void test_ids(void)
{
	char a[UUID_STR_LEN], b[UUID_STR_LEN], c[UUID_STR_LEN];
	ids_make("tank-1", ID_DOMAIN_FISH, 0, a);
	ids_make("tank-1", ID_DOMAIN_FISH, 0, b);
	is_str(a, b, "ids are a pure function of (tank, domain, serial)");
	ok(ids_valid(a), "the id is a UUID: %s", a);
	ok(a[14] == '8', "version nibble 8");
	ok(strchr("89ab", a[19]) != NULL, "variant bits 10");
	ids_make("tank-2", ID_DOMAIN_FISH, 0, c);
	ok(strcmp(a, c) != 0, "another tank mints another id for the same serial");
	ids_make("tank-1", ID_DOMAIN_PLANT, 0, c);
	ok(strcmp(a, c) != 0, "plant ids differ from fish ids");

	/* 20,000 ids of two tanks: no collision (sorted, then compared neighbour to neighbour). */
	enum { N = 10000 };
	static char ids[2 * N][UUID_STR_LEN];
	for (int i = 0; i < N; i++) {
		ids_make("tank-1", ID_DOMAIN_FISH, (uint64_t)i, ids[i]);
		ids_make("tank-2", ID_DOMAIN_FISH, (uint64_t)i, ids[N + i]);
	}
	qsort(ids, 2 * N, UUID_STR_LEN, (int (*)(const void *, const void *))strcmp);
	int dup = 0, valid = 1;
	for (int i = 0; i < 2 * N; i++) {
		valid &= ids_valid(ids[i]);
		if (i && strcmp(ids[i - 1], ids[i]) == 0)
			dup++;
	}
	ok(valid, "every id is a valid UUID");
	is_int(dup, 0, "no duplicate among 20,000 ids");
	ok(!ids_valid("not-a-uuid") && !ids_valid(""), "ids_valid rejects non-UUIDs");
}

int main(void)
{
	test_rng();
	test_ids();
	return tap_done();
}
