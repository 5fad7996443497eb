/* Serialization: every fish field survives a round trip, a restored tank continues
 * bit-identically, and the decoders reject bad input with a clear message. */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "sim-test.h"
#include "simd/sim/internal.h"
#include "tap.h"

static struct tank *evolved(uint64_t seed, int frames)
{
	struct tank_params p = tank_params_default(seed);
	struct tank *t = tank_new(&p, "json-tank");
	for (int i = 0; i < frames; i++)
		tank_step(t);
	return t;
}

static bool has_path(json_object *o, const char *path)
{
	char buf[256];
	snprintf(buf, sizeof buf, "%s", path);
	for (char *save = NULL, *k = strtok_r(buf, ".", &save); k; k = strtok_r(NULL, ".", &save)) {
		if (json_object_is_type(o, json_type_array))
			o = json_object_array_get_idx(o, 0);
		if (!json_object_object_get_ex(o, k, &o))
			return false;
	}
	return true;
}

static void test_fish_roundtrip(struct tank *t)
{
	int same = 0, n = (int)tank_fish_count(t), pregnant = 0, memories = 0, dangers = 0;
	int learned = 0, parents = 0;
	for (int i = 0; i < n; i++) {
		const struct fish *f = tank_fish_at(t, (size_t)i);
		char *a = json_take_string(fish_to_json(f));
		json_object *o = json_parse_or_die(a);
		struct fish *g = NULL;
		struct json_err e = {""};
		if (fish_from_json(o, &g, &e) == 0) {
			char *b = json_take_string(fish_to_json(g));
			same += strcmp(a, b) == 0;
			free(b);
			fish_free(g);
		} else {
			printf("# %s\n", e.msg);
		}
		pregnant += fish_is_pregnant(f);
		json_object *mem = jget(o, "memory");
		memories += json_object_array_length(jget(mem, "food")) > 0;
		dangers += json_object_array_length(jget(mem, "danger")) > 0;
		learned += json_object_get_double(jget(jget(jget(o, "genome"), "learned_behaviors"),
						       "food_finding")) > 0;
		parents += fish_mother_id(f) != NULL;
		json_object_put(o);
		free(a);
	}
	is_int(same, n, "all %d fish survive fish_to_json -> fish_from_json unchanged", n);
	ok(pregnant > 0 && memories > 0 && dangers > 0 && learned > 0 && parents > 0,
	   "the sample covers pregnancy (%d), food and danger memory (%d, %d), learning (%d) and "
	   "lineage (%d)",
	   pregnant, memories, dangers, learned, parents);

	/* the JSON names every field of the model */
	static const char *const paths[] = {
		"kind",
		"id",
		"mother_id",
		"father_id",
		"generation",
		"x",
		"y",
		"vx",
		"vy",
		"heading_x",
		"base_speed",
		"energy",
		"max_energy",
		"age",
		"max_age",
		"life_stage",
		"fitness",
		"reproduction_cooldown",
		"poker_cooldown",
		"crab_contact_timer",
		"pregnancy",
		"behavior_state.wander_angle",
		"behavior_state.home_x",
		"stats.food_eaten",
		"genome.speed_modifier",
		"genome.size_modifier",
		"genome.vision_range",
		"genome.metabolism_rate",
		"genome.max_energy",
		"genome.fertility",
		"genome.aggression",
		"genome.social_tendency",
		"genome.color_hue",
		"genome.fin_size",
		"genome.tail_size",
		"genome.body_aspect",
		"genome.eye_size",
		"genome.pattern_intensity",
		"genome.template_id",
		"genome.pattern_type",
		"genome.mate_preferences.prefer_similar_size",
		"genome.epigenetic_modifiers.starvation_stress",
		"genome.learned_behaviors.poker_confidence",
		"genome.behavior_algorithm.algorithm_id",
		"genome.behavior_algorithm.parameters",
		"genome.poker_algorithm.algorithm_id",
		"genome.poker_strategy_algorithm.strategy_id",
		"genome.poker_strategy_algorithm.parameters.bluff_frequency",
		"memory.food",
		"memory.danger"};
	json_object *o = fish_to_json(tank_fish_at(t, 0));
	int missing = 0;
	for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++)
		if (!has_path(o, paths[i])) {
			printf("# missing %s\n", paths[i]);
			missing++;
		}
	is_int(missing, 0, "the fish JSON carries every field of the model");
	json_object_put(o);
}

static void test_speed_not_compounded(struct tank *t)
{
	const struct fish *f = tank_fish_at(t, 0);
	double speed = fish_speed(f);
	json_object *o = fish_to_json(f);
	for (int hop = 0; hop < 5; hop++) {
		struct fish *g;
		struct json_err e;
		jset_d(o, "speed", 999); /* derived: written for readers, ignored on input */
		if (fish_from_json(o, &g, &e) < 0)
			abort();
		json_object_put(o);
		o = fish_to_json(g);
		fish_free(g);
	}
	is_double(json_object_get_double(jget(o, "speed")), speed, 0,
		  "five hops later the speed is unchanged (no compounding)");
	is_double(json_object_get_double(jget(o, "base_speed")), 4.0, 0, "base speed is carried");
	json_object_put(o);
}

/* Decode a valid fish after one edit; return the error (0 if accepted). */
static int try_edit(const struct fish *f, void (*edit)(json_object *), char msg[256])
{
	json_object *o = fish_to_json(f);
	edit(o);
	char *s = json_take_string(o);
	struct json_err e = {""};
	json_object *p = jv_parse(s, strlen(s), 64, &e);
	free(s);
	int r = -EINVAL;
	if (p) {
		struct fish *g = NULL;
		r = fish_from_json(p, &g, &e);
		fish_free(g);
		json_object_put(p);
	}
	snprintf(msg, 256, "%s", e.msg);
	return r;
}

/* Just above this genome's maximum, well inside the field's range [0, 1000]: the
 * genome decides, not the field's bounds. */
static void e_energy(json_object *o)
{
	jset_d(o, "energy", json_object_get_double(jget(o, "max_energy")) * 1.001);
}
static void e_trait(json_object *o)
{
	jset_d(jget(o, "genome"), "speed_modifier", 1.6);
}
static void e_inf(json_object *o)
{
	jset_d(o, "x", INFINITY);
}
static void e_far(json_object *o)
{
	jset_d(o, "x", 1e300);
}
static void e_algo(json_object *o)
{
	json_object_object_add(jget(jget(o, "genome"), "behavior_algorithm"), "algorithm_id",
			       json_object_new_string("teleporter"));
}
static void e_param(json_object *o)
{
	json_object *b = jget(jget(o, "genome"), "behavior_algorithm");
	json_object_object_add(b, "parameters", json_object_new_object());
}
static void e_memory(json_object *o)
{
	json_object *a = json_object_new_array();
	for (int i = 0; i < 11; i++) {
		json_object *m = json_object_new_object();
		jset_d(m, "x", 1);
		jset_d(m, "y", 1);
		jset_d(m, "strength", 0.5);
		jset_i(m, "age", 1);
		jset_i(m, "successes", 1);
		jset_i(m, "failures", 0);
		json_object_array_add(a, m);
	}
	json_object_object_add(jget(o, "memory"), "food", a);
}
static void jset_s(json_object *o, const char *k, const char *v)
{
	json_object_object_add(o, k, json_object_new_string(v));
}
static void e_kind(json_object *o)
{
	jset_s(o, "kind", "crab");
}
static void e_id(json_object *o)
{
	jset_s(o, "id", "fish-1");
}
static void e_age(json_object *o)
{
	jset_i(o, "age", json_object_get_int(jget(o, "max_age")) + 1);
}
static void e_genome(json_object *o)
{
	json_object_object_del(o, "genome");
}
static void e_strategy(json_object *o)
{
	json_object *p = jget(jget(jget(o, "genome"), "poker_strategy_algorithm"), "parameters");
	jset_d(p, "value_raise_multiplier", 3.5);
}
static void e_type(json_object *o)
{
	jset_s(o, "generation", "3");
}
/* Fields that only the decoder's ranges guard (fish_check does not look again): a
 * peer's fish with them out of range must be refused, not admitted as sent. */
static void e_cooldown(json_object *o)
{
	jset_i(o, "reproduction_cooldown", POKER_MATING_COOLDOWN + 1);
}
static void e_stats(json_object *o)
{
	jset_i(jget(o, "stats"), "food_eaten", -1);
}
/* The derived fields are recomputed, but must be what they say (a peer sent a 100 kB
 * string for a size, and 1e308 for a speed, and was taken). */
static void e_derived_type(json_object *o)
{
	jset_s(o, "size", "large");
}
static void e_derived_range(json_object *o)
{
	json_object_object_add(o, "speed", json_object_new_double(1e308));
}
static void e_stage(json_object *o)
{
	jset_s(o, "life_stage", "teen");
}
/* "pregnancy" is required (null when not pregnant): a fish without it would arrive
 * silently not pregnant, its unborn young lost. */
static void e_no_pregnancy(json_object *o)
{
	json_object_object_del(o, "pregnancy");
}
static void e_extra(json_object *o)
{
	jset_i(o, "unknown_future_field", 42);
}

/* The bound is inclusive: a fish that has just mated carries the full cooldown. */
static void test_cooldown_maximum(const struct fish *f)
{
	json_object *o = fish_to_json(f);
	jset_i(o, "reproduction_cooldown", POKER_MATING_COOLDOWN);
	struct fish *g = NULL;
	struct json_err e = {""};
	is_int(fish_from_json(o, &g, &e), 0,
	       "accepts a reproduction_cooldown of exactly its maximum (%s)", e.msg);
	fish_free(g);
	json_object_put(o);
}

/* A fish written before generation_deepest existed counted its generation as
 * max(parents) + 1, which is then also its deepest count: reading it as 0 would change
 * the lineage a peer's old fish carries. */
static void test_deepest_defaults_to_generation(const struct fish *f)
{
	json_object *o = fish_to_json(f);
	jset_i(o, "generation", 7);
	json_object_object_del(o, "generation_deepest");
	struct fish *g = NULL;
	struct json_err e = {""};
	int r = fish_from_json(o, &g, &e);
	ok(r == 0 && g && fish_generation_deepest(g) == 7,
	   "a fish without generation_deepest takes its generation as the deepest count (%s)",
	   e.msg);
	fish_free(g);
	g = NULL;
	/* A deepest count below the generation (a fish of the legacy door before 7 December,
	 * or of its line) is kept as it is: fish_json.c says why. */
	jset_i(o, "generation_deepest", 6);
	r = fish_from_json(o, &g, &e);
	ok(r == 0 && g && fish_generation(g) == 7 && fish_generation_deepest(g) == 6,
	   "a deepest count below the generation is kept as it is, not refused (%s)", e.msg);
	fish_free(g);
	json_object_put(o);
}

static void test_fish_validation(struct tank *t)
{
	static const struct {
		void (*edit)(json_object *);
		const char *what;
		const char *needle;
	} cases[] = {
		{e_energy, "energy above max_energy", "max_energy"},
		{e_trait, "an out-of-range trait", "speed_modifier"},
		/* json-c writes it as the word Infinity, which the parser refuses. */
		{e_inf, "an infinite coordinate", "Infinity"},
		{e_far, "a coordinate far outside any world", "field 'x'"},
		{e_algo, "an unknown algorithm id", "teleporter"},
		{e_param, "missing algorithm parameters", "behavior_algorithm"},
		{e_memory, "11 food memories", "memory"},
		{e_kind, "a wrong kind", "kind"},
		{e_id, "a non-UUID id", "id"},
		{e_age, "an age beyond max_age", "age"},
		{e_genome, "a missing genome", "genome"},
		{e_strategy, "an out-of-range poker parameter", "value_raise_multiplier"},
		{e_type, "a string for an integer", "generation"},
		{e_cooldown, "a reproduction_cooldown beyond its maximum", "reproduction_cooldown"},
		{e_stats, "a negative food_eaten count", "food_eaten"},
		{e_no_pregnancy, "a fish without its pregnancy field", "pregnancy"},
		{e_derived_type, "a string for a derived size", "size"},
		{e_derived_range, "a derived speed of 1e308", "speed"},
		{e_stage, "an unknown life_stage", "life_stage"},
	};
	char msg[256];
	const struct fish *f = tank_fish_at(t, 0);
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		int r = try_edit(f, cases[i].edit, msg);
		ok(r == -EINVAL && strstr(msg, cases[i].needle), "rejects %s: \"%s\"",
		   cases[i].what, msg);
	}
	is_int(try_edit(f, e_extra, msg), 0, "ignores unknown extra keys");
	test_cooldown_maximum(f);
	test_deepest_defaults_to_generation(f);
	struct fish *g = NULL;
	struct json_err e = {""};
	json_object *arr = json_object_new_array();
	ok(fish_from_json(arr, &g, &e) == -EINVAL && g == NULL, "rejects a non-object");
	json_object_put(arr);
}

static void test_tank_roundtrip(void)
{
	struct tank *a = evolved(11, 2500);
	tank_set_exit(a, WALL_LEFT, true);
	tank_set_exit(a, WALL_RIGHT, true);
	for (int i = 0; i < 3000 && tank_exited_count(a) < 2; i++)
		tank_step(a);
	struct json_err e = {""};
	struct tank *b = tank_roundtrip(a, &e);
	ok(b != NULL, "a live tank restores from its JSON (%s)", e.msg);
	if (!b)
		return;
	ok(tank_state_hash(a) == tank_state_hash(b), "the restored tank hashes the same");
	ok(tank_exited_count(a) > 0 && tank_exited_count(b) == tank_exited_count(a),
	   "the queue of exited fish is part of the state (%zu)", tank_exited_count(a));
	int diverged = 0;
	for (int k = 0; k < 10; k++) {
		for (int i = 0; i < 150; i++) {
			tank_step(a);
			tank_step(b);
		}
		diverged += tank_state_hash(a) != tank_state_hash(b);
	}
	is_int(diverged, 0, "1500 more frames: the restored tank stays bit-identical");
	struct tank_stats sa, sb;
	tank_get_stats(a, &sa);
	tank_get_stats(b, &sb);
	ok(memcmp(&sa, &sb, sizeof sa) == 0, "and its statistics are identical");

	/* the hash sees a one-ulp change anywhere */
	json_object *o = tank_to_json(b);
	json_object *f = jidx(jget(o, "fish"), 0);
	double en = json_object_get_double(jget(f, "energy"));
	jset_d(f, "energy", nextafter(en, 0));
	struct tank *c = tank_from_edit(o);
	ok(tank_state_hash(c) != tank_state_hash(b), "the state hash sees a one-ulp change");
	tank_free(c);

	/* the viewer's entity list */
	json_object *ents = tank_entities_json(b);
	struct tank_stats s;
	tank_get_stats(b, &s);
	size_t n = json_object_array_length(ents);
	is_int(n, s.fish_count + s.food_count + s.plant_count + s.crab_count + 1,
	       "the entity list has every fish, food, plant, crab and the castle");
	int complete = 0;
	for (size_t i = 0; i < n; i++) {
		json_object *x = jidx(ents, i);
		complete += has_path(x, "kind") && has_path(x, "id") && has_path(x, "x") &&
			    has_path(x, "y") && has_path(x, "vx") && has_path(x, "vy") &&
			    has_path(x, "size") && has_path(x, "energy");
	}
	is_int(complete, n, "every entity has kind, id, x, y, vx, vy, size and energy");
	json_object_put(ents);
	tank_free(a);
	tank_free(b);
}

static int try_tank_edit(struct tank *t, void (*edit)(json_object *), char msg[256])
{
	json_object *o = tank_to_json(t);
	edit(o);
	struct tank *u = NULL;
	struct json_err e = {""};
	int r = tank_from_json(o, &u, &e);
	json_object_put(o);
	tank_free(u);
	snprintf(msg, 256, "%s", e.msg);
	return r;
}

static void t_dup(json_object *o)
{
	json_object *fish = jget(o, "fish");
	json_object_array_add(fish, json_object_get(jidx(fish, 0)));
}
static void t_rng(json_object *o)
{
	json_object *a = json_object_new_array();
	for (int i = 0; i < 4; i++)
		json_object_array_add(a, json_object_new_string("0"));
	json_object_object_add(o, "rng", a);
}
static void t_spot(json_object *o)
{
	json_object *pl = jget(o, "plants");
	jset_i(jidx(pl, 1), "root_spot", json_object_get_int(jget(jidx(pl, 0), "root_spot")));
}
static void t_width(json_object *o)
{
	jset_i(jget(o, "params"), "width", 50);
}
static void t_food(json_object *o)
{
	jset_s(jidx(jget(o, "food"), 0), "food_type", "cake");
}
static void t_version(json_object *o)
{
	jset_i(o, "version", 99);
}

static void test_tank_validation(void)
{
	struct tank *t = evolved(12, 300);
	static const struct {
		void (*edit)(json_object *);
		const char *what, *needle;
	} cases[] = {
		{t_dup, "a duplicate fish id", "duplicate"},
		{t_rng, "an all-zero RNG state", "rng"},
		{t_spot, "two plants on one root spot", "root spot"},
		{t_width, "a tank 50 px wide", "width"},
		{t_food, "an unknown food type", "cake"},
		{t_version, "an unknown version", "version"},
	};
	char msg[256];
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
		ok(try_tank_edit(t, cases[i].edit, msg) == -EINVAL && strstr(msg, cases[i].needle),
		   "tank JSON: rejects %s: \"%s\"", cases[i].what, msg);
	tank_free(t);
}

/* The validators must accept every state the simulation itself produces: round-trip every
 * fish every 40 frames and the whole tank every 500, over long and crowded runs. */
static void test_accepts_own_states(void)
{
	int fish_fail = 0, tank_fail = 0, fish_checked = 0;
	char first[256] = "";
	for (int run = 0; run < 3; run++) {
		struct tank_params p = tank_params_default(100 + (uint64_t)run);
		if (run == 2) {
			tank_params_scale_world(&p, 2176, 1224);
			p.max_fish = 300;
			p.initial_fish = 300;
		}
		struct tank *t = tank_new(&p, "json-own");
		tank_set_exit(t, WALL_LEFT, run == 1);
		for (int i = 1; i <= (run == 2 ? 2000 : 9000); i++) {
			tank_step(t);
			if (i % 40 == 0) {
				for (size_t k = 0; k < tank_fish_count(t); k++, fish_checked++) {
					json_object *o = fish_to_json(tank_fish_at(t, k));
					struct fish *f = NULL;
					struct json_err e = {""};
					if (fish_from_json(o, &f, &e) < 0 && fish_fail++ == 0)
						snprintf(first, sizeof first, "%s", e.msg);
					fish_free(f);
					json_object_put(o);
				}
			}
			if (i % 500 == 0) {
				struct json_err e = {""};
				struct tank *u = tank_roundtrip(t, &e);
				if (!u && tank_fail++ == 0)
					snprintf(first, sizeof first, "%s", e.msg);
				tank_free(u);
			}
		}
		tank_free(t);
	}
	is_int(fish_fail, 0, "%d fish snapshots over 20,000 frames all validate (%s)", fish_checked,
	       first);
	is_int(tank_fail, 0, "every periodic tank snapshot restores (%s)", first);
}

int main(void)
{
	test_accepts_own_states();
	struct tank *t = evolved(10, 3000);
	test_fish_roundtrip(t);
	test_speed_not_compounded(t);
	test_fish_validation(t);
	tank_free(t);
	test_tank_roundtrip();
	test_tank_validation();
	return tap_done();
}
