/* Energy bookkeeping (spec §2.5): no fish ever holds more than its maximum; energy enters
 * only by food spawning, photosynthesis, spawns and arrivals, and the ledger of inflows
 * and outflows matches the energy in the tank at every frame; a full tank in a world larger
 * than the original's is fed without food piling up, and its live food expires uneaten. */
#include "config.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>

#include "sim-test.h"
#include "tap.h"

static void check_run(struct tank *t, int frames, const char *what)
{
	int over_max = 0, negative = 0, unbalanced = 0, population = 0;
	double worst = 0;
	for (int i = 0; i < frames; i++) {
		tank_step(t);
		for (size_t k = 0; k < tank_fish_count(t); k++) {
			const struct fish *f = tank_fish_at(t, k);
			over_max += fish_energy(f) > fish_max_energy(f);
			negative += !(fish_energy(f) >= 0);
		}
		double err = ledger_error(t);
		worst = fmax(worst, err);
		unbalanced += err > 1e-9;
		population += !population_balanced(t);
	}
	is_int(over_max, 0, "%s: no fish ever exceeds its max energy", what);
	is_int(negative, 0, "%s: no fish has negative energy", what);
	is_int(unbalanced, 0, "%s: total energy = inflows - outflows every frame (worst %.2g)",
	       what, worst);
	is_int(population, 0, "%s: fish count = spawns + births + arrivals - deaths - departures",
	       what);
}

static void test_default_tank(void)
{
	struct tank_params p = tank_params_default(1);
	struct tank *t = tank_new(&p, "energy-default");
	check_run(t, 6000, "default tank, 6000 frames");
	struct tank_stats s;
	tank_get_stats(t, &s);
	ok(s.energy_flow[EIN_FOOD_SPAWN] > 0 && s.energy_flow[EIN_PHOTOSYNTHESIS] > 0,
	   "food spawning and photosynthesis both fed the tank (%.0f, %.0f)",
	   s.energy_flow[EIN_FOOD_SPAWN], s.energy_flow[EIN_PHOTOSYNTHESIS]);
	ok(s.energy_flow[EOUT_METABOLISM] > 0 && s.energy_flow[EOUT_HOUSE_CUT] > 0,
	   "metabolism and the poker house cut consumed energy (%.0f, %.1f)",
	   s.energy_flow[EOUT_METABOLISM], s.energy_flow[EOUT_HOUSE_CUT]);
	ok(s.poker_games > 0 && s.plant_poker_games > 0, "fish played fish and plants at poker");
	bool nonneg = true;
	for (int i = 0; i < ENERGY_FLOW_COUNT; i++)
		nonneg &= s.energy_flow[i] >= 0;
	ok(nonneg, "every flow counter is non-negative");
	is_double(s.total_energy, s.fish_energy + s.plant_energy + s.food_energy + s.crab_energy,
		  1e-9, "total energy is fish + plants + food + crabs");
	tank_free(t);
}

/* With no food supply, no plants and no spawns, nothing can create energy: the total may
 * only fall, whatever the fish do (eat, play poker, mate, give birth). */
static void test_nothing_from_nowhere(void)
{
	struct tank_params p = quiet_params(3, 40);
	p.initial_food = 60; /* something to eat and fight over, once */
	p.crabs = 1;
	struct tank *t = tank_new(&p, "energy-closed");
	struct tank_stats s, s0;
	tank_get_stats(t, &s0);
	s = s0;
	double prev = s.total_energy, rise = 0;
	for (int i = 0; i < 4000; i++) {
		tank_step(t);
		tank_get_stats(t, &s);
		rise = fmax(rise, s.total_energy - prev);
		prev = s.total_energy;
	}
	ok(rise <= 1e-9, "a closed tank never gains energy (largest rise %.3g)", rise);
	bool same = true;
	for (int i = 0; i < ENERGY_FLOW_FIRST_OUT; i++)
		same &= s.energy_flow[i] == s0.energy_flow[i];
	ok(same, "no inflow after the initial stock (food %.0f, fish %.0f)",
	   s.energy_flow[EIN_FOOD_SPAWN], s.energy_flow[EIN_FISH_SPAWN]);
	ok(s.total_energy < s0.total_energy * 0.5 && s.births > 0,
	   "the closed tank ran down while fish lived and bred (%.0f -> %.0f, %llu births)",
	   s0.total_energy, s.total_energy, (unsigned long long)s.births);
	tank_free(t);
}

static void test_crowded_with_migration(void)
{
	struct tank_params p = tank_params_default(9);
	tank_params_scale_world(&p, 2176, 1224);
	p.max_fish = 400;
	p.initial_fish = 400;
	struct tank *a = tank_new(&p, "energy-a"), *b = tank_new(&p, "energy-b");
	tank_set_exit(a, WALL_RIGHT, true);
	tank_set_exit(b, WALL_LEFT, true);
	int moved = 0, over_max = 0, unbalanced = 0, population = 0;
	for (int i = 0; i < 1500; i++) {
		tank_step(a);
		tank_step(b);
		struct fish *f[8];
		enum wall w[8];
		size_t n = tank_take_exited(a, f, w, 8);
		for (size_t k = 0; k < n; k++)
			if (tank_put_fish(b, f[k], wall_opposite(w[k])) == 0)
				moved++;
			else
				tank_return_fish_at(a, f[k], WALL_NONE);
		n = tank_take_exited(b, f, w, 8);
		for (size_t k = 0; k < n; k++)
			if (tank_put_fish(a, f[k], wall_opposite(w[k])) < 0)
				tank_return_fish_at(b, f[k], WALL_NONE);
		if (i % 100 == 50) {
			const char *id = tank_pick_fish(a);
			struct fish *x;
			if (id && tank_take_fish(a, id, &x) == 0 &&
			    tank_put_fish(b, x, WALL_NONE) < 0)
				tank_return_fish_at(a, x, WALL_NONE);
		}
		for (size_t k = 0; k < tank_fish_count(a); k++)
			over_max += fish_energy(tank_fish_at(a, k)) >
				    fish_max_energy(tank_fish_at(a, k));
		unbalanced += ledger_error(a) > 1e-9 || ledger_error(b) > 1e-9;
		population += !population_balanced(a) || !population_balanced(b);
	}
	ok(moved > 0, "fish swam from one tank into the other (%d)", moved);
	is_int(over_max, 0, "crowded tank: no fish exceeds its max energy");
	is_int(unbalanced, 0, "both ledgers balance with migration in and out every frame");
	is_int(population, 0, "both populations balance with migration");
	tank_free(a);
	tank_free(b);
}

/* A world ten times the original's area (its density at max_fish), full: the food supply
 * keeps the fish near max_fish, throttles itself so food does not pile up to the cap
 * (under rules 2 it reached the cap, two items a fish, and 49 fish were born in 3,000
 * frames), and leaves room for births. */
static void test_scaled_supply(void)
{
	struct tank_params p = tank_params_default(5);
	tank_params_scale_world(&p, 3441, 1935);
	p.max_fish = 1000;
	p.initial_fish = 1000;
	struct tank *t = tank_new(&p, "scaled-supply");
	struct tank_stats s;
	int fewest = p.max_fish, most_food = 0;
	for (int i = 0; i < 3000; i++) {
		tank_step(t);
		tank_get_stats(t, &s);
		fewest = s.fish_count < fewest ? s.fish_count : fewest;
		if (i >= 1500)
			most_food = s.food_count > most_food ? s.food_count : most_food;
	}
	ok(fewest >= p.max_fish * 8 / 10,
	   "the full scaled tank keeps 80 %% of max_fish (fewest %d)", fewest);
	ok(most_food < p.max_fish / 2,
	   "its food stays below half an item a fish after frame 1,500 (most %d; the cap is "
	   "about two a fish)",
	   most_food);
	ok(s.births >= 200, "and fish are born into it (%llu births in 3,000 frames)",
	   (unsigned long long)s.births);
	tank_free(t);
}

/* The warning simd gives at creation (tank_params_underfed) is true: 1,000 fish in the
 * original's world, which keeps the original's food supply, starve to a fraction of
 * them, while the world it names keeps them (test_scaled_supply is that world). */
static void test_underfed(void)
{
	struct tank_params p = tank_params_default(5);
	int w = 0, h = 0;
	p.max_fish = 200;
	ok(!tank_params_underfed(&p, &w, &h), "200 fish in the original's world: no warning");
	p.max_fish = 201;
	ok(tank_params_underfed(&p, &w, &h) && w == 1543 && h == 868,
	   "201 fish: a warning, naming a 1543 x 868 world (%d x %d)", w, h);
	p.max_fish = 1000000;
	ok(tank_params_underfed(&p, &w, &h) && w == 100000 && h == 61200,
	   "a million fish: the named world stays within 100,000 px (%d x %d)", w, h);
	tank_params_scale_world(&p, 1089, 612);
	ok(!tank_params_underfed(&p, &w, &h),
	   "a world larger than the original's gets food with its max_fish: no warning");

	p = tank_params_default(5);
	p.max_fish = 1000;
	p.initial_fish = 1000;
	ok(tank_params_underfed(&p, &w, &h) && w == 3441 && h == 1935,
	   "1,000 fish in the original's world: warned, and the world named is 3441 x 1935");
	struct tank *t = tank_new(&p, "underfed");
	for (int i = 0; i < 3000; i++)
		tank_step(t);
	struct tank_stats s;
	tank_get_stats(t, &s);
	ok(s.fish_count < p.max_fish / 2, "and most of them starve there (%d left of %d)",
	   s.fish_count, p.max_fish);
	tank_free(t);
}
/* The live food of a tank in one walk of its JSON: how many items, how many carry an
 * age, how many of the `n` ids `known` are among them; the first `max` ids into `ids`. */
struct live_census {
	int count, aged, found;
};

static struct live_census live_census(const struct tank *t, const int64_t *known, int n,
				      int64_t *ids, int max)
{
	struct live_census c = {0, 0, 0};
	json_object *o = tank_to_json(t), *food = jget(o, "food");
	for (size_t i = 0; i < json_object_array_length(food); i++) {
		json_object *it = jidx(food, i), *age;
		if (strcmp(json_object_get_string(jget(it, "food_type")), "live") != 0)
			continue;
		int64_t id = json_object_get_int64(jget(it, "id"));
		if (c.count < max)
			ids[c.count] = id;
		c.count++;
		c.aged += json_object_object_get_ex(it, "age", &age);
		for (int k = 0; k < n; k++)
			c.found += known[k] == id;
	}
	json_object_put(o);
	return c;
}

static int live_ids(const struct tank *t, int64_t *ids, int max)
{
	int n = live_census(t, NULL, 0, ids, max).count;
	return n < max ? n : max;
}

/* Live food in a world larger than the original's lives LIVE_FOOD_LIFESPAN frames uneaten
 * (food.c says why), its energy booked as decay; its age is part of the state (restored
 * bit for bit, validated). The original's tank keeps its live food for ever, and its
 * state has no age. No fish here: nothing eats the food. */
static void test_live_food_lifespan(void)
{
	struct tank_params p = quiet_params(11, 0);
	tank_params_scale_world(&p, 3441, 1935);
	p.initial_food = 60;
	struct tank *t = tank_new(&p, "live-lifespan");
	int64_t ids[64];
	int n = live_ids(t, ids, 64);
	ok(n >= 10, "the scaled world starts with live food (%d items)", n);
	double worst = 0;
	struct tank *copy = NULL;
	struct json_err e = {""};
	for (int i = 1; i <= 899; i++) {
		tank_step(t);
		worst = fmax(worst, ledger_error(t));
		if (i == 450)
			copy = tank_roundtrip(t, &e);
	}
	struct live_census c = live_census(t, ids, n, NULL, 0);
	is_int(c.found, n, "after 899 frames every item of it is still there");
	ok(c.aged == c.count, "and every live item's state holds its age (%d of %d)", c.aged,
	   c.count);
	tank_step(t);
	worst = fmax(worst, ledger_error(t));
	c = live_census(t, ids, n, NULL, 0);
	is_int(c.found, 0, "at frame 900 it has expired, all of it");
	ok(worst < 1e-9,
	   "its energy went to the ledger as decay: balanced every frame (worst %.2g)", worst);
	ok(copy != NULL, "restored at frame 450%s%s", e.msg[0] ? ": " : "", e.msg);
	if (copy) {
		for (int i = 451; i <= 900; i++)
			tank_step(copy);
		ok(tank_state_hash(copy) == tank_state_hash(t),
		   "and it expires the same food at the same frame: the same state at frame 900");
		tank_free(copy);
	}

	json_object *o = tank_to_json(t), *food = jget(o, "food");
	size_t k = 0;
	while (k < json_object_array_length(food) &&
	       strcmp(json_object_get_string(jget(jidx(food, k), "food_type")), "live") != 0)
		k++;
	if (k < json_object_array_length(food)) {
		jset_i(jidx(food, k), "age", 901); /* the lifespan is 900 */
		struct tank *bad = NULL;
		ok(tank_from_json(o, &bad, &e) < 0 && strstr(e.msg, "age"),
		   "an age past the lifespan is refused, by name (%s)", e.msg);
		tank_free(bad);
	} else {
		ok(0, "a live item to damage");
	}
	json_object_put(o);
	tank_free(t);

	p = quiet_params(11, 0);
	p.initial_food = 40;
	t = tank_new(&p, "live-forever");
	n = live_ids(t, ids, 64);
	for (int i = 0; i < 1200; i++)
		tank_step(t);
	c = live_census(t, ids, n, NULL, 0);
	ok(n > 0 && c.found == n,
	   "in the original's world live food stays: %d of %d items after 1,200 frames", c.found,
	   n);
	is_int(c.aged, 0, "and its state has no age");
	tank_free(t);
}

int main(void)
{
	test_underfed();
	test_default_tank();
	test_nothing_from_nowhere();
	test_crowded_with_migration();
	test_scaled_supply();
	test_live_food_lifespan();
	return tap_done();
}
