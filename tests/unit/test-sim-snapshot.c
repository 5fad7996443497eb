/* tank_from_json_with_fish (simd's snapshot loader decodes the fish itself, on several
 * threads) must give exactly the tank tank_from_json gives, and must own and free the
 * fish it was handed, on success and on failure. */
#include "sim-test.h"
#include "tap.h"

static struct tank *reload_split(const struct tank *t, bool break_header)
{
	json_object *j = tank_to_json(t), *arr;
	ok(json_object_object_get_ex(j, "fish", &arr), "the tank JSON has a fish array");
	size_t n = json_object_array_length(arr);
	struct fish **fish = calloc(n ? n : 1, sizeof *fish);
	struct json_err e;
	for (size_t i = 0; i < n; i++)
		if (fish_from_json(json_object_array_get_idx(arr, i), &fish[i], &e) < 0)
			ok(0, "fish %zu decodes: %s", i, e.msg);
	json_object_object_del(j, "fish");
	if (break_header)
		json_object_object_add(j, "kind", json_object_new_string("pond"));
	struct tank *r = NULL;
	int rc = tank_from_json_with_fish(j, fish, n, &r, &e);
	size_t left = 0;
	for (size_t i = 0; i < n; i++)
		left += fish[i] != NULL;
	is_int(left, 0, "every one of the %zu fish was taken over (adopted or freed)", n);
	free(fish);
	json_object_put(j);
	return rc == 0 ? r : NULL;
}

int main(void)
{
	struct tank_params p = tank_params_default(4242);
	p.initial_fish = 40;
	p.max_fish = 200;
	struct tank *t = tank_new(&p, "snapshot-test");
	for (int i = 0; i < 600; i++)
		tank_step(t);
	ok(tank_fish_count(t) > 10, "a living tank (%zu fish)", tank_fish_count(t));

	struct json_err e;
	json_object *whole = tank_to_json(t);
	struct tank *a = NULL;
	is_int(tank_from_json(whole, &a, &e), 0, "tank_from_json");
	json_object_put(whole);
	struct tank *b = reload_split(t, false);
	ok(b != NULL, "tank_from_json_with_fish");
	ok(a && b && tank_state_hash(a) == tank_state_hash(b) &&
		   tank_state_hash(b) == tank_state_hash(t),
	   "all three states are identical");
	for (int i = 0; i < 300; i++) {
		tank_step(t);
		tank_step(b);
	}
	ok(tank_state_hash(t) == tank_state_hash(b), "and stay identical 300 frames on");
	ok(reload_split(t, true) == NULL, "a bad header fails and frees the fish it was given");
	tank_free(a);
	tank_free(b);
	tank_free(t);
	return tap_done();
}
