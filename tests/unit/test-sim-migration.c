/* Migration hooks: exits, take/put/return, capacity and duplicates, edge placement, and a
 * fish that leaves one tank and enters another keeps every field. */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "sim-test.h"
#include "tap.h"

static char *fish_json_without(const struct fish *f, const char *const *drop)
{
	json_object *o = fish_to_json(f);
	for (; *drop; drop++)
		json_object_object_del(o, *drop);
	return json_take_string(o);
}

static void test_exits(void)
{
	struct tank_params p = tank_params_default(21);
	struct tank *a = tank_new(&p, "mig-a"), *b = tank_new(&p, "mig-b");
	for (int i = 0; i < 2000; i++)
		tank_step(a);
	bool inside = true;
	for (size_t k = 0; k < tank_fish_count(a); k++)
		inside &= fish_x(tank_fish_at(a, k)) >= 25 &&
			  fish_x(tank_fish_at(a, k)) <= 1088 - 25;
	ok(tank_exited_count(a) == 0 && inside, "walls without an exit bounce");

	tank_set_exit(a, WALL_RIGHT, true);
	ok(tank_get_exit(a, WALL_RIGHT) && !tank_get_exit(a, WALL_LEFT), "exits are per wall");
	for (int i = 0; i < 4000 && tank_exited_count(a) == 0; i++)
		tank_step(a);
	ok(tank_exited_count(a) > 0, "a fish swims out through the open right wall");
	struct tank_stats s;
	tank_get_stats(a, &s);
	is_int(s.migrations_out, tank_exited_count(a), "the exit counts as a migration out");
	ok(population_balanced(a) && ledger_error(a) < 1e-9, "and leaves the books balanced");

	struct fish *f[4];
	enum wall w[4];
	size_t n = tank_take_exited(a, f, w, 1);
	ok(n == 1 && w[0] == WALL_RIGHT && tank_exited_count(a) == s.migrations_out - 1,
	   "tank_take_exited hands over the fish and its wall");
	/* "lineage": the birth data it carries while travelling, kept in b's records. */
	const char *const drop[] = {"x", "vx", "lineage", NULL};
	char *before = fish_json_without(f[0], drop);
	json_object *fj = fish_to_json(f[0]), *lj = NULL;
	ok(json_object_object_get_ex(fj, "lineage", &lj) && lj &&
		   strcmp(json_object_get_string(json_object_object_get(lj, "born_tank_id")),
			  "mig-a") == 0,
	   "a leaving fish carries where it was born");
	json_object_put(fj);
	char id[UUID_STR_LEN];
	strcpy(id, fish_id(f[0]));
	double y = fish_y(f[0]);
	is_int(tank_put_fish(b, f[0], wall_opposite(w[0])), 0, "it enters the next tank");
	const struct fish *g = tank_find_fish(b, id);
	ok(g && fabs(fish_x(g) - 35) < 1e-12 && fish_y(g) == y,
	   "through the left wall: placed at x = 35, y kept");
	char *after = g ? fish_json_without(g, drop) : strdup("");
	is_str(after, before, "every other field is unchanged (id, genome, memory, energy...)");
	json_object *lin = tank_lineage_json(b, id, 0, 1);
	json_object *rec = lin ? json_object_array_get_idx(json_object_object_get(lin, "records"), 0)
			       : NULL;
	ok(rec &&
		   strcmp(json_object_get_string(json_object_object_get(rec, "born_tank_id")),
			  "mig-a") == 0 &&
		   json_object_get_boolean(json_object_object_get(rec, "living")),
	   "the next tank records it, born in the first");
	json_object_put(lin);
	fj = g ? fish_to_json(g) : NULL;
	ok(fj && json_object_object_get_ex(fj, "lineage", NULL), "and it keeps what it carried");
	json_object_put(fj);
	free(before);
	free(after);
	tank_get_stats(b, &s);
	ok(s.migrations_in == 1 && s.births == 0, "an arrival is a migration in, not a birth");
	tank_free(a);
	tank_free(b);
}

static void test_take_put(void)
{
	struct tank_params p = tank_params_default(22);
	p.max_fish = 12;
	struct tank *a = tank_new(&p, "mig-c"), *b = tank_new(&p, "mig-d");
	for (int i = 0; i < 100; i++) {
		tank_step(a);
		tank_step(b);
	}
	struct fish *f = NULL;
	is_int(tank_take_fish(a, "00000000-0000-8000-8000-000000000000", &f), -ENOENT,
	       "taking an absent fish: -ENOENT");
	const char *pick = tank_pick_fish(a);
	ok(pick != NULL, "tank_pick_fish picks a fish");
	char id[UUID_STR_LEN];
	strcpy(id, pick);
	/* Every field but the birth data it picks up on leaving (see the exit test). */
	const char *const nolin[] = {"lineage", NULL};
	char *before = fish_json_without(tank_find_fish(a, id), nolin);
	struct tank_stats s0, s;
	tank_get_stats(a, &s0);
	is_int(tank_take_fish(a, id, &f), 0, "take it");
	tank_get_stats(a, &s);
	ok(s.fish_count == s0.fish_count - 1 && s.migrations_out == s0.migrations_out + 1 &&
		   s.deaths == s0.deaths,
	   "taking is a migration out, not a death");
	ok(ledger_error(a) < 1e-9, "the energy that left is booked");

	/* Same-sized tank, no wall: the fish lands exactly as it left. */
	tank_get_stats(b, &s);
	while (s.fish_count >= p.max_fish) {
		struct fish *x;
		tank_take_fish(b, tank_pick_fish(b), &x);
		fish_free(x);
		tank_get_stats(b, &s);
	}
	is_int(tank_put_fish(b, f, WALL_NONE), 0, "put it into another tank");
	char *after = fish_json_without(tank_find_fish(b, id), nolin);
	is_str(after, before, "the fish keeps every field, bit for bit");
	free(after);

	struct fish *twin = fish_clone(tank_find_fish(b, id));
	is_int(tank_put_fish(b, twin, WALL_NONE), -EEXIST, "the same id twice: -EEXIST");
	while (tank_fish_count(b) < (size_t)p.max_fish) {
		struct fish *x = fish_clone(tank_fish_at(a, 0));
		json_object *o = fish_to_json(x);
		fish_free(x);
		/* a fresh id for each filler fish */
		static int k;
		char fid[UUID_STR_LEN];
		snprintf(fid, sizeof fid, "00000000-0000-8000-8000-%012d", ++k);
		json_object_object_add(o, "id", json_object_new_string(fid));
		struct json_err e;
		if (fish_from_json(o, &x, &e) < 0 || tank_put_fish(b, x, WALL_LEFT) < 0)
			abort();
		json_object_put(o);
	}
	is_int(tank_put_fish(b, twin, WALL_NONE), -ENOSPC, "a full tank: -ENOSPC");
	fish_free(twin);
	{
		/* Replay admits an arrival the live tank accepted even when it looks full now,
		 * and books it as an arrival: a return would undo a departure instead. */
		struct fish *x = fish_clone(tank_fish_at(a, 0));
		json_object *o = fish_to_json(x);
		fish_free(x);
		json_object_object_add(
			o, "id", json_object_new_string("00000000-0000-8000-8000-999999999999"));
		struct json_err e;
		if (fish_from_json(o, &x, &e) < 0)
			abort();
		json_object_put(o);
		struct tank_stats b0, b1;
		tank_get_stats(b, &b0);
		is_int(tank_readmit_fish(b, x, WALL_LEFT), 0,
		       "a replayed arrival enters a full tank");
		tank_get_stats(b, &b1);
		ok(b1.migrations_in == b0.migrations_in + 1 &&
			   b1.migrations_out == b0.migrations_out &&
			   b1.fish_count == b0.fish_count + 1,
		   "and counts as an arrival (in %" PRIu64 " -> %" PRIu64 ", out %" PRIu64
		   " -> %" PRIu64 ")",
		   b0.migrations_in, b1.migrations_in, b0.migrations_out, b1.migrations_out);
	}

	/* An aborted transfer returns the fish with no trace in the counters. */
	struct fish *r;
	tank_get_stats(a, &s0);
	const char *rid = tank_pick_fish(a);
	strcpy(id, rid);
	tank_take_fish(a, id, &r);
	is_int(tank_return_fish_at(a, r, WALL_NONE), 0, "return a taken fish");
	tank_get_stats(a, &s);
	ok(s.migrations_out == s0.migrations_out && s.fish_count == s0.fish_count &&
		   s.births == s0.births && ledger_error(a) < 1e-9,
	   "a returned fish leaves no trace in the counters");
	ok(tank_find_fish(a, id) != NULL, "and is back under the same id");
	free(before);
	tank_free(a);
	tank_free(b);
}

/* max_fish is a hard cap on the fish here plus this tank's fish in transit (issue 9). */
static void test_cap_counts_transit(void)
{
	struct tank_params p = tank_params_default(24);
	p.max_fish = 12;
	p.initial_fish = 12;
	struct tank *a = tank_new(&p, "mig-f"), *b = tank_new(&p, "mig-g");
	char id[UUID_STR_LEN];
	strcpy(id, tank_pick_fish(a));
	struct fish *f;
	tank_take_fish(a, id, &f);
	tank_set_in_transit(a, 1); /* simd's outbox holds it */
	struct fish *other;
	tank_take_fish(b, tank_pick_fish(b), &other);
	ok(!tank_has_room(a), "11 fish + 1 in transit: a tank of 12 has no room");
	is_int(tank_put_fish(a, other, WALL_LEFT), -ENOSPC, "so an arrival is refused");
	/* Births and spawns: a crowded tank left alone for a while gains nothing. */
	for (int i = 0; i < 3000; i++) {
		tank_step(a);
		if (tank_fish_count(a) + tank_in_transit(a) > 12)
			break;
	}
	struct tank_stats s;
	tank_get_stats(a, &s);
	ok(s.fish_count + s.in_transit <= 12 && s.in_transit == 1,
	   "births and spawns never pass the cap (fish %d + in transit %d)", s.fish_count,
	   s.in_transit);
	/* The fish comes back: its slot was kept for it. */
	while (tank_fish_count(a) + 1 < 12) { /* top the tank up to 11 + 1 */
		struct fish *x;
		tank_take_fish(b, tank_pick_fish(b), &x);
		if (tank_put_fish(a, x, WALL_NONE) < 0)
			fish_free(x);
	}
	tank_set_in_transit(a, 0);
	is_int(tank_return_fish_at(a, f, WALL_RIGHT), 0, "a returning fish always has room");
	const struct fish *g = tank_find_fish(a, id);
	double vx = 1;
	if (g) {
		json_object *o = fish_to_json(g), *v;
		if (json_object_object_get_ex(o, "vx", &v))
			vx = json_object_get_double(v);
		json_object_put(o);
	}
	ok(g && fish_x(g) < 1088 - 30 && vx <= 0,
	   "and re-enters inside the wall it left by, heading away from it");
	is_int((int)tank_fish_count(a), 12, "the tank is at its cap, not above it");
	fish_free(other);
	tank_free(a);
	tank_free(b);
}

static void test_pick_deterministic(void)
{
	struct tank_params p = tank_params_default(23);
	struct tank *a = tank_new(&p, "mig-e"), *b = tank_new(&p, "mig-e");
	int same = 0;
	for (int i = 0; i < 50; i++) {
		tank_step(a);
		tank_step(b);
		const char *x = tank_pick_fish(a), *y = tank_pick_fish(b);
		same += x && y && strcmp(x, y) == 0;
	}
	is_int(same, 50, "tank_pick_fish is deterministic (the tank's own RNG)");
	ok(tank_state_hash(a) == tank_state_hash(b), "and picking keeps twin tanks identical");
	tank_free(a);
	tank_free(b);
}

/* Takes from the front, the middle and the end keep the id index exact: every fish is
 * found at its own position without a rebuild, and a taken one is not found. */
static void test_index_after_takes(void)
{
	struct tank *a = tank_first_frame(5, 60, 100, "idx");
	bool exact = true, gone = true;
	for (int k = 0; k < 30; k++) {
		size_t n = tank_fish_count(a), at = k % 3 == 0 ? 0 : k % 3 == 1 ? n / 2 : n - 1;
		char id[UUID_STR_LEN];
		snprintf(id, sizeof id, "%s", fish_id(tank_fish_at(a, at)));
		struct fish *f;
		tank_take_fish(a, id, &f);
		fish_free(f);
		gone &= tank_find_fish(a, id) == NULL;
		for (size_t i = 0; i < tank_fish_count(a); i++)
			exact &= tank_find_fish(a, fish_id(tank_fish_at(a, i))) ==
				 tank_fish_at(a, i);
	}
	ok(exact, "after 30 takes every fish is found at its position");
	ok(gone, "and no taken fish is found");
	tank_free(a);
}

/* A fish of a later generation than any the tank has held raises its max_generation, as a
 * birth does: a tank reported generation 2 living and max_generation 1 (SIM_RULES 6). */
static void test_arrival_generation(void)
{
	struct tank_params p = tank_params_default(23);
	struct tank *a = tank_new(&p, "mig-g1"), *b = tank_new(&p, "mig-g2");
	json_object *o = fish_to_json(tank_fish_at(a, 0));
	json_object_object_add(o, "generation", json_object_new_int(7));
	struct fish *f = NULL;
	struct json_err e = {{0}};
	ok(fish_from_json(o, &f, &e) == 0, "a fish of generation 7 (%s)", f ? "ok" : e.msg);
	json_object_put(o);
	struct tank_stats s;
	tank_get_stats(b, &s);
	is_int(s.max_generation, 0, "a new tank's highest generation is 0");
	struct fish *x;
	tank_take_fish(b, tank_pick_fish(b), &x);
	fish_free(x);
	is_int(tank_put_fish(b, f, WALL_LEFT), 0, "it arrives");
	tank_get_stats(b, &s);
	ok(s.max_generation == 7 && s.generation == 7,
	   "max_generation counts it (%d), and is never below the living generation (%d)",
	   s.max_generation, s.generation);
	tank_free(a);
	tank_free(b);
}

int main(void)
{
	test_index_after_takes();
	test_exits();
	test_take_put();
	test_pick_deterministic();
	test_cap_counts_transit();
	test_arrival_generation();
	return tap_done();
}
