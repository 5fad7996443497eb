/* The standard series (the original's benchmark of evolved poker): the tank's best
 * players, copied out of the tank, each play heads-up hands against fixed baselines.
 * Nothing here touches a tank: the caller copies the players under the tank's lock and
 * runs the series on its own RNG, so the tank's history does not change. */
#include "config.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "simd/sim/holdem.h"
#include "simd/sim/internal.h"

enum baseline { BASE_ALWAYS_CALL, BASE_TIGHT_AGGRESSIVE, BASE_RANDOM, BASE_COUNT };
static const char *const baseline_names[BASE_COUNT] = {"always_call", "tight_aggressive", "random"};
/* A textbook tight-aggressive player: folds the weaker half, raises the top quarter. */
static const struct holdem_style tag_style = {0.5, 0.75, 1.5, 0.05, 0.5, 0.8};

struct poker_series_player {
	char id[UUID_STR_LEN];
	int strategy;
	int wins, losses;
	struct holdem_style style;
};

struct poker_series {
	int n;
	struct poker_series_player p[];
};

static int top_players(const struct tank *t, int k, struct poker_series_player *out)
{
	/* The best players: the highest win rate with one win and one loss of prior
	 * (Laplace), among fish that played at least once; ties by id, for determinism. */
	int n = 0;
	for (size_t i = 0; i < t->n_fish; i++) {
		const struct fish *f = &t->fish[i];
		int played = f->poker_wins + f->poker_losses;
		if (played == 0)
			continue;
		double score = (f->poker_wins + 1.0) / (played + 2.0);
		int at = n < k ? n++ : k;
		while (at > 0) {
			const struct poker_series_player *p = &out[at - 1];
			double ps = (p->wins + 1.0) / (p->wins + p->losses + 2.0);
			if (ps > score || (ps == score && strcmp(p->id, f->id) < 0))
				break;
			if (at < k)
				out[at] = out[at - 1];
			at--;
		}
		if (at < k) {
			struct poker_series_player *p = &out[at];
			memcpy(p->id, f->id, UUID_STR_LEN);
			p->strategy = f->g.poker.id;
			p->wins = f->poker_wins;
			p->losses = f->poker_losses;
			poker_fish_style(f, &p->style);
		}
	}
	return n;
}

static enum holdem_act baseline_act(enum baseline b, const struct holdem_hand *h, struct rng *r,
				    int64_t *to)
{
	int64_t call, min_to, max_to;
	holdem_options(h, &call, &min_to, &max_to);
	switch (b) {
	case BASE_ALWAYS_CALL:
		return call > 0 ? HOLDEM_CALL : HOLDEM_CHECK;
	case BASE_TIGHT_AGGRESSIVE:
		return holdem_decide(h, &tag_style, r, to);
	default: {
		int pick = rng_int(r, 0, 2);
		if (pick == 2 && min_to <= max_to) {
			*to = min_to + (int64_t)rng_below(r, (uint64_t)(max_to - min_to + 1));
			return HOLDEM_RAISE;
		}
		if (pick == 0 && call > 0)
			return HOLDEM_FOLD;
		return call > 0 ? HOLDEM_CALL : HOLDEM_CHECK;
	}
	}
}

/* Wilson score interval for k successes in n trials (95 %). */
static void wilson(double k, double n, double *lo, double *hi)
{
	const double z = 1.96;
	double p = k / n, d = 1 + z * z / n, c = p + z * z / (2 * n);
	double w = z * sqrt(p * (1 - p) / n + z * z / (4 * n * n));
	*lo = (c - w) / d;
	*hi = (c + w) / d;
}

struct poker_series *tank_poker_series(const struct tank *t, int top)
{
	if (top < 1)
		top = 1;
	struct poker_series *s = sim_xcalloc(1, sizeof *s + (size_t)top * sizeof s->p[0]);
	s->n = top_players(t, top, s->p);
	return s;
}

void poker_series_free(struct poker_series *s)
{
	free(s);
}

json_object *poker_series_run(const struct poker_series *s, int hands, uint64_t seed)
{
	const struct poker_series_player *pl = s->p;
	int n = s->n;
	struct rng r;
	rng_seed(&r, seed);
	const double bb = 5.0, cut = fmin(0.25, 0.08 + (1.0 - 0.35) * 0.18);
	const int64_t stacks[2] = {(int64_t)(10 * bb * POKER_CHIPS),
				   (int64_t)(10 * bb * POKER_CHIPS)};
	json_object *o = json_object_new_object(), *arr = json_object_new_array();
	for (int i = 0; i < n; i++) {
		json_object *x = json_object_new_object(), *vs = json_object_new_array();
		json_object_object_add(x, "fish_id", json_object_new_string(pl[i].id));
		json_object_object_add(x, "strategy",
				       json_object_new_string(poker_defs[pl[i].strategy].name));
		json_object_object_add(x, "tank_wins", json_object_new_int(pl[i].wins));
		json_object_object_add(x, "tank_losses", json_object_new_int(pl[i].losses));
		for (int b = 0; b < BASE_COUNT; b++) {
			long won = 0, lost = 0;
			double sum = 0, sum2 = 0;
			for (int k = 0; k < hands; k++) {
				struct holdem_hand h;
				int fish_seat = k & 1; /* the button alternates */
				holdem_deal(&h, 2, stacks, (int64_t)(bb * POKER_CHIPS), 0, &r);
				while (h.to_act >= 0) {
					int64_t to = 0;
					enum holdem_act a =
						h.to_act == fish_seat
							? holdem_decide(&h, &pl[i].style, &r, &to)
							: baseline_act((enum baseline)b, &h, &r,
								       &to);
					holdem_act(&h, a, to);
				}
				double net = (double)(h.won[fish_seat] - h.total[fish_seat]) /
					     POKER_CHIPS;
				if (net > 0) {
					won++;
					net *= 1 - cut;
				} else if (net < 0) {
					lost++;
				}
				sum += net;
				sum2 += net * net;
			}
			double mean = sum / hands,
			       se = sqrt(fmax(0, sum2 / hands - mean * mean) / hands);
			double lo, hi;
			wilson((double)won, (double)hands, &lo, &hi);
			json_object *y = json_object_new_object(), *ci = json_object_new_array(),
				    *eci = json_object_new_array();
			json_object_object_add(y, "baseline",
					       json_object_new_string(baseline_names[b]));
			json_object_object_add(y, "hands", json_object_new_int(hands));
			json_object_object_add(y, "won", json_object_new_int64(won));
			json_object_object_add(y, "lost", json_object_new_int64(lost));
			json_object_object_add(y, "win_rate",
					       json_object_new_double((double)won / hands));
			json_object_array_add(ci, json_object_new_double(lo));
			json_object_array_add(ci, json_object_new_double(hi));
			json_object_object_add(y, "win_rate_ci95", ci);
			json_object_object_add(y, "energy_per_hand", json_object_new_double(mean));
			json_object_array_add(eci, json_object_new_double(mean - 1.96 * se));
			json_object_array_add(eci, json_object_new_double(mean + 1.96 * se));
			json_object_object_add(y, "energy_per_hand_ci95", eci);
			json_object_array_add(vs, y);
		}
		json_object_object_add(x, "against", vs);
		json_object_array_add(arr, x);
	}
	json_object_object_add(o, "hands_per_match", json_object_new_int(hands));
	json_object_object_add(o, "seed", json_object_new_uint64(seed));
	json_object_object_add(o, "big_blind", json_object_new_double(bb));
	json_object_object_add(o, "stack", json_object_new_double(10 * bb));
	json_object_object_add(o, "players", arr);
	return o;
}
