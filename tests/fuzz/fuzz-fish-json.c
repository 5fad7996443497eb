/* Fuzz target: an untrusted fish (the entity_data of a remote transfer). Whatever the
 * decoder accepts must serialize, decode again and serialize to the same text, and be
 * accepted by a tank. Built with fuzz-main.c for `make check` and with libFuzzer by
 * `make fuzz`. */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "jsonv.h"
#include "simd/sim/sim.h"

#include "fuzz.h"

int fuzz_verdict(const uint8_t *data, size_t size)
{
	struct json_err e = {""};
	json_object *o = jv_parse_object((const char *)data, size, 16, &e);
	if (!o)
		return 0;
	struct fish *f = NULL;
	if (fish_from_json(o, &f, &e) < 0) {
		if (f || !e.msg[0])
			abort(); /* a refusal must say why and return nothing */
		json_object_put(o);
		return 0;
	}
	json_object_put(o);

	char *a = strdup(jv_to_string(o = fish_to_json(f)));
	struct fish *g = NULL;
	if (!a || fish_from_json(o, &g, &e) < 0)
		abort(); /* our own output must decode */
	json_object_put(o);
	o = fish_to_json(g);
	if (strcmp(a, jv_to_string(o)) != 0)
		abort();
	json_object_put(o);
	free(a);
	fish_free(g);

	/* and a tank must take it and step with it */
	struct tank_params p = tank_params_default(1);
	p.initial_fish = 0;
	struct tank *t = tank_new(&p, "fuzz-tank");
	if (!t || tank_put_fish(t, f, WALL_LEFT) < 0)
		abort();
	for (int i = 0; i < 3; i++)
		tank_step(t);
	tank_free(t);
	return 1;
}
