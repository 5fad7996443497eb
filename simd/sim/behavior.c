/* Behaviour algorithms (spec §2.4): 19 movement rules in the original's 6 families. Each
 * has named, bounded, evolvable parameters and returns a desired direction whose length
 * (0..1) is its urgency. Parameters mutate by their kind, as in the original. */
#include "config.h"

#include <math.h>
#include <string.h>

#include "simd/sim/internal.h"
#include "simd/sim/trig.h"

const char *const family_names[FAM_COUNT] = {"food_seeking", "predator_avoidance",
					     "schooling",    "energy_management",
					     "territory",    "poker_interaction"};

/* A fish's random choices while it moves come from its own stream for this frame (the
 * percept carries it), so fish can move on several threads with the same result; a
 * percept without one (tests) falls back to the tank's generator. */
#define RNG(t, pc) ((pc)->rng ? (pc)->rng : &(t)->rng)

static void toward(double dx, double dy, double scale, double *ox, double *oy)
{
	double d = sqrt(dx * dx + dy * dy);
	if (d < 1e-9) {
		*ox = *oy = 0;
		return;
	}
	*ox = dx / d * scale;
	*oy = dy / d * scale;
}

/* Drift along a slowly turning heading; the heading is fish state (serialized). The turn
 * is uniform with the spread of a N(0, turn^2) step: as random, and cheaper per frame. */
static void wander(struct rng *r, struct fish *f, double turn, double scale, double *dx, double *dy)
{
	double a = f->wander_angle + (rng_uniform(r) - 0.5) * 3.4641016151377544 * turn;
	if (a > M_PI)
		a -= 2 * M_PI;
	else if (a < -M_PI)
		a += 2 * M_PI;
	f->wander_angle = a;
	double sa, ca;
	trig_sincos(a, &sa, &ca);
	*dx = ca * scale;
	*dy = sa * scale;
}

static bool seek_food(const struct percept *pc, double urgency, double *dx, double *dy)
{
	if (pc->food < 0)
		return false;
	toward(pc->food_dx, pc->food_dy, urgency, dx, dy);
	return true;
}

static void food_or_wander(struct tank *t, struct fish *f, const struct percept *pc, double urgency,
			   double *dx, double *dy)
{
	if (!seek_food(pc, urgency, dx, dy))
		wander(RNG(t, pc), f, 0.3, 0.5, dx, dy);
}

/* ---- food seeking ---- */
static void a_greedy(struct tank *t, struct fish *f, const struct percept *pc, const double *p,
		     double *dx, double *dy)
{
	if (!seek_food(pc, p[0], dx, dy))
		wander(RNG(t, pc), f, p[1], 0.5, dx, dy);
}

static void a_energy_aware(struct tank *t, struct fish *f, const struct percept *pc,
			   const double *p, double *dx, double *dy)
{
	if (pc->food >= 0 && (pc->energy_ratio < p[0] || pc->food_d < 80))
		toward(pc->food_dx, pc->food_dy, pc->energy_ratio < 0.3 ? 1.0 : 0.8, dx, dy);
	else
		wander(RNG(t, pc), f, 0.2, p[1], dx, dy);
}

/* Uses memory: with no food in sight, swim to the strongest remembered food spot; arriving
 * there to find nothing weakens the memory (a failure), so stale spots are dropped. */
static void a_food_memory(struct tank *t, struct fish *f, const struct percept *pc, const double *p,
			  double *dx, double *dy)
{
	if (seek_food(pc, p[2], dx, dy))
		return;
	const struct memory_entry *m = memory_strongest(&f->mem.food, p[1]);
	if (!m) {
		wander(RNG(t, pc), f, 0.3, 0.4, dx, dy);
		return;
	}
	double mx = m->x - f->x, my = m->y - f->y;
	if (mx * mx + my * my < 30.0 * 30.0) {
		struct memory_entry *w = (struct memory_entry *)m;
		w->failures++;
		w->strength = fmax(0.0, w->strength - 0.2);
	}
	double trust = fmin(1.0, p[0] * (1.0 + 0.5 * f->g.learned[LEARN_FOOD]));
	toward(mx, my, trust * p[2], dx, dy);
}

static void a_ambush(struct tank *t, struct fish *f, const struct percept *pc, const double *p,
		     double *dx, double *dy)
{
	if (pc->food >= 0)
		toward(pc->food_dx, pc->food_dy, pc->food_d < p[0] ? 1.0 : p[1], dx, dy);
	else
		wander(RNG(t, pc), f, 0.1, p[1], dx, dy);
}

/* ---- predator avoidance ---- */
static void a_panic_flee(struct tank *t, struct fish *f, const struct percept *pc, const double *p,
			 double *dx, double *dy)
{
	if (pc->crab >= 0 && pc->crab_d < p[0])
		toward(-pc->crab_dx, -pc->crab_dy, p[1], dx, dy);
	else
		food_or_wander(t, f, pc, 0.8, dx, dy);
}

static void a_perpendicular(struct tank *t, struct fish *f, const struct percept *pc,
			    const double *p, double *dx, double *dy)
{
	if (pc->crab >= 0 && pc->crab_d < p[0]) {
		/* Turn away by the evolved angle, to the side the fish is already heading. */
		double ax = -pc->crab_dx, ay = -pc->crab_dy;
		double side = (f->vx * ay - f->vy * ax) >= 0 ? 1.0 : -1.0;
		double s, c;
		trig_sincos(p[1] * side, &s, &c);
		toward(ax * c - ay * s, ax * s + ay * c, 1.0, dx, dy);
	} else {
		food_or_wander(t, f, pc, 0.8, dx, dy);
	}
}

/* Uses memory: remembered danger zones push the fish away even when no crab is in sight. */
static void a_danger_zone(struct tank *t, struct fish *f, const struct percept *pc, const double *p,
			  double *dx, double *dy)
{
	double px = 0, py = 0;
	for (int i = 0; i < f->mem.danger.n; i++) {
		const struct memory_entry *m = &f->mem.danger.e[i];
		double ox = f->x - m->x, oy = f->y - m->y, d = sqrt(ox * ox + oy * oy);
		if (d < p[0] && d > 1e-9) {
			px += ox / d * m->strength * (1.0 - d / p[0]);
			py += oy / d * m->strength * (1.0 - d / p[0]);
		}
	}
	if (pc->crab >= 0 && pc->crab_d < p[0]) {
		px -= pc->crab_dx / pc->crab_d;
		py -= pc->crab_dy / pc->crab_d;
	}
	double fx = 0, fy = 0;
	food_or_wander(t, f, pc, 0.8, &fx, &fy);
	double push = sqrt(px * px + py * py);
	if (push > 1e-9) {
		fx += px / push * p[1] * fmin(1.0, push);
		fy += py / push * p[1] * fmin(1.0, push);
	}
	toward(fx, fy, fmin(1.0, sqrt(fx * fx + fy * fy)), dx, dy);
}

/* ---- schooling ---- */
static void a_boids(struct tank *t, struct fish *f, const struct percept *pc, const double *p,
		    double *dx, double *dy)
{
	double fx = 0, fy = 0;
	seek_food(pc, p[3], &fx, &fy);
	if (pc->n_social > 0) {
		double cx, cy, ax, ay, sx, sy;
		toward(pc->coh_x, pc->coh_y, p[0], &cx, &cy);
		toward(pc->ali_x, pc->ali_y, p[1], &ax, &ay);
		toward(pc->sep_x, pc->sep_y, p[2], &sx, &sy);
		fx += (cx + ax + sx) * (0.5 + f->g.t[T_SOCIAL] * 0.5);
		fy += (cy + ay + sy) * (0.5 + f->g.t[T_SOCIAL] * 0.5);
	} else if (pc->food < 0) {
		wander(RNG(t, pc), f, 0.3, 0.5, &fx, &fy);
	}
	toward(fx, fy, fmin(1.0, sqrt(fx * fx + fy * fy)), dx, dy);
}

static void a_leader_follower(struct tank *t, struct fish *f, const struct percept *pc,
			      const double *p, double *dx, double *dy)
{
	if (pc->food >= 0 && (pc->fish < 0 || pc->food_d < pc->fish_d))
		toward(pc->food_dx, pc->food_dy, 0.9, dx, dy);
	else if (pc->fish >= 0 && pc->fish_d > p[0])
		toward(pc->fish_dx, pc->fish_dy, p[1], dx, dy);
	else
		food_or_wander(t, f, pc, 0.7, dx, dy);
}

static void a_loose_shoal(struct tank *t, struct fish *f, const struct percept *pc, const double *p,
			  double *dx, double *dy)
{
	double fx = 0, fy = 0;
	food_or_wander(t, f, pc, p[1], &fx, &fy);
	if (pc->n_social > 0) {
		double cx, cy;
		toward(pc->coh_x, pc->coh_y, p[0], &cx, &cy);
		fx += cx;
		fy += cy;
	}
	toward(fx, fy, fmin(1.0, sqrt(fx * fx + fy * fy)), dx, dy);
}

/* ---- energy management ---- */
static void a_conserver(struct tank *t, struct fish *f, const struct percept *pc, const double *p,
			double *dx, double *dy)
{
	if (seek_food(pc, pc->energy_ratio < p[0] ? p[2] : p[1], dx, dy))
		return;
	wander(RNG(t, pc), f, 0.1, pc->energy_ratio < p[0] ? p[1] * 0.5 : p[1], dx, dy);
}

static void a_burst(struct tank *t, struct fish *f, const struct percept *pc, const double *p,
		    double *dx, double *dy)
{
	double speed = p[2];
	if (f->algo_timer > 0) {
		f->algo_timer--;
		speed = 1.0;
	} else if (rng_chance(RNG(t, pc), p[0])) {
		f->algo_timer = (int)p[1];
	}
	if (!seek_food(pc, speed, dx, dy))
		wander(RNG(t, pc), f, 0.2, speed, dx, dy);
}

static void a_circadian(struct tank *t, struct fish *f, const struct percept *pc, const double *p,
			double *dx, double *dy)
{
	/* activity is 0.5..1: map it to 0..1 between the night and day speeds */
	double k = (t->activity - 0.5) * 2.0;
	double speed = p[0] + (p[1] - p[0]) * k;
	if (!seek_food(pc, speed, dx, dy))
		wander(RNG(t, pc), f, 0.2, speed * 0.6, dx, dy);
}

/* ---- territory and exploration ---- */
static void a_territorial(struct tank *t, struct fish *f, const struct percept *pc, const double *p,
			  double *dx, double *dy)
{
	double hx = clampd(f->home_x, 0, t->p.width), hy = clampd(f->home_y, 0, t->p.height);
	double ox = hx - f->x, oy = hy - f->y;
	double d = sqrt(ox * ox + oy * oy);
	if (pc->food >= 0 && (d < p[0] || pc->energy_ratio < 0.3))
		toward(pc->food_dx, pc->food_dy, 0.9, dx, dy);
	else if (d > p[0])
		toward(ox, oy, p[1], dx, dy);
	else if (pc->fish >= 0 && pc->fish_d < p[0] * 0.5)
		toward(pc->fish_dx, pc->fish_dy, 0.6, dx, dy); /* see intruders off */
	else
		wander(RNG(t, pc), f, 0.4, 0.4, dx, dy);
}

static void a_explorer(struct tank *t, struct fish *f, const struct percept *pc, const double *p,
		       double *dx, double *dy)
{
	if (pc->food >= 0 && (pc->food_d < 120 || pc->energy_ratio < 0.4)) {
		toward(pc->food_dx, pc->food_dy, 0.9, dx, dy);
		return;
	}
	if (rng_chance(RNG(t, pc), p[0]))
		f->wander_angle = rng_range(RNG(t, pc), -M_PI, M_PI);
	double sa, ca;
	trig_sincos(f->wander_angle, &sa, &ca);
	*dx = ca * p[1];
	*dy = sa * p[1];
}

static void a_depth_keeper(struct tank *t, struct fish *f, const struct percept *pc,
			   const double *p, double *dx, double *dy)
{
	double fx = 0, fy = 0;
	food_or_wander(t, f, pc, 0.8, &fx, &fy);
	double want = p[0] * t->p.height;
	double off = (want - f->y) / (t->p.height * 0.25);
	fy = fy * (1.0 - p[1]) + clampd(off, -1, 1) * p[1];
	toward(fx, fy, fmin(1.0, sqrt(fx * fx + fy * fy)), dx, dy);
}

/* ---- poker interaction ---- */
static void a_challenger(struct tank *t, struct fish *f, const struct percept *pc, const double *p,
			 double *dx, double *dy)
{
	if (pc->fish >= 0 && pc->fish_d < p[0] && pc->energy_ratio >= p[1] && f->poker_cooldown == 0)
		toward(pc->fish_dx, pc->fish_dy, 0.8, dx, dy);
	else
		food_or_wander(t, f, pc, 0.8, dx, dy);
}

static void a_avoider(struct tank *t, struct fish *f, const struct percept *pc, const double *p,
		      double *dx, double *dy)
{
	if (pc->fish >= 0 && pc->fish_d < p[0] && pc->energy_ratio < p[1])
		toward(-pc->fish_dx, -pc->fish_dy, 0.8, dx, dy);
	else
		food_or_wander(t, f, pc, 0.8, dx, dy);
}

static void a_opportunist(struct tank *t, struct fish *f, const struct percept *pc, const double *p,
			  double *dx, double *dy)
{
	if (pc->fish >= 0 && pc->fish_energy_ratio < pc->energy_ratio * p[0] &&
	    f->poker_cooldown == 0)
		toward(pc->fish_dx, pc->fish_dy, p[1], dx, dy);
	else
		food_or_wander(t, f, pc, 0.8, dx, dy);
}

const struct algo_def algo_defs[] = {
	{"greedy_food_seeker",
	 FAM_FOOD,
	 2,
	 {{"urgency", 0.5, 1.0, PK_SPEED}, {"wander_rate", 0.05, 0.5, PK_FREQUENCY}},
	 a_greedy},
	{"energy_aware_food_seeker",
	 FAM_FOOD,
	 2,
	 {{"hunger_ratio", 0.3, 0.95, PK_RATIO}, {"calm_speed", 0.1, 0.6, PK_SPEED}},
	 a_energy_aware},
	{"food_memory_seeker",
	 FAM_FOOD,
	 3,
	 {{"memory_trust", 0.3, 1.0, PK_WEIGHT},
	  {"min_strength_ratio", 0.05, 0.5, PK_RATIO},
	  {"urgency_speed", 0.5, 1.0, PK_SPEED}},
	 a_food_memory},
	{"ambush_feeder",
	 FAM_FOOD,
	 2,
	 {{"strike_distance", 30, 150, PK_DISTANCE}, {"patience_speed", 0.05, 0.4, PK_SPEED}},
	 a_ambush},
	{"panic_flee",
	 FAM_PREDATOR,
	 2,
	 {{"flee_distance", 80, 250, PK_DISTANCE}, {"flee_speed", 0.6, 1.0, PK_SPEED}},
	 a_panic_flee},
	{"perpendicular_escape",
	 FAM_PREDATOR,
	 2,
	 {{"detect_distance", 80, 250, PK_DISTANCE}, {"escape_angle", 0.3, 1.2, PK_DEFAULT}},
	 a_perpendicular},
	{"danger_zone_avoider",
	 FAM_PREDATOR,
	 2,
	 {{"avoid_distance", 50, 250, PK_DISTANCE}, {"avoid_weight", 0.3, 1.0, PK_WEIGHT}},
	 a_danger_zone},
	{"boids_schooler",
	 FAM_SCHOOLING,
	 4,
	 {{"cohesion_weight", 0.1, 1.0, PK_WEIGHT},
	  {"alignment_weight", 0.1, 1.0, PK_WEIGHT},
	  {"separation_weight", 0.1, 1.0, PK_WEIGHT},
	  {"food_weight", 0.2, 1.0, PK_WEIGHT}},
	 a_boids},
	{"leader_follower",
	 FAM_SCHOOLING,
	 2,
	 {{"follow_distance", 30, 120, PK_DISTANCE}, {"follow_speed", 0.3, 1.0, PK_SPEED}},
	 a_leader_follower},
	{"loose_shoaler",
	 FAM_SCHOOLING,
	 2,
	 {{"shoal_weight", 0.1, 0.8, PK_WEIGHT}, {"food_speed", 0.3, 1.0, PK_SPEED}},
	 a_loose_shoal},
	{"energy_conserver",
	 FAM_ENERGY,
	 3,
	 {{"rest_energy_ratio", 0.3, 0.8, PK_RATIO},
	  {"rest_speed", 0.1, 0.5, PK_SPEED},
	  {"hungry_speed", 0.4, 1.0, PK_SPEED}},
	 a_conserver},
	{"burst_swimmer",
	 FAM_ENERGY,
	 3,
	 {{"burst_frequency", 0.005, 0.05, PK_FREQUENCY},
	  {"burst_duration", 10, 60, PK_DEFAULT},
	  {"cruise_speed", 0.2, 0.6, PK_SPEED}},
	 a_burst},
	{"circadian_rester",
	 FAM_ENERGY,
	 2,
	 {{"night_speed", 0.1, 0.5, PK_SPEED}, {"day_speed", 0.5, 1.0, PK_SPEED}},
	 a_circadian},
	{"territorial_defender",
	 FAM_TERRITORY,
	 2,
	 {{"territory_distance", 50, 300, PK_DISTANCE}, {"return_speed", 0.3, 1.0, PK_SPEED}},
	 a_territorial},
	{"random_explorer",
	 FAM_TERRITORY,
	 2,
	 {{"turn_frequency", 0.01, 0.2, PK_FREQUENCY}, {"explore_speed", 0.4, 1.0, PK_SPEED}},
	 a_explorer},
	{"depth_keeper",
	 FAM_TERRITORY,
	 2,
	 {{"preferred_depth_ratio", 0.1, 0.9, PK_RATIO}, {"depth_weight", 0.2, 1.0, PK_WEIGHT}},
	 a_depth_keeper},
	{"poker_challenger",
	 FAM_POKER,
	 2,
	 {{"challenge_distance", 50, 200, PK_DISTANCE}, {"min_energy_ratio", 0.3, 0.9, PK_RATIO}},
	 a_challenger},
	{"poker_avoider",
	 FAM_POKER,
	 2,
	 {{"avoid_distance", 50, 200, PK_DISTANCE}, {"safe_energy_ratio", 0.3, 0.9, PK_RATIO}},
	 a_avoider},
	{"poker_opportunist",
	 FAM_POKER,
	 2,
	 {{"weakness_ratio", 0.3, 1.0, PK_RATIO}, {"approach_speed", 0.3, 1.0, PK_SPEED}},
	 a_opportunist},
};
const int algo_count = (int)(sizeof algo_defs / sizeof algo_defs[0]);

/* Mutation rate and strength (as a fraction of the parameter's range) by parameter kind. */
static const double kind_rate[] = {
	[PK_SPEED] = 0.15,     [PK_DISTANCE] = 0.15, [PK_RATIO] = 0.20,	 [PK_WEIGHT] = 0.15,
	[PK_FREQUENCY] = 0.20, [PK_ENERGY] = 0.15,   [PK_DEFAULT] = 0.15};
static const double kind_strength[] = {
	[PK_SPEED] = 0.15,     [PK_DISTANCE] = 0.25, [PK_RATIO] = 0.30,	 [PK_WEIGHT] = 0.25,
	[PK_FREQUENCY] = 0.30, [PK_ENERGY] = 0.25,   [PK_DEFAULT] = 0.20};

int algo_find(const char *name)
{
	for (int i = 0; i < algo_count; i++)
		if (strcmp(algo_defs[i].name, name) == 0)
			return i;
	return -1;
}

static void params_random(struct behavior *b, struct rng *r)
{
	const struct algo_def *d = &algo_defs[b->algo];
	memset(b->p, 0, sizeof b->p);
	for (int i = 0; i < d->nparams; i++)
		b->p[i] = rng_range(r, d->params[i].lo, d->params[i].hi);
}

void behavior_random(struct behavior *b, struct rng *r)
{
	b->algo = rng_int(r, 0, algo_count - 1);
	params_random(b, r);
}

void behavior_inherit(struct behavior *c, const struct behavior *a, const struct behavior *b,
		      double w, double switch_rate, struct rng *r)
{
	if (rng_chance(r, switch_rate)) {
		behavior_random(c, r);
		return;
	}
	const struct algo_def *d;
	if (a->algo == b->algo) {
		c->algo = a->algo;
		d = &algo_defs[c->algo];
		memset(c->p, 0, sizeof c->p);
		cross_params(r, c->p, a->p, b->p, d->nparams, w);
	} else {
		*c = rng_chance(r, w < 0 ? 0.5 : w) ? *a : *b;
		d = &algo_defs[c->algo];
	}
	for (int i = 0; i < d->nparams; i++) {
		const struct param_def *pd = &d->params[i];
		if (rng_chance(r, kind_rate[pd->kind]))
			c->p[i] += rng_gauss(r) * kind_strength[pd->kind] * (pd->hi - pd->lo);
		c->p[i] = clampd(c->p[i], pd->lo, pd->hi);
	}
}

int behavior_check(const struct behavior *b, struct json_err *e)
{
	if (b->algo < 0 || b->algo >= algo_count)
		return jv_fail(e, "unknown behaviour algorithm");
	const struct algo_def *d = &algo_defs[b->algo];
	for (int i = 0; i < BEHAVIOR_MAX_PARAMS; i++) {
		double lo = i < d->nparams ? d->params[i].lo : 0,
		       hi = i < d->nparams ? d->params[i].hi : 0;
		if (!isfinite(b->p[i]) || b->p[i] < lo || b->p[i] > hi)
			return jv_fail(e, "%s: parameter %s must be in [%g, %g]", d->name,
				       i < d->nparams ? d->params[i].name : "(unused)", lo, hi);
	}
	return 0;
}

void behavior_desire(struct tank *t, struct fish *f, const struct behavior *b,
		     const struct percept *pc, double *dx, double *dy)
{
	*dx = *dy = 0;
	algo_defs[b->algo].exec(t, f, pc, b->p, dx, dy);
	/* Experience on top of the algorithm: fish that learned (or whose parents suffered)
	 * keep away from crabs and hurry to food. */
	double wary = f->g.learned[LEARN_PREDATOR] + f->g.epi[EPI_PREDATION];
	if (wary > 0 && pc->crab >= 0 && pc->crab_d < 60 + 150 * fmin(1.0, wary)) {
		*dx -= pc->crab_dx / pc->crab_d * fmin(1.0, wary);
		*dy -= pc->crab_dy / pc->crab_d * fmin(1.0, wary);
	}
	if (f->g.epi[EPI_STARVATION] > 0 && pc->food >= 0) {
		*dx += pc->food_dx / fmax(pc->food_d, 1e-9) * 0.3 * f->g.epi[EPI_STARVATION];
		*dy += pc->food_dy / fmax(pc->food_d, 1e-9) * 0.3 * f->g.epi[EPI_STARVATION];
	}
	double m = sqrt(*dx * *dx + *dy * *dy);
	if (m > 1.0) {
		*dx /= m;
		*dy /= m;
	}
}

size_t sim_behavior_count(void)
{
	return (size_t)algo_count;
}

const char *sim_behavior_name(size_t i)
{
	return i < (size_t)algo_count ? algo_defs[i].name : NULL;
}

const char *sim_behavior_family(size_t i)
{
	return i < (size_t)algo_count ? family_names[algo_defs[i].family] : NULL;
}
