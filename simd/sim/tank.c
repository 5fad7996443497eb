/* The tank: parameters, construction, one frame of the world (spec §2.1) and statistics. */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "simd/sim/internal.h"
#include "util.h"

#define DEFAULT_W 1088
#define DEFAULT_H 612

struct tank_params tank_params_default(uint64_t seed)
{
	return (struct tank_params){
		.seed = seed,
		.width = DEFAULT_W,
		.height = DEFAULT_H,
		.max_fish = 100,
		.initial_fish = 10,
		.initial_food = 8,
		.initial_plants = 3,
		.root_spots = 25,
		.crabs = 1,
		.food_rate = 1.0,
		.emergency_spawn = true,
		.spawn_floor = CRITICAL_POPULATION,
		.history_interval = 300,
		.history_size = 10000,
		.lineage_depth = 10,
	};
}

void tank_params_scale_world(struct tank_params *p, int width, int height)
{
	double wk = (double)width / DEFAULT_W, ak = wk * height / DEFAULT_H;
	p->width = width;
	p->height = height;
	p->food_rate = ak;
	p->initial_food = (int)lround(8 * ak);
	p->root_spots = (int)lround(fmax(1, 25 * wk));
	p->initial_plants = (int)lround(3 * wk);
	p->crabs = (int)lround(fmax(1, wk));
}

bool tank_params_underfed(const struct tank_params *p, int *width, int *height)
{
	double area = (double)p->width * p->height / ((double)DEFAULT_W * DEFAULT_H);
	if (area > 1.0 + 1e-9 || p->max_fish <= lround(200 * area))
		return false;
	double k = sqrt(p->max_fish / 100.0);
	*width = (int)fmin(lround(DEFAULT_W * k), SIM_MAX_WORLD);
	*height = (int)fmin(lround(DEFAULT_H * k), SIM_MAX_WORLD);
	return true;
}

int tank_params_check(const struct tank_params *p, struct json_err *e)
{
	if (p->width < 200 || p->width > SIM_MAX_WORLD || p->height < 200 ||
	    p->height > SIM_MAX_WORLD)
		return jv_fail(e, "width and height must be 200 to %d", SIM_MAX_WORLD);
	if (p->max_fish < 0 || p->max_fish > SIM_MAX_FISH_LIMIT || p->initial_fish < 0 ||
	    p->initial_fish > p->max_fish)
		return jv_fail(e, "max_fish must be 0 to %d, and initial_fish 0 to max_fish",
			       SIM_MAX_FISH_LIMIT);
	/* These grow with the world (tank_params_scale_world): a world can be too large for
	 * them while its width and height are each within bounds. */
	if (p->initial_food < 0 || p->initial_food > 1000000 || p->root_spots < 1 ||
	    p->root_spots > SIM_MAX_ROOT_SPOTS || p->initial_plants < 0 ||
	    p->initial_plants > p->root_spots || p->crabs < 0 || p->crabs > SIM_MAX_CRABS)
		return jv_fail(e,
			       "a %d x %d world is too large: it would have %d root spots (at "
			       "most %d), %d crabs (at most %d) and %d initial food (at most "
			       "1000000)",
			       p->width, p->height, p->root_spots, SIM_MAX_ROOT_SPOTS, p->crabs,
			       SIM_MAX_CRABS, p->initial_food);
	if (!isfinite(p->food_rate) || p->food_rate < 0 || p->food_rate > 10000)
		return jv_fail(e,
			       "a %d x %d world is too large: its food supply (food_rate) would "
			       "be %g times the original tank's, at most 10000",
			       p->width, p->height, p->food_rate);
	if (p->spawn_floor < 0 || p->spawn_floor > SIM_MAX_FISH_LIMIT || p->history_interval < 1 ||
	    p->history_interval > 1000000 || p->history_size < 0 || p->history_size > 100000 ||
	    p->lineage_depth < 0 || p->lineage_depth > 1000)
		return jv_fail(e, "spawn_floor, history_interval, history_size or lineage_depth "
				  "out of range");
	return 0;
}

enum day_phase tank_day_phase(const struct tank *t)
{
	double d = t->day_time;
	if (d < 0.2 || d >= 0.8)
		return PHASE_NIGHT;
	if (d < 0.3)
		return PHASE_DAWN;
	if (d < 0.7)
		return PHASE_DAY;
	return PHASE_DUSK;
}

void tank_time_update(struct tank *t)
{
	t->day_time = (double)(t->frame % SIM_DAY_FRAMES) / SIM_DAY_FRAMES;
	t->activity = 0.75 + 0.25 * sin(2 * M_PI * (t->day_time - 0.25));
	static const double sight[] = {
		[PHASE_NIGHT] = 100, [PHASE_DAWN] = 300, [PHASE_DAY] = 400, [PHASE_DUSK] = 300};
	t->food_sight = sight[tank_day_phase(t)];
}

void tank_init_derived(struct tank *t)
{
	double area = (double)t->p.width * t->p.height / ((double)DEFAULT_W * DEFAULT_H);
	t->area_scale = area;
	grid_init(&t->fish_grid, t->p.width, t->p.height, GRID_CELL);
	grid_init(&t->food_grid, t->p.width, t->p.height, GRID_CELL);
	t->spot_plant = sim_xcalloc((size_t)t->p.root_spots, sizeof *t->spot_plant);
	plants_reindex(t);
	tank_time_update(t);
}

struct tank *tank_new(const struct tank_params *p, const char *tank_id)
{
	if (!p || tank_params_check(p, NULL) < 0 || !tank_id ||
	    !object_id_valid(tank_id, TANK_ID_MAX)) {
		errno = EINVAL;
		return NULL;
	}
	struct tank *t = sim_xcalloc(1, sizeof *t);
	t->p = *p;
	strcpy(t->id, tank_id);
	rng_seed(&t->rng, p->seed);
	tank_init_derived(t);
	struct rng *r = &t->rng;

	for (int i = 0; i < p->crabs; i++)
		crab_add_random(t);
	/* Initial plants on distinct random free root spots, full grown (the original's 120). */
	for (int i = 0; i < p->initial_plants; i++) {
		int free_n = 0;
		for (int s = 0; s < p->root_spots; s++)
			free_n += t->spot_plant[s] < 0 && !spot_blocked(t, s);
		if (free_n == 0)
			break;
		int pick = rng_int(r, 0, free_n - 1);
		for (int s = 0; s < p->root_spots; s++)
			if (t->spot_plant[s] < 0 && !spot_blocked(t, s) && pick-- == 0) {
				plant_add_random(t, s, 120.0);
				break;
			}
	}
	for (int i = 0; i < p->initial_food; i++)
		food_spawn_one(t, true);
	/* The original starts its ten fish in a loose school near (300, 200); a larger world
	 * gets its fish spread over all of it. */
	bool school = t->area_scale <= 1.0;
	for (int i = 0; i < p->initial_fish; i++) {
		double x, y;
		if (school) {
			x = clampd(300 + rng_range(r, -100, 100), FISH_HALF, p->width - FISH_HALF);
			y = clampd(200 + rng_range(r, -60, 60), FISH_TOP_MARGIN + FISH_HALF,
				   p->height - FISH_HALF);
		} else {
			x = rng_range(r, FISH_HALF, p->width - FISH_HALF);
			y = rng_range(r, FISH_TOP_MARGIN + FISH_HALF, p->height - FISH_HALF);
		}
		struct fish *f = tank_spawn_fish(t, x, y);
		if (f)
			events_add(t, SIM_EV_SPAWN, f, -1);
	}
	return t;
}

static void tank_work_free(struct tank_work *w)
{
	for (size_t i = 0; i < w->n_born; i++)
		fish_free(w->born[i]);
	free(w->born);
	free(w->uf);
	free(w->group_next);
	free(w->group_tail);
	free(w->pick);
	free(w->paid);
	free(w->tick_due);
	free(w->bite);
	free(w->flee);
	free(w->food_spare);
	free(w->energy_runs);
	free(w->gone);
	free(w->tables.players);
	free(w->tables.size);
	free(w->tables.hands);
	free(w->tables.dealt);
}

void tank_free(struct tank *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->n_exited; i++)
		fish_free(t->exited[i].f);
	free(t->fish);
	free(t->exited);
	free(t->food);
	free(t->plants);
	free(t->crabs);
	free(t->spot_plant);
	free(t->poker_log);
	history_free(&t->hist);
	events_free(&t->events);
	lineage_free(&t->lin);
	free(t->id_index);
	tank_work_free(&t->work);
	pool_free(t->pool);
	grid_free(&t->fish_grid);
	grid_free(&t->food_grid);
	free(t);
}

/* Below this many items one thread sorts a grid: a hand-off costs more. */
#define GRID_PARTS_FROM 4096

/* Fish i's slot in the fish grid (a hole if it is dead or gone). */
static void fish_grid_slot(struct tank *t, size_t i)
{
	const struct fish *f = &t->fish[i];
	if (f->dead || f->exited)
		grid_fill_at(&t->fish_grid, i, 0, 0, 0, 0, 0, -1);
	else
		grid_fill_at(&t->fish_grid, i, f->x, f->y, f->vx, f->vy,
			     f->energy / fish_max_energy_of(f), (int)i);
}

/* Reading every fish is most of a grid rebuild (each is 2.2 kB), so the tank's threads
 * copy them into the grid's slots (and then count and place them, in parts). */
static void fish_grid_fill(struct tank *t, size_t lo, size_t hi)
{
	for (size_t i = lo; i < hi; i++) {
		fish_prefetch(t, i + FISH_PREFETCH_AHEAD);
		fish_grid_slot(t, i);
	}
}

static void food_grid_fill(struct tank *t, size_t lo, size_t hi)
{
	for (size_t i = lo; i < hi; i++) {
		const struct food *fd = &t->food[i];
		grid_fill_at(&t->food_grid, i, fd->x, fd->y, 0, 0, 0, fd->dead ? -1 : (int)i);
	}
}

static void sort_count_part(struct tank *t, size_t part, size_t end)
{
	(void)end;
	grid_count_part(t->work.sorting, part, t->work.sorting_parts);
}

static void sort_place_part(struct tank *t, size_t part, size_t end)
{
	(void)end;
	grid_place_part(t->work.sorting, part, t->work.sorting_parts);
}

/* The counting sort of a grid whose n slots are filled runs in one part per thread (each
 * part counts and places its own run of slots; a cell's slots go to the parts in order):
 * the grid is the one a single pass gives. */
static void tank_sort_grid(struct tank *t, struct grid *g, size_t n)
{
	g->n = n;
	size_t parts = t->pool && n >= GRID_PARTS_FROM ? (size_t)t->threads : 1;
	t->work.sorting = g;
	t->work.sorting_parts = parts;
	grid_parts_begin(g, parts);
	pool_run_parts(t->pool, t, parts, sort_count_part);
	grid_offsets(g, parts);
	pool_run_parts(t->pool, t, parts, sort_place_part);
	grid_parts_end(g);
}

void tank_rebuild_fish_grid(struct tank *t)
{
	grid_prepare(&t->fish_grid, t->n_fish);
	pool_run(t->pool, t, t->n_fish, fish_grid_fill);
	tank_sort_grid(t, &t->fish_grid, t->n_fish);
}

/* A fed tank may hold up to two food items a fish (food_cap; live food never sinks away):
 * the food grid too is filled and sorted on the tank's threads. */
void tank_rebuild_food_grid(struct tank *t)
{
	grid_prepare(&t->food_grid, t->n_food);
	pool_run(t->pool, t, t->n_food, food_grid_fill);
	tank_sort_grid(t, &t->food_grid, t->n_food);
}

/* The dead and the departed leave; the last fish takes the place of each (O(1) per
 * removal). The fish array is not kept in spatial order: neighbour queries read the
 * grid's own compact copy of positions, and periodically rewriting every fish in cell
 * order (2.2 kB each) cost more than it saved and made every 16th tick a slow one. The
 * order is part of the state (the order of the "fish" array in the JSON), and all this
 * stays deterministic. */
static void fish_remove_gone(struct tank *t)
{
	size_t i = 0;
	while (i < t->n_fish) {
		if (t->work.gone[i]) {
			fishidx_removed(t, t->fish[i].id);
			t->fish[i] = t->fish[--t->n_fish];
			t->work.gone[i] = t->work.gone[t->n_fish];
			if (i < t->n_fish)
				fishidx_moved(t, i);
		} else
			i++;
	}
}

enum { STAYS, GONE_DEAD, GONE_EXITED };

/* Which fish leave this frame, a byte each, marked on the tank's threads: the serial
 * passes of tank_compact then read the fish that go, not every fish (at 100,000 fish,
 * a cache line each was a millisecond a pass). */
static void gone_mark(struct tank *t, size_t lo, size_t hi)
{
	for (size_t i = lo; i < hi; i++) {
		fish_prefetch(t, i + FISH_PREFETCH_AHEAD);
		const struct fish *f = &t->fish[i];
		t->work.gone[i] = f->exited ? GONE_EXITED : f->dead ? GONE_DEAD : STAYS;
	}
}

/* End of frame: the departed go to the exit queue, the dead go, the newborns come in. */
static void tank_compact(struct tank *t)
{
	sim_grow((void **)&t->work.gone, &t->work.cap_gone, t->n_fish, sizeof *t->work.gone);
	pool_run(t->pool, t, t->n_fish, gone_mark);
	for (size_t i = 0; i < t->n_fish; i++) {
		if (t->work.gone[i] != GONE_EXITED)
			continue;
		struct fish *f = &t->fish[i];
		enum wall w = (enum wall)(f->exited - 1);
		f->exited = 0;
		sim_grow((void **)&t->exited, &t->cap_exited, t->n_exited + 1, sizeof *t->exited);
		t->exited[t->n_exited++] = (struct exited){fish_clone(f), w};
		lineage_stamp(t, t->exited[t->n_exited - 1].f);
		t->flow[EOUT_MIGRATION] += f->energy;
		t->migrations_out++;
		events_add(t, SIM_EV_MIGRATION_OUT, f, (int)w);
		f->exited = 1; /* still to be removed below */
	}
	fish_remove_gone(t);
	for (size_t i = 0; i < t->work.n_born; i++)
		tank_adopt_fish(t, t->work.born[i]);
	t->work.n_born = 0;

	size_t k = 0;
	for (size_t i = 0; i < t->n_food; i++)
		if (!t->food[i].dead)
			t->food[k++] = t->food[i];
	t->n_food = k;

	k = 0;
	bool plants_changed = false;
	for (size_t i = 0; i < t->n_plants; i++) {
		if (!t->plants[i].dead)
			t->plants[k++] = t->plants[i];
		else
			plants_changed = true;
	}
	t->n_plants = k;
	if (plants_changed)
		plants_reindex(t);
}

/* One fish's random stream for this frame: a function of the tank's seed, the fish's id
 * and the frame only, so it does not matter which thread moves which fish, nor in which
 * order. The fish are taken in the fish grid's cell order (lo and hi are grid positions):
 * consecutive fish then query the same few cells, which stay in cache, where the fish
 * array's own order scatters the queries over the whole grid. The fish themselves are
 * then read out of order, so the lines this phase reads of each (position to poker
 * behaviour and the first of its memory) are asked for a few fish ahead. */
#define MOVE_PREFETCH_AHEAD 6
#define MOVE_HOT_LINES 8

/* Then, with the fish's lines at hand, what follows from its move alone: it grows older
 * (fish_tick, in fish order, does what that names), what it may bite is asked (eat_plan),
 * and its slot of the contact grid is filled (no fish moves after this; a fish that
 * fish_tick changes is filled again). None of it reads another fish, and the move's
 * queries read the grids' copies, never a fish: the order of the fish does not matter.
 * The grid's slots are not read while the move runs (only its sorted items are). */
static void move_fish(struct tank *t, size_t i, uint64_t base)
{
	struct fish *f = &t->fish[i];
	struct rng r;
	rng_seed(&r, base ^ f->key);
	struct percept pc;
	enum wall w;
	fish_perceive(t, (int)i, &pc);
	pc.rng = &r;
	if (fish_move(t, f, &pc, &w, &t->work.paid[i]))
		f->exited = 1 + (int)w;
	t->work.tick_due[i] = !f->exited && fish_grow_older(f);
	t->work.bite[i] = eat_plan(t, i);
	fish_grid_slot(t, i);
}

/* Every MEMORY_UPDATE_EVERY frames, a fish's memory, fitness and marks: in fish order, a
 * pass of its own, as they are lines the move does not read. */
static void periodic_range(struct tank *t, size_t lo, size_t hi)
{
	for (size_t i = lo; i < hi; i++) {
		fish_prefetch(t, i + FISH_PREFETCH_AHEAD);
		if (!t->fish[i].exited)
			fish_periodic(t, &t->fish[i]);
	}
}

static void move_range_grid(struct tank *t, size_t lo, size_t hi)
{
	uint64_t base = t->p.seed ^ (t->frame * 0x9E3779B97F4A7C15ULL);
	const struct grid_item *items = t->fish_grid.items;
	for (size_t k = lo; k < hi; k++) {
		if (k + MOVE_PREFETCH_AHEAD < hi) {
			const char *a = (const char *)&t->fish[items[k + MOVE_PREFETCH_AHEAD].idx];
			for (int l = 0; l < MOVE_HOT_LINES; l++)
				__builtin_prefetch(a + 64 * l, 1, 3);
		}
		move_fish(t, (size_t)items[k].idx, base);
	}
}

/* In fish order: for a grid that does not hold every fish once (never expected). */
static void move_range(struct tank *t, size_t lo, size_t hi)
{
	uint64_t base = t->p.seed ^ (t->frame * 0x9E3779B97F4A7C15ULL);
	for (size_t i = lo; i < hi; i++)
		move_fish(t, i, base);
}

void tank_set_threads(struct tank *t, int n)
{
	n = n < 1 ? 1 : n > 16 ? 16 : n;
	if (n == t->threads)
		return;
	pool_free(t->pool);
	t->pool = pool_new(n);
	t->threads = n;
}

void tank_step(struct tank *t)
{
	t->frame++;
	tank_time_update(t);

	/* Food moves first (live food flees the fish as they were at the start of the frame). */
	tank_rebuild_fish_grid(t);
	if (fishorder_due(t))
		fishorder_sort(t);
	food_update_all(t);
	tank_rebuild_food_grid(t);
	food_order(t);

	/* Perceive and move every fish, and age it, in parallel when the tank has threads;
	 * then, in fish order, book what they paid, and the births and deaths (shared
	 * state) of the fish fish_grow_older named. */
	size_t n = t->n_fish;
	sim_grow((void **)&t->work.paid, &t->work.cap_paid, n, sizeof *t->work.paid);
	sim_grow((void **)&t->work.tick_due, &t->work.cap_tick_due, n, sizeof *t->work.tick_due);
	sim_grow((void **)&t->work.bite, &t->work.cap_bite, n, sizeof *t->work.bite);
	t->crab_top = INFINITY;
	for (size_t i = 0; i < t->n_crabs; i++)
		t->crab_top = fmin(t->crab_top, t->crabs[i].y);
	/* Between frames no fish is dead or departed, so the grid holds every fish once. */
	pool_run(t->pool, t, n, t->fish_grid.n == n ? move_range_grid : move_range);
	grid_prepare(&t->fish_grid, n); /* the move's queries are done; its slots are kept */
	if (t->frame % MEMORY_UPDATE_EVERY == 0)
		pool_run(t->pool, t, n, periodic_range);
	/* The sum in a local, apart from fish_tick (which books no metabolism): through
	 * t->flow the compiler stored and reloaded it for every fish. Same order, same bits. */
	double metabolism = t->flow[EOUT_METABOLISM];
	const double *paid = t->work.paid;
	for (size_t i = 0; i < n; i++)
		metabolism += paid[i];
	t->flow[EOUT_METABOLISM] = metabolism;
	const bool *due = t->work.tick_due;
	for (size_t i = 0; i < n; i++)
		if (due[i]) {
			fish_tick(t, &t->fish[i]);
			fish_grid_slot(t, i);
		}
	plant_update_all(t);

	/* Contacts use the positions after everyone moved. */
	tank_sort_grid(t, &t->fish_grid, n);
	crab_update_all(t);
	crab_collide_fish(t);
	tank_eat(t);
	tank_poker(t);
	tank_plant_poker(t);
	tank_mating(t);

	tank_compact(t);
	food_spawn_auto(t);
	if (t->p.emergency_spawn)
		tank_emergency_spawn(t);
	if (t->p.history_size > 0 && t->frame % (uint64_t)t->p.history_interval == 0)
		history_sample(t);
	if (t->frame % LINEAGE_PRUNE_EVERY == 0)
		lineage_prune(t);
}

void tank_get_stats(const struct tank *t, struct tank_stats *s)
{
	memset(s, 0, sizeof *s);
	s->frame = t->frame;
	s->fish_count = (int)t->n_fish;
	s->in_transit = (int)t->in_transit;
	long long gsum = 0;
	for (size_t i = 0; i < t->n_fish; i++) {
		const struct fish *f = &t->fish[i];
		s->fish_energy += f->energy;
		gsum += f->generation;
		if (f->generation > s->generation)
			s->generation = f->generation;
		if (f->generation_deepest > s->generation_deepest)
			s->generation_deepest = f->generation_deepest;
	}
	s->gene_bank_size = t->bank.n;
	s->spawns_banked = t->spawns_banked;
	s->generation_mean = t->n_fish ? (double)gsum / t->n_fish : 0;
	s->food_count = (int)t->n_food;
	for (size_t i = 0; i < t->n_food; i++)
		s->food_energy += t->food[i].energy;
	s->plant_count = (int)t->n_plants;
	for (size_t i = 0; i < t->n_plants; i++)
		s->plant_energy += t->plants[i].energy;
	s->crab_count = (int)t->n_crabs;
	for (size_t i = 0; i < t->n_crabs; i++)
		s->crab_energy += t->crabs[i].energy;
	s->total_energy = s->fish_energy + s->food_energy + s->plant_energy + s->crab_energy;
	s->max_generation = t->max_generation;
	s->births = t->births;
	s->births_refused = t->births_refused;
	s->spawns = t->spawns;
	s->deaths = t->deaths;
	memcpy(s->deaths_by_cause, t->deaths_by_cause, sizeof s->deaths_by_cause);
	s->migrations_in = t->migrations_in;
	s->migrations_out = t->migrations_out;
	s->plant_migrations_in = t->plant_migrations_in;
	s->plant_migrations_out = t->plant_migrations_out;
	s->plants_in_transit = (int)t->plants_in_transit;
	s->poker_games = t->poker_games;
	s->plant_poker_games = t->plant_poker_games;
	s->poker_hands = t->poker_games + t->plant_poker_games;
	s->poker_energy_moved = t->poker_energy_moved;
	s->poker_births = t->poker_births;
	s->plants_sprouted = t->plants_sprouted;
	memcpy(s->energy_flow, t->flow, sizeof s->energy_flow);
	s->day_time = t->day_time;
	s->activity = t->activity;
}

const struct tank_params *tank_get_params(const struct tank *t)
{
	return &t->p;
}

const char *tank_get_id(const struct tank *t)
{
	return t->id;
}

uint64_t tank_frame(const struct tank *t)
{
	return t->frame;
}

static const char *const flow_names[ENERGY_FLOW_COUNT] = {
	"in_food_spawn",   "in_photosynthesis", "in_fish_spawn",  "in_plant_spawn",
	"in_crab_spawn",   "in_migration",	"out_metabolism", "out_crab_metabolism",
	"out_house_cut",   "out_food_decay",	"out_predation",  "out_death_remains",
	"out_mating_cost", "out_plant_death",	"out_migration",  "out_overflow"};

const char *energy_flow_name(enum energy_flow f)
{
	return f >= 0 && f < ENERGY_FLOW_COUNT ? flow_names[f] : NULL;
}

const char *death_cause_name(enum death_cause c)
{
	static const char *const n[] = {"starvation", "predation", "old_age"};
	return c >= 0 && c < DEATH_CAUSE_COUNT ? n[c] : NULL;
}

const char *life_stage_name(enum life_stage s)
{
	static const char *const n[] = {"baby", "juvenile", "adult", "elder"};
	return s >= STAGE_BABY && s <= STAGE_ELDER ? n[s] : NULL;
}

const char *wall_name(enum wall w)
{
	return w == WALL_LEFT ? "left" : w == WALL_RIGHT ? "right" : "none";
}

enum wall wall_opposite(enum wall w)
{
	return w == WALL_LEFT ? WALL_RIGHT : w == WALL_RIGHT ? WALL_LEFT : WALL_NONE;
}
