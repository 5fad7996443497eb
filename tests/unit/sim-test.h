/* Helpers shared by the simulation-core unit tests (tests/unit/test-sim-*.c). */
#ifndef TW_SIM_TEST_H
#define TW_SIM_TEST_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonv.h"
#include "simd/sim/sim.h"

/* Inflows minus outflows booked by the tank since it was created. */
static inline double ledger_net(const struct tank_stats *s)
{
	double net = 0;
	for (int i = 0; i < ENERGY_FLOW_COUNT; i++)
		net += i < ENERGY_FLOW_FIRST_OUT ? s->energy_flow[i] : -s->energy_flow[i];
	return net;
}

/* |total - net| relative to the larger of the two (and at least 1). */
static inline double ledger_error(const struct tank *t)
{
	struct tank_stats s;
	tank_get_stats(t, &s);
	double net = ledger_net(&s);
	return fabs(s.total_energy - net) / fmax(1.0, fmax(fabs(net), s.total_energy));
}

/* A malloc'd copy of the compact JSON text of o; o is released. */
static inline char *json_take_string(json_object *o)
{
	char *s = strdup(jv_to_string(o));
	json_object_put(o);
	if (!s)
		abort();
	return s;
}

static inline json_object *json_parse_or_die(const char *s)
{
	struct json_err e = {""};
	json_object *o = jv_parse(s, strlen(s), 64, &e);
	if (!o)
		abort();
	return o;
}

static inline struct tank *tank_roundtrip(const struct tank *t, struct json_err *e)
{
	struct tank *r = NULL;
	char *s = json_take_string(tank_to_json(t));
	json_object *o = json_parse_or_die(s);
	free(s);
	if (tank_from_json(o, &r, e) < 0)
		r = NULL;
	json_object_put(o);
	return r;
}

/* Editing a tank through its JSON, to set up exact situations with the public API. */
static inline json_object *jget(json_object *o, const char *key)
{
	json_object *v = NULL;
	if (!json_object_object_get_ex(o, key, &v))
		abort();
	return v;
}

static inline json_object *jidx(json_object *a, size_t i)
{
	json_object *v = json_object_array_get_idx(a, i);
	if (!v)
		abort();
	return v;
}

static inline void jset_d(json_object *o, const char *key, double v)
{
	json_object_object_add(o, key, json_object_new_double(v));
}

static inline void jset_i(json_object *o, const char *key, int64_t v)
{
	json_object_object_add(o, key, json_object_new_int64(v));
}

/* Rebuild a tank from edited JSON (released); aborts if the edit made it invalid. */
static inline struct tank *tank_from_edit(json_object *o)
{
	struct json_err e = {""};
	struct tank *t = NULL;
	if (tank_from_json(o, &t, &e) < 0) {
		printf("# tank_from_json: %s\n", e.msg);
		abort();
	}
	json_object_put(o);
	return t;
}

/* A quiet tank: no food supply, no plants, no crabs, no emergency spawns. */
static inline struct tank_params quiet_params(uint64_t seed, int fish)
{
	struct tank_params p = tank_params_default(seed);
	p.initial_fish = fish;
	p.initial_food = 0;
	p.initial_plants = 0;
	p.crabs = 0;
	p.food_rate = 0;
	p.emergency_spawn = false;
	return p;
}

/* A default tank of the given seed with `fish` of `max_fish` fish, after its first frame. */
static inline struct tank *tank_first_frame(uint64_t seed, int fish, int max_fish, const char *name)
{
	struct tank_params p = tank_params_default(seed);
	p.initial_fish = fish;
	p.max_fish = max_fish;
	struct tank *t = tank_new(&p, name);
	tank_step(t);
	return t;
}

/* Population bookkeeping: every fish came from somewhere and went somewhere. */
static inline bool population_balanced(const struct tank *t)
{
	struct tank_stats s;
	tank_get_stats(t, &s);
	long long in = (long long)(s.spawns + s.births + s.migrations_in);
	long long out = (long long)(s.deaths + s.migrations_out);
	long long causes = 0;
	for (int i = 0; i < DEATH_CAUSE_COUNT; i++)
		causes += (long long)s.deaths_by_cause[i];
	return in - out == s.fish_count && causes == (long long)s.deaths;
}

#endif
