/* The original's fish into ours (simd/legacy.c): valid, deterministic, mapped fields
 * carried over and clamped, other kinds refused. */
#include "config.h"

#include <math.h>
#include <string.h>

#include "simd/legacy.h"
#include "simd/sim/sim.h"
#include "tap.h"

static const char original[] =
	"{\"type\":\"fish\",\"id\":7,\"species\":\"school.png\",\"x\":300.5,\"y\":200.25,"
	"\"vel_x\":1.5,\"vel_y\":-0.5,\"speed\":3.0,\"energy\":55.5,\"max_energy\":100.0,"
	"\"age\":120,\"max_age\":4000,\"generation\":4,\"parent_id\":3,"
	"\"genome_data\":{\"speed_modifier\":1.2,\"size_modifier\":0.9,\"vision_range\":1.1,"
	"\"metabolism_rate\":0.8,\"max_energy\":1.0,\"fertility\":1.3,\"color_hue\":0.25,"
	"\"aggression\":0.4,\"social_tendency\":0.6,\"template_id\":2,"
	"\"poker_strategy_algorithm\":{\"strategy_id\":\"no_such_strategy\",\"parameters\":{}}},"
	"\"memory\":{\"food_memories\":[],\"predator_last_seen\":0},\"reproduction_cooldown\":10}";

static double dbl(json_object *o, const char *a, const char *b)
{
	json_object *v;
	json_object_object_get_ex(o, a, &v);
	if (b)
		json_object_object_get_ex(v, b, &v);
	return json_object_get_double(v);
}

static json_object *translate(json_object *in, const char *src)
{
	struct json_err e;
	return legacy_fish_translate(in, legacy_hash(in, src, "1", "2"), &e);
}

int main(void)
{
	json_object *in = json_tokener_parse(original);
	json_object *a = translate(in, "srv-a"), *b = translate(in, "srv-a");
	ok(a != NULL, "the original's fish translates");
	struct fish *f = NULL;
	struct json_err e;
	ok(a && fish_from_json(a, &f, &e) == 0, "into a fish our core accepts");
	ok(a && b && strcmp(json_object_to_json_string(a), json_object_to_json_string(b)) == 0,
	   "deterministically: the same payload gives the same fish, id included");
	json_object *c = translate(in, "srv-b");
	ok(c && strcmp(json_object_get_string(json_object_object_get(a, "id")),
		       json_object_get_string(json_object_object_get(c, "id"))) != 0,
	   "another source gives another fish id");
	ok(f && fish_x(f) == 300.5 && fish_y(f) == 200.25, "position carried");
	ok(f && fish_generation(f) == 4 && fish_age(f) == 120 && fish_max_age(f) == 4000,
	   "generation, age and max_age carried");
	ok(f && fish_energy(f) == 55.5, "energy carried");
	ok(f && fish_trait(f, "speed_modifier") == 1.2 && fish_trait(f, "color_hue") == 0.25 &&
		   fish_trait(f, "fertility") == 1.3,
	   "shared genome traits carried");
	ok(f && fabs(dbl(a, "base_speed", NULL) - 2.5) < 1e-12,
	   "speed is the effective one: base = 3.0 / 1.2, no compounding");
	ok(f && fish_mother_id(f) == NULL, "the original's integer parent id is not a link here");
	fish_free(f);

	/* Out of range: clamped or drawn, never refused. */
	json_object *g = json_object_object_get(in, "genome_data");
	json_object_object_add(g, "speed_modifier", json_object_new_double(9.0));
	json_object_object_add(in, "energy", json_object_new_double(1e9));
	json_object_object_add(in, "vel_x", json_object_new_double(500));
	json_object_object_add(in, "x", json_object_new_string("left"));
	json_object_object_add(in, "reproduction_cooldown", json_object_new_int(1000));
	json_object *d = translate(in, "srv-a");
	f = NULL;
	ok(d && fish_from_json(d, &f, &e) == 0, "wild values still give a valid fish");
	ok(f && fish_trait(f, "speed_modifier") == 1.5, "a trait is clamped to our range");
	ok(f && fish_energy(f) == fish_max_energy(f), "energy is clamped to max_energy");
	/* Too fast a velocity is scaled down, its direction kept (not dropped for the
	 * drawn fish's own), and a long cooldown is cut to ours, not dropped either. */
	ok(d && dbl(d, "vx", NULL) > 0 &&
		   fabs(dbl(d, "vy", NULL) / dbl(d, "vx", NULL) + 0.001) < 1e-9,
	   "a wild velocity keeps its direction, scaled to our speed");
	ok(d && dbl(d, "reproduction_cooldown", NULL) == 360,
	   "a long reproduction_cooldown is clamped to our 360");
	fish_free(f);

	ok(!legacy_is_original_fish(a), "our own fish is not taken for the original's");
	ok(legacy_is_original_fish(in), "the original's is recognised");
	json_object *plant = json_tokener_parse("{\"type\":\"fractal_plant\",\"genome_data\":{}}");
	ok(translate(plant, "srv-a") == NULL, "a plant is refused");

	char u1[UUID_STR_LEN], u2[UUID_STR_LEN];
	legacy_uuid(42, "transfer", u1);
	legacy_uuid(42, "fish", u2);
	ok(uuid_str_valid(u1) && strcmp(u1, u2) != 0, "derived ids are UUIDs and differ by salt");

	/* A peer's entity with "type" present but no string: refused, never read as one
	 * (null made simd crash on a strcmp of NULL). */
	static const char *const bad_types[] = {"null", "7", "{}", "[\"fish\"]", "\"plant\""};
	for (size_t i = 0; i < sizeof bad_types / sizeof bad_types[0]; i++) {
		char text[160];
		snprintf(text, sizeof text, "{\"genome_data\":{},\"type\":%s}", bad_types[i]);
		json_object *x = json_tokener_parse(text), *y = NULL;
		e.msg[0] = '\0';
		ok(x && !(y = legacy_fish_translate(x, 1, &e)) && strstr(e.msg, "only fish"),
		   "\"type\": %s is refused: %s", bad_types[i], e.msg);
		json_object_put(x);
		json_object_put(y);
	}

	json_object_put(in);
	json_object_put(a);
	json_object_put(b);
	json_object_put(c);
	json_object_put(d);
	json_object_put(plant);
	return tap_done();
}
