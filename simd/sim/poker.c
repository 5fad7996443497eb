/* Poker (spec §2.8): how energy moves between fish, and between fish and plants.
 *
 * Not a full Texas Hold'em. Each player draws a hand strength, uniform in [0, 1), from the
 * tank's RNG. Heads-up games have blinds and one betting round. The small blind (the
 * button) acts first. Each decision uses the player's evolved strategy:
 *   fold below weak_fold_threshold when facing a bet, unless bluffing;
 *   raise above strong_raise_threshold, or when bluffing (probability bluff_frequency x
 *   aggression), by bet x value_raise_multiplier x (0.5 + aggression);
 *   otherwise call or check. The button adds position_bonus x 0.1 to its strength.
 * A player commits at most 4 bets. At most two raises are allowed. The higher hand wins.
 * Groups of three or more ante one bet each and go straight to showdown. The winner pays a
 * house cut on its net gain, and that cut is destroyed. */
#include "config.h"

#include <math.h>
#include <string.h>

#include "simd/sim/internal.h"

enum { P_WEAK_FOLD, P_STRONG_RAISE, P_RAISE_MULT, P_BLUFF, P_POSITION };

const char *const poker_param_names[POKER_PARAM_COUNT] = {
	"weak_fold_threshold", "strong_raise_threshold", "value_raise_multiplier",
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
			return jv_fail(e, "poker parameter %s must be in [%g, %g]", poker_param_names[i],
				       poker_param_lo[i], poker_param_hi[i]);
	return 0;
}

static double aggression_of(const struct fish *f)
{
	return clampd(0.3 + 0.6 * f->g.t[T_AGGRESSION] + 0.1 * f->g.learned[LEARN_POKER], 0, 1);
}

/* The house takes more from bigger winners (the original's size-based cut). */
static double house_cut_ratio(const struct fish *winner)
{
	return fmin(0.25, 0.08 + fmax(0.0, fish_size_of(winner) - 0.35) * 0.18);
}

static void settle(struct tank *t, struct fish *winner, double gain)
{
	double cut = gain * house_cut_ratio(winner);
	t->flow[EOUT_HOUSE_CUT] += cut;
	fish_gain(t, winner, gain - cut);
}

static void record(struct fish *f, bool won)
{
	if (won)
		f->poker_wins++;
	else
		f->poker_losses++;
	f->g.learned[LEARN_POKER] = clampd(f->g.learned[LEARN_POKER] + (won ? 0.05 : -0.05), -1, 1);
	f->poker_cooldown = POKER_COOLDOWN;
}

static void heads_up(struct tank *t, struct fish *pl[2], double bet)
{
	struct rng *r = &t->rng;
	int sb = rng_int(r, 0, 1);
	double h[2], committed[2], cap[2], aggr[2];
	for (int i = 0; i < 2; i++) {
		h[i] = rng_uniform(r);
		cap[i] = fmin(pl[i]->energy, 4 * bet);
		aggr[i] = aggression_of(pl[i]);
	}
	committed[sb] = bet * 0.5;
	committed[1 - sb] = bet;
	double current = bet;
	int raises = 0, actor = sb, folded = -1;
	bool first = true;
	for (;;) {
		const double *sp = pl[actor]->g.poker.p;
		double to_call = current - committed[actor];
		double s = h[actor] + (actor == sb ? sp[P_POSITION] * 0.1 : 0);
		bool bluff = rng_chance(r, sp[P_BLUFF] * aggr[actor]);
		if ((s >= sp[P_STRONG_RAISE] || bluff) && raises < 2) {
			double to = fmin(cap[actor],
					 current + bet * sp[P_RAISE_MULT] * (0.5 + aggr[actor]));
			if (to > current) {
				committed[actor] = to;
				current = to;
				raises++;
				actor = 1 - actor;
				first = false;
				continue;
			}
		}
		if (to_call > 0 && s < sp[P_WEAK_FOLD] && !bluff) {
			folded = actor;
			break;
		}
		committed[actor] = fmin(current, cap[actor]);
		if (first && raises == 0) {
			/* The small blind limped: the big blind may still raise. */
			first = false;
			actor = 1 - actor;
			continue;
		}
		break;
	}
	int win;
	double amount;
	if (folded >= 0) {
		win = 1 - folded;
		amount = committed[folded];
	} else {
		if (h[0] == h[1])
			return; /* a tie returns every bet */
		win = h[0] > h[1] ? 0 : 1;
		amount = fmin(committed[0], committed[1]);
	}
	struct fish *w = pl[win], *l = pl[1 - win];
	l->energy = fmax(0.0, l->energy - amount);
	settle(t, w, amount);
	record(w, true);
	record(l, false);
	tank_poker_birth(t, w, l);
}

static void showdown(struct tank *t, struct fish **pl, int n, double bet)
{
	double best = -1;
	double h[64];
	int nwin = 0;
	for (int i = 0; i < n; i++) {
		h[i] = rng_uniform(&t->rng);
		if (h[i] > best)
			best = h[i];
	}
	for (int i = 0; i < n; i++)
		nwin += h[i] == best;
	double share = bet * n / nwin;
	for (int i = 0; i < n; i++)
		pl[i]->energy = fmax(0.0, pl[i]->energy - bet);
	for (int i = 0; i < n; i++) {
		bool won = h[i] == best;
		if (won) {
			/* The cut applies to the net gain only; the winner's own ante comes back. */
			pl[i]->energy += bet;
			settle(t, pl[i], share - bet);
		}
		record(pl[i], won);
	}
}

void poker_play_fish(struct tank *t, const int *players, int n)
{
	struct fish *pl[64];
	if (n < 2)
		return;
	if (n > 64)
		n = 64; /* a contact group that large is all but impossible; cap the table */
	double bet = 5.0;
	for (int i = 0; i < n; i++) {
		pl[i] = &t->fish[players[i]];
		double can = pl[i]->energy * (0.15 + (fish_size_of(pl[i]) - 0.35) * 0.158);
		bet = fmin(bet, can);
	}
	if (!(bet > 0.01))
		return;
	t->poker_games++;
	if (n == 2)
		heads_up(t, pl, bet);
	else
		showdown(t, pl, n, bet);
	for (int i = 0; i < n; i++)
		tank_fish_death_check(t, pl[i]);
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
	struct rng *r = &t->rng;
	double bet = fmin(5.0, fmin(f->energy * 0.25, p->energy * 0.15));
	if (!(bet > 0.01))
		return;
	t->plant_poker_games++;
	const double *sp = f->g.poker.p;
	double hf = rng_uniform(r), hp = rng_uniform(r);
	bool fish_bluff = rng_chance(r, sp[P_BLUFF] * aggression_of(f));
	bool plant_bluff = rng_chance(r, p->g.t[PT_BLUFF_FREQUENCY]);
	double fish_pays = 0, plant_pays = 0;
	if (hf < sp[P_WEAK_FOLD] && !fish_bluff)
		fish_pays = bet * 0.5;
	else if (hp < (1.0 - p->g.t[PT_RISK_TOLERANCE]) * 0.5 && !plant_bluff)
		plant_pays = bet * 0.5;
	else if (hf > hp)
		plant_pays = bet;
	else if (hp > hf)
		fish_pays = bet;
	if (fish_pays > 0) {
		f->energy = fmax(0.0, f->energy - fish_pays);
		plant_gain(t, p, fish_pays);
		p->poker_wins++;
		record(f, false);
	} else if (plant_pays > 0) {
		p->energy -= plant_pays;
		fish_gain(t, f, plant_pays);
		p->poker_losses++;
		record(f, true);
	}
	f->poker_cooldown = POKER_COOLDOWN;
	p->poker_cooldown = PLANT_POKER_COOLDOWN;
	tank_fish_death_check(t, f);
}
