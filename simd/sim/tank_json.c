/* The whole tank as JSON: parameters, frame, the RNG state (hex, exact), id serials,
 * counters, the energy ledger, exits, and every entity in simulation order. Restoring it
 * and stepping gives the same states, bit for bit, as the tank that was never saved.
 * Anything derived (grids, the root-spot index, the hour) is recomputed on load. */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "simd/sim/internal.h"
#include "util.h"

#define TANK_JSON_VERSION 1

static const char *const counter_names[] = {"births",	   "births_refused",	"spawns",
					    "deaths",	   "migrations_in",	"migrations_out",
					    "poker_games", "plant_poker_games", "plants_sprouted"};
#define N_COUNTERS (sizeof counter_names / sizeof counter_names[0])

static uint64_t *counter_ptr(struct tank *t, size_t i)
{
	uint64_t *p[] = {&t->births,	  &t->births_refused,	 &t->spawns,
			 &t->deaths,	  &t->migrations_in,	 &t->migrations_out,
			 &t->poker_games, &t->plant_poker_games, &t->plants_sprouted};
	return p[i];
}

/* {"energy_moved","births","strategies":{name:{"hands","wins","net"}}}. */
static json_object *poker_books_to_json(const struct tank *t)
{
	json_object *o = json_object_new_object(), *st = json_object_new_object();
	json_object_object_add(o, "energy_moved", json_object_new_double(t->poker_energy_moved));
	json_object_object_add(o, "births", json_object_new_int64((int64_t)(t->poker_births)));
	for (int i = 0; i < POKER_STRATEGY_COUNT; i++) {
		json_object *x = json_object_new_object();
		json_object_object_add(x, "hands",
				       json_object_new_int64((int64_t)(t->strat_hands[i])));
		json_object_object_add(x, "wins",
				       json_object_new_int64((int64_t)(t->strat_wins[i])));
		json_object_object_add(x, "net", json_object_new_double(t->strat_net[i]));
		json_object_object_add(st, poker_defs[i].name, x);
	}
	json_object_object_add(o, "strategies", st);
	return o;
}

static json_object *food_to_json(const struct food *fd)
{
	json_object *o = json_object_new_object();
	json_object_object_add(o, "id", json_object_new_int64((int64_t)(fd->id)));
	json_object_object_add(o, "food_type", json_object_new_string(food_kind_names[fd->kind]));
	json_object_object_add(o, "x", json_object_new_double(fd->x));
	json_object_object_add(o, "y", json_object_new_double(fd->y));
	json_object_object_add(o, "vx", json_object_new_double(fd->vx));
	json_object_object_add(o, "vy", json_object_new_double(fd->vy));
	json_object_object_add(o, "energy", json_object_new_double(fd->energy));
	json_object_object_add(o, "max_energy", json_object_new_double(fd->max_energy));
	json_object_object_add(o, "timer", json_object_new_int64((int64_t)(fd->timer)));
	if (fd->age > 0) /* only where live food expires: other tanks' state is as it was */
		json_object_object_add(o, "age", json_object_new_int64((int64_t)(fd->age)));
	json_object_object_add(o, "source_spot", json_object_new_int64((int64_t)(fd->source_spot)));
	json_object_object_add(o, "source_plant", jv_new_u64hex(fd->source_plant));
	return o;
}

json_object *plant_to_json(const struct plant *p)
{
	json_object *o = json_object_new_object(), *g = json_object_new_object();
	json_object_object_add(o, "id", json_object_new_string(p->id));
	json_object_object_add(o, "parent_id", json_id_or_null(p->parent_id));
	json_object_object_add(o, "serial", jv_new_u64hex(p->serial));
	json_object_object_add(o, "root_spot", json_object_new_int64((int64_t)(p->spot)));
	json_object_object_add(o, "energy", json_object_new_double(p->energy));
	json_object_object_add(o, "max_energy", json_object_new_double(plant_max_energy(p)));
	json_object_object_add(o, "age", json_object_new_int64((int64_t)(p->age)));
	json_object_object_add(o, "generation", json_object_new_int64((int64_t)(p->generation)));
	json_object_object_add(o, "poker_cooldown",
			       json_object_new_int64((int64_t)(p->poker_cooldown)));
	json_object_object_add(o, "nectar_cooldown",
			       json_object_new_int64((int64_t)(p->nectar_cooldown)));
	json_object_object_add(o, "poker_wins", json_object_new_int64((int64_t)(p->poker_wins)));
	json_object_object_add(o, "poker_losses", json_object_new_int64((int64_t)(p->poker_losses)));
	json_object_object_add(o, "nectar_produced",
			       json_object_new_int64((int64_t)(p->nectar_produced)));
	json_object_object_add(g, "fractal_type",
			       json_object_new_string(plant_fractal_names[p->g.fractal_type]));
	for (int i = 0; i < PLANT_TRAIT_COUNT; i++)
		json_object_object_add(g, plant_trait_defs[i].name,
				       json_object_new_double(p->g.t[i]));
	json_object_object_add(o, "genome", g);
	return o;
}

static json_object *crab_to_json(const struct crab *c)
{
	json_object *o = json_object_new_object();
	json_object_object_add(o, "id", json_object_new_int64((int64_t)(c->id)));
	json_object_object_add(o, "x", json_object_new_double(c->x));
	json_object_object_add(o, "y", json_object_new_double(c->y));
	json_object_object_add(o, "vx", json_object_new_double(c->vx));
	json_object_object_add(o, "energy", json_object_new_double(c->energy));
	json_object_object_add(o, "speed_gene", json_object_new_double(c->g_speed));
	json_object_object_add(o, "metabolism_gene", json_object_new_double(c->g_metabolism));
	json_object_object_add(o, "energy_gene", json_object_new_double(c->g_energy));
	json_object_object_add(o, "hunt_cooldown",
			       json_object_new_int64((int64_t)(c->hunt_cooldown)));
	return o;
}

static json_object *params_to_json(const struct tank_params *p)
{
	json_object *x = json_object_new_object();
	json_object_object_add(x, "seed", jv_new_u64hex(p->seed));
	json_object_object_add(x, "width", json_object_new_int64((int64_t)(p->width)));
	json_object_object_add(x, "height", json_object_new_int64((int64_t)(p->height)));
	json_object_object_add(x, "max_fish", json_object_new_int64((int64_t)(p->max_fish)));
	json_object_object_add(x, "initial_fish", json_object_new_int64((int64_t)(p->initial_fish)));
	json_object_object_add(x, "initial_food", json_object_new_int64((int64_t)(p->initial_food)));
	json_object_object_add(x, "initial_plants",
			       json_object_new_int64((int64_t)(p->initial_plants)));
	json_object_object_add(x, "root_spots", json_object_new_int64((int64_t)(p->root_spots)));
	json_object_object_add(x, "crabs", json_object_new_int64((int64_t)(p->crabs)));
	json_object_object_add(x, "food_rate", json_object_new_double(p->food_rate));
	json_object_object_add(x, "emergency_spawn", json_object_new_boolean(p->emergency_spawn));
	json_object_object_add(x, "spawn_floor", json_object_new_int64((int64_t)(p->spawn_floor)));
	json_object_object_add(x, "history_interval",
			       json_object_new_int64((int64_t)(p->history_interval)));
	json_object_object_add(x, "history_size", json_object_new_int64((int64_t)(p->history_size)));
	json_object_object_add(x, "lineage_depth",
			       json_object_new_int64((int64_t)(p->lineage_depth)));
	return x;
}

static json_object *counters_to_json(const struct tank *t)
{
	json_object *x = json_object_new_object();
	for (size_t i = 0; i < N_COUNTERS; i++)
		json_object_object_add(x, counter_names[i],
				       json_object_new_int64(
					       (int64_t)(*counter_ptr((struct tank *)t, i))));
	json_object_object_add(x, "max_generation",
			       json_object_new_int64((int64_t)(t->max_generation)));
	json_object_object_add(x, "plant_migrations_in",
			       json_object_new_int64((int64_t)(t->plant_migrations_in)));
	json_object_object_add(x, "plant_migrations_out",
			       json_object_new_int64((int64_t)(t->plant_migrations_out)));
	json_object *dc = json_object_new_object();
	for (int i = 0; i < DEATH_CAUSE_COUNT; i++)
		json_object_object_add(dc, death_cause_name(i),
				       json_object_new_int64((int64_t)(t->deaths_by_cause[i])));
	json_object_object_add(x, "deaths_by_cause", dc);
	return x;
}

/* The RNG, the id serials and the walls: what makes the next frame follow. */
static void add_engine(json_object *o, const struct tank *t)
{
	json_object *a = json_object_new_array_ext(4), *x;
	for (int i = 0; i < 4; i++)
		json_object_array_add(a, jv_new_u64hex(t->rng.s[i]));
	json_object_object_add(o, "rng", a);
	x = json_object_new_object();
	json_object_object_add(x, "fish", jv_new_u64hex(t->fish_serial));
	json_object_object_add(x, "food", jv_new_u64hex(t->food_serial));
	json_object_object_add(x, "plant", jv_new_u64hex(t->plant_serial));
	json_object_object_add(x, "crab", jv_new_u64hex(t->crab_serial));
	json_object_object_add(o, "serials", x);
	x = json_object_new_object();
	json_object_object_add(x, "left", json_object_new_boolean(t->exit[WALL_LEFT]));
	json_object_object_add(x, "right", json_object_new_boolean(t->exit[WALL_RIGHT]));
	json_object_object_add(o, "exits", x);
}

/* The fish leaving, the food, the plants and the crabs (the fish come before them). */
static void add_entities(json_object *o, const struct tank *t)
{
	json_object *a = json_object_new_array_ext((int)t->n_exited), *x;
	for (size_t i = 0; i < t->n_exited; i++) {
		x = json_object_new_object();
		json_object_object_add(x, "wall",
				       json_object_new_string(wall_name(t->exited[i].wall)));
		json_object_object_add(x, "fish", fish_to_json(t->exited[i].f));
		json_object_array_add(a, x);
	}
	json_object_object_add(o, "exited", a);
	a = json_object_new_array_ext((int)t->n_food);
	for (size_t i = 0; i < t->n_food; i++)
		json_object_array_add(a, food_to_json(&t->food[i]));
	json_object_object_add(o, "food", a);
	a = json_object_new_array_ext((int)t->n_plants);
	for (size_t i = 0; i < t->n_plants; i++)
		json_object_array_add(a, plant_to_json(&t->plants[i]));
	json_object_object_add(o, "plants", a);
	a = json_object_new_array_ext((int)t->n_crabs);
	for (size_t i = 0; i < t->n_crabs; i++)
		json_object_array_add(a, crab_to_json(&t->crabs[i]));
	json_object_object_add(o, "crabs", a);
}

/* The key order is part of the format (tank_state_hash hashes this text). */
static json_object *tank_json(const struct tank *t, bool with_fish)
{
	json_object *o = json_object_new_object(), *x;
	json_object_object_add(o, "kind", json_object_new_string("tank"));
	json_object_object_add(o, "version", json_object_new_int64((int64_t)(TANK_JSON_VERSION)));
	json_object_object_add(o, "tank_id", json_object_new_string(t->id));
	json_object_object_add(o, "params", params_to_json(&t->p));
	json_object_object_add(o, "frame", json_object_new_int64((int64_t)(t->frame)));
	add_engine(o, t);
	json_object_object_add(o, "food_accum", json_object_new_double(t->food_accum));
	json_object_object_add(o, "last_emergency",
			       json_object_new_int64((int64_t)(t->last_emergency)));
	json_object_object_add(o, "counters", counters_to_json(t));
	x = json_object_new_object();
	for (int i = 0; i < ENERGY_FLOW_COUNT; i++)
		json_object_object_add(x, energy_flow_name(i), json_object_new_double(t->flow[i]));
	json_object_object_add(o, "energy_flow", x);
	json_object_object_add(o, "poker", poker_books_to_json(t));
	json_object_object_add(o, "gene_bank", gene_bank_to_json(t));
	json_object_object_add(o, "spawns_banked",
			       json_object_new_int64((int64_t)(t->spawns_banked)));
	json_object_object_add(o, "history", history_to_json(t));
	json_object_object_add(o, "events", events_to_json(t));
	json_object_object_add(o, "lineage", lineage_to_json(t));
	if (with_fish) {
		json_object *a = json_object_new_array_ext((int)t->n_fish);
		for (size_t i = 0; i < t->n_fish; i++)
			json_object_array_add(a, fish_to_json(&t->fish[i]));
		json_object_object_add(o, "fish", a);
	}
	add_entities(o, t);
	return o;
}

json_object *tank_to_json(const struct tank *t)
{
	return tank_json(t, true);
}

json_object *tank_to_json_without_fish(const struct tank *t)
{
	return tank_json(t, false);
}

static int params_from_json(json_object *o, struct tank_params *p, struct json_err *e)
{
	json_object *x;
	int r;
	if ((r = jv_object(o, "params", true, &x, e)) < 0)
		return r;
	if ((r = jv_u64hex(x, "seed", true, &p->seed, e)) < 0 ||
	    (r = jv_int(x, "width", true, 200, SIM_MAX_WORLD, &p->width, e)) < 0 ||
	    (r = jv_int(x, "height", true, 200, SIM_MAX_WORLD, &p->height, e)) < 0 ||
	    (r = jv_int(x, "max_fish", true, 0, SIM_MAX_FISH_LIMIT, &p->max_fish, e)) < 0 ||
	    (r = jv_int(x, "initial_fish", true, 0, SIM_MAX_FISH_LIMIT, &p->initial_fish, e)) < 0 ||
	    (r = jv_int(x, "initial_food", true, 0, 1000000, &p->initial_food, e)) < 0 ||
	    (r = jv_int(x, "initial_plants", true, 0, SIM_MAX_ROOT_SPOTS, &p->initial_plants, e)) <
		    0 ||
	    (r = jv_int(x, "root_spots", true, 1, SIM_MAX_ROOT_SPOTS, &p->root_spots, e)) < 0 ||
	    (r = jv_int(x, "crabs", true, 0, SIM_MAX_CRABS, &p->crabs, e)) < 0 ||
	    (r = jv_double(x, "food_rate", true, 0, 10000, &p->food_rate, e)) < 0 ||
	    (r = jv_bool(x, "emergency_spawn", true, &p->emergency_spawn, e)) < 0)
		return json_err_in(e, "params", r);
	/* Optional: tanks saved before these existed get the defaults. */
	struct tank_params d = tank_params_default(0);
	p->spawn_floor = d.spawn_floor;
	p->history_interval = d.history_interval;
	p->history_size = d.history_size;
	p->lineage_depth = d.lineage_depth;
	if ((r = jv_int(x, "spawn_floor", false, 0, SIM_MAX_FISH_LIMIT, &p->spawn_floor, e)) < 0 ||
	    (r = jv_int(x, "history_interval", false, 1, 1000000, &p->history_interval, e)) < 0 ||
	    (r = jv_int(x, "history_size", false, 0, 100000, &p->history_size, e)) < 0 ||
	    (r = jv_int(x, "lineage_depth", false, 0, 1000, &p->lineage_depth, e)) < 0)
		return json_err_in(e, "params", r);
	if ((r = tank_params_check(p, e)) < 0)
		return json_err_in(e, "params", r);
	return 0;
}

static int u64_field(json_object *o, const char *key, uint64_t *v, struct json_err *e)
{
	int64_t x;
	int r = jv_int64(o, key, true, 0, INT64_MAX, &x, e);
	if (r >= 0)
		*v = (uint64_t)x;
	return r;
}

/* Optional: tanks saved before real poker have no books (they start at zero). */
static int poker_books_from_json(json_object *o, struct tank *t, struct json_err *e)
{
	json_object *x, *st, *y;
	int r;
	if (!json_object_object_get_ex(o, "poker", &x))
		return 0;
	if ((r = jv_object(o, "poker", true, &x, e)) < 0 ||
	    (r = jv_double(x, "energy_moved", true, 0, 1e300, &t->poker_energy_moved, e)) < 0 ||
	    (r = u64_field(x, "births", &t->poker_births, e)) < 0 ||
	    (r = jv_object(x, "strategies", true, &st, e)) < 0)
		return json_err_in(e, "poker", r);
	for (int i = 0; i < POKER_STRATEGY_COUNT; i++) {
		if ((r = jv_object(st, poker_defs[i].name, true, &y, e)) < 0 ||
		    (r = u64_field(y, "hands", &t->strat_hands[i], e)) < 0 ||
		    (r = u64_field(y, "wins", &t->strat_wins[i], e)) < 0 ||
		    (r = jv_double(y, "net", true, -1e300, 1e300, &t->strat_net[i], e)) < 0)
			return json_err_in(e, "poker", json_err_in(e, "strategies", r));
		if (t->strat_wins[i] > t->strat_hands[i])
			return jv_fail(e, "poker: strategies: %s won more hands than it played",
				       poker_defs[i].name);
	}
	return 0;
}

static int state_from_json(json_object *o, struct tank *t, struct json_err *e)
{
	json_object *x;
	int64_t frame, last;
	int r;
	if ((r = jv_int64(o, "frame", true, 0, INT64_MAX / 2, &frame, e)) < 0)
		return r;
	t->frame = (uint64_t)frame;
	if ((r = jv_array(o, "rng", true, 4, &x, e)) < 0)
		return r;
	if (json_object_array_length(x) != 4)
		return jv_fail(e, "rng must hold four words");
	for (size_t i = 0; i < 4; i++) {
		/* jv_u64hex reads object members, so wrap each word in a tiny object. */
		json_object *w = json_object_new_object();
		json_object_object_add(w, "v", json_object_get(json_object_array_get_idx(x, i)));
		r = jv_u64hex(w, "v", true, &t->rng.s[i], e);
		json_object_put(w);
		if (r < 0)
			return json_err_in(e, "rng", r);
	}
	if (!(t->rng.s[0] | t->rng.s[1] | t->rng.s[2] | t->rng.s[3]))
		return jv_fail(e, "rng state must not be all zero");
	if ((r = jv_object(o, "serials", true, &x, e)) < 0 ||
	    (r = jv_u64hex(x, "fish", true, &t->fish_serial, e)) < 0 ||
	    (r = jv_u64hex(x, "food", true, &t->food_serial, e)) < 0 ||
	    (r = jv_u64hex(x, "plant", true, &t->plant_serial, e)) < 0 ||
	    (r = jv_u64hex(x, "crab", true, &t->crab_serial, e)) < 0)
		return json_err_in(e, "serials", r);
	if ((r = jv_object(o, "exits", true, &x, e)) < 0 ||
	    (r = jv_bool(x, "left", true, &t->exit[WALL_LEFT], e)) < 0 ||
	    (r = jv_bool(x, "right", true, &t->exit[WALL_RIGHT], e)) < 0)
		return json_err_in(e, "exits", r);
	if ((r = jv_double(o, "food_accum", true, 0, 1e9, &t->food_accum, e)) < 0 ||
	    (r = jv_int64(o, "last_emergency", true, 0, frame, &last, e)) < 0)
		return r;
	t->last_emergency = (uint64_t)last;
	if ((r = jv_object(o, "counters", true, &x, e)) < 0)
		return r;
	for (size_t i = 0; i < N_COUNTERS; i++)
		if ((r = u64_field(x, counter_names[i], counter_ptr(t, i), e)) < 0)
			return json_err_in(e, "counters", r);
	json_object *dc;
	int64_t pin = 0, pout = 0; /* optional: saved before plants migrated */
	if ((r = jv_int64(x, "plant_migrations_in", false, 0, INT64_MAX, &pin, e)) < 0 ||
	    (r = jv_int64(x, "plant_migrations_out", false, 0, INT64_MAX, &pout, e)) < 0)
		return json_err_in(e, "counters", r);
	t->plant_migrations_in = (uint64_t)pin;
	t->plant_migrations_out = (uint64_t)pout;
	if ((r = jv_int(x, "max_generation", true, 0, GENERATION_MAX, &t->max_generation, e)) < 0 ||
	    (r = jv_object(x, "deaths_by_cause", true, &dc, e)) < 0)
		return json_err_in(e, "counters", r);
	for (int i = 0; i < DEATH_CAUSE_COUNT; i++)
		if ((r = u64_field(dc, death_cause_name(i), &t->deaths_by_cause[i], e)) < 0)
			return json_err_in(e, "deaths_by_cause", r);
	if ((r = jv_object(o, "energy_flow", true, &x, e)) < 0)
		return r;
	for (int i = 0; i < ENERGY_FLOW_COUNT; i++)
		if ((r = jv_double(x, energy_flow_name(i), true, -1e300, 1e300, &t->flow[i], e)) < 0)
			return json_err_in(e, "energy_flow", r);
	if ((r = poker_books_from_json(o, t, e)) < 0 || (r = gene_bank_from_json(o, t, e)) < 0)
		return r;
	int64_t banked = 0;
	if ((r = jv_int64(o, "spawns_banked", false, 0, INT64_MAX, &banked, e)) < 0)
		return r;
	t->spawns_banked = (uint64_t)banked;
	if ((r = history_from_json(o, t, e)) < 0)
		return r;
	if ((r = events_from_json(o, t, e)) < 0)
		return r;
	return lineage_from_json(o, t, e);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The fish come from the "fish" array, or, decoded already by the caller, from
 * given[] (adopted in order, so the array order, part of the state, is kept). */
static int fish_list_from_json(json_object *o, struct tank *t, struct fish **given, size_t n_given,
			       struct json_err *e)
{
	json_object *a;
	int r;
	if (given) {
		for (size_t i = 0; i < n_given; i++) {
			tank_adopt_fish(t, given[i]);
			given[i] = NULL;
		}
	} else {
		if ((r = jv_array(o, "fish", true, SIM_MAX_FISH_LIMIT, &a, e)) < 0)
			return r;
		size_t n = json_object_array_length(a);
		for (size_t i = 0; i < n; i++) {
			struct fish *f;
			if ((r = fish_from_json(json_object_array_get_idx(a, i), &f, e)) < 0)
				return json_err_in(e, "fish", r);
			tank_adopt_fish(t, f);
		}
	}
	if ((r = jv_array(o, "exited", true, SIM_MAX_FISH_LIMIT, &a, e)) < 0)
		return r;
	size_t n = json_object_array_length(a);
	for (size_t i = 0; i < n; i++) {
		json_object *it = json_object_array_get_idx(a, i), *fo;
		const char *wall;
		struct fish *f;
		if (!json_object_is_type(it, json_type_object))
			return jv_fail(e, "exited: entries must be objects");
		if ((r = jv_string(it, "wall", true, 1, 8, &wall, e)) < 0 ||
		    (r = jv_object(it, "fish", true, &fo, e)) < 0)
			return json_err_in(e, "exited", r);
		enum wall w = strcmp(wall, "left") == 0	   ? WALL_LEFT
			      : strcmp(wall, "right") == 0 ? WALL_RIGHT
							   : WALL_NONE;
		if (w == WALL_NONE)
			return jv_fail(e, "exited: wall must be \"left\" or \"right\"");
		if ((r = fish_from_json(fo, &f, e)) < 0)
			return json_err_in(e, "exited", r);
		sim_grow((void **)&t->exited, &t->cap_exited, t->n_exited + 1, sizeof *t->exited);
		t->exited[t->n_exited++] = (struct exited){f, w};
	}
	/* Every fish id is unique, in the tank and in the exit queue together. */
	size_t total = t->n_fish + t->n_exited;
	if (total > 1) {
		const char **ids = sim_xcalloc(total, sizeof *ids);
		for (size_t i = 0; i < t->n_fish; i++)
			ids[i] = t->fish[i].id;
		for (size_t i = 0; i < t->n_exited; i++)
			ids[t->n_fish + i] = t->exited[i].f->id;
		qsort(ids, total, sizeof *ids, cmp_str);
		bool dup = false;
		for (size_t i = 1; i < total && !dup; i++)
			dup = strcmp(ids[i - 1], ids[i]) == 0;
		free(ids);
		if (dup)
			return jv_fail(e, "fish: duplicate fish id");
	}
	return 0;
}

static int food_from_json(json_object *it, struct tank *t, struct food *fd, struct json_err *e)
{
	const double W = SIM_MAX_WORLD;
	const char *kind;
	int64_t id;
	int r;
	if (!json_object_is_type(it, json_type_object))
		return jv_fail(e, "entries must be objects");
	memset(fd, 0, sizeof *fd);
	if ((r = jv_int64(it, "id", true, 1, (int64_t)(t->food_serial & INT64_MAX), &id, e)) < 0 ||
	    (r = jv_string(it, "food_type", true, 1, 16, &kind, e)) < 0)
		return r;
	fd->id = (uint64_t)id;
	fd->kind = -1;
	for (int k = 0; k < FOOD_KIND_COUNT; k++)
		if (strcmp(kind, food_kind_names[k]) == 0)
			fd->kind = k;
	if (fd->kind < 0)
		return jv_fail(e, "unknown food_type \"%s\"", kind);
	if ((r = jv_double(it, "x", true, -W, W, &fd->x, e)) < 0 ||
	    (r = jv_double(it, "y", true, -W, W, &fd->y, e)) < 0 ||
	    (r = jv_double(it, "vx", true, -100, 100, &fd->vx, e)) < 0 ||
	    (r = jv_double(it, "vy", true, -1e4, 1e4, &fd->vy, e)) < 0 ||
	    (r = jv_double(it, "max_energy", true, 0.001, 1000, &fd->max_energy, e)) < 0 ||
	    (r = jv_double(it, "energy", true, 0, fd->max_energy, &fd->energy, e)) < 0 ||
	    (r = jv_int(it, "timer", true, 0, 1000, &fd->timer, e)) < 0 ||
	    (r = jv_int(it, "age", false, 0, LIVE_FOOD_LIFESPAN, &fd->age, e)) < 0 ||
	    (r = jv_int(it, "source_spot", true, -1, t->p.root_spots - 1, &fd->source_spot, e)) <
		    0 ||
	    (r = jv_u64hex(it, "source_plant", true, &fd->source_plant, e)) < 0)
		return r;
	return 0;
}

int plant_from_json(json_object *it, struct plant *p, struct json_err *e)
{
	json_object *g;
	const char *ft;
	int r;
	if (!json_object_is_type(it, json_type_object))
		return jv_fail(e, "entries must be objects");
	memset(p, 0, sizeof *p);
	if ((r = json_get_id(it, "id", true, p->id, e)) < 0 ||
	    (r = json_get_id(it, "parent_id", false, p->parent_id, e)) < 0 ||
	    (r = jv_u64hex(it, "serial", true, &p->serial, e)) < 0 ||
	    (r = jv_int(it, "root_spot", true, 0, SIM_MAX_ROOT_SPOTS, &p->spot, e)) < 0 ||
	    (r = jv_double(it, "energy", true, 0, 1000, &p->energy, e)) < 0 ||
	    (r = jv_int(it, "age", true, 0, INT32_MAX, &p->age, e)) < 0 ||
	    (r = jv_int(it, "generation", true, 0, INT32_MAX, &p->generation, e)) < 0 ||
	    (r = jv_int(it, "poker_cooldown", true, 0, PLANT_POKER_COOLDOWN, &p->poker_cooldown,
			e)) < 0 ||
	    (r = jv_int(it, "nectar_cooldown", true, 0, NECTAR_COOLDOWN, &p->nectar_cooldown, e)) <
		    0 ||
	    (r = jv_int(it, "poker_wins", true, 0, INT32_MAX, &p->poker_wins, e)) < 0 ||
	    (r = jv_int(it, "poker_losses", true, 0, INT32_MAX, &p->poker_losses, e)) < 0 ||
	    (r = jv_int(it, "nectar_produced", true, 0, INT32_MAX, &p->nectar_produced, e)) < 0 ||
	    (r = jv_object(it, "genome", true, &g, e)) < 0 ||
	    (r = jv_string(g, "fractal_type", true, 1, 32, &ft, e)) < 0)
		return r;
	p->g.fractal_type = -1;
	for (int k = 0; k < PLANT_FRACTAL_TYPES; k++)
		if (strcmp(ft, plant_fractal_names[k]) == 0)
			p->g.fractal_type = k;
	for (int i = 0; i < PLANT_TRAIT_COUNT; i++)
		if ((r = jv_double(g, plant_trait_defs[i].name, true, plant_trait_defs[i].lo,
				   plant_trait_defs[i].hi, &p->g.t[i], e)) < 0)
			return json_err_in(e, "genome", r);
	return 0;
}

static int crab_from_json(json_object *it, const struct tank *t, struct crab *c, struct json_err *e)
{
	int64_t id;
	int r;
	if (!json_object_is_type(it, json_type_object))
		return jv_fail(e, "entries must be objects");
	memset(c, 0, sizeof *c);
	if ((r = jv_int64(it, "id", true, 1, (int64_t)(t->crab_serial & INT64_MAX), &id, e)) < 0 ||
	    (r = jv_double(it, "x", true, 0, t->p.width, &c->x, e)) < 0 ||
	    (r = jv_double(it, "y", true, 0, t->p.height, &c->y, e)) < 0 ||
	    (r = jv_double(it, "vx", true, -10, 10, &c->vx, e)) < 0 ||
	    (r = jv_double(it, "speed_gene", true, 0.8, 1.2, &c->g_speed, e)) < 0 ||
	    (r = jv_double(it, "metabolism_gene", true, 0.8, 1.2, &c->g_metabolism, e)) < 0 ||
	    (r = jv_double(it, "energy_gene", true, 0.8, 1.2, &c->g_energy, e)) < 0 ||
	    (r = jv_double(it, "energy", true, 0, 150.0 * c->g_energy, &c->energy, e)) < 0 ||
	    (r = jv_int(it, "hunt_cooldown", true, 0, CRAB_HUNT_COOLDOWN, &c->hunt_cooldown, e)) < 0)
		return r;
	c->id = (uint64_t)id;
	return 0;
}

static int world_from_json(json_object *o, struct tank *t, struct json_err *e)
{
	json_object *a;
	int r;
	if ((r = jv_array(o, "food", true, food_cap(t), &a, e)) < 0)
		return r;
	size_t n = json_object_array_length(a);
	t->food = sim_xcalloc(n ? n : 1, sizeof *t->food);
	t->cap_food = n ? n : 1;
	for (size_t i = 0; i < n; i++, t->n_food++)
		if ((r = food_from_json(json_object_array_get_idx(a, i), t, &t->food[i], e)) < 0)
			return json_err_in(e, "food", r);
	if ((r = jv_array(o, "plants", true, (size_t)t->p.root_spots, &a, e)) < 0)
		return r;
	n = json_object_array_length(a);
	t->plants = sim_xcalloc(n ? n : 1, sizeof *t->plants);
	t->cap_plants = n ? n : 1;
	for (size_t i = 0; i < n; i++, t->n_plants++) {
		struct plant *p = &t->plants[i];
		if ((r = plant_from_json(json_object_array_get_idx(a, i), p, e)) < 0 ||
		    (r = plant_check(p, t->p.root_spots, e)) < 0)
			return json_err_in(e, "plants", r);
		if (p->serial >= t->plant_serial)
			return jv_fail(e, "plants: serial beyond the plant serial counter");
		for (size_t j = 0; j < i; j++)
			if (t->plants[j].spot == p->spot || t->plants[j].serial == p->serial)
				return jv_fail(e, "plants: two plants share a root spot or serial");
	}
	if ((r = jv_array(o, "crabs", true, SIM_MAX_CRABS, &a, e)) < 0)
		return r;
	n = json_object_array_length(a);
	t->crabs = sim_xcalloc(n ? n : 1, sizeof *t->crabs);
	for (size_t i = 0; i < n; i++, t->n_crabs++)
		if ((r = crab_from_json(json_object_array_get_idx(a, i), t, &t->crabs[i], e)) < 0)
			return json_err_in(e, "crabs", r);
	return 0;
}

static int tank_decode(json_object *o, struct fish **given, size_t n_given, struct tank **ret,
		       struct json_err *e)
{
	const char *kind, *id;
	int version, r;
	if (!o || !json_object_is_type(o, json_type_object))
		return jv_fail(e, "a tank must be a JSON object");
	if ((r = jv_string(o, "kind", true, 1, 16, &kind, e)) < 0)
		return r;
	if (strcmp(kind, "tank") != 0)
		return jv_fail(e, "kind must be \"tank\"");
	if ((r = jv_int(o, "version", true, TANK_JSON_VERSION, TANK_JSON_VERSION, &version, e)) <
		    0 ||
	    (r = jv_string(o, "tank_id", true, 1, TANK_ID_MAX, &id, e)) < 0)
		return r;
	if (!object_id_valid(id, TANK_ID_MAX))
		return jv_fail(e, "tank_id has invalid characters");
	struct tank *t = sim_xcalloc(1, sizeof *t);
	strcpy(t->id, id);
	if ((r = params_from_json(o, &t->p, e)) < 0)
		goto fail;
	/* Derived state first: the entity decoders need the spot index. */
	tank_init_derived(t);
	if ((r = state_from_json(o, t, e)) < 0 ||
	    (r = fish_list_from_json(o, t, given, n_given, e)) < 0 ||
	    (r = world_from_json(o, t, e)) < 0)
		goto fail;
	lineage_cover_living(t);
	plants_reindex(t);
	tank_time_update(t);
	*ret = t;
	return 0;
fail:
	tank_free(t);
	return r < 0 ? r : -EINVAL;
}

int tank_from_json(json_object *o, struct tank **ret, struct json_err *e)
{
	return tank_decode(o, NULL, 0, ret, e);
}

int tank_from_json_with_fish(json_object *o, struct fish **fish, size_t n, struct tank **ret,
			     struct json_err *e)
{
	int r = tank_decode(o, fish, n, ret, e);
	for (size_t i = 0; i < n; i++)
		if (fish[i]) { /* not adopted: the decode failed before the fish */
			fish_free(fish[i]);
			fish[i] = NULL;
		}
	return r;
}

uint64_t tank_state_hash(const struct tank *t)
{
	json_object *o = tank_to_json(t);
	const char *s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
								  JSON_C_TO_STRING_NOSLASHESCAPE);
	uint64_t h = 0xcbf29ce484222325ULL;
	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 0x100000001b3ULL;
	}
	json_object_put(o);
	return h;
}

json_object *tank_entities_json(const struct tank *t)
{
	struct entities *e = entities_copy(t);
	json_object *a = entities_json(e);
	entities_free(e);
	return a;
}
