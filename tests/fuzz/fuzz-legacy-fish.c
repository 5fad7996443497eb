/* Fuzz target: an untrusted entity in the original's form, as the original's servers send
 * it to POST /api/remote-transfer (docs/legacy.md). legacy_fish_translate either refuses
 * it, saying why, or returns a fish that fish_from_json accepts, as simd/legacy.h promises.
 * Built with fuzz-main.c for `make check` and with libFuzzer by `make fuzz`. */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>

#include "jsonv.h"
#include "simd/legacy.h"
#include "simd/sim/sim.h"

#include "fuzz.h"

int fuzz_verdict(const uint8_t *data, size_t size)
{
	struct json_err e = {""};
	json_object *o = jv_parse_object((const char *)data, size, 16, &e);
	if (!o)
		return 0;
	if (!legacy_is_original_fish(o)) {
		json_object_put(o);
		return 0;
	}
	e.msg[0] = '\0';
	json_object *fish = legacy_fish_translate(o, legacy_hash(o, "fuzz", "1", "2"), &e);
	json_object_put(o);
	if (!fish) {
		if (!e.msg[0])
			abort(); /* a refusal must say why */
		return 0;
	}
	struct fish *f = NULL;
	if (fish_from_json(fish, &f, &e) < 0)
		abort(); /* the translation must be a fish our core accepts */
	fish_free(f);
	json_object_put(fish);
	return 1;
}
