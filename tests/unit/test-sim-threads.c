/* Issue 13: a tank's state does not depend on how many threads tick it, a copy serializes
 * like the original, the fish-id index finds every fish, and a crowded tank's frame stays
 * cheap (its poker tables and neighbour queries are capped). SEED=... picks the first seed. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "simd/sim/internal.h"
#include "sim-test.h"
#include "tap.h"

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static struct tank *make(uint64_t seed, int n, bool dense)
{
	struct tank_params p = tank_params_default(seed);
	if (!dense)
		tank_params_scale_world(&p, 1088 * 4,
					612 * 4); /* room for n at the default density */
	p.max_fish = n;
	p.initial_fish = n;
	return tank_new(&p, "threads-tank");
}

static int food_cell(const struct tank *t, size_t i)
{
	const struct grid *g = &t->food_grid;
	return grid_row(g, t->food[i].y) * g->cols + grid_col(g, t->food[i].x);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* food_order on a copy of t, at a frame it sorts on, with some items eaten: every item
 * kept once, the array in the grid's order with the eaten last, and the grid's indices
 * renamed to match. */
static void food_sort_check(const struct tank *t)
{
	struct tank *d = tank_clone(t);
	d->frame = FOODORDER_EVERY + 1;
	for (size_t i = 0; i < d->n_food; i += 7)
		d->food[i].dead = true; /* as if eaten this frame: left out of the grid */
	tank_rebuild_food_grid(d);
	size_t n = d->n_food, live = d->food_grid.n;
	uint64_t *before = calloc(n, sizeof *before), *after = calloc(n, sizeof *after);
	if (!before || !after)
		abort();
	for (size_t i = 0; i < n; i++)
		before[i] = d->food[i].id;
	food_order(d);
	for (size_t i = 0; i < n; i++)
		after[i] = d->food[i].id;
	qsort(before, n, sizeof *before, cmp_u64);
	qsort(after, n, sizeof *after, cmp_u64);
	ok(d->n_food == n && memcmp(before, after, n * sizeof *before) == 0,
	   "the food sort keeps every item, once (%zu items, %zu of them in the grid)", n, live);
	bool placed = live > 0;
	for (size_t k = 0; k < live && placed; k++) {
		const struct grid_item *it = &d->food_grid.items[k];
		placed = it->idx == (int)k && it->x == d->food[k].x && it->y == d->food[k].y &&
			 !d->food[k].dead && d->food_grid.pos_of[k] == (int)k;
	}
	for (size_t k = live; k < n && placed; k++)
		placed = d->food[k].dead;
	ok(placed, "item k is the grid's k-th, and the grid finds it there; the dead come last");
	free(before);
	free(after);
	tank_free(d);
}

static uint64_t run(uint64_t seed, int n, bool dense, int threads, int frames)
{
	struct tank *t = make(seed, n, dense);
	tank_set_threads(t, threads);
	for (int i = 0; i < frames; i++)
		tank_step(t);
	uint64_t h = tank_state_hash(t);
	tank_free(t);
	return h;
}

int main(void)
{
	const char *env = getenv("SEED");
	uint64_t seed0 = env ? strtoull(env, NULL, 0) : 13;
	printf("# seed %llu (set SEED=... to change)\n", (unsigned long long)seed0);

	/* 1 and 2 threads: the same hash, sparse and dense. The pool only splits work of at
	 * least 1,024 fish, and sorts the fish grid in parts from 4,096 fish, so these tanks
	 * are large enough to use both. */
	struct {
		int n;
		bool dense;
		int frames;
	} cases[] = {{1200, false, 1000},
		     {1200, false, 1000},
		     {1200, false, 1000},
		     {2000, true, 1000},
		     {5000, false, 300}};
	for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
		uint64_t seed = seed0 + k;
		uint64_t h1 = run(seed, cases[k].n, cases[k].dense, 1, cases[k].frames);
		uint64_t h2 = run(seed, cases[k].n, cases[k].dense, 2, cases[k].frames);
		ok(h1 == h2,
		   "seed %llu, %d fish%s: 1 and 2 threads agree after %d frames "
		   "(%016llx %016llx)",
		   (unsigned long long)seed, cases[k].n,
		   cases[k].dense ? " in the default world" : "", cases[k].frames,
		   (unsigned long long)h1, (unsigned long long)h2);
	}

	/* A new tank's fish come off their poker cooldown together, so some frames deal more
	 * tables than one thread's share of a pass (poker_play_tables deals them on the
	 * threads, each from its own stream, and settles them in order): the same hash. */
	{
		uint64_t h[2];
		unsigned long long most = 0;
		for (int threads = 1; threads <= 2; threads++) {
			struct tank *pt = make(seed0 + 7, 8000, false);
			tank_set_threads(pt, threads);
			unsigned long long games = 0;
			for (int i = 0; i < 130; i++) {
				tank_step(pt);
				struct tank_stats ps;
				tank_get_stats(pt, &ps);
				if (ps.poker_games - games > most)
					most = ps.poker_games - games;
				games = ps.poker_games;
			}
			h[threads - 1] = tank_state_hash(pt);
			tank_free(pt);
		}
		ok(most >= 1024,
		   "8,000 new fish: a frame deals %llu tables (at least 1,024: on both "
		   "threads)",
		   most);
		ok(h[0] == h[1], "and 1 and 2 threads agree after 130 frames (%016llx %016llx)",
		   (unsigned long long)h[0], (unsigned long long)h[1]);
	}

	/* A copy serializes exactly like the tank, and continues like it. */
	struct tank *t = make(seed0, 1500, false);
	for (int i = 0; i < 200; i++)
		tank_step(t);
	struct tank *c = tank_clone(t);
	ok(tank_state_hash(c) == tank_state_hash(t), "a clone has the tank's state hash");
	for (int i = 0; i < 50; i++) {
		tank_step(t);
		tank_step(c);
	}
	ok(tank_state_hash(c) == tank_state_hash(t), "and ticks on identically");

	/* Into room made beforehand (simd's snapshots: made without the lock), and into
	 * room too small for it (the tank grew between sizing and copying): the same copy. */
	struct tank_room room = {0},
			 small = {.fish = {.cap = 1}, .food = {.cap = 1}, .lin = {.cap = 1}};
	for (int i = 0; i < 110; i++) /* past frame 300: a history sample */
		tank_step(t);
	tank_room_size(t, TANK_COPY_WHOLE, &room);
	ok(room.hist.cap > 0 && room.events.cap > 0,
	   "the room has space for the history and the events too");
	tank_room_make(&room);
	tank_room_make(&small);
	const void *made = room.fish.p;
	struct tank *d = tank_clone_in(t, &room), *tight = tank_clone_in(t, &small);
	ok((const void *)tank_fish_at(d, 0) == made && !room.fish.p && !room.food.p &&
		   !room.lin.p && !room.hist.p && !room.events.p,
	   "a clone into room uses the room's arrays and empties the room");
	ok(tank_state_hash(d) == tank_state_hash(t) && tank_state_hash(tight) == tank_state_hash(t),
	   "it has the tank's state hash, as has a clone into room too small");
	for (int i = 0; i < 50; i++) {
		tank_step(t);
		tank_step(d);
		tank_step(tight);
	}
	ok(tank_state_hash(d) == tank_state_hash(t) && tank_state_hash(tight) == tank_state_hash(t),
	   "and both tick on identically");
	tank_room_free(&room);
	tank_room_free(&small);
	tank_free(d);
	tank_free(tight);
	/* GET /state's copy into room: the same JSON as without. */
	tank_room_size(t, TANK_COPY_ENTITIES, &room);
	tank_room_make(&room);
	struct entities *plain = entities_copy(t), *roomy = entities_copy_in(t, &room);
	json_object *jp = entities_json(plain), *jr = entities_json(roomy);
	ok(!room.rows.p && !room.fish.p &&
		   strcmp(json_object_to_json_string(jp), json_object_to_json_string(jr)) == 0,
	   "GET /state's copy into room shows the same entities");
	json_object_put(jp);
	json_object_put(jr);
	entities_free(plain);
	entities_free(roomy);
	tank_room_free(&room);
	/* GET /poker/strategies' copy, into room and into room too small: the same JSON. */
	tank_room_size(t, TANK_COPY_STRATEGIES, &room);
	tank_room_make(&room);
	small = (struct tank_room){.strats = {.cap = 1}};
	tank_room_make(&small);
	jp = tank_poker_strategies_json(t);
	jr = poker_strategies_json(tank_poker_strategies_take(t, &room));
	json_object *js = poker_strategies_json(tank_poker_strategies_take(t, &small));
	ok(!room.strats.p && !small.strats.p &&
		   strcmp(json_object_to_json_string(jp), json_object_to_json_string(jr)) == 0 &&
		   strcmp(json_object_to_json_string(jp), json_object_to_json_string(js)) == 0,
	   "GET /poker/strategies' copy into room, or room too small, shows the same");
	json_object_put(jp);
	json_object_put(jr);
	json_object_put(js);
	tank_room_free(&room);
	tank_room_free(&small);

	/* The id index: every fish is found at its position, through births, deaths and the
	 * periodic spatial sort; a taken fish is gone; unknown ids are not found. */
	bool all = true;
	for (int f = 0; f < 100 && all; f++) {
		tank_step(t);
		for (size_t i = 0; i < tank_fish_count(t); i++)
			if (tank_find_fish(t, fish_id(tank_fish_at(t, i))) != tank_fish_at(t, i))
				all = false;
	}
	ok(all, "the id index finds every fish over 100 frames (%zu fish)", tank_fish_count(t));
	char id[UUID_STR_LEN];
	snprintf(id, sizeof id, "%s", fish_id(tank_fish_at(t, 7)));
	struct fish *taken = NULL;
	ok(tank_take_fish(t, id, &taken) == 0 && !tank_find_fish(t, id),
	   "a taken fish is no longer found");
	ok(tank_find_fish(t, fish_id(tank_fish_at(t, 7))) == tank_fish_at(t, 7),
	   "and the fish after it are found where they moved");
	ok(tank_return_fish_at(t, taken, WALL_NONE) == 0, "it can come back");
	ok(tank_find_fish(t, id) != NULL, "and is found again");
	ok(!tank_find_fish(t, "00000000-0000-4000-8000-000000000000"), "an unknown id is not found");
	tank_free(c);
	tank_free(t);

	/* The fish array in space order (fishorder.c): the sort keeps every fish, puts them in
	 * the fish grid's order, leaves the very grid a rebuild would give, and the id index
	 * follows. The tank has swum and bred for a while, so its order is not the grid's. */
	t = make(seed0, 3000, false);
	for (int i = 0; i < 60; i++)
		tank_step(t);
	size_t n = t->n_fish;
	char **before = calloc(n, sizeof *before), **after = calloc(n, sizeof *after);
	if (!before || !after)
		abort();
	for (size_t i = 0; i < n; i++)
		before[i] = strdup(t->fish[i].id);
	tank_rebuild_fish_grid(t);
	size_t in_order = 0;
	for (size_t k = 0; k < n; k++)
		in_order += t->fish_grid.items[k].idx == (int)k;
	ok(t->fish_grid.n == n && in_order < n / 2,
	   "a tank that has lived is out of space order (%zu of %zu fish in place)", in_order, n);
	fishorder_sort(t);
	for (size_t i = 0; i < n; i++)
		after[i] = strdup(t->fish[i].id);
	qsort(before, n, sizeof *before, cmp_str);
	qsort(after, n, sizeof *after, cmp_str);
	bool same = t->n_fish == n;
	for (size_t i = 0; i < n && same; i++)
		same = strcmp(before[i], after[i]) == 0;
	ok(same, "the sort keeps every fish, once");
	struct grid_item *sorted = calloc(n, sizeof *sorted);
	if (!sorted)
		abort();
	memcpy(sorted, t->fish_grid.items, n * sizeof *sorted);
	bool placed = true;
	for (size_t k = 0; k < n && placed; k++)
		placed = sorted[k].idx == (int)k && sorted[k].x == t->fish[k].x &&
			 sorted[k].y == t->fish[k].y;
	ok(placed, "fish k is the grid's k-th");
	tank_rebuild_fish_grid(t);
	bool rebuilt = t->fish_grid.n == n;
	for (size_t k = 0; k < n && rebuilt; k++) {
		const struct grid_item *a = &sorted[k], *b = &t->fish_grid.items[k];
		rebuilt = a->idx == b->idx && a->x == b->x && a->y == b->y && a->vx == b->vx &&
			  a->vy == b->vy && a->aux == b->aux;
	}
	ok(rebuilt, "and the grid it leaves is the one a rebuild gives");
	all = true;
	for (size_t i = 0; i < n && all; i++)
		all = tank_find_fish(t, t->fish[i].id) == &t->fish[i];
	ok(all, "the id index finds every fish where the sort put it");
	for (size_t i = 0; i < n; i++) {
		free(before[i]);
		free(after[i]);
	}
	free(before);
	free(after);
	free(sorted);
	tank_free(t);

	/* The sort runs at fixed frames: a tank restored just before one, on one thread, does
	 * what the original does on two. */
	t = make(seed0 + 1, 1500, false);
	tank_set_threads(t, 2);
	while (tank_frame(t) < FISHORDER_EVERY - 4)
		tank_step(t);
	ok(tank_fish_count(t) >= FISHORDER_FROM, "the tank is large enough to be sorted (%zu fish)",
	   tank_fish_count(t));
	struct json_err e = {""};
	c = tank_roundtrip(t, &e);
	ok(c != NULL, "a tank restored before a sort (%s)", e.msg);
	for (int i = 0; i < 10 && c; i++) {
		tank_step(t);
		tank_step(c);
	}
	ok(c && tank_state_hash(c) == tank_state_hash(t),
	   "ticks through the sort like the original (%zu fish)", tank_fish_count(t));
	if (c)
		tank_free(c);
	tank_free(t);

	/* The food array in space order (food_order): a tank fed past FOODORDER_FROM items is
	 * sorted at fixed frames, keeps every item, and does the same on one thread and two,
	 * and when restored just before a sort. */
	t = make(seed0 + 2, 1500, false);
	t->p.food_rate = 250; /* a food cap above FOODORDER_FROM */
	for (int i = 0; i < 20000; i++)
		food_spawn_one(t, true);
	tank_set_threads(t, 2);
	while (tank_frame(t) < FOODORDER_EVERY - 4)
		tank_step(t);
	ok(t->n_food >= FOODORDER_FROM, "a fed tank holds enough food to be sorted (%zu items)",
	   t->n_food);
	c = tank_roundtrip(t, &e);
	ok(c != NULL, "a tank restored before a food sort (%s)", e.msg);
	if (c)
		tank_set_threads(c, 1);
	size_t descents_before = 0, descents_after = 0;
	while (tank_frame(t) < FOODORDER_EVERY) {
		tank_step(t);
		if (c)
			tank_step(c);
	}
	for (size_t i = 1; i < t->n_food; i++)
		descents_before += food_cell(t, i) < food_cell(t, i - 1);
	food_sort_check(t);
	tank_step(t); /* sorts, then the eaten go and new food comes at the end */
	if (c)
		tank_step(c);
	for (size_t i = 1; i < t->n_food; i++)
		descents_after += food_cell(t, i) < food_cell(t, i - 1);
	ok(descents_before > t->n_food / 4 && descents_after < t->n_food / 100,
	   "the sort puts the food in space order (out of order before: %zu, after: %zu of %zu)",
	   descents_before, descents_after, t->n_food);
	for (int i = 0; i < 10 && c; i++) {
		tank_step(t);
		tank_step(c);
	}
	ok(c && tank_state_hash(c) == tank_state_hash(t),
	   "two threads and a restored copy on one tick through it alike (%zu food)", t->n_food);
	ok(ledger_error(t) < 1e-9, "and the books balance");
	if (c)
		tank_free(c);
	tank_free(t);

	/* Poker tables stay within POKER_TABLE_MAX even when everyone touches everyone. */
	t = make(seed0, 2000, true);
	for (int i = 0; i < 30; i++)
		tank_step(t);
	struct tank_stats st;
	tank_get_stats(t, &st);
	ok(st.poker_games > 0, "a crowded tank plays poker (%llu games)",
	   (unsigned long long)st.poker_games);
	ok(ledger_error(t) < 1e-9, "and its books balance");
	tank_free(t);
	return tap_done();
}
