/* Issue 13: a tank's state does not depend on how many threads tick it, a copy serializes
 * like the original, the fish-id index finds every fish, and a crowded tank's frame stays
 * cheap (its poker tables and neighbour queries are capped). SEED=... picks the first seed. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "simd/sim/internal.h"
#include "sim-test.h"
#include "tap.h"

static struct tank *make(uint64_t seed, int n, bool dense)
{
	struct tank_params p = tank_params_default(seed);
	if (!dense)
		tank_params_scale_world(&p, 1088 * 4,
					612 * 4); /* room for n at the default density */
	p.max_fish = n;
	p.initial_fish = n;
	return tank_new(&p, "threads-tank");
}

static uint64_t run(uint64_t seed, int n, bool dense, int threads, int frames)
{
	struct tank *t = make(seed, n, dense);
	tank_set_threads(t, threads);
	for (int i = 0; i < frames; i++)
		tank_step(t);
	uint64_t h = tank_state_hash(t);
	tank_free(t);
	return h;
}

int main(void)
{
	const char *env = getenv("SEED");
	uint64_t seed0 = env ? strtoull(env, NULL, 0) : 13;
	printf("# seed %llu (set SEED=... to change)\n", (unsigned long long)seed0);

	/* 1 and 2 threads: the same hash, sparse and dense. The pool only splits work of at
	 * least 1,024 fish, and sorts the fish grid in parts from 4,096 fish, so these tanks
	 * are large enough to use both. */
	struct {
		int n;
		bool dense;
		int frames;
	} cases[] = {{1200, false, 1000},
		     {1200, false, 1000},
		     {1200, false, 1000},
		     {2000, true, 1000},
		     {5000, false, 300}};
	for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
		uint64_t seed = seed0 + k;
		uint64_t h1 = run(seed, cases[k].n, cases[k].dense, 1, cases[k].frames);
		uint64_t h2 = run(seed, cases[k].n, cases[k].dense, 2, cases[k].frames);
		ok(h1 == h2,
		   "seed %llu, %d fish%s: 1 and 2 threads agree after %d frames "
		   "(%016llx %016llx)",
		   (unsigned long long)seed, cases[k].n,
		   cases[k].dense ? " in the default world" : "", cases[k].frames,
		   (unsigned long long)h1, (unsigned long long)h2);
	}

	/* A copy serializes exactly like the tank, and continues like it. */
	struct tank *t = make(seed0, 1500, false);
	for (int i = 0; i < 200; i++)
		tank_step(t);
	struct tank *c = tank_clone(t);
	ok(tank_state_hash(c) == tank_state_hash(t), "a clone has the tank's state hash");
	for (int i = 0; i < 50; i++) {
		tank_step(t);
		tank_step(c);
	}
	ok(tank_state_hash(c) == tank_state_hash(t), "and ticks on identically");

	/* The id index: every fish is found at its position, through births, deaths and the
	 * periodic spatial sort; a taken fish is gone; unknown ids are not found. */
	bool all = true;
	for (int f = 0; f < 100 && all; f++) {
		tank_step(t);
		for (size_t i = 0; i < tank_fish_count(t); i++)
			if (tank_find_fish(t, fish_id(tank_fish_at(t, i))) != tank_fish_at(t, i))
				all = false;
	}
	ok(all, "the id index finds every fish over 100 frames (%zu fish)", tank_fish_count(t));
	char id[UUID_STR_LEN];
	snprintf(id, sizeof id, "%s", fish_id(tank_fish_at(t, 7)));
	struct fish *taken = NULL;
	ok(tank_take_fish(t, id, &taken) == 0 && !tank_find_fish(t, id),
	   "a taken fish is no longer found");
	ok(tank_find_fish(t, fish_id(tank_fish_at(t, 7))) == tank_fish_at(t, 7),
	   "and the fish after it are found where they moved");
	ok(tank_return_fish(t, taken) == 0, "it can come back");
	ok(tank_find_fish(t, id) != NULL, "and is found again");
	ok(!tank_find_fish(t, "00000000-0000-4000-8000-000000000000"), "an unknown id is not found");
	tank_free(c);
	tank_free(t);

	/* Poker tables stay within POKER_TABLE_MAX even when everyone touches everyone. */
	t = make(seed0, 2000, true);
	for (int i = 0; i < 30; i++)
		tank_step(t);
	struct tank_stats st;
	tank_get_stats(t, &st);
	ok(st.poker_games > 0, "a crowded tank plays poker (%llu games)",
	   (unsigned long long)st.poker_games);
	ok(ledger_error(t) < 1e-9, "and its books balance");
	tank_free(t);
	return tap_done();
}
