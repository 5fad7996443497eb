/* The original's fish, translated into ours (docs/legacy.md lists every field).
 *
 * What maps is carried over and clamped to our ranges; what the original never had
 * (heading, memory entries, visual traits, algorithms, identity...) comes from a fish that
 * a throw-away tank seeded with the payload's hash spawns. The same payload therefore
 * always gives the same fish, id included. Each carried field is checked by decoding: a
 * value our core refuses keeps the drawn one, so a strange payload still gives a valid fish. */
#include "config.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "legacy.h"
#include "sim/sim.h"

#define FNV_OFFSET 0xcbf29ce484222325ull
#define FNV_PRIME 0x100000001b3ull

static uint64_t fnv(uint64_t h, const char *s)
{
	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= FNV_PRIME;
	}
	/* A separator, so that ("ab","c") and ("a","bc") differ. */
	h ^= 0xff;
	return h * FNV_PRIME;
}

bool legacy_is_original_fish(json_object *entity)
{
	json_object *v;
	if (!entity || !json_object_is_type(entity, json_type_object) ||
	    json_object_object_get_ex(entity, "kind", NULL))
		return false;
	return json_object_object_get_ex(entity, "genome_data", NULL) ||
	       (json_object_object_get_ex(entity, "type", &v) &&
		json_object_is_type(v, json_type_string));
}

uint64_t legacy_hash(json_object *entity, const char *source_server, const char *source_tank,
		     const char *dest_tank)
{
	uint64_t h = FNV_OFFSET;
	h = fnv(h, source_server ? source_server : "");
	h = fnv(h, source_tank ? source_tank : "");
	h = fnv(h, dest_tank ? dest_tank : "");
	return fnv(h, json_object_to_json_string_ext(entity, JSON_C_TO_STRING_PLAIN));
}

void legacy_uuid(uint64_t h, const char *salt, char out[UUID_STR_LEN])
{
	uint64_t a = fnv(h ^ FNV_OFFSET, salt), b = fnv(a, salt);
	/* Version 8 (vendor-defined) and the RFC 4122 variant. */
	a = (a & ~0xf000ull) | 0x8000ull;
	b = (b & ~(3ull << 62)) | (2ull << 62);
	snprintf(out, UUID_STR_LEN, "%08x-%04x-%04x-%04x-%012llx", (unsigned)(a >> 32),
		 (unsigned)(a >> 16) & 0xffff, (unsigned)a & 0xffff, (unsigned)(b >> 48),
		 (unsigned long long)(b & 0xffffffffffffull));
}

/* A fish drawn from seed h: every field valid, none from the payload. */
static json_object *drawn_fish(uint64_t h)
{
	struct tank_params p = tank_params_default(h);
	p.initial_fish = 1;
	p.initial_food = 0;
	p.initial_plants = 0;
	p.crabs = 0;
	struct tank *t = tank_new(&p, "legacy");
	if (!t || tank_fish_count(t) < 1) {
		tank_free(t);
		return NULL;
	}
	json_object *o = fish_to_json(tank_fish_at(t, 0));
	tank_free(t);
	return o;
}

static bool valid(json_object *fish)
{
	struct fish *f;
	struct json_err e;
	if (fish_from_json(fish, &f, &e) < 0)
		return false;
	fish_free(f);
	return true;
}

/* Set obj[key] = v if the fish stays valid; else keep what was there. */
static void try_set(json_object *fish, json_object *obj, const char *key, json_object *v)
{
	json_object *old = NULL;
	if (json_object_object_get_ex(obj, key, &old))
		json_object_get(old);
	json_object_object_add(obj, key, v);
	if (valid(fish)) {
		json_object_put(old);
		return;
	}
	json_object_object_add(obj, key, old);
}

static bool num(json_object *o, const char *key, double *ret)
{
	json_object *v;
	if (!json_object_object_get_ex(o, key, &v) || !v ||
	    !(json_object_is_type(v, json_type_double) || json_object_is_type(v, json_type_int)))
		return false;
	*ret = json_object_get_double(v);
	return isfinite(*ret);
}

static double clamp(double v, double lo, double hi)
{
	return v < lo ? lo : v > hi ? hi : v;
}

/* The original's genome traits that ours has too, with our bounds (sim/genome.c). */
static const struct {
	const char *name;
	double lo, hi;
} traits[] = {
	{"speed_modifier", 0.5, 1.5},  {"size_modifier", 0.7, 1.3}, {"vision_range", 0.7, 1.3},
	{"metabolism_rate", 0.7, 1.3}, {"max_energy", 0.7, 1.5},    {"fertility", 0.6, 1.4},
	{"color_hue", 0, 1},	       {"aggression", 0, 1},	    {"social_tendency", 0, 1},
};

static void genome_overlay(json_object *fish, json_object *g, json_object *og)
{
	double v;
	for (size_t i = 0; i < sizeof traits / sizeof traits[0]; i++)
		if (num(og, traits[i].name, &v))
			try_set(fish, g, traits[i].name,
				json_object_new_double(clamp(v, traits[i].lo, traits[i].hi)));
	if (num(og, "template_id", &v))
		try_set(fish, g, "template_id", json_object_new_int((int)clamp(v, 0, 5)));
	/* A strategy we also have keeps its name; its parameters are ours (drawn). */
	json_object *ps, *id, *mine;
	if (json_object_object_get_ex(og, "poker_strategy_algorithm", &ps) && ps &&
	    json_object_object_get_ex(ps, "strategy_id", &id) &&
	    json_object_is_type(id, json_type_string) &&
	    json_object_object_get_ex(g, "poker_strategy_algorithm", &mine))
		for (size_t i = 0; i < sim_poker_strategy_count(); i++)
			if (strcmp(sim_poker_strategy_name(i), json_object_get_string(id)) == 0)
				try_set(fish, mine, "strategy_id",
					json_object_new_string(sim_poker_strategy_name(i)));
}

/* Position, generation, ages and cooldown, clamped to our ranges. Age 0 first, so
 * that any max_age the core accepts can be set, then the age. */
static void overlay_scalars(json_object *fish, json_object *entity)
{
	double v;
	if (num(entity, "x", &v))
		try_set(fish, fish, "x", json_object_new_double(clamp(v, 0, 100000)));
	if (num(entity, "y", &v))
		try_set(fish, fish, "y", json_object_new_double(clamp(v, 0, 100000)));
	/* The original counts one generation: the deepest line is the same count (a bred
	 * fish's is never below its generation; before 7 December it was left at 0). */
	if (num(entity, "generation", &v)) {
		try_set(fish, fish, "generation_deepest",
			json_object_new_int((int)clamp(v, 0, 1e8)));
		try_set(fish, fish, "generation", json_object_new_int((int)clamp(v, 0, 1e8)));
	}
	try_set(fish, fish, "age", json_object_new_int(0));
	if (num(entity, "max_age", &v))
		try_set(fish, fish, "max_age", json_object_new_int((int)clamp(v, 1, 8100)));
	if (num(entity, "age", &v))
		try_set(fish, fish, "age", json_object_new_int((int)clamp(v, 0, 8100)));
	if (num(entity, "reproduction_cooldown", &v))
		try_set(fish, fish, "reproduction_cooldown",
			json_object_new_int((int)clamp(v, 0, 360)));
}

/* Speed, velocity and energy: their limits depend on the genome and on what was set
 * before them, so each is checked against the fish as it is so far. */
static void overlay_motion(json_object *fish, json_object *entity)
{
	double v, w;
	/* The original sends the effective speed (base x modifier) and multiplied it by the
	 * modifier again on arrival (spec §1.10); ours carries the base. */
	struct fish *f;
	struct json_err ie;
	if (num(entity, "speed", &v) && v > 0 && fish_from_json(fish, &f, &ie) == 0) {
		double mod = fish_trait(f, "speed_modifier");
		fish_free(f);
		if (mod > 0)
			try_set(fish, fish, "base_speed",
				json_object_new_double(clamp(v / mod, 0.01, 20)));
	}
	/* Velocity and energy last: their limits depend on the speed. */
	if (num(entity, "vel_x", &v) && num(entity, "vel_y", &w) &&
	    fish_from_json(fish, &f, &ie) == 0) {
		double vmax = 1.2 * fish_speed(f), n = sqrt(v * v + w * w);
		fish_free(f);
		if (n > vmax && n > 0) {
			v *= vmax / n * 0.999;
			w *= vmax / n * 0.999;
		}
		try_set(fish, fish, "vx", json_object_new_double(v));
		try_set(fish, fish, "vy", json_object_new_double(w));
	}
	if (num(entity, "energy", &v) && fish_from_json(fish, &f, &ie) == 0) {
		double max = fish_max_energy(f);
		fish_free(f);
		try_set(fish, fish, "energy", json_object_new_double(clamp(v, 0, max)));
	}
}

json_object *legacy_fish_translate(json_object *entity, uint64_t h, struct json_err *e)
{
	if (!legacy_is_original_fish(entity)) {
		jv_fail(e, "not an original fish entity");
		return NULL;
	}
	json_object *type;
	/* "type": null is there and is no string (json-c gives NULL for it). */
	if (json_object_object_get_ex(entity, "type", &type) &&
	    (!json_object_is_type(type, json_type_string) ||
	     strcmp(json_object_get_string(type), "fish") != 0)) {
		jv_fail(e, "only fish can move here, not %.40s", json_object_to_json_string(type));
		return NULL;
	}
	json_object *fish = drawn_fish(h);
	if (!fish) {
		jv_fail(e, "cannot draw a fish");
		return NULL;
	}
	char id[UUID_STR_LEN];
	legacy_uuid(h, "fish", id);
	json_object_object_add(fish, "id", json_object_new_string(id));

	json_object *g, *og;
	json_object_object_get_ex(fish, "genome", &g);
	if (json_object_object_get_ex(entity, "genome_data", &og) && og &&
	    json_object_is_type(og, json_type_object))
		genome_overlay(fish, g, og);

	overlay_scalars(fish, entity);
	overlay_motion(fish, entity);
	/* Parents are integer ids of another tank there: no link survives (spec §1.10). */
	json_object_object_add(fish, "mother_id", NULL);
	json_object_object_add(fish, "father_id", NULL);
	if (!valid(fish)) { /* cannot happen: every step kept the fish valid */
		json_object_put(fish);
		jv_fail(e, "translation gave an invalid fish");
		return NULL;
	}
	return fish;
}
