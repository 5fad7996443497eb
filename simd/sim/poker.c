/* Poker (spec §2.8): real Texas Hold'em between fish, and between a fish and a plant.
 *
 * holdem.c plays the hand; this file seats the players, turns energy into chips and
 * back, takes the house cut and keeps the books. Energy is the stake:
 * - fish tables: each connected contact group of ready fish is split into tables of at
 *   most HOLDEM_MAX_PLAYERS (in simulation order, sizes as even as possible). The big
 *   blind is the original's bet, min(5, min over players of energy x (0.15 + (size - 0.35)
 *   x 0.158)), the small blind half of it, and each fish brings at most POKER_STAKE_BB big
 *   blinds and at most POKER_STAKE_SHARE of its energy (one hand never starves a fish:
 *   all-ins are common in real hold'em). The button and the cards come from the table's
 *   own stream (table_deal). A winner pays the original's house cut, min(0.25, 0.08 +
 *   max(0, size - 0.35) x 0.18), on its net gain; the cut is destroyed (EOUT_HOUSE_CUT);
 * - fish against plant: heads-up, both with a stack of the original's bet, min(5, 25% of
 *   the fish's energy, 15% of the plant's), blinds of a fifth and a tenth of it; no house
 *   cut. The plant plays by its traits (aggression, bluff_frequency, risk_tolerance).
 * Chips are thousandths of energy: a fish's stack is its energy rounded down to a chip,
 * so it never loses more than it has. Post-poker mating follows a heads-up fish hand with
 * a winner (tank_poker_birth). */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <string.h>

#include "simd/sim/cards.h"
#include "simd/sim/holdem.h"
#include "simd/sim/internal.h"
#include "simd/sim/poker.h"

enum { P_WEAK_FOLD, P_STRONG_RAISE, P_RAISE_MULT, P_BLUFF, P_POSITION };

const char *const poker_param_names[POKER_PARAM_COUNT] = {"weak_fold_threshold",
							  "strong_raise_threshold",
							  "value_raise_multiplier",
							  "bluff_frequency", "position_bonus"};
const double poker_param_lo[POKER_PARAM_COUNT] = {0, 0, 0.1, 0, 0};
const double poker_param_hi[POKER_PARAM_COUNT] = {1, 1, 3, 1, 1};

const struct poker_def poker_defs[] = {
	{"tight_aggressive", {0.40, 0.60, 1.5, 0.05, 0.2}, {0.60, 0.80, 2.5, 0.20, 0.6}},
	{"loose_aggressive", {0.10, 0.40, 1.5, 0.20, 0.2}, {0.30, 0.60, 2.5, 0.40, 0.6}},
	{"tight_passive", {0.40, 0.80, 0.5, 0.00, 0.0}, {0.60, 0.95, 1.0, 0.05, 0.3}},
	{"loose_passive", {0.10, 0.80, 0.5, 0.00, 0.0}, {0.30, 0.95, 1.0, 0.10, 0.3}},
	{"balanced", {0.25, 0.55, 1.0, 0.10, 0.3}, {0.45, 0.75, 1.8, 0.25, 0.7}},
	{"maniac", {0.00, 0.20, 2.0, 0.40, 0.0}, {0.10, 0.40, 3.0, 0.70, 1.0}},
};
const int poker_count = (int)(sizeof poker_defs / sizeof poker_defs[0]);
_Static_assert(sizeof poker_defs / sizeof poker_defs[0] == POKER_STRATEGY_COUNT,
	       "POKER_STRATEGY_COUNT counts the strategy families");

int poker_find(const char *name)
{
	for (int i = 0; i < poker_count; i++)
		if (strcmp(poker_defs[i].name, name) == 0)
			return i;
	return -1;
}

void poker_random(struct poker_strategy *s, struct rng *r)
{
	s->id = rng_int(r, 0, poker_count - 1);
	for (int i = 0; i < POKER_PARAM_COUNT; i++)
		s->p[i] = rng_range(r, poker_defs[s->id].rand_lo[i], poker_defs[s->id].rand_hi[i]);
}

void poker_inherit(struct poker_strategy *c, const struct poker_strategy *a,
		   const struct poker_strategy *b, double w, double switch_rate, struct rng *r)
{
	if (rng_chance(r, switch_rate)) {
		poker_random(c, r);
		return;
	}
	if (a->id == b->id) {
		c->id = a->id;
		cross_params(r, c->p, a->p, b->p, POKER_PARAM_COUNT, w);
	} else {
		*c = rng_chance(r, w < 0 ? 0.5 : w) ? *a : *b;
	}
	for (int i = 0; i < POKER_PARAM_COUNT; i++) {
		double range = poker_param_hi[i] - poker_param_lo[i];
		if (rng_chance(r, 0.15))
			c->p[i] += rng_gauss(r) * 0.1 * range;
		c->p[i] = clampd(c->p[i], poker_param_lo[i], poker_param_hi[i]);
	}
}

int poker_check(const struct poker_strategy *s, struct json_err *e)
{
	if (s->id < 0 || s->id >= poker_count)
		return jv_fail(e, "unknown poker strategy");
	for (int i = 0; i < POKER_PARAM_COUNT; i++)
		if (!isfinite(s->p[i]) || s->p[i] < poker_param_lo[i] || s->p[i] > poker_param_hi[i])
			return jv_fail(e, "poker parameter %s must be in [%g, %g]",
				       poker_param_names[i], poker_param_lo[i], poker_param_hi[i]);
	return 0;
}

static double aggression_of(const struct fish *f)
{
	return clampd(0.3 + 0.6 * f->g.t[T_AGGRESSION] + 0.1 * f->g.learned[LEARN_POKER], 0, 1);
}

void poker_fish_style(const struct fish *f, struct holdem_style *s)
{
	const double *p = f->g.poker.p;
	s->fold = p[P_WEAK_FOLD];
	s->raise = p[P_STRONG_RAISE];
	s->raise_mult = p[P_RAISE_MULT];
	s->bluff = p[P_BLUFF];
	s->position = p[P_POSITION];
	s->aggression = aggression_of(f);
}

/* A plant has no strategy genome: risk tolerance lowers its folding, aggression its
 * raising threshold and raises its bet sizes. */
static void plant_style(const struct plant *pl, struct holdem_style *s)
{
	double aggr = pl->g.t[PT_AGGRESSION];
	s->fold = (1.0 - pl->g.t[PT_RISK_TOLERANCE]) * 0.5;
	s->raise = 1.0 - 0.5 * aggr;
	s->raise_mult = 0.5 + 2.0 * aggr;
	s->bluff = pl->g.t[PT_BLUFF_FREQUENCY];
	s->position = 0;
	s->aggression = aggr;
}

/* The house takes more from bigger winners (the original's size-based cut). */
static double house_cut_ratio(const struct fish *winner)
{
	return fmin(0.25, 0.08 + fmax(0.0, fish_size_of(winner) - 0.35) * 0.18);
}

static void record(struct fish *f, int result)
{
	if (result > 0)
		f->poker_wins++;
	else if (result < 0)
		f->poker_losses++;
	f->g.learned[LEARN_POKER] = clampd(f->g.learned[LEARN_POKER] + (result > 0   ? 0.05
									: result < 0 ? -0.05
										     : 0),
					   -1, 1);
	f->poker_cooldown = POKER_COOLDOWN;
}

static int64_t chips_of(double energy)
{
	double c = floor(energy * POKER_CHIPS);
	return c < 1 ? 1 : c > HOLDEM_MAX_STACK ? HOLDEM_MAX_STACK : (int64_t)c;
}

static void strategy_book(struct tank *t, const struct fish *f, int result, double net)
{
	int id = f->g.poker.id;
	t->strat_hands[id]++;
	t->strat_wins[id] += result > 0;
	t->strat_net[id] += net;
}

/* A table's hand comes from a stream of its own (SIM_RULES 4), seeded from the tank's
 * seed, the frame and the first player's key, not from the tank's: the tables of a frame
 * are then dealt on the tank's threads, in any order, with the same cards and choices. */
#define POKER_STREAM 0x9c4a7b3d2e1f6058ULL /* apart from the move's streams of the frame */

/* Deal and play one table's hand (2..HOLDEM_MAX_PLAYERS players), reading the players
 * only; false when the smallest stake is too small to play. */
static bool table_deal(const struct tank *t, struct fish *const *pl, int n, struct holdem_hand *h)
{
	double bet = 5.0;
	for (int i = 0; i < n; i++) {
		double can = pl[i]->energy * (0.15 + (fish_size_of(pl[i]) - 0.35) * 0.158);
		bet = fmin(bet, can);
	}
	if (!(bet > 0.01))
		return false;
	int64_t stacks[HOLDEM_MAX_PLAYERS];
	struct holdem_style st[HOLDEM_MAX_PLAYERS];
	for (int i = 0; i < n; i++) {
		stacks[i] = chips_of(fmin(pl[i]->energy * POKER_STAKE_SHARE, POKER_STAKE_BB * bet));
		poker_fish_style(pl[i], &st[i]);
	}
	struct rng r;
	rng_seed(&r, t->p.seed ^ (t->frame * 0x9E3779B97F4A7C15ULL) ^ POKER_STREAM ^ pl[0]->key);
	holdem_play(h, n, stacks, chips_of(bet), rng_int(&r, 0, n - 1), st, &r);
	return true;
}

/* The books of a dealt hand, in table order: energy, house cut, records, the log, and
 * the heads-up birth. */
static void table_settle(struct tank *t, struct fish **pl, int n, const struct holdem_hand *h)
{
	t->poker_games++;
	double net[HOLDEM_MAX_PLAYERS] = {0}, cut_total = 0;
	int win = -1, lose = -1;
	for (int i = 0; i < n; i++) {
		int64_t d = h->won[i] - h->total[i];
		struct fish *f = pl[i];
		net[i] = (double)d / POKER_CHIPS;
		if (d < 0) {
			f->energy = fmax(0.0, f->energy + net[i]);
			t->poker_energy_moved -= net[i];
			lose = i;
		} else if (d > 0) {
			double cut = net[i] * house_cut_ratio(f);
			t->flow[EOUT_HOUSE_CUT] += cut;
			cut_total += cut;
			fish_gain(t, f, net[i] - cut);
			net[i] -= cut;
			win = i;
		}
		int result = d > 0 ? 1 : d < 0 ? -1 : 0;
		record(f, result);
		strategy_book(t, f, result, net[i]);
	}
	const char *ids[HOLDEM_MAX_PLAYERS] = {0};
	for (int i = 0; i < n; i++)
		ids[i] = pl[i]->id;
	poker_log_add(t, h, ids, 0, net, cut_total);
	if (n == 2 && win >= 0 && lose >= 0)
		tank_poker_birth(t, pl[win], pl[lose]);
}

void poker_play_fish(struct tank *t, const int *players, int n)
{
	if (n < 2)
		return;
	/* Tables of at most six, as even as possible: 7 -> 4 + 3, 13 -> 5 + 4 + 4. */
	int tables = (n + HOLDEM_MAX_PLAYERS - 1) / HOLDEM_MAX_PLAYERS;
	int at = 0;
	for (int k = 0; k < tables; k++) {
		int size = n / tables + (k < n % tables);
		struct fish *pl[HOLDEM_MAX_PLAYERS];
		for (int i = 0; i < size; i++)
			pl[i] = &t->fish[players[at + i]];
		struct holdem_hand h;
		if (table_deal(t, pl, size, &h))
			table_settle(t, pl, size, &h);
		at += size;
	}
	for (int i = 0; i < n; i++)
		tank_fish_death_check(t, &t->fish[players[i]]);
}

/* A frame's tables, dealt in batches on the tank's threads (a new tank's fish come off
 * their cooldown together: 15,000-23,000 tables in one frame at 100,000 fish), then
 * settled in table order on the calling thread. A table holds only its own players and
 * settling one changes nothing another deals from (births wait for the end of the
 * frame), so this is poker_play_fish table after table. */
#define POKER_BATCH 4096

/* The players of the batch's k-th table into pl; returns how many. */
static int table_players(struct tank *t, size_t k, struct fish **pl)
{
	const struct poker_tables *pt = &t->work.tables;
	size_t table = pt->batch + k;
	int n = pt->size[table];
	for (int i = 0; i < n; i++)
		pl[i] = &t->fish[pt->players[table * POKER_TABLE_MAX + (size_t)i]];
	return n;
}

static void tables_deal(struct tank *t, size_t lo, size_t hi)
{
	const struct poker_tables *pt = &t->work.tables;
	for (size_t k = lo; k < hi; k++) {
		struct fish *pl[HOLDEM_MAX_PLAYERS];
		int n = table_players(t, k, pl);
		pt->dealt[k] = table_deal(t, pl, n, &pt->hands[k]);
	}
}

_Static_assert(POKER_TABLE_MAX <= HOLDEM_MAX_PLAYERS, "a contact group is one table");

void poker_table_add(struct tank *t, const int *players, int n)
{
	struct poker_tables *pt = &t->work.tables;
	if (n < 2 || n > POKER_TABLE_MAX)
		return;
	if (pt->n == pt->cap) {
		pt->cap = pt->cap ? 2 * pt->cap : 256;
		pt->players = sim_xrealloc(pt->players, pt->cap * POKER_TABLE_MAX,
					   sizeof *pt->players);
		pt->size = sim_xrealloc(pt->size, pt->cap, sizeof *pt->size);
	}
	memcpy(&pt->players[pt->n * POKER_TABLE_MAX], players, (size_t)n * sizeof *players);
	pt->size[pt->n++] = n;
}

void poker_play_tables(struct tank *t)
{
	struct poker_tables *pt = &t->work.tables;
	/* Room for a batch, or for this frame's tables if fewer: a hand is 1.2 kB, and a
	 * small tank plays a few tables a frame. */
	size_t room = pt->n < POKER_BATCH ? pt->n : POKER_BATCH;
	if (room > pt->cap_hands) {
		pt->hands = sim_xrealloc(pt->hands, room, sizeof *pt->hands);
		pt->dealt = sim_xrealloc(pt->dealt, room, sizeof *pt->dealt);
		pt->cap_hands = room;
	}
	for (pt->batch = 0; pt->batch < pt->n; pt->batch += POKER_BATCH) {
		size_t m = pt->n - pt->batch < POKER_BATCH ? pt->n - pt->batch : POKER_BATCH;
		pool_run(t->pool, t, m, tables_deal);
		for (size_t k = 0; k < m; k++) {
			struct fish *pl[HOLDEM_MAX_PLAYERS];
			int n = table_players(t, k, pl);
			if (pt->dealt[k])
				table_settle(t, pl, n, &pt->hands[k]);
			for (int i = 0; i < n; i++)
				tank_fish_death_check(t, pl[i]);
		}
	}
	pt->n = 0;
}

static void plant_gain(struct tank *t, struct plant *p, double x)
{
	double e = p->energy + x, max = plant_max_energy(p);
	if (e > max) {
		t->flow[EOUT_OVERFLOW] += e - max;
		e = max;
	}
	p->energy = e;
}

void poker_play_plant(struct tank *t, struct fish *f, struct plant *p)
{
	double bet = fmin(5.0, fmin(f->energy * 0.25, p->energy * 0.15));
	if (!(bet > 0.01))
		return;
	t->plant_poker_games++;
	int64_t stacks[2] = {chips_of(bet), chips_of(bet)};
	struct holdem_style st[2];
	poker_fish_style(f, &st[0]);
	plant_style(p, &st[1]);
	struct holdem_hand h;
	holdem_play(&h, 2, stacks, chips_of(bet / 5), rng_int(&t->rng, 0, 1), st, &t->rng);
	int64_t d = h.won[0] - h.total[0]; /* the fish's result; the plant's is -d */
	double x = (double)d / POKER_CHIPS;
	if (d < 0) {
		f->energy = fmax(0.0, f->energy + x);
		plant_gain(t, p, -x);
		p->poker_wins++;
		t->poker_energy_moved -= x;
	} else if (d > 0) {
		p->energy -= x;
		fish_gain(t, f, x);
		p->poker_losses++;
		t->poker_energy_moved += x;
	}
	int result = d > 0 ? 1 : d < 0 ? -1 : 0;
	record(f, result);
	strategy_book(t, f, result, x);
	const char *ids[2] = {f->id, p->id};
	double net[2] = {x, -x};
	poker_log_add(t, &h, ids, 1u << 1, net, 0);
	p->poker_cooldown = PLANT_POKER_COOLDOWN;
	tank_fish_death_check(t, f);
}

int tank_poker_seat(const struct tank *t, const char *fish_id, struct poker_seat_copy *out)
{
	const struct fish *f = tank_find_fish(t, fish_id);
	if (!f)
		return -ENOENT;
	memcpy(out->id, f->id, UUID_STR_LEN);
	out->strategy = f->g.poker.id;
	out->energy = f->energy;
	out->bet_cap = fmin(5.0, f->energy * (0.15 + (fish_size_of(f) - 0.35) * 0.158));
	out->house_cut = house_cut_ratio(f);
	poker_fish_style(f, &out->style);
	return 0;
}

size_t sim_poker_strategy_count(void)
{
	return (size_t)poker_count;
}

const char *sim_poker_strategy_name(size_t i)
{
	return i < (size_t)poker_count ? poker_defs[i].name : NULL;
}
