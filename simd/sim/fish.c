/* A fish: perception, movement, the energy model (spec §2.5) and its life (§2.6). */
#include "config.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "simd/sim/internal.h"

#define CRAB_SIGHT 250.0
#define SPEED_UPKEEP 0.6
#define VISION_UPKEEP 0.4
/* Upkeep grows with the square of speed above 1, as drag does: with a linear cost alone,
 * speed ran to its ceiling in some seeds within the hour (bench-evolution, history.md). */
#define SPEED_DRAG 3.0

enum life_stage stage_of_age(int age)
{
	if (age < STAGE_BABY_END)
		return STAGE_BABY;
	if (age < STAGE_JUVENILE_END)
		return STAGE_JUVENILE;
	if (age < STAGE_ADULT_END)
		return STAGE_ADULT;
	return STAGE_ELDER;
}

/* Babies grow from half size to full size over their first 300 frames. */
static double fish_growth(int age)
{
	return age < STAGE_BABY_END ? 0.5 + 0.5 * age / (double)STAGE_BABY_END : 1.0;
}

double fish_size_of(const struct fish *f)
{
	return fish_growth(f->age) * f->g.t[T_SIZE];
}

/* size^1.2, for the swim cost (SIM_RULES 4). pow ran for every fish in every frame (2 % of
 * a new 100,000-fish tank's CPU time); a size is the genome's T_SIZE times a growth factor that
 * depends on the age alone, so its power is the product of theirs: the genome's, kept with
 * the fish while T_SIZE stays what it was computed for (never serialized: a restored or
 * arriving fish computes it again), and the growth factor's, from a table of the baby
 * ages. An adult's is pow(T_SIZE, 1.2) exactly; a baby's is within an ulp or two of
 * pow(size, 1.2). */
static double growth_pow[STAGE_BABY_END];
static pthread_once_t growth_pow_once = PTHREAD_ONCE_INIT;

static void fish_growth_pow_fill(void)
{
	for (int age = 0; age < STAGE_BABY_END; age++)
		growth_pow[age] = pow(fish_growth(age), 1.2);
}

static double fish_size_pow(struct fish *f)
{
	double size = f->g.t[T_SIZE];
	if (f->size_pow_of != size) {
		f->size_pow = pow(size, 1.2);
		f->size_pow_of = size;
	}
	if (f->age >= STAGE_BABY_END)
		return f->size_pow;
	pthread_once(&growth_pow_once, fish_growth_pow_fill);
	return growth_pow[f->age < 0 ? 0 : f->age] * f->size_pow;
}

struct fish *fish_alloc(void)
{
	return sim_xcalloc(1, sizeof(struct fish));
}

struct fish *fish_new_random(struct tank *t, double x, double y)
{
	struct fish *f = fish_alloc();
	struct rng *r = &t->rng;
	ids_make(t->id, ID_DOMAIN_FISH, t->fish_serial++, f->id);
	genome_random(&f->g, r);
	f->x = x;
	f->y = y;
	f->wander_angle = rng_range(r, -M_PI, M_PI);
	f->base_speed = FISH_BASE_SPEED;
	f->vx = cos(f->wander_angle) * 0.5;
	f->vy = sin(f->wander_angle) * 0.5;
	f->dir_x = cos(f->wander_angle);
	f->dir_y = sin(f->wander_angle);
	f->max_age = (int)lround(MAX_AGE_PER_TRAIT * f->g.t[T_MAX_ENERGY]);
	f->energy = 0.5 * fish_max_energy_of(f);
	f->home_x = x;
	f->home_y = y;
	return f;
}

void fish_free(struct fish *f)
{
	free(f);
}

struct fish *fish_clone(const struct fish *f)
{
	struct fish *c = fish_alloc();
	*c = *f;
	return c;
}

/* The search's best find is kept here, not in the percept, for the reason given at
 * struct school. */
struct food_search {
	double x, y, best;
	int budget; /* candidates left to visit */
	int food;
	double dx, dy;
};

/* Scan the cells [c0, c1] of one row: they are one contiguous run of items. */
static void scan_food_cells(const struct grid *g, int row, int c0, int c1, struct food_search *s)
{
	const struct grid_item *it = g->items + g->start[row * g->cols + c0];
	const struct grid_item *end = g->items + g->start[row * g->cols + c1 + 1];
	if (end - it > s->budget)
		end = it + s->budget;
	s->budget -= (int)(end - it);
	for (; it < end; it++) {
		double dx = it->x - s->x, dy = it->y - s->y, d2 = dx * dx + dy * dy;
		if (d2 < s->best) {
			s->best = d2;
			s->food = it->idx;
			s->dx = dx;
			s->dy = dy;
		}
	}
}

/* Nearest food within radius, searched ring by ring outwards from the fish's cell: once a
 * ring is done, nothing unvisited can be closer than ring x cell, so the search stops as
 * soon as the best find is within that. By the same bound, nothing in ring k is nearer
 * than (k - 1) x cell, so the last ring that can hold food within radius is
 * ceil(radius / cell); a fish with nothing in sight (three in ten in a 100,000-fish tank)
 * used to walk one more. The slack of a millionth of a cell covers coordinates that round
 * across a cell's edge (x * inv_cell): the result is the same, bit for bit. */
static void nearest_food(const struct tank *t, double x, double y, double radius, struct percept *pc)
{
	const struct grid *g = &t->food_grid;
	struct food_search s = {
		.x = x, .y = y, .best = radius * radius, .budget = FOOD_BUDGET, .food = -1};
	int cx = grid_col(g, x), cy = grid_row(g, y);
	int maxring = (int)ceil((radius + 1e-6 * g->cell) * g->inv_cell);
	for (int ring = 0; ring <= maxring; ring++) {
		int r0 = cy - ring, r1 = cy + ring, c0 = cx - ring, c1 = cx + ring;
		if (r0 < 0 && c0 < 0 && r1 >= g->rows && c1 >= g->cols)
			break; /* the ring lies wholly outside the world */
		for (int row = r0 < 0 ? 0 : r0; row <= r1 && row < g->rows; row++) {
			if (row == r0 || row == r1) {
				scan_food_cells(g, row, c0 < 0 ? 0 : c0,
						c1 >= g->cols ? g->cols - 1 : c1, &s);
			} else {
				if (c0 >= 0)
					scan_food_cells(g, row, c0, c0, &s);
				if (c1 < g->cols && c1 != c0)
					scan_food_cells(g, row, c1, c1, &s);
			}
		}
		double reach = ring * g->cell;
		if ((s.food >= 0 && s.best <= reach * reach) || s.budget <= 0)
			break;
	}
	pc->food = s.food;
	if (s.food >= 0) {
		pc->food_dx = s.dx;
		pc->food_dy = s.dy;
		pc->food_d = sqrt(s.best);
	}
}

/* The schooling sums, kept in locals while the neighbours are visited (through the
 * percept pointer, every sum was stored and reloaded for each neighbour: the compiler
 * cannot know the percept is not a grid item). The same sums in the same order. */
struct school {
	double best, sep2; /* squared distances: nearest fish, nearest social neighbour */
	int fish, n_social;
	double fish_dx, fish_dy, fish_energy_ratio;
	double coh_x, coh_y, ali_x, ali_y, sep_x, sep_y;
};

/* One neighbour into the sums: nearest fish and the schooling sums. With flat, the social
 * sums are taken without a branch, for the walk of the social box, where most candidates
 * are social in no order a predictor learns; adding +0.0 leaves every sum unchanged, as
 * none starts at or becomes -0.0. flat is a constant at each call: each walk gets its own
 * loop. (A push from a fish within 60 px implies a social one.) */
static inline void see_fish(struct school *s, const struct grid_item *it, double x, double y,
			    int idx, bool flat)
{
	if (it->idx == idx)
		return;
	double dx = it->x - x, dy = it->y - y, d2 = dx * dx + dy * dy;
	if (d2 < s->best) {
		s->best = d2;
		s->fish = it->idx;
		s->fish_dx = dx;
		s->fish_dy = dy;
		s->fish_energy_ratio = it->aux;
	}
	bool in = d2 < SOCIAL_RADIUS * SOCIAL_RADIUS;
	if (flat) {
		s->n_social += in;
		s->coh_x += in ? dx : 0.0;
		s->coh_y += in ? dy : 0.0;
		s->ali_x += in ? it->vx : 0.0;
		s->ali_y += in ? it->vy : 0.0;
		s->sep2 = in && d2 < s->sep2 ? d2 : s->sep2;
	} else if (in) {
		s->n_social++;
		s->coh_x += dx;
		s->coh_y += dy;
		s->ali_x += it->vx;
		s->ali_y += it->vy;
		if (d2 < s->sep2)
			s->sep2 = d2;
	}
	if (d2 < 60.0 * 60.0 && d2 > 1e-18) {
		double d = sqrt(d2);
		s->sep_x -= dx / d * (60 - d) / 60;
		s->sep_y -= dy / d * (60 - d) / 60;
	}
}

/* The schooling scan of a neighbourhood within the budget, as GRID_FOREACH over the
 * NEIGHBOUR_RADIUS box would give it, visiting half as many fish: first the box within
 * SOCIAL_RADIUS + 1 px. The fish it leaves out are all more than SOCIAL_RADIUS away, so
 * they add nothing to the social sums, and the others come in the big box's order. If the
 * nearest fish found is within SOCIAL_RADIUS, none left out is as near, and the answer is
 * the big box's bit for bit. Otherwise (a fish with no social neighbour, about 1 in 700)
 * the big box is walked. */
static void school_scan(const struct grid *g, double x, double y, int idx, struct school *sc)
{
	struct school start = *sc;
	GRID_FOREACH (g, x, y, SOCIAL_RADIUS + 1, it)
		see_fish(sc, it, x, y, idx, true);
	if (sc->best < SOCIAL_RADIUS * SOCIAL_RADIUS)
		return;
	*sc = start;
	GRID_FOREACH (g, x, y, NEIGHBOUR_RADIUS, it)
		see_fish(sc, it, x, y, idx, false);
}

/* A crowded neighbourhood: the fish grid_near would give, seen as the walk finds them. */
struct school_walk {
	struct school *sc;
	double x, y;
	int idx;
};

static inline void school_visit(void *ctx, const struct grid_item *it)
{
	struct school_walk *w = ctx;
	see_fish(w->sc, it, w->x, w->y, w->idx, false);
}

void fish_perceive(const struct tank *t, int idx, struct percept *pc)
{
	const struct fish *f = &t->fish[idx];
	double x = f->x, y = f->y;
	pc->energy_ratio = f->energy / fish_max_energy_of(f);
	double sight = t->food_sight * f->g.t[T_VISION] * (1.0 + 0.2 * f->g.learned[LEARN_FOOD]);
	nearest_food(t, x, y, sight, pc);

	pc->crab = -1;
	double best = CRAB_SIGHT * CRAB_SIGHT;
	/* Crabs walk the floor: a fish more than CRAB_SIGHT (+ 1 px for rounding) above the
	 * highest crab sees none, and most fish of a tall tank skip the loop. */
	size_t n_crabs = y + CRAB_SIGHT + 1 < t->crab_top ? 0 : t->n_crabs;
	for (size_t i = 0; i < n_crabs; i++) {
		double dx = t->crabs[i].x - x, dy = t->crabs[i].y - y, d2 = dx * dx + dy * dy;
		if (d2 < best) {
			best = d2;
			pc->crab = (int)i;
			pc->crab_dx = dx;
			pc->crab_dy = dy;
		}
	}
	if (pc->crab >= 0)
		pc->crab_d = fmax(sqrt(best), 1e-6);

	struct school sc = {.best = NEIGHBOUR_RADIUS * NEIGHBOUR_RADIUS,
			    .sep2 = SOCIAL_RADIUS * SOCIAL_RADIUS,
			    .fish = -1};
	/* Most neighbourhoods hold fewer fish than the cap: walk the grid directly then (the
	 * same items in the same order as grid_near would give, without collecting them). */
	const struct grid *g = &t->fish_grid;
	if (grid_count_box(g, x, y, NEIGHBOUR_RADIUS) <= NEIGHBOUR_BUDGET + 1) {
		school_scan(g, x, y, idx, &sc);
	} else {
		struct school_walk w = {&sc, x, y, idx};
		grid_ring_walk(g, x, y, NEIGHBOUR_RADIUS, grid_rot(g, idx), NEIGHBOUR_BUDGET + 1,
			       school_visit, &w);
	}
	pc->fish = sc.fish;
	if (sc.fish >= 0) {
		pc->fish_dx = sc.fish_dx;
		pc->fish_dy = sc.fish_dy;
		pc->fish_energy_ratio = sc.fish_energy_ratio;
		pc->fish_d = sqrt(sc.best);
	}
	pc->sep_d = sqrt(sc.sep2);
	pc->n_social = sc.n_social;
	pc->coh_x = sc.coh_x;
	pc->coh_y = sc.coh_y;
	pc->ali_x = sc.ali_x;
	pc->ali_y = sc.ali_y;
	pc->sep_x = sc.sep_x;
	pc->sep_y = sc.sep_y;
	if (pc->n_social > 0) {
		pc->coh_x /= pc->n_social;
		pc->coh_y /= pc->n_social;
		pc->ali_x /= pc->n_social;
		pc->ali_y /= pc->n_social;
	}
}

static double stage_metabolism(enum life_stage s)
{
	return s == STAGE_BABY ? 0.7 : s == STAGE_ELDER ? 1.2 : 1.0;
}

/* May run on a worker thread: touches only f; what it pays goes to *paid, which the
 * caller books (in fish order). */
bool fish_move(struct tank *t, struct fish *f, const struct percept *pc, enum wall *exit_wall,
	       double *paid)
{
	double dx, dy;
	behavior_desire(t, f, &f->g.behavior, pc, &dx, &dy);
	if (pc->fish >= 0) {
		/* Near other fish, the poker-movement algorithm takes a share of the steering. */
		double w = (1.0 - pc->fish_d / NEIGHBOUR_RADIUS) * (0.3 + 0.7 * pc->energy_ratio);
		double px, py;
		behavior_desire(t, f, &f->g.poker_behavior, pc, &px, &py);
		dx = (1 - w) * dx + w * px;
		dy = (1 - w) * dy + w * py;
	}
	double speed = fish_speed_of(f);
	f->vx += (dx * speed - f->vx) * 0.2;
	f->vy += (dy * speed - f->vy) * 0.2;
	double v = sqrt(f->vx * f->vx + f->vy * f->vy);
	if (v > 1.2 * speed) {
		f->vx *= 1.2 * speed / v;
		f->vy *= 1.2 * speed / v;
		v = 1.2 * speed;
	}
	f->x += f->vx;
	f->y += f->vy;

	/* Energy: existence, metabolism, swimming (spec §2.5), then the cost of turning. */
	/* Trade-offs: a faster body and keener eyes cost upkeep every frame, whether used
	 * or not (SPEED_UPKEEP, VISION_UPKEEP per unit of trait above or below 1, and
	 * SPEED_DRAG per square unit of speed: a slow body saves as much as a fast one pays). */
	double size = fish_size_of(f), act = t->activity;
	double fast = f->g.t[T_SPEED] - 1.0;
	double upkeep = 1.0 + SPEED_UPKEEP * fast + SPEED_DRAG * fast * fabs(fast) +
			VISION_UPKEEP * (f->g.t[T_VISION] - 1.0);
	double cost = 0.02 * act * size + (0.025 * f->g.t[T_METABOLISM] * act * upkeep +
					   (v > 0 ? 0.015 * v / speed * fish_size_pow(f) : 0)) *
						  stage_metabolism(stage_of_age(f->age));
	if (v > 1e-9) {
		double nx = f->vx / v, ny = f->vy / v;
		double turn = 1.0 - (f->dir_x * nx + f->dir_y * ny);
		if (turn > 0.1)
			cost += 0.03 * turn * size * sqrt(size); /* size^1.5 */
		f->dir_x = nx;
		f->dir_y = ny;
	}
	*paid = fmin(cost, f->energy);
	f->energy -= *paid;

	double top = FISH_TOP_MARGIN + FISH_HALF, bottom = t->p.height - FISH_HALF;
	if (f->y < top) {
		f->y = top;
		f->vy = fabs(f->vy);
	} else if (f->y > bottom) {
		f->y = bottom;
		f->vy = -fabs(f->vy);
	}
	if (f->x < FISH_HALF) {
		if (t->exit[WALL_LEFT]) {
			*exit_wall = WALL_LEFT;
			return true;
		}
		f->x = FISH_HALF;
		f->vx = fabs(f->vx);
	} else if (f->x > t->p.width - FISH_HALF) {
		if (t->exit[WALL_RIGHT]) {
			*exit_wall = WALL_RIGHT;
			return true;
		}
		f->x = t->p.width - FISH_HALF;
		f->vx = -fabs(f->vx);
	}
	return false;
}

void fish_periodic(const struct tank *t, struct fish *f)
{
	memory_update(&f->mem.food, MEMORY_UPDATE_EVERY);
	memory_update(&f->mem.danger, MEMORY_UPDATE_EVERY);
	double er = f->energy / fish_max_energy_of(f);
	f->fitness += 0.1 + 0.1 * er;
	for (int i = 0; i < LEARN_COUNT; i++)
		f->g.learned[i] *= 0.999;
	/* Hunger leaves an epigenetic mark the offspring inherit (halved). */
	if (er < 0.15)
		f->g.epi[EPI_STARVATION] = fmin(1.0, f->g.epi[EPI_STARVATION] + 0.01);
	for (int i = 0; i < EPI_COUNT; i++)
		f->g.epi[i] *= 0.999;
}

bool fish_grow_older(struct fish *f)
{
	f->age++;
	if (f->repro_cooldown > 0)
		f->repro_cooldown--;
	if (f->poker_cooldown > 0)
		f->poker_cooldown--;
	if (f->crab_contact > 0)
		f->crab_contact--;
	bool birth = f->pregnant && --f->preg.timer <= 0;
	return birth || f->age >= f->max_age || f->energy <= 0;
}

void fish_tick(struct tank *t, struct fish *f)
{
	if (f->pregnant && f->preg.timer <= 0)
		tank_birth(t, f);
	if (f->age >= f->max_age)
		tank_kill_fish(t, f, DEATH_OLD_AGE);
	else
		tank_fish_death_check(t, f);
}

int fish_check(const struct fish *f, struct json_err *e)
{
	int r;
	if (!ids_valid(f->id))
		return jv_fail(e, "id must be a UUID");
	if ((f->mother_id[0] && !ids_valid(f->mother_id)) ||
	    (f->father_id[0] && !ids_valid(f->father_id)))
		return jv_fail(e, "parent ids must be UUIDs or null");
	if ((r = genome_check(&f->g, e)) < 0)
		return r;
	double pos[] = {f->x, f->y, f->home_x, f->home_y};
	for (size_t i = 0; i < sizeof pos / sizeof pos[0]; i++)
		if (!isfinite(pos[i]) || fabs(pos[i]) > SIM_MAX_WORLD)
			return jv_fail(e, "positions must be finite and within %d", SIM_MAX_WORLD);
	if (!(f->base_speed > 0 && f->base_speed <= 20))
		return jv_fail(e, "base_speed must be in (0, 20]");
	double vmax = 1.2 * fish_speed_of(f) * (1 + 1e-9);
	if (!isfinite(f->vx) || !isfinite(f->vy) || sqrt(f->vx * f->vx + f->vy * f->vy) > vmax)
		return jv_fail(e, "velocity exceeds 1.2 x speed");
	if (!isfinite(f->dir_x) || !isfinite(f->dir_y) || fabs(f->dir_x) > 1.0001 ||
	    fabs(f->dir_y) > 1.0001)
		return jv_fail(e, "heading out of range");
	if (!isfinite(f->energy) || f->energy < 0 || f->energy > fish_max_energy_of(f))
		return jv_fail(e, "energy must be in [0, max_energy]");
	if (f->max_age < 1 || f->max_age > (int)(MAX_AGE_PER_TRAIT * 1.5) || f->age < 0 ||
	    f->age > f->max_age)
		return jv_fail(e, "age or max_age out of range");
	if (f->generation < 0 || f->generation > GENERATION_MAX)
		return jv_fail(e, "generation out of range");
	if (!isfinite(f->fitness) || f->fitness < 0 || f->fitness > 1e12)
		return jv_fail(e, "fitness out of range");
	if (!isfinite(f->wander_angle) || fabs(f->wander_angle) > 4 * M_PI)
		return jv_fail(e, "wander_angle out of range");
	if (f->pregnant) {
		if (f->preg.timer < 1 || f->preg.timer > PREGNANCY_FRAMES)
			return jv_fail(e, "pregnancy timer out of range");
		if (f->preg.mate_id[0] && !ids_valid(f->preg.mate_id))
			return jv_fail(e, "pregnancy mate_id must be a UUID");
		if ((r = genome_check(&f->preg.mate_genome, e)) < 0)
			return r;
	}
	if ((r = memory_check(&f->mem.food, e)) < 0 || (r = memory_check(&f->mem.danger, e)) < 0)
		return r;
	return 0;
}

const char *fish_id(const struct fish *f)
{
	return f->id;
}
const char *fish_mother_id(const struct fish *f)
{
	return f->mother_id[0] ? f->mother_id : NULL;
}
const char *fish_father_id(const struct fish *f)
{
	return f->father_id[0] ? f->father_id : NULL;
}
int fish_generation(const struct fish *f)
{
	return f->generation;
}
int fish_generation_deepest(const struct fish *f)
{
	return f->generation_deepest;
}
double fish_energy(const struct fish *f)
{
	return f->energy;
}
double fish_max_energy(const struct fish *f)
{
	return fish_max_energy_of(f);
}
int fish_age(const struct fish *f)
{
	return f->age;
}
int fish_max_age(const struct fish *f)
{
	return f->max_age;
}
enum life_stage fish_stage(const struct fish *f)
{
	return stage_of_age(f->age);
}
double fish_x(const struct fish *f)
{
	return f->x;
}
double fish_y(const struct fish *f)
{
	return f->y;
}
double fish_size(const struct fish *f)
{
	return fish_size_of(f);
}
double fish_speed(const struct fish *f)
{
	return fish_speed_of(f);
}
bool fish_is_pregnant(const struct fish *f)
{
	return f->pregnant;
}
const char *fish_behavior_name(const struct fish *f)
{
	return algo_defs[f->g.behavior.algo].name;
}
const char *fish_poker_strategy_name(const struct fish *f)
{
	return poker_defs[f->g.poker.id].name;
}
double fish_trait(const struct fish *f, const char *name)
{
	for (int i = 0; i < TRAIT_COUNT; i++)
		if (strcmp(trait_defs[i].name, name) == 0)
			return f->g.t[i];
	return NAN;
}
