/* Food (spec §2.2): sinking flakes of five kinds, live food that wanders and flees fish,
 * plant nectar, and the automatic food supply tuned by the fish's hunger and the hour. */
#include "config.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "simd/sim/internal.h"

const char *const food_kind_names[FOOD_KIND_COUNT] = {"algae", "protein", "vitamin", "energy",
						      "rare",  "nectar",  "live"};
static const double kind_energy[FOOD_KIND_COUNT] = {45, 75, 60, 70, 115, NECTAR_ENERGY, 110};
static const double kind_weight[FOOD_KIND_COUNT] = {0.35, 0.25, 0.20, 0.15, 0.05, 0, 0};
static const double kind_sink[FOOD_KIND_COUNT] = {0.8, 1.2, 0.9, 1.0, 1.1, 0, 0};

#define LIVE_SPEED 1.8
#define LIVE_MAX_SPEED 2.88
#define FOOD_BITE_PER_SIZE 20.0
#define FOOD_CRUMB 0.1

size_t food_cap(const struct tank *t)
{
	/* Live food and nectar never sink away; the cap keeps a starving tank bounded. */
	return (size_t)(100.0 * t->p.food_rate) + (size_t)t->p.max_fish;
}

struct food *food_push(struct tank *t, int kind, double x, double y, double energy)
{
	sim_grow((void **)&t->food, &t->cap_food, t->n_food + 1, sizeof *t->food);
	struct food *fd = &t->food[t->n_food++];
	memset(fd, 0, sizeof *fd);
	fd->id = ++t->food_serial;
	fd->kind = kind;
	fd->x = x;
	fd->y = y;
	fd->energy = fd->max_energy = energy;
	fd->source_spot = -1;
	return fd;
}

static void live_new_heading(struct tank *t, struct food *fd)
{
	double a = rng_range(&t->rng, -M_PI, M_PI);
	fd->vx = cos(a) * LIVE_SPEED;
	fd->vy = sin(a) * LIVE_SPEED;
	fd->timer = rng_int(&t->rng, 20, 45);
}

void food_spawn_one(struct tank *t, bool anywhere)
{
	struct rng *r = &t->rng;
	if (t->n_food >= food_cap(t))
		return;
	double p_live = 0.40;
	switch (tank_day_phase(t)) {
	case PHASE_DAWN:
	case PHASE_DUSK:
		p_live = fmin(0.95, p_live * 2.2);
		break;
	case PHASE_NIGHT:
		p_live = fmin(0.85, p_live * 1.6);
		break;
	case PHASE_DAY:
		p_live = fmax(0.25, p_live * 0.9);
		break;
	}
	double x = rng_range(r, 20, t->p.width - 20);
	if (rng_chance(r, p_live)) {
		double y = rng_range(r, 60, t->p.height - 60);
		struct food *fd = food_push(t, FOOD_LIVE, x, y, kind_energy[FOOD_LIVE]);
		live_new_heading(t, fd);
		t->flow[EIN_FOOD_SPAWN] += fd->energy;
		return;
	}
	double pick = rng_uniform(r), acc = 0;
	int kind = FOOD_ALGAE;
	for (int k = 0; k <= FOOD_RARE; k++) {
		acc += kind_weight[k];
		if (pick < acc) {
			kind = k;
			break;
		}
	}
	double y = anywhere ? rng_range(r, 40, t->p.height * 0.6) : 0.0;
	struct food *fd = food_push(t, kind, x, y, kind_energy[kind]);
	t->flow[EIN_FOOD_SPAWN] += fd->energy;
}

/* The original's supply (one share, its thresholds below) throttles itself above 15-20
 * fish, so a world scaled by area alone, as tank_params_scale_world does, feeds a fifth
 * of the 100 fish per default-sized area it can hold: a 10,000-fish tank starved to 60 %
 * within 1,000 frames. A world larger than the original's therefore gets at least one
 * share per FISH_PER_FOOD_SHARE fish of max_fish. At 20 a full tank's shares count 20
 * fish each, past the 15-fish threshold (interval x1.67): fed, with food scarce enough
 * that some fish starve and the population turns over. At 15 (rules 2) no share could
 * pass that threshold, so a full tank's supply never throttled: it got three times what
 * its fish burn, food piled up to its cap (two items a fish), a quarter of the food's
 * energy overflowed full fish, and until old age made room few births found any (229
 * in the first 1,800 frames of a 10,000-fish tank, 13,232 refused).
 * The original's tank (and any tank no larger) keeps its supply exactly. Derived from
 * the parameters only, so a replayed or restored tank gets the same. */
#define FISH_PER_FOOD_SHARE 20.0

double food_supply_rate(const struct tank *t)
{
	double k = t->p.food_rate;
	if (t->area_scale > 1.0 + 1e-9 && t->p.max_fish / FISH_PER_FOOD_SHARE > k)
		k = t->p.max_fish / FISH_PER_FOOD_SHARE;
	return k;
}

/* Live food never sinks away. In the original's tank the fish roam all of it and catch
 * it; in a larger world they gather near the surface, where the flakes fall, and live
 * food spawned in the depths is never caught: a 100,000-fish tank held 15,000 items of
 * it after a simulated minute, 70,000 after six, and its food cap (200,000 items) after
 * twenty, which every fish's food search and every live food's flee query wade through.
 * The original met the same pile-up after the version this one re-imagines, and gave
 * live food a lifespan of 900 frames (30 s); a world larger than the original's does the
 * same, so that its food stays what its supply makes, while the original's tank (and any
 * tank no larger) keeps its food as it was: its course, and every evolution figure of
 * docs/history.md, are unchanged. From the parameters only, like the supply. */
static int live_lifespan(const struct tank *t)
{
	return t->area_scale > 1.0 + 1e-9 ? LIVE_FOOD_LIFESPAN : 0;
}

static bool live_expired(const struct tank *t, const struct food *fd)
{
	int span = live_lifespan(t);
	return span > 0 && fd->age >= span;
}

/* The fish's energy, summed in runs of ENERGY_RUN fish on the tank's threads (one cache
 * miss a fish: a millisecond serially at 100,000 fish), then the runs' sums in order.
 * The runs are fixed, so the sum is the same on any number of threads; a tank of no more
 * than one run sums exactly as one loop over its fish does. */
#define ENERGY_RUN 4096

static void energy_run(struct tank *t, size_t k, size_t end)
{
	for (; k < end; k++) {
		size_t hi = (k + 1) * ENERGY_RUN < t->n_fish ? (k + 1) * ENERGY_RUN : t->n_fish;
		double sum = 0;
		for (size_t i = k * ENERGY_RUN; i < hi; i++) {
			fish_prefetch(t, i + FISH_PREFETCH_AHEAD);
			sum += t->fish[i].energy;
		}
		t->work.energy_runs[k] = sum;
	}
}

static double fish_energy_sum(struct tank *t)
{
	size_t runs = (t->n_fish + ENERGY_RUN - 1) / ENERGY_RUN;
	sim_grow((void **)&t->work.energy_runs, &t->work.cap_energy_runs, runs,
		 sizeof *t->work.energy_runs);
	pool_run_parts(t->pool, t, runs, energy_run);
	double sum = 0;
	for (size_t k = 0; k < runs; k++)
		sum += t->work.energy_runs[k];
	return sum;
}

void food_spawn_auto(struct tank *t)
{
	double fish_e = fish_energy_sum(t);
	/* The original's thresholds, per default-sized share of the food supply. A hungry and
	 * crowded share gets both factors; the original's code takes only the first that
	 * holds, hunger first. Kept: every evolution figure in docs/history.md is this one's. */
	double k = food_supply_rate(t);
	if (!(k > 0))
		return;
	double e = fish_e / k, n = (double)t->n_fish / k;
	double interval = 90;
	if (e < 1500)
		interval /= 4;
	else if (e < 3500)
		interval /= 3;
	if (e > 6500 || n > 20)
		interval *= 3;
	else if (e > 4500 || n > 15)
		interval *= 1.67;
	t->food_accum += k;
	while (t->food_accum >= interval) {
		t->food_accum -= interval;
		food_spawn_one(t, false);
	}
}

/* What live food sees: the nearest fish within sight, by the fish grid of the start of the
 * frame. It reads only that grid and the food's position, which nothing changes before
 * the food moves, so the tank's threads ask it for every live food at once. The fish are
 * those grid_near would give, seen as the grid is walked (nothing collected). */
struct flee_walk {
	double x, y, best, fx, fy;
};

static inline void flee_see(void *ctx, const struct grid_item *it)
{
	struct flee_walk *w = ctx;
	double dx = w->x - it->x, dy = w->y - it->y, d2 = dx * dx + dy * dy;
	if (d2 < w->best) {
		w->best = d2;
		w->fx = dx;
		w->fy = dy;
	}
}

static void flee_query(const struct tank *t, const struct food *fd, struct flee *out)
{
	struct flee_walk w = {fd->x, fd->y, LIVE_FOOD_FLEE_RADIUS * LIVE_FOOD_FLEE_RADIUS, 0, 0};
	grid_visit_near(&t->fish_grid, fd->x, fd->y, LIVE_FOOD_FLEE_RADIUS, NULL, -1, FLEE_BUDGET,
			flee_see, &w);
	out->dx = w.fx;
	out->dy = w.fy;
	out->d2 = w.best;
}

static void update_live(struct tank *t, struct food *fd, const struct flee *fl)
{
	if (--fd->timer <= 0)
		live_new_heading(t, fd);
	/* Flee the nearest fish within sight. */
	if (fl->d2 < LIVE_FOOD_FLEE_RADIUS * LIVE_FOOD_FLEE_RADIUS) {
		double d = fmax(sqrt(fl->d2), 1.0);
		double push = 1.2 * fmin(1.0, (60.0 / d) * (60.0 / d));
		fd->vx += fl->dx / d * push;
		fd->vy += fl->dy / d * push;
	}
	double v = sqrt(fd->vx * fd->vx + fd->vy * fd->vy);
	if (v > LIVE_MAX_SPEED) {
		fd->vx *= LIVE_MAX_SPEED / v;
		fd->vy *= LIVE_MAX_SPEED / v;
	}
	fd->x += fd->vx;
	fd->y += fd->vy;
	if (fd->x < 10 || fd->x > t->p.width - 10) {
		fd->x = clampd(fd->x, 10, t->p.width - 10);
		fd->vx = -fd->vx;
	}
	if (fd->y < FISH_TOP_MARGIN + 10 || fd->y > t->p.height - 20) {
		fd->y = clampd(fd->y, FISH_TOP_MARGIN + 10, t->p.height - 20);
		fd->vy = -fd->vy;
	}
}

static void flake_sink(struct food *fd)
{
	fd->vy += 0.01 * kind_sink[fd->kind];
	fd->y += fd->vy;
}

/* On the tank's threads: what each live food sees, and every move that draws nothing
 * from the tank's random stream and adds to no tank-wide sum. A live food whose timer
 * runs out (a new heading) and a flake that reaches the bottom (its energy rots into the
 * ledger) are left to the serial pass. */
static void food_move_part(struct tank *t, size_t lo, size_t hi)
{
	for (size_t i = lo; i < hi; i++) {
		struct food *fd = &t->food[i];
		struct flee *fl = &t->work.flee[i];
		fl->serial = false;
		if (fd->dead)
			continue;
		if (fd->kind == FOOD_LIVE) {
			if (live_lifespan(t) > 0)
				fd->age++;
			if (live_expired(t, fd)) {
				fl->serial = true; /* it expires */
				continue;
			}
			flee_query(t, fd, fl);
			if (fd->timer > 1)
				update_live(t, fd, fl);
			else
				fl->serial = true;
		} else if (fd->kind != FOOD_NECTAR) {
			flake_sink(fd);
			fl->serial = fd->y >= t->p.height - 10;
		}
	}
}

/* Most of the food moves on the tank's threads; then, in food order, the live food that
 * draws a new heading (the draws come in the order they always did) and the flakes that
 * rot (the ledger sums them in that order too), so the state is the same on any number
 * of threads, and the same as when every item moved here in turn. */
void food_update_all(struct tank *t)
{
	sim_grow((void **)&t->work.flee, &t->work.cap_flee, t->n_food, sizeof *t->work.flee);
	pool_run(t->pool, t, t->n_food, food_move_part);
	for (size_t i = 0; i < t->n_food; i++) {
		struct food *fd = &t->food[i];
		if (!t->work.flee[i].serial)
			continue;
		if (fd->kind == FOOD_LIVE && !live_expired(t, fd)) {
			update_live(t, fd, &t->work.flee[i]);
		} else {
			/* Flakes that reach the bottom rot away, live food that expires too. */
			t->flow[EOUT_FOOD_DECAY] += fd->energy;
			fd->energy = 0;
			fd->dead = true;
		}
	}
}

/* The food array in space order, like the fish's (fishorder.c). Food comes at random
 * places and is appended, so with tens of thousands of items the array's order has
 * nothing to do with space: each live food's flee query then reads fish cells far from
 * the last one's, and the threads' halves of the array are both all over the tank.
 * Every FOODORDER_EVERY frames the array is put in the food grid's order (dead food,
 * left out of the grid, after the rest, to go at the end of the frame), and the grid's
 * indices renamed. The order depends only on the positions, so it is part of the state
 * like the fish's: a restored tank sorts at the same frames and does what the original
 * did, whatever its threads. */
void food_order(struct tank *t)
{
	struct grid *g = &t->food_grid;
	size_t n = t->n_food, at = 0;
	if (n < FOODORDER_FROM || t->frame % FOODORDER_EVERY != 1)
		return;
	sim_grow((void **)&t->work.food_spare, &t->work.cap_food_spare, n,
		 sizeof *t->work.food_spare);
	for (size_t k = 0; k < g->n; k++) {
		t->work.food_spare[at] = t->food[g->items[k].idx];
		g->items[k].idx = (int)at;
		g->pos_of[at] = (int)at;
		at++;
	}
	for (size_t i = 0; i < n; i++)
		if (t->food[i].dead) {
			g->pos_of[at] = -1;
			t->work.food_spare[at++] = t->food[i];
		}
	if (at != n) /* the grid holds every live item once: cannot happen */
		abort();
	struct food *sorted = t->work.food_spare;
	size_t cap = t->work.cap_food_spare;
	t->work.food_spare = t->food;
	t->work.cap_food_spare = t->cap_food;
	t->food = sorted;
	t->cap_food = cap;
}

bool food_bite(struct tank *t, struct fish *f, struct food *fd)
{
	double room = fish_max_energy_of(f) - f->energy;
	double bite = fmin(FOOD_BITE_PER_SIZE * fish_size_of(f), fmin(fd->energy, room));
	if (!(bite > 0))
		return false;
	fd->energy -= bite;
	fish_gain(t, f, bite);
	if (fd->energy <= FOOD_CRUMB) {
		t->flow[EOUT_FOOD_DECAY] += fd->energy;
		fd->energy = 0;
		fd->dead = true;
		if (fd->kind == FOOD_NECTAR && plant_sprout(t, fd))
			t->plants_sprouted++;
	}
	return true;
}

void food_digest(struct fish *f, const struct food *fd)
{
	f->food_eaten++;
	f->fitness += 2.0;
	memory_remember(&f->mem.food, fd->x, fd->y);
	if (f->food_eaten % 5 == 0)
		f->g.learned[LEARN_FOOD] = fmin(1.0, f->g.learned[LEARN_FOOD] + 0.05);
}

double food_kind_energy(int kind)
{
	return kind_energy[kind];
}
