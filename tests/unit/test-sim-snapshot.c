/* tank_from_json_with_fish (simd's snapshot loader decodes the fish itself, on several
 * threads) must give exactly the tank tank_from_json gives, and must own and free the
 * fish it was handed, on success and on failure. And the fish text that snapshots write
 * without json-c (fish_text_write) must be what fish_to_json prints, and load to the
 * identical state, every double bit for bit. */
#include "sim-test.h"
#include "simd/sim/internal.h"
#include "tap.h"

/* Both writers for every fish of t: the same text, and the new one decodes to the same
 * fish. Returns the fish decoded from the new writer's text (n of them). */
static struct fish **both_writers(const struct tank *t, size_t *ret_n)
{
	size_t n = tank_fish_count(t), same = 0, decoded = 0;
	struct fish **out = calloc(n ? n : 1, sizeof *out);
	struct sim_text ft = {0};
	struct json_err e;
	for (size_t i = 0; i < n; i++) {
		const struct fish *f = tank_fish_at(t, i);
		json_object *j = fish_to_json(f);
		const char *want = jv_to_string(j);
		ft.len = 0;
		fish_text_write(&ft, f);
		if (ft.len == strlen(want) && memcmp(ft.p, want, ft.len) == 0)
			same++;
		else if (same == i)
			printf("# fish %zu:\n# json-c: %s\n# text:   %.*s\n", i, want, (int)ft.len,
			       ft.p);
		json_object_put(j);
		json_object *back = jv_parse_object_nul(ft.p, ft.len, 64, &e);
		if (back && fish_from_json(back, &out[i], &e) == 0)
			decoded++;
		else if (decoded == i)
			printf("# fish %zu does not decode: %s\n", i, e.msg);
		json_object_put(back);
	}
	sim_text_free(&ft);
	is_int(same, n, "fish_text_write prints what fish_to_json prints, for all %zu fish", n);
	is_int(decoded, n, "and every fish it wrote decodes");
	*ret_n = n;
	return out;
}

/* The doubles of a fish that printing could lose bits of, compared bitwise. */
static bool same_bits(const struct fish *a, const struct fish *b)
{
	const double va[] = {a->x,	a->y,	   a->vx,	  a->vy,      a->dir_x,
			     a->dir_y,	a->energy, a->base_speed, a->fitness, a->wander_angle,
			     a->home_x, a->home_y, a->g.t[0],	  a->born.at};
	const double vb[] = {b->x,	b->y,	   b->vx,	  b->vy,      b->dir_x,
			     b->dir_y,	b->energy, b->base_speed, b->fitness, b->wander_angle,
			     b->home_x, b->home_y, b->g.t[0],	  b->born.at};
	return memcmp(va, vb, sizeof va) == 0;
}

static void test_fish_text(struct tank *t)
{
	/* Values a careless printer gets wrong: -0, a subnormal, an integer-valued double,
	 * the largest allowed, 0.1 + 0.2, one ulp below 1; escaped strings. */
	struct fish *f = &t->fish[0];
	f->x = -0.0;
	f->vx = 5e-324;
	f->base_speed = 3.0;
	f->fitness = 1e12;
	f->energy = 0.1 + 0.2;
	f->dir_x = nextafter(1.0, 0.0);
	f->home_y = 1.0 / 3.0;
	f->born.known = true;
	f->born.frame = 12;
	f->born.at = 1789000000.123456789;
	strcpy(f->born.tank_id, "tank-\"q\"\\\n\x01");
	json_object *j = fish_to_json(f);
	struct sim_text ft = {0};
	fish_text_write(&ft, f);
	char *got = strndup(ft.p, ft.len);
	is_str(got, jv_to_string(j), "strings are escaped as json-c escapes them");
	free(got);
	json_object_put(j);
	sim_text_free(&ft);
	strcpy(f->born.tank_id, "tank-b"); /* what a fish may carry */
	t->fish[1].born.known = true;	   /* unknown time and server: nulls */
	/* Pregnant fish that left a tank carry their mate's record: one with his birth,
	 * one without (his record had none). */
	size_t carried = 0;
	for (size_t i = 2; i < tank_fish_count(t) && carried < 2; i++) {
		struct fish *m = &t->fish[i];
		if (!m->pregnant || !m->preg.mate_id[0])
			continue;
		struct lineage_mate *mr = &m->preg.mate_rec;
		memset(mr, 0, sizeof *mr);
		mr->known = true;
		mr->generation = 3;
		strcpy(mr->mother_id, m->id); /* any UUID */
		if (carried++ == 0) {
			mr->born.known = true;
			mr->born.frame = 4;
			mr->born.at = 1789000000.5;
			strcpy(mr->born.tank_id, "tank-c");
			strcpy(mr->born.server_id, "s-1");
		}
	}
	is_int(carried, 2, "two pregnant fish carry their mate's record");
	size_t n;
	struct fish **fish = both_writers(t, &n);
	ok(n > 1 && same_bits(&t->fish[0], fish[0]) && same_bits(&t->fish[1], fish[1]) &&
		   signbit(fish[0]->x),
	   "-0, subnormal and 17-digit doubles come back bit for bit");
	size_t pregnant = 0;
	for (size_t i = 0; i < n; i++)
		pregnant += t->fish[i].pregnant;
	printf("# %zu of %zu fish pregnant\n", pregnant, n);

	struct json_err e;
	struct tank *r = NULL;
	json_object *h = tank_to_json_without_fish(t);
	ok(tank_from_json_with_fish(h, fish, n, &r, &e) == 0, "a tank from the header and the "
							      "fish text loads");
	json_object_put(h);
	free(fish);
	ok(r && tank_state_hash(r) == tank_state_hash(t),
	   "to the identical state as the json-c document");
	for (int i = 0; r && i < 100; i++) {
		tank_step(t);
		tank_step(r);
	}
	ok(r && tank_state_hash(r) == tank_state_hash(t), "and stays identical 100 frames on");
	tank_free(r);
}

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
	test_fish_text(t);
	tank_free(a);
	tank_free(b);
	tank_free(t);
	return tap_done();
}
