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

#define ADD(o, k, v) json_object_object_add((o), (k), (v))
#define D(v) json_object_new_double(v)
#define I(v) json_object_new_int64((int64_t)(v))
#define TANK_JSON_VERSION 1

static const char *const counter_names[] = {"births",           "births_refused",
					    "spawns",           "deaths",
					    "migrations_in",    "migrations_out",
					    "poker_games",      "plant_poker_games",
					    "plants_sprouted"};
#define N_COUNTERS (sizeof counter_names / sizeof counter_names[0])

static uint64_t *counter_ptr(struct tank *t, size_t i)
{
	uint64_t *p[] = {&t->births,          &t->births_refused,   &t->spawns,
			 &t->deaths,          &t->migrations_in,    &t->migrations_out,
			 &t->poker_games,     &t->plant_poker_games, &t->plants_sprouted};
	return p[i];
}

static json_object *food_to_json(const struct food *fd)
{
	json_object *o = json_object_new_object();
	ADD(o, "id", I(fd->id));
	ADD(o, "food_type", json_object_new_string(food_kind_names[fd->kind]));
	ADD(o, "x", D(fd->x));
	ADD(o, "y", D(fd->y));
	ADD(o, "vx", D(fd->vx));
	ADD(o, "vy", D(fd->vy));
	ADD(o, "energy", D(fd->energy));
	ADD(o, "max_energy", D(fd->max_energy));
	ADD(o, "timer", I(fd->timer));
	ADD(o, "source_spot", I(fd->source_spot));
	ADD(o, "source_plant", jv_new_u64hex(fd->source_plant));
	return o;
}

static json_object *plant_to_json(const struct plant *p)
{
	json_object *o = json_object_new_object(), *g = json_object_new_object();
	ADD(o, "id", json_object_new_string(p->id));
	ADD(o, "parent_id", json_id_or_null(p->parent_id));
	ADD(o, "serial", jv_new_u64hex(p->serial));
	ADD(o, "root_spot", I(p->spot));
	ADD(o, "energy", D(p->energy));
	ADD(o, "max_energy", D(plant_max_energy(p)));
	ADD(o, "age", I(p->age));
	ADD(o, "generation", I(p->generation));
	ADD(o, "poker_cooldown", I(p->poker_cooldown));
	ADD(o, "nectar_cooldown", I(p->nectar_cooldown));
	ADD(o, "poker_wins", I(p->poker_wins));
	ADD(o, "poker_losses", I(p->poker_losses));
	ADD(o, "nectar_produced", I(p->nectar_produced));
	ADD(g, "fractal_type", json_object_new_string(plant_fractal_names[p->g.fractal_type]));
	for (int i = 0; i < PLANT_TRAIT_COUNT; i++)
		ADD(g, plant_trait_defs[i].name, D(p->g.t[i]));
	ADD(o, "genome", g);
	return o;
}

static json_object *crab_to_json(const struct crab *c)
{
	json_object *o = json_object_new_object();
	ADD(o, "id", I(c->id));
	ADD(o, "x", D(c->x));
	ADD(o, "y", D(c->y));
	ADD(o, "vx", D(c->vx));
	ADD(o, "energy", D(c->energy));
	ADD(o, "speed_gene", D(c->g_speed));
	ADD(o, "metabolism_gene", D(c->g_metabolism));
	ADD(o, "energy_gene", D(c->g_energy));
	ADD(o, "hunt_cooldown", I(c->hunt_cooldown));
	return o;
}

json_object *tank_to_json(const struct tank *t)
{
	json_object *o = json_object_new_object(), *x, *a;
	ADD(o, "kind", json_object_new_string("tank"));
	ADD(o, "version", I(TANK_JSON_VERSION));
	ADD(o, "tank_id", json_object_new_string(t->id));
	x = json_object_new_object();
	ADD(x, "seed", jv_new_u64hex(t->p.seed));
	ADD(x, "width", I(t->p.width));
	ADD(x, "height", I(t->p.height));
	ADD(x, "max_fish", I(t->p.max_fish));
	ADD(x, "initial_fish", I(t->p.initial_fish));
	ADD(x, "initial_food", I(t->p.initial_food));
	ADD(x, "initial_plants", I(t->p.initial_plants));
	ADD(x, "root_spots", I(t->p.root_spots));
	ADD(x, "crabs", I(t->p.crabs));
	ADD(x, "food_rate", D(t->p.food_rate));
	ADD(x, "emergency_spawn", json_object_new_boolean(t->p.emergency_spawn));
	ADD(o, "params", x);
	ADD(o, "frame", I(t->frame));
	a = json_object_new_array_ext(4);
	for (int i = 0; i < 4; i++)
		json_object_array_add(a, jv_new_u64hex(t->rng.s[i]));
	ADD(o, "rng", a);
	x = json_object_new_object();
	ADD(x, "fish", jv_new_u64hex(t->fish_serial));
	ADD(x, "food", jv_new_u64hex(t->food_serial));
	ADD(x, "plant", jv_new_u64hex(t->plant_serial));
	ADD(x, "crab", jv_new_u64hex(t->crab_serial));
	ADD(o, "serials", x);
	x = json_object_new_object();
	ADD(x, "left", json_object_new_boolean(t->exit[WALL_LEFT]));
	ADD(x, "right", json_object_new_boolean(t->exit[WALL_RIGHT]));
	ADD(o, "exits", x);
	ADD(o, "food_accum", D(t->food_accum));
	ADD(o, "last_emergency", I(t->last_emergency));
	x = json_object_new_object();
	for (size_t i = 0; i < N_COUNTERS; i++)
		ADD(x, counter_names[i], I(*counter_ptr((struct tank *)t, i)));
	ADD(x, "max_generation", I(t->max_generation));
	json_object *dc = json_object_new_object();
	for (int i = 0; i < DEATH_CAUSE_COUNT; i++)
		ADD(dc, death_cause_name(i), I(t->deaths_by_cause[i]));
	ADD(x, "deaths_by_cause", dc);
	ADD(o, "counters", x);
	x = json_object_new_object();
	for (int i = 0; i < ENERGY_FLOW_COUNT; i++)
		ADD(x, energy_flow_name(i), D(t->flow[i]));
	ADD(o, "energy_flow", x);

	a = json_object_new_array_ext((int)t->n_fish);
	for (size_t i = 0; i < t->n_fish; i++)
		json_object_array_add(a, fish_to_json(&t->fish[i]));
	ADD(o, "fish", a);
	a = json_object_new_array_ext((int)t->n_exited);
	for (size_t i = 0; i < t->n_exited; i++) {
		x = json_object_new_object();
		ADD(x, "wall", json_object_new_string(wall_name(t->exited[i].wall)));
		ADD(x, "fish", fish_to_json(t->exited[i].f));
		json_object_array_add(a, x);
	}
	ADD(o, "exited", a);
	a = json_object_new_array_ext((int)t->n_food);
	for (size_t i = 0; i < t->n_food; i++)
		json_object_array_add(a, food_to_json(&t->food[i]));
	ADD(o, "food", a);
	a = json_object_new_array_ext((int)t->n_plants);
	for (size_t i = 0; i < t->n_plants; i++)
		json_object_array_add(a, plant_to_json(&t->plants[i]));
	ADD(o, "plants", a);
	a = json_object_new_array_ext((int)t->n_crabs);
	for (size_t i = 0; i < t->n_crabs; i++)
		json_object_array_add(a, crab_to_json(&t->crabs[i]));
	ADD(o, "crabs", a);
	return o;
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
	    (r = jv_int(x, "initial_plants", true, 0, SIM_MAX_ROOT_SPOTS, &p->initial_plants, e)) < 0 ||
	    (r = jv_int(x, "root_spots", true, 1, SIM_MAX_ROOT_SPOTS, &p->root_spots, e)) < 0 ||
	    (r = jv_int(x, "crabs", true, 0, SIM_MAX_CRABS, &p->crabs, e)) < 0 ||
	    (r = jv_double(x, "food_rate", true, 0, 10000, &p->food_rate, e)) < 0 ||
	    (r = jv_bool(x, "emergency_spawn", true, &p->emergency_spawn, e)) < 0)
		return json_err_in(e, "params", r);
	if (tank_params_check(p) < 0)
		return jv_fail(e, "params: inconsistent tank parameters");
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
		ADD(w, "v", json_object_get(json_object_array_get_idx(x, i)));
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
	if ((r = jv_int(x, "max_generation", true, 0, 100000000, &t->max_generation, e)) < 0 ||
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
	return 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The fish come from the "fish" array, or, decoded already by the caller, from
 * given[] (adopted in order, so the array order, part of the state, is kept). */
static int fish_list_from_json(json_object *o, struct tank *t, struct fish **given,
			       size_t n_given, struct json_err *e)
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
		enum wall w = strcmp(wall, "left") == 0 ? WALL_LEFT :
			      strcmp(wall, "right") == 0 ? WALL_RIGHT : WALL_NONE;
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
	    (r = jv_int(it, "source_spot", true, -1, t->p.root_spots - 1, &fd->source_spot, e)) < 0 ||
	    (r = jv_u64hex(it, "source_plant", true, &fd->source_plant, e)) < 0)
		return r;
	return 0;
}

static int plant_from_json(json_object *it, struct plant *p, struct json_err *e)
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
	    (r = jv_int(it, "poker_cooldown", true, 0, PLANT_POKER_COOLDOWN, &p->poker_cooldown, e)) < 0 ||
	    (r = jv_int(it, "nectar_cooldown", true, 0, NECTAR_COOLDOWN, &p->nectar_cooldown, e)) < 0 ||
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

static int crab_from_json(json_object *it, const struct tank *t, struct crab *c,
			  struct json_err *e)
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
	if ((r = jv_int(o, "version", true, TANK_JSON_VERSION, TANK_JSON_VERSION, &version, e)) < 0 ||
	    (r = jv_string(o, "tank_id", true, 1, SIM_TANK_ID_MAX, &id, e)) < 0)
		return r;
	if (!object_id_valid(id, SIM_TANK_ID_MAX))
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

static json_object *entity(const char *kind, json_object *id, double x, double y, double vx,
			   double vy, double size, double energy)
{
	json_object *o = json_object_new_object();
	ADD(o, "kind", json_object_new_string(kind));
	ADD(o, "id", id);
	ADD(o, "x", D(x));
	ADD(o, "y", D(y));
	ADD(o, "vx", D(vx));
	ADD(o, "vy", D(vy));
	ADD(o, "size", D(size));
	ADD(o, "energy", D(energy));
	return o;
}

static json_object *str_id(const char *prefix, uint64_t n)
{
	char buf[48];
	snprintf(buf, sizeof buf, "%s-%llu", prefix, (unsigned long long)n);
	return json_object_new_string(buf);
}

json_object *tank_entities_json(const struct tank *t)
{
	json_object *a = json_object_new_array_ext(
		(int)(t->n_fish + t->n_food + t->n_plants + t->n_crabs + 1));
	for (size_t i = 0; i < t->n_fish; i++) {
		const struct fish *f = &t->fish[i];
		json_object *o = entity("fish", json_object_new_string(f->id), f->x, f->y, f->vx,
					f->vy, fish_size_of(f), f->energy);
		ADD(o, "max_energy", D(fish_max_energy_of(f)));
		ADD(o, "generation", I(f->generation));
		ADD(o, "age", I(f->age));
		ADD(o, "life_stage", json_object_new_string(life_stage_name(stage_of_age(f->age))));
		ADD(o, "behavior", json_object_new_string(algo_defs[f->g.behavior.algo].name));
		ADD(o, "poker_strategy", json_object_new_string(poker_defs[f->g.poker.id].name));
		ADD(o, "color_hue", D(f->g.t[T_COLOR_HUE]));
		ADD(o, "template_id", I(f->g.template_id));
		ADD(o, "pattern_type", I(f->g.pattern_type));
		ADD(o, "pattern_intensity", D(f->g.t[T_PATTERN_INTENSITY]));
		ADD(o, "pregnant", json_object_new_boolean(f->preg.active));
		json_object_array_add(a, o);
	}
	for (size_t i = 0; i < t->n_food; i++) {
		const struct food *fd = &t->food[i];
		json_object *o = entity("food", str_id("food", fd->id), fd->x, fd->y, fd->vx, fd->vy,
					fd->energy / fd->max_energy, fd->energy);
		ADD(o, "food_type", json_object_new_string(food_kind_names[fd->kind]));
		json_object_array_add(a, o);
	}
	for (size_t i = 0; i < t->n_plants; i++) {
		const struct plant *p = &t->plants[i];
		json_object *o = entity("plant", json_object_new_string(p->id), spot_x(t, p->spot),
					spot_y(t), 0, 0, plant_size(p), p->energy);
		ADD(o, "max_energy", D(plant_max_energy(p)));
		ADD(o, "root_spot", I(p->spot));
		ADD(o, "generation", I(p->generation));
		ADD(o, "fractal_type", json_object_new_string(plant_fractal_names[p->g.fractal_type]));
		ADD(o, "color_hue", D(p->g.t[PT_COLOR_HUE]));
		json_object_array_add(a, o);
	}
	for (size_t i = 0; i < t->n_crabs; i++) {
		const struct crab *c = &t->crabs[i];
		json_object_array_add(a, entity("crab", str_id("crab", c->id), c->x, c->y, c->vx, 0,
						1.0, c->energy));
	}
	json_object *castle = entity("castle", json_object_new_string("castle-1"),
				     CASTLE_X + CASTLE_W * 0.5, t->p.height - CASTLE_RISE + CASTLE_W * 0.5,
				     0, 0, 1.0, 0);
	ADD(castle, "width", D(CASTLE_W));
	ADD(castle, "height", D(CASTLE_W));
	json_object_array_add(a, castle);
	return a;
}
