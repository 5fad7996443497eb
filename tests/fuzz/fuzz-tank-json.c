/* Fuzz target: a tank snapshot (simd reads them from disk after a crash, so they are
 * untrusted). Whatever the decoder accepts must hash like its own re-encoding and keep
 * running. Built with fuzz-main.c for `make check` and with libFuzzer by `make fuzz`. */
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
	json_object *o = jv_parse_object((const char *)data, size, 64, &e);
	if (!o)
		return 0;
	struct tank *t = NULL;
	int r = tank_from_json(o, &t, &e);
	json_object_put(o);
	if (r < 0) {
		if (t || !e.msg[0])
			abort(); /* a refusal must say why and return nothing */
		return 0;
	}
	/* Re-encode and decode: the same state, the same hash. */
	struct tank *u = NULL;
	o = tank_to_json(t);
	if (tank_from_json(o, &u, &e) < 0 || tank_state_hash(u) != tank_state_hash(t))
		abort();
	json_object_put(o);
	/* A small accepted world must keep running (a huge one would only be slow). */
	const struct tank_params *p = tank_get_params(t);
	if ((double)p->width * p->height <= 4e6 && tank_fish_count(t) <= 200) {
		for (int i = 0; i < 5; i++) {
			tank_step(t);
			tank_step(u);
		}
		if (tank_state_hash(u) != tank_state_hash(t))
			abort();
	}
	json_object_put(tank_entities_json(t));
	tank_free(t);
	tank_free(u);
	return 1;
}
