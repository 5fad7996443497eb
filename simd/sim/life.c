/* Life and death in the tank: energy bookkeeping, eating, poker tables, mating, births,
 * deaths and the emergency spawn (spec §2.1, §2.5, §2.6, §2.8). */
#include "config.h"

#include <math.h>
#include <string.h>

#include "simd/sim/internal.h"

#define MATING_MIN_ENERGY 25.0
#define MATING_COST 10.0
#define POKER_MATING_MIN_ENERGY 40.0
#define POKER_READY_ENERGY 10.0
/* The share of her energy a mother of fertility 1 gives her child. */
#define BIRTH_SHARE 0.3

void fish_gain(struct tank *t, struct fish *f, double amount)
{
	double max = fish_max_energy_of(f), e = f->energy + amount;
	if (e > max) {
		t->flow[EOUT_OVERFLOW] += e - max;
		e = max;
	}
	f->energy = e;
}

double fish_spend(struct tank *t, struct fish *f, double amount, enum energy_flow out)
{
	double paid = fmin(amount, f->energy);
	f->energy -= paid;
	t->flow[out] += paid;
	return paid;
}

void tank_kill_fish(struct tank *t, struct fish *f, enum death_cause cause)
{
	if (f->dead)
		return;
	f->dead = 1 + (int)cause;
	gene_bank_offer(t, f);
	t->deaths++;
	t->deaths_by_cause[cause]++;
	events_add(t, SIM_EV_DEATH, f, (int)cause);
	t->flow[EOUT_DEATH_REMAINS] += f->energy;
	f->energy = 0;
}

void tank_fish_death_check(struct tank *t, struct fish *f)
{
	/* Starving within 150 frames of touching a crab counts as predation (the original). */
	if (!f->dead && f->energy <= 0)
		tank_kill_fish(t, f, f->crab_contact > 0 ? DEATH_PREDATION : DEATH_STARVATION);
}

bool tank_full(const struct tank *t)
{
	return t->n_fish + t->work.n_born + t->n_exited + t->in_transit >= (size_t)t->p.max_fish;
}

void tank_add_newborn(struct tank *t, struct fish *f)
{
	sim_grow((void **)&t->work.born, &t->work.cap_born, t->work.n_born + 1,
		 sizeof *t->work.born);
	t->work.born[t->work.n_born++] = f;
	t->births++;
	events_add(t, SIM_EV_BIRTH, f, -1);
	tank_note_generation(t, f);
}

/* A child's generation: one past the higher of two, at most GENERATION_MAX. */
static int generation_after(int a, int b)
{
	int g = a > b ? a : b;
	return g < GENERATION_MAX ? g + 1 : GENERATION_MAX;
}

static struct fish *child_new(struct tank *t, const struct genome *a, const struct genome *b,
			      double w, double x, double y)
{
	struct fish *c = fish_alloc();
	ids_make(t->id, ID_DOMAIN_FISH, t->fish_serial++, c->id);
	genome_inherit(&c->g, a, b, w, genome_stress((int)t->n_fish), &t->rng);
	c->x = clampd(x, FISH_HALF, t->p.width - FISH_HALF);
	c->y = clampd(y, FISH_TOP_MARGIN + FISH_HALF, t->p.height - FISH_HALF);
	c->home_x = c->x;
	c->home_y = c->y;
	c->base_speed = FISH_BASE_SPEED;
	c->wander_angle = rng_range(&t->rng, -M_PI, M_PI);
	c->dir_x = cos(c->wander_angle);
	c->dir_y = sin(c->wander_angle);
	c->max_age = (int)lround(MAX_AGE_PER_TRAIT * c->g.t[T_MAX_ENERGY]);
	return c;
}

/* Energy passes from parent to child; a child that cannot hold it all wastes the rest. */
static void endow(struct tank *t, struct fish *parent, struct fish *child, double share)
{
	double give = parent->energy * share;
	parent->energy -= give;
	fish_gain(t, child, give);
}

void tank_birth(struct tank *t, struct fish *m)
{
	m->pregnant = false;
	if (tank_full(t)) {
		/* The original threw the baby away after the mother had paid; here the
		 * pregnancy simply ends and the mother keeps her energy. */
		t->births_refused++;
		return;
	}
	struct fish *c = child_new(t, &m->g, &m->preg.mate_genome, -1,
				   m->x + rng_range(&t->rng, -30, 30),
				   m->y + rng_range(&t->rng, -30, 30));
	c->generation = generation_after(m->generation, m->generation);
	c->generation_deepest = generation_after(m->generation_deepest, m->preg.mate_generation);
	memcpy(c->mother_id, m->id, UUID_STR_LEN);
	memcpy(c->father_id, m->preg.mate_id, UUID_STR_LEN);
	c->base_speed = m->base_speed;
	/* Fertility is a trade-off: a fertile mother conceives more readily (tank_mating)
	 * but gives each child a smaller share of her energy. */
	endow(t, m, c, BIRTH_SHARE / m->g.t[T_FERTILITY]);
	m->offspring++;
	m->fitness += 50;
	tank_add_newborn(t, c);
}

/* Per-fish scratch of the contact phases (poker tables, mating). */
static void scratch_grow(struct tank *t, size_t n)
{
	if (n > t->work.cap_scratch) {
		t->work.cap_scratch = n + n / 2 + 16;
		t->work.uf = sim_xrealloc(t->work.uf, t->work.cap_scratch, sizeof *t->work.uf);
		t->work.group_next = sim_xrealloc(t->work.group_next, t->work.cap_scratch,
						  sizeof *t->work.group_next);
		t->work.group_tail = sim_xrealloc(t->work.group_tail, t->work.cap_scratch,
						  sizeof *t->work.group_tail);
		t->work.pick = sim_xrealloc(t->work.pick, t->work.cap_scratch, sizeof *t->work.pick);
	}
}

static bool adult_ready(const struct fish *f, double min_energy)
{
	return !f->dead && !f->exited && stage_of_age(f->age) == STAGE_ADULT &&
	       f->energy >= min_energy && f->repro_cooldown <= 0 && !f->pregnant;
}

static double offer_fitness(const struct fish *self, const struct fish *opp, bool opp_won)
{
	return 0.3 * fmin(1.0, opp->fitness / 100.0) + 0.3 * opp->energy / fish_max_energy_of(opp) +
	       0.2 * genome_compatibility(&self->g, &opp->g, opp->fitness,
					  opp->energy / fish_max_energy_of(opp)) +
	       (opp_won ? 0.2 : 0.0);
}

/* Post-poker mating takes adults and elders. The original meant to check for adults,
 * but its check compared an enum with a string and let every fish through, babies too;
 * elders are grown fish, babies and juveniles are not (docs/poker.md measures both). */
static bool mature_ready(const struct fish *f, double min_energy)
{
	return !f->dead && !f->exited && stage_of_age(f->age) >= STAGE_ADULT &&
	       f->energy >= min_energy && f->repro_cooldown <= 0 && !f->pregnant;
}

void tank_poker_birth(struct tank *t, struct fish *w, struct fish *l)
{
	if (!mature_ready(w, POKER_MATING_MIN_ENERGY) || !mature_ready(l, POKER_MATING_MIN_ENERGY))
		return;
	double dx = w->x - l->x, dy = w->y - l->y;
	if (dx * dx + dy * dy > POKER_MATE_RADIUS * POKER_MATE_RADIUS || tank_full(t))
		return;
	bool w_offers = rng_chance(&t->rng, 0.4 * (0.5 + offer_fitness(w, l, false)));
	bool l_offers = rng_chance(&t->rng, 0.2 * (0.5 + offer_fitness(l, w, true)));
	if (!w_offers || !l_offers)
		return;
	struct fish *c = child_new(t, &w->g, &l->g, 0.6, (w->x + l->x) * 0.5, (w->y + l->y) * 0.5);
	c->generation = generation_after(w->generation, w->generation);
	c->generation_deepest = generation_after(w->generation_deepest, l->generation_deepest);
	memcpy(c->mother_id, w->id, UUID_STR_LEN);
	memcpy(c->father_id, l->id, UUID_STR_LEN);
	endow(t, w, c, 0.15);
	endow(t, l, c, 0.15);
	w->repro_cooldown = l->repro_cooldown = POKER_MATING_COOLDOWN;
	w->offspring++;
	l->offspring++;
	w->fitness += 50;
	l->fitness += 50;
	t->poker_births++;
	tank_add_newborn(t, c);
}

/* What a query on the threads leaves in t->work.pick[i] when it found no single answer. */
#define PICK_NONE (-1)
#define PICK_AGAIN (-2) /* more than one: the serial pass asks again, in order */

/* A query that answers with the one candidate of fish i (standing at x, y), PICK_NONE, or
 * PICK_AGAIN when there are several. */
typedef int (*pick_query)(struct tank *t, int i, double x, double y);

/* The queries of a pass, on the threads, in the fish grid's order (lo and hi are grid
 * positions): the grid's copy of each fish's position is exact, so no fish is read, and
 * consecutive fish ask about the same few cells. Each ready fish (group_tail) gets its
 * answer in pick; fish not in the grid (dead, departed) are not ready. */
static inline void picks_find(struct tank *t, size_t lo, size_t hi, pick_query only)
{
	const struct grid_item *items = t->fish_grid.items;
	for (size_t k = lo; k < hi; k++) {
		int i = items[k].idx;
		if (t->work.group_tail[i])
			t->work.pick[i] = only(t, i, items[k].x, items[k].y);
	}
}

/* Readiness to mate, on the threads: a mating makes both fish unready, never ready, so
 * a fish unready now stays so for the whole pass. A ready fish's pick starts as "ask
 * again", for a ready fish the grid would not hold. */
static void mate_ready(struct tank *t, size_t lo, size_t hi)
{
	for (size_t i = lo; i < hi; i++) {
		fish_prefetch(t, i + FISH_PREFETCH_AHEAD);
		t->work.group_tail[i] = adult_ready(&t->fish[i], MATING_MIN_ENERGY);
		t->work.pick[i] = PICK_AGAIN;
	}
}

/* Fish i asks fish m (both ready); true if she conceives. */
static bool mate_try(struct tank *t, int i, int m)
{
	struct fish *f = &t->fish[i], *mate = &t->fish[m];
	double compat = genome_compatibility(&f->g, &mate->g, mate->fitness,
					     mate->energy / fish_max_energy_of(mate));
	if (!rng_chance(&t->rng, fmin(1.0, fmax(0.3, compat) * f->g.t[T_FERTILITY])))
		return false;
	f->pregnant = true;
	f->preg.timer = PREGNANCY_FRAMES;
	memcpy(f->preg.mate_id, mate->id, UUID_STR_LEN);
	f->preg.mate_generation = mate->generation_deepest;
	f->preg.mate_genome = mate->g;
	f->preg.mate_rec.known = false; /* his record is here (lineage_stamp) */
	fish_spend(t, f, MATING_COST, EOUT_MATING_COST);
	f->repro_cooldown = mate->repro_cooldown = MATING_COOLDOWN;
	t->work.group_tail[i] = t->work.group_tail[m] = 0;
	return true;
}

/* Fish i's candidates (it stands at x, y): the ready fish within MATE_RADIUS, in the
 * bounded query's order (the grid's copy of a position is the position: nobody moves
 * after the grid is rebuilt). With ask, fish i asks each in turn until one accepts;
 * without, it returns the only one (PICK_NONE, or PICK_AGAIN for more than one), as
 * seat_contacts does for poker. */
static int mate_candidates(struct tank *t, int i, double x, double y, bool ask)
{
	const int *ready = t->work.group_tail;
	const struct grid_item *cand[MATE_BUDGET + 1];
	size_t nc = grid_near(&t->fish_grid, x, y, MATE_RADIUS, &t->fish_grid, i, cand,
			      MATE_BUDGET + 1);
	int only = PICK_NONE;
	for (size_t k = 0; k < nc; k++) {
		const struct grid_item *it = cand[k];
		double dx = it->x - x, dy = it->y - y;
		if (it->idx == i || !ready[it->idx] || dx * dx + dy * dy > MATE_RADIUS * MATE_RADIUS)
			continue;
		if (ask) {
			if (mate_try(t, i, it->idx))
				break;
		} else if (only != PICK_NONE) {
			return PICK_AGAIN;
		} else {
			only = it->idx;
		}
	}
	return only;
}

static int mate_only(struct tank *t, int i, double x, double y)
{
	return mate_candidates(t, i, x, y, false);
}

/* Each ready fish's candidate; with several, the order of asking matters. */
static void mate_find(struct tank *t, size_t lo, size_t hi)
{
	picks_find(t, lo, hi, mate_only);
}

/* Each ready fish, in fish order, asks the ready fish within MATE_RADIUS (at most
 * MATE_BUDGET, the query's order) until one accepts. Readiness and the queries run on
 * the tank's threads; the asking, which draws from the tank's stream and changes who is
 * ready, runs here in fish order, so the result does not depend on the thread count. A
 * fish with one candidate asks it; one with several asks the query again here. */
void tank_mating(struct tank *t)
{
	size_t n = t->n_fish;
	scratch_grow(t, n);
	int *ready = t->work.group_tail;
	pool_run(t->pool, t, n, mate_ready);
	if (t->pool)
		pool_run(t->pool, t, t->fish_grid.n, mate_find);
	for (size_t i = 0; i < n; i++) {
		int pick = t->work.pick[i];
		if (!ready[i] || pick == PICK_NONE)
			continue;
		if (pick == PICK_AGAIN)
			mate_candidates(t, (int)i, t->fish[i].x, t->fish[i].y, true);
		else if (ready[pick])
			mate_try(t, (int)i, pick);
	}
}

#define EAT_REACH (FISH_HALF + FOOD_RADIUS)

/* The food the bounded query gives fish i (standing at x, y), in its order; out[] holds
 * EAT_BUDGET. Food does not move after the food grid is built, so the grid's copy of
 * each position is the food's: in_reach tests it without reading the food. */
static size_t eat_query(const struct tank *t, size_t i, double x, double y,
			const struct grid_item **out)
{
	return grid_near(&t->food_grid, x, y, EAT_REACH, &t->fish_grid, (int)i, out, EAT_BUDGET);
}

static bool in_reach(const struct grid_item *it, double x, double y)
{
	return fabs(it->x - x) < EAT_REACH && fabs(it->y - y) < EAT_REACH;
}

/* Fish i's bite: the first food the bounded query gives that lies within reach and is
 * still there, or PICK_NONE. */
static int eat_pick(const struct tank *t, size_t i)
{
	const struct fish *f = &t->fish[i];
	const struct grid_item *cand[EAT_BUDGET];
	size_t nc = eat_query(t, i, f->x, f->y, cand);
	for (size_t k = 0; k < nc; k++)
		if (in_reach(cand[k], f->x, f->y) && !t->food[cand[k]->idx].dead)
			return cand[k]->idx;
	return PICK_NONE;
}

/* With threads, the fish that must ask again (PICK_AGAIN) ask ahead, on the threads,
 * after the fish grid of the bites is built: in the grid's order (its copy of a fish's
 * position is exact, and consecutive fish query the same cells), the first two foods
 * within reach, whether or not another fish eats them first, go to first[i] and second[i]
 * (PICK_AGAIN in second[i] for three or more). On its turn the fish bites the first of
 * them still there, which is what eat_pick would give then; only when both are gone and
 * there were more does it ask again (at 100,000 fish a quarter of the fish ask again
 * every frame: the serial pass did all their queries). */
static void eat_ahead(struct tank *t, size_t lo, size_t hi)
{
	const struct grid_item *items = t->fish_grid.items;
	int *first = t->work.pick, *second = t->work.group_next;
	for (size_t k = lo; k < hi; k++) {
		int i = items[k].idx;
		if (t->work.bite[i] != PICK_AGAIN)
			continue;
		const struct grid_item *cand[EAT_BUDGET];
		size_t nc = eat_query(t, (size_t)i, items[k].x, items[k].y, cand);
		int found[2] = {PICK_NONE, PICK_NONE}, nf = 0;
		for (size_t c = 0; c < nc && nf < 3; c++) {
			if (!in_reach(cand[c], items[k].x, items[k].y))
				continue;
			if (nf < 2)
				found[nf] = cand[c]->idx;
			nf++;
		}
		first[i] = found[0];
		second[i] = nf > 2 ? PICK_AGAIN : found[1];
	}
}

/* Fish i's bite from what it asked ahead (eat_ahead). */
static int eat_asked(const struct tank *t, size_t i)
{
	int a = t->work.pick[i], b = t->work.group_next[i];
	if (a == PICK_NONE)
		return PICK_NONE;
	if (!t->food[a].dead)
		return a;
	if (b == PICK_AGAIN)
		return eat_pick(t, i);
	return b >= 0 && !t->food[b].dead ? b : PICK_NONE;
}

/* What fish i may bite, asked on the tank's threads as it moves (tank_step), while its
 * lines and the food cells it just looked at are in cache: nothing moves between the move
 * and the bites, and the food grid is the frame's. No food within reach gives PICK_NONE;
 * one gives that food, which the fish bites on its turn if it is still there. More than
 * one, or more food around than a query takes (EAT_BUDGET: then which it takes turns on
 * the fish's rank in the fish grid built after the move), gives PICK_AGAIN: the fish asks
 * again on its turn, with eat_pick, and gets what asking only then would have given. */
int eat_plan(const struct tank *t, size_t i)
{
	const struct fish *f = &t->fish[i];
	if (f->exited)
		return PICK_NONE;
	/* Counted first: a crowded query would only be walked to be told to ask again. Within
	 * the budget, grid_near takes every item in GRID_FOREACH's order: walked directly. */
	if (grid_count_box(&t->food_grid, f->x, f->y, EAT_REACH) > EAT_BUDGET)
		return PICK_AGAIN;
	int first = PICK_NONE;
	GRID_FOREACH (&t->food_grid, f->x, f->y, EAT_REACH, it) {
		if (fabs(it->x - f->x) >= EAT_REACH || fabs(it->y - f->y) >= EAT_REACH)
			continue;
		if (first != PICK_NONE)
			return PICK_AGAIN;
		first = it->idx;
	}
	return first;
}

static bool eat_hungry(const struct fish *f)
{
	return !f->dead && !f->exited && f->energy < fish_max_energy_of(f);
}

/* A fed tank has food within reach of most of its fish, and a bite touches the biter's
 * energy (first line), its flags (second) and the traits that bound it (third), and its
 * food: they are asked for EAT_AHEAD fish ahead, with the lines its digesting touches
 * when that is done here (one thread). The third line and 8 rather than 4 fish ahead:
 * the saved 100,000-fish tank's bites 1,262 -> 1,027 perf samples over the same 300
 * ticks (two threads; 8 or 16 ahead without the third line gave nothing). */
#define EAT_AHEAD 8

static void digest_prefetch(const struct fish *f)
{
	const char *mem = (const char *)&f->mem.food;
	for (size_t at = 0; at < sizeof f->mem.food; at += 64)
		__builtin_prefetch(mem + at, 1, 3);
	__builtin_prefetch(&f->g.learned, 1, 3);
	__builtin_prefetch(&f->food_eaten, 1, 3);
}

static void eat_prefetch(const struct tank *t, size_t i, bool digest)
{
	if (i >= t->n_fish || t->work.bite[i] == PICK_NONE)
		return;
	const struct fish *f = &t->fish[i];
	__builtin_prefetch(f, 1, 3);
	__builtin_prefetch((const char *)f + 64, 1, 3);
	__builtin_prefetch((const char *)f + 128, 1, 3);
	if (digest)
		digest_prefetch(f);
	if (t->work.bite[i] >= 0)
		__builtin_prefetch(&t->food[t->work.bite[i]], 1, 3);
}

/* What the biters learn of their meals (food_digest), on the tank's threads: each reads
 * and writes only its own fish (its count of meals, fitness, food memory and learning, a
 * dozen lines the bites themselves need not touch) and its food's place. */
static void eat_digest(struct tank *t, size_t lo, size_t hi)
{
	for (size_t i = lo; i < hi; i++) {
		if (i + EAT_AHEAD < hi && t->work.bite[i + EAT_AHEAD] >= 0)
			digest_prefetch(&t->fish[i + EAT_AHEAD]);
		if (t->work.bite[i] >= 0)
			food_digest(&t->fish[i], &t->food[t->work.bite[i]]);
	}
}

/* One bite a frame for every hungry fish, in fish order. Only a bite changes anything (the
 * food and the biter), and the queries were asked as the fish moved (eat_plan), so this
 * loop reads only the fish with food within reach. Each fish bites once a frame, and its
 * digesting changes nothing another fish's bite reads: with threads, the food a fish bit
 * stays in bite[] and the digesting runs on them after the bites (at 100,000 fish on two
 * threads, 55 -> 52 ms a tick); with one, it is done with the bite, where the fish's lines
 * are at hand (a second walk cost 2 % at 10,000 fish). */
void tank_eat(struct tank *t)
{
	bool digest = t->pool == NULL;
	if (!digest) {
		scratch_grow(t, t->n_fish);
		pool_run(t->pool, t, t->fish_grid.n, eat_ahead);
	}
	for (size_t i = 0; i < t->n_fish; i++) {
		eat_prefetch(t, i + EAT_AHEAD, digest);
		int fi = t->work.bite[i];
		t->work.bite[i] = PICK_NONE;
		if (fi == PICK_NONE || !eat_hungry(&t->fish[i]))
			continue;
		if (fi == PICK_AGAIN)
			fi = digest ? eat_pick(t, i) : eat_asked(t, i);
		if (fi == PICK_NONE)
			continue;
		struct food *fd = &t->food[fi];
		if (fd->dead || !food_bite(t, &t->fish[i], fd))
			continue;
		if (digest)
			food_digest(&t->fish[i], fd);
		else
			t->work.bite[i] = fi;
	}
	if (!digest)
		pool_run(t->pool, t, t->n_fish, eat_digest);
}

static int uf_find(int *uf, int i)
{
	while (uf[i] != i) {
		uf[i] = uf[uf[i]];
		i = uf[i];
	}
	return i;
}

static bool poker_ready(const struct fish *f)
{
	return !f->dead && !f->exited && f->energy >= POKER_READY_ENERGY &&
	       f->poker_cooldown == 0 && !f->pregnant;
}

static void seat_ready(struct tank *t, size_t lo, size_t hi)
{
	for (size_t i = lo; i < hi; i++) {
		fish_prefetch(t, i + FISH_PREFETCH_AHEAD);
		t->work.uf[i] = (int)i;
		t->work.group_next[i] = 1;
		t->work.group_tail[i] = poker_ready(&t->fish[i]);
		t->work.pick[i] = PICK_NONE;
	}
}

/* Fish i's contacts (it stands at x, y): ready fish after it in the fish array whose box
 * touches its box, in the bounded query's order. Calls fn for each, or, with fn NULL,
 * returns the only one (PICK_NONE, or PICK_AGAIN for more than one). */
static int seat_contacts(struct tank *t, size_t i, double x, double y,
			 void (*fn)(struct tank *, int, int, bool *), bool *any)
{
	const int *ready = t->work.group_tail;
	const struct grid_item *cand[POKER_BUDGET + 1];
	size_t nc = grid_near(&t->fish_grid, x, y, FISH_BOX, &t->fish_grid, (int)i, cand,
			      POKER_BUDGET + 1);
	int only = PICK_NONE;
	for (size_t k = 0; k < nc; k++) {
		const struct grid_item *it = cand[k];
		if (it->idx <= (int)i || fabs(it->x - x) >= FISH_BOX ||
		    fabs(it->y - y) >= FISH_BOX || !ready[it->idx])
			continue;
		if (fn)
			fn(t, (int)i, it->idx, any);
		else if (only != PICK_NONE)
			return PICK_AGAIN;
		else
			only = it->idx;
	}
	return only;
}

static int seat_only(struct tank *t, int i, double x, double y)
{
	return seat_contacts(t, (size_t)i, x, y, NULL, NULL);
}

/* Each ready fish's contact. */
static void seat_find(struct tank *t, size_t lo, size_t hi)
{
	picks_find(t, lo, hi, seat_only);
}

/* Seat fish j at fish i's table, if both tables fit at one. */
static void seat_join(struct tank *t, int i, int j, bool *any)
{
	int *uf = t->work.uf, *size = t->work.group_next;
	int a = uf_find(uf, i), b = uf_find(uf, j);
	if (a == b || size[a] + size[b] > POKER_TABLE_MAX)
		return;
	/* The smaller index is the root, so groups come out in index order. */
	if (a > b) {
		int tmp = a;
		a = b;
		b = tmp;
	}
	uf[b] = a;
	size[a] += size[b];
	*any = true;
}

/* Fish whose 50x50 boxes touch form contact groups; each group plays one game. Work is
 * bounded however crowded the tank: each fish looks at POKER_BUDGET candidates at most,
 * and two groups merge only while the table stays within POKER_TABLE_MAX players, so
 * every union-find tree is that small and uf_find is O(1). Readiness and the queries run
 * on the tank's threads (they read only the frame's fish and grid); the tables are
 * joined in fish order, each fish's contacts in the query's order, as one thread would. */
void tank_poker(struct tank *t)
{
	size_t n = t->n_fish;
	scratch_grow(t, n);
	int *uf = t->work.uf;
	/* group_next holds root sizes until listed, group_tail whether each fish is ready. */
	pool_run(t->pool, t, n, seat_ready);
	/* One thread asks in turn: asking ahead would only add a pass. */
	bool ahead = t->pool != NULL, any = false;
	if (ahead)
		pool_run(t->pool, t, t->fish_grid.n, seat_find);
	for (size_t i = 0; i < n; i++) {
		int pick = ahead ? t->work.pick[i] : t->work.group_tail[i] ? PICK_AGAIN : PICK_NONE;
		if (pick == PICK_AGAIN)
			seat_contacts(t, i, t->fish[i].x, t->fish[i].y, seat_join, &any);
		else if (pick != PICK_NONE)
			seat_join(t, (int)i, pick, &any);
	}
	if (!any)
		return;
	for (size_t i = 0; i < n; i++) {
		int r = uf_find(uf, (int)i);
		t->work.group_next[i] = -1;
		if (r == (int)i)
			t->work.group_tail[i] = (int)i;
		else {
			t->work.group_next[t->work.group_tail[r]] = (int)i;
			t->work.group_tail[r] = (int)i;
		}
	}
	int players[POKER_TABLE_MAX];
	for (size_t i = 0; i < n; i++) {
		if (uf[i] != (int)i || t->work.group_next[i] < 0)
			continue;
		int k = 0;
		for (int j = (int)i; j >= 0 && k < POKER_TABLE_MAX; j = t->work.group_next[j])
			players[k++] = j;
		poker_table_add(t, players, k);
	}
	poker_play_tables(t);
}

void tank_plant_poker(struct tank *t)
{
	for (size_t i = 0; i < t->n_plants; i++) {
		struct plant *p = &t->plants[i];
		if (p->dead || p->poker_cooldown > 0)
			continue;
		double px = spot_x(t, p->spot), py = spot_y(t) - 30;
		double best = PLANT_POKER_RADIUS * PLANT_POKER_RADIUS;
		int who = -1;
		const struct grid_item *cand[PLANT_POKER_BUDGET];
		size_t nc = grid_near(&t->fish_grid, px, py, PLANT_POKER_RADIUS, NULL, -1, cand,
				      PLANT_POKER_BUDGET);
		for (size_t k = 0; k < nc; k++) {
			const struct grid_item *it = cand[k];
			const struct fish *f = &t->fish[it->idx];
			double dx = it->x - px, dy = it->y - py, d2 = dx * dx + dy * dy;
			if (d2 < best && !f->dead && !f->exited && f->poker_cooldown == 0 &&
			    !f->pregnant && f->energy > 0) {
				best = d2;
				who = it->idx;
			}
		}
		if (who >= 0)
			poker_play_plant(t, &t->fish[who], p);
	}
}

struct fish *tank_spawn_fish(struct tank *t, double x, double y)
{
	if (tank_full(t))
		return NULL;
	struct fish *f = fish_new_random(t, x, y);
	t->flow[EIN_FISH_SPAWN] += f->energy;
	t->spawns++;
	return tank_adopt_fish(t, f);
}

/* The emergency spawn is a real emergency: only below the tank's floor (the original
 * also spawned, less often, up to the maximum, which swamped inheritance with random
 * immigrants). A spawned fish carries a mutated genome from the gene bank of recent
 * successful fish; only an empty bank gives a random one. */
void tank_emergency_spawn(struct tank *t)
{
	size_t n = t->n_fish;
	if (n >= (size_t)t->p.spawn_floor || tank_full(t) ||
	    t->frame - t->last_emergency < EMERGENCY_INTERVAL)
		return;
	struct rng *r = &t->rng;
	double x = rng_range(r, FISH_HALF, t->p.width - FISH_HALF);
	double y = rng_range(r, FISH_TOP_MARGIN + FISH_HALF, t->p.height - FISH_HALF);
	struct fish *f = tank_spawn_fish(t, x, y);
	if (!f)
		return;
	t->last_emergency = t->frame;
	struct genome g;
	if (gene_bank_draw(t, &g)) {
		/* Half of the new genome's maximum, like a random spawn; the spawn was
		 * booked with the random genome's, so the difference is booked too. */
		f->g = g;
		f->max_age = (int)lround(MAX_AGE_PER_TRAIT * f->g.t[T_MAX_ENERGY]);
		double delta = 0.5 * fish_max_energy_of(f) - f->energy;
		f->energy += delta;
		t->flow[EIN_FISH_SPAWN] += delta;
		t->spawns_banked++;
		events_add(t, SIM_EV_SPAWN, f, -1);
		return;
	}
	/* Prefer a behaviour the tank has lost, to keep the algorithm pool diverse (one pass
	 * over the fish, not one per try). */
	bool present[64] = {false};
	for (size_t i = 0; i + 1 < t->n_fish; i++)
		if (t->fish[i].g.behavior.algo >= 0 && t->fish[i].g.behavior.algo < 64)
			present[t->fish[i].g.behavior.algo] = true;
	for (int tries = 0; tries < 10; tries++) {
		int a = f->g.behavior.algo;
		if (a < 0 || a >= 64 || !present[a])
			break;
		behavior_random(&f->g.behavior, r);
	}
	events_add(t, SIM_EV_SPAWN, f, -1);
}
