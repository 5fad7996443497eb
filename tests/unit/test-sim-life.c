/* Life stages, old age, starvation, predation, pregnancy and birth, mating, the tank cap,
 * emergency spawns and the day/night cycle (spec §2.1, §2.6). Situations are set up by
 * editing a tank's JSON, so only the public API is used. */
#include "config.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "sim-test.h"
#include "tap.h"

static json_object *first_fish(json_object *tj)
{
	return jidx(jget(tj, "fish"), 0);
}

static void test_stages(void)
{
	struct tank_params p = quiet_params(1, 1);
	struct tank *t = tank_new(&p, "life-stages");
	static const struct {
		int age;
		enum life_stage stage;
	} cases[] = {{0, STAGE_BABY},	    {299, STAGE_BABY},	{300, STAGE_JUVENILE},
		     {899, STAGE_JUVENILE}, {900, STAGE_ADULT}, {3599, STAGE_ADULT},
		     {3600, STAGE_ELDER}};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		json_object *tj = tank_to_json(t);
		json_object *f = first_fish(tj);
		jset_i(f, "max_age", 8000);
		jset_i(f, "age", cases[i].age);
		struct tank *u = tank_from_edit(tj);
		const struct fish *x = tank_fish_at(u, 0);
		is_str(life_stage_name(fish_stage(x)), life_stage_name(cases[i].stage),
		       "age %d is %s", cases[i].age, life_stage_name(cases[i].stage));
		if (cases[i].age == 0)
			is_double(fish_size(x), 0.5 * fish_trait(x, "size_modifier"), 1e-12,
				  "a newborn is half size");
		if (cases[i].age == 900)
			is_double(fish_size(x), fish_trait(x, "size_modifier"), 1e-12,
				  "a grown fish has its genome's size");
		tank_free(u);
	}
	const struct fish *f = tank_fish_at(t, 0);
	is_int(fish_max_age(f), (int)lround(5400 * fish_trait(f, "max_energy")),
	       "max age is 5400 frames x the max_energy trait");
	is_double(fish_max_energy(f), 100 * fish_trait(f, "max_energy"), 1e-12,
		  "max energy is 100 x the max_energy trait");
	is_double(fish_energy(f), 0.5 * fish_max_energy(f), 1e-12,
		  "a spawned fish starts half full");
	tank_free(t);
}

static struct tank *one_fish(int crabs, void (*edit)(json_object *tank, json_object *fish))
{
	struct tank_params p = quiet_params(2, 1);
	p.crabs = crabs;
	struct tank *t = tank_new(&p, "life-death");
	json_object *tj = tank_to_json(t);
	tank_free(t);
	edit(tj, first_fish(tj));
	return tank_from_edit(tj);
}

static void edit_old(json_object *tj, json_object *f)
{
	jset_i(f, "max_age", 4000);
	jset_i(f, "age", 3999);
}
static void edit_starving(json_object *tj, json_object *f)
{
	jset_d(f, "energy", 1e-6);
}
static void edit_bitten(json_object *tj, json_object *f)
{
	jset_d(f, "energy", 1e-6);
	jset_i(f, "crab_contact_timer", 100);
}
static void edit_on_crab(json_object *tj, json_object *f)
{
	json_object *c = jidx(jget(tj, "crabs"), 0);
	jset_d(f, "x", json_object_get_double(jget(c, "x")));
	jset_d(f, "y", json_object_get_double(jget(c, "y")) - 10);
	jset_d(f, "vx", 0);
	jset_d(f, "vy", 0);
	jset_i(c, "hunt_cooldown", 0);
}

/* total - (inflows - outflows): an edit of the JSON moves it, a frame must not. */
static double ledger_gap(const struct tank *t)
{
	struct tank_stats s;
	tank_get_stats(t, &s);
	return s.total_energy - ledger_net(&s);
}

static void expect_death(struct tank *t, enum death_cause cause, const char *what)
{
	double gap = ledger_gap(t);
	tank_step(t);
	struct tank_stats s;
	tank_get_stats(t, &s);
	ok(s.fish_count == 0 && s.deaths == 1 && s.deaths_by_cause[cause] == 1,
	   "%s: the fish dies of %s", what, death_cause_name(cause));
	ok(fabs(ledger_gap(t) - gap) < 1e-9, "%s: its energy is booked", what);
	tank_free(t);
}

static void test_deaths(void)
{
	expect_death(one_fish(0, edit_old), DEATH_OLD_AGE, "at max_age");
	expect_death(one_fish(0, edit_starving), DEATH_STARVATION, "out of energy");
	expect_death(one_fish(0, edit_bitten), DEATH_PREDATION,
		     "out of energy within 150 frames of a crab's touch");
	struct tank *t = one_fish(1, edit_on_crab);
	struct tank_stats s0;
	tank_get_stats(t, &s0);
	expect_death(t, DEATH_PREDATION, "touched by a hungry crab");
}

static void edit_due(json_object *tj, json_object *f)
{
	/* pregnant, due next frame, by a mate of generation 4 */
	json_object *preg = json_object_new_object();
	jset_i(preg, "timer", 1);
	json_object_object_add(preg, "mate_id",
			       json_object_new_string("0b4a3c2d-1e0f-8a9b-8c7d-6e5f4a3b2c1d"));
	jset_i(preg, "mate_generation", 4);
	json_object_object_add(preg, "mate_genome", json_object_get(jget(f, "genome")));
	json_object_object_add(f, "pregnancy", preg);
	jset_i(f, "generation", 2);
	jset_i(f, "generation_deepest", 2);
	jset_i(f, "age", 2000);
}

static void test_birth(void)
{
	struct tank *t = one_fish(0, edit_due);
	const struct fish *m = tank_fish_at(t, 0);
	char mother[UUID_STR_LEN];
	strcpy(mother, fish_id(m));
	ok(fish_is_pregnant(m), "the mother is pregnant");
	tank_step(t);
	struct tank_stats s;
	tank_get_stats(t, &s);
	is_int(s.births, 1, "a birth is recorded");
	is_int(s.fish_count, 2, "the baby joined the tank");
	const struct fish *baby = NULL, *mum = NULL;
	for (size_t i = 0; i < tank_fish_count(t); i++) {
		const struct fish *f = tank_fish_at(t, i);
		if (strcmp(fish_id(f), mother) == 0)
			mum = f;
		else
			baby = f;
	}
	ok(baby && mum && !fish_is_pregnant(mum), "the pregnancy ended");
	if (baby && mum) {
		is_str(fish_mother_id(baby), mother, "the baby knows its mother");
		is_str(fish_father_id(baby), "0b4a3c2d-1e0f-8a9b-8c7d-6e5f4a3b2c1d",
		       "and its father");
		is_int(fish_generation(baby), 3, "generation = mother's + 1 (the original's count)");
		is_int(fish_generation_deepest(baby), 5, "generation_deepest = max(parents) + 1");
		double fert = fish_trait(mum, "fertility");
		is_double(fish_energy(baby) / (fish_energy(baby) + fish_energy(mum)), 0.3 / fert,
			  0.01, "the baby gets 30%% / fertility (%.2f) of the mother's energy",
			  fert);
		is_int(fish_age(baby), 0, "the baby is newborn");
		ok(strcmp(fish_id(baby), mother) != 0, "the baby has a new id");
	}
	ok(ledger_error(t) < 1e-12 && population_balanced(t), "books balance after the birth");
	tank_free(t);

	/* A full tank refuses the birth; the mother keeps her energy. */
	struct tank_params p = quiet_params(2, 1);
	p.max_fish = 1;
	t = tank_new(&p, "life-full");
	json_object *tj = tank_to_json(t);
	tank_free(t);
	edit_due(tj, first_fish(tj));
	t = tank_from_edit(tj);
	tank_step(t);
	tank_get_stats(t, &s);
	ok(s.births == 0 && s.births_refused == 1 && s.fish_count == 1,
	   "a full tank refuses the birth");
	ok(!fish_is_pregnant(tank_fish_at(t, 0)), "and ends the pregnancy");
	tank_free(t);
}

/* The highest generation a fish may have (the state's bound, 10^8): a mother there, as a
 * peer may send one, has children of that generation, not one more, which no state would
 * take back (the tank's snapshot was refused at the next start). */
static void edit_due_at_bound(json_object *tj, json_object *f)
{
	edit_due(tj, f);
	jset_i(f, "generation", 100000000);
	jset_i(f, "generation_deepest", 100000000);
	jset_i(jget(f, "pregnancy"), "mate_generation", 100000000);
	jset_i(tj, "max_generation", 100000000);
}

static void test_birth_at_bound(void)
{
	struct tank *t = one_fish(0, edit_due_at_bound);
	tank_step(t);
	struct tank_stats s;
	tank_get_stats(t, &s);
	is_int(s.births, 1, "at the generation bound: a birth");
	int gen = -1, deepest = -1;
	for (size_t i = 0; i < tank_fish_count(t); i++)
		if (fish_age(tank_fish_at(t, i)) == 0) {
			gen = fish_generation(tank_fish_at(t, i));
			deepest = fish_generation_deepest(tank_fish_at(t, i));
		}
	ok(gen == 100000000 && deepest == 100000000 && s.max_generation == 100000000,
	   "the baby's generations stay at the bound (%d, %d; tank %d)", gen, deepest,
	   s.max_generation);
	struct json_err e = {{0}};
	struct tank *r = tank_roundtrip(t, &e);
	ok(r != NULL, "and the tank's state is taken back (%s)", r ? "ok" : e.msg);
	tank_free(r);
	tank_free(t);
}

static void test_mating(void)
{
	/* 60 adults packed into the left of a quiet tank with some food. */
	struct tank_params p = quiet_params(4, 60);
	p.initial_food = 30;
	struct tank *t = tank_new(&p, "life-mating");
	json_object *tj = tank_to_json(t);
	tank_free(t);
	json_object *fish = jget(tj, "fish");
	for (size_t i = 0; i < json_object_array_length(fish); i++) {
		json_object *f = jidx(fish, i);
		jset_i(f, "age", 1000);
		jset_i(f, "max_age", 7000);
	}
	t = tank_from_edit(tj);
	int pregnant = 0;
	struct tank_stats s0, s;
	tank_get_stats(t, &s0);
	for (int i = 0; i < 30 && pregnant == 0; i++) {
		tank_step(t);
		for (size_t k = 0; k < tank_fish_count(t); k++)
			pregnant += fish_is_pregnant(tank_fish_at(t, k));
	}
	ok(pregnant > 0, "adults that meet mate (%d pregnant)", pregnant);
	tank_get_stats(t, &s);
	ok(s.energy_flow[EOUT_MATING_COST] >= 10.0 * pregnant - 1e-9,
	   "each pregnancy costs the mother 10 energy");
	for (int i = 0; i < 320; i++)
		tank_step(t);
	tank_get_stats(t, &s);
	ok(s.births > 0 && s.max_generation >= 1, "and give birth to generation 1 (%llu births)",
	   (unsigned long long)s.births);
	tank_free(t);
}

static void test_emergency_and_day(void)
{
	struct tank_params p = tank_params_default(6);
	p.initial_fish = 0;
	struct tank *t = tank_new(&p, "life-emergency");
	struct tank_stats s;
	tank_get_stats(t, &s);
	is_double(s.activity, 0.5, 1e-12, "midnight at frame 0: activity 0.5");
	for (int i = 0; i < 900; i++)
		tank_step(t);
	tank_get_stats(t, &s);
	is_double(s.day_time, 0.5, 1e-12, "frame 900 is noon");
	is_double(s.activity, 1.0, 1e-12, "noon: activity 1.0");
	ok(s.fish_count >= 4 && s.spawns == (uint64_t)s.fish_count + s.deaths,
	   "an empty tank is restocked by emergency spawns (%d fish)", s.fish_count);
	tank_free(t);
}

int main(void)
{
	test_stages();
	test_deaths();
	test_birth();
	test_birth_at_bound();
	test_mating();
	test_emergency_and_day();
	return tap_done();
}
